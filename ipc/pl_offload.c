/* SPDX-License-Identifier: Apache-2.0 */
/* Segmentation and checksum offload: virtio_net_hdr <-> mbuf offload fields, software checksum
 * completion and segmentation (see pl_offload.h). */
#include "pl_offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pl_dp.h"

#define ETH_LEN ((uint32_t)sizeof(struct rte_ether_hdr))
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static bool is_tcp(uint64_t f)
{
	return (f & RTE_MBUF_F_TX_TCP_SEG) ||
	       (f & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM;
}

/* Completes the checksum whose sum starts at `start` and goes into start + off. `mangle_0`
 * writes a checksum of 0 as 0xffff, the same one's-complement zero (UDP: 0 means none). */
static void csum_fill(uint8_t *d, uint32_t len, uint32_t start, uint32_t off, bool mangle_0)
{
	uint16_t c = (uint16_t)~rte_raw_cksum(d + start, len - start);
	if (c == 0 && mangle_0)
		c = 0xffff;
	memcpy(d + start + off, &c, sizeof(c));
}

int pl_offload_from_vnet(struct rte_mbuf *m, const struct virtio_net_hdr *vh, uint32_t l2_off)
{
	uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = m->data_len;

	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return gso == VIRTIO_NET_HDR_GSO_NONE ? 0 : -EINVAL;
	if (m->nb_segs != 1 || len < ETH_LEN + sizeof(struct rte_ipv4_hdr))
		return -EINVAL;
	uint32_t start = (uint32_t)vh->csum_start + l2_off, off = vh->csum_offset;
	uint16_t et = ((const struct rte_ether_hdr *)d)->ether_type;
	uint32_t l3_len;
	uint8_t proto;
	bool v4;
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(d + ETH_LEN);
		l3_len = (ip->version_ihl & 0xfu) * 4u;
		if ((ip->version_ihl >> 4) != 4 || l3_len < sizeof(*ip) || ETH_LEN + l3_len > len)
			return -EINVAL;
		/* A fragment carries no whole transport header to offload. */
		if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG))
			return -EINVAL;
		proto = ip->next_proto_id;
		v4 = true;
	} else if (et == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
		if (len < ETH_LEN + sizeof(struct rte_ipv6_hdr))
			return -EINVAL;
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(d + ETH_LEN);
		l3_len = sizeof(*ip);
		proto = ip->proto;
		v4 = false;
	} else {
		return -EINVAL;
	}
	bool tcp = proto == IPPROTO_TCP && off == TCP_CSUM_OFF;
	bool udp = proto == IPPROTO_UDP && off == UDP_CSUM_OFF;
	if (start != ETH_LEN + l3_len || (!tcp && !udp)) {
		/* Not a header the stages know where to find: finish it here, as the kernel's
		 * skb_checksum_help would, 0 written as 0xffff (the protocol is not known here
		 * and may be UDP, for which 0 means none). */
		if (gso != VIRTIO_NET_HDR_GSO_NONE || start < ETH_LEN || start >= len ||
			off + 2 > len - start)
			return -EINVAL;
		csum_fill(d, len, start, off, true);
		return 0;
	}
	uint32_t l4_len = sizeof(struct rte_udp_hdr);
	if (tcp) {
		if (start + sizeof(struct rte_tcp_hdr) > len)
			return -EINVAL;
		l4_len = (uint32_t)(((const struct rte_tcp_hdr *)(d + start))->data_off >> 4) * 4u;
		if (l4_len < sizeof(struct rte_tcp_hdr))
			return -EINVAL;
	}
	if (start + l4_len > len)
		return -EINVAL;
	uint64_t f = (v4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6) |
		     (tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM);
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!tcp || v4 != (gso == VIRTIO_NET_HDR_GSO_TCPV4) || vh->gso_size == 0)
			return -EINVAL;
		f |= RTE_MBUF_F_TX_TCP_SEG;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (!udp || vh->gso_size == 0)
			return -EINVAL;
		f |= RTE_MBUF_F_TX_UDP_SEG;
		break;
	default:
		return -EINVAL; /* UFO (IP fragmentation offload) and unknown kinds */
	}
	m->ol_flags = (m->ol_flags & ~(uint64_t)PL_OFFLOAD_FLAGS) | f;
	m->l2_len = ETH_LEN;
	m->l3_len = l3_len;
	m->l4_len = l4_len;
	m->tso_segsz = (f & PL_OFFLOAD_SEG_FLAGS) ? vh->gso_size : 0;
	return 0;
}

void pl_offload_to_vnet(const struct rte_mbuf *m, struct virtio_net_hdr *vh, uint32_t strip)
{
	uint64_t f = m->ol_flags;
	memset(vh, 0, sizeof(*vh));
	if (!pl_offload_partial(m))
		return;
	bool tcp = is_tcp(f);
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->csum_start = (uint16_t)(m->l2_len + m->l3_len - strip);
	vh->csum_offset = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	if (!(f & PL_OFFLOAD_SEG_FLAGS))
		return;
	if (tcp)
		vh->gso_type = (f & RTE_MBUF_F_TX_IPV6) ? VIRTIO_NET_HDR_GSO_TCPV6
							: VIRTIO_NET_HDR_GSO_TCPV4;
	else
		vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	vh->gso_size = m->tso_segsz;
	vh->hdr_len = (uint16_t)(m->l2_len + m->l3_len + m->l4_len - strip);
}

