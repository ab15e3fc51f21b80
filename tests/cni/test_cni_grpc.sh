#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cni-server's gRPC service as a client sees it: the socket is mode 0600; Add creates the pod
# with host addresses and is idempotent; an unknown method gets UNIMPLEMENTED at once, a
# malformed request a clear refusal; an Add that died before it was recorded leaves a tun that
# the next Add for the same pod replaces; Del twice succeeds. The network namespace must be
# /var/run/netns/NAME, /run/netns/NAME or /proc/PID/ns/net, open as a network namespace and not
# be podlane's own: anything else is refused with a clear error and creates nothing. A socket
# directory writable by others stops cni-server with a clear error.
. "$(dirname "$0")/../lib.sh"

CALL=$BUILD_DIR/tests/grpc_call
SOCK=$T_DIR/cni/cni.sock
write_config "cni:
  socket: $SOCK
pods:
  state_file: $T_DIR/pods.json"
start_supervisor
NS=plg$$
ip netns add "$NS"
NOTNS=/run/netns/plg$$.file
SLEEPER=
trap 'rc=$?; [ -z "$SLEEPER" ] || kill "$SLEEPER" 2>/dev/null || true; rm -f "$NOTNS"; ip netns del "$NS" 2>/dev/null; (exit $rc); cleanup' EXIT
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK"), expected 600"

out=$("$CALL" "$SOCK" add "/var/run/netns/$NS" eth0 10.98.7.5/24 fd98:7::5/64) || fail "add: transport error"
jq -e '.successful' <<<"$out" >/dev/null || fail "add refused: $out"
ip -n "$NS" -j addr show eth0 | jq -e '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] | index("10.98.7.5/32") != null' >/dev/null ||
	fail "pod address is not 10.98.7.5/32"
out=$("$CALL" "$SOCK" add "/var/run/netns/$NS" eth0 10.98.7.5/24 fd98:7::5/64)
jq -e '.successful' <<<"$out" >/dev/null || fail "repeated add refused: $out"

t0=$(date +%s%N)
rc=0
"$CALL" "$SOCK" call /cni.CniDataplane/Frobnicate 2>"$T_DIR/err" >/dev/null || rc=$?
status=$(sed -n 's/^grpc_call: status \([0-9][0-9]*\): .*/\1/p' "$T_DIR/err")
if [ $rc -ne 2 ] || [ "$status" != 12 ]; then
	fail "unknown method: rc=$rc, not UNIMPLEMENTED (12): $(cat "$T_DIR/err")"
fi
[ $((($(date +%s%N) - t0) / 1000000)) -lt 2000 ] || fail "unknown method took 2 s or more"
out=$("$CALL" "$SOCK" call /cni.CniDataplane/Add ffffffff) || fail "malformed add: transport error"
jq -e '(.successful | not) and (.error_message | test("malformed"))' <<<"$out" >/dev/null ||
	fail "malformed request not refused clearly: $out"

# Network namespaces: only the forms runtimes use, and only real, foreign ones.
refused() { # PATTERN NETNS
	local out
	out=$("$CALL" "$SOCK" add "$2" eth1 10.98.7.9/24) || fail "add $2: transport error"
	jq -e --arg p "$1" '(.successful | not) and (.error_message | test($p))' <<<"$out" >/dev/null ||
		fail "add in '$2' not refused with /$1/: $out"
}
touch "$NOTNS"
FORMS="only /var/run/netns/NAME, /run/netns/NAME, /proc/PID/ns/net or NAME"
refused "bad network namespace '/tmp': $FORMS" /tmp
refused "bad network namespace '/var/run/netns/../netns/$NS': $FORMS" "/var/run/netns/../netns/$NS"
refused "bad network namespace '/run/netns/': $FORMS" /run/netns/
refused "bad network namespace '/proc/self/ns/net': $FORMS" /proc/self/ns/net
refused "bad network namespace '/proc/1/ns/mnt': $FORMS" /proc/1/ns/mnt
refused "bad network namespace '$NOTNS': not a network namespace" "$NOTNS"
refused "bad network namespace '/proc/$$/ns/net': that is podlane's own network namespace" "/proc/$$/ns/net"
refused "no network namespace '/run/netns/plg$$.none'" "/run/netns/plg$$.none"
[ "$(ctl -j pods | jq length)" -eq 1 ] || fail "a refused add left a pod: $(ctl pods)"
! ip -n "$NS" link show eth1 >/dev/null 2>&1 || fail "a refused add left a tun"
# An add that died between creating the tun and recording it.
"$CALL" "$SOCK" del "/var/run/netns/$NS" eth0 >/dev/null
ip -n "$NS" tuntap add dev eth0 mode tun
out=$("$CALL" "$SOCK" add "/var/run/netns/$NS" eth0 10.98.7.6/24) || fail "add over a leftover tun: transport error"
jq -e '.successful' <<<"$out" >/dev/null || fail "add over an unrecorded tun refused: $out"

for i in 1 2; do
	out=$("$CALL" "$SOCK" del "/var/run/netns/$NS" eth0) || fail "del $i: transport error"
	jq -e '.successful' <<<"$out" >/dev/null || fail "del $i refused: $out"
done
ip -n "$NS" link show eth0 >/dev/null 2>&1 && fail "tun left after del"
[ "$(ctl -j pods | jq length)" -eq 0 ] || fail "pods left: $(ctl pods)"

# /proc/PID/ns/net of a process in the pod's namespace, and /run/netns/NAME.
ip netns exec "$NS" sleep 120 &
SLEEPER=$!
in_ns() { [ "$(readlink "/proc/$SLEEPER/ns/net")" = "$(ip netns exec "$NS" readlink /proc/self/ns/net)" ]; }
wait_for 10 "a process in $NS" in_ns || fail "sleeper not in $NS"
for ns in "/proc/$SLEEPER/ns/net" "/run/netns/$NS"; do
	out=$("$CALL" "$SOCK" add "$ns" eth0 10.98.7.8/24) || fail "add in $ns: transport error"
	jq -e '.successful' <<<"$out" >/dev/null || fail "add in $ns refused: $out"
	ip -n "$NS" link show eth0 >/dev/null || fail "no eth0 in $NS after add in $ns"
	out=$("$CALL" "$SOCK" del "$ns" eth0) || fail "del in $ns: transport error"
	jq -e '.successful' <<<"$out" >/dev/null || fail "del in $ns refused: $out"
	! ip -n "$NS" link show eth0 >/dev/null 2>&1 || fail "eth0 left in $NS after del in $ns"
done
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null || true
SLEEPER=

log "network namespaces: 8 bad ones refused, /proc/PID/ns/net and /run/netns/NAME accepted"

# The socket's directory must be cni-server's alone: a restart into one others can write to
# fails with a clear error, and succeeds again once the mode is fixed.
pid=$(svc_field cni-server pid)
chmod 0777 "$(dirname "$SOCK")"
kill -9 "$pid"
refuses() { grep -q "unsafe directory for cni.socket: $(dirname "$SOCK") has mode 0777" "$T_DIR/supervisor.log"; }
wait_for 30 "cni-server refuses the world-writable socket directory" refuses || fail "no refusal in the log"
chmod 0700 "$(dirname "$SOCK")"
back() { [ "$(svc_field cni-server state)" = ready ] && [ "$(svc_field cni-server pid)" != "$pid" ]; }
wait_for 30 "cni-server back" back || fail "cni-server did not come back"
out=$("$CALL" "$SOCK" del "/var/run/netns/$NS" eth0) || fail "del after the restart: transport error"
log "socket directory: mode 0777 refused, 0700 served"
log "PASS"
