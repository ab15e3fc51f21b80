/* SPDX-License-Identifier: Apache-2.0 */
/* The policy benchmark's in-process half (benchmarks/bench_policy.sh runs it) and the generator
 * of its rule sets.
 *
 *   bench_policy yaml --rules=N --out=DIR [--node=n1]
 *       Writes the N-rule set as Kubernetes YAML into DIR/part-NNN.yaml, each file under 1 MB
 *       (what `podlanectl apply -f` takes), and prints one JSON line describing it.
 *   bench_policy run --tap-dir=DIR [--scales=10,1000,10000] [--runs=5] [--packets=1048576]
 *                    [--flows=16384] [--new-passes=2] [--max-rules=32768]
 *                    [--max-endpoints=32768] [--sessions=65536] [--mem=128]
 *       For each scale, in one process: the same YAML parsed by the real parser (pl_k8s) and
 *       compiled by the real compiler into a real policy table (pol_table_open); conntrack
 *       sessions made as nat-lb makes them (pl_ct_open, pl_ct_insert, pl_ct_publish); the
 *       verdict cache as policy_attach_sessions makes it; mbufs from a pool with the pl_dp
 *       metadata dynfield registered as the primary registers it; and the real policy_stage()
 *       called on bursts of 32. JSON lines on stdout (one per run and variant), see below.
 *
 * The rule set (the same in both modes): 10 namespaces ns-0..ns-9 (labels team, env), 30 pods
 * each (app-0..app-9, 3 replicas, role frontend for app-0..2 else backend, named ports http
 * 8080/TCP, metrics 9090/TCP, dns 53/UDP, IPs 10.1.<ns>.<1..30>), and ceil(N/5) ingress
 * NetworkPolicies of 5 rules each (the last may have fewer): policy i lives in ns-(i%10) and
 * selects app-((i/10)%10) there, so with more than 100 policies every pod is selected by
 * P/100 of them, in name order. Its rules, in order:
 *   0  from a podSelector (app label, same namespace)                     TCP 8080
 *   1  from namespaceSelector(team) AND podSelector(app)                  TCP 80, 443
 *   2  from an ipBlock 10.1.<ns>.0/24 except 10.1.<ns>.0/28               TCP 5432
 *   3  from a podSelector with matchExpressions (role In, app NotIn)      named port metrics
 *   4  from an ipBlock 192.168.x.0/24 OR namespaceSelector(name)+podSelector
 *                                                                         UDP 53, TCP 9000-9100
 * which peers each policy's rules allow varies with i. Flows: F sessions (TCP or UDP, random
 * source port) to pods that policies select (isolated for ingress), from random other pods
 * (90%) or from 192.168.0.0/16 (10%), to one of TCP 8080, 80, 443, 5432, 9090, 9050, 7000 or
 * UDP 53; every other flow is drawn again until the rules allow it (the traffic policies are
 * written for: decided by the first rule that matches), the others are kept as drawn (mostly
 * denied: every rule of every policy selecting the destination walked). The rules a new flow walks are counted from the table and the
 * verdict (the deciding rule's position in the destination's policy list).
 *
 * Variants, each over the same packet sequence, cycles measured with rte_rdtsc around every
 * policy_stage() call only (burst set-up and the mbuf alloc/free are outside); per run the
 * mean (cycles_per_packet, ns_per_packet) and the median burst divided by 32
 * (burst_median_cycles_per_packet: insensitive to a preemption inside a timed burst):
 *   pass_through      policy_stage(NULL, ...): the baseline (the call and the timer).
 *   established       packets of existing sessions whose verdict is cached for the build in
 *                     force (a pass over every flow first caches them, untimed); random order
 *                     over the F sessions.
 *   new_flows         fresh sessions: before each pass every session is deleted and inserted
 *                     again (same 5-tuple, a later creation time, as nat-lb does for a new
 *                     connection), so every packet is the first one policy sees of its session:
 *                     pol_evaluate, hit counters, the cache write, and the flow record built
 *                     (JSON) and published on the tap -- what the policy process does while
 *                     someone listens. The tap is a ZeroMQ XPUB socket bound as policy_ctl_init
 *                     binds it (ipc://DIR/policy.tap, send high-water mark 10,000), and a real
 *                     subscriber is attached to it: a thread of this process with a SUB socket
 *                     connected to that endpoint, subscribed to everything, receiving and
 *                     checking every record (a JSON object with a "verdict") while the packets
 *                     are timed (it shares the two CPUs with the timed loop, as a flow-log
 *                     reader on the node would). The subscription is counted from the XPUB
 *                     socket's subscription messages, as policy_ctl's tap_subscriptions() counts
 *                     it (p->subscribers: without one, policy_stage builds no record). Each run
 *                     checks that every evaluated flow was logged (flow_logs) and reports how
 *                     many records the subscriber received (records_received; the rest were
 *                     dropped at the high-water mark, as the service drops them), and fails if
 *                     it received none or a malformed one.
 *   new_flows_no_tap  the same without the tap (p->tap NULL): evaluation alone.
 * Per scale also: "build" lines (pol_build + pol_build_commit of the whole set, --runs times)
 * and one "rule_set" line (sizes, parse time, rules walked per new flow). */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memzone.h>
