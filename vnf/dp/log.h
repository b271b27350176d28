/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * flowtag's log, on DPDK's rte_log: one log type per part (flowtag.main, flowtag.dp,
 * flowtag.api, flowtag.control), levels as DPDK's, on stderr. `--log-level` (any command)
 * takes DPDK's forms: a level for everything ("debug", "7") or TYPE:LEVEL with globs
 * ("flowtag.api:debug", "flowtag.*:warning").
 *
 * Nothing that can repeat fast (a loop, a packet, a connection) logs without a rate limit:
 * LOG_LIMITED lets one message through per interval per call site and says how many it held
 * back. Workers never log; their failures are counters. The pure layers do not log either:
 * they return what went wrong.
 */
#ifndef FLOWTAG_LOG_H
#define FLOWTAG_LOG_H

#include <stdint.h>

#include <rte_cycles.h>
#include <rte_log.h>

enum log_part {
	LOG_MAIN,
	LOG_DP,
	LOG_API,
	LOG_CONTROL,
	LOG_PART_COUNT
};

extern int log_types[LOG_PART_COUNT];

/* Register the types and send the log to stderr. After the EAL is up (it parsed --log-level). */
void log_init(void);

#define LOG(level, part, fmt, ...)                                                                 \
	rte_log(RTE_LOG_##level, log_types[LOG_##part], "flowtag: " fmt "\n", ##__VA_ARGS__)

/* At most one message per `every_s` seconds from this call site; the held-back ones counted. */
#define LOG_LIMITED(every_s, level, part, fmt, ...)                                                \
	do {                                                                                       \
		static uint64_t next_tsc_, held_;                                                  \
		uint64_t now_ = rte_get_timer_cycles();                                            \
		if (now_ < next_tsc_) {                                                            \
			held_++;                                                                   \
			break;                                                                     \
		}                                                                                  \
		next_tsc_ = now_ + (uint64_t)(every_s) * rte_get_timer_hz();                       \
		if (held_ > 0)                                                                     \
			LOG(level, part, fmt " (and %llu more like it since)", ##__VA_ARGS__,      \
			    (unsigned long long)held_);                                            \
		else                                                                               \
			LOG(level, part, fmt, ##__VA_ARGS__);                                      \
		held_ = 0;                                                                         \
	} while (0)

#endif
