/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for pl_k8s: good Services, EndpointSlices, NetworkPolicies, TierPolicies, Namespaces
 * and Pods (defaults included), several documents per file with one bad among them, unknown
 * fields ignored, deep equality, and each kind of bad input, whose message must name FILE:LINE,
 * the object and the exact field path. */
#include "pl_k8s.h"

#include <arpa/inet.h>
#include <errno.h>
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

#define MAX_DOCS 16

struct result {
	struct pl_k8s_object *objs[MAX_DOCS];
	size_t n_objs;
	char errors[MAX_DOCS][768];
	size_t n_errors;
};

static void collect(struct pl_k8s_doc *doc, void *ctx)
{
	struct result *r = ctx;

	if (doc->obj) {
		assert_true(r->n_objs < MAX_DOCS);
		r->objs[r->n_objs++] = doc->obj;
		doc->obj = NULL;
	} else {
		assert_non_null(doc->error);
		assert_true(r->n_errors < MAX_DOCS);
		snprintf(r->errors[r->n_errors++], sizeof(r->errors[0]), "%s", doc->error);
	}
}

static void result_free(struct result *r)
{
	size_t i;

	for (i = 0; i < r->n_objs; i++)
		pl_k8s_object_destroy(&r->objs[i]);
	memset(r, 0, sizeof(*r));
}

static int parse(const char *text, struct result *r, char *err, size_t err_size)
{
	memset(r, 0, sizeof(*r));
	return pl_k8s_parse_buffer("t.yaml", text, strlen(text), collect, r, err, err_size);
}

static void assert_ip(const struct pl_k8s_ip *ip, const char *text)
{
	uint8_t want[16] = { 0 };
	int af = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(af, text, want), 1);
	assert_int_equal(ip->family, af);
	assert_memory_equal(ip->addr, want, af == AF_INET ? 4 : 16);
}

/* Parses text expecting exactly one invalid document whose message contains every needle. */
static void expect_bad(const char *text, const char *const *needles)
{
	struct result r;
	char err[768];
	size_t i;

	assert_int_equal(parse(text, &r, err, sizeof(err)), 1);
	assert_int_equal(r.n_objs, 0);
	assert_int_equal(r.n_errors, 1);
	assert_string_equal(err, r.errors[0]);
	for (i = 0; needles[i]; i++) {
		if (!strstr(err, needles[i]))
			fail_msg("'%s' not in: %s", needles[i], err);
	}
	result_free(&r);
}

static void test_service_cluster_ip(void **state)
{
	static const char text[] = "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata:\n"
				   "  name: web\n"
				   "  labels: {app: web}\n"
				   "spec:\n"
				   "  clusterIP: 10.96.0.10\n"
				   "  clusterIPs: [10.96.0.10, 'fd00::10']\n"
				   "  selector: {app: web}\n"
				   "  ports:\n"
				   "  - name: http\n"
				   "    port: 80\n"
				   "  - port: 53\n"
				   "    protocol: UDP\n"
				   "    targetPort: 5353\n";
	const struct pl_k8s_service *s;
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 1);
	assert_int_equal(r.objs[0]->kind, PL_K8S_SERVICE);
	assert_string_equal(r.objs[0]->ns, "default");
	assert_string_equal(r.objs[0]->name, "web");
	s = &r.objs[0]->svc;
	assert_int_equal(s->type, PL_K8S_CLUSTER_IP);
	assert_int_equal(s->n_cluster_ips, 2);
	assert_ip(&s->cluster_ips[0], "10.96.0.10");
	assert_ip(&s->cluster_ips[1], "fd00::10");
	assert_int_equal(s->n_ports, 2);
	assert_string_equal(s->ports[0].name, "http");
	assert_int_equal(s->ports[0].protocol, PL_K8S_TCP);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].target_port, 80);
	assert_int_equal(s->ports[1].protocol, PL_K8S_UDP);
	assert_int_equal(s->ports[1].target_port, 5353);
	assert_false(s->affinity_client_ip);
	assert_false(s->external_local);
	result_free(&r);
}

static void test_service_node_port_named_target(void **state)
{
	static const char text[] =
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: np, namespace: shop}\n"
		"spec:\n"
		"  type: NodePort\n"
		"  externalTrafficPolicy: Local\n"
		"  internalTrafficPolicy: Local\n"
		"  externalIPs: [192.0.2.7]\n"
		"  ports:\n"
		"  - {name: web, port: 8080, targetPort: http, nodePort: 30080}\n";
	const struct pl_k8s_service *s;
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 1);
	assert_string_equal(r.objs[0]->ns, "shop");
	s = &r.objs[0]->svc;
	assert_int_equal(s->type, PL_K8S_NODE_PORT);
	assert_true(s->external_local);
	assert_true(s->internal_local);
	assert_int_equal(s->n_external_ips, 1);
	assert_ip(&s->external_ips[0], "192.0.2.7");
	assert_int_equal(s->ports[0].port, 8080);
	assert_int_equal(s->ports[0].target_port, 0);
	assert_string_equal(s->ports[0].target_port_name, "http");
	assert_int_equal(s->ports[0].node_port, 30080);
	result_free(&r);
}

static void test_service_load_balancer_affinity(void **state)
{
	static const char text[] = "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata: {name: lb}\n"
				   "spec:\n"
				   "  type: LoadBalancer\n"
				   "  clusterIP: 10.96.1.1\n"
				   "  sessionAffinity: ClientIP\n"
				   "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}\n"
				   "  ports: [{port: 443, nodePort: 31443}]\n"
				   "status:\n"
				   "  loadBalancer:\n"
				   "    ingress:\n"
				   "    - ip: 203.0.113.9\n"
				   "    - hostname: lb.example.com\n";
	const struct pl_k8s_service *s;
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	s = &r.objs[0]->svc;
	assert_int_equal(s->type, PL_K8S_LOAD_BALANCER);
	assert_true(s->affinity_client_ip);
	assert_int_equal(s->affinity_timeout_s, 600);
	assert_int_equal(s->n_ingress_ips, 1);
	assert_ip(&s->ingress_ips[0], "203.0.113.9");
	assert_int_equal(s->ports[0].node_port, 31443);
	result_free(&r);
}

