/* SPDX-License-Identifier: Apache-2.0 */
/* router's burst function. io-worker checked the IP headers at ingress (pl_parse.h: version,
 * lengths, IPv4 header checksum, the IPv6 extension-header chain; padding trimmed), so router
 * routes: a FIB lookup gives the adjacency, which names the tx interface (and the next hop
 * io-worker resolves). Forwarded packets lose one TTL / hop (RFC 1624 incremental checksum);
 * packets to or from the host tap are the host's own and keep theirs. Expired TTL, no route and
 * too big for the egress MTU (with DF; IPv6 always) turn the packet into the ICMP error that
 * reports it, sent back the way it came, rate-limited (router.icmp_rate); otherwise it is marked
 * dropped. Packets of the synthetic port (tests, benchmarks) are only TTL-decremented, not
 * routed, unless they carry PL_META_F_SYNTH_ROUTE (synth/start route=1): then they are routed
 * as any other. */
#include "router_stage.h"

#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

#include "pl_offload.h"
#include "pl_parse.h"
#include "router.h"

#define PREFETCH_AHEAD 4
#define ICMP4_TIME_EXCEEDED 11
#define ICMP4_UNREACH 3
#define ICMP4_UNREACH_NET 0
#define ICMP4_UNREACH_FRAG 4
#define ICMP6_UNREACH 1
#define ICMP6_UNREACH_NOROUTE 0
#define ICMP6_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED 3

static void ttl_dec4(struct rte_ipv4_hdr *ip)
{
	ip->time_to_live--;
	/* RFC 1624: HC' = HC + 0x0100 (TTL is the high byte of its 16-bit word). */
	uint32_t sum = (uint32_t)rte_be_to_cpu_16(ip->hdr_checksum) + 0x0100;
	sum = (sum & 0xffff) + (sum >> 16);
	ip->hdr_checksum = rte_cpu_to_be_16((uint16_t)sum);
}

/* Synthetic packets are routed only when they ask for it. */
static inline bool not_routed(const struct pl_pkt_meta *meta)
{
	return meta->rx_if == PL_IF_SYNTH && !(meta->flags & PL_META_F_SYNTH_ROUTE);
}

/* Points the packet at adjacency idx. false if there is none. */
static bool use_adj(struct router *r, struct rte_mbuf *m, uint32_t idx, uint64_t *counters)
{
	const struct pl_adj *a = router_fib_adj(&r->fib, idx);
	if (!a || a->kind == PL_ADJ_DROP)
		return false;
	pl_meta(m)->tx_if = a->tx_if;
	pl_meta(m)->nh_index = idx;
	counters[PL_ROUTER_ROUTED]++;
	return true;
}

/* Records the route a session's packet took, for io-worker's fast path (pl_fib.h). Written only
 * when it changed, so an established flow costs one compare. */
static void remember(struct router *r, const struct rte_mbuf *m, uint8_t family, const void *dst)
{
	const struct pl_pkt_meta *meta = pl_meta((struct rte_mbuf *)(uintptr_t)m);
	uint64_t slot =
		(uint64_t)(meta->session_id - 1) * 2 + ((meta->flags & PL_META_F_REPLY) != 0);
	if (!r->rtc || meta->session_id == 0 || slot >= r->rtc->n_entries ||
		(meta->flags & PL_META_F_RELATED)) /* an ICMP error about the flow, not the flow */
		return;
	struct pl_rtc_entry *e = &r->rtc->e[slot];
	uint64_t gen = r->fib.adj->generation;
	uint8_t from_host = meta->rx_if == PL_IF_HOST;
	size_t alen = family == AF_INET ? 4 : 16;
	if (!(e->seq & 1) && e->family == family && e->generation == gen &&
		e->nh_index == meta->nh_index && e->from_host == from_host &&
		memcmp(e->dst, dst, alen) == 0)
		return;
	/* seq is odd while written. A router killed in here left it odd: it stays odd for this
	 * write (seq + 1 would make it even, readable, mid-write, and odd, refused, for good). */
	uint32_t seq = e->seq | 1;
	__atomic_store_n(&e->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->family = family;
	e->from_host = from_host;
	e->tx_if = meta->tx_if;
	e->nh_index = meta->nh_index;
	e->generation = gen;
	memset(e->dst, 0, sizeof(e->dst));
	memcpy(e->dst, dst, alen);
	__atomic_store_n(&e->seq, seq + 1, __ATOMIC_RELEASE);
}

/* Turns m into an ICMP error about itself and routes it back to its source. */
static void icmp_back(struct router *r, struct rte_mbuf *m, bool v6, uint8_t type, uint8_t code,
	uint32_t info, enum pl_drop_reason reason, uint64_t *counters)
{
	uint32_t idx;
	int rc = -EPERM;
	bool limited = false; /* the error was due but over router.icmp_rate */
	if (r && (v6 ? r->have_src6 : r->have_src4)) {
		if (router_icmp_rl_allow(&r->icmp_rl, rte_rdtsc()))
			rc = v6 ? router_icmp6_error(m, type, code, info, r->src6)
				: router_icmp4_error(m, type, code, info, r->src4);
		else
			limited = true;
	}
	if (rc == 0 && pl_parse(m) != PL_PARSE_OK) /* the error is a new packet: record it */
		rc = -EINVAL;
	if (rc == 0) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		if (v6)
			rc = router_fib_lookup6(
				&r->fib, ((struct rte_ipv6_hdr *)(eth + 1))->dst_addr, &idx);
		else
			rc = router_fib_lookup4(
				&r->fib, ((struct rte_ipv4_hdr *)(eth + 1))->dst_addr, &idx);
		if (rc == 0 && use_adj(r, m, idx, counters))
			return;
	}
	pl_stage_drop(m, limited ? PL_DROP_ICMP_RATE : reason, counters);
}

