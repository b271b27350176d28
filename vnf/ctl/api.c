/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "datapath.h"
#include "dpi.h"
#include "flow_record.h"
#include "httpd.h"
#include "json.h"
#include "export.h"
#include "webui.h"
#include "offload.h"
#include "ofconn.h"
#include "parse.h"
#include "policy.h"
#include "stat_item.h"

#define SMALL_BODY (256 * 1024)
/* The web view's snapshot without its flows, at most: 512 applications, 256 rules of 160-byte
 * conditions (escaped), 32 chains. */
#define VIEW_JSON_MAX (512 * 128 + 256 * 1100 + 32 * 256 + 8192)
#define RECORD_JSON_TYPICAL 768 /* a record's JSON line, most of the time (the longest: 4 KiB) */
#define WORKER_TIMEOUT_MS 2000
#define FLUSH_TIMEOUT_MS 30000 /* a flush writes every record: longer */

/* ---- responses ---- */

static void
reply(struct api_response *resp, int status, struct json_buf *b)
{
	if (b->overflow) {
		free(b->p);
		resp->status = 500;
		resp->body = strdup("{\"error\":\"response too large\"}");
		resp->len = strlen(resp->body);
		resp->content_type = "application/json";
		return;
	}
	resp->status = status;
	resp->body = b->p;
	resp->len = b->used;
	if (resp->content_type == NULL)
		resp->content_type = "application/json";
}

static bool
start(struct json_buf *b, size_t size)
{
	char *p = malloc(size);

	if (p == NULL)
		return false;
	json_init(b, p, size);
	return true;
}

/* Room for `more` bytes after what is written (the buffer from start() grows). */
static bool
reserve(struct json_buf *b, size_t more)
{
	size_t need = b->used + more + 1, len = b->len * 2 > need ? b->len * 2 : need;
	char *p;

	if (need <= b->len)
		return true;
	p = realloc(b->p, len);
	if (p == NULL) {
		b->overflow = true;
		return false;
	}
	b->p = p;
	b->len = len;
	return true;
}

static void __attribute__((format(printf, 3, 4)))
error_reply(struct api_response *resp, int status, const char *fmt, ...)
{
	char msg[1024];
	struct json_buf b;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!start(&b, sizeof(msg) + 64))
		return;
	json_printf(&b, "{\"error\":");
	json_string(&b, msg);
	json_printf(&b, "}");
	reply(resp, status, &b);
}

/* ---- handlers ---- */

static const char *
proto_name(const struct api *api, uint16_t id)
{
	const struct dpi *names = datapath_names(api->dp);

	return names != NULL ? dpi_proto_name(names, id) : "?";
}

static void
sum_workers(const struct api *api, struct worker_stats *sum)
{
	uint32_t i, n = datapath_worker_count(api->dp);

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < n; i++) {
		struct worker_stats ws;

		datapath_worker_stats(api->dp, i, &ws);
		worker_stats_add(sum, &ws);
	}
}

/*
 * Packets the switch carried for offloaded flows (their rules' FLOW_REMOVED counts), added to
 * the workers' per-application and per-chain figures: what flowtag classified, wherever its
 * packets went. Returns false when offload is off.
 */
static bool
add_switch_counts(const struct api *api, struct worker_stats *sum, struct offload_stats *os)
{
	uint32_t i;

	if (api->offload == NULL)
		return false;
	offload_get_stats(api->offload, os);
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		sum->app_packets[i] += os->app_packets[i];
		sum->app_bytes[i] += os->app_bytes[i];
	}
	for (i = 0; i < POLICY_MAX_CHAINS; i++)
		sum->chain_packets[i] += os->chain_packets[i];
	return true;
}

static void
get_health(struct api *api, struct api_response *resp)
{
	struct json_buf b;

	if (!start(&b, 256))
		return;
	json_printf(&b, "{\"status\":\"ok\",\"uptime_s\":%llu}",
		    (unsigned long long)((uint64_t)time(NULL) - api->started_unix));
	reply(resp, 200, &b);
}

static void
get_ready(struct api *api, struct api_response *resp)
{
	uint32_t i, n = datapath_port_count(api->dp);
	bool ready = datapath_ready(api->dp);
	struct json_buf b;

	if (!start(&b, 4096))
		return;
	json_printf(&b, "{\"ready\":%s,\"ports\":[", ready ? "true" : "false");
	for (i = 0; i < n; i++) {
		struct datapath_port_info pi;

		datapath_port_info(api->dp, i, &pi);
		json_printf(&b, "%s{\"name\":", i ? "," : "");
		json_string(&b, pi.name);
		json_printf(&b, ",\"link\":\"%s\"}", pi.link_up ? "up" : "down");
	}
	json_printf(&b, "]}");
	reply(resp, ready ? 200 : 503, &b);
}

/* Every item of a stats table as "name":value, comma-first unless it opens the object. */
static void
items_json(struct json_buf *b, const struct stat_item *items, size_t n, const void *stats,
	   bool first)
{
	size_t k;

	for (k = 0; k < n; k++)
		json_printf(b, "%s\"%s\":%llu", first && k == 0 ? "" : ",", items[k].name,
			    (unsigned long long)stat_value(stats, &items[k]));
}

/* The drops: by malformed reason, and every counter of both tables that has a drop reason. */
static void
drops_json(struct json_buf *b, const struct worker_stats *w, const struct datapath_stats *ds)
{
	size_t k;
	int r;

	json_printf(b, "{\"malformed\":{");
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		json_printf(b, "%s\"%s\":%llu", r > PARSE_FIRST_MALFORMED ? "," : "",
			    parse_result_name((enum parse_result)r), (unsigned long long)w->parse[r]);
	json_printf(b, "}");
	for (k = 0; k < worker_stat_item_count; k++)
		if (worker_stat_items[k].drop_reason != NULL)
			json_printf(b, ",\"%s\":%llu", worker_stat_items[k].drop_reason,
				    (unsigned long long)stat_value(w, &worker_stat_items[k]));
	for (k = 0; k < datapath_stat_item_count; k++)
		if (datapath_stat_items[k].drop_reason != NULL)
			json_printf(b, ",\"%s\":%llu", datapath_stat_items[k].drop_reason,
				    (unsigned long long)stat_value(&ds->c, &datapath_stat_items[k]));
	json_printf(b, "}");
}

