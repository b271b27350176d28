/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml.h>

#include "dpi.h"
#include "ipfix.h"
#include "policy_yaml.h"
#include "yaml_doc.h"
#include "yaml_schema.h"

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
	cfg->tunnels = PARSE_F_TUNNELS; /* as ndpiReader -t decapsulates GTP-U and CAPWAP, and more */
	cfg->flow_capacity = 262144;
	cfg->dpi_states = 32768;
	cfg->timeout_ms[FLOW_TC_TCP] = 300 * 1000;
	cfg->timeout_ms[FLOW_TC_TCP_CLOSED] = 10 * 1000;
	cfg->timeout_ms[FLOW_TC_UDP] = 120 * 1000;
	cfg->timeout_ms[FLOW_TC_OTHER] = 60 * 1000;
	cfg->timeout_ms[FLOW_TC_OFFLOADED] = 86400 * 1000;
	cfg->frag_capacity = WORKER_FRAG_DEFAULT_CAPACITY;
	cfg->frag_held = WORKER_FRAG_DEFAULT_HELD;
	cfg->frag_timeout_ms = WORKER_FRAG_DEFAULT_TIMEOUT_MS;
	/* ndpiReader's limits: past these, nDPI rarely learns anything new. */
	cfg->budget_tcp = 80;
	cfg->budget_udp = 24;
	cfg->budget_other = 8;
	/* Virtual switches carry jumbo frames; NSH adds 38+ bytes to every packet it tags. */
	cfg->mtu = 9000;
	/* A packet that cannot carry its chain's tag must not skip the chain untagged. */
	cfg->oversize = CONFIG_OVERSIZE_DROP;
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
	cfg->offload_priority = 1000;
	cfg->offload_max_flows = 100000;
	cfg->offload_flow_mods_per_s = 2000;
	cfg->offload_scratch_xxreg = 3;
	cfg->offload_removal_wait_ms = 2000;
	cfg->ipfix_template_refresh_ms = 60 * 1000;
	cfg->ipfix_active_timeout_ms = 300 * 1000;
	cfg->ipfix_enterprise_number = IPFIX_PEN_DOCUMENTATION;
	cfg->ipfix_message_bytes = 1400; /* one Ethernet frame with room for tunnels */
	cfg->ipfix_queue_bytes = 4u << 20;
	cfg->ipfix_long_flows = 100000;
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
	if (cfg->policy != NULL)
		policy_spec_release(cfg->policy);
	free(cfg->policy);
	cfg->policy = NULL;
	free(cfg->apps);
	cfg->apps = NULL;
}

/* ---- checks of single keys (run once the value is in) ---- */

#define CFG(field) offsetof(struct config, field)

/*
 * The prefix names a directory under DPDK's runtime directory that flowtag cleans up at exit:
 * a plain name, never a path ("../../etc" made the cleanup empty another directory).
 */
static void
check_prefix(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	const char *prefix = ((struct config *)target)->file_prefix, *p;

	for (p = prefix; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      ((*p == '.' || *p == '_' || *p == '-') && p != prefix)))
			break;
	if (*p != '\0')
		yaml_fail_at(ld, v, "'%s' must be a plain name (letters, digits, and '.', '_', '-' after "
				    "the first character), found '%s'",
			     k->name, prefix);
}

/* `arg` is option `opt`, alone or as opt=value. */
static bool
eal_arg_is(const char *arg, const char *opt)
{
	size_t n = strlen(opt);

	return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static void
read_eal_extra(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct config *cfg = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of strings", k->name))
		return;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_node(ld, *it);
		const char *arg;

		if (!yaml_expect(ld, item, YAML_SCALAR_NODE, "a string", k->name))
			return;
		arg = yaml_scalar(item);
		if (cfg->n_eal_extra == CONFIG_MAX_EAL_ARGS) {
			yaml_fail_at(ld, item, "'%s' has more than %d arguments", k->name,
				     CONFIG_MAX_EAL_ARGS);
			return;
		}
		/*
		 * Our own EAL arguments are not negotiable: --no-pci keeps the host's NIC safe,
		 * and the file prefix names the directory the cleanup empties. EAL takes an
		 * option's last occurrence, so any spelling of these (with '=' or the value
		 * attached) is refused.
		 */
		if (eal_arg_is(arg, "--pci-allowlist") || eal_arg_is(arg, "--allow") ||
		    eal_arg_is(arg, "--pci-whitelist") || strncmp(arg, "-a", 2) == 0 ||
		    strncmp(arg, "-w", 2) == 0) {
			yaml_fail_at(ld, item, "'%s': PCI devices are never probed (flowtag runs with "
					       "--no-pci and vdevs only)", arg);
			return;
		}
		if (eal_arg_is(arg, "--file-prefix")) {
			yaml_fail_at(ld, item, "'%s': set eal.file_prefix instead (a plain name)", arg);
			return;
		}
		cfg->eal_extra[cfg->n_eal_extra] = strdup(arg);
		if (cfg->eal_extra[cfg->n_eal_extra] == NULL) {
			yaml_fail_at(ld, item, "out of memory");
			return;
		}
		cfg->n_eal_extra++;
	}
}

