/* SPDX-License-Identifier: Apache-2.0 */
/* ICMP errors in place (see router_icmp.h). The quoted part of the original packet moves up
 * behind the new IP and ICMP headers inside the first segment (gathered from later segments if
 * it spans them), so headroom stays free for a tunnel header; the packet is then cut to size. */
#include "router_icmp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#define ETH_SIZE ((uint32_t)sizeof(struct rte_ether_hdr))
#define IP4_SIZE ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define IP6_SIZE ((uint32_t)sizeof(struct rte_ipv6_hdr))
#define ICMP_SIZE 8u
#define IP4_DF 0x4000
#define IP4_OFFSET_MASK 0x1fff
#define IP4_TOS_INTERNETWORK_CONTROL 0xc0 /* precedence 6 (RFC 1812 4.3.2.5) */
#define ERROR_TTL 64
#define ICMP6_INFO_MIN 128 /* ICMPv6 types below are errors */
#define IP6_EXT_MAX 16

struct icmp_err_hdr {
	uint8_t type;
	uint8_t code;
	rte_be16_t cksum;
	rte_be32_t word; /* unused, MTU or pointer */
} __rte_packed;

static bool writable(const struct rte_mbuf *m)
{
	if (RTE_MBUF_CLONED(m) || rte_mbuf_refcnt_read(m) > 1)
		return false;
	return !RTE_MBUF_HAS_EXTBUF(m) || rte_mbuf_ext_refcnt_read(m->shinfo) == 1;
}

/* Bytes the first segment can hold from its data start. */
static uint32_t first_capacity(const struct rte_mbuf *m)
{
	return (uint32_t)m->buf_len - m->data_off;
}

/* Moves the `quote` bytes that follow the Ethernet header `hdrs` bytes further into the first
 * segment, then makes the packet exactly Ethernet + hdrs + quote bytes long. The caller has
 * checked that quote <= pkt_len - Ethernet and that the result fits in the first segment. */
static void reshape(struct rte_mbuf *m, uint32_t hdrs, uint32_t quote)
{
	uint8_t *base = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t n1 = RTE_MIN(quote, (uint32_t)m->data_len - ETH_SIZE);
	memmove(base + ETH_SIZE + hdrs, base + ETH_SIZE, n1);
	if (quote > n1) {
		/* The rest sits in later segments, which the move did not touch. */
		uint8_t *dst = base + ETH_SIZE + hdrs + n1;
		const void *p = rte_pktmbuf_read(m, ETH_SIZE + n1, quote - n1, dst);
		if (p && p != dst)
			memcpy(dst, p, quote - n1);
	}
	/* Only io-worker frees: later segments stay chained, empty. */
	for (struct rte_mbuf *seg = m->next; seg; seg = seg->next)
		seg->data_len = 0;
	m->data_len = (uint16_t)(ETH_SIZE + hdrs + quote);
	m->pkt_len = ETH_SIZE + hdrs + quote;
}

static void finish_mbuf(struct rte_mbuf *m, uint32_t l3_len, uint32_t ptype)
{
	/* Offload requests and receive flags described the original packet. */
	m->ol_flags &= RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
	m->packet_type = RTE_PTYPE_L2_ETHER | ptype;
	m->l2_len = ETH_SIZE;
	m->l3_len = l3_len;
}

static void swap_eth(struct rte_ether_hdr *eth, uint16_t ether_type)
{
	struct rte_ether_addr a = eth->src_addr;
	eth->src_addr = eth->dst_addr;
	eth->dst_addr = a;
	eth->ether_type = rte_cpu_to_be_16(ether_type);
}

/* RFC 1812 4.3.2.7: addresses that do not name one host. */
static bool ip4_not_unicast(uint32_t a)
{
	uint32_t first = a >> 24;
	return first == 0 || first == 127 || first >= 224;
}

/* Informational (query) messages may be answered with an error; everything else, including
 * types we do not know, is treated as an error and never answered. */
static bool icmp4_is_query(uint8_t type)
{
	switch (type) {
	case 0: /* echo reply */
	case 8: /* echo */
	case 9: /* router advertisement */
	case 10: /* router solicitation */
	case 13: /* timestamp */
	case 14: /* timestamp reply */
	case 15: /* information request */
	case 16: /* information reply */
	case 17: /* address mask request */
	case 18: /* address mask reply */
		return true;
	default:
		return false;
	}
}

