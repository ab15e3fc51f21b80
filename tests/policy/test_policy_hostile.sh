#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile pod against network policy (issue 11). Targets: x/a, isolated by a deny-all ingress
# policy, and x/b, which allows only TCP 80 from namespace y. From the attacker z/a (raw packets
# written on its tun, tests/policy/hostile_send.py): TCP 80/81, UDP 53/80, SCTP INIT, ICMP and
# ICMPv6 echo, GRE, ESP, protocol 253; TCP/UDP behind every kind of IPv6 extension header and
# chains of 2, 4 and 8; IPv4 and IPv6 fragments in order, out of order, overlapping the TCP
# header, duplicate and tiny first fragments, later fragments without a first; ICMP errors quoting
# no flow or a denied one; TTL / hop limit 1 and 255; forged sources (the allowed client's
# address, the node's, a pod address of node 2). From the gateway (the uplink): sources of this
# node's pods and of the node itself, and genuine outside ones. From the allowed client y/a to
# x/b: the same shapes, of which TCP 80 (plain, behind extension headers, fragmented in and out
# of order, TTL 255, and ICMP errors of its own allowed flow) must arrive and nothing else.
# Checked by capturing inside both targets (tcpdump on their tun): nothing arrives that the
# policy does not allow, everything it allows arrives, every drop is counted by its reason, no
# service restarted and a real TCP connection y/a -> x/b:80 still works. Then a cold start:
# podlane restarted with the deny-all policy in the datastore (with PODLANE_DATASTORE=etcd, as
# meson runs it: while etcd is down, so that policy cannot compile for a while), then policy
# and nat-lb killed (-9), while z/a probes x/a continuously: nothing may reach x/a at any
# moment, and the drops before the first compile are counted. Every check runs and reports;
# the test fails at the end if any did.
# shellcheck disable=SC2119 # services_up and start_node_podlane: no optional arguments here
. "$(dirname "$0")/policy_lib.sh"

HOSTILE=$(cd "$(dirname "$0")" && pwd)/hostile_send.py
PY=/usr/bin/python3 # Debian's: it has scapy

# The counters of the contract, in one place: the reason a dropped probe must be counted under
# (hostile_send.py's "reason") -> "SERVICE COUNTER". Reasons not listed (ttl, any) are checked
# by their non-arrival only: which stage drops a TTL-1 packet of a denied flow is not the
# contract's business.
declare -A REASON_COUNTER=(
	[policy]="policy packets_denied"
	[spoofed_pod]="io-worker rx_spoofed_pod"
	[spoofed_uplink]="io-worker rx_spoofed_uplink"
	[frag_overlap]="io-worker rx_frag_overlap"
	[frag_unknown]="io-worker rx_frag_unknown"
	[malformed]="io-worker rx_bad_l4"
)
C_DROP_SPOOFED="io-worker drop_spoofed"   # >= spoofed_pod + spoofed_uplink
C_FLOWS_DENIED="policy flows_denied"      # >= the distinct flows denied
C_NOT_READY="policy not_ready"            # cold start: pod traffic dropped before the compile
SETTLE_S=2 # fragments held for their first are released or dropped within 1 s (contract)

FAILED=()
check_failed() {
	log "CHECK FAILED: $*"
	FAILED+=("$*")
}

command -v tcpdump >/dev/null || fail "tcpdump is not installed (./podlane setup installs it)"
services_up
policy_pods_up
log "lab up (${SECONDS}s)"

k_xa=$(pod_k x/a) k_xb=$(pod_k x/b) k_ya=$(pod_k y/a) k_za=$(pod_k z/a) k_yb=$(pod_k y/b)
addrs_json() { # K -> {"4": v4, "6": v6}
	jq -cn --arg a "$(lab_pod_v4 1 "$1")" --arg b "$(lab_pod_v6 1 "$1")" '{"4": $a, "6": $b}'
}
target_json() { # NAME K ALLOWED80
	addrs_json "$2" | jq -c --arg n "$1" --argjson a "$3" '. + {name: $n, allow80: $a}'
}
XA=$(target_json x/a "$k_xa" false)
XB_DENIED=$(target_json x/b "$k_xb" false)
XB_ALLOWED=$(target_json x/b "$k_xb" true)

apply_yaml hostile-policies "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
      ports: [{protocol: TCP, port: 80}]"
