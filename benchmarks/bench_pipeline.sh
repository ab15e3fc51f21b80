#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pipeline benchmark (JSON lines on stdout): the price of process isolation on this machine.
# The same synthetic traffic does the same real work in three variants, in the same run:
#   pipeline        io-worker -> nat-lb -> policy -> router -> io-worker, four processes;
#   single_process  io-worker's source, natlb_stage, policy_stage, router_stage and io-worker's
#                   sink called one after another in one process (bench_pipeline_baseline);
#   fast_path       the four processes, but the synthetic packets are offered to io-worker's
#                   fast path first, as a port's packets are (synth/start fast=1): a flow's
#                   first packets go through the stages (nat-lb creates its session and DNATs,
#                   policy evaluates and caches the verdict, router routes and caches the route),
#                   its later packets are DNATed, TTL-decremented and sent to the same pod tun on
#                   those cached decisions by io-worker alone (counter fast_path).
# The work: UDP flows from the synthetic port (198.18.0.1, FLOWS source ports) to a ClusterIP
# among SERVICES services of PODS endpoints each: nat-lb DNATs every packet through a session of
# the conntrack table (one created per flow and run), policy evaluates each new session against
# POLICIES NetworkPolicies selecting the endpoints and caches the verdict, router routes every
# packet (LPM lookup, adjacency) to its endpoint pod's tun, io-worker counts and frees it (the
# synthetic sink: synthetic traffic never leaves the node).
# The same tables in both: the pipeline gets the objects through the datastore directory
# (podlanectl apply -f) and its routes from pods added with `podlanectl pod add` (each in a
# network namespace: router installs a /32 to the pod's tun); the baseline parses the same YAML
# with the same parser, builds the service table and the policy with the builders the services
# use, installs the pipeline router's routes (fib/show) with router_fib_add, and reads the same
# config file. Sessions are flushed before each run of either variant.
# Timing, the same for both: wall time with the TSC from before the first packet is allocated
# to after the last one is freed (the pipeline's io-worker records both: synth first_tsc and
# last_sink_tsc), and cycles per packet per stage (the pipeline: each process's busy_cycles
# counter; the baseline: rte_rdtsc around each call), summed over the four ("total").
# Each run checks the work happened (DNATs, sessions, evaluations, routed packets, nothing
# dropped) and fails otherwise. Runs are interleaved so noise hits all alike.
# fast_path also reports the share of packets the fast path took (fast_path / packets) and
# io-worker's cycles per packet, which then include the synthetic source's allocation and
# frame writing (a port's receive, for real traffic), the fast path itself and the sink.
#   PODLANE_BENCH_PACKETS (default 10000000), PODLANE_BENCH_RUNS (default 5),
#   PODLANE_BENCH_FLOWS (64), PODLANE_BENCH_SERVICES (10), PODLANE_BENCH_PODS (4),
#   PODLANE_BENCH_POLICIES (3), PODLANE_BENCH_FRAME_SIZE (64)
. "$(dirname "$0")/../tests/lib.sh"

N=${PODLANE_BENCH_PACKETS:-10000000}
RUNS=${PODLANE_BENCH_RUNS:-5}
FLOWS=${PODLANE_BENCH_FLOWS:-64}
SERVICES=${PODLANE_BENCH_SERVICES:-10}
PODS=${PODLANE_BENCH_PODS:-4}
POLICIES=${PODLANE_BENCH_POLICIES:-3}
FRAME=${PODLANE_BENCH_FRAME_SIZE:-64}
BURST=32
FAST_K=2 # packets a flow may miss the fast path by (see check)
N=$(((N + BURST - 1) / BURST * BURST)) # whole bursts in both variants
((SERVICES >= 1 && SERVICES <= 200 && PODS >= 1 && PODS <= 200 && POLICIES >= 1)) ||
	fail "1..200 services, 1..200 pods, at least 1 policy"
