#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The uplink's addresses, routes, MTU, MAC and link state equal the snapshot taken before
# start, compared field by field: after SIGKILL of the supervisor followed by
# `podlane-supervisor --restore`; after a crash of the supervisor itself (SIGSEGV: it re-executes
# itself with --restore); and after a crash of the dataplane (io-worker killed: the host stays
# connected, then a normal stop restores).
. "$(dirname "$0")/node_lib.sh"

node_lab_up
before=$(uplink_snapshot)
node_config
restored() { [ "$(uplink_snapshot)" = "$before" ]; }
taken() { in_node ip link show pl-eth0 >/dev/null 2>&1; }

# 1. SIGKILL, then --restore.
start_node_podlane
taken || fail "uplink not taken"
kill -9 "$SUP_PID"
wait_for 10 "podlane gone" no_podlane_left || fail "processes left after SIGKILL"
taken || fail "uplink given back without a restore?"
[ -s "$T_DIR/uplink.json" ] || fail "no state file to restore from"
in_node "$SVC_DIR/podlane-supervisor" -c "$T_CONF" --restore >>"$T_DIR/supervisor.log" 2>&1 ||
	fail "--restore failed"
restored || fail "after SIGKILL + --restore: $(uplink_snapshot) != $before"
[ ! -e "$T_DIR/uplink.json" ] || fail "state file left after --restore"
in_node "$SVC_DIR/podlane-supervisor" -c "$T_CONF" --restore >>"$T_DIR/supervisor.log" 2>&1 ||
	fail "a second --restore (nothing to do) failed"
log "SIGKILL + --restore: restored exactly"

# 2. The supervisor crashes.
start_node_podlane
kill -SEGV "$SUP_PID"
wait_for 30 "uplink restored after SIGSEGV" restored || fail "after SIGSEGV: $(uplink_snapshot) != $before"
wait_for 10 "podlane gone after the crash" no_podlane_left || fail "processes left: $(podlane_pids)"
grep -q "restored" "$T_DIR/supervisor.log" || fail "no restore logged"
log "SIGSEGV of the supervisor: restored exactly"

# 3. The dataplane crashes; the host keeps its connectivity; a normal stop restores.
start_node_podlane
ping_gw() { in_node ping -c 1 -W 1 "$(lab_gw_v4 1)" >/dev/null; }
wait_for 20 "host -> gateway" ping_gw || fail "host not connected"
pid=$(svc_field io-worker pid)
kill -9 "$pid"
back() { [ "$(svc_field io-worker state)" = ready ] && [ "$(svc_field io-worker pid)" != "$pid" ]; }
wait_for 30 "io-worker back" back || fail "io-worker not restarted"
wait_for 20 "host -> gateway after the io-worker crash" ping_gw || fail "host lost connectivity"
in_gw ping -c 1 -W 2 "$(lab_uplink_v4 1)" >/dev/null || fail "gateway cannot reach the host"
kill -TERM "$SUP_PID"
wait_for 30 "supervisor exit" no_podlane_left || fail "podlane did not stop"
restored || fail "after a dataplane crash and stop: $(uplink_snapshot) != $before"
log "dataplane crash, then stop: restored exactly"
log "PASS"
