/* SPDX-License-Identifier: Apache-2.0 */
/* Services and EndpointSlices into the service table (natlb_build.h); the session idle
 * timeouts from the config (natlb.h). */
#include "natlb_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "natlb.h"
#include "pl_log.h"

static uint8_t proto_of(enum pl_k8s_proto p)
{
	return p == PL_K8S_TCP ? IPPROTO_TCP : p == PL_K8S_UDP ? IPPROTO_UDP : 0;
}

/* The endpoint port of service port sp in slice e, 0 when the slice has none for it. */
static uint16_t slice_port(const struct pl_k8s_eps *e, const struct pl_k8s_svc_port *sp)
{
	for (size_t i = 0; i < e->n_ports; i++)
		if (e->ports[i].protocol == sp->protocol && strcmp(e->ports[i].name, sp->name) == 0)
			return e->ports[i].port;
	if (sp->target_port_name[0]) {
		for (size_t i = 0; i < e->n_ports; i++)
			if (e->ports[i].protocol == sp->protocol &&
				strcmp(e->ports[i].name, sp->target_port_name) == 0)
				return e->ports[i].port;
		return 0;
	}
	if (e->n_ports == 0)
		return sp->target_port ? sp->target_port : sp->port;
	return 0;
}

static void add_frontend(struct natlb_builder *b, const struct pl_k8s_ip *ip, uint16_t port,
	uint8_t proto, uint8_t flags, uint32_t group, uint32_t svc, uint32_t aff, const char *name)
{
	struct natlb_fe_key k;
	memset(&k, 0, sizeof(k));
	k.family = ip->family;
	memcpy(k.addr, ip->addr, ip->family == AF_INET ? 4 : 16);
	k.port = rte_cpu_to_be_16(port);
	k.proto = proto;
	if (natlb_build_frontend(b, &k, flags, group, svc, aff) == -EEXIST) {
		char a[INET6_ADDRSTRLEN] = "*";
		if (flags & NATLB_FE_NODEPORT)
			snprintf(a, sizeof(a), "node");
		else
			inet_ntop(ip->family, ip->addr, a, sizeof(a));
		PL_LOG_RL(PL_LOG_WARN, "ctl",
			"service %s: %s port %u/%s is another service's; skipped", name, a, port,
			proto == IPPROTO_TCP ? "TCP" : "UDP");
	}
}

