/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's control side. It follows the datastore (Services and EndpointSlices) and the node's
 * addresses (the supervisor's interface objects on the state bus) and, whenever they change,
 * builds the inactive generation of the service table and switches to it in one store. A
 * build that fails (a limit) keeps the table in use. After a switch, UDP sessions to endpoints
 * that are gone are removed (a datagram flow has no end to wait for; TCP flows to a removed
 * endpoint end on their own, as with kube-proxy). Its housekeeping also expires sessions, a
 * bounded slice of the table per call, and it serves services/show and sessions/show|flush. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>
#include <rte_cycles.h>
#include <rte_hash_crc.h>

#include "natlb.h"
#include "natlb_build.h"
#include "pl_strmap.h"
#include "pl_log.h"
#include "pl_stage.h"

#define FULL_SWEEP_MS 5000 /* every session looked at about this often */
/* At most this many slots a call: housekeeping runs between bursts, so a long sleep's backlog
 * must not delay the packets that ended it (the sweep catches up over the next calls). */
#define SWEEP_MAX_SLOTS UINT64_C(4096)
#define SHOW_MAX 1000 /* sessions listed by sessions/show at most */
#define DS_RETRY_MS 1000

/* ---- datastore ---- */

static void on_set(const char *key, const struct pl_k8s_object *obj, void *ctx)
{
	struct natlb *nl = ctx;
	struct pl_strmap *ks = obj->kind == PL_K8S_SERVICE	    ? nl->services
			       : obj->kind == PL_K8S_ENDPOINT_SLICE ? nl->slices
								    : NULL;
	if (!ks)
		return;
	if (!pl_strmap_add(ks, key))
		PL_ERR("ctl", "out of memory for %s", key);
	nl->dirty = true;
}

static void on_del(const char *key, const struct pl_k8s_object *old, void *ctx)
{
	struct natlb *nl = ctx;
	if (old->kind == PL_K8S_SERVICE)
		pl_strmap_del(nl->services, key);
	else if (old->kind == PL_K8S_ENDPOINT_SLICE)
		pl_strmap_del(nl->slices, key);
	nl->dirty = true;
}

static void on_err(const char *msg, void *ctx)
{
	struct natlb *nl = ctx;
	PL_LOG_RL(PL_LOG_WARN, "datastore", "rejected: %s", msg);
	snprintf(nl->last_error, sizeof(nl->last_error), "%s", msg);
	pl_stats_inc(nl->s->stats, PL_NATLB_DATASTORE_REJECTED, 1);
}

static int ds_open(struct natlb *nl)
{
	const struct pl_config *cfg = &nl->s->cfg;
	nl->ds = pl_datastore_open(cfg, on_set, on_del, on_err, nl);
	return nl->ds ? 0 : -errno;
}

/* ---- building the service table ---- */

struct slice_list {
	const struct pl_k8s_object **v;
	size_t n, cap;
};

static void slice_list_free(void *p)
{
	struct slice_list *l = p;
	if (l)
		free(l->v);
	free(l);
}

/* Endpoint set of a generation, to find sessions whose endpoint is gone. */
struct be_set {
	uint64_t *h; /* hash | 1, 0 empty */
	uint32_t mask;
};

static uint64_t be_hash(const uint8_t *addr, uint16_t port)
{
	return ((uint64_t)rte_hash_crc(addr, 16, port) << 1) | 1;
}

static int be_set_build(struct be_set *s, const struct natlb_gen *g)
{
	uint32_t n = 64;
	while (n < 2 * (uint64_t)g->hdr->n_backends + 2)
		n <<= 1;
	s->h = calloc(n, sizeof(*s->h));
	if (!s->h)
		return -ENOMEM;
	s->mask = n - 1;
	for (uint32_t i = 0; i < g->hdr->n_backends; i++) {
		uint64_t h = be_hash(g->be[i].addr, g->be[i].port);
		uint32_t b = (uint32_t)(h >> 1) & s->mask;
		while (s->h[b] && s->h[b] != h)
			b = (b + 1) & s->mask;
		s->h[b] = h;
	}
	return 0;
}

/* Hash-only: a collision keeps a session that could have gone, never the reverse. */
static bool be_set_has(const struct be_set *s, const uint8_t *addr, uint16_t port)
{
	uint64_t h = be_hash(addr, port);
	for (uint32_t b = (uint32_t)(h >> 1) & s->mask; s->h[b]; b = (b + 1) & s->mask)
		if (s->h[b] == h)
			return true;
	return false;
}

static bool udp_gone(const struct pl_ct_session *s, void *arg)
{
	const struct be_set *set = arg;
	return s->key[0].proto == IPPROTO_UDP && (s->flags & PL_CT_F_DNAT) &&
	       s->state != PL_CT_AFFINITY && !be_set_has(set, s->key[1].src, s->key[1].sport);
}

/* A build runs on its own thread so that the packet loop (this thread) keeps forwarding
 * meanwhile (10,000 services take tens of milliseconds). It reads the datastore's objects and
 * the key sets, so neither is touched until it is over; it writes only the inactive generation
 * and switches with one store. The result, and the session clean-up that needs this thread (the
 * session table has one writer), are taken up in housekeeping. */
struct build_job {
	struct natlb *nl;
	struct natlb_node_addr node_addrs[NATLB_MAX_NODE_ADDRS];
	uint32_t n_node_addrs;
	struct natlb_builder b;
	int rc;
	uint64_t us;
	int done; /* atomic */
};

static void *build_main(void *arg)
{
	struct build_job *j = arg;
	struct natlb *nl = j->nl;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Slices by the service they belong to. */
	struct pl_strmap *by_svc = pl_strmap_new(nl->services->count * 2 + 64);
	size_t scratch_n = 0;
	PL_STRMAP_FOREACH(nl->slices, e)
	{
		const struct pl_k8s_object *o = pl_datastore_get(nl->ds, e->key);
		if (!by_svc || !o || o->kind != PL_K8S_ENDPOINT_SLICE)
			continue;
		char k[PL_K8S_KEY_SIZE];
		pl_k8s_key(PL_K8S_SERVICE, o->ns, o->eps.service_name, k, sizeof(k));
		struct pl_strmap_entry *s = pl_strmap_add(by_svc, k);
		if (!s)
			continue;
		struct slice_list *l = s->val;
		if (!l && !(l = s->val = calloc(1, sizeof(*l))))
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 4;
			const struct pl_k8s_object **v = realloc(l->v, cap * sizeof(*v));
			if (!v)
				continue;
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n++] = o;
		scratch_n += o->eps.n_endpoints;
	}
	struct natlb_backend *scratch = calloc(scratch_n + 1, sizeof(*scratch));
	natlb_build_begin(&j->b, &nl->tables);
	for (uint32_t i = 0; i < j->n_node_addrs; i++)
		natlb_build_node_addr(&j->b, j->node_addrs[i].family, j->node_addrs[i].addr);
	if (!scratch || !by_svc)
		j->b.err = -ENOMEM;
	PL_STRMAP_FOREACH(nl->services, e)
	{
		const struct pl_k8s_object *o = pl_datastore_get(nl->ds, e->key);
		if (!by_svc || !o || o->kind != PL_K8S_SERVICE)
			continue;
		struct pl_strmap_entry *s = pl_strmap_find(by_svc, e->key);
		const struct slice_list *l = s ? s->val : NULL;
		natlb_build_k8s_service(&j->b, o, l ? l->v : NULL, l ? l->n : 0,
			nl->s->cfg.node_name, scratch, scratch_n);
	}
	free(scratch);
	pl_strmap_destroy(&by_svc, slice_list_free);
	j->rc = natlb_build_commit(&j->b, pl_now_ms());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->us = (uint64_t)((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
			   (int64_t)(t1.tv_nsec - t0.tv_nsec) /
				   1000); /* signed: nsec may go back */
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	pl_service_wake(nl->s, PL_SVC_NAT_LB);
	return NULL;
}

static void build_start(struct natlb *nl)
{
	struct build_job *j = calloc(1, sizeof(*j));
	if (!j)
		return; /* still dirty: tried again next time */
	nl->dirty = false;
	j->nl = nl;
	memcpy(j->node_addrs, nl->node_addrs, sizeof(j->node_addrs));
	j->n_node_addrs = nl->n_node_addrs;
	if (pthread_create(&nl->build_thread, NULL, build_main, j) != 0) {
		PL_WARN("ctl", "no build thread (%s): building in line", strerror(errno));
		build_main(j);
	}
	nl->job = j;
}

/* Takes up a finished build. false while it runs. */
static bool build_finish(struct natlb *nl)
{
	struct build_job *j = nl->job;
	if (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
		return false;
	pthread_join(nl->build_thread, NULL);
	nl->job = NULL;
	nl->last_build_us = j->us;
	int rc = j->rc;
	if (rc < 0) {
		if (snprintf(nl->last_error, sizeof(nl->last_error),
			    "service table not switched: %s",
			    j->b.msg[0] ? j->b.msg : strerror(-rc)) >= (int)sizeof(nl->last_error))
			nl->last_error[sizeof(nl->last_error) - 2] = '~';
		PL_ERR("ctl", "%s; the previous table stays in use", nl->last_error);
		pl_stats_inc(nl->s->stats, PL_NATLB_TABLE_ERRORS, 1);
		free(j);
		return true;
	}
	free(j);
	pl_stats_inc(nl->s->stats, PL_NATLB_TABLE_REBUILDS, 1);
	const struct natlb_gen *g = natlb_active(&nl->tables);
	PL_INFO("ctl", "service table %lu: %u services, %u frontends, %u endpoints in %lu us",
		(unsigned long)g->hdr->serial, g->hdr->n_services, g->hdr->n_frontends,
		g->hdr->n_backends, (unsigned long)nl->last_build_us);
	struct be_set set;
	if (be_set_build(&set, g) == 0) {
		uint32_t n = pl_ct_flush(&nl->ct, udp_gone, &set);
		free(set.h);
		if (n) {
			pl_stats_inc(nl->s->stats, PL_NATLB_SESSIONS_EXPIRED, n);
			PL_INFO("ctl", "%u UDP sessions to removed endpoints cleared", n);
		}
	}
	return true;
}

/* ---- state bus: node addresses ---- */

static void bus_apply(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size)
{
	struct natlb *nl = ctx;
	(void)key;
	if (strcmp(kind, PL_OBJ_KIND_IFACE) != 0 || op != PL_BUS_OP_SET)
		return;
	struct pl_obj_iface o;
	if (pl_obj_iface_decode(value, size, &o) < 0) {
		pl_stats_inc(nl->s->stats, PL_C_BUS_REJECTED, 1);
		return;
	}
	if (o.role != PL_ROLE_UPLINK)
		return;
	struct natlb_node_addr a[NATLB_MAX_NODE_ADDRS];
	uint32_t n = 0;
	memset(a, 0, sizeof(a));
	for (unsigned int i = 0; i < o.n_addrs && n < NATLB_MAX_NODE_ADDRS; i++) {
		const struct pl_prefix *p = &o.addrs[i];
		if (p->family == AF_INET6 && p->addr[0] == 0xfe && (p->addr[1] & 0xc0) == 0x80)
			continue; /* link-local: no NodePort there */
		a[n].family = p->family;
		memcpy(a[n].addr, p->addr, p->family == AF_INET ? 4 : 16);
		n++;
	}
	if (n != nl->n_node_addrs || memcmp(a, nl->node_addrs, sizeof(a)) != 0) {
		memcpy(nl->node_addrs, a, sizeof(a));
		nl->n_node_addrs = n;
		nl->dirty = true;
	}
}

/* ---- admin ---- */

static void fmt_addr(char *buf, size_t size, uint8_t family, const uint8_t *addr, uint16_t port_be)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, a, sizeof(a));
	if (family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, rte_be_to_cpu_16(port_be));
	else
		snprintf(buf, size, "%s:%u", a, rte_be_to_cpu_16(port_be));
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "TCP" : p == IPPROTO_UDP ? "UDP" : "?";
}

