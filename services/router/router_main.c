/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-router: the L3 stage, last before io-worker transmits. Its control side keeps the
 * FIB in line with the interfaces, routes and pods on the state bus. */
#include "router.h"
#include "router_stage.h"

int main(int argc, char **argv)
{
	static struct router r;
	const struct pl_stage_def def = {
		.in = PL_RING_POLICY_TO_ROUTER,
		.out = PL_RING_ROUTER_TO_IO,
		.fn = router_stage,
		.ctx = &r,
		.n_counters = PL_ROUTER_MAX,
		.init = router_ctl_init,
		.fini = router_ctl_fini,
		.housekeeping = router_ctl_housekeeping,
		.poll_items = router_ctl_poll_items,
	};
	return pl_stage_main(argc, argv, PL_SVC_ROUTER,
		"podlane router: L3 stage (FIB, TTL, ICMP errors) of the packet pipeline", &def);
}
