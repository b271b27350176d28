/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * One OpenFlow connection to a switch, on the control thread's libevent loop: connect
 * (unix:PATH or tcp:HOST:PORT), HELLO both ways with the version checked (1.3), ECHO
 * answered, an ECHO sent when the switch has been quiet and the connection dropped when it
 * stays quiet, whole messages handed up, reconnects with back-off (100 ms doubling to 5 s)
 * for as long as it lives. Output is bounded: a send that would queue more than
 * OFCONN_MAX_OUTPUT bytes for a slow switch is refused (the caller tries again later).
 *
 * It moves bytes; openflow.c knows what they mean, offload.c what to do with them.
 */
#ifndef FLOWTAG_OFCONN_H
#define FLOWTAG_OFCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openflow.h"

struct event_base;

#define OFCONN_MAX_OUTPUT (4u << 20)
#define OFCONN_ECHO_IDLE_MS 5000 /* quiet this long: send an ECHO_REQUEST */
#define OFCONN_DEAD_MS 15000 /* quiet this long: the switch is gone, reconnect */

struct ofconn_params {
	struct event_base *base;
	const char *target; /* unix:PATH or tcp:HOST:PORT (config.c checked the form) */
	void (*connected)(void *ctx);
	void (*disconnected)(void *ctx);
	/* One whole message (its header's length), any type but HELLO and ECHO. */
	void (*message)(void *ctx, const uint8_t *msg, size_t len);
	void *ctx;
};

struct ofconn_stats {
	bool up;
	uint64_t connects; /* sessions that got as far as HELLO */
	uint64_t attempts;
	uint64_t drops; /* sessions that ended */
	uint64_t sends_refused; /* output full */
	uint64_t messages_in, messages_out;
	char last_error[160];
};

/* NULL with a message in err (a target it cannot parse). Starts connecting at once. */
struct ofconn *ofconn_create(const struct ofconn_params *p, char *err, size_t err_len);
void ofconn_destroy(struct ofconn *c);

/* Queue a message (or several, back to back). 0, or -1: not connected, or output full. */
int ofconn_send(struct ofconn *c, const struct of_buf *b);
bool ofconn_up(const struct ofconn *c);
/* Bytes queued for the switch, not yet written. */
size_t ofconn_output_bytes(const struct ofconn *c);
void ofconn_get_stats(const struct ofconn *c, struct ofconn_stats *st);

#endif
