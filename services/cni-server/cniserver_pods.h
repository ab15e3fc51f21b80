/* SPDX-License-Identifier: Apache-2.0 */
/* Pod interfaces: create a pod's persistent tun in its network namespace with its addresses
 * and link-local default routes, record the pod crash-safely in pods.state_file, and publish
 * it on the state bus (kind "pod", keyed by its interface index) for io-worker and router.
 * Add and delete are idempotent; the number of pods is limited by pods.max_pods. On start the
 * recorded pods are adopted and published again. The CNI server's gRPC handlers (next issue)
 * call the same functions as the pod/add and pod/del admin commands. */
#ifndef CNISERVER_PODS_H
#define CNISERVER_PODS_H

#include <stdbool.h>
#include <stddef.h>

#include "pl_bus.h"
#include "pl_objects.h"
#include "pl_service.h"

struct cni_pods {
	struct pl_service *s;
	struct pl_bus_producer *bus;
	struct pl_obj_iface *pods; /* indexed by interface index; role 0 = free */
	unsigned int n_pods;
};

/* Which network namespaces a pod may be put in: /var/run/netns/NAME, /run/netns/NAME (NAME
 * without '/', not "." or ".."), a bare NAME (meaning /var/run/netns/NAME) or /proc/PID/ns/net
 * (PID digits) — the forms runtimes use; anything else is -EINVAL. Writes the path to use.
 * must_exist: the path must also open as a network namespace (-errno from open, -ENOENT when
 * there is none), and not be cni-server's own (the node's) namespace (-EINVAL). err (may be
 * NULL) says why. */
int cni_netns_check(
	const char *netns, bool must_exist, char *path, size_t size, char *err, size_t err_size);
int cni_pods_init(struct cni_pods *c, struct pl_service *s);
void cni_pods_fini(struct cni_pods *c);
/* 0 (created, or already there identically), -EEXIST (same netns/ifname, other addresses),
 * -ENOSPC (pods.max_pods), -EINVAL (also a netns cni_netns_check refuses), -ENOENT (no such
 * netns), -errno from netlink. On error nothing is left behind.
 * `allow`: prefixes the pod may use as source besides its addresses (io-worker drops any
 * other source from it); most pods have none. */
int cni_pods_add(struct cni_pods *c, const char *netns, const char *ifname,
	const struct pl_prefix *addrs, unsigned int n_addrs, const struct pl_prefix *allow,
	unsigned int n_allow, uint16_t *index);
/* 0, or -ENOENT when there is no such pod (callers treat that as done). */
int cni_pods_del(struct cni_pods *c, const char *netns, const char *ifname);
int cni_pods_register(struct cni_pods *c);

#endif
