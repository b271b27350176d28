/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "datapath.h"

#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "port.h"
#include "sf.h"
#include "tag.h"
#include "vlan.h"

#define MAX_BURST 256
#define RECORD_RING_SIZE 16384
#define RECORD_POOL_SIZE 32767
#define SCRATCH_SIZE 65536 /* an IP packet at most: multi-segment frames are copied here */
#define IDLE_POLLS_BEFORE_SLEEP 256
/* Replay only: no packet for this long after the input stalls means the capture ended short. */
#define REPLAY_STALL_US 2000000

#define MAX_PORTS CONFIG_MAX_PORTS
#define TX_BUF 64

#define CMD_RING_SIZE 16
#define JOB_SCAN_STEP 4096 /* table entries a worker looks at per loop for a snapshot */
#define JOB_FLUSH_STEP 512 /* flows it ends per loop for a flush */

/* A request from the control thread, carried out by a worker in bounded steps. */
struct dp_command {
	enum { CMD_FLOWS, CMD_FLUSH } kind;
	const struct datapath_flow_filter *filter;
	uint32_t offset, max;
	struct flow_record *out;
	uint32_t matched, copied, cursor;
	volatile bool done;
};

/* One worker lcore's state: written only by that lcore (except `stop`). */
struct dp_worker {
	struct worker *w;
	struct datapath *dp;
	struct rte_ring *records; /* worker -> control */
	uint8_t *scratch;
	unsigned int lcore;
	uint16_t id;
	volatile bool finished;
	struct rte_mbuf *txb[MAX_PORTS][TX_BUF]; /* per output port, flushed each burst */
	uint16_t txn[MAX_PORTS];
	uint64_t rx;
	uint64_t tx;
	uint64_t dropped;
	uint64_t tx_failed;
	uint64_t oversize;
	uint64_t tag_failed;
	uint64_t records_dropped;
	struct sf_counters sf[MAX_PORTS]; /* service-function mode */
	struct rte_ring *cmds; /* control -> worker requests */
	struct dp_command *job; /* the one being carried out */
	const struct policy *policy_seen;
	volatile bool pass_done; /* replay --loop: input drained, flows flushed, waiting */
	uint64_t pass_rx; /* replay: packets of the current pass */
} __rte_cache_aligned;

struct datapath {
	struct datapath_params p;
	struct config cfg;
	struct rte_mempool *pkt_pool;
	struct rte_mempool *rec_pool;
	uint16_t ports[MAX_PORTS]; /* DPDK port ids, by config index */
	uint16_t n_ports;
	uint32_t max_frame; /* largest frame a port takes: mtu + Ethernet + one VLAN tag */
	bool launched;
	volatile bool stop;
	int ts_offset; /* mbuf timestamp dynfield, -1 if the port gives none */
	uint64_t ts_flag;
	uint64_t epoch_us; /* wall clock at TSC 0, for live timestamps */
	uint32_t n_workers;
	struct policy *policy; /* read by workers under RCU */
	struct rte_rcu_qsbr *qsbr;
	uint64_t pass_done_tsc; /* replay --loop: when every worker finished its pass */
	uint64_t next_link_check_tsc;
	uint8_t link_up[MAX_PORTS];
	struct dp_worker workers[RTE_MAX_LCORE];
};

/* How often the control thread asks the ports for their link state. */
#define LINK_CHECK_MS 250

static void
record_to_ring(void *ctx, const struct flow_record *rec)
{
	struct dp_worker *dw = ctx;
	/* Replay, and the final flush at shutdown: every record matters more than latency. */
	bool lossless = dw->dp->p.lossless_records || dw->dp->stop;
	void *obj;

	while (rte_mempool_get(dw->dp->rec_pool, &obj) != 0) {
		if (!lossless) {
			dw->records_dropped++;
			return;
		}
		rte_pause();
	}
	memcpy(obj, rec, sizeof(*rec));
	while (rte_ring_sp_enqueue(dw->records, obj) != 0) {
		if (!lossless) {
			rte_mempool_put(dw->dp->rec_pool, obj);
			dw->records_dropped++;
			return;
		}
		rte_pause();
	}
}

