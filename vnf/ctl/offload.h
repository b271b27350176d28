/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Offload: once a flow is decided, the switch (Open vSwitch, over OpenFlow 1.3) carries it
 * itself, tagging its packets exactly as flowtag would; flowtag sees only its first packets
 * (and, for TCP, SYN/FIN/RST, so it still sees the connection end).
 *
 *   worker --ask--> offload --FLOW_MOD x2 (both directions)--> switch
 *   switch --FLOW_REMOVED (counts)--> offload --notice--> worker (the flow ends, or returns)
 *   worker --record--> offload (adds the switch's counts, or removes the rules first and
 *                      waits for them, bounded) --> the record's sinks
 *
 * The rules: in offload.table at offload.priority, matching one direction of the flow exactly
 * (in_port if set, VLAN or none, addresses, TCP/UDP ports, for TCP "no SYN/FIN/RST"), with
 * the flow's idle timeout (flows.timeouts.tcp/udp) and send_flow_rem; their actions push the
 * tag flowtag would push (ctl/openflow.c says how) and resubmit the packet into the pipeline
 * as if it came from flowtag's own port, so the bridge's own rules take it to the chain's
 * first hop. A dropped flow's rule has no actions. Cookies: 0xf10a, the instance, a serial.
 *
 * Bounded: at most offload.max_flows flows, offload.flow_mods_per_s FLOW_MODs a second (a
 * token bucket; removals go first), a queue of asks at most 5 s of FLOW_MODs long. Beyond
 * any limit, on a switch error or a refused rule, the flow stays on the flowtag path (the
 * worker is told, and counts it). On (re)connecting it deletes every rule with its cookie;
 * flows that had rules come back through flowtag and are offloaded again. A policy change
 * re-decides every offloaded flow: a changed decision removes its rules, a changed tag
 * (e.g. the version in NSH C4) rewrites them in place (MODIFY_STRICT keeps their counters).
 *
 * Pure: it talks through the callbacks below and is given the time, so unit tests drive it
 * without a switch or a data path; control.c wires it to ofconn.c and the data path. Control
 * thread only.
 */
#ifndef FLOWTAG_OFFLOAD_H
#define FLOWTAG_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "flow_record.h"
#include "offload_msg.h"
#include "openflow.h"
#include "policy.h"
#include "stat_item.h"
#include "worker.h"

/*
 * A rule's cookie: 0xf10a (16 bits), the instance (8), the entry's install generation (16),
 * its slot (23) and the direction (1). The first two mark every rule of one flowtag.
 */
#define OFFLOAD_COOKIE_TAG 0xf10aULL
#define OFFLOAD_MAX_FLOWS 4000000

struct offload_params {
	const struct config *cfg;
	/* Send a message; 0, or -1 (not connected, or its queue is full: try later). */
	int (*send)(void *ctx, const struct of_buf *msg);
	/* Tell a worker about a flow; false when its ring is full (it is told again later). */
	bool (*notify)(void *ctx, uint16_t worker, const struct offload_notice *n);
	/* Deliver the asks a worker has queued now (offload_ask() for each). */
	void (*drain_asks)(void *ctx, uint16_t worker);
	/* A finished flow's record, complete: to the sinks. */
	void (*write_record)(void *ctx, const struct flow_record *rec);
	/* Something for the log (rare events only; may be NULL). */
	void (*say)(void *ctx, bool warning, const char *text);
	void *ctx;
};

struct offload_stats {
#define OFFLOAD_STAT(name, gauge, help) uint64_t name;
#include "offload_counters.def"
#undef OFFLOAD_STAT
	/* What the switch carried for removed rules, by application and by chain. */
	uint64_t app_packets[WORKER_MAX_APPS];
	uint64_t app_bytes[WORKER_MAX_APPS];
	uint64_t chain_packets[POLICY_MAX_CHAINS];
};

enum {
#define OFFLOAD_STAT(name, gauge, help) OFFLOAD_STAT_##name,
#include "offload_counters.def"
#undef OFFLOAD_STAT
	OFFLOAD_STAT_COUNT
};

/* offload_counters.def described for the outputs (stat_item.h). */
extern const struct stat_item offload_stat_items[];
extern const size_t offload_stat_item_count;

/* NULL with errno when memory runs out. `policy` is the one in force (may be NULL). */
struct offload *offload_create(const struct offload_params *p, const struct policy *policy);
/* Records still waiting for their rules' counts are written first, with what there is. */
void offload_destroy(struct offload *o);

/* The switch connection (ofconn.c's events). */
void offload_connected(struct offload *o, uint64_t now_ms);
void offload_disconnected(struct offload *o, uint64_t now_ms);
void offload_message(struct offload *o, const uint8_t *msg, size_t len, uint64_t now_ms);

/* A worker's ask (or its "gone" answer to a notice). */
void offload_ask(struct offload *o, const struct offload_ask *a, uint64_t now_ms);
/* A finished flow's record: written now, or once its rules' counts are in (bounded). */
void offload_record(struct offload *o, const struct flow_record *rec, uint64_t now_ms);
/* A new policy is in force (the caller keeps it alive until the next call). */
void offload_policy(struct offload *o, const struct policy *p, uint64_t now_ms);
/* Pace FLOW_MODs, retry notices, time out waits, ask for the live counts. Every few ms. */
void offload_tick(struct offload *o, uint64_t now_ms);

/*
 * A graceful stop: delete every rule with our cookie and wait for the switch's counts
 * (their FLOW_REMOVEDs, up to the barrier after them). offload_stopped() says when that is
 * done, or has waited removal_wait_ms, or there is no switch to wait for.
 */
void offload_stop(struct offload *o, uint64_t now_ms);
bool offload_stopped(const struct offload *o, uint64_t now_ms);

void offload_get_stats(const struct offload *o, struct offload_stats *st);

/* The cookie of this instance's rules, and the mask that selects them all. */
uint64_t offload_cookie_base(const struct config *cfg);
#define OFFLOAD_COOKIE_MASK 0xffffff0000000000ULL

#endif
