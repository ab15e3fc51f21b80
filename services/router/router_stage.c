/* SPDX-License-Identifier: Apache-2.0 */
/* router's burst function. Checks IPv4 headers (version, IHL, total length against the frame,
 * header checksum) and IPv6 (payload length); decrements TTL with an incremental checksum
 * update (RFC 1624) or the hop limit; marks what fails with a drop reason. */
#include "router_stage.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

#define PREFETCH_AHEAD 4

static void ipv4(struct rte_mbuf *m, struct rte_ipv4_hdr *ip, uint32_t l3_len, uint64_t *counters)
{
	if (l3_len < sizeof(*ip)) {
		pl_stage_drop(m, PL_DROP_MALFORMED, counters);
		return;
	}
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) || ihl > l3_len || total < ihl ||
		total > l3_len) {
		pl_stage_drop(m, PL_DROP_MALFORMED, counters);
		return;
	}
	if (rte_raw_cksum(ip, ihl) != 0xffff) {
		pl_stage_drop(m, PL_DROP_MALFORMED, counters);
		return;
	}
	if (ip->time_to_live <= 1) {
		pl_stage_drop(m, PL_DROP_TTL_EXCEEDED, counters);
		return;
	}
	ip->time_to_live--;
	/* RFC 1624: HC' = HC + 0x0100 (TTL is the high byte of its 16-bit word). */
	uint32_t sum = (uint32_t)rte_be_to_cpu_16(ip->hdr_checksum) + 0x0100;
	sum = (sum & 0xffff) + (sum >> 16);
	ip->hdr_checksum = rte_cpu_to_be_16((uint16_t)sum);
}

static void ipv6(struct rte_mbuf *m, struct rte_ipv6_hdr *ip, uint32_t l3_len, uint64_t *counters)
{
	if (l3_len < sizeof(*ip) || (rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 ||
		rte_be_to_cpu_16(ip->payload_len) > l3_len - sizeof(*ip)) {
		pl_stage_drop(m, PL_DROP_MALFORMED, counters);
		return;
	}
	if (ip->hop_limits <= 1) {
		pl_stage_drop(m, PL_DROP_TTL_EXCEEDED, counters);
		return;
	}
	ip->hop_limits--;
}

void router_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters)
{
	(void)ctx;
	for (unsigned int i = 0; i < n && i < PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		if (pl_meta(m)->verdict != PL_VERDICT_PASS)
			continue;
		if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr)) {
			pl_stage_drop(m, PL_DROP_MALFORMED, counters);
			continue;
		}
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		uint32_t l3_len = rte_pktmbuf_data_len(m) - (uint32_t)sizeof(*eth);
		switch (eth->ether_type) {
		case RTE_BE16(RTE_ETHER_TYPE_IPV4):
			ipv4(m, (struct rte_ipv4_hdr *)(eth + 1), l3_len, counters);
			break;
		case RTE_BE16(RTE_ETHER_TYPE_IPV6):
			ipv6(m, (struct rte_ipv6_hdr *)(eth + 1), l3_len, counters);
			break;
		default:
			pl_stage_drop(m, PL_DROP_UNSUPPORTED, counters);
		}
	}
}
