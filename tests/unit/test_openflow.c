/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * The OpenFlow reader: what Open vSwitch sends (FLOW_REMOVED, HELLO, ERROR, ECHO) decoded
 * field by field, and hostile bytes (every truncation, every corrupted length) refused
 * without reading past the end. The encoder is checked against OVS itself by
 * openflow_ovs.py; here only its bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>

#include "openflow.h"
#include "openflow_golden.h"
#include "tag.h"

static struct of_match
tcp4(void)
{
	struct of_match m = {.in_port = 1, .match_vlan = true, .vlan_vid = OF_VID_PRESENT | 300,
			     .ip_version = 4, .ip_proto = 6, .tp_src = 40000, .tp_dst = 443,
			     .tcp_flags_clear = 0x007};

	memcpy(m.src, "\x0a\x00\x00\x01", 4);
	memcpy(m.dst, "\xc0\x00\x02\x07", 4);
	return m;
}

static struct of_match
udp6(void)
{
	struct of_match m = {.in_port = 7, .match_vlan = true, .ip_version = 6, .ip_proto = 17,
			     .tp_src = 5004, .tp_dst = 5006};

	memcpy(m.src, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	memcpy(m.dst, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
	return m;
}

static void
assert_match_equal(const struct of_match *a, const struct of_match *b)
{
	assert_int_equal(a->in_port, b->in_port);
	assert_int_equal(a->match_vlan, b->match_vlan);
	assert_int_equal(a->vlan_vid, b->vlan_vid);
	assert_int_equal(a->ip_version, b->ip_version);
	assert_int_equal(a->ip_proto, b->ip_proto);
	assert_memory_equal(a->src, b->src, 16);
	assert_memory_equal(a->dst, b->dst, 16);
	assert_int_equal(a->tp_src, b->tp_src);
	assert_int_equal(a->tp_dst, b->tp_dst);
	assert_int_equal(a->tcp_flags_clear, b->tcp_flags_clear);
}

static void
flow_removed_decoded(void **state)
{
	struct of_match m4 = tcp4(), m6 = udp6();
	struct of_flow_removed fr;
	struct of_buf b;
	size_t n;

	(void)state;
	n = golden_flow_removed(&b, &m4, OFPRR_IDLE_TIMEOUT, 1234, 567890);
	assert_int_equal(of_parse_flow_removed(b.data, n, &fr), 0);
	assert_true(fr.cookie == 0xf10a7a9000000007ULL);
	assert_int_equal(fr.priority, 300);
	assert_int_equal(fr.reason, OFPRR_IDLE_TIMEOUT);
	assert_int_equal(fr.table_id, 5);
	assert_int_equal(fr.duration_sec, 12);
	assert_int_equal(fr.idle_timeout, 120);
	assert_true(fr.packet_count == 1234 && fr.byte_count == 567890);
	assert_match_equal(&fr.match, &m4);

	/* Counters past 32 bits (a flow OVS carried for months) come through whole. */
	n = golden_flow_removed(&b, &m6, OFPRR_DELETE, 1ULL << 40, 1ULL << 50);
	assert_int_equal(of_parse_flow_removed(b.data, n, &fr), 0);
	assert_int_equal(fr.reason, OFPRR_DELETE);
	assert_true(fr.packet_count == 1ULL << 40 && fr.byte_count == 1ULL << 50);
	assert_match_equal(&fr.match, &m6);
}

/* Every prefix of a message is refused; ASan sees any read past the end. */
static void
truncations_refused(void **state)
{
	struct of_match m = tcp4();
	struct of_flow_removed fr;
	struct of_buf b;
	size_t n = golden_flow_removed(&b, &m, 0, 1, 1), k;

	(void)state;
	for (k = 0; k < n; k++) {
		uint8_t *copy = malloc(k > 0 ? k : 1);

		memcpy(copy, b.data, k);
		assert_int_equal(of_parse_flow_removed(copy, k, &fr), -EINVAL);
		free(copy);
	}
}

/* Corrupted lengths and fields: any answer but a crash or an over-read (ASan). */
static void
corruptions_survive(void **state)
{
	struct of_match m = tcp4();
	struct of_flow_removed fr;
	struct of_buf b;
	size_t n = golden_flow_removed(&b, &m, 0, 1, 1);
	unsigned int seed = 7, i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		uint8_t *copy = malloc(n);
		unsigned int flips = 1 + rand_r(&seed) % 4;

		memcpy(copy, b.data, n);
		while (flips-- > 0)
			copy[48 + rand_r(&seed) % (n - 48)] = (uint8_t)rand_r(&seed);
		(void)of_parse_flow_removed(copy, n, &fr);
		free(copy);
	}
	/* A field whose length runs past the match: refused. */
	b.data[48 + 4 + 3] = 0xff; /* the first field's length byte (the match starts at 48) */
	assert_int_equal(of_parse_flow_removed(b.data, n, &fr), -EINVAL);
}

static void
hello_versions(void **state)
{
	/* OVS with protocols=OpenFlow10,OpenFlow13: header 1.3, bitmap {1.0, 1.3}. */
	const uint8_t ovs[] = {4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x12};
	const uint8_t only10[] = {4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x02};
	const uint8_t plain13[] = {4, 0, 0, 8, 0, 0, 0, 1};
	const uint8_t plain10[] = {1, 0, 0, 8, 0, 0, 0, 1};
	const uint8_t zero_elem[] = {4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0x12};
	const uint8_t too_long[] = {4, 0, 0, 64, 0, 0, 0, 1};
	struct of_buf b = {.len = 0};

	(void)state;
	assert_int_equal(of_parse_hello(ovs, sizeof(ovs)), 0);
	assert_int_equal(of_parse_hello(only10, sizeof(only10)), -EPROTO);
	assert_int_equal(of_parse_hello(plain13, sizeof(plain13)), 0);
	assert_int_equal(of_parse_hello(plain10, sizeof(plain10)), -EPROTO);
	assert_int_equal(of_parse_hello(zero_elem, sizeof(zero_elem)), -EINVAL);
	assert_int_equal(of_parse_hello(too_long, sizeof(too_long)), -EINVAL);
	of_hello(&b, 9);
	assert_int_equal(of_parse_hello(b.data, b.len), 0);
}

static void
errors_and_echo(void **state)
{
	/* OFPET_FLOW_MOD_FAILED / TABLE_FULL about a FLOW_MOD (its header follows). */
	const uint8_t err[] = {4, 1, 0, 20, 0, 0, 0, 42, 0, 5, 0, 1, 4, 14, 0, 200, 0, 0, 0, 42};
	const uint8_t exp[] = {4, 1, 0, 24, 0, 0, 0, 43, 0xff, 0xff, 0, 9, 0, 0, 0x23, 0x20,
			       4, 14, 0, 8, 0, 0, 0, 43};
	const uint8_t echo[] = {4, 2, 0, 12, 0, 0, 0, 77, 'p', 'i', 'n', 'g'};
	struct of_error e;
	struct of_header h;
	struct of_buf b = {.len = 0};
	char name[64];

	(void)state;
	assert_int_equal(of_parse_error(err, sizeof(err), &e), 0);
	assert_int_equal(e.type, 5);
	assert_int_equal(e.code, 1);
	assert_int_equal(e.failed_type, OFPT_FLOW_MOD);
	assert_string_equal(of_error_name(e.type, e.code, name, sizeof(name)),
			    "OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL");
	assert_int_equal(of_parse_error(exp, sizeof(exp), &e), 0);
	assert_int_equal(e.type, 0xffff);
	assert_int_equal(e.failed_type, OFPT_FLOW_MOD);
	assert_int_equal(of_parse_error(err, 11, &e), -EINVAL);

	of_echo_reply(&b, echo, sizeof(echo));
	assert_int_equal(of_parse_header(b.data, b.len, &h), 0);
	assert_int_equal(h.type, OFPT_ECHO_REPLY);
	assert_int_equal(h.xid, 77);
	assert_int_equal(h.length, 12);
	assert_memory_equal(b.data + 8, "ping", 4);
}

/* The builder never writes past its buffer: an oversized message is flagged, not sent. */
static void
builder_bounded(void **state)
{
	struct of_buf b = {.len = 0};
	struct tag_push p;
	struct tag_spec md2 = {.kind = TAG_NSH, .spi = 1, .md_type = 2};
	char host[200];
	struct tag_meta meta = {.si = 255, .host = host};
	int i;

	(void)state;
	memset(host, 'x', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	tag_push_of(&md2, &meta, false, &p);
	assert_int_equal(p.n_tlvs, 5);
	assert_int_equal(p.tlvs[4].len, 127); /* the host, cut to a TLV's longest value */
	for (i = 0; i < 20; i++)
		of_put_tag_push(&b, &p, 3);
	assert_true(b.overflow);
	assert_true(b.len <= OF_MSG_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(flow_removed_decoded), cmocka_unit_test(truncations_refused),
		cmocka_unit_test(corruptions_survive), cmocka_unit_test(hello_versions),
		cmocka_unit_test(errors_and_echo), cmocka_unit_test(builder_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
