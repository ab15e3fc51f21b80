/* SPDX-License-Identifier: Apache-2.0 */
/* Compiled policy in shared memory: layout, lookups, evaluation and the compiler from
 * Kubernetes-shaped objects (see policy_table.h). */
#include "policy_table.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_memzone.h>

#include "pl_hash.h"
#include "pl_dp.h"
#include "pl_k8s.h"

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static void layout(struct pol_table *t, uint32_t max_ep, uint32_t max_rules)
{
	memset(t, 0, sizeof(*t));
	t->version = POL_VERSION;
	t->max_endpoints = max_ep;
	t->max_rules = max_rules;
	t->active = POL_NONE;
	t->ep_buckets = pow2_at_least(2 * (uint64_t)max_ep);
	t->set_buckets = pow2_at_least(8 * (uint64_t)max_rules);
	uint64_t off = RTE_ALIGN_CEIL(sizeof(struct pol_gen_hdr), 64);
#define PLACE(field, bytes)                              \
	do {                                             \
		t->field = off;                          \
		off = RTE_ALIGN_CEIL(off + (bytes), 64); \
	} while (0)
	PLACE(off_ep_hash, (uint64_t)t->ep_buckets * sizeof(uint32_t));
	PLACE(off_eps, (uint64_t)max_ep * sizeof(struct pol_endpoint));
	PLACE(off_refs, (uint64_t)max_rules * 4 * sizeof(uint32_t));
	PLACE(off_pols, (uint64_t)max_rules * sizeof(struct pol_policy));
	PLACE(off_rules, (uint64_t)max_rules * sizeof(struct pol_rule));
	PLACE(off_ports, (uint64_t)max_rules * sizeof(struct pol_port));
	PLACE(off_cidrs, (uint64_t)max_rules * sizeof(struct pol_cidr));
	PLACE(off_named, (uint64_t)max_ep * 4 * sizeof(struct pol_named_port));
	PLACE(off_names, (uint64_t)(max_rules + max_ep) * POL_NAME_SIZE);
	PLACE(off_set_hash, (uint64_t)t->set_buckets * sizeof(uint32_t));
	PLACE(off_sets, (uint64_t)max_rules * 4 * sizeof(struct pol_set_entry));
	PLACE(off_hits, (uint64_t)max_rules * sizeof(uint64_t));
#undef PLACE
	t->gen_size = off;
	t->gen_off[0] = RTE_ALIGN_CEIL(sizeof(*t), 64);
	t->gen_off[1] = t->gen_off[0] + off;
}

static size_t table_size(const struct pol_table *t)
{
	return t->gen_off[1] + t->gen_size;
}

static void map(struct pol_tables *pt)
{
	struct pol_table *t = pt->t;
	for (int i = 0; i < 2; i++) {
		uint8_t *b = (uint8_t *)t + t->gen_off[i];
		struct pol_gen *g = &pt->gen[i];
		g->hdr = (struct pol_gen_hdr *)b;
		g->ep_hash = (uint32_t *)(b + t->off_ep_hash);
		g->eps = (struct pol_endpoint *)(b + t->off_eps);
		g->refs = (uint32_t *)(b + t->off_refs);
		g->pols = (struct pol_policy *)(b + t->off_pols);
		g->rules = (struct pol_rule *)(b + t->off_rules);
		g->ports = (struct pol_port *)(b + t->off_ports);
		g->cidrs = (struct pol_cidr *)(b + t->off_cidrs);
		g->named = (struct pol_named_port *)(b + t->off_named);
		g->names = (char(*)[POL_NAME_SIZE])(b + t->off_names);
		g->set_hash = (uint32_t *)(b + t->off_set_hash);
		g->sets = (struct pol_set_entry *)(b + t->off_sets);
		g->hits = (uint64_t *)(b + t->off_hits);
		g->ep_mask = t->ep_buckets - 1;
		g->set_mask = t->set_buckets - 1;
	}
}

