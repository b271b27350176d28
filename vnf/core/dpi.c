/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "dpi.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ndpi/ndpi_api.h>

#include "apps.h"
#include "flow_table.h"
#include "text.h"

/* A flow entry keeps protocol ids in 10 bits. */
_Static_assert(NDPI_NUM_BITS <= FLOW_PROTO_ID_MAX + 1, "nDPI protocol ids fit a flow entry");

struct dpi {
	struct ndpi_detection_module_struct *ndpi;
	uint8_t *states; /* max_states * state_size bytes */
	size_t state_size;
	uint32_t *free_stack; /* free slot numbers */
	uint32_t free_top;
	uint32_t max_states;
	bool ready; /* created whole: the free stack says which states are in use */
};

size_t
dpi_state_size(void)
{
	/* The library's own idea of the size, not this header's: they must agree anyway. */
	return ndpi_detection_get_sizeof_ndpi_flow_struct();
}

/*
 * The user-defined apps, as nDPI takes custom protocols: its protocols file (the one
 * `ndpiReader -p` reads), written to an anonymous memory file (nothing on disk to clean up or
 * race with), then each app's category. Before ndpi_finalize_initialization(), which builds
 * the host automata the host rules join. 0, or -1 with errno.
 */
static int
load_apps(struct ndpi_detection_module_struct *ndpi, const struct app_defs *apps)
{
	size_t size = apps_ndpi_protos_size(apps);
	char *text = malloc(size), path[64];
	int fd = -1, n, rc = -1, err = EINVAL;
	uint32_t i;

	if (text == NULL)
		return -1;
	n = apps_ndpi_protos(apps, text, size);
	if (n >= 0 && (fd = memfd_create("flowtag-apps", MFD_CLOEXEC)) >= 0 &&
	    write(fd, text, (size_t)n) == n) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		rc = ndpi_load_protocols_file(ndpi, path);
	} else {
		err = errno != 0 ? errno : EIO;
	}
	if (fd >= 0)
		close(fd);
	free(text);
	for (i = 0; rc == 0 && i < apps->n; i++) {
		const struct app_def *a = &apps->app[i];
		uint32_t id, count = ndpi_get_num_supported_protocols(ndpi);
		char category[APP_CATEGORY_MAX];
		int cat;

		for (id = NDPI_LAST_IMPLEMENTED_PROTOCOL; id < count; id++)
			if (strcasecmp(ndpi_get_proto_name(ndpi, (u_int16_t)id), a->name) == 0)
				break;
		if (id == count) {
			rc = -1; /* nDPI did not take it (a built-in's name, or no room) */
			break;
		}
		if (a->category[0] == '\0')
			continue;
		snprintf(category, sizeof(category), "%s", a->category); /* nDPI takes a char * */
		cat = ndpi_get_category_id(ndpi, category);
		if (cat < 0) {
			rc = -1;
			break;
		}
		ndpi_set_proto_category(ndpi, (u_int16_t)id, (ndpi_protocol_category_t)cat);
	}
	if (rc != 0)
		errno = err;
	return rc;
}

struct dpi *
dpi_create(const struct dpi_params *params)
{
	NDPI_PROTOCOL_BITMASK all;
	struct dpi *dpi;
	uint32_t i;

	if (params == NULL || params->max_states == 0) {
		errno = EINVAL;
		return NULL;
	}
	/*
	 * Our field accesses (host_server_name, ja3_client, risk) use the header's layout; a
	 * library built with other options would make them read garbage, so refuse it.
	 */
	if (dpi_state_size() != sizeof(struct ndpi_flow_struct)) {
		errno = ENOTSUP;
		return NULL;
	}
	dpi = calloc(1, sizeof(*dpi));
	if (dpi == NULL)
		return NULL;
	dpi->state_size = (dpi_state_size() + 63) & ~(size_t)63;
	dpi->max_states = params->max_states;
	dpi->states = aligned_alloc(64, dpi->state_size * params->max_states);
	dpi->free_stack = malloc(sizeof(uint32_t) * params->max_states);
	/* The same set-up as ndpiReader: default preferences, every protocol enabled. */
	dpi->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
	if (dpi->states == NULL || dpi->free_stack == NULL || dpi->ndpi == NULL) {
		dpi_destroy(dpi);
		errno = ENOMEM;
		return NULL;
	}
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(dpi->ndpi, &all);
	if (params->apps != NULL && params->apps->n > 0 && load_apps(dpi->ndpi, params->apps) != 0) {
		int err = errno;

		dpi_destroy(dpi);
		errno = err;
		return NULL;
	}
	ndpi_finalize_initialization(dpi->ndpi);

	for (i = 0; i < params->max_states; i++)
		dpi->free_stack[i] = params->max_states - 1 - i;
	dpi->free_top = params->max_states;
	dpi->ready = true;
	return dpi;
}

