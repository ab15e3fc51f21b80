/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-policy: the network-policy stage. It sees packets after nat-lb (post-DNAT) and
 * before router; until policies are configured it passes every packet on. */
#include "policy_stage.h"

#include "pl_stage.h"

int main(int argc, char **argv)
{
	const struct pl_stage_def def = {
		.in = PL_RING_NATLB_TO_POLICY,
		.out = PL_RING_POLICY_TO_ROUTER,
		.fn = policy_stage,
		.ctx = NULL,
	};
	return pl_stage_main(argc, argv, PL_SVC_POLICY,
		"podlane policy: network-policy stage of the packet pipeline", &def);
}
