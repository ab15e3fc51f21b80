/* SPDX-License-Identifier: Apache-2.0 */
/* The policy compiler and evaluator (services/policy/policy_table.c, policy_build.c) on objects
 * built in C: isolation per direction, union of policies, peers AND versus OR, namespace labels
 * (including the automatic name label), ipBlock with except, named ports resolved per
 * destination pod, endPort ranges, node and self traffic, tiers (Pass, Deny, Log, order), a
 * compile over a limit keeping the table in force, and hit counters carried over. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_memzone.h>

#include "pl_k8s.h"
#include "policy_table.h"

static struct pl_k8s_object objs[64];
static const struct pl_k8s_object *ptrs[64];
static size_t n_objs;
static struct pol_tables tt;

static struct pl_k8s_object *new_obj(enum pl_k8s_kind kind, const char *ns, const char *name)
{
	struct pl_k8s_object *o = &objs[n_objs];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	snprintf(o->ns, sizeof(o->ns), "%s", ns);
	snprintf(o->name, sizeof(o->name), "%s", name);
	ptrs[n_objs++] = o;
	return o;
}

static void label(struct pl_k8s_labels *l, const char *k, const char *v)
{
	snprintf(l->v[l->n].key, sizeof(l->v[0].key), "%s", k);
	snprintf(l->v[l->n].value, sizeof(l->v[0].value), "%s", v);
	l->n++;
}

/* Pod NS/NAME with labels pod=NAME, address 10.0.<ns index>.<pod index>. */
static void pod(const char *ns, const char *name, const char *ip, const char *node)
{
	struct pl_k8s_object *o = new_obj(PL_K8S_POD, ns, name);
	label(&o->pod.labels, "pod", name);
	snprintf(o->pod.node_name, sizeof(o->pod.node_name), "%s", node);
	o->pod.ips[0].family = AF_INET;
	inet_pton(AF_INET, ip, o->pod.ips[0].addr);
	o->pod.n_ips = 1;
	snprintf(o->pod.ports[0].name, sizeof(o->pod.ports[0].name), "web");
	o->pod.ports[0].port = strcmp(name, "b") == 0 ? 8080 : 80; /* "web" differs per pod */
	o->pod.ports[0].protocol = PL_K8S_TCP;
	o->pod.n_ports = 1;
}

static void ns(const char *name, const char *tier)
{
	struct pl_k8s_object *o = new_obj(PL_K8S_NAMESPACE, "", name);
	label(&o->nsobj.labels, "tier", tier);
}

static struct pl_k8s_np_rule *rules(size_t n)
{
	return calloc(n, sizeof(struct pl_k8s_np_rule));
}

static struct pl_k8s_peer *peers(size_t n)
{
	return calloc(n, sizeof(struct pl_k8s_peer));
}

static void sel(struct pl_k8s_selector *s, const char *k, const char *v)
{
	s->present = true;
	if (k)
		label(&s->match_labels, k, v);
}

static struct pl_k8s_object *netpol(const char *ns, const char *name, bool in, bool out)
{
	struct pl_k8s_object *o = new_obj(PL_K8S_NETWORK_POLICY, ns, name);
	o->np.pod_sel.present = true;
	o->np.ingress = in;
	o->np.egress = out;
	return o;
}

/* from_host: the flow's first packet came in on the host tap. */
static bool allowed_via(
	bool from_host, const char *src, const char *dst, uint8_t proto, uint16_t port)
{
	struct pol_flow f;
	struct pol_verdict v;
	memset(&f, 0, sizeof(f));
	f.from_host = from_host;
	f.src.family = f.dst.family = AF_INET;
	inet_pton(AF_INET, src, f.src.addr);
	inet_pton(AF_INET, dst, f.dst.addr);
	f.proto = proto;
	f.dport = port;
	pol_evaluate(pol_active(&tt), &f, &v);
	return v.allowed;
}

static bool allowed(const char *src, const char *dst, uint8_t proto, uint16_t port)
{
	return allowed_via(false, src, dst, proto, port);
}

static void build(void)
{
	struct pol_builder b;
	struct pol_addr node = { .family = AF_INET };
	inet_pton(AF_INET, "10.99.0.1", node.addr);
	assert_int_equal(pol_build(&b, &tt, ptrs, n_objs, "n1", &node, 1), 0);
	assert_int_equal(pol_build_commit(&b, 1), 0);
}

#define XA "10.0.1.1"
#define XB "10.0.1.2"
#define YA "10.0.2.1"
#define YB "10.0.2.2"
#define REMOTE "10.0.9.1"
#define NODE "10.99.0.1"
#define OUTSIDE "203.0.113.5"

