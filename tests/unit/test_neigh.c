/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's neighbour table (services/io-worker/ioworker_neigh.c), with time passed in: only
 * output creates entries; an INCOMPLETE entry takes the first answer and no announcement; a
 * REACHABLE entry's MAC never changes in place (another MAC is refused and verified by unicast
 * probes; the same MAC answering keeps it; silence fails it back to INCOMPLETE, after which
 * the new MAC is learned: failover); stale entries in use are verified; a full table gives up
 * unused entries only (never one in use or holding packets) and refuses otherwise; aging. */
#include "ioworker_neigh.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#define REACHABLE_S 30
#define T0 1000000u /* ms; any non-zero start */

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0xb };

static const uint8_t *v4(uint8_t last)
{
	static uint8_t a[8][4];
	static unsigned int k;
	uint8_t *p = a[k++ % 8];
	p[0] = 10, p[1] = 99, p[2] = 1, p[3] = last;
	return p;
}

static int setup(void **state)
{
	static struct neigh_table t;
	assert_int_equal(neigh_init(&t, 16, 64, REACHABLE_S), 0);
	*state = &t;
	return 0;
}

static int teardown(void **state)
{
	struct rte_mbuf *held[64];
	unsigned int n;
	neigh_fini(*state, held, &n, 64);
	return 0;
}

/* An entry made by output and resolved by an answer at `now`. */
static struct neigh_entry *resolved(
	struct neigh_table *t, uint8_t last, const uint8_t *mac, uint64_t now)
{
	struct neigh_entry *e = neigh_get(t, AF_INET, v4(last), now);
	assert_non_null(e);
	assert_int_equal(neigh_should_probe(t, e, now), NEIGH_PROBE_BCAST);
	assert_int_equal(neigh_offer(t, e, mac, NEIGH_MSG_ANSWER, now), NEIGH_LEARNED);
	return e;
}

static void test_nothing_received_creates(void **state)
{
	struct neigh_table *t = *state;
	assert_null(neigh_lookup(t, AF_INET, v4(5)));
	assert_int_equal(t->n_entries, 0);
	struct neigh_entry *e = neigh_get(t, AF_INET, v4(5), T0);
	assert_int_equal(e->state, NEIGH_INCOMPLETE);
	assert_ptr_equal(neigh_lookup(t, AF_INET, v4(5)), e);
	assert_int_equal(t->n_entries, 1);
}

static void test_incomplete_takes_answers_not_announcements(void **state)
{
	struct neigh_table *t = *state;
	struct neigh_entry *e = neigh_get(t, AF_INET, v4(5), T0);
	assert_int_equal(neigh_should_probe(t, e, T0), NEIGH_PROBE_BCAST);
	assert_int_equal(neigh_should_probe(t, e, T0 + 10), NEIGH_PROBE_NONE);
	assert_int_equal(
		neigh_offer(t, e, MAC_B, NEIGH_MSG_ANNOUNCE, T0 + 1), NEIGH_REFUSED_UNSOLICITED);
	assert_int_equal(neigh_offer(t, e, NULL, NEIGH_MSG_ANSWER, T0 + 1), NEIGH_IGNORED);
	assert_int_equal(e->state, NEIGH_INCOMPLETE);
	assert_int_equal(neigh_offer(t, e, MAC_A, NEIGH_MSG_ANSWER, T0 + 2), NEIGH_LEARNED);
	assert_int_equal(e->state, NEIGH_REACHABLE);
	assert_memory_equal(e->mac, MAC_A, 6);
	/* A second answer from someone else: refused, the first stays. */
	assert_int_equal(
		neigh_offer(t, e, MAC_B, NEIGH_MSG_ANSWER, T0 + 3), NEIGH_REFUSED_MAC_CHANGE);
	assert_memory_equal(e->mac, MAC_A, 6);
	/* A request for our address from the neighbour resolves like an answer. */
	struct neigh_entry *f = neigh_get(t, AF_INET, v4(6), T0);
	assert_int_equal(neigh_offer(t, f, MAC_B, NEIGH_MSG_REQUEST, T0 + 1), NEIGH_LEARNED);
}