static void
offload_json(const struct api *api, struct json_buf *b)
{
	struct offload_stats os;
	struct ofconn_stats cs;

	if (api->offload == NULL) {
		json_printf(b, ",\"offload\":null");
		return;
	}
	offload_get_stats(api->offload, &os);
	json_printf(b, ",\"offload\":{");
	items_json(b, offload_stat_items, offload_stat_item_count, &os, true);
	if (api->ofconn != NULL) {
		ofconn_get_stats(api->ofconn, &cs);
		json_printf(b, ",\"switch\":{\"up\":%s,\"attempts\":%llu,\"connects\":%llu,"
			       "\"drops\":%llu,\"messages_in\":%llu,\"messages_out\":%llu,"
			       "\"sends_refused\":%llu,\"output_bytes\":%zu,\"last_error\":",
			    cs.up ? "true" : "false", (unsigned long long)cs.attempts,
			    (unsigned long long)cs.connects, (unsigned long long)cs.drops,
			    (unsigned long long)cs.messages_in, (unsigned long long)cs.messages_out,
			    (unsigned long long)cs.sends_refused, ofconn_output_bytes(api->ofconn));
		json_string(b, cs.last_error);
		json_printf(b, "}");
	}
	json_printf(b, "}");
}

/* The IPFIX export: what left for the collector, what did not, and the connection. */
static void
export_json(const struct api *api, struct json_buf *b)
{
	struct export_stats es;

	if (api->export == NULL) {
		json_printf(b, ",\"ipfix\":null");
		return;
	}
	export_get_stats(api->export, &es);
	json_printf(b, ",\"ipfix\":{\"collector\":");
	json_string(b, es.collector);
	json_printf(b, ",\"observation_domain\":%u,\"active_timeout_s\":%u,", es.domain,
		    es.active_timeout_ms / 1000);
	items_json(b, ipfix_stat_items, ipfix_stat_count, &es.ipfix, true);
	json_printf(b, ",\"records_not_exported\":%llu,\"long_flows_tracked\":%u",
		    (unsigned long long)export_records_not_exported(&es), es.ipfix.tracked);
	json_printf(b, ",\"connection\":{\"up\":%s,\"connects\":%llu,\"drops\":%llu,"
		       "\"refused_down\":%llu,\"refused_full\":%llu,\"send_errors\":%llu,"
		       "\"records_lost\":%llu,\"bytes_lost\":%llu,\"bytes_ignored\":%llu,"
		       "\"queued_bytes\":%llu,"
		       "\"last_error\":",
		    es.conn.up ? "true" : "false", (unsigned long long)es.conn.connects,
		    (unsigned long long)es.conn.drops, (unsigned long long)es.conn.refused_down,
		    (unsigned long long)es.conn.refused_full, (unsigned long long)es.conn.send_errors,
		    (unsigned long long)es.conn.records_lost, (unsigned long long)es.conn.bytes_lost,
		    (unsigned long long)es.conn.bytes_ignored, (unsigned long long)es.conn.queued_bytes);
	json_string(b, es.conn.last_error);
	json_printf(b, "}}");
}

static void
get_stats(struct api *api, struct api_response *resp)
{
	uint32_t i, np = datapath_port_count(api->dp), nw = datapath_worker_count(api->dp);
	struct datapath_stats ds;
	struct json_buf b;

	if (!start(&b, SMALL_BODY))
		return;
	datapath_get_stats(api->dp, &ds);
	json_printf(&b, "{\"ports\":[");
	for (i = 0; i < np; i++) {
		struct datapath_port_info pi;

		datapath_port_info(api->dp, i, &pi);
		json_printf(&b, "%s{\"name\":", i ? "," : "");
		json_string(&b, pi.name);
		json_printf(&b, ",\"link\":\"%s\",\"rx_packets\":%llu,\"tx_packets\":%llu,"
				"\"rx_errors\":%llu,\"rx_missed\":%llu,\"rx_nombuf\":%llu,"
				"\"tx_errors\":%llu}",
			    pi.link_up ? "up" : "down", (unsigned long long)pi.rx_packets,
			    (unsigned long long)pi.tx_packets, (unsigned long long)pi.rx_errors,
			    (unsigned long long)pi.rx_missed, (unsigned long long)pi.rx_nombuf,
			    (unsigned long long)pi.tx_errors);
	}
	json_printf(&b, "],\"workers\":[");
	for (i = 0; i < nw; i++) {
		struct worker_stats ws;

		datapath_worker_stats(api->dp, i, &ws);
		json_printf(&b, "%s{\"id\":%u", i ? "," : "", i);
		items_json(&b, worker_stat_items, worker_stat_item_count, &ws, false);
		json_printf(&b, "}");
	}
	json_printf(&b, "],\"datapath\":{");
	items_json(&b, datapath_stat_items, datapath_stat_item_count, &ds.c, true);
	json_printf(&b, "},\"drops\":");
	drops_json(&b, &ds.w, &ds);
	json_printf(&b, ",\"requests\":{\"in_flight\":%u,\"refused\":%llu},\"policies_retiring\":%u",
		    ds.requests_in_flight, (unsigned long long)ds.requests_refused,
		    ds.policies_retiring);
	if (api->http != NULL) {
		struct httpd_stats hs;

		httpd_get_stats(api->http, &hs);
		json_printf(&b, ",\"api\":{\"connections_open\":%u,\"accepted\":%llu,\"refused\":%llu,"
				"\"idle_closed\":%llu,\"timed_out\":%llu,\"too_large\":%llu,"
				"\"bad_requests\":%llu,\"accept_errors\":%llu,\"output_bytes\":%llu}",
			    hs.open, (unsigned long long)hs.accepted, (unsigned long long)hs.refused,
			    (unsigned long long)hs.idle_closed, (unsigned long long)hs.timed_out,
			    (unsigned long long)hs.too_large, (unsigned long long)hs.bad,
			    (unsigned long long)hs.accept_errors, (unsigned long long)hs.output_bytes);
	}
	offload_json(api, &b);
	export_json(api, &b);
	json_printf(&b, ",\"policy_version\":%u}", policy_version(datapath_policy(api->dp)));
	reply(resp, 200, &b);
}

