/* SPDX-License-Identifier: Apache-2.0 */
/* The stage harness (stage_harness.h): io-worker's ingress and output, nat-lb, policy and router
 * in one process over real tables, one injected frame at a time. */
#include "stage_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "ioworker.h"
#include "natlb.h"
#include "natlb_build.h"
#include "pl_config.h"
#include "pl_ct.h"
#include "pl_dp.h"
#include "pl_k8s.h"
#include "policy.h"
#include "router.h"
#include "router_stage.h"

#define H_BURST 64
#define H_POOL_MBUFS 4096
#define H_BIG_MBUFS 8

struct stage_harness {
	struct pl_config cfg;
	struct pl_k8s_list objs;
	struct rte_mempool *pool, *big_pool;
	struct natlb nl;
	struct policy pol;
	struct router rt;
	struct ioworker w;
	struct port ports[PL_IF_MAX];
	bool tx_fails[PL_IF_MAX];
	struct pl_obj_iface uplink;
	uint64_t now_ms;
	struct h_result *res; /* being filled by the current call */
	struct rte_mbuf *cur; /* the injected packet, until it leaves */
	bool cur_sent, cur_failed;
};

/* One harness per process: io-worker's control view (ioworker_ctl_wanted) and the capture port
 * find it here. */
static struct stage_harness *the_h;
static bool eal_up;

/* ---- io-worker's control view: the interfaces and pods it was told of ---- */

static struct pl_obj_iface wanted[PL_IF_MAX];
static bool is_wanted[PL_IF_MAX];

/* In io-worker this comes from ioworker_ctl.c (the state bus); here from the setup. */
const struct pl_obj_iface *ioworker_ctl_wanted(uint16_t idx)
{
	return idx < PL_IF_MAX && is_wanted[idx] ? &wanted[idx] : NULL;
}

/* ---- the capture port: what a port's transmit would be handed ---- */

static void capture_tx(struct port *p, struct rte_mbuf **pkts, unsigned int n, int *res)
{
	struct stage_harness *h = the_h;
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (h->tx_fails[p->index]) {
			res[i] = -EIO;
			if (m == h->cur)
				h->cur_failed = true;
			continue;
		}
		res[i] = PORT_TX_SENT;
		if (m == h->cur)
			h->cur_sent = true;
		struct h_result *r = h->res;
		if (!r || r->n_out == H_MAX_OUT)
			continue;
		struct h_frame *f = &r->out[r->n_out++];
		f->tx_if = p->index;
		f->l2 = (pl_meta(m)->flags & PL_META_F_L2) != 0;
		f->len = rte_pktmbuf_data_len(m);
		memcpy(f->bytes, rte_pktmbuf_mtod(m, const uint8_t *),
			f->len < H_FRAME_MAX ? f->len : H_FRAME_MAX);
	}
}

static const struct port_ops capture_ops = {
	.name = "harness",
	.offload = true, /* as tun, tap and AF_PACKET: super-packets whole */
	.tx = capture_tx,
};

/* ---- set-up ---- */

static int fail(char *err, size_t size, int rc, const char *fmt, const char *what)
{
	if (err && size)
		snprintf(err, size, fmt, what, strerror(rc < 0 ? -rc : rc));
	return rc < 0 ? rc : -rc;
}

static int eal_start(void)
{
	if (eal_up)
		return 0;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=pl_harness_%d", (int)getpid());
	char *argv[] = { "stage_harness", "--no-huge", "--no-shconf", "--no-pci", "--no-telemetry",
		"-m", "256", prefix, "--log-level=*:error", NULL };
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0)
		return -rte_errno;
	eal_up = true;
	return 0;
}

/* "a/len,b/len" into prefixes. */
static int prefixes(const char *list, struct pl_prefix *out, uint8_t *n)
{
	*n = 0;
	if (!list)
		return 0;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == PL_OBJ_MAX_ADDRS || pl_prefix_parse(t, &out[*n]) < 0)
			return -EINVAL;
		(*n)++;
	}
	return 0;
}