static void test_endpoint_slice(void **state)
{
	static const char text[] =
		"apiVersion: discovery.k8s.io/v1\n"
		"kind: EndpointSlice\n"
		"metadata:\n"
		"  name: web-abc12\n"
		"  namespace: shop\n"
		"  labels:\n"
		"    kubernetes.io/service-name: web\n"
		"addressType: IPv4\n"
		"endpoints:\n"
		"- addresses: [10.244.1.5]\n"
		"  nodeName: node-a\n"
		"- addresses: [10.244.2.6]\n"
		"  conditions: {ready: false, serving: true, terminating: true}\n"
		"  hints: {forZones: [{name: z1}]}\n"
		"ports:\n"
		"- {name: http, port: 8080, protocol: TCP}\n";
	const struct pl_k8s_eps *e;
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 1);
	assert_int_equal(r.objs[0]->kind, PL_K8S_ENDPOINT_SLICE);
	e = &r.objs[0]->eps;
	assert_string_equal(e->service_name, "web");
	assert_int_equal(e->family, AF_INET);
	assert_int_equal(e->n_endpoints, 2);
	assert_ip(&e->endpoints[0].addresses[0], "10.244.1.5");
	assert_true(e->endpoints[0].ready);
	assert_true(e->endpoints[0].serving);
	assert_false(e->endpoints[0].terminating);
	assert_string_equal(e->endpoints[0].node_name, "node-a");
	assert_false(e->endpoints[1].ready);
	assert_true(e->endpoints[1].serving);
	assert_true(e->endpoints[1].terminating);
	assert_int_equal(e->n_ports, 1);
	assert_string_equal(e->ports[0].name, "http");
	assert_int_equal(e->ports[0].port, 8080);
	result_free(&r);
}

static void test_multi_document_one_bad(void **state)
{
	static const char text[] = "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata: {name: a}\n"
				   "spec: {ports: [{port: 1}]}\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata: {name: b}\n"
				   "spec:\n"
				   "  ports: [{port: 70000}]\n"
				   "---\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata: {name: c}\n"
				   "spec: {ports: [{port: 3}]}\n";
	struct result r;
	char err[768];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 1);
	assert_int_equal(r.n_objs, 2);
	assert_string_equal(r.objs[0]->name, "a");
	assert_string_equal(r.objs[1]->name, "c");
	assert_int_equal(r.objs[1]->line, 13);
	assert_string_equal(err, "t.yaml:10: Service default/b: field 'spec.ports[0].port': "
				 "expected an integer 1..65535, got 70000");
	result_free(&r);
}

static void test_unknown_fields_ignored(void **state)
{
	static const char text[] =
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata:\n"
		"  name: x\n"
		"  annotations: {a: b}\n"
		"  uid: 1234\n"
		"frobnicate: [1, 2, {x: y}]\n"
		"spec:\n"
		"  ports: [{port: 80, appProtocol: http, whatever: {deep: [1]}}]\n"
		"  ipFamilyPolicy: PreferDualStack\n"
		"status: {conditions: []}\n";
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 1);
	assert_int_equal(r.objs[0]->svc.ports[0].port, 80);
	result_free(&r);
}

static void test_missing_ports(void **state)
{
	static const char *const n[] = { "t.yaml:4: Service default/x: field 'spec.ports'",
		"required", NULL };

	(void)state;
	expect_bad(
		"apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: 10.0.0.1}\n",
		n);
}

static void test_bad_ips(void **state)
{
	static const char *const svc[] = { "t.yaml:4: Service default/x: field 'spec.clusterIP'",
		"IPv4 or IPv6", "10.0.0.300", NULL };
	static const char *const eps[] = {
		"t.yaml:7: EndpointSlice default/e: field 'endpoints[0].addresses[0]'",
		"expected an IPv4 address", "fd00::1", NULL
	};

	(void)state;
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: {clusterIP: 10.0.0.300, ports: [{port: 80}]}\n",
		svc);
	expect_bad("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		   "metadata: {name: e, labels: {kubernetes.io/service-name: s}}\n"
		   "addressType: IPv4\n"
		   "endpoints:\n"
		   "- addresses:\n"
		   "  - fd00::1\n",
		eps);
}

static void test_port_out_of_range(void **state)
{
	static const char *const zero[] = {
		"t.yaml:5: Service default/x: field 'spec.ports[0].port'", "1..65535", NULL
	};
	static const char *const np[] = { "field 'spec.ports[0].nodePort'", "got 65536", NULL };

	(void)state;
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n"
		   "  ports: [{port: 0}]\n",
		zero);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n"
		   "  type: NodePort\n  ports: [{port: 1, nodePort: 65536}]\n",
		np);
}

static void test_wrong_types(void **state)
{
	static const char *const quoted[] = { "field 'spec.ports[0].port'", "the string '80'",
		NULL };
	static const char *const seq[] = { "t.yaml:4: Service default/x: field 'spec.ports'",
		"expected a sequence, got a mapping", NULL };
	static const char *const boolean[] = { "field 'endpoints[0].conditions.ready'",
		"true or false", NULL };
	static const char *const enumv[] = { "field 'spec.type'", "ClusterIP|NodePort|LoadBalancer",
		NULL };

	(void)state;
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: {ports: [{port: \"80\"}]}\n",
		quoted);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: {ports: {port: 80}}\n",
		seq);
	expect_bad("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
		   "metadata: {name: e, labels: {kubernetes.io/service-name: s}}\n"
		   "addressType: IPv4\n"
		   "endpoints: [{addresses: [10.0.0.1], conditions: {ready: maybe}}]\n",
		boolean);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: {type: ExternalName, ports: [{port: 80}]}\n",
		enumv);
}

static void test_duplicates(void **state)
{
	static const char *const key[] = {
		"t.yaml:5: field 'name': duplicate key (first on line 4)", NULL
	};
	static const char *const port[] = { "field 'spec.ports[1]': duplicate port 80/TCP", NULL };
	static const char *const pname[] = { "duplicate port name 'a'", NULL };

	(void)state;
	expect_bad("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  name: y\n"
		   "spec: {ports: [{port: 80}]}\n",
		key);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: {ports: [{port: 80}, {port: 80}]}\n",
		port);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: {ports: [{name: a, port: 80}, {name: a, port: 81}]}\n",
		pname);
}

static void test_identity_errors(void **state)
{
	static const char *const noname[] = { "t.yaml:3: field 'metadata.name': required", NULL };
	static const char *const badname[] = { "field 'metadata.name'", "lowercase", NULL };
	static const char *const kind[] = { "t.yaml:2: Ingress default/x: field 'kind'",
		"Service, EndpointSlice, NetworkPolicy, Namespace, Pod or TierPolicy", "Ingress",
		NULL };
	static const char *const label[] = {
		"EndpointSlice default/e: field 'metadata.labels[kubernetes.io/service-name]'",
		"required", NULL
	};
	static const char *const anchor[] = { "t.yaml:4:", "anchors", NULL };

	(void)state;
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {namespace: a}\n"
		   "spec: {ports: [{port: 80}]}\n",
		noname);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: ../etc}\n"
		   "spec: {ports: [{port: 80}]}\n",
		badname);
	expect_bad("apiVersion: v1\nkind: Ingress\nmetadata: {name: x}\n", kind);
	expect_bad("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\n"
		   "addressType: IPv4\n",
		label);
	expect_bad("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
		   "spec: &s {ports: [{port: 80}]}\n",
		anchor);
}

