/* SPDX-License-Identifier: Apache-2.0 */
/* router's FIB (see router_fib.h). Every change is written to the registry's intent log first,
 * so that a router killed in the middle of one finds at its next open which route to redo or
 * undo in the LPM; the registry's indices and the adjacency reference counts are recomputed
 * from the route slots at every open. LPM next hops are adjacency indices; /0 routes live in the
 * registry header because rte_lpm and rte_lpm6 have no depth 0. */
#include "router_fib.h"

#include "pl_dp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_atomic.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_memzone.h>
#include <rte_random.h>

#define NIL PL_ROUTES_NIL
#define LPM4_MIN_TBL8S 256u
#define LPM6_MIN_TBL8S 256u
#define LPM6_MAX_TBL8S 65536u
#define BULK_CHUNK 64

/* Identifies this process's code layout. rte_lpm6 keeps its rules in an rte_hash that stores
 * a pointer to a hash function; in another process (a restarted router, with ASLR) that pointer
 * is garbage, and any add or delete would jump through it. Lookups do not use the hash. */
static uint64_t proc_token;

static int fam_index(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

static unsigned int max_len(int fi)
{
	return fi == 0 ? 32 : 128;
}

static void mask_prefix(int fi, const uint8_t *in, uint8_t len, uint8_t out[16])
{
	memset(out, 0, 16);
	memcpy(out, in, fi == 0 ? 4 : 16);
	unsigned int full = len / 8u;
	if (len % 8u) {
		out[full] &= (uint8_t)(0xff00u >> (len % 8u));
		full++;
	}
	memset(out + full, 0, 16 - full);
}

/* Keys are hashed as words copied out with memcpy: rte_jhash() reads its key through a
 * uint32_t pointer, which breaks strict aliasing on byte arrays and structs of bytes (at -O2
 * the hash then reads stale values). */
static uint32_t route_bucket(int family, const uint8_t *prefix, uint8_t len)
{
	uint32_t w[4];
	memcpy(w, prefix, sizeof(w));
	return rte_jhash_32b(w, RTE_DIM(w), ((uint32_t)family << 8) | len) &
	       (PL_ROUTES_BUCKETS - 1);
}

/* The fields that make two adjacencies the same. */
struct adj_key {
	uint8_t kind;
	uint8_t family;
	uint16_t tx_if;
	uint32_t mtu;
	uint8_t nh[16];
};
_Static_assert(sizeof(struct adj_key) == 24, "adj_key is hashed as 6 words, no padding");

static void adj_key_of(const struct pl_adj *a, struct adj_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = a->kind;
	k->family = a->family;
	k->tx_if = a->tx_if;
	k->mtu = a->mtu;
	memcpy(k->nh, a->nh, sizeof(k->nh));
}

static uint32_t adj_bucket(const struct adj_key *k)
{
	uint32_t w[sizeof(*k) / sizeof(uint32_t)];
	memcpy(w, k, sizeof(w));
	return rte_jhash_32b(w, RTE_DIM(w), 0) & (PL_ADJ_BUCKETS - 1);
}

/* Validates *in and normalises it into *out (no next hop unless VIA; IPv4 in 4 bytes). */
static int adj_normalize(const struct pl_adj *in, struct pl_adj *out)
{
	if (in->kind <= PL_ADJ_NONE || in->kind > PL_ADJ_VIA || in->tx_if >= PL_IF_MAX)
		return -EINVAL;
	if (in->family != AF_INET && in->family != AF_INET6)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->kind = in->kind;
	out->family = in->family;
	out->tx_if = in->tx_if;
	out->mtu = in->mtu;
	if (in->kind == PL_ADJ_VIA)
		memcpy(out->nh, in->nh, in->family == AF_INET ? 4 : 16);
	return 0;
}

static void gen_bump(struct router_fib *f)
{
	__atomic_store_n(&f->adj->generation, f->adj->generation + 1, __ATOMIC_RELEASE);
}

static void intent(struct pl_route_table *rt, uint32_t op, uint32_t slot)
{
	rt->pending_slot = slot;
	__atomic_store_n(&rt->pending_op, op, __ATOMIC_SEQ_CST);
}

static void intent_done(struct pl_route_table *rt)
{
	__atomic_store_n(&rt->pending_op, PL_ROUTES_OP_NONE, __ATOMIC_SEQ_CST);
}

/* Adjacencies */

static uint32_t adj_find(const struct router_fib *f, const struct adj_key *k)
{
	const struct pl_route_table *rt = f->routes;
	for (uint32_t i = rt->adj_bucket[adj_bucket(k)]; i != NIL; i = rt->adj_next[i]) {
		struct adj_key o;
		adj_key_of(&f->adj->adj[i], &o);
		if (memcmp(&o, k, sizeof(o)) == 0)
			return i;
	}
	return NIL;
}

static void adj_link(struct router_fib *f, uint32_t idx)
{
	struct adj_key k;
	adj_key_of(&f->adj->adj[idx], &k);
	uint32_t b = adj_bucket(&k);
	f->routes->adj_next[idx] = f->routes->adj_bucket[b];
	f->routes->adj_bucket[b] = idx;
}

static void adj_unlink(struct router_fib *f, uint32_t idx)
{
	struct adj_key k;
	adj_key_of(&f->adj->adj[idx], &k);
	uint32_t *p = &f->routes->adj_bucket[adj_bucket(&k)];
	while (*p != NIL && *p != idx)
		p = &f->routes->adj_next[*p];
	if (*p == idx)
		*p = f->routes->adj_next[idx];
	f->routes->adj_next[idx] = NIL;
}

/* A reference to an adjacency equal to *want (normalised): an existing one, or a new slot. */
static int adj_get(struct router_fib *f, const struct pl_adj *want, uint32_t *idx)
{
	struct adj_key k;
	adj_key_of(want, &k);
	uint32_t i = adj_find(f, &k);
	if (i != NIL) {
		f->adj->adj[i].refs++;
		*idx = i;
		return 0;
	}
	/* Round robin from the cursor, so that a freed slot is reused as late as possible. */
	uint32_t c = f->routes->adj_cursor;
	for (uint32_t n = 0; n < PL_ADJ_MAX - 1; n++, c++) {
		if (c == 0 || c >= PL_ADJ_MAX)
			c = 1;
		struct pl_adj *a = &f->adj->adj[c];
		if (a->kind != PL_ADJ_NONE)
			continue;
		a->family = want->family;
		a->tx_if = want->tx_if;
		a->mtu = want->mtu;
		memcpy(a->nh, want->nh, sizeof(a->nh));
		a->refs = 1;
		a->pad_ = 0;
		__atomic_store_n(&a->kind, want->kind, __ATOMIC_RELEASE);
		adj_link(f, c);
		f->routes->adj_cursor = c + 1 < PL_ADJ_MAX ? c + 1 : 1;
		*idx = c;
		return 0;
	}
	return -ENOSPC;
}

static void adj_free(struct router_fib *f, uint32_t idx)
{
	adj_unlink(f, idx);
	f->adj->adj[idx].refs = 0;
	__atomic_store_n(&f->adj->adj[idx].kind, (uint8_t)PL_ADJ_NONE, __ATOMIC_RELEASE);
}

static void adj_put(struct router_fib *f, uint32_t idx)
{
	struct pl_adj *a = &f->adj->adj[idx];
	if (idx == PL_ADJ_INVALID || idx >= PL_ADJ_MAX || a->kind == PL_ADJ_NONE)
		return;
	if (a->refs > 0)
		a->refs--;
	if (a->refs == 0)
		adj_free(f, idx);
}

/* Route registry */

static uint32_t route_find(
	const struct pl_route_table *rt, int family, const uint8_t *prefix, uint8_t len)
{
	for (uint32_t i = rt->bucket[route_bucket(family, prefix, len)]; i != NIL;
		i = rt->route[i].next) {
		const struct pl_route *r = &rt->route[i];
		if (r->in_use && r->family == family && r->len == len &&
			memcmp(r->prefix, prefix, 16) == 0)
			return i;
	}
	return NIL;
}

static void route_link(struct pl_route_table *rt, uint32_t slot)
{
	struct pl_route *r = &rt->route[slot];
	uint32_t b = route_bucket(r->family, r->prefix, r->len);
	r->next = rt->bucket[b];
	rt->bucket[b] = slot;
}

static void route_unlink(struct pl_route_table *rt, uint32_t slot)
{
	struct pl_route *r = &rt->route[slot];
	uint32_t *p = &rt->bucket[route_bucket(r->family, r->prefix, r->len)];
	while (*p != NIL && *p != slot)
		p = &rt->route[*p].next;
	if (*p == slot)
		*p = r->next;
	r->next = NIL;
}

static void route_release_slot(struct pl_route_table *rt, uint32_t slot)
{
	struct pl_route *r = &rt->route[slot];
	r->in_use = 0;
	r->next = rt->free_head;
	rt->free_head = slot;
}

/* LPM */

static uint32_t prefix4(const uint8_t *prefix)
{
	uint32_t be;
	memcpy(&be, prefix, sizeof(be));
	return rte_be_to_cpu_32(be);
}

static int lpm6_rebuild(struct router_fib *f);

static int lpm_install(struct router_fib *f, const struct pl_route *r)
{
	int fi = fam_index(r->family);
	if (fi == 1 && f->stale6 && lpm6_rebuild(f) < 0)
		return -ENOMEM;
	if (r->len == 0) {
		__atomic_store_n(&f->routes->default_adj[fi], r->adj, __ATOMIC_RELEASE);
		return 0;
	}
	if (fi == 0)
		return rte_lpm_add(f->lpm4, prefix4(r->prefix), r->len, r->adj);
	return rte_lpm6_add(f->lpm6, r->prefix, r->len, r->adj);
}

static int lpm_remove(struct router_fib *f, const struct pl_route *r)
{
	int fi = fam_index(r->family);
	if (fi == 1 && f->stale6 && lpm6_rebuild(f) < 0)
		return -ENOMEM;
	if (r->len == 0) {
		__atomic_store_n(&f->routes->default_adj[fi], PL_ADJ_INVALID, __ATOMIC_RELEASE);
		return 0;
	}
	if (fi == 0)
		return rte_lpm_delete(f->lpm4, prefix4(r->prefix), r->len);
	return rte_lpm6_delete(f->lpm6, r->prefix, r->len);
}

/* Installs every registry route of family fi into its LPM (idempotent). Routes that do not fit
 * (LPM groups exhausted) leave the registry. Returns how many were dropped. */
static unsigned int lpm_install_all(struct router_fib *f, int fi)
{
	struct pl_route_table *rt = f->routes;
	unsigned int dropped = 0;
	rt->lpm_complete[fi] = 0;
	for (uint32_t s = 0; s < PL_ROUTES_SLOTS; s++) {
		struct pl_route *r = &rt->route[s];
		if (!r->in_use || fam_index(r->family) != fi)
			continue;
		if (lpm_install(f, r) < 0) {
			r->in_use = 0; /* reindex() puts it back on the free list */
			dropped++;
		}
	}
	rt->lpm_complete[fi] = 1;
	return dropped;
}

/* Open and recovery */

static unsigned int tbl8s4(uint32_t max_routes)
{
	/* A route longer than /24 needs one group for its /24: a quarter of them is generous. */
	return RTE_MAX(LPM4_MIN_TBL8S, max_routes / 4);
}

static unsigned int tbl8s6(uint32_t max_routes)
{
	return RTE_MIN(LPM6_MAX_TBL8S, RTE_MAX(LPM6_MIN_TBL8S, max_routes * 2));
}

static int create_lpm4(struct router_fib *f, uint32_t max_routes)
{
	struct rte_lpm_config cfg = {
		.max_rules = max_routes,
		.number_tbl8s = tbl8s4(max_routes),
		.flags = 0,
	};
	f->lpm4 = rte_lpm_create(PL_FIB4_NAME, SOCKET_ID_ANY, &cfg);
	return f->lpm4 ? 0 : -rte_errno;
}

static int create_lpm6(struct router_fib *f, uint32_t max_routes)
{
	struct rte_lpm6_config cfg = {
		.max_rules = max_routes,
		.number_tbl8s = tbl8s6(max_routes),
		.flags = 0,
	};
	f->lpm6 = rte_lpm6_create(PL_FIB6_NAME, SOCKET_ID_ANY, &cfg);
	if (!f->lpm6 && rte_errno == EEXIST) {
		/* A creator died between making the rule hash and registering the table. */
		struct rte_hash *h = rte_hash_find_existing("LRH_" PL_FIB6_NAME);
		if (h) {
			rte_hash_free(h);
			f->lpm6 = rte_lpm6_create(PL_FIB6_NAME, SOCKET_ID_ANY, &cfg);
		}
	}
	return f->lpm6 ? 0 : -rte_errno;
}

static void routes_init(struct pl_route_table *rt, uint32_t max_routes)
{
	__atomic_store_n(&rt->magic, 0, __ATOMIC_SEQ_CST);
	memset(rt, 0, sizeof(*rt));
	rt->version = PL_ROUTES_VERSION;
	rt->max_routes = max_routes;
	rt->epoch = 1;
	rt->adj_cursor = 1;
	/* LPMs are emptied by the caller. */
	rt->lpm_complete[0] = rt->lpm_complete[1] = 1;
	__atomic_store_n(&rt->magic, PL_ROUTES_MAGIC, __ATOMIC_SEQ_CST);
}

static void adj_init(struct pl_adj_table *at)
{
	__atomic_store_n(&at->magic, 0, __ATOMIC_SEQ_CST);
	uint64_t gen = at->generation;
	memset(at, 0, sizeof(*at));
	at->version = PL_ADJ_VERSION;
	at->generation = gen + 1;
	__atomic_store_n(&at->magic, PL_ADJ_MAGIC, __ATOMIC_SEQ_CST);
}

/* Finishes the change a dead router was in the middle of, in the LPM it touched. */
static void recover_pending(struct router_fib *f, bool lpm6_usable)
{
	struct pl_route_table *rt = f->routes;
	uint32_t op = rt->pending_op;
	uint32_t slot = rt->pending_slot;
	if (op == PL_ROUTES_OP_NONE || slot >= PL_ROUTES_SLOTS)
		goto done;
	struct pl_route *r = &rt->route[slot];
	int fi = fam_index(r->family);
	if (fi < 0 || r->len > max_len(fi)) {
		r->in_use = 0;
		goto done;
	}
	bool lpm_ok = fi == 0 || lpm6_usable;
	if (op == PL_ROUTES_OP_ADD) {
		/* Redo: adding an existing rule rewrites its entries. A slot not in use yet may hold
		 * a half-written key: it never reached the LPM, leave the LPM alone. */
		if (r->in_use && lpm_ok && lpm_install(f, r) < 0)
			r->in_use = 0;
	} else if (op == PL_ROUTES_OP_DEL) {
		/* Redo the delete. Adding first completes it even if the rule had left the LPM's
		 * rule table but not all of its entries. */
		if (lpm_ok) {
			lpm_install(f, r);
			lpm_remove(f, r);
		}
		r->in_use = 0;
	}
done:
	intent_done(rt);
}

/* Rebuilds hash chains, free list, counts, default routes and adjacency references from the
 * route slots; frees unreferenced adjacencies and forgets routes to missing ones. */
static void reindex(struct router_fib *f, bool lpm6_usable)
{
	struct pl_route_table *rt = f->routes;
	struct pl_adj *adj = f->adj->adj;

	for (uint32_t b = 0; b < PL_ROUTES_BUCKETS; b++)
		rt->bucket[b] = NIL;
	for (uint32_t b = 0; b < PL_ADJ_BUCKETS; b++)
		rt->adj_bucket[b] = NIL;
	for (uint32_t i = 0; i < PL_ADJ_MAX; i++) {
		rt->adj_next[i] = NIL;
		adj[i].refs = 0;
	}
	adj[PL_ADJ_INVALID].kind = PL_ADJ_NONE;
	for (uint32_t i = 1; i < PL_ADJ_MAX; i++)
		if (adj[i].kind != PL_ADJ_NONE)
			adj_link(f, i);

	rt->free_head = NIL;
	rt->n_routes[0] = rt->n_routes[1] = 0;
	uint32_t def[2] = { PL_ADJ_INVALID, PL_ADJ_INVALID };
	for (uint32_t s = PL_ROUTES_SLOTS; s-- > 0;) {
		struct pl_route *r = &rt->route[s];
		int fi = fam_index(r->family);
		if (r->in_use && (fi < 0 || r->len > max_len(fi) || r->adj == PL_ADJ_INVALID ||
					 r->adj >= PL_ADJ_MAX || adj[r->adj].kind == PL_ADJ_NONE)) {
			if (fi >= 0 && r->len <= max_len(fi) && (fi == 0 || lpm6_usable))
				lpm_remove(f, r);
			r->in_use = 0;
		}
		if (!r->in_use) {
			r->next = rt->free_head;
			rt->free_head = s;
			continue;
		}
		route_link(rt, s);
		rt->n_routes[fi]++;
		adj[r->adj].refs++;
		if (r->len == 0)
			def[fi] = r->adj;
	}
	rt->default_adj[0] = def[0];
	rt->default_adj[1] = def[1];
	for (uint32_t i = 1; i < PL_ADJ_MAX; i++)
		if (adj[i].kind != PL_ADJ_NONE && adj[i].refs == 0)
			adj_free(f, i);
	if (rt->adj_cursor == 0 || rt->adj_cursor >= PL_ADJ_MAX)
		rt->adj_cursor = 1;
}

/* True when the registry holds an IPv6 route reindex would take out of the LPM (its adjacency
 * is gone, or it is malformed): that needs the LPM's rule hash now. */
static bool v6_needs_repair(const struct router_fib *f)
{
	const struct pl_route_table *rt = f->routes;
	const struct pl_adj *adj = f->adj->adj;
	for (uint32_t s = 0; s < PL_ROUTES_SLOTS; s++) {
		const struct pl_route *r = &rt->route[s];
		if (r->in_use && fam_index(r->family) == 1 &&
			(r->len > max_len(1) || r->adj == PL_ADJ_INVALID || r->adj >= PL_ADJ_MAX ||
				adj[r->adj].kind == PL_ADJ_NONE))
			return true;
	}
	return false;
}

/* Replaces the IPv6 LPM made by another process with one of our own, filled from the registry.
 * Free first: two tables of this size may not fit. Router is the LPM's only reader and does
 * not forward while this runs. */
static int lpm6_rebuild(struct router_fib *f)
{
	struct pl_route_table *rt = f->routes;
	f->stale6 = false;
	rt->lpm_complete[1] = 0;
	rte_lpm6_free(f->lpm6);
	f->lpm6 = NULL;
	int ret = create_lpm6(f, rt->max_routes);
	if (ret < 0)
		return ret; /* lpm_complete[1] stays 0: the next open retries */
	f->rebuilt6 = true;
	lpm_install_all(f, 1);
	rt->lpm6_owner = proc_token;
	rt->lpm_complete[1] = 1;
	return 0;
}

int router_fib_open(struct router_fib *f, uint32_t max_routes)
{
	memset(f, 0, sizeof(*f));
	if (max_routes == 0 || max_routes > PL_FIB_MAX_ROUTES)
		return -EINVAL;
	if (proc_token == 0)
		proc_token = rte_rand() | 1;

	bool new_rt, new_adj;
	const struct rte_memzone *mz =
		pl_dp_memzone_get(PL_ROUTES_MZ_NAME, sizeof(struct pl_route_table), &new_rt);
	if (!mz)
		return -rte_errno;
	f->routes = mz->addr;
	mz = pl_dp_memzone_get(PL_ADJ_MZ_NAME, sizeof(struct pl_adj_table), &new_adj);
	if (!mz) {
		memset(f, 0, sizeof(*f));
		return -rte_errno;
	}
	f->adj = mz->addr;

	struct pl_route_table *rt = f->routes;
	bool reset = false;
	if (new_rt || rt->magic != PL_ROUTES_MAGIC || rt->version != PL_ROUTES_VERSION ||
		rt->max_routes == 0 || rt->max_routes > PL_FIB_MAX_ROUTES) {
		routes_init(rt, max_routes);
		reset = true;
	}
	if (new_adj || f->adj->magic != PL_ADJ_MAGIC || f->adj->version != PL_ADJ_VERSION) {
		adj_init(f->adj);
		reset = true;
	}
	if (reset) {
		/* Routes without their adjacencies (or the reverse) mean nothing: start empty, the
		 * control plane fills the tables again. */
		if (!new_rt)
			routes_init(rt, max_routes);
		if (!new_adj)
			adj_init(f->adj);
	}
	f->max_routes = rt->max_routes;
	f->created = new_rt && new_adj;

	bool fresh4 = false, fresh6 = false, rebuild6 = false;
	int ret;
	f->lpm4 = rte_lpm_find_existing(PL_FIB4_NAME);
	if (!f->lpm4) {
		ret = create_lpm4(f, rt->max_routes);
		if (ret < 0)
			goto fail;
		fresh4 = true;
	}
	f->lpm6 = rte_lpm6_find_existing(PL_FIB6_NAME);
	if (!f->lpm6) {
		ret = create_lpm6(f, rt->max_routes);
		if (ret < 0)
			goto fail;
		fresh6 = true;
	} else if (rt->lpm6_owner != proc_token || !rt->lpm_complete[1]) {
		rebuild6 = true;
	}
	/* Lookups in an LPM another process made are plain table reads and work here; only a
	 * change needs its rule hash. So a complete table with no change left half-done is used
	 * as it is and rebuilt at the first IPv6 change (lpm6_rebuild): a restarted router, or a
	 * standby taking over, forwards at once instead of after the rebuild. */
	if (rebuild6 && !reset && rt->lpm_complete[1] && rt->pending_op == PL_ROUTES_OP_NONE &&
		!v6_needs_repair(f)) {
		rebuild6 = false;
		f->stale6 = true;
	}

	if (reset) {
		if (!fresh4)
			rte_lpm_delete_all(f->lpm4);
		if (!fresh6 && !rebuild6)
			rte_lpm6_delete_all(f->lpm6);
	} else {
		recover_pending(f, !fresh6 && !rebuild6 && !f->stale6);
	}
	reindex(f, !rebuild6 && !f->stale6);
	if (!reset && (fresh4 || !rt->lpm_complete[0]))
		lpm_install_all(f, 0);
	if (rebuild6) {
		/* Free first: two tables of this size may not fit. router is the only reader and
		 * does not forward before open returns. */
		rt->lpm_complete[1] = 0;
		rte_lpm6_free(f->lpm6);
		f->lpm6 = NULL;
		ret = create_lpm6(f, rt->max_routes);
		if (ret < 0)
			goto fail; /* the next open retries */
		fresh6 = true;
		f->rebuilt6 = true;
	}
	if (!reset && fresh6)
		lpm_install_all(f, 1);
	if (!f->stale6)
		rt->lpm6_owner = proc_token;
	rt->lpm_complete[0] = rt->lpm_complete[1] = 1;
	reindex(f, true); /* routes that no longer fit have left */
	gen_bump(f);
	return 0;
fail:
	memset(f, 0, sizeof(*f));
	return ret;
}

void router_fib_close(struct router_fib *f)
{
	memset(f, 0, sizeof(*f));
}

int router_fib_destroy_tables(struct router_fib *f)
{
	struct rte_lpm *l4 = f->lpm4 ? f->lpm4 : rte_lpm_find_existing(PL_FIB4_NAME);
	struct rte_lpm6 *l6 = f->lpm6 ? f->lpm6 : rte_lpm6_find_existing(PL_FIB6_NAME);
	int ret = 0;
	if (l4)
		rte_lpm_free(l4);
	if (l6)
		rte_lpm6_free(l6);
	const char *names[] = { PL_ADJ_MZ_NAME, PL_ROUTES_MZ_NAME };
	for (size_t i = 0; i < RTE_DIM(names); i++) {
		const struct rte_memzone *mz = rte_memzone_lookup(names[i]);
		if (mz && rte_memzone_free(mz) < 0)
			ret = -EBUSY;
	}
	memset(f, 0, sizeof(*f));
	return ret;
}

/* Changes */

int router_fib_add(struct router_fib *f, int family, const uint8_t *prefix, uint8_t len,
	const struct pl_adj *adj)
{
	int fi = fam_index(family);
	struct pl_adj want;
	if (fi < 0 || !prefix || !adj || len > max_len(fi) || adj_normalize(adj, &want) < 0)
		return -EINVAL;
	uint8_t pfx[16];
	mask_prefix(fi, prefix, len, pfx);

	struct pl_route_table *rt = f->routes;
	uint32_t slot = route_find(rt, family, pfx, len);
	uint32_t idx;
	int ret;
	if (slot != NIL) {
		struct pl_route *r = &rt->route[slot];
		uint32_t old = r->adj;
		struct adj_key ko, kw;
		adj_key_of(&f->adj->adj[old], &ko);
		adj_key_of(&want, &kw);
		if (memcmp(&ko, &kw, sizeof(ko)) == 0) {
			r->mark = rt->epoch;
			return 0;
		}
		ret = adj_get(f, &want, &idx);
		if (ret < 0)
			return ret;
		intent(rt, PL_ROUTES_OP_ADD, slot);
		r->adj = idx;
		ret = lpm_install(f, r);
		if (ret < 0) {
			r->adj = old;
			lpm_install(f, r);
			intent_done(rt);
			adj_put(f, idx);
			return ret;
		}
		r->mark = rt->epoch;
		intent_done(rt);
		adj_put(f, old);
		gen_bump(f);
		return 0;
	}

	if (rt->n_routes[fi] >= rt->max_routes || rt->free_head == NIL)
		return -ENOSPC;
	ret = adj_get(f, &want, &idx);
	if (ret < 0)
		return ret;
	slot = rt->free_head;
	struct pl_route *r = &rt->route[slot];
	intent(rt, PL_ROUTES_OP_ADD, slot);
	rt->free_head = r->next;
	r->family = (uint8_t)family;
	r->len = len;
	memcpy(r->prefix, pfx, sizeof(r->prefix));
	r->adj = idx;
	r->mark = rt->epoch;
	__atomic_store_n(&r->in_use, 1, __ATOMIC_SEQ_CST);
	route_link(rt, slot);
	ret = lpm_install(f, r);
	if (ret < 0) {
		route_unlink(rt, slot);
		route_release_slot(rt, slot);
		intent_done(rt);
		adj_put(f, idx);
		gen_bump(f);
		return ret == -ENOSPC ? -ENOSPC : ret;
	}
	rt->n_routes[fi]++;
	intent_done(rt);
	gen_bump(f);
	return 0;
}

static void del_slot(struct router_fib *f, uint32_t slot)
{
	struct pl_route_table *rt = f->routes;
	struct pl_route *r = &rt->route[slot];
	intent(rt, PL_ROUTES_OP_DEL, slot);
	lpm_remove(f, r); /* the registry is the truth: a rule already gone is fine */
	route_unlink(rt, slot);
	uint32_t old = r->adj;
	route_release_slot(rt, slot);
	rt->n_routes[fam_index(r->family)]--;
	intent_done(rt);
	adj_put(f, old);
	gen_bump(f);
}

int router_fib_del(struct router_fib *f, int family, const uint8_t *prefix, uint8_t len)
{
	int fi = fam_index(family);
	if (fi < 0 || !prefix || len > max_len(fi))
		return -EINVAL;
	uint8_t pfx[16];
	mask_prefix(fi, prefix, len, pfx);
	uint32_t slot = route_find(f->routes, family, pfx, len);
	if (slot == NIL)
		return -ENOENT;
	del_slot(f, slot);
	return 0;
}

void router_fib_mark_all(struct router_fib *f)
{
	f->routes->epoch++;
}

int router_fib_sweep(struct router_fib *f)
{
	struct pl_route_table *rt = f->routes;
	int n = 0;
	for (uint32_t s = 0; s < PL_ROUTES_SLOTS; s++) {
		if (rt->route[s].in_use && rt->route[s].mark != rt->epoch) {
			del_slot(f, s);
			n++;
		}
	}
	return n;
}

/* Lookups */

int router_fib_lookup4(const struct router_fib *f, uint32_t dst_be, uint32_t *adj)
{
	uint32_t nh;
	if (rte_lpm_lookup(f->lpm4, rte_be_to_cpu_32(dst_be), &nh) == 0) {
		*adj = nh;
		return 0;
	}
	nh = __atomic_load_n(&f->routes->default_adj[0], __ATOMIC_ACQUIRE);
	if (nh == PL_ADJ_INVALID)
		return -ENOENT;
	*adj = nh;
	return 0;
}

int router_fib_lookup6(const struct router_fib *f, const uint8_t dst[16], uint32_t *adj)
{
	uint32_t nh;
	if (rte_lpm6_lookup(f->lpm6, dst, &nh) == 0) {
		*adj = nh;
		return 0;
	}
	nh = __atomic_load_n(&f->routes->default_adj[1], __ATOMIC_ACQUIRE);
	if (nh == PL_ADJ_INVALID)
		return -ENOENT;
	*adj = nh;
	return 0;
}

unsigned int router_fib_lookup4_bulk(
	const struct router_fib *f, const uint32_t *dst_be, uint32_t *adj, unsigned int n)
{
	uint32_t ips[BULK_CHUNK], hops[BULK_CHUNK];
	uint32_t def = __atomic_load_n(&f->routes->default_adj[0], __ATOMIC_ACQUIRE);
	unsigned int found = 0;
	for (unsigned int done = 0; done < n;) {
		unsigned int k = RTE_MIN(n - done, (unsigned int)BULK_CHUNK);
		for (unsigned int i = 0; i < k; i++)
			ips[i] = rte_be_to_cpu_32(dst_be[done + i]);
		rte_lpm_lookup_bulk(f->lpm4, ips, hops, k);
		for (unsigned int i = 0; i < k; i++) {
			if (hops[i] & RTE_LPM_LOOKUP_SUCCESS)
				adj[done + i] = hops[i] & 0x00ffffff;
			else
				adj[done + i] = def;
			found += adj[done + i] != PL_ADJ_INVALID;
		}
		done += k;
	}
	return found;
}

const struct pl_adj *router_fib_adj(const struct router_fib *f, uint32_t idx)
{
	if (idx == PL_ADJ_INVALID || idx >= PL_ADJ_MAX ||
		__atomic_load_n(&f->adj->adj[idx].kind, __ATOMIC_ACQUIRE) == PL_ADJ_NONE)
		return NULL;
	return &f->adj->adj[idx];
}

uint32_t router_fib_count(const struct router_fib *f, int family)
{
	int fi = fam_index(family);
	if (fi >= 0)
		return f->routes->n_routes[fi];
	return family == 0 ? f->routes->n_routes[0] + f->routes->n_routes[1] : 0;
}

/* Show */

static void entry_of(const struct router_fib *f, uint32_t slot, struct router_fib_entry *e)
{
	const struct pl_route *r = &f->routes->route[slot];
	e->family = r->family;
	memcpy(e->prefix, r->prefix, sizeof(e->prefix));
	e->len = r->len;
	e->adj_index = r->adj;
	e->adj = &f->adj->adj[r->adj < PL_ADJ_MAX ? r->adj : PL_ADJ_INVALID];
}

int router_fib_walk(const struct router_fib *f, int family, router_fib_walk_fn *fn, void *arg)
{
	int n = 0;
	for (uint32_t s = 0; s < PL_ROUTES_SLOTS; s++) {
		const struct pl_route *r = &f->routes->route[s];
		if (!r->in_use || (family != 0 && r->family != family))
			continue;
		struct router_fib_entry e;
		entry_of(f, s, &e);
		int ret = fn(&e, arg);
		if (ret < 0)
			return ret;
		n++;
	}
	return n;
}

const char *router_fib_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[PL_ADJ_NONE] = "none",
		[PL_ADJ_DROP] = "drop",
		[PL_ADJ_LOCAL] = "local",
		[PL_ADJ_POD] = "pod",
		[PL_ADJ_GLEAN] = "glean",
		[PL_ADJ_VIA] = "via",
	};
	return kind < RTE_DIM(names) ? names[kind] : "?";
}

