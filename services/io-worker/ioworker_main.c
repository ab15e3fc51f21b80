/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-io-worker: the only process that touches interfaces and the only one that allocates
 * and frees packet buffers. Each loop: free what the supervisor reclaimed from dead stages,
 * transmit (or free and count, by drop reason) what router hands back, and receive into the
 * pipeline. Until the node dataplane lands, its one port is the synthetic port. */
#include "ioworker_synth.h"

#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include "pl_log.h"
#include "pl_stage.h"

#define MAX_BURST 256

struct ioworker {
	struct pl_service s;
	struct pl_dp dp;
	struct ioworker_synth synth;
	uint64_t local[PL_IOW_MAX];
};

/* Frees what the supervisor reclaimed from a dead process. */
static unsigned int drain_reclaim(struct ioworker *w, unsigned int burst)
{
	struct rte_mbuf *pkts[MAX_BURST];
	unsigned int n = pl_ring_take(w->dp.rings[PL_RING_RECLAIM], pkts, burst, PL_SVC_IO_WORKER);
	if (n) {
		w->local[PL_IOW_DROP(PL_DROP_RECLAIMED)] += n;
		pl_dp_free(&w->dp, pkts, n);
	}
	return n;
}

/* The end of the pipeline: transmit or count the drop reason, then free. */
static unsigned int sink(struct ioworker *w, unsigned int burst)
{
	struct rte_mbuf *pkts[MAX_BURST];
	unsigned int n =
		pl_ring_take(w->dp.rings[PL_RING_ROUTER_TO_IO], pkts, burst, PL_SVC_IO_WORKER);
	for (unsigned int i = 0; i < n; i++) {
		const struct pl_pkt_meta *meta = pl_meta(pkts[i]);
		if (meta->verdict == PL_VERDICT_PASS)
			w->local[PL_IOW_TX_PACKETS]++;
		else if (meta->drop_reason < PL_DROP_MAX)
			w->local[PL_IOW_DROP(meta->drop_reason)]++;
		else
			w->local[PL_IOW_DROP(PL_DROP_NONE)]++;
	}
	if (n)
		pl_dp_free(&w->dp, pkts, n);
	return n;
}

/* Receives from the synthetic port into the pipeline. */
static unsigned int source(struct ioworker *w, unsigned int burst, uint64_t now_tsc)
{
	struct rte_mbuf *pkts[MAX_BURST];
	struct rte_ring *out = w->dp.rings[PL_RING_IO_TO_NATLB];
	unsigned int n = ioworker_synth_budget(&w->synth, burst, rte_ring_free_count(out), now_tsc);
	if (n == 0)
		return 0;
	if (rte_pktmbuf_alloc_bulk(w->dp.pool, pkts, n) < 0) {
		w->local[PL_IOW_ALLOC_FAILS]++;
		return 0;
	}
	for (unsigned int i = 0; i < n; i++)
		pl_meta(pkts[i])->owner = PL_SVC_IO_WORKER;
	ioworker_synth_fill(&w->synth, pkts, n, w->synth.st->generated);
	w->synth.st->generated += n;
	if (w->synth.st->count && w->synth.st->generated >= w->synth.st->count) {
		w->synth.st->active = 0;
		PL_INFO("synth", "source done: %lu packets", (unsigned long)w->synth.st->generated);
	}
	w->local[PL_IOW_RX_PACKETS] += n;
	unsigned int sent = rte_ring_enqueue_burst(out, (void **)pkts, n, NULL);
	if (sent)
		pl_service_wake(&w->s, PL_SVC_NAT_LB);
	if (sent < n) {
		w->local[PL_IOW_DROP(PL_DROP_RING_FULL)] += n - sent;
		pl_dp_free(&w->dp, &pkts[sent], n - sent);
	}
	return n;
}

static bool pipeline_pending(struct ioworker *w)
{
	return rte_ring_count(w->dp.rings[PL_RING_ROUTER_TO_IO]) ||
	       rte_ring_count(w->dp.rings[PL_RING_RECLAIM]);
}

static void run(struct ioworker *w)
{
	unsigned int burst = w->s.cfg.pipeline.burst;
	struct pl_idle idle;

	if (burst > MAX_BURST)
		burst = MAX_BURST;
	pl_idle_init(&idle, &w->s.cfg);
	memset(w->local, 0, sizeof(w->local));
	while (!w->s.stop) {
		uint64_t t0 = rte_rdtsc();
		unsigned int n = drain_reclaim(w, burst);
		n += sink(w, burst);
		if (w->s.cfg.synthetic.enabled)
			n += source(w, burst, t0);
		uint64_t t1 = rte_rdtsc();
		if (n) {
			w->local[PL_IOW_BURSTS]++;
			w->local[PL_IOW_BUSY_CYCLES] += t1 - t0;
			pl_stats_add(w->s.stats, w->local, PL_IOW_MAX);
			memset(w->local, 0, sizeof(w->local));
		} else if (w->local[PL_IOW_ALLOC_FAILS]) {
			pl_stats_add(w->s.stats, w->local, PL_IOW_MAX);
			memset(w->local, 0, sizeof(w->local));
		}
		if (pl_idle_poll(&idle, n != 0, t1)) {
			int wait = ioworker_synth_wait_ms(&w->synth, burst);
			if (wait != 0) {
				pl_service_set_sleeping(&w->s, true);
				if (!pipeline_pending(w))
					pl_service_sleep(&w->s, wait, NULL, 0);
				pl_service_set_sleeping(&w->s, false);
			}
			idle.empty = 0;
		}
		pl_idle_housekeeping(&idle, &w->s, t1);
	}
}

int main(int argc, char **argv)
{
	static struct ioworker w;
	const struct pl_service_opts opts = {
		.summary =
			"podlane io-worker: interface I/O; the only allocator and freer of packets",
	};
	int rc = pl_service_init(&w.s, PL_SVC_IO_WORKER, argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	rc = pl_dp_eal_init(&w.s.cfg, PL_SVC_IO_WORKER, "podlane-io-worker");
	if (rc < 0) {
		PL_ERR("main", "DPDK EAL init as secondary failed: %s (is the supervisor running?)",
			rte_strerror(-rc));
		goto out;
	}
	rc = pl_dp_attach(&w.dp);
	if (rc < 0) {
		PL_ERR("main", "cannot find the shared pool and rings: %s", strerror(-rc));
		goto out_eal;
	}
	ioworker_synth_init(&w.synth, w.dp.shared);
	rc = ioworker_synth_register(&w.synth, w.s.admin);
	if (rc < 0) {
		PL_ERR("main", "cannot register admin commands: %s", strerror(-rc));
		goto out_eal;
	}
	if (w.synth.st->active)
		PL_INFO("synth", "resuming the synthetic source at packet %lu",
			(unsigned long)w.synth.st->generated);
	pl_service_ready(
		&w.s, w.s.cfg.synthetic.enabled ? "forwarding (synthetic port)" : "forwarding");
	run(&w);
	rc = 0;
out_eal:
	rte_eal_cleanup();
out:
	pl_service_fini(&w.s);
	return rc < 0 ? 1 : 0;
}