static void test_limits(void **state)
{
	static const char *const many[] = { "field 'spec.externalIPs'", "at most 16 items, got 17",
		NULL };
	char text[1024];
	size_t used;
	int i;

	(void)state;
	used = (size_t)snprintf(text, sizeof(text),
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: x}\n"
		"spec:\n  ports: [{port: 1}]\n  externalIPs:\n");
	for (i = 0; i < 17; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "  - 192.0.2.%d\n", i);
	expect_bad(text, many);
}

static void test_limit_endpoints(void **state)
{
	static const char *const many[] = { "t.yaml:6: EndpointSlice default/e: field 'endpoints'",
		"at most 1024 items, got 1025", NULL };
	static const char head[] = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
				   "metadata: {name: e, labels: {kubernetes.io/service-name: s}}\n"
				   "addressType: IPv4\nendpoints:\n";
	size_t size = 64 * 1024, used;
	struct result r;
	char err[256];
	char *text;
	int i;

	(void)state;
	text = malloc(size);
	assert_non_null(text);
	used = (size_t)snprintf(text, size, "%s", head);
	for (i = 0; i < 1024; i++)
		used += (size_t)snprintf(
			text + used, size - used, "- addresses: [10.0.%d.%d]\n", i / 256, i % 256);
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.objs[0]->eps.n_endpoints, 1024);
	result_free(&r);
	snprintf(text + used, size - used, "- addresses: [10.9.9.9]\n");
	expect_bad(text, many);
	free(text);
}

static void test_syntax_error_stops_file(void **state)
{
	static const char text[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				   "spec: {ports: [{port: 1}]}\n"
				   "---\n"
				   "apiVersion: v1\nkind: [Service\n";
	struct result r;
	char err[768];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 1);
	assert_int_equal(r.n_objs, 1);
	assert_non_null(strstr(err, "t.yaml:"));
	assert_non_null(strstr(err, "YAML syntax error"));
	result_free(&r);
}

/* A 10 MB document: refused whole before it is parsed, and a file too. */
static void test_too_large(void **state)
{
	size_t size = 10 * 1024 * 1024;
	char path[] = "/tmp/pl_k8s_test.XXXXXX";
	struct result r = { 0 };
	char err[256];
	char *big;
	FILE *f;
	int fd;

	(void)state;
	big = malloc(size);
	assert_non_null(big);
	memset(big, ' ', size);
	memcpy(big, "apiVersion: v1\nkind: Service\nmetadata: {name: big}\n", 51);
	assert_int_equal(
		pl_k8s_parse_buffer("big.yaml", big, size, collect, &r, err, sizeof(err)), -EFBIG);
	assert_int_equal(r.n_objs + r.n_errors, 0);
	assert_non_null(strstr(err, "big.yaml: 10485760 bytes, more than the 1048576 allowed"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, size, f), size);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(pl_k8s_parse_file(path, collect, &r, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, path));
	unlink(path);
	free(big);
}

static void test_equal(void **state)
{
	static const char text[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				   "spec: {ports: [{port: 1}]}\n"
				   "---\n"
				   "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				   "spec: {ports: [{port: 1}]}\n"
				   "---\n"
				   "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				   "spec: {ports: [{port: 2}]}\n";
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 3);
	assert_true(pl_k8s_object_equal(r.objs[0], r.objs[1]));
	assert_false(pl_k8s_object_equal(r.objs[0], r.objs[2]));
	result_free(&r);
}

/* ---- NetworkPolicy, TierPolicy, Namespace, Pod ---- */

static void assert_cidr(const struct pl_k8s_cidr *c, const char *addr, unsigned int len)
{
	uint8_t want[16] = { 0 };
	int af = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(af, addr, want), 1);
	assert_int_equal(c->family, af);
	assert_int_equal(c->len, len);
	assert_memory_equal(c->addr, want, 16);
}

static void test_network_policy_all_peers(void **state)
{
	static const char text[] =
		"apiVersion: networking.k8s.io/v1\n"
		"kind: NetworkPolicy\n"
		"metadata:\n"
		"  name: web-in\n"
		"  namespace: shop\n"
		"  annotations: {note: ignored}\n"
		"spec:\n"
		"  podSelector:\n"
		"    matchLabels: {tier: web, app.kubernetes.io/name: shop}\n"
		"    matchExpressions:\n"
		"    - {key: env, operator: In, values: [prod, staging]}\n"
		"    - {key: canary, operator: DoesNotExist}\n"
		"  ingress:\n"
		"  - action: Deny\n" /* not a NetworkPolicy field: ignored */
		"    from:\n"
		"    - podSelector: {matchLabels: {role: client}}\n"
		"    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ops}}\n"
		"    - podSelector: {}\n"
		"      namespaceSelector:\n"
		"        matchExpressions: [{key: team, operator: NotIn, values: [x]}]\n"
		"    - ipBlock:\n"
		"        cidr: 10.0.0.0/8\n"
		"        except: [10.1.0.0/16, 10.2.3.0/24]\n"
		"    - ipBlock: {cidr: 'fd00::/64'}\n"
		"    ports:\n"
		"    - port: 80\n"
		"    - {protocol: UDP, port: dns}\n"
		"    - {port: 8000, endPort: 8100}\n"
		"    - protocol: SCTP\n"
		"  - {}\n"
		"  egress:\n"
		"  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n";
	const struct pl_k8s_netpol *np;
	const struct pl_k8s_np_rule *r;
	const struct pl_k8s_peer *p;
	struct result r0;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r0, err, sizeof(err)), 0);
	assert_int_equal(r0.n_objs, 1);
	assert_int_equal(r0.objs[0]->kind, PL_K8S_NETWORK_POLICY);
	assert_string_equal(r0.objs[0]->ns, "shop");
	assert_string_equal(r0.objs[0]->name, "web-in");
	np = &r0.objs[0]->np;
	/* policyTypes absent with an egress section: both. */
	assert_true(np->ingress);
	assert_true(np->egress);
	assert_true(np->pod_sel.present);
	/* matchLabels sorted by key. */
	assert_int_equal(np->pod_sel.match_labels.n, 2);
	assert_string_equal(np->pod_sel.match_labels.v[0].key, "app.kubernetes.io/name");
	assert_string_equal(np->pod_sel.match_labels.v[0].value, "shop");
	assert_string_equal(np->pod_sel.match_labels.v[1].key, "tier");
	assert_int_equal(np->pod_sel.n_exprs, 2);
	assert_string_equal(np->pod_sel.exprs[0].key, "env");
	assert_int_equal(np->pod_sel.exprs[0].op, PL_K8S_OP_IN);
	assert_int_equal(np->pod_sel.exprs[0].n_values, 2);
	assert_string_equal(np->pod_sel.exprs[0].values[1], "staging");
	assert_int_equal(np->pod_sel.exprs[1].op, PL_K8S_OP_DOES_NOT_EXIST);
	assert_int_equal(np->pod_sel.exprs[1].n_values, 0);
	assert_false(np->ns_sel.present);

	assert_int_equal(np->n_ingress, 2);
	r = &np->ingress_rules[0];
	assert_int_equal(r->action, PL_K8S_ALLOW);
	assert_int_equal(r->n_peers, 5);
	p = &r->peers[0];
	assert_true(p->pod_sel.present);
	assert_false(p->ns_sel.present);
	assert_false(p->has_ip_block);
	assert_string_equal(p->pod_sel.match_labels.v[0].key, "role");
	p = &r->peers[1];
	assert_false(p->pod_sel.present);
	assert_true(p->ns_sel.present);
	assert_string_equal(p->ns_sel.match_labels.v[0].value, "ops");
	p = &r->peers[2];
	assert_true(p->pod_sel.present);
	assert_int_equal(p->pod_sel.match_labels.n + p->pod_sel.n_exprs, 0);
	assert_true(p->ns_sel.present);
	assert_int_equal(p->ns_sel.exprs[0].op, PL_K8S_OP_NOT_IN);
	p = &r->peers[3];
	assert_true(p->has_ip_block);
	assert_false(p->pod_sel.present || p->ns_sel.present);
	assert_cidr(&p->cidr, "10.0.0.0", 8);
	assert_int_equal(p->n_except, 2);
	assert_cidr(&p->except[0], "10.1.0.0", 16);
	assert_cidr(&p->except[1], "10.2.3.0", 24);
	assert_cidr(&r->peers[4].cidr, "fd00::", 64);

	assert_int_equal(r->n_ports, 4);
	assert_int_equal(r->ports[0].protocol, PL_K8S_TCP);
	assert_true(r->ports[0].has_port);
	assert_int_equal(r->ports[0].port, 80);
	assert_int_equal(r->ports[0].end_port, 0);
	assert_int_equal(r->ports[1].protocol, PL_K8S_UDP);
	assert_int_equal(r->ports[1].port, 0);
	assert_string_equal(r->ports[1].port_name, "dns");
	assert_int_equal(r->ports[2].port, 8000);
	assert_int_equal(r->ports[2].end_port, 8100);
	assert_int_equal(r->ports[3].protocol, PL_K8S_SCTP);
	assert_false(r->ports[3].has_port);

	/* {}: any peer, any port. */
	assert_int_equal(np->ingress_rules[1].n_peers, 0);
	assert_null(np->ingress_rules[1].peers);
	assert_int_equal(np->ingress_rules[1].n_ports, 0);

	assert_int_equal(np->n_egress, 1);
	assert_cidr(&np->egress_rules[0].peers[0].cidr, "0.0.0.0", 0);
	result_free(&r0);
}