static void
get_apps(struct api *api, struct api_response *resp)
{
	const struct dpi *names = datapath_names(api->dp);
	struct worker_stats sum;
	struct offload_stats os;
	struct json_buf b;
	bool first = true, offload;
	uint32_t i;

	if (!start(&b, SMALL_BODY))
		return;
	sum_workers(api, &sum);
	offload = add_switch_counts(api, &sum, &os);
	json_printf(&b, "{\"apps\":[");
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		if (sum.app_packets[i] == 0 && sum.app_flows[i] == 0)
			continue;
		json_printf(&b, "%s{\"app\":", first ? "" : ",");
		json_string(&b, proto_name(api, (uint16_t)i));
		json_printf(&b, ",\"id\":%u,\"packets\":%llu,\"bytes\":%llu,\"flows\":%llu", i,
			    (unsigned long long)sum.app_packets[i],
			    (unsigned long long)sum.app_bytes[i], (unsigned long long)sum.app_flows[i]);
		if (offload)
			json_printf(&b, ",\"switch_packets\":%llu,\"switch_bytes\":%llu",
				    (unsigned long long)os.app_packets[i],
				    (unsigned long long)os.app_bytes[i]);
		json_printf(&b, "}");
		first = false;
	}
	json_printf(&b, "],\"categories\":[");
	first = true;
	for (i = 0; i < WORKER_MAX_CATEGORIES; i++) {
		if (sum.category_packets[i] == 0 && sum.category_flows[i] == 0)
			continue;
		json_printf(&b, "%s{\"category\":", first ? "" : ",");
		json_string(&b, names != NULL ? dpi_category_name(names, (uint16_t)i) : "?");
		json_printf(&b, ",\"id\":%u,\"packets\":%llu,\"flows\":%llu}", i,
			    (unsigned long long)sum.category_packets[i],
			    (unsigned long long)sum.category_flows[i]);
		first = false;
	}
	json_printf(&b, "]}");
	reply(resp, 200, &b);
}

static void
get_chains(struct api *api, struct api_response *resp)
{
	const struct policy *p = datapath_policy(api->dp);
	struct worker_stats sum;
	struct offload_stats os;
	struct json_buf b;
	uint32_t i, n = p != NULL ? policy_chain_count(p) : 0;
	bool offload;

	if (!start(&b, SMALL_BODY))
		return;
	sum_workers(api, &sum);
	offload = add_switch_counts(api, &sum, &os);
	json_printf(&b, "{\"policy_version\":%u,\"chains\":[", p != NULL ? policy_version(p) : 0);
	for (i = 0; i < n; i++) {
		const struct policy_chain *c = policy_chain_at(p, i);

		json_printf(&b, "%s{\"name\":", i ? "," : "");
		json_string(&b, c->name);
		json_printf(&b, ",\"tag\":\"%s\"", tag_kind_name(c->tag.kind));
		tag_class_of(c->tag.kind)->describe(&c->tag, &b);
		json_printf(&b, ",\"offload\":%s,\"packets\":%llu,\"flows\":%llu",
			    c->offload ? "true" : "false", (unsigned long long)sum.chain_packets[i],
			    (unsigned long long)sum.chain_flows[i]);
		if (offload)
			json_printf(&b, ",\"switch_packets\":%llu", (unsigned long long)os.chain_packets[i]);
		json_printf(&b, "}");
	}
	json_printf(&b, "],\"flows_dropped\":%llu,\"flows_passed\":%llu}",
		    (unsigned long long)sum.flows_by_action[POLICY_DROP],
		    (unsigned long long)sum.flows_by_action[POLICY_PASS]);
	reply(resp, 200, &b);
}

/* ---- the web view's snapshot (GET /v1/view): everything the page shows, one request ---- */

static const char *
action_name(uint8_t a)
{
	return a == POLICY_CHAIN ? "chain" : a == POLICY_DROP ? "drop" : "pass";
}

static void
decision_json(const struct policy *p, const struct policy_decision *d, struct json_buf *b)
{
	const struct policy_chain *c = d->action == POLICY_CHAIN ? policy_chain_at(p, d->chain) : NULL;

	json_printf(b, "\"action\":\"%s\",\"chain\":", action_name(d->action));
	if (c != NULL)
		json_string(b, c->name);
	else
		json_printf(b, "null");
}

/*
 * Counters the page turns into rates (it divides the difference of two snapshots by their
 * `time_ms`), the chains with their tags and hops, the rules with their hits, and the flows.
 */
