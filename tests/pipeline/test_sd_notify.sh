#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sd_notify without systemd: a datagram socket stands in for systemd's NOTIFY_SOCKET. The
# supervisor says READY=1 only once every service is ready, with a STATUS; with WATCHDOG_USEC
# set it pings WATCHDOG=1 while idle; on SIGTERM it says STOPPING=1.
. "$(dirname "$0")/../lib.sh"

write_config
SOCK=$T_DIR/notify.sock
/usr/bin/python3 - "$SOCK" "$T_DIR/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
with open(sys.argv[2], "a", buffering=1) as out:
    try:
        while True:
            msg = s.recv(4096).decode()
            out.write(msg.replace("\n", " | ") + "\n")
            if "STOPPING=1" in msg:
                break
    except socket.timeout:
        pass
PY
LISTENER=$!
have_sock() { [ -S "$SOCK" ]; }
wait_for 10 "notify socket" have_sock

NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=400000 setsid "$SVC_DIR/podlane-supervisor" -c "$T_CONF" \
	>>"$T_DIR/supervisor.log" 2>&1 &
SUP_PID=$!
said() { grep -q "$1" "$T_DIR/notify.log"; }
wait_for 60 "READY=1" said "READY=1" || fail "no READY=1"
# READY comes only after all six services are ready.
ctl -j services/show | jq -e 'all(.[]; .state == "ready")' >/dev/null || fail "READY before services were ready"
grep "READY=1" "$T_DIR/notify.log" | grep -q "STATUS=all services ready" || fail "no STATUS with READY"
pings() { [ "$(grep -cx 'WATCHDOG=1' "$T_DIR/notify.log")" -ge 3 ]; }
wait_for 10 "three watchdog pings" pings || fail "no watchdog pings"
kill -TERM "$SUP_PID"
wait_for 20 "STOPPING=1" said "STOPPING=1" || fail "no STOPPING=1"
wait "$LISTENER" || true
wait_for 20 "supervisor and services gone" no_podlane_left || fail "left: $(podlane_pids)"
log "notifications: $(sort "$T_DIR/notify.log" | uniq -c | tr -s ' ' | tr '\n' ';')"
log "PASS"
