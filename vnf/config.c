/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "(defaults)");
	snprintf(cfg->lcores, sizeof(cfg->lcores), "0,1");
	cfg->memory_mb = 512;
	cfg->hugepages = true;
	cfg->burst_size = 32;
	cfg->mbufs = 16383;
	cfg->idle_sleep_max_us = 1000;
	cfg->malformed = WORKER_MALFORMED_PASS;
	cfg->flow_capacity = 262144;
	cfg->dpi_states = 32768;
	cfg->timeout_ms[FLOW_TC_TCP] = 300 * 1000;
	cfg->timeout_ms[FLOW_TC_TCP_CLOSED] = 10 * 1000;
	cfg->timeout_ms[FLOW_TC_UDP] = 120 * 1000;
	cfg->timeout_ms[FLOW_TC_OTHER] = 60 * 1000;
	/* ndpiReader's limits: past these, nDPI rarely learns anything new. */
	cfg->budget_tcp = 80;
	cfg->budget_udp = 24;
	cfg->budget_other = 8;
}

void
config_release(struct config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_eal_extra; i++)
		free(cfg->eal_extra[i]);
	cfg->n_eal_extra = 0;
}

/* ---- a tiny schema walker over libyaml's document tree ---- */

struct loader {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t err_len;
	bool failed;
};

static void __attribute__((format(printf, 3, 4)))
fail_at(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ld->failed)
		return; /* the first error is the one worth reading */
	ld->failed = true;
	/* libyaml marks are 0-based; editors and compilers count from 1. */
	n = snprintf(ld->err, ld->err_len, "%s:%zu:%zu: ", ld->file,
		     node != NULL ? node->start_mark.line + 1 : 1,
		     node != NULL ? node->start_mark.column + 1 : 1);
	if (n < 0 || (size_t)n >= ld->err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->err_len - (size_t)n, fmt, ap);
	va_end(ap);
}

static const char *
scalar(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

static bool
expect_type(struct loader *ld, const yaml_node_t *node, yaml_node_type_t type, const char *what,
	    const char *key)
{
	static const char *const kinds[] = {
		[YAML_NO_NODE] = "nothing",
		[YAML_SCALAR_NODE] = "a scalar",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (node->type == type)
		return true;
	fail_at(ld, node, "'%s' must be %s, found %s", key, what, kinds[node->type]);
	return false;
}

static void
get_uint(struct loader *ld, const yaml_node_t *node, const char *key, uint64_t min, uint64_t max,
	 uint32_t *out)
{
	const char *s;
	char *end;
	unsigned long long v;

	if (!expect_type(ld, node, YAML_SCALAR_NODE, "a whole number", key))
		return;
	s = scalar(node);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0) {
		fail_at(ld, node, "'%s' must be a whole number from %" PRIu64 " to %" PRIu64
			", found '%s'", key, min, max, s);
		return;
	}
	if (v < min || v > max) {
		fail_at(ld, node, "'%s' is %llu, expected %" PRIu64 " to %" PRIu64, key, v, min, max);
		return;
	}
	*out = (uint32_t)v;
}

static void
get_seconds_ms(struct loader *ld, const yaml_node_t *node, const char *key, uint32_t *out_ms)
{
	uint32_t s = 0;

	get_uint(ld, node, key, 1, 86400, &s);
	if (!ld->failed)
		*out_ms = s * 1000;
}

static void
get_bool(struct loader *ld, const yaml_node_t *node, const char *key, bool *out)
{
	const char *s;

	if (!expect_type(ld, node, YAML_SCALAR_NODE, "true or false", key))
		return;
	s = scalar(node);
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		fail_at(ld, node, "'%s' must be true or false, found '%s'", key, s);
}

static void
get_str(struct loader *ld, const yaml_node_t *node, const char *key, char *out, size_t len)
{
	if (!expect_type(ld, node, YAML_SCALAR_NODE, "a string", key))
		return;
	if (strlen(scalar(node)) >= len) {
		fail_at(ld, node, "'%s' is longer than %zu characters", key, len - 1);
		return;
	}
	snprintf(out, len, "%s", scalar(node));
}

typedef void (*key_handler)(struct loader *ld, struct config *cfg, const char *key,
			    yaml_node_t *value);

struct key_def {
	const char *key;
	key_handler handle;
};

/* Walk a mapping, dispatching each key; an unknown key names the ones that are allowed. */
static void
walk_mapping(struct loader *ld, struct config *cfg, yaml_node_t *map, const char *section,
	     const struct key_def *defs)
{
	yaml_node_pair_t *pair;

	if (!expect_type(ld, map, YAML_MAPPING_NODE, "a mapping", section))
		return;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top && !ld->failed;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, pair->value);
		const struct key_def *d;
		char allowed[256] = "";

		if (!expect_type(ld, k, YAML_SCALAR_NODE, "a scalar key", section))
			return;
		for (d = defs; d->key != NULL; d++)
			if (strcmp(d->key, scalar(k)) == 0)
				break;
		if (d->key != NULL) {
			d->handle(ld, cfg, d->key, v);
			continue;
		}
		for (d = defs; d->key != NULL; d++) {
			strncat(allowed, d->key, sizeof(allowed) - strlen(allowed) - 1);
			if (d[1].key != NULL)
				strncat(allowed, ", ", sizeof(allowed) - strlen(allowed) - 1);
		}
		fail_at(ld, k, "unknown key '%s' in %s (expected one of: %s)", scalar(k), section,
			allowed);
	}
}

