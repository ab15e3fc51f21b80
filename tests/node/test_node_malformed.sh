#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Malformed frames sent from the gateway with scapy (truncated headers, bad IHL and total
# length, bad checksums, broken IPv6 extension-header chains, bad TCP data offsets and UDP
# lengths, tiny first fragments, runts, jumbos, other EtherTypes, frames for another MAC) are
# dropped at io-worker's ingress parse and counted by reason (rx_bad_ipv4, rx_bad_ipv4_csum,
# rx_bad_ipv6, rx_bad_ipv6_ext, rx_bad_l4, rx_not_ip; in sum drop_malformed and
# drop_unsupported); no stage sees them; podlane stays up and good traffic keeps flowing —
# including well-formed UDP behind IPv4 options and IPv6 extension headers (hop-by-hop,
# destination options, an atomic fragment), which reaches a socket in the pod.
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
# A UDP socket in the pod (both families) counts what reaches it on port 9999.
cat >"$T_DIR/udp_count.py" <<'PY'
import json, socket, sys, time
want, out, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9999))
s.settimeout(0.2)
open(ready, "w").close()
got, end = {}, time.time() + 30
while sum(got.values()) < want and time.time() < end:
    try:
        d = s.recv(2048).decode(errors="replace")
    except socket.timeout:
        continue
    got[d] = got.get(d, 0) + 1
json.dump(got, open(out, "w"))
PY
in_pod 1 /usr/bin/python3 "$T_DIR/udp_count.py" $((3 * COUNT)) "$T_DIR/udp.json" "$T_DIR/udp.ready" &
UDPC=$!
wait_for 10 "UDP counter in the pod" test -e "$T_DIR/udp.ready" || fail "UDP counter did not start"
stage_rx() { local s n=0; for s in nat-lb policy router; do n=$((n + $(counter $s rx_packets))); done; echo $n; }
stages_before=$(stage_rx)
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
reasons=$(jq -c .reasons <<<"$sent")
if [ "$DRIVER" = af_packet ]; then
	# The all-zero jumbo fits a 64 KB buffer and is an IPv4 header of version 0.
	exp_malformed=$((exp_malformed + exp_oversize))
	reasons=$(jq -c --argjson n "$exp_oversize" '.bad_ipv4 += $n' <<<"$reasons")
	exp_oversize=0
fi
delta() { echo $(($(jq ".$1" <<<"$after") - $(jq ".$1" <<<"$before"))); }
counted() {
	local r
	after=$(ctl -s io-worker -j counters/show)
	[ "$(delta drop_malformed)" -eq "$exp_malformed" ] &&
		[ "$(delta drop_unsupported)" -eq "$(jq .not_ip <<<"$sent")" ] &&
		[ "$(delta rx_not_ip)" -eq "$(jq .not_ip <<<"$sent")" ] &&
		[ "$(delta rx_oversize)" -eq "$exp_oversize" ] &&
		[ "$(delta rx_other_mac)" -eq "$COUNT" ] || return 1
	for r in bad_ipv4 bad_ipv4_csum bad_ipv6 bad_ipv6_ext bad_l4; do
		[ "$(delta "rx_$r")" -eq "$(jq ".$r // 0" <<<"$reasons")" ] || return 1
	done
}
wait_for 20 "every malformed frame counted by reason" counted || {
	ctl -s io-worker counters/show >&2
	fail "counters do not match what was sent"
}
# No refused frame reached a stage: what they took is the good traffic (40 pings, their
# replies, the valid UDP) and at most 10 packets of the pod's own (router solicitations, MLD);
# the refused frames would have added three times their number.
wait "$UDPC" || fail "UDP counter failed"
log "reached the pod: $(cat "$T_DIR/udp.json")"
for tag in opt4 ext6 atom; do
	[ "$(jq ".$tag // 0" "$T_DIR/udp.json")" -eq "$COUNT" ] ||
		fail "well-formed UDP '$tag' behind options/extension headers: $(jq ".$tag // 0" "$T_DIR/udp.json") of $COUNT reached the pod"
done
stages_seen=$(($(stage_rx) - stages_before))
[ "$stages_seen" -le $((3 * (80 + 3 * COUNT + 10))) ] ||
	fail "the stages took $stages_seen packets: more than the good traffic"
[ "$(ctl -j services/show | jq -c '[.[] | .pid]')" = "$pids_before" ] || fail "a service restarted"
ctl status >/dev/null || fail "podlane not healthy"
grep -q " 0% packet loss" "$T_DIR/ping.out" || fail "good traffic lost packets: $(tail -2 "$T_DIR/ping.out")"
ping_pod || fail "no connectivity after the junk"
after=$(ctl -s io-worker -j counters/show)
log "drop_malformed +$(($(jq .drop_malformed <<<"$after") - $(jq .drop_malformed <<<"$before"))), rx_oversize +$exp_oversize, rx_other_mac +$COUNT; ping: $(grep -o '[0-9]*% packet loss' "$T_DIR/ping.out")"
log "PASS"
