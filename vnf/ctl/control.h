/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The control thread: it owns the libevent base and runs, until the data path finishes:
 *   - the HTTP API (api.c) on the HTTP server (httpd.c, which runs its connections on this
 *     base) on a listen address (127.0.0.1 by default), with its limits;
 *   - signals: SIGTERM/SIGINT stop rx, the workers drain and flush every flow's record, exit;
 *     SIGHUP reloads the policy from the config file (a broken file keeps the old policy and
 *     the log says why);
 *   - timers: the data path's poll (records, request results, retired policies, link state,
 *     replay rewinds; every millisecond) and the telemetry snapshot (twice a second).
 */
#ifndef FLOWTAG_CONTROL_H
#define FLOWTAG_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "datapath.h"

struct datapath;
struct api;
struct config;
struct offload;
struct ofconn;
struct export;
struct offload_ask;

/* The HTTP server's bounds (httpd.h), from the config's api section. */
struct control_http_limits {
	uint32_t max_connections;
	uint32_t max_header_bytes;
	uint32_t max_body_bytes;
	uint32_t idle_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t write_timeout_ms;
};

/*
 * Between the data path and the record sink, and the offload's wiring: main.c fills `write`
 * and points the data path's callbacks at the functions below (ctx = the link); control_run
 * adds the offload and its switch connection while it runs (offload.switch set).
 */
struct control_link {
	datapath_record_cb write;
	void *write_ctx;
	struct datapath *dp;
	struct offload *offload; /* NULL: records go straight to `write` */
	struct ofconn *conn;
	struct export *export; /* export.ipfix: records also go to a collector */
};
/* datapath_params.on_record, .on_offload_ask, .on_policy with ctx = a struct control_link. */
void control_link_record(void *ctx, const struct flow_record *rec);
void control_link_ask(void *ctx, const struct offload_ask *ask);
void control_link_policy(void *ctx, const struct policy *p);

struct control_params {
	struct datapath *dp;
	struct control_link *link;
	const struct config *cfg; /* offload.*: with offload.switch set, the offload runs */
	struct api *api; /* NULL: no HTTP server */
	const char *listen; /* "ADDR:PORT" (IPv4 or [IPv6]); NULL or "" = no HTTP server */
	struct control_http_limits limits;
	const char *config_path; /* for SIGHUP; NULL = nothing to reload */
};

/* Run until the data path finishes (replay drained, or a signal stopped it). 0 or -1 with err. */
int control_run(const struct control_params *params, char *err, size_t err_len);

#endif
