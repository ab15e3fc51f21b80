/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes-shaped YAML -> C structs. libyaml's event API builds a small tree per document
 * (anchors and aliases refused, depth and size bounded), then a walker reads the fields podlane
 * knows into a zeroed object, checking type, range and limit of each, and skips the rest. The
 * first error rejects the document with "FILE:LINE: <Kind> <ns>/<name>: field '<path>': ..."
 * ("<Kind> <name>" for the cluster-scoped Namespace). Kinds: Service, EndpointSlice,
 * NetworkPolicy, Namespace, Pod and podlane's TierPolicy. */
#include "pl_k8s.h"
#include "pl_yaml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define QUOTE_MAX 64
#define PATH_SIZE 256
#define MSG_SIZE 768

enum ntype {
	N_SCALAR,
	N_SEQ,
	N_MAP
};

struct node {
	enum ntype type;
	size_t line;
	bool plain; /* scalar written without quotes */
	char *value; /* scalar only */
	size_t value_len;
	struct node **kids; /* sequence items; mapping key, value, key, value ... */
	size_t n_kids, cap_kids;
};

struct doc_ctx {
	const char *file;
	enum pl_k8s_kind kind;
	const char *kind_name; /* as written, for messages */
	bool cluster_scoped; /* a Namespace: no namespace in its identity */
	char ns[PL_K8S_NS_MAX + 1];
	char name[PL_K8S_NAME_MAX + 1];
	char msg[MSG_SIZE];
	bool failed;
};

static void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n_kids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n);
}

static int node_add(struct node *parent, struct node *kid)
{
	if (parent->n_kids == parent->cap_kids) {
		size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
		struct node **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->cap_kids = cap;
	}
	parent->kids[parent->n_kids++] = kid;
	return 0;
}

/* ---- errors ---- */

static void fail(struct doc_ctx *d, size_t line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct doc_ctx *d, size_t line, const char *path, const char *fmt, ...)
{
	size_t used;
	va_list ap;
	int n;

	if (d->failed)
		return;
	d->failed = true;
	if (d->name[0] && d->cluster_scoped)
		n = snprintf(d->msg, sizeof(d->msg), "%s:%zu: %s %s: ", d->file, line,
			d->kind_name ? d->kind_name : "object", d->name);
	else if (d->name[0])
		n = snprintf(d->msg, sizeof(d->msg), "%s:%zu: %s %s/%s: ", d->file, line,
			d->kind_name ? d->kind_name : "object", d->ns[0] ? d->ns : "default",
			d->name);
	else
		n = snprintf(d->msg, sizeof(d->msg), "%s:%zu: ", d->file, line);
	if (n < 0 || (size_t)n >= sizeof(d->msg))
		return;
	used = (size_t)n;
	if (path) {
		n = snprintf(d->msg + used, sizeof(d->msg) - used, "field '%s': ", path);
		if (n < 0 || (size_t)n >= sizeof(d->msg) - used)
			return;
		used += (size_t)n;
	}
	va_start(ap, fmt);
	vsnprintf(d->msg + used, sizeof(d->msg) - used, fmt, ap);
	va_end(ap);
}

/* ---- event stream -> tree ---- */

struct reader {
	yaml_parser_t parser;
	const char *file;
};

static int next_event(struct reader *r, yaml_event_t *ev, struct doc_ctx *d)
{
	char msg[256];
	size_t line;
	int rc = pl_yaml_next_event(&r->parser, ev, msg, sizeof(msg), &line);
	if (rc == -EINVAL)
		fail(d, line ? line : 1, NULL, "%s", msg);
	return rc;
}

/* Reads one node whose first event is *ev (consumed here). */
static int read_node(
	struct reader *r, yaml_event_t *ev, struct node **out, int depth, struct doc_ctx *d)
{
	struct node *n = calloc(1, sizeof(*n));
	yaml_event_type_t end;
	int rc = 0;

	if (!n) {
		yaml_event_delete(ev);
		return -ENOMEM;
	}
	n->line = ev->start_mark.line + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n->type = N_SCALAR;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->value_len = ev->data.scalar.length;
		n->value = malloc(n->value_len + 1);
		if (!n->value) {
			rc = -ENOMEM;
			break;
		}
		memcpy(n->value, ev->data.scalar.value, n->value_len);
		n->value[n->value_len] = '\0';
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n->type = ev->type == YAML_SEQUENCE_START_EVENT ? N_SEQ : N_MAP;
		end = n->type == N_SEQ ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
		if (depth >= PL_K8S_MAX_DEPTH) {
			fail(d, n->line, NULL, "nested deeper than %d levels", PL_K8S_MAX_DEPTH);
			rc = -EINVAL;
			break;
		}
		for (;;) {
			yaml_event_t kev;
			struct node *kid = NULL;

			rc = next_event(r, &kev, d);
			if (rc)
				break;
			if (kev.type == end) {
				yaml_event_delete(&kev);
				break;
			}
			rc = read_node(r, &kev, &kid, depth + 1, d);
			if (rc)
				break;
			rc = node_add(n, kid);
			if (rc) {
				node_free(kid);
				break;
			}
		}
		break;
	default:
		fail(d, n->line, NULL, "unexpected YAML event");
		rc = -EINVAL;
		break;
	}
	yaml_event_delete(ev);
	if (rc) {
		node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* ---- field access ---- */

static const char *what(const struct node *n)
{
	switch (n->type) {
	case N_SCALAR:
		return "a scalar";
	case N_SEQ:
		return "a sequence";
	case N_MAP:
		return "a mapping";
	}
	return "?";
}

static bool is_null(const struct node *n)
{
	const char *v = n->value;

	if (n->type != N_SCALAR || !n->plain)
		return false;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* Value of key in mapping m, NULL when absent or null. */
static const struct node *get(const struct node *m, const char *key)
{
	size_t i;

	if (!m || m->type != N_MAP)
		return NULL;
	for (i = 0; i + 1 < m->n_kids; i += 2) {
		const struct node *k = m->kids[i];

		if (k->type == N_SCALAR && !strcmp(k->value, key))
			return is_null(m->kids[i + 1]) ? NULL : m->kids[i + 1];
	}
	return NULL;
}

static void join(char *out, size_t size, const char *base, const char *key)
{
	/* Paths are short and bounded by the schema; a cut one only shortens a message. */
	if (snprintf(out, size, "%s%s%s", base, base[0] ? "." : "", key) >= (int)size)
		out[size - 1] = '\0';
}

static void joinidx(char *out, size_t size, const char *base, const char *key, size_t i)
{
	if (snprintf(out, size, "%s%s%s[%zu]", base, base[0] ? "." : "", key, i) >= (int)size)
		out[size - 1] = '\0';
}

/* Keys must be scalars and unique in every mapping of the document. */
static int check_maps(struct doc_ctx *d, const struct node *n)
{
	size_t i, j;

	if (n->type == N_MAP) {
		for (i = 0; i + 1 < n->n_kids; i += 2) {
			if (n->kids[i]->type != N_SCALAR) {
				fail(d, n->kids[i]->line, NULL, "mapping keys must be scalars");
				return -EINVAL;
			}
			for (j = 0; j < i; j += 2) {
				if (!strcmp(n->kids[j]->value, n->kids[i]->value)) {
					fail(d, n->kids[i]->line, n->kids[i]->value,
						"duplicate key (first on line %zu)",
						n->kids[j]->line);
					return -EINVAL;
				}
			}
		}
	}
	for (i = 0; i < n->n_kids; i++)
		if (check_maps(d, n->kids[i]))
			return -EINVAL;
	return 0;
}

static int want(struct doc_ctx *d, const struct node *n, enum ntype t, const char *path)
{
	static const char *const names[] = { "a scalar", "a sequence", "a mapping" };

	if (n->type != t) {
		fail(d, n->line, path, "expected %s, got %s", names[t], what(n));
		return -EINVAL;
	}
	return 0;
}

/* A string of 1..max characters into out (max + 1 bytes). */
static int get_str(struct doc_ctx *d, const struct node *n, const char *path, char *out, size_t max)
{
	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	if (!n->value_len || n->value_len > max || strlen(n->value) != n->value_len) {
		fail(d, n->line, path, "expected a string of 1 to %zu characters, got %zu", max,
			n->value_len);
		return -EINVAL;
	}
	memcpy(out, n->value, n->value_len + 1);
	return 0;
}

static int get_uint(struct doc_ctx *d, const struct node *n, const char *path, uint32_t min,
	uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	if (!n->plain || !n->value_len)
		goto bad;
	for (i = 0; i < n->value_len; i++) {
		if (n->value[i] < '0' || n->value[i] > '9')
			goto bad;
		v = v * 10 + (uint64_t)(n->value[i] - '0');
		if (v > UINT32_MAX)
			goto range;
	}
	if (v < min || v > max)
		goto range;
	*out = (uint32_t)v;
	return 0;
bad:
	fail(d, n->line, path, "expected an integer %u..%u, got %s'%.*s'", min, max,
		n->plain ? "" : "the string ", QUOTE_MAX, n->value);
	return -EINVAL;
range:
	fail(d, n->line, path, "expected an integer %u..%u, got %.*s", min, max, QUOTE_MAX,
		n->value);
	return -ERANGE;
}

static int get_bool(struct doc_ctx *d, const struct node *n, const char *path, bool *out)
{
	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	if (n->plain && (!strcmp(n->value, "true") || !strcmp(n->value, "True"))) {
		*out = true;
		return 0;
	}
	if (n->plain && (!strcmp(n->value, "false") || !strcmp(n->value, "False"))) {
		*out = false;
		return 0;
	}
	fail(d, n->line, path, "expected true or false, got '%.*s'", QUOTE_MAX, n->value);
	return -EINVAL;
}

/* One of choices (NULL-terminated); its index into *out. */
static int get_enum(struct doc_ctx *d, const struct node *n, const char *path,
	const char *const *choices, int *out)
{
	char list[128] = "";
	size_t used = 0;
	int i, k;

	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	for (i = 0; choices[i]; i++) {
		if (!strcmp(n->value, choices[i])) {
			*out = i;
			return 0;
		}
		k = snprintf(list + used, sizeof(list) - used, "%s%s", i ? "|" : "", choices[i]);
		if (k > 0 && (size_t)k < sizeof(list) - used)
			used += (size_t)k;
	}
	fail(d, n->line, path, "expected %s, got '%.*s'", list, QUOTE_MAX, n->value);
	return -EINVAL;
}

/* family 0 = either. */
static int get_ip(
	struct doc_ctx *d, const struct node *n, const char *path, int family, struct pl_k8s_ip *ip)
{
	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	memset(ip, 0, sizeof(*ip));
	if ((family == 0 || family == AF_INET) && inet_pton(AF_INET, n->value, ip->addr) == 1) {
		ip->family = AF_INET;
		return 0;
	}
	if ((family == 0 || family == AF_INET6) && inet_pton(AF_INET6, n->value, ip->addr) == 1) {
		ip->family = AF_INET6;
		return 0;
	}
	fail(d, n->line, path, "expected an %s address, got '%.*s'",
		family == AF_INET    ? "IPv4"
		: family == AF_INET6 ? "IPv6"
				     : "IPv4 or IPv6",
		QUOTE_MAX, n->value);
	return -EINVAL;
}

/* A sequence (or absent) of at most max items; *seq NULL when absent. */
static int get_seq(struct doc_ctx *d, const struct node *parent, const char *key, const char *path,
	size_t max, const struct node **seq)
{
	const struct node *n = get(parent, key);

	*seq = NULL;
	if (!n)
		return 0;
	if (want(d, n, N_SEQ, path))
		return -EINVAL;
	if (n->n_kids > max) {
		fail(d, n->line, path, "at most %zu items, got %zu", max, n->n_kids);
		return -E2BIG;
	}
	*seq = n;
	return 0;
}

/* RFC 1123 subdomain (lowercase alphanumerics, '-', '.', starting and ending alphanumeric);
 * also keeps names safe to use in file names. */
static bool dns_name_ok(const char *s)
{
	size_t i, len = strlen(s);

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && c != '-' && c != '.')
			return false;
		if ((i == 0 || i == len - 1) && !alnum)
			return false;
	}
	return true;
}

