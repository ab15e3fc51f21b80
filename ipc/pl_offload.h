/* SPDX-License-Identifier: Apache-2.0 */
/* Segmentation and checksum offload of a packet, end to end.
 *
 * A super-packet (a TCP or UDP packet of up to ~64 KB that the sender's stack left unsegmented,
 * with a partial L4 checksum) travels the pipeline as one contiguous mbuf from the big pool.
 * What it still needs is described in the mbuf's own offload fields, with DPDK's meaning:
 *   ol_flags  RTE_MBUF_F_TX_IPV4 / _IPV6, RTE_MBUF_F_TX_TCP_CKSUM / _UDP_CKSUM (the L4 checksum
 *             field holds only the pseudo-header sum, length included: Linux's CHECKSUM_PARTIAL),
 *             RTE_MBUF_F_TX_TCP_SEG / _UDP_SEG (segment into tso_segsz-byte payloads);
 *   l2_len, l3_len, l4_len, tso_segsz.
 * These fields live in the mbuf, in shared memory, so every stage sees them. A stage that
 * rewrites addresses keeps the partial sum consistent (pseudo-header fields only; ports are
 * summed later, with the data); a stage that turns the packet into something else (an ICMP
 * error, a reset) clears them. io-worker fills them from a virtio_net_hdr on receive (tun/tap
 * with IFF_VNET_HDR, AF_PACKET with PACKET_VNET_HDR), writes them back as one on transmit to
 * such ports, and elsewhere segments (pl_offload_segment) or completes the checksum
 * (pl_offload_csum_complete) in software.
 *
 * Why not librte_gso: DPDK 22.11's segments only TCP/IPv4 and UDP/IPv4 (no IPv6), leaves every
 * checksum to the caller and returns two-segment indirect chains; the copy here makes
 * contiguous, fully checksummed frames in one pass, which the AF_XDP and ethdev ports need. */
#ifndef PL_OFFLOAD_H
#define PL_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_net.h>
#include <rte_mbuf.h>

/* UDP segmentation offload (kernel 6.2); Debian 12's headers predate it. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define PL_OFFLOAD_SEG_FLAGS (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG)
#define PL_OFFLOAD_FLAGS \
	(RTE_MBUF_F_TX_L4_MASK | PL_OFFLOAD_SEG_FLAGS | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6)

/* The L4 checksum field holds a partial (pseudo-header) sum. */
static inline bool pl_offload_partial(const struct rte_mbuf *m)
{
	return (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | PL_OFFLOAD_SEG_FLAGS)) != 0;
}

/* The packet is to be segmented (a super-packet). */
static inline bool pl_offload_gso(const struct rte_mbuf *m)
{
	return (m->ol_flags & PL_OFFLOAD_SEG_FLAGS) != 0;
}

/* L3 bytes of the largest segment a super-packet becomes (what an MTU is compared with). */
static inline uint32_t pl_offload_seg_l3_len(const struct rte_mbuf *m)
{
	return (uint32_t)m->l3_len + m->l4_len + m->tso_segsz;
}

/* Forgets every offload request (the packet was turned into something else). */
static inline void pl_offload_clear(struct rte_mbuf *m)
{
	m->ol_flags &= ~(uint64_t)PL_OFFLOAD_FLAGS;
	m->tso_segsz = 0;
}

/* Reads a received frame's virtio_net_hdr into m's offload fields. `l2_off` is what the frame
 * has in front of what the header's offsets count from (14 for a tun frame io-worker gave an
 * Ethernet header, else 0). The frame must be Ethernet + IPv4/IPv6 in one segment. A partial
 * checksum anywhere but a TCP/UDP header right after the IP header (say behind IPv6 extension
 * headers) is completed at once. Returns 0, or -EINVAL for a header that does not describe the
 * frame (the caller drops it as malformed). */
int pl_offload_from_vnet(struct rte_mbuf *m, const struct virtio_net_hdr *vh, uint32_t l2_off);

/* Writes m's offload fields as a virtio_net_hdr for a device whose offsets count after the
 * first `strip` bytes of the frame (14 for a tun, which gets no Ethernet header). */
void pl_offload_to_vnet(const struct rte_mbuf *m, struct virtio_net_hdr *vh, uint32_t strip);

/* Completes a partial L4 checksum in software and clears the checksum request; a super-packet
 * must be segmented instead. Returns 0, or -EINVAL (a super-packet, a chained mbuf, offsets
 * outside the packet). */
int pl_offload_csum_complete(struct rte_mbuf *m);

/* Cuts super-packet m into frames of at most tso_segsz payload bytes each, allocated from mp,
 * with their IP lengths, IPv4 ids and header checksums, TCP sequence numbers and flags (FIN and
 * PSH on the last, CWR on the first), UDP lengths and full L4 checksums; the per-packet
 * metadata is copied. m is left as it was (the caller frees it). Returns the number of frames
 * (<= max), or -EMSGSIZE (a segment does not fit mp's buffers), -ENOSPC (more than max
 * segments), -ENOBUFS (mp is dry), -EINVAL (not a super-packet, or malformed). */
int pl_offload_segment(
	struct rte_mbuf *m, struct rte_mempool *mp, struct rte_mbuf **out, unsigned int max);

#endif
