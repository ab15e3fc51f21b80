#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# /metrics: served on loopback only, passes `promtool check metrics`, and its values are the
# counters' (packets moved, a restart counted).
. "$(dirname "$0")/../lib.sh"

write_config
start_supervisor
URL=http://127.0.0.1:$T_PORT/metrics
ss -ltnH "sport = :$T_PORT" | grep -q "127.0.0.1:$T_PORT" || fail "/metrics not on 127.0.0.1:$T_PORT"
ss -ltnH "sport = :$T_PORT" | grep -qv "127.0.0.1:$T_PORT" && fail "/metrics listens beyond loopback"

ctl -s io-worker synth/start count=5000 backpressure=1 >/dev/null
done5k() { [ "$(ctl -s io-worker -j counters/show | jq .tx_packets)" -eq 5000 ]; }
wait_for 30 "5000 packets" done5k
pid=$(svc_field router pid)
kill -9 "$pid"
back() { [ "$(svc_field router state)" = ready ] && [ "$(svc_field router pid)" != "$pid" ]; }
wait_for 30 "router back" back

curl -sf "$URL" >"$T_DIR/metrics.txt" || fail "GET /metrics failed"
promtool check metrics <"$T_DIR/metrics.txt" || fail "promtool rejected /metrics"
grep -qx 'podlane_tx_packets_total{service="io-worker"} 5000' "$T_DIR/metrics.txt" || fail "io-worker tx not 5000"
grep -qx 'podlane_rx_packets_total{service="router"} 5000' "$T_DIR/metrics.txt" || fail "router rx not 5000"
grep -qx 'podlane_service_restarts_total{service="router"} 1' "$T_DIR/metrics.txt" || fail "router restart not counted"
[ "$(grep -c '^podlane_service_up{.*} 1$' "$T_DIR/metrics.txt")" -eq 7 ] || fail "not all 7 services up"
grep -q '^# TYPE podlane_pool_available_mbufs gauge$' "$T_DIR/metrics.txt" || fail "pool gauge missing"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$T_PORT/nope")
[ "$code" = 404 ] || fail "unknown path answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL")
[ "$code" = 405 ] || fail "POST answered $code"
log "PASS"
