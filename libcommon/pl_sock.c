/* SPDX-License-Identifier: Apache-2.0 */
/* run_dir ownership and mode; ZeroMQ ipc sockets only the service's own user can connect to. */
#include "pl_sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

int pl_private_dir_check(const char *path, char *err, size_t size)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(err, size, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, size, "%s is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, size,
			"%s is owned by uid %u, not by this process's uid %u: refusing to use it "
			"(someone else could replace its sockets)",
			path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, size,
			"%s has mode %04o, writable by group or others: refusing to use it "
			"(chmod go-w, or remove it and let podlane create it 0700)",
			path, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int pl_zmq_bind_private(void *sock, const char *endpoint)
{
	/* Each call adds a uid to the accepted set; with none set, libzmq accepts anyone. */
	int uid = (int)geteuid(), root = 0;
	if (zmq_setsockopt(sock, ZMQ_IPC_FILTER_UID, &uid, sizeof(uid)) < 0 ||
		(uid != 0 && zmq_setsockopt(sock, ZMQ_IPC_FILTER_UID, &root, sizeof(root)) < 0))
		return -1;
	if (zmq_bind(sock, endpoint) < 0)
		return -1;
	/* The filter already refuses others; the mode keeps them from connecting at all. */
	if (strncmp(endpoint, "ipc://", 6) == 0 && chmod(endpoint + 6, 0600) < 0) {
		int e = errno;
		zmq_unbind(sock, endpoint);
		errno = e;
		return -1;
	}
	return 0;
}
