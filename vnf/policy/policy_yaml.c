/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "policy_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tag.h"

static struct policy_mark
mark_of(const yaml_node_t *n)
{
	struct policy_mark m = {(uint32_t)n->start_mark.line + 1, (uint32_t)n->start_mark.column + 1};

	return m;
}

static bool
get_value(struct yaml_loader *ld, yaml_node_t *v, const char *key, struct policy_value *out)
{
	if (!yaml_expect(ld, v, YAML_SCALAR_NODE, "a string", key))
		return false;
	if (strlen(yaml_scalar(v)) >= POLICY_VALUE_MAX) {
		yaml_fail_at(ld, v, "'%s' is longer than %d characters", key, POLICY_VALUE_MAX - 1);
		return false;
	}
	/* A key given twice (a later section overrides an earlier one): the last one counts. */
	free(out->text);
	out->text = strdup(yaml_scalar(v));
	if (out->text == NULL) {
		yaml_fail_at(ld, v, "out of memory");
		return false;
	}
	out->mark = mark_of(v);
	return true;
}

/* drop | pass | {chain: NAME} */
static void
get_action(struct yaml_loader *ld, yaml_node_t *v, const char *key, struct policy_action_spec *a)
{
	static const char *const words[] = {"pass", "drop", NULL};

	if (v->type == YAML_SCALAR_NODE) {
		int w;

		if (strcmp(yaml_scalar(v), "chain") == 0) {
			yaml_fail_at(ld, v, "'%s' must be drop, pass or {chain: NAME}", key);
			return;
		}
		w = yaml_get_enum(ld, v, key, words);
		if (w >= 0)
			a->action = w == 0 ? POLICY_PASS : POLICY_DROP;
		return;
	}
	if (v->type == YAML_MAPPING_NODE && v->data.mapping.pairs.top - v->data.mapping.pairs.start == 1) {
		yaml_node_pair_t *pair = v->data.mapping.pairs.start;
		yaml_node_t *k = yaml_node(ld, pair->key);

		if (k->type == YAML_SCALAR_NODE && strcmp(yaml_scalar(k), "chain") == 0) {
			a->action = POLICY_CHAIN;
			get_value(ld, yaml_node(ld, pair->value), "chain", &a->chain);
			return;
		}
	}
	yaml_fail_at(ld, v, "'%s' must be drop, pass or {chain: NAME}", key);
}

/* The kinds that take `key`, "nsh and mpls", for "'spi' applies to nsh and mpls chains only". */
static void
kinds_taking(const char *key, char *buf, size_t len)
{
	int k, n = 0, total = 0;

	for (k = 0; k < TAG_KIND_COUNT; k++)
		total += tag_param_of((enum tag_kind)k, key) != NULL;
	buf[0] = '\0';
	for (k = 0; k < TAG_KIND_COUNT; k++) {
		if (tag_param_of((enum tag_kind)k, key) == NULL)
			continue;
		n++;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", tag_kind_name((enum tag_kind)k),
			 n + 1 < total ? ", " : n + 1 == total ? " and " : "");
	}
}

static bool
any_kind_takes(const char *key)
{
	int k;

	for (k = 0; k < TAG_KIND_COUNT; k++)
		if (tag_param_of((enum tag_kind)k, key) != NULL)
			return true;
	return false;
}

/*
 * One chain: name, tag, hops (the service functions OVS sends it through: ovs-integration/),
 * and the tag's own parameters, as its class lists them (spi, md_type, vid, dscp).
 */
