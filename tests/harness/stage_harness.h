/* SPDX-License-Identifier: Apache-2.0 */
/* The stage harness: the packet path of one node in one process, for table-driven tests and
 * fuzzing. The real code end to end, over real tables, with no rings and no other process:
 *   io-worker ingress (ioworker_l2_input: ARP/ND; ioworker_admit: parse, anti-spoofing,
 *   fragment table; ioworker_frag_release) -> natlb_stage -> policy_stage -> router_stage ->
 *   io-worker's pipeline output (ioworker_pipeline_output: drop counting, L2 output with MAC
 *   rewrite and neighbour resolution) -> the port's transmit burst (port_flush).
 * Tables are built the way the control sides build them: nat-lb's service table and policy's
 * compiled policy from Kubernetes objects (YAML, the datastore's parser), with the uplink's
 * addresses as node addresses; router's FIB from interface, pod and route objects
 * (router_ctl_rebuild); io-worker's view of its ports, uplink and host from the same objects.
 * Ports are not opened: each interface gets a port whose transmit captures the frames (what
 * a tun/tap/AF_PACKET port would be handed, Ethernet included) into the result.
 *
 * The EAL runs in-process without hugepages (--no-huge --no-shconf, own file prefix), so the
 * harness runs anywhere, under ASan too. One harness per process (the EAL, the shared tables
 * found by name, io-worker's control view are per process).
 *
 * Time: io-worker's ingress (fragment holds and expiry) and L2 output (neighbours) take the
 * harness's clock, which h_advance moves. nat-lb reads the monotonic clock itself
 * (pl_now_ms() per burst), so session expiry cannot be driven from here; the ICMP/reject rate
 * limiters read the TSC (h_set_icmp_rate sets them to none or plenty). */
#ifndef STAGE_HARNESS_H
#define STAGE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_counters.h"
#include "pl_fib.h"

#define H_MAX_OUT 8 /* frames captured per injection */
#define H_FRAME_MAX 2048 /* bytes kept of a captured frame */

/* An interface as the supervisor (uplink, host tap) or cni-server (pods) publishes it. */
struct h_iface {
	uint16_t index; /* PL_IF_UPLINK, PL_IF_HOST, PL_IF_POD_BASE + n */
	const char *mac; /* "02:00:00:00:00:01"; NULL: none */
	const char *addrs; /* "10.0.0.5/24,fd00::5/64" (pods: host prefixes) */
	const char *allow_src; /* pods: extra source prefixes, comma-separated; NULL: none */
	uint32_t mtu; /* 0: 1500 */
	bool no_port; /* routes point at it, but io-worker has no port open for it */
	bool tx_fails; /* its port refuses every frame (-EIO) */
};

/* A route of the uplink (supervisor's route objects), or a blackhole (FIB drop adjacency). */
struct h_route {
	const char *dst; /* "0.0.0.0/0" */
	const char *gw; /* NULL: connected (glean) */
	uint16_t if_index;
	bool blackhole;
};

struct h_setup {
	const char *config_yaml; /* podlane.yaml (NULL: defaults); node_name matters */
	const char *objects_yaml; /* Services, EndpointSlices, Namespaces, Pods, NetworkPolicies */
	const struct h_iface *ifaces;
	size_t n_ifaces;
	const struct h_route *routes;
	size_t n_routes;
	bool policy_unready; /* no policy compiled until h_policy_compile (fail closed) */
};

/* Where a packet ended. */
enum h_verdict {
	H_SENT, /* frames written to ports: out[] */
	H_DROPPED, /* freed and counted: drop_reason */
	H_HELD, /* kept: a later fragment waiting for its first, or a neighbour being resolved */
	H_L2, /* ARP/ND handled by io-worker (answers, if any, in out[]) */
};

struct h_frame {
	uint16_t tx_if;
	bool l2; /* io-worker's own ARP/ND frame */
	uint32_t len;
	uint8_t bytes[H_FRAME_MAX];
};

struct h_result {
	enum h_verdict verdict; /* of the injected packet */
	enum pl_drop_reason drop_reason;
	const char *dropped_by; /* "ingress", "nat-lb", "policy", "router", "output" */
	unsigned int n_out; /* every frame transmitted meanwhile (released fragments too) */
	struct h_frame out[H_MAX_OUT];
	/* Counter deltas of this injection, indexed by each service's enum. */
	uint64_t iow[PL_IOW_MAX];
	uint64_t natlb[PL_NATLB_MAX];
	uint64_t policy[PL_POLICY_MAX];
	uint64_t router[PL_ROUTER_MAX];
};

struct stage_harness;

/* Starts the EAL (first call only), builds everything. NULL with a message in err. */
struct stage_harness *h_new(const struct h_setup *s, char *err, size_t err_size);
void h_destroy(struct stage_harness **hp);

/* Runs one frame (Ethernet first; pod interfaces too, as their tun port hands it over) received
 * on interface rx_if through the packet path. *r is overwritten. 0, or -errno when the frame
 * could not be put in a buffer (too long, pool empty) or rx_if has no port. */
int h_inject(struct stage_harness *h, uint16_t rx_if, const uint8_t *frame, size_t len,
	struct h_result *r);
/* Moves the harness's clock on and does what io-worker's loop does with time: releases or
 * drops held fragments (their frames, drops and counters in *r, which may be NULL). */
void h_advance(struct stage_harness *h, uint64_t ms, struct h_result *r);
/* Compiles policy from the setup's objects (after policy_unready). 0 or -errno. */
int h_policy_compile(struct stage_harness *h);
/* Rate of nat-lb's rejects and router's ICMP errors: 0 none, else per second. */
void h_set_icmp_rate(struct stage_harness *h, uint32_t per_s);
/* Teaches io-worker that neighbour `addr` on the uplink is at `mac` (as an answer to its own
 * request would). 0 or -errno. */
int h_neigh_learn(struct stage_harness *h, const char *addr, const char *mac);
/* Removes every session (nat-lb's table). */
void h_flush_sessions(struct stage_harness *h);
/* Buffers out of the pools now (held fragments, packets waiting for a neighbour). */
unsigned int h_mbufs_in_use(const struct stage_harness *h);
/* Packets the harness holds on purpose: held fragments + packets waiting for a neighbour. */
unsigned int h_mbufs_held(const struct stage_harness *h);
/* The dataplane's MAC on the host side, and the uplink's, for building frames. */
void h_dp_mac(const struct stage_harness *h, uint8_t mac[6]);

const char *h_verdict_name(enum h_verdict v);
const char *h_drop_name(enum pl_drop_reason r);

#endif
