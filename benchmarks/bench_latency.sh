#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Latency benchmark (JSON lines on stdout, logs on stderr): TCP request/response latency through
# podlane and, as the baseline built in the same run, through the Linux kernel wired the way a
# veth-based CNI and kube-proxy (iptables mode) do it.
#   "podlane": lab node 1 with podlane on its uplink (as in tests/services), pods 1 and 2 with
#              tun interfaces added by `podlanectl pod add`, one ClusterIP Service applied with
#              `podlanectl apply -f` into the directory datastore (its nat-lb does the DNAT).
#   "kernel":  a second lab (another name, same topology) without podlane: pods wired by veth
#              pairs as benchmarks/bench_node.sh does it (benchmarks/bench_lib.sh kernel_pod:
#              veth offloads left as the kernel sets them), the node forwards; its uplink veth
#              and the gateway's peer get the offload state of podlane's lab's (bench_lib.sh
#              copy_offloads: the same with the af_packet uplink; see bench_node.sh); in its node
#              namespace the nat-table rules kube-proxy's iptables mode writes for one ClusterIP
#              service with one endpoint (KUBE-SERVICES -> KUBE-SVC -> KUBE-SEP DNAT, the
#              KUBE-MARK-MASQ / KUBE-POSTROUTING masquerade chains), loaded with
#              iptables-legacy-restore (PODLANE_BENCH_IPTABLES=nft for iptables-nft); conntrack
#              is therefore on for all the node's traffic, as on a kube-proxy node.
# Paths, the client always in pod 1 (IPv4):
#   pod_to_pod        pod 1 -> pod 2's address, port 8080
#   pod_to_clusterip  pod 1 -> ClusterIP 10.96.0.10 port 80 -> pod 2 port 8080
#   pod_to_outside    pod 1 -> 203.0.113.1:8080, the lab's "outside" address in the gateway
#                     namespace (through the node's uplink; the gateway routes the pod CIDR back
#                     to the node, no SNAT on either variant)
# Tests (benchmarks/bench_latency_tool.c: an echo server in pod 2 and in the gateway, a client
# in pod 1; M = PODLANE_BENCH_SIZE bytes each way, default 64, TCP_NODELAY):
#   rr    request/response over one TCP connection: M bytes written, M read back; the time of
#         each from before the write to after the last byte read.
#   crr   connect + request + close: socket(), connect(), M out, M back, close(); the time of
#         each from before socket() to after close(). The client closes first (its TIME_WAIT):
#         net.ipv4.tcp_tw_reuse=1 in pod 1's namespace of both variants, so that back-to-back
#         connects do not run out of ports.
# Loads:
#   load  back to back (ping-pong: one request outstanding, the next sent when the previous
#         answer is in), PODLANE_BENCH_SECONDS (3) seconds a run.
#   low   PODLANE_BENCH_LOW_RATE (10) requests per second on a fixed schedule (the client sleeps
#         in clock_nanosleep between requests, it does not spin; podlane's stages go to sleep
#         between requests: their idle spin is 200 us), PODLANE_BENCH_LOW_SECONDS (15) seconds
#         a run. The podlane and kernel clients of a low-rate run run at the same time (each in
#         its own lab: neither's traffic touches the other's path, and at 10 requests per second
#         neither loads the CPUs), which halves the wall time of the bench.
# Runs: PODLANE_BENCH_RUNS (3); under load the variants alternate (podlane then kernel in odd
# runs, kernel then podlane in even ones) so that noise hits both alike. Warm-up before the
# first run (not reported). Each run: one line per variant, path, test and load with its
# requests, errors, achieved rate and min/mean/p50/p99/p99.9/max (microseconds; p99.9 is null
# below 1,000 requests). Summary per path, test and load: medians over the runs of p50, p99 and
# p99.9 (p99.9 of the runs with at least 1,000 requests: p999_runs_with_1000_requests says how
# many), the percentiles of all runs' requests pooled, and podlane/kernel ratios (above 1:
# podlane slower). With sockperf installed (Debian package sockperf), a cross-check of the
# tool: one sockperf ping-pong run a variant, pod to pod, back to back ("test": "rr_sockperf").
# First line: the conditions (offloads of every interface on both paths, via ethtool -k; rates,
# message size, runs, seconds; machine; load average). Last: wall time.
#   PODLANE_BENCH_RUNS (3), PODLANE_BENCH_SECONDS (3), PODLANE_BENCH_LOW_SECONDS (15),
#   PODLANE_BENCH_LOW_RATE (10), PODLANE_BENCH_SIZE (64), PODLANE_BENCH_IPTABLES (legacy|nft),
#   PODLANE_BENCH_IDLE_SPIN_US (podlane's pipeline.idle_spin_us), PODLANE_BENCH_FAST_PATH
#   (true|false: pipeline.fast_path)
. "$(dirname "$0")/../tests/services/services_lib.sh"
. "$(dirname "$0")/bench_lib.sh"
# shellcheck disable=SC2034 # read by node_lab_up
LAB_NODES=1 # services_lib's second node is not used here

