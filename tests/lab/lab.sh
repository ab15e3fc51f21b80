#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podlane's network-namespace lab (ARCHITECTURE.md §8): a gateway ("ToR") namespace, node
# namespaces linked to it by veth pairs, and empty pod namespaces. Used by the tests, the demo
# and the benchmarks. All traffic stays between the namespaces the lab creates: the gateway has
# no link to the real network and no default route.
#
# Command:  tests/lab/lab.sh [--lab NAME] up [--nodes N] [--mtu M]
#           tests/lab/lab.sh [--lab NAME] down
#           tests/lab/lab.sh [--lab NAME] status [--nodes N]
#           tests/lab/lab.sh [--lab NAME] pod-ns add|del N K
#           tests/lab/lab.sh [--lab NAME] exec NS_SHORTNAME CMD...   (gw, n1, n1-p2, ...)
# Library:  . tests/lab/lab.sh   (defines lab_* functions, runs nothing, sets no shell options;
#           the lab name comes from $PODLANE_LAB, default "pl")
#
# Topology of lab LAB, node N (1..9), pod K (1..244):
#   ${LAB}-gw        lo up; "outside" 203.0.113.1/32, 2001:db8:ffff::1/128 (a dummy
#                    interface, or a veth pair outside/outside_p where there is no dummy driver);
#                    IPv4 and IPv6 forwarding; n${N}: 10.99.${N}.1/24, fd99:${N}::1/64;
#                    routes 10.98.${N}.0/24 via 10.99.${N}.2, fd98:${N}::/64 via fd99:${N}::2
#   ${LAB}-n${N}     lo up; eth0 (veth peer of gw's n${N}): 10.99.${N}.2/24, fd99:${N}::2/64;
#                    default via 10.99.${N}.1 and fd99:${N}::1
#   ${LAB}-n${N}-p${K}  empty (lo up); pod addresses by convention 10.98.${N}.$((10+K))/32,
#                    fd98:${N}::$((10+K))/128 (podlane creates the pod's interface)
# IPv6 duplicate address detection is off in every lab namespace, so addresses work at once.

# ---------------------------------------------------------------------------------------------
# Names and addresses

_lab_err() { printf 'lab: %s\n' "$*" >&2; }

# The lab's name prefix: letters, digits and '_' only (no '-', so that "${LAB}-*" never matches
# another lab's namespaces), at most 16 characters.
lab_name() {
	local lab=${PODLANE_LAB:-pl}
	if [[ ! $lab =~ ^[A-Za-z][A-Za-z0-9_]{0,15}$ ]]; then
		_lab_err "bad lab name '$lab' (want [A-Za-z][A-Za-z0-9_]{0,15})"
		return 1
	fi
	printf '%s\n' "$lab"
}

_lab_check_node() {
	if [[ ! ${1-} =~ ^[1-9]$ ]]; then
		_lab_err "bad node number '${1-}' (want 1..9)"
		return 1
	fi
}

_lab_check_pod() {
	if [[ ! ${1-} =~ ^[1-9][0-9]{0,2}$ ]] || (($1 > 244)); then
		_lab_err "bad pod number '${1-}' (want 1..244)"
		return 1
	fi
}

lab_gw_ns() {
	local lab
	lab=$(lab_name) || return 1
	printf '%s-gw\n' "$lab"
}

lab_node_ns() { # N
	local lab
	_lab_check_node "${1-}" || return 1
	lab=$(lab_name) || return 1
	printf '%s-n%s\n' "$lab" "$1"
}

lab_pod_ns() { # N K
	local lab
	_lab_check_node "${1-}" || return 1
	_lab_check_pod "${2-}" || return 1
	lab=$(lab_name) || return 1
	printf '%s-n%s-p%s\n' "$lab" "$1" "$2"
}

