/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-policy: the network-policy stage. It sees packets after nat-lb (post-DNAT) and
 * before router, and drops those of flows that Kubernetes NetworkPolicy (and podlane's
 * TierPolicy tiers) deny; replies of allowed flows pass (sessions from nat-lb's conntrack). */
#include "policy.h"

int main(int argc, char **argv)
{
	static struct policy p;
	const struct pl_stage_def def = {
		.in = PL_RING_NATLB_TO_POLICY,
		.out = PL_RING_POLICY_TO_ROUTER,
		.fn = policy_stage,
		.ctx = &p,
		.n_counters = PL_POLICY_MAX,
		.init = policy_ctl_init,
		.fini = policy_ctl_fini,
		.housekeeping = policy_ctl_housekeeping,
		.poll_items = policy_ctl_poll_items,
	};
	return pl_stage_main(argc, argv, PL_SVC_POLICY,
		"podlane policy: network-policy stage of the packet pipeline (NetworkPolicy, "
		"tiers, "
		"flow logs)",
		&def);
}
