/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>

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

void
json_string(struct json_buf *b, const char *s)
{
	json_printf(b, "\"");
	for (; *s != '\0' && !b->overflow; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			json_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			json_printf(b, "\\u%04x", c);
		else
			json_printf(b, "%c", c);
	}
	json_printf(b, "\"");
}

void
json_key(struct json_buf *b, const char *key)
{
	json_string(b, key);
	json_printf(b, ":");
}
