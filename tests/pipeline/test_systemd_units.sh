#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the systemd units in systemd/ offline (PID 1 need not be systemd):
#  - `systemd-analyze verify` on all units together, with ExecStart= pointing at the built
#    binaries, must exit 0 AND print nothing (it exits 0 on warnings such as unknown keys or
#    unparsable values, so any output at all is a failure);
#  - every service is Type=notify with WatchdogSec= and Restart=on-failure, runs its binary with
#    -c /etc/podlane/podlane.yaml and is WantedBy=podlane.target; every service but the
#    supervisor binds to and is ordered after the supervisor, which upholds them all;
#  - podlane.target wants all seven units, meson.build installs every unit, and the example
#    configuration sets supervisor.spawn_services: false;
#  - negative checks: a typo'd key and an unparsable value in a copy of a unit must make
#    systemd-analyze print something, so the check above can fail.
# --recursive-errors=yes (the default, spelled out): with =no a dependency on a unit that does
# not exist is not reported at all (verified with systemd 252).
# Starts no process of podlane; lib.sh only gives BUILD_DIR, log/fail and a cleaned-up temp dir.
# shellcheck source=tests/lib.sh disable=SC2153
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../systemd" && pwd)
SERVICES=(supervisor io-worker nat-lb policy router cni-server bgp-bridge)
UNITS=(podlane.target)
for s in "${SERVICES[@]}"; do UNITS+=("podlane-$s.service"); done

command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (apt-get install systemd)"

# prepare_units DIR: copies every unit to DIR with ExecStart= rewritten to the built binaries.
prepare_units() {
	local dir=$1 u s
	mkdir -p "$dir"
	for u in "${UNITS[@]}"; do
		[ -f "$SRC_DIR/$u" ] || fail "missing unit $SRC_DIR/$u"
		cp "$SRC_DIR/$u" "$dir/$u"
	done
	for s in "${SERVICES[@]}"; do
		[ -x "$SVC_DIR/podlane-$s" ] || fail "binary $SVC_DIR/podlane-$s missing (build first)"
		sed -i "s#^\(ExecStart\|ExecStopPost\)=/usr/local/bin/podlane-$s #\1=$SVC_DIR/podlane-$s #" \
			"$dir/podlane-$s.service"
		grep -qx "ExecStart=$SVC_DIR/podlane-$s -c /etc/podlane/podlane.yaml" \
			"$dir/podlane-$s.service" ||
			fail "podlane-$s.service: ExecStart is not /usr/local/bin/podlane-$s -c /etc/podlane/podlane.yaml"
	done
}

# verify DIR: runs systemd-analyze verify on all units of DIR together; prints its output
# (stdout and stderr) and returns its exit status.
verify() {
	local dir=$1 u args=()
	for u in "${UNITS[@]}"; do args+=("$dir/$u"); done
	(cd "$dir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no --generators=no \
		--recursive-errors=yes "${args[@]}" 2>&1)
}

# values FILE KEY: every value of KEY= in FILE, split on white space, one per line.
values() {
	sed -n "s/^$2=//p" "$1" | tr -s '[:blank:]' '\n' | sed '/^$/d'
}

# --- systemd-analyze verify, positive -------------------------------------------------------
GOOD=$T_DIR/good
prepare_units "$GOOD"
rc=0
out=$(verify "$GOOD") || rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	printf '%s\n' "$out" >&2
	fail "systemd-analyze verify: rc=$rc, output above (must be rc=0 and no output)"
fi
log "systemd-analyze verify: clean on ${#UNITS[@]} units"

# --- static checks ---------------------------------------------------------------------------
for s in "${SERVICES[@]}"; do
	f=$SRC_DIR/podlane-$s.service
	grep -qx 'Type=notify' "$f" || fail "podlane-$s.service: no Type=notify"
	grep -qE '^WatchdogSec=[0-9]+' "$f" || fail "podlane-$s.service: no WatchdogSec="
	grep -qx 'Restart=on-failure' "$f" || fail "podlane-$s.service: no Restart=on-failure"
	values "$f" WantedBy | grep -qx podlane.target || fail "podlane-$s.service: not WantedBy=podlane.target"
	values "$f" PartOf | grep -qx podlane.target || fail "podlane-$s.service: not PartOf=podlane.target"
	if [ "$s" = supervisor ]; then
		for o in "${SERVICES[@]:1}"; do
			values "$f" Upholds | grep -qx "podlane-$o.service" ||
				fail "podlane-supervisor.service: does not uphold podlane-$o.service"
		done
		grep -qx 'RuntimeDirectory=podlane' "$f" || fail "podlane-supervisor.service: no RuntimeDirectory=podlane"
		grep -qx 'RuntimeDirectoryPreserve=yes' "$f" ||
			fail "podlane-supervisor.service: RuntimeDirectoryPreserve=yes missing"
		grep -qx 'LimitMEMLOCK=infinity' "$f" || fail "podlane-supervisor.service: no LimitMEMLOCK=infinity"
		! grep -qE '^KillMode=(mixed|process|none)' "$f" ||
			fail "podlane-supervisor.service: KillMode must stay control-group"
		grep -qx -- "ExecStopPost=/usr/local/bin/podlane-supervisor -c /etc/podlane/podlane.yaml --restore" "$f" ||
			fail "podlane-supervisor.service: no ExecStopPost=podlane-supervisor --restore"
	else
		values "$f" After | grep -qx podlane-supervisor.service ||
			fail "podlane-$s.service: not ordered After=podlane-supervisor.service"
		values "$f" BindsTo | grep -qx podlane-supervisor.service ||
			fail "podlane-$s.service: not BindsTo=podlane-supervisor.service"
	fi
done
for u in "${UNITS[@]:1}"; do
	values "$SRC_DIR/podlane.target" Wants | grep -qx "$u" || fail "podlane.target does not want $u"
done
for u in "${UNITS[@]}"; do
	grep -q "'$u'" "$SRC_DIR/meson.build" || fail "systemd/meson.build does not install $u"
done
grep -qE '^[[:space:]]+spawn_services:[[:space:]]+false' "$SRC_DIR/podlane-systemd.yaml.example" ||
	fail "podlane-systemd.yaml.example does not set supervisor.spawn_services: false"
log "static checks: ok"

# --- negative checks: the verify step must be able to fail ------------------------------------
# neg NAME SED-EXPR UNIT: a copy of all units with SED-EXPR applied to UNIT must make
# systemd-analyze print something.
neg() {
	local name=$1 expr=$2 unit=$3 dir=$T_DIR/neg-$1 out rc=0
	prepare_units "$dir"
	cp "$dir/$unit" "$dir/$unit.orig"
	sed -i "$expr" "$dir/$unit"
	! cmp -s "$dir/$unit" "$dir/$unit.orig" || fail "negative check $name: the edit did not apply"
	rm "$dir/$unit.orig"
	out=$(verify "$dir") || rc=$?
	[ -n "$out" ] || fail "negative check $name: systemd-analyze printed nothing (rc=$rc)"
	log "negative check $name: detected (rc=$rc): $(printf '%s' "$out" | head -1)"
}
neg typo-key 's/^Restart=on-failure$/Restrat=on-failure/' podlane-policy.service
neg bad-value 's/^WatchdogSec=.*/WatchdogSec=banana/' podlane-router.service
neg missing-dep 's/^BindsTo=podlane-supervisor.service$/BindsTo=podlane-supervisr.service/' \
	podlane-nat-lb.service

echo "[test_systemd_units] PASS"
