#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Node benchmark (JSON lines on stdout, logs on stderr): pod traffic on one node of the
# namespace lab, pod to pod and pod to the outside over the node's uplink, through podlane and,
# as the baseline measured in the same run, through the Linux kernel wired the way a veth-based
# CNI does it.
#   "podlane": lab node 1 with podlane on its uplink (as in tests/node; uplink driver
#              PODLANE_UPLINK_DRIVER, default af_packet), two pods with tun interfaces added by
#              `podlanectl pod add`.
#   "kernel":  a second lab (another name, same topology) without podlane: each pod gets a veth
#              pair to the node namespace; pod side eth0 with the pod's /32 and /128 and default
#              routes via 169.254.1.1 (scope-link /32 route first) and fe80::1, exactly the
#              routes podlane gives its pods; node side holds 169.254.1.1/32 and fe80::1/64 and
#              the /32 and /128 routes to the pod; the node forwards (IPv4 and IPv6)
#              (benchmarks/bench_lib.sh kernel_pod). The pods' veths keep the offloads the
#              kernel gives them (checksum, TSO, GSO on; GRO as the veth driver defaults: off
#              unless XDP or `ethtool -K gro on`), as a veth CNI leaves them: nothing is turned
#              off. The node's uplink is the lab's veth eth0, its default routes via the gateway
#              (10.99.1.1, fd99:1::1), as tests/lab/lab.sh builds every lab node.
# To the outside: in both labs the gateway namespace holds the "outside" address 203.0.113.1
# (a dummy interface) and routes the node's pod CIDR 10.98.1.0/24 back to the node's uplink
# address (tests/lab/lab.sh), so pod addresses go out unchanged: neither variant SNATs (each run
# checks that the server saw pod 1's own address).
# The uplink path, the same in both variants: the node's uplink veth (podlane: the taken
# pl-eth0 that io-worker drives; kernel: eth0) and its peer n1 in the gateway namespace. With
# the af_packet uplink node_lab_up leaves the podlane lab gateway's veth as the kernel makes it
# (tx checksumming, TSO, GSO on, GRO off): io-worker takes and sends super-packets
# (PACKET_VNET_HDR). With af_xdp or dpdk it turns its tso, gso and tx checksumming off (those
# take MTU-sized frames only). The kernel lab's two uplink veths are then given the state the
# podlane lab's have (bench_lib.sh copy_offloads; with af_xdp or dpdk the kernel's uplink thus
# loses the same offloads: like for like, not a kernel node at its best), and the benchmark
# fails if the four offloads of the two uplink paths still differ.
# Conditions, the first line: the offload state (ethtool -k: tx-checksumming,
# tcp-segmentation-offload, generic-segmentation-offload, generic-receive-offload) of every
# interface on the paths of both variants: podlane's pod tuns, its node's links (the taken
# uplink pl-eth0, the host tap eth0), its lab gateway's n1; the kernel side's pod veths (both
# ends), its node's uplink eth0, its lab gateway's n1; the uplink driver; also in the summary
# line.
# Measurements over IPv4 with iperf3, the client always in pod 1's netns:
#   tcp_pod_to_pod:     to pod 2 (server in pod 2's netns); one TCP stream; gbps = receiver's
#                       bits per second / 1e9.
#   udp64_pod_to_pod:   to pod 2; UDP, unlimited rate (-b 0), 18-byte payloads (-l 18): 46-byte
#                       IPv4 packets (18 + 8 UDP + 20 IP), the IP packet of a 64-byte Ethernet
#                       frame. The pods' tun (podlane) carries them bare, their veth (kernel) as
#                       60-byte frames (no FCS); what is counted is packets. pps = packets the
#                       receiver got (sent - lost) per second; loss_pct = lost / sent (iperf3's
#                       own counts).
#   tcp_pod_to_outside: to 203.0.113.1 (server in the lab gateway's netns): through the node and
#                       over its uplink (podlane: io-worker's uplink port; kernel: the node's
#                       routing to eth0); one TCP stream; gbps as tcp_pod_to_pod.
# A run that moved nothing (no byte received; UDP: no packet), or whose iperf3 failed or
# reported an error, fails the benchmark: no line is written for it.
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
UPLINK=$(lab_uplink_if) # the node's uplink (podlane takes it as pl-$UPLINK)
GW_IF=$(lab_gw_if 1) # its peer in the gateway namespace
OUTSIDE=$(lab_outside_v4)
SRC4=$(lab_pod_v4 1 1)