#include <zmq.h>

#include "bench_opt.h"
#include "pl_ct.h"
#include "pl_dp.h"
#include "pl_k8s.h"
#include "policy.h"
#include "policy_stage.h"
#include "policy_table.h"

#define BURST 32
#define N_NS 10
#define N_APPS 10
#define REPLICAS 3
#define PODS_PER_NS (N_APPS * REPLICAS)
#define N_PODS (N_NS * PODS_PER_NS)
#define RULES_PER_POLICY 5
#define CHUNK_MAX 900000 /* bytes of YAML per file / parse: under PL_K8S_MAX_FILE_SIZE */
#define N_MBUFS 2047

struct opts {
	const char *out, *node, *tap_dir;
	uint32_t rules;
	uint32_t scales[8], n_scales;
	uint32_t runs, flows, new_passes, max_rules, max_endpoints, sessions, mem_mb;
	uint64_t packets;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the rule set as YAML ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			abort();
		b->p = q;
		b->cap = cap;
	}
}

static void pod_ip(uint32_t ns, uint32_t k, uint8_t out[4])
{
	out[0] = 10;
	out[1] = 1;
	out[2] = (uint8_t)ns;
	out[3] = (uint8_t)(k + 1);
}

static void gen_namespace(struct buf *b, uint32_t n)
{
	buf_printf(b,
		"apiVersion: v1\nkind: Namespace\n"
		"metadata: {name: ns-%u, labels: {team: team-%u, env: %s}}\n",
		n, n % 5, n % 2 ? "dev" : "prod");
}

static void gen_pod(struct buf *b, uint32_t n, uint32_t k, const char *node)
{
	uint32_t app = k / REPLICAS;
	uint8_t ip[4];
	pod_ip(n, k, ip);
	buf_printf(b,
		"apiVersion: v1\nkind: Pod\n"
		"metadata: {name: app-%u-%u, namespace: ns-%u, labels: {app: app-%u, role: %s}}\n"
		"spec:\n  nodeName: %s\n  containers:\n    - name: c\n      image: busybox\n"
		"      ports:\n        - {name: http, containerPort: 8080}\n"
		"        - {name: metrics, containerPort: 9090}\n"
		"        - {name: dns, containerPort: 53, protocol: UDP}\n"
		"status:\n  podIP: %u.%u.%u.%u\n  podIPs: [{ip: %u.%u.%u.%u}]\n",
		app, k % REPLICAS, n, app, app < 3 ? "frontend" : "backend", node, ip[0], ip[1],
		ip[2], ip[3], ip[0], ip[1], ip[2], ip[3]);
}

static void gen_policy(struct buf *b, uint32_t i, uint32_t n_rules)
{
	uint32_t n = i % N_NS, a = (i / N_NS) % N_APPS, v = i / (N_NS * N_APPS);
	buf_printf(b,
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: np-%05u, namespace: ns-%u}\n"
		"spec:\n  podSelector: {matchLabels: {app: app-%u}}\n  policyTypes: [Ingress]\n"
		"  ingress:\n",
		i, n, a);
	for (uint32_t r = 0; r < n_rules; r++) {
		switch (r) {
		case 0:
			buf_printf(b,
				"    - from: [{podSelector: {matchLabels: {app: app-%u}}}]\n"
				"      ports: [{protocol: TCP, port: 8080}]\n",
				(a + 1 + v) % N_APPS);
			break;
		case 1:
			buf_printf(b,
				"    - from: [{namespaceSelector: {matchLabels: {team: team-%u}}, "
				"podSelector: {matchLabels: {app: app-%u}}}]\n"
				"      ports: [{protocol: TCP, port: 80}, {protocol: TCP, port: "
				"443}]\n",
				(n + v) % 5, (a + v) % N_APPS);
			break;
		case 2:
			buf_printf(b,
				"    - from: [{ipBlock: {cidr: 10.1.%u.0/24, except: "
				"[10.1.%u.0/28]}}]\n"
				"      ports: [{protocol: TCP, port: 5432}]\n",
				(n + v) % N_NS, (n + v) % N_NS);
			break;
		case 3:
			buf_printf(b,
				"    - from: [{podSelector: {matchExpressions: [{key: role, "
				"operator: In, "
				"values: [frontend]}, {key: app, operator: NotIn, values: "
				"[app-%u]}]}}]\n"
				"      ports: [{port: metrics}]\n",
				(a + v) % 3);
			break;
		default:
			buf_printf(b,
				"    - from: [{ipBlock: {cidr: 192.168.%u.0/24}}, "
				"{namespaceSelector: "
				"{matchLabels: {kubernetes.io/metadata.name: ns-%u}}, podSelector: "
				"{matchLabels: {app: app-%u}}}]\n"
				"      ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: "
				"9000, "
				"endPort: 9100}]\n",
				(i * 7) % 256, (n + 1 + v) % N_NS, (a + 2 + v) % N_APPS);
			break;
		}
	}
}

