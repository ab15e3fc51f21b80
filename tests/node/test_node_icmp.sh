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
# A super-packet is judged by its segments: a UDP GSO burst of 1450-byte datagrams (1478 bytes
# on the wire, DF) reaches io-worker whole (USO on the pod's tun) and router answers with
# fragmentation needed / packet too big for the 1400-byte uplink, which the pod's kernel learns.
# The path MTU the pod's kernel has for DST ("... mtu N ..." of ip route get; nothing if none).
route_mtu() { # DST FAMILY-FLAG
	ip netns exec "$P1" ip "$2" route get "$1" | sed -n 's/.* mtu \([0-9][0-9]*\)\( .*\)\{0,1\}$/\1/p' | head -1
}
gso_pmtu() { # DST FAMILY-FLAG
	ip netns exec "$P1" /usr/bin/python3 "$(dirname "$0")/udp_gso_send.py" "$1" 1450 8 2>/dev/null
	[ "$(route_mtu "$1" "$2")" = 1400 ]
}
c0=$(ctl -s io-worker -j counters/show)
wait_for 10 "UDP GSO burst -> frag needed (v4)" gso_pmtu "$GW4" -4 || fail "pod did not learn PMTU 1400 from a UDP GSO burst (v4)"
wait_for 10 "UDP GSO burst -> packet too big (v6)" gso_pmtu "$GW6" -6 || fail "pod did not learn PMTU 1400 from a UDP GSO burst (v6)"
c1=$(ctl -s io-worker -j counters/show)
[ "$(jq .rx_super_packets <<<"$c1")" -gt "$(jq .rx_super_packets <<<"$c0")" ] || fail "the bursts did not arrive as super-packets"
log "ok: UDP GSO bursts over the path MTU: the pod learnt mtu 1400 ($(($(jq .rx_super_packets <<<"$c1") - $(jq .rx_super_packets <<<"$c0"))) super-packets in)"
# Forget what was learnt, so that the pings below meet the MTU afresh.
ip netns exec "$P1" ip route flush cache
ip netns exec "$P1" ip -6 route flush cache

expect "TTL 1 -> time exceeded (v4)" "From $NODE4 .*Time to live exceeded" -t 1 "$GW4"
expect "hop limit 1 -> time exceeded (v6)" "From $NODE6 .*Time exceeded: Hop limit" -6 -t 1 "$GW6"
expect "DF over the MTU -> fragmentation needed (v4)" "From $NODE4 .*Frag needed and DF set \\(mtu = 1400\\)" -M "do" -s 1450 "$GW4"
# The pod's kernel learnt the path MTU from it.
[ "$(route_mtu "$GW4" -4)" = 1400 ] || fail "pod did not learn PMTU 1400"
expect "over the MTU -> packet too big (v6)" "From $NODE6 .*Packet too big: mtu=1400$" -6 -s 1450 "$GW6"
expect "no route -> unreachable (v4)" "From $NODE4 .*Destination Net Unreachable" "$(lab_outside_v4)"
expect "no route -> unreachable (v6)" "From $NODE6 .*(Destination unreachable: No route|No route)" -6 "$(lab_outside_v6)"
c=$(ctl -s io-worker -j counters/show)
log "io-worker: $(jq -c '{tx_packets, drop_ttl_exceeded, drop_too_big, drop_no_route}' <<<"$c")"
log "PASS"
