/* SPDX-License-Identifier: Apache-2.0 */
/* The DPDK half of the shared-memory contract (like client_server_mp's common.h): names of the
 * mbuf pool, the pipeline rings and the control memzone; the per-packet metadata; packet
 * ownership tags; and EAL start-up for the primary (supervisor) and the secondaries.
 *
 * Rings: one single-producer/single-consumer ring per pipeline edge, plus the reclaim ring
 * (supervisor -> io-worker). The pool uses the ring_sp_sc handler with no per-lcore cache:
 * io-worker is its only user, and with no cache a dead io-worker leaves no packets behind in a
 * cache that the pool's ring does not know of.
 *
 * Ownership: a stage takes packets with the ring peek API: dequeue_start, write its owner tag
 * in each packet, dequeue_finish. So a packet is always either in a ring's live region or
 * tagged with the one process that holds it; the supervisor reclaims packets tagged with a dead
 * process that are in no ring. */
#ifndef PL_DP_H
#define PL_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_ring_peek.h>

#include "pl_config.h"
#include "pl_counters.h"
#include "pl_shm.h"

#define PL_DP_POOL_NAME "pl_pool"
#define PL_DP_BIG_POOL_NAME "pl_pool_big"
#define PL_DP_MZ_NAME "pl_dp"
#define PL_DP_META_NAME "podlane_pkt_meta"
#define PL_DP_MAGIC 0x706c6470U /* "pldp" */
#define PL_DP_VERSION 4
#define PL_DP_MBUF_DATA_SIZE RTE_MBUF_DEFAULT_BUF_SIZE
/* Big buffers: the largest an mbuf's 16-bit buf_len allows. With the headroom that leaves
 * 65,407 bytes of frame, which holds any super-packet a Linux TCP stack builds (its GSO size
 * stays below 64 KB minus its header reserve); larger ones are counted as rx_oversize. */
#define PL_DP_BIG_DATA_SIZE UINT16_MAX

enum pl_ring_id {
	PL_RING_IO_TO_NATLB,
	PL_RING_NATLB_TO_POLICY,
	PL_RING_POLICY_TO_ROUTER,
	PL_RING_ROUTER_TO_IO,
	PL_RING_RECLAIM,
	PL_RING_MAX
};

struct pl_ring_def {
	const char *name;
	enum pl_svc_id producer;
	enum pl_svc_id consumer;
};

extern const struct pl_ring_def pl_ring_defs[PL_RING_MAX];

enum pl_verdict {
	PL_VERDICT_PASS = 0,
	PL_VERDICT_DROP = 1,
};

/* Owner tags: the service id of the holder. */
#define PL_OWNER_NONE 0xff

/* Per-packet metadata in an mbuf dynamic field (28 bytes, in the mbuf's second cache line). */
struct pl_pkt_meta {
	uint8_t owner; /* enum pl_svc_id of the process holding it */
	uint8_t verdict; /* enum pl_verdict */
	uint8_t drop_reason; /* enum pl_drop_reason, when verdict is DROP */
	uint8_t flags; /* PL_META_F_* */
	uint16_t rx_if; /* interface index it came in on */
	uint16_t tx_if; /* interface index to send it out of */
	uint32_t nh_index; /* next-hop (adjacency) index */
	uint32_t session_id; /* conntrack session, 0 = none */
	/* What io-worker's parse found at ingress (pl_parse.h): the stages' view of the headers. */
	uint16_t l4_off; /* frame offset of the transport header */
	uint8_t l4_proto; /* its IP protocol number */
	uint8_t pflags; /* PL_PARSE_* */
	/* The flow's ports as conntrack keys them (pl_parse.h PL_PARSE_KEY_PORTS), network
	 * order; a later fragment gets its first fragment's from io-worker's fragment table. */
	uint16_t ports[2];
	/* When io-worker handed it to the pipeline: the low 32 bits of pl_now_ms(), never 0 (0:
	 * not stamped). At the pipeline's end a packet older than pipeline.max_sojourn_ms is
	 * dropped as stale (pl_dp_stale). */
	uint32_t enq_ms;
};

/* The stamp for enq_ms. */
static inline uint32_t pl_dp_stamp(uint64_t now_ms)
{
	uint32_t t = (uint32_t)now_ms;
	return t ? t : 1;
}

/* A stamped packet that spent more than max_ms (0: no limit) in the pipeline: one that waited
 * in a ring through a stage's restart or hang, delivered too late to be of use (a datagram of
 * a real-time stream, a TCP segment the sender has retransmitted). */
static inline bool pl_dp_stale(uint32_t enq_ms, uint64_t now_ms, uint32_t max_ms)
{
	/* Signed: a clock read a little before the stamp's is not "49 days late". */
	return max_ms && enq_ms && (int32_t)((uint32_t)now_ms - enq_ms) > (int32_t)max_ms;
}

#define PL_META_F_TRACE 0x01
#define PL_META_F_REPLY 0x02 /* nat-lb: the packet is in its session's reply direction */
/* Synthetic port (synth/start route=1): router routes the packet like any other (FIB lookup,
 * adjacency); without it a synthetic packet is only checked and TTL-decremented. Either way
 * io-worker's synthetic sink counts and frees it: synthetic traffic never leaves the node. */
