/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Where the data path's packets come from: the live ports, or a capture replayed through a
 * net_pcap port (flowtag replay). The rx lcore (the lone worker, or the I/O lcore) is the only
 * one that receives; it asks the input, not the ports, so replay's pacing, passes and end of
 * input live here and not as flags in the live loops.
 *
 * Thread rules: rx() and state() on the rx lcore only; poll() on the control thread only.
 */
#ifndef FLOWTAG_DP_INPUT_H
#define FLOWTAG_DP_INPUT_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct dp_input;

enum dp_input_state {
	DP_INPUT_RUNNING, /* receive */
	DP_INPUT_PASS_END, /* replay --loop: end this pass's flows, then wait for the rewind */
	DP_INPUT_DRAINED, /* nothing more will come: end every flow and finish */
};

struct dp_input_class {
	const char *name;
	/*
	 * A capture: nothing may be lost, so tx and flow records wait (bounded) for room
	 * instead of dropping, and flow time comes from the packets' own timestamps (no idle
	 * ticks from the wall clock).
	 */
	bool lossless;
	uint16_t (*rx)(struct dp_input *in, uint16_t port_id, struct rte_mbuf **m, uint16_t max);
	enum dp_input_state (*state)(struct dp_input *in);
	/* The rx lcore ended the pass's flows (after DP_INPUT_PASS_END). */
	void (*pass_flushed)(struct dp_input *in);
	/* Control thread, periodically: rewinds between passes. */
	void (*poll)(struct dp_input *in);
};

struct dp_input {
	const struct dp_input_class *cls;
	/* It comes in passes (replay --loop): a lone worker must end each pass's flows. */
	bool passes;
};

/* The live ports: packets as they come, until the data path is stopped. */
extern const struct dp_input_class dp_input_live;

#endif