static const struct yaml_key port_keys[] = {
	{.name = "name", .type = YAML_KEY_STRING, .offset = offsetof(struct config_port, name),
	 .size = sizeof(((struct config_port *)0)->name), .help = "the port's name (default portN)"},
	{.name = "vdev", .type = YAML_KEY_STRING, .offset = offsetof(struct config_port, vdev),
	 .size = sizeof(((struct config_port *)0)->vdev),
	 .help = "a DPDK virtual device, e.g. net_virtio_user0,path=/run/flowtag/vnf0.sock,server=1"},
	{.name = "return", .type = YAML_KEY_BOOL, .offset = offsetof(struct config_port, is_return),
	 .help = "traffic back from the chains: never classified"},
	{.name = NULL},
};

static void
read_ports(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct config *cfg = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of ports", k->name))
		return;
	cfg->n_ports = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		yaml_node_t *item = yaml_node(ld, *it);
		struct config_port *p;

		if (cfg->n_ports == CONFIG_MAX_PORTS) {
			yaml_fail_at(ld, item, "more than %d ports", CONFIG_MAX_PORTS);
			return;
		}
		p = &cfg->ports[cfg->n_ports];
		memset(p, 0, sizeof(*p));
		yaml_schema_walk(ld, p, item, "port", port_keys);
		if (ld->failed)
			return;
		if (p->vdev[0] == '\0') {
			yaml_fail_at(ld, item, "port needs 'vdev' (a DPDK virtual device such as "
					       "net_virtio_user0,path=/run/flowtag/vnf0.sock,server=1)");
			return;
		}
		if (strncmp(p->vdev, "net_", 4) != 0) {
			yaml_fail_at(ld, item, "'vdev' must name a DPDK virtual device (net_virtio_user, "
					       "net_pcap, net_null, net_ring, net_tap, net_af_packet), "
					       "found '%s'",
				     p->vdev);
			return;
		}
		if (p->name[0] == '\0')
			snprintf(p->name, sizeof(p->name), "port%u", cfg->n_ports);
		cfg->n_ports++;
	}
}

/* Where datapath.mode was set, for the check across sections. */
static void
note_mode(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct config *cfg = target;

	(void)ld;
	(void)k;
	cfg->mode_node_line = (uint32_t)v->start_mark.line + 1;
	cfg->mode_node_col = (uint32_t)v->start_mark.column + 1;
}

static void
check_listen(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	const char *listen = ((struct config *)target)->api_listen;

	if (listen[0] != '\0' && strrchr(listen, ':') == NULL)
		yaml_fail_at(ld, v, "'%s' must be ADDRESS:PORT (e.g. 127.0.0.1:8080) or \"\" for no API",
			     k->name);
}

static void
check_token_file(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	if (((struct config *)target)->api_token_file[0] == '\0')
		yaml_fail_at(ld, v, "'%s' must name a file (to turn the token off: api.auth: none)",
			     k->name);
}

/* unix:PATH or tcp:HOST:PORT (ofconn.c connects to it). */
static void
check_switch(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct config *cfg = target;
	const char *t = cfg->offload_switch;

	cfg->offload_switch_line = (uint32_t)v->start_mark.line + 1;
	cfg->offload_switch_col = (uint32_t)v->start_mark.column + 1;
	if (t[0] == '\0')
		return;
	if (strncmp(t, "unix:", 5) == 0 && t[5] != '\0')
		return;
	if (strncmp(t, "tcp:", 4) == 0 && strrchr(t + 4, ':') != NULL &&
	    strtoul(strrchr(t + 4, ':') + 1, NULL, 10) - 1 < 65535)
		return;
	yaml_fail_at(ld, v, "'%s' must be unix:PATH (a bridge's management socket, e.g. "
			    "unix:/var/run/openvswitch/br0.mgmt) or tcp:HOST:PORT, found '%s'",
		     k->name, t);
}

/* udp://HOST:PORT or tcp://HOST:PORT (ipfix_conn.c sends to it). */
static void
check_collector(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	const char *t = ((struct config *)target)->ipfix_collector, *why;
	char host[200], port[8];
	bool tcp;

	if (t[0] == '\0')
		return;
	why = ipfix_target_parse(t, &tcp, host, sizeof(host), port, sizeof(port));
	if (why != NULL)
		yaml_fail_at(ld, v, "'%s': %s, found '%s'", k->name, why, t);
}

/* The policy sections fill the spec, made when the first of them appears. */
static struct policy_spec *
spec_of(struct yaml_loader *ld, struct config *cfg, yaml_node_t *at)
{
	if (cfg->policy == NULL) {
		cfg->policy = malloc(sizeof(*cfg->policy));
		if (cfg->policy == NULL) {
			yaml_fail_at(ld, at, "out of memory");
			return NULL;
		}
		policy_spec_defaults(cfg->policy);
	}
	return cfg->policy;
}

/* chains:, rules:, policy: into the spec (policy_yaml.c reads them). */
static void
read_policy_section(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct policy_spec *ps = spec_of(ld, target, v);

	if (ps == NULL)
		return;
	if (strcmp(k->name, "chains") == 0)
		policy_yaml_chains(ld, ps, v);
	else if (strcmp(k->name, "rules") == 0)
		policy_yaml_rules(ld, ps, v);
	else
		policy_yaml_settings(ld, ps, v);
}

