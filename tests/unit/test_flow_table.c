/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "crc_collide.h"
#include "flow_table.h"
#include "keyed_hash.h"
#include "parse.h"

struct ended {
	int count;
	int by_reason[FLOW_END_REASON_COUNT];
	uint32_t last_flow_id;
};

static void
count_end(void *ctx, struct flow_entry *e, enum flow_end_reason reason)
{
	struct ended *en = ctx;

	en->count++;
	en->by_reason[reason]++;
	en->last_flow_id = e->flow_id;
}

static struct flow_table *
make(uint32_t capacity, struct ended *en)
{
	struct flow_table_params p = {
		.capacity = capacity,
		.timeout_ms = {[FLOW_TC_TCP] = 300000,
			       [FLOW_TC_TCP_CLOSED] = 10000,
			       [FLOW_TC_UDP] = 120000,
			       [FLOW_TC_OTHER] = 60000},
		.on_end = count_end,
		.cb_ctx = en,
	};
	struct flow_table *ft = flow_table_create(&p);

	assert_non_null(ft);
	return ft;
}

static void
key_n(struct flow_key *k, uint32_t n)
{
	struct parse_info pi;

	memset(&pi, 0, sizeof(pi));
	pi.ip_version = 4;
	pi.l4_proto = IPPROTO_UDP;
	pi.src[0] = 10;
	memcpy(pi.src + 1, &n, 3);
	pi.dst[0] = 192;
	pi.sport = (uint16_t)(1024 + n % 50000);
	pi.dport = 53;
	flow_key_from_packet(&pi, k);
}

static void
symmetric_key(void **state)
{
	struct parse_info a, b;
	struct flow_key ka, kb;
	bool a_hi, b_hi;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.ip_version = 6;
	a.l4_proto = IPPROTO_TCP;
	memcpy(a.src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x09", 16);
	memcpy(a.dst, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	a.sport = 40000;
	a.dport = 443;
	a.vlan = 12;
	b = a;
	memcpy(b.src, a.dst, 16);
	memcpy(b.dst, a.src, 16);
	b.sport = a.dport;
	b.dport = a.sport;
	a_hi = flow_key_from_packet(&a, &ka);
	b_hi = flow_key_from_packet(&b, &kb);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_int_equal(flow_key_hash(&ka), flow_key_hash(&kb));
	assert_true(a_hi != b_hi);
	assert_true(a_hi); /* ...::9 is the higher address */

	/* Same addresses, ports decide; and VLAN separates flows. */
	memcpy(b.src, a.src, 16);
	memcpy(b.dst, a.src, 16);
	b.sport = 1;
	b.dport = 2;
	assert_false(flow_key_from_packet(&b, &kb));
	b.vlan = 13;
	flow_key_from_packet(&b, &kb);
	a = b;
	a.vlan = 12;
	flow_key_from_packet(&a, &ka);
	assert_memory_not_equal(&ka, &kb, sizeof(ka));
}

static void
key6_n(struct flow_key *k, uint32_t n)
{
	struct parse_info pi;

	memset(&pi, 0, sizeof(pi));
	pi.ip_version = 6;
	pi.l4_proto = IPPROTO_TCP;
	memcpy(pi.src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0", 12);
	memcpy(pi.src + 12, &n, 4);
	memcpy(pi.dst, "\x20\x01\x0d\xb8\xff\0\0\0\0\0\0\0\0\0\0\x01", 16);
	pi.sport = 40000;
	pi.dport = 443;
	flow_key_from_packet(&pi, k);
}

static void
insert_lookup_end(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(16, &en);
	struct flow_key k, back;
	struct flow_entry *e;
	struct flow_table_stats st;

	(void)state;
	assert_int_equal(sizeof(struct flow_entry), 64);
	assert_int_equal(flow_table_bytes_per_flow(ft), 76); /* 32 index slots for 16 flows, a tunnel id */
	key_n(&k, 1);
	assert_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));
	e = flow_table_insert(ft, &k, flow_key_hash(&k), 1000, FLOW_TC_UDP);
	assert_non_null(e);
	assert_ptr_equal(flow_table_lookup(ft, &k, flow_key_hash(&k)), e);
	assert_int_equal(flow_table_first_ms(ft, e), 1000);
	assert_int_equal(e->dpi_slot, FLOW_NO_SLOT);
	flow_table_key(ft, e, &back);
	assert_memory_equal(&back, &k, sizeof(k));
	flow_table_end(ft, e, FLOW_END_CLOSED);
	assert_int_equal(en.by_reason[FLOW_END_CLOSED], 1);
	assert_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));

	/* IPv6: the addresses live in the pool and come back whole. */
	key6_n(&k, 7);
	e = flow_table_insert(ft, &k, flow_key_hash(&k), 2000, FLOW_TC_TCP);
	assert_ptr_equal(flow_table_lookup(ft, &k, flow_key_hash(&k)), e);
	flow_table_key(ft, e, &back);
	assert_memory_equal(&back, &k, sizeof(k));
	key6_n(&back, 8); /* differs in the address only */
	assert_null(flow_table_lookup(ft, &back, flow_key_hash(&back)));
	flow_table_get_stats(ft, &st);
	assert_int_equal(st.active, 1);
	assert_int_equal(st.ipv6_active, 1);
	assert_int_equal(st.ipv6_capacity, 4);
	assert_int_equal(st.created, 2);
	flow_table_end(ft, e, FLOW_END_CLOSED);
	flow_table_get_stats(ft, &st);
	assert_int_equal(st.ipv6_active, 0);
	flow_table_destroy(ft);
	flow_table_destroy(NULL);
}

