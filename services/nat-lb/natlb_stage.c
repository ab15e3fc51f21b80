/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's burst function: kube-proxy's job on the packet path.
 *
 * A TCP or UDP packet first meets the session table. A session matches in the original
 * direction (client -> service: destination, and for SNAT source, rewritten to what the
 * session chose) or in the reply direction (endpoint -> client: rewritten back, reverse NAT).
 * A packet without a session to a service frontend starts one: the endpoint comes from the
 * client's affinity pin or from the group's Maglev table (hash of the 5-tuple), the source is
 * translated for hairpin (a pod reaching itself through its service: to the service address)
 * and for external traffic to an endpoint on another node (to the node's address), and the
 * session is created before the first packet leaves. A service with no endpoint for the packet
 * answers at once: TCP RST, or ICMP port unreachable for UDP, from the service address.
 * ICMP errors about a session are rewritten, the quoted (inner) header included, so the client
 * sees errors about the address it used. Anything else passes untouched.
 * Checksums are updated incrementally (RFC 1624); IPv4 fragments after the first and IPv6
 * packets with extension headers before the transport header pass untouched. Headers come
 * from io-worker's ingress parse (pl_parse.h); an answer nat-lb writes is parsed again. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "natlb.h"
#include "natlb_maglev.h"
#include "pl_csum.h"
#include "pl_fib.h"
#include "pl_offload.h"
#include "pl_parse.h"
#include "pl_stage.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define SNAT_TRIES 32

/* A parsed packet: pointers into its headers. */
struct pkt {
	uint8_t family;
	uint8_t proto;
	uint8_t alen; /* 4 or 16 */
	uint8_t tcp_flags;
	uint8_t *l3;
	uint8_t *l4;
	uint32_t l4_len; /* bytes from l4 to the end of the IP payload */
	uint8_t *src, *dst; /* addresses in the IP header */
	uint16_t *ports; /* [0] source, [1] destination in the packet; NULL: none there (ICMP,
			  * other protocols, later fragments) */
	const uint16_t *key_ports; /* what conntrack keys the flow by (pl_pkt_meta.ports) */
	bool later; /* a later fragment: IP header only */
	bool opts6; /* IPv6 with extension headers */
	bool routing; /* IPv6 routing header with segments left: dst is not the last hop */
	uint16_t *l4_csum; /* NULL: none to update (UDP over IPv4 without checksum) */
	bool partial; /* *l4_csum holds a partial (pseudo-header) sum: pl_offload.h */
};

/* ---- parsing ---- */

/* The packet as io-worker's ingress parse recorded it (pl_parse.h: headers valid, transport
 * header complete, padding trimmed; a later fragment carries its first fragment's ports). */
static void parse(struct rte_mbuf *m, struct pkt *p)
{
	const struct pl_pkt_meta *meta = pl_meta(m);
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	p->partial = pl_offload_partial(m);
	p->l3 = d + RTE_ETHER_HDR_LEN;
	p->proto = meta->l4_proto;
	p->l4 = d + meta->l4_off;
	p->l4_len = rte_pktmbuf_data_len(m) - meta->l4_off;
	p->later = (meta->pflags & PL_PARSE_FRAG_LATER) != 0;
	p->opts6 = (meta->pflags & (PL_PARSE_V6 | PL_PARSE_OPTS)) == (PL_PARSE_V6 | PL_PARSE_OPTS);
	p->routing = (meta->pflags & PL_PARSE_ROUTING) != 0;
	p->key_ports = meta->ports;
	p->ports = NULL;
	p->l4_csum = NULL;
	p->tcp_flags = 0;
	if (meta->pflags & PL_PARSE_V4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p->l3;
		p->family = AF_INET;
		p->alen = 4;
		p->src = (uint8_t *)&ip->src_addr;
		p->dst = (uint8_t *)&ip->dst_addr;
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)p->l3;
		p->family = AF_INET6;
		p->alen = 16;
		p->src = ip->src_addr;
		p->dst = ip->dst_addr;
	}
	if (p->later)
		return; /* no transport header here */
	switch (p->proto) {
	case IPPROTO_TCP:
		p->ports = (uint16_t *)p->l4;
		p->l4_csum = (uint16_t *)(p->l4 + offsetof(struct rte_tcp_hdr, cksum));
		p->tcp_flags = ((struct rte_tcp_hdr *)p->l4)->tcp_flags;
		break;
	case IPPROTO_UDP:
		p->ports = (uint16_t *)p->l4;
		if (p->family == AF_INET6 || ((struct rte_udp_hdr *)p->l4)->dgram_cksum != 0)
			p->l4_csum =
				(uint16_t *)(p->l4 + offsetof(struct rte_udp_hdr, dgram_cksum));
		break;
	case IPPROTO_SCTP:
		/* Tracked for the policy stage (ports at the same place); never translated: its
		 * CRC32c checksum cannot be updated incrementally, and services skip SCTP ports. */
		p->ports = (uint16_t *)p->l4;
		break;
	default:
		break;
	}
}

