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

#include "clock.h"
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
#define PORT_IN_MBUF UINT16_MAX /* classify_burst: each mbuf carries its port's index */
#define WORKER_RING_SIZE 4096 /* I/O <-> worker rings, each way */
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
	/* With an I/O lcore: packets come from it and go back to it through these rings. */
	struct rte_ring *in; /* I/O -> worker: the flows this worker owns */
	struct rte_ring *out; /* worker -> I/O: classified, m->port = the output port's index */
} __rte_cache_aligned;

/*
 * The I/O lcore, when there are several workers: it receives from every port, sends each
 * packet to the worker that owns its flow (a symmetric hash of the flow key, so both
 * directions meet), and transmits what the workers send back. Any port works this way, even
 * one with a single queue; each flow stays in order (one worker, FIFO rings).
 */
struct dp_io {
	unsigned int lcore;
	volatile bool input_done; /* no more packets will be dispatched */
	volatile bool finished;
	struct rte_mbuf *txb[MAX_PORTS][TX_BUF];
	uint16_t txn[MAX_PORTS];
	uint64_t rx;
	uint64_t tx;
	uint64_t tx_failed;
	uint64_t dispatch_dropped; /* a worker's ring was full (live traffic only) */
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
	/*
	 * Live timestamps: the wall clock at start_tsc plus the cycles since, converted without
	 * overflow (clock.h). clock_skew_cycles pretends the process has already run that long
	 * (FLOWTAG_TEST_CLOCK_START_S: the soak run starts past the point where the old
	 * `cycles * 10^6 / hz` wrapped).
	 */
	uint64_t epoch_us;
	uint64_t start_tsc;
	uint64_t clock_skew_cycles;
	uint32_t n_workers;
	uint64_t first_rx_tsc; /* the first packet in (set once, by the lcore that saw it) */
	uint64_t last_tx_tsc; /* the last packet out */
	bool dispatch; /* an I/O lcore feeds the workers (more than one worker) */
	struct dp_io io;
	uint16_t port_index[RTE_MAX_ETHPORTS]; /* DPDK port id -> config index */
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
	return dp->epoch_us + clock_cycles_to_us(rte_get_timer_cycles() - dp->start_tsc +
						 dp->clock_skew_cycles,
					 rte_get_timer_hz());
}

static void
tx_flush(struct dp_worker *dw, uint16_t out)
{
	struct datapath *dp = dw->dp;
	uint16_t n = dw->txn[out], sent;

	if (n == 0)
		return;
	if (dw->out != NULL) {
		unsigned int k;

		/* Back to the I/O lcore, which transmits; it never blocks on us for long. */
		for (k = 0; k < n; k++)
			dw->txb[out][k]->port = out;
		sent = (uint16_t)rte_ring_sp_enqueue_burst(dw->out, (void **)dw->txb[out], n, NULL);
		while (sent < n && (dp->p.rx_target > 0 || dp->stop))
			sent += (uint16_t)rte_ring_sp_enqueue_burst(dw->out, (void **)dw->txb[out] + sent,
								   n - sent, NULL);
		dw->tx += sent;
		if (sent < n) {
			dw->tx_failed += n - sent;
			rte_pktmbuf_free_bulk(dw->txb[out] + sent, n - sent);
		}
		dw->txn[out] = 0;
		return;
	}
	sent = rte_eth_tx_burst(dp->ports[out], 0, dw->txb[out], n);
	/* Replay must not lose packets to a busy port; live traffic must not stall. */
	while (dp->p.rx_target > 0 && sent < n && !dp->stop)
		sent += rte_eth_tx_burst(dp->ports[out], 0, dw->txb[out] + sent, n - sent);
	dp->last_tx_tsc = rte_get_timer_cycles();
	dw->tx += sent;
	if (sent < n) {
		dw->tx_failed += n - sent;
		rte_pktmbuf_free_bulk(dw->txb[out] + sent, n - sent);
	}
	dw->txn[out] = 0;
}

/*
 * Room for `need` bytes before the frame. The headroom is RTE_PKTMBUF_HEADROOM (128), fixed
 * by the receive path, and NSH MD type 2 with a long host name needs up to 186: the frame's
 * first segment moves back within its buffer when its tailroom allows (any standard frame),
 * else its first bytes go to a new head segment with room to spare (full jumbo segments).
 * Returns the mbuf to tag (a new head, or m), NULL when there is no room and no free mbuf.
 */
