#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tiers beyond Kubernetes (policy.podlane.io/v1alpha1 TierPolicy): a Pass in tier 1 reaches tier
# 2's rules; a Deny in an earlier tier wins over an Allow in a later one; Log emits a flow record
# (podlanectl flows) and evaluation goes on; the Kubernetes NetworkPolicies come last;
# policy/explain names the deciding policy and rule; per-rule hit counters count.
. "$(dirname "$0")/policy_lib.sh"

services_up
policy_pods_up
XA=$(lab_pod_v4 1 "$(pod_k x/a)")
apply_yaml tiers "apiVersion: policy.podlane.io/v1alpha1
kind: TierPolicy
metadata: {name: t1, namespace: x}
spec:
  tier: 1
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - action: Pass
      from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    - action: Deny
      from: [{namespaceSelector: {matchLabels: {ns: z}}}]
    - action: Log
---
apiVersion: policy.podlane.io/v1alpha1
kind: TierPolicy
metadata: {name: t2, namespace: x}
spec:
  tier: 2
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - action: Deny
      from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]
    - action: Allow
      from: [{namespaceSelector: {matchLabels: {ns: z}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]"
compiled() { [ "$(ctl -s policy -j policy/show | jq length)" = 3 ]; }
wait_for 20 "three policies compiled" compiled || fail "policies: $(ctl -s policy policy/show)"
probe() { in_pod "$(pod_k "$1")" python3 "$MATRIX" probe 1.0 "x,$XA,tcp,80" | jq -r '.["x/tcp/80"]'; }

in_node "$CTL" -c "$T_CONF" -t 8000 flows 50 >"$T_DIR/flows" 2>"$T_DIR/flows.err" &
FLOWS=$!
# ZeroMQ subscriptions take a moment: wait until the subscriber sees a record.
sub_ready() { probe z/c >/dev/null; grep -q verdict "$T_DIR/flows"; }
wait_for 20 "flow-log subscriber" sub_ready || fail "no flow record reached podlanectl flows"

[ "$(probe y/a)" = true ] || fail "y/a: tier 1 Pass -> tier 2 no match -> NetworkPolicy allows y: want allowed"
[ "$(probe y/b)" = false ] || fail "y/b: tier 1 Pass must reach tier 2's Deny"
[ "$(probe z/a)" = false ] || fail "z/a: tier 1 Deny must win over tier 2 Allow"
[ "$(probe x/b)" = false ] || fail "x/b: logged in tier 1, then no rule allows: want denied"
log "Pass reaches tier 2 (y/b denied there, y/a allowed by the NetworkPolicy); earlier Deny wins (z/a)"

kill "$FLOWS" 2>/dev/null || true
wait "$FLOWS" 2>/dev/null || true
XB=$(lab_pod_v4 1 "$(pod_k x/b)")
jq -en --arg s "$XB" --arg d "$XA" '[inputs | select(.src == $s and .dst == $d and .verdict == "deny")]
	| any(.ingress.logged // [] | index("TierPolicy x/t1 ingress rule 2"))' "$T_DIR/flows" >/dev/null ||
	fail "no flow record of x/b -> x/a naming the Log rule: $(cat "$T_DIR/flows")"
jq -en --arg s "$(lab_pod_v4 1 "$(pod_k y/b)")" '[inputs | select(.src == $s and .verdict == "deny")]
	| any(.ingress.policy == "TierPolicy x/t2 ingress" and .ingress.rule == 0)' "$T_DIR/flows" >/dev/null ||
	fail "the record of y/b does not name tier 2 rule 0: $(grep "$(lab_pod_v4 1 "$(pod_k y/b)")" "$T_DIR/flows")"
log "flow records: Log rule named for x/b, deciding rule named for y/b"

out=$(ctl -s policy policy/explain "$(lab_pod_v4 1 "$(pod_k z/a)")" "$XA" tcp 80)
grep -q "^DENY" <<<"$out" && grep -q "TierPolicy x/t1 ingress rule 1" <<<"$out" ||
	fail "explain z/a: $out"
out=$(ctl -s policy -j policy/explain "$(lab_pod_v4 1 "$(pod_k y/a)")" "$XA" tcp 80)
[ "$(jq -r '.verdict + " " + .ingress.policy' <<<"$out")" = "allow NetworkPolicy x/from-y ingress" ] ||
	fail "explain y/a: $out"
hits=$(ctl -s policy -j policy/show | jq '[.[] | select(.name == "TierPolicy x/t1 ingress") | .rules[1].hits] | .[0]')
((hits >= 1)) || fail "the Deny rule of t1 has no hits"
log "policy/explain names the deciding policy and rule; t1's Deny rule has $hits hits"
log "PASS"
