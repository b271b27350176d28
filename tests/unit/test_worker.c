/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* The worker through real nDPI: what a flow becomes, packet by packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "dpi.h"
#include "pktbuild.h"
#include "worker.h"

#define MAX_RECS 64

struct sink {
	struct flow_record recs[MAX_RECS]; /* the first MAX_RECS records */
	int n; /* all records */
};

static void
collect(void *ctx, const struct flow_record *rec)
{
	struct sink *s = ctx;

	if (s->n < MAX_RECS)
		s->recs[s->n] = *rec;
	s->n++;
}

static struct worker *
make(struct sink *s, uint32_t capacity, uint32_t states, enum worker_malformed_policy mal)
{
	struct worker_params p = {
		.flow_capacity = capacity,
		.dpi_states = states,
		.timeout_ms = {[FLOW_TC_TCP] = 300000,
			       [FLOW_TC_TCP_CLOSED] = 10000,
			       [FLOW_TC_UDP] = 120000,
			       [FLOW_TC_OTHER] = 60000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.malformed = mal,
		.on_record = collect,
		.record_ctx = s,
	};
	struct worker *w = worker_create(&p);

	assert_non_null(w);
	return w;
}

static uint8_t
feed(struct worker *w, const struct pkt *p, uint64_t t_us)
{
	struct worker_pkt wp = {.data = p->b, .len = p->len, .wire_len = p->len, .time_us = t_us};
	uint8_t action = 0xff;

	worker_process(w, &wp, 1, &action);
	return action;
}

static const char *
label(struct worker *w, const struct flow_record *r)
{
	static char buf[64];

	return dpi_label(worker_dpi(w), &r->verdict, buf, sizeof(buf));
}

static void
dns_flow(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 64, 16, WORKER_MALFORMED_PASS);
	struct worker_stats st;
	struct pkt q;
	uint32_t ip;

	(void)state;
	eth(&q, 0x0800);
	ip = ipv4(&q, "192.168.1.10", "192.168.1.1", IPPROTO_UDP, 0, 0);
	udp(&q, 33333, 53, 0);
	dns_query(&q, 0x1234, "www.example.org");
	fix_ipv4_udp(&q, ip);
	assert_int_equal(feed(w, &q, 1000000), WORKER_ACTION_PASS);
	/* nDPI knows it is DNS, but keeps the flow for the response (extra dissection). */
	worker_get_stats(w, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.dpi_states_in_use, 1);

	eth(&q, 0x0800);
	ip = ipv4(&q, "192.168.1.1", "192.168.1.10", IPPROTO_UDP, 0, 0);
	udp(&q, 53, 33333, 0);
	dns_query(&q, 0x1234, "www.example.org");
	q.b[ip + 20 + 8 + 2] = 0x81; /* QR: a response... */
	q.b[ip + 20 + 8 + 3] = 0x80;
	q.b[ip + 20 + 8 + 7] = 1; /* ...with one answer: www.example.org A 192.0.2.7 */
	putn(&q, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x07", 16);
	fix_ipv4_udp(&q, ip);
	assert_int_equal(feed(w, &q, 1002000), WORKER_ACTION_PASS);
	worker_get_stats(w, &st);
	assert_int_equal(st.flows_created, 1);
	assert_int_equal(st.flows_detected, 1);
	assert_int_equal(st.dpi_states_in_use, 0); /* state released at the verdict */

	worker_flush(w);
	assert_int_equal(s.n, 1);
	assert_string_equal(label(w, &s.recs[0]), "DNS");
	assert_string_equal(s.recs[0].meta.host, "www.example.org");
	assert_int_equal(s.recs[0].dpi_state, FLOW_DPI_DETECTED);
	assert_int_equal(s.recs[0].end_reason, FLOW_END_FLUSH);
	assert_int_equal(s.recs[0].packets, 2);
	assert_int_equal(s.recs[0].first_ms, 1000);
	assert_int_equal(s.recs[0].last_ms, 1002);
	/* The querier sent the first packet: it is the source. */
	assert_int_equal(s.recs[0].initiator_hi, 1); /* 192.168.1.10 > 192.168.1.1 */
	worker_destroy(w);
}

static void
tcp_packet(struct pkt *p, bool from_client, uint8_t flags, const char *payload)
{
	uint32_t n = payload != NULL ? (uint32_t)strlen(payload) : 0;

	eth(p, 0x0800);
	if (from_client) {
		ipv4(p, "10.1.1.1", "10.2.2.2", IPPROTO_TCP, 0, 20 + n);
		tcp(p, 51000, 80, flags, 0);
	} else {
		ipv4(p, "10.2.2.2", "10.1.1.1", IPPROTO_TCP, 0, 20 + n);
		tcp(p, 80, 51000, flags, 0);
	}
	if (n > 0)
		putn(p, payload, n);
}

static void
http_flow_and_fin_teardown(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 64, 16, WORKER_MALFORMED_PASS);
	struct pkt p;
	uint64_t t = 5000000;

	(void)state;
	tcp_packet(&p, true, 0x02, NULL);
	feed(w, &p, t);
	tcp_packet(&p, false, 0x12, NULL);
	feed(w, &p, t + 10);
	tcp_packet(&p, true, 0x10, NULL);
	feed(w, &p, t + 20);
	tcp_packet(&p, true, 0x18,
		   "GET /index.html HTTP/1.1\r\nHost: flowtag.example\r\nUser-Agent: test\r\n\r\n");
	feed(w, &p, t + 30);
	tcp_packet(&p, false, 0x18, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	feed(w, &p, t + 40);
	tcp_packet(&p, true, 0x11, NULL);
	feed(w, &p, t + 50);
	tcp_packet(&p, false, 0x11, NULL);
	feed(w, &p, t + 60);
	assert_int_equal(s.n, 0);

	/* FIN both ways: the flow ends once the closed linger (10 s) has passed. */
	worker_tick(w, t + 60 + 9000000);
	assert_int_equal(s.n, 0);
	worker_tick(w, t + 60 + 10000000);
	assert_int_equal(s.n, 1);
	assert_string_equal(label(w, &s.recs[0]), "HTTP");
	assert_string_equal(s.recs[0].meta.host, "flowtag.example");
	assert_int_equal(s.recs[0].end_reason, FLOW_END_CLOSED);
	assert_int_equal(s.recs[0].packets, 7);
	assert_int_equal(s.recs[0].initiator_hi, 0);
	worker_destroy(w);
}

static void
syn_after_close_starts_new_flow(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 64, 16, WORKER_MALFORMED_PASS);
	struct worker_stats st;
	struct pkt p;

	(void)state;
	tcp_packet(&p, true, 0x02, NULL);
	feed(w, &p, 1000);
	tcp_packet(&p, false, 0x14, NULL); /* RST */
	feed(w, &p, 2000);
	tcp_packet(&p, true, 0x02, NULL); /* port reuse */
	feed(w, &p, 3000);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.recs[0].end_reason, FLOW_END_CLOSED);
	worker_get_stats(w, &st);
	assert_int_equal(st.flows_created, 2);
	worker_destroy(w);
}