static struct rte_mbuf *
make_headroom(struct rte_mempool *pool, struct rte_mbuf *m, uint32_t need)
{
	uint16_t head = rte_pktmbuf_headroom(m);
	struct rte_mbuf *h;
	uint16_t take;

	if (head >= need)
		return m;
	if (rte_pktmbuf_tailroom(m) >= need - head) {
		uint16_t delta = (uint16_t)(need - head);
		uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);

		memmove(data + delta, data, m->data_len);
		m->data_off += delta;
		return m;
	}
	h = rte_pktmbuf_alloc(pool);
	if (h == NULL)
		return NULL;
	/* Enough of the frame for any encoder: the L2 header with two VLAN tags, an IP header. */
	take = (uint16_t)RTE_MIN(m->data_len, 128u);
	h->data_off = (uint16_t)(h->buf_len - take);
	if (h->data_off < need) {
		rte_pktmbuf_free(h);
		return NULL;
	}
	memcpy(rte_pktmbuf_mtod(h, uint8_t *), rte_pktmbuf_mtod(m, uint8_t *), take);
	h->data_len = take;
	rte_pktmbuf_adj(m, take);
	h->next = m;
	h->nb_segs = (uint16_t)(m->nb_segs + 1);
	h->pkt_len = m->pkt_len + take;
	h->port = m->port;
	return h;
}

/*
 * Write the tag into the mbuf (growing it into its headroom, made if need be). Returns the
 * mbuf to send (it may have a new head segment), or NULL when the packet cannot carry its
 * chain's tag and datapath.oversize says drop: such a packet never leaves as if the policy
 * had passed it, unless the config asks for that.
 */
