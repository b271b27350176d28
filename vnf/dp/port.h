/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * Ports: DPDK ethdevs over the vdevs the EAL created (net_virtio_user, net_pcap, net_null,
 * net_ring, net_tap, net_af_packet). Control thread only.
 */
#ifndef FLOWTAG_PORT_H
#define FLOWTAG_PORT_H

#include <stddef.h>
#include <stdint.h>

struct rte_mempool;

/*
 * Configure and start the ethdev that vdev string `vdev` created (its name is the part before
 * the first ','), with `queues` rx and tx queues. Returns 0 and the port id, or -1 with err.
 */
int port_open(const char *vdev, uint16_t queues, struct rte_mempool *pool, uint16_t *port_id,
	      char *err, size_t err_len);

/* Stop and close; flushes a net_pcap tx file. */
void port_close(uint16_t port_id);

#endif
