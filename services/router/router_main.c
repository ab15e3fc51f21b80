/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-router: the L3 stage, last before io-worker transmits. */
#include "router_stage.h"

#include "pl_stage.h"

int main(int argc, char **argv)
{
	const struct pl_stage_def def = {
		.in = PL_RING_POLICY_TO_ROUTER,
		.out = PL_RING_ROUTER_TO_IO,
		.fn = router_stage,
		.ctx = NULL,
	};
	return pl_stage_main(argc, argv, PL_SVC_ROUTER,
		"podlane router: L3 stage (input checks, TTL) of the packet pipeline", &def);
}
