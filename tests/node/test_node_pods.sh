#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Pod interfaces: `podlanectl pod add` is idempotent and rejects bad input (no such netns, a
# netns path not of the forms runtimes use or podlane's own netns, bad address, other addresses
# for an existing pod) with a clear error; pods survive a cni-server restart (adopted from its
# state file); `pod del` removes the tun, the FIB routes and the port and is idempotent; the
# pod limit is enforced. Also: an idle node uses almost no CPU.
. "$(dirname "$0")/node_lib.sh"

node_lab_up
node_config "  max_pods: 2"
grep -qx "  max_pods: 2" "$T_CONF" || fail "config"
start_node_podlane
add_pod 1
add_pod 2
P1=$(lab_pod_ns 1 1)
P2=$(lab_pod_ns 1 2)
V4_2=$(lab_pod_v4 1 2)

# Idempotent add; conflicting and bad adds are refused with a message.
ctl pod add "$P1" eth0 "$(lab_pod_v4 1 1)" "$(lab_pod_v6 1 1)" >/dev/null || fail "repeated add failed"
[ "$(ctl -j pods | jq length)" -eq 2 ] || fail "repeated add duplicated the pod"
expect_err() { # PATTERN ARGS...
	local pattern=$1 out rc=0
	shift
	out=$(ctl pod add "$@" 2>&1) || rc=$?
	if [ $rc -eq 0 ] || ! grep -q "$pattern" <<<"$out"; then
		fail "pod add $*: expected /$pattern/, got rc=$rc: $out"
	fi
}
expect_err "no network namespace 'nope'" nope eth0 10.98.1.99
# Only /var/run/netns/NAME, /run/netns/NAME, /proc/PID/ns/net (or NAME): never another file,
# and never podlane's own namespace (the node's).
FORMS="only /var/run/netns/NAME, /run/netns/NAME, /proc/PID/ns/net or NAME"
expect_err "bad network namespace '/etc/passwd': $FORMS" /etc/passwd eth0 10.98.1.99
expect_err "bad network namespace '$P1/../$P1': $FORMS" "$P1/../$P1" eth0 10.98.1.99
expect_err "bad network namespace '/proc/self/ns/net': $FORMS" /proc/self/ns/net eth0 10.98.1.99
expect_err "bad network namespace '/proc/1/root/var/run/netns/$P1': $FORMS" "/proc/1/root/var/run/netns/$P1" eth0 10.98.1.99
expect_err "bad network namespace '/proc/$(svc_field cni-server pid)/ns/net': that is podlane's own network namespace" \
	"/proc/$(svc_field cni-server pid)/ns/net" eth1 10.98.1.99
rc=0
out=$(ctl pod del /etc/passwd eth0 2>&1) || rc=$?
if [ $rc -eq 0 ] || ! grep -q "bad network namespace '/etc/passwd': $FORMS" <<<"$out"; then
	fail "pod del /etc/passwd: rc=$rc: $out"
fi
expect_err "is not an IPv4/IPv6 address" "$P1" eth1 10.98.1.999
expect_err "exists with other addresses" "$P1" eth0 10.98.1.77
lab_pod_ns_add 1 3 >/dev/null
expect_err "pod limit reached (pods.max_pods = 2)" "$(lab_pod_ns 1 3)" eth0 "$(lab_pod_v4 1 3)"
ip netns exec "$(lab_pod_ns 1 3)" ip link show eth0 >/dev/null 2>&1 && fail "refused pod left a tun behind"

# cni-server restart: pods adopted, nothing lost or duplicated.
pid=$(svc_field cni-server pid)
kill -9 "$pid"
back() { [ "$(svc_field cni-server state)" = ready ] && [ "$(svc_field cni-server pid)" != "$pid" ]; }
wait_for 30 "cni-server back" back || fail "cni-server not restarted"
[ "$(ctl -j pods | jq -c '[.[] | .index] | sort')" = "[16,17]" ] || fail "pods after restart: $(ctl pods)"
ping_ok() { ip netns exec "$P1" ping -c 1 -W 1 "$V4_2" >/dev/null; }
wait_for 20 "pod1 -> pod2 after the cni-server restart" ping_ok || fail "pods broken by the restart"

# Delete pod 2: tun, route and port go; deleting again is fine.
ctl pod del "$P2" eth0 >/dev/null || fail "pod del failed"
ip netns exec "$P2" ip link show eth0 >/dev/null 2>&1 && fail "tun still in the pod"
gone() { ! ctl -s router -j fib/show | jq -e --arg p "$V4_2/32" 'any(.[]; .prefix == $p)' >/dev/null &&
	! ctl -s io-worker -j ports/show | jq -e 'any(.[]; .index == 17)' >/dev/null; }
wait_for 20 "route and port of pod 2 removed" gone || fail "pod 2 still routed or open"
ctl pod del "$P2" eth0 >/dev/null || fail "second pod del failed"
[ "$(ctl -j pods | jq length)" -eq 1 ] || fail "pods after del: $(ctl pods)"
[ "$(jq length "$T_DIR/pods.json")" -eq 1 ] || fail "state file not updated"

# An idle node: a few seconds with no traffic cost next to nothing (per process in the log).
svcs="$(ctl -j services/show | jq -r '.[] | "\(.service)=\(.pid)"')"
declare -A t0
for sp in $svcs; do t0[$sp]=$(cpu_ns "${sp#*=}") || fail "${sp%=*} died"; done
start=$(date +%s%N)
WINDOW=5
sleep "$WINDOW"
used=0 each=""
for sp in $svcs; do
	t1=$(cpu_ns "${sp#*=}") || fail "${sp%=*} died during the idle window"
	d=$(((t1 - t0[$sp]) / 1000000))
	used=$((used + d))
	each="$each ${sp%=*} $d"
done
used_ms=$used
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
log "idle node: ${used_ms} ms of CPU in ${elapsed_ms} ms (ms each:$each)"
[ $((used_ms * 100)) -lt $((elapsed_ms * 2)) ] || fail "idle node used 2% of a core or more"
log "PASS"