int pol_table_open(struct pol_tables *pt, uint32_t max_endpoints, uint32_t max_rules, bool *reset)
{
	struct pol_table want;
	bool fresh;
	memset(pt, 0, sizeof(*pt));
	*reset = false;
	if (!max_endpoints || !max_rules)
		return -EINVAL;
	layout(&want, max_endpoints, max_rules);
	const struct rte_memzone *mz = rte_memzone_lookup(POL_MZ_NAME);
	if (!mz) {
		mz = pl_dp_memzone_get(POL_MZ_NAME, table_size(&want), &fresh);
		if (!mz)
			return -rte_errno;
	}
	struct pol_table *t = mz->addr;
	pt->t = t;
	bool ok = t->magic == POL_MAGIC && t->version == POL_VERSION &&
		  t->max_endpoints == want.max_endpoints && t->max_rules == want.max_rules &&
		  t->gen_size == want.gen_size && table_size(t) <= mz->len;
	if (!ok) {
		if (table_size(&want) > mz->len)
			return -EFBIG;
		__atomic_store_n(&t->magic, 0, __ATOMIC_SEQ_CST);
		*t = want;
		map(pt);
		for (int i = 0; i < 2; i++)
			memset(pt->gen[i].hdr, 0, sizeof(struct pol_gen_hdr));
		__atomic_store_n(&t->magic, POL_MAGIC, __ATOMIC_RELEASE);
		*reset = true;
		return 0;
	}
	map(pt);
	if (t->active != POL_NONE && t->active > 1)
		t->active = POL_NONE;
	return 0;
}

/* ---- lookups ---- */

static uint32_t addr_hash(const struct pol_addr *a, uint32_t seed)
{
	return pl_hash_addr(a->addr, a->family == AF_INET ? 4 : 16, seed ^ a->family);
}

