/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The data path's lifecycle and its control-thread side: pools, ports and lcores at creation;
 * then, every poll, finished records to their sink, request results to their askers, retired
 * policies freed once no worker can see them, the replay rewound, the links watched. The
 * lcore loops are in lcore.c, the requests in request.c.
 */
#include "datapath.h"

#include <errno.h>
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
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dp_internal.h"
#include "log.h"
#include "port.h"
#include "stat_item.h"
#include "wire.h"

#define RECORD_RING_SIZE 16384
#define RECORD_POOL_SIZE 32767
#define REQUEST_RING_SIZE 512 /* > DP_REQUESTS_MAX: a request always finds room */
#define WORKER_RING_SIZE 4096 /* I/O <-> worker rings, each way */
#define OFFLOAD_RING_SIZE 4096 /* offload asks and notices, per worker, each way */

_Static_assert(sizeof(struct offload_ask) % 4 == 0 && sizeof(struct offload_notice) % 4 == 0,
	       "ring elements are whole 32-bit words");
#define SCRATCH_SIZE 65536 /* the longest frame: multi-segment frames are copied here */
#define LINK_CHECK_MS 250 /* how often the control thread asks the ports for their link */
#define STOP_WAIT_S 30 /* datapath_destroy waits this long for the lcores at most */

/* ---- the live ports as an input ---- */

static uint16_t
live_rx(struct dp_input *in, uint16_t port_id, struct rte_mbuf **m, uint16_t max)
{
	(void)in;
	return rte_eth_rx_burst(port_id, 0, m, max);
}

static enum dp_input_state
live_state(struct dp_input *in)
{
	(void)in;
	return DP_INPUT_RUNNING; /* until datapath_stop() */
}

static void
live_nothing(struct dp_input *in)
{
	(void)in;
}

const struct dp_input_class dp_input_live = {
	.name = "ports",
	.lossless = false,
	.rx = live_rx,
	.state = live_state,
	.pass_flushed = live_nothing,
	.poll = live_nothing,
};

/* ---- creation ---- */

static struct rte_ring *
ring(const char *what, uint32_t id, unsigned int size, unsigned int lcore)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "%s%u", what, id);
	return rte_ring_create(name, size, (int)rte_lcore_to_socket_id(lcore),
			       RING_F_SP_ENQ | RING_F_SC_DEQ);
}

