/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Keyed hashes for tables that hold attacker-chosen keys (flows, host names).
 *
 * An unkeyed hash lets whoever sends the packets choose keys that collide: CRC32C, which the
 * flow table used, is linear over GF(2), so 60,000 crafted 5-tuples shared one value and the
 * table went quadratic (35.8 s instead of 1.1 s). A secret seed or a final mix does not help
 * a linear hash (two inputs that collide under CRC collide under any seed), so both hashes
 * here are keyed from the first step:
 *
 *   keyed_hash_key48()  a flow key (6 words; keyed_hash_key40() a 5-word key, e.g. a
 *                       fragmented datagram's): NH (UMAC's universal hash, RFC 4418 §5) with
 *                       64-bit words and 128-bit products, then a mix; for two different keys
 *                       the chance of a full collision is 2^-64 over the secret, and it costs
 *                       three multiplies, so it stays on the per-packet path.
 *   keyed_hash_bytes()  a string (metadata interning, off the per-packet path): SipHash-2-4.
 *
 * The secret comes from getrandom() once per process (keyed_hash_init(), called at start by
 * whoever creates a table); tests may fix it. Pure code; any thread once initialised.
 */
#ifndef FLOWTAG_KEYED_HASH_H
#define FLOWTAG_KEYED_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KEYED_HASH_SECRET_WORDS 8

/* Draw the process's secret from the kernel, once (later calls do nothing). 0 or -errno. */
int keyed_hash_init(void);
/* Use this secret instead (tests, reproducible benchmarks). Call before any table exists. */
void keyed_hash_set_secret(const uint64_t secret[KEYED_HASH_SECRET_WORDS]);

extern uint64_t keyed_hash_secret[KEYED_HASH_SECRET_WORDS];

/*
 * A 48-byte key as six native words under key k[0..5]: 32 bits, all usable as an index.
 * With a last word of 0 it is the 40-byte hash below (the flow key's tunnel word is 0 for
 * most flows), at the same cost.
 */
static inline uint32_t
keyed_hash_key48_with(const uint64_t w[6], const uint64_t k[6])
{
	unsigned __int128 acc;
	uint64_t x;

	/* NH: the sum of (m0 + k0)(m1 + k1) over word pairs. */
	acc = (unsigned __int128)(w[0] + k[0]) * (w[1] + k[1]);
	acc += (unsigned __int128)(w[2] + k[2]) * (w[3] + k[3]);
	acc += (unsigned __int128)(w[4] + k[4]) * (w[5] + k[5]);
	/*
	 * Fold, then multiply-shift: the high half of x * C depends on every bit of x, and the
	 * table uses both ends of the result (low bits for the slot, top bits as its tag).
	 */
	x = (uint64_t)(acc >> 64) ^ (uint64_t)acc;
	return (uint32_t)((x * 0xd6e8feb86659fd93ULL) >> 32);
}

/* A 40-byte key as five words: the odd last word pairs with a key word alone. */
static inline uint32_t
keyed_hash_key40_with(const uint64_t w[5], const uint64_t k[6])
{
	const uint64_t six[6] = {w[0], w[1], w[2], w[3], w[4], 0};

	return keyed_hash_key48_with(six, k);
}

/* The same under the process's secret. */
static inline uint32_t
keyed_hash_key40(const uint64_t w[5])
{
	return keyed_hash_key40_with(w, keyed_hash_secret);
}

static inline uint32_t
keyed_hash_key48(const uint64_t w[6])
{
	return keyed_hash_key48_with(w, keyed_hash_secret);
}

/* SipHash-2-4 of `len` bytes under the process's secret. */
uint64_t keyed_hash_bytes(const void *data, size_t len);

/* SipHash-2-4 with an explicit 128-bit key (k[0], k[1]): the reference test vectors. */
uint64_t keyed_hash_siphash24(const uint64_t k[2], const void *data, size_t len);

#endif