static void
gives_up_after_budget(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 64, 16, WORKER_MALFORMED_PASS);
	struct worker_stats st;
	struct pkt p;
	int i;

	(void)state;
	for (i = 0; i < 30; i++) {
		eth(&p, 0x0800);
		ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 8 + 16);
		udp(&p, 40001, 40002, 16);
		/* Payload nDPI has no dissector for. */
		putn(&p, "\x9a\x13\x77\x01\xfe\x00\x42\x42\x10\x20\x30\x40\x50\x60\x70\x80", 16);
		p.b[p.len - 1] = (uint8_t)i;
		feed(w, &p, 1000 + (uint64_t)i);
		worker_get_stats(w, &st);
		/* Inspected up to the budget (24) plus the packet that crossed it, no further. */
		if (i < 24)
			assert_int_equal(st.dpi_states_in_use, 1);
	}
	worker_get_stats(w, &st);
	assert_int_equal(st.dpi_states_in_use, 0);
	assert_int_equal(st.dpi_packets, 25);
	assert_int_equal(st.flows_gave_up, 1);
	worker_flush(w);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.recs[0].dpi_state, FLOW_DPI_GAVE_UP);
	assert_int_equal(s.recs[0].packets, 30);
	worker_destroy(w);
}

static void
state_pool_exhausted(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 64, 16, WORKER_MALFORMED_PASS);
	struct worker_stats st;
	struct pkt p;
	int i, no_state = 0;

	(void)state;
	/* 20 TCP SYNs with no verdict yet: 16 take a state, 4 find none. */
	for (i = 0; i < 20; i++) {
		eth(&p, 0x0800);
		ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20);
		tcp(&p, (uint16_t)(20000 + i), 443, 0x02, 0);
		feed(w, &p, 1000);
	}
	worker_get_stats(w, &st);
	assert_int_equal(st.dpi_no_state, 4);
	assert_int_equal(st.dpi_states_in_use, 16);
	worker_flush(w);
	for (i = 0; i < s.n; i++)
		no_state += s.recs[i].dpi_state == FLOW_DPI_NO_STATE;
	assert_int_equal(no_state, 4);
	worker_get_stats(w, &st);
	assert_int_equal(st.dpi_states_in_use, 0);
	worker_destroy(w);
}