static int cmd_services(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct natlb *nl = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "services/show takes no arguments");
	const struct natlb_gen *g = natlb_active(&nl->tables);
	struct json_object *arr = json_object_new_array();
	pl_admin_printf(
		r, "%-32s %-10s %-46s %6s %s\n", "SERVICE", "KIND", "FRONTEND", "ENDPTS", "FLAGS");
	for (uint32_t i = 0; g && i < g->hdr->n_frontends; i++) {
		const struct natlb_frontend *f = &g->fe[i];
		const struct natlb_group *gr = &g->groups[f->group];
		char fe[80];
		if (f->flags & NATLB_FE_NODEPORT)
			snprintf(fe, sizeof(fe), "%s:%u", f->key.family == AF_INET ? "*" : "[*]",
				rte_be_to_cpu_16(f->key.port));
		else
			fmt_addr(fe, sizeof(fe), f->key.family, f->key.addr, f->key.port);
		const char *kind = (f->flags & NATLB_FE_NODEPORT)   ? "NodePort"
				   : (f->flags & NATLB_FE_EXTERNAL) ? "External"
								    : "ClusterIP";
		uint32_t usable = 0, local = 0;
		struct json_object *eps = json_object_new_array();
		for (uint32_t k = 0; k < gr->be_count; k++) {
			const struct natlb_backend *b = &g->be[gr->be_first + k];
			char ba[80];
			fmt_addr(ba, sizeof(ba), b->family, b->addr, b->port);
			struct json_object *e = json_object_new_object();
			json_object_object_add(e, "address", json_object_new_string(ba));
			json_object_object_add(
				e, "ready", json_object_new_boolean(b->flags & NATLB_BE_READY));
			json_object_object_add(
				e, "serving", json_object_new_boolean(b->flags & NATLB_BE_SERVING));
			json_object_object_add(e, "terminating",
				json_object_new_boolean(b->flags & NATLB_BE_TERMINATING));
			json_object_object_add(
				e, "local", json_object_new_boolean(b->flags & NATLB_BE_LOCAL));
			json_object_object_add(
				e, "usable", json_object_new_boolean(b->flags & NATLB_BE_USABLE));
			json_object_array_add(eps, e);
			usable += (b->flags & NATLB_BE_USABLE) != 0;
			local += (b->flags & NATLB_BE_USABLE) && (b->flags & NATLB_BE_LOCAL);
		}
		char fl[64];
		snprintf(fl, sizeof(fl), "%s%s", (f->flags & NATLB_FE_AFFINITY) ? "affinity " : "",
			(f->flags & NATLB_FE_LOCAL) ? "local" : "");
		pl_admin_printf(r, "%-32s %-10s %-46s %2u/%-3u %s\n", g->names[f->service], kind,
			fe, (f->flags & NATLB_FE_LOCAL) ? local : usable, gr->be_count, fl);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "service", json_object_new_string(g->names[f->service]));
		json_object_object_add(o, "kind", json_object_new_string(kind));
		json_object_object_add(o, "frontend", json_object_new_string(fe));
		json_object_object_add(
			o, "protocol", json_object_new_string(proto_name(f->key.proto)));
		json_object_object_add(
			o, "affinity", json_object_new_boolean(f->flags & NATLB_FE_AFFINITY));
		json_object_object_add(
			o, "local_only", json_object_new_boolean(f->flags & NATLB_FE_LOCAL));
		json_object_object_add(o, "endpoints", eps);
		json_object_array_add(arr, o);
	}
	pl_admin_printf(r, "node addresses (NodePorts, SNAT):");
	for (uint32_t i = 0; g && i < g->hdr->n_node_addrs; i++) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(g->hdr->node_addrs[i].family, g->hdr->node_addrs[i].addr, a, sizeof(a));
		pl_admin_printf(r, " %s", a);
	}
	pl_admin_printf(r, "\n");
	pl_admin_printf(r, "table %lu built in %lu us; %u sessions of %u; last error: %s\n",
		g ? (unsigned long)g->hdr->serial : 0UL, (unsigned long)nl->last_build_us,
		nl->ct.t->count, nl->ct.t->capacity, nl->last_error[0] ? nl->last_error : "none");
	pl_admin_set_json(r, arr);
	return 0;
}

