/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's neighbour table (ARP and IPv6 ND results for the uplink): a fixed-size
 * open-addressing table keyed by address, with aging. Packets waiting for a resolution are held
 * per entry, bounded by neighbor.pending_max over the whole table; past that they are dropped
 * and counted. The table is process-local: after a restart io-worker simply resolves again.
 *
 * Hardening (what a neighbour on the link can and cannot make it believe):
 * - Only output creates entries: an entry exists because router sent a packet to that next hop
 *   on the uplink and io-worker asked for it. Nothing received creates one, so a flood of
 *   replies, announcements or requests cannot fill the table or plant an address.
 * - An INCOMPLETE entry (we asked, broadcast) takes the first answer: an ARP reply to us or a
 *   solicited NA, or a request/solicitation for our address from that neighbour (it proves the
 *   same thing). Unsolicited announcements (gratuitous ARP, NA without the S flag) do not.
 * - A REACHABLE entry's MAC never changes in place. An answer or announcement with another MAC
 *   is refused; it only makes io-worker verify the entry at once: unicast probes to the MAC it
 *   has (NEIGH_UCAST_PROBES, one per NEIGH_PROBE_INTERVAL_MS). If the neighbour answers, nothing
 *   changed; if not (a real failover: the address moved to another MAC), the entry falls back
 *   to INCOMPLETE and the next broadcast request learns the new MAC — a failover costs about
 *   NEIGH_UCAST_PROBES intervals instead of being instant, and cache poisoning needs the real
 *   neighbour silenced. An entry unconfirmed for neighbor.reachable_s is verified the same way
 *   when next used. What cannot be stopped here: an attacker on the link who answers our
 *   broadcast requests faster than the real neighbour (that takes port security or SEND).
 * - Bounded: at most max_entries. When full, a new entry may take the place of an unused one
 *   (an INCOMPLETE entry whose first request went unanswered, or a REACHABLE one not used for
 *   reachable_s) found among the next NEIGH_EVICT_SCAN slots of a rotating cursor, never of an
 *   entry in use (used within reachable_s, or holding packets); otherwise it is refused. */
#ifndef IOWORKER_NEIGH_H
#define IOWORKER_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define NEIGH_PENDING_PER_ENTRY 16
#define NEIGH_PROBE_INTERVAL_MS 1000
#define NEIGH_UCAST_PROBES 3
#define NEIGH_EVICT_SCAN 64

enum neigh_state {
	NEIGH_FREE = 0,
	NEIGH_INCOMPLETE, /* resolution sent, no answer yet */
	NEIGH_REACHABLE,
};

struct neigh_entry {
	uint8_t state;
	uint8_t family;
	uint8_t probes; /* REACHABLE: unicast probes sent since it last answered (0: none) */
	uint8_t addr[16];
	uint8_t mac[6];
	uint64_t confirmed_ms; /* last answer (INCOMPLETE: when created) */
	uint64_t probed_ms; /* last request sent */
	uint64_t used_ms; /* last packet sent to it or held for it */
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
	uint32_t evict_cursor;
	uint64_t reachable_ms;
	uint64_t evicted; /* entries replaced by new ones since the caller last took the count */
};

/* What a received ARP/ND message says about its sender (or NA target). */
enum neigh_msg {
	NEIGH_MSG_ANSWER, /* answers us: ARP reply to a node address, NA with the S flag */
	NEIGH_MSG_REQUEST, /* asks us: ARP request or NS for a node address (the asker's MAC) */
	NEIGH_MSG_ANNOUNCE, /* tells everyone: gratuitous ARP, unsolicited NA, request for others */
};

/* What neigh_offer made of it. */
enum neigh_verdict {
	NEIGH_LEARNED, /* an INCOMPLETE entry resolved: send what waited for it */
	NEIGH_CONFIRMED, /* the same MAC answered our probe */
	NEIGH_IGNORED, /* nothing new (the MAC we have, not an answer to a probe) */
	NEIGH_REFUSED_UNSOLICITED, /* not an answer to a request of ours */
	NEIGH_REFUSED_MAC_CHANGE, /* another MAC for a REACHABLE entry: refused, verify it */
};

/* What output should send for an entry. */
enum neigh_probe {
	NEIGH_PROBE_NONE,
	NEIGH_PROBE_BCAST, /* a broadcast ARP request / multicast NS: resolve */
	NEIGH_PROBE_UCAST, /* a unicast one to the entry's MAC: verify */
};

int neigh_init(
	struct neigh_table *t, uint32_t max_entries, uint32_t pending_max, uint32_t reachable_s);
void neigh_fini(struct neigh_table *t, struct rte_mbuf **freed, unsigned int *n_freed,
	unsigned int max_freed);
struct neigh_entry *neigh_lookup(struct neigh_table *t, uint8_t family, const uint8_t *addr);
/* Output: finds or creates (INCOMPLETE) the entry of a next hop and marks it used. NULL when
 * the table is full of entries in use. */
struct neigh_entry *neigh_get(
	struct neigh_table *t, uint8_t family, const uint8_t *addr, uint64_t now_ms);
/* A received message about e's address; mac NULL when it carried none (an NA may not).
 * Never creates an entry. */
enum neigh_verdict neigh_offer(struct neigh_table *t, struct neigh_entry *e, const uint8_t *mac,
	enum neigh_msg msg, uint64_t now_ms);
/* After NEIGH_REFUSED_MAC_CHANGE: whether to send a unicast probe to e's MAC now (starts the
 * verification unless one runs; records the probe when it says yes). */
bool neigh_verify(struct neigh_table *t, struct neigh_entry *e, uint64_t now_ms);
/* Holds m until the entry resolves; false if the bounds say no (the caller drops it). */
bool neigh_hold(struct neigh_table *t, struct neigh_entry *e, struct rte_mbuf *m);
/* Output: which request to send for e now, if any; records it. A REACHABLE entry whose
 * unicast probes all went unanswered becomes INCOMPLETE here (and gets a broadcast). */
enum neigh_probe neigh_should_probe(struct neigh_table *t, struct neigh_entry *e, uint64_t now_ms);
/* Removes INCOMPLETE entries unanswered for 3 probe intervals and entries unconfirmed for
 * 2 x reachable; their held packets go to `dropped`. Fails unanswered verifications. */
unsigned int neigh_age(struct neigh_table *t, uint64_t now_ms, struct rte_mbuf **dropped,
	unsigned int max_dropped);
/* "incomplete", "reachable", "stale" (unconfirmed for reachable_s) or "probe" (verifying). */
const char *neigh_state_name(
	const struct neigh_table *t, const struct neigh_entry *e, uint64_t now_ms);

#endif
