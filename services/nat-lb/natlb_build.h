/* SPDX-License-Identifier: Apache-2.0 */
/* From Kubernetes objects to nat-lb's service table: one Service and its EndpointSlices become
 * frontends (ClusterIPs, NodePorts, external and load-balancer IPs) over a group of endpoints.
 * nat-lb's control side calls it for every Service in the datastore; the single-process
 * benchmark baseline calls it on the same objects, so both get the same table. */
#ifndef NATLB_BUILD_H
#define NATLB_BUILD_H

#include <stddef.h>

#include "natlb_table.h"
#include "pl_k8s.h"

/* Adds Service o (headless: nothing) with the endpoints of its slices (n_slices, may be NULL
 * when 0) to the generation b builds. node_name: this node (endpoints there are local).
 * scratch: room for the endpoints of one service port (scratch_n of them at most). */
void natlb_build_k8s_service(struct natlb_builder *b, const struct pl_k8s_object *o,
	const struct pl_k8s_object *const *slices, size_t n_slices, const char *node_name,
	struct natlb_backend *scratch, size_t scratch_n);

/* Adds every Service of objs (n objects of any kind) with its EndpointSlices, as the control
 * side does for the datastore's (single-process tools and tests: the benchmark baseline, the
 * stage harness). 0 or -ENOMEM (nothing added). */
int natlb_build_k8s_objects(struct natlb_builder *b, const struct pl_k8s_object *const *objs,
	size_t n, const char *node_name);

#endif