void natlb_build_k8s_service(struct natlb_builder *b, const struct pl_k8s_object *o,
	const struct pl_k8s_object *const *slices, size_t n_slices, const char *node_name,
	struct natlb_backend *scratch, size_t scratch_n)
{
	const struct pl_k8s_service *sv = &o->svc;
	if (sv->headless)
		return;
	char name[NATLB_NAME_SIZE];
	if (snprintf(name, sizeof(name), "%s/%s", o->ns, o->name) >= (int)sizeof(name))
		name[sizeof(name) - 2] = '~'; /* cut: the name is for display */
	uint32_t si = natlb_build_service(b, name);
	if (si == NATLB_NONE)
		return;
	const int families[2] = { AF_INET, AF_INET6 };
	for (size_t pi = 0; pi < sv->n_ports; pi++) {
		const struct pl_k8s_svc_port *sp = &sv->ports[pi];
		uint8_t proto = proto_of(sp->protocol);
		if (!proto)
			continue; /* SCTP: not balanced yet */
		for (int fi = 0; fi < 2; fi++) {
			int fam = families[fi];
			bool used = false;
			for (size_t i = 0; i < sv->n_cluster_ips; i++)
				used |= sv->cluster_ips[i].family == fam;
			for (size_t i = 0; i < sv->n_external_ips; i++)
				used |= sv->external_ips[i].family == fam;
			for (size_t i = 0; i < sv->n_ingress_ips; i++)
				used |= sv->ingress_ips[i].family == fam;
			if (!used)
				continue;
			size_t n = 0;
			for (size_t li = 0; li < n_slices; li++) {
				const struct pl_k8s_eps *e = &slices[li]->eps;
				if (e->family != fam)
					continue;
				uint16_t port = slice_port(e, sp);
				if (!port)
					continue;
				for (size_t ei = 0; ei < e->n_endpoints && n < scratch_n; ei++) {
					const struct pl_k8s_endpoint *ep = &e->endpoints[ei];
					if (!ep->n_addresses)
						continue;
					struct natlb_backend *be = &scratch[n++];
					memset(be, 0, sizeof(*be));
					be->family = (uint8_t)fam;
					memcpy(be->addr, ep->addresses[0].addr,
						fam == AF_INET ? 4 : 16);
					be->port = rte_cpu_to_be_16(port);
					be->flags = (ep->ready ? NATLB_BE_READY : 0) |
						    (ep->serving ? NATLB_BE_SERVING : 0) |
						    (ep->terminating ? NATLB_BE_TERMINATING : 0) |
						    (strcmp(ep->node_name, node_name) == 0
								    ? NATLB_BE_LOCAL
								    : 0);
				}
			}
			uint32_t g = natlb_build_group(
				b, scratch, (uint32_t)n, sv->internal_local || sv->external_local);
			if (g == NATLB_NONE)
				return;
			uint8_t aff = sv->affinity_client_ip ? NATLB_FE_AFFINITY : 0;
			uint8_t internal = aff | (sv->internal_local ? NATLB_FE_LOCAL : 0);
			uint8_t external =
				aff | NATLB_FE_EXTERNAL | (sv->external_local ? NATLB_FE_LOCAL : 0);
			uint32_t to = sv->affinity_timeout_s;
			for (size_t i = 0; i < sv->n_cluster_ips; i++)
				if (sv->cluster_ips[i].family == fam)
					add_frontend(b, &sv->cluster_ips[i], sp->port, proto,
						internal, g, si, to, name);
			if (sp->node_port && sv->type != PL_K8S_CLUSTER_IP) {
				struct pl_k8s_ip any = { .family = (uint8_t)fam };
				add_frontend(b, &any, sp->node_port, proto,
					external | NATLB_FE_NODEPORT, g, si, to, name);
			}
			for (size_t i = 0; i < sv->n_external_ips; i++)
				if (sv->external_ips[i].family == fam)
					add_frontend(b, &sv->external_ips[i], sp->port, proto,
						external, g, si, to, name);
			for (size_t i = 0;
				sv->type == PL_K8S_LOAD_BALANCER && i < sv->n_ingress_ips; i++)
				if (sv->ingress_ips[i].family == fam)
					add_frontend(b, &sv->ingress_ips[i], sp->port, proto,
						external, g, si, to, name);
		}
	}
}

int natlb_build_k8s_objects(struct natlb_builder *b, const struct pl_k8s_object *const *objs,
	size_t n, const char *node_name)
{
	size_t scratch_n = 0;
	for (size_t i = 0; i < n; i++)
		if (objs[i]->kind == PL_K8S_ENDPOINT_SLICE)
			scratch_n += objs[i]->eps.n_endpoints;
	const struct pl_k8s_object **slices = calloc(n + 1, sizeof(*slices));
	struct natlb_backend *scratch = calloc(scratch_n + 1, sizeof(*scratch));
	if (!slices || !scratch) {
		free(slices);
		free(scratch);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pl_k8s_object *o = objs[i];
		if (o->kind != PL_K8S_SERVICE)
			continue;
		size_t k = 0;
		for (size_t j = 0; j < n; j++) {
			const struct pl_k8s_object *e = objs[j];
			if (e->kind == PL_K8S_ENDPOINT_SLICE && strcmp(e->ns, o->ns) == 0 &&
				strcmp(e->eps.service_name, o->name) == 0)
				slices[k++] = e;
		}
		natlb_build_k8s_service(b, o, slices, k, node_name, scratch, scratch_n);
	}
	free(slices);
	free(scratch);
	return 0;
}

void natlb_set_timeouts(struct natlb *nl, const struct pl_config *cfg)
{
	const uint64_t s = 1000;
	nl->timeout_ms[PL_CT_FREE] = 0;
	nl->timeout_ms[PL_CT_TCP_SYN] = cfg->services.tcp_syn_timeout_s * s;
	nl->timeout_ms[PL_CT_TCP_EST] = cfg->services.tcp_established_timeout_s * s;
	nl->timeout_ms[PL_CT_TCP_CLOSING] = cfg->services.tcp_closing_timeout_s * s;
	nl->timeout_ms[PL_CT_UDP] = cfg->services.udp_timeout_s * s;
	nl->timeout_ms[PL_CT_OTHER] = cfg->services.udp_timeout_s * s;
	nl->timeout_ms[PL_CT_AFFINITY] = 10800 * s;
}
