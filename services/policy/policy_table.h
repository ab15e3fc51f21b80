/* SPDX-License-Identifier: Apache-2.0 */
/* The policy stage's compiled rules in shared memory (memzone "pl_pol"), two generations side by
 * side like nat-lb's service table: the control side compiles the datastore's NetworkPolicies,
 * TierPolicies, Namespaces and Pods into the inactive one and switches `active` in one store
 * (make-before-break; a failed compile keeps the old one). A restarted policy process finds the
 * active generation and its per-session verdicts (memzone "pl_pol_ct") and filters at once.
 *
 * What a generation holds, all by index:
 *   endpoints   every pod IP: its namespace, whether it is on this node, its named ports, and
 *               the policies that select it per direction, in evaluation order (tiers by tier
 *               then order, then the Kubernetes NetworkPolicies), plus whether a
 *               NetworkPolicy isolates it; found by a hash of the address;
 *   policies    name, kind, tier, order, direction, their rules;
 *   rules       action, ports, peers: an IP set (the pods its selectors match, resolved at
 *               compile time) and/or ipBlocks (CIDR minus excepts); "any peer" is a flag;
 *   sets        one hash of (set, address): membership is one lookup, never a scan;
 *   hits        per rule, carried over from the previous generation for unchanged policies. */
#ifndef POLICY_TABLE_H
#define POLICY_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POL_MZ_NAME "pl_pol"
#define POL_CT_MZ_NAME "pl_pol_ct"
#define POL_MAGIC 0x706c706fU /* "plpo" */
#define POL_VERSION 1
#define POL_NONE 0xffffffffu
#define POL_NAME_SIZE 96
#define POL_PORT_NAME_SIZE 16
#define POL_MAX_NODE_ADDRS 16

enum pol_dir {
	POL_INGRESS = 0,
	POL_EGRESS = 1
};

enum pol_action {
	POL_ALLOW = 0,
	POL_DENY,
	POL_PASS,
	POL_LOG
};

enum pol_kind {
	POL_K8S = 0,
	POL_TIER = 1
};

struct pol_addr {
	uint8_t family;
	uint8_t addr[16];
};

struct pol_endpoint {
	struct pol_addr a;
	uint8_t local; /* a pod of this node: its own policies are enforced here */
	uint8_t isolated[2]; /* by a NetworkPolicy, per enum pol_dir */
	uint8_t pad_;
	uint32_t ns; /* name index of "namespace/pod" */
	uint32_t pol_first[2], pol_count[2]; /* into refs, per direction, in evaluation order */
	uint32_t port_first, port_count; /* named container ports */
};

struct pol_named_port {
	char name[POL_PORT_NAME_SIZE];
	uint8_t proto;
	uint16_t port;
};

struct pol_policy {
	uint32_t name; /* index into names: "Kind ns/name" */
	uint8_t kind; /* enum pol_kind */
	uint8_t dir; /* enum pol_dir */
	uint16_t pad_;
	uint32_t tier;
	int32_t order;
	uint32_t rule_first, rule_count;
};

struct pol_port {
	uint8_t proto; /* IPPROTO_* */
	uint8_t any; /* every port of the protocol */
	uint16_t port, end_port; /* inclusive range, host order; named: resolved per packet */
	char name[POL_PORT_NAME_SIZE]; /* "" unless a named port */
};

struct pol_cidr {
	struct pol_addr a;
	uint8_t len;
	uint8_t except; /* an except entry of the ipBlock before it */
};

struct pol_rule {
	uint8_t action; /* enum pol_action */
	uint8_t any_peer;
	uint8_t any_port;
	uint8_t pad_;
	uint32_t policy;
	uint32_t index; /* position in its policy's list, for explanations */
	uint32_t set; /* IP set of its selector peers, POL_NONE: none */
	uint32_t port_first, port_count;
	uint32_t cidr_first, cidr_count; /* ipBlocks: a block, then its excepts */
};

struct pol_set_entry {
	uint32_t set;
	struct pol_addr a;
};

struct pol_gen_hdr {
	uint32_t n_endpoints, n_refs, n_policies, n_rules, n_ports, n_cidrs, n_named, n_names;
	uint32_t n_set_entries, n_sets, n_node_addrs;
	uint32_t pad_;
	uint64_t serial; /* build number: cached verdicts of an older one are re-checked */
	uint64_t built_ms;
	struct pol_addr node_addrs[POL_MAX_NODE_ADDRS];
};

struct pol_table {
	uint32_t magic;
	uint32_t version;
	uint32_t max_endpoints, max_rules; /* limits the layout was made for */
	volatile uint32_t active; /* 0, 1, or POL_NONE */
	uint32_t ep_buckets, set_buckets;
	uint32_t pad_;
	uint64_t gen_off[2];
	uint64_t off_ep_hash, off_eps, off_refs, off_pols, off_rules, off_ports, off_cidrs,
		off_named, off_names, off_set_hash, off_sets, off_hits;
	uint64_t gen_size;
};