((FLOWS >= 1 && FLOWS <= 65535 && FLOWS <= N)) || fail "flows: 1..65535 and at most the packets"
BASELINE=$BUILD_DIR/benchmarks/bench_pipeline_baseline
OUT=$T_DIR/results.jsonl
DS=$T_DIR/datastore
OBJ=$T_DIR/objects.yaml
ROUTES=$T_DIR/routes.json
NODE=bench-node
VIP=10.96.0.$((10 + SERVICES - 1)) # the synthetic flows' ClusterIP: the last service's
DPORT=9
TARGET=9009
pod_ip() { echo "10.98.0.$((10 + $1))"; }

NETNS=()
trap 'rc=$?; for n in ${NETNS[@]+"${NETNS[@]}"}; do ip netns del "$n" 2>/dev/null; done; (exit $rc); cleanup' EXIT

# ---- the objects ----
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench, labels: {team: bench}}\n'
	for ((k = 1; k <= PODS; k++)); do
		printf -- '---\napiVersion: v1\nkind: Pod\n'
		printf 'metadata: {name: ep-%d, namespace: bench, labels: {app: ep}}\n' $k
		printf 'spec:\n  nodeName: %s\n  containers:\n    - name: c\n      image: busybox\n' $NODE
		printf '      ports: [{name: sink, containerPort: %d, protocol: UDP}]\n' $TARGET
		printf 'status:\n  podIP: %s\n  podIPs: [{ip: %s}]\n' "$(pod_ip $k)" "$(pod_ip $k)"
	done
	for ((i = 0; i < SERVICES; i++)); do
		printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: bench}\n' $i
		printf 'spec:\n  clusterIP: 10.96.0.%d\n' $((10 + i))
		printf '  ports: [{name: p, port: %d, protocol: UDP, targetPort: %d}]\n' $DPORT $TARGET
		printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: svc-%d-1, namespace: bench, labels: {kubernetes.io/service-name: svc-%d}}\n' $i $i
		printf 'addressType: IPv4\nendpoints:\n'
		for ((k = 1; k <= PODS; k++)); do
			printf '  - {addresses: [%s], conditions: {ready: true}, nodeName: %s}\n' "$(pod_ip $k)" $NODE
		done
		printf 'ports: [{name: p, port: %d, protocol: UDP}]\n' $TARGET
	done
	# Policies selecting the endpoints for ingress: POLICIES - 1 whose rules do not match the
	# synthetic flows (walked on each new flow), then the one that allows them (last by name).
	for ((j = 1; j < POLICIES; j++)); do
		printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
		printf 'metadata: {name: np-%03d, namespace: bench}\n' $j
		printf 'spec:\n  podSelector: {matchLabels: {app: ep}}\n  policyTypes: [Ingress]\n  ingress:\n'
		printf '    - from: [{podSelector: {matchLabels: {app: client-%d}}}]\n' $j
		printf '      ports: [{protocol: TCP, port: 80}]\n'
		printf '    - from: [{ipBlock: {cidr: 10.200.%d.0/24}}]\n' $((j % 256))
		printf '      ports: [{protocol: UDP, port: %d}]\n' $TARGET
	done
	printf -- '---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
	printf 'metadata: {name: np-zzz-allow-bench, namespace: bench}\n'
	printf 'spec:\n  podSelector: {matchLabels: {app: ep}}\n  policyTypes: [Ingress]\n  ingress:\n'
	printf '    - from: [{ipBlock: {cidr: 198.18.0.0/15}}]\n'
	printf '      ports: [{protocol: UDP, port: sink}]\n'
} >"$OBJ"

mkdir -p "$DS"
write_config "node_name: $NODE
datastore:
  dir: $DS
cni:
  socket: $T_DIR/cni/cni.sock
pods:
  state_file: $T_DIR/pods.json"
start_supervisor >/dev/null
hz=$("$BASELINE" --tsc-hz | jq .tsc_hz)
[[ $hz =~ ^[0-9]+$ ]] || fail "no TSC frequency from $BASELINE"

