/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Loading a YAML document from untrusted text (a config file, a PUT /v1/policy body) with
 * bounds, so that no input can stall the control thread.
 *
 * libyaml has none: 80,000 nested '[' take its event parser 10 s (it rescans every open level
 * per token), and its document loader looks each alias up among all anchors (60,000 anchors:
 * 10 s). A first pass over the events refuses, with `file:line:col`, what no config needs:
 * nesting deeper than YAML_DOC_MAX_DEPTH, more than YAML_DOC_MAX_NODES nodes, more than
 * YAML_DOC_MAX_ANCHORS anchors or aliases, a second document in the stream; only then does
 * libyaml build the document. Both passes are linear under these bounds. Pure code.
 */
#ifndef FLOWTAG_YAML_DOC_H
#define FLOWTAG_YAML_DOC_H

#include <stddef.h>

#include <yaml.h>

#define YAML_DOC_MAX_DEPTH 32
#define YAML_DOC_MAX_NODES 200000
#define YAML_DOC_MAX_ANCHORS 256 /* anchors and aliases, each */
#define YAML_DOC_MAX_BYTES (4u << 20) /* a file; API bodies have their own, smaller limit */

#define YAML_DOC_STR_(x) #x
#define YAML_DOC_STR(x) YAML_DOC_STR_(x)

/*
 * Parse `len` bytes of `text` into *doc (an empty document when the text holds none).
 * Returns 0, or -1 with "name:line:col: message" in err (and *doc untouched).
 */
int yaml_doc_load(yaml_document_t *doc, const char *name, const char *text, size_t len,
		  char *err, size_t err_len);

/* The same for a file, read whole first (at most YAML_DOC_MAX_BYTES). */
int yaml_doc_load_file(yaml_document_t *doc, const char *path, char *err, size_t err_len);

#endif
