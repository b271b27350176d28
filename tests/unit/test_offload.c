/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * ctl/offload.c against a scripted switch: the messages it sends are decoded here (FLOW_MODs,
 * BARRIERs), and the switch's answers (FLOW_REMOVED, BARRIER_REPLY, ERROR) are built as OVS
 * sends them. What is checked: the two rules per flow and their match, timeouts, flags and
 * cookies; counts reaching records whichever comes first (the record or the counts); the
 * limits (max_flows, FLOW_MODs per second, the queue); resync after a reconnect; refused
 * rules; a policy swap; a graceful stop; forged messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "config.h"
#include "dpi.h"
#include "offload.h"
#include "openflow_golden.h"
#include "policy.h"
#include "wire.h"

#define MAX_MODS 4096

struct mod {
	uint8_t command;
	uint64_t cookie;
	uint32_t xid;
	uint16_t idle;
	uint16_t flags;
	uint16_t priority;
	uint8_t table;
	bool has_actions;
	struct of_match m;
	uint8_t raw[64];
};

struct fake {
	bool refuse_sends;
	struct mod mods[MAX_MODS];
	int n_mods;
	uint32_t barriers[256];
	int n_barriers;
	int set_config, set_async, aggregates;
	uint16_t miss_send_len;
	bool notices_full;
	struct offload_notice notices[1024];
	int n_notices;
	struct flow_record recs[256];
	int n_recs;
	int drains;
	char said[512];
};

static struct fake fk;
static struct dpi *names;
static struct config cfg;
static uint64_t now;

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

static int
fake_send(void *ctx, const struct of_buf *b)
{
	size_t off = 0;

	(void)ctx;
	if (fk.refuse_sends)
		return -1;
	while (off < b->len) {
		const uint8_t *p = b->data + off;
		struct of_header h;

		assert_int_equal(of_parse_header(p, b->len - off, &h), 0);
		assert_true(h.length <= b->len - off);
		assert_int_equal(h.version, OFP13_VERSION);
		if (h.type == OFPT_FLOW_MOD) {
			struct mod *m = &fk.mods[fk.n_mods++];
			int mlen;

			assert_true(fk.n_mods < MAX_MODS);
			memset(m, 0, sizeof(*m));
			m->cookie = rd64(p + 8);
			m->table = p[24];
			m->command = p[25];
			m->idle = wire_rd16(p + 26);
			m->priority = wire_rd16(p + 30);
			m->flags = wire_rd16(p + 44);
			m->xid = h.xid;
			memcpy(m->raw, p, h.length < 64 ? h.length : 64);
			mlen = of_parse_match(p + 48, h.length - 48, &m->m);
			assert_true(mlen > 0);
			m->has_actions = (size_t)(48 + mlen) < h.length;
		} else if (h.type == OFPT_BARRIER_REQUEST) {
			fk.barriers[fk.n_barriers++] = h.xid;
		} else if (h.type == OFPT_SET_CONFIG) {
			fk.set_config++;
			fk.miss_send_len = wire_rd16(p + 10);
		} else if (h.type == OFPT_SET_ASYNC) {
			fk.set_async++;
		} else if (h.type == OFPT_MULTIPART_REQUEST) {
			fk.aggregates++;
		} else {
			fail_msg("unexpected message type %u", h.type);
		}
		off += h.length;
	}
	return 0;
}

static bool
fake_notify(void *ctx, uint16_t worker, const struct offload_notice *n)
{
	(void)ctx;
	(void)worker;
	if (fk.notices_full)
		return false;
	fk.notices[fk.n_notices++] = *n;
	return true;
}

static void
fake_drain(void *ctx, uint16_t worker)
{
	(void)ctx;
	(void)worker;
	fk.drains++;
}

static void
fake_write(void *ctx, const struct flow_record *rec)
{
	(void)ctx;
	fk.recs[fk.n_recs++] = *rec;
}

static void
fake_say(void *ctx, bool warning, const char *text)
{
	(void)ctx;
	(void)warning;
	snprintf(fk.said, sizeof(fk.said), "%s", text);
}