static void
view_json(struct api *api, struct json_buf *b)
{
	const struct policy *p = datapath_policy(api->dp);
	struct datapath_stats ds;
	struct offload_stats os;
	struct timespec now;
	uint32_t i, n, np = datapath_port_count(api->dp);
	uint64_t rx = 0, tx = 0;
	bool offload, first = true;
	size_t k;
	int r;

	clock_gettime(CLOCK_REALTIME, &now);
	datapath_get_stats(api->dp, &ds);
	offload = add_switch_counts(api, &ds.w, &os);
	for (i = 0; i < np; i++) {
		struct datapath_port_info pi;

		datapath_port_info(api->dp, i, &pi);
		rx += pi.rx_packets;
		tx += pi.tx_packets;
	}
	json_printf(b, "\"time_ms\":%llu,\"policy_version\":%u,\"summary\":{",
		    (unsigned long long)now.tv_sec * 1000 + (unsigned long long)now.tv_nsec / 1000000,
		    p != NULL ? policy_version(p) : 0);
	json_printf(b, "\"rx_packets\":%llu,\"tx_packets\":%llu,\"flows_active\":%llu,"
		       "\"flows_classifying\":%llu,\"flows_created\":%llu,\"flows_detected\":%llu,"
		       "\"flows_offloaded\":%llu,\"switch_packets\":%llu,\"drops\":{",
		    (unsigned long long)rx, (unsigned long long)tx,
		    (unsigned long long)ds.w.flows_active, (unsigned long long)ds.w.dpi_states_in_use,
		    (unsigned long long)ds.w.flows_created, (unsigned long long)ds.w.flows_detected,
		    (unsigned long long)(offload ? os.flows_offloaded : 0),
		    (unsigned long long)(offload ? os.switch_packets : 0));
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		if (ds.w.parse[r] != 0) {
			json_printf(b, "%s\"malformed_%s\":%llu", first ? "" : ",",
				    parse_result_name((enum parse_result)r),
				    (unsigned long long)ds.w.parse[r]);
			first = false;
		}
	for (k = 0; k < worker_stat_item_count; k++)
		if (worker_stat_items[k].drop_reason != NULL &&
		    stat_value(&ds.w, &worker_stat_items[k]) != 0) {
			json_printf(b, "%s\"%s\":%llu", first ? "" : ",", worker_stat_items[k].drop_reason,
				    (unsigned long long)stat_value(&ds.w, &worker_stat_items[k]));
			first = false;
		}
	for (k = 0; k < datapath_stat_item_count; k++)
		if (datapath_stat_items[k].drop_reason != NULL &&
		    stat_value(&ds.c, &datapath_stat_items[k]) != 0) {
			json_printf(b, "%s\"%s\":%llu", first ? "" : ",",
				    datapath_stat_items[k].drop_reason,
				    (unsigned long long)stat_value(&ds.c, &datapath_stat_items[k]));
			first = false;
		}
	json_printf(b, "}},\"apps\":[");
	first = true;
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		if (ds.w.app_bytes[i] == 0 && ds.w.app_flows[i] == 0)
			continue;
		json_printf(b, "%s{\"app\":", first ? "" : ",");
		json_string(b, proto_name(api, (uint16_t)i));
		json_printf(b, ",\"id\":%u,\"bytes\":%llu,\"packets\":%llu,\"flows\":%llu}", i,
			    (unsigned long long)ds.w.app_bytes[i], (unsigned long long)ds.w.app_packets[i],
			    (unsigned long long)ds.w.app_flows[i]);
		first = false;
	}
	json_printf(b, "],\"chains\":[");
	n = p != NULL ? policy_chain_count(p) : 0;
	for (i = 0; i < n; i++) {
		const struct policy_chain *c = policy_chain_at(p, i);

		json_printf(b, "%s{\"name\":", i ? "," : "");
		json_string(b, c->name);
		json_printf(b, ",\"tag\":\"%s\"", tag_kind_name(c->tag.kind));
		tag_class_of(c->tag.kind)->describe(&c->tag, b);
		json_printf(b, ",\"hops\":%u,\"packets\":%llu,\"flows\":%llu}", c->hops,
			    (unsigned long long)ds.w.chain_packets[i],
			    (unsigned long long)ds.w.chain_flows[i]);
	}
	json_printf(b, "],\"flows_dropped\":%llu,\"flows_passed\":%llu,\"rules\":[",
		    (unsigned long long)ds.w.flows_by_action[POLICY_DROP],
		    (unsigned long long)ds.w.flows_by_action[POLICY_PASS]);
	n = p != NULL ? policy_rule_count(p) : 0;
	for (i = 0; i < n && i < POLICY_MAX_RULES; i++) {
		struct policy_decision d;
		uint32_t line;
		const char *text = policy_rule_text(p, i, &line, &d);

		json_printf(b, "%s{\"rule\":%u,\"line\":%u,\"match\":", i ? "," : "", i + 1, line);
		json_string(b, text);
		json_printf(b, ",");
		decision_json(p, &d, b);
		json_printf(b, ",\"flows\":%llu}", (unsigned long long)ds.w.rule_flows[i + 1]);
	}
	json_printf(b, "],\"default\":{");
	if (p != NULL) {
		struct policy_decision d = policy_default_decision(p);

		decision_json(p, &d, b);
		json_printf(b, ",");
	}
	json_printf(b, "\"flows\":%llu}", (unsigned long long)ds.w.rule_flows[0]);
}

/* An answer the data path owes a connection. */
struct api_pending {
	struct api_pending *next;
	struct api *api;
	void *conn;
	uint64_t handle; /* the data path's request */
	uint32_t offset, limit; /* flows: echoed in the answer */
	bool view; /* GET /v1/view: the flows inside the web view's snapshot */
};

static struct api_pending *
pending_new(struct api *api, void *conn)
{
	struct api_pending *pd = calloc(1, sizeof(*pd));

	if (pd == NULL)
		return NULL;
	pd->api = api;
	pd->conn = conn;
	pd->next = api->pending;
	api->pending = pd;
	return pd;
}

