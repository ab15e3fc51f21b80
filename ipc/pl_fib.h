/* SPDX-License-Identifier: Apache-2.0 */
/* The FIB contract. router is the single writer of the IPv4 and IPv6 longest-prefix-match
 * tables (rte_lpm / rte_lpm6, found by name after a restart) and of the adjacency table, a
 * memzone of fixed-size entries that LPM results index. io-worker reads adjacencies to finish
 * what router decided: which interface, and for the uplink which next hop to resolve (ARP/ND).
 * Interfaces are numbered: 0 the synthetic port, 1 the uplink, 2 the host tap, pods from 16. */
#ifndef PL_FIB_H
#define PL_FIB_H

#include <stdint.h>

#define PL_FIB4_NAME "pl_fib4"
#define PL_FIB6_NAME "pl_fib6"
#define PL_ADJ_MZ_NAME "pl_adj"
#define PL_FIB_MAX_ROUTES 16384 /* per family */
#define PL_ADJ_MAX 8192

#define PL_IF_SYNTH 0
#define PL_IF_UPLINK 1
#define PL_IF_HOST 2
#define PL_IF_POD_BASE 16
#define PL_IF_MAX 4096

enum pl_adj_kind {
	PL_ADJ_NONE = 0, /* unused slot */
	PL_ADJ_DROP, /* blackhole */
	PL_ADJ_LOCAL, /* a node address: deliver to the host tap */
	PL_ADJ_POD, /* a local pod: its tun */
	PL_ADJ_GLEAN, /* a connected subnet on tx_if: resolve the destination itself */
	PL_ADJ_VIA, /* through next hop `nh` on tx_if: resolve nh */
};

struct pl_adj {
	uint8_t kind; /* enum pl_adj_kind */
	uint8_t family; /* AF_INET / AF_INET6 */
	uint16_t tx_if;
	uint32_t mtu; /* of tx_if */
	uint8_t nh[16]; /* PL_ADJ_VIA: next hop address (IPv4 in the first 4 bytes) */
	uint32_t refs; /* routes using it (router's bookkeeping) */
	uint32_t pad_;
};

/* A slot's fields are written before its kind (release) and stay unchanged while it is in use;
 * freed slots are reused last, so a packet still carrying a freed index rarely meets a new one. */
struct pl_adj_table {
	uint32_t magic;
	uint32_t version;
	volatile uint64_t generation; /* bumped on every change */
	struct pl_adj adj[PL_ADJ_MAX];
};

#define PL_ADJ_MAGIC 0x706c6164U /* "plad" */
#define PL_ADJ_VERSION 1
/* Slot 0 of the adjacency table is never used: an adjacency index of 0 means "none". */
#define PL_ADJ_INVALID 0

/* The route registry: what router has installed, so that a restarted router knows its routes
 * (for mark-and-sweep against the control plane, and to repair or rebuild an LPM table). Only
 * router reads or writes it. Fixed size, indices instead of pointers; the hash chains, the free
 * list and the adjacency reference counts are rebuilt from the route slots at every open. */
#define PL_ROUTES_MZ_NAME "pl_routes"
#define PL_ROUTES_MAGIC 0x706c7274U /* "plrt" */
#define PL_ROUTES_VERSION 1
#define PL_ROUTES_SLOTS (2 * PL_FIB_MAX_ROUTES) /* both families */
#define PL_ROUTES_BUCKETS PL_ROUTES_SLOTS /* power of two */
#define PL_ADJ_BUCKETS 4096 /* power of two */
#define PL_ROUTES_NIL UINT32_MAX /* end of a chain */

struct pl_route {
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t len; /* prefix length; 0 is the default route (kept out of the LPM) */
	uint8_t in_use;
	uint8_t pad_;
	uint32_t adj; /* adjacency index */
	uint32_t mark; /* sweep epoch in which the route was last added ("touched") */
	uint32_t next; /* hash chain or free list: a slot index or PL_ROUTES_NIL */
	uint8_t prefix[16]; /* host bits cleared; IPv4 in the first 4 bytes */
};

enum pl_routes_op {
	PL_ROUTES_OP_NONE = 0,
	PL_ROUTES_OP_ADD, /* pending_slot holds the route as it must end up installed */
	PL_ROUTES_OP_DEL, /* pending_slot holds the route being removed */
};

struct pl_route_table {
	uint32_t magic;
	uint32_t version;
	uint32_t max_routes; /* per family, fixed when the tables are created */
	uint32_t epoch; /* mark-and-sweep: bumped by mark_all */
	uint32_t n_routes[2]; /* IPv4, IPv6 (default routes included) */
	uint32_t default_adj[2]; /* the /0 routes' adjacencies, PL_ADJ_INVALID if none */
	volatile uint32_t pending_op; /* enum pl_routes_op: intent log of the change in progress */
	uint32_t pending_slot;
	uint32_t lpm_complete[2]; /* the LPM holds every registry route of the family */
	uint64_t lpm6_owner; /* token of the process whose code the IPv6 LPM's hash points into */
	uint32_t adj_cursor; /* next adjacency slot to try: freed slots are reused last */
	uint32_t free_head; /* free route slots */
	uint32_t bucket[PL_ROUTES_BUCKETS];
	uint32_t adj_bucket[PL_ADJ_BUCKETS];
	uint32_t adj_next[PL_ADJ_MAX];
	struct pl_route route[PL_ROUTES_SLOTS];
};

/* The route cache (memzone "pl_rt_cache"): router's routing decision per conntrack session and
 * direction, for io-worker's fast path (ioworker_fast.c). router is its only writer: each packet
 * it routes that carries a session records the route it took, stamped with the adjacency
 * table's generation; io-worker uses an entry only while the generation is unchanged (any route
 * change bumps it) and the packet's destination, after NAT, and its coming from the host tap or
 * not are the ones recorded (a route is a function of those alone). Entries are seqlocked (seq
 * odd while router writes one); a reader copies and re-checks. */
#define PL_RTC_MZ_NAME "pl_rt_cache"
#define PL_RTC_MAGIC 0x706c7263U /* "plrc" */
#define PL_RTC_VERSION 1

struct pl_rtc_entry {
	uint32_t seq;
	uint8_t family; /* 0: empty */
	uint8_t from_host; /* the packet came from the host tap (no TTL change) */
	uint16_t tx_if;
	uint32_t nh_index; /* adjacency */
	uint32_t pad_;
	uint64_t generation; /* pl_adj_table.generation it was decided under */
	uint8_t dst[16];
};

struct pl_rtc {
	uint32_t magic;
	uint32_t version;
	uint32_t n_entries; /* 2 per session slot: [2 * index + direction] */
	uint32_t pad_;
	struct pl_rtc_entry e[];
};

#endif
