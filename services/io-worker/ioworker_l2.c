/* SPDX-License-Identifier: Apache-2.0 */
/* L2 in io-worker. On the uplink: answer ARP and neighbour solicitations for the node's
 * addresses, learn neighbours, drop unicast frames for other MACs. On the host tap: answer
 * every ARP request and solicitation with the dataplane's MAC (the host's next hop is always
 * the dataplane). On output: rewrite MACs, resolve next hops on the uplink, holding packets
 * (bounded) until the answer comes. Replies reuse the buffer of the request they answer.
 *
 * What the uplink may teach (neigh_input; the table's own rules are in ioworker_neigh.h):
 * - A message about a node address from someone else (ARP sender, NA target, NS source) is an
 *   address conflict: counted, never learned, never answered.
 * - Nothing received creates an entry. A message about an address we have no entry for is
 *   counted (off the uplink's subnets: neigh_refused_offlink; an answer or announcement on
 *   them: neigh_refused_unsolicited) and dropped; a request for our address from an on-subnet
 *   sender is answered but creates no entry (Linux would add a STALE one: under a flood of
 *   requests from made-up senders that would fill the table; we ask when we need to send).
 * - The uplink's subnets are its addresses' prefixes, plus fe80::/10 (always on the link). An
 *   entry router made us resolve outside them (an explicit on-link route, e.g. a /32 address
 *   with an on-link gateway) is on-link by configuration: its answers are taken like others.
 * - Requests (ARP, NS) for a node address are answered only from on-link senders (on a subnet,
 *   or with an entry) and DAD probes (sender 0.0.0.0 / ::: answering them defends our
 *   addresses); never to an address conflict or a sender giving a bad MAC. */
#include "ioworker.h"

#include <arpa/inet.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "pl_log.h"
#include "pl_offload.h"

#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SRC_LL 1
#define ND_OPT_TGT_LL 2
#define ND_NA_F_SOLICITED 0x40
#define ND_NA_F_OVERRIDE 0x20

struct nd_msg {
	uint8_t type;
	uint8_t code;
	rte_be16_t cksum;
	uint8_t flags;
	uint8_t reserved[3];
	uint8_t target[16];
} __rte_packed;

struct nd_opt_ll {
	uint8_t type;
	uint8_t len; /* units of 8 bytes */
	uint8_t mac[6];
} __rte_packed;

static bool is_node_addr(const struct ioworker *w, int family, const uint8_t *a)
{
	size_t n = family == AF_INET ? 4 : 16;
	for (unsigned int i = 0; i < w->uplink.n_addrs; i++)
		if (w->uplink.addrs[i].family == family &&
			memcmp(w->uplink.addrs[i].addr, a, n) == 0)
			return true;
	return false;
}

/* Whether a is inside prefix p. */
static bool in_prefix(const struct pl_prefix *p, const uint8_t *a)
{
	unsigned int bits = p->len, k = 0;
	for (; bits >= 8 && p->addr[k] == a[k]; k++, bits -= 8)
		;
	if (bits >= 8)
		return false;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return bits == 0 || (p->addr[k] & mask) == (a[k] & mask);
}

/* The node address to speak from towards `dst`: one on its subnet, else the first. */
static const uint8_t *node_src(const struct ioworker *w, int family, const uint8_t *dst)
{
	const uint8_t *first = NULL;
	for (unsigned int i = 0; i < w->uplink.n_addrs; i++) {
		const struct pl_prefix *p = &w->uplink.addrs[i];
		if (p->family != family)
			continue;
		if (!first)
			first = p->addr;
		if (in_prefix(p, dst))
			return p->addr;
	}
	return first;
}

