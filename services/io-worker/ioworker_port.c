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

/* Tun and tap: a virtio_net_hdr on every read and write, and what the kernel may hand us:
 * partial checksums, TCP and (kernel >= 6.2) UDP super-packets. No TSO_ECN: the kernel
 * segments the rare CWR-marked burst itself. */
static int fd_offload(struct port *p)
{
	unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6;
	if (ioctl(p->fd, TUNSETOFFLOAD, off) < 0 &&
		ioctl(p->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		int rc = -errno;
		close(p->fd);
		p->fd = -1;
		return rc;
	}
	p->vnet = true;
	return 0;
}

static int tap_open(struct port *p)
{
	int rc = pl_nl_tuntap_open(p->obj.name, IFF_TAP | IFF_VNET_HDR);
	if (rc < 0)
		return rc;
	p->fd = rc;
	return fd_offload(p);
}

static int tun_open(struct port *p)
{
	int rc = pl_nl_pod_tun_open(p->obj.netns, p->obj.name, IFF_VNET_HDR);
	if (rc < 0)
		return rc;
	p->fd = rc;
	return fd_offload(p);
}

static void fd_close(struct port *p)
{
	if (p->ring)
		munmap(p->ring, p->ring_size);
	p->ring = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void dpdk_close(struct port *p)
{
	(void)p; /* the supervisor owns the ethdev */
}

static const struct port_ops afp_ops, xdp_ops, dpdk_ops, tap_ops, tun_ops;

int port_open(struct port *p, const struct pl_obj_iface *o)
{
	memset(p, 0, sizeof(*p));
	p->obj = *o;
	p->index = o->index;
	p->fd = -1;
	switch (o->role) {
	case PL_ROLE_UPLINK:
		if (strcmp(o->driver, "af_xdp") == 0) {
			p->kind = PORT_AF_XDP;
			p->ops = &xdp_ops;
		} else if (strcmp(o->driver, "dpdk") == 0) {
			p->kind = PORT_DPDK;
			p->ops = &dpdk_ops;
		} else {
			p->kind = PORT_AF_PACKET;
			p->ops = &afp_ops;
		}
		break;
	case PL_ROLE_HOST:
		p->kind = PORT_TAP;
		p->ops = &tap_ops;
		break;
	case PL_ROLE_POD:
		p->kind = PORT_TUN;
		p->ops = &tun_ops;
		break;
	default:
		return -EINVAL;
	}
	return p->ops->open(p);
}

void port_close(struct port *p)
{
	p->ops->close(p);
}

static struct tpacket_block_desc *afp_block(const struct port *p, uint32_t i)
{
	return (struct tpacket_block_desc *)(p->ring + (size_t)i * p->block_size);
}

static bool afp_rx_ready(const struct port *p)
{
	const struct tpacket_block_desc *bd = afp_block(p, p->cur_block);
	return (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

static bool always_ready(const struct port *p)
{
	(void)p; /* an fd in io-worker's epoll set, or a device without a descriptor */
	return true;
}

bool port_rx_ready(const struct port *p)
{
	return p->ops->rx_ready(p);
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

static unsigned int dpdk_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail)
{
	(void)b;
	(void)alloc_fail;
	uint16_t k = rte_eth_rx_burst(p->eth_port, 0, pkts, (uint16_t)n);
	p->rx += k;
	return k;
}

static unsigned int xdp_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail)
{
	return port_xdp_rx(p, b->small, pkts, n, alloc_fail);
}

unsigned int port_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts, unsigned int n,
	bool *alloc_fail)
{
	if (p->kind != PORT_DPDK && p->fd < 0)
		return 0;
	return p->ops->rx(p, b, pkts, n, alloc_fail);
}

static void dpdk_tx(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res)
{
	uint16_t k = rte_eth_tx_burst(p->eth_port, 0, pkts, (uint16_t)n);
	for (unsigned int i = 0; i < n; i++)
		res[i] = i < k ? PORT_TX_TAKEN : -ENOBUFS;
	p->tx += k;
	p->tx_errors += n - k;
}

/* The virtio_net_hdr + frame of m as two iovecs (strip: bytes the device does not get). */
static void vnet_iov(
	const struct rte_mbuf *m, size_t strip, struct virtio_net_hdr *vh, struct iovec *iov)
{
	pl_offload_to_vnet(m, vh, (uint32_t)strip);
	iov[0] = (struct iovec){ .iov_base = vh, .iov_len = sizeof(*vh) };
	iov[1] = (struct iovec){
		.iov_base = rte_pktmbuf_mtod_offset(m, uint8_t *, strip),
		.iov_len = rte_pktmbuf_data_len(m) - strip,
	};
}

/* Tun and tap: one writev per frame (a tun has no batched write). */
static void fd_tx(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res)
{
	size_t strip = p->kind == PORT_TUN ? sizeof(struct rte_ether_hdr) : 0;
	for (unsigned int i = 0; i < n; i++) {
		struct virtio_net_hdr vh;
		struct iovec iov[2];
		if (rte_pktmbuf_data_len(pkts[i]) <= strip) {
			res[i] = -EINVAL;
			continue;
		}
		vnet_iov(pkts[i], strip, &vh, iov);
		if (writev(p->fd, iov, 2) < 0) {
			res[i] = -errno;
			p->tx_errors++;
		} else {
			res[i] = PORT_TX_SENT;
			p->tx++;
		}
	}
}

/* AF_PACKET: the whole burst in sendmmsg calls. */
static void afp_tx(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res)
{
	struct virtio_net_hdr vh[PORT_TXQ];
	struct iovec iov[PORT_TXQ][2];
	struct mmsghdr mm[PORT_TXQ];
	unsigned int k = 0;
	for (unsigned int i = 0; i < n && k < PORT_TXQ; i++) {
		if (p->vnet) {
			vnet_iov(pkts[i], 0, &vh[k], iov[k]);
		} else if (pl_offload_gso(pkts[i]) || pl_offload_csum_complete(pkts[i]) < 0) {
			res[i] =
				-EMSGSIZE; /* no PACKET_VNET_HDR (an old kernel): no super-packet */
			p->tx_errors++;
			continue;
		} else {
			iov[k][0] = (struct iovec){
				.iov_base = rte_pktmbuf_mtod(pkts[i], void *),
				.iov_len = rte_pktmbuf_data_len(pkts[i]),
			};
		}
		mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = iov[k],
						  .msg_iovlen = p->vnet ? 2 : 1 } };
		res[i] = i; /* position in mm, resolved below */
		k++;
	}
	int done[PORT_TXQ];
	unsigned int at = 0;
	while (at < k) {
		int r = sendmmsg(p->fd, &mm[at], k - at, MSG_DONTWAIT);
		if (r <= 0) {
			done[at++] = r < 0 ? -errno : -EIO;
			continue;
		}
		for (int j = 0; j < r; j++)
			done[at++] = PORT_TX_SENT;
	}
	for (unsigned int i = 0, j = 0; i < n; i++) {
		if (res[i] < 0)
			continue;
		res[i] = done[j++];
		if (res[i] < 0)
			p->tx_errors++;
		else
			p->tx++;
	}
}