static int
make_classifier(struct datapath *dp, struct dp_lcore *lc, char *err, size_t err_len)
{
	const struct config *cfg = &dp->cfg;
	struct worker_params wp = {0};

	wp.id = lc->id;
	wp.flow_capacity = cfg->flow_capacity;
	wp.dpi_states = cfg->dpi_states;
	wp.ipv6_capacity = cfg->ipv6_capacity;
	wp.meta_capacity = cfg->meta_capacity;
	memcpy(wp.timeout_ms, cfg->timeout_ms, sizeof(wp.timeout_ms));
	wp.frag_capacity = cfg->frag_capacity;
	wp.frag_held = cfg->frag_held;
	wp.frag_timeout_ms = cfg->frag_timeout_ms;
	wp.budget_tcp = cfg->budget_tcp;
	wp.budget_udp = cfg->budget_udp;
	wp.budget_other = cfg->budget_other;
	wp.active_timeout_ms = cfg->ipfix_collector[0] != '\0' ? cfg->ipfix_active_timeout_ms : 0;
	wp.malformed = cfg->malformed;
	wp.from_capture = dp->lossless; /* replay: TSO lengths, snap lengths (worker.h) */
	wp.apps = cfg->apps;
	wp.tunnels = cfg->tunnels;
	wp.policy = dp->policy;
	wp.on_record = dp_record_to_ring;
	wp.record_ctx = lc;
	wp.on_packet = dp_packet_out;
	wp.packet_ctx = lc;
	if (dp->p.on_offload_ask != NULL) {
		char name[RTE_RING_NAMESIZE];
		int socket = (int)rte_lcore_to_socket_id(lc->lcore);

		wp.on_offload = dp_offload_to_ring;
		wp.offload_ctx = lc;
		snprintf(name, sizeof(name), "asks%u", lc->id);
		lc->asks = rte_ring_create_elem(name, sizeof(struct offload_ask), OFFLOAD_RING_SIZE,
						socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "notices%u", lc->id);
		lc->notices = rte_ring_create_elem(name, sizeof(struct offload_notice),
						   OFFLOAD_RING_SIZE, socket,
						   RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (lc->asks == NULL || lc->notices == NULL) {
			snprintf(err, err_len, "worker %u: out of memory for its offload rings", lc->id);
			return -1;
		}
	}
	lc->w = worker_create(&wp);
	lc->records = ring("records", lc->id, RECORD_RING_SIZE, lc->lcore);
	lc->requests = ring("requests", lc->id, REQUEST_RING_SIZE, lc->lcore);
	lc->scratch = malloc(SCRATCH_SIZE);
	if (lc->w == NULL) {
		snprintf(err, err_len, "worker %u: %s", lc->id, strerror(errno));
		return -1;
	}
	if (lc->records == NULL || lc->requests == NULL || lc->scratch == NULL) {
		snprintf(err, err_len, "worker %u: out of memory for its rings", lc->id);
		return -1;
	}
	if (lc->role == DP_ROLE_FED_WORKER) {
		lc->in = ring("win", lc->id, WORKER_RING_SIZE, lc->lcore);
		lc->out = ring("wout", lc->id, WORKER_RING_SIZE, lc->lcore);
		if (lc->in == NULL || lc->out == NULL) {
			snprintf(err, err_len, "worker %u: out of memory for its rings", lc->id);
			return -1;
		}
	}
	return 0;
}

/*
 * The roles, once: one lcore besides the control one runs a lone worker (or the service
 * function); more make the first of them the I/O lcore and the others fed workers.
 */
static int
make_lcores(struct datapath *dp, char *err, size_t err_len)
{
	bool dispatch = rte_lcore_count() > 2 && !dp->p.service_function;
	unsigned int lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct dp_lcore *lc;

		if (dispatch && !dp->has_io) {
			dp->has_io = true;
			dp->io.dp = dp;
			dp->io.role = DP_ROLE_IO;
			dp->io.lcore = lcore;
			continue;
		}
		if (dp->p.service_function && dp->n_workers == 1)
			break; /* a service function runs on one lcore */
		lc = &dp->workers[dp->n_workers];
		lc->dp = dp;
		lc->id = (uint16_t)dp->n_workers;
		lc->lcore = lcore;
		lc->role = dp->p.service_function ? DP_ROLE_SF
			   : dispatch		  ? DP_ROLE_FED_WORKER
						  : DP_ROLE_WORKER;
		dp->n_workers++;
		if (lc->role != DP_ROLE_SF && make_classifier(dp, lc, err, err_len) != 0)
			return -1;
	}
	if (dp->n_workers == 0) {
		snprintf(err, err_len,
			 "eal.lcores '%s' has no worker lcore: list the control lcore, then a worker "
			 "(e.g. \"0,1\")",
			 dp->cfg.lcores);
		return -1;
	}
	if (dp->has_io && dp->input->passes) {
		snprintf(err, err_len, "replay --loop runs on one worker lcore (eal.lcores with two "
				       "entries)");
		return -1;
	}
	return 0;
}

