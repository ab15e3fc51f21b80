/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's double-buffered service table (see natlb_table.h). */
#include "natlb_table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_memzone.h>

#include "natlb_maglev.h"
#include "pl_dp.h"

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* Layout of a table for these limits (no memory touched). */
static void layout(struct natlb_table *t, uint32_t max_fe, uint32_t max_be)
{
	memset(t, 0, sizeof(*t));
	t->version = NATLB_TABLE_VERSION;
	t->max_frontends = max_fe;
	t->max_backends = max_be;
	t->max_maglev = max_fe * NATLB_MG_SLOTS_PER_GROUP + max_be * NATLB_MG_SLOTS_PER_BACKEND;
	t->fe_buckets = pow2_at_least(2 * (uint64_t)max_fe);
	t->active = NATLB_NONE;
	uint64_t off = RTE_ALIGN_CEIL(sizeof(struct natlb_gen_hdr), 64);
#define PLACE(field, bytes)                              \
	do {                                             \
		t->field = off;                          \
		off = RTE_ALIGN_CEIL(off + (bytes), 64); \
	} while (0)
	PLACE(off_hash, (uint64_t)t->fe_buckets * sizeof(uint32_t));
	PLACE(off_fe, (uint64_t)max_fe * sizeof(struct natlb_frontend));
	PLACE(off_groups, (uint64_t)max_fe * sizeof(struct natlb_group));
	PLACE(off_be, (uint64_t)max_be * sizeof(struct natlb_backend));
	PLACE(off_mg, (uint64_t)t->max_maglev * sizeof(uint32_t));
	PLACE(off_names, (uint64_t)max_fe * NATLB_NAME_SIZE);
#undef PLACE
	t->gen_size = off;
	t->gen_off[0] = RTE_ALIGN_CEIL(sizeof(*t), 64);
	t->gen_off[1] = t->gen_off[0] + off;
}

static size_t table_size(const struct natlb_table *t)
{
	return t->gen_off[1] + t->gen_size;
}

static void map(struct natlb_tables *tt)
{
	struct natlb_table *t = tt->t;
	for (int i = 0; i < 2; i++) {
		uint8_t *base = (uint8_t *)t + t->gen_off[i];
		struct natlb_gen *g = &tt->gen[i];
		g->hdr = (struct natlb_gen_hdr *)base;
		g->hash = (uint32_t *)(base + t->off_hash);
		g->fe = (struct natlb_frontend *)(base + t->off_fe);
		g->groups = (struct natlb_group *)(base + t->off_groups);
		g->be = (struct natlb_backend *)(base + t->off_be);
		g->mg = (uint32_t *)(base + t->off_mg);
		g->names = (char(*)[NATLB_NAME_SIZE])(base + t->off_names);
		g->mask = t->fe_buckets - 1;
	}
}

int natlb_table_open(
	struct natlb_tables *tt, uint32_t max_frontends, uint32_t max_backends, bool *reset)
{
	struct natlb_table want;
	bool fresh;
	memset(tt, 0, sizeof(*tt));
	*reset = false;
	if (!max_frontends || !max_backends)
		return -EINVAL;
	layout(&want, max_frontends, max_backends);
	const struct rte_memzone *mz = rte_memzone_lookup(NATLB_MZ_NAME);
	if (!mz) {
		mz = pl_dp_memzone_get(NATLB_MZ_NAME, table_size(&want), &fresh);
		if (!mz)
			return -rte_errno;
	}
	struct natlb_table *t = mz->addr;
	tt->t = t;
	bool ok = t->magic == NATLB_TABLE_MAGIC && t->version == NATLB_TABLE_VERSION &&
		  t->max_frontends == want.max_frontends && t->max_backends == want.max_backends &&
		  t->gen_size == want.gen_size && table_size(t) <= mz->len;
	if (!ok) {
		if (table_size(&want) > mz->len)
			return -EFBIG; /* made for smaller limits: a supervisor restart resizes it */
		__atomic_store_n(&t->magic, 0, __ATOMIC_SEQ_CST);
		*t = want;
		map(tt);
		for (int i = 0; i < 2; i++)
			memset(tt->gen[i].hdr, 0, sizeof(struct natlb_gen_hdr));
		__atomic_store_n(&t->magic, NATLB_TABLE_MAGIC, __ATOMIC_RELEASE);
		*reset = true;
		tt->created = true;
		return 0;
	}
	map(tt);
	if (t->active != NATLB_NONE && t->active > 1)
		t->active = NATLB_NONE;
	return 0;
}

static uint32_t fe_hash(const struct natlb_fe_key *k)
{
	return rte_hash_crc(k, sizeof(*k), 0x706c7376);
}

