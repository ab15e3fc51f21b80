/* SPDX-License-Identifier: Apache-2.0 */
/* router: the FIB (longest-prefix match, replace, delete, shared adjacencies, limits,
 * mark-and-sweep, re-open and repair after a crash) and ICMP errors built in place (every
 * field and checksum), plus the ICMP rate limiter. Starts its own in-memory EAL: run as root
 * with hugepages reserved. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "router_fib.h"
#include "router_icmp.h"

static struct rte_mempool *pool;
static struct router_fib fib;

/* Helpers */

static uint32_t ip4(const char *s)
{
	uint32_t a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static const uint8_t *ip6(const char *s)
{
	static uint8_t bufs[8][16];
	static unsigned int next;
	uint8_t *a = bufs[next++ % 8];
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
	return a;
}

static struct pl_adj adj_of(uint8_t kind, int family, uint16_t tx_if, const char *nh)
{
	struct pl_adj a;
	memset(&a, 0, sizeof(a));
	a.kind = kind;
	a.family = (uint8_t)family;
	a.tx_if = tx_if;
	a.mtu = 1500;
	if (nh)
		assert_int_equal(inet_pton(family, nh, a.nh), 1);
	return a;
}

static int add4(const char *pfx, uint8_t len, const struct pl_adj *a)
{
	uint32_t p = ip4(pfx);
	return router_fib_add(&fib, AF_INET, (const uint8_t *)&p, len, a);
}

static int del4(const char *pfx, uint8_t len)
{
	uint32_t p = ip4(pfx);
	return router_fib_del(&fib, AF_INET, (const uint8_t *)&p, len);
}

static int add6(const char *pfx, uint8_t len, const struct pl_adj *a)
{
	return router_fib_add(&fib, AF_INET6, ip6(pfx), len, a);
}

/* The adjacency index dst resolves to, or 0 (PL_ADJ_INVALID) for no route. */
static uint32_t look4_in(const struct router_fib *f, const char *dst)
{
	uint32_t idx = 0;
	int ret = router_fib_lookup4(f, ip4(dst), &idx);
	assert_true(ret == 0 || ret == -ENOENT);
	return ret == 0 ? idx : PL_ADJ_INVALID;
}

static uint32_t look4(const char *dst)
{
	return look4_in(&fib, dst);
}

static uint32_t look6_in(const struct router_fib *f, const char *dst)
{
	uint32_t idx = 0;
	int ret = router_fib_lookup6(f, ip6(dst), &idx);
	assert_true(ret == 0 || ret == -ENOENT);
	return ret == 0 ? idx : PL_ADJ_INVALID;
}

static uint32_t look6(const char *dst)
{
	return look6_in(&fib, dst);
}

static void assert_via(uint32_t idx, int family, uint16_t tx_if, const char *nh)
{
	const struct pl_adj *a = router_fib_adj(&fib, idx);
	assert_non_null(a);
	assert_int_equal(a->kind, PL_ADJ_VIA);
	assert_int_equal(a->family, family);
	assert_int_equal(a->tx_if, tx_if);
	uint8_t want[16] = { 0 };
	assert_int_equal(inet_pton(family, nh, want), 1);
	assert_memory_equal(a->nh, want, 16);
}

/* Registry slot of a route, for the crash simulations. */
static uint32_t slot_of(int family, const uint8_t *prefix, uint8_t len)
{
	uint8_t want[16] = { 0 };
	memcpy(want, prefix, family == AF_INET ? 4 : 16);
	for (uint32_t s = 0; s < PL_ROUTES_SLOTS; s++) {
		const struct pl_route *r = &fib.routes->route[s];
		if (r->in_use && r->family == family && r->len == len &&
			memcmp(r->prefix, want, 16) == 0)
			return s;
	}
	fail_msg("route not in the registry");
	return 0;
}

static int fib_setup_n(uint32_t max)
{
	int ret = router_fib_open(&fib, max);
	if (ret < 0) {
		fprintf(stderr, "router_fib_open(%u): %s\n", max, strerror(-ret));
		return -1;
	}
	return 0;
}

static int fib_setup(void **state)
{
	(void)state;
	return fib_setup_n(256);
}

static int fib_setup_small(void **state)
{
	(void)state;
	return fib_setup_n(4);
}

static int fib_setup_adj_max(void **state)
{
	(void)state;
	return fib_setup_n(PL_ADJ_MAX);
}

static int fib_teardown(void **state)
{
	(void)state;
	return router_fib_destroy_tables(&fib) == 0 ? 0 : -1;
}

/* FIB tests */

static void test_fib_lpm4(void **state)
{
	(void)state;
	assert_true(fib.created);
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	struct pl_adj b = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.2");
	struct pl_adj pod = adj_of(PL_ADJ_POD, AF_INET, PL_IF_POD_BASE + 3, NULL);
	struct pl_adj glean = adj_of(PL_ADJ_GLEAN, AF_INET, PL_IF_UPLINK, NULL);
	struct pl_adj def = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.254");

	assert_int_equal(look4("10.1.2.3"), PL_ADJ_INVALID);
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	assert_int_equal(add4("10.1.0.0", 16, &b), 0);
	assert_int_equal(add4("10.1.2.3", 32, &pod), 0);
	assert_int_equal(add4("10.1.2.0", 25, &glean), 0);

	assert_via(look4("10.2.3.4"), AF_INET, PL_IF_UPLINK, "192.0.2.1");
	assert_via(look4("10.1.200.1"), AF_INET, PL_IF_UPLINK, "192.0.2.2");
	const struct pl_adj *p = router_fib_adj(&fib, look4("10.1.2.3"));
	assert_non_null(p);
	assert_int_equal(p->kind, PL_ADJ_POD);
	assert_int_equal(p->tx_if, PL_IF_POD_BASE + 3);
	assert_int_equal(router_fib_adj(&fib, look4("10.1.2.4"))->kind, PL_ADJ_GLEAN);
	assert_via(look4("10.1.2.200"), AF_INET, PL_IF_UPLINK, "192.0.2.2"); /* outside the /25 */
	assert_int_equal(look4("11.0.0.1"), PL_ADJ_INVALID);
	uint32_t idx = 99;
	assert_int_equal(router_fib_lookup4(&fib, ip4("11.0.0.1"), &idx), -ENOENT);

	/* The default route lives outside rte_lpm (no depth 0) but behaves like a route. */
	assert_int_equal(add4("0.0.0.0", 0, &def), 0);
	assert_via(look4("11.0.0.1"), AF_INET, PL_IF_UPLINK, "192.0.2.254");
	assert_via(look4("10.9.9.9"), AF_INET, PL_IF_UPLINK, "192.0.2.1");
	assert_int_equal(router_fib_count(&fib, AF_INET), 5);
	assert_int_equal(router_fib_count(&fib, AF_INET6), 0);

	/* Host bits are ignored: this is 10.0.0.0/8 again, replaced in place. */
	assert_int_equal(add4("10.7.7.7", 8, &b), 0);
	assert_int_equal(router_fib_count(&fib, AF_INET), 5);
	assert_via(look4("10.2.3.4"), AF_INET, PL_IF_UPLINK, "192.0.2.2");

	const char *dsts[] = { "10.2.3.4", "10.1.2.3", "10.1.2.4", "11.0.0.1", "10.1.200.1" };
	uint32_t be[5], got[5];
	for (int i = 0; i < 5; i++)
		be[i] = ip4(dsts[i]);
	assert_int_equal(router_fib_lookup4_bulk(&fib, be, got, 5), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(got[i], look4(dsts[i]));
	assert_int_equal(del4("0.0.0.0", 0), 0);
	assert_int_equal(router_fib_lookup4_bulk(&fib, be, got, 5), 4);
	assert_int_equal(got[3], PL_ADJ_INVALID);
}

static void test_fib_lpm6(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	struct pl_adj b = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::2");
	struct pl_adj pod = adj_of(PL_ADJ_POD, AF_INET6, PL_IF_POD_BASE, NULL);
	struct pl_adj local = adj_of(PL_ADJ_LOCAL, AF_INET6, PL_IF_HOST, NULL);
	struct pl_adj def = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::ff");

	assert_int_equal(add6("2001:db8::", 32, &a), 0);
	assert_int_equal(add6("2001:db8:1::", 48, &b), 0);
	assert_int_equal(add6("2001:db8:1:2::5", 128, &pod), 0);
	assert_int_equal(add6("2001:db8:1:2::", 64, &local), 0);

	assert_via(look6("2001:db8:ffff::1"), AF_INET6, PL_IF_UPLINK, "fe80::1");
	assert_via(look6("2001:db8:1:3::1"), AF_INET6, PL_IF_UPLINK, "fe80::2");
	assert_int_equal(router_fib_adj(&fib, look6("2001:db8:1:2::5"))->kind, PL_ADJ_POD);
	assert_int_equal(router_fib_adj(&fib, look6("2001:db8:1:2::6"))->kind, PL_ADJ_LOCAL);
	assert_int_equal(look6("2001:db9::1"), PL_ADJ_INVALID);
	assert_int_equal(add6("::", 0, &def), 0);
	assert_via(look6("2001:db9::1"), AF_INET6, PL_IF_UPLINK, "fe80::ff");
	assert_int_equal(router_fib_count(&fib, AF_INET6), 5);
	assert_int_equal(router_fib_count(&fib, 0), 5);
}

static void test_fib_replace(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	struct pl_adj b = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.2");
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	uint32_t ia = look4("10.0.0.1");
	uint64_t gen = fib.adj->generation;

	/* Same adjacency again: nothing changes. */
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	assert_int_equal(look4("10.0.0.1"), ia);
	assert_int_equal(router_fib_adj(&fib, ia)->refs, 1);

	assert_int_equal(add4("10.0.0.0", 8, &b), 0);
	uint32_t ib = look4("10.0.0.1");
	assert_int_not_equal(ib, ia);
	assert_via(ib, AF_INET, PL_IF_UPLINK, "192.0.2.2");
	assert_null(router_fib_adj(&fib, ia)); /* its last route moved away */
	assert_true(fib.adj->generation > gen);
	assert_int_equal(router_fib_count(&fib, AF_INET), 1);

	/* Replace a more specific route and the less specific one is untouched. */
	assert_int_equal(add4("10.1.0.0", 16, &a), 0);
	struct pl_adj pod = adj_of(PL_ADJ_POD, AF_INET, PL_IF_POD_BASE, NULL);
	assert_int_equal(add4("10.1.0.0", 16, &pod), 0);
	assert_int_equal(router_fib_adj(&fib, look4("10.1.0.1"))->kind, PL_ADJ_POD);
	assert_int_equal(look4("10.2.0.1"), ib);

	/* IPv6 as well. */
	struct pl_adj c = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	struct pl_adj d = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::2");
	assert_int_equal(add6("2001:db8::", 32, &c), 0);
	assert_int_equal(add6("2001:db8::", 32, &d), 0);
	assert_via(look6("2001:db8::1"), AF_INET6, PL_IF_UPLINK, "fe80::2");
	assert_int_equal(router_fib_count(&fib, AF_INET6), 1);
}

static void test_fib_delete(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	struct pl_adj b = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.2");
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	assert_int_equal(add4("10.1.0.0", 16, &b), 0);
	assert_int_equal(add4("10.1.2.3", 32, &b), 0);
	uint32_t ia = look4("10.0.0.1");

	assert_int_equal(del4("10.1.0.0", 16), 0);
	assert_int_equal(look4("10.1.0.1"), ia); /* falls back to the /8 */
	assert_via(look4("10.1.2.3"), AF_INET, PL_IF_UPLINK, "192.0.2.2");
	assert_int_equal(del4("10.1.0.0", 16), -ENOENT);
	assert_int_equal(del4("10.1.0.0", 15), -ENOENT);
	assert_int_equal(del4("10.1.2.3", 32), 0);
	assert_int_equal(look4("10.1.2.3"), ia);
	assert_int_equal(del4("10.0.0.0", 8), 0);
	assert_int_equal(look4("10.1.2.3"), PL_ADJ_INVALID);
	assert_int_equal(router_fib_count(&fib, 0), 0);
	assert_null(router_fib_adj(&fib, ia));

	uint8_t p6[16];
	memcpy(p6, ip6("2001:db8::"), 16);
	struct pl_adj c = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	assert_int_equal(router_fib_add(&fib, AF_INET6, p6, 32, &c), 0);
	assert_int_not_equal(look6("2001:db8::1"), PL_ADJ_INVALID);
	assert_int_equal(router_fib_del(&fib, AF_INET6, p6, 32), 0);
	assert_int_equal(look6("2001:db8::1"), PL_ADJ_INVALID);
	assert_int_equal(router_fib_del(&fib, AF_INET6, p6, 32), -ENOENT);

	/* Bad arguments. */
	assert_int_equal(add4("10.0.0.0", 33, &a), -EINVAL);
	assert_int_equal(del4("10.0.0.0", 33), -EINVAL);
	assert_int_equal(router_fib_add(&fib, AF_INET6, p6, 129, &c), -EINVAL);
	assert_int_equal(router_fib_add(&fib, 99, p6, 8, &c), -EINVAL);
	struct pl_adj bad = a;
	bad.kind = PL_ADJ_NONE;
	assert_int_equal(add4("10.0.0.0", 8, &bad), -EINVAL);
	bad = a;
	bad.kind = PL_ADJ_VIA + 1;
	assert_int_equal(add4("10.0.0.0", 8, &bad), -EINVAL);
	bad = a;
	bad.tx_if = PL_IF_MAX;
	assert_int_equal(add4("10.0.0.0", 8, &bad), -EINVAL);
	assert_int_equal(router_fib_count(&fib, 0), 0);
}

static void test_fib_adj_sharing(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	/* Garbage past the IPv4 next hop and in refs does not make it different. */
	struct pl_adj a2 = a;
	memset(a2.nh + 4, 0xee, 12);
	a2.refs = 77;
	assert_int_equal(add4("10.1.0.0", 16, &a2), 0);
	assert_int_equal(add4("172.16.0.0", 12, &a), 0);
	uint32_t ia = look4("10.0.0.1");
	assert_int_equal(look4("10.1.0.1"), ia);
	assert_int_equal(look4("172.16.0.1"), ia);
	assert_int_equal(router_fib_adj(&fib, ia)->refs, 3);

	/* Any difference (mtu, tx_if, kind) is another adjacency. */
	struct pl_adj m = a;
	m.mtu = 9000;
	assert_int_equal(add4("192.168.0.0", 16, &m), 0);
	uint32_t im = look4("192.168.0.1");
	assert_int_not_equal(im, ia);
	assert_int_equal(router_fib_adj(&fib, im)->mtu, 9000);
	/* Non-VIA adjacencies ignore the next hop. */
	struct pl_adj p1 = adj_of(PL_ADJ_POD, AF_INET, PL_IF_POD_BASE, "10.9.9.9");
	struct pl_adj p2 = adj_of(PL_ADJ_POD, AF_INET, PL_IF_POD_BASE, "10.9.9.8");
	assert_int_equal(add4("10.50.0.1", 32, &p1), 0);
	assert_int_equal(add4("10.50.0.2", 32, &p2), 0);
	assert_int_equal(look4("10.50.0.1"), look4("10.50.0.2"));

	assert_int_equal(del4("10.0.0.0", 8), 0);
	assert_int_equal(router_fib_adj(&fib, ia)->refs, 2);
	assert_int_equal(del4("10.1.0.0", 16), 0);
	assert_int_equal(router_fib_adj(&fib, ia)->refs, 1);
	uint64_t gen = fib.adj->generation;
	assert_int_equal(del4("172.16.0.0", 12), 0);
	assert_null(router_fib_adj(&fib, ia));
	assert_true(fib.adj->generation > gen);
	assert_int_equal(fib.adj->adj[ia].kind, PL_ADJ_NONE);
	assert_int_equal(router_fib_adj(&fib, im)->refs, 1);
	assert_null(router_fib_adj(&fib, PL_ADJ_INVALID));
	assert_null(router_fib_adj(&fib, PL_ADJ_MAX));
}

static void test_fib_enospc(void **state)
{
	(void)state;
	assert_int_equal(fib.max_routes, 4);
	char buf[32];
	for (int i = 0; i < 4; i++) {
		struct pl_adj a = adj_of(PL_ADJ_POD, AF_INET, (uint16_t)(PL_IF_POD_BASE + i), NULL);
		snprintf(buf, sizeof(buf), "10.0.0.%d", i + 1);
		assert_int_equal(add4(buf, 32, &a), 0);
	}
	struct pl_adj x = adj_of(PL_ADJ_POD, AF_INET, PL_IF_POD_BASE + 9, NULL);
	uint32_t adj_before = 0;
	for (uint32_t i = 1; i < PL_ADJ_MAX; i++)
		adj_before += fib.adj->adj[i].kind != PL_ADJ_NONE;
	assert_int_equal(add4("10.0.0.9", 32, &x), -ENOSPC);
	assert_int_equal(look4("10.0.0.9"), PL_ADJ_INVALID);
	uint32_t adj_after = 0;
	for (uint32_t i = 1; i < PL_ADJ_MAX; i++)
		adj_after += fib.adj->adj[i].kind != PL_ADJ_NONE;
	assert_int_equal(adj_after, adj_before); /* nothing leaked */
	assert_int_equal(router_fib_count(&fib, AF_INET), 4);
	/* Replacing at capacity is fine. */
	assert_int_equal(add4("10.0.0.1", 32, &x), 0);
	assert_int_equal(router_fib_adj(&fib, look4("10.0.0.1"))->tx_if, PL_IF_POD_BASE + 9);
	/* The limit is per family. */
	struct pl_adj c = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	for (int i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "2001:db8:%d::", i);
		assert_int_equal(add6(buf, 48, &c), 0);
	}
	assert_int_equal(add6("2001:db8:99::", 48, &c), -ENOSPC);
	/* Room again after a delete. */
	assert_int_equal(del4("10.0.0.2", 32), 0);
	assert_int_equal(add4("10.0.0.9", 32, &x), 0);
	assert_int_equal(router_fib_count(&fib, 0), 8);
}

static void test_fib_adj_enospc(void **state)
{
	(void)state;
	/* Every route its own next hop, until the adjacency table is full. */
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "100.64.0.0");
	uint32_t base = rte_be_to_cpu_32(ip4("100.64.0.0"));
	uint32_t dst_base = rte_be_to_cpu_32(ip4("20.0.0.0"));
	uint32_t i;
	for (i = 0; i < PL_ADJ_MAX - 1; i++) {
		uint32_t nh = rte_cpu_to_be_32(base + i), dst = rte_cpu_to_be_32(dst_base + i);
		memcpy(a.nh, &nh, 4);
		assert_int_equal(router_fib_add(&fib, AF_INET, (const uint8_t *)&dst, 32, &a), 0);
	}
	uint32_t nh = rte_cpu_to_be_32(base + i), dst = rte_cpu_to_be_32(dst_base + i);
	memcpy(a.nh, &nh, 4);
	assert_int_equal(router_fib_add(&fib, AF_INET, (const uint8_t *)&dst, 32, &a), -ENOSPC);
	assert_int_equal(router_fib_count(&fib, AF_INET), PL_ADJ_MAX - 1);
	uint32_t idx;
	assert_int_equal(router_fib_lookup4(&fib, dst, &idx), -ENOENT);
	/* A route sharing an existing adjacency still fits. */
	uint32_t nh0 = rte_cpu_to_be_32(base);
	memcpy(a.nh, &nh0, 4);
	assert_int_equal(add4("30.0.0.0", 8, &a), 0);
	/* Deleting a route frees its adjacency for a new one. */
	uint32_t first = rte_cpu_to_be_32(dst_base + 1);
	assert_int_equal(router_fib_del(&fib, AF_INET, (const uint8_t *)&first, 32), 0);
	memcpy(a.nh, &nh, 4);
	assert_int_equal(router_fib_add(&fib, AF_INET, (const uint8_t *)&dst, 32, &a), 0);
	assert_int_equal(router_fib_lookup4(&fib, dst, &idx), 0);
	assert_memory_equal(router_fib_adj(&fib, idx)->nh, &nh, 4);
}