static struct policy *
policy_of(const char *yaml)
{
	char err[CONFIG_ERR_MAX];
	struct config c;
	struct policy *p;

	config_defaults(&c);
	if (config_load_string(&c, "o.yaml", yaml, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	p = policy_compile(config_policy(&c), names, "o.yaml", err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	config_release(&c);
	return p;
}

static const char *const policy_yaml =
	"chains:\n"
	"  - {name: dns, tag: nsh, spi: 10}\n"
	"  - {name: web, tag: vlan, vid: 20}\n"
	"  - {name: slow, tag: mpls, spi: 30, offload: false}\n"
	"rules:\n"
	"  - {dst_port: 53, chain: dns}\n"
	"  - {dst_port: 80, chain: web}\n"
	"  - {dst_port: 81, chain: slow}\n"
	"  - {dst_port: 9, action: drop}\n"
	"policy: {default: pass, offload: true}\n";

static void
load_cfg(const char *extra)
{
	char err[CONFIG_ERR_MAX], text[1024];

	config_defaults(&cfg);
	snprintf(text, sizeof(text),
		 "offload: {switch: \"unix:/tmp/x.mgmt\", table: 5, in_port: 1, resubmit_port: 2, "
		 "instance: 7%s}\n",
		 extra);
	if (config_load_string(&cfg, "o.yaml", text, err, sizeof(err)) != 0)
		fail_msg("%s", err);
}

static struct offload *
make(const char *extra, const struct policy *p)
{
	struct offload_params op = {
		.send = fake_send,
		.notify = fake_notify,
		.drain_asks = fake_drain,
		.write_record = fake_write,
		.say = fake_say,
	};
	struct offload *o;

	memset(&fk, 0, sizeof(fk));
	load_cfg(extra);
	op.cfg = &cfg;
	now = 1000;
	o = offload_create(&op, p);
	assert_non_null(o);
	return o;
}

static void
barrier_reply(struct offload *o, uint32_t xid)
{
	uint8_t msg[8] = {OFP13_VERSION, OFPT_BARRIER_REPLY, 0, 8};

	wire_wr32(msg + 4, xid);
	offload_message(o, msg, sizeof(msg), now);
}

/* Connect, and answer the resync's barrier. */
static void
connect_now(struct offload *o)
{
	int before = fk.n_mods;

	offload_connected(o, now);
	assert_int_equal(fk.set_config, 1);
	assert_true(fk.miss_send_len > 0); /* else a service connection gets no FLOW_REMOVED */
	assert_int_equal(fk.set_async, 1);
	assert_int_equal(fk.n_mods, before + 1);
	assert_int_equal(fk.mods[before].command, OFPFC_DELETE);
	assert_int_equal(fk.mods[before].table, OFPTT_ALL);
	assert_true(fk.mods[before].cookie == offload_cookie_base(&cfg));
	barrier_reply(o, fk.barriers[fk.n_barriers - 1]);
}

static struct offload_ask
ask_for(uint32_t id, const char *src, uint16_t sport, const char *dst, uint16_t dport,
	uint8_t proto)
{
	struct offload_ask a;
	uint8_t s[16] = {0}, d[16] = {0};
	bool src_hi;

	memset(&a, 0, sizeof(a));
	assert_int_equal(inet_pton(AF_INET, src, s), 1);
	assert_int_equal(inet_pton(AF_INET, dst, d), 1);
	src_hi = flow_key_make(s, d, sport, dport, proto, 4, 0, &a.key);
	a.initiator_hi = src_hi;
	a.flow_id = id;
	a.kind = OFFLOAD_ASK;
	a.app_proto = 5;
	a.master_proto = 5;
	snprintf(a.host, sizeof(a.host), "example.com");
	return a;
}

static struct flow_record
record_of(const struct offload_ask *a, uint64_t packets, uint64_t bytes)
{
	struct flow_record r;

	memset(&r, 0, sizeof(r));
	r.key = a->key;
	r.flow_id = a->flow_id;
	r.offloaded = 1;
	r.packets = packets;
	r.bytes = bytes;
	return r;
}

/* The switch removes the rule of mods[i] (reason, counts). */
static void
removed(struct offload *o, int i, uint8_t reason, uint64_t packets, uint64_t bytes)
{
	struct of_buf b;

	golden_flow_removed_cookie(&b, &fk.mods[i].m, reason, packets, bytes, fk.mods[i].cookie);
	offload_message(o, b.data, b.len, now);
}

static int
setup(void **state)
{
	struct dpi_params p = {.max_states = 1};

	(void)state;
	names = dpi_create(&p);
	return names == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	dpi_destroy(names);
	return 0;
}

/* ---- tests ---- */

static void
installs_two_exact_rules(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct offload_stats st;
	int i;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_queued, 1);
	now += 100;
	offload_tick(o, now);
	assert_int_equal(fk.n_mods, 3);
	for (i = 1; i <= 2; i++) {
		struct mod *m = &fk.mods[i];

		assert_int_equal(m->command, OFPFC_ADD);
		assert_int_equal(m->table, 5);
		assert_int_equal(m->priority, 1000);
		assert_int_equal(m->flags, OFPFF_SEND_FLOW_REM);
		assert_int_equal(m->idle, (cfg.timeout_ms[FLOW_TC_UDP] + 999) / 1000);
		assert_true(m->has_actions);
		assert_int_equal(m->m.in_port, 1);
		assert_true(m->m.match_vlan);
		assert_int_equal(m->m.vlan_vid, 0); /* untagged only */
		assert_int_equal(m->m.ip_proto, 17);
		assert_int_equal(m->m.tcp_flags_clear, 0);
		assert_true((m->cookie & OFFLOAD_COOKIE_MASK) == offload_cookie_base(&cfg));
	}
	/* Both directions, each the other's mirror; distinct cookies. */
	assert_int_equal(fk.mods[1].m.tp_src, fk.mods[2].m.tp_dst);
	assert_int_equal(fk.mods[1].m.tp_dst, fk.mods[2].m.tp_src);
	assert_memory_equal(fk.mods[1].m.src, fk.mods[2].m.dst, 4);
	assert_true(fk.mods[1].cookie != fk.mods[2].cookie);
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_offloaded, 1);
	assert_int_equal(st.installed, 1);
	assert_int_equal(st.flow_mods, 3);

	/* TCP: SYN, FIN and RST stay on the flowtag path; a dropped flow's rule has no actions. */
	a = ask_for(2, "10.0.0.1", 40001, "10.0.0.3", 9, 6);
	offload_ask(o, &a, now);
	now += 100;
	offload_tick(o, now);
	assert_int_equal(fk.n_mods, 5);
	assert_int_equal(fk.mods[3].m.tcp_flags_clear, 0x7);
	assert_int_equal(fk.mods[3].idle, (cfg.timeout_ms[FLOW_TC_TCP] + 999) / 1000);
	assert_false(fk.mods[3].has_actions);
	/* A chain that says offload: false: refused, and nothing sent. */
	a = ask_for(3, "10.0.0.1", 40002, "10.0.0.3", 81, 6);
	offload_ask(o, &a, now);
	offload_tick(o, now + 100);
	assert_int_equal(fk.n_mods, 5);
	assert_int_equal(fk.n_notices, 1);
	assert_int_equal(fk.notices[0].kind, OFFLOAD_REFUSED);
	assert_int_equal(fk.notices[0].flow_id, 3);
	{
		struct flow_record r = record_of(&a, 4, 400);

		offload_record(o, &r, now); /* refused, never installed: not "offloaded" */
		assert_int_equal(fk.n_recs, 1);
		assert_int_equal(fk.recs[0].offloaded, 0);
		assert_int_equal(fk.recs[0].packets, 4);
	}
	offload_destroy(o);
	policy_destroy(p);
}

static void
idle_counts_reach_the_record(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct flow_record r;
	struct offload_stats st;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_tick(o, now += 100);
	/* One direction idles: nothing yet (the other may be busy). */
	removed(o, 1, OFPRR_IDLE_TIMEOUT, 7, 700);
	assert_int_equal(fk.n_notices, 0);
	removed(o, 1, OFPRR_IDLE_TIMEOUT, 7, 700); /* a duplicate is not counted twice */
	removed(o, 2, OFPRR_IDLE_TIMEOUT, 5, 500);
	assert_int_equal(fk.n_notices, 1);
	assert_int_equal(fk.notices[0].kind, OFFLOAD_IDLE);
	/* The worker ends the flow: its record gets the switch's counts. */
	r = record_of(&a, 3, 300);
	offload_record(o, &r, now);
	assert_int_equal(fk.n_recs, 1);
	assert_int_equal(fk.recs[0].packets, 15);
	assert_int_equal(fk.recs[0].bytes, 1500);
	assert_int_equal(fk.recs[0].offloaded_packets, 12);
	assert_int_equal(fk.recs[0].offloaded_bytes, 1200);
	assert_int_equal(fk.recs[0].offloaded, 1);
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_tracked, 0);
	assert_int_equal(st.removed_idle, 2);
	assert_int_equal(st.switch_packets, 12);
	assert_int_equal(st.app_packets[5], 12);
	assert_int_equal(st.chain_packets[0], 12);
	assert_int_equal(st.foreign_removed, 1);
	offload_destroy(o);
	policy_destroy(p);
}

