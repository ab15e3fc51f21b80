#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Idle: with no traffic, all podlane processes (warm standbys and the hang check included)
# together use less than 2% of one core over a
# 10 s window, measured from the scheduler's runtime of every thread (/proc/PID/task/TID/schedstat).
. "$(dirname "$0")/../lib.sh"

WINDOW=10
write_config
start_supervisor
# Some traffic first, so the stages have been busy and must have gone back to sleep.
ctl -s io-worker synth/start count=100000 backpressure=1 >/dev/null
drained() { [ "$(ctl -s io-worker -j synth/show | jq .active)" = false ] && [ "$(ctl -j pool/show | jq '.available == .size')" = true ]; }
wait_for 60 "burst of traffic done" drained

# The warm standbys (asleep until a take-over) count too.
standbys_warm() { [ "$(ctl -j services/show | jq '[.[] | select(.standby == "warm")] | length')" -eq 4 ]; }
wait_for 30 "the four standbys warm" standbys_warm || fail "standbys not warm: $(ctl status)"
pids="$SUP_PID $(ctl -j services/show | jq -r '.[] | select(.service != "supervisor") | .pid, (.standby_pid // 0 | select(. > 0))')"
# Exact runtimes (schedstat), not tick counts.
# shellcheck disable=SC2086 # a list of pids
t0=$(cpu_ns $pids) || fail "a podlane process died before the window"
start_ns=$(date +%s%N)
sleep "$WINDOW"
# shellcheck disable=SC2086
t1=$(cpu_ns $pids) || fail "a podlane process died during the window"
elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
used_ms=$(((t1 - t0) / 1000000))
log "podlane processes ($(echo $pids | wc -w)) used ${used_ms} ms of CPU in ${elapsed_ms} ms"
# 2% of one core
[ $((used_ms * 100)) -lt $((elapsed_ms * 2)) ] || fail "idle CPU ${used_ms} ms over ${elapsed_ms} ms is 2% or more"
for svc in io-worker nat-lb policy router; do
	[ "$(svc_field "$svc" restarts)" -eq 0 ] || fail "$svc restarted during the window"
done
log "PASS"
