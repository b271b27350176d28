/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "parse.h"

#include <netinet/in.h>
#include <string.h>

#include "wire.h"

#define MPLS_HLEN 4
#define MPLS_MAX_LABELS 4
#define PPPOE_HLEN 8 /* PPPoE session header (6) + PPP protocol (2) */
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define IPV4_MIN_HLEN 20
#define IPV6_HLEN 40
#define TCP_MIN_HLEN 20
#define UDP_HLEN 8
#define SCTP_HLEN 12
#define ICMP_MIN_HLEN 4

static const char *const result_names[] = {
#define PARSE_NAME(name, text) #name,
	PARSE_RESULTS(PARSE_NAME)
#undef PARSE_NAME
};

static const char *const result_texts[] = {
#define PARSE_TEXT(name, text) text,
	PARSE_RESULTS(PARSE_TEXT)
#undef PARSE_TEXT
};

const char *
parse_result_name(enum parse_result r)
{
	static char lower[PARSE_RESULT_COUNT][24];

	if ((unsigned int)r >= PARSE_RESULT_COUNT)
		return "invalid";
	/* Counter names are lower case; build them once from the enum spelling. */
	if (lower[r][0] == '\0') {
		const char *s = result_names[r];
		size_t i;

		for (i = 0; s[i] != '\0' && i + 1 < sizeof(lower[r]); i++)
			lower[r][i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
		lower[r][i] = '\0';
	}
	return lower[r];
}

const char *
parse_result_text(enum parse_result r)
{
	return (unsigned int)r < PARSE_RESULT_COUNT ? result_texts[r] : "invalid";
}

#define rd16 wire_rd16

static enum parse_result parse_ip(const uint8_t *frame, uint32_t len, uint32_t off, int version,
				  int depth, struct parse_info *info);

/* L4 header at `off`, `end` = end of the IP payload. Fills ports, flags and payload. */
static enum parse_result
parse_l4(const uint8_t *frame, uint32_t off, uint32_t end, struct parse_info *info)
{
	uint32_t avail = end > off ? end - off : 0;

	info->l4_off = (uint16_t)off;
	info->payload_off = (uint16_t)off;
	info->payload_len = 0;

	switch (info->l4_proto) {
	case IPPROTO_TCP: {
		uint32_t hlen;

		if (avail < TCP_MIN_HLEN)
			return PARSE_TCP_TRUNCATED;
		hlen = (uint32_t)(frame[off + 12] >> 4) * 4;
		if (hlen < TCP_MIN_HLEN || hlen > avail)
			return PARSE_TCP_BAD_OFFSET;
		info->sport = rd16(frame + off);
		info->dport = rd16(frame + off + 2);
		info->tcp_flags = frame[off + 13];
		info->payload_off = (uint16_t)(off + hlen);
		info->payload_len = (uint16_t)(avail - hlen);
		return PARSE_OK;
	}
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (avail < UDP_HLEN)
			return PARSE_UDP_TRUNCATED;
		info->sport = rd16(frame + off);
		info->dport = rd16(frame + off + 2);
		info->payload_off = (uint16_t)(off + UDP_HLEN);
		info->payload_len = (uint16_t)(avail - UDP_HLEN);
		return PARSE_OK;
	case IPPROTO_SCTP:
		if (avail < SCTP_HLEN)
			return PARSE_SCTP_TRUNCATED;
		info->sport = rd16(frame + off);
		info->dport = rd16(frame + off + 2);
		info->payload_off = (uint16_t)(off + SCTP_HLEN);
		info->payload_len = (uint16_t)(avail - SCTP_HLEN);
		return PARSE_OK;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (avail < ICMP_MIN_HLEN)
			return PARSE_ICMP_TRUNCATED;
		/*
		 * ICMP has no ports: like ndpiReader, all ICMP between two hosts is one flow
		 * (ports 0), so echo request/reply and errors land together.
		 */
		info->payload_off = (uint16_t)(off + ICMP_MIN_HLEN);
		info->payload_len = (uint16_t)(avail - ICMP_MIN_HLEN);
		return PARSE_OK;
	default:
		/* GRE, ESP, OSPF, ...: a flow keyed on addresses and protocol only. */
		info->payload_len = (uint16_t)avail;
		return PARSE_OK;
	}
}

/* An IP header carried inside IP (6in4, 4in4, 4in6, 6in6): classify the inner packet. */
static enum parse_result
parse_inner_ip(const uint8_t *frame, uint32_t end, uint32_t off, int version, int depth,
	       struct parse_info *info)
{
	if (depth + 1 >= PARSE_MAX_IP_NESTING)
		return PARSE_TUNNEL_TOO_DEEP;
	info->tunnelled = 1;
	return parse_ip(frame, end, off, version, depth + 1, info);
}

static enum parse_result
parse_ipv4(const uint8_t *frame, uint32_t len, uint32_t off, int depth, struct parse_info *info)
{
	const uint8_t *ip = frame + off;
	uint32_t avail = len - off, ihl, tot_len, end;
	uint16_t frag;

	if (avail < IPV4_MIN_HLEN)
		return PARSE_IPV4_TRUNCATED;
	if ((ip[0] >> 4) != 4)
		return PARSE_BAD_IP_VERSION;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < IPV4_MIN_HLEN || ihl > avail)
		return PARSE_IPV4_BAD_IHL;
	tot_len = rd16(ip + 2);
	if (tot_len == 0 && info->tso_length && avail > ihl)
		tot_len = avail; /* a capture of a TSO send: the NIC writes the length */
	if (tot_len < ihl)
		return PARSE_IPV4_BAD_LENGTH;
	if (depth == 0)
		info->ip_end = off + tot_len;
	/* Trailing bytes (Ethernet padding) are not IP; a capture may also cut the packet short. */
	end = off + (tot_len < avail ? tot_len : avail);

	info->ip_version = 4;
	info->l3_off = (uint16_t)off;
	info->l3_len = (uint16_t)(end - off);
	info->l4_proto = ip[9];
	memset(info->src, 0, sizeof(info->src));
	memset(info->dst, 0, sizeof(info->dst));
	memcpy(info->src, ip + 12, 4);
	memcpy(info->dst, ip + 16, 4);

	frag = rd16(ip + 6);
	if ((frag & 0x3fff) != 0) { /* offset or MF: one fragment of a datagram */
		info->frag_id = rd16(ip + 4);
		info->frag_offset = (uint16_t)((frag & 0x1fff) * 8);
		info->frag_more = (frag & 0x2000) != 0;
		info->frag_data_len = (uint16_t)(tot_len - ihl);
		if ((frag & 0x1fff) != 0) {
			info->l4_off = 0;
			return PARSE_FRAGMENT;
		}
		info->is_fragment = 1;
	}

	if (info->l4_proto == IPPROTO_IPV6 || info->l4_proto == IPPROTO_IPIP)
		return parse_inner_ip(frame, end, off + ihl, info->l4_proto == IPPROTO_IPV6 ? 6 : 4,
				      depth, info);
	return parse_l4(frame, off + ihl, end, info);
}

