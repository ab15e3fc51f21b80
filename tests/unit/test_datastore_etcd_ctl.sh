#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# podlanectl apply -f / delete -f with datastore.source: etcd, against a real etcd started with
# lib.sh's etcd_start: good input lands as one key per object, holding that object's document;
# one bad document among three writes nothing; delete removes the keys; an etcd restart
# (etcd_restart) keeps what was written. Also checks that the helpers clean up after themselves.
. "$(dirname "$0")/../lib.sh"

command -v etcd >/dev/null || { log "SKIP: no etcd"; exit 77; }
etcd_start
PREFIX=/ctl-test/
write_config "datastore:
  source: etcd
  etcd_endpoint: $ETCD_ENDPOINT
  etcd_prefix: $PREFIX"

b64() { printf '%s' "$1" | base64 -w0; }
# Keys under the prefix, one a line, and a key's value.
keys() {
	curl -sf --noproxy '*' "$ETCD_ENDPOINT/v3/kv/range" \
		-d "{\"key\":\"$(b64 "$PREFIX")\",\"range_end\":\"$(b64 /ctl-test0)\",\"keys_only\":true}" |
		jq -r '.kvs // [] | .[].key | @base64d'
}
value() {
	curl -sf --noproxy '*' "$ETCD_ENDPOINT/v3/kv/range" -d "{\"key\":\"$(b64 "$PREFIX$1")\"}" |
		jq -r '.kvs[0].value | @base64d'
}

cat >"$T_DIR/three.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.98.1.11]}]
ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {ports: [{port: 5432}]}
EOF
ctl apply -f "$T_DIR/three.yaml" >"$T_DIR/out" || fail "good apply refused: $(cat "$T_DIR/out")"
grep -q "applied .*three.yaml -> etcd ${PREFIX}Service/shop/web and 2 more" "$T_DIR/out" ||
	fail "apply said: $(cat "$T_DIR/out")"
want="${PREFIX}EndpointSlice/shop/web-1
${PREFIX}Service/shop/db
${PREFIX}Service/shop/web"
[ "$(keys)" = "$want" ] || fail "keys after apply: $(keys)"
value Service/shop/db | grep -q "port: 5432" || fail "db's value: $(value Service/shop/db)"
value Service/shop/db | grep -q "name: web" && fail "db's value holds more than db"
before=$(keys)

# One bad document among three: nothing of it is written, and the message names the field.
sed -e 's/port: 5432/port: 70000/' -e 's/port: 80}/port: 81}/' "$T_DIR/three.yaml" >"$T_DIR/bad.yaml"
rc=0
ctl apply -f "$T_DIR/bad.yaml" >/dev/null 2>"$T_DIR/err" || rc=$?
[ $rc -eq 1 ] || fail "bad apply: exit $rc"
grep -q "bad.yaml rejected, nothing changed: .*bad.yaml:[0-9]*: Service shop/db: field 'spec.ports\[0\].port'" \
	"$T_DIR/err" || fail "bad apply said: $(cat "$T_DIR/err")"
[ "$(keys)" = "$before" ] || fail "bad apply changed the keys: $(keys)"
value Service/shop/web | grep -q "port: 80}" || fail "bad apply changed web: $(value Service/shop/web)"

# What was written survives a kill -9 of etcd.
etcd_restart
[ "$(keys)" = "$before" ] || fail "keys after etcd restart: $(keys)"

ctl delete -f "$T_DIR/three.yaml" >"$T_DIR/out" || fail "delete refused"
grep -qx "deleted 3 objects" "$T_DIR/out" || fail "delete said: $(cat "$T_DIR/out")"
[ -z "$(keys)" ] || fail "delete left $(keys)"
ctl delete -f "$T_DIR/three.yaml" >"$T_DIR/out" || fail "a second delete failed"
grep -qx "deleted 0 objects" "$T_DIR/out" || fail "second delete said: $(cat "$T_DIR/out")"

# Unreachable etcd: refused with a message naming the endpoint, exit status 1.
pid=$ETCD_PID
etcd_stop
! kill -0 "$pid" 2>/dev/null || fail "etcd_stop left $pid running"
rc=0
ctl apply -f "$T_DIR/three.yaml" >/dev/null 2>"$T_DIR/err" || rc=$?
[ $rc -eq 1 ] || fail "apply without etcd: exit $rc"
grep -q "etcd $ETCD_ENDPOINT: /v3/kv/txn: " "$T_DIR/err" || fail "apply without etcd said: $(cat "$T_DIR/err")"
log "PASS"