static void test_fib_mark_sweep(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	struct pl_adj b = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.2");
	struct pl_adj c = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	assert_int_equal(add4("10.1.0.0", 16, &a), 0);
	assert_int_equal(add4("10.2.0.0", 16, &a), 0);
	assert_int_equal(add6("2001:db8::", 32, &c), 0);
	assert_int_equal(add6("2001:db8:1::", 48, &c), 0);
	assert_int_equal(router_fib_sweep(&fib), 0); /* nothing is stale without mark_all */

	router_fib_mark_all(&fib);
	/* Until the sweep, everything still forwards. */
	assert_int_not_equal(look4("10.2.0.1"), PL_ADJ_INVALID);
	assert_int_equal(add4("10.0.0.0", 8, &a), 0); /* unchanged */
	assert_int_equal(add4("10.1.0.0", 16, &b), 0); /* changed */
	assert_int_equal(add4("10.3.0.0", 16, &b), 0); /* new */
	assert_int_equal(add6("2001:db8::", 32, &c), 0);
	assert_int_equal(router_fib_sweep(&fib), 2);

	assert_via(look4("10.0.0.1"), AF_INET, PL_IF_UPLINK, "192.0.2.1");
	assert_via(look4("10.1.0.1"), AF_INET, PL_IF_UPLINK, "192.0.2.2");
	assert_via(look4("10.2.0.1"), AF_INET, PL_IF_UPLINK, "192.0.2.1"); /* the /8 now */
	assert_via(look4("10.3.0.1"), AF_INET, PL_IF_UPLINK, "192.0.2.2");
	assert_int_equal(del4("10.2.0.0", 16), -ENOENT);
	assert_int_equal(router_fib_count(&fib, AF_INET), 3);
	assert_int_equal(router_fib_count(&fib, AF_INET6), 1);
	assert_via(look6("2001:db8:1::1"), AF_INET6, PL_IF_UPLINK, "fe80::1");
	assert_int_equal(router_fib_adj(&fib, look4("10.0.0.1"))->refs, 1);
	assert_int_equal(router_fib_adj(&fib, look4("10.1.0.1"))->refs, 2);
	assert_int_equal(router_fib_sweep(&fib), 0);

	/* An empty resync removes everything. */
	router_fib_mark_all(&fib);
	assert_int_equal(router_fib_sweep(&fib), 4);
	assert_int_equal(router_fib_count(&fib, 0), 0);
	for (uint32_t i = 1; i < PL_ADJ_MAX; i++)
		assert_int_equal(fib.adj->adj[i].kind, PL_ADJ_NONE);
}

