/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * flowtag configuration: the YAML file, its defaults and its validation.
 *
 * Pure code (libyaml only, no EAL). Every error names `file:line:col` and says what was
 * expected. Call from the control thread; the result is a plain struct the data path copies.
 */
#ifndef FLOWTAG_CONFIG_H
#define FLOWTAG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "apps.h"
#include "flow_table.h"
#include "policy.h"
#include "worker.h"

#define CONFIG_MAX_PORTS 8
#define CONFIG_MAX_EAL_ARGS 16
#define CONFIG_STR_MAX 512
#define CONFIG_ERR_MAX 512

struct config_port {
	char name[32];
	char vdev[CONFIG_STR_MAX]; /* DPDK vdev string, e.g. "net_virtio_user0,path=...,server=1" */
	bool is_return; /* packets arriving here come back from the chains: never classified */
};

/* Who needs the bearer token (every route but /v1/health, which probes use, when it does). */
enum config_api_auth {
	CONFIG_API_AUTH_WRITES, /* requests that change state; reads too from off the host */
	CONFIG_API_AUTH_ALL, /* every request */
	CONFIG_API_AUTH_NONE, /* none: anyone who reaches the port may re-steer traffic */
};

enum config_oversize {
	CONFIG_OVERSIZE_DROP, /* it never skips its chain untagged (the default) */
	CONFIG_OVERSIZE_UNTAGGED, /* sent untagged: the chain is skipped */
};

enum config_mode {
	CONFIG_MODE_ONE_ARM, /* packets leave by the port they came in on */
	CONFIG_MODE_INLINE, /* two ports: what comes in on one leaves by the other */
};

struct config {
	char path[CONFIG_STR_MAX]; /* where it came from; "(defaults)" for built-in */

	/* eal: */
	char lcores[64]; /* "-l" list: the control (main) lcore first, then the workers */
	uint32_t memory_mb;
	bool hugepages; /* false: --no-huge, anonymous memory (replay as an ordinary user) */
	char file_prefix[64]; /* "" = flowtag-<pid>, unique per instance */
	char *eal_extra[CONFIG_MAX_EAL_ARGS];
	uint32_t n_eal_extra;

	/* ports: */
	struct config_port ports[CONFIG_MAX_PORTS];
	uint32_t n_ports;

	/* datapath: (one worker lcore for now: the second entry of eal.lcores) */
	uint32_t burst_size;
	uint32_t mbufs;
	uint32_t idle_sleep_max_us; /* back-off ceiling when no packets arrive */
	enum worker_malformed_policy malformed;
	unsigned int tunnels; /* parse.h PARSE_F_GTPU | ...: tunnels whose inner flows are classified */

	/* flows: */
	uint32_t flow_capacity; /* per worker */
	uint32_t dpi_states; /* flows under classification at once, per worker */
	uint32_t ipv6_capacity; /* IPv6 flows at once, per worker (0: flow_capacity / 4) */
	uint32_t meta_capacity; /* distinct host/JA3/risk values kept (0: flow_capacity / 8) */
	uint32_t timeout_ms[FLOW_TC_COUNT];
	uint32_t frag_capacity; /* fragmented datagrams tracked at once, per worker */
	uint32_t frag_held; /* later fragments waiting for their first, per worker */
	uint32_t frag_timeout_ms;
	uint32_t budget_tcp;
	uint32_t budget_udp;
	uint32_t budget_other;

	/* records: */
	char records_path[CONFIG_STR_MAX]; /* JSON lines of finished flows; "" = none */

	/* datapath: the tx side of tagging */
	enum config_mode mode;
	uint32_t mode_node_line, mode_node_col; /* where mode was set, for cross-checks */
	uint32_t mtu; /* largest IP packet the port carries; tagged frames beyond are "oversize" */
	/* A packet that cannot carry its chain's tag (beyond the MTU, or no room). */
	enum config_oversize oversize;

	/* api: */
	char api_listen[128]; /* "ADDR:PORT"; "" = no API */
	/*
	 * The bearer token's file. `flowtag run` reads it if it exists, else writes a fresh
	 * random token there (0600) and removes it at exit. `replay --api` uses a token only
	 * when the config names this file (api_token_file_set).
	 */
	char api_token_file[CONFIG_STR_MAX];
	bool api_token_file_set;
	enum config_api_auth api_auth;
	uint32_t api_max_body; /* bytes; larger requests get 413 */
	uint32_t api_max_connections; /* open at once; beyond, the oldest idle one goes, or 503 */
	uint32_t api_max_header_bytes; /* a request's head; 431 beyond */
	uint32_t api_idle_timeout_s; /* an idle keep-alive connection closes after this */
	uint32_t api_request_timeout_s; /* a request must arrive whole within this (408) */

