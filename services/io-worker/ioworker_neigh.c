/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour table: linear probing with backward-shift deletion over a power-of-two array. */
#include "ioworker_neigh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_jhash.h>

#define PROBE_INTERVAL_MS 1000

int neigh_init(
	struct neigh_table *t, uint32_t max_entries, uint32_t pending_max, uint32_t reachable_s)
{
	memset(t, 0, sizeof(*t));
	t->size = rte_align32pow2(max_entries * 2);
	t->e = calloc(t->size, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->max_entries = max_entries;
	t->pending_max = pending_max;
	t->reachable_ms = (uint64_t)reachable_s * 1000;
	return 0;
}

static uint32_t slot_of(const struct neigh_table *t, uint8_t family, const uint8_t *addr)
{
	uint32_t len = family == 10 /* AF_INET6 */ ? 16 : 4;
	return rte_jhash(addr, len, family) & (t->size - 1);
}

static bool same(const struct neigh_entry *e, uint8_t family, const uint8_t *addr)
{
	return e->family == family && memcmp(e->addr, addr, family == 10 ? 16 : 4) == 0;
}

struct neigh_entry *neigh_lookup(struct neigh_table *t, uint8_t family, const uint8_t *addr)
{
	for (uint32_t i = slot_of(t, family, addr), n = 0; n < t->size;
		i = (i + 1) & (t->size - 1), n++) {
		struct neigh_entry *e = &t->e[i];
		if (e->state == NEIGH_FREE)
			return NULL;
		if (same(e, family, addr))
			return e;
	}
	return NULL;
}

struct neigh_entry *neigh_get(
	struct neigh_table *t, uint8_t family, const uint8_t *addr, uint64_t now_ms)
{
	struct neigh_entry *e = neigh_lookup(t, family, addr);
	if (e)
		return e;
	if (t->n_entries >= t->max_entries)
		return NULL;
	uint32_t i = slot_of(t, family, addr);
	while (t->e[i].state != NEIGH_FREE)
		i = (i + 1) & (t->size - 1);
	e = &t->e[i];
	memset(e, 0, sizeof(*e));
	e->state = NEIGH_INCOMPLETE;
	e->family = family;
	memcpy(e->addr, addr, family == 10 ? 16 : 4);
	e->confirmed_ms = now_ms;
	t->n_entries++;
	return e;
}

struct neigh_entry *neigh_learn(struct neigh_table *t, uint8_t family, const uint8_t *addr,
	const uint8_t mac[6], uint64_t now_ms)
{
	struct neigh_entry *e = neigh_get(t, family, addr, now_ms);
	if (!e)
		return NULL;
	memcpy(e->mac, mac, 6);
	e->state = NEIGH_REACHABLE;
	e->confirmed_ms = now_ms;
	return e;
}

bool neigh_hold(struct neigh_table *t, struct neigh_entry *e, struct rte_mbuf *m)
{
	if (e->n_pending >= NEIGH_PENDING_PER_ENTRY || t->n_pending >= t->pending_max)
		return false;
	e->pending[e->n_pending++] = m;
	t->n_pending++;
	return true;
}

bool neigh_should_probe(struct neigh_table *t, struct neigh_entry *e, uint64_t now_ms)
{
	bool stale = e->state == NEIGH_REACHABLE && now_ms - e->confirmed_ms >= t->reachable_ms;
	if (e->state == NEIGH_REACHABLE && !stale)
		return false;
	if (e->probed_ms && now_ms - e->probed_ms < PROBE_INTERVAL_MS)
		return false;
	e->probed_ms = now_ms;
	return true;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void remove_at(struct neigh_table *t, uint32_t i)
{
	uint32_t mask = t->size - 1;
	uint32_t j = i;
	t->e[i].state = NEIGH_FREE;
	for (;;) {
		j = (j + 1) & mask;
		if (t->e[j].state == NEIGH_FREE)
			break;
		uint32_t home = slot_of(t, t->e[j].family, t->e[j].addr);
		/* Move e[j] into the hole at i if its home is not in (i, j]. */
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) {
			t->e[i] = t->e[j];
			t->e[j].state = NEIGH_FREE;
			i = j;
		}
	}
	t->n_entries--;
}

unsigned int neigh_age(
	struct neigh_table *t, uint64_t now_ms, struct rte_mbuf **dropped, unsigned int max_dropped)
{
	unsigned int n = 0;
	for (uint32_t i = 0; i < t->size; i++) {
		struct neigh_entry *e = &t->e[i];
		if (e->state == NEIGH_FREE)
			continue;
		uint64_t age = now_ms - e->confirmed_ms;
		if (e->state == NEIGH_INCOMPLETE ? age < 3 * PROBE_INTERVAL_MS
						 : age < 2 * t->reachable_ms)
			continue;
		if (n + e->n_pending > max_dropped)
			break;
		for (unsigned int k = 0; k < e->n_pending; k++)
			dropped[n++] = e->pending[k];
		t->n_pending -= e->n_pending;
		remove_at(t, i);
		i--; /* the shift may have moved another entry here */
	}
	return n;
}

void neigh_fini(struct neigh_table *t, struct rte_mbuf **freed, unsigned int *n_freed,
	unsigned int max_freed)
{
	*n_freed = 0;
	for (uint32_t i = 0; t->e && i < t->size; i++)
		for (unsigned int k = 0; k < t->e[i].n_pending && *n_freed < max_freed; k++)
			freed[(*n_freed)++] = t->e[i].pending[k];
	free(t->e);
	t->e = NULL;
}