static void test_fib_reopen(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	struct pl_adj b = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.2");
	struct pl_adj c = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	struct pl_adj d = adj_of(PL_ADJ_POD, AF_INET6, PL_IF_POD_BASE, NULL);
	assert_int_equal(add4("0.0.0.0", 0, &b), 0);
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	assert_int_equal(add4("10.1.0.0", 16, &b), 0);
	assert_int_equal(add4("10.1.2.3", 32, &a), 0);
	assert_int_equal(add6("2001:db8::", 32, &c), 0);
	assert_int_equal(add6("2001:db8::7", 128, &d), 0);
	uint32_t ia = look4("10.0.0.1"), ib = look4("10.1.0.1"), ic = look6("2001:db8::1");
	uint32_t id = look6("2001:db8::7");

	/* A restarted router: the same tables, the same routes, the same adjacencies. */
	struct router_fib f2;
	assert_int_equal(router_fib_open(&f2, 256), 0);
	assert_false(f2.created);
	assert_false(f2.rebuilt6); /* same process: its rule hash is still valid */
	assert_ptr_equal(f2.lpm4, fib.lpm4);
	assert_ptr_equal(f2.lpm6, fib.lpm6);
	assert_ptr_equal(f2.adj, fib.adj);
	assert_ptr_equal(f2.routes, fib.routes);
	assert_int_equal(router_fib_count(&f2, AF_INET), 4);
	assert_int_equal(router_fib_count(&f2, AF_INET6), 2);
	assert_int_equal(look4_in(&f2, "10.0.0.1"), ia);
	assert_int_equal(look4_in(&f2, "10.1.0.1"), ib);
	assert_int_equal(look4_in(&f2, "10.1.2.3"), ia);
	assert_int_equal(look4_in(&f2, "8.8.8.8"), ib);
	assert_int_equal(look6_in(&f2, "2001:db8::1"), ic);
	assert_int_equal(look6_in(&f2, "2001:db8::7"), id);
	assert_int_equal(f2.adj->adj[ia].refs, 2);
	assert_int_equal(f2.adj->adj[ib].refs, 2);
	/* And it can change them. */
	uint32_t p = ip4("10.1.2.3");
	assert_int_equal(router_fib_del(&f2, AF_INET, (const uint8_t *)&p, 32), 0);
	assert_int_equal(look4("10.1.2.3"), ib);
	router_fib_close(&f2);
	assert_null(f2.lpm4);

	/* Killed in a delete after the LPM let go of the route: the next open finishes it. */
	uint32_t p16 = ip4("10.1.0.0");
	uint32_t s = slot_of(AF_INET, (const uint8_t *)&p16, 16);
	assert_int_equal(rte_lpm_delete(fib.lpm4, rte_be_to_cpu_32(p16), 16), 0);
	fib.routes->pending_slot = s;
	fib.routes->pending_op = PL_ROUTES_OP_DEL;
	assert_int_equal(router_fib_open(&fib, 256), 0);
	assert_int_equal(fib.routes->pending_op, PL_ROUTES_OP_NONE);
	assert_int_equal(router_fib_count(&fib, AF_INET), 2);
	assert_int_equal(look4("10.1.0.1"), ia);
	assert_int_equal(router_fib_adj(&fib, ib)->refs, 1); /* only the default route now */

	/* Killed in an add before the LPM had it: the next open installs it. */
	uint32_t p8 = ip4("10.0.0.0");
	s = slot_of(AF_INET, (const uint8_t *)&p8, 8);
	assert_int_equal(rte_lpm_delete(fib.lpm4, rte_be_to_cpu_32(p8), 8), 0);
	assert_int_equal(look4("10.0.0.1"), ib); /* the default */
	fib.routes->pending_slot = s;
	fib.routes->pending_op = PL_ROUTES_OP_ADD;
	assert_int_equal(router_fib_open(&fib, 256), 0);
	assert_int_equal(look4("10.0.0.1"), ia);

	/* Killed while filling a new LPM: the next open fills it again. */
	assert_int_equal(rte_lpm_delete(fib.lpm4, rte_be_to_cpu_32(p8), 8), 0);
	fib.routes->lpm_complete[0] = 0;
	assert_int_equal(router_fib_open(&fib, 256), 0);
	assert_int_equal(look4("10.0.0.1"), ia);

	/* Another process made the IPv6 table (a router restarted under ASLR): it serves
	 * lookups as it is, and is rebuilt from the registry at the first IPv6 change. */
	fib.routes->lpm6_owner ^= 0x5a5a;
	uint64_t foreign = fib.routes->lpm6_owner;
	assert_int_equal(router_fib_open(&fib, 256), 0);
	assert_false(fib.rebuilt6);
	assert_true(fib.stale6);
	assert_int_equal(fib.routes->lpm6_owner, foreign);
	assert_int_equal(look6("2001:db8::1"), ic);
	assert_int_equal(look6("2001:db8::7"), id);
	assert_int_equal(look6("2001:db9::1"), PL_ADJ_INVALID);
	assert_int_equal(add6("2001:db8:5::", 48, &d), 0);
	assert_true(fib.rebuilt6);
	assert_false(fib.stale6);
	assert_int_not_equal(fib.routes->lpm6_owner, foreign);
	assert_int_equal(look6("2001:db8::1"), ic);
	assert_int_equal(look6("2001:db8:5::1"), id);
	/* With an IPv6 change left half-done, the open rebuilds at once. */
	fib.routes->lpm6_owner ^= 0x5a5a;
	uint32_t s6 = slot_of(AF_INET6, ip6("2001:db8:5::"), 48);
	fib.routes->pending_slot = s6;
	fib.routes->pending_op = PL_ROUTES_OP_ADD;
	assert_int_equal(router_fib_open(&fib, 256), 0);
	assert_true(fib.rebuilt6);
	assert_false(fib.stale6);
	assert_int_equal(look6("2001:db8:5::1"), id);
	assert_int_equal(router_fib_del(&fib, AF_INET6, ip6("2001:db8::"), 32), 0);
	assert_int_equal(look6("2001:db8::1"), PL_ADJ_INVALID);
	assert_int_equal(router_fib_count(&fib, AF_INET6), 2);

	/* Capacity is the one the tables were created with. */
	assert_int_equal(router_fib_open(&fib, 1000), 0);
	assert_int_equal(fib.max_routes, 256);
	assert_int_equal(router_fib_open(&f2, 0), -EINVAL);
	assert_int_equal(router_fib_open(&f2, PL_FIB_MAX_ROUTES + 1), -EINVAL);
}

