/* SPDX-License-Identifier: Apache-2.0 */
/* Single-process baseline for the pipeline benchmark (benchmarks/bench_pipeline.sh): the work
 * the four-process pipeline does, called one stage after another in one process on one core,
 * with no rings and no process boundaries — over the same tables:
 *   - the node's config file (podlane.yaml: table sizes, timeouts, node name, burst);
 *   - the Kubernetes objects the pipeline's datastore holds (the same YAML file, parsed by the
 *     real parser): nat-lb's service table built from its Services and EndpointSlices with
 *     natlb_build_k8s_service (what nat-lb's control side calls), the policy compiled from its
 *     NetworkPolicies, Namespaces and Pods by pol_build (what policy's control side calls);
 *   - the FIB: the routes the pipeline's router holds (its fib/show as JSON), added with
 *     router_fib_add (what router's control side calls);
 *   - nat-lb's real session table (pl_ct) and policy's verdict cache, emptied before each run
 *     as the script flushes the pipeline's sessions.
 * Each run: io-worker's synthetic source (ioworker_synth_fill, the same settings) and its
 * ingress parse (pl_parse), then
 * natlb_stage, policy_stage, router_stage, and io-worker's sink (count and free), timed with
 * rte_rdtsc around each; wall time from before the first allocation to after the last free,
 * as io-worker measures the pipeline's (synth first_tsc .. last_sink_tsc). The work is checked:
 * every packet DNATed, every flow's session created and evaluated, every packet routed and
 * sunk — or the program fails.
 *
 *   bench_pipeline_baseline --tsc-hz
 *   bench_pipeline_baseline --config=FILE --objects=FILE --routes=FILE --dst=IPV4 --dport=P
 *       [--packets=N] [--runs=R] [--flows=F] [--frame-size=B] [--mem=MB]
 * One JSON line per run on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "bench_opt.h"
#include "ioworker_synth.h"
#include "natlb.h"
#include "natlb_build.h"
#include "pl_config.h"
#include "pl_ct.h"
#include "pl_dp.h"
#include "pl_k8s.h"
#include "policy.h"
#include "router.h"
#include "pl_parse.h"
#include "router_stage.h"

#define MAX_BURST 256

struct opts {
	const char *config, *objects, *routes, *dst;
	uint64_t packets;
	uint32_t runs, flows, frame_size, dport, mem_mb;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_pipeline_baseline: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* nat-lb's table from the Services and their EndpointSlices, as nat-lb's build does. */
static void build_services(struct natlb *nl, const struct pl_k8s_list *ob, const char *node)
{
	struct natlb_builder b;
	natlb_build_begin(&b, &nl->tables);
	if (natlb_build_k8s_objects(&b, (const struct pl_k8s_object *const *)ob->v, ob->n, node))
		die("out of memory");
	int rc = natlb_build_commit(&b, pl_now_ms());
	if (rc != 0)
		die("service table: %s (%s)", strerror(-rc), b.msg);
}

static void build_policy(struct policy *pol, const struct pl_k8s_list *ob, const char *node)
{
	struct pol_builder b;
	int rc = pol_build(
		&b, &pol->tt, (const struct pl_k8s_object *const *)ob->v, ob->n, node, NULL, 0);
	if (rc == 0)
		rc = pol_build_commit(&b, pl_now_ms());
	if (rc != 0)
		die("policy: %s (%s)", strerror(-rc), b.msg);
}

