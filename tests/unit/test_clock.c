/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* Cycle counts to time across the whole 64-bit range, against 128-bit arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"

static const uint64_t rates[] = {1000000000ULL, 2100000000ULL, 2893202000ULL, 3999999999ULL,
				 25000000ULL /* a slow HPET-like clock */};

static uint64_t
ref_us(uint64_t cycles, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)cycles * 1000000u / hz);
}

/* Around the count where `cycles * 10^6` leaves 64 bits, and near the top of the range. */
static void
exact_across_the_old_wrap(void **state)
{
	const uint64_t wrap = UINT64_MAX / 1000000u; /* 1.8e13: ~2 h 26 min at 2.1 GHz */
	size_t r;
	int64_t d;

	(void)state;
	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		uint64_t hz = rates[r], prev = 0;

		for (d = -100000; d <= 100000; d += 997) {
			uint64_t c = wrap + (uint64_t)d, us = clock_cycles_to_us(c, hz);

			assert_int_equal(us, ref_us(c, hz));
			assert_true(us >= prev); /* never steps back as the count grows */
			prev = us;
		}
		/* What the old formula gave just past the wrap: a jump back by ~2 h of time. */
		assert_true((wrap + 1000) * 1000000u / hz < ref_us(wrap + 1000, hz) / 2);
		for (d = 0; d < 1000; d++) {
			uint64_t c = UINT64_MAX - (uint64_t)d * 7919u;

			assert_int_equal(clock_cycles_to_us(c, hz), ref_us(c, hz));
			assert_int_equal(clock_cycles_to_ms(c, hz),
					 (uint64_t)((unsigned __int128)c * 1000u / hz));
		}
	}
}

/* Months of uptime, step by step: time moves forward by what the cycles say, never wraps. */
static void
months_of_uptime(void **state)
{
	const uint64_t hz = 2100000000ULL, step = hz * 3600; /* an hour a step */
	uint64_t c = 0, prev = 0;
	int h;

	(void)state;
	for (h = 1; h <= 24 * 365; h++) {
		uint64_t us;

		c += step;
		us = clock_cycles_to_us(c, hz);
		assert_int_equal(us - prev, 3600ULL * 1000000u);
		prev = us;
	}
}

static void
inverse_and_rates(void **state)
{
	size_t r;

	(void)state;
	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		uint64_t hz = rates[r], us;

		for (us = 1; us < (1ULL << 50); us = us * 3 + 1)
			assert_int_equal(clock_us_to_cycles(us, hz),
					 (uint64_t)((unsigned __int128)us * hz / 1000000u));
		assert_int_equal(clock_us_to_cycles(UINT64_MAX, hz), UINT64_MAX); /* saturates */
		/* Token buckets: events allowed after `elapsed` cycles at `rate` per second. */
		for (uint64_t elapsed = 1; elapsed < UINT64_MAX / 4; elapsed = elapsed * 5 + 3) {
			uint64_t rate = 20000, want = (uint64_t)((unsigned __int128)elapsed * rate / hz);

			assert_int_equal(clock_events_in(elapsed, hz, rate), want);
		}
	}
	assert_int_equal(clock_events_in(UINT64_MAX, 1000, UINT64_MAX), UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exact_across_the_old_wrap),
		cmocka_unit_test(months_of_uptime),
		cmocka_unit_test(inverse_and_rates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
