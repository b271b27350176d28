/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "capture.h"
#include "datapath.h"
#include "clock.h"

#define REPLAY_PORT_NAME "net_pcap_replay"
#define PACED_BURST 8 /* paced replay takes small bursts: smoother on the wire */
/*
 * The rx lcore reads the normalised capture itself, in reads this large, rather than through
 * the net_pcap port: libpcap reads through a stdio buffer of the file system's block size
 * (4 KB), a read() per 4 KB, and in a guest a syscall is dear (one pass over a 303 MB capture
 * spent 140 ms of its 469 in 4 KB reads, 34 ms in large ones). The port stays for --out.
 */
#define READ_BUF (1u << 20)
#define PCAP_FILE_HEADER 24
#define PCAP_RECORD_HEADER 16
#define PCAP_MAGIC_US 0xa1b2c3d4u /* what pcap_dump() wrote on this host: native order, us */

_Static_assert(READ_BUF >= PCAP_RECORD_HEADER + CAPTURE_MAX_FRAME, "a whole record fits");

struct replay {
	struct dp_input in; /* first: the data path hands us back this pointer */
	struct replay_params p;
	char tmp[4096]; /* the normalised capture */
	char vdev[8192];
	uint64_t packets; /* in the capture */
	uint16_t port_id;
	uint64_t hz;
	int fd; /* the normalised capture, read by the rx lcore */
	/* rx lcore only */
	uint8_t *buf; /* READ_BUF bytes: [buf_pos, buf_len) not yet delivered */
	uint32_t buf_pos, buf_len;
	bool read_failed;
	struct rte_mempool *pool; /* the data path's packet mbufs, looked up on the first receive */
	int ts_offset; /* the rx timestamp dynfield, as net_pcap fills it (us) */
	uint64_t ts_flag;
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

/* Rx lcore: back to the capture's first record. */
static void
rewind_file(struct replay *r)
{
	r->buf_pos = r->buf_len = 0;
	r->read_failed = lseek(r->fd, PCAP_FILE_HEADER, SEEK_SET) != PCAP_FILE_HEADER;
}

/* Rx lcore: at least `need` bytes from buf_pos on in the buffer, reading more if not; false at
 * the end of the file or on an error. */
static bool
buffered(struct replay *r, uint32_t need)
{
	while (r->buf_len - r->buf_pos < need) {
		ssize_t got;

		if (r->read_failed)
			return false;
		if (r->buf_pos > 0) { /* the partial record to the front */
			memmove(r->buf, r->buf + r->buf_pos, r->buf_len - r->buf_pos);
			r->buf_len -= r->buf_pos;
			r->buf_pos = 0;
		}
		got = read(r->fd, r->buf + r->buf_len, READ_BUF - r->buf_len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r->read_failed = true; /* the end, early: replay_state() sees it stall */
			return false;
		}
		r->buf_len += (uint32_t)got;
	}
	return true;
}

/* Rx lcore: one frame into a chain of mbufs from `pool`; NULL when the pool is empty. */
static struct rte_mbuf *
frame_mbuf(struct rte_mempool *pool, const uint8_t *data, uint32_t len)
{
	struct rte_mbuf *head = rte_pktmbuf_alloc(pool), *seg = head;
	uint32_t done = 0;

	while (seg != NULL) {
		uint32_t chunk = RTE_MIN(len - done, (uint32_t)rte_pktmbuf_tailroom(seg));

		memcpy(rte_pktmbuf_mtod(seg, uint8_t *), data + done, chunk);
		seg->data_len = (uint16_t)chunk;
		done += chunk;
		if (done == len) {
			head->pkt_len = len;
			return head;
		}
		if (chunk == 0 || (seg->next = rte_pktmbuf_alloc(pool)) == NULL)
			break;
		seg = seg->next;
		head->nb_segs++;
	}
	rte_pktmbuf_free(head);
	return NULL;
}

/* Rx lcore: up to `max` frames of the capture, as net_pcap would give them (timestamps in us
 * in the rx timestamp dynfield). A frame waits for mbufs rather than being lost. */
static uint16_t
read_frames(struct replay *r, uint16_t port_id, struct rte_mbuf **m, uint16_t max)
{
	uint16_t n = 0;

	if (r->pool == NULL) { /* the data path's, which exists by the first receive */
		r->pool = rte_mempool_lookup(DP_PKT_POOL_NAME);
		if (r->pool == NULL)
			return 0;
		r->ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
		if (r->ts_offset >= 0) {
			int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);

			r->ts_flag = bit >= 0 ? RTE_BIT64(bit) : 0;
		}
	}
	while (n < max && buffered(r, PCAP_RECORD_HEADER)) {
		uint32_t h[4];
		struct rte_mbuf *f;

		memcpy(h, r->buf + r->buf_pos, sizeof(h)); /* seconds, microseconds, caplen, len */
		if (h[2] > CAPTURE_MAX_FRAME) {
			r->read_failed = true; /* not what capture_normalize() writes */
			break;
		}
		if (!buffered(r, PCAP_RECORD_HEADER + h[2]))
			break;
		f = frame_mbuf(r->pool, r->buf + r->buf_pos + PCAP_RECORD_HEADER, h[2]);
		if (f == NULL)
			break; /* no mbufs now: this frame comes on the next call */
		if (r->ts_offset >= 0) {
			*RTE_MBUF_DYNFIELD(f, r->ts_offset, rte_mbuf_timestamp_t *) =
				(uint64_t)h[0] * 1000000 + h[1];
			f->ol_flags |= r->ts_flag;
		}
		f->port = port_id;
		m[n++] = f;
		r->buf_pos += PCAP_RECORD_HEADER + h[2];
	}
	return n;
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
		rewind_file(r);
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
	n = read_frames(r, port_id, m, max);
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
	/* The rx lcore rewinds its own reading (replay_rx); the port is restarted so that its
	 * --out file starts again with the pass, as it always has. The rx lcore does not touch
	 * the port meanwhile. */
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

/* The normalised capture, for the rx lcore to read: its header checked, positioned at its first
 * record. 0, or -1 with a message. */
static int
open_normalized(struct replay *r, char *err, size_t err_len)
{
	uint32_t magic;

	errno = 0;
	r->buf = malloc(READ_BUF);
	r->fd = open(r->tmp, O_RDONLY | O_CLOEXEC);
	if (r->buf == NULL || r->fd < 0 || pread(r->fd, &magic, 4, 0) != 4 ||
	    magic != PCAP_MAGIC_US || lseek(r->fd, PCAP_FILE_HEADER, SEEK_SET) != PCAP_FILE_HEADER) {
		snprintf(err, err_len, "%s: cannot read back the normalised capture%s%s", r->tmp,
			 errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return -1;
	}
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

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
	r->fd = -1;
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
	if (open_normalized(r, err, err_len) != 0) {
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
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
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
