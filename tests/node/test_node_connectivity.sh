#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podlane on a node of the namespace lab: it takes the uplink, the host keeps its connectivity
# through the host tap, two pods get interfaces; pod<->pod, pod<->gateway and pod<->outside
# work with ICMP and TCP (content verified), IPv4 and IPv6; after SIGTERM the uplink's Linux
# config equals the snapshot taken before start, field by field.
. "$(dirname "$0")/node_lib.sh"

BYTES=${PODLANE_XFER_BYTES:-104857600}
node_lab_up
before=$(uplink_snapshot)
node_config
start_node_podlane
in_node ip -j link show | jq -e 'any(.[]; .ifname == "pl-eth0")' >/dev/null || fail "uplink not taken"
log "uplink driver: $DRIVER"
in_node ip -j -d link show eth0 | jq -e '.[0].linkinfo.info_kind == "tun"' >/dev/null || fail "eth0 is not the host tap"
add_pod 1
add_pod 2
P1=$(lab_pod_ns 1 1)
P2=$(lab_pod_ns 1 2)

ping4() { ip netns exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >/dev/null; }
ping6() { ip netns exec "$1" ping -6 -c 3 -i 0.2 -W 2 "$2" >/dev/null; }
check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	wait_for 20 "$what" "$@" || fail "$what"
	log "ok: $what"
}
check "pod1 -> pod2 (ICMP v4)" ping4 "$P1" "$(lab_pod_v4 1 2)"
check "pod1 -> pod2 (ICMP v6)" ping6 "$P1" "$(lab_pod_v6 1 2)"
check "pod1 -> gateway (ICMP v4)" ping4 "$P1" "$(lab_gw_v4 1)"
check "pod1 -> gateway (ICMP v6)" ping6 "$P1" "$(lab_gw_v6 1)"
check "pod2 -> outside (ICMP v4)" ping4 "$P2" "$(lab_outside_v4)"
check "pod2 -> outside (ICMP v6)" ping6 "$P2" "$(lab_outside_v6)"
check "outside -> pod1 (ICMP v4)" ping4 "$GW" "$(lab_pod_v4 1 1)"
check "host -> outside (ICMP v4)" ping4 "$NODE" "$(lab_outside_v4)"
check "host -> outside (ICMP v6)" ping6 "$NODE" "$(lab_outside_v6)"
check "gateway -> host (ICMP v4)" ping4 "$GW" "$(lab_uplink_v4 1)"
check "gateway -> host (ICMP v6)" ping6 "$GW" "$(lab_uplink_v6 1)"
check "host -> pod1 (ICMP v4)" ping4 "$NODE" "$(lab_pod_v4 1 1)"

log "TCP pod1 -> pod2 v4: $(xfer "$P1" "$P2" "$(lab_pod_v4 1 2)" "$BYTES") bytes verified"
log "TCP pod2 -> pod1 v6: $(xfer "$P2" "$P1" "$(lab_pod_v6 1 1)" "$BYTES") bytes verified"
log "TCP pod1 -> outside v4: $(xfer "$P1" "$GW" "$(lab_outside_v4)" "$BYTES") bytes verified"
log "TCP outside -> pod2 v6: $(xfer "$GW" "$P2" "$(lab_pod_v6 1 2)" "$BYTES") bytes verified"
log "TCP gateway -> host v4: $(xfer "$GW" "$NODE" "$(lab_uplink_v4 1)" 10485760) bytes verified"
log "TCP host -> outside v6: $(xfer "$NODE" "$GW" "$(lab_outside_v6)" 10485760) bytes verified"

dpdk_unwire
kill -TERM "$SUP_PID"
wait_for 30 "supervisor exit" bash -c "! kill -0 $SUP_PID" || fail "supervisor did not stop"
after=$(uplink_snapshot)
[ "$after" = "$before" ] || fail "uplink not restored: before $before after $after"
[ ! -e "$T_DIR/uplink.json" ] || fail "state file left after a clean restore: $(ls -la $T_DIR)"
log "uplink restored exactly: $after"
log "PASS"