/* ICMPv6 that IPv6 needs on the link (pl_parse_link_control6): not a flow. */
static bool link_control6(const struct pkt *p)
{
	if (p->proto != IPPROTO_ICMPV6 || p->later)
		return false;
	return pl_parse_link_control6(p->l4, p->dst);
}

static void key_of(const struct pkt *p, struct pl_ct_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, p->src, p->alen);
	memcpy(k->dst, p->dst, p->alen);
	k->sport = p->key_ports[0];
	k->dport = p->key_ports[1];
	k->family = p->family;
	k->proto = p->proto;
}

/* Rewrites addresses and ports to src:sport -> dst:dport with incremental checksums. */
static void rewrite(
	struct pkt *p, const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	uint16_t *ip4_csum =
		p->family == AF_INET
			? (uint16_t *)(p->l3 + offsetof(struct rte_ipv4_hdr, hdr_checksum))
			: NULL;
	/* A partial sum (pl_offload.h) takes the address change only: see pl_csum.h. A packet
	 * without ports in it (a later fragment: its transport checksum, in the first, covers
	 * the whole datagram and is updated there) gets its addresses only. */
	uint16_t none[2] = { sport, dport };
	pl_csum_rewrite_flow(p->src, p->dst, p->alen, p->ports ? p->ports : none, ip4_csum,
		p->ports ? p->l4_csum : NULL, p->partial, p->proto == IPPROTO_UDP, src, sport, dst,
		dport);
}

/* Rewrites the packet to what key k describes. */
static void rewrite_to(struct pkt *p, const struct pl_ct_key *k)
{
	rewrite(p, k->src, k->sport, k->dst, k->dport);
}

/* ---- sessions ---- */

static void touch(struct natlb *nl, uint32_t idx, int dir, uint8_t tcp_flags)
{
	struct pl_ct *ct = &nl->ct;
	struct pl_ct_session *s = &ct->s[idx];
	uint8_t state = s->state, flags = s->flags;
	if (s->key[0].proto == IPPROTO_TCP) {
		if (tcp_flags & TCP_RST) {
			state = PL_CT_TCP_CLOSING;
		} else if (tcp_flags & TCP_FIN) {
			flags |= dir ? PL_CT_F_FIN_REPLY : PL_CT_F_FIN_ORIG;
			state = PL_CT_TCP_CLOSING;
		} else if (state == PL_CT_TCP_SYN && dir == 1) {
			state = PL_CT_TCP_EST;
		}
	}
	if (dir == 1)
		flags |= PL_CT_F_REPLY_SEEN;
	uint64_t exp = nl->now_ms + nl->timeout_ms[state];
	if (state == s->state && flags == s->flags && exp - s->expires_ms < 1000) {
		s->packets++; /* nothing a reader needs consistent changed */
		return;
	}
	pl_ct_write_begin(ct, idx);
	s->state = state;
	s->flags = flags;
	s->expires_ms = exp;
	s->packets++;
	pl_ct_write_end(ct, idx);
}

static bool be_is_usable(const struct natlb_gen *g, const struct natlb_group *gr,
	const struct pl_ct_key *pin, uint32_t *be_idx)
{
	for (uint32_t i = 0; i < gr->be_count; i++) {
		const struct natlb_backend *b = &g->be[gr->be_first + i];
		if ((b->flags & NATLB_BE_USABLE) && b->family == pin->family &&
			b->port == pin->sport && memcmp(b->addr, pin->src, 16) == 0) {
			*be_idx = gr->be_first + i;
			return true;
		}
	}
	return false;
}

static uint64_t flow_hash(const struct pl_ct_key *k)
{
	uint64_t h = rte_hash_crc(k, offsetof(struct pl_ct_key, zone), 0x6d61676c);
	/* Mix the 32-bit CRC into 64 bits so that `% m` uses all of it. */
	h = (h << 32) | rte_hash_crc_4byte((uint32_t)h, 0x9e3779b9);
	return h;
}

