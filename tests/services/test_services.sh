#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The services scenario, in the lab, with the datastore PODLANE_DATASTORE names (dir or etcd):
# a ClusterIP service with 3 backend pods spreads 300 TCP connections and 300 UDP flows over
# all three (each >= 20%); NodePort from the gateway namespace; hairpin; sessionAffinity pins a
# client; removing one endpoint moves only its flows (Maglev); externalTrafficPolicy Local;
# NodePort to an endpoint on another node (SNAT to the node address); a service without
# endpoints refuses at once (RST, ICMP port unreachable); ICMP errors from an endpoint reach the
# client rewritten; invalid documents in the datastore (missing ports, bad IP, wrong type,
# duplicate name, over-size) are counted and change nothing.
# With etcd, etcd is restarted in the middle and the changes after it still apply.
. "$(dirname "$0")/services_lib.sh"

CLIENT=4
services_up
start_backends 3
add_pod "$CLIENT"
P1=$(lab_pod_v4 1 1)
P2=$(lab_pod_v4 1 2)
P3=$(lab_pod_v4 1 3)
VIP=10.96.0.10
NODE_IP=$(lab_uplink_v4 1)

# --- spread over three endpoints, TCP and UDP
# One file with both objects; later the slice alone is applied again (it replaces its object).
apply_yaml web "$(service_yaml web NodePort $VIP 30080)
---
$(slice_yaml web IPv4 "$P1" "$P2" "$P3")"
wait_svc web 3
check_spread() { # WHAT JSON ENDPOINT...: each endpoint has >= 20% and nothing failed
	local what=$1 out=$2 k n total
	shift 2
	total=$(jq '[.[]] | add' <<<"$out")
	for k in "$@"; do
		n=$(jq -r --arg k "$k" '.[$k] // 0' <<<"$out")
		((n * 5 >= total)) || fail "$what spread: $k got $n of $total (< 20%): $out"
	done
	[ "$(jq 'length' <<<"$out")" = $# ] || fail "$what spread: other answers: $out"
	log "$what spread over $# endpoints: $out"
}
check_spread TCP "$(in_client python3 "$SVC_TOOL" spread tcp $VIP 80 300)" p1 p2 p3
check_spread UDP "$(in_client python3 "$SVC_TOOL" spread udp $VIP 53 300)" p1 p2 p3
[ "$(counter nat-lb sessions_created)" -ge 500 ] || fail "sessions not counted: $(ctl -s nat-lb counters/show)"

# --- NodePort from the gateway: the client address is kept (endpoint is local)
out=$(in_gw python3 "$SVC_TOOL" peer tcp "$NODE_IP" 30080) || fail "NodePort TCP from the gateway: $(ctl -s nat-lb sessions/show 10.99.1.1; ctl -s router fib/show; ctl -s nat-lb counters/show | grep -v " 0 ")"
[[ $out =~ ^p[123]\ $(lab_gw_v4 1)$ ]] || fail "NodePort TCP: unexpected answer '$out'"
out=$(in_gw python3 "$SVC_TOOL" peer udp "$NODE_IP" 30081) || fail "NodePort UDP from the gateway"
[[ $out =~ ^p[123]\  ]] || fail "NodePort UDP: unexpected answer '$out'"
log "NodePort from the gateway: $out"

# --- hairpin: pod 1 reaches itself through a service whose only endpoint it is
apply_yaml hair "$(service_yaml hair ClusterIP 10.96.0.11 0)"
apply_yaml hair-slice "$(slice_yaml hair IPv4 "$P1")"
wait_svc hair 1
out=$(in_pod 1 python3 "$SVC_TOOL" peer tcp 10.96.0.11 80) || fail "hairpin TCP"
[ "$out" = "p1 10.96.0.11" ] || fail "hairpin: answer '$out' (want p1, seen from the service address)"
out=$(in_pod 1 python3 "$SVC_TOOL" peer udp 10.96.0.11 53) || fail "hairpin UDP"
[[ $out == "p1 "* ]] || fail "hairpin UDP: '$out'"
[ "$(counter nat-lb snat_sessions)" -ge 2 ] || fail "hairpin sessions not counted as SNAT"
log "hairpin through the service: $out"

if [ "$DATASTORE" = etcd ]; then
	etcd_restart || fail "etcd restart"
	log "etcd restarted (kill -9, same data dir)"
fi

# --- session affinity: every connection of one client to one endpoint
apply_yaml sticky "$(service_yaml sticky ClusterIP 10.96.0.12 0 "  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}")"
apply_yaml sticky-slice "$(slice_yaml sticky IPv4 "$P1" "$P2" "$P3")"
wait_svc sticky 3
out=$(in_client python3 "$SVC_TOOL" spread tcp 10.96.0.12 80 40)
[ "$(jq 'length' <<<"$out")" = 1 ] && [ "$(jq -r 'keys[0]' <<<"$out")" != '!ERROR' ] ||
	fail "affinity: connections spread anyway: $out"