/* The routes of the pipeline's router (fib/show -j), installed as its control side does. */
static uint32_t build_fib(struct router *r, const char *path)
{
	struct json_object *arr = json_object_from_file(path);
	if (!arr || !json_object_is_type(arr, json_type_array))
		die("%s: not a JSON array of routes", path);
	uint32_t n = 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		char prefix[64] = "";
		const char *kind = "";
		struct pl_adj a;
		memset(&a, 0, sizeof(a));
		if (json_object_object_get_ex(o, "prefix", &v))
			snprintf(prefix, sizeof(prefix), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "kind", &v))
			kind = json_object_get_string(v);
		if (json_object_object_get_ex(o, "tx_if", &v))
			a.tx_if = (uint16_t)json_object_get_int(v);
		if (json_object_object_get_ex(o, "mtu", &v))
			a.mtu = (uint32_t)json_object_get_int(v);
		for (unsigned int k = PL_ADJ_DROP; k <= PL_ADJ_VIA; k++)
			if (strcmp(kind, router_fib_kind_name(k)) == 0)
				a.kind = (uint8_t)k;
		char *slash = strchr(prefix, '/');
		uint8_t addr[16] = { 0 };
		int family = strchr(prefix, ':') ? AF_INET6 : AF_INET;
		if (!slash || a.kind == PL_ADJ_NONE)
			die("%s: route %zu: bad prefix '%s' or kind '%s'", path, i, prefix, kind);
		*slash = '\0';
		if (inet_pton(family, prefix, addr) != 1)
			die("%s: route %zu: bad address '%s'", path, i, prefix);
		a.family = (uint8_t)family;
		if (a.kind == PL_ADJ_VIA && json_object_object_get_ex(o, "nh", &v) &&
			inet_pton(family, json_object_get_string(v), a.nh) != 1)
			die("%s: route %zu: bad next hop", path, i);
		int rc = router_fib_add(&r->fib, family, addr, (uint8_t)atoi(slash + 1), &a);
		if (rc < 0)
			die("route %s/%s: %s", prefix, slash + 1, strerror(-rc));
		n++;
	}
	json_object_put(arr);
	return n;
}

