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
#include <sys/uio.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pl_config.h"
#include "pl_netlink.h"
#include "pl_offload.h"

/* UDP segmentation offload on tun (kernel 6.2); Debian 12's headers predate it. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

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
	/* Super-packets and partial checksums in both directions (before the ring: the kernel
	 * refuses it after). Without it the kernel segments for us and we complete checksums. */
	p->vnet = setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) == 0;
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
		rc = pl_nl_tuntap_open(o->name, IFF_TAP | IFF_VNET_HDR);
		break;
	case PL_ROLE_POD:
		p->kind = PORT_TUN;
		rc = pl_nl_pod_tun_open(o->netns, o->name, IFF_VNET_HDR);
		break;
	default:
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	p->fd = rc;
	p->vnet = true;
	/* What the kernel may hand us: partial checksums, TCP and (kernel >= 6.2) UDP
	 * super-packets. No TSO_ECN: the kernel segments the rare CWR-marked burst itself. */
	unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
	if (ioctl(p->fd, TUNSETOFFLOAD, off) < 0 &&
		ioctl(p->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		rc = -errno;
		close(p->fd);
		p->fd = -1;
		return rc;
	}
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

/* A frame that is not a super-packet is at most the port's MTU plus the Ethernet header (and a
 * VLAN tag): what a NIC would let through. Larger ones are counted as oversize. */
static bool frame_fits(const struct port *p, const struct rte_mbuf *m)
{
	uint32_t mtu = p->obj.mtu ? p->obj.mtu : 1500;
	return pl_offload_gso(m) || m->data_len <= mtu + sizeof(struct rte_ether_hdr) + 4;
}

/* A fresh buffer for a frame of len bytes: a 2 KB one, or a 64 KB one for a super-packet. */
static struct rte_mbuf *buf_for(struct port_bufs *b, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(b->small);
	if (m && len > rte_pktmbuf_tailroom(m)) {
		rte_pktmbuf_free(m);
		m = rte_pktmbuf_alloc(b->big);
	}
	return m;
}

static unsigned int afp_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts,
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
			struct rte_mbuf *m = buf_for(b, ph->tp_snaplen);
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
				if (p->vnet) {
					/* The kernel puts the header right before the frame. */
					struct virtio_net_hdr vh;
					memcpy(&vh, (uint8_t *)ph + ph->tp_mac - sizeof(vh),
						sizeof(vh));
					if (pl_offload_from_vnet(m, &vh, 0) < 0) {
						p->bad_offload++;
						rte_pktmbuf_free(m);
						m = NULL;
					} else if (!frame_fits(p, m)) {
						p->truncated++;
						rte_pktmbuf_free(m);
						m = NULL;
					}
				} else if (ph->tp_status & TP_STATUS_CSUMNOTREADY) {
					fix_l4_csum(m);
				}
				if (m)
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

/* Reads from a tun/tap with IFF_VNET_HDR: into a 2 KB buffer, overflowing into the spare 64 KB
 * one, so that a small frame costs no copy and a super-packet one copy of its first 2 KB. */
static unsigned int fd_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail)
{
	unsigned int got = 0;
	uint16_t pre = p->kind == PORT_TUN ? sizeof(struct rte_ether_hdr) : 0;
	while (got < n) {
		if (!b->spare && !(b->spare = rte_pktmbuf_alloc(b->big))) {
			*alloc_fail = true; /* the kernel keeps the frames meanwhile */
			break;
		}
		struct rte_mbuf *m = rte_pktmbuf_alloc(b->small);
		if (!m) {
			*alloc_fail = true;
			break;
		}
		struct virtio_net_hdr vh;
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		uint8_t *bd = rte_pktmbuf_mtod(b->spare, uint8_t *);
		uint32_t room = rte_pktmbuf_tailroom(m), big_room = rte_pktmbuf_tailroom(b->spare);
		struct iovec iov[3] = {
			{ .iov_base = &vh, .iov_len = sizeof(vh) },
			{ .iov_base = d + pre, .iov_len = room - pre },
			{ .iov_base = bd + room, .iov_len = big_room - room },
		};
		ssize_t r = readv(p->fd, iov, 3);
		if (r <= 0) {
			rte_pktmbuf_free(m);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				p->rx_errors++;
			break;
		}
		if ((size_t)r < sizeof(vh)) {
			rte_pktmbuf_free(m);
			p->rx_errors++;
			continue;
		}
		uint32_t len = (uint32_t)((size_t)r - sizeof(vh)) + pre;
		if (len >= big_room) { /* may have been cut short: never forward a part */
			rte_pktmbuf_free(m);
			p->truncated++;
			continue;
		}
		if (len > room) {
			memcpy(bd, d, room);
			rte_pktmbuf_free(m);
			m = b->spare;
			b->spare = NULL;
		}
		rte_pktmbuf_append(m, (uint16_t)len);
		if (pre) {
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
			memset(eth, 0, sizeof(*eth));
			eth->ether_type = (((uint8_t *)eth)[pre] >> 4) == 6
						  ? RTE_BE16(RTE_ETHER_TYPE_IPV6)
						  : RTE_BE16(RTE_ETHER_TYPE_IPV4);
		}
		if (pl_offload_from_vnet(m, &vh, pre) < 0) {
			p->bad_offload++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (!frame_fits(p, m)) {
			p->truncated++;
			rte_pktmbuf_free(m);
			continue;
		}
		pkts[got++] = m;
	}
	p->rx += got;
	return got;
}

unsigned int port_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts, unsigned int n,
	bool *alloc_fail)
{
	if (p->kind == PORT_DPDK) {
		uint16_t k = rte_eth_rx_burst(p->eth_port, 0, pkts, (uint16_t)n);
		p->rx += k;
		(void)alloc_fail;
		return k;
	}
	if (p->fd < 0)
		return 0;
	if (p->kind == PORT_AF_XDP)
		return port_xdp_rx(p, b->small, pkts, n, alloc_fail);
	return p->kind == PORT_AF_PACKET ? afp_rx(p, b, pkts, n, alloc_fail)
					 : fd_rx(p, b, pkts, n, alloc_fail);
}

