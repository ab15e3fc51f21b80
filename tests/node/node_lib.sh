# SPDX-License-Identifier: Apache-2.0
# Node-dataplane tests: a namespace lab (tests/lab/lab.sh) with podlane running in node 1's
# namespace on its uplink eth0, plus helpers to snapshot the uplink's Linux config for exact
# comparison, to add pods, and to move verified bytes over TCP. Everything is removed by the
# cleanup trap of tests/lib.sh, extended here with the lab.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lab/lab.sh"

export PODLANE_LAB="pl$(($$ % 100000))"
NODE=$(lab_node_ns 1)
GW=$(lab_gw_ns)
XFER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcp_xfer.py
DRIVER=${PODLANE_UPLINK_DRIVER:-af_packet}

node_cleanup() {
	local rc=$?
	lab_down >/dev/null 2>&1 || true
	return $rc
}
# Runs before lib.sh's cleanup (which stops podlane first in its own trap).
trap 'rc=$?; cleanup_all $rc' EXIT
cleanup_all() {
	set +e
	dpdk_unwire
	if [ -n "$SUP_PID" ] && kill -0 "$SUP_PID" 2>/dev/null; then
		kill -TERM "$SUP_PID"
		wait_for 20 "supervisor exit" bash -c "! kill -0 $SUP_PID"
	fi
	ip netns exec "$NODE" "$SVC_DIR/podlane-supervisor" -c "$T_CONF" --restore >/dev/null 2>&1
	lab_down >/dev/null 2>&1
	(exit "$1")
	cleanup
}

in_node() { ip netns exec "$NODE" "$@"; }
in_gw() { ip netns exec "$GW" "$@"; }
in_pod() { local k=$1; shift; ip netns exec "$(lab_pod_ns 1 "$k")" "$@"; }

# With the dpdk driver the uplink is a DPDK tap device (a vdev) that the supervisor probes;
# the lab wires it to the taken veth with tc mirred, as a NIC would be wired to the wire.
DPDK_TAP=dtap0
node_config() { # EXTRA_YAML: more keys of the pods section, written last
	write_config "  spawn_services: true
uplink:
  interface: eth0
  driver: $DRIVER
  dpdk_devargs: net_tap0,iface=$DPDK_TAP
  state_file: $T_DIR/uplink.json
synthetic:
  enabled: false
pods:
  state_file: $T_DIR/pods.json
${1:-}"
}

node_lab_up() { # [MTU]
	lab_up --nodes "${LAB_NODES:-1}" --mtu "${1:-1500}" >/dev/null || fail "lab up"
	# With af_packet the gateway keeps the offloads a veth has (TSO/GSO/checksum on): io-worker
	# takes and sends super-packets over the uplink (PACKET_VNET_HDR). AF_XDP in copy mode and
	# the DPDK tap vdev take MTU-sized frames only, as a NIC without LRO would deliver them.
	if [ "$DRIVER" != af_packet ]; then
		in_gw ethtool -K "$(lab_gw_if 1)" tso off gso off tx off >/dev/null 2>&1 || true
	fi
}

# io-worker's counter NAME.
iow_counter() { ctl -s io-worker -j counters/show | jq -e ".$1"; }

# The uplink's Linux config as one normalised JSON document: link (name, MAC, MTU, flags),
# addresses (no kernel-made link-local ones) and routes through it in every table.
uplink_snapshot() {
	local link addrs routes
	link=$(in_node ip -d -j link show eth0 | jq -c '.[0] | {ifname, kind: .linkinfo.info_kind, address, mtu, up: (.flags | index("UP") != null), promisc: (.flags | index("PROMISC") != null), xdp: (.xdp != null)}')
	# What takeover leaves behind must be gone too.
	in_node ip link show pl-eth0 >/dev/null 2>&1 && link=$(jq -c '. + {taken_link_left: true}' <<<"$link")
	addrs=$(in_node ip -j addr show dev eth0 | jq -c '[.[0].addr_info[] | select(.scope != "link") | {family, local, prefixlen, scope}] | sort_by(.family, .local)')
	routes=$(in_node ip -j route show table all dev eth0 | jq -c '[.[] | select(.table != "local") | del(.expires, .pref) ] | sort_by(.dst, .table)')
	routes6=$(in_node ip -6 -j route show table all dev eth0 | jq -c '[.[] | select(.table != "local" and (.dst | startswith("fe80") | not) and (.dst | startswith("ff00") | not)) | del(.expires, .pref)] | sort_by(.dst, .table)')
	jq -cn --argjson l "$link" --argjson a "$addrs" --argjson r "$routes" --argjson r6 "$routes6" '{link: $l, addrs: $a, routes4: $r, routes6: $r6}'
}

