/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's ingress checks: parse, anti-spoofing, fragments (ioworker_ingress.h). */
#include "ioworker_ingress.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>

#include "pl_hash.h"
#include "ioworker.h"
#include "pl_log.h"
#include "pl_parse.h"

/* iow_frag_ent.state */
#define IOW_FRAG_FREE 0
#define IOW_FRAG_WAITING 1 /* later fragments held, the first not seen */
#define IOW_FRAG_KNOWN 2
#define IOW_FRAG_POISONED 3 /* the first came twice with other ports: later ones dropped */

static void refuse(
	struct ioworker *w, struct rte_mbuf *m, unsigned int counter, enum pl_drop_reason reason)
{
	w->local[counter]++;
	w->local[PL_IOW_DROP(reason)]++;
	rte_pktmbuf_free(m);
}

/* ---- addresses of the node and its pods ---- */

static uint32_t addr_hash(uint8_t family, const uint8_t *a)
{
	return pl_hash_addr(a, family == AF_INET ? 4 : 16, family);
}

static bool addrset_has(const struct iow_addrset *s, uint8_t family, const uint8_t *a)
{
	if (!s->slot)
		return false;
	size_t alen = family == AF_INET ? 4 : 16;
	for (uint32_t i = addr_hash(family, a) & s->mask;; i = (i + 1) & s->mask) {
		const struct pl_prefix *e = &s->slot[i];
		if (e->len == 0)
			return false;
		if (e->family == family && memcmp(e->addr, a, alen) == 0)
			return true;
	}
}

static void addrset_put(struct iow_addrset *s, const struct pl_prefix *p)
{
	if (addrset_has(s, p->family, p->addr))
		return;
	size_t alen = p->family == AF_INET ? 4 : 16;
	uint32_t i = addr_hash(p->family, p->addr) & s->mask;
	while (s->slot[i].len)
		i = (i + 1) & s->mask;
	memset(&s->slot[i], 0, sizeof(s->slot[i]));
	s->slot[i].family = p->family;
	s->slot[i].len = 1; /* used */
	memcpy(s->slot[i].addr, p->addr, alen);
	s->n++;
}

/* Every address of the uplink, the host tap and every pod io-worker was told of. */
static void local_rebuild(struct ioworker *w)
{
	struct iow_addrset *s = &w->in.local;
	uint32_t n = 0;
	for (unsigned int i = 0; i < PL_IF_MAX; i++) {
		const struct pl_obj_iface *o = ioworker_ctl_wanted((uint16_t)i);
		n += o ? o->n_addrs : 0;
	}
	uint32_t size = 64;
	while (size < 2 * n + 2)
		size *= 2;
	struct pl_prefix *slot = calloc(size, sizeof(*slot));
	if (!slot) {
		PL_WARN("ingress", "no memory for %u local addresses; uplink source check off", n);
		return; /* local_dirty stays: tried again */
	}
	free(s->slot);
	s->slot = slot;
	s->mask = size - 1;
	s->n = 0;
	for (unsigned int i = 0; i < PL_IF_MAX; i++) {
		const struct pl_obj_iface *o = ioworker_ctl_wanted((uint16_t)i);
		for (unsigned int k = 0; o && k < o->n_addrs; k++)
			addrset_put(s, &o->addrs[k]);
	}
	w->in.local_dirty = false;
}

void ioworker_ingress_local_changed(struct ioworker *w)
{
	w->in.local_dirty = true;
}

/* ---- anti-spoofing ---- */

