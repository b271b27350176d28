/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * flowtag's DPDK telemetry commands (/flowtag/stats, /flowtag/apps, /flowtag/chains), next to
 * the ethdev ones (dpdk-telemetry.py -f FILE_PREFIX).
 *
 * DPDK calls them on its own telemetry thread, which must not touch what the control thread
 * owns and frees (the policy, above all: it read a freed one before). So they read only a
 * snapshot the control thread publishes with telemetry_publish() (every few hundred
 * milliseconds), under a lock held for a copy, never for anything that can block.
 */
#ifndef FLOWTAG_TELEMETRY_H
#define FLOWTAG_TELEMETRY_H

struct datapath;

/* Register the commands (once, after the EAL is up). 0 or -1. */
int telemetry_register(void);
/* Control thread: take a new snapshot of the data path's figures for the commands. */
struct offload;
void telemetry_publish(const struct datapath *dp, const struct offload *offload);
/* Control thread, at the end: the commands answer with nothing from now on. */
void telemetry_unpublish(void);

#endif
