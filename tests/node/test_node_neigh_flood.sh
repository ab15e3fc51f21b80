#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Neighbour hardening (ARP and IPv6 ND on the uplink; rules in services/io-worker/
# ioworker_neigh.h and ioworker_l2.c). From the gateway, scapy floods the node with thousands
# of ARP replies, gratuitous ARPs and neighbour advertisements nobody asked for, from random
# addresses on and off the node's subnets, claiming the node's own addresses, the gateway's
# (with other MACs) and a neighbour's the node has not asked for yet, plus invalid MACs and
# requests from made-up senders (send_neigh_flood.py, paced so that io-worker takes every
# frame). Then:
# - each refusal is counted by reason (neigh_refused_unsolicited, neigh_refused_offlink,
#   neigh_address_conflict, neigh_refused_mac_change, neigh_refused_bad_mac), at least once per
#   frame of its kinds;
# - the neighbour table holds only what the node asked for: the gateway, with its real MAC, and
#   nothing of the flood's addresses, nor the node's own;
# - pod -> outside through the gateway (IPv4 and IPv6) lost no packet during the flood;
# - a new neighbour on the link (a namespace added after the flood, whose addresses the flood
#   claimed with other MACs) is resolved to its real MAC when a pod talks to it;
# - the table is bounded (neighbor.max_entries: 16): a pod sending to 40 addresses of the
#   subnet that do not exist fills it with entries being resolved; further ones are refused
#   (neigh_table_full), the entries in use (gateway, neighbour) stay and keep working, and once
#   the unanswered ones time out another new neighbour resolves.
. "$(dirname "$0")/node_lib.sh"

SCALE=${PODLANE_NEIGH_FLOOD_SCALE:-500}
PEER="$PODLANE_LAB-peer"
node_lab_up
node_config "neighbor:
  max_entries: 16"
start_node_podlane
add_pod 1

GW4=$(lab_gw_v4 1)
GW6=$(lab_gw_v6 1)
OUT4=$(lab_outside_v4)
OUT6=$(lab_outside_v6)
NODE4=$(lab_uplink_v4 1)
NODE6=$(lab_uplink_v6 1)
NEW4=10.99.1.77
NEW6=fd99:1::77
GW_MAC=$(in_gw ip -j link show "$(lab_gw_if 1)" | jq -r '.[0].address')
NODE_MAC=$(in_node ip -j link show pl-eth0 | jq -r '.[0].address')

to_outside() { in_pod 1 ping -q -c 1 -W 1 "$OUT4" >/dev/null && in_pod 1 ping -6 -q -c 1 -W 1 "$OUT6" >/dev/null; }
wait_for 30 "pod -> outside (IPv4 and IPv6)" to_outside || fail "no connectivity to the outside"
neigh() { ctl -s io-worker -j neigh/show; }
# The entry for ADDRESS, resolved, with MAC.
resolved_to() { neigh | jq -e --arg a "$1" --arg m "$2" 'any(.[]; .address == $a and .mac == $m and (.state == "reachable" or .state == "probe"))' >/dev/null; }
gw_ok() { resolved_to "$GW4" "$GW_MAC" && resolved_to "$GW6" "$GW_MAC"; }
gw_ok || fail "gateway not resolved: $(neigh)"

# Rounds of 20 pings (IPv4 and IPv6) to the outside while FLOOD_PID runs; a round that does
# not get all 20 answers fails the test. Prints the number of rounds.
ping_rounds() {
	local rounds=0
	while kill -0 "$1" 2>/dev/null; do
		in_pod 1 ping -q -c 20 -i 0.05 -w 30 "$OUT4" >"$T_DIR/ping4" 2>&1 ||
			fail "pod -> outside (IPv4) lost packets: $(tail -2 "$T_DIR/ping4")"
		in_pod 1 ping -6 -q -c 20 -i 0.05 -w 30 "$OUT6" >"$T_DIR/ping6" 2>&1 ||
			fail "pod -> outside (IPv6) lost packets: $(tail -2 "$T_DIR/ping6")"
		rounds=$((rounds + 1))
	done
	echo "$rounds"
}

before=$(ctl -s io-worker -j counters/show)
pids_before=$(ctl -j services/show | jq -c '[.[] | .pid]')
in_gw /usr/bin/python3 "$(dirname "$0")/send_neigh_flood.py" "$(lab_gw_if 1)" "$NODE_MAC" \
	"$NODE4" "$NODE6" "$GW4" "$GW6" "$NEW4" "$NEW6" "$SCALE" "$CTL" "$T_CONF" >"$T_DIR/flood.json" &
FLOOD=$!
rounds=$(ping_rounds "$FLOOD")
wait "$FLOOD" || fail "the flood failed"
sent=$(cat "$T_DIR/flood.json")
log "flood: $(jq -c '{frames, seconds}' <<<"$sent"), $((rounds * 40)) pings to the outside meanwhile, none lost"
log "frames by kind: $(jq -c .kinds <<<"$sent")"

