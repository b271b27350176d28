/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Per-worker flow table: bounded capacity fixed at creation, symmetric key (both directions of
 * a flow find the same entry), idle timeouts per timeout class enforced by a sweep, eviction of
 * the least recently used of a sample of flows when full (as Redis approximates LRU: no list
 * links to keep per packet). Nothing is allocated after flow_table_create().
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

/*
 * Canonical bidirectional key: the lower (address, port) endpoint first. A flow inside a UDP
 * tunnel (parse.h enum parse_tunnel) is keyed by its inner addresses and ports and by the
 * tunnel and its id (TEID, VNI): the same inner flow in two tunnels is two flows.
 */
struct flow_key {
	uint8_t lo_addr[16];
	uint8_t hi_addr[16];
	uint16_t lo_port;
	uint16_t hi_port;
	uint16_t vlan;
	uint8_t l4_proto;
	uint8_t ip_version;
	uint32_t tunnel_id; /* a VNI (0 for tunnels whose id is not in the key, see parse.h) */
	uint8_t tunnel; /* enum parse_tunnel; 0: none */
	uint8_t pad[3];
};

/* Which idle timeout applies to a flow. */
enum flow_timeout_class {
	FLOW_TC_TCP, /* TCP, open */
	FLOW_TC_TCP_CLOSED, /* TCP after FIN both ways or RST: kept briefly for trailing ACKs */
	FLOW_TC_UDP,
	FLOW_TC_OTHER, /* ICMP, GRE, ESP, ... */
	/*
	 * Carried by the switch (offload): flowtag hears of it only when its rules go, so its
	 * own idle timer waits this long, a safety net, not the flow's real timeout.
	 */
	FLOW_TC_OFFLOADED,
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
#define FLOW_F_IN_DPI 0x80 /* under classification: dpi_slot is valid (else meta_id is) */

#define FLOW_NO_SLOT UINT32_MAX

/*
 * One flow, 64 bytes, one cache line (entries are line-aligned), plus the index's two 4-byte
 * slots. The key is stored compactly (IPv4 addresses inline; an IPv6 address pair lives in the
 * table's IPv6 pool and the entry holds its index), times are milliseconds from the table's
 * epoch, and what nDPI learnt (host, JA3, risks) is interned elsewhere and referenced by
 * meta_id. Counts are kept for the whole flow and for its reverse direction (RFC 5103: the
 * responder's packets, the endpoint that did not send the first one), so both directions are
 * known without a second line. The table maintains key, times and the timeout class; the
 * rest is the worker's. Use flow_table_key() and flow_table_first_ms()/last_ms() to read key
 * and times.
 */
struct flow_entry {
	uint32_t lo_addr; /* IPv4 address, network order; IPv6: the pool index (in both) */
	uint32_t hi_addr;
	uint16_t lo_port;
	uint16_t hi_port;
	uint16_t vlan;
	uint8_t l4_proto;
	/* The IP version in the low 4 bits (0: the entry is free), the tunnel (enum
	 * parse_tunnel) in the high 4; a tunnelled flow's id is in the table's side array. */
	uint8_t ip_version;
	uint32_t packets; /* both directions */
	uint32_t rev_packets; /* from the responder */
	uint32_t first_rel_ms; /* from the table's epoch */
	uint32_t last_rel_ms;
	union {
		uint32_t dpi_slot; /* FLOW_F_IN_DPI: its nDPI state slot */
		uint32_t meta_id; /* otherwise: its interned metadata (the worker's), 0 if none */
	};
	uint32_t flow_id; /* unique per worker, carried in NSH C3 */
	uint64_t bytes : 48; /* both directions */
	uint64_t verdict_packet : 9; /* the first packet carrying the decision (saturates) */
	uint64_t tclass : 3; /* enum flow_timeout_class */
	uint64_t action : 2; /* enum policy_action, once FLOW_F_DECIDED */
	uint64_t offload : 2; /* enum flow_offload_state (the worker's) */
	uint64_t rev_bytes : 48; /* from the responder */
	/* Plain bytes in the rest of that word: flags are tested and set on every packet. */
	uint8_t category;
	uint8_t flags;
	/*
	 * The worker's policy generation that decided the flow. 32 bits and never reused while
	 * a flow can carry it (see worker.c): with 8 bits, 256 swaps made an old chain index
	 * look current and tagged a flow for the wrong chain.
	 */
	uint32_t policy_gen;
	/* The application in the low bits (a mask, no shift: it indexes per-packet counters),
	 * the chain in the top byte (a plain byte load). */
	uint32_t app_proto : 10; /* nDPI ids are below NDPI_NUM_BITS (512) */
	uint32_t master_proto : 10;
	uint32_t offloaded_ever : 1; /* the switch carried (or was asked to carry) some of it */
	uint32_t : 3;
	uint32_t chain : 8; /* the chain's index in the policy, for POLICY_CHAIN */
};

#define FLOW_VERDICT_PACKET_MAX 511u
#define FLOW_PROTO_ID_MAX 1023u

/* flow_entry.offload: where a decided flow stands with the switch (worker.c, offload.c). */
enum flow_offload_state {
	FLOW_OFFLOAD_NONE, /* on the flowtag path; may be asked for */
	FLOW_OFFLOAD_ASKED, /* handed to the control thread: the switch may carry it now */
	FLOW_OFFLOAD_REFUSED, /* not this time: stays on the flowtag path until decided again */
};

typedef void (*flow_end_cb)(void *ctx, struct flow_entry *e, enum flow_end_reason reason);

struct flow_table_params {
	uint32_t capacity; /* flows held at most */
	uint32_t ipv6_capacity; /* IPv6 flows held at most (their addresses' pool); 0: capacity/4 */
	uint32_t timeout_ms[FLOW_TC_COUNT];
	flow_end_cb on_end; /* called before an entry is freed, for any reason; may be NULL */
	void *cb_ctx;
};

struct flow_table_stats {
	uint64_t created;
	uint64_t ended[FLOW_END_REASON_COUNT];
	uint32_t active;
	uint32_t capacity;
	uint32_t ipv6_active;
	uint32_t ipv6_capacity;
};

/* Returns NULL with errno set (EINVAL, ENOMEM). */
struct flow_table *flow_table_create(const struct flow_table_params *params);
void flow_table_destroy(struct flow_table *ft);

/*
 * Build the canonical key of a parsed packet. Returns true when the packet was sent by the
 * key's hi endpoint (so the caller can tell the direction).
 */
bool flow_key_from_packet(const struct parse_info *pi, struct flow_key *key);
/* The same from one direction's addresses and ports (host order), e.g. a switch's rule. */
bool flow_key_make(const uint8_t *src, const uint8_t *dst, uint16_t sport, uint16_t dport,
		   uint8_t l4_proto, uint8_t ip_version, uint16_t vlan, struct flow_key *key);

/*
 * Keyed with the process's secret (keyed_hash.h), so nobody sending packets can choose keys
 * that collide; symmetric by construction (it hashes the canonical key).
 */
uint32_t flow_key_hash(const struct flow_key *key);

/*
 * Which worker owns a flow: symmetric too (both directions meet), but deliberately not
 * secret. It only picks a worker, so a crafted set can at worst crowd one worker (no per-flow
 * cost grows; the table behind it is keyed), and a stable choice keeps nDPI's per-worker
 * cross-flow caches (its STUN cache, host guesses) seeing the same flows together every run.
 */
uint32_t flow_key_dispatch_hash(const struct flow_key *key);

/*
 * Bring the cache lines a lookup of `hash` will read closer, in two steps a burst apart: the
 * index slot first, then (the slot at hand) the entry it points to. Hints only.
 */
void flow_table_prefetch_slot(const struct flow_table *ft, uint32_t hash);
void flow_table_prefetch_entry(const struct flow_table *ft, uint32_t hash);

struct flow_entry *flow_table_lookup(struct flow_table *ft, const struct flow_key *key,
				     uint32_t hash);

/*
 * Add a flow that flow_table_lookup() did not find. When the table (or, for an IPv6 flow, the
 * IPv6 pool) is full, the least recently used of a sample of flows is ended
 * (FLOW_END_EVICTED) to make room, so this never fails.
 */
struct flow_entry *flow_table_insert(struct flow_table *ft, const struct flow_key *key,
				     uint32_t hash, uint64_t now_ms, enum flow_timeout_class tc);

/* A packet of flow `e` arrived at now_ms; tc is its timeout class from now on. */
void flow_table_touch(struct flow_table *ft, struct flow_entry *e, uint64_t now_ms,
		      enum flow_timeout_class tc);

/* End one flow now (on_end is called, then the entry is freed). */
void flow_table_end(struct flow_table *ft, struct flow_entry *e, enum flow_end_reason reason);

/*
 * The idle sweep: go on from where the last call stopped and end the flows idle for longer
 * than their class timeout at now_ms. It covers the used part of the table (up to the peak
 * number of concurrent flows) once per second of flow time (FLOW_SWEEP_PERIOD_MS), so a flow
 * ends at most about a second after its timeout while the sweep keeps up; a block of entries
 * none of whose flows can end yet is passed over unread. `budget` bounds one call (entries
 * read plus blocks passed over), and it ends at most `max_end` flows (what the owner can take
 * records for now: the rest waits). Returns the flows ended.
 */
#define FLOW_SWEEP_PERIOD_MS 1000
uint32_t flow_table_expire(struct flow_table *ft, uint64_t now_ms, uint32_t budget,
			   uint32_t max_end);

/* End every flow (FLOW_END_FLUSH). */
void flow_table_flush(struct flow_table *ft);

/* The entry at index idx if a flow lives there, else NULL (for visiting the whole table). */
struct flow_entry *flow_table_entry_at(struct flow_table *ft, uint32_t idx);
/* A tunnelled flow's id: its VNI, or its first packet's TEID (flow_table_set_tunnel_id). */
uint32_t flow_table_tunnel_id(const struct flow_table *ft, const struct flow_entry *e);
void flow_table_set_tunnel_id(struct flow_table *ft, struct flow_entry *e, uint32_t id);

/* The index of a live entry (stable while its flow lives; check flow_id when it comes back). */
uint32_t flow_table_index(const struct flow_table *ft, const struct flow_entry *e);
uint32_t flow_table_capacity(const struct flow_table *ft);
void flow_table_get_stats(const struct flow_table *ft, struct flow_table_stats *stats);

/* The entry's full key, and its times on the packets' clock. */
void flow_table_key(const struct flow_table *ft, const struct flow_entry *e, struct flow_key *key);
uint64_t flow_table_first_ms(const struct flow_table *ft, const struct flow_entry *e);
uint64_t flow_table_last_ms(const struct flow_table *ft, const struct flow_entry *e);

/*
 * How far entries sit from their home slot (probe length - 1), over the whole index: the
 * longest and the sum. O(index size): for tests and diagnostics, never the data path.
 */
void flow_table_probe_stats(const struct flow_table *ft, uint32_t *max, uint64_t *sum);

/* Bytes the table holds per flow of capacity (entry + index slots), for the memory figures. */
size_t flow_table_bytes_per_flow(const struct flow_table *ft);
/* Bytes of the IPv6 address pool in all (shared by the IPv6 flows). */
size_t flow_table_ipv6_pool_bytes(const struct flow_table *ft);

#endif
