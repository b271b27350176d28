/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dpi.h"
#include "parse.h"

#define PROTO_WORDS 8 /* 512 protocol ids */
#define CAT_WORDS 4 /* 256 categories */
#define L4_WORDS 4

struct range {
	uint32_t lo;
	uint32_t hi;
};

struct cidr {
	uint8_t version;
	uint8_t prefix;
	uint8_t addr[16];
};

struct host_pattern {
	char text[POLICY_VALUE_MAX];
	bool suffix; /* ".example.com": the domain and everything under it */
};

struct rule {
	uint32_t present; /* bit per enum policy_cond */
	uint64_t app[PROTO_WORDS], master[PROTO_WORDS], protocol[PROTO_WORDS];
	uint64_t category[CAT_WORDS], l4[L4_WORDS];
	uint64_t risk;
	struct host_pattern hosts[POLICY_MAX_VALUES];
	struct cidr src[POLICY_MAX_VALUES], dst[POLICY_MAX_VALUES];
	struct range src_port[POLICY_MAX_VALUES], dst_port[POLICY_MAX_VALUES];
	struct range vlan[POLICY_MAX_VALUES];
	struct range teid[POLICY_MAX_VALUES], vni[POLICY_MAX_VALUES];
	uint8_t n_hosts, n_src, n_dst, n_src_port, n_dst_port, n_vlan, n_teid, n_vni;
	struct policy_decision decision;
	uint32_t line; /* where it was written (0: not from a file) */
	char text[POLICY_RULE_TEXT_MAX]; /* its conditions as written, for people (the web view) */
};

struct policy {
	uint32_t version;
	uint32_t n_chains;
	struct policy_chain chains[POLICY_MAX_CHAINS];
	uint32_t n_rules;
	struct rule *rules;
	struct policy_decision default_decision;
	enum policy_unclassified unclassified;
	uint32_t hold_packets;
	enum policy_nsh_in nsh_in;
	bool offload;
};

static const char *const cond_keys[POLICY_COND_COUNT] = {
#define POLICY_COND_KEY(name, key) key,
	POLICY_CONDS(POLICY_COND_KEY)
#undef POLICY_COND_KEY
};

const char *
policy_cond_key(enum policy_cond c)
{
	return (unsigned int)c < POLICY_COND_COUNT ? cond_keys[c] : "invalid";
}

void
policy_spec_clear_rules(struct policy_spec *spec)
{
	uint32_t i, k;

	for (i = 0; spec->rules != NULL && i < spec->n_rules; i++) {
		struct policy_rule_spec *r = &spec->rules[i];

		for (k = 0; r->values != NULL && k < r->n_items; k++)
			free(r->values[k].text);
		free(r->values);
		free(r->kinds);
		free(r->action.chain.text);
	}
	free(spec->rules);
	spec->rules = NULL;
	spec->n_rules = 0;
}

void
policy_spec_release(struct policy_spec *spec)
{
	policy_spec_clear_rules(spec);
	free(spec->chains);
	free(spec->default_action.chain.text);
	policy_spec_defaults(spec);
}

void
policy_spec_defaults(struct policy_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->default_action.action = POLICY_PASS;
	spec->unclassified = POLICY_UNCLASSIFIED_DEFAULT;
	spec->hold_packets = 8;
	spec->nsh_in = POLICY_NSH_PASS;
	spec->version = 1;
}

/* ---- compiling ---- */

struct compiler {
	const char *file;
	char *err;
	size_t err_len;
	const struct dpi *names;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct compiler *c, const struct policy_mark *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(c->err, c->err_len, "%s:%u:%u: ", c->file, m->line, m->col);
	if (n >= 0 && (size_t)n < c->err_len) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->err_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static inline void
bit_set(uint64_t *words, uint32_t bit)
{
	words[bit / 64] |= 1ULL << (bit % 64);
}

static inline bool
bit_test(const uint64_t *words, uint32_t bit, uint32_t nwords)
{
	return bit / 64 < nwords && (words[bit / 64] >> (bit % 64)) & 1;
}

static int
parse_range(struct compiler *c, const struct policy_value *v, uint32_t max, const char *what,
	    struct range *r)
{
	char *end;
	unsigned long lo, hi;

