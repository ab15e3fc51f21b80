#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Restart benchmark (JSON lines on stdout): tests/services/test_restart_gap.sh with
# PODLANE_BENCH_KILLS (20) kills of each pipeline stage under three 2,000 datagrams/s UDP
# streams (pod to pod over IPv4 and IPv6, and through a ClusterIP), once with warm standbys
# and once without (cold restarts): per stage the receiver-measured gap per kill, p50, p99
# and max; the frozen-stage (SIGSTOP) gaps; cold start and standby warm-up times from the
# supervisor's log; and what the idle warm standbys cost (PSS memory, CPU over 5 s).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
KILLS=${PODLANE_BENCH_KILLS:-20}
out=$(mktemp -d /tmp/podlane-bench-restart.XXXXXX)
trap 'rm -rf "$out"' EXIT
for standby in 1 0; do
	# The run's own bounds are not what is measured here: its exit status is reported.
	rc=0
	PODLANE_GAP_KILLS=$KILLS PODLANE_GAP_STANDBY=$standby PODLANE_GAP_RESULTS=$out/r.$standby \
		bash "$TOP/tests/services/test_restart_gap.sh" >"$out/log.$standby" 2>&1 || rc=$?
	if [ ! -s "$out/r.$standby" ]; then
		echo "bench restart: the run with standby=$standby produced no results (exit $rc):" >&2
		tail -20 "$out/log.$standby" >&2
		exit 1
	fi
	jq -c --argjson sb "$standby" --argjson rc "$rc" --argjson kills "$KILLS" \
		'{bench: "restart", standby: ($sb == 1), kills_per_stage: $kills, run_exit: $rc} + .' \
		"$out/r.$standby"
done
