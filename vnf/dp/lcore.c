/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The lcore loops, one per role, chosen once at launch (as DPDK's l3fwd does): nothing in a
 * loop tests what kind of loop it is. What they share is written once here: tx queues, the
 * idle back-off, the RCU reader side of the policy, requests from the control thread.
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dp_internal.h"
#include "parse.h"
#include "tag.h"

#define SCRATCH_PORT_IN_MBUF UINT16_MAX /* classify_burst: each mbuf carries its port's index */

/* ---- records ---- */

void
dp_record_to_ring(void *ctx, const struct flow_record *rec)
{
	struct dp_lcore *lc = ctx;
	struct datapath *dp = lc->dp;
	/* A capture, and the last flush at shutdown: every record matters more than latency. */
	bool wait = dp->lossless || dp->stop;
	uint64_t give_up = 0;
	void *obj;

	for (;;) {
		if (rte_mempool_get(dp->rec_pool, &obj) == 0) {
			memcpy(obj, rec, sizeof(*rec));
			if (rte_ring_sp_enqueue(lc->records, obj) == 0)
				return;
			rte_mempool_put(dp->rec_pool, obj);
		}
		if (!wait)
			break;
		/* Wait for the control thread to drain, but never forever: it may be gone. */
		if (give_up == 0)
			give_up = rte_get_timer_cycles() +
				  clock_us_to_cycles((uint64_t)DP_RECORD_WAIT_MS * 1000, dp->hz);
		else if (rte_get_timer_cycles() > give_up)
			break;
		rte_pause();
	}
	lc->c.records_dropped++;
}

/* ---- offload ---- */

bool
dp_offload_to_ring(void *ctx, const struct offload_ask *ask)
{
	struct dp_lcore *lc = ctx;
	struct offload_ask copy = *ask; /* DPDK's enqueue takes a non-const pointer */

	return rte_ring_sp_enqueue_elem(lc->asks, &copy, sizeof(copy)) == 0;
}

/* What the control thread says about offloaded flows (a bounded batch per call). */
static inline void
take_notices(struct dp_lcore *lc)
{
	struct offload_notice n[32];
	unsigned int got, i;

	got = rte_ring_sc_dequeue_burst_elem(lc->notices, n, sizeof(n[0]), 32, NULL);
	for (i = 0; i < got; i++)
		worker_offload_notice(lc->w, &n[i]);
}

/* ---- tx ---- */

static void
tx_flush(struct dp_lcore *lc, uint16_t out)
{
	struct datapath *dp = lc->dp;
	struct rte_mbuf **m = lc->txq.m[out];
	uint16_t n = lc->txq.n[out], sent, k;

	if (n == 0)
		return;
	lc->txq.n[out] = 0;
	if (lc->out != NULL) {
		/* A fed worker: back to the I/O lcore, which transmits and never blocks on us. */
		for (k = 0; k < n; k++)
			m[k]->port = out;
		sent = (uint16_t)rte_ring_sp_enqueue_burst(lc->out, (void **)m, n, NULL);
		while (sent < n && (dp->lossless || dp->stop))
			sent += (uint16_t)rte_ring_sp_enqueue_burst(lc->out, (void **)m + sent,
								   n - sent, NULL);
	} else {
		sent = rte_eth_tx_burst(dp->ports[out], 0, m, n);
		/* A capture must not lose packets to a busy port; live traffic must not stall. */
		while (dp->lossless && sent < n && !dp->stop)
			sent += rte_eth_tx_burst(dp->ports[out], 0, m + sent, n - sent);
		dp->last_tx_tsc = rte_get_timer_cycles();
	}
	lc->c.tx += sent;
	if (sent < n) {
		lc->c.tx_failed += n - sent;
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
}

static void
tx_flush_all(struct dp_lcore *lc)
{
	uint16_t out;

	for (out = 0; out < lc->dp->n_ports; out++)
		tx_flush(lc, out);
}

static inline void
tx_queue(struct dp_lcore *lc, uint16_t out, struct rte_mbuf *m)
{
	lc->txq.m[out][lc->txq.n[out]++] = m;
	if (lc->txq.n[out] == DP_TX_BUF)
		tx_flush(lc, out);
}

/* ---- tagging ---- */

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
tag_mbuf(struct dp_lcore *lc, struct rte_mbuf *m, const struct worker_out *o)
{
	struct datapath *dp = lc->dp;

	for (int attempt = 0; attempt < 2; attempt++) {
		uint8_t *start = rte_pktmbuf_mtod(m, uint8_t *), *frame = start;
		uint32_t len = m->data_len;
		/* The first segment carries the headers; later ones only count against the MTU. */
		uint32_t rest = m->pkt_len - m->data_len;
		uint32_t max = dp->max_frame > rest ? dp->max_frame - rest : 0;
		int rc = tag_apply(o->tag, &o->meta, &frame, &len, rte_pktmbuf_headroom(m), max);
		struct rte_mbuf *h;

		if (rc == 0) {
			if (frame < start)
				rte_pktmbuf_prepend(m, (uint16_t)(start - frame));
			return m;
		}
		if (rc == -ENOSPC && attempt == 0 &&
		    (h = make_headroom(dp->pkt_pool, m, tag_max_growth(o->tag))) != NULL) {
			m = h;
			continue;
		}
		if (rc == -EMSGSIZE)
			lc->c.oversize++;
		else
			lc->c.tag_failed++; /* no room and no mbuf for it, or a frame this tag cannot mark */
		break;
	}
	if (dp->cfg.oversize == CONFIG_OVERSIZE_DROP) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	return m; /* datapath.oversize: untagged */
}

/* The worker's verdict on one packet: tag, decapsulate, drop, and queue for tx. */
void
dp_packet_out(void *ctx, const struct worker_out *o)
{
	struct dp_lcore *lc = ctx;
	struct rte_mbuf *m = o->opaque;

	if (o->action == WORKER_ACTION_DROP) {
		rte_pktmbuf_free(m);
		lc->c.dropped++;
		return;
	}
	if (o->action == WORKER_ACTION_TAG && (m = tag_mbuf(lc, m, o)) == NULL) {
		lc->c.dropped++;
		return;
	}
	if (o->action == WORKER_ACTION_DECAP) {
		uint8_t *start = rte_pktmbuf_mtod(m, uint8_t *), *frame = start;
		uint32_t len = m->data_len;

		if (tag_nsh_decap(&frame, &len) == 0)
			rte_pktmbuf_adj(m, (uint16_t)(frame - start));
	}
	/* One-arm: back out of the port it came in on; inline: out of the other one. */
	tx_queue(lc, lc->dp->cfg.mode == CONFIG_MODE_INLINE ? (uint16_t)(o->port ^ 1) : o->port, m);
}

/* ---- classifying ---- */

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
	/*
	 * A capture's packets carry their own time, which drives the flows' timeouts. Live
	 * traffic runs on the wall clock only: a port's timestamps (a pcap file read live, a
	 * NIC's own clock) need not be on the clock idle expiry ticks with.
	 */
	if (dp->lossless && dp->ts_offset >= 0 && (m->ol_flags & dp->ts_flag))
		pkt->time_us = *RTE_MBUF_DYNFIELD(m, dp->ts_offset, rte_mbuf_timestamp_t *);
	else
		pkt->time_us = t_now;
}

/*
 * Classify a burst. Multi-segment frames (jumbo frames from captures, rare) are copied into
 * the one scratch buffer, so each is classified on its own, after the packets before it.
 */
static void
classify_burst(struct dp_lcore *lc, struct rte_mbuf **rx, uint16_t n, uint16_t port_idx)
{
	const struct datapath *dp = lc->dp;
	struct worker_pkt pkts[DP_MAX_BURST];
	uint64_t t_now = dp->lossless ? 0 : dp_now_us(dp);
	uint16_t i, start = 0;

	worker_set_record_room(lc->w, rte_ring_free_count(lc->records));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rx[i];
		uint16_t pidx = port_idx == SCRATCH_PORT_IN_MBUF ? m->port : port_idx;
		uint32_t len;

		if (likely(rte_pktmbuf_is_contiguous(m))) {
			describe(dp, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, m, pidx, t_now,
				 &pkts[i]);
			continue;
		}
		if (i > start)
			worker_process(lc->w, pkts + start, i - start);
		len = RTE_MIN(m->pkt_len, (uint32_t)UINT16_MAX);
		describe(dp, rte_pktmbuf_read(m, 0, len, lc->scratch), len, m, pidx, t_now, &pkts[i]);
		worker_process(lc->w, &pkts[i], 1);
		start = i + 1;
	}
	if (n > start)
		worker_process(lc->w, pkts + start, n - start);
}