# Addresses are printed without prefix length.
lab_uplink_v4() { _lab_check_node "${1-}" && printf '10.99.%s.2\n' "$1"; }
lab_uplink_v6() { _lab_check_node "${1-}" && printf 'fd99:%s::2\n' "$1"; }
lab_gw_v4() { _lab_check_node "${1-}" && printf '10.99.%s.1\n' "$1"; }
lab_gw_v6() { _lab_check_node "${1-}" && printf 'fd99:%s::1\n' "$1"; }
lab_pod_cidr_v4() { _lab_check_node "${1-}" && printf '10.98.%s.0/24\n' "$1"; }
lab_pod_cidr_v6() { _lab_check_node "${1-}" && printf 'fd98:%s::/64\n' "$1"; }
lab_pod_v4() { _lab_check_node "${1-}" && _lab_check_pod "${2-}" && printf '10.98.%s.%s\n' "$1" "$((10 + $2))"; }
lab_pod_v6() { _lab_check_node "${1-}" && _lab_check_pod "${2-}" && printf 'fd98:%s::%s\n' "$1" "$((10 + $2))"; }
lab_outside_v4() { printf '203.0.113.1\n'; }
lab_outside_v6() { printf '2001:db8:ffff::1\n'; }
lab_uplink_if() { printf 'eth0\n'; }            # in the node namespace
lab_gw_if() { _lab_check_node "${1-}" && printf 'n%s\n' "$1"; } # in the gateway namespace

# Short name (gw, n1, n1-p2) or full name -> namespace name.
lab_ns() { # SHORTNAME
	local lab short=${1-}
	lab=$(lab_name) || return 1
	case $short in
	gw) printf '%s-gw\n' "$lab" ;;
	"$lab"-*) printf '%s\n' "$short" ;;
	n[1-9]) lab_node_ns "${short#n}" ;;
	n[1-9]-p*) lab_pod_ns "${short:1:1}" "${short#n[1-9]-p}" ;;
	*)
		_lab_err "bad namespace name '$short' (want gw, nN or nN-pK)"
		return 1
		;;
	esac
}

# ---------------------------------------------------------------------------------------------
# Small helpers

# Names of all network namespaces, one a line.
_lab_ns_all() {
	local out line
	out=$(ip netns list 2>/dev/null) || return 1
	while IFS= read -r line; do
		if [[ -n $line ]]; then printf '%s\n' "${line%% *}"; fi
	done <<<"$out"
	return 0
}

# Namespaces of this lab (every "${LAB}-*"), one a line: pods first, then nodes, then the rest.
lab_namespaces() {
	local lab all ns in_pods=() in_nodes=() in_rest=()
	lab=$(lab_name) || return 1
	all=$(_lab_ns_all) || return 1
	while IFS= read -r ns; do
		case $ns in
		"$lab"-n*-p*) in_pods+=("$ns") ;;
		"$lab"-n*) in_nodes+=("$ns") ;;
		"$lab"-*) in_rest+=("$ns") ;;
		esac
	done <<<"$all"
	for ns in ${in_pods[@]+"${in_pods[@]}"} ${in_nodes[@]+"${in_nodes[@]}"} \
		${in_rest[@]+"${in_rest[@]}"}; do
		printf '%s\n' "$ns"
	done
}

# Node numbers whose namespace exists, one a line.
lab_nodes() {
	local lab n
	lab=$(lab_name) || return 1
	for n in 1 2 3 4 5 6 7 8 9; do
		if [[ -e /run/netns/$lab-n$n ]]; then printf '%s\n' "$n"; fi
	done
}

# True if the namespace exists and can be entered.
lab_ns_ok() { # NS
	[[ -n ${1-} && -e /run/netns/$1 ]] && ip netns exec "$1" true 2>/dev/null
}

# lab_wait_for TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND until it succeeds or the deadline.
lab_wait_for() {
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			_lab_err "timed out after ${timeout}s waiting for: $what"
			return 1
		fi
		sleep 0.05
	done
}

# Runs a command; on failure says which and returns 1.
_lab_do() {
	local out
	if ! out=$("$@" 2>&1); then
		_lab_err "failed: $* ${out:+($out)}"
		return 1
	fi
}

_lab_sysctl() { # NS KEY=VALUE...
	local ns=$1
	shift
	_lab_do ip netns exec "$ns" sysctl -qw "$@"
}

# Creates the namespace if needed (recreating a stale one) and brings loopback up. New
# interfaces in it get no IPv6 duplicate address detection.
_lab_ensure_ns() { # NS
	local ns=$1
	if ! lab_ns_ok "$ns"; then
		if [[ -e /run/netns/$ns ]]; then
			ip netns del "$ns" 2>/dev/null || rm -f "/run/netns/$ns"
		fi
		_lab_do ip netns add "$ns" || return 1
	fi
	_lab_do ip -n "$ns" link set lo up || return 1
	_lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.lo.accept_dad=0
}

