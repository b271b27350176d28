/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The data path: lcores running one loop each, chosen once at launch (dp/lcore.c):
 *   - a lone worker: rx -> classify -> tx to completion (one lcore besides the control one);
 *   - with more lcores, an I/O lcore (rx, dispatch by a symmetric hash of the flow, tx) and
 *     classification workers fed by rings;
 *   - the dummy service function (flowtag sf).
 * Packets come from an input (input.h): the live ports, or a replayed capture.
 *
 * The control thread owns the data path and is the only caller of these functions. It never
 * waits for a worker: it publishes (the policy, by RCU), asks (requests, which workers carry
 * out in bounded slices and which belong to the data path until the worker is done with
 * them) and collects (finished flow records, request results) in datapath_poll(), which it
 * calls every millisecond or so. A worker never waits for the control thread without a
 * bound (a full record ring: at most DP_RECORD_WAIT_MS, then the record is counted as lost).
 *
 * Lifecycle: datapath_create() after the EAL is up, datapath_start(), datapath_poll() until it
 * returns true (input drained, or stopped by datapath_stop()), datapath_destroy().
 */
#ifndef FLOWTAG_DATAPATH_H
#define FLOWTAG_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "flow_filter.h"
#include "flow_record.h"
#include "policy.h"
#include "stat_item.h"
#include "worker.h"

struct dpi;
struct app_defs;
struct dp_input;

#define DP_PKT_POOL_NAME "pkts" /* the packets' mbufs (replay reads a capture into them) */
#define DP_RECORD_WAIT_MS 5000 /* a lossless worker waits this long for record room at most */
#define DP_RETIRED_POLICIES_MAX 64 /* swapped-out policies waiting for the workers to move on */
#define DP_REQUESTS_MAX 256 /* requests in flight at once, over all workers */

/* Called on the control thread for each finished flow. */
typedef void (*datapath_record_cb)(void *ctx, const struct flow_record *rec);
/* Called on the control thread for each offload ask a worker made (offload_msg.h). */
typedef void (*datapath_ask_cb)(void *ctx, const struct offload_ask *ask);

struct datapath_params {
	const struct config *cfg;
	/* Where packets come from; NULL: the live ports of cfg (dp_input_live). */
	struct dp_input *input;
	datapath_record_cb on_record;
	void *record_ctx;
	/* Compiled by the caller; the data path owns it from here (NULL = pass everything). */
	struct policy *policy;
	/* A dummy service function instead of the classifier: see sf.h. */
	bool service_function;
	/*
	 * Offload (ctl/offload.c): with on_offload_ask set, workers hand decided flows over a
	 * ring per worker, delivered by datapath_poll() before that poll's records (a flow's ask
	 * always comes before its record), and hear back through datapath_offload_notify().
	 */
	datapath_ask_cb on_offload_ask;
	void *offload_ctx;
	/* A new policy is in force (datapath_set_policy succeeded): the offload follows it. */
	void (*on_policy)(void *ctx, const struct policy *p);
	void *policy_ctx;
};

/* The data path's own counters (dp_counters.def), per lcore and summed. */
struct datapath_counters {
#define DP_COUNTER(name, drop_reason, help) uint64_t name;
#include "dp_counters.def"
#undef DP_COUNTER
};

/* dp_counters.def described for the outputs (stat_item.h), against struct datapath_counters. */
extern const struct stat_item datapath_stat_items[];
extern const size_t datapath_stat_item_count;

struct datapath_stats {
	/* rx and tx are the ports': with an I/O lcore, its own (the workers' are internal). */
	struct datapath_counters c;
	uint64_t requests_refused; /* too many requests in flight */
	uint64_t port_ipackets, port_opackets, port_ierrors, port_rx_nombuf;
	uint32_t requests_in_flight;
	uint32_t policies_retiring; /* swapped out, still visible to a worker */
	double busy_s; /* from the first packet received to the last one out (replay timing) */
	struct worker_stats w; /* summed over workers */
};

/* Returns NULL with a message in err. The policy in params is ours even then. */
struct datapath *datapath_create(const struct datapath_params *params, char *err, size_t err_len);
int datapath_start(struct datapath *dp);
/*
 * Deliver finished records and request results, reclaim retired policies, rewind a looping
 * replay, watch the links. Returns true once every lcore has finished (input drained, or
 * stopped). Never blocks.
 */
bool datapath_poll(struct datapath *dp);
/*
 * Whether the last datapath_poll() had something to do or left something waiting (records or
 * offload asks delivered, requests in flight, policies to reclaim, a stop): the control thread
 * then polls again soon, and otherwise lets its poll period grow (an idle classifier's CPU).
 */
