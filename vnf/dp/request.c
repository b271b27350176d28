/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Requests to workers, as objects the data path owns.
 *
 * An asker (the API, on the control thread) gets an op: the control thread's record of what
 * was asked, who to tell and by when. The op sends one dp_request at a time to each worker
 * concerned, over the worker's request ring; the worker carries it out in bounded slices
 * between bursts (a few thousand table entries, or as many flow ends as its record ring has
 * room for) and marks it done as its last write to it. Results go straight into the op's own
 * buffer. The op answers its asker once (results, or a timeout), but is freed only when no
 * worker holds any of its requests any more: a timed-out or cancelled asker can never leave
 * a worker writing into freed memory, however late the worker is (the use-after-free the
 * static command of the past had).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_internal.h"

#define REQ_SCAN_STEP 4096 /* table entries a worker looks at per loop */
#define REQ_FLUSH_STEP 512 /* flows a worker ends per loop at most */

enum dp_request_kind {
	DP_REQ_FLOWS,
	DP_REQ_FLUSH,
};

/* One worker's part of an op. The worker holds it from dequeue until it sets `done`. */
struct dp_request {
	enum dp_request_kind kind;
	const struct flow_filter *filter; /* the op's (the op outlives the request) */
	uint32_t offset; /* matches to skip before copying */
	uint32_t max; /* records to copy at most */
	struct flow_record *out; /* into the op's buffer */
	uint32_t copied;
	uint32_t matched;
	uint64_t flushed;
	uint32_t cursor; /* the worker's progress through its table */
	bool served; /* false: the worker finished before it got to this request */
	int done; /* atomic: the worker's last write */
};

struct dp_op {
	struct dp_op *next;
	uint64_t handle;
	enum dp_request_kind kind;
	struct flow_filter filter;
	uint32_t offset_left; /* matches still to skip, over the next workers */
	uint32_t max;
	struct flow_record *recs; /* max records */
	uint32_t n;
	bool more;
	uint64_t flushed;
	uint64_t deadline_tsc;
	datapath_result_cb done;
	void *ctx;
	bool answered; /* done() was called, or the asker cancelled */
	bool unserved; /* a worker finished before serving its part */
	uint32_t next_worker; /* flows: the workers are asked in turn */
	uint32_t in_flight; /* requests the workers hold */
	struct dp_request *reqs; /* one per worker */
	uint8_t *sent; /* per worker: a request is out (and not yet collected) */
};

/* ---- worker side ---- */

static void
collect(void *ctx, const struct flow_record *rec)
{
	struct dp_request *r = ctx;

	if (rec == NULL) { /* a flush: one flow ended */
		r->flushed++;
		return;
	}
	if (!flow_filter_match(r->filter, rec))
		return;
	if (r->matched >= r->offset && r->copied < r->max)
		r->out[r->copied++] = *rec;
	r->matched++;
}

static void
finish_request(struct dp_lcore *lc, struct dp_request *r, bool served)
{
	r->served = served;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	if (lc->req == r)
		lc->req = NULL;
}

void
dp_request_step(struct dp_lcore *lc)
{
	struct dp_request *r = lc->req;

	if (r == NULL) {
		if (rte_ring_sc_dequeue(lc->requests, (void **)&r) != 0)
			return;
		lc->req = r;
	}
	if (r->kind == DP_REQ_FLOWS) {
		r->cursor = worker_visit_flows(lc->w, r->cursor, REQ_SCAN_STEP, false, UINT32_MAX,
					       collect, r);
	} else {
		/* Every ended flow's record must fit: end no more than the ring has room for. */
		uint32_t room = RTE_MIN(rte_ring_free_count(lc->records),
					rte_mempool_avail_count(lc->dp->rec_pool));

		if (room == 0)
			return; /* the control thread drains the ring; next loop */
		r->cursor = worker_visit_flows(lc->w, r->cursor, REQ_SCAN_STEP, true,
					       RTE_MIN(room, (uint32_t)REQ_FLUSH_STEP), collect, r);
	}
	if (r->cursor == UINT32_MAX)
		finish_request(lc, r, true);
}

void
dp_request_abandon_all(struct dp_lcore *lc)
{
	struct dp_request *r;

	if (lc->req != NULL)
		finish_request(lc, lc->req, false);
	while (rte_ring_sc_dequeue(lc->requests, (void **)&r) == 0)
		finish_request(lc, r, false);
}

/* ---- control side ---- */

