/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Per-worker flow table: bounded capacity fixed at creation, symmetric key (both directions of
 * a flow find the same entry), idle timeouts per timeout class, eviction of the least recently
 * used flow when full. Nothing is allocated after flow_table_create().
 *
 * Pure code, no EAL. Not thread-safe: one table belongs to one worker, and only that worker's
 * thread calls anything but create/destroy.
 */
#ifndef FLOWTAG_FLOW_TABLE_H
#define FLOWTAG_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct parse_info;

/* Canonical bidirectional key: the lower (address, port) endpoint first. */
struct flow_key {
	uint8_t lo_addr[16];
	uint8_t hi_addr[16];
	uint16_t lo_port;
	uint16_t hi_port;
	uint16_t vlan;
	uint8_t l4_proto;
	uint8_t ip_version;
};

/* Which idle timeout applies to a flow; each class has its own LRU list. */
enum flow_timeout_class {
	FLOW_TC_TCP, /* TCP, open */
	FLOW_TC_TCP_CLOSED, /* TCP after FIN both ways or RST: kept briefly for trailing ACKs */
	FLOW_TC_UDP,
	FLOW_TC_OTHER, /* ICMP, GRE, ESP, ... */
	FLOW_TC_COUNT
};

enum flow_end_reason {
	FLOW_END_IDLE, /* idle timeout */
	FLOW_END_CLOSED, /* TCP FIN/RST, after the closed linger */
	FLOW_END_EVICTED, /* table full: least recently used flow made room */
	FLOW_END_FLUSH, /* end of input or shutdown */
	FLOW_END_REASON_COUNT
};

/* flow_entry.flags */
#define FLOW_F_INITIATOR_HI 0x01 /* the first packet came from the key's hi endpoint */
#define FLOW_F_FIN_LO 0x02 /* FIN seen from the lo endpoint */
#define FLOW_F_FIN_HI 0x04
#define FLOW_F_RST 0x08
#define FLOW_F_DPI_DONE 0x10 /* nDPI gave its final verdict (or gave up) */
#define FLOW_F_DECIDED 0x20 /* the policy decided: action and chain are final */
#define FLOW_F_HOLD_OVERFLOW 0x40 /* its hold queue filled before the verdict */

#define FLOW_NO_SLOT UINT32_MAX

/*
 * One flow. The classification fields belong to the worker; the table only maintains key,
 * hash, times, LRU links and the timeout class.
 */
struct flow_entry {
	struct flow_key key;
	uint32_t hash;
	uint32_t packets;
	uint64_t bytes;
	uint64_t first_ms;
	uint64_t last_ms;
	uint32_t lru_prev;
	uint32_t lru_next;
	uint32_t dpi_slot; /* nDPI state slot while under classification, else FLOW_NO_SLOT */
	uint32_t flow_id; /* unique per worker, carried in NSH C3 */
	uint16_t master_proto;
	uint16_t app_proto;
	uint16_t category;
	uint8_t tclass;
	uint8_t flags;
	uint8_t action; /* enum policy_action, once FLOW_F_DECIDED */
	uint8_t chain; /* the chain's index in the policy, for POLICY_CHAIN */
	uint16_t policy_gen; /* the policy generation that decided it */
};

typedef void (*flow_end_cb)(void *ctx, struct flow_entry *e, enum flow_end_reason reason);

struct flow_table_params {
	uint32_t capacity; /* flows held at most */
	uint32_t timeout_ms[FLOW_TC_COUNT];
	flow_end_cb on_end; /* called before an entry is freed, for any reason; may be NULL */
	void *cb_ctx;
};

struct flow_table_stats {
	uint64_t created;
	uint64_t ended[FLOW_END_REASON_COUNT];
	uint32_t active;
	uint32_t capacity;
};

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct flow_table *flow_table_create(const struct flow_table_params *params);
void flow_table_destroy(struct flow_table *ft);

/*
 * Build the canonical key of a parsed packet. Returns true when the packet was sent by the
 * key's hi endpoint (so the caller can tell the direction).
 */
bool flow_key_from_packet(const struct parse_info *pi, struct flow_key *key);

/* Symmetric by construction (it hashes the canonical key); also used to pick a worker. */
uint32_t flow_key_hash(const struct flow_key *key);

struct flow_entry *flow_table_lookup(struct flow_table *ft, const struct flow_key *key,
				     uint32_t hash);

/*
 * Add a flow that flow_table_lookup() did not find. When the table is full the least recently
 * used flow is ended (FLOW_END_EVICTED) to make room, so this never fails.
 */
struct flow_entry *flow_table_insert(struct flow_table *ft, const struct flow_key *key,
				     uint32_t hash, uint64_t now_ms, enum flow_timeout_class tc);

/* A packet of flow `e` arrived at now_ms: it becomes the most recently used of class tc. */
void flow_table_touch(struct flow_table *ft, struct flow_entry *e, uint64_t now_ms,
		      enum flow_timeout_class tc);

/* End one flow now (on_end is called, then the entry is freed). */
void flow_table_end(struct flow_table *ft, struct flow_entry *e, enum flow_end_reason reason);

/* End flows idle for longer than their class timeout at now_ms; at most `budget`. */
uint32_t flow_table_expire(struct flow_table *ft, uint64_t now_ms, uint32_t budget);

/* End every flow (FLOW_END_FLUSH). */
void flow_table_flush(struct flow_table *ft);

uint32_t flow_table_index(const struct flow_table *ft, const struct flow_entry *e);

/* The entry at index idx if a flow lives there, else NULL (for visiting the whole table). */
struct flow_entry *flow_table_entry_at(struct flow_table *ft, uint32_t idx);
uint32_t flow_table_capacity(const struct flow_table *ft);
void flow_table_get_stats(const struct flow_table *ft, struct flow_table_stats *stats);

/* Bytes the table holds per flow of capacity (entry + index slots), for the memory figures. */
size_t flow_table_bytes_per_flow(const struct flow_table *ft);

#endif