static const struct pl_k8s_netpol *parse_np(const char *spec, struct result *r)
{
	char text[2048], err[768];

	snprintf(text, sizeof(text),
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		"spec:\n%s",
		spec);
	if (parse(text, r, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(r->n_objs, 1);
	return &r->objs[0]->np;
}

static void test_network_policy_types(void **state)
{
	const struct pl_k8s_netpol *np;
	struct result r;

	(void)state;
	/* Neither policyTypes nor egress: Ingress alone, and no rule allows anything. */
	np = parse_np("  podSelector: {}\n", &r);
	assert_true(np->ingress);
	assert_false(np->egress);
	assert_int_equal(np->n_ingress, 0);
	assert_true(np->pod_sel.present);
	result_free(&r);
	/* An empty egress list is no egress section. */
	np = parse_np("  podSelector: {}\n  egress: []\n", &r);
	assert_true(np->ingress);
	assert_false(np->egress);
	result_free(&r);
	/* policyTypes [Egress] alone: deny all egress, ingress untouched. */
	np = parse_np("  podSelector: {matchLabels: {a: b}}\n  policyTypes: [Egress]\n", &r);
	assert_false(np->ingress);
	assert_true(np->egress);
	assert_int_equal(np->n_egress, 0);
	result_free(&r);
	/* Rules of a direction not listed are dropped. */
	np = parse_np("  podSelector: {}\n  policyTypes: [Egress]\n"
		      "  ingress: [{from: [{podSelector: {}}]}]\n"
		      "  egress: [{}]\n",
		&r);
	assert_false(np->ingress);
	assert_int_equal(np->n_ingress, 0);
	assert_null(np->ingress_rules);
	assert_int_equal(np->n_egress, 1);
	result_free(&r);
	/* Both listed, ingress: [{}] allows everything. */
	np = parse_np("  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress: [{}]\n", &r);
	assert_true(np->ingress);
	assert_true(np->egress);
	assert_int_equal(np->n_ingress, 1);
	assert_int_equal(np->ingress_rules[0].n_peers + np->ingress_rules[0].n_ports, 0);
	assert_int_equal(np->n_egress, 0);
	result_free(&r);
}

static void test_tier_policy(void **state)
{
	static const char text[] = "apiVersion: policy.podlane.io/v1alpha1\n"
				   "kind: TierPolicy\n"
				   "metadata: {name: guard, namespace: ops}\n"
				   "spec:\n"
				   "  tier: 2\n"
				   "  order: -5\n"
				   "  podSelector: {}\n"
				   "  namespaceSelector: {matchLabels: {env: prod}}\n"
				   "  ingress:\n"
				   "  - {action: Log}\n"
				   "  - action: Deny\n"
				   "    from: [{ipBlock: {cidr: 192.0.2.0/24}}]\n"
				   "  - {action: Pass, ports: [{port: 22}]}\n"
				   "  - {}\n"
				   "  egress:\n"
				   "  - {action: Allow, to: [{namespaceSelector: {}}]}\n"
				   "---\n"
				   "apiVersion: policy.podlane.io/v1alpha1\n"
				   "kind: TierPolicy\n"
				   "metadata: {name: plain}\n"
				   "spec: {podSelector: {}}\n";
	const struct pl_k8s_netpol *np;
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 2);
	assert_int_equal(r.objs[0]->kind, PL_K8S_TIER_POLICY);
	np = &r.objs[0]->np;
	assert_int_equal(np->tier, 2);
	assert_int_equal(np->order, -5);
	assert_true(np->ns_sel.present);
	assert_string_equal(np->ns_sel.match_labels.v[0].key, "env");
	assert_true(np->ingress);
	assert_true(np->egress);
	assert_int_equal(np->n_ingress, 4);
	assert_int_equal(np->ingress_rules[0].action, PL_K8S_LOG);
	assert_int_equal(np->ingress_rules[1].action, PL_K8S_DENY);
	assert_int_equal(np->ingress_rules[1].n_peers, 1);
	assert_int_equal(np->ingress_rules[2].action, PL_K8S_PASS);
	assert_int_equal(np->ingress_rules[2].ports[0].port, 22);
	assert_int_equal(np->ingress_rules[3].action, PL_K8S_ALLOW);
	assert_int_equal(np->egress_rules[0].action, PL_K8S_ALLOW);
	/* Defaults. */
	np = &r.objs[1]->np;
	assert_string_equal(r.objs[1]->ns, "default");
	assert_int_equal(np->tier, 0);
	assert_int_equal(np->order, 0);
	assert_false(np->ns_sel.present);
	assert_true(np->ingress);
	assert_false(np->egress);
	result_free(&r);
}

static void test_namespace(void **state)
{
	static const char text[] = "apiVersion: v1\n"
				   "kind: Namespace\n"
				   "metadata:\n"
				   "  name: shop\n"
				   "  namespace: ignored\n"
				   "  labels: {team: a, env: prod}\n"
				   "status: {phase: Active}\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Namespace\n"
				   "metadata:\n"
				   "  name: ops\n"
				   "  labels: {kubernetes.io/metadata.name: other}\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Namespace\n"
				   "metadata: {name: bare}\n";
	const struct pl_k8s_labels *l;
	char key[PL_K8S_KEY_SIZE];
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 3);
	assert_int_equal(r.objs[0]->kind, PL_K8S_NAMESPACE);
	assert_string_equal(r.objs[0]->ns, "");
	assert_string_equal(r.objs[0]->name, "shop");
	pl_k8s_key(r.objs[0]->kind, r.objs[0]->ns, r.objs[0]->name, key, sizeof(key));
	assert_string_equal(key, "Namespace//shop");
	l = &r.objs[0]->nsobj.labels;
	assert_int_equal(l->n, 3);
	assert_string_equal(l->v[0].key, "env");
	assert_string_equal(l->v[1].key, "kubernetes.io/metadata.name");
	assert_string_equal(l->v[1].value, "shop");
	assert_string_equal(l->v[2].key, "team");
	/* The automatic label wins over a given one. */
	l = &r.objs[1]->nsobj.labels;
	assert_int_equal(l->n, 1);
	assert_string_equal(l->v[0].value, "ops");
	l = &r.objs[2]->nsobj.labels;
	assert_int_equal(l->n, 1);
	assert_string_equal(l->v[0].key, "kubernetes.io/metadata.name");
	assert_string_equal(l->v[0].value, "bare");
	result_free(&r);
}

