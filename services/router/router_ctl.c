/* SPDX-License-Identifier: Apache-2.0 */
/* router's control side. It mirrors the supervisor's interfaces and routes and cni-server's
 * pods from the state bus and, whenever they change, makes the FIB match them with one
 * mark / add / sweep pass, so routes that still hold are never missing while it works (also
 * after a restart, when the FIB found in shared memory keeps forwarding meanwhile):
 *   uplink addresses  -> local (host tap)      pod addresses -> the pod's tun
 *   uplink routes     -> via their gateway, or glean for connected prefixes. */
#include "router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_memzone.h>

#include "pl_log.h"

static int find_route(const struct router *r, const char *key, bool alloc)
{
	int free_slot = -1;
	for (int i = 0; i < ROUTER_MAX_ROUTES; i++) {
		char k[64];
		if (!r->route_valid[i]) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		pl_obj_route_key(&r->routes[i], k, sizeof(k));
		if (strcmp(k, key) == 0)
			return i;
	}
	return alloc ? free_slot : -1;
}

static void apply(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size)
{
	struct router *r = ctx;
	if (strcmp(kind, PL_OBJ_KIND_ROUTE) == 0) {
		struct pl_obj_route ro;
		int i = find_route(r, key, op == PL_BUS_OP_SET);
		if (op == PL_BUS_OP_DEL) {
			if (i >= 0)
				r->route_valid[i] = false;
		} else if (pl_obj_route_decode(value, size, &ro) < 0 || i < 0) {
			PL_LOG_RL(PL_LOG_WARN, "ctl", "rejected route object '%s'", key);
			pl_stats_inc(r->s->stats, PL_C_BUS_REJECTED, 1);
			return;
		} else {
			r->routes[i] = ro;
			r->route_valid[i] = true;
		}
		r->dirty = true;
		return;
	}
	if (strcmp(kind, PL_OBJ_KIND_IFACE) != 0 && strcmp(kind, PL_OBJ_KIND_POD) != 0)
		return;
	char *end;
	unsigned long idx = strtoul(key, &end, 10);
	if (*end || idx >= PL_IF_MAX) {
		pl_stats_inc(r->s->stats, PL_C_BUS_REJECTED, 1);
		return;
	}
	if (op == PL_BUS_OP_DEL) {
		memset(&r->ifaces[idx], 0, sizeof(r->ifaces[idx]));
	} else {
		struct pl_obj_iface o;
		if (pl_obj_iface_decode(value, size, &o) < 0 || o.index != idx) {
			PL_LOG_RL(PL_LOG_WARN, "ctl", "rejected %s object '%s'", kind, key);
			pl_stats_inc(r->s->stats, PL_C_BUS_REJECTED, 1);
			return;
		}
		r->ifaces[idx] = o;
	}
	r->dirty = true;
}

static void add(struct router *r, const struct pl_prefix *p, uint8_t len, const struct pl_adj *a)
{
	int rc = router_fib_add(&r->fib, p->family, p->addr, len, a);
	if (rc < 0) {
		r->fib_errors++;
		char b[64];
		pl_prefix_format(p, false, b, sizeof(b));
		PL_LOG_RL(PL_LOG_WARN, "fib", "cannot install %s/%u: %s", b, len, strerror(-rc));
	}
}

void router_ctl_rebuild(struct router *r)
{
	const struct pl_obj_iface *up = NULL, *host = NULL;
	r->dirty = false;
	r->have_src4 = r->have_src6 = false;
	router_fib_mark_all(&r->fib);
	for (unsigned int i = 0; i < PL_IF_MAX; i++) {
		const struct pl_obj_iface *o = &r->ifaces[i];
		if (o->role == PL_ROLE_UPLINK)
			up = o;
		else if (o->role == PL_ROLE_HOST)
			host = o;
	}
	if (up) {
		for (unsigned int k = 0; k < up->n_addrs; k++) {
			const struct pl_prefix *p = &up->addrs[k];
			struct pl_adj a = { .kind = PL_ADJ_LOCAL,
				.family = p->family,
				.tx_if = PL_IF_HOST,
				.mtu = host ? host->mtu : up->mtu };
			add(r, p, p->family == AF_INET ? 32 : 128, &a);
			if (p->family == AF_INET && !r->have_src4) {
				memcpy(&r->src4, p->addr, 4);
				r->have_src4 = true;
			} else if (p->family == AF_INET6 && !r->have_src6) {
				memcpy(r->src6, p->addr, 16);
				r->have_src6 = true;
			}
		}
		for (int i = 0; i < ROUTER_MAX_ROUTES; i++) {
			const struct pl_obj_route *ro = &r->routes[i];
			if (!r->route_valid[i] || ro->if_index >= PL_IF_MAX ||
				!r->ifaces[ro->if_index].role)
				continue;
			struct pl_adj a = { .kind = ro->has_gw ? PL_ADJ_VIA : PL_ADJ_GLEAN,
				.family = ro->dst.family,
				.tx_if = ro->if_index,
				.mtu = r->ifaces[ro->if_index].mtu };
			if (ro->has_gw)
				memcpy(a.nh, ro->gw.addr, 16);
			add(r, &ro->dst, ro->dst.len, &a);
		}
	}
	for (unsigned int i = PL_IF_POD_BASE; i < PL_IF_MAX; i++) {
		const struct pl_obj_iface *o = &r->ifaces[i];
		if (o->role != PL_ROLE_POD)
			continue;
		for (unsigned int k = 0; k < o->n_addrs; k++) {
			const struct pl_prefix *p = &o->addrs[k];
			struct pl_adj a = { .kind = PL_ADJ_POD,
				.family = p->family,
				.tx_if = o->index,
				.mtu = o->mtu };
			add(r, p, p->family == AF_INET ? 32 : 128, &a);
		}
	}
	int swept = router_fib_sweep(&r->fib);
	PL_INFO("fib", "FIB rebuilt: %u routes (%d removed)", router_fib_count(&r->fib, 0), swept);
}