static int count_cb(const struct router_fib_entry *e, void *arg)
{
	int *n = arg;
	assert_non_null(e->adj);
	assert_int_equal(e->adj->kind != PL_ADJ_NONE, 1);
	(*n)++;
	return 0;
}

static int stop_cb(const struct router_fib_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return -EINTR;
}

static void test_fib_dump(void **state)
{
	(void)state;
	struct pl_adj a = adj_of(PL_ADJ_VIA, AF_INET, PL_IF_UPLINK, "192.0.2.1");
	struct pl_adj pod = adj_of(PL_ADJ_POD, AF_INET, PL_IF_POD_BASE + 1, NULL);
	struct pl_adj c = adj_of(PL_ADJ_VIA, AF_INET6, PL_IF_UPLINK, "fe80::1");
	assert_int_equal(add6("2001:db8::", 32, &c), 0);
	assert_int_equal(add4("10.1.2.3", 32, &pod), 0);
	assert_int_equal(add4("10.0.0.0", 8, &a), 0);
	assert_int_equal(add4("0.0.0.0", 0, &a), 0);

	int n = 0;
	assert_int_equal(router_fib_walk(&fib, 0, count_cb, &n), 4);
	assert_int_equal(n, 4);
	n = 0;
	assert_int_equal(router_fib_walk(&fib, AF_INET6, count_cb, &n), 1);
	assert_int_equal(router_fib_walk(&fib, 0, stop_cb, NULL), -EINTR);

	struct json_object *arr = router_fib_dump(&fib, 0);
	assert_non_null(arr);
	assert_int_equal(json_object_array_length(arr), 4);
	const char *want[] = { "0.0.0.0/0", "10.0.0.0/8", "10.1.2.3/32", "2001:db8::/32" };
	for (size_t i = 0; i < 4; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		assert_true(json_object_object_get_ex(o, "prefix", &v));
		assert_string_equal(json_object_get_string(v), want[i]);
	}
	struct json_object *o = json_object_array_get_idx(arr, 1), *v;
	assert_true(json_object_object_get_ex(o, "kind", &v));
	assert_string_equal(json_object_get_string(v), "via");
	assert_true(json_object_object_get_ex(o, "nh", &v));
	assert_string_equal(json_object_get_string(v), "192.0.2.1");
	assert_true(json_object_object_get_ex(o, "tx_if", &v));
	assert_int_equal(json_object_get_int(v), PL_IF_UPLINK);
	assert_true(json_object_object_get_ex(o, "mtu", &v));
	assert_int_equal(json_object_get_int(v), 1500);
	assert_true(json_object_object_get_ex(o, "refs", &v));
	assert_int_equal(json_object_get_int(v), 2);
	o = json_object_array_get_idx(arr, 2);
	assert_true(json_object_object_get_ex(o, "kind", &v));
	assert_string_equal(json_object_get_string(v), "pod");
	assert_false(json_object_object_get_ex(o, "nh", &v));
	json_object_put(arr);

	arr = router_fib_dump(&fib, AF_INET6);
	assert_int_equal(json_object_array_length(arr), 1);
	json_object_put(arr);
	assert_string_equal(router_fib_kind_name(PL_ADJ_GLEAN), "glean");
	assert_string_equal(router_fib_kind_name(200), "?");
}

