# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for process-level tests: an isolated podlane instance (its own run directory, DPDK
# file prefix, metrics port and hugepage files), conditions waited on with deadlines, and a
# cleanup trap that removes everything the test created even when it fails.
set -euo pipefail

BUILD_DIR=${PODLANE_BUILD_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../build" && pwd)}
SVC_DIR=$BUILD_DIR/services
CTL=$BUILD_DIR/tools/podlanectl
HUGE_DIR=${PODLANE_HUGE_DIR:-/dev/hugepages}

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/podlane-$T_NAME.XXXXXX")
T_PREFIX="pltest_${T_NAME}_$$"
T_PORT=$((20000 + ($$ % 20000)))
T_CONF=$T_DIR/podlane.yaml
T_RUN=$T_DIR/run
SUP_PID=
ETCD_PID=
ETCD_ENDPOINT=
ETCD_DIR=
ETCD_PORT=
ETCD_PEER_PORT=

log() { printf '[%s] %s\n' "$T_NAME" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# Writes the instance's config; extra YAML lines on stdin are appended under the given
# top-level sections by the caller (pass the whole extra text as $1).
# Tests size the shared tables small (hugepages are shared by every instance on the machine),
# unless EXTRA has a section of its own for them. EXTRA comes first: it may continue the
# supervisor section (node_config does).
write_config() {
	local extra=${1:-} sizes=""
	[[ $'\n'$extra == *$'\nservices:'* ]] ||
		sizes+=$'services:\n  max_sessions: 65536\n  max_frontends: 1024\n  max_backends: 4096\n'
	[[ $'\n'$extra == *$'\npolicy:'* ]] ||
		sizes+=$'policy:\n  max_endpoints: 1024\n  max_rules: 1024\n'
	cat >"$T_CONF" <<EOC
run_dir: $T_RUN
dpdk:
  file_prefix: $T_PREFIX
  huge_dir: $HUGE_DIR
  mbufs: 8192
  big_mbufs: 128
  socket_mem_mb: 128
supervisor:
  metrics_port: $T_PORT
  backoff_min_ms: 10
  backoff_max_ms: 400
  quiet_ms: 1000
  ready_timeout_ms: 20000
$extra
$sizes
EOC
}

ctl() { "$CTL" -c "$T_CONF" "$@"; }

# wait_for TIMEOUT_S DESCRIPTION COMMAND...: polls until COMMAND succeeds or the deadline.
wait_for() {
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	while ! "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out after ${timeout}s waiting for: $what"
			return 1
		fi
		sleep 0.05
	done
}

start_supervisor() {
	setsid "$SVC_DIR/podlane-supervisor" -c "$T_CONF" "$@" >>"$T_DIR/supervisor.log" 2>&1 &
	SUP_PID=$!
	wait_for 60 "all services ready" ctl status
}

cpu_ns() { # PID...: CPU time in ns of every thread of the processes (the scheduler's exact
	# runtime from /proc/PID/task/TID/schedstat; utime+stime in /proc/PID/stat count whole
	# 10 ms ticks, too coarse for an idle process). Fails if a process is gone.
	local sum=0 p t v
	for p in "$@"; do
		[ -d "/proc/$p/task" ] || return 1
		for t in /proc/"$p"/task/*/schedstat; do
			read -r v _ <"$t" 2>/dev/null && sum=$((sum + v))
		done
	done
	echo "$sum"
}

svc_field() { # SERVICE FIELD
	ctl -j services/show | jq -r ".[] | select(.service==\"$1\") | .$2"
}

counter() { # SERVICE NAME
	ctl -s "$1" -j counters/show "$2" | jq -r ".$2"
}

# tcp_rx_bytes NETNS PORT: the bytes the established TCP connection with local port PORT in
# NETNS has received so far (tcp_info's bytes_received, through ss); prints nothing when there
# is no such connection (not accepted yet, or closed: the transfer is over).
tcp_rx_bytes() {
	ip netns exec "$1" ss -tinH state established "sport = :$2" |
		sed -n 's/.*[[:space:]]bytes_received:\([0-9][0-9]*\).*/\1/p' | head -1
}

podlane_pids() {
	pgrep -f "^$SVC_DIR/podlane-[a-z-]+ -c $T_CONF" || true
}

no_podlane_left() { [ -z "$(podlane_pids)" ]; }

# etcd for tests of the datastore's etcd source: a single member listening on 127.0.0.1 only,
# on free ports, its data in $T_DIR/etcd and its log in $T_DIR/etcd.log; cleanup stops it.
# ETCD_NETNS (optional): the network namespace etcd listens in (a lab node's, when podlane runs
# there); its loopback is not the test's.
etcd_ns() { if [ -n "${ETCD_NETNS:-}" ]; then ip netns exec "$ETCD_NETNS" "$@"; else "$@"; fi; }

free_port() {
	etcd_ns python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

etcd_healthy() {
	etcd_ns curl -sf --noproxy '*' --max-time 1 "$ETCD_ENDPOINT/health" | jq -e '.health == "true"' >/dev/null
}

# Starts etcd on ETCD_DIR/ETCD_PORT/ETCD_PEER_PORT and waits until it answers, or until it exits
# (a port taken meanwhile) or the deadline: 1 then.
etcd_spawn() {
	local peer=http://127.0.0.1:$ETCD_PEER_PORT deadline=$((SECONDS + 30))
	local ns=()
	[ -z "${ETCD_NETNS:-}" ] || ns=(ip netns exec "$ETCD_NETNS") # execs: $! stays etcd's pid
	${ns[@]+"${ns[@]}"} etcd --name default --data-dir "$ETCD_DIR" \
		--listen-client-urls "$ETCD_ENDPOINT" --advertise-client-urls "$ETCD_ENDPOINT" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "default=$peer" >>"$T_DIR/etcd.log" 2>&1 &
	ETCD_PID=$!
	# Out of the job table: etcd_restart's kill -9 is not reported as a crash.
	disown "$ETCD_PID"
	while ! etcd_healthy; do
		if ! kill -0 "$ETCD_PID" 2>/dev/null; then
			ETCD_PID=
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "etcd not healthy on $ETCD_ENDPOINT after 30s"
			return 1
		fi
		sleep 0.05
	done
}

# etcd_start: sets ETCD_ENDPOINT (http://127.0.0.1:PORT), ETCD_PID, ETCD_DIR, ETCD_PORT and
# ETCD_PEER_PORT, and returns once etcd is healthy.
etcd_start() {
	local try
	ETCD_DIR=$T_DIR/etcd
	for try in 1 2 3; do
		ETCD_PORT=$(free_port)
		ETCD_PEER_PORT=$(free_port)
		[ "$ETCD_PORT" != "$ETCD_PEER_PORT" ] || continue
		ETCD_ENDPOINT=http://127.0.0.1:$ETCD_PORT
		if etcd_spawn; then
			log "etcd $ETCD_PID on $ETCD_ENDPOINT"
			return 0
		fi
		etcd_stop
		rm -rf "$ETCD_DIR"
	done
	fail "etcd did not start (attempt $try); see $T_DIR/etcd.log"
}

etcd_stop() {
	[ -n "$ETCD_PID" ] || return 0
	kill -TERM "$ETCD_PID" 2>/dev/null || true
	wait_for 15 "etcd exit" bash -c "! kill -0 $ETCD_PID" || kill -KILL "$ETCD_PID" 2>/dev/null || true
	ETCD_PID=
}

# etcd_restart: kill -9, then etcd again on the same data dir and ports (ETCD_ENDPOINT stays).
etcd_restart() {
	[ -n "$ETCD_PID" ] || fail "etcd_restart: no etcd started"
	kill -KILL "$ETCD_PID" 2>/dev/null || true
	wait_for 15 "etcd killed" bash -c "! kill -0 $ETCD_PID" || fail "etcd $ETCD_PID outlived SIGKILL"
	ETCD_PID=
	etcd_spawn || fail "etcd did not come back on $ETCD_ENDPOINT; see $T_DIR/etcd.log"
}

cleanup() {
	local rc=$?
	etcd_stop || true
	if [ $rc -ne 0 ] && [ -f "$T_DIR/etcd.log" ]; then
		log "etcd log (last 20 lines):"
		tail -20 "$T_DIR/etcd.log" >&2 || true
	fi
	if [ -n "$SUP_PID" ] && kill -0 "$SUP_PID" 2>/dev/null; then
		kill -TERM "$SUP_PID" 2>/dev/null || true
		wait_for 15 "supervisor exit" bash -c "! kill -0 $SUP_PID" || kill -KILL "$SUP_PID" 2>/dev/null || true
	fi
	local -a left
	mapfile -t left < <(podlane_pids)
	if [ ${#left[@]} -gt 0 ]; then
		kill -KILL "${left[@]}" 2>/dev/null || true
	fi
	wait_for 10 "services gone" no_podlane_left || true
	rm -f "$HUGE_DIR/${T_PREFIX}"map_* 2>/dev/null || true
	rm -rf "/var/run/dpdk/$T_PREFIX" 2>/dev/null || true
	if [ $rc -ne 0 ] && [ -f "$T_DIR/supervisor.log" ]; then
		log "supervisor log, warnings and errors (last 40):"
		grep -E ' (warn|err|crit|alert|emerg) ' "$T_DIR/supervisor.log" | tail -40 >&2 || true
		log "supervisor log (last 40 lines):"
		tail -40 "$T_DIR/supervisor.log" >&2 || true
		# PODLANE_KEEP_LOGS=DIR keeps the whole log of a failed test.
		if [ -n "${PODLANE_KEEP_LOGS:-}" ] && mkdir -p "$PODLANE_KEEP_LOGS"; then
			cp "$T_DIR/supervisor.log" "$PODLANE_KEEP_LOGS/$T_NAME.$$.log" || true
			log "whole log kept in $PODLANE_KEEP_LOGS/$T_NAME.$$.log"
		fi
	fi
	rm -rf "$T_DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
