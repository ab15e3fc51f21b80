#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Network-policy benchmark (JSON lines on stdout, logs on stderr), at 10, 1,000 and 10,000 rules
# (PODLANE_BENCH_SCALES). The rule sets come from benchmarks/bench_policy.c (its header says
# what they hold): 10 namespaces of 30 pods and N/5 ingress NetworkPolicies of 5 rules each
# (podSelector, namespaceSelector AND podSelector, ipBlock with except, matchExpressions with a
# named port, ipBlock OR selector with UDP and an endPort range), so that a pod is selected by
# about N/500 policies once N > 500.
#
# 1. In one process (bench_policy run): the real policy_stage() on bursts of 32 over a real
#    policy table, conntrack and verdict cache, cycles (rte_rdtsc) per packet for
#      pass_through     policy_stage(NULL, ...), the baseline in the same run;
#      established      packets of sessions whose verdict is cached;
#      new_flows        the first packet of fresh sessions: pol_evaluate, and the flow record
#                       built and published on the tap as the policy process does it while
#                       someone listens: a real ZeroMQ SUB subscriber (a thread of bench_policy)
#                       is attached to the XPUB tap, its subscription counted as the policy
#                       service counts it, and receives and checks every record; each run checks
#                       that every new flow was logged and reports records_received and
#                       records_dropped (at the tap's high-water mark, as the service drops);
#      new_flows_no_tap the same without the flow record (evaluation alone);
#    PODLANE_BENCH_RUNS (5) runs of each, interleaved; ns per packet from rte_get_tsc_hz();
#    "rule_set": how many rules a new flow walks (mean, median, p90, max) and the share allowed;
#    "build": pol_build + pol_build_commit of the whole set, once per run.
# 2. In the lab (as tests/policy: podlane on node 1 of a namespace lab, the nine pods x/a..z/c
#    with servers and their Pod objects, directory datastore), with policy.max_rules and
#    policy.max_endpoints at 32768 and dpdk.socket_mem_mb 256: a base policy isolates x/a
#    (ingress from x/b only); per scale the N-rule set's files (under 1 MB each) are applied
#    with podlanectl, then
#      lab_load    seconds from the first `podlanectl apply` until policy/show reports the set
#                  compiled (N + 1 rules, 318 pod addresses; polled with wait_for, each poll a
#                  podlanectl call); one per scale. control: handshake times of TCP connects
#                  y/a -> z/b:80 (a flow no policy touches) started every 10 ms meanwhile;
#                  rss_mb: resident memory of nat-lb and policy with the set loaded.
#      lab_change  PODLANE_BENCH_LAB_RUNS (= RUNS) times: one NetworkPolicy allowing y/a -> x/a
#                  TCP 80 is applied; one python process in pod y/a (monotonic clock) starts
#                  `podlanectl apply -f` and from the same instant a TCP connect to x/a:80
#                  every 2 ms (each given up after 0.5 s, before a SYN retransmit) and one to
#                  z/b:80 every 2 ms (the control). seconds: when the first successful connect
#                  to x/a completed (the change in force, within one round trip);
#                  first_ok_started_seconds: when that connect was started (earlier than the
#                  commit when its SYN waited in a ring while the policy process was busy
#                  compiling); apply_cmd_seconds: podlanectl's own run time;
#                  service_build_ms: the compile time policy/show reports; control: handshake
#                  times of the unaffected flow over the same window. The policy is deleted
#                  again and its removal waited for (policy/explain: deny) before the next run.
#    The set is deleted after each scale (and its removal waited for), so each scale loads
#    into a table holding only the base policy.
# Summary line per scale: medians over the runs (of the per-run mean, and of the per-run median
# burst), ratios to the pass-through baseline, cycles added per packet over it, and the lab's
# medians. Ends with the bench's wall time.
#   PODLANE_BENCH_SCALES ("10 1000 10000"), PODLANE_BENCH_RUNS (5), PODLANE_BENCH_LAB_RUNS,
#   PODLANE_BENCH_PACKETS (1048576 per run, established and pass-through),
#   PODLANE_BENCH_FLOWS (16384 sessions; new flows: 2 passes over them per run)
export PODLANE_DATASTORE=dir # the directory datastore (policy_lib's default)
. "$(dirname "$0")/../tests/policy/policy_lib.sh"

