/* SPDX-License-Identifier: Apache-2.0 */
/* Port I/O for AF_PACKET v3, tap and tun. */
#include "ioworker_port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pl_config.h"
#include "pl_netlink.h"

#define AFP_BLOCK_SIZE (1u << 18)
#define AFP_BLOCKS 16
#define AFP_FRAME_SIZE 2048
#define AFP_BLOCK_TIMEOUT_MS 1

static int afp_open(struct port *p)
{
	unsigned int ifindex = if_nametoindex(p->obj.name);
	if (!ifindex)
		return -ENODEV;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	int v = TPACKET_V3, one = 1;
	struct tpacket_req3 req = {
		.tp_block_size = AFP_BLOCK_SIZE,
		.tp_block_nr = AFP_BLOCKS,
		.tp_frame_size = AFP_FRAME_SIZE,
		.tp_frame_nr = AFP_BLOCK_SIZE / AFP_FRAME_SIZE * AFP_BLOCKS,
		.tp_retire_blk_tov = AFP_BLOCK_TIMEOUT_MS,
	};
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)ifindex,
	};
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
		setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		goto fail;
	/* Not fatal where unsupported. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	p->ring_size = (size_t)AFP_BLOCK_SIZE * AFP_BLOCKS;
	p->ring = mmap(NULL, p->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	p->block_size = AFP_BLOCK_SIZE;
	p->n_blocks = AFP_BLOCKS;
	p->fd = fd;
	return 0;
fail : {
	int e = errno;
	if (p->ring)
		munmap(p->ring, p->ring_size);
	p->ring = NULL;
	close(fd);
	return -e;
}
}

static char dpdk_devargs[PL_CONFIG_STR_SIZE];

void port_set_dpdk_devargs(const char *devargs)
{
	snprintf(dpdk_devargs, sizeof(dpdk_devargs), "%s", devargs);
}

/* Attaches to the ethdev the primary probed (the secondary must probe the same devargs). */
static int dpdk_open(struct port *p)
{
	int rc = rte_eth_dev_get_port_by_name(p->obj.name, &p->eth_port);
	if (rc < 0 && dpdk_devargs[0]) {
		rc = rte_dev_probe(dpdk_devargs);
		if (rc < 0 && rc != -EEXIST)
			return rc;
		rc = rte_eth_dev_get_port_by_name(p->obj.name, &p->eth_port);
	}
	if (rc < 0)
		return rc;
	p->fd = -1; /* polled, no descriptor */
	return 0;
}

int port_open(struct port *p, const struct pl_obj_iface *o)
{
	int rc;
	memset(p, 0, sizeof(*p));
	p->obj = *o;
	p->index = o->index;
	p->fd = -1;
	switch (o->role) {
	case PL_ROLE_UPLINK:
		if (strcmp(o->driver, "af_xdp") == 0) {
			p->kind = PORT_AF_XDP;
			return port_xdp_open(p);
		}
		if (strcmp(o->driver, "dpdk") == 0) {
			p->kind = PORT_DPDK;
			return dpdk_open(p);
		}
		p->kind = PORT_AF_PACKET;
		return afp_open(p);
	case PL_ROLE_HOST:
		p->kind = PORT_TAP;
		rc = pl_nl_tuntap_open(o->name, IFF_TAP);
		break;
	case PL_ROLE_POD:
		p->kind = PORT_TUN;
		rc = pl_nl_pod_tun_open(o->netns, o->name);
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	p->fd = rc;
	return 0;
}

void port_close(struct port *p)
{
	if (p->kind == PORT_AF_XDP) {
		port_xdp_close(p);
		return;
	}
	if (p->ring)
		munmap(p->ring, p->ring_size);
	p->ring = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static struct tpacket_block_desc *afp_block(const struct port *p, uint32_t i)
{
	return (struct tpacket_block_desc *)(p->ring + (size_t)i * p->block_size);
}

bool port_rx_ready(const struct port *p)
{
	if (p->kind == PORT_AF_XDP)
		return port_xdp_rx_ready(p);
	if (p->kind == PORT_DPDK)
		return true;
	if (p->kind != PORT_AF_PACKET)
		return true;
	const struct tpacket_block_desc *bd = afp_block(p, p->cur_block);
	return (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

/* Completes an L4 checksum the sender left to offload (TP_STATUS_CSUMNOTREADY: veth peers). */
static void fix_l4_csum(struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
		len >= sizeof(*eth) + sizeof(struct rte_ipv4_hdr)) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		uint32_t ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
		uint32_t tot = rte_be_to_cpu_16(ip->total_length);
		if (ihl < 20 || tot < ihl || sizeof(*eth) + tot > len)
			return;
		void *l4 = (uint8_t *)ip + ihl;
		if (ip->next_proto_id == IPPROTO_TCP && tot - ihl >= sizeof(struct rte_tcp_hdr)) {
			struct rte_tcp_hdr *t = l4;
			t->cksum = 0;
			t->cksum = rte_ipv4_udptcp_cksum(ip, t);
		} else if (ip->next_proto_id == IPPROTO_UDP &&
			   tot - ihl >= sizeof(struct rte_udp_hdr)) {
			struct rte_udp_hdr *u = l4;
			u->dgram_cksum = 0;
			u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
		}
	} else if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6) &&
		   len >= sizeof(*eth) + sizeof(struct rte_ipv6_hdr)) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
		uint32_t pl = rte_be_to_cpu_16(ip->payload_len);
		if (sizeof(*eth) + sizeof(*ip) + pl > len)
			return;
		void *l4 = ip + 1;
		if (ip->proto == IPPROTO_TCP && pl >= sizeof(struct rte_tcp_hdr)) {
			struct rte_tcp_hdr *t = l4;
			t->cksum = 0;
			t->cksum = rte_ipv6_udptcp_cksum(ip, t);
		} else if (ip->proto == IPPROTO_UDP && pl >= sizeof(struct rte_udp_hdr)) {
			struct rte_udp_hdr *u = l4;
			u->dgram_cksum = 0;
			u->dgram_cksum = rte_ipv6_udptcp_cksum(ip, u);
		}
	}
}

