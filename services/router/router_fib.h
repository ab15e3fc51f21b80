/* SPDX-License-Identifier: Apache-2.0 */
/* router's FIB: the IPv4/IPv6 LPM tables, the adjacency table io-worker reads, and the route
 * registry, all in shared memory and found by name (pl_fib.h). router is their only writer.
 * Routes share identical adjacencies (reference counted); a restarted router re-opens the tables,
 * repairs a change it was killed in the middle of, and resyncs with mark_all/add/sweep while
 * the old routes keep forwarding. Not thread-safe: one thread writes and looks up. */
#ifndef ROUTER_FIB_H
#define ROUTER_FIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "pl_fib.h"

struct rte_lpm;
struct rte_lpm6;

/* Process-local handles on the shared tables. */
struct router_fib {
	struct rte_lpm *lpm4;
	struct rte_lpm6 *lpm6;
	struct pl_adj_table *adj;
	struct pl_route_table *routes;
	uint32_t max_routes; /* per family: the capacity the tables were created with */
	bool created; /* this open created the tables (no earlier router) */
	bool rebuilt6; /* this process rebuilt the IPv6 LPM from the registry */
	bool stale6; /* the IPv6 LPM is another process's: lookups only, rebuilt at the first
		      * IPv6 change */
};

/* Finds the shared tables by name, or creates them with room for max_routes routes per family
 * (1..PL_FIB_MAX_ROUTES; existing tables keep the capacity they were created with). Repairs a
 * change interrupted by a crash. The IPv6 LPM another process created (its rule hash holds a
 * pointer into that process's code) serves lookups as it is and is rebuilt from the registry at
 * the first IPv6 change (stale6), or at once when a change was left half-done. Needs the EAL.
 * 0 or -errno. */
int router_fib_open(struct router_fib *f, uint32_t max_routes);
/* Forgets the handles; the tables stay in shared memory. */
void router_fib_close(struct router_fib *f);
/* Frees the shared tables themselves (tests, full reset). 0 or -errno. */
int router_fib_destroy_tables(struct router_fib *f);

/* Adds or replaces family/prefix/len (host bits are ignored) pointing to an adjacency identical
 * to *adj (shared, reference counted; refs in *adj is ignored). Marks the route touched for the
 * current sweep. 0; -EINVAL (family, length, adjacency kind or tx_if); -ENOSPC (routes of that
 * family, adjacencies or LPM groups exhausted: nothing changed). */
int router_fib_add(struct router_fib *f, int family, const uint8_t *prefix, uint8_t len,
	const struct pl_adj *adj);
/* 0, -ENOENT, -EINVAL. */
int router_fib_del(struct router_fib *f, int family, const uint8_t *prefix, uint8_t len);

/* Longest-prefix match. 0 and *adj set, or -ENOENT (no route, not even a default). */
int router_fib_lookup4(const struct router_fib *f, uint32_t dst_be, uint32_t *adj);
int router_fib_lookup6(const struct router_fib *f, const uint8_t dst[16], uint32_t *adj);
/* n lookups; adj[i] is PL_ADJ_INVALID where there is no route. Returns the number found. */
unsigned int router_fib_lookup4_bulk(
	const struct router_fib *f, const uint32_t *dst_be, uint32_t *adj, unsigned int n);

/* The adjacency at idx (borrowed), or NULL if idx is not an adjacency in use. */
const struct pl_adj *router_fib_adj(const struct router_fib *f, uint32_t idx);
/* Routes installed (family AF_INET or AF_INET6, 0 for both). */
uint32_t router_fib_count(const struct router_fib *f, int family);

/* Resync after a restart: mark_all, add every route the control plane asserts, sweep. sweep
 * deletes every route not added since mark_all and returns how many (or -errno). */
void router_fib_mark_all(struct router_fib *f);
int router_fib_sweep(struct router_fib *f);

struct router_fib_entry {
	int family;
	uint8_t prefix[16];
	uint8_t len;
	uint32_t adj_index;
	const struct pl_adj *adj;
};

/* Returns 0 to go on, or a negative errno to stop the walk with. */
typedef int router_fib_walk_fn(const struct router_fib_entry *e, void *arg);
/* Calls fn for every route (family 0: both) in registry order. Returns the number of routes
 * visited or the error fn stopped with. */
int router_fib_walk(const struct router_fib *f, int family, router_fib_walk_fn *fn, void *arg);
/* fib/show: a new JSON array (caller owns it) of {prefix, kind, tx_if, nh, mtu, adj, refs},
 * IPv4 first, sorted by prefix; NULL with errno on allocation failure. */
struct json_object *router_fib_dump(const struct router_fib *f, int family);
/* "drop", "local", "pod", "glean", "via", "none", "?". */
const char *router_fib_kind_name(unsigned int kind);
/* Formats "a.b.c.d/len" or "x::y/len" into buf; returns buf. */
char *router_fib_prefix_str(int family, const uint8_t *prefix, uint8_t len, char *buf, size_t size);

#endif
