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

# The kill must land while the transfer is in flight: the receiver's connection has bytes
# right before the kill and is still open, short of the total, right after it.
kill_during() { # SERVICE FROM TO ADDR
	local svc=$1 from=$2 to=$3 addr=$4
	local port=$((XFER_PORT + 1)) # the port xfer takes (it runs in a subshell: keep count here)
	xfer "$from" "$to" "$addr" "$BYTES" >"$T_DIR/xfer.out" 2>"$T_DIR/xfer.err" &
	local job=$!
	XFER_PORT=$port
	received() { local b; b=$(tcp_rx_bytes "$to" "$port"); [ -n "$b" ] && [ "$b" -gt 1048576 ]; }
	wait_for 30 "transfer under way (1 MB received)" received || fail "transfer did not start"
	local pid before after
	pid=$(svc_field "$svc" pid)
	before=$(tcp_rx_bytes "$to" "$port")
	kill -9 "$pid"
	after=$(tcp_rx_bytes "$to" "$port")
	log "killed $svc (pid $pid) during the transfer to $addr: ${before:-no connection} bytes received right before, ${after:-no connection} right after"
	if [ -z "$before" ] || [ "$before" -eq 0 ]; then
		fail "the $svc kill did not land in the transfer: nothing received before it"
	fi
	if [ -z "$after" ] || [ "$after" -ge "$BYTES" ]; then
		fail "the $svc kill did not land in the transfer: it was over when the kill landed"
	fi
	wait "$job" || fail "transfer during the $svc kill failed: $(cat "$T_DIR/xfer.err")"
	[ "$(cat "$T_DIR/xfer.out")" = "$BYTES" ] || fail "transfer incomplete"
	[ "$(svc_field "$svc" restarts)" -ge 1 ] || fail "$svc restart not counted"
	log "transfer completed and verified across the $svc restart"
}
kill_during io-worker "$P1" "$GW" "$(lab_outside_v4)"
kill_during router "$P2" "$P1" "$(lab_pod_v6 1 1)"
log "PASS"
