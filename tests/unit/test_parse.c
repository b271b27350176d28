/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "parse.h"
#include "pktbuild.h"

static void
ipv4_tcp_ok(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20 + 5);
	tcp(&p, 40000, 443, 0x18, 0);
	putn(&p, "hello", 5);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.ip_version, 4);
	assert_int_equal(pi.l4_proto, IPPROTO_TCP);
	assert_int_equal(pi.sport, 40000);
	assert_int_equal(pi.dport, 443);
	assert_int_equal(pi.tcp_flags, 0x18);
	assert_int_equal(pi.l3_off, 14);
	assert_int_equal(pi.l3_len, 20 + 20 + 5);
	assert_int_equal(pi.payload_off, 14 + 40);
	assert_int_equal(pi.payload_len, 5);
	assert_memory_equal(pi.src, "\x0a\x00\x00\x01", 4);
}

static void
ipv4_options_and_padding(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 8, 8);
	udp(&p, 53, 53, 0);
	/* Ethernet padding to 60 bytes is not part of the IP packet. */
	while (p.len < 60)
		put8(&p, 0);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.l3_len, 28 + 8);
	assert_int_equal(pi.l4_off, 14 + 28);
	assert_int_equal(pi.payload_len, 0);
}

static void
vlan_and_qinq(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x88a8);
	vlan(&p, 0x8100, 100);
	vlan(&p, 0x0800, 200);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 8);
	udp(&p, 1, 2, 0);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.vlan_count, 2);
	assert_int_equal(pi.vlan, 200); /* the innermost tag names the flow's VLAN */
	assert_int_equal(pi.l3_off, 22);

	/* A third tag is refused, not walked forever. */
	eth(&p, 0x8100);
	vlan(&p, 0x8100, 1);
	vlan(&p, 0x8100, 2);
	vlan(&p, 0x0800, 3);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_VLAN_TOO_DEEP);

	eth(&p, 0x8100);
	put16(&p, 5);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_VLAN_TRUNCATED);
}

static void
ipv4_fragments(void **state)
{
	struct pkt p;
	struct parse_info pi;
	uint32_t ip;

	(void)state;
	eth(&p, 0x0800);
	ip = ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 0, 8 + 100);
	p.b[ip + 6] = 0x20; /* MF, offset 0: the first fragment, with the UDP header */
	udp(&p, 53, 5353, 100);
	memset(p.b + p.len, 0, 100);
	p.len += 100;
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_true(pi.is_fragment);
	assert_int_equal(pi.dport, 5353);
	/* What the fragment table keys and counts: id, offset, more, data bytes. */
	assert_int_equal(pi.frag_id, 0x1234);
	assert_int_equal(pi.frag_offset, 0);
	assert_true(pi.frag_more);
	assert_int_equal(pi.frag_data_len, 108);

	p.b[ip + 6] = 0x00;
	p.b[ip + 7] = 0x10; /* offset 16*8, the last: a later fragment, no L4 header */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_FRAGMENT);
	assert_false(parse_is_malformed(PARSE_FRAGMENT));
	assert_int_equal(pi.frag_offset, 128);
	assert_false(pi.frag_more);
	assert_int_equal(pi.l4_proto, IPPROTO_UDP);
	assert_int_equal(pi.src[3], 1);

	p.b[ip + 6] = 0x40; /* DF alone: a whole datagram */
	p.b[ip + 7] = 0x00;
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_false(pi.is_fragment);
}

static void
ipv4_bad_headers(void **state)
{
	struct pkt p;
	struct parse_info pi;
	uint32_t ip;

	(void)state;
	eth(&p, 0x0800);
	ip = ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20);
	tcp(&p, 1, 2, 0x02, 0);

	p.b[ip] = 0x44; /* IHL 4: below the minimum */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_IPV4_BAD_IHL);
	p.b[ip] = 0x4f; /* IHL 15 = 60 bytes: beyond the frame */
	assert_int_equal(parse_ethernet(p.b, 14 + 40, &pi), PARSE_IPV4_BAD_IHL);
	p.b[ip] = 0x65; /* IPv6 version under the IPv4 EtherType */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_BAD_IP_VERSION);
	p.b[ip] = 0x45;
	p.b[ip + 2] = 0;
	p.b[ip + 3] = 10; /* total length below the header */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_IPV4_BAD_LENGTH);
	p.b[ip + 3] = 40;
	p.b[ip + 20 + 12] = 0x40; /* TCP data offset 4 */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_TCP_BAD_OFFSET);
	p.b[ip + 20 + 12] = 0xf0; /* data offset 15 = 60 bytes: beyond the packet */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_TCP_BAD_OFFSET);
}

