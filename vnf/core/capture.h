/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Capture input for `flowtag replay`: pcap or pcapng files of any supported link type,
 * turned into one Ethernet pcap that a net_pcap vdev reads, so replayed packets take exactly
 * the path live packets take.
 *
 * Supported link types: Ethernet, Linux SLL and SLL2, BSD null/loopback, raw IP (IPv4/IPv6),
 * PPP and Cisco HDLC. Anything else is refused with a message naming the link type.
 * Pure code (libpcap only); control thread.
 */
#ifndef FLOWTAG_CAPTURE_H
#define FLOWTAG_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The longest frame a replay reads: the first 65,535 bytes of a longer one (a BIG TCP send)
 * are kept, and the rest is not classified or counted.
 */
#define CAPTURE_MAX_FRAME 65535

/*
 * Write the packets of inputs[0..n-1], in order, to `out_path` as an Ethernet pcap.
 * *packets gets the number written. A frame the capture cut short whose IP length is 0 (a
 * TSO send) gets its wire length written there, so it counts whole. Returns 0, or -1 with a
 * message in err.
 */
int capture_normalize(const char *const *inputs, int n, const char *out_path, uint64_t *packets,
		      char *err, size_t err_len);

/* An Ethernet pcap with no packets at `path` (replay --out of an empty input). 0 or -1. */
int capture_write_empty(const char *path);

/* Turn one link-layer frame into an Ethernet frame in `out` (pure; exposed for the fuzzer).
 * Returns the Ethernet frame length, or -1 for an unsupported link type. */
int capture_to_ethernet(int linktype, const uint8_t *in, uint32_t in_len, uint8_t *out,
			uint32_t out_size);

#endif
