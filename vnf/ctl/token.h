/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The API's bearer token in its file: read when the file exists (a token the operator
 * provisioned, e.g. a Kubernetes secret), or made (32 random bytes as hex) and written there,
 * 0600, never through a symbolic link or over an existing file, for flowtagctl and the
 * testbed to read, as OVS and Docker guard their control sockets by file permissions.
 * Control thread, at start and exit.
 */
#ifndef FLOWTAG_TOKEN_H
#define FLOWTAG_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The token of `path`: read, or made when the file does not exist (*made set; its directory
 * is created 0755 if missing). A token is one line of at most max_len printable bytes.
 * Returns a malloc'd token, or NULL with a message in err.
 */
char *token_load_or_make(const char *path, size_t max_len, bool *made, char *err, size_t err_len);

/* Read the token of an existing file only. NULL with a message in err. */
char *token_load(const char *path, size_t max_len, char *err, size_t err_len);

#endif