/* ---- the schema: every key of the file, its type, range, field and help ---- */

static const char *const malformed_names[] = {"pass", "drop", NULL};

/* datapath.tunnels: a list of tunnel names ([] for none). */
static void
read_tunnels(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	static const char *const names[] = {"gtpu", "capwap", "vxlan", "geneve", NULL};
	static const unsigned int flags[] = {PARSE_F_GTPU, PARSE_F_CAPWAP, PARSE_F_VXLAN,
					     PARSE_F_GENEVE};
	struct config *cfg = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of tunnels (gtpu, capwap, vxlan, "
						     "geneve; [] for none)",
			 k->name))
		return;
	cfg->tunnels = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		int i = yaml_get_enum(ld, yaml_node(ld, *it), k->name, names);

		if (i >= 0)
			cfg->tunnels |= flags[i];
	}
}
static const char *const mode_names[] = {"one-arm", "inline", NULL};
static const char *const oversize_names[] = {"drop", "untagged", NULL};
static const char *const auth_names[] = {"writes", "all", "none", NULL};

_Static_assert(WORKER_MALFORMED_PASS == 0 && WORKER_MALFORMED_DROP == 1 &&
		       CONFIG_MODE_ONE_ARM == 0 && CONFIG_MODE_INLINE == 1 &&
		       CONFIG_OVERSIZE_DROP == 0 && CONFIG_OVERSIZE_UNTAGGED == 1 &&
		       CONFIG_API_AUTH_WRITES == 0 && CONFIG_API_AUTH_ALL == 1 &&
		       CONFIG_API_AUTH_NONE == 2,
	       "the names above are in enum order");

static const struct yaml_key eal_keys[] = {
	{.name = "lcores", .type = YAML_KEY_STRING, .offset = CFG(lcores),
	 .size = sizeof(((struct config *)0)->lcores),
	 .help = "the control lcore, then the data path's (\"0,1\"; \"0@0,1@1,2@1\" maps lcores to cores)"},
	{.name = "memory_mb", .type = YAML_KEY_UINT, .offset = CFG(memory_mb), .min = 64,
	 .max = 1 << 20, .help = "DPDK memory"},
	{.name = "hugepages", .type = YAML_KEY_BOOL, .offset = CFG(hugepages),
	 .help = "false: anonymous memory (--no-huge)"},
	{.name = "file_prefix", .type = YAML_KEY_STRING, .offset = CFG(file_prefix),
	 .size = sizeof(((struct config *)0)->file_prefix), .handle = check_prefix,
	 .help = "unique per instance on a host, a plain name (default flowtag-PID)"},
	{.name = "extra_args", .type = YAML_KEY_CUSTOM, .handle = read_eal_extra,
	 .help = "more EAL arguments (not --allow/-a, not --file-prefix)"},
	{.name = NULL},
};

static const struct yaml_key datapath_keys[] = {
	{.name = "mode", .type = YAML_KEY_ENUM, .offset = CFG(mode), .names = mode_names,
	 .handle = note_mode, .help = "one-arm: out by the port it came in on; inline: two ports"},
	{.name = "burst_size", .type = YAML_KEY_UINT, .offset = CFG(burst_size), .min = 1, .max = 256,
	 .help = "packets per rx/tx burst"},
	{.name = "mbufs", .type = YAML_KEY_UINT, .offset = CFG(mbufs), .min = 1023, .max = 1u << 22,
	 .help = "packet buffers in the pool"},
	{.name = "idle_sleep_max_us", .type = YAML_KEY_UINT, .offset = CFG(idle_sleep_max_us),
	 .min = 0, .max = 100000, .help = "idle back-off ceiling; 0 = busy-poll"},
	{.name = "malformed", .type = YAML_KEY_ENUM, .offset = CFG(malformed),
	 .names = malformed_names, .help = "malformed packets (counted by reason)"},
	{.name = "tunnels", .type = YAML_KEY_CUSTOM, .handle = read_tunnels,
	 .help = "UDP tunnels whose inner flows are classified: gtpu (2152), capwap (5247), vxlan "
		 "(4789), geneve (6081); [] for none"},
	{.name = "mtu", .type = YAML_KEY_UINT, .offset = CFG(mtu), .min = 576, .max = 9702,
	 .help = "largest IP packet the ports carry"},
	{.name = "oversize", .type = YAML_KEY_ENUM, .offset = CFG(oversize), .names = oversize_names,
	 .help = "a packet that cannot carry its chain's tag"},
	{.name = NULL},
};

static const struct yaml_key timeout_keys[] = {
	{.name = "tcp", .type = YAML_KEY_SECONDS, .offset = CFG(timeout_ms[FLOW_TC_TCP]), .min = 1,
	 .max = 86400, .help = "an open TCP flow"},
	{.name = "tcp_closed", .type = YAML_KEY_SECONDS, .offset = CFG(timeout_ms[FLOW_TC_TCP_CLOSED]),
	 .min = 1, .max = 86400, .help = "after FIN both ways or RST"},
	{.name = "udp", .type = YAML_KEY_SECONDS, .offset = CFG(timeout_ms[FLOW_TC_UDP]), .min = 1,
	 .max = 86400, .help = "a UDP flow"},
	{.name = "other", .type = YAML_KEY_SECONDS, .offset = CFG(timeout_ms[FLOW_TC_OTHER]),
	 .min = 1, .max = 86400, .help = "ICMP, GRE, ESP, ..."},
	{.name = "offloaded", .type = YAML_KEY_SECONDS,
	 .offset = CFG(timeout_ms[FLOW_TC_OFFLOADED]), .min = 1, .max = 4000000,
	 .help = "a flow the switch carries: flowtag ends it when its rules go; this is the "
		 "safety net if it never hears"},
	{.name = NULL},
};

