/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "control.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "config.h"
#include "datapath.h"

#define POLL_INTERVAL_US 1000

struct control {
	struct control_params p;
	struct event_base *base;
	struct evhttp *http;
};

static enum api_method
method_of(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return API_GET;
	case EVHTTP_REQ_POST:
		return API_POST;
	case EVHTTP_REQ_PUT:
		return API_PUT;
	case EVHTTP_REQ_DELETE:
		return API_DELETE;
	default:
		return API_OTHER;
	}
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct control *c = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req), *out;
	struct api_request ar = {0};
	struct api_response resp;
	char *path = NULL, *body = NULL;
	size_t len = evbuffer_get_length(in);

	path = evhttp_uridecode(uri != NULL && evhttp_uri_get_path(uri) != NULL
					? evhttp_uri_get_path(uri)
					: "/",
				0, NULL);
	body = malloc(len + 1);
	if (path == NULL || body == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		free(path);
		free(body);
		return;
	}
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	ar.method = method_of(evhttp_request_get_command(req));
	ar.path = path;
	ar.query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	ar.body = body;
	ar.body_len = len;
	ar.authorization = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	api_handle(c->p.api, &ar, &resp);

	out = evbuffer_new();
	if (out != NULL && resp.body != NULL)
		evbuffer_add(out, resp.body, resp.len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  resp.content_type != NULL ? resp.content_type : "application/json");
	if (resp.allow != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", resp.allow);
	evhttp_send_reply(req, resp.status != 0 ? resp.status : 500, NULL, out);
	if (out != NULL)
		evbuffer_free(out);
	free(resp.body);
	free(path);
	free(body);
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
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct control *c = arg;

	(void)what;
	fprintf(stderr, "flowtag: %s: stopping rx, flushing every flow\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM");
	datapath_stop(c->p.dp); /* on_poll ends the loop once the workers are done */
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
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (text = malloc((size_t)n + 1)) != NULL) {
		if (fread(text, 1, (size_t)n, f) != (size_t)n) {
			free(text);
			text = NULL;
		} else {
			text[n] = '\0';
		}
	}
	if (text == NULL)
		snprintf(err, err_len, "%s: cannot read", path);
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
		fprintf(stderr, "flowtag: SIGHUP: no config file to reload\n");
		return;
	}
	text = read_file(c->p.config_path, err, sizeof(err));
	if (text == NULL || api_apply_policy(c->p.api, text, c->p.config_path, false, err,
					     sizeof(err)) != 0) {
		fprintf(stderr, "flowtag: SIGHUP: reload failed, the old policy stays: %s\n", err);
	} else {
		fprintf(stderr, "flowtag: SIGHUP: policy reloaded from %s (only the policy: chains, "
				"rules, policy; the data path settings need a restart)\n",
			c->p.config_path);
	}
	free(text);
}

static int
bind_http(struct control *c, char *err, size_t err_len)
{
	char host[256];
	const char *colon = strrchr(c->p.listen, ':');
	unsigned long port;
	size_t hl;
	char *end;

	if (colon == NULL || colon == c->p.listen) {
		snprintf(err, err_len, "api.listen '%s' must be ADDRESS:PORT", c->p.listen);
		return -1;
	}
	hl = (size_t)(colon - c->p.listen);
	if (c->p.listen[0] == '[' && hl >= 2 && c->p.listen[hl - 1] == ']') {
		hl -= 2;
		memcpy(host, c->p.listen + 1, hl < sizeof(host) ? hl : sizeof(host) - 1);
	} else {
		memcpy(host, c->p.listen, hl < sizeof(host) ? hl : sizeof(host) - 1);
	}
	host[hl < sizeof(host) ? hl : sizeof(host) - 1] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535) {
		snprintf(err, err_len, "api.listen '%s': bad port", c->p.listen);
		return -1;
	}
	c->http = evhttp_new(c->base);
	if (c->http == NULL) {
		snprintf(err, err_len, "cannot create the HTTP server");
		return -1;
	}
	evhttp_set_max_body_size(c->http, (ev_ssize_t)c->p.max_body);
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(c->http, on_request, c);
	if (evhttp_bind_socket_with_handle(c->http, host, (uint16_t)port) == NULL) {
		snprintf(err, err_len, "api.listen %s: cannot listen: %s", c->p.listen,
			 strerror(errno));
		return -1;
	}
	fprintf(stderr, "flowtag: API on http://%s/v1/ (metrics at /metrics)\n", c->p.listen);
	return 0;
}

int
control_run(const struct control_params *params, char *err, size_t err_len)
{
	struct event *poll = NULL, *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct timeval tv = {.tv_sec = 0, .tv_usec = POLL_INTERVAL_US};
	struct control c = {.p = *params};
	int rc = -1;

	c.base = event_base_new();
	if (c.base == NULL) {
		snprintf(err, err_len, "cannot create the event loop");
		return -1;
	}
	if (c.p.api != NULL && c.p.listen != NULL && c.p.listen[0] != '\0' &&
	    bind_http(&c, err, err_len) != 0)
		goto out;
	poll = event_new(c.base, -1, EV_PERSIST, on_poll, &c);
	sigterm = evsignal_new(c.base, SIGTERM, on_stop, &c);
	sigint = evsignal_new(c.base, SIGINT, on_stop, &c);
	sighup = evsignal_new(c.base, SIGHUP, on_hup, &c);
	if (poll == NULL || sigterm == NULL || sigint == NULL || sighup == NULL ||
	    event_add(poll, &tv) != 0 || event_add(sigterm, NULL) != 0 ||
	    event_add(sigint, NULL) != 0 || event_add(sighup, NULL) != 0) {
		snprintf(err, err_len, "cannot set up the control events");
		goto out;
	}
	event_base_dispatch(c.base);
	rc = 0;
out:
	if (poll != NULL)
		event_free(poll);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (sighup != NULL)
		event_free(sighup);
	if (c.http != NULL)
		evhttp_free(c.http);
	event_base_free(c.base);
	return rc;
}