BENCH_T0=$(date +%s%N)
SCALES=${PODLANE_BENCH_SCALES:-10 1000 10000}
RUNS=${PODLANE_BENCH_RUNS:-5}
LAB_RUNS=${PODLANE_BENCH_LAB_RUNS:-$RUNS}
PACKETS=${PODLANE_BENCH_PACKETS:-1048576}
FLOWS=${PODLANE_BENCH_FLOWS:-16384}
LIMIT=32768
BP=$BUILD_DIR/benchmarks/bench_policy
OUT=$T_DIR/results.jsonl
[ -x "$BP" ] || fail "$BP not built (./podlane build)"
((RUNS >= 1 && LAB_RUNS >= 1)) || fail "PODLANE_BENCH_RUNS and _LAB_RUNS must be >= 1"

# ---------------------------------------------------------------------------------------------
# 1. In process.
log "in process: scales $SCALES, $RUNS runs, $PACKETS packets, $FLOWS flows"
"$BP" run --tap-dir="$T_DIR" --scales="$(tr ' ' , <<<"$SCALES")" --runs="$RUNS" \
	--packets="$PACKETS" --flows="$FLOWS" --max-rules=$LIMIT --max-endpoints=$LIMIT |
	tee -a "$OUT"

# ---------------------------------------------------------------------------------------------
# 2. In the lab.
log "lab $PODLANE_LAB: up, podlane on node 1 (policy limits $LIMIT), nine pods"
node_lab_up
svc_config "policy:
  max_rules: $LIMIT
  max_endpoints: $LIMIT"
# Two generations of the policy table at these limits (about 18 MB each) beside the packet
# pool, the session table and nat-lb's tables: more than the tests' 128 MB.
sed -i 's/^  socket_mem_mb: .*/  socket_mem_mb: 256/' "$T_CONF"
grep -q '^  socket_mem_mb: 256$' "$T_CONF" || fail "could not set dpdk.socket_mem_mb in $T_CONF"
start_node_podlane
policy_pods_up

XA=$(lab_pod_v4 1 "$(pod_k x/a)")
YA=$(lab_pod_v4 1 "$(pod_k y/a)")
REAL_ADDRS=18 # nine pods, two addresses each
BASE_RULES=1
apply_yaml base "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-base, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{podSelector: {matchLabels: {pod: b}}}]"
printf '%s\n' "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bench-change, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
    - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]
      ports: [{protocol: TCP, port: 80}]" >"$T_DIR/change.yaml"

verdict() { ctl -s policy -j policy/explain "$YA" "$XA" tcp 80 | jq -r .verdict; }
denied() { [ "$(verdict)" = deny ]; }
wait_for 30 "y/a -> x/a denied by the base policy" denied || fail "base policy not in force"

# "SERIAL BUILD_US RULES ADDRESSES" from policy/show's last line.
pol_summary() {
	ctl -s policy policy/show | tail -1 |
		sed -nE 's/^build ([0-9]+) in ([0-9]+) us: [0-9]+ policies, ([0-9]+) rules, ([0-9]+) pod addresses.*/\1 \2 \3 \4/p'
}
compiled() { # RULES ADDRESSES
	local s
	s=$(pol_summary)
	[ -n "$s" ] && set -- "$1" "$2" $s && [ "$5" = "$1" ] && [ "$6" = "$2" ]
}

# The prober (python, one process in pod y/a, monotonic clock), two modes:
#   change CTL_JSON FILE ADDR PORT CTRL_ADDR CTRL_PORT LIMIT_S
#       starts `podlanectl apply -f FILE` and from the same instant a TCP connect to ADDR:PORT
#       every 2 ms (each given up after 0.5 s, before a SYN retransmit) until one succeeds, plus
#       a connect to CTRL_ADDR:CTRL_PORT (a flow no policy touches) every 2 ms: the control.
#       seconds: when the first successful connect completed (the change in force, within one
#       round trip); first_ok_started_seconds: when that connect was started (earlier when
#       packets waited in a ring meanwhile); control: handshake times of the unaffected flow
#       over the same window (a stall of the policy stage shows here).
#   control ADDR PORT READY_FILE STOP_FILE LIMIT_S
#       the control alone, a connect every 10 ms (given up after 5 s), until STOP_FILE exists;
#       creates READY_FILE once a first connect succeeded.
cat >"$T_DIR/probe.py" <<'EOF'
import json, os, selectors, socket, subprocess, sys, time

