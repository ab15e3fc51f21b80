# SPDX-License-Identifier: Apache-2.0
# Services tests: the node lab of tests/node with podlane on node 1, backend pods running
# svc_tool.py servers, Services and EndpointSlices applied with podlanectl into the datastore
# the test chose (PODLANE_DATASTORE=dir, the default, or etcd: a real etcd on loopback).
. "$(dirname "${BASH_SOURCE[0]}")/../node/node_lib.sh"

SVC_TOOL=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/svc_tool.py
DATASTORE=${PODLANE_DATASTORE:-dir}
DS_DIR=$T_DIR/datastore
SERVER_PIDS=()
NODE_NAME=n1
LAB_NODES=2 # node 2: a kernel-only node holding a "remote" endpoint

# Extends the node tests' cleanup: servers go first (they run in namespaces lab_down removes).
trap 'rc=$?; services_cleanup; cleanup_all $rc' EXIT
services_cleanup() {
	set +e
	local p
	for p in "${SERVER_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	[ "$DATASTORE" != etcd ] || etcd_stop
}

svc_config() { # EXTRA_YAML (top-level sections)
	local ds="datastore:
  source: $DATASTORE
  dir: $DS_DIR"
	if [ "$DATASTORE" = etcd ]; then
		ds="$ds
  etcd_endpoint: $ETCD_ENDPOINT
  etcd_prefix: /podlane-test/"
	fi
	mkdir -p "$DS_DIR"
	node_config "node_name: $NODE_NAME
$ds
services:
  max_sessions: 65536
  max_frontends: 4096
  max_backends: 16384
  tcp_syn_timeout_s: 5
  tcp_closing_timeout_s: 2
  udp_timeout_s: 5
${1:-}"
}

services_up() { # [EXTRA_YAML]
	node_lab_up
	# etcd on the node's loopback, where podlane runs.
	[ "$DATASTORE" != etcd ] || ETCD_NETNS=$NODE etcd_start || fail "etcd did not start"
	export ETCD_NETNS=$NODE
	svc_config "${1:-}"
	start_node_podlane
}

# Starts svc_tool servers named pK in pods 1..N on ports 8080 and 8081.
start_backends() { # N
	local k
	for ((k = 1; k <= $1; k++)); do
		add_pod "$k"
		in_pod "$k" python3 "$SVC_TOOL" serve "p$k" 8080 8081 >>"$T_DIR/server.log" 2>&1 &
		SERVER_PIDS+=($!)
	done
	for ((k = 1; k <= $1; k++)); do
		srv_up() { in_pod "$1" ss -lunH "sport = :8081" | grep -q .; }
		wait_for 10 "server in pod $k" srv_up "$k" || fail "server in pod $k did not start"
	done
}

apply_yaml() { # NAME YAML
	printf '%s\n' "$2" >"$T_DIR/$1.yaml"
	in_node "$CTL" -c "$T_CONF" apply -f "$T_DIR/$1.yaml" >"$T_DIR/apply.out" 2>&1 ||
		fail "apply $1: $(cat "$T_DIR/apply.out")"
}

delete_yaml() { # NAME
	in_node "$CTL" -c "$T_CONF" delete -f "$T_DIR/$1.yaml" >"$T_DIR/apply.out" 2>&1 ||
		fail "delete $1: $(cat "$T_DIR/apply.out")"
}

# EndpointSlice YAML for service NAME: endpoints "ADDR[:NODE[:ready|terminating]]" ...
slice_yaml() { # NAME FAMILY(IPv4|IPv6) ENDPOINT...
	local name=$1 fam=$2 e addr node cond
	shift 2
	printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
	printf 'metadata: {name: %s-%s, namespace: test, labels: {kubernetes.io/service-name: %s}}\n' \
		"$name" "${fam,,}" "$name"
	printf 'addressType: %s\nports:\n' "$fam"
	printf '  - {name: http, port: 8080, protocol: TCP}\n  - {name: dns, port: 8081, protocol: UDP}\n'
	if [ $# -eq 0 ]; then
		printf 'endpoints: []\n'
		return
	fi
	printf 'endpoints:\n'
	for e in "$@"; do
		IFS=@ read -r addr node cond <<<"$e"
		node=${node:-$NODE_NAME}
		case ${cond:-ready} in
		ready) cond='{ready: true, serving: true, terminating: false}' ;;
		terminating) cond='{ready: false, serving: true, terminating: true}' ;;
		esac
		printf '  - addresses: [%s]\n    nodeName: %s\n    conditions: %s\n' "$addr" "$node" "$cond"
	done
}

# Service YAML: NAME TYPE CLUSTER_IP NODEPORT_BASE [EXTRA_SPEC_LINES]
service_yaml() {
	local np=""
	[ "$2" = ClusterIP ] || np=", nodePort: $4"
	local np2=""
	[ "$2" = ClusterIP ] || np2=", nodePort: $(($4 + 1))"
	cat <<EOY
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: test}
spec:
  type: $2
  clusterIP: $3
  ports:
    - {name: http, protocol: TCP, port: 80, targetPort: 8080$np}
    - {name: dns, protocol: UDP, port: 53, targetPort: dns$np2}
${5:-}
EOY
}

# Waits until nat-lb's table shows service test/NAME with N usable endpoints on its frontends.
svc_ready() { # NAME N
	ctl -s nat-lb -j services/show | jq -e --arg s "test/$1" --argjson n "$2" \
		'[.[] | select(.service == $s)] | length > 0 and all(.[]; ([.endpoints[] | select(.usable)] | length) == $n)' >/dev/null
}
wait_svc() { # NAME N
	wait_for 20 "service $1 with $2 usable endpoints" svc_ready "$1" "$2" ||
		fail "service $1 never had $2 usable endpoints: $(ctl -s nat-lb services/show)"
}

in_client() { ip netns exec "$(lab_pod_ns 1 "$CLIENT")" "$@"; }
svc() { python3 "$SVC_TOOL" "$@"; }
