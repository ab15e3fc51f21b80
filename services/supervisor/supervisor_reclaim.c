/* SPDX-License-Identifier: Apache-2.0 */
/* After a dataplane process dies: reset the dead side of each of its rings (head back to tail:
 * an enqueue or dequeue it had started is undone), then reclaim every packet it held. A packet
 * is held by the dead process when its owner tag names it and it is in no ring's live region
 * and not in the pool. Tags are read again after the rings are checked: a live consumer writes
 * its tag before it moves the ring's tail, so a packet that left a ring between the two reads
 * shows the new owner. Reclaimed packets go to io-worker over the reclaim ring (it frees them
 * and counts them as drop_reclaimed). */
#include "supervisor.h"

#include <stdlib.h>
#include <string.h>

#include "pl_log.h"

struct candidates {
	struct rte_mbuf **v;
	unsigned int n;
	unsigned int cap;
	uint8_t owner;
};

static void tag_io_worker(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	(void)mp;
	(void)arg;
	(void)idx;
	pl_meta(obj)->owner = PL_SVC_IO_WORKER;
}

void reclaim_init_tags(struct supervisor *sv)
{
	/* The pools belong to io-worker: a packet in them carries io-worker's tag. */
	rte_mempool_obj_iter(sv->dp.pool, tag_io_worker, NULL);
	rte_mempool_obj_iter(sv->dp.big_pool, tag_io_worker, NULL);
}

static void collect(struct rte_mempool *mp, void *arg, void *obj, unsigned int idx)
{
	struct candidates *c = arg;
	(void)mp;
	(void)idx;
	if (__atomic_load_n(&pl_meta(obj)->owner, __ATOMIC_ACQUIRE) == c->owner && c->n < c->cap)
		c->v[c->n++] = obj;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* Appends the live region [cons.tail, prod.tail) of r to out. */
static unsigned int ring_live(const struct rte_ring *r, uintptr_t *out, unsigned int max)
{
	uint32_t tail = __atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE);
	uint32_t head = __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE);
	void *const *slots = (void *const *)(const void *)(r + 1);
	unsigned int n = 0;
	for (uint32_t i = tail; i != head && n < max; i++)
		out[n++] = (uintptr_t)slots[i & r->mask];
	return n;
}

static bool repair_side(struct rte_ring_headtail *ht)
{
	uint32_t tail = __atomic_load_n(&ht->tail, __ATOMIC_ACQUIRE);
	if (ht->head == tail)
		return false;
	__atomic_store_n(&ht->head, tail, __ATOMIC_RELEASE);
	return true;
}

void reclaim_after_death(struct supervisor *sv, enum pl_svc_id id)
{
	struct pl_dp *dp = &sv->dp;
	struct rte_ring *pool_ring = pl_dp_pool_ring(dp->pool);
	struct rte_ring *big_ring = pl_dp_pool_ring(dp->big_pool);
	unsigned int repairs = 0;

	for (int i = 0; i < PL_RING_MAX; i++) {
		if (pl_ring_defs[i].producer == id && repair_side(&dp->rings[i]->prod))
			repairs++;
		if (pl_ring_defs[i].consumer == id && repair_side(&dp->rings[i]->cons))
			repairs++;
	}
	if (id == PL_SVC_IO_WORKER) {
		/* io-worker is the pool rings' only producer and consumer. */
		repairs += repair_side(&pool_ring->prod);
		repairs += repair_side(&pool_ring->cons);
		repairs += repair_side(&big_ring->prod);
		repairs += repair_side(&big_ring->cons);
	}
	if (repairs) {
		supervisor_count(sv, PL_SUP_RING_REPAIRS, repairs);
		PL_WARN("reclaim", "%s died mid-operation: %u ring sides reset", pl_svc_name(id),
			repairs);
	}

	unsigned int n_mbufs = dp->pool->size + dp->big_pool->size;
	struct candidates c = { .owner = (uint8_t)id, .cap = n_mbufs };
	size_t live_cap = (size_t)n_mbufs + 1;
	uintptr_t *live = malloc(live_cap * sizeof(*live));
	c.v = malloc(n_mbufs * sizeof(*c.v));
	if (!live || !c.v) {
		PL_ERR("reclaim", "out of memory: packets held by %s are not reclaimed",
			pl_svc_name(id));
		goto out;
	}
	/* 1: candidates by tag. */
	rte_mempool_obj_iter(dp->pool, collect, &c);
	rte_mempool_obj_iter(dp->big_pool, collect, &c);
	if (c.n == 0)
		goto out;
	/* 2: everything that is in a ring or in the pool. */
	unsigned int n_live = 0;
	for (int i = 0; i < PL_RING_MAX; i++)
		n_live += ring_live(dp->rings[i], live + n_live, (unsigned int)live_cap - n_live);
	n_live += ring_live(pool_ring, live + n_live, (unsigned int)live_cap - n_live);
	n_live += ring_live(big_ring, live + n_live, (unsigned int)live_cap - n_live);
	qsort(live, n_live, sizeof(*live), cmp_ptr);
	/* 3: still tagged with the dead process and in no ring: it held them. */
	unsigned int k = 0;
	for (unsigned int i = 0; i < c.n; i++) {
		struct rte_mbuf *m = c.v[i];
		uintptr_t key = (uintptr_t)m;
		if (__atomic_load_n(&pl_meta(m)->owner, __ATOMIC_ACQUIRE) != c.owner)
			continue;
		if (bsearch(&key, live, n_live, sizeof(*live), cmp_ptr))
			continue;
		pl_meta(m)->owner = PL_SVC_SUPERVISOR;
		pl_meta(m)->verdict = PL_VERDICT_DROP;
		pl_meta(m)->drop_reason = PL_DROP_RECLAIMED;
		c.v[k++] = m;
	}
	if (k) {
		unsigned int sent =
			rte_ring_enqueue_burst(dp->rings[PL_RING_RECLAIM], (void **)c.v, k, NULL);
		if (sent < k) /* cannot happen: the ring holds the whole pool */
			PL_ERR("reclaim", "reclaim ring full: %u packets lost", k - sent);
		supervisor_count(sv, PL_SUP_RECLAIMED_PACKETS, sent);
		pl_service_wake(&sv->s, PL_SVC_IO_WORKER);
		PL_INFO("reclaim", "reclaimed %u packets held by %s", sent, pl_svc_name(id));
	}
out:
	free(live);
	free(c.v);
}