# Every frame counted under its reason. More is possible only from the lab itself (a few
# frames); fewer would mean a frame taught or was answered where it should not have been.
after=$(ctl -s io-worker -j counters/show)
delta() { echo $(($(jq ".$1" <<<"$after") - $(jq ".$1" <<<"$before"))); }
for c in $(jq -r '.expect | keys[]' <<<"$sent"); do
	want=$(jq ".expect.$c" <<<"$sent")
	got=$(delta "$c")
	log "$c: +$got (frames of its kinds: $want)"
	if [ "$got" -lt "$want" ] || [ "$got" -gt $((want + 10)) ]; then fail "$c: +$got, expected $want"; fi
done

# Nothing learned but what was asked for, the gateway still at its own MAC.
table=$(neigh)
log "neighbour table after the flood: $(jq -c '[.[] | {address, mac, state}]' <<<"$table")"
jq -e --arg g4 "$GW4" --arg g6 "$GW6" 'all(.[]; .address == $g4 or .address == $g6)' <<<"$table" >/dev/null ||
	fail "learned from the flood: $(jq -c --arg g4 "$GW4" --arg g6 "$GW6" '[.[] | select(.address != $g4 and .address != $g6)]' <<<"$table")"
gw_ok || fail "gateway entries changed: $table"
[ "$(ctl -j services/show | jq -c '[.[] | .pid]')" = "$pids_before" ] || fail "a service restarted"
ctl status >/dev/null || fail "podlane not healthy"

# A new neighbour on the link: a namespace with a macvlan on the gateway's side of the uplink.
ip netns add "$PEER" || fail "netns $PEER"
ip netns exec "$PEER" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
in_gw ip link add peer0 link "$(lab_gw_if 1)" type macvlan mode bridge || fail "macvlan"
in_gw ip link set peer0 netns "$PEER" || fail "macvlan to $PEER"
in_peer() { ip netns exec "$PEER" "$@"; }
in_peer ip link set lo up
in_peer ip addr add "$NEW4/24" dev peer0
in_peer ip addr add "$NEW6/64" dev peer0 nodad
in_peer ip link set peer0 up
in_peer ip route add "$(lab_pod_cidr_v4 1)" via "$NODE4"
in_peer ip -6 route add "$(lab_pod_cidr_v6 1)" via "$NODE6"
PEER_MAC=$(in_peer ip -j link show peer0 | jq -r '.[0].address')
to_peer() { in_pod 1 ping -q -c 1 -W 1 "$NEW4" >/dev/null && in_pod 1 ping -6 -q -c 1 -W 1 "$NEW6" >/dev/null; }
wait_for 20 "pod -> new neighbour $NEW4, $NEW6" to_peer || fail "new neighbour not reachable: $(neigh)"
peer_ok() { resolved_to "$NEW4" "$PEER_MAC" && resolved_to "$NEW6" "$PEER_MAC"; }
peer_ok || fail "new neighbour not resolved to its MAC $PEER_MAC: $(neigh)"
log "new neighbour $NEW4 / $NEW6 resolved to its own MAC $PEER_MAC"

# A bounded table: 40 next hops that never answer, while the pod keeps talking to the outside.
before=$(ctl -s io-worker -j counters/show)
cat >"$T_DIR/spray.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(100, 140):
    s.sendto(b"x", ("10.99.1.%d" % i, 9))
PY
in_pod 1 /usr/bin/python3 "$T_DIR/spray.py" &
SPRAY=$!
rounds=$(ping_rounds "$SPRAY")
wait "$SPRAY" || fail "spray failed"
in_pod 1 ping -q -c 20 -i 0.05 -w 30 "$OUT4" >/dev/null || fail "pod -> outside lost packets with the table full"
after=$(ctl -s io-worker -j counters/show)
table=$(neigh)
log "with 40 unanswered next hops: $(jq length <<<"$table") entries ($(jq '[.[] | select(.state == "incomplete")] | length' <<<"$table") incomplete), neigh_table_full +$(delta neigh_table_full), neigh_evicted +$(delta neigh_evicted)"
[ "$(jq length <<<"$table")" -le 16 ] || fail "table over its bound: $table"
[ "$(delta neigh_table_full)" -ge 1 ] || fail "the table never filled: $table"
for a in "$GW4 $GW_MAC" "$GW6 $GW_MAC" "$NEW4 $PEER_MAC" "$NEW6 $PEER_MAC"; do
	# shellcheck disable=SC2086 # address and MAC
	resolved_to $a || fail "entry in use lost or changed ($a): $table"
done
to_peer || fail "neighbour lost with the table full"
# Once the unanswered entries time out, there is room again.
no_incomplete() { neigh | jq -e 'all(.[]; .state != "incomplete")' >/dev/null; }
wait_for 20 "unanswered entries timed out" no_incomplete || fail "incomplete entries stay: $(neigh)"
in_peer ip addr add 10.99.1.78/24 dev peer0
to_new() { in_pod 1 ping -q -c 1 -W 1 10.99.1.78 >/dev/null; }
wait_for 20 "pod -> 10.99.1.78" to_new || fail "no new neighbour after the table emptied: $(neigh)"
resolved_to 10.99.1.78 "$PEER_MAC" || fail "10.99.1.78 not resolved to $PEER_MAC: $(neigh)"
[ "$(ctl -j services/show | jq -c '[.[] | .pid]')" = "$pids_before" ] || fail "a service restarted"
log "PASS"