compiled() { ctl -s policy policy/show | grep -q "2 policies.*4 isolated"; }
wait_for 20 "both policies compiled" compiled || fail "policies not compiled: $(ctl -s policy policy/show)"
reach() { # FROM_POD ADDR: a real TCP connection to port 80
	[ "$(in_pod "$(pod_k "$1")" python3 "$MATRIX" probe 2.0 "t,$2,tcp,80" | jq -r '.["t/tcp/80"]')" = true ]
}
wait_for 20 "y/a reaches x/b:80" reach y/a "$(lab_pod_v4 1 "$k_xb")" || fail "the allowed client cannot reach x/b:80"

# ---------------------------------------------------------------------------------------------
# Captures inside the targets: tcpdump on the pod's tun, every packet, written as it comes.
capture_start() { # K FILE
	ip netns exec "$(lab_pod_ns 1 "$1")" tcpdump -i eth0 -n -U -w "$2" 2>"$2.err" &
	SERVER_PIDS+=($!)
	CAPTURES+=($!)
	listening() { grep -q "listening on" "$1"; }
	wait_for 10 "tcpdump in pod $1" listening "$2.err" || fail "tcpdump in pod $1: $(cat "$2.err")"
}
captures_stop() {
	local p
	for p in "${CAPTURES[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	CAPTURES=()
}
CAPTURES=()
PCAPS=$(jq -cn --arg a "$T_DIR/xa.pcap" --arg b "$T_DIR/xb.pcap" --argjson xa "$XA" --argjson xb "$XB_DENIED" \
	'{($a): [$xa["4"], $xa["6"]], ($b): [$xb["4"], $xb["6"]]}')
capture_start "$k_xa" "$T_DIR/xa.pcap"
capture_start "$k_xb" "$T_DIR/xb.pcap"

snapshot() { # -> {"io-worker": {...}, "policy": {...}}
	jq -cn --argjson i "$(ctl -s io-worker -j counters/show)" --argjson p "$(ctl -s policy -j counters/show)" \
		'{"io-worker": $i, "policy": $p}'
}
pids_before=$(ctl -j services/show | jq -c '[.[] | {service, pid}]')
before=$(snapshot)

# ---------------------------------------------------------------------------------------------
# The senders, one after the other (each paces its packets: a pod's tun queue is 500 long).
FORGE_POD=$(jq -cn --argjson ya "$(addrs_json "$k_ya")" --arg n4 "$(lab_uplink_v4 1)" --arg n6 "$(lab_uplink_v6 1)" \
	--arg r4 "$(lab_pod_v4 2 1)" --arg r6 "$(lab_pod_v6 2 1)" \
	'{"pod y/a": $ya, "node": {"4": $n4, "6": $n6}, "node 2 pod": {"4": $r4, "6": $r6}}')
send() { # NAME NETNS CONFIG_JSON
	local out=$T_DIR/sent.${1//\//-}.json
	ip netns exec "$2" "$PY" "$HOSTILE" send "$3" >"$out" 2>"$out.err" ||
		fail "sender $1 failed: $(tail -5 "$out.err")"
	[ "$(jq .errors "$out")" = 0 ] || check_failed "sender $1: $(jq .errors "$out") sends failed"
	SENT+=("$out")
	log "sent as $1: $(jq '.probes | length' "$out") probes, $(jq '[.probes[].pieces | length] | add' "$out") packets"
}
SENT=()
# The attacker z/a, against both targets, with forged sources too.
send "attacker z/a" "$(lab_pod_ns 1 "$k_za")" "$(jq -cn --argjson src "$(addrs_json "$k_za")" \
	--argjson xa "$XA" --argjson xb "$XB_DENIED" --argjson forge "$FORGE_POD" \
	'{role: "pod", name: "attacker z/a", base: 10000, src: $src, targets: [$xa, $xb], forge: $forge}')"
# The allowed client y/a against x/b: TCP 80 in every shape passes, nothing else.
send "client y/a" "$(lab_pod_ns 1 "$k_ya")" "$(jq -cn --argjson src "$(addrs_json "$k_ya")" \
	--argjson xb "$XB_ALLOWED" '{role: "pod", name: "client y/a", base: 30000, src: $src, targets: [$xb]}')"
# The uplink: Ethernet frames from the gateway to the node's MAC.
NODE_MAC=$(in_node ip -j link show pl-eth0 | jq -r '.[0].address')
GW_MAC=$(in_gw ip -j link show "$(lab_gw_if 1)" | jq -r '.[0].address')
send uplink "$GW" "$(jq -cn --argjson xa "$XA" --argjson xb "$XB_DENIED" --argjson ya "$(addrs_json "$k_ya")" \
	--arg n4 "$(lab_uplink_v4 1)" --arg n6 "$(lab_uplink_v6 1)" --arg o4 "$(lab_outside_v4)" \
	--arg o6 "$(lab_outside_v6)" --arg r4 "$(lab_pod_v4 2 1)" --arg r6 "$(lab_pod_v6 2 1)" \
	--arg ifc "$(lab_gw_if 1)" --arg dmac "$NODE_MAC" --arg smac "$GW_MAC" \
	'{role: "uplink", name: "uplink", base: 50000, targets: [$xa, $xb],
	  l2: {iface: $ifc, dst_mac: $dmac, src_mac: $smac},
	  forge: {"pod y/a": $ya, "node": {"4": $n4, "6": $n6}},
	  outside: {"outside": {"4": $o4, "6": $o6}, "node 2 pod": {"4": $r4, "6": $r6}}}')"
