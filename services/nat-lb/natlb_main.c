/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-nat-lb: the service load-balancing stage (kube-proxy's job). It sits between
 * io-worker and policy: DNAT of new flows to a service's endpoints (Maglev), SNAT for hairpin and
 * remote endpoints, reverse NAT of replies, through a session table in shared memory that
 * survives its restarts. Services and EndpointSlices come from the datastore. */
#include "natlb.h"
#include "pl_stage.h"

int main(int argc, char **argv)
{
	static struct natlb nl;
	const struct pl_stage_def def = {
		.in = PL_RING_IO_TO_NATLB,
		.out = PL_RING_NATLB_TO_POLICY,
		.fn = natlb_stage,
		.ctx = &nl,
		.n_counters = PL_NATLB_MAX,
		.init = natlb_ctl_init,
		.fini = natlb_ctl_fini,
		.housekeeping = natlb_ctl_housekeeping,
		.poll_items = natlb_ctl_poll_items,
	};
	return pl_stage_main(argc, argv, PL_SVC_NAT_LB,
		"podlane nat-lb: service load balancing (DNAT/SNAT, conntrack) stage of the packet "
		"pipeline",
		&def);
}