static void test_mac_change_verified_and_kept(void **state)
{
	struct neigh_table *t = *state;
	struct neigh_entry *e = resolved(t, 1, MAC_A, T0);
	uint64_t now = T0 + 100;
	for (int i = 0; i < 1000; i++) /* a flood of claims of another MAC */
		assert_int_equal(neigh_offer(t, e, MAC_B,
					 i % 2 ? NEIGH_MSG_ANSWER : NEIGH_MSG_ANNOUNCE, now),
			NEIGH_REFUSED_MAC_CHANGE);
	/* Requests for it go out one a probe interval at most, the resolving one included. */
	assert_false(neigh_verify(t, e, now));
	now = T0 + NEIGH_PROBE_INTERVAL_MS;
	assert_true(neigh_verify(t, e, now));
	assert_false(neigh_verify(t, e, now + 1)); /* one verification at a time */
	assert_string_equal(neigh_state_name(t, e, now + 1), "probe");
	/* A forged "answer" with the other MAC during the probe: still refused. */
	assert_int_equal(
		neigh_offer(t, e, MAC_B, NEIGH_MSG_ANSWER, now + 2), NEIGH_REFUSED_MAC_CHANGE);
	/* The real neighbour answers the unicast probe. */
	assert_int_equal(neigh_offer(t, e, MAC_A, NEIGH_MSG_ANSWER, now + 3), NEIGH_CONFIRMED);
	assert_int_equal(e->probes, 0);
	assert_memory_equal(e->mac, MAC_A, 6);
	assert_string_equal(neigh_state_name(t, e, now + 3), "reachable");
	assert_false(neigh_verify(t, e, now + 200));
	now += NEIGH_PROBE_INTERVAL_MS;
	assert_true(neigh_verify(t, e, now));
	/* An announcement with the MAC we have changes nothing and confirms nothing. */
	assert_int_equal(neigh_offer(t, e, MAC_A, NEIGH_MSG_ANNOUNCE, now + 1), NEIGH_IGNORED);
	assert_int_not_equal(e->probes, 0);
}

static void test_failover(void **state)
{
	struct neigh_table *t = *state;
	struct neigh_entry *e = resolved(t, 1, MAC_A, T0);
	uint64_t now = T0 + NEIGH_PROBE_INTERVAL_MS;
	assert_int_equal(
		neigh_offer(t, e, MAC_B, NEIGH_MSG_ANNOUNCE, now), NEIGH_REFUSED_MAC_CHANGE);
	assert_true(neigh_verify(t, e, now));
	/* In use and silent: NEIGH_UCAST_PROBES unicast probes, one an interval, then it is
	 * resolved again from scratch. */
	for (int k = 1; k < NEIGH_UCAST_PROBES; k++) {
		assert_int_equal(neigh_should_probe(t, e, now + 10), NEIGH_PROBE_NONE);
		now += NEIGH_PROBE_INTERVAL_MS;
		assert_int_equal(neigh_should_probe(t, e, now), NEIGH_PROBE_UCAST);
		assert_int_equal(e->state, NEIGH_REACHABLE);
		assert_memory_equal(e->mac, MAC_A, 6);
	}
	now += NEIGH_PROBE_INTERVAL_MS;
	assert_int_equal(neigh_should_probe(t, e, now), NEIGH_PROBE_BCAST);
	assert_int_equal(e->state, NEIGH_INCOMPLETE);
	assert_int_equal(neigh_offer(t, e, MAC_B, NEIGH_MSG_ANSWER, now + 1), NEIGH_LEARNED);
	assert_memory_equal(e->mac, MAC_B, 6);

	/* The same when nothing uses it: aging fails it, and the next packet broadcasts. */
	struct neigh_entry *f = resolved(t, 2, MAC_A, now);
	now += NEIGH_PROBE_INTERVAL_MS;
	assert_true(neigh_verify(t, f, now));
	f->probes = NEIGH_UCAST_PROBES;
	struct rte_mbuf *dropped[4];
	assert_int_equal(neigh_age(t, now + NEIGH_PROBE_INTERVAL_MS, dropped, 4), 0);
	f = neigh_lookup(t, AF_INET, v4(2));
	assert_int_equal(f->state, NEIGH_INCOMPLETE);
	assert_int_equal(
		neigh_should_probe(t, f, now + NEIGH_PROBE_INTERVAL_MS + 1), NEIGH_PROBE_BCAST);
}

static void test_stale_in_use_is_verified(void **state)
{
	struct neigh_table *t = *state;
	struct neigh_entry *e = resolved(t, 1, MAC_A, T0);
	uint64_t stale = T0 + REACHABLE_S * 1000u;
	assert_int_equal(neigh_should_probe(t, e, stale - 1), NEIGH_PROBE_NONE);
	assert_string_equal(neigh_state_name(t, e, stale), "stale");
	assert_int_equal(neigh_should_probe(t, e, stale), NEIGH_PROBE_UCAST);
	assert_int_equal(neigh_offer(t, e, MAC_A, NEIGH_MSG_ANSWER, stale + 5), NEIGH_CONFIRMED);
	assert_int_equal(neigh_should_probe(t, e, stale + 10), NEIGH_PROBE_NONE);
}

