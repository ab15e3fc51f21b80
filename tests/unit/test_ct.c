/* SPDX-License-Identifier: Apache-2.0 */
/* The conntrack session table (ipc/pl_ct.c) in a real memzone: lookups in both directions,
 * keys sharing a bucket, deletion from the middle of chains, a full table that refuses new
 * sessions and leaves the others alone, bounded expiry, flush by filter, and the rebuild a
 * restarted writer does over a table left half-written by a writer that died, and a reader
 * attaching while the table is being made. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>

#include "pl_ct.h"

#define CAP 1024

static struct pl_key_pair {
	struct pl_ct_key k0, k1;
} pairs[CAP + 1]; /* + 1: the insert into a full table, which must fail */

static struct pl_ct_key key(uint32_t client, uint16_t sport, uint32_t endpoint)
{
	struct pl_ct_key k;
	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.proto = 6;
	memcpy(k.src, &client, 4);
	memcpy(k.dst, &endpoint, 4);
	k.sport = sport;
	k.dport = 80;
	return k;
}

static uint32_t add(struct pl_ct *ct, uint32_t i, uint64_t expires)
{
	pairs[i].k0 = key(0x0a000000 + i, (uint16_t)(1000 + i), 0x0a600001);
	pairs[i].k1 = key(0x0a620000 + i % 7, 80, 0x0a000000 + i);
	pairs[i].k1.dport = pairs[i].k0.sport;
	uint32_t idx = pl_ct_insert(ct, &pairs[i].k0, &pairs[i].k1, false, 0);
	if (idx == PL_CT_NIL)
		return idx;
	ct->s[idx].state = PL_CT_TCP_EST;
	ct->s[idx].expires_ms = expires;
	pl_ct_publish(ct, idx);
	return idx;
}

static void expect(struct pl_ct *ct, uint32_t i, uint32_t idx)
{
	int dir = -1;
	assert_int_equal(pl_ct_lookup(ct, &pairs[i].k0, pl_ct_hash(&pairs[i].k0), &dir), idx);
	assert_int_equal(dir, 0);
	assert_int_equal(pl_ct_lookup(ct, &pairs[i].k1, pl_ct_hash(&pairs[i].k1), &dir), idx);
	assert_int_equal(dir, 1);
}

static void expect_none(struct pl_ct *ct, uint32_t i)
{
	int dir;
	assert_int_equal(pl_ct_lookup(ct, &pairs[i].k0, pl_ct_hash(&pairs[i].k0), &dir), PL_CT_NIL);
	assert_int_equal(pl_ct_lookup(ct, &pairs[i].k1, pl_ct_hash(&pairs[i].k1), &dir), PL_CT_NIL);
}

static int fresh(void **state)
{
	static struct pl_ct ct;
	const struct rte_memzone *mz = rte_memzone_lookup(PL_CT_MZ_NAME);
	if (mz)
		rte_memzone_free(mz);
	if (pl_ct_open(&ct, CAP) != 0)
		return -1;
	*state = &ct;
	return 0;
}

static void test_insert_lookup_delete(void **state)
{
	struct pl_ct *ct = *state;
	uint32_t idx[CAP];
	assert_true(ct->created);
	assert_int_equal(ct->t->capacity, CAP);
	for (uint32_t i = 0; i < 500; i++)
		assert_int_not_equal(idx[i] = add(ct, i, 1000), PL_CT_NIL);
	assert_int_equal(ct->t->count, 500);
	for (uint32_t i = 0; i < 500; i++)
		expect(ct, i, idx[i]);
	/* Every third one goes: chains are cut in the middle, the rest stays found. */
	for (uint32_t i = 0; i < 500; i += 3)
		pl_ct_delete(ct, idx[i]);
	for (uint32_t i = 0; i < 500; i++) {
		if (i % 3 == 0)
			expect_none(ct, i);
		else
			expect(ct, i, idx[i]);
	}
	assert_int_equal(ct->t->count, 500 - 167);
	/* A reader's copy (the policy stage's way) matches. */
	struct pl_ct_session copy;
	int dir;
	assert_int_equal(pl_ct_read(ct, &pairs[1].k1, &dir, &copy), idx[1]);
	assert_int_equal(dir, 1);
	assert_memory_equal(&copy.key[0], &pairs[1].k0, sizeof(pairs[1].k0));
}

static void test_same_bucket_keys(void **state)
{
	struct pl_ct *ct = *state;
	/* Both directions the same key hash bucket: a session whose keys are equal. */
	struct pl_ct_key k = key(1, 2, 3);
	uint32_t idx = pl_ct_insert(ct, &k, &k, false, 0);
	assert_int_not_equal(idx, PL_CT_NIL);
	ct->s[idx].expires_ms = 10;
	pl_ct_publish(ct, idx);
	add(ct, 1, 10);
	int dir;
	assert_int_equal(pl_ct_lookup(ct, &k, pl_ct_hash(&k), &dir), idx);
	pl_ct_delete(ct, idx);
	assert_int_equal(pl_ct_lookup(ct, &k, pl_ct_hash(&k), &dir), PL_CT_NIL);
	assert_int_equal(ct->t->count, 1);
}

