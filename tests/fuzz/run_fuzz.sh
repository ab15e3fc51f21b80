#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds a libFuzzer harness of tests/fuzz (tests/fuzz/fuzz_TARGET.c, listed in
# tests/fuzz/meson.build) in the sanitizer build (tests/fuzz/san_build.sh: clang, ASan+UBSan,
# every report fatal) and runs it for SECONDS from its seed corpus tests/fuzz/corpus_TARGET.
#
#   tests/fuzz/run_fuzz.sh [--fresh] TARGET SECONDS [libFuzzer options...]
#
#   tests/fuzz/run_fuzz.sh --fresh bus 30   the fuzz suite's run (meson test fuzz_bus): from
#                                           the seeds alone, in a scratch corpus
#   tests/fuzz/run_fuzz.sh bus 600          a long run: the corpus it grows is kept in
#                                           $SAN/fuzz/corpus_bus, so each run starts where
#                                           the last one stopped
# Extra options go to libFuzzer (e.g. -use_value_profile=1). $SAN is the sanitizer build dir,
# $PODLANE_SAN_BUILD_DIR or "$PODLANE_BUILD_DIR-san". Crash/leak/timeout inputs go to
# $SAN/fuzz/artifacts/; replay one with `$SAN/tests/fuzz/fuzz_TARGET FILE` (same environment:
# LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp).
# Exit status: 0 when the fuzzer found nothing in its time; 77 (skipped) without clang; 1 when
# the harness does not build or the fuzzer found something (crash, sanitizer report, broken
# invariant, leak; a timeout or out-of-memory is libFuzzer's own non-zero status, never 77).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

fresh=0
if [ "${1:-}" = --fresh ]; then
	fresh=1
	shift
fi
if [ $# -lt 2 ]; then
	sed -n '3,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
target=$1 seconds=$2
shift 2
if [ ! -f "$TOP/tests/fuzz/fuzz_$target.c" ]; then
	echo "run_fuzz: unknown target '$target' (have:" \
		"$(cd "$TOP/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//' | paste -sd ' '))" >&2
	exit 2
fi

rc=0
SAN=$("$TOP/tests/fuzz/san_build.sh" "tests/fuzz/fuzz_$target") || rc=$?
[ "$rc" = 0 ] || exit "$rc"
bin=$SAN/tests/fuzz/fuzz_$target
OUT=$SAN/fuzz
mkdir -p "$OUT/artifacts"

if [ "$fresh" = 1 ]; then
	corpus=$(mktemp -d "$OUT/corpus_${target}.XXXXXX")
	trap 'rm -rf "$corpus"' EXIT
	trap 'exit 143' TERM INT
else
	corpus=$OUT/corpus_$target
	mkdir -p "$corpus"
fi

# New inputs go to the first directory; the seeds are only read.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$TOP/tests/fuzz/lsan.supp:print_suppressions=0}
echo "run_fuzz: $target for ${seconds}s, corpus $corpus"
# libFuzzer's own exit status for a finding is 77 by default, which meson takes for "skipped":
# make it 1, and any 77 that still comes out too.
rc=0
"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" "$@" \
	"$corpus" "$TOP/tests/fuzz/corpus_$target" || rc=$?
if [ "$rc" != 0 ]; then
	echo "run_fuzz: $target: the fuzzer found a problem (status $rc); its input is in" \
		"$OUT/artifacts/" >&2
	[ "$rc" = 77 ] && rc=1
fi
exit "$rc"