static void
full_table_evicts_lru(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(8, &en);
	struct flow_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 8; i++) {
		key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 100 + i, FLOW_TC_UDP);
	}
	/* Flow 0 is touched, so flow 1 is now the least recently used; a sample of 8 random
	 * probes of 8 flows sees it unless it is unlucky, and a fixed seed makes that certain. */
	key_n(&k, 0);
	flow_table_touch(ft, flow_table_lookup(ft, &k, flow_key_hash(&k)), 200, FLOW_TC_UDP);
	key_n(&k, 100);
	assert_non_null(flow_table_insert(ft, &k, flow_key_hash(&k), 201, FLOW_TC_UDP));
	assert_int_equal(en.by_reason[FLOW_END_EVICTED], 1);
	key_n(&k, 0);
	assert_non_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));

	/* Thousands more: always room, the count stays at capacity. */
	for (i = 1000; i < 5000; i++) {
		key_n(&k, i);
		assert_non_null(flow_table_insert(ft, &k, flow_key_hash(&k), 300 + i, FLOW_TC_UDP));
	}
	assert_int_equal(en.by_reason[FLOW_END_EVICTED], 1 + 4000);
	flow_table_destroy(ft);
}

struct evicted_ids {
	uint32_t recent_ids_from; /* flows with this id or more were used recently */
	int old, recent;
};

static void
note_evicted(void *ctx, struct flow_entry *e, enum flow_end_reason reason)
{
	struct evicted_ids *ev = ctx;

	if (reason == FLOW_END_EVICTED) {
		if (e->flow_id >= ev->recent_ids_from)
			ev->recent++;
		else
			ev->old++;
	}
}

/* The sample approximates LRU: nearly every flow evicted is from the idle half. */
static void
eviction_prefers_idle_flows(void **state)
{
	struct evicted_ids ev = {.recent_ids_from = 513};
	struct flow_table_params p = {
		.capacity = 1024,
		.timeout_ms = {120000, 10000, 120000, 60000},
		.on_end = note_evicted,
		.cb_ctx = &ev,
	};
	struct flow_table *ft = flow_table_create(&p);
	struct flow_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 1024; i++) {
		key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), i, FLOW_TC_UDP);
	}
	for (i = 512; i < 1024; i++) {
		key_n(&k, i);
		flow_table_touch(ft, flow_table_lookup(ft, &k, flow_key_hash(&k)), 5000, FLOW_TC_UDP);
	}
	for (i = 0; i < 128; i++) {
		key_n(&k, 100000 + i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 5001, FLOW_TC_UDP);
	}
	/* Each eviction misses the idle half only if all 8 probes land in the busy one (1/256). */
	assert_int_equal(ev.old + ev.recent, 128);
	assert_true(ev.old >= 124);
	flow_table_destroy(ft);
}

