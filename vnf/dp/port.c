/* SPDX-License-Identifier: LGPL-3.0-or-later */
#include "port.h"

#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#define RX_DESC 1024
#define TX_DESC 1024

int
port_open(const char *vdev, uint16_t queues, struct rte_mempool *pool, uint16_t *port_id,
	  char *err, size_t err_len)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t n = strcspn(vdev, ",");
	uint16_t q;
	int rc;

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, vdev, n);
	name[n] = '\0';
	if (rte_eth_dev_get_port_by_name(name, port_id) != 0) {
		snprintf(err, err_len, "port %s: no such device (did the vdev fail to probe?)", name);
		return -1;
	}
	rc = rte_eth_dev_info_get(*port_id, &info);
	if (rc == 0 && (queues > info.max_rx_queues || queues > info.max_tx_queues)) {
		snprintf(err, err_len, "port %s: %u queues wanted, it has %u rx / %u tx", name,
			 queues, info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(*port_id, queues, queues, &conf);
	for (q = 0; rc == 0 && q < queues; q++)
		rc = rte_eth_rx_queue_setup(*port_id, q, RX_DESC, rte_eth_dev_socket_id(*port_id),
					    NULL, pool);
	for (q = 0; rc == 0 && q < queues; q++)
		rc = rte_eth_tx_queue_setup(*port_id, q, TX_DESC, rte_eth_dev_socket_id(*port_id),
					    NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(*port_id);
	if (rc != 0) {
		snprintf(err, err_len, "port %s: set-up failed: %s", name, rte_strerror(-rc));
		return -1;
	}
	/* A classifier sees traffic for other hosts: it must not filter by MAC. */
	rte_eth_promiscuous_enable(*port_id);
	return 0;
}

void
port_close(uint16_t port_id)
{
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
