/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * A bounded JSON writer (RFC 8259): objects built into a caller's buffer, never past its end.
 * Once out of room it stops writing and remembers it, so callers check once, at the end.
 * Pure code, any thread.
 */
#ifndef FLOWTAG_JSON_H
#define FLOWTAG_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct json_buf {
	char *p;
	size_t len;
	size_t used;
	bool overflow;
};

static inline void
json_init(struct json_buf *b, char *p, size_t len)
{
	b->p = p;
	b->len = len;
	b->used = 0;
	b->overflow = len == 0;
	if (len > 0)
		p[0] = '\0';
}

void json_printf(struct json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A string value, quoted and escaped (control bytes, quotes, backslashes, DEL). Always valid
 * UTF-8 (RFC 8259 §8.1): bytes that are not (packet data: hosts, SNIs) become U+FFFD.
 */
void json_string(struct json_buf *b, const char *s);
/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if the bytes there are not one (s must
 * be NUL-terminated). */
size_t json_utf8_seq_len(const unsigned char *s);
/* `"key":` */
void json_key(struct json_buf *b, const char *key);

#endif
