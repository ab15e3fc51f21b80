# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers shared by the lab benchmarks (sourced after tests/node/node_lib.sh, which defines
# fail, lab_* and the trap): the kernel baseline's veth-wired pods, and the offload state of an
# interface as ethtool -k reports it.

# kernel_pod KNODE LAB K: pod K of node 1 of lab LAB wired the way a veth-based CNI does it: a
# veth pair (kernel defaults: offloads as the driver sets them, none turned off), pod side eth0
# with the pod's /32 and /128 and default routes via 169.254.1.1 (scope-link /32 route first)
# and fe80::1, exactly the routes podlane gives its pods; node side veth-pK holds 169.254.1.1/32
# and fe80::1/64 and the /32 and /128 routes to the pod. The node must forward (the caller
# sets net.ipv4.ip_forward and net.ipv6.conf.all.forwarding).
kernel_pod() { # KNODE LAB K
	local knode=$1 lab=$2 k=$3 ns hif=veth-p$3 v4 v6
	PODLANE_LAB=$lab lab_pod_ns_add 1 "$k" >/dev/null || fail "kernel lab: pod-ns add $k"
	ns=$(PODLANE_LAB=$lab lab_pod_ns 1 "$k")
	v4=$(lab_pod_v4 1 "$k")
	v6=$(lab_pod_v6 1 "$k")
	_kdo ip -n "$knode" link add "$hif" type veth peer name eth0 netns "$ns"
	_kdo ip -n "$knode" addr add 169.254.1.1/32 dev "$hif"
	_kdo ip -n "$knode" addr add fe80::1/64 dev "$hif" nodad
	_kdo ip -n "$knode" link set "$hif" up
	_kdo ip -n "$ns" addr add "$v4/32" dev eth0
	_kdo ip -n "$ns" addr add "$v6/128" dev eth0 nodad
	_kdo ip -n "$ns" link set eth0 up
	_kdo ip -n "$ns" route add 169.254.1.1 dev eth0 scope link
	_kdo ip -n "$ns" route add default via 169.254.1.1 dev eth0
	_kdo ip -n "$ns" -6 route add default via fe80::1 dev eth0
	_kdo ip -n "$knode" route add "$v4/32" dev "$hif"
	_kdo ip -n "$knode" -6 route add "$v6/128" dev "$hif"
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

# bench_machine: a one-line description of the machine (CPUs, model, kernel).
bench_machine() {
	echo "$(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
}