BENCH_T0=$(date +%s%N)
RUNS=${PODLANE_BENCH_RUNS:-3}
SECS=${PODLANE_BENCH_SECONDS:-3}
LOW_SECS=${PODLANE_BENCH_LOW_SECONDS:-15}
LOW_RATE=${PODLANE_BENCH_LOW_RATE:-10}
SIZE=${PODLANE_BENCH_SIZE:-64}
IPT=${PODLANE_BENCH_IPTABLES:-legacy}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "PODLANE_BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || fail "PODLANE_BENCH_SECONDS must be a positive integer (got '$SECS')"
[[ $LOW_SECS =~ ^[1-9][0-9]*$ ]] ||
	fail "PODLANE_BENCH_LOW_SECONDS must be a positive integer (got '$LOW_SECS')"
{ [[ $LOW_RATE =~ ^[1-9][0-9]*$ ]] && ((LOW_RATE <= 10)); } ||
	fail "PODLANE_BENCH_LOW_RATE must be 1..10 requests per second (got '$LOW_RATE')"
{ [[ $SIZE =~ ^[1-9][0-9]*$ ]] && ((SIZE <= 65536)); } ||
	fail "PODLANE_BENCH_SIZE must be 1..65536 bytes (got '$SIZE')"
case $IPT in
legacy | nft) ;;
*) fail "PODLANE_BENCH_IPTABLES must be legacy or nft (got '$IPT')" ;;
esac
IPT_RESTORE=iptables-$IPT-restore
IPT_SAVE=iptables-$IPT-save
for c in jq ethtool "$IPT_RESTORE"; do
	command -v "$c" >/dev/null 2>&1 || fail "$c is not installed ('./podlane setup' installs it)"
done
TOOL=$BUILD_DIR/benchmarks/bench_latency_tool
[ -x "$TOOL" ] || fail "$TOOL not built (./podlane build)"

OUT=$T_DIR/results.jsonl
PORT=8080
SP_PORT=11111 # sockperf's server (the cross-check)
VIP=10.96.0.10
VPORT=80
CLUSTER_CIDR=10.98.0.0/16 # the lab's pod addresses (kube-proxy's --cluster-cidr)
OUTSIDE=$(lab_outside_v4)
POD2=$(lab_pod_v4 1 2)
# The kernel variant's lab (podlane's is $PODLANE_LAB, from node_lib); the trap: servers first,
# then background clients and the kernel lab, then podlane and its lab, the instance's files.
kernel_lab pllk services_cleanup

