/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes-shaped YAML documents (v1 Service, discovery.k8s.io/v1 EndpointSlice) parsed with
 * libyaml into fixed-limit C structs. Strict about what podlane uses, silent about unknown fields.
 * A file holds one or more documents; each is accepted or rejected whole, and every error reads
 * "FILE:LINE: <Kind> <ns>/<name>: field '<path>': <what was expected>". The datastore sources
 * (pl_datastore.c) feed their files through here. */
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

struct pl_k8s_object {
	enum pl_k8s_kind kind;
	char ns[PL_K8S_NS_MAX + 1];
	char name[PL_K8S_NAME_MAX + 1];
	size_t line; /* first line of the document in its file */
	union {
		struct pl_k8s_service svc;
		struct pl_k8s_eps eps;
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

/* Same kind, identity and content. */
bool pl_k8s_object_equal(const struct pl_k8s_object *a, const struct pl_k8s_object *b);

/* "Service", "EndpointSlice", or "?" */
const char *pl_k8s_kind_name(enum pl_k8s_kind kind);

/* "<Kind>/<ns>/<name>" into key (PL_K8S_KEY_SIZE bytes). */
void pl_k8s_key(enum pl_k8s_kind kind, const char *ns, const char *name, char *key, size_t size);

#endif /* PL_K8S_H */
