/* SPDX-License-Identifier: Apache-2.0 */
/* Parse once: io-worker validates every frame's L2/L3/L4 headers when it enters the node (from
 * a port or the synthetic port) and records what it found in the packet's metadata; the stages
 * and the fast path read that instead of parsing again.
 *
 * What a frame must be to enter (else it is dropped and counted, by the reason returned here):
 *   - Ethernet with IPv4 or IPv6 (io-worker gives tun frames an Ethernet header);
 *   - IPv4: version 4, IHL >= 5, IHL <= total length <= the frame, header checksum right;
 *   - IPv6: version 6, 40 + payload length <= the frame (jumbograms are not taken: payload
 *     length 0 with a transport header behind it is too short for it); the extension-header
 *     chain (hop-by-hop only first; routing, destination options, fragment, AH, mobility, HIP,
 *     shim6) lies within the packet and has at most PL_PARSE_MAX_EXT headers, one fragment
 *     header that is not atomic at most; a first fragment
 *     holds the whole chain and its transport header (RFC 7112);
 *   - the transport header, where there is one (not in a later fragment): TCP >= 20 bytes with
 *     a data offset of 5..15 words within the packet; UDP 8 bytes with a length field of 8..the
 *     bytes there are (a fragment's UDP length counts the whole datagram: not checked); SCTP
 *     12 bytes; ICMP and ICMPv6 8 bytes. A first fragment too short for its transport header
 *     (the "tiny fragment" of RFC 1858) is malformed. Other protocols are not looked into.
 * Ethernet padding behind a shorter IP packet is trimmed, so the frame ends where IP says.
 *
 * Recorded (struct pl_pkt_meta, pl_dp.h): the family (PL_PARSE_V4 / _V6), l4_off (the frame
 * offset of the transport header: behind the IPv4 options or the IPv6 extension headers; in a
 * later fragment, of the fragment's data), l4_proto (its protocol number: what the last header
 * names as next), the flags below, and `ports`: the two 16-bit values conntrack keys the flow
 * by (pl_parse_key_ports; zero in a later fragment, which io-worker's fragment table stamps
 * with its first fragment's). The L3 header is always at RTE_ETHER_HDR_LEN.
 *
 * Contract for writers: a stage that changes a packet's layout (turns it into an ICMP error or
 * a reset, moves headers) calls pl_parse() on it again before passing it on; rewriting
 * addresses, ports, TTL and checksums in place leaves the record true. */
#ifndef PL_PARSE_H
#define PL_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_mbuf.h>

#include "pl_counters.h"

#define PL_PARSE_MAX_EXT 8

/* Flags (pl_pkt_meta.pflags). */
#define PL_PARSE_V4 0x01
#define PL_PARSE_V6 0x02
#define PL_PARSE_OPTS 0x04 /* IPv4 options or IPv6 extension headers before l4_off */
#define PL_PARSE_FRAG \
	0x08 /* a fragment (IPv4 MF or offset; an IPv6 fragment header that is
			    * not atomic) */
#define PL_PARSE_FRAG_LATER 0x10 /* a fragment after the first: no transport header */
#define PL_PARSE_ROUTING \
	0x20 /* IPv6 routing header with segments left: the destination in
			       * the IP header is not the last one */

/* Why a frame was refused: PL_PARSE_ERRORS in pl_counters.h (each an io-worker counter; in
 * sum its drop reason: not_ip is `unsupported`, the others `malformed`). */
enum pl_parse_result {
	PL_PARSE_OK = 0,
#define PL_X(sym, name, help) PL_PARSE_ERR_##sym,
	PL_PARSE_ERRORS(PL_X)
#undef PL_X
	PL_PARSE_ERR_MAX
};

/* The ports a flow is keyed by, from its transport header (network order): TCP, UDP, SCTP
 * their ports; ICMP/ICMPv6 echo request (identifier, 0) and echo reply (0, identifier), so a
 * reply's key is its request's reversed; anything else (0, 0). */
static inline void pl_parse_key_ports(uint8_t proto, const uint8_t *l4, uint16_t ports[2])
{
	ports[0] = ports[1] = 0;
	switch (proto) {
	case 6: /* TCP */
	case 17: /* UDP */
	case 132: /* SCTP */
		memcpy(ports, l4, 4);
		break;
	case 1: /* ICMP: echo reply 0, echo request 8 */
	case 58: /* ICMPv6: echo request 128, echo reply 129 */
		if (l4[0] == (proto == 1 ? 8 : 128))
			memcpy(&ports[0], l4 + 4, 2);
		else if (l4[0] == (proto == 1 ? 0 : 129))
			memcpy(&ports[1], l4 + 4, 2);
		break;
	default:
		break;
	}
}

/* ICMP or ICMPv6 error (destination unreachable, time exceeded, parameter problem, source
 * quench / packet too big): it quotes a packet of some flow. */
static inline bool pl_parse_icmp_error(uint8_t proto, const uint8_t *l4)
{
	if (proto == 1)
		return l4[0] == 3 || l4[0] == 4 || l4[0] == 11 || l4[0] == 12;
	return proto == 58 && l4[0] >= 1 && l4[0] <= 4;
}

/* ICMPv6 that IPv6 needs on its link — router and neighbour discovery, redirects, MLD
 * (types 130-137, 143) — to a link-local or multicast destination, which no router forwards:
 * not a flow between pods, exempt from policy. The same types to a unicast global address
 * are an ordinary flow (a pod could aim them at another). l4: the ICMPv6 header, dst: the
 * IPv6 destination. */
static inline bool pl_parse_link_control6(const uint8_t *l4, const uint8_t *dst)
{
	uint8_t t = l4[0];
	if (!((t >= 130 && t <= 137) || t == 143))
		return false;
	return dst[0] == 0xff || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80);
}

/* Validates m (one segment, Ethernet first) and records the result in its metadata (pflags,
 * l4_off, l4_proto; nothing else of it). Returns PL_PARSE_OK or why it is refused; a refused
 * packet's record says nothing. */
enum pl_parse_result pl_parse(struct rte_mbuf *m);

/* A fragment's place in its datagram, for a packet pl_parse admitted with PL_PARSE_FRAG. */
struct pl_frag_info {
	uint32_t id; /* IPv4: the 16-bit identification; IPv6: the fragment header's */
	uint32_t offset; /* bytes into the datagram's fragmentable part */
	uint16_t data_off; /* frame offset where this fragment's share of that part starts */
	uint8_t nh; /* the protocol the fragments carry (IPv4 protocol; the fragment header's next
		     * header): the same in every fragment of a datagram */
	bool more; /* MF / M: not the last fragment */
};

/* Fills *fi from m's IP (and IPv6 fragment) header. false if m is not a fragment. */
bool pl_parse_frag(const struct rte_mbuf *m, struct pl_frag_info *fi);

#endif