static void test_namespace_errors(void **state)
{
	static const char *const label[] = {
		"t.yaml:3: Namespace shop: field 'metadata.labels[a b]'", "label name", NULL
	};
	static const char *const dotted[] = { "t.yaml:3: Namespace a.b: field 'metadata.name'",
		"at most 63", NULL };
	static const char *const full[] = { "Namespace n: field 'metadata.labels'",
		"at most 15 labels besides the automatic kubernetes.io/metadata.name, got 16",
		NULL };
	char text[1024];
	size_t used;
	int i;

	(void)state;
	expect_bad("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {a b: c}}\n",
		label);
	expect_bad("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n", dotted);
	used = (size_t)snprintf(text, sizeof(text),
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels:\n");
	for (i = 0; i < 16; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "    l%d: v\n", i);
	expect_bad(text, full);
}

static void test_pod_realistic(void **state)
{
	static const char text[] =
		"apiVersion: v1\n"
		"kind: Pod\n"
		"metadata:\n"
		"  annotations:\n"
		"    kubectl.kubernetes.io/restartedAt: \"2024-05-01T10:00:00Z\"\n"
		"  creationTimestamp: \"2024-05-01T10:00:01Z\"\n"
		"  generateName: web-7d4b9c-\n"
		"  labels:\n"
		"    app: web\n"
		"    pod-template-hash: 7d4b9c\n"
		"    app.kubernetes.io/version: \"1.25\"\n"
		"  name: web-7d4b9c-x2x9q\n"
		"  namespace: shop\n"
		"  ownerReferences:\n"
		"  - apiVersion: apps/v1\n"
		"    blockOwnerDeletion: true\n"
		"    controller: true\n"
		"    kind: ReplicaSet\n"
		"    name: web-7d4b9c\n"
		"    uid: 5b0f2f8e-0d5c-4c3e-9a55-1d9c9f0e2a11\n"
		"  resourceVersion: \"123456\"\n"
		"  uid: 8f0c9c1a-3e4b-4b7e-9d51-6f3a0e7b2c44\n"
		"spec:\n"
		"  containers:\n"
		"  - image: nginx:1.25\n"
		"    imagePullPolicy: IfNotPresent\n"
		"    name: nginx\n"
		"    ports:\n"
		"    - containerPort: 8080\n"
		"      name: http\n"
		"      protocol: TCP\n"
		"    - containerPort: 9090\n"
		"      protocol: TCP\n"
		"    - containerPort: 5353\n"
		"      name: dns\n"
		"      protocol: UDP\n"
		"    readinessProbe:\n"
		"      httpGet: {path: /healthz, port: http, scheme: HTTP}\n"
		"      periodSeconds: 10\n"
		"    resources:\n"
		"      limits: {cpu: 500m, memory: 128Mi}\n"
		"      requests: {cpu: 100m, memory: 64Mi}\n"
		"    securityContext: {runAsNonRoot: true, capabilities: {drop: [ALL]}}\n"
		"    terminationMessagePath: /dev/termination-log\n"
		"    volumeMounts:\n"
		"    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount\n"
		"      name: kube-api-access-abcde\n"
		"      readOnly: true\n"
		"  - name: sidecar\n"
		"    image: envoy:v1\n"
		"    args: [--config, /etc/envoy.yaml]\n"
		"    env:\n"
		"    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}\n"
		"    ports:\n"
		"    - {name: admin, containerPort: 15000}\n"
		"    - {name: http, containerPort: 15001}\n"
		"  dnsPolicy: ClusterFirst\n"
		"  enableServiceLinks: true\n"
		"  nodeName: node-a\n"
		"  preemptionPolicy: PreemptLowerPriority\n"
		"  priority: 0\n"
		"  restartPolicy: Always\n"
		"  schedulerName: default-scheduler\n"
		"  serviceAccountName: default\n"
		"  terminationGracePeriodSeconds: 30\n"
		"  tolerations:\n"
		"  - {effect: NoExecute, key: node.kubernetes.io/not-ready, operator: Exists, "
		"tolerationSeconds: 300}\n"
		"  volumes:\n"
		"  - name: kube-api-access-abcde\n"
		"    projected:\n"
		"      defaultMode: 420\n"
		"      sources:\n"
		"      - serviceAccountToken: {expirationSeconds: 3607, path: token}\n"
		"status:\n"
		"  conditions:\n"
		"  - {lastProbeTime: null, lastTransitionTime: \"2024-05-01T10:00:03Z\", status: "
		"\"True\", type: Ready}\n"
		"  containerStatuses:\n"
		"  - containerID: containerd://abc\n"
		"    image: docker.io/library/nginx:1.25\n"
		"    name: nginx\n"
		"    ready: true\n"
		"    restartCount: 0\n"
		"    started: true\n"
		"    state: {running: {startedAt: \"2024-05-01T10:00:02Z\"}}\n"
		"  hostIP: 192.168.1.10\n"
		"  hostIPs: [{ip: 192.168.1.10}]\n"
		"  phase: Running\n"
		"  podIP: 10.244.1.7\n"
		"  podIPs:\n"
		"  - ip: 10.244.1.7\n"
		"  - ip: fd00:10:244:1::7\n"
		"  qosClass: Burstable\n"
		"  startTime: \"2024-05-01T10:00:01Z\"\n";
	const struct pl_k8s_pod *p;
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 1);
	assert_int_equal(r.objs[0]->kind, PL_K8S_POD);
	assert_string_equal(r.objs[0]->ns, "shop");
	assert_string_equal(r.objs[0]->name, "web-7d4b9c-x2x9q");
	p = &r.objs[0]->pod;
	assert_int_equal(p->labels.n, 3);
	assert_string_equal(p->labels.v[0].key, "app");
	assert_string_equal(p->labels.v[1].key, "app.kubernetes.io/version");
	assert_string_equal(p->labels.v[1].value, "1.25");
	assert_string_equal(p->labels.v[2].value, "7d4b9c");
	assert_string_equal(p->node_name, "node-a");
	assert_int_equal(p->n_ips, 2);
	assert_ip(&p->ips[0], "10.244.1.7");
	assert_ip(&p->ips[1], "fd00:10:244:1::7");
	/* Named ports only, over both containers (a name may repeat across containers). */
	assert_int_equal(p->n_ports, 4);
	assert_string_equal(p->ports[0].name, "http");
	assert_int_equal(p->ports[0].port, 8080);
	assert_int_equal(p->ports[0].protocol, PL_K8S_TCP);
	assert_string_equal(p->ports[1].name, "dns");
	assert_int_equal(p->ports[1].protocol, PL_K8S_UDP);
	assert_string_equal(p->ports[2].name, "admin");
	assert_int_equal(p->ports[2].protocol, PL_K8S_TCP);
	assert_string_equal(p->ports[3].name, "http");
	assert_int_equal(p->ports[3].port, 15001);
	result_free(&r);
}