sel = selectors.DefaultSelector()


def start(name, addr, port, now):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((addr, port))
    sel.register(s, selectors.EVENT_WRITE, (name, now))


def poll(timeout, give_up, done):
    """done(name, started, completed, ok) for each finished or abandoned connect."""
    for key, _ in sel.select(max(0.0, timeout)):
        s, (name, t) = key.fileobj, key.data
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        sel.unregister(s)
        s.close()
        done(name, t, time.monotonic(), err == 0)
    now = time.monotonic()
    for key in list(sel.get_map().values()):
        name, t = key.data
        if now - t > give_up[name]:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            done(name, t, None, False)


def stats(times_ms, failed):
    t = sorted(times_ms)
    q = lambda f: round(t[min(len(t) - 1, int(len(t) * f))], 2) if t else None
    return {"connects": len(t) + failed, "failed": failed, "p50_ms": q(0.5), "p99_ms": q(0.99),
            "max_ms": round(t[-1], 2) if t else None,
            "over_100ms": sum(1 for x in t if x > 100)}


def change(ctl, path, addr, port, caddr, cport, limit):
    EVERY, SETTLE = 0.002, 0.05
    give_up = {"flip": 0.5, "ctrl": 5.0}
    ctrl_ms, ctrl_failed, first = [], [0], {}
    attempts = 0

    def done(name, t, tc, ok):
        if name == "ctrl":
            if ok:
                ctrl_ms.append((tc - t) * 1e3)
            else:
                ctrl_failed[0] += 1
        elif ok and "done" not in first:
            first.update(done=tc, started=t)

    t0 = time.monotonic()
    proc = subprocess.Popen(ctl + ["apply", "-f", path], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    apply_s, nxt = None, t0
    while True:
        now = time.monotonic()
        if apply_s is None and proc.poll() is not None:
            apply_s = now - t0
            if proc.returncode != 0:
                sys.exit("podlanectl apply failed: %s" % proc.stderr.read().decode())
        if now - t0 > limit:
            sys.exit("no connect succeeded within %.0f s (%d attempts)" % (limit, attempts))
        if "done" in first and now - first["done"] >= SETTLE and apply_s is not None:
            break
        if now >= nxt:
            if "done" not in first:
                start("flip", addr, port, now)
                attempts += 1
            start("ctrl", caddr, cport, now)
            nxt = max(nxt + EVERY, now)
        poll(nxt - time.monotonic(), give_up, done)
    while sel.get_map():  # the control connects still open: finish or give up
        poll(0.01, give_up, done)
    proc.wait()
    return {"seconds": round(first["done"] - t0, 4),
            "first_ok_started_seconds": round(first["started"] - t0, 4),
            "apply_cmd_seconds": round(apply_s, 4), "attempts": attempts,
            "control": stats(ctrl_ms, ctrl_failed[0])}


def control(addr, port, ready, stop, limit):
    EVERY = 0.01
    give_up = {"ctrl": 5.0}
    ms, failed = [], [0]

    def done(name, t, tc, ok):
        if ok:
            if not ms:
                open(ready, "w").close()
            ms.append((tc - t) * 1e3)
        else:
            failed[0] += 1

    t0 = nxt = time.monotonic()
    while not os.path.exists(stop):
        now = time.monotonic()
        if now - t0 > limit:
            sys.exit("control prober: no stop file after %.0f s" % limit)
        if now >= nxt:
            start("ctrl", addr, port, now)
            nxt = max(nxt + EVERY, now)
        poll(nxt - time.monotonic(), give_up, done)
    while sel.get_map():
        poll(0.01, give_up, done)
    r = stats(ms, failed[0])
    r["seconds"] = round(time.monotonic() - t0, 3)
    return r


a = sys.argv[1:]
if a[0] == "change":
    r = change(json.loads(a[1]), a[2], a[3], int(a[4]), a[5], int(a[6]), float(a[7]))
else:
    r = control(a[1], int(a[2]), a[3], a[4], float(a[5]))
print(json.dumps(r))
EOF
probe() { in_pod "$(pod_k y/a)" python3 "$T_DIR/probe.py" "$@"; }
CTRL=$(lab_pod_v4 1 "$(pod_k z/b)") # no policy selects z/b, nor y/a's egress: never filtered

# policy/show's compile time. It is computed in policy_ctl.c rebuild() as
# (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000,
# which wraps when the nanoseconds went down across a second: undone here (to within 1 us).
build_ms() { # BUILD_US -> milliseconds
	local us=$1
	((us < 1000000000000)) || us=$((us - 18446744073709551))
	jq -n --argjson us "$us" '$us / 1000'
}

# Resident memory (MB, hugepages not included) of a service: both nat-lb and policy read the
# whole datastore.
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$(svc_field "$1" pid)/status"; }

for n in $SCALES; do
	set_dir=$T_DIR/set-$n
	info=$("$BP" yaml --rules="$n" --out="$set_dir" --node="$NODE_NAME") || fail "generate the $n-rule set"
	want_rules=$(($(jq .rules <<<"$info") + BASE_RULES))
	want_addrs=$(($(jq .pods <<<"$info") + REAL_ADDRS))
	log "$n rules: applying $(jq .files <<<"$info") files ($(jq .bytes <<<"$info") bytes)"
	stop=$T_DIR/stop-$n
	ip netns exec "$(lab_pod_ns 1 "$(pod_k y/a)")" python3 "$T_DIR/probe.py" control "$CTRL" 80 \
		"$T_DIR/ready-$n" "$stop" 600 >"$T_DIR/control-$n.json" &
	ctrl_pid=$!
	SERVER_PIDS+=("$ctrl_pid")
	wait_for 30 "control prober connecting" test -e "$T_DIR/ready-$n" || fail "control prober"
	t0=$(date +%s%N)
	for f in "$set_dir"/part-*.yaml; do
		in_node "$CTL" -c "$T_CONF" apply -f "$f" >/dev/null || fail "apply $f"
	done
	t1=$(date +%s%N)
	wait_for 300 "$n-rule set compiled" compiled "$want_rules" "$want_addrs" ||
		fail "the $n-rule set was not compiled: $(pol_summary)"
	t2=$(date +%s%N)
	touch "$stop"
	wait "$ctrl_pid" || fail "control prober during the load failed"
	read -r _ build_us _ _ <<<"$(pol_summary)"
	jq -cn --argjson n "$n" --argjson info "$info" --argjson a $((t1 - t0)) --argjson s $((t2 - t0)) \
		--argjson b "$(build_ms "$build_us")" --argjson c "$(cat "$T_DIR/control-$n.json")" \
		--argjson rn "$(rss_mb nat-lb)" --argjson rp "$(rss_mb policy)" \
		'{variant: "lab_load", rules: $n, files: $info.files, bytes: $info.bytes,
		objects: ($info.policies + $info.pods + $info.namespaces),
		apply_seconds: ($a / 1e9 * 1000 | round / 1000), seconds: ($s / 1e9 * 1000 | round / 1000),
		service_build_ms: $b, control: $c, rss_mb: {"nat-lb": $rn, policy: $rp}}' | tee -a "$OUT"
	denied || fail "y/a reaches x/a under the $n-rule set"

	for ((r = 0; r < LAB_RUNS; r++)); do
		rb0=$(counter policy table_rebuilds)
		res=$(probe change "$(jq -cn --arg c "$CTL" --arg f "$T_CONF" '[$c, "-c", $f]')" \
			"$T_DIR/change.yaml" "$XA" 80 "$CTRL" 80 60) || fail "the change did not come into force"
		wait_for 60 "the change compiled" compiled $((want_rules + 1)) "$want_addrs" ||
			fail "change not compiled: $(pol_summary)"
		read -r _ build_us _ _ <<<"$(pol_summary)"
		rb1=$(counter policy table_rebuilds)
		jq -c --argjson n "$n" --argjson r "$r" --argjson b "$(build_ms "$build_us")" \
			--argjson rb $((rb1 - rb0)) '{variant: "lab_change", rules: $n, run: $r} + . +
			{service_build_ms: $b, rebuilds: $rb}' <<<"$res" | tee -a "$OUT"
		in_node "$CTL" -c "$T_CONF" delete -f "$T_DIR/change.yaml" >/dev/null || fail "delete the change"
		wait_for 60 "the change removed" compiled "$want_rules" "$want_addrs" || fail "change not removed"
		wait_for 10 "y/a -> x/a denied again" denied || fail "y/a still allowed"
	done

	log "$n rules: deleting the set"
	for f in "$set_dir"/part-*.yaml; do
		in_node "$CTL" -c "$T_CONF" delete -f "$f" >/dev/null || fail "delete $f"
	done
	wait_for 120 "the $n-rule set removed" compiled $BASE_RULES $REAL_ADDRS ||
		fail "the $n-rule set was not removed: $(pol_summary)"
