#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cni-server's gRPC service as a client sees it: the socket is mode 0600; Add creates the pod
# with host addresses and is idempotent; an unknown method gets UNIMPLEMENTED at once, a
# malformed request a clear refusal; an Add that died before it was recorded leaves a tun that
# the next Add for the same pod replaces; Del twice succeeds.
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
trap 'rc=$?; ip netns del "$NS" 2>/dev/null; (exit $rc); cleanup' EXIT
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
log "PASS"
