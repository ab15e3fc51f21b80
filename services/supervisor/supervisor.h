/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's state, shared by its modules: children (spawn, watch, restart with back-off,
 * stop), reclaim (ring repair and packet reclamation after a death), metrics (Prometheus text
 * from the stats segment) and admin (services/show, pool/show, rings/show). */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pl_bus.h"
#include "pl_fdstore.h"
#include "pl_dp.h"
#include "pl_service.h"

/* A warm standby of a pipeline stage: started with --standby-fd (the far end of `sock`), it
 * attaches the shared memory, writes 'W' (warm) and sleeps until the supervisor writes 'G'. */
struct standby {
	pid_t pid; /* 0 when none */
	int pidfd;
	int sock; /* the supervisor's end of the socketpair */
	bool warm; /* 'W' received */
	unsigned int slot; /* its lcore slot: the one the active does not use */
	uint64_t started_ms;
	uint64_t due_ms; /* 0, or when to start the next one (back-off) */
};

struct child {
	enum pl_svc_id id;
	bool managed; /* spawned by this supervisor */
	pid_t pid; /* 0 when not running */
	int pidfd; /* -1 when not running */
	uint64_t started_ms;
	uint64_t restart_at_ms; /* when in back-off */
	uint32_t backoff_ms;
	bool ready_seen;
	char last_exit[64]; /* "exited 1", "killed by SIGKILL" */
	unsigned int slot; /* lcore slot of the running process */
	uint32_t takeovers;
	bool from_standby; /* the running process was a standby */
	struct standby sb;
	/* hang detection (supervisor_hang.c) */
	bool hung; /* killed as hung: its exit is reported so */
	uint64_t killed_ms; /* when the hung process was sent SIGKILL */
	uint32_t hangs; /* hangs detected */
	bool hang_stuck; /* input queued and not moving since hang_since_ms */
	uint32_t hang_progress;
	uint64_t hang_since_ms;
	uint64_t hang_checked_ms; /* last check, 0 before the first */
	uint64_t suspect_since_ms; /* a hang suspected (runnable: is it spinning or starved?) */
	uint64_t suspect_ticks; /* its CPU time then */
};

/* A process killed as hung that no longer runs (every thread in the kernel's exit path) but
 * has not finished exiting: its service has moved on; it is reaped when its pidfd says so. */
struct corpse {
	pid_t pid;
	int pidfd;
	enum pl_svc_id id;
	uint64_t since_ms; /* when it was found no longer running */
};

/* Poll items children_poll_items may fill: each service's pidfd, its standby's pidfd and
 * socket, and the corpses. */
#define SUPERVISOR_CORPSES_MAX (2 * PL_SVC_MAX)
#define CHILDREN_POLL_ITEMS_MAX (3 * PL_SVC_MAX + SUPERVISOR_CORPSES_MAX)

struct supervisor {
	struct pl_service s;
	struct pl_dp dp;
	struct child children[PL_SVC_MAX];
	struct corpse corpses[SUPERVISOR_CORPSES_MAX];
	int n_corpses;
	char bin_dir[PL_CONFIG_STR_SIZE];
	const char *config_arg; /* -c value to pass on, NULL if none */
	const char *log_arg; /* -l value to pass on, NULL if none */
	bool notified_ready;
	struct MHD_Daemon *mhd;
	struct pl_bus_producer *bus; /* publishes kind "service" */
	uint64_t bus_rejected_seen;
	uint64_t local[PL_SUP_MAX];
	/* io-worker's port descriptors, kept across its deaths (pl_fdstore.h). The main thread
	 * changes it under fdstore_lock; the metrics thread reads the ports' names under it. */
	struct pl_fdstore fdstore;
	pthread_mutex_t fdstore_lock;
	bool fdstore_open;
};

/* children */
void children_init(struct supervisor *sv);
int children_spawn(struct supervisor *sv, enum pl_svc_id id);
/* Handles exits (pidfds ready), readiness, ready timeouts and due restarts. Returns the ms
 * until the next due event. */
int children_poll(struct supervisor *sv, uint64_t now_ms);
/* Fills poll items for every running child's pidfd, its standby's pidfd and socket, and the
 * corpses' pidfds (at most CHILDREN_POLL_ITEMS_MAX); returns how many. */
int children_poll_items(struct supervisor *sv, zmq_pollitem_t *items, int max);
int children_start_all(struct supervisor *sv);
void children_stop_all(struct supervisor *sv);
/* Waits for (and if need be kills) children a previous supervisor left in the segment. */
void children_reap_stale(const char *run_dir);

/* Lowers *next to at. */
static inline void earliest(uint64_t *next, uint64_t at)
{
	if (at < *next)
		*next = at;
}

/* hang detection: kills c (SIGKILL) if it stopped making progress; its death is then handled
 * as any other. dataplane: a pipeline stage (limit supervisor.hang_ms, input rings watched),
 * else a control service (supervisor.hang_control_ms, heartbeat only). */
void hang_check(
	struct supervisor *sv, struct child *c, bool dataplane, uint64_t now, uint64_t *next);

/* reclaim */
void reclaim_init_tags(struct supervisor *sv);
/* After service `id` died: repair its ring sides and reclaim what it held. */
void reclaim_after_death(struct supervisor *sv, enum pl_svc_id id);

/* metrics */
int metrics_start(struct supervisor *sv);
void metrics_stop(struct supervisor *sv);

/* bus: one "service" object per service (pid, state, restarts) */
int supervisor_bus_start(struct supervisor *sv);
void supervisor_bus_publish(struct supervisor *sv, enum pl_svc_id id);
/* Serves snapshot requests, heartbeats, counts rejected messages; returns ms to next tick. */
int supervisor_bus_poll(struct supervisor *sv, uint64_t now_ms);
void supervisor_bus_stop(struct supervisor *sv);

/* uplink: snapshot, takeover, host tap, restore */
int uplink_start(struct supervisor *sv);
void uplink_stop(struct supervisor *sv);
/* Restores from the state file; 1 if it did, 0 if there was nothing to restore, or -errno. */
int uplink_restore_from_file(const struct pl_config *cfg);

/* ethdev: the dpdk uplink driver's device (probed and started by the primary) */
int ethdev_start(struct supervisor *sv, char *name, size_t name_size, uint8_t mac[6]);
void ethdev_stop(struct supervisor *sv);

/* admin */
int supervisor_admin_register(struct supervisor *sv);

void supervisor_count(struct supervisor *sv, enum pl_sup_counter c, uint64_t n);

#endif
