/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Packet parser: Ethernet frame bytes in, addresses/ports/offsets out.
 *
 * Pure code (no EAL, no allocation): it never reads past `len`, so it is safe on truncated,
 * garbage and adversarial frames, and it is what the fuzz target drives. Any thread may call it.
 */
#ifndef FLOWTAG_PARSE_H
#define FLOWTAG_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Why a packet could not be parsed, one counter each (X-macro, as VPP declares error counters).
 * PARSE_OK and the two "not a flow packet" outcomes come first; every other value is malformed.
 */
#define PARSE_RESULTS(X)                                                                     \
	X(OK, "ok")                                                                              \
	X(NON_IP, "not IPv4/IPv6 (ARP, LLDP, ...)")                                              \
	X(FRAGMENT, "IP fragment other than the first")                                          \
	X(NSH, "NSH-encapsulated (back from a service chain)")                                   \
	X(ETH_TRUNCATED, "frame shorter than an Ethernet header")                                \
	X(VLAN_TRUNCATED, "802.1Q/802.1ad tag cut short")                                        \
	X(VLAN_TOO_DEEP, "more than 2 VLAN tags")                                                \
	X(IPV4_TRUNCATED, "IPv4 header cut short")                                               \
	X(IPV4_BAD_IHL, "IPv4 IHL below 5 or beyond the frame")                                  \
	X(IPV4_BAD_LENGTH, "IPv4 total length below the header length")                          \
	X(IPV6_TRUNCATED, "IPv6 header cut short")                                               \
	X(IPV6_EXT_TRUNCATED, "IPv6 extension header cut short")                                 \
	X(IPV6_EXT_TOO_MANY, "IPv6 extension header chain too long")                             \
	X(BAD_IP_VERSION, "IP version field does not match the EtherType")                       \
	X(TUNNEL_TOO_DEEP, "IP-in-IP nested too deep")                                           \
	X(TCP_TRUNCATED, "TCP header cut short")                                                 \
	X(TCP_BAD_OFFSET, "TCP data offset below 5 or beyond the packet")                        \
	X(UDP_TRUNCATED, "UDP header cut short")                                                 \
	X(SCTP_TRUNCATED, "SCTP common header cut short")                                        \
	X(ICMP_TRUNCATED, "ICMP header cut short")

enum parse_result {
#define PARSE_ENUM(name, text) PARSE_##name,
	PARSE_RESULTS(PARSE_ENUM)
#undef PARSE_ENUM
	PARSE_RESULT_COUNT
};

/* First result that means "malformed" (as opposed to "fine" or "not for the flow table"). */
#define PARSE_FIRST_MALFORMED PARSE_ETH_TRUNCATED

/*
 * UDP tunnels whose inner flow is classified (PARSE_F_* below asks for each): the flow is
 * the inner packet's, and the tunnel's id is part of its key.
 */
enum parse_tunnel {
	PARSE_TUNNEL_NONE,
	PARSE_TUNNEL_GTPU, /* 3GPP GTP-U (TS 29.281), UDP 2152: the TEID */
	PARSE_TUNNEL_CAPWAP, /* CAPWAP data (RFC 5415), UDP 5247: no id (0) */
	PARSE_TUNNEL_VXLAN, /* RFC 7348, UDP 4789: the VNI */
	PARSE_TUNNEL_GENEVE, /* RFC 8926, UDP 6081: the VNI */
	PARSE_TUNNEL_COUNT
};

#define PARSE_PORT_GTPU 2152
#define PARSE_PORT_CAPWAP_DATA 5247
#define PARSE_PORT_VXLAN 4789
#define PARSE_PORT_GENEVE 6081
#define PARSE_MAX_GTPU_EXT 8 /* GTP-U extension headers walked before giving up */

/*
 * Whether a tunnel's id is part of the flow key. A VNI is the same both ways and separates
 * tenants whose addresses overlap; a GTP-U TEID is chosen by the receiving end, so the two
 * directions of one flow carry different ones: the flow is its inner packets' (a UE's flows
 * meet), and its record keeps the TEID of its first packet. CAPWAP has no id.
 */