done

# ---------------------------------------------------------------------------------------------
# Summary per scale.
machine="$(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
for n in $SCALES; do
	jq -sc --argjson n "$n" --arg machine "$machine" '
		def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def r3: if . == null then null else . * 1000 | round / 1000 end;
		map(select(.rules == $n)) as $all |
		def runs($v): $all | map(select(.variant == $v));
		def med($v; f): [runs($v)[] | f] | median;
		(["pass_through", "established", "new_flows", "new_flows_no_tap"] |
			map({(.): med(.; .cycles_per_packet)}) | add) as $cyc |
		(["pass_through", "established", "new_flows", "new_flows_no_tap"] |
			map({(.): med(.; .ns_per_packet)}) | add) as $ns |
		(["pass_through", "established", "new_flows", "new_flows_no_tap"] |
			map({(.): med(.; .burst_median_cycles_per_packet)}) | add) as $bm |
		(runs("rule_set")[0]) as $set |
		{summary: "policy", rules: $n, machine: $machine, runs: (runs("established") | length),
		 cycles_per_packet_median: $cyc, ns_per_packet_median: $ns,
		 burst_median_cycles_per_packet_median: $bm,
		 ratio_to_pass_through: (["established", "new_flows", "new_flows_no_tap"] |
			map({(.): ($cyc[.] / $cyc.pass_through | . * 10 | round / 10)}) | add),
		 cycles_added_per_packet: (["established", "new_flows", "new_flows_no_tap"] |
			map({(.): ($cyc[.] - $cyc.pass_through | . * 100 | round / 100)}) | add),
		 new_flow_to_established: ($cyc.new_flows / $cyc.established | . * 10 | round / 10),
		 flow_records_per_run_median: {built: med("new_flows"; .flow_logs),
			received: med("new_flows"; .records_received),
			dropped: med("new_flows"; .records_dropped)},
		 rules_walked_per_new_flow: $set.rules_walked_per_new_flow,
		 allowed_fraction: $set.allowed_fraction, policies: $set.policies, pods: $set.pods,
		 in_process_build_and_commit_ms_median: (med("build"; .build_and_commit_ms) | r3),
		 lab: {load_seconds: (runs("lab_load")[0].seconds),
			change_seconds_median: (med("lab_change"; .seconds) | r3),
			change_seconds_min: ([runs("lab_change")[].seconds] | min),
			change_seconds_max: ([runs("lab_change")[].seconds] | max),
			first_ok_started_seconds_median: (med("lab_change"; .first_ok_started_seconds) | r3),
			apply_cmd_seconds_median: (med("lab_change"; .apply_cmd_seconds) | r3),
			service_build_ms_median: (med("lab_change"; .service_build_ms) | r3),
			unaffected_flow_max_connect_ms_during_change_median:
				(med("lab_change"; .control.max_ms) | r3),
			unaffected_flow_max_connect_ms_during_load: (runs("lab_load")[0].control.max_ms),
			runs: (runs("lab_change") | length)}}' "$OUT"
done
jq -cn --argjson s $((($(date +%s%N) - BENCH_T0) / 1000000)) '{bench: "policy", wall_seconds: ($s / 1000)}'
log "done"
