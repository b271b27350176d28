/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * A counter as the outputs see it: its name, help, whether it is a gauge, the drop reason it
 * counts (or NULL), and where it lives in its stats struct. Tables of these are generated from
 * the .def lists (worker_counters.def, dp_counters.def), so the API, the metrics, the telemetry
 * and the exit summary walk them instead of naming each counter. Pure, header-only.
 */
#ifndef FLOWTAG_STAT_ITEM_H
#define FLOWTAG_STAT_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stat_item {
	const char *name;
	const char *drop_reason; /* NULL: not a drop */
	const char *help;
	bool gauge;
	size_t offset; /* of its uint64_t in the stats struct */
};

static inline uint64_t
stat_value(const void *stats, const struct stat_item *it)
{
	return *(const uint64_t *)(const void *)((const char *)stats + it->offset);
}

#endif
