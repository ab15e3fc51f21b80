/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's state: the session table and the service table (both in shared memory, kept across
 * restarts), the rate limiter of its rejects, and the control side that builds the service
 * table from the datastore (Services, EndpointSlices) and the node's addresses (state bus). */
#ifndef NATLB_H
#define NATLB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "natlb_stage.h"
#include "natlb_table.h"
#include "pl_bus.h"
#include "pl_ct.h"
#include "pl_datastore.h"
#include "pl_objects.h"
#include "pl_service.h"
#include "router_icmp.h"

struct pl_strmap;
struct build_job;

struct natlb {
	struct pl_service *s;
	struct pl_ct ct;
	struct natlb_tables tables;
	struct router_icmp_rl reject_rl;
	uint64_t timeout_ms[PL_CT_STATE_MAX]; /* idle timeout per session state */
	uint64_t now_ms; /* of the current burst */

	/* Control side. */
	struct pl_datastore *ds;
	struct pl_bus_consumer *sup_bus;
	struct pl_strmap *services, *slices; /* datastore keys of the objects it uses */
	struct natlb_node_addr node_addrs[NATLB_MAX_NODE_ADDRS];
	uint32_t n_node_addrs;
	bool dirty; /* rebuild the service table */
	struct build_job *job; /* a build running on build_thread */
	pthread_t build_thread;
	bool ds_retry; /* the datastore could not be opened yet */
	uint64_t next_ds_try_ms;
	uint64_t last_build_us; /* how long the last build took */
	char last_error[256];
};

/* Control side hooks (natlb_ctl.c). */
int natlb_ctl_init(void *ctx, struct pl_service *s, struct pl_dp *dp);
void natlb_ctl_fini(void *ctx);
void natlb_ctl_housekeeping(void *ctx, uint64_t now_ms);
int natlb_ctl_poll_items(void *ctx, zmq_pollitem_t *items, int max);

/* Idle timeouts from the config. */
void natlb_set_timeouts(struct natlb *nl, const struct pl_config *cfg);

#endif
