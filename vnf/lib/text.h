/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* Small text helpers shared by the parsers of untrusted text. Pure, header-only. */
#ifndef FLOWTAG_TEXT_H
#define FLOWTAG_TEXT_H

#include <stddef.h>
#include <string.h>

/* The value of a hexadecimal digit, or -1. */
static inline int
text_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Copy the string in src (an array of src_size bytes, terminated or not) into dst (dst_size
 * bytes, at least 1): cut to fit, always terminated, and never reading past src's array.
 * snprintf(dst, dst_size, "%s", src), which the per-flow paths used, reads src until a NUL
 * wherever that is: the arrays copied from nDPI's flow state are filled from packets.
 */
static inline void
text_copy(char *dst, size_t dst_size, const char *src, size_t src_size)
{
	size_t n = strnlen(src, dst_size - 1 < src_size ? dst_size - 1 : src_size);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

#endif
