#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Node benchmark (JSON lines on stdout, logs on stderr): pod-to-pod traffic on one node of the
# namespace lab, through podlane and, as the baseline measured in the same run, through the
# Linux kernel wired the way a veth-based CNI does it.
#   "podlane": lab node 1 with podlane on its uplink (as in tests/node), two pods with tun
#              interfaces added by `podlanectl pod add`.
#   "kernel":  a second lab (another name, same topology) without podlane: each pod gets a veth
#              pair to the node namespace; pod side eth0 with the pod's /32 and /128 and default
#              routes via 169.254.1.1 (scope-link /32 route first) and fe80::1, exactly the
#              routes podlane gives its pods; node side holds 169.254.1.1/32 and fe80::1/64 and
#              the /32 and /128 routes to the pod; the node forwards (IPv4 and IPv6)
#              (benchmarks/bench_lib.sh kernel_pod). The veths keep the offloads the kernel
#              gives them (checksum, TSO, GSO on; GRO as the veth driver defaults: off unless
#              XDP or `ethtool -K gro on`), as a veth CNI leaves them: nothing is turned off.
# Conditions, the first line: the offload state (ethtool -k: tx-checksumming,
# tcp-segmentation-offload, generic-segmentation-offload, generic-receive-offload) of every
# interface on both paths: podlane's pod tuns (and its node's links: the taken uplink pl-eth0,
# the host tap), the podlane lab gateway's veth (node_lab_up turns its tso, gso and tx
# checksumming off: the uplink's AF_PACKET socket would otherwise get unsegmented 64 KB TCP
# segments from it; pod-to-pod traffic does not cross it), and the kernel side's veths; also in
# the summary line.
# Measurements, pod1 -> pod2 over IPv4 with iperf3 (server in pod2's netns, client in pod1's):
#   tcp_pod_to_pod:   one TCP stream; gbps = receiver's bits per second / 1e9.
#   udp64_pod_to_pod: UDP, unlimited rate (-b 0), 18-byte payloads (-l 18): 46-byte IPv4
#                     packets (18 + 8 UDP + 20 IP), the IP packet of a 64-byte Ethernet frame.
#                     The pods' tun (podlane) carries them bare, their veth (kernel) as 60-byte
#                     frames (no FCS); what is counted is packets. pps = packets the receiver got
#                     (sent - lost) per second; loss_pct = lost / sent (iperf3's own counts).
# Both labs are up at once; runs alternate (podlane run 1, kernel run 1, podlane run 2, ...) so
# noise hits both alike. Summary: medians and podlane/kernel ratios.
#   PODLANE_BENCH_RUNS (default 3), PODLANE_BENCH_SECONDS (default 5)
. "$(dirname "$0")/../tests/node/node_lib.sh"
. "$(dirname "$0")/bench_lib.sh"

RUNS=${PODLANE_BENCH_RUNS:-3}
SECS=${PODLANE_BENCH_SECONDS:-5}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || fail "PODLANE_BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || fail "PODLANE_BENCH_SECONDS must be a positive integer (got '$SECS')"
command -v iperf3 >/dev/null 2>&1 ||
	fail "iperf3 is not installed (Debian package iperf3; './podlane setup' installs it)"
command -v jq >/dev/null 2>&1 || fail "jq is not installed ('./podlane setup' installs it)"

OUT=$T_DIR/results.jsonl
# The kernel variant's lab (podlane's is $PODLANE_LAB, from node_lib); the trap: iperf3
# processes and the kernel lab first, then podlane and its lab, the instance's files.
kernel_lab plk

# ---------------------------------------------------------------------------------------------
# The podlane variant: as tests/node/test_node_connectivity.sh.
log "podlane lab $PODLANE_LAB: up, podlane on node 1's uplink, two pods"
node_lab_up
node_config
start_node_podlane
add_pod 1
add_pod 2

# ---------------------------------------------------------------------------------------------
# The kernel variant: same lab topology under another name, pods wired by veth pairs.
log "kernel lab $KLAB: up, veth-wired pods, kernel forwarding"
kernel_lab_up
kernel_pod 1
kernel_pod 2

