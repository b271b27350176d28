/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "http_parse.h"
#include "json.h"
#include "log.h"

#define ACCEPT_PAUSE_MS 100 /* out of file descriptors: try again this much later */
#define LOG_EVERY_S 10 /* an accept error is logged at most this often */

enum conn_state {
	CONN_IDLE, /* between requests: nothing of the next one has arrived */
	CONN_HEAD, /* reading a request head */
	CONN_BODY, /* reading its body */
	CONN_HANDLING, /* the answer comes later (a request to the workers) */
	CONN_WRITING, /* sending an answer; then back to CONN_IDLE */
	CONN_CLOSING, /* sending a last answer; then close */
};

struct httpd_conn {
	struct httpd *h;
	struct httpd_conn *prev, *next;
	struct bufferevent *bev;
	struct event *timer;
	enum conn_state state;
	bool keep_alive; /* of the request being answered */
	bool loopback;
	struct timespec idle_since; /* CONN_IDLE: since when (the oldest goes first) */
	char *head_buf; /* the request head so far (max_head_bytes + 1), then parsed in place */
	size_t head_have; /* bytes of the input copied into head_buf (still in the input) */
	struct http_head head;
	uint64_t body_len;
	size_t queued; /* answer bytes handed to the output buffer, not yet sent */
};

struct httpd {
	struct httpd_params p;
	struct evconnlistener *listener;
	struct event *resume; /* re-enables accepting after an EMFILE pause */
	struct httpd_conn *conns;
	struct httpd_stats st;
};

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

static void
arm(struct httpd_conn *c, uint32_t ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

static void
conn_close(struct httpd_conn *c, bool notify)
{
	struct httpd *h = c->h;

	if (notify && c->state == CONN_HANDLING && h->p.closed != NULL)
		h->p.closed(h->p.ctx, c);
	h->st.output_bytes -= c->queued;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	event_free(c->timer);
	bufferevent_free(c->bev); /* closes the socket */
	free(c->head_buf);
	free(c);
	h->st.open--;
}

/* The client has hung up (its end is all that is left to read, or the connection reset). */
static bool
peer_gone(const struct httpd_conn *c)
{
	char byte;
	ssize_t n = recv(bufferevent_getfd(c->bev), &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN));
}

static void
send_answer(struct httpd_conn *c, const struct httpd_response *r, bool close_after)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t before = evbuffer_get_length(out), added;
	bool keep = c->keep_alive && !close_after;

	evbuffer_add_printf(out,
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "Connection: %s\r\nCache-Control: no-store\r\n"
			    "X-Content-Type-Options: nosniff\r\n",
			    r->status, reason_phrase(r->status),
			    r->content_type != NULL ? r->content_type : "application/json", r->len,
			    keep ? "keep-alive" : "close");
	if (r->allow != NULL)
		evbuffer_add_printf(out, "Allow: %s\r\n", r->allow);
	if (r->headers != NULL)
		evbuffer_add(out, r->headers, strlen(r->headers));
	evbuffer_add(out, "\r\n", 2);
	if (r->len > 0)
		evbuffer_add(out, r->body, r->len);
	free(r->owned);
	added = evbuffer_get_length(out) - before;
	c->queued += added;
	c->h->st.output_bytes += added;
	c->state = keep ? CONN_WRITING : CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
	arm(c, c->h->p.write_timeout_ms);
}

/* An error of the server's own (not the API's): JSON, and the connection closes after it. */
static void
send_error(struct httpd_conn *c, int status, const char *msg)
{
	char body[512];
	struct json_buf b;
	struct httpd_response r = {.status = status};

	json_init(&b, body, sizeof(body));
	json_printf(&b, "{\"error\":");
	json_string(&b, msg);
	json_printf(&b, "}");
	r.body = body;
	r.len = b.used;
	if (status == 413 || status == 414 || status == 431)
		c->h->st.too_large++;
	else if (status == 408)
		c->h->st.timed_out++;
	else if (status == 503)
		c->h->st.refused++;
	else
		c->h->st.bad++;
	send_answer(c, &r, true);
}

static void
dispatch(struct httpd_conn *c, const char *body)
{
	struct httpd *h = c->h;
	char path[HTTP_MAX_TARGET + 1];
	struct httpd_request req = {0};
	struct httpd_response resp = {0};

	if (h->st.output_bytes > h->p.max_output_bytes) {
		send_error(c, 503, "too many answers are waiting for their readers; try again");
		return;
	}
	if (http_split_target(c->head.target, path, sizeof(path), &req.query) != 0) {
		send_error(c, 400, "bad percent-encoding in the path");
		return;
	}
	req.method = c->head.method;
	req.path = path;
	req.body = body;
	req.body_len = c->body_len;
	req.authorization = c->head.authorization;
	req.accept = c->head.accept;
	req.peer_loopback = c->loopback;
	c->keep_alive = c->head.keep_alive;
	c->state = CONN_HANDLING;
	bufferevent_disable(c->bev, EV_READ); /* one request at a time per connection */
	evtimer_del(c->timer); /* the handler answers within its own bounds */
	if (h->p.handler(h->p.ctx, c, &req, &resp))
		send_answer(c, &resp, false);
}

