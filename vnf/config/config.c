/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "yaml_doc.h"

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
	/* Virtual switches carry jumbo frames; NSH adds 38+ bytes to every packet it tags. */
	cfg->mtu = 9000;
	/* A packet that cannot carry its chain's tag must not skip the chain untagged. */
	cfg->oversize_drop = true;
	snprintf(cfg->api_listen, sizeof(cfg->api_listen), "127.0.0.1:8080");
	cfg->api_max_body = 1 << 20;
	/* Where flowtagctl looks by default: root's /run, or the user's own runtime directory. */
	if (getuid() != 0 && getenv("XDG_RUNTIME_DIR") != NULL &&
	    strlen(getenv("XDG_RUNTIME_DIR")) < sizeof(cfg->api_token_file) - 32)
		snprintf(cfg->api_token_file, sizeof(cfg->api_token_file), "%s/flowtag/api.token",
			 getenv("XDG_RUNTIME_DIR"));
	else
		snprintf(cfg->api_token_file, sizeof(cfg->api_token_file), "/run/flowtag/api.token");
	cfg->api_auth = CONFIG_API_AUTH_WRITES;
	cfg->api_max_connections = 256;
	cfg->api_max_header_bytes = 8192;
	cfg->api_idle_timeout_s = 15;
	cfg->api_request_timeout_s = 10;
}

const struct policy_spec *
config_policy(const struct config *cfg)
{
	static struct policy_spec builtin;
	static bool ready;

	if (cfg->policy != NULL)
		return cfg->policy;
	if (!ready) {
		policy_spec_defaults(&builtin);
		ready = true;
	}
	return &builtin;
}

void
config_release(struct config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_eal_extra; i++)
		free(cfg->eal_extra[i]);
	cfg->n_eal_extra = 0;
	free(cfg->policy);
	cfg->policy = NULL;
}

/* ---- a tiny schema walker over libyaml's document tree ---- */

struct loader {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t err_len;
	bool failed;
};

static void __attribute__((format(printf, 4, 0)))
vfail_pos(struct loader *ld, size_t line, size_t col, const char *fmt, va_list ap)
{
	int n;

	if (ld->failed)
		return; /* the first error is the one worth reading */
	ld->failed = true;
	n = snprintf(ld->err, ld->err_len, "%s:%zu:%zu: ", ld->file, line, col);
	if (n >= 0 && (size_t)n < ld->err_len)
		vsnprintf(ld->err + n, ld->err_len - (size_t)n, fmt, ap);
}

static void __attribute__((format(printf, 3, 4)))
fail_at(struct loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* libyaml marks are 0-based; editors and compilers count from 1. */
	vfail_pos(ld, node != NULL ? node->start_mark.line + 1 : 1,
		  node != NULL ? node->start_mark.column + 1 : 1, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 4, 5)))
