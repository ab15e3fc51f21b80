/* SPDX-License-Identifier: Apache-2.0 */
/* policy's control side: follows the datastore (NetworkPolicy, TierPolicy, Namespace, Pod) and
 * the node's addresses (state bus), compiles them into the inactive generation of the shared
 * policy table and switches (make-before-break; only once the datastore is fully read, so a
 * restart or an etcd resync never compiles a partial view: no deny-all blip). Serves
 * policy/show and policy/explain, and owns the flow-log tap socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <json-c/json.h>
#include <zmq.h>

#include "pl_log.h"
#include "pl_objects.h"
#include "pl_sock.h"
#include "pl_stage.h"
#include "pl_strmap.h"
#include "policy.h"

#define DS_RETRY_MS 1000

static bool wanted(enum pl_k8s_kind k)
{
	return k == PL_K8S_NETWORK_POLICY || k == PL_K8S_TIER_POLICY || k == PL_K8S_NAMESPACE ||
	       k == PL_K8S_POD;
}

static void on_set(const char *key, const struct pl_k8s_object *obj, void *ctx)
{
	struct policy *p = ctx;
	if (!wanted(obj->kind))
		return;
	if (!pl_strmap_add(p->keys, key))
		PL_ERR("ctl", "out of memory for %s", key);
	p->dirty = true;
}

static void on_del(const char *key, const struct pl_k8s_object *old, void *ctx)
{
	struct policy *p = ctx;
	if (!wanted(old->kind))
		return;
	pl_strmap_del(p->keys, key);
	p->dirty = true;
}

static void on_err(const char *msg, void *ctx)
{
	struct policy *p = ctx;
	PL_LOG_RL(PL_LOG_WARN, "datastore", "rejected: %s", msg);
	snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
	pl_stats_inc(p->s->stats, PL_POLICY_POL_DATASTORE_REJECTED, 1);
}

static int ds_open(struct policy *p)
{
	const struct pl_config *cfg = &p->s->cfg;
	p->ds = pl_datastore_open(cfg, on_set, on_del, on_err, p);
	return p->ds ? 0 : -errno;
}

/* A compile runs on its own thread, so that the packet loop (this thread) keeps forwarding
 * meanwhile: 10,000 rules take tens of milliseconds. The objects it reads belong to the
 * datastore, so the datastore is not read again until the compile is over; it writes only the
 * inactive generation and switches with one store, and the packet path reads only the active
 * one. The result is taken up here, in housekeeping. */
struct compile_job {
	struct policy *p;
	const struct pl_k8s_object **objs;
	size_t n;
	struct pol_addr node_addrs[POL_MAX_NODE_ADDRS];
	uint32_t n_node_addrs;
	struct pol_builder b;
	int rc;
	uint64_t us;
	int done; /* atomic */
};

