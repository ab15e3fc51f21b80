/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour table: linear probing with backward-shift deletion over a power-of-two array.
 * The rules (what creates, resolves, confirms or may replace an entry) are in the header. */
#include "ioworker_neigh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_jhash.h>

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
	uint32_t w[4]; /* rte_jhash loads words: an address in a packet may be unaligned */
	memcpy(w, addr, len);
	return rte_jhash(w, len, family) & (t->size - 1);
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

/* Backward-shift deletion keeps every probe chain unbroken. */
static void remove_at(struct neigh_table *t, uint32_t i);

/* Frees the place of one unused entry among the next NEIGH_EVICT_SCAN slots of the cursor:
 * an INCOMPLETE entry whose first request went unanswered or a REACHABLE one not used for
 * reachable_ms, neither holding packets. Entries in use are never taken. */
static bool evict_one(struct neigh_table *t, uint64_t now_ms)
{
	for (unsigned int n = 0; n < NEIGH_EVICT_SCAN && n < t->size; n++) {
		uint32_t i = t->evict_cursor;
		t->evict_cursor = (i + 1) & (t->size - 1);
		const struct neigh_entry *e = &t->e[i];
		if (e->state == NEIGH_FREE || e->n_pending)
			continue;
		bool unused = e->state == NEIGH_INCOMPLETE
				      ? now_ms - e->confirmed_ms >= NEIGH_PROBE_INTERVAL_MS
				      : now_ms - e->used_ms >= t->reachable_ms;
		if (!unused)
			continue;
		remove_at(t, i);
		t->evicted++;
		return true;
	}
	return false;
}

struct neigh_entry *neigh_get(
	struct neigh_table *t, uint8_t family, const uint8_t *addr, uint64_t now_ms)
{
	struct neigh_entry *e = neigh_lookup(t, family, addr);
	if (e) {
		e->used_ms = now_ms;
		return e;
	}
	if (t->n_entries >= t->max_entries && !evict_one(t, now_ms))
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
	e->used_ms = now_ms;
	t->n_entries++;
	return e;
}

static void resolved(struct neigh_entry *e, const uint8_t mac[6], uint64_t now_ms)
{
	memcpy(e->mac, mac, 6);
	e->state = NEIGH_REACHABLE;
	e->confirmed_ms = now_ms;
	e->probes = 0;
}

enum neigh_verdict neigh_offer(struct neigh_table *t, struct neigh_entry *e, const uint8_t *mac,
	enum neigh_msg msg, uint64_t now_ms)
{
	(void)t;
	if (e->state == NEIGH_INCOMPLETE) {
		/* We asked (broadcast): the first answer wins; announcements are not answers. */
		if (msg == NEIGH_MSG_ANNOUNCE)
			return NEIGH_REFUSED_UNSOLICITED;
		if (!mac)
			return NEIGH_IGNORED;
		resolved(e, mac, now_ms);
		return NEIGH_LEARNED;
	}
	if (mac && memcmp(mac, e->mac, 6) != 0)
		return NEIGH_REFUSED_MAC_CHANGE; /* never in place: the caller verifies */
	if (msg == NEIGH_MSG_ANSWER && e->probes) {
		e->confirmed_ms = now_ms;
		e->probes = 0;
		return NEIGH_CONFIRMED;
	}
	return NEIGH_IGNORED;
}

bool neigh_verify(struct neigh_table *t, struct neigh_entry *e, uint64_t now_ms)
{
	(void)t;
	if (e->state != NEIGH_REACHABLE || e->probes)
		return false; /* resolving, or a verification runs already */
	if (e->probed_ms && now_ms - e->probed_ms < NEIGH_PROBE_INTERVAL_MS)
		return false; /* one verification a probe interval at most */
	e->probes = 1;
	e->probed_ms = now_ms;
	return true;
}

bool neigh_hold(struct neigh_table *t, struct neigh_entry *e, struct rte_mbuf *m)
{
	if (e->n_pending >= NEIGH_PENDING_PER_ENTRY || t->n_pending >= t->pending_max)
		return false;
	e->pending[e->n_pending++] = m;
	t->n_pending++;
	return true;
}

/* A REACHABLE entry whose MAC stopped answering: resolve it again from scratch. */
static void fail(struct neigh_entry *e, uint64_t now_ms)
{
	e->state = NEIGH_INCOMPLETE;
	e->probes = 0;
	e->confirmed_ms = now_ms;
	memset(e->mac, 0, sizeof(e->mac));
}

enum neigh_probe neigh_should_probe(struct neigh_table *t, struct neigh_entry *e, uint64_t now_ms)
{
	if (e->state == NEIGH_INCOMPLETE) {
		if (e->probed_ms && now_ms - e->probed_ms < NEIGH_PROBE_INTERVAL_MS)
			return NEIGH_PROBE_NONE;
		e->probed_ms = now_ms;
		return NEIGH_PROBE_BCAST;
	}
	if (!e->probes) {
		if (now_ms - e->confirmed_ms < t->reachable_ms)
			return NEIGH_PROBE_NONE;
		e->probes = 1; /* stale and in use: verify */
		e->probed_ms = now_ms;
		return NEIGH_PROBE_UCAST;
	}
	if (now_ms - e->probed_ms < NEIGH_PROBE_INTERVAL_MS)
		return NEIGH_PROBE_NONE;
	e->probed_ms = now_ms;
	if (e->probes < NEIGH_UCAST_PROBES) {
		e->probes++;
		return NEIGH_PROBE_UCAST;
	}
	fail(e, now_ms);
	return NEIGH_PROBE_BCAST;
}

const char *neigh_state_name(
	const struct neigh_table *t, const struct neigh_entry *e, uint64_t now_ms)
{
	if (e->state == NEIGH_INCOMPLETE)
		return "incomplete";
	if (e->state != NEIGH_REACHABLE)
		return "free";
	if (e->probes)
		return "probe";
	return now_ms - e->confirmed_ms >= t->reachable_ms ? "stale" : "reachable";
}

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
		if (e->state == NEIGH_REACHABLE && e->probes >= NEIGH_UCAST_PROBES &&
			now_ms - e->probed_ms >= NEIGH_PROBE_INTERVAL_MS) {
			fail(e, now_ms);
			e->probed_ms = 0; /* the next packet for it sends a broadcast at once */
		}
		uint64_t age = now_ms - e->confirmed_ms;
		if (e->state == NEIGH_INCOMPLETE ? age < 3 * NEIGH_PROBE_INTERVAL_MS
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
