/* SPDX-License-Identifier: Apache-2.0 */
/* The conntrack session table (see pl_ct.h for the layout and the rules). */
#include "pl_ct.h"

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_memzone.h>

#include "pl_dp.h"

static const char *const state_names[PL_CT_STATE_MAX] = {
	[PL_CT_FREE] = "free",
	[PL_CT_TCP_SYN] = "syn",
	[PL_CT_TCP_EST] = "established",
	[PL_CT_TCP_CLOSING] = "closing",
	[PL_CT_UDP] = "udp",
	[PL_CT_OTHER] = "other",
	[PL_CT_AFFINITY] = "affinity",
};

const char *pl_ct_state_name(uint8_t state)
{
	return state < PL_CT_STATE_MAX ? state_names[state] : "?";
}

static uint32_t buckets_for(uint32_t capacity)
{
	uint32_t n = 1;
	while (n < 2 * (uint64_t)capacity)
		n <<= 1;
	return n;
}

size_t pl_ct_size(uint32_t capacity)
{
	size_t b = RTE_ALIGN_CEIL((size_t)buckets_for(capacity) * sizeof(uint32_t), 64);
	return sizeof(struct pl_ct_table) + b + (size_t)capacity * sizeof(struct pl_ct_session);
}

uint32_t pl_ct_hash(const struct pl_ct_key *k)
{
	return rte_hash_crc(k, sizeof(*k), 0x706c6374);
}

