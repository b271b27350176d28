/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * A FLOW_REMOVED as Open vSwitch sends it for one of flowtag's rules, shared by
 * test_openflow.c (which decodes it) and openflow_vectors.c (which has ovs-ofctl ofp-print
 * confirm that these bytes are that message). Built from a FLOW_MOD: in OpenFlow 1.3 both
 * carry their match at byte 48.
 */
#ifndef FLOWTAG_OPENFLOW_GOLDEN_H
#define FLOWTAG_OPENFLOW_GOLDEN_H

#include <string.h>

#include "openflow.h"
#include "wire.h"

static inline void
golden_wr64(uint8_t *p, uint64_t v)
{
	wire_wr32(p, (uint32_t)(v >> 32));
	wire_wr32(p + 4, (uint32_t)v);
}

/* FLOW_REMOVED (reason, counts) for a rule with match m and this cookie; returns its length. */
static inline size_t
golden_flow_removed_cookie(struct of_buf *b, const struct of_match *m, uint8_t reason,
			   uint64_t packets, uint64_t bytes, uint64_t cookie)
{
	struct of_flow_mod fm = {.match = m};
	size_t match_len;
	uint8_t *p = b->data;

	b->len = 0;
	b->overflow = false;
	of_flow_mod(b, 0, &fm);
	match_len = (size_t)(p[50] << 8 | p[51]);
	match_len = (match_len + 7) & ~(size_t)7;
	b->len = 48 + match_len;
	p[1] = OFPT_FLOW_REMOVED;
	wire_wr16(p + 2, (uint16_t)b->len);
	wire_wr32(p + 4, 0);
	golden_wr64(p + 8, cookie);
	wire_wr16(p + 16, 300); /* priority */
	p[18] = reason;
	p[19] = 5; /* table */
	wire_wr32(p + 20, 12); /* duration 12.5 s */
	wire_wr32(p + 24, 500000000);
	wire_wr16(p + 28, 120); /* idle timeout */
	wire_wr16(p + 30, 0);
	golden_wr64(p + 32, packets);
	golden_wr64(p + 40, bytes);
	return b->len;
}

static inline size_t
golden_flow_removed(struct of_buf *b, const struct of_match *m, uint8_t reason,
		    uint64_t packets, uint64_t bytes)
{
	return golden_flow_removed_cookie(b, m, reason, packets, bytes, 0xf10a7a9000000007ULL);
}

#endif
