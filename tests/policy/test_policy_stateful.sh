#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stateful policy across changes and a restart: established connections survive a policy change
# that still allows them; kill -9 of policy under traffic leaves every verdict as it was and cuts
# no allowed connection; a change that no longer allows them stops them; policy judges the
# endpoint behind a ClusterIP (after DNAT). Invalid policies are rejected with a message naming
# the field, counted, and the policy in force stays. With PODLANE_DATASTORE=etcd, etcd is also
# killed and restarted, and a change after it applies.
. "$(dirname "$0")/policy_lib.sh"

services_up
policy_pods_up
XA=$(lab_pod_v4 1 "$(pod_k x/a)")
probe() { # FROM_POD: prints true/false for TCP 80 to x/a
	in_pod "$(pod_k "$1")" python3 "$MATRIX" probe 1.0 "x,$XA,tcp,80" | jq -r '.["x/tcp/80"]'
}
policy() { # NAME FROM_PODS (a list of pod labels in namespace y)
	apply_yaml "$1" "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xa-in, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [$2]}]}}]"
	local want=$3
	applied() { [ "$(probe "$want")" = true ]; }
	wait_for 20 "policy $1 in force" applied ||
		fail "policy $1 not in force: $(ctl -s policy policy/explain "$(lab_pod_v4 1 "$(pod_k "$want")")" "$XA" tcp 80; ctl -s policy policy/show)"
}
policy p1 a y/a
[ "$(probe y/b)" = false ] || fail "y/b reaches x/a under p1"

STOP=$T_DIR/stop
in_pod "$(pod_k y/a)" python3 "$SVC_TOOL" hold "$XA" 80 10 "$STOP" >"$T_DIR/hold.out" 2>"$T_DIR/hold.err" &
HOLD=$!
connected() { grep -q connected "$T_DIR/hold.err"; }
wait_for 20 "10 connections from y/a" connected || fail "hold: $(cat "$T_DIR/hold.err")"
# Packets the policy stage judged, or io-worker forwarded on its cached verdicts (fast path).
judged() { echo $(($(counter policy rx_packets) + $(counter io-worker fast_path))); }
flowing() { [ "$(judged)" -gt "$1" ]; }
more() { wait_for 20 "traffic flowing" flowing $(($(judged) + 2000)) || fail "no traffic"; }
more

# A change that still allows them.
policy p2 "a, b" y/b
more
kill -0 "$HOLD" || fail "connections broke on a change that still allows them: $(cat "$T_DIR/hold.out")"
log "policy changed (y/a and now y/b allowed): the 10 connections go on"

# kill -9 of policy under traffic.
pid=$(svc_field policy pid)
r0=$(svc_field policy restarts)
kill -9 "$pid"
back() { [ "$(svc_field policy restarts)" -gt "$r0" ] && [ "$(svc_field policy state)" = ready ]; }
wait_for 20 "policy back" back || fail "policy did not come back"
more
kill -0 "$HOLD" || fail "connections broke across the policy restart: $(cat "$T_DIR/hold.out")"
[ "$(probe y/b)" = true ] || fail "y/b lost its verdict across the restart"
[ "$(probe z/a)" = false ] || fail "z/a gained access across the restart"
log "policy killed under traffic: connections go on, verdicts unchanged (y/b allowed, z/a denied)"

# A change that no longer allows them: they stop passing.
d0=$(counter policy packets_denied)
policy p3 b y/b
wait "$HOLD" && fail "connections from y/a still pass after they were disallowed"
[ "$(counter policy packets_denied)" -gt "$d0" ] || fail "no packet denied"
log "policy no longer allows y/a: its established connections stopped ($(jq -c '.failed | length' "$T_DIR/hold.out") failed)"

# Policy sees the destination after DNAT: through a ClusterIP to x/a, y/b passes, z/a does not.
apply_yaml svc "apiVersion: v1
kind: Service
metadata: {name: xa, namespace: test}
spec:
  clusterIP: 10.96.0.50
  ports: [{name: http, port: 80, targetPort: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: xa-1, namespace: test, labels: {kubernetes.io/service-name: xa}}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints: [{addresses: [$XA], nodeName: $NODE_NAME}]"
wait_svc xa 1
vprobe() { in_pod "$(pod_k "$1")" python3 "$MATRIX" probe 1.0 "svc,10.96.0.50,tcp,80" | jq -r '.["svc/tcp/80"]'; }
[ "$(vprobe y/b)" = true ] || fail "y/b through the ClusterIP to x/a: denied"
[ "$(vprobe z/a)" = false ] || fail "z/a through the ClusterIP to x/a: allowed (policy saw the service address?)"
log "through a ClusterIP the policy of the endpoint x/a applies (y/b allowed, z/a denied)"

if [ "$DATASTORE" = etcd ]; then
	etcd_restart || fail "etcd restart"
	policy p4 "b, c" y/c
	[ "$(probe y/b)" = true ] && [ "$(probe z/a)" = false ] || fail "verdicts wrong after the etcd restart"
	log "etcd restarted (kill -9): a change made after it is in force, other verdicts kept"
fi

# Invalid policies: refused by apply with the field named; written straight into the
# datastore: counted by policy, the policy in force stays.
bad='apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xa-in, namespace: x}
spec:
  podSelector: {}
  ingress:
    - from: [{ipBlock: {cidr: 10.98.1.0/24, except: [10.99.0.0/16]}}]'
printf '%s\n' "$bad" >"$T_DIR/bad.yaml"
in_node "$CTL" -c "$T_CONF" apply -f "$T_DIR/bad.yaml" >/dev/null 2>"$T_DIR/err" && fail "bad policy accepted"
grep -q "field 'spec.ingress\[0\].from\[0\].ipBlock.except\[0\]'" "$T_DIR/err" ||
	fail "message does not name the field: $(cat "$T_DIR/err")"
show0=$(ctl -s policy -j policy/show | jq -c '[.[] | {name, rules: [.rules[] | .action]}]')
rej0=$(counter policy datastore_rejected)
if [ "$DATASTORE" = etcd ]; then
	in_node env ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" put /podlane-test/NetworkPolicy/x/xa-in "$bad" >/dev/null
else
	f=$DS_DIR/networkpolicy_x_xa-in.yaml
	[ -f "$f" ] || fail "no file $f for the policy"
	printf '%s\n' "$bad" >"$f.tmp" && mv "$f.tmp" "$f"
fi
rejected() { [ "$(counter policy datastore_rejected)" -gt "$rej0" ]; }
wait_for 10 "invalid policy counted" rejected || fail "invalid policy not counted"
[ "$(ctl -s policy -j policy/show | jq -c '[.[] | {name, rules: [.rules[] | .action]}]')" = "$show0" ] ||
	fail "policy changed after an invalid document"
[ "$(probe y/b)" = true ] && [ "$(probe y/a)" = false ] || fail "verdicts changed after an invalid document"
log "invalid policy: refused by apply ($(head -c 150 "$T_DIR/err")), counted when written directly, policy in force kept"
log "PASS"