static bool
ipv6_is_extension(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_FRAGMENT:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case 135: /* Mobility header, RFC 6275 */
	case 139: /* HIP, RFC 7401 */
	case 140: /* Shim6, RFC 5533 */
		return true;
	default:
		return false;
	}
}

static enum parse_result
parse_ipv6(const uint8_t *frame, uint32_t len, uint32_t off, int depth, struct parse_info *info)
{
	const uint8_t *ip = frame + off;
	uint32_t avail = len - off, end, cur, declared_end; /* declared: as the header says */
	uint8_t nh;
	int n;

	if (avail < IPV6_HLEN)
		return PARSE_IPV6_TRUNCATED;
	if ((ip[0] >> 4) != 6)
		return PARSE_BAD_IP_VERSION;
	end = off + IPV6_HLEN + rd16(ip + 4);
	if (end == off + IPV6_HLEN && info->tso_length && ip[6] != IPPROTO_HOPOPTS)
		end = len; /* TSO's length 0 (a jumbogram's is 0 too, with its hop-by-hop option) */
	declared_end = end;
	if (depth == 0)
		info->ip_end = end;
	if (end > len)
		end = len; /* cut short by the capture: parse what is there */

	info->ip_version = 6;
	info->l3_off = (uint16_t)off;
	info->l3_len = (uint16_t)(end - off);
	memcpy(info->src, ip + 8, 16);
	memcpy(info->dst, ip + 24, 16);

	nh = ip[6];
	cur = off + IPV6_HLEN;
	for (n = 0; ipv6_is_extension(nh); n++) {
		uint32_t ext_len;

		if (n == PARSE_MAX_IPV6_EXT)
			return PARSE_IPV6_EXT_TOO_MANY;
		if (cur + 8 > end)
			return PARSE_IPV6_EXT_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t fo = rd16(frame + cur + 2);
			info->frag_id = (uint32_t)rd16(frame + cur + 4) << 16 | rd16(frame + cur + 6);
			info->frag_offset = (uint16_t)(fo & 0xfff8);
			info->frag_more = (fo & 1) != 0;
			info->frag_data_len =
				(uint16_t)(declared_end > cur + 8 ? declared_end - (cur + 8) : 0);
			if ((fo & 0xfff8) != 0) {
				info->l4_proto = frame[cur];
				info->l4_off = 0;
				return PARSE_FRAGMENT;
			}
			/* Offset 0 without M: an atomic fragment (RFC 6946), a whole datagram. */
			info->is_fragment = (fo & 1) != 0;
			ext_len = 8;
		} else if (nh == IPPROTO_AH) {
			ext_len = ((uint32_t)frame[cur + 1] + 2) * 4; /* RFC 4302 §2.2 */
		} else {
			ext_len = ((uint32_t)frame[cur + 1] + 1) * 8; /* RFC 8200 §4 */
		}
		if (cur + ext_len > end)
			return PARSE_IPV6_EXT_TRUNCATED;
		nh = frame[cur];
		cur += ext_len;
	}
	info->l4_proto = nh;
	if (nh == IPPROTO_IPV6 || nh == IPPROTO_IPIP)
		return parse_inner_ip(frame, end, cur, nh == IPPROTO_IPV6 ? 6 : 4, depth, info);
	return parse_l4(frame, cur, end, info);
}

