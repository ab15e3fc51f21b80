#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input gets a clear error and nothing half-done: bad config files and bad command-line
# arguments stop the supervisor at once with a non-zero exit, an error naming what was wrong
# and where, and no process, stats segment or hugepage file left behind; an unknown admin
# command, malformed admin requests and malformed state-bus messages are answered or dropped,
# counted, and crash nothing. run_dir (every socket is in it) must be ours: one owned by another
# user or writable by group or others stops start-up; podlane creates it 0700, its sockets
# 0600, and its ZeroMQ sockets refuse a peer of another uid (SO_PEERCRED) even when the file
# modes would let it connect.
. "$(dirname "$0")/../lib.sh"

SUP=$SVC_DIR/podlane-supervisor

# expect_startup_error NAME PATTERN -- ARGS...: the supervisor exits non-zero at once, says
# PATTERN on stderr, and leaves nothing running or allocated.
expect_startup_error() {
	local name=$1 pattern=$2
	shift 3
	local rc=0
	timeout 20 "$SUP" "$@" >"$T_DIR/out" 2>"$T_DIR/err" || rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$name: exit status $rc"
	grep -qE -- "$pattern" "$T_DIR/err" || fail "$name: stderr lacks /$pattern/: $(cat "$T_DIR/err")"
	no_podlane_left || fail "$name: processes left: $(podlane_pids)"
	[ ! -e "$T_RUN/podlane.shm" ] || fail "$name: stats segment created"
	! ls "$HUGE_DIR" | grep -q "^${T_PREFIX}map_" || fail "$name: hugepage files created"
	log "$name: $(head -1 "$T_DIR/err")"
}

bad() { # NAME PATTERN YAML
	printf '%s\n' "$3" >"$T_DIR/bad.yaml"
	expect_startup_error "$1" "$2" -- -c "$T_DIR/bad.yaml"
}
base="run_dir: $T_RUN
dpdk:
  file_prefix: $T_PREFIX"
bad "unknown key" "bad.yaml:4: unknown key 'mbufz' in section 'dpdk'" "$base
  mbufz: 100"
bad "wrong type" "bad.yaml:4: 'dpdk.mbufs' expects an unsigned integer, got 'lots'" "$base
  mbufs: lots"
bad "out of range" "bad.yaml:4: 'dpdk.mbufs' = 10 is out of range" "$base
  mbufs: 10"
bad "not a power of two" "bad.yaml:4: .*power of two" "$base
  ring_size: 1000"
bad "bad enum" "bad.yaml:5: .*log.level" "$base
log:
  level: loud"
bad "yaml syntax" "bad.yaml:[0-9]+: .*(scanner|parser|syntax|quoted)" "$base
  mbufs: \"1024"
expect_startup_error "missing file" "$T_DIR/none.yaml: cannot open: No such file or directory" -- -c "$T_DIR/none.yaml"
expect_startup_error "unknown option" "unknown option '--frobnicate'" -- --frobnicate
expect_startup_error "missing option argument" "option '-c' needs an argument" -- -c
expect_startup_error "stray argument" "unexpected argument 'extra'" -- extra
printf 'run_dir: %s\ndpdk:\n  file_prefix: %s\n' "$T_RUN" "$T_PREFIX" >"$T_DIR/good.yaml"
mkdir -m 0777 "$T_RUN"
chmod 0777 "$T_RUN" # whatever the umask
expect_startup_error "run_dir writable by others" \
	"unsafe run_dir: $T_RUN has mode 0777, writable by group or others: refusing" -- -c "$T_DIR/good.yaml"
chmod 0770 "$T_RUN"
expect_startup_error "run_dir writable by its group" "unsafe run_dir: $T_RUN has mode 0770" -- -c "$T_DIR/good.yaml"
chmod 0700 "$T_RUN"
chown 65534 "$T_RUN"
expect_startup_error "run_dir of another user" \
	"unsafe run_dir: $T_RUN is owned by uid 65534, not by this process's uid $(id -u): refusing" -- -c "$T_DIR/good.yaml"
for svc in io-worker cni-server; do # the services check it themselves too
	rc=0
	"$SVC_DIR/podlane-$svc" -c "$T_DIR/good.yaml" >/dev/null 2>"$T_DIR/err" || rc=$?
	if [ $rc -eq 0 ] || ! grep -q "unsafe run_dir: $T_RUN is owned by uid 65534" "$T_DIR/err"; then
		fail "$svc started in another user's run_dir: rc=$rc $(cat "$T_DIR/err")"
	fi
done
[ -z "$(ls -A "$T_RUN")" ] || fail "something was created in the unsafe run_dir: $(ls -A "$T_RUN")"
rmdir "$T_RUN"
for svc in io-worker nat-lb policy router cni-server bgp-bridge; do
	rc=0
	"$SVC_DIR/podlane-$svc" --bogus >/dev/null 2>"$T_DIR/err" || rc=$?
	[ $rc -ne 0 ] && grep -q "unknown option '--bogus'" "$T_DIR/err" || fail "$svc accepted --bogus"
	"$SVC_DIR/podlane-$svc" --help | grep -q "^Usage: podlane-$svc" || fail "$svc --help"
