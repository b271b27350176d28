/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "capture.h"

#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "wire.h"

#define OUT_SNAPLEN 262144

/* Link types by their LINKTYPE_ numbers (tcpdump.org/linktypes.html). */
#define LT_NULL 0
#define LT_ETHERNET 1
#define LT_PPP 9
#define LT_RAW_OLD 12 /* DLT_RAW on most BSDs */
#define LT_RAW 101
#define LT_C_HDLC 104
#define LT_LOOP 108
#define LT_LINUX_SLL 113
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_LINUX_SLL2 276

static uint16_t
ethertype_of_ip(const uint8_t *p, uint32_t len)
{
	if (len == 0)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		return ETHERTYPE_IPV4;
	case 6:
		return ETHERTYPE_IPV6;
	default:
		return 0;
	}
}

/* BSD AF_ values for IPv6 differ by OS (24 NetBSD/OpenBSD, 28 FreeBSD, 30 Darwin). */
static uint16_t
ethertype_of_af(uint32_t af)
{
	if (af == 2)
		return ETHERTYPE_IPV4;
	if (af == 24 || af == 28 || af == 30 || af == 10)
		return ETHERTYPE_IPV6;
	return 0;
}

static uint16_t
ethertype_of_ppp(uint16_t proto)
{
	if (proto == 0x0021)
		return ETHERTYPE_IPV4;
	if (proto == 0x0057)
		return ETHERTYPE_IPV6;
	return ETHERTYPE_PPP;
}

int
capture_to_ethernet(int linktype, const uint8_t *in, uint32_t in_len, uint8_t *out,
		    uint32_t out_size)
{
	static const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
	static const uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint32_t skip = 0;
	uint16_t type = 0;

	switch (linktype) {
	case LT_ETHERNET:
		if (in_len == 0)
			return 0;
		if (in_len > out_size)
			in_len = out_size;
		memcpy(out, in, in_len);
		return (int)in_len;
	case LT_LINUX_SLL: /* 16-byte header, protocol in the last 2 bytes */
		skip = 16;
		if (in_len >= skip)
			type = (uint16_t)(in[14] << 8 | in[15]);
		break;
	case LT_LINUX_SLL2: /* 20-byte header, protocol first */
		skip = 20;
		if (in_len >= skip)
			type = (uint16_t)(in[0] << 8 | in[1]);
		break;
	case LT_NULL: /* 4-byte address family in the capturing host's byte order */
	case LT_LOOP: /* the same, in network byte order */
		skip = 4;
		if (in_len >= skip) {
			uint32_t be = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | in[2] << 8 | in[3];
			uint32_t le = (uint32_t)in[3] << 24 | (uint32_t)in[2] << 16 | in[1] << 8 | in[0];

			type = ethertype_of_af(linktype == LT_LOOP || be < 256 ? be : le);
		}
		break;
	case LT_RAW_OLD:
	case LT_RAW:
	case LT_IPV4:
	case LT_IPV6:
		type = ethertype_of_ip(in, in_len);
		break;
	case LT_PPP: /* optional 0xff03 address/control, then a 2-byte protocol */
		/*
		 * Routers often write Cisco HDLC frames (address 0x0f unicast / 0x8f broadcast)
		 * under the PPP link type; tcpdump and ndpiReader recognise them the same way.
		 */
		if (in_len >= 4 && (in[0] == 0x0f || in[0] == 0x8f) && in[1] == 0x00) {
			skip = 4;
			type = (uint16_t)(in[2] << 8 | in[3]);
			break;
		}
		if (in_len >= 2 && in[0] == 0xff && in[1] == 0x03)
			skip = 2;
		if (in_len >= skip + 2)
			type = ethertype_of_ppp((uint16_t)(in[skip] << 8 | in[skip + 1]));
		skip += 2;
		break;
	case LT_C_HDLC: /* address, control, EtherType */
		skip = 4;
		if (in_len >= skip)
			type = (uint16_t)(in[2] << 8 | in[3]);
		break;
	default:
		return -1;
	}
	if (skip > in_len)
		skip = in_len; /* a runt: keep what there is, the parser will count it */
	if (out_size < ETH_HDR_LEN)
		return 0;
	memcpy(out, dst_mac, 6);
	memcpy(out + 6, src_mac, 6);
	out[12] = (uint8_t)(type >> 8);
	out[13] = (uint8_t)type;
	in_len -= skip;
	if (in_len > out_size - ETH_HDR_LEN)
		in_len = out_size - ETH_HDR_LEN;
	memcpy(out + ETH_HDR_LEN, in + skip, in_len);
	return (int)(ETH_HDR_LEN + in_len);
}

static int
linktype_supported(int lt)
{
	switch (lt) {
	case LT_ETHERNET:
	case LT_LINUX_SLL:
	case LT_LINUX_SLL2:
	case LT_NULL:
	case LT_LOOP:
	case LT_RAW_OLD:
	case LT_RAW:
	case LT_IPV4:
	case LT_IPV6:
	case LT_PPP:
	case LT_C_HDLC:
		return 1;
	default:
		return 0;
	}
}

