/* SPDX-License-Identifier: LGPL-3.0-or-later */
/* Frame builder for unit tests: Ethernet / VLAN / IPv4 / IPv6 / TCP / UDP, byte by byte. */
#ifndef FLOWTAG_TEST_PKTBUILD_H
#define FLOWTAG_TEST_PKTBUILD_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

struct pkt {
	uint8_t b[4096];
	uint32_t len;
};

static inline void
put16(struct pkt *p, uint16_t v)
{
	p->b[p->len++] = (uint8_t)(v >> 8);
	p->b[p->len++] = (uint8_t)v;
}

static inline void
put8(struct pkt *p, uint8_t v)
{
	p->b[p->len++] = v;
}

static inline void
putn(struct pkt *p, const void *d, uint32_t n)
{
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static inline void
eth(struct pkt *p, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

	p->len = 0;
	putn(p, macs, 12);
	put16(p, type);
}

static inline void
vlan(struct pkt *p, uint16_t tpid_after, uint16_t vid)
{
	/* Rewrites the previous EtherType to 0x8100 style tags: caller passes the next type. */
	put16(p, vid);
	put16(p, tpid_after);
}

/* IPv4 header with `opt_len` bytes of options (NOPs) and total length for `payload` bytes. */
static inline uint32_t
ipv4(struct pkt *p, const char *src, const char *dst, uint8_t proto, uint32_t opt_len,
     uint32_t payload)
{
	uint32_t start = p->len, i;
	uint8_t a[4];

	put8(p, (uint8_t)(0x40 | ((20 + opt_len) / 4)));
	put8(p, 0);
	put16(p, (uint16_t)(20 + opt_len + payload));
	put16(p, 0x1234);
	put16(p, 0);
	put8(p, 64);
	put8(p, proto);
	put16(p, 0);
	inet_pton(AF_INET, src, a);
	putn(p, a, 4);
	inet_pton(AF_INET, dst, a);
	putn(p, a, 4);
	for (i = 0; i < opt_len; i++)
		put8(p, 1);
	return start;
}

static inline uint32_t
ipv6(struct pkt *p, const char *src, const char *dst, uint8_t next, uint32_t payload)
{
	uint32_t start = p->len;
	uint8_t a[16];

	put8(p, 0x60);
	put8(p, 0);
	put16(p, 0);
	put16(p, (uint16_t)payload);
	put8(p, next);
	put8(p, 64);
	inet_pton(AF_INET6, src, a);
	putn(p, a, 16);
	inet_pton(AF_INET6, dst, a);
	putn(p, a, 16);
	return start;
}

static inline void
tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t opt_len)
{
	uint32_t i;

	put16(p, sport);
	put16(p, dport);
	put16(p, 0);
	put16(p, 1); /* seq */
	put16(p, 0);
	put16(p, 0); /* ack */
	put8(p, (uint8_t)(((20 + opt_len) / 4) << 4));
	put8(p, flags);
	put16(p, 65535);
	put16(p, 0);
	put16(p, 0);
	for (i = 0; i < opt_len; i++)
		put8(p, 1);
}

static inline void
udp(struct pkt *p, uint16_t sport, uint16_t dport, uint32_t payload)
{
	put16(p, sport);
	put16(p, dport);
	put16(p, (uint16_t)(8 + payload));
	put16(p, 0);
}

/* A DNS query for `name` (A record), as UDP payload; returns its length. */
static inline uint32_t
dns_query(struct pkt *p, uint16_t id, const char *name)
{
	uint32_t start = p->len;
	const char *s = name;

	put16(p, id);
	put16(p, 0x0100); /* RD */
	put16(p, 1);
	put16(p, 0);
	put16(p, 0);
	put16(p, 0);
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		uint32_t n = dot != NULL ? (uint32_t)(dot - s) : (uint32_t)strlen(s);

		put8(p, (uint8_t)n);
		putn(p, s, n);
		s += n;
		if (*s == '.')
			s++;
	}
	put8(p, 0);
	put16(p, 1);
	put16(p, 1);
	return p->len - start;
}

/* Fix up the IPv4 total length / UDP length after a payload of unknown size was appended. */
static inline void
fix_ipv4_udp(struct pkt *p, uint32_t ip_off)
{
	uint32_t ihl = (uint32_t)(p->b[ip_off] & 0x0f) * 4;
	uint16_t tot = (uint16_t)(p->len - ip_off);
	uint16_t ulen = (uint16_t)(tot - ihl);

	p->b[ip_off + 2] = (uint8_t)(tot >> 8);
	p->b[ip_off + 3] = (uint8_t)tot;
	p->b[ip_off + ihl + 4] = (uint8_t)(ulen >> 8);
	p->b[ip_off + ihl + 5] = (uint8_t)ulen;
}

#endif
