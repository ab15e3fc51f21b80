/* SPDX-License-Identifier: Apache-2.0 */
/* Hang detection: a running service that stops making progress is killed (SIGKILL) and then
 * replaced as a crashed one is (its standby takes over, or a cold restart).
 *
 * What "progress" is, read from shared memory only (no message to the service):
 *  - heartbeat: a service writes live.heartbeat_ms at least every heartbeat_period_ms while
 *    awake; before it sleeps it writes live.quiet_until_ms (the sleep's end), and during
 *    control work (pl_service_busy: a table build, an admin command) now + hang_control_ms.
 *    Hung when the later of the two is older than the limit: supervisor.hang_ms for the
 *    pipeline stages, supervisor.hang_control_ms for cni-server and bgp-bridge.
 *  - input rings (pipeline stages, not in control work): packets queued for the stage and its
 *    consumer position unchanged for hang_ms (or for hang_ms / 4 when the heartbeat is also
 *    older than hang_ms), while its output ring has room (a stage whose
 *    output is full waits on the next one; that one is the hung one). This catches a stage
 *    frozen while asleep: its producer queued packets and woke it, and nothing moved. In
 *    control work the same after hang_ms, but only a stopped process is taken for hung then
 *    (control work may be slow; a stage's packet loop does a little of it every millisecond,
 *    and a freeze there showed only after hang_control_ms).
 * A suspicion is confirmed from /proc/<pid>/stat before the kill (confirm()): stopped, or
 * asleep in the kernel past its announced wake-up: hung at once; runnable: hung only if it
 * spent at least half of the time since the suspicion on a CPU (spinning without progress) —
 * a process that merely waits for a CPU on an overloaded node is left alone (killing it would
 * add a restart to the load), up to 10 limits.
 * Checked every limit / 16 (at least 5 ms) while a service is ready; a service not ready yet
 * is under ready_timeout_ms instead. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_ring.h>

#include "pl_log.h"
#include "pl_proc.h"
#include "supervisor.h"

/* io-worker's port descriptors with input waiting (the fdstore's duplicates; main thread,
 * which alone changes the store). */
static uint32_t ports_pending(struct supervisor *sv)
{
	static struct pollfd pfd[PL_IF_MAX];
	nfds_t n = 0;
	if (!sv->fdstore_open || !sv->fdstore.n)
		return 0;
	for (uint32_t i = 0; i < PL_IF_MAX && n < sv->fdstore.n; i++)
		if (sv->fdstore.e[i].fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = sv->fdstore.e[i].fd, .events = POLLIN };
	int k = poll(pfd, n, 0);
	return k > 0 ? (uint32_t)k : 0;
}

/* Packets queued for service `id` over its input rings (for io-worker also its ports with
 * input waiting), and what moves when it takes them: the sum of the rings' consumer positions
 * (any dequeue changes it), for io-worker plus its heartbeat. *blocked: an output ring of the
 * stage is full. */
static uint32_t input_state(
	struct supervisor *sv, enum pl_svc_id id, uint32_t *progress, bool *blocked)
{
	uint32_t queued = 0;
	*progress = 0;
	*blocked = false;
	if (id == PL_SVC_IO_WORKER) {
		queued = ports_pending(sv);
		*progress = (uint32_t)__atomic_load_n(
			&sv->s.shm->live[id].heartbeat_ms, __ATOMIC_RELAXED);
	}
	for (int r = 0; r < PL_RING_MAX; r++) {
		const struct rte_ring *ring = sv->dp.rings[r];
		if (!ring)
			continue;
		if (pl_ring_defs[r].consumer == id) {
			queued += rte_ring_count(ring);
			*progress += __atomic_load_n(&ring->cons.tail, __ATOMIC_ACQUIRE);
		} else if (pl_ring_defs[r].producer == id && id != PL_SVC_IO_WORKER &&
			   rte_ring_free_count(ring) == 0) {
			/* io-worker drains its input whatever its output does. */
			*blocked = true;
		}
	}
	return queued;
}

/* A suspected hang confirmed: how (for the log), or NULL while it is not (yet). Stopped
 * (SIGSTOP, a debugger): at once. Asleep in the kernel past what it announced: at once (a
 * deadlock, or a descriptor that never wakes it). Runnable: only once it has spent at least half
 * of the time since the suspicion on a CPU (a loop that makes no progress); one that got less
 * is waiting for a CPU on an overloaded node and is given time (up to 10 limits). */