_lab_link_exists() { # NS IFNAME
	ip -n "$1" link show dev "$2" >/dev/null 2>&1
}

# "IFINDEX PEER_IFINDEX KIND" of a link (PEER_IFINDEX 0 if none).
_lab_link_info() { # NS IFNAME
	local out idx peer=0 kind=''
	out=$(ip -n "$1" -o -d link show dev "$2" 2>/dev/null) || return 1
	idx=${out%%:*}
	if [[ $out =~ ^[0-9]+:\ [^:@]+@if([0-9]+): ]]; then peer=${BASH_REMATCH[1]}; fi
	if [[ $out =~ \ veth\  ]]; then kind=veth; elif [[ $out =~ \ dummy\  ]]; then kind=dummy; fi
	printf '%s %s %s\n' "$idx" "$peer" "${kind:-other}"
}

# True if the link is up with carrier.
_lab_link_up() { # NS IFNAME
	local out
	out=$(ip -n "$1" -o link show dev "$2" 2>/dev/null) || return 1
	_lab_snap_link_up "$out" "$2"
}

# Serialises changes to one lab (two "up"s of the same lab at once). Runs the rest in a subshell.
_lab_locked() { # FUNCTION ARGS...
	local lab
	lab=$(lab_name) || return 1
	if ! command -v flock >/dev/null 2>&1; then
		"$@"
		return
	fi
	mkdir -p /run/lock 2>/dev/null || true
	(
		exec 9>>"/run/lock/podlane-lab.$lab.lock" || exit 1
		if ! flock -w 60 9; then
			_lab_err "lab '$lab' is busy (lock /run/lock/podlane-lab.$lab.lock)"
			exit 1
		fi
		"$@"
	)
}

# ---------------------------------------------------------------------------------------------
# up

