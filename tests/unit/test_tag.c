/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* Tag encoders, byte for byte against RFC 8300 (NSH), RFC 3032 (MPLS), 802.1Q, RFC 2474. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>

#include "pktbuild.h"
#include "tag.h"

#define HEADROOM 128

struct buf {
	uint8_t room[HEADROOM + 4096];
	uint8_t *frame;
	uint32_t len;
};

/* A UDP/IPv4 frame placed after HEADROOM bytes of headroom. */
static void
udp_frame(struct buf *b, uint8_t tos)
{
	struct pkt p;
	uint32_t ip;

	eth(&p, 0x0800);
	ip = ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 8 + 4);
	udp(&p, 1000, 2000, 4);
	putn(&p, "data", 4);
	p.b[ip + 1] = tos;
	/* A valid header checksum to begin with. */
	{
		uint32_t s = 0, i;

		p.b[ip + 10] = p.b[ip + 11] = 0;
		for (i = 0; i < 20; i += 2)
			s += (uint32_t)(p.b[ip + i] << 8 | p.b[ip + i + 1]);
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		p.b[ip + 10] = (uint8_t)(~s >> 8);
		p.b[ip + 11] = (uint8_t)~s;
	}
	memset(b->room, 0xee, sizeof(b->room));
	b->frame = b->room + HEADROOM;
	memcpy(b->frame, p.b, p.len);
	b->len = p.len;
}

static uint16_t
ipv4_checksum_of(const uint8_t *ip)
{
	uint32_t s = 0, i;

	for (i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s; /* 0xffff when the header (checksum included) is valid */
}

static const struct tag_meta meta = {
	.master_proto = 91, /* TLS */
	.app_proto = 124, /* YouTube */
	.category = 5,
	.si = 255,
	.flow_id = 0x01020304,
	.policy_version = 7,
	.host = "www.youtube.com",
};

static void
nsh_md1(void **state)
{
	struct tag_spec spec = {.kind = TAG_NSH, .spi = 10, .md_type = 1};
	static const uint8_t nsh[24] = {
		0x0f, 0xc6, 0x01, 0x03, /* ver 0, O 0, TTL 63, length 6, MD type 1, NP Ethernet */
		0x00, 0x00, 0x0a, 0xff, /* SPI 10, SI 255 */
		0x00, 0x5b, 0x00, 0x7c, /* C1 = 91 << 16 | 124 */
		0x00, 0x00, 0x00, 0x05, /* C2 = category */
		0x01, 0x02, 0x03, 0x04, /* C3 = flow id */
		0x00, 0x00, 0x00, 0x07, /* C4 = policy version */
	};
	struct buf b;
	uint8_t inner[64];
	uint32_t inner_len;

	(void)state;
	udp_frame(&b, 0);
	memcpy(inner, b.frame, b.len);
	inner_len = b.len;
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.len, inner_len + 14 + 24);
	assert_ptr_equal(b.frame, b.room + HEADROOM - 38);
	assert_memory_equal(b.frame, inner, 12); /* outer MACs = inner MACs */
	assert_memory_equal(b.frame + 12, "\x89\x4f", 2);
	assert_memory_equal(b.frame + 14, nsh, sizeof(nsh));
	assert_memory_equal(b.frame + 38, inner, inner_len); /* the original frame, untouched */
	assert_int_equal(tag_nsh_len(&spec, &meta), 24);

	/* Decapsulation gives the original frame back. */
	assert_int_equal(tag_nsh_decap(&b.frame, &b.len), 0);
	assert_int_equal(b.len, inner_len);
	assert_memory_equal(b.frame, inner, inner_len);
	assert_int_equal(tag_nsh_decap(&b.frame, &b.len), -EINVAL); /* not NSH any more */
}

