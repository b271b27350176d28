/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Fragmented datagrams in flight: which flow each belongs to, so that its later fragments
 * (which carry no ports) follow the flow of its first one. No reassembly: fragments pass one
 * by one, each with its flow's decision.
 *
 * A datagram is known by its source, destination, IP id (and, for IPv4, protocol, as RFC 791
 * reassembles; and VLAN, as flows are keyed). The first fragment names the flow; a later
 * fragment seen before it (out of order) waits here, in a pool of `held_max` items shared by
 * all datagrams, until the first comes or the datagram times out. An entry ends when all of
 * its datagram's bytes have been seen or `timeout_ms` after its last fragment.
 *
 * Bounded and hostile-safe: `capacity` datagrams in buckets of FRAG_WAYS, indexed by the
 * process's keyed hash (keyed_hash.h), so crafted ids cannot pile into one bucket. When a
 * bucket's ways are all in use, a first fragment (its flow known) takes the way of a datagram
 * still waiting for its own first, the one idle longest (its waiting fragments leave
 * unattributed), so stray later fragments cannot keep real flows' datagrams out; otherwise
 * the new datagram is not tracked (the caller counts it; its later fragments go
 * unattributed) rather than pushing a followed one out. Nothing is allocated after creation. Pure code, no EAL; one table per worker, no locks.
 */
#ifndef FLOWTAG_FRAG_TABLE_H
#define FLOWTAG_FRAG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct parse_info;

#define FRAG_WAYS 4

/* 40 bytes: five words for the keyed hash. */
struct frag_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint16_t vlan;
	uint8_t proto; /* IPv4's protocol; 0 for IPv6 (its datagram is src, dst and id) */
	uint8_t ip_version;
};

/* The flow a datagram belongs to: its entry's index and id in the flow table, and whether
 * the datagram went from the flow key's hi endpoint. */
struct frag_flow {
	uint32_t index;
	uint32_t flow_id;
	bool from_hi;
};

/* An item (a held packet) leaves the table: attributed to `flow`, or (NULL) not. */
typedef void (*frag_release_cb)(void *ctx, void *item, const struct frag_flow *flow);

struct frag_table_params {
	uint32_t capacity; /* datagrams tracked at once (rounded up to a power of two) */
	uint32_t held_max; /* later fragments waiting for their first, all datagrams together */
	uint32_t item_size; /* bytes of one held item (the caller's packet handle) */
	uint32_t timeout_ms; /* a datagram is forgotten this long after its last fragment */
	frag_release_cb release;
	void *ctx;
};

enum frag_result {
	FRAG_ATTRIBUTED, /* the datagram's flow is known: *flow says which */
	FRAG_HELD, /* its first fragment has not come yet: the item waits (copied) */
	FRAG_NO_ROOM, /* not tracked (bucket or hold pool full): the caller passes it on */
};

struct frag_table_stats {
	uint32_t datagrams; /* tracked now */
	uint32_t held; /* items waiting now */
};

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct frag_table *frag_table_create(const struct frag_table_params *params);
void frag_table_destroy(struct frag_table *ft);

/* The datagram key of a parsed fragment (first or later). */
void frag_key_from_packet(const struct parse_info *pi, struct frag_key *key);

/*
 * The first fragment of a datagram arrived, and its flow is `flow`. Items held for the
 * datagram are released now, in arrival order, attributed to it. Returns false when the
 * datagram could not be tracked (its bucket full of live datagrams).
 */
bool frag_table_first(struct frag_table *ft, const struct frag_key *key,
		      const struct parse_info *pi, uint64_t now_ms, const struct frag_flow *flow);

/* A later fragment: its flow, or it waits (item copied), or there is no room. */
enum frag_result frag_table_later(struct frag_table *ft, const struct frag_key *key,
				  const struct parse_info *pi, uint64_t now_ms, const void *item,
				  struct frag_flow *flow);

/*
 * Forget datagrams idle past the timeout at now_ms; their held items are released
 * unattributed. The sweep covers the table once per half timeout, each call the share of it
 * the time since the last call stands for (the whole table after a gap), at most `budget`
 * buckets. Returns how many items were released.
 */
uint32_t frag_table_expire(struct frag_table *ft, uint64_t now_ms, uint32_t budget);

/* Forget every datagram (end of input, shutdown): held items are released unattributed. */
void frag_table_flush(struct frag_table *ft);

void frag_table_get_stats(const struct frag_table *ft, struct frag_table_stats *stats);
/* Bytes the table holds in all (entries and the hold pool). */
size_t frag_table_bytes(const struct frag_table *ft);

#endif