/* One frame to a port that takes no super-packet and no partial checksum. */
static int tx_plain(struct port *p, struct rte_mbuf *m)
{
	if (p->kind == PORT_DPDK) {
		if (rte_eth_tx_burst(p->eth_port, 0, &m, 1) != 1) {
			p->tx_errors++;
			return -ENOBUFS;
		}
		p->tx++;
		return 1;
	}
	return port_xdp_tx(p, m);
}

#define MAX_SEGMENTS 128

/* A super-packet to a port without segmentation offload: cut here, each segment sent alone. */
static int tx_segments(struct port *p, struct port_bufs *b, struct rte_mbuf *m)
{
	struct rte_mbuf *segs[MAX_SEGMENTS];
	int n = pl_offload_segment(m, b->small, segs, MAX_SEGMENTS);
	if (n < 0) {
		p->tx_errors++;
		return n;
	}
	p->segmented++;
	int sent = 0;
	for (int i = 0; i < n; i++) {
		int rc = tx_plain(p, segs[i]);
		if (rc >= 0)
			sent++;
		if (rc != 1)
			rte_pktmbuf_free(segs[i]);
	}
	return sent ? 0 : -ENOBUFS;
}

int port_tx(struct port *p, struct port_bufs *b, struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	ssize_t w;
	if (p->kind == PORT_DPDK || p->kind == PORT_AF_XDP) {
		if (p->kind == PORT_AF_XDP && p->fd < 0)
			return -ENODEV;
		if (pl_offload_gso(m))
			return tx_segments(p, b, m);
		if (pl_offload_csum_complete(m) < 0) {
			p->tx_errors++;
			return -EINVAL;
		}
		return tx_plain(p, m);
	}
	if (p->fd < 0)
		return -ENODEV;
	size_t strip = p->kind == PORT_TUN ? sizeof(struct rte_ether_hdr) : 0;
	if (len <= strip)
		return -EINVAL;
	if (!p->vnet) {
		/* AF_PACKET without PACKET_VNET_HDR (an old kernel): no offload either way. */
		if (pl_offload_gso(m)) {
			p->tx_errors++;
			return -EMSGSIZE;
		}
		if (pl_offload_csum_complete(m) < 0)
			return -EINVAL;
		w = send(p->fd, d, len, MSG_DONTWAIT);
	} else {
		struct virtio_net_hdr vh;
		pl_offload_to_vnet(m, &vh, (uint32_t)strip);
		struct iovec iov[2] = {
			{ .iov_base = &vh, .iov_len = sizeof(vh) },
			{ .iov_base = (void *)(d + strip), .iov_len = len - strip },
		};
		if (p->kind == PORT_AF_PACKET) {
			struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
			w = sendmsg(p->fd, &mh, MSG_DONTWAIT);
		} else {
			w = writev(p->fd, iov, 2);
		}
	}
	if (w < 0) {
		p->tx_errors++;
		return -errno;
	}
	p->tx++;
	return 0;
}
