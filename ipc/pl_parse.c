/* SPDX-License-Identifier: Apache-2.0 */
/* Parse once at ingress: see pl_parse.h for what is checked and recorded. */
#include "pl_parse.h"

#include <netinet/in.h>
#include <stdbool.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pl_dp.h"

#define IPPROTO_MOBILITY_ 135
#define IPPROTO_HIP_ 139
#define IPPROTO_SHIM6_ 140

/* The transport header at d (len bytes to the end of the packet). `frag`: d starts a first
 * fragment, whose length fields count bytes it does not hold. */
static bool l4_ok(uint8_t proto, const uint8_t *d, uint32_t len, bool frag)
{
	switch (proto) {
	case IPPROTO_TCP: {
		if (len < sizeof(struct rte_tcp_hdr))
			return false;
		uint32_t off = (uint32_t)(((const struct rte_tcp_hdr *)d)->data_off >> 4) * 4u;
		return off >= sizeof(struct rte_tcp_hdr) && off <= len;
	}
	case IPPROTO_UDP: {
		if (len < sizeof(struct rte_udp_hdr))
			return false;
		uint32_t ulen = rte_be_to_cpu_16(((const struct rte_udp_hdr *)d)->dgram_len);
		return frag || (ulen >= sizeof(struct rte_udp_hdr) && ulen <= len);
	}
	case IPPROTO_SCTP:
		return len >= 12;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return len >= 8;
	default:
		return true;
	}
}

static enum pl_parse_result ipv4(
	struct rte_mbuf *m, uint8_t *l3, uint32_t l3_len, struct pl_pkt_meta *meta)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)l3;
	if (l3_len < sizeof(*ip) || (ip->version_ihl >> 4) != 4)
		return PL_PARSE_ERR_BAD_IPV4;
	uint32_t ihl = (ip->version_ihl & 0xfu) * 4u, total = rte_be_to_cpu_16(ip->total_length);
	if (ihl < sizeof(*ip) || total < ihl || total > l3_len)
		return PL_PARSE_ERR_BAD_IPV4;
	if (rte_raw_cksum(ip, ihl) != 0xffff)
		return PL_PARSE_ERR_BAD_IPV4_CSUM;
	if (total < l3_len) /* Ethernet padding is not part of the packet */
		rte_pktmbuf_trim(m, (uint16_t)(l3_len - total));
	uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
	uint8_t flags = PL_PARSE_V4 | (ihl > sizeof(*ip) ? PL_PARSE_OPTS : 0);
	if (fo & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		flags |= PL_PARSE_FRAG;
	if (fo & RTE_IPV4_HDR_OFFSET_MASK)
		flags |= PL_PARSE_FRAG_LATER;
	else if (!l4_ok(ip->next_proto_id, l3 + ihl, total - ihl, flags & PL_PARSE_FRAG))
		return PL_PARSE_ERR_BAD_L4;
	meta->pflags = flags;
	meta->l4_proto = ip->next_proto_id;
	meta->l4_off = (uint16_t)(RTE_ETHER_HDR_LEN + ihl);
	if (flags & PL_PARSE_FRAG_LATER)
		meta->ports[0] = meta->ports[1] = 0;
	else
		pl_parse_key_ports(ip->next_proto_id, l3 + ihl, meta->ports);
	return PL_PARSE_OK;
}

