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

struct datapath;
struct api;

/* The HTTP server's bounds (httpd.h), from the config's api section. */
struct control_http_limits {
	uint32_t max_connections;
	uint32_t max_header_bytes;
	uint32_t max_body_bytes;
	uint32_t idle_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t write_timeout_ms;
};

struct control_params {
	struct datapath *dp;
	struct api *api; /* NULL: no HTTP server */
	const char *listen; /* "ADDR:PORT" (IPv4 or [IPv6]); NULL or "" = no HTTP server */
	struct control_http_limits limits;
	const char *config_path; /* for SIGHUP; NULL = nothing to reload */
};

/* Run until the data path finishes (replay drained, or a signal stopped it). 0 or -1 with err. */
int control_run(const struct control_params *params, char *err, size_t err_len);

#endif
