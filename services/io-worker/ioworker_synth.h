/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's synthetic port: a built-in source of IPv4/UDP frames (64 bytes unless told; from
 * 198.18.0.1, `flows` source ports, to 198.19.0.1:9 or to dst=/dport=; rate-limited or
 * lossless-with-backpressure, with optional TTL-1 and bad-checksum frames; route=1 has router
 * route them; fast=1 offers them to io-worker's fast path first, as a port's packets are) and
 * the sink that "transmits" what the pipeline hands back. It lets the whole
 * pipeline carry traffic with no real interface, for tests, the demo and benchmarks. Its settings live in shared memory so a
 * restarted io-worker resumes them. */
#ifndef IOWORKER_SYNTH_H
#define IOWORKER_SYNTH_H

#include "pl_dp.h"
#include "pl_service.h"

struct ioworker_synth {
	struct pl_synth_state *st; /* in the control memzone */
	uint64_t tsc_hz;
	uint64_t last_tsc;
	double tokens;
};

void ioworker_synth_init(struct ioworker_synth *g, struct pl_dp_shared *shared);
int ioworker_synth_register(struct ioworker_synth *g, struct pl_admin *admin);
/* How many packets the source may generate now (rate, count, backpressure). */
unsigned int ioworker_synth_budget(
	struct ioworker_synth *g, unsigned int burst, unsigned int ring_free, uint64_t now_tsc);
/* Writes frames into freshly allocated packets; `seq0` is the index of the first one. */
void ioworker_synth_fill(
	const struct ioworker_synth *g, struct rte_mbuf **pkts, unsigned int n, uint64_t seq0);
/* n synthetic packets came back to io-worker (sunk or dropped); now_tsc after they were freed:
 * the source's wall time runs from first_tsc to the last of these. */
void ioworker_synth_sunk(struct ioworker_synth *g, unsigned int n, uint64_t now_tsc);
/* Milliseconds until the source has a burst ready; -1 if it is not active. */
int ioworker_synth_wait_ms(const struct ioworker_synth *g, unsigned int burst);

#endif