static void
tcp_zero_length_options(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	/* Options whose length byte is 0 must not loop: the parser never walks options. */
	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20 + 8);
	tcp(&p, 1, 2, 0x02, 8);
	memset(p.b + p.len - 8, 0, 8);
	p.b[p.len - 8] = 2; /* MSS kind with length 0 */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.payload_len, 0);
}

static void
ipv6_extension_chain(void **state)
{
	struct pkt p;
	struct parse_info pi;
	int i;

	(void)state;
	eth(&p, 0x86dd);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_HOPOPTS, 8 + 8 + 8 + 8);
	/* hop-by-hop -> destination options -> fragment (first) -> UDP */
	put8(&p, IPPROTO_DSTOPTS);
	put8(&p, 0);
	putn(&p, "\x01\x04\0\0\0\0", 6);
	put8(&p, IPPROTO_FRAGMENT);
	put8(&p, 0);
	putn(&p, "\x01\x04\0\0\0\0", 6);
	put8(&p, IPPROTO_UDP);
	put8(&p, 0);
	put16(&p, 0x0001); /* offset 0, M=1 */
	put16(&p, 0);
	put16(&p, 7);
	udp(&p, 546, 547, 0);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.l4_proto, IPPROTO_UDP);
	assert_int_equal(pi.sport, 546);
	assert_true(pi.is_fragment);
	assert_int_equal(pi.l4_off, 14 + 40 + 24);

	/* A chain longer than the limit is refused rather than walked. */
	eth(&p, 0x86dd);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_DSTOPTS, (PARSE_MAX_IPV6_EXT + 1) * 8 + 8);
	for (i = 0; i <= PARSE_MAX_IPV6_EXT; i++) {
		put8(&p, i == PARSE_MAX_IPV6_EXT ? IPPROTO_UDP : IPPROTO_DSTOPTS);
		put8(&p, 0);
		putn(&p, "\x01\x04\0\0\0\0", 6);
	}
	udp(&p, 1, 2, 0);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_IPV6_EXT_TOO_MANY);

	/* An extension header whose length runs past the packet. */
	eth(&p, 0x86dd);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_ROUTING, 16);
	put8(&p, IPPROTO_UDP);
	put8(&p, 200); /* (200+1)*8 bytes */
	putn(&p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_IPV6_EXT_TRUNCATED);
}

static void
ipv6_later_fragment(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x86dd);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_FRAGMENT, 8 + 16);
	put8(&p, IPPROTO_UDP);
	put8(&p, 0);
	put16(&p, 0x0008); /* offset 1 (8 bytes) */
	put16(&p, 0);
	put16(&p, 9);
	putn(&p, "0123456789abcdef", 16);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_FRAGMENT);
	assert_int_equal(pi.frag_id, 9);
	assert_int_equal(pi.frag_offset, 8);
	assert_false(pi.frag_more);
	assert_int_equal(pi.frag_data_len, 16);
	assert_int_equal(pi.ip_version, 6);
}

static void
six_in_four(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x0800);
	ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_IPV6, 0, 40 + 8);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 8);
	udp(&p, 5000, 53, 0);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_true(pi.tunnelled);
	assert_int_equal(pi.ip_version, 6);
	assert_int_equal(pi.l3_off, 34);
	assert_int_equal(pi.dport, 53);

	/* 6in4 in 4in4: deeper than one inner header is refused. */
	eth(&p, 0x0800);
	ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_IPIP, 0, 20 + 40 + 8);
	ipv4(&p, "192.0.2.3", "192.0.2.4", IPPROTO_IPV6, 0, 40 + 8);
	ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 8);
	udp(&p, 5000, 53, 0);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_TUNNEL_TOO_DEEP);
}

