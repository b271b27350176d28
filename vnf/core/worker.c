/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "worker.h"

#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpi.h"
#include "frag_table.h"
#include "meta_pool.h"
#include "nsh.h"
#include "stat_item.h"
#include "text.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Entries the idle sweep examines per burst at most: bounds the time one burst can take. */
#define EXPIRE_BUDGET 256
#define FRAG_EXPIRE_BUDGET 4096 /* fragment table buckets examined per call at most */
#define POLICY_GEN_STALE 0 /* flow_entry.policy_gen: decided under a forgotten policy */
/* Policy generations whose chain names records can still give (a flow idle across more
 * policy changes than this has its chain reported as unknown). */
#define NAMED_GENS 8

/*
 * What a policy generation's decisions mean: a flow decided under an older policy and idle
 * since keeps that policy's chain index, and its record must name the chain its packets
 * took and the version that chose it, not whatever the index means now.
 */
struct policy_names {
	bool valid;
	uint32_t gen;
	uint32_t version; /* the policy's version number */
	char chains[POLICY_MAX_CHAINS][POLICY_NAME_MAX];
};

struct worker {
	struct flow_table *flows;
	struct frag_table *frags; /* fragmented datagrams: which flow their later fragments join */
	struct dpi *dpi;
	struct meta_pool *meta; /* nDPI's findings (host, JA3, risk), kept past the verdict */
	/*
	 * Held packets (policy.unclassified: hold), `hold_max` per flow under classification.
	 * Only such a flow holds packets, so the queue is indexed by its nDPI state slot.
	 */
	struct worker_pkt *held;
	uint8_t *held_n;
	uint32_t hold_max;
	const struct policy *policy;
	/*
	 * Compared with flow_entry.policy_gen for equality. Generations run from 1 to
	 * UINT32_MAX; 0 marks a flow "decide again". When the counter would wrap, every decided
	 * flow is marked 0 first (one walk of the table every 4 billion swaps), so an old
	 * generation can never come back as the current one.
	 */
	uint32_t policy_gen;
	struct policy_names names[NAMED_GENS]; /* the last NAMED_GENS policies, by generation */
	uint64_t now_ms;
	uint32_t record_room; /* idle expiry ends at most this many flows per call */
	struct worker_params p;
	unsigned int parse_flags; /* PARSE_F_CAPTURE for a capture's packets, the tunnels to open */
	struct worker_stats st;
};

static void on_flow_end(void *ctx, struct flow_entry *e, enum flow_end_reason reason);
static void on_fragment_release(void *ctx, void *item, const struct frag_flow *flow);

static void
remember_policy_names(struct worker *w)
{
	struct policy_names *pn = &w->names[w->policy_gen % NAMED_GENS];
	uint32_t i, n = w->policy != NULL ? policy_chain_count(w->policy) : 0;

	memset(pn, 0, sizeof(*pn));
	pn->valid = true;
	pn->gen = w->policy_gen;
	pn->version = w->policy != NULL ? policy_version(w->policy) : 0;
	for (i = 0; i < n && i < POLICY_MAX_CHAINS; i++)
		snprintf(pn->chains[i], sizeof(pn->chains[i]), "%s", policy_chain_at(w->policy, i)->name);
}

/* The names of the policy that decided e; NULL if it is NAMED_GENS policies old or more. */
static const struct policy_names *
deciding_policy(const struct worker *w, const struct flow_entry *e)
{
	const struct policy_names *pn = &w->names[e->policy_gen % NAMED_GENS];

	return pn->valid && pn->gen == e->policy_gen ? pn : NULL;
}

