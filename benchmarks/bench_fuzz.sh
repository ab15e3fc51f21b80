#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fuzzing benchmark (JSON lines on stdout, the fuzzers' output on stderr): every libFuzzer
# harness of tests/fuzz (tests/fuzz/fuzz_*.c, as listed in tests/fuzz/meson.build) for
# PODLANE_BENCH_SECONDS (default 600) each, one at a time, one job, in the sanitizer build
# (tests/fuzz/san_build.sh). Each run starts from the corpus the previous ones grew
# ($SAN/fuzz/corpus_NAME) plus the committed seeds, and keeps what it finds.
# Names as arguments restrict it to those harnesses (PODLANE_BENCH_FUZZ="bus yaml" too).
# One line per harness, from libFuzzer's -print_final_stats=1:
#   {"bench":"fuzz","name":"bus","seconds":600,"executions":N,"exec_per_s":N,
#    "corpus_files":N,"new_units":N,"peak_rss_mb":N,"result":"ok"|"found"|"error"}
# "found": a crash, sanitizer report, broken invariant, leak or timeout; its input is in
# $SAN/fuzz/artifacts/. Exit status: 1 when any harness found something, else 0.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${PODLANE_BENCH_SECONDS:-600}
names=("$@")
[ ${#names[@]} -gt 0 ] || read -r -a names <<<"${PODLANE_BENCH_FUZZ:-}"
if [ ${#names[@]} -eq 0 ]; then
	mapfile -t names < <(cd "$TOP/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
fi
SAN=$("$TOP/tests/fuzz/san_build.sh") || {
	echo "bench_fuzz: no sanitizer build (clang missing?)" >&2
	exit 1
}
rc_all=0
for n in "${names[@]}"; do
	log=$(mktemp /tmp/bench_fuzz.XXXXXX)
	rc=0
	"$TOP/tests/fuzz/run_fuzz.sh" "$n" "$SECONDS_EACH" >"$log" 2>&1 || rc=$?
	cat "$log" >&2
	stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$log" | tail -1; }
	execs=$(stat number_of_executed_units)
	eps=$(stat average_exec_per_sec)
	newu=$(stat new_units_added)
	rss=$(stat peak_rss_mb)
	files=$(find "$SAN/fuzz/corpus_$n" -type f 2>/dev/null | wc -l)
	case $rc in
	0) result=ok ;;
	2 | 77) result=error ;;
	*) result=found ;;
	esac
	[ "$rc" = 0 ] || rc_all=1
	jq -cn --arg name "$n" --argjson s "$SECONDS_EACH" --argjson e "${execs:-0}" \
		--argjson r "${eps:-0}" --argjson f "$files" --argjson u "${newu:-0}" \
		--argjson m "${rss:-0}" --arg res "$result" \
		'{bench: "fuzz", name: $name, seconds: $s, executions: $e, exec_per_s: $r,
		  corpus_files: $f, new_units: $u, peak_rss_mb: $m, result: $res}'
	rm -f "$log"
done
exit "$rc_all"