static int mac_parse(const char *s, uint8_t mac[6])
{
	memset(mac, 0, 6);
	if (!s)
		return 0;
	unsigned int b[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int iface_of(const struct h_iface *d, struct pl_obj_iface *o)
{
	memset(o, 0, sizeof(*o));
	o->index = d->index;
	o->role = d->index == PL_IF_UPLINK ? PL_ROLE_UPLINK
		  : d->index == PL_IF_HOST ? PL_ROLE_HOST
					   : PL_ROLE_POD;
	snprintf(o->name, sizeof(o->name), "h%u", d->index);
	if (o->role == PL_ROLE_UPLINK)
		snprintf(o->driver, sizeof(o->driver), "af_packet");
	o->mtu = d->mtu ? d->mtu : 1500;
	if (d->index == PL_IF_SYNTH || d->index >= PL_IF_MAX ||
		(d->index > PL_IF_HOST && d->index < PL_IF_POD_BASE) || mac_parse(d->mac, o->mac) ||
		prefixes(d->addrs, o->addrs, &o->n_addrs) ||
		prefixes(d->allow_src, o->allow_src, &o->n_allow_src))
		return -EINVAL;
	return 0;
}

static void node_addrs(struct stage_harness *h, struct pol_addr *pa, uint32_t *n)
{
	*n = 0;
	for (unsigned int i = 0; i < h->uplink.n_addrs && *n < POL_MAX_NODE_ADDRS; i++) {
		const struct pl_prefix *p = &h->uplink.addrs[i];
		if (p->family == AF_INET6 && p->addr[0] == 0xfe && (p->addr[1] & 0xc0) == 0x80)
			continue; /* link-local: as nat-lb and policy take them */
		pa[*n].family = p->family;
		memset(pa[*n].addr, 0, 16);
		memcpy(pa[*n].addr, p->addr, p->family == AF_INET ? 4 : 16);
		(*n)++;
	}
}

int h_policy_compile(struct stage_harness *h)
{
	struct pol_builder b;
	int rc = pol_build(&b, &h->pol.tt, (const struct pl_k8s_object *const *)h->objs.v,
		h->objs.n, h->cfg.node_name, h->pol.node_addrs, h->pol.n_node_addrs);
	return rc ? rc : pol_build_commit(&b, pl_now_ms());
}

static int build_services(struct stage_harness *h)
{
	struct natlb_builder b;
	natlb_build_begin(&b, &h->nl.tables);
	for (uint32_t i = 0; i < h->pol.n_node_addrs; i++)
		natlb_build_node_addr(&b, h->pol.node_addrs[i].family, h->pol.node_addrs[i].addr);
	int rc = natlb_build_k8s_objects(
		&b, (const struct pl_k8s_object *const *)h->objs.v, h->objs.n, h->cfg.node_name);
	return rc ? rc : natlb_build_commit(&b, pl_now_ms());
}

static int build_router(struct stage_harness *h, const struct h_setup *s)
{
	struct router *r = &h->rt;
	int rc = router_fib_open(&r->fib, PL_FIB_MAX_ROUTES);
	if (rc < 0)
		return rc;
	r->fib_open = true;
	r->ifaces = calloc(PL_IF_MAX, sizeof(*r->ifaces));
	if (!r->ifaces)
		return -ENOMEM;
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		if (is_wanted[i])
			r->ifaces[i] = wanted[i];
	unsigned int k = 0;
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct h_route *d = &s->routes[i];
		if (d->blackhole || k == ROUTER_MAX_ROUTES)
			continue;
		struct pl_obj_route *ro = &r->routes[k];
		memset(ro, 0, sizeof(*ro));
		if (pl_prefix_parse(d->dst, &ro->dst) < 0 ||
			(d->gw && pl_prefix_parse(d->gw, &ro->gw) < 0))
			return -EINVAL;
		ro->has_gw = d->gw != NULL;
		ro->if_index = d->if_index;
		r->route_valid[k++] = true;
	}
	router_ctl_rebuild(r);
	if (r->fib_errors)
		return -ENOSPC;
	for (size_t i = 0; i < s->n_routes; i++) {
		const struct h_route *d = &s->routes[i];
		struct pl_prefix p;
		if (!d->blackhole)
			continue;
		if (pl_prefix_parse(d->dst, &p) < 0)
			return -EINVAL;
		struct pl_adj a = { .kind = PL_ADJ_DROP, .family = p.family, .tx_if = d->if_index };
		rc = router_fib_add(&r->fib, p.family, p.addr, p.len, &a);
		if (rc < 0)
			return rc;
	}
	router_icmp_rl_init(&r->icmp_rl, h->cfg.router.icmp_rate, rte_get_tsc_hz());
	return 0;
}

static int build_ioworker(struct stage_harness *h, const struct h_setup *s)
{
	struct ioworker *w = &h->w;
	/* The dataplane's MAC towards the host, as ioworker_ctl_init sets it. */
	static const uint8_t dp_mac[6] = { 0x02, 0xfe, 0x00, 0x00, 0x00, 0x01 };
	memcpy(w->dp_mac, dp_mac, 6);
	w->epfd = -1;
	w->dp.pool = h->pool;
	w->dp.big_pool = h->big_pool;
	w->bufs.small = h->pool;
	w->bufs.big = h->big_pool;
	w->adj = h->rt.fib.adj;
	int rc = neigh_init(&w->neigh, h->cfg.neighbor.max_entries, h->cfg.neighbor.pending_max,
		h->cfg.neighbor.reachable_s);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < s->n_ifaces; i++) {
		const struct h_iface *d = &s->ifaces[i];
		const struct pl_obj_iface *o = &wanted[d->index];
		if (o->role == PL_ROLE_UPLINK)
			w->uplink = *o;
		else if (o->role == PL_ROLE_HOST)
			w->host = *o;
		h->tx_fails[d->index] = d->tx_fails;
		if (d->no_port)
			continue;
		struct port *p = &h->ports[d->index];
		p->index = d->index;
		p->kind = o->role == PL_ROLE_UPLINK ? PORT_AF_PACKET
			  : o->role == PL_ROLE_HOST ? PORT_TAP
						    : PORT_TUN;
		p->ops = &capture_ops;
		p->obj = *o;
		p->fd = 0; /* "open": the capture port never uses it */
		w->ports[d->index] = p;
		w->port_list[w->n_ports++] = d->index;
	}
	ioworker_ingress_local_changed(w);
	return 0;
}

