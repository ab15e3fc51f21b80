/* SPDX-License-Identifier: Apache-2.0 */
/* Service skeleton shared by every podlane process: startup in order, the sleep/wake half of
 * the adaptive idle mode, housekeeping and teardown in reverse. */
#include "pl_service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "pl_log.h"
#include "pl_proc.h"
#include "pl_sock.h"
#include "pl_util.h"

#ifndef PODLANE_VERSION
#define PODLANE_VERSION "0.0.0"
#endif

#define HEARTBEAT_PERIOD_MS 100
/* The priority a standby waits at (setpriority). */
#define STANDBY_NICE 19

static void usage(FILE *out, const char *prog, const struct pl_service_opts *opts)
{
	fprintf(out,
		"Usage: %s [OPTIONS]\n"
		"%s\n\n"
		"Options:\n"
		"  -c, --config FILE     configuration file (default %s; a missing default\n"
		"                        file means built-in defaults)\n"
		"  -l, --log-level LEVEL err|warn|info|debug (overrides log.level)\n"
		"      --help-config     list every configuration option with its default\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n"
		"      --standby-fd FD   (set by the supervisor) start as a warm standby: attach "
		"the\n"
		"                        shared memory, then wait on FD until told to take over\n"
		"      --lcore-slot N    (set by the supervisor) 0 or 1: which of the service's "
		"two\n"
		"                        DPDK lcore ids this process uses (active and standby "
		"differ)\n"
		"%s"
		"\nThe admin socket is <run_dir>/<service>.ctl; use podlanectl.\n",
		prog, opts->summary, PL_CONFIG_DEFAULT_PATH,
		opts->extra_usage ? opts->extra_usage : "");
}

static int wake_path(const struct pl_config *cfg, enum pl_svc_id id, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	char path[PL_CONFIG_STR_SIZE + 64];
	int n = snprintf(path, sizeof(path), "%s/%s.wake", cfg->run_dir, pl_svc_name(id));
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, (size_t)n + 1);
	return 0;
}

/* The lock is ours: record our pid in it (for the message a second instance prints). */
static void lock_taken(struct pl_service *s)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (ftruncate(s->lock_fd, 0) < 0 || pwrite(s->lock_fd, pid, (size_t)n, 0) < 0)
		PL_WARN("main", "cannot write our pid to %s.lock", s->name);
	s->lock_pending_since_ms = 0;
}

/* One instance per service and run directory: a second one would steal the sockets.
 * taking_over: a standby the supervisor told to take over. If the process it replaces was
 * killed as hung, the supervisor lets it go as soon as that process runs no more code, but the
 * kernel releases that process's lock only once it has finished exiting (its memory torn down:
 * up to hundreds of ms on a loaded node). A lock held by a process that is exiting is
 * therefore taken later (pl_service_housekeeping retries it); one held by a live process is
 * an error, as at a start. */
static int take_lock(struct pl_service *s, const char *prog, bool taking_over)
{
	char path[PL_CONFIG_STR_SIZE + 64];
	snprintf(path, sizeof(path), "%s/%s.lock", s->cfg.run_dir, s->name);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
		return -errno;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		lock_taken(s);
		return 0;
	}
	char buf[32] = "";
	ssize_t n = pread(s->lock_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	char *end;
	long holder = strtol(buf, &end, 10);
	if (taking_over && end != buf && holder > 0 && holder != getpid() &&
		pl_proc_exiting((pid_t)holder)) {
		s->lock_pending_since_ms = pl_now_ms();
		PL_INFO("main",
			"the lock is still held by pid %ld, which is exiting: taken once "
			"it is released",
			holder);
		return 0;
	}
	if (taking_over && flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		lock_taken(s); /* released while we looked at the holder */
		return 0;
	}
	fprintf(stderr, "%s: another %s is running in %s (pid %s)\n", prog, prog, s->cfg.run_dir,
		buf[0] ? buf : "?");
	close(s->lock_fd);
	s->lock_fd = -1;
	return -EBUSY;
}