static const char *confirm(struct child *c, uint64_t now, uint32_t limit)
{
	struct pl_proc_stat st;
	if (!pl_proc_stat(c->pid, &st))
		return NULL; /* gone: reaped through its pidfd */
	uint64_t ticks = st.cpu_ticks;
	switch (st.state) {
	case 'T':
	case 't':
		return "stopped";
	case 'S':
	case 'D':
		return "asleep past its announced wake-up";
	case 'R':
		break;
	default:
		return NULL; /* Z, X: dying */
	}
	if (!c->suspect_since_ms) {
		c->suspect_since_ms = now;
		c->suspect_ticks = ticks;
		return NULL;
	}
	uint64_t waited = now - c->suspect_since_ms;
	if (waited < limit / 4)
		return NULL;
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	uint64_t cpu_ms = (ticks - c->suspect_ticks) * 1000 / (uint64_t)(hz > 0 ? hz : 100);
	if (cpu_ms * 2 >= waited)
		return "spinning without progress";
	if (waited > 10ull * limit)
		return "starved of CPU far past the limit";
	return NULL;
}

void hang_check(
	struct supervisor *sv, struct child *c, bool dataplane, uint64_t now, uint64_t *next)
{
	uint32_t limit =
		dataplane ? sv->s.cfg.supervisor.hang_ms : sv->s.cfg.supervisor.hang_control_ms;
	/* Killed already: its death comes through the pidfd. */
	if (!limit || !c->pid || !c->ready_seen || c->hung)
		return;
	const struct pl_svc_live *live = &sv->s.shm->live[c->id];
	uint64_t hb = __atomic_load_n(&live->heartbeat_ms, __ATOMIC_RELAXED);
	uint64_t quiet = __atomic_load_n(&live->quiet_until_ms, __ATOMIC_ACQUIRE);
	bool sleeping = __atomic_load_n(&sv->s.shm->idle[c->id].sleeping, __ATOMIC_RELAXED) != 0;
	bool busy = quiet > now && !sleeping; /* control work */
	uint64_t since = hb > quiet ? hb : quiet;
	uint32_t queued = 0, progress = 0;
	bool blocked = false;
	const char *why = NULL;

	if (since != UINT64_MAX && now > since && now - since > limit)
		why = busy ? "control work over supervisor.hang_control_ms" : "no heartbeat";
	bool only_stopped = false;
	if (!why && dataplane) {
		queued = input_state(sv, c->id, &progress, &blocked);
		if (queued && !blocked) {
			if (!c->hang_stuck || progress != c->hang_progress) {
				/* It moved after the last check at the latest. */
				c->hang_stuck = true;
				c->hang_progress = progress;
				c->hang_since_ms = c->hang_checked_ms ? c->hang_checked_ms : now;
			} else if (now - c->hang_since_ms >= limit ||
				   (!busy && now - c->hang_since_ms >= limit / 4 && now > hb &&
					   now - hb > limit)) {
				/* Stuck for the limit; or stuck for a while with its heartbeat
				 * older than the limit: awake it would have written one, and
				 * asleep with input queued it would have woken. */
				why = busy ? "no progress on its input in control work"
					   : "no progress on its input";
				only_stopped = busy;
			}
		} else {
			c->hang_stuck = false;
		}
	}
	c->hang_checked_ms = now;
	uint32_t period = limit / 16 < 5 ? 5 : limit / 16;
	/* Suspected: what the kernel says of it tells a hang from a process that only waits
	 * for a CPU (a starved one is not killed: that would add a restart to the load). */
	const char *how = why ? confirm(c, now, limit) : NULL;
	if (how && only_stopped && strcmp(how, "stopped") != 0) {
		how = NULL; /* slow control work: its own limit decides */
		c->suspect_since_ms = 0;
	}
	if (!why || !how) {
		uint64_t due = now + period;
		if (!why) {
			c->suspect_since_ms = 0;
			/* Nothing queued for it: a hang shows next when its heartbeat (or announced
			 * wake-up) passes the limit, or when packets queue for it — looked at every
			 * limit / 4 (the ring rule counts from the look before, so a stall is
			 * still seen within the limit and a period). Fewer wake-ups when idle. */
			uint64_t quiet_due = now + limit / 4;
			if (!c->hang_stuck && since != UINT64_MAX && since + limit + 1 > due)
				due = since + limit + 1 < quiet_due ? since + limit + 1 : quiet_due;
		}
		earliest(next, due);
		return;
	}
	if (dataplane && !queued)
		queued = input_state(sv, c->id, &progress, &blocked);
	PL_WARN("children",
		"%s (pid %d) hung: %s, %s (heartbeat %llu ms ago, %s, %u packets queued for it); "
		"killing it",
		pl_svc_name(c->id), (int)c->pid, why, how,
		(unsigned long long)(now > hb ? now - hb : 0),
		sleeping ? "asleep"
		: busy	 ? "in control work"
			 : "awake",
		queued);
	c->hung = true;
	c->hangs++;
	c->hang_stuck = false;
	c->hang_checked_ms = 0;
	supervisor_count(sv, PL_SUP_HANGS, 1);
	kill(c->pid, SIGKILL);
	c->killed_ms = now;
	earliest(next, now + 1); /* children_poll looks for it exiting */
}