/* ---- what every classifying loop does between bursts ---- */

/* Move to the policy the control thread published, if it changed (RCU reader side). */
static inline void
follow_policy(struct dp_lcore *lc)
{
	const struct policy *p = __atomic_load_n(&lc->dp->policy, __ATOMIC_ACQUIRE);

	if (p != lc->policy_seen) {
		worker_set_policy(lc->w, p);
		lc->policy_seen = p;
	}
}

/*
 * Between bursts: no policy reference is held here (a quiescent point for RCU), a new policy
 * is picked up, and a slice of the control thread's request is done.
 */
static inline void
between_bursts(struct dp_lcore *lc)
{
	rte_rcu_qsbr_quiescent(lc->dp->qsbr, lc->id);
	follow_policy(lc);
	if (lc->notices != NULL && !rte_ring_empty(lc->notices))
		take_notices(lc);
	if (lc->req != NULL || !rte_ring_empty(lc->requests))
		dp_request_step(lc);
}

/* Idle: let time pass for the flow table (live traffic only) and send what that released. */
static inline void
tick(struct dp_lcore *lc)
{
	if (lc->dp->lossless)
		return; /* a capture's flow time comes from its packets */
	worker_set_record_room(lc->w, rte_ring_free_count(lc->records));
	worker_tick(lc->w, dp_now_us(lc->dp));
	tx_flush_all(lc);
}