static inline uint64_t
now_us(const struct datapath *dp)
{
	return dp->epoch_us + rte_get_timer_cycles() * 1000000ULL / rte_get_timer_hz();
}

static void
tx_flush(struct dp_worker *dw, uint16_t out)
{
	struct datapath *dp = dw->dp;
	uint16_t n = dw->txn[out], sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(dp->ports[out], 0, dw->txb[out], n);
	/* Replay must not lose packets to a busy port; live traffic must not stall. */
	while (dp->p.rx_target > 0 && sent < n && !dp->stop)
		sent += rte_eth_tx_burst(dp->ports[out], 0, dw->txb[out] + sent, n - sent);
	dw->tx += sent;
	if (sent < n) {
		dw->tx_failed += n - sent;
		rte_pktmbuf_free_bulk(dw->txb[out] + sent, n - sent);
	}
	dw->txn[out] = 0;
}

/* Write the tag into the mbuf, growing it into its headroom. */
static bool
tag_mbuf(struct dp_worker *dw, struct rte_mbuf *m, const struct worker_out *o)
{
	uint8_t *start = rte_pktmbuf_mtod(m, uint8_t *), *frame = start;
	uint32_t len = m->data_len;
	/* The first segment carries the headers; later segments only count against the MTU. */
	uint32_t rest = m->pkt_len - m->data_len;
	uint32_t max = dw->dp->max_frame > rest ? dw->dp->max_frame - rest : 0;
	int rc = tag_apply(o->tag, &o->meta, &frame, &len, rte_pktmbuf_headroom(m), max);

	if (rc == 0) {
		if (frame < start)
			rte_pktmbuf_prepend(m, (uint16_t)(start - frame));
		return true;
	}
	if (rc == -EMSGSIZE) {
		dw->oversize++;
		return !dw->dp->cfg.oversize_drop; /* untagged, or dropped, as configured */
	}
	dw->tag_failed++; /* cannot carry this tag (e.g. DSCP on non-IP): sent untagged */
	return true;
}

/* The worker's verdict on one packet: tag, decapsulate, drop, and queue for tx. */
static void
packet_out(void *ctx, const struct worker_out *o)
{
	struct dp_worker *dw = ctx;
	struct datapath *dp = dw->dp;
	struct rte_mbuf *m = o->opaque;
	uint16_t out;

	if (o->action == WORKER_ACTION_DROP) {
		rte_pktmbuf_free(m);
		dw->dropped++;
		return;
	}
	if (o->action == WORKER_ACTION_TAG && !tag_mbuf(dw, m, o)) {
		rte_pktmbuf_free(m);
		dw->dropped++;
		return;
	}
	if (o->action == WORKER_ACTION_DECAP) {
		uint8_t *start = rte_pktmbuf_mtod(m, uint8_t *), *frame = start;
		uint32_t len = m->data_len;

		if (tag_nsh_decap(&frame, &len) == 0)
			rte_pktmbuf_adj(m, (uint16_t)(frame - start));
	}
	/* One-arm: back out of the port it came in on; inline: out of the other one. */
	out = dp->cfg.mode == CONFIG_MODE_INLINE ? (uint16_t)(o->port ^ 1) : o->port;
	dw->txb[out][dw->txn[out]++] = m;
	if (dw->txn[out] == TX_BUF)
		tx_flush(dw, out);
}

/* Packet view for the worker: contiguous bytes and the time the packet was seen. */
static inline void
describe(const struct datapath *dp, const uint8_t *data, uint32_t len, struct rte_mbuf *m,
	 uint16_t port_idx, uint64_t t_now, struct worker_pkt *pkt)
{
	pkt->data = data;
	pkt->len = len;
	pkt->wire_len = m->pkt_len;
	pkt->opaque = m;
	pkt->port = port_idx;
	pkt->flags = dp->cfg.ports[port_idx].is_return ? WORKER_PKT_RETURN : 0;
	if (dp->ts_offset >= 0 && (m->ol_flags & dp->ts_flag))
		pkt->time_us = *RTE_MBUF_DYNFIELD(m, dp->ts_offset, rte_mbuf_timestamp_t *);
	else
		pkt->time_us = t_now;
}

