/* SPDX-License-Identifier: Apache-2.0 */
/* The uplink through AF_XDP (libxdp). One socket on queue 0 of the taken uplink, copy mode,
 * generic (skb) XDP so it works on any driver, veth included; libxdp loads its redirect
 * program. The UMEM's frames are split in two: the first half circulates through the fill and
 * RX rings, the second half serves TX (a free list refilled from the completion ring). Frames
 * are copied to and from mbufs of the shared pool, like the AF_PACKET path. */
#include "ioworker_port.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xdp/xsk.h>

#define XDP_FRAMES 4096
#define XDP_FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define XDP_RX_FRAMES (XDP_FRAMES / 2)
#define XDP_RING 2048

struct port_xdp {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	uint8_t *area;
	uint64_t tx_free[XDP_FRAMES - XDP_RX_FRAMES];
	uint32_t n_tx_free;
	uint32_t tx_pending; /* submitted, not kicked */
};

int port_xdp_open(struct port *p)
{
	struct port_xdp *x = calloc(1, sizeof(*x));
	int rc;
	if (!x)
		return -ENOMEM;
	size_t size = (size_t)XDP_FRAMES * XDP_FRAME_SIZE;
	x->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		free(x);
		return -errno;
	}
	const struct xsk_umem_config ucfg = {
		.fill_size = XDP_RING,
		.comp_size = XDP_RING,
		.frame_size = XDP_FRAME_SIZE,
		.frame_headroom = 0,
	};
	rc = xsk_umem__create(&x->umem, x->area, size, &x->fq, &x->cq, &ucfg);
	if (rc)
		goto fail;
	const struct xsk_socket_config scfg = {
		.rx_size = XDP_RING,
		.tx_size = XDP_RING,
		.xdp_flags = XDP_FLAGS_SKB_MODE,
		.bind_flags = XDP_COPY,
	};
	rc = xsk_socket__create(&x->xsk, p->obj.name, 0, x->umem, &x->rx, &x->tx, &scfg);
	if (rc)
		goto fail;
	uint32_t idx;
	if (xsk_ring_prod__reserve(&x->fq, XDP_RX_FRAMES, &idx) != XDP_RX_FRAMES) {
		rc = -ENOSPC;
		goto fail;
	}
	for (uint32_t i = 0; i < XDP_RX_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&x->fq, idx + i) = (uint64_t)i * XDP_FRAME_SIZE;
	xsk_ring_prod__submit(&x->fq, XDP_RX_FRAMES);
	for (uint32_t i = XDP_RX_FRAMES; i < XDP_FRAMES; i++)
		x->tx_free[x->n_tx_free++] = (uint64_t)i * XDP_FRAME_SIZE;
	p->xdp = x;
	p->fd = xsk_socket__fd(x->xsk);
	return 0;
fail:
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	munmap(x->area, size);
	free(x);
	return rc < 0 ? rc : -rc;
}

void port_xdp_close(struct port *p)
{
	struct port_xdp *x = p->xdp;
	if (!x)
		return;
	xsk_socket__delete(x->xsk);
	xsk_umem__delete(x->umem);
	munmap(x->area, (size_t)XDP_FRAMES * XDP_FRAME_SIZE);
	free(x);
	p->xdp = NULL;
	p->fd = -1; /* closed with the socket */
}

bool port_xdp_rx_ready(const struct port *p)
{
	struct port_xdp *x = p->xdp;
	return x && xsk_cons_nb_avail(&x->rx, 1) > 0;
}

unsigned int port_xdp_rx(struct port *p, struct rte_mempool *mp, struct rte_mbuf **pkts,
	unsigned int n, bool *alloc_fail)
{
	struct port_xdp *x = p->xdp;
	uint32_t idx_rx, idx_fq, got = 0;
	unsigned int k = xsk_ring_cons__peek(&x->rx, n, &idx_rx);
	if (k == 0)
		return 0;
	/* Every frame taken goes back to the fill ring: reserve its places first. */
	while (xsk_ring_prod__reserve(&x->fq, k, &idx_fq) != k)
		;
	for (unsigned int i = 0; i < k; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx_rx + i);
		uint64_t addr = xsk_umem__extract_addr(d->addr);
		const uint8_t *data =
			xsk_umem__get_data(x->area, xsk_umem__add_offset_to_addr(d->addr));
		*xsk_ring_prod__fill_addr(&x->fq, idx_fq + i) = addr;
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		if (!m) {
			*alloc_fail = true;
			continue;
		}
		if (d->len > rte_pktmbuf_tailroom(m)) {
			p->truncated++;
			rte_pktmbuf_free(m);
			continue;
		}
		memcpy(rte_pktmbuf_append(m, (uint16_t)d->len), data, d->len);
		pkts[got++] = m;
	}
	xsk_ring_prod__submit(&x->fq, k);
	xsk_ring_cons__release(&x->rx, k);
	p->rx += got;
	return got;
}

static void reclaim_tx(struct port_xdp *x)
{
	uint32_t idx;
	unsigned int k = xsk_ring_cons__peek(&x->cq, XDP_RING, &idx);
	for (unsigned int i = 0; i < k; i++)
		x->tx_free[x->n_tx_free++] = *xsk_ring_cons__comp_addr(&x->cq, idx + i);
	xsk_ring_cons__release(&x->cq, k);
}

void port_xdp_tx(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res)
{
	struct port_xdp *x = p->xdp;
	uint32_t idx = 0;
	unsigned int fit = 0;
	for (unsigned int i = 0; i < n; i++)
		fit += rte_pktmbuf_data_len(pkts[i]) <= XDP_FRAME_SIZE;
	reclaim_tx(x);
	if (fit > x->n_tx_free)
		fit = x->n_tx_free;
	unsigned int k = fit ? xsk_ring_prod__reserve(&x->tx, fit, &idx) : 0;
	unsigned int used = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_data_len(pkts[i]);
		if (len > XDP_FRAME_SIZE) {
			res[i] = -EMSGSIZE;
			p->tx_errors++;
			continue;
		}
		if (used == k) {
			res[i] = -ENOBUFS;
			p->tx_errors++;
			continue;
		}
		uint64_t addr = x->tx_free[--x->n_tx_free];
		memcpy(xsk_umem__get_data(x->area, addr), rte_pktmbuf_mtod(pkts[i], void *), len);
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + used);
		d->addr = addr;
		d->len = len;
		used++;
		res[i] = 0;
		p->tx++;
	}
	if (used)
		xsk_ring_prod__submit(&x->tx, used);
	/* Copy mode sends on a kick: one per burst (also to complete what waits when full). */
	if (n && sendto(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		errno != EAGAIN && errno != EBUSY && errno != ENOBUFS)
		p->tx_errors++;
}

uint64_t port_xdp_kernel_drops(const struct port *p)
{
	struct xdp_statistics st;
	socklen_t len = sizeof(st);
	if (!p->xdp ||
		getsockopt(xsk_socket__fd(p->xdp->xsk), SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
		return 0;
	/* rx_dropped: frames the kernel could not place in the UMEM, too large ones above all. */
	return st.rx_dropped;
}