static bool in_prefix(const struct pl_prefix *p, uint8_t family, const uint8_t *a)
{
	if (p->family != family)
		return false;
	uint32_t bits = p->len, full = bits / 8, rest = bits % 8;
	if (memcmp(p->addr, a, full) != 0)
		return false;
	return rest == 0 || ((p->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool martian(uint8_t family, const uint8_t *src)
{
	if (family == AF_INET)
		return src[0] == 127 || src[0] >= 224; /* loopback, multicast, class E, broadcast */
	static const uint8_t loopback[16] = { [15] = 1 };
	return src[0] == 0xff || memcmp(src, loopback, 16) == 0;
}

static bool link_local6(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* 0: the source may enter here; else the counter of why not. */
static unsigned int spoofed(struct ioworker *w, const struct port *p, const struct rte_mbuf *m)
{
	const struct pl_pkt_meta *meta = pl_meta((struct rte_mbuf *)(uintptr_t)m);
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *) + RTE_ETHER_HDR_LEN;
	uint8_t family = (meta->pflags & PL_PARSE_V4) ? AF_INET : AF_INET6;
	const uint8_t *src = l3 + (family == AF_INET ? 12 : 8);
	const uint8_t *dst = l3 + (family == AF_INET ? 16 : 24);
	if (p->obj.role == PL_ROLE_HOST)
		return 0;
	if (martian(family, src))
		return PL_IOW_RX_MARTIAN;
	if (p->obj.role == PL_ROLE_UPLINK) {
		if (w->in.local_dirty)
			local_rebuild(w);
		return addrset_has(&w->in.local, family, src) ? PL_IOW_RX_SPOOFED_UPLINK : 0;
	}
	size_t alen = family == AF_INET ? 4 : 16;
	for (unsigned int i = 0; i < p->obj.n_addrs; i++)
		if (p->obj.addrs[i].family == family &&
			memcmp(p->obj.addrs[i].addr, src, alen) == 0)
			return 0;
	for (unsigned int i = 0; i < p->obj.n_allow_src; i++)
		if (in_prefix(&p->obj.allow_src[i], family, src))
			return 0;
	/* Neighbour discovery and MLD: link-local, and never routed off the link. */
	if (family == AF_INET6 && link_local6(src) && (link_local6(dst) || dst[0] == 0xff))
		return 0;
	return PL_IOW_RX_SPOOFED_POD;
}

/* ---- fragments ---- */

static uint32_t frag_set(
	uint8_t family, const uint8_t *src, const uint8_t *dst, uint32_t id, uint8_t proto)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t h = pl_hash_addr(src, (uint32_t)alen, id ^ ((uint32_t)proto << 24));
	return pl_hash_addr(dst, (uint32_t)alen, h) % IOW_FRAG_SETS;
}

/* The datagram's entry, or NULL; `create`: a free, expired or (last resort) the soonest-expiring
 * way of its set is taken over. */
static struct iow_frag_ent *frag_find(struct ioworker *w, uint8_t family, const uint8_t *src,
	const uint8_t *dst, uint32_t id, uint8_t proto, bool create, uint64_t now_ms)
{
	size_t alen = family == AF_INET ? 4 : 16;
	struct iow_frag_ent *set =
		&w->in.frag[frag_set(family, src, dst, id, proto) * IOW_FRAG_WAYS];
	struct iow_frag_ent *victim = NULL;
	for (int i = 0; i < IOW_FRAG_WAYS; i++) {
		struct iow_frag_ent *e = &set[i];
		bool live = e->state != IOW_FRAG_FREE && e->expires_ms > now_ms;
		if (live && e->id == id && e->family == family && e->proto == proto &&
			memcmp(e->src, src, alen) == 0 && memcmp(e->dst, dst, alen) == 0)
			return e;
		/* The way to take over: a dead one, else the one that would expire first. */
		bool victim_live =
			victim && victim->state != IOW_FRAG_FREE && victim->expires_ms > now_ms;
		if (!victim || (victim_live && (!live || e->expires_ms < victim->expires_ms)))
			victim = e;
	}
	if (!create)
		return NULL;
	uint32_t gen = victim->gen + 1;
	memset(victim, 0, sizeof(*victim));
	victim->gen = gen; /* what was held for the datagram that had it is now unknown */
	victim->family = family;
	victim->proto = proto;
	victim->id = id;
	memcpy(victim->src, src, alen);
	memcpy(victim->dst, dst, alen);
	victim->state = IOW_FRAG_WAITING;
	victim->expires_ms = now_ms + IOW_FRAG_TTL_MS;
	return victim;
}

/* A later fragment of a datagram whose first is known: stamped, or refused. */
static bool frag_stamp(struct ioworker *w, struct iow_frag_ent *e, struct rte_mbuf *m,
	uint32_t offset, uint64_t now_ms)
{
	if (e->state == IOW_FRAG_POISONED || offset < e->first_len) {
		refuse(w, m, PL_IOW_RX_FRAG_OVERLAP, PL_DROP_FRAGMENT);
		return false;
	}
	memcpy(pl_meta(m)->ports, e->ports, sizeof(e->ports));
	pl_meta(m)->l4_proto = e->l4_proto;
	e->expires_ms = now_ms + IOW_FRAG_TTL_MS;
	return true;
}

/* true: m goes on (a first fragment, or a later one stamped); false: held or refused. */
static bool frag_admit(struct ioworker *w, struct rte_mbuf *m, uint64_t now_ms)
{
	struct pl_pkt_meta *meta = pl_meta(m);
	struct pl_frag_info fi;
	if (!pl_parse_frag(m, &fi)) /* cannot happen: PL_PARSE_FRAG was set */
		return true;
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *) + RTE_ETHER_HDR_LEN;
	uint8_t family = (meta->pflags & PL_PARSE_V4) ? AF_INET : AF_INET6;
	const uint8_t *src = l3 + (family == AF_INET ? 12 : 8);
	const uint8_t *dst = l3 + (family == AF_INET ? 16 : 24);
	bool first = !(meta->pflags & PL_PARSE_FRAG_LATER);
	struct iow_frag_ent *e = frag_find(w, family, src, dst, fi.id, fi.nh, true, now_ms);
	if (first) {
		uint32_t len = m->data_len - fi.data_off;
		if (e->state == IOW_FRAG_KNOWN || e->state == IOW_FRAG_POISONED) {
			/* Again: a retransmission is harmless, other ports are an attempt to give
			 * the later fragments another verdict than they will get. */
			if (memcmp(e->ports, meta->ports, sizeof(e->ports)) != 0 ||
				e->l4_proto != meta->l4_proto)
				e->state = IOW_FRAG_POISONED;
			if (len > e->first_len)
				e->first_len = len;
		} else {
			if (e->state == IOW_FRAG_WAITING)
				w->in.release = true;
			memcpy(e->ports, meta->ports, sizeof(e->ports));
			e->l4_proto = meta->l4_proto;
			e->first_len = len;
			e->state = IOW_FRAG_KNOWN;
		}
		e->expires_ms = now_ms + IOW_FRAG_TTL_MS;
		return true;
	}
	if (e->state != IOW_FRAG_WAITING)
		return frag_stamp(w, e, m, fi.offset, now_ms);
	/* Before its first: held, if there is room. */
	if (w->in.n_held == IOW_FRAG_HOLD) {
		refuse(w, m, PL_IOW_RX_FRAG_UNKNOWN, PL_DROP_FRAGMENT);
		return false;
	}
	for (unsigned int i = 0; i < IOW_FRAG_HOLD; i++) {
		struct iow_frag_held *h = &w->in.held[i];
		if (h->m)
			continue;
		h->m = m;
		h->ent = (uint32_t)(e - w->in.frag);
		h->gen = e->gen;
		h->offset = fi.offset;
		h->deadline_ms = now_ms + IOW_FRAG_HOLD_MS;
		if (w->in.n_held++ == 0 || h->deadline_ms < w->in.next_expiry_ms)
			w->in.next_expiry_ms = h->deadline_ms;
		break;
	}
	w->local[PL_IOW_RX_FRAG_HELD]++;
	return false;
}

unsigned int ioworker_frag_release(
	struct ioworker *w, struct rte_mbuf **out, unsigned int max, uint64_t now_ms)
{
	struct iow_ingress *in = &w->in;
	if (in->n_held == 0 || (!in->release && now_ms < in->next_expiry_ms))
		return 0;
	unsigned int k = 0;
	bool more = false;
	uint64_t next = UINT64_MAX;
	/* One pass; fragments may leave in any order (the receiver reassembles them by offset). */
	for (unsigned int i = 0; i < IOW_FRAG_HOLD; i++) {
		struct iow_frag_held *h = &in->held[i];
		if (!h->m)
			continue;
		struct iow_frag_ent *e = &in->frag[h->ent];
		bool gone = e->gen != h->gen || e->state == IOW_FRAG_FREE;
		if (!gone && e->state == IOW_FRAG_WAITING && h->deadline_ms > now_ms) {
			next = h->deadline_ms < next ? h->deadline_ms : next;
			continue; /* still waiting for its first */
		}
		if (k == max) {
			more = true;
			continue;
		}
		struct rte_mbuf *m = h->m;
		h->m = NULL;
		in->n_held--;
		if (gone || e->state == IOW_FRAG_WAITING)
			refuse(w, m, PL_IOW_RX_FRAG_UNKNOWN, PL_DROP_FRAGMENT);
		else if (frag_stamp(w, e, m, h->offset, now_ms))
			out[k++] = m;
	}
	in->next_expiry_ms = more ? now_ms : next;
	in->release = more;
	return k;
}

/* ---- admission ---- */

unsigned int ioworker_admit(struct ioworker *w, const struct port *p, struct rte_mbuf **pkts,
	unsigned int n, uint64_t now_ms)
{
	unsigned int k = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum pl_parse_result r = pl_parse(m);
		if (r != PL_PARSE_OK) {
			refuse(w, m, PL_IOW_PARSE(r),
				r == PL_PARSE_ERR_NOT_IP ? PL_DROP_UNSUPPORTED : PL_DROP_MALFORMED);
			continue;
		}
		unsigned int why = p ? spoofed(w, p, m) : 0;
		if (why) {
			refuse(w, m, why, PL_DROP_SPOOFED);
			continue;
		}
		if ((pl_meta(m)->pflags & PL_PARSE_FRAG) && !frag_admit(w, m, now_ms))
			continue;
		pkts[k++] = m;
	}
	return k;
}

void ioworker_ingress_fini(struct ioworker *w)
{
	for (unsigned int i = 0; i < IOW_FRAG_HOLD; i++) {
		if (w->in.held[i].m)
			rte_pktmbuf_free(w->in.held[i].m);
		w->in.held[i].m = NULL;
	}
	w->in.n_held = 0;
	free(w->in.local.slot);
	w->in.local.slot = NULL;
}
