/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The REST API (JSON, under /v1) and the Prometheus exposition (/metrics).
 *
 * Requests and responses are plain structs: control.c (the only libevent user) translates
 * HTTP to them. Handlers read the data path's counters and reach the workers only through
 * datapath_* calls (rings, RCU), so no request can stall packet processing. Control thread.
 *
 *   GET  /v1/health            liveness
 *   GET  /v1/ready             200 when every port is up and the workers run, else 503
 *   GET  /v1/stats             per port, per worker, drops by reason
 *   GET  /v1/apps              packets, bytes, flows per application and per category
 *   GET  /v1/flows             live flows; ?app= &host= (glob) &chain= (name, or "none")
 *                              &cidr= &limit= (default 100, max 10000) &offset=
 *   POST /v1/flows/flush       end every flow now (records written)
 *   GET  /v1/chains            chains, their tags and counters
 *   GET  /v1/policy            the policy in force (its YAML text, version)
 *   PUT  /v1/policy            a new policy (the config file's YAML, or JSON): validated,
 *                              compiled and swapped under traffic; 400 with line:col if not
 *   GET  /metrics              Prometheus text exposition
 */
#ifndef FLOWTAG_API_H
#define FLOWTAG_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct datapath;

enum api_method {
	API_GET,
	API_POST,
	API_PUT,
	API_DELETE,
	API_OTHER,
};

struct api_request {
	enum api_method method;
	const char *path; /* decoded path, no query */
	const char *query; /* raw query string or NULL */
	const char *body;
	size_t body_len;
	const char *authorization; /* the Authorization header or NULL */
};

struct api_response {
	int status;
	char *body; /* malloc'd; the caller frees */
	size_t len;
	const char *content_type;
	const char *allow; /* for 405: the methods the path takes */
};

struct api {
	struct datapath *dp;
	char token[256]; /* "" = no authentication */
	char *policy_text; /* the YAML of the policy in force */
	char policy_source[512]; /* file path, or "api" */
	uint64_t started_unix;
};

/* Handle one request; always fills resp (JSON errors: {"error": "...", ...}). */
void api_handle(struct api *api, const struct api_request *req, struct api_response *resp);

/*
 * Validate, compile and swap in a policy from YAML text (`name` stands for the file name in
 * messages). Returns 0, or -1 with "name:line:col: message" in err and nothing changed.
 * Used by PUT /v1/policy and by SIGHUP.
 */
int api_apply_policy(struct api *api, const char *text, const char *name, bool bump_version,
		     char *err, size_t err_len);

/* Register flowtag's DPDK telemetry commands (/flowtag/stats, /flowtag/apps, /flowtag/chains). */
void api_register_telemetry(struct api *api);

#endif
