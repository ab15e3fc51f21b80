#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The NetworkPolicy connectivity matrix: 3 namespaces x 3 pods, the standard scenarios (deny all
# ingress, deny all egress, same namespace, namespace by label, pod+namespace selector AND versus
# OR, matchExpressions, ipBlock with except, named port, endPort range, egress denied except
# DNS, policies adding up, ingress and egress both needed), each checked with real TCP and UDP
# probes from every pod to every pod and compared cell by cell with the expected matrix
# (tests/policy/matrix.py). Also: the node reaches pods whatever the policy.
. "$(dirname "$0")/policy_lib.sh"

services_up
policy_pods_up
matrix_config "$T_DIR/matrix.json"
ip netns exec "$NODE" true
python3 "$MATRIX" run "$T_DIR/matrix.json" >&2 || fail "connectivity matrix differs (see above)"

# The node itself reaches an isolated pod (kubelet probes).
apply_yaml denyx "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}"
denied() { in_pod "$(pod_k y/a)" python3 "$MATRIX" probe 1.0 "x,$(lab_pod_v4 1 1),tcp,80" | jq -e '.["x/tcp/80"] == false'; }
wait_for 20 "x isolated" denied || fail "deny-all in x not in force"
out=$(in_node python3 "$MATRIX" probe 1.0 "x,$(lab_pod_v4 1 1),tcp,80")
[ "$out" = '{"x/tcp/80": true}' ] || fail "the node cannot reach an isolated pod: $out"
log "the node reaches x/a through deny-all; y/a does not"
log "PASS"
