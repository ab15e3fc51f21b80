/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's kernel-facing ports. The uplink through AF_PACKET (frames read one by one,
 * sent in sendmmsg bursts with the qdisc bypassed), AF_XDP or a DPDK ethdev; the host tap and
 * pod tuns through their file descriptors. Every frame is copied into an mbuf from the shared pool; pod tun packets
 * get an Ethernet header on RX (and lose it on TX) so the pipeline sees one frame format.
 * All fds are also in one epoll set, so the idle sleep waits on a single descriptor.
 *
 * Offloads (pl_offload.h): tuns and the tap run with IFF_VNET_HDR and TUNSETOFFLOAD (checksum,
 * TSO4/6, USO4/6), the AF_PACKET uplink with PACKET_VNET_HDR, so the kernel hands over and
 * takes super-packets with partial checksums; a frame larger than a 2 KB buffer is read into a
 * 64 KB one. AF_XDP and DPDK ports take no super-packet: port_flush segments and checksums in
 * software for them. */
#ifndef IOWORKER_PORT_H
#define IOWORKER_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "pl_objects.h"

enum port_kind {
	PORT_AF_PACKET,
	PORT_TAP,
	PORT_TUN,
	PORT_AF_XDP,
	PORT_DPDK,
};

struct port_xdp;
struct port;
struct port_bufs;

/* What a kind of port does, one table per kind (ioworker_port.c); callers never test kinds. */
struct port_ops {
	const char *name;
	bool polled; /* an uplink kind: io-worker polls it every loop (not through epoll) */
	bool offload; /* takes super-packets and partial checksums whole (virtio_net_hdr) */
	bool no_descriptor; /* nothing to sleep on: io-worker's sleep is capped at 1 ms */
	int (*open)(struct port *p);
	void (*close)(struct port *p);
	/* May have frames to receive without blocking. */
	bool (*rx_ready)(const struct port *p);
	unsigned int (*rx)(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts,
		unsigned int n, bool *alloc_fail);
	/* Sends frames that need no offload it lacks; res[i] as for port_flush. */
	void (*tx)(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res);
	/* Frames the kernel dropped before the port saw them, cumulative (NULL: none known). */
	uint64_t (*kernel_drops)(const struct port *p);
};

/* Buffers ports receive into: the 2 KB pool, the 64 KB pool for super-packets, and one big
 * buffer kept ready for the next read of a file-descriptor port (io-worker's, tagged so). */
struct port_bufs {
	struct rte_mempool *small;
	struct rte_mempool *big;
	struct rte_mbuf *spare;
};

#define PORT_TXQ 64

struct port {
	uint16_t index;
	uint8_t kind; /* enum port_kind */
	const struct port_ops *ops;
	struct pl_obj_iface obj; /* what the control plane says about it */
	int fd;
	struct port_xdp *xdp; /* AF_XDP state */
	uint16_t eth_port; /* PORT_DPDK: the ethdev the supervisor probed */
	/* counters (process-local, summed into the shared block by the caller) */
	uint64_t rx, tx, rx_errors, tx_errors, truncated;
	uint64_t bad_offload; /* received with a virtio_net_hdr that does not fit the frame */
	uint64_t segmented; /* super-packets cut into segments in software for this port */
	/* frames waiting for the next port_flush (one system call per burst where the kind
	 * allows it: sendmmsg, one AF_XDP kick, one ethdev burst) */
	struct rte_mbuf *txq[PORT_TXQ];
	unsigned int n_txq;
	uint64_t kernel_drops; /* AF_XDP: last XDP_STATISTICS rx_dropped seen */
};

/* PORT_DPDK needs the devargs the supervisor probed, to attach as a secondary. */
void port_set_dpdk_devargs(const char *devargs);
/* Opens a port for the object (uplink: AF_PACKET on o->name; host: the tap; pod: the tun in
 * o->netns). Returns 0 or -errno. */
int port_open(struct port *p, const struct pl_obj_iface *o);
void port_close(struct port *p);
/* Kinds whose port is one file descriptor (AF_PACKET, tap, tun): the supervisor keeps a
 * duplicate of it (pl_fdstore.h) so that its queue outlives io-worker. */
bool port_kind_has_fd(uint8_t kind);
/* As port_open, on a descriptor a predecessor opened (from the store) for the same object;
 * -EINVAL when the object would now be a port of another kind. Takes fd: the port's on
 * success, closed on failure. */
int port_adopt(struct port *p, const struct pl_obj_iface *o, uint8_t kind, int fd);
/* Receives up to n frames into freshly allocated mbufs. Returns how many; *alloc_fail set
 * when a pool ran dry. Frames whose offload header does not fit are freed and counted in
 * bad_offload, oversized ones in truncated. */
unsigned int port_rx(struct port *p, struct port_bufs *b, struct rte_mbuf **pkts, unsigned int n,
	bool *alloc_fail);
/* Results of a transmission, per frame. */
#define PORT_TX_SENT 0 /* sent; the mbuf stays with the caller */
#define PORT_TX_TAKEN 1 /* sent; the device took the mbuf (DPDK ethdev frees it) */
#define PORT_TX_SEGMENTED 2 /* sent as segments cut in software; the mbuf stays with the caller */
/* Queues a frame for the port's next flush; false when the queue is full (flush first). */
static inline bool port_queue(struct port *p, struct rte_mbuf *m)
{
	if (p->n_txq == PORT_TXQ)
		return false;
	p->txq[p->n_txq++] = m;
	return true;
}
/* Transmits the queued frames in one burst (a super-packet whole, or as segments from b->small
 * where the kind cannot take it); res[i] is PORT_TX_* or -errno (not sent, the mbuf stays with
 * the caller) for txq[i]. Returns how many there were; the queue is empty afterwards. */
unsigned int port_flush(struct port *p, struct port_bufs *b, struct rte_mbuf **sent, int *res);
/* True when the port may have frames to receive without blocking. */
bool port_rx_ready(const struct port *p);

/* AF_XDP (ioworker_xdp.c), used by the port_* functions for PORT_AF_XDP. */
int port_xdp_open(struct port *p);
void port_xdp_close(struct port *p);
bool port_xdp_rx_ready(const struct port *p);
unsigned int port_xdp_rx(struct port *p, struct rte_mempool *mp, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail);
void port_xdp_tx(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res);
/* Frames the kernel dropped before the socket could take them (XDP_STATISTICS rx_dropped). */
uint64_t port_xdp_kernel_drops(const struct port *p);

#endif
