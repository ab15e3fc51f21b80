#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds a libFuzzer harness of tests/fuzz with clang (-fsanitize=fuzzer,address,undefined,
# every sanitizer report fatal) straight from the sources it tests - outside meson, so the gcc
# build is untouched - and runs it for SECONDS from its seed corpus.
#
#   tests/fuzz/run_fuzz.sh [--fresh] TARGET SECONDS [libFuzzer options...]
#
# TARGET: parse (tests/fuzz/fuzz_parse.c against ipc/pl_parse.c; seeds in
# tests/fuzz/corpus_parse, written by make_corpus_parse.py).
#   tests/fuzz/run_fuzz.sh --fresh parse 20   the unit suite's run (meson test fuzz_parse):
#                                             from the seeds alone, in a scratch corpus
#   tests/fuzz/run_fuzz.sh parse 600          a long run: the corpus it grows is kept in
#                                             $PODLANE_BUILD_DIR/fuzz/corpus_parse, so each
#                                             run starts where the last one stopped
# Extra options go to libFuzzer (e.g. -jobs=2 -workers=2, -use_value_profile=1). Output: the
# binary and crash/leak/timeout inputs (artifacts/) in $PODLANE_BUILD_DIR/fuzz; replay one
# with `$PODLANE_BUILD_DIR/fuzz/fuzz_parse FILE`.
# Exit status: 0 when the fuzzer found nothing in its time; 77 (skipped) without clang; 1 when
# the harness does not build or the fuzzer found something (crash, sanitizer report, broken
# invariant, leak; a timeout or out-of-memory is libFuzzer's own non-zero status, never 77).
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${PODLANE_BUILD_DIR:-$TOP/build}
OUT=$BUILD/fuzz

fresh=0
if [ "${1:-}" = --fresh ]; then
	fresh=1
	shift
fi
if [ $# -lt 2 ]; then
	sed -n '3,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi
target=$1 seconds=$2
shift 2
case $target in
parse) sources=("$TOP/ipc/pl_parse.c") ;;
*)
	echo "run_fuzz: unknown target '$target'" >&2
	exit 2
	;;
esac

CC=${CLANG:-clang}
if ! command -v "$CC" >/dev/null; then
	echo "run_fuzz: $CC not found (apt-get install clang libclang-rt-14-dev): skipped" >&2
	exit 77
fi

mkdir -p "$OUT/artifacts"
bin=$OUT/fuzz_$target
# shellcheck disable=SC2207 # pkg-config output is words by design
dpdk_cflags=($(pkg-config --cflags libdpdk))
echo "run_fuzz: building $bin"
"$CC" -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -Wall -Wextra -Werror -Wno-address-of-packed-member \
	"${dpdk_cflags[@]}" -I"$TOP/ipc" -I"$TOP/libcommon" \
	-o "$bin.tmp" "$TOP/tests/fuzz/fuzz_$target.c" "${sources[@]}" || {
	echo "run_fuzz: the harness does not build" >&2
	exit 1
}
mv "$bin.tmp" "$bin"

if [ "$fresh" = 1 ]; then
	corpus=$(mktemp -d "$OUT/corpus_${target}.XXXXXX")
	trap 'rm -rf "$corpus"' EXIT
	trap 'exit 143' TERM INT
else
	corpus=$OUT/corpus_$target
	mkdir -p "$corpus"
fi

# New inputs go to the first directory; the seeds are only read. Frames up to 65,535 bytes
# behind the control byte.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
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