# ---------------------------------------------------------------------------------------------
# Both variants: namespaces and addresses.
declare -A SRC_NS DST_NS
SRC_NS[podlane]=$(lab_pod_ns 1 1)
DST_NS[podlane]=$(lab_pod_ns 1 2)
SRC_NS[kernel]=$(klab lab_pod_ns 1 1)
DST_NS[kernel]=$(klab lab_pod_ns 1 2)
DST4=$(lab_pod_v4 1 2)
DST6=$(lab_pod_v6 1 2)

# The conditions: offloads of every interface on both paths.
{
	offloads "${SRC_NS[podlane]}" eth0 "podlane pod 1 (tun)"
	offloads "${DST_NS[podlane]}" eth0 "podlane pod 2 (tun)"
	for l in $(node_links "$NODE"); do offloads "$NODE" "$l" "podlane node"; done
	offloads "$GW" "$(lab_gw_if 1)" "podlane lab gateway (node_lab_up turns tso, gso, tx off)"
	offloads "${SRC_NS[kernel]}" eth0 "kernel pod 1 (veth)"
	offloads "${DST_NS[kernel]}" eth0 "kernel pod 2 (veth)"
	for l in $(node_links "$KNODE"); do offloads "$KNODE" "$l" "kernel node"; done
} >"$T_DIR/offloads.jsonl"
# The baseline is a veth CNI's: its veths keep checksum offload, TSO and GSO.
jq -se 'all(.[] | select(.role | startswith("kernel")); [."tx-checksumming",
	."tcp-segmentation-offload", ."generic-segmentation-offload"] | all(startswith("on")))' \
	"$T_DIR/offloads.jsonl" >/dev/null ||
	fail "kernel baseline: a veth has checksum offload, TSO or GSO off: $(cat "$T_DIR/offloads.jsonl")"
jq -sc --arg machine "$(bench_machine)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	'{bench: "node", conditions: {machine: $machine, loadavg: $load, offloads: .}}' \
	"$T_DIR/offloads.jsonl" | tee -a "$OUT"

ping4() { ip netns exec "$1" ping -c 1 -W 1 "$2"; }
ping6() { ip netns exec "$1" ping -6 -c 1 -W 1 "$2"; }
for v in podlane kernel; do
	wait_for 20 "$v: pod1 -> pod2 (ICMP v4)" ping4 "${SRC_NS[$v]}" "$DST4" || fail "$v: pod1 cannot reach pod2 (v4)"
	wait_for 20 "$v: pod1 -> pod2 (ICMP v6)" ping6 "${SRC_NS[$v]}" "$DST6" || fail "$v: pod1 cannot reach pod2 (v6)"
	log "$v: pod1 -> pod2 reachable (v4 and v6)"
done

# iperf VARIANT OUTFILE SECONDS CLIENT_ARGS...: a one-off iperf3 server in pod2's netns, the
# client in pod1's; the client's JSON report goes to OUTFILE.
IPERF_PORT=5300
iperf() {
	local v=$1 out=$2 secs=$3
	shift 3
	local from=${SRC_NS[$v]} to=${DST_NS[$v]} srv cli
	IPERF_PORT=$((IPERF_PORT + 1))
	ip netns exec "$to" iperf3 -s -1 -B "$DST4" -p "$IPERF_PORT" >>"$T_DIR/iperf3-server.log" 2>&1 &
	srv=$!
	BG_PIDS+=("$srv")
	listening() { ip netns exec "$to" ss -ltnH "sport = :$IPERF_PORT" | grep -q .; }
	wait_for 10 "$v: iperf3 server listening" listening || fail "$v: iperf3 server did not start"
	# In the background so that a signal reaches the trap at once (the trap kills it).
	timeout -k 5 $((secs + 60)) ip netns exec "$from" \
		iperf3 -c "$DST4" -p "$IPERF_PORT" -t "$secs" -J "$@" >"$out" 2>>"$T_DIR/iperf3-client.log" &
	cli=$!
	BG_PIDS+=("$cli")
	if ! wait "$cli"; then
		fail "$v: iperf3 client failed: $(jq -r '.error // empty' "$out" 2>/dev/null) $(tail -3 "$T_DIR/iperf3-client.log")"
	fi
	server_gone() { ! kill -0 "$srv" 2>/dev/null; }
	if ! wait_for 15 "$v: iperf3 server exit" server_gone; then
		kill -KILL "$srv" 2>/dev/null || true
	fi
	wait "$srv" 2>/dev/null || true
	BG_PIDS=()
	if jq -e '.error' "$out" >/dev/null 2>&1; then fail "$v: iperf3: $(jq -r .error "$out")"; fi
}

