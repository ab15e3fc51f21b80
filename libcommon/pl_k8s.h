/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes-shaped YAML documents (v1 Service, discovery.k8s.io/v1 EndpointSlice,
 * networking.k8s.io/v1 NetworkPolicy, v1 Namespace, v1 Pod, policy.podlane.io/v1alpha1 TierPolicy)
 * parsed with libyaml into fixed-limit C structs. Strict about what podlane uses, silent about
 * unknown fields. A file holds one or more documents; each is accepted or rejected whole, and
 * every error reads "FILE:LINE: <Kind> <ns>/<name>: field '<path>': <what was expected>"
 * ("<Kind> <name>" for a Namespace, which is cluster-scoped: its ns is "" and its key
 * "Namespace//<name>"). The datastore sources (pl_datastore.c) feed their files through here. */
#ifndef PL_K8S_H
#define PL_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_K8S_MAX_FILE_SIZE (1024 * 1024) /* a file (and so a document) larger is rejected */
#define PL_K8S_NAME_MAX 253 /* metadata.name, nodeName, service-name label */
#define PL_K8S_NS_MAX 63 /* metadata.namespace */
#define PL_K8S_PORT_NAME_MAX 63 /* port names and named targetPorts */
#define PL_K8S_MAX_PORTS 64 /* per Service and per EndpointSlice */
#define PL_K8S_MAX_CLUSTER_IPS 2 /* spec.clusterIPs: one per family */
#define PL_K8S_MAX_EXTERNAL_IPS 16
#define PL_K8S_MAX_INGRESS 16 /* status.loadBalancer.ingress */
#define PL_K8S_MAX_ENDPOINTS 1024 /* per EndpointSlice */
#define PL_K8S_MAX_ADDRESSES 16 /* per endpoint */
#define PL_K8S_MAX_DEPTH 32 /* YAML nesting */
/* "<Kind>/<ns>/<name>" fits in this, NUL included. */
#define PL_K8S_KEY_SIZE (16 + PL_K8S_NS_MAX + PL_K8S_NAME_MAX + 3)

enum pl_k8s_kind {
	PL_K8S_UNKNOWN = 0,
	PL_K8S_SERVICE,
	PL_K8S_ENDPOINT_SLICE,
	PL_K8S_NETWORK_POLICY, /* networking.k8s.io/v1 NetworkPolicy */
	PL_K8S_NAMESPACE, /* v1 Namespace */
	PL_K8S_POD, /* v1 Pod */
	PL_K8S_TIER_POLICY, /* policy.podlane.io/v1alpha1 TierPolicy (podlane's own) */
};

enum pl_k8s_proto {
	PL_K8S_TCP = 0,
	PL_K8S_UDP,
	PL_K8S_SCTP,
};

enum pl_k8s_svc_type {
	PL_K8S_CLUSTER_IP = 0,
	PL_K8S_NODE_PORT,
	PL_K8S_LOAD_BALANCER,
};

/* An address in binary form; family is AF_INET or AF_INET6, addr holds 4 or 16 bytes. */
struct pl_k8s_ip {
	uint8_t family;
	uint8_t addr[16];
};

struct pl_k8s_svc_port {
	char name[PL_K8S_PORT_NAME_MAX + 1];
	enum pl_k8s_proto protocol;
	uint16_t port;
	uint16_t target_port; /* 0 when target_port_name is used */
	char target_port_name[PL_K8S_PORT_NAME_MAX + 1]; /* "" when numeric */
	uint16_t node_port; /* 0 = not given */
};

struct pl_k8s_service {
	enum pl_k8s_svc_type type;
	bool headless; /* clusterIP: None */
	struct pl_k8s_ip cluster_ips[PL_K8S_MAX_CLUSTER_IPS];
	size_t n_cluster_ips;
	struct pl_k8s_ip external_ips[PL_K8S_MAX_EXTERNAL_IPS];
	size_t n_external_ips;
	struct pl_k8s_ip ingress_ips[PL_K8S_MAX_INGRESS];
	size_t n_ingress_ips;
	struct pl_k8s_svc_port ports[PL_K8S_MAX_PORTS];
	size_t n_ports;
	bool affinity_client_ip;
	uint32_t affinity_timeout_s; /* 10800 (the Kubernetes default) unless given */
	bool external_local; /* externalTrafficPolicy: Local */
	bool internal_local; /* internalTrafficPolicy: Local */
};

struct pl_k8s_endpoint {
	struct pl_k8s_ip addresses[PL_K8S_MAX_ADDRESSES];
	size_t n_addresses;
	bool ready, serving, terminating;
	char node_name[PL_K8S_NAME_MAX + 1];
};

