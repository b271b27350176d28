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
#include "parse.h"
#include "policy.h"

#define SMALL_BODY (256 * 1024)
#define RECORD_JSON_MAX 2048
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

static void
drops_json(struct json_buf *b, const struct worker_stats *w, const struct datapath_stats *ds)
{
	int r;

	json_printf(b, "{\"malformed\":{");
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		json_printf(b, "%s\"%s\":%llu", r > PARSE_FIRST_MALFORMED ? "," : "",
			    parse_result_name((enum parse_result)r), (unsigned long long)w->parse[r]);
	json_printf(b, "},\"malformed_dropped\":%llu,\"policy\":%llu,\"tx_failed\":%llu,"
		       "\"oversize\":%llu,\"tag_failed\":%llu,\"hold_overflow\":%llu,"
		       "\"records_dropped\":%llu}",
		    (unsigned long long)w->dropped_malformed, (unsigned long long)w->out_dropped_policy,
		    (unsigned long long)ds->tx_failed, (unsigned long long)ds->oversize,
		    (unsigned long long)ds->tag_failed, (unsigned long long)w->hold_overflow,
		    (unsigned long long)ds->records_dropped);
}

static void
get_stats(struct api *api, struct api_response *resp)
{
	uint32_t i, np = datapath_port_count(api->dp), nw = datapath_worker_count(api->dp);
	struct datapath_stats ds;
	struct worker_stats sum;
	struct json_buf b;

	if (!start(&b, SMALL_BODY))
		return;
	datapath_get_stats(api->dp, &ds);
	sum_workers(api, &sum);
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
		json_printf(&b, "%s{\"id\":%u,\"packets\":%llu,\"bytes\":%llu,\"flows_active\":%u,"
				"\"flows_created\":%llu,\"flows_detected\":%llu,\"flows_gave_up\":%llu,"
				"\"dpi_states_in_use\":%u,\"dpi_no_state\":%llu,\"tagged\":%llu,"
				"\"untagged\":%llu,\"held\":%llu,\"ipv6_flows_active\":%u,"
				"\"metadata_in_use\":%u,\"metadata_not_kept\":%llu}",
			    i ? "," : "", i, (unsigned long long)ws.packets,
			    (unsigned long long)ws.bytes, ws.flows_active,
			    (unsigned long long)ws.flows_created, (unsigned long long)ws.flows_detected,
			    (unsigned long long)ws.flows_gave_up, ws.dpi_states_in_use,
			    (unsigned long long)ws.dpi_no_state, (unsigned long long)ws.out_tagged,
			    (unsigned long long)ws.out_pass, (unsigned long long)ws.held,
			    ws.ipv6_flows_active, ws.meta_in_use, (unsigned long long)ws.meta_not_kept);
	}
	json_printf(&b, "],\"drops\":");
	drops_json(&b, &sum, &ds);
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
	json_printf(&b, ",\"policy_version\":%u}", policy_version(datapath_policy(api->dp)));
	reply(resp, 200, &b);
}

static void
get_apps(struct api *api, struct api_response *resp)
{
	const struct dpi *names = datapath_names(api->dp);
	struct worker_stats sum;
	struct json_buf b;
	bool first = true;
	uint32_t i;

	if (!start(&b, SMALL_BODY))
		return;
	sum_workers(api, &sum);
	json_printf(&b, "{\"apps\":[");
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		if (sum.app_packets[i] == 0 && sum.app_flows[i] == 0)
			continue;
		json_printf(&b, "%s{\"app\":", first ? "" : ",");
		json_string(&b, proto_name(api, (uint16_t)i));
		json_printf(&b, ",\"id\":%u,\"packets\":%llu,\"bytes\":%llu,\"flows\":%llu}", i,
			    (unsigned long long)sum.app_packets[i],
			    (unsigned long long)sum.app_bytes[i], (unsigned long long)sum.app_flows[i]);
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
	struct json_buf b;
	uint32_t i, n = p != NULL ? policy_chain_count(p) : 0;

	if (!start(&b, SMALL_BODY))
		return;
	sum_workers(api, &sum);
	json_printf(&b, "{\"policy_version\":%u,\"chains\":[", p != NULL ? policy_version(p) : 0);
	for (i = 0; i < n; i++) {
		const struct policy_chain *c = policy_chain_at(p, i);

		json_printf(&b, "%s{\"name\":", i ? "," : "");
		json_string(&b, c->name);
		json_printf(&b, ",\"tag\":\"%s\"", tag_kind_name(c->tag.kind));
		if (c->tag.kind == TAG_NSH)
			json_printf(&b, ",\"spi\":%u,\"md_type\":%u", c->tag.spi, c->tag.md_type);
		else if (c->tag.kind == TAG_MPLS)
			json_printf(&b, ",\"spi\":%u,\"label\":%u", c->tag.spi, c->tag.spi << 8 | 255);
		else if (c->tag.kind == TAG_VLAN)
			json_printf(&b, ",\"vid\":%u", c->tag.vid);
		else
			json_printf(&b, ",\"dscp\":%u", c->tag.dscp);
		json_printf(&b, ",\"packets\":%llu,\"flows\":%llu}",
			    (unsigned long long)sum.chain_packets[i], (unsigned long long)sum.chain_flows[i]);
	}
	json_printf(&b, "],\"flows_dropped\":%llu,\"flows_passed\":%llu}",
		    (unsigned long long)sum.flows_by_action[POLICY_DROP],
		    (unsigned long long)sum.flows_by_action[POLICY_PASS]);
	reply(resp, 200, &b);
}