static inline struct ndpi_flow_struct *slot_flow(const struct dpi *dpi, uint32_t slot);

void
dpi_destroy(struct dpi *dpi)
{
	if (dpi == NULL)
		return;
	if (dpi->ready && dpi->free_top < dpi->max_states) {
		/* States still in use (a worker destroyed without a flush) own what nDPI's
		 * dissectors allocated in them: free that too. */
		uint8_t *is_free = calloc(dpi->max_states, 1);
		uint32_t i;

		if (is_free != NULL) {
			for (i = 0; i < dpi->free_top; i++)
				is_free[dpi->free_stack[i]] = 1;
			for (i = 0; i < dpi->max_states; i++)
				if (!is_free[i])
					ndpi_free_flow_data(slot_flow(dpi, i));
			free(is_free);
		}
	}
	if (dpi->ndpi != NULL)
		ndpi_exit_detection_module(dpi->ndpi);
	free(dpi->states);
	free(dpi->free_stack);
	free(dpi);
}

static inline struct ndpi_flow_struct *
slot_flow(const struct dpi *dpi, uint32_t slot)
{
	return (struct ndpi_flow_struct *)(dpi->states + (size_t)slot * dpi->state_size);
}

uint32_t
dpi_state_alloc(struct dpi *dpi)
{
	uint32_t slot;

	if (dpi->free_top == 0)
		return DPI_NO_SLOT;
	slot = dpi->free_stack[--dpi->free_top];
	memset(slot_flow(dpi, slot), 0, dpi->state_size);
	return slot;
}

void
dpi_state_free(struct dpi *dpi, uint32_t slot)
{
	if (slot == DPI_NO_SLOT)
		return;
	/* Frees what dissectors allocated inside the state (TLS buffers, HTTP URL, ...). */
	ndpi_free_flow_data(slot_flow(dpi, slot));
	dpi->free_stack[dpi->free_top++] = slot;
}

uint32_t
dpi_states_in_use(const struct dpi *dpi)
{
	return dpi->max_states - dpi->free_top;
}

static void
to_verdict(ndpi_protocol p, struct dpi_verdict *v)
{
	v->master_proto = p.master_protocol;
	v->app_proto = p.app_protocol;
	v->category = (uint16_t)p.category;
}

enum dpi_step
dpi_process(struct dpi *dpi, uint32_t slot, const uint8_t *l3, uint16_t l3_len, uint64_t time_ms,
	    uint32_t flow_packets, uint32_t budget, struct dpi_verdict *v)
{
	struct ndpi_flow_struct *flow = slot_flow(dpi, slot);
	bool enough = flow_packets > budget;
	ndpi_protocol p;

	p = ndpi_detection_process_packet(dpi->ndpi, flow, l3, l3_len, time_ms);
	to_verdict(p, v);
	enough = enough || flow->fail_with_unknown;
	if (!enough && p.app_protocol == NDPI_PROTOCOL_UNKNOWN)
		return DPI_MORE;
	/* Known, but nDPI wants more packets for metadata (certificate, ...): keep feeding. */
	if (!enough && ndpi_extra_dissection_possible(dpi->ndpi, flow))
		return DPI_MORE;
	if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN)
		dpi_giveup(dpi, slot, v);
	return DPI_DONE;
}

