/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The data path's insides, shared by its files and nothing else: datapath.c (lifecycle,
 * control-thread side), lcore.c (one loop per role), request.c (requests to workers).
 */
#ifndef FLOWTAG_DP_INTERNAL_H
#define FLOWTAG_DP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_lcore.h>

#include "clock.h"
#include "config.h"
#include "datapath.h"
#include "input.h"
#include "sf.h"
#include "worker.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;
struct dp_request;

#define DP_MAX_BURST 256
#define DP_MAX_PORTS CONFIG_MAX_PORTS
#define DP_TX_BUF 64
#define DP_IDLE_POLLS_BEFORE_SLEEP 256

/* What an lcore does, chosen once at launch. */
enum dp_role {
	DP_ROLE_WORKER, /* alone: rx from the input, classify, tx */
	DP_ROLE_FED_WORKER, /* classify what the I/O lcore hands it, hand it back */
	DP_ROLE_IO, /* rx from the input, dispatch by flow, tx what the workers return */
	DP_ROLE_SF, /* the dummy service function */
};

/* Packets waiting to leave, per output port (config index); flushed at the end of a burst. */
struct dp_txq {
	struct rte_mbuf *m[DP_MAX_PORTS][DP_TX_BUF];
	uint16_t n[DP_MAX_PORTS];
};

/* Idle back-off, driven by what each poll brought (dp_idle_after). The sleep level is the
 * poll period under light load, so it follows the arrival rate:
 * - an empty poll: spin DP_IDLE_POLLS_BEFORE_SLEEP times, then sleep at the level, and double
 *   the level up to the cap (idle_sleep_max_us; 0 spins for ever);
 * - a poll that brought less than a 1/DP_IDLE_LOAD_DIVISOR of a burst: light load, the level
 *   stays: a link carrying 2,000 packets/s is polled once a millisecond, two packets at a
 *   time. (Starting over from 1 us after every packet cost ten wake-ups a packet, each a
 *   context switch: most of a lightly loaded classifier's CPU.)
 * - a poll that brought more: the level halves, and at 1 us the lcore spins again.
 * - after DP_IDLE_DEEP_AFTER sleeps at the cap without a packet (a tenth of a second), the level
 *   grows on to DP_IDLE_DEEP_FACTOR times the cap: an idle classifier wakes 250 times a
 *   second (1 ms cap), and the first packet after a silence waits at most that long.
 * So a packet waits at most the cap (the deep level, after a silence), and a rate of more than
 * a quarter burst per sleep turns the spinning back on within a few polls. */
#define DP_IDLE_LOAD_DIVISOR 4
#define DP_IDLE_DEEP_AFTER 100
#define DP_IDLE_DEEP_FACTOR 4

struct dp_idle {
	uint32_t polls; /* empty polls since the last packet (saturates) */
	uint32_t sleep_us;
};

static inline void
dp_idle_init(struct dp_idle *idle)
{
	idle->polls = 0;
	idle->sleep_us = 1;
}

static inline void
dp_idle_after(struct dp_idle *idle, uint32_t got, uint32_t burst, uint32_t max_us)
{
	if (got > 0) {
		if (got * DP_IDLE_LOAD_DIVISOR < burst) {
			idle->polls = DP_IDLE_POLLS_BEFORE_SLEEP; /* light: sleep at once, */
			idle->sleep_us = RTE_MIN(idle->sleep_us, max_us); /* not deeply */
			return;
		}
		idle->sleep_us /= 2;
		if (idle->sleep_us <= 1)
			dp_idle_init(idle);
		return;
	}
	if (idle->polls < UINT32_MAX)
		idle->polls++;
	if (idle->polls <= DP_IDLE_POLLS_BEFORE_SLEEP || max_us == 0)
		return;
	rte_delay_us_sleep(idle->sleep_us);
	if (idle->polls > DP_IDLE_POLLS_BEFORE_SLEEP + DP_IDLE_DEEP_AFTER)
		max_us *= DP_IDLE_DEEP_FACTOR;
	idle->sleep_us = RTE_MIN(idle->sleep_us * 2, max_us);
}