static void test_full_table_keeps_entries_in_use(void **state)
{
	struct neigh_table *t = *state;
	uint64_t now = T0;
	/* 16 entries in use: 8 resolved, 8 resolving with a packet each. */
	struct rte_mbuf *pkt = (struct rte_mbuf *)(uintptr_t)0x1000;
	for (uint8_t i = 0; i < 8; i++)
		resolved(t, (uint8_t)(10 + i), MAC_A, now);
	for (uint8_t i = 0; i < 8; i++)
		assert_true(neigh_hold(t, neigh_get(t, AF_INET, v4((uint8_t)(20 + i)), now), pkt));
	assert_int_equal(t->n_entries, 16);
	/* Later, with everything still in use (REACHABLE used within reachable time, INCOMPLETE
	 * holding packets): a new next hop is refused, nothing is evicted. */
	now += 2 * NEIGH_PROBE_INTERVAL_MS;
	for (uint8_t i = 0; i < 8; i++)
		neigh_get(t, AF_INET, v4((uint8_t)(10 + i)), now);
	for (int k = 0; k < 100; k++)
		assert_null(neigh_get(t, AF_INET, v4((uint8_t)(100 + k)), now));
	assert_int_equal(t->evicted, 0);
	assert_int_equal(t->n_entries, 16);
	/* Past reachable time, entries 10..13 kept being used, 14..17 not: only those go. */
	now += REACHABLE_S * 1000u;
	for (uint8_t i = 0; i < 4; i++)
		neigh_get(t, AF_INET, v4((uint8_t)(10 + i)), now);
	for (uint8_t k = 0; k < 4; k++) {
		struct neigh_entry *e = NULL;
		/* The cursor scans NEIGH_EVICT_SCAN slots a try; a few tries cover the table. */
		for (int tries = 0; !e && tries < 8; tries++)
			e = neigh_get(t, AF_INET, v4((uint8_t)(200 + k)), now);
		assert_non_null(e);
	}
	assert_int_equal(t->evicted, 4);
	assert_null(neigh_get(t, AF_INET, v4(250), now));
	for (uint8_t i = 0; i < 4; i++)
		assert_non_null(neigh_lookup(t, AF_INET, v4((uint8_t)(10 + i))));
	for (uint8_t i = 4; i < 8; i++)
		assert_null(neigh_lookup(t, AF_INET, v4((uint8_t)(10 + i))));
	for (uint8_t i = 0; i < 8; i++) /* the ones holding packets were never candidates */
		assert_non_null(neigh_lookup(t, AF_INET, v4((uint8_t)(20 + i))));
	/* Drop the held (fake) packets so teardown does not see them. */
	for (uint32_t i = 0; i < t->size; i++)
		t->e[i].n_pending = 0;
	t->n_pending = 0;
}

static void test_unanswered_incomplete_makes_room(void **state)
{
	struct neigh_table *t = *state;
	for (uint8_t i = 0; i < 16; i++)
		neigh_get(t, AF_INET, v4((uint8_t)(10 + i)), T0); /* none holds a packet */
	assert_null(neigh_get(t, AF_INET, v4(100), T0 + 10)); /* still being resolved */
	struct neigh_entry *e = NULL;
	for (int tries = 0; !e && tries < 8; tries++)
		e = neigh_get(t, AF_INET, v4(100), T0 + NEIGH_PROBE_INTERVAL_MS);
	assert_non_null(e);
	assert_int_equal(t->evicted, 1);
}

static void test_aging(void **state)
{
	struct neigh_table *t = *state;
	struct rte_mbuf *pkt = (struct rte_mbuf *)(uintptr_t)0x1000, *dropped[8];
	assert_true(neigh_hold(t, neigh_get(t, AF_INET, v4(5), T0), pkt));
	resolved(t, 6, MAC_A, T0);
	assert_int_equal(neigh_age(t, T0 + 3 * NEIGH_PROBE_INTERVAL_MS - 1, dropped, 8), 0);
	assert_int_equal(neigh_age(t, T0 + 3 * NEIGH_PROBE_INTERVAL_MS, dropped, 8), 1);
	assert_ptr_equal(dropped[0], pkt);
	assert_null(neigh_lookup(t, AF_INET, v4(5)));
	assert_non_null(neigh_lookup(t, AF_INET, v4(6)));
	assert_int_equal(neigh_age(t, T0 + 2 * REACHABLE_S * 1000u, dropped, 8), 0);
	assert_null(neigh_lookup(t, AF_INET, v4(6)));
	assert_int_equal(t->n_entries, 0);
	assert_int_equal(t->n_pending, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_received_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_incomplete_takes_answers_not_announcements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mac_change_verified_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_in_use_is_verified, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_full_table_keeps_entries_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_unanswered_incomplete_makes_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aging, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
