/* SPDX-License-Identifier: Apache-2.0 */
/* What every podlane service shares: command-line handling, config, logging, the admin socket,
 * the shared stats segment, signals, sd_notify (READY, WATCHDOG, STATUS) and the adaptive idle
 * mode. A service polls while busy; after pipeline.idle_spin_us of empty polls it raises its
 * "sleeping" flag and blocks in pl_service_sleep() on its wake socket, admin socket and signals.
 * A producer that has just enqueued work calls pl_service_wake(), which sends a datagram to the
 * consumer's wake socket only while the consumer's flag is up. The wake socket is a unix
 * datagram socket at <run_dir>/<svc>.wake: unlike an eventfd, independent processes (systemd
 * units) can reach it by name, and a restarted consumer simply binds it again. */
#ifndef PL_SERVICE_H
#define PL_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include <zmq.h>

#include "pl_admin.h"
#include "pl_config.h"
#include "pl_shm.h"
#include "pl_stats.h"

struct pl_service {
	enum pl_svc_id id;
	const char *name;
	struct pl_config cfg;
	const char *config_path; /* -c, NULL for the built-in defaults (re-read at a take-over) */
	void *zctx;
	struct pl_admin *admin;
	struct pl_shm *shm;
	struct pl_stats_block *stats; /* this service's block */
	int wake_fd;
	int signal_fd;
	int lock_fd;
	uint64_t lock_pending_since_ms; /* 0, or since when the lock is waited for (take-over) */
	bool lock_pending_warned;
	bool stop;
	uint64_t watchdog_usec;
	uint64_t last_watchdog_ms;
	uint64_t last_heartbeat_ms;
	uint32_t heartbeat_period_ms; /* min(100, supervisor.hang_ms / 4) */
	uint64_t incarnation;
	uint64_t start_ms; /* process start, or the take-over of a standby */
	int standby_fd; /* --standby-fd: >= 0 while a warm standby, -1 otherwise */
	unsigned int lcore_slot; /* --lcore-slot: 0 or 1 */
	bool took_over; /* was a standby */
	int standby_nice; /* a standby's priority before it lowered it, restored at take-over */
	struct sockaddr_un wake_addr[PL_SVC_MAX]; /* peers' wake sockets */
};

/* A service-specific boolean long option (--name), set to true when given. */
struct pl_service_flag {
	const char *name;
	bool *value;
};

/* Options every service takes; `extra_usage` is appended to --help. */
struct pl_service_opts {
	const char *summary; /* one line for --help */
	const char *extra_usage; /* may be NULL */
	const struct pl_service_flag *flags; /* ends with a NULL name; at most 8; may be NULL */
};

/* Parses the command line, loads config, opens everything (a standby: all but what
 * pl_service_standby takes at the take-over). Returns 0; >0 when the process
 * should exit successfully now (--help, --version); <0 on a startup error (already printed,
 * exit non-zero). */
int pl_service_init(struct pl_service *s, enum pl_svc_id id, int argc, char **argv,
	const struct pl_service_opts *opts);
/* What a standby keeps warm while it waits (optional): its control state, e.g. the state bus,
 * so that the take-over starts from it. Called without the admin socket, the stats segment
 * or the service lock (s->admin and s->stats are NULL). */
#define PL_STANDBY_MAX_ITEMS 8
struct pl_standby_work {
	int (*poll_items)(void *ctx, zmq_pollitem_t *items, int max);
	void (*handle)(void *ctx, uint64_t now_ms);
	void *ctx;
};
/* A warm standby (started with --standby-fd by the supervisor, which keeps one per pipeline
 * stage): called once the slow part of the start (DPDK EAL, attaching the shared memory) is
 * done. Tells the supervisor it is warm (writes 'W' to the descriptor), sleeps (no CPU, or
 * serving `work` if given) until
 * the supervisor writes 'G' after the active process died and its rings were repaired, then
 * takes the lock, binds the admin and wake sockets and claims the service's slot in the stats
 * segment. Returns 0 at once when not a standby; 0 after a take-over; >0 when the process
 * should exit quietly (stopped by a signal, or the supervisor closed its end); <0 on error. */
int pl_service_standby(struct pl_service *s, const struct pl_standby_work *work);
/* Marks the service ready in the stats segment and tells systemd. */
void pl_service_ready(struct pl_service *s, const char *status);
/* Cheap, call at least every millisecond or so while busy: admin requests, signals,
 * heartbeat, watchdog (each behind its own time check). */
void pl_service_housekeeping(struct pl_service *s, uint64_t now_ms);
/* Control work (a table build, an admin command) begins (true) or ends (false): the
 * supervisor's hang check allows supervisor.hang_control_ms instead of supervisor.hang_ms
 * until it ends; the end is a heartbeat. Cheap (a clock read and a store). */
void pl_service_busy(struct pl_service *s, bool busy);
/* Blocks up to timeout_ms (capped by sleep_ms and the watchdog) on the wake socket, the admin
 * socket, signals and `extra` items; handles admin and signals. Returns the number of extra
 * items that became ready. */
int pl_service_sleep(struct pl_service *s, int timeout_ms, zmq_pollitem_t *extra, int n_extra);
/* Raises / lowers this service's sleeping flag (full barrier after raising). */
void pl_service_set_sleeping(struct pl_service *s, bool sleeping);
/* Wakes consumer `id` if it sleeps. */
static inline bool pl_service_consumer_sleeps(const struct pl_service *s, enum pl_svc_id id)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return s->shm->idle[id].sleeping != 0;
}
void pl_service_wake(struct pl_service *s, enum pl_svc_id id);
/* For the supervisor, which creates the segment after init. */
void pl_service_attach_shm(struct pl_service *s, struct pl_shm *shm);
/* Loop of a control-plane service with nothing but admin and signals to serve yet. */
int pl_service_run_control(struct pl_service *s);
void pl_service_fini(struct pl_service *s);

#endif
