/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "ofconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define HELLO_WAIT_MS 5000 /* the switch's HELLO must come this soon after connecting */
#define TIMER_MS 500

enum ofconn_state {
	OC_WAITING, /* before the next attempt */
	OC_CONNECTING,
	OC_HELLO, /* connected, our HELLO sent, theirs awaited */
	OC_UP,
};

struct ofconn {
	struct ofconn_params p;
	char target[256];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct bufferevent *bev;
	struct event *timer;
	enum ofconn_state state;
	uint32_t backoff_ms;
	uint64_t next_attempt_ms;
	uint64_t state_since_ms;
	uint64_t last_input_ms;
	bool echo_sent;
	uint32_t xid;
	struct ofconn_stats st;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
parse_target(struct ofconn *c, const char *target, char *err, size_t err_len)
{
	memset(&c->addr, 0, sizeof(c->addr));
	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&c->addr;

		if (strlen(target + 5) == 0 || strlen(target + 5) >= sizeof(sun->sun_path)) {
			snprintf(err, err_len, "offload.switch '%s': the path is empty or too long",
				 target);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, target + 5);
		c->addr_len = sizeof(*sun);
		return 0;
	}
	if (strncmp(target, "tcp:", 4) == 0) {
		char host[128];
		const char *colon = strrchr(target + 4, ':');
		struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
					 .ai_socktype = SOCK_STREAM};
		struct addrinfo *ai = NULL;
		size_t hl;

		if (colon == NULL || (hl = (size_t)(colon - (target + 4))) == 0 || hl >= sizeof(host)) {
			snprintf(err, err_len, "offload.switch '%s': expected tcp:ADDRESS:PORT", target);
			return -1;
		}
		memcpy(host, target + 4, hl);
		host[hl] = '\0';
		if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL) {
			snprintf(err, err_len, "offload.switch '%s': not a numeric address and port",
				 target);
			return -1;
		}
		memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
		c->addr_len = ai->ai_addrlen;
		freeaddrinfo(ai);
		return 0;
	}
	snprintf(err, err_len, "offload.switch '%s': expected unix:PATH or tcp:ADDRESS:PORT", target);
	return -1;
}

static void
set_error(struct ofconn *c, const char *what)
{
	snprintf(c->st.last_error, sizeof(c->st.last_error), "%s", what);
}

/* Close the session (if any) and schedule the next attempt. */
static void
drop(struct ofconn *c, const char *why)
{
	bool was_up = c->state == OC_UP;

	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (why != NULL)
		set_error(c, why);
	if (was_up) {
		c->st.drops++;
		c->st.up = false;
		LOG(WARNING, CONTROL, "offload: the switch at %s went away (%s); reconnecting",
		    c->target, why != NULL ? why : "closed");
		c->backoff_ms = BACKOFF_MIN_MS;
	} else {
		c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS
						   : (c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
											 : c->backoff_ms * 2);
	}
	c->state = OC_WAITING;
	c->next_attempt_ms = now_ms() + c->backoff_ms;
	if (was_up && c->p.disconnected != NULL)
		c->p.disconnected(c->p.ctx);
}

static int
send_raw(struct ofconn *c, const uint8_t *data, size_t len)
{
	if (c->bev == NULL)
		return -1;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) + len > OFCONN_MAX_OUTPUT) {
		c->st.sends_refused++;
		return -1;
	}
	return bufferevent_write(c->bev, data, len) == 0 ? 0 : -1;
}