/* One lcore's state: written only by that lcore, except where noted. */
struct dp_lcore {
	struct datapath *dp;
	enum dp_role role;
	unsigned int lcore;
	uint16_t id; /* worker number (workers and the service function) */
	struct worker *w; /* classifying roles */
	struct rte_ring *records; /* worker -> control: finished flow records */
	struct rte_ring *requests; /* control -> worker: struct dp_request * */
	struct rte_ring *asks; /* worker -> control: struct offload_ask (offload only) */
	struct rte_ring *notices; /* control -> worker: struct offload_notice (offload only) */
	struct dp_request *req; /* the request being carried out */
	struct rte_ring *in; /* fed worker: I/O -> worker (m->port = input port index) */
	struct rte_ring *out; /* fed worker: worker -> I/O (m->port = output port index) */
	uint8_t *scratch; /* multi-segment frames are copied here to be classified */
	const struct policy *policy_seen;
	struct dp_txq txq;
	struct datapath_counters c; /* its own (plain 64-bit: the control thread reads them stale) */
	struct sf_counters sf[DP_MAX_PORTS];
	volatile bool finished; /* set by the lcore as its last act */
} __rte_cache_aligned;

struct datapath {
	struct datapath_params p;
	struct config cfg;
	struct dp_input *input;
	struct dp_input live_input;
	bool lossless; /* the input's: tx and records wait for room */
	struct rte_mempool *pkt_pool;
	struct rte_mempool *rec_pool;
	uint16_t ports[DP_MAX_PORTS]; /* DPDK port ids, by config index */
	uint16_t n_ports;
	uint16_t port_index[RTE_MAX_ETHPORTS]; /* DPDK port id -> config index */
	uint32_t max_frame; /* largest frame a port takes: mtu + Ethernet + one VLAN tag */
	bool launched;
	volatile bool stop;
	volatile bool io_input_done; /* the I/O lcore will dispatch nothing more */
	int ts_offset; /* mbuf timestamp dynfield, -1 if the ports give none */
	uint64_t ts_flag;
	/* Live timestamps: wall clock at start_tsc plus the cycles since (clock.h). */
	uint64_t epoch_us;
	uint64_t start_tsc;
	uint64_t clock_skew_cycles; /* FLOWTAG_TEST_CLOCK_START_S */
	uint64_t hz;
	uint64_t first_rx_tsc; /* the first packet in (set once, by the rx lcore) */
	uint64_t last_tx_tsc; /* the last packet out */
	/* RCU for the policy: workers read dp->policy between quiescent points. */
	struct policy *policy;
	struct rte_rcu_qsbr *qsbr;
	struct {
		struct policy *p;
		uint64_t token;
	} retired[DP_RETIRED_POLICIES_MAX];
	uint32_t n_retired;
	/* Requests in flight (request.c), control thread only. */
	struct dp_op *ops;
	uint32_t n_ops;
	uint64_t next_op_handle;
	uint64_t requests_refused;
	uint64_t next_link_check_tsc;
	bool poll_active; /* datapath_active(): the last poll moved something */
	uint8_t link_up[DP_MAX_PORTS];
	uint32_t n_workers; /* classifying lcores (or the one service function) */
	struct dp_lcore workers[RTE_MAX_LCORE];
	struct dp_lcore io; /* the I/O lcore, when there is one */
	bool has_io;
};

/* Packets per rx burst: the config's, within what the loops' arrays hold. */
static inline uint16_t
dp_burst_size(const struct datapath *dp)
{
	return (uint16_t)RTE_MIN(dp->cfg.burst_size, (uint32_t)DP_MAX_BURST);
}

static inline uint64_t
dp_now_us(const struct datapath *dp)
{
	return dp->epoch_us +
	       clock_cycles_to_us(rte_get_timer_cycles() - dp->start_tsc + dp->clock_skew_cycles, dp->hz);
}

/* lcore.c: the loop for an lcore's role (rte_eal_remote_launch's function). */
int dp_lcore_main(void *arg);
/* lcore.c: a finished flow from worker_* onto the lcore's record ring. */
void dp_record_to_ring(void *ctx, const struct flow_record *rec);
/* lcore.c: a decided flow the switch may carry, from worker_* onto the lcore's ask ring. */
bool dp_offload_to_ring(void *ctx, const struct offload_ask *ask);
/* lcore.c: a packet's fate from worker_* (tag, drop, queue for tx). */
void dp_packet_out(void *ctx, const struct worker_out *out);

/* request.c, on a worker lcore: a bounded slice of the request at hand, if any. */
void dp_request_step(struct dp_lcore *lc);
/* request.c, on a worker lcore that finishes: what is left is answered as it stands. */
void dp_request_abandon_all(struct dp_lcore *lc);
/* request.c, control thread: results to their askers, timeouts, reaping. */
void dp_requests_poll(struct datapath *dp);
/* request.c, control thread, once the lcores have stopped: free everything left. */
void dp_requests_destroy(struct datapath *dp);

#endif
