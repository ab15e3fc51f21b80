/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's fast path: a packet of an established flow is forwarded here, in one hop, on the
 * decisions the stages already made for it, instead of crossing four processes.
 *
 * Every decision stays with its stage; io-worker only reads what they wrote, each table with its
 * own single writer and its own seqlock:
 *   nat-lb   the session (ipc/pl_ct.h): which direction, which translation;
 *   policy   the session's verdict (pol_sess in policy_table.h), valid for the session it was
 *            decided for and the policy build in force;
 *   router   the session's route per direction (pl_rtc in pl_fib.h), valid for the adjacency
 *            generation in force and the same post-NAT destination.
 * A packet takes the fast path only when all three hold and nothing else needs a stage: TCP or
 * UDP right after a well-formed IP header (no IPv4 options, no IPv6 extension headers, no
 * fragment, a valid IPv4 header checksum), no SYN/FIN/RST (nat-lb follows TCP state on
 * those), a session in state established (TCP) or UDP that is not within FAST_REFRESH_MS (or
 * half its timeout, if shorter) of expiring (so nat-lb sees a packet and extends it), TTL left, and a size within the route's
 * MTU (router makes the ICMP error). Anything else, and every flow after a policy, service or
 * route change, goes through the pipeline, which refreshes the caches.
 *
 * Order: a flow's packets still in the pipeline leave before any of its packets takes the fast
 * path. io-worker numbers what it hands to the pipeline and counts what comes back (in order:
 * one path, FIFO rings), per session and per flow-key hash (a flow's first packets have no
 * session yet when they enter). A packet that could take the fast path while its session's or
 * its flow's last pipeline packet has not come back is HELD (FIFO, IOW_FAST_HOLD packets at most) and sent when
 * it has, after checking the caches again; while a session has held packets, its new packets
 * queue behind them. (Sending them into the pipeline instead would renew the wait forever for
 * a flow that keeps the pipeline busy.) A full hold sends packets the slow way. */
#include "ioworker.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_memzone.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pl_csum.h"
#include "pl_log.h"
#include "pl_offload.h"
#include "pl_parse.h"
#include "policy_table.h"

#define FAST_REFRESH_MS 5000
#define TCP_SYN 0x02
#define TCP_FIN 0x01
#define TCP_RST 0x04

/* Finds what the stages have made so far; called until everything is there. */
void ioworker_fast_attach(struct ioworker *w)
{
	struct iow_fast *f = &w->fast;
	if (!w->s.cfg.pipeline.fast_path)
		return;
	if (!f->ct.t)
		pl_ct_attach(&f->ct); /* keeps nothing when it fails: tried again next time */
	if (f->ct.t && !f->ticket) {
		uint32_t cap = f->ct.t->capacity;
		f->ticket = calloc(cap, sizeof(*f->ticket));
		f->held = calloc(cap, sizeof(*f->held));
		f->hold = calloc(IOW_FAST_HOLD, sizeof(*f->hold));
		f->hold_sess = calloc(IOW_FAST_HOLD, sizeof(*f->hold_sess));
		f->flow_ticket = calloc(IOW_FLOW_TICKETS, sizeof(*f->flow_ticket));
		if (f->ticket && f->held && f->hold && f->hold_sess && f->flow_ticket) {
			f->n_ticket = cap;
		} else {
			ioworker_fast_fini(w);
			PL_WARN("fast", "out of memory for %u sessions: fast path off", cap);
		}
	}
	if (!f->rtc) {
		const struct rte_memzone *mz = rte_memzone_lookup(PL_RTC_MZ_NAME);
		const struct pl_rtc *c = mz ? mz->addr : NULL;
		if (c && __atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) == PL_RTC_MAGIC &&
			c->version == PL_RTC_VERSION)
			f->rtc = c;
	}
	if (!f->pol) {
		const struct rte_memzone *mz = rte_memzone_lookup(POL_MZ_NAME);
		const struct pol_table *t = mz ? mz->addr : NULL;
		if (t && __atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) == POL_MAGIC &&
			t->version == POL_VERSION)
			f->pol = t;
	}
	if (!f->sess && f->ct.t) {
		const struct rte_memzone *mz = rte_memzone_lookup(POL_CT_MZ_NAME);
		if (mz && mz->len >= (size_t)f->ct.t->capacity * sizeof(struct pol_sess))
			f->sess = mz->addr;
	}
}

