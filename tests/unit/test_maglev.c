/* SPDX-License-Identifier: Apache-2.0 */
/* Maglev table: every slot filled, balance within ±2% for 3..10 backends, minimal disruption
 * when one backend leaves, exact restore when it comes back, terminating backends get no slots,
 * argument errors (non-prime M, n > M, nothing ready), flow distribution of lookups, and the
 * stability of endpoint keys. */
#include "natlb_maglev.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#define M_BIG NATLB_MAGLEV_M_DEFAULT
#define M_SMALL 251u
#define N_MAX 16u
/* natlb_maglev_key(10.0.0.1, AF_INET, 8080); a change here reshuffles every node's tables. */
#define KEY_10_0_0_1_8080 0x53c27105c28deafdull

/* Deterministic PRNG (splitmix64) so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Keys of endpoints 10.0.0.(i+1):8080, as the service would compute them. */
static void make_keys(uint64_t *keys, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t ip[4] = { 10, 0, 0, (uint8_t)(i + 1) };

		keys[i] = natlb_maglev_key(ip, AF_INET, 8080);
	}
}

static uint32_t *table_new(uint32_t m)
{
	uint32_t *t = malloc(m * sizeof(*t));

	assert_non_null(t);
	return t;
}

static void count_slots(const uint32_t *t, uint32_t m, uint32_t n, uint32_t *counts)
{
	memset(counts, 0, n * sizeof(*counts));
	for (uint32_t i = 0; i < m; i++) {
		assert_int_not_equal(t[i], NATLB_MAGLEV_NONE);
		assert_true(t[i] < n);
		counts[t[i]]++;
	}
}

static void test_all_slots_filled(void **state)
{
	uint64_t keys[N_MAX];
	uint32_t counts[N_MAX];
	uint32_t *t = table_new(M_SMALL);

	(void)state;
	make_keys(keys, N_MAX);
	for (uint32_t n = 1; n <= N_MAX; n++) {
		uint32_t sum = 0;

		assert_int_equal(natlb_maglev_build(t, M_SMALL, keys, NULL, n), 0);
		count_slots(t, M_SMALL, n, counts);
		for (uint32_t i = 0; i < n; i++) {
			/* Round-robin fill: every backend gets floor or ceil of M/n. */
			assert_true(counts[i] >= M_SMALL / n);
			assert_true(counts[i] <= (M_SMALL + n - 1) / n);
			sum += counts[i];
		}
		assert_int_equal(sum, M_SMALL);
	}
	free(t);
}

static void test_balance(void **state)
{
	uint64_t keys[10];
	uint32_t counts[10];
	uint32_t *t = table_new(M_BIG);

	(void)state;
	make_keys(keys, 10);
	for (uint32_t n = 3; n <= 10; n++) {
		double ideal = (double)M_BIG / n;

		assert_int_equal(natlb_maglev_build(t, M_BIG, keys, NULL, n), 0);
		count_slots(t, M_BIG, n, counts);
		for (uint32_t i = 0; i < n; i++) {
			assert_true(counts[i] >= ideal * 0.98);
			assert_true(counts[i] <= ideal * 1.02);
		}
	}
	free(t);
}

static void test_disruption_and_restore(void **state)
{
	uint64_t keys[10];
	bool ready[10];
	uint32_t *orig = table_new(M_BIG);
	uint32_t *t = table_new(M_BIG);

	(void)state;
	make_keys(keys, 10);
	for (uint32_t i = 0; i < 10; i++)
		ready[i] = true;
	assert_int_equal(natlb_maglev_build(orig, M_BIG, keys, ready, 10), 0);

	for (uint32_t gone = 0; gone < 10; gone++) {
		uint32_t moved_others = 0;

		ready[gone] = false;
		assert_int_equal(natlb_maglev_build(t, M_BIG, keys, ready, 10), 0);
		for (uint32_t i = 0; i < M_BIG; i++) {
			assert_int_not_equal(t[i], gone);
			assert_true(t[i] < 10);
			if (orig[i] != gone && t[i] != orig[i])
				moved_others++;
		}
		assert_true(moved_others < M_BIG * 3 / 100);

		/* Back again: the same input gives exactly the same table. */
		ready[gone] = true;
		assert_int_equal(natlb_maglev_build(t, M_BIG, keys, ready, 10), 0);
		assert_memory_equal(t, orig, M_BIG * sizeof(*t));
	}
	free(t);
	free(orig);
}

static void test_terminating_get_no_slots(void **state)
{
	uint64_t keys[8];
	bool ready[8] = { true, false, true, false, false, true, true, false };
	uint32_t counts[8];
	uint32_t *t = table_new(M_SMALL);

	(void)state;
	make_keys(keys, 8);
	assert_int_equal(natlb_maglev_build(t, M_SMALL, keys, ready, 8), 0);
	count_slots(t, M_SMALL, 8, counts);
	for (uint32_t i = 0; i < 8; i++) {
		if (ready[i]) {
			assert_true(counts[i] >= M_SMALL / 4);
			assert_true(counts[i] <= M_SMALL / 4 + 1);
		} else {
			assert_int_equal(counts[i], 0);
		}
	}
	free(t);
}