static void
chain_entry(struct yaml_loader *ld, struct policy_spec *ps, yaml_node_t *item)
{
	const struct tag_class *cls;
	const struct tag_param *tp;
	struct policy_chain_spec *c;
	yaml_node_pair_t *pair;
	yaml_node_t *tag_node = NULL;
	uint32_t seen = 0, hops;
	int kind;

	if (!yaml_expect(ld, item, YAML_MAPPING_NODE, "a mapping", "chain"))
		return;
	if (ps->n_chains == POLICY_MAX_CHAINS) {
		yaml_fail_at(ld, item, "more than %d chains", POLICY_MAX_CHAINS);
		return;
	}
	c = &ps->chains[ps->n_chains];
	memset(c, 0, sizeof(*c));
	c->mark = mark_of(item);
	/* The tag first: it says which other keys the chain may have. */
	for (pair = item->data.mapping.pairs.start; pair < item->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_node(ld, pair->key);

		if (k->type == YAML_SCALAR_NODE && strcmp(yaml_scalar(k), "tag") == 0)
			tag_node = yaml_node(ld, pair->value);
	}
	kind = tag_node != NULL ? yaml_get_enum(ld, tag_node, "tag", tag_kind_names) : -1;
	if (ld->failed)
		return;
	c->tag.kind = kind >= 0 ? (enum tag_kind)kind : TAG_NSH;
	for (pair = item->data.mapping.pairs.start; pair < item->data.mapping.pairs.top && !ld->failed;
	     pair++) {
		yaml_node_t *k = yaml_node(ld, pair->key), *val = yaml_node(ld, pair->value);
		const char *key = k->type == YAML_SCALAR_NODE ? yaml_scalar(k) : "";

		if (strcmp(key, "name") == 0) {
			yaml_get_str(ld, val, key, c->name, sizeof(c->name));
		} else if (strcmp(key, "tag") == 0) {
			continue;
		} else if (strcmp(key, "hops") == 0) {
			if (yaml_get_uint(ld, val, key, 1, 16, &hops))
				c->hops = hops;
		} else if (strcmp(key, "offload") == 0) {
			bool on;

			if (yaml_get_bool(ld, val, key, &on))
				c->offload = on ? POLICY_OFFLOAD_YES : POLICY_OFFLOAD_NO;
		} else if (kind >= 0 && (tp = tag_param_of((enum tag_kind)kind, key)) != NULL) {
			uint32_t *f = (uint32_t *)(void *)((char *)&c->tag + tp->offset);

			if (!yaml_get_uint(ld, val, key, 0, UINT32_MAX, f))
				return;
			if (*f < tp->min || *f > tp->max) {
				yaml_fail_at(ld, val, "'%s' is %u, expected %u to %u for %s chains%s%s%s",
					     key, *f, tp->min, tp->max, tag_kind_name((enum tag_kind)kind),
					     tp->why[0] ? " (" : "", tp->why, tp->why[0] ? ")" : "");
				return;
			}
			seen |= 1u << (tp - tag_class_of((enum tag_kind)kind)->params);
		} else if (any_kind_takes(key)) {
			char which[64];

			kinds_taking(key, which, sizeof(which));
			yaml_fail_at(ld, k, "'%s' applies to %s chains only", key, which);
		} else {
			yaml_fail_at(ld, k, "unknown key '%s' in chain (expected one of: name, tag, hops, "
					    "offload, and the tag's own: spi, md_type, vid, dscp)",
				     key);
		}
	}
	if (ld->failed)
		return;
	if (c->name[0] == '\0') {
		yaml_fail_at(ld, item, "chain needs a 'name'");
		return;
	}
	if (kind < 0) {
		yaml_fail_at(ld, item, "chain '%s' needs a 'tag' (nsh, vlan, mpls or dscp)", c->name);
		return;
	}
	cls = tag_class_of((enum tag_kind)kind);
	for (tp = cls->params; tp->key != NULL; tp++) {
		uint32_t *f = (uint32_t *)(void *)((char *)&c->tag + tp->offset);

		if (seen & (1u << (tp - cls->params)))
			continue;
		if (tp->required) {
			yaml_fail_at(ld, item, "chain '%s' (%s) needs '%s' (%u to %u)", c->name,
				     cls->name, tp->key, tp->min, tp->max);
			return;
		}
		*f = tp->fallback;
	}
	ps->n_chains++;
}

void
policy_yaml_chains(struct yaml_loader *ld, struct policy_spec *ps, yaml_node_t *v)
{
	yaml_node_item_t *it;

	size_t n;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of chains", "chains"))
		return;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > POLICY_MAX_CHAINS) {
		yaml_fail_at(ld, v, "more than %d chains", POLICY_MAX_CHAINS);
		return;
	}
	/* A later `chains:` replaces an earlier one (a config may be appended to). */
	free(ps->chains);
	ps->n_chains = 0;
	ps->chains = calloc(n > 0 ? n : 1, sizeof(*ps->chains));
	if (ps->chains == NULL) {
		yaml_fail_at(ld, v, "out of memory");
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed; it++)
		chain_entry(ld, ps, yaml_node(ld, *it));
}

static bool
add_rule_item(struct yaml_loader *ld, struct policy_rule_spec *r, enum policy_cond kind,
	      yaml_node_t *v)
{
	if (r->n_items == POLICY_MAX_ITEMS) {
		yaml_fail_at(ld, v, "more than %d match values in one rule", POLICY_MAX_ITEMS);
		return false;
	}
	if (!get_value(ld, v, policy_cond_key(kind), &r->values[r->n_items]))
		return false;
	r->kinds[r->n_items++] = (uint8_t)kind;
	return true;
}