static void
icmp_and_sctp(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_ICMP, 0, 8);
	putn(&p, "\x08\x00\x00\x00\x00\x01\x00\x01", 8);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.sport, 0);
	assert_int_equal(pi.dport, 0);
	assert_int_equal(parse_ethernet(p.b, p.len - 6, &pi), PARSE_ICMP_TRUNCATED);

	eth(&p, 0x0800);
	ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_SCTP, 0, 12);
	put16(&p, 2905);
	put16(&p, 2906);
	putn(&p, "\0\0\0\0\0\0\0\0", 8);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_OK);
	assert_int_equal(pi.sport, 2905);
	assert_int_equal(parse_ethernet(p.b, p.len - 1, &pi), PARSE_SCTP_TRUNCATED);
}

static void
non_ip(void **state)
{
	struct pkt p;
	struct parse_info pi;

	(void)state;
	eth(&p, 0x0806); /* ARP */
	putn(&p, "\0\1\10\0\6\4\0\1", 8);
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_NON_IP);
	assert_false(parse_is_malformed(PARSE_NON_IP));
	assert_int_equal(parse_ethernet(p.b, 13, &pi), PARSE_ETH_TRUNCATED);
	assert_int_equal(parse_ethernet(p.b, 0, &pi), PARSE_ETH_TRUNCATED);
}

/* Every prefix of every valid frame: a result, never a read past the end (ASan checks). */
static void
every_truncation(void **state)
{
	struct pkt frames[3];
	uint32_t f, len;

	(void)state;
	eth(&frames[0], 0x0800);
	ipv4(&frames[0], "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 12, 20);
	tcp(&frames[0], 1, 2, 0x02, 0);
	eth(&frames[1], 0x86dd);
	ipv6(&frames[1], "2001:db8::1", "2001:db8::2", IPPROTO_HOPOPTS, 8 + 8);
	put8(&frames[1], IPPROTO_UDP);
	put8(&frames[1], 0);
	putn(&frames[1], "\x01\x04\0\0\0\0", 6);
	udp(&frames[1], 1, 2, 0);
	eth(&frames[2], 0x8100);
	vlan(&frames[2], 0x0800, 7);
	ipv4(&frames[2], "10.0.0.1", "10.0.0.2", IPPROTO_IPV6, 0, 40 + 8);
	ipv6(&frames[2], "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 8);
	udp(&frames[2], 1, 2, 0);

	for (f = 0; f < 3; f++) {
		assert_int_equal(parse_ethernet(frames[f].b, frames[f].len, &(struct parse_info){0}),
				 PARSE_OK);
		for (len = 0; len < frames[f].len; len++) {
			/* An exact-size copy, so ASan sees any read past `len`. */
			uint8_t *copy = malloc(len ? len : 1);
			struct parse_info pi;
			enum parse_result r;

			memcpy(copy, frames[f].b, len);
			r = parse_ethernet(copy, len, &pi);
			assert_true(r < PARSE_RESULT_COUNT);
			free(copy);
		}
	}
}

/* Random garbage (fixed seed, so a failure reproduces): never crashes, always a result. */
static void
garbage(void **state)
{
	uint64_t x = 0x2545f4914f6cdd1dULL;
	int i;

	(void)state;
	for (i = 0; i < 200000; i++) {
		uint8_t buf[128];
		uint32_t len, k;
		struct parse_info pi;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = (uint32_t)(x % sizeof(buf));
		for (k = 0; k < len; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[k] = (uint8_t)x;
		}
		/* Steer a share of the inputs into the IP parsers. */
		if (len > 14 && (i & 3) != 0) {
			buf[12] = (i & 1) ? 0x08 : 0x86;
			buf[13] = (i & 1) ? 0x00 : 0xdd;
			buf[14] = (uint8_t)((i & 1) ? 0x40 | (buf[14] & 0x0f) : 0x60);
		}
		assert_true(parse_ethernet(buf, len, &pi) < PARSE_RESULT_COUNT);
	}
}

static void
result_names(void **state)
{
	int r;

	(void)state;
	assert_string_equal(parse_result_name(PARSE_IPV4_BAD_IHL), "ipv4_bad_ihl");
	for (r = 0; r < PARSE_RESULT_COUNT; r++) {
		assert_non_null(parse_result_name((enum parse_result)r));
		assert_true(strlen(parse_result_text((enum parse_result)r)) > 0);
	}
	assert_string_equal(parse_result_name(PARSE_RESULT_COUNT), "invalid");
}

/* Captures from hosts with TSO: an IP length of 0 is the frame's own in a capture, and
 * malformed on a port; ip_end says how long the packet was when the capture cut it short. */
static void
tso_lengths_in_captures(void **state)
{
	struct parse_info pi;
	struct pkt p;
	uint32_t ip;

	(void)state;
	eth(&p, 0x0800);
	ip = ipv4(&p, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 0, 20 + 3000);
	tcp(&p, 40000, 80, 0x18, 0);
	memset(p.b + p.len, 'x', 3000);
	p.len += 3000;
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_CAPTURE, &pi), PARSE_OK);
	assert_int_equal(pi.ip_end, p.len);
	/* Cut to 100 bytes by a snap length: parsed as far as it goes, ip_end the wire's. */
	assert_int_equal(parse_frame(p.b, 100, PARSE_F_CAPTURE, &pi), PARSE_OK);
	assert_int_equal(pi.ip_end, p.len);
	assert_int_equal(pi.l3_len, 100 - 14);

	p.b[ip + 2] = 0;
	p.b[ip + 3] = 0; /* TSO: the NIC writes the length */
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_IPV4_BAD_LENGTH);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_CAPTURE, &pi), PARSE_OK);
	assert_int_equal(pi.l3_len, 20 + 20 + 3000);
	assert_int_equal(pi.payload_len, 3000);
	assert_int_equal(pi.ip_end, p.len);

	eth(&p, 0x86dd);
	ip = ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_TCP, 0); /* payload length 0 */
	tcp(&p, 40000, 443, 0x18, 0);
	memset(p.b + p.len, 'y', 2000);
	p.len += 2000;
	assert_int_equal(parse_ethernet(p.b, p.len, &pi), PARSE_TCP_TRUNCATED);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_CAPTURE, &pi), PARSE_OK);
	assert_int_equal(pi.payload_len, 2000);
	assert_int_equal(pi.ip_end, p.len);
	/* A jumbogram's length is 0 too, with a hop-by-hop header: not read as TSO. */
	p.b[ip + 6] = IPPROTO_HOPOPTS;
	assert_int_not_equal(parse_frame(p.b, p.len, PARSE_F_CAPTURE, &pi), PARSE_OK);
}