/* The switch never answers the deletes: at the end, the waiting record still goes out (a
 * stop under load lost one: its counts were late when the control thread was done). */
static void
parked_record_survives_the_end(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct flow_record r;
	struct offload_stats st;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_tick(o, now += 100);
	r = record_of(&a, 3, 300);
	offload_record(o, &r, now); /* its rules are deleted; the record waits for their counts */
	assert_int_equal(fk.n_recs, 0);
	offload_get_stats(o, &st);
	assert_int_equal(st.records_late, 0);
	offload_destroy(o); /* before any FLOW_REMOVED or the deadline */
	assert_int_equal(fk.n_recs, 1);
	assert_int_equal(fk.recs[0].packets, 3);
	assert_int_equal(fk.recs[0].offloaded, 1);
	policy_destroy(p);
}

static void
record_first_removes_then_merges(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 80, 6);
	struct offload_ask b = ask_for(2, "10.0.0.1", 40001, "10.0.0.2", 80, 6);
	struct flow_record r;
	struct offload_stats st;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_ask(o, &b, now);
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_mods, 5);
	/* The worker saw FIN both ways: the record comes while the rules are in. */
	r = record_of(&a, 6, 600);
	offload_record(o, &r, now);
	assert_int_equal(fk.n_recs, 0); /* parked */
	offload_tick(o, now += 10);
	assert_int_equal(fk.n_mods, 7);
	assert_int_equal(fk.mods[5].command, OFPFC_DELETE_STRICT);
	assert_int_equal(fk.mods[6].command, OFPFC_DELETE_STRICT);
	assert_true(fk.mods[5].cookie == fk.mods[1].cookie || fk.mods[5].cookie == fk.mods[2].cookie);
	removed(o, 1, OFPRR_DELETE, 100, 10000);
	assert_int_equal(fk.n_recs, 0); /* the other direction is unheard of */
	/* OVS sends FLOW_REMOVED after an RCU grace period: a barrier's reply settles nothing. */
	barrier_reply(o, 12345);
	assert_int_equal(fk.n_recs, 0);
	removed(o, 2, OFPRR_DELETE, 3, 300);
	assert_int_equal(fk.n_recs, 1);
	assert_int_equal(fk.recs[0].packets, 109);
	assert_int_equal(fk.recs[0].offloaded_packets, 103);
	assert_int_equal(fk.recs[0].offloaded_bytes, 10300);

	/* The second: the switch never answers; the record goes out late, bounded. */
	r = record_of(&b, 2, 200);
	offload_record(o, &r, now);
	offload_tick(o, now += 10);
	offload_tick(o, now += cfg.offload_removal_wait_ms - 20);
	assert_int_equal(fk.n_recs, 1);
	offload_tick(o, now += 20);
	assert_int_equal(fk.n_recs, 2);
	assert_int_equal(fk.recs[1].packets, 2);
	offload_get_stats(o, &st);
	assert_int_equal(st.records_late, 1);
	/* Its counts arrive after all: forgotten, not written twice. */
	removed(o, 3, OFPRR_DELETE, 5, 5);
	removed(o, 4, OFPRR_DELETE, 5, 5);
	assert_int_equal(fk.n_recs, 2);
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_tracked, 0);
	assert_int_equal(st.deletes_unanswered, 1); /* they came after its deadline */
	/* A record offload never heard of: written as it is, counted. */
	r = record_of(&a, 1, 1);
	r.flow_id = 99;
	offload_record(o, &r, now);
	assert_int_equal(fk.n_recs, 3);
	assert_true(fk.drains >= 1);
	offload_get_stats(o, &st);
	assert_int_equal(st.records_without_counts, 1);
	assert_int_equal(fk.recs[2].offloaded, 0); /* the switch never carried it */
	offload_destroy(o);
	policy_destroy(p);
}