static uint64_t num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || !*s)
		die("not a number: '%s'", s);
	return v;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.packets = 10000000, .runs = 1, .flows = 64, .frame_size = 64, .mem_mb = 256
	};
	bool hz_only = false;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (strcmp(argv[i], "--tsc-hz") == 0)
			hz_only = true;
		else if (bench_opt(argv[i], "--config", &v))
			o.config = v;
		else if (bench_opt(argv[i], "--objects", &v))
			o.objects = v;
		else if (bench_opt(argv[i], "--routes", &v))
			o.routes = v;
		else if (bench_opt(argv[i], "--dst", &v))
			o.dst = v;
		else if (bench_opt(argv[i], "--dport", &v))
			o.dport = (uint32_t)num(v);
		else if (bench_opt(argv[i], "--packets", &v))
			o.packets = num(v);
		else if (bench_opt(argv[i], "--runs", &v))
			o.runs = (uint32_t)num(v);
		else if (bench_opt(argv[i], "--flows", &v))
			o.flows = (uint32_t)num(v);
		else if (bench_opt(argv[i], "--frame-size", &v))
			o.frame_size = (uint32_t)num(v);
		else if (bench_opt(argv[i], "--mem", &v))
			o.mem_mb = (uint32_t)num(v);
		else
			die("unknown argument '%s'", argv[i]);
	}
	if (!hz_only && (!o.config || !o.objects || !o.routes || !o.dst || !o.dport))
		die("usage: %s --tsc-hz | --config=FILE --objects=FILE --routes=FILE --dst=IPV4 "
		    "--dport=P [--packets=N] [--runs=R] [--flows=F] [--frame-size=B] [--mem=MB]",
			argv[0]);
	if (o.flows == 0 || o.flows > 65535 || o.frame_size < 42 || o.frame_size > 1500 ||
		o.dport > 65535)
		die("flows 1..65535, frame size 42..1500, dport 1..65535");
	char mem[16];
	snprintf(mem, sizeof(mem), "%u", o.mem_mb);
	char *eal[] = { argv[0], "--in-memory", "--no-pci", "--no-telemetry", "--lcores=0@(0-1)",
		"--log-level=*:warning", "-m", mem, NULL };
	if (rte_eal_init(8, eal) < 0)
		die("EAL init failed: %s", rte_strerror(rte_errno));
	uint64_t hz = rte_get_tsc_hz();
	if (hz_only) {
		printf("{\"tsc_hz\":%" PRIu64 "}\n", hz);
		rte_eal_cleanup();
		return 0;
	}

	static struct pl_config cfg;
	char err[512] = "";
	if (pl_config_load(&cfg, o.config, err, sizeof(err)) != 0)
		die("%s: %s", o.config, err);
	unsigned int burst = cfg.pipeline.burst;
	if (burst == 0 || burst > MAX_BURST)
		die("pipeline.burst %u", burst);

	/* The metadata dynfield and a pool shaped as the primary makes them (pl_dp_create). */
	pl_dp_meta_register();
	struct rte_mempool *pool = rte_pktmbuf_pool_create_by_ops("bench_pool", cfg.dpdk.mbufs, 0,
		0, PL_DP_MBUF_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	if (pl_dp_meta_offset < 0 || !pool)
		die("pool: %s", rte_strerror(rte_errno));

	/* The objects, parsed as the datastore parses them. */
	struct pl_k8s_list ob = { 0 };
	if (pl_k8s_list_parse_file(&ob, o.objects, err, sizeof(err)) != 0)
		die("%s: %s", o.objects, err[0] ? err : "invalid documents");

	/* nat-lb: session table and service table, as natlb_ctl_init opens them. */
	static struct natlb nl;
	natlb_set_timeouts(&nl, &cfg);
	router_icmp_rl_init(&nl.reject_rl, cfg.router.icmp_rate * 10 + 100, hz);
	bool reset;
	int rc = pl_ct_open(&nl.ct, cfg.services.max_sessions);
	if (rc == 0)
		rc = natlb_table_open(
			&nl.tables, cfg.services.max_frontends, cfg.services.max_backends, &reset);
	if (rc != 0)
		die("nat-lb tables: %s", strerror(-rc));
	build_services(&nl, &ob, cfg.node_name);
	const struct natlb_gen *ng = natlb_active(&nl.tables);

	/* policy: compiled table and the verdict cache beside the session table. */
	static struct policy pol;
	rc = pol_table_open(&pol.tt, cfg.policy.max_endpoints, cfg.policy.max_rules, &reset);
	if (rc == 0)
		rc = policy_attach_sessions(&pol);
	if (rc != 0)
		die("policy tables: %s", strerror(-rc));
	build_policy(&pol, &ob, cfg.node_name);
	const struct pol_gen *pg = pol_active(&pol.tt);

	/* router: the FIB. */
	static struct router rt;
	rc = router_fib_open(&rt.fib, PL_FIB_MAX_ROUTES);
	if (rc != 0)
		die("FIB: %s", strerror(-rc));
	router_icmp_rl_init(&rt.icmp_rl, cfg.router.icmp_rate, hz);
	uint32_t routes = build_fib(&rt, o.routes);

	/* io-worker's synthetic source with the pipeline's settings. */
	struct in_addr dst;
	if (inet_pton(AF_INET, o.dst, &dst) != 1)
		die("--dst: not an IPv4 address");
	struct pl_dp_shared shared;
	memset(&shared, 0, sizeof(shared));
	shared.synth = (struct pl_synth_state){
		.active = 1,
		.flows = o.flows,
		.frame_size = o.frame_size,
		.dst_ip = rte_be_to_cpu_32(dst.s_addr),
		.dst_port = (uint16_t)o.dport,
		.route = 1,
	};
	struct ioworker_synth g;
	ioworker_synth_init(&g, &shared);
	uint64_t n = (o.packets + burst - 1) / burst * burst;
	uint64_t want_flows = n < o.flows ? n : o.flows;

	for (uint32_t r = 0; r < o.runs; r++) {
		/* Every run starts with no session (the script flushes the pipeline's). A later
		 * millisecond: a verdict cached for a slot is not taken for its new session. */
		pl_ct_flush(&nl.ct, NULL, NULL);
		rte_delay_ms(2);
		uint64_t cyc[4] = { 0 }, tx = 0, routed_tx = 0, dropped = 0;
		uint64_t cn[PL_NATLB_MAX] = { 0 }, cp[PL_POLICY_MAX] = { 0 },
			 cr[PL_ROUTER_MAX] = { 0 };
		struct rte_mbuf *pkts[MAX_BURST];
		uint64_t start = rte_rdtsc();
		for (uint64_t done = 0; done < n; done += burst) {
			uint64_t t0 = rte_rdtsc();
			if (rte_pktmbuf_alloc_bulk(pool, pkts, burst) < 0)
				die("pool empty");
			for (unsigned int i = 0; i < burst; i++)
				pl_meta(pkts[i])->owner = PL_SVC_IO_WORKER;
			ioworker_synth_fill(&g, pkts, burst, done);
			for (unsigned int i = 0; i < burst; i++) /* io-worker's ingress parse */
				if (pl_parse(pkts[i]) != PL_PARSE_OK)
					die("a synthetic packet failed the ingress parse");
			uint64_t t1 = rte_rdtsc();
			natlb_stage(&nl, pkts, burst, cn);
			uint64_t t2 = rte_rdtsc();
			policy_stage(&pol, pkts, burst, cp);
			uint64_t t3 = rte_rdtsc();
			router_stage(&rt, pkts, burst, cr);
			uint64_t t4 = rte_rdtsc();
			for (unsigned int i = 0; i < burst; i++) {
				const struct pl_pkt_meta *m = pl_meta(pkts[i]);
				if (m->verdict == PL_VERDICT_PASS) {
					tx++;
					routed_tx += m->tx_if != PL_IF_SYNTH;
				} else {
					dropped++;
				}
			}
			rte_pktmbuf_free_bulk(pkts, burst);
			uint64_t t5 = rte_rdtsc();
			cyc[0] += (t1 - t0) + (t5 - t4); /* io-worker: source + sink */
			cyc[1] += t2 - t1;
			cyc[2] += t3 - t2;
			cyc[3] += t4 - t3;
		}
		uint64_t wall = rte_rdtsc() - start;
		/* The work happened, or the measurement means nothing. */
		if (cn[PL_NATLB_NAT_FORWARD] != n || cn[PL_NATLB_SESSIONS_CREATED] != want_flows ||
			cp[PL_POLICY_FLOWS_ALLOWED] != want_flows || cp[PL_POLICY_PACKETS_DENIED] ||
			cr[PL_ROUTER_ROUTED] != n || tx != n || routed_tx != n)
			die("run %u: work not done: nat_forward %" PRIu64
			    " sessions_created %" PRIu64 " flows_allowed %" PRIu64
			    " packets_denied %" PRIu64 " routed %" PRIu64 " tx %" PRIu64
			    " (to an interface %" PRIu64 ") dropped %" PRIu64 "; want %" PRIu64
			    " packets, %" PRIu64 " flows",
				r, cn[PL_NATLB_NAT_FORWARD], cn[PL_NATLB_SESSIONS_CREATED],
				cp[PL_POLICY_FLOWS_ALLOWED], cp[PL_POLICY_PACKETS_DENIED],
				cr[PL_ROUTER_ROUTED], tx, routed_tx, dropped, n, want_flows);
		double secs = (double)wall / (double)hz, dn = (double)n;
		printf("{\"variant\":\"single_process\",\"run\":%u,\"packets\":%" PRIu64
		       ",\"burst\":%u,\"frame_size\":%u,\"flows\":%u,\"services\":%u,"
		       "\"frontends\":%u,\"endpoints\":%u,\"policies\":%u,\"rules\":%u,"
		       "\"routes\":%u,\"seconds\":%.4f,\"mpps\":%.3f,\"tsc_hz\":%" PRIu64
		       ",\"work\":{\"nat_forward\":%" PRIu64 ",\"sessions_created\":%" PRIu64
		       ",\"flows_allowed\":%" PRIu64 ",\"flows_denied\":%" PRIu64
		       ",\"routed\":%" PRIu64 ",\"tx\":%" PRIu64 "},"
		       "\"cycles_per_packet\":{\"io-worker\":%.1f,\"nat-lb\":%.1f,\"policy\":%.1f,"
		       "\"router\":%.1f,\"total\":%.1f,\"wall\":%.1f}}\n",
			r, n, burst, o.frame_size, o.flows, ng->hdr->n_services,
			ng->hdr->n_frontends, ng->hdr->n_backends, pg->hdr->n_policies,
			pg->hdr->n_rules, routes, secs, dn / secs / 1e6, hz,
			cn[PL_NATLB_NAT_FORWARD], cn[PL_NATLB_SESSIONS_CREATED],
			cp[PL_POLICY_FLOWS_ALLOWED], cp[PL_POLICY_FLOWS_DENIED],
			cr[PL_ROUTER_ROUTED], tx, (double)cyc[0] / dn, (double)cyc[1] / dn,
			(double)cyc[2] / dn, (double)cyc[3] / dn,
			(double)(cyc[0] + cyc[1] + cyc[2] + cyc[3]) / dn, (double)wall / dn);
		fflush(stdout);
	}
	pl_k8s_list_clear(&ob);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}