/* A full IPv6 pool evicts an IPv6 flow, never an IPv4 one. */
static void
ipv6_pool_full_evicts_ipv6(void **state)
{
	struct ended en = {0};
	struct flow_table_params p = {
		.capacity = 32,
		.ipv6_capacity = 2,
		.timeout_ms = {120000, 10000, 120000, 60000},
		.on_end = count_end,
		.cb_ctx = &en,
	};
	struct flow_table *ft = flow_table_create(&p);
	struct flow_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 10; i++) {
		key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 10, FLOW_TC_UDP);
	}
	for (i = 0; i < 3; i++) {
		key6_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 20 + i, FLOW_TC_TCP);
	}
	assert_int_equal(en.by_reason[FLOW_END_EVICTED], 1);
	key6_n(&k, 0); /* the oldest IPv6 flow went */
	assert_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));
	for (i = 1; i < 3; i++) {
		key6_n(&k, i);
		assert_non_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));
	}
	for (i = 0; i < 10; i++) {
		key_n(&k, i);
		assert_non_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));
	}
	p.ipv6_capacity = 33;
	assert_null(flow_table_create(&p));
	flow_table_destroy(ft);
}

static void
timeouts_per_class(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(16, &en);
	struct flow_key k;
	struct flow_entry *tcp_e;
	uint32_t i, calls, total;

	(void)state;
	key_n(&k, 1);
	flow_table_insert(ft, &k, flow_key_hash(&k), 0, FLOW_TC_UDP);
	key_n(&k, 2);
	tcp_e = flow_table_insert(ft, &k, flow_key_hash(&k), 0, FLOW_TC_TCP);
	key_n(&k, 3);
	flow_table_insert(ft, &k, flow_key_hash(&k), 0, FLOW_TC_OTHER);

	/* Never before the timeout; at most one sweep period after it. */
	assert_int_equal(flow_table_expire(ft, 59999, 100, UINT32_MAX), 0);
	assert_int_equal(flow_table_expire(ft, 60000 + FLOW_SWEEP_PERIOD_MS, 100, UINT32_MAX), 1); /* other: 60 s */
	assert_int_equal(flow_table_expire(ft, 119999, 100, UINT32_MAX), 0);
	/* The TCP flow closes at 100 s: now only the 10 s linger applies. */
	flow_table_touch(ft, tcp_e, 100000, FLOW_TC_TCP_CLOSED);
	assert_int_equal(flow_table_expire(ft, 109999, 100, UINT32_MAX), 0);
	assert_int_equal(flow_table_expire(ft, 110000 + FLOW_SWEEP_PERIOD_MS, 100, UINT32_MAX), 1);
	assert_int_equal(en.by_reason[FLOW_END_CLOSED], 1);
	assert_int_equal(flow_table_expire(ft, 120000 + FLOW_SWEEP_PERIOD_MS, 100, UINT32_MAX), 1); /* udp */
	assert_int_equal(en.by_reason[FLOW_END_IDLE], 2);

	/* The budget bounds the entries one call examines. */
	for (i = 10; i < 16; i++) {
		key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 200000, FLOW_TC_UDP);
	}
	for (calls = 0, total = 0; calls < 4; calls++) {
		uint32_t n = flow_table_expire(ft, 400000, 4, UINT32_MAX);

		assert_true(n <= 4);
		total += n;
	}
	assert_int_equal(total, 6); /* 4 calls of 4 cover the 16 entries */
	flow_table_destroy(ft);
}

/* The sweep keeps pace with flow time: 100 ms cover a tenth of the table. */
static void
sweep_paced_by_time(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(1000, &en);
	struct flow_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 200000, FLOW_TC_UDP);
	}
	assert_int_equal(flow_table_expire(ft, 319900, UINT32_MAX, UINT32_MAX), 0); /* a full pass, early */
	assert_int_equal(flow_table_expire(ft, 320000, UINT32_MAX, UINT32_MAX), 100);
	assert_int_equal(flow_table_expire(ft, 320050, UINT32_MAX, UINT32_MAX), 50);
	assert_int_equal(flow_table_expire(ft, 330000, UINT32_MAX, UINT32_MAX), 850);
	flow_table_destroy(ft);
}

/*
 * Idle flows wait for record room: a sweep ends at most max_end flows per call, and the
 * entries it did not examine stay owed, so the same instant's later calls end the rest.
 */
