/* SPDX-License-Identifier: Apache-2.0 */
/* router's state, shared by its modules: the burst function (router_stage.c), the FIB
 * (router_fib.c), ICMP errors (router_icmp.c) and the control side that turns the state bus's
 * interfaces, routes and pods into FIB entries (router_ctl.c). */
#ifndef ROUTER_H
#define ROUTER_H

#include "pl_bus.h"
#include "pl_objects.h"
#include "pl_stage.h"
#include "router_fib.h"
#include "router_icmp.h"

#define ROUTER_MAX_ROUTES 1024

struct router {
	struct pl_service *s;
	struct router_fib fib;
	bool fib_open;
	struct pl_rtc *rtc; /* route cache for io-worker's fast path; NULL: not kept */
	struct pl_bus_consumer *sup_bus;
	struct pl_bus_consumer *cni_bus;
	struct pl_obj_iface *ifaces; /* [PL_IF_MAX], role 0 = none */
	struct pl_obj_route routes[ROUTER_MAX_ROUTES];
	bool route_valid[ROUTER_MAX_ROUTES];
	bool dirty; /* objects changed: rebuild the FIB */
	uint32_t src4; /* node address ICMP errors come from (network order) */
	uint8_t src6[16];
	bool have_src4, have_src6;
	struct router_icmp_rl icmp_rl;
	uint64_t fib_errors;
};

int router_ctl_init(void *ctx, struct pl_service *s, struct pl_dp *dp);
void router_ctl_fini(void *ctx);
void router_ctl_housekeeping(void *ctx, uint64_t now_ms);
int router_ctl_poll_items(void *ctx, zmq_pollitem_t *items, int max);
/* Makes the FIB match the objects in ifaces and routes (one mark / add / sweep pass) and
 * takes the ICMP source addresses from the uplink. The control side calls it when they
 * changed; single-process tests call it on objects they wrote themselves. */
void router_ctl_rebuild(struct router *r);

#endif