_lab_up_gw() {
	local gw
	gw=$(lab_gw_ns) || return 1
	_lab_ensure_ns "$gw" || return 1
	_lab_sysctl "$gw" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv6.conf.default.forwarding=1 || return 1
	# "outside" is a dummy interface; where the kernel has no dummy driver, a veth pair whose
	# other end (outside_p) also sits in the gateway namespace (so it has carrier).
	local info='' kind=''
	info=$(_lab_link_info "$gw" outside) || info=''
	kind=${info##* }
	if [[ -n $info && $kind == veth ]] && ! _lab_link_exists "$gw" outside_p; then kind=broken; fi
	if [[ -n $info && $kind != dummy && $kind != veth ]]; then
		_lab_do ip -n "$gw" link del outside || return 1
		info=''
	fi
	if [[ -z $info ]]; then
		if ip -n "$gw" link del outside_p 2>/dev/null; then :; fi
		if ! ip -n "$gw" link add outside type dummy 2>/dev/null; then
			_lab_do ip -n "$gw" link add outside type veth peer name outside_p || return 1
		fi
	fi
	if _lab_link_exists "$gw" outside_p; then
		_lab_sysctl "$gw" net.ipv6.conf.outside_p.accept_dad=0 || return 1
		_lab_do ip -n "$gw" link set outside_p up || return 1
	fi
	_lab_sysctl "$gw" net.ipv6.conf.outside.accept_dad=0 || return 1
	_lab_do ip -n "$gw" link set outside up || return 1
	_lab_do ip -n "$gw" addr replace "$(lab_outside_v4)/32" dev outside || return 1
	_lab_do ip -n "$gw" addr replace "$(lab_outside_v6)/128" dev outside nodad || return 1
}

_lab_up_node() { # N MTU
	local n=$1 mtu=$2 gw node gif
	gw=$(lab_gw_ns) || return 1
	node=$(lab_node_ns "$n") || return 1
	gif=$(lab_gw_if "$n") || return 1
	_lab_ensure_ns "$node" || return 1

	# The veth pair: keep it only if both ends exist and are each other's peer.
	local ninfo='' ginfo='' ok=0
	ninfo=$(_lab_link_info "$node" eth0) || ninfo=
	ginfo=$(_lab_link_info "$gw" "$gif") || ginfo=
	if [[ -n $ninfo && -n $ginfo ]]; then
		local nidx npeer nkind gidx gpeer gkind
		read -r nidx npeer nkind <<<"$ninfo"
		read -r gidx gpeer gkind <<<"$ginfo"
		if [[ $nkind == veth && $gkind == veth && $npeer == "$gidx" && $gpeer == "$nidx" ]]; then
			ok=1
		fi
	fi
	if ((!ok)) && [[ -n $ginfo ]]; then
		# The gateway end is still paired with a link in the node namespace that is not
		# "eth0" (renamed, e.g. by a running podlane taking over the uplink): do not tear it down.
		local gout gpeer_idx other
		gout=$(ip -n "$gw" -o -d link show dev "$gif" 2>/dev/null) || gout=''
		read -r _ gpeer_idx _ <<<"$ginfo"
		if [[ $gout == *" link-netns $node "* ]] &&
			other=$(ip -n "$node" -o link show 2>/dev/null | sed -n "s/^$gpeer_idx: \([^:@]*\).*/\1/p") &&
			[[ -n $other && $other != eth0 ]]; then
			_lab_err "$node: the uplink veth is now named '$other' (in use?); not touching it" \
				"(run 'down' to rebuild the lab)"
			return 1
		fi
	fi
	if ((!ok)); then
		if [[ -n $ninfo ]]; then _lab_do ip -n "$node" link del eth0 || return 1; fi
		if _lab_link_exists "$gw" "$gif"; then _lab_do ip -n "$gw" link del "$gif" || return 1; fi
		_lab_do ip -n "$node" link add eth0 mtu "$mtu" type veth \
			peer name "$gif" mtu "$mtu" netns "$gw" || return 1
	fi
	_lab_sysctl "$node" net.ipv6.conf.eth0.accept_dad=0 || return 1
	_lab_sysctl "$gw" "net.ipv6.conf.$gif.accept_dad=0" || return 1
	_lab_do ip -n "$node" link set eth0 mtu "$mtu" up || return 1
	_lab_do ip -n "$gw" link set "$gif" mtu "$mtu" up || return 1

	_lab_do ip -n "$node" addr replace "$(lab_uplink_v4 "$n")/24" dev eth0 || return 1
	_lab_do ip -n "$node" addr replace "$(lab_uplink_v6 "$n")/64" dev eth0 nodad || return 1
	_lab_do ip -n "$gw" addr replace "$(lab_gw_v4 "$n")/24" dev "$gif" || return 1
	_lab_do ip -n "$gw" addr replace "$(lab_gw_v6 "$n")/64" dev "$gif" nodad || return 1

	lab_wait_for 10 "carrier on $node/eth0" _lab_link_up "$node" eth0 || return 1
	lab_wait_for 10 "carrier on $gw/$gif" _lab_link_up "$gw" "$gif" || return 1

	_lab_do ip -n "$node" -4 route replace default via "$(lab_gw_v4 "$n")" dev eth0 || return 1
	_lab_do ip -n "$node" -6 route replace default via "$(lab_gw_v6 "$n")" dev eth0 || return 1
	_lab_do ip -n "$gw" -4 route replace "$(lab_pod_cidr_v4 "$n")" \
		via "$(lab_uplink_v4 "$n")" dev "$gif" || return 1
	_lab_do ip -n "$gw" -6 route replace "$(lab_pod_cidr_v6 "$n")" \
		via "$(lab_uplink_v6 "$n")" dev "$gif" || return 1
}

_lab_up() { # NODES MTU
	local nodes=$1 mtu=$2 n
	_lab_up_gw || return 1
	for ((n = 1; n <= nodes; n++)); do
		_lab_up_node "$n" "$mtu" || return 1
	done
	_lab_check "$nodes"
}

# lab_up [--nodes N] [--mtu M]: builds (or repairs) the lab with nodes 1..N. Idempotent; nodes
# above N that already exist are left alone.
lab_up() {
	local nodes=1 mtu=1500
	while (($#)); do
		case $1 in
		--nodes) nodes=${2-}; shift 2 || { _lab_err "--nodes needs a value"; return 1; } ;;
		--nodes=*) nodes=${1#*=}; shift ;;
		--mtu) mtu=${2-}; shift 2 || { _lab_err "--mtu needs a value"; return 1; } ;;
		--mtu=*) mtu=${1#*=}; shift ;;
		*) _lab_err "up: unknown option '$1'"; return 1 ;;
		esac
	done
	_lab_check_node "$nodes" || return 1
	if [[ ! $mtu =~ ^[0-9]{4,5}$ ]] || ((mtu < 1280 || mtu > 65535)); then
		_lab_err "bad MTU '$mtu' (want 1280..65535)"
		return 1
	fi
	if [[ $(id -u) != 0 ]]; then
		_lab_err "needs root"
		return 1
	fi
	_lab_locked _lab_up "$nodes" "$mtu"
}