/* Filter words: an address (either side, either direction), port=N, proto=tcp|udp,
 * service=ns/name, state=NAME. All given must match. */
struct filter {
	bool has_addr;
	uint8_t family;
	uint8_t addr[16];
	int port;
	uint8_t proto;
	char service[NATLB_NAME_SIZE];
	int state;
	const struct natlb_gen *g;
};

static int filter_parse(struct filter *f, int argc, const char *const *argv, char *err, size_t sz)
{
	memset(f, 0, sizeof(*f));
	f->port = -1;
	f->state = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char *end;
		if (strncmp(a, "port=", 5) == 0) {
			long v = strtol(a + 5, &end, 10);
			if (*end || v < 0 || v > 65535)
				goto bad;
			f->port = (int)v;
		} else if (strcmp(a, "proto=tcp") == 0) {
			f->proto = IPPROTO_TCP;
		} else if (strcmp(a, "proto=udp") == 0) {
			f->proto = IPPROTO_UDP;
		} else if (strncmp(a, "service=", 8) == 0 && strlen(a + 8) < sizeof(f->service)) {
			snprintf(f->service, sizeof(f->service), "%s", a + 8);
		} else if (strncmp(a, "state=", 6) == 0) {
			for (int s = 1; s < PL_CT_STATE_MAX; s++)
				if (strcmp(a + 6, pl_ct_state_name((uint8_t)s)) == 0)
					f->state = s;
			if (f->state < 0)
				goto bad;
		} else if (inet_pton(AF_INET, a, f->addr) == 1) {
			f->has_addr = true;
			f->family = AF_INET;
		} else if (inet_pton(AF_INET6, a, f->addr) == 1) {
			f->has_addr = true;
			f->family = AF_INET6;
		} else {
			goto bad;
		}
		continue;
	bad:
		snprintf(err, sz,
			"bad filter '%s' (want an address, port=N, proto=tcp|udp, service=NS/NAME, "
			"state=syn|established|closing|udp|affinity)",
			a);
		return -EINVAL;
	}
	return 0;
}