/* On one of the uplink's subnets; IPv6 link-local addresses are always on the link. */
static bool on_subnet(const struct ioworker *w, int family, const uint8_t *a)
{
	if (family == AF_INET6 && a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true;
	for (unsigned int i = 0; i < w->uplink.n_addrs; i++)
		if (w->uplink.addrs[i].family == family && in_prefix(&w->uplink.addrs[i], a))
			return true;
	return false;
}

static void flush_pending(struct ioworker *w, struct port *up, struct neigh_entry *e);
static void send_request(struct ioworker *w, struct port *up, int family, const uint8_t *target,
	const uint8_t *dmac);

/* A received ARP/ND message tells that `addr` is at `mac` (NULL: it did not say). Applies the
 * rules above; returns whether the sender is one we may answer (on-link, no conflict). */
static bool neigh_input(struct ioworker *w, struct port *up, int family, const uint8_t *addr,
	const uint8_t *mac, enum neigh_msg msg, uint64_t now_ms)
{
	if (is_node_addr(w, family, addr)) {
		w->local[PL_IOW_NEIGH_ADDRESS_CONFLICT]++;
		return false;
	}
	if (mac && !rte_is_valid_assigned_ether_addr((const struct rte_ether_addr *)mac)) {
		w->local[PL_IOW_NEIGH_REFUSED_BAD_MAC]++;
		return false;
	}
	struct neigh_entry *e = neigh_lookup(&w->neigh, (uint8_t)family, addr);
	if (!e) {
		if (!on_subnet(w, family, addr)) {
			w->local[PL_IOW_NEIGH_REFUSED_OFFLINK]++;
			return false;
		}
		if (msg != NEIGH_MSG_REQUEST)
			w->local[PL_IOW_NEIGH_REFUSED_UNSOLICITED]++;
		return true;
	}
	switch (neigh_offer(&w->neigh, e, mac, msg, now_ms)) {
	case NEIGH_LEARNED:
		if (e->n_pending)
			flush_pending(w, up, e);
		break;
	case NEIGH_REFUSED_UNSOLICITED:
		w->local[PL_IOW_NEIGH_REFUSED_UNSOLICITED]++;
		break;
	case NEIGH_REFUSED_MAC_CHANGE:
		w->local[PL_IOW_NEIGH_REFUSED_MAC_CHANGE]++;
		/* Failover or poisoning? Ask the MAC we have: it answers unless it is gone. */
		if (neigh_verify(&w->neigh, e, now_ms))
			send_request(w, up, family, e->addr, e->mac);
		break;
	case NEIGH_CONFIRMED:
	case NEIGH_IGNORED:
		break;
	}
	return true;
}

static void count_l2(struct ioworker *w, struct rte_mbuf *m)
{
	w->local[PL_IOW_L2_HANDLED]++;
	rte_pktmbuf_free(m);
}

/* Queues a frame on its port; a full queue is flushed first. */
static void queue_tx(struct ioworker *w, struct port *p, struct rte_mbuf *m)
{
	if (!port_queue(p, m)) {
		ioworker_port_flush(w, p);
		port_queue(p, m);
	}
}

/* Sends a frame io-worker made (a reply or a request) and counts it as L2 work. */
static void send_l2(struct ioworker *w, struct port *p, struct rte_mbuf *m)
{
	w->local[PL_IOW_L2_HANDLED]++;
	pl_meta(m)->flags |= PL_META_F_L2;
	queue_tx(w, p, m);
}

/* --- ARP --------------------------------------------------------------------------------- */

static void arp_reply_in_place(struct rte_mbuf *m, const uint8_t mac[6])
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	struct rte_arp_ipv4 *a = &arp->arp_data;
	uint32_t target_ip = a->arp_tip;
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	memcpy(eth->src_addr.addr_bytes, mac, 6);
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_tip = a->arp_sip;
	memcpy(a->arp_sha.addr_bytes, mac, 6);
	a->arp_sip = target_ip;
}

static bool arp_input(struct ioworker *w, struct port *p, struct rte_mbuf *m, uint64_t now_ms)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(struct rte_arp_hdr)) {
		count_l2(w, m);
		return true;
	}
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	struct rte_arp_ipv4 *a = &arp->arp_data;
	if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
		arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
		arp->arp_plen != 4) {
		count_l2(w, m);
		return true;
	}
	uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
	if (p->index == PL_IF_UPLINK && (op == RTE_ARP_OP_REQUEST || op == RTE_ARP_OP_REPLY)) {
		const uint8_t *sip = (const uint8_t *)&a->arp_sip;
		bool for_us = is_node_addr(w, AF_INET, (const uint8_t *)&a->arp_tip);
		/* A reply to a node address answers us; a request for one (not a gratuitous one,
		 * sender = target) asks us; anything else announces. */
		enum neigh_msg msg = op == RTE_ARP_OP_REPLY
					     ? (for_us ? NEIGH_MSG_ANSWER : NEIGH_MSG_ANNOUNCE)
				     : for_us && a->arp_sip != a->arp_tip ? NEIGH_MSG_REQUEST
									  : NEIGH_MSG_ANNOUNCE;
		/* Sender 0.0.0.0: a DAD probe, nothing to learn; answering one for our address
		 * defends it. */
		bool answer = !a->arp_sip ||
			      neigh_input(w, p, AF_INET, sip, a->arp_sha.addr_bytes, msg, now_ms);
		if (op == RTE_ARP_OP_REQUEST && for_us && answer) {
			arp_reply_in_place(m, w->uplink.mac);
			send_l2(w, p, m);
			return true;
		}
	} else if (p->index == PL_IF_HOST && op == RTE_ARP_OP_REQUEST && a->arp_sip &&
		   a->arp_tip != a->arp_sip &&
		   !is_node_addr(w, AF_INET, (const uint8_t *)&a->arp_tip)) {
		/* The host asks for its next hop: that is always us. */
		arp_reply_in_place(m, w->dp_mac);
		send_l2(w, p, m);
		return true;
	}
	count_l2(w, m);
	return true;
}

