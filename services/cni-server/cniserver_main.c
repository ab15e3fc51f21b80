/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-cni-server: a control-plane service (no DPDK). Until the CNI issue lands it serves its admin socket, counters and health only. */
#include "pl_log.h"
#include "pl_service.h"

int main(int argc, char **argv)
{
	static struct pl_service s;
	const struct pl_service_opts opts = {
		.summary = "podlane cni-server: creates and deletes pod interfaces for the CNI "
			   "plugin (gRPC)",
	};
	int rc = pl_service_init(&s, PL_SVC_CNI_SERVER, argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	pl_service_ready(&s, "serving");
	rc = pl_service_run_control(&s);
	pl_service_fini(&s);
	return rc < 0 ? 1 : 0;
}
