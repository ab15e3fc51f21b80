/* SPDX-License-Identifier: Apache-2.0 */
/* policy's burst function. Every packet nat-lb tracks carries its conntrack session (every
 * flow of every IP protocol: ports, ICMP echo identifiers, or just the protocol; a later
 * fragment its first fragment's; an ICMP error the session of the packet it quotes). The
 * session's verdict is cached per session slot and build, so a flow is evaluated once — on
 * its first packet, and again on its next packet after any policy change (established
 * connections survive a change that still allows them and stop when it does not). Replies
 * share their session's verdict: replies of allowed flows pass (stateful). The flow evaluated
 * is the original direction as policy must see it: source before SNAT, destination after
 * DNAT. A packet without a session — an ICMP error about no known flow, a later fragment whose
 * first made none, a flow nat-lb could not track — is evaluated on its own, never passed
 * unchecked; only IPv6's link control to link-local or multicast destinations (never routed)
 * and the synthetic port's test traffic pass without a verdict.
 * Fail closed: until the first compile after policy has read its whole datastore, packets to
 * or from pods are dropped (counted not_ready); the node's own traffic (from the host tap, or
 * from the uplink to a node address) passes. A compiled table outlives a restart of policy, so
 * a restarted policy enforces at once. */
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "pl_fib.h"
#include "pl_parse.h"
#include "policy.h"

static bool session_copy(const struct pl_ct *ct, uint32_t idx, struct pl_ct_session *out)
{
	const struct pl_ct_session *s = &ct->s[idx];
	for (int i = 0; i < 4; i++) {
		uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		memcpy(out, s, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq)
			return out->state != PL_CT_FREE;
	}
	return false;
}

static void flow_of(const struct pl_ct_session *s, struct pol_flow *f)
{
	memset(f, 0, sizeof(*f));
	uint32_t len = s->key[0].family == AF_INET ? 4 : 16;
	f->src.family = f->dst.family = s->key[0].family;
	memcpy(f->src.addr, s->key[0].src, len); /* the client, before SNAT */
	memcpy(f->dst.addr, s->key[1].src, len); /* the endpoint, after DNAT */
	f->proto = s->key[0].proto;
	f->dport = rte_be_to_cpu_16(s->key[1].sport);
	f->from_host = (s->flags & PL_CT_F_FROM_HOST) != 0;
}

/* A packet's own flow (no session): its addresses as they are, its conntrack ports. */
static void flow_of_packet(struct rte_mbuf *m, struct pol_flow *f)
{
	const struct pl_pkt_meta *meta = pl_meta(m);
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *) + RTE_ETHER_HDR_LEN;
	bool v4 = meta->pflags & PL_PARSE_V4;
	size_t alen = v4 ? 4 : 16;
	memset(f, 0, sizeof(*f));
	f->src.family = f->dst.family = v4 ? AF_INET : AF_INET6;
	memcpy(f->src.addr, l3 + (v4 ? 12 : 8), alen);
	memcpy(f->dst.addr, l3 + (v4 ? 16 : 24), alen);
	f->proto = meta->l4_proto;
	f->dport = rte_be_to_cpu_16(meta->ports[1]);
	f->from_host = meta->rx_if == PL_IF_HOST;
}

/* IPv6 link control to a link-local or multicast destination (pl_parse.h): not routed. */
static bool link_control6(struct rte_mbuf *m)
{
	const struct pl_pkt_meta *meta = pl_meta(m);
	if (!(meta->pflags & PL_PARSE_V6) || (meta->pflags & PL_PARSE_FRAG_LATER) ||
		meta->l4_proto != IPPROTO_ICMPV6)
		return false;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	return pl_parse_link_control6(d + meta->l4_off, d + RTE_ETHER_HDR_LEN + 24);
}

/* Before the first compile: the node's own traffic only (from the host, or to a node
 * address). */
static bool node_traffic(const struct policy *p, struct rte_mbuf *m)
{
	const struct pl_pkt_meta *meta = pl_meta(m);
	if (meta->rx_if == PL_IF_HOST)
		return true;
	if (meta->rx_if != PL_IF_UPLINK)
		return false; /* a pod's */
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *) + RTE_ETHER_HDR_LEN;
	bool v4 = meta->pflags & PL_PARSE_V4;
	const uint8_t *dst = l3 + (v4 ? 16 : 24);
	for (uint32_t i = 0; i < p->n_node_addrs; i++)
		if (p->node_addrs[i].family == (v4 ? AF_INET : AF_INET6) &&
			memcmp(p->node_addrs[i].addr, dst, v4 ? 4 : 16) == 0)
			return true;
	return false;
}