/* eal: */
static void
eal_lcores(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_str(ld, v, key, cfg->lcores, sizeof(cfg->lcores));
}
static void
eal_memory(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 64, 1 << 20, &cfg->memory_mb);
}
static void
eal_hugepages(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_bool(ld, v, key, &cfg->hugepages);
}
static void
eal_prefix(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_str(ld, v, key, cfg->file_prefix, sizeof(cfg->file_prefix));
}
static void
eal_extra(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	yaml_node_item_t *it;

	if (!expect_type(ld, v, YAML_SEQUENCE_NODE, "a list of strings", key))
		return;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(ld->doc, *it);

		if (!expect_type(ld, item, YAML_SCALAR_NODE, "a string", key))
			return;
		if (cfg->n_eal_extra == CONFIG_MAX_EAL_ARGS) {
			fail_at(ld, item, "'%s' has more than %d arguments", key, CONFIG_MAX_EAL_ARGS);
			return;
		}
		/* Our own EAL arguments are not negotiable: they keep the host's NIC safe. */
		if (strcmp(scalar(item), "--pci-allowlist") == 0 || strcmp(scalar(item), "-a") == 0 ||
		    strcmp(scalar(item), "--allow") == 0) {
			fail_at(ld, item, "'%s': PCI devices are never probed (flowtag runs with "
					  "--no-pci and vdevs only)", scalar(item));
			return;
		}
		cfg->eal_extra[cfg->n_eal_extra++] = strdup(scalar(item));
	}
}
static const struct key_def eal_keys[] = {
	{"lcores", eal_lcores},	    {"memory_mb", eal_memory}, {"hugepages", eal_hugepages},
	{"file_prefix", eal_prefix}, {"extra_args", eal_extra}, {NULL, NULL},
};

/* ports: */
static void
ports_list(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	yaml_node_item_t *it;

	if (!expect_type(ld, v, YAML_SEQUENCE_NODE, "a list of ports", key))
		return;
	cfg->n_ports = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
		struct config_port *p;
		yaml_node_pair_t *pair;

		if (cfg->n_ports == CONFIG_MAX_PORTS) {
			fail_at(ld, item, "more than %d ports", CONFIG_MAX_PORTS);
			return;
		}
		if (!expect_type(ld, item, YAML_MAPPING_NODE, "a mapping with name and vdev", "port"))
			return;
		p = &cfg->ports[cfg->n_ports];
		memset(p, 0, sizeof(*p));
		for (pair = item->data.mapping.pairs.start; pair < item->data.mapping.pairs.top;
		     pair++) {
			yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);
			yaml_node_t *val = yaml_document_get_node(ld->doc, pair->value);

			if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), "name") == 0)
				get_str(ld, val, "name", p->name, sizeof(p->name));
			else if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), "vdev") == 0)
				get_str(ld, val, "vdev", p->vdev, sizeof(p->vdev));
			else
				fail_at(ld, k, "unknown key in port (expected one of: name, vdev)");
		}
		if (ld->failed)
			return;
		if (p->vdev[0] == '\0') {
			fail_at(ld, item, "port needs 'vdev' (a DPDK virtual device such as "
					  "net_virtio_user0,path=/run/flowtag/vnf0.sock,server=1)");
			return;
		}
		if (strncmp(p->vdev, "net_", 4) != 0) {
			fail_at(ld, item, "'vdev' must name a DPDK virtual device (net_virtio_user, "
					  "net_pcap, net_null, net_ring, net_tap, net_af_packet), found '%s'",
				p->vdev);
			return;
		}
		if (p->name[0] == '\0')
			snprintf(p->name, sizeof(p->name), "port%u", cfg->n_ports);
		cfg->n_ports++;
	}
}

/* datapath: */
static void
dp_burst(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 256, &cfg->burst_size);
}
static void
dp_mbufs(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1023, 1u << 22, &cfg->mbufs);
}
static void
dp_idle(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 0, 100000, &cfg->idle_sleep_max_us);
}
static void
dp_malformed(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "pass or drop", key))
		return;
	if (strcmp(scalar(v), "pass") == 0)
		cfg->malformed = WORKER_MALFORMED_PASS;
	else if (strcmp(scalar(v), "drop") == 0)
		cfg->malformed = WORKER_MALFORMED_DROP;
	else
		fail_at(ld, v, "'%s' must be pass or drop, found '%s'", key, scalar(v));
}
static const struct key_def datapath_keys[] = {
	{"burst_size", dp_burst},  {"mbufs", dp_mbufs},
	{"idle_sleep_max_us", dp_idle}, {"malformed", dp_malformed}, {NULL, NULL},
};

