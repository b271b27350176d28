/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "flow_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "keyed_hash.h"
#include "parse.h"

#define FT_CACHE_LINE 64
#define FT_NIL UINT32_MAX
#define FT_MAX_CAPACITY (1u << 27)
/* An index slot: entry index + 1 in the low bits, 4 bits of the hash above (0 = empty). */
#define FT_SLOT_IDX_BITS 28
#define FT_SLOT_IDX_MASK ((1u << FT_SLOT_IDX_BITS) - 1)
/* Eviction compares the last use of this many flows, from a moving hand. */
#define FT_EVICT_SAMPLE 8
/* Relative times are rebased before they reach 2^32 ms (49 days). */
#define FT_REBASE_AT (1ull << 31)
#define FT_REBASE_KEEP (1ull << 30)
/* The idle sweep's blocks: entries 64 at a time share a bound on their earliest end. */
#define FT_BLOCK_SHIFT 6
#define FT_BLOCK (1u << FT_BLOCK_SHIFT)
#define FT_NO_END UINT32_MAX /* a block's bound when none of its flows can end */

_Static_assert(sizeof(struct flow_entry) == 64, "a flow entry: one cache line");

struct ipv6_pair {
	uint8_t lo[16];
	uint8_t hi[16];
};

struct flow_table {
	struct flow_entry *entries; /* capacity entries */
	uint32_t *slots; /* open-addressing index, linear probing, at most half full */
	uint32_t slot_mask;
	uint32_t capacity;
	uint32_t active;
	uint32_t free_head; /* free entries chained through lo_addr, most recently freed first */
	/*
	 * Entries at or above this index have never held a flow. The free list hands back the
	 * most recently freed entry first, so the used entries stay packed below the peak number
	 * of concurrent flows, and the sweep need not visit the rest.
	 */
	uint32_t high_water;
	uint32_t next_flow_id;
	struct ipv6_pair *v6; /* ipv6_capacity pairs, free ones chained through their first word */
	/* Per entry, a tunnelled flow's tunnel id (written and read for such flows only, so its
	 * pages stay untouched, and out of RSS, where no tunnel is classified). */
	uint32_t *tunnel_ids;
	uint32_t v6_capacity;
	uint32_t v6_active;
	uint32_t v6_free_head;
	uint64_t epoch_ms; /* entries' times are relative to it */
	bool epoch_set;
	uint32_t sweep_pos; /* the idle sweep's next entry */
	/*
	 * Per block of FT_BLOCK entries, a time (relative ms) before which none of its flows can
	 * end: the sweep passes over a block whose bound lies ahead without reading its entries.
	 * It is a lower bound kept without a write per packet: a packet only moves a flow's end
	 * later, except when it changes the flow's timeout class (a FIN, an RST, the end of an
	 * offload), which lowers the bound; a new flow lowers it too; the sweep rebuilds it from
	 * the flows it leaves in a block it has read through.
	 */
	uint32_t *block_end;
	uint32_t sweep_block_min; /* the block the sweep is reading: the earliest end it has seen */
	uint32_t sweep_owed; /* entries the sweep is behind by */
	uint64_t sweep_ms; /* flow time the sweep has accounted for */
	uint64_t sweep_carry; /* fraction of an entry owed, in entries * ms */
	uint32_t evict_pos; /* where the IPv6 eviction sample starts */
	uint32_t evict_rng; /* the eviction sample's random state (never 0) */
	uint32_t timeout_ms[FLOW_TC_COUNT];
	flow_end_cb on_end;
	void *cb_ctx;
	uint64_t created;
	uint64_t ended[FLOW_END_REASON_COUNT];
};

/*
 * The table's arrays, zeroed. Large ones are aligned to 2 MiB and asked to be backed by
 * transparent huge pages: a lookup in a table of millions of flows reads two random cache
 * lines (slot, entry), and with 4 KiB pages each would also miss the TLB and walk the page
 * tables (measured: worker_bench --known-flows 10000000, see README). Where THP is off the
 * advice is ignored and only the alignment remains.
 */