int pl_offload_csum_complete(struct rte_mbuf *m)
{
	if (!pl_offload_partial(m))
		return 0;
	if (pl_offload_gso(m) || m->nb_segs != 1)
		return -EINVAL;
	bool tcp = is_tcp(m->ol_flags);
	uint32_t start = (uint32_t)m->l2_len + m->l3_len, off = tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	uint32_t len = m->data_len;
	if (start >= len || off + 2 > len - start)
		return -EINVAL;
	csum_fill(rte_pktmbuf_mtod(m, uint8_t *), len, start, off, !tcp);
	pl_offload_clear(m);
	return 0;
}

int pl_offload_segment(
	struct rte_mbuf *m, struct rte_mempool *mp, struct rte_mbuf **out, unsigned int max)
{
	uint64_t f = m->ol_flags;
	if (!pl_offload_gso(m) || m->nb_segs != 1 || m->tso_segsz == 0)
		return -EINVAL;
	bool tcp = is_tcp(f), v4 = (f & RTE_MBUF_F_TX_IPV4) != 0;
	uint32_t hdr = (uint32_t)m->l2_len + m->l3_len + m->l4_len, len = m->data_len;
	uint32_t mss = m->tso_segsz;
	if (hdr > len || m->l2_len != ETH_LEN)
		return -EINVAL;
	if (hdr + mss > (uint32_t)rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM)
		return -EMSGSIZE;
	uint32_t payload = len - hdr;
	unsigned int n = payload ? (payload + mss - 1) / mss : 1;
	if (n > max)
		return -ENOSPC;
	if (rte_pktmbuf_alloc_bulk(mp, out, n) < 0)
		return -ENOBUFS;

	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t l4_off = (uint32_t)m->l2_len + m->l3_len;
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(d + l4_off);
	const struct rte_ipv4_hdr *ip4 = (const struct rte_ipv4_hdr *)(d + ETH_LEN);
	uint32_t seq = tcp ? rte_be_to_cpu_32(th->sent_seq) : 0;
	uint16_t id = v4 ? rte_be_to_cpu_16(ip4->packet_id) : 0;
	for (unsigned int i = 0; i < n; i++) {
		uint32_t seg = payload - i * mss < mss ? payload - i * mss : mss;
		struct rte_mbuf *s = out[i];
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(s, (uint16_t)(hdr + seg));
		memcpy(p, d, hdr);
		memcpy(p + hdr, d + hdr + (size_t)i * mss, seg);
		*pl_meta(s) = *pl_meta(m);
		s->l2_len = m->l2_len;
		s->l3_len = m->l3_len;
		s->l4_len = m->l4_len;
		uint32_t l4_bytes = m->l4_len + seg;
		uint32_t phdr;
		if (v4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + ETH_LEN);
			ip->total_length = rte_cpu_to_be_16((uint16_t)(m->l3_len + l4_bytes));
			ip->packet_id = rte_cpu_to_be_16((uint16_t)(id + i));
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
			phdr = rte_ipv4_phdr_cksum(ip, 0);
		} else {
			struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(p + ETH_LEN);
			ip->payload_len =
				rte_cpu_to_be_16((uint16_t)(m->l3_len - sizeof(*ip) + l4_bytes));
			struct rte_ipv6_hdr ph =
				*ip; /* the pseudo-header counts the L4 bytes only */
			ph.payload_len = rte_cpu_to_be_16((uint16_t)l4_bytes);
			ph.proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
			phdr = rte_ipv6_phdr_cksum(&ph, 0);
		}
		uint32_t csum_off;
		if (tcp) {
			struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(p + l4_off);
			t->sent_seq = rte_cpu_to_be_32(seq + i * mss);
			if (i + 1 < n)
				t->tcp_flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
			if (i > 0)
				t->tcp_flags &= (uint8_t)~TCP_CWR;
			csum_off = l4_off + TCP_CSUM_OFF;
		} else {
			struct rte_udp_hdr *u = (struct rte_udp_hdr *)(p + l4_off);
			u->dgram_len = rte_cpu_to_be_16((uint16_t)l4_bytes);
			csum_off = l4_off + UDP_CSUM_OFF;
		}
		memset(p + csum_off, 0, 2);
		uint32_t sum = __rte_raw_cksum(p + l4_off, l4_bytes, phdr);
		uint16_t c = (uint16_t)~__rte_raw_cksum_reduce(sum);
		if (c == 0 && !tcp)
			c = 0xffff;
		memcpy(p + csum_off, &c, 2);
	}
	return (int)n;
}