# ---------------------------------------------------------------------------------------------
# The podlane variant: as tests/node/test_node_connectivity.sh.
log "podlane lab $PODLANE_LAB: up, podlane on node 1's uplink ($DRIVER), two pods"
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
# Its uplink path as podlane's: the node's uplink veth and the gateway's peer.
copy_offloads "$NODE" "pl-$UPLINK" "$KNODE" "$UPLINK"
copy_offloads "$GW" "$GW_IF" "$KGW" "$GW_IF"

# ---------------------------------------------------------------------------------------------
# Both variants: namespaces and addresses. Servers: "pod2" in pod 2 on its address, "outside"
# in the lab gateway on the outside address.
declare -A SRC_NS SRV_NS
SRC_NS[podlane]=$(lab_pod_ns 1 1)
SRV_NS[podlane.pod2]=$(lab_pod_ns 1 2)
SRV_NS[podlane.outside]=$GW
SRC_NS[kernel]=$(klab lab_pod_ns 1 1)
SRV_NS[kernel.pod2]=$(klab lab_pod_ns 1 2)
SRV_NS[kernel.outside]=$KGW
DST4=$(lab_pod_v4 1 2)
DST6=$(lab_pod_v6 1 2)
declare -A SRV_ADDR=([pod2]=$DST4 [outside]=$OUTSIDE)

# The conditions: offloads of every interface on the paths of both variants.
node_offloads() { # NS UPLINK UPLINK_ROLE OTHERS_ROLE: the node's links, its uplink named apart
	local l
	for l in $(node_links "$1"); do
		if [ "$l" = "$2" ]; then offloads "$1" "$l" "$3"; else offloads "$1" "$l" "$4"; fi
	done
}
{
	offloads "${SRC_NS[podlane]}" eth0 "podlane pod 1 (tun)"
	offloads "${SRV_NS[podlane.pod2]}" eth0 "podlane pod 2 (tun)"
	node_offloads "$NODE" "pl-$UPLINK" "podlane node uplink (taken veth)" "podlane node"
	offloads "$GW" "$GW_IF" "podlane lab gateway (uplink peer)"
	offloads "${SRC_NS[kernel]}" eth0 "kernel pod 1 (veth)"
	offloads "${SRV_NS[kernel.pod2]}" eth0 "kernel pod 2 (veth)"
	node_offloads "$KNODE" "$UPLINK" "kernel node uplink (veth)" "kernel node (pod veth)"
	offloads "$KGW" "$GW_IF" "kernel lab gateway (uplink peer)"
} >"$T_DIR/offloads.jsonl"
# The baseline's pods are a veth CNI's: their veths keep checksum offload, TSO and GSO.
jq -se 'all(.[] | select(.role | startswith("kernel pod") or startswith("kernel node (pod veth)"));
	[."tx-checksumming", ."tcp-segmentation-offload", ."generic-segmentation-offload"] |
	all(startswith("on")))' \
	"$T_DIR/offloads.jsonl" >/dev/null ||
	fail "kernel baseline: a pod veth has checksum offload, TSO or GSO off: $(cat "$T_DIR/offloads.jsonl")"
# The uplink path is the same in both labs.
jq -se 'def o(r): [.[] | select(.role == r) | ."tx-checksumming", ."tcp-segmentation-offload",
		."generic-segmentation-offload", ."generic-receive-offload"];
	(o("podlane node uplink (taken veth)") | length) == 4 and
	(o("podlane lab gateway (uplink peer)") | length) == 4 and
	o("podlane node uplink (taken veth)") == o("kernel node uplink (veth)") and
	o("podlane lab gateway (uplink peer)") == o("kernel lab gateway (uplink peer)")' \
	"$T_DIR/offloads.jsonl" >/dev/null ||
	fail "the uplink paths' offloads differ between the labs: $(cat "$T_DIR/offloads.jsonl")"
jq -sc --arg machine "$(bench_machine)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg driver "$DRIVER" '
	{bench: "node", conditions: {machine: $machine, loadavg: $load, podlane_uplink_driver: $driver,
	 uplink_offloads_same_in_both_labs: true, offloads: .}}' \
	"$T_DIR/offloads.jsonl" | tee -a "$OUT"