/* An answer the data path owes a connection. */
struct api_pending {
	struct api_pending *next;
	struct api *api;
	void *conn;
	uint64_t handle; /* the data path's request */
	uint32_t offset, limit; /* flows: echoed in the answer */
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
	} else if (start(&b, (size_t)res->n_flows * RECORD_JSON_MAX + 256)) {
		json_printf(&b, "{\"offset\":%u,\"limit\":%u,\"returned\":%u,\"more\":%s,\"flows\":[",
			    pd->offset, pd->limit, res->n_flows, res->more ? "true" : "false");
		for (i = 0; i < res->n_flows; i++) {
			char line[RECORD_JSON_MAX];

			if (flow_record_to_json(&res->flows[i], datapath_names(api->dp), line,
						sizeof(line)) > 0)
				json_printf(&b, "%s%s", i ? "," : "", line);
		}
		json_printf(&b, "]}");
		reply(&resp, 200, &b);
	}
	send_pending(pd, &resp);
}

static enum api_outcome
get_flows(struct api *api, const struct api_request *req, struct api_response *resp)
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
	pd->handle = datapath_request_flows(api->dp, &f, WORKER_TIMEOUT_MS, flows_done, pd);
	if (pd->handle == 0) {
		workers_error(resp, errno);
		pending_drop(api, pd);
		return API_DONE;
	}
	return API_PENDING;
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
	p = config_policy_from_text(text, name, bump_version, cur != NULL ? policy_version(cur) : 0,
				    names, err, err_len);
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

