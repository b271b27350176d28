/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Which live flows a GET /v1/flows asks for: the query string parsed into a filter (on the
 * control thread), the filter matched against flow records (on the workers). Every query
 * byte comes from a socket: values are bounded, numbers digits only, errors say what was
 * expected. Pure code (the fuzz target drives it).
 */
#ifndef FLOWTAG_FLOW_FILTER_H
#define FLOWTAG_FLOW_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dpi;
struct flow_record;

#define FLOW_FILTER_DEFAULT_LIMIT 100
#define FLOW_FILTER_MAX_LIMIT 10000

struct flow_filter {
	int app; /* nDPI protocol id, master or app; -1 = any */
	char host_glob[256]; /* "" = any */
	int chain; /* -2 = any; -1 = flows on no chain; >= 0: on the chain named chain_name */
	char chain_name[32];
	uint8_t cidr_version; /* 0 = any */
	uint8_t cidr_prefix;
	uint8_t cidr_addr[16]; /* either endpoint */
	uint32_t limit; /* records at most */
	uint32_t offset; /* matches skipped first */
};

/*
 * Parse `app=&host=&chain=&cidr=&limit=&offset=` (query may be NULL). `names` resolves app
 * names (NULL: app= is refused). Returns 0, or -1 with what is wrong in err.
 */
int flow_filter_parse(const char *query, const struct dpi *names, struct flow_filter *f,
		      char *err, size_t err_len);

/* Does the flow match (limit and offset aside)? */
bool flow_filter_match(const struct flow_filter *f, const struct flow_record *r);

#endif
