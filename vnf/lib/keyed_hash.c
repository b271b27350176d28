/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "keyed_hash.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

/*
 * Until keyed_hash_init() runs, a fixed secret (fractional digits of pi): hashes work, but are
 * not secret. Every table-owning module calls keyed_hash_init() at creation.
 */
uint64_t keyed_hash_secret[KEYED_HASH_SECRET_WORDS] = {
	0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL,
	0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL, 0xc0ac29b7c97c50ddULL, 0x3f84d5b5b5470917ULL,
};

static int secret_state; /* 0: default, 1: being drawn, 2: drawn or set */

int
keyed_hash_init(void)
{
	uint64_t fresh[KEYED_HASH_SECRET_WORDS];
	size_t got = 0;
	int expected = 0;

	if (!__atomic_compare_exchange_n(&secret_state, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		/* Someone else draws it (or did): wait for the store, it takes microseconds. */
		while (__atomic_load_n(&secret_state, __ATOMIC_ACQUIRE) != 2)
			;
		return 0;
	}
	while (got < sizeof(fresh)) {
		ssize_t n = getrandom((uint8_t *)fresh + got, sizeof(fresh) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			__atomic_store_n(&secret_state, 0, __ATOMIC_RELEASE);
			return -err;
		}
		got += (size_t)n;
	}
	memcpy(keyed_hash_secret, fresh, sizeof(fresh));
	__atomic_store_n(&secret_state, 2, __ATOMIC_RELEASE);
	return 0;
}

void
keyed_hash_set_secret(const uint64_t secret[KEYED_HASH_SECRET_WORDS])
{
	memcpy(keyed_hash_secret, secret, sizeof(keyed_hash_secret));
	__atomic_store_n(&secret_state, 2, __ATOMIC_RELEASE);
}

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012), from the paper's description ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static inline uint64_t
load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t
keyed_hash_siphash24(const uint64_t k[2], const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + (len & ~(size_t)7);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i;

	for (; p < end; p += 8) {
		m = load_le64(p);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
keyed_hash_bytes(const void *data, size_t len)
{
	return keyed_hash_siphash24(&keyed_hash_secret[6], data, len);
}
