/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * A dummy service function, for demos and tests: what a chain hop does to the path header.
 * NSH: the service index is decremented (RFC 8300 §2.3), a packet whose index would reach 0
 * is dropped; MPLS (networking-sfc encoding, label = SPI << 8 | SI): the SI byte of the label
 * and the TTL are decremented alike; VLAN and DSCP chains carry no index and pass unchanged.
 * Pure code; counters are the caller's.
 */
#ifndef FLOWTAG_SF_H
#define FLOWTAG_SF_H

#include <stdbool.h>
#include <stdint.h>

#define SF_MAX_SPIS 16

struct sf_counters {
	uint64_t packets;
	uint64_t nsh;
	uint64_t mpls;
	uint64_t other; /* no path index (VLAN, DSCP, untagged) */
	uint64_t si_expired; /* dropped: the index would reach 0 */
	uint32_t spi[SF_MAX_SPIS]; /* paths seen, with their packet counts */
	uint64_t spi_packets[SF_MAX_SPIS];
	uint32_t n_spi;
};

/* Process one frame in place. Returns true to send it back, false to drop it. */
bool sf_handle(uint8_t *frame, uint32_t len, struct sf_counters *c);

#endif
