/* SPDX-License-Identifier: Apache-2.0 */
/* The port descriptor store: the supervisor keeps a duplicate of every port descriptor
 * io-worker opens (pod tuns, the host tap, the AF_PACKET uplink), so that the devices' queues
 * outlive an io-worker death. What the kernel queued for the dead process (a pod's packets in
 * its tun, frames on the uplink) stays queued and the next io-worker, handed the same
 * descriptors, reads it: nothing is purged uncounted, and no port has to be re-opened.
 *
 * Channel: a unix SOCK_SEQPACKET socket <run_dir>/fdstore.sock (0600, in the private run_dir),
 * one connection at a time, accepted only from the process the supervisor knows as io-worker
 * (SO_PEERCRED pid, and uid ours or root). Messages are one fixed-size struct pl_fdstore_msg:
 *   PUT index (a descriptor attached, SCM_RIGHTS): keep it, replacing what index had;
 *   DEL index: close what index had;
 *   GET: the supervisor answers with one ENTRY per kept descriptor (attached), then END.
 * Bounded: index < PL_IF_MAX, names NUL-terminated within their fields; anything else is
 * counted and ignored (a descriptor attached to a bad message is closed). */
#ifndef PL_FDSTORE_H
#define PL_FDSTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pl_fib.h"
#include "pl_objects.h"

enum pl_fdstore_op {
	PL_FDSTORE_PUT = 1,
	PL_FDSTORE_DEL = 2,
	PL_FDSTORE_GET = 3,
	PL_FDSTORE_ENTRY = 4,
	PL_FDSTORE_END = 5,
};

struct pl_fdstore_msg {
	uint8_t op; /* enum pl_fdstore_op */
	uint8_t kind; /* the port kind (io-worker's enum port_kind) */
	uint16_t index; /* PL_IF_* */
	char name[PL_OBJ_NAME_SIZE];
	char netns[PL_OBJ_NETNS_SIZE];
};

/* ---- the supervisor's side ---- */
struct pl_fdstore_entry {
	int fd; /* -1: none */
	uint8_t kind;
	char name[PL_OBJ_NAME_SIZE];
	char netns[PL_OBJ_NETNS_SIZE];
};

struct pl_fdstore {
	int listen_fd;
	int conn_fd; /* the connected io-worker, -1 if none */
	uint32_t n; /* descriptors kept */
	uint64_t rejected; /* malformed messages and refused peers */
	struct pl_fdstore_entry e[PL_IF_MAX];
};

/* Binds <run_dir>/fdstore.sock. 0 or -errno. */
int pl_fdstore_open(struct pl_fdstore *st, const char *run_dir);
/* Descriptors to poll for input (listening and connected sockets); returns how many. */
int pl_fdstore_poll_fds(const struct pl_fdstore *st, int *fds, int max);
/* Accepts a connection from pid `allowed` (others refused), serves pending messages. */
void pl_fdstore_handle(struct pl_fdstore *st, pid_t allowed);
/* Closes every kept descriptor (after io-worker stopped for good) and the sockets. */
void pl_fdstore_close(struct pl_fdstore *st);

/* ---- io-worker's side (blocking calls with a 1 s timeout; -errno on failure) ---- */
int pl_fdstore_connect(const char *run_dir);
int pl_fdstore_put(
	int sock, uint16_t index, uint8_t kind, const char *name, const char *netns, int fd);
int pl_fdstore_del(int sock, uint16_t index);
/* Asks for every kept descriptor: fn is called for each (it owns fd). Returns how many. */
int pl_fdstore_get(
	int sock, void (*fn)(void *ctx, const struct pl_fdstore_msg *m, int fd), void *ctx);

#endif