static void
limits_refuse_and_pace(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make(", max_flows: 60, flow_mods_per_s: 20", p);
	struct offload_stats st;
	uint32_t i;

	(void)state;
	connect_now(o);
	/* The queue holds 5 s of FLOW_MODs: 20/s * 5 s / 2 per flow = 50 flows (+1). */
	for (i = 0; i < 70; i++) {
		struct offload_ask a = ask_for(100 + i, "10.0.1.1", (uint16_t)(1000 + i), "10.0.0.2",
					       53, 17);

		offload_ask(o, &a, now);
	}
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_queued, 51);
	assert_int_equal(st.refused_queue, 19);
	assert_int_equal(fk.n_notices, 19);
	/* At most 20 FLOW_MODs a second (a burst of a tenth of that, and one pair, at first). */
	for (i = 0; i < 10; i++)
		offload_tick(o, now += 100);
	offload_get_stats(o, &st);
	assert_in_range(st.flow_mods - 1, 18, 24);
	for (i = 0; i < 40; i++)
		offload_tick(o, now += 100);
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_offloaded, 51);
	/* Now max_flows: 60 with rules; more are refused at once. */
	for (i = 0; i < 12; i++) {
		struct offload_ask a = ask_for(200 + i, "10.0.2.1", (uint16_t)(1000 + i), "10.0.0.2",
					       53, 17);

		offload_ask(o, &a, now);
	}
	offload_get_stats(o, &st);
	assert_int_equal(st.flows_queued + st.flows_offloaded, 60);
	assert_int_equal(st.refused_full, 3);
	offload_destroy(o);
	policy_destroy(p);
}