/* Picks the endpoint for a new flow k to frontend f. NATLB_NONE: none usable. */
static uint32_t choose(struct natlb *nl, const struct natlb_gen *g, const struct natlb_frontend *f,
	const struct pl_ct_key *k, uint64_t *counters)
{
	const struct natlb_group *gr = &g->groups[f->group];
	bool local = f->flags & NATLB_FE_LOCAL;
	uint32_t m = local ? gr->mgl_m : gr->mg_m;
	if (m == 0)
		return NATLB_NONE;
	const uint32_t *tbl = &g->mg[local ? gr->mgl_off : gr->mg_off];
	uint32_t pin = PL_CT_NIL, be = NATLB_NONE;
	struct pl_ct_key pk;
	if (f->flags & NATLB_FE_AFFINITY) {
		memset(&pk, 0, sizeof(pk));
		memcpy(pk.src, k->src, 16);
		memcpy(pk.dst, k->dst, 16);
		pk.dport = k->dport;
		pk.family = k->family;
		pk.proto = k->proto;
		pk.zone = PL_CT_ZONE_AFFINITY;
		int dir;
		pin = pl_ct_lookup(&nl->ct, &pk, pl_ct_hash(&pk), &dir);
		if (pin != PL_CT_NIL) {
			struct pl_ct_session *ps = &nl->ct.s[pin];
			uint32_t i;
			if (ps->expires_ms > nl->now_ms && be_is_usable(g, gr, &ps->key[1], &i) &&
				(!local || (g->be[i].flags & NATLB_BE_LOCAL))) {
				be = i;
				counters[PL_NATLB_AFFINITY_HITS]++;
			}
		}
	}
	if (be == NATLB_NONE) {
		uint32_t slot = natlb_maglev_lookup(tbl, m, flow_hash(k));
		if (slot == NATLB_MAGLEV_NONE || slot >= gr->be_count)
			return NATLB_NONE;
		be = gr->be_first + slot;
	}
	if (f->flags & NATLB_FE_AFFINITY) {
		/* (Re)pin the client to this endpoint for the affinity timeout. */
		const struct natlb_backend *b = &g->be[be];
		bool fresh = pin == PL_CT_NIL;
		if (fresh) {
			struct pl_ct_key pe;
			memset(&pe, 0, sizeof(pe));
			pin = pl_ct_insert(&nl->ct, &pk, &pe, true, nl->now_ms);
			if (pin == PL_CT_NIL)
				return be; /* no pin, but the flow itself may still fit */
			counters[PL_NATLB_SESSIONS_CREATED]++;
		} else {
			pl_ct_write_begin(&nl->ct, pin);
		}
		struct pl_ct_session *ps = &nl->ct.s[pin];
		memcpy(ps->key[1].src, b->addr, 16);
		ps->key[1].sport = b->port;
		ps->key[1].family = b->family;
		ps->state = PL_CT_AFFINITY;
		ps->expires_ms = nl->now_ms + (uint64_t)f->affinity_timeout_s * 1000;
		ps->frontend = (uint32_t)(f - g->fe);
		if (fresh)
			pl_ct_publish(&nl->ct, pin);
		else
			pl_ct_write_end(&nl->ct, pin);
	}
	return be;
}

/* ---- answers nat-lb writes itself ---- */

/* Turns a TCP segment into the RST that refuses it, from its destination (RFC 793 reset
 * generation), addresses and ports swapped, payload dropped. */