bool ioworker_fast_ready(const struct ioworker *w)
{
	const struct iow_fast *f = &w->fast;
	return w->s.cfg.pipeline.fast_path && f->ct.t && f->ticket && f->rtc && f->pol && f->sess &&
	       w->adj;
}

/* The policy verdict cached for session idx (copy s), if it is valid now. */
static bool verdict_allows(const struct iow_fast *f, uint32_t idx, const struct pl_ct_session *s)
{
	uint64_t serial = pol_active_serial(f->pol);
	if (serial == 0)
		return true; /* no policy compiled: policy passes everything */
	const struct pol_sess *c = &f->sess[idx];
	uint32_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
	if (seq & 1)
		return false;
	struct pol_sess v = *c;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&c->seq, __ATOMIC_RELAXED) != seq)
		return false;
	return v.serial == serial && v.created_ms == s->created_ms &&
	       v.hash == pol_sess_stamp(s->hash) && v.allowed;
}

/* The route router recorded for (idx, dir), if it still holds for dst and from_host. */
static bool cached_route(const struct ioworker *w, uint32_t idx, int dir, uint8_t family,
	const uint8_t *dst, bool from_host, struct pl_rtc_entry *out)
{
	const struct pl_rtc *c = w->fast.rtc;
	uint64_t slot = (uint64_t)idx * 2 + (uint64_t)dir;
	if (slot >= c->n_entries)
		return false;
	const struct pl_rtc_entry *e = &c->e[slot];
	uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (seq & 1)
		return false;
	*out = *e;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != seq)
		return false;
	return out->family == family && out->from_host == from_host &&
	       out->generation == __atomic_load_n(&w->adj->generation, __ATOMIC_ACQUIRE) &&
	       out->nh_index > PL_ADJ_INVALID && out->nh_index < PL_ADJ_MAX &&
	       memcmp(out->dst, dst, family == AF_INET ? 4 : 16) == 0;
}

/* How long before its expiry a session's packets go through nat-lb again, which extends it:
 * FAST_REFRESH_MS, or half the state's idle timeout when that is shorter. */
static uint64_t refresh_margin(const struct pl_config *cfg, uint8_t state)
{
	uint64_t t = (uint64_t)(state == PL_CT_UDP ? cfg->services.udp_timeout_s
						   : cfg->services.tcp_established_timeout_s) *
		     1000 / 2;
	return t < FAST_REFRESH_MS ? t : FAST_REFRESH_MS;
}

static void hold(struct iow_fast *f, struct rte_mbuf *m, uint32_t idx)
{
	uint32_t tail = (f->hold_head + f->n_hold) % IOW_FAST_HOLD;
	f->hold[tail] = m;
	f->hold_sess[tail] = idx;
	f->n_hold++;
	f->held[idx]++;
}

#define FAST_WAIT 3 /* from the hold: still waiting, leave it first in line */