/* Unlink and free (the request itself stays with the data path until its workers are done). */
static void
pending_drop(struct api *api, struct api_pending *pd)
{
	struct api_pending **link;

	for (link = &api->pending; *link != NULL; link = &(*link)->next) {
		if (*link == pd) {
			*link = pd->next;
			free(pd);
			return;
		}
	}
}

static void
send_pending(struct api_pending *pd, struct api_response *resp)
{
	struct api *api = pd->api;
	void *conn = pd->conn;

	pending_drop(api, pd);
	api->reply(api->reply_ctx, conn, resp);
}

/* A request the data path refused or lost: 503 with the reason. */
static void
workers_error(struct api_response *resp, int err)
{
	if (err == EBUSY)
		error_reply(resp, 503, "too many requests to the workers in flight; try again");
	else if (err == ETIMEDOUT)
		error_reply(resp, 503, "the workers did not answer in time (try again, or a smaller "
				       "limit)");
	else if (err == ESHUTDOWN)
		error_reply(resp, 503, "the data path is stopping");
	else
		error_reply(resp, 503, "the workers did not answer (%s)", strerror(err));
}

static void
flows_done(void *ctx, const struct datapath_result *res)
{
	struct api_pending *pd = ctx;
	struct api *api = pd->api;
	struct api_response resp = {0};
	struct json_buf b;
	uint32_t i;

	if (res->status != 0) {
		workers_error(&resp, -res->status);
	} else if (start(&b, (size_t)res->n_flows * RECORD_JSON_TYPICAL + 256)) {
		/* Sized for typical records and grown for long ones: 10,000 records at their
		 * longest possible size would be 40 MB a request, for answers of a few. */
		json_printf(&b, "{");
		if (pd->view && reserve(&b, VIEW_JSON_MAX)) {
			view_json(api, &b);
			json_printf(&b, ",\"flows\":");
			json_printf(&b, "{");
		}
		json_printf(&b, "\"offset\":%u,\"limit\":%u,\"returned\":%u,\"more\":%s,\"flows\":[",
			    pd->offset, pd->limit, res->n_flows, res->more ? "true" : "false");
		for (i = 0; i < res->n_flows; i++) {
			char line[FLOW_RECORD_JSON_MAX];
			int n = flow_record_to_json(&res->flows[i], datapath_names(api->dp), line,
						    sizeof(line));

			if (n > 0 && reserve(&b, (size_t)n + 8))
				json_printf(&b, "%s%s", i ? "," : "", line);
		}
		json_printf(&b, pd->view ? "]}}" : "]}");
		reply(&resp, 200, &b);
	}
	send_pending(pd, &resp);
}

static enum api_outcome
flows_request(struct api *api, const struct api_request *req, struct api_response *resp,
	      bool view)
{
	struct api_pending *pd;
	struct flow_filter f;
	char err[256];

	if (flow_filter_parse(req->query, datapath_names(api->dp), &f, err, sizeof(err)) != 0) {
		error_reply(resp, 400, "%s", err);
		return API_DONE;
	}
	pd = pending_new(api, req->conn);
	if (pd == NULL) {
		error_reply(resp, 500, "out of memory");
		return API_DONE;
	}
	pd->offset = f.offset;
	pd->limit = f.limit;
	pd->view = view;
	pd->handle = datapath_request_flows(api->dp, &f, WORKER_TIMEOUT_MS, flows_done, pd);
	if (pd->handle == 0) {
		workers_error(resp, errno);
		pending_drop(api, pd);
		return API_DONE;
	}
	return API_PENDING;
}

static enum api_outcome
get_flows(struct api *api, const struct api_request *req, struct api_response *resp)
{
	return flows_request(api, req, resp, false);
}

/* The web view's snapshot: the flows the page's filters ask for, and everything else it shows,
 * in one answer (the page makes one request a second). */
static enum api_outcome
get_view(struct api *api, const struct api_request *req, struct api_response *resp)
{
	return flows_request(api, req, resp, true);
}

static void
flush_done(void *ctx, const struct datapath_result *res)
{
	struct api_pending *pd = ctx;
	struct api_response resp = {0};
	struct json_buf b;

	if (res->status != 0) {
		workers_error(&resp, -res->status);
	} else if (start(&b, 128)) {
		json_printf(&b, "{\"flushed\":%llu}", (unsigned long long)res->flushed);
		reply(&resp, 200, &b);
	}
	send_pending(pd, &resp);
}

static enum api_outcome
post_flush(struct api *api, const struct api_request *req, struct api_response *resp)
{
	struct api_pending *pd = pending_new(api, req->conn);

	if (pd == NULL) {
		error_reply(resp, 500, "out of memory");
		return API_DONE;
	}
	/* Every flow's record is written: the workers end flows as their record rings allow. */
	pd->handle = datapath_request_flush(api->dp, FLUSH_TIMEOUT_MS, flush_done, pd);
	if (pd->handle == 0) {
		workers_error(resp, errno);
		pending_drop(api, pd);
		return API_DONE;
	}
	return API_PENDING;
}

void
api_cancel(struct api *api, void *conn)
{
	struct api_pending *pd = api->pending;

	while (pd != NULL) {
		struct api_pending *next = pd->next;

		if (pd->conn == conn) {
			datapath_request_cancel(api->dp, pd->handle);
			pending_drop(api, pd);
		}
		pd = next;
	}
}

void
api_release(struct api *api)
{
	while (api->pending != NULL) {
		datapath_request_cancel(api->dp, api->pending->handle);
		pending_drop(api, api->pending);
	}
	free(api->policy_text);
	api->policy_text = NULL;
	free(api->token);
	api->token = NULL;
}

