/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "yaml_schema.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void __attribute__((format(printf, 4, 0)))
vfail_pos(struct yaml_loader *ld, size_t line, size_t col, const char *fmt, va_list ap)
{
	int n;

	if (ld->failed)
		return; /* the first error is the one worth reading */
	ld->failed = true;
	n = snprintf(ld->err, ld->err_len, "%s:%zu:%zu: ", ld->file, line, col);
	if (n >= 0 && (size_t)n < ld->err_len)
		vsnprintf(ld->err + n, ld->err_len - (size_t)n, fmt, ap);
}

void
yaml_fail_at(struct yaml_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* libyaml marks are 0-based; editors and compilers count from 1. */
	vfail_pos(ld, node != NULL ? node->start_mark.line + 1 : 1,
		  node != NULL ? node->start_mark.column + 1 : 1, fmt, ap);
	va_end(ap);
}

void
yaml_fail_pos(struct yaml_loader *ld, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_pos(ld, line, col, fmt, ap);
	va_end(ap);
}

const char *
yaml_scalar(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

yaml_node_t *
yaml_node(struct yaml_loader *ld, int id)
{
	return yaml_document_get_node(ld->doc, id);
}

bool
yaml_expect(struct yaml_loader *ld, const yaml_node_t *node, yaml_node_type_t type,
	    const char *what, const char *key)
{
	static const char *const kinds[] = {
		[YAML_NO_NODE] = "nothing",
		[YAML_SCALAR_NODE] = "a scalar",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (node->type == type)
		return true;
	yaml_fail_at(ld, node, "'%s' must be %s, found %s", key, what, kinds[node->type]);
	return false;
}

bool
yaml_get_uint(struct yaml_loader *ld, const yaml_node_t *node, const char *key, uint64_t min,
	      uint64_t max, uint32_t *out)
{
	const char *s;
	char *end;
	unsigned long long v;

	if (!yaml_expect(ld, node, YAML_SCALAR_NODE, "a whole number", key))
		return false;
	s = yaml_scalar(node);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0) {
		yaml_fail_at(ld, node, "'%s' must be a whole number from %" PRIu64 " to %" PRIu64
				       ", found '%s'", key, min, max, s);
		return false;
	}
	if (v < min || v > max) {
		yaml_fail_at(ld, node, "'%s' is %llu, expected %" PRIu64 " to %" PRIu64, key, v, min, max);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

bool
yaml_get_bool(struct yaml_loader *ld, const yaml_node_t *node, const char *key, bool *out)
{
	const char *s;

	if (!yaml_expect(ld, node, YAML_SCALAR_NODE, "true or false", key))
		return false;
	s = yaml_scalar(node);
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else {
		yaml_fail_at(ld, node, "'%s' must be true or false, found '%s'", key, s);
		return false;
	}
	return true;
}

bool
yaml_get_str(struct yaml_loader *ld, const yaml_node_t *node, const char *key, char *out,
	     size_t len)
{
	if (!yaml_expect(ld, node, YAML_SCALAR_NODE, "a string", key))
		return false;
	if (strlen(yaml_scalar(node)) >= len) {
		yaml_fail_at(ld, node, "'%s' is longer than %zu characters", key, len - 1);
		return false;
	}
	snprintf(out, len, "%s", yaml_scalar(node));
	return true;
}

/* "a, b or c" */
static void
names_text(const char *const *names, char *buf, size_t len)
{
	size_t n = 0, i;

	buf[0] = '\0';
	while (names[n] != NULL)
		n++;
	for (i = 0; i < n; i++) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%s", names[i],
			 i + 2 < n ? ", " : i + 2 == n ? " or " : "");
	}
}

int
yaml_get_enum(struct yaml_loader *ld, const yaml_node_t *node, const char *key,
	      const char *const *names)
{
	char allowed[256];
	int i;

	names_text(names, allowed, sizeof(allowed));
	if (!yaml_expect(ld, node, YAML_SCALAR_NODE, allowed, key))
		return -1;
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], yaml_scalar(node)) == 0)
			return i;
	yaml_fail_at(ld, node, "'%s' must be %s, found '%s'", key, allowed, yaml_scalar(node));
	return -1;
}

static void *
field(void *target, size_t offset)
{
	return (char *)target + offset;
}

