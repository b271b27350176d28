/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * One classification worker: parse -> flow lookup -> nDPI until the verdict -> policy
 * decision -> each packet's fate (pass, drop, tag for a chain, hold until the verdict).
 *
 * It owns its flow table, nDPI module, held packets and counters; nothing in it is shared, so
 * it needs no locks. It sees packets as plain byte ranges with an opaque handle (struct
 * worker_pkt), which keeps it free of EAL: the data path feeds it mbufs, tests feed it
 * buffers. Every packet handed in comes back exactly once through on_packet, in order per
 * flow: a held packet comes back when its flow's verdict arrives (before the packet that
 * brought it), or when the flow ends.
 *
 * Only the owning thread may call these functions; others read its counters through
 * worker_get_stats() (plain 64-bit counters: never torn on 64-bit targets, maybe stale).
 */
#ifndef FLOWTAG_WORKER_H
#define FLOWTAG_WORKER_H

#include <stdint.h>

#include "flow_record.h"
#include "flow_table.h"
#include "offload_msg.h"
#include "parse.h"
#include "policy.h"
#include "stat_item.h"
#include "tag.h"

struct dpi;

enum worker_malformed_policy {
	WORKER_MALFORMED_PASS, /* forward unchanged (the classifier must not break the network) */
	WORKER_MALFORMED_DROP,
};

enum worker_action {
	WORKER_ACTION_PASS, /* forward unchanged */
	WORKER_ACTION_DROP,
	WORKER_ACTION_TAG, /* tag for out->tag, then forward */
	WORKER_ACTION_DECAP, /* remove the NSH encapsulation, then forward */
};

/* worker_pkt.flags */
#define WORKER_PKT_RETURN 0x01 /* arrived on a return port: back from a chain, never classified */

struct worker_pkt {
	const uint8_t *data; /* Ethernet frame */
	uint32_t len; /* bytes present */
	uint32_t wire_len; /* frame length on the wire (counted in flow bytes) */
	uint64_t time_us; /* arrival (capture) time */
	void *opaque; /* the caller's handle (an mbuf), returned in worker_out */
	uint16_t port; /* the port it arrived on, returned in worker_out */
	uint8_t flags;
};

/* A packet's fate. `meta.host` points into the worker: valid during the callback only. */
struct worker_out {
	void *opaque;
	uint16_t port;
	uint8_t action; /* enum worker_action */
	uint8_t chain; /* WORKER_ACTION_TAG: the chain's index in the policy */
	const struct tag_spec *tag; /* WORKER_ACTION_TAG */
	struct tag_meta meta; /* WORKER_ACTION_TAG */
};

typedef void (*worker_packet_cb)(void *ctx, const struct worker_out *out);
/* A finished flow leaves the worker through this callback (for the data path: onto a ring). */
typedef void (*worker_record_cb)(void *ctx, const struct flow_record *rec);
/* A decided flow the switch may carry (or a notice's answer): true if it was taken. */
typedef bool (*worker_offload_cb)(void *ctx, const struct offload_ask *ask);

struct worker_params {
	uint16_t id;
	uint32_t flow_capacity;
	uint32_t ipv6_capacity; /* IPv6 flows at once (0: flow_capacity / 4) */
	uint32_t meta_capacity; /* distinct host/JA3/risk values kept (0: flow_capacity / 8) */
	uint32_t dpi_states;
	uint32_t timeout_ms[FLOW_TC_COUNT];
	uint32_t budget_tcp; /* packets inspected before giving up, per L4 kind */
	uint32_t budget_udp;
	uint32_t budget_other;
	/* A long flow hands an interim record (flow_record.interim) each time it has lasted this
	 * much longer, at its first packet past the mark (IPFIX active timeout); 0 = never. */
	uint32_t active_timeout_ms;
	enum worker_malformed_policy malformed;
	/*
	 * The packets come from a capture file (replay): an IP length of 0 is a TSO send's (read
	 * as the frame's, parse.h PARSE_F_CAPTURE), and a packet the capture cut short counts as
	 * long as its IP header says (the frame length would be the snap length).
	 */
	bool from_capture;
	/* UDP tunnels whose inner flows are classified: parse.h PARSE_F_GTPU | ... (0: none). */
	unsigned int tunnels;
	/* User-defined applications for nDPI (apps.h); NULL: none. Read at creation only. */
	const struct app_defs *apps;
	/* IP fragments (frag_table.h); 0: the WORKER_FRAG_DEFAULT_* values. */
	uint32_t frag_capacity; /* fragmented datagrams tracked at once */
	uint32_t frag_held; /* later fragments waiting for their first, at once */
	uint32_t frag_timeout_ms;
	const struct policy *policy; /* NULL: pass everything untagged */
	worker_packet_cb on_packet; /* required for worker_process */
	void *packet_ctx;
	worker_record_cb on_record;
	void *record_ctx;
	/* NULL: nothing is offloaded (no switch configured, tests, replay). */
	worker_offload_cb on_offload;
	void *offload_ctx;
};

#define WORKER_FRAG_DEFAULT_CAPACITY 4096
#define WORKER_FRAG_DEFAULT_HELD 512
#define WORKER_FRAG_DEFAULT_TIMEOUT_MS 5000

