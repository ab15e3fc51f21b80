/* SPDX-License-Identifier: Apache-2.0 */
/* What io-worker checks of every frame before it enters the node (ioworker_ingress.c):
 *   1. the ingress parse (ipc/pl_parse.h): malformed frames are refused by reason;
 *   2. anti-spoofing: a pod's packet must come from one of the pod's addresses or from a
 *      prefix its object allows (allow_src); a link-local IPv6 source only to a link-local or
 *      multicast destination (neighbour discovery, which never leaves the link). On the uplink a
 *      source that is one of this node's addresses or its pods' is refused. Loopback and
 *      multicast sources are refused on both. The host tap is the host: not checked.
 *   3. fragments: io-worker remembers, per datagram (family, source, destination, id,
 *      protocol), the conntrack ports and transport protocol of its first fragment and stamps
 *      them on its later fragments (pl_pkt_meta.ports, l4_proto), so that nat-lb and policy
 *      give every fragment the verdict of its first one. A later fragment that arrives before its first is held
 *      (IOW_FRAG_HOLD at most, IOW_FRAG_HOLD_MS at most) and released behind it, or dropped
 *      when it does not come. A later fragment that overlaps the data of its first (RFC 1858 /
 *      3128: it could rewrite the transport header the verdict was made on) is dropped, and so
 *      are all later fragments of a datagram whose first fragment came twice with other ports.
 * Every refusal is counted (io-worker counters rx_*; drop reasons malformed, unsupported,
 * spoofed, fragment). */
#ifndef IOWORKER_INGRESS_H
#define IOWORKER_INGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "pl_objects.h"

#define IOW_FRAG_SETS 256 /* datagrams tracked: IOW_FRAG_SETS x IOW_FRAG_WAYS */
#define IOW_FRAG_WAYS 4
#define IOW_FRAG_HOLD 256 /* later fragments waiting for their first, at most */
#define IOW_FRAG_HOLD_MS 500
#define IOW_FRAG_TTL_MS 2000 /* a datagram is forgotten this long after its last fragment */

struct iow_frag_ent {
	uint8_t src[16], dst[16];
	uint32_t id;
	uint8_t family, proto;
	uint8_t state; /* IOW_FRAG_* */
	uint16_t ports[2];
	uint8_t l4_proto; /* the first fragment's transport (behind any extension headers) */
	uint32_t first_len; /* bytes of the fragmentable part its first fragment holds */
	uint32_t gen; /* changes when the slot is reused: held fragments carry it */
	uint64_t expires_ms;
};

struct iow_frag_held {
	struct rte_mbuf *m; /* NULL: slot free */
	uint32_t ent, gen, offset;
	uint64_t deadline_ms;
};

/* Addresses of this node and its pods (the uplink refuses them as sources): open addressing,
 * rebuilt when an interface or pod changes. */
struct iow_addrset {
	struct pl_prefix *slot; /* len 0: empty */
	uint32_t mask;
	uint32_t n;
};

struct iow_ingress {
	struct iow_frag_ent frag[IOW_FRAG_SETS * IOW_FRAG_WAYS];
	struct iow_frag_held held[IOW_FRAG_HOLD];
	uint32_t n_held;
	bool release; /* a first fragment came for a held one: look at the holds */
	uint64_t next_expiry_ms; /* the earliest hold deadline */
	struct iow_addrset local;
	bool local_dirty;
};

struct ioworker;
struct port;

/* Checks n received frames of port p (NULL: the synthetic port: parse only); frees and counts
 * what is refused, holds early later fragments. Compacts pkts; returns how many go on. */
unsigned int ioworker_admit(struct ioworker *w, const struct port *p, struct rte_mbuf **pkts,
	unsigned int n, uint64_t now_ms);
/* Held fragments whose first fragment has come (ports stamped, in arrival order), up to max;
 * drops and counts those that waited too long. Cheap when nothing is held. */
unsigned int ioworker_frag_release(
	struct ioworker *w, struct rte_mbuf **out, unsigned int max, uint64_t now_ms);
/* The node's and pods' addresses changed (ioworker_ctl.c): rebuilt before the next frame. */
void ioworker_ingress_local_changed(struct ioworker *w);
void ioworker_ingress_fini(struct ioworker *w);

#endif
