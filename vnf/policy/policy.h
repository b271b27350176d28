/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Service-chain policy: chains (name, SPI, tag), ordered rules, a default action.
 *
 * The config module fills a struct policy_spec (text values with their line:col);
 * policy_compile() checks it against nDPI's names and builds an immutable struct policy that
 * workers read without locks (a reload builds a new one). policy_decide() picks the first rule
 * that matches a classified flow. Pure code, no EAL: compile on the control thread, decide
 * on any thread.
 */
#ifndef FLOWTAG_POLICY_H
#define FLOWTAG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "tag.h"

struct dpi;

#define POLICY_MAX_CHAINS 32
#define POLICY_MAX_RULES 256
#define POLICY_MAX_ITEMS 32 /* match values in one rule */
#define POLICY_MAX_VALUES 16 /* values of one condition in one rule */
#define POLICY_NAME_MAX 32
#define POLICY_RULE_TEXT_MAX 160
#define POLICY_VALUE_MAX 128
#define POLICY_NO_CHAIN 0xff

/* Where a value was written, for file:line:col messages (1-based). */
struct policy_mark {
	uint32_t line;
	uint32_t col;
};

/* Match conditions; a rule matches when all its conditions do, a condition when any value does. */
#define POLICY_CONDS(X)                                                                      \
	X(APP, "app")           /* nDPI app protocol name, e.g. YouTube */                     \
	X(MASTER, "master")     /* nDPI master protocol name, e.g. TLS */                      \
	X(PROTOCOL, "protocol") /* master or app protocol */                                   \
	X(CATEGORY, "category") /* nDPI category name, e.g. VoIP */                            \
	X(HOST, "host")         /* glob ("*.googlevideo.com") or suffix (".example.com") */     \
	X(SRC, "src")           /* CIDR of the flow's initiator */                               \
	X(DST, "dst")           /* CIDR of the responder */                                      \
	X(L4, "l4")             /* tcp, udp, icmp, icmpv6, sctp or a number */                   \
	X(SRC_PORT, "src_port") /* port or range "1000-2000" */                                \
	X(DST_PORT, "dst_port")                                                                \
	X(VLAN, "vlan")         /* VID or range */                                              \
	X(RISK, "risk")         /* nDPI risk name, e.g. "Known Protocol on Non Standard Port" */ \
	X(TEID, "teid")         /* GTP-U TEID (of the flow's first packet) or range */           \
	X(VNI, "vni")           /* VXLAN or Geneve VNI or range */

enum policy_cond {
#define POLICY_COND_ENUM(name, key) POLICY_COND_##name,
	POLICY_CONDS(POLICY_COND_ENUM)
#undef POLICY_COND_ENUM
	POLICY_COND_COUNT
};

const char *policy_cond_key(enum policy_cond c);

enum policy_action {
	POLICY_PASS, /* forward untagged */
	POLICY_DROP,
	POLICY_CHAIN, /* tag for a chain */
};

/* Packets of a flow before its verdict. */
enum policy_unclassified {
	POLICY_UNCLASSIFIED_DEFAULT, /* the default action */
	POLICY_UNCLASSIFIED_PASS, /* untagged */
	POLICY_UNCLASSIFIED_HOLD, /* queued (bounded) until the verdict */
};

/* Packets that arrive already carrying NSH (back from a chain): never reclassified. */
enum policy_nsh_in {
	POLICY_NSH_PASS,
	POLICY_NSH_DECAP,
};

struct policy_value {
	char *text; /* malloc'd, at most POLICY_VALUE_MAX - 1 bytes */
	struct policy_mark mark;
};

/* A chain's `offload:`: unset (the policy's `offload`), or said. */
enum policy_offload_choice {
	POLICY_OFFLOAD_INHERIT,
	POLICY_OFFLOAD_NO,
	POLICY_OFFLOAD_YES,
};

struct policy_chain_spec {
	char name[POLICY_NAME_MAX];
	struct tag_spec tag;
	enum policy_offload_choice offload;
	uint32_t hops; /* service functions OVS sends it through (0: not said, 1) */
	struct policy_mark mark;
};