static bool key_eq(const struct pl_ct_key *a, const struct pl_ct_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void map(struct pl_ct *ct)
{
	struct pl_ct_table *t = ct->t;
	ct->buckets = (uint32_t *)((uint8_t *)t + t->buckets_off);
	ct->s = (struct pl_ct_session *)((uint8_t *)t + t->sessions_off);
	ct->mask = t->n_buckets - 1;
}

/* Is key[1] in a chain of its own? */
static bool chained1(const struct pl_ct *ct, const struct pl_ct_session *s)
{
	return !(s->flags & PL_CT_F_ONE_KEY) && ((s->hash[0] ^ s->hash[1]) & ct->mask) != 0;
}

/* Which link of session s continues the chain of bucket b. */
static int link_of(const struct pl_ct *ct, const struct pl_ct_session *s, uint32_t b)
{
	return (s->hash[0] & ct->mask) == b ? 0 : 1;
}

static void link_key(struct pl_ct *ct, uint32_t idx, int dir)
{
	uint32_t b = ct->s[idx].hash[dir] & ct->mask;
	ct->s[idx].next[dir] = ct->buckets[b];
	__atomic_store_n(&ct->buckets[b], idx, __ATOMIC_RELEASE);
}

static void link_session(struct pl_ct *ct, uint32_t idx)
{
	struct pl_ct_session *s = &ct->s[idx];
	s->next[1] = PL_CT_NIL;
	link_key(ct, idx, 0);
	if (chained1(ct, s))
		link_key(ct, idx, 1);
}

/* Chains and free list from the sessions themselves. */
static void rebuild(struct pl_ct *ct)
{
	struct pl_ct_table *t = ct->t;
	memset(ct->buckets, 0xff, (size_t)t->n_buckets * sizeof(uint32_t));
	t->free_head = PL_CT_NIL;
	t->count = 0;
	for (uint32_t i = t->capacity; i-- > 0;) {
		struct pl_ct_session *s = &ct->s[i];
		if (s->state == PL_CT_FREE || s->state >= PL_CT_STATE_MAX || (s->seq & 1)) {
			/* Free, or half-written by a writer that died: reuse it. */
			s->seq = (s->seq | 1) + 1;
			s->state = PL_CT_FREE;
			s->next[0] = t->free_head;
			t->free_head = i;
			continue;
		}
		/* The hashes are recomputed: a field written half by a dead writer is never trusted. */
		s->hash[0] = pl_ct_hash(&s->key[0]);
		s->hash[1] = pl_ct_hash(&s->key[1]);
		link_session(ct, i);
		t->count++;
	}
	if (t->cursor >= t->capacity)
		t->cursor = 0;
}

int pl_ct_open(struct pl_ct *ct, uint32_t capacity)
{
	memset(ct, 0, sizeof(*ct));
	if (capacity == 0)
		return -EINVAL;
	const struct rte_memzone *mz = rte_memzone_lookup(PL_CT_MZ_NAME);
	bool fresh = false;
	if (!mz) {
		mz = pl_dp_memzone_get(PL_CT_MZ_NAME, pl_ct_size(capacity), &fresh);
		if (!mz)
			return -rte_errno;
	}
	struct pl_ct_table *t = mz->addr;
	ct->t = t;
	if (fresh || t->magic != PL_CT_MAGIC || t->version != PL_CT_VERSION || t->capacity == 0 ||
		pl_ct_size(t->capacity) > mz->len || t->n_buckets != buckets_for(t->capacity)) {
		/* New, or a layout this code does not know: start empty in what is there. */
		uint32_t cap = capacity;
		while (cap > 1 && pl_ct_size(cap) > mz->len)
			cap /= 2;
		__atomic_store_n(&t->magic, 0, __ATOMIC_SEQ_CST);
		memset(t, 0, sizeof(*t));
		t->version = PL_CT_VERSION;
		t->capacity = cap;
		t->n_buckets = buckets_for(cap);
		t->buckets_off = sizeof(*t);
		t->sessions_off =
			sizeof(*t) + RTE_ALIGN_CEIL((size_t)t->n_buckets * sizeof(uint32_t), 64);
		map(ct);
		memset(ct->s, 0, (size_t)cap * sizeof(struct pl_ct_session));
		ct->created = true;
		rebuild(ct);
		__atomic_store_n(&t->magic, PL_CT_MAGIC, __ATOMIC_RELEASE);
		return 0;
	}
	map(ct);
	rebuild(ct);
	return 0;
}

int pl_ct_attach(struct pl_ct *ct)
{
	memset(ct, 0, sizeof(*ct));
	const struct rte_memzone *mz = rte_memzone_lookup(PL_CT_MZ_NAME);
	if (!mz)
		return -ENOENT;
	const struct pl_ct_table *t = mz->addr;
	/* Found but not yet (or not any more) a table of this layout: nat-lb is making it.
	 * Nothing is kept, so that a caller that looks again finds it whole. */
	if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != PL_CT_MAGIC ||
		t->version != PL_CT_VERSION)
		return -EPROTO;
	ct->t = mz->addr;
	map(ct);
	return 0;
}

uint32_t pl_ct_lookup(const struct pl_ct *ct, const struct pl_ct_key *k, uint32_t hash, int *dir)
{
	uint32_t b = hash & ct->mask;
	uint32_t i = __atomic_load_n(&ct->buckets[b], __ATOMIC_ACQUIRE);
	uint32_t steps = 0;
	while (i < ct->t->capacity && steps++ < ct->t->capacity) {
		const struct pl_ct_session *s = &ct->s[i];
		if (s->state != PL_CT_FREE) {
			if (key_eq(&s->key[0], k)) {
				*dir = 0;
				return i;
			}
			if (!(s->flags & PL_CT_F_ONE_KEY) && key_eq(&s->key[1], k)) {
				*dir = 1;
				return i;
			}
		}
		i = __atomic_load_n(&s->next[link_of(ct, s, b)], __ATOMIC_ACQUIRE);
	}
	return PL_CT_NIL;
}

uint32_t pl_ct_read(
	const struct pl_ct *ct, const struct pl_ct_key *k, int *dir, struct pl_ct_session *out)
{
	return pl_ct_read_hashed(ct, k, pl_ct_hash(k), dir, out);
}