static const struct yaml_key budget_keys[] = {
	{.name = "tcp", .type = YAML_KEY_UINT, .offset = CFG(budget_tcp), .min = 1, .max = 1000,
	 .help = "packets nDPI inspects before a TCP flow gives up"},
	{.name = "udp", .type = YAML_KEY_UINT, .offset = CFG(budget_udp), .min = 1, .max = 1000,
	 .help = "the same for UDP"},
	{.name = "other", .type = YAML_KEY_UINT, .offset = CFG(budget_other), .min = 1, .max = 1000,
	 .help = "the same for the rest"},
	{.name = NULL},
};

static const struct yaml_key fragment_keys[] = {
	{.name = "capacity", .type = YAML_KEY_UINT, .offset = CFG(frag_capacity), .min = 16,
	 .max = 1u << 24, .help = "fragmented datagrams tracked at once per worker"},
	{.name = "held", .type = YAML_KEY_UINT, .offset = CFG(frag_held), .min = 1,
	 .max = 1u << 20,
	 .help = "later fragments that may wait for their first at once per worker (each holds a "
		 "packet buffer)"},
	{.name = "timeout", .type = YAML_KEY_SECONDS, .offset = CFG(frag_timeout_ms), .min = 1,
	 .max = 120, .help = "a datagram is forgotten this long after its last fragment"},
	{.name = NULL},
};

static const struct yaml_key flows_keys[] = {
	{.name = "capacity", .type = YAML_KEY_UINT, .offset = CFG(flow_capacity), .min = 16,
	 .max = 1u << 26, .help = "flows per worker, 64 bytes each"},
	{.name = "classifying", .type = YAML_KEY_UINT, .offset = CFG(dpi_states), .min = 16,
	 .max = 1u << 24, .help = "flows under classification at once per worker (688 bytes each)"},
	{.name = "ipv6", .type = YAML_KEY_UINT, .offset = CFG(ipv6_capacity), .min = 1,
	 .max = 1u << 26, .help = "IPv6 flows at once per worker (default capacity / 4)"},
	{.name = "metadata", .type = YAML_KEY_UINT, .offset = CFG(meta_capacity), .min = 1,
	 .max = 1u << 26, .help = "distinct host/JA3/risk values kept per worker (default capacity / 8)"},
	{.name = "timeouts", .type = YAML_KEY_SECTION, .section = timeout_keys,
	 .help = "idle timeouts in seconds"},
	{.name = "packet_budget", .type = YAML_KEY_SECTION, .section = budget_keys,
	 .help = "packets inspected before giving up"},
	{.name = "fragments", .type = YAML_KEY_SECTION, .section = fragment_keys,
	 .help = "IP fragments: later ones follow the flow of their datagram's first"},
	{.name = NULL},
};

static const struct yaml_key records_keys[] = {
	{.name = "path", .type = YAML_KEY_STRING, .offset = CFG(records_path),
	 .size = sizeof(((struct config *)0)->records_path),
	 .help = "finished flows, one JSON object a line (\"\" = not written)"},
	{.name = NULL},
};

static const struct yaml_key api_keys[] = {
	{.name = "listen", .type = YAML_KEY_STRING, .offset = CFG(api_listen),
	 .size = sizeof(((struct config *)0)->api_listen), .handle = check_listen,
	 .help = "ADDRESS:PORT of the REST API and /metrics (\"\" = no API)"},
	{.name = "auth", .type = YAML_KEY_ENUM, .offset = CFG(api_auth), .names = auth_names,
	 .help = "who needs the bearer token"},
	{.name = "token_file", .type = YAML_KEY_STRING, .offset = CFG(api_token_file),
	 .size = sizeof(((struct config *)0)->api_token_file), .handle = check_token_file,
	 .set_offset = CFG(api_token_file_set),
	 .help = "the token's file (read, or made at start by flowtag run)"},
	{.name = "max_body_bytes", .type = YAML_KEY_UINT, .offset = CFG(api_max_body), .min = 1024,
	 .max = 64u << 20, .help = "larger request bodies get 413"},
	{.name = "max_connections", .type = YAML_KEY_UINT, .offset = CFG(api_max_connections),
	 .min = 1, .max = 65536, .help = "open at once"},
	{.name = "max_header_bytes", .type = YAML_KEY_UINT, .offset = CFG(api_max_header_bytes),
	 .min = 1024, .max = 1u << 20, .help = "a request's head; 431 beyond"},
	{.name = "idle_timeout_s", .type = YAML_KEY_UINT, .offset = CFG(api_idle_timeout_s), .min = 1,
	 .max = 3600, .help = "an idle keep-alive connection closes after this"},
	{.name = "request_timeout_s", .type = YAML_KEY_UINT, .offset = CFG(api_request_timeout_s),
	 .min = 1, .max = 3600, .help = "a request must arrive whole within this (408)"},
	{.name = NULL},
};

