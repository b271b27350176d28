/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * HTTP/1.1 request heads (RFC 9112), parsed in place from a connection's bytes, and the
 * request target split into its path and query (flow_filter.c reads the query's values). Every byte here comes from a
 * socket: lengths are bounded, nothing is read past `len`, and anything this server does not
 * do is refused with the status that says so. Pure code (the fuzz target drives it).
 */
#ifndef FLOWTAG_HTTP_PARSE_H
#define FLOWTAG_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_TARGET 4096 /* request-target bytes; 414 beyond */
#define HTTP_MAX_BODY_LENGTH (1u << 30)

struct http_head {
	const char *method; /* token, NUL-terminated in the buffer */
	const char *target; /* origin-form, from '/', NUL-terminated */
	unsigned version_minor; /* HTTP/1.<minor>: 0 or 1 */
	uint64_t content_length; /* 0 without the header */
	bool keep_alive; /* the connection stays open after this exchange */
	const char *authorization; /* the header's value, or NULL */
	const char *accept; /* the header's value, or NULL */
	const char *origin; /* the header's value, or NULL */
};

/*
 * Parse the head at the start of buf[0..len), which holds at least the blank line ending it
 * (head_len bytes, as http_head_end() found). NUL-terminates the pieces in place. Returns 0,
 * or the HTTP status to answer with: 400 (malformed), 414 (target too long), 431 (too many
 * header lines), 501 (a transfer coding, or an unknown method form), 505 (not HTTP/1.x).
 */
int http_parse_head(char *buf, size_t head_len, struct http_head *h);

/*
 * The length of the head at the start of buf[0..len) including the blank line that ends it
 * ("\r\n\r\n" or "\n\n"), or 0 if the blank line has not arrived.
 */
size_t http_head_end(const char *buf, size_t len);

/*
 * Split a target into its path, percent-decoded into path[0..path_len), and its raw query
 * (after '?', or NULL). Returns 0, or -1 for a path that decodes badly (a truncated or
 * non-hex escape, an encoded NUL, a path longer than the buffer).
 */
int http_split_target(const char *target, char *path, size_t path_len, const char **query);

#endif
