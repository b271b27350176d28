/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Ethernet and 802.1Q on the wire, and the EtherTypes flowtag reads or writes: the one place
 * that knows them, and the one walk over VLAN tags that the parser, the tag encoders, the
 * dummy service function and the capture converter all use, with the same rules (802.1Q,
 * 802.1ad and the pre-standard 0x9100 S-tag; at most WIRE_MAX_VLANS tags). NSH (nsh.h) and
 * MPLS (mpls.h) have headers of their own. Pure, header-only.
 */
#ifndef FLOWTAG_WIRE_H
#define FLOWTAG_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#define ETH_ADDRS_LEN 12 /* destination and source MAC */
#define ETH_HDR_LEN 14 /* and the EtherType */
#define VLAN_TAG_LEN 4 /* TPID, then PCP(3) | DEI(1) | VID(12) */
#define VLAN_MAX_VID 4094
#define WIRE_MAX_VLANS 2 /* QinQ: an S-tag and a C-tag */

/* EtherTypes (IEEE 802 numbers). */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100 /* 802.1Q C-tag */
#define ETHERTYPE_QINQ 0x88a8 /* 802.1ad S-tag */
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-standard S-tag, still seen in captures */
#define ETHERTYPE_MPLS 0x8847 /* unicast, RFC 5332 */
#define ETHERTYPE_PPPOE 0x8864 /* PPPoE session stage */
#define ETHERTYPE_PPP 0x880b /* PPP over Ethernet without PPPoE (non-IP PPP frames) */
#define ETHERTYPE_NSH 0x894f /* RFC 8300 §9.1 */

static inline uint16_t
wire_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
wire_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wire_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline bool
wire_is_vlan_tpid(uint16_t type)
{
	return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
}

/* What lies under the VLAN tags of an Ethernet frame. */
struct wire_l2 {
	uint16_t ethertype; /* after the tags */
	uint16_t type_off; /* where that EtherType is */
	uint16_t payload_off; /* where what it announces begins (type_off + 2) */
	uint16_t vid; /* the innermost tag's VID, 0 if untagged */
	uint8_t tags;
};

enum wire_walk {
	WIRE_OK,
	WIRE_TRUNCATED, /* shorter than an Ethernet header */
	WIRE_VLAN_TRUNCATED, /* a tag cut short */
	WIRE_VLAN_TOO_DEEP, /* more than WIRE_MAX_VLANS tags */
};

/* Walk the Ethernet header and its VLAN tags; never reads past len. */
static inline enum wire_walk
wire_walk_l2(const uint8_t *f, uint32_t len, struct wire_l2 *l2)
{
	uint32_t off = ETH_ADDRS_LEN;
	uint16_t type;

	l2->tags = 0;
	l2->vid = 0;
	if (len < ETH_HDR_LEN)
		return WIRE_TRUNCATED;
	type = wire_rd16(f + off);
	if (__builtin_expect(!wire_is_vlan_tpid(type), 1)) { /* most frames: untagged */
		l2->ethertype = type;
		l2->type_off = ETH_ADDRS_LEN;
		l2->payload_off = ETH_HDR_LEN;
		return WIRE_OK;
	}
	while (wire_is_vlan_tpid(type)) {
		if (l2->tags == WIRE_MAX_VLANS)
			return WIRE_VLAN_TOO_DEEP;
		if (off + 2 + VLAN_TAG_LEN > len)
			return WIRE_VLAN_TRUNCATED;
		/* The innermost tag names the customer VLAN, which is what a flow belongs to. */
		l2->vid = wire_rd16(f + off + 2) & 0x0fff;
		l2->tags++;
		off += VLAN_TAG_LEN;
		type = wire_rd16(f + off);
	}
	l2->ethertype = type;
	l2->type_off = (uint16_t)off;
	l2->payload_off = (uint16_t)(off + 2);
	return WIRE_OK;
}

#endif
