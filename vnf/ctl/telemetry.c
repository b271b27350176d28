/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "telemetry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "datapath.h"
#include "dpi.h"
#include "offload.h"
#include "policy.h"
#include "stat_item.h"

#define NAME_MAX_LEN 64

struct snapshot {
	bool valid;
	struct {
		const char *name;
		uint64_t value;
	} stats[128];
	unsigned n_stats;
	struct {
		char name[NAME_MAX_LEN];
		uint64_t packets;
	} apps[RTE_TEL_MAX_DICT_ENTRIES];
	unsigned n_apps;
	struct {
		char name[POLICY_NAME_MAX];
		uint64_t packets;
	} chains[POLICY_MAX_CHAINS];
	unsigned n_chains;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot published; /* under lock */
static struct snapshot building; /* control thread only */

static void
stat(struct snapshot *s, const char *name, uint64_t v)
{
	if (s->n_stats == sizeof(s->stats) / sizeof(s->stats[0]))
		return;
	s->stats[s->n_stats].name = name; /* string literals: they outlive everything */
	s->stats[s->n_stats++].value = v;
}

void
telemetry_publish(const struct datapath *dp, const struct offload *offload)
{
	struct offload_stats os;
	const struct policy *p = datapath_policy(dp);
	const struct dpi *names = datapath_names(dp);
	struct snapshot *s = &building;
	struct datapath_stats ds;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	datapath_get_stats(dp, &ds);
	for (i = 0; i < worker_stat_item_count; i++)
		stat(s, worker_stat_items[i].name, stat_value(&ds.w, &worker_stat_items[i]));
	for (i = 0; i < datapath_stat_item_count; i++)
		stat(s, datapath_stat_items[i].name, stat_value(&ds.c, &datapath_stat_items[i]));
	stat(s, "policy_version", p != NULL ? policy_version(p) : 0);
	if (offload != NULL) {
		/* Prefixed names are literals too: the table below is built once. */
		static char names_buf[OFFLOAD_STAT_COUNT][48];

		offload_get_stats(offload, &os);
		for (i = 0; i < offload_stat_item_count; i++) {
			if (names_buf[i][0] == '\0')
				snprintf(names_buf[i], sizeof(names_buf[i]), "offload_%s",
					 offload_stat_items[i].name);
			stat(s, names_buf[i], stat_value(&os, &offload_stat_items[i]));
		}
	}
	for (i = 0; names != NULL && i < WORKER_MAX_APPS && s->n_apps < RTE_TEL_MAX_DICT_ENTRIES; i++) {
		if (ds.w.app_packets[i] == 0)
			continue;
		snprintf(s->apps[s->n_apps].name, NAME_MAX_LEN, "%s", dpi_proto_name(names, (uint16_t)i));
		s->apps[s->n_apps++].packets = ds.w.app_packets[i];
	}
	for (i = 0; p != NULL && i < policy_chain_count(p); i++) {
		snprintf(s->chains[i].name, POLICY_NAME_MAX, "%s", policy_chain_at(p, i)->name);
		s->chains[i].packets = ds.w.chain_packets[i];
		s->n_chains++;
	}
	s->valid = true;
	pthread_mutex_lock(&lock);
	published = *s;
	pthread_mutex_unlock(&lock);
}

void
telemetry_unpublish(void)
{
	pthread_mutex_lock(&lock);
	published.valid = false;
	pthread_mutex_unlock(&lock);
}

/* The commands: a copy of the snapshot under the lock, then the dict from the copy. */
static struct snapshot *
copy_published(struct snapshot *out)
{
	pthread_mutex_lock(&lock);
	*out = published;
	pthread_mutex_unlock(&lock);
	return out->valid ? out : NULL;
}

/* One handler for the three commands: the command's name picks what it lists. */
static int
tel_command(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct snapshot s; /* ~20 KB; DPDK runs a thread per telemetry client */
	unsigned i;

	(void)params;
	rte_tel_data_start_dict(d);
	if (copy_published(&s) == NULL)
		return 0;
	if (strcmp(cmd, "/flowtag/stats") == 0)
		for (i = 0; i < s.n_stats; i++)
			rte_tel_data_add_dict_u64(d, s.stats[i].name, s.stats[i].value);
	else if (strcmp(cmd, "/flowtag/apps") == 0)
		for (i = 0; i < s.n_apps; i++)
			rte_tel_data_add_dict_u64(d, s.apps[i].name, s.apps[i].packets);
	else
		for (i = 0; i < s.n_chains; i++)
			rte_tel_data_add_dict_u64(d, s.chains[i].name, s.chains[i].packets);
	return 0;
}

int
telemetry_register(void)
{
	int rc = 0;

	rc |= rte_telemetry_register_cmd("/flowtag/stats", tel_command,
					 "flowtag's counters: packets, flows, tags, drops. No parameters");
	rc |= rte_telemetry_register_cmd("/flowtag/apps", tel_command,
					 "Packets per nDPI application. No parameters");
	rc |= rte_telemetry_register_cmd("/flowtag/chains", tel_command,
					 "Packets tagged per service chain. No parameters");
	return rc != 0 ? -1 : 0;
}