static unsigned int afp_rx(struct port *p, struct rte_mempool *mp, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail)
{
	unsigned int got = 0;
	while (got < n) {
		struct tpacket_block_desc *bd = afp_block(p, p->cur_block);
		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
			    TP_STATUS_USER))
			break;
		if (p->pkt_in_block == 0)
			p->next_pkt = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
		while (got < n && p->pkt_in_block < bd->hdr.bh1.num_pkts) {
			struct tpacket3_hdr *ph = (struct tpacket3_hdr *)p->next_pkt;
			struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
			if (!m) {
				*alloc_fail = true;
				return got;
			}
			if (ph->tp_snaplen < ph->tp_len ||
				ph->tp_snaplen > rte_pktmbuf_tailroom(m)) {
				p->truncated++;
				rte_pktmbuf_free(m);
			} else {
				char *d = rte_pktmbuf_append(m, (uint16_t)ph->tp_snaplen);
				memcpy(d, (uint8_t *)ph + ph->tp_mac, ph->tp_snaplen);
				if (ph->tp_status & TP_STATUS_CSUMNOTREADY)
					fix_l4_csum(m);
				pkts[got++] = m;
			}
			p->pkt_in_block++;
			p->next_pkt += ph->tp_next_offset;
		}
		if (p->pkt_in_block >= bd->hdr.bh1.num_pkts) {
			__atomic_store_n(
				&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
			p->cur_block = (p->cur_block + 1) % p->n_blocks;
			p->pkt_in_block = 0;
		}
	}
	p->rx += got;
	return got;
}

static unsigned int fd_rx(struct port *p, struct rte_mempool *mp, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail)
{
	unsigned int got = 0;
	uint16_t pre = p->kind == PORT_TUN ? sizeof(struct rte_ether_hdr) : 0;
	while (got < n) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		if (!m) {
			*alloc_fail = true;
			break;
		}
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		ssize_t r = read(p->fd, d + pre, rte_pktmbuf_tailroom(m) - pre);
		if (r <= 0) {
			rte_pktmbuf_free(m);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				p->rx_errors++;
			break;
		}
		rte_pktmbuf_append(m, (uint16_t)(r + pre));
		if (pre) {
			struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
			memset(eth, 0, sizeof(*eth));
			eth->ether_type = (d[pre] >> 4) == 6 ? RTE_BE16(RTE_ETHER_TYPE_IPV6)
							     : RTE_BE16(RTE_ETHER_TYPE_IPV4);
		}
		pkts[got++] = m;
	}
	p->rx += got;
	return got;
}

unsigned int port_rx(struct port *p, struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n,
	bool *alloc_fail)
{
	if (p->kind == PORT_DPDK) {
		uint16_t k = rte_eth_rx_burst(p->eth_port, 0, pkts, (uint16_t)n);
		p->rx += k;
		(void)mp;
		(void)alloc_fail;
		return k;
	}
	if (p->fd < 0)
		return 0;
	if (p->kind == PORT_AF_XDP)
		return port_xdp_rx(p, mp, pkts, n, alloc_fail);
	return p->kind == PORT_AF_PACKET ? afp_rx(p, mp, pkts, n, alloc_fail)
					 : fd_rx(p, mp, pkts, n, alloc_fail);
}

int port_tx(struct port *p, struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	ssize_t w;
	if (p->kind == PORT_DPDK) {
		if (rte_eth_tx_burst(p->eth_port, 0, &m, 1) != 1) {
			p->tx_errors++;
			return -ENOBUFS;
		}
		p->tx++;
		return 1;
	}
	if (p->fd < 0)
		return -ENODEV;
	if (p->kind == PORT_AF_XDP)
		return port_xdp_tx(p, m);
	if (p->kind == PORT_TUN) {
		if (len <= sizeof(struct rte_ether_hdr))
			return -EINVAL;
		d += sizeof(struct rte_ether_hdr);
		len -= sizeof(struct rte_ether_hdr);
		w = write(p->fd, d, len);
	} else if (p->kind == PORT_TAP) {
		w = write(p->fd, d, len);
	} else {
		w = send(p->fd, d, len, MSG_DONTWAIT);
	}
	if (w < 0) {
		p->tx_errors++;
		return -errno;
	}
	p->tx++;
	return 0;
}
