/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's control side: it consumes the supervisor's interfaces (uplink, host tap) and
 * cni-server's pods from the state bus and opens, re-opens or closes ports to match; a port
 * that cannot be opened yet is retried. Admin: ports/show, neigh/show. */
#include "ioworker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <rte_memzone.h>

#include "pl_fdstore.h"
#include "pl_log.h"

#define RETRY_MS 500

static struct pl_obj_iface wanted[PL_IF_MAX];
static bool is_wanted[PL_IF_MAX];
static bool retry_needed;
static uint64_t last_retry_ms;

static void list_rebuild(struct ioworker *w)
{
	w->n_ports = 0;
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		if (w->ports[i])
			w->port_list[w->n_ports++] = (uint16_t)i;
}

static void close_port(struct ioworker *w, uint16_t idx)
{
	struct port *p = w->ports[idx];
	if (!p)
		return;
	if (p->fd >= 0)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	/* Gone for good (the control plane removed or changed it): the supervisor lets go too.
	 * Not at io-worker's own exit (ioworker_ctl_fini closes the store first). */
	if (w->fdstore >= 0 && port_kind_has_fd(p->kind))
		pl_fdstore_del(w->fdstore, idx);
	PL_INFO("ports", "closing port %u (%s)", idx, p->obj.name);
	port_close(p);
	free(p);
	w->ports[idx] = NULL;
	list_rebuild(w);
}

static bool same_device(const struct pl_obj_iface *a, const struct pl_obj_iface *b)
{
	return a->role == b->role && strcmp(a->name, b->name) == 0 &&
	       strcmp(a->netns, b->netns) == 0;
}

/* Descriptors a predecessor opened, handed back by the supervisor's store (pl_fdstore.h) at
 * the start: a port for the same device takes its descriptor instead of opening a new one. */
static struct stored_port {
	int fd; /* -1: none */
	uint8_t kind;
	char name[PL_OBJ_NAME_SIZE];
	char netns[PL_OBJ_NETNS_SIZE];
} stored[PL_IF_MAX];

static void stored_add(void *ctx, const struct pl_fdstore_msg *m, int fd)
{
	(void)ctx;
	if (stored[m->index].fd >= 0)
		close(stored[m->index].fd);
	stored[m->index].fd = fd;
	stored[m->index].kind = m->kind;
	memcpy(stored[m->index].name, m->name, sizeof(m->name));
	memcpy(stored[m->index].netns, m->netns, sizeof(m->netns));
}

/* Opens the port, or adopts the stored descriptor of the same device. */
static int open_or_adopt(
	struct ioworker *w, struct port *p, const struct pl_obj_iface *o, bool *adopted)
{
	struct stored_port *sp = &stored[o->index];
	*adopted = false;
	if (sp->fd >= 0) {
		int fd = sp->fd;
		sp->fd = -1;
		if (strcmp(sp->name, o->name) == 0 && strcmp(sp->netns, o->netns) == 0) {
			int rc = port_adopt(p, o, sp->kind, fd);
			if (rc == 0) {
				*adopted = true;
				return 0;
			}
			PL_WARN("ports",
				"port %u (%s): kept descriptor not usable (%s); opening anew",
				o->index, o->name, strerror(-rc));
		} else {
			close(fd);
		}
	}
	(void)w;
	return port_open(p, o);
}