# ---------------------------------------------------------------------------------------------
# down

# True if one of the processes still runs (a zombie waiting for its parent does not count).
_lab_any_alive() { # PID...
	local pid stat
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		if [[ ${stat%% *} != Z && ${stat%% *} != X ]]; then return 0; fi
	done
	return 1
}

_lab_down() {
	local lab list ns found='' pids=() deadline
	lab=$(lab_name) || return 1
	list=$(lab_namespaces) || return 1
	# Processes left in the lab's namespaces (a crashed test's daemons) would keep the
	# namespaces and their links alive after the names are gone: stop them first.
	while IFS= read -r ns; do
		[[ -n $ns && -e /run/netns/$ns ]] || continue
		found+=" $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
	done <<<"$list"
	read -r -a pids <<<"$found"
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		deadline=$((SECONDS + 5))
		while _lab_any_alive "${pids[@]}" && ((SECONDS < deadline)); do sleep 0.05; done
		if _lab_any_alive "${pids[@]}"; then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
	fi
	local failed=0
	while IFS= read -r ns; do
		[[ -n $ns ]] || continue
		if ! ip netns del "$ns" 2>/dev/null; then
			rm -f "/run/netns/$ns" 2>/dev/null || true
		fi
		if [[ -e /run/netns/$ns ]]; then
			_lab_err "could not remove namespace $ns"
			failed=1
		fi
	done <<<"$list"
	rm -f "/run/lock/podlane-lab.$lab.lock" 2>/dev/null || true
	return "$failed"
}

# lab_down: removes every namespace "${LAB}-*" (and so every link in them). Idempotent.
lab_down() {
	if [[ $(id -u) != 0 ]]; then
		_lab_err "needs root"
		return 1
	fi
	_lab_locked _lab_down
}

# ---------------------------------------------------------------------------------------------
# status

# Snapshot matchers: the text is the output of one `ip -o link/addr` or `ip route` call, so a
# check costs a few commands per namespace.
_lab_snap_link_up() { # LINKS_TEXT IFNAME
	local line name flags
	while IFS= read -r line; do
		[[ $line =~ ^[0-9]+:\ ([^:@]+)(@[^:]*)?:\ \<([^>]*)\> ]] || continue
		name=${BASH_REMATCH[1]}
		flags=,${BASH_REMATCH[3]},
		if [[ $name == "$2" ]]; then
			[[ $flags == *,UP,* && $flags == *,LOWER_UP,* ]]
			return
		fi
	done <<<"$1"
	return 1
}

_lab_snap_has_addr() { # ADDRS_TEXT IFNAME ADDR/LEN
	local line
	while IFS= read -r line; do
		if [[ $line =~ ^[0-9]+:\ ([^ ]+)\ +inet6?\ ([^ ]+)\  && ${BASH_REMATCH[1]} == "$2" &&
			${BASH_REMATCH[2]} == "$3" ]]; then
			[[ $line != *tentative* && $line != *dadfailed* ]]
			return
		fi
	done <<<"$1"
	return 1
}

_lab_snap_has_route() { # ROUTES_TEXT DEST VIA DEV
	local line
	while IFS= read -r line; do
		if [[ "$line " == "$2 via $3 dev $4 "* ]]; then return 0; fi
	done <<<"$1"
	return 1
}

# Reports a missing piece; sets "bad" in the calling _lab_check (bash's dynamic scope).
_lab_miss() {
	_lab_err "incomplete: $*"
	bad=1
}

