#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Malformed frames sent from the gateway with scapy (truncated headers, bad IHL and total
# length, bad checksums, broken IPv6 extension-header chains, runts, jumbos, frames for another
# MAC) are dropped and counted by reason; podlane stays up and good traffic keeps flowing.
. "$(dirname "$0")/node_lib.sh"

COUNT=5
node_lab_up 9000
node_config
start_node_podlane
add_pod 1
P1=$(lab_pod_ns 1 1)
ping_pod() { in_gw ping -c 1 -W 1 "$(lab_pod_v4 1 1)" >/dev/null; }
wait_for 20 "gateway -> pod" ping_pod || fail "no connectivity"

MAC=$(in_node ip -j link show pl-eth0 | jq -r '.[0].address')
before=$(ctl -s io-worker -j counters/show)
pids_before=$(ctl -j services/show | jq -c '[.[] | .pid]')
# Good traffic alongside the junk.
in_gw ping -c 40 -i 0.05 -W 1 "$(lab_pod_v4 1 1)" >"$T_DIR/ping.out" 2>&1 &
PING=$!
sent=$(in_gw /usr/bin/python3 "$(dirname "$0")/send_malformed.py" "$(lab_gw_if 1)" "$MAC" \
	"$(lab_pod_v4 1 1)" "$(lab_pod_v6 1 1)" "$COUNT") || fail "scapy failed"
wait "$PING" || true
log "sent: $sent"
exp_malformed=$(jq .malformed <<<"$sent")
exp_oversize=$(jq .jumbo <<<"$sent")
if [ "$DRIVER" = af_packet ]; then
	exp_malformed=$((exp_malformed + exp_oversize))
	exp_oversize=0
fi
counted() {
	local after
	after=$(ctl -s io-worker -j counters/show)
	[ $(($(jq .drop_malformed <<<"$after") - $(jq .drop_malformed <<<"$before"))) -eq "$exp_malformed" ] &&
		[ $(($(jq .rx_oversize <<<"$after") - $(jq .rx_oversize <<<"$before"))) -eq "$exp_oversize" ] &&
		[ $(($(jq .rx_other_mac <<<"$after") - $(jq .rx_other_mac <<<"$before"))) -eq "$COUNT" ]
}
wait_for 20 "every malformed frame counted by reason" counted || {
	ctl -s io-worker counters/show >&2
	fail "counters do not match what was sent"
}
[ "$(ctl -j services/show | jq -c '[.[] | .pid]')" = "$pids_before" ] || fail "a service restarted"
ctl status >/dev/null || fail "podlane not healthy"
grep -q " 0% packet loss" "$T_DIR/ping.out" || fail "good traffic lost packets: $(tail -2 "$T_DIR/ping.out")"
ping_pod || fail "no connectivity after the junk"
after=$(ctl -s io-worker -j counters/show)
log "drop_malformed +$(($(jq .drop_malformed <<<"$after") - $(jq .drop_malformed <<<"$before"))), rx_oversize +$exp_oversize, rx_other_mac +$COUNT; ping: $(grep -o '[0-9]*% packet loss' "$T_DIR/ping.out")"
log "PASS"
