/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* Small text helpers shared by the parsers of untrusted text. Pure, header-only. */
#ifndef FLOWTAG_TEXT_H
#define FLOWTAG_TEXT_H

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

#endif