void
httpd_respond(struct httpd_conn *c, const struct httpd_response *resp)
{
	if (c->state == CONN_HANDLING && peer_gone(c)) {
		/* Nobody to read it: queued, it would only count against max_output_bytes
		 * (refusing live clients) until the write fails. */
		free(resp->owned);
		conn_close(c, false);
		return;
	}
	if (c->state == CONN_HANDLING)
		send_answer(c, resp, false);
	else
		free(resp->owned);
}

static void read_cb(struct bufferevent *bev, void *arg);

static void
begin_idle(struct httpd_conn *c)
{
	c->state = CONN_IDLE;
	clock_gettime(CLOCK_MONOTONIC, &c->idle_since);
	free(c->head_buf);
	c->head_buf = NULL;
	c->head_have = 0;
	bufferevent_enable(c->bev, EV_READ);
	arm(c, c->h->p.idle_timeout_ms);
}

/* Read what has come: a head, then its body; dispatch when the request is whole. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct httpd_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct httpd *h = c->h;

	for (;;) {
		size_t avail = evbuffer_get_length(in);

		if (c->state == CONN_IDLE) {
			if (avail == 0)
				return;
			c->state = CONN_HEAD;
			arm(c, h->p.request_timeout_ms); /* the whole request, from its first byte */
		}
		if (c->state == CONN_HEAD) {
			size_t take = (avail < h->p.max_head_bytes ? avail : h->p.max_head_bytes) -
				      c->head_have;
			size_t from = c->head_have > 3 ? c->head_have - 3 : 0, end;
			struct evbuffer_ptr pos;
			int rc;

			/*
			 * Only the bytes not seen yet are copied and scanned (a head trickled in a
			 * byte at a time costs linear time, not quadratic), and they stay in the
			 * input until the head is whole.
			 */
			if (c->head_buf == NULL && (c->head_buf = malloc(h->p.max_head_bytes + 1)) == NULL) {
				send_error(c, 503, "out of memory");
				return;
			}
			if (take > 0) {
				evbuffer_ptr_set(in, &pos, c->head_have, EVBUFFER_PTR_SET);
				evbuffer_copyout_from(in, &pos, c->head_buf + c->head_have, take);
				c->head_have += take;
			}
			end = http_head_end(c->head_buf + from, c->head_have - from);
			if (end == 0) {
				if (c->head_have >= h->p.max_head_bytes)
					send_error(c, 431, "the request head is larger than the server "
							   "takes");
				return;
			}
			end += from;
			evbuffer_drain(in, end);
			c->head_buf[end] = '\0';
			rc = http_parse_head(c->head_buf, end, &c->head);
			if (rc != 0) {
				send_error(c, rc, rc == 414   ? "the request target is too long"
						  : rc == 431 ? "too many header lines"
						  : rc == 505 ? "only HTTP/1.0 and HTTP/1.1"
						  : rc == 501 ? "not supported here (request bodies need a "
								"Content-Length; targets start with '/')"
							      : "malformed request");
				return;
			}
			if (c->head.content_length > h->p.max_body_bytes) {
				char msg[128];

				snprintf(msg, sizeof(msg), "the body is larger than %u bytes (api.max_body_bytes)",
					 h->p.max_body_bytes);
				send_error(c, 413, msg);
				return;
			}
			c->body_len = c->head.content_length;
			c->state = CONN_BODY;
			continue;
		}
		if (c->state == CONN_BODY) {
			const char *body;

			if (avail < c->body_len)
				return;
			body = c->body_len > 0 ? (const char *)evbuffer_pullup(in, (ev_ssize_t)c->body_len)
					       : "";
			dispatch(c, body);
			evbuffer_drain(in, c->body_len);
			return; /* reading resumes once the answer has left */
		}
		return;
	}
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct httpd_conn *c = arg;

	(void)bev;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	c->h->st.output_bytes -= c->queued;
	c->queued = 0;
	if (c->state == CONN_CLOSING) {
		conn_close(c, false);
		return;
	}
	if (c->state == CONN_WRITING) {
		begin_idle(c);
		read_cb(c->bev, c); /* a request that arrived meanwhile */
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct httpd_conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(c, true);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_IDLE:
		c->h->st.idle_closed++;
		conn_close(c, false);
		break;
	case CONN_HEAD:
	case CONN_BODY:
		send_error(c, 408, "the request did not arrive in time");
		break;
	case CONN_WRITING:
	case CONN_CLOSING:
		c->h->st.timed_out++; /* the reader does not read: give up on it */
		conn_close(c, false);
		break;
	case CONN_HANDLING:
		break;
	}
}