static const char *const protocols[] = { "TCP", "UDP", "SCTP", NULL };

static int get_proto(
	struct doc_ctx *d, const struct node *m, const char *base, enum pl_k8s_proto *out)
{
	const struct node *n = get(m, "protocol");
	char path[PATH_SIZE];
	int v = 0;

	*out = PL_K8S_TCP;
	if (!n)
		return 0;
	join(path, sizeof(path), base, "protocol");
	if (get_enum(d, n, path, protocols, &v))
		return -EINVAL;
	*out = (enum pl_k8s_proto)v;
	return 0;
}

/* ---- Service ---- */

static int parse_svc_port(
	struct doc_ctx *d, const struct node *m, const char *base, struct pl_k8s_svc_port *p)
{
	char path[PATH_SIZE];
	const struct node *n;
	uint32_t v;

	if (want(d, m, N_MAP, base))
		return -EINVAL;
	if ((n = get(m, "name"))) {
		join(path, sizeof(path), base, "name");
		if (get_str(d, n, path, p->name, PL_K8S_PORT_NAME_MAX))
			return -EINVAL;
	}
	if (get_proto(d, m, base, &p->protocol))
		return -EINVAL;
	join(path, sizeof(path), base, "port");
	if (!(n = get(m, "port"))) {
		fail(d, m->line, path, "required, expected an integer 1..65535");
		return -EINVAL;
	}
	if (get_uint(d, n, path, 1, 65535, &v))
		return -EINVAL;
	p->port = (uint16_t)v;
	p->target_port = p->port;
	if ((n = get(m, "targetPort"))) {
		join(path, sizeof(path), base, "targetPort");
		if (want(d, n, N_SCALAR, path))
			return -EINVAL;
		if (n->plain && n->value[0] >= '0' && n->value[0] <= '9') {
			if (get_uint(d, n, path, 1, 65535, &v))
				return -EINVAL;
			p->target_port = (uint16_t)v;
		} else {
			if (get_str(d, n, path, p->target_port_name, PL_K8S_PORT_NAME_MAX))
				return -EINVAL;
			p->target_port = 0;
		}
	}
	if ((n = get(m, "nodePort"))) {
		join(path, sizeof(path), base, "nodePort");
		if (get_uint(d, n, path, 1, 65535, &v))
			return -EINVAL;
		p->node_port = (uint16_t)v;
	}
	return 0;
}

