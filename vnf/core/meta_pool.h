/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Interned flow metadata: what nDPI learnt about a flow (host, JA3, risks), stored once per
 * distinct value and shared by reference count. Flows of one service share one host name and
 * fingerprint, so a million flows to a handful of services cost a handful of entries, and a
 * flow entry holds a 4-byte id instead of 128 bytes of text.
 *
 * Bounded: the capacity is fixed at creation. When it is full, a new distinct value is not
 * kept (the flow gets META_NONE and `full` counts it); the flow's own decision is unaffected
 * (it is taken from nDPI's state), only its record and later re-decisions lack the metadata.
 *
 * Pure code, no EAL; one pool per worker, used by that worker's thread only.
 */
#ifndef FLOWTAG_META_POOL_H
#define FLOWTAG_META_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "dpi.h"

#define META_NONE 0 /* no metadata (all empty), or not kept */

struct meta_pool_stats {
	uint32_t in_use; /* distinct values held */
	uint32_t capacity;
	uint64_t full; /* values not kept because the pool was full */
};

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct meta_pool *meta_pool_create(uint32_t capacity);
void meta_pool_destroy(struct meta_pool *mp);

/* A reference to `m`'s value (META_NONE when m is empty or the pool is full). */
uint32_t meta_pool_intern(struct meta_pool *mp, const struct dpi_meta *m);
/* Drop one reference; the value goes when its last reference does. META_NONE is ignored. */
void meta_pool_release(struct meta_pool *mp, uint32_t id);
/* The value of `id`; META_NONE gives an all-empty value. */
const struct dpi_meta *meta_pool_get(const struct meta_pool *mp, uint32_t id);

void meta_pool_get_stats(const struct meta_pool *mp, struct meta_pool_stats *st);
/* Bytes of the pool in all. */
size_t meta_pool_bytes(const struct meta_pool *mp);

#endif