#define PL_META_F_SYNTH_ROUTE 0x04
/* io-worker: a frame it made itself (ARP/ND answer or request), counted as L2 work, not as a
 * transmitted packet of the pipeline. */
#define PL_META_F_L2 0x08
/* nat-lb: an ICMP error about session_id's flow (policy applies the flow's verdict; router
 * caches no route for it). */
#define PL_META_F_RELATED 0x10

/* io-worker's synthetic port settings. io-worker is the only writer; they live in shared
 * memory so that a restarted io-worker resumes the traffic it was generating. */
struct pl_synth_state {
	uint32_t active;
	uint32_t backpressure; /* 1: generate only into free ring space (lossless source) */
	uint64_t count; /* packets to generate, 0 = until stopped */
	uint64_t generated; /* so far */
	uint64_t pps; /* 0 = as fast as possible */
	uint32_t ttl1_every; /* every Nth packet has TTL 1 (0 = never) */
	uint32_t bad_csum_every; /* every Nth packet (not already TTL 1) has a bad checksum */
	uint32_t flows; /* distinct UDP source ports */
	uint32_t frame_size; /* bytes, without FCS */
	uint32_t dst_ip; /* destination address, host order (0: 198.19.0.1) */
	uint16_t dst_port; /* destination UDP port (0: 9) */
	uint8_t route; /* 1: frames carry PL_META_F_SYNTH_ROUTE */
	uint8_t fast; /* 1: frames are offered to io-worker's fast path first, as a port's are */
	uint64_t sunk; /* synthetic packets back at io-worker (sent to the sink or dropped) */
	uint64_t first_tsc; /* io-worker's TSC when it began generating (before the first alloc) */
	uint64_t last_sink_tsc; /* io-worker's TSC after the last synthetic packet was freed */
};

/* The control memzone, written by the supervisor before any secondary starts. */
struct pl_dp_shared {
	uint32_t magic;
	uint32_t version;
	int32_t meta_offset; /* dynfield offset of struct pl_pkt_meta */
	uint32_t n_mbufs;
	uint32_t n_big_mbufs;
	uint32_t pad;
	uint64_t incarnation; /* supervisor's */
	struct pl_synth_state synth __attribute__((aligned(64)));
};

/* Two pools with the same rules (ring_sp_sc, no cache, io-worker their only user): `pool` of
 * 2 KB buffers for ordinary frames and `big_pool` of 64 KB buffers for super-packets, so a
 * super-packet is one contiguous buffer and every stage reads and rewrites its headers as it
 * does a small frame's. rte_pktmbuf_free returns a buffer to the pool it came from. */
struct pl_dp {
	struct rte_mempool *pool;
	struct rte_mempool *big_pool;
	struct rte_ring *rings[PL_RING_MAX];
	struct pl_dp_shared *shared;
};

extern int pl_dp_meta_offset;

static inline struct pl_pkt_meta *pl_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, pl_dp_meta_offset, struct pl_pkt_meta *);
}

/* Takes up to n packets from r, tagging each with `owner` before the ring lets go of them. */
static inline unsigned int pl_ring_take(
	struct rte_ring *r, struct rte_mbuf **pkts, unsigned int n, uint8_t owner)
{
	unsigned int k = rte_ring_dequeue_burst_start(r, (void **)pkts, n, NULL);
	for (unsigned int i = 0; i < k; i++)
		pl_meta(pkts[i])->owner = owner;
	rte_ring_dequeue_finish(r, k);
	return k;
}

/* Starts the EAL for service `id` (primary for the supervisor). Its lcore id is
 * dpdk.lcore_base + id + slot * PL_SVC_MAX: a service's active process and its warm standby
 * use the two slots, never the same id. 0 or -errno. */
int pl_dp_eal_init(
	const struct pl_config *cfg, enum pl_svc_id id, unsigned int slot, const char *prog);
/* Registers the per-packet metadata dynfield and sets pl_dp_meta_offset (the primary does it in
 * pl_dp_create; single-process benchmarks and tests call it themselves). The offset, or
 * -rte_errno. */
int pl_dp_meta_register(void);
/* Primary: creates the pool, every ring and the control memzone. 0 or -errno. */
int pl_dp_create(struct pl_dp *dp, const struct pl_config *cfg, uint64_t incarnation);
/* Secondary: finds them by name. 0 or -errno. */
int pl_dp_attach(struct pl_dp *dp);
/* A pool's backing ring (ring_sp_sc handler). */
static inline struct rte_ring *pl_dp_pool_ring(const struct rte_mempool *mp)
{
	return (struct rte_ring *)mp->pool_data;
}
/* Finds memzone `name` or reserves it with `size` bytes (*created then true). NULL with rte_errno
 * set; EPROTO when an existing one is smaller than size (an older layout). */
const struct rte_memzone *pl_dp_memzone_get(const char *name, size_t size, bool *created);

/* Frees packets: io-worker only. */
static inline void pl_dp_free(struct pl_dp *dp, struct rte_mbuf **pkts, unsigned int n)
{
	(void)dp;
	rte_pktmbuf_free_bulk(pkts, n);
}

#endif