#define FT_HUGE_PAGE (2u << 20)

static void *
zalloc_aligned(size_t size)
{
	size_t align = size >= FT_HUGE_PAGE ? FT_HUGE_PAGE : FT_CACHE_LINE;
	void *p;

	size = (size + align - 1) & ~(align - 1);
	p = aligned_alloc(align, size);
	if (p == NULL)
		return NULL;
	if (align == FT_HUGE_PAGE)
		(void)madvise(p, size, MADV_HUGEPAGE);
	memset(p, 0, size);
	return p;
}

static inline uint32_t
block_count(uint32_t capacity)
{
	return (capacity + FT_BLOCK - 1) >> FT_BLOCK_SHIFT;
}

/* When flow e ends if no packet comes (relative ms; below FT_NO_END, so rebasing moves it). */
static inline uint32_t
entry_end(const struct flow_table *ft, const struct flow_entry *e)
{
	uint64_t t = (uint64_t)e->last_rel_ms + ft->timeout_ms[e->tclass];

	return t < FT_NO_END ? (uint32_t)t : FT_NO_END - 1;
}

/* Entry idx's flow may end at `end`: its block's bound must not be later. */
static inline void
block_lower(struct flow_table *ft, uint32_t idx, uint32_t end)
{
	uint32_t *b = &ft->block_end[idx >> FT_BLOCK_SHIFT];

	if (end < *b)
		*b = end;
}

static inline uint32_t
v6_next(const struct ipv6_pair *p)
{
	uint32_t n;

	memcpy(&n, p->lo, sizeof(n));
	return n;
}

static inline void
v6_set_next(struct ipv6_pair *p, uint32_t n)
{
	memcpy(p->lo, &n, sizeof(n));
}

struct flow_table *
flow_table_create(const struct flow_table_params *params)
{
	struct flow_table *ft;
	uint32_t nslots = 2, i;

	if (params == NULL || params->capacity == 0 || params->capacity > FT_MAX_CAPACITY ||
	    params->ipv6_capacity > params->capacity) {
		errno = EINVAL;
		return NULL;
	}
	/* At most half full: linear probing stays short. */
	while (nslots < params->capacity * 2u)
		nslots <<= 1;

	if (keyed_hash_init() != 0)
		return NULL; /* no secret, no table: an unkeyed one is a flooding target */
	ft = calloc(1, sizeof(*ft));
	if (ft == NULL)
		return NULL;
	ft->v6_capacity = params->ipv6_capacity != 0 ? params->ipv6_capacity
						     : (params->capacity + 3) / 4;
	ft->entries = zalloc_aligned((size_t)params->capacity * sizeof(struct flow_entry));
	ft->slots = zalloc_aligned((size_t)nslots * sizeof(uint32_t));
	ft->v6 = zalloc_aligned((size_t)ft->v6_capacity * sizeof(struct ipv6_pair));
	ft->tunnel_ids = calloc(params->capacity, sizeof(uint32_t));
	ft->block_end = malloc((size_t)block_count(params->capacity) * sizeof(uint32_t));
	if (ft->entries == NULL || ft->slots == NULL || ft->v6 == NULL || ft->tunnel_ids == NULL ||
	    ft->block_end == NULL) {
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
		ft->entries[i].lo_addr = i + 1 < params->capacity ? i + 1 : FT_NIL;
	ft->free_head = 0;
	for (i = 0; i < ft->v6_capacity; i++)
		v6_set_next(&ft->v6[i], i + 1 < ft->v6_capacity ? i + 1 : FT_NIL);
	ft->v6_free_head = 0;
	for (i = 0; i < block_count(params->capacity); i++)
		ft->block_end[i] = FT_NO_END;
	ft->sweep_block_min = FT_NO_END;
	ft->evict_rng = 2463534242u;
	return ft;
}

void
flow_table_destroy(struct flow_table *ft)
{
	if (ft == NULL)
		return;
	free(ft->entries);
	free(ft->slots);
	free(ft->v6);
	free(ft->tunnel_ids);
	free(ft->block_end);
	free(ft);
}

/* memcmp(a, b, 4 or 16) < 0, > 0 or == 0, as big-endian words (no call into libc per packet). */
static inline int
addr_cmp(const uint8_t *a, const uint8_t *b, bool v4)
{
	if (v4) {
		uint32_t x, y;

		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		x = __builtin_bswap32(x);
		y = __builtin_bswap32(y);
		return (x > y) - (x < y);
	}
	for (int i = 0; i < 16; i += 8) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		x = __builtin_bswap64(x);
		y = __builtin_bswap64(y);
		if (x != y)
			return x > y ? 1 : -1;
	}
	return 0;
}