ping4() { ip netns exec "$1" ping -c 1 -W 1 "$2"; }
ping6() { ip netns exec "$1" ping -6 -c 1 -W 1 "$2"; }
for v in podlane kernel; do
	wait_for 20 "$v: pod1 -> pod2 (ICMP v4)" ping4 "${SRC_NS[$v]}" "$DST4" || fail "$v: pod1 cannot reach pod2 (v4)"
	wait_for 20 "$v: pod1 -> pod2 (ICMP v6)" ping6 "${SRC_NS[$v]}" "$DST6" || fail "$v: pod1 cannot reach pod2 (v6)"
	wait_for 20 "$v: pod1 -> outside (ICMP v4)" ping4 "${SRC_NS[$v]}" "$OUTSIDE" ||
		fail "$v: pod1 cannot reach the outside $OUTSIDE"
	log "$v: pod1 -> pod2 (v4 and v6) and -> outside (v4) reachable"
done

# iperf VARIANT TO OUTFILE SECONDS CLIENT_ARGS...: a one-off iperf3 server (TO: pod2 or
# outside), the client in pod1's netns; the client's JSON report goes to OUTFILE, the server's to
# OUTFILE.server. Fails on an iperf3 error, and unless the server saw pod 1's own address.
IPERF_PORT=5300
iperf() {
	local v=$1 to=$2 out=$3 secs=$4
	shift 4
	local from=${SRC_NS[$v]} sns=${SRV_NS[$v.$to]} addr=${SRV_ADDR[$to]} srv cli peer
	IPERF_PORT=$((IPERF_PORT + 1))
	ip netns exec "$sns" iperf3 -s -1 -J -B "$addr" -p "$IPERF_PORT" >"$out.server" \
		2>>"$T_DIR/iperf3-server.log" &
	srv=$!
	BG_PIDS+=("$srv")
	listening() { ip netns exec "$sns" ss -ltnH "sport = :$IPERF_PORT" | grep -q .; }
	wait_for 10 "$v: iperf3 server ($to) listening" listening || fail "$v: iperf3 server ($to) did not start"
	# In the background so that a signal reaches the trap at once (the trap kills it).
	timeout -k 5 $((secs + 60)) ip netns exec "$from" \
		iperf3 -c "$addr" -p "$IPERF_PORT" -t "$secs" -J "$@" >"$out" 2>>"$T_DIR/iperf3-client.log" &
	cli=$!
	BG_PIDS+=("$cli")
	if ! wait "$cli"; then
		fail "$v: iperf3 client (to $to) failed: $(jq -r '.error // empty' "$out" 2>/dev/null) $(tail -3 "$T_DIR/iperf3-client.log")"
	fi
	server_gone() { ! kill -0 "$srv" 2>/dev/null; }
	if ! wait_for 15 "$v: iperf3 server exit" server_gone; then
		kill -KILL "$srv" 2>/dev/null || true
	fi
	wait "$srv" 2>/dev/null || true
	BG_PIDS=()
	if jq -e '.error' "$out" >/dev/null 2>&1; then fail "$v: iperf3 (to $to): $(jq -r .error "$out")"; fi
	peer=$(jq -r '.start.accepted_connection.host // empty' "$out.server" 2>/dev/null) || peer=
	[ "$peer" = "$SRC4" ] ||
		fail "$v: the iperf3 server ($to) saw the client as '$peer', not pod 1's $SRC4 (SNAT?)"
}

# moved VARIANT TEST FIELD LINE: prints the result LINE, unless its FIELD is not above 0
# (nothing moved): then the benchmark fails.
moved() {
	jq -e --arg f "$3" '.[$f] > 0' <<<"$4" >/dev/null || fail "$1: $2 moved nothing: $4"
	printf '%s\n' "$4"
}

