/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "apps.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* The longest line one rule can make: host:"<63>"@<31>\n */
#define RULE_MAX (sizeof("host:\"\"@\n") + APP_HOST_MAX + APP_NAME_MAX)

size_t
apps_ndpi_protos_size(const struct app_defs *apps)
{
	size_t n = 64, i;

	for (i = 0; apps != NULL && i < apps->n; i++) {
		const struct app_def *a = &apps->app[i];

		n += (a->n_hosts + a->n_cidrs + a->n_ports) * RULE_MAX;
	}
	return n;
}

int
apps_ndpi_protos(const struct app_defs *apps, char *buf, size_t len)
{
	size_t off = 0, i, k;
	int w;

#define EMIT(...)                                                         \
	do {                                                              \
		w = snprintf(buf + off, len - off, __VA_ARGS__);          \
		if (w < 0 || (size_t)w >= len - off)                      \
			return -1;                                        \
		off += (size_t)w;                                         \
	} while (0)

	if (len == 0)
		return -1;
	buf[0] = '\0';
	EMIT("# flowtag apps: an nDPI protocols file (ndpiReader -p)\n");
	/*
	 * One element a line: nDPI reads the file line by line into a fixed buffer, and a second
	 * line naming the same protocol adds to it. The first line of an app creates it, so the
	 * apps take their ids in the order they are defined.
	 */
	for (i = 0; apps != NULL && i < apps->n; i++) {
		const struct app_def *a = &apps->app[i];

		for (k = 0; k < a->n_hosts; k++)
			EMIT("host:\"%s\"@%s\n", a->hosts[k], a->name);
		for (k = 0; k < a->n_cidrs; k++)
			EMIT("ip:%u.%u.%u.%u/%u@%s\n", a->cidrs[k].addr[0], a->cidrs[k].addr[1],
			     a->cidrs[k].addr[2], a->cidrs[k].addr[3], a->cidrs[k].bits, a->name);
		for (k = 0; k < a->n_ports; k++) {
			const struct app_port *p = &a->ports[k];
			const char *l4 = p->l4_proto == IPPROTO_TCP ? "tcp" : "udp";

			if (p->lo == p->hi)
				EMIT("%s:%u@%s\n", l4, p->lo, a->name);
			else
				EMIT("%s:%u-%u@%s\n", l4, p->lo, p->hi, a->name);
		}
	}
#undef EMIT
	return (int)off;
}

static bool
app_equal(const struct app_def *a, const struct app_def *b)
{
	uint32_t k;

	if (strcmp(a->name, b->name) != 0 || strcmp(a->category, b->category) != 0 ||
	    a->n_hosts != b->n_hosts || a->n_cidrs != b->n_cidrs || a->n_ports != b->n_ports)
		return false;
	for (k = 0; k < a->n_hosts; k++)
		if (strcmp(a->hosts[k], b->hosts[k]) != 0)
			return false;
	for (k = 0; k < a->n_cidrs; k++)
		if (memcmp(a->cidrs[k].addr, b->cidrs[k].addr, 4) != 0 ||
		    a->cidrs[k].bits != b->cidrs[k].bits)
			return false;
	for (k = 0; k < a->n_ports; k++)
		if (a->ports[k].l4_proto != b->ports[k].l4_proto || a->ports[k].lo != b->ports[k].lo ||
		    a->ports[k].hi != b->ports[k].hi)
			return false;
	return true;
}

bool
apps_equal(const struct app_defs *a, const struct app_defs *b)
{
	uint32_t na = a != NULL ? a->n : 0, nb = b != NULL ? b->n : 0, i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (!app_equal(&a->app[i], &b->app[i]))
			return false;
	return true;
}
