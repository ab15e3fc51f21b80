/* SPDX-License-Identifier: Apache-2.0 */
/* Stage runner and adaptive idle loop helpers. */
#include "pl_stage.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_prefetch.h>

#include "pl_log.h"

#define YIELD_EVERY 16
#define STALL_SLEEP_MS 1
#define MAX_BURST 256

void pl_idle_init(struct pl_idle *idle, const struct pl_config *cfg)
{
	uint64_t hz = rte_get_tsc_hz();
	idle->spin_cycles = hz / 1000000 * cfg->pipeline.idle_spin_us;
	idle->idle_since = 0;
	idle->empty = 0;
	idle->hk_cycles = hz / 1000;
	idle->next_hk = 0;
}

bool pl_idle_poll(struct pl_idle *idle, bool did_work, uint64_t now_tsc)
{
	if (did_work) {
		idle->empty = 0;
		return false;
	}
	if (idle->empty++ == 0) {
		idle->idle_since = now_tsc;
		return false;
	}
	if (now_tsc - idle->idle_since >= idle->spin_cycles)
		return true;
	/* With fewer cores than busy processes, an empty poll gives its core away. */
	if (idle->empty % YIELD_EVERY == 0)
		sched_yield();
	else
		rte_pause();
	return false;
}

void pl_idle_housekeeping(struct pl_idle *idle, struct pl_service *s, uint64_t now_tsc)
{
	if (now_tsc < idle->next_hk)
		return;
	idle->next_hk = now_tsc + idle->hk_cycles;
	pl_service_housekeeping(s, pl_now_ms());
}

int pl_stage_run(struct pl_service *s, struct pl_dp *dp, const struct pl_stage_def *def)
{
	struct rte_ring *in = dp->rings[def->in], *out = dp->rings[def->out];
	enum pl_svc_id next = pl_ring_defs[def->out].consumer;
	uint8_t me = (uint8_t)s->id;
	unsigned int burst = s->cfg.pipeline.burst;
	struct rte_mbuf *pkts[MAX_BURST];
	unsigned int held = 0, first = 0;
	uint64_t local[PL_STATS_MAX_COUNTERS];
	unsigned int n_local = def->n_counters ? def->n_counters : PL_STAGE_MAX;
	struct pl_idle idle;

	if (burst > MAX_BURST)
		burst = MAX_BURST;
	pl_idle_init(&idle, &s->cfg);
	memset(local, 0, sizeof(local));

	while (!s->stop) {
		uint64_t t0 = rte_rdtsc();
		bool work = false;

		if (held == 0) {
			unsigned int n = pl_ring_take(in, pkts, burst, me);
			if (n) {
				def->fn(def->ctx, pkts, n, local);
				local[PL_STAGE_RX_PACKETS] += n;
				local[PL_STAGE_BURSTS]++;
				held = n;
				first = 0;
				work = true;
			}
		}
		if (held) {
			unsigned int sent =
				rte_ring_enqueue_burst(out, (void **)&pkts[first], held, NULL);
			if (sent) {
				pl_service_wake(s, next);
				local[PL_STAGE_TX_PACKETS] += sent;
				first += sent;
				held -= sent;
				work = true;
			}
			if (held)
				local[PL_STAGE_OUTPUT_STALLS]++;
		}
		uint64_t t1 = rte_rdtsc();
		if (work) {
			local[PL_STAGE_BUSY_CYCLES] += t1 - t0;
			pl_stats_add(s->stats, local, n_local);
			memset(local, 0, sizeof(local));
		}
		if (pl_idle_poll(&idle, work, t1)) {
			zmq_pollitem_t items[8];
			int k = def->poll_items ? def->poll_items(def->ctx, items, 8) : 0;
			pl_service_set_sleeping(s, true);
			if (held)
				pl_service_sleep(s, STALL_SLEEP_MS, items, k);
			else if (rte_ring_count(in) == 0)
				pl_service_sleep(s, -1, items, k);
			pl_service_set_sleeping(s, false);
			idle.empty = 0;
			/* Housekeeping is due, but after the burst that woke us: a packet never
			 * waits for the control side (a session sweep, a datastore event). */
			idle.next_hk = 0;
			continue;
		}
		if (def->housekeeping && t1 >= idle.next_hk) {
			/* The stage's control work (datastore events, table builds) may take
			 * long: the hang check gives it supervisor.hang_control_ms. */
			pl_service_busy(s, true);
			def->housekeeping(def->ctx, pl_now_ms());
			pl_service_busy(s, false);
		}
		pl_idle_housekeeping(&idle, s, t1);
	}
	/* Packets still held stay tagged with this process: the supervisor reclaims them. */
	if (held)
		PL_INFO("stage", "stopping with %u packets held; the supervisor reclaims them",
			held);
	return 0;
}

int pl_stage_main(int argc, char **argv, enum pl_svc_id id, const char *summary,
	const struct pl_stage_def *def)
{
	struct pl_service s;
	struct pl_dp dp;
	const struct pl_service_opts opts = { .summary = summary };
	char prog[64];

	int rc = pl_service_init(&s, id, argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	snprintf(prog, sizeof(prog), "podlane-%s", s.name);
	rc = pl_dp_eal_init(&s.cfg, id, s.lcore_slot, prog);
	if (rc < 0) {
		PL_ERR("main", "DPDK EAL init as secondary failed: %s (is the supervisor running?)",
			rte_strerror(-rc));
		goto out;
	}
	rc = pl_dp_attach(&dp);
	if (rc < 0) {
		PL_ERR("main", "cannot find the shared pool and rings: %s", strerror(-rc));
		goto out_eal;
	}
	rc = pl_service_standby(&s, NULL);
	if (rc != 0)
		goto out_eal;
	if (def->init) {
		rc = def->init(def->ctx, &s, &dp);
		if (rc < 0) {
			PL_ERR("main", "cannot start the stage: %s", strerror(-rc));
			goto out_eal;
		}
	}
	pl_service_ready(&s, "forwarding");
	rc = pl_stage_run(&s, &dp, def);
	if (def->fini)
		def->fini(def->ctx);
out_eal:
	rte_eal_cleanup();
out:
	pl_service_fini(&s);
	return rc < 0 ? 1 : 0;
}