bool
flow_key_make(const uint8_t *src, const uint8_t *dst, uint16_t sport, uint16_t dport,
	      uint8_t l4_proto, uint8_t ip_version, uint16_t vlan, struct flow_key *key)
{
	size_t alen = ip_version == 4 ? 4 : 16;
	int cmp = addr_cmp(src, dst, ip_version == 4);
	bool src_is_hi = cmp > 0 || (cmp == 0 && sport > dport);

	memset(key, 0, sizeof(*key));
	if (src_is_hi) {
		memcpy(key->lo_addr, dst, alen);
		memcpy(key->hi_addr, src, alen);
		key->lo_port = dport;
		key->hi_port = sport;
	} else {
		memcpy(key->lo_addr, src, alen);
		memcpy(key->hi_addr, dst, alen);
		key->lo_port = sport;
		key->hi_port = dport;
	}
	key->vlan = vlan;
	key->l4_proto = l4_proto;
	key->ip_version = ip_version;
	return src_is_hi;
}

/*
 * A key's bytes 32..39 (ports, VLAN, protocol, IP version) as one word, in memory order on
 * either byte order. Built in registers and stored whole: the hash (and the entry compare)
 * then load words that one store wrote, which the CPU forwards from its store buffer; a word
 * written as five narrow stores and read back at once waits for all of them to reach the
 * cache instead (a store-forwarding stall: perf put a third of the worker's own samples on
 * the load after one, with a 120-flow table that sits in L1).
 */
static inline uint64_t
ports_word(uint16_t lo_port, uint16_t hi_port, uint16_t vlan, uint8_t l4_proto, uint8_t version)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint64_t)lo_port | (uint64_t)hi_port << 16 | (uint64_t)vlan << 32 |
	       (uint64_t)l4_proto << 48 | (uint64_t)version << 56;
#else
	return (uint64_t)lo_port << 48 | (uint64_t)hi_port << 32 | (uint64_t)vlan << 16 |
	       (uint64_t)l4_proto << 8 | version;
#endif
}

/* Bytes 40..47: the tunnel id, the tunnel, zero padding. */
static inline uint64_t
tunnel_word(uint32_t tunnel_id, uint8_t tunnel)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint64_t)tunnel_id | (uint64_t)tunnel << 32;
#else
	return (uint64_t)tunnel_id << 32 | (uint64_t)tunnel << 24;
#endif
}

_Static_assert(offsetof(struct flow_key, lo_port) == 32 &&
		       offsetof(struct flow_key, hi_port) == 34 &&
		       offsetof(struct flow_key, vlan) == 36 &&
		       offsetof(struct flow_key, l4_proto) == 38 &&
		       offsetof(struct flow_key, ip_version) == 39 &&
		       offsetof(struct flow_key, tunnel_id) == 40 &&
		       offsetof(struct flow_key, tunnel) == 44,
	       "ports_word() and tunnel_word() follow the key's layout");