/* --- IPv6 neighbour discovery ---------------------------------------------------------- */

static uint16_t icmp6_cksum(const struct rte_ipv6_hdr *ip, const void *l4, uint32_t len)
{
	struct {
		uint8_t src[16], dst[16];
		rte_be32_t len;
		uint8_t zero[3], nh;
	} __rte_packed ph;
	memcpy(ph.src, ip->src_addr, 16);
	memcpy(ph.dst, ip->dst_addr, 16);
	ph.len = rte_cpu_to_be_32(len);
	memset(ph.zero, 0, sizeof(ph.zero));
	ph.nh = IPPROTO_ICMPV6;
	uint32_t sum = rte_raw_cksum(&ph, sizeof(ph));
	sum += rte_raw_cksum(l4, len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	return c ? c : 0xffff;
}

/* Turns the solicitation in m into the advertisement that answers it, and sends it. */
static void na_reply_in_place(struct rte_mbuf *m, const uint8_t mac[6])
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct nd_msg *nd = (struct nd_msg *)(ip + 1);
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t unspec[16];
	bool from_unspec = memcmp(ip->src_addr, unspec, 16) == 0;

	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	memcpy(eth->src_addr.addr_bytes, mac, 6);
	memcpy(ip->dst_addr, from_unspec ? all_nodes : ip->src_addr, 16);
	memcpy(ip->src_addr, nd->target, 16);
	ip->hop_limits = 255;
	ip->vtc_flow = RTE_BE32(6u << 28);
	nd->type = ND_NA;
	nd->code = 0;
	nd->flags = (uint8_t)(ND_NA_F_OVERRIDE | (from_unspec ? 0 : ND_NA_F_SOLICITED));
	memset(nd->reserved, 0, sizeof(nd->reserved));
	struct nd_opt_ll *opt = (struct nd_opt_ll *)(nd + 1);
	opt->type = ND_OPT_TGT_LL;
	opt->len = 1;
	memcpy(opt->mac, mac, 6);
	uint32_t l4 = sizeof(*nd) + sizeof(*opt);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)l4);
	nd->cksum = 0;
	nd->cksum = icmp6_cksum(ip, nd, l4);
	m->data_len = m->pkt_len = (uint32_t)(sizeof(*eth) + sizeof(*ip) + l4);
}

/* Finds the link-layer address option of the given type in an ND message. */
static const uint8_t *nd_find_ll(const struct nd_msg *nd, uint32_t len, uint8_t type)
{
	const uint8_t *o = (const uint8_t *)(nd + 1), *end = (const uint8_t *)nd + len;
	while (o + 2 <= end && o[1] != 0 && o + o[1] * 8 <= end) {
		if (o[0] == type && o[1] == 1)
			return o + 2;
		o += o[1] * 8;
	}
	return NULL;
}