static int cmd_fib(struct pl_admin_reply *reply, int argc, const char *const *argv, void *ctx)
{
	struct router *r = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(reply, EINVAL, "fib/show takes no arguments");
	struct json_object *arr = router_fib_dump(&r->fib, 0);
	if (!arr)
		return pl_admin_error(reply, ENOMEM, "out of memory");
	pl_admin_printf(
		reply, "%-44s %-6s %5s %-40s %5s\n", "PREFIX", "KIND", "TX_IF", "NEXT HOP", "MTU");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		const char *f[5] = { "", "", "", "", "" };
		static const char *const keys[5] = { "prefix", "kind", "tx_if", "nh", "mtu" };
		for (int k = 0; k < 5; k++)
			if (json_object_object_get_ex(o, keys[k], &v))
				f[k] = json_object_get_string(v);
		pl_admin_printf(reply, "%-44s %-6s %5s %-40s %5s\n", f[0], f[1], f[2],
			f[3][0] ? f[3] : "-", f[4]);
	}
	pl_admin_set_json(reply, arr);
	return 0;
}

/* The route cache io-worker's fast path reads (pl_fib.h): found again after a restart, or made
 * with two entries per conntrack session. Without it router routes as before. */
static void route_cache_open(struct router *r, uint32_t sessions)
{
	bool created;
	size_t n = (size_t)sessions * 2;
	size_t size = sizeof(struct pl_rtc) + n * sizeof(struct pl_rtc_entry);
	const struct rte_memzone *mz = pl_dp_memzone_get(PL_RTC_MZ_NAME, size, &created);
	if (!mz) {
		PL_WARN("ctl", "no route cache (%s): io-worker's fast path stays off",
			rte_strerror(rte_errno));
		return;
	}
	struct pl_rtc *c = mz->addr;
	if (created) {
		memset(c, 0, size);
		c->version = PL_RTC_VERSION;
		c->n_entries = (uint32_t)n;
		__atomic_store_n(&c->magic, PL_RTC_MAGIC, __ATOMIC_RELEASE);
	} else if (c->magic != PL_RTC_MAGIC || c->version != PL_RTC_VERSION) {
		PL_WARN("ctl", "route cache of another layout: io-worker's fast path stays off");
		return;
	}
	r->rtc = c;
}

int router_ctl_init(void *ctx, struct pl_service *s, struct pl_dp *dp)
{
	struct router *r = ctx;
	const struct pl_config *cfg = &s->cfg;
	const struct pl_bus_limits lim = pl_bus_limits_from_config(cfg);
	(void)dp;
	r->s = s;
	r->ifaces = calloc(PL_IF_MAX, sizeof(*r->ifaces));
	if (!r->ifaces)
		return -ENOMEM;
	int rc = router_fib_open(&r->fib, PL_FIB_MAX_ROUTES);
	if (rc < 0)
		return rc;
	r->fib_open = true;
	route_cache_open(r, cfg->services.max_sessions);
	router_icmp_rl_init(&r->icmp_rl, cfg->router.icmp_rate, rte_get_tsc_hz());
	r->sup_bus = pl_bus_consumer_new(s->zctx, cfg->run_dir, "supervisor", &lim, apply, r);
	r->cni_bus = pl_bus_consumer_new(s->zctx, cfg->run_dir, "cni-server", &lim, apply, r);
	if (!r->sup_bus || !r->cni_bus)
		return -errno;
	return pl_admin_register(
		s->admin, "fib/show", "", "Routes and their adjacencies", cmd_fib, r);
}

void router_ctl_fini(void *ctx)
{
	struct router *r = ctx;
	pl_bus_consumer_destroy(&r->sup_bus);
	pl_bus_consumer_destroy(&r->cni_bus);
	if (r->fib_open)
		router_fib_close(&r->fib);
	free(r->ifaces);
	r->ifaces = NULL;
}

void router_ctl_housekeeping(void *ctx, uint64_t now_ms)
{
	struct router *r = ctx;
	pl_bus_consumer_handle(r->sup_bus, now_ms);
	pl_bus_consumer_handle(r->cni_bus, now_ms);
	pl_bus_consumer_tick(r->sup_bus, now_ms);
	pl_bus_consumer_tick(r->cni_bus, now_ms);
	/* Rebuild only once both producers have given their snapshot: a half view would sweep
	 * routes that still hold. */
	if (r->dirty && pl_bus_consumer_synced(r->sup_bus) && pl_bus_consumer_synced(r->cni_bus))
		router_ctl_rebuild(r);
}

int router_ctl_poll_items(void *ctx, zmq_pollitem_t *items, int max)
{
	struct router *r = ctx;
	if (max < 4)
		return 0;
	items[0] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(r->sup_bus),
		.events = ZMQ_POLLIN };
	items[1] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(r->sup_bus),
		.events = ZMQ_POLLIN };
	items[2] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(r->cni_bus),
		.events = ZMQ_POLLIN };
	items[3] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(r->cni_bus),
		.events = ZMQ_POLLIN };
	return 4;
}