struct policy_action_spec {
	enum policy_action action;
	struct policy_value chain; /* POLICY_CHAIN: the chain's name */
};

struct policy_rule_spec {
	uint8_t *kinds; /* enum policy_cond of each value */
	struct policy_value *values;
	uint32_t n_items;
	struct policy_action_spec action;
	struct policy_mark mark;
};

/*
 * A policy as written (policy_yaml.c reads it from YAML): sized by what the text holds, every
 * array and string malloc'd (policy_spec_release frees them), never a fixed 1 MB struct.
 */
struct policy_spec {
	struct policy_chain_spec *chains;
	uint32_t n_chains;
	struct policy_rule_spec *rules;
	uint32_t n_rules;
	struct policy_action_spec default_action;
	enum policy_unclassified unclassified;
	uint32_t hold_packets;
	enum policy_nsh_in nsh_in;
	uint32_t version;
	bool version_set; /* the file said which version (else: 1, or the running one + 1) */
	/* Once decided, a flow may be carried by the switch itself (offload.c): the default for
	 * chains that do not say, and the choice for flows the policy drops or passes. */
	bool offload;
};

/* The built-in policy: no chains, no rules, everything passes untagged. */
void policy_spec_defaults(struct policy_spec *spec);
/* Free what a spec holds (it is then the built-in policy again). */
void policy_spec_release(struct policy_spec *spec);
/* Free the spec's rules only (a later `rules:` section replaces them). */
void policy_spec_clear_rules(struct policy_spec *spec);

/* A compiled chain, as the data path needs it. */
struct policy_chain {
	char name[POLICY_NAME_MAX];
	struct tag_spec tag;
	bool offload; /* its flows may be carried by the switch once decided */
	uint32_t hops; /* service functions on the way (ovs-integration/ builds them; the web view
			* draws them) */
};

struct policy_decision {
	uint8_t action; /* enum policy_action */
	uint8_t chain; /* index into the chains, POLICY_NO_CHAIN unless POLICY_CHAIN */
	uint16_t rule; /* 1-based rule number, 0 = the default action */
};

/* A classified flow, as the rules see it. */
struct policy_flow {
	const struct flow_key *key;
	bool initiator_hi; /* the first packet came from key->hi_* */
	uint16_t master_proto;
	uint16_t app_proto;
	uint16_t category;
	const char *host; /* "" if none */
	uint64_t risk;
};

/*
 * Check the spec (names against nDPI's, chain references, tag ranges and clashes) and build
 * the matcher. Returns NULL with "file:line:col: message" in err.
 */
struct policy *policy_compile(const struct policy_spec *spec, const struct dpi *names,
			      const char *file, char *err, size_t err_len);
void policy_destroy(struct policy *p);

struct policy_decision policy_decide(const struct policy *p, const struct policy_flow *f);
/* What packets of a flow get before its verdict. */
struct policy_decision policy_unclassified_decision(const struct policy *p);

uint32_t policy_version(const struct policy *p);
uint32_t policy_chain_count(const struct policy *p);
const struct policy_chain *policy_chain_at(const struct policy *p, uint32_t i);
uint32_t policy_rule_count(const struct policy *p);
/* Rule i (0-based): its conditions as written ("app: YouTube, NetFlix; host: *.x"), the line
 * it was written on (0 if none) and its decision; NULL past the last rule. */
const char *policy_rule_text(const struct policy *p, uint32_t i, uint32_t *line,
			     struct policy_decision *decision);
struct policy_decision policy_default_decision(const struct policy *p);
enum policy_unclassified policy_unclassified_mode(const struct policy *p);
uint32_t policy_hold_packets(const struct policy *p);
enum policy_nsh_in policy_nsh_in(const struct policy *p);
/* May the switch carry a flow with this decision itself (policy `offload`, chain `offload`)? */
bool policy_offloadable(const struct policy *p, const struct policy_decision *d);
/* Does any decision of this policy let the switch carry a flow? (NULL: no.) */
bool policy_offload_wanted(const struct policy *p);

#endif