static void free_objs(void)
{
	for (size_t i = 0; i < n_objs; i++) {
		if (objs[i].kind != PL_K8S_NETWORK_POLICY && objs[i].kind != PL_K8S_TIER_POLICY)
			continue;
		for (size_t k = 0; k < objs[i].np.n_ingress; k++)
			free(objs[i].np.ingress_rules[k].peers);
		for (size_t k = 0; k < objs[i].np.n_egress; k++)
			free(objs[i].np.egress_rules[k].peers);
		free(objs[i].np.ingress_rules);
		free(objs[i].np.egress_rules);
	}
	n_objs = 0;
}

static int setup(void **state)
{
	(void)state;
	const struct rte_memzone *mz = rte_memzone_lookup(POL_MZ_NAME);
	if (mz)
		rte_memzone_free(mz);
	bool reset;
	if (pol_table_open(&tt, 256, 256, &reset) != 0 || !reset)
		return -1;
	n_objs = 0;
	ns("x", "front");
	ns("y", "back");
	pod("x", "a", XA, "n1");
	pod("x", "b", XB, "n1");
	pod("y", "a", YA, "n1");
	pod("y", "b", YB, "n1");
	pod("y", "far", REMOTE, "n2");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free_objs();
	return 0;
}

static void test_isolation_and_union(void **state)
{
	(void)state;
	build();
	assert_true(allowed(YA, XA, 6, 80)); /* no policy: everything */
	/* deny-all ingress for x/a; then one policy allows y/a, another y/b on port 81 only. */
	netpol("x", "deny", true, false)->np.pod_sel.match_labels.n = 0;
	label(&objs[n_objs - 1].np.pod_sel.match_labels, "pod", "a");
	build();
	assert_false(allowed(YA, XA, 6, 80));
	assert_true(allowed(YA, XB, 6, 80)); /* x/b not selected */
	assert_true(allowed(XA, YA, 6, 80)); /* egress of x/a not isolated */
	assert_true(allowed_via(true, NODE, XA, 6, 80)); /* the node */
	/* A packet that claims the node's address without coming from the host gets no
	 * exemption. */
	assert_false(allowed(NODE, XA, 6, 80));
	assert_true(allowed(XA, XA, 6, 80)); /* itself */
	struct pl_k8s_object *p = netpol("x", "from-ya", true, false);
	label(&p->np.pod_sel.match_labels, "pod", "a");
	p->np.ingress_rules = rules(1);
	p->np.n_ingress = 1;
	p->np.ingress_rules[0].peers = peers(1);
	p->np.ingress_rules[0].n_peers = 1;
	sel(&p->np.ingress_rules[0].peers[0].ns_sel, "tier", "back");
	sel(&p->np.ingress_rules[0].peers[0].pod_sel, "pod", "a");
	p = netpol("x", "from-yb-81", true, false);
	label(&p->np.pod_sel.match_labels, "pod", "a");
	p->np.ingress_rules = rules(1);
	p->np.n_ingress = 1;
	p->np.ingress_rules[0].peers = peers(1);
	p->np.ingress_rules[0].n_peers = 1;
	sel(&p->np.ingress_rules[0].peers[0].ns_sel, "kubernetes.io/metadata.name", "y");
	sel(&p->np.ingress_rules[0].peers[0].pod_sel, "pod", "b");
	p->np.ingress_rules[0].n_ports = 1;
	p->np.ingress_rules[0].ports[0].has_port = true;
	p->np.ingress_rules[0].ports[0].port = 81;
	build();
	assert_true(allowed(YA, XA, 6, 80));
	assert_true(allowed(YA, XA, 17, 53)); /* any port, any protocol for y/a */
	assert_false(allowed(YB, XA, 6, 80));
	assert_true(allowed(YB, XA, 6, 81));
	assert_false(allowed(YB, XA, 17, 81)); /* port entries are TCP by default */
	assert_false(allowed(XB, XA, 6, 81)); /* podSelector+namespaceSelector: AND */
}

