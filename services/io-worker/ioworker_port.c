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

/* Room for bursts of super-packets between two reads (the default is ~200 KB: three). */
#define AFP_RCVBUF (8 << 20)

/* The uplink's AF_PACKET socket. Frames are read one by one into mbufs (readv, as for a tun):
 * unlike a TPACKET_V3 ring, whose blocks reach the reader only when full or after their 1 ms
 * timeout, a frame is readable the moment it arrives, and a 64 KB super-packet lands in one
 * buffer. PACKET_VNET_HDR (both ways) gives super-packets and partial checksums. */
static int afp_open(struct port *p)
{
	unsigned int ifindex = if_nametoindex(p->obj.name);
	if (!ifindex)
		return -ENODEV;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	int one = 1, rcvbuf = AFP_RCVBUF;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)ifindex,
	};
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
		bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* Not fatal where unsupported (RCVBUFFORCE needs CAP_NET_ADMIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	p->fd = fd;
	return 0;
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
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void dpdk_close(struct port *p)
{
	(void)p; /* the supervisor owns the ethdev */
}

static const struct port_ops afp_ops, xdp_ops, dpdk_ops, tap_ops, tun_ops;

static int port_init(struct port *p, const struct pl_obj_iface *o)
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
	return 0;
}

int port_open(struct port *p, const struct pl_obj_iface *o)
{
	int rc = port_init(p, o);
	return rc < 0 ? rc : p->ops->open(p);
}

bool port_kind_has_fd(uint8_t kind)
{
	return kind == PORT_AF_PACKET || kind == PORT_TAP || kind == PORT_TUN;
}

int port_adopt(struct port *p, const struct pl_obj_iface *o, uint8_t kind, int fd)
{
	int rc = port_init(p, o);
	if (rc == 0 && (p->kind != kind || !port_kind_has_fd(kind)))
		rc = -EINVAL;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	p->fd = fd;
	if (kind == PORT_AF_PACKET)
		return 0;
	/* The same offloads as at the open: idempotent on the device (closes fd on failure). */
	return fd_offload(p);
}

void port_close(struct port *p)
{
	p->ops->close(p);
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

/* A frame that is not a super-packet is at most the port's MTU plus the Ethernet header (and a
 * VLAN tag): what a NIC would let through. Larger ones are counted as oversize. */
static bool frame_fits(const struct port *p, const struct rte_mbuf *m)
{
	uint32_t mtu = p->obj.mtu ? p->obj.mtu : 1500;
	return pl_offload_gso(m) || m->data_len <= mtu + sizeof(struct rte_ether_hdr) + 4;
}

/* Reads from a tun/tap with IFF_VNET_HDR or an AF_PACKET socket with PACKET_VNET_HDR: into a
 * 2 KB buffer, overflowing into the spare 64 KB one, so that a small frame costs no copy and a
 * super-packet one copy of its first 2 KB. */
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
		vnet_iov(pkts[i], 0, &vh[k], iov[k]);
		mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = iov[k], .msg_iovlen = 2 } };
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
	.polled = false, /* its socket is in the epoll set */
	.offload = true,
	.open = afp_open,
	.close = fd_close,
	.rx_ready = always_ready,
	.rx = fd_rx,
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
	.kernel_drops = port_xdp_kernel_drops,
};
static const struct port_ops dpdk_ops = {
	.name = "dpdk",
	.polled = true,
	.offload = false,
	.no_descriptor = true,
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
