#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# systemd mode: with supervisor.spawn_services false, the services are started by someone else
# (here the test, as systemd units would). The supervisor still sees them ready, and when one
# dies it still repairs the rings and reclaims the packets it held; its manager restarts it.
. "$(dirname "$0")/../lib.sh"

write_config "  spawn_services: false"
# The config's supervisor section is the last one, so the extra line lands in it.
grep -q "spawn_services: false" "$T_CONF"
setsid "$SVC_DIR/podlane-supervisor" -c "$T_CONF" >>"$T_DIR/supervisor.log" 2>&1 &
SUP_PID=$!
sup_up() { ctl version; }
wait_for 30 "supervisor up" sup_up
declare -A PIDS
start_svc() {
	setsid "$SVC_DIR/podlane-$1" -c "$T_CONF" >>"$T_DIR/$1.log" 2>&1 &
	PIDS[$1]=$!
}
for svc in router policy nat-lb io-worker cni-server bgp-bridge; do start_svc "$svc"; done
wait_for 60 "all services ready and watched" ctl status
for svc in router policy nat-lb io-worker; do
	[ "$(svc_field "$svc" pid)" = "${PIDS[$svc]}" ] || fail "$svc pid not adopted"
	[ "$(svc_field "$svc" managed)" = false ] || fail "$svc shown as managed"
done

ctl -s io-worker synth/start pps=0 >/dev/null
moving() { [ "$(ctl -s io-worker -j counters/show | jq .tx_packets)" -gt 100000 ]; }
wait_for 30 "traffic" moving
for victim in router io-worker nat-lb; do
	kill -9 "${PIDS[$victim]}"
	gone() { [ "$(svc_field "$victim" state)" != ready ]; }
	wait_for 10 "supervisor notices $victim died" gone || fail "$victim death not noticed"
	start_svc "$victim"
	back() { [ "$(svc_field "$victim" state)" = ready ] && [ "$(svc_field "$victim" pid)" = "${PIDS[$victim]}" ]; }
	wait_for 30 "$victim restarted by its manager and watched again" back || fail "$victim not back"
done
ctl -s io-worker synth/stop >/dev/null
pool_full() { [ "$(ctl -j pool/show | jq '.available == .size')" = true ]; }
wait_for 30 "pool back to full" pool_full || { ctl pool/show >&2; fail "packets leaked in systemd mode"; }
[ "$(counter supervisor child_exits)" -eq 3 ] || fail "child_exits != 3"
log "reclaimed packets: $(counter supervisor reclaimed_packets)"
# The supervisor does not stop what it did not start: stop them as their manager would.
for svc in "${!PIDS[@]}"; do kill -TERM "${PIDS[$svc]}" 2>/dev/null || true; done
log "PASS"
