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
parse_tunnel_name(enum parse_tunnel t)
{
	static const char *const names[PARSE_TUNNEL_COUNT] = {"", "gtpu", "capwap", "vxlan",
							      "geneve"};

	return (unsigned int)t < PARSE_TUNNEL_COUNT ? names[t] : "";
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

/* ---- UDP tunnels: where the inner packet starts, or 0 if this is not one ---- */

/* GTP-U G-PDU (3GPP TS 29.281 §5): the inner IP packet's offset. */
static uint32_t
gtpu_inner(const uint8_t *frame, uint32_t off, uint32_t end, uint32_t *teid)
{
	uint8_t flags;
	uint32_t hdr = 8;
	int n;

	if (off + 8 > end)
		return 0;
	flags = frame[off];
	/* Version 1, protocol type GTP (not GTP'), a G-PDU: user data, not signalling. */
	if ((flags >> 5) != 1 || !(flags & 0x10) || frame[off + 1] != 0xff)
		return 0;
	*teid = (uint32_t)rd16(frame + off + 4) << 16 | rd16(frame + off + 6);
	if (flags & 0x07) {
		uint8_t next;

		hdr = 12; /* sequence number, N-PDU number, next extension header type */
		if (off + hdr > end)
			return 0;
		next = (flags & 0x04) ? frame[off + 11] : 0;
		for (n = 0; next != 0; n++) {
			uint32_t len;

			/* Each extension: its length in 4-byte units, contents, the next type. */
			if (n == PARSE_MAX_GTPU_EXT || off + hdr + 1 > end)
				return 0;
			len = (uint32_t)frame[off + hdr] * 4;
			if (len == 0 || off + hdr + len > end)
				return 0;
			next = frame[off + hdr + len - 1];
			hdr += len;
		}
	}
	return off + hdr < end ? off + hdr : 0;
}

/* The IP packet an 802.11 data frame carries in LLC/SNAP; its EtherType in *type. */
static uint32_t
ieee80211_inner(const uint8_t *frame, uint32_t off, uint32_t end, uint16_t *type)
{
	static const uint8_t snap[6] = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00};
	uint32_t hdr = 24;
	uint8_t fc0, fc1;

	if (off + hdr > end)
		return 0;
	fc0 = frame[off];
	fc1 = frame[off + 1];
	if (((fc0 >> 2) & 3) != 2 || (fc0 & 3) != 0) /* a data frame, version 0 */
		return 0;
	if ((fc1 & 3) == 3)
		hdr += 6; /* to and from the DS: a fourth address */
	if (fc0 & 0x80)
		hdr += 2; /* QoS data: QoS control */
	if (fc1 & 0x40)
		return 0; /* protected: encrypted, nothing to read */
	if (off + hdr + 8 > end || memcmp(frame + off + hdr, snap, sizeof(snap)) != 0)
		return 0;
	*type = rd16(frame + off + hdr + 6);
	return off + hdr + 8;
}

/* CAPWAP data channel (RFC 5415 §4.3): the inner packet, an 802.11 or 802.3 frame's. */
static uint32_t
capwap_inner(const uint8_t *frame, uint32_t off, uint32_t end, uint16_t *type)
{
	uint32_t hlen;
	struct wire_l2 l2;

	if (off + 8 > end || frame[off] != 0) /* preamble: version 0, type 0 (CAPWAP header) */
		return 0;
	hlen = (uint32_t)(frame[off + 1] >> 3) * 4;
	/* F (a fragment) and K (a keep-alive) carry no whole packet. */
	if (hlen < 8 || off + hlen >= end || (frame[off + 3] & 0x80) || (frame[off + 3] & 0x08))
		return 0;
	if (frame[off + 2] & 0x01) /* T: a native frame of the binding (WBID 1: IEEE 802.11) */
		return ((frame[off + 2] >> 1) & 0x1f) == 1
			       ? ieee80211_inner(frame, off + hlen, end, type)
			       : 0;
	/* An IEEE 802.3 frame. */
	if (wire_walk_l2(frame + off + hlen, end - (off + hlen), &l2) != WIRE_OK)
		return 0;
	*type = l2.ethertype;
	return off + hlen + l2.payload_off;
}

/* An Ethernet frame inside a tunnel: where its IP packet starts. */
static uint32_t
ethernet_inner(const uint8_t *frame, uint32_t off, uint32_t end, uint16_t *type)
{
	struct wire_l2 l2;

	if (off >= end || wire_walk_l2(frame + off, end - off, &l2) != WIRE_OK)
		return 0;
	*type = l2.ethertype;
	return off + l2.payload_off;
}