[ "$(counter nat-lb affinity_hits)" -ge 39 ] || fail "affinity hits not counted"
log "sessionAffinity ClientIP pinned 40 connections: $out"

# --- removing one endpoint moves only its flows
before=$(in_client python3 "$SVC_TOOL" map $VIP 53 20000 200)
apply_yaml web-slice "$(slice_yaml web IPv4 "$P1" "$P2")"
wait_svc web 2
ctl -s nat-lb sessions/flush service=test/web >/dev/null || fail "sessions/flush"
after=$(in_client python3 "$SVC_TOOL" map $VIP 53 20000 200)
moved=$(jq -n --argjson a "$before" --argjson b "$after" \
	'[$a | keys[] as $k | select($a[$k] != "p3" and $a[$k] != $b[$k])] | length')
from3=$(jq -n --argjson a "$before" '[$a[] | select(. == "p3")] | length')
to3=$(jq -n --argjson b "$after" '[$b[] | select(. == "p3" or . == "!ERROR")] | length')
[ "$moved" = 0 ] || fail "$moved flows not on the removed endpoint moved"
((from3 > 20)) || fail "only $from3 of 200 flows were on p3 before"
[ "$to3" = 0 ] || fail "$to3 flows still on p3 or failing after its removal"
log "endpoint p3 removed: its $from3 flows moved, the other $((200 - from3)) stayed"

# --- externalTrafficPolicy Local; and NodePort to an endpoint on another node (SNAT)
REMOTE=10.98.2.11
ip netns exec "$(lab_node_ns 2)" ip addr add $REMOTE/32 dev lo ||
	fail "remote endpoint address"
ip netns exec "$(lab_node_ns 2)" python3 "$SVC_TOOL" serve r1 8080 8081 >>"$T_DIR/server.log" 2>&1 &
SERVER_PIDS+=($!)
remote_up() { ip netns exec "$(lab_node_ns 2)" ss -ltnH "sport = :8080" | grep -q .; }
wait_for 10 "remote server" remote_up || fail "remote server did not start"
apply_yaml local "$(service_yaml local NodePort 10.96.0.13 30090 "  externalTrafficPolicy: Local")"
apply_yaml local-slice "$(slice_yaml local IPv4 "$P1" "$REMOTE@n2")"
wait_svc local 2
out=$(in_gw python3 "$SVC_TOOL" spread tcp "$NODE_IP" 30090 40)
[ "$out" = '{"p1": 40}' ] || fail "externalTrafficPolicy Local: $out (want all 40 on the local p1)"
out=$(in_client python3 "$SVC_TOOL" spread tcp 10.96.0.13 80 60)
[ "$(jq -r '.r1 // 0' <<<"$out")" -gt 0 ] && [ "$(jq -r '.p1 // 0' <<<"$out")" -gt 0 ] ||
	fail "internal traffic should use both endpoints (policy Cluster): $out"
