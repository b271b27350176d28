/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "dpi.h"
#include "flow_record.h"
#include "json.h"

static struct dpi *names;

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

static void
record_fields(void **state)
{
	struct flow_record r;
	char buf[2048];
	int n;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.key.ip_version = 6;
	r.key.l4_proto = IPPROTO_UDP;
	inet_pton(AF_INET6, "2001:db8::1", r.key.lo_addr);
	inet_pton(AF_INET6, "2001:db8:0:0:1::2", r.key.hi_addr);
	r.key.lo_port = 443;
	r.key.hi_port = 50000;
	r.key.vlan = 42;
	r.initiator_hi = 1;
	r.flow_id = 7;
	r.packets = 3;
	r.bytes = 1500;
	r.rev_packets = 1;
	r.rev_bytes = 400;
	r.first_ms = 1000;
	r.last_ms = 2000;
	r.verdict.master_proto = (uint16_t)dpi_proto_id(names, "QUIC");
	r.verdict.app_proto = (uint16_t)dpi_proto_id(names, "YouTube");
	r.verdict.category = (uint16_t)dpi_category_id(names, "Media");
	strcpy(r.meta.host, "r1---sn.googlevideo.com");
	strcpy(r.meta.ja3c, "0123456789abcdef0123456789abcdef");
	r.meta.risk = 1ULL << 1; /* NDPI_URL_POSSIBLE_XSS */
	n = flow_record_to_json(&r, names, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	/* The initiator (hi endpoint) is the source. */
	assert_non_null(strstr(buf, "\"l4\":\"udp\",\"src_ip\":\"2001:db8::1:0:0:2\",\"src_port\":50000,"
				    "\"dst_ip\":\"2001:db8::1\",\"dst_port\":443,\"vlan\":42"));
	assert_non_null(strstr(buf, "\"master_protocol\":\"QUIC\",\"app_protocol\":\"YouTube\","
				    "\"category\":\"Media\",\"label\":\"QUIC.YouTube\""));
	assert_non_null(strstr(buf, "\"host\":\"r1---sn.googlevideo.com\""));
	assert_non_null(strstr(buf, "\"ja3c\":\"0123456789abcdef0123456789abcdef\""));
	assert_non_null(strstr(buf, "\"risk\":[\"XSS Attack\"]"));
	assert_non_null(strstr(buf, "\"packets\":3,\"bytes\":1500,\"reverse_packets\":1,"
				    "\"reverse_bytes\":400,\"first_seen_ms\":1000,"
				    "\"last_seen_ms\":2000"));

	/* Too small a buffer is an error, never a truncated object. */
	assert_int_equal(flow_record_to_json(&r, names, buf, 100), -ENOSPC);
}

static void
unknown_and_escaping(void **state)
{
	struct flow_record r;
	char buf[2048];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.key.ip_version = 4;
	r.key.l4_proto = 47; /* GRE: a number */
	memcpy(r.key.lo_addr, "\x0a\x00\x00\x01", 4);
	memcpy(r.key.hi_addr, "\x0a\x00\x00\x02", 4);
	/* Host names come off the wire: quotes, backslashes and control bytes are escaped. */
	strcpy(r.meta.host, "a\"b\\c\x01\x1f");
	assert_true(flow_record_to_json(&r, names, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"l4\":\"47\",\"src_ip\":\"10.0.0.1\",\"src_port\":0"));
	assert_non_null(strstr(buf, "\"vlan\":null"));
	assert_non_null(strstr(buf, "\"master_protocol\":\"\",\"app_protocol\":\"Unknown\""));
	assert_non_null(strstr(buf, "\"label\":\"Unknown\""));
	assert_non_null(strstr(buf, "\"host\":\"a\\\"b\\\\c\\u0001\\u001f\""));
	assert_non_null(strstr(buf, "\"ja3c\":null,\"risk\":[]"));
}

/* An independent UTF-8 check: decode code points, refuse overlongs, surrogates, > U+10FFFF. */
static bool
valid_utf8(const unsigned char *s)
{
	while (*s) {
		uint32_t cp;
		int n, i;

		if (*s < 0x80) {
			s++;
			continue;
		}
		n = (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 : (*s & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0)
			return false;
		cp = *s & (0x7f >> n);
		for (i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		s += n;
	}
	return true;
}

/*
 * Host names and SNIs are bytes from a packet: JSON must come out valid UTF-8 whatever they
 * hold (RFC 8259 §8.1), every invalid sequence a U+FFFD, control bytes escaped, valid
 * characters (emoji included) kept.
 */
static void
json_strings_are_valid_utf8(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"\xff\xfe.x", "\"\\ufffd\\ufffd.x\""},
		{"caf\xc3", "\"caf\\ufffd\""}, /* cut short */
		{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
		{"\xc0\xaf", "\"\\ufffd\\ufffd\""}, /* overlong '/' */
		{"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
		{"\x1b[31mred", "\"\\u001b[31mred\""},
		{"ok.\xf0\x9f\x98\x80.\xc3\xa9", "\"ok.\xf0\x9f\x98\x80.\xc3\xa9\""},
		{"\x7f\"\\", "\"\\u007f\\\"\\\\\""},
	};
	char buf[256];
	struct json_buf b;
	size_t i, k;
	unsigned seed = 1;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_init(&b, buf, sizeof(buf));
		json_string(&b, cases[i].in);
		assert_false(b.overflow);
		assert_string_equal(buf, cases[i].out);
	}
	for (i = 0; i < 100000; i++) {
		unsigned char in[24];

		for (k = 0; k + 1 < sizeof(in); k++) {
			seed = seed * 1103515245u + 12345u;
			in[k] = (unsigned char)(seed >> 16 | 1); /* no NUL inside */
		}
		in[sizeof(in) - 1] = 0;
		json_init(&b, buf, sizeof(buf));
		json_string(&b, (const char *)in);
		assert_false(b.overflow);
		assert_true(valid_utf8((const unsigned char *)buf));
		for (k = 0; buf[k]; k++)
			assert_true((unsigned char)buf[k] >= 0x20 && buf[k] != 0x7f);
	}
	/* Out of room: stops, remembers, never writes past the end. */
	json_init(&b, buf, 8);
	json_string(&b, "\xff\xff\xff");
	assert_true(b.overflow);
	assert_true(strlen(buf) < 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_fields),
		cmocka_unit_test(unknown_and_escaping),
		cmocka_unit_test(json_strings_are_valid_utf8),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