/*
 * A frame the capture cut short (caplen < wire length) whose IP length is 0: a TSO send
 * (parse.h PARSE_F_CAPTURE). The bytes it would have had are gone, and so is the only other
 * record of its length once the frame is an mbuf: write the wire's length into the header,
 * as the NIC did when it sent it, so the packet counts as long as it was.
 */
static void
restore_tso_length(uint8_t *frame, uint32_t caplen, uint32_t wire_len)
{
	struct wire_l2 l2;
	uint32_t off, ip_len;

	if (caplen >= wire_len || wire_walk_l2(frame, caplen, &l2) != WIRE_OK)
		return;
	off = l2.payload_off;
	ip_len = wire_len - off < 65535 ? wire_len - off : 65535;
	if (l2.ethertype == ETHERTYPE_IPV4 && caplen >= off + 20 && (frame[off] >> 4) == 4 &&
	    frame[off + 2] == 0 && frame[off + 3] == 0) {
		frame[off + 2] = (uint8_t)(ip_len >> 8);
		frame[off + 3] = (uint8_t)ip_len;
	} else if (l2.ethertype == ETHERTYPE_IPV6 && caplen >= off + 40 && (frame[off] >> 4) == 6 &&
		   frame[off + 4] == 0 && frame[off + 5] == 0 && frame[off + 6] != 0 /* jumbo */ &&
		   ip_len > 40) {
		frame[off + 4] = (uint8_t)((ip_len - 40) >> 8);
		frame[off + 5] = (uint8_t)(ip_len - 40);
	}
}

static int
append_file(const char *path, pcap_dumper_t *dumper, uint8_t *frame, uint64_t *packets, char *err,
	    size_t err_len)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *hdr;
	const u_char *data;
	pcap_t *in;
	int lt, rc;

	in = pcap_open_offline(path, errbuf);
	if (in == NULL) {
		snprintf(err, err_len, "%s: %s", path, errbuf);
		return -1;
	}
	lt = pcap_datalink(in);
	if (!linktype_supported(lt)) {
		const char *name = pcap_datalink_val_to_name(lt);

		snprintf(err, err_len,
			 "%s: link type %d (%s) is not supported; flowtag reads Ethernet, Linux SLL, "
			 "BSD null/loopback, raw IP, PPP and Cisco HDLC captures",
			 path, lt, name != NULL ? name : "unknown");
		pcap_close(in);
		return -1;
	}
	while ((rc = pcap_next_ex(in, &hdr, &data)) == 1) {
		struct pcap_pkthdr out = *hdr;
		int n = capture_to_ethernet(lt, data, hdr->caplen, frame, OUT_SNAPLEN);

		/* The wire length changes by the same amount as the header did. */
		out.len = hdr->len + (bpf_u_int32)n - hdr->caplen;
		/* DPDK's pcap port takes a frame's length as 16 bits: past 64 KB (a BIG TCP send)
		 * it built a chain shorter than the length it claimed, and reading it crashed. */
		if (n > CAPTURE_MAX_FRAME)
			n = CAPTURE_MAX_FRAME;
		out.caplen = (bpf_u_int32)n;
		if (n > 0)
			restore_tso_length(frame, out.caplen, out.len);
		pcap_dump((u_char *)dumper, &out, frame);
		(*packets)++;
	}
	if (rc == PCAP_ERROR) {
		snprintf(err, err_len, "%s: %s (after %llu packets)", path, pcap_geterr(in),
			 (unsigned long long)*packets);
		pcap_close(in);
		return -1;
	}
	pcap_close(in);
	return 0;
}

int
capture_normalize(const char *const *inputs, int n, const char *out_path, uint64_t *packets,
		  char *err, size_t err_len)
{
	static uint8_t frame[OUT_SNAPLEN];
	pcap_dumper_t *dumper;
	pcap_t *dead;
	int i, rc = 0;

	*packets = 0;
	dead = pcap_open_dead(DLT_EN10MB, OUT_SNAPLEN);
	if (dead == NULL) {
		snprintf(err, err_len, "libpcap: cannot create an Ethernet capture");
		return -1;
	}
	dumper = pcap_dump_open(dead, out_path);
	if (dumper == NULL) {
		snprintf(err, err_len, "%s: %s", out_path, pcap_geterr(dead));
		pcap_close(dead);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = append_file(inputs[i], dumper, frame, packets, err, err_len);
	pcap_dump_close(dumper);
	pcap_close(dead);
	return rc;
}

int
capture_write_empty(const char *path)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, OUT_SNAPLEN);
	pcap_dumper_t *d = dead != NULL ? pcap_dump_open(dead, path) : NULL;

	if (d != NULL)
		pcap_dump_close(d);
	if (dead != NULL)
		pcap_close(dead);
	return d != NULL ? 0 : -1;
}
