/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * DPDK EAL start-up from the config. The arguments always include --no-pci (the host's own
 * NICs are never probed), a unique --file-prefix and --in-memory (no hugepage files are left
 * behind), and only vdevs; virtio-user ports add --single-file-segments ("Too many memory
 * regions" otherwise). Control thread, once, before anything else touches DPDK.
 */
#ifndef FLOWTAG_EAL_H
#define FLOWTAG_EAL_H

#include <stddef.h>

#include "config.h"

#define EAL_MAX_ARGS 64

struct eal_args {
	int argc;
	char *argv[EAL_MAX_ARGS];
	char store[8192]; /* argv strings live here */
	size_t used;
};

/* Pure: the argument vector for cfg (tests inspect it). Returns 0 or -ENOSPC. */
int eal_build_args(const struct config *cfg, const char *prog, struct eal_args *args);

/* A --log-level for the EAL (DPDK's forms: "debug", "flowtag.api:debug"); before eal_start. */
int eal_add_log_level(const char *level);

/* rte_eal_init() with those arguments. Returns 0 or -1 with a message in err. */
int eal_start(const struct config *cfg, const char *prog, char *err, size_t err_len);

/* rte_eal_cleanup(); safe to call after a failed start. */
void eal_stop(void);

#endif