static const struct natlb_frontend *natlb_fe_find(
	const struct natlb_gen *g, const struct natlb_fe_key *k)
{
	uint32_t b = fe_hash(k) & g->mask;
	for (uint32_t n = 0; n <= g->mask; n++, b = (b + 1) & g->mask) {
		uint32_t v = g->hash[b];
		if (v == 0)
			return NULL;
		const struct natlb_frontend *f = &g->fe[v - 1];
		if (memcmp(&f->key, k, sizeof(*k)) == 0)
			return f;
	}
	return NULL;
}

bool natlb_is_node_addr(const struct natlb_gen *g, const uint8_t *addr, uint8_t family)
{
	size_t len = family == AF_INET ? 4 : 16;
	for (uint32_t i = 0; i < g->hdr->n_node_addrs; i++) {
		const struct natlb_node_addr *a = &g->hdr->node_addrs[i];
		if (a->family == family && memcmp(a->addr, addr, len) == 0)
			return true;
	}
	return false;
}

const struct natlb_frontend *natlb_fe_lookup(const struct natlb_gen *g, const uint8_t *addr,
	uint8_t family, uint16_t port_be, uint8_t proto)
{
	struct natlb_fe_key k;
	memset(&k, 0, sizeof(k));
	memcpy(k.addr, addr, family == AF_INET ? 4 : 16);
	k.port = port_be;
	k.family = family;
	k.proto = proto;
	const struct natlb_frontend *f = natlb_fe_find(g, &k);
	if (f || !g->hdr->n_node_addrs || !natlb_is_node_addr(g, addr, family))
		return f;
	memset(k.addr, 0, sizeof(k.addr));
	return natlb_fe_find(g, &k);
}

static void fail(struct natlb_builder *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct natlb_builder *b, int err, const char *fmt, ...)
{
	if (b->err)
		return;
	b->err = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
}

void natlb_build_begin(struct natlb_builder *b, struct natlb_tables *tt)
{
	memset(b, 0, sizeof(*b));
	b->tt = tt;
	uint32_t a = tt->t->active;
	b->target = a == 0 ? 1 : 0;
	b->g = &tt->gen[b->target];
	memset(b->g->hdr, 0, sizeof(*b->g->hdr));
	memset(b->g->hash, 0, (size_t)tt->t->fe_buckets * sizeof(uint32_t));
}

uint32_t natlb_build_service(struct natlb_builder *b, const char *name)
{
	struct natlb_gen_hdr *h = b->g->hdr;
	if (b->err)
		return NATLB_NONE;
	if (h->n_services >= b->tt->t->max_frontends) {
		fail(b, -ENOSPC, "more than %u services (services.max_frontends)",
			b->tt->t->max_frontends);
		return NATLB_NONE;
	}
	snprintf(b->g->names[h->n_services], NATLB_NAME_SIZE, "%s", name);
	return h->n_services++;
}

/* Maglev table size for n backends: a prime from a short fixed list, at least 8 slots each.
 * The size must not follow every endpoint change (a new size reshuffles every flow), so it
 * changes only when the count crosses a tier (8, 32, 128, ... endpoints). */
static uint32_t mg_size(uint32_t n)
{
	static const uint32_t tiers[] = { 61, 251, 1021, 4093, 16381, 65521 };
	for (size_t i = 0; i < RTE_DIM(tiers); i++)
		if (tiers[i] >= 8 * (uint64_t)n)
			return tiers[i];
	return tiers[RTE_DIM(tiers) - 1];
}

static uint32_t build_mg(struct natlb_builder *b, const uint64_t *keys, const bool *use, uint32_t n,
	uint32_t n_use, uint32_t *off)
{
	struct natlb_gen_hdr *h = b->g->hdr;
	if (n_use == 0)
		return 0;
	uint32_t m = mg_size(n_use);
	if ((uint64_t)h->n_maglev + m > b->tt->t->max_maglev) {
		fail(b, -ENOSPC, "Maglev tables over their budget (%u slots from services.*)",
			b->tt->t->max_maglev);
		return 0;
	}
	int rc = natlb_maglev_build(&b->g->mg[h->n_maglev], m, keys, use, n);
	if (rc < 0) {
		fail(b, rc, "Maglev table: %s", strerror(-rc));
		return 0;
	}
	*off = h->n_maglev;
	h->n_maglev += m;
	return m;
}