#define WORKER_MAX_APPS 512 /* nDPI 4.2 has 282 protocols */
#define WORKER_MAX_CATEGORIES 128

struct worker_stats {
	/* The counters of worker_counters.def, in its order. */
#define WORKER_COUNTER(name, drop_reason, help) uint64_t name;
#define WORKER_GAUGE(name, help)
#include "worker_counters.def"
#undef WORKER_COUNTER
#undef WORKER_GAUGE
	/* Counters by reason, by kind, by chain, application and category. */
	uint64_t parse[PARSE_RESULT_COUNT]; /* every packet lands in exactly one */
	uint64_t flows_ended[FLOW_END_REASON_COUNT];
	uint64_t flows_by_action[3]; /* decided flows per enum policy_action */
	uint64_t chain_packets[POLICY_MAX_CHAINS];
	uint64_t chain_flows[POLICY_MAX_CHAINS];
	/* Flows each rule of the policy in force decided ([0]: the default action), since this
	 * worker took that policy (a flow decided again on a new policy counts again). */
	uint64_t rule_flows[POLICY_MAX_RULES + 1];
	/* Per nDPI application (the flow's best answer when the packet passed) and category. */
	uint64_t app_packets[WORKER_MAX_APPS];
	uint64_t app_bytes[WORKER_MAX_APPS];
	uint64_t app_flows[WORKER_MAX_APPS]; /* at the decision */
	uint64_t category_packets[WORKER_MAX_CATEGORIES];
	uint64_t category_flows[WORKER_MAX_CATEGORIES];
	/* The gauges of worker_counters.def: levels, read when asked. */
#define WORKER_COUNTER(name, drop_reason, help)
#define WORKER_GAUGE(name, help) uint64_t name;
#include "worker_counters.def"
#undef WORKER_COUNTER
#undef WORKER_GAUGE
};

/* The counters and gauges of worker_counters.def, described for the outputs (stat_item.h). */
extern const struct stat_item worker_stat_items[];
extern const size_t worker_stat_item_count;

/* Returns NULL with errno set. */
struct worker *worker_create(const struct worker_params *params);
void worker_destroy(struct worker *w);

/* Classify `n` packets; each comes back through on_packet (now or, if held, later). */
void worker_process(struct worker *w, const struct worker_pkt *pkts, uint16_t n);

/* Let time pass without packets (end idle flows); now_us on the packets' clock. */
void worker_tick(struct worker *w, uint64_t now_us);

/*
 * How many finished-flow records the owner can take now (its ring's room): idle expiry ends
 * no more flows than that per call, so a wave of idle flows waits for room instead of losing
 * records. Evictions (a full table) and flushes are not held back. Default: no limit.
 */
void worker_set_record_room(struct worker *w, uint32_t room);
/* Any thread: the active timeout from now on (a relaxed atomic store; the worker reads it). */
void worker_set_active_timeout(struct worker *w, uint32_t ms);

/*
 * What the control thread says about a flow it was asked to offload (offload_msg.h). A
 * notice for a flow that is gone (or another flow with its key) is answered OFFLOAD_GONE.
 */
void worker_offload_notice(struct worker *w, const struct offload_notice *n);

/* End every flow now (end of input, shutdown): each produces its record, held packets leave. */
void worker_flush(struct worker *w);

/*
 * A new policy from now on (the caller guarantees the old one outlives this call, e.g. by
 * RCU). Flows decided under the old one are decided again, from their cached classification,
 * at their next packet. NULL: pass everything.
 */
void worker_set_policy(struct worker *w, const struct policy *p);
/* Tests only: the current policy's generation number (to reach the counter's wrap). */
void worker_test_set_policy_gen(struct worker *w, uint32_t gen);

/*
 * Visit the flows whose table index is in [cursor, cursor + budget), at most `max_flows` of
 * them: `visit` gets a record as the flow stands now (with `end` set, the flow is then ended,
 * as by worker_flush, and `visit` gets NULL). Returns the next cursor, or UINT32_MAX when the
 * table is done. For bounded snapshots and flushes that never stall the data path for long.
 */
typedef void (*worker_visit_cb)(void *ctx, const struct flow_record *rec);
uint32_t worker_visit_flows(struct worker *w, uint32_t cursor, uint32_t budget, bool end,
			    uint32_t max_flows, worker_visit_cb visit, void *ctx);

void worker_get_stats(const struct worker *w, struct worker_stats *stats);
/* sum += add, counter by counter (the totals over several workers). */
void worker_stats_add(struct worker_stats *sum, const struct worker_stats *add);

/* The nDPI instance, for name lookups from other threads (read-only tables). */
const struct dpi *worker_dpi(const struct worker *w);

/* Bytes per flow: a classified flow's entry, and the extra while under classification. */
size_t worker_bytes_per_classified_flow(const struct worker *w);
size_t worker_bytes_per_classifying_flow(const struct worker *w);
/* Bytes of the pools flows share (IPv6 addresses, interned metadata), in all. */
size_t worker_shared_pool_bytes(const struct worker *w);

#endif
