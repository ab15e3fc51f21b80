#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Under continuous synthetic load, kill -9 a randomly chosen stage (io-worker included) again
# and again, each time right after seeing its packet count move. After each kill the service is back and carrying traffic; at the end the pool's
# free count equals its starting value (no packet leaked), no ring is wedged, and services/show
# counts every restart.
. "$(dirname "$0")/../lib.sh"

KILLS=${PODLANE_CRASH_KILLS:-200}
write_config
start_supervisor
size=$(ctl -j pool/show | jq .size)
[ "$(ctl -j pool/show | jq .available)" -eq "$size" ] || fail "pool not full at start"

ctl -s io-worker synth/start pps=0 >/dev/null
tx() { ctl -s io-worker -j counters/show | jq .tx_packets; }
declare -A kills=([io-worker]=0 [nat-lb]=0 [policy]=0 [router]=0)
RANDOM=${PODLANE_CRASH_SEED:-$$}
log "seed for the victim sequence: $RANDOM"
stages=(io-worker nat-lb policy router)
for ((i = 1; i <= KILLS; i++)); do
	victim=${stages[RANDOM % 4]}
	pid=$(svc_field "$victim" pid)
	[ "$pid" -gt 0 ] || fail "kill $i: $victim has no pid"
	# Under load when the kill lands: the victim's packet count moves right before it.
	rx0=$(counter "$victim" rx_packets)
	taking() { [ "$(counter "$victim" rx_packets)" -gt "$rx0" ]; }
	wait_for 30 "kill $i: $victim taking packets" taking ||
		fail "kill $i: $victim took no packets before the kill"
	kill -9 "$pid"
	kills[$victim]=$((kills[$victim] + 1))
	new_pid() {
		ctl -j services/show | jq -e --arg s "$victim" --argjson old "$pid" \
			'any(.[]; .service == $s and .pid > 0 and .pid != $old and .state == "ready")' >/dev/null
	}
	wait_for 30 "kill $i: $victim back" new_pid || fail "kill $i: $victim did not come back"
	before=$(tx)
	moving() { [ "$(tx)" -gt "$before" ]; }
	wait_for 30 "kill $i: traffic after restarting $victim" moving || fail "kill $i: no traffic after $victim restarted"
	((i % 25 == 0)) && log "$i kills, tx=$(tx)"
done

ctl -s io-worker synth/stop >/dev/null
pool_full() { [ "$(ctl -j pool/show | jq '.available == .size')" = true ]; }
wait_for 30 "pool back to $size free" pool_full || {
	ctl pool/show >&2
	ctl rings/show >&2
	fail "packets leaked"
}
# No ring wedged: empty, heads equal tails on both sides, and traffic flows again.
rings=$(ctl -j rings/show)
echo "$rings" | jq -e 'all(.[]; .count == 0 and .prod_head == .prod_tail and .cons_head == .cons_tail)' >/dev/null ||
	fail "a ring is wedged: $rings"
ctl -s io-worker synth/start count=100000 backpressure=1 >/dev/null
done_100k() { [ "$(ctl -s io-worker -j synth/show | jq .active)" = false ] && pool_full; }
wait_for 60 "100000 packets after the storm" done_100k || fail "pipeline stuck after the kills"

# Nothing hangs here: a hang detected is a live process taken for hung (and killed).
hangs=$(counter supervisor hangs_detected)
[ "$hangs" -eq 0 ] || fail "$hangs processes taken for hung: $(grep ' hung: ' "$T_DIR/supervisor.log")"
for s in "${!kills[@]}"; do
	r=$(svc_field "$s" restarts)
	log "$s: killed ${kills[$s]} times, restarts counted $r"
	# The deaths the kills do not explain, for the failure message.
	other() { grep -E "children: $s \(pid [0-9]+\) " "$T_DIR/supervisor.log" | grep -v 'killed by SIGKILL after'; }
	[ "$r" -eq "${kills[$s]}" ] || fail "$s: $r restarts counted for ${kills[$s]} kills; other exits: $(other)"
done
log "reclaimed packets: $(counter supervisor reclaimed_packets), ring repairs: $(counter supervisor ring_repairs)"
log "PASS"
