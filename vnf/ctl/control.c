/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "control.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "datapath.h"
#include "httpd.h"
#include "log.h"
#include "telemetry.h"
#include "yaml_doc.h"

#define POLL_INTERVAL_US 1000
#define TELEMETRY_INTERVAL_MS 500
#define MAX_OUTPUT_BYTES (64u << 20) /* answers queued for slow readers, all connections */

struct control {
	struct control_params p;
	struct event_base *base;
	struct httpd *http;
};

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

	(void)fd;
	(void)what;
	if (datapath_poll(c->p.dp))
		event_base_loopbreak(c->base);
}

static void
on_telemetry(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;

	(void)fd;
	(void)what;
	telemetry_publish(c->p.dp);
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct control *c = arg;

	(void)what;
	LOG(NOTICE, CONTROL, "%s: stopping rx, flushing every flow", sig == SIGINT ? "SIGINT" : "SIGTERM");
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
		LOG(NOTICE, CONTROL, "SIGHUP: policy reloaded from %s (only the policy: chains, rules, "
				     "policy; the data path settings need a restart)",
		    c->p.config_path);
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
	LOG(NOTICE, API, "API on http://%s/v1/ (metrics at /metrics)", c->p.listen);
	return 0;
}

int
control_run(const struct control_params *params, char *err, size_t err_len)
{
	struct event *poll = NULL, *tel = NULL, *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct timeval poll_tv = {.tv_sec = 0, .tv_usec = POLL_INTERVAL_US};
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
	poll = event_new(c.base, -1, EV_PERSIST, on_poll, &c);
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
	telemetry_publish(c.p.dp);
	event_base_dispatch(c.base);
	rc = 0;
out:
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