static void
classifier_begin(struct dp_lcore *lc)
{
	rte_rcu_qsbr_thread_register(lc->dp->qsbr, lc->id);
	rte_rcu_qsbr_thread_online(lc->dp->qsbr, lc->id);
	lc->policy_seen = lc->dp->policy;
}

/* The end of a classifier: every flow ends (records written), requests answered, done. */
static int
classifier_end(struct dp_lcore *lc)
{
	worker_flush(lc->w);
	tx_flush_all(lc);
	dp_request_abandon_all(lc);
	rte_rcu_qsbr_thread_offline(lc->dp->qsbr, lc->id);
	rte_rcu_qsbr_thread_unregister(lc->dp->qsbr, lc->id);
	__atomic_store_n(&lc->finished, true, __ATOMIC_RELEASE);
	return 0;
}

/* The rx lcore saw its first packet (replay's timing figure). */
static inline void
first_rx(struct datapath *dp)
{
	if (unlikely(dp->first_rx_tsc == 0))
		dp->first_rx_tsc = rte_get_timer_cycles();
}

/* ---- the loops ---- */

/* A lone worker: rx from the input, classify, tx, until the input is drained or stopped. */
static int
loop_worker(struct dp_lcore *lc)
{
	struct datapath *dp = lc->dp;
	struct dp_input *in = dp->input;
	const uint16_t burst = dp_burst_size(dp);
	struct rte_mbuf *rx[DP_MAX_BURST];
	struct dp_idle idle;
	bool pass_flushed = false;

	dp_idle_init(&idle);
	classifier_begin(lc);
	for (;;) {
		enum dp_input_state st;
		uint16_t pi, got = 0;

		between_bursts(lc);
		if (dp->stop || (st = in->cls->state(in)) == DP_INPUT_DRAINED)
			break;
		if (st == DP_INPUT_PASS_END) {
			/* replay --loop: the pass's flows end; the control thread rewinds. */
			if (!pass_flushed) {
				worker_flush(lc->w);
				tx_flush_all(lc);
				in->cls->pass_flushed(in);
				pass_flushed = true;
			}
			rte_delay_us_sleep(1000);
			continue;
		}
		pass_flushed = false;
		for (pi = 0; pi < dp->n_ports; pi++) {
			uint16_t n = in->cls->rx(in, dp->ports[pi], rx, burst);

			if (n == 0)
				continue;
			first_rx(dp);
			got += n;
			lc->c.rx += n;
			classify_burst(lc, rx, n, pi);
		}
		tx_flush_all(lc);
		if (got > 0) {
			dp_idle_after(&idle, got, burst, dp->cfg.idle_sleep_max_us);
			continue;
		}
		tick(lc);
		dp_idle_after(&idle, 0, burst, dp->cfg.idle_sleep_max_us);
	}
	return classifier_end(lc);
}