# ---- the pipeline's tables, through the real paths ----
for ((k = 1; k <= PODS; k++)); do
	ns=plbench$$-$k
	ip netns add "$ns" || fail "ip netns add $ns"
	NETNS+=("$ns")
	ctl pod add "$ns" eth0 "$(pod_ip $k)/32" >/dev/null || fail "pod add $ns $(pod_ip $k)"
done
ctl apply -f "$OBJ" >/dev/null || fail "apply -f $OBJ refused"
table_ready() {
	ctl -s nat-lb -j services/show | jq -e --argjson s $SERVICES --argjson p $PODS '
		[.[] | select(.kind == "ClusterIP")] as $f | ($f | length) == $s and
		all($f[]; ([.endpoints[] | select(.usable)] | length) == $p)' >/dev/null
}
policy_ready() { ctl -s policy -j policy/show | jq -e --argjson n $POLICIES 'length == $n' >/dev/null; }
routes_ready() {
	ctl -s router -j fib/show | jq -e --argjson p $PODS '[.[] | select(.kind == "pod")] | length == $p' >/dev/null
}
wait_for 60 "nat-lb: $SERVICES services x $PODS endpoints" table_ready ||
	fail "service table incomplete: $(ctl -s nat-lb services/show | tail -3)"
wait_for 60 "policy: $POLICIES policies compiled" policy_ready ||
	fail "policy not compiled: $(ctl -s policy policy/show | tail -3)"
wait_for 60 "router: $PODS pod routes" routes_ready || fail "pod routes missing: $(ctl -s router fib/show)"
ctl -s router -j fib/show >"$ROUTES"
# What each variant holds, for the JSON and the comparison below.
CONDS=$(jq -cn --argjson svc "$(ctl -s nat-lb -j services/show)" --argjson pol "$(ctl -s policy -j policy/show)" \
	--slurpfile rt "$ROUTES" '{frontends: ($svc | length),
		endpoints: ([$svc[] | .endpoints | length] | add), policies: ($pol | length),
		rules: ([$pol[] | .rules | length] | add), routes: ($rt[0] | length)}')

snapshot() { # one JSON object: every stage's counters
	jq -n --argjson io "$(ctl -s io-worker -j counters/show)" \
		--argjson nat "$(ctl -s nat-lb -j counters/show)" \
		--argjson pol "$(ctl -s policy -j counters/show)" \
		--argjson rtr "$(ctl -s router -j counters/show)" \
		'{"io-worker": $io, "nat-lb": $nat, "policy": $pol, "router": $rtr}'
}

synth_done() { # PACKETS
	ctl -s io-worker -j synth/show | jq -e --argjson n "$1" '.active == false and .sunk == $n' >/dev/null
}