/* Returns true when the frame was an ND message and has been dealt with. */
static bool nd_input(struct ioworker *w, struct port *p, struct rte_mbuf *m, uint64_t now_ms)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len < sizeof(*eth) + sizeof(struct rte_ipv6_hdr) + 4)
		return false;
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	if (ip->proto != IPPROTO_ICMPV6)
		return false;
	uint8_t type = *(uint8_t *)(ip + 1);
	uint32_t l4 = len - (uint32_t)(sizeof(*eth) + sizeof(*ip));
	if (rte_be_to_cpu_16(ip->payload_len) < l4)
		l4 = rte_be_to_cpu_16(ip->payload_len);
	/* Router solicitations/advertisements, redirects and MLD stay on their link. */
	if (type == 133 || type == 134 || type == 137 || type == 130 || type == 131 ||
		type == 132 || type == 143) {
		count_l2(w, m);
		return true;
	}
	if (type != ND_NS && type != ND_NA)
		return false;
	if (l4 < sizeof(struct nd_msg) || ip->hop_limits != 255) {
		count_l2(w, m);
		return true;
	}
	struct nd_msg *nd = (struct nd_msg *)(ip + 1);
	if (p->index == PL_IF_UPLINK) {
		static const uint8_t unspec[16];
		const uint8_t *ll =
			nd_find_ll(nd, l4, type == ND_NS ? ND_OPT_SRC_LL : ND_OPT_TGT_LL);
		if (type == ND_NA && nd->target[0] != 0xff) {
			/* The S flag: it answers a solicitation (ours, or it is not for us). */
			neigh_input(w, p, AF_INET6, nd->target, ll,
				nd->flags & ND_NA_F_SOLICITED ? NEIGH_MSG_ANSWER
							      : NEIGH_MSG_ANNOUNCE,
				now_ms);
		} else if (type == ND_NS && is_node_addr(w, AF_INET6, nd->target)) {
			/* From ::, a DAD probe for our address: answering defends it. Otherwise the
			 * source link-layer option teaches what an ARP request's sender does. */
			bool answer = memcmp(ip->src_addr, unspec, 16) == 0 ||
				      neigh_input(w, p, AF_INET6, ip->src_addr, ll,
					      NEIGH_MSG_REQUEST, now_ms);
			if (answer && rte_pktmbuf_tailroom(m) + rte_pktmbuf_data_len(m) >=
					      sizeof(*eth) + sizeof(*ip) + sizeof(*nd) +
						      sizeof(struct nd_opt_ll)) {
				na_reply_in_place(m, w->uplink.mac);
				send_l2(w, p, m);
				return true;
			}
		}
	} else if (p->index == PL_IF_HOST && type == ND_NS &&
		   !is_node_addr(w, AF_INET6, nd->target) && nd->target[0] != 0xff) {
		static const uint8_t unspec[16];
		/* DAD probes (from ::) get no answer: the host's addresses are its own. */
		if (memcmp(ip->src_addr, unspec, 16) != 0) {
			na_reply_in_place(m, w->dp_mac);
			send_l2(w, p, m);
			return true;
		}
	}
	count_l2(w, m);
	return true;
}

bool ioworker_l2_input(struct ioworker *w, struct port *p, struct rte_mbuf *m, uint64_t now_ms)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct pl_pkt_meta *meta = pl_meta(m);
	meta->rx_if = p->index;
	meta->tx_if = 0;
	meta->verdict = PL_VERDICT_PASS;
	meta->drop_reason = PL_DROP_NONE;
	meta->flags = 0;
	meta->nh_index = 0;
	meta->session_id = 0;
	meta->enq_ms = 0;
	if (p->obj.role == PL_ROLE_POD)
		return false; /* a tun: IP only, no L2 */
	if (rte_pktmbuf_data_len(m) < sizeof(*eth))
		return false; /* router marks it malformed */
	if (p->index == PL_IF_UPLINK && rte_is_unicast_ether_addr(&eth->dst_addr) &&
		memcmp(eth->dst_addr.addr_bytes, w->uplink.mac, 6) != 0) {
		w->local[PL_IOW_RX_OTHER_MAC]++;
		rte_pktmbuf_free(m);
		return true;
	}
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP))
		return arp_input(w, p, m, now_ms);
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6))
		return nd_input(w, p, m, now_ms);
	return false;
}

/* --- output ------------------------------------------------------------------------------ */

/* A broadcast ARP request for tip, or one unicast to dmac (verifying an entry). */
static void send_arp_request(
	struct ioworker *w, struct port *up, const uint8_t *tip, const uint8_t *dmac)
{
	const uint8_t *sip = node_src(w, AF_INET, tip);
	struct rte_mbuf *m = sip ? rte_pktmbuf_alloc(w->dp.pool) : NULL;
	if (!m)
		return;
	pl_meta(m)->owner = PL_SVC_IO_WORKER;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr));
	if (!eth) {
		rte_pktmbuf_free(m);
		return;
	}
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	if (dmac)
		memcpy(eth->dst_addr.addr_bytes, dmac, 6);
	else
		memset(eth->dst_addr.addr_bytes, 0xff, 6);
	memcpy(eth->src_addr.addr_bytes, w->uplink.mac, 6);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	memcpy(arp->arp_data.arp_sha.addr_bytes, w->uplink.mac, 6);
	memcpy(&arp->arp_data.arp_sip, sip, 4);
	memset(arp->arp_data.arp_tha.addr_bytes, 0, 6);
	memcpy(&arp->arp_data.arp_tip, tip, 4);
	send_l2(w, up, m);
}

