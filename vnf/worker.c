/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dpi.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Flows ended per burst by the idle scan: bounds the time one burst can take. */
#define EXPIRE_BUDGET 64

struct worker {
	struct flow_table *flows;
	struct dpi *dpi;
	/*
	 * nDPI's findings (host, JA3, risk) per flow entry, indexed like the table's entries.
	 * Kept apart from the entry so the hot lookup path touches fewer cache lines.
	 */
	struct dpi_meta *meta;
	uint64_t now_ms;
	struct worker_params p;
	struct worker_stats st;
};

static void on_flow_end(void *ctx, struct flow_entry *e, enum flow_end_reason reason);

struct worker *
worker_create(const struct worker_params *params)
{
	struct flow_table_params ftp = {0};
	struct dpi_params dp = {0};
	struct worker *w;

	if (params == NULL || params->flow_capacity == 0 || params->dpi_states == 0) {
		errno = EINVAL;
		return NULL;
	}
	w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);
	if (w == NULL)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->p = *params;

	ftp.capacity = params->flow_capacity;
	memcpy(ftp.timeout_ms, params->timeout_ms, sizeof(ftp.timeout_ms));
	ftp.on_end = on_flow_end;
	ftp.cb_ctx = w;
	w->flows = flow_table_create(&ftp);
	dp.max_states = params->dpi_states;
	w->dpi = dpi_create(&dp);
	w->meta = calloc(params->flow_capacity, sizeof(*w->meta));
	if (w->flows == NULL || w->dpi == NULL || w->meta == NULL) {
		int err = errno != 0 ? errno : ENOMEM;

		worker_destroy(w);
		errno = err;
		return NULL;
	}
	return w;
}

void
worker_destroy(struct worker *w)
{
	if (w == NULL)
		return;
	flow_table_destroy(w->flows);
	dpi_destroy(w->dpi);
	free(w->meta);
	free(w);
}

const struct dpi *
worker_dpi(const struct worker *w)
{
	return w->dpi;
}

static uint32_t
budget_for(const struct worker *w, uint8_t l4)
{
	if (l4 == IPPROTO_TCP)
		return w->p.budget_tcp;
	if (l4 == IPPROTO_UDP)
		return w->p.budget_udp;
	return w->p.budget_other;
}

static enum flow_timeout_class
class_for(uint8_t l4)
{
	if (l4 == IPPROTO_TCP)
		return FLOW_TC_TCP;
	if (l4 == IPPROTO_UDP)
		return FLOW_TC_UDP;
	return FLOW_TC_OTHER;
}

/* Verdict final: keep what nDPI found, give its state back. */
static void
finish_dpi(struct worker *w, struct flow_entry *e, const struct dpi_verdict *v, bool detected)
{
	e->master_proto = v->master_proto;
	e->app_proto = v->app_proto;
	e->category = v->category;
	dpi_collect_meta(w->dpi, e->dpi_slot, &w->meta[flow_table_index(w->flows, e)]);
	dpi_state_free(w->dpi, e->dpi_slot);
	e->dpi_slot = FLOW_NO_SLOT;
	e->flags |= FLOW_F_DPI_DONE;
	if (detected)
		w->st.flows_detected++;
	else
		w->st.flows_gave_up++;
}

static void
on_flow_end(void *ctx, struct flow_entry *e, enum flow_end_reason reason)
{
	struct worker *w = ctx;
	struct flow_record rec;
	uint32_t idx = flow_table_index(w->flows, e);

	memset(&rec, 0, sizeof(rec));
	rec.dpi_state = FLOW_DPI_DETECTED;
	if (e->dpi_slot != FLOW_NO_SLOT) {
		/* Ended before a verdict: take nDPI's guess, as ndpiReader does at the end. */
		struct dpi_verdict v;

		dpi_giveup(w->dpi, e->dpi_slot, &v);
		finish_dpi(w, e, &v, false);
		rec.dpi_state = FLOW_DPI_GAVE_UP;
	} else if (!(e->flags & FLOW_F_DPI_DONE)) {
		rec.dpi_state = FLOW_DPI_NO_STATE;
	} else if (e->app_proto == 0) {
		rec.dpi_state = FLOW_DPI_GAVE_UP;
	}
	rec.key = e->key;
	rec.flow_id = e->flow_id;
	rec.worker = w->p.id;
	rec.initiator_hi = (e->flags & FLOW_F_INITIATOR_HI) != 0;
	rec.end_reason = (uint8_t)reason;
	rec.packets = e->packets;
	rec.bytes = e->bytes;
	rec.first_ms = e->first_ms;
	rec.last_ms = e->last_ms;
	rec.verdict.master_proto = e->master_proto;
	rec.verdict.app_proto = e->app_proto;
	rec.verdict.category = e->category;
	if (e->flags & FLOW_F_DPI_DONE)
		rec.meta = w->meta[idx];
	w->st.flows_ended[reason]++;
	if (w->p.on_record != NULL)
		w->p.on_record(w->p.record_ctx, &rec);
}