bool
flow_key_from_packet(const struct parse_info *pi, struct flow_key *key)
{
	int cmp = addr_cmp(pi->src, pi->dst, pi->ip_version == 4);
	bool src_is_hi = cmp > 0 || (cmp == 0 && pi->sport > pi->dport);
	uint64_t ports = ports_word(src_is_hi ? pi->dport : pi->sport,
				    src_is_hi ? pi->sport : pi->dport, pi->vlan, pi->l4_proto,
				    pi->ip_version);
	uint64_t tunnel = tunnel_word(parse_tunnel_id_in_key(pi->tunnel) ? pi->tunnel_id : 0,
				      pi->tunnel);

	/* Per packet: whole 16-byte copies (a parse leaves IPv4 addresses zero-padded), picked
	 * without a branch, no memset of the key first, and the rest as two whole words. */
	memcpy(key->lo_addr, src_is_hi ? pi->dst : pi->src, 16);
	memcpy(key->hi_addr, src_is_hi ? pi->src : pi->dst, 16);
	memcpy((uint8_t *)key + offsetof(struct flow_key, lo_port), &ports, 8);
	memcpy((uint8_t *)key + offsetof(struct flow_key, tunnel_id), &tunnel, 8);
	return src_is_hi;
}

uint32_t
flow_key_hash(const struct flow_key *key)
{
	uint64_t w[sizeof(struct flow_key) / 8];

	_Static_assert(sizeof(struct flow_key) == 48, "flow_key is hashed as six 64-bit words");
	memcpy(w, key, sizeof(w));
	return keyed_hash_key48(w);
}

uint32_t
flow_key_dispatch_hash(const struct flow_key *key)
{
	/* A fixed key (fractional digits of e): the same worker for a flow in every run. */
	static const uint64_t fixed[6] = {0xb7e151628aed2a6aULL, 0xbf7158809cf4f3c7ULL,
					  0x62e7160f38b4da56ULL, 0xa784d9045190cfefULL,
					  0x324e7738926cfbe5ULL, 0xf4bf8d8d8c31d763ULL};
	uint64_t w[sizeof(struct flow_key) / 8];

	memcpy(w, key, sizeof(w));
	return keyed_hash_key48_with(w, fixed);
}

/* ---- the compact key ---- */

/* Ports, VLAN, protocol and IP version with the tunnel: bytes 8..15 of an entry, as one word
 * (built in registers: see ports_word()). */
static inline uint64_t
key_tail(const struct flow_key *k)
{
	_Static_assert(offsetof(struct flow_entry, lo_port) == 8 &&
			       offsetof(struct flow_entry, hi_port) == 10 &&
			       offsetof(struct flow_entry, vlan) == 12 &&
			       offsetof(struct flow_entry, l4_proto) == 14 &&
			       offsetof(struct flow_entry, ip_version) == 15,
		       "an entry's ports word is laid out as a key's");
	return ports_word(k->lo_port, k->hi_port, k->vlan, k->l4_proto,
			  (uint8_t)(k->ip_version | k->tunnel << 4));
}

static inline uint64_t
entry_tail(const struct flow_entry *e)
{
	uint64_t t;

	_Static_assert(offsetof(struct flow_entry, ip_version) - offsetof(struct flow_entry, lo_port) == 7,
		       "ports, vlan, l4_proto and ip_version form one 8-byte word");
	memcpy(&t, &e->lo_port, sizeof(t));
	return t;
}

static inline bool
entry_matches(const struct flow_table *ft, const struct flow_entry *e, const struct flow_key *k,
	      uint64_t tail)
{
	if (entry_tail(e) != tail)
		return false;
	/* The tail holds the tunnel: only a tunnelled flow reads its id. */
	if (__builtin_expect(k->tunnel != 0, 0) && parse_tunnel_id_in_key(k->tunnel) &&
	    ft->tunnel_ids[e - ft->entries] != k->tunnel_id)
		return false;
	if (k->ip_version == 4)
		return memcmp(&e->lo_addr, k->lo_addr, 4) == 0 && memcmp(&e->hi_addr, k->hi_addr, 4) == 0;
	return memcmp(ft->v6[e->lo_addr].lo, k->lo_addr, 16) == 0 &&
	       memcmp(ft->v6[e->lo_addr].hi, k->hi_addr, 16) == 0;
}