/* Calls emit(chunk) for every chunk of at most CHUNK_MAX bytes: namespaces and pods first. */
struct set_info {
	uint32_t policies, rules, pods, namespaces, chunks;
	size_t bytes;
};

typedef int emit_fn(const char *yaml, size_t len, uint32_t chunk, void *arg);

static int gen_set(uint32_t rules, const char *node, emit_fn *emit, void *arg, struct set_info *si)
{
	struct buf chunk = { 0 }, doc = { 0 };
	uint32_t policies = (rules + RULES_PER_POLICY - 1) / RULES_PER_POLICY;
	uint32_t total = N_NS + N_PODS + policies;
	int rc = 0;
	memset(si, 0, sizeof(*si));
	for (uint32_t d = 0; d < total && rc == 0; d++) {
		doc.len = 0;
		if (d < N_NS) {
			gen_namespace(&doc, d);
			si->namespaces++;
		} else if (d < N_NS + N_PODS) {
			uint32_t p = d - N_NS;
			gen_pod(&doc, p / PODS_PER_NS, p % PODS_PER_NS, node);
			si->pods++;
		} else {
			uint32_t i = d - N_NS - N_PODS;
			uint32_t nr = i + 1 < policies ? RULES_PER_POLICY
						       : rules - RULES_PER_POLICY * (policies - 1);
			gen_policy(&doc, i, nr);
			si->policies++;
			si->rules += nr;
		}
		if (chunk.len && chunk.len + doc.len + 4 > CHUNK_MAX) {
			rc = emit(chunk.p, chunk.len, si->chunks++, arg);
			chunk.len = 0;
		}
		if (chunk.len)
			buf_printf(&chunk, "---\n");
		buf_printf(&chunk, "%s", doc.p);
		si->bytes += doc.len;
	}
	if (rc == 0 && chunk.len)
		rc = emit(chunk.p, chunk.len, si->chunks++, arg);
	free(chunk.p);
	free(doc.p);
	return rc;
}

static int emit_file(const char *yaml, size_t len, uint32_t chunk, void *arg)
{
	const char *dir = arg;
	char path[4096];
	snprintf(path, sizeof(path), "%s/part-%03u.yaml", dir, chunk);
	FILE *f = fopen(path, "w");
	if (!f || fwrite(yaml, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "bench_policy: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct objs {
	struct pl_k8s_object **v;
	size_t n, cap;
	int bad;
};

static void on_doc(struct pl_k8s_doc *d, void *arg)
{
	struct objs *o = arg;
	if (!d->obj) {
		if (o->bad++ < 3)
			fprintf(stderr, "bench_policy: rejected document: %s\n", d->error);
		return;
	}
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 1024;
		o->v = realloc(o->v, o->cap * sizeof(*o->v));
		if (!o->v)
			abort();
	}
	o->v[o->n++] = d->obj;
	d->obj = NULL; /* kept */
}

static int emit_parse(const char *yaml, size_t len, uint32_t chunk, void *arg)
{
	char name[32], err[512] = "";
	snprintf(name, sizeof(name), "part-%03u.yaml", chunk);
	int rc = pl_k8s_parse_buffer(name, yaml, len, on_doc, arg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "bench_policy: %s: %d invalid: %s\n", name, rc, err);
		return -1;
	}
	return 0;
}

static int cmd_yaml(const struct opts *o)
{
	struct set_info si;
	mkdir(o->out, 0755);
	if (gen_set(o->rules, o->node, emit_file, (void *)o->out, &si) != 0)
		return 1;
	printf("{\"rules\":%u,\"policies\":%u,\"pods\":%u,\"namespaces\":%u,\"files\":%u,"
	       "\"bytes\":%zu}\n",
		si.rules, si.policies, si.pods, si.namespaces, si.chunks, si.bytes);
	return 0;
}

/* ---- in-process measurement ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

struct flow {
	struct pl_ct_key k0, k1;
	uint32_t idx; /* session slot */
};

static struct pl_ct ct; /* nat-lb's side: the writer */
static struct policy pol; /* policy's side */
static struct rte_mempool *pool;

static void session_add(struct flow *f, uint64_t now_ms)
{
	f->idx = pl_ct_insert(&ct, &f->k0, &f->k1, false, now_ms);
	if (f->idx == PL_CT_NIL) {
		fprintf(stderr, "bench_policy: conntrack full\n");
		exit(1);
	}
	struct pl_ct_session *s = &ct.s[f->idx];
	s->state = f->k0.proto == IPPROTO_TCP ? PL_CT_TCP_SYN : PL_CT_UDP;
	s->expires_ms = now_ms + 600000;
	s->packets = 1;
	pl_ct_publish(&ct, f->idx);
}