static struct rte_mbuf *
tag_mbuf(struct dp_worker *dw, struct rte_mbuf *m, const struct worker_out *o)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		uint8_t *start = rte_pktmbuf_mtod(m, uint8_t *), *frame = start;
		uint32_t len = m->data_len;
		/* The first segment carries the headers; later ones only count against the MTU. */
		uint32_t rest = m->pkt_len - m->data_len;
		uint32_t max = dw->dp->max_frame > rest ? dw->dp->max_frame - rest : 0;
		int rc = tag_apply(o->tag, &o->meta, &frame, &len, rte_pktmbuf_headroom(m), max);
		struct rte_mbuf *h;

		if (rc == 0) {
			if (frame < start)
				rte_pktmbuf_prepend(m, (uint16_t)(start - frame));
			return m;
		}
		if (rc == -ENOSPC && attempt == 0 &&
		    (h = make_headroom(dw->dp->pkt_pool, m, tag_max_growth(o->tag))) != NULL) {
			m = h;
			continue;
		}
		if (rc == -EMSGSIZE)
			dw->oversize++;
		else
			dw->tag_failed++; /* no room and no mbuf for it, or a frame this tag cannot mark */
		break;
	}
	if (dw->dp->cfg.oversize_drop) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	return m; /* datapath.oversize: untagged */
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
	if (o->action == WORKER_ACTION_TAG && (m = tag_mbuf(dw, m, o)) == NULL) {
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
		uint16_t pidx = port_idx == PORT_IN_MBUF ? m->port : port_idx;
		uint32_t len;

		if (likely(rte_pktmbuf_is_contiguous(m))) {
			describe(dp, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, m, pidx, t_now,
				 &pkts[i]);
			continue;
		}
		if (i > start)
			worker_process(dw->w, pkts + start, i - start);
		len = RTE_MIN(m->pkt_len, (uint32_t)SCRATCH_SIZE);
		describe(dp, rte_pktmbuf_read(m, 0, len, dw->scratch), len, m, pidx, t_now, &pkts[i]);
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
	for (;;) {
		uint16_t pi, out, got = 0;

		/* Alone, a worker stops with the data path; fed by the I/O lcore, once it is dry. */
		if (dw->in == NULL ? dp->stop
				   : __atomic_load_n(&dp->io.input_done, __ATOMIC_ACQUIRE) &&
					     rte_ring_empty(dw->in))
			break;
		if (dw->w != NULL) {
			rte_rcu_qsbr_quiescent(dp->qsbr, dw->id); /* no policy reference held here */
			follow_policy(dw);
			if (dw->job != NULL || rte_ring_count(dw->cmds) > 0)
				job_step(dw);
		}
		if (dw->in != NULL) {
			uint16_t n = (uint16_t)rte_ring_sc_dequeue_burst(dw->in, (void **)rx, burst, NULL);

			if (n > 0) {
				dw->rx += n;
				/* The I/O lcore put the input port's index in m->port. */
				classify_burst(dp, dw, rx, n, PORT_IN_MBUF, replay ? 0 : now_us(dp));
				for (out = 0; out < dp->n_ports; out++)
					tx_flush(dw, out);
				idle_polls = 0;
				sleep_us = 1;
				continue;
			}
			if (!replay) {
				worker_tick(dw->w, now_us(dp));
				for (out = 0; out < dp->n_ports; out++)
					tx_flush(dw, out);
			}
			if (++idle_polls > IDLE_POLLS_BEFORE_SLEEP && dp->cfg.idle_sleep_max_us > 0) {
				rte_delay_us_sleep(sleep_us);
				sleep_us = RTE_MIN(sleep_us * 2, dp->cfg.idle_sleep_max_us);
			}
			continue;
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
			uint64_t allowed = clock_events_in(rte_get_timer_cycles() - paced_tsc, hz, pps);

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
			if (dp->first_rx_tsc == 0)
				dp->first_rx_tsc = rte_get_timer_cycles();
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

/*
 * The worker that owns the packet's flow: a symmetric hash of the address pair (and VLAN),
 * so both directions meet, and so do all flows between two hosts: nDPI remembers things
 * across flows (its STUN cache, host-based guesses), per detection module, i.e. per worker.
 */
static inline uint32_t
owner_of(const struct datapath *dp, struct rte_mbuf *m)
{
	struct parse_info pi;
	struct flow_key key;

	if (parse_ethernet(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &pi) != PARSE_OK)
		return 0; /* not a flow packet: passed or dropped alike by any worker */
	flow_key_from_packet(&pi, &key);
	key.lo_port = key.hi_port = 0;
	key.l4_proto = 0;
	return flow_key_hash(&key) % dp->n_workers;
}

static void
io_tx_flush(struct datapath *dp, uint16_t out)
{
	struct dp_io *io = &dp->io;
	uint16_t n = io->txn[out], sent;

	if (n == 0)
		return;
	sent = rte_eth_tx_burst(dp->ports[out], 0, io->txb[out], n);
	while (dp->p.rx_target > 0 && sent < n)
		sent += rte_eth_tx_burst(dp->ports[out], 0, io->txb[out] + sent, n - sent);
	dp->last_tx_tsc = rte_get_timer_cycles();
	io->tx += sent;
	if (sent < n) {
		io->tx_failed += n - sent;
		rte_pktmbuf_free_bulk(io->txb[out] + sent, n - sent);
	}
	io->txn[out] = 0;
}

/* Transmit what the workers classified. Returns how many packets it took. */
static uint32_t
io_collect(struct datapath *dp)
{
	struct dp_io *io = &dp->io;
	struct rte_mbuf *m[MAX_BURST];
	uint32_t i, total = 0;
	uint16_t out;

	for (i = 0; i < dp->n_workers; i++) {
		unsigned int n, k;

		while ((n = rte_ring_sc_dequeue_burst(dp->workers[i].out, (void **)m, MAX_BURST,
						      NULL)) > 0) {
			for (k = 0; k < n; k++) {
				out = m[k]->port;
				io->txb[out][io->txn[out]++] = m[k];
				if (io->txn[out] == TX_BUF)
					io_tx_flush(dp, out);
			}
			total += n;
		}
	}
	for (out = 0; out < dp->n_ports; out++)
		io_tx_flush(dp, out);
	return total;
}

/* Hand a burst to a worker; replay waits for room (draining the way back meanwhile). */
static void
io_dispatch(struct datapath *dp, uint32_t w, struct rte_mbuf **m, uint16_t n)
{
	struct dp_io *io = &dp->io;
	unsigned int sent = rte_ring_sp_enqueue_burst(dp->workers[w].in, (void **)m, n, NULL);

	while (sent < n && dp->p.rx_target > 0) {
		io_collect(dp);
		sent += rte_ring_sp_enqueue_burst(dp->workers[w].in, (void **)m + sent, n - sent, NULL);
	}
	if (sent < n) {
		io->dispatch_dropped += n - sent;
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
}

static int
io_main(void *arg)
{
	struct datapath *dp = arg;
	struct dp_io *io = &dp->io;
	const uint16_t burst = (uint16_t)RTE_MIN(dp->cfg.burst_size, (uint32_t)MAX_BURST);
	const uint64_t hz = rte_get_timer_hz();
	const bool replay = dp->p.rx_target > 0;
	static struct rte_mbuf *per_worker[RTE_MAX_LCORE][MAX_BURST];
	uint16_t per_worker_n[RTE_MAX_LCORE];
	struct rte_mbuf *rx[MAX_BURST];
	uint32_t idle_polls = 0, sleep_us = 1, i;
	uint64_t last_rx_tsc = rte_get_timer_cycles();

	for (;;) {
		uint32_t moved = 0;
		uint16_t pi, k;

		if (!io->input_done &&
		    (dp->stop || (replay && io->rx >= dp->p.rx_target) ||
		     (replay && rte_get_timer_cycles() - last_rx_tsc > hz * REPLAY_STALL_US / 1000000)))
			__atomic_store_n(&io->input_done, true, __ATOMIC_RELEASE);
		if (!io->input_done) {
			for (pi = 0; pi < dp->n_ports; pi++) {
				uint16_t n = rte_eth_rx_burst(dp->ports[pi], 0, rx, burst);

				if (n == 0)
					continue;
				if (dp->first_rx_tsc == 0)
					dp->first_rx_tsc = rte_get_timer_cycles();
				io->rx += n;
				moved += n;
				memset(per_worker_n, 0, sizeof(per_worker_n[0]) * dp->n_workers);
				for (k = 0; k < n; k++) {
					uint32_t w = owner_of(dp, rx[k]);

					rx[k]->port = pi; /* the worker needs the input port's index */
					per_worker[w][per_worker_n[w]++] = rx[k];
				}
				for (i = 0; i < dp->n_workers; i++)
					if (per_worker_n[i] > 0)
						io_dispatch(dp, i, per_worker[i], per_worker_n[i]);
			}
		}
		moved += io_collect(dp);
		if (io->input_done) {
			bool all = true;

			for (i = 0; i < dp->n_workers; i++)
				all = all && dp->workers[i].finished;
			if (all) {
				io_collect(dp); /* what the last flushes released */
				break;
			}
		}
		if (moved > 0) {
			idle_polls = 0;
			sleep_us = 1;
			last_rx_tsc = rte_get_timer_cycles();
			continue;
		}
		if (++idle_polls > IDLE_POLLS_BEFORE_SLEEP && dp->cfg.idle_sleep_max_us > 0) {
			rte_delay_us_sleep(sleep_us);
			sleep_us = RTE_MIN(sleep_us * 2, dp->cfg.idle_sleep_max_us);
		}
	}
	io->finished = true;
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
	wp.ipv6_capacity = cfg->ipv6_capacity;
	wp.meta_capacity = cfg->meta_capacity;
	memcpy(wp.timeout_ms, cfg->timeout_ms, sizeof(wp.timeout_ms));
	wp.budget_tcp = cfg->budget_tcp;
	wp.budget_udp = cfg->budget_udp;
	wp.budget_other = cfg->budget_other;
	wp.malformed = cfg->malformed;
	wp.policy = dp->policy;
	wp.on_record = record_to_ring;
	wp.on_packet = packet_out;

	/*
	 * One lcore besides the control one: a worker that does rx, classification and tx itself.
	 * More: the first is the I/O lcore, the others are workers fed by it (flow affinity).
	 */
	dp->dispatch = rte_lcore_count() > 2 && !dp->p.service_function;
	dp->io.lcore = RTE_MAX_LCORE; /* not chosen yet */
	if (dp->dispatch && dp->p.loop) {
		snprintf(err, err_len, "replay --loop runs on one worker lcore (eal.lcores with two "
				       "entries)");
		return -1;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct dp_worker *dw = &dp->workers[dp->n_workers];
		char name[RTE_RING_NAMESIZE];

		if (dp->dispatch && dp->io.lcore == RTE_MAX_LCORE) {
			dp->io.lcore = lcore;
			continue;
		}
		/* A service function runs on one lcore. */
		if (dp->p.service_function && dp->n_workers == 1)
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
		if (dp->dispatch) {
			snprintf(name, sizeof(name), "win%u", dw->id);
			dw->in = rte_ring_create(name, WORKER_RING_SIZE, (int)rte_lcore_to_socket_id(lcore),
						 RING_F_SP_ENQ | RING_F_SC_DEQ);
			snprintf(name, sizeof(name), "wout%u", dw->id);
			dw->out = rte_ring_create(name, WORKER_RING_SIZE, (int)rte_lcore_to_socket_id(lcore),
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (dw->in == NULL || dw->out == NULL) {
				snprintf(err, err_len, "worker %u: out of memory for its rings", dw->id);
				return -1;
			}
		}
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
	if (getenv("FLOWTAG_TEST_CLOCK_START_S") != NULL)
		dp->clock_skew_cycles = strtoull(getenv("FLOWTAG_TEST_CLOCK_START_S"), NULL, 10) *
					rte_get_timer_hz();
	gettimeofday(&tv, NULL);
	dp->start_tsc = rte_get_timer_cycles();
	dp->epoch_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec -
		       clock_cycles_to_us(dp->clock_skew_cycles, rte_get_timer_hz());

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
	if (dp->dispatch && rte_eal_remote_launch(io_main, dp, dp->io.lcore) != 0)
		return -1;
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
	if (rte_get_timer_cycles() - dp->pass_done_tsc < clock_us_to_cycles((uint64_t)dp->p.loop_pause_ms * 1000, rte_get_timer_hz()))
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
	if (dp->dispatch)
		all_finished = all_finished && dp->io.finished;
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
		rte_ring_free(dp->workers[i].in);
		rte_ring_free(dp->workers[i].out);
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
		worker_stats_add(&st->w, &ws);
	}
	if (dp->last_tx_tsc > dp->first_rx_tsc && dp->first_rx_tsc != 0)
		st->busy_s = (double)(dp->last_tx_tsc - dp->first_rx_tsc) / (double)rte_get_timer_hz();
	if (dp->dispatch) {
		/* The workers' tx went to the I/O lcore; what counts is what it received and sent. */
		st->rx_packets = dp->io.rx;
		st->tx_packets = dp->io.tx;
		st->tx_failed += dp->io.tx_failed + dp->io.dispatch_dropped;
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

size_t
datapath_shared_pool_bytes(const struct datapath *dp)
{
	return dp->workers[0].w != NULL ? worker_shared_pool_bytes(dp->workers[0].w) : 0;
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
run_job(struct datapath *dp, uint32_t w, struct dp_command *c, uint32_t timeout_ms)
{
	uint64_t deadline = rte_get_timer_cycles() + rte_get_timer_hz() * timeout_ms / 1000;
	struct dp_worker *dw = &dp->workers[w];

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
	uint32_t w, copied = 0;
	int rc;

	if (c.kind == CMD_FLOWS && c.out != NULL && !c.done)
		return -EBUSY;
	*more = false;
	/* Worker after worker: the offset runs over the matches of all of them, in order. */
	for (w = 0; w < dp->n_workers; w++) {
		memset(&c, 0, sizeof(c));
		c.kind = CMD_FLOWS;
		c.filter = f;
		c.offset = offset;
		c.max = max - copied;
		c.out = out + copied;
		rc = run_job(dp, w, &c, timeout_ms);
		if (rc != 0)
			return rc;
		copied += c.copied;
		if (c.matched > offset + c.copied)
			*more = true;
		offset = c.matched >= offset ? 0 : offset - c.matched;
	}
	return (int)copied;
}

int
datapath_flush_flows(struct datapath *dp, uint32_t timeout_ms)
{
	static struct dp_command c;
	uint32_t w;
	int rc, total = 0;

	for (w = 0; w < dp->n_workers; w++) {
		memset(&c, 0, sizeof(c));
		c.kind = CMD_FLUSH;
		rc = run_job(dp, w, &c, timeout_ms);
		if (rc != 0)
			return rc;
		total += (int)c.matched;
	}
	return total;
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