/* Bytes the kernel holds for the connection that it has not handed over yet. */
static int
unread_bytes(const struct httpd_conn *c)
{
	int n = 0;

	return ioctl(bufferevent_getfd(c->bev), FIONREAD, &n) == 0 ? n : 1;
}

/*
 * The idle connection that has waited longest, to make room for a new one: one with nothing
 * to read (a client that just sent its request is about to be served, not idle).
 */
static struct httpd_conn *
oldest_idle(struct httpd *h)
{
	struct httpd_conn *c, *best = NULL;

	for (c = h->conns; c != NULL; c = c->next)
		if (c->state == CONN_IDLE && unread_bytes(c) == 0 &&
		    (best == NULL || c->idle_since.tv_sec < best->idle_since.tv_sec ||
		     (c->idle_since.tv_sec == best->idle_since.tv_sec &&
		      c->idle_since.tv_nsec < best->idle_since.tv_nsec)))
			best = c;
	return best;
}

/*
 * A connection whose client has already hung up, its end not read yet (the loop is busy): the
 * first to go when the server is full, whatever it was doing (an answer it waits for is
 * cancelled), before a live idle one.
 */
static struct httpd_conn *
hung_up(struct httpd *h)
{
	struct httpd_conn *c;

	for (c = h->conns; c != NULL; c = c->next)
		if (c->state != CONN_WRITING && c->state != CONN_CLOSING && peer_gone(c))
			return c;
	return NULL;
}

static bool
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	static const char full[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
				   "application/json\r\nContent-Length: 55\r\nConnection: close\r\n\r\n"
				   "{\"error\":\"too many connections to the API; try again\"}";
	struct httpd *h = arg;
	struct httpd_conn *c;

	(void)l;
	(void)salen;
	if (h->st.open >= h->p.max_connections) {
		struct httpd_conn *victim = hung_up(h);

		if (victim != NULL) {
			h->st.idle_closed++;
			conn_close(victim, true);
			victim = NULL;
			goto room;
		}
		victim = oldest_idle(h);
		if (victim == NULL) {
			/* Best effort, never blocking: the client learns why, if it listens. */
			ssize_t sent = send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

			(void)sent;
			evutil_closesocket(fd);
			h->st.refused++;
			return;
		}
		h->st.idle_closed++;
		conn_close(victim, false);
	}
room:
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		h->st.refused++;
		return;
	}
	c->h = h;
	c->loopback = is_loopback(sa);
	c->bev = bufferevent_socket_new(h->p.base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(h->p.base, timer_cb, c);
	if (c->bev == NULL || c->timer == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->timer != NULL)
			event_free(c->timer);
		free(c);
		h->st.refused++;
		return;
	}
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	c->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = c;
	h->conns = c;
	h->st.open++;
	h->st.accepted++;
	begin_idle(c);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd *h = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(h->listener);
}

/* accept() failed (EMFILE, ENFILE, ENOMEM, ...): pause instead of spinning on it. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct httpd *h = arg;
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_PAUSE_MS * 1000};
	int err = EVUTIL_SOCKET_ERROR();

	h->st.accept_errors++;
	LOG_LIMITED(LOG_EVERY_S, WARNING, API,
		    "API: cannot accept a connection: %s (%llu times so far); pausing %d ms",
		    evutil_socket_error_to_string(err), (unsigned long long)h->st.accept_errors,
		    ACCEPT_PAUSE_MS);
	evconnlistener_disable(l);
	evtimer_add(h->resume, &tv);
}

struct httpd *
httpd_create(const struct httpd_params *params, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct httpd *h;

	if (evutil_parse_sockaddr_port(params->listen, (struct sockaddr *)&ss, &sslen) != 0 ||
	    strrchr(params->listen, ':') == NULL) {
		snprintf(err, err_len, "api.listen '%s' must be ADDRESS:PORT (e.g. 127.0.0.1:8080 or "
				       "[::1]:8080)",
			 params->listen);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	h->p = *params;
	h->resume = evtimer_new(h->p.base, resume_cb, h);
	h->listener = evconnlistener_new_bind(h->p.base, accept_cb, h,
					      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						      LEV_OPT_CLOSE_ON_EXEC,
					      128, (struct sockaddr *)&ss, sslen);
	if (h->resume == NULL || h->listener == NULL) {
		snprintf(err, err_len, "api.listen %s: cannot listen: %s", params->listen,
			 strerror(errno));
		httpd_destroy(h);
		return NULL;
	}
	evconnlistener_set_error_cb(h->listener, accept_error_cb);
	return h;
}

void
httpd_destroy(struct httpd *h)
{
	if (h == NULL)
		return;
	while (h->conns != NULL)
		conn_close(h->conns, false);
	if (h->listener != NULL)
		evconnlistener_free(h->listener);
	if (h->resume != NULL)
		event_free(h->resume);
	free(h);
}

void
httpd_get_stats(const struct httpd *h, struct httpd_stats *st)
{
	*st = h->st;
}