static void
get_policy(struct api *api, struct api_response *resp)
{
	const struct policy *p = datapath_policy(api->dp);
	struct json_buf b;

	if (!start(&b, strlen(api->policy_text != NULL ? api->policy_text : "") * 6 + 1024))
		return;
	json_printf(&b, "{\"version\":%u,\"chains\":%u,\"rules\":%u,\"source\":",
		    p != NULL ? policy_version(p) : 0, p != NULL ? policy_chain_count(p) : 0,
		    p != NULL ? policy_rule_count(p) : 0);
	json_string(&b, api->policy_source);
	json_printf(&b, ",\"text\":");
	json_string(&b, api->policy_text != NULL ? api->policy_text : "");
	json_printf(&b, "}");
	reply(resp, 200, &b);
}

int
api_apply_policy(struct api *api, const char *text, const char *name, bool bump_version,
		 char *err, size_t err_len)
{
	const struct policy *cur = datapath_policy(api->dp);
	const struct dpi *names = datapath_names(api->dp);
	struct policy *p;
	char *copy;
	int rc;

	if (names == NULL) {
		snprintf(err, err_len, "%s: no classifier running", name);
		return -1;
	}
	p = config_policy_from_text_apps(text, name, bump_version,
					 cur != NULL ? policy_version(cur) : 0, names,
					 datapath_apps(api->dp), err, err_len);
	copy = p != NULL ? strdup(text) : NULL;
	if (p == NULL || copy == NULL) {
		policy_destroy(p);
		return -1;
	}
	rc = datapath_set_policy(api->dp, p);
	if (rc != 0) {
		snprintf(err, err_len, "%s: %d earlier policies are still in use by a worker; try "
				       "again in a moment",
			 name, DP_RETIRED_POLICIES_MAX);
		policy_destroy(p);
		free(copy);
		return rc;
	}
	free(api->policy_text);
	api->policy_text = copy;
	snprintf(api->policy_source, sizeof(api->policy_source), "%s", name);
	return 0;
}

static void
put_policy(struct api *api, const struct api_request *req, struct api_response *resp)
{
	char err[CONFIG_ERR_MAX], *text;
	const struct policy *p;
	struct json_buf b;
	int rc;

	text = malloc(req->body_len + 1);
	if (text == NULL) {
		error_reply(resp, 500, "out of memory");
		return;
	}
	memcpy(text, req->body, req->body_len);
	text[req->body_len] = '\0';
	if (req->body_len == 0 || strlen(text) != req->body_len) {
		free(text);
		error_reply(resp, 400, "the body must be the policy as YAML or JSON text");
		return;
	}
	rc = api_apply_policy(api, text, "request", true, err, sizeof(err));
	if (rc == -EBUSY) {
		free(text);
		error_reply(resp, 503, "%s", err);
		return;
	}
	if (rc != 0) {
		unsigned line = 0, col = 0;
		struct json_buf eb;

		free(text);
		sscanf(err, "request:%u:%u:", &line, &col);
		if (!start(&eb, sizeof(err) + 128))
			return;
		json_printf(&eb, "{\"error\":");
		json_string(&eb, err);
		json_printf(&eb, ",\"line\":%u,\"col\":%u}", line, col);
		reply(resp, 400, &eb);
		return;
	}
	free(text);
	p = datapath_policy(api->dp);
	if (!start(&b, 256))
		return;
	json_printf(&b, "{\"version\":%u,\"chains\":%u,\"rules\":%u}", policy_version(p),
		    policy_chain_count(p), policy_rule_count(p));
	reply(resp, 200, &b);
}

/* ---- Prometheus text exposition (version 0.0.4) ---- */

static void
metric_head(struct json_buf *b, const char *name, const char *type, const char *help)
{
	json_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
label_value(struct json_buf *b, const char *v)
{
	/* Exposition format: backslash, double quote and newline are escaped. */
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			json_printf(b, "\\%c", *v);
		else if (*v == '\n')
			json_printf(b, "\\n");
		else
			json_printf(b, "%c", *v);
	}
}

/* One metric per worker item of the list: flowtag_<name>_total{worker="N"} (or a gauge). */
static void
worker_metrics(struct json_buf *b, struct api *api, uint32_t nw)
{
	struct worker_stats ws[16];
	uint32_t i, n = nw < 16 ? nw : 16;
	size_t k;

	for (i = 0; i < n; i++)
		datapath_worker_stats(api->dp, i, &ws[i]);
	for (k = 0; k < worker_stat_item_count; k++) {
		const struct stat_item *it = &worker_stat_items[k];
		char name[96];

		snprintf(name, sizeof(name), "flowtag_%s%s", it->name, it->gauge ? "" : "_total");
		metric_head(b, name, it->gauge ? "gauge" : "counter", it->help);
		for (i = 0; i < n; i++)
			json_printf(b, "%s{worker=\"%u\"} %llu\n", name, i,
				    (unsigned long long)stat_value(&ws[i], it));
	}
}

/* A labelled family from an array: flowtag_NAME{LABEL="name of i"} value[i], non-zero only. */
static void
array_metric(struct json_buf *b, const char *name, const char *help, const char *label,
	     const uint64_t *values, uint32_t n, const char *(*name_of)(const struct api *, uint32_t),
	     const struct api *api, bool all)
{
	uint32_t i;

	metric_head(b, name, "counter", help);
	for (i = 0; i < n; i++) {
		if (values[i] == 0 && !all)
			continue;
		json_printf(b, "%s{%s=\"", name, label);
		label_value(b, name_of(api, i));
		json_printf(b, "\"} %llu\n", (unsigned long long)values[i]);
	}
}

static const char *
app_name(const struct api *api, uint32_t i)
{
	return proto_name(api, (uint16_t)i);
}

static const char *
category_name(const struct api *api, uint32_t i)
{
	const struct dpi *names = datapath_names(api->dp);

	return names != NULL ? dpi_category_name(names, (uint16_t)i) : "?";
}

static const char *
chain_name(const struct api *api, uint32_t i)
{
	return policy_chain_at(datapath_policy(api->dp), i)->name;
}