/* from_hold: m is the oldest held packet of its session, being released. */
static int try_forward(struct ioworker *w, struct rte_mbuf *m, uint64_t now_ms,
	struct iow_ticket *tk, bool from_hold)
{
	struct iow_fast *f = &w->fast;
	tk->sess = PL_CT_NIL;
	tk->flow = 0;
	/* io-worker parsed it at ingress (pl_parse.h): headers valid, padding trimmed. */
	const struct pl_pkt_meta *pm = pl_meta(m);
	uint8_t proto = pm->l4_proto, family, *src, *dst, *ttl;
	uint8_t *l3 = rte_pktmbuf_mtod(m, uint8_t *) + RTE_ETHER_HDR_LEN;
	uint8_t *l4 = rte_pktmbuf_mtod(m, uint8_t *) + pm->l4_off;
	uint32_t l3_len = m->data_len - RTE_ETHER_HDR_LEN;
	if ((pm->pflags & (PL_PARSE_OPTS | PL_PARSE_FRAG)) ||
		(proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return IOW_FAST_SLOW;
	if (pm->pflags & PL_PARSE_V4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;
		family = AF_INET;
		src = (uint8_t *)&ip->src_addr;
		dst = (uint8_t *)&ip->dst_addr;
		ttl = &ip->time_to_live;
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)l3;
		family = AF_INET6;
		src = ip->src_addr;
		dst = ip->dst_addr;
		ttl = &ip->hop_limits;
		/* Link-local destinations stay on their link: router drops them. */
		if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)
			return IOW_FAST_SLOW;
	}
	uint16_t *csum;
	bool state_change = false; /* SYN, FIN, RST: nat-lb must see it */
	if (proto == IPPROTO_TCP) {
		const struct rte_tcp_hdr *t = (const struct rte_tcp_hdr *)l4;
		state_change = (t->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)) != 0;
		csum = (uint16_t *)(l4 + offsetof(struct rte_tcp_hdr, cksum));
	} else {
		csum = (uint16_t *)(l4 + offsetof(struct rte_udp_hdr, dgram_cksum));
		if (family == AF_INET && *csum == 0)
			csum = NULL; /* no checksum to keep */
	}
	uint16_t *ports = (uint16_t *)l4;
	size_t alen = family == AF_INET ? 4 : 16;

	struct pl_ct_key k;
	memset(&k, 0, sizeof(k));
	memcpy(k.src, src, alen);
	memcpy(k.dst, dst, alen);
	k.sport = ports[0];
	k.dport = ports[1];
	k.family = family;
	k.proto = proto;
	struct pl_ct_session s;
	int dir;
	uint32_t h = pl_ct_hash(&k);
	/* Even when it goes slow, and before nat-lb made its session: later packets wait for it. */
	tk->flow = h ? h : 1;
	uint32_t idx = pl_ct_read_hashed(&f->ct, &k, h, &dir, &s);
	if (idx == PL_CT_NIL || idx >= f->n_ticket)
		return IOW_FAST_SLOW;
	tk->sess = idx;
	if (!from_hold && f->held[idx]) {
		/* Behind its session's held packets, whatever it is: order first. */
		if (f->n_hold == IOW_FAST_HOLD || f->held[idx] == UINT16_MAX)
			return IOW_FAST_SLOW;
		hold(f, m, idx);
		return IOW_FAST_HELD;
	}
	if (state_change)
		return IOW_FAST_SLOW;
	if ((s.state != PL_CT_TCP_EST && s.state != PL_CT_UDP) ||
		s.expires_ms < now_ms + refresh_margin(&w->s.cfg, s.state))
		return IOW_FAST_SLOW;
	if (!verdict_allows(f, idx, &s))
		return IOW_FAST_SLOW;
	/* The translation nat-lb applies in this direction. */
	const struct pl_ct_key *t = &s.key[dir == 0 ? 1 : 0];
	bool nat = (s.flags & (PL_CT_F_DNAT | PL_CT_F_SNAT)) != 0;
	const uint8_t *nsrc = nat ? t->dst : src, *ndst = nat ? t->src : dst;
	struct pl_rtc_entry r;
	struct pl_pkt_meta *meta = pl_meta(m);
	bool from_host = meta->rx_if == PL_IF_HOST;
	if (!cached_route(w, idx, dir, family, ndst, from_host, &r))
		return IOW_FAST_SLOW;
	const struct pl_adj *a = &w->adj->adj[r.nh_index];
	uint8_t kind = __atomic_load_n(&a->kind, __ATOMIC_ACQUIRE);
	if (kind == PL_ADJ_NONE || kind == PL_ADJ_DROP || a->family != family)
		return IOW_FAST_SLOW;
	bool forward = kind != PL_ADJ_LOCAL && !from_host;
	if (forward && *ttl <= 1)
		return IOW_FAST_SLOW;
	uint32_t wire = pl_offload_gso(m) ? pl_offload_seg_l3_len(m) : l3_len;
	if (a->mtu && wire > a->mtu)
		return IOW_FAST_SLOW;
	if (f->ticket[idx] > f->returned ||
		f->flow_ticket[tk->flow & (IOW_FLOW_TICKETS - 1)] > f->returned) {
		/* Its flow's earlier packets are still in the pipeline: wait for them. */
		if (from_hold)
			return FAST_WAIT;
		if (f->n_hold == IOW_FAST_HOLD || f->held[idx] == UINT16_MAX)
			return IOW_FAST_SLOW;
		hold(f, m, idx);
		return IOW_FAST_HELD;
	}

	/* Decided: rewrite, age, hand to L2 output. */
	uint16_t *ip4_csum =
		family == AF_INET ? (uint16_t *)(l3 + offsetof(struct rte_ipv4_hdr, hdr_checksum))
				  : NULL;
	if (nat)
		pl_csum_rewrite_flow(src, dst, alen, ports, ip4_csum, csum, pl_offload_partial(m),
			proto == IPPROTO_UDP, nsrc, nat ? t->dport : ports[0], ndst,
			nat ? t->sport : ports[1]);
	if (forward) {
		if (family == AF_INET) {
			uint8_t old[2] = { *ttl, ((uint8_t *)l3)[9] },
				new[2] = { (uint8_t)(*ttl - 1), ((uint8_t *)l3)[9] };
			*ip4_csum = pl_csum_apply(*ip4_csum, pl_csum_diff(0, old, new, 2));
		}
		(*ttl)--;
	}
	meta->tx_if = r.tx_if;
	meta->nh_index = r.nh_index;
	meta->session_id = idx + 1;
	meta->flags = (uint8_t)((meta->flags & ~PL_META_F_REPLY) | (dir ? PL_META_F_REPLY : 0));
	w->local[PL_IOW_FAST_PATH]++;
	if (meta->rx_if == PL_IF_SYNTH) /* the synthetic sink counts it as the pipeline's */
		ioworker_synth_sunk(&w->synth, 1, rte_rdtsc());
	ioworker_l2_output(w, m, now_ms);
	return IOW_FAST_SENT;
}