static void
nsh_md2(void **state)
{
	struct tag_spec spec = {.kind = TAG_NSH, .spi = 0x123456, .md_type = 2};
	static const uint8_t nsh[60] = {
		0x0f, 0xcf, 0x02, 0x03, /* TTL 63, length 15 words, MD type 2, NP Ethernet */
		0x12, 0x34, 0x56, 0xff, /* SPI 0x123456, SI 255 */
		0xff, 0xf6, 0x01, 0x04, 0x00, 0x5b, 0x00, 0x7c, /* class, type 1 (app), len 4 */
		0xff, 0xf6, 0x02, 0x04, 0x00, 0x00, 0x00, 0x05, /* category */
		0xff, 0xf6, 0x03, 0x04, 0x01, 0x02, 0x03, 0x04, /* flow id */
		0xff, 0xf6, 0x04, 0x04, 0x00, 0x00, 0x00, 0x07, /* policy version */
		0xff, 0xf6, 0x05, 0x0f, 'w', 'w', 'w', '.', 'y', 'o', 'u', 't', 'u', 'b', 'e', '.',
		'c', 'o', 'm', 0x00, /* host, 15 bytes, padded to 16 */
	};
	struct tag_meta no_host = meta;
	struct buf b;

	(void)state;
	udp_frame(&b, 0);
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_memory_equal(b.frame + 14, nsh, sizeof(nsh));
	assert_int_equal(tag_nsh_len(&spec, &meta), 60);

	/* Without a host, no host TLV: 8 + 4 x 8 bytes. */
	no_host.host = "";
	assert_int_equal(tag_nsh_len(&spec, &no_host), 40);
	udp_frame(&b, 0);
	assert_int_equal(tag_apply(&spec, &no_host, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.frame[15], 0xca); /* length 10 words */
}

static void
vlan_push_and_rewrite(void **state)
{
	struct tag_spec spec = {.kind = TAG_VLAN, .vid = 200};
	struct buf b;
	uint8_t orig[64];
	uint32_t olen;

	(void)state;
	udp_frame(&b, 0);
	memcpy(orig, b.frame, b.len);
	olen = b.len;
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.len, olen + 4);
	assert_memory_equal(b.frame, orig, 12);
	assert_memory_equal(b.frame + 12, "\x81\x00\x00\xc8\x08\x00", 6); /* TPID, VID 200, IPv4 */
	assert_memory_equal(b.frame + 16, orig + 12, olen - 12);

	/* Already tagged (PCP 5, VID 7): the VID is rewritten, PCP kept, nothing pushed. */
	b.frame[14] = 0xa0;
	b.frame[15] = 0x07;
	olen = b.len;
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.len, olen);
	assert_memory_equal(b.frame + 12, "\x81\x00\xa0\xc8", 4);
}

static void
mpls_push(void **state)
{
	struct tag_spec spec = {.kind = TAG_MPLS, .spi = 30};
	struct buf b;
	uint8_t orig[80];
	uint32_t olen;

	(void)state;
	udp_frame(&b, 0);
	memcpy(orig, b.frame, b.len);
	olen = b.len;
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.len, olen + 4);
	assert_memory_equal(b.frame, orig, 12);
	/* EtherType MPLS; label 30 << 8 | 255 = 7935, TC 0, S 1, TTL 255. */
	assert_memory_equal(b.frame + 12, "\x88\x47\x01\xef\xf1\xff", 6);
	assert_memory_equal(b.frame + 18, orig + 14, olen - 14);

	/* Behind a VLAN tag: the label goes after the tag, whose inner type becomes MPLS. */
	{
		struct tag_spec v = {.kind = TAG_VLAN, .vid = 9};

		udp_frame(&b, 0);
		assert_int_equal(tag_apply(&v, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
		assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
		assert_memory_equal(b.frame + 12, "\x81\x00\x00\x09\x88\x47\x01\xef\xf1\xff\x45", 11);
	}
}

static void
dscp_rewrite(void **state)
{
	struct tag_spec spec = {.kind = TAG_DSCP, .dscp = 18};
	struct pkt p;
	struct buf b;

	(void)state;
	udp_frame(&b, 0x03); /* ECN bits set: they must survive */
	assert_int_equal(ipv4_checksum_of(b.frame + 14), 0xffff);
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.frame[15], (18 << 2) | 0x03);
	assert_int_equal(ipv4_checksum_of(b.frame + 14), 0xffff); /* checksum still valid */

	/* IPv6: the traffic class straddles two bytes; the flow label stays. */
	eth(&p, 0x86dd);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 8);
	udp(&p, 1, 2, 0);
	p.b[14 + 1] = 0x1a; /* TC low nibble 1 (ECN 01), flow label 0xa.... */
	p.b[14 + 2] = 0xbc;
	b.frame = b.room + HEADROOM;
	memcpy(b.frame, p.b, p.len);
	b.len = p.len;
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), 0);
	assert_int_equal(b.frame[14], 0x64); /* version 6, TC high nibble (18 << 2) >> 4 = 4 */
	assert_int_equal(b.frame[15], 0x9a); /* TC low nibble 8 | ECN 1 -> 9, flow label a */
	assert_int_equal(b.frame[16], 0xbc);

	/* Not IP: refused, unchanged. */
	eth(&p, 0x0806);
	putn(&p, "\0\1\10\0\6\4\0\1", 8);
	memcpy(b.frame, p.b, p.len);
	b.len = p.len;
	assert_int_equal(tag_apply(&spec, &meta, &b.frame, &b.len, HEADROOM, 9000), -EINVAL);
}