/* A process's pointers into one generation. */
struct pol_gen {
	struct pol_gen_hdr *hdr;
	uint32_t *ep_hash; /* endpoint index + 1 */
	struct pol_endpoint *eps;
	uint32_t *refs;
	struct pol_policy *pols;
	struct pol_rule *rules;
	struct pol_port *ports;
	struct pol_cidr *cidrs;
	struct pol_named_port *named;
	char (*names)[POL_NAME_SIZE];
	uint32_t *set_hash; /* set entry index + 1 */
	struct pol_set_entry *sets;
	uint64_t *hits; /* per rule */
	uint32_t ep_mask, set_mask;
};

struct pol_tables {
	struct pol_table *t;
	struct pol_gen gen[2];
};

/* Limits: max_endpoints pod addresses; max_rules rules (and as many policies, ports, ipBlock
 * entries, policy references and set entries times 4, names). */
int pol_table_open(struct pol_tables *pt, uint32_t max_endpoints, uint32_t max_rules, bool *reset);

/* A session's cached verdict (memzone "pl_pol_ct", one per conntrack slot). policy writes it
 * between two increments of seq (odd while written); io-worker's fast path reads it as a
 * seqlock and trusts it only for the session it was decided for (created_ms and hash) and the
 * build in force (serial). */
struct pol_sess {
	uint32_t seq;
	uint32_t hash; /* pol_sess_stamp of the session's key hashes */
	uint64_t created_ms; /* of the session it was decided for */
	uint64_t serial; /* policy build it was decided with */
	uint8_t allowed;
	uint8_t pad_[7];
};

/* The stamp that tells a session's slot reuses apart (with created_ms): both keys' hashes, so
 * a session re-made in the same slot and millisecond for another endpoint does not match. */
static inline uint32_t pol_sess_stamp(const uint32_t hash[2])
{
	return hash[0] ^ (hash[1] * 0x9e3779b1u);
}

/* The serial of the generation in force, 0 when none is (then nothing is filtered). */
static inline uint64_t pol_active_serial(const struct pol_table *t)
{
	uint32_t a = __atomic_load_n(&t->active, __ATOMIC_ACQUIRE);
	if (a >= 2)
		return 0;
	const struct pol_gen_hdr *h =
		(const struct pol_gen_hdr *)((const uint8_t *)t + t->gen_off[a]);
	return h->serial;
}

static inline const struct pol_gen *pol_active(const struct pol_tables *pt)
{
	uint32_t a = __atomic_load_n(&pt->t->active, __ATOMIC_ACQUIRE);
	return a < 2 ? &pt->gen[a] : NULL;
}

const struct pol_endpoint *pol_endpoint_find(const struct pol_gen *g, const struct pol_addr *a);
bool pol_set_has(const struct pol_gen *g, uint32_t set, const struct pol_addr *a);
bool pol_is_node_addr(const struct pol_gen *g, const struct pol_addr *a);

/* ---- evaluation ---- */

struct pol_flow {
	struct pol_addr src, dst; /* dst after DNAT, src before SNAT */
	uint8_t proto;
	uint16_t dport; /* host order */
	/* Its first packet came in on the host tap. Only then does a node source address make it
	 * the node's own traffic (exempt); a packet that merely claims one is judged like any. */
	bool from_host;
};

/* What decided one direction. */
struct pol_decision {
	bool allowed;
	bool enforced; /* false: not isolated, no tier policy decided: allowed by default */
	uint32_t rule; /* deciding rule, POL_NONE when none (default allow / isolation deny) */
	uint32_t policy; /* its policy, or the isolating one's first for a default deny */
	const char *why; /* a short reason */
	uint32_t logged[4]; /* rules with action Log met on the way (n_logged of them) */
	uint32_t n_logged;
};

struct pol_verdict {
	bool allowed;
	struct pol_decision dir[2]; /* per enum pol_dir: ingress at dst, egress at src */
};

/* Evaluates a new flow against generation g (no side effects). */
void pol_evaluate(const struct pol_gen *g, const struct pol_flow *f, struct pol_verdict *v);

/* ---- building ---- */

struct pl_k8s_object;

struct pol_builder {
	struct pol_tables *tt;
	struct pol_gen *g;
	uint32_t target;
	int err;
	char msg[256];
};

/* objs: every NetworkPolicy, TierPolicy, Namespace and Pod (others are skipped). node_name:
 * this node (pods with another nodeName are peers only). Builds the inactive generation;
 * commit switches to it. */
int pol_build(struct pol_builder *b, struct pol_tables *tt, const struct pl_k8s_object *const *objs,
	size_t n, const char *node_name, const struct pol_addr *node_addrs, uint32_t n_node_addrs);
int pol_build_commit(struct pol_builder *b, uint64_t now_ms);

#endif
