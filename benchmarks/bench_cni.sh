#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CNI benchmark (JSON lines on stdout): ADD and DEL latency of the podlane-cni plugin, invoked as
# a runtime does (environment + stdin, host-local IPAM), for PODLANE_BENCH_PODS (100) pods,
# sequentially and PODLANE_BENCH_PARALLEL (10) at a time; p50 and p99 per operation, and the
# same for host-local IPAM alone in the same run (the baseline: what any CNI plugin pays).
. "$(dirname "$0")/../tests/lib.sh"

PODS=${PODLANE_BENCH_PODS:-100}
PAR=${PODLANE_BENCH_PARALLEL:-10}
PLUGIN=$BUILD_DIR/tools/podlane-cni
write_config "cni:
  socket: $T_DIR/cni.sock
pods:
  max_pods: $((PODS + 16))
  state_file: $T_DIR/pods.json"
start_supervisor >/dev/null

mkdir -p "$T_DIR/ipam" "$T_DIR/ipam0"
conf() { # TYPE DATADIR
	cat <<EOC
{"cniVersion":"1.0.0","name":"bench","type":"$1","socket":"$T_DIR/cni.sock",
 "ipam":{"type":"host-local","dataDir":"$2","ranges":[[{"subnet":"10.250.0.0/16"}]],
 "routes":[{"dst":"0.0.0.0/0"}]}}
EOC
}
NS=()
for ((i = 0; i < PODS; i++)); do
	ns="plb$$_$i"
	ip netns add "$ns"
	NS+=("$ns")
done
trap 'rc=$?; for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done; cleanup' EXIT

# one CNI call: prints its wall time in microseconds, fails loudly
call() { # COMMAND BINARY TYPE DATADIR NS ID
	local t0 t1 out
	t0=$(date +%s%N)
	out=$(conf "$3" "$4" | CNI_COMMAND=$1 CNI_CONTAINERID=$6 CNI_NETNS=/var/run/netns/$5 \
		CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni:$(dirname "$PLUGIN") "$2") ||
		fail "$1 $6 failed: $out"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
run() { # VARIANT COMMAND BINARY TYPE DATADIR PARALLEL
	local v=$1 cmd=$2 bin=$3 type=$4 dir=$5 par=$6 out=$T_DIR/lat.$1.$2.$6
	: >"$out"
	for ((i = 0; i < PODS; i += par)); do
		local jobs=()
		for ((j = i; j < i + par && j < PODS; j++)); do
			call "$cmd" "$bin" "$type" "$dir" "${NS[$j]}" "c$j" >>"$out" &
			jobs+=($!)
		done
		wait "${jobs[@]}" # not a bare wait: the supervisor is a child too
	done
	sort -n "$out" | jq -sc --arg v "$v" --arg op "$cmd" --argjson par "$par" \
		'{bench: "cni", variant: $v, op: $op, parallel: $par, pods: length,
		  p50_us: .[(length * 0.5 | floor)], p99_us: .[(length * 0.99 | floor)], max_us: .[-1]}'
}
for par in 1 "$PAR"; do
	run podlane ADD "$PLUGIN" podlane-cni "$T_DIR/ipam" "$par"
	[ "$(ctl -j pods | jq length)" -eq "$PODS" ] || fail "not $PODS pods after ADD"
	run podlane DEL "$PLUGIN" podlane-cni "$T_DIR/ipam" "$par"
	[ "$(ctl -j pods | jq length)" -eq 0 ] || fail "pods left after DEL"
	run host-local ADD /usr/lib/cni/host-local host-local "$T_DIR/ipam0" "$par"
	run host-local DEL /usr/lib/cni/host-local host-local "$T_DIR/ipam0" "$par"
done