static void test_pod_minimal_and_pod_ip(void **state)
{
	static const char text[] = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
				   "---\n"
				   "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
				   "status: {podIP: 'fd00::5'}\n";
	struct result r;
	char err[256];

	(void)state;
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 2);
	assert_int_equal(r.objs[0]->pod.n_ips, 0);
	assert_int_equal(r.objs[0]->pod.labels.n, 0);
	assert_string_equal(r.objs[0]->pod.node_name, "");
	assert_int_equal(r.objs[1]->pod.n_ips, 1);
	assert_ip(&r.objs[1]->pod.ips[0], "fd00::5");
	result_free(&r);
}

static void test_pod_errors(void **state)
{
	static const char *const twice[] = { "t.yaml:5: Pod default/p: field 'status.podIPs[1].ip'",
		"one address per family, got a second IPv4 one", NULL };
	static const char *const podip[] = { "field 'status.podIP'",
		"one address per family, got a second IPv4 one", NULL };
	static const char *const many[] = { "field 'status.podIPs'", "at most 2 items, got 3",
		NULL };
	static const char *const pname[] = { "field 'spec.containers[1].ports[0].name'",
		"expected a port name", "'HTTP'", NULL };
	static const char *const dup[] = { "field 'spec.containers[0].ports[1]'",
		"duplicate port name 'web'", NULL };
	static const char *const cport[] = { "field 'spec.containers[0].ports[0].containerPort'",
		"1..65535", NULL };
	static const char *const proto[] = { "field 'spec.containers[0].ports[0].protocol'",
		"expected TCP|UDP|SCTP, got 'ICMP'", NULL };

	(void)state;
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus:\n"
		   "  podIPs: [{ip: 10.0.0.1}, {ip: 10.0.0.2}]\n",
		twice);
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
		   "status: {podIP: 10.0.0.2, podIPs: [{ip: 10.0.0.1}]}\n",
		podip);
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
		   "status: {podIPs: [{ip: 10.0.0.1}, {ip: 'fd00::1'}, {ip: 10.0.0.2}]}\n",
		many);
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
		   "  - {name: a}\n"
		   "  - {name: b, ports: [{name: HTTP, containerPort: 80}]}\n",
		pname);
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
		   "  - name: a\n    ports:\n"
		   "    - {name: web, containerPort: 80}\n"
		   "    - {name: web, containerPort: 81}\n",
		dup);
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
		   "  - {name: a, ports: [{name: web, containerPort: 0}]}\n",
		cport);
	expect_bad("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
		   "  - {name: a, ports: [{name: web, containerPort: 80, protocol: ICMP}]}\n",
		proto);
}

/* A NetworkPolicy in namespace shop with this spec must be rejected with every needle. */
static void expect_bad_np(const char *spec, const char *const *needles)
{
	char text[4096];

	snprintf(text, sizeof(text),
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: p, namespace: shop}\nspec:\n%s",
		spec);
	expect_bad(text, needles);
}

static void test_network_policy_peer_errors(void **state)
{
	static const char *const combined[] = {
		"t.yaml:9: NetworkPolicy shop/p: field 'spec.ingress[0].from[1].ipBlock'",
		"must be alone in its peer, got it with podSelector", NULL
	};
	static const char *const combined_ns[] = { "field 'spec.egress[0].to[0].ipBlock'",
		"got it with namespaceSelector", NULL };
	static const char *const outside[] = { "t.yaml:10: NetworkPolicy shop/p: field "
					       "'spec.ingress[0].from[0].ipBlock.except[1]'",
		"strictly inside the cidr 10.0.0.0/8", "'11.0.0.0/16'", NULL };
	static const char *const same[] = { "field 'spec.ingress[0].from[0].ipBlock.except[0]'",
		"strictly inside", "'10.0.0.0/8'", NULL };
	static const char *const family[] = { "field 'spec.ingress[0].from[0].ipBlock.except[0]'",
		"expected an IPv4 CIDR", "'fd00::/64'", NULL };
	static const char *const host[] = { "field 'spec.ingress[0].from[0].ipBlock.cidr'",
		"host bits set, expected 10.1.0.0/16, got '10.1.2.3/16'", NULL };
	static const char *const badcidr[] = { "field 'spec.ingress[0].from[0].ipBlock.cidr'",
		"expected an IPv4 or IPv6 CIDR", "'10.0.0.0'", NULL };
	static const char *const nocidr[] = { "field 'spec.ingress[0].from[0].ipBlock.cidr'",
		"required", NULL };
	static const char *const empty[] = { "field 'spec.ingress[0].from[0]'",
		"expected podSelector, namespaceSelector or ipBlock", NULL };

	(void)state;
	expect_bad_np("  podSelector: {}\n  ingress:\n  - from:\n"
		      "    - podSelector: {}\n"
		      "    - {podSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}\n",
		combined);
	expect_bad_np("  podSelector: {}\n  egress:\n"
		      "  - to: [{namespaceSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}]\n",
		combined_ns);
	expect_bad_np("  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock:\n"
		      "        cidr: 10.0.0.0/8\n"
		      "        except: [10.1.0.0/16, 11.0.0.0/16]\n",
		outside);
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]\n",
		same);
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: ['fd00::/64']}}]\n",
		family);
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - from: [{ipBlock: {cidr: 10.1.2.3/16}}]\n",
		host);
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - from: [{ipBlock: {cidr: 10.0.0.0}}]\n",
		badcidr);
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - from: [{ipBlock: {except: [10.0.0.0/9]}}]\n",
		nocidr);
	expect_bad_np("  podSelector: {}\n  ingress:\n  - from: [{}]\n", empty);
}