int router_icmp4_error(
	struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t info, uint32_t src_be)
{
	if (!m || src_be == 0 || m->data_len < ETH_SIZE + IP4_SIZE)
		return -EINVAL;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return -EINVAL;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < IP4_SIZE || ETH_SIZE + ihl > m->data_len ||
		total < ihl)
		return -EINVAL;

	if (rte_be_to_cpu_16(ip->fragment_offset) & IP4_OFFSET_MASK)
		return -EPERM;
	if (rte_be_to_cpu_32(ip->dst_addr) >= 0xe0000000U || /* multicast, class E, broadcast */
		ip4_not_unicast(rte_be_to_cpu_32(ip->src_addr)) ||
		rte_is_multicast_ether_addr(&eth->dst_addr))
		return -EPERM;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		uint8_t t;
		const uint8_t *p = total > ihl ? rte_pktmbuf_read(m, ETH_SIZE + ihl, 1, &t) : NULL;
		if (!p || !icmp4_is_query(*p))
			return -EPERM;
	}
	if (!writable(m))
		return -EBUSY;

	uint32_t quote = RTE_MIN(total, ihl + ROUTER_ICMP4_QUOTE_DATA);
	quote = RTE_MIN(quote, rte_pktmbuf_pkt_len(m) - ETH_SIZE);
	uint32_t hdrs = IP4_SIZE + ICMP_SIZE;
	if (ETH_SIZE + hdrs + quote > first_capacity(m))
		return -ENOSPC;

	rte_be32_t dst = ip->src_addr;
	reshape(m, hdrs, quote);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	swap_eth(eth, RTE_ETHER_TYPE_IPV4);

	struct rte_ipv4_hdr *nip = (struct rte_ipv4_hdr *)(eth + 1);
	nip->version_ihl = 0x45;
	nip->type_of_service = IP4_TOS_INTERNETWORK_CONTROL;
	nip->total_length = rte_cpu_to_be_16((uint16_t)(hdrs + quote));
	nip->packet_id = 0;
	nip->fragment_offset = RTE_BE16(IP4_DF);
	nip->time_to_live = ERROR_TTL;
	nip->next_proto_id = IPPROTO_ICMP;
	nip->hdr_checksum = 0;
	nip->src_addr = src_be;
	nip->dst_addr = dst;
	nip->hdr_checksum = rte_ipv4_cksum(nip);

	struct icmp_err_hdr *icmp = (struct icmp_err_hdr *)(nip + 1);
	uint32_t word = 0;
	if (type == ROUTER_ICMP4_DEST_UNREACH && code == ROUTER_ICMP4_CODE_FRAG_NEEDED)
		word = info & 0xffff; /* RFC 1191: next-hop MTU in the low 16 bits */
	else if (type == ROUTER_ICMP4_PARAM_PROBLEM)
		word = (info & 0xff) << 24; /* pointer, then three unused bytes */
	icmp->type = type;
	icmp->code = code;
	icmp->cksum = 0;
	icmp->word = rte_cpu_to_be_32(word);
	icmp->cksum = (uint16_t)~rte_raw_cksum(icmp, ICMP_SIZE + quote);

	finish_mbuf(m, IP4_SIZE, RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_ICMP);
	return 0;
}

static bool ip6_is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

static bool ip6_is_loopback(const uint8_t a[16])
{
	static const uint8_t one[16] = { [15] = 1 };
	return memcmp(a, one, 16) == 0;
}

/* Follows the extension headers from `nh` at `off` (up to `end`) to the upper layer. True if
 * the packet is an ICMPv6 error, or if that cannot be told (truncated, too many headers). A
 * non-first fragment carries no upper-layer header: it may be answered (RFC 4443 2.4). */