static int open_port(struct ioworker *w, const struct pl_obj_iface *o)
{
	struct port *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	bool adopted;
	int rc = open_or_adopt(w, p, o, &adopted);
	if (rc < 0) {
		free(p);
		return rc;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = o->index };
	if (p->fd >= 0 && epoll_ctl(w->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0) {
		rc = -errno;
		port_close(p);
		free(p);
		return rc;
	}
	w->ports[o->index] = p;
	list_rebuild(w);
	/* The supervisor keeps a duplicate: the device's queue outlives this process. */
	if (!adopted && port_kind_has_fd(p->kind) && p->fd >= 0 && w->fdstore >= 0) {
		int prc = pl_fdstore_put(w->fdstore, o->index, p->kind, o->name, o->netns, p->fd);
		if (prc < 0)
			PL_LOG_RL(PL_LOG_WARN, "ports",
				"port %u: the supervisor does not keep its descriptor: %s",
				o->index, strerror(-prc));
	}
	PL_INFO("ports", "port %u %s: %s%s%s", o->index, adopted ? "taken over" : "open", o->name,
		o->netns[0] ? " in " : "", o->netns);
	return 0;
}

void ioworker_ctl_fdstore_fetch(struct ioworker *w)
{
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		stored[i].fd = -1;
	int fd = pl_fdstore_connect(w->s.cfg.run_dir);
	if (fd < 0) {
		PL_WARN("ports", "no port descriptor store (%s): ports are opened anew",
			strerror(-fd));
		return;
	}
	int n = pl_fdstore_get(fd, stored_add, NULL);
	if (n < 0) {
		PL_WARN("ports", "port descriptor store: %s", strerror(-n));
		close(fd);
		return;
	}
	w->fdstore = fd;
	if (n)
		PL_INFO("ports", "%d port descriptors kept by the supervisor", n);
}

const struct pl_obj_iface *ioworker_ctl_wanted(uint16_t idx)
{
	return idx < PL_IF_MAX && is_wanted[idx] ? &wanted[idx] : NULL;
}

/* Makes port o->index match o. */
static void apply_iface(struct ioworker *w, const struct pl_obj_iface *o)
{
	if (o->index == PL_IF_SYNTH || o->index >= PL_IF_MAX)
		return;
	ioworker_ingress_local_changed(w);
	if (o->role == PL_ROLE_UPLINK)
		w->uplink = *o;
	else if (o->role == PL_ROLE_HOST)
		w->host = *o;
	struct port *p = w->ports[o->index];
	wanted[o->index] = *o;
	is_wanted[o->index] = true;
	if (w->standby) /* opened at the take-over */
		return;
	if (p && same_device(&p->obj, o)) {
		p->obj = *o;
		return;
	}
	close_port(w, o->index);
	int rc = open_port(w, o);
	if (rc < 0) {
		PL_WARN("ports", "cannot open port %u (%s): %s; retrying", o->index, o->name,
			strerror(-rc));
		retry_needed = true;
	}
}

static void forget(struct ioworker *w, uint16_t idx)
{
	if (idx >= PL_IF_MAX)
		return;
	is_wanted[idx] = false;
	ioworker_ingress_local_changed(w);
	if (w->uplink.index == idx && w->uplink.role == PL_ROLE_UPLINK)
		memset(&w->uplink, 0, sizeof(w->uplink));
	if (w->host.index == idx && w->host.role == PL_ROLE_HOST)
		memset(&w->host, 0, sizeof(w->host));
	close_port(w, idx);
}

static void apply(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size)
{
	struct ioworker *w = ctx;
	if (strcmp(kind, PL_OBJ_KIND_IFACE) != 0 && strcmp(kind, PL_OBJ_KIND_POD) != 0)
		return;
	char *end;
	unsigned long idx = strtoul(key, &end, 10);
	if (*end || idx >= PL_IF_MAX) {
		if (w->s.stats) /* none yet in a standby */
			pl_stats_inc(w->s.stats, PL_C_BUS_REJECTED, 1);
		return;
	}
	if (op == PL_BUS_OP_DEL) {
		forget(w, (uint16_t)idx);
		return;
	}
	struct pl_obj_iface o;
	if (pl_obj_iface_decode(value, size, &o) < 0 || o.index != idx) {
		PL_LOG_RL(PL_LOG_WARN, "ctl", "rejected malformed %s object '%s'", kind, key);
		if (w->s.stats)
			pl_stats_inc(w->s.stats, PL_C_BUS_REJECTED, 1);
		return;
	}
	apply_iface(w, &o);
}

int ioworker_ctl_init(struct ioworker *w)
{
	const struct pl_config *cfg = &w->s.cfg;
	const struct pl_bus_limits lim = pl_bus_limits_from_config(cfg);
	/* The dataplane's own MAC towards the host: locally administered, fixed per node. */
	static const uint8_t dp_mac[6] = { 0x02, 0xfe, 0x00, 0x00, 0x00, 0x01 };
	memcpy(w->dp_mac, dp_mac, 6);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0)
		return -errno;
	int rc = neigh_init(&w->neigh, cfg->neighbor.max_entries, cfg->neighbor.pending_max,
		cfg->neighbor.reachable_s);
	if (rc < 0)
		return rc;
	w->sup_bus = pl_bus_consumer_new(w->s.zctx, cfg->run_dir, "supervisor", &lim, apply, w);
	w->cni_bus = pl_bus_consumer_new(w->s.zctx, cfg->run_dir, "cni-server", &lim, apply, w);
	if (!w->sup_bus || !w->cni_bus)
		return -errno;
	return 0;
}

void ioworker_ctl_fini(struct ioworker *w)
{
	struct rte_mbuf *held[1024];
	unsigned int n = 0;
	if (w->fdstore >= 0)
		close(w->fdstore);
	w->fdstore = -1;
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		if (stored[i].fd >= 0) {
			close(stored[i].fd);
			stored[i].fd = -1;
		}
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		close_port(w, (uint16_t)i);
	neigh_fini(&w->neigh, held, &n, RTE_DIM(held));
	rte_pktmbuf_free_bulk(held, n);
	pl_bus_consumer_destroy(&w->sup_bus);
	pl_bus_consumer_destroy(&w->cni_bus);
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
}

int ioworker_ctl_poll_items(struct ioworker *w, zmq_pollitem_t *items, int max)
{
	int n = 0;
	if (max < 5)
		return 0;
	items[n++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(w->sup_bus),
		.events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(w->sup_bus),
		.events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(w->cni_bus),
		.events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(w->cni_bus),
		.events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .fd = w->epfd, .events = ZMQ_POLLIN };
	return n;
}