/* A lock left pending at a take-over: taken as soon as the exiting holder releases it. */
static void retry_lock(struct pl_service *s, uint64_t now_ms)
{
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		PL_INFO("main", "lock taken, %llu ms after the take-over",
			(unsigned long long)(now_ms - s->start_ms));
		lock_taken(s);
		return;
	}
	/* Warned once: a process that never finishes exiting (stuck in the kernel), or a second
	 * instance that took the lock in between. Kept trying. */
	if (now_ms - s->lock_pending_since_ms >= 5000 && !s->lock_pending_warned) {
		s->lock_pending_warned = true;
		PL_WARN("main", "the lock of %s is still held by another process after 5 s",
			s->name);
	}
}

/* What makes this process the service: the lock, the admin and wake sockets, its slot in the
 * stats segment. Done at start, or by a standby when it takes over. */
static int activate(struct pl_service *s)
{
	char prog[64];
	int rc;
	snprintf(prog, sizeof(prog), "podlane-%s", s->name);
	rc = take_lock(s, prog, s->took_over);
	if (rc < 0)
		return rc;
	/* The supervisor creates the segment itself, after it has reaped stale children. */
	if (s->id != PL_SVC_SUPERVISOR && !s->shm)
		s->shm = pl_shm_attach(s->cfg.run_dir);
	if (!s->shm && s->id != PL_SVC_SUPERVISOR) {
		PL_ERR("main",
			"cannot attach the stats segment in %s: %s (is the supervisor running?)",
			s->cfg.run_dir, strerror(errno));
		return -errno;
	}
	s->admin = pl_admin_new(s->zctx, s->cfg.run_dir, s->name, s->cfg.admin.max_request_size);
	if (!s->admin) {
		rc = -errno;
		PL_ERR("main", "cannot open the admin socket %s/%s.ctl: %s", s->cfg.run_dir,
			s->name, strerror(errno));
		return rc;
	}
	s->wake_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->wake_fd < 0)
		return -errno;
	unlink(s->wake_addr[s->id].sun_path);
	/* Datagrams carry no peer credentials to check: only the mode keeps others out. */
	if (bind(s->wake_fd, (struct sockaddr *)&s->wake_addr[s->id], sizeof(s->wake_addr[s->id])) <
			0 ||
		chmod(s->wake_addr[s->id].sun_path, 0600) < 0) {
		rc = -errno;
		PL_ERR("main", "cannot bind the wake socket %s: %s", s->wake_addr[s->id].sun_path,
			strerror(errno));
		return rc;
	}
	if (sd_watchdog_enabled(0, &s->watchdog_usec) <= 0)
		s->watchdog_usec = 0;
	if (s->shm)
		pl_service_attach_shm(s, s->shm);
	return 0;
}