static void test_full(void **state)
{
	struct pl_ct *ct = *state;
	uint32_t idx[CAP];
	for (uint32_t i = 0; i < CAP; i++)
		assert_int_not_equal(idx[i] = add(ct, i, 1000), PL_CT_NIL);
	struct pl_ct_key a = key(7, 7, 7), b = key(8, 8, 8);
	assert_int_equal(pl_ct_insert(ct, &a, &b, false, 0), PL_CT_NIL);
	assert_int_equal(ct->t->count, CAP);
	for (uint32_t i = 0; i < CAP; i++)
		expect(ct, i, idx[i]);
	pl_ct_delete(ct, idx[5]);
	assert_int_not_equal(pl_ct_insert(ct, &a, &b, false, 0), PL_CT_NIL);
}

static void test_expire_bounded(void **state)
{
	struct pl_ct *ct = *state;
	for (uint32_t i = 0; i < 600; i++)
		add(ct, i, i < 300 ? 100 : 5000);
	/* Each call looks at a bounded slice; a full round removes exactly the expired ones. */
	uint32_t n = pl_ct_expire(ct, 1000, 100, NULL, NULL);
	assert_true(n <= 100);
	for (int k = 0; k < CAP / 100 + 1; k++)
		n += pl_ct_expire(ct, 1000, 100, NULL, NULL);
	assert_int_equal(n, 300);
	assert_int_equal(ct->t->count, 300);
	for (uint32_t i = 0; i < 600; i++)
		if (i < 300)
			expect_none(ct, i);
}

static bool odd_client(const struct pl_ct_session *s, void *arg)
{
	(void)arg;
	return s->key[0].src[0] & 1; /* first byte of a little-endian uint32 client */
}

static void test_flush_filter(void **state)
{
	struct pl_ct *ct = *state;
	for (uint32_t i = 0; i < 100; i++)
		add(ct, i, 1000);
	assert_int_equal(pl_ct_flush(ct, odd_client, NULL), 50);
	assert_int_equal(ct->t->count, 50);
	assert_int_equal(pl_ct_flush(ct, NULL, NULL), 50);
	assert_int_equal(ct->t->count, 0);
}

static void test_rebuild_after_writer_death(void **state)
{
	struct pl_ct *ct = *state;
	uint32_t idx[200];
	for (uint32_t i = 0; i < 200; i++)
		idx[i] = add(ct, i, 1000);
	/* A writer dies in the middle of an insert (seq odd, never linked) and leaves a chain
	 * pointing nowhere sensible and a free list cut short. */
	struct pl_ct_key a = key(9, 9, 9), b = key(10, 10, 10);
	uint32_t half = pl_ct_insert(ct, &a, &b, false, 0);
	assert_int_not_equal(half, PL_CT_NIL);
	memset(ct->buckets, 0xff, (size_t)ct->t->n_buckets * sizeof(uint32_t) / 2);
	ct->t->free_head = PL_CT_NIL;
	/* The restarted writer opens the same memzone. */
	struct pl_ct again;
	assert_int_equal(pl_ct_open(&again, CAP), 0);
	assert_false(again.created);
	assert_int_equal(again.t->count, 200);
	for (uint32_t i = 0; i < 200; i++)
		expect(&again, i, idx[i]);
	int dir;
	assert_int_equal(pl_ct_lookup(&again, &a, pl_ct_hash(&a), &dir), PL_CT_NIL);
	/* Everything else is free again. */
	uint32_t n = 0;
	while (add(&again, 200 + n, 1000) != PL_CT_NIL)
		n++;
	assert_int_equal(n, CAP - 200);
}

/* A reader that looks while the writer is making the table (memzone there, no magic yet) gets
 * -EPROTO and keeps nothing: policy once kept the table pointer without the sessions' and
 * crashed on its next packet (SIGSEGV in CI). Once the table is whole, attach finds it. */
static void test_attach_while_made(void **state)
{
	struct pl_ct *ct = *state;
	uint32_t magic = ct->t->magic;
	__atomic_store_n(&ct->t->magic, 0, __ATOMIC_SEQ_CST);
	struct pl_ct r;
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(pl_ct_attach(&r), -EPROTO);
	assert_null(r.t);
	assert_null(r.s);
	assert_null(r.buckets);
	__atomic_store_n(&ct->t->magic, magic, __ATOMIC_SEQ_CST);
	assert_int_equal(pl_ct_attach(&r), 0);
	assert_ptr_equal(r.t, ct->t);
	assert_ptr_equal(r.s, ct->s);
	uint32_t idx = add(ct, 0, 1000);
	assert_int_not_equal(idx, PL_CT_NIL);
	expect(&r, 0, idx);
}

int main(void)
{
	/* DPDK's EAL takes hugepages: as root only. Not root: skipped (meson's 77); root and the
	 * EAL still fails (./podlane setup reserves hugepages): a failure. */
	if (geteuid() != 0) {
		fprintf(stderr, "test_ct: not root, DPDK's EAL cannot take hugepages: skipped\n");
		return 77;
	}
	char *argv[] = { "test_ct", "--in-memory", "--no-pci", "--no-telemetry", "--lcores=0@(0-1)",
		"-m", "64", "--log-level=lib.eal:warning", NULL };
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "test_ct: DPDK EAL init failed: %s (needs root and hugepages)\n",
			rte_strerror(rte_errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_insert_lookup_delete, fresh),
		cmocka_unit_test_setup(test_same_bucket_keys, fresh),
		cmocka_unit_test_setup(test_full, fresh),
		cmocka_unit_test_setup(test_expire_bounded, fresh),
		cmocka_unit_test_setup(test_flush_filter, fresh),
		cmocka_unit_test_setup(test_rebuild_after_writer_death, fresh),
		cmocka_unit_test_setup(test_attach_while_made, fresh),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