	lo = strtoul(v->text, &end, 10);
	hi = lo;
	if (end != v->text && *end == '-')
		hi = strtoul(end + 1, &end, 10);
	if (end == v->text || *end != '\0' || v->text[0] == '-' || lo > hi || hi > max)
		return fail(c, &v->mark, "'%s' is not a %s or range (expected N or N-M, 0 to %u)",
			    v->text, what, max);
	r->lo = (uint32_t)lo;
	r->hi = (uint32_t)hi;
	return 0;
}

static int
parse_cidr(struct compiler *c, const struct policy_value *v, struct cidr *out)
{
	char addr[POLICY_VALUE_MAX];
	char *slash, *end;
	unsigned long prefix;
	int maxp;

	snprintf(addr, sizeof(addr), "%s", v->text);
	slash = strchr(addr, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->version = 4;
		maxp = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->version = 6;
		maxp = 128;
	} else {
		return fail(c, &v->mark, "'%s' is not an IPv4 or IPv6 address or CIDR", v->text);
	}
	prefix = (unsigned long)maxp;
	if (slash != NULL) {
		prefix = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || prefix > (unsigned long)maxp)
			return fail(c, &v->mark, "'%s': prefix length must be 0 to %d", v->text, maxp);
	}
	out->prefix = (uint8_t)prefix;
	return 0;
}

static int
parse_l4(struct compiler *c, const struct policy_value *v, uint64_t *l4)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} names[] = {{"tcp", IPPROTO_TCP},	 {"udp", IPPROTO_UDP}, {"icmp", IPPROTO_ICMP},
		     {"icmpv6", IPPROTO_ICMPV6}, {"sctp", IPPROTO_SCTP}, {"gre", IPPROTO_GRE},
		     {"esp", IPPROTO_ESP}};
	char *end;
	unsigned long n;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(v->text, names[i].name) == 0) {
			bit_set(l4, names[i].proto);
			return 0;
		}
	}
	n = strtoul(v->text, &end, 10);
	if (end == v->text || *end != '\0' || n > 255)
		return fail(c, &v->mark, "'%s' is not an L4 protocol (expected tcp, udp, icmp, "
					 "icmpv6, sctp, gre, esp or 0 to 255)",
			    v->text);
	bit_set(l4, (uint32_t)n);
	return 0;
}

static int
parse_risk(struct compiler *c, const struct policy_value *v, uint64_t *mask)
{
	unsigned int bit;

	for (bit = 1; bit < 64; bit++) {
		const char *name = dpi_risk_name(bit);

		if (name != NULL && strcasecmp(name, v->text) == 0) {
			*mask |= 1ULL << bit;
			return 0;
		}
	}
	return fail(c, &v->mark, "unknown nDPI risk '%s' (names as ndpiReader prints them, e.g. "
				 "\"Known Protocol on Non Standard Port\")",
		    v->text);
}

