#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 of nat-lb with 20 long-lived TCP connections open through a ClusterIP: all 20 go on
# (no reset, every echoed byte verified) and keep their endpoints, because the session table
# and the service table are in shared memory. Then a storm of short connections while nat-lb
# is killed again and again: nat-lb restarts exactly once per kill (no crash of its own), the
# storm keeps being served, and afterwards every session expires: none leaks.
. "$(dirname "$0")/services_lib.sh"

CLIENT=4
services_up
start_backends 3
add_pod "$CLIENT"
VIP=10.96.0.10
apply_yaml web "$(service_yaml web ClusterIP $VIP 0)"
apply_yaml web-slice "$(slice_yaml web IPv4 "$(lab_pod_v4 1 1)" "$(lab_pod_v4 1 2)" "$(lab_pod_v4 1 3)")"
wait_svc web 3

sessions_json() { ctl -s nat-lb -j sessions/show service=test/web state=established |
	jq -c '[.[] | {original, endpoint}] | sort'; }
# Packets through the service: translated by nat-lb, or by io-worker's fast path on nat-lb's
# sessions (only this service's traffic runs here).
forwarded() { echo $(($(counter nat-lb nat_forward) + $(counter io-worker fast_path))); }
forwarded_more() { [ "$(forwarded)" -gt "$1" ]; }

STOP=$T_DIR/stop
in_client python3 "$SVC_TOOL" hold $VIP 80 20 "$STOP" >"$T_DIR/hold.out" 2>"$T_DIR/hold.err" &
HOLD=$!
connected() { grep -q connected "$T_DIR/hold.err"; }
wait_for 20 "20 connections open" connected || fail "connections: $(cat "$T_DIR/hold.err")"
est20() { [ "$(sessions_json | jq length)" = 20 ]; }
wait_for 10 "20 established sessions" est20 || fail "sessions: $(ctl -s nat-lb sessions/show)"
before=$(sessions_json)
restarts0=$(svc_field nat-lb restarts)
pid=$(svc_field nat-lb pid)
# In flight when the kill lands: data moving through nat-lb right before it, and the 20
# connections still streaming right after it (hold reports, in hold.out, only when it ends).
wait_for 20 "data flowing" forwarded_more $(($(forwarded) + 2000)) ||
	fail "no data through the service"
kill -9 "$pid"
[ ! -s "$T_DIR/hold.out" ] ||
	fail "the kill did not land while the connections streamed: they had ended ($(cat "$T_DIR/hold.out"))"
log "killed nat-lb (pid $pid) with 20 connections streaming"
restarted() { [ "$(svc_field nat-lb restarts)" -gt "$restarts0" ] && [ "$(svc_field nat-lb state)" = ready ]; }
wait_for 20 "nat-lb back" restarted || fail "nat-lb did not come back"
# Counters are per process block in the shared stats segment: the new process adds to them.
wait_for 20 "data flowing after the restart" forwarded_more $(($(forwarded) + 2000)) ||
	fail "no data through the service after the restart"
after=$(sessions_json)
[ "$after" = "$before" ] || fail "sessions changed across the restart: $before -> $after"
touch "$STOP"
wait "$HOLD" || fail "connections broke: $(cat "$T_DIR/hold.out" "$T_DIR/hold.err")"
[ "$(jq -r '.ok' "$T_DIR/hold.out")" = 20 ] || fail "not all 20 survived: $(cat "$T_DIR/hold.out")"
log "all 20 connections survived the kill, same endpoints, data verified: $(cat "$T_DIR/hold.out")"

# --- a connection storm while nat-lb is killed three times
STORM_S=12
pids=()
for i in 1 2; do
	in_client python3 "$SVC_TOOL" storm $VIP 80 $STORM_S >"$T_DIR/storm.$i" 2>&1 &
	pids+=($!)
done
restarts0=$(svc_field nat-lb restarts)
for k in 1 2 3; do
	# In flight: connections through nat-lb right before the kill, and neither storm client
	# over right after it (each reports only when it ends).
	pid=$(svc_field nat-lb pid)
	wait_for 20 "storm under way" forwarded_more $(($(forwarded) + 500)) ||
		fail "storm not flowing before kill $k"
	kill -9 "$pid"
	for i in 1 2; do
		[ ! -s "$T_DIR/storm.$i" ] ||
			fail "kill $k did not land in the storm: client $i had ended ($(cat "$T_DIR/storm.$i"))"
	done
	want=$((restarts0 + k))
	back() { [ "$(svc_field nat-lb restarts)" -ge "$want" ] && [ "$(svc_field nat-lb state)" = ready ]; }
	wait_for 20 "nat-lb back after kill $k" back || fail "nat-lb did not come back after kill $k"
done
for p in "${pids[@]}"; do
	wait "$p" || fail "storm client failed"
done
ok=$(cat "$T_DIR"/storm.* | jq -s 'map(.ok) | add')
errs=$(cat "$T_DIR"/storm.* | jq -s 'map(.errors) | add')
((ok > 200)) || fail "storm: only $ok connections served"
[ "$(svc_field nat-lb restarts)" = $((restarts0 + 3)) ] ||
	fail "nat-lb restarted $(svc_field nat-lb restarts) times, want $((restarts0 + 3)) (a crash of its own?)"
log "storm: $ok connections served, $errs failed around 3 kills; nat-lb restarted exactly 3 times"
in_use() { ctl -s nat-lb sessions/show | tail -1 | sed -n 's/.*; \([0-9]*\) in use of.*/\1/p'; }
drained() { [ "$(in_use)" = 0 ]; }
wait_for 60 "every session expired" drained || fail "sessions leaked: $(in_use) still in use"
log "no session leaked: the table is empty again"
log "PASS"