static const struct yaml_key offload_keys[] = {
	{.name = "switch", .type = YAML_KEY_STRING, .offset = CFG(offload_switch),
	 .size = sizeof(((struct config *)0)->offload_switch), .handle = check_switch,
	 .help = "the bridge's OpenFlow target: unix:PATH (its .mgmt socket) or tcp:HOST:PORT; "
		 "\"\" = no offload"},
	{.name = "table", .type = YAML_KEY_UINT, .offset = CFG(offload_table), .min = 0, .max = 254,
	 .help = "the table flowtag's rules go in"},
	{.name = "priority", .type = YAML_KEY_UINT, .offset = CFG(offload_priority), .min = 1,
	 .max = 65535, .help = "their priority (above the rule that sends traffic to flowtag)"},
	{.name = "in_port", .type = YAML_KEY_UINT, .offset = CFG(offload_in_port), .min = 0,
	 .max = 0xfeff, .help = "the ingress port they match (0: any; needed when packets re-enter "
				"their table)"},
	{.name = "resubmit_port", .type = YAML_KEY_UINT, .offset = CFG(offload_resubmit_port),
	 .min = 1, .max = 0xfeff,
	 .help = "flowtag's own port: a tagged packet re-enters the pipeline as if flowtag sent it"},
	{.name = "resubmit_table", .type = YAML_KEY_UINT, .offset = CFG(offload_resubmit_table),
	 .min = 0, .max = 254, .help = "the table it re-enters"},
	{.name = "instance", .type = YAML_KEY_UINT, .offset = CFG(offload_instance), .min = 0,
	 .max = 255, .help = "one per flowtag on a bridge: the cookie that marks its rules"},
	{.name = "max_flows", .type = YAML_KEY_UINT, .offset = CFG(offload_max_flows), .min = 1,
	 .max = 4000000, .help = "flows offloaded (or waiting to be) at once"},
	{.name = "flow_mods_per_s", .type = YAML_KEY_UINT, .offset = CFG(offload_flow_mods_per_s),
	 .min = 1, .max = 1000000, .help = "FLOW_MODs sent a second at most (two per flow in, two out)"},
	{.name = "scratch_register", .type = YAML_KEY_UINT, .offset = CFG(offload_scratch_xxreg),
	 .min = 0, .max = 3, .help = "the xxreg NSH rules keep the MAC addresses in across encap"},
	{.name = "removal_wait_ms", .type = YAML_KEY_UINT, .offset = CFG(offload_removal_wait_ms),
	 .min = 10, .max = 60000,
	 .help = "a finished flow's record waits this long for its rules' counts"},
	{.name = NULL},
};

static const struct yaml_key ipfix_keys[] = {
	{.name = "collector", .type = YAML_KEY_STRING, .offset = CFG(ipfix_collector),
	 .size = sizeof(((struct config *)0)->ipfix_collector), .handle = check_collector,
	 .help = "udp://HOST:PORT or tcp://HOST:PORT of the IPFIX collector (\"\" = no export)"},
	{.name = "observation_domain", .type = YAML_KEY_UINT, .offset = CFG(ipfix_domain), .min = 0,
	 .max = UINT32_MAX, .help = "the observation domain id in every message"},
	{.name = "template_refresh", .type = YAML_KEY_SECONDS,
	 .offset = CFG(ipfix_template_refresh_ms), .min = 1, .max = 86400,
	 .help = "templates and application names are sent again this often (UDP; TCP sends them "
		 "on each connection)"},
	{.name = "active_timeout", .type = YAML_KEY_SECONDS, .offset = CFG(ipfix_active_timeout_ms),
	 .min = 0, .max = 86400, .help = "a long flow's interim record this often (0 = only at its end)"},
	{.name = "enterprise_number", .type = YAML_KEY_UINT, .offset = CFG(ipfix_enterprise_number),
	 .min = 1, .max = UINT32_MAX,
	 .help = "IANA Private Enterprise Number of flowtag's own elements (32473: RFC 5612's, "
		 "for documentation)"},
	{.name = "message_bytes", .type = YAML_KEY_UINT, .offset = CFG(ipfix_message_bytes),
	 .min = IPFIX_MTU_MIN, .max = IPFIX_MTU_MAX,
	 .help = "largest IPFIX message (UDP: keep it within the path MTU)"},
	{.name = "queue_bytes", .type = YAML_KEY_UINT, .offset = CFG(ipfix_queue_bytes),
	 .min = 65536, .max = 1u << 30,
	 .help = "messages waiting for a slow collector, at most; beyond, records are counted as "
		 "not exported"},
	{.name = "long_flows", .type = YAML_KEY_UINT, .offset = CFG(ipfix_long_flows), .min = 1,
	 .max = 10000000,
	 .help = "long flows remembered at once for their interim records (beyond, a flow's "
		 "interim record is skipped and its final one carries it)"},
	{.name = NULL},
};

static const struct yaml_key export_keys[] = {
	{.name = "ipfix", .type = YAML_KEY_SECTION, .section = ipfix_keys,
	 .help = "flow records to an IPFIX collector (RFC 7011)"},
	{.name = NULL},
};

/* ---- apps: user-defined applications (apps.h) ---- */

