/* SPDX-License-Identifier: Apache-2.0 */
/* Children: the supervisor spawns every service, notices a death at once through a pidfd,
 * repairs and reclaims after it, and restarts it: a pipeline stage's warm standby (already
 * started, EAL up, shared memory attached, asleep) takes over at once; without one, the service
 * is started again after a back-off that doubles on each quick death and resets once the
 * service has run quietly for supervisor.quiet_ms. The same back-off paces the creation of the
 * next standby. Children carry PR_SET_PDEATHSIG=SIGKILL so none outlives a killed supervisor. */
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pl_log.h"
#include "pl_proc.h"

/* Start order: consumers before their producers. Stop order is the reverse. */
static const enum pl_svc_id start_order[] = {
	PL_SVC_ROUTER,
	PL_SVC_POLICY,
	PL_SVC_NAT_LB,
	PL_SVC_IO_WORKER,
	PL_SVC_CNI_SERVER,
	PL_SVC_BGP_BRIDGE,
};

static bool is_dataplane(enum pl_svc_id id)
{
	return id == PL_SVC_IO_WORKER || id == PL_SVC_NAT_LB || id == PL_SVC_POLICY ||
	       id == PL_SVC_ROUTER;
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

extern char **environ;

/* The children's environment: ours without systemd's notify variables, which belong to the
 * supervisor alone (a child's READY=1 must not stand for the whole stack's). */
static char **child_env;

static void build_child_env(void)
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	child_env = calloc(n + 1, sizeof(*child_env));
	if (!child_env)
		return;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0 &&
			strncmp(environ[i], "WATCHDOG_", 9) != 0)
			child_env[k++] = environ[i];
}

void children_init(struct supervisor *sv)
{
	if (!child_env)
		build_child_env();
	for (int i = 0; i < PL_SVC_MAX; i++) {
		struct child *c = &sv->children[i];
		memset(c, 0, sizeof(*c));
		c->id = i;
		c->pidfd = -1;
		c->sb.pidfd = c->sb.sock = -1;
		c->backoff_ms = sv->s.cfg.supervisor.backoff_min_ms;
		c->managed = i != PL_SVC_SUPERVISOR && sv->s.cfg.supervisor.spawn_services;
	}
}

static void publish(struct supervisor *sv, const struct child *c, enum pl_svc_state state)
{
	struct pl_svc_sup *sup = &sv->s.shm->sup[c->id];
	sup->pid = c->pid;
	sup->backoff_ms = c->backoff_ms;
	sup->started_ms = c->started_ms;
	__atomic_store_n(&sup->state, state, __ATOMIC_RELEASE);
	supervisor_bus_publish(sv, c->id);
}

static void describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by SIG%s",
			sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, size, "status %d", status);
}

/* fork + exec of a service binary in lcore slot `slot`; standby_fd >= 0 makes it a warm
 * standby (the descriptor becomes its fd 3). The pid, or -errno. */
static pid_t spawn_process(
	struct supervisor *sv, enum pl_svc_id id, unsigned int slot, int standby_fd)
{
	char path[PL_CONFIG_STR_SIZE + 64], a_slot[32];
	char *argv[12];
	int argc = 0;
	pid_t parent = getpid();

	snprintf(path, sizeof(path), "%s/podlane-%s", sv->bin_dir, pl_svc_name(id));
	snprintf(a_slot, sizeof(a_slot), "--lcore-slot=%u", slot);
	argv[argc++] = path;
	if (sv->config_arg) {
		argv[argc++] = "-c";
		argv[argc++] = (char *)sv->config_arg;
	}
	if (sv->log_arg) {
		argv[argc++] = "-l";
		argv[argc++] = (char *)sv->log_arg;
	}
	if (is_dataplane(id))
		argv[argc++] = a_slot;
	if (standby_fd >= 0)
		argv[argc++] = "--standby-fd=3";
	argv[argc] = NULL;

