/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Cycle counts to time, for clocks that run for months.
 *
 * `cycles * 1000000 / hz` overflows 64 bits once the count passes 2^64 / 10^6 (1.8e13 cycles:
 * about 2 h 26 min of a 2.1 GHz TSC, counted from the host's boot), after which timestamps
 * jump and idle expiry stops. These helpers split the count into whole seconds and the
 * remainder first, so the product stays below hz * 10^6 (< 2^64 for any clock under
 * 18 THz), and callers convert differences from a start point rather than raw counts.
 * Pure, header-only, any thread.
 */
#ifndef FLOWTAG_CLOCK_H
#define FLOWTAG_CLOCK_H

#include <stdint.h>

/* `cycles` of a `hz` clock in microseconds, exact to the microsecond, never overflowing. */
static inline uint64_t
clock_cycles_to_us(uint64_t cycles, uint64_t hz)
{
	return cycles / hz * 1000000u + cycles % hz * 1000000u / hz;
}

/* The same in milliseconds. */
static inline uint64_t
clock_cycles_to_ms(uint64_t cycles, uint64_t hz)
{
	return cycles / hz * 1000u + cycles % hz * 1000u / hz;
}

/* `us` microseconds in cycles of a `hz` clock (the inverse; saturates instead of wrapping). */
static inline uint64_t
clock_us_to_cycles(uint64_t us, uint64_t hz)
{
	uint64_t whole = us / 1000000u, part = us % 1000000u;

	if (whole != 0 && hz > UINT64_MAX / whole)
		return UINT64_MAX;
	return whole * hz + part * hz / 1000000u;
}

/*
 * Events allowed by a rate of `per_s` per second after `elapsed` cycles of a `hz` clock
 * (token buckets: replay pacing, rate limits). Saturates at UINT64_MAX.
 */
static inline uint64_t
clock_events_in(uint64_t elapsed, uint64_t hz, uint64_t per_s)
{
	uint64_t whole = elapsed / hz, part = elapsed % hz;

	if (per_s != 0 && whole > UINT64_MAX / per_s)
		return UINT64_MAX;
	/* part < hz, so part * per_s overflows only for rates beyond 2^64 / hz (~5e9 per s). */
	return whole * per_s + (per_s < UINT64_MAX / hz ? part * per_s / hz : part / hz * per_s);
}

#endif
