#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The supervisor starts all seven services and `podlanectl status` shows them ready; 1,000,000
# synthetic packets travel the whole pipeline and the counters add up exactly: received =
# transmitted + dropped, and each drop reason matches the packets made to fail that way: bad
# IPv4 checksums at io-worker's ingress parse (no stage sees them), expired TTLs at router.
. "$(dirname "$0")/../lib.sh"

N=1000000
TTL1_EVERY=97
BAD_EVERY=101

write_config
start_supervisor
out=$(ctl status)
log "status:"$'\n'"$out"
[ "$(ctl -j services/show | jq '[.[] | select(.state == "ready")] | length')" -eq 7 ] ||
	fail "not all seven services ready"
for svc in io-worker nat-lb policy router cni-server bgp-bridge; do
	[ "$(svc_field "$svc" state)" = ready ] || fail "$svc not ready"
	pid=$(svc_field "$svc" pid)
	kill -0 "$pid" || fail "$svc pid $pid not running"
done

ctl -s io-worker synth/start count=$N backpressure=1 ttl1_every=$TTL1_EVERY \
	bad_csum_every=$BAD_EVERY >/dev/null
all_out() { [ "$(ctl -s io-worker -j counters/show | jq '.tx_packets + .drop_ttl_exceeded + .drop_malformed + .drop_ring_full + .drop_unsupported + .drop_reclaimed + .drop_none')" = "$N" ]; }
wait_for 120 "$N packets through the pipeline" all_out

c=$(ctl -s io-worker -j counters/show)
rx=$(jq .rx_packets <<<"$c")
tx=$(jq .tx_packets <<<"$c")
ttl=$(jq .drop_ttl_exceeded <<<"$c")
bad=$(jq .drop_malformed <<<"$c")
others=$(jq '.drop_ring_full + .drop_unsupported + .drop_reclaimed + .drop_none' <<<"$c")
exp_ttl=$((N / TTL1_EVERY))
exp_bad=$((N / BAD_EVERY - N / (TTL1_EVERY * BAD_EVERY)))
log "rx=$rx tx=$tx ttl_exceeded=$ttl malformed=$bad other_drops=$others"
# rx_packets counts what entered the pipeline: the bad checksums never did.
[ "$rx" -eq $((N - exp_bad)) ] || fail "received $rx into the pipeline, expected $((N - exp_bad))"
[ "$(jq .rx_bad_ipv4_csum <<<"$c")" -eq "$exp_bad" ] || fail "rx_bad_ipv4_csum $(jq .rx_bad_ipv4_csum <<<"$c"), expected $exp_bad"
[ "$ttl" -eq "$exp_ttl" ] || fail "ttl_exceeded $ttl, expected $exp_ttl"
[ "$bad" -eq "$exp_bad" ] || fail "malformed $bad, expected $exp_bad"
[ "$others" -eq 0 ] || fail "$others unexpected drops with a lossless source"
[ $((tx + ttl + bad)) -eq "$N" ] || fail "generated != transmitted + dropped"

# Every stage saw every packet that entered; router marked exactly the TTL drops.
for svc in nat-lb policy router; do
	[ "$(counter $svc rx_packets)" -eq "$rx" ] || fail "$svc rx_packets != $rx"
	[ "$(counter $svc tx_packets)" -eq "$rx" ] || fail "$svc tx_packets != $rx"
done
[ "$(counter router marked_drop)" -eq "$exp_ttl" ] || fail "router marked_drop"
[ "$(counter nat-lb marked_drop)" -eq 0 ] || fail "nat-lb marked drops"

# Nothing left in flight.
[ "$(ctl -j pool/show | jq '.available == .size')" = true ] || fail "pool not full after drain"
log "PASS"