/*
 * Classify a burst. Multi-segment frames (jumbo frames from captures, rare) are copied into
 * the one scratch buffer, so each is classified on its own, after the packets before it.
 */
static void
classify_burst(const struct datapath *dp, struct dp_worker *dw, struct rte_mbuf **rx, uint16_t n,
	       uint16_t port_idx, uint64_t t_now)
{
	struct worker_pkt pkts[MAX_BURST];
	uint16_t i, start = 0;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		uint32_t len;

		if (likely(rte_pktmbuf_is_contiguous(m))) {
			describe(dp, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, m, port_idx,
				 t_now, &pkts[i]);
			continue;
		}
		if (i > start)
			worker_process(dw->w, pkts + start, i - start);
		len = RTE_MIN(m->pkt_len, (uint32_t)SCRATCH_SIZE);
		describe(dp, rte_pktmbuf_read(m, 0, len, dw->scratch), len, m, port_idx, t_now,
			 &pkts[i]);
		worker_process(dw->w, &pkts[i], 1);
		start = i + 1;
	}
	if (n > start)
		worker_process(dw->w, pkts + start, n - start);
}

/* Service-function mode: each packet goes back out of the port it came in on. */
static void
sf_burst(struct dp_worker *dw, struct rte_mbuf **rx, uint16_t n, uint16_t port_idx)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];

		if (!sf_handle(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &dw->sf[port_idx])) {
			rte_pktmbuf_free(m);
			dw->dropped++;
			continue;
		}
		dw->txb[port_idx][dw->txn[port_idx]++] = m;
		if (dw->txn[port_idx] == TX_BUF)
			tx_flush(dw, port_idx);
	}
}

static bool
filter_match(const struct datapath_flow_filter *f, const struct flow_record *r)
{
	if (f == NULL)
		return true;
	if (f->app >= 0 && r->verdict.app_proto != f->app && r->verdict.master_proto != f->app)
		return false;
	if (f->host_glob != NULL && fnmatch(f->host_glob, r->meta.host, FNM_CASEFOLD) != 0)
		return false;
	if (f->chain >= -1) {
		/* chain: its name is in the record; -1 = flows on no chain */
		const char *want = f->chain >= 0 ? f->chain_name : "";

		if (strcmp(r->chain, want) != 0)
			return false;
	}
	if (f->cidr_version != 0) {
		const uint8_t *ends[2] = {r->key.lo_addr, r->key.hi_addr};
		uint32_t full = f->cidr_prefix / 8, rest = f->cidr_prefix % 8;
		bool any = false;
		int k;

		if (r->key.ip_version != f->cidr_version)
			return false;
		for (k = 0; k < 2 && !any; k++)
			any = memcmp(ends[k], f->cidr_addr, full) == 0 &&
			      (rest == 0 || ((ends[k][full] ^ f->cidr_addr[full]) & (0xff00 >> rest)) == 0);
		if (!any)
			return false;
	}
	return true;
}

static void
job_collect(void *ctx, const struct flow_record *rec)
{
	struct dp_command *c = ctx;

	if (rec == NULL) { /* a flush: count the flows ended */
		c->matched++;
		return;
	}
	if (!filter_match(c->filter, rec))
		return;
	if (c->matched >= c->offset && c->copied < c->max)
		c->out[c->copied++] = *rec;
	c->matched++;
}

/* A step of the current control request: a bounded slice of the table per loop. */
static void
job_step(struct dp_worker *dw)
{
	struct dp_command *c;
	uint16_t out;

	if (dw->job == NULL && rte_ring_sc_dequeue(dw->cmds, (void **)&dw->job) != 0)
		return;
	c = dw->job;
	if (c->kind == CMD_FLOWS) {
		c->cursor = worker_visit_flows(dw->w, c->cursor, JOB_SCAN_STEP, false, job_collect, c);
	} else {
		c->cursor = worker_visit_flows(dw->w, c->cursor, JOB_FLUSH_STEP, true, job_collect, c);
		for (out = 0; out < dw->dp->n_ports; out++)
			tx_flush(dw, out); /* packets released by the flows just ended */
	}
	if (c->cursor == UINT32_MAX) {
		__atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
		dw->job = NULL;
	}
}

