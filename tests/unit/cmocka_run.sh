#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cmocka_run.sh TEST_BINARY [ARGS]: runs a cmocka test binary for meson and says what cmocka
# skipped, which its exit status does not (cmocka exits 0 when cases called skip()):
#   - every case skipped: exit 77, meson's SKIP;
#   - some skipped, none failed: exit 0 after a line
#     "podlane-unit: skipped K of N cases: NAME..." that ./podlane test repeats in its summary;
#   - otherwise the binary's own status (77 from a binary that skips before cmocka runs stays a
#     skip; 77 as cmocka's count of failed cases is a failure).
# cmocka's output (stdout and stderr together) is passed through as it comes.
set -uo pipefail

[ $# -ge 1 ] || { echo "usage: cmocka_run.sh TEST_BINARY [ARGS]" >&2; exit 2; }
out=$(mktemp "/tmp/cmocka_run.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

# cmocka's group summaries (one per cmocka_run_group_tests call):
#   [==========] N test(s) run.
#   [  SKIPPED ] K test(s), listed below:
#   [  SKIPPED ] NAME                        (once when it ran, once in the listing)
#   [  FAILED  ] K test(s), listed below:
sum() { sed -n "s/^\[$1\] \([0-9][0-9]*\) test(s)$2\$/\1/p" "$out" | awk '{ n += $1 } END { print n + 0 }'; }
ran=$(sum '==========' ' run\.')
skipped=$(sum '  SKIPPED ' ', listed below:')

if [ "$rc" -ne 0 ]; then
	# 77 is meson's skip only when cmocka did not run (nothing reported as run).
	[ "$rc" -ne 77 ] || [ "$ran" -eq 0 ] || exit 1
	exit "$rc"
fi
[ "$skipped" -gt 0 ] || exit 0
names=$(sed -n 's/^\[  SKIPPED \] \([^ ]*\)$/\1/p' "$out" | sort -u | paste -sd ' ')
if [ "$skipped" -ge "$ran" ]; then
	echo "podlane-unit: all $ran cases skipped: $names"
	exit 77
fi
echo "podlane-unit: skipped $skipped of $ran cases: $names"
exit 0