done
rc=0
"$CTL" --frobnicate >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "podlanectl --frobnicate exit $rc, expected 2"
rc=0
"$CTL" -s no-such-service version >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "podlanectl -s no-such-service exit $rc, expected 2"

# A good instance for the runtime checks.
write_config
start_supervisor
router_pid=$(svc_field router pid)

# podlane made run_dir 0700 and every socket in it 0600.
[ "$(stat -c '%a %u' "$T_RUN")" = "700 $(id -u)" ] || fail "run_dir: $(stat -c '%a %u' "$T_RUN")"
socks=$(find "$T_RUN" -type s -printf '%f %m\n' | sort)
log "sockets: $(tr '\n' ' ' <<<"$socks")"
for s in supervisor.ctl router.ctl io-worker.ctl cni-server.ctl supervisor.snap supervisor.pub \
	cni-server.snap cni-server.pub policy.tap router.wake io-worker.wake; do
	grep -qx "$s 600" <<<"$socks" || fail "socket $s missing or not 0600"
done
! grep -qv ' 600$' <<<"$socks" || fail "sockets not 0600: $(grep -v ' 600$' <<<"$socks")"
# Peer credentials: even with the directory searchable and the sockets 0666, another uid's
# connection is closed by the service (ZMQ_IPC_FILTER_UID on SO_PEERCRED); root still gets in.
chmod 0711 "$T_DIR" "$T_RUN"
chmod 0666 "$T_RUN/router.ctl" "$T_RUN/supervisor.snap" "$T_RUN/supervisor.pub"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody test -w "$T_RUN/router.ctl" || fail "nobody cannot reach the socket file: the check below would prove nothing"
for cmd in "-s router version" "bus-dump supervisor"; do
	rc=0
	# shellcheck disable=SC2086 # the command's words
	as_nobody "$CTL" -r "$T_RUN" -t 1500 $cmd >"$T_DIR/out" 2>"$T_DIR/err" || rc=$?
	[ $rc -eq 3 ] || fail "podlanectl $cmd as uid 65534: exit $rc, expected 3 (unreachable): $(cat "$T_DIR/out" "$T_DIR/err")"
	# shellcheck disable=SC2086
	"$CTL" -r "$T_RUN" $cmd >/dev/null || fail "podlanectl $cmd as root failed"
done
chmod 0700 "$T_DIR" "$T_RUN"
chmod 0600 "$T_RUN/router.ctl" "$T_RUN/supervisor.snap" "$T_RUN/supervisor.pub"
log "uid 65534 refused on the admin and bus sockets; root answered"

rc=0
ctl -s router frobnicate now >"$T_DIR/out" 2>"$T_DIR/err" || rc=$?
[ $rc -eq 1 ] || fail "unknown admin command: exit $rc, expected 1"
grep -q "unknown command 'frobnicate' for router" "$T_DIR/err" || fail "unknown command message: $(cat "$T_DIR/err")"
rc=0
ctl -s router log/set loud >/dev/null 2>"$T_DIR/err" || rc=$?
[ $rc -eq 1 ] && grep -q "unknown log level 'loud'" "$T_DIR/err" || fail "bad log/set argument"
[ "$(counter router admin_errors)" -eq 2 ] || fail "router admin_errors != 2"

# Malformed frames straight onto the admin socket and the state bus's snapshot socket.
/usr/bin/python3 - "$T_RUN" <<'PY'
import sys, zmq
run = sys.argv[1]
ctx = zmq.Context()
def send(path, frames_list):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 1000)
    s.connect("ipc://" + path)
    for frames in frames_list:
        s.send_multipart(frames)
    s.close()
junk = [[b"garbage"], [b"\x93\x01\x02"], [b"", b"text"], [b"\xff" * 300], [b"a", b"b", b"c"],
        [b"\x97\x02\x05\x00\x00\xa0\xa0\xc0"],  # a well-formed envelope of unknown version 2
        [bytes(range(256)) * 4]]
send(run + "/router.ctl", junk)
send(run + "/supervisor.snap", junk)
ctx.term()
PY
bus_rejected() { [ "$(counter supervisor bus_rejected)" -ge 5 ]; }
wait_for 10 "supervisor counts malformed bus messages" bus_rejected || fail "bus_rejected=$(counter supervisor bus_rejected)"
admin_rejected() { [ "$(counter router admin_errors)" -ge 3 ]; }
wait_for 10 "router counts malformed admin requests" admin_rejected || fail "router admin_errors=$(counter router admin_errors)"
log "bus_rejected=$(counter supervisor bus_rejected) router admin_errors=$(counter router admin_errors)"

# Nothing crashed, and a proper bus consumer still gets the supervisor's state.
[ "$(svc_field router pid)" = "$router_pid" ] || fail "router restarted"
[ "$(svc_field router restarts)" -eq 0 ] || fail "router restarted"
ctl status >/dev/null || fail "not all services healthy"
dump=$(ctl bus-dump supervisor)
[ "$(jq '.service | length' <<<"$dump")" -eq 7 ] || fail "bus-dump: $dump"
[ "$(jq -r '.service.router.pid' <<<"$dump")" = "$router_pid" ] || fail "bus-dump router pid"
[ "$(jq -r '.service.router.state' <<<"$dump")" = ready ] || fail "bus-dump router state"
log "PASS"
