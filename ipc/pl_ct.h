/* SPDX-License-Identifier: Apache-2.0 */
/* Connection tracking: the session table in shared memory (memzone "pl_ct"). nat-lb is its
 * single writer and creates it at its first start; it outlives nat-lb (a restarted nat-lb finds
 * every session and forwards at once) and is what the policy stage reads for stateful filtering.
 *
 * Layout: a header, a bucket array of session indexes, then `capacity` fixed-size sessions.
 * No pointers: chains and the free list are session indexes. A session carries two keys, the
 * original direction as the client sent it (key[0]) and the reply direction as the endpoint
 * answers (key[1]); NAT is the difference between them. Each key is hashed into its own chain
 * (next[0], next[1]); a single-key session (an affinity pin), or one whose two keys fall into
 * the same bucket, is chained by key[0] only (lookups compare both keys anyway).
 *
 * Concurrency: one writer. A session's `seq` is odd while the writer changes it; readers in
 * other processes copy a session and retry when seq changed (seqlock), so reads never lock.
 * Crash safety: the chains and the free list are rebuilt from the sessions each time the writer
 * opens the table (a writer killed mid-insert leaves at worst a half-linked chain, which the
 * rebuild discards, and a session with an odd seq, which it drops).
 *
 * Expiry is not done on the packet path beyond the session a packet finds: the writer's
 * housekeeping walks a bounded number of slots per call (pl_ct_expire), round-robin. */
#ifndef PL_CT_H
#define PL_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_CT_MZ_NAME "pl_ct"
#define PL_CT_MAGIC 0x706c6374U /* "plct" */
#define PL_CT_VERSION 1
#define PL_CT_NIL UINT32_MAX

/* key.zone: a flow, or the client -> service pin of session affinity. */
#define PL_CT_ZONE_FLOW 0
#define PL_CT_ZONE_AFFINITY 1

struct pl_ct_key {
	uint8_t src[16]; /* IPv4 in the first 4 bytes, the rest zero */
	uint8_t dst[16];
	uint16_t sport; /* network order; ICMP echo: the identifier */
	uint16_t dport;
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t proto; /* IPPROTO_* */
	uint16_t zone; /* PL_CT_ZONE_* */
};

enum pl_ct_state {
	PL_CT_FREE = 0,
	PL_CT_TCP_SYN, /* opening: only the client has spoken */
	PL_CT_TCP_EST, /* both directions seen */
	PL_CT_TCP_CLOSING, /* FIN or RST seen */
	PL_CT_UDP,
	PL_CT_OTHER,
	PL_CT_AFFINITY, /* a pin: key[0] client -> service, key[1].src/sport the endpoint */
	PL_CT_STATE_MAX
};

#define PL_CT_F_DNAT 0x01 /* destination translated (key[1].src != key[0].dst) */
#define PL_CT_F_SNAT 0x02 /* source translated (key[1].dst != key[0].src) */
#define PL_CT_F_REPLY_SEEN 0x04
#define PL_CT_F_FIN_ORIG 0x08
#define PL_CT_F_FIN_REPLY 0x10
#define PL_CT_F_ONE_KEY 0x20 /* only key[0] is chained */
#define PL_CT_F_FROM_HOST 0x40 /* its first packet came in on the host tap */

struct pl_ct_session {
	uint32_t seq; /* odd while being written */
	uint8_t state; /* enum pl_ct_state; PL_CT_FREE when unused */
	uint8_t flags; /* PL_CT_F_* */
	uint16_t pad_;
	uint32_t next[2]; /* chains of key[0] and key[1]; next[0] links the free list */
	uint32_t hash[2]; /* pl_ct_hash of the keys */
	uint32_t frontend; /* owner's bookkeeping (nat-lb: the service frontend), or PL_CT_NIL */
	uint32_t packets; /* both directions, wrapping */
	uint64_t expires_ms; /* CLOCK_MONOTONIC milliseconds */
	uint64_t created_ms;
	struct pl_ct_key key[2];
} __attribute__((aligned(64)));

