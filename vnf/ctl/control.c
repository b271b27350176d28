/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "control.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "datapath.h"
#include "export.h"
#include "flow_record.h"
#include "httpd.h"
#include "log.h"
#include "offload.h"
#include "ofconn.h"
#include "telemetry.h"
#include "yaml_doc.h"

/* The control thread's poll of the data path: every POLL_MIN_US while it brings something
 * (records, asks, answers), doubling to POLL_MAX_US while it brings nothing, so an idle
 * classifier wakes 100 times a second, not 1,000. At the longest period a worker's record ring
 * (16,384) holds 10 ms of flows ending at 1.6 million a second; API requests wait at most
 * that much longer for their first poll. */
#define POLL_MIN_US 1000
#define POLL_MAX_US 10000
#define TELEMETRY_INTERVAL_MS 500
#define EXPORT_DRAIN_MS 2000 /* at exit, a slow TCP collector gets this long to take the rest */
#define MAX_OUTPUT_BYTES (64u << 20) /* answers queued for slow readers, all connections */

struct control {
	struct control_params p;
	struct event_base *base;
	struct httpd *http;
	struct event *poll;
	uint32_t poll_us; /* the poll's current period */
	bool stopping; /* a signal came: the offload's rules go first, then the data path */
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the link: records and asks from the data path, through the offload ---- */

/* A finished flow, with the switch's counts if it had any: the JSON sink, then IPFIX. */
static void
record_out(struct control_link *l, const struct flow_record *rec)
{
	l->write(l->write_ctx, rec);
	if (l->export != NULL)
		export_record(l->export, rec);
}

void
control_link_record(void *ctx, const struct flow_record *rec)
{
	struct control_link *l = ctx;

	if (rec->interim) {
		/* A long flow's counts so far: for the collector only (the JSON records are
		 * finished flows), without the switch's share, which comes at its end. */
		if (l->export != NULL)
			export_record(l->export, rec);
		return;
	}
	if (l->offload != NULL)
		offload_record(l->offload, rec, mono_ms());
	else
		record_out(l, rec);
}

void
control_link_ask(void *ctx, const struct offload_ask *ask)
{
	struct control_link *l = ctx;
	struct offload_notice n = {.key = ask->key, .flow_id = ask->flow_id, .kind = OFFLOAD_REFUSED};

	if (l->offload != NULL)
		offload_ask(l->offload, ask, mono_ms());
	else if (ask->kind == OFFLOAD_ASK)
		(void)datapath_offload_notify(l->dp, ask->worker, &n); /* not running (yet) */
}

void
control_link_policy(void *ctx, const struct policy *p)
{
	struct control_link *l = ctx;

	if (l->offload != NULL)
		offload_policy(l->offload, p, mono_ms());
}

static int
link_send(void *ctx, const struct of_buf *msg)
{
	struct control_link *l = ctx;

	return l->conn != NULL ? ofconn_send(l->conn, msg) : -1;
}

static bool
link_notify(void *ctx, uint16_t worker, const struct offload_notice *n)
{
	struct control_link *l = ctx;

	return datapath_offload_notify(l->dp, worker, n);
}

static void
link_drain(void *ctx, uint16_t worker)
{
	struct control_link *l = ctx;

	datapath_offload_drain(l->dp, worker);
}

static void
link_write(void *ctx, const struct flow_record *rec)
{
	record_out(ctx, rec);
}

static void
link_say(void *ctx, bool warning, const char *text)
{
	(void)ctx;
	if (warning)
		LOG_LIMITED(10, WARNING, CONTROL, "offload: %s", text);
	else
		LOG_LIMITED(10, INFO, CONTROL, "offload: %s", text);
}

static void
conn_connected(void *ctx)
{
	struct control_link *l = ctx;

	offload_connected(l->offload, mono_ms());
}

static void
conn_disconnected(void *ctx)
{
	struct control_link *l = ctx;

	offload_disconnected(l->offload, mono_ms());
}

static void
conn_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct control_link *l = ctx;

	offload_message(l->offload, msg, len, mono_ms());
}

