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

# Every transfer is checked for content and, through io-worker's counters, for how it crossed:
# super-packets in from the pods' tuns and the host tap, out whole to tuns, the tap and an
# af_packet uplink, segmented in software for af_xdp and dpdk; none refused as malformed; the
# established flow's packets forwarded by io-worker's fast path.
declare -A C0
snap() { local c; for c in rx_super_packets tx_super_packets tx_segmented rx_bad_offload fast_path; do C0[$c]=$(iow_counter $c); done; }
grew() { # COUNTER WHAT: the counter rose since snap
	local now
	now=$(iow_counter "$1")
	[ "$now" -gt "${C0[$1]}" ] || fail "$2: $1 stayed at $now"
	log "  $1 +$((now - C0[$1]))"
}
xfer_checked() { # WHAT FROM TO ADDR BYTES OUT (OUT: super|segmented: how the uplink sends)
	snap
	log "TCP $1: $(xfer "$2" "$3" "$4" "$5") bytes verified"
	grew rx_super_packets "$1"
	grew fast_path "$1" # established-flow packets forwarded by io-worker alone
	case $6 in
	super) grew tx_super_packets "$1" ;;
	segmented) grew tx_segmented "$1" ;;
	esac
	[ "$(iow_counter rx_bad_offload)" -eq "${C0[rx_bad_offload]}" ] || fail "$1: frames refused as malformed offload"
}
up_out=super
[ "$DRIVER" = af_packet ] || up_out=segmented
xfer_checked "pod1 -> pod2 v4" "$P1" "$P2" "$(lab_pod_v4 1 2)" "$BYTES" super
xfer_checked "pod2 -> pod1 v6" "$P2" "$P1" "$(lab_pod_v6 1 1)" "$BYTES" super
xfer_checked "pod1 -> outside v4" "$P1" "$GW" "$(lab_outside_v4)" "$BYTES" $up_out
if [ "$DRIVER" = af_packet ]; then
	# The gateway sends super-packets too: in over the uplink, out whole to the pod.
	xfer_checked "outside -> pod2 v6" "$GW" "$P2" "$(lab_pod_v6 1 2)" "$BYTES" super
	xfer_checked "gateway -> host v4" "$GW" "$NODE" "$(lab_uplink_v4 1)" 10485760 super
else
	log "TCP outside -> pod2 v6: $(xfer "$GW" "$P2" "$(lab_pod_v6 1 2)" "$BYTES") bytes verified"
	log "TCP gateway -> host v4: $(xfer "$GW" "$NODE" "$(lab_uplink_v4 1)" 10485760) bytes verified"
fi
xfer_checked "host -> outside v6" "$NODE" "$GW" "$(lab_outside_v6)" 10485760 $up_out
xfer_checked "host -> outside v4" "$NODE" "$GW" "$(lab_outside_v4)" 10485760 $up_out

dpdk_unwire
kill -TERM "$SUP_PID"
wait_for 30 "supervisor exit" bash -c "! kill -0 $SUP_PID" || fail "supervisor did not stop"
after=$(uplink_snapshot)
[ "$after" = "$before" ] || fail "uplink not restored: before $before after $after"
[ ! -e "$T_DIR/uplink.json" ] || fail "state file left after a clean restore: $(ls -la $T_DIR)"
log "uplink restored exactly: $after"
log "PASS"