static void tcp_reset(struct rte_mbuf *m, struct pkt *p)
{
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)p->l4;
	uint32_t thl = (t->data_off >> 4) * 4u;
	uint32_t payload = p->l4_len > thl ? p->l4_len - thl : 0;
	uint8_t a[16];
	memcpy(a, p->src, p->alen);
	memcpy(p->src, p->dst, p->alen);
	memcpy(p->dst, a, p->alen);
	uint16_t port = t->src_port;
	t->src_port = t->dst_port;
	t->dst_port = port;
	if (t->tcp_flags & TCP_ACK) {
		t->sent_seq = t->recv_ack;
		t->recv_ack = 0;
		t->tcp_flags = TCP_RST;
	} else {
		uint32_t ack = rte_be_to_cpu_32(t->sent_seq) + payload +
			       ((t->tcp_flags & TCP_SYN) ? 1 : 0) +
			       ((t->tcp_flags & TCP_FIN) ? 1 : 0);
		t->sent_seq = 0;
		t->recv_ack = rte_cpu_to_be_32(ack);
		t->tcp_flags = TCP_RST | TCP_ACK;
	}
	pl_offload_clear(m); /* the reset is a small packet with its checksum computed here */
	t->data_off = (sizeof(*t) / 4) << 4;
	t->rx_win = 0;
	t->tcp_urp = 0;
	t->cksum = 0;
	uint32_t l3_len = (uint32_t)(p->l4 - p->l3);
	uint32_t new_len = (uint32_t)(p->l4 - rte_pktmbuf_mtod(m, uint8_t *)) + sizeof(*t);
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - new_len);
	if (p->family == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p->l3;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3_len + sizeof(*t)));
		ip->time_to_live = 64;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)p->l3;
		ip->payload_len = rte_cpu_to_be_16(sizeof(*t));
		ip->hop_limits = 64;
		t->cksum = rte_ipv6_udptcp_cksum(ip, t);
	}
}

/* A new flow to a frontend without an endpoint for it: refuse it at once. */
static void reject(struct natlb *nl, struct rte_mbuf *m, struct pkt *p, uint64_t *counters)
{
	int rc = -EPERM;
	/* Behind IPv6 extension headers the answer would have to carry or drop them: dropped. */
	if (!p->opts6 && router_icmp_rl_allow(&nl->reject_rl, rte_rdtsc())) {
		if (p->proto == IPPROTO_TCP) {
			if (!(p->tcp_flags & TCP_RST)) {
				tcp_reset(m, p);
				rc = 0;
			}
		} else if (p->family == AF_INET) {
			uint32_t src;
			memcpy(&src, p->dst, 4);
			rc = router_icmp4_error(m, ROUTER_ICMP4_DEST_UNREACH, 3 /* port */, 0, src);
		} else {
			uint8_t src[16];
			memcpy(src, p->dst, 16);
			rc = router_icmp6_error(m, ROUTER_ICMP6_DEST_UNREACH, 4 /* port */, 0, src);
		}
	}
	if (rc == 0 && pl_parse(m) != PL_PARSE_OK) /* the answer is a new packet: record it */
		rc = -EINVAL;
	if (rc == 0)
		counters[PL_NATLB_REJECTED]++;
	else
		pl_stage_drop(m, PL_DROP_NO_ENDPOINT, counters);
}

/* ---- ICMP errors about a session ---- */

/* The ICMPv6 checksum of p's L4 bytes (its pseudo-header counts them, whatever extension
 * headers come before). */
static uint16_t icmp6_cksum(const struct pkt *p)
{
	struct {
		uint8_t src[16], dst[16];
		rte_be32_t len;
		uint8_t zero[3], nh;
	} ph;
	memcpy(ph.src, p->src, 16);
	memcpy(ph.dst, p->dst, 16);
	ph.len = rte_cpu_to_be_32(p->l4_len);
	memset(ph.zero, 0, sizeof(ph.zero));
	ph.nh = IPPROTO_ICMPV6;
	uint32_t sum = __rte_raw_cksum(&ph, sizeof(ph), 0);
	sum = __rte_raw_cksum(p->l4, p->l4_len, sum);
	return (uint16_t)~__rte_raw_cksum_reduce(sum);
}

/* The quoted packet says what `sender` sent; find its session: the error belongs to that flow
 * (policy gives it the flow's verdict) and, under NAT, the quote (and the outer addresses) is
 * rewritten to what the other side of the NAT knows. An error about no known flow stays
 * untracked: policy judges it on its own. */