/* Cycles of every burst of the current measurement (their median resists preemption). */
static uint64_t *bursts;
static size_t n_bursts, cap_bursts;

/* Packets of flows order[0..n) (cycling), bursts of 32; cycles spent in policy_stage only. */
static uint64_t run_loop(struct policy *p, const struct flow *flows, const uint32_t *order,
	uint32_t n_order, uint64_t packets, uint64_t *counters)
{
	struct rte_mbuf *pkts[BURST];
	uint64_t cyc = 0, pos = 0;
	for (uint64_t done = 0; done < packets; done += BURST) {
		if (rte_pktmbuf_alloc_bulk(pool, pkts, BURST) < 0) {
			fprintf(stderr, "bench_policy: pool empty\n");
			exit(1);
		}
		for (int i = 0; i < BURST; i++) {
			struct pl_pkt_meta *m = pl_meta(pkts[i]);
			memset(m, 0, sizeof(*m));
			m->owner = PL_SVC_POLICY;
			m->session_id = flows[order[pos++ % n_order]].idx + 1;
		}
		uint64_t t0 = rte_rdtsc();
		policy_stage(p, pkts, BURST, counters);
		uint64_t t1 = rte_rdtsc();
		cyc += t1 - t0;
		if (n_bursts < cap_bursts)
			bursts[n_bursts++] = t1 - t0;
		rte_pktmbuf_free_bulk(pkts, BURST);
	}
	return cyc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_run(const char *variant, uint32_t rules, uint32_t run, uint64_t packets,
	uint64_t cyc, uint64_t hz, const uint64_t *c, const char *extra)
{
	double cpp = (double)cyc / (double)packets;
	qsort(bursts, n_bursts, sizeof(*bursts), cmp_u64);
	double med = n_bursts ? (double)bursts[n_bursts / 2] / BURST : 0;
	n_bursts = 0;
	printf("{\"variant\":\"%s\",\"rules\":%u,\"run\":%u,\"packets\":%" PRIu64
	       ",\"cycles_per_packet\":%.2f,\"ns_per_packet\":%.2f,"
	       "\"burst_median_cycles_per_packet\":%.2f,\"tsc_hz\":%" PRIu64
	       ",\"evaluated\":%" PRIu64 ",\"flows_denied\":%" PRIu64 ",\"packets_denied\":%" PRIu64
	       ",\"flow_logs\":%" PRIu64 "%s}\n",
		variant, rules, run, packets, cpp, cpp * 1e9 / (double)hz, med, hz,
		c[PL_POLICY_FLOWS_ALLOWED] + c[PL_POLICY_FLOWS_DENIED], c[PL_POLICY_FLOWS_DENIED],
		c[PL_POLICY_PACKETS_DENIED], c[PL_POLICY_FLOW_LOGS], extra ? extra : "");
	fflush(stdout);
}

/* Rules pol_evaluate checked in direction dir (no tier policies in this set). */
static uint32_t walked(
	const struct pol_gen *g, const struct pol_addr *a, int dir, const struct pol_decision *d)
{
	const struct pol_endpoint *ep = pol_endpoint_find(g, a);
	if (!ep || !ep->local || !ep->isolated[dir])
		return 0;
	uint32_t n = 0;
	for (uint32_t i = 0; i < ep->pol_count[dir]; i++) {
		const struct pol_policy *p = &g->pols[g->refs[ep->pol_first[dir] + i]];
		for (uint32_t k = 0; k < p->rule_count; k++) {
			n++;
			if (p->rule_first + k == d->rule)
				return n;
		}
	}
	return n;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_policy: check failed: %s\n", what);
		exit(1);
	}
}

/* ---- the flow-log subscriber: a SUB socket on the tap, in a thread of its own ---- */

static _Atomic uint64_t sub_received, sub_bad;
static atomic_bool sub_stop;

struct sub_arg {
	void *zctx;
	const char *ep;
	atomic_int state; /* 0 starting, 1 connected, -1 failed */
};

static void *sub_main(void *arg)
{
	struct sub_arg *a = arg;
	void *s = zmq_socket(a->zctx, ZMQ_SUB);
	int hwm = 0, tmo = 50; /* no receive limit: drops happen at the publisher only */
	if (!s || zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) < 0 ||
		zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo)) < 0 ||
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) < 0 || zmq_connect(s, a->ep) < 0) {
		fprintf(stderr, "bench_policy: subscriber: %s\n", zmq_strerror(zmq_errno()));
		atomic_store(&a->state, -1);
		if (s)
			zmq_close(s);
		return NULL;
	}
	atomic_store(&a->state, 1);
	static char msg[8192];
	while (!atomic_load(&sub_stop)) {
		int n = zmq_recv(s, msg, sizeof(msg) - 1, 0);
		if (n < 0)
			continue; /* timeout: look at the stop flag */
		msg[n < (int)sizeof(msg) - 1 ? n : (int)sizeof(msg) - 1] = 0;
		if (msg[0] != '{' || !strstr(msg, "\"verdict\":"))
			atomic_fetch_add(&sub_bad, 1);
		atomic_fetch_add(&sub_received, 1);
	}
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(s);
	return NULL;
}