static bool filter_match(const struct pl_ct_session *s, void *arg)
{
	const struct filter *f = arg;
	const struct pl_ct_key *k0 = &s->key[0], *k1 = &s->key[1];
	if (f->proto && k0->proto != f->proto)
		return false;
	if (f->state >= 0 && s->state != f->state)
		return false;
	if (f->has_addr) {
		if (k0->family != f->family)
			return false;
		if (memcmp(k0->src, f->addr, 16) && memcmp(k0->dst, f->addr, 16) &&
			memcmp(k1->src, f->addr, 16) && memcmp(k1->dst, f->addr, 16))
			return false;
	}
	if (f->port >= 0) {
		uint16_t p = rte_cpu_to_be_16((uint16_t)f->port);
		if (k0->sport != p && k0->dport != p && k1->sport != p && k1->dport != p)
			return false;
	}
	if (f->service[0]) {
		if (!f->g || s->frontend >= f->g->hdr->n_frontends)
			return false;
		if (strcmp(f->g->names[f->g->fe[s->frontend].service], f->service) != 0)
			return false;
	}
	return true;
}

static int cmd_sessions(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct natlb *nl = ctx;
	struct filter f;
	char err[256];
	if (filter_parse(&f, argc, argv, err, sizeof(err)) < 0)
		return pl_admin_error(r, EINVAL, "%s", err);
	f.g = natlb_active(&nl->tables);
	uint64_t now = pl_now_ms();
	struct json_object *arr = json_object_new_array();
	uint32_t shown = 0, matched = 0;
	pl_admin_printf(r, "%-4s %-11s %-47s %-47s %8s %s\n", "PROT", "STATE", "ORIGINAL",
		"REPLY (FROM ENDPOINT)", "TTL_S", "SERVICE");
	for (uint32_t i = 0; i < nl->ct.t->capacity; i++) {
		const struct pl_ct_session *s = &nl->ct.s[i];
		if (s->state == PL_CT_FREE || s->expires_ms <= now || !filter_match(s, &f))
			continue;
		matched++;
		if (shown >= SHOW_MAX)
			continue;
		shown++;
		const struct pl_ct_key *k0 = &s->key[0], *k1 = &s->key[1];
		char a[80], b[80], o[170], rp[170];
		fmt_addr(a, sizeof(a), k0->family, k0->src, k0->sport);
		fmt_addr(b, sizeof(b), k0->family, k0->dst, k0->dport);
		snprintf(o, sizeof(o), "%s->%s", a, b);
		fmt_addr(a, sizeof(a), k0->family, k1->src, k1->sport);
		if (s->state == PL_CT_AFFINITY)
			snprintf(rp, sizeof(rp), "pinned to %s", a);
		else {
			fmt_addr(b, sizeof(b), k0->family, k1->dst, k1->dport);
			snprintf(rp, sizeof(rp), "%s->%s", a, b);
		}
		const char *svc = f.g && s->frontend < f.g->hdr->n_frontends
					  ? f.g->names[f.g->fe[s->frontend].service]
					  : "-";
		pl_admin_printf(r, "%-4s %-11s %-47s %-47s %8lu %s\n", proto_name(k0->proto),
			pl_ct_state_name(s->state), o, rp,
			(unsigned long)((s->expires_ms - now) / 1000), svc);
		struct json_object *j = json_object_new_object();
		json_object_object_add(
			j, "protocol", json_object_new_string(proto_name(k0->proto)));
		json_object_object_add(
			j, "state", json_object_new_string(pl_ct_state_name(s->state)));
		json_object_object_add(j, "original", json_object_new_string(o));
		json_object_object_add(j, "reply", json_object_new_string(rp));
		fmt_addr(a, sizeof(a), k0->family, k1->src, k1->sport);
		json_object_object_add(j, "endpoint", json_object_new_string(a));
		json_object_object_add(
			j, "snat", json_object_new_boolean((s->flags & PL_CT_F_SNAT) != 0));
		json_object_object_add(
			j, "expires_in_ms", json_object_new_int64((int64_t)(s->expires_ms - now)));
		json_object_object_add(j, "packets", json_object_new_int64(s->packets));
		json_object_object_add(j, "service", json_object_new_string(svc));
		json_object_array_add(arr, j);
	}
	pl_admin_printf(r, "%u sessions match (%u shown); %u in use of %u\n", matched, shown,
		nl->ct.t->count, nl->ct.t->capacity);
	pl_admin_set_json(r, arr);
	return 0;
}