static struct dp_op *
op_new(struct datapath *dp, enum dp_request_kind kind, uint32_t max, uint32_t timeout_ms,
       datapath_result_cb done, void *ctx)
{
	struct dp_op *op;

	if (dp->n_ops >= DP_REQUESTS_MAX) {
		dp->requests_refused++;
		errno = EBUSY;
		return NULL;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return NULL;
	op->reqs = calloc(dp->n_workers, sizeof(*op->reqs));
	op->sent = calloc(dp->n_workers, 1);
	op->recs = max > 0 ? calloc(max, sizeof(*op->recs)) : NULL;
	if (op->reqs == NULL || op->sent == NULL || (max > 0 && op->recs == NULL)) {
		free(op->reqs);
		free(op->sent);
		free(op->recs);
		free(op);
		errno = ENOMEM;
		return NULL;
	}
	op->kind = kind;
	op->max = max;
	op->done = done;
	op->ctx = ctx;
	op->handle = ++dp->next_op_handle;
	op->deadline_tsc = rte_get_timer_cycles() + clock_us_to_cycles((uint64_t)timeout_ms * 1000,
								       dp->hz);
	op->next = dp->ops;
	dp->ops = op;
	dp->n_ops++;
	return op;
}

/* Hand worker w its part. A worker that has finished gets none: its part counts unserved. */
static void
op_send(struct datapath *dp, struct dp_op *op, uint32_t w)
{
	struct dp_request *r = &op->reqs[w];
	struct dp_lcore *lc = &dp->workers[w];

	memset(r, 0, sizeof(*r));
	r->kind = op->kind;
	r->filter = &op->filter;
	r->offset = op->offset_left;
	r->max = op->max - op->n;
	r->out = op->recs != NULL ? op->recs + op->n : NULL;
	if (lc->w == NULL || __atomic_load_n(&lc->finished, __ATOMIC_ACQUIRE) ||
	    rte_ring_sp_enqueue(lc->requests, r) != 0) {
		/* The ring holds DP_REQUESTS_MAX: it is full only if the worker is gone. */
		op->unserved = true;
		return;
	}
	op->sent[w] = 1;
	op->in_flight++;
}

static void
op_answer(struct dp_op *op, int status)
{
	struct datapath_result res = {
		.status = status,
		.flows = op->recs,
		.n_flows = status == 0 ? op->n : 0,
		.more = op->more,
		.flushed = op->flushed,
	};

	if (op->answered)
		return;
	op->answered = true;
	op->done(op->ctx, &res);
}

/* Worker w is done with its part: take the results, and ask the next worker if it is a turn. */
static void
op_collect(struct datapath *dp, struct dp_op *op, uint32_t w)
{
	const struct dp_request *r = &op->reqs[w];

	op->sent[w] = 0;
	op->in_flight--;
	if (!r->served)
		op->unserved = true;
	if (op->kind == DP_REQ_FLUSH) {
		op->flushed += r->flushed;
		return;
	}
	op->n += r->copied;
	if (r->matched > r->offset + r->copied)
		op->more = true;
	op->offset_left = r->matched >= op->offset_left ? 0 : op->offset_left - r->matched;
	if (!op->answered && op->next_worker < dp->n_workers)
		op_send(dp, op, op->next_worker++);
}

/*
 * A worker that has finished serves nothing more; its request ring is ours now (the worker
 * consumed it alone, and it is gone): whatever it left there is answered as unserved.
 */
static void
reclaim_from_finished(struct datapath *dp)
{
	uint32_t w;

	for (w = 0; w < dp->n_workers; w++) {
		struct dp_lcore *lc = &dp->workers[w];
		struct dp_request *r;

		if (lc->requests == NULL || !__atomic_load_n(&lc->finished, __ATOMIC_ACQUIRE))
			continue;
		while (rte_ring_sc_dequeue(lc->requests, (void **)&r) == 0) {
			r->served = false;
			__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
		}
	}
}

void
dp_requests_poll(struct datapath *dp)
{
	struct dp_op **link = &dp->ops;
	uint64_t now = rte_get_timer_cycles();

	if (dp->ops == NULL)
		return;
	reclaim_from_finished(dp);
	while (*link != NULL) {
		struct dp_op *op = *link;
		uint32_t w;

		for (w = 0; w < dp->n_workers; w++)
			if (op->sent[w] && __atomic_load_n(&op->reqs[w].done, __ATOMIC_ACQUIRE))
				op_collect(dp, op, w);
		if (!op->answered && op->in_flight == 0)
			op_answer(op, op->unserved ? -ESHUTDOWN : 0);
		else if (!op->answered && now > op->deadline_tsc)
			op_answer(op, -ETIMEDOUT);
		if (op->answered && op->in_flight == 0) {
			*link = op->next;
			dp->n_ops--;
			free(op->reqs);
			free(op->sent);
			free(op->recs);
			free(op);
			continue;
		}
		link = &op->next;
	}
}

void
dp_requests_destroy(struct datapath *dp)
{
	reclaim_from_finished(dp);
	while (dp->ops != NULL) {
		struct dp_op *op = dp->ops;

		dp->ops = op->next;
		/* The lcores have stopped: nothing holds the requests any more. */
		free(op->reqs);
		free(op->sent);
		free(op->recs);
		free(op);
	}
	dp->n_ops = 0;
}

uint64_t
datapath_request_flows(struct datapath *dp, const struct flow_filter *f, uint32_t timeout_ms,
		       datapath_result_cb done, void *ctx)
{
	struct dp_op *op = op_new(dp, DP_REQ_FLOWS, f->limit, timeout_ms, done, ctx);

	if (op == NULL)
		return 0;
	op->filter = *f;
	op->filter.host_glob[sizeof(op->filter.host_glob) - 1] = '\0';
	op->offset_left = f->offset;
	if (dp->n_workers > 0)
		op_send(dp, op, op->next_worker++);
	return op->handle;
}

uint64_t
datapath_request_flush(struct datapath *dp, uint32_t timeout_ms, datapath_result_cb done,
		       void *ctx)
{
	struct dp_op *op = op_new(dp, DP_REQ_FLUSH, 0, timeout_ms, done, ctx);
	uint32_t w;

	if (op == NULL)
		return 0;
	/* Every worker at once: each paces itself by its own record ring. */
	for (w = 0; w < dp->n_workers; w++)
		op_send(dp, op, w);
	op->next_worker = dp->n_workers;
	return op->handle;
}

void
datapath_request_cancel(struct datapath *dp, uint64_t handle)
{
	struct dp_op *op;

	for (op = dp->ops; op != NULL; op = op->next)
		if (op->handle == handle)
			op->answered = true; /* done() is not called; reaped with its requests */
}
