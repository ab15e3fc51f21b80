/* SPDX-License-Identifier: Apache-2.0 */
/* Access to the shared stats segment (ipc/pl_shm.h): create (supervisor) or attach (services),
 * the service names, the counter descriptors generated from ipc/pl_counters.h, and the
 * seqlock-protected write (once per burst) and read sides. */
#ifndef PL_STATS_H
#define PL_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_shm.h"

struct pl_counter_desc {
	const char *name;
	const char *help;
};

const char *pl_svc_name(enum pl_svc_id id);
/* -ENOENT for an unknown name, else the id. */
int pl_svc_from_name(const char *name);
const char *pl_svc_state_name(enum pl_svc_state s);
/* The counters of one service's block, in block order (common counters first). */
const struct pl_counter_desc *pl_counter_descs(enum pl_svc_id id, unsigned int *n);

/* Creates (or re-initialises) <run_dir>/podlane.shm; NULL with errno. */
struct pl_shm *pl_shm_create(const char *run_dir);
/* Maps an existing segment and checks magic, version and size; NULL with errno. */
struct pl_shm *pl_shm_attach(const char *run_dir);
void pl_shm_detach(struct pl_shm **shmp);

uint64_t pl_now_ms(void);

/* Writer side: add a burst's local counts (n entries, zero entries skipped) in one epoch. */
static inline void pl_stats_add(struct pl_stats_block *b, const uint64_t *local, unsigned int n)
{
	b->seq++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned int i = 0; i < n; i++)
		if (local[i])
			__atomic_store_n(&b->v[i], b->v[i] + local[i], __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	b->seq++;
}

static inline void pl_stats_inc(struct pl_stats_block *b, unsigned int idx, uint64_t n)
{
	b->seq++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&b->v[idx], b->v[idx] + n, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	b->seq++;
}

/* Reader side: copies a consistent snapshot of n counters. 0, or -EAGAIN if no consistent
 * copy could be had (a writer died mid-update); `out` then holds a best-effort copy. */
int pl_stats_read(const struct pl_stats_block *b, uint64_t *out, unsigned int n);
/* After the block's writer died: make the epoch even again (the supervisor calls this). */
void pl_stats_repair(struct pl_stats_block *b);

#endif