static void
get_metrics(struct api *api, struct api_response *resp)
{
	const struct policy *pol = datapath_policy(api->dp);
	const struct dpi *names = datapath_names(api->dp);
	uint32_t i, np = datapath_port_count(api->dp), nw = datapath_worker_count(api->dp);
	struct datapath_stats ds;
	struct worker_stats sum;
	struct json_buf b;
	int r;

	if (!start(&b, 2 * SMALL_BODY))
		return;
	datapath_get_stats(api->dp, &ds);
	sum_workers(api, &sum);

	metric_head(&b, "flowtag_port_rx_packets_total", "counter", "Packets received by a port.");
	for (i = 0; i < np; i++) {
		struct datapath_port_info pi;

		datapath_port_info(api->dp, i, &pi);
		json_printf(&b, "flowtag_port_rx_packets_total{port=\"");
		label_value(&b, pi.name);
		json_printf(&b, "\"} %llu\n", (unsigned long long)pi.rx_packets);
	}
	metric_head(&b, "flowtag_port_tx_packets_total", "counter", "Packets sent by a port.");
	for (i = 0; i < np; i++) {
		struct datapath_port_info pi;

		datapath_port_info(api->dp, i, &pi);
		json_printf(&b, "flowtag_port_tx_packets_total{port=\"");
		label_value(&b, pi.name);
		json_printf(&b, "\"} %llu\n", (unsigned long long)pi.tx_packets);
	}
	metric_head(&b, "flowtag_port_up", "gauge", "1 when the port's link is up.");
	for (i = 0; i < np; i++) {
		struct datapath_port_info pi;

		datapath_port_info(api->dp, i, &pi);
		json_printf(&b, "flowtag_port_up{port=\"");
		label_value(&b, pi.name);
		json_printf(&b, "\"} %d\n", pi.link_up ? 1 : 0);
	}
	metric_head(&b, "flowtag_worker_packets_total", "counter", "Packets a worker classified.");
	for (i = 0; i < nw; i++) {
		struct worker_stats ws;

		datapath_worker_stats(api->dp, i, &ws);
		json_printf(&b, "flowtag_worker_packets_total{worker=\"%u\"} %llu\n", i,
			    (unsigned long long)ws.packets);
	}
	metric_head(&b, "flowtag_flows_active", "gauge", "Flows in the flow tables.");
	json_printf(&b, "flowtag_flows_active %u\n", sum.flows_active);
	metric_head(&b, "flowtag_flows_created_total", "counter", "Flows created.");
	json_printf(&b, "flowtag_flows_created_total %llu\n", (unsigned long long)sum.flows_created);
	metric_head(&b, "flowtag_flows_ended_total", "counter", "Flows ended, by reason.");
	for (r = 0; r < FLOW_END_REASON_COUNT; r++)
		json_printf(&b, "flowtag_flows_ended_total{reason=\"%s\"} %llu\n",
			    flow_end_reason_name((enum flow_end_reason)r),
			    (unsigned long long)sum.flows_ended[r]);
	metric_head(&b, "flowtag_dpi_states_in_use", "gauge", "Flows under classification.");
	json_printf(&b, "flowtag_dpi_states_in_use %u\n", sum.dpi_states_in_use);
	metric_head(&b, "flowtag_ipv6_flows_active", "gauge", "IPv6 flows (their addresses' pool).");
	json_printf(&b, "flowtag_ipv6_flows_active %u\n", sum.ipv6_flows_active);
	metric_head(&b, "flowtag_metadata_in_use", "gauge",
		    "Distinct host/JA3/risk values held, shared by their flows.");
	json_printf(&b, "flowtag_metadata_in_use %u\n", sum.meta_in_use);
	metric_head(&b, "flowtag_metadata_not_kept_total", "counter",
		    "Flows whose metadata found the pool full (their records lack it).");
	json_printf(&b, "flowtag_metadata_not_kept_total %llu\n",
		    (unsigned long long)sum.meta_not_kept);
	metric_head(&b, "flowtag_drops_total", "counter", "Packets dropped or not tagged, by reason.");
	for (r = PARSE_FIRST_MALFORMED; r < PARSE_RESULT_COUNT; r++)
		json_printf(&b, "flowtag_drops_total{reason=\"malformed_%s\"} %llu\n",
			    parse_result_name((enum parse_result)r), (unsigned long long)sum.parse[r]);
	json_printf(&b, "flowtag_drops_total{reason=\"policy\"} %llu\n",
		    (unsigned long long)sum.out_dropped_policy);
	json_printf(&b, "flowtag_drops_total{reason=\"tx_failed\"} %llu\n",
		    (unsigned long long)ds.tx_failed);
	json_printf(&b, "flowtag_drops_total{reason=\"oversize\"} %llu\n",
		    (unsigned long long)ds.oversize);
	json_printf(&b, "flowtag_drops_total{reason=\"hold_overflow\"} %llu\n",
		    (unsigned long long)sum.hold_overflow);
	metric_head(&b, "flowtag_app_packets_total", "counter", "Packets per nDPI application.");
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		if (sum.app_packets[i] == 0)
			continue;
		json_printf(&b, "flowtag_app_packets_total{app=\"");
		label_value(&b, proto_name(api, (uint16_t)i));
		json_printf(&b, "\"} %llu\n", (unsigned long long)sum.app_packets[i]);
	}
	metric_head(&b, "flowtag_app_bytes_total", "counter", "Bytes per nDPI application.");
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		if (sum.app_packets[i] == 0)
			continue;
		json_printf(&b, "flowtag_app_bytes_total{app=\"");
		label_value(&b, proto_name(api, (uint16_t)i));
		json_printf(&b, "\"} %llu\n", (unsigned long long)sum.app_bytes[i]);
	}
	metric_head(&b, "flowtag_app_flows_total", "counter", "Flows per nDPI application.");
	for (i = 0; i < WORKER_MAX_APPS; i++) {
		if (sum.app_flows[i] == 0)
			continue;
		json_printf(&b, "flowtag_app_flows_total{app=\"");
		label_value(&b, proto_name(api, (uint16_t)i));
		json_printf(&b, "\"} %llu\n", (unsigned long long)sum.app_flows[i]);
	}
	metric_head(&b, "flowtag_category_packets_total", "counter", "Packets per nDPI category.");
	for (i = 0; i < WORKER_MAX_CATEGORIES; i++) {
		if (sum.category_packets[i] == 0)
			continue;
		json_printf(&b, "flowtag_category_packets_total{category=\"");
		label_value(&b, names != NULL ? dpi_category_name(names, (uint16_t)i) : "?");
		json_printf(&b, "\"} %llu\n", (unsigned long long)sum.category_packets[i]);
	}
	metric_head(&b, "flowtag_chain_packets_total", "counter", "Packets tagged for a chain.");
	for (i = 0; pol != NULL && i < policy_chain_count(pol); i++) {
		json_printf(&b, "flowtag_chain_packets_total{chain=\"");
		label_value(&b, policy_chain_at(pol, i)->name);
		json_printf(&b, "\"} %llu\n", (unsigned long long)sum.chain_packets[i]);
	}
	metric_head(&b, "flowtag_chain_flows_total", "counter", "Flows decided for a chain.");
	for (i = 0; pol != NULL && i < policy_chain_count(pol); i++) {
		json_printf(&b, "flowtag_chain_flows_total{chain=\"");
		label_value(&b, policy_chain_at(pol, i)->name);
		json_printf(&b, "\"} %llu\n", (unsigned long long)sum.chain_flows[i]);
	}
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
	size_t i;

	memset(resp, 0, sizeof(*resp));
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