# ---------------------------------------------------------------------------------------------
# The podlane variant: as tests/services (directory datastore), pods 1 and 2, one service.
log "podlane lab $PODLANE_LAB: up, podlane on node 1's uplink, two pods, one ClusterIP service"
# The hand-off settings under test (the defaults when unset): how long a stage polls before it
# sleeps, and whether io-worker forwards established flows itself.
PIPE_YAML="pipeline:"
[ -z "${PODLANE_BENCH_IDLE_SPIN_US:-}" ] || PIPE_YAML+=$'\n'"  idle_spin_us: $PODLANE_BENCH_IDLE_SPIN_US"
[ -z "${PODLANE_BENCH_FAST_PATH:-}" ] || PIPE_YAML+=$'\n'"  fast_path: $PODLANE_BENCH_FAST_PATH"
[ "$PIPE_YAML" = "pipeline:" ] && PIPE_YAML=""
services_up "$PIPE_YAML"
add_pod 1
add_pod 2
apply_yaml lat "$(service_yaml lat ClusterIP $VIP 0)
---
$(slice_yaml lat IPv4 "$POD2")"
wait_svc lat 1

# ---------------------------------------------------------------------------------------------
# The kernel variant: same lab topology under another name, veth-wired pods, kube-proxy rules.
log "kernel lab $KLAB: up, veth-wired pods, kernel forwarding, kube-proxy rules ($IPT)"
kernel_lab_up
kernel_pod 1
kernel_pod 2
# Its uplink path (pod_to_outside) as podlane's: the node's uplink veth and the gateway's peer.
copy_offloads "$NODE" "pl-$(lab_uplink_if)" "$KNODE" "$(lab_uplink_if)"
copy_offloads "$GW" "$(lab_gw_if 1)" "$KGW" "$(lab_gw_if 1)"
# kube-proxy's iptables mode for Service test/lat (port http 80 -> 8080, one endpoint): the
# chains and rules it writes for a ClusterIP service (chain names shortened, not its hashes).
ip netns exec "$KNODE" "$IPT_RESTORE" --noflush <<EOT || fail "kernel lab: $IPT_RESTORE"
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SVC-TESTLATHTTP0000 - [0:0]
:KUBE-SEP-TESTLATHTTP0000 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d $VIP/32 -p tcp -m comment --comment "test/lat:http cluster IP" -m tcp --dport $VPORT -j KUBE-SVC-TESTLATHTTP0000
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-TESTLATHTTP0000 ! -s $CLUSTER_CIDR -d $VIP/32 -p tcp -m comment --comment "test/lat:http cluster IP" -m tcp --dport $VPORT -j KUBE-MARK-MASQ
-A KUBE-SVC-TESTLATHTTP0000 -m comment --comment "test/lat:http -> $POD2:$PORT" -j KUBE-SEP-TESTLATHTTP0000
-A KUBE-SEP-TESTLATHTTP0000 -s $POD2/32 -m comment --comment "test/lat:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-TESTLATHTTP0000 -p tcp -m comment --comment "test/lat:http" -m tcp -j DNAT --to-destination $POD2:$PORT
COMMIT
EOT
[ "$(ip netns exec "$KNODE" "$IPT_SAVE" -t nat | grep -c '^-A KUBE-')" -ge 9 ] ||
	fail "kernel lab: kube-proxy rules not loaded"

# ---------------------------------------------------------------------------------------------
# Both variants: servers, clients' namespaces, reachability.
declare -A CNS SNS GNS
CNS[podlane]=$(lab_pod_ns 1 1)
SNS[podlane]=$(lab_pod_ns 1 2)
GNS[podlane]=$GW
CNS[kernel]=$(klab lab_pod_ns 1 1)
SNS[kernel]=$(klab lab_pod_ns 1 2)
GNS[kernel]=$KGW
declare -A DST=([pod_to_pod]="$POD2 $PORT" [pod_to_clusterip]="$VIP $VPORT"
	[pod_to_outside]="$OUTSIDE $PORT")
