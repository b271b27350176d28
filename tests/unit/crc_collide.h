/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Flow keys that all share one value of the flow hash flowtag used before it was keyed
 * (CRC32C of the key's five words from 0xffffffff, as SSE4.2's crc32 instruction computes
 * it): CRC is linear over GF(2), so the keys form a coset of the kernel of the CRC over the
 * bits an attacker controls (the client address, its port, the server's last two bytes).
 * Unit tests feed them to the keyed table; tests/hostile/ builds the same set as packets.
 */
#ifndef FLOWTAG_TEST_CRC_COLLIDE_H
#define FLOWTAG_TEST_CRC_COLLIDE_H

#include <stdint.h>
#include <string.h>

#include "flow_table.h"

static uint32_t
crc32c_sw(uint32_t c, const uint8_t *p, size_t n)
{
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return c;
}

/* The old, unkeyed hash: CRC32C, then a multiply to spread the bits. */
static inline uint32_t
old_flow_hash(const struct flow_key *k)
{
	uint64_t h = crc32c_sw(0xffffffffu, (const uint8_t *)k, sizeof(*k));

	return (uint32_t)((h * 0x9e3779b97f4a7c15ULL) >> 32);
}

/* Bit positions (byte * 8 + bit) of the key an attacker sets: lo_addr[1..3], lo_port, hi_addr[2..3]. */
static int
attacker_bits(int *pos)
{
	int n = 0, b, i;
	const int bytes[] = {1, 2, 3, 32, 33, 18, 19};

	for (i = 0; i < 7; i++)
		for (b = 0; b < 8; b++)
			pos[n++] = bytes[i] * 8 + b;
	return n;
}

/*
 * Fill keys[0..n) with distinct UDP keys 10.x.x.x:port <-> 192.168.x.x:53 that all have the
 * same old hash. Returns how many it made (n, unless the kernel is smaller).
 */
static inline uint32_t
crc_colliding_keys(struct flow_key *keys, uint32_t n)
{
	struct flow_key base;
	int pos[64], nbits = attacker_bits(pos), i, j, r = 0, pivot_col[32];
	uint32_t col[64], basis_n = 0, made = 0;
	uint8_t basis[64][sizeof(struct flow_key)];
	int is_pivot[64] = {0};

	memset(&base, 0, sizeof(base));
	base.lo_addr[0] = 10;
	base.hi_addr[0] = 192;
	base.hi_addr[1] = 168;
	base.hi_port = 53;
	base.l4_proto = 17;
	base.ip_version = 4;
	/* Column i: the CRC (from 0, same length) of the key with only attacker bit i set. */
	for (i = 0; i < nbits; i++) {
		uint8_t e[sizeof(struct flow_key)] = {0};

		e[pos[i] / 8] = (uint8_t)(1u << (pos[i] % 8));
		col[i] = crc32c_sw(0, e, sizeof(e));
	}
	/* Row-reduce the 32 x nbits matrix (rows: CRC bits) over GF(2). */
	uint64_t rows[32];
	for (j = 0; j < 32; j++) {
		rows[j] = 0;
		for (i = 0; i < nbits; i++)
			rows[j] |= (uint64_t)((col[i] >> j) & 1) << i;
	}
	for (i = 0; i < nbits && r < 32; i++) {
		int p = -1;

		for (j = r; j < 32; j++)
			if (rows[j] >> i & 1) {
				p = j;
				break;
			}
		if (p < 0)
			continue;
		uint64_t t = rows[p];
		rows[p] = rows[r];
		rows[r] = t;
		for (j = 0; j < 32; j++)
			if (j != r && (rows[j] >> i & 1))
				rows[j] ^= rows[r];
		pivot_col[r] = i;
		is_pivot[i] = 1;
		r++;
	}
	/* A kernel basis vector per free column: the free bit, plus the pivots it forces. */
	for (i = 0; i < nbits; i++) {
		uint64_t v;

		if (is_pivot[i])
			continue;
		v = 1ULL << i;
		for (j = 0; j < r; j++)
			if (rows[j] >> i & 1)
				v |= 1ULL << pivot_col[j];
		memset(basis[basis_n], 0, sizeof(basis[0]));
		for (j = 0; j < nbits; j++)
			if (v >> j & 1)
				basis[basis_n][pos[j] / 8] ^= (uint8_t)(1u << (pos[j] % 8));
		basis_n++;
	}
	/* Keys: base XOR the basis vectors picked by the bits of a counter. */
	for (uint64_t c = 0; made < n && basis_n < 64 && c < (1ULL << basis_n); c++) {
		uint8_t k[sizeof(struct flow_key)];

		memcpy(k, &base, sizeof(k));
		for (j = 0; j < (int)basis_n; j++)
			if (c >> j & 1)
				for (i = 0; i < (int)sizeof(k); i++)
					k[i] ^= basis[j][i];
		memcpy(&keys[made++], k, sizeof(k));
	}
	return made;
}

#endif