static void test_peers_or_ipblock_named_range(void **state)
{
	(void)state;
	/* x/a ingress: [{namespaceSelector tier=back}, {podSelector pod=b}] (OR) on named port
	 * "web"; x/b ingress from ipBlock 10.0.0.0/16 except 10.0.2.0/24 and 10.0.9.0/24 on
	 * 8000-8100. */
	struct pl_k8s_object *p = netpol("x", "or", true, false);
	label(&p->np.pod_sel.match_labels, "pod", "a");
	p->np.ingress_rules = rules(1);
	p->np.n_ingress = 1;
	struct pl_k8s_np_rule *r = &p->np.ingress_rules[0];
	r->peers = peers(2);
	r->n_peers = 2;
	sel(&r->peers[0].ns_sel, "tier", "back");
	sel(&r->peers[1].pod_sel, "pod", "b");
	r->n_ports = 1;
	r->ports[0].has_port = true;
	snprintf(r->ports[0].port_name, sizeof(r->ports[0].port_name), "web");
	p = netpol("x", "cidr", true, false);
	label(&p->np.pod_sel.match_labels, "pod", "b");
	p->np.ingress_rules = rules(1);
	p->np.n_ingress = 1;
	r = &p->np.ingress_rules[0];
	r->peers = peers(1);
	r->n_peers = 1;
	r->peers[0].has_ip_block = true;
	r->peers[0].cidr = (struct pl_k8s_cidr){ .family = AF_INET, .len = 16, .addr = { 10, 0 } };
	r->peers[0].except[0] =
		(struct pl_k8s_cidr){ .family = AF_INET, .len = 24, .addr = { 10, 0, 2 } };
	r->peers[0].except[1] =
		(struct pl_k8s_cidr){ .family = AF_INET, .len = 24, .addr = { 10, 0, 9 } };
	r->peers[0].n_except = 2;
	r->n_ports = 1;
	r->ports[0].has_port = true;
	r->ports[0].port = 8000;
	r->ports[0].end_port = 8100;
	build();
	assert_true(allowed(YA, XA, 6, 80)); /* namespace peer, x/a's "web" is 80 */
	assert_true(allowed(XB, XA, 6, 80)); /* pod peer */
	assert_true(allowed(REMOTE, XA, 6, 80)); /* a pod of another node, namespace y */
	assert_false(allowed(YA, XA, 6, 8080)); /* 8080 is b's "web", not a's */
	assert_false(allowed(OUTSIDE, XA, 6, 80));
	assert_true(allowed(XA, XB, 6, 8080)); /* 10.0.1.1 in the block */
	assert_true(allowed(XA, XB, 6, 8100));
	assert_false(allowed(XA, XB, 6, 8101));
	assert_false(allowed(YA, XB, 6, 8080)); /* excepted */
	assert_false(allowed(REMOTE, XB, 6, 8080)); /* excepted */
}

static void test_egress_and_remote_pods(void **state)
{
	(void)state;
	struct pl_k8s_object *p = netpol("y", "deny-out", false, true);
	p->np.pod_sel.present = true; /* {} */
	build();
	assert_false(allowed(YA, XA, 6, 80));
	assert_true(allowed(XA, YA, 6, 80)); /* ingress of y not isolated */
	assert_true(allowed(YA, NODE, 6, 10250));
	/* y/far is on another node: its egress is enforced there, not here. */
	assert_true(allowed(REMOTE, XA, 6, 80));
}

static struct pl_k8s_object *tier(const char *name, uint32_t t, int32_t order)
{
	struct pl_k8s_object *o = new_obj(PL_K8S_TIER_POLICY, "x", name);
	o->np.pod_sel.present = true;
	label(&o->np.pod_sel.match_labels, "pod", "a");
	o->np.ingress = true;
	o->np.tier = t;
	o->np.order = order;
	return o;
}