static void
sweep_waits_for_record_room(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(1000, &en);
	struct flow_key k;
	uint32_t i, total = 0, calls = 0;

	(void)state;
	for (i = 0; i < 1000; i++) {
		key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), 200000, FLOW_TC_UDP);
	}
	assert_int_equal(flow_table_expire(ft, 210000, UINT32_MAX, UINT32_MAX), 0); /* not yet due */
	assert_int_equal(flow_table_expire(ft, 330000, UINT32_MAX, 0), 0); /* no room: none */
	while (total < 1000 && calls < 1000) {
		uint32_t n = flow_table_expire(ft, 330000, UINT32_MAX, 64);

		assert_true(n <= 64);
		total += n;
		calls++;
	}
	assert_int_equal(total, 1000);
	assert_int_equal(calls, 16); /* 15 x 64 + 40 */
	flow_table_destroy(ft);
}

static void
time_never_steps_back(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(4, &en);
	struct flow_key k;
	struct flow_entry *e;
	const uint64_t later = 5000 + (3ull << 30); /* beyond the 2^31 ms rebase point */

	(void)state;
	key_n(&k, 1);
	e = flow_table_insert(ft, &k, flow_key_hash(&k), 5000, FLOW_TC_UDP);
	flow_table_touch(ft, e, 4000, FLOW_TC_UDP);
	assert_int_equal(flow_table_last_ms(ft, e), 5000);
	/* Relative times are rebased, absolute ones stay right. */
	flow_table_touch(ft, e, later, FLOW_TC_UDP);
	assert_int_equal(flow_table_last_ms(ft, e), later);
	assert_true(flow_table_first_ms(ft, e) >= 5000);
	assert_true(flow_table_first_ms(ft, e) < later);
	flow_table_destroy(ft);
}

static void
flush_ends_all(void **state)
{
	struct ended en = {0};
	struct flow_table *ft = make(64, &en);
	struct flow_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 40; i++) {
		if (i % 4 == 0)
			key6_n(&k, i);
		else
			key_n(&k, i);
		flow_table_insert(ft, &k, flow_key_hash(&k), i, i % 2 ? FLOW_TC_TCP : FLOW_TC_UDP);
	}
	flow_table_flush(ft);
	assert_int_equal(en.by_reason[FLOW_END_FLUSH], 40);
	for (i = 0; i < 40; i++) {
		key_n(&k, i);
		assert_null(flow_table_lookup(ft, &k, flow_key_hash(&k)));
	}
	flow_table_destroy(ft);
}

/*
 * Random inserts, ends and lookups against a plain array, a quarter of the keys IPv6: the
 * index never loses a flow, keys come back whole, and the IPv6 pool's count follows.
 */
static void
matches_reference_model(void **state)
{
	enum { CAP = 64, KEYS = 200, STEPS = 200000 };
	struct ended en = {0};
	struct flow_table_params p = {
		.capacity = CAP,
		.ipv6_capacity = CAP, /* so nothing is evicted behind the model's back */
		.timeout_ms = {300000, 10000, 120000, 60000},
		.on_end = count_end,
		.cb_ctx = &en,
	};
	struct flow_table *ft = flow_table_create(&p);
	bool present[KEYS] = {false};
	uint32_t npresent = 0, nv6 = 0, step;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	assert_non_null(ft);
	for (step = 0; step < STEPS; step++) {
		struct flow_key k, back;
		struct flow_entry *e;
		struct flow_table_stats st;
		uint32_t n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (uint32_t)(x % KEYS);
		if (n % 4 == 0)
			key6_n(&k, n);
		else
			key_n(&k, n);
		e = flow_table_lookup(ft, &k, flow_key_hash(&k));
		assert_int_equal(e != NULL, present[n]);
		if (e != NULL) {
			flow_table_key(ft, e, &back);
			assert_memory_equal(&back, &k, sizeof(k));
		}
		if (e != NULL && (x >> 20) % 2 == 0) {
			flow_table_end(ft, e, FLOW_END_CLOSED);
			present[n] = false;
			npresent--;
			nv6 -= n % 4 == 0;
		} else if (e == NULL && npresent < CAP) {
			/* Kept below capacity so nothing is evicted behind the model's back. */
			flow_table_insert(ft, &k, flow_key_hash(&k), step, FLOW_TC_UDP);
			present[n] = true;
			npresent++;
			nv6 += n % 4 == 0;
		}
		if (step % 1000 == 0) {
			flow_table_get_stats(ft, &st);
			assert_int_equal(st.active, npresent);
			assert_int_equal(st.ipv6_active, nv6);
		}
	}
	assert_int_equal(en.by_reason[FLOW_END_EVICTED], 0);
	flow_table_destroy(ft);
}