static void ipv4(struct router *r, struct rte_mbuf *m, struct rte_ipv4_hdr *ip, uint64_t *counters)
{
	struct pl_pkt_meta *meta = pl_meta(m);
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	if (!r || not_routed(meta)) {
		if (ip->time_to_live <= 1)
			pl_stage_drop(m, PL_DROP_TTL_EXCEEDED, counters);
		else
			ttl_dec4(ip);
		return;
	}
	uint32_t idx;
	if (router_fib_lookup4(&r->fib, ip->dst_addr, &idx) < 0 || !router_fib_adj(&r->fib, idx)) {
		icmp_back(r, m, false, ICMP4_UNREACH, ICMP4_UNREACH_NET, 0, PL_DROP_NO_ROUTE,
			counters);
		return;
	}
	const struct pl_adj *a = router_fib_adj(&r->fib, idx);
	bool forward = a->kind != PL_ADJ_LOCAL && meta->rx_if != PL_IF_HOST;
	if (forward && ip->time_to_live <= 1) {
		icmp_back(r, m, false, ICMP4_TIME_EXCEEDED, 0, 0, PL_DROP_TTL_EXCEEDED, counters);
		return;
	}
	/* A super-packet leaves as segments: their size is what the MTU bounds. */
	if (a->mtu && (pl_offload_gso(m) ? pl_offload_seg_l3_len(m) : total) > a->mtu) {
		if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG))
			icmp_back(r, m, false, ICMP4_UNREACH, ICMP4_UNREACH_FRAG, a->mtu,
				PL_DROP_TOO_BIG, counters);
		else /* fragmentation is not done here */
			pl_stage_drop(m, PL_DROP_TOO_BIG, counters);
		return;
	}
	if (forward)
		ttl_dec4(ip);
	if (!use_adj(r, m, idx, counters))
		pl_stage_drop(m, PL_DROP_BLACKHOLE, counters);
	else
		remember(r, m, AF_INET, &ip->dst_addr);
}

static void ipv6(struct router *r, struct rte_mbuf *m, struct rte_ipv6_hdr *ip, uint64_t *counters)
{
	struct pl_pkt_meta *meta = pl_meta(m);
	uint32_t total = sizeof(*ip) + rte_be_to_cpu_16(ip->payload_len);
	if (!r || not_routed(meta)) {
		if (ip->hop_limits <= 1)
			pl_stage_drop(m, PL_DROP_TTL_EXCEEDED, counters);
		else
			ip->hop_limits--;
		return;
	}
	/* Link-local destinations never leave their link. */
	if (ip->dst_addr[0] == 0xfe && (ip->dst_addr[1] & 0xc0) == 0x80) {
		pl_stage_drop(m, PL_DROP_NO_ROUTE, counters);
		return;
	}
	uint32_t idx;
	if (router_fib_lookup6(&r->fib, ip->dst_addr, &idx) < 0 || !router_fib_adj(&r->fib, idx)) {
		icmp_back(r, m, true, ICMP6_UNREACH, ICMP6_UNREACH_NOROUTE, 0, PL_DROP_NO_ROUTE,
			counters);
		return;
	}
	const struct pl_adj *a = router_fib_adj(&r->fib, idx);
	bool forward = a->kind != PL_ADJ_LOCAL && meta->rx_if != PL_IF_HOST;
	if (forward && ip->hop_limits <= 1) {
		icmp_back(r, m, true, ICMP6_TIME_EXCEEDED, 0, 0, PL_DROP_TTL_EXCEEDED, counters);
		return;
	}
	if (a->mtu && (pl_offload_gso(m) ? pl_offload_seg_l3_len(m) : total) > a->mtu) {
		icmp_back(r, m, true, ICMP6_TOO_BIG, 0, a->mtu, PL_DROP_TOO_BIG, counters);
		return;
	}
	if (forward)
		ip->hop_limits--;
	if (!use_adj(r, m, idx, counters))
		pl_stage_drop(m, PL_DROP_BLACKHOLE, counters);
	else
		remember(r, m, AF_INET6, ip->dst_addr);
}

void router_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters)
{
	struct router *r = ctx;
	for (unsigned int i = 0; i < n && i < PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		if (pl_meta(m)->verdict != PL_VERDICT_PASS)
			continue;
		void *l3 = rte_pktmbuf_mtod_offset(m, void *, RTE_ETHER_HDR_LEN);
		if (pl_meta(m)->pflags & PL_PARSE_V4)
			ipv4(r, m, l3, counters);
		else if (pl_meta(m)->pflags & PL_PARSE_V6)
			ipv6(r, m, l3, counters);
		else /* not parsed at ingress: cannot happen (io-worker admits IP only) */
			pl_stage_drop(m, PL_DROP_UNSUPPORTED, counters);
	}
}
