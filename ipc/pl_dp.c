/* SPDX-License-Identifier: Apache-2.0 */
/* EAL start-up and creation/lookup of the shared DPDK objects named in pl_dp.h. */
#include "pl_dp.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_memzone.h>

#include "pl_log.h"
#include "pl_stats.h"

const struct pl_ring_def pl_ring_defs[PL_RING_MAX] = {
	[PL_RING_IO_TO_NATLB] = { "pl_io_natlb", PL_SVC_IO_WORKER, PL_SVC_NAT_LB },
	[PL_RING_NATLB_TO_POLICY] = { "pl_natlb_policy", PL_SVC_NAT_LB, PL_SVC_POLICY },
	[PL_RING_POLICY_TO_ROUTER] = { "pl_policy_router", PL_SVC_POLICY, PL_SVC_ROUTER },
	[PL_RING_ROUTER_TO_IO] = { "pl_router_io", PL_SVC_ROUTER, PL_SVC_IO_WORKER },
	[PL_RING_RECLAIM] = { "pl_reclaim", PL_SVC_SUPERVISOR, PL_SVC_IO_WORKER },
};

int pl_dp_meta_offset = -1;

int pl_dp_eal_init(
	const struct pl_config *cfg, enum pl_svc_id id, unsigned int slot, const char *prog)
{
	char a_prefix[96], a_huge[PL_CONFIG_STR_SIZE + 16], a_lcores[128], a_mem[32];
	char *argv[16];
	int argc = 0;
	bool primary = id == PL_SVC_SUPERVISOR;

	snprintf(a_prefix, sizeof(a_prefix), "--file-prefix=%s", cfg->dpdk.file_prefix);
	snprintf(a_huge, sizeof(a_huge), "--huge-dir=%s", cfg->dpdk.huge_dir);
	/* Each process its own lcore id, all floating over the same cpu set. */
	snprintf(a_lcores, sizeof(a_lcores), "--lcores=%u@(%s)",
		cfg->dpdk.lcore_base + (unsigned)id + (slot ? PL_SVC_MAX : 0), cfg->dpdk.cpus);
	snprintf(a_mem, sizeof(a_mem), "-m%u", cfg->dpdk.socket_mem_mb);

	argv[argc++] = (char *)prog;
	argv[argc++] = primary ? "--proc-type=primary" : "--proc-type=secondary";
	argv[argc++] = a_prefix;
	argv[argc++] = a_huge;
	argv[argc++] = a_lcores;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level=*:warning";
	if (primary)
		argv[argc++] = a_mem;
	argv[argc] = NULL;

	int rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		rc = rte_errno ? -rte_errno : -EIO;
		return rc;
	}
	return 0;
}

int pl_dp_meta_register(void)
{
	static const struct rte_mbuf_dynfield meta_desc = {
		.name = PL_DP_META_NAME,
		.size = sizeof(struct pl_pkt_meta),
		.align = __alignof__(struct pl_pkt_meta),
	};
	int off = rte_mbuf_dynfield_register(&meta_desc);
	if (off < 0)
		return -rte_errno;
	pl_dp_meta_offset = off;
	return off;
}

int pl_dp_create(struct pl_dp *dp, const struct pl_config *cfg, uint64_t incarnation)
{
	memset(dp, 0, sizeof(*dp));

	int off = pl_dp_meta_register();
	if (off < 0)
		return off;

	const struct rte_memzone *mz = rte_memzone_reserve(PL_DP_MZ_NAME,
		sizeof(struct pl_dp_shared), SOCKET_ID_ANY, RTE_MEMZONE_SIZE_HINT_ONLY);
	if (!mz)
		return -rte_errno;
	dp->shared = mz->addr;

	dp->pool = rte_pktmbuf_pool_create_by_ops(PL_DP_POOL_NAME, cfg->dpdk.mbufs, 0, 0,
		PL_DP_MBUF_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	if (!dp->pool)
		return -rte_errno;
	dp->big_pool = rte_pktmbuf_pool_create_by_ops(PL_DP_BIG_POOL_NAME, cfg->dpdk.big_mbufs, 0,
		0, PL_DP_BIG_DATA_SIZE, SOCKET_ID_ANY, "ring_sp_sc");
	if (!dp->big_pool)
		return -rte_errno;

	for (int i = 0; i < PL_RING_MAX; i++) {
		/* The reclaim ring must hold every packet both pools have. */
		unsigned int size =
			i == PL_RING_RECLAIM
				? rte_align32pow2(cfg->dpdk.mbufs + cfg->dpdk.big_mbufs + 1)
				: cfg->dpdk.ring_size;
		dp->rings[i] = rte_ring_create(
			pl_ring_defs[i].name, size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (!dp->rings[i])
			return -rte_errno;
	}
	dp->shared->meta_offset = off;
	dp->shared->n_mbufs = cfg->dpdk.mbufs;
	dp->shared->n_big_mbufs = cfg->dpdk.big_mbufs;
	dp->shared->incarnation = incarnation;
	dp->shared->version = PL_DP_VERSION;
	__atomic_store_n(&dp->shared->magic, PL_DP_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

int pl_dp_attach(struct pl_dp *dp)
{
	memset(dp, 0, sizeof(*dp));
	const struct rte_memzone *mz = rte_memzone_lookup(PL_DP_MZ_NAME);
	if (!mz)
		return -ENOENT;
	dp->shared = mz->addr;
	if (__atomic_load_n(&dp->shared->magic, __ATOMIC_ACQUIRE) != PL_DP_MAGIC ||
		dp->shared->version != PL_DP_VERSION)
		return -EPROTO;
	pl_dp_meta_offset = dp->shared->meta_offset;
	dp->pool = rte_mempool_lookup(PL_DP_POOL_NAME);
	dp->big_pool = rte_mempool_lookup(PL_DP_BIG_POOL_NAME);
	if (!dp->pool || !dp->big_pool)
		return -ENOENT;
	for (int i = 0; i < PL_RING_MAX; i++) {
		dp->rings[i] = rte_ring_lookup(pl_ring_defs[i].name);
		if (!dp->rings[i])
			return -ENOENT;
	}
	return 0;
}

const struct rte_memzone *pl_dp_memzone_get(const char *name, size_t size, bool *created)
{
	*created = false;
	const struct rte_memzone *mz = rte_memzone_lookup(name);
	if (!mz) {
		mz = rte_memzone_reserve(name, size, SOCKET_ID_ANY, RTE_MEMZONE_SIZE_HINT_ONLY);
		if (!mz && rte_errno == EEXIST)
			mz = rte_memzone_lookup(name);
		else if (mz)
			*created = true;
	}
	if (mz && mz->len < size) {
		rte_errno = EPROTO; /* an older, smaller layout */
		return NULL;
	}
	return mz;
}
