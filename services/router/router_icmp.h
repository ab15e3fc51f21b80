/* SPDX-License-Identifier: Apache-2.0 */
/* ICMP and ICMPv6 errors, written in place into the mbuf that caused them (stages never
 * allocate or free mbufs), and a token bucket to rate-limit them. The caller routes the result
 * like any packet (FIB lookup of the new destination) and counts; io-worker rewrites L2. */
#ifndef ROUTER_ICMP_H
#define ROUTER_ICMP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

/* ICMP (RFC 792) */
#define ROUTER_ICMP4_DEST_UNREACH 3
#define ROUTER_ICMP4_CODE_NET_UNREACH 0
#define ROUTER_ICMP4_CODE_HOST_UNREACH 1
#define ROUTER_ICMP4_CODE_FRAG_NEEDED 4 /* info: next-hop MTU (RFC 1191) */
#define ROUTER_ICMP4_CODE_ADMIN_PROHIBITED 13
#define ROUTER_ICMP4_TIME_EXCEEDED 11
#define ROUTER_ICMP4_CODE_TTL 0
#define ROUTER_ICMP4_PARAM_PROBLEM 12 /* info: pointer (octet of the original header) */

/* ICMPv6 (RFC 4443) */
#define ROUTER_ICMP6_DEST_UNREACH 1
#define ROUTER_ICMP6_CODE_NO_ROUTE 0
#define ROUTER_ICMP6_CODE_ADMIN_PROHIBITED 1
#define ROUTER_ICMP6_CODE_ADDR_UNREACH 3
#define ROUTER_ICMP6_PACKET_TOO_BIG 2 /* info: MTU */
#define ROUTER_ICMP6_TIME_EXCEEDED 3
#define ROUTER_ICMP6_CODE_HOP_LIMIT 0
#define ROUTER_ICMP6_PARAM_PROBLEM 4 /* info: pointer */

#define ROUTER_ICMP4_QUOTE_DATA 8 /* bytes of the original payload quoted (RFC 792) */
#define ROUTER_ICMP6_MIN_MTU 1280

/* m holds Ethernet + IPv4; turns it into Ethernet (addresses swapped) + IPv4 from src_be to the
 * original source (TTL 64, precedence internetwork control) + ICMP type/code + the original
 * header and the first 8 bytes of its payload. info is the next-hop MTU for frag-needed, the
 * pointer for parameter problem, otherwise ignored. Call it on the packet as received (before
 * the TTL is decremented). Leaves headroom alone; a chained mbuf keeps its later segments, empty.
 * 0; -EPERM: must not be answered (about an ICMP error, to or from a broadcast or multicast
 * address, a non-first fragment, from an address that is not one host); -EINVAL: malformed or
 * src_be is 0; -ENOSPC: no room in the first segment; -EBUSY: the data is shared (indirect). */
int router_icmp4_error(
	struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t info, uint32_t src_be);

/* Same for Ethernet + IPv6 (RFC 4443): quotes as much of the packet as fits in the minimum MTU
 * (1280 - 40 - 8 bytes), hop limit 64, checksum over the pseudo header. info is the MTU for
 * packet-too-big, the pointer for parameter problem. -EPERM: about an ICMPv6 error, to a
 * multicast address (IPv6 or link layer) unless packet-too-big or parameter problem code 2, from
 * an unspecified, loopback or multicast source. */
int router_icmp6_error(
	struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t info, const uint8_t src[16]);

/* Token bucket: rate_per_s tokens a second, burst rate/10 + 1; rate 0 allows nothing. */
struct router_icmp_rl {
	uint64_t cost; /* tsc cycles per token */
	uint64_t depth; /* burst * cost */
	uint64_t credit; /* tsc cycles' worth of tokens available */
	uint64_t last; /* tsc of the last refill */
	bool started;
};

void router_icmp_rl_init(struct router_icmp_rl *rl, uint32_t rate_per_s, uint64_t tsc_hz);
/* Takes a token if there is one. */
bool router_icmp_rl_allow(struct router_icmp_rl *rl, uint64_t now_tsc);

#endif
