#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pipeline benchmark (JSON lines on stdout): synthetic 64-byte packets at burst 32 through
# the full pass-through pipeline (io-worker -> nat-lb -> policy -> router -> io-worker, four
# processes), and the same work done by a single process in the same run (the baseline). For
# each: Mpps and cycles per packet per stage; at the end the medians and the ratio — the price
# of process isolation on this machine. Runs are interleaved so noise hits both alike.
#   PODLANE_BENCH_PACKETS (default 10000000), PODLANE_BENCH_RUNS (default 5)
. "$(dirname "$0")/../tests/lib.sh"

N=${PODLANE_BENCH_PACKETS:-10000000}
RUNS=${PODLANE_BENCH_RUNS:-5}
BASELINE=$BUILD_DIR/benchmarks/bench_pipeline_baseline
OUT=$T_DIR/results.jsonl

write_config
start_supervisor >/dev/null
hz=$("$BASELINE" 1024 1 | jq .tsc_hz)

snapshot() { # one JSON object: every stage's counters
	jq -n --argjson io "$(ctl -s io-worker -j counters/show)" \
		--argjson nat "$(ctl -s nat-lb -j counters/show)" \
		--argjson pol "$(ctl -s policy -j counters/show)" \
		--argjson rtr "$(ctl -s router -j counters/show)" \
		'{"io-worker": $io, "nat-lb": $nat, "policy": $pol, "router": $rtr}'
}
out_of_pipeline() { ctl -s io-worker -j counters/show | jq '.tx_packets + .drop_ring_full + .drop_malformed + .drop_ttl_exceeded + .drop_unsupported + .drop_reclaimed + .drop_none'; }

run_pipeline() { # RUN
	local before after t0 t1 target
	before=$(snapshot)
	target=$(($(out_of_pipeline) + N))
	t0=$(date +%s%N)
	ctl -s io-worker synth/start count=$N backpressure=1 >/dev/null
	local deadline=$((SECONDS + 600))
	while [ "$(out_of_pipeline)" -lt "$target" ]; do
		((SECONDS < deadline)) || fail "pipeline run $1 did not finish"
		sleep 0.02
	done
	t1=$(date +%s%N)
	after=$(snapshot)
	jq -cn --argjson b "$before" --argjson a "$after" --argjson n "$N" --argjson ns $((t1 - t0)) \
		--argjson hz "$hz" --argjson run "$1" '
		def cpp(s): (($a[s].busy_cycles - $b[s].busy_cycles) / $n * 10 | round / 10);
		{variant: "pipeline", run: $run, packets: $n, seconds: ($ns / 1e9),
		 mpps: ($n / ($ns / 1e3) | . * 1000 | round / 1000),
		 tx: ($a["io-worker"].tx_packets - $b["io-worker"].tx_packets), tsc_hz: $hz,
		 cycles_per_packet: {"io-worker": cpp("io-worker"), "nat-lb": cpp("nat-lb"),
			policy: cpp("policy"), router: cpp("router"),
			total: ((cpp("io-worker") + cpp("nat-lb") + cpp("policy") + cpp("router")) * 10 | round / 10)},
		 output_stalls: {"nat-lb": ($a["nat-lb"].output_stalls - $b["nat-lb"].output_stalls),
			policy: ($a.policy.output_stalls - $b.policy.output_stalls),
			router: ($a.router.output_stalls - $b.router.output_stalls)}}'
}

# Warm-up: page in, settle the scheduler.
ctl -s io-worker synth/start count=1000000 backpressure=1 >/dev/null
warm() { [ "$(ctl -s io-worker -j synth/show | jq .active)" = false ]; }
wait_for 120 "warm-up" warm

for ((r = 0; r < RUNS; r++)); do
	"$BASELINE" "$N" 1 | jq -c --argjson run $r '.run = $run' | tee -a "$OUT"
	run_pipeline $r | tee -a "$OUT"
done

jq -sc --arg machine "$(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def stage(v; s): [.[] | select(.variant == v) | .cycles_per_packet[s]] | median;
	. as $all |
	(map(select(.variant == "single_process") | .mpps) | median) as $base |
	(map(select(.variant == "pipeline") | .mpps) | median) as $pipe |
	{summary: "pipeline", machine: $machine, runs: (length / 2),
	 baseline_mpps_median: $base, pipeline_mpps_median: $pipe,
	 ratio_pipeline_to_baseline: ($pipe / $base * 1000 | round / 1000),
	 cycles_per_packet_median: {
		single_process: (["io-worker", "nat-lb", "policy", "router", "total"] |
			map(. as $s | {($s): ($all | stage("single_process"; $s))}) | add),
		pipeline: (["io-worker", "nat-lb", "policy", "router", "total"] |
			map(. as $s | {($s): ($all | stage("pipeline"; $s))}) | add)}}' "$OUT"
