/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The policy's YAML: the `chains`, `rules` and `policy` sections of a config file (or of a
 * PUT /v1/policy body) read into a struct policy_spec, next to the compiler that checks it.
 * Which keys a chain takes comes from its tag class (tag.h), never from a list here. Every
 * error names `file:line:col` and what was expected. Pure code.
 */
#ifndef FLOWTAG_POLICY_YAML_H
#define FLOWTAG_POLICY_YAML_H

#include "policy.h"
#include "yaml_schema.h"

/* `chains:` (a list of chains) into spec. */
void policy_yaml_chains(struct yaml_loader *ld, struct policy_spec *spec, yaml_node_t *list);
/* `rules:` (a list of rules) into spec. */
void policy_yaml_rules(struct yaml_loader *ld, struct policy_spec *spec, yaml_node_t *list);
/* `policy:` (default, unclassified, hold_packets, nsh_in, version) into spec. */
void policy_yaml_settings(struct yaml_loader *ld, struct policy_spec *spec, yaml_node_t *map);
/* The keys of `policy:`, for the config's key listing. */
extern const struct yaml_key policy_yaml_keys[];

#endif