/* Move to the policy the control thread published, if it changed (RCU reader side). */
static inline void
follow_policy(struct dp_worker *dw)
{
	const struct policy *p = __atomic_load_n(&dw->dp->policy, __ATOMIC_ACQUIRE);

	if (p != dw->policy_seen) {
		worker_set_policy(dw->w, p);
		dw->policy_seen = p;
	}
}

static int
worker_main(void *arg)
{
	struct dp_worker *dw = arg;
	struct datapath *dp = dw->dp;
	const uint16_t burst = (uint16_t)RTE_MIN(dp->cfg.burst_size, (uint32_t)MAX_BURST);
	const uint64_t hz = rte_get_timer_hz();
	const bool replay = dp->p.rx_target > 0;
	struct rte_mbuf *rx[MAX_BURST];
	uint32_t idle_polls = 0, sleep_us = 1;
	uint64_t last_rx_tsc = rte_get_timer_cycles();
	/* Replay pacing: a token bucket of packets, refilled at replay_pps. */
	const uint64_t pps = dp->p.replay_pps;
	uint64_t paced_tsc = rte_get_timer_cycles(), paced_rx = 0;

	if (dw->w != NULL) {
		rte_rcu_qsbr_thread_register(dp->qsbr, dw->id);
		rte_rcu_qsbr_thread_online(dp->qsbr, dw->id);
		dw->policy_seen = dp->policy;
	}
	while (!dp->stop) {
		uint16_t pi, out, got = 0;

		if (dw->w != NULL) {
			rte_rcu_qsbr_quiescent(dp->qsbr, dw->id); /* no policy reference held here */
			follow_policy(dw);
			if (dw->job != NULL || rte_ring_count(dw->cmds) > 0)
				job_step(dw);
		}
		if (replay && dw->pass_rx >= dp->p.rx_target) {
			if (!dp->p.loop)
				break;
			if (!dw->pass_done) {
				/* End of a pass: every flow ends; the control thread rewinds the input. */
				worker_flush(dw->w);
				for (out = 0; out < dp->n_ports; out++)
					tx_flush(dw, out);
				dw->pass_done = true;
			}
			rte_delay_us_sleep(1000);
			last_rx_tsc = rte_get_timer_cycles();
			continue;
		}
		if (replay && pps > 0) {
			uint64_t allowed = (rte_get_timer_cycles() - paced_tsc) * pps / hz;

			if (paced_rx >= allowed) {
				rte_delay_us_sleep(200);
				last_rx_tsc = rte_get_timer_cycles(); /* waiting is not stalling */
				continue;
			}
		}
		for (pi = 0; pi < dp->n_ports; pi++) {
			uint16_t n = rte_eth_rx_burst(dp->ports[pi], 0, rx,
						      replay && pps > 0 ? RTE_MIN(burst, 8) : burst);

			if (n == 0)
				continue;
			got += n;
			dw->rx += n;
			dw->pass_rx += n;
			paced_rx += n;
			if (dw->w == NULL)
				sf_burst(dw, rx, n, pi);
			else
				classify_burst(dp, dw, rx, n, pi, replay ? 0 : now_us(dp));
		}
		for (out = 0; out < dp->n_ports; out++)
			tx_flush(dw, out);
		if (got > 0) {
			idle_polls = 0;
			sleep_us = 1;
			last_rx_tsc = rte_get_timer_cycles();
			continue;
		}
		if (replay && rte_get_timer_cycles() - last_rx_tsc > hz * REPLAY_STALL_US / 1000000)
			break; /* the input ended early (read error): finish with what came */
		if (!replay && dw->w != NULL) {
			worker_tick(dw->w, now_us(dp));
			for (out = 0; out < dp->n_ports; out++)
				tx_flush(dw, out); /* packets released by flows that just ended */
		}
		/* Idle back-off: spin briefly, then sleep longer and longer, up to the cap. */
		if (++idle_polls > IDLE_POLLS_BEFORE_SLEEP && dp->cfg.idle_sleep_max_us > 0) {
			rte_delay_us_sleep(sleep_us);
			sleep_us = RTE_MIN(sleep_us * 2, dp->cfg.idle_sleep_max_us);
		}
	}
	if (dw->w != NULL) {
		worker_flush(dw->w);
		rte_rcu_qsbr_thread_offline(dp->qsbr, dw->id);
		rte_rcu_qsbr_thread_unregister(dp->qsbr, dw->id);
		if (dw->job != NULL) /* a request that came too late: answered with what there is */
			__atomic_store_n(&dw->job->done, true, __ATOMIC_RELEASE);
	}
	for (uint16_t out = 0; out < dp->n_ports; out++)
		tx_flush(dw, out);
	dw->finished = true;
	return 0;
}

