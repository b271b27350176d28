/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Deep packet inspection: the one module that talks to nDPI.
 *
 * A `struct dpi` is one nDPI detection module plus a fixed pool of per-flow nDPI states, and
 * belongs to one worker. A flow takes a state slot when it starts, feeds packets until nDPI
 * gives its verdict (or the packet budget runs out and the flow gives up, as ndpiReader does),
 * then its metadata is copied out and the slot (688 bytes in nDPI 4.2) is released.
 *
 * Pure code: no EAL. Thread rules: dpi_process/dpi_giveup/state functions from the owning
 * worker only; the name functions only read tables nDPI fills at creation and may be called
 * from any thread.
 */
#ifndef FLOWTAG_DPI_H
#define FLOWTAG_DPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DPI_NO_SLOT UINT32_MAX
#define DPI_HOST_MAX 80 /* nDPI 4.2 host_server_name */
#define DPI_JA3_LEN 33

struct app_defs;

struct dpi_params {
	uint32_t max_states; /* flows under classification at once */
	/* The user-defined applications (apps.h), loaded as nDPI custom protocols; NULL: none.
	 * Only read during dpi_create(). */
	const struct app_defs *apps;
};

struct dpi_verdict {
	uint16_t master_proto; /* 0 = none ("Unknown") */
	uint16_t app_proto;
	uint16_t category;
};

/* What nDPI learnt about a flow, kept after its state is released. */
struct dpi_meta {
	char host[DPI_HOST_MAX]; /* TLS/QUIC SNI, HTTP Host, DNS query, ...; "" if none */
	char ja3c[DPI_JA3_LEN]; /* JA3 client hash (hex); "" if none */
	uint64_t risk; /* bitmap of nDPI risks */
};

enum dpi_step {
	DPI_MORE, /* keep sending packets of this flow */
	DPI_DONE, /* final verdict (detected, or given up): collect, then release the slot */
};

/* Returns NULL with errno set. */
struct dpi *dpi_create(const struct dpi_params *params);
void dpi_destroy(struct dpi *dpi);

/* Take a zeroed per-flow state; DPI_NO_SLOT when all are in use. */
uint32_t dpi_state_alloc(struct dpi *dpi);
/* Release a state and whatever nDPI allocated inside it. DPI_NO_SLOT is ignored. */
void dpi_state_free(struct dpi *dpi, uint32_t slot);
uint32_t dpi_states_in_use(const struct dpi *dpi);

/*
 * Feed one IP packet (header onwards) of the flow in `slot`. `flow_packets` counts the flow's
 * packets including this one; past `budget` the flow gives up. On DPI_DONE *v is final; on
 * DPI_MORE *v is the best answer so far (nDPI may already know the application and still want
 * packets for metadata, e.g. a TLS certificate).
 */
enum dpi_step dpi_process(struct dpi *dpi, uint32_t slot, const uint8_t *l3, uint16_t l3_len,
			  uint64_t time_ms, uint32_t flow_packets, uint32_t budget,
			  struct dpi_verdict *v);

/* The flow ends before a verdict: nDPI's give-up, with guessing by port/IP (as ndpiReader). */
void dpi_giveup(struct dpi *dpi, uint32_t slot, struct dpi_verdict *v);

void dpi_collect_meta(const struct dpi *dpi, uint32_t slot, struct dpi_meta *meta);

/* "TLS.YouTube", "DNS", "Unknown": nDPI's protocol2name text, which ndpiReader prints. */
const char *dpi_label(const struct dpi *dpi, const struct dpi_verdict *v, char *buf, size_t len);
/* nDPI's name of a protocol id ("Unknown" for 0). */
const char *dpi_proto_name(const struct dpi *dpi, uint16_t id);
const char *dpi_category_name(const struct dpi *dpi, uint16_t category);
/* Name of risk bit `bit` (0..63), or NULL if nDPI has none. */
const char *dpi_risk_name(unsigned int bit);

/* Lookups for config: protocol / category id by name (case-insensitive), or -1. */
int dpi_proto_id(const struct dpi *dpi, const char *name);
int dpi_category_id(const struct dpi *dpi, const char *name);
uint32_t dpi_proto_count(const struct dpi *dpi);
/* How many of those are nDPI's own: ids from here on are user-defined applications. */
uint32_t dpi_builtin_proto_count(void);

/* Bytes of one nDPI per-flow state in the linked library. */
size_t dpi_state_size(void);

#endif