int pl_service_init(struct pl_service *s, enum pl_svc_id id, int argc, char **argv,
	const struct pl_service_opts *opts)
{
	static const struct option common_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "standby-fd", required_argument, NULL, 'S' },
		{ "lcore-slot", required_argument, NULL, 'L' },
	};
	struct option long_opts[PL_DIM(common_opts) + 9];
	unsigned int n_long = 0, n_flags = 0;
	for (; n_long < PL_DIM(common_opts); n_long++)
		long_opts[n_long] = common_opts[n_long];
	for (; opts->flags && opts->flags[n_flags].name && n_flags < 8; n_flags++)
		long_opts[n_long++] = (struct option){ opts->flags[n_flags].name, no_argument, NULL,
			0x100 + (int)n_flags };
	long_opts[n_long] = (struct option){ NULL, 0, NULL, 0 };
	const char *config_path = NULL, *level_arg = NULL;
	char err[PL_CONFIG_ERR_SIZE];
	char prog[64];
	int c, rc;

	memset(s, 0, sizeof(*s));
	s->id = id;
	s->name = pl_svc_name(id);
	s->wake_fd = -1;
	s->signal_fd = -1;
	s->lock_fd = -1;
	s->standby_fd = -1;
	s->start_ms = pl_now_ms();
	snprintf(prog, sizeof(prog), "podlane-%s", s->name);
	pl_log_init(prog, PL_LOG_INFO);

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:l:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 'C':
			pl_config_print_options(stdout);
			return 1;
		case 'h':
			usage(stdout, prog, opts);
			return 1;
		case 'V':
			printf("%s %s\n", prog, PODLANE_VERSION);
			return 1;
		case 'S':
		case 'L': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end ||
				(c == 'S' ? v < 3 || v > 1023 : v > 1)) {
				fprintf(stderr, "%s: --%s: bad value '%s'\n", prog,
					c == 'S' ? "standby-fd" : "lcore-slot", optarg);
				return -EINVAL;
			}
			if (c == 'S')
				s->standby_fd = (int)v;
			else
				s->lcore_slot = (unsigned int)v;
			break;
		}
		case 0x100 ... 0x107:
			*opts->flags[c - 0x100].value = true;
			break;
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n", prog,
				argv[optind - 1]);
			usage(stderr, prog, opts);
			return -EINVAL;
		default:
			fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[optind - 1]);
			usage(stderr, prog, opts);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr, prog, opts);
		return -EINVAL;
	}

	s->config_path = config_path;
	rc = pl_config_load(&s->cfg, config_path, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: configuration error: %s\n", prog, err);
		return rc;
	}
	/* A heartbeat well within the hang limit while awake. */
	s->heartbeat_period_ms = HEARTBEAT_PERIOD_MS;
	if (s->cfg.supervisor.hang_ms && s->cfg.supervisor.hang_ms / 4 < s->heartbeat_period_ms)
		s->heartbeat_period_ms = s->cfg.supervisor.hang_ms / 4;
	enum pl_log_level level = PL_LOG_INFO;
	pl_log_level_parse(s->cfg.log_level, &level);
	if (level_arg && pl_log_level_parse(level_arg, &level) < 0) {
		fprintf(stderr, "%s: --log-level: unknown level '%s' (err, warn, info, debug)\n",
			prog, level_arg);
		return -EINVAL;
	}
	pl_log_set_level("*", level);

	/* run_dir holds every socket: it must be ours alone (pl_sock.h). Created 0700; one
	 * that exists must be owned by our euid and not writable by group or others. */
	if (mkdir(s->cfg.run_dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "%s: cannot create run_dir %s: %s\n", prog, s->cfg.run_dir,
			strerror(errno));
		return -errno;
	}
	rc = pl_private_dir_check(s->cfg.run_dir, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: unsafe run_dir: %s\n", prog, err);
		return rc;
	}
	if (s->standby_fd >= 0) {
		if (id == PL_SVC_SUPERVISOR || fcntl(s->standby_fd, F_GETFD) < 0) {
			fprintf(stderr,
				"%s: --standby-fd %d: not an open descriptor of a service\n", prog,
				s->standby_fd);
			return -EINVAL;
		}
		fcntl(s->standby_fd, F_SETFD, FD_CLOEXEC);
		/* A standby starts at the lowest priority: its start (DPDK EAL init, ~0.3 s of
		 * CPU) must not take the cores from the processes forwarding packets (measured:
		 * 40-80 ms forwarding gaps at nice 0 on two cores). Back at the take-over. Every
		 * thread created later (EAL's, ZeroMQ's) inherits it. */
		errno = 0;
		int nice = getpriority(PRIO_PROCESS, 0);
		s->standby_nice = errno ? 0 : nice;
		setpriority(PRIO_PROCESS, 0, STANDBY_NICE);
	}
	if (getrandom(&s->incarnation, sizeof(s->incarnation), 0) != sizeof(s->incarnation))
		s->incarnation = (uint64_t)getpid() << 32 | (uint64_t)pl_now_ms();

	/* Signals arrive on a signalfd so the sleep can wait on them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	s->zctx = zmq_ctx_new();
	if (!s->zctx) {
		rc = -errno;
		goto fail;
	}
	for (int i = 0; i < PL_SVC_MAX; i++)
		wake_path(&s->cfg, i, &s->wake_addr[i]);
	/* A standby takes the lock and the sockets only when it takes over. */
	if (s->standby_fd >= 0)
		return 0;
	rc = activate(s);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	pl_service_fini(s);
	return rc < 0 ? rc : -EIO;
}