/* A worker fed by the I/O lcore: its flows come over a ring and go back over another. */
static int
loop_fed_worker(struct dp_lcore *lc)
{
	struct datapath *dp = lc->dp;
	const uint16_t burst = dp_burst_size(dp);
	struct rte_mbuf *rx[DP_MAX_BURST];
	struct dp_idle idle;

	dp_idle_init(&idle);
	classifier_begin(lc);
	for (;;) {
		uint16_t n;

		between_bursts(lc);
		/* Done once the I/O lcore will send nothing more and the ring is dry. */
		if (__atomic_load_n(&dp->io_input_done, __ATOMIC_ACQUIRE) && rte_ring_empty(lc->in))
			break;
		n = (uint16_t)rte_ring_sc_dequeue_burst(lc->in, (void **)rx, burst, NULL);
		if (n > 0) {
			lc->c.rx += n;
			classify_burst(lc, rx, n, SCRATCH_PORT_IN_MBUF);
			tx_flush_all(lc);
			dp_idle_after(&idle, n, burst, dp->cfg.idle_sleep_max_us);
			continue;
		}
		tick(lc);
		dp_idle_after(&idle, 0, burst, dp->cfg.idle_sleep_max_us);
	}
	return classifier_end(lc);
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

	enum parse_result r = parse_frame(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len,
					  (dp->lossless ? PARSE_F_CAPTURE : 0) | dp->cfg.tunnels, &pi);

	/* A later IP fragment has no ports, but the address pair is all the owner needs. */
	if (r != PARSE_OK && r != PARSE_FRAGMENT)
		return 0; /* not a flow packet: passed or dropped alike by any worker */
	flow_key_from_packet(&pi, &key);
	key.lo_port = key.hi_port = 0;
	key.l4_proto = 0;
	return flow_key_dispatch_hash(&key) % dp->n_workers;
}

/* The I/O lcore: transmit what the workers classified. Returns how many packets it took. */
static uint32_t
io_collect(struct dp_lcore *io)
{
	struct datapath *dp = io->dp;
	struct rte_mbuf *m[DP_MAX_BURST];
	uint32_t i, total = 0;

	for (i = 0; i < dp->n_workers; i++) {
		unsigned int n, k;

		while ((n = rte_ring_sc_dequeue_burst(dp->workers[i].out, (void **)m, DP_MAX_BURST,
						      NULL)) > 0) {
			for (k = 0; k < n; k++)
				tx_queue(io, m[k]->port, m[k]);
			total += n;
		}
	}
	tx_flush_all(io);
	return total;
}