static int parse_service(struct doc_ctx *d, const struct node *root, struct pl_k8s_service *s)
{
	static const char *const types[] = { "ClusterIP", "NodePort", "LoadBalancer", NULL };
	static const char *const affinities[] = { "None", "ClientIP", NULL };
	static const char *const policies[] = { "Cluster", "Local", NULL };
	const struct node *spec = get(root, "spec"), *n, *seq;
	char path[PATH_SIZE];
	size_t i, j;
	uint32_t v;
	int e;

	s->affinity_timeout_s = 10800;
	if (!spec) {
		fail(d, root->line, "spec", "required, expected a mapping");
		return -EINVAL;
	}
	if (want(d, spec, N_MAP, "spec"))
		return -EINVAL;
	if ((n = get(spec, "type"))) {
		if (get_enum(d, n, "spec.type", types, &e))
			return -EINVAL;
		s->type = (enum pl_k8s_svc_type)e;
	}
	if ((n = get(spec, "clusterIP"))) {
		if (n->type == N_SCALAR && !strcmp(n->value, "None")) {
			s->headless = true;
		} else {
			if (get_ip(d, n, "spec.clusterIP", 0, &s->cluster_ips[0]))
				return -EINVAL;
			s->n_cluster_ips = 1;
		}
	}
	if (get_seq(d, spec, "clusterIPs", "spec.clusterIPs", PL_K8S_MAX_CLUSTER_IPS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		struct pl_k8s_ip ip;

		joinidx(path, sizeof(path), "spec", "clusterIPs", i);
		if (seq->kids[i]->type == N_SCALAR && !strcmp(seq->kids[i]->value, "None")) {
			s->headless = true;
			continue;
		}
		if (get_ip(d, seq->kids[i], path, 0, &ip))
			return -EINVAL;
		/* clusterIPs[0] must repeat clusterIP; keep each address once. */
		for (j = 0; j < s->n_cluster_ips; j++)
			if (!memcmp(&s->cluster_ips[j], &ip, sizeof(ip)))
				break;
		if (j < s->n_cluster_ips)
			continue;
		if (s->n_cluster_ips == PL_K8S_MAX_CLUSTER_IPS) {
			fail(d, seq->kids[i]->line, path, "at most %d cluster IPs",
				PL_K8S_MAX_CLUSTER_IPS);
			return -E2BIG;
		}
		s->cluster_ips[s->n_cluster_ips++] = ip;
	}
	if (get_seq(d, spec, "externalIPs", "spec.externalIPs", PL_K8S_MAX_EXTERNAL_IPS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), "spec", "externalIPs", i);
		if (get_ip(d, seq->kids[i], path, 0, &s->external_ips[i]))
			return -EINVAL;
		s->n_external_ips++;
	}
	if (get_seq(d, spec, "ports", "spec.ports", PL_K8S_MAX_PORTS, &seq))
		return -EINVAL;
	if (!seq || !seq->n_kids) {
		if (!s->headless) {
			fail(d, seq ? seq->line : spec->line, "spec.ports",
				"required, expected 1 to %d ports", PL_K8S_MAX_PORTS);
			return -EINVAL;
		}
	}
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), "spec", "ports", i);
		if (parse_svc_port(d, seq->kids[i], path, &s->ports[i]))
			return -EINVAL;
		s->n_ports++;
		for (j = 0; j < i; j++) {
			if (s->ports[j].port == s->ports[i].port &&
				s->ports[j].protocol == s->ports[i].protocol) {
				fail(d, seq->kids[i]->line, path, "duplicate port %u/%s",
					s->ports[i].port, protocols[s->ports[i].protocol]);
				return -EINVAL;
			}
			if (s->ports[i].name[0] && !strcmp(s->ports[j].name, s->ports[i].name)) {
				fail(d, seq->kids[i]->line, path, "duplicate port name '%s'",
					s->ports[i].name);
				return -EINVAL;
			}
		}
		if (s->ports[i].node_port && s->type == PL_K8S_CLUSTER_IP) {
			fail(d, seq->kids[i]->line, path,
				"nodePort needs spec.type NodePort or LoadBalancer");
			return -EINVAL;
		}
	}
	if ((n = get(spec, "sessionAffinity"))) {
		if (get_enum(d, n, "spec.sessionAffinity", affinities, &e))
			return -EINVAL;
		s->affinity_client_ip = e == 1;
	}
	n = get(get(get(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds");
	if (n) {
		if (get_uint(d, n, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 1, 86400,
			    &v))
			return -EINVAL;
		s->affinity_timeout_s = v;
	}
	if ((n = get(spec, "externalTrafficPolicy"))) {
		if (get_enum(d, n, "spec.externalTrafficPolicy", policies, &e))
			return -EINVAL;
		s->external_local = e == 1;
	}
	if ((n = get(spec, "internalTrafficPolicy"))) {
		if (get_enum(d, n, "spec.internalTrafficPolicy", policies, &e))
			return -EINVAL;
		s->internal_local = e == 1;
	}
	if (get_seq(d, get(get(root, "status"), "loadBalancer"), "ingress",
		    "status.loadBalancer.ingress", PL_K8S_MAX_INGRESS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), "status.loadBalancer", "ingress", i);
		if (want(d, seq->kids[i], N_MAP, path))
			return -EINVAL;
		/* An ingress given by hostname only has no address for us. */
		if (!(n = get(seq->kids[i], "ip")))
			continue;
		strncat(path, ".ip", sizeof(path) - strlen(path) - 1);
		if (get_ip(d, n, path, 0, &s->ingress_ips[s->n_ingress_ips]))
			return -EINVAL;
		s->n_ingress_ips++;
	}
	return 0;
}

/* ---- EndpointSlice ---- */

static int parse_endpoint(struct doc_ctx *d, const struct node *m, const char *base, int family,
	struct pl_k8s_endpoint *ep)
{
	const struct node *seq, *cond, *n;
	char path[PATH_SIZE], sub[PATH_SIZE];
	size_t i;

	if (want(d, m, N_MAP, base))
		return -EINVAL;
	join(path, sizeof(path), base, "addresses");
	if (get_seq(d, m, "addresses", path, PL_K8S_MAX_ADDRESSES, &seq))
		return -EINVAL;
	if (!seq || !seq->n_kids) {
		fail(d, seq ? seq->line : m->line, path, "required, expected 1 to %d addresses",
			PL_K8S_MAX_ADDRESSES);
		return -EINVAL;
	}
	for (i = 0; i < seq->n_kids; i++) {
		joinidx(sub, sizeof(sub), base, "addresses", i);
		if (get_ip(d, seq->kids[i], sub, family, &ep->addresses[i]))
			return -EINVAL;
		ep->n_addresses++;
	}
	ep->ready = true;
	ep->serving = true;
	ep->terminating = false;
	if ((cond = get(m, "conditions"))) {
		join(path, sizeof(path), base, "conditions");
		if (want(d, cond, N_MAP, path))
			return -EINVAL;
		if ((n = get(cond, "ready"))) {
			join(sub, sizeof(sub), path, "ready");
			if (get_bool(d, n, sub, &ep->ready))
				return -EINVAL;
		}
		/* serving defaults to ready, as in Kubernetes. */
		ep->serving = ep->ready;
		if ((n = get(cond, "serving"))) {
			join(sub, sizeof(sub), path, "serving");
			if (get_bool(d, n, sub, &ep->serving))
				return -EINVAL;
		}
		if ((n = get(cond, "terminating"))) {
			join(sub, sizeof(sub), path, "terminating");
			if (get_bool(d, n, sub, &ep->terminating))
				return -EINVAL;
		}
	}
	if ((n = get(m, "nodeName"))) {
		join(path, sizeof(path), base, "nodeName");
		if (get_str(d, n, path, ep->node_name, PL_K8S_NAME_MAX))
			return -EINVAL;
	}
	return 0;
}

static int parse_eps(struct doc_ctx *d, const struct node *root, struct pl_k8s_eps *e)
{
	static const char *const types[] = { "IPv4", "IPv6", NULL };
	const struct node *n, *seq;
	char path[PATH_SIZE];
	size_t i, j;
	uint32_t v;
	int t;

	n = get(get(get(root, "metadata"), "labels"), "kubernetes.io/service-name");
	if (!n) {
		fail(d, root->line, "metadata.labels[kubernetes.io/service-name]",
			"required, expected the Service's name");
		return -EINVAL;
	}
	if (get_str(d, n, "metadata.labels[kubernetes.io/service-name]", e->service_name,
		    PL_K8S_NAME_MAX))
		return -EINVAL;
	if (!(n = get(root, "addressType"))) {
		fail(d, root->line, "addressType", "required, expected IPv4|IPv6");
		return -EINVAL;
	}
	if (get_enum(d, n, "addressType", types, &t))
		return -EINVAL;
	e->family = t == 0 ? AF_INET : AF_INET6;
	if (get_seq(d, root, "endpoints", "endpoints", PL_K8S_MAX_ENDPOINTS, &seq))
		return -EINVAL;
	if (seq && seq->n_kids) {
		e->endpoints = calloc(seq->n_kids, sizeof(*e->endpoints));
		if (!e->endpoints)
			return -ENOMEM;
		for (i = 0; i < seq->n_kids; i++) {
			joinidx(path, sizeof(path), "", "endpoints", i);
			if (parse_endpoint(d, seq->kids[i], path, e->family, &e->endpoints[i]))
				return -EINVAL;
			e->n_endpoints++;
		}
	}
	if (get_seq(d, root, "ports", "ports", PL_K8S_MAX_PORTS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		const struct node *m = seq->kids[i];
		struct pl_k8s_eps_port *p = &e->ports[i];
		char sub[PATH_SIZE];

		joinidx(path, sizeof(path), "", "ports", i);
		if (want(d, m, N_MAP, path))
			return -EINVAL;
		if ((n = get(m, "name"))) {
			join(sub, sizeof(sub), path, "name");
			if (get_str(d, n, sub, p->name, PL_K8S_PORT_NAME_MAX))
				return -EINVAL;
		}
		if (get_proto(d, m, path, &p->protocol))
			return -EINVAL;
		join(sub, sizeof(sub), path, "port");
		if (!(n = get(m, "port"))) {
			fail(d, m->line, sub, "required, expected an integer 1..65535");
			return -EINVAL;
		}
		if (get_uint(d, n, sub, 1, 65535, &v))
			return -EINVAL;
		p->port = (uint16_t)v;
		e->n_ports++;
		for (j = 0; j < i; j++) {
			if (!strcmp(e->ports[j].name, p->name)) {
				fail(d, m->line, path, "duplicate port name '%s'", p->name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* ---- labels and selectors ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The name part of a qualified name, and a non-empty label value: 1..63 characters, [A-Za-z0-9]
 * at both ends, '-', '_' or '.' also inside. */
static bool label_name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len > 63)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!is_alnum(c) &&
			((i == 0 || i == len - 1) || (c != '-' && c != '_' && c != '.')))
			return false;
	}
	return true;
}

/* A strict RFC 1123 subdomain: dot-separated labels of 1..63 lowercase alphanumerics and '-',
 * starting and ending alphanumeric; 253 characters at most. */
static bool dns_subdomain_ok(const char *s, size_t len)
{
	size_t i, start = 0;

	if (!len || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (c == '.') {
			if (i == start || i - start > 63 || s[i - 1] == '-')
				return false;
			start = i + 1;
			continue;
		}
		if (!alnum && (c != '-' || i == start))
			return false;
	}
	return true;
}

/* A label key (a Kubernetes qualified name, at most PL_K8S_LABEL_KEY_MAX characters) in node n,
 * into out when it is set. */
static int get_label_key(struct doc_ctx *d, const struct node *n, const char *path, char *out)
{
	const char *slash;

	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	if (!n->value_len || n->value_len > PL_K8S_LABEL_KEY_MAX ||
		strlen(n->value) != n->value_len) {
		fail(d, n->line, path, "expected a label key of 1 to %d characters, got %zu",
			PL_K8S_LABEL_KEY_MAX, n->value_len);
		return -EINVAL;
	}
	slash = strchr(n->value, '/');
	if (slash && !dns_subdomain_ok(n->value, (size_t)(slash - n->value))) {
		fail(d, n->line, path,
			"expected a DNS subdomain before '/' (lowercase letters, digits, '-' and "
			"'.'), got '%.*s'",
			QUOTE_MAX, n->value);
		return -EINVAL;
	}
	if (!label_name_ok(slash ? slash + 1 : n->value,
		    n->value_len - (slash ? (size_t)(slash + 1 - n->value) : 0))) {
		fail(d, n->line, path,
			"expected a label name of 1 to 63 characters: letters and digits, with "
			"'-', "
			"'_' and '.' between them, got '%.*s'",
			QUOTE_MAX, n->value);
		return -EINVAL;
	}
	if (out)
		memcpy(out, n->value, n->value_len + 1);
	return 0;
}

/* A label value: empty (or null), or what label_name_ok accepts. */
static int get_label_value(struct doc_ctx *d, const struct node *n, const char *path, char *out)
{
	if (is_null(n)) {
		out[0] = '\0';
		return 0;
	}
	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	if (n->value_len &&
		(strlen(n->value) != n->value_len || !label_name_ok(n->value, n->value_len))) {
		fail(d, n->line, path,
			"expected a label value: empty, or 1 to 63 letters and digits with '-', "
			"'_' and '.' between them, got '%.*s'",
			QUOTE_MAX, n->value);
		return -EINVAL;
	}
	memcpy(out, n->value, n->value_len + 1);
	return 0;
}

/* "base[key]", the key cut for the message. */
static void joinkey(char *out, size_t size, const char *base, const char *key)
{
	if (snprintf(out, size, "%s[%.*s]", base, QUOTE_MAX, key) >= (int)size)
		out[size - 1] = '\0';
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pl_k8s_label *)a)->key, ((const struct pl_k8s_label *)b)->key);
}

