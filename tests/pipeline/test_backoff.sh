#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Restart back-off: a service that dies soon after starting is restarted after a delay that
# doubles each time (capped at backoff_max_ms); once it has run for quiet_ms the delay is back
# to backoff_min_ms. With standbys (argument "standby"), the standby takes over at once and the
# delay applies to the start of the next standby instead. Also: SIGTERM stops the services
# (standbys included) in reverse start order.
. "$(dirname "$0")/../lib.sh"

# Part 1 without standbys (cold restarts), part 2 with a warm standby per stage: the standby
# takes over at once and the same back-off paces the start of the next standby.
mode=${1:-cold}
if [ "$mode" = cold ]; then
	write_config '  standby: false' # continues the supervisor section
	pattern='restarting in'
else
	write_config
	pattern='standby (pid [0-9]*) takes over, next standby in'
fi
sed -i 's/backoff_min_ms: 10/backoff_min_ms: 50/; s/backoff_max_ms: 400/backoff_max_ms: 200/; s/quiet_ms: 1000/quiet_ms: 3000/' "$T_CONF"
start_supervisor

kill_router() {
	local pid
	pid=$(svc_field router pid)
	if [ "$mode" = standby ]; then
		warm() { [ "$(svc_field router standby)" = warm ]; }
		wait_for 30 "router's standby warm" warm || fail "no warm standby for router"
	fi
	kill -9 "$pid"
	back() { [ "$(svc_field router state)" = ready ] && [ "$(svc_field router pid)" != "$pid" ]; }
	wait_for 30 "router back" back || fail "router did not come back"
}
delays() { grep -o "router (pid [0-9]*) killed by SIGKILL after [0-9]* ms; $pattern [0-9]* ms" "$T_DIR/supervisor.log" | sed 's/.* in \([0-9]*\) ms/\1/' | tr '\n' ' '; }

# The first kill comes long after start (a full quiet period): minimum delay. Then four quick
# deaths: 100, 200, 200 (capped), 200.
quiet() { [ "$(svc_field router uptime_ms)" -ge 3000 ]; }
wait_for 30 "router up for quiet_ms" quiet
for i in 1 2 3 4 5; do kill_router; done
got=$(delays)
log "$mode: delays ($pattern): $got"
[ "$got" = "50 100 200 200 200 " ] || fail "expected delays 50 100 200 200 200, got: $got"
wait_for 30 "router up for quiet_ms again" quiet
kill_router
got=$(delays)
[ "${got##* 200 }" = "50 " ] || fail "back-off not reset after a quiet period: $got"
[ "$(svc_field router restarts)" -eq 6 ] || fail "restarts != 6"
if [ "$mode" = standby ]; then
	[ "$(svc_field router takeovers)" -eq 6 ] || fail "takeovers != 6: $(svc_field router takeovers)"
	[ "$(counter supervisor standby_takeovers)" -eq 6 ] || fail "standby_takeovers counter != 6"
	# Every stage has its warm standby again, asleep.
	for s in io-worker nat-lb policy router; do
		w() { [ "$(svc_field "$s" standby)" = warm ]; }
		wait_for 30 "$s standby warm" w || fail "$s has no warm standby"
	done
fi

kill -TERM "$SUP_PID"
wait_for 30 "everything stopped" no_podlane_left || fail "left: $(podlane_pids)"
order=$(grep -o 'info children: [a-z-]* stopped' "$T_DIR/supervisor.log" | awk '{print $3}' | tr '\n' ' ')
log "stop order: $order"
[ "$order" = "bgp-bridge cni-server io-worker nat-lb policy router " ] || fail "stop order: $order"
log "PASS"