# _lab_check NODES: true if the gateway and nodes 1..NODES are complete; says what is missing.
_lab_check() {
	local nodes=$1 gw node gif n bad=0 a
	local gl ga g4 g6 nl na n4 n6 fwd
	gw=$(lab_gw_ns) || return 1
	if ! gl=$(ip -n "$gw" -o link show 2>/dev/null); then
		_lab_miss "namespace $gw"
		return 1
	fi
	ga=$(ip -n "$gw" -o addr show 2>/dev/null) || ga=''
	g4=$(ip -n "$gw" -4 route show 2>/dev/null) || g4=''
	g6=$(ip -n "$gw" -6 route show 2>/dev/null) || g6=''
	fwd=$(ip netns exec "$gw" sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding 2>/dev/null |
		tr '\n' ' ') || fwd=''
	_lab_snap_link_up "$gl" lo || _lab_miss "$gw: lo not up"
	_lab_snap_link_up "$gl" outside || _lab_miss "$gw: outside missing or not up"
	[[ $fwd == "1 1 " ]] || _lab_miss "$gw: IPv4/IPv6 forwarding not both on ($fwd)"
	for a in "$(lab_outside_v4)/32" "$(lab_outside_v6)/128"; do
		_lab_snap_has_addr "$ga" outside "$a" || _lab_miss "$gw: outside $a"
	done
	for ((n = 1; n <= nodes; n++)); do
		node=$(lab_node_ns "$n") || return 1
		gif=$(lab_gw_if "$n") || return 1
		_lab_snap_link_up "$gl" "$gif" || _lab_miss "$gw: $gif missing or not up"
		for a in "$(lab_gw_v4 "$n")/24" "$(lab_gw_v6 "$n")/64"; do
			_lab_snap_has_addr "$ga" "$gif" "$a" || _lab_miss "$gw: $gif $a"
		done
		_lab_snap_has_route "$g4" "$(lab_pod_cidr_v4 "$n")" "$(lab_uplink_v4 "$n")" "$gif" ||
			_lab_miss "$gw: route $(lab_pod_cidr_v4 "$n")"
		_lab_snap_has_route "$g6" "$(lab_pod_cidr_v6 "$n")" "$(lab_uplink_v6 "$n")" "$gif" ||
			_lab_miss "$gw: route $(lab_pod_cidr_v6 "$n")"
		if ! nl=$(ip -n "$node" -o link show 2>/dev/null); then
			_lab_miss "namespace $node"
			continue
		fi
		na=$(ip -n "$node" -o addr show 2>/dev/null) || na=''
		n4=$(ip -n "$node" -4 route show 2>/dev/null) || n4=''
		n6=$(ip -n "$node" -6 route show 2>/dev/null) || n6=''
		_lab_snap_link_up "$nl" lo || _lab_miss "$node: lo not up"
		_lab_snap_link_up "$nl" eth0 || _lab_miss "$node: eth0 missing or not up"
		for a in "$(lab_uplink_v4 "$n")/24" "$(lab_uplink_v6 "$n")/64"; do
			_lab_snap_has_addr "$na" eth0 "$a" || _lab_miss "$node: eth0 $a"
		done
		_lab_snap_has_route "$n4" default "$(lab_gw_v4 "$n")" eth0 || _lab_miss "$node: IPv4 default route"
		_lab_snap_has_route "$n6" default "$(lab_gw_v6 "$n")" eth0 || _lab_miss "$node: IPv6 default route"
	done
	return "$bad"
}

# lab_check [--nodes N]: quiet check (reasons on stderr). Without --nodes: every node up to the
# highest one present (at least 1).
lab_check() {
	local nodes='' n
	while (($#)); do
		case $1 in
		--nodes) nodes=${2-}; shift 2 || { _lab_err "--nodes needs a value"; return 1; } ;;
		--nodes=*) nodes=${1#*=}; shift ;;
		*) _lab_err "status: unknown option '$1'"; return 1 ;;
		esac
	done
	if [[ -z $nodes ]]; then
		nodes=1
		for n in $(lab_nodes); do nodes=$n; done
	fi
	_lab_check_node "$nodes" || return 1
	_lab_check "$nodes"
}

# lab_status [--nodes N]: prints every namespace of the lab with its links, addresses and
# routes; returns 0 if the lab is up completely (see lab_check), 1 otherwise.
lab_status() {
	local lab list ns
	lab=$(lab_name) || return 1
	list=$(lab_namespaces) || return 1
	printf 'lab %s\n' "$lab"
	if [[ -z $list ]]; then
		printf '  (no namespaces)\n'
	fi
	while IFS= read -r ns; do
		[[ -n $ns ]] || continue
		printf '\n== netns %s\n' "$ns"
		if ! lab_ns_ok "$ns"; then
			printf '  (stale: cannot enter)\n'
			continue
		fi
		printf -- '-- links\n'
		ip -n "$ns" -br link show 2>&1 | sed 's/^/  /'
		printf -- '-- addresses\n'
		ip -n "$ns" -br addr show 2>&1 | sed 's/^/  /'
		printf -- '-- routes\n'
		ip -n "$ns" -4 route show 2>&1 | sed 's/^/  /'
		ip -n "$ns" -6 route show 2>&1 | sed 's/^/  /'
	done <<<"$list"
	printf '\n'
	if lab_check "$@"; then
		printf 'status: up\n'
	else
		printf 'status: NOT up completely\n'
		return 1
	fi
}