static int
make_workers(struct datapath *dp, char *err, size_t err_len)
{
	const struct config *cfg = &dp->cfg;
	struct worker_params wp = {0};
	unsigned int lcore;

	wp.flow_capacity = cfg->flow_capacity;
	wp.dpi_states = cfg->dpi_states;
	memcpy(wp.timeout_ms, cfg->timeout_ms, sizeof(wp.timeout_ms));
	wp.budget_tcp = cfg->budget_tcp;
	wp.budget_udp = cfg->budget_udp;
	wp.budget_other = cfg->budget_other;
	wp.malformed = cfg->malformed;
	wp.policy = dp->policy;
	wp.on_record = record_to_ring;
	wp.on_packet = packet_out;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct dp_worker *dw = &dp->workers[dp->n_workers];
		char name[RTE_RING_NAMESIZE];

		/* One worker polls every port's queue; more arrive with flow-affine dispatch. */
		if (dp->n_workers == 1)
			break;
		dw->dp = dp;
		dw->id = (uint16_t)dp->n_workers;
		dw->lcore = lcore;
		wp.id = dw->id;
		wp.record_ctx = dw;
		wp.packet_ctx = dw;
		dw->w = dp->p.service_function ? NULL : worker_create(&wp);
		if (dw->w == NULL && !dp->p.service_function) {
			snprintf(err, err_len, "worker %u: %s", dw->id, strerror(errno));
			return -1;
		}
		snprintf(name, sizeof(name), "records%u", dw->id);
		dw->records = rte_ring_create(name, RECORD_RING_SIZE, (int)rte_lcore_to_socket_id(lcore),
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		dw->scratch = malloc(SCRATCH_SIZE);
		snprintf(name, sizeof(name), "cmds%u", dw->id);
		dw->cmds = rte_ring_create(name, CMD_RING_SIZE, (int)rte_lcore_to_socket_id(lcore),
					   RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (dw->records == NULL || dw->scratch == NULL || dw->cmds == NULL) {
			snprintf(err, err_len, "worker %u: out of memory for its record ring", dw->id);
			return -1;
		}
		dp->n_workers++;
	}
	if (dp->n_workers == 0) {
		snprintf(err, err_len,
			 "eal.lcores '%s' has no worker lcore: list the control lcore, then a worker "
			 "(e.g. \"0,1\")",
			 cfg->lcores);
		return -1;
	}
	return 0;
}

struct datapath *
datapath_create(const struct datapath_params *params, char *err, size_t err_len)
{
	struct datapath *dp;
	struct timeval tv;
	uint32_t i;

	dp = rte_zmalloc("datapath", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL) {
		snprintf(err, err_len, "out of DPDK memory");
		policy_destroy(params->policy);
		return NULL;
	}
	dp->p = *params;
	dp->policy = params->policy; /* ours from here */
	dp->cfg = *params->cfg;
	dp->cfg.n_eal_extra = 0; /* the copy does not own the strings */
	gettimeofday(&tv, NULL);
	dp->epoch_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec -
		       rte_get_timer_cycles() * 1000000ULL / rte_get_timer_hz();

	if (dp->cfg.n_ports == 0 || dp->cfg.n_ports > MAX_PORTS) {
		snprintf(err, err_len, "%s: 1 to %d ports are needed (found %u)", dp->cfg.path,
			 MAX_PORTS, dp->cfg.n_ports);
		goto fail;
	}
	dp->max_frame = dp->cfg.mtu + ETH_HDR_LEN + VLAN_TAG_LEN;
	dp->pkt_pool = rte_pktmbuf_pool_create("pkts", dp->cfg.mbufs, 256, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	dp->rec_pool = rte_mempool_create("records", RECORD_POOL_SIZE, sizeof(struct flow_record),
					  256, 0, NULL, NULL, NULL, NULL, (int)rte_socket_id(), 0);
	if (dp->pkt_pool == NULL || dp->rec_pool == NULL) {
		snprintf(err, err_len, "cannot create the packet pool (%u mbufs): %s; raise "
				       "eal.memory_mb or lower datapath.mbufs",
			 dp->cfg.mbufs, rte_strerror(rte_errno));
		goto fail;
	}
	for (i = 0; i < dp->cfg.n_ports; i++) {
		if (port_open(dp->cfg.ports[i].vdev, 1, dp->pkt_pool, &dp->ports[i], err, err_len) != 0)
			goto fail;
		dp->n_ports++;
	}
	dp->ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	if (dp->ts_offset >= 0) {
		int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);

		dp->ts_flag = bit >= 0 ? RTE_BIT64(bit) : 0;
	}
	dp->qsbr = rte_zmalloc("qsbr", rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE), RTE_CACHE_LINE_SIZE);
	if (dp->qsbr == NULL || rte_rcu_qsbr_init(dp->qsbr, RTE_MAX_LCORE) != 0) {
		snprintf(err, err_len, "cannot set up RCU for policy updates");
		goto fail;
	}
	if (make_workers(dp, err, err_len) != 0)
		goto fail;
	return dp;
fail:
	datapath_destroy(dp);
	return NULL;
}