static void *compile_main(void *arg)
{
	struct compile_job *j = arg;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	j->rc = pol_build(&j->b, &j->p->tt, j->objs, j->n, j->p->s->cfg.node_name, j->node_addrs,
		j->n_node_addrs);
	if (j->rc == 0)
		j->rc = pol_build_commit(&j->b, pl_now_ms());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	j->us = (uint64_t)((int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
			   (int64_t)(t1.tv_nsec - t0.tv_nsec) /
				   1000); /* signed: nsec may go back */
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	pl_service_wake(j->p->s, PL_SVC_POLICY);
	return NULL;
}

static void compile_start(struct policy *p)
{
	struct compile_job *j = calloc(1, sizeof(*j));
	const struct pl_k8s_object **objs = calloc(p->keys->count + 1, sizeof(*objs));
	if (!j || !objs) {
		free(j);
		free(objs);
		return; /* still dirty: tried again next time */
	}
	p->dirty = false;
	j->p = p;
	j->objs = objs;
	PL_STRMAP_FOREACH(p->keys, e)
	{
		const struct pl_k8s_object *o = pl_datastore_get(p->ds, e->key);
		if (o)
			objs[j->n++] = o;
	}
	memcpy(j->node_addrs, p->node_addrs, sizeof(j->node_addrs));
	j->n_node_addrs = p->n_node_addrs;
	if (pthread_create(&p->compile_thread, NULL, compile_main, j) != 0) {
		PL_WARN("ctl", "no compile thread (%s): compiling in line", strerror(errno));
		compile_main(j);
	}
	p->job = j;
}

/* Takes up a finished compile. false while it runs. */
static bool compile_finish(struct policy *p)
{
	struct compile_job *j = p->job;
	if (!__atomic_load_n(&j->done, __ATOMIC_ACQUIRE))
		return false;
	pthread_join(p->compile_thread, NULL);
	p->job = NULL;
	p->last_build_us = j->us;
	if (j->rc < 0) {
		if (snprintf(p->last_error, sizeof(p->last_error), "policy not switched: %s",
			    j->b.msg[0] ? j->b.msg : strerror(-j->rc)) >=
			(int)sizeof(p->last_error))
			p->last_error[sizeof(p->last_error) - 2] = '~';
		PL_ERR("ctl", "%s; the previous policy stays in force", p->last_error);
		pl_stats_inc(p->s->stats, PL_POLICY_POL_TABLE_ERRORS, 1);
	} else {
		pl_stats_inc(p->s->stats, PL_POLICY_POL_TABLE_REBUILDS, 1);
		const struct pol_gen *g = pol_active(&p->tt);
		PL_INFO("ctl", "policy %lu: %u policies, %u rules, %u pod addresses in %lu us",
			(unsigned long)g->hdr->serial, g->hdr->n_policies, g->hdr->n_rules,
			g->hdr->n_endpoints, (unsigned long)p->last_build_us);
	}
	free(j->objs);
	free(j);
	return true;
}

static void bus_apply(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size)
{
	struct policy *p = ctx;
	(void)key;
	if (strcmp(kind, PL_OBJ_KIND_IFACE) != 0 || op != PL_BUS_OP_SET)
		return;
	struct pl_obj_iface o;
	if (pl_obj_iface_decode(value, size, &o) < 0) {
		pl_stats_inc(p->s->stats, PL_C_BUS_REJECTED, 1);
		return;
	}
	if (o.role != PL_ROLE_UPLINK)
		return;
	struct pol_addr a[POL_MAX_NODE_ADDRS];
	uint32_t n = 0;
	memset(a, 0, sizeof(a));
	for (unsigned int i = 0; i < o.n_addrs && n < POL_MAX_NODE_ADDRS; i++) {
		a[n].family = o.addrs[i].family;
		memcpy(a[n].addr, o.addrs[i].addr, o.addrs[i].family == AF_INET ? 4 : 16);
		n++;
	}
	if (n != p->n_node_addrs || memcmp(a, p->node_addrs, sizeof(a)) != 0) {
		memcpy(p->node_addrs, a, sizeof(a));
		p->n_node_addrs = n;
		p->dirty = true;
	}
}

/* ---- admin ---- */

static const char *action_name(uint8_t a)
{
	static const char *const n[] = { "Allow", "Deny", "Pass", "Log" };
	return a < 4 ? n[a] : "?";
}

static int cmd_show(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct policy *p = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "policy/show takes no arguments");
	const struct pol_gen *g = pol_active(&p->tt);
	struct json_object *arr = json_object_new_array();
	for (uint32_t i = 0; g && i < g->hdr->n_policies; i++) {
		const struct pol_policy *pol = &g->pols[i];
		pl_admin_printf(r, "%s%s\n", g->names[pol->name],
			pol->kind == POL_TIER ? "" : " (Kubernetes)");
		if (pol->kind == POL_TIER)
			pl_admin_printf(r, "  tier %u order %d\n", pol->tier, pol->order);
		struct json_object *rules = json_object_new_array();
		for (uint32_t k = 0; k < pol->rule_count; k++) {
			const struct pol_rule *ru = &g->rules[pol->rule_first + k];
			uint64_t hits = g->hits[pol->rule_first + k];
			pl_admin_printf(r, "  rule %u: %s%s%s  hits %lu\n", k,
				action_name(ru->action), ru->any_peer ? " any peer" : "",
				ru->any_port ? " any port" : "", (unsigned long)hits);
			struct json_object *jr = json_object_new_object();
			json_object_object_add(jr, "index", json_object_new_int((int)k));
			json_object_object_add(
				jr, "action", json_object_new_string(action_name(ru->action)));
			json_object_object_add(jr, "hits", json_object_new_int64((int64_t)hits));
			json_object_array_add(rules, jr);
		}
		if (!pol->rule_count)
			pl_admin_printf(r, "  no rules: allows nothing\n");
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(g->names[pol->name]));
		json_object_object_add(o, "kind",
			json_object_new_string(pol->kind == POL_TIER ? "tier" : "kubernetes"));
		json_object_object_add(o, "tier", json_object_new_int((int)pol->tier));
		json_object_object_add(o, "order", json_object_new_int(pol->order));
		json_object_object_add(o, "rules", rules);
		json_object_array_add(arr, o);
	}
	uint32_t isolated = 0, local = 0;
	for (uint32_t e = 0; g && e < g->hdr->n_endpoints; e++) {
		local += g->eps[e].local;
		isolated += g->eps[e].local && (g->eps[e].isolated[0] || g->eps[e].isolated[1]);
	}
	pl_admin_printf(r,
		"build %lu in %lu us: %u policies, %u rules, %u pod addresses (%u here, "
		"%u isolated); last error: %s\n",
		g ? (unsigned long)g->hdr->serial : 0UL, (unsigned long)p->last_build_us,
		g ? g->hdr->n_policies : 0, g ? g->hdr->n_rules : 0, g ? g->hdr->n_endpoints : 0,
		local, isolated, p->last_error[0] ? p->last_error : "none");
	pl_admin_set_json(r, arr);
	return 0;
}

