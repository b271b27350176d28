/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
json_printf(struct json_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->used) {
		b->overflow = true;
		b->p[b->used] = '\0';
	} else {
		b->used += (size_t)n;
	}
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4: no overlongs, no surrogates, nothing
 * past U+10FFFF), or 0 if the bytes there are not one. */
size_t
json_utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

static inline void
put(struct json_buf *b, const char *p, size_t n)
{
	if (b->overflow)
		return;
	if (n >= b->len - b->used) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->used, p, n);
	b->used += n;
	b->p[b->used] = '\0';
}

void
json_string(struct json_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;

	put(b, "\"", 1);
	while (*u != '\0' && !b->overflow) {
		size_t n = json_utf8_seq_len(u), run = 0;

		if (n == 0) {
			put(b, "\\ufffd", 6); /* not UTF-8 (bytes from a packet): the replacement char */
			u++;
			continue;
		}
		if (*u == '"' || *u == '\\') {
			char esc[2] = {'\\', (char)*u};

			put(b, esc, 2);
			u++;
			continue;
		}
		if (*u < 0x20 || *u == 0x7f) {
			char esc[6] = {'\\', 'u', '0', '0', hex[*u >> 4], hex[*u & 15]};

			put(b, esc, 6);
			u++;
			continue;
		}
		/* A run of plain characters (valid sequences, nothing to escape) in one copy. */
		while (u[run] != '\0' && u[run] != '"' && u[run] != '\\' && u[run] >= 0x20 &&
		       u[run] != 0x7f && (n = json_utf8_seq_len(u + run)) != 0)
			run += n;
		put(b, (const char *)u, run);
		u += run;
	}
	put(b, "\"", 1);
}

void
json_key(struct json_buf *b, const char *key)
{
	json_string(b, key);
	json_printf(b, ":");
}