bool datapath_active(const struct datapath *dp);
/* Ask the lcores to end every flow and finish (signal-safe: sets a flag only). */
void datapath_stop(struct datapath *dp);
/* Waits (bounded) for the lcores, delivers the last records, closes the ports. NULL-safe. */
void datapath_destroy(struct datapath *dp);

/*
 * Publish a new policy: workers move to it at their next loop (RCU: DPDK's QSBR), no packet
 * waits or is dropped. The old one is freed by a later datapath_poll() once no worker can
 * see it. Returns 0 (the data path owns p), or -EBUSY when DP_RETIRED_POLICIES_MAX old ones
 * still wait for a worker to move on (p is not taken: the caller frees it).
 */
int datapath_set_policy(struct datapath *dp, struct policy *p);
/* The policy in force (valid on the control thread until its next datapath_set_policy). */
const struct policy *datapath_policy(const struct datapath *dp);
/* The workers' active timeout for interim records (IPFIX export), from now on; 0 = none. */
void datapath_set_active_timeout(struct datapath *dp, uint32_t ms);

/* Tell worker `worker` about a flow it asked to offload. false: its ring is full (try later). */
bool datapath_offload_notify(struct datapath *dp, uint16_t worker, const struct offload_notice *n);
/* Deliver worker `worker`'s queued asks now (to on_offload_ask). */
void datapath_offload_drain(struct datapath *dp, uint16_t worker);

/* What a request came to, handed to its callback (valid during the callback only). */
struct datapath_result {
	int status; /* 0, -ETIMEDOUT (a worker did not finish in time), -ESHUTDOWN (stopped) */
	const struct flow_record *flows; /* flows requests */
	uint32_t n_flows;
	bool more; /* more flows matched beyond offset + n_flows */
	uint64_t flushed; /* flush requests: flows ended */
};
typedef void (*datapath_result_cb)(void *ctx, const struct datapath_result *res);

/*
 * Ask the workers for their live flows that match `f`: up to f->limit records after skipping
 * the first f->offset matches (over the workers in turn). `done` runs on the control thread,
 * from datapath_poll(), exactly once (unless cancelled): with the results, or with
 * -ETIMEDOUT after timeout_ms. The request and its results belong to the data path until the
 * workers are done with them, whatever happened to the asker meanwhile. Returns a handle
 * (for datapath_request_cancel), or 0 with errno EBUSY (DP_REQUESTS_MAX in flight) or ENOMEM.
 */
uint64_t datapath_request_flows(struct datapath *dp, const struct flow_filter *f,
				uint32_t timeout_ms, datapath_result_cb done, void *ctx);
/*
 * End every live flow now: every flow's record is written (the workers end flows only as
 * fast as their record rings have room). `done` as above, with res->flushed.
 */
uint64_t datapath_request_flush(struct datapath *dp, uint32_t timeout_ms, datapath_result_cb done,
				void *ctx);
/* The asker went away: `done` will not be called. The request is reaped when the workers
 * are done with it. Unknown or finished handles are ignored. */
void datapath_request_cancel(struct datapath *dp, uint64_t handle);

/* Ports: name, link state, counters. */
struct datapath_port_info {
	const char *name;
	bool link_up;
	uint64_t rx_packets, tx_packets, rx_errors, rx_missed, rx_nombuf, tx_errors;
};
uint32_t datapath_port_count(const struct datapath *dp);
void datapath_port_info(const struct datapath *dp, uint32_t i, struct datapath_port_info *info);
uint32_t datapath_worker_count(const struct datapath *dp);
void datapath_worker_stats(const struct datapath *dp, uint32_t i, struct worker_stats *st);
bool datapath_ready(const struct datapath *dp);

void datapath_get_stats(const struct datapath *dp, struct datapath_stats *st);
/* nDPI's names (read-only tables; any thread). NULL for a service function. */
const struct dpi *datapath_names(const struct datapath *dp);
/* The user-defined applications the workers' nDPI instances were given (NULL: none). */
const struct app_defs *datapath_apps(const struct datapath *dp);
/* Service-function mode: the counters of port `port` (config index). */
struct sf_counters;
void datapath_sf_counters(const struct datapath *dp, uint32_t port, struct sf_counters *c);
size_t datapath_bytes_per_classified_flow(const struct datapath *dp);
size_t datapath_bytes_per_classifying_flow(const struct datapath *dp);
/* One worker's pools shared by its flows (IPv6 addresses, interned metadata), in bytes. */
size_t datapath_shared_pool_bytes(const struct datapath *dp);

#endif