/* ICMP */

static const struct rte_ether_addr mac_a = { { 0x02, 0, 0, 0, 0, 0x0a } };
static const struct rte_ether_addr mac_b = { { 0x02, 0, 0, 0, 0, 0x0b } };

static void fill_payload(uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
}

/* Ethernet (a -> b) + IPv4 + l4_len bytes of `proto` (a UDP header if UDP). */
static struct rte_mbuf *frame4(
	const char *src, const char *dst, uint8_t proto, uint16_t l4_len, uint16_t frag)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	uint16_t len = (uint16_t)(14 + 20 + l4_len);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, len);
	assert_non_null(p);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	eth->dst_addr = mac_b;
	eth->src_addr = mac_a;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + l4_len));
	ip->packet_id = RTE_BE16(0x1234);
	ip->fragment_offset = rte_cpu_to_be_16(frag);
	ip->time_to_live = 1;
	ip->next_proto_id = proto;
	ip->src_addr = ip4(src);
	ip->dst_addr = ip4(dst);
	fill_payload((uint8_t *)(ip + 1), l4_len);
	if (proto == IPPROTO_UDP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
		udp->src_port = RTE_BE16(40000);
		udp->dst_port = RTE_BE16(53);
		udp->dgram_len = rte_cpu_to_be_16(l4_len);
		udp->dgram_cksum = 0;
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	return m;
}