int
datapath_start(struct datapath *dp)
{
	uint32_t i;

	for (i = 0; i < dp->n_workers; i++) {
		int rc = rte_eal_remote_launch(worker_main, &dp->workers[i], dp->workers[i].lcore);

		if (rc != 0)
			return rc;
	}
	dp->launched = true;
	return 0;
}

static void
drain_records(struct datapath *dp)
{
	uint32_t i;

	for (i = 0; i < dp->n_workers; i++) {
		void *objs[64];
		unsigned int n, k;

		while ((n = rte_ring_sc_dequeue_burst(dp->workers[i].records, objs, 64, NULL)) > 0) {
			for (k = 0; k < n; k++)
				if (dp->p.on_record != NULL)
					dp->p.on_record(dp->p.record_ctx, objs[k]);
			rte_mempool_put_bulk(dp->rec_pool, objs, n);
		}
	}
}

/* replay --loop: once every worker finished its pass, read the captures again from the start. */
static void
rewind_input(struct datapath *dp)
{
	uint32_t i;

	for (i = 0; i < dp->n_workers; i++)
		if (!dp->workers[i].pass_done)
			return;
	if (dp->pass_done_tsc == 0) {
		dp->pass_done_tsc = rte_get_timer_cycles();
		return;
	}
	if (rte_get_timer_cycles() - dp->pass_done_tsc < rte_get_timer_hz() * dp->p.loop_pause_ms / 1000)
		return;
	for (i = 0; i < dp->n_ports; i++) {
		rte_eth_dev_stop(dp->ports[i]); /* net_pcap reopens its file at start */
		rte_eth_dev_start(dp->ports[i]);
	}
	dp->pass_done_tsc = 0;
	for (i = 0; i < dp->n_workers; i++) {
		dp->workers[i].pass_rx = 0;
		__atomic_store_n(&dp->workers[i].pass_done, false, __ATOMIC_RELEASE);
	}
}

/*
 * Ask every port for its link state. For a virtio-user port in server mode this is also what
 * makes it accept the vhost-user client's new connection after the switch restarted (the PMD
 * reconnects from its link-state update), so the control thread does it periodically.
 */