static inline int
parse_tunnel_id_in_key(unsigned int t)
{
	return t == PARSE_TUNNEL_VXLAN || t == PARSE_TUNNEL_GENEVE;
}

/* "gtpu", "capwap", "vxlan", "geneve" ("" for none): records, config, logs. */
const char *parse_tunnel_name(enum parse_tunnel t);

#define PARSE_MAX_IPV6_EXT 8 /* extension headers walked before giving up */
#define PARSE_MAX_IP_NESTING 2 /* outer IP + one 6in4/4in4/4in6/6in6 inner header */

struct parse_info {
	uint16_t l3_off; /* offset of the (innermost) IP header in the frame */
	uint16_t l3_len; /* IP length: header + payload, as the header says, bounded by the frame */
	uint16_t l4_off; /* offset of the L4 header, 0 if none (non-first fragment) */
	uint16_t payload_off; /* offset of the L4 payload */
	uint16_t payload_len;
	uint16_t vlan; /* innermost VLAN ID, 0 if untagged */
	uint8_t vlan_count;
	uint8_t ip_version; /* 4 or 6 */
	uint8_t l4_proto; /* IPPROTO_* of the innermost header */
	uint8_t tcp_flags;
	uint8_t is_fragment : 1; /* first fragment of a fragmented datagram */
	uint8_t tunnelled : 1; /* the addresses are those of an inner IP header */
	uint8_t frag_more : 1; /* a fragment (first or later) with more after it */
	uint8_t tso_length : 1; /* PARSE_F_CAPTURE: an IP length of 0 read as the frame's */
	uint8_t decap; /* input: the PARSE_F_<TUNNEL> flags to decapsulate */
	uint8_t tunnel; /* enum parse_tunnel: the flow is inside this tunnel */
	uint32_t tunnel_id; /* its TEID or VNI */
	uint16_t sport, dport; /* host order; ICMP: type<<8|code in sport, 0 in dport */
	/*
	 * A fragment (is_fragment, or PARSE_FRAGMENT): its datagram's id (IPv4: 16 bits, IPv6:
	 * the fragment header's 32), where its data sits in the datagram and how long it is (as
	 * its header says, not as captured), in bytes.
	 */
	uint32_t frag_id;
	uint16_t frag_offset;
	uint16_t frag_data_len;
	/* Where the outermost IP packet ends by its own length field: past `len` when a capture
	 * kept only the first bytes of the frame (its snap length). */
	uint32_t ip_end;
	uint8_t src[16], dst[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/*
 * PARSE_F_CAPTURE: the frame comes from a capture file, not a port. Captures taken on a host
 * with TSO hold IP packets whose length field is 0 (the NIC fills it in as it segments);
 * read those as long as the captured frame, as Wireshark does. A port's frames never get
 * that benefit of the doubt: there a length of 0 is malformed.
 */
#define PARSE_F_CAPTURE 0x1
/* Classify the inner flow of these UDP tunnels (at the outermost IP header only). */
#define PARSE_F_GTPU 0x2
#define PARSE_F_CAPWAP 0x4
#define PARSE_F_VXLAN 0x8
#define PARSE_F_GENEVE 0x10
#define PARSE_F_TUNNELS (PARSE_F_GTPU | PARSE_F_CAPWAP | PARSE_F_VXLAN | PARSE_F_GENEVE)

/* Parse an Ethernet frame. Returns PARSE_OK with *info filled, or the reason it stopped. */
enum parse_result parse_frame(const uint8_t *frame, uint32_t len, unsigned int flags,
			      struct parse_info *info);

/* A frame from a port (no PARSE_F_* flags). */
static inline enum parse_result
parse_ethernet(const uint8_t *frame, uint32_t len, struct parse_info *info)
{
	return parse_frame(frame, len, 0, info);
}

/* Human-readable name ("ipv4_bad_ihl") and description of a result, for counters and logs. */
const char *parse_result_name(enum parse_result r);
const char *parse_result_text(enum parse_result r);

static inline bool
parse_is_malformed(enum parse_result r)
{
	return r >= PARSE_FIRST_MALFORMED;
}

#endif