# The host (a real socket in the node's namespace): reaches both pods whatever the policy, so
# x/a's capture is shown to work.
send host "$NODE" "$(jq -cn --argjson xa "$XA" --argjson xb "$XB_DENIED" \
	'{role: "canary", name: "host", base: 60000, targets: [$xa, $xb]}')"
sent_at=$SECONDS

analyse() { "$PY" "$HOSTILE" check "$PCAPS" "${SENT[@]}" >"$T_DIR/check.json"; }
all_passed() { analyse || [ "$(jq '.missing | length' "$T_DIR/check.json")" = 0 ]; }
wait_for 20 "every probe that policy allows arrived" all_passed || true

# Counter deltas against what was sent, by reason.
delta() { # SERVICE COUNTER -> delta, or "missing"
	local b a
	b=$(jq -r --arg s "$1" --arg c "$2" '.[$s][$c] // "missing"' <<<"$before")
	a=$(jq -r --arg s "$1" --arg c "$2" '.[$s][$c] // "missing"' <<<"$after")
	if [ "$a" = missing ] || [ "$b" = missing ]; then echo missing; else echo $((a - b)); fi
}
counts_short() { # prints "COUNTER: got D, want >= N" for every shortfall
	local r svc c want d sp=0
	analyse || true
	after=$(snapshot)
	for r in "${!REASON_COUNTER[@]}"; do
		read -r svc c <<<"${REASON_COUNTER[$r]}"
		want=$(jq --arg r "$r" '.reasons[$r] // 0' "$T_DIR/check.json")
		((want > 0)) || continue
		d=$(delta "$svc" "$c")
		[ "$d" != missing ] && ((d >= want)) || echo "$svc $c (reason $r): grew by $d, want >= $want"
	done
	sp=$(jq '(.reasons.spoofed_pod // 0) + (.reasons.spoofed_uplink // 0)' "$T_DIR/check.json")
	read -r svc c <<<"$C_DROP_SPOOFED"
	d=$(delta "$svc" "$c")
	[ "$d" != missing ] && ((d >= sp)) || echo "$svc $c: grew by $d, want >= $sp"
	want=$(jq .policy_flows "$T_DIR/check.json")
	read -r svc c <<<"$C_FLOWS_DENIED"
	d=$(delta "$svc" "$c")
	[ "$d" != missing ] && ((d >= want)) || echo "$svc $c: grew by $d, want >= $want (distinct flows denied)"
}
counted() { [ -z "$(counts_short)" ]; }
wait_for 15 "every drop counted by its reason" counted || true
# Nothing may arrive late either: held fragments are released or dropped within the contract's
# bound, so give the captures that long after the last packet before stopping them.
while ((SECONDS < sent_at + SETTLE_S)); do sleep 0.1; done
captures_stop
analyse || true
log "captured $(jq .captured "$T_DIR/check.json") packets in x/a and x/b; $(jq .passed "$T_DIR/check.json") expected ones arrived; drops by reason: $(jq -c .reasons "$T_DIR/check.json")"

