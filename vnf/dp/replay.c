/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "capture.h"
#include "clock.h"

#define REPLAY_PORT_NAME "net_pcap_replay"
#define PACED_BURST 8 /* paced replay takes small bursts: smoother on the wire */

struct replay {
	struct dp_input in; /* first: the data path hands us back this pointer */
	struct replay_params p;
	char tmp[4096]; /* the normalised capture */
	char vdev[8192];
	uint64_t packets; /* in the capture */
	uint16_t port_id;
	uint64_t hz;
	/* rx lcore only */
	uint64_t pass_rx; /* packets delivered this pass */
	uint64_t paced_start_tsc;
	uint64_t paced_rx;
	uint64_t last_activity_tsc; /* a packet, or a pause for pacing */
	uint32_t rewinds_seen;
	/* rx lcore -> control */
	int pass_done; /* atomic */
	/* control -> rx lcore */
	uint32_t rewinds; /* atomic */
	/* control only */
	uint64_t pass_done_tsc;
};

static struct replay *
of(struct dp_input *in)
{
	return (struct replay *)in;
}

static uint16_t
replay_rx(struct dp_input *in, uint16_t port_id, struct rte_mbuf **m, uint16_t max)
{
	struct replay *r = of(in);
	uint64_t now = rte_get_timer_cycles();
	uint32_t rewinds = __atomic_load_n(&r->rewinds, __ATOMIC_ACQUIRE);
	uint16_t n;

	if (rewinds != r->rewinds_seen) { /* a new pass, paced afresh (no catch-up burst) */
		r->rewinds_seen = rewinds;
		r->pass_rx = 0;
		r->paced_start_tsc = r->last_activity_tsc = now;
		r->paced_rx = 0;
	}
	if (r->paced_start_tsc == 0)
		r->paced_start_tsc = r->last_activity_tsc = now;
	if (r->pass_rx >= r->packets)
		return 0;
	if (r->p.pps > 0) {
		/* A token bucket: packets allowed since the start at pps. Waiting is not stalling. */
		if (r->paced_rx >= clock_events_in(now - r->paced_start_tsc, r->hz, r->p.pps)) {
			r->last_activity_tsc = now;
			return 0;
		}
		max = RTE_MIN(max, (uint16_t)PACED_BURST);
	}
	max = (uint16_t)RTE_MIN((uint64_t)max, r->packets - r->pass_rx);
	n = rte_eth_rx_burst(port_id, 0, m, max);
	if (n > 0) {
		r->pass_rx += n;
		r->paced_rx += n;
		r->last_activity_tsc = now;
	}
	return n;
}

static enum dp_input_state
replay_state(struct dp_input *in)
{
	struct replay *r = of(in);

	if (__atomic_load_n(&r->rewinds, __ATOMIC_ACQUIRE) != r->rewinds_seen)
		return DP_INPUT_RUNNING; /* rewound: replay_rx starts the next pass */
	if (r->pass_rx >= r->packets)
		return r->p.loop ? DP_INPUT_PASS_END : DP_INPUT_DRAINED;
	/* Nothing for so long, and no pacing to explain it: the capture ended short. */
	if (r->last_activity_tsc != 0 &&
	    rte_get_timer_cycles() - r->last_activity_tsc >
		    clock_us_to_cycles((uint64_t)REPLAY_STALL_MS * 1000, r->hz))
		return DP_INPUT_DRAINED;
	return DP_INPUT_RUNNING;
}

static void
replay_pass_flushed(struct dp_input *in)
{
	__atomic_store_n(&of(in)->pass_done, 1, __ATOMIC_RELEASE);
}

/* Control thread: after a pass and the pause, read the capture again from the start. */
static void
replay_poll(struct dp_input *in)
{
	struct replay *r = of(in);
	uint64_t now = rte_get_timer_cycles();

	if (!__atomic_load_n(&r->pass_done, __ATOMIC_ACQUIRE))
		return;
	if (r->pass_done_tsc == 0)
		r->pass_done_tsc = now;
	if (now - r->pass_done_tsc < clock_us_to_cycles((uint64_t)r->p.loop_pause_ms * 1000, r->hz))
		return;
	/* net_pcap reopens its file at start; the rx lcore does not touch the port meanwhile. */
	rte_eth_dev_stop(r->port_id);
	rte_eth_dev_start(r->port_id);
	r->pass_done_tsc = 0;
	__atomic_store_n(&r->pass_done, 0, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->rewinds, 1, __ATOMIC_RELEASE);
}

static const struct dp_input_class replay_class = {
	.name = "replay",
	.lossless = true,
	.rx = replay_rx,
	.state = replay_state,
	.pass_flushed = replay_pass_flushed,
	.poll = replay_poll,
};

struct replay *
replay_create(const struct replay_params *params, char *err, size_t err_len)
{
	const char *tmpdir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	struct replay *r = calloc(1, sizeof(*r));
	int fd, n;

	if (r == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	r->in.cls = &replay_class;
	r->in.passes = params->loop;
	r->p = *params;
	/* One Ethernet pcap from all inputs: what the net_pcap vdev reads. */
	n = snprintf(r->tmp, sizeof(r->tmp), "%s/flowtag-replay-XXXXXX.pcap", tmpdir);
	if (n < 0 || (size_t)n >= sizeof(r->tmp) || (fd = mkstemps(r->tmp, 5)) < 0) {
		snprintf(err, err_len, "%s: %s", r->tmp, n < 0 || (size_t)n >= sizeof(r->tmp)
								 ? "TMPDIR is too long"
								 : strerror(errno));
		free(r);
		return NULL;
	}
	close(fd);
	if (capture_normalize(params->captures, params->n_captures, r->tmp, &r->packets, err,
			      err_len) != 0) {
		replay_destroy(r);
		return NULL;
	}
	n = params->out_path != NULL ? snprintf(r->vdev, sizeof(r->vdev),
						REPLAY_PORT_NAME ",rx_pcap=%s,tx_pcap=%s", r->tmp,
						params->out_path)
				     : snprintf(r->vdev, sizeof(r->vdev), REPLAY_PORT_NAME ",rx_pcap=%s",
						r->tmp);
	/* A ',' or '=' in a path would be read as another vdev argument. */
	if (n < 0 || (size_t)n >= sizeof(r->vdev) || strchr(r->tmp, ',') != NULL ||
	    (params->out_path != NULL && strpbrk(params->out_path, ",=") != NULL)) {
		snprintf(err, err_len, "the --out path or TMPDIR is too long or holds ',' or '='");
		replay_destroy(r);
		return NULL;
	}
	return r;
}

void
replay_destroy(struct replay *r)
{
	if (r == NULL)
		return;
	if (r->tmp[0] != '\0')
		unlink(r->tmp);
	free(r);
}

uint64_t
replay_packets(const struct replay *r)
{
	return r->packets;
}

const char *
replay_vdev(const struct replay *r)
{
	return r->vdev;
}

struct dp_input *
replay_input(struct replay *r)
{
	return &r->in;
}

int
replay_attach(struct replay *r, char *err, size_t err_len)
{
	if (rte_eth_dev_get_port_by_name(REPLAY_PORT_NAME, &r->port_id) != 0) {
		snprintf(err, err_len, "replay: the %s port is missing", REPLAY_PORT_NAME);
		return -1;
	}
	r->hz = rte_get_timer_hz(); /* the EAL is up now */
	return 0;
}
