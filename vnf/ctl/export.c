/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "datapath.h"
#include "flow_record.h"
#include "log.h"
#include "policy.h"
#include "tag.h"

_Static_assert(EXPORT_TARGET_MAX == CONFIG_STR_MAX, "a collector's address fits");

struct export {
	struct event_base *base;
	struct datapath *dp;
	struct ipfix *ipfix;
	struct ipfix_conn *conn;
	char collector[EXPORT_TARGET_MAX];
	uint32_t domain, pen, message_bytes, queue_bytes;
	uint32_t refresh_ms;
	uint32_t active_timeout_ms;
	uint64_t next_refresh_ms;
	bool templates_due; /* a new TCP session: templates before anything else */
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
send_msg(void *ctx, const uint8_t *msg, size_t len, uint32_t records)
{
	struct export *x = ctx;

	return ipfix_conn_send(x->conn, msg, len, records);
}

static void
connected(void *ctx)
{
	struct export *x = ctx;

	/* Records appended while there was no session cannot lead the new one. */
	ipfix_discard(x->ipfix);
	x->templates_due = true;
}

static struct ipfix *
new_encoder(struct export *x, const struct config *cfg, char *err, size_t err_len)
{
	struct ipfix_params ip = {
		.domain = cfg->ipfix_domain,
		.pen = cfg->ipfix_enterprise_number,
		.mtu = (uint16_t)cfg->ipfix_message_bytes,
		.max_tracked = cfg->ipfix_long_flows,
		.names = datapath_names(x->dp),
		.send = send_msg,
		.ctx = x,
	};

	return ipfix_create(&ip, err, err_len);
}

static struct ipfix_conn *
new_conn(struct export *x, const char *collector, uint32_t queue_bytes, char *err, size_t err_len)
{
	struct ipfix_conn_params cp = {
		.base = x->base,
		.target = collector,
		.max_queue_bytes = queue_bytes,
		.connected = connected,
		.ctx = x,
	};

	return ipfix_conn_create(&cp, err, err_len);
}

static void
remember(struct export *x, const struct config *cfg)
{
	snprintf(x->collector, sizeof(x->collector), "%s", cfg->ipfix_collector);
	x->domain = cfg->ipfix_domain;
	x->pen = cfg->ipfix_enterprise_number;
	x->message_bytes = cfg->ipfix_message_bytes;
	x->queue_bytes = cfg->ipfix_queue_bytes;
	x->refresh_ms = cfg->ipfix_template_refresh_ms;
	x->active_timeout_ms = cfg->ipfix_active_timeout_ms;
}

struct export *
export_create(struct event_base *base, struct datapath *dp, const struct config *cfg, char *err,
	      size_t err_len)
{
	struct export *x = calloc(1, sizeof(*x));

	if (x == NULL) {
		snprintf(err, err_len, "export: out of memory");
		return NULL;
	}
	x->base = base;
	x->dp = dp;
	remember(x, cfg);
	x->ipfix = new_encoder(x, cfg, err, err_len);
	if (x->ipfix == NULL) {
		free(x);
		return NULL;
	}
	x->conn = new_conn(x, cfg->ipfix_collector, cfg->ipfix_queue_bytes, err, err_len);
	if (x->conn == NULL) {
		ipfix_destroy(x->ipfix);
		free(x);
		return NULL;
	}
	if (!ipfix_conn_is_tcp(x->conn))
		x->templates_due = true; /* UDP: now, then every refresh */
	LOG(NOTICE, CONTROL, "ipfix: flow records go to %s (observation domain %u, enterprise "
			     "number %u, active timeout %u s)",
	    x->collector, x->domain, x->pen, x->active_timeout_ms / 1000);
	export_tick(x, mono_ms());
	return x;
}

void
export_destroy(struct export *x, uint32_t wait_ms)
{
	struct export_stats es;
	struct ipfix_conn_stats cs;
	uint64_t deadline;

	if (x == NULL)
		return;
	ipfix_flush(x->ipfix, mono_ms(), 0);
	/* Let the loop write what is queued (a slow TCP collector), bounded. */
	deadline = mono_ms() + wait_ms;
	for (;;) {
		ipfix_conn_get_stats(x->conn, &cs);
		if (cs.queued_bytes == 0 || !cs.up || mono_ms() >= deadline)
			break;
		event_base_loop(x->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		{
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};

			nanosleep(&ts, NULL);
		}
	}
	export_get_stats(x, &es);
	LOG(NOTICE, CONTROL, "ipfix: %llu records to %s (%llu interim), %llu not exported, %llu "
			     "messages",
	    (unsigned long long)(es.ipfix.records - export_records_not_exported(&es)),
	    x->collector, (unsigned long long)es.ipfix.interim_records,
	    (unsigned long long)export_records_not_exported(&es),
	    (unsigned long long)es.ipfix.messages);
	ipfix_conn_destroy(x->conn); /* what is still queued goes once more, without waiting */
	ipfix_destroy(x->ipfix);
	free(x);
}

/* The chain's NSH service path id, looked up by name in the policy in force. */
static uint32_t
chain_spi(const struct export *x, const struct flow_record *r)
{
	const struct policy *p = datapath_policy(x->dp);
	uint32_t i, n;

	if (r->action != POLICY_CHAIN || p == NULL)
		return 0;
	n = policy_chain_count(p);
	for (i = 0; i < n; i++) {
		const struct policy_chain *c = policy_chain_at(p, i);

		if (strcmp(c->name, r->chain) == 0)
			return c->tag.kind == TAG_NSH ? c->tag.spi : 0;
	}
	return 0;
}

void
export_record(struct export *x, const struct flow_record *r)
{
	uint64_t now = mono_ms();

	if (ipfix_conn_is_tcp(x->conn) && !ipfix_conn_up(x->conn)) {
		ipfix_skip(x->ipfix, r); /* no session: counted, not held */
		return;
	}
	if (x->templates_due)
		export_tick(x, now); /* a collector must know the templates before any record */
	ipfix_record(x->ipfix, r, chain_spi(x, r), now);
}

void
export_tick(struct export *x, uint64_t now_ms)
{
	bool tcp = ipfix_conn_is_tcp(x->conn);

	if (x->templates_due || (!tcp && now_ms >= x->next_refresh_ms)) {
		x->templates_due = false;
		ipfix_templates(x->ipfix, now_ms);
		x->next_refresh_ms = now_ms + x->refresh_ms;
	}
	ipfix_flush(x->ipfix, now_ms, EXPORT_FLUSH_MS);
}

int
export_reconfigure(struct export *x, const struct config *cfg, char *err, size_t err_len)
{
	bool new_conn_needed = strcmp(cfg->ipfix_collector, x->collector) != 0 ||
			       cfg->ipfix_queue_bytes != x->queue_bytes;
	bool new_encoder_needed = cfg->ipfix_domain != x->domain ||
				  cfg->ipfix_enterprise_number != x->pen ||
				  cfg->ipfix_message_bytes != x->message_bytes;
	struct ipfix_conn *conn = NULL;

	if (new_encoder_needed) {
		if (ipfix_reconfigure(x->ipfix, cfg->ipfix_domain, cfg->ipfix_enterprise_number,
				      (uint16_t)cfg->ipfix_message_bytes, err, err_len) != 0)
			return -1;
		x->templates_due = true;
	}
	if (new_conn_needed) {
		conn = new_conn(x, cfg->ipfix_collector, cfg->ipfix_queue_bytes, err, err_len);
		if (conn == NULL)
			return -1;
		ipfix_flush(x->ipfix, mono_ms(), 0); /* the last records to the old collector */
		ipfix_conn_destroy(x->conn);
		x->conn = conn;
		x->templates_due = !ipfix_conn_is_tcp(conn);
	}
	if (cfg->ipfix_active_timeout_ms != x->active_timeout_ms)
		datapath_set_active_timeout(x->dp, cfg->ipfix_active_timeout_ms);
	if (cfg->ipfix_template_refresh_ms != x->refresh_ms)
		x->next_refresh_ms = mono_ms() + cfg->ipfix_template_refresh_ms;
	remember(x, cfg);
	export_tick(x, mono_ms());
	return 0;
}

void
export_get_stats(const struct export *x, struct export_stats *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->collector, sizeof(st->collector), "%s", x->collector);
	st->domain = x->domain;
	st->active_timeout_ms = x->active_timeout_ms;
	ipfix_get_stats(x->ipfix, &st->ipfix);
	ipfix_conn_get_stats(x->conn, &st->conn);
}
