/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "flow_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define FT_CACHE_LINE 64
#define FT_NIL UINT32_MAX
#define FT_MAX_CAPACITY (1u << 28)

struct lru_list {
	uint32_t head; /* least recently used */
	uint32_t tail; /* most recently used */
};

struct flow_table {
	struct flow_entry *entries; /* capacity entries */
	uint32_t *slots; /* open-addressing index: entry index + 1, 0 = empty */
	uint32_t slot_mask;
	uint32_t capacity;
	uint32_t active;
	uint32_t free_head; /* free entries chained through lru_next */
	uint32_t next_flow_id;
	struct lru_list lru[FLOW_TC_COUNT];
	uint32_t timeout_ms[FLOW_TC_COUNT];
	flow_end_cb on_end;
	void *cb_ctx;
	uint64_t created;
	uint64_t ended[FLOW_END_REASON_COUNT];
};

static void *
zalloc_aligned(size_t size)
{
	void *p;

	size = (size + FT_CACHE_LINE - 1) & ~(size_t)(FT_CACHE_LINE - 1);
	p = aligned_alloc(FT_CACHE_LINE, size);
	if (p != NULL)
		memset(p, 0, size);
	return p;
}

struct flow_table *
flow_table_create(const struct flow_table_params *params)
{
	struct flow_table *ft;
	uint32_t nslots = 2, i;

	if (params == NULL || params->capacity == 0 || params->capacity > FT_MAX_CAPACITY) {
		errno = EINVAL;
		return NULL;
	}
	/* At most half full: linear probing stays short. */
	while (nslots < params->capacity * 2u)
		nslots <<= 1;

	ft = calloc(1, sizeof(*ft));
	if (ft == NULL)
		return NULL;
	ft->entries = zalloc_aligned((size_t)params->capacity * sizeof(struct flow_entry));
	ft->slots = zalloc_aligned((size_t)nslots * sizeof(uint32_t));
	if (ft->entries == NULL || ft->slots == NULL) {
		flow_table_destroy(ft);
		errno = ENOMEM;
		return NULL;
	}
	ft->slot_mask = nslots - 1;
	ft->capacity = params->capacity;
	memcpy(ft->timeout_ms, params->timeout_ms, sizeof(ft->timeout_ms));
	ft->on_end = params->on_end;
	ft->cb_ctx = params->cb_ctx;
	for (i = 0; i < params->capacity; i++)
		ft->entries[i].lru_next = i + 1 < params->capacity ? i + 1 : FT_NIL;
	ft->free_head = 0;
	for (i = 0; i < FLOW_TC_COUNT; i++)
		ft->lru[i].head = ft->lru[i].tail = FT_NIL;
	return ft;
}

void
flow_table_destroy(struct flow_table *ft)
{
	if (ft == NULL)
		return;
	free(ft->entries);
	free(ft->slots);
	free(ft);
}

bool
flow_key_from_packet(const struct parse_info *pi, struct flow_key *key)
{
	size_t alen = pi->ip_version == 4 ? 4 : 16;
	int cmp = memcmp(pi->src, pi->dst, alen);
	bool src_is_hi = cmp > 0 || (cmp == 0 && pi->sport > pi->dport);

	memset(key, 0, sizeof(*key));
	if (src_is_hi) {
		memcpy(key->lo_addr, pi->dst, alen);
		memcpy(key->hi_addr, pi->src, alen);
		key->lo_port = pi->dport;
		key->hi_port = pi->sport;
	} else {
		memcpy(key->lo_addr, pi->src, alen);
		memcpy(key->hi_addr, pi->dst, alen);
		key->lo_port = pi->sport;
		key->hi_port = pi->dport;
	}
	key->vlan = pi->vlan;
	key->l4_proto = pi->l4_proto;
	key->ip_version = pi->ip_version;
	return src_is_hi;
}