static void icmp_error(struct natlb *nl, struct rte_mbuf *m, struct pkt *p, uint64_t *counters)
{
	uint8_t *inner = p->l4 + 8;
	uint32_t ilen = p->l4_len - 8, ihl;
	uint8_t iproto;
	struct pkt q;
	memset(&q, 0, sizeof(q));
	q.family = p->family;
	q.alen = p->alen;
	q.l3 = inner;
	if (p->family == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)inner;
		if (ilen < sizeof(*ip) || (ip->version_ihl >> 4) != 4)
			return;
		ihl = (ip->version_ihl & 0xf) * 4u;
		if (ihl < sizeof(*ip) || ilen < ihl + 8)
			return;
		iproto = ip->next_proto_id;
		q.src = (uint8_t *)&ip->src_addr;
		q.dst = (uint8_t *)&ip->dst_addr;
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)inner;
		ihl = sizeof(*ip);
		if (ilen < ihl + 8 || (inner[0] >> 4) != 6)
			return;
		iproto = ip->proto;
		q.src = ip->src_addr;
		q.dst = ip->dst_addr;
	}
	q.proto = iproto;
	q.l4 = inner + ihl;
	q.l4_len = ilen - ihl;
	uint16_t qports[2];
	pl_parse_key_ports(iproto, q.l4, qports); /* 8 quoted bytes hold them */
	if (iproto == IPPROTO_TCP || iproto == IPPROTO_UDP) {
		q.ports = (uint16_t *)q.l4;
		/* The quoted checksum only when it was quoted whole. */
		uint32_t coff = iproto == IPPROTO_TCP ? 16 : 6;
		if (q.l4_len >= coff + 2 && !(iproto == IPPROTO_UDP && p->family == AF_INET &&
						    *(uint16_t *)(q.l4 + coff) == 0))
			q.l4_csum = (uint16_t *)(q.l4 + coff);
	}

	/* The session sees the quoted packet's answer direction. */
	struct pl_ct_key k;
	memset(&k, 0, sizeof(k));
	memcpy(k.src, q.dst, q.alen);
	memcpy(k.dst, q.src, q.alen);
	k.sport = qports[1];
	k.dport = qports[0];
	k.family = q.family;
	k.proto = iproto;
	int dir;
	uint32_t idx = pl_ct_lookup(&nl->ct, &k, pl_ct_hash(&k), &dir);
	if (idx == PL_CT_NIL)
		return;
	const struct pl_ct_session *s = &nl->ct.s[idx];
	if (s->state == PL_CT_AFFINITY || s->expires_ms <= nl->now_ms)
		return;
	pl_meta(m)->session_id = idx + 1;
	pl_meta(m)->flags |= PL_META_F_RELATED;
	if (!(s->flags & (PL_CT_F_DNAT | PL_CT_F_SNAT)) || !q.ports)
		return;
	/* The quote becomes the other direction as its sender knows it. */
	const struct pl_ct_key *want = &s->key[1 - dir];
	uint8_t old_inner_dst[16];
	memcpy(old_inner_dst, q.dst, q.alen);
	rewrite_to(&q, want);
	/* Outer: to the quote's sender; from the quote's destination if that is who spoke. */
	uint8_t osrc[16], odst[16];
	memcpy(osrc, p->src, p->alen);
	if (memcmp(osrc, old_inner_dst, p->alen) == 0)
		memcpy(osrc, want->dst, p->alen);
	memcpy(odst, want->src, p->alen);
	if (p->family == AF_INET) {
		struct rte_ipv4_hdr *oip = (struct rte_ipv4_hdr *)p->l3;
		struct rte_ipv4_hdr *iip = (struct rte_ipv4_hdr *)inner;
		iip->hdr_checksum = 0;
		iip->hdr_checksum = rte_ipv4_cksum(iip);
		memcpy(p->src, osrc, 4);
		memcpy(p->dst, odst, 4);
		oip->hdr_checksum = 0;
		oip->hdr_checksum = rte_ipv4_cksum(oip);
		uint16_t *ic = (uint16_t *)(p->l4 + 2);
		*ic = 0;
		*ic = (uint16_t)~rte_raw_cksum(p->l4, p->l4_len);
	} else {
		memcpy(p->src, osrc, 16);
		memcpy(p->dst, odst, 16);
		uint16_t *ic = (uint16_t *)(p->l4 + 2);
		*ic = 0;
		*ic = icmp6_cksum(p);
	}
	counters[PL_NATLB_ICMP_REWRITTEN]++;
}

/* ---- the packet path ---- */