fail_pos(struct loader *ld, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_pos(ld, line, col, fmt, ap);
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
/*
 * The prefix names a directory under DPDK's runtime directory that flowtag cleans up at exit:
 * a plain name, never a path ("../../etc" made the cleanup empty another directory).
 */
static void
eal_prefix(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	const char *p;

	get_str(ld, v, key, cfg->file_prefix, sizeof(cfg->file_prefix));
	if (ld->failed || cfg->file_prefix[0] == '\0')
		return;
	for (p = cfg->file_prefix; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      ((*p == '.' || *p == '_' || *p == '-') && p != cfg->file_prefix)))
			break;
	if (*p != '\0')
		fail_at(ld, v, "'%s' must be a plain name (letters, digits, and '.', '_', '-' after "
			       "the first character), found '%s'",
			key, cfg->file_prefix);
}
/* `arg` is option `opt`, alone or as opt=value. */
static bool
eal_arg_is(const char *arg, const char *opt)
{
	size_t n = strlen(opt);

	return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
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
		/*
		 * Our own EAL arguments are not negotiable: --no-pci keeps the host's NIC safe,
		 * and the file prefix names the directory the cleanup empties. EAL takes an
		 * option's last occurrence, so any spelling of these (with '=' or the value
		 * attached) is refused.
		 */
		if (eal_arg_is(scalar(item), "--pci-allowlist") || eal_arg_is(scalar(item), "--allow") ||
		    eal_arg_is(scalar(item), "--pci-whitelist") || strncmp(scalar(item), "-a", 2) == 0 ||
		    strncmp(scalar(item), "-w", 2) == 0) {
			fail_at(ld, item, "'%s': PCI devices are never probed (flowtag runs with "
					  "--no-pci and vdevs only)", scalar(item));
			return;
		}
		if (eal_arg_is(scalar(item), "--file-prefix")) {
			fail_at(ld, item, "'%s': set eal.file_prefix instead (a plain name)", scalar(item));
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
			else if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), "return") == 0)
				get_bool(ld, val, "return", &p->is_return);
			else
				fail_at(ld, k, "unknown key in port (expected one of: name, vdev, return)");
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
static void
dp_mtu(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 576, 9702, &cfg->mtu);
}
static void
dp_oversize(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "drop or untagged", key))
		return;
	if (strcmp(scalar(v), "drop") == 0)
		cfg->oversize_drop = true;
	else if (strcmp(scalar(v), "untagged") == 0)
		/* A packet that cannot carry its chain's tag must not skip the chain untagged. */
	cfg->oversize_drop = true;
	else
		fail_at(ld, v, "'%s' must be drop or untagged, found '%s'", key, scalar(v));
}
static void
dp_mode(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "one-arm or inline", key))
		return;
	if (strcmp(scalar(v), "one-arm") == 0)
		cfg->mode = CONFIG_MODE_ONE_ARM;
	else if (strcmp(scalar(v), "inline") == 0)
		cfg->mode = CONFIG_MODE_INLINE;
	else
		fail_at(ld, v, "'%s' must be one-arm or inline, found '%s'", key, scalar(v));
	cfg->mode_node_line = (uint32_t)v->start_mark.line + 1;
	cfg->mode_node_col = (uint32_t)v->start_mark.column + 1;
}
static const struct key_def datapath_keys[] = {
	{"mode", dp_mode},
	{"burst_size", dp_burst},	{"mbufs", dp_mbufs},	 {"idle_sleep_max_us", dp_idle},
	{"malformed", dp_malformed}, {"mtu", dp_mtu},	 {"oversize", dp_oversize},
	{NULL, NULL},
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
fl_ipv6(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 1u << 26, &cfg->ipv6_capacity);
}
static void
fl_metadata(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 1u << 26, &cfg->meta_capacity);
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
	{"capacity", fl_capacity},   {"classifying", fl_states},
	{"ipv6", fl_ipv6},	     {"metadata", fl_metadata},	  {"timeouts", fl_timeouts},
	{"packet_budget", fl_budget}, {NULL, NULL},
};

/* api: */
static void
api_listen(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_str(ld, v, key, cfg->api_listen, sizeof(cfg->api_listen));
	if (!ld->failed && cfg->api_listen[0] != '\0' && strrchr(cfg->api_listen, ':') == NULL)
		fail_at(ld, v, "'%s' must be ADDRESS:PORT (e.g. 127.0.0.1:8080) or \"\" for no API",
			key);
}
static void
api_token(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_str(ld, v, key, cfg->api_token_file, sizeof(cfg->api_token_file));
	if (!ld->failed && cfg->api_token_file[0] == '\0')
		fail_at(ld, v, "'%s' must name a file (to turn the token off: api.auth: none)", key);
	cfg->api_token_file_set = true;
}
static void
api_auth(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "writes, all or none", key))
		return;
	if (strcmp(scalar(v), "writes") == 0)
		cfg->api_auth = CONFIG_API_AUTH_WRITES;
	else if (strcmp(scalar(v), "all") == 0)
		cfg->api_auth = CONFIG_API_AUTH_ALL;
	else if (strcmp(scalar(v), "none") == 0)
		cfg->api_auth = CONFIG_API_AUTH_NONE;
	else
		fail_at(ld, v, "'%s' must be writes, all or none, found '%s'", key, scalar(v));
}
static void
api_body(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1024, 64u << 20, &cfg->api_max_body);
}
static void
api_connections(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 65536, &cfg->api_max_connections);
}
static void
api_header(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1024, 1u << 20, &cfg->api_max_header_bytes);
}
static void
api_idle(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 3600, &cfg->api_idle_timeout_s);
}
static void
api_request(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 3600, &cfg->api_request_timeout_s);
}
static const struct key_def api_keys[] = {
	{"listen", api_listen},
	{"token_file", api_token},
	{"auth", api_auth},
	{"max_body_bytes", api_body},
	{"max_connections", api_connections},
	{"max_header_bytes", api_header},
	{"idle_timeout_s", api_idle},
	{"request_timeout_s", api_request},
	{NULL, NULL},
};
static void
sec_api(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	walk_mapping(ld, cfg, v, key, api_keys);
}

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


