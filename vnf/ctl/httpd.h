/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The API's HTTP/1.1 server, on the control thread's event base (control.c owns the base;
 * this module runs the connections on it). Written for a daemon that runs for months next to
 * hostile clients, with every bound explicit:
 *
 *   connections        at most max_connections; beyond, the oldest idle keep-alive
 *                      connection is closed to make room, else the newcomer gets 503 (JSON)
 *   file descriptors   out of them (EMFILE), accepting pauses for a moment instead of
 *                      spinning, and the log says so once in a while, not per attempt
 *   request head       at most max_head_bytes (431 beyond), 64 header lines, a 4 KiB target
 *   body               at most max_body_bytes, from Content-Length (413 beyond, unread)
 *   time               idle keep-alive connections close after idle_timeout_ms; a request
 *                      must arrive whole within request_timeout_ms of its first byte (408),
 *                      and an answer must leave within write_timeout_ms
 *   output             answers queued on all connections together at most max_output_bytes;
 *                      beyond, new requests get 503 until the readers catch up
 * Errors are the API's JSON ({"error": ...}). A handler may answer later (a request to the
 * workers): the connection waits, reading nothing more, and if it closes meanwhile the
 * handler's `closed` callback drops the pending answer.
 */
#ifndef FLOWTAG_HTTPD_H
#define FLOWTAG_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct httpd;
struct httpd_conn;

struct httpd_request {
	const char *method;
	const char *path; /* percent-decoded */
	const char *query; /* raw, or NULL */
	const char *body;
	size_t body_len;
	const char *authorization;
	const char *accept;
	bool peer_loopback; /* the client connected from 127.0.0.0/8 or ::1 */
};

struct httpd_response {
	int status;
	const char *content_type;
	const char *allow; /* for 405 */
	const char *headers; /* more header lines, each ending "\r\n" (may be NULL) */
	const char *body;
	size_t len;
	void *owned; /* freed by the server once it has copied the answer (may be NULL) */
};

/* Returns true when *resp is the answer, false when it comes later (httpd_respond). */
typedef bool (*httpd_handler)(void *ctx, struct httpd_conn *conn, const struct httpd_request *req,
			      struct httpd_response *resp);
/* A connection waiting for a later answer went away: forget it, never respond to it. */
typedef void (*httpd_closed)(void *ctx, struct httpd_conn *conn);

struct httpd_params {
	struct event_base *base;
	const char *listen; /* "ADDR:PORT", "[ADDR6]:PORT" */
	uint32_t max_connections;
	uint32_t max_head_bytes;
	uint32_t max_body_bytes;
	uint32_t idle_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t write_timeout_ms;
	size_t max_output_bytes;
	httpd_handler handler;
	httpd_closed closed;
	void *ctx;
};

struct httpd_stats {
	uint64_t accepted;
	uint64_t refused; /* 503: no room for another connection, or too much output queued */
	uint64_t idle_closed; /* closed to make room, or idle too long */
	uint64_t timed_out; /* 408, or an answer that could not leave in time */
	uint64_t too_large; /* 413, 414, 431 */
	uint64_t bad; /* 400, 501, 505 */
	uint64_t accept_errors; /* EMFILE and the like */
	uint32_t open;
	uint64_t output_bytes; /* queued now */
};

/* Listening on params->listen. NULL with a message in err. */
struct httpd *httpd_create(const struct httpd_params *params, char *err, size_t err_len);
/* Closes every connection (no `closed` callbacks). NULL-safe. */
void httpd_destroy(struct httpd *h);
/* The later answer to a request whose handler returned false. */
void httpd_respond(struct httpd_conn *conn, const struct httpd_response *resp);
void httpd_get_stats(const struct httpd *h, struct httpd_stats *st);

#endif