/* Every thread of this process back to `nice` (priority is per thread on Linux). */
static void restore_priority(int nice)
{
	DIR *d = opendir("/proc/self/task");
	if (!d) {
		setpriority(PRIO_PROCESS, 0, nice);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		if (setpriority(PRIO_PROCESS, (id_t)tid, nice) < 0)
			PL_WARN("main", "cannot restore the priority of thread %ld: %s", tid,
				strerror(errno));
	}
	closedir(d);
}

/* A standby takes the configuration as it is at the take-over, as a process started then
 * would (an operator edits it and kills the service to apply it), but for the DPDK options:
 * its EAL is up on the ones it started with. Invalid now: it keeps what it has. */
static void reload_config(struct pl_service *s)
{
	struct pl_config *fresh = malloc(sizeof(*fresh));
	char err[512];
	if (!fresh)
		return;
	if (pl_config_load(fresh, s->config_path, err, sizeof(err)) < 0) {
		PL_WARN("main",
			"configuration no longer valid (%s): keeping the one loaded at start", err);
		free(fresh);
		return;
	}
	if (memcmp(&fresh->dpdk, &s->cfg.dpdk, sizeof(fresh->dpdk)) != 0)
		PL_WARN("main", "dpdk.* options changed since this standby started: they apply at "
				"the next cold start");
	fresh->dpdk = s->cfg.dpdk;
	s->cfg = *fresh;
	free(fresh);
	s->heartbeat_period_ms = HEARTBEAT_PERIOD_MS;
	if (s->cfg.supervisor.hang_ms && s->cfg.supervisor.hang_ms / 4 < s->heartbeat_period_ms)
		s->heartbeat_period_ms = s->cfg.supervisor.hang_ms / 4;
}

int pl_service_standby(struct pl_service *s, const struct pl_standby_work *work)
{
	if (s->standby_fd < 0)
		return 0;
	char b = 'W';
	uint64_t warm_ms = pl_now_ms();
	/* It fails when the supervisor already told us to take over and closed its end: the
	 * 'G' is still there to read. */
	ssize_t w = write(s->standby_fd, &b, 1);
	(void)w;
	PL_INFO("main", "warm standby after %llu ms; waiting to take over",
		(unsigned long long)(warm_ms - s->start_ms));
	for (;;) {
		zmq_pollitem_t items[2 + PL_STANDBY_MAX_ITEMS];
		int n = 0;
		items[n++] = (zmq_pollitem_t){ .fd = s->standby_fd, .events = ZMQ_POLLIN };
		items[n++] = (zmq_pollitem_t){ .fd = s->signal_fd, .events = ZMQ_POLLIN };
		if (work)
			n += work->poll_items(work->ctx, items + n, PL_STANDBY_MAX_ITEMS);
		/* With work to keep warm, wake once per sleep_ms for its timers. */
		int rc = zmq_poll(items, n, work ? (long)s->cfg.pipeline.sleep_ms : -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (items[1].revents) {
			PL_INFO("main", "standby stopped by a signal");
			return 1;
		}
		if (work)
			work->handle(work->ctx, pl_now_ms());
		if (!items[0].revents)
			continue;
		ssize_t r = read(s->standby_fd, &b, 1);
		/* ECONNRESET: the supervisor closed its end before reading our 'W'; what it wrote
		 * before closing ('G') is still queued and the next read returns it (or EOF). */
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == ECONNRESET))
			continue;
		if (r != 1 || b != 'G') {
			/* EOF: the supervisor closed its end (stop, or its death). */
			PL_INFO("main", "standby released by the supervisor (%s): exiting",
				r < 0	 ? strerror(errno)
				: r == 0 ? "closed"
					 : "unknown message");
			return 1;
		}
		break;
	}
	uint64_t go_ms = pl_now_ms();
	restore_priority(s->standby_nice);
	reload_config(s);
	close(s->standby_fd);
	s->standby_fd = -1;
	s->start_ms = go_ms;
	s->took_over = true;
	int rc = activate(s);
	if (rc < 0)
		return rc;
	PL_INFO("main", "taking over");
	return 0;
}