static const char *
end_reason_name(const struct api *api, uint32_t i)
{
	(void)api;
	return flow_end_reason_name((enum flow_end_reason)i);
}

static void
get_metrics(struct api *api, struct api_response *resp)
{
	const struct policy *pol = datapath_policy(api->dp);
	uint32_t i, np = datapath_port_count(api->dp), nw = datapath_worker_count(api->dp);
	struct datapath_stats ds;
	struct offload_stats os;
	struct json_buf b;
	size_t k;
	int r;

	if (!start(&b, 2 * SMALL_BODY))
		return;
	datapath_get_stats(api->dp, &ds);
	if (add_switch_counts(api, &ds.w, &os)) {
		for (k = 0; k < offload_stat_item_count; k++) {
			const struct stat_item *it = &offload_stat_items[k];
			char name[96];

			snprintf(name, sizeof(name), "flowtag_offload_%s%s", it->name,
				 it->gauge ? "" : "_total");
			metric_head(&b, name, it->gauge ? "gauge" : "counter", it->help);
			json_printf(&b, "%s %llu\n", name, (unsigned long long)stat_value(&os, it));
		}
	}
	if (api->export != NULL) {
		struct export_stats es;

		export_get_stats(api->export, &es);
		for (k = 0; k < ipfix_stat_count; k++) {
			const struct stat_item *it = &ipfix_stat_items[k];
			char name[96];

			snprintf(name, sizeof(name), "flowtag_ipfix_%s_total", it->name);
			metric_head(&b, name, "counter", it->help);
			json_printf(&b, "%s %llu\n", name, (unsigned long long)stat_value(&es.ipfix, it));
		}
		metric_head(&b, "flowtag_ipfix_records_not_exported_total", "counter",
			    "Records that did not reach the collector (not sent, skipped, refused).");
		json_printf(&b, "flowtag_ipfix_records_not_exported_total %llu\n",
			    (unsigned long long)export_records_not_exported(&es));
		metric_head(&b, "flowtag_ipfix_collector_up", "gauge",
			    "1 while the collector is reachable (TCP: connected; UDP: always).");
		json_printf(&b, "flowtag_ipfix_collector_up %d\n", es.conn.up ? 1 : 0);
		metric_head(&b, "flowtag_ipfix_connection_drops_total", "counter",
			    "TCP sessions to the collector lost.");
		json_printf(&b, "flowtag_ipfix_connection_drops_total %llu\n",
			    (unsigned long long)es.conn.drops);
		metric_head(&b, "flowtag_ipfix_send_errors_total", "counter",
			    "Datagrams the kernel refused (collector unreachable).");
		json_printf(&b, "flowtag_ipfix_send_errors_total %llu\n",
			    (unsigned long long)es.conn.send_errors);
		metric_head(&b, "flowtag_ipfix_queued_bytes", "gauge",
			    "Bytes of messages waiting for the collector's socket.");
		json_printf(&b, "flowtag_ipfix_queued_bytes %llu\n",
			    (unsigned long long)es.conn.queued_bytes);
	}

	{
		static const struct {
			const char *name, *type, *help;
		} port_metrics[] = {
			{"flowtag_port_rx_packets_total", "counter", "Packets received by a port."},
			{"flowtag_port_tx_packets_total", "counter", "Packets sent by a port."},
			{"flowtag_port_up", "gauge", "1 when the port's link is up."},
		};
		size_t m;

		for (m = 0; m < sizeof(port_metrics) / sizeof(port_metrics[0]); m++) {
			metric_head(&b, port_metrics[m].name, port_metrics[m].type, port_metrics[m].help);
			for (i = 0; i < np; i++) {
				struct datapath_port_info pi;

				datapath_port_info(api->dp, i, &pi);
				json_printf(&b, "%s{port=\"", port_metrics[m].name);
				label_value(&b, pi.name);
				json_printf(&b, "\"} %llu\n",
					    (unsigned long long)(m == 0 ? pi.rx_packets
							       : m == 1 ? pi.tx_packets
									: pi.link_up));
			}
		}
	}
	worker_metrics(&b, api, nw);
	for (k = 0; k < datapath_stat_item_count; k++) {
		const struct stat_item *it = &datapath_stat_items[k];
		char name[96];

		snprintf(name, sizeof(name), "flowtag_datapath_%s_total", it->name);
		metric_head(&b, name, "counter", it->help);
		json_printf(&b, "%s %llu\n", name, (unsigned long long)stat_value(&ds.c, it));
	}
	array_metric(&b, "flowtag_flows_ended_total", "Flows ended, by reason.", "reason",
		     ds.w.flows_ended, FLOW_END_REASON_COUNT, end_reason_name, api, true);
	metric_head(&b, "flowtag_drops_total", "counter", "Packets dropped or not tagged, by reason.");
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		json_printf(&b, "flowtag_drops_total{reason=\"malformed_%s\"} %llu\n",
			    parse_result_name((enum parse_result)r), (unsigned long long)ds.w.parse[r]);
	for (k = 0; k < worker_stat_item_count; k++)
		if (worker_stat_items[k].drop_reason != NULL)
			json_printf(&b, "flowtag_drops_total{reason=\"%s\"} %llu\n",
				    worker_stat_items[k].drop_reason,
				    (unsigned long long)stat_value(&ds.w, &worker_stat_items[k]));
	for (k = 0; k < datapath_stat_item_count; k++)
		if (datapath_stat_items[k].drop_reason != NULL)
			json_printf(&b, "flowtag_drops_total{reason=\"%s\"} %llu\n",
				    datapath_stat_items[k].drop_reason,
				    (unsigned long long)stat_value(&ds.c, &datapath_stat_items[k]));
	array_metric(&b, "flowtag_app_packets_total", "Packets per nDPI application.", "app",
		     ds.w.app_packets, WORKER_MAX_APPS, app_name, api, false);
	array_metric(&b, "flowtag_app_bytes_total", "Bytes per nDPI application.", "app",
		     ds.w.app_bytes, WORKER_MAX_APPS, app_name, api, false);
	array_metric(&b, "flowtag_app_flows_total", "Flows per nDPI application.", "app",
		     ds.w.app_flows, WORKER_MAX_APPS, app_name, api, false);
	array_metric(&b, "flowtag_category_packets_total", "Packets per nDPI category.", "category",
		     ds.w.category_packets, WORKER_MAX_CATEGORIES, category_name, api, false);
	array_metric(&b, "flowtag_chain_packets_total", "Packets tagged for a chain.", "chain",
		     ds.w.chain_packets, pol != NULL ? policy_chain_count(pol) : 0, chain_name, api,
		     true);
	array_metric(&b, "flowtag_chain_flows_total", "Flows decided for a chain.", "chain",
		     ds.w.chain_flows, pol != NULL ? policy_chain_count(pol) : 0, chain_name, api, true);
	metric_head(&b, "flowtag_policy_version", "gauge", "Version of the policy in force.");
	json_printf(&b, "flowtag_policy_version %u\n", pol != NULL ? policy_version(pol) : 0);
	resp->content_type = "text/plain; version=0.0.4";
	reply(resp, 200, &b);
}