struct stage_harness *h_new(const struct h_setup *s, char *err, size_t err_size)
{
	if (the_h) {
		fail(err, err_size, -EBUSY, "%s: %s", "one harness per process");
		errno = EBUSY;
		return NULL;
	}
	struct stage_harness *h = calloc(1, sizeof(*h));
	int rc = h ? eal_start() : -ENOMEM;
	if (rc < 0) {
		fail(err, err_size, rc, "%s: %s", "EAL");
		goto err;
	}
	the_h = h;
	h->now_ms = 1000000;
	pl_config_defaults(&h->cfg);
	if (s->config_yaml && pl_config_load_buffer(&h->cfg, "config", s->config_yaml,
				      strlen(s->config_yaml), err, err_size) != 0) {
		rc = -EINVAL;
		goto err;
	}
	if (pl_dp_meta_register() < 0) {
		rc = fail(err, err_size, -rte_errno, "%s: %s", "mbuf metadata");
		goto err;
	}
	/* Shaped as the primary makes them (pl_dp_create): ring_sp_sc, no cache. */
	h->pool = rte_pktmbuf_pool_create_by_ops(
		"h_pool", H_POOL_MBUFS, 0, 0, PL_DP_MBUF_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	h->big_pool = rte_pktmbuf_pool_create_by_ops(
		"h_pool_big", H_BIG_MBUFS, 0, 0, PL_DP_BIG_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	if (!h->pool || !h->big_pool) {
		rc = fail(err, err_size, -rte_errno, "%s: %s", "pools");
		goto err;
	}
	if (s->objects_yaml) {
		rc = pl_k8s_list_parse_buffer(&h->objs, "objects", s->objects_yaml,
			strlen(s->objects_yaml), err, err_size);
		if (rc != 0) {
			rc = rc < 0 ? rc : -EINVAL;
			goto err;
		}
	}
	for (size_t i = 0; i < s->n_ifaces; i++) {
		struct pl_obj_iface o;
		if (iface_of(&s->ifaces[i], &o) < 0) {
			rc = fail(err, err_size, -EINVAL, "%s: %s", "interface");
			goto err;
		}
		wanted[o.index] = o;
		is_wanted[o.index] = true;
		if (o.role == PL_ROLE_UPLINK)
			h->uplink = o;
	}
	node_addrs(h, h->pol.node_addrs, &h->pol.n_node_addrs);

	/* nat-lb, as natlb_ctl_init opens its tables. */
	bool reset;
	natlb_set_timeouts(&h->nl, &h->cfg);
	router_icmp_rl_init(&h->nl.reject_rl, h->cfg.router.icmp_rate * 10 + 100, rte_get_tsc_hz());
	rc = pl_ct_open(&h->nl.ct, h->cfg.services.max_sessions);
	if (rc == 0)
		rc = natlb_table_open(&h->nl.tables, h->cfg.services.max_frontends,
			h->cfg.services.max_backends, &reset);
	if (rc == 0)
		rc = build_services(h);
	if (rc != 0) {
		fail(err, err_size, rc, "%s: %s", "nat-lb tables");
		goto err;
	}
	/* policy: its table and the verdicts beside the session table. */
	rc = pol_table_open(
		&h->pol.tt, h->cfg.policy.max_endpoints, h->cfg.policy.max_rules, &reset);
	if (rc == 0)
		rc = policy_attach_sessions(&h->pol);
	if (rc == 0 && !s->policy_unready)
		rc = h_policy_compile(h);
	if (rc != 0) {
		fail(err, err_size, rc, "%s: %s", "policy");
		goto err;
	}
	rc = build_router(h, s);
	if (rc != 0) {
		fail(err, err_size, rc, "%s: %s", "router FIB");
		goto err;
	}
	rc = build_ioworker(h, s);
	if (rc != 0) {
		fail(err, err_size, rc, "%s: %s", "io-worker");
		goto err;
	}
	return h;
err:
	h_destroy(&h);
	errno = -rc;
	return NULL;
}

void h_destroy(struct stage_harness **hp)
{
	struct stage_harness *h = *hp;
	if (!h)
		return;
	*hp = NULL;
	if (the_h == h) {
		struct rte_mbuf *held[1024];
		unsigned int n = 0;
		ioworker_ingress_fini(&h->w);
		if (h->w.neigh.e)
			neigh_fini(&h->w.neigh, held, &n, RTE_DIM(held));
		rte_pktmbuf_free_bulk(held, n);
		pl_ct_flush(&h->nl.ct, NULL, NULL);
		if (h->rt.fib_open)
			router_fib_close(&h->rt.fib);
		free(h->rt.ifaces);
		memset(wanted, 0, sizeof(wanted));
		memset(is_wanted, 0, sizeof(is_wanted));
		the_h = NULL;
	}
	/* The pools and the shared tables stay (memzones live as long as the EAL). */
	pl_k8s_list_clear(&h->objs);
	free(h);
}

/* ---- the packet path ---- */

static void collect_counters(struct stage_harness *h, struct h_result *r)
{
	for (unsigned int i = 0; i < PL_IOW_MAX; i++)
		r->iow[i] += h->w.local[i];
	memset(h->w.local, 0, sizeof(h->w.local));
}

/* The stages and io-worker's output for packets admitted at ingress; pkts[0] is h->cur when
 * the injected packet is among them. */
static void run(struct stage_harness *h, struct rte_mbuf **pkts, unsigned int n, struct h_result *r)
{
	struct rte_mbuf *cur = n && pkts[0] == h->cur ? h->cur : NULL;
	static const char *const stage_names[3] = { "nat-lb", "policy", "router" };
	for (int s = 0; s < 3; s++) {
		if (s == 0)
			natlb_stage(&h->nl, pkts, n, r->natlb);
		else if (s == 1)
			policy_stage(&h->pol, pkts, n, r->policy);
		else
			router_stage(&h->rt, pkts, n, r->router);
		if (cur && !r->dropped_by && pl_meta(cur)->verdict == PL_VERDICT_DROP) {
			r->dropped_by = stage_names[s];
			r->verdict = H_DROPPED;
			r->drop_reason = pl_meta(cur)->drop_reason;
		}
	}
	unsigned int first = 0;
	if (cur) {
		/* The injected packet alone first, so what happens to it is its own. */
		bool pass = pl_meta(cur)->verdict == PL_VERDICT_PASS;
		uint64_t before[PL_DROP_MAX];
		for (unsigned int d = 0; d < PL_DROP_MAX; d++)
			before[d] = h->w.local[PL_IOW_DROP(d)];
		uint32_t pending = h->w.neigh.n_pending;
		h->cur_sent = h->cur_failed = false;
		ioworker_pipeline_output(&h->w, pkts, 1, h->now_ms);
		ioworker_ports_flush(&h->w);
		if (pass) {
			r->verdict = H_SENT;
			if (h->w.neigh.n_pending > pending) {
				r->verdict = H_HELD;
			} else if (!h->cur_sent) {
				r->verdict = H_DROPPED;
				r->dropped_by = "output";
				for (unsigned int d = 0; d < PL_DROP_MAX; d++)
					if (h->w.local[PL_IOW_DROP(d)] > before[d])
						r->drop_reason = (enum pl_drop_reason)d;
			}
		}
		h->cur = NULL;
		first = 1;
	}
	ioworker_pipeline_output(&h->w, pkts + first, n - first, h->now_ms);
	ioworker_ports_flush(&h->w);
}

static void release_fragments(struct stage_harness *h, struct h_result *r)
{
	struct rte_mbuf *pkts[H_BURST];
	unsigned int n;
	while ((n = ioworker_frag_release(&h->w, pkts, H_BURST, h->now_ms)) > 0)
		run(h, pkts, n, r);
}

int h_inject(struct stage_harness *h, uint16_t rx_if, const uint8_t *frame, size_t len,
	struct h_result *r)
{
	memset(r, 0, sizeof(*r));
	struct port *p = rx_if < PL_IF_MAX ? h->w.ports[rx_if] : NULL;
	if (!p)
		return -ENODEV;
	struct rte_mempool *mp =
		len <= PL_DP_MBUF_DATA_SIZE - RTE_PKTMBUF_HEADROOM ? h->pool : h->big_pool;
	if (len > PL_DP_BIG_DATA_SIZE - RTE_PKTMBUF_HEADROOM)
		return -EMSGSIZE;
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (!m)
		return -ENOBUFS;
	pl_meta(m)->owner = PL_SVC_IO_WORKER;
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
	h->res = r;
	memset(h->w.local, 0, sizeof(h->w.local));
	h->cur = m;
	h->cur_sent = false;
	if (ioworker_l2_input(&h->w, p, m, h->now_ms)) {
		h->cur = NULL;
		ioworker_ports_flush(&h->w);
		r->verdict = H_L2;
	} else {
		struct rte_mbuf *pkts[1] = { m };
		unsigned int n = ioworker_admit(&h->w, p, pkts, 1, h->now_ms);
		if (n == 0) {
			h->cur = NULL;
			if (h->w.local[PL_IOW_RX_FRAG_HELD]) {
				r->verdict = H_HELD;
			} else {
				r->verdict = H_DROPPED;
				r->dropped_by = "ingress";
				for (unsigned int d = 1; d < PL_DROP_MAX; d++)
					if (h->w.local[PL_IOW_DROP(d)])
						r->drop_reason = (enum pl_drop_reason)d;
			}
		} else {
			run(h, pkts, 1, r);
		}
		/* What io-worker's loop does next: held fragments whose first came. */
		release_fragments(h, r);
	}
	collect_counters(h, r);
	h->res = NULL;
	return 0;
}

void h_advance(struct stage_harness *h, uint64_t ms, struct h_result *r)
{
	struct h_result scratch;
	if (!r)
		r = &scratch;
	memset(r, 0, sizeof(*r));
	h->res = r;
	memset(h->w.local, 0, sizeof(h->w.local));
	h->now_ms += ms;
	release_fragments(h, r);
	ioworker_l2_housekeeping(&h->w, h->now_ms);
	collect_counters(h, r);
	h->res = NULL;
}

void h_set_icmp_rate(struct stage_harness *h, uint32_t per_s)
{
	router_icmp_rl_init(&h->rt.icmp_rl, per_s, rte_get_tsc_hz());
	router_icmp_rl_init(&h->nl.reject_rl, per_s, rte_get_tsc_hz());
}

int h_neigh_learn(struct stage_harness *h, const char *addr, const char *mac)
{
	struct pl_prefix p;
	uint8_t m[6];
	if (pl_prefix_parse(addr, &p) < 0 || mac_parse(mac, m) < 0)
		return -EINVAL;
	struct neigh_entry *e = neigh_get(&h->w.neigh, p.family, p.addr, h->now_ms);
	if (!e)
		return -ENOSPC;
	/* As output does: ask, and take the answer. */
	neigh_should_probe(&h->w.neigh, e, h->now_ms);
	neigh_offer(&h->w.neigh, e, m, NEIGH_MSG_ANSWER, h->now_ms);
	return 0;
}

void h_flush_sessions(struct stage_harness *h)
{
	pl_ct_flush(&h->nl.ct, NULL, NULL);
}

unsigned int h_mbufs_in_use(const struct stage_harness *h)
{
	return rte_mempool_in_use_count(h->pool) + rte_mempool_in_use_count(h->big_pool);
}

unsigned int h_mbufs_held(const struct stage_harness *h)
{
	return h->w.in.n_held + h->w.neigh.n_pending;
}

void h_dp_mac(const struct stage_harness *h, uint8_t mac[6])
{
	memcpy(mac, h->w.dp_mac, 6);
}

const char *h_verdict_name(enum h_verdict v)
{
	static const char *const names[] = { "sent", "dropped", "held", "l2" };
	return (unsigned int)v < RTE_DIM(names) ? names[v] : "?";
}

const char *h_drop_name(enum pl_drop_reason r)
{
	static const char *const names[] = {
#define PL_X(sym, name, help) name,
		PL_DROP_REASONS(PL_X)
#undef PL_X
	};
	return (unsigned int)r < RTE_DIM(names) ? names[r] : "?";
}