static void
check_app_name(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct app_def *a = target;
	size_t i;

	(void)k;
	a->line = (uint32_t)v->start_mark.line + 1;
	a->col = (uint32_t)v->start_mark.column + 1;
	/* nDPI's rules file and protocol names take no spaces, quotes, ':', ',', '@' or '/'. */
	for (i = 0; a->name[i] != '\0'; i++) {
		char c = a->name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (i > 0 && ((c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')))) {
			yaml_fail_at(ld, v, "an app's name is a letter, then letters, digits, '_', '-' "
					    "or '.' (at most %d), found '%s'",
				     APP_NAME_MAX - 1, a->name);
			return;
		}
	}
	if (i == 0 || strcasecmp(a->name, "Unknown") == 0)
		yaml_fail_at(ld, v, "an app needs a name of its own, found '%s'", a->name);
}

static void
read_app_hosts(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct app_def *a = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of host names", k->name))
		return;
	a->n_hosts = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		yaml_node_t *item = yaml_node(ld, *it);
		char *h;
		size_t i;

		if (a->n_hosts == APP_HOSTS_MAX) {
			yaml_fail_at(ld, item, "more than %d hosts in one app", APP_HOSTS_MAX);
			return;
		}
		h = a->hosts[a->n_hosts];
		if (!yaml_get_str(ld, item, k->name, h, APP_HOST_MAX))
			return;
		/* What nDPI matches (lower case) and its rules file can hold (no quotes). */
		for (i = 0; h[i] != '\0'; i++) {
			char c = h[i];

			if (c >= 'A' && c <= 'Z')
				h[i] = (char)(c - 'A' + 'a');
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
				   c == '-' || c == '_')) {
				yaml_fail_at(ld, item, "a host is a DNS name (letters, digits, '.', '-', "
						       "'_'; nDPI matches it inside SNI, HTTP Host and "
						       "DNS names, so no wildcards), found '%s'",
					     h);
				return;
			}
		}
		if (i < 3) {
			yaml_fail_at(ld, item, "a host of at least 3 characters, found '%s'", h);
			return;
		}
		a->n_hosts++;
	}
}

static void
read_app_cidrs(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct app_def *a = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of IPv4 addresses or prefixes", k->name))
		return;
	a->n_cidrs = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		yaml_node_t *item = yaml_node(ld, *it);
		struct app_cidr *c;
		char text[64], *slash, *end;
		struct in6_addr a6;
		unsigned long bits = 32;
		uint32_t addr, mask;

		if (a->n_cidrs == APP_CIDRS_MAX) {
			yaml_fail_at(ld, item, "more than %d cidrs in one app", APP_CIDRS_MAX);
			return;
		}
		c = &a->cidrs[a->n_cidrs];
		if (!yaml_get_str(ld, item, k->name, text, sizeof(text)))
			return;
		slash = strchr(text, '/');
		if (slash != NULL) {
			*slash = '\0';
			bits = strtoul(slash + 1, &end, 10);
			if (slash[1] == '\0' || *end != '\0' || bits > 32) {
				yaml_fail_at(ld, item, "a prefix length from 0 to 32, found '/%s'",
					     slash + 1);
				return;
			}
		}
		if (inet_pton(AF_INET6, text, &a6) == 1) {
			yaml_fail_at(ld, item, "'%s' is IPv6: nDPI 4.2's custom protocols take IPv4 "
					       "addresses only (match IPv6 ones with a rule's src/dst)",
				     text);
			return;
		}
		if (inet_pton(AF_INET, text, c->addr) != 1) {
			yaml_fail_at(ld, item, "an IPv4 address or prefix (192.0.2.0/24), found '%s'",
				     text);
			return;
		}
		memcpy(&addr, c->addr, 4);
		mask = bits == 0 ? 0 : htonl(~(uint32_t)0 << (32 - bits));
		if ((addr & ~mask) != 0) {
			yaml_fail_at(ld, item, "'%s/%lu' has host bits set (the prefix is meant: write "
					       "its network address)",
				     text, bits);
			return;
		}
		c->bits = (uint8_t)bits;
		a->n_cidrs++;
	}
}

static void
read_app_ports(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct app_def *a = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of ports (tcp:8443, udp:5000-5010)",
			 k->name))
		return;
	a->n_ports = 0;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		yaml_node_t *item = yaml_node(ld, *it);
		struct app_port *p;
		char text[32], *end;
		unsigned long lo, hi;
		const char *num;
		bool ok;

		if (a->n_ports == APP_PORTS_MAX) {
			yaml_fail_at(ld, item, "more than %d ports in one app", APP_PORTS_MAX);
			return;
		}
		p = &a->ports[a->n_ports];
		if (!yaml_get_str(ld, item, k->name, text, sizeof(text)))
			return;
		if (strncmp(text, "tcp:", 4) == 0)
			p->l4_proto = IPPROTO_TCP;
		else if (strncmp(text, "udp:", 4) == 0)
			p->l4_proto = IPPROTO_UDP;
		else {
			yaml_fail_at(ld, item, "a port is tcp:PORT or udp:PORT, or a range "
					       "(udp:5000-5010), found '%s'",
				     text);
			return;
		}
		num = text + 4;
		lo = strtoul(num, &end, 10);
		hi = lo;
		ok = end != num && (*num >= '0' && *num <= '9');
		if (ok && *end == '-') {
			const char *second = end + 1;

			hi = strtoul(second, &end, 10);
			ok = end != second && *second >= '0' && *second <= '9';
		}
		if (!ok || *end != '\0' || lo == 0 || hi > 65535 || lo > hi) {
			yaml_fail_at(ld, item, "ports from 1 to 65535 (a range low-high), found '%s'",
				     text);
			return;
		}
		p->lo = (uint16_t)lo;
		p->hi = (uint16_t)hi;
		a->n_ports++;
	}
}