static void
handle(struct ofconn *c, const uint8_t *msg, size_t len)
{
	struct of_header h;
	struct of_buf b;

	if (of_parse_header(msg, len, &h) != 0)
		return;
	c->st.messages_in++;
	if (c->state == OC_HELLO) {
		if (h.type != OFPT_HELLO) {
			drop(c, "the switch spoke before its HELLO");
			return;
		}
		if (of_parse_hello(msg, len) != 0) {
			drop(c, "the switch does not speak OpenFlow 1.3");
			return;
		}
		c->state = OC_UP;
		c->st.up = true;
		c->st.connects++;
		c->backoff_ms = 0;
		c->st.last_error[0] = '\0';
		LOG(NOTICE, CONTROL, "offload: connected to the switch at %s (OpenFlow 1.3)", c->target);
		if (c->p.connected != NULL)
			c->p.connected(c->p.ctx);
		return;
	}
	switch (h.type) {
	case OFPT_ECHO_REQUEST:
		b.len = 0;
		b.overflow = false;
		of_echo_reply(&b, msg, len);
		(void)send_raw(c, b.data, b.len);
		return;
	case OFPT_ECHO_REPLY:
		return;
	case OFPT_HELLO:
		return;
	default:
		if (c->p.message != NULL)
			c->p.message(c->p.ctx, msg, len);
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct ofconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t head[OF_HEADER_LEN];

	c->last_input_ms = now_ms();
	c->echo_sent = false;
	while (c->bev == bev && evbuffer_get_length(in) >= OF_HEADER_LEN) {
		struct of_header h;
		uint8_t *msg;

		evbuffer_copyout(in, head, sizeof(head));
		if (of_parse_header(head, sizeof(head), &h) != 0) {
			drop(c, "a message shorter than its header");
			return;
		}
		if (evbuffer_get_length(in) < h.length)
			return; /* the rest later */
		msg = evbuffer_pullup(in, h.length);
		if (msg == NULL) {
			drop(c, "out of memory");
			return;
		}
		handle(c, msg, h.length);
		if (c->bev != bev)
			return; /* dropped meanwhile (its buffer is gone) */
		evbuffer_drain(in, h.length);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ofconn *c = arg;
	struct of_buf b;
	char why[160];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->state = OC_HELLO;
		c->state_since_ms = now_ms();
		c->last_input_ms = c->state_since_ms;
		b.len = 0;
		b.overflow = false;
		of_hello(&b, ++c->xid);
		(void)send_raw(c, b.data, b.len);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		snprintf(why, sizeof(why), "%s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		drop(c, why);
	} else if (what & BEV_EVENT_EOF) {
		drop(c, "closed by the switch");
	}
}

static void
attempt(struct ofconn *c)
{
	c->st.attempts++;
	c->bev = bufferevent_socket_new(c->p.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		drop(c, "cannot create a socket");
		return;
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, OF_READ_MAX * 4);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = OC_CONNECTING;
	c->state_since_ms = now_ms();
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->addr, (int)c->addr_len) != 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot connect: %s", strerror(errno));
		drop(c, why);
	}
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ofconn *c = arg;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	switch (c->state) {
	case OC_WAITING:
		if (now >= c->next_attempt_ms)
			attempt(c);
		break;
	case OC_CONNECTING:
	case OC_HELLO:
		if (now - c->state_since_ms > HELLO_WAIT_MS)
			drop(c, c->state == OC_HELLO ? "no HELLO from the switch" : "connect timed out");
		break;
	case OC_UP:
		if (now - c->last_input_ms > OFCONN_DEAD_MS) {
			drop(c, "no answer to ECHO");
		} else if (now - c->last_input_ms > OFCONN_ECHO_IDLE_MS && !c->echo_sent) {
			struct of_buf b = {.len = 0};

			of_echo_request(&b, ++c->xid);
			c->echo_sent = send_raw(c, b.data, b.len) == 0;
		}
		break;
	}
}

struct ofconn *
ofconn_create(const struct ofconn_params *p, char *err, size_t err_len)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = TIMER_MS * 1000};
	struct ofconn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	c->p = *p;
	snprintf(c->target, sizeof(c->target), "%s", p->target);
	c->p.target = c->target;
	if (parse_target(c, p->target, err, err_len) != 0) {
		free(c);
		return NULL;
	}
	c->timer = event_new(p->base, -1, EV_PERSIST, timer_cb, c);
	if (c->timer == NULL || event_add(c->timer, &tv) != 0) {
		snprintf(err, err_len, "cannot set up the switch connection's timer");
		ofconn_destroy(c);
		return NULL;
	}
	attempt(c);
	return c;
}

void
ofconn_destroy(struct ofconn *c)
{
	if (c == NULL)
		return;
	if (c->bev != NULL) {
		/* What is queued (the stop's deletes) goes out with a blocking flush, bounded by
		 * the socket buffer: the kernel keeps sending after close. */
		evutil_socket_t fd = bufferevent_getfd(c->bev);
		struct evbuffer *out = bufferevent_get_output(c->bev);

		if (fd >= 0 && c->state == OC_UP)
			(void)evbuffer_write(out, fd);
		bufferevent_free(c->bev);
	}
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

int
ofconn_send(struct ofconn *c, const struct of_buf *b)
{
	if (c->state != OC_UP || b->overflow)
		return -1;
	if (send_raw(c, b->data, b->len) != 0)
		return -1;
	c->st.messages_out++;
	return 0;
}

bool
ofconn_up(const struct ofconn *c)
{
	return c->state == OC_UP;
}

size_t
ofconn_output_bytes(const struct ofconn *c)
{
	return c->bev != NULL ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

void
ofconn_get_stats(const struct ofconn *c, struct ofconn_stats *st)
{
	*st = c->st;
	st->up = c->state == OC_UP;
}