/* A mapping of labels into out, sorted by key (so that equal sets compare equal). */
static int parse_labels(
	struct doc_ctx *d, const struct node *m, const char *path, struct pl_k8s_labels *out)
{
	char sub[PATH_SIZE];
	size_t i, n;

	if (want(d, m, N_MAP, path))
		return -EINVAL;
	n = m->n_kids / 2;
	if (n > PL_K8S_MAX_LABELS) {
		fail(d, m->line, path, "at most %d labels, got %zu", PL_K8S_MAX_LABELS, n);
		return -E2BIG;
	}
	for (i = 0; i < n; i++) {
		const struct node *k = m->kids[2 * i], *v = m->kids[2 * i + 1];
		struct pl_k8s_label *l = &out->v[i];

		joinkey(sub, sizeof(sub), path, k->value);
		if (get_label_key(d, k, sub, l->key) || get_label_value(d, v, sub, l->value))
			return -EINVAL;
	}
	out->n = n;
	qsort(out->v, out->n, sizeof(out->v[0]), label_cmp);
	return 0;
}

static int parse_expr(
	struct doc_ctx *d, const struct node *m, const char *base, struct pl_k8s_expr *e)
{
	static const char *const ops[] = { "In", "NotIn", "Exists", "DoesNotExist", NULL };
	const struct node *n, *seq;
	char path[PATH_SIZE], sub[PATH_SIZE];
	size_t i;
	int op;

	if (want(d, m, N_MAP, base))
		return -EINVAL;
	join(path, sizeof(path), base, "key");
	if (!(n = get(m, "key"))) {
		fail(d, m->line, path, "required, expected a label key");
		return -EINVAL;
	}
	if (get_label_key(d, n, path, e->key))
		return -EINVAL;
	join(path, sizeof(path), base, "operator");
	if (!(n = get(m, "operator"))) {
		fail(d, m->line, path, "required, expected In|NotIn|Exists|DoesNotExist");
		return -EINVAL;
	}
	if (get_enum(d, n, path, ops, &op))
		return -EINVAL;
	e->op = (enum pl_k8s_sel_op)op;
	join(path, sizeof(path), base, "values");
	if (get_seq(d, m, "values", path, PL_K8S_MAX_EXPR_VALUES, &seq))
		return -EINVAL;
	if ((e->op == PL_K8S_OP_IN || e->op == PL_K8S_OP_NOT_IN) && (!seq || !seq->n_kids)) {
		fail(d, seq ? seq->line : m->line, path,
			"required for operator %s, expected 1 to %d values", ops[op],
			PL_K8S_MAX_EXPR_VALUES);
		return -EINVAL;
	}
	if ((e->op == PL_K8S_OP_EXISTS || e->op == PL_K8S_OP_DOES_NOT_EXIST) && seq &&
		seq->n_kids) {
		fail(d, seq->line, path, "must be empty for operator %s, got %zu values", ops[op],
			seq->n_kids);
		return -EINVAL;
	}
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(sub, sizeof(sub), base, "values", i);
		if (get_label_value(d, seq->kids[i], sub, e->values[i]))
			return -EINVAL;
		e->n_values++;
	}
	return 0;
}

/* A LabelSelector in node n (not absent). */
static int parse_selector(
	struct doc_ctx *d, const struct node *n, const char *base, struct pl_k8s_selector *sel)
{
	char path[PATH_SIZE];
	const struct node *m, *seq;
	size_t i;

	if (want(d, n, N_MAP, base))
		return -EINVAL;
	sel->present = true;
	if ((m = get(n, "matchLabels"))) {
		join(path, sizeof(path), base, "matchLabels");
		if (parse_labels(d, m, path, &sel->match_labels))
			return -EINVAL;
	}
	join(path, sizeof(path), base, "matchExpressions");
	if (get_seq(d, n, "matchExpressions", path, PL_K8S_MAX_EXPRS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), base, "matchExpressions", i);
		if (parse_expr(d, seq->kids[i], path, &sel->exprs[i]))
			return -EINVAL;
		sel->n_exprs++;
	}
	return 0;
}

/* ---- NetworkPolicy and TierPolicy ---- */

