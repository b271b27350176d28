/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "pktbuild.h"
#include "sf.h"
#include "tag.h"

static void
nsh_and_mpls_index(void **state)
{
	struct tag_meta meta = {.si = 255, .flow_id = 1};
	struct tag_spec nsh = {.kind = TAG_NSH, .spi = 10, .md_type = 1};
	struct tag_spec mpls = {.kind = TAG_MPLS, .spi = 30};
	struct sf_counters c;
	uint8_t room[256 + 128], *f;
	uint32_t len;
	struct pkt p;

	(void)state;
	memset(&c, 0, sizeof(c));
	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 8);
	udp(&p, 1, 2, 0);

	f = room + 128;
	memcpy(f, p.b, p.len);
	len = p.len;
	assert_int_equal(tag_apply(&nsh, &meta, &f, &len, 128, 9000), 0);
	assert_true(sf_handle(f, len, &c));
	assert_int_equal(f[14 + 7], 254); /* SI 255 -> 254 */
	assert_true(sf_handle(f, len, &c));
	assert_int_equal(f[14 + 7], 253);
	f[14 + 7] = 1; /* one more hop would reach 0: dropped */
	assert_false(sf_handle(f, len, &c));
	assert_int_equal(c.si_expired, 1);
	assert_int_equal(c.n_spi, 1);
	assert_int_equal(c.spi[0], 10);
	assert_int_equal(c.spi_packets[0], 3);

	f = room + 128;
	memcpy(f, p.b, p.len);
	len = p.len;
	assert_int_equal(tag_apply(&mpls, &meta, &f, &len, 128, 9000), 0);
	assert_true(sf_handle(f, len, &c));
	/* label 30 << 8 | 254 = 7934, S 1, TTL 254 */
	assert_memory_equal(f + 14, "\x01\xef\xe1\xfe", 4);
	assert_int_equal(c.mpls, 1);

	/* No path index: back unchanged. */
	f = room + 128;
	memcpy(f, p.b, p.len);
	assert_true(sf_handle(f, p.len, &c));
	assert_memory_equal(f, p.b, p.len);
	assert_int_equal(c.other, 1);
	assert_int_equal(c.packets, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(nsh_and_mpls_index)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