CASES="pod_to_pod pod_to_clusterip pod_to_outside"
listening() { ip netns exec "$1" ss -ltnH "sport = :$PORT" | grep -q .; }
for v in podlane kernel; do
	ip netns exec "${CNS[$v]}" sysctl -qw net.ipv4.tcp_tw_reuse=1 || fail "$v: tcp_tw_reuse"
	ip netns exec "${SNS[$v]}" "$TOOL" serve "$POD2" $PORT 2>>"$T_DIR/server.log" &
	SERVER_PIDS+=($!)
	ip netns exec "${GNS[$v]}" "$TOOL" serve "$OUTSIDE" $PORT 2>>"$T_DIR/server.log" &
	SERVER_PIDS+=($!)
	wait_for 10 "$v: server in pod 2" listening "${SNS[$v]}" || fail "$v: server in pod 2"
	wait_for 10 "$v: server outside" listening "${GNS[$v]}" || fail "$v: server outside"
	for c in $CASES; do
		# shellcheck disable=SC2086 # DST: address and port
		reach() { ip netns exec "${CNS[$1]}" "$TOOL" crr ${DST[$2]} --seconds=0.01 --warmup=0; }
		wait_for 20 "$v: $c answers" reach "$v" "$c" || fail "$v: $c (${DST[$c]}) does not answer"
	done
	log "$v: pod 1 reaches pod 2, the ClusterIP and the outside"
done

# ---------------------------------------------------------------------------------------------
# The conditions: offloads of every interface on the paths, both variants.
{
	offloads "${CNS[podlane]}" eth0 "podlane pod 1 (tun)"
	offloads "${SNS[podlane]}" eth0 "podlane pod 2 (tun)"
	for l in $(node_links "$NODE"); do offloads "$NODE" "$l" "podlane node"; done
	offloads "$GW" "$(lab_gw_if 1)" "podlane lab gateway"
	offloads "${CNS[kernel]}" eth0 "kernel pod 1 (veth)"
	offloads "${SNS[kernel]}" eth0 "kernel pod 2 (veth)"
	for l in $(node_links "$KNODE"); do offloads "$KNODE" "$l" "kernel node"; done
	offloads "$KGW" "$(lab_gw_if 1)" "kernel lab gateway"
} >"$T_DIR/offloads.jsonl"
jq -sc --argjson runs "$RUNS" --argjson secs "$SECS" --argjson lsecs "$LOW_SECS" \
	--argjson rate "$LOW_RATE" --argjson size "$SIZE" --arg ipt "$IPT" \
	--arg machine "$(bench_machine)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--argjson others "$(pgrep -f '/podlane-supervisor -c ' | grep -cvx "$SUP_PID" || true)" \
	--arg spin "${PODLANE_BENCH_IDLE_SPIN_US:-default}" --arg fast "${PODLANE_BENCH_FAST_PATH:-default}" '
	{bench: "latency", conditions: {message_bytes: $size, runs: $runs,
	 podlane_pipeline: {idle_spin_us: $spin, fast_path: $fast},
	 load: {rate: "back to back, one request outstanding", seconds_per_run: $secs},
	 low: {requests_per_second: $rate, seconds_per_run: $lsecs,
		note: "podlane and kernel clients run at the same time, each in its own lab"},
	 tcp_nodelay: true, client_tcp_tw_reuse: 1, iptables: $ipt, ip_family: "IPv4",
	 machine: $machine, loadavg: $load, other_podlane_instances: $others,
	 offloads: .}}' "$T_DIR/offloads.jsonl" | tee -a "$OUT"