static void
reconnect_resyncs(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct offload_ask b = ask_for(2, "10.0.0.1", 40001, "10.0.0.2", 53, 17);
	struct flow_record r;
	struct offload_stats st;
	int first;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_ask(o, &b, now);
	offload_tick(o, now += 100);
	/* The switch goes away; while it is gone, nothing is sent and asks wait. */
	offload_disconnected(o, now);
	fk.refuse_sends = true;
	offload_tick(o, now += 100);
	fk.refuse_sends = false;
	/* It comes back: delete every rule of ours; a surviving rule reports its counts. */
	offload_connected(o, now);
	first = fk.n_mods - 1;
	assert_int_equal(fk.mods[first].command, OFPFC_DELETE);
	removed(o, 1, OFPRR_DELETE, 40, 4000); /* flow 1's two rules */
	removed(o, 2, OFPRR_DELETE, 2, 200);
	assert_int_equal(fk.n_notices, 1); /* flow 1: back on the flowtag path */
	assert_int_equal(fk.notices[0].kind, OFFLOAD_RETURNED);
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_mods, first + 1); /* nothing until the resync's barrier */
	barrier_reply(o, fk.barriers[fk.n_barriers - 1]);
	offload_tick(o, now += 100); /* flow 2's FLOW_REMOVEDs may still come: it waits */
	assert_int_equal(fk.n_notices, 1);
	offload_tick(o, now += cfg.offload_removal_wait_ms);
	assert_int_equal(fk.n_notices, 2); /* flow 2: its rules vanished (a restart) */
	assert_int_equal(fk.notices[1].kind, OFFLOAD_RETURNED);
	offload_get_stats(o, &st);
	assert_int_equal(st.resyncs, 2);
	assert_int_equal(st.resync_flows, 1);
	assert_int_equal(st.deletes_unanswered, 1);
	/* Flow 1 is asked again; its earlier counts stay with it. */
	offload_ask(o, &a, now);
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_mods, first + 3);
	removed(o, first + 1, OFPRR_IDLE_TIMEOUT, 1, 100);
	removed(o, first + 2, OFPRR_IDLE_TIMEOUT, 1, 100);
	r = record_of(&a, 4, 400);
	offload_record(o, &r, now);
	assert_int_equal(fk.n_recs, 1);
	assert_int_equal(fk.recs[0].offloaded_packets, 44); /* 40 + 2 before, 1 + 1 after */
	assert_int_equal(fk.recs[0].packets, 48);
	offload_destroy(o);
	policy_destroy(p);
}

