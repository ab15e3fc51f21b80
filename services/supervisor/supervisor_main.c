/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-supervisor: the "microkernel". Init in order: config and admin, the shared stats
 * segment, the DPDK primary (pool, rings, control memzone), /metrics, then the services.
 * Loop: wait on the children's pidfds, the admin socket and signals; repair, reclaim and
 * restart after a death. Teardown in reverse on SIGTERM/SIGINT. */
#include "supervisor.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <systemd/sd-daemon.h>

#include "pl_log.h"

void supervisor_count(struct supervisor *sv, enum pl_sup_counter c, uint64_t n)
{
	pl_stats_inc(&sv->s.shm->stats[PL_SVC_SUPERVISOR], c, n);
}

/* -c and -l are passed on to the services; find them without disturbing getopt. */
static void find_passed_args(struct supervisor *sv, int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))
			sv->config_arg = argv[i + 1];
		else if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "--log-level"))
			sv->log_arg = argv[i + 1];
	}
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--config=", 9))
			sv->config_arg = argv[i] + 9;
		else if (!strncmp(argv[i], "--log-level=", 12))
			sv->log_arg = argv[i] + 12;
	}
}

static int find_bin_dir(struct supervisor *sv)
{
	if (sv->s.cfg.bin_dir[0]) {
		snprintf(sv->bin_dir, sizeof(sv->bin_dir), "%s", sv->s.cfg.bin_dir);
		return 0;
	}
	char exe[PL_CONFIG_STR_SIZE];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	snprintf(sv->bin_dir, sizeof(sv->bin_dir), "%s", dirname(exe));
	return 0;
}

/* On a fatal signal the supervisor replaces itself with `podlane-supervisor --restore`: execve
 * is async-signal-safe, and the restoring image stops the services and puts the uplink back. */
static char restore_exe[PL_CONFIG_STR_SIZE];
static char *restore_argv[8];

static void on_fatal(int sig)
{
	execv(restore_exe, restore_argv);
	_exit(128 + sig);
}

