#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ICMP errors from the router: TTL 1 -> time exceeded; a DF packet over the egress MTU ->
# fragmentation needed with that MTU (IPv6: packet too big); no route -> unreachable. The uplink
# MTU is 1400 while pods use 1500; the node has no default route, so the outside is unroutable.
. "$(dirname "$0")/node_lib.sh"

node_lab_up 1400
in_node ip route del default >/dev/null
in_node ip -6 route del default >/dev/null
node_config
start_node_podlane
add_pod 1
P1=$(lab_pod_ns 1 1)
GW4=$(lab_gw_v4 1)
GW6=$(lab_gw_v6 1)
NODE4=$(lab_uplink_v4 1)
NODE6=$(lab_uplink_v6 1)
reach() { ip netns exec "$P1" ping -c 1 -W 1 "$GW4" >/dev/null; }
wait_for 20 "pod -> gateway" reach || fail "no connectivity"

expect() { # DESCRIPTION PATTERN PING-ARGS...
	local what=$1 pattern=$2
	shift 2
	local out
	out=$(ip netns exec "$P1" ping -c 1 -W 2 "$@" 2>&1 || true)
	grep -qE "$pattern" <<<"$out" || fail "$what: expected /$pattern/, ping said: $out"
	log "ok: $what: $(grep -E "$pattern" <<<"$out" | head -1)"
}
expect "TTL 1 -> time exceeded (v4)" "From $NODE4 .*Time to live exceeded" -t 1 "$GW4"
expect "hop limit 1 -> time exceeded (v6)" "From $NODE6 .*Time exceeded: Hop limit" -6 -t 1 "$GW6"
expect "DF over the MTU -> fragmentation needed (v4)" "From $NODE4 .*Frag needed and DF set \\(mtu = 1400\\)" -M do -s 1450 "$GW4"
# The pod's kernel learnt the path MTU from it.
ip netns exec "$P1" ip route get "$GW4" | grep -q "mtu 1400" || fail "pod did not learn PMTU 1400"
expect "over the MTU -> packet too big (v6)" "From $NODE6 .*Packet too big: mtu=1400" -6 -s 1450 "$GW6"
expect "no route -> unreachable (v4)" "From $NODE4 .*Destination Net Unreachable" "$(lab_outside_v4)"
expect "no route -> unreachable (v6)" "From $NODE6 .*(Destination unreachable: No route|No route)" -6 "$(lab_outside_v6)"
c=$(ctl -s io-worker -j counters/show)
log "io-worker: $(jq -c '{tx_packets, drop_ttl_exceeded, drop_too_big, drop_no_route}' <<<"$c")"
log "PASS"