static void
refused_rule_and_forgeries(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	uint8_t msg[8 + 4 + 64];
	struct offload_stats st, before;
	struct of_buf b;
	uint32_t i;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_tick(o, now += 100);
	/* The switch refuses the first rule (table full): the other is deleted, then REFUSED. */
	memset(msg, 0, sizeof(msg));
	msg[0] = OFP13_VERSION;
	msg[1] = OFPT_ERROR;
	wire_wr16(msg + 2, sizeof(msg));
	wire_wr32(msg + 4, fk.mods[1].xid);
	wire_wr16(msg + 8, 5); /* FLOW_MOD_FAILED */
	wire_wr16(msg + 10, 1); /* TABLE_FULL */
	memcpy(msg + 12, fk.mods[1].raw, 64);
	offload_message(o, msg, sizeof(msg), now);
	offload_tick(o, now += 100);
	assert_int_equal(fk.mods[3].command, OFPFC_DELETE_STRICT);
	assert_true(fk.mods[3].cookie == fk.mods[2].cookie);
	removed(o, 2, OFPRR_DELETE, 0, 0);
	assert_int_equal(fk.n_notices, 1);
	assert_int_equal(fk.notices[0].kind, OFFLOAD_REFUSED);
	offload_get_stats(o, &st);
	assert_int_equal(st.refused_error, 1);
	assert_int_equal(st.flows_offloaded, 0);
	assert_non_null(strstr(fk.said, "TABLE_FULL"));

	/* Forged FLOW_REMOVEDs: other instances, slots out of range, stale generations. */
	offload_get_stats(o, &before);
	for (i = 0; i < 1000; i++) {
		uint64_t cookie = (uint64_t)rand() << 33 ^ (uint64_t)rand() << 2 ^ (uint64_t)rand();

		if (i % 2)
			cookie = offload_cookie_base(&cfg) | (cookie & 0xffffffffu);
		golden_flow_removed_cookie(&b, &fk.mods[1].m, (uint8_t)(i % 4), UINT64_MAX,
					   UINT64_MAX, cookie);
		offload_message(o, b.data, b.len, now);
	}
	/* Truncated messages of every length. */
	for (i = 0; i < b.len; i++) {
		b.data[2] = (uint8_t)(i >> 8);
		b.data[3] = (uint8_t)i;
		offload_message(o, b.data, i, now);
	}
	offload_get_stats(o, &st);
	assert_int_equal(st.foreign_removed - before.foreign_removed,
			 st.flow_removed - before.flow_removed); /* every one that parsed: foreign */
	assert_true(st.malformed > 0);
	assert_int_equal(st.switch_packets, before.switch_packets);
	assert_int_equal(fk.n_recs, 0);
	offload_destroy(o);
	policy_destroy(p);
}

static void
policy_swap_rewrites_or_removes(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct policy *p2;
	struct offload *o = make("", p);
	struct offload_ask dns = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct offload_ask web = ask_for(2, "10.0.0.1", 40001, "10.0.0.2", 80, 6);
	struct offload_stats st;
	int n;

	(void)state;
	connect_now(o);
	offload_ask(o, &dns, now);
	offload_ask(o, &web, now);
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_mods, 5);
	/* Version 2: the DNS chain the same (NSH C4 carries the version: rewritten in place);
	 * port 80 now dropped (a new decision: removed, the worker decides again). */
	p2 = policy_of("chains:\n"
		       "  - {name: dns, tag: nsh, spi: 10}\n"
		       "  - {name: web, tag: vlan, vid: 20}\n"
		       "rules:\n"
		       "  - {dst_port: 53, chain: dns}\n"
		       "  - {dst_port: 80, action: drop}\n"
		       "policy: {default: pass, offload: true, version: 2}\n");
	offload_policy(o, p2, now);
	offload_tick(o, now += 100);
	n = fk.n_mods;
	assert_int_equal(n, 9);
	assert_int_equal(fk.mods[5].command, OFPFC_DELETE_STRICT);
	assert_int_equal(fk.mods[6].command, OFPFC_DELETE_STRICT);
	assert_int_equal(fk.mods[7].command, OFPFC_MODIFY_STRICT);
	assert_int_equal(fk.mods[8].command, OFPFC_MODIFY_STRICT);
	assert_true(fk.mods[7].cookie == fk.mods[1].cookie || fk.mods[7].cookie == fk.mods[2].cookie);
	removed(o, 3, OFPRR_DELETE, 1, 1);
	assert_int_equal(fk.n_notices, 0);
	removed(o, 4, OFPRR_DELETE, 1, 1);
	assert_int_equal(fk.n_notices, 1);
	assert_int_equal(fk.notices[0].kind, OFFLOAD_RETURNED);
	assert_int_equal(fk.notices[0].flow_id, 2);
	offload_get_stats(o, &st);
	assert_int_equal(st.policy_modified, 1);
	assert_int_equal(st.policy_removed, 1);
	assert_int_equal(st.flows_offloaded, 1);
	/* The same policy again: nothing to rewrite. */
	offload_policy(o, p2, now);
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_mods, n);
	offload_destroy(o);
	policy_destroy(p);
	policy_destroy(p2);
}