struct datapath *
datapath_create(const struct datapath_params *params, char *err, size_t err_len)
{
	struct datapath *dp;
	struct timeval tv;
	const char *skew;
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
	dp->cfg.policy = NULL;
	dp->live_input.cls = &dp_input_live;
	dp->input = params->input != NULL ? params->input : &dp->live_input;
	dp->lossless = dp->input->cls->lossless;
	dp->hz = rte_get_timer_hz();
	/*
	 * Tests: start the clock as if the process had already run a while. "wrap-N": N seconds
	 * before the count where the old `cycles * 10^6 / hz` left 64 bits, so a soak run
	 * crosses that point (and shows it is no longer one).
	 */
	skew = getenv("FLOWTAG_TEST_CLOCK_START_S");
	if (skew != NULL && strncmp(skew, "wrap-", 5) == 0) {
		uint64_t before = strtoull(skew + 5, NULL, 10) * dp->hz, wrap = UINT64_MAX / 1000000;

		dp->clock_skew_cycles = wrap > before ? wrap - before : 0;
		LOG(NOTICE, DP, "test clock: the old formula would wrap in %llu s",
		    (unsigned long long)(before / dp->hz));
	} else if (skew != NULL) {
		dp->clock_skew_cycles = strtoull(skew, NULL, 10) * dp->hz;
	}
	gettimeofday(&tv, NULL);
	dp->start_tsc = rte_get_timer_cycles();
	dp->epoch_us = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec -
		       clock_cycles_to_us(dp->clock_skew_cycles, dp->hz);

	if (dp->cfg.n_ports == 0 || dp->cfg.n_ports > DP_MAX_PORTS) {
		snprintf(err, err_len, "%s: 1 to %d ports are needed (found %u)", dp->cfg.path,
			 DP_MAX_PORTS, dp->cfg.n_ports);
		goto fail;
	}
	dp->max_frame = dp->cfg.mtu + ETH_HDR_LEN + VLAN_TAG_LEN;
	dp->pkt_pool = rte_pktmbuf_pool_create(DP_PKT_POOL_NAME, dp->cfg.mbufs, 256, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	/* Every worker's ring full at once still finds records in the pool. */
	dp->rec_pool = rte_mempool_create("records",
					  RTE_MAX((unsigned)RECORD_POOL_SIZE,
						  rte_lcore_count() * RECORD_RING_SIZE + 4096),
					  sizeof(struct flow_record),
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
		dp->port_index[dp->ports[i]] = (uint16_t)i;
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
	if (make_lcores(dp, err, err_len) != 0)
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
		int rc = rte_eal_remote_launch(dp_lcore_main, &dp->workers[i], dp->workers[i].lcore);

		if (rc != 0)
			return rc;
	}
	if (dp->has_io && rte_eal_remote_launch(dp_lcore_main, &dp->io, dp->io.lcore) != 0)
		return -1;
	dp->launched = true;
	return 0;
}

/* ---- the control thread's poll ---- */

static uint32_t
drain_records(struct datapath *dp)
{
	uint32_t i, drained = 0;

	for (i = 0; i < dp->n_workers; i++) {
		void *objs[64];
		unsigned int n, k;

		if (dp->workers[i].records == NULL)
			continue;
		while ((n = rte_ring_sc_dequeue_burst(dp->workers[i].records, objs, 64, NULL)) > 0) {
			for (k = 0; k < n; k++)
				if (dp->p.on_record != NULL)
					dp->p.on_record(dp->p.record_ctx, objs[k]);
			rte_mempool_put_bulk(dp->rec_pool, objs, n);
			drained += n;
		}
	}
	return drained;
}

static uint32_t
drain_asks_of(struct datapath *dp, struct dp_lcore *lc)
{
	struct offload_ask asks[16];
	unsigned int n, k;
	uint32_t drained = 0;

	if (lc->asks == NULL)
		return 0;
	while ((n = rte_ring_sc_dequeue_burst_elem(lc->asks, asks, sizeof(asks[0]), 16, NULL)) > 0) {
		for (k = 0; k < n; k++)
			dp->p.on_offload_ask(dp->p.offload_ctx, &asks[k]);
		drained += n;
	}
	return drained;
}

void
datapath_offload_drain(struct datapath *dp, uint16_t worker)
{
	if (worker < dp->n_workers)
		drain_asks_of(dp, &dp->workers[worker]);
}

bool
datapath_offload_notify(struct datapath *dp, uint16_t worker, const struct offload_notice *n)
{
	struct offload_notice copy = *n; /* DPDK's enqueue takes a non-const pointer */

	if (worker >= dp->n_workers || dp->workers[worker].notices == NULL)
		return true; /* nobody to tell */
	return rte_ring_sp_enqueue_elem(dp->workers[worker].notices, &copy, sizeof(copy)) == 0;
}

/* Free the retired policies no worker can still see (QSBR tokens, checked without waiting). */
static void
reclaim_policies(struct datapath *dp)
{
	uint32_t i = 0;

	while (i < dp->n_retired) {
		if (rte_rcu_qsbr_check(dp->qsbr, dp->retired[i].token, false) != 1) {
			i++;
			continue;
		}
		policy_destroy(dp->retired[i].p);
		dp->retired[i] = dp->retired[--dp->n_retired];
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
	dp->next_link_check_tsc = rte_get_timer_cycles() +
				  clock_us_to_cycles(LINK_CHECK_MS * 1000ULL, dp->hz);
	for (i = 0; i < dp->n_ports; i++) {
		struct rte_eth_link link;

		if (rte_eth_link_get_nowait(dp->ports[i], &link) != 0)
			continue;
		if (link.link_status != dp->link_up[i]) {
			dp->link_up[i] = link.link_status;
			LOG(INFO, DP, "port %s link %s", dp->cfg.ports[i].name,
			    link.link_status ? "up" : "down");
		}
	}
}

static bool
all_finished(const struct datapath *dp)
{
	uint32_t i;

	for (i = 0; i < dp->n_workers; i++)
		if (!__atomic_load_n(&dp->workers[i].finished, __ATOMIC_ACQUIRE))
			return false;
	return !dp->has_io || __atomic_load_n(&dp->io.finished, __ATOMIC_ACQUIRE);
}

bool
datapath_poll(struct datapath *dp)
{
	/* Read `finished` before draining: a finished lcore has enqueued its last record. */
	bool done = all_finished(dp);
	uint32_t moved = 0;

	if (!dp->lossless)
		check_links(dp);
	dp->input->cls->poll(dp->input);
	for (uint32_t i = 0; i < dp->n_workers; i++)
		moved += drain_asks_of(dp, &dp->workers[i]); /* before the records: asks first */
	moved += drain_records(dp);
	dp_requests_poll(dp);
	reclaim_policies(dp);
	dp->poll_active = moved > 0 || dp->ops != NULL || dp->n_retired > 0 || dp->stop;
	return done;
}

bool
datapath_active(const struct datapath *dp)
{
	return dp->poll_active;
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
		uint64_t give_up = rte_get_timer_cycles() + STOP_WAIT_S * dp->hz;

		dp->stop = true;
		/* Keep draining while waiting: a lossless worker may wait for record room. */
		while (!datapath_poll(dp)) {
			if (rte_get_timer_cycles() > give_up) {
				LOG(ERR, DP, "the data path did not stop within %d s; exiting without it",
				    STOP_WAIT_S);
				return; /* the lcores may still use everything: leave it all */
			}
			rte_delay_us_sleep(100);
		}
		rte_eal_mp_wait_lcore();
		drain_records(dp);
	}
	dp_requests_destroy(dp);
	for (i = 0; i < dp->n_ports; i++)
		port_close(dp->ports[i]);
	for (i = 0; i < dp->n_workers; i++) {
		struct dp_lcore *lc = &dp->workers[i];

		worker_destroy(lc->w);
		rte_ring_free(lc->records);
		rte_ring_free(lc->requests);
		rte_ring_free(lc->asks);
		rte_ring_free(lc->notices);
		rte_ring_free(lc->in);
		rte_ring_free(lc->out);
		free(lc->scratch);
	}
	for (i = 0; i < dp->n_retired; i++)
		policy_destroy(dp->retired[i].p);
	policy_destroy(dp->policy);
	rte_free(dp->qsbr);
	rte_mempool_free(dp->pkt_pool);
	rte_mempool_free(dp->rec_pool);
	rte_free(dp);
}

/* ---- the policy ---- */

int
datapath_set_policy(struct datapath *dp, struct policy *p)
{
	reclaim_policies(dp);
	if (dp->n_retired == DP_RETIRED_POLICIES_MAX)
		return -EBUSY;
	dp->retired[dp->n_retired].p = dp->policy;
	__atomic_store_n(&dp->policy, p, __ATOMIC_RELEASE);
	/* The old one goes once every worker has passed a quiescent point after this. */
	dp->retired[dp->n_retired].token = rte_rcu_qsbr_start(dp->qsbr);
	dp->n_retired++;
	if (dp->p.on_policy != NULL)
		dp->p.on_policy(dp->p.policy_ctx, p);
	return 0;
}

const struct policy *
datapath_policy(const struct datapath *dp)
{
	return dp->policy;
}

void
datapath_set_active_timeout(struct datapath *dp, uint32_t ms)
{
	uint32_t i;

	for (i = 0; i < dp->n_workers; i++)
		if (dp->workers[i].w != NULL)
			worker_set_active_timeout(dp->workers[i].w, ms);
}

/* ---- figures ---- */

const struct stat_item datapath_stat_items[] = {
#define DP_COUNTER(n, drop, h) {#n, drop, h, false, offsetof(struct datapath_counters, n)},
#include "dp_counters.def"
#undef DP_COUNTER
};
const size_t datapath_stat_item_count = sizeof(datapath_stat_items) / sizeof(datapath_stat_items[0]);

static void
add_counters(struct datapath_counters *sum, const struct datapath_counters *add, bool ports_io)
{
	uint64_t rx = sum->rx, tx = sum->tx;
	uint64_t *d = (uint64_t *)sum;
	const uint64_t *a = (const uint64_t *)add;
	size_t k;

	for (k = 0; k < sizeof(*sum) / sizeof(uint64_t); k++)
		d[k] += a[k];
	if (!ports_io) { /* a fed worker's rx and tx go to and from the I/O lcore, not ports */
		sum->rx = rx;
		sum->tx = tx;
	}
}

void
datapath_get_stats(const struct datapath *dp, struct datapath_stats *st)
{
	struct rte_eth_stats ps;
	uint32_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < dp->n_workers; i++) {
		const struct dp_lcore *lc = &dp->workers[i];
		struct worker_stats ws;

		add_counters(&st->c, &lc->c, !dp->has_io);
		if (lc->w == NULL)
			continue;
		worker_get_stats(lc->w, &ws);
		worker_stats_add(&st->w, &ws);
	}
	if (dp->has_io)
		add_counters(&st->c, &dp->io.c, true);
	st->requests_in_flight = dp->n_ops;
	st->requests_refused = dp->requests_refused;
	st->policies_retiring = dp->n_retired;
	if (dp->last_tx_tsc > dp->first_rx_tsc && dp->first_rx_tsc != 0)
		st->busy_s = (double)(dp->last_tx_tsc - dp->first_rx_tsc) / (double)dp->hz;
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

const struct app_defs *
datapath_apps(const struct datapath *dp)
{
	return dp->cfg.apps;
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
	info->link_up = dp->lossless || dp->link_up[i];
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
		if (__atomic_load_n(&dp->workers[i].finished, __ATOMIC_ACQUIRE))
			return false;
	for (i = 0; i < dp->n_ports; i++) {
		struct datapath_port_info info;

		datapath_port_info(dp, i, &info);
		if (!info.link_up)
			return false;
	}
	return true;
}