tcp_run() { # VARIANT RUN
	local out=$T_DIR/tcp.$1.$2.json
	iperf "$1" "$out" "$SECS"
	jq -c --arg v "$1" --argjson run "$2" '
		{bench: "node", variant: $v, run: $run, test: "tcp_pod_to_pod",
		 gbps: (.end.sum_received.bits_per_second / 1e9 * 1000 | round / 1000),
		 retransmits: .end.sum_sent.retransmits,
		 seconds: (.end.sum_received.seconds * 1000 | round / 1000)}' "$out"
}

udp_run() { # VARIANT RUN
	local out=$T_DIR/udp.$1.$2.json
	iperf "$1" "$out" "$SECS" -u -b 0 -l 18
	jq -c --arg v "$1" --argjson run "$2" '
		(.end.sum_received // .end.sum) as $r |
		(.end.sum_sent // .end.sum) as $s |
		{bench: "node", variant: $v, run: $run, test: "udp64_pod_to_pod",
		 pps: (($r.packets - $r.lost_packets) / $r.seconds | round),
		 loss_pct: ($r.lost_percent * 100 | round / 100),
		 sent_pps: ($s.packets / $s.seconds | round),
		 packets_sent: $r.packets, packets_lost: $r.lost_packets,
		 udp_payload_bytes: 18, ip_packet_bytes: 46,
		 seconds: ($r.seconds * 1000 | round / 1000)}' "$out"
}

# Warm-up (not reported): neighbours resolved, pages touched, the scheduler settled.
for v in podlane kernel; do
	iperf "$v" "$T_DIR/warmup.$v.json" 1
done
log "warm-up done; $RUNS runs of ${SECS}s per variant and test"

for ((r = 1; r <= RUNS; r++)); do
	for v in podlane kernel; do
		# Not in a pipeline: the client must run in this shell, where the trap can see it.
		tcp_run "$v" "$r" >>"$OUT"
		tail -n 1 "$OUT"
		udp_run "$v" "$r" >>"$OUT"
		tail -n 1 "$OUT"
	done
done

jq -sc --arg machine "$(bench_machine)" --argjson runs "$RUNS" --argjson secs "$SECS" \
	--slurpfile off "$T_DIR/offloads.jsonl" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def med(v; t; f): [.[] | select(.variant == v and .test == t) | .[f]] | median;
	def r(d): if . == null then null else (. * d | round / d) end;
	def ratio(a; b): if a == null or b == null or b == 0 then null else (a / b * 10000 | round / 10000) end;
	(med("podlane"; "tcp_pod_to_pod"; "gbps") | r(1000)) as $pt |
	(med("kernel"; "tcp_pod_to_pod"; "gbps") | r(1000)) as $kt |
	(med("podlane"; "udp64_pod_to_pod"; "pps") | r(1)) as $pu |
	(med("kernel"; "udp64_pod_to_pod"; "pps") | r(1)) as $ku |
	{summary: "node",
	 tcp_gbps_median: {podlane: $pt, kernel: $kt},
	 udp64_pps_median: {podlane: $pu, kernel: $ku},
	 udp64_loss_pct_median: {podlane: (med("podlane"; "udp64_pod_to_pod"; "loss_pct") | r(100)),
		kernel: (med("kernel"; "udp64_pod_to_pod"; "loss_pct") | r(100))},
	 ratio_podlane_to_kernel: {tcp: ratio($pt; $kt), udp64: ratio($pu; $ku)},
	 offloads: ($off | map({role, ifname, kind, "tx-checksumming", "tcp-segmentation-offload",
		"generic-segmentation-offload", "generic-receive-offload"})),
	 machine: $machine, runs: $runs, seconds: $secs}' "$OUT"
log "done"
