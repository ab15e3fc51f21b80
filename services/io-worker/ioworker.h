/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's state, shared by its modules: main loop (ioworker_main.c), ports
 * (ioworker_port.c), L2 — ARP, ND, MAC rewrite, neighbour resolution — (ioworker_l2.c), the
 * control-plane view it gets from the state bus (ioworker_ctl.c) and the synthetic port. */
#ifndef IOWORKER_H
#define IOWORKER_H

#include "ioworker_ingress.h"
#include "ioworker_neigh.h"
#include "ioworker_port.h"
#include "ioworker_synth.h"
#include "pl_bus.h"
#include "pl_ct.h"
#include "pl_dp.h"
#include "pl_fib.h"
#include "pl_objects.h"
#include "pl_service.h"

#define IOW_MAX_BURST 256

/* The fast path's view of the stages' tables (ioworker_fast.c); all read-only. */
struct iow_fast {
	struct pl_ct ct; /* nat-lb's sessions */
	const struct pol_table *pol; /* policy's compiled table (its serial) */
	const struct pol_sess *sess; /* policy's verdict per session */
	const struct pl_rtc *rtc; /* router's route per session and direction */
	uint64_t *ticket; /* per session: number of its last packet handed to the pipeline */
	uint64_t *flow_ticket; /* the same per flow-key hash, for packets without a session yet */
	uint32_t n_ticket;
	uint64_t handed; /* packets handed to the pipeline */
	uint64_t returned; /* packets that came back from it (sink, reclaim) */
	/* Packets ready for the fast path that wait for their flow's earlier packets to leave
	 * the pipeline (FIFO, IOW_FAST_HOLD at most), and per session how many are held. */
	struct rte_mbuf **hold;
	uint32_t *hold_sess;
	uint32_t hold_head, n_hold;
	uint16_t *held;
};

#define IOW_FAST_HOLD 1024
#define IOW_FLOW_TICKETS 65536 /* power of two */

/* What orders a packet handed to the pipeline against its flow's later ones: its session (or
 * PL_CT_NIL) and its flow key's hash (0: none). */
struct iow_ticket {
	uint32_t sess;
	uint32_t flow;
};

struct ioworker {
	struct pl_service s;
	struct pl_dp dp;
	struct ioworker_synth synth;
	struct port_bufs bufs; /* what ports receive into and segment into */
	struct iow_fast fast;
	struct iow_ingress in; /* parse, anti-spoofing, fragments (ioworker_ingress.h) */
	uint64_t local[PL_IOW_MAX];

	/* A warm standby: follows the state bus (which ports are wanted) but opens no port
	 * until it takes over (ioworker_ctl_open_wanted). */
	bool standby;
	int fdstore; /* connection to the supervisor's port descriptor store, -1 if none */
	struct pl_bus_consumer *sup_bus; /* interfaces and routes from the supervisor */
	struct pl_bus_consumer *cni_bus; /* pods from cni-server */
	struct port *ports[PL_IF_MAX];
	uint16_t port_list[PL_IF_MAX]; /* indexes of open ports */
	unsigned int n_ports;
	int epfd; /* every fd port; the uplink ring is polled directly */
	struct neigh_table neigh;
	const struct pl_adj_table *adj; /* router's, once it exists */
	struct pl_obj_iface uplink; /* role uplink; index 0 when there is none */
	struct pl_obj_iface host; /* role host */
	uint8_t dp_mac[6]; /* the dataplane's MAC on the host tap side */
	uint64_t l2_local; /* frames consumed by L2 (ARP, ND) */
	uint64_t not_for_us;
	uint64_t neigh_drops;
};

/* ioworker_ctl.c */
int ioworker_ctl_init(struct ioworker *w);
void ioworker_ctl_fini(struct ioworker *w);
int ioworker_ctl_poll_items(struct ioworker *w, zmq_pollitem_t *items, int max);
void ioworker_ctl_handle(struct ioworker *w, uint64_t now_ms);
/* Opens every wanted port not open yet (after a standby's take-over, and for retries); true
 * if all are open. */
bool ioworker_ctl_open_wanted(struct ioworker *w);
/* Takes the port descriptors the supervisor kept from a predecessor (pl_fdstore.h), before
 * any port opens; ports of the same devices adopt them. */
void ioworker_ctl_fdstore_fetch(struct ioworker *w);
int ioworker_ctl_register(struct ioworker *w);
/* The interface or pod the control plane wants at idx (open or not), or NULL. */
const struct pl_obj_iface *ioworker_ctl_wanted(uint16_t idx);

/* ioworker_fast.c */
struct pol_table;
struct pol_sess;
/* Looks for the stages' tables it does not have yet (cheap; call from housekeeping). */
void ioworker_fast_attach(struct ioworker *w);
/* True when every table is there and the fast path is configured on. */
bool ioworker_fast_ready(const struct ioworker *w);
/* Offers m (received, L2 done) to the fast path. IOW_FAST_SENT: forwarded on the stages' cached
 * decisions; IOW_FAST_HELD: kept until its flow's earlier packets have left the pipeline;
 * IOW_FAST_SLOW: untouched, for the pipeline, with *t what orders it against its flow. */
#define IOW_FAST_SLOW 0
#define IOW_FAST_SENT 1
#define IOW_FAST_HELD 2
int ioworker_fast_forward(
	struct ioworker *w, struct rte_mbuf *m, uint64_t now_ms, struct iow_ticket *t);
/* Sends (fast, or into the pipeline if a cache changed meanwhile) the held packets whose
 * flows' earlier packets have come back. Returns how many left the hold. */
unsigned int ioworker_fast_release(struct ioworker *w, uint64_t now_ms);
void ioworker_fast_fini(struct ioworker *w);

/* ioworker_main.c: hands n packets to the pipeline (t[i]: what orders packet i; t may be NULL);
 * what does not fit is dropped and counted. */
void ioworker_pipeline_enqueue(
	struct ioworker *w, struct rte_mbuf **pkts, unsigned int n, const struct iow_ticket *t);

/* ioworker_l2.c */
/* Looks at a received frame: handles ARP/ND locally (and frees the frame) or returns false
 * when the frame goes into the pipeline. */
bool ioworker_l2_input(struct ioworker *w, struct port *p, struct rte_mbuf *m, uint64_t now_ms);
/* Sends a frame router decided on out of its tx interface (MAC rewrite, neighbour resolution).
 * Takes ownership: the frame is transmitted and freed, held for resolution, or freed and
 * counted as a drop. */
void ioworker_l2_output(struct ioworker *w, struct rte_mbuf *m, uint64_t now_ms);
/* The end of the pipeline: each of n packets router handed back is sent out (L2 output) or,
 * marked dropped, counted by its drop reason and freed. */
void ioworker_pipeline_output(
	struct ioworker *w, struct rte_mbuf **pkts, unsigned int n, uint64_t now_ms);
/* Ages the neighbour table. */
void ioworker_l2_housekeeping(struct ioworker *w, uint64_t now_ms);
/* Transmits what output queued on port p, or on every port, in one burst each; counts and
 * frees. The main loop flushes after every round of work. */
void ioworker_port_flush(struct ioworker *w, struct port *p);
void ioworker_ports_flush(struct ioworker *w);

#endif