# run_pipeline RUN [fast]: the pipeline variant, or with "fast" the fast_path one. fast_path first
# establishes the flows: FLOWS packets, one per flow, through the stages (session, verdict,
# route), untimed; then the timed N packets. Its work is counted over both, its time and cycles
# over the timed packets only (busy cycles from the snapshot in between).
run_pipeline() {
	local before mid after syn fast=0 variant=pipeline est=0
	[ "${2:-}" = fast ] && fast=1 variant=fast_path est=$FLOWS
	ctl -s nat-lb sessions/flush >/dev/null || fail "sessions/flush"
	sleep 0.01 # a later millisecond: no verdict cached for a slot is taken for its new session
	before=$(snapshot)
	mid=$before
	if ((est)); then
		ctl -s io-worker synth/start count=$est backpressure=1 flows=$FLOWS frame_size=$FRAME \
			dst=$VIP dport=$DPORT route=1 fast=1 >/dev/null || fail "synth/start"
		wait_for 60 "$variant run $1: establish $est flows" synth_done $est ||
			fail "$variant run $1: flows not established: $(ctl -s io-worker -j synth/show)"
		mid=$(snapshot)
	fi
	ctl -s io-worker synth/start count=$N backpressure=1 flows=$FLOWS frame_size=$FRAME \
		dst=$VIP dport=$DPORT route=1 fast=$fast >/dev/null || fail "synth/start"
	wait_for 600 "$variant run $1" synth_done "$N" || fail "$variant run $1 did not finish: $(ctl -s io-worker -j synth/show)"
	after=$(snapshot)
	syn=$(ctl -s io-worker -j synth/show)
	jq -cn --argjson b "$before" --argjson m "$mid" --argjson a "$after" --argjson s "$syn" --argjson n "$N" \
		--argjson hz "$hz" --argjson run "$1" --argjson c "$CONDS" --argjson burst $BURST \
		--argjson flows $FLOWS --argjson services $SERVICES --arg variant $variant --argjson est $est '
		def d(s; k): $a[s][k] - $b[s][k];
		def cpp(s): (($a[s].busy_cycles - $m[s].busy_cycles) / $n * 10 | round / 10);
		(($s.last_sink_tsc - $s.first_tsc) / $hz) as $secs |
		{variant: $variant, run: $run, packets: $n, burst: $burst, frame_size: $s.frame_size,
		 flows: $flows, services: $services} + $c +
		(if $est > 0 then {establish_packets: $est} else {} end) +
		{seconds: ($secs * 1e4 | round / 1e4), mpps: ($n / $secs / 1e6 * 1000 | round / 1000),
		 tsc_hz: $hz,
		 work: {nat_forward: d("nat-lb"; "nat_forward"), sessions_created: d("nat-lb"; "sessions_created"),
			flows_allowed: d("policy"; "flows_allowed"), flows_denied: d("policy"; "flows_denied"),
			routed: d("router"; "routed"), tx: d("io-worker"; "tx_packets"),
			fast_path: d("io-worker"; "fast_path")},
		 fast_path_share: (d("io-worker"; "fast_path") / $n * 10000 | round / 10000),
		 other_drops: ([$a["io-worker"] | to_entries[] | select(.key | startswith("drop_")) | .key] |
			map(. as $k | {($k): d("io-worker"; $k)} | select(.[] > 0)) | add // {}),
		 cycles_per_packet: {"io-worker": cpp("io-worker"), "nat-lb": cpp("nat-lb"),
			policy: cpp("policy"), router: cpp("router"),
			total: ((cpp("io-worker") + cpp("nat-lb") + cpp("policy") + cpp("router")) * 10 | round / 10),
			wall: (($s.last_sink_tsc - $s.first_tsc) / $n * 10 | round / 10)},
		 output_stalls: {"nat-lb": d("nat-lb"; "output_stalls"), policy: d("policy"; "output_stalls"),
			router: d("router"; "output_stalls")}}'
}

# check LINE: the work of a run happened (every packet DNATed, routed and sent to the sink, one
# session created and evaluated per flow, nothing denied). The pipeline's other_drops are packets
# that are not synthetic (the pods' kernels' own, e.g. IPv6 neighbour discovery on their tuns):
# every synthetic packet came back (synth sunk) and was transmitted.
# fast_path: counted over the establishing and the timed packets (N + FLOWS), each either taken
# by the fast path (fast_path) or DNATed by nat-lb and routed by router; one session created and
# evaluated per flow, by the stages; every packet transmitted; and of the N timed packets at most
# FAST_K per flow missed the fast path. FAST_K: once established (first packet back, verdict and
# route cached) a flow's packets miss it only on a torn read of a seqlocked entry (a stage
# rewriting it: none of them does for an unchanged flow) or within 5 s of the session's expiry
# (services.udp_timeout_s, 30 s, far beyond a run); 2 a flow allows for such a read without
# hiding a flow that stays slow.
# pipeline and single_process: no packet took the fast path.
check() {
	jq -e --argjson n "$N" --argjson f "$FLOWS" --argjson k "$FAST_K" '
		(.work.fast_path // 0) as $fp | ($n + (.establish_packets // 0)) as $all |
		.work.nat_forward + $fp == $all and .work.routed + $fp == $all and .work.tx == $all and
		.work.sessions_created == $f and .work.flows_allowed == $f and .work.flows_denied == 0 and
		if .variant == "fast_path" then $fp >= $n - $f * $k else $fp == 0 end' <<<"$1" >/dev/null ||
		fail "run did not do the work: $1"
}

# Warm-up (not reported): page in, settle the scheduler; the tables work.
ctl -s io-worker synth/start count=$((BURST * 10000)) backpressure=1 flows=$FLOWS \
	frame_size=$FRAME dst=$VIP dport=$DPORT route=1 >/dev/null
warm() { ctl -s io-worker -j synth/show | jq -e --argjson n $((BURST * 10000)) '.sunk == $n' >/dev/null; }
wait_for 120 "warm-up" warm || fail "warm-up did not finish: $(ctl -s io-worker -j synth/show)"

for ((r = 0; r < RUNS; r++)); do
	line=$("$BASELINE" --config="$T_CONF" --objects="$OBJ" --routes="$ROUTES" --dst=$VIP \
		--dport=$DPORT --packets="$N" --runs=1 --flows=$FLOWS --frame-size=$FRAME) ||
		fail "baseline run $r failed"
	line=$(jq -c --argjson run $r '.run = $run' <<<"$line")
	check "$line"
	# Same tables: what the baseline built is what the services hold.
	jq -e --argjson c "$CONDS" '.frontends == $c.frontends and .endpoints == $c.endpoints and
		.policies == $c.policies and .rules == $c.rules and .routes == $c.routes' <<<"$line" >/dev/null ||
		fail "baseline tables differ from the pipeline's $CONDS: $line"
	echo "$line" | tee -a "$OUT"
	line=$(run_pipeline $r)
	check "$line"
	echo "$line" | tee -a "$OUT"
	line=$(run_pipeline $r fast)
	check "$line"
	echo "$line" | tee -a "$OUT"
done

restarts=$(counter supervisor restarts)
[ "$restarts" = 0 ] || fail "services restarted $restarts times during the benchmark"
jq -sc --arg machine "$(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
	--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def stage(v; s): [.[] | select(.variant == v) | .cycles_per_packet[s]] | median;
	. as $all |
	(map(select(.variant == "single_process") | .mpps) | median) as $base |
	(map(select(.variant == "pipeline") | .mpps) | median) as $pipe |
	(map(select(.variant == "fast_path") | .mpps) | median) as $fast |
	(.[0] | {packets, burst, frame_size, flows, services, frontends, endpoints, policies, rules,
		routes}) as $cond |
	(["io-worker", "nat-lb", "policy", "router", "total", "wall"]) as $cols |
	($all | stage("fast_path"; "io-worker")) as $fast_io |
	{summary: "pipeline", machine: $machine, loadavg: $load, runs: (length / 3),
	 conditions: ($cond + {fast_path_establish_packets: $cond.flows,
		fast_path: "flows established first (one packet each through the stages, untimed)"}),
	 baseline_mpps_median: $base, pipeline_mpps_median: $pipe, fast_path_mpps_median: $fast,
	 ratio_pipeline_to_baseline: ($pipe / $base * 1000 | round / 1000),
	 ratio_fast_path_to_baseline: ($fast / $base * 1000 | round / 1000),
	 fast_path_share_median: ([.[] | select(.variant == "fast_path") | .fast_path_share] | median),
	 cycles_per_packet_median: {
		single_process: ($cols | map(. as $s | {($s): ($all | stage("single_process"; $s))}) | add),
		pipeline: ($cols | map(. as $s | {($s): ($all | stage("pipeline"; $s))}) | add),
		fast_path: ($cols | map(. as $s | {($s): ($all | stage("fast_path"; $s))}) | add)},
	 target_total_cycles_per_packet: 250,
	 pipeline_total_within_target: (($all | stage("pipeline"; "total")) <= 250),
	 target_fast_path_io_worker_cycles_per_packet: 120,
	 fast_path_io_worker_within_target: ($fast_io <= 120)}' "$OUT"
