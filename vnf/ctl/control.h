/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The control thread: the one module that uses libevent. It owns the event base and runs,
 * until the data path finishes:
 *   - the HTTP API (api.c) on a listen address (127.0.0.1 by default), with the body limit
 *     (413 beyond) and the optional bearer token;
 *   - signals: SIGTERM/SIGINT stop rx, the workers drain and flush every flow's record, exit;
 *     SIGHUP reloads the policy from the config file (a broken file keeps the old policy and
 *     the log says why);
 *   - timers: finished-flow records and link state (every millisecond), replay rewinds.
 */
#ifndef FLOWTAG_CONTROL_H
#define FLOWTAG_CONTROL_H

#include <stddef.h>

struct datapath;
struct api;

struct control_params {
	struct datapath *dp;
	struct api *api; /* NULL: no HTTP server */
	const char *listen; /* "ADDR:PORT" (IPv4 or [IPv6]); NULL or "" = no HTTP server */
	size_t max_body; /* bytes */
	const char *config_path; /* for SIGHUP; NULL = nothing to reload */
};

/* Run until the data path finishes (replay drained, or a signal stopped it). 0 or -1 with err. */
int control_run(const struct control_params *params, char *err, size_t err_len);

#endif