/* A solicitation for tgt to its solicited-node group, or unicast to it at dmac (verifying). */
static void send_ns(struct ioworker *w, struct port *up, const uint8_t *tgt, const uint8_t *dmac)
{
	const uint8_t *sip = node_src(w, AF_INET6, tgt);
	struct rte_mbuf *m = sip ? rte_pktmbuf_alloc(w->dp.pool) : NULL;
	if (!m)
		return;
	pl_meta(m)->owner = PL_SVC_IO_WORKER;
	uint32_t l4 = sizeof(struct nd_msg) + sizeof(struct nd_opt_ll);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, (uint16_t)(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv6_hdr) + l4));
	if (!eth) {
		rte_pktmbuf_free(m);
		return;
	}
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct nd_msg *nd = (struct nd_msg *)(ip + 1);
	struct nd_opt_ll *opt = (struct nd_opt_ll *)(nd + 1);
	/* Solicited-node multicast ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX. */
	uint8_t snm[16] = { 0xff,
		0x02, [11] = 1, [12] = 0xff, [13] = tgt[13], [14] = tgt[14], [15] = tgt[15] };
	uint8_t snm_mac[6] = { 0x33, 0x33, 0xff, tgt[13], tgt[14], tgt[15] };
	memcpy(eth->dst_addr.addr_bytes, dmac ? dmac : snm_mac, 6);
	memcpy(eth->src_addr.addr_bytes, w->uplink.mac, 6);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = RTE_BE32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)l4);
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = 255;
	memcpy(ip->src_addr, sip, 16);
	memcpy(ip->dst_addr, dmac ? tgt : snm, 16);
	memset(nd, 0, sizeof(*nd));
	nd->type = ND_NS;
	memcpy(nd->target, tgt, 16);
	opt->type = ND_OPT_SRC_LL;
	opt->len = 1;
	memcpy(opt->mac, w->uplink.mac, 6);
	nd->cksum = icmp6_cksum(ip, nd, l4);
	send_l2(w, up, m);
}

static void send_request(
	struct ioworker *w, struct port *up, int family, const uint8_t *target, const uint8_t *dmac)
{
	if (family == AF_INET)
		send_arp_request(w, up, target, dmac);
	else
		send_ns(w, up, target, dmac);
}

static void tx_and_free(struct ioworker *w, struct port *p, struct rte_mbuf *m)
{
	queue_tx(w, p, m);
}

void ioworker_port_flush(struct ioworker *w, struct port *p)
{
	struct rte_mbuf *sent[PORT_TXQ];
	int res[PORT_TXQ];
	unsigned int n = port_flush(p, &w->bufs, sent, res);
	for (unsigned int i = 0; i < n; i++) {
		if (pl_meta(sent[i])->flags & PL_META_F_L2) {
			/* io-worker's own ARP/ND frame: counted as l2_handled when made */
		} else if (res[i] >= 0) {
			w->local[PL_IOW_TX_PACKETS]++;
			if (res[i] == PORT_TX_SEGMENTED)
				w->local[PL_IOW_TX_SEGMENTED]++;
			else if (pl_offload_gso(sent[i]))
				w->local[PL_IOW_TX_SUPER_PACKETS]++;
		} else {
			w->local[PL_IOW_DROP(
				res[i] == -EMSGSIZE ? PL_DROP_TOO_BIG : PL_DROP_TX_ERROR)]++;
		}
		if (res[i] != PORT_TX_TAKEN)
			rte_pktmbuf_free(sent[i]);
	}
}

void ioworker_ports_flush(struct ioworker *w)
{
	for (unsigned int i = 0; i < w->n_ports; i++) {
		struct port *p = w->ports[w->port_list[i]];
		if (p && p->n_txq)
			ioworker_port_flush(w, p);
	}
}

static void drop(struct ioworker *w, struct rte_mbuf *m, enum pl_drop_reason r)
{
	w->local[PL_IOW_DROP(r)]++;
	rte_pktmbuf_free(m);
}

