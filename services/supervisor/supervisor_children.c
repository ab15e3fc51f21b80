/* SPDX-License-Identifier: Apache-2.0 */
/* Children: the supervisor spawns every service, notices a death at once through a pidfd,
 * repairs and reclaims after it, and restarts it after a back-off that doubles on each quick
 * death and resets once the service has run quietly for supervisor.quiet_ms. Children carry
 * PR_SET_PDEATHSIG=SIGKILL so none outlives a killed supervisor. */
#include "supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pl_log.h"

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

int children_spawn(struct supervisor *sv, enum pl_svc_id id)
{
	struct child *c = &sv->children[id];
	char path[PL_CONFIG_STR_SIZE + 64];
	char *argv[8];
	int argc = 0;
	pid_t parent = getpid();

	snprintf(path, sizeof(path), "%s/podlane-%s", sv->bin_dir, pl_svc_name(id));
	argv[argc++] = path;
	if (sv->config_arg) {
		argv[argc++] = "-c";
		argv[argc++] = (char *)sv->config_arg;
	}
	if (sv->log_arg) {
		argv[argc++] = "-l";
		argv[argc++] = (char *)sv->log_arg;
	}
	argv[argc] = NULL;

	/* The service must not see a stale READY from its previous incarnation. */
	__atomic_store_n(&sv->s.shm->live[id].state, PL_STATE_STOPPED, __ATOMIC_RELEASE);
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
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execve(path, argv, child_env ? child_env : environ);
		static const char msg[] = "podlane-supervisor: cannot execute a service binary\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	c->pid = pid;
	c->pidfd = pidfd_open(pid);
	c->started_ms = pl_now_ms();
	c->ready_seen = false;
	publish(sv, c, PL_STATE_STARTING);
	PL_INFO("children", "started %s (pid %d)", pl_svc_name(id), (int)pid);
	return 0;
}

int children_poll_items(struct supervisor *sv, zmq_pollitem_t *items, int max)
{
	int n = 0;
	for (int i = 0; i < PL_SVC_MAX && n < max; i++)
		if (sv->children[i].pidfd >= 0)
			items[n++] = (zmq_pollitem_t){ .fd = sv->children[i].pidfd,
				.events = ZMQ_POLLIN };
	return n;
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

/* Everything that follows a death, whoever started the process: the dead process cannot finish
 * what it started, so repair and reclaim before anything else runs. */
static void after_death(struct supervisor *sv, struct child *c)
{
	close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	c->ready_seen = false;
	supervisor_count(sv, PL_SUP_CHILD_EXITS, 1);
	pl_stats_repair(&sv->s.shm->stats[c->id]);
	sv->s.shm->idle[c->id].sleeping = 0;
	__atomic_store_n(&sv->s.shm->live[c->id].state, PL_STATE_STOPPED, __ATOMIC_RELEASE);
	if (is_dataplane(c->id))
		reclaim_after_death(sv, c->id);
}

/* Reaps child c if it has exited; true if it did. */
static bool reap(struct supervisor *sv, struct child *c, bool stopping)
{
	int status;
	pid_t r = waitpid(c->pid, &status, WNOHANG);
	if (r != c->pid)
		return false;
	uint64_t now = pl_now_ms();
	struct pl_svc_sup *sup = &sv->s.shm->sup[c->id];
	describe_exit(status, c->last_exit, sizeof(c->last_exit));
	sup->last_exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	sup->last_exit_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	after_death(sv, c);

	if (stopping) {
		publish(sv, c, PL_STATE_STOPPED);
		PL_INFO("children", "%s stopped (%s)", pl_svc_name(c->id), c->last_exit);
		return true;
	}
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
	return true;
}

static void earliest(uint64_t *next, uint64_t at)
{
	if (at < *next)
		*next = at;
}

/* A spawned child that is not ready yet: notice readiness, or kill it at the deadline. */
static void check_ready(struct supervisor *sv, struct child *c, uint64_t now, uint64_t *next)
{
	const struct pl_svc_live *live = &sv->s.shm->live[c->id];
	if (__atomic_load_n(&live->state, __ATOMIC_ACQUIRE) == PL_STATE_READY &&
		live->pid == c->pid) {
		c->ready_seen = true;
		publish(sv, c, PL_STATE_READY);
		PL_INFO("children", "%s ready (pid %d)", pl_svc_name(c->id), (int)c->pid);
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

int children_poll(struct supervisor *sv, uint64_t now_ms)
{
	uint64_t next = now_ms + sv->s.cfg.pipeline.sleep_ms;
	for (int i = 1; i < PL_SVC_MAX; i++) {
		struct child *c = &sv->children[i];
		if (!c->managed)
			watch_unmanaged(sv, c, now_ms, &next);
		else if (c->pid && !reap(sv, c, false) && !c->ready_seen)
			check_ready(sv, c, now_ms, &next);
		else if (!c->pid)
			restart_if_due(sv, c, now_ms, &next);
	}
	return next > now_ms ? (int)(next - now_ms) : 0;
}

void children_stop_all(struct supervisor *sv)
{
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