# ---------------------------------------------------------------------------------------------
# pods and exec

# lab_pod_ns_add N K: creates the pod's namespace, empty with loopback up. Idempotent.
lab_pod_ns_add() {
	local ns
	ns=$(lab_pod_ns "${1-}" "${2-}") || return 1
	_lab_locked _lab_ensure_ns "$ns"
}

# lab_pod_ns_del N K: removes the pod's namespace (and what is in it). Idempotent.
lab_pod_ns_del() {
	local ns
	ns=$(lab_pod_ns "${1-}" "${2-}") || return 1
	if [[ -e /run/netns/$ns ]]; then
		ip netns del "$ns" 2>/dev/null || rm -f "/run/netns/$ns"
	fi
	if [[ -e /run/netns/$ns ]]; then
		_lab_err "could not remove namespace $ns"
		return 1
	fi
}

lab_pod_ns_cmd() { # add|del N K
	case ${1-} in
	add) shift; lab_pod_ns_add "$@" ;;
	del) shift; lab_pod_ns_del "$@" ;;
	*) _lab_err "pod-ns: want add|del N K"; return 1 ;;
	esac
}

# lab_exec SHORTNAME CMD...: runs CMD in the namespace (gw, n1, n1-p2, or a full name).
lab_exec() {
	local ns
	if (($# < 2)); then
		_lab_err "exec: want NS_SHORTNAME CMD..."
		return 1
	fi
	ns=$(lab_ns "$1") || return 1
	shift
	ip netns exec "$ns" "$@"
}

# ---------------------------------------------------------------------------------------------
# Command mode

_lab_usage() {
	cat <<'EOT'
Usage: lab.sh [--lab NAME] COMMAND [ARGS]
  up [--nodes N] [--mtu M]   build or repair the lab: gateway + nodes 1..N (default 1, MTU 1500)
  down                       remove every namespace NAME-* (idempotent)
  status [--nodes N]         show namespaces, links, addresses, routes; exit 0 if complete
  pod-ns add|del N K         create/remove pod K's empty namespace NAME-nN-pK on node N
  exec NS CMD...             run CMD in namespace gw, nN or nN-pK
  help                       this text
The lab name is NAME (--lab), else $PODLANE_LAB, else "pl". Needs root.
EOT
}

_lab_main() {
	local cmd='' args=()
	while (($#)); do
		case $1 in
		--lab) PODLANE_LAB=${2-}; shift 2 || { _lab_err "--lab needs a value"; return 2; } ;;
		--lab=*) PODLANE_LAB=${1#*=}; shift ;;
		-h | --help | help) _lab_usage; return 0 ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$1
				shift
				if [[ $cmd == exec ]]; then
					# exec: only --lab may come before the namespace; the rest is the command.
					while [[ ${1-} == --lab || ${1-} == --lab=* ]]; do
						if [[ $1 == --lab ]]; then PODLANE_LAB=${2-}; shift 2 || return 2
						else PODLANE_LAB=${1#*=}; shift; fi
					done
					args=("$@")
					break
				fi
			else
				args+=("$1")
				shift
			fi
			;;
		esac
	done
	export PODLANE_LAB=${PODLANE_LAB:-pl}
	lab_name >/dev/null || return 2
	case $cmd in
	up) lab_up ${args[@]+"${args[@]}"} ;;
	down) lab_down ${args[@]+"${args[@]}"} ;;
	status) lab_status ${args[@]+"${args[@]}"} ;;
	check) lab_check ${args[@]+"${args[@]}"} ;;
	pod-ns) lab_pod_ns_cmd ${args[@]+"${args[@]}"} ;;
	exec) lab_exec ${args[@]+"${args[@]}"} ;;
	'') _lab_usage >&2; return 2 ;;
	*) _lab_err "unknown command '$cmd'"; _lab_usage >&2; return 2 ;;
	esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	_lab_main "$@"
fi