static uint8_t initial_state(const struct pkt *p)
{
	if (p->proto == IPPROTO_UDP)
		return PL_CT_UDP;
	if (p->proto != IPPROTO_TCP)
		return PL_CT_OTHER; /* SCTP, ICMP echo, any other protocol */
	return (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN ? PL_CT_TCP_SYN : PL_CT_TCP_EST;
}

/* A flow to no service: tracked without NAT, so that the policy stage can let its replies pass
 * (stateful filtering) and see established flows through a restart. */
static void plain_flow(struct natlb *nl, struct rte_mbuf *m, struct pkt *p,
	const struct pl_ct_key *k0, uint64_t *counters)
{
	if (pl_meta(m)->rx_if == PL_IF_SYNTH)
		return; /* the synthetic port's test traffic */
	struct pl_ct_key k1;
	memset(&k1, 0, sizeof(k1));
	memcpy(k1.src, k0->dst, 16);
	memcpy(k1.dst, k0->src, 16);
	k1.sport = k0->dport;
	k1.dport = k0->sport;
	k1.family = k0->family;
	k1.proto = k0->proto;
	uint32_t idx = pl_ct_insert(&nl->ct, k0, &k1, false, nl->now_ms);
	if (idx == PL_CT_NIL) {
		counters[PL_NATLB_SESSIONS_FULL]++;
		pl_stage_drop(m, PL_DROP_SESSIONS_FULL, counters);
		return;
	}
	struct pl_ct_session *s = &nl->ct.s[idx];
	s->state = initial_state(p);
	if (pl_meta(m)->rx_if == PL_IF_HOST)
		s->flags |= PL_CT_F_FROM_HOST;
	s->expires_ms = nl->now_ms + nl->timeout_ms[s->state];
	s->packets = 1;
	pl_ct_publish(&nl->ct, idx);
	counters[PL_NATLB_SESSIONS_CREATED]++;
	pl_meta(m)->session_id = idx + 1;
}

static void new_flow(struct natlb *nl, const struct natlb_gen *g, struct rte_mbuf *m, struct pkt *p,
	const struct pl_ct_key *k0, uint64_t *counters)
{
	const struct natlb_frontend *f =
		g ? natlb_fe_lookup(g, k0->dst, k0->family, k0->dport, k0->proto) : NULL;
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & TCP_RST))
		return; /* nothing to open; the reset goes nowhere */
	if (!f) {
		plain_flow(nl, m, p, k0, counters);
		return;
	}
	if (p->routing) {
		/* As for its session's later packets (one()): the transport checksum counts the
		 * routing header's last address, so NAT cannot be done right; refused, not let
		 * through untranslated. */
		pl_stage_drop(m, PL_DROP_UNSUPPORTED, counters);
		return;
	}
	uint32_t be = choose(nl, g, f, k0, counters);
	if (be == NATLB_NONE) {
		reject(nl, m, p, counters);
		return;
	}
	const struct natlb_backend *b = &g->be[be];
	struct pl_ct_key k1;
	memset(&k1, 0, sizeof(k1));
	memcpy(k1.src, b->addr, 16);
	k1.sport = b->port;
	k1.family = k0->family;
	k1.proto = k0->proto;
	memcpy(k1.dst, k0->src, 16);
	k1.dport = k0->sport;
	bool snat = false;
	if (memcmp(b->addr, k0->src, 16) == 0) {
		/* Hairpin: the endpoint would answer itself; it answers the service address. */
		memcpy(k1.dst, k0->dst, 16);
		snat = true;
	} else if ((f->flags & NATLB_FE_EXTERNAL) && !(b->flags & NATLB_BE_LOCAL)) {
		/* From outside to another node's endpoint: replies must come back through here. */
		for (uint32_t i = 0; i < g->hdr->n_node_addrs; i++) {
			if (g->hdr->node_addrs[i].family == k0->family) {
				memcpy(k1.dst, g->hdr->node_addrs[i].addr, 16);
				snat = true;
				break;
			}
		}
	}
	int dir;
	uint32_t h1 = pl_ct_hash(&k1);
	uint32_t old = pl_ct_lookup(&nl->ct, &k1, h1, &dir);
	if (old != PL_CT_NIL && snat) {
		/* That reply tuple is taken: another source port. */
		uint32_t seed = pl_ct_hash(k0);
		for (int t = 0; t < SNAT_TRIES && old != PL_CT_NIL; t++) {
			k1.dport = rte_cpu_to_be_16((uint16_t)(1024 + (seed + t * 7919u) % 64512));
			old = pl_ct_lookup(&nl->ct, &k1, pl_ct_hash(&k1), &dir);
		}
		if (old != PL_CT_NIL) {
			counters[PL_NATLB_SNAT_NO_PORT]++;
			pl_stage_drop(m, PL_DROP_SESSIONS_FULL, counters);
			return;
		}
	} else if (old != PL_CT_NIL) {
		/* The same client port to the same endpoint through another service address: the
		 * newer flow wins. */
		pl_ct_delete(&nl->ct, old);
		counters[PL_NATLB_SESSIONS_EXPIRED]++;
	}
	uint32_t idx = pl_ct_insert(&nl->ct, k0, &k1, false, nl->now_ms);
	if (idx == PL_CT_NIL) {
		counters[PL_NATLB_SESSIONS_FULL]++;
		pl_stage_drop(m, PL_DROP_SESSIONS_FULL, counters);
		return;
	}
	struct pl_ct_session *s = &nl->ct.s[idx];
	s->state = initial_state(p);
	s->flags |= PL_CT_F_DNAT | (snat ? PL_CT_F_SNAT : 0) |
		    (pl_meta(m)->rx_if == PL_IF_HOST ? PL_CT_F_FROM_HOST : 0);
	s->frontend = (uint32_t)(f - g->fe);
	s->expires_ms = nl->now_ms + nl->timeout_ms[s->state];
	s->packets = 1;
	pl_ct_publish(&nl->ct, idx);
	counters[PL_NATLB_SESSIONS_CREATED]++;
	if (snat)
		counters[PL_NATLB_SNAT_SESSIONS]++;
	counters[PL_NATLB_NAT_FORWARD]++;
	pl_meta(m)->session_id = idx + 1;
	rewrite(p, k1.dst, k1.dport, k1.src, k1.sport);
}