static void test_network_policy_port_errors(void **state)
{
	static const char *const below[] = {
		"t.yaml:7: NetworkPolicy shop/p: field 'spec.ingress[0].ports[0].endPort'",
		"expected an integer 8000..65535 (not below port), got 7999", NULL
	};
	static const char *const named[] = { "field 'spec.ingress[0].ports[1].endPort'",
		"needs a numeric port, got a named one", NULL };
	static const char *const noport[] = { "field 'spec.egress[0].ports[0].endPort'",
		"needs a numeric port, got none", NULL };
	static const char *const proto[] = { "field 'spec.ingress[0].ports[0].protocol'",
		"expected TCP|UDP|SCTP, got 'ICMP'", NULL };
	static const char *const pname[] = { "field 'spec.ingress[0].ports[0].port'",
		"expected an integer 1..65535 or a port name", "'no_underscores'", NULL };
	static const char *const digits[] = { "field 'spec.ingress[0].ports[0].port'", "port name",
		"'80'", NULL };
	static const char *const range[] = { "field 'spec.ingress[0].ports[0].port'",
		"expected an integer 1..65535, got 0", NULL };

	(void)state;
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - ports: [{port: 8000, endPort: 7999}]\n",
		below);
	expect_bad_np("  podSelector: {}\n  ingress:\n"
		      "  - ports: [{port: 1, endPort: 1}, {port: http, endPort: 90}]\n",
		named);
	expect_bad_np("  podSelector: {}\n  egress:\n"
		      "  - ports: [{protocol: UDP, endPort: 90}]\n",
		noport);
	expect_bad_np("  podSelector: {}\n  ingress:\n  - ports: [{protocol: ICMP}]\n", proto);
	expect_bad_np(
		"  podSelector: {}\n  ingress:\n  - ports: [{port: no_underscores}]\n", pname);
	/* Quoted digits are a (bad) name, as IntOrString makes them. */
	expect_bad_np("  podSelector: {}\n  ingress:\n  - ports: [{port: '80'}]\n", digits);
	expect_bad_np("  podSelector: {}\n  ingress:\n  - ports: [{port: 0}]\n", range);
}

static void test_selector_errors(void **state)
{
	static const char *const novalues[] = { "t.yaml:7: NetworkPolicy shop/p: field "
						"'spec.podSelector.matchExpressions[0].values'",
		"required for operator In, expected 1 to 16 values", NULL };
	static const char *const emptyvalues[] = {
		"field 'spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values'",
		"required for operator NotIn", NULL
	};
	static const char *const withvalues[] = {
		"field 'spec.podSelector.matchExpressions[1].values'",
		"must be empty for operator Exists, got 1 values", NULL
	};
	static const char *const op[] = { "field 'spec.podSelector.matchExpressions[0].operator'",
		"expected In|NotIn|Exists|DoesNotExist, got 'Equals'", NULL };
	static const char *const nokey[] = { "field 'spec.podSelector.matchExpressions[0].key'",
		"required", NULL };
	static const char *const prefix[] = { "field 'spec.podSelector.matchLabels[Example.com/a]'",
		"DNS subdomain before '/'", NULL };
	static const char *const name[] = { "field 'spec.podSelector.matchLabels[-a]'",
		"label name of 1 to 63", NULL };
	static const char *const slash2[] = { "field 'spec.podSelector.matchLabels[a/b/c]'",
		"label name", NULL };
	static const char *const value[] = { "field 'spec.podSelector.matchLabels[a]'",
		"expected a label value", "'b c'", NULL };
	static const char *const exprvalue[] = {
		"field 'spec.podSelector.matchExpressions[0].values[1]'", "'-x'", NULL
	};
	static const char *const missing[] = { "t.yaml:5: NetworkPolicy shop/p: field "
					       "'spec.podSelector'",
		"required", NULL };
	static const char *const seltype[] = { "field 'spec.podSelector'",
		"expected a mapping, got a sequence", NULL };
	char spec[1024];
	size_t used;
	int i;

	(void)state;
	expect_bad_np(
		"  podSelector:\n    matchExpressions:\n    - {key: a, operator: In}\n", novalues);
	expect_bad_np("  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n"
		      "        matchExpressions: [{key: a, operator: NotIn, values: []}]\n",
		emptyvalues);
	expect_bad_np("  podSelector:\n    matchExpressions:\n"
		      "    - {key: a, operator: DoesNotExist, values: []}\n"
		      "    - {key: b, operator: Exists, values: [x]}\n",
		withvalues);
	expect_bad_np("  podSelector:\n    matchExpressions: [{key: a, operator: Equals}]\n", op);
	expect_bad_np("  podSelector:\n    matchExpressions: [{operator: Exists}]\n", nokey);
	expect_bad_np("  podSelector: {matchLabels: {Example.com/a: b}}\n", prefix);
	expect_bad_np("  podSelector: {matchLabels: {-a: b}}\n", name);
	expect_bad_np("  podSelector: {matchLabels: {a/b/c: d}}\n", slash2);
	expect_bad_np("  podSelector: {matchLabels: {a: b c}}\n", value);
	expect_bad_np("  podSelector:\n    matchExpressions:\n"
		      "    - {key: a, operator: In, values: [x, -x]}\n",
		exprvalue);
	expect_bad_np("  ingress: [{}]\n", missing);
	expect_bad_np("  podSelector: []\n", seltype);

	/* A key longer than PL_K8S_LABEL_KEY_MAX, though a valid qualified name. */
	{
		static const char *const longkey[] = { "expected a label key of 1 to 128 "
						       "characters, got 129",
			NULL };
		char key[130];

		memset(key, 'a', 129);
		key[129] = '\0';
		/* A 65-character DNS subdomain, '/', a 63-character name. */
		key[30] = '.';
		key[65] = '/';
		snprintf(spec, sizeof(spec), "  podSelector: {matchLabels: {%s: v}}\n", key);
		expect_bad_np(spec, longkey);
	}
	/* 17 labels. */
	{
		static const char *const many[] = { "field 'spec.podSelector.matchLabels'",
			"at most 16 labels, got 17", NULL };

		used = (size_t)snprintf(spec, sizeof(spec), "  podSelector:\n    matchLabels:\n");
		for (i = 0; i < 17; i++)
			used += (size_t)snprintf(
				spec + used, sizeof(spec) - used, "      k%d: v\n", i);
		expect_bad_np(spec, many);
	}
	/* 9 expressions. */
	{
		static const char *const many[] = { "field 'spec.podSelector.matchExpressions'",
			"at most 8 items, got 9", NULL };

		used = (size_t)snprintf(
			spec, sizeof(spec), "  podSelector:\n    matchExpressions:\n");
		for (i = 0; i < 9; i++)
			used += (size_t)snprintf(spec + used, sizeof(spec) - used,
				"    - {key: k%d, operator: Exists}\n", i);
		expect_bad_np(spec, many);
	}
}

