/* SPDX-License-Identifier: Apache-2.0 */
/* The stage runner shared by nat-lb, policy and router: take a burst from the input ring with
 * ownership tags, let the stage's burst function decide each packet's verdict, pass the burst
 * on (waiting, not dropping, when the output ring is full: only io-worker frees), count once per
 * burst, and go idle the adaptive way when there is nothing to do. */
#ifndef PL_STAGE_H
#define PL_STAGE_H

#include "pl_dp.h"
#include "pl_service.h"

/* Processes n packets in place. Marks drops in their metadata (pl_stage_drop) and adds to
 * counters[PL_STAGE_MARKED_DROP]. Returns nothing: every packet goes on. */
typedef void pl_stage_fn(void *ctx, struct rte_mbuf **pkts, unsigned int n, uint64_t *counters);

static inline void pl_stage_drop(struct rte_mbuf *m, enum pl_drop_reason reason, uint64_t *counters)
{
	struct pl_pkt_meta *meta = pl_meta(m);
	meta->verdict = PL_VERDICT_DROP;
	meta->drop_reason = (uint8_t)reason;
	counters[PL_STAGE_MARKED_DROP]++;
}

struct pl_stage_def {
	enum pl_ring_id in;
	enum pl_ring_id out;
	pl_stage_fn *fn;
	void *ctx;
	/* Counters the burst function may add to (its array has PL_STATS_MAX_COUNTERS); 0 means
	 * the stage counters only. */
	unsigned int n_counters;
	/* Optional control side of the stage, all called from its one thread. */
	int (*init)(void *ctx, struct pl_service *s, struct pl_dp *dp); /* after attach */
	void (*fini)(void *ctx);
	void (*housekeeping)(void *ctx, uint64_t now_ms); /* about every ms */
	int (*poll_items)(void *ctx, zmq_pollitem_t *items, int max); /* woken by these too */
};

/* Runs until the service is asked to stop. 0 or -errno. */
int pl_stage_run(struct pl_service *s, struct pl_dp *dp, const struct pl_stage_def *def);

/* Adaptive idle state of one polling loop. */
struct pl_idle {
	uint64_t spin_cycles; /* empty polling allowed before sleeping */
	uint64_t idle_since; /* tsc of the first empty poll of this run */
	uint32_t empty; /* consecutive empty polls */
	uint64_t hk_cycles; /* housekeeping period */
	uint64_t next_hk; /* tsc of the next housekeeping */
};

void pl_idle_init(struct pl_idle *idle, const struct pl_config *cfg);
/* Records one poll. Returns true when the loop has been idle long enough to sleep. */
bool pl_idle_poll(struct pl_idle *idle, bool did_work, uint64_t now_tsc);
/* Runs housekeeping when due (about every millisecond). */
void pl_idle_housekeeping(struct pl_idle *idle, struct pl_service *s, uint64_t now_tsc);

/* The whole main() of a pass-through-shaped stage: service init, EAL secondary, attach,
 * ready, run, teardown in reverse. Returns the process exit code. */
int pl_stage_main(int argc, char **argv, enum pl_svc_id id, const char *summary,
	const struct pl_stage_def *def);

#endif