static void test_tiers(void **state)
{
	(void)state;
	/* t1: Pass from y, Deny from x/b, Log any. t2: Deny y/b, Allow x/b. K8s: from y. */
	struct pl_k8s_object *p = tier("t1", 1, 0);
	p->np.ingress_rules = rules(3);
	p->np.n_ingress = 3;
	p->np.ingress_rules[0].action = PL_K8S_PASS;
	p->np.ingress_rules[0].peers = peers(1);
	p->np.ingress_rules[0].n_peers = 1;
	sel(&p->np.ingress_rules[0].peers[0].ns_sel, "tier", "back");
	p->np.ingress_rules[1].action = PL_K8S_DENY;
	p->np.ingress_rules[1].peers = peers(1);
	p->np.ingress_rules[1].n_peers = 1;
	sel(&p->np.ingress_rules[1].peers[0].pod_sel, "pod", "b");
	p->np.ingress_rules[2].action = PL_K8S_LOG;
	p = tier("t2", 2, 5);
	p->np.ingress_rules = rules(2);
	p->np.n_ingress = 2;
	p->np.ingress_rules[0].action = PL_K8S_DENY;
	p->np.ingress_rules[0].peers = peers(1);
	p->np.ingress_rules[0].n_peers = 1;
	sel(&p->np.ingress_rules[0].peers[0].ns_sel, "tier", "back");
	sel(&p->np.ingress_rules[0].peers[0].pod_sel, "pod", "b");
	p->np.ingress_rules[1].action = PL_K8S_ALLOW;
	p->np.ingress_rules[1].peers = peers(1);
	p->np.ingress_rules[1].n_peers = 1;
	sel(&p->np.ingress_rules[1].peers[0].pod_sel, "pod", "b");
	p = netpol("x", "from-y", true, false);
	label(&p->np.pod_sel.match_labels, "pod", "a");
	p->np.ingress_rules = rules(1);
	p->np.n_ingress = 1;
	p->np.ingress_rules[0].peers = peers(1);
	p->np.ingress_rules[0].n_peers = 1;
	sel(&p->np.ingress_rules[0].peers[0].ns_sel, "tier", "back");
	build();
	assert_true(allowed(YA, XA, 6, 80)); /* Pass -> t2 no match -> K8s allows y */
	assert_false(allowed(YB, XA, 6, 80)); /* Pass -> t2 Deny */
	assert_false(allowed(XB, XA, 6, 80)); /* t1 Deny wins over t2 Allow */

	struct pol_flow f;
	struct pol_verdict v;
	memset(&f, 0, sizeof(f));
	f.src.family = f.dst.family = AF_INET;
	inet_pton(AF_INET, OUTSIDE, f.src.addr);
	inet_pton(AF_INET, XA, f.dst.addr);
	f.proto = 6;
	f.dport = 80;
	const struct pol_gen *g = pol_active(&tt);
	pol_evaluate(g, &f, &v);
	assert_false(v.allowed); /* logged in t1, no verdict in t2, K8s isolation denies */
	assert_int_equal(v.dir[POL_INGRESS].n_logged, 1);
	const struct pol_rule *logged = &g->rules[v.dir[POL_INGRESS].logged[0]];
	assert_string_equal(g->names[g->pols[logged->policy].name], "TierPolicy x/t1 ingress");
	assert_int_equal(logged->index, 2);
	assert_string_equal(g->names[g->pols[v.dir[POL_INGRESS].policy].name],
		"NetworkPolicy x/from-y ingress");
}

static void test_limits_keep_old_and_hits(void **state)
{
	(void)state;
	struct pl_k8s_object *p = netpol("x", "deny", true, false);
	label(&p->np.pod_sel.match_labels, "pod", "a");
	p->np.ingress_rules = rules(1);
	p->np.n_ingress = 1;
	p->np.ingress_rules[0].n_ports = 1;
	p->np.ingress_rules[0].ports[0].has_port = true;
	p->np.ingress_rules[0].ports[0].port = 443;
	build();
	const struct pol_gen *g = pol_active(&tt);
	g->hits[g->pols[0].rule_first] = 7;
	uint64_t serial = g->hdr->serial;
	/* The same policy again: its hit counter is carried over into the new build. */
	build();
	g = pol_active(&tt);
	assert_int_equal(g->hdr->serial, serial + 1);
	assert_int_equal(g->hits[g->pols[0].rule_first], 7);
	/* Over the rule limit: refused, the table in force stays. */
	p = netpol("x", "huge", true, false);
	p->np.ingress_rules = rules(300);
	p->np.n_ingress = 300;
	struct pol_builder b;
	struct pol_addr node = { .family = AF_INET };
	assert_int_equal(pol_build(&b, &tt, ptrs, n_objs, "n1", &node, 1), -ENOSPC);
	assert_int_equal(pol_build_commit(&b, 2), -ENOSPC);
	assert_non_null(strstr(b.msg, "more than 256 rules"));
	assert_int_equal(pol_active(&tt)->hdr->serial, serial + 1);
	assert_true(allowed(YA, XA, 6, 443));
	assert_false(allowed(YA, XA, 6, 80));
}

int main(void)
{
	/* DPDK's EAL takes hugepages: as root only. Not root: skipped (meson's 77); root and the
	 * EAL still fails (./podlane setup reserves hugepages): a failure. */
	if (geteuid() != 0) {
		fprintf(stderr,
			"test_policy: not root, DPDK's EAL cannot take hugepages: skipped\n");
		return 77;
	}
	char *argv[] = { "test_policy", "--in-memory", "--no-pci", "--no-telemetry",
		"--lcores=0@(0-1)", "-m", "64", "--log-level=lib.eal:warning", NULL };
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr,
			"test_policy: DPDK EAL init failed: %s (needs root and hugepages)\n",
			rte_strerror(rte_errno));
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_isolation_and_union, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peers_or_ipblock_named_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_egress_and_remote_pods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tiers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_keep_old_and_hits, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
