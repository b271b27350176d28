/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "meta_pool.h"

static struct dpi_meta
meta(const char *host, const char *ja3, uint64_t risk)
{
	struct dpi_meta m;

	memset(&m, 0, sizeof(m));
	snprintf(m.host, sizeof(m.host), "%s", host);
	snprintf(m.ja3c, sizeof(m.ja3c), "%s", ja3);
	m.risk = risk;
	return m;
}

/* One value, many flows: one entry, freed with its last reference. */
static void
shared_by_reference(void **state)
{
	struct meta_pool *mp = meta_pool_create(4);
	struct dpi_meta a = meta("www.youtube.com", "0123456789abcdef0123456789abcdef", 0);
	struct dpi_meta b = meta("www.youtube.com", "", 0);
	struct meta_pool_stats st;
	uint32_t ids[100], ib, i;

	(void)state;
	for (i = 0; i < 100; i++)
		ids[i] = meta_pool_intern(mp, &a);
	for (i = 1; i < 100; i++)
		assert_int_equal(ids[i], ids[0]);
	ib = meta_pool_intern(mp, &b); /* same host, other JA3: another value */
	assert_true(ib != ids[0] && ib != META_NONE);
	assert_string_equal(meta_pool_get(mp, ids[0])->ja3c, a.ja3c);
	assert_string_equal(meta_pool_get(mp, ib)->host, "www.youtube.com");
	meta_pool_get_stats(mp, &st);
	assert_int_equal(st.in_use, 2);
	for (i = 0; i < 99; i++)
		meta_pool_release(mp, ids[i]);
	assert_string_equal(meta_pool_get(mp, ids[0])->host, "www.youtube.com"); /* one left */
	meta_pool_release(mp, ids[99]);
	meta_pool_get_stats(mp, &st);
	assert_int_equal(st.in_use, 1);
	assert_string_equal(meta_pool_get(mp, ids[0])->host, ""); /* gone */
	meta_pool_release(mp, ib);
	meta_pool_release(mp, ib); /* a second release of a freed id is ignored */
	meta_pool_get_stats(mp, &st);
	assert_int_equal(st.in_use, 0);
	meta_pool_destroy(mp);
}

/* Empty metadata costs nothing; a full pool keeps nothing new and says so. */
static void
empty_and_full(void **state)
{
	struct meta_pool *mp = meta_pool_create(2);
	struct dpi_meta none = meta("", "", 0), m;
	struct meta_pool_stats st;
	uint32_t id1, id2;
	char host[32];

	(void)state;
	assert_int_equal(meta_pool_intern(mp, &none), META_NONE);
	assert_string_equal(meta_pool_get(mp, META_NONE)->host, "");
	m = meta("", "", 1ull << 7); /* risks alone are a value */
	id1 = meta_pool_intern(mp, &m);
	assert_true(id1 != META_NONE);
	assert_int_equal(meta_pool_get(mp, id1)->risk, 1ull << 7);
	m = meta("a.example", "", 0);
	id2 = meta_pool_intern(mp, &m);
	assert_true(id2 != META_NONE && id2 != id1);
	snprintf(host, sizeof(host), "b.example");
	m = meta(host, "", 0);
	assert_int_equal(meta_pool_intern(mp, &m), META_NONE);
	meta_pool_get_stats(mp, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.in_use, 2);
	/* A value already held is still shared when the pool is full. */
	m = meta("a.example", "", 0);
	assert_int_equal(meta_pool_intern(mp, &m), id2);
	/* Room again after a release. */
	meta_pool_release(mp, id1);
	m = meta(host, "", 0);
	assert_true(meta_pool_intern(mp, &m) != META_NONE);
	meta_pool_destroy(mp);
	assert_null(meta_pool_create(0));
	meta_pool_destroy(NULL);
}

/* Many values through a small pool: chains stay consistent as values come and go. */
static void
churn(void **state)
{
	enum { CAP = 64, N = 5000 };
	struct meta_pool *mp = meta_pool_create(CAP);
	uint32_t held[CAP] = {0};
	char names[CAP][32];
	uint32_t i;

	(void)state;
	for (i = 0; i < N; i++) {
		uint32_t k = (i * 2654435761u) % CAP;
		struct dpi_meta m;

		meta_pool_release(mp, held[k]);
		snprintf(names[k], sizeof(names[k]), "h%u.example", i);
		m = meta(names[k], "", 0);
		held[k] = meta_pool_intern(mp, &m);
		assert_true(held[k] != META_NONE);
	}
	for (i = 0; i < CAP; i++)
		if (held[i] != META_NONE)
			assert_string_equal(meta_pool_get(mp, held[i])->host, names[i]);
	meta_pool_destroy(mp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shared_by_reference),
		cmocka_unit_test(empty_and_full),
		cmocka_unit_test(churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