tcp_run() { # VARIANT TO TEST RUN
	local out=$T_DIR/tcp.$1.$2.$4.json line
	iperf "$1" "$2" "$out" "$SECS"
	line=$(jq -c --arg v "$1" --arg t "$3" --argjson run "$4" '
		{bench: "node", variant: $v, run: $run, test: $t,
		 gbps: (.end.sum_received.bits_per_second / 1e9 * 1000 | round / 1000),
		 bytes_received: .end.sum_received.bytes,
		 retransmits: .end.sum_sent.retransmits,
		 seconds: (.end.sum_received.seconds * 1000 | round / 1000)}' "$out") ||
		fail "$1: $3: cannot read $out"
	moved "$1" "$3" bytes_received "$line"
}

udp_run() { # VARIANT RUN
	local out=$T_DIR/udp.$1.$2.json line
	iperf "$1" pod2 "$out" "$SECS" -u -b 0 -l 18
	line=$(jq -c --arg v "$1" --argjson run "$2" '
		(.end.sum_received // .end.sum) as $r |
		(.end.sum_sent // .end.sum) as $s |
		{bench: "node", variant: $v, run: $run, test: "udp64_pod_to_pod",
		 pps: (($r.packets - $r.lost_packets) / $r.seconds | round),
		 loss_pct: ($r.lost_percent * 100 | round / 100),
		 sent_pps: ($s.packets / $s.seconds | round),
		 packets_sent: $r.packets, packets_lost: $r.lost_packets,
		 packets_received: ($r.packets - $r.lost_packets),
		 udp_payload_bytes: 18, ip_packet_bytes: 46,
		 seconds: ($r.seconds * 1000 | round / 1000)}' "$out") ||
		fail "$1: udp64_pod_to_pod: cannot read $out"
	moved "$1" udp64_pod_to_pod packets_received "$line"
}

# Warm-up (not reported): neighbours resolved, pages touched, the scheduler settled.
for v in podlane kernel; do
	iperf "$v" pod2 "$T_DIR/warmup.$v.pod2.json" 1
	iperf "$v" outside "$T_DIR/warmup.$v.outside.json" 1
done
log "warm-up done; $RUNS runs of ${SECS}s per variant and test"

for ((r = 1; r <= RUNS; r++)); do
	for v in podlane kernel; do
		# Not in a pipeline: the clients must run in this shell, where the trap can see them.
		tcp_run "$v" pod2 tcp_pod_to_pod "$r" >>"$OUT"
		tail -n 1 "$OUT"
		udp_run "$v" "$r" >>"$OUT"
		tail -n 1 "$OUT"
		tcp_run "$v" outside tcp_pod_to_outside "$r" >>"$OUT"
		tail -n 1 "$OUT"
	done
done

jq -sc --arg machine "$(bench_machine)" --argjson runs "$RUNS" --argjson secs "$SECS" \
	--arg driver "$DRIVER" --slurpfile off "$T_DIR/offloads.jsonl" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def med(v; t; f): [.[] | select(.variant == v and .test == t) | .[f]] | median;
	def r(d): if . == null then null else (. * d | round / d) end;
	def ratio(a; b): if a == null or b == null or b == 0 then null else (a / b * 10000 | round / 10000) end;
	(med("podlane"; "tcp_pod_to_pod"; "gbps") | r(1000)) as $pt |
	(med("kernel"; "tcp_pod_to_pod"; "gbps") | r(1000)) as $kt |
	(med("podlane"; "udp64_pod_to_pod"; "pps") | r(1)) as $pu |
	(med("kernel"; "udp64_pod_to_pod"; "pps") | r(1)) as $ku |
	(med("podlane"; "tcp_pod_to_outside"; "gbps") | r(1000)) as $po |
	(med("kernel"; "tcp_pod_to_outside"; "gbps") | r(1000)) as $ko |
	{summary: "node",
	 tcp_gbps_median: {podlane: $pt, kernel: $kt},
	 udp64_pps_median: {podlane: $pu, kernel: $ku},
	 udp64_loss_pct_median: {podlane: (med("podlane"; "udp64_pod_to_pod"; "loss_pct") | r(100)),
		kernel: (med("kernel"; "udp64_pod_to_pod"; "loss_pct") | r(100))},
	 tcp_pod_to_outside_gbps_median: {podlane: $po, kernel: $ko},
	 ratio_podlane_to_kernel: {tcp: ratio($pt; $kt), udp64: ratio($pu; $ku),
		tcp_pod_to_outside: ratio($po; $ko)},
	 podlane_uplink_driver: $driver,
	 offloads: ($off | map({role, ifname, kind, "tx-checksumming", "tcp-segmentation-offload",
		"generic-segmentation-offload", "generic-receive-offload"})),
	 machine: $machine, runs: $runs, seconds: $secs}' "$OUT"
log "done"
