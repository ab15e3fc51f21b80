/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes-shaped YAML -> C structs. libyaml's event API builds a small tree per document
 * (anchors and aliases refused, depth and size bounded), then a walker reads the fields podlane
 * knows into a zeroed object, checking type, range and limit of each, and skips the rest. The
 * first error rejects the document with "FILE:LINE: <Kind> <ns>/<name>: field '<path>': ...". */
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
#define PATH_SIZE 128
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
	if (d->name[0])
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

/* ---- documents ---- */

static int parse_doc(struct doc_ctx *d, const struct node *root, struct pl_k8s_object *obj)
{
	const struct node *api, *kind, *meta, *n;

	if (want(d, root, N_MAP, "(document)"))
		return -EINVAL;
	if (check_maps(d, root))
		return -EINVAL;
	/* Identity first, so that every later message can name the object. */
	kind = get(root, "kind");
	if (kind && kind->type == N_SCALAR)
		d->kind_name = kind->value;
	meta = get(root, "metadata");
	if (meta && meta->type == N_MAP) {
		n = get(meta, "namespace");
		if (n && n->type == N_SCALAR && n->value_len <= PL_K8S_NS_MAX &&
			dns_name_ok(n->value))
			snprintf(d->ns, sizeof(d->ns), "%s", n->value);
		n = get(meta, "name");
		if (n && n->type == N_SCALAR && n->value_len <= PL_K8S_NAME_MAX &&
			dns_name_ok(n->value))
			snprintf(d->name, sizeof(d->name), "%s", n->value);
	}
	if (!d->ns[0])
		snprintf(d->ns, sizeof(d->ns), "default");

	if (!(api = get(root, "apiVersion"))) {
		fail(d, root->line, "apiVersion", "required, expected v1 or discovery.k8s.io/v1");
		return -EINVAL;
	}
	if (!kind) {
		fail(d, root->line, "kind", "required, expected Service or EndpointSlice");
		return -EINVAL;
	}
	if (want(d, api, N_SCALAR, "apiVersion") || want(d, kind, N_SCALAR, "kind"))
		return -EINVAL;
	if (!strcmp(kind->value, "Service")) {
		if (strcmp(api->value, "v1")) {
			fail(d, api->line, "apiVersion", "expected v1 for a Service, got '%.*s'",
				QUOTE_MAX, api->value);
			return -EINVAL;
		}
		d->kind = PL_K8S_SERVICE;
	} else if (!strcmp(kind->value, "EndpointSlice")) {
		if (strcmp(api->value, "discovery.k8s.io/v1")) {
			fail(d, api->line, "apiVersion",
				"expected discovery.k8s.io/v1 for an EndpointSlice, got '%.*s'",
				QUOTE_MAX, api->value);
			return -EINVAL;
		}
		d->kind = PL_K8S_ENDPOINT_SLICE;
	} else {
		fail(d, kind->line, "kind", "expected Service or EndpointSlice, got '%.*s'",
			QUOTE_MAX, kind->value);
		return -EINVAL;
	}
	if (!meta) {
		fail(d, root->line, "metadata", "required, expected a mapping");
		return -EINVAL;
	}
	if (want(d, meta, N_MAP, "metadata"))
		return -EINVAL;
	if ((n = get(meta, "namespace"))) {
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
	obj->kind = d->kind;
	if (d->kind == PL_K8S_SERVICE)
		return parse_service(d, root, &obj->svc);
	return parse_eps(d, root, &obj->eps);
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
	free(obj);
	*objp = NULL;
}

/* Objects are built in zeroed memory, so byte comparison is exact; only the endpoint array is
 * behind a pointer. The document's line is not content. */
bool pl_k8s_object_equal(const struct pl_k8s_object *a, const struct pl_k8s_object *b)
{
	if (a->kind != b->kind || strcmp(a->ns, b->ns) || strcmp(a->name, b->name))
		return false;
	if (a->kind == PL_K8S_SERVICE)
		return !memcmp(&a->svc, &b->svc, sizeof(a->svc));
	if (a->kind == PL_K8S_ENDPOINT_SLICE) {
		const struct pl_k8s_eps *x = &a->eps, *y = &b->eps;

		return !strcmp(x->service_name, y->service_name) && x->family == y->family &&
		       x->n_endpoints == y->n_endpoints && x->n_ports == y->n_ports &&
		       !memcmp(x->ports, y->ports, sizeof(x->ports)) &&
		       (!x->n_endpoints || !memcmp(x->endpoints, y->endpoints,
						   x->n_endpoints * sizeof(*x->endpoints)));
	}
	return true;
}

const char *pl_k8s_kind_name(enum pl_k8s_kind kind)
{
	switch (kind) {
	case PL_K8S_SERVICE:
		return "Service";
	case PL_K8S_ENDPOINT_SLICE:
		return "EndpointSlice";
	default:
		return "?";
	}
}

void pl_k8s_key(enum pl_k8s_kind kind, const char *ns, const char *name, char *key, size_t size)
{
	snprintf(key, size, "%s/%s/%s", pl_k8s_kind_name(kind), ns, name);
}
