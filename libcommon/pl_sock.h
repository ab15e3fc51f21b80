/* SPDX-License-Identifier: Apache-2.0 */
/* Who may reach podlane's local sockets. Everything a service binds lives in run_dir (admin
 * <svc>.ctl, state bus <producer>.snap/.pub, wake <svc>.wake, policy.tap), so:
 * - run_dir must be a directory owned by the service's effective uid and not writable by group
 *   or others (pl_private_dir_check, at every service's start): anyone else could otherwise
 *   replace a socket with their own and receive what podlanectl, the CNI plugin or another
 *   service sends, or plant a lock or stats file.
 * - Every ZeroMQ ipc:// socket is bound with pl_zmq_bind_private: its file is made 0600 and
 *   libzmq checks each connecting peer's SO_PEERCRED uid (ZMQ_IPC_FILTER_UID: the service's
 *   euid, and root), closing the connection of anyone else before a byte is read. Debian's
 *   libzmq 4.3.4 still implements the option (deprecated upstream in favour of ZAP). */
#ifndef PL_SOCK_H
#define PL_SOCK_H

#include <stddef.h>

/* 0 when path is a directory owned by our euid and not group/other-writable; -errno with the
 * reason in err otherwise (-ENOTDIR, -EPERM for owner or mode, the stat error). */
int pl_private_dir_check(const char *path, char *err, size_t size);

/* zmq_bind, with the peer-credential filter set first and, for ipc://, the socket file made
 * 0600. Returns 0 or -1 with errno, like zmq_bind. */
int pl_zmq_bind_private(void *sock, const char *endpoint);

#endif