static void
read_key(struct yaml_loader *ld, void *target, const struct yaml_key *k, yaml_node_t *v,
	 const char *what)
{
	uint32_t n;
	int e;

	switch (k->type) {
	case YAML_KEY_UINT:
		yaml_get_uint(ld, v, k->name, k->min, k->max, field(target, k->offset));
		break;
	case YAML_KEY_SECONDS:
		if (yaml_get_uint(ld, v, k->name, k->min, k->max, &n))
			*(uint32_t *)field(target, k->offset) = n * 1000;
		break;
	case YAML_KEY_BOOL:
		yaml_get_bool(ld, v, k->name, field(target, k->offset));
		break;
	case YAML_KEY_STRING:
		yaml_get_str(ld, v, k->name, field(target, k->offset), k->size);
		break;
	case YAML_KEY_ENUM:
		e = yaml_get_enum(ld, v, k->name, k->names);
		if (e >= 0)
			*(int *)field(target, k->offset) = e;
		break;
	case YAML_KEY_SECTION: {
		char sub[128];

		snprintf(sub, sizeof(sub), "%s%s%s", what[0] == '\0' ? "" : what,
			 what[0] == '\0' ? "" : ".", k->name);
		yaml_schema_walk(ld, target, v, sub, k->section);
		break;
	}
	case YAML_KEY_CUSTOM:
		k->handle(ld, target, k, v);
		return;
	}
	/* A check of its own once the value is in (e.g. a string that must be a plain name). */
	if (!ld->failed && k->handle != NULL)
		k->handle(ld, target, k, v);
}

void
yaml_schema_walk(struct yaml_loader *ld, void *target, yaml_node_t *map, const char *what,
		 const struct yaml_key *keys)
{
	yaml_node_pair_t *pair;

	if (!yaml_expect(ld, map, YAML_MAPPING_NODE, "a mapping", what[0] ? what : "the file"))
		return;
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top && !ld->failed;
	     pair++) {
		yaml_node_t *k = yaml_node(ld, pair->key), *v = yaml_node(ld, pair->value);
		const struct yaml_key *d;
		char allowed[512] = "";

		if (!yaml_expect(ld, k, YAML_SCALAR_NODE, "a scalar key", what))
			return;
		for (d = keys; d->name != NULL; d++)
			if (strcmp(d->name, yaml_scalar(k)) == 0)
				break;
		if (d->name != NULL) {
			if (d->set_offset != 0)
				*(bool *)field(target, d->set_offset) = true;
			read_key(ld, target, d, v, what);
			continue;
		}
		for (d = keys; d->name != NULL; d++) {
			strncat(allowed, d->name, sizeof(allowed) - strlen(allowed) - 1);
			if (d[1].name != NULL)
				strncat(allowed, ", ", sizeof(allowed) - strlen(allowed) - 1);
		}
		yaml_fail_at(ld, k, "unknown key '%s' in %s (expected one of: %s)", yaml_scalar(k),
			     what[0] ? what : "the top level", allowed);
	}
}

void
yaml_schema_describe(const struct yaml_key *keys, const char *prefix,
		     void (*line)(void *ctx, const char *text), void *ctx)
{
	const struct yaml_key *k;

	for (k = keys; k->name != NULL; k++) {
		char name[128], text[768], kind[320];

		snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
		switch (k->type) {
		case YAML_KEY_SECTION:
			yaml_schema_describe(k->section, name, line, ctx);
			continue;
		case YAML_KEY_UINT:
			snprintf(kind, sizeof(kind), "whole number, %" PRIu64 " to %" PRIu64, k->min, k->max);
			break;
		case YAML_KEY_SECONDS:
			snprintf(kind, sizeof(kind), "seconds, %" PRIu64 " to %" PRIu64, k->min, k->max);
			break;
		case YAML_KEY_BOOL:
			snprintf(kind, sizeof(kind), "true or false");
			break;
		case YAML_KEY_STRING:
			snprintf(kind, sizeof(kind), "string, at most %zu bytes", k->size - 1);
			break;
		case YAML_KEY_ENUM:
			names_text(k->names, kind, sizeof(kind));
			break;
		case YAML_KEY_CUSTOM:
			snprintf(kind, sizeof(kind), "see the README");
			break;
		}
		snprintf(text, sizeof(text), "%-32s %s -- %s", name, kind, k->help != NULL ? k->help : "");
		line(ctx, text);
	}
}