	/*
	 * offload: the switch that carries decided flows itself (ctl/offload.c). Which flows:
	 * the policy's `offload` (and each chain's); where and how: these.
	 */
	char offload_switch[CONFIG_STR_MAX]; /* OpenFlow target: unix:PATH or tcp:HOST:PORT; "" = off */
	uint32_t offload_table; /* the table flowtag's rules go in */
	uint32_t offload_priority;
	uint32_t offload_in_port; /* rules match this ingress port (0: any) */
	uint32_t offload_resubmit_port; /* flowtag's own port: packets re-enter the pipeline as from it */
	uint32_t offload_resubmit_table;
	uint32_t offload_instance; /* one per flowtag on a bridge: its rules' cookies */
	uint32_t offload_max_flows;
	uint32_t offload_flow_mods_per_s;
	uint32_t offload_scratch_xxreg; /* NXM xxreg0..3 carries the MACs across NSH encap */
	uint32_t offload_removal_wait_ms; /* a finished flow's record waits this long for its counts */
	uint32_t offload_switch_line, offload_switch_col;

	/*
	 * export.ipfix: flow records to an IPFIX collector (ctl/ipfix.c, ctl/ipfix_conn.c).
	 */
	char ipfix_collector[CONFIG_STR_MAX]; /* udp://HOST:PORT or tcp://HOST:PORT; "" = off */
	uint32_t ipfix_domain; /* observation domain id */
	uint32_t ipfix_template_refresh_ms; /* templates and names again this often (UDP) */
	uint32_t ipfix_active_timeout_ms; /* a long flow's interim record this often; 0 = none */
	uint32_t ipfix_enterprise_number; /* PEN of flowtag's own elements */
	uint32_t ipfix_message_bytes; /* largest message */
	uint32_t ipfix_queue_bytes; /* messages waiting for the socket, at most */
	uint32_t ipfix_long_flows; /* long flows remembered at once (interim deltas) */

	/* chains:, rules:, policy: (NULL until the file has one of them: pass everything) */
	struct policy_spec *policy;

	/* apps: the user-defined applications (NULL: none); set at start, never reloaded */
	struct app_defs *apps;
	uint32_t apps_line, apps_col; /* where the apps: key is */
};

/* The policy as configured, or the built-in one (no chains, everything passes). */
const struct policy_spec *config_policy(const struct config *cfg);

/* Built-in defaults (what config/flowtag.yaml spells out). */
void config_defaults(struct config *cfg);

/*
 * Load `path` over the defaults. Returns 0, or -1 with `err` holding "file:line:col: message"
 * (or "file: message" when the file cannot be read).
 */
int config_load(struct config *cfg, const char *path, char *err, size_t err_len);

/* Same, from a string (tests); `name` stands for the file name in messages. */
int config_load_string(struct config *cfg, const char *name, const char *text, char *err,
		       size_t err_len);

/*
 * A policy from text: a PUT /v1/policy body (`from_request`) or a reloaded config file, both
 * the config file's YAML (or JSON). The text is loaded with the config's rules, then the
 * policy compiled against nDPI's names. A request must hold a policy (chains, rules or
 * policy; a body of comments would install "pass everything"), and one without its own
 * version follows `current_version` + 1, never wrapping past 2^32-1. Returns the compiled
 * policy, or NULL with "name:line:col: message" in err. Pure (the fuzz target drives it).
 */
struct dpi;
struct policy *config_policy_from_text(const char *text, const char *name, bool from_request,
				       uint32_t current_version, const struct dpi *names, char *err,
				       size_t err_len);
/*
 * The same, where flowtag runs with `running` apps: nDPI takes apps at start only, so a text
 * whose apps differ is refused (a reloaded file: always compared; a request: when it has an
 * apps key), saying a restart is needed.
 */
struct policy *config_policy_from_text_apps(const char *text, const char *name, bool from_request,
					    uint32_t current_version, const struct dpi *names,
					    const struct app_defs *running, char *err, size_t err_len);

/*
 * The apps against nDPI's own names and categories (`builtin`: an nDPI instance without
 * them): an app may not take a built-in application's name, and its category must be one
 * of nDPI's. 0, or -1 with "file:line:col: message" in err.
 */
int config_check_apps(const struct config *cfg, const struct dpi *builtin, char *err,
		      size_t err_len);

/* Every key of the file, one a line ("section.key  type/range -- help"): flowtag check --keys. */
void config_describe(void (*line)(void *ctx, const char *text), void *ctx);

/* Frees what config_load allocated (EAL extras). Safe on defaults. */
void config_release(struct config *cfg);

#endif
