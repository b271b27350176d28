/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The data path: worker lcores running rx -> classify -> tx to completion, and the control
 * thread's side of it (finished flow records arrive over a ring; stop requests; counters).
 *
 * Lifecycle from the control thread: datapath_create() after the EAL is up,
 * datapath_start(), then datapath_poll() in a loop until it returns true (replay drained) or
 * until the caller decides to stop (datapath_stop()), then datapath_destroy().
 */
#ifndef FLOWTAG_DATAPATH_H
#define FLOWTAG_DATAPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "flow_record.h"
#include "worker.h"

struct dpi;

/* Called on the control thread for each finished flow. */
typedef void (*datapath_record_cb)(void *ctx, const struct flow_record *rec);

struct datapath_params {
	const struct config *cfg;
	/* Replay: packets the input holds; the workers flush and finish after that many. */
	uint64_t rx_target;
	/* Replay: a full record ring makes the worker wait instead of dropping the record. */
	bool lossless_records;
	datapath_record_cb on_record;
	void *record_ctx;
	/* Compiled by the caller; the data path owns it from here (NULL = pass everything). */
	struct policy *policy;
	/* Replay: after each pass, flush the flows and read the input again (fresh flows). */
	bool loop;
	uint32_t loop_pause_ms; /* between passes */
	uint32_t replay_pps; /* replay pacing, packets per second; 0 = as fast as it goes */
	/* A dummy service function instead of the classifier: see sf.h. */
	bool service_function;
};

struct datapath_stats {
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t dropped; /* by decision (policy, malformed) */
	uint64_t tx_failed; /* the port would not take them */
	uint64_t oversize; /* tagged frames beyond the MTU (dropped or sent untagged) */
	uint64_t tag_failed; /* frames that could not carry their chain's tag (sent untagged) */
	uint64_t records_dropped; /* record ring full (live mode only) */
	uint64_t port_ipackets, port_opackets, port_ierrors, port_rx_nombuf;
	double busy_s; /* from the first packet received to the last one out (replay timing) */
	struct worker_stats w; /* summed over workers */
};

/* Returns NULL with a message in err. */
struct datapath *datapath_create(const struct datapath_params *params, char *err, size_t err_len);
int datapath_start(struct datapath *dp);
/* Deliver finished records; true once every worker has finished (replay drained, or stopped). */
bool datapath_poll(struct datapath *dp);
/* Ask the workers to flush their flows and finish (signal-safe: sets a flag only). */
void datapath_stop(struct datapath *dp);
/* Waits for the workers, delivers the last records, closes the ports. NULL-safe. */
void datapath_destroy(struct datapath *dp);

/*
 * Swap in a new policy under traffic: workers move to it at their next burst (RCU), no packet
 * waits or is dropped; the old one is freed once no worker can see it. Control thread.
 */
void datapath_set_policy(struct datapath *dp, struct policy *p);
const struct policy *datapath_policy(const struct datapath *dp);

/* A view of the live flows, filtered by the worker (NULL / -1 = any). */
struct datapath_flow_filter {
	int app; /* nDPI protocol id: master or app */
	const char *host_glob;
	int chain; /* -2 = any; -1 = flows on no chain; >= 0: on chain `chain_name` */
	char chain_name[32];
	uint8_t cidr_version; /* 0 = any */
	uint8_t cidr_prefix;
	uint8_t cidr_addr[16]; /* either endpoint */
};
/*
 * Copy up to `max` records of live flows that match, skipping the first `offset` matches.
 * Returns how many were copied, *more tells whether others matched beyond; -ETIMEDOUT if a
 * worker did not answer within timeout_ms. Control thread; workers scan in bounded steps.
 */
int datapath_flows(struct datapath *dp, const struct datapath_flow_filter *f, uint32_t offset,
		   uint32_t max, struct flow_record *out, bool *more, uint32_t timeout_ms);
/* End every live flow (records written); returns how many, or -ETIMEDOUT. */
int datapath_flush_flows(struct datapath *dp, uint32_t timeout_ms);

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
const struct dpi *datapath_names(const struct datapath *dp);
/* Service-function mode: the counters of port `port` (config index). */
struct sf_counters;
void datapath_sf_counters(const struct datapath *dp, uint32_t port, struct sf_counters *c);
size_t datapath_bytes_per_classified_flow(const struct datapath *dp);
size_t datapath_bytes_per_classifying_flow(const struct datapath *dp);
/* One worker's pools shared by its flows (IPv6 addresses, interned metadata), in bytes. */
size_t datapath_shared_pool_bytes(const struct datapath *dp);

#endif