void
flow_table_key(const struct flow_table *ft, const struct flow_entry *e, struct flow_key *key)
{
	memset(key, 0, sizeof(*key));
	if ((e->ip_version & 0x0f) == 6) {
		memcpy(key->lo_addr, ft->v6[e->lo_addr].lo, 16);
		memcpy(key->hi_addr, ft->v6[e->lo_addr].hi, 16);
	} else {
		memcpy(key->lo_addr, &e->lo_addr, 4);
		memcpy(key->hi_addr, &e->hi_addr, 4);
	}
	key->lo_port = e->lo_port;
	key->hi_port = e->hi_port;
	key->vlan = e->vlan;
	key->l4_proto = e->l4_proto;
	key->ip_version = e->ip_version & 0x0f;
	key->tunnel = e->ip_version >> 4;
	if (parse_tunnel_id_in_key(key->tunnel))
		key->tunnel_id = ft->tunnel_ids[e - ft->entries];
}

uint32_t
flow_table_tunnel_id(const struct flow_table *ft, const struct flow_entry *e)
{
	return (e->ip_version >> 4) != 0 ? ft->tunnel_ids[e - ft->entries] : 0;
}

void
flow_table_set_tunnel_id(struct flow_table *ft, struct flow_entry *e, uint32_t id)
{
	ft->tunnel_ids[e - ft->entries] = id;
}

static uint32_t
entry_hash(const struct flow_table *ft, const struct flow_entry *e)
{
	struct flow_key k;

	flow_table_key(ft, e, &k);
	return flow_key_hash(&k);
}

static inline uint32_t
slot_tag(uint32_t hash)
{
	return (hash >> FT_SLOT_IDX_BITS) << FT_SLOT_IDX_BITS;
}

void
flow_table_prefetch_slot(const struct flow_table *ft, uint32_t hash)
{
	__builtin_prefetch(&ft->slots[hash & ft->slot_mask]);
}

void
flow_table_prefetch_entry(const struct flow_table *ft, uint32_t hash)
{
	uint32_t s = ft->slots[hash & ft->slot_mask];

	/* The first probe's entry, if its hash bits match (a flow's usual case). */
	if (s != 0 && (s & ~FT_SLOT_IDX_MASK) == slot_tag(hash))
		__builtin_prefetch(&ft->entries[(s & FT_SLOT_IDX_MASK) - 1]);
}