	pid_t pid = fork();
	if (pid < 0) {
		PL_ERR("children", "cannot fork for %s: %s", pl_svc_name(id), strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (standby_fd >= 0 &&
			(standby_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(standby_fd, 3)) < 0)
			_exit(127);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execve(path, argv, child_env ? child_env : environ);
		static const char msg[] = "podlane-supervisor: cannot execute a service binary\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	return pid;
}

int children_spawn(struct supervisor *sv, enum pl_svc_id id)
{
	struct child *c = &sv->children[id];
	/* Never the slot a standby holds. */
	if (c->sb.pid)
		c->slot = !c->sb.slot;
	/* The service must not see a stale READY from its previous incarnation. */
	__atomic_store_n(&sv->s.shm->live[id].state, PL_STATE_STOPPED, __ATOMIC_RELEASE);
	pid_t pid = spawn_process(sv, id, c->slot, -1);
	if (pid < 0)
		return (int)pid;
	c->pid = pid;
	c->pidfd = pidfd_open(pid);
	c->started_ms = pl_now_ms();
	c->ready_seen = false;
	c->from_standby = false;
	publish(sv, c, PL_STATE_STARTING);
	PL_INFO("children", "started %s (pid %d)", pl_svc_name(id), (int)pid);
	return 0;
}

static bool wants_standby(const struct supervisor *sv, const struct child *c)
{
	return sv->s.cfg.supervisor.standby && c->managed && is_dataplane(c->id);
}

static void standby_start(struct supervisor *sv, struct child *c, uint64_t now)
{
	struct standby *sb = &c->sb;
	int sp[2];
	sb->due_ms = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		PL_ERR("children", "no standby for %s: socketpair: %s", pl_svc_name(c->id),
			strerror(errno));
		sb->due_ms = now + c->backoff_ms;
		return;
	}
	unsigned int slot = !c->slot;
	pid_t pid = spawn_process(sv, c->id, slot, sp[1]);
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		sb->due_ms = now + c->backoff_ms;
		return;
	}
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	sb->pid = pid;
	sb->pidfd = pidfd_open(pid);
	sb->sock = sp[0];
	sb->warm = false;
	sb->slot = slot;
	sb->started_ms = now;
	supervisor_count(sv, PL_SUP_STANDBY_STARTS, 1);
	PL_INFO("children", "started a standby %s (pid %d)", pl_svc_name(c->id), (int)pid);
}