/* flows: */
static void
fl_capacity(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 16, 1u << 26, &cfg->flow_capacity);
}
static void
fl_states(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 16, 1u << 24, &cfg->dpi_states);
}
static void
to_tcp(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_seconds_ms(ld, v, key, &cfg->timeout_ms[FLOW_TC_TCP]);
}
static void
to_tcp_closed(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_seconds_ms(ld, v, key, &cfg->timeout_ms[FLOW_TC_TCP_CLOSED]);
}
static void
to_udp(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_seconds_ms(ld, v, key, &cfg->timeout_ms[FLOW_TC_UDP]);
}
static void
to_other(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_seconds_ms(ld, v, key, &cfg->timeout_ms[FLOW_TC_OTHER]);
}
static const struct key_def timeout_keys[] = {
	{"tcp", to_tcp}, {"tcp_closed", to_tcp_closed}, {"udp", to_udp}, {"other", to_other},
	{NULL, NULL},
};
static void
fl_timeouts(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	(void)key;
	walk_mapping(ld, cfg, v, "flows.timeouts", timeout_keys);
}
static void
bu_tcp(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 1000, &cfg->budget_tcp);
}
static void
bu_udp(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 1000, &cfg->budget_udp);
}
static void
bu_other(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 1000, &cfg->budget_other);
}
static const struct key_def budget_keys[] = {
	{"tcp", bu_tcp}, {"udp", bu_udp}, {"other", bu_other}, {NULL, NULL},
};
static void
fl_budget(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	(void)key;
	walk_mapping(ld, cfg, v, "flows.packet_budget", budget_keys);
}
static const struct key_def flows_keys[] = {
	{"capacity", fl_capacity},   {"classifying", fl_states},	  {"timeouts", fl_timeouts},
	{"packet_budget", fl_budget}, {NULL, NULL},
};

/* records: */
static void
rec_path(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_str(ld, v, key, cfg->records_path, sizeof(cfg->records_path));
}
static const struct key_def records_keys[] = {
	{"path", rec_path},
	{NULL, NULL},
};

static void
sec_eal(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	walk_mapping(ld, cfg, v, key, eal_keys);
}
static void
sec_datapath(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	walk_mapping(ld, cfg, v, key, datapath_keys);
}
static void
sec_flows(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	walk_mapping(ld, cfg, v, key, flows_keys);
}
static void
sec_records(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	walk_mapping(ld, cfg, v, key, records_keys);
}
static const struct key_def top_keys[] = {
	{"eal", sec_eal},	    {"ports", ports_list}, {"datapath", sec_datapath},
	{"flows", sec_flows}, {"records", sec_records}, {NULL, NULL},
};

/* Rules that span sections, checked once everything is read. */
static void
check_whole(struct loader *ld, struct config *cfg, yaml_node_t *root)
{
	if (cfg->dpi_states > cfg->flow_capacity)
		fail_at(ld, root, "flows.classifying (%u) cannot exceed flows.capacity (%u)",
			cfg->dpi_states, cfg->flow_capacity);
}

static int
load_from_parser(struct config *cfg, yaml_parser_t *parser, const char *name, char *err,
		 size_t err_len)
{
	struct loader ld = {.file = name, .err = err, .err_len = err_len};
	yaml_document_t doc;
	yaml_node_t *root;

	if (!yaml_parser_load(parser, &doc)) {
		snprintf(err, err_len, "%s:%zu:%zu: %s%s%s", name, parser->problem_mark.line + 1,
			 parser->problem_mark.column + 1, parser->problem ? parser->problem : "syntax error",
			 parser->context ? " " : "", parser->context ? parser->context : "");
		return -1;
	}
	ld.doc = &doc;
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	root = yaml_document_get_root_node(&doc);
	if (root != NULL) { /* an empty file means all defaults */
		walk_mapping(&ld, cfg, root, "the top level", top_keys);
		if (!ld.failed)
			check_whole(&ld, cfg, root);
	}
	yaml_document_delete(&doc);
	return ld.failed ? -1 : 0;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	yaml_parser_t parser;
	FILE *f;
	int rc;

	f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	rc = load_from_parser(cfg, &parser, path, err, err_len);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

int
config_load_string(struct config *cfg, const char *name, const char *text, char *err,
		   size_t err_len)
{
	yaml_parser_t parser;
	int rc;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	rc = load_from_parser(cfg, &parser, name, err, err_len);
	yaml_parser_delete(&parser);
	return rc;
}