static void test_policy_misc_errors(void **state)
{
	static const char *const types[] = { "field 'spec.policyTypes[0]'",
		"expected Ingress|Egress, got 'Both'", NULL };
	static const char *const action[] = {
		"t.yaml:5: TierPolicy default/t: field 'spec.ingress[0].action'",
		"expected Allow|Deny|Pass|Log, got 'Reject'", NULL
	};
	static const char *const order[] = { "field 'spec.order'",
		"expected an integer -2147483648..2147483647, got 'x'", NULL };
	static const char *const tier[] = { "field 'spec.tier'", "0..4294967295, got '-1'", NULL };
	static const char *const api[] = { "t.yaml:1: NetworkPolicy default/p: field 'apiVersion'",
		"expected networking.k8s.io/v1 for a NetworkPolicy, got 'v1'", NULL };
	static const char *const rules[] = { "field 'spec.ingress'", "at most 64 items, got 65",
		NULL };
	char text[2048];
	size_t used;
	int i;

	(void)state;
	expect_bad_np("  podSelector: {}\n  policyTypes: [Both]\n", types);
	expect_bad("apiVersion: policy.podlane.io/v1alpha1\nkind: TierPolicy\n"
		   "metadata: {name: t}\nspec:\n"
		   "  ingress: [{action: Reject}]\n  podSelector: {}\n",
		action);
	expect_bad("apiVersion: policy.podlane.io/v1alpha1\nkind: TierPolicy\n"
		   "metadata: {name: t}\nspec: {podSelector: {}, order: x}\n",
		order);
	expect_bad("apiVersion: policy.podlane.io/v1alpha1\nkind: TierPolicy\n"
		   "metadata: {name: t}\nspec: {podSelector: {}, tier: -1}\n",
		tier);
	expect_bad("apiVersion: v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		   "spec: {podSelector: {}}\n",
		api);
	used = (size_t)snprintf(text, sizeof(text), "  podSelector: {}\n  ingress:\n");
	for (i = 0; i < 65; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "  - {}\n");
	expect_bad_np(text, rules);
}

static void test_equal_new_kinds(void **state)
{
	static const char np[] =
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: p}\n"
		"spec:\n"
		"  podSelector: {matchLabels: {a: '1', b: '2'}}\n"
		"  ingress: [{from: [{podSelector: {}}, %s], ports: [{port: 80}]}]\n"
		"  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]\n";
	static const char pod[] = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: %s}\n"
				  "status: {podIP: 10.0.0.1}\n";
	char text[4096];
	size_t used = 0;
	struct result r;
	char err[256];

	(void)state;
	used += (size_t)snprintf(text + used, sizeof(text) - used, np, "{podSelector: {}}");
	used += (size_t)snprintf(text + used, sizeof(text) - used, "---\n");
	used += (size_t)snprintf(text + used, sizeof(text) - used, np, "{podSelector: {}}");
	used += (size_t)snprintf(text + used, sizeof(text) - used, "---\n");
	used += (size_t)snprintf(text + used, sizeof(text) - used, np, "{namespaceSelector: {}}");
	used += (size_t)snprintf(text + used, sizeof(text) - used, "---\n");
	used += (size_t)snprintf(text + used, sizeof(text) - used, pod, "{x: '1', y: '2'}");
	used += (size_t)snprintf(text + used, sizeof(text) - used, "---\n");
	/* The same labels in another order: the same pod. */
	used += (size_t)snprintf(text + used, sizeof(text) - used, pod, "{y: '2', x: '1'}");
	used += (size_t)snprintf(text + used, sizeof(text) - used, "---\n");
	snprintf(text + used, sizeof(text) - used, pod, "{x: '1'}");
	assert_int_equal(parse(text, &r, err, sizeof(err)), 0);
	assert_int_equal(r.n_objs, 6);
	/* Separately allocated peer arrays with the same content. */
	assert_ptr_not_equal(
		r.objs[0]->np.ingress_rules[0].peers, r.objs[1]->np.ingress_rules[0].peers);
	assert_true(pl_k8s_object_equal(r.objs[0], r.objs[1]));
	assert_false(pl_k8s_object_equal(r.objs[0], r.objs[2]));
	assert_true(pl_k8s_object_equal(r.objs[3], r.objs[4]));
	assert_false(pl_k8s_object_equal(r.objs[3], r.objs[5]));
	result_free(&r);
}

static void test_kind_names(void **state)
{
	char key[PL_K8S_KEY_SIZE];

	(void)state;
	assert_string_equal(pl_k8s_kind_name(PL_K8S_NETWORK_POLICY), "NetworkPolicy");
	assert_string_equal(pl_k8s_kind_name(PL_K8S_NAMESPACE), "Namespace");
	assert_string_equal(pl_k8s_kind_name(PL_K8S_POD), "Pod");
	assert_string_equal(pl_k8s_kind_name(PL_K8S_TIER_POLICY), "TierPolicy");
	assert_string_equal(pl_k8s_kind_name(PL_K8S_UNKNOWN), "?");
	pl_k8s_key(PL_K8S_TIER_POLICY, "ops", "guard", key, sizeof(key));
	assert_string_equal(key, "TierPolicy/ops/guard");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_cluster_ip),
		cmocka_unit_test(test_service_node_port_named_target),
		cmocka_unit_test(test_service_load_balancer_affinity),
		cmocka_unit_test(test_endpoint_slice),
		cmocka_unit_test(test_multi_document_one_bad),
		cmocka_unit_test(test_unknown_fields_ignored),
		cmocka_unit_test(test_missing_ports),
		cmocka_unit_test(test_bad_ips),
		cmocka_unit_test(test_port_out_of_range),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_identity_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limit_endpoints),
		cmocka_unit_test(test_syntax_error_stops_file),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_network_policy_all_peers),
		cmocka_unit_test(test_network_policy_types),
		cmocka_unit_test(test_tier_policy),
		cmocka_unit_test(test_namespace),
		cmocka_unit_test(test_namespace_errors),
		cmocka_unit_test(test_pod_realistic),
		cmocka_unit_test(test_pod_minimal_and_pod_ip),
		cmocka_unit_test(test_pod_errors),
		cmocka_unit_test(test_network_policy_peer_errors),
		cmocka_unit_test(test_network_policy_port_errors),
		cmocka_unit_test(test_selector_errors),
		cmocka_unit_test(test_policy_misc_errors),
		cmocka_unit_test(test_equal_new_kinds),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