char *router_fib_prefix_str(int family, const uint8_t *prefix, uint8_t len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	if (!inet_ntop(family, prefix, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, size, "%s/%u", a, len);
	return buf;
}

static int cmp_slots(const void *a, const void *b, void *arg)
{
	const struct pl_route_table *rt = arg;
	const struct pl_route *x = &rt->route[*(const uint32_t *)a];
	const struct pl_route *y = &rt->route[*(const uint32_t *)b];
	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	int c = memcmp(x->prefix, y->prefix, sizeof(x->prefix));
	if (c != 0)
		return c;
	return (int)x->len - (int)y->len;
}

static int add_json(struct json_object *arr, const struct router_fib_entry *e)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	const struct pl_adj *a = e->adj;
	json_object_object_add(o, "prefix",
		json_object_new_string(
			router_fib_prefix_str(e->family, e->prefix, e->len, buf, sizeof(buf))));
	json_object_object_add(o, "kind", json_object_new_string(router_fib_kind_name(a->kind)));
	json_object_object_add(o, "tx_if", json_object_new_int(a->tx_if));
	if (a->kind == PL_ADJ_VIA) {
		if (!inet_ntop(a->family, a->nh, buf, sizeof(buf)))
			snprintf(buf, sizeof(buf), "?");
		json_object_object_add(o, "nh", json_object_new_string(buf));
	}
	json_object_object_add(o, "mtu", json_object_new_int64(a->mtu));
	json_object_object_add(o, "adj", json_object_new_int64(e->adj_index));
	json_object_object_add(o, "refs", json_object_new_int64(a->refs));
	if (json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

struct json_object *router_fib_dump(const struct router_fib *f, int family)
{
	const struct pl_route_table *rt = f->routes;
	uint32_t *slots = malloc(sizeof(*slots) * PL_ROUTES_SLOTS);
	struct json_object *arr = json_object_new_array();
	if (!slots || !arr)
		goto nomem;
	uint32_t n = 0;
	for (uint32_t s = 0; s < PL_ROUTES_SLOTS; s++)
		if (rt->route[s].in_use && (family == 0 || rt->route[s].family == family))
			slots[n++] = s;
	qsort_r(slots, n, sizeof(*slots), cmp_slots, (void *)(uintptr_t)rt);
	for (uint32_t i = 0; i < n; i++) {
		struct router_fib_entry e;
		entry_of(f, slots[i], &e);
		if (add_json(arr, &e) < 0)
			goto nomem;
	}
	free(slots);
	return arr;
nomem:
	free(slots);
	json_object_put(arr);
	errno = ENOMEM;
	return NULL;
}