struct pl_ct_table {
	uint32_t magic;
	uint32_t version;
	uint32_t capacity; /* sessions */
	uint32_t n_buckets; /* power of two, >= 2 * capacity */
	uint32_t count; /* sessions in use */
	uint32_t free_head;
	uint32_t cursor; /* next slot pl_ct_expire looks at */
	uint32_t pad_;
	uint64_t buckets_off; /* from the start of the table */
	uint64_t sessions_off;
} __attribute__((aligned(64)));

/* What a process holds of the table. */
struct pl_ct {
	struct pl_ct_table *t;
	uint32_t *buckets;
	struct pl_ct_session *s;
	uint32_t mask; /* n_buckets - 1 */
	bool created; /* this open created or reset it */
};

/* Bytes of shared memory the table takes for `capacity` sessions. */
size_t pl_ct_size(uint32_t capacity);

/* Writer: finds the table (or creates it with `capacity` sessions; an existing table keeps its
 * own capacity), then rebuilds chains and the free list from the sessions. 0 or -errno. */
int pl_ct_open(struct pl_ct *ct, uint32_t capacity);
/* Reader in another process: finds it, never writes. 0, -ENOENT (not created yet), -EPROTO
 * (being made, or another layout) or -errno; on failure *ct is left all zero. */
int pl_ct_attach(struct pl_ct *ct);

uint32_t pl_ct_hash(const struct pl_ct_key *k);

/* Writer side (or the reader's optimistic walk: see pl_ct_read). Returns the session index and
 * sets *dir to 0 (original) or 1 (reply) when k matches a live session, else PL_CT_NIL. */
uint32_t pl_ct_lookup(const struct pl_ct *ct, const struct pl_ct_key *k, uint32_t hash, int *dir);

/* Reader in another process: copies the session k matches into *out (consistent, or retried).
 * Index, or PL_CT_NIL. pl_ct_read_hashed takes k's pl_ct_hash when the caller has it. */
uint32_t pl_ct_read(
	const struct pl_ct *ct, const struct pl_ct_key *k, int *dir, struct pl_ct_session *out);
uint32_t pl_ct_read_hashed(const struct pl_ct *ct, const struct pl_ct_key *k, uint32_t hash,
	int *dir, struct pl_ct_session *out);

/* Writer: a new session with keys k0 (and k1 unless one_key). Returns its index with the
 * session's seq odd (being written): set state, flags, expiry, then call pl_ct_publish.
 * PL_CT_NIL when full. */
uint32_t pl_ct_insert(struct pl_ct *ct, const struct pl_ct_key *k0, const struct pl_ct_key *k1,
	bool one_key, uint64_t now_ms);
void pl_ct_publish(struct pl_ct *ct, uint32_t idx);

/* Writer: brackets in-place changes of a live session (state, flags, expiry). */
static inline void pl_ct_write_begin(struct pl_ct *ct, uint32_t idx)
{
	__atomic_store_n(&ct->s[idx].seq, ct->s[idx].seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}
static inline void pl_ct_write_end(struct pl_ct *ct, uint32_t idx)
{
	__atomic_store_n(&ct->s[idx].seq, ct->s[idx].seq + 1, __ATOMIC_RELEASE);
}

/* Writer: unlinks and frees a session. */
void pl_ct_delete(struct pl_ct *ct, uint32_t idx);

/* Writer: looks at up to `budget` slots from the cursor and deletes the expired sessions.
 * Calls cb (may be NULL) before each deletion. Returns how many were deleted. */
typedef void pl_ct_expire_fn(const struct pl_ct_session *s, void *arg);
uint32_t pl_ct_expire(
	struct pl_ct *ct, uint64_t now_ms, uint32_t budget, pl_ct_expire_fn *cb, void *arg);

/* Writer: deletes every session for which match returns true (NULL: all). Returns the count. */
typedef bool pl_ct_match_fn(const struct pl_ct_session *s, void *arg);
uint32_t pl_ct_flush(struct pl_ct *ct, pl_ct_match_fn *match, void *arg);

const char *pl_ct_state_name(uint8_t state);

#endif
