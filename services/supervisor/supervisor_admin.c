/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's admin commands: services/show (pid, state, restarts, last exit, health),
 * pool/show (free packets against the pool size) and rings/show (occupancy, head and tail of
 * both sides: a wedged ring shows head != tail with nobody working on it). */
#include "supervisor.h"

#include <stdio.h>
#include <string.h>

static int cmd_services(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct supervisor *sv = ctx;
	struct pl_shm *shm = sv->s.shm;
	uint64_t now = pl_now_ms();
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "services/show takes no arguments");
	struct json_object *arr = json_object_new_array();
	pl_admin_printf(r, "%-12s %-8s %-9s %8s %9s  %-22s %s\n", "SERVICE", "PID", "STATE",
		"RESTARTS", "HEARTBEAT", "LAST EXIT", "HEALTH");
	for (int i = 0; i < PL_SVC_MAX; i++) {
		const struct child *c = &sv->children[i];
		const struct pl_svc_sup *sup = &shm->sup[i];
		const struct pl_svc_live *live = &shm->live[i];
		enum pl_svc_state st = i == PL_SVC_SUPERVISOR ? PL_STATE_READY : sup->state;
		int pid = i == PL_SVC_SUPERVISOR ? live->pid : c->pid;
		uint64_t hb = __atomic_load_n(&live->heartbeat_ms, __ATOMIC_RELAXED);
		uint64_t age = hb && now > hb ? now - hb : 0;
		/* A ready service beats at least every sleep period. */
		bool healthy = st == PL_STATE_READY &&
			       (i == PL_SVC_SUPERVISOR ||
				       age <= 3 * (uint64_t)sv->s.cfg.pipeline.sleep_ms + 1000);
		const char *health = healthy ? "ok" : "down";
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "service", json_object_new_string(pl_svc_name(i)));
		json_object_object_add(o, "pid", json_object_new_int(pid));
		json_object_object_add(o, "state", json_object_new_string(pl_svc_state_name(st)));
		json_object_object_add(o, "restarts", json_object_new_int64(sup->restarts));
		json_object_object_add(o, "heartbeat_age_ms", json_object_new_uint64(age));
		json_object_object_add(o, "last_exit", json_object_new_string(c->last_exit));
		json_object_object_add(o, "backoff_ms", json_object_new_int64(c->backoff_ms));
		json_object_object_add(o, "uptime_ms",
			json_object_new_uint64(
				c->pid && now > c->started_ms ? now - c->started_ms : 0));
		json_object_object_add(o, "health", json_object_new_string(health));
		json_object_object_add(o, "takeovers", json_object_new_int64(c->takeovers));
		json_object_object_add(o, "hangs", json_object_new_int64(c->hangs));
		json_object_object_add(o, "standby_pid", json_object_new_int(c->sb.pid));
		json_object_object_add(o, "standby",
			json_object_new_string(c->sb.pid      ? (c->sb.warm ? "warm" : "starting")
					       : c->sb.due_ms ? "scheduled"
							      : "none"));
		json_object_object_add(o, "managed",
			json_object_new_boolean(c->managed || i == PL_SVC_SUPERVISOR));
		json_object_array_add(arr, o);
		pl_admin_printf(r, "%-12s %-8d %-9s %8u %7llums  %-22s %s\n", pl_svc_name(i), pid,
			pl_svc_state_name(st), sup->restarts, (unsigned long long)age,
			c->last_exit[0] ? c->last_exit : "-", health);
	}
	pl_admin_set_json(r, arr);
	return 0;
}

static int cmd_pool(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct supervisor *sv = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "pool/show takes no arguments");
	/* size and available add both pools up (a full pipeline at rest has both full). */
	struct rte_mempool *pools[2] = { sv->dp.pool, sv->dp.big_pool };
	struct json_object *o = json_object_new_object(), *list = json_object_new_array();
	int64_t size = 0, avail = 0;
	for (int i = 0; i < 2; i++) {
		struct json_object *p = json_object_new_object();
		int64_t sz = pools[i]->size, av = rte_mempool_avail_count(pools[i]);
		json_object_object_add(p, "name", json_object_new_string(pools[i]->name));
		json_object_object_add(p, "size", json_object_new_int64(sz));
		json_object_object_add(p, "available", json_object_new_int64(av));
		json_object_object_add(p, "buffer_bytes",
			json_object_new_int64(rte_pktmbuf_data_room_size(pools[i])));
		json_object_array_add(list, p);
		size += sz;
		avail += av;
	}
	json_object_object_add(o, "name", json_object_new_string(sv->dp.pool->name));
	json_object_object_add(o, "size", json_object_new_int64(size));
	json_object_object_add(o, "available", json_object_new_int64(avail));
	json_object_object_add(o, "in_use", json_object_new_int64(size - avail));
	json_object_object_add(o, "ops",
		json_object_new_string(rte_mempool_get_ops(sv->dp.pool->ops_index)->name));
	json_object_object_add(o, "pools", list);
	pl_admin_set_json(r, o);
	return 0;
}

static int cmd_rings(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct supervisor *sv = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "rings/show takes no arguments");
	struct json_object *arr = json_object_new_array();
	pl_admin_printf(r, "%-18s %-10s %-10s %6s %6s %10s %10s %10s %10s\n", "RING", "PRODUCER",
		"CONSUMER", "COUNT", "SIZE", "PROD.HEAD", "PROD.TAIL", "CONS.HEAD", "CONS.TAIL");
	for (int i = 0; i < PL_RING_MAX; i++) {
		const struct rte_ring *ring = sv->dp.rings[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "ring", json_object_new_string(pl_ring_defs[i].name));
		json_object_object_add(o, "producer",
			json_object_new_string(pl_svc_name(pl_ring_defs[i].producer)));
		json_object_object_add(o, "consumer",
			json_object_new_string(pl_svc_name(pl_ring_defs[i].consumer)));
		json_object_object_add(o, "count", json_object_new_int64(rte_ring_count(ring)));
		json_object_object_add(
			o, "capacity", json_object_new_int64(rte_ring_get_capacity(ring)));
		json_object_object_add(o, "prod_head", json_object_new_int64(ring->prod.head));
		json_object_object_add(o, "prod_tail", json_object_new_int64(ring->prod.tail));
		json_object_object_add(o, "cons_head", json_object_new_int64(ring->cons.head));
		json_object_object_add(o, "cons_tail", json_object_new_int64(ring->cons.tail));
		json_object_array_add(arr, o);
		pl_admin_printf(r, "%-18s %-10s %-10s %6u %6u %10u %10u %10u %10u\n",
			pl_ring_defs[i].name, pl_svc_name(pl_ring_defs[i].producer),
			pl_svc_name(pl_ring_defs[i].consumer), rte_ring_count(ring),
			rte_ring_get_capacity(ring), ring->prod.head, ring->prod.tail,
			ring->cons.head, ring->cons.tail);
	}
	pl_admin_set_json(r, arr);
	return 0;
}

int supervisor_admin_register(struct supervisor *sv)
{
	int rc = pl_admin_register(sv->s.admin, "services/show", "",
		"Every service: pid, state, restarts, last exit, health", cmd_services, sv);
	if (rc == 0)
		rc = pl_admin_register(sv->s.admin, "pool/show", "",
			"Shared packet pool: size and free count", cmd_pool, sv);
	if (rc == 0)
		rc = pl_admin_register(sv->s.admin, "rings/show", "",
			"Pipeline rings: occupancy, heads and tails", cmd_rings, sv);
	return rc;
}