static const struct yaml_key app_keys[] = {
	{.name = "name", .type = YAML_KEY_STRING, .offset = offsetof(struct app_def, name),
	 .size = APP_NAME_MAX, .handle = check_app_name,
	 .help = "the application's name, as rules, records and metrics say it"},
	{.name = "category", .type = YAML_KEY_STRING, .offset = offsetof(struct app_def, category),
	 .size = APP_CATEGORY_MAX, .help = "one of nDPI's categories (Web, Network, ...)"},
	{.name = "hosts", .type = YAML_KEY_CUSTOM, .handle = read_app_hosts,
	 .help = "host names nDPI finds in TLS SNI, HTTP Host or DNS queries"},
	{.name = "cidrs", .type = YAML_KEY_CUSTOM, .handle = read_app_cidrs,
	 .help = "IPv4 addresses or prefixes of its servers"},
	{.name = "ports", .type = YAML_KEY_CUSTOM, .handle = read_app_ports,
	 .help = "tcp:PORT, udp:PORT or ranges (udp:5000-5010): every flow there is this app"},
	{.name = NULL},
};

static void
read_apps(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	struct config *cfg = target;
	yaml_node_item_t *it;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of applications", k->name))
		return;
	if (cfg->apps == NULL && (cfg->apps = malloc(sizeof(*cfg->apps))) == NULL) {
		yaml_fail_at(ld, v, "out of memory");
		return;
	}
	cfg->apps->n = 0;
	cfg->apps_line = (uint32_t)v->start_mark.line + 1;
	cfg->apps_col = (uint32_t)v->start_mark.column + 1;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed;
	     it++) {
		yaml_node_t *item = yaml_node(ld, *it);
		struct app_def *a;
		uint32_t i;

		if (cfg->apps->n == APPS_MAX) {
			yaml_fail_at(ld, item, "more than %d apps", APPS_MAX);
			return;
		}
		a = &cfg->apps->app[cfg->apps->n];
		memset(a, 0, sizeof(*a));
		yaml_schema_walk(ld, a, item, "app", app_keys);
		if (ld->failed)
			return;
		if (a->name[0] == '\0') {
			yaml_fail_at(ld, item, "an app needs 'name'");
			return;
		}
		if (a->n_hosts + a->n_cidrs + a->n_ports == 0) {
			yaml_fail_at(ld, item, "app '%s' needs what identifies it: 'hosts', 'cidrs' or "
					       "'ports'",
				     a->name);
			return;
		}
		for (i = 0; i < cfg->apps->n; i++)
			if (strcasecmp(cfg->apps->app[i].name, a->name) == 0) {
				yaml_fail_pos(ld, a->line, a->col, "app '%s' is defined twice (also at "
								   "line %u)",
					      a->name, cfg->apps->app[i].line);
				return;
			}
		cfg->apps->n++;
	}
}

int
config_check_apps(const struct config *cfg, const struct dpi *builtin, char *err, size_t err_len)
{
	uint32_t i;

	for (i = 0; cfg->apps != NULL && i < cfg->apps->n; i++) {
		const struct app_def *a = &cfg->apps->app[i];

		if (dpi_proto_id(builtin, a->name) >= 0) {
			snprintf(err, err_len, "%s:%u:%u: '%s' is one of nDPI's own applications: give "
					       "the app a name of its own",
				 cfg->path, a->line, a->col, a->name);
			return -1;
		}
		if (a->category[0] != '\0' && dpi_category_id(builtin, a->category) < 0) {
			snprintf(err, err_len, "%s:%u:%u: app '%s': '%s' is not one of nDPI's categories "
					       "(e.g. Web, Network, Media, Cloud, Collaborative)",
				 cfg->path, a->line, a->col, a->name, a->category);
			return -1;
		}
	}
	return 0;
}

static const struct yaml_key top_keys[] = {
	{.name = "eal", .type = YAML_KEY_SECTION, .section = eal_keys, .help = "DPDK's EAL"},
	{.name = "ports", .type = YAML_KEY_CUSTOM, .handle = read_ports,
	 .help = "the ports: name, vdev, return"},
	{.name = "datapath", .type = YAML_KEY_SECTION, .section = datapath_keys, .help = ""},
	{.name = "flows", .type = YAML_KEY_SECTION, .section = flows_keys, .help = ""},
	{.name = "records", .type = YAML_KEY_SECTION, .section = records_keys, .help = ""},
	{.name = "api", .type = YAML_KEY_SECTION, .section = api_keys, .help = ""},
	{.name = "offload", .type = YAML_KEY_SECTION, .section = offload_keys,
	 .help = "the switch that carries decided flows (which ones: policy.offload)"},
	{.name = "export", .type = YAML_KEY_SECTION, .section = export_keys,
	 .help = "flow records to collectors"},
	{.name = "chains", .type = YAML_KEY_CUSTOM, .handle = read_policy_section,
	 .help = "the service chains: name, tag and the tag's own keys (see the README)"},
	{.name = "rules", .type = YAML_KEY_CUSTOM, .handle = read_policy_section,
	 .help = "the rules, first match wins (see the README)"},
	{.name = "policy", .type = YAML_KEY_CUSTOM, .handle = read_policy_section,
	 .help = "default, unclassified, hold_packets, nsh_in, version"},
	{.name = "apps", .type = YAML_KEY_CUSTOM, .handle = read_apps,
	 .help = "user-defined applications: name, category, hosts, cidrs, ports (see the README)"},
	{.name = NULL},
};