/* "ADDRESS/LENGTH" with no host bits set; family 0 = either. */
static int get_cidr(struct doc_ctx *d, const struct node *n, const char *path, int family,
	struct pl_k8s_cidr *c)
{
	char addr[INET6_ADDRSTRLEN + 1], norm[INET6_ADDRSTRLEN];
	const char *slash, *p;
	unsigned int len = 0, max, i;
	int af;

	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	slash = strchr(n->value, '/');
	if (strlen(n->value) != n->value_len || !slash || slash == n->value ||
		(size_t)(slash - n->value) >= sizeof(addr) || !slash[1] || strlen(slash + 1) > 3)
		goto bad;
	memcpy(addr, n->value, (size_t)(slash - n->value));
	addr[slash - n->value] = '\0';
	for (p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		len = len * 10 + (unsigned int)(*p - '0');
	}
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		af = AF_INET6;
	else
		goto bad;
	if (family && af != family)
		goto bad;
	max = af == AF_INET ? 32 : 128;
	if (len > max)
		goto bad;
	c->family = (uint8_t)af;
	c->len = (uint8_t)len;
	for (i = len; i < max; i++) {
		if (c->addr[i / 8] & (0x80 >> (i % 8))) {
			uint8_t a[16];

			memcpy(a, c->addr, sizeof(a));
			for (; i < max; i++)
				a[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
			inet_ntop(af, a, norm, sizeof(norm));
			fail(d, n->line, path, "host bits set, expected %s/%u, got '%.*s'", norm,
				len, QUOTE_MAX, n->value);
			return -EINVAL;
		}
	}
	return 0;
bad:
	fail(d, n->line, path, "expected an %s CIDR (address/length), got '%.*s'",
		family == AF_INET    ? "IPv4"
		: family == AF_INET6 ? "IPv6"
				     : "IPv4 or IPv6",
		QUOTE_MAX, n->value);
	return -EINVAL;
}

/* Whether inner is strictly inside outer (same family, longer prefix). */
static bool cidr_inside(const struct pl_k8s_cidr *inner, const struct pl_k8s_cidr *outer)
{
	unsigned int i;

	if (inner->family != outer->family || inner->len <= outer->len)
		return false;
	for (i = 0; i < outer->len; i++)
		if ((inner->addr[i / 8] ^ outer->addr[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static int parse_peer(
	struct doc_ctx *d, const struct node *m, const char *base, struct pl_k8s_peer *p)
{
	const struct node *ps, *nss, *ib, *n, *seq;
	char path[PATH_SIZE], sub[PATH_SIZE];
	size_t i;

	if (want(d, m, N_MAP, base))
		return -EINVAL;
	ps = get(m, "podSelector");
	nss = get(m, "namespaceSelector");
	ib = get(m, "ipBlock");
	if (!ps && !nss && !ib) {
		fail(d, m->line, base, "expected podSelector, namespaceSelector or ipBlock");
		return -EINVAL;
	}
	if (ib && (ps || nss)) {
		join(path, sizeof(path), base, "ipBlock");
		fail(d, ib->line, path, "must be alone in its peer, got it with %s",
			ps ? "podSelector" : "namespaceSelector");
		return -EINVAL;
	}
	if (ps) {
		join(path, sizeof(path), base, "podSelector");
		if (parse_selector(d, ps, path, &p->pod_sel))
			return -EINVAL;
	}
	if (nss) {
		join(path, sizeof(path), base, "namespaceSelector");
		if (parse_selector(d, nss, path, &p->ns_sel))
			return -EINVAL;
	}
	if (!ib)
		return 0;
	join(path, sizeof(path), base, "ipBlock");
	if (want(d, ib, N_MAP, path))
		return -EINVAL;
	p->has_ip_block = true;
	join(sub, sizeof(sub), path, "cidr");
	if (!(n = get(ib, "cidr"))) {
		fail(d, ib->line, sub, "required, expected a CIDR");
		return -EINVAL;
	}
	if (get_cidr(d, n, sub, 0, &p->cidr))
		return -EINVAL;
	join(sub, sizeof(sub), path, "except");
	if (get_seq(d, ib, "except", sub, PL_K8S_MAX_EXCEPT, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		char cidr[INET6_ADDRSTRLEN];

		joinidx(sub, sizeof(sub), path, "except", i);
		if (get_cidr(d, seq->kids[i], sub, p->cidr.family, &p->except[i]))
			return -EINVAL;
		if (!cidr_inside(&p->except[i], &p->cidr)) {
			inet_ntop(p->cidr.family, p->cidr.addr, cidr, sizeof(cidr));
			fail(d, seq->kids[i]->line, sub,
				"expected a CIDR strictly inside the cidr %s/%u, got '%.*s'", cidr,
				p->cidr.len, QUOTE_MAX, seq->kids[i]->value);
			return -EINVAL;
		}
		p->n_except++;
	}
	return 0;
}

/* IANA_SVC_NAME: 1..15 lowercase letters, digits and '-', at least one letter, '-' neither
 * first, last nor doubled. */
static bool port_name_ok(const char *s)
{
	size_t i, len = strlen(s);
	bool letter = false;

	if (!len || len > 15 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (s[i] == '-' && s[i + 1] == '-')
			return false;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

/* A port name into out (PL_K8S_PORT_NAME_MAX + 1 bytes). */
static int get_port_name(struct doc_ctx *d, const struct node *n, const char *path, char *out)
{
	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	if (strlen(n->value) != n->value_len || !port_name_ok(n->value)) {
		fail(d, n->line, path,
			"expected a port name (1 to 15 lowercase letters, digits and '-', with a "
			"letter), got '%.*s'",
			QUOTE_MAX, n->value);
		return -EINVAL;
	}
	memcpy(out, n->value, n->value_len + 1);
	return 0;
}

static int parse_np_port(
	struct doc_ctx *d, const struct node *m, const char *base, struct pl_k8s_np_port *p)
{
	const struct node *n;
	char path[PATH_SIZE];
	uint32_t v;

	if (want(d, m, N_MAP, base))
		return -EINVAL;
	if (get_proto(d, m, base, &p->protocol))
		return -EINVAL;
	if ((n = get(m, "port"))) {
		join(path, sizeof(path), base, "port");
		if (want(d, n, N_SCALAR, path))
			return -EINVAL;
		if (n->plain && n->value[0] >= '0' && n->value[0] <= '9') {
			if (get_uint(d, n, path, 1, 65535, &v))
				return -EINVAL;
			p->port = (uint16_t)v;
		} else if (!port_name_ok(n->value) || strlen(n->value) != n->value_len) {
			fail(d, n->line, path,
				"expected an integer 1..65535 or a port name (1 to 15 lowercase "
				"letters, digits and '-', with a letter), got '%.*s'",
				QUOTE_MAX, n->value);
			return -EINVAL;
		} else {
			memcpy(p->port_name, n->value, n->value_len + 1);
		}
		p->has_port = true;
	}
	if ((n = get(m, "endPort"))) {
		join(path, sizeof(path), base, "endPort");
		if (!p->has_port || p->port_name[0]) {
			fail(d, n->line, path, "needs a numeric port, got %s",
				p->has_port ? "a named one" : "none");
			return -EINVAL;
		}
		if (get_uint(d, n, path, 1, 65535, &v))
			return -EINVAL;
		if (v < p->port) {
			fail(d, n->line, path,
				"expected an integer %u..65535 (not below port), got %u", p->port,
				v);
			return -EINVAL;
		}
		p->end_port = (uint16_t)v;
	}
	return 0;
}

/* One ingress (peers_key "from") or egress ("to") rule; null counts as {}, as in Kubernetes. */
static int parse_np_rule(struct doc_ctx *d, const struct node *m, const char *base,
	const char *peers_key, bool tier, struct pl_k8s_np_rule *r)
{
	static const char *const actions[] = { "Allow", "Deny", "Pass", "Log", NULL };
	const struct node *n, *seq;
	char path[PATH_SIZE];
	size_t i;
	int a;

	if (is_null(m))
		return 0;
	if (want(d, m, N_MAP, base))
		return -EINVAL;
	if (tier && (n = get(m, "action"))) {
		join(path, sizeof(path), base, "action");
		if (get_enum(d, n, path, actions, &a))
			return -EINVAL;
		r->action = (enum pl_k8s_action)a;
	}
	join(path, sizeof(path), base, "ports");
	if (get_seq(d, m, "ports", path, PL_K8S_MAX_NP_PORTS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), base, "ports", i);
		if (parse_np_port(d, seq->kids[i], path, &r->ports[i]))
			return -EINVAL;
		r->n_ports++;
	}
	join(path, sizeof(path), base, peers_key);
	if (get_seq(d, m, peers_key, path, PL_K8S_MAX_PEERS, &seq))
		return -EINVAL;
	if (!seq || !seq->n_kids)
		return 0;
	r->peers = calloc(seq->n_kids, sizeof(*r->peers));
	if (!r->peers)
		return -ENOMEM;
	/* Counted now, so that destroy frees what a failed parse leaves. */
	r->n_peers = seq->n_kids;
	for (i = 0; i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), base, peers_key, i);
		if (parse_peer(d, seq->kids[i], path, &r->peers[i]))
			return -EINVAL;
	}
	return 0;
}

static void free_rules(struct pl_k8s_np_rule **rulesp, size_t *np)
{
	size_t i;

	for (i = 0; *rulesp && i < *np; i++)
		free((*rulesp)[i].peers);
	free(*rulesp);
	*rulesp = NULL;
	*np = 0;
}

static int parse_np_rules(struct doc_ctx *d, const struct node *spec, const char *key,
	const char *peers_key, bool tier, struct pl_k8s_np_rule **rulesp, size_t *np)
{
	char path[PATH_SIZE];
	const struct node *seq;
	size_t i;
	int rc;

	join(path, sizeof(path), "spec", key);
	if (get_seq(d, spec, key, path, PL_K8S_MAX_RULES, &seq))
		return -EINVAL;
	if (!seq || !seq->n_kids)
		return 0;
	*rulesp = calloc(seq->n_kids, sizeof(**rulesp));
	if (!*rulesp)
		return -ENOMEM;
	*np = seq->n_kids;
	for (i = 0; i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), "spec", key, i);
		rc = parse_np_rule(d, seq->kids[i], path, peers_key, tier, &(*rulesp)[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int get_int(struct doc_ctx *d, const struct node *n, const char *path, int32_t *out)
{
	const char *s;
	int64_t v = 0;
	bool neg;

	if (want(d, n, N_SCALAR, path))
		return -EINVAL;
	s = n->value;
	neg = s[0] == '-';
	if (neg || s[0] == '+')
		s++;
	if (!n->plain || !*s || strlen(n->value) != n->value_len)
		goto bad;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			goto bad;
		v = v * 10 + (*s - '0');
		if (v > (int64_t)INT32_MAX + 1)
			goto bad;
	}
	if (neg)
		v = -v;
	if (v < INT32_MIN || v > INT32_MAX)
		goto bad;
	*out = (int32_t)v;
	return 0;
bad:
	fail(d, n->line, path, "expected an integer %d..%d, got %s'%.*s'", INT32_MIN, INT32_MAX,
		n->plain ? "" : "the string ", QUOTE_MAX, n->value);
	return -EINVAL;
}

/* NetworkPolicy, or TierPolicy (tier) with its tier, order, namespaceSelector and actions. */
static int parse_netpol(
	struct doc_ctx *d, const struct node *root, bool tier, struct pl_k8s_netpol *np)
{
	static const char *const types[] = { "Ingress", "Egress", NULL };
	const struct node *spec = get(root, "spec"), *n, *seq;
	char path[PATH_SIZE];
	uint32_t v;
	size_t i;
	int t, rc;

	if (!spec) {
		fail(d, root->line, "spec", "required, expected a mapping");
		return -EINVAL;
	}
	if (want(d, spec, N_MAP, "spec"))
		return -EINVAL;
	if (!(n = get(spec, "podSelector"))) {
		fail(d, spec->line, "spec.podSelector",
			"required, expected a LabelSelector ({} selects every pod of the "
			"namespace)");
		return -EINVAL;
	}
	if (parse_selector(d, n, "spec.podSelector", &np->pod_sel))
		return -EINVAL;
	rc = parse_np_rules(d, spec, "ingress", "from", tier, &np->ingress_rules, &np->n_ingress);
	if (!rc)
		rc = parse_np_rules(
			d, spec, "egress", "to", tier, &np->egress_rules, &np->n_egress);
	if (rc)
		return rc;
	if (get_seq(d, spec, "policyTypes", "spec.policyTypes", 2, &seq))
		return -EINVAL;
	if (seq && seq->n_kids) {
		for (i = 0; i < seq->n_kids; i++) {
			joinidx(path, sizeof(path), "spec", "policyTypes", i);
			if (get_enum(d, seq->kids[i], path, types, &t))
				return -EINVAL;
			if (t == 0)
				np->ingress = true;
			else
				np->egress = true;
		}
	} else {
		/* Kubernetes' default: Ingress, and Egress when there are egress rules. */
		np->ingress = true;
		np->egress = np->n_egress > 0;
	}
	/* Rules of a direction the policy does not cover have no effect: drop them, so that
	 * n_ingress/n_egress only count rules that apply. */
	if (!np->ingress)
		free_rules(&np->ingress_rules, &np->n_ingress);
	if (!np->egress)
		free_rules(&np->egress_rules, &np->n_egress);
	if (!tier)
		return 0;
	if ((n = get(spec, "tier"))) {
		if (get_uint(d, n, "spec.tier", 0, UINT32_MAX, &v))
			return -EINVAL;
		np->tier = v;
	}
	if ((n = get(spec, "order"))) {
		if (get_int(d, n, "spec.order", &np->order))
			return -EINVAL;
	}
	if ((n = get(spec, "namespaceSelector"))) {
		if (parse_selector(d, n, "spec.namespaceSelector", &np->ns_sel))
			return -EINVAL;
	}
	return 0;
}

/* ---- Namespace and Pod ---- */

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

static int parse_namespace(
	struct doc_ctx *d, const struct node *root, const char *name, struct pl_k8s_namespace *ns)
{
	const struct node *labels = get(get(root, "metadata"), "labels");
	struct pl_k8s_labels *l = &ns->labels;
	size_t i;

	if (labels && parse_labels(d, labels, "metadata.labels", l))
		return -EINVAL;
	/* The API server sets this label on every namespace, over any value given. */
	for (i = 0; i < l->n && strcmp(l->v[i].key, NS_NAME_LABEL); i++)
		;
	if (i == l->n) {
		if (l->n == PL_K8S_MAX_LABELS) {
			fail(d, labels->line, "metadata.labels",
				"at most %d labels besides the automatic " NS_NAME_LABEL
				", got %zu",
				PL_K8S_MAX_LABELS - 1, l->n);
			return -E2BIG;
		}
		snprintf(l->v[i].key, sizeof(l->v[i].key), "%s", NS_NAME_LABEL);
		l->n++;
	}
	memset(l->v[i].value, 0, sizeof(l->v[i].value));
	snprintf(l->v[i].value, sizeof(l->v[i].value), "%.*s", PL_K8S_LABEL_VALUE_MAX, name);
	qsort(l->v, l->n, sizeof(l->v[0]), label_cmp);
	return 0;
}

static int add_pod_ip(
	struct doc_ctx *d, const struct node *n, const char *path, struct pl_k8s_pod *p)
{
	struct pl_k8s_ip ip;
	size_t i;

	if (get_ip(d, n, path, 0, &ip))
		return -EINVAL;
	for (i = 0; i < p->n_ips; i++) {
		if (!memcmp(&p->ips[i], &ip, sizeof(ip)))
			return 0; /* podIP repeats podIPs[0] */
		if (p->ips[i].family == ip.family) {
			fail(d, n->line, path,
				"expected one address per family, got a second %s one",
				ip.family == AF_INET ? "IPv4" : "IPv6");
			return -EINVAL;
		}
	}
	if (p->n_ips == PL_K8S_MAX_POD_IPS) {
		fail(d, n->line, path, "at most %d pod IPs", PL_K8S_MAX_POD_IPS);
		return -E2BIG;
	}
	p->ips[p->n_ips++] = ip;
	return 0;
}

/* The named ports of one container (its index ci). */
static int parse_container_ports(
	struct doc_ctx *d, const struct node *c, size_t ci, struct pl_k8s_pod *p)
{
	char base[PATH_SIZE], path[PATH_SIZE], sub[PATH_SIZE];
	const struct node *seq, *n;
	size_t i, j, first = p->n_ports;
	uint32_t v;

	joinidx(base, sizeof(base), "spec", "containers", ci);
	if (want(d, c, N_MAP, base))
		return -EINVAL;
	seq = get(c, "ports");
	join(path, sizeof(path), base, "ports");
	if (!seq)
		return 0;
	if (want(d, seq, N_SEQ, path))
		return -EINVAL;
	for (i = 0; i < seq->n_kids; i++) {
		const struct node *m = seq->kids[i];
		struct pl_k8s_container_port *cp;

		joinidx(path, sizeof(path), base, "ports", i);
		if (want(d, m, N_MAP, path))
			return -EINVAL;
		/* Only named ports can be referred to (by NetworkPolicy and targetPort). */
		if (!(n = get(m, "name")))
			continue;
		if (p->n_ports == PL_K8S_MAX_CONTAINER_PORTS) {
			fail(d, m->line, path, "at most %d named ports per pod",
				PL_K8S_MAX_CONTAINER_PORTS);
			return -E2BIG;
		}
		cp = &p->ports[p->n_ports];
		join(sub, sizeof(sub), path, "name");
		if (get_port_name(d, n, sub, cp->name))
			return -EINVAL;
		join(sub, sizeof(sub), path, "containerPort");
		if (!(n = get(m, "containerPort"))) {
			fail(d, m->line, sub, "required, expected an integer 1..65535");
			return -EINVAL;
		}
		if (get_uint(d, n, sub, 1, 65535, &v))
			return -EINVAL;
		cp->port = (uint16_t)v;
		if (get_proto(d, m, path, &cp->protocol))
			return -EINVAL;
		/* Unique within a container; containers may share a name. */
		for (j = first; j < p->n_ports; j++) {
			if (!strcmp(p->ports[j].name, cp->name)) {
				fail(d, m->line, path, "duplicate port name '%s'", cp->name);
				return -EINVAL;
			}
		}
		p->n_ports++;
	}
	return 0;
}

static int parse_pod(struct doc_ctx *d, const struct node *root, struct pl_k8s_pod *p)
{
	const struct node *spec = get(root, "spec"), *status = get(root, "status"), *n, *seq;
	char path[PATH_SIZE];
	size_t i;

	n = get(get(root, "metadata"), "labels");
	if (n && parse_labels(d, n, "metadata.labels", &p->labels))
		return -EINVAL;
	if (spec && want(d, spec, N_MAP, "spec"))
		return -EINVAL;
	if ((n = get(spec, "nodeName"))) {
		if (get_str(d, n, "spec.nodeName", p->node_name, PL_K8S_NAME_MAX))
			return -EINVAL;
	}
	if ((seq = get(spec, "containers"))) {
		if (want(d, seq, N_SEQ, "spec.containers"))
			return -EINVAL;
		for (i = 0; i < seq->n_kids; i++)
			if (parse_container_ports(d, seq->kids[i], i, p))
				return -EINVAL;
	}
	if (status && want(d, status, N_MAP, "status"))
		return -EINVAL;
	if (get_seq(d, status, "podIPs", "status.podIPs", PL_K8S_MAX_POD_IPS, &seq))
		return -EINVAL;
	for (i = 0; seq && i < seq->n_kids; i++) {
		joinidx(path, sizeof(path), "status", "podIPs", i);
		if (want(d, seq->kids[i], N_MAP, path))
			return -EINVAL;
		strncat(path, ".ip", sizeof(path) - strlen(path) - 1);
		if (!(n = get(seq->kids[i], "ip"))) {
			fail(d, seq->kids[i]->line, path, "required, expected an IP address");
			return -EINVAL;
		}
		if (add_pod_ip(d, n, path, p))
			return -EINVAL;
	}
	if ((n = get(status, "podIP")) && add_pod_ip(d, n, "status.podIP", p))
		return -EINVAL;
	return 0;
}

/* ---- documents ---- */

static const struct kind_info {
	enum pl_k8s_kind kind;
	const char *name;
	const char *api;
	const char *article; /* "a" or "an", for messages */
	bool cluster_scoped;
} kinds[] = {
	{ PL_K8S_SERVICE, "Service", "v1", "a", false },
	{ PL_K8S_ENDPOINT_SLICE, "EndpointSlice", "discovery.k8s.io/v1", "an", false },
	{ PL_K8S_NETWORK_POLICY, "NetworkPolicy", "networking.k8s.io/v1", "a", false },
	{ PL_K8S_NAMESPACE, "Namespace", "v1", "a", true },
	{ PL_K8S_POD, "Pod", "v1", "a", false },
	{ PL_K8S_TIER_POLICY, "TierPolicy", "policy.podlane.io/v1alpha1", "a", false },
};

#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
#define KIND_LIST "Service, EndpointSlice, NetworkPolicy, Namespace, Pod or TierPolicy"
#define API_LIST "v1, discovery.k8s.io/v1, networking.k8s.io/v1 or policy.podlane.io/v1alpha1"

static const struct kind_info *kind_info(const char *name)
{
	size_t i;

	for (i = 0; i < N_KINDS; i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

static int parse_doc(struct doc_ctx *d, const struct node *root, struct pl_k8s_object *obj)
{
	const struct node *api, *kind, *meta, *n;
	const struct kind_info *ki = NULL;

	if (want(d, root, N_MAP, "(document)"))
		return -EINVAL;
	if (check_maps(d, root))
		return -EINVAL;
	/* Identity first, so that every later message can name the object. */
	kind = get(root, "kind");
	if (kind && kind->type == N_SCALAR) {
		d->kind_name = kind->value;
		ki = kind_info(kind->value);
	}
	/* A Namespace is cluster-scoped: its identity has no namespace ("Namespace//NAME"). */
	d->cluster_scoped = ki && ki->cluster_scoped;
	meta = get(root, "metadata");
	if (meta && meta->type == N_MAP) {
		n = get(meta, "namespace");
		if (!d->cluster_scoped && n && n->type == N_SCALAR &&
			n->value_len <= PL_K8S_NS_MAX && dns_name_ok(n->value))
			snprintf(d->ns, sizeof(d->ns), "%s", n->value);
		n = get(meta, "name");
		if (n && n->type == N_SCALAR && n->value_len <= PL_K8S_NAME_MAX &&
			dns_name_ok(n->value))
			snprintf(d->name, sizeof(d->name), "%s", n->value);
	}
	if (!d->ns[0] && !d->cluster_scoped)
		snprintf(d->ns, sizeof(d->ns), "default");

	if (!(api = get(root, "apiVersion"))) {
		fail(d, root->line, "apiVersion", "required, expected %s", ki ? ki->api : API_LIST);
		return -EINVAL;
	}
	if (!kind) {
		fail(d, root->line, "kind", "required, expected " KIND_LIST);
		return -EINVAL;
	}
	if (want(d, api, N_SCALAR, "apiVersion") || want(d, kind, N_SCALAR, "kind"))
		return -EINVAL;
	if (!ki) {
		fail(d, kind->line, "kind", "expected " KIND_LIST ", got '%.*s'", QUOTE_MAX,
			kind->value);
		return -EINVAL;
	}
	if (strcmp(api->value, ki->api)) {
		fail(d, api->line, "apiVersion", "expected %s for %s %s, got '%.*s'", ki->api,
			ki->article, ki->name, QUOTE_MAX, api->value);
		return -EINVAL;
	}
	d->kind = ki->kind;
	if (!meta) {
		fail(d, root->line, "metadata", "required, expected a mapping");
		return -EINVAL;
	}
	if (want(d, meta, N_MAP, "metadata"))
		return -EINVAL;
	if (d->cluster_scoped) {
		/* metadata.namespace means nothing here; obj->ns stays "". */
	} else if ((n = get(meta, "namespace"))) {
		if (get_str(d, n, "metadata.namespace", obj->ns, PL_K8S_NS_MAX))
			return -EINVAL;
		/* A namespace is a DNS label: no dots. */
		if (!dns_name_ok(obj->ns) || strchr(obj->ns, '.')) {
			fail(d, n->line, "metadata.namespace",
				"expected lowercase letters, digits and '-'");
			return -EINVAL;
		}
	} else {
		snprintf(obj->ns, sizeof(obj->ns), "default");
	}
	if (!(n = get(meta, "name"))) {
		fail(d, meta->line, "metadata.name", "required, expected a name");
		return -EINVAL;
	}
	if (get_str(d, n, "metadata.name", obj->name, PL_K8S_NAME_MAX))
		return -EINVAL;
	if (!dns_name_ok(obj->name)) {
		fail(d, n->line, "metadata.name",
			"expected lowercase letters, digits, '-' and '.', got '%.*s'", QUOTE_MAX,
			n->value);
		return -EINVAL;
	}
	if (d->kind == PL_K8S_NAMESPACE &&
		(n->value_len > PL_K8S_NS_MAX || strchr(obj->name, '.'))) {
		/* It names the namespace of other objects: a DNS label. */
		fail(d, n->line, "metadata.name",
			"expected at most %d lowercase letters, digits and '-' for a Namespace, "
			"got '%.*s'",
			PL_K8S_NS_MAX, QUOTE_MAX, n->value);
		return -EINVAL;
	}
	obj->kind = d->kind;
	switch (d->kind) {
	case PL_K8S_SERVICE:
		return parse_service(d, root, &obj->svc);
	case PL_K8S_ENDPOINT_SLICE:
		return parse_eps(d, root, &obj->eps);
	case PL_K8S_NETWORK_POLICY:
		return parse_netpol(d, root, false, &obj->np);
	case PL_K8S_TIER_POLICY:
		return parse_netpol(d, root, true, &obj->np);
	case PL_K8S_NAMESPACE:
		return parse_namespace(d, root, obj->name, &obj->nsobj);
	case PL_K8S_POD:
		return parse_pod(d, root, &obj->pod);
	default:
		return -EINVAL;
	}
}

int pl_k8s_parse_buffer(const char *name, const char *buf, size_t len, pl_k8s_doc_fn *cb, void *ctx,
	char *err, size_t err_size)
{
	struct reader r = { .file = name };
	int n_bad = 0, rc = 0;
	bool have_err = false;

	if (err && err_size)
		err[0] = '\0';
	if (len > PL_K8S_MAX_FILE_SIZE) {
		if (err && err_size)
			snprintf(err, err_size, "%s: %zu bytes, more than the %d allowed", name,
				len, PL_K8S_MAX_FILE_SIZE);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&r.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)buf, len);
	for (;;) {
		struct doc_ctx d = { .file = name };
		struct pl_k8s_doc doc = { 0 };
		struct node *root = NULL;
		yaml_event_t ev;

		rc = next_event(&r, &ev, &d);
		if (rc == -ENOMEM)
			break;
		if (!rc) {
			yaml_event_type_t t = ev.type;

			doc.line = ev.start_mark.line + 1;
			yaml_event_delete(&ev);
			if (t == YAML_STREAM_END_EVENT)
				break;
			if (t != YAML_STREAM_START_EVENT && t != YAML_DOCUMENT_START_EVENT &&
				t != YAML_DOCUMENT_END_EVENT) {
				/* The root node. */
				continue;
			}
			if (t != YAML_DOCUMENT_START_EVENT)
				continue;
			rc = next_event(&r, &ev, &d);
			if (!rc && ev.type == YAML_DOCUMENT_END_EVENT) {
				/* An empty document ("---" alone) carries nothing. */
				yaml_event_delete(&ev);
				continue;
			}
			if (!rc)
				rc = read_node(&r, &ev, &root, 0, &d);
			if (!rc && is_null(root)) {
				/* So is a document holding only a null. */
				node_free(root);
				continue;
			}
		}
		if (rc == -ENOMEM) {
			node_free(root);
			break;
		}
		if (!rc) {
			doc.obj = calloc(1, sizeof(*doc.obj));
			if (!doc.obj) {
				node_free(root);
				rc = -ENOMEM;
				break;
			}
			doc.obj->line = root->line;
			rc = parse_doc(&d, root, doc.obj);
			node_free(root);
			if (rc == -ENOMEM) {
				pl_k8s_object_destroy(&doc.obj);
				break;
			}
			if (rc)
				pl_k8s_object_destroy(&doc.obj);
		}
		if (rc) {
			n_bad++;
			doc.error = d.msg;
			doc.kind = d.kind;
			doc.ns = d.ns;
			doc.name = d.name;
			if (!have_err && err && err_size)
				snprintf(err, err_size, "%s", d.msg);
			have_err = true;
		} else {
			doc.kind = doc.obj->kind;
			doc.ns = doc.obj->ns;
			doc.name = doc.obj->name;
		}
		if (cb)
			cb(&doc, ctx);
		pl_k8s_object_destroy(&doc.obj);
		/* libyaml cannot go on after a syntax error. */
		if (r.parser.error != YAML_NO_ERROR)
			break;
		rc = 0;
	}
	yaml_parser_delete(&r.parser);
	if (rc == -ENOMEM) {
		if (err && err_size)
			snprintf(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	return n_bad;
}

int pl_k8s_parse_file(const char *path, pl_k8s_doc_fn *cb, void *ctx, char *err, size_t err_size)
{
	struct stat st;
	ssize_t got;
	size_t used = 0;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (err && err_size)
			snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		if (err && err_size)
			snprintf(err, err_size, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		if (err && err_size)
			snprintf(err, err_size, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > PL_K8S_MAX_FILE_SIZE) {
		if (err && err_size)
			snprintf(err, err_size, "%s: %lld bytes, more than the %d allowed", path,
				(long long)st.st_size, PL_K8S_MAX_FILE_SIZE);
		close(fd);
		return -EFBIG;
	}
	/* One byte more than allowed, to notice a file that grew since fstat. */
	buf = malloc(PL_K8S_MAX_FILE_SIZE + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (used <= PL_K8S_MAX_FILE_SIZE) {
		got = read(fd, buf + used, PL_K8S_MAX_FILE_SIZE + 1 - used);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			if (err && err_size)
				snprintf(err, err_size, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return rc;
		}
		if (!got)
			break;
		used += (size_t)got;
	}
	close(fd);
	rc = pl_k8s_parse_buffer(path, buf, used, cb, ctx, err, err_size);
	free(buf);
	return rc;
}

void pl_k8s_object_destroy(struct pl_k8s_object **objp)
{
	struct pl_k8s_object *obj;

	if (!objp || !*objp)
		return;
	obj = *objp;
	if (obj->kind == PL_K8S_ENDPOINT_SLICE)
		free(obj->eps.endpoints);
	if (obj->kind == PL_K8S_NETWORK_POLICY || obj->kind == PL_K8S_TIER_POLICY) {
		free_rules(&obj->np.ingress_rules, &obj->np.n_ingress);
		free_rules(&obj->np.egress_rules, &obj->np.n_egress);
	}
	free(obj);
	*objp = NULL;
}

static bool rules_equal(const struct pl_k8s_np_rule *x, const struct pl_k8s_np_rule *y, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (x[i].action != y[i].action || x[i].n_ports != y[i].n_ports ||
			x[i].n_peers != y[i].n_peers ||
			memcmp(x[i].ports, y[i].ports, sizeof(x[i].ports)))
			return false;
		if (x[i].n_peers &&
			memcmp(x[i].peers, y[i].peers, x[i].n_peers * sizeof(*x[i].peers)))
			return false;
	}
	return true;
}

/* Objects are built in zeroed memory, so byte comparison is exact; only the endpoint, rule and
 * peer arrays are behind pointers. The document's line is not content. */
bool pl_k8s_object_equal(const struct pl_k8s_object *a, const struct pl_k8s_object *b)
{
	if (a->kind != b->kind || strcmp(a->ns, b->ns) || strcmp(a->name, b->name))
		return false;
	switch (a->kind) {
	case PL_K8S_SERVICE:
		return !memcmp(&a->svc, &b->svc, sizeof(a->svc));
	case PL_K8S_ENDPOINT_SLICE: {
		const struct pl_k8s_eps *x = &a->eps, *y = &b->eps;

		return !strcmp(x->service_name, y->service_name) && x->family == y->family &&
		       x->n_endpoints == y->n_endpoints && x->n_ports == y->n_ports &&
		       !memcmp(x->ports, y->ports, sizeof(x->ports)) &&
		       (!x->n_endpoints || !memcmp(x->endpoints, y->endpoints,
						   x->n_endpoints * sizeof(*x->endpoints)));
	}
	case PL_K8S_NETWORK_POLICY:
	case PL_K8S_TIER_POLICY: {
		const struct pl_k8s_netpol *x = &a->np, *y = &b->np;

		return !memcmp(&x->pod_sel, &y->pod_sel, sizeof(x->pod_sel)) &&
		       x->ingress == y->ingress && x->egress == y->egress &&
		       x->n_ingress == y->n_ingress && x->n_egress == y->n_egress &&
		       x->tier == y->tier && x->order == y->order &&
		       !memcmp(&x->ns_sel, &y->ns_sel, sizeof(x->ns_sel)) &&
		       rules_equal(x->ingress_rules, y->ingress_rules, x->n_ingress) &&
		       rules_equal(x->egress_rules, y->egress_rules, x->n_egress);
	}
	case PL_K8S_NAMESPACE:
		return !memcmp(&a->nsobj, &b->nsobj, sizeof(a->nsobj));
	case PL_K8S_POD:
		return !memcmp(&a->pod, &b->pod, sizeof(a->pod));
	default:
		return true;
	}
}

const char *pl_k8s_kind_name(enum pl_k8s_kind kind)
{
	size_t i;

	for (i = 0; i < N_KINDS; i++)
		if (kinds[i].kind == kind)
			return kinds[i].name;
	return "?";
}

void pl_k8s_key(enum pl_k8s_kind kind, const char *ns, const char *name, char *key, size_t size)
{
	snprintf(key, size, "%s/%s/%s", pl_k8s_kind_name(kind), ns, name);
}

/* ---- object lists ---- */

struct list_ctx {
	struct pl_k8s_list *l;
	bool oom;
};

static void list_add(struct pl_k8s_doc *d, void *arg)
{
	struct list_ctx *c = arg;
	struct pl_k8s_list *l = c->l;
	if (!d->obj)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct pl_k8s_object **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			c->oom = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = d->obj;
	d->obj = NULL; /* kept */
}

int pl_k8s_list_parse_buffer(struct pl_k8s_list *l, const char *name, const char *buf, size_t len,
	char *err, size_t err_size)
{
	struct list_ctx c = { .l = l };
	int rc = pl_k8s_parse_buffer(name, buf, len, list_add, &c, err, err_size);
	return c.oom ? -ENOMEM : rc;
}

int pl_k8s_list_parse_file(struct pl_k8s_list *l, const char *path, char *err, size_t err_size)
{
	struct list_ctx c = { .l = l };
	int rc = pl_k8s_parse_file(path, list_add, &c, err, err_size);
	return c.oom ? -ENOMEM : rc;
}

void pl_k8s_list_clear(struct pl_k8s_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		pl_k8s_object_destroy(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