/* The offload and its switch connection, when the config names a switch. */
static int
start_offload(struct control *c, char *err, size_t err_len)
{
	struct control_link *l = c->p.link;
	struct offload_params op = {
		.cfg = c->p.cfg,
		.send = link_send,
		.notify = link_notify,
		.drain_asks = link_drain,
		.write_record = link_write,
		.say = link_say,
		.ctx = l,
	};
	struct ofconn_params cp = {
		.base = c->base,
		.target = c->p.cfg->offload_switch,
		.connected = conn_connected,
		.disconnected = conn_disconnected,
		.message = conn_message,
		.ctx = l,
	};

	l->offload = offload_create(&op, datapath_policy(c->p.dp));
	if (l->offload == NULL) {
		snprintf(err, err_len, "offload: out of memory for %u flows", c->p.cfg->offload_max_flows);
		return -1;
	}
	l->conn = ofconn_create(&cp, err, err_len);
	if (l->conn == NULL) {
		offload_destroy(l->offload);
		l->offload = NULL;
		return -1;
	}
	if (c->p.api != NULL) {
		c->p.api->offload = l->offload;
		c->p.api->ofconn = l->conn;
	}
	LOG(NOTICE, CONTROL, "offload: decided flows go to the switch at %s (table %u, up to %u "
			     "flows, %u FLOW_MODs/s)",
	    c->p.cfg->offload_switch, c->p.cfg->offload_table, c->p.cfg->offload_max_flows,
	    c->p.cfg->offload_flow_mods_per_s);
	return 0;
}

static void
stop_offload(struct control *c)
{
	struct control_link *l = c->p.link;

	struct offload_stats st;

	if (l == NULL || l->offload == NULL)
		return;
	offload_get_stats(l->offload, &st);
	LOG(NOTICE, CONTROL, "offload: %llu flows offloaded (%llu refused: %llu full, %llu queue, "
			     "%llu by the switch); the switch carried %llu packets itself; %llu "
			     "records got its counts, %llu late; %llu FLOW_MODs, %llu errors",
	    (unsigned long long)st.installed,
	    (unsigned long long)(st.refused_full + st.refused_queue + st.refused_error),
	    (unsigned long long)st.refused_full, (unsigned long long)st.refused_queue,
	    (unsigned long long)st.refused_error, (unsigned long long)st.switch_packets,
	    (unsigned long long)st.records_merged, (unsigned long long)st.records_late,
	    (unsigned long long)st.flow_mods, (unsigned long long)st.flow_mod_errors);
	if (c->p.api != NULL) {
		c->p.api->offload = NULL;
		c->p.api->ofconn = NULL;
	}
	/* Records still to come go straight to the sink (without the switch's counts). */
	ofconn_destroy(l->conn);
	l->conn = NULL;
	offload_destroy(l->offload);
	l->offload = NULL;
}

static enum api_method
method_of(const char *m)
{
	if (strcmp(m, "GET") == 0)
		return API_GET;
	if (strcmp(m, "POST") == 0)
		return API_POST;
	if (strcmp(m, "PUT") == 0)
		return API_PUT;
	if (strcmp(m, "DELETE") == 0)
		return API_DELETE;
	return API_OTHER;
}

/* The API's answer, as the HTTP server sends it. */
static void
to_http(const struct api_response *a, struct httpd_response *h)
{
	h->status = a->status != 0 ? a->status : 500;
	h->content_type = a->content_type != NULL ? a->content_type : "application/json";
	h->allow = a->allow;
	h->headers = a->headers;
	h->body = a->body;
	h->len = a->body != NULL ? a->len : 0;
	h->owned = a->body;
}

static bool
on_request(void *ctx, struct httpd_conn *conn, const struct httpd_request *req,
	   struct httpd_response *resp)
{
	struct control *c = ctx;
	struct api_response held;
	struct api_request ar = {
		.method = method_of(req->method),
		.conn = conn,
		.path = req->path,
		.query = req->query,
		.body = req->body,
		.body_len = req->body_len,
		.authorization = req->authorization,
		.peer_loopback = req->peer_loopback,
	};

	if (api_handle(c->p.api, &ar, &held) == API_PENDING)
		return false;
	to_http(&held, resp);
	return true;
}

/* The API's later answer (a request to the workers came back). */
static void
api_reply(void *ctx, void *conn, struct api_response *resp)
{
	struct httpd_response h;

	(void)ctx;
	to_http(resp, &h); /* the server frees the body */
	httpd_respond(conn, &h);
	resp->body = NULL;
}

