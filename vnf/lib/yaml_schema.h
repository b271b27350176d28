/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * A YAML document read against a schema: tables of keys, each naming its type, its range or
 * its names, the field it fills (an offset into the target struct) and a line of help. The
 * walker refuses unknown keys (naming the ones allowed), wrong types and values out of range,
 * always with `file:line:col` and what was expected; a key's own handler covers what a table
 * cannot (lists of ports, chains, rules). The first error wins: later ones are not read.
 *
 * Pure code (libyaml's document tree); the document comes from yaml_doc.h, bounded.
 */
#ifndef FLOWTAG_YAML_SCHEMA_H
#define FLOWTAG_YAML_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

struct yaml_loader {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t err_len;
	bool failed;
};

enum yaml_key_type {
	YAML_KEY_UINT, /* uint32_t, within [min, max] */
	YAML_KEY_SECONDS, /* uint32_t milliseconds, written in seconds within [min, max] */
	YAML_KEY_BOOL, /* bool */
	YAML_KEY_STRING, /* char[size] */
	YAML_KEY_ENUM, /* int: the index of the value among `names` */
	YAML_KEY_SECTION, /* a mapping read with `section` (fields of the same target) */
	YAML_KEY_CUSTOM, /* `handle` reads the node */
};

struct yaml_key;
typedef void (*yaml_key_handler)(struct yaml_loader *ld, void *target, const struct yaml_key *k,
				 yaml_node_t *value);

struct yaml_key {
	const char *name;
	enum yaml_key_type type;
	size_t offset; /* the field in the target */
	size_t size; /* YAML_KEY_STRING: the buffer */
	uint64_t min, max; /* YAML_KEY_UINT, YAML_KEY_SECONDS */
	const char *const *names; /* YAML_KEY_ENUM: NULL-terminated */
	const struct yaml_key *section; /* YAML_KEY_SECTION: its keys, a NULL name last */
	yaml_key_handler handle; /* YAML_KEY_CUSTOM; or, for the others, checks after reading */
	size_t set_offset; /* a bool field set when the key is present (0: none) */
	const char *help;
};

/* Read the mapping `map` with `keys` into `target` (what = its name, for messages). */
void yaml_schema_walk(struct yaml_loader *ld, void *target, yaml_node_t *map, const char *what,
		      const struct yaml_key *keys);

/* Errors at a node (line:col from it) or at a position; the first one is kept. */
void yaml_fail_at(struct yaml_loader *ld, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void yaml_fail_pos(struct yaml_loader *ld, size_t line, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Typed reads for handlers: false (and the error set) when the node is not what is wanted. */
bool yaml_expect(struct yaml_loader *ld, const yaml_node_t *node, yaml_node_type_t type,
		 const char *what, const char *key);
const char *yaml_scalar(const yaml_node_t *node);
bool yaml_get_uint(struct yaml_loader *ld, const yaml_node_t *node, const char *key, uint64_t min,
		   uint64_t max, uint32_t *out);
bool yaml_get_str(struct yaml_loader *ld, const yaml_node_t *node, const char *key, char *out,
		  size_t len);
bool yaml_get_bool(struct yaml_loader *ld, const yaml_node_t *node, const char *key, bool *out);
/* The index of the scalar among names (NULL-terminated), or -1 with the error set. */
int yaml_get_enum(struct yaml_loader *ld, const yaml_node_t *node, const char *key,
		  const char *const *names);
yaml_node_t *yaml_node(struct yaml_loader *ld, int id);

/* The keys of a table, one a line: "section.key: type (range|names) -- help", for docs. */
void yaml_schema_describe(const struct yaml_key *keys, const char *prefix,
			  void (*line)(void *ctx, const char *text), void *ctx);

#endif
