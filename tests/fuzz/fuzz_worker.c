/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * libFuzzer target: a sequence of frames (2-byte big-endian length, then the frame) through a
 * whole worker: parser, flow table and nDPI's dissectors. A crash here is a crashed worker.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct worker *w;

static void
discard(void *ctx, const struct worker_out *out)
{
	(void)ctx;
	(void)out;
}

static struct worker *
get_worker(void)
{
	struct worker_params p = {
		.flow_capacity = 64,
		.dpi_states = 32,
		.timeout_ms = {300000, 10000, 120000, 60000},
		.budget_tcp = 80,
		.budget_udp = 24,
		.budget_other = 8,
		.tunnels = PARSE_F_TUNNELS, /* the inner flows of every tunnel, as by default */
		.on_packet = discard,
	};

	if (w == NULL)
		w = worker_create(&p);
	if (w == NULL)
		abort();
	return w;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct worker *wk = get_worker();
	uint64_t t = 1000000;

	while (size >= 2) {
		size_t n = (size_t)(data[0] << 8 | data[1]);
		struct worker_pkt pkt = {0};

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		pkt.data = data;
		pkt.len = (uint32_t)n;
		pkt.wire_len = (uint32_t)n;
		pkt.time_us = t;
		t += 1000;
		worker_process(wk, &pkt, 1);
		data += n;
		size -= n;
	}
	/* Each input starts from an empty table: flows end, records are made, states return. */
	worker_flush(wk);
	return 0;
}
