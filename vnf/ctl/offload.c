/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Offload (offload.h says what and why). How it keeps track:
 *
 * One entry per offered flow, in an array indexed by a small number (the entry's slot, which
 * its rules' cookies carry, so a FLOW_REMOVED or an ERROR finds it without a search) and in
 * an open-addressing index on the flow's key (asks and records find it by key). An entry's
 * rules are one per direction: `live` has a bit per direction whose rule is in the switch,
 * `deleting` a bit per direction we asked the switch to delete and have not heard back
 * about. The switch's counts (FLOW_REMOVED) add up in the entry until the flow's record
 * comes, which takes them (or waits for them, up to offload.removal_wait_ms).
 *
 * Lists, each FIFO: `installs` (asks and rewrites waiting for FLOW_MOD budget), `removals`
 * (deletes waiting for budget; they go first), `waiting` (deletes sent, waiting for their
 * FLOW_REMOVEDs), `parked` (records waiting for their counts, oldest first). Notices a
 * worker's ring could not take wait in a small FIFO of their own.
 *
 * Why deletes wait for FLOW_REMOVED and not for a BARRIER: Open vSwitch sends a rule's
 * FLOW_REMOVED when it destroys the rule, after an RCU grace period (ofproto.c,
 * rule_destroy_cb), so it may come after the reply to a barrier sent behind the delete. Every
 * rule flowtag deletes is one it installed and has not heard the end of, so its FLOW_REMOVED
 * does come, unless the switch restarted; offload.removal_wait_ms bounds the wait.
 */
#include "offload.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <stdio.h>
#include "nsh.h"
#include "tag.h"

#define DIR_LO_HI 1u /* the rule for packets from key.lo_* to key.hi_* */
#define DIR_HI_LO 2u
#define DIR_BOTH 3u

#define SLOT_BITS 23 /* entries at most 2 * OFFLOAD_MAX_FLOWS < 2^23 */
#define GEN_SHIFT 24 /* cookie bits 24..39: the install's generation */
#define AGGREGATE_EVERY_MS 1000
#define QUEUE_SECONDS 5 /* asks wait at most this many seconds' worth of FLOW_MODs */
#define NOTICES_MAX 65536

_Static_assert(2ULL * OFFLOAD_MAX_FLOWS < (1ULL << SLOT_BITS), "slots fit the cookie");

enum entry_state {
	E_QUEUED, /* waiting for budget to install its rules */
	E_INSTALLED, /* rules sent (live bits say which are still in the switch) */
	E_REMOVING, /* deletes queued or sent; settles when live and deleting are both 0 */
	E_RETURNED, /* no rules; the flow is on the flowtag path; counts kept for its record */
	E_ENDING, /* told the worker its rules went idle: its record comes next */
	E_GONE, /* the worker has no such flow: forget it unless a record comes soon */
};

/* What happens once a removal settles. */
enum settle_then {
	THEN_RETURN, /* notice RETURNED (policy change, switch restart, deleted by others) */
	THEN_REFUSE, /* notice REFUSED (the switch refused a rule) */
	THEN_RECORD, /* the record is parked: merge and write it */
	THEN_FORGET, /* the record was written already (late), or we are stopping */
};

struct entry {
	struct offload_ask ask; /* key, flow, worker, what the policy decides on */
	uint32_t slot;
	uint16_t gen; /* of its current rules: every install takes the next */
	uint8_t state; /* enum entry_state */
	uint8_t live;
	uint8_t deleting;
	uint8_t then; /* enum settle_then, for E_REMOVING */
	uint8_t idle_dirs; /* directions the switch removed for idleness */
	uint8_t action, chain; /* the decision its rules carry */
	bool rewrite; /* queued to rewrite its actions in place (MODIFY_STRICT) */
	bool installed_ever; /* rules were sent for it at least once */
	bool queued_install, queued_removal, in_waiting, in_parked;
	uint32_t actions_hash;
	uint32_t xid[2]; /* the last FLOW_MOD per direction (an ERROR names it) */
	uint64_t packets, bytes; /* from FLOW_REMOVEDs */
	uint64_t hi_lo_packets, hi_lo_bytes; /* of those, the rule from the key's hi endpoint */
	uint64_t deadline_ms; /* parked record, or E_GONE */
	uint64_t delete_deadline_ms; /* deletes sent: their FLOW_REMOVEDs are due by then */
	struct flow_record *record; /* parked */
	TAILQ_ENTRY(entry) install_link, removal_link, waiting_link, parked_link;
};

TAILQ_HEAD(entry_list, entry);

struct offload {
	struct offload_params p;
	const struct config *cfg;
	const struct policy *policy;
	uint64_t cookie_base;
	/* Entries by slot, and the free slots, oldest freed first (a slot is reused as late as
	 * possible, and its generation goes on from its last entry's: a late message about an
	 * old rule never matches a new one). */
	struct entry **slots;
	uint32_t n_slots, max_slots;
	uint32_t *free_slots; /* a ring of max_slots */
	uint32_t free_head, n_free;
	uint16_t *slot_gen;
	/* Index on the key: slot + 1 (0 = empty), linear probing, backward-shift delete. */
	uint32_t *index;
	uint32_t index_mask;
	uint32_t n_entries;
	uint32_t n_state[E_GONE + 1];
	struct entry_list installs, removals, waiting, parked;
	uint32_t n_installs;
	/* Notices a worker's ring did not take, retried on every tick. */
	struct {
		uint16_t worker;
		struct offload_notice n;
	} *notices;
	uint32_t notice_head, notice_count;
	/* The connection. */
	bool connected, resyncing, stopping;
	uint32_t next_xid;
	uint32_t resync_xid, aggregate_xid;
	bool aggregate_pending;
	uint64_t stop_deadline_ms, next_aggregate_ms, last_tick_ms;
	/* FLOW_MOD budget, in thousandths of a FLOW_MOD. */
	uint64_t tokens_milli, burst_milli;
	struct offload_stats st;
};

const struct stat_item offload_stat_items[] = {
#define OFFLOAD_STAT(n, g, h) {#n, NULL, h, g, offsetof(struct offload_stats, n)},
#include "offload_counters.def"
#undef OFFLOAD_STAT
};
const size_t offload_stat_item_count = sizeof(offload_stat_items) / sizeof(offload_stat_items[0]);

/* ---- small helpers ---- */

static void __attribute__((format(printf, 3, 4)))
say(const struct offload *o, bool warning, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	if (o->p.say == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	o->p.say(o->p.ctx, warning, text);
}

static uint32_t
fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint32_t
xid_next(struct offload *o)
{
	o->next_xid++;
	if (o->next_xid == 0)
		o->next_xid = 1;
	return o->next_xid;
}

uint64_t
offload_cookie_base(const struct config *cfg)
{
	return OFFLOAD_COOKIE_TAG << 48 | (uint64_t)(cfg->offload_instance & 0xff) << 40;
}

static uint64_t
cookie_of(const struct offload *o, const struct entry *e, unsigned int dir)
{
	return o->cookie_base | (uint64_t)e->gen << GEN_SHIFT | (uint64_t)e->slot << 1 |
	       (dir == DIR_HI_LO ? 1u : 0u);
}

/* The entry a cookie of ours names (slot and generation), and its direction; or NULL. */
static struct entry *
entry_of_cookie(const struct offload *o, uint64_t cookie, unsigned int *dir)
{
	uint32_t slot = (uint32_t)(cookie >> 1) & ((1u << SLOT_BITS) - 1);
	uint16_t gen = (uint16_t)(cookie >> GEN_SHIFT);
	struct entry *e;

	if ((cookie & OFFLOAD_COOKIE_MASK) != o->cookie_base || slot >= o->n_slots)
		return NULL;
	e = o->slots[slot];
	if (e == NULL || e->gen != gen)
		return NULL;
	*dir = (cookie & 1) ? DIR_HI_LO : DIR_LO_HI;
	return e;
}

/* ---- the key index ---- */

static uint32_t *
index_find(const struct offload *o, const struct flow_key *key)
{
	uint32_t i = flow_key_hash(key) & o->index_mask;

	for (;;) {
		uint32_t s = o->index[i];

		if (s == 0 || memcmp(&o->slots[s - 1]->ask.key, key, sizeof(*key)) == 0)
			return &o->index[i];
		i = (i + 1) & o->index_mask;
	}
}

static struct entry *
lookup(const struct offload *o, const struct flow_key *key)
{
	uint32_t s = *index_find(o, key);

	return s == 0 ? NULL : o->slots[s - 1];
}

static void
index_remove(struct offload *o, const struct flow_key *key)
{
	uint32_t *hole = index_find(o, key), i = (uint32_t)(hole - o->index), j = i;

	if (*hole == 0)
		return;
	o->index[i] = 0;
	/* Backward shift: move later members of the run into the hole when their home allows. */
	for (;;) {
		uint32_t home;

		j = (j + 1) & o->index_mask;
		if (o->index[j] == 0)
			return;
		home = flow_key_hash(&o->slots[o->index[j] - 1]->ask.key) & o->index_mask;
		if (((j - home) & o->index_mask) >= ((j - i) & o->index_mask)) {
			o->index[i] = o->index[j];
			o->index[j] = 0;
			i = j;
		}
	}
}

/* ---- entries ---- */

static void
free_slot(struct offload *o, uint32_t slot)
{
	o->free_slots[(o->free_head + o->n_free) % o->max_slots] = slot;
	o->n_free++;
}

static struct entry *
entry_new(struct offload *o, const struct offload_ask *a)
{
	struct entry *e;
	uint32_t slot;

	/* New slots first, while there are: then the one freed longest ago. */
	if (o->n_slots < o->max_slots) {
		slot = o->n_slots++;
	} else if (o->n_free > 0) {
		slot = o->free_slots[o->free_head];
		o->free_head = (o->free_head + 1) % o->max_slots;
		o->n_free--;
	} else {
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		free_slot(o, slot);
		return NULL;
	}
	e->ask = *a;
	e->state = E_RETURNED; /* no rules yet */
	o->n_state[E_RETURNED]++;
	e->slot = slot;
	e->gen = o->slot_gen[slot];
	o->slots[slot] = e;
	*index_find(o, &a->key) = slot + 1;
	o->n_entries++;
	return e;
}

/* Off one list (if on it). */
static void
unqueue_install(struct offload *o, struct entry *e)
{
	if (e->queued_install) {
		TAILQ_REMOVE(&o->installs, e, install_link);
		e->queued_install = false;
		o->n_installs--;
	}
}

static void
unqueue_removal(struct offload *o, struct entry *e)
{
	if (e->queued_removal) {
		TAILQ_REMOVE(&o->removals, e, removal_link);
		e->queued_removal = false;
	}
}

static void
unwait(struct offload *o, struct entry *e)
{
	if (e->in_waiting) {
		TAILQ_REMOVE(&o->waiting, e, waiting_link);
		e->in_waiting = false;
	}
}

static void
unpark(struct offload *o, struct entry *e)
{
	if (e->in_parked) {
		TAILQ_REMOVE(&o->parked, e, parked_link);
		e->in_parked = false;
	}
}

static void
unlink_lists(struct offload *o, struct entry *e)
{
	unqueue_install(o, e);
	unqueue_removal(o, e);
	unwait(o, e);
	unpark(o, e);
}

static void
set_state(struct offload *o, struct entry *e, enum entry_state s)
{
	o->n_state[e->state]--;
	o->n_state[s]++;
	e->state = (uint8_t)s;
}

/* Flows that count against offload.max_flows: with rules, or about to have them. */
static uint32_t
n_with_rules(const struct offload *o)
{
	return o->n_state[E_QUEUED] + o->n_state[E_INSTALLED] + o->n_state[E_REMOVING];
}

static void
entry_free(struct offload *o, struct entry *e)
{
	o->n_state[e->state]--;
	unlink_lists(o, e);
	index_remove(o, &e->ask.key);
	o->slots[e->slot] = NULL;
	o->slot_gen[e->slot] = e->gen;
	free_slot(o, e->slot);
	o->n_entries--;
	free(e->record);
	free(e);
}

/* ---- notices to workers ---- */

static void
notify(struct offload *o, const struct entry *e, enum offload_notice_kind kind)
{
	struct offload_notice n = {.key = e->ask.key, .flow_id = e->ask.flow_id, .kind = (uint8_t)kind};
	uint32_t tail;

	if (o->notice_count == 0 && o->p.notify(o->p.ctx, e->ask.worker, &n))
		return;
	o->st.notices_delayed++;
	if (o->notice_count == NOTICES_MAX) {
		/* The worker keeps the flow as offloaded until its own safety-net timeout. */
		o->st.notices_dropped++;
		return;
	}
	tail = (o->notice_head + o->notice_count) % NOTICES_MAX;
	o->notices[tail].worker = e->ask.worker;
	o->notices[tail].n = n;
	o->notice_count++;
}

static void
retry_notices(struct offload *o)
{
	while (o->notice_count > 0) {
		uint32_t h = o->notice_head;

		if (!o->p.notify(o->p.ctx, o->notices[h].worker, &o->notices[h].n))
			return;
		o->notice_head = (h + 1) % NOTICES_MAX;
		o->notice_count--;
	}
}

/* ---- what the switch carried ---- */

static void
count_switch(struct offload *o, const struct entry *e, uint64_t packets, uint64_t bytes)
{
	o->st.switch_packets += packets;
	o->st.switch_bytes += bytes;
	o->st.app_packets[e->ask.app_proto % WORKER_MAX_APPS] += packets;
	o->st.app_bytes[e->ask.app_proto % WORKER_MAX_APPS] += bytes;
	if (e->action == POLICY_CHAIN && e->chain < POLICY_MAX_CHAINS)
		o->st.chain_packets[e->chain] += packets;
}

static void
write_merged(struct offload *o, struct entry *e, struct flow_record *rec)
{
	rec->offloaded = e->installed_ever;
	rec->offloaded_packets += e->packets;
	rec->offloaded_bytes += e->bytes;
	rec->packets += e->packets;
	rec->bytes += e->bytes;
	/* The responder's direction is the one the first packet did not take. */
	rec->rev_packets += rec->initiator_hi ? e->packets - e->hi_lo_packets : e->hi_lo_packets;
	rec->rev_bytes += rec->initiator_hi ? e->bytes - e->hi_lo_bytes : e->hi_lo_bytes;
	o->st.records_merged++;
	o->p.write_record(o->p.ctx, rec);
}

/* ---- building FLOW_MODs ---- */

static void
match_of(const struct offload *o, const struct entry *e, unsigned int dir, struct of_match *m)
{
	const struct flow_key *k = &e->ask.key;
	bool lo_hi = dir == DIR_LO_HI;

	memset(m, 0, sizeof(*m));
	m->in_port = o->cfg->offload_in_port;
	m->match_vlan = true;
	m->vlan_vid = e->ask.vlan_tags > 0 ? (uint16_t)(OF_VID_PRESENT | (k->vlan & 0x0fff)) : 0;
	m->ip_version = k->ip_version;
	m->ip_proto = k->l4_proto;
	memcpy(m->src, lo_hi ? k->lo_addr : k->hi_addr, 16);
	memcpy(m->dst, lo_hi ? k->hi_addr : k->lo_addr, 16);
	m->tp_src = lo_hi ? k->lo_port : k->hi_port;
	m->tp_dst = lo_hi ? k->hi_port : k->lo_port;
	if (k->l4_proto == 6)
		m->tcp_flags_clear = 0x0001 | 0x0002 | 0x0004; /* FIN, SYN, RST */
}

/*
 * The decision the policy in force gives the flow, if the switch may carry it; false if not
 * (no policy, not offloadable).
 */
static bool
decide(const struct offload *o, const struct entry *e, struct policy_decision *d)
{
	struct policy_flow pf = {
		.key = &e->ask.key,
		.initiator_hi = e->ask.initiator_hi != 0,
		.master_proto = e->ask.master_proto,
		.app_proto = e->ask.app_proto,
		.category = e->ask.category,
		.host = e->ask.host,
		.risk = e->ask.risk,
	};

	if (o->policy == NULL)
		return false;
	*d = policy_decide(o->policy, &pf);
	return policy_offloadable(o->policy, d);
}

/* The actions for the entry's decision (the same both ways). */
static void
actions_of(const struct offload *o, const struct entry *e, struct of_buf *acts)
{
	const struct policy_chain *chain;

	memset(acts, 0, sizeof(*acts));
	if (e->action == POLICY_DROP)
		return; /* no actions: drop */
	if (e->action == POLICY_CHAIN && (chain = policy_chain_at(o->policy, e->chain)) != NULL) {
		struct tag_meta meta = {
			.master_proto = e->ask.master_proto,
			.app_proto = e->ask.app_proto,
			.category = e->ask.category,
			.si = NSH_SI_CLASSIFIER,
			.flow_id = e->ask.flow_id,
			.policy_version = policy_version(o->policy),
			.host = e->ask.host,
		};
		struct tag_push push;

		tag_push_of(&chain->tag, &meta, e->ask.vlan_tags > 0, &push);
		of_put_tag_push(acts, &push, o->cfg->offload_scratch_xxreg);
	}
	of_put_resubmit(acts, o->cfg->offload_resubmit_port, (uint8_t)o->cfg->offload_resubmit_table);
}

static uint16_t
idle_timeout_of(const struct offload *o, const struct entry *e)
{
	uint32_t ms = o->cfg->timeout_ms[e->ask.key.l4_proto == 6 ? FLOW_TC_TCP : FLOW_TC_UDP];
	uint32_t s = (ms + 999) / 1000;

	return (uint16_t)(s < 1 ? 1 : s > 65535 ? 65535 : s);
}

static int
send_msg(struct offload *o, const struct of_buf *b)
{
	if (b->overflow)
		return -EMSGSIZE;
	return o->p.send(o->p.ctx, b) == 0 ? 0 : -EAGAIN;
}

/* One FLOW_MOD for one direction. 0, -EAGAIN (no room: try later), -EMSGSIZE. */
static int
send_flow_mod(struct offload *o, struct entry *e, unsigned int dir, uint8_t command,
	      const struct of_buf *acts)
{
	struct of_match m;
	struct of_buf b;
	struct of_flow_mod fm = {
		.cookie = cookie_of(o, e, dir),
		.cookie_mask = command == OFPFC_ADD ? 0 : UINT64_MAX,
		.table_id = (uint8_t)o->cfg->offload_table,
		.command = command,
		.idle_timeout = command == OFPFC_ADD ? idle_timeout_of(o, e) : 0,
		.priority = (uint16_t)o->cfg->offload_priority,
		.flags = command == OFPFC_ADD ? OFPFF_SEND_FLOW_REM : 0,
		.match = &m,
		.actions = acts != NULL ? acts->data : NULL,
		.actions_len = acts != NULL ? acts->len : 0,
	};
	uint32_t xid = xid_next(o);
	int rc;

	match_of(o, e, dir, &m);
	b.len = 0;
	b.overflow = false;
	of_flow_mod(&b, xid, &fm);
	rc = send_msg(o, &b);
	if (rc == 0) {
		e->xid[dir == DIR_HI_LO] = xid;
		o->st.flow_mods++;
	}
	return rc;
}

/* ---- the FLOW_MOD budget ---- */

static void
refill(struct offload *o, uint64_t now_ms)
{
	uint64_t dt = now_ms - o->last_tick_ms;

	if (now_ms < o->last_tick_ms)
		dt = 0;
	if (dt > 1000)
		dt = 1000; /* the bucket holds less than a second anyway */
	o->last_tick_ms = now_ms;
	o->tokens_milli += dt * o->cfg->offload_flow_mods_per_s;
	if (o->tokens_milli > o->burst_milli)
		o->tokens_milli = o->burst_milli;
}

static bool
take_tokens(struct offload *o, uint32_t n)
{
	if (o->tokens_milli < (uint64_t)n * 1000)
		return false;
	o->tokens_milli -= (uint64_t)n * 1000;
	return true;
}

/* ---- removal ---- */

/* Delete the entry's rules (the ones still in the switch), then `then`. */
static void
start_removal(struct offload *o, struct entry *e, enum settle_then then)
{
	unqueue_install(o, e);
	e->rewrite = false;
	e->then = (uint8_t)then;
	set_state(o, e, E_REMOVING);
	if (e->live != 0 && !e->queued_removal) {
		TAILQ_INSERT_TAIL(&o->removals, e, removal_link);
		e->queued_removal = true;
	}
}

static void settle(struct offload *o, struct entry *e, uint64_t now_ms);

/* A removal is done when no direction is in the switch or unheard of. */
static void
maybe_settled(struct offload *o, struct entry *e, uint64_t now_ms)
{
	if (e->state == E_REMOVING && e->live == 0 && e->deleting == 0 && !e->queued_removal)
		settle(o, e, now_ms);
}

static void
settle(struct offload *o, struct entry *e, uint64_t now_ms)
{
	(void)now_ms;
	unlink_lists(o, e);
	switch (e->then) {
	case THEN_RECORD:
		write_merged(o, e, e->record);
		entry_free(o, e);
		return;
	case THEN_FORGET:
		entry_free(o, e);
		return;
	case THEN_REFUSE:
		set_state(o, e, E_RETURNED);
		if (!o->stopping) /* stopping: the flows end anyway, their counts wait */
			notify(o, e, OFFLOAD_REFUSED);
		return;
	case THEN_RETURN:
	default:
		set_state(o, e, E_RETURNED);
		if (!o->stopping)
			notify(o, e, OFFLOAD_RETURNED);
		return;
	}
}

/* Rules an installed entry lost without us asking (idle, deleted by others, restart). */
static void
rules_lost(struct offload *o, struct entry *e, uint64_t now_ms)
{
	if (e->state != E_INSTALLED || e->live != 0)
		return;
	if (e->idle_dirs == DIR_BOTH) {
		/* Idle both ways for the flow's timeout: it is over; its record comes next. */
		set_state(o, e, E_ENDING);
		notify(o, e, OFFLOAD_IDLE);
	} else {
		set_state(o, e, E_RETURNED);
		notify(o, e, OFFLOAD_RETURNED);
	}
	(void)now_ms;
}

/* ---- creation ---- */

struct offload *
offload_create(const struct offload_params *p, const struct policy *policy)
{
	struct offload *o = calloc(1, sizeof(*o));
	uint32_t max_flows, cap;

	if (o == NULL)
		return NULL;
	o->p = *p;
	o->cfg = p->cfg;
	o->policy = policy;
	o->cookie_base = offload_cookie_base(p->cfg);
	max_flows = p->cfg->offload_max_flows;
	if (max_flows == 0 || max_flows > OFFLOAD_MAX_FLOWS)
		max_flows = OFFLOAD_MAX_FLOWS;
	/* Room for the flows with rules and as many whose counts wait for their record. */
	o->max_slots = 2 * max_flows;
	for (cap = 1024; cap < 2 * o->max_slots; cap <<= 1)
		;
	o->index_mask = cap - 1;
	o->index = calloc(cap, sizeof(*o->index));
	o->slots = calloc(o->max_slots, sizeof(*o->slots));
	o->free_slots = malloc((size_t)o->max_slots * sizeof(*o->free_slots));
	o->slot_gen = calloc(o->max_slots, sizeof(*o->slot_gen));
	o->notices = malloc(NOTICES_MAX * sizeof(*o->notices));
	if (o->index == NULL || o->slots == NULL || o->free_slots == NULL || o->slot_gen == NULL ||
	    o->notices == NULL) {
		offload_destroy(o);
		errno = ENOMEM;
		return NULL;
	}
	/* Generations start where an earlier flowtag's (same instance) are unlikely to be, so
	 * its rules' late FLOW_REMOVEDs do not pass for ours (their match is checked too). */
	{
		uint16_t start;

		if (getrandom(&start, sizeof(start), 0) != sizeof(start))
			start = (uint16_t)(getpid() ^ (uint32_t)time(NULL));
		for (uint32_t i = 0; i < o->max_slots; i++)
			o->slot_gen[i] = start;
	}
	TAILQ_INIT(&o->installs);
	TAILQ_INIT(&o->removals);
	TAILQ_INIT(&o->waiting);
	TAILQ_INIT(&o->parked);
	/* A tenth of a second of FLOW_MODs at once, and at least one flow's pair. */
	o->burst_milli = (uint64_t)(p->cfg->offload_flow_mods_per_s / 10 + 2) * 1000;
	return o;
}

void
offload_destroy(struct offload *o)
{
	uint32_t i;

	if (o == NULL)
		return;
	for (i = 0; o->slots != NULL && i < o->n_slots; i++)
		if (o->slots[i] != NULL) {
			struct entry *e = o->slots[i];

			/* A record still waiting for its rules' counts (a stop whose deletes did
			 * not settle in time: a slow or gone switch) goes with what there is: a
			 * record is never lost for want of the switch's share. */
			if (e->record != NULL) {
				o->st.records_late++;
				write_merged(o, e, e->record);
			}
			free(e->record);
			free(e);
		}
	free(o->index);
	free(o->slots);
	free(o->free_slots);
	free(o->slot_gen);
	free(o->notices);
	free(o);
}

/* ---- the connection ---- */

/* A FLOW_MOD that deletes every rule with this instance's cookie, in every table. */
static void
put_delete_all(struct offload *o, struct of_buf *b)
{
	struct of_flow_mod del = {
		.cookie = o->cookie_base,
		.cookie_mask = OFFLOAD_COOKIE_MASK,
		.table_id = OFPTT_ALL,
		.command = OFPFC_DELETE,
	};

	of_flow_mod(b, xid_next(o), &del);
}

void
offload_connected(struct offload *o, uint64_t now_ms)
{
	struct of_buf b;

	o->connected = true;
	o->st.connected = true;
	o->aggregate_pending = false;
	/* Asynchronous messages: a service connection gets FLOW_REMOVED only with a non-zero
	 * miss_send_len; then only FLOW_REMOVED. Then delete every rule of ours, an old
	 * flowtag's too (same instance): what survives a restart is not ours to trust. */
	memset(&b, 0, sizeof(b));
	of_set_config(&b, xid_next(o), 128);
	of_set_async_flow_removed_only(&b, xid_next(o));
	put_delete_all(o, &b);
	o->resync_xid = xid_next(o);
	of_barrier_request(&b, o->resync_xid);
	if (send_msg(o, &b) != 0) {
		say(o, true, "cannot send the connection's first messages");
		return;
	}
	o->st.flow_mods++;
	o->resyncing = true;
	o->st.resyncing = true;
	o->st.resyncs++;
	(void)now_ms;
}

void
offload_disconnected(struct offload *o, uint64_t now_ms)
{
	o->connected = false;
	o->st.connected = false;
	o->resyncing = false;
	o->st.resyncing = false;
	o->aggregate_pending = false;
	o->st.live_packets = o->st.live_bytes = 0;
	o->st.live_rules = 0;
	/* Rules may well survive (a dropped connection, not a restart): the next connection's
	 * delete brings their counts; until then nothing is sent. */
	(void)now_ms;
}

/* Deletes of these directions were sent now: they settle by FLOW_REMOVED, or at the deadline. */
static void
await_deletes(struct offload *o, struct entry *e, uint8_t dirs, uint64_t now_ms)
{
	e->live &= (uint8_t)~dirs;
	e->deleting |= dirs;
	e->delete_deadline_ms = now_ms + o->cfg->offload_removal_wait_ms;
	unwait(o, e); /* to the tail: the list stays in deadline order */
	TAILQ_INSERT_TAIL(&o->waiting, e, waiting_link);
	e->in_waiting = true;
}

/*
 * A delete of every rule of ours (cookie mask) went out: the entry's rules are among them.
 * It settles by their FLOW_REMOVEDs or at the deadline; then its flow returns to flowtag.
 */
static void
deleted_by_all(struct offload *o, struct entry *e, uint64_t now_ms)
{
	unqueue_removal(o, e);
	if (e->state == E_INSTALLED) {
		unqueue_install(o, e); /* a rewrite: nothing left to rewrite */
		e->rewrite = false;
		e->then = THEN_RETURN;
		set_state(o, e, E_REMOVING);
	}
	await_deletes(o, e, e->live, now_ms);
}

/*
 * The resync barrier's reply: the switch has deleted every rule of ours. Rules of the last
 * connection that we had not heard the end of may still report (a switch that stayed up
 * sends their FLOW_REMOVEDs, counts and all); a restarted one never will. Either way they
 * are deletes now, and their flows go back to the flowtag path once settled.
 */
static void
resync_done(struct offload *o, uint64_t now_ms)
{
	uint32_t i;

	o->resyncing = false;
	o->st.resyncing = false;
	for (i = 0; i < o->n_slots; i++) {
		struct entry *e = o->slots[i];

		if (e == NULL || e->live == 0)
			continue;
		o->st.resync_flows++;
		deleted_by_all(o, e, now_ms);
	}
}

static void
on_barrier_reply(struct offload *o, uint32_t xid, uint64_t now_ms)
{
	if (o->resyncing && xid == o->resync_xid)
		resync_done(o, now_ms);
}

/* The deletes whose FLOW_REMOVEDs did not come in time: settled without their counts. */
static void
expire_deletes(struct offload *o, uint64_t now_ms)
{
	struct entry *e;

	while ((e = TAILQ_FIRST(&o->waiting)) != NULL && now_ms >= e->delete_deadline_ms) {
		unwait(o, e);
		e->deleting = 0;
		o->st.deletes_unanswered++;
		if (e->state == E_REMOVING)
			maybe_settled(o, e, now_ms);
		else
			rules_lost(o, e, now_ms);
	}
}

/* Is this the match of the entry's rule for direction `dir`? */
static bool
match_is(const struct of_match *m, const struct entry *e, unsigned int dir)
{
	struct flow_key key;
	uint16_t vlan = (m->vlan_vid & OF_VID_PRESENT) ? (m->vlan_vid & 0x0fff) : 0;
	bool src_hi;

	if ((m->ip_version != 4 && m->ip_version != 6) || (m->ip_proto != 6 && m->ip_proto != 17))
		return false;
	src_hi = flow_key_make(m->src, m->dst, m->tp_src, m->tp_dst, m->ip_proto, m->ip_version,
			       vlan, &key);
	return memcmp(&key, &e->ask.key, sizeof(key)) == 0 &&
	       (src_hi ? DIR_HI_LO : DIR_LO_HI) == dir;
}

static void
on_flow_removed(struct offload *o, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct of_flow_removed fr;
	struct entry *e;
	unsigned int dir;

	if (of_parse_flow_removed(msg, len, &fr) != 0) {
		o->st.malformed++;
		say(o, true, "a malformed FLOW_REMOVED (%zu bytes) is ignored", len);
		return;
	}
	o->st.flow_removed++;
	e = entry_of_cookie(o, fr.cookie, &dir);
	if (e != NULL && !match_is(&fr.match, e, dir))
		e = NULL; /* the same cookie, another flow: an earlier flowtag's rule */
	if (e == NULL || !((e->live | e->deleting) & dir)) {
		/* An old flowtag's rule (the delete at connection), or one settled already. */
		o->st.foreign_removed++;
		return;
	}
	e->packets += fr.packet_count;
	e->bytes += fr.byte_count;
	if (dir == DIR_HI_LO) {
		e->hi_lo_packets += fr.packet_count;
		e->hi_lo_bytes += fr.byte_count;
	}
	count_switch(o, e, fr.packet_count, fr.byte_count);
	e->live &= (uint8_t)~dir;
	e->deleting &= (uint8_t)~dir;
	if (e->deleting == 0)
		unwait(o, e);
	if (fr.reason == OFPRR_IDLE_TIMEOUT) {
		e->idle_dirs |= (uint8_t)dir;
		o->st.removed_idle++;
	} else if (!(e->state == E_REMOVING)) {
		o->st.removed_other++;
	}
	if (e->state == E_REMOVING)
		maybe_settled(o, e, now_ms);
	else
		rules_lost(o, e, now_ms);
}

static void
on_error(struct offload *o, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct of_error err;
	char name[64];
	struct entry *e;
	unsigned int dir;

	if (of_parse_error(msg, len, &err) != 0) {
		o->st.malformed++;
		say(o, true, "a malformed ERROR (%zu bytes) is ignored", len);
		return;
	}
	of_error_name(err.type, err.code, name, sizeof(name));
	if (!err.has_cookie || (e = entry_of_cookie(o, err.failed_cookie, &dir)) == NULL) {
		say(o, true, "the switch refused a %s: %s", of_type_name(err.failed_type), name);
		return;
	}
	o->st.flow_mod_errors++;
	if (e->xid[dir == DIR_HI_LO] != err.failed_xid)
		return; /* an older FLOW_MOD of this entry: its fate is known */
	say(o, false, "the switch refused flow %u's rule: %s; it stays on the flowtag path",
	    e->ask.flow_id, name);
	if (e->state == E_INSTALLED) {
		/* One direction may be in: delete both, then tell the worker. */
		o->st.refused_error++;
		e->live &= (uint8_t)~dir;
		start_removal(o, e, THEN_REFUSE);
		maybe_settled(o, e, now_ms);
	} else if (e->state == E_REMOVING) {
		e->deleting &= (uint8_t)~dir; /* a refused delete: no FLOW_REMOVED will come */
		if (e->deleting == 0)
			unwait(o, e);
		maybe_settled(o, e, now_ms);
	}
}

void
offload_message(struct offload *o, const uint8_t *msg, size_t len, uint64_t now_ms)
{
	struct of_header h;
	struct of_aggregate agg;

	if (of_parse_header(msg, len, &h) != 0)
		return;
	switch (h.type) {
	case OFPT_FLOW_REMOVED:
		on_flow_removed(o, msg, len, now_ms);
		break;
	case OFPT_BARRIER_REPLY:
		on_barrier_reply(o, h.xid, now_ms);
		break;
	case OFPT_ERROR:
		on_error(o, msg, len, now_ms);
		break;
	case OFPT_MULTIPART_REPLY:
		if (h.xid == o->aggregate_xid && of_parse_aggregate_reply(msg, len, &agg) == 0) {
			o->aggregate_pending = false;
			o->st.live_packets = agg.packet_count;
			o->st.live_bytes = agg.byte_count;
			o->st.live_rules = agg.flow_count;
		}
		break;
	default:
		break; /* nothing else was asked for */
	}
}

/* ---- asks and records ---- */

static void
refuse(struct offload *o, const struct offload_ask *a, uint64_t *counter)
{
	struct offload_notice n = {.key = a->key, .flow_id = a->flow_id, .kind = OFFLOAD_REFUSED};
	struct entry tmp;

	(*counter)++;
	memset(&tmp, 0, sizeof(tmp));
	tmp.ask = *a;
	notify(o, &tmp, n.kind);
}

static void
queue_install(struct offload *o, struct entry *e)
{
	if (!e->queued_install) {
		TAILQ_INSERT_TAIL(&o->installs, e, install_link);
		e->queued_install = true;
		o->n_installs++;
	}
}

static uint32_t
queue_max(const struct offload *o)
{
	return o->cfg->offload_flow_mods_per_s * QUEUE_SECONDS / 2 + 1;
}

void
offload_ask(struct offload *o, const struct offload_ask *a, uint64_t now_ms)
{
	struct entry *e = lookup(o, &a->key);
	struct policy_decision d;

	if (a->kind == OFFLOAD_GONE) {
		/* A notice found no such flow: its record, if any, is on its way. */
		if (e != NULL && e->ask.flow_id == a->flow_id &&
		    (e->state == E_RETURNED || e->state == E_ENDING)) {
			set_state(o, e, E_GONE);
			e->deadline_ms = now_ms + o->cfg->offload_removal_wait_ms;
			if (!e->in_parked) {
				TAILQ_INSERT_TAIL(&o->parked, e, parked_link);
				e->in_parked = true;
			}
		}
		return;
	}
	o->st.asked++;
	if (e != NULL && e->ask.flow_id != a->flow_id) {
		/* The same key, an older flow whose record has not come yet: not now. */
		refuse(o, a, &o->st.refused_busy);
		return;
	}
	if (e != NULL && e->state != E_RETURNED)
		return; /* asked again while its rules are in: the worker's view already matches */
	if (o->stopping) {
		refuse(o, a, &o->st.refused_stopping);
		return;
	}
	if (n_with_rules(o) >= o->cfg->offload_max_flows) {
		refuse(o, a, &o->st.refused_full);
		return;
	}
	if (o->n_installs >= queue_max(o)) {
		refuse(o, a, &o->st.refused_queue);
		return;
	}
	if (e == NULL) {
		e = entry_new(o, a);
		if (e == NULL) {
			refuse(o, a, &o->st.refused_full);
			return;
		}
	} else {
		e->ask = *a; /* back again (returned earlier): its counts so far stay */
		unpark(o, e);
	}
	if (!decide(o, e, &d)) {
		set_state(o, e, E_RETURNED);
		notify(o, e, OFFLOAD_REFUSED);
		return;
	}
	e->action = d.action;
	e->chain = d.chain;
	e->idle_dirs = 0;
	set_state(o, e, E_QUEUED);
	queue_install(o, e);
}

static void
park(struct offload *o, struct entry *e, const struct flow_record *rec, uint64_t now_ms)
{
	e->record = malloc(sizeof(*rec));
	if (e->record == NULL) {
		o->st.records_late++;
		o->p.write_record(o->p.ctx, rec);
		e->then = THEN_FORGET;
		return;
	}
	*e->record = *rec;
	e->then = THEN_RECORD;
	e->deadline_ms = now_ms + o->cfg->offload_removal_wait_ms;
	if (!e->in_parked) {
		TAILQ_INSERT_TAIL(&o->parked, e, parked_link);
		e->in_parked = true;
	}
}

void
offload_record(struct offload *o, const struct flow_record *rec, uint64_t now_ms)
{
	struct entry *e;

	if (!rec->offloaded) {
		o->p.write_record(o->p.ctx, rec);
		return;
	}
	e = lookup(o, &rec->key);
	if (e == NULL) {
		/* Its ask may still be in the worker's ring (asks go first, but may be late). */
		o->p.drain_asks(o->p.ctx, rec->worker);
		e = lookup(o, &rec->key);
	}
	if (e == NULL || e->ask.flow_id != rec->flow_id) {
		/* Refused before it had rules (or forgotten): the switch never carried it. */
		struct flow_record r = *rec;

		r.offloaded = 0;
		o->st.records_without_counts++;
		o->p.write_record(o->p.ctx, &r);
		return;
	}
	switch (e->state) {
	case E_QUEUED:
		{
			struct flow_record r = *rec;

			write_merged(o, e, &r);
			entry_free(o, e);
		}
		return;
	case E_INSTALLED:
		start_removal(o, e, THEN_RECORD);
		park(o, e, rec, now_ms);
		maybe_settled(o, e, now_ms);
		return;
	case E_REMOVING:
		if (e->record == NULL)
			park(o, e, rec, now_ms);
		else
			o->p.write_record(o->p.ctx, rec); /* cannot happen: one record per flow */
		return;
	default:
		{
			struct flow_record r = *rec;

			write_merged(o, e, &r);
			entry_free(o, e);
		}
		return;
	}
}

/* ---- a new policy ---- */

void
offload_policy(struct offload *o, const struct policy *p, uint64_t now_ms)
{
	uint32_t i;

	o->policy = p;
	for (i = 0; i < o->n_slots; i++) {
		struct entry *e = o->slots[i];
		struct policy_decision d;
		struct of_buf acts;

		if (e == NULL || (e->state != E_QUEUED && e->state != E_INSTALLED))
			continue;
		if (!decide(o, e, &d) || d.action != e->action ||
		    (d.action == POLICY_CHAIN && d.chain != e->chain)) {
			/* Decided otherwise: off the switch; the worker decides it again itself. */
			o->st.policy_removed++;
			start_removal(o, e, THEN_RETURN);
			maybe_settled(o, e, now_ms); /* queued, never installed: settled at once */
			continue;
		}
		if (e->state != E_INSTALLED)
			continue;
		actions_of(o, e, &acts);
		if (fnv1a(acts.data, acts.len) != e->actions_hash) {
			e->rewrite = true; /* e.g. the version in NSH C4 */
			queue_install(o, e);
		}
	}
}

/* ---- the tick: FLOW_MODs within budget ---- */

/* Deletes first: they free room and settle records. */
static void
send_removals(struct offload *o, uint64_t now_ms)
{
	struct entry *e;

	while ((e = TAILQ_FIRST(&o->removals)) != NULL) {
		unsigned int dir, n = 0;

		for (dir = DIR_LO_HI; dir <= DIR_HI_LO; dir <<= 1)
			n += (e->live & dir) != 0;
		if (!take_tokens(o, n))
			return;
		for (dir = DIR_LO_HI; dir <= DIR_HI_LO; dir <<= 1) {
			if (!(e->live & dir))
				continue;
			if (send_flow_mod(o, e, dir, OFPFC_DELETE_STRICT, NULL) != 0)
				return; /* the connection's queue is full: the rest later */
			await_deletes(o, e, (uint8_t)dir, now_ms);
		}
		unqueue_removal(o, e);
	}
}

static void
send_installs(struct offload *o)
{
	struct entry *e;

	while ((e = TAILQ_FIRST(&o->installs)) != NULL) {
		struct of_buf acts;
		uint8_t cmd = e->rewrite ? OFPFC_MODIFY_STRICT : OFPFC_ADD;
		unsigned int dir;

		if (!take_tokens(o, 2))
			return;
		actions_of(o, e, &acts);
		if (acts.overflow) {
			/* Cannot happen within OF_MSG_MAX; never install a truncated action list. */
			o->st.refused_error++;
			start_removal(o, e, THEN_REFUSE);
			continue;
		}
		if (cmd == OFPFC_ADD && e->live == 0)
			e->gen++; /* new rules, new cookies: no late message about old ones matches */
		for (dir = DIR_LO_HI; dir <= DIR_HI_LO; dir <<= 1) {
			if (e->rewrite ? !(e->live & dir) : (e->live & dir) != 0)
				continue; /* a rewrite only where there are rules; an add where not yet */
			if (send_flow_mod(o, e, dir, cmd, &acts) != 0)
				return; /* the connection's queue is full: the rest later */
			if (cmd == OFPFC_ADD) {
				e->live |= (uint8_t)dir;
				e->installed_ever = true;
			}
		}
		e->actions_hash = fnv1a(acts.data, acts.len);
		unqueue_install(o, e);
		if (e->rewrite)
			o->st.policy_modified++;
		else
			o->st.installed++;
		e->rewrite = false;
		if (e->state == E_QUEUED)
			set_state(o, e, E_INSTALLED);
	}
}

static void
expire_parked(struct offload *o, uint64_t now_ms)
{
	struct entry *e;

	while ((e = TAILQ_FIRST(&o->parked)) != NULL && now_ms >= e->deadline_ms) {
		unpark(o, e);
		if (e->state == E_GONE) {
			o->st.orphans++; /* no record came: the worker lost it */
			entry_free(o, e);
			continue;
		}
		if (e->record != NULL) {
			/* Its counts are late (the switch is slow or gone): write what there is. */
			o->st.records_late++;
			write_merged(o, e, e->record);
			free(e->record);
			e->record = NULL;
			e->then = THEN_FORGET;
			maybe_settled(o, e, now_ms);
		}
	}
}

void
offload_tick(struct offload *o, uint64_t now_ms)
{
	refill(o, now_ms);
	retry_notices(o);
	expire_parked(o, now_ms);
	expire_deletes(o, now_ms);
	if (o->connected && !o->resyncing) {
		send_removals(o, now_ms);
		if (!o->stopping)
			send_installs(o);
		if (!o->aggregate_pending && now_ms >= o->next_aggregate_ms) {
			struct of_buf b;

			memset(&b, 0, sizeof(b));
			o->aggregate_xid = xid_next(o);
			of_aggregate_request(&b, o->aggregate_xid, o->cookie_base, OFFLOAD_COOKIE_MASK);
			if (send_msg(o, &b) == 0) {
				o->aggregate_pending = true;
				o->next_aggregate_ms = now_ms + AGGREGATE_EVERY_MS;
			}
		}
	}
	o->st.flows_queued = o->n_installs;
}

/* ---- stop ---- */

void
offload_stop(struct offload *o, uint64_t now_ms)
{
	struct of_buf b;
	uint32_t i;

	if (o->stopping)
		return;
	o->stopping = true;
	o->stop_deadline_ms = now_ms + o->cfg->offload_removal_wait_ms;
	/* Queued asks never reach the switch; the flows are ending anyway. */
	for (i = 0; i < o->n_slots; i++) {
		struct entry *e = o->slots[i];

		if (e != NULL && e->state == E_QUEUED) {
			unlink_lists(o, e);
			set_state(o, e, E_RETURNED);
		}
	}
	if (!o->connected || o->resyncing)
		return; /* nothing to ask now; a resync's delete-all is the stop's */
	memset(&b, 0, sizeof(b));
	put_delete_all(o, &b);
	if (send_msg(o, &b) != 0)
		return; /* the connection's queue is full: the next flowtag deletes them */
	o->st.flow_mods++;
	/* Every rule is in that delete: each entry waits for its FLOW_REMOVEDs, and keeps the
	 * counts for its record, which comes with the workers' flush. */
	for (i = 0; i < o->n_slots; i++) {
		struct entry *e = o->slots[i];

		if (e != NULL && e->live != 0)
			deleted_by_all(o, e, now_ms); /* no notice follows while stopping */
	}
}

bool
offload_stopped(const struct offload *o, uint64_t now_ms)
{
	return !o->stopping || !o->connected || now_ms >= o->stop_deadline_ms ||
	       (!o->resyncing && TAILQ_EMPTY(&o->waiting));
}

void
offload_get_stats(const struct offload *o, struct offload_stats *st)
{
	*st = o->st;
	st->flows_tracked = o->n_entries;
	st->flows_queued = o->n_state[E_QUEUED];
	st->flows_offloaded = o->n_state[E_INSTALLED];
	st->flows_removing = o->n_state[E_REMOVING];
}
