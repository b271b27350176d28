/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * flowtag replay's input: captures (pcap or pcapng, any supported link type) normalised into
 * one Ethernet pcap in a private temporary file, which the rx lcore reads into the data path's
 * mbufs itself (in 1 MB reads, with the timestamps net_pcap would give), on a net_pcap port
 * that also writes --out, so replayed packets take the path live ones take. Paced (packets per second) or as fast as it
 * goes; once, or pass after pass (--loop: each pass ends every flow, then the port is
 * rewound after a pause). The input ends when it has delivered every packet, or when nothing
 * came for REPLAY_STALL_MS (a capture cut short).
 *
 * replay_create()/replay_destroy() and the vdev string: the control thread, before and after
 * the data path. The dp_input it embeds: see input.h.
 */
#ifndef FLOWTAG_DP_REPLAY_H
#define FLOWTAG_DP_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input.h"

#define REPLAY_STALL_MS 2000

struct replay_params {
	const char *const *captures;
	int n_captures;
	const char *out_path; /* NULL: packets are dropped after classification */
	bool loop;
	uint32_t loop_pause_ms;
	uint32_t pps; /* 0: as fast as it goes */
};

struct replay;

/* Normalise the captures. NULL with a message in err. */
struct replay *replay_create(const struct replay_params *params, char *err, size_t err_len);
void replay_destroy(struct replay *r);

/* Packets in the input (0: nothing to replay). */
uint64_t replay_packets(const struct replay *r);
/* The vdev to configure as the only port: "net_pcap_replay,rx_pcap=TMP[,tx_pcap=OUT]". */
const char *replay_vdev(const struct replay *r);
/* The input the data path reads (valid until replay_destroy). */
struct dp_input *replay_input(struct replay *r);
/* Find the port it reads (after the EAL is up; for rewinding). 0, or -1 with err. */
int replay_attach(struct replay *r, char *err, size_t err_len);

#endif
