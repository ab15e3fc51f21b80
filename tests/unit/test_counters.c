/* SPDX-License-Identifier: Apache-2.0 */
/* Counters: the X-macro lists generate consistent descriptors, the shared segment is created
 * and attached with checks, writes are seen by readers consistently, and a block whose writer
 * died mid-update is detected and repaired. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pl_stats.h"

static void test_descriptors(void **state)
{
	(void)state;
	for (int s = 0; s < PL_SVC_MAX; s++) {
		unsigned int n;
		const struct pl_counter_desc *d = pl_counter_descs(s, &n);
		assert_true(n >= PL_C_COMMON_MAX && n <= PL_STATS_MAX_COUNTERS);
		assert_string_equal(d[PL_C_ADMIN_REQUESTS].name, "admin_requests");
		for (unsigned int i = 0; i < n; i++) {
			assert_true(strlen(d[i].name) > 0 && strlen(d[i].help) > 0);
			/* Prometheus-safe names, unique within a block. */
			for (const char *p = d[i].name; *p; p++)
				assert_true((*p >= 'a' && *p <= 'z') || *p == '_' ||
					    (*p >= '0' && *p <= '9'));
			for (unsigned int j = i + 1; j < n; j++)
				assert_string_not_equal(d[i].name, d[j].name);
		}
	}
	unsigned int n;
	const struct pl_counter_desc *d = pl_counter_descs(PL_SVC_IO_WORKER, &n);
	assert_int_equal(n, PL_IOW_MAX);
	assert_string_equal(d[PL_IOW_DROP(PL_DROP_TTL_EXCEEDED)].name, "drop_ttl_exceeded");
	assert_string_equal(d[PL_IOW_DROP(PL_DROP_RECLAIMED)].name, "drop_reclaimed");
	d = pl_counter_descs(PL_SVC_ROUTER, &n);
	assert_string_equal(d[PL_STAGE_MARKED_DROP].name, "marked_drop");
	assert_int_equal(pl_svc_from_name("nat-lb"), PL_SVC_NAT_LB);
	assert_int_equal(pl_svc_from_name("nope"), -ENOENT);
}

static void test_segment(void **state)
{
	(void)state;
	char dir[] = "/tmp/pl_counters_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	errno = 0;
	assert_null(pl_shm_attach(dir));
	assert_int_equal(errno, ENOENT);

	struct pl_shm *w = pl_shm_create(dir);
	assert_non_null(w);
	struct pl_shm *r = pl_shm_attach(dir);
	assert_non_null(r);
	uint64_t local[PL_STAGE_MAX] = { 0 };
	local[PL_STAGE_RX_PACKETS] = 32;
	local[PL_STAGE_TX_PACKETS] = 30;
	local[PL_STAGE_MARKED_DROP] = 2;
	for (int i = 0; i < 1000; i++)
		pl_stats_add(&w->stats[PL_SVC_ROUTER], local, PL_STAGE_MAX);
	uint64_t v[PL_STATS_MAX_COUNTERS];
	assert_int_equal(pl_stats_read(&r->stats[PL_SVC_ROUTER], v, PL_STAGE_MAX), 0);
	assert_int_equal(v[PL_STAGE_RX_PACKETS], 32000);
	assert_int_equal(v[PL_STAGE_TX_PACKETS] + v[PL_STAGE_MARKED_DROP], 32000);
	assert_int_equal(v[PL_STAGE_BURSTS], 0);
	/* Other blocks untouched. */
	assert_int_equal(pl_stats_read(&r->stats[PL_SVC_NAT_LB], v, PL_STAGE_MAX), 0);
	assert_int_equal(v[PL_STAGE_RX_PACKETS], 0);

	/* A segment of the wrong size or magic is refused. */
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", dir, PL_SHM_FILE);
	r->magic = 0;
	struct pl_shm *bad = pl_shm_attach(dir);
	assert_null(bad);
	assert_int_equal(errno, EPROTO);
	r->magic = PL_SHM_MAGIC;
	assert_int_equal(truncate(path, 100), 0);
	assert_null(pl_shm_attach(dir));
	pl_shm_detach(&r);
	pl_shm_detach(&w);
	assert_null(w);
	unlink(path);
	rmdir(dir);
}

/* A writer in another process adds in epochs while this one reads: every snapshot satisfies
 * the invariant rx == tx + drop the writer keeps. */
static void test_consistent_reads(void **state)
{
	(void)state;
	char dir[] = "/tmp/pl_counters_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct pl_shm *shm = pl_shm_create(dir);
	assert_non_null(shm);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t local[PL_STAGE_MAX] = { 0 };
		for (int i = 0; i < 2000000; i++) {
			local[PL_STAGE_RX_PACKETS] = 3;
			local[PL_STAGE_TX_PACKETS] = 2;
			local[PL_STAGE_MARKED_DROP] = 1;
			pl_stats_add(&shm->stats[PL_SVC_POLICY], local, PL_STAGE_MAX);
		}
		_exit(0);
	}
	uint64_t v[PL_STATS_MAX_COUNTERS];
	unsigned int reads = 0;
	int status;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (pl_stats_read(&shm->stats[PL_SVC_POLICY], v, PL_STAGE_MAX) == 0) {
			assert_int_equal(v[PL_STAGE_RX_PACKETS],
				v[PL_STAGE_TX_PACKETS] + v[PL_STAGE_MARKED_DROP]);
			reads++;
		}
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(reads > 0);
	assert_int_equal(pl_stats_read(&shm->stats[PL_SVC_POLICY], v, PL_STAGE_MAX), 0);
	assert_int_equal(v[PL_STAGE_RX_PACKETS], 6000000);

	/* A writer that died mid-epoch leaves an odd seq: reads say so; repair clears it. */
	shm->stats[PL_SVC_POLICY].seq++;
	assert_int_equal(pl_stats_read(&shm->stats[PL_SVC_POLICY], v, PL_STAGE_MAX), -EAGAIN);
	assert_int_equal(v[PL_STAGE_RX_PACKETS], 6000000);
	pl_stats_repair(&shm->stats[PL_SVC_POLICY]);
	assert_int_equal(pl_stats_read(&shm->stats[PL_SVC_POLICY], v, PL_STAGE_MAX), 0);

	char path[300];
	snprintf(path, sizeof(path), "%s/%s", dir, PL_SHM_FILE);
	pl_shm_detach(&shm);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_segment),
		cmocka_unit_test(test_consistent_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
