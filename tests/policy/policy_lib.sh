# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034,SC2317 # variables for the tests; helpers they call
# Policy tests: the services lab (podlane on node 1, datastore chosen by PODLANE_DATASTORE) with
# nine pods in three namespaces, x, y and z, pods a, b and c in each (lab pods 1..9), every pod
# serving TCP 80 and 81 and UDP 53 (tests/services/svc_tool.py), and a v1 Pod object for each
# in the datastore: labels ns=<ns>, pod=<a|b|c>, its IPs, named ports tcp-80, tcp-81, dns; and
# v1 Namespace objects x, y, z labelled ns=<name>.
. "$(dirname "${BASH_SOURCE[0]}")/../services/services_lib.sh"

MATRIX=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/matrix.py
POD_NAMES=(x/a x/b x/c y/a y/b y/c z/a z/b z/c)

pod_k() { # NS/POD -> lab pod number
	local i
	for i in "${!POD_NAMES[@]}"; do
		[ "${POD_NAMES[$i]}" != "$1" ] || { echo $((i + 1)); return; }
	done
	return 1
}

pod_yaml() { # K
	local k=$1 name=${POD_NAMES[$(($1 - 1))]}
	cat <<EOY
apiVersion: v1
kind: Pod
metadata: {name: ${name#*/}, namespace: ${name%/*}, labels: {ns: ${name%/*}, pod: ${name#*/}}}
spec:
  nodeName: $NODE_NAME
  containers:
    - name: server
      image: busybox
      ports:
        - {name: tcp-80, containerPort: 80}
        - {name: tcp-81, containerPort: 81}
        - {name: dns, containerPort: 53, protocol: UDP}
status:
  podIP: $(lab_pod_v4 1 "$k")
  podIPs: [{ip: $(lab_pod_v4 1 "$k")}, {ip: $(lab_pod_v6 1 "$k")}]
EOY
}

# Nine pods with servers and their Pod objects.
# The pod addresses on this node that policy's table in force knows: M of policy/show's summary
# "build N in T us: P policies, R rules, A pod addresses (M here, I isolated); last error: ...".
pods_here() {
	ctl -s policy policy/show |
		sed -n 's/^build [0-9][0-9]* in [0-9][0-9]* us: .* pod addresses (\([0-9][0-9]*\) here, .*/\1/p'
}

policy_pods_up() {
	local k n docs=""
	for n in x y z; do
		docs+="apiVersion: v1
kind: Namespace
metadata: {name: $n, labels: {ns: $n}}
---
"
	done
	for k in 1 2 3 4 5 6 7 8 9; do
		add_pod "$k"
		in_pod "$k" python3 "$SVC_TOOL" serve "${POD_NAMES[$((k - 1))]}" 80 81 53 \
			>>"$T_DIR/server.log" 2>&1 &
		SERVER_PIDS+=($!)
		docs+="$(pod_yaml "$k")
---
"
	done
	for k in 1 2 3 4 5 6 7 8 9; do
		srv_up() { in_pod "$1" ss -lunH "sport = :53" | grep -q .; }
		wait_for 10 "server in pod $k" srv_up "$k" || fail "server in pod $k did not start"
	done
	apply_yaml pods "${docs%---
}"
	pods_known() { [ "$(pods_here)" = 18 ]; }
	wait_for 20 "policy knows the 9 pods" pods_known || fail "pods not compiled: $(ctl -s policy policy/show)"
}

matrix_config() { # OUT [SCENARIO...]
	local out=$1 k name only
	shift
	only=$(printf '%s\n' "$@" | jq -R . | jq -sc 'map(select(length > 0))')
	{
		printf '{"ctl": ["ip", "netns", "exec", "%s", "%s", "-c", "%s"], "tmp": "%s", "only": %s, "pods": [' \
			"$NODE" "$CTL" "$T_CONF" "$T_DIR" "$([ $# -gt 0 ] && echo "$only" || echo null)"
		for k in 1 2 3 4 5 6 7 8 9; do
			name=${POD_NAMES[$((k - 1))]}
			printf '%s{"name": "%s", "ns": "%s", "pod": "%s", "ip": "%s", "netns": "%s"}' \
				"$([ "$k" = 1 ] || echo ,)" "$name" "${name%/*}" "${name#*/}" \
				"$(lab_pod_v4 1 "$k")" "$(lab_pod_ns 1 "$k")"
		done
		printf ']}\n'
	} >"$out"
}