void
config_describe(void (*line)(void *ctx, const char *text), void *ctx)
{
	int k;

	yaml_schema_describe(top_keys, "", line, ctx);
	yaml_schema_describe(app_keys, "apps[]", line, ctx);
	yaml_schema_describe(policy_yaml_keys, "policy", line, ctx);
	/* A chain's own keys come from its tag's class (tag.c). */
	for (k = 0; k < TAG_KIND_COUNT; k++) {
		const struct tag_param *tp;

		for (tp = tag_class_of((enum tag_kind)k)->params; tp->key != NULL; tp++) {
			char text[256], name[64];

			snprintf(name, sizeof(name), "chains[tag: %s].%s", tag_kind_name((enum tag_kind)k),
				 tp->key);
			snprintf(text, sizeof(text), "%-32s whole number, %u to %u%s -- %s", name, tp->min,
				 tp->max, tp->required ? ", required" : "", tp->why);
			line(ctx, text);
		}
	}
}

/* Rules that span sections, checked once everything is read. */
static void
check_whole(struct yaml_loader *ld, struct config *cfg, yaml_node_t *root)
{
	if (cfg->dpi_states > cfg->flow_capacity)
		yaml_fail_at(ld, root, "flows.classifying (%u) cannot exceed flows.capacity (%u)",
			     cfg->dpi_states, cfg->flow_capacity);
	else if (cfg->ipv6_capacity > cfg->flow_capacity)
		yaml_fail_at(ld, root, "flows.ipv6 (%u) cannot exceed flows.capacity (%u)",
			     cfg->ipv6_capacity, cfg->flow_capacity);
	else if (cfg->frag_held > cfg->mbufs / 2)
		yaml_fail_at(ld, root,
			     "flows.fragments.held (%u) cannot exceed half of datapath.mbufs (%u): each "
			     "waiting fragment holds a packet buffer",
			     cfg->frag_held, cfg->mbufs / 2);
	else if (cfg->mode == CONFIG_MODE_INLINE && cfg->n_ports != 2)
		yaml_fail_pos(ld, cfg->mode_node_line, cfg->mode_node_col,
			      "datapath.mode inline needs exactly 2 ports, found %u", cfg->n_ports);
	else if (cfg->offload_switch[0] != '\0' && cfg->offload_resubmit_port == 0)
		yaml_fail_pos(ld, cfg->offload_switch_line, cfg->offload_switch_col,
			      "offload.switch needs offload.resubmit_port: flowtag's own port on the "
			      "bridge, where offloaded packets re-enter the pipeline");
	else if (cfg->offload_switch[0] != '\0' && cfg->offload_in_port == 0 &&
		 cfg->offload_table == cfg->offload_resubmit_table)
		yaml_fail_pos(ld, cfg->offload_switch_line, cfg->offload_switch_col,
			      "offload.table %u is the table packets re-enter (resubmit_table): "
			      "its rules need offload.in_port, or they match flowtag's own packets "
			      "again (or give them a table of their own)",
			      cfg->offload_table);
}

static int
load_document(struct config *cfg, yaml_document_t *doc, const char *name, char *err,
	      size_t err_len)
{
	struct yaml_loader ld = {.doc = doc, .file = name, .err = err, .err_len = err_len};
	yaml_node_t *root = yaml_document_get_root_node(doc);

	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	if (root != NULL) { /* an empty file means all defaults */
		yaml_schema_walk(&ld, cfg, root, "", top_keys);
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
	return config_policy_from_text_apps(text, name, from_request, current_version, names, NULL,
					    err, err_len);
}

struct policy *
config_policy_from_text_apps(const char *text, const char *name, bool from_request,
			     uint32_t current_version, const struct dpi *names,
			     const struct app_defs *running, char *err, size_t err_len)
{
	struct policy_spec spec;
	struct policy *p = NULL;
	struct config cfg;

	config_defaults(&cfg);
	if (config_load_string(&cfg, name, text, err, err_len) != 0)
		goto out;
	if ((!from_request || cfg.apps != NULL) && !apps_equal(cfg.apps, running)) {
		snprintf(err, err_len, "%s:%u:%u: apps: the applications are given to nDPI when "
				       "flowtag starts: restart it to change them (the running ones "
				       "stay, and so does the policy)",
			 name, cfg.apps != NULL ? cfg.apps_line : 1, cfg.apps != NULL ? cfg.apps_col : 1);
		goto out;
	}
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