/* ---- chains:, rules:, policy: ---- */

static struct policy_spec *
policy_of(struct loader *ld, struct config *cfg, yaml_node_t *at)
{
	if (cfg->policy == NULL) {
		cfg->policy = malloc(sizeof(*cfg->policy));
		if (cfg->policy == NULL) {
			fail_at(ld, at, "out of memory");
			return NULL;
		}
		policy_spec_defaults(cfg->policy);
	}
	return cfg->policy;
}

static struct policy_mark
mark_of(const yaml_node_t *n)
{
	struct policy_mark m = {(uint32_t)n->start_mark.line + 1, (uint32_t)n->start_mark.column + 1};

	return m;
}

static bool
get_value(struct loader *ld, yaml_node_t *v, const char *key, struct policy_value *out)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "a string", key))
		return false;
	if (strlen(scalar(v)) >= sizeof(out->text)) {
		fail_at(ld, v, "'%s' is longer than %zu characters", key, sizeof(out->text) - 1);
		return false;
	}
	snprintf(out->text, sizeof(out->text), "%s", scalar(v));
	out->mark = mark_of(v);
	return true;
}

static void
get_action(struct loader *ld, yaml_node_t *v, const char *key, struct policy_action_spec *a)
{
	/* drop | pass | {chain: NAME} */
	if (v->type == YAML_SCALAR_NODE) {
		if (strcmp(scalar(v), "drop") == 0)
			a->action = POLICY_DROP;
		else if (strcmp(scalar(v), "pass") == 0)
			a->action = POLICY_PASS;
		else
			fail_at(ld, v, "'%s' must be drop, pass or {chain: NAME}, found '%s'", key,
				scalar(v));
		return;
	}
	if (v->type == YAML_MAPPING_NODE && v->data.mapping.pairs.top - v->data.mapping.pairs.start == 1) {
		yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);

		if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), "chain") == 0) {
			a->action = POLICY_CHAIN;
			get_value(ld, yaml_document_get_node(ld->doc, pair->value), "chain", &a->chain);
			return;
		}
	}
	fail_at(ld, v, "'%s' must be drop, pass or {chain: NAME}", key);
}

