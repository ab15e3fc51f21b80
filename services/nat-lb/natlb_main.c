/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-nat-lb: the service load-balancing stage (kube-proxy's job). It sits between
 * io-worker and policy; until services are configured it passes every packet on. */
#include "natlb_stage.h"

#include "pl_stage.h"

int main(int argc, char **argv)
{
	const struct pl_stage_def def = {
		.in = PL_RING_IO_TO_NATLB,
		.out = PL_RING_NATLB_TO_POLICY,
		.fn = natlb_stage,
		.ctx = NULL,
	};
	return pl_stage_main(argc, argv, PL_SVC_NAT_LB,
		"podlane nat-lb: service DNAT/SNAT stage of the packet pipeline", &def);
}