start_node_podlane() {
	( cd / && ip netns exec "$NODE" setsid "$SVC_DIR/podlane-supervisor" -c "$T_CONF" "$@" \
		>>"$T_DIR/supervisor.log" 2>&1 & echo $! >"$T_DIR/sup.pid" )
	wait_for 60 "all services ready" ctl status || fail "podlane did not come up"
	SUP_PID=$(svc_field supervisor pid)
	uplink_port() { ctl -s io-worker -j ports/show | jq -e --arg d "$DRIVER" 'any(.[]; .role == "uplink" and .kind == $d)' >/dev/null; }
	wait_for 20 "uplink port open with driver $DRIVER" uplink_port || fail "uplink port ($DRIVER) not open"
	[ "$DRIVER" != dpdk ] || dpdk_wire
	fib_ready() { ctl -s router -j fib/show | jq -e 'length > 0' >/dev/null; }
	wait_for 30 "FIB installed" fib_ready || fail "no FIB"
}

dpdk_wire() {
	local a b
	for pair in "pl-eth0 $DPDK_TAP" "$DPDK_TAP pl-eth0"; do
		read -r a b <<<"$pair"
		in_node tc qdisc replace dev "$a" ingress || fail "tc qdisc on $a"
		in_node tc filter add dev "$a" parent ffff: protocol all u32 match u32 0 0 \
			action mirred egress redirect \
			dev "$b" || fail "tc mirred $a -> $b"
	done
}

# Undoes dpdk_wire before the uplink goes back to the kernel.
dpdk_unwire() {
	[ "$DRIVER" = dpdk ] || return 0
	in_node tc qdisc del dev pl-eth0 ingress 2>/dev/null || true
}

add_pod() { # K
	local k=$1
	lab_pod_ns_add 1 "$k" >/dev/null || fail "pod-ns add $k"
	ctl pod add "$(lab_pod_ns 1 "$k")" eth0 "$(lab_pod_v4 1 "$k")" "$(lab_pod_v6 1 "$k")" >/dev/null ||
		fail "pod add $k"
	port_up() { ctl -s io-worker -j ports/show | jq -e --arg ns "/var/run/netns/$(lab_pod_ns 1 "$k")" 'any(.[]; .netns == $ns)' >/dev/null; }
	wait_for 20 "pod $k's port open" port_up || fail "pod $k port not open"
}

# xfer FROM_NS TO_NS TO_ADDR BYTES: verified TCP transfer; prints the byte count.
XFER_PORT=5201
xfer() {
	local from=$1 to=$2 addr=$3 bytes=$4 out
	XFER_PORT=$((XFER_PORT + 1))
	out=$T_DIR/xfer.$XFER_PORT
	ip netns exec "$to" python3 "$XFER" serve "$addr" "$XFER_PORT" "$out" &
	local srv=$!
	listening() { ip netns exec "$to" ss -ltnH "sport = :$XFER_PORT" | grep -q .; }
	wait_for 10 "server listening" listening || fail "xfer server did not start"
	local sent
	sent=$(ip netns exec "$from" python3 "$XFER" send "$addr" "$XFER_PORT" "$bytes" $RANDOM) ||
		fail "xfer to $addr failed"
	wait "$srv" || fail "xfer server failed"
	[ "$(cat "$out")" = "$sent" ] || fail "xfer to $addr: sent '$sent', received '$(cat "$out")'"
	echo "$bytes"
}
