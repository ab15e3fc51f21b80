/* SPDX-License-Identifier: Apache-2.0 */
/* The shared stats segment: a plain file under the run directory (<run_dir>/podlane.shm) that
 * every service maps, DPDK or not. It holds the service table (pid, state, heartbeat, the
 * adaptive-idle "sleeping" flag) and one counter block per service. The supervisor creates it;
 * each block and each service slot's own fields have exactly one writer. Nothing in it is a
 * pointer. Counter reads are epoch (seqlock) protected so a set of counters is consistent. */
#ifndef PL_SHM_H
#define PL_SHM_H

#include <stdbool.h>
#include <stdint.h>

#include "pl_counters.h"

#define PL_SHM_FILE "podlane.shm"
#define PL_SHM_MAGIC 0x706c736dU /* "plsm" */
#define PL_SHM_VERSION 1
#define PL_STATS_MAX_COUNTERS 60
#define PL_CACHE_LINE 64

enum pl_svc_id {
	PL_SVC_SUPERVISOR,
	PL_SVC_IO_WORKER,
	PL_SVC_NAT_LB,
	PL_SVC_POLICY,
	PL_SVC_ROUTER,
	PL_SVC_CNI_SERVER,
	PL_SVC_BGP_BRIDGE,
	PL_SVC_MAX
};

enum pl_svc_state {
	PL_STATE_STOPPED, /* not running, not scheduled */
	PL_STATE_STARTING, /* spawned, not ready yet */
	PL_STATE_READY, /* initialised and serving */
	PL_STATE_BACKOFF, /* died; restart scheduled */
	PL_STATE_STOPPING, /* asked to stop */
	PL_STATE_MAX
};

/* Written by the service itself. */
struct pl_svc_live {
	int32_t pid;
	uint32_t state; /* enum pl_svc_state: STARTING/READY/STOPPING by the service */
	uint64_t heartbeat_ms; /* CLOCK_MONOTONIC ms, while awake at least every 100 ms */
	uint64_t incarnation; /* random per start */
	/* No heartbeat is due before this (CLOCK_MONOTONIC ms): set before a sleep (to its end)
	 * and during control work (now + supervisor.hang_control_ms); 0 while forwarding. The
	 * supervisor's hang check counts from the later of this and heartbeat_ms. */
	uint64_t quiet_until_ms;
} __attribute__((aligned(PL_CACHE_LINE)));

/* Written by the consumer, read by its producers on every enqueue: its own cache line. */
struct pl_svc_idle {
	volatile uint32_t sleeping;
} __attribute__((aligned(PL_CACHE_LINE)));

/* Written by the supervisor. */
struct pl_svc_sup {
	int32_t pid; /* child pid as the supervisor knows it, 0 if none */
	uint32_t state; /* enum pl_svc_state as the supervisor sees it */
	uint32_t restarts;
	int32_t last_exit_code; /* -1 if killed by a signal */
	int32_t last_exit_signal; /* 0 if exited */
	uint32_t backoff_ms;
	uint64_t started_ms;
} __attribute__((aligned(PL_CACHE_LINE)));

struct pl_stats_block {
	volatile uint64_t seq; /* odd while the writer is updating */
	uint64_t pad_[7];
	uint64_t v[PL_STATS_MAX_COUNTERS];
} __attribute__((aligned(PL_CACHE_LINE)));

struct pl_shm {
	uint32_t magic;
	uint32_t version;
	uint32_t size;
	uint32_t n_svc;
	uint64_t supervisor_incarnation;
	int32_t supervisor_pid;
	struct pl_svc_live live[PL_SVC_MAX];
	struct pl_svc_idle idle[PL_SVC_MAX];
	struct pl_svc_sup sup[PL_SVC_MAX];
	struct pl_stats_block stats[PL_SVC_MAX];
} __attribute__((aligned(PL_CACHE_LINE)));

#endif