static int parse_addr(const char *s, struct pol_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static int cmd_explain(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct policy *p = ctx;
	struct pol_flow f;
	memset(&f, 0, sizeof(f));
	if (argc != 5)
		return pl_admin_error(r, EINVAL, "usage: policy/explain SRC DST tcp|udp|sctp PORT");
	if (parse_addr(argv[1], &f.src) < 0 || parse_addr(argv[2], &f.dst) < 0 ||
		f.src.family != f.dst.family)
		return pl_admin_error(r, EINVAL, "SRC and DST: two addresses of one family");
	if (strcmp(argv[3], "tcp") == 0)
		f.proto = 6;
	else if (strcmp(argv[3], "udp") == 0)
		f.proto = 17;
	else if (strcmp(argv[3], "sctp") == 0)
		f.proto = 132;
	else
		return pl_admin_error(r, EINVAL, "PROTO: tcp, udp or sctp, not '%s'", argv[3]);
	char *end;
	long port = strtol(argv[4], &end, 10);
	if (*end || port < 1 || port > 65535)
		return pl_admin_error(r, EINVAL, "PORT: 1..65535, not '%s'", argv[4]);
	f.dport = (uint16_t)port;
	const struct pol_gen *g = pol_active(&p->tt);
	if (!g) {
		pl_admin_printf(r, "allow: no policy compiled yet\n");
		pl_admin_set_json(r, json_object_new_object());
		return 0;
	}
	struct pol_verdict v;
	f.from_host = pol_is_node_addr(g, &f.src); /* as the host would send it */
	pol_evaluate(g, &f, &v);
	struct json_object *o = policy_verdict_json(g, &f, &v);
	pl_admin_printf(r, "%s %s -> %s %s/%ld\n", v.allowed ? "ALLOW" : "DENY", argv[1], argv[2],
		argv[3], port);
	static const char *const dn[2] = { "ingress at the destination", "egress at the source" };
	for (int d = 1; d >= 0; d--) {
		const struct pol_decision *dd = &v.dir[d];
		pl_admin_printf(
			r, "  %s: %s (%s)", dn[d], dd->allowed ? "allowed" : "denied", dd->why);
		if (dd->policy != POL_NONE)
			pl_admin_printf(r, "; %s", g->names[g->pols[dd->policy].name]);
		if (dd->rule != POL_NONE)
			pl_admin_printf(r, " rule %u", g->rules[dd->rule].index);
		pl_admin_printf(r, "\n");
	}
	pl_admin_set_json(r, o);
	return 0;
}

/* ---- hooks ---- */

int policy_ctl_init(void *ctx, struct pl_service *s, struct pl_dp *dp)
{
	struct policy *p = ctx;
	const struct pl_config *cfg = &s->cfg;
	(void)dp;
	p->s = s;
	bool reset;
	int rc = pol_table_open(&p->tt, cfg->policy.max_endpoints, cfg->policy.max_rules, &reset);
	if (rc < 0) {
		PL_ERR("ctl", "policy table: %s", strerror(-rc));
		return rc;
	}
	PL_INFO("ctl", "%s policy table%s", reset ? "new" : "found the",
		pol_active(&p->tt) ? " in force" : "");
	if (policy_attach_sessions(p) < 0)
		PL_INFO("ctl", "no session table yet (nat-lb makes it); attaching later");
	p->keys = pl_strmap_new(4096);
	if (!p->keys)
		return -ENOMEM;
	p->dirty = true;
	rc = ds_open(p);
	if (rc < 0) {
		PL_WARN("ctl", "datastore (%s) not open yet: %s; retrying", cfg->datastore.source,
			strerror(-rc));
		p->ds_retry = true;
	}
	const struct pl_bus_limits lim = pl_bus_limits_from_config(cfg);
	p->sup_bus = pl_bus_consumer_new(s->zctx, cfg->run_dir, "supervisor", &lim, bus_apply, p);
	if (!p->sup_bus)
		return -errno;
	char ep[PL_CONFIG_STR_SIZE + 32];
	snprintf(ep, sizeof(ep), "ipc://%s/policy.tap", cfg->run_dir);
	/* XPUB: it tells who subscribes, so nothing is formatted while nobody listens. */
	p->tap = zmq_socket(s->zctx, ZMQ_XPUB);
	int hwm = 10000;
	if (!p->tap || zmq_setsockopt(p->tap, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
		pl_zmq_bind_private(p->tap, ep) < 0) {
		PL_ERR("ctl", "flow-log tap %s: %s", ep, zmq_strerror(zmq_errno()));
		return -EIO;
	}
	rc = pl_admin_register(s->admin, "policy/show", "",
		"Policies in evaluation order, their rules and hit counters", cmd_show, p);
	if (rc == 0)
		rc = pl_admin_register(s->admin, "policy/explain", "SRC DST tcp|udp|sctp PORT",
			"Which policy and rule decide a flow, per direction, and why", cmd_explain,
			p);
	return rc;
}

void policy_ctl_fini(void *ctx)
{
	struct policy *p = ctx;
	if (p->job) {
		pthread_join(p->compile_thread, NULL);
		__atomic_store_n(&p->job->done, 1, __ATOMIC_RELEASE);
		compile_finish(p);
	}
	if (p->tap) {
		int linger = 0;
		zmq_setsockopt(p->tap, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_close(p->tap);
		p->tap = NULL;
	}
	pl_bus_consumer_destroy(&p->sup_bus);
	pl_datastore_destroy(&p->ds);
	pl_strmap_destroy(&p->keys, NULL);
}

/* Subscription messages on the tap: 1 + topic to subscribe, 0 + topic to leave. */
static void tap_subscriptions(struct policy *p)
{
	uint8_t msg[256];
	int n;
	while ((n = zmq_recv(p->tap, msg, sizeof(msg), ZMQ_DONTWAIT)) > 0) {
		if (msg[0] == 1)
			p->subscribers++;
		else if (msg[0] == 0 && p->subscribers > 0)
			p->subscribers--;
	}
}

void policy_ctl_housekeeping(void *ctx, uint64_t now_ms)
{
	struct policy *p = ctx;
	if (p->tap)
		tap_subscriptions(p);
	pl_bus_consumer_handle(p->sup_bus, now_ms);
	pl_bus_consumer_tick(p->sup_bus, now_ms);
	if (p->ds_retry && now_ms >= p->next_try_ms) {
		p->next_try_ms = now_ms + DS_RETRY_MS;
		if (ds_open(p) == 0)
			p->ds_retry = false;
	}
	if (!p->sess && p->ct.t == NULL && now_ms >= p->next_try_ms)
		policy_attach_sessions(p);
	if (p->job && !compile_finish(p))
		return; /* the compile reads the datastore's objects: leave them alone */
	if (p->ds && pl_datastore_handle(p->ds) < 0)
		PL_LOG_RL(PL_LOG_WARN, "datastore", "watch failed: %s", strerror(errno));
	if (p->dirty && p->ds && pl_datastore_synced(p->ds) && pl_bus_consumer_synced(p->sup_bus))
		compile_start(p);
}

int policy_ctl_poll_items(void *ctx, zmq_pollitem_t *items, int max)
{
	struct policy *p = ctx;
	int k = 0;
	if (max < 4)
		return 0;
	items[k++] = (zmq_pollitem_t){ .socket = p->tap, .events = ZMQ_POLLIN };
	items[k++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(p->sup_bus),
		.events = ZMQ_POLLIN };
	items[k++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(p->sup_bus),
		.events = ZMQ_POLLIN };
	if (p->ds && !p->job)
		items[k++] = (zmq_pollitem_t){ .fd = pl_datastore_fd(p->ds), .events = ZMQ_POLLIN };
	return k;
}
