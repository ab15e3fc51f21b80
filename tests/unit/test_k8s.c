/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for pl_k8s: good Services and EndpointSlices (defaults included), several documents
 * per file with one bad among them, unknown fields ignored, and each kind of bad input, whose
 * message must name FILE:LINE, the object and the field. */
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
		"Service or EndpointSlice", "Ingress", NULL };
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