struct pl_k8s_eps_port {
	char name[PL_K8S_PORT_NAME_MAX + 1];
	enum pl_k8s_proto protocol;
	uint16_t port;
};

struct pl_k8s_eps {
	char service_name[PL_K8S_NAME_MAX + 1]; /* label kubernetes.io/service-name */
	uint8_t family; /* addressType: AF_INET or AF_INET6 */
	struct pl_k8s_endpoint *endpoints; /* n_endpoints of them, owned by the object */
	size_t n_endpoints;
	struct pl_k8s_eps_port ports[PL_K8S_MAX_PORTS];
	size_t n_ports;
};

/* ---- network policy objects ---- */

#define PL_K8S_MAX_LABELS 16 /* per object */
#define PL_K8S_LABEL_KEY_MAX 128 /* shorter than Kubernetes' 317: longer keys are rejected */
#define PL_K8S_LABEL_VALUE_MAX 63
#define PL_K8S_MAX_EXPRS 8 /* matchExpressions per selector */
#define PL_K8S_MAX_EXPR_VALUES 16
#define PL_K8S_MAX_RULES 64 /* per direction of a policy */
#define PL_K8S_MAX_PEERS 32 /* from/to entries per rule */
#define PL_K8S_MAX_EXCEPT 16 /* ipBlock.except entries */
#define PL_K8S_MAX_NP_PORTS 16 /* ports entries per rule */
#define PL_K8S_MAX_POD_IPS 2
#define PL_K8S_MAX_CONTAINER_PORTS 64 /* named ports of a pod, over all its containers */

struct pl_k8s_label {
	char key[PL_K8S_LABEL_KEY_MAX + 1];
	char value[PL_K8S_LABEL_VALUE_MAX + 1];
};

/* Sorted by key, so that equal sets compare equal. */
struct pl_k8s_labels {
	struct pl_k8s_label v[PL_K8S_MAX_LABELS];
	size_t n;
};

enum pl_k8s_sel_op {
	PL_K8S_OP_IN = 0,
	PL_K8S_OP_NOT_IN,
	PL_K8S_OP_EXISTS,
	PL_K8S_OP_DOES_NOT_EXIST,
};

struct pl_k8s_expr {
	char key[PL_K8S_LABEL_KEY_MAX + 1];
	enum pl_k8s_sel_op op;
	char values[PL_K8S_MAX_EXPR_VALUES][PL_K8S_LABEL_VALUE_MAX + 1];
	size_t n_values; /* In/NotIn: >= 1; Exists/DoesNotExist: 0 */
};

/* A LabelSelector. present false: the field was absent. Present and empty matches all. */
struct pl_k8s_selector {
	bool present;
	struct pl_k8s_labels match_labels;
	struct pl_k8s_expr exprs[PL_K8S_MAX_EXPRS];
	size_t n_exprs;
};

struct pl_k8s_cidr {
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t len;
	uint8_t addr[16]; /* host bits must be zero (rejected otherwise) */
};

/* One from/to entry: podSelector and/or namespaceSelector, or ipBlock (exclusive). */
struct pl_k8s_peer {
	struct pl_k8s_selector pod_sel; /* present when given */
	struct pl_k8s_selector ns_sel;
	bool has_ip_block;
	struct pl_k8s_cidr cidr;
	struct pl_k8s_cidr except[PL_K8S_MAX_EXCEPT]; /* each inside cidr, same family */
	size_t n_except;
};

struct pl_k8s_np_port {
	enum pl_k8s_proto protocol; /* default TCP */
	bool has_port; /* false: every port of the protocol */
	uint16_t port; /* when numeric */
	char port_name[PL_K8S_PORT_NAME_MAX + 1]; /* "" when numeric */
	uint16_t end_port; /* 0: none; else >= port, numeric port required */
};

enum pl_k8s_action {
	PL_K8S_ALLOW = 0, /* the only one a NetworkPolicy has */
	PL_K8S_DENY,
	PL_K8S_PASS, /* TierPolicy: go on with the next tier */
	PL_K8S_LOG, /* TierPolicy: record a flow log and go on with the next rule */
};

struct pl_k8s_np_rule {
	enum pl_k8s_action action; /* TierPolicy's `action`, default Allow */
	struct pl_k8s_np_port ports[PL_K8S_MAX_NP_PORTS];
	size_t n_ports; /* 0: any port */
	struct pl_k8s_peer *peers; /* n_peers, owned by the object */
	size_t n_peers; /* 0: any peer */
};