static void
chain_entry(struct loader *ld, struct config *cfg, yaml_node_t *item)
{
	struct policy_spec *ps = policy_of(ld, cfg, item);
	struct policy_chain_spec *c;
	yaml_node_pair_t *pair;
	bool have_tag = false, have_spi = false, have_vid = false, have_dscp = false, have_md = false;
	yaml_node_t *md_node = NULL, *vid_node = NULL, *dscp_node = NULL, *spi_node = NULL;
	uint32_t v;

	if (ps == NULL || !expect_type(ld, item, YAML_MAPPING_NODE, "a mapping", "chain"))
		return;
	if (ps->n_chains == POLICY_MAX_CHAINS) {
		fail_at(ld, item, "more than %d chains", POLICY_MAX_CHAINS);
		return;
	}
	c = &ps->chains[ps->n_chains];
	memset(c, 0, sizeof(*c));
	c->mark = mark_of(item);
	c->tag.md_type = 1;
	for (pair = item->data.mapping.pairs.start; pair < item->data.mapping.pairs.top && !ld->failed;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(ld->doc, pair->value);
		const char *key = k->type == YAML_SCALAR_NODE ? scalar(k) : "";

		if (strcmp(key, "name") == 0) {
			get_str(ld, val, key, c->name, sizeof(c->name));
		} else if (strcmp(key, "tag") == 0) {
			static const char *const kinds[] = {"nsh", "vlan", "mpls", "dscp"};
			int t;

			if (!expect_type(ld, val, YAML_SCALAR_NODE, "nsh, vlan, mpls or dscp", key))
				return;
			for (t = 0; t < TAG_KIND_COUNT && strcmp(kinds[t], scalar(val)) != 0; t++)
				;
			if (t == TAG_KIND_COUNT) {
				fail_at(ld, val, "'tag' must be nsh, vlan, mpls or dscp, found '%s'",
					scalar(val));
				return;
			}
			c->tag.kind = (enum tag_kind)t;
			have_tag = true;
		} else if (strcmp(key, "spi") == 0) {
			get_uint(ld, val, key, 1, 0xffffff, &c->tag.spi);
			have_spi = true;
			spi_node = val;
		} else if (strcmp(key, "md_type") == 0) {
			get_uint(ld, val, key, 1, 2, &v);
			c->tag.md_type = (uint8_t)v;
			have_md = true;
			md_node = val;
		} else if (strcmp(key, "vid") == 0) {
			get_uint(ld, val, key, 1, 4094, &v);
			c->tag.vid = (uint16_t)v;
			have_vid = true;
			vid_node = val;
		} else if (strcmp(key, "dscp") == 0) {
			get_uint(ld, val, key, 1, 63, &v);
			c->tag.dscp = (uint8_t)v;
			have_dscp = true;
			dscp_node = val;
		} else if (strcmp(key, "hops") == 0) {
			/* Service functions OVS sends the chain through (ovs-integration/). */
			get_uint(ld, val, key, 1, 16, &v);
		} else {
			fail_at(ld, k, "unknown key '%s' in chain (expected one of: name, tag, spi, "
				       "md_type, vid, dscp, hops)", key);
		}
	}
	if (ld->failed)
		return;
	if (c->name[0] == '\0') {
		fail_at(ld, item, "chain needs a 'name'");
		return;
	}
	if (!have_tag) {
		fail_at(ld, item, "chain '%s' needs a 'tag' (nsh, vlan, mpls or dscp)", c->name);
		return;
	}
	/* Each tag has its own parameters; a stray one is a mistake worth naming. */
	if ((c->tag.kind == TAG_NSH || c->tag.kind == TAG_MPLS) && !have_spi) {
		fail_at(ld, item, "chain '%s' (%s) needs an 'spi'", c->name, tag_kind_name(c->tag.kind));
		return;
	}
	if (c->tag.kind == TAG_VLAN && !have_vid) {
		fail_at(ld, item, "chain '%s' (vlan) needs a 'vid'", c->name);
		return;
	}
	if (c->tag.kind == TAG_DSCP && !have_dscp) {
		fail_at(ld, item, "chain '%s' (dscp) needs a 'dscp' value", c->name);
		return;
	}
	if (have_md && c->tag.kind != TAG_NSH)
		fail_at(ld, md_node, "'md_type' applies to nsh chains only");
	else if (have_vid && c->tag.kind != TAG_VLAN)
		fail_at(ld, vid_node, "'vid' applies to vlan chains only");
	else if (have_dscp && c->tag.kind != TAG_DSCP)
		fail_at(ld, dscp_node, "'dscp' applies to dscp chains only");
	else if (have_spi && c->tag.kind != TAG_NSH && c->tag.kind != TAG_MPLS)
		fail_at(ld, spi_node, "'spi' applies to nsh and mpls chains only");
	if (!ld->failed)
		ps->n_chains++;
}

static void
chains_list(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	yaml_node_item_t *it;

	if (!expect_type(ld, v, YAML_SEQUENCE_NODE, "a list of chains", key) ||
	    policy_of(ld, cfg, v) == NULL)
		return;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed; it++)
		chain_entry(ld, cfg, yaml_document_get_node(ld->doc, *it));
}

static bool
add_rule_item(struct loader *ld, struct policy_rule_spec *r, enum policy_cond kind, yaml_node_t *v)
{
	if (r->n_items == POLICY_MAX_ITEMS) {
		fail_at(ld, v, "more than %d match values in one rule", POLICY_MAX_ITEMS);
		return false;
	}
	if (!get_value(ld, v, policy_cond_key(kind), &r->values[r->n_items]))
		return false;
	r->kinds[r->n_items++] = (uint8_t)kind;
	return true;
}

