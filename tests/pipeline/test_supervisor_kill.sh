#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 of the supervisor: no child is left running, and a new supervisor starts cleanly on
# the same hugepages and file prefix, and carries traffic.
. "$(dirname "$0")/../lib.sh"

write_config
start_supervisor
ctl -s io-worker synth/start pps=200000 >/dev/null
children=$(ctl -j services/show | jq -r '.[] | select(.service != "supervisor") | .pid')
[ "$(echo "$children" | wc -w)" -eq 6 ] || fail "expected six children"
files_before=$(ls "$HUGE_DIR" | grep -c "^${T_PREFIX}map_" || true)
log "children: $(echo $children); hugepage files: $files_before"

kill -9 "$SUP_PID"
children_gone() { for p in $children; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
wait_for 10 "every child gone after the supervisor's SIGKILL" children_gone ||
	fail "children still running: $(podlane_pids)"
wait_for 10 "no podlane process left" no_podlane_left || fail "left: $(podlane_pids)"

start_supervisor
files_after=$(ls "$HUGE_DIR" | grep -c "^${T_PREFIX}map_" || true)
log "restarted; hugepage files: $files_after"
[ "$files_after" -le "$files_before" ] || fail "hugepage files grew from $files_before to $files_after"
size=$(ctl -j pool/show | jq .size)
[ "$(ctl -j pool/show | jq .available)" -eq "$size" ] || fail "new pool not full"
ctl -s io-worker synth/start count=200000 backpressure=1 >/dev/null
delivered() { [ "$(ctl -s io-worker -j counters/show | jq .tx_packets)" -eq 200000 ]; }
wait_for 60 "200000 packets through the new pipeline" delivered || fail "no traffic after restart"
for svc in io-worker nat-lb policy router cni-server bgp-bridge; do
	[ "$(svc_field "$svc" restarts)" -eq 0 ] || fail "$svc restarted under the new supervisor"
done
log "PASS"
