/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "flow_filter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#include "dpi.h"
#include "flow_record.h"

#define hexval text_hex_value

/*
 * The percent-decoded value of `key` in a query ("a=1&b=x%20y"), '+' as space, into
 * buf[0..len). Returns buf, or NULL if the key is absent. A value too long, or holding an
 * encoded NUL, is cut there and *truncated set (the caller refuses it).
 */
static const char *
query_get(const char *query, const char *key, char *buf, size_t len, bool *truncated)
{
	size_t klen = strlen(key);
	const char *p = query;

	if (truncated != NULL)
		*truncated = false;
	if (len == 0)
		return NULL;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t i = klen + 1, o = 0;

			while (i < n) {
				char c = p[i];

				if (c == '%' && i + 2 < n && hexval((unsigned char)p[i + 1]) >= 0 &&
				    hexval((unsigned char)p[i + 2]) >= 0) {
					c = (char)(hexval((unsigned char)p[i + 1]) << 4 |
						   hexval((unsigned char)p[i + 2]));
					i += 3;
				} else {
					c = c == '+' ? ' ' : c;
					i++;
				}
				if (c == '\0' || o + 1 >= len) {
					/* An encoded NUL would cut the value short: as bad as too long. */
					if (truncated != NULL)
						*truncated = true;
					break;
				}
				buf[o++] = c;
			}
			buf[o] = '\0';
			return buf;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

/* Digits only, no sign, at most max. */
static bool
parse_uint(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
	}
	if (*s != '\0')
		return false;
	*out = (uint32_t)v;
	return true;
}

/* "ADDRESS" or "ADDRESS/LENGTH", the length within the family's bits. */
static bool
parse_cidr(const char *text, struct flow_filter *f)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t al = slash != NULL ? (size_t)(slash - text) : strlen(text);
	uint32_t maxp, pl;

	if (al == 0 || al >= sizeof(addr))
		return false;
	memcpy(addr, text, al);
	addr[al] = '\0';
	if (inet_pton(AF_INET, addr, f->cidr_addr) == 1)
		f->cidr_version = 4;
	else if (inet_pton(AF_INET6, addr, f->cidr_addr) == 1)
		f->cidr_version = 6;
	else
		return false;
	maxp = f->cidr_version == 4 ? 32 : 128;
	pl = maxp;
	if (slash != NULL && !parse_uint(slash + 1, maxp, &pl))
		return false;
	f->cidr_prefix = (uint8_t)pl;
	return true;
}

/* The value of key, NULL if absent; *bad when present but too long or with an encoded NUL. */
static const char *
value(const char *query, const char *key, char *buf, size_t len, bool *bad)
{
	bool cut = false;
	const char *v = query_get(query, key, buf, len, &cut);

	*bad = v != NULL && cut;
	return v;
}

int
flow_filter_parse(const char *query, const struct dpi *names, struct flow_filter *f, char *err,
		  size_t err_len)
{
	char v[256];
	bool bad;

	memset(f, 0, sizeof(*f));
	f->app = -1;
	f->chain = -2;
	f->limit = FLOW_FILTER_DEFAULT_LIMIT;
	if (value(query, "limit", v, sizeof(v), &bad) != NULL &&
	    (bad || !parse_uint(v, FLOW_FILTER_MAX_LIMIT, &f->limit))) {
		snprintf(err, err_len, "limit must be a whole number from 0 to %d",
			 FLOW_FILTER_MAX_LIMIT);
		return -1;
	}
	if (value(query, "offset", v, sizeof(v), &bad) != NULL &&
	    (bad || !parse_uint(v, UINT32_MAX, &f->offset))) {
		snprintf(err, err_len, "offset must be a whole number from 0 to %u", UINT32_MAX);
		return -1;
	}
	if (value(query, "app", v, sizeof(v), &bad) != NULL) {
		f->app = !bad && names != NULL ? dpi_proto_id(names, v) : -1;
		if (f->app < 0) {
			snprintf(err, err_len, "unknown application (nDPI's names, e.g. YouTube)");
			return -1;
		}
	}
	if (value(query, "host", f->host_glob, sizeof(f->host_glob), &bad) == NULL)
		f->host_glob[0] = '\0';
	else if (bad) {
		snprintf(err, err_len, "host must be a glob of at most %zu bytes",
			 sizeof(f->host_glob) - 1);
		return -1;
	}
	if (value(query, "chain", v, sizeof(v), &bad) != NULL) {
		if (strcmp(v, "none") == 0) {
			f->chain = -1;
		} else if (bad || strlen(v) >= sizeof(f->chain_name) || v[0] == '\0') {
			snprintf(err, err_len, "chain must name a chain of the policy, or be none");
			return -1;
		} else {
			f->chain = 0;
			memcpy(f->chain_name, v, strlen(v) + 1);
		}
	}
	if (value(query, "cidr", v, sizeof(v), &bad) != NULL && (bad || !parse_cidr(v, f))) {
		snprintf(err, err_len, "cidr must be an IPv4 or IPv6 address, or ADDRESS/LENGTH with a "
				       "length of 0 to 32 (IPv4) or 0 to 128 (IPv6)");
		return -1;
	}
	return 0;
}

bool
flow_filter_match(const struct flow_filter *f, const struct flow_record *r)
{
	if (f->app >= 0 && r->verdict.app_proto != f->app && r->verdict.master_proto != f->app)
		return false;
	if (f->host_glob[0] != '\0' && fnmatch(f->host_glob, r->meta.host, FNM_CASEFOLD) != 0)
		return false;
	if (f->chain >= -1) {
		/* chain: its name is in the record; -1 = flows on no chain */
		const char *want = f->chain >= 0 ? f->chain_name : "";

		if (strcmp(r->chain, want) != 0)
			return false;
	}
	if (f->cidr_version != 0) {
		const uint8_t *ends[2] = {r->key.lo_addr, r->key.hi_addr};
		uint32_t full = f->cidr_prefix / 8, rest = f->cidr_prefix % 8;
		bool any = false;
		int k;

		if (r->key.ip_version != f->cidr_version)
			return false;
		for (k = 0; k < 2 && !any; k++)
			any = memcmp(ends[k], f->cidr_addr, full) == 0 &&
			      (rest == 0 || ((ends[k][full] ^ f->cidr_addr[full]) & (0xff00 >> rest)) == 0);
		if (!any)
			return false;
	}
	return true;
}