static void
rule_entry(struct loader *ld, struct policy_spec *ps, yaml_node_t *item)
{
	struct policy_rule_spec *r;
	yaml_node_pair_t *pair;
	bool have_action = false;

	if (!expect_type(ld, item, YAML_MAPPING_NODE, "a mapping", "rule"))
		return;
	if (ps->n_rules == POLICY_MAX_RULES) {
		fail_at(ld, item, "more than %d rules", POLICY_MAX_RULES);
		return;
	}
	r = &ps->rules[ps->n_rules];
	memset(r, 0, sizeof(*r));
	r->mark = mark_of(item);
	for (pair = item->data.mapping.pairs.start; pair < item->data.mapping.pairs.top && !ld->failed;
	     pair++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, pair->key);
		yaml_node_t *val = yaml_document_get_node(ld->doc, pair->value);
		const char *key = k->type == YAML_SCALAR_NODE ? scalar(k) : "";
		int c;

		if (strcmp(key, "chain") == 0 || strcmp(key, "action") == 0) {
			if (have_action) {
				fail_at(ld, k, "a rule takes one action: 'chain: NAME' or 'action: "
					       "drop|pass'");
				return;
			}
			have_action = true;
			if (strcmp(key, "chain") == 0) {
				r->action.action = POLICY_CHAIN;
				get_value(ld, val, key, &r->action.chain);
			} else if (val->type == YAML_SCALAR_NODE && strcmp(scalar(val), "chain") != 0) {
				get_action(ld, val, key, &r->action);
			} else {
				fail_at(ld, val, "'action' must be drop or pass (or use 'chain: NAME')");
			}
			continue;
		}
		for (c = 0; c < POLICY_COND_COUNT && strcmp(key, policy_cond_key((enum policy_cond)c)) != 0;
		     c++)
			;
		if (c == POLICY_COND_COUNT) {
			char allowed[256] = "";

			for (c = 0; c < POLICY_COND_COUNT; c++) {
				strncat(allowed, policy_cond_key((enum policy_cond)c),
					sizeof(allowed) - strlen(allowed) - 1);
				strncat(allowed, ", ", sizeof(allowed) - strlen(allowed) - 1);
			}
			fail_at(ld, k, "unknown key '%s' in rule (expected one of: %schain, action)",
				key, allowed);
			return;
		}
		if (val->type == YAML_SEQUENCE_NODE) {
			yaml_node_item_t *it;

			if (val->data.sequence.items.top == val->data.sequence.items.start) {
				fail_at(ld, val, "'%s' has an empty list", key);
				return;
			}
			for (it = val->data.sequence.items.start;
			     it < val->data.sequence.items.top && !ld->failed; it++)
				add_rule_item(ld, r, (enum policy_cond)c,
					      yaml_document_get_node(ld->doc, *it));
		} else {
			add_rule_item(ld, r, (enum policy_cond)c, val);
		}
	}
	if (ld->failed)
		return;
	if (!have_action) {
		fail_at(ld, item, "rule needs an action: 'chain: NAME' or 'action: drop|pass'");
		return;
	}
	ps->n_rules++;
}

static void
rules_list(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	struct policy_spec *ps;
	yaml_node_item_t *it;

	if (!expect_type(ld, v, YAML_SEQUENCE_NODE, "a list of rules", key) ||
	    (ps = policy_of(ld, cfg, v)) == NULL)
		return;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed; it++)
		rule_entry(ld, ps, yaml_document_get_node(ld->doc, *it));
}