log "externalTrafficPolicy Local: 40/40 on the local endpoint; internal traffic spread: $out"
apply_yaml remote "$(service_yaml remote NodePort 10.96.0.14 30092)"
apply_yaml remote-slice "$(slice_yaml remote IPv4 "$REMOTE@n2")"
wait_svc remote 1
out=$(in_gw python3 "$SVC_TOOL" peer tcp "$NODE_IP" 30092) || fail "NodePort to a remote endpoint"
[ "$out" = "r1 $NODE_IP" ] || fail "NodePort to a remote endpoint: '$out' (want r1, SNAT to $NODE_IP)"
log "NodePort to another node's endpoint, source NAT to the node: $out"

# --- no endpoints: refused at once
apply_yaml empty "$(service_yaml empty ClusterIP 10.96.0.15 0)"
apply_yaml empty-slice "$(slice_yaml empty IPv4)"
wait_svc empty 0
t=$(in_client python3 "$SVC_TOOL" refused tcp 10.96.0.15 80) || fail "TCP to an empty service: $t"
t2=$(in_client python3 "$SVC_TOOL" refused udp 10.96.0.15 53) || fail "UDP to an empty service: $t2"
log "empty service refused: TCP RST in ${t}s, ICMP port unreachable in ${t2}s"

# --- an ICMP error from the endpoint reaches the client about the service address
apply_yaml deaf "$(service_yaml deaf ClusterIP 10.96.0.16 0)"
apply_yaml deaf-slice "$(slice_yaml deaf IPv4 "$(lab_pod_v4 1 "$CLIENT")")"
wait_svc deaf 1
# The client's own pod has no server: its kernel answers port unreachable about the NATed
# datagram (hairpin), which nat-lb must rewrite back to the service address.
icmp0=$(counter nat-lb icmp_rewritten)
t=$(in_client python3 "$SVC_TOOL" refused udp 10.96.0.16 53) || fail "ICMP not rewritten: $t"
[ "$(counter nat-lb icmp_rewritten)" -gt "$icmp0" ] || fail "icmp_rewritten not counted"
log "ICMP port unreachable from the endpoint rewritten to the service address"

# --- a terminating endpoint keeps its connections and takes no new ones
apply_yaml term "$(service_yaml term ClusterIP 10.96.0.17 0)
---
$(slice_yaml term IPv4 "$P1" "$P2")"
wait_svc term 2
STOP=$T_DIR/stop-term
in_client python3 "$SVC_TOOL" hold 10.96.0.17 80 8 "$STOP" >"$T_DIR/hold.out" 2>"$T_DIR/hold.err" &
HOLD=$!
held() { grep -q connected "$T_DIR/hold.err"; }
wait_for 20 "8 connections held" held || fail "hold: $(cat "$T_DIR/hold.err")"
ends=$(ctl -s nat-lb -j sessions/show service=test/term state=established | jq -r '[.[].endpoint] | unique | .[]')
[ "$(wc -l <<<"$ends")" = 2 ] || fail "8 held connections did not use both endpoints: $ends"
apply_yaml term-slice "$(slice_yaml term IPv4 "$P1@$NODE_NAME@terminating" "$P2")"
wait_svc term 1
out=$(in_client python3 "$SVC_TOOL" spread tcp 10.96.0.17 80 30)
[ "$out" = '{"p2": 30}' ] || fail "new connections reached the terminating endpoint: $out"
touch "$STOP"
wait "$HOLD" || fail "connections to the terminating endpoint broke: $(cat "$T_DIR/hold.out")"
log "terminating p1: new flows all to p2 ($out); its open connections went on: $(cat "$T_DIR/hold.out")"

# --- internalTrafficPolicy Local: in-node clients only to local endpoints
apply_yaml ilocal "$(service_yaml ilocal ClusterIP 10.96.0.18 0 "  internalTrafficPolicy: Local")
---
$(slice_yaml ilocal IPv4 "$P1" "$REMOTE@n2")"
wait_svc ilocal 2
out=$(in_client python3 "$SVC_TOOL" spread tcp 10.96.0.18 80 30)
[ "$out" = '{"p1": 30}' ] || fail "internalTrafficPolicy Local: $out (want all on the local p1)"
log "internalTrafficPolicy Local: $out"