/* Sends the packets held for e, now resolved. */
static void flush_pending(struct ioworker *w, struct port *up, struct neigh_entry *e)
{
	for (unsigned int i = 0; i < e->n_pending; i++) {
		struct rte_mbuf *m = e->pending[i];
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		memcpy(eth->dst_addr.addr_bytes, e->mac, 6);
		tx_and_free(w, up, m);
	}
	w->neigh.n_pending -= e->n_pending;
	e->n_pending = 0;
}

static void output_uplink(struct ioworker *w, struct port *up, struct rte_mbuf *m, uint64_t now_ms)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const struct pl_adj *adj = NULL;
	uint8_t family, target[16];
	uint32_t nh = pl_meta(m)->nh_index;
	if (w->adj && nh < PL_ADJ_MAX)
		adj = &w->adj->adj[nh];
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		family = AF_INET;
		memcpy(target, &((struct rte_ipv4_hdr *)(eth + 1))->dst_addr, 4);
	} else {
		family = AF_INET6;
		memcpy(target, ((struct rte_ipv6_hdr *)(eth + 1))->dst_addr, 16);
	}
	if (adj && adj->kind == PL_ADJ_VIA && adj->family == family)
		memcpy(target, adj->nh, family == AF_INET ? 4 : 16);
	memcpy(eth->src_addr.addr_bytes, w->uplink.mac, 6);
	struct neigh_entry *e = neigh_get(&w->neigh, family, target, now_ms);
	w->local[PL_IOW_NEIGH_EVICTED] += w->neigh.evicted;
	w->neigh.evicted = 0;
	if (!e) {
		/* Full of entries in use: the new one waits for room, the old ones keep working. */
		w->local[PL_IOW_NEIGH_TABLE_FULL]++;
		drop(w, m, PL_DROP_NO_NEIGHBOR);
		return;
	}
	enum neigh_probe probe = neigh_should_probe(&w->neigh, e, now_ms);
	if (probe != NEIGH_PROBE_NONE)
		send_request(w, up, family, target, probe == NEIGH_PROBE_UCAST ? e->mac : NULL);
	if (e->state == NEIGH_REACHABLE) {
		memcpy(eth->dst_addr.addr_bytes, e->mac, 6);
		tx_and_free(w, up, m);
	} else if (!neigh_hold(&w->neigh, e, m)) {
		drop(w, m, PL_DROP_NO_NEIGHBOR);
	}
}

void ioworker_l2_output(struct ioworker *w, struct rte_mbuf *m, uint64_t now_ms)
{
	uint16_t tx_if = pl_meta(m)->tx_if;
	struct port *p = tx_if < PL_IF_MAX ? w->ports[tx_if] : NULL;
	/* The synthetic port's sink; also for its packets router routed (synth route=1). */
	if (tx_if == PL_IF_SYNTH || pl_meta(m)->rx_if == PL_IF_SYNTH) {
		w->local[PL_IOW_TX_PACKETS]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (!p) {
		drop(w, m, PL_DROP_NO_PORT);
		return;
	}
	if (tx_if == PL_IF_UPLINK) {
		output_uplink(w, p, m, now_ms);
		return;
	}
	if (tx_if == PL_IF_HOST) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		memcpy(eth->dst_addr.addr_bytes, w->host.mac, 6);
		memcpy(eth->src_addr.addr_bytes, w->dp_mac, 6);
	}
	tx_and_free(w, p, m);
}

void ioworker_pipeline_output(
	struct ioworker *w, struct rte_mbuf **pkts, unsigned int n, uint64_t now_ms)
{
	uint32_t max_ms = w->s.cfg.pipeline.max_sojourn_ms;
	for (unsigned int i = 0; i < n; i++) {
		const struct pl_pkt_meta *meta = pl_meta(pkts[i]);
		/* A packet a stage dropped keeps its reason, however long it took. */
		if (meta->verdict != PL_VERDICT_PASS)
			drop(w, pkts[i],
				meta->drop_reason < PL_DROP_MAX ? meta->drop_reason : PL_DROP_NONE);
		else if (pl_dp_stale(meta->enq_ms, now_ms, max_ms))
			drop(w, pkts[i], PL_DROP_STALE);
		else
			ioworker_l2_output(w, pkts[i], now_ms);
	}
}

void ioworker_l2_housekeeping(struct ioworker *w, uint64_t now_ms)
{
	struct rte_mbuf *dropped[256];
	unsigned int n = neigh_age(&w->neigh, now_ms, dropped, RTE_DIM(dropped));
	for (unsigned int i = 0; i < n; i++)
		drop(w, dropped[i], PL_DROP_NO_NEIGHBOR);
}
