/* SPDX-License-Identifier: Apache-2.0 */
/* The policy stage's links to the rest: the conntrack table it reads and its per-session
 * verdict cache, and the flow-log tap (a ZeroMQ PUB socket, ipc://<run_dir>/policy.tap): one
 * JSON record per evaluated flow (5-tuple, verdict, deciding policy and rule per direction,
 * Log rules met). Nobody subscribed: ZeroMQ drops them at no cost. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <rte_errno.h>
#include <rte_memzone.h>
#include <zmq.h>

#include "pl_dp.h"
#include "policy.h"

int policy_attach_sessions(struct policy *p)
{
	if (!p->ct.t) {
		int rc = pl_ct_attach(&p->ct);
		if (rc < 0)
			return rc;
	}
	bool created;
	size_t size = (size_t)p->ct.t->capacity * sizeof(struct pol_sess);
	const struct rte_memzone *mz = pl_dp_memzone_get(POL_CT_MZ_NAME, size, &created);
	if (!mz)
		return -rte_errno;
	p->sess = mz->addr;
	if (created)
		memset(p->sess, 0, size);
	return 0;
}

static void addr_str(const struct pol_addr *a, char *buf, size_t size)
{
	inet_ntop(a->family, a->addr, buf, (socklen_t)size);
}

static const char *proto_str(uint8_t p)
{
	return p == 6 ? "TCP" : p == 17 ? "UDP" : p == 132 ? "SCTP" : "?";
}

static struct json_object *dir_json(const struct pol_gen *g, const struct pol_decision *d)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "allowed", json_object_new_boolean(d->allowed));
	json_object_object_add(o, "enforced", json_object_new_boolean(d->enforced));
	if (d->policy != POL_NONE)
		json_object_object_add(
			o, "policy", json_object_new_string(g->names[g->pols[d->policy].name]));
	if (d->rule != POL_NONE)
		json_object_object_add(o, "rule", json_object_new_int(g->rules[d->rule].index));
	json_object_object_add(o, "why", json_object_new_string(d->why ? d->why : ""));
	if (d->n_logged) {
		struct json_object *l = json_object_new_array();
		for (uint32_t i = 0; i < d->n_logged; i++) {
			const struct pol_rule *r = &g->rules[d->logged[i]];
			char b[POL_NAME_SIZE + 16];
			snprintf(b, sizeof(b), "%s rule %u", g->names[g->pols[r->policy].name],
				r->index);
			json_object_array_add(l, json_object_new_string(b));
		}
		json_object_object_add(o, "logged", l);
	}
	return o;
}

struct json_object *policy_verdict_json(
	const struct pol_gen *g, const struct pol_flow *f, const struct pol_verdict *v)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	addr_str(&f->src, s, sizeof(s));
	addr_str(&f->dst, d, sizeof(d));
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "src", json_object_new_string(s));
	json_object_object_add(o, "dst", json_object_new_string(d));
	json_object_object_add(o, "proto", json_object_new_string(proto_str(f->proto)));
	json_object_object_add(o, "dport", json_object_new_int(f->dport));
	json_object_object_add(o, "verdict", json_object_new_string(v->allowed ? "allow" : "deny"));
	json_object_object_add(o, "egress", dir_json(g, &v->dir[POL_EGRESS]));
	json_object_object_add(o, "ingress", dir_json(g, &v->dir[POL_INGRESS]));
	return o;
}

void policy_flow_log(struct policy *p, const struct pol_gen *g, const struct pol_flow *f,
	const struct pol_verdict *v)
{
	struct json_object *o = policy_verdict_json(g, f, v);
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	zmq_send(p->tap, txt, strlen(txt), ZMQ_DONTWAIT);
	json_object_put(o);
}
