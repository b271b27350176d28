/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * libFuzzer target: what a client sends the API. The bytes are a request head (parsed in place,
 * as the server does), its target split into path and query, and the query parsed as
 * GET /v1/flows parses it. Whatever the input: no crash, no read past the end, and an answer
 * that is either a parse or one of the statuses the server sends.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dpi.h"
#include "flow_filter.h"
#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dpi *names;
	struct dpi_params dp = {.max_states = 1};
	char *buf = malloc(size + 1), path[HTTP_MAX_TARGET + 1], err[256];
	const char *query;
	struct http_head h;
	struct flow_filter f;
	size_t end;
	int rc;

	if (buf == NULL)
		return 0;
	if (names == NULL && (names = dpi_create(&dp)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* The query parser on the raw bytes too: a query is any text. */
	if (flow_filter_parse(buf, names, &f, err, sizeof(err)) == 0 &&
	    (f.limit > FLOW_FILTER_MAX_LIMIT || f.cidr_prefix > 128 ||
	     strlen(f.host_glob) >= sizeof(f.host_glob)))
		__builtin_trap();
	end = http_head_end(buf, size);
	if (end > size)
		__builtin_trap();
	if (end > 0) {
		rc = http_parse_head(buf, end, &h);
		if (rc != 0 && rc != 400 && rc != 414 && rc != 431 && rc != 501 && rc != 505)
			__builtin_trap();
		if (rc == 0 && http_split_target(h.target, path, sizeof(path), &query) == 0 &&
		    flow_filter_parse(query, names, &f, err, sizeof(err)) == 0 &&
		    f.limit > FLOW_FILTER_MAX_LIMIT)
			__builtin_trap();
	}
	free(buf);
	return 0;
}
