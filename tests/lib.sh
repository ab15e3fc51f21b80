# SPDX-License-Identifier: Apache-2.0
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

log() { printf '[%s] %s\n' "$T_NAME" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# Writes the instance's config; extra YAML lines on stdin are appended under the given
# top-level sections by the caller (pass the whole extra text as $1).
write_config() {
	cat >"$T_CONF" <<EOC
run_dir: $T_RUN
dpdk:
  file_prefix: $T_PREFIX
  huge_dir: $HUGE_DIR
  mbufs: 8192
  socket_mem_mb: 128
supervisor:
  metrics_port: $T_PORT
  backoff_min_ms: 10
  backoff_max_ms: 400
  quiet_ms: 1000
  ready_timeout_ms: 20000
${1:-}
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

svc_field() { # SERVICE FIELD
	ctl -j services/show | jq -r ".[] | select(.service==\"$1\") | .$2"
}

counter() { # SERVICE NAME
	ctl -s "$1" -j counters/show "$2" | jq -r ".$2"
}

podlane_pids() {
	pgrep -f "^$SVC_DIR/podlane-[a-z-]+ -c $T_CONF" || true
}

no_podlane_left() { [ -z "$(podlane_pids)" ]; }

cleanup() {
	local rc=$?
	if [ -n "$SUP_PID" ] && kill -0 "$SUP_PID" 2>/dev/null; then
		kill -TERM "$SUP_PID" 2>/dev/null || true
		wait_for 15 "supervisor exit" bash -c "! kill -0 $SUP_PID" || kill -KILL "$SUP_PID" 2>/dev/null || true
	fi
	local left
	left=$(podlane_pids)
	if [ -n "$left" ]; then
		kill -KILL $left 2>/dev/null || true
	fi
	wait_for 10 "services gone" no_podlane_left || true
	rm -f "$HUGE_DIR/${T_PREFIX}"map_* 2>/dev/null || true
	rm -rf "/var/run/dpdk/$T_PREFIX" 2>/dev/null || true
	if [ $rc -ne 0 ] && [ -f "$T_DIR/supervisor.log" ]; then
		log "supervisor log (last 40 lines):"
		tail -40 "$T_DIR/supervisor.log" >&2 || true
	fi
	rm -rf "$T_DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
