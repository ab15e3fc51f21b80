/* SPDX-License-Identifier: Apache-2.0 */
/* The `dpdk` uplink driver: the supervisor, as DPDK primary, probes the device named by
 * uplink.dpdk_devargs (a PCI address or vdev arguments), configures one RX and one TX queue on
 * the shared pool and starts it; io-worker attaches to it as a secondary and polls it. */
#include "supervisor.h"

#include <errno.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include "pl_log.h"

#define ETHDEV_RING 1024

static uint16_t port_id = RTE_MAX_ETHPORTS;

/* The device's name: the devargs up to the first comma. */
static void devname(const char *devargs, char *buf, size_t size)
{
	snprintf(buf, size, "%s", devargs);
	char *comma = strchr(buf, ',');
	if (comma)
		*comma = '\0';
}

int ethdev_start(struct supervisor *sv, char *name, size_t name_size, uint8_t mac[6])
{
	const char *devargs = sv->s.cfg.uplink.dpdk_devargs;
	struct rte_eth_conf conf;
	struct rte_ether_addr ea;
	int rc;

	if (!devargs[0]) {
		PL_ERR("ethdev", "uplink.driver is dpdk but uplink.dpdk_devargs is empty");
		return -EINVAL;
	}
	rc = rte_dev_probe(devargs);
	if (rc < 0) {
		PL_ERR("ethdev", "cannot probe '%s': %s", devargs, rte_strerror(-rc));
		return rc;
	}
	devname(devargs, name, name_size);
	rc = rte_eth_dev_get_port_by_name(name, &port_id);
	if (rc < 0) {
		PL_ERR("ethdev", "no ethdev named '%s' after probing '%s'", name, devargs);
		return rc;
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(port_id, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(
			port_id, 0, ETHDEV_RING, rte_eth_dev_socket_id(port_id), NULL, sv->dp.pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(
			port_id, 0, ETHDEV_RING, rte_eth_dev_socket_id(port_id), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port_id);
	if (rc < 0) {
		PL_ERR("ethdev", "cannot start %s: %s", name, rte_strerror(-rc));
		return rc;
	}
	rte_eth_promiscuous_enable(port_id);
	rte_eth_macaddr_get(port_id, &ea);
	memcpy(mac, ea.addr_bytes, 6);
	PL_INFO("ethdev", "uplink device %s started (port %u)", name, port_id);
	return 0;
}

void ethdev_stop(struct supervisor *sv)
{
	(void)sv;
	if (port_id == RTE_MAX_ETHPORTS)
		return;
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
	port_id = RTE_MAX_ETHPORTS;
}
