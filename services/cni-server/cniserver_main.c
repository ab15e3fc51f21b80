/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-cni-server: a control-plane service (no DPDK). It creates and deletes pod
 * interfaces, asked by the Calico CNI plugin over gRPC (cni.CniDataplane on cni.socket) or by
 * the pod/add and pod/del admin commands, keeps them in a crash-safe state file and publishes
 * them on the state bus. */
#include "cniserver_grpc.h"
#include "cniserver_pods.h"

#include <errno.h>
#include <string.h>

#include "pl_log.h"

int main(int argc, char **argv)
{
	static struct pl_service s;
	static struct cni_pods pods;
	struct cni_grpc *grpc = NULL;
	const struct pl_service_opts opts = {
		.summary =
			"podlane cni-server: serves the CNI gRPC API (Calico cni.CniDataplane on "
			"cni.socket), creates and deletes pod interfaces and publishes them",
	};
	int rc = pl_service_init(&s, PL_SVC_CNI_SERVER, argc, argv, &opts);
	if (rc != 0)
		return rc > 0 ? 0 : 1;
	rc = cni_pods_init(&pods, &s);
	if (rc == 0)
		rc = cni_pods_register(&pods);
	if (rc < 0) {
		PL_ERR("main", "cannot start: %s", strerror(-rc));
		goto out;
	}
	/* After the pods are adopted, so the first call sees them. */
	rc = cni_grpc_start(&grpc, &pods);
	if (rc < 0) {
		PL_ERR("main", "cannot serve gRPC on cni.socket %s: %s", s.cfg.cni.socket,
			rc == -EEXIST ? "a file that is not a socket is in the way"
				      : strerror(-rc));
		goto out;
	}
	pl_service_ready(&s, "serving");
	while (!s.stop) {
		zmq_pollitem_t it[] = {
			{ .socket = pl_bus_producer_socket(pods.bus), .events = ZMQ_POLLIN },
			{ .fd = cni_grpc_fd(grpc), .events = ZMQ_POLLIN },
		};
		cni_grpc_handle(grpc);
		pl_bus_producer_handle(pods.bus);
		int wait = (int)pl_bus_producer_tick(pods.bus, pl_now_ms());
		pl_service_sleep(&s, wait, it, 2);
	}
	rc = 0;
out:
	cni_grpc_stop(&grpc);
	cni_pods_fini(&pods);
	pl_service_fini(&s);
	return rc < 0 ? 1 : 0;
}
