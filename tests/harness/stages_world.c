/* SPDX-License-Identifier: Apache-2.0 */
/* The world of stages_world.h. */
#include "stages_world.h"

const uint16_t world_ingress[WORLD_N_INGRESS] = { IF_UP, IF_HOST, IF_CLIENT, IF_WEB, IF_ISO, IF_FE,
	IF_SRV };

static const char config[] = "node_name: node-a\n"
			     "services:\n"
			     "  max_sessions: 1024\n";

#define POD(ns, name, app, ip4, ip6)                                              \
	"---\napiVersion: v1\nkind: Pod\n"                                        \
	"metadata: {name: " name ", namespace: " ns ", labels: {app: " app "}}\n" \
	"spec:\n  nodeName: node-a\n  containers: [{name: c, image: busybox}]\n"  \
	"status:\n  podIP: " ip4 "\n  podIPs: [{ip: " ip4 "}, {ip: \"" ip6 "\"}]\n"

#define SVC(ns, name, vip, eps_type, ep, node)                                                    \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns "}\n"     \
	"spec:\n  clusterIP: \"" vip "\"\n"                                                       \
	"  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080},\n"                    \
	"          {name: dns, port: 53, protocol: UDP, targetPort: 5353}]\n"                     \
	"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"                             \
	"metadata: {name: " name "-1, namespace: " ns                                             \
	", labels: {kubernetes.io/service-name: " name "}}\n"                                     \
	"addressType: " eps_type "\n"                                                             \
	"endpoints: [{addresses: [\"" ep "\"], conditions: {ready: true}, nodeName: " node "}]\n" \
	"ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 5353, protocol: "     \
	"UDP}]\n"

#define SVC_EMPTY(name, vip)                                                                   \
	"---\napiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: default}\n" \
	"spec:\n  clusterIP: \"" vip "\"\n"                                                    \
	"  ports: [{name: http, port: 80, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]\n"

static const char objects[] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n"
			      "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n"
			      "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: iso}\n"
			      "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: frontend, "
			      "labels: {team: frontend}}\n"
	/* clang-format off */
	POD("default", "client", "client", "10.244.0.16", "fd00:244::16")
	POD("web", "web", "web", "10.244.0.17", "fd00:244::17")
	POD("iso", "iso", "iso", "10.244.0.18", "fd00:244::18")
	POD("frontend", "fe", "fe", "10.244.0.19", "fd00:244::19")
	POD("default", "srv", "srv", "10.244.0.20", "fd00:244::20")
	SVC("default", "srv", "10.96.0.10", "IPv4", "10.244.0.20", "node-a")
	SVC("default", "srv6", "fd00:96::10", "IPv6", "fd00:244::20", "node-a")
	SVC("web", "web", "10.96.0.12", "IPv4", "10.244.0.17", "node-a")
	SVC("default", "remote", "10.96.0.13", "IPv4", "10.244.1.5", "node-b")
	SVC_EMPTY("empty", "10.96.0.11")
	SVC_EMPTY("empty6", "fd00:96::11")
	/* clang-format on */
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: deny-all, namespace: iso}\n"
	"spec: {podSelector: {}, policyTypes: [Ingress]}\n"
	"---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
	"metadata: {name: allow-fe-80, namespace: web}\n"
	"spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n"
	"  ingress:\n  - from: [{namespaceSelector: {matchLabels: {team: frontend}}}]\n"
	"    ports: [{protocol: TCP, port: 80}]\n";

static const struct h_iface ifaces[] = {
	{ .index = IF_UP, .mac = "02:00:00:00:01:10", .addrs = "192.168.1.10/24,fd00:1::10/64" },
	{ .index = IF_HOST, .mac = "02:00:00:00:02:02" },
	{ .index = IF_CLIENT, .addrs = "10.244.0.16/32,fd00:244::16/128" },
	{ .index = IF_WEB, .addrs = "10.244.0.17/32,fd00:244::17/128" },
	{ .index = IF_ISO, .addrs = "10.244.0.18/32,fd00:244::18/128" },
	{ .index = IF_FE, .addrs = "10.244.0.19/32,fd00:244::19/128" },
	{ .index = IF_SRV,
		.addrs = "10.244.0.20/32,fd00:244::20/128",
		.allow_src = "10.250.0.0/24" },
	{ .index = IF_GONE, .addrs = "10.244.0.21/32", .no_port = true },
	{ .index = IF_BROKEN, .addrs = "10.244.0.22/32", .tx_fails = true },
};

static const struct h_route routes[] = {
	{ .dst = "0.0.0.0/0", .gw = "192.168.1.1", .if_index = IF_UP },
	{ .dst = "::/0", .gw = "fd00:1::1", .if_index = IF_UP },
	{ .dst = "192.168.1.0/24", .if_index = IF_UP },
	{ .dst = "fd00:1::/64", .if_index = IF_UP },
	{ .dst = "10.244.1.0/24", .gw = "192.168.1.11", .if_index = IF_UP },
	{ .dst = "198.51.100.0/24", .if_index = IF_UP, .blackhole = true },
};

struct stage_harness *world_new(bool policy_unready, char *err, size_t err_size)
{
	const struct h_setup s = {
		.config_yaml = config,
		.objects_yaml = objects,
		.ifaces = ifaces,
		.n_ifaces = sizeof(ifaces) / sizeof(ifaces[0]),
		.routes = routes,
		.n_routes = sizeof(routes) / sizeof(routes[0]),
		.policy_unready = policy_unready,
	};
	return h_new(&s, err, err_size);
}
