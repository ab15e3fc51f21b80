/* SPDX-License-Identifier: Apache-2.0 */
/* The CNI gRPC server: Calico's cni.CniDataplane (proto/cnibackend.proto) on the unix socket
 * cni.socket, so the Calico CNI plugin with "dataplane_options": {"type": "grpc"} creates and
 * deletes pods through cni_pods_add/cni_pods_del. grpc's completion queue has no fd, so a
 * thread of this module serves the transport and hands each request to the service's main
 * thread through a queue and an eventfd; the main thread runs it (cni_pods_* and the bus are
 * single-threaded) and sends the reply. At most cni.max_pending calls are in flight. */
#ifndef CNISERVER_GRPC_H
#define CNISERVER_GRPC_H

#include "cniserver_pods.h"

struct cni_grpc;

/* Listens on pods->s->cfg.cni.socket (parent directory created 0700, socket mode 0600).
 * 0, or -errno: -ENAMETOOLONG (path too long for a unix socket), -EEXIST (something other than
 * a socket is in the way), -EADDRINUSE (grpc could not bind), -errno of mkdir, -ENOMEM. */
int cni_grpc_start(struct cni_grpc **gp, struct cni_pods *pods);
/* Readable when requests wait for cni_grpc_handle(); for the main loop's poll items. */
int cni_grpc_fd(const struct cni_grpc *g);
/* Main thread: runs the queued requests and starts their replies. Cheap when there are none. */
void cni_grpc_handle(struct cni_grpc *g);
/* Main thread: stops accepting, cancels the calls in flight, joins the thread, removes the
 * socket. NULL-safe; sets *gp = NULL. */
void cni_grpc_stop(struct cni_grpc **gp);

#endif