static enum parse_result
parse_ip(const uint8_t *frame, uint32_t len, uint32_t off, int version, int depth,
	 struct parse_info *info)
{
	if (off >= len)
		return version == 4 ? PARSE_IPV4_TRUNCATED : PARSE_IPV6_TRUNCATED;
	return version == 4 ? parse_ipv4(frame, len, off, depth, info)
			    : parse_ipv6(frame, len, off, depth, info);
}

enum parse_result
parse_frame(const uint8_t *frame, uint32_t len, unsigned int flags, struct parse_info *info)
{
	struct wire_l2 l2;
	uint32_t off;
	uint16_t type;
	int labels;

	memset(info, 0, sizeof(*info));
	info->tso_length = (flags & PARSE_F_CAPTURE) != 0;
	switch (wire_walk_l2(frame, len, &l2)) {
	case WIRE_TRUNCATED:
		return PARSE_ETH_TRUNCATED;
	case WIRE_VLAN_TRUNCATED:
		return PARSE_VLAN_TRUNCATED;
	case WIRE_VLAN_TOO_DEEP:
		return PARSE_VLAN_TOO_DEEP;
	case WIRE_OK:
		break;
	}
	if (l2.tags != 0) { /* info was zeroed: untagged frames leave it so */
		info->vlan = l2.vid;
		info->vlan_count = l2.tags;
	}
	type = l2.ethertype;
	off = l2.payload_off;

	switch (type) {
	case ETHERTYPE_IPV4:
		return parse_ip(frame, len, off, 4, 0, info);
	case ETHERTYPE_IPV6:
		return parse_ip(frame, len, off, 6, 0, info);
	case ETHERTYPE_MPLS:
		/* Walk the label stack to the bottom-of-stack bit, then guess IP by version. */
		for (labels = 0; labels < MPLS_MAX_LABELS; labels++) {
			if (off + MPLS_HLEN > len)
				return PARSE_NON_IP;
			off += MPLS_HLEN;
			if (frame[off - 2] & 0x01)
				break;
		}
		if (labels == MPLS_MAX_LABELS || off >= len)
			return PARSE_NON_IP;
		if ((frame[off] >> 4) == 4 || (frame[off] >> 4) == 6)
			return parse_ip(frame, len, off, frame[off] >> 4, 0, info);
		return PARSE_NON_IP;
	case ETHERTYPE_NSH:
		return PARSE_NSH;
	case ETHERTYPE_PPPOE:
		if (off + PPPOE_HLEN > len)
			return PARSE_NON_IP;
		type = rd16(frame + off + 6);
		off += PPPOE_HLEN;
		if (type == PPP_IPV4)
			return parse_ip(frame, len, off, 4, 0, info);
		if (type == PPP_IPV6)
			return parse_ip(frame, len, off, 6, 0, info);
		return PARSE_NON_IP;
	default:
		return PARSE_NON_IP;
	}
}