/*
 * The sweep against a model of every flow's end (its last packet plus its class's timeout),
 * through class changes (a FIN shortens a flow's timeout), calls with small budgets and no
 * room for records, and jumps of flow time that move the table's epoch: no flow ends before
 * its time, and none is left more than two sweep periods after it. The sweep passes over
 * blocks of entries whose bound says nothing in them ends yet; a bound left too late by any
 * of those events fails the second check.
 */
struct sweep_model {
	uint64_t now;
	bool present[3000];
	uint64_t last[3000];
	uint8_t tclass[3000];
	uint32_t timeout_ms[FLOW_TC_COUNT];
	uint32_t ended;
};

static void
model_end(void *ctx, struct flow_entry *e, enum flow_end_reason reason)
{
	struct sweep_model *m = ctx;
	const uint8_t *a = (const uint8_t *)&e->lo_addr; /* key_n's source 10.n is the lower */
	uint32_t n = a[1] | (uint32_t)a[2] << 8 | (uint32_t)a[3] << 16;

	(void)reason;
	assert_true(n < 3000 && m->present[n]);
	assert_true(m->last[n] + m->timeout_ms[m->tclass[n]] <= m->now); /* never early */
	m->present[n] = false;
	m->ended++;
}

static void
sweep_matches_end_times(void **state)
{
	enum { CAP = 1000, KEYS = 3000, STEPS = 200000 };
	static struct sweep_model m;
	struct flow_table_params p = {
		.capacity = CAP,
		.timeout_ms = {300000, 10000, 120000, 60000, 86400000},
		.on_end = model_end,
		.cb_ctx = &m,
	};
	struct flow_table *ft;
	uint64_t x = 88172645463325252ULL;
	uint32_t step, active = 0, i, checked = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	memcpy(m.timeout_ms, p.timeout_ms, sizeof(m.timeout_ms));
	m.now = 1000;
	ft = flow_table_create(&p);
	assert_non_null(ft);
	for (step = 0; step < STEPS; step++) {
		struct flow_key k;
		struct flow_entry *e;
		uint32_t n, budget, room;
		uint8_t tc;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		m.now += (x >> 8) % 500;
		if ((x >> 20) % 20000 == 0)
			m.now += 1ull << 29; /* every flow overdue; four of these move the epoch */
		n = (uint32_t)((x >> 24) % KEYS);
		tc = (uint8_t)((x >> 40) % FLOW_TC_COUNT);
		key_n(&k, n);
		e = flow_table_lookup(ft, &k, flow_key_hash(&k));
		assert_int_equal(e != NULL, m.present[n]);
		if (e != NULL) {
			/* Mostly the same class; one packet in eight changes it (either way). */
			if ((x >> 44) % 8 != 0)
				tc = m.tclass[n];
			flow_table_touch(ft, e, m.now, tc);
			m.last[n] = m.now;
			m.tclass[n] = tc;
		} else if (active - m.ended < CAP) {
			flow_table_insert(ft, &k, flow_key_hash(&k), m.now, tc);
			m.present[n] = true;
			m.last[n] = m.now;
			m.tclass[n] = tc;
			active++;
		}
		/* Three calls in four may read the whole table; the fourth is cut short. */
		budget = (x >> 48) % 4 != 0 ? UINT32_MAX : (uint32_t)((x >> 50) % 8);
		room = (x >> 56) % 4 != 0 ? UINT32_MAX : (uint32_t)((x >> 58) % 3);
		flow_table_expire(ft, m.now, budget, room);
		if (budget != UINT32_MAX || room != UINT32_MAX || step % 16 != 0)
			continue;
		for (i = 0; i < KEYS; i++) /* never late by more than the sweep's pace allows */
			if (m.present[i] &&
			    m.last[i] + m.timeout_ms[m.tclass[i]] + 2 * FLOW_SWEEP_PERIOD_MS < m.now) {
				print_error("flow %u (class %u) should have ended at %llu, now %llu\n", i,
					    m.tclass[i],
					    (unsigned long long)(m.last[i] + m.timeout_ms[m.tclass[i]]),
					    (unsigned long long)m.now);
				fail();
			}
		checked++;
	}
	assert_true(m.ended > 10000); /* the run ended many flows by the sweep */
	assert_true(checked > 1000);
	flow_table_destroy(ft);
}