/* Waits until the subscriber has all `sent` records since rx0, or nothing more arrived for
 * 200 ms (the rest was dropped at the high-water mark); deadline 30 s. The count. */
static uint64_t sub_drain(uint64_t rx0, uint64_t sent)
{
	double deadline = now_s() + 30, quiet = now_s() + 0.2;
	uint64_t last = atomic_load(&sub_received);
	while (last - rx0 < sent && now_s() < deadline && now_s() < quiet) {
		struct timespec ts = { .tv_nsec = 5000000 };
		nanosleep(&ts, NULL);
		uint64_t n = atomic_load(&sub_received);
		if (n != last) {
			last = n;
			quiet = now_s() + 0.2;
		}
	}
	return last;
}

/* Subscription messages on the XPUB tap, counted as policy_ctl's tap_subscriptions() does;
 * waits up to 10 s for the subscriber's. */
static int tap_wait_subscriber(void *tap)
{
	double deadline = now_s() + 10;
	uint8_t msg[256];
	while (pol.subscribers == 0 && now_s() < deadline) {
		zmq_pollitem_t it = { .socket = tap, .events = ZMQ_POLLIN };
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		int n;
		while ((n = zmq_recv(tap, msg, sizeof(msg), ZMQ_DONTWAIT)) > 0) {
			if (msg[0] == 1)
				pol.subscribers++;
			else if (msg[0] == 0 && pol.subscribers > 0)
				pol.subscribers--;
		}
	}
	return pol.subscribers > 0 ? 0 : -1;
}

