/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * One classification worker: parse -> flow lookup -> nDPI until the verdict -> action.
 *
 * It owns its flow table, nDPI module and counters; nothing in it is shared, so it needs no
 * locks. It sees packets as plain byte ranges (struct worker_pkt), which keeps it free of EAL:
 * the data path (datapath.c) feeds it mbufs, unit tests feed it buffers. Only the owning thread
 * may call these functions; others read its counters through worker_get_stats(), which reads
 * plain 64-bit counters (torn reads impossible on 64-bit targets, staleness acceptable).
 */
#ifndef FLOWTAG_WORKER_H
#define FLOWTAG_WORKER_H

#include <stdint.h>

#include "flow_record.h"
#include "flow_table.h"
#include "parse.h"

struct dpi;

enum worker_malformed_policy {
	WORKER_MALFORMED_PASS, /* forward unchanged (the classifier must not break the network) */
	WORKER_MALFORMED_DROP,
};

enum worker_action {
	WORKER_ACTION_PASS,
	WORKER_ACTION_DROP,
};

/* A finished flow leaves the worker through this callback (for the data path: onto a ring). */
typedef void (*worker_record_cb)(void *ctx, const struct flow_record *rec);

struct worker_params {
	uint16_t id;
	uint32_t flow_capacity;
	uint32_t dpi_states;
	uint32_t timeout_ms[FLOW_TC_COUNT];
	uint32_t budget_tcp; /* packets inspected before giving up, per L4 kind */
	uint32_t budget_udp;
	uint32_t budget_other;
	enum worker_malformed_policy malformed;
	worker_record_cb on_record;
	void *record_ctx;
};

struct worker_pkt {
	const uint8_t *data; /* Ethernet frame */
	uint32_t len; /* bytes present */
	uint32_t wire_len; /* frame length on the wire (counted in flow bytes) */
	uint64_t time_us; /* arrival (capture) time */
};

struct worker_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t parse[PARSE_RESULT_COUNT]; /* every packet lands in exactly one */
	uint64_t dropped_malformed;
	uint64_t dpi_packets; /* packets handed to nDPI */
	uint64_t dpi_no_state; /* flows that found the nDPI state pool empty */
	uint64_t flows_detected;
	uint64_t flows_gave_up;
	uint64_t flows_created;
	uint64_t flows_ended[FLOW_END_REASON_COUNT];
	uint32_t flows_active;
	uint32_t dpi_states_in_use;
};

/* Returns NULL with errno set. */
struct worker *worker_create(const struct worker_params *params);
void worker_destroy(struct worker *w);

/* Classify `n` packets; actions[i] says what to do with pkts[i]. */
void worker_process(struct worker *w, const struct worker_pkt *pkts, uint16_t n,
		    uint8_t *actions);

/* Let time pass without packets (end idle flows); now_us on the packets' clock. */
void worker_tick(struct worker *w, uint64_t now_us);

/* End every flow now (end of input, shutdown): each produces its record. */
void worker_flush(struct worker *w);

void worker_get_stats(const struct worker *w, struct worker_stats *stats);

/* The nDPI instance, for name lookups from other threads (read-only tables). */
const struct dpi *worker_dpi(const struct worker *w);

/* Bytes per flow: a classified flow's entry, and the extra while under classification. */
size_t worker_bytes_per_classified_flow(const struct worker *w);
size_t worker_bytes_per_classifying_flow(const struct worker *w);

#endif