static void
graceful_stop(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make("", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct offload_ask q = ask_for(2, "10.0.0.1", 40001, "10.0.0.2", 53, 17);
	struct flow_record r;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	offload_tick(o, now += 100);
	offload_stop(o, now);
	assert_false(offload_stopped(o, now));
	assert_int_equal(fk.mods[fk.n_mods - 1].command, OFPFC_DELETE);
	assert_true(fk.mods[fk.n_mods - 1].cookie == offload_cookie_base(&cfg));
	offload_ask(o, &q, now); /* too late: refused */
	assert_int_equal(fk.notices[fk.n_notices - 1].kind, OFFLOAD_REFUSED);
	removed(o, 1, OFPRR_DELETE, 3, 30);
	assert_false(offload_stopped(o, now));
	removed(o, 2, OFPRR_DELETE, 4, 40);
	assert_true(offload_stopped(o, now));
	assert_int_equal(fk.n_notices, 1); /* no RETURNED while stopping */
	/* The workers' flush brings the record: the counts are in it. */
	r = record_of(&a, 2, 20);
	offload_record(o, &r, now);
	assert_int_equal(fk.n_recs, 1);
	assert_int_equal(fk.recs[0].packets, 9);
	offload_destroy(o);
	policy_destroy(p);

	/* A switch that never answers: the stop waits removal_wait_ms, no longer. */
	p = policy_of(policy_yaml);
	o = make("", p);
	connect_now(o);
	offload_ask(o, &a, now);
	offload_tick(o, now += 100);
	offload_stop(o, now);
	assert_false(offload_stopped(o, now + cfg.offload_removal_wait_ms - 1));
	assert_true(offload_stopped(o, now + cfg.offload_removal_wait_ms));
	offload_destroy(o);
	policy_destroy(p);
}

static void
notices_wait_for_room(void **state)
{
	struct policy *p = policy_of(policy_yaml);
	struct offload *o = make(", max_flows: 1", p);
	struct offload_ask a = ask_for(1, "10.0.0.1", 40000, "10.0.0.2", 53, 17);
	struct offload_ask b = ask_for(2, "10.0.0.1", 40001, "10.0.0.2", 53, 17);
	struct offload_stats st;

	(void)state;
	connect_now(o);
	offload_ask(o, &a, now);
	fk.notices_full = true;
	offload_ask(o, &b, now); /* refused (max_flows), but the worker's ring is full */
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_notices, 0);
	fk.notices_full = false;
	offload_tick(o, now += 100);
	assert_int_equal(fk.n_notices, 1);
	assert_int_equal(fk.notices[0].flow_id, 2);
	offload_get_stats(o, &st);
	assert_int_equal(st.notices_delayed, 1);
	offload_destroy(o);
	policy_destroy(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(installs_two_exact_rules),
		cmocka_unit_test(idle_counts_reach_the_record),
		cmocka_unit_test(record_first_removes_then_merges),
		cmocka_unit_test(parked_record_survives_the_end),
		cmocka_unit_test(limits_refuse_and_pace),
		cmocka_unit_test(reconnect_resyncs),
		cmocka_unit_test(refused_rule_and_forgeries),
		cmocka_unit_test(policy_swap_rewrites_or_removes),
		cmocka_unit_test(graceful_stop),
		cmocka_unit_test(notices_wait_for_room),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
