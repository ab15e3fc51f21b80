/* SPDX-License-Identifier: Apache-2.0 */
/* Single-process baseline for the pipeline benchmark: the same work the pipeline does —
 * io-worker's synthetic frame generation, nat-lb, policy and router's burst functions, and
 * io-worker's sink (count and free) — called one after another in one process on one core,
 * with no rings and no process boundaries. Prints one JSON line per run:
 *   {"variant":"single_process","packets":N,"seconds":S,"mpps":M,
 *    "cycles_per_packet":{"io-worker":..,"nat-lb":..,"policy":..,"router":..,"total":..}} */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "ioworker_synth.h"
#include "natlb_stage.h"
#include "pl_dp.h"
#include "policy_stage.h"
#include "router_stage.h"

#define BURST 32
#define N_MBUFS 8192

int main(int argc, char **argv)
{
	uint64_t packets = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	int runs = argc > 2 ? atoi(argv[2]) : 1;
	char *eal[] = { argv[0], "--in-memory", "--no-pci", "--no-telemetry", "--lcores=0@(0-1)",
		"--log-level=*:warning", "-m", "128", NULL };
	if (rte_eal_init(8, eal) < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	static const struct rte_mbuf_dynfield meta_desc = {
		.name = PL_DP_META_NAME,
		.size = sizeof(struct pl_pkt_meta),
		.align = __alignof__(struct pl_pkt_meta),
	};
	pl_dp_meta_offset = rte_mbuf_dynfield_register(&meta_desc);
	/* Same pool shape as the pipeline's: ring_sp_sc handler, no cache. */
	struct rte_mempool *pool = rte_pktmbuf_pool_create_by_ops(
		"bench_pool", N_MBUFS, 0, 0, PL_DP_MBUF_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	if (pl_dp_meta_offset < 0 || !pool) {
		fprintf(stderr, "setup failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	struct pl_dp_shared shared = { 0 };
	shared.synth = (struct pl_synth_state){
		.active = 1,
		.flows = 64,
		.frame_size = 64,
	};
	struct ioworker_synth g;
	ioworker_synth_init(&g, &shared);
	uint64_t hz = rte_get_tsc_hz();

	for (int r = 0; r < runs; r++) {
		uint64_t cyc[5] = { 0 }, counters[PL_STAGE_MAX] = { 0 }, tx = 0, dropped = 0;
		struct rte_mbuf *pkts[BURST];
		uint64_t start = rte_rdtsc();
		for (uint64_t done = 0; done < packets; done += BURST) {
			uint64_t t0 = rte_rdtsc();
			if (rte_pktmbuf_alloc_bulk(pool, pkts, BURST) < 0) {
				fprintf(stderr, "pool empty\n");
				return 1;
			}
			for (int i = 0; i < BURST; i++)
				pl_meta(pkts[i])->owner = PL_SVC_IO_WORKER;
			ioworker_synth_fill(&g, pkts, BURST, done);
			uint64_t t1 = rte_rdtsc();
			natlb_stage(NULL, pkts, BURST, counters);
			uint64_t t2 = rte_rdtsc();
			policy_stage(NULL, pkts, BURST, counters);
			uint64_t t3 = rte_rdtsc();
			router_stage(NULL, pkts, BURST, counters);
			uint64_t t4 = rte_rdtsc();
			for (int i = 0; i < BURST; i++) {
				if (pl_meta(pkts[i])->verdict == PL_VERDICT_PASS)
					tx++;
				else
					dropped++;
			}
			rte_pktmbuf_free_bulk(pkts, BURST);
			uint64_t t5 = rte_rdtsc();
			cyc[0] += (t1 - t0) + (t5 - t4); /* io-worker: source + sink */
			cyc[1] += t2 - t1;
			cyc[2] += t3 - t2;
			cyc[3] += t4 - t3;
		}
		uint64_t total = rte_rdtsc() - start;
		uint64_t n = (packets + BURST - 1) / BURST * BURST;
		double secs = (double)total / (double)hz;
		printf("{\"variant\":\"single_process\",\"run\":%d,\"packets\":%" PRIu64
		       ",\"seconds\":%.4f,\"mpps\":%.3f,\"tx\":%" PRIu64 ",\"dropped\":%" PRIu64
		       ",\"tsc_hz\":%" PRIu64 ",\"cycles_per_packet\":{\"io-worker\":%.1f,"
		       "\"nat-lb\":%.1f,\"policy\":%.1f,\"router\":%.1f,\"total\":%.1f}}\n",
			r, n, secs, (double)n / secs / 1e6, tx, dropped, hz,
			(double)cyc[0] / (double)n, (double)cyc[1] / (double)n,
			(double)cyc[2] / (double)n, (double)cyc[3] / (double)n,
			(double)total / (double)n);
	}
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}