# --- IPv6: a ClusterIP of its own family, TCP and UDP
apply_yaml web6 "$(service_yaml web6 ClusterIP fd96::10 0)
---
$(slice_yaml web6 IPv6 "$(lab_pod_v6 1 1)" "$(lab_pod_v6 1 2)" "$(lab_pod_v6 1 3)")"
wait_svc web6 3
check_spread "TCP over IPv6" "$(in_client python3 "$SVC_TOOL" spread tcp fd96::10 80 150)" p1 p2 p3
check_spread "UDP over IPv6" "$(in_client python3 "$SVC_TOOL" spread udp fd96::10 53 150)" p1 p2 p3

# --- invalid documents written straight into the datastore (what apply would refuse): each is
# counted by nat-lb, the previous version of its object stays, the table does not change
table() { ctl -s nat-lb -j services/show | jq -S -c .; }
before=$(table)
put_bad() { # WHAT KEY_NAME YAML_FILE: a Service test/KEY_NAME (etcd: under its key)
	local rej0 n
	rej0=$(counter nat-lb datastore_rejected)
	if [ "$DATASTORE" = etcd ]; then
		in_node env ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" \
			put "/podlane-test/Service/test/$2" <"$3" >/dev/null || fail "etcdctl put ($1)"
	else
		cp "$3" "$DS_DIR/.tmp" && mv "$DS_DIR/.tmp" "$DS_DIR/service_test_$2.yaml"
	fi
	rejected_more() { [ "$(counter nat-lb datastore_rejected)" -gt "$rej0" ]; }
	wait_for 10 "$1 counted" rejected_more || fail "$1: not counted as rejected"
	n=$(($(counter nat-lb datastore_rejected) - rej0))
	log "$1: rejected and counted ($n): $(ctl -s nat-lb services/show | sed -n 's/.*last error: //p' | cut -c1-160)"
}
service_yaml web NodePort $VIP 30080 | sed '/ports:/,/dns/d' >"$T_DIR/bad1.yaml"
put_bad "missing ports" web "$T_DIR/bad1.yaml"
service_yaml web NodePort 10.96.0.300 30080 >"$T_DIR/bad2.yaml"
put_bad "bad IP" web "$T_DIR/bad2.yaml"
service_yaml web NodePort $VIP 30080 | sed 's/port: 80,/port: eighty,/' >"$T_DIR/bad3.yaml"
put_bad "wrong type" web "$T_DIR/bad3.yaml"
if [ "$DATASTORE" = etcd ]; then
	# One key, one object: a second document under it is the etcd form of a duplicate.
	{ service_yaml hair ClusterIP 10.96.0.11 0; echo ---; service_yaml hair ClusterIP 10.96.0.11 0; } >"$T_DIR/bad4.yaml"
	put_bad "duplicate name" hair "$T_DIR/bad4.yaml"
	# etcd itself refuses requests over 1.5 MiB: 1.2 MB is over podlane's 1 MiB per object.
	big=1200000
else
	# The same object in a second file.
	service_yaml hair ClusterIP 10.96.0.11 0 >"$T_DIR/bad4.yaml"
	put_bad "duplicate name" hair-copy "$T_DIR/bad4.yaml"
	big=10485760
fi
{ service_yaml big ClusterIP 10.96.0.99 0; printf '  # %*s\n' "$big" '' | tr ' ' x; } >"$T_DIR/bad5.yaml"
put_bad "$((big / 1000)) kB document" big "$T_DIR/bad5.yaml"
[ "$(table)" = "$before" ] || fail "the service table changed after invalid documents"
check_spread TCP "$(in_client python3 "$SVC_TOOL" spread tcp $VIP 80 100)" p1 p2
out=$(in_pod 1 python3 "$SVC_TOOL" peer tcp 10.96.0.11 80) || fail "hairpin service lost"
log "invalid documents changed nothing: table identical, services still balanced"
log "PASS"