static void test_none_ready(void **state)
{
	uint64_t keys[4];
	bool ready[4] = { false, false, false, false };
	uint32_t *t = table_new(M_SMALL);

	(void)state;
	make_keys(keys, 4);
	memset(t, 0, M_SMALL * sizeof(*t));
	assert_int_equal(natlb_maglev_build(t, M_SMALL, keys, ready, 4), -ENOENT);
	for (uint32_t i = 0; i < M_SMALL; i++)
		assert_int_equal(t[i], NATLB_MAGLEV_NONE);
	assert_int_equal(natlb_maglev_lookup(t, M_SMALL, 12345), NATLB_MAGLEV_NONE);

	/* No backends at all is the same case. */
	memset(t, 0, M_SMALL * sizeof(*t));
	assert_int_equal(natlb_maglev_build(t, M_SMALL, NULL, NULL, 0), -ENOENT);
	for (uint32_t i = 0; i < M_SMALL; i++)
		assert_int_equal(t[i], NATLB_MAGLEV_NONE);
	free(t);
}

static void test_bad_args(void **state)
{
	static const uint32_t non_primes[] = { 0, 1, 4, 9, 250, 255, 65536, 65535, 1000001 };
	static const uint32_t primes[] = { 2, 3, 251, 65537 };
	uint64_t keys[N_MAX];
	uint32_t *t = table_new(M_BIG);
	uint64_t *many;

	(void)state;
	make_keys(keys, N_MAX);
	for (size_t i = 0; i < sizeof(non_primes) / sizeof(non_primes[0]); i++) {
		assert_false(natlb_maglev_size_ok(non_primes[i]));
		if (non_primes[i] <= M_BIG)
			assert_int_equal(
				natlb_maglev_build(t, non_primes[i], keys, NULL, 1), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		assert_true(natlb_maglev_size_ok(primes[i]));

	assert_int_equal(natlb_maglev_build(NULL, M_SMALL, keys, NULL, 1), -EINVAL);
	assert_int_equal(natlb_maglev_build(t, M_SMALL, NULL, NULL, 1), -EINVAL);

	/* n > M is rejected, n == M is fine (one slot each). */
	many = calloc(M_SMALL + 1, sizeof(*many));
	assert_non_null(many);
	for (uint32_t i = 0; i <= M_SMALL; i++)
		many[i] = i * 0x9e3779b97f4a7c15ull;
	assert_int_equal(natlb_maglev_build(t, M_SMALL, many, NULL, M_SMALL + 1), -E2BIG);
	assert_int_equal(natlb_maglev_build(t, M_SMALL, many, NULL, M_SMALL), 0);
	for (uint32_t i = 0; i < M_SMALL; i++)
		assert_true(t[i] < M_SMALL);

	/* Tiny prime M = 2 still works. */
	assert_int_equal(natlb_maglev_build(t, 2, keys, NULL, 2), 0);
	assert_int_not_equal(t[0], t[1]);
	free(many);
	free(t);
}

static void test_lookup_distribution(void **state)
{
	enum {
		N_FLOWS = 100000
	};
	uint64_t keys[7];
	uint32_t counts[7] = { 0 };
	uint32_t *t = table_new(M_BIG);
	uint64_t seed = 42;

	(void)state;
	make_keys(keys, 7);
	assert_int_equal(natlb_maglev_build(t, M_BIG, keys, NULL, 7), 0);
	for (uint32_t i = 0; i < N_FLOWS; i++) {
		uint32_t b = natlb_maglev_lookup(t, M_BIG, rng_next(&seed));

		assert_true(b < 7);
		counts[b]++;
	}
	for (uint32_t i = 0; i < 7; i++) {
		assert_true(counts[i] >= N_FLOWS / 7.0 * 0.95);
		assert_true(counts[i] <= N_FLOWS / 7.0 * 1.05);
	}
	free(t);
}

static void test_key(void **state)
{
	const uint8_t v4[4] = { 10, 0, 0, 1 };
	const uint8_t v4b[4] = { 10, 0, 0, 2 };
	uint8_t v6[16] = { 0 };
	uint64_t k = natlb_maglev_key(v4, AF_INET, 8080);

	(void)state;
	/* Pinned value: keys must not change between builds, nodes or restarts. */
	assert_int_equal(k, KEY_10_0_0_1_8080);
	assert_int_equal(natlb_maglev_key(v4, AF_INET, 8080), k);
	assert_int_not_equal(natlb_maglev_key(v4, AF_INET, 8081), k);
	assert_int_not_equal(natlb_maglev_key(v4b, AF_INET, 8080), k);

	memcpy(v6 + 12, v4, sizeof(v4));
	assert_int_not_equal(natlb_maglev_key(v6, AF_INET6, 8080), k);
	assert_int_equal(
		natlb_maglev_key(v6, AF_INET6, 8080), natlb_maglev_key(v6, AF_INET6, 8080));

	assert_int_equal(natlb_maglev_key(NULL, AF_INET, 80), 0);
	assert_int_equal(natlb_maglev_key(v4, AF_UNIX, 80), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_slots_filled),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_disruption_and_restore),
		cmocka_unit_test(test_terminating_get_no_slots),
		cmocka_unit_test(test_none_ready),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_lookup_distribution),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
