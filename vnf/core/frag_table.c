/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "frag_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_hash.h"
#include "parse.h"

#define FRAG_NONE UINT32_MAX /* no flow yet; the end of a held list */
#define FRAG_MAX_CAPACITY (1u << 24)
#define FRAG_MAX_HELD (1u << 20)
#define FRAG_MAX_ITEM 1024

_Static_assert(sizeof(struct frag_key) == 40, "five words for keyed_hash_key40");

struct frag_entry {
	struct frag_key key; /* key.ip_version 0: free */
	uint64_t last_ms; /* its last fragment */
	uint32_t flow_index; /* FRAG_NONE until the first fragment names the flow */
	uint32_t flow_id;
	uint32_t held_head, held_tail; /* waiting items, oldest first (pool indices) */
	uint32_t seen; /* data bytes of the fragments seen (duplicates too) */
	uint32_t total; /* the datagram's data length, once its last fragment came; 0 before */
	bool from_hi;
};

struct frag_table {
	struct frag_entry *entries; /* n_buckets * FRAG_WAYS */
	uint32_t bucket_mask;
	uint32_t cursor; /* the expiry sweep's next bucket */
	uint64_t sweep_ms; /* the time the sweep has covered up to */
	uint32_t datagrams, held;
	uint8_t *items; /* the hold pool: held_max items of item_size bytes */
	uint32_t *next; /* per pool item: the next in its list (held or free) */
	uint32_t free_head;
	struct frag_table_params p;
};