static int cmd_flush(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct natlb *nl = ctx;
	struct filter f;
	char err[256];
	if (filter_parse(&f, argc, argv, err, sizeof(err)) < 0)
		return pl_admin_error(r, EINVAL, "%s", err);
	f.g = natlb_active(&nl->tables);
	uint32_t n = pl_ct_flush(&nl->ct, filter_match, &f);
	pl_stats_inc(nl->s->stats, PL_NATLB_SESSIONS_EXPIRED, n);
	pl_admin_printf(r, "%u sessions flushed\n", n);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "flushed", json_object_new_int64(n));
	pl_admin_set_json(r, o);
	return 0;
}

/* ---- hooks ---- */

int natlb_ctl_init(void *ctx, struct pl_service *s, struct pl_dp *dp)
{
	struct natlb *nl = ctx;
	const struct pl_config *cfg = &s->cfg;
	(void)dp;
	nl->s = s;
	natlb_set_timeouts(nl, cfg);
	router_icmp_rl_init(&nl->reject_rl, cfg->router.icmp_rate * 10 + 100, rte_get_tsc_hz());
	int rc = pl_ct_open(&nl->ct, cfg->services.max_sessions);
	if (rc < 0) {
		PL_ERR("ctl", "session table: %s", strerror(-rc));
		return rc;
	}
	if (nl->ct.t->capacity != cfg->services.max_sessions)
		PL_WARN("ctl",
			"session table kept at %u sessions (services.max_sessions %u applies after "
			"a supervisor restart)",
			nl->ct.t->capacity, cfg->services.max_sessions);
	bool reset;
	rc = natlb_table_open(
		&nl->tables, cfg->services.max_frontends, cfg->services.max_backends, &reset);
	if (rc < 0) {
		PL_ERR("ctl", "service table: %s", strerror(-rc));
		return rc;
	}
	const struct natlb_gen *g = natlb_active(&nl->tables);
	PL_INFO("ctl", "%s session table (%u sessions in use); %s service table%s",
		nl->ct.created ? "new" : "found the", nl->ct.t->count, reset ? "new" : "found the",
		g ? " in use" : "");
	/* One build once the datastore is read, even when it is empty: the table found in shared
	 * memory may hold services deleted while nat-lb was away. */
	nl->dirty = true;
	nl->services = pl_strmap_new(4096);
	nl->slices = pl_strmap_new(4096);
	if (!nl->services || !nl->slices)
		return -ENOMEM;
	rc = ds_open(nl);
	if (rc < 0) {
		PL_WARN("ctl", "datastore (%s) not open yet: %s; retrying", cfg->datastore.source,
			strerror(-rc));
		nl->ds_retry = true;
	}
	const struct pl_bus_limits lim = pl_bus_limits_from_config(cfg);
	nl->sup_bus = pl_bus_consumer_new(s->zctx, cfg->run_dir, "supervisor", &lim, bus_apply, nl);
	if (!nl->sup_bus)
		return -errno;
	rc = pl_admin_register(s->admin, "services/show", "",
		"Service frontends, their endpoints and flags; table and session totals",
		cmd_services, nl);
	if (rc == 0)
		rc = pl_admin_register(s->admin, "sessions/show",
			"[ADDR] [port=N] [proto=tcp|udp] [service=NS/NAME] [state=S]",
			"Live sessions (conntrack), at most 1000 listed", cmd_sessions, nl);
	if (rc == 0)
		rc = pl_admin_register(s->admin, "sessions/flush",
			"[ADDR] [port=N] [proto=tcp|udp] [service=NS/NAME] [state=S]",
			"Remove the sessions that match (all without a filter)", cmd_flush, nl);
	return rc;
}