static void standby_forget(struct standby *sb)
{
	if (sb->pidfd >= 0)
		close(sb->pidfd);
	if (sb->sock >= 0) {
		/* Read what the standby wrote first ('W'): closing a unix stream socket with unread
		 * data resets the connection, and the standby would see ECONNRESET instead of the
		 * 'G' still queued for it. */
		char buf[16];
		while (recv(sb->sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		close(sb->sock);
	}
	uint64_t due = sb->due_ms;
	memset(sb, 0, sizeof(*sb));
	sb->pidfd = sb->sock = -1;
	sb->due_ms = due;
}

/* A DPDK process of the pipeline is starting: an active one not ready yet, or a standby not
 * warm yet. Standbys start one at a time and never beside a starting stage: a secondary's
 * EAL init while another process grows the hugepage heap (router's LPM tables) can stall the
 * primary's memory sync until it times out (EAL "Request timed out", the allocation fails). */
static bool dataplane_starting(const struct supervisor *sv)
{
	for (int i = 1; i < PL_SVC_MAX; i++) {
		const struct child *o = &sv->children[i];
		if (!o->managed || !is_dataplane(o->id))
			continue;
		if ((o->pid && !o->ready_seen) || (o->sb.pid && !o->sb.warm))
			return true;
	}
	return false;
}

/* The standby's life: reap it if it died, notice it warm, start the next one when due. */
static void standby_poll(
	struct supervisor *sv, struct child *c, bool exited, uint64_t now, uint64_t *next)
{
	struct standby *sb = &c->sb;
	if (sb->pid) {
		int status;
		if (exited && waitpid(sb->pid, &status, WNOHANG) == sb->pid) {
			char how[64];
			describe_exit(status, how, sizeof(how));
			PL_WARN("children", "standby %s (pid %d) %s; a new one in %u ms",
				pl_svc_name(c->id), (int)sb->pid, how, c->backoff_ms);
			standby_forget(sb);
			sb->due_ms = now + c->backoff_ms;
		} else if (!sb->warm) {
			char b;
			if (read(sb->sock, &b, 1) == 1 && b == 'W') {
				sb->warm = true;
				PL_INFO("children", "standby %s (pid %d) warm after %llu ms",
					pl_svc_name(c->id), (int)sb->pid,
					(unsigned long long)(now - sb->started_ms));
			}
		}
	}
	if (!sb->pid && sb->due_ms && wants_standby(sv, c)) {
		if (now < sb->due_ms)
			earliest(next, sb->due_ms);
		else if (dataplane_starting(sv))
			earliest(next, now + 10);
		else
			standby_start(sv, c, now);
	}
}

/* The active process of c died (already reaped and repaired): its standby becomes the active
 * one. False when there is no usable standby. */
static bool standby_take_over(struct supervisor *sv, struct child *c, uint64_t now, pid_t dead)
{
	struct standby *sb = &c->sb;
	if (!sb->pid)
		return false;
	char g = 'G';
	if (write(sb->sock, &g, 1) != 1) {
		PL_WARN("children", "standby %s (pid %d) unreachable: %s", pl_svc_name(c->id),
			(int)sb->pid, strerror(errno));
		kill(sb->pid, SIGKILL);
		return false;
	}
	uint64_t lived = now - c->started_ms;
	c->pid = sb->pid;
	c->pidfd = sb->pidfd;
	c->slot = sb->slot;
	c->started_ms = now;
	c->ready_seen = false;
	c->takeovers++;
	c->from_standby = true;
	sb->pidfd = -1;
	sb->due_ms = 0;
	standby_forget(sb);
	sv->s.shm->sup[c->id].restarts++;
	supervisor_count(sv, PL_SUP_RESTARTS, 1);
	supervisor_count(sv, PL_SUP_TAKEOVERS, 1);
	/* The back-off paces the next standby, never the take-over. */
	if (lived >= sv->s.cfg.supervisor.quiet_ms)
		c->backoff_ms = sv->s.cfg.supervisor.backoff_min_ms;
	sb->due_ms = now + c->backoff_ms;
	PL_WARN("children",
		"%s (pid %d) %s after %llu ms; standby (pid %d) takes over, next "
		"standby in %u ms",
		pl_svc_name(c->id), (int)dead, c->last_exit, (unsigned long long)lived, (int)c->pid,
		c->backoff_ms);
	uint64_t nb = (uint64_t)c->backoff_ms * 2;
	c->backoff_ms = nb > sv->s.cfg.supervisor.backoff_max_ms
				? sv->s.cfg.supervisor.backoff_max_ms
				: (uint32_t)nb;
	publish(sv, c, PL_STATE_STARTING);
	return true;
}

static void standby_stop(struct supervisor *sv, struct child *c)
{
	struct standby *sb = &c->sb;
	sb->due_ms = 0;
	if (!sb->pid)
		return;
	/* Closing our end tells it to exit; SIGKILL if it does not in stop_timeout_ms. */
	close(sb->sock);
	sb->sock = -1;
	kill(sb->pid, SIGTERM);
	uint64_t deadline = pl_now_ms() + sv->s.cfg.supervisor.stop_timeout_ms;
	int status;
	while (waitpid(sb->pid, &status, WNOHANG) != sb->pid) {
		if (pl_now_ms() >= deadline) {
			kill(sb->pid, SIGKILL);
			waitpid(sb->pid, &status, 0);
			break;
		}
		zmq_pollitem_t it = { .fd = sb->pidfd, .events = ZMQ_POLLIN };
		zmq_poll(&it, 1, 100);
	}
	standby_forget(sb);
	sb->due_ms = 0;
}

int children_poll_items(struct supervisor *sv, zmq_pollitem_t *items, int max)
{
	int n = 0;
	for (int i = 0; i < sv->n_corpses && n < max; i++)
		items[n++] = (zmq_pollitem_t){ .fd = sv->corpses[i].pidfd, .events = ZMQ_POLLIN };
	for (int i = 0; i < PL_SVC_MAX && n < max; i++) {
		const struct child *c = &sv->children[i];
		if (c->pidfd >= 0)
			items[n++] = (zmq_pollitem_t){ .fd = c->pidfd, .events = ZMQ_POLLIN };
		if (c->sb.pid && c->sb.pidfd >= 0 && n < max)
			items[n++] = (zmq_pollitem_t){ .fd = c->sb.pidfd, .events = ZMQ_POLLIN };
		if (c->sb.pid && !c->sb.warm && n < max)
			items[n++] = (zmq_pollitem_t){ .fd = c->sb.sock, .events = ZMQ_POLLIN };
	}
	return n;
}

/* Everything that follows a death, whoever started the process: the dead process cannot finish
 * what it started, so repair and reclaim before anything else runs. */
static void after_death(struct supervisor *sv, struct child *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	c->ready_seen = false;
	c->hung = false;
	c->killed_ms = 0;
	c->hang_stuck = false;
	c->hang_checked_ms = 0;
	c->suspect_since_ms = 0;
	supervisor_count(sv, PL_SUP_CHILD_EXITS, 1);
	pl_stats_repair(&sv->s.shm->stats[c->id]);
	sv->s.shm->idle[c->id].sleeping = 0;
	__atomic_store_n(&sv->s.shm->live[c->id].state, PL_STATE_STOPPED, __ATOMIC_RELEASE);
	if (is_dataplane(c->id))
		reclaim_after_death(sv, c->id);
}

/* Child c's process r is dead (status as from waitpid): report it, repair and reclaim, and
 * hand the service to its standby or schedule its restart. */
static void died(struct supervisor *sv, struct child *c, pid_t r, int status, bool stopping)
{
	uint64_t now = pl_now_ms();
	struct pl_svc_sup *sup = &sv->s.shm->sup[c->id];
	describe_exit(status, c->last_exit, sizeof(c->last_exit));
	if (c->hung) {
		char how[sizeof(c->last_exit)];
		memcpy(how, c->last_exit, sizeof(how));
		how[sizeof(how) - 7] = '\0'; /* room for "hung, " */
		snprintf(c->last_exit, sizeof(c->last_exit), "hung, %.*s", (int)sizeof(how) - 7,
			how);
	}
	sup->last_exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	sup->last_exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	after_death(sv, c);

	if (stopping) {
		publish(sv, c, PL_STATE_STOPPED);
		PL_INFO("children", "%s stopped (%s)", pl_svc_name(c->id), c->last_exit);
		return;
	}
	if (standby_take_over(sv, c, now, r))
		return;
	/* Doubling back-off, reset after a quiet period. */
	if (now - c->started_ms >= sv->s.cfg.supervisor.quiet_ms)
		c->backoff_ms = sv->s.cfg.supervisor.backoff_min_ms;
	c->restart_at_ms = now + c->backoff_ms;
	PL_WARN("children", "%s (pid %d) %s after %llu ms; restarting in %u ms", pl_svc_name(c->id),
		(int)r, c->last_exit, (unsigned long long)(now - c->started_ms), c->backoff_ms);
	publish(sv, c, PL_STATE_BACKOFF);
	uint64_t next = (uint64_t)c->backoff_ms * 2;
	c->backoff_ms = next > sv->s.cfg.supervisor.backoff_max_ms
				? sv->s.cfg.supervisor.backoff_max_ms
				: (uint32_t)next;
}

/* Reaps child c if it has exited; true if it did. */
static bool reap(struct supervisor *sv, struct child *c, bool stopping)
{
	int status;
	pid_t r = waitpid(c->pid, &status, WNOHANG);
	if (r != c->pid)
		return false;
	died(sv, c, r, status, stopping);
	return true;
}

/* A process killed as hung runs no more user code once all its threads are exiting; the
 * kernel may still take a while to free its memory (hundreds of ms for a DPDK process on a
 * loaded node). Its service moves on then: the process becomes a corpse, reaped later.
 * True if it did. */
static bool bury_hung(struct supervisor *sv, struct child *c, uint64_t now, uint64_t *next)
{
	if (!c->hung || !c->killed_ms)
		return false;
	if (sv->n_corpses == SUPERVISOR_CORPSES_MAX || !pl_proc_exiting(c->pid)) {
		/* Look again in a millisecond; after a second, wait for the pidfd alone. */
		if (now - c->killed_ms < 1000)
			earliest(next, now + 1);
		return false;
	}
	sv->corpses[sv->n_corpses++] =
		(struct corpse){ .pid = c->pid, .pidfd = c->pidfd, .id = c->id, .since_ms = now };
	PL_INFO("children", "%s (pid %d) no longer runs, %llu ms after SIGKILL", pl_svc_name(c->id),
		(int)c->pid, (unsigned long long)(now - c->killed_ms));
	c->pidfd = -1; /* the corpse's now */
	died(sv, c, c->pid, SIGKILL, false); /* a status as waitpid gives it: killed by SIGKILL */
	return true;
}

/* Reaps the corpses that have finished exiting. wait_ms: how long to wait for the others
 * (at a stop; one stuck in the kernel is left to init after that). */
static void reap_corpses(struct supervisor *sv, uint32_t wait_ms)
{
	uint64_t deadline = pl_now_ms() + wait_ms;
	for (;;) {
		for (int i = 0; i < sv->n_corpses;) {
			struct corpse *k = &sv->corpses[i];
			int status;
			pid_t r = waitpid(k->pid, &status, WNOHANG);
			if (r != k->pid && !(r < 0 && errno == ECHILD)) {
				i++;
				continue;
			}
			PL_INFO("children",
				"hung %s (pid %d) finished exiting %llu ms after it stopped "
				"running",
				pl_svc_name(k->id), (int)k->pid,
				(unsigned long long)(pl_now_ms() - k->since_ms));
			close(k->pidfd);
			*k = sv->corpses[--sv->n_corpses];
		}
		if (!sv->n_corpses || pl_now_ms() >= deadline)
			break;
		usleep(5000);
	}
	for (int i = 0; wait_ms && i < sv->n_corpses; i++)
		PL_WARN("children", "hung %s (pid %d) has not finished exiting",
			pl_svc_name(sv->corpses[i].id), (int)sv->corpses[i].pid);
}

/* A spawned child that is not ready yet: notice readiness, or kill it at the deadline. */
static void check_ready(struct supervisor *sv, struct child *c, uint64_t now, uint64_t *next)
{
	const struct pl_svc_live *live = &sv->s.shm->live[c->id];
	if (__atomic_load_n(&live->state, __ATOMIC_ACQUIRE) == PL_STATE_READY &&
		live->pid == c->pid) {
		c->ready_seen = true;
		publish(sv, c, PL_STATE_READY);
		PL_INFO("children", "%s ready (pid %d) %llu ms after %s", pl_svc_name(c->id),
			(int)c->pid, (unsigned long long)(now - c->started_ms),
			c->from_standby ? "the take-over" : "its start");
		/* Its standby starts once it serves, not together with it. */
		if (wants_standby(sv, c) && !c->sb.pid && !c->sb.due_ms)
			c->sb.due_ms = now;
		return;
	}
	uint64_t deadline = c->started_ms + sv->s.cfg.supervisor.ready_timeout_ms;
	if (now >= deadline) {
		PL_WARN("children", "%s not ready after %u ms: killing it", pl_svc_name(c->id),
			sv->s.cfg.supervisor.ready_timeout_ms);
		kill(c->pid, SIGKILL);
	}
	/* Readiness is seen by polling the segment: look again soon. */
	earliest(next, now + 10);
}

static void restart_if_due(struct supervisor *sv, struct child *c, uint64_t now, uint64_t *next)
{
	if (!c->restart_at_ms)
		return;
	if (now >= c->restart_at_ms) {
		c->restart_at_ms = 0;
		sv->s.shm->sup[c->id].restarts++;
		supervisor_count(sv, PL_SUP_RESTARTS, 1);
		if (children_spawn(sv, c->id) < 0)
			c->restart_at_ms = now + c->backoff_ms;
	}
	if (c->restart_at_ms)
		earliest(next, c->restart_at_ms);
	if (c->pid)
		earliest(next, now + 10);
}

/* A service someone else started (systemd units): once it is ready, watch it through a pidfd so
 * that its death is repaired and reclaimed here too. Its manager restarts it. */
static void watch_unmanaged(struct supervisor *sv, struct child *c, uint64_t now, uint64_t *next)
{
	const struct pl_svc_live *live = &sv->s.shm->live[c->id];
	if (c->pid) {
		zmq_pollitem_t it = { .fd = c->pidfd, .events = ZMQ_POLLIN };
		if (zmq_poll(&it, 1, 0) <= 0)
			return;
		snprintf(c->last_exit, sizeof(c->last_exit), "exited (unmanaged)");
		PL_WARN("children", "%s (pid %d, not started by this supervisor) exited",
			pl_svc_name(c->id), (int)c->pid);
		after_death(sv, c);
		publish(sv, c, PL_STATE_STOPPED);
		return;
	}
	int32_t pid = live->pid;
	if (__atomic_load_n(&live->state, __ATOMIC_ACQUIRE) == PL_STATE_READY && pid > 0 &&
		kill(pid, 0) == 0) {
		c->pidfd = pidfd_open(pid);
		if (c->pidfd >= 0) {
			c->pid = pid;
			c->ready_seen = true;
			c->started_ms = now;
			publish(sv, c, PL_STATE_READY);
			PL_INFO("children", "watching %s (pid %d, started by its own unit)",
				pl_svc_name(c->id), (int)pid);
			return;
		}
	}
	earliest(next, now + 100);
}

/* True if some child of ours has exited and waits to be reaped: one system call a loop
 * instead of one waitpid per process (a loop runs every hang look, also when idle). */
static bool any_child_exited(void)
{
	siginfo_t si;
	si.si_pid = 0;
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != ECHILD; /* cannot tell: look at each */
	return si.si_pid != 0;
}

int children_poll(struct supervisor *sv, uint64_t now_ms)
{
	uint64_t next = now_ms + sv->s.cfg.pipeline.sleep_ms;
	bool exited = any_child_exited();
	if (exited)
		reap_corpses(sv, 0);
	for (int i = 1; i < PL_SVC_MAX; i++) {
		struct child *c = &sv->children[i];
		if (!c->managed)
			watch_unmanaged(sv, c, now_ms, &next);
		else if (c->pid && !(exited && reap(sv, c, false)) &&
			 !bury_hung(sv, c, now_ms, &next)) {
			if (!c->ready_seen)
				check_ready(sv, c, now_ms, &next);
			else
				hang_check(sv, c, is_dataplane(c->id), now_ms, &next);
		} else if (!c->pid)
			restart_if_due(sv, c, now_ms, &next);
		if (c->managed)
			standby_poll(sv, c, exited, now_ms, &next);
	}
	return next > now_ms ? (int)(next - now_ms) : 0;
}

void children_stop_all(struct supervisor *sv)
{
	reap_corpses(sv, sv->s.cfg.supervisor.stop_timeout_ms);
	for (int i = 1; i < PL_SVC_MAX; i++)
		standby_stop(sv, &sv->children[i]);
	for (int k = (int)(sizeof(start_order) / sizeof(start_order[0])) - 1; k >= 0; k--) {
		struct child *c = &sv->children[start_order[k]];
		c->restart_at_ms = 0;
		if (!c->pid || !c->managed)
			continue;
		publish(sv, c, PL_STATE_STOPPING);
		kill(c->pid, SIGTERM);
		uint64_t deadline = pl_now_ms() + sv->s.cfg.supervisor.stop_timeout_ms;
		bool killed = false;
		while (!reap(sv, c, true)) {
			uint64_t now = pl_now_ms();
			if (now >= deadline && !killed) {
				PL_WARN("children", "%s did not stop in %u ms: SIGKILL",
					pl_svc_name(c->id), sv->s.cfg.supervisor.stop_timeout_ms);
				kill(c->pid, SIGKILL);
				killed = true;
			}
			zmq_pollitem_t it = { .fd = c->pidfd, .events = ZMQ_POLLIN };
			zmq_poll(&it, 1, killed ? 100 : (int)(deadline - now) + 1);
		}
	}
}

int children_start_all(struct supervisor *sv)
{
	for (size_t k = 0; k < sizeof(start_order) / sizeof(start_order[0]); k++) {
		struct child *c = &sv->children[start_order[k]];
		if (!c->managed)
			continue;
		int rc = children_spawn(sv, c->id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A podlane service still running from a killed supervisor dies of PDEATHSIG within
 * milliseconds; wait for that, and kill what is left, before the new primary takes over the
 * hugepages. Only processes whose executable is a podlane service are touched. */
void children_reap_stale(const char *run_dir)
{
	struct pl_shm *old = pl_shm_attach(run_dir);
	if (!old)
		return;
	for (int i = 0; i < PL_SVC_MAX; i++) {
		pid_t pid = old->live[i].pid;
		if (pid <= 0 || pid == getpid())
			continue;
		char path[64], exe[512];
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		for (int t = 0; t < 200; t++) {
			ssize_t n = readlink(path, exe, sizeof(exe) - 1);
			if (n <= 0)
				break;
			exe[n] = '\0';
			if (!strstr(exe, "/podlane-"))
				break;
			if (t == 100) {
				PL_WARN("children", "stale %s (pid %d) still running: SIGKILL",
					pl_svc_name(i), (int)pid);
				kill(pid, SIGKILL);
			}
			usleep(10000);
		}
	}
	pl_shm_detach(&old);
}