/* Hand a burst to a worker; a capture waits for room (draining the way back meanwhile). */
static void
io_dispatch(struct dp_lcore *io, uint32_t w, struct rte_mbuf **m, uint16_t n)
{
	struct datapath *dp = io->dp;
	unsigned int sent = rte_ring_sp_enqueue_burst(dp->workers[w].in, (void **)m, n, NULL);

	while (sent < n && dp->lossless && !dp->stop) {
		io_collect(io);
		sent += rte_ring_sp_enqueue_burst(dp->workers[w].in, (void **)m + sent, n - sent, NULL);
	}
	if (sent < n) {
		io->c.dispatch_dropped += n - sent;
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
}

/* The I/O lcore: rx from the input, each packet to the worker owning its flow; tx. */
static int
loop_io(struct dp_lcore *io)
{
	struct datapath *dp = io->dp;
	struct dp_input *in = dp->input;
	const uint16_t burst = dp_burst_size(dp);
	static struct rte_mbuf *per_worker[RTE_MAX_LCORE][DP_MAX_BURST];
	uint16_t per_worker_n[RTE_MAX_LCORE];
	struct rte_mbuf *rx[DP_MAX_BURST];
	struct dp_idle idle;
	uint32_t i;

	dp_idle_init(&idle);
	for (;;) {
		uint32_t moved = 0;
		uint16_t pi, k;

		if (!dp->io_input_done && (dp->stop || in->cls->state(in) != DP_INPUT_RUNNING))
			__atomic_store_n(&dp->io_input_done, true, __ATOMIC_RELEASE);
		for (pi = 0; !dp->io_input_done && pi < dp->n_ports; pi++) {
			uint16_t n = in->cls->rx(in, dp->ports[pi], rx, burst);

			if (n == 0)
				continue;
			first_rx(dp);
			io->c.rx += n;
			moved += n;
			memset(per_worker_n, 0, sizeof(per_worker_n[0]) * dp->n_workers);
			for (k = 0; k < n; k++) {
				uint32_t w = owner_of(dp, rx[k]);

				rx[k]->port = pi; /* the worker needs the input port's index */
				per_worker[w][per_worker_n[w]++] = rx[k];
			}
			for (i = 0; i < dp->n_workers; i++)
				if (per_worker_n[i] > 0)
					io_dispatch(io, i, per_worker[i], per_worker_n[i]);
		}
		moved += io_collect(io);
		if (dp->io_input_done) {
			bool all = true;

			for (i = 0; i < dp->n_workers; i++)
				all = all && __atomic_load_n(&dp->workers[i].finished, __ATOMIC_ACQUIRE);
			if (all) {
				io_collect(io); /* what the last flushes released */
				break;
			}
		}
		dp_idle_after(&idle, moved, burst, dp->cfg.idle_sleep_max_us);
	}
	__atomic_store_n(&io->finished, true, __ATOMIC_RELEASE);
	return 0;
}

/* flowtag sf: each packet goes back out of the port it came in on, its path index moved on. */
static int
loop_sf(struct dp_lcore *lc)
{
	struct datapath *dp = lc->dp;
	const uint16_t burst = dp_burst_size(dp);
	struct rte_mbuf *rx[DP_MAX_BURST];
	struct dp_idle idle;

	dp_idle_init(&idle);
	while (!dp->stop) {
		uint16_t pi, i, got = 0;

		for (pi = 0; pi < dp->n_ports; pi++) {
			uint16_t n = rte_eth_rx_burst(dp->ports[pi], 0, rx, burst);

			got += n;
			lc->c.rx += n;
			for (i = 0; i < n; i++) {
				if (!sf_handle(rte_pktmbuf_mtod(rx[i], uint8_t *), rx[i]->data_len,
					       &lc->sf[pi])) {
					rte_pktmbuf_free(rx[i]);
					lc->c.dropped++;
					continue;
				}
				tx_queue(lc, pi, rx[i]);
			}
		}
		tx_flush_all(lc);
		dp_idle_after(&idle, got, burst, dp->cfg.idle_sleep_max_us);
	}
	tx_flush_all(lc);
	__atomic_store_n(&lc->finished, true, __ATOMIC_RELEASE);
	return 0;
}

int
dp_lcore_main(void *arg)
{
	struct dp_lcore *lc = arg;

	switch (lc->role) {
	case DP_ROLE_WORKER:
		return loop_worker(lc);
	case DP_ROLE_FED_WORKER:
		return loop_fed_worker(lc);
	case DP_ROLE_IO:
		return loop_io(lc);
	case DP_ROLE_SF:
		return loop_sf(lc);
	}
	return -EINVAL;
}