static void
rule_entry(struct yaml_loader *ld, struct policy_spec *ps, yaml_node_t *item)
{
	struct policy_rule_spec *r;
	yaml_node_pair_t *pair;
	bool have_action = false;

	if (!yaml_expect(ld, item, YAML_MAPPING_NODE, "a mapping", "rule"))
		return;
	if (ps->n_rules == POLICY_MAX_RULES) {
		yaml_fail_at(ld, item, "more than %d rules", POLICY_MAX_RULES);
		return;
	}
	r = &ps->rules[ps->n_rules++]; /* counted at once, so release frees what it holds */
	r->mark = mark_of(item);
	r->kinds = calloc(POLICY_MAX_ITEMS, sizeof(*r->kinds));
	r->values = calloc(POLICY_MAX_ITEMS, sizeof(*r->values));
	if (r->kinds == NULL || r->values == NULL) {
		yaml_fail_at(ld, item, "out of memory");
		return;
	}
	for (pair = item->data.mapping.pairs.start; pair < item->data.mapping.pairs.top && !ld->failed;
	     pair++) {
		yaml_node_t *k = yaml_node(ld, pair->key), *val = yaml_node(ld, pair->value);
		const char *key = k->type == YAML_SCALAR_NODE ? yaml_scalar(k) : "";
		int c;

		if (strcmp(key, "chain") == 0 || strcmp(key, "action") == 0) {
			if (have_action) {
				yaml_fail_at(ld, k, "a rule takes one action: 'chain: NAME' or 'action: "
						    "drop|pass'");
				return;
			}
			have_action = true;
			if (strcmp(key, "chain") == 0) {
				r->action.action = POLICY_CHAIN;
				get_value(ld, val, key, &r->action.chain);
			} else if (val->type == YAML_SCALAR_NODE && strcmp(yaml_scalar(val), "chain") != 0) {
				get_action(ld, val, key, &r->action);
			} else {
				yaml_fail_at(ld, val, "'action' must be drop or pass (or use 'chain: NAME')");
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
			yaml_fail_at(ld, k, "unknown key '%s' in rule (expected one of: %schain, action)",
				     key, allowed);
			return;
		}
		if (val->type == YAML_SEQUENCE_NODE) {
			yaml_node_item_t *it;

			if (val->data.sequence.items.top == val->data.sequence.items.start) {
				yaml_fail_at(ld, val, "'%s' has an empty list", key);
				return;
			}
			for (it = val->data.sequence.items.start;
			     it < val->data.sequence.items.top && !ld->failed; it++)
				add_rule_item(ld, r, (enum policy_cond)c, yaml_node(ld, *it));
		} else {
			add_rule_item(ld, r, (enum policy_cond)c, val);
		}
	}
	if (!ld->failed && !have_action)
		yaml_fail_at(ld, item, "rule needs an action: 'chain: NAME' or 'action: drop|pass'");
}

void
policy_yaml_rules(struct yaml_loader *ld, struct policy_spec *ps, yaml_node_t *v)
{
	yaml_node_item_t *it;
	size_t n;

	if (!yaml_expect(ld, v, YAML_SEQUENCE_NODE, "a list of rules", "rules"))
		return;
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > POLICY_MAX_RULES) {
		yaml_fail_at(ld, v, "more than %d rules", POLICY_MAX_RULES);
		return;
	}
	/* Sized by the list: a spec holds what the text holds. A later `rules:` replaces. */
	policy_spec_clear_rules(ps);
	ps->rules = calloc(n > 0 ? n : 1, sizeof(*ps->rules));
	if (ps->rules == NULL) {
		yaml_fail_at(ld, v, "out of memory");
		return;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top && !ld->failed; it++)
		rule_entry(ld, ps, yaml_node(ld, *it));
}

static void
read_default(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v)
{
	get_action(ld, v, k->name, &((struct policy_spec *)target)->default_action);
}

static const char *const unclassified_names[] = {"default", "pass", "hold", NULL};
static const char *const nsh_in_names[] = {"pass", "decap", NULL};

_Static_assert(POLICY_UNCLASSIFIED_DEFAULT == 0 && POLICY_UNCLASSIFIED_PASS == 1 &&
		       POLICY_UNCLASSIFIED_HOLD == 2 && POLICY_NSH_PASS == 0 && POLICY_NSH_DECAP == 1,
	       "the names above are in enum order");

const struct yaml_key policy_yaml_keys[] = {
	{.name = "default", .type = YAML_KEY_CUSTOM, .handle = read_default,
	 .help = "what flows no rule matches get: pass, drop or {chain: NAME}"},
	{.name = "unclassified", .type = YAML_KEY_ENUM,
	 .offset = offsetof(struct policy_spec, unclassified), .names = unclassified_names,
	 .help = "packets before the verdict: the default action, untagged, or held"},
	{.name = "hold_packets", .type = YAML_KEY_UINT,
	 .offset = offsetof(struct policy_spec, hold_packets), .min = 1, .max = 64,
	 .help = "unclassified: hold queues this many packets a flow"},
	{.name = "nsh_in", .type = YAML_KEY_ENUM, .offset = offsetof(struct policy_spec, nsh_in),
	 .names = nsh_in_names, .help = "NSH arriving (back from a chain): pass, or decap"},
	{.name = "version", .type = YAML_KEY_UINT, .offset = offsetof(struct policy_spec, version),
	 .min = 0, .max = UINT32_MAX, .set_offset = offsetof(struct policy_spec, version_set),
	 .help = "carried in NSH C4; a PUT without one follows the policy in force + 1"},
	{.name = "offload", .type = YAML_KEY_BOOL, .offset = offsetof(struct policy_spec, offload),
	 .help = "decided flows are carried by the switch itself (chains may say otherwise; "
		 "needs the offload section)"},
	{.name = NULL},
};

void
policy_yaml_settings(struct yaml_loader *ld, struct policy_spec *ps, yaml_node_t *v)
{
	yaml_schema_walk(ld, ps, v, "policy", policy_yaml_keys);
}