static inline uint64_t
mix64(uint64_t h)
{
	/* splitmix64 finaliser: full avalanche, so the low bits index well. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

uint32_t
flow_key_hash(const struct flow_key *key)
{
	uint64_t w[sizeof(struct flow_key) / 8];
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	size_t i;

	_Static_assert(sizeof(struct flow_key) % 8 == 0, "flow_key is hashed as 64-bit words");
	memcpy(w, key, sizeof(w));
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		h = mix64(h ^ w[i]);
	return (uint32_t)(h ^ (h >> 32));
}

static inline bool
key_equal(const struct flow_key *a, const struct flow_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

struct flow_entry *
flow_table_lookup(struct flow_table *ft, const struct flow_key *key, uint32_t hash)
{
	uint32_t i = hash & ft->slot_mask;

	for (;;) {
		uint32_t s = ft->slots[i];
		struct flow_entry *e;

		if (s == 0)
			return NULL;
		e = &ft->entries[s - 1];
		if (e->hash == hash && key_equal(&e->key, key))
			return e;
		i = (i + 1) & ft->slot_mask;
	}
}

uint32_t
flow_table_index(const struct flow_table *ft, const struct flow_entry *e)
{
	return (uint32_t)(e - ft->entries);
}

struct flow_entry *
flow_table_entry_at(struct flow_table *ft, uint32_t idx)
{
	if (idx >= ft->capacity || ft->entries[idx].key.ip_version == 0)
		return NULL;
	return &ft->entries[idx];
}

uint32_t
flow_table_capacity(const struct flow_table *ft)
{
	return ft->capacity;
}

static void
lru_unlink(struct flow_table *ft, struct flow_entry *e)
{
	struct lru_list *l = &ft->lru[e->tclass];

	if (e->lru_prev != FT_NIL)
		ft->entries[e->lru_prev].lru_next = e->lru_next;
	else
		l->head = e->lru_next;
	if (e->lru_next != FT_NIL)
		ft->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		l->tail = e->lru_prev;
}

static void
lru_append(struct flow_table *ft, struct flow_entry *e, enum flow_timeout_class tc)
{
	struct lru_list *l = &ft->lru[tc];
	uint32_t idx = flow_table_index(ft, e);

	e->tclass = (uint8_t)tc;
	e->lru_next = FT_NIL;
	e->lru_prev = l->tail;
	if (l->tail != FT_NIL)
		ft->entries[l->tail].lru_next = idx;
	else
		l->head = idx;
	l->tail = idx;
}

/* Remove entry index `idx` from the index, with backward-shift deletion (no tombstones). */
static void
index_remove(struct flow_table *ft, uint32_t idx)
{
	uint32_t i = ft->entries[idx].hash & ft->slot_mask, j;

	while (ft->slots[i] != idx + 1)
		i = (i + 1) & ft->slot_mask;
	j = i;
	for (;;) {
		uint32_t home;

		j = (j + 1) & ft->slot_mask;
		if (ft->slots[j] == 0)
			break;
		home = ft->entries[ft->slots[j] - 1].hash & ft->slot_mask;
		/* Move slot j back to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			ft->slots[i] = ft->slots[j];
			i = j;
		}
	}
	ft->slots[i] = 0;
}

void
flow_table_end(struct flow_table *ft, struct flow_entry *e, enum flow_end_reason reason)
{
	uint32_t idx = flow_table_index(ft, e);

	if (ft->on_end != NULL)
		ft->on_end(ft->cb_ctx, e, reason);
	ft->ended[reason]++;
	lru_unlink(ft, e);
	index_remove(ft, idx);
	e->key.ip_version = 0; /* marks the entry free for flow_table_entry_at() */
	e->lru_next = ft->free_head;
	ft->free_head = idx;
	ft->active--;
}

/* The least recently used flow over all classes: the oldest of the list heads. */
static struct flow_entry *
lru_oldest(struct flow_table *ft)
{
	struct flow_entry *oldest = NULL;
	int tc;

	for (tc = 0; tc < FLOW_TC_COUNT; tc++) {
		struct flow_entry *e;

		if (ft->lru[tc].head == FT_NIL)
			continue;
		e = &ft->entries[ft->lru[tc].head];
		if (oldest == NULL || e->last_ms < oldest->last_ms)
			oldest = e;
	}
	return oldest;
}

struct flow_entry *
flow_table_insert(struct flow_table *ft, const struct flow_key *key, uint32_t hash,
		  uint64_t now_ms, enum flow_timeout_class tc)
{
	struct flow_entry *e;
	uint32_t idx, i;

	if (ft->free_head == FT_NIL)
		flow_table_end(ft, lru_oldest(ft), FLOW_END_EVICTED);
	idx = ft->free_head;
	e = &ft->entries[idx];
	ft->free_head = e->lru_next;

	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->hash = hash;
	e->first_ms = e->last_ms = now_ms;
	e->dpi_slot = FLOW_NO_SLOT;
	e->flow_id = ++ft->next_flow_id;
	lru_append(ft, e, tc);

	i = hash & ft->slot_mask;
	while (ft->slots[i] != 0)
		i = (i + 1) & ft->slot_mask;
	ft->slots[i] = idx + 1;
	ft->active++;
	ft->created++;
	return e;
}

void
flow_table_touch(struct flow_table *ft, struct flow_entry *e, uint64_t now_ms,
		 enum flow_timeout_class tc)
{
	/* Packet times may step back (merged captures, reordering): never move last_ms back. */
	if (now_ms > e->last_ms)
		e->last_ms = now_ms;
	if (ft->lru[tc].tail == flow_table_index(ft, e) && e->tclass == tc)
		return;
	lru_unlink(ft, e);
	lru_append(ft, e, tc);
}

uint32_t
flow_table_expire(struct flow_table *ft, uint64_t now_ms, uint32_t budget)
{
	uint32_t n = 0;
	int tc;

	for (tc = 0; tc < FLOW_TC_COUNT; tc++) {
		while (n < budget && ft->lru[tc].head != FT_NIL) {
			struct flow_entry *e = &ft->entries[ft->lru[tc].head];

			if (e->last_ms + ft->timeout_ms[tc] > now_ms)
				break;
			flow_table_end(ft, e, tc == FLOW_TC_TCP_CLOSED ? FLOW_END_CLOSED : FLOW_END_IDLE);
			n++;
		}
	}
	return n;
}

void
flow_table_flush(struct flow_table *ft)
{
	int tc;

	for (tc = 0; tc < FLOW_TC_COUNT; tc++)
		while (ft->lru[tc].head != FT_NIL)
			flow_table_end(ft, &ft->entries[ft->lru[tc].head], FLOW_END_FLUSH);
}

void
flow_table_get_stats(const struct flow_table *ft, struct flow_table_stats *stats)
{
	stats->created = ft->created;
	memcpy(stats->ended, ft->ended, sizeof(stats->ended));
	stats->active = ft->active;
	stats->capacity = ft->capacity;
}

size_t
flow_table_bytes_per_flow(const struct flow_table *ft)
{
	return sizeof(struct flow_entry) + (size_t)(ft->slot_mask + 1) * sizeof(uint32_t) / ft->capacity;
}
