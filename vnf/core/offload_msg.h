/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * What a worker and the control thread say to each other about offloaded flows (flows the
 * switch carries itself once decided: ctl/offload.c). Both cross rings, so they are fixed
 * size and hold no pointers. Pure types.
 *
 *   worker -> control   OFFLOAD_ASK: this decided flow may go to the switch (what the
 *                       control thread needs to decide it again and build its rules);
 *                       OFFLOAD_GONE: a notice found no such flow (it ended meanwhile).
 *   control -> worker   a notice: the control thread will not offload it (REFUSED); its rules
 *                       are gone and it continues on the flowtag path (RETURNED); its rules
 *                       went idle in the switch, so the flow is over (IDLE).
 */
#ifndef FLOWTAG_OFFLOAD_MSG_H
#define FLOWTAG_OFFLOAD_MSG_H

#include <stdint.h>

#include "dpi.h"
#include "flow_table.h"

enum offload_ask_kind {
	OFFLOAD_ASK,
	OFFLOAD_GONE,
};

struct offload_ask {
	struct flow_key key;
	uint32_t flow_id;
	uint16_t worker;
	uint8_t kind; /* enum offload_ask_kind */
	uint8_t initiator_hi;
	uint8_t vlan_tags; /* VLAN tags on the frame that asked (the switch matches one at most) */
	uint8_t category;
	uint16_t master_proto;
	uint16_t app_proto;
	uint64_t risk;
	uint64_t first_ms; /* the flow's first packet, on the worker's clock */
	char host[DPI_HOST_MAX]; /* what the policy's host rules and NSH MD type 2 see */
};

enum offload_notice_kind {
	OFFLOAD_REFUSED, /* not offloaded (limits, the switch refused): stay on the flowtag path */
	OFFLOAD_RETURNED, /* rules gone (policy change, switch restart, deleted): back on the path */
	OFFLOAD_IDLE, /* rules idle in the switch for the flow's timeout: the flow is over */
};

struct offload_notice {
	struct flow_key key;
	uint32_t flow_id;
	uint8_t kind; /* enum offload_notice_kind */
	uint8_t pad[3];
};

#endif
