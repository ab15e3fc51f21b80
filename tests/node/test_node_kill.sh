#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 of io-worker, and separately of router, during a TCP transfer: the transfer
# completes and its content is verified (TCP retransmits what was lost while the process
# restarted; pod tuns and the host tap are persistent devices).
. "$(dirname "$0")/node_lib.sh"

# Long enough that the kill lands mid-stream: with super-packets 100 MB pass in a fraction of a second.
BYTES=${PODLANE_XFER_BYTES:-419430400}
node_lab_up
node_config
start_node_podlane
add_pod 1
add_pod 2
P1=$(lab_pod_ns 1 1)
P2=$(lab_pod_ns 1 2)
ping_ok() { ip netns exec "$P1" ping -c 1 -W 1 "$1" >/dev/null; }
wait_for 20 "pod1 -> outside" ping_ok "$(lab_outside_v4)" || fail "no connectivity"

kill_during() { # SERVICE FROM TO ADDR
	local svc=$1 from=$2 to=$3 addr=$4
	xfer "$from" "$to" "$addr" "$BYTES" >"$T_DIR/xfer.out" 2>"$T_DIR/xfer.err" &
	local job=$!
	local rx0
	# Packets io-worker took in: into the pipeline or through its fast path.
	taken() { echo $(($(counter io-worker rx_packets) + $(counter io-worker fast_path))); }
	rx0=$(taken)
	moving() { [ "$(taken)" -gt $((rx0 + 300)) ]; }
	wait_for 30 "transfer under way" moving || fail "transfer did not start"
	local pid
	pid=$(svc_field "$svc" pid)
	kill -9 "$pid"
	log "killed $svc (pid $pid) during the transfer to $addr"
	wait "$job" || fail "transfer during the $svc kill failed: $(cat "$T_DIR/xfer.err")"
	[ "$(cat "$T_DIR/xfer.out")" = "$BYTES" ] || fail "transfer incomplete"
	[ "$(svc_field "$svc" restarts)" -ge 1 ] || fail "$svc restart not counted"
	log "transfer completed and verified across the $svc restart"
}
kill_during io-worker "$P1" "$GW" "$(lab_outside_v4)"
kill_during router "$P2" "$P1" "$(lab_pod_v6 1 1)"
log "PASS"