/* VXLAN (RFC 7348 §5): I flag, then the VNI; an Ethernet frame inside. */
static uint32_t
vxlan_inner(const uint8_t *frame, uint32_t off, uint32_t end, uint32_t *vni, uint16_t *type)
{
	if (off + 8 > end || !(frame[off] & 0x08))
		return 0;
	*vni = (uint32_t)frame[off + 4] << 16 | (uint32_t)frame[off + 5] << 8 | frame[off + 6];
	return ethernet_inner(frame, off + 8, end, type);
}

/* Geneve (RFC 8926 §3.4): version 0, not a control packet; Ethernet or IP inside. */
static uint32_t
geneve_inner(const uint8_t *frame, uint32_t off, uint32_t end, uint32_t *vni, uint16_t *type)
{
	uint32_t hdr;
	uint16_t proto;

	if (off + 8 > end || (frame[off] >> 6) != 0 || (frame[off + 1] & 0x80))
		return 0;
	hdr = 8 + (uint32_t)(frame[off] & 0x3f) * 4;
	if (off + hdr >= end)
		return 0;
	*vni = (uint32_t)frame[off + 4] << 16 | (uint32_t)frame[off + 5] << 8 | frame[off + 6];
	proto = rd16(frame + off + 2);
	if (proto == 0x6558) /* transparent Ethernet bridging */
		return ethernet_inner(frame, off + hdr, end, type);
	*type = proto;
	return off + hdr;
}

/*
 * A UDP packet of the outermost IP header that may be a tunnel the caller asked for: if it
 * is, and its inner packet parses, the flow is the inner one (its addresses, ports and
 * payload, which nDPI gets), with the tunnel and its id. Anything less (not the tunnel after
 * all, a malformed or fragmented inner packet) leaves the outer UDP flow as it was.
 */
static enum parse_result
parse_udp_tunnel(const uint8_t *frame, uint32_t end, int depth, struct parse_info *info)
{
	uint32_t off = info->payload_off, inner = 0, id = 0;
	uint16_t type = 0;
	uint8_t tunnel = PARSE_TUNNEL_NONE;
	struct parse_info outer;
	enum parse_result r;

	if ((info->decap & PARSE_F_GTPU) &&
	    (info->sport == PARSE_PORT_GTPU || info->dport == PARSE_PORT_GTPU)) {
		inner = gtpu_inner(frame, off, end, &id);
		tunnel = PARSE_TUNNEL_GTPU;
		if (inner != 0)
			type = (frame[inner] >> 4) == 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
	} else if ((info->decap & PARSE_F_CAPWAP) && (info->sport == PARSE_PORT_CAPWAP_DATA ||
						      info->dport == PARSE_PORT_CAPWAP_DATA)) {
		inner = capwap_inner(frame, off, end, &type);
		tunnel = PARSE_TUNNEL_CAPWAP;
	} else if ((info->decap & PARSE_F_VXLAN) && info->dport == PARSE_PORT_VXLAN) {
		inner = vxlan_inner(frame, off, end, &id, &type);
		tunnel = PARSE_TUNNEL_VXLAN;
	} else if ((info->decap & PARSE_F_GENEVE) && info->dport == PARSE_PORT_GENEVE) {
		inner = geneve_inner(frame, off, end, &id, &type);
		tunnel = PARSE_TUNNEL_GENEVE;
	}
	if (inner == 0 || (type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6))
		return PARSE_OK;
	outer = *info;
	info->tunnelled = 1;
	info->is_fragment = 0;
	r = parse_ip(frame, end, inner, type == ETHERTYPE_IPV4 ? 4 : 6, depth + 1, info);
	if (r != PARSE_OK) {
		*info = outer;
		return PARSE_OK;
	}
	info->tunnel = tunnel;
	info->tunnel_id = id;
	return PARSE_OK;
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

/* The L4 header, then, for UDP of the outermost IP header, the tunnels asked for. */
static inline enum parse_result
parse_transport(const uint8_t *frame, uint32_t off, uint32_t end, int depth,
		struct parse_info *info)
{
	enum parse_result r = parse_l4(frame, off, end, info);

	if (__builtin_expect(info->decap != 0, 0) && r == PARSE_OK && depth == 0 &&
	    info->l4_proto == IPPROTO_UDP && !info->is_fragment)
		return parse_udp_tunnel(frame, end, depth, info);
	return r;
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
	return parse_transport(frame, off + ihl, end, depth, info);
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
	return parse_transport(frame, cur, end, depth, info);
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
	info->decap = (uint8_t)(flags & PARSE_F_TUNNELS);
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