void
dpi_giveup(struct dpi *dpi, uint32_t slot, struct dpi_verdict *v)
{
	u_int8_t guessed = 0;

	to_verdict(ndpi_detection_giveup(dpi->ndpi, slot_flow(dpi, slot), 1, &guessed), v);
}

void
dpi_collect_meta(const struct dpi *dpi, uint32_t slot, struct dpi_meta *meta)
{
	const struct ndpi_flow_struct *flow = slot_flow(dpi, slot);

	_Static_assert(sizeof(meta->host) >= sizeof(flow->host_server_name), "host fits");
	_Static_assert(sizeof(meta->ja3c) >= sizeof(flow->protos.tls_quic.ja3_client), "ja3 fits");
	text_copy(meta->host, sizeof(meta->host), flow->host_server_name,
		  sizeof(flow->host_server_name));
	meta->ja3c[0] = '\0';
	/* ja3_client lives in a union: only meaningful for flows nDPI handled as TLS or QUIC. */
	if (flow->detected_protocol_stack[0] == NDPI_PROTOCOL_TLS ||
	    flow->detected_protocol_stack[1] == NDPI_PROTOCOL_TLS ||
	    flow->detected_protocol_stack[0] == NDPI_PROTOCOL_QUIC ||
	    flow->detected_protocol_stack[1] == NDPI_PROTOCOL_QUIC ||
	    flow->detected_protocol_stack[1] == NDPI_PROTOCOL_DTLS)
		text_copy(meta->ja3c, sizeof(meta->ja3c), flow->protos.tls_quic.ja3_client,
			  sizeof(flow->protos.tls_quic.ja3_client));
	meta->risk = flow->risk;
}

const char *
dpi_label(const struct dpi *dpi, const struct dpi_verdict *v, char *buf, size_t len)
{
	ndpi_protocol p = {
		.master_protocol = v->master_proto,
		.app_protocol = v->app_proto,
		.category = (ndpi_protocol_category_t)v->category,
	};

	return ndpi_protocol2name(dpi->ndpi, p, buf, (u_int)len);
}

const char *
dpi_proto_name(const struct dpi *dpi, uint16_t id)
{
	return ndpi_get_proto_name(dpi->ndpi, id);
}

const char *
dpi_category_name(const struct dpi *dpi, uint16_t category)
{
	return ndpi_category_get_name(dpi->ndpi, (ndpi_protocol_category_t)category);
}

const char *
dpi_risk_name(unsigned int bit)
{
	if (bit == NDPI_NO_RISK || bit >= NDPI_MAX_RISK)
		return NULL;
	return ndpi_risk2str((ndpi_risk_enum)bit);
}

int
dpi_proto_id(const struct dpi *dpi, const char *name)
{
	uint32_t i, n = ndpi_get_num_supported_protocols(dpi->ndpi);

	for (i = 0; i < n; i++) {
		const char *pn = ndpi_get_proto_name(dpi->ndpi, (u_int16_t)i);

		if (pn != NULL && strcasecmp(pn, name) == 0)
			return (int)i;
	}
	return -1;
}

int
dpi_category_id(const struct dpi *dpi, const char *name)
{
	int c;

	for (c = 0; c < NDPI_PROTOCOL_NUM_CATEGORIES; c++) {
		const char *cn = ndpi_category_get_name(dpi->ndpi, (ndpi_protocol_category_t)c);

		if (cn != NULL && strcasecmp(cn, name) == 0)
			return c;
	}
	return -1;
}

uint32_t
dpi_builtin_proto_count(void)
{
	return NDPI_LAST_IMPLEMENTED_PROTOCOL;
}

uint32_t
dpi_proto_count(const struct dpi *dpi)
{
	return ndpi_get_num_supported_protocols(dpi->ndpi);
}
