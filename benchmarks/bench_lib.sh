# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the lab benchmarks (sourced after tests/node/node_lib.sh, which defines
# fail, lab_*, cleanup_all and the trap): the kernel baseline's lab and its veth-wired pods, and
# the offload state of an interface as ethtool -k reports it.

# ---------------------------------------------------------------------------------------------
# The kernel variant: a second lab (same topology as podlane's $PODLANE_LAB, another name) in
# which the Linux kernel does the node's work.

# kernel_lab PREFIX [CLEANUP]: names it PREFIX followed by the script's pid % 100000 (KLAB;
# KNODE and KGW: its node 1's and its gateway's namespaces; klab CMD... runs CMD with it as the
# lab) and sets the EXIT trap that removes it, extending node_lib's: the function CLEANUP first
# when given (services_lib's services_cleanup), then bench_cleanup (kills BG_PIDS, the
# benchmark's background processes, and takes the kernel lab down), then node_lib's cleanup_all
# (podlane, its lab, the instance's files). Nothing is created here: kernel_lab_up does that.
kernel_lab() { # PREFIX [CLEANUP]
	KLAB="$1$(($$ % 100000))"
	# shellcheck disable=SC2034 # KNODE, KGW and BG_PIDS: for the benchmark
	KNODE=$(klab lab_node_ns 1) KGW=$(klab lab_gw_ns) BG_PIDS=()
	KLAB_CLEANUP=${2:-}
	# shellcheck disable=SC2154 # rc: set in the trap
	trap 'rc=$?; [ -z "$KLAB_CLEANUP" ] || "$KLAB_CLEANUP"; bench_cleanup; cleanup_all $rc' EXIT
}
klab() { PODLANE_LAB=$KLAB "$@"; }
bench_cleanup() {
	set +e
	local p
	for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do
		kill -KILL "$p" 2>/dev/null
	done
	klab lab_down >/dev/null 2>&1 || log "could not remove lab $KLAB"
}

# kernel_lab_up: the kernel lab with one node (its uplink eth0 wired to the gateway, default
# routes to it, the gateway routing the node's pod CIDR back, as tests/lab/lab.sh builds every
# lab), which forwards (IPv4 and IPv6). Its pods: kernel_pod.
kernel_lab_up() {
	klab lab_up --nodes 1 >/dev/null || fail "kernel lab up"
	ip netns exec "$KNODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		fail "kernel lab: forwarding"
}

# kernel_pod K: pod K of node 1 of the kernel lab wired the way a veth-based CNI does it: a
# veth pair (kernel defaults: offloads as the driver sets them, none turned off), pod side eth0
# with the pod's /32 and /128 and default routes via 169.254.1.1 (scope-link /32 route first)
# and fe80::1, exactly the routes podlane gives its pods; node side veth-pK holds 169.254.1.1/32
# and fe80::1/64 and the /32 and /128 routes to the pod. The node forwards (kernel_lab_up).
kernel_pod() { # K
	local k=$1 ns hif=veth-p$1 v4 v6
	klab lab_pod_ns_add 1 "$k" >/dev/null || fail "kernel lab: pod-ns add $k"
	ns=$(klab lab_pod_ns 1 "$k")
	v4=$(lab_pod_v4 1 "$k")
	v6=$(lab_pod_v6 1 "$k")
	_kdo ip -n "$KNODE" link add "$hif" type veth peer name eth0 netns "$ns"
	_kdo ip -n "$KNODE" addr add 169.254.1.1/32 dev "$hif"
	_kdo ip -n "$KNODE" addr add fe80::1/64 dev "$hif" nodad
	_kdo ip -n "$KNODE" link set "$hif" up
	_kdo ip -n "$ns" addr add "$v4/32" dev eth0
	_kdo ip -n "$ns" addr add "$v6/128" dev eth0 nodad
	_kdo ip -n "$ns" link set eth0 up
	_kdo ip -n "$ns" route add 169.254.1.1 dev eth0 scope link
	_kdo ip -n "$ns" route add default via 169.254.1.1 dev eth0
	_kdo ip -n "$ns" -6 route add default via fe80::1 dev eth0
	_kdo ip -n "$KNODE" route add "$v4/32" dev "$hif"
	_kdo ip -n "$KNODE" -6 route add "$v6/128" dev "$hif"
}
_kdo() { "$@" || fail "kernel lab: $* failed"; }

# offloads NS IF ROLE: one JSON object: where, what kind of link, and the four offloads that
# matter for TCP through it (ethtool -k: on/off, "[fixed]" kept when the driver fixes them).
offloads() { # NS IF ROLE
	local kind k
	kind=$(ip -n "$1" -d -j link show dev "$2" 2>/dev/null | jq -r '.[0].linkinfo.info_kind // "none"') ||
		kind=unknown
	k=$(ip netns exec "$1" ethtool -k "$2" 2>/dev/null) || k=
	jq -nc --arg ns "$1" --arg ifname "$2" --arg role "$3" --arg kind "$kind" --arg k "$k" '
		($k | split("\n") | map(capture("^(?<key>[a-z-]+): (?<value>.*)$")) | from_entries
			| with_entries(.value |= sub("\\s+$"; ""))) as $o |
		{role: $role, netns: $ns, ifname: $ifname, kind: $kind,
		 "tx-checksumming": ($o["tx-checksumming"] // null),
		 "tcp-segmentation-offload": ($o["tcp-segmentation-offload"] // null),
		 "generic-segmentation-offload": ($o["generic-segmentation-offload"] // null),
		 "generic-receive-offload": ($o["generic-receive-offload"] // null)}'
}

# node_links NS: the veth and tun links of a node namespace, one a line.
node_links() { # NS
	ip -n "$1" -d -j link show | jq -r '.[] | select(.linkinfo.info_kind == "veth" or
		.linkinfo.info_kind == "tun") | .ifname'
}

# copy_offloads FROM_NS FROM_IF TO_NS TO_IF: gives TO_IF the state FROM_IF has of the four
# offloads offloads() reports (ethtool -K tx, tso, gso, gro; only those that differ), so that a
# path of one lab is configured like the same path of the other.
copy_offloads() { # FROM_NS FROM_IF TO_NS TO_IF
	local from to args=() f v w
	from=$(ip netns exec "$1" ethtool -k "$2") || fail "ethtool -k $2 in $1"
	to=$(ip netns exec "$3" ethtool -k "$4") || fail "ethtool -k $4 in $3"
	for f in tx-checksumming:tx tcp-segmentation-offload:tso generic-segmentation-offload:gso \
		generic-receive-offload:gro; do
		v=$(sed -n "s/^${f%%:*}: \([a-z]*\).*/\1/p" <<<"$from")
		w=$(sed -n "s/^${f%%:*}: \([a-z]*\).*/\1/p" <<<"$to")
		{ [ -n "$v" ] && [ -n "$w" ]; } || fail "ethtool -k $2 in $1 or $4 in $3: no ${f%%:*}"
		[ "$v" = "$w" ] || args+=("${f#*:}" "$v")
	done
	[ ${#args[@]} = 0 ] || ip netns exec "$3" ethtool -K "$4" "${args[@]}" >/dev/null 2>&1 ||
		fail "ethtool -K $4 ${args[*]} in $3 failed"
}

# bench_machine: a one-line description of the machine (CPUs, model, kernel).
bench_machine() {
	echo "$(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
}