static void
limits(void **state)
{
	struct tag_spec nsh = {.kind = TAG_NSH, .spi = 1, .md_type = 1};
	struct buf b;
	uint8_t *before;
	uint32_t len;

	(void)state;
	udp_frame(&b, 0);
	before = b.frame;
	len = b.len;
	/* One byte short of room for outer Ethernet + NSH: refused, frame unchanged. */
	assert_int_equal(tag_apply(&nsh, &meta, &b.frame, &b.len, HEADROOM, len + 37), -EMSGSIZE);
	assert_ptr_equal(b.frame, before);
	assert_int_equal(b.len, len);
	assert_int_equal(tag_apply(&nsh, &meta, &b.frame, &b.len, 37, 9000), -ENOSPC);
	assert_int_equal(tag_apply(&nsh, &meta, &b.frame, &b.len, HEADROOM, len + 38), 0);
	assert_string_equal(tag_kind_name(TAG_MPLS), "mpls");
}

/*
 * max_growth bounds what apply() adds, for every tag and the longest host name: the headroom
 * the data path makes before tagging. An MD type 2 header with a 79-byte host (nDPI's longest)
 * needs 138 bytes, more than an mbuf's 128 of headroom.
 */
static void
max_growth_bounds_apply(void **state)
{
	const struct tag_spec specs[] = {
		{.kind = TAG_NSH, .spi = 1, .md_type = 1}, {.kind = TAG_NSH, .spi = 1, .md_type = 2},
		{.kind = TAG_VLAN, .vid = 3},		   {.kind = TAG_MPLS, .spi = 4},
		{.kind = TAG_DSCP, .dscp = 18},
	};
	char host[200];
	size_t i, hl;

	(void)state;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		uint32_t most = 0;

		for (hl = 0; hl < sizeof(host); hl += 7) {
			struct tag_meta m = meta;
			uint8_t big[512 + 4096], *frame = big + 512;
			struct buf b;
			uint32_t len;

			memset(host, 'h', hl);
			host[hl] = '\0';
			m.host = host;
			udp_frame(&b, 0);
			memcpy(frame, b.frame, b.len);
			len = b.len;
			assert_int_equal(tag_apply(&specs[i], &m, &frame, &len, 512, 9000), 0);
			if (len - b.len > most)
				most = len - b.len;
		}
		assert_int_equal(tag_max_growth(&specs[i]), most); /* the bound is reached, not loose */
	}
	{
		struct tag_meta m = meta;
		struct buf b;

		memset(host, 'h', 79);
		host[79] = '\0';
		m.host = host;
		udp_frame(&b, 0);
		assert_int_equal(tag_apply(&specs[1], &m, &b.frame, &b.len, HEADROOM, 9000), -ENOSPC);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nsh_md1),  cmocka_unit_test(nsh_md2),	 cmocka_unit_test(vlan_push_and_rewrite),
		cmocka_unit_test(mpls_push), cmocka_unit_test(dscp_rewrite), cmocka_unit_test(limits),
		cmocka_unit_test(max_growth_bounds_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
