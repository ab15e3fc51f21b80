/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental one's-complement checksum updates (RFC 1624), byte-order independent: the
 * 16-bit words are summed as they lie in memory, so network-order fields need no swapping.
 * Used by every stage that rewrites addresses or ports (nat-lb) and by the tests that check
 * such rewrites against segmentation and checksum completion (pl_offload.h). */
#ifndef PL_CSUM_H
#define PL_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds to accumulator `sum` what replacing the `len` bytes (even) at `old` with those at `new`
 * changes in a one's-complement sum. Start from 0; chain calls for several fields. */
static inline uint32_t pl_csum_diff(uint32_t sum, const void *old, const void *new, size_t len)
{
	const uint16_t *o = old, *n = new;
	for (size_t i = 0; i < len / 2; i++)
		sum += (uint16_t)~o[i] + (uint32_t)n[i];
	return sum;
}

/* A full (complemented) checksum with accumulated diff `diff` applied. */
static inline uint16_t pl_csum_apply(uint16_t csum, uint32_t diff)
{
	uint32_t s = (uint16_t)~csum + diff;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Updates the TCP/UDP checksum field `*field` for a rewrite whose address (pseudo-header)
 * changes sum to `addr_diff` and whose port changes sum to `port_diff`.
 * A full checksum takes both; a full UDP checksum that comes out 0 is written 0xffff (0 would
 * mean "no checksum"). A partial checksum (the pseudo-header sum alone, not complemented:
 * pl_offload.h) covers the addresses only; the ports are summed with the data when it is
 * completed, so port_diff is ignored and the field stays a non-complemented sum. */
static inline void pl_csum_update_l4(
	uint16_t *field, uint32_t addr_diff, uint32_t port_diff, bool partial, bool udp)
{
	if (partial) {
		*field = (uint16_t)~pl_csum_apply((uint16_t) ~*field, addr_diff);
		return;
	}
	uint16_t c = pl_csum_apply(*field, addr_diff + port_diff);
	if (c == 0 && udp)
		c = 0xffff;
	*field = c;
}

/* Rewrites a TCP/UDP packet's addresses and ports in place (alen 4 or 16 bytes each; ports
 * network order; l4_csum NULL when there is none to update, as for UDP over IPv4 without a
 * checksum) and updates its checksums incrementally: the IPv4 header's when ip4_csum is not
 * NULL, and the L4 one, full or partial. The one way addresses are translated: nat-lb and
 * io-worker's fast path both call it. */
static inline void pl_csum_rewrite_flow(uint8_t *src_field, uint8_t *dst_field, size_t alen,
	uint16_t *ports, uint16_t *ip4_csum, uint16_t *l4_csum, bool partial, bool udp,
	const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	uint32_t da = pl_csum_diff(0, src_field, src, alen);
	da = pl_csum_diff(da, dst_field, dst, alen);
	uint16_t np[2] = { sport, dport };
	uint32_t dp = pl_csum_diff(0, ports, np, 4);
	if (ip4_csum)
		*ip4_csum = pl_csum_apply(*ip4_csum, da);
	if (l4_csum)
		pl_csum_update_l4(l4_csum, da, dp, partial, udp);
	for (size_t i = 0; i < alen; i++) {
		src_field[i] = src[i];
		dst_field[i] = dst[i];
	}
	ports[0] = sport;
	ports[1] = dport;
}

#endif