static void one(struct natlb *nl, const struct natlb_gen *g, struct rte_mbuf *m, uint64_t *counters)
{
	struct pkt p;
	parse(m, &p);
	if (link_control6(&p))
		return; /* untracked: policy lets IPv6's own link control pass */
	if (!p.later && (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6) &&
		pl_parse_icmp_error(p.proto, p.l4)) {
		icmp_error(nl, m, &p, counters);
		return;
	}
	struct pl_ct_key k;
	key_of(&p, &k);
	int dir;
	uint32_t idx = pl_ct_lookup(&nl->ct, &k, pl_ct_hash(&k), &dir);
	if (idx != PL_CT_NIL) {
		struct pl_ct_session *s = &nl->ct.s[idx];
		bool reopen = dir == 0 && s->state == PL_CT_TCP_CLOSING &&
			      (p.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
		if (s->expires_ms <= nl->now_ms || reopen) {
			/* Over: a new flow may reuse the tuple (and choose again). */
			pl_ct_delete(&nl->ct, idx);
			counters[PL_NATLB_SESSIONS_EXPIRED]++;
			idx = PL_CT_NIL;
		}
	}
	if (idx == PL_CT_NIL) {
		/* A later fragment's session is made by its first; without one it stays
		 * untracked (policy judges it alone). */
		if (!p.later)
			new_flow(nl, g, m, &p, &k, counters);
		return;
	}
	struct pl_ct_session *s = &nl->ct.s[idx];
	touch(nl, idx, dir, p.tcp_flags);
	pl_meta(m)->session_id = idx + 1;
	if (dir == 1)
		pl_meta(m)->flags |= PL_META_F_REPLY;
	if (!(s->flags & (PL_CT_F_DNAT | PL_CT_F_SNAT)))
		return; /* tracked only */
	if (p.routing) {
		/* The transport checksum counts the routing header's last address, not the one
		 * NAT would rewrite: not translated, not let through untranslated. */
		pl_stage_drop(m, PL_DROP_UNSUPPORTED, counters);
		return;
	}
	if (dir == 0) {
		const struct pl_ct_key *r = &s->key[1];
		rewrite(&p, r->dst, r->dport, r->src, r->sport);
		counters[PL_NATLB_NAT_FORWARD]++;
	} else {
		const struct pl_ct_key *o = &s->key[0];
		rewrite(&p, o->dst, o->dport, o->src, o->sport);
		counters[PL_NATLB_NAT_REVERSE]++;
	}
}

void natlb_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters)
{
	struct natlb *nl = ctx;
	if (!nl || !nl->ct.t)
		return;
	const struct natlb_gen *g = natlb_active(&nl->tables);
	nl->now_ms = pl_now_ms();
	for (unsigned int i = 0; i < n; i++) {
		if (pl_meta(pkts[i])->verdict == PL_VERDICT_DROP)
			continue;
		one(nl, g, pkts[i], counters);
	}
}