/* A UDP datagram from 10.9.0.1:2152 to 10.9.0.2:<dport> carrying `payload`. */
static void
outer_udp(struct pkt *p, uint16_t sport, uint16_t dport, const uint8_t *payload, uint32_t n)
{
	eth(p, 0x0800);
	ipv4(p, "10.9.0.1", "10.9.0.2", IPPROTO_UDP, 0, 8 + n);
	udp(p, sport, dport, n);
	putn(p, payload, n);
}

/* An inner IPv4/TCP packet 192.168.7.1:40000 -> 192.168.7.2:80, SYN. */
static uint32_t
inner_tcp(uint8_t *b)
{
	struct pkt q;

	q.len = 0;
	ipv4(&q, "192.168.7.1", "192.168.7.2", IPPROTO_TCP, 0, 20);
	tcp(&q, 40000, 80, 0x02, 0);
	memcpy(b, q.b, q.len);
	return q.len;
}

static void
udp_tunnels(void **state)
{
	static const uint8_t mac[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
	struct parse_info pi;
	uint8_t b[512];
	struct pkt p;
	uint32_t n, k;

	(void)state;
	/* GTP-U G-PDU, TEID 0x12345678, with a PDU session container extension header. */
	memcpy(b, "\x34\xff\x00\x00\x12\x34\x56\x78\x00\x00\x00\x85\x01\x00\x09\x00", 16);
	n = 16 + inner_tcp(b + 16);
	outer_udp(&p, 2152, 2152, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GTPU, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_GTPU);
	assert_int_equal(pi.tunnel_id, 0x12345678);
	assert_true(pi.tunnelled);
	assert_int_equal(pi.sport, 40000);
	assert_int_equal(pi.dport, 80);
	assert_int_equal(pi.src[0], 192);
	assert_int_equal(pi.l3_off, 14 + 20 + 8 + 16);
	assert_int_equal(pi.ip_end, p.len); /* the outer packet's */
	/* Not asked for: the outer UDP flow. */
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_VXLAN, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	assert_int_equal(pi.dport, 2152);
	/* Hostile GTP-U: an extension of length 0, a chain that never ends, a cut header, an
	 * echo request (signalling): each is the outer flow, never a crash or a wrong inner. */
	b[12] = 0;
	outer_udp(&p, 2152, 2152, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GTPU, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	memset(b, 0, sizeof(b));
	memcpy(b, "\x34\xff\x00\x00\x00\x00\x00\x01\x00\x00\x00\x85", 12);
	for (k = 12; k + 4 <= sizeof(b); k += 4)
		memcpy(b + k, "\x01\x00\x00\x85", 4); /* every extension says "another follows" */
	outer_udp(&p, 2152, 2152, b, sizeof(b));
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GTPU, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	outer_udp(&p, 2152, 2152, (const uint8_t *)"\x32\xff\x00", 3);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GTPU, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	memcpy(b, "\x32\x01\x00\x04\x00\x00\x00\x00\x00\x01\x00\x00", 12);
	outer_udp(&p, 2152, 2152, b, 12);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GTPU, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);

	/* VXLAN: VNI 5001, an Ethernet frame inside; without the I flag it is not VXLAN. */
	memcpy(b, "\x08\x00\x00\x00\x00\x13\x89\x00", 8);
	memcpy(b + 8, mac, 14);
	n = 22 + inner_tcp(b + 22);
	outer_udp(&p, 50000, 4789, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_VXLAN, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_VXLAN);
	assert_int_equal(pi.tunnel_id, 5001);
	assert_int_equal(pi.dport, 80);
	b[0] = 0;
	outer_udp(&p, 50000, 4789, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_VXLAN, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	/* A malformed inner packet (cut short): the outer flow, not a malformed count. */
	b[0] = 0x08;
	outer_udp(&p, 50000, 4789, b, 22 + 10);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_VXLAN, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	assert_int_equal(pi.dport, 4789);

	/* Geneve with 8 bytes of options, Ethernet inside; a control packet is not opened. */
	memcpy(b, "\x02\x00\x65\x58\x00\x13\x8a\x00\x01\x02\x80\x01\x00\x00\x00\x07", 16);
	memcpy(b + 16, mac, 14);
	n = 30 + inner_tcp(b + 30);
	outer_udp(&p, 50000, 6081, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GENEVE, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_GENEVE);
	assert_int_equal(pi.tunnel_id, 5002);
	b[1] = 0x80;
	outer_udp(&p, 50000, 6081, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GENEVE, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	b[1] = 0;
	b[0] = 0x3f; /* 252 bytes of options: past the packet */
	outer_udp(&p, 50000, 6081, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_GENEVE, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);

	/* CAPWAP data: an 802.11 data frame with LLC/SNAP; a keep-alive is not opened. */
	memcpy(b, "\x00\x10\x03\x00\x00\x00\x00\x00", 8);
	memcpy(b + 8, "\x08\x01\x00\x00", 4);
	memset(b + 12, 2, 20);
	memcpy(b + 32, "\xaa\xaa\x03\x00\x00\x00\x08\x00", 8);
	n = 40 + inner_tcp(b + 40);
	outer_udp(&p, 5247, 5247, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_CAPWAP, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_CAPWAP);
	assert_int_equal(pi.tunnel_id, 0);
	assert_int_equal(pi.dport, 80);
	b[3] = 0x08; /* K */
	outer_udp(&p, 5247, 5247, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_CAPWAP, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
	b[3] = 0;
	b[9] = 0x41; /* protected (encrypted): nothing to read */
	outer_udp(&p, 5247, 5247, b, n);
	assert_int_equal(parse_frame(p.b, p.len, PARSE_F_CAPWAP, &pi), PARSE_OK);
	assert_int_equal(pi.tunnel, PARSE_TUNNEL_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv4_tcp_ok),
		cmocka_unit_test(ipv4_options_and_padding),
		cmocka_unit_test(vlan_and_qinq),
		cmocka_unit_test(ipv4_fragments),
		cmocka_unit_test(ipv4_bad_headers),
		cmocka_unit_test(tcp_zero_length_options),
		cmocka_unit_test(ipv6_extension_chain),
		cmocka_unit_test(ipv6_later_fragment),
		cmocka_unit_test(tso_lengths_in_captures),
		cmocka_unit_test(udp_tunnels),
		cmocka_unit_test(six_in_four),
		cmocka_unit_test(icmp_and_sctp),
		cmocka_unit_test(non_ip),
		cmocka_unit_test(every_truncation),
		cmocka_unit_test(garbage),
		cmocka_unit_test(result_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
