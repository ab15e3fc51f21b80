#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The sanitizer build: a second meson build directory, configured with clang,
# -Db_sanitize=address,undefined (every report fatal: -fno-sanitize-recover=all) and -Dfuzz=true
# (the libFuzzer harnesses of tests/fuzz/meson.build), built with ninja. DPDK and the other
# system libraries are not sanitized; everything of podlane is.
#
#   tests/fuzz/san_build.sh [NINJA_TARGET...]   configure when needed, then build the targets
#                                               named (default: everything); prints the dir
#
# Directory: $PODLANE_SAN_BUILD_DIR, default "$PODLANE_BUILD_DIR-san" ("build-san" beside the
# default "build"). Runs under a lock, so fuzz tests and the unit run do not build at once.
# Exit status: 0 built; 77 without clang (or its libFuzzer/sanitizer runtimes); 1 otherwise.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${PODLANE_BUILD_DIR:-$TOP/build}
SAN=${PODLANE_SAN_BUILD_DIR:-${BUILD%/}-san}
CC_SAN=${CLANG:-clang}

if ! command -v "$CC_SAN" >/dev/null; then
	echo "san_build: $CC_SAN not found (apt-get install clang libclang-rt-14-dev): skipped" >&2
	exit 77
fi
# libFuzzer and the sanitizer runtimes are a separate Debian package (libclang-rt-14-dev).
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	"$CC_SAN" -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null; then
	echo "san_build: $CC_SAN cannot link -fsanitize=fuzzer,address,undefined" \
		"(apt-get install libclang-rt-14-dev): skipped" >&2
	exit 77
fi

mkdir -p "$(dirname "$SAN")"
exec 9>"${SAN%/}.lock"
flock 9
if [ ! -f "$SAN/build.ninja" ]; then
	echo "san_build: configuring $SAN" >&2
	CC=$CC_SAN meson setup "$SAN" "$TOP" -Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true >"${SAN%/}.setup.log" 2>&1 || {
		cat "${SAN%/}.setup.log" >&2
		echo "san_build: meson setup $SAN failed" >&2
		exit 1
	}
fi
ninja -C "$SAN" "$@" >&2 || {
	echo "san_build: ninja -C $SAN $* failed" >&2
	exit 1
}
echo "$SAN"
