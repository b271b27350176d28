/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "ipfix_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "ipfix.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_WAIT_MS 5000
#define TIMER_MS 100
#define FRAME_HDR 6 /* a queued datagram's length and record count */

struct ipfix_conn {
	struct ipfix_conn_params p;
	char target[512];
	bool tcp;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	/* UDP */
	evutil_socket_t fd;
	struct event *writable;
	struct evbuffer *datagrams; /* each: 2-byte length, 4-byte record count, the message */
	/* TCP */
	struct bufferevent *bev;
	bool connecting;
	uint32_t backoff_ms;
	uint64_t next_attempt_ms;
	uint64_t attempt_ms;
	struct event *timer;
	struct ipfix_conn_stats st;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
set_error(struct ipfix_conn *c, const char *what)
{
	snprintf(c->st.last_error, sizeof(c->st.last_error), "%s", what);
}

/* ---- UDP ---- */

static void
udp_flush(struct ipfix_conn *c)
{
	uint8_t hdr[FRAME_HDR];

	while (evbuffer_copyout(c->datagrams, hdr, FRAME_HDR) == FRAME_HDR) {
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		uint32_t records;
		uint8_t *msg = evbuffer_pullup(c->datagrams, (ev_ssize_t)(len + FRAME_HDR));
		ssize_t n;

		if (msg == NULL)
			break;
		memcpy(&records, hdr + 2, sizeof(records));
		n = send(c->fd, msg + FRAME_HDR, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
			event_add(c->writable, NULL);
			return;
		}
		if (n < 0) {
			/* ECONNREFUSED: an earlier datagram met a closed port. This one is lost
			 * too: UDP tells no more than that. */
			char why[160];

			c->st.send_errors++;
			c->st.records_lost += records;
			snprintf(why, sizeof(why), "send: %s", strerror(errno));
			set_error(c, why);
			LOG_LIMITED(10, WARNING, CONTROL, "ipfix: %s: %s (records lost)", c->target,
				    why);
		}
		evbuffer_drain(c->datagrams, len + FRAME_HDR);
	}
	c->st.queued_bytes = evbuffer_get_length(c->datagrams);
}

static void
udp_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	udp_flush(arg);
}

static int
udp_open(struct ipfix_conn *c, char *err, size_t err_len)
{
	c->fd = socket(c->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) != 0) {
		snprintf(err, err_len, "export.ipfix.collector '%s': %s", c->target, strerror(errno));
		return -1;
	}
	c->datagrams = evbuffer_new();
	c->writable = event_new(c->p.base, c->fd, EV_WRITE, udp_writable, c);
	if (c->datagrams == NULL || c->writable == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	c->st.connects = 1;
	c->st.up = true;
	return 0;
}

/* ---- TCP ---- */

static void tcp_event(struct bufferevent *bev, short what, void *arg);
static void tcp_read(struct bufferevent *bev, void *arg);

static void
tcp_drop(struct ipfix_conn *c, const char *why)
{
	bool was_up = c->st.up;

	if (c->bev != NULL) {
		c->st.bytes_lost += evbuffer_get_length(bufferevent_get_output(c->bev));
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	set_error(c, why);
	c->connecting = false;
	c->st.up = false;
	c->st.queued_bytes = 0;
	if (was_up) {
		c->st.drops++;
		LOG(WARNING, CONTROL, "ipfix: the collector at %s went away (%s); reconnecting",
		    c->target, why);
		c->backoff_ms = BACKOFF_MIN_MS;
	} else {
		c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS
			      : c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								  : c->backoff_ms * 2;
	}
	c->next_attempt_ms = now_ms() + c->backoff_ms;
}

static void
tcp_attempt(struct ipfix_conn *c)
{
	/* The kernel's send buffer is sized by queue_bytes too (no autotuning to 4 MiB): what
	 * a stuck collector can hold back stays within what the config says. */
	int sndbuf = (int)(c->p.max_queue_bytes < (4u << 20) ? c->p.max_queue_bytes : (4u << 20));
	evutil_socket_t fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		tcp_drop(c, "cannot create a socket");
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	c->bev = bufferevent_socket_new(c->p.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		tcp_drop(c, "cannot create a socket");
		return;
	}
	bufferevent_setcb(c->bev, tcp_read, NULL, tcp_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE); /* EOF tells a closed session */
	c->connecting = true;
	c->attempt_ms = now_ms();
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->addr, (int)c->addr_len) != 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot connect: %s", strerror(errno));
		tcp_drop(c, why);
	}
}

/* A collector has nothing to say (RFC 7011 §10.4: the exporter only sends): whatever it
 * sends is read and dropped, so it can neither fill memory nor stall the session. */
