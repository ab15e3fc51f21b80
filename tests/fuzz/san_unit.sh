#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The unit suite in the sanitizer build (tests/fuzz/san_build.sh): every test binary and the
# project code under it built with ASan+UBSan, every report fatal - an ASan or UBSan report
# aborts the test, a leak fails it (LeakSanitizer, with tests/fuzz/lsan.supp for what the
# system libraries keep). Extra arguments go to meson test (e.g. a test name).
# Exit status: meson test's; 77 (skipped) without clang.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rc=0
SAN=$("$TOP/tests/fuzz/san_build.sh") || rc=$?
[ "$rc" = 0 ] || exit "$rc"

export ASAN_OPTIONS=abort_on_error=1:halt_on_error=1:detect_leaks=1:print_summary=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1
export LSAN_OPTIONS=suppressions=$TOP/tests/fuzz/lsan.supp:print_suppressions=0
exec meson test -C "$SAN" --no-rebuild --print-errorlogs --num-processes 1 --suite unit "$@"