struct frag_table *
frag_table_create(const struct frag_table_params *params)
{
	struct frag_table *ft;
	uint32_t buckets = 1, i;

	if (params == NULL || params->capacity == 0 || params->capacity > FRAG_MAX_CAPACITY ||
	    params->held_max > FRAG_MAX_HELD || params->item_size == 0 ||
	    params->item_size > FRAG_MAX_ITEM || params->timeout_ms == 0 || params->release == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (keyed_hash_init() != 0)
		return NULL;
	while ((uint64_t)buckets * FRAG_WAYS < params->capacity)
		buckets <<= 1;
	ft = calloc(1, sizeof(*ft));
	if (ft == NULL)
		return NULL;
	ft->p = *params;
	ft->bucket_mask = buckets - 1;
	ft->entries = calloc((size_t)buckets * FRAG_WAYS, sizeof(*ft->entries));
	ft->items = params->held_max != 0 ? malloc((size_t)params->held_max * params->item_size) : NULL;
	ft->next = params->held_max != 0 ? malloc((size_t)params->held_max * sizeof(uint32_t)) : NULL;
	if (ft->entries == NULL || (params->held_max != 0 && (ft->items == NULL || ft->next == NULL))) {
		frag_table_destroy(ft);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < params->held_max; i++)
		ft->next[i] = i + 1 < params->held_max ? i + 1 : FRAG_NONE;
	ft->free_head = params->held_max != 0 ? 0 : FRAG_NONE;
	return ft;
}

void
frag_table_destroy(struct frag_table *ft)
{
	if (ft == NULL)
		return;
	free(ft->entries);
	free(ft->items);
	free(ft->next);
	free(ft);
}

void
frag_key_from_packet(const struct parse_info *pi, struct frag_key *key)
{
	memset(key, 0, sizeof(*key));
	memcpy(key->src, pi->src, sizeof(key->src));
	memcpy(key->dst, pi->dst, sizeof(key->dst));
	key->id = pi->frag_id;
	key->vlan = pi->vlan;
	/* IPv6's later fragments name the header after the fragment header, which need not be
	 * the first fragment's transport (RFC 8200 §4.5 reassembles on addresses and id). */
	key->proto = pi->ip_version == 4 ? pi->l4_proto : 0;
	key->ip_version = pi->ip_version;
}

static struct frag_entry *
bucket_of(const struct frag_table *ft, const struct frag_key *key)
{
	uint64_t w[5];

	memcpy(w, key, sizeof(w));
	return &ft->entries[(size_t)(keyed_hash_key40(w) & ft->bucket_mask) * FRAG_WAYS];
}

static struct frag_entry *
find(const struct frag_table *ft, const struct frag_key *key)
{
	struct frag_entry *b = bucket_of(ft, key);
	int i;

	for (i = 0; i < FRAG_WAYS; i++)
		if (b[i].key.ip_version != 0 && memcmp(&b[i].key, key, sizeof(*key)) == 0)
			return &b[i];
	return NULL;
}

static bool
expired(const struct frag_table *ft, const struct frag_entry *e, uint64_t now_ms)
{
	return now_ms > e->last_ms && now_ms - e->last_ms > ft->p.timeout_ms;
}

/* Hand the entry's held items to `release` (attributed to flow, or not) and free them. */
static uint32_t
release_held(struct frag_table *ft, struct frag_entry *e, const struct frag_flow *flow)
{
	uint32_t n = 0;

	while (e->held_head != FRAG_NONE) {
		uint32_t i = e->held_head;

		e->held_head = ft->next[i];
		ft->next[i] = ft->free_head;
		ft->free_head = i;
		ft->held--;
		n++;
		ft->p.release(ft->p.ctx, ft->items + (size_t)i * ft->p.item_size, flow);
	}
	e->held_tail = FRAG_NONE;
	return n;
}

static uint32_t
forget(struct frag_table *ft, struct frag_entry *e)
{
	uint32_t n = release_held(ft, e, NULL);

	e->key.ip_version = 0;
	ft->datagrams--;
	return n;
}

/*
 * A free way of the key's bucket (or one whose datagram timed out), claimed for key. For a
 * first fragment (`first`), whose flow is known, a datagram still waiting for its own first
 * gives way too, the one idle longest: stray later fragments (a flood of them) must not keep
 * a real flow's datagrams from being followed.
 */
static struct frag_entry *
claim(struct frag_table *ft, const struct frag_key *key, uint64_t now_ms, bool first)
{
	struct frag_entry *b = bucket_of(ft, key), *e = NULL;
	int i;

	for (i = 0; i < FRAG_WAYS && e == NULL; i++)
		if (b[i].key.ip_version == 0)
			e = &b[i];
	for (i = 0; i < FRAG_WAYS && e == NULL; i++)
		if (expired(ft, &b[i], now_ms)) {
			forget(ft, &b[i]);
			e = &b[i];
		}
	for (i = 0; i < FRAG_WAYS && e == NULL && first; i++)
		if (b[i].flow_index == FRAG_NONE) {
			struct frag_entry *oldest = &b[i];
			int j;

			for (j = i + 1; j < FRAG_WAYS; j++)
				if (b[j].flow_index == FRAG_NONE && b[j].last_ms < oldest->last_ms)
					oldest = &b[j];
			forget(ft, oldest);
			e = oldest;
		}
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->flow_index = FRAG_NONE;
	e->held_head = e->held_tail = FRAG_NONE;
	e->last_ms = now_ms;
	ft->datagrams++;
	return e;
}

/* Count a fragment's bytes; true once the whole datagram has been seen. */
static bool
account(struct frag_entry *e, const struct parse_info *pi, uint64_t now_ms)
{
	if (now_ms > e->last_ms)
		e->last_ms = now_ms;
	/* Saturating: a stream of fragments can keep one datagram alive for months. */
	e->seen = e->seen > UINT32_MAX - pi->frag_data_len ? UINT32_MAX : e->seen + pi->frag_data_len;
	if (!pi->frag_more)
		e->total = (uint32_t)pi->frag_offset + pi->frag_data_len;
	return e->flow_index != FRAG_NONE && e->total != 0 && e->seen >= e->total;
}

bool
frag_table_first(struct frag_table *ft, const struct frag_key *key, const struct parse_info *pi,
		 uint64_t now_ms, const struct frag_flow *flow)
{
	struct frag_entry *e = find(ft, key);

	if (e == NULL && (e = claim(ft, key, now_ms, true)) == NULL)
		return false;
	e->flow_index = flow->index;
	e->flow_id = flow->flow_id;
	e->from_hi = flow->from_hi;
	release_held(ft, e, flow);
	if (account(e, pi, now_ms))
		forget(ft, e);
	return true;
}

enum frag_result
frag_table_later(struct frag_table *ft, const struct frag_key *key, const struct parse_info *pi,
		 uint64_t now_ms, const void *item, struct frag_flow *flow)
{
	struct frag_entry *e = find(ft, key);
	uint32_t i;

	if (e != NULL && e->flow_index != FRAG_NONE) {
		flow->index = e->flow_index;
		flow->flow_id = e->flow_id;
		flow->from_hi = e->from_hi;
		if (account(e, pi, now_ms))
			forget(ft, e);
		return FRAG_ATTRIBUTED;
	}
	/* Before its first fragment: wait for it, if there is room (after forgetting what has
	 * timed out by now: a burst can bring the first packets after a long silence). */
	if (ft->free_head == FRAG_NONE)
		(void)frag_table_expire(ft, now_ms, UINT32_MAX);
	if (ft->free_head == FRAG_NONE)
		return FRAG_NO_ROOM;
	if (e == NULL && (e = claim(ft, key, now_ms, false)) == NULL)
		return FRAG_NO_ROOM;
	(void)account(e, pi, now_ms);
	i = ft->free_head;
	ft->free_head = ft->next[i];
	ft->next[i] = FRAG_NONE;
	memcpy(ft->items + (size_t)i * ft->p.item_size, item, ft->p.item_size);
	if (e->held_tail == FRAG_NONE)
		e->held_head = i;
	else
		ft->next[e->held_tail] = i;
	e->held_tail = i;
	ft->held++;
	return FRAG_HELD;
}

uint32_t
frag_table_expire(struct frag_table *ft, uint64_t now_ms, uint32_t budget)
{
	uint32_t n = 0, buckets = ft->bucket_mask + 1, todo;
	/* The whole table once per half timeout: a datagram is forgotten at most 1.5 timeouts
	 * after its last fragment, and a call examines buckets in proportion to the time since
	 * the last (a burst a microsecond later examines none). */
	uint64_t period = ft->p.timeout_ms / 2 != 0 ? ft->p.timeout_ms / 2 : 1, elapsed;

	if (ft->datagrams == 0 || now_ms <= ft->sweep_ms) {
		if (ft->datagrams == 0)
			ft->sweep_ms = now_ms;
		return 0;
	}
	elapsed = now_ms - ft->sweep_ms;
	todo = elapsed >= period ? buckets : (uint32_t)(elapsed * buckets / period); /* < 2^52 */
	if (todo == 0)
		return 0;
	if (todo > budget)
		todo = budget; /* behind: later calls catch up, `budget` buckets at a time */
	if (todo == buckets && elapsed >= period)
		ft->sweep_ms = now_ms;
	else
		ft->sweep_ms += (uint64_t)todo * period / buckets;
	while (todo-- > 0) {
		struct frag_entry *b = &ft->entries[(size_t)ft->cursor * FRAG_WAYS];
		int i;

		for (i = 0; i < FRAG_WAYS; i++)
			if (b[i].key.ip_version != 0 && expired(ft, &b[i], now_ms))
				n += forget(ft, &b[i]);
		ft->cursor = (ft->cursor + 1) & ft->bucket_mask;
	}
	return n;
}

void
frag_table_flush(struct frag_table *ft)
{
	size_t i, n = (size_t)(ft->bucket_mask + 1) * FRAG_WAYS;

	for (i = 0; i < n && ft->datagrams != 0; i++)
		if (ft->entries[i].key.ip_version != 0)
			forget(ft, &ft->entries[i]);
}

void
frag_table_get_stats(const struct frag_table *ft, struct frag_table_stats *stats)
{
	stats->datagrams = ft->datagrams;
	stats->held = ft->held;
}

size_t
frag_table_bytes(const struct frag_table *ft)
{
	return (size_t)(ft->bucket_mask + 1) * FRAG_WAYS * sizeof(struct frag_entry) +
	       (size_t)ft->p.held_max * (ft->p.item_size + sizeof(uint32_t));
}
