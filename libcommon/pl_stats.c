/* SPDX-License-Identifier: Apache-2.0 */
/* Shared stats segment: file creation and mapping, names, counter descriptors and the
 * reader side of the epoch protocol. */
#include "pl_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pl_util.h"

static const char *const svc_names[PL_SVC_MAX] = {
	[PL_SVC_SUPERVISOR] = "supervisor",
	[PL_SVC_IO_WORKER] = "io-worker",
	[PL_SVC_NAT_LB] = "nat-lb",
	[PL_SVC_POLICY] = "policy",
	[PL_SVC_ROUTER] = "router",
	[PL_SVC_CNI_SERVER] = "cni-server",
	[PL_SVC_BGP_BRIDGE] = "bgp-bridge",
};

static const char *const state_names[PL_STATE_MAX] = {
	[PL_STATE_STOPPED] = "stopped",
	[PL_STATE_STARTING] = "starting",
	[PL_STATE_READY] = "ready",
	[PL_STATE_BACKOFF] = "backoff",
	[PL_STATE_STOPPING] = "stopping",
};

#define PL_X(sym, name, help) { name, help },
static const struct pl_counter_desc natlb_descs[] = { PL_COMMON_COUNTERS(PL_X)
		PL_STAGE_COUNTERS(PL_X) PL_NATLB_COUNTERS(PL_X) };
static const struct pl_counter_desc policy_descs[] = { PL_COMMON_COUNTERS(PL_X)
		PL_STAGE_COUNTERS(PL_X) PL_POLICY_COUNTERS(PL_X) };
static const struct pl_counter_desc router_descs[] = { PL_COMMON_COUNTERS(PL_X)
		PL_STAGE_COUNTERS(PL_X) PL_ROUTER_COUNTERS(PL_X) };
static const struct pl_counter_desc iow_descs[] = { PL_COMMON_COUNTERS(PL_X)
		PL_IOWORKER_COUNTERS(PL_X) };
static const struct pl_counter_desc sup_descs[] = { PL_COMMON_COUNTERS(PL_X)
		PL_SUPERVISOR_COUNTERS(PL_X) };
static const struct pl_counter_desc ctl_descs[] = { PL_COMMON_COUNTERS(PL_X)
		PL_CONTROL_COUNTERS(PL_X) };
#undef PL_X

_Static_assert(PL_NATLB_MAX <= PL_STATS_MAX_COUNTERS, "nat-lb counters overflow a block");
_Static_assert(PL_POLICY_MAX <= PL_STATS_MAX_COUNTERS, "policy counters overflow a block");
_Static_assert(PL_ROUTER_MAX <= PL_STATS_MAX_COUNTERS, "router counters overflow a block");
_Static_assert(PL_IOW_MAX <= PL_STATS_MAX_COUNTERS, "io-worker counters overflow a block");
_Static_assert(PL_SUP_MAX <= PL_STATS_MAX_COUNTERS, "supervisor counters overflow a block");
_Static_assert(PL_IOW_DROP_RECLAIMED - PL_IOW_DROP_NONE == PL_DROP_RECLAIMED,
	"io-worker drop counters must follow the drop reasons");
_Static_assert(PL_IOW_DROP_NONE + PL_DROP_MAX == PL_IOW_BURSTS,
	"io-worker drop counters must cover every drop reason");

const char *pl_svc_name(enum pl_svc_id id)
{
	return (unsigned int)id < PL_SVC_MAX ? svc_names[id] : "?";
}

int pl_svc_from_name(const char *name)
{
	for (int i = 0; i < PL_SVC_MAX; i++)
		if (strcmp(name, svc_names[i]) == 0)
			return i;
	return -ENOENT;
}

const char *pl_svc_state_name(enum pl_svc_state s)
{
	return (unsigned int)s < PL_STATE_MAX ? state_names[s] : "?";
}

const struct pl_counter_desc *pl_counter_descs(enum pl_svc_id id, unsigned int *n)
{
	switch (id) {
	case PL_SVC_SUPERVISOR:
		*n = PL_DIM(sup_descs);
		return sup_descs;
	case PL_SVC_IO_WORKER:
		*n = PL_DIM(iow_descs);
		return iow_descs;
	case PL_SVC_NAT_LB:
		*n = PL_DIM(natlb_descs);
		return natlb_descs;
	case PL_SVC_POLICY:
		*n = PL_DIM(policy_descs);
		return policy_descs;
	case PL_SVC_ROUTER:
		*n = PL_DIM(router_descs);
		return router_descs;
	default:
		*n = PL_DIM(ctl_descs);
		return ctl_descs;
	}
}

static int shm_path(const char *run_dir, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", run_dir, PL_SHM_FILE);
	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}

struct pl_shm *pl_shm_create(const char *run_dir)
{
	char path[512];
	int rc = shm_path(run_dir, path, sizeof(path));
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	/* Truncate to zero first so a previous run's counters do not survive. */
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(struct pl_shm)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	struct pl_shm *shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (shm == MAP_FAILED) {
		errno = e;
		return NULL;
	}
	memset(shm, 0, sizeof(*shm));
	shm->version = PL_SHM_VERSION;
	shm->size = sizeof(*shm);
	shm->n_svc = PL_SVC_MAX;
	__atomic_store_n(&shm->magic, PL_SHM_MAGIC, __ATOMIC_RELEASE);
	return shm;
}

struct pl_shm *pl_shm_attach(const char *run_dir)
{
	char path[512];
	struct stat st;
	int rc = shm_path(run_dir, path, sizeof(path));
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != sizeof(struct pl_shm)) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	struct pl_shm *shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (shm == MAP_FAILED) {
		errno = e;
		return NULL;
	}
	if (__atomic_load_n(&shm->magic, __ATOMIC_ACQUIRE) != PL_SHM_MAGIC ||
		shm->version != PL_SHM_VERSION || shm->size != sizeof(*shm)) {
		munmap(shm, sizeof(*shm));
		errno = EPROTO;
		return NULL;
	}
	return shm;
}

void pl_shm_detach(struct pl_shm **shmp)
{
	if (!shmp || !*shmp)
		return;
	munmap(*shmp, sizeof(**shmp));
	*shmp = NULL;
}

uint64_t pl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define READ_TRIES 1000

int pl_stats_read(const struct pl_stats_block *b, uint64_t *out, unsigned int n)
{
	if (n > PL_STATS_MAX_COUNTERS)
		n = PL_STATS_MAX_COUNTERS;
	for (int t = 0; t < READ_TRIES; t++) {
		uint64_t s1 = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			pl_cpu_relax();
			continue;
		}
		for (unsigned int i = 0; i < n; i++)
			out[i] = __atomic_load_n(&b->v[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&b->seq, __ATOMIC_RELAXED) == s1)
			return 0;
	}
	for (unsigned int i = 0; i < n; i++)
		out[i] = __atomic_load_n(&b->v[i], __ATOMIC_RELAXED);
	return -EAGAIN;
}

void pl_stats_repair(struct pl_stats_block *b)
{
	if (b->seq & 1)
		b->seq++;
}