struct worker *
worker_create(const struct worker_params *params)
{
	struct flow_table_params ftp = {0};
	struct frag_table_params fp = {0};
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
	w->parse_flags = (params->from_capture ? PARSE_F_CAPTURE : 0) |
			 (params->tunnels & PARSE_F_TUNNELS);
	w->policy = params->policy;
	w->policy_gen = 1;
	w->record_room = UINT32_MAX;
	remember_policy_names(w);

	ftp.capacity = params->flow_capacity;
	ftp.ipv6_capacity = params->ipv6_capacity;
	memcpy(ftp.timeout_ms, params->timeout_ms, sizeof(ftp.timeout_ms));
	ftp.on_end = on_flow_end;
	ftp.cb_ctx = w;
	w->flows = flow_table_create(&ftp);
	fp.capacity = params->frag_capacity != 0 ? params->frag_capacity : WORKER_FRAG_DEFAULT_CAPACITY;
	fp.held_max = params->frag_held != 0 ? params->frag_held : WORKER_FRAG_DEFAULT_HELD;
	fp.timeout_ms =
		params->frag_timeout_ms != 0 ? params->frag_timeout_ms : WORKER_FRAG_DEFAULT_TIMEOUT_MS;
	fp.item_size = sizeof(struct worker_pkt);
	fp.release = on_fragment_release;
	fp.ctx = w;
	w->frags = frag_table_create(&fp);
	dp.max_states = params->dpi_states;
	dp.apps = params->apps;
	w->dpi = dpi_create(&dp);
	w->meta = meta_pool_create(params->meta_capacity != 0
					   ? params->meta_capacity
					   : (params->flow_capacity + 7) / 8);
	if (w->policy != NULL && policy_unclassified_mode(w->policy) == POLICY_UNCLASSIFIED_HOLD) {
		w->hold_max = policy_hold_packets(w->policy);
		w->held = calloc((size_t)params->dpi_states * w->hold_max, sizeof(*w->held));
		w->held_n = calloc(params->dpi_states, 1);
		if (w->held == NULL || w->held_n == NULL)
			w->hold_max = UINT32_MAX; /* marks the failure below */
	}
	if (w->flows == NULL || w->frags == NULL || w->dpi == NULL || w->meta == NULL ||
	    w->hold_max == UINT32_MAX) {
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
	frag_table_destroy(w->frags);
	dpi_destroy(w->dpi);
	meta_pool_destroy(w->meta);
	free(w->held);
	free(w->held_n);
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

/* ---- output ---- */

static void
emit_plain(struct worker *w, const struct worker_pkt *pkt, enum worker_action action)
{
	struct worker_out out = {.opaque = pkt->opaque, .port = pkt->port, .action = (uint8_t)action};

	if (action == WORKER_ACTION_PASS)
		w->st.untagged++;
	else if (action == WORKER_ACTION_DROP)
		w->st.dropped_policy++;
	else if (action == WORKER_ACTION_DECAP)
		w->st.decapsulated++;
	w->p.on_packet(w->p.packet_ctx, &out);
}

/* The host nDPI found for a flow past its verdict ("" before, or if not kept). */
static const char *
flow_host(const struct worker *w, const struct flow_entry *e)
{
	return (e->flags & FLOW_F_IN_DPI) ? "" : meta_pool_get(w->meta, e->meta_id)->host;
}

/*
 * A flow's packet with a decision (final, or the unclassified one). `host` for NSH MD2: NULL
 * looks it up from the flow, and only for a packet that is tagged.
 */
static void
emit_decided(struct worker *w, const struct flow_entry *e, const struct worker_pkt *pkt,
	     const struct policy_decision *d, const char *host)
{
	const struct policy_chain *chain;
	struct worker_out out;

	if (d->action == POLICY_DROP) {
		emit_plain(w, pkt, WORKER_ACTION_DROP);
		return;
	}
	if (d->action == POLICY_PASS || (chain = policy_chain_at(w->policy, d->chain)) == NULL) {
		emit_plain(w, pkt, WORKER_ACTION_PASS);
		return;
	}
	memset(&out, 0, sizeof(out));
	out.opaque = pkt->opaque;
	out.port = pkt->port;
	out.action = WORKER_ACTION_TAG;
	out.chain = d->chain;
	out.tag = &chain->tag;
	out.meta.master_proto = e->master_proto;
	out.meta.app_proto = e->app_proto;
	out.meta.category = e->category;
	out.meta.si = NSH_SI_CLASSIFIER;
	out.meta.flow_id = e->flow_id;
	out.meta.policy_version = policy_version(w->policy);
	out.meta.host = host != NULL ? host : flow_host(w, e);
	w->st.tagged++;
	w->st.chain_packets[d->chain]++;
	w->p.on_packet(w->p.packet_ctx, &out);
}

static struct policy_decision
flow_decision(const struct flow_entry *e)
{
	struct policy_decision d = {.action = e->action, .chain = e->chain};

	return d;
}

/* Send a flow's held packets, oldest first, with decision d (host: as for emit_decided). */
static void
release_held(struct worker *w, struct flow_entry *e, const struct policy_decision *d,
	     const char *host)
{
	struct worker_pkt *q;
	uint8_t i, n;

	if (w->held == NULL || !(e->flags & FLOW_F_IN_DPI) || w->held_n[e->dpi_slot] == 0)
		return;
	q = &w->held[(size_t)e->dpi_slot * w->hold_max];
	n = w->held_n[e->dpi_slot];
	w->held_n[e->dpi_slot] = 0;
	for (i = 0; i < n; i++)
		emit_decided(w, e, &q[i], d, host);
}

/* ---- classification and decision ---- */

/*
 * The policy decides a flow whose classification is final; held packets go out with it.
 * `by_packet`: a packet of the flow brought the verdict (it leaves after the held ones);
 * otherwise the flow is ending and only held packets, if any, carry the decision. `meta` is
 * what nDPI found (the flow's own interned copy once the verdict is past).
 */
static void
decide(struct worker *w, struct flow_entry *e, bool by_packet, const struct dpi_meta *meta)
{
	struct policy_decision d = {.action = POLICY_PASS, .chain = POLICY_NO_CHAIN};

	if (w->policy != NULL) {
		struct flow_key key;
		struct policy_flow pf = {
			.key = &key,
			.initiator_hi = (e->flags & FLOW_F_INITIATOR_HI) != 0,
			.master_proto = e->master_proto,
			.app_proto = e->app_proto,
			.category = e->category,
			.host = meta->host,
			.risk = meta->risk,
		};

		flow_table_key(w->flows, e, &key);
		key.tunnel_id = flow_table_tunnel_id(w->flows, e); /* teid: matches the TEID too */
		d = policy_decide(w->policy, &pf);
		if (d.rule <= POLICY_MAX_RULES)
			w->st.rule_flows[d.rule]++;
	}
	uint32_t held = w->held != NULL && (e->flags & FLOW_F_IN_DPI) ? w->held_n[e->dpi_slot] : 0;

	bool again = (e->flags & FLOW_F_DECIDED) != 0;

	e->action = d.action;
	e->chain = d.chain;
	e->policy_gen = w->policy_gen;
	e->flags |= FLOW_F_DECIDED;
	if (e->offload == FLOW_OFFLOAD_REFUSED)
		e->offload = FLOW_OFFLOAD_NONE; /* a new decision may be offloaded after all */
	if (again)
		return; /* a new policy: only the decision changes */
	/* The first packet to carry the decision; packets + 1 when none does (saturating). */
	uint32_t vp = e->packets - held + (by_packet ? 0 : 1);

	e->verdict_packet = vp < FLOW_VERDICT_PACKET_MAX ? vp : FLOW_VERDICT_PACKET_MAX;
	w->st.app_flows[e->app_proto % WORKER_MAX_APPS]++;
	w->st.category_flows[e->category % WORKER_MAX_CATEGORIES]++;
	w->st.flows_by_action[d.action]++;
	if (d.action == POLICY_CHAIN)
		w->st.chain_flows[d.chain]++;
	release_held(w, e, &d, meta->host);
}

/* Verdict final: keep what nDPI found, decide, give the nDPI state back. */
static void
finish_dpi(struct worker *w, struct flow_entry *e, const struct dpi_verdict *v, bool detected,
	   bool by_packet)
{
	struct dpi_meta meta;

	e->master_proto = v->master_proto;
	e->app_proto = v->app_proto;
	e->category = (uint8_t)v->category;
	dpi_collect_meta(w->dpi, e->dpi_slot, &meta);
	e->flags |= FLOW_F_DPI_DONE;
	/* While the slot (and its held packets) still belong to the flow. */
	decide(w, e, by_packet, &meta);
	dpi_state_free(w->dpi, e->dpi_slot);
	e->flags &= (uint8_t)~FLOW_F_IN_DPI;
	e->meta_id = meta_pool_intern(w->meta, &meta);
	if (detected)
		w->st.flows_detected++;
	else
		w->st.flows_gave_up++;
}

/* The flow as a record: what it is now (`rec->end_reason` is the caller's). */
static void
fill_record(const struct worker *w, const struct flow_entry *e, struct flow_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (e->flags & FLOW_F_IN_DPI)
		rec->dpi_state = FLOW_DPI_CLASSIFYING;
	else if (!(e->flags & FLOW_F_DPI_DONE))
		rec->dpi_state = FLOW_DPI_NO_STATE;
	else
		rec->dpi_state = e->app_proto == 0 ? FLOW_DPI_GAVE_UP : FLOW_DPI_DETECTED;
	flow_table_key(w->flows, e, &rec->key);
	rec->key.tunnel_id = flow_table_tunnel_id(w->flows, e); /* a TEID is not in the key */
	rec->flow_id = e->flow_id;
	rec->worker = w->p.id;
	rec->initiator_hi = (e->flags & FLOW_F_INITIATOR_HI) != 0;
	rec->packets = e->packets;
	rec->bytes = e->bytes;
	rec->rev_packets = e->rev_packets;
	rec->rev_bytes = e->rev_bytes;
	rec->first_ms = flow_table_first_ms(w->flows, e);
	rec->last_ms = flow_table_last_ms(w->flows, e);
	rec->verdict.master_proto = e->master_proto;
	rec->verdict.app_proto = e->app_proto;
	rec->verdict.category = e->category;
	if ((e->flags & FLOW_F_DPI_DONE) && !(e->flags & FLOW_F_IN_DPI))
		rec->meta = *meta_pool_get(w->meta, e->meta_id);
	rec->action = e->action;
	rec->verdict_packet = e->verdict_packet;
	rec->offloaded = e->offloaded_ever;
	/* The version that decided the flow (the current one while it is undecided), and the
	 * chain by the name it had then ("" if that policy is too old to remember). */
	rec->policy_version = w->policy != NULL ? policy_version(w->policy) : 0;
	if (e->flags & FLOW_F_DECIDED) {
		const struct policy_names *pn = deciding_policy(w, e);

		if (pn != NULL)
			rec->policy_version = pn->version;
		if (pn != NULL && e->action == POLICY_CHAIN && e->chain < POLICY_MAX_CHAINS)
			text_copy(rec->chain, sizeof(rec->chain), pn->chains[e->chain],
				  sizeof(pn->chains[e->chain]));
	}
}

static void
on_flow_end(void *ctx, struct flow_entry *e, enum flow_end_reason reason)
{
	struct worker *w = ctx;
	struct flow_record rec;
	bool gave_up = false;

	if (e->flags & FLOW_F_IN_DPI) {
		/* Ended before a verdict: take nDPI's guess, as ndpiReader does at the end. */
		struct dpi_verdict v;

		dpi_giveup(w->dpi, e->dpi_slot, &v);
		finish_dpi(w, e, &v, false, false);
		gave_up = true;
	}
	fill_record(w, e, &rec);
	if (gave_up)
		rec.dpi_state = FLOW_DPI_GAVE_UP;
	rec.end_reason = (uint8_t)reason;
	w->st.flows_ended[reason]++;
	if (w->p.on_record != NULL)
		w->p.on_record(w->p.record_ctx, &rec);
	meta_pool_release(w->meta, e->meta_id);
	e->meta_id = META_NONE;
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

/*
 * What the first stages of a burst learn about one packet: its parse, and for a packet to
 * classify, its flow key and hash (so the flow's slot and entry can be prefetched before the
 * packet's turn comes).
 */
struct pkt_stage {
	struct parse_info pi;
	struct flow_key key;
	uint32_t hash;
	uint32_t wire_len; /* the packet's length to count (worker_params.from_capture) */
	uint8_t result; /* enum parse_result */
	bool from_hi;
	bool has_key;
};

static struct flow_entry *
flow_for_packet(struct worker *w, const struct pkt_stage *ps)
{
	const struct parse_info *pi = &ps->pi;
	struct flow_entry *e;

	e = flow_table_lookup(w->flows, &ps->key, ps->hash);
	/* A fresh SYN on a closed connection (port reuse) starts a new flow. */
	if (e != NULL && e->tclass == FLOW_TC_TCP_CLOSED &&
	    (pi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		flow_table_end(w->flows, e, FLOW_END_CLOSED);
		e = NULL;
	}
	if (e != NULL)
		return e;
	e = flow_table_insert(w->flows, &ps->key, ps->hash, w->now_ms, class_for(pi->l4_proto));
	if (ps->from_hi)
		e->flags |= FLOW_F_INITIATOR_HI;
	if (pi->tunnel != PARSE_TUNNEL_NONE && !parse_tunnel_id_in_key(pi->tunnel))
		flow_table_set_tunnel_id(w->flows, e, pi->tunnel_id); /* its first packet's TEID */
	e->dpi_slot = dpi_state_alloc(w->dpi);
	w->st.flows_created++;
	if (e->dpi_slot == DPI_NO_SLOT) {
		/* Not inspected: decided on its first packet, on addresses and ports alone. */
		w->st.dpi_no_state++;
		e->meta_id = META_NONE;
	} else {
		e->flags |= FLOW_F_IN_DPI;
		if (w->held != NULL)
			w->held_n[e->dpi_slot] = 0;
	}
	return e;
}

/* A packet of a flow still under classification. */
static void
before_verdict(struct worker *w, struct flow_entry *e, const struct worker_pkt *pkt)
{
	struct policy_decision d = {.action = POLICY_PASS, .chain = POLICY_NO_CHAIN};

	if (w->policy != NULL)
		d = policy_unclassified_decision(w->policy);
	if (w->held != NULL && !(e->flags & FLOW_F_HOLD_OVERFLOW)) {
		uint8_t *n = &w->held_n[e->dpi_slot];

		if (*n < w->hold_max) {
			w->held[(size_t)e->dpi_slot * w->hold_max + *n] = *pkt;
			(*n)++;
			w->st.held++;
			return;
		}
		/* Queue full before the verdict: out with the default action, in order. */
		e->flags |= FLOW_F_HOLD_OVERFLOW;
		w->st.hold_overflow++;
		release_held(w, e, &d, NULL);
	}
	emit_decided(w, e, pkt, &d, NULL);
}

/* ---- offload: decided flows the switch carries itself (ctl/offload.c) ---- */

/* The timeout class a flow goes back to when the switch no longer carries it. */
static enum flow_timeout_class
own_class(const struct flow_entry *e)
{
	if (e->l4_proto != IPPROTO_TCP)
		return class_for(e->l4_proto);
	if ((e->flags & FLOW_F_RST) ||
	    (e->flags & (FLOW_F_FIN_LO | FLOW_F_FIN_HI)) == (FLOW_F_FIN_LO | FLOW_F_FIN_HI))
		return FLOW_TC_TCP_CLOSED;
	return FLOW_TC_TCP;
}

/*
 * A decided TCP or UDP flow the policy lets the switch carry: hand it to the control thread
 * (which installs its rules, or says no). Not a flow whose frames carry two VLAN tags (the
 * switch matches one), not a flow inside a tunnel, not a TCP connection that is closing.
 */
static void
maybe_offload(struct worker *w, struct flow_entry *e, const struct parse_info *pi,
	      const struct policy_decision *d)
{
	const struct dpi_meta *meta;
	struct offload_ask ask;

	if ((e->flags & FLOW_F_IN_DPI) || w->policy == NULL || !policy_offloadable(w->policy, d) ||
	    (pi->l4_proto != IPPROTO_TCP && pi->l4_proto != IPPROTO_UDP) || pi->vlan_count > 1 ||
	    pi->tunnelled /* the switch's rules would match the outer headers, not these */ ||
	    e->tclass == FLOW_TC_TCP_CLOSED ||
	    (pi->l4_proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_FIN | TCP_RST))))
		return;
	memset(&ask, 0, sizeof(ask));
	flow_table_key(w->flows, e, &ask.key);
	ask.kind = OFFLOAD_ASK;
	ask.flow_id = e->flow_id;
	ask.worker = w->p.id;
	ask.initiator_hi = (e->flags & FLOW_F_INITIATOR_HI) != 0;
	ask.vlan_tags = pi->vlan_count;
	ask.category = e->category;
	ask.master_proto = e->master_proto;
	ask.app_proto = e->app_proto;
	ask.first_ms = flow_table_first_ms(w->flows, e);
	meta = meta_pool_get(w->meta, e->meta_id);
	ask.risk = meta->risk;
	memcpy(ask.host, meta->host, sizeof(ask.host));
	if (!w->p.on_offload(w->p.offload_ctx, &ask)) {
		w->st.offload_ring_full++; /* still NONE: asked again at its next packet */
		return;
	}
	w->st.offload_asked++;
	e->offload = FLOW_OFFLOAD_ASKED;
	e->offloaded_ever = 1;
	flow_table_touch(w->flows, e, w->now_ms, FLOW_TC_OFFLOADED);
}

void
worker_offload_notice(struct worker *w, const struct offload_notice *n)
{
	struct flow_entry *e = flow_table_lookup(w->flows, &n->key, flow_key_hash(&n->key));

	if (e == NULL || e->flow_id != n->flow_id || e->offload != FLOW_OFFLOAD_ASKED) {
		/* It ended meanwhile (its record says so): the control thread may forget it. */
		struct offload_ask gone = {.key = n->key, .flow_id = n->flow_id, .worker = w->p.id,
					   .kind = OFFLOAD_GONE};

		if (w->p.on_offload != NULL)
			(void)w->p.on_offload(w->p.offload_ctx, &gone);
		return;
	}
	switch (n->kind) {
	case OFFLOAD_REFUSED:
		w->st.offload_refused++;
		e->offload = FLOW_OFFLOAD_REFUSED;
		/* Never carried: its last packet here is its last packet. */
		flow_table_touch(w->flows, e, flow_table_last_ms(w->flows, e), own_class(e));
		break;
	case OFFLOAD_RETURNED:
		/* Maybe busy in the switch until now: a whole idle period before it may end. */
		w->st.offload_returned++;
		e->offload = FLOW_OFFLOAD_NONE;
		flow_table_touch(w->flows, e, w->now_ms, own_class(e));
		break;
	case OFFLOAD_IDLE:
	default:
		/* Idle in the switch for the flow's own timeout: it is over. */
		w->st.offload_idle_ended++;
		e->offload = FLOW_OFFLOAD_NONE;
		flow_table_end(w->flows, e, FLOW_END_IDLE);
		break;
	}
}

/* ---- IP fragments: later ones follow the flow of their datagram's first (frag_table.h) ---- */

/* A later fragment no flow can be found for: passed or dropped as malformed packets are. */
static void
fragment_unattributed(struct worker *w, const struct worker_pkt *pkt)
{
	w->st.fragments_unattributed++;
	if (w->p.malformed == WORKER_MALFORMED_DROP) {
		w->st.dropped_malformed++;
		emit_plain(w, pkt, WORKER_ACTION_DROP);
	} else {
		emit_plain(w, pkt, WORKER_ACTION_PASS);
	}
}

/*
 * A later fragment of flow `f`'s datagram: counted in the flow, and out with its decision
 * (or, before the verdict, as the flow's other packets then: held or the unclassified
 * decision). Never given to nDPI (it has no transport header), as ndpiReader does.
 */
static void
fragment_of_flow(struct worker *w, const struct worker_pkt *pkt, const struct frag_flow *f)
{
	struct flow_entry *e = flow_table_entry_at(w->flows, f->index);
	uint32_t rev;

	if (e == NULL || e->flow_id != f->flow_id) { /* the flow ended since its first fragment */
		fragment_unattributed(w, pkt);
		return;
	}
	w->st.fragments_attributed++;
	e->packets++;
	e->bytes += pkt->wire_len;
	rev = (uint32_t)f->from_hi ^ (uint32_t)(e->flags & FLOW_F_INITIATOR_HI);
	e->rev_packets += rev;
	e->rev_bytes += (uint64_t)(pkt->wire_len & -rev);
	flow_table_touch(w->flows, e, w->now_ms, (enum flow_timeout_class)e->tclass);
	if ((e->flags & FLOW_F_DECIDED) && e->policy_gen != w->policy_gen)
		decide(w, e, true, meta_pool_get(w->meta, e->meta_id)); /* a new policy since */
	w->st.app_packets[e->app_proto % WORKER_MAX_APPS]++;
	w->st.app_bytes[e->app_proto % WORKER_MAX_APPS] += pkt->wire_len;
	w->st.category_packets[e->category % WORKER_MAX_CATEGORIES]++;
	if (e->flags & FLOW_F_DECIDED) {
		struct policy_decision d = flow_decision(e);

		emit_decided(w, e, pkt, &d, NULL);
	} else {
		before_verdict(w, e, pkt);
	}
}

/* A fragment that waited for its first leaves the fragment table: with its flow, or not. */
static void
on_fragment_release(void *ctx, void *item, const struct frag_flow *flow)
{
	struct worker *w = ctx;
	struct worker_pkt pkt;

	memcpy(&pkt, item, sizeof(pkt));
	if (flow != NULL)
		fragment_of_flow(w, &pkt, flow);
	else
		fragment_unattributed(w, &pkt);
}

/*
 * A later fragment (no ports): the flow of its datagram's first fragment, or it waits for
 * that first. Inside an IP-in-IP tunnel the datagram's outer addresses are not the flow's: not
 * followed (counted as unattributed).
 */
static void
later_fragment(struct worker *w, const struct worker_pkt *pkt, const struct parse_info *pi)
{
	struct frag_key key;
	struct frag_flow f;

	if (pi->tunnelled) {
		fragment_unattributed(w, pkt);
		return;
	}
	frag_key_from_packet(pi, &key);
	switch (frag_table_later(w->frags, &key, pi, w->now_ms, pkt, &f)) {
	case FRAG_ATTRIBUTED:
		fragment_of_flow(w, pkt, &f);
		break;
	case FRAG_HELD:
		w->st.fragments_waited++;
		break;
	case FRAG_NO_ROOM:
	default:
		w->st.fragment_table_full++;
		fragment_unattributed(w, pkt);
		break;
	}
}

/* The first fragment of a datagram went out with flow e: its later fragments will follow. */
static void
first_fragment(struct worker *w, struct flow_entry *e, const struct pkt_stage *ps)
{
	struct frag_key key;
	struct frag_flow f = {.index = flow_table_index(w->flows, e), .flow_id = e->flow_id,
			      .from_hi = ps->from_hi};

	frag_key_from_packet(&ps->pi, &key);
	if (!frag_table_first(w->frags, &key, &ps->pi, w->now_ms, &f))
		w->st.fragment_table_full++;
}

/* Stage 1: parse, and for a packet to classify, its key and hash. */
static void
stage_parse(struct worker *w, const struct worker_pkt *pkt, struct pkt_stage *ps)
{
	ps->result = (uint8_t)parse_frame(pkt->data, pkt->len, w->parse_flags, &ps->pi);
	ps->wire_len = pkt->wire_len;
	if (w->p.from_capture && ps->pi.ip_end > pkt->wire_len)
		ps->wire_len = ps->pi.ip_end; /* cut short by the capture's snap length */
	ps->has_key = ps->result == PARSE_OK && !(pkt->flags & WORKER_PKT_RETURN);
	ps->from_hi = false;
	if (!ps->has_key)
		return;
	ps->from_hi = flow_key_from_packet(&ps->pi, &ps->key);
	ps->hash = flow_key_hash(&ps->key);
}

/*
 * A long flow's interim record (IPFIX active timeout): when this packet is the first past a
 * multiple of the timeout since the flow began, the counts so far go out. No state per flow:
 * the marks are multiples of the timeout from its first packet, compared at its last one.
 */
static inline void
active_timeout_check(struct worker *w, const struct flow_entry *e)
{
	uint32_t a = __atomic_load_n(&w->p.active_timeout_ms, __ATOMIC_RELAXED);
	uint64_t first, since;
	struct flow_record rec;

	if (a == 0 || w->p.on_record == NULL)
		return;
	first = flow_table_first_ms(w->flows, e);
	since = w->now_ms - first;
	if (since < a || since / a == (flow_table_last_ms(w->flows, e) - first) / a)
		return;
	fill_record(w, e, &rec);
	rec.interim = 1;
	rec.end_reason = FLOW_END_FLUSH; /* not an end: `interim` says what it is */
	w->st.interim_records++;
	w->p.on_record(w->p.record_ctx, &rec);
}

/* Stage 3: the packet's flow, nDPI, the decision and its fate. */
static void
process_one(struct worker *w, const struct worker_pkt *pkt, const struct pkt_stage *ps)
{
	const struct parse_info *pi = &ps->pi;
	enum parse_result r = (enum parse_result)ps->result;
	struct flow_entry *e;
	enum flow_timeout_class tc;

	uint32_t wire_len = ps->wire_len;

	w->st.packets++;
	w->st.bytes += wire_len;
	if (pkt->flags & WORKER_PKT_RETURN) {
		/* Back from a chain: never classified again. */
		w->st.return_port++;
		emit_plain(w, pkt,
			   r == PARSE_NSH && w->policy != NULL &&
					   policy_nsh_in(w->policy) == POLICY_NSH_DECAP
				   ? WORKER_ACTION_DECAP
				   : WORKER_ACTION_PASS);
		return;
	}
	w->st.parse[r]++;
	if (r == PARSE_FRAGMENT) {
		struct worker_pkt frag = *pkt;

		frag.wire_len = wire_len;
		later_fragment(w, &frag, pi);
		return;
	}
	if (r != PARSE_OK) {
		if (parse_is_malformed(r) && w->p.malformed == WORKER_MALFORMED_DROP) {
			w->st.dropped_malformed++;
			emit_plain(w, pkt, WORKER_ACTION_DROP);
		} else if (r == PARSE_NSH && w->policy != NULL &&
			   policy_nsh_in(w->policy) == POLICY_NSH_DECAP) {
			emit_plain(w, pkt, WORKER_ACTION_DECAP);
		} else {
			emit_plain(w, pkt, WORKER_ACTION_PASS);
		}
		return;
	}

	e = flow_for_packet(w, ps);
	active_timeout_check(w, e);
	e->packets++;
	e->bytes += wire_len;
	{
		/* The responder's packets (branch-free: directions alternate unpredictably). */
		_Static_assert(FLOW_F_INITIATOR_HI == 1, "the flag is bit 0, as from_hi is");
		uint32_t rev = (uint32_t)ps->from_hi ^ (uint32_t)(e->flags & FLOW_F_INITIATOR_HI);

		e->rev_packets += rev;
		e->rev_bytes += (uint64_t)(wire_len & -rev);
	}
	tc = pi->l4_proto == IPPROTO_TCP ? tcp_update(e, pi->tcp_flags, ps->from_hi)
					 : (enum flow_timeout_class)e->tclass;
	if (e->offload == FLOW_OFFLOAD_ASKED) {
		/* Carried by the switch: a packet here is a TCP SYN/FIN/RST or one in flight. A
		 * closing connection ends on flowtag's clock; otherwise the switch's says when. */
		w->st.offloaded_path_packets++;
		if (tc != FLOW_TC_TCP_CLOSED)
			tc = FLOW_TC_OFFLOADED;
	}
	flow_table_touch(w->flows, e, w->now_ms, tc);

	if ((e->flags & FLOW_F_DECIDED) && e->policy_gen != w->policy_gen)
		decide(w, e, true, meta_pool_get(w->meta, e->meta_id)); /* a new policy since */
	if (e->flags & FLOW_F_IN_DPI) {
		struct dpi_verdict v;
		enum dpi_step step;

		w->st.dpi_packets++;
		step = dpi_process(w->dpi, e->dpi_slot, pkt->data + pi->l3_off, pi->l3_len, w->now_ms,
				   e->packets, budget_for(w, pi->l4_proto), &v);
		e->master_proto = v.master_proto;
		e->app_proto = v.app_proto;
		e->category = (uint8_t)v.category;
		if (step == DPI_DONE)
			finish_dpi(w, e, &v, v.app_proto != 0, true);
	} else if (!(e->flags & FLOW_F_DECIDED)) {
		decide(w, e, true, meta_pool_get(w->meta, META_NONE));
	}
	w->st.app_packets[e->app_proto % WORKER_MAX_APPS]++;
	w->st.app_bytes[e->app_proto % WORKER_MAX_APPS] += wire_len;
	w->st.category_packets[e->category % WORKER_MAX_CATEGORIES]++;
	if (e->flags & FLOW_F_DECIDED) {
		struct policy_decision d = flow_decision(e);

		emit_decided(w, e, pkt, &d, NULL);
		if (e->offload == FLOW_OFFLOAD_NONE && w->p.on_offload != NULL)
			maybe_offload(w, e, pi, &d);
	} else {
		before_verdict(w, e, pkt);
	}
	if (pi->is_fragment && !pi->tunnelled)
		first_fragment(w, e, ps);
}

/* Packets staged together: their flows' cache lines are fetched while the others parse. */
#define STAGE_MAX 32

void
worker_process(struct worker *w, const struct worker_pkt *pkts, uint16_t n)
{
	struct pkt_stage ps[STAGE_MAX];
	uint16_t base, i, m;

	for (base = 0; base < n; base += m) {
		m = n - base < STAGE_MAX ? (uint16_t)(n - base) : STAGE_MAX;
		for (i = 0; i < m; i++)
			stage_parse(w, &pkts[base + i], &ps[i]);
		/*
		 * The slots' prefetches go out together, not one after each packet's parse: in a
		 * table of millions a prefetch misses the TLB, and until its page walk ends it
		 * holds back the instructions after it; issued back to back, the walks overlap
		 * (known-flow packets at 10 M flows: 147 -> 93 ns, see README Benchmarks).
		 */
		for (i = 0; i < m; i++)
			if (ps[i].has_key)
				flow_table_prefetch_slot(w->flows, ps[i].hash);
		/* Stage 2: fetch the entries the slots point to (these slot loads overlap too). */
		for (i = 0; i < m; i++)
			if (ps[i].has_key)
				flow_table_prefetch_entry(w->flows, ps[i].hash);
		for (i = 0; i < m; i++) {
			uint64_t t = pkts[base + i].time_us / 1000;

			/* Capture clocks can step back (merged files); flow time never does. */
			if (t > w->now_ms)
				w->now_ms = t;
			process_one(w, &pkts[base + i], &ps[i]);
		}
	}
	flow_table_expire(w->flows, w->now_ms, EXPIRE_BUDGET, w->record_room);
	frag_table_expire(w->frags, w->now_ms, FRAG_EXPIRE_BUDGET);
}

void
worker_tick(struct worker *w, uint64_t now_us)
{
	if (now_us / 1000 > w->now_ms)
		w->now_ms = now_us / 1000;
	flow_table_expire(w->flows, w->now_ms, EXPIRE_BUDGET, w->record_room);
	frag_table_expire(w->frags, w->now_ms, FRAG_EXPIRE_BUDGET);
}

void
worker_set_active_timeout(struct worker *w, uint32_t ms)
{
	__atomic_store_n(&w->p.active_timeout_ms, ms, __ATOMIC_RELAXED);
}

void
worker_set_record_room(struct worker *w, uint32_t room)
{
	w->record_room = room;
}

void
worker_flush(struct worker *w)
{
	frag_table_flush(w->frags); /* fragments still waiting for a first: it will not come */
	flow_table_flush(w->flows);
}

/* The generation counter is about to wrap: no flow may keep a generation that comes back. */
static void
mark_all_stale(struct worker *w)
{
	uint32_t i, cap = flow_table_capacity(w->flows);

	for (i = 0; i < cap; i++) {
		struct flow_entry *e = flow_table_entry_at(w->flows, i);

		if (e != NULL)
			e->policy_gen = POLICY_GEN_STALE;
	}
	memset(w->names, 0, sizeof(w->names));
	w->policy_gen = POLICY_GEN_STALE;
}

void
worker_set_policy(struct worker *w, const struct policy *p)
{
	if (w->policy_gen == UINT32_MAX)
		mark_all_stale(w);
	w->policy = p;
	w->policy_gen++;
	remember_policy_names(w);
	memset(w->st.rule_flows, 0, sizeof(w->st.rule_flows)); /* hits of the policy in force */
}

void
worker_test_set_policy_gen(struct worker *w, uint32_t gen)
{
	w->policy_gen = gen;
	remember_policy_names(w);
}

uint32_t
worker_visit_flows(struct worker *w, uint32_t cursor, uint32_t budget, bool end,
		   uint32_t max_flows, worker_visit_cb visit, void *ctx)
{
	uint32_t cap = flow_table_capacity(w->flows), last, visited = 0;

	last = cursor + budget < cap && cursor + budget > cursor ? cursor + budget : cap;
	for (; cursor < last && visited < max_flows; cursor++) {
		struct flow_entry *e = flow_table_entry_at(w->flows, cursor);

		if (e == NULL)
			continue;
		visited++;
		if (end) {
			flow_table_end(w->flows, e, FLOW_END_FLUSH); /* its record goes out as usual */
			if (visit != NULL)
				visit(ctx, NULL);
		} else if (visit != NULL) {
			struct flow_record rec;

			fill_record(w, e, &rec);
			visit(ctx, &rec);
		}
	}
	return cursor >= cap ? UINT32_MAX : cursor;
}

void
worker_get_stats(const struct worker *w, struct worker_stats *stats)
{
	struct flow_table_stats fts;
	struct meta_pool_stats ms;
	struct frag_table_stats frs;

	*stats = w->st;
	frag_table_get_stats(w->frags, &frs);
	stats->fragment_datagrams = frs.datagrams;
	stats->fragments_waiting = frs.held;
	flow_table_get_stats(w->flows, &fts);
	meta_pool_get_stats(w->meta, &ms);
	stats->flows_active = fts.active;
	stats->ipv6_flows_active = fts.ipv6_active;
	stats->dpi_states_in_use = dpi_states_in_use(w->dpi);
	stats->metadata_not_kept = ms.full;
	stats->metadata_in_use = ms.in_use;
}

const struct stat_item worker_stat_items[] = {
#define WORKER_COUNTER(n, drop, h) {#n, drop, h, false, offsetof(struct worker_stats, n)},
#define WORKER_GAUGE(n, h) {#n, NULL, h, true, offsetof(struct worker_stats, n)},
#include "worker_counters.def"
#undef WORKER_COUNTER
#undef WORKER_GAUGE
};
const size_t worker_stat_item_count = sizeof(worker_stat_items) / sizeof(worker_stat_items[0]);

void
worker_stats_add(struct worker_stats *sum, const struct worker_stats *add)
{
	/* Every field is a uint64_t that adds up: counters, the per-key arrays, the gauges. */
	const size_t n = sizeof(struct worker_stats) / sizeof(uint64_t);
	uint64_t *d = (uint64_t *)sum;
	const uint64_t *a = (const uint64_t *)add;
	size_t k;

	_Static_assert(sizeof(struct worker_stats) % sizeof(uint64_t) == 0,
		       "worker_stats: uint64_t fields only");
	for (k = 0; k < n; k++)
		d[k] += a[k];
}

size_t
worker_bytes_per_classified_flow(const struct worker *w)
{
	return flow_table_bytes_per_flow(w->flows);
}

size_t
worker_shared_pool_bytes(const struct worker *w)
{
	return flow_table_ipv6_pool_bytes(w->flows) + meta_pool_bytes(w->meta) +
	       frag_table_bytes(w->frags);
}

size_t
worker_bytes_per_classifying_flow(const struct worker *w)
{
	return dpi_state_size() + (size_t)w->hold_max * sizeof(struct worker_pkt) +
	       (w->held_n != NULL ? 1 : 0);
}