static int one_scale(const struct opts *o, uint32_t rules, uint64_t hz, void *tap)
{
	/* Parse the rule set's YAML with the real parser, as the datastore does. */
	struct objs ob = { 0 };
	struct set_info si;
	double t0 = now_s();
	if (gen_set(rules, "n1", emit_parse, &ob, &si) != 0 || ob.bad)
		return -1;
	double parse_ms = (now_s() - t0) * 1e3;
	struct pol_addr node = { .family = AF_INET, .addr = { 10, 99, 0, 1 } };

	/* Build + commit of the whole set, runs times. */
	for (uint32_t r = 0; r < o->runs; r++) {
		struct pol_builder b;
		uint64_t c0 = rte_rdtsc();
		int rc = pol_build(&b, &pol.tt, (const struct pl_k8s_object *const *)ob.v, ob.n,
			"n1", &node, 1);
		uint64_t c1 = rte_rdtsc();
		if (rc == 0)
			rc = pol_build_commit(&b, (uint64_t)(now_s() * 1e3));
		uint64_t c2 = rte_rdtsc();
		if (rc != 0) {
			fprintf(stderr, "bench_policy: pol_build of %u rules: %s (%s)\n", rules,
				strerror(-rc), b.msg);
			return -1;
		}
		printf("{\"variant\":\"build\",\"rules\":%u,\"run\":%u,\"build_ms\":%.3f,"
		       "\"commit_us\":%.3f,\"build_and_commit_ms\":%.3f}\n",
			rules, r, (double)(c1 - c0) * 1e3 / (double)hz,
			(double)(c2 - c1) * 1e6 / (double)hz, (double)(c2 - c0) * 1e3 / (double)hz);
		fflush(stdout);
	}
	const struct pol_gen *g = pol_active(&pol.tt);
	check(g->hdr->n_rules == si.rules, "compiled rule count");

	/* Destinations: pods the policies select for ingress. */
	uint32_t dst[N_PODS], n_dst = 0;
	for (uint32_t p = 0; p < N_PODS; p++) {
		struct pol_addr a = { .family = AF_INET };
		pod_ip(p / PODS_PER_NS, p % PODS_PER_NS, a.addr);
		const struct pol_endpoint *ep = pol_endpoint_find(g, &a);
		check(ep != NULL, "pod endpoint compiled");
		if (ep->isolated[POL_INGRESS] && ep->pol_count[POL_INGRESS])
			dst[n_dst++] = p;
	}
	check(n_dst > 0, "some pod selected");

	/* Flows and their sessions. */
	static const struct {
		uint8_t proto;
		uint16_t port;
	} svc[] = { { IPPROTO_TCP, 8080 }, { IPPROTO_TCP, 80 }, { IPPROTO_TCP, 443 },
		{ IPPROTO_TCP, 5432 }, { IPPROTO_TCP, 9090 }, { IPPROTO_TCP, 9050 },
		{ IPPROTO_TCP, 7000 }, { IPPROTO_UDP, 53 } };
	uint32_t nf = o->flows;
	struct flow *flows = calloc(nf, sizeof(*flows));
	uint32_t *order = calloc(nf, sizeof(*order)), *walk = calloc(nf, sizeof(*walk));
	check(flows && order && walk, "memory");
	uint64_t walk_sum = 0, allowed = 0;
	uint64_t now_ms = (uint64_t)(now_s() * 1e3);
	for (uint32_t i = 0; i < nf; i++) {
		struct flow *f = &flows[i];
		uint32_t d = dst[rnd() % n_dst], k;
		uint8_t sip[4], dip[4];
		struct pol_flow pf;
		struct pol_verdict v;
		pod_ip(d / PODS_PER_NS, d % PODS_PER_NS, dip);
		/* Even flows: drawn until the rules allow one (traffic the policies are written
		 * for); odd flows: the first draw (mostly denied). */
		for (uint32_t tries = 0;; tries++) {
			if (rnd() % 10 == 0) {
				sip[0] = 192;
				sip[1] = 168;
				sip[2] = (uint8_t)rnd();
				sip[3] = (uint8_t)(1 + rnd() % 254);
			} else {
				uint32_t s;
				do
					s = rnd() % N_PODS;
				while (s == d);
				pod_ip(s / PODS_PER_NS, s % PODS_PER_NS, sip);
			}
			k = rnd() % RTE_DIM(svc);
			memset(&pf, 0, sizeof(pf));
			pf.src.family = pf.dst.family = AF_INET;
			memcpy(pf.src.addr, sip, 4);
			memcpy(pf.dst.addr, dip, 4);
			pf.proto = svc[k].proto;
			pf.dport = svc[k].port;
			pol_evaluate(g, &pf, &v);
			if (i % 2 || v.allowed || tries >= 100000)
				break;
		}
		memcpy(f->k0.src, sip, 4);
		memcpy(f->k0.dst, dip, 4);
		f->k0.sport = rte_cpu_to_be_16((uint16_t)(1024 + rnd() % 64000));
		f->k0.dport = rte_cpu_to_be_16(svc[k].port);
		f->k0.family = AF_INET;
		f->k0.proto = svc[k].proto;
		/* The reply key, as nat-lb's plain_flow() makes it. */
		memcpy(f->k1.src, dip, 4);
		memcpy(f->k1.dst, sip, 4);
		f->k1.sport = f->k0.dport;
		f->k1.dport = f->k0.sport;
		f->k1.family = AF_INET;
		f->k1.proto = f->k0.proto;
		session_add(f, now_ms);
		/* What a new flow costs the evaluator: rules checked. */
		walk[i] = walked(g, &pf.dst, POL_INGRESS, &v.dir[POL_INGRESS]) +
			  walked(g, &pf.src, POL_EGRESS, &v.dir[POL_EGRESS]);
		walk_sum += walk[i];
		allowed += v.allowed;
		order[i] = i;
	}
	for (uint32_t i = nf - 1; i > 0; i--) { /* random packet order */
		uint32_t j = rnd() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	qsort(walk, nf, sizeof(*walk), cmp_u32);
	printf("{\"variant\":\"rule_set\",\"rules\":%u,\"policies\":%u,\"pods\":%u,"
	       "\"namespaces\":%u,\"yaml_bytes\":%zu,\"parse_ms\":%.1f,\"compiled\":{\"rules\":%u,"
	       "\"policies\":%u,\"endpoints\":%u,\"set_entries\":%u,\"ports\":%u,\"cidrs\":%u,"
	       "\"policy_refs\":%u},\"limits\":{\"max_rules\":%u,\"max_endpoints\":%u},"
	       "\"flows\":%u,\"destination_pods\":%u,\"allowed_fraction\":%.3f,"
	       "\"rules_walked_per_new_flow\":{\"mean\":%.2f,\"median\":%u,\"p90\":%u,\"max\":%u}}"
	       "\n",
		rules, si.policies, si.pods, si.namespaces, si.bytes, parse_ms, g->hdr->n_rules,
		g->hdr->n_policies, g->hdr->n_endpoints, g->hdr->n_set_entries, g->hdr->n_ports,
		g->hdr->n_cidrs, g->hdr->n_refs, pol.tt.t->max_rules, pol.tt.t->max_endpoints, nf,
		n_dst, (double)allowed / nf, (double)walk_sum / nf, walk[nf / 2],
		walk[(uint32_t)(nf * 0.9)], walk[nf - 1]);
	fflush(stdout);

	uint64_t pkts_new = (uint64_t)nf * o->new_passes;
	for (uint32_t r = 0; r < o->runs; r++) {
		uint64_t c[PL_POLICY_MAX], cyc;
		/* Baseline: the same loop, pass-through. */
		memset(c, 0, sizeof(c));
		cyc = run_loop(NULL, flows, order, nf, o->packets, c);
		print_run("pass_through", rules, r, o->packets, cyc, hz, c, NULL);
		/* New flows, with and without the tap. */
		for (int with_tap = 1; with_tap >= 0; with_tap--) {
			pol.tap = with_tap ? tap : NULL;
			memset(c, 0, sizeof(c));
			cyc = 0;
			uint64_t rx0 = atomic_load(&sub_received);
			for (uint32_t pass = 0; pass < o->new_passes; pass++) {
				now_ms++;
				for (uint32_t i = 0; i < nf; i++)
					pl_ct_delete(&ct, flows[i].idx);
				for (uint32_t i = 0; i < nf; i++)
					session_add(&flows[i], now_ms);
				cyc += run_loop(&pol, flows, order, nf, nf, c);
			}
			check(c[PL_POLICY_FLOWS_ALLOWED] + c[PL_POLICY_FLOWS_DENIED] == pkts_new,
				"every new-flow packet evaluated");
			char extra[256] = "";
			if (with_tap) {
				check(c[PL_POLICY_FLOW_LOGS] == pkts_new,
					"a flow record built for every new flow");
				uint64_t rx = sub_drain(rx0, pkts_new) - rx0;
				check(rx > 0, "the subscriber received flow records");
				check(atomic_load(&sub_bad) == 0, "every record a JSON verdict");
				snprintf(extra, sizeof(extra),
					",\"subscribers\":%d,\"records_received\":%" PRIu64
					",\"records_dropped\":%" PRIu64,
					pol.subscribers, rx, pkts_new - rx);
			} else {
				check(c[PL_POLICY_FLOW_LOGS] == 0,
					"no flow record without the tap");
			}
			print_run(with_tap ? "new_flows" : "new_flows_no_tap", rules, r, pkts_new,
				cyc, hz, c, extra);
		}
		pol.tap = tap;
		/* Established: verdicts cached (one untimed pass), then the measured packets. */
		memset(c, 0, sizeof(c));
		run_loop(&pol, flows, order, nf, nf, c);
		n_bursts = 0; /* the caching pass is not measured */
		memset(c, 0, sizeof(c));
		cyc = run_loop(&pol, flows, order, nf, o->packets, c);
		check(c[PL_POLICY_FLOWS_ALLOWED] + c[PL_POLICY_FLOWS_DENIED] == 0,
			"established packets not evaluated");
		print_run("established", rules, r, o->packets, cyc, hz, c, NULL);
	}
	pl_ct_flush(&ct, NULL, NULL);
	for (size_t i = 0; i < ob.n; i++)
		pl_k8s_object_destroy(&ob.v[i]);
	free(ob.v);
	free(flows);
	free(order);
	free(walk);
	return 0;
}

static int cmd_run(const struct opts *o, const char *prog)
{
	char mem[16];
	snprintf(mem, sizeof(mem), "%u", o->mem_mb);
	char *eal[] = { (char *)prog, "--in-memory", "--no-pci", "--no-telemetry",
		"--lcores=0@(0-1)", "--log-level=*:warning", "-m", mem, NULL };
	if (rte_eal_init(8, eal) < 0) {
		fprintf(stderr, "bench_policy: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	/* The metadata dynfield, as the primary registers it (pl_dp_create). */
	pl_dp_meta_register();
	pool = rte_pktmbuf_pool_create_by_ops(
		"bench_pool", N_MBUFS, 0, 0, PL_DP_MBUF_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	if (pl_dp_meta_offset < 0 || !pool) {
		fprintf(stderr, "bench_policy: setup failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	/* nat-lb's conntrack, then policy's tables and verdict cache as the service opens them. */
	int rc = pl_ct_open(&ct, o->sessions);
	bool reset;
	if (rc == 0)
		rc = pol_table_open(&pol.tt, o->max_endpoints, o->max_rules, &reset);
	if (rc == 0)
		rc = policy_attach_sessions(&pol);
	if (rc != 0) {
		fprintf(stderr, "bench_policy: tables: %s\n", strerror(-rc));
		return 1;
	}
	if (ct.t->capacity < o->flows) {
		fprintf(stderr, "bench_policy: %u sessions do not hold %u flows\n", ct.t->capacity,
			o->flows);
		return 1;
	}
	/* The flow-log tap as policy_ctl_init binds it, and a subscriber on it. */
	void *zctx = zmq_ctx_new();
	void *tap = zctx ? zmq_socket(zctx, ZMQ_XPUB) : NULL;
	char ep[4200];
	snprintf(ep, sizeof(ep), "ipc://%s/policy.tap", o->tap_dir);
	int hwm = 10000;
	if (!tap || zmq_setsockopt(tap, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
		zmq_bind(tap, ep) < 0) {
		fprintf(stderr, "bench_policy: tap %s: %s\n", ep, zmq_strerror(zmq_errno()));
		return 1;
	}
	static struct sub_arg sa;
	sa.zctx = zctx;
	sa.ep = ep;
	pthread_t sub_thread;
	if (pthread_create(&sub_thread, NULL, sub_main, &sa) != 0) {
		fprintf(stderr, "bench_policy: subscriber thread: %s\n", strerror(errno));
		return 1;
	}
	if (tap_wait_subscriber(tap) != 0) {
		fprintf(stderr, "bench_policy: no subscription on %s within 10 s (subscriber %s)\n",
			ep, atomic_load(&sa.state) < 0 ? "failed" : "silent");
		return 1;
	}
	fprintf(stderr, "bench_policy: flow-log tap %s: %d subscriber\n", ep, pol.subscribers);
	uint64_t hz = rte_get_tsc_hz();
	cap_bursts = (size_t)(o->packets > (uint64_t)o->flows * o->new_passes
				      ? o->packets
				      : (uint64_t)o->flows * o->new_passes) /
		     BURST;
	bursts = calloc(cap_bursts, sizeof(*bursts));
	if (!bursts)
		return 1;
	fprintf(stderr,
		"bench_policy: tsc %.3f GHz; conntrack %u sessions; policy table %u rules, %u pod "
		"addresses\n",
		(double)hz / 1e9, ct.t->capacity, pol.tt.t->max_rules, pol.tt.t->max_endpoints);
	for (uint32_t s = 0; s < o->n_scales; s++) {
		fprintf(stderr, "bench_policy: %u rules\n", o->scales[s]);
		if (one_scale(o, o->scales[s], hz, tap) != 0)
			return 1;
	}
	atomic_store(&sub_stop, true);
	pthread_join(sub_thread, NULL);
	int linger = 0;
	zmq_setsockopt(tap, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(tap);
	zmq_ctx_term(zctx);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

static uint32_t u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || !*s || v > UINT32_MAX) {
		fprintf(stderr, "bench_policy: not a number: '%s'\n", s);
		exit(2);
	}
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	struct opts o = { .node = "n1",
		.tap_dir = "/tmp",
		.rules = 1000,
		.runs = 5,
		.flows = 16384,
		.new_passes = 2,
		.max_rules = 32768,
		.max_endpoints = 32768,
		.sessions = 65536,
		.mem_mb = 128,
		.packets = 1048576 };
	o.scales[0] = 10;
	o.scales[1] = 1000;
	o.scales[2] = 10000;
	o.n_scales = 3;
	if (argc < 2 || (strcmp(argv[1], "yaml") != 0 && strcmp(argv[1], "run") != 0)) {
		fprintf(stderr,
			"usage: %s yaml --rules=N --out=DIR [--node=NAME]\n"
			"       %s run --tap-dir=DIR [--scales=A,B,..] [--runs=R] "
			"[--packets=N] [--flows=F] [--new-passes=K] [--max-rules=N] "
			"[--max-endpoints=N] [--sessions=N] [--mem=MB]\n",
			argv[0], argv[0]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *v;
		if (bench_opt(argv[i], "--rules", &v))
			o.rules = u32(v);
		else if (bench_opt(argv[i], "--out", &v))
			o.out = v;
		else if (bench_opt(argv[i], "--node", &v))
			o.node = v;
		else if (bench_opt(argv[i], "--tap-dir", &v))
			o.tap_dir = v;
		else if (bench_opt(argv[i], "--runs", &v))
			o.runs = u32(v);
		else if (bench_opt(argv[i], "--packets", &v))
			o.packets = u32(v);
		else if (bench_opt(argv[i], "--flows", &v))
			o.flows = u32(v);
		else if (bench_opt(argv[i], "--new-passes", &v))
			o.new_passes = u32(v);
		else if (bench_opt(argv[i], "--max-rules", &v))
			o.max_rules = u32(v);
		else if (bench_opt(argv[i], "--max-endpoints", &v))
			o.max_endpoints = u32(v);
		else if (bench_opt(argv[i], "--sessions", &v))
			o.sessions = u32(v);
		else if (bench_opt(argv[i], "--mem", &v))
			o.mem_mb = u32(v);
		else if (bench_opt(argv[i], "--scales", &v)) {
			char tmp[256];
			snprintf(tmp, sizeof(tmp), "%s", v);
			o.n_scales = 0;
			for (char *save, *t = strtok_r(tmp, ",", &save); t && o.n_scales < 8;
				t = strtok_r(NULL, ",", &save))
				o.scales[o.n_scales++] = u32(t);
		} else {
			fprintf(stderr, "bench_policy: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (strcmp(argv[1], "yaml") == 0) {
		if (!o.out || !o.rules) {
			fprintf(stderr, "bench_policy yaml: --rules=N (N > 0) and --out=DIR\n");
			return 2;
		}
		return cmd_yaml(&o);
	}
	if (!o.runs || !o.flows || o.flows % BURST || !o.packets || o.packets % BURST ||
		!o.new_passes || !o.n_scales) {
		fprintf(stderr, "bench_policy run: runs, flows, packets, new-passes > 0; flows and "
				"packets multiples of 32\n");
		return 2;
	}
	for (uint32_t s = 0; s < o.n_scales; s++)
		if (!o.scales[s]) {
			fprintf(stderr, "bench_policy run: a scale of 0 rules\n");
			return 2;
		}
	return cmd_run(&o, argv[0]);
}