# (a), (b): nothing arrived that policy does not allow; everything it allows arrived.
n=$(jq '.violations | length' "$T_DIR/check.json")
if ((n > 0)); then
	jq -r '.violations[]' "$T_DIR/check.json" | sed 's/^/  ARRIVED: /' >&2
	log "by shape (both families, both targets):"
	jq -r '.violations_by_shape | to_entries[] | "  \(.value) arrived: \(.key)"' "$T_DIR/check.json" >&2
	check_failed "$n packets reached an isolated pod that policy does not let in"
fi
n=$(jq '.missing | length' "$T_DIR/check.json")
if ((n > 0)); then
	jq -r '.missing[]' "$T_DIR/check.json" | sed 's/^/  MISSING: /' >&2
	check_failed "$n packets that policy allows did not arrive"
fi
# (c): counted by reason.
short=$(counts_short)
after=$(snapshot)
if [ -n "$short" ]; then
	printf '  COUNTER: %s\n' "${short//$'\n'/$'\n'  COUNTER: }" >&2
	check_failed "drops not counted by reason ($(wc -l <<<"$short") counters short)"
fi
log "counters: $(jq -cn --argjson b "$before" --argjson a "$after" '[["io-worker", "rx_spoofed_pod"], ["io-worker", "rx_spoofed_uplink"], ["io-worker", "drop_spoofed"], ["io-worker", "rx_frag_overlap"], ["io-worker", "rx_frag_unknown"], ["io-worker", "rx_bad_l4"], ["io-worker", "drop_policy_denied"], ["policy", "packets_denied"], ["policy", "flows_denied"], ["policy", "not_tracked"]] | map({key: (.[0] + "/" + .[1]), value: (if $a[.[0]][.[1]] == null then "missing" else $a[.[0]][.[1]] - $b[.[0]][.[1]] end)}) | from_entries')"

# (d): podlane stayed up, and allowed traffic still works.
[ "$(ctl -j services/show | jq -c '[.[] | {service, pid}]')" = "$pids_before" ] ||
	check_failed "a service restarted under the hostile traffic: $(ctl -j services/show | jq -c '[.[] | {service, pid, restarts}]')"
ctl status >/dev/null || check_failed "podlane not healthy: $(ctl status)"
for fam in 4 6; do
	addr=$(lab_pod_v$fam 1 "$k_xb")
	out=$(in_pod "$k_ya" python3 "$SVC_TOOL" peer tcp "$addr" 80 2>&1) || true
	[[ $out == "x/b "* ]] || check_failed "y/a -> x/b:80 over IPv$fam after the hostile traffic: $out"
done
log "hostile traffic: ${#FAILED[@]} checks failed (${SECONDS}s)"

# ---------------------------------------------------------------------------------------------
# Cold start: the deny-all policy for x/a is in the datastore. z/a probes x/a (UDP 53, TCP 80,
# echo; both families) without a pause, and y/b as a control that shows the dataplane forwards,
# while podlane is stopped and started again (the pods stay: cni-server adopts them, io-worker
# reopens their tuns while policy reads the datastore), then while policy and nat-lb are
# killed with -9. Nothing may reach x/a at any moment.
CAPTURES=()
capture_start "$k_xa" "$T_DIR/cold.pcap"
capture_start "$k_yb" "$T_DIR/control.pcap"
STOP=$T_DIR/flood.stop
ip netns exec "$(lab_pod_ns 1 "$k_za")" "$PY" "$HOSTILE" flood "$(jq -cn --argjson src "$(addrs_json "$k_za")" \
	--argjson xa "$XA" --argjson yb "$(target_json y/b "$k_yb" true)" --arg stop "$STOP" \
	'{role: "pod", base: 70000, src: $src, targets: [$xa, $yb], stop: $stop, gap_s: 0.001}')" \
	>"$T_DIR/flood.json" 2>"$T_DIR/flood.err" &
