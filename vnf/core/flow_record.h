/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * A finished flow, as a worker hands it to the control thread, and its JSON line.
 *
 * Workers fill a struct flow_record (fixed size, no pointers, so it can cross a ring); the
 * control thread formats it. Pure code; flow_record_to_json() may run on any thread.
 */
#ifndef FLOWTAG_FLOW_RECORD_H
#define FLOWTAG_FLOW_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "dpi.h"
#include "flow_table.h"

/* How a flow got its verdict. */
enum flow_dpi_state {
	FLOW_DPI_DETECTED, /* nDPI recognised the application from the traffic */
	FLOW_DPI_GAVE_UP, /* packet budget or flow end without detection: nDPI's guess, if any */
	FLOW_DPI_NO_STATE, /* no free nDPI state when the flow began: not inspected */
	FLOW_DPI_CLASSIFYING, /* still under classification (live flows only) */
};

struct flow_record {
	struct flow_key key;
	uint32_t flow_id;
	uint16_t worker;
	uint8_t initiator_hi; /* the first packet came from key.hi_* */
	uint8_t end_reason; /* enum flow_end_reason */
	uint8_t dpi_state; /* enum flow_dpi_state */
	/* Not the end: an active-timeout report of a long flow for the IPFIX export (its counts so
	 * far); never written as a JSON record. */
	uint8_t interim;
	uint64_t packets; /* all of them: flowtag's and, once merged, the switch's */
	uint64_t bytes;
	uint64_t rev_packets; /* of those, the responder's (RFC 5103's reverse direction) */
	uint64_t rev_bytes;
	uint64_t first_ms;
	uint64_t last_ms;
	struct dpi_verdict verdict;
	struct dpi_meta meta;
	/* The policy's decision: action, chain name ("" unless action is chain). */
	uint8_t action; /* enum policy_action */
	char chain[32];
	uint32_t verdict_packet; /* the flow's packet that brought the decision (1-based) */
	uint32_t policy_version;
	/* Offload: the switch carried part of the flow; its counts (from FLOW_REMOVED, merged
	 * by the control thread) are in packets/bytes too. */
	uint8_t offloaded;
	uint64_t offloaded_packets;
	uint64_t offloaded_bytes;
};

/* "tcp", "udp", "icmp", "icmpv6", "sctp", ... or the decimal protocol number. */
const char *flow_record_l4_name(uint8_t proto, char *buf, size_t len);
const char *flow_end_reason_name(enum flow_end_reason r);

/* Room for any record's JSON line (a 255-byte host of escapes, JA3, every risk name). */
#define FLOW_RECORD_JSON_MAX 4096

/*
 * One JSON object, no newline. Names come from `names` (any dpi instance: only its read-only
 * tables are used). Returns the length written, or -ENOSPC if `len` is too small.
 */
int flow_record_to_json(const struct flow_record *r, const struct dpi *names, char *buf,
			size_t len);

#endif