static void
po_default(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_action(ld, v, key, &cfg->policy->default_action);
}
static void
po_unclassified(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "default, pass or hold", key))
		return;
	if (strcmp(scalar(v), "default") == 0)
		cfg->policy->unclassified = POLICY_UNCLASSIFIED_DEFAULT;
	else if (strcmp(scalar(v), "pass") == 0)
		cfg->policy->unclassified = POLICY_UNCLASSIFIED_PASS;
	else if (strcmp(scalar(v), "hold") == 0)
		cfg->policy->unclassified = POLICY_UNCLASSIFIED_HOLD;
	else
		fail_at(ld, v, "'%s' must be default, pass or hold, found '%s'", key, scalar(v));
}
static void
po_hold(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 1, 64, &cfg->policy->hold_packets);
}
static void
po_nsh_in(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (!expect_type(ld, v, YAML_SCALAR_NODE, "pass or decap", key))
		return;
	if (strcmp(scalar(v), "pass") == 0)
		cfg->policy->nsh_in = POLICY_NSH_PASS;
	else if (strcmp(scalar(v), "decap") == 0)
		cfg->policy->nsh_in = POLICY_NSH_DECAP;
	else
		fail_at(ld, v, "'%s' must be pass or decap, found '%s'", key, scalar(v));
}
static void
po_version(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	get_uint(ld, v, key, 0, UINT32_MAX, &cfg->policy->version);
	cfg->policy->version_set = true;
}
static const struct key_def policy_keys[] = {
	{"default", po_default},   {"unclassified", po_unclassified}, {"hold_packets", po_hold},
	{"nsh_in", po_nsh_in},	   {"version", po_version},	     {NULL, NULL},
};
static void
sec_policy(struct loader *ld, struct config *cfg, const char *key, yaml_node_t *v)
{
	if (policy_of(ld, cfg, v) != NULL)
		walk_mapping(ld, cfg, v, key, policy_keys);
}

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
	{"flows", sec_flows}, {"records", sec_records}, {"chains", chains_list},
	{"rules", rules_list}, {"policy", sec_policy}, {"api", sec_api}, {NULL, NULL},
};

/* Rules that span sections, checked once everything is read. */
static void
check_whole(struct loader *ld, struct config *cfg, yaml_node_t *root)
{
	if (cfg->dpi_states > cfg->flow_capacity)
		fail_at(ld, root, "flows.classifying (%u) cannot exceed flows.capacity (%u)",
			cfg->dpi_states, cfg->flow_capacity);
	else if (cfg->ipv6_capacity > cfg->flow_capacity)
		fail_at(ld, root, "flows.ipv6 (%u) cannot exceed flows.capacity (%u)",
			cfg->ipv6_capacity, cfg->flow_capacity);
	else if (cfg->mode == CONFIG_MODE_INLINE && cfg->n_ports != 2)
		fail_pos(ld, cfg->mode_node_line, cfg->mode_node_col,
			 "datapath.mode inline needs exactly 2 ports, found %u", cfg->n_ports);
}

static int
load_document(struct config *cfg, yaml_document_t *doc, const char *name, char *err,
	      size_t err_len)
{
	struct loader ld = {.doc = doc, .file = name, .err = err, .err_len = err_len};
	yaml_node_t *root = yaml_document_get_root_node(doc);

	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	if (root != NULL) { /* an empty file means all defaults */
		walk_mapping(&ld, cfg, root, "the top level", top_keys);
		if (!ld.failed)
			check_whole(&ld, cfg, root);
	}
	yaml_document_delete(doc);
	return ld.failed ? -1 : 0;
}

int
config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	yaml_document_t doc;

	if (yaml_doc_load_file(&doc, path, err, err_len) != 0)
		return -1;
	return load_document(cfg, &doc, path, err, err_len);
}

int
config_load_string(struct config *cfg, const char *name, const char *text, char *err,
		   size_t err_len)
{
	yaml_document_t doc;

	if (yaml_doc_load(&doc, name, text, strlen(text), err, err_len) != 0)
		return -1;
	return load_document(cfg, &doc, name, err, err_len);
}

struct policy *
config_policy_from_text(const char *text, const char *name, bool from_request,
			uint32_t current_version, const struct dpi *names, char *err, size_t err_len)
{
	struct policy_spec spec;
	struct policy *p = NULL;
	struct config cfg;

	config_defaults(&cfg);
	if (config_load_string(&cfg, name, text, err, err_len) != 0)
		goto out;
	if (from_request && cfg.policy == NULL) {
		snprintf(err, err_len, "%s:1:1: no policy in the body (expected 'chains', 'rules' or "
				       "'policy'; to pass everything, say so: policy: {default: pass})",
			 name);
		goto out;
	}
	spec = *config_policy(&cfg);
	if (from_request && !spec.version_set) {
		if (current_version == UINT32_MAX) {
			snprintf(err, err_len, "%s:1:1: the policy in force has the last version "
					       "(%u): give the new one 'policy: {version: N}'",
				 name, UINT32_MAX);
			goto out;
		}
		spec.version = current_version + 1;
	}
	p = policy_compile(&spec, names, name, err, err_len);
out:
	config_release(&cfg);
	return p;
}
