/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The REST API (JSON, under /v1) and the Prometheus exposition (/metrics).
 *
 * Requests and responses are plain structs: the HTTP server translates HTTP to them. Handlers
 * read the data path's counters and reach the workers only through datapath_* calls (rings,
 * RCU, requests), so no request can stall packet processing, and none waits: a handler that
 * needs the workers (flows, flush) returns API_PENDING and its answer comes later through
 * api->reply, when the data path has the results (or the request timed out). Control thread.
 *
 *   GET  /v1/health            liveness
 *   GET  /v1/ready             200 when every port is up and the workers run, else 503
 *   GET  /v1/stats             per port, per worker, drops by reason, the offload's state
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
	void *conn; /* the transport's handle for a later reply (API_PENDING) */
	const char *path; /* decoded path, no query */
	const char *query; /* raw query string or NULL */
	const char *body;
	size_t body_len;
	const char *authorization; /* the Authorization header or NULL */
	bool peer_loopback; /* the client connected over loopback */
};

struct api_response {
	int status;
	char *body; /* malloc'd; the caller frees */
	size_t len;
	const char *content_type;
	const char *allow; /* for 405: the methods the path takes */
	const char *headers; /* more header lines ("Name: value\r\n"...), static; may be NULL */
};

/* A reply that comes after api_handle returned: the transport sends it on `conn`. */
typedef void (*api_reply_cb)(void *ctx, void *conn, struct api_response *resp);

struct api_pending;
struct httpd;
struct offload;
struct ofconn;
struct export;

struct api {
	struct datapath *dp;
	char *token; /* NULL = no authentication */
	int auth; /* enum config_api_auth: who needs the token */
	char *policy_text; /* the YAML of the policy in force */
	char policy_source[512]; /* file path, or "api" */
	uint64_t started_unix;
	api_reply_cb reply;
	void *reply_ctx;
	const struct httpd *http; /* the server's own counters, for /v1/stats (NULL: none) */
	/* The offload and its switch connection while they run (NULL: offload is off). */
	const struct offload *offload;
	const struct ofconn *ofconn;
	const struct export *export; /* IPFIX export (NULL: none) */
	struct api_pending *pending; /* answers the data path still owes */
};

#define API_TOKEN_MAX 4096 /* bytes of a bearer token at most */

enum api_outcome {
	API_DONE, /* resp is filled */
	API_PENDING, /* the answer comes later through api->reply (unless api_cancel first) */
};

/* Handle one request (JSON errors: {"error": "...", ...}). */
enum api_outcome api_handle(struct api *api, const struct api_request *req,
			    struct api_response *resp);
/* The connection went away: its pending answer, if any, is dropped. */
void api_cancel(struct api *api, void *conn);
/* Release what the API holds (pending answers are dropped). */
void api_release(struct api *api);

/*
 * Validate, compile and swap in a policy from YAML text (`name` stands for the file name in
 * messages). Returns 0, or -1 with "name:line:col: message" in err and nothing changed.
 * Used by PUT /v1/policy and by SIGHUP.
 */
int api_apply_policy(struct api *api, const char *text, const char *name, bool bump_version,
		     char *err, size_t err_len);


#endif