int ioworker_fast_forward(
	struct ioworker *w, struct rte_mbuf *m, uint64_t now_ms, struct iow_ticket *t)
{
	return try_forward(w, m, now_ms, t, false);
}

unsigned int ioworker_fast_release(struct ioworker *w, uint64_t now_ms)
{
	struct iow_fast *f = &w->fast;
	unsigned int n = 0;
	while (f->n_hold) {
		uint32_t at = f->hold_head, idx = f->hold_sess[at];
		if (f->ticket[idx] > f->returned)
			break; /* FIFO: the rest waits behind it */
		struct rte_mbuf *m = f->hold[at];
		struct iow_ticket t = { .sess = PL_CT_NIL };
		int r = ioworker_fast_ready(w) ? try_forward(w, m, now_ms, &t, true)
					       : IOW_FAST_SLOW;
		if (r == FAST_WAIT)
			break;
		f->hold_head = (at + 1) % IOW_FAST_HOLD;
		f->n_hold--;
		f->held[idx]--;
		n++;
		if (r == IOW_FAST_SLOW) { /* a cache changed while it waited: the stages decide */
			t.sess = idx;
			ioworker_pipeline_enqueue(w, &m, 1, &t);
		}
	}
	return n;
}

void ioworker_fast_fini(struct ioworker *w)
{
	struct iow_fast *f = &w->fast;
	/* Held packets stay tagged with io-worker: freed here, or reclaimed after a crash. */
	while (f->n_hold && f->hold) {
		rte_pktmbuf_free(f->hold[f->hold_head]);
		f->hold_head = (f->hold_head + 1) % IOW_FAST_HOLD;
		f->n_hold--;
	}
	free(f->ticket);
	free(f->held);
	free(f->hold);
	free(f->hold_sess);
	free(f->flow_ticket);
	f->flow_ticket = NULL;
	f->ticket = NULL;
	f->held = NULL;
	f->hold = NULL;
	f->hold_sess = NULL;
	f->n_ticket = 0;
}