uint32_t pl_ct_read_hashed(const struct pl_ct *ct, const struct pl_ct_key *k, uint32_t h, int *dir,
	struct pl_ct_session *out)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t i = pl_ct_lookup(ct, k, h, dir);
		if (i == PL_CT_NIL)
			return PL_CT_NIL;
		const struct pl_ct_session *s = &ct->s[i];
		uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		memcpy(out, s, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq && key_eq(&out->key[*dir], k))
			return i;
	}
	return PL_CT_NIL;
}

uint32_t pl_ct_insert(struct pl_ct *ct, const struct pl_ct_key *k0, const struct pl_ct_key *k1,
	bool one_key, uint64_t now_ms)
{
	struct pl_ct_table *t = ct->t;
	uint32_t i = t->free_head;
	if (i == PL_CT_NIL || i >= t->capacity)
		return PL_CT_NIL;
	struct pl_ct_session *s = &ct->s[i];
	t->free_head = s->next[0];
	pl_ct_write_begin(ct, i);
	s->key[0] = *k0;
	if (one_key)
		memset(&s->key[1], 0, sizeof(s->key[1]));
	else
		s->key[1] = *k1;
	s->flags = one_key ? PL_CT_F_ONE_KEY : 0;
	s->hash[0] = pl_ct_hash(&s->key[0]);
	s->hash[1] = pl_ct_hash(&s->key[1]);
	s->state = PL_CT_OTHER;
	s->frontend = PL_CT_NIL;
	s->created_ms = now_ms;
	s->expires_ms = now_ms;
	s->packets = 0;
	s->next[0] = s->next[1] = PL_CT_NIL;
	t->count++;
	return i;
}

void pl_ct_publish(struct pl_ct *ct, uint32_t idx)
{
	pl_ct_write_end(ct, idx);
	link_session(ct, idx);
}

static void unlink_key(struct pl_ct *ct, uint32_t idx, int dir)
{
	uint32_t b = ct->s[idx].hash[dir] & ct->mask;
	uint32_t *link = &ct->buckets[b];
	uint32_t steps = 0;
	while (*link != PL_CT_NIL && *link < ct->t->capacity && steps++ < ct->t->capacity) {
		uint32_t j = *link;
		if (j == idx) {
			__atomic_store_n(link, ct->s[idx].next[dir], __ATOMIC_RELEASE);
			return;
		}
		link = &ct->s[j].next[link_of(ct, &ct->s[j], b)];
	}
}

void pl_ct_delete(struct pl_ct *ct, uint32_t idx)
{
	struct pl_ct_table *t = ct->t;
	struct pl_ct_session *s = &ct->s[idx];
	if (idx >= t->capacity || s->state == PL_CT_FREE)
		return;
	unlink_key(ct, idx, 0);
	if (chained1(ct, s))
		unlink_key(ct, idx, 1);
	pl_ct_write_begin(ct, idx);
	s->state = PL_CT_FREE;
	pl_ct_write_end(ct, idx);
	s->next[0] = t->free_head;
	t->free_head = idx;
	t->count--;
}

uint32_t pl_ct_expire(
	struct pl_ct *ct, uint64_t now_ms, uint32_t budget, pl_ct_expire_fn *cb, void *arg)
{
	struct pl_ct_table *t = ct->t;
	uint32_t n = 0;
	if (budget > t->capacity)
		budget = t->capacity;
	for (uint32_t k = 0; k < budget; k++) {
		uint32_t i = t->cursor;
		t->cursor = i + 1 >= t->capacity ? 0 : i + 1;
		struct pl_ct_session *s = &ct->s[i];
		if (s->state != PL_CT_FREE && s->expires_ms <= now_ms) {
			if (cb)
				cb(s, arg);
			pl_ct_delete(ct, i);
			n++;
		}
	}
	return n;
}

uint32_t pl_ct_flush(struct pl_ct *ct, pl_ct_match_fn *match, void *arg)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < ct->t->capacity; i++) {
		struct pl_ct_session *s = &ct->s[i];
		if (s->state != PL_CT_FREE && (!match || match(s, arg))) {
			pl_ct_delete(ct, i);
			n++;
		}
	}
	return n;
}