static void check_ip4_error(struct rte_mbuf *m, const uint8_t *orig_l3, uint32_t quote,
	uint8_t type, uint8_t code, uint32_t word)
{
	const char *reason = NULL;
	assert_int_equal(rte_mbuf_check(m, 1, &reason), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 14 + 20 + 8 + quote);
	assert_int_equal(rte_pktmbuf_data_len(m), 14 + 20 + 8 + quote);
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	assert_memory_equal(&eth->dst_addr, &mac_a, 6);
	assert_memory_equal(&eth->src_addr, &mac_b, 6);
	assert_int_equal(eth->ether_type, RTE_BE16(RTE_ETHER_TYPE_IPV4));

	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_ipv4_hdr *oip = (const struct rte_ipv4_hdr *)orig_l3;
	assert_int_equal(ip->version_ihl, 0x45);
	assert_int_equal(ip->type_of_service, 0xc0);
	assert_int_equal(rte_be_to_cpu_16(ip->total_length), 20 + 8 + quote);
	assert_int_equal(rte_be_to_cpu_16(ip->fragment_offset), 0x4000);
	assert_int_equal(ip->time_to_live, 64);
	assert_int_equal(ip->next_proto_id, IPPROTO_ICMP);
	assert_int_equal(ip->src_addr, ip4("192.0.2.100"));
	assert_int_equal(ip->dst_addr, oip->src_addr);
	assert_int_equal(rte_raw_cksum(ip, 20), 0xffff);
	struct rte_ipv4_hdr copy = *ip;
	copy.hdr_checksum = 0;
	assert_int_equal(rte_ipv4_cksum(&copy), ip->hdr_checksum);

	const uint8_t *icmp = (const uint8_t *)(ip + 1);
	assert_int_equal(icmp[0], type);
	assert_int_equal(icmp[1], code);
	uint32_t w;
	memcpy(&w, icmp + 4, 4);
	assert_int_equal(rte_be_to_cpu_32(w), word);
	assert_memory_equal(icmp + 8, orig_l3, quote);
	assert_int_equal(rte_raw_cksum(icmp, 8 + quote), 0xffff);
	assert_int_equal(m->packet_type & RTE_PTYPE_L4_MASK, RTE_PTYPE_L4_ICMP);
}

static void test_icmp4_time_exceeded(void **state)
{
	(void)state;
	struct rte_mbuf *m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 100, 0);
	uint16_t headroom = rte_pktmbuf_headroom(m);
	uint8_t orig[28];
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), sizeof(orig));
	assert_int_equal(router_icmp4_error(m, ROUTER_ICMP4_TIME_EXCEEDED, ROUTER_ICMP4_CODE_TTL,
				 1234, ip4("192.0.2.100")),
		0);
	check_ip4_error(m, orig, 28, 11, 0, 0); /* info is not used: "unused" stays 0 */
	assert_int_equal(rte_pktmbuf_headroom(m), headroom);
	rte_pktmbuf_free(m);

	/* A minimal packet (header + 8 bytes) grows by 28 bytes into its tailroom. */
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 8, 0);
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), sizeof(orig));
	assert_int_equal(router_icmp4_error(m, 11, 0, 0, ip4("192.0.2.100")), 0);
	check_ip4_error(m, orig, 28, 11, 0, 0);
	rte_pktmbuf_free(m);

	/* Fewer than 8 bytes of payload: quote what there is. */
	m = frame4("10.0.0.1", "10.9.9.9", 253, 3, 0);
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), 23);
	assert_int_equal(router_icmp4_error(m, 11, 0, 0, ip4("192.0.2.100")), 0);
	check_ip4_error(m, orig, 23, 11, 0, 0);
	rte_pktmbuf_free(m);
}

static void test_icmp4_frag_needed(void **state)
{
	(void)state;
	struct rte_mbuf *m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 1480, 0x4000);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 1514);
	uint8_t orig[28];
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), sizeof(orig));
	assert_int_equal(router_icmp4_error(m, ROUTER_ICMP4_DEST_UNREACH,
				 ROUTER_ICMP4_CODE_FRAG_NEEDED, 1400, ip4("192.0.2.100")),
		0);
	check_ip4_error(m, orig, 28, 3, 4, 1400);
	const uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, 34);
	assert_int_equal(icmp[4], 0);
	assert_int_equal(icmp[5], 0);
	assert_int_equal(icmp[6], 1400 >> 8);
	assert_int_equal(icmp[7], 1400 & 0xff);
	rte_pktmbuf_free(m);
}

static void expect_refused4(struct rte_mbuf *m, int err)
{
	uint8_t before[128];
	uint32_t len = rte_pktmbuf_data_len(m);
	assert_true(len <= sizeof(before));
	memcpy(before, rte_pktmbuf_mtod(m, uint8_t *), len);
	assert_int_equal(router_icmp4_error(m, 11, 0, 0, ip4("192.0.2.100")), err);
	assert_int_equal(rte_pktmbuf_data_len(m), len);
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), before, len);
	rte_pktmbuf_free(m);
}

static void test_icmp4_refused(void **state)
{
	(void)state;
	/* Never an error about an ICMP error, of any kind (3, 11, 12, unknown types). */
	const uint8_t errors[] = { 3, 4, 5, 11, 12, 42 };
	for (size_t i = 0; i < sizeof(errors); i++) {
		struct rte_mbuf *m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_ICMP, 36, 0);
		*rte_pktmbuf_mtod_offset(m, uint8_t *, 34) = errors[i];
		expect_refused4(m, -EPERM);
	}
	/* An ICMP echo request may get one. */
	struct rte_mbuf *m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_ICMP, 36, 0);
	*rte_pktmbuf_mtod_offset(m, uint8_t *, 34) = 8;
	uint8_t orig[28];
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), sizeof(orig));
	assert_int_equal(router_icmp4_error(m, 11, 0, 0, ip4("192.0.2.100")), 0);
	check_ip4_error(m, orig, 28, 11, 0, 0);
	rte_pktmbuf_free(m);

	expect_refused4(frame4("10.0.0.1", "224.0.0.5", IPPROTO_UDP, 20, 0), -EPERM);
	expect_refused4(frame4("10.0.0.1", "255.255.255.255", IPPROTO_UDP, 20, 0), -EPERM);
	expect_refused4(frame4("10.0.0.1", "240.0.0.1", IPPROTO_UDP, 20, 0), -EPERM);
	expect_refused4(frame4("0.0.0.0", "10.9.9.9", IPPROTO_UDP, 20, 0), -EPERM);
	expect_refused4(frame4("127.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 0), -EPERM);
	expect_refused4(frame4("224.1.1.1", "10.9.9.9", IPPROTO_UDP, 20, 0), -EPERM);
	/* Non-first fragment; a first fragment (MF, offset 0) is answered. */
	expect_refused4(frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 185), -EPERM);
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 0x2000);
	assert_int_equal(router_icmp4_error(m, 11, 0, 0, ip4("192.0.2.100")), 0);
	rte_pktmbuf_free(m);
	/* Link-layer broadcast. */
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 0);
	memset(rte_pktmbuf_mtod(m, uint8_t *), 0xff, 6);
	expect_refused4(m, -EPERM);
	/* Not IPv4, a bad header, no source address to send from. */
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 0);
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	expect_refused4(m, -EINVAL);
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 0);
	*rte_pktmbuf_mtod_offset(m, uint8_t *, 14) = 0x4f; /* IHL beyond the frame */
	expect_refused4(m, -EINVAL);
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 20, 0);
	assert_int_equal(router_icmp4_error(m, 11, 0, 0, 0), -EINVAL);
	rte_pktmbuf_free(m);
}

