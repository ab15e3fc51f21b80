/* SPDX-License-Identifier: Apache-2.0 */
/* Pod interfaces: create a pod's persistent tun in its network namespace with its addresses
 * and link-local default routes, record the pod crash-safely in pods.state_file, and publish
 * it on the state bus (kind "pod", keyed by its interface index) for io-worker and router.
 * Add and delete are idempotent; the number of pods is limited by pods.max_pods. On start the
 * recorded pods are adopted and published again. The CNI server's gRPC handlers (next issue)
 * call the same functions as the pod/add and pod/del admin commands. */
#ifndef CNISERVER_PODS_H
#define CNISERVER_PODS_H

#include "pl_bus.h"
#include "pl_objects.h"
#include "pl_service.h"

struct cni_pods {
	struct pl_service *s;
	struct pl_bus_producer *bus;
	struct pl_obj_iface *pods; /* indexed by interface index; role 0 = free */
	unsigned int n_pods;
};

int cni_pods_init(struct cni_pods *c, struct pl_service *s);
void cni_pods_fini(struct cni_pods *c);
/* 0 (created, or already there identically), -EEXIST (same netns/ifname, other addresses),
 * -ENOSPC (pods.max_pods), -EINVAL, -errno from netlink. On error nothing is left behind.
 * `allow`: prefixes the pod may use as source besides its addresses (io-worker drops any
 * other source from it); most pods have none. */
int cni_pods_add(struct cni_pods *c, const char *netns, const char *ifname,
	const struct pl_prefix *addrs, unsigned int n_addrs, const struct pl_prefix *allow,
	unsigned int n_allow, uint16_t *index);
/* 0, or -ENOENT when there is no such pod (callers treat that as done). */
int cni_pods_del(struct cni_pods *c, const char *netns, const char *ifname);
int cni_pods_register(struct cni_pods *c);

#endif