/* ---- routing ---- */

struct route {
	const char *path;
	enum api_method method;
	const char *allow;
	bool writes; /* changes what flowtag does: the token is needed (api.auth: writes) */
	/* One of: answers at once without the request, at once with it, or maybe later. */
	void (*simple)(struct api *api, struct api_response *resp);
	void (*with_req)(struct api *api, const struct api_request *req, struct api_response *resp);
	enum api_outcome (*deferred)(struct api *api, const struct api_request *req,
				     struct api_response *resp);
};

static const struct route routes[] = {
	{"/v1/health", API_GET, "GET", false, get_health, NULL, NULL},
	{"/v1/ready", API_GET, "GET", false, get_ready, NULL, NULL},
	{"/v1/stats", API_GET, "GET", false, get_stats, NULL, NULL},
	{"/v1/apps", API_GET, "GET", false, get_apps, NULL, NULL},
	{"/v1/flows", API_GET, "GET", false, NULL, NULL, get_flows},
	{"/v1/view", API_GET, "GET", false, NULL, NULL, get_view},
	{"/v1/flows/flush", API_POST, "POST", true, NULL, NULL, post_flush},
	{"/v1/chains", API_GET, "GET", false, get_chains, NULL, NULL},
	{"/v1/policy", API_GET, "GET, PUT", false, get_policy, NULL, NULL},
	{"/v1/policy", API_PUT, "GET, PUT", true, NULL, put_policy, NULL},
	{"/metrics", API_GET, "GET", false, get_metrics, NULL, NULL},
};

static bool
token_matches(const struct api *api, const struct api_request *req)
{
	size_t n = strlen(api->token), i;
	const char *given;
	unsigned char diff = 0;

	if (req->authorization == NULL || strncasecmp(req->authorization, "Bearer ", 7) != 0)
		return false;
	given = req->authorization + 7;
	if (strlen(given) != n)
		return false;
	for (i = 0; i < n; i++) /* compared in constant time */
		diff |= (unsigned char)(given[i] ^ api->token[i]);
	return diff == 0;
}

/*
 * Who needs the token (api.auth): with `writes`, requests that change what flowtag does, and
 * every request from off the host; with `all`, every request; health never (probes).
 */
static bool
authorized(const struct api *api, const struct api_request *req, const struct route *r)
{
	if (api->token == NULL || (r != NULL && strcmp(r->path, "/v1/health") == 0))
		return true;
	if (api->auth == CONFIG_API_AUTH_WRITES && req->peer_loopback && (r == NULL || !r->writes))
		return true; /* a read (or an unknown path: 404) from this host */
	return token_matches(api, req);
}

enum api_outcome
api_handle(struct api *api, const struct api_request *req, struct api_response *resp)
{
	const struct route *route = NULL, *path_match = NULL;
	const struct web_asset *asset;
	size_t i;

	memset(resp, 0, sizeof(*resp));
	/* The web view's own files: no data in them, so no token (the page then asks for it). */
	if (req->method == API_GET && (asset = webui_find(req->path)) != NULL) {
		resp->body = malloc(asset->len + 1);
		if (resp->body == NULL) {
			error_reply(resp, 500, "out of memory");
			return API_DONE;
		}
		memcpy(resp->body, asset->data, asset->len);
		resp->len = asset->len;
		resp->status = 200;
		resp->content_type = asset->content_type;
		resp->headers = WEBUI_HEADERS;
		return API_DONE;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, req->path) != 0)
			continue;
		path_match = &routes[i];
		if (routes[i].method == req->method) {
			route = &routes[i];
			break;
		}
	}
	if (!authorized(api, req, route != NULL ? route : path_match)) {
		error_reply(resp, 401, "missing or wrong bearer token (Authorization: Bearer ...; "
				       "flowtag run writes it to api.token_file)");
		return API_DONE;
	}
	if (route != NULL) {
		if (route->deferred != NULL)
			return route->deferred(api, req, resp);
		if (route->simple != NULL)
			route->simple(api, resp);
		else
			route->with_req(api, req, resp);
		return API_DONE;
	}
	if (path_match != NULL) {
		resp->allow = path_match->allow;
		error_reply(resp, 405, "method not allowed on %s (allowed: %s)", req->path,
			    path_match->allow);
		return API_DONE;
	}
	error_reply(resp, 404, "no such endpoint: %s", req->path);
	return API_DONE;
}