void ioworker_ctl_handle(struct ioworker *w, uint64_t now_ms)
{
	pl_bus_consumer_handle(w->sup_bus, now_ms);
	pl_bus_consumer_handle(w->cni_bus, now_ms);
	pl_bus_consumer_tick(w->sup_bus, now_ms);
	pl_bus_consumer_tick(w->cni_bus, now_ms);
	if (!w->adj) {
		const struct rte_memzone *mz = rte_memzone_lookup(PL_ADJ_MZ_NAME);
		if (mz && ((const struct pl_adj_table *)mz->addr)->magic == PL_ADJ_MAGIC)
			w->adj = mz->addr;
	}
	if (retry_needed && !w->standby && now_ms - last_retry_ms >= RETRY_MS) {
		last_retry_ms = now_ms;
		ioworker_ctl_open_wanted(w);
	}
}

bool ioworker_ctl_open_wanted(struct ioworker *w)
{
	bool all = true;
	for (unsigned int i = 0; i < PL_IF_MAX; i++) {
		if (!is_wanted[i] || w->ports[i])
			continue;
		int rc = open_port(w, &wanted[i]);
		if (rc < 0) {
			PL_LOG_RL(PL_LOG_WARN, "ports", "cannot open port %u (%s): %s; retrying", i,
				wanted[i].name, strerror(-rc));
			all = false;
		}
	}
	retry_needed = !all;
	return all;
}

static int cmd_ports(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct ioworker *w = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "ports/show takes no arguments");
	struct json_object *arr = json_object_new_array();
	pl_admin_printf(r, "%-5s %-9s %-15s %-12s %12s %12s %8s %8s  %s\n", "INDEX", "KIND", "NAME",
		"ROLE", "RX", "TX", "RX-ERR", "TX-ERR", "NETNS");
	for (unsigned int i = 0; i < w->n_ports; i++) {
		const struct port *p = w->ports[w->port_list[i]];
		const char *role = p->obj.role == PL_ROLE_UPLINK ? "uplink"
				   : p->obj.role == PL_ROLE_HOST ? "host"
								 : "pod";
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "index", json_object_new_int(p->index));
		json_object_object_add(o, "kind", json_object_new_string(p->ops->name));
		json_object_object_add(o, "name", json_object_new_string(p->obj.name));
		json_object_object_add(o, "role", json_object_new_string(role));
		json_object_object_add(o, "netns", json_object_new_string(p->obj.netns));
		json_object_object_add(o, "rx", json_object_new_uint64(p->rx));
		json_object_object_add(o, "tx", json_object_new_uint64(p->tx));
		json_object_object_add(o, "rx_errors", json_object_new_uint64(p->rx_errors));
		json_object_object_add(o, "tx_errors", json_object_new_uint64(p->tx_errors));
		json_object_object_add(o, "truncated", json_object_new_uint64(p->truncated));
		json_object_array_add(arr, o);
		pl_admin_printf(r, "%-5u %-9s %-15s %-12s %12llu %12llu %8llu %8llu  %s\n",
			p->index, p->ops->name, p->obj.name, role, (unsigned long long)p->rx,
			(unsigned long long)p->tx, (unsigned long long)p->rx_errors,
			(unsigned long long)p->tx_errors, p->obj.netns);
	}
	pl_admin_set_json(r, arr);
	return 0;
}

static int cmd_neigh(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct ioworker *w = ctx;
	uint64_t now = pl_now_ms();
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "neigh/show takes no arguments");
	struct json_object *arr = json_object_new_array();
	for (uint32_t i = 0; i < w->neigh.size; i++) {
		const struct neigh_entry *e = &w->neigh.e[i];
		if (e->state == NEIGH_FREE)
			continue;
		char a[INET6_ADDRSTRLEN], mac[18];
		inet_ntop(e->family, e->addr, a, sizeof(a));
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", e->mac[0], e->mac[1],
			e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
		const char *st = neigh_state_name(&w->neigh, e, now);
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "address", json_object_new_string(a));
		json_object_object_add(o, "mac", json_object_new_string(mac));
		json_object_object_add(o, "state", json_object_new_string(st));
		json_object_object_add(o, "age_ms", json_object_new_uint64(now - e->confirmed_ms));
		json_object_object_add(o, "used_ms", json_object_new_uint64(now - e->used_ms));
		json_object_object_add(o, "pending", json_object_new_int(e->n_pending));
		json_object_array_add(arr, o);
		pl_admin_printf(r, "%-40s %s %-10s %llu ms, %u pending\n", a, mac, st,
			(unsigned long long)(now - e->confirmed_ms), e->n_pending);
	}
	pl_admin_set_json(r, arr);
	return 0;
}

int ioworker_ctl_register(struct ioworker *w)
{
	int rc = pl_admin_register(
		w->s.admin, "ports/show", "", "Open ports and their counters", cmd_ports, w);
	if (rc == 0)
		rc = pl_admin_register(w->s.admin, "neigh/show", "",
			"Neighbour table (ARP / IPv6 ND) of the uplink", cmd_neigh, w);
	return rc;
}