uint32_t natlb_build_group(
	struct natlb_builder *b, const struct natlb_backend *be, uint32_t n, bool need_local)
{
	struct natlb_gen_hdr *h = b->g->hdr;
	if (b->err)
		return NATLB_NONE;
	if (h->n_groups >= b->tt->t->max_frontends) {
		fail(b, -ENOSPC, "more than %u service ports (services.max_frontends)",
			b->tt->t->max_frontends);
		return NATLB_NONE;
	}
	if ((uint64_t)h->n_backends + n > b->tt->t->max_backends) {
		fail(b, -ENOSPC, "more than %u endpoints (services.max_backends)",
			b->tt->t->max_backends);
		return NATLB_NONE;
	}
	struct natlb_group *gr = &b->g->groups[h->n_groups];
	memset(gr, 0, sizeof(*gr));
	gr->be_first = h->n_backends;
	gr->be_count = n;
	struct natlb_backend *dst = &b->g->be[h->n_backends];
	uint32_t n_ready = 0;
	for (uint32_t i = 0; i < n; i++) {
		dst[i] = be[i];
		dst[i].flags &= (uint8_t)~NATLB_BE_USABLE;
		if (be[i].flags & NATLB_BE_READY)
			n_ready++;
	}
	/* New flows go to ready endpoints; when none is ready, to serving terminating ones
	 * (Kubernetes' terminating-endpoint fallback). */
	uint32_t n_use = 0, n_local = 0;
	for (uint32_t i = 0; i < n; i++) {
		bool use = n_ready ? (dst[i].flags & NATLB_BE_READY) != 0
				   : (dst[i].flags & NATLB_BE_SERVING) != 0;
		if (use) {
			dst[i].flags |= NATLB_BE_USABLE;
			n_use++;
			if (dst[i].flags & NATLB_BE_LOCAL)
				n_local++;
		}
	}
	if (n) {
		uint64_t *keys = calloc(n, sizeof(*keys));
		bool *use = calloc(n, sizeof(*use));
		bool *local = calloc(n, sizeof(*local));
		if (!keys || !use || !local) {
			fail(b, -ENOMEM, "out of memory");
		} else {
			for (uint32_t i = 0; i < n; i++) {
				keys[i] = natlb_maglev_key(
					dst[i].addr, dst[i].family, rte_be_to_cpu_16(dst[i].port));
				use[i] = dst[i].flags & NATLB_BE_USABLE;
				local[i] = use[i] && (dst[i].flags & NATLB_BE_LOCAL);
			}
			gr->mg_m = build_mg(b, keys, use, n, n_use, &gr->mg_off);
			if (need_local)
				gr->mgl_m = build_mg(b, keys, local, n, n_local, &gr->mgl_off);
		}
		free(keys);
		free(use);
		free(local);
	}
	if (b->err)
		return NATLB_NONE;
	h->n_backends += n;
	return h->n_groups++;
}

int natlb_build_frontend(struct natlb_builder *b, const struct natlb_fe_key *key, uint8_t flags,
	uint32_t group, uint32_t service, uint32_t affinity_timeout_s)
{
	struct natlb_gen *g = b->g;
	struct natlb_gen_hdr *h = g->hdr;
	if (b->err)
		return b->err;
	if (group >= h->n_groups || service >= h->n_services) {
		fail(b, -EINVAL, "frontend with an unknown group or service");
		return b->err;
	}
	if (natlb_fe_find(g, key))
		return -EEXIST;
	if (h->n_frontends >= b->tt->t->max_frontends) {
		fail(b, -ENOSPC,
			"more than %u service addresses and ports (services.max_frontends)",
			b->tt->t->max_frontends);
		return b->err;
	}
	struct natlb_frontend *f = &g->fe[h->n_frontends];
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->flags = flags;
	f->group = group;
	f->service = service;
	f->affinity_timeout_s = affinity_timeout_s;
	uint32_t bkt = fe_hash(key) & g->mask;
	while (g->hash[bkt])
		bkt = (bkt + 1) & g->mask;
	g->hash[bkt] = ++h->n_frontends;
	return 0;
}

void natlb_build_node_addr(struct natlb_builder *b, uint8_t family, const uint8_t *addr)
{
	struct natlb_gen_hdr *h = b->g->hdr;
	if (b->err || h->n_node_addrs >= NATLB_MAX_NODE_ADDRS ||
		natlb_is_node_addr(b->g, addr, family))
		return;
	struct natlb_node_addr *a = &h->node_addrs[h->n_node_addrs++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
}

int natlb_build_commit(struct natlb_builder *b, uint64_t now_ms)
{
	if (b->err)
		return b->err;
	uint32_t a = b->tt->t->active;
	b->g->hdr->built_ms = now_ms;
	b->g->hdr->serial = (a < 2 ? b->tt->gen[a].hdr->serial : 0) + 1;
	__atomic_store_n(&b->tt->t->active, b->target, __ATOMIC_RELEASE);
	return 0;
}