static void
on_closed(void *ctx, struct httpd_conn *conn)
{
	struct control *c = ctx;

	api_cancel(c->p.api, conn);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;
	struct control_link *l = c->p.link;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 0};

	(void)fd;
	(void)what;
	if (l != NULL && l->export != NULL)
		export_tick(l->export, mono_ms());
	if (l != NULL && l->offload != NULL) {
		uint64_t now = mono_ms();

		offload_tick(l->offload, now);
		/* A stop removes the switch's rules first (their counts come back), then the
		 * workers flush every flow, with those counts waiting for their records. */
		if (c->stopping && offload_stopped(l->offload, now))
			datapath_stop(c->p.dp);
	}
	if (datapath_poll(c->p.dp)) {
		event_base_loopbreak(c->base);
		return;
	}
	if (datapath_active(c->p.dp) || c->stopping)
		c->poll_us = POLL_MIN_US;
	else if (c->poll_us < POLL_MAX_US)
		c->poll_us = c->poll_us * 2 < POLL_MAX_US ? c->poll_us * 2 : POLL_MAX_US;
	tv.tv_usec = (suseconds_t)c->poll_us;
	evtimer_add(c->poll, &tv);
}

static void
on_telemetry(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;

	(void)fd;
	(void)what;
	telemetry_publish(c->p.dp, c->p.link != NULL ? c->p.link->offload : NULL);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct control *c = arg;

	(void)what;
	LOG(NOTICE, CONTROL, "%s: stopping rx, flushing every flow", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (c->p.link != NULL && c->p.link->offload != NULL && !c->stopping) {
		c->stopping = true;
		offload_stop(c->p.link->offload, mono_ms()); /* on_poll stops the data path after */
		return;
	}
	datapath_stop(c->p.dp); /* on_poll ends the loop once the lcores are done */
}

static char *
read_file(const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long n;

	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= (long)YAML_DOC_MAX_BYTES &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) != NULL) {
		if (fread(text, 1, (size_t)n, f) != (size_t)n) {
			free(text);
			text = NULL;
		} else {
			text[n] = '\0';
		}
	}
	if (text == NULL)
		snprintf(err, err_len, "%s: cannot read (or larger than %u bytes)", path,
			 YAML_DOC_MAX_BYTES);
	fclose(f);
	return text;
}

/* export.ipfix from the reloaded file: started, changed or stopped. The old one stays on error. */
static void
reload_export(struct control *c, const char *text)
{
	struct control_link *l = c->p.link;
	struct config *cfg = malloc(sizeof(*cfg));
	char err[CONFIG_ERR_MAX];

	if (l == NULL || cfg == NULL) {
		free(cfg);
		return;
	}
	config_defaults(cfg);
	if (config_load_string(cfg, c->p.config_path, text, err, sizeof(err)) != 0) {
		LOG(ERR, CONTROL, "SIGHUP: export.ipfix unchanged: %s", err);
		free(cfg);
		return;
	}
	if (cfg->ipfix_collector[0] == '\0') {
		if (l->export != NULL) {
			LOG(NOTICE, CONTROL, "SIGHUP: IPFIX export stopped");
			if (c->p.api != NULL)
				c->p.api->export = NULL;
			export_destroy(l->export, 0);
			l->export = NULL;
			datapath_set_active_timeout(c->p.dp, 0);
		}
	} else if (l->export == NULL) {
		l->export = export_create(c->base, c->p.dp, cfg, err, sizeof(err));
		if (l->export == NULL) {
			LOG(ERR, CONTROL, "SIGHUP: no IPFIX export: %s", err);
		} else {
			datapath_set_active_timeout(c->p.dp, cfg->ipfix_active_timeout_ms);
			if (c->p.api != NULL)
				c->p.api->export = l->export;
		}
	} else if (export_reconfigure(l->export, cfg, err, sizeof(err)) != 0) {
		LOG(ERR, CONTROL, "SIGHUP: export.ipfix unchanged: %s", err);
	}
	config_release(cfg);
	free(cfg);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct control *c = arg;
	char err[CONFIG_ERR_MAX];
	char *text;

	(void)sig;
	(void)what;
	if (c->p.config_path == NULL || c->p.api == NULL) {
		LOG(WARNING, CONTROL, "SIGHUP: no config file to reload");
		return;
	}
	text = read_file(c->p.config_path, err, sizeof(err));
	if (text == NULL || api_apply_policy(c->p.api, text, c->p.config_path, false, err,
					     sizeof(err)) != 0) {
		LOG(ERR, CONTROL, "SIGHUP: reload failed, the old policy stays: %s", err);
	} else {
		LOG(NOTICE, CONTROL, "SIGHUP: policy reloaded from %s (the policy and export.ipfix; "
				     "the data path settings need a restart)",
		    c->p.config_path);
		reload_export(c, text);
	}
	free(text);
}