static void
check_links(struct datapath *dp)
{
	uint16_t i;

	if (rte_get_timer_cycles() < dp->next_link_check_tsc)
		return;
	dp->next_link_check_tsc = rte_get_timer_cycles() + rte_get_timer_hz() * LINK_CHECK_MS / 1000;
	for (i = 0; i < dp->n_ports; i++) {
		struct rte_eth_link link;

		if (rte_eth_link_get_nowait(dp->ports[i], &link) != 0)
			continue;
		if (link.link_status != dp->link_up[i]) {
			dp->link_up[i] = link.link_status;
			fprintf(stderr, "flowtag: port %s link %s\n", dp->cfg.ports[i].name,
				link.link_status ? "up" : "down");
		}
	}
}

bool
datapath_poll(struct datapath *dp)
{
	bool all_finished = true;
	uint32_t i;

	if (dp->p.rx_target == 0)
		check_links(dp);
	if (dp->p.loop)
		rewind_input(dp);

	for (i = 0; i < dp->n_workers; i++)
		all_finished = all_finished && dp->workers[i].finished;
	/* Read `finished` before draining: a finished worker has enqueued its last record. */
	rte_smp_rmb();
	drain_records(dp);
	return all_finished;
}

void
datapath_stop(struct datapath *dp)
{
	dp->stop = true;
}

void
datapath_destroy(struct datapath *dp)
{
	uint32_t i;

	if (dp == NULL)
		return;
	if (dp->launched) {
		dp->stop = true;
		/* Keep draining while waiting: a lossless worker may be blocked on a full ring. */
		while (!datapath_poll(dp))
			rte_delay_us_sleep(100);
		rte_eal_mp_wait_lcore();
		drain_records(dp);
	}
	for (i = 0; i < dp->n_ports; i++)
		port_close(dp->ports[i]);
	for (i = 0; i < dp->n_workers; i++) {
		worker_destroy(dp->workers[i].w);
		rte_ring_free(dp->workers[i].records);
		rte_ring_free(dp->workers[i].cmds);
		free(dp->workers[i].scratch);
	}
	policy_destroy(dp->policy);
	rte_free(dp->qsbr);
	rte_mempool_free(dp->pkt_pool);
	rte_mempool_free(dp->rec_pool);
	rte_free(dp);
}

void
datapath_get_stats(const struct datapath *dp, struct datapath_stats *st)
{
	struct rte_eth_stats ps;
	uint32_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < dp->n_workers; i++) {
		const struct dp_worker *dw = &dp->workers[i];
		struct worker_stats ws;
		uint64_t *sum = (uint64_t *)&st->w;
		const uint64_t *add = (const uint64_t *)&ws;
		size_t k;

		st->rx_packets += dw->rx;
		st->tx_packets += dw->tx;
		st->dropped += dw->dropped;
		st->tx_failed += dw->tx_failed;
		st->oversize += dw->oversize;
		st->tag_failed += dw->tag_failed;
		st->records_dropped += dw->records_dropped;
		if (dw->w == NULL)
			continue;
		worker_get_stats(dw->w, &ws);
		/* Every 64-bit counter adds up; the two gauges at the end are summed separately. */
		for (k = 0; k < offsetof(struct worker_stats, flows_active) / sizeof(uint64_t); k++)
			sum[k] += add[k];
		st->w.flows_active += ws.flows_active;
		st->w.dpi_states_in_use += ws.dpi_states_in_use;
	}
	for (i = 0; i < dp->n_ports; i++) {
		if (rte_eth_stats_get(dp->ports[i], &ps) != 0)
			continue;
		st->port_ipackets += ps.ipackets;
		st->port_opackets += ps.opackets;
		st->port_ierrors += ps.ierrors;
		st->port_rx_nombuf += ps.rx_nombuf;
	}
}

const struct dpi *
datapath_names(const struct datapath *dp)
{
	return dp->workers[0].w != NULL ? worker_dpi(dp->workers[0].w) : NULL;
}

void
datapath_sf_counters(const struct datapath *dp, uint32_t port, struct sf_counters *c)
{
	*c = dp->workers[0].sf[port];
}

