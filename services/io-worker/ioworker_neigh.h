/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's neighbour table (ARP and IPv6 ND results for the uplink): a fixed-size
 * open-addressing table keyed by address, with aging. An entry not confirmed for
 * neighbor.reachable_s is still used but resolved again; one unconfirmed for twice that is
 * dropped. Packets waiting for a resolution are held per entry, bounded by neighbor.pending_max
 * over the whole table; past that they are dropped and counted. The table is process-local:
 * after a restart io-worker simply resolves again. */
#ifndef IOWORKER_NEIGH_H
#define IOWORKER_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define NEIGH_PENDING_PER_ENTRY 16

enum neigh_state {
	NEIGH_FREE = 0,
	NEIGH_INCOMPLETE, /* resolution sent, no answer yet */
	NEIGH_REACHABLE,
};

struct neigh_entry {
	uint8_t state;
	uint8_t family;
	uint8_t addr[16];
	uint8_t mac[6];
	uint64_t confirmed_ms; /* last answer */
	uint64_t probed_ms; /* last request sent */
	uint16_t n_pending;
	struct rte_mbuf *pending[NEIGH_PENDING_PER_ENTRY];
};

struct neigh_table {
	struct neigh_entry *e;
	uint32_t size; /* power of two, 2 x max entries */
	uint32_t max_entries;
	uint32_t n_entries;
	uint32_t n_pending;
	uint32_t pending_max;
	uint64_t reachable_ms;
};

int neigh_init(
	struct neigh_table *t, uint32_t max_entries, uint32_t pending_max, uint32_t reachable_s);
void neigh_fini(struct neigh_table *t, struct rte_mbuf **freed, unsigned int *n_freed,
	unsigned int max_freed);
struct neigh_entry *neigh_lookup(struct neigh_table *t, uint8_t family, const uint8_t *addr);
/* Finds or creates (INCOMPLETE) an entry; NULL when the table is full. */
struct neigh_entry *neigh_get(
	struct neigh_table *t, uint8_t family, const uint8_t *addr, uint64_t now_ms);
/* An answer (or a request from the address itself): record it. Returns the entry. */
struct neigh_entry *neigh_learn(struct neigh_table *t, uint8_t family, const uint8_t *addr,
	const uint8_t mac[6], uint64_t now_ms);
/* Holds m until the entry resolves; false if the bounds say no (the caller drops it). */
bool neigh_hold(struct neigh_table *t, struct neigh_entry *e, struct rte_mbuf *m);
/* Whether to send a (new) resolution request for e now; records the probe when it says yes. */
bool neigh_should_probe(struct neigh_table *t, struct neigh_entry *e, uint64_t now_ms);
/* Removes entries unconfirmed for 2 x reachable; their held packets go to `dropped`. */
unsigned int neigh_age(struct neigh_table *t, uint64_t now_ms, struct rte_mbuf **dropped,
	unsigned int max_dropped);

#endif
