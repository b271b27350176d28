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

#include "config.h"
#include "dpi.h"
#include "frag_table.h"
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

/* The last packet's fate, as the worker reported it, and a log of every fate in order. */
static struct worker_out last_out;
static int outs;
#define LOG_MAX 64
static struct {
	uintptr_t id; /* the opaque handle: the packet's number */
	uint8_t action;
	uint8_t chain;
} out_log[LOG_MAX];

static void
on_packet(void *ctx, const struct worker_out *out)
{
	(void)ctx;
	last_out = *out;
	if (outs < LOG_MAX) {
		out_log[outs].id = (uintptr_t)out->opaque;
		out_log[outs].action = out->action;
		out_log[outs].chain = out->chain;
	}
	outs++;
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
		.on_packet = on_packet,
	};
	struct worker *w = worker_create(&p);

	assert_non_null(w);
	return w;
}

static uint8_t
feed(struct worker *w, const struct pkt *p, uint64_t t_us)
{
	struct worker_pkt wp = {.data = p->b, .len = p->len, .wire_len = p->len, .time_us = t_us};
	int before = outs;

	worker_process(w, &wp, 1);
	assert_int_equal(outs, before + 1); /* no policy, no hold: every packet comes straight back */
	return last_out.action;
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

/* ---- with a policy ---- */

static struct policy *
policy_from(const char *yaml, struct dpi **names)
{
	struct dpi_params dp = {.max_states = 1};
	char err[CONFIG_ERR_MAX];
	struct config cfg;
	struct policy *p;

	*names = dpi_create(&dp);
	config_defaults(&cfg);
	if (config_load_string(&cfg, "w.yaml", yaml, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	p = policy_compile(config_policy(&cfg), *names, "w.yaml", err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	config_release(&cfg);
	return p;
}

static struct worker *
make_with(struct sink *s, const struct policy *p)
{
	struct worker_params wp = {
		.flow_capacity = 64,
		.dpi_states = 16,
		.timeout_ms = {300000, 10000, 120000, 60000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.policy = p,
		.on_record = collect,
		.record_ctx = s,
		.on_packet = on_packet,
	};
	struct worker *w = worker_create(&wp);

	assert_non_null(w);
	outs = 0;
	return w;
}

/* Feed packet number `id` (its opaque handle), expecting `n_out` fates to come out now. */
static void
feed_id(struct worker *w, const struct pkt *p, uintptr_t id, uint8_t flags, int n_out)
{
	struct worker_pkt wp = {.data = p->b, .len = p->len, .wire_len = p->len,
				.time_us = 1000000 + id * 1000, .opaque = (void *)id, .flags = flags};
	int before = outs;

	worker_process(w, &wp, 1);
	assert_int_equal(outs - before, n_out);
}

static const char *const http_policy =
	"chains:\n"
	"  - {name: web, tag: dscp, dscp: 18}\n"
	"  - {name: other, tag: nsh, spi: 1}\n"
	"rules:\n"
	"  - {protocol: HTTP, chain: web}\n"
	"policy:\n"
	"  default: {chain: other}\n"
	"  unclassified: hold\n"
	"  hold_packets: %d\n";

static void
http_conversation(struct pkt *p, int i)
{
	switch (i) {
	case 0:
		tcp_packet(p, true, 0x02, NULL);
		break;
	case 1:
		tcp_packet(p, false, 0x12, NULL);
		break;
	case 2:
		tcp_packet(p, true, 0x10, NULL);
		break;
	case 3:
		tcp_packet(p, true, 0x18, "GET / HTTP/1.1\r\nHost: h.example\r\n\r\n");
		break;
	default: /* nDPI's verdict on HTTP is final with the response */
		tcp_packet(p, false, 0x18, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
					   "Content-Length: 0\r\n\r\n");
		break;
	}
}

static void
hold_until_verdict(void **state)
{
	struct sink s = {0};
	struct dpi *names;
	char yaml[512];
	struct policy *p;
	struct worker *w;
	struct pkt pk;
	int i;

	(void)state;
	snprintf(yaml, sizeof(yaml), http_policy, 4);
	p = policy_from(yaml, &names);
	w = make_with(&s, p);
	/* SYN, SYN-ACK, ACK, GET wait; the response brings the verdict and all five leave. */
	for (i = 0; i < 4; i++) {
		http_conversation(&pk, i);
		feed_id(w, &pk, (uintptr_t)i + 1, 0, 0);
	}
	http_conversation(&pk, 4);
	feed_id(w, &pk, 5, 0, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(out_log[i].id, i + 1);
		assert_int_equal(out_log[i].action, WORKER_ACTION_TAG);
		assert_int_equal(out_log[i].chain, 0); /* web */
	}
	worker_flush(w);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.recs[0].chain, "web");
	assert_int_equal(s.recs[0].action, POLICY_CHAIN);
	/* Held, packet 1 was the first to leave, and it left with the decision. */
	assert_int_equal(s.recs[0].verdict_packet, 1);
	worker_destroy(w);
	policy_destroy(p);
	dpi_destroy(names);
}

static void
hold_overflow_goes_default(void **state)
{
	struct sink s = {0};
	struct worker_stats st;
	struct dpi *names;
	char yaml[512];
	struct policy *p;
	struct worker *w;
	struct pkt pk;

	(void)state;
	snprintf(yaml, sizeof(yaml), http_policy, 2);
	p = policy_from(yaml, &names);
	w = make_with(&s, p);
	http_conversation(&pk, 0);
	feed_id(w, &pk, 1, 0, 0);
	http_conversation(&pk, 1);
	feed_id(w, &pk, 2, 0, 0);
	/* The third does not fit: all three leave on the default action, oldest first. */
	http_conversation(&pk, 2);
	feed_id(w, &pk, 3, 0, 3);
	assert_int_equal(out_log[0].id, 1);
	assert_int_equal(out_log[2].id, 3);
	assert_int_equal(out_log[2].chain, 1); /* other */
	/* Past the overflow, packets go out at once on the default action... */
	http_conversation(&pk, 3);
	feed_id(w, &pk, 4, 0, 1);
	assert_int_equal(out_log[3].chain, 1); /* other */
	/* ...until the verdict: from then on the flow's own chain applies. */
	http_conversation(&pk, 4);
	feed_id(w, &pk, 5, 0, 1);
	assert_int_equal(out_log[4].chain, 0); /* web */
	worker_get_stats(w, &st);
	assert_int_equal(st.hold_overflow, 1);
	assert_int_equal(st.held, 2);
	worker_destroy(w);
	policy_destroy(p);
	dpi_destroy(names);
}

static void
held_packets_leave_when_the_flow_ends(void **state)
{
	struct sink s = {0};
	struct dpi *names;
	char yaml[512];
	struct policy *p;
	struct worker *w;
	struct pkt pk;

	(void)state;
	snprintf(yaml, sizeof(yaml), http_policy, 8);
	p = policy_from(yaml, &names);
	w = make_with(&s, p);
	http_conversation(&pk, 0);
	feed_id(w, &pk, 1, 0, 0);
	worker_flush(w); /* no verdict ever came: nDPI's give-up decides, the packet leaves */
	assert_int_equal(outs, 1);
	assert_int_equal(out_log[0].id, 1);
	assert_int_equal(out_log[0].chain, 0); /* web: nDPI's give-up guesses HTTP by port 80 */
	assert_int_equal(s.n, 1);
	worker_destroy(w);
	policy_destroy(p);
	dpi_destroy(names);
}

/*
 * A flow decided under one policy and idle since keeps that decision; its record names the
 * chain its packets took and that policy's version, even after a new policy reorders chains.
 */
static void
record_names_the_deciding_chain(void **state)
{
	struct sink s = {0};
	struct dpi *names1, *names2;
	struct policy *p1, *p2;
	struct worker *w;
	struct pkt pk;
	int i;

	(void)state;
	p1 = policy_from("chains: [{name: web, tag: dscp, dscp: 18}]\n"
			 "rules: [{protocol: HTTP, chain: web}]\npolicy: {version: 1}\n",
			 &names1);
	p2 = policy_from("chains: [{name: yt, tag: nsh, spi: 7}, {name: web, tag: dscp, dscp: 18}]\n"
			 "rules: [{protocol: HTTP, chain: web}]\npolicy: {version: 2}\n",
			 &names2);
	w = make_with(&s, p1);
	for (i = 0; i < 6; i++) {
		http_conversation(&pk, i);
		feed_id(w, &pk, (uintptr_t)i + 1, 0, 1);
	}
	worker_set_policy(w, p2); /* "web" is now chain 1, chain 0 is "yt" */
	worker_flush(w);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.recs[0].chain, "web");
	assert_int_equal(s.recs[0].policy_version, 1);
	worker_destroy(w);
	policy_destroy(p1);
	policy_destroy(p2);
	dpi_destroy(names1);
	dpi_destroy(names2);
}

/*
 * Policy generations never come back: a flow decided for chain index 0 under policy A, then
 * `swaps` policy changes to B (where index 0 is another chain and the flow's rule names index
 * 1), then one more packet: it must leave tagged for B's chain. With an 8-bit generation, 256
 * swaps made A's decision look current and the packet left with B's chain 0 (VLAN 300).
 */
static void
decided_under(uint32_t first_gen, int swaps, uint8_t want_chain)
{
	struct sink s = {0};
	struct dpi *names1, *names2;
	struct policy *a, *b;
	struct worker *w;
	struct pkt pk;
	int i;

	a = policy_from("chains: [{name: web, tag: nsh, spi: 10}]\n"
			"rules: [{protocol: HTTP, chain: web}]\npolicy: {version: 1}\n",
			&names1);
	b = policy_from("chains: [{name: voip, tag: vlan, vid: 300}, {name: web, tag: nsh, spi: 10}]\n"
			"rules: [{protocol: HTTP, chain: web}]\npolicy: {version: 2}\n",
			&names2);
	w = make_with(&s, a);
	if (first_gen != 0)
		worker_test_set_policy_gen(w, first_gen);
	for (i = 0; i < 5; i++) {
		http_conversation(&pk, i);
		feed_id(w, &pk, (uintptr_t)i + 1, 0, 1);
	}
	assert_int_equal(last_out.action, WORKER_ACTION_TAG);
	assert_int_equal(last_out.chain, 0); /* decided under A: "web", index 0 */
	for (i = 0; i < swaps; i++) /* alternating, the last one B */
		worker_set_policy(w, (swaps - 1 - i) % 2 == 0 ? b : a);
	http_conversation(&pk, 5);
	feed_id(w, &pk, 6, 0, 1);
	assert_int_equal(last_out.action, WORKER_ACTION_TAG);
	assert_int_equal(last_out.chain, want_chain);
	assert_int_equal(last_out.tag->kind, TAG_NSH);
	assert_int_equal(last_out.tag->spi, 10);
	worker_destroy(w);
	policy_destroy(a);
	policy_destroy(b);
	dpi_destroy(names1);
	dpi_destroy(names2);
}

static void
policy_generation_256_swaps(void **state)
{
	(void)state;
	decided_under(0, 256, 1); /* an 8-bit generation is back where it was */
}

static void
policy_generation_wraps_safely(void **state)
{
	(void)state;
	/* Decided at the counter's last value; the next swap wraps it: the flow decides again. */
	decided_under(UINT32_MAX, 1, 1);
	decided_under(UINT32_MAX - 1, 3, 1);
	decided_under(UINT32_MAX - 1, 256, 1);
}

static void
drop_after_verdict(void **state)
{
	struct sink s = {0};
	struct dpi *names;
	struct policy *p;
	struct worker *w;
	struct pkt pk;
	int i;

	(void)state;
	p = policy_from("rules: [{protocol: HTTP, action: drop}]\n", &names);
	w = make_with(&s, p);
	for (i = 0; i < 6; i++) {
		http_conversation(&pk, i);
		feed_id(w, &pk, (uintptr_t)i + 1, 0, 1);
	}
	/* Untagged (default pass) until the response brings the verdict, dropped from then on. */
	for (i = 0; i < 4; i++)
		assert_int_equal(out_log[i].action, WORKER_ACTION_PASS);
	assert_int_equal(out_log[4].action, WORKER_ACTION_DROP);
	assert_int_equal(out_log[5].action, WORKER_ACTION_DROP);
	worker_flush(w);
	assert_int_equal(s.recs[0].action, POLICY_DROP);
	assert_int_equal(s.recs[0].verdict_packet, 5);
	worker_destroy(w);
	policy_destroy(p);
	dpi_destroy(names);
}

static void
nsh_and_return_ports_are_not_classified(void **state)
{
	struct sink s = {0};
	struct worker_stats st;
	struct dpi *names;
	struct policy *p;
	struct worker *w;
	struct pkt pk;

	(void)state;
	p = policy_from("policy: {nsh_in: decap}\n", &names);
	w = make_with(&s, p);
	eth(&pk, 0x894f);
	putn(&pk, "\x0f\xc6\x01\x03\x00\x00\x0a\xfe", 8);
	feed_id(w, &pk, 1, 0, 1);
	assert_int_equal(out_log[0].action, WORKER_ACTION_DECAP);
	http_conversation(&pk, 3);
	feed_id(w, &pk, 2, WORKER_PKT_RETURN, 1);
	assert_int_equal(out_log[1].action, WORKER_ACTION_PASS);
	worker_get_stats(w, &st);
	assert_int_equal(st.parse[PARSE_NSH], 1);
	assert_int_equal(st.return_port, 1);
	assert_int_equal(st.flows_created, 0);
	worker_destroy(w);
	policy_destroy(p);
	dpi_destroy(names);
}

/* ---- IP fragments ---- */

/* A fragment of the HTTP client's packets: IPv4 id `id`, at byte `offset` of its datagram,
 * `n` bytes of data (the first one: the TCP header and the GET request). */
static void
client_fragment(struct pkt *p, uint16_t id, uint16_t offset, bool more)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: h.example\r\n\r\n";
	uint32_t ip;

	if (offset == 0) {
		tcp_packet(p, true, 0x18, get);
		ip = 14;
	} else {
		eth(p, 0x0800);
		ip = ipv4(p, "10.1.1.1", "10.2.2.2", IPPROTO_TCP, 0, 64);
		memset(p->b + p->len, 'x', 64);
		p->len += 64;
	}
	p->b[ip + 4] = (uint8_t)(id >> 8);
	p->b[ip + 5] = (uint8_t)id;
	p->b[ip + 6] = (uint8_t)((more ? 0x20 : 0) | (offset / 8) >> 8);
	p->b[ip + 7] = (uint8_t)(offset / 8);
}

static struct worker *
make_frag(struct sink *s, const struct policy *p, uint32_t frag_capacity, uint32_t frag_held)
{
	struct worker_params wp = {
		.flow_capacity = 64,
		.dpi_states = 16,
		.timeout_ms = {300000, 10000, 120000, 60000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.frag_capacity = frag_capacity,
		.frag_held = frag_held,
		.frag_timeout_ms = 2000,
		.policy = p,
		.on_record = collect,
		.record_ctx = s,
		.on_packet = on_packet,
	};
	struct worker *w = worker_create(&wp);

	assert_non_null(w);
	outs = 0;
	return w;
}

static void
fragments_follow_their_flow(void **state)
{
	struct worker_stats st;
	struct sink s = {0};
	struct dpi *names;
	char yaml[512];
	struct policy *p;
	struct worker *w;
	struct pkt pk;
	int i;

	(void)state;
	snprintf(yaml, sizeof(yaml), http_policy, 8);
	p = policy_from(yaml, &names);
	w = make_frag(&s, p, 0, 0);
	/* In order, before the verdict: the GET's later fragment waits with the flow's packets. */
	for (i = 0; i < 3; i++) {
		http_conversation(&pk, i);
		feed_id(w, &pk, (uintptr_t)i + 1, 0, 0);
	}
	client_fragment(&pk, 0x1111, 0, true);
	feed_id(w, &pk, 4, 0, 0);
	client_fragment(&pk, 0x1111, 56, false);
	feed_id(w, &pk, 5, 0, 0);
	http_conversation(&pk, 4);
	feed_id(w, &pk, 6, 0, 6);
	for (i = 0; i < 6; i++) {
		assert_int_equal(out_log[i].id, i + 1);
		assert_int_equal(out_log[i].action, WORKER_ACTION_TAG);
		assert_int_equal(out_log[i].chain, 0); /* web, as the flow */
	}
	/* Out of order, after the verdict: the later fragment waits for its first, then both go
	 * out with the flow's tag, the first one first. */
	client_fragment(&pk, 0x2222, 56, false);
	feed_id(w, &pk, 7, 0, 0);
	client_fragment(&pk, 0x2222, 0, true);
	feed_id(w, &pk, 8, 0, 2);
	assert_int_equal(out_log[6].id, 8);
	assert_int_equal(out_log[7].id, 7);
	assert_int_equal(out_log[7].action, WORKER_ACTION_TAG);
	assert_int_equal(out_log[7].chain, 0);
	/* A later fragment whose first never comes waits, then leaves untagged (malformed: pass)
	 * when its datagram times out. */
	client_fragment(&pk, 0x3333, 56, false);
	feed_id(w, &pk, 9, 0, 0);
	worker_tick(w, 1000000 + 9 * 1000 + 2500 * 1000);
	assert_int_equal(outs, 9);
	assert_int_equal(out_log[8].id, 9);
	assert_int_equal(out_log[8].action, WORKER_ACTION_PASS);
	worker_get_stats(w, &st);
	assert_int_equal(st.fragments_attributed, 2);
	assert_int_equal(st.fragments_waited, 2);
	assert_int_equal(st.fragments_unattributed, 1);
	assert_int_equal(st.parse[PARSE_FRAGMENT], 3);
	assert_int_equal(st.fragment_datagrams, 0); /* the two whole ones ended when complete */
	assert_int_equal(st.fragments_waiting, 0);
	worker_flush(w);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.recs[0].packets, 8); /* 6 + the two of the second datagram */
	assert_int_equal(s.recs[0].rev_packets, 2); /* SYN-ACK, response */
	worker_destroy(w);
	policy_destroy(p);
	dpi_destroy(names);
}

static void
ipv6_fragments_follow_their_flow(void **state)
{
	struct worker_stats st;
	struct sink s = {0};
	struct worker *w = make(&s, 64, 16, WORKER_MALFORMED_DROP);
	struct pkt q;
	int later;

	(void)state;
	for (later = 0; later < 2; later++) {
		uint32_t ip, fh;

		eth(&q, 0x86dd);
		ip = ipv6(&q, "2001:db8::1", "2001:db8::2", 44 /* fragment header */, 0);
		fh = q.len;
		put8(&q, IPPROTO_UDP);
		put8(&q, 0);
		put16(&q, later ? (uint16_t)(48 | 0) : 1); /* offset 48 bytes, or 0 with M */
		put16(&q, 0xabcd);
		put16(&q, 0x0001);
		if (!later) {
			udp(&q, 40000, 53, 0);
			dns_query(&q, 0x4321, "frag.example.org");
		} else {
			memset(q.b + q.len, 'y', 40);
			q.len += 40;
		}
		q.b[ip + 4] = (uint8_t)((q.len - fh + 0) >> 8);
		q.b[ip + 5] = (uint8_t)(q.len - fh);
		/* A later fragment is not malformed: with malformed: drop it still passes with its
		 * flow (no policy: untagged). */
		assert_int_equal(feed(w, &q, 1000000 + (uint64_t)later * 1000), WORKER_ACTION_PASS);
	}
	worker_get_stats(w, &st);
	assert_int_equal(st.fragments_attributed, 1);
	assert_int_equal(st.dropped_malformed, 0);
	worker_flush(w);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.recs[0].packets, 2);
	worker_destroy(w);
}

/*
 * Adversarial: 20,000 later fragments of distinct datagrams whose first never comes, against
 * a table of 16 datagrams and 8 waiting fragments. At most 8 wait at any time, every other
 * one passes at once (malformed: pass), each comes back exactly once, and a real flow's
 * fragments are still followed once the table has room again.
 */
static void
fragment_flood_is_bounded(void **state)
{
	struct worker_stats st;
	struct sink s = {0};
	struct worker *w;
	struct pkt pk;
	uint32_t i;

	(void)state;
	w = make_frag(&s, NULL, 16, 8);
	for (i = 0; i < 20000; i++) {
		struct worker_pkt wp;

		client_fragment(&pk, (uint16_t)(i * 7919u), 56, (i & 1) != 0);
		pk.b[14 + 12] = (uint8_t)(i >> 8); /* many sources too */
		wp = (struct worker_pkt){.data = pk.b, .len = pk.len, .wire_len = pk.len,
					 .time_us = 1000000, .opaque = (void *)(uintptr_t)(i + 1)};
		worker_process(w, &wp, 1);
		worker_get_stats(w, &st);
		assert_true(st.fragments_waiting <= 8);
		assert_int_equal((uint32_t)outs + st.fragments_waiting, i + 1);
	}
	assert_true(st.fragment_table_full >= 20000 - 8);
	/* Time passes: the waiting ones leave, unattributed; a real flow is followed again. */
	worker_tick(w, 1000000 + 3000000);
	assert_int_equal(outs, 20000);
	client_fragment(&pk, 0x4444, 0, true);
	feed_id(w, &pk, 30001, 0, 1);
	client_fragment(&pk, 0x4444, 56, false);
	feed_id(w, &pk, 30002, 0, 1);
	worker_get_stats(w, &st);
	assert_int_equal(st.fragments_attributed, 1);
	assert_int_equal(st.fragments_unattributed, 20000);
	worker_destroy(w);
}

/* ---- UDP tunnels ---- */

/* An inner UDP packet a -> b (ports 5000 -> 53) in VXLAN `vni` or GTP-U `teid` (vni 0). */
static void
tunnelled_udp(struct pkt *p, bool from_a, uint32_t vni, uint32_t teid)
{
	static const uint8_t mac[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	struct pkt in;
	uint32_t ip, hdr = vni != 0 ? 8 + 14 : 8;

	in.len = 0;
	ip = ipv4(&in, from_a ? "172.16.0.1" : "172.16.0.2", from_a ? "172.16.0.2" : "172.16.0.1",
		  IPPROTO_UDP, 0, 8 + 12);
	udp(&in, from_a ? 5000 : 53, from_a ? 53 : 5000, 12);
	putn(&in, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	(void)ip;
	eth(p, 0x0800);
	ipv4(p, from_a ? "10.9.0.1" : "10.9.0.2", from_a ? "10.9.0.2" : "10.9.0.1", IPPROTO_UDP, 0,
	     8 + hdr + in.len);
	udp(p, vni != 0 ? 50000 : 2152, vni != 0 ? 4789 : 2152, hdr + in.len);
	if (vni != 0) {
		put8(p, 0x08);
		put8(p, 0);
		put16(p, 0);
		put8(p, (uint8_t)(vni >> 16));
		put8(p, (uint8_t)(vni >> 8));
		put8(p, (uint8_t)vni);
		put8(p, 0);
		putn(p, mac, 14);
	} else {
		put8(p, 0x30);
		put8(p, 0xff);
		put16(p, (uint16_t)in.len);
		put16(p, (uint16_t)(teid >> 16));
		put16(p, (uint16_t)teid);
	}
	putn(p, in.b, in.len);
}

/*
 * A VNI is part of the flow: one inner flow in two VNIs is two flows. A TEID is not (each
 * direction has its own): the GTP-U flow's two directions meet, and its record keeps the
 * TEID of its first packet.
 */
static void
tunnel_ids_and_flows(void **state)
{
	struct worker_params wp = {
		.flow_capacity = 64,
		.dpi_states = 16,
		.timeout_ms = {300000, 10000, 120000, 60000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.tunnels = PARSE_F_GTPU | PARSE_F_VXLAN,
		.on_record = collect,
		.on_packet = on_packet,
	};
	struct worker_stats st;
	struct sink s = {0};
	struct worker *w;
	struct pkt pk;
	int i;

	(void)state;
	wp.record_ctx = &s;
	w = worker_create(&wp);
	assert_non_null(w);
	tunnelled_udp(&pk, true, 5001, 0);
	feed(w, &pk, 1000000);
	tunnelled_udp(&pk, false, 5001, 0);
	feed(w, &pk, 1001000);
	tunnelled_udp(&pk, true, 5002, 0);
	feed(w, &pk, 1002000);
	tunnelled_udp(&pk, true, 0, 0xaaaa0001);
	feed(w, &pk, 1003000);
	tunnelled_udp(&pk, false, 0, 0xbbbb0001);
	feed(w, &pk, 1004000);
	worker_get_stats(w, &st);
	assert_int_equal(st.flows_created, 3);
	worker_flush(w);
	assert_int_equal(s.n, 3);
	for (i = 0; i < 3; i++) {
		const struct flow_record *r = &s.recs[i];

		assert_int_equal(r->key.ip_version, 4);
		assert_int_equal(r->key.lo_addr[0], 172); /* the inner flow */
		if (r->key.tunnel == PARSE_TUNNEL_GTPU) {
			assert_int_equal(r->packets, 2);
			assert_int_equal(r->rev_packets, 1);
			assert_int_equal(r->key.tunnel_id, 0xaaaa0001);
		} else {
			assert_int_equal(r->key.tunnel, PARSE_TUNNEL_VXLAN);
			assert_int_equal(r->packets, r->key.tunnel_id == 5001 ? 2 : 1);
		}
	}
	worker_destroy(w);
}

static void
count_release(void *ctx, void *item, const struct frag_flow *flow)
{
	(void)item;
	(void)flow;
	(*(int *)ctx)++;
}

/*
 * The fragment table's sweep on a table bigger than one call's budget: it falls behind and
 * catches up over later calls, never claiming to have covered what it did not (a waiting
 * fragment is released within a bounded number of calls after its timeout).
 */
static void
fragment_sweep_catches_up(void **state)
{
	int released = 0, calls;
	struct frag_table_params fp = {.capacity = 1u << 16, .held_max = 4, .item_size = 8,
				       .timeout_ms = 1000, .release = count_release};
	struct frag_table *ft;
	struct parse_info pi;
	struct frag_key key;
	struct frag_flow f;
	uint64_t item = 7;

	(void)state;
	fp.ctx = &released;
	ft = frag_table_create(&fp);
	assert_non_null(ft);
	memset(&pi, 0, sizeof(pi));
	pi.ip_version = 4;
	pi.l4_proto = IPPROTO_UDP;
	pi.src[0] = 10;
	pi.dst[0] = 11;
	pi.frag_id = 99;
	pi.frag_offset = 1480;
	pi.frag_data_len = 100;
	frag_key_from_packet(&pi, &key);
	assert_int_equal(frag_table_later(ft, &key, &pi, 5000, &item, &f), FRAG_HELD);
	assert_int_equal(frag_table_expire(ft, 5500, 64), 0); /* not yet timed out */
	/* 16,384 buckets, 64 a call: at most 256 calls after the timeout. */
	for (calls = 0; calls < 300 && released == 0; calls++)
		frag_table_expire(ft, 7000 + (uint64_t)calls, 64);
	assert_int_equal(released, 1);
	assert_true(calls <= 257);
	frag_table_destroy(ft);
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
		cmocka_unit_test(hold_until_verdict),
		cmocka_unit_test(hold_overflow_goes_default),
		cmocka_unit_test(held_packets_leave_when_the_flow_ends),
		cmocka_unit_test(drop_after_verdict),
		cmocka_unit_test(record_names_the_deciding_chain),
		cmocka_unit_test(policy_generation_256_swaps),
		cmocka_unit_test(policy_generation_wraps_safely),
		cmocka_unit_test(nsh_and_return_ports_are_not_classified),
		cmocka_unit_test(fragments_follow_their_flow),
		cmocka_unit_test(ipv6_fragments_follow_their_flow),
		cmocka_unit_test(fragment_flood_is_bounded),
		cmocka_unit_test(tunnel_ids_and_flows),
		cmocka_unit_test(fragment_sweep_catches_up),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
