/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "yaml_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
syntax_error(const yaml_parser_t *p, const char *name, char *err, size_t err_len)
{
	snprintf(err, err_len, "%s:%zu:%zu: %s%s%s", name, p->problem_mark.line + 1,
		 p->problem_mark.column + 1, p->problem != NULL ? p->problem : "syntax error",
		 p->context != NULL ? " " : "", p->context != NULL ? p->context : "");
	return -1;
}

/* The first pass: the event stream within bounds, one document at most. */
static int
check_events(const char *name, const char *text, size_t len, char *err, size_t err_len)
{
	yaml_parser_t p;
	yaml_event_t e;
	unsigned depth = 0, nodes = 0, anchors = 0, aliases = 0, documents = 0;
	const char *why = NULL;
	int rc = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		yaml_event_type_t t;

		if (!yaml_parser_parse(&p, &e)) {
			rc = syntax_error(&p, name, err, err_len);
			break;
		}
		t = e.type;
		switch (t) {
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1)
				why = "a second YAML document ('---'): the file must hold one";
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > YAML_DOC_MAX_DEPTH)
				why = "nested deeper than " YAML_DOC_STR(YAML_DOC_MAX_DEPTH) " levels";
			__attribute__((fallthrough)); /* a collection is a node too */
		case YAML_SCALAR_EVENT:
			if (++nodes > YAML_DOC_MAX_NODES)
				why = "more than " YAML_DOC_STR(YAML_DOC_MAX_NODES) " values";
			if ((t == YAML_SCALAR_EVENT ? e.data.scalar.anchor
			     : t == YAML_SEQUENCE_START_EVENT ? e.data.sequence_start.anchor
							      : e.data.mapping_start.anchor) != NULL &&
			    ++anchors > YAML_DOC_MAX_ANCHORS)
				why = "more than " YAML_DOC_STR(YAML_DOC_MAX_ANCHORS) " anchors";
			break;
		case YAML_ALIAS_EVENT:
			if (++aliases > YAML_DOC_MAX_ANCHORS)
				why = "more than " YAML_DOC_STR(YAML_DOC_MAX_ANCHORS) " aliases";
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (why != NULL) {
			snprintf(err, err_len, "%s:%zu:%zu: %s", name, e.start_mark.line + 1,
				 e.start_mark.column + 1, why);
			rc = -1;
		}
		yaml_event_delete(&e);
		if (rc != 0 || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

int
yaml_doc_load(yaml_document_t *doc, const char *name, const char *text, size_t len, char *err,
	      size_t err_len)
{
	yaml_parser_t p;
	int rc = 0;

	if (memchr(text, '\0', len) != NULL) {
		/* libyaml would stop there silently and load half the text. */
		size_t at = (size_t)((const char *)memchr(text, '\0', len) - text), line = 1, col = 1;

		for (size_t i = 0; i < at; i++, col++)
			if (text[i] == '\n') {
				line++;
				col = 0;
			}
		snprintf(err, err_len, "%s:%zu:%zu: a NUL byte: the text must be YAML or JSON", name,
			 line, col);
		return -1;
	}
	if (check_events(name, text, len, err, err_len) != 0)
		return -1;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, doc))
		rc = syntax_error(&p, name, err, err_len);
	yaml_parser_delete(&p);
	return rc;
}

int
yaml_doc_load_file(yaml_document_t *doc, const char *path, char *err, size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int rc = -1;

	if (fd < 0) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_len, "%s: not a regular file", path);
		goto out;
	}
	if ((size_t)st.st_size > YAML_DOC_MAX_BYTES) {
		snprintf(err, err_len, "%s: %lld bytes, more than a config may hold (%u)", path,
			 (long long)st.st_size, YAML_DOC_MAX_BYTES);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		snprintf(err, err_len, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, err_len, "%s: cannot read: %s", path, n < 0 ? strerror(errno) : "short");
			goto out;
		}
		got += (size_t)n;
	}
	text[got] = '\0';
	rc = yaml_doc_load(doc, path, text, got, err, err_len);
out:
	free(text);
	close(fd);
	return rc;
}