static void
tcp_read(struct bufferevent *bev, void *arg)
{
	struct ipfix_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->st.bytes_ignored += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct ipfix_conn *c = arg;
	char why[160];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->connecting = false;
		c->st.up = true;
		c->st.connects++;
		c->backoff_ms = 0;
		LOG(NOTICE, CONTROL, "ipfix: connected to the collector at %s", c->target);
		if (c->p.connected != NULL)
			c->p.connected(c->p.ctx);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		tcp_drop(c, why);
	} else if (what & BEV_EVENT_EOF) {
		tcp_drop(c, "closed by the collector");
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipfix_conn *c = arg;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	if (c->bev == NULL && now >= c->next_attempt_ms)
		tcp_attempt(c);
	else if (c->connecting && now - c->attempt_ms > CONNECT_WAIT_MS)
		tcp_drop(c, "connect timed out");
	if (c->bev != NULL)
		c->st.queued_bytes = evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* ---- the interface ---- */

struct ipfix_conn *
ipfix_conn_create(const struct ipfix_conn_params *p, char *err, size_t err_len)
{
	struct ipfix_conn *c = calloc(1, sizeof(*c));
	struct addrinfo hints = {.ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char host[200], port[8];
	const char *why;
	int rc;

	if (c == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	c->p = *p;
	c->fd = -1;
	snprintf(c->target, sizeof(c->target), "%s", p->target);
	c->p.target = c->target;
	why = ipfix_target_parse(p->target, &c->tcp, host, sizeof(host), port, sizeof(port));
	if (why != NULL) {
		snprintf(err, err_len, "export.ipfix.collector '%s': %s", p->target, why);
		free(c);
		return NULL;
	}
	/* A name is resolved here, once (start or reload), never on the way of a record. */
	hints.ai_socktype = c->tcp ? SOCK_STREAM : SOCK_DGRAM;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		snprintf(err, err_len, "export.ipfix.collector '%s': cannot resolve '%s': %s",
			 p->target, host, gai_strerror(rc));
		free(c);
		return NULL;
	}
	memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
	c->addr_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!c->tcp) {
		if (udp_open(c, err, err_len) != 0) {
			ipfix_conn_destroy(c);
			return NULL;
		}
		return c;
	}
	{
		struct timeval tv = {.tv_sec = 0, .tv_usec = TIMER_MS * 1000};

		c->timer = event_new(p->base, -1, EV_PERSIST, timer_cb, c);
		if (c->timer == NULL || event_add(c->timer, &tv) != 0) {
			snprintf(err, err_len, "cannot set up the collector connection's timer");
			ipfix_conn_destroy(c);
			return NULL;
		}
	}
	tcp_attempt(c);
	return c;
}

void
ipfix_conn_destroy(struct ipfix_conn *c)
{
	if (c == NULL)
		return;
	if (c->bev != NULL) {
		/* What is queued goes once more, without waiting: the kernel keeps sending. */
		evutil_socket_t fd = bufferevent_getfd(c->bev);

		if (fd >= 0 && c->st.up)
			(void)evbuffer_write(bufferevent_get_output(c->bev), fd);
		bufferevent_free(c->bev);
	}
	if (c->datagrams != NULL) {
		udp_flush(c);
		evbuffer_free(c->datagrams);
	}
	if (c->writable != NULL)
		event_free(c->writable);
	if (c->fd >= 0)
		close(c->fd);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

bool
ipfix_conn_send(struct ipfix_conn *c, const uint8_t *msg, size_t len, uint32_t records)
{
	if (len == 0 || len > UINT16_MAX)
		return false;
	if (!c->tcp) {
		uint8_t hdr[FRAME_HDR] = {(uint8_t)(len >> 8), (uint8_t)len};

		memcpy(hdr + 2, &records, sizeof(records));
		if (evbuffer_get_length(c->datagrams) + len + FRAME_HDR > c->p.max_queue_bytes) {
			c->st.refused_full++;
			return false;
		}
		if (evbuffer_add(c->datagrams, hdr, FRAME_HDR) != 0 || evbuffer_add(c->datagrams, msg, len) != 0)
			return false;
		udp_flush(c);
		return true;
	}
	if (!c->st.up || c->bev == NULL) {
		c->st.refused_down++;
		return false;
	}
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) + len > c->p.max_queue_bytes) {
		c->st.refused_full++;
		return false;
	}
	if (bufferevent_write(c->bev, msg, len) != 0)
		return false;
	c->st.queued_bytes = evbuffer_get_length(bufferevent_get_output(c->bev));
	return true;
}

bool
ipfix_conn_up(const struct ipfix_conn *c)
{
	return c->st.up;
}

bool
ipfix_conn_is_tcp(const struct ipfix_conn *c)
{
	return c->tcp;
}

void
ipfix_conn_get_stats(const struct ipfix_conn *c, struct ipfix_conn_stats *st)
{
	*st = c->st;
	st->queued_bytes = c->tcp ? (c->bev != NULL
					     ? evbuffer_get_length(bufferevent_get_output(c->bev))
					     : 0)
				  : evbuffer_get_length(c->datagrams);
}