static enum pl_parse_result ipv6(
	struct rte_mbuf *m, uint8_t *l3, uint32_t l3_len, struct pl_pkt_meta *meta)
{
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)l3;
	if (l3_len < sizeof(*ip) || (l3[0] >> 4) != 6)
		return PL_PARSE_ERR_BAD_IPV6;
	uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
	if (sizeof(*ip) + payload > l3_len)
		return PL_PARSE_ERR_BAD_IPV6;
	if (sizeof(*ip) + payload < l3_len)
		rte_pktmbuf_trim(m, (uint16_t)(l3_len - sizeof(*ip) - payload));
	const uint8_t *p = l3 + sizeof(*ip);
	uint8_t nh = ip->proto, flags = PL_PARSE_V6;
	uint32_t off = 0; /* into the payload */
	for (int n = 0;; n++) {
		uint32_t len;
		switch (nh) {
		case IPPROTO_HOPOPTS:
			if (n != 0)
				return PL_PARSE_ERR_BAD_IPV6_EXT;
			/* fall through */
		case IPPROTO_DSTOPTS:
		case IPPROTO_MOBILITY_:
		case IPPROTO_HIP_:
		case IPPROTO_SHIM6_:
			if (off + 2 > payload)
				return PL_PARSE_ERR_BAD_IPV6_EXT;
			len = ((uint32_t)p[off + 1] + 1) * 8;
			break;
		case IPPROTO_ROUTING:
			if (off + 4 > payload)
				return PL_PARSE_ERR_BAD_IPV6_EXT;
			len = ((uint32_t)p[off + 1] + 1) * 8;
			if (p[off + 3] != 0) /* segments left */
				flags |= PL_PARSE_ROUTING;
			break;
		case IPPROTO_FRAGMENT: {
			if (off + 8 > payload)
				return PL_PARSE_ERR_BAD_IPV6_EXT;
			uint16_t fo = (uint16_t)((p[off + 2] << 8) | p[off + 3]);
			if (fo &
				0xfff9) { /* offset or M: a real fragment (else atomic, RFC 6946) */
				if (flags & PL_PARSE_FRAG)
					return PL_PARSE_ERR_BAD_IPV6_EXT; /* fragments in fragments */
				flags |= PL_PARSE_FRAG;
			}
			if (fo & 0xfff8) {
				/* A later fragment: what follows is data, its protocol p[off]. */
				if (n >= PL_PARSE_MAX_EXT)
					return PL_PARSE_ERR_BAD_IPV6_EXT;
				meta->pflags = flags | PL_PARSE_OPTS | PL_PARSE_FRAG_LATER;
				meta->l4_proto = p[off];
				meta->ports[0] = meta->ports[1] = 0;
				meta->l4_off =
					(uint16_t)(RTE_ETHER_HDR_LEN + sizeof(*ip) + off + 8);
				return PL_PARSE_OK;
			}
			len = 8;
			break;
		}
		case IPPROTO_AH:
			if (off + 2 > payload)
				return PL_PARSE_ERR_BAD_IPV6_EXT;
			len = ((uint32_t)p[off + 1] + 2) * 4;
			break;
		default: /* an upper layer (ESP and "no next header" included) */
			if (!l4_ok(nh, p + off, payload - off, flags & PL_PARSE_FRAG))
				return PL_PARSE_ERR_BAD_L4;
			meta->pflags = flags | (off ? PL_PARSE_OPTS : 0);
			meta->l4_proto = nh;
			pl_parse_key_ports(nh, p + off, meta->ports);
			meta->l4_off = (uint16_t)(RTE_ETHER_HDR_LEN + sizeof(*ip) + off);
			return PL_PARSE_OK;
		}
		if (n >= PL_PARSE_MAX_EXT || off + len > payload)
			return PL_PARSE_ERR_BAD_IPV6_EXT;
		nh = p[off];
		off += len;
	}
}

enum pl_parse_result pl_parse(struct rte_mbuf *m)
{
	struct pl_pkt_meta *meta = pl_meta(m);
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (m->nb_segs != 1 || len < RTE_ETHER_HDR_LEN)
		return PL_PARSE_ERR_NOT_IP;
	uint16_t et = ((const struct rte_ether_hdr *)d)->ether_type;
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return ipv4(m, d + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN, meta);
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV6))
		return ipv6(m, d + RTE_ETHER_HDR_LEN, len - RTE_ETHER_HDR_LEN, meta);
	return PL_PARSE_ERR_NOT_IP;
}

bool pl_parse_frag(const struct rte_mbuf *m, struct pl_frag_info *fi)
{
	const struct pl_pkt_meta *meta = pl_meta((struct rte_mbuf *)(uintptr_t)m);
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *) + RTE_ETHER_HDR_LEN;
	if (!(meta->pflags & PL_PARSE_FRAG))
		return false;
	if (meta->pflags & PL_PARSE_V4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)l3;
		uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
		fi->id = rte_be_to_cpu_16(ip->packet_id);
		fi->offset = (uint32_t)(fo & RTE_IPV4_HDR_OFFSET_MASK) * 8u;
		fi->more = (fo & RTE_IPV4_HDR_MF_FLAG) != 0;
		fi->data_off = (uint16_t)(RTE_ETHER_HDR_LEN + (ip->version_ihl & 0xfu) * 4u);
		fi->nh = ip->next_proto_id;
		return true;
	}
	/* The chain was checked at admission: walk it to the fragment header. */
	const uint8_t *p = l3 + sizeof(struct rte_ipv6_hdr);
	uint8_t nh = ((const struct rte_ipv6_hdr *)l3)->proto;
	for (int n = 0; n <= PL_PARSE_MAX_EXT; n++) {
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t fo = (uint16_t)((p[2] << 8) | p[3]);
			if (!(fo & 0xfff9)) { /* atomic: look on (a real one may follow) */
				nh = p[0];
				p += 8;
				continue;
			}
			memcpy(&fi->id, p + 4, 4);
			fi->id = rte_be_to_cpu_32(fi->id);
			fi->offset = fo & 0xfff8u;
			fi->more = fo & 1;
			fi->nh = p[0];
			fi->data_off = (uint16_t)(p + 8 - rte_pktmbuf_mtod(m, const uint8_t *));
			return true;
		}
		uint32_t len;
		if (nh == IPPROTO_AH)
			len = ((uint32_t)p[1] + 2) * 4;
		else if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS || nh == IPPROTO_ROUTING ||
			 nh == IPPROTO_MOBILITY_ || nh == IPPROTO_HIP_ || nh == IPPROTO_SHIM6_)
			len = ((uint32_t)p[1] + 1) * 8;
		else
			return false;
		nh = p[0];
		p += len;
	}
	return false;
}