static int
find_chain(const struct policy *p, const char *name)
{
	uint32_t i;

	for (i = 0; i < p->n_chains; i++)
		if (strcmp(p->chains[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
compile_action(struct compiler *c, const struct policy *p, const struct policy_action_spec *a,
	       struct policy_decision *d)
{
	int chain;

	d->action = (uint8_t)a->action;
	d->chain = POLICY_NO_CHAIN;
	if (a->action != POLICY_CHAIN)
		return 0;
	chain = find_chain(p, a->chain.text);
	if (chain < 0)
		return fail(c, &a->chain.mark, "unknown chain '%s' (define it under 'chains')",
			    a->chain.text);
	d->chain = (uint8_t)chain;
	return 0;
}

/* One value of one condition into the compiled rule. */
static int
compile_item(struct compiler *c, struct rule *r, enum policy_cond kind,
	     const struct policy_value *v)
{
	int id;

	r->present |= 1u << kind;
	switch (kind) {
	case POLICY_COND_APP:
	case POLICY_COND_MASTER:
	case POLICY_COND_PROTOCOL:
		id = dpi_proto_id(c->names, v->text);
		if (id < 0 || id >= PROTO_WORDS * 64)
			return fail(c, &v->mark, "unknown protocol '%s' (nDPI's names, as ndpiReader "
						 "-H lists them, e.g. YouTube, TLS, BitTorrent)",
				    v->text);
		bit_set(kind == POLICY_COND_APP	     ? r->app
			: kind == POLICY_COND_MASTER ? r->master
						     : r->protocol,
			(uint32_t)id);
		return 0;
	case POLICY_COND_CATEGORY:
		id = dpi_category_id(c->names, v->text);
		if (id < 0 || id >= CAT_WORDS * 64)
			return fail(c, &v->mark, "unknown category '%s' (nDPI's names, e.g. VoIP, "
						 "Media, Download, Web)",
				    v->text);
		bit_set(r->category, (uint32_t)id);
		return 0;
	case POLICY_COND_HOST:
		if (v->text[0] == '\0')
			return fail(c, &v->mark, "empty host pattern");
		if (r->n_hosts == POLICY_MAX_VALUES)
			break;
		snprintf(r->hosts[r->n_hosts].text, POLICY_VALUE_MAX, "%s", v->text);
		r->hosts[r->n_hosts++].suffix = v->text[0] == '.';
		return 0;
	case POLICY_COND_SRC:
		if (r->n_src == POLICY_MAX_VALUES)
			break;
		return parse_cidr(c, v, &r->src[r->n_src++]);
	case POLICY_COND_DST:
		if (r->n_dst == POLICY_MAX_VALUES)
			break;
		return parse_cidr(c, v, &r->dst[r->n_dst++]);
	case POLICY_COND_L4:
		return parse_l4(c, v, r->l4);
	case POLICY_COND_SRC_PORT:
		if (r->n_src_port == POLICY_MAX_VALUES)
			break;
		return parse_range(c, v, 65535, "port", &r->src_port[r->n_src_port++]);
	case POLICY_COND_DST_PORT:
		if (r->n_dst_port == POLICY_MAX_VALUES)
			break;
		return parse_range(c, v, 65535, "port", &r->dst_port[r->n_dst_port++]);
	case POLICY_COND_VLAN:
		if (r->n_vlan == POLICY_MAX_VALUES)
			break;
		return parse_range(c, v, 4095, "VLAN id", &r->vlan[r->n_vlan++]);
	case POLICY_COND_RISK:
		return parse_risk(c, v, &r->risk);
	case POLICY_COND_TEID:
		if (r->n_teid == POLICY_MAX_VALUES)
			break;
		return parse_range(c, v, UINT32_MAX, "TEID", &r->teid[r->n_teid++]);
	case POLICY_COND_VNI:
		if (r->n_vni == POLICY_MAX_VALUES)
			break;
		return parse_range(c, v, (1u << 24) - 1, "VNI", &r->vni[r->n_vni++]);
	default:
		return fail(c, &v->mark, "invalid condition");
	}
	return fail(c, &v->mark, "more than %d values for '%s' in one rule", POLICY_MAX_VALUES,
		    policy_cond_key(kind));
}

static int
compile_chains(struct compiler *c, const struct policy_spec *spec, struct policy *p)
{
	uint32_t i, j;

	for (i = 0; i < spec->n_chains; i++) {
		const struct policy_chain_spec *cs = &spec->chains[i];
		const struct tag_spec *t = &cs->tag;
		const struct tag_class *tc;
		char why[160];

		if (tag_check(t, why, sizeof(why)) != 0)
			return fail(c, &cs->mark, "chain '%s': %s", cs->name, why);
		tc = tag_class_of(t->kind);
		for (j = 0; j < i; j++) {
			const struct tag_spec *o = &spec->chains[j].tag;
			const struct tag_class *oc = tag_class_of(o->kind);

			if (strcmp(spec->chains[j].name, cs->name) == 0)
				return fail(c, &cs->mark, "chain '%s' is defined twice", cs->name);
			/* OVS tells chains apart by their tag: two chains may not share one. */
			if (strcmp(tc->steer_space, oc->steer_space) == 0 &&
			    tc->steer_value(t) == oc->steer_value(o))
				return fail(c, &cs->mark, "chain '%s' has %s %u, which chain '%s' already "
							  "uses",
					    cs->name, tc->steer_space, tc->steer_value(t),
					    spec->chains[j].name);
		}
		snprintf(p->chains[i].name, sizeof(p->chains[i].name), "%s", cs->name);
		p->chains[i].tag = *t;
		p->chains[i].hops = cs->hops != 0 ? cs->hops : 1;
		p->chains[i].offload = cs->offload == POLICY_OFFLOAD_INHERIT
					       ? spec->offload
					       : cs->offload == POLICY_OFFLOAD_YES;
		p->n_chains++;
	}
	return 0;
}

/* "app: YouTube, NetFlix; host: *.googlevideo.com", cut with "..." when long. */
static void
describe_rule(const struct policy_rule_spec *rs, char *out, size_t len)
{
	size_t used = 0;
	uint32_t k;
	int prev = -1;

	out[0] = '\0';
	for (k = 0; k < rs->n_items && used + 1 < len; k++) {
		const char *v = rs->values[k].text != NULL ? rs->values[k].text : "";
		int n;

		if ((int)rs->kinds[k] != prev)
			n = snprintf(out + used, len - used, "%s%s: %s", k ? "; " : "",
				     policy_cond_key((enum policy_cond)rs->kinds[k]), v);
		else
			n = snprintf(out + used, len - used, ", %s", v);
		prev = rs->kinds[k];
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (used >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
}

struct policy *
policy_compile(const struct policy_spec *spec, const struct dpi *names, const char *file,
	       char *err, size_t err_len)
{
	struct compiler c = {.file = file, .err = err, .err_len = err_len, .names = names};
	struct policy *p;
	uint32_t i, k;

	p = calloc(1, sizeof(*p));
	if (p == NULL || (spec->n_rules > 0 && (p->rules = calloc(spec->n_rules,
								  sizeof(struct rule))) == NULL)) {
		snprintf(err, err_len, "%s: out of memory for the policy", file);
		policy_destroy(p);
		return NULL;
	}
	p->version = spec->version;
	p->unclassified = spec->unclassified;
	p->hold_packets = spec->hold_packets;
	p->nsh_in = spec->nsh_in;
	p->offload = spec->offload;
	if (compile_chains(&c, spec, p) != 0)
		goto fail;
	for (i = 0; i < spec->n_rules; i++) {
		const struct policy_rule_spec *rs = &spec->rules[i];
		struct rule *r = &p->rules[i];

		for (k = 0; k < rs->n_items; k++)
			if (compile_item(&c, r, (enum policy_cond)rs->kinds[k], &rs->values[k]) != 0)
				goto fail;
		if (compile_action(&c, p, &rs->action, &r->decision) != 0)
			goto fail;
		r->decision.rule = (uint16_t)(i + 1);
		r->line = rs->mark.line;
		describe_rule(rs, r->text, sizeof(r->text));
		p->n_rules++;
	}
	if (compile_action(&c, p, &spec->default_action, &p->default_decision) != 0)
		goto fail;
	return p;
fail:
	policy_destroy(p);
	return NULL;
}

void
policy_destroy(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->rules);
	free(p);
}

/* ---- deciding ---- */

static bool
in_ranges(const struct range *r, uint8_t n, uint32_t v)
{
	uint8_t i;

	for (i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

static bool
in_cidrs(const struct cidr *c, uint8_t n, uint8_t version, const uint8_t *addr)
{
	uint8_t i;

	for (i = 0; i < n; i++) {
		uint32_t full = c[i].prefix / 8, rest = c[i].prefix % 8;

		if (c[i].version != version || memcmp(c[i].addr, addr, full) != 0)
			continue;
		if (rest == 0 || ((c[i].addr[full] ^ addr[full]) & (0xff00 >> rest)) == 0)
			return true;
	}
	return false;
}

static bool
host_matches(const struct host_pattern *h, uint8_t n, const char *host)
{
	size_t hl = strlen(host);
	uint8_t i;

	if (hl == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (h[i].suffix) {
			size_t pl = strlen(h[i].text);

			/* ".example.com" matches example.com and anything below it. */
			if ((hl >= pl && strcasecmp(host + hl - pl, h[i].text) == 0) ||
			    strcasecmp(host, h[i].text + 1) == 0)
				return true;
		} else if (fnmatch(h[i].text, host, FNM_CASEFOLD) == 0) {
			return true;
		}
	}
	return false;
}

#define HAS(r, cond) ((r)->present & (1u << POLICY_COND_##cond))

static bool
rule_matches(const struct rule *r, const struct policy_flow *f)
{
	const struct flow_key *k = f->key;
	const uint8_t *src = f->initiator_hi ? k->hi_addr : k->lo_addr;
	const uint8_t *dst = f->initiator_hi ? k->lo_addr : k->hi_addr;
	uint16_t sport = f->initiator_hi ? k->hi_port : k->lo_port;
	uint16_t dport = f->initiator_hi ? k->lo_port : k->hi_port;

	if (HAS(r, APP) && !bit_test(r->app, f->app_proto, PROTO_WORDS))
		return false;
	if (HAS(r, MASTER) && !bit_test(r->master, f->master_proto, PROTO_WORDS))
		return false;
	if (HAS(r, PROTOCOL) && !bit_test(r->protocol, f->app_proto, PROTO_WORDS) &&
	    !(f->master_proto != 0 && bit_test(r->protocol, f->master_proto, PROTO_WORDS)))
		return false;
	if (HAS(r, CATEGORY) && !bit_test(r->category, f->category, CAT_WORDS))
		return false;
	if (HAS(r, L4) && !bit_test(r->l4, k->l4_proto, L4_WORDS))
		return false;
	if (HAS(r, SRC_PORT) && !in_ranges(r->src_port, r->n_src_port, sport))
		return false;
	if (HAS(r, DST_PORT) && !in_ranges(r->dst_port, r->n_dst_port, dport))
		return false;
	if (HAS(r, VLAN) && !in_ranges(r->vlan, r->n_vlan, k->vlan))
		return false;
	if (HAS(r, RISK) && (f->risk & r->risk) == 0)
		return false;
	if (HAS(r, TEID) &&
	    (k->tunnel != PARSE_TUNNEL_GTPU || !in_ranges(r->teid, r->n_teid, k->tunnel_id)))
		return false;
	if (HAS(r, VNI) &&
	    ((k->tunnel != PARSE_TUNNEL_VXLAN && k->tunnel != PARSE_TUNNEL_GENEVE) ||
	     !in_ranges(r->vni, r->n_vni, k->tunnel_id)))
		return false;
	if (HAS(r, SRC) && !in_cidrs(r->src, r->n_src, k->ip_version, src))
		return false;
	if (HAS(r, DST) && !in_cidrs(r->dst, r->n_dst, k->ip_version, dst))
		return false;
	if (HAS(r, HOST) && !host_matches(r->hosts, r->n_hosts, f->host != NULL ? f->host : ""))
		return false;
	return true;
}

struct policy_decision
policy_decide(const struct policy *p, const struct policy_flow *f)
{
	uint32_t i;

	for (i = 0; i < p->n_rules; i++)
		if (rule_matches(&p->rules[i], f))
			return p->rules[i].decision;
	return p->default_decision;
}

struct policy_decision
policy_unclassified_decision(const struct policy *p)
{
	struct policy_decision pass = {.action = POLICY_PASS, .chain = POLICY_NO_CHAIN};

	return p->unclassified == POLICY_UNCLASSIFIED_PASS ? pass : p->default_decision;
}

uint32_t
policy_version(const struct policy *p)
{
	return p->version;
}

uint32_t
policy_chain_count(const struct policy *p)
{
	return p->n_chains;
}

const struct policy_chain *
policy_chain_at(const struct policy *p, uint32_t i)
{
	return i < p->n_chains ? &p->chains[i] : NULL;
}

uint32_t
policy_rule_count(const struct policy *p)
{
	return p->n_rules;
}

const char *
policy_rule_text(const struct policy *p, uint32_t i, uint32_t *line,
		 struct policy_decision *decision)
{
	if (i >= p->n_rules)
		return NULL;
	*line = p->rules[i].line;
	*decision = p->rules[i].decision;
	return p->rules[i].text;
}

struct policy_decision
policy_default_decision(const struct policy *p)
{
	return p->default_decision;
}

enum policy_unclassified
policy_unclassified_mode(const struct policy *p)
{
	return p->unclassified;
}

uint32_t
policy_hold_packets(const struct policy *p)
{
	return p->hold_packets;
}

enum policy_nsh_in
policy_nsh_in(const struct policy *p)
{
	return p->nsh_in;
}

bool
policy_offloadable(const struct policy *p, const struct policy_decision *d)
{
	if (d->action == POLICY_CHAIN)
		return d->chain < p->n_chains && p->chains[d->chain].offload;
	return p->offload;
}

bool
policy_offload_wanted(const struct policy *p)
{
	uint32_t i;

	if (p == NULL)
		return false;
	for (i = 0; i < p->n_chains; i++)
		if (p->chains[i].offload)
			return true;
	return p->offload;
}