struct flow_entry *
flow_table_lookup(struct flow_table *ft, const struct flow_key *key, uint32_t hash)
{
	uint32_t i = hash & ft->slot_mask, tag = slot_tag(hash);
	uint64_t tail = key_tail(key);

	for (;;) {
		uint32_t s = ft->slots[i];
		struct flow_entry *e;

		if (s == 0)
			return NULL;
		if ((s & ~FT_SLOT_IDX_MASK) == tag) {
			e = &ft->entries[(s & FT_SLOT_IDX_MASK) - 1];
			if (entry_matches(ft, e, key, tail))
				return e;
		}
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
	if (idx >= ft->capacity || ft->entries[idx].ip_version == 0)
		return NULL;
	return &ft->entries[idx];
}

uint32_t
flow_table_capacity(const struct flow_table *ft)
{
	return ft->capacity;
}

/* ---- time ---- */

/*
 * Move the epoch so relative times stay far from 2^32 (every 24 days of flow time, or at each
 * jump of the clock past that: captures merged from different years jump at every seam). Only
 * the entries below the high-water mark can hold a flow, so only they and their blocks are
 * moved: a jump costs the peak number of flows, not the table's capacity (a replay of the
 * shared captures merged spent a sixth of its time here, rewriting 262,144 empty entries).
 */
static void
rebase(struct flow_table *ft, uint64_t now_ms)
{
	uint64_t delta = now_ms - ft->epoch_ms - FT_REBASE_KEEP;
	uint32_t i;

	for (i = 0; i < ft->high_water; i++) {
		struct flow_entry *e = &ft->entries[i];

		if (e->ip_version == 0)
			continue;
		/* A flow older than the kept window keeps its age clamped to the window's start. */
		e->first_rel_ms = e->first_rel_ms > delta ? (uint32_t)(e->first_rel_ms - delta) : 0;
		e->last_rel_ms = e->last_rel_ms > delta ? (uint32_t)(e->last_rel_ms - delta) : 0;
	}
	for (i = 0; i < block_count(ft->high_water); i++) { /* those above: FT_NO_END */
		uint32_t *b = &ft->block_end[i];

		if (*b != FT_NO_END)
			*b = *b > delta ? (uint32_t)(*b - delta) : 0;
	}
	if (ft->sweep_block_min != FT_NO_END)
		ft->sweep_block_min =
			ft->sweep_block_min > delta ? (uint32_t)(ft->sweep_block_min - delta) : 0;
	ft->epoch_ms += delta;
}

static inline uint32_t
rel_ms(struct flow_table *ft, uint64_t now_ms)
{
	if (!ft->epoch_set) {
		ft->epoch_ms = now_ms;
		ft->epoch_set = true;
	}
	if (now_ms <= ft->epoch_ms)
		return 0; /* a clock that stepped back before the first flow */
	if (now_ms - ft->epoch_ms >= FT_REBASE_AT)
		rebase(ft, now_ms);
	return (uint32_t)(now_ms - ft->epoch_ms);
}

uint64_t
flow_table_first_ms(const struct flow_table *ft, const struct flow_entry *e)
{
	return ft->epoch_ms + e->first_rel_ms;
}

uint64_t
flow_table_last_ms(const struct flow_table *ft, const struct flow_entry *e)
{
	return ft->epoch_ms + e->last_rel_ms;
}

/* ---- index and eviction ---- */

/* Remove entry index `idx` from the index, with backward-shift deletion (no tombstones). */
static void
index_remove(struct flow_table *ft, uint32_t idx)
{
	uint32_t i = entry_hash(ft, &ft->entries[idx]) & ft->slot_mask, j;

	while ((ft->slots[i] & FT_SLOT_IDX_MASK) != idx + 1)
		i = (i + 1) & ft->slot_mask;
	j = i;
	for (;;) {
		uint32_t home;

		j = (j + 1) & ft->slot_mask;
		if (ft->slots[j] == 0)
			break;
		home = entry_hash(ft, &ft->entries[(ft->slots[j] & FT_SLOT_IDX_MASK) - 1]) &
		       ft->slot_mask;
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
	index_remove(ft, idx);
	if ((e->ip_version & 0x0f) == 6) {
		v6_set_next(&ft->v6[e->lo_addr], ft->v6_free_head);
		ft->v6_free_head = e->lo_addr;
		ft->v6_active--;
	}
	e->ip_version = 0; /* marks the entry free for flow_table_entry_at() */
	e->lo_addr = ft->free_head;
	ft->free_head = idx;
	ft->active--;
}

/*
 * Make room, as Redis approximates LRU: of FT_EVICT_SAMPLE flows taken at random, the least
 * recently used ends. No list to maintain per packet, O(sample) per eviction, and an old flow
 * goes before a recent one with high probability. When it is the IPv6 pool that is full (the
 * table may be mostly empty), the sample is the next IPv6 flows from a moving hand instead.
 */
static void
evict_one(struct flow_table *ft, bool ipv6_only)
{
	struct flow_entry *oldest = NULL;
	uint32_t seen = 0, probed;

	for (probed = 0; probed < ft->capacity && seen < FT_EVICT_SAMPLE; probed++) {
		struct flow_entry *e;

		if (ipv6_only) {
			e = &ft->entries[ft->evict_pos];
			ft->evict_pos = ft->evict_pos + 1 < ft->capacity ? ft->evict_pos + 1 : 0;
		} else {
			/* xorshift32: the table is full, so every probe finds a flow. */
			ft->evict_rng ^= ft->evict_rng << 13;
			ft->evict_rng ^= ft->evict_rng >> 17;
			ft->evict_rng ^= ft->evict_rng << 5;
			e = &ft->entries[(uint32_t)(((uint64_t)ft->evict_rng * ft->capacity) >> 32)];
		}
		if (e->ip_version == 0 || (ipv6_only && (e->ip_version & 0x0f) != 6))
			continue;
		seen++;
		if (oldest == NULL || e->last_rel_ms < oldest->last_rel_ms)
			oldest = e;
	}
	if (oldest != NULL)
		flow_table_end(ft, oldest, FLOW_END_EVICTED);
}

struct flow_entry *
flow_table_insert(struct flow_table *ft, const struct flow_key *key, uint32_t hash,
		  uint64_t now_ms, enum flow_timeout_class tc)
{
	struct flow_entry *e;
	uint32_t idx, i, now = rel_ms(ft, now_ms);

	if (ft->free_head == FT_NIL)
		evict_one(ft, false);
	if (key->ip_version == 6 && ft->v6_free_head == FT_NIL)
		evict_one(ft, true);
	idx = ft->free_head;
	e = &ft->entries[idx];
	ft->free_head = e->lo_addr;
	if (idx >= ft->high_water)
		ft->high_water = idx + 1;

	memset(e, 0, sizeof(*e));
	if (key->ip_version == 6) {
		uint32_t v = ft->v6_free_head;

		ft->v6_free_head = v6_next(&ft->v6[v]);
		memcpy(ft->v6[v].lo, key->lo_addr, 16);
		memcpy(ft->v6[v].hi, key->hi_addr, 16);
		e->lo_addr = e->hi_addr = v;
		ft->v6_active++;
	} else {
		memcpy(&e->lo_addr, key->lo_addr, 4);
		memcpy(&e->hi_addr, key->hi_addr, 4);
	}
	e->lo_port = key->lo_port;
	e->hi_port = key->hi_port;
	e->vlan = key->vlan;
	e->l4_proto = key->l4_proto;
	e->ip_version = (uint8_t)(key->ip_version | key->tunnel << 4);
	if (key->tunnel != 0)
		ft->tunnel_ids[idx] = key->tunnel_id;
	e->first_rel_ms = e->last_rel_ms = now;
	e->dpi_slot = FLOW_NO_SLOT;
	e->flow_id = ++ft->next_flow_id;
	e->tclass = (uint8_t)tc;
	block_lower(ft, idx, entry_end(ft, e));

	i = hash & ft->slot_mask;
	while (ft->slots[i] != 0)
		i = (i + 1) & ft->slot_mask;
	ft->slots[i] = (idx + 1) | slot_tag(hash);
	ft->active++;
	ft->created++;
	return e;
}

void
flow_table_touch(struct flow_table *ft, struct flow_entry *e, uint64_t now_ms,
		 enum flow_timeout_class tc)
{
	uint32_t now = rel_ms(ft, now_ms);

	/* Packet times may step back (merged captures, reordering): never move last_ms back. */
	if (now > e->last_rel_ms)
		e->last_rel_ms = now;
	if (__builtin_expect(e->tclass != tc, 0)) {
		/* A shorter timeout may end the flow before its block's bound. */
		e->tclass = (uint8_t)tc;
		block_lower(ft, flow_table_index(ft, e), entry_end(ft, e));
	}
}

uint32_t
flow_table_expire(struct flow_table *ft, uint64_t now_ms, uint32_t budget, uint32_t max_end)
{
	uint32_t ended = 0, n, now;

	if (ft->active == 0 || !ft->epoch_set) {
		ft->sweep_ms = now_ms;
		return 0;
	}
	now = rel_ms(ft, now_ms);
	if (now_ms > ft->sweep_ms) {
		/* Owe the entries this much flow time covers at one table per sweep period. */
		uint64_t dt = now_ms - ft->sweep_ms, due;

		if (dt > FLOW_SWEEP_PERIOD_MS)
			dt = FLOW_SWEEP_PERIOD_MS;
		due = dt * ft->high_water + ft->sweep_carry;
		ft->sweep_carry = due % FLOW_SWEEP_PERIOD_MS;
		due = due / FLOW_SWEEP_PERIOD_MS + ft->sweep_owed;
		ft->sweep_owed = due < ft->high_water ? (uint32_t)due : ft->high_water;
		ft->sweep_ms = now_ms;
	} else if (now_ms < ft->sweep_ms) {
		ft->sweep_ms = now_ms;
	}
	/* `budget` counts entries read and blocks passed over; the debt counts entries covered. */
	for (n = 0; ft->sweep_owed > 0 && n < budget; n++) {
		struct flow_entry *e;
		uint32_t pos, t;

		if (ft->sweep_pos >= ft->high_water)
			ft->sweep_pos = 0;
		pos = ft->sweep_pos;
		if (ended == max_end)
			break; /* the rest waits for the next call (checked here: a block begun is
				* read on, not passed over, when the sweep resumes) */
		if ((pos & (FT_BLOCK - 1)) == 0) {
			uint32_t *b = &ft->block_end[pos >> FT_BLOCK_SHIFT];
			uint32_t span = ft->high_water - pos < FT_BLOCK ? ft->high_water - pos : FT_BLOCK;

			if (*b > now) { /* none of its flows ends yet */
				ft->sweep_pos += span;
				ft->sweep_owed -= ft->sweep_owed < span ? ft->sweep_owed : span;
				continue;
			}
			/* Read it through: its bound is rebuilt from the flows left in it, and
			 * lowered meanwhile by the flows that start or change class in it. */
			*b = FT_NO_END;
			ft->sweep_block_min = FT_NO_END;
		}
		e = &ft->entries[pos];
		ft->sweep_pos++;
		ft->sweep_owed--;
		if (e->ip_version != 0) {
			t = entry_end(ft, e);
			if (t <= now) {
				flow_table_end(ft, e,
					       e->tclass == FLOW_TC_TCP_CLOSED ? FLOW_END_CLOSED
									 : FLOW_END_IDLE);
				ended++;
			} else if (t < ft->sweep_block_min) {
				ft->sweep_block_min = t;
			}
		}
		if ((ft->sweep_pos & (FT_BLOCK - 1)) == 0 || ft->sweep_pos >= ft->high_water)
			block_lower(ft, pos, ft->sweep_block_min);
	}
	return ended;
}

void
flow_table_flush(struct flow_table *ft)
{
	uint32_t i;

	for (i = 0; i < ft->high_water && ft->active > 0; i++)
		if (ft->entries[i].ip_version != 0)
			flow_table_end(ft, &ft->entries[i], FLOW_END_FLUSH);
}

void
flow_table_get_stats(const struct flow_table *ft, struct flow_table_stats *stats)
{
	stats->created = ft->created;
	memcpy(stats->ended, ft->ended, sizeof(stats->ended));
	stats->active = ft->active;
	stats->capacity = ft->capacity;
	stats->ipv6_active = ft->v6_active;
	stats->ipv6_capacity = ft->v6_capacity;
}

void
flow_table_probe_stats(const struct flow_table *ft, uint32_t *max, uint64_t *sum)
{
	uint32_t i;

	*max = 0;
	*sum = 0;
	for (i = 0; i <= ft->slot_mask; i++) {
		uint32_t s = ft->slots[i], home, d;

		if (s == 0)
			continue;
		home = entry_hash(ft, &ft->entries[(s & FT_SLOT_IDX_MASK) - 1]) & ft->slot_mask;
		d = (i - home) & ft->slot_mask;
		*sum += d;
		if (d > *max)
			*max = d;
	}
}

size_t
flow_table_bytes_per_flow(const struct flow_table *ft)
{
	/* The entry, its share of the index, and its tunnel id (resident once written). */
	return sizeof(struct flow_entry) + (size_t)(ft->slot_mask + 1) * sizeof(uint32_t) / ft->capacity +
	       sizeof(uint32_t);
}

size_t
flow_table_ipv6_pool_bytes(const struct flow_table *ft)
{
	return (size_t)ft->v6_capacity * sizeof(struct ipv6_pair);
}
