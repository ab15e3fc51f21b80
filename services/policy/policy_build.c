/* SPDX-License-Identifier: Apache-2.0 */
/* The policy compiler: NetworkPolicies, TierPolicies, Namespaces and Pods -> the inactive
 * generation of the shared table (policy_table.h). Selectors are resolved here, once per
 * change, into endpoint lists (who a policy selects) and IP sets (who a rule's peers are), so
 * the packet path only hashes. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_hash_crc.h>

#include "pl_hash.h"
#include "pl_k8s.h"
#include "policy_table.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

static void fail(struct pol_builder *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct pol_builder *b, int err, const char *fmt, ...)
{
	if (b->err)
		return;
	b->err = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
}

/* ---- selectors ---- */

static const char *label_get(const struct pl_k8s_labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].value;
	return NULL;
}

/* Namespace labels: the object's, or only the automatic name label when there is none. */
struct ns_view {
	const char *name;
	const struct pl_k8s_labels *labels; /* NULL: no Namespace object */
};

static const char *ns_label(const struct ns_view *ns, const char *key)
{
	if (strcmp(key, NS_NAME_LABEL) == 0)
		return ns->name;
	return ns->labels ? label_get(ns->labels, key) : NULL;
}

static bool sel_match_fn(const struct pl_k8s_selector *s, const void *obj,
	const char *(*get)(const void *obj, const char *key))
{
	for (size_t i = 0; i < s->match_labels.n; i++) {
		const char *v = get(obj, s->match_labels.v[i].key);
		if (!v || strcmp(v, s->match_labels.v[i].value) != 0)
			return false;
	}
	for (size_t i = 0; i < s->n_exprs; i++) {
		const struct pl_k8s_expr *e = &s->exprs[i];
		const char *v = get(obj, e->key);
		bool in = false;
		for (size_t k = 0; v && k < e->n_values; k++)
			in |= strcmp(v, e->values[k]) == 0;
		switch (e->op) {
		case PL_K8S_OP_IN:
			if (!in)
				return false;
			break;
		case PL_K8S_OP_NOT_IN:
			if (in)
				return false;
			break;
		case PL_K8S_OP_EXISTS:
			if (!v)
				return false;
			break;
		case PL_K8S_OP_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

static const char *pod_get(const void *o, const char *key)
{
	return label_get(&((const struct pl_k8s_object *)o)->pod.labels, key);
}

static const char *ns_get(const void *o, const char *key)
{
	return ns_label(o, key);
}

/* ---- the compile ---- */

struct pod_ref {
	const struct pl_k8s_object *o;
	struct ns_view ns;
	uint32_t ep[PL_K8S_MAX_POD_IPS]; /* endpoint indexes */
	size_t n_ep;
};

struct vec {
	uint32_t *v;
	size_t n, cap;
};

static int vec_push(struct vec *v, uint32_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 8;
		uint32_t *p = realloc(v->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

struct ctx {
	struct pol_builder *b;
	struct pol_gen *g;
	const struct pol_table *t;
	struct pod_ref *pods;
	size_t n_pods;
	const struct pl_k8s_object **nss;
	size_t n_nss;
	struct vec *sel[2]; /* per endpoint, per direction: selecting policies */
};

static struct ns_view ns_of(const struct ctx *c, const char *name)
{
	struct ns_view v = { .name = name, .labels = NULL };
	for (size_t i = 0; i < c->n_nss; i++)
		if (strcmp(c->nss[i]->name, name) == 0)
			v.labels = &c->nss[i]->nsobj.labels;
	return v;
}

static uint32_t add_name(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static uint32_t add_name(struct ctx *c, const char *fmt, ...)
{
	struct pol_gen_hdr *h = c->g->hdr;
	if (h->n_names >= c->t->max_rules + c->t->max_endpoints) {
		fail(c->b, -ENOSPC, "more than %u names", c->t->max_rules + c->t->max_endpoints);
		return POL_NONE;
	}
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(c->g->names[h->n_names], POL_NAME_SIZE, fmt, ap) >= POL_NAME_SIZE)
		c->g->names[h->n_names][POL_NAME_SIZE - 2] = '~';
	va_end(ap);
	return h->n_names++;
}

static void to_addr(struct pol_addr *a, const struct pl_k8s_ip *ip)
{
	memset(a, 0, sizeof(*a));
	a->family = ip->family;
	memcpy(a->addr, ip->addr, ip->family == AF_INET ? 4 : 16);
}

static uint8_t proto_of(enum pl_k8s_proto p)
{
	return p == PL_K8S_UDP ? IPPROTO_UDP : p == PL_K8S_SCTP ? IPPROTO_SCTP : IPPROTO_TCP;
}

static void add_endpoints(struct ctx *c, const char *node_name)
{
	struct pol_gen *g = c->g;
	struct pol_gen_hdr *h = g->hdr;
	for (size_t i = 0; i < c->n_pods && !c->b->err; i++) {
		struct pod_ref *pr = &c->pods[i];
		const struct pl_k8s_pod *pod = &pr->o->pod;
		for (size_t k = 0; k < pod->n_ips; k++) {
			struct pol_addr a;
			to_addr(&a, &pod->ips[k]);
			if (pol_endpoint_find(g, &a))
				continue; /* the same IP twice: the first pod keeps it */
			if (h->n_endpoints >= c->t->max_endpoints) {
				fail(c->b, -ENOSPC, "more than %u pod addresses",
					c->t->max_endpoints);
				return;
			}
			uint32_t e = h->n_endpoints;
			struct pol_endpoint *ep = &g->eps[e];
			memset(ep, 0, sizeof(*ep));
			ep->a = a;
			ep->local = strcmp(pod->node_name, node_name) == 0;
			ep->ns = add_name(c, "%s/%s", pr->o->ns, pr->o->name);
			ep->port_first = h->n_named;
			for (size_t q = 0; q < pod->n_ports; q++) {
				if (h->n_named >= c->t->max_endpoints * 4) {
					fail(c->b, -ENOSPC, "more than %u named ports",
						c->t->max_endpoints * 4);
					return;
				}
				struct pol_named_port *np = &g->named[h->n_named++];
				memset(np, 0, sizeof(*np));
				snprintf(np->name, sizeof(np->name), "%s", pod->ports[q].name);
				np->proto = proto_of(pod->ports[q].protocol);
				np->port = pod->ports[q].port;
			}
			ep->port_count = h->n_named - ep->port_first;
			uint32_t bkt =
				pl_hash_addr(a.addr, a.family == AF_INET ? 4 : 16, a.family) &
				g->ep_mask;
			while (g->ep_hash[bkt])
				bkt = (bkt + 1) & g->ep_mask;
			g->ep_hash[bkt] = ++h->n_endpoints;
			pr->ep[pr->n_ep++] = e;
		}
	}
}

static void set_add(struct ctx *c, uint32_t set, const struct pol_addr *a)
{
	struct pol_gen *g = c->g;
	struct pol_gen_hdr *h = g->hdr;
	if (pol_set_has(g, set, a))
		return;
	if (h->n_set_entries >= c->t->max_rules * 4) {
		fail(c->b, -ENOSPC, "IP sets over %u entries", c->t->max_rules * 4);
		return;
	}
	struct pol_set_entry *e = &g->sets[h->n_set_entries];
	e->set = set;
	e->a = *a;
	uint32_t bkt =
		pl_hash_addr(a->addr, a->family == AF_INET ? 4 : 16, set ^ a->family) & g->set_mask;
	while (g->set_hash[bkt])
		bkt = (bkt + 1) & g->set_mask;
	g->set_hash[bkt] = ++h->n_set_entries;
}

/* Does pod pr match peer pe of a policy in namespace pol_ns? */
static bool peer_selects(const struct pl_k8s_peer *pe, const struct pod_ref *pr, const char *pol_ns)
{
	if (pe->has_ip_block)
		return false;
	if (pe->ns_sel.present) {
		if (!sel_match_fn(&pe->ns_sel, &pr->ns, ns_get))
			return false;
	} else if (strcmp(pr->o->ns, pol_ns) != 0) {
		return false; /* podSelector alone: the policy's own namespace */
	}
	return !pe->pod_sel.present || sel_match_fn(&pe->pod_sel, pr->o, pod_get);
}

static void add_cidr(struct ctx *c, const struct pl_k8s_cidr *k, bool except)
{
	struct pol_gen_hdr *h = c->g->hdr;
	if (h->n_cidrs >= c->t->max_rules) {
		fail(c->b, -ENOSPC, "more than %u ipBlock entries", c->t->max_rules);
		return;
	}
	struct pol_cidr *pc = &c->g->cidrs[h->n_cidrs++];
	memset(pc, 0, sizeof(*pc));
	pc->a.family = k->family;
	memcpy(pc->a.addr, k->addr, k->family == AF_INET ? 4 : 16);
	pc->len = k->len;
	pc->except = except;
}

static void add_rule(struct ctx *c, uint32_t pi, uint32_t index, const struct pl_k8s_np_rule *r,
	const char *pol_ns)
{
	struct pol_gen *g = c->g;
	struct pol_gen_hdr *h = g->hdr;
	if (h->n_rules >= c->t->max_rules) {
		fail(c->b, -ENOSPC, "more than %u rules", c->t->max_rules);
		return;
	}
	struct pol_rule *pr = &g->rules[h->n_rules++];
	memset(pr, 0, sizeof(*pr));
	pr->action = r->action == PL_K8S_DENY	? POL_DENY
		     : r->action == PL_K8S_PASS ? POL_PASS
		     : r->action == PL_K8S_LOG	? POL_LOG
						: POL_ALLOW;
	pr->policy = pi;
	pr->index = index;
	pr->set = POL_NONE;
	pr->any_port = r->n_ports == 0;
	pr->any_peer = r->n_peers == 0;
	pr->port_first = h->n_ports;
	for (size_t i = 0; i < r->n_ports && !c->b->err; i++) {
		if (h->n_ports >= c->t->max_rules) {
			fail(c->b, -ENOSPC, "more than %u port entries", c->t->max_rules);
			return;
		}
		const struct pl_k8s_np_port *kp = &r->ports[i];
		struct pol_port *pp = &g->ports[h->n_ports++];
		memset(pp, 0, sizeof(*pp));
		pp->proto = proto_of(kp->protocol);
		pp->any = !kp->has_port;
		if (kp->port_name[0]) {
			snprintf(pp->name, sizeof(pp->name), "%s", kp->port_name);
		} else {
			pp->port = kp->port;
			pp->end_port = kp->end_port ? kp->end_port : kp->port;
		}
	}
	pr->port_count = h->n_ports - pr->port_first;
	pr->cidr_first = h->n_cidrs;
	bool any_selector = false;
	for (size_t i = 0; i < r->n_peers; i++) {
		const struct pl_k8s_peer *pe = &r->peers[i];
		if (pe->has_ip_block) {
			add_cidr(c, &pe->cidr, false);
			for (size_t k = 0; k < pe->n_except; k++)
				add_cidr(c, &pe->except[k], true);
		} else {
			any_selector = true;
		}
	}
	pr->cidr_count = h->n_cidrs - pr->cidr_first;
	if (!any_selector)
		return;
	pr->set = h->n_sets++;
	for (size_t q = 0; q < c->n_pods && !c->b->err; q++) {
		const struct pod_ref *pod = &c->pods[q];
		bool hit = false;
		for (size_t i = 0; i < r->n_peers && !hit; i++)
			hit = peer_selects(&r->peers[i], pod, pol_ns);
		for (size_t k = 0; hit && k < pod->n_ep; k++)
			set_add(c, pr->set, &g->eps[pod->ep[k]].a);
	}
}

/* Adds one direction of a policy and appends it to the lists of the endpoints it selects. */
static void add_policy(struct ctx *c, const struct pl_k8s_object *o, enum pol_dir dir,
	const uint32_t *old_hits, const struct pol_gen *old)
{
	struct pol_gen *g = c->g;
	struct pol_gen_hdr *h = g->hdr;
	const struct pl_k8s_netpol *np = &o->np;
	bool tier = o->kind == PL_K8S_TIER_POLICY;
	if (h->n_policies >= c->t->max_rules) {
		fail(c->b, -ENOSPC, "more than %u policies", c->t->max_rules);
		return;
	}
	uint32_t pi = h->n_policies++;
	struct pol_policy *p = &g->pols[pi];
	memset(p, 0, sizeof(*p));
	p->kind = tier ? POL_TIER : POL_K8S;
	p->dir = (uint8_t)dir;
	p->tier = tier ? np->tier : 0;
	p->order = tier ? np->order : 0;
	p->name = add_name(c, "%s %s/%s %s", pl_k8s_kind_name(o->kind), o->ns, o->name,
		dir == POL_INGRESS ? "ingress" : "egress");
	const struct pl_k8s_np_rule *rules =
		dir == POL_INGRESS ? np->ingress_rules : np->egress_rules;
	size_t n = dir == POL_INGRESS ? np->n_ingress : np->n_egress;
	p->rule_first = h->n_rules;
	for (size_t i = 0; i < n && !c->b->err; i++)
		add_rule(c, pi, (uint32_t)i, &rules[i], o->ns);
	p->rule_count = h->n_rules - p->rule_first;
	/* Per-rule hit counters survive a rebuild when the policy is there with as many rules. */
	for (uint32_t i = 0; old && i < old->hdr->n_policies; i++) {
		const struct pol_policy *op = &old->pols[i];
		if (op->rule_count == p->rule_count &&
			strcmp(old->names[op->name], g->names[p->name]) == 0) {
			for (uint32_t k = 0; k < p->rule_count; k++)
				g->hits[p->rule_first + k] = old->hits[op->rule_first + k];
			break;
		}
	}
	(void)old_hits;
	/* Who it selects. */
	for (size_t q = 0; q < c->n_pods && !c->b->err; q++) {
		const struct pod_ref *pod = &c->pods[q];
		bool in_scope = tier && np->ns_sel.present
					? sel_match_fn(&np->ns_sel, &pod->ns, ns_get)
					: strcmp(pod->o->ns, o->ns) == 0;
		if (!in_scope || !sel_match_fn(&np->pod_sel, pod->o, pod_get))
			continue;
		for (size_t k = 0; k < pod->n_ep; k++) {
			uint32_t e = pod->ep[k];
			if (vec_push(&c->sel[dir][e], pi) < 0)
				fail(c->b, -ENOMEM, "out of memory");
			if (!tier)
				g->eps[e].isolated[dir] = 1;
		}
	}
}

static int cmp_tier(const void *a, const void *b, void *arg)
{
	const struct pol_gen *g = arg;
	const struct pol_policy *x = &g->pols[*(const uint32_t *)a],
				*y = &g->pols[*(const uint32_t *)b];
	if (x->kind != y->kind)
		return x->kind == POL_TIER ? -1 : 1; /* tiers first, Kubernetes policies last */
	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(g->names[x->name], g->names[y->name]);
}

static int cmp_obj(const void *a, const void *b)
{
	const struct pl_k8s_object *x = *(const struct pl_k8s_object *const *)a;
	const struct pl_k8s_object *y = *(const struct pl_k8s_object *const *)b;
	int r = strcmp(x->ns, y->ns);
	return r ? r : strcmp(x->name, y->name);
}

int pol_build(struct pol_builder *b, struct pol_tables *tt, const struct pl_k8s_object *const *objs,
	size_t n, const char *node_name, const struct pol_addr *node_addrs, uint32_t n_node_addrs)
{
	memset(b, 0, sizeof(*b));
	b->tt = tt;
	uint32_t a = tt->t->active;
	b->target = a == 0 ? 1 : 0;
	b->g = &tt->gen[b->target];
	const struct pol_gen *old = a < 2 ? &tt->gen[a] : NULL;
	struct pol_gen *g = b->g;
	struct pol_gen_hdr *h = g->hdr;
	memset(h, 0, sizeof(*h));
	memset(g->ep_hash, 0, (size_t)tt->t->ep_buckets * sizeof(uint32_t));
	memset(g->set_hash, 0, (size_t)tt->t->set_buckets * sizeof(uint32_t));
	memset(g->hits, 0, (size_t)tt->t->max_rules * sizeof(uint64_t));
	for (uint32_t i = 0; i < n_node_addrs && i < POL_MAX_NODE_ADDRS; i++)
		h->node_addrs[h->n_node_addrs++] = node_addrs[i];

	struct ctx c = { .b = b, .g = g, .t = tt->t };
	const struct pl_k8s_object **pols = calloc(n + 1, sizeof(*pols));
	const struct pl_k8s_object **pods = calloc(n + 1, sizeof(*pods));
	c.nss = calloc(n + 1, sizeof(*c.nss));
	c.pods = calloc(n + 1, sizeof(*c.pods));
	size_t n_pols = 0, n_pods = 0;
	if (!pols || !pods || !c.nss || !c.pods) {
		fail(b, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		switch (objs[i]->kind) {
		case PL_K8S_NETWORK_POLICY:
		case PL_K8S_TIER_POLICY:
			pols[n_pols++] = objs[i];
			break;
		case PL_K8S_NAMESPACE:
			c.nss[c.n_nss++] = objs[i];
			break;
		case PL_K8S_POD:
			pods[n_pods++] = objs[i];
			break;
		default:
			break;
		}
	}
	/* A stable order, whatever order the datastore reported them in. */
	qsort(pols, n_pols, sizeof(*pols), cmp_obj);
	qsort(pods, n_pods, sizeof(*pods), cmp_obj);
	for (size_t i = 0; i < n_pods; i++) {
		c.pods[i].o = pods[i];
		c.pods[i].ns = ns_of(&c, pods[i]->ns);
	}
	c.n_pods = n_pods;
	add_endpoints(&c, node_name);
	for (int d = 0; d < 2 && !b->err; d++) {
		c.sel[d] = calloc(h->n_endpoints + 1, sizeof(struct vec));
		if (!c.sel[d])
			fail(b, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n_pols && !b->err; i++) {
		if (pols[i]->np.ingress)
			add_policy(&c, pols[i], POL_INGRESS, NULL, old);
		if (pols[i]->np.egress)
			add_policy(&c, pols[i], POL_EGRESS, NULL, old);
	}
	/* Per endpoint and direction: its policies in evaluation order, into refs. */
	for (uint32_t e = 0; e < h->n_endpoints && !b->err; e++) {
		for (int d = 0; d < 2; d++) {
			struct vec *v = &c.sel[d][e];
			if (v->n) /* an empty vector has no array (qsort_r's is nonnull) */
				qsort_r(v->v, v->n, sizeof(uint32_t), cmp_tier, g);
			if (h->n_refs + v->n > (uint64_t)tt->t->max_rules * 4) {
				fail(b, -ENOSPC, "policy references over %u", tt->t->max_rules * 4);
				break;
			}
			g->eps[e].pol_first[d] = h->n_refs;
			g->eps[e].pol_count[d] = (uint32_t)v->n;
			if (v->n)
				memcpy(&g->refs[h->n_refs], v->v, v->n * sizeof(uint32_t));
			h->n_refs += (uint32_t)v->n;
		}
	}
out:
	for (int d = 0; d < 2; d++) {
		for (uint32_t e = 0; c.sel[d] && e < h->n_endpoints; e++)
			free(c.sel[d][e].v);
		free(c.sel[d]);
	}
	free(pols);
	free(pods);
	free(c.nss);
	free(c.pods);
	return b->err;
}

int pol_build_commit(struct pol_builder *b, uint64_t now_ms)
{
	if (b->err)
		return b->err;
	uint32_t a = b->tt->t->active;
	b->g->hdr->built_ms = now_ms;
	/* A first build after a reset starts from the clock, not 1: verdicts cached for an
	 * older table (pl_pol_ct outlives it) must never match a new build by chance. */
	b->g->hdr->serial = a < 2 ? b->tt->gen[a].hdr->serial + 1 : rte_rdtsc();
	__atomic_store_n(&b->tt->t->active, b->target, __ATOMIC_RELEASE);
	return 0;
}