void natlb_ctl_fini(void *ctx)
{
	struct natlb *nl = ctx;
	if (nl->job) {
		pthread_join(nl->build_thread, NULL);
		__atomic_store_n(&nl->job->done, 1, __ATOMIC_RELEASE);
		build_finish(nl);
	}
	pl_bus_consumer_destroy(&nl->sup_bus);
	pl_datastore_destroy(&nl->ds);
	pl_strmap_destroy(&nl->services, NULL);
	pl_strmap_destroy(&nl->slices, NULL);
}

void natlb_ctl_housekeeping(void *ctx, uint64_t now_ms)
{
	struct natlb *nl = ctx;
	static uint64_t last_sweep;
	pl_bus_consumer_handle(nl->sup_bus, now_ms);
	pl_bus_consumer_tick(nl->sup_bus, now_ms);
	if (nl->ds_retry && now_ms >= nl->next_ds_try_ms) {
		nl->next_ds_try_ms = now_ms + DS_RETRY_MS;
		if (ds_open(nl) == 0) {
			nl->ds_retry = false;
			PL_INFO("ctl", "datastore open");
		}
	}
	if (nl->job && !build_finish(nl))
		goto expire; /* the build reads the datastore's objects: leave them alone */
	if (nl->ds && pl_datastore_handle(nl->ds) < 0)
		PL_LOG_RL(PL_LOG_WARN, "datastore", "watch failed: %s", strerror(errno));
	/* Make-before-break also across a restart: the table found in shared memory keeps
	 * serving until the datastore and the node's addresses are known again. */
	if (nl->dirty && nl->ds && pl_datastore_synced(nl->ds) &&
		pl_bus_consumer_synced(nl->sup_bus))
		build_start(nl);
expire:
	if (!last_sweep)
		last_sweep = now_ms;
	uint64_t dt = now_ms - last_sweep;
	uint64_t budget = (uint64_t)nl->ct.t->capacity * dt / FULL_SWEEP_MS;
	if (budget >= 64 || dt >= 1000) {
		last_sweep = now_ms;
		uint64_t slots = RTE_MIN(budget + 64, (uint64_t)nl->ct.t->capacity);
		uint32_t n = pl_ct_expire(
			&nl->ct, now_ms, (uint32_t)RTE_MIN(slots, SWEEP_MAX_SLOTS), NULL, NULL);
		if (n)
			pl_stats_inc(nl->s->stats, PL_NATLB_SESSIONS_EXPIRED, n);
	}
}

int natlb_ctl_poll_items(void *ctx, zmq_pollitem_t *items, int max)
{
	struct natlb *nl = ctx;
	int k = 0;
	if (max < 3)
		return 0;
	items[k++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(nl->sup_bus),
		.events = ZMQ_POLLIN };
	items[k++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(nl->sup_bus),
		.events = ZMQ_POLLIN };
	if (nl->ds)
		items[k++] =
			(zmq_pollitem_t){ .fd = pl_datastore_fd(nl->ds), .events = ZMQ_POLLIN };
	return k;
}
