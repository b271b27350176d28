/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "meta_pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_hash.h"

#define MP_NIL 0 /* ids start at 1; 0 ends chains and means "none" */

struct meta_slot {
	struct dpi_meta m;
	uint32_t refs; /* 0: free */
	uint32_t next; /* hash chain, or the free list */
	uint32_t hash;
};

struct meta_pool {
	struct meta_slot *slots; /* slots[0] unused: id 0 is META_NONE */
	uint32_t *buckets; /* chain heads, by hash */
	uint32_t bucket_mask;
	uint32_t capacity;
	uint32_t in_use;
	uint32_t free_head;
	uint64_t full;
};

static const struct dpi_meta empty_meta;

struct meta_pool *
meta_pool_create(uint32_t capacity)
{
	struct meta_pool *mp;
	uint32_t nb = 1, i;

	if (capacity == 0 || capacity >= UINT32_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < capacity)
		nb <<= 1;
	if (keyed_hash_init() != 0)
		return NULL;
	mp = calloc(1, sizeof(*mp));
	if (mp == NULL)
		return NULL;
	mp->slots = calloc((size_t)capacity + 1, sizeof(*mp->slots));
	mp->buckets = calloc(nb, sizeof(*mp->buckets));
	if (mp->slots == NULL || mp->buckets == NULL) {
		meta_pool_destroy(mp);
		errno = ENOMEM;
		return NULL;
	}
	mp->bucket_mask = nb - 1;
	mp->capacity = capacity;
	for (i = 1; i <= capacity; i++)
		mp->slots[i].next = i < capacity ? i + 1 : MP_NIL;
	mp->free_head = 1;
	return mp;
}

void
meta_pool_destroy(struct meta_pool *mp)
{
	if (mp == NULL)
		return;
	free(mp->slots);
	free(mp->buckets);
	free(mp);
}

static bool
meta_empty(const struct dpi_meta *m)
{
	return m->host[0] == '\0' && m->ja3c[0] == '\0' && m->risk == 0;
}

/*
 * Host names come from packets: a keyed hash (SipHash), so nobody can send names that all
 * land in one chain. Host, a separator nDPI never puts in a host, JA3, the risk bits.
 */
static uint32_t
meta_hash(const struct dpi_meta *m)
{
	uint8_t buf[sizeof(m->host) + 1 + sizeof(m->ja3c) + sizeof(m->risk)];
	size_t hl = strnlen(m->host, sizeof(m->host)), jl = strnlen(m->ja3c, sizeof(m->ja3c));

	memcpy(buf, m->host, hl);
	buf[hl] = 0;
	memcpy(buf + hl + 1, m->ja3c, jl);
	memcpy(buf + hl + 1 + jl, &m->risk, sizeof(m->risk));
	return (uint32_t)keyed_hash_bytes(buf, hl + 1 + jl + sizeof(m->risk));
}

static bool
meta_equal(const struct dpi_meta *a, const struct dpi_meta *b)
{
	return a->risk == b->risk && strcmp(a->host, b->host) == 0 && strcmp(a->ja3c, b->ja3c) == 0;
}

uint32_t
meta_pool_intern(struct meta_pool *mp, const struct dpi_meta *m)
{
	uint32_t h, id;
	struct meta_slot *s;

	if (meta_empty(m))
		return META_NONE;
	h = meta_hash(m);
	for (id = mp->buckets[h & mp->bucket_mask]; id != MP_NIL; id = mp->slots[id].next) {
		s = &mp->slots[id];
		if (s->hash == h && meta_equal(&s->m, m)) {
			s->refs++;
			return id;
		}
	}
	if (mp->free_head == MP_NIL) {
		mp->full++;
		return META_NONE;
	}
	id = mp->free_head;
	s = &mp->slots[id];
	mp->free_head = s->next;
	/* Copy the strings bounded and terminated whatever the caller's buffers held. */
	memset(&s->m, 0, sizeof(s->m));
	memcpy(s->m.host, m->host, strnlen(m->host, sizeof(s->m.host) - 1));
	memcpy(s->m.ja3c, m->ja3c, strnlen(m->ja3c, sizeof(s->m.ja3c) - 1));
	s->m.risk = m->risk;
	s->refs = 1;
	s->hash = h;
	s->next = mp->buckets[h & mp->bucket_mask];
	mp->buckets[h & mp->bucket_mask] = id;
	mp->in_use++;
	return id;
}

void
meta_pool_release(struct meta_pool *mp, uint32_t id)
{
	struct meta_slot *s;
	uint32_t *link;

	if (id == META_NONE || id > mp->capacity || mp->slots[id].refs == 0)
		return;
	s = &mp->slots[id];
	if (--s->refs > 0)
		return;
	for (link = &mp->buckets[s->hash & mp->bucket_mask]; *link != id;
	     link = &mp->slots[*link].next)
		;
	*link = s->next;
	s->next = mp->free_head;
	mp->free_head = id;
	mp->in_use--;
}

const struct dpi_meta *
meta_pool_get(const struct meta_pool *mp, uint32_t id)
{
	if (id == META_NONE || id > mp->capacity || mp->slots[id].refs == 0)
		return &empty_meta;
	return &mp->slots[id].m;
}

void
meta_pool_get_stats(const struct meta_pool *mp, struct meta_pool_stats *st)
{
	st->in_use = mp->in_use;
	st->capacity = mp->capacity;
	st->full = mp->full;
}

size_t
meta_pool_bytes(const struct meta_pool *mp)
{
	return ((size_t)mp->capacity + 1) * sizeof(struct meta_slot) +
	       ((size_t)mp->bucket_mask + 1) * sizeof(uint32_t);
}