static void
eviction_produces_records(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 16, 16, WORKER_MALFORMED_PASS);
	struct worker_stats st;
	struct pkt p;
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		eth(&p, 0x0800);
		ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20);
		tcp(&p, (uint16_t)(30000 + i), 443, 0x02, 0);
		feed(w, &p, 1000 + (uint64_t)i);
	}
	worker_get_stats(w, &st);
	assert_int_equal(st.flows_ended[FLOW_END_EVICTED], 4);
	assert_int_equal(st.flows_active, 16);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.recs[0].end_reason, FLOW_END_EVICTED);
	/* Evicted before a verdict: the state came back and the flow got nDPI's guess. */
	assert_int_equal(s.recs[0].dpi_state, FLOW_DPI_GAVE_UP);
	assert_int_equal(st.dpi_states_in_use, 16);
	worker_destroy(w);
}

static void
malformed_policy(void **state)
{
	struct sink s = {0};
	struct worker *pass = make(&s, 16, 16, WORKER_MALFORMED_PASS);
	struct worker *drop = make(&s, 16, 16, WORKER_MALFORMED_DROP);
	struct worker_stats st;
	struct pkt p;

	(void)state;
	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20);
	tcp(&p, 1, 2, 0x02, 0);
	p.len -= 10; /* TCP header cut short */
	assert_int_equal(feed(pass, &p, 1), WORKER_ACTION_PASS);
	assert_int_equal(feed(drop, &p, 1), WORKER_ACTION_DROP);
	worker_get_stats(drop, &st);
	assert_int_equal(st.parse[PARSE_TCP_TRUNCATED], 1);
	assert_int_equal(st.dropped_malformed, 1);
	assert_int_equal(st.flows_created, 0);

	/* Non-IP is not malformed: passed even under the drop policy. */
	eth(&p, 0x0806);
	putn(&p, "\0\1\10\0\6\4\0\1", 8);
	assert_int_equal(feed(drop, &p, 2), WORKER_ACTION_PASS);
	worker_destroy(pass);
	worker_destroy(drop);
}

/* Hostile payloads reach nDPI's dissectors too; none may crash a worker (ASan watches). */
static void
hostile_payloads_through_ndpi(void **state)
{
	struct sink s = {0};
	struct worker *w = make(&s, 256, 256, WORKER_MALFORMED_PASS);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	static const uint16_t ports[] = {53, 80, 443, 22, 5060, 1883, 3478, 8080, 445, 123};
	struct worker_stats st;
	struct pkt p;
	int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		uint32_t n, k;
		bool is_tcp = i & 1;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (uint32_t)(x % 600);
		eth(&p, 0x0800);
		ipv4(&p, "10.0.0.1", "10.0.0.2", is_tcp ? IPPROTO_TCP : IPPROTO_UDP, 0,
		     (is_tcp ? 20 : 8) + n);
		if (is_tcp)
			tcp(&p, (uint16_t)(1024 + i % 64), ports[i % 10], 0x18, 0);
		else
			udp(&p, (uint16_t)(1024 + i % 64), ports[i % 10], n);
		for (k = 0; k < n; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			p.b[p.len++] = (uint8_t)x;
		}
		feed(w, &p, 1000 + (uint64_t)i);
	}
	worker_flush(w);
	worker_get_stats(w, &st);
	assert_int_equal((uint64_t)s.n, st.flows_created); /* every flow ended with a record */
	worker_destroy(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dns_flow),
		cmocka_unit_test(http_flow_and_fin_teardown),
		cmocka_unit_test(syn_after_close_starts_new_flow),
		cmocka_unit_test(gives_up_after_budget),
		cmocka_unit_test(state_pool_exhausted),
		cmocka_unit_test(eviction_produces_records),
		cmocka_unit_test(malformed_policy),
		cmocka_unit_test(hostile_payloads_through_ndpi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
