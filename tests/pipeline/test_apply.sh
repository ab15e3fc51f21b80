#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podlanectl apply -f / delete -f with the directory datastore: good Services and EndpointSlices
# are written atomically; Service/EndpointSlice documents with missing ports, bad IPs, wrong
# types, duplicate names or a 10 MB size are rejected with a message naming the file, line,
# object and field, and leave the datastore exactly as it was.
. "$(dirname "$0")/../lib.sh"

DS=$T_DIR/datastore
mkdir -p "$DS"
write_config "datastore:
  dir: $DS"
snapshot() { (cd "$DS" && find . -type f -exec sha256sum {} + | sort); }

cat >"$T_DIR/web.yaml" <<'EOF2'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: http, nodePort: 30080}]
  sessionAffinity: ClientIP
  somethingNew: ignored
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
  - addresses: [10.98.1.11]
    conditions: {ready: true}
  - addresses: [10.98.1.12]
    conditions: {ready: false, terminating: true}
ports: [{name: http, port: 8080, protocol: TCP}]
EOF2
ctl apply -f "$T_DIR/web.yaml" >"$T_DIR/out" || fail "good apply refused: $(cat "$T_DIR/out")"
[ "$(ls "$DS" | sort | tr '\n' ' ')" = "endpointslice_shop_web-1.yaml service_shop_web.yaml " ] ||
	fail "apply wrote $(ls "$DS") (want one file per object)"
cat "$DS/service_shop_web.yaml" "$DS/endpointslice_shop_web-1.yaml" | cmp -s - "$T_DIR/web.yaml" ||
	fail "the applied files together differ from the input"
before=$(snapshot)

reject() { # NAME PATTERN
	local rc=0
	ctl apply -f "$T_DIR/$1.yaml" >/dev/null 2>"$T_DIR/err" || rc=$?
	[ $rc -ne 0 ] || fail "$1: accepted"
	grep -qE -- "$2" "$T_DIR/err" || fail "$1: message lacks /$2/: $(cat "$T_DIR/err")"
	[ "$(snapshot)" = "$before" ] || fail "$1: the datastore changed"
	log "$1 rejected: $(head -c 200 "$T_DIR/err")"
}
doc() { # NAME BODY
	printf '%s\n' "$2" >"$T_DIR/$1.yaml"
}
doc noports 'apiVersion: v1
kind: Service
metadata: {name: a, namespace: shop}
spec: {clusterIP: 10.96.0.11}'
reject noports "noports.yaml:[0-9]+: Service shop/a: field 'spec.ports'"
doc badip 'apiVersion: v1
kind: Service
metadata: {name: b, namespace: shop}
spec:
  clusterIP: 10.96.0.300
  ports: [{port: 80}]'
reject badip "badip.yaml:5: Service shop/b: field 'spec.clusterIP'"
doc badtype 'apiVersion: v1
kind: Service
metadata: {name: c, namespace: shop}
spec:
  ports: [{port: eighty}]'
reject badtype "badtype.yaml:5: Service shop/c: field 'spec.ports\[0\].port'"
doc badeps 'apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: d, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [fd00::1]}]'
reject badeps "badeps.yaml:[0-9]+: EndpointSlice shop/d: field 'endpoints\[0\].addresses\[0\]'"
doc dupname 'apiVersion: v1
kind: Service
metadata: {name: e, namespace: shop}
spec:
  ports: [{name: x, port: 80}, {name: x, port: 81}]'
reject dupname "dupname.yaml:[0-9]+: Service shop/e: field 'spec.ports\[1\]': duplicate port name"
# One bad document among good ones: nothing of it is applied.
{ cat "$T_DIR/web.yaml"; echo '---'; cat "$T_DIR/noports.yaml"; } >"$T_DIR/mixed.yaml"
reject mixed "Service shop/a"
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T_DIR/huge.yaml"
reject huge "huge.yaml.*(larger|MiB|more than the [0-9]+ allowed)"

ctl delete -f "$T_DIR/web.yaml" >/dev/null || fail "delete refused"
[ -z "$(ls "$DS")" ] || fail "delete left $(ls "$DS")"
ctl delete -f "$T_DIR/web.yaml" >/dev/null || fail "a second delete failed"
log "PASS"