#define MAX_SEGMENTS 128

unsigned int port_flush(struct port *p, struct port_bufs *b, struct rte_mbuf **sent, int *res)
{
	unsigned int n = p->n_txq;
	p->n_txq = 0;
	memcpy(sent, p->txq, n * sizeof(*sent));
	if (n == 0)
		return 0;
	if (p->kind != PORT_DPDK && p->fd < 0) { /* closed meanwhile */
		for (unsigned int i = 0; i < n; i++)
			res[i] = -ENODEV;
		return n;
	}
	if (p->ops->offload) {
		p->ops->tx(p, sent, n, res);
		return n;
	}
	/* A kind without offloads: checksums completed, super-packets cut, here. */
	unsigned int i = 0;
	while (i < n) {
		unsigned int j = i;
		while (j < n && !pl_offload_gso(sent[j])) {
			if (pl_offload_csum_complete(sent[j]) < 0)
				break;
			j++;
		}
		if (j > i) { /* a run of ordinary frames: one burst */
			p->ops->tx(p, &sent[i], j - i, &res[i]);
			i = j;
			continue;
		}
		struct rte_mbuf *segs[MAX_SEGMENTS];
		int segres[MAX_SEGMENTS];
		int k = pl_offload_gso(sent[i])
				? pl_offload_segment(sent[i], b->small, segs, MAX_SEGMENTS)
				: -EINVAL;
		if (k < 0) {
			res[i++] = k;
			p->tx_errors++;
			continue;
		}
		p->segmented++;
		p->ops->tx(p, segs, (unsigned int)k, segres);
		int ok = 0;
		for (int s = 0; s < k; s++) {
			ok += segres[s] >= 0;
			if (segres[s] != PORT_TX_TAKEN)
				rte_pktmbuf_free(segs[s]);
		}
		res[i++] = ok ? PORT_TX_SEGMENTED : -ENOBUFS;
	}
	return n;
}

static const struct port_ops afp_ops = {
	.name = "af_packet",
	.polled = true,
	.offload = true,
	.open = afp_open,
	.close = fd_close,
	.rx_ready = afp_rx_ready,
	.rx = afp_rx,
	.tx = afp_tx,
};
static const struct port_ops xdp_ops = {
	.name = "af_xdp",
	.polled = true,
	.offload = false,
	.open = port_xdp_open,
	.close = port_xdp_close,
	.rx_ready = port_xdp_rx_ready,
	.rx = xdp_rx,
	.tx = port_xdp_tx,
};
static const struct port_ops dpdk_ops = {
	.name = "dpdk",
	.polled = true,
	.offload = false,
	.open = dpdk_open,
	.close = dpdk_close,
	.rx_ready = always_ready,
	.rx = dpdk_rx,
	.tx = dpdk_tx,
};
static const struct port_ops tap_ops = {
	.name = "tap",
	.offload = true,
	.open = tap_open,
	.close = fd_close,
	.rx_ready = always_ready,
	.rx = fd_rx,
	.tx = fd_tx,
};
static const struct port_ops tun_ops = {
	.name = "tun",
	.offload = true,
	.open = tun_open,
	.close = fd_close,
	.rx_ready = always_ready,
	.rx = fd_rx,
	.tx = fd_tx,
};
