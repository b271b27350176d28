/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The way to an IPFIX collector (RFC 7011 §10): UDP or TCP, on the control thread's libevent
 * base, never blocking it.
 *
 * UDP: a connected socket; a message the socket cannot take now waits in a bounded queue of
 * datagrams and goes when it can; a refusal (ICMP port unreachable, seen on a later send) loses
 * that datagram, counted. TCP: a non-blocking connect, output bounded, and on a drop a
 * reconnect with back-off (100 ms, doubling to 5 s); `connected` fires on each connection so
 * the exporter sends its templates first (RFC 7011 §8.1: a new TCP session starts without
 * them). A message that finds no connection or a full queue is refused: the caller counts its
 * records as not exported. The data path is never involved.
 */
#ifndef FLOWTAG_IPFIX_CONN_H
#define FLOWTAG_IPFIX_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

struct ipfix_conn_params {
	struct event_base *base;
	const char *target; /* udp://HOST:PORT or tcp://HOST:PORT ([IPv6] in brackets) */
	size_t max_queue_bytes; /* messages waiting for the socket, at most */
	void (*connected)(void *ctx); /* a (new) session: send the templates */
	void *ctx;
};

struct ipfix_conn_stats {
	uint64_t connects; /* TCP sessions established (UDP: 1 at start) */
	uint64_t drops; /* TCP sessions lost */
	uint64_t refused_down; /* messages refused: no session */
	uint64_t refused_full; /* messages refused: the queue was full */
	uint64_t send_errors; /* datagrams the kernel refused (collector unreachable, ...) */
	uint64_t records_lost; /* the records in those datagrams */
	uint64_t bytes_lost; /* TCP: queued when a session dropped (message parts included) */
	uint64_t bytes_ignored; /* TCP: what the collector sent (it has nothing to say) */
	uint64_t queued_bytes; /* waiting now */
	bool up;
	char last_error[192];
};

/* NULL with err (bad target, a name that does not resolve, no socket). */
struct ipfix_conn *ipfix_conn_create(const struct ipfix_conn_params *p, char *err, size_t err_len);
/* What is queued is written once more, without waiting; then the socket closes. */
void ipfix_conn_destroy(struct ipfix_conn *c);
/* Queue one message. False if refused (see above). */
bool ipfix_conn_send(struct ipfix_conn *c, const uint8_t *msg, size_t len, uint32_t records);
bool ipfix_conn_is_tcp(const struct ipfix_conn *c);
bool ipfix_conn_up(const struct ipfix_conn *c);
void ipfix_conn_get_stats(const struct ipfix_conn *c, struct ipfix_conn_stats *st);

#endif