size_t
datapath_bytes_per_classified_flow(const struct datapath *dp)
{
	return dp->workers[0].w != NULL ? worker_bytes_per_classified_flow(dp->workers[0].w) : 0;
}

size_t
datapath_bytes_per_classifying_flow(const struct datapath *dp)
{
	return dp->workers[0].w != NULL ? worker_bytes_per_classifying_flow(dp->workers[0].w) : 0;
}

void
datapath_set_policy(struct datapath *dp, struct policy *p)
{
	struct policy *old = dp->policy;

	__atomic_store_n(&dp->policy, p, __ATOMIC_RELEASE);
	/* Every worker passes a quiescent point (at most one loop, or one idle sleep) ... */
	rte_rcu_qsbr_synchronize(dp->qsbr, RTE_QSBR_THRID_INVALID);
	/* ... after which none can still be reading the old one. */
	policy_destroy(old);
}

const struct policy *
datapath_policy(const struct datapath *dp)
{
	return dp->policy;
}

static int
run_job(struct datapath *dp, struct dp_command *c, uint32_t timeout_ms)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * timeout_ms / 1000;
	struct dp_worker *dw = &dp->workers[0];

	if (dw->w == NULL || dw->finished || rte_ring_sp_enqueue(dw->cmds, c) != 0)
		return -EAGAIN;
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		if (rte_get_timer_cycles() > deadline)
			return -ETIMEDOUT; /* `c` stays valid: the caller keeps it (static) */
		rte_delay_us_sleep(100);
	}
	return 0;
}

int
datapath_flows(struct datapath *dp, const struct datapath_flow_filter *f, uint32_t offset,
	       uint32_t max, struct flow_record *out, bool *more, uint32_t timeout_ms)
{
	/* Static: a request that times out may still be read by the worker later. */
	static struct dp_command c;
	int rc;

	if (c.kind == CMD_FLOWS && c.out != NULL && !c.done)
		return -EBUSY;
	memset(&c, 0, sizeof(c));
	c.kind = CMD_FLOWS;
	c.filter = f;
	c.offset = offset;
	c.max = max;
	c.out = out;
	rc = run_job(dp, &c, timeout_ms);
	if (rc != 0)
		return rc;
	*more = c.matched > offset + c.copied;
	return (int)c.copied;
}

int
datapath_flush_flows(struct datapath *dp, uint32_t timeout_ms)
{
	static struct dp_command c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.kind = CMD_FLUSH;
	rc = run_job(dp, &c, timeout_ms);
	return rc != 0 ? rc : (int)c.matched;
}

uint32_t
datapath_port_count(const struct datapath *dp)
{
	return dp->n_ports;
}

void
datapath_port_info(const struct datapath *dp, uint32_t i, struct datapath_port_info *info)
{
	struct rte_eth_stats ps;

	memset(info, 0, sizeof(*info));
	info->name = dp->cfg.ports[i].name;
	info->link_up = dp->p.rx_target > 0 || dp->link_up[i];
	if (rte_eth_stats_get(dp->ports[i], &ps) == 0) {
		info->rx_packets = ps.ipackets;
		info->tx_packets = ps.opackets;
		info->rx_errors = ps.ierrors;
		info->rx_missed = ps.imissed;
		info->rx_nombuf = ps.rx_nombuf;
		info->tx_errors = ps.oerrors;
	}
}

uint32_t
datapath_worker_count(const struct datapath *dp)
{
	return dp->n_workers;
}

void
datapath_worker_stats(const struct datapath *dp, uint32_t i, struct worker_stats *st)
{
	if (dp->workers[i].w != NULL)
		worker_get_stats(dp->workers[i].w, st);
	else
		memset(st, 0, sizeof(*st));
}

bool
datapath_ready(const struct datapath *dp)
{
	uint32_t i;

	if (!dp->launched || dp->stop)
		return false;
	for (i = 0; i < dp->n_workers; i++)
		if (dp->workers[i].finished)
			return false;
	for (i = 0; i < dp->n_ports; i++) {
		struct datapath_port_info info;

		datapath_port_info(dp, i, &info);
		if (!info.link_up)
			return false;
	}
	return true;
}
