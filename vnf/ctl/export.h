/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Flow records to an IPFIX collector, on the control thread: the encoder (ipfix.c) and the
 * way to the collector (ipfix_conn.c), with the config's export.ipfix settings, the template
 * refresh, the flush of a message that waits too long, a reload, and the counters the API and
 * /metrics show. Records come from the same stream as the JSON records (after the offload's
 * counts are merged), plus the workers' interim records of long flows. Nothing here makes a
 * worker wait: a record that cannot go is counted, never held.
 */
#ifndef FLOWTAG_EXPORT_H
#define FLOWTAG_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfix.h"
#include "ipfix_conn.h"

struct config;
struct datapath;
struct event_base;
struct flow_record;

#define EXPORT_FLUSH_MS 200 /* a message being filled leaves at least this often */
#define EXPORT_TARGET_MAX 512 /* config.h's CONFIG_STR_MAX */

struct export_stats {
	char collector[EXPORT_TARGET_MAX];
	uint32_t domain;
	uint32_t active_timeout_ms;
	struct ipfix_stats ipfix;
	struct ipfix_conn_stats conn;
};

/* NULL with err set if the settings cannot work (the collector's name does not resolve...). */
struct export *export_create(struct event_base *base, struct datapath *dp, const struct config *cfg,
			     char *err, size_t err_len);
/* The message being filled goes, and what the socket has not taken yet, bounded by `wait_ms`
 * of running the loop (TCP). */
void export_destroy(struct export *x, uint32_t wait_ms);
void export_record(struct export *x, const struct flow_record *r);
void export_tick(struct export *x, uint64_t now_ms);
/*
 * New settings (SIGHUP): a changed collector reconnects, changed ids or message size rebuild
 * the templates (sent again), a changed active timeout reaches the workers. The memory of long
 * flows is kept, so no count is exported twice. -1 with err: the old settings stay.
 */
int export_reconfigure(struct export *x, const struct config *cfg, char *err, size_t err_len);
void export_get_stats(const struct export *x, struct export_stats *st);

/* Records that did not reach the collector, for any reason (a TCP session's lost bytes aside:
 * those cannot be told in records). */
static inline uint64_t
export_records_not_exported(const struct export_stats *st)
{
	return st->ipfix.records_not_sent + st->ipfix.interim_untracked + st->ipfix.encode_errors +
	       st->conn.records_lost;
}

#endif
