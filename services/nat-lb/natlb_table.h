/* SPDX-License-Identifier: Apache-2.0 */
/* nat-lb's service table in shared memory (memzone "pl_svc"), so that a restarted nat-lb
 * balances new flows at once, before it has read the datastore again.
 *
 * Two generations of the whole table live side by side. The control side builds the inactive
 * one from the datastore and then switches `active` (one store): make-before-break, so a
 * packet never meets a half-applied change and a build that fails (over a limit) leaves the
 * previous table in use. nat-lb is the only writer and the only reader.
 *
 * A generation holds:
 *   frontends  (address, port, protocol) -> flags, group, service; open addressing on a hash.
 *              NodePorts have an all-zero address and match any node address;
 *   groups     the endpoints of one service port and family: a range of backends and two Maglev
 *              tables over them (every usable endpoint; only the node's own);
 *   backends   address, port, ready/serving/terminating, local;
 *   names      "namespace/name" of each service, for the admin commands;
 *   node addresses (for NodePorts and as SNAT source).
 * Everything is an index or an offset: the table means the same in every process. */
#ifndef NATLB_TABLE_H
#define NATLB_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NATLB_MZ_NAME "pl_svc"
#define NATLB_TABLE_MAGIC 0x706c7376U /* "plsv" */
#define NATLB_TABLE_VERSION 1
#define NATLB_MAX_NODE_ADDRS 16
#define NATLB_NAME_SIZE 96 /* "ns/name", cut to fit (display only) */
/* Maglev slots budget: a table of at least 61 slots per group, and 8 per endpoint, both twice
 * for groups that also need a table of their local endpoints. */
#define NATLB_MG_SLOTS_PER_GROUP 64
#define NATLB_MG_SLOTS_PER_BACKEND 32
#define NATLB_NONE 0xffffffffu

struct natlb_fe_key {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes; all zero: a NodePort */
	uint16_t port; /* network order */
	uint8_t family;
	uint8_t proto;
};

#define NATLB_FE_EXTERNAL 0x01 /* NodePort, external IP, load-balancer IP */
#define NATLB_FE_NODEPORT 0x02 /* any node address */
#define NATLB_FE_AFFINITY 0x04 /* sessionAffinity ClientIP */
#define NATLB_FE_LOCAL 0x08 /* the traffic policy that applies here is Local */

struct natlb_frontend {
	struct natlb_fe_key key;
	uint8_t flags; /* NATLB_FE_* */
	uint8_t pad_[3];
	uint32_t group;
	uint32_t service; /* index of its name */
	uint32_t affinity_timeout_s;
};

#define NATLB_BE_READY 0x01
#define NATLB_BE_SERVING 0x02
#define NATLB_BE_TERMINATING 0x04
#define NATLB_BE_LOCAL 0x08 /* on this node */
#define NATLB_BE_USABLE 0x10 /* takes new flows (ready, or serving while none is ready) */

struct natlb_backend {
	uint8_t addr[16];
	uint16_t port; /* network order */
	uint8_t family;
	uint8_t flags; /* NATLB_BE_* */
};

struct natlb_group {
	uint32_t be_first, be_count;
	uint32_t mg_off, mg_m; /* Maglev over the usable backends; m 0: none usable */
	uint32_t mgl_off, mgl_m; /* over the usable local ones */
};

struct natlb_node_addr {
	uint8_t family;
	uint8_t addr[16];
};

struct natlb_gen_hdr {
	uint32_t n_frontends, n_groups, n_backends, n_maglev, n_services, n_node_addrs;
	uint64_t built_ms;
	uint64_t serial; /* build number */
	struct natlb_node_addr node_addrs[NATLB_MAX_NODE_ADDRS];
};

struct natlb_table {
	uint32_t magic;
	uint32_t version;
	uint32_t max_frontends; /* also the most groups and services */
	uint32_t max_backends;
	uint32_t max_maglev;
	uint32_t fe_buckets; /* power of two >= 2 * max_frontends */
	volatile uint32_t active; /* 0 or 1; NATLB_NONE before the first build */
	uint32_t pad_;
	uint64_t gen_off[2];
	/* Offsets inside a generation. */
	uint64_t off_hash, off_fe, off_groups, off_be, off_mg, off_names;
	uint64_t gen_size;
};

/* A process's pointers into one generation. */
struct natlb_gen {
	struct natlb_gen_hdr *hdr;
	uint32_t *hash; /* frontend index + 1; 0 empty */
	struct natlb_frontend *fe;
	struct natlb_group *groups;
	struct natlb_backend *be;
	uint32_t *mg;
	char (*names)[NATLB_NAME_SIZE];
	uint32_t mask;
};

struct natlb_tables {
	struct natlb_table *t;
	struct natlb_gen gen[2];
	bool created;
};

/* Finds or creates the table. A table of another size or layout is started afresh (empty).
 * 0 or -errno. */
int natlb_table_open(
	struct natlb_tables *tt, uint32_t max_frontends, uint32_t max_backends, bool *reset);

/* The generation in use, or NULL before the first build. */
static inline const struct natlb_gen *natlb_active(const struct natlb_tables *tt)
{
	uint32_t a = __atomic_load_n(&tt->t->active, __ATOMIC_ACQUIRE);
	return a < 2 ? &tt->gen[a] : NULL;
}

/* Frontend for (addr, port, proto): the exact one, else a NodePort when addr is a node address.
 * NULL when none. */
const struct natlb_frontend *natlb_fe_lookup(const struct natlb_gen *g, const uint8_t *addr,
	uint8_t family, uint16_t port_be, uint8_t proto);
bool natlb_is_node_addr(const struct natlb_gen *g, const uint8_t *addr, uint8_t family);

/* Building the inactive generation. Errors stick: after the first one every call is a no-op
 * and commit refuses, with the message in err. */
struct natlb_builder {
	struct natlb_tables *tt;
	struct natlb_gen *g;
	uint32_t target;
	int err;
	char msg[256];
};

void natlb_build_begin(struct natlb_builder *b, struct natlb_tables *tt);
uint32_t natlb_build_service(struct natlb_builder *b, const char *name);
/* be: n backends (flags READY/SERVING/TERMINATING/LOCAL); USABLE is decided here. need_local:
 * also a table of the local ones (a traffic policy Local applies to one of its frontends). */
uint32_t natlb_build_group(
	struct natlb_builder *b, const struct natlb_backend *be, uint32_t n, bool need_local);
/* 0; -EEXIST when another service has the key already (this one is skipped, not sticky);
 * the sticky error otherwise. */
int natlb_build_frontend(struct natlb_builder *b, const struct natlb_fe_key *key, uint8_t flags,
	uint32_t group, uint32_t service, uint32_t affinity_timeout_s);
void natlb_build_node_addr(struct natlb_builder *b, uint8_t family, const uint8_t *addr);
/* Switches to the new generation. 0, or the sticky error (-ENOSPC over a limit). */
int natlb_build_commit(struct natlb_builder *b, uint64_t now_ms);

#endif