/* NetworkPolicy, and TierPolicy which adds tier, order, namespaceSelector and actions. */
struct pl_k8s_netpol {
	struct pl_k8s_selector pod_sel; /* spec.podSelector (required; {} = all in namespace) */
	bool ingress, egress; /* policyTypes, with Kubernetes' defaults applied */
	/* Rules of a direction not in policyTypes are checked, then dropped (n_ 0, NULL). */
	struct pl_k8s_np_rule *ingress_rules; /* owned */
	size_t n_ingress;
	struct pl_k8s_np_rule *egress_rules; /* owned */
	size_t n_egress;
	/* TierPolicy only */
	uint32_t tier; /* spec.tier: lower first */
	int32_t order; /* spec.order: lower first within a tier */
	struct pl_k8s_selector ns_sel; /* spec.namespaceSelector: absent = its own namespace */
};

struct pl_k8s_namespace {
	struct pl_k8s_labels labels; /* plus kubernetes.io/metadata.name = name, always */
};

struct pl_k8s_container_port {
	char name[PL_K8S_PORT_NAME_MAX + 1];
	enum pl_k8s_proto protocol;
	uint16_t port;
};

struct pl_k8s_pod {
	struct pl_k8s_labels labels;
	char node_name[PL_K8S_NAME_MAX + 1]; /* spec.nodeName */
	struct pl_k8s_ip ips[PL_K8S_MAX_POD_IPS]; /* status.podIPs (or status.podIP) */
	size_t n_ips;
	struct pl_k8s_container_port ports[PL_K8S_MAX_CONTAINER_PORTS]; /* named ones only */
	size_t n_ports;
};

struct pl_k8s_object {
	enum pl_k8s_kind kind;
	char ns[PL_K8S_NS_MAX + 1];
	char name[PL_K8S_NAME_MAX + 1];
	size_t line; /* first line of the document in its file */
	union {
		struct pl_k8s_service svc;
		struct pl_k8s_eps eps;
		struct pl_k8s_netpol np; /* NetworkPolicy and TierPolicy */
		struct pl_k8s_namespace nsobj;
		struct pl_k8s_pod pod;
	};
};

/* One document's outcome. Valid: obj is set and error NULL; the callback may keep obj by setting
 * doc->obj = NULL (it then owns it), otherwise the parser destroys it. Invalid: obj is NULL,
 * error is the message, and kind/ns/name hold what was learnt of its identity (name "" when
 * unknown, e.g. a syntax error). */
struct pl_k8s_doc {
	size_t line;
	struct pl_k8s_object *obj;
	const char *error;
	enum pl_k8s_kind kind;
	const char *ns;
	const char *name;
};

typedef void pl_k8s_doc_fn(struct pl_k8s_doc *doc, void *ctx);

/* Parses every document of buf (len bytes; `name` is used in messages) and calls cb once per
 * document, in order. A YAML syntax error ends the file (libyaml cannot resynchronise): that
 * document counts as invalid and the following ones are not seen. Returns the number of invalid
 * documents (the first message also goes to err), or -errno when the input as a whole was
 * refused (-EFBIG over PL_K8S_MAX_FILE_SIZE, -ENOMEM). */
int pl_k8s_parse_buffer(const char *name, const char *buf, size_t len, pl_k8s_doc_fn *cb, void *ctx,
	char *err, size_t err_size);

/* The same for a file; -errno also when it cannot be read. */
int pl_k8s_parse_file(const char *path, pl_k8s_doc_fn *cb, void *ctx, char *err, size_t err_size);

void pl_k8s_object_destroy(struct pl_k8s_object **objp);

/* Every valid object of a YAML stream, in order (single-process tools and tests that build
 * tables from a file of objects, as the services build them from the datastore). */
struct pl_k8s_list {
	struct pl_k8s_object **v;
	size_t n, cap;
};

/* Parses buf (or the file at path) into l (empty or holding earlier objects: appended).
 * Returns 0, the number of invalid documents (the first message in err; the valid ones are
 * kept), or -errno as pl_k8s_parse_buffer. */
int pl_k8s_list_parse_buffer(struct pl_k8s_list *l, const char *name, const char *buf, size_t len,
	char *err, size_t err_size);
int pl_k8s_list_parse_file(struct pl_k8s_list *l, const char *path, char *err, size_t err_size);
/* Destroys every object; l is empty afterwards. */
void pl_k8s_list_clear(struct pl_k8s_list *l);

/* Same kind, identity and content. */
bool pl_k8s_object_equal(const struct pl_k8s_object *a, const struct pl_k8s_object *b);

/* "Service", "EndpointSlice", "NetworkPolicy", "Namespace", "Pod", "TierPolicy", or "?" */
const char *pl_k8s_kind_name(enum pl_k8s_kind kind);

/* "<Kind>/<ns>/<name>" into key (PL_K8S_KEY_SIZE bytes); "Namespace//<name>" for a Namespace. */
void pl_k8s_key(enum pl_k8s_kind kind, const char *ns, const char *name, char *key, size_t size);

#endif /* PL_K8S_H */
