/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "dpi.h"
#include "flow_record.h"

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
	assert_non_null(strstr(buf, "\"packets\":3,\"bytes\":1500,\"first_seen_ms\":1000,"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_fields),
		cmocka_unit_test(unknown_and_escaping),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
