/* SPDX-License-Identifier: Apache-2.0 */
/* policy's burst function. Every TCP/UDP packet carries its conntrack session (nat-lb tracks
 * every flow); the session's verdict is cached per session slot and build, so a flow is
 * evaluated once — on its first packet, and again on its next packet after any policy change
 * (established connections survive a change that still allows them and stop when it does not).
 * Replies share their session's verdict: replies of allowed flows pass (stateful). The flow
 * evaluated is the original direction as policy must see it: source before SNAT, destination
 * after DNAT. Packets without a session (not TCP/UDP) pass. */
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>

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
	if (!g)
		return; /* nothing compiled yet: no policy exists */
	if (!p->sess && policy_attach_sessions(p) < 0)
		return;
	for (unsigned int i = 0; i < n; i++) {
		struct pl_pkt_meta *meta = pl_meta(pkts[i]);
		if (meta->verdict == PL_VERDICT_DROP)
			continue;
		if (meta->session_id == 0 || meta->session_id > p->ct.t->capacity) {
			counters[PL_POLICY_NOT_TRACKED]++;
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
