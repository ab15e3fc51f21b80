#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# SPDX-License-Identifier: Apache-2.0
# Self-test of the network-namespace lab (tests/lab/lab.sh): build, idempotency, reachability
# over IPv4 and IPv6, repair of a broken lab, pod namespaces, coexisting labs, teardown after a
# partial setup. Needs root, iproute2 and ping (iputils-ping). Prints "[test_lab] PASS".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LABSH=$HERE/lab.sh

# Short unique lab names (namespace names stay short; interface names do not use them).
LAB=plt$(($$ % 100000))
LAB2=plu$(($$ % 100000))
export PODLANE_LAB=$LAB
BG_PID=''

log() { printf '[test_lab] %s\n' "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

cleanup() {
	local rc=$?
	trap - EXIT
	"$LABSH" --lab "$LAB" down >/dev/null 2>&1 || log "cleanup: down of $LAB failed"
	"$LABSH" --lab "$LAB2" down >/dev/null 2>&1 || log "cleanup: down of $LAB2 failed"
	if [[ -n $BG_PID ]]; then kill -KILL "$BG_PID" 2>/dev/null || true; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check DESCRIPTION COMMAND...: runs COMMAND, fails the test (with its output) if it fails.
check() {
	local what=$1 out
	shift
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" | tail -20 >&2
		fail "$what (command: $*)"
	fi
}

# check_not DESCRIPTION COMMAND...: fails the test if COMMAND succeeds.
check_not() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then fail "$what (command succeeded: $*)"; fi
}

lab_ns_list() { # LAB: that lab's namespaces, one a line
	local out line
	out=$(ip netns list) || return 1
	while IFS= read -r line; do
		line=${line%% *}
		if [[ $line == "$1"-* ]]; then printf '%s\n' "$line"; fi
	done <<<"$out"
	return 0
}

no_ns_left() { # LAB
	local left
	left=$(lab_ns_list "$1")
	if [[ -n $left ]]; then
		log "namespaces left: $(tr '\n' ' ' <<<"$left")"
		return 1
	fi
}

proc_gone() { # PID: true if the process is gone or a zombie
	local st
	st=$(ps -o stat= -p "$1") || return 0
	[[ $st == Z* ]]
}

ns_exists() { [[ -e /run/netns/$1 ]]; }

pingc() { # NS ADDR
	ip netns exec "$1" ping -c1 -W2 "$2"
}

[[ $(id -u) == 0 ]] || fail "needs root"
command -v ip >/dev/null || fail "ip not found (apt-get install iproute2)"
command -v ping >/dev/null || fail "ping not found (apt-get install iputils-ping)"

# --- library mode: sourcing runs nothing and leaves the caller's shell options alone ----------
log "library mode"
# shellcheck disable=SC2016 # the script is expanded by the inner bash
check "sourcing lab.sh changes no shell option and runs nothing" bash -c '
	set +e +u; set +o pipefail
	before="$-|$(shopt -po pipefail)"
	. "$1" || exit 1
	after="$-|$(shopt -po pipefail)"
	[[ $before == "$after" ]] || { echo "options changed: $before -> $after"; exit 1; }
	declare -F lab_up lab_down lab_status lab_exec >/dev/null || { echo "functions missing"; exit 1; }
' _ "$LABSH"
# shellcheck source=lab.sh
. "$LABSH"
expect() { # DESCRIPTION WANT COMMAND...
	local what=$1 want=$2 got
	shift 2
	got=$("$@") || fail "$what: command failed: $*"
	[[ $got == "$want" ]] || fail "$what: got '$got', want '$want'"
}
expect "lab_gw_ns" "$LAB-gw" lab_gw_ns
expect "lab_node_ns 3" "$LAB-n3" lab_node_ns 3
expect "lab_pod_ns 2 5" "$LAB-n2-p5" lab_pod_ns 2 5
expect "lab_pod_v4 2 5" "10.98.2.15" lab_pod_v4 2 5
expect "lab_pod_v6 2 5" "fd98:2::15" lab_pod_v6 2 5
expect "lab_uplink_v4 4" "10.99.4.2" lab_uplink_v4 4
expect "lab_uplink_v6 4" "fd99:4::2" lab_uplink_v6 4
expect "lab_gw_v4 4" "10.99.4.1" lab_gw_v4 4
expect "lab_gw_v6 4" "fd99:4::1" lab_gw_v6 4
expect "lab_outside_v4" "203.0.113.1" lab_outside_v4
expect "lab_outside_v6" "2001:db8:ffff::1" lab_outside_v6
expect "lab_ns n1-p2" "$LAB-n1-p2" lab_ns n1-p2
check_not "lab_node_ns rejects node 0" lab_node_ns 0
check_not "lab_pod_v4 rejects pod 0" lab_pod_v4 1 0
check_not "a lab name with '-' is refused" env PODLANE_LAB=a-b "$LABSH" status

# --- up, twice ---------------------------------------------------------------------------------
log "up (twice) lab $LAB with 2 nodes"
check "first up" "$LABSH" --lab "$LAB" up --nodes 2
check "second up (idempotent)" "$LABSH" up --nodes 2 --lab "$LAB"
check "status exit 0 after up" "$LABSH" --lab "$LAB" status
status_out=$("$LABSH" --lab "$LAB" status 2>&1) || fail "status exit non-zero"
for ns in gw n1 n2; do # whole lines: "netns pl-n1" is in "netns pl-n12" too
	grep -qx "== netns $LAB-$ns" <<<"$status_out" || fail "status output lacks '== netns $LAB-$ns'"
done
for want in "10.99.1.2/24" "fd99:2::1/64" "203.0.113.1/32" "10.98.1.0/24 via 10.99.1.2 dev n1 "; do
	[[ $status_out == *"$want"* ]] || fail "status output lacks '$want'"
done
check "exactly the lab's namespaces exist" \
	test "$(lab_ns_list "$LAB" | sort | tr '\n' ' ')" == "$LAB-gw $LAB-n1 $LAB-n2 "

# --- reachability (all inside the lab's namespaces) ---------------------------------------------
log "reachability"
GW=$(lab_gw_ns)
for n in 1 2; do
	NODE=$(lab_node_ns "$n")
	check "node $n pings its gateway (IPv4)" pingc "$NODE" "$(lab_gw_v4 "$n")"
	check "node $n pings its gateway (IPv6)" pingc "$NODE" "$(lab_gw_v6 "$n")"
	check "gateway pings node $n uplink (IPv4)" pingc "$GW" "$(lab_uplink_v4 "$n")"
	check "gateway pings node $n uplink (IPv6)" pingc "$GW" "$(lab_uplink_v6 "$n")"
	check "node $n pings the outside address (IPv4)" pingc "$NODE" "$(lab_outside_v4)"
	check "node $n pings the outside address (IPv6)" pingc "$NODE" "$(lab_outside_v6)"
	# Each field compared whole ("dev n1" is not "dev n10").
	has_route() { # FAMILY DST GATEWAY DEV
		ip -n "$GW" "$1" -j route show | jq -e --arg d "$2" --arg g "$3" --arg dev "$4" \
			'any(.[]; .dst == $d and .gateway == $g and .dev == $dev)' >/dev/null
	}
	has_route -4 "10.98.$n.0/24" "10.99.$n.2" "n$n" ||
		fail "gateway lacks IPv4 pod route for node $n: $(ip -n "$GW" -4 route show)"
	has_route -6 "fd98:$n::/64" "fd99:$n::2" "n$n" ||
		fail "gateway lacks IPv6 pod route for node $n: $(ip -n "$GW" -6 route show)"
done
check "node 1 reaches node 2 through the gateway (IPv4)" pingc "$LAB-n1" 10.99.2.2
check "node 2 reaches node 1 through the gateway (IPv6)" pingc "$LAB-n2" fd99:1::2
check "exec by short name" "$LABSH" --lab "$LAB" exec gw ping -c1 -W2 10.99.1.2
mtu=$("$LABSH" --lab "$LAB" exec n1 cat /sys/class/net/eth0/mtu) || fail "exec n1 cat mtu"
[[ $mtu == 1500 ]] || fail "node eth0 MTU is $mtu, want 1500"
exec_rc=0
"$LABSH" --lab "$LAB" exec n1 sh -c 'exit 7' || exec_rc=$?
[[ $exec_rc == 7 ]] || fail "exec does not pass the command's exit code (got $exec_rc)"

# --- broken lab: status says so, up repairs it ----------------------------------------------------
log "repair"
ip -n "$GW" link del n2 || fail "could not break the lab (del n2)"
ip -n "$LAB-n1" -6 route del default || fail "could not break the lab (del n1 v6 default)"
check_not "status exit 1 on a broken lab" "$LABSH" --lab "$LAB" status
check "up repairs a broken lab" "$LABSH" --lab "$LAB" up --nodes 2
check "status exit 0 after repair" "$LABSH" --lab "$LAB" status
check "node 2 reachable after repair (IPv6)" pingc "$GW" fd99:2::2
check "node 1 IPv6 default route back" pingc "$LAB-n1" "$(lab_outside_v6)"

# --- pods --------------------------------------------------------------------------------------
log "pod namespaces"
POD=$(lab_pod_ns 1 2)
check "pod-ns add" "$LABSH" --lab "$LAB" pod-ns add 1 2
check "pod-ns add again (idempotent)" "$LABSH" --lab "$LAB" pod-ns add 1 2
ns_exists "$POD" || fail "pod namespace $POD not created"
links=$("$LABSH" --lab "$LAB" exec n1-p2 ip -o link show) || fail "exec n1-p2 failed"
[[ $(wc -l <<<"$links") == 1 && $links == *"lo:"*LOWER_UP* ]] ||
	fail "pod namespace is not empty with lo up: $links"
check "pod loopback answers" "$LABSH" --lab "$LAB" exec n1-p2 ping -c1 -W2 127.0.0.1
check "pod-ns del" "$LABSH" --lab "$LAB" pod-ns del 1 2
check "pod-ns del again (idempotent)" "$LABSH" --lab "$LAB" pod-ns del 1 2
check_not "pod namespace gone" ns_exists "$POD"
check_not "pod-ns rejects pod 0" "$LABSH" --lab "$LAB" pod-ns add 1 0

# --- a second lab next to the first one ---------------------------------------------------------
log "second lab $LAB2 (MTU 9000) next to $LAB"
check "second lab up" env PODLANE_LAB="$LAB2" "$LABSH" up --mtu 9000
check "second lab status" "$LABSH" --lab "$LAB2" status
mtu=$(ip netns exec "$LAB2-n1" cat /sys/class/net/eth0/mtu)
[[ $mtu == 9000 ]] || fail "second lab node eth0 MTU is $mtu, want 9000"
check "second lab: big IPv6 packet fits" ip netns exec "$LAB2-n1" ping -c1 -W2 '-M' 'do' -s 8900 fd99:1::1
check "first lab still up" "$LABSH" --lab "$LAB" status
check "second lab down" "$LABSH" --lab "$LAB2" down
check "second lab: nothing left" no_ns_left "$LAB2"
check "first lab still up after the second went down" "$LABSH" --lab "$LAB" status

# --- down after a crash / partial setup -----------------------------------------------------------
log "down (twice), with a leftover process and a partial node"
ip netns add "$LAB-n3" || fail "could not add a partial node namespace"
check "pod-ns add for a leftover process" "$LABSH" --lab "$LAB" pod-ns add 2 1
ip netns exec "$LAB-n2-p1" sleep 300 &
BG_PID=$!
check "first down" "$LABSH" --lab "$LAB" down
check "second down (idempotent)" "$LABSH" --lab "$LAB" down
check "no $LAB-* namespace left" no_ns_left "$LAB"
lab_wait_for 10 "leftover process ended by down" proc_gone "$BG_PID" ||
	fail "down did not end the process left in a lab namespace"
wait "$BG_PID" 2>/dev/null || true
BG_PID=''
check_not "status exit 1 after down" "$LABSH" --lab "$LAB" status

printf '[test_lab] PASS\n'