static int
start_http(struct control *c, char *err, size_t err_len)
{
	struct httpd_params hp = {
		.base = c->base,
		.listen = c->p.listen,
		.max_connections = c->p.limits.max_connections,
		.max_head_bytes = c->p.limits.max_header_bytes,
		.max_body_bytes = c->p.limits.max_body_bytes,
		.idle_timeout_ms = c->p.limits.idle_timeout_ms,
		.request_timeout_ms = c->p.limits.request_timeout_ms,
		.write_timeout_ms = c->p.limits.write_timeout_ms,
		.max_output_bytes = MAX_OUTPUT_BYTES,
		.handler = on_request,
		.closed = on_closed,
		.ctx = c,
	};

	c->http = httpd_create(&hp, err, err_len);
	if (c->http == NULL)
		return -1;
	c->p.api->reply = api_reply;
	c->p.api->reply_ctx = c;
	c->p.api->http = c->http;
	LOG(NOTICE, API, "API on http://%s/v1/ (metrics at /metrics, the live web view at /)",
	    c->p.listen);
	return 0;
}

int
control_run(const struct control_params *params, char *err, size_t err_len)
{
	struct event *poll = NULL, *tel = NULL, *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct timeval poll_tv = {.tv_sec = 0, .tv_usec = POLL_MIN_US};
	struct timeval tel_tv = {.tv_sec = 0, .tv_usec = TELEMETRY_INTERVAL_MS * 1000};
	struct control c = {.p = *params};
	int rc = -1;

	/* A client that hangs up mid-answer must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	c.base = event_base_new();
	if (c.base == NULL) {
		snprintf(err, err_len, "cannot create the event loop");
		return -1;
	}
	if (c.p.api != NULL && c.p.listen != NULL && c.p.listen[0] != '\0' &&
	    start_http(&c, err, err_len) != 0)
		goto out;
	if (c.p.link != NULL && c.p.cfg != NULL && c.p.cfg->offload_switch[0] != '\0' &&
	    start_offload(&c, err, err_len) != 0)
		goto out;
	if (c.p.link != NULL && c.p.cfg != NULL && c.p.cfg->ipfix_collector[0] != '\0') {
		c.p.link->export = export_create(c.base, c.p.dp, c.p.cfg, err, err_len);
		if (c.p.link->export == NULL)
			goto out;
		if (c.p.api != NULL)
			c.p.api->export = c.p.link->export;
	}
	poll = c.poll = evtimer_new(c.base, on_poll, &c);
	c.poll_us = POLL_MIN_US;
	tel = event_new(c.base, -1, EV_PERSIST, on_telemetry, &c);
	sigterm = evsignal_new(c.base, SIGTERM, on_stop, &c);
	sigint = evsignal_new(c.base, SIGINT, on_stop, &c);
	sighup = evsignal_new(c.base, SIGHUP, on_hup, &c);
	if (poll == NULL || tel == NULL || sigterm == NULL || sigint == NULL || sighup == NULL ||
	    event_add(poll, &poll_tv) != 0 || event_add(tel, &tel_tv) != 0 ||
	    event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0 ||
	    event_add(sighup, NULL) != 0) {
		snprintf(err, err_len, "cannot set up the control events");
		goto out;
	}
	telemetry_publish(c.p.dp, NULL);
	event_base_dispatch(c.base);
	rc = 0;
out:
	stop_offload(&c);
	if (c.p.link != NULL && c.p.link->export != NULL) {
		if (c.p.api != NULL)
			c.p.api->export = NULL;
		export_destroy(c.p.link->export, EXPORT_DRAIN_MS);
		c.p.link->export = NULL;
	}
	telemetry_unpublish();
	httpd_destroy(c.http); /* pending answers are dropped with their connections */
	if (c.p.api != NULL) {
		c.p.api->reply = NULL;
		c.p.api->http = NULL;
	}
	if (poll != NULL)
		event_free(poll);
	if (tel != NULL)
		event_free(tel);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (sighup != NULL)
		event_free(sighup);
	event_base_free(c.base);
	return rc;
}