# ---------------------------------------------------------------------------------------------
# Measurements.
# client VARIANT CASE TEST LOAD RUN: the tool in pod 1, in the background (BG_PIDS), JSON to
# $T_DIR/r.V.C.T.L.R.json, samples to the same name .ns.
client_start() {
	local v=$1 c=$2 t=$3 l=$4 r=$5 f=$T_DIR/r.$1.$2.$3.$4.$5 args
	if [ "$l" = low ]; then
		args=(--seconds="$LOW_SECS" --rate="$LOW_RATE")
	else
		args=(--seconds="$SECS")
	fi
	# shellcheck disable=SC2086 # DST: address and port
	timeout -k 5 $((LOW_SECS + SECS + 60)) ip netns exec "${CNS[$v]}" "$TOOL" "$t" ${DST[$c]} \
		--size="$SIZE" --samples="$f.ns" "${args[@]}" >"$f.json" 2>>"$T_DIR/client.err" &
	BG_PIDS+=($!)
}
client_report() { # VARIANT CASE TEST LOAD RUN
	local f=$T_DIR/r.$1.$2.$3.$4.$5
	jq -c --arg v "$1" --arg c "$2" --arg t "$3" --arg l "$4" --argjson r "$5" \
		'{bench: "latency", variant: $v, path: $c, test: $t, load: $l, run: $r} + .' "$f.json"
	jq -e '.errors == 0' "$f.json" >/dev/null ||
		log "WARNING: $1 $2 $3 $4 run $5: $(jq .errors "$f.json") requests failed"
}
# measure LOAD CASE TEST RUN VARIANT...: the variants one after the other (load) or at the same
# time (low); a line each.
measure() {
	local l=$1 c=$2 t=$3 r=$4 v p
	shift 4
	if [ "$l" = low ]; then
		for v in "$@"; do client_start "$v" "$c" "$t" "$l" "$r"; done
		for p in "${BG_PIDS[@]}"; do wait "$p" || fail "$c $t $l run $r: client failed: $(tail -2 "$T_DIR/client.err")"; done
		BG_PIDS=()
	else
		for v in "$@"; do
			client_start "$v" "$c" "$t" "$l" "$r"
			wait "${BG_PIDS[0]}" || fail "$v $c $t $l run $r: client failed: $(tail -2 "$T_DIR/client.err")"
			BG_PIDS=()
		done
	fi
	for v in "$@"; do
		[ "$r" = 0 ] || client_report "$v" "$c" "$t" "$l" "$r" >>"$OUT"
		[ "$r" = 0 ] || tail -n 1 "$OUT"
	done
}

# Warm-up (not reported): neighbours, conntrack and session tables, caches, the scheduler.
for c in $CASES; do
	for t in rr crr; do
		SECS=1 measure load "$c" "$t" 0 podlane kernel
	done
done
log "warm-up done; $RUNS runs: ${SECS}s back to back, ${LOW_SECS}s at $LOW_RATE/s, $SIZE-byte messages"

for ((r = 1; r <= RUNS; r++)); do
	order=(podlane kernel)
	((r % 2)) || order=(kernel podlane)
	for c in $CASES; do
		for t in rr crr; do
			measure load "$c" "$t" "$r" "${order[@]}"
			measure low "$c" "$t" "$r" "${order[@]}"
		done
	done
done

# ---------------------------------------------------------------------------------------------
# Cross-check of the tool (when sockperf is installed): sockperf ping-pong over TCP, pod 1 ->
# pod 2, back to back, one run a variant (not in the summaries). Its low-rate mode is not used:
# sockperf paces --mps by spinning (a whole core busy at --mps=10), which on a 2-core machine
# would starve podlane's stages.
if command -v sockperf >/dev/null 2>&1; then
	for v in podlane kernel; do
		ip netns exec "${SNS[$v]}" sockperf server --tcp -i "$POD2" -p $SP_PORT \
			>>"$T_DIR/sockperf-server.log" 2>&1 &
		SERVER_PIDS+=($!)
		sp_listening() { ip netns exec "$1" ss -ltnH "sport = :$SP_PORT" | grep -q .; }
		wait_for 10 "$v: sockperf server" sp_listening "${SNS[$v]}" || fail "$v: sockperf server"
	done
	for v in podlane kernel; do
		f=$T_DIR/sockperf.$v.txt
		timeout -k 5 $((SECS + 60)) ip netns exec "${CNS[$v]}" sockperf ping-pong --tcp \
			-i "$POD2" -p $SP_PORT -t "$SECS" -m "$SIZE" --full-rtt >"$f" 2>&1 &
		BG_PIDS+=($!)
		wait "${BG_PIDS[0]}" || fail "$v: sockperf ping-pong failed: $(tail -3 "$f")"
		BG_PIDS=()
		sed 's/\x1b\[[0-9;]*m//g' "$f" | awk -v v="$v" -v size="$SIZE" '
			/Total [0-9]+ observations/ { for (i = 1; i <= NF; i++) if ($i == "Total") n = $(i + 1) }
			/percentile 50.000 =/ { p50 = $NF }
			/percentile 99.000 =/ { p99 = $NF }
			/percentile 99.900 =/ { p999 = $NF }
			/<MAX> observation =/ { max = $NF }
			END { if (n == "" || p50 == "") exit 1
				printf "{\"bench\":\"latency\",\"variant\":\"%s\",\"path\":\"pod_to_pod\",\"test\":\"rr_sockperf\",\"load\":\"load\",\"tool\":\"sockperf ping-pong --tcp --full-rtt\",\"message_bytes\":%s,\"requests\":%s,\"p50_us\":%s,\"p99_us\":%s,\"p999_us\":%s,\"max_us\":%s}\n", v, size, n, p50, p99, (n >= 1000 ? p999 : "null"), max }' \
			>>"$OUT" || fail "$v: cannot read sockperf's output: $(tail -5 "$f")"
		tail -n 1 "$OUT"
	done