static void arm_fatal_restore(struct supervisor *sv)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	int n = 0;
	ssize_t len = readlink("/proc/self/exe", restore_exe, sizeof(restore_exe) - 1);
	if (len <= 0)
		return;
	restore_exe[len] = '\0';
	restore_argv[n++] = restore_exe;
	if (sv->config_arg) {
		restore_argv[n++] = "-c";
		restore_argv[n++] = (char *)sv->config_arg;
	}
	restore_argv[n++] = "--restore";
	restore_argv[n] = NULL;
	struct sigaction sa = { .sa_handler = on_fatal, .sa_flags = SA_RESETHAND | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static bool all_ready(const struct supervisor *sv)
{
	for (int i = 1; i < PL_SVC_MAX; i++)
		if (sv->children[i].managed && !sv->children[i].ready_seen)
			return false;
	return true;
}

static void loop(struct supervisor *sv)
{
	uint64_t start = pl_now_ms();
	while (!sv->s.stop) {
		uint64_t now = pl_now_ms();
		int wait = children_poll(sv, now);
		if (!sv->notified_ready &&
			(all_ready(sv) || now - start >= sv->s.cfg.supervisor.ready_timeout_ms)) {
			sv->notified_ready = true;
			pl_service_ready(&sv->s, all_ready(sv)
							 ? "all services ready"
							 : "degraded: some services not ready");
		}
		int bus_wait = supervisor_bus_poll(sv, now);
		if (bus_wait >= 0 && bus_wait < wait)
			wait = bus_wait;
		zmq_pollitem_t items[CHILDREN_POLL_ITEMS_MAX + 3];
		int n = children_poll_items(sv, items, CHILDREN_POLL_ITEMS_MAX);
		items[n++] = (zmq_pollitem_t){ .socket = pl_bus_producer_socket(sv->bus),
			.events = ZMQ_POLLIN };
		int fds[2];
		int k = pl_fdstore_poll_fds(&sv->fdstore, fds, 2);
		for (int i = 0; i < k; i++)
			items[n++] = (zmq_pollitem_t){ .fd = fds[i], .events = ZMQ_POLLIN };
		pl_service_sleep(&sv->s, wait, items, n);
		uint64_t rej = sv->fdstore.rejected;
		pthread_mutex_lock(&sv->fdstore_lock);
		pl_fdstore_handle(&sv->fdstore, sv->children[PL_SVC_IO_WORKER].pid);
		pthread_mutex_unlock(&sv->fdstore_lock);
		if (sv->fdstore.rejected != rej)
			supervisor_count(sv, PL_SUP_FDSTORE_REJECTED, sv->fdstore.rejected - rej);
	}
}

int main(int argc, char **argv)
{
	static struct supervisor sv = { .fdstore_lock = PTHREAD_MUTEX_INITIALIZER };
	bool restore = false;
	const struct pl_service_flag flags[] = {
		{ "restore", &restore },
		{ NULL, NULL },
	};
	const struct pl_service_opts opts = {
		.summary = "podlane supervisor: owns the shared memory (DPDK primary), takes over "
			   "the\n"
			   "uplink and keeps the host connected through the host tap, starts,\n"
			   "watches and restarts every service, reclaims packets of dead ones,\n"
			   "serves /metrics.",
		.extra_usage =
			"      --restore         put the uplink's Linux config back from\n"
			"                        uplink.state_file (after a SIGKILL) and exit\n",
		.flags = flags,
	};
	int rc = pl_service_init(&sv.s, PL_SVC_SUPERVISOR, argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	if (restore) {
		/* After a crash the services may still run (an exec'ed supervisor is still their
		 * parent): stop them before the uplink goes back to the kernel. */
		children_reap_stale(sv.s.cfg.run_dir);
		rc = uplink_restore_from_file(&sv.s.cfg);
		if (rc == 0)
			PL_INFO("uplink", "nothing to restore: no %s", sv.s.cfg.uplink.state_file);
		pl_service_fini(&sv.s);
		return rc < 0 ? 1 : 0;
	}
	find_passed_args(&sv, argc, argv);
	rc = find_bin_dir(&sv);
	if (rc < 0) {
		PL_ERR("main", "cannot find the service binaries: %s", strerror(-rc));
		goto out;
	}

	children_reap_stale(sv.s.cfg.run_dir);
	struct pl_shm *shm = pl_shm_create(sv.s.cfg.run_dir);
	if (!shm) {
		rc = -errno;
		PL_ERR("main", "cannot create the stats segment in %s: %s", sv.s.cfg.run_dir,
			strerror(errno));
		goto out;
	}
	pl_service_attach_shm(&sv.s, shm);
	shm->supervisor_pid = getpid();
	shm->supervisor_incarnation = sv.s.incarnation;
	children_init(&sv);

	rc = pl_dp_eal_init(&sv.s.cfg, PL_SVC_SUPERVISOR, 0, "podlane-supervisor");
	if (rc < 0) {
		PL_ERR("main",
			"DPDK EAL init as primary failed: %s (hugepages reserved and "
			"mounted at %s? another primary with file prefix '%s'?)",
			rte_strerror(-rc), sv.s.cfg.dpdk.huge_dir, sv.s.cfg.dpdk.file_prefix);
		goto out;
	}
	rc = pl_dp_create(&sv.dp, &sv.s.cfg, sv.s.incarnation);
	if (rc < 0) {
		PL_ERR("main", "cannot create the shared pool and rings: %s", rte_strerror(-rc));
		goto out_eal;
	}
	reclaim_init_tags(&sv);
	rc = supervisor_admin_register(&sv);
	if (rc < 0)
		goto out_eal;
	rc = supervisor_bus_start(&sv);
	if (rc < 0) {
		PL_ERR("main", "cannot open the state bus in %s: %s", sv.s.cfg.run_dir,
			strerror(-rc));
		goto out_eal;
	}
	arm_fatal_restore(&sv);
	rc = uplink_start(&sv);
	if (rc < 0)
		goto out_eal;
	rc = metrics_start(&sv);
	if (rc < 0) {
		PL_ERR("main", "cannot serve /metrics on %s port %u: %s",
			sv.s.cfg.supervisor.metrics_address, sv.s.cfg.supervisor.metrics_port,
			strerror(-rc));
		goto out_eal;
	}
	/* The store keeps a descriptor per port (pods.max_pods of them, up to 4000): the soft
	 * descriptor limit goes up to the hard one. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	pthread_mutex_lock(&sv.fdstore_lock);
	rc = pl_fdstore_open(&sv.fdstore, sv.s.cfg.run_dir);
	sv.fdstore_open = rc == 0;
	pthread_mutex_unlock(&sv.fdstore_lock);
	if (rc < 0) {
		PL_ERR("main", "cannot open the port descriptor store in %s: %s", sv.s.cfg.run_dir,
			strerror(-rc));
		goto out_metrics;
	}
	rc = children_start_all(&sv);
	if (rc < 0)
		goto out_children;
	loop(&sv);
	rc = 0;
	sd_notify(0, "STOPPING=1");
out_children:
	children_stop_all(&sv);
	/* io-worker is gone for good: the ports' kept descriptors go too. */
	pthread_mutex_lock(&sv.fdstore_lock);
	sv.fdstore_open = false;
	pl_fdstore_close(&sv.fdstore);
	pthread_mutex_unlock(&sv.fdstore_lock);
out_metrics:
	metrics_stop(&sv);
out_eal:
	uplink_stop(&sv); /* a no-op unless the uplink was taken */
	supervisor_bus_stop(&sv);
	rte_eal_cleanup();
out:
	pl_service_fini(&sv.s);
	return rc < 0 ? 1 : 0;
}