/* TCP state that decides the timeout class: FIN both ways or RST closes the flow. */
static enum flow_timeout_class
tcp_update(struct flow_entry *e, uint8_t tcp_flags, bool from_hi)
{
	if (tcp_flags & TCP_RST)
		e->flags |= FLOW_F_RST;
	if (tcp_flags & TCP_FIN)
		e->flags |= from_hi ? FLOW_F_FIN_HI : FLOW_F_FIN_LO;
	if ((e->flags & FLOW_F_RST) ||
	    (e->flags & (FLOW_F_FIN_LO | FLOW_F_FIN_HI)) == (FLOW_F_FIN_LO | FLOW_F_FIN_HI))
		return FLOW_TC_TCP_CLOSED;
	return FLOW_TC_TCP;
}

static struct flow_entry *
flow_for_packet(struct worker *w, const struct parse_info *pi, bool *from_hi)
{
	struct flow_key key;
	struct flow_entry *e;
	uint32_t hash;

	*from_hi = flow_key_from_packet(pi, &key);
	hash = flow_key_hash(&key);
	e = flow_table_lookup(w->flows, &key, hash);
	/* A fresh SYN on a closed connection (port reuse) starts a new flow. */
	if (e != NULL && e->tclass == FLOW_TC_TCP_CLOSED &&
	    (pi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		flow_table_end(w->flows, e, FLOW_END_CLOSED);
		e = NULL;
	}
	if (e != NULL)
		return e;
	e = flow_table_insert(w->flows, &key, hash, w->now_ms, class_for(pi->l4_proto));
	if (*from_hi)
		e->flags |= FLOW_F_INITIATOR_HI;
	memset(&w->meta[flow_table_index(w->flows, e)], 0, sizeof(struct dpi_meta));
	e->dpi_slot = dpi_state_alloc(w->dpi);
	if (e->dpi_slot == DPI_NO_SLOT)
		w->st.dpi_no_state++;
	w->st.flows_created++;
	return e;
}

static enum worker_action
process_one(struct worker *w, const struct worker_pkt *pkt)
{
	struct parse_info pi;
	enum parse_result r;
	struct flow_entry *e;
	enum flow_timeout_class tc;
	bool from_hi;

	w->st.packets++;
	w->st.bytes += pkt->wire_len;
	r = parse_ethernet(pkt->data, pkt->len, &pi);
	w->st.parse[r]++;
	if (r != PARSE_OK) {
		if (parse_is_malformed(r) && w->p.malformed == WORKER_MALFORMED_DROP) {
			w->st.dropped_malformed++;
			return WORKER_ACTION_DROP;
		}
		return WORKER_ACTION_PASS;
	}

	e = flow_for_packet(w, &pi, &from_hi);
	e->packets++;
	e->bytes += pkt->wire_len;
	tc = pi.l4_proto == IPPROTO_TCP ? tcp_update(e, pi.tcp_flags, from_hi) : e->tclass;
	flow_table_touch(w->flows, e, w->now_ms, tc);

	if (e->dpi_slot != FLOW_NO_SLOT) {
		struct dpi_verdict v;
		enum dpi_step step;

		w->st.dpi_packets++;
		step = dpi_process(w->dpi, e->dpi_slot, pkt->data + pi.l3_off, pi.l3_len, w->now_ms,
				   e->packets, budget_for(w, pi.l4_proto), &v);
		/* The best answer so far already steers the flow; it is final at DPI_DONE. */
		e->master_proto = v.master_proto;
		e->app_proto = v.app_proto;
		e->category = v.category;
		if (step == DPI_DONE)
			finish_dpi(w, e, &v, v.app_proto != 0);
	}
	return WORKER_ACTION_PASS;
}

void
worker_process(struct worker *w, const struct worker_pkt *pkts, uint16_t n, uint8_t *actions)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint64_t t = pkts[i].time_us / 1000;

		/* Capture clocks can step back (merged files); flow time never does. */
		if (t > w->now_ms)
			w->now_ms = t;
		actions[i] = (uint8_t)process_one(w, &pkts[i]);
	}
	flow_table_expire(w->flows, w->now_ms, EXPIRE_BUDGET);
}

void
worker_tick(struct worker *w, uint64_t now_us)
{
	if (now_us / 1000 > w->now_ms)
		w->now_ms = now_us / 1000;
	flow_table_expire(w->flows, w->now_ms, EXPIRE_BUDGET);
}

void
worker_flush(struct worker *w)
{
	flow_table_flush(w->flows);
}

void
worker_get_stats(const struct worker *w, struct worker_stats *stats)
{
	struct flow_table_stats fts;

	*stats = w->st;
	flow_table_get_stats(w->flows, &fts);
	stats->flows_active = fts.active;
	stats->dpi_states_in_use = dpi_states_in_use(w->dpi);
}

size_t
worker_bytes_per_classified_flow(const struct worker *w)
{
	return flow_table_bytes_per_flow(w->flows) + sizeof(struct dpi_meta);
}

size_t
worker_bytes_per_classifying_flow(const struct worker *w)
{
	(void)w;
	return dpi_state_size();
}