else
	log "sockperf not installed: no cross-check ('./podlane setup' installs it)"
fi

# ---------------------------------------------------------------------------------------------
# Summary per path, test and load.
for c in $CASES; do
	for t in rr crr; do
		for l in load low; do
			pooled=$(for v in podlane kernel; do
				# shellcheck disable=SC2046 # the run files
				"$TOOL" pct $(for ((r = 1; r <= RUNS; r++)); do echo "$T_DIR/r.$v.$c.$t.$l.$r.ns"; done) |
					jq -c --arg v "$v" '{($v): .}'
			done | jq -sc add)
			jq -sc --arg c "$c" --arg t "$t" --arg l "$l" --argjson pooled "$pooled" '
				def median: sort | if length == 0 then null elif length % 2 == 1
					then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
				def runs(v): [.[] | select(.variant == v and .path == $c and .test == $t and
					.load == $l)];
				def med(v; f): [runs(v)[] | .[f] | select(. != null)] |
					if length == 0 then null else median * 10 | round / 10 end;
				def ratio(a; b): if a == null or b == null or b == 0 then null
					else (a / b * 1000 | round / 1000) end;
				def pair(f): {podlane: med("podlane"; f), kernel: med("kernel"; f)};
				pair("p50_us") as $p50 | pair("p99_us") as $p99 | pair("p999_us") as $p999 |
				{summary: "latency", path: $c, test: $t, load: $l,
				 p50_us_median: $p50, p99_us_median: $p99, p999_us_median: $p999,
				 p999_runs_with_1000_requests: {
					podlane: [runs("podlane")[] | select(.p999_us != null)] | length,
					kernel: [runs("kernel")[] | select(.p999_us != null)] | length},
				 ratio_podlane_to_kernel: {p50: ratio($p50.podlane; $p50.kernel),
					p99: ratio($p99.podlane; $p99.kernel),
					p999: ratio($p999.podlane; $p999.kernel),
					pooled_p50: ratio($pooled.podlane.p50_us; $pooled.kernel.p50_us),
					pooled_p99: ratio($pooled.podlane.p99_us; $pooled.kernel.p99_us)},
				 pooled: ($pooled | map_values({requests, p50_us, p99_us, p999_us, max_us})),
				 achieved_rps_median: pair("achieved_rps"),
				 errors: {podlane: ([runs("podlane")[].errors] | add),
					kernel: ([runs("kernel")[].errors] | add)},
				 runs: (runs("podlane") | length)}' "$OUT" >"$T_DIR/summary.json"
			cat "$T_DIR/summary.json" >>"$OUT"
			tail -n 1 "$OUT"
		done
	done
done
restarts=$(counter supervisor restarts)
[ "$restarts" = 0 ] || log "WARNING: podlane services restarted $restarts times during the bench"
jq -cn --argjson s $((($(date +%s%N) - BENCH_T0) / 1000000)) --argjson restarts "$restarts" \
	'{bench: "latency", wall_seconds: ($s / 1000), podlane_restarts: $restarts}'
log "done"
