/* SPDX-License-Identifier: Apache-2.0 */
/* The policy stage's state: the compiled policy (policy_table.h) and the verdict of every
 * session (memzone "pl_pol_ct", one entry per conntrack slot), both in shared memory and kept
 * across restarts; the conntrack table it reads (nat-lb writes it); the flow-log tap; and the
 * control side that compiles the datastore's policies, namespaces and pods. */
#ifndef POLICY_H
#define POLICY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pl_bus.h"
#include "pl_ct.h"
#include "pl_datastore.h"
#include "pl_service.h"
#include "policy_stage.h"
#include "policy_table.h"

/* A session's cached verdict; valid while the session and the policy build are the same. */
struct pl_strmap;
struct compile_job;

struct policy {
	struct pl_service *s;
	struct pl_ct ct; /* attached once nat-lb has made it */
	struct pol_sess *sess; /* ct.t->capacity entries */
	struct pol_tables tt;
	void *tap; /* ZMQ XPUB: flow logs */
	int subscribers; /* on the tap: no record is built without one */

	struct pl_datastore *ds;
	struct pl_bus_consumer *sup_bus;
	struct pl_strmap *keys; /* datastore keys of the kinds it compiles */
	struct pol_addr node_addrs[POL_MAX_NODE_ADDRS];
	uint32_t n_node_addrs;
	bool dirty;
	struct compile_job *job; /* a compile running on compile_thread */
	pthread_t compile_thread;
	bool ds_retry;
	uint64_t next_try_ms;
	uint64_t last_build_us;
	char last_error[256];
};

int policy_ctl_init(void *ctx, struct pl_service *s, struct pl_dp *dp);
void policy_ctl_fini(void *ctx);
void policy_ctl_housekeeping(void *ctx, uint64_t now_ms);
int policy_ctl_poll_items(void *ctx, zmq_pollitem_t *items, int max);
/* Attaches to the session table and its verdict cache; 0 or -errno (-ENOENT: not yet). */
int policy_attach_sessions(struct policy *p);
struct json_object;
/* A verdict as JSON (flow logs, policy/explain). */
struct json_object *policy_verdict_json(
	const struct pol_gen *g, const struct pol_flow *f, const struct pol_verdict *v);
/* One flow record on the tap. */
void policy_flow_log(struct policy *p, const struct pol_gen *g, const struct pol_flow *f,
	const struct pol_verdict *v);

#endif
