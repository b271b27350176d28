/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * User-defined applications (the config's `apps:`): the lab's own services, given to nDPI
 * through its own custom-protocol mechanism, the protocols file `ndpiReader -p` reads, so
 * nDPI's detection labels them (by host name, IPv4 address or port), not a matcher of ours.
 * nDPI gives them ids after its own, in the order they are defined.
 *
 * Pure data and the file's text; dpi.c loads it into each nDPI instance.
 */
#ifndef FLOWTAG_APPS_H
#define FLOWTAG_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPS_MAX 64 /* nDPI 4.2 has room for 229 custom protocols */
#define APP_NAME_MAX 32
#define APP_CATEGORY_MAX 40
#define APP_HOSTS_MAX 32
#define APP_HOST_MAX 64
#define APP_CIDRS_MAX 32
#define APP_PORTS_MAX 16

struct app_port {
	uint8_t l4_proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t lo, hi;
};

struct app_cidr {
	uint8_t addr[4]; /* IPv4, network order (nDPI 4.2's custom protocols take IPv4 only) */
	uint8_t bits;
};

struct app_def {
	char name[APP_NAME_MAX];
	char category[APP_CATEGORY_MAX]; /* an nDPI category name; "" = Unspecified */
	char hosts[APP_HOSTS_MAX][APP_HOST_MAX]; /* nDPI matches them in SNI, HTTP Host, DNS */
	uint32_t n_hosts;
	struct app_cidr cidrs[APP_CIDRS_MAX];
	uint32_t n_cidrs;
	struct app_port ports[APP_PORTS_MAX];
	uint32_t n_ports;
	uint32_t line, col; /* where its name is in the config, for messages */
};

struct app_defs {
	uint32_t n;
	struct app_def app[APPS_MAX];
};

/*
 * The apps as an nDPI protocols file (one rule a line: host:"...", ip:A.B.C.D/N, tcp:P or
 * udp:P-Q, then @Name), NUL-terminated in buf. Returns its length, or -1 if len is too small
 * (apps_ndpi_protos_size() always suffices).
 */
int apps_ndpi_protos(const struct app_defs *apps, char *buf, size_t len);
size_t apps_ndpi_protos_size(const struct app_defs *apps);

/* Whether two sets define the same apps (NULL is the empty set). */
bool apps_equal(const struct app_defs *a, const struct app_defs *b);

#endif