static bool icmp6_about_error(const struct rte_mbuf *m, uint8_t nh, uint32_t off, uint32_t end)
{
	uint8_t buf[8];
	const uint8_t *p;
	for (int i = 0; i < IP6_EXT_MAX; i++) {
		switch (nh) {
		case IPPROTO_ICMPV6:
			p = off + 1 <= end ? rte_pktmbuf_read(m, off, 1, buf) : NULL;
			return !p || p[0] < ICMP6_INFO_MIN;
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			p = off + 2 <= end ? rte_pktmbuf_read(m, off, 2, buf) : NULL;
			if (!p)
				return true;
			nh = p[0];
			off += ((uint32_t)p[1] + 1) * 8;
			break;
		case IPPROTO_AH:
			p = off + 2 <= end ? rte_pktmbuf_read(m, off, 2, buf) : NULL;
			if (!p)
				return true;
			nh = p[0];
			off += ((uint32_t)p[1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			p = off + 8 <= end ? rte_pktmbuf_read(m, off, 8, buf) : NULL;
			if (!p)
				return true;
			if ((((uint32_t)p[2] << 8 | p[3]) & 0xfff8) != 0)
				return false;
			nh = p[0];
			off += 8;
			break;
		default:
			return false;
		}
	}
	return true;
}

int router_icmp6_error(
	struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t info, const uint8_t src[16])
{
	if (!m || !src || ip6_is_unspecified(src) || src[0] == 0xff ||
		m->data_len < ETH_SIZE + IP6_SIZE)
		return -EINVAL;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV6))
		return -EINVAL;
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6)
		return -EINVAL;

	/* RFC 4443 2.4 (e). */
	bool multicast_ok = type == ROUTER_ICMP6_PACKET_TOO_BIG ||
			    (type == ROUTER_ICMP6_PARAM_PROBLEM && code == 2);
	if ((ip->dst_addr[0] == 0xff || rte_is_multicast_ether_addr(&eth->dst_addr)) &&
		!multicast_ok)
		return -EPERM;
	if (ip6_is_unspecified(ip->src_addr) || ip6_is_loopback(ip->src_addr) ||
		ip->src_addr[0] == 0xff)
		return -EPERM;
	uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
	uint32_t l3 = RTE_MIN(IP6_SIZE + rte_be_to_cpu_16(ip->payload_len), pkt_len - ETH_SIZE);
	if (icmp6_about_error(m, ip->proto, ETH_SIZE + IP6_SIZE, ETH_SIZE + l3))
		return -EPERM;
	if (!writable(m))
		return -EBUSY;

	uint32_t hdrs = IP6_SIZE + ICMP_SIZE;
	uint32_t quote = RTE_MIN(l3, (uint32_t)ROUTER_ICMP6_MIN_MTU - hdrs);
	uint32_t cap = first_capacity(m);
	if (ETH_SIZE + hdrs + IP6_SIZE > cap)
		return -ENOSPC;
	quote = RTE_MIN(quote, cap - ETH_SIZE - hdrs);

	uint8_t dst[16];
	memcpy(dst, ip->src_addr, sizeof(dst));
	reshape(m, hdrs, quote);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	swap_eth(eth, RTE_ETHER_TYPE_IPV6);

	struct rte_ipv6_hdr *nip = (struct rte_ipv6_hdr *)(eth + 1);
	nip->vtc_flow = RTE_BE32(6U << 28);
	nip->payload_len = rte_cpu_to_be_16((uint16_t)(ICMP_SIZE + quote));
	nip->proto = IPPROTO_ICMPV6;
	nip->hop_limits = ERROR_TTL;
	memcpy(nip->src_addr, src, 16);
	memcpy(nip->dst_addr, dst, 16);

	struct icmp_err_hdr *icmp = (struct icmp_err_hdr *)(nip + 1);
	uint32_t word = 0;
	if (type == ROUTER_ICMP6_PACKET_TOO_BIG || type == ROUTER_ICMP6_PARAM_PROBLEM)
		word = info;
	icmp->type = type;
	icmp->code = code;
	icmp->cksum = 0;
	icmp->word = rte_cpu_to_be_32(word);
	uint32_t sum = __rte_raw_cksum(icmp, ICMP_SIZE + quote, rte_ipv6_phdr_cksum(nip, 0));
	icmp->cksum = (uint16_t)~__rte_raw_cksum_reduce(sum);

	finish_mbuf(m, IP6_SIZE, RTE_PTYPE_L3_IPV6 | RTE_PTYPE_L4_ICMP);
	return 0;
}

void router_icmp_rl_init(struct router_icmp_rl *rl, uint32_t rate_per_s, uint64_t tsc_hz)
{
	memset(rl, 0, sizeof(*rl));
	if (rate_per_s == 0)
		return;
	rl->cost = RTE_MAX(tsc_hz / rate_per_s, (uint64_t)1);
	rl->depth = ((uint64_t)rate_per_s / 10 + 1) * rl->cost;
	rl->credit = rl->depth;
}

bool router_icmp_rl_allow(struct router_icmp_rl *rl, uint64_t now_tsc)
{
	if (rl->cost == 0)
		return false;
	if (!rl->started) {
		rl->started = true;
		rl->last = now_tsc;
	} else if (now_tsc > rl->last) {
		uint64_t gained = now_tsc - rl->last;
		rl->credit = gained >= rl->depth - rl->credit ? rl->depth : rl->credit + gained;
		rl->last = now_tsc;
	}
	if (rl->credit < rl->cost)
		return false;
	rl->credit -= rl->cost;
	return true;
}