/* Ethernet (a -> b) + IPv6 + l4_len bytes of next header nh (a UDP header if UDP). */
static struct rte_mbuf *frame6(const char *src, const char *dst, uint8_t nh, uint16_t l4_len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 40 + l4_len));
	assert_non_null(p);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	eth->dst_addr = mac_b;
	eth->src_addr = mac_a;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	ip->vtc_flow = RTE_BE32(0x60012345);
	ip->payload_len = rte_cpu_to_be_16(l4_len);
	ip->proto = nh;
	ip->hop_limits = 1;
	memcpy(ip->src_addr, ip6(src), 16);
	memcpy(ip->dst_addr, ip6(dst), 16);
	fill_payload((uint8_t *)(ip + 1), l4_len);
	if (nh == IPPROTO_UDP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
		udp->src_port = RTE_BE16(40000);
		udp->dst_port = RTE_BE16(53);
		udp->dgram_len = rte_cpu_to_be_16(l4_len);
		udp->dgram_cksum = 0;
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
	}
	return m;
}

/* Moves everything from `at` on into a second segment. */
static void split(struct rte_mbuf *m, uint16_t at)
{
	struct rte_mbuf *t = rte_pktmbuf_alloc(pool);
	assert_non_null(t);
	uint16_t n = (uint16_t)(rte_pktmbuf_data_len(m) - at);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(t, n);
	memcpy(p, rte_pktmbuf_mtod_offset(m, uint8_t *, at), n);
	assert_int_equal(rte_pktmbuf_trim(m, n), 0);
	assert_int_equal(rte_pktmbuf_chain(m, t), 0);
}

static void check_ip6_error(struct rte_mbuf *m, const uint8_t *orig_l3, uint32_t quote,
	uint8_t type, uint8_t code, uint32_t word)
{
	const char *reason = NULL;
	assert_int_equal(rte_mbuf_check(m, 1, &reason), 0);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 14 + 40 + 8 + quote);
	assert_int_equal(rte_pktmbuf_data_len(m), 14 + 40 + 8 + quote);
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	assert_memory_equal(&eth->dst_addr, &mac_a, 6);
	assert_memory_equal(&eth->src_addr, &mac_b, 6);
	assert_int_equal(eth->ether_type, RTE_BE16(RTE_ETHER_TYPE_IPV6));

	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(eth + 1);
	const struct rte_ipv6_hdr *oip = (const struct rte_ipv6_hdr *)orig_l3;
	assert_int_equal(rte_be_to_cpu_32(ip->vtc_flow), 6U << 28);
	assert_int_equal(rte_be_to_cpu_16(ip->payload_len), 8 + quote);
	assert_int_equal(ip->proto, IPPROTO_ICMPV6);
	assert_int_equal(ip->hop_limits, 64);
	assert_memory_equal(ip->src_addr, ip6("fd00::100"), 16);
	assert_memory_equal(ip->dst_addr, oip->src_addr, 16);

	const uint8_t *icmp = (const uint8_t *)(ip + 1);
	assert_int_equal(icmp[0], type);
	assert_int_equal(icmp[1], code);
	uint32_t w;
	memcpy(&w, icmp + 4, 4);
	assert_int_equal(rte_be_to_cpu_32(w), word);
	assert_memory_equal(icmp + 8, orig_l3, quote);

	/* The checksum, over a pseudo header built by hand (RFC 8200 8.1). */
	uint8_t ph[40] = { 0 };
	memcpy(ph, ip->src_addr, 16);
	memcpy(ph + 16, ip->dst_addr, 16);
	uint32_t l4 = 8 + quote;
	ph[34] = (uint8_t)(l4 >> 8);
	ph[35] = (uint8_t)l4;
	ph[39] = IPPROTO_ICMPV6;
	uint32_t sum = __rte_raw_cksum(ph, sizeof(ph), 0);
	sum = __rte_raw_cksum(icmp, l4, sum);
	assert_int_equal(__rte_raw_cksum_reduce(sum), 0xffff);
	/* And DPDK's own pseudo-header helper agrees. */
	sum = __rte_raw_cksum(icmp, l4, rte_ipv6_phdr_cksum(ip, 0));
	assert_int_equal(__rte_raw_cksum_reduce(sum), 0xffff);
}

static void test_icmp6_too_big(void **state)
{
	(void)state;
	static uint8_t orig[1500];
	struct rte_mbuf *m = frame6("2001:db8::1", "2001:db8:9::9", IPPROTO_UDP, 1452);
	assert_int_equal(rte_pktmbuf_pkt_len(m), 1506);
	uint16_t headroom = rte_pktmbuf_headroom(m);
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), 1492);
	assert_int_equal(
		router_icmp6_error(m, ROUTER_ICMP6_PACKET_TOO_BIG, 0, 1400, ip6("fd00::100")), 0);
	check_ip6_error(m, orig, 1232, 2, 0, 1400); /* 1280 - 40 - 8 */
	assert_int_equal(rte_pktmbuf_pkt_len(m), 1294);
	assert_int_equal(rte_pktmbuf_headroom(m), headroom);
	rte_pktmbuf_free(m);

	/* A small packet is quoted whole. */
	m = frame6("2001:db8::1", "2001:db8:9::9", IPPROTO_UDP, 60);
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), 100);
	assert_int_equal(router_icmp6_error(m, ROUTER_ICMP6_TIME_EXCEEDED,
				 ROUTER_ICMP6_CODE_HOP_LIMIT, 0, ip6("fd00::100")),
		0);
	check_ip6_error(m, orig, 100, 3, 0, 0);
	rte_pktmbuf_free(m);

	/* A chained packet: the quote is gathered across segments; the tail stays chained. */
	m = frame6("2001:db8::1", "2001:db8:9::9", IPPROTO_UDP, 1452);
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), 1492);
	split(m, 700);
	assert_int_equal(m->nb_segs, 2);
	assert_int_equal(router_icmp6_error(m, 2, 0, 1400, ip6("fd00::100")), 0);
	check_ip6_error(m, orig, 1232, 2, 0, 1400);
	assert_int_equal(m->nb_segs, 2);
	assert_int_equal(rte_pktmbuf_data_len(m->next), 0);
	rte_pktmbuf_free(m);

	/* Same for IPv4: a chained frame whose quote starts in the first segment. */
	m = frame4("10.0.0.1", "10.9.9.9", IPPROTO_UDP, 1480, 0x4000);
	uint8_t o4[28];
	memcpy(o4, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), sizeof(o4));
	split(m, 40);
	assert_int_equal(router_icmp4_error(m, 3, 4, 1400, ip4("192.0.2.100")), 0);
	check_ip4_error(m, o4, 28, 3, 4, 1400);
	rte_pktmbuf_free(m);
}