static bool addr_eq(const struct pol_addr *a, const struct pol_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

const struct pol_endpoint *pol_endpoint_find(const struct pol_gen *g, const struct pol_addr *a)
{
	uint32_t b = addr_hash(a, 0) & g->ep_mask;
	for (uint32_t n = 0; n <= g->ep_mask; n++, b = (b + 1) & g->ep_mask) {
		uint32_t v = g->ep_hash[b];
		if (!v)
			return NULL;
		if (addr_eq(&g->eps[v - 1].a, a))
			return &g->eps[v - 1];
	}
	return NULL;
}

bool pol_set_has(const struct pol_gen *g, uint32_t set, const struct pol_addr *a)
{
	uint32_t b = addr_hash(a, set) & g->set_mask;
	for (uint32_t n = 0; n <= g->set_mask; n++, b = (b + 1) & g->set_mask) {
		uint32_t v = g->set_hash[b];
		if (!v)
			return false;
		const struct pol_set_entry *e = &g->sets[v - 1];
		if (e->set == set && addr_eq(&e->a, a))
			return true;
	}
	return false;
}

bool pol_is_node_addr(const struct pol_gen *g, const struct pol_addr *a)
{
	for (uint32_t i = 0; i < g->hdr->n_node_addrs; i++)
		if (addr_eq(&g->hdr->node_addrs[i], a))
			return true;
	return false;
}

/* ---- evaluation ---- */

static bool in_prefix(const struct pol_addr *a, const struct pol_cidr *c)
{
	if (a->family != c->a.family)
		return false;
	uint32_t full = c->len / 8, rest = c->len % 8;
	if (memcmp(a->addr, c->a.addr, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((a->addr[full] & mask) != (c->a.addr[full] & mask))
			return false;
	}
	return true;
}

static bool port_match(const struct pol_gen *g, const struct pol_rule *r,
	const struct pol_endpoint *dst_ep, const struct pol_flow *f)
{
	if (r->any_port)
		return true;
	for (uint32_t i = 0; i < r->port_count; i++) {
		const struct pol_port *p = &g->ports[r->port_first + i];
		if (p->proto != f->proto)
			continue;
		if (p->any)
			return true;
		if (p->name[0]) {
			/* A named port is the destination pod's own port of that name. */
			for (uint32_t k = 0; dst_ep && k < dst_ep->port_count; k++) {
				const struct pol_named_port *np = &g->named[dst_ep->port_first + k];
				if (np->proto == f->proto && np->port == f->dport &&
					strcmp(np->name, p->name) == 0)
					return true;
			}
			continue;
		}
		if (f->dport >= p->port && f->dport <= p->end_port)
			return true;
	}
	return false;
}

static bool peer_match(
	const struct pol_gen *g, const struct pol_rule *r, const struct pol_addr *peer)
{
	if (r->any_peer)
		return true;
	if (r->set != POL_NONE && pol_set_has(g, r->set, peer))
		return true;
	for (uint32_t i = 0; i < r->cidr_count;) {
		const struct pol_cidr *block = &g->cidrs[r->cidr_first + i];
		uint32_t k = i + 1;
		bool in = in_prefix(peer, block);
		for (; k < r->cidr_count && g->cidrs[r->cidr_first + k].except; k++)
			if (in && in_prefix(peer, &g->cidrs[r->cidr_first + k]))
				in = false;
		if (in)
			return true;
		i = k;
	}
	return false;
}

static void decide(const struct pol_gen *g, const struct pol_endpoint *ep, enum pol_dir dir,
	const struct pol_flow *f, struct pol_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->allowed = true;
	d->rule = d->policy = POL_NONE;
	d->why = "no policy applies here";
	if (!ep || !ep->local)
		return;
	const struct pol_addr *peer = dir == POL_INGRESS ? &f->src : &f->dst;
	const struct pol_endpoint *dst_ep = dir == POL_INGRESS ? ep : pol_endpoint_find(g, &f->dst);
	uint32_t skip_tier = POL_NONE;
	bool skipping = false;
	uint32_t first_k8s = POL_NONE;
	for (uint32_t i = 0; i < ep->pol_count[dir]; i++) {
		uint32_t pi = g->refs[ep->pol_first[dir] + i];
		const struct pol_policy *p = &g->pols[pi];
		if (p->kind == POL_K8S) {
			if (first_k8s == POL_NONE)
				first_k8s = pi;
			continue;
		}
		if (skipping && p->tier == skip_tier)
			continue;
		skipping = false;
		for (uint32_t k = 0; k < p->rule_count; k++) {
			uint32_t ri = p->rule_first + k;
			const struct pol_rule *r = &g->rules[ri];
			if (!port_match(g, r, dst_ep, f) || !peer_match(g, r, peer))
				continue;
			if (r->action == POL_LOG) {
				if (d->n_logged < RTE_DIM(d->logged))
					d->logged[d->n_logged++] = ri;
				continue;
			}
			if (r->action == POL_PASS) {
				skipping = true;
				skip_tier = p->tier;
				break;
			}
			d->enforced = true;
			d->allowed = r->action == POL_ALLOW;
			d->rule = ri;
			d->policy = pi;
			d->why = d->allowed ? "allowed by a tier rule" : "denied by a tier rule";
			return;
		}
	}
	if (!ep->isolated[dir]) {
		d->why = "not isolated in this direction";
		return;
	}
	d->enforced = true;
	for (uint32_t i = 0; i < ep->pol_count[dir]; i++) {
		uint32_t pi = g->refs[ep->pol_first[dir] + i];
		const struct pol_policy *p = &g->pols[pi];
		if (p->kind != POL_K8S)
			continue;
		for (uint32_t k = 0; k < p->rule_count; k++) {
			uint32_t ri = p->rule_first + k;
			const struct pol_rule *r = &g->rules[ri];
			if (port_match(g, r, dst_ep, f) && peer_match(g, r, peer)) {
				d->allowed = true;
				d->rule = ri;
				d->policy = pi;
				d->why = "allowed by a NetworkPolicy rule";
				return;
			}
		}
	}
	d->allowed = false;
	d->policy = first_k8s;
	d->why = "isolated by NetworkPolicy and no rule allows it";
}

void pol_evaluate(const struct pol_gen *g, const struct pol_flow *f, struct pol_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if ((f->from_host && pol_is_node_addr(g, &f->src)) || pol_is_node_addr(g, &f->dst) ||
		addr_eq(&f->src, &f->dst)) {
		/* The node's own traffic to and from its pods (kubelet probes) always passes, and a
		 * pod cannot block itself. */
		for (int d = 0; d < 2; d++) {
			v->dir[d].allowed = true;
			v->dir[d].rule = v->dir[d].policy = POL_NONE;
			v->dir[d].why = "traffic of the node itself, or of a pod to itself";
		}
		v->allowed = true;
		return;
	}
	decide(g, pol_endpoint_find(g, &f->dst), POL_INGRESS, f, &v->dir[POL_INGRESS]);
	decide(g, pol_endpoint_find(g, &f->src), POL_EGRESS, f, &v->dir[POL_EGRESS]);
	v->allowed = v->dir[POL_INGRESS].allowed && v->dir[POL_EGRESS].allowed;
}
