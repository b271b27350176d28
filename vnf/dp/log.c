/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "log.h"

#include <stdio.h>

int log_types[LOG_PART_COUNT] = {RTE_LOGTYPE_USER1, RTE_LOGTYPE_USER1, RTE_LOGTYPE_USER1,
				 RTE_LOGTYPE_USER1};

void
log_init(void)
{
	static const char *const names[LOG_PART_COUNT] = {
		[LOG_MAIN] = "flowtag.main",
		[LOG_DP] = "flowtag.dp",
		[LOG_API] = "flowtag.api",
		[LOG_CONTROL] = "flowtag.control",
	};
	int i;

	/* DPDK's Linux log goes to stdout and syslog by default; flowtag's belongs on stderr. */
	rte_openlog_stream(stderr);
	for (i = 0; i < LOG_PART_COUNT; i++) {
		int t = rte_log_register_type_and_pick_level(names[i], RTE_LOG_INFO);

		if (t >= 0)
			log_types[i] = t;
	}
}
