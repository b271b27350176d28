/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* The small text helpers of vnf/lib/text.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

/* As snprintf(dst, size, "%s", src) would: whole when it fits, cut and terminated when not. */
static void
copy_cuts_and_terminates(void **state)
{
	char dst[8];

	(void)state;
	memset(dst, 'x', sizeof(dst));
	text_copy(dst, sizeof(dst), "abc", 4);
	assert_string_equal(dst, "abc");
	text_copy(dst, sizeof(dst), "1234567", 8); /* exactly fits */
	assert_string_equal(dst, "1234567");
	text_copy(dst, sizeof(dst), "123456789", 10); /* one too many: cut */
	assert_string_equal(dst, "1234567");
	text_copy(dst, sizeof(dst), "", 1);
	assert_string_equal(dst, "");
	text_copy(dst, 1, "abc", 4); /* room for the terminator only */
	assert_string_equal(dst, "");
}

/*
 * A source array with no terminator (a hostile or buggy producer filled it whole): the copy
 * takes the array and stops there. The array sits between canaries that must not be read into
 * the result; under ASan a read past it would also be reported.
 */
static void
copy_never_reads_past_the_source(void **state)
{
	struct {
		char src[5];
		char after[11];
	} mem;
	char dst[32];

	(void)state;
	memcpy(mem.src, "HOSTS", 5); /* no terminator */
	memcpy(mem.after, "SECRETDATA", 11);
	text_copy(dst, sizeof(dst), mem.src, sizeof(mem.src));
	assert_string_equal(dst, "HOSTS");
	/* A terminator inside the array still ends the string there. */
	memcpy(mem.src, "ab\0cd", 5);
	text_copy(dst, sizeof(dst), mem.src, sizeof(mem.src));
	assert_string_equal(dst, "ab");
}

/* Bytes that are not UTF-8 are copied as they are (the callers' encoders escape them). */
static void
copy_keeps_bytes(void **state)
{
	const char src[] = "\xff\xfe\xc3(";
	char dst[8];

	(void)state;
	text_copy(dst, sizeof(dst), src, sizeof(src));
	assert_memory_equal(dst, src, sizeof(src));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy_cuts_and_terminates),
		cmocka_unit_test(copy_never_reads_past_the_source),
		cmocka_unit_test(copy_keeps_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