static void expect_refused6(struct rte_mbuf *m, uint8_t type, uint8_t code, int err)
{
	uint8_t before[256];
	uint32_t len = rte_pktmbuf_data_len(m);
	assert_true(len <= sizeof(before));
	memcpy(before, rte_pktmbuf_mtod(m, uint8_t *), len);
	assert_int_equal(router_icmp6_error(m, type, code, 1280, ip6("fd00::100")), err);
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), before, len);
	rte_pktmbuf_free(m);
}

static void test_icmp6_refused(void **state)
{
	(void)state;
	/* About an ICMPv6 error: refused, even behind extension headers. */
	for (uint8_t t = 1; t <= 4; t++) {
		struct rte_mbuf *m = frame6("2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 48);
		*rte_pktmbuf_mtod_offset(m, uint8_t *, 54) = t;
		expect_refused6(m, 3, 0, -EPERM);
	}
	struct rte_mbuf *m = frame6("2001:db8::1", "2001:db8::2", IPPROTO_HOPOPTS, 56);
	uint8_t *ext = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	ext[0] = IPPROTO_ICMPV6;
	ext[1] = 0; /* 8 bytes */
	ext[8] = 1; /* destination unreachable */
	expect_refused6(m, 3, 0, -EPERM);
	/* An echo request, directly or behind a header, may get one. */
	m = frame6("2001:db8::1", "2001:db8::2", IPPROTO_HOPOPTS, 56);
	ext = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	ext[0] = IPPROTO_ICMPV6;
	ext[1] = 0;
	ext[8] = 128;
	assert_int_equal(router_icmp6_error(m, 3, 0, 0, ip6("fd00::100")), 0);
	rte_pktmbuf_free(m);
	/* Multicast destination: only packet-too-big (and parameter problem code 2). */
	expect_refused6(frame6("2001:db8::1", "ff02::1", IPPROTO_UDP, 40), 3, 0, -EPERM);
	expect_refused6(frame6("2001:db8::1", "ff02::1", IPPROTO_UDP, 40), 1, 0, -EPERM);
	m = frame6("2001:db8::1", "ff0e::1:2", IPPROTO_UDP, 40);
	uint8_t orig[80];
	memcpy(orig, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), 80);
	assert_int_equal(router_icmp6_error(m, 2, 0, 1280, ip6("fd00::100")), 0);
	check_ip6_error(m, orig, 80, 2, 0, 1280);
	rte_pktmbuf_free(m);
	m = frame6("2001:db8::1", "2001:db8::2", IPPROTO_UDP, 40);
	memset(rte_pktmbuf_mtod(m, uint8_t *), 0xff, 6); /* link-layer broadcast */
	expect_refused6(m, 3, 0, -EPERM);
	/* Sources that are not one node. */
	expect_refused6(frame6("::", "2001:db8::2", IPPROTO_UDP, 40), 2, 0, -EPERM);
	expect_refused6(frame6("::1", "2001:db8::2", IPPROTO_UDP, 40), 2, 0, -EPERM);
	expect_refused6(frame6("ff02::5", "2001:db8::2", IPPROTO_UDP, 40), 2, 0, -EPERM);
	/* Not IPv6 / nothing to send from. */
	m = frame6("2001:db8::1", "2001:db8::2", IPPROTO_UDP, 40);
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	expect_refused6(m, 3, 0, -EINVAL);
	m = frame6("2001:db8::1", "2001:db8::2", IPPROTO_UDP, 40);
	assert_int_equal(router_icmp6_error(m, 3, 0, 0, ip6("::")), -EINVAL);
	rte_pktmbuf_free(m);
}

static void test_icmp_rate_limit(void **state)
{
	(void)state;
	const uint64_t hz = 1000000000ULL;
	struct router_icmp_rl rl;
	router_icmp_rl_init(&rl, 100, hz); /* burst 100/10 + 1 = 11 */
	uint64_t t = 5 * hz;
	for (int i = 0; i < 11; i++)
		assert_true(router_icmp_rl_allow(&rl, t));
	assert_false(router_icmp_rl_allow(&rl, t));
	assert_false(router_icmp_rl_allow(&rl, t + hz / 100 - 1));
	assert_true(router_icmp_rl_allow(&rl, t + hz / 100)); /* one token per 10 ms */
	assert_false(router_icmp_rl_allow(&rl, t + hz / 100));
	/* A long pause refills the burst, not more. */
	t += 100 * hz;
	int n = 0;
	while (router_icmp_rl_allow(&rl, t))
		n++;
	assert_int_equal(n, 11);
	/* A clock going backwards gives nothing. */
	assert_false(router_icmp_rl_allow(&rl, t - hz));
	/* Sustained: 100 a second over 10 seconds, polled every millisecond. */
	n = 0;
	for (uint64_t ms = 1; ms <= 10000; ms++)
		n += router_icmp_rl_allow(&rl, t + ms * (hz / 1000));
	assert_int_equal(n, 1000);
	/* Rate 0 allows nothing. */
	router_icmp_rl_init(&rl, 0, hz);
	assert_false(router_icmp_rl_allow(&rl, t));
}

/* EAL */

static int eal_setup(void **state)
{
	(void)state;
	char *argv[] = { "test_router", "--in-memory", "--no-pci", "--no-telemetry",
		"--lcores=0@(0-1)", "-m", "128", "--log-level=lib.eal:warning", NULL };
	int argc = (int)RTE_DIM(argv) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr,
			"test_router: DPDK EAL init failed: %s. It needs root and 2 MB hugepages "
			"mounted at /dev/hugepages (see tests/lab setup).\n",
			rte_strerror(rte_errno));
		return -1;
	}
	pool = rte_pktmbuf_pool_create(
		"test_router_pool", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool) {
		fprintf(stderr, "test_router: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int eal_teardown(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fib_lpm4, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_lpm6, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_replace, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_delete, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_adj_sharing, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_enospc, fib_setup_small, fib_teardown),
		cmocka_unit_test_setup_teardown(
			test_fib_adj_enospc, fib_setup_adj_max, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_mark_sweep, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_reopen, fib_setup, fib_teardown),
		cmocka_unit_test_setup_teardown(test_fib_dump, fib_setup, fib_teardown),
		cmocka_unit_test(test_icmp4_time_exceeded),
		cmocka_unit_test(test_icmp4_frag_needed),
		cmocka_unit_test(test_icmp4_refused),
		cmocka_unit_test(test_icmp6_too_big),
		cmocka_unit_test(test_icmp6_refused),
		cmocka_unit_test(test_icmp_rate_limit),
	};
	/* DPDK's EAL takes hugepages: as root only. Not root: skipped (meson's 77); root and the
	 * EAL still fails (./podlane setup reserves hugepages): a failure. */
	if (geteuid() != 0) {
		fprintf(stderr,
			"test_router: not root, DPDK's EAL cannot take hugepages: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, eal_setup, eal_teardown);
}