FLOOD=$!
SERVER_PIDS+=("$FLOOD")
PHASES='[]'
phase() { # NAME: a phase of the cold start begins now
	PHASES=$(jq -c --arg n "$1" --argjson t "$(date +%s.%N)" '. + [[$n, $t]]' <<<"$PHASES")
}
flood_count() { # K PCAP
	"$PY" "$HOSTILE" count "$2" "$(lab_pod_v4 1 "$1")" "$(lab_pod_v6 1 "$1")" --phases "$PHASES"
}
control_after() { # EPOCH_S: the control pod got a probe after that time
	jq -en --argjson t "$1" '(input.last // 0) > $t' <<<"$(flood_count "$k_yb" "$T_DIR/control.pcap")" >/dev/null
}
flowing() { # WHAT: the prober's packets reach the control pod again from now on
	wait_for 30 "probes reach the control pod $1" control_after "$(date +%s.%N)" ||
		check_failed "cold start: the prober's packets stopped reaching the control pod $1"
}
flowing "before the restart"

phase "podlane stopping"
kill -TERM "$SUP_PID"
wait_for 30 "podlane stopped" no_podlane_left || fail "podlane did not stop"
# With etcd, podlane starts while etcd is down: policy cannot read its datastore, so the time
# before its first compile lasts as long as the test wants instead of a few milliseconds.
[ "$DATASTORE" != etcd ] || etcd_stop
phase "podlane starting"
start_node_podlane
phase "podlane ready"
for k in "$k_xa" "$k_za" "$k_yb"; do
	pod_port() { ctl -s io-worker -j ports/show | jq -e --arg ns "/var/run/netns/$(lab_pod_ns 1 "$1")" 'any(.[]; .netns == $ns)' >/dev/null; }
	wait_for 20 "pod $k adopted" pod_port "$k" || fail "pod $k not adopted after the restart"
done
if [ "$DATASTORE" = etcd ]; then
	# The pods' ports are open and the prober keeps sending, the datastore is not there: by
	# the contract, pod traffic is dropped (not_ready) until the first compile, so the control
	# pod proves nothing here; io-worker's receive count shows the window had traffic. Then
	# etcd comes back and policy compiles.
	phase "pods open, datastore down"
	window_traffic() { (($(counter io-worker rx_packets) >= 300)); }
	wait_for 30 "prober traffic with the datastore down" window_traffic ||
		check_failed "cold start: io-worker received no traffic while the datastore was down"
	! compiled || check_failed "cold start: policy compiled with its datastore down (no window to test)"
	phase "datastore back"
	etcd_spawn || fail "etcd did not come back"
fi
wait_for 30 "policies compiled after the restart" compiled || fail "no compile after the restart"
phase "compile seen"
flowing "after the restart"
read -r svc c <<<"$C_NOT_READY"
nr=$(ctl -s "$svc" -j counters/show | jq -r --arg c "$c" '.[$c] // "missing"')
log "restarted: policy's $c counter: $nr"
if [ "$DATASTORE" = etcd ]; then
	if [ "$nr" = missing ] || ((nr == 0)); then
		check_failed "cold start: $svc $c is $nr after pod traffic while the datastore was down"
	fi
fi

for victim in policy nat-lb; do
	pid=$(svc_field "$victim" pid)
	r0=$(svc_field "$victim" restarts)
	phase "kill -9 $victim"
	kill -9 "$pid"
	back() { [ "$(svc_field "$1" restarts)" -gt "$2" ] && [ "$(svc_field "$1" state)" = ready ]; }
	wait_for 20 "$victim back" back "$victim" "$r0" || fail "$victim did not come back after kill -9"
	flowing "after kill -9 of $victim"
done
touch "$STOP"
wait "$FLOOD" || check_failed "cold-start prober failed: $(tail -3 "$T_DIR/flood.err")"
captures_stop
cold=$(flood_count "$k_xa" "$T_DIR/cold.pcap")
control=$(flood_count "$k_yb" "$T_DIR/control.pcap")
log "cold start (${SECONDS}s): the prober sent $(jq .sent "$T_DIR/flood.json") packets; phases $(jq -c 'map(.[0])' <<<"$PHASES")"
log "  the control pod y/b got $(jq .n <<<"$control"): $(jq -c .by <<<"$control")"
log "  the isolated pod x/a got $(jq .n <<<"$cold"): $(jq -c .by <<<"$cold")"
[ "$(jq .n <<<"$cold")" = 0 ] ||
	check_failed "cold start: $(jq .n <<<"$cold") probes reached the isolated x/a (by kind and phase: $(jq -c .by <<<"$cold"))"

if [ ${#FAILED[@]} -gt 0 ]; then
	printf '  - %s\n' "${FAILED[@]}" >&2
	fail "${#FAILED[@]} checks failed"
fi
log "PASS"