static void
bad_params(void **state)
{
	struct flow_table_params p = {.capacity = 0};

	(void)state;
	assert_null(flow_table_create(&p));
	assert_null(flow_table_create(NULL));
}

/*
 * Hash flooding: keys crafted to share one value of the old, unkeyed CRC32C hash spread over
 * the keyed table as random keys do (the old hash put them all in one probe run: 20,000
 * inserts would walk 2*10^8 slots).
 */
static void
crafted_collisions_do_not_cluster(void **state)
{
	const uint32_t n = 20000;
	struct flow_table_params p = {.capacity = 65536, .timeout_ms = {1000, 1000, 1000, 1000}};
	struct flow_key *keys = calloc(n, sizeof(*keys));
	struct flow_table *ft;
	uint32_t i, made, max;
	uint64_t sum;

	(void)state;
	assert_non_null(keys);
	made = crc_colliding_keys(keys, n);
	assert_int_equal(made, n);
	for (i = 1; i < n; i++) {
		/* The attack set is real: distinct keys, one old hash value. */
		assert_int_equal(old_flow_hash(&keys[i]), old_flow_hash(&keys[0]));
		assert_memory_not_equal(&keys[i], &keys[i - 1], sizeof(keys[0]));
	}
	ft = flow_table_create(&p);
	assert_non_null(ft);
	for (i = 0; i < n; i++) {
		uint32_t h = flow_key_hash(&keys[i]);

		assert_null(flow_table_lookup(ft, &keys[i], h));
		assert_non_null(flow_table_insert(ft, &keys[i], h, 1, FLOW_TC_UDP));
	}
	for (i = 0; i < n; i++)
		assert_non_null(flow_table_lookup(ft, &keys[i], flow_key_hash(&keys[i])));
	flow_table_probe_stats(ft, &max, &sum);
	print_message("crafted keys: longest probe %u, mean %.3f slots from home\n", max,
		      (double)sum / n);
	/* 20,000 keys in 131,072 slots (15% full): random keys stay within a few slots. */
	assert_true(max < 32);
	assert_true(sum < 2 * (uint64_t)n);
	flow_table_destroy(ft);
	free(keys);
}

/* SipHash-2-4 against the reference vectors (key 00..0f, message 00..len-1). */
static void
siphash_reference_vectors(void **state)
{
	const uint64_t key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
	uint8_t msg[64];
	int i;

	(void)state;
	for (i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	assert_true(keyed_hash_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(keyed_hash_siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
	assert_true(keyed_hash_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

/* The flow hash depends on the secret: another secret, other values (for the same keys). */
static void
flow_hash_is_keyed(void **state)
{
	uint64_t secret[KEYED_HASH_SECRET_WORDS];
	struct flow_key k;
	uint32_t before[64];
	int i, same = 0;

	(void)state;
	assert_int_equal(keyed_hash_init(), 0);
	memcpy(secret, keyed_hash_secret, sizeof(secret));
	memset(&k, 0, sizeof(k));
	k.ip_version = 4;
	k.l4_proto = 6;
	for (i = 0; i < 64; i++) {
		k.lo_port = (uint16_t)i;
		before[i] = flow_key_hash(&k);
	}
	keyed_hash_secret[1] ^= 1; /* one bit of the secret */
	for (i = 0; i < 64; i++) {
		k.lo_port = (uint16_t)i;
		same += flow_key_hash(&k) == before[i];
	}
	memcpy(keyed_hash_secret, secret, sizeof(secret));
	assert_true(same <= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(symmetric_key),
		cmocka_unit_test(insert_lookup_end),
		cmocka_unit_test(full_table_evicts_lru),
		cmocka_unit_test(eviction_prefers_idle_flows),
		cmocka_unit_test(ipv6_pool_full_evicts_ipv6),
		cmocka_unit_test(timeouts_per_class),
		cmocka_unit_test(sweep_paced_by_time),
		cmocka_unit_test(sweep_waits_for_record_room),
		cmocka_unit_test(time_never_steps_back),
		cmocka_unit_test(flush_ends_all),
		cmocka_unit_test(matches_reference_model),
		cmocka_unit_test(sweep_matches_end_times),
		cmocka_unit_test(bad_params),
		cmocka_unit_test(crafted_collisions_do_not_cluster),
		cmocka_unit_test(siphash_reference_vectors),
		cmocka_unit_test(flow_hash_is_keyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