void pl_service_attach_shm(struct pl_service *s, struct pl_shm *shm)
{
	s->shm = shm;
	s->stats = &shm->stats[s->id];
	unsigned int n;
	const struct pl_counter_desc *d = pl_counter_descs(s->id, &n);
	pl_admin_set_counters(s->admin, s->stats, d, n);
	struct pl_svc_live *live = &shm->live[s->id];
	live->pid = getpid();
	live->incarnation = s->incarnation;
	live->heartbeat_ms = pl_now_ms();
	live->quiet_until_ms = 0;
	__atomic_store_n(&live->state, PL_STATE_STARTING, __ATOMIC_RELEASE);
	shm->idle[s->id].sleeping = 0;
}

void pl_service_ready(struct pl_service *s, const char *status)
{
	__atomic_store_n(&s->shm->live[s->id].state, PL_STATE_READY, __ATOMIC_RELEASE);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status ? status : "ready");
	PL_INFO("main", "ready: %s (%llu ms after %s)", status ? status : "",
		(unsigned long long)(pl_now_ms() - s->start_ms),
		s->took_over ? "the take-over" : "start");
}

static void handle_signals(struct pl_service *s)
{
	struct signalfd_siginfo si;
	while (read(s->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		PL_INFO("main", "signal %u received, stopping", si.ssi_signo);
		s->stop = true;
	}
}

void pl_service_busy(struct pl_service *s, bool busy)
{
	if (!s->shm)
		return;
	struct pl_svc_live *live = &s->shm->live[s->id];
	uint64_t now = pl_now_ms();
	if (busy) {
		uint32_t lim = s->cfg.supervisor.hang_control_ms;
		__atomic_store_n(
			&live->quiet_until_ms, lim ? now + lim : UINT64_MAX, __ATOMIC_RELEASE);
		return;
	}
	s->last_heartbeat_ms = now;
	__atomic_store_n(&live->heartbeat_ms, now, __ATOMIC_RELAXED);
	__atomic_store_n(&live->quiet_until_ms, 0, __ATOMIC_RELEASE);
}

void pl_service_housekeeping(struct pl_service *s, uint64_t now_ms)
{
	/* An admin command may take long (a large table shown or built): control work. */
	bool busy = s->shm && pl_admin_pending(s->admin);
	if (busy)
		pl_service_busy(s, true);
	int n = pl_admin_handle(s->admin);
	if (busy)
		pl_service_busy(s, false);
	if (n > 0 && s->stats) {
		static uint64_t seen_req, seen_err;
		uint64_t req = pl_admin_requests(s->admin), errs = pl_admin_errors(s->admin);
		uint64_t local[PL_C_COMMON_MAX] = { 0 };
		local[PL_C_ADMIN_REQUESTS] = req - seen_req;
		local[PL_C_ADMIN_ERRORS] = errs - seen_err;
		seen_req = req;
		seen_err = errs;
		pl_stats_add(s->stats, local, PL_C_COMMON_MAX);
	}
	if (s->signal_fd >= 0)
		handle_signals(s);
	if (s->lock_pending_since_ms)
		retry_lock(s, now_ms);
	if (s->shm && now_ms - s->last_heartbeat_ms >= s->heartbeat_period_ms) {
		s->last_heartbeat_ms = now_ms;
		__atomic_store_n(&s->shm->live[s->id].heartbeat_ms, now_ms, __ATOMIC_RELAXED);
	}
	if (s->watchdog_usec && (now_ms - s->last_watchdog_ms) * 2000 >= s->watchdog_usec) {
		s->last_watchdog_ms = now_ms;
		sd_notify(0, "WATCHDOG=1");
	}
}

void pl_service_set_sleeping(struct pl_service *s, bool sleeping)
{
	__atomic_store_n(&s->shm->idle[s->id].sleeping, sleeping ? 1u : 0u, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void pl_service_wake(struct pl_service *s, enum pl_svc_id id)
{
	if (!pl_service_consumer_sleeps(s, id))
		return;
	char b = 1;
	/* EAGAIN (a wake is already queued) and ENOENT (consumer restarting) are fine. */
	ssize_t r = sendto(s->wake_fd, &b, 1, MSG_DONTWAIT, (struct sockaddr *)&s->wake_addr[id],
		sizeof(s->wake_addr[id]));
	(void)r;
}

#define MAX_POLL_ITEMS 16

int pl_service_sleep(struct pl_service *s, int timeout_ms, zmq_pollitem_t *extra, int n_extra)
{
	zmq_pollitem_t items[MAX_POLL_ITEMS];
	int n = 0;
	if (timeout_ms < 0 || (uint32_t)timeout_ms > s->cfg.pipeline.sleep_ms)
		timeout_ms = (int)s->cfg.pipeline.sleep_ms;
	if (s->watchdog_usec && (uint64_t)timeout_ms * 2000 > s->watchdog_usec)
		timeout_ms = (int)(s->watchdog_usec / 2000);
	items[n++] = (zmq_pollitem_t){ .socket = pl_admin_socket(s->admin), .events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .fd = s->wake_fd, .events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .fd = s->signal_fd, .events = ZMQ_POLLIN };
	int base = n;
	for (int i = 0; i < n_extra && n < MAX_POLL_ITEMS; i++)
		items[n++] = extra[i];
	/* Asleep: the hang check expects no heartbeat before the timeout. */
	if (s->shm)
		__atomic_store_n(&s->shm->live[s->id].quiet_until_ms,
			pl_now_ms() + (uint64_t)timeout_ms, __ATOMIC_RELEASE);
	int rc = zmq_poll(items, n, timeout_ms);
	/* Awake again: heartbeats from now on, the announced wake-up no longer holds (left in
	 * place, it would read as control work until it passed, and a process frozen in that
	 * time would be seen hung only then). */
	if (s->shm)
		pl_service_busy(s, false);
	int ready = 0;
	if (rc > 0) {
		if (items[1].revents & ZMQ_POLLIN) {
			char buf[64];
			while (recv(s->wake_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
		}
		for (int i = base; i < n; i++) {
			extra[i - base].revents = items[i].revents;
			if (items[i].revents)
				ready++;
		}
	}
	if (s->stats)
		pl_stats_inc(s->stats, PL_C_WAKEUPS, 1);
	pl_service_housekeeping(s, pl_now_ms());
	return ready;
}

void pl_service_fini(struct pl_service *s)
{
	if (s->shm && s->shm->live[s->id].pid == getpid())
		__atomic_store_n(&s->shm->live[s->id].state, PL_STATE_STOPPED, __ATOMIC_RELEASE);
	if (s->wake_fd >= 0) {
		close(s->wake_fd);
		s->wake_fd = -1;
	}
	pl_admin_destroy(&s->admin);
	if (s->zctx) {
		zmq_ctx_term(s->zctx);
		s->zctx = NULL;
	}
	if (s->signal_fd >= 0) {
		close(s->signal_fd);
		s->signal_fd = -1;
	}
	pl_shm_detach(&s->shm);
	if (s->standby_fd >= 0) {
		close(s->standby_fd);
		s->standby_fd = -1;
	}
	if (s->lock_fd >= 0) {
		close(s->lock_fd);
		s->lock_fd = -1;
	}
}

int pl_service_run_control(struct pl_service *s)
{
	while (!s->stop)
		pl_service_sleep(s, -1, NULL, 0);
	return 0;
}