static void count_hits(const struct pol_gen *g, const struct pol_verdict *v)
{
	for (int d = 0; d < 2; d++) {
		if (v->dir[d].rule != POL_NONE)
			__atomic_fetch_add(&g->hits[v->dir[d].rule], 1, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i < v->dir[d].n_logged; i++)
			__atomic_fetch_add(&g->hits[v->dir[d].logged[i]], 1, __ATOMIC_RELAXED);
	}
}

void policy_stage(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters)
{
	struct policy *p = ctx;
	if (!p || !p->tt.t)
		return;
	const struct pol_gen *g = pol_active(&p->tt);
	if (g && !p->sess)
		policy_attach_sessions(p);
	for (unsigned int i = 0; i < n; i++) {
		struct pl_pkt_meta *meta = pl_meta(pkts[i]);
		if (meta->verdict == PL_VERDICT_DROP)
			continue;
		/* The synthetic port's test traffic never leaves the node: it is judged when it
		 * has a session (benchmarks), never held up otherwise. */
		bool synth = meta->rx_if == PL_IF_SYNTH;
		if (!g) {
			if (synth)
				continue;
			/* Nothing compiled yet: fail closed for pods. */
			if (!node_traffic(p, pkts[i])) {
				counters[PL_POLICY_NOT_READY]++;
				pl_stage_drop(pkts[i], PL_DROP_POLICY_NOT_READY, counters);
			}
			continue;
		}
		if (meta->session_id == 0 || !p->sess || meta->session_id > p->ct.t->capacity) {
			if (synth || link_control6(pkts[i]))
				continue;
			/* Untracked: judged alone, every packet (they are few). */
			struct pol_flow f;
			struct pol_verdict v;
			flow_of_packet(pkts[i], &f);
			pol_evaluate(g, &f, &v);
			counters[PL_POLICY_NOT_TRACKED]++;
			if (!v.allowed) {
				counters[PL_POLICY_PACKETS_DENIED]++;
				pl_stage_drop(pkts[i], PL_DROP_POLICY_DENIED, counters);
			}
			continue;
		}
		uint32_t idx = meta->session_id - 1;
		struct pol_sess *c = &p->sess[idx];
		struct pl_ct_session s;
		if (!session_copy(&p->ct, idx, &s)) {
			/* Gone or being rewritten right now: no verdict can be trusted, so fail
			 * closed. nat-lb tracks the flow again on its next packet (TCP resends). */
			counters[PL_POLICY_SESSION_RACES]++;
			counters[PL_POLICY_PACKETS_DENIED]++;
			pl_stage_drop(pkts[i], PL_DROP_POLICY_DENIED, counters);
			continue;
		}
		/* An odd seq: a policy killed while writing it; written again (else the fast path
		 * refuses the verdict for good). */
		if ((c->seq & 1) || c->created_ms != s.created_ms ||
			c->hash != pol_sess_stamp(s.hash) || c->serial != g->hdr->serial) {
			struct pol_flow f;
			struct pol_verdict v;
			flow_of(&s, &f);
			pol_evaluate(g, &f, &v);
			count_hits(g, &v);
			/* Odd while written, and kept odd (not + 1) if a dead writer left it so. */
			uint32_t seq = c->seq | 1;
			__atomic_store_n(&c->seq, seq, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_RELEASE);
			c->created_ms = s.created_ms;
			c->hash = pol_sess_stamp(s.hash);
			c->serial = g->hdr->serial;
			c->allowed = v.allowed;
			__atomic_store_n(&c->seq, seq + 1, __ATOMIC_RELEASE);
			counters[v.allowed ? PL_POLICY_FLOWS_ALLOWED : PL_POLICY_FLOWS_DENIED]++;
			if (p->tap && p->subscribers) {
				policy_flow_log(p, g, &f, &v);
				counters[PL_POLICY_FLOW_LOGS]++;
			}
		}
		if (!c->allowed) {
			counters[PL_POLICY_PACKETS_DENIED]++;
			pl_stage_drop(pkts[i], PL_DROP_POLICY_DENIED, counters);
		}
	}
}
