/* SPDX-License-Identifier: Apache-2.0 */
#include "pl_fdstore.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pl_log.h"

#define IO_TIMEOUT_MS 1000

static int sock_path(const char *run_dir, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path, sizeof(a->sun_path), "%s/fdstore.sock", run_dir);
	return n < 0 || (size_t)n >= sizeof(a->sun_path) ? -ENAMETOOLONG : 0;
}

/* Sends one message, with fd attached when fd >= 0. */
static int send_msg(int sock, const struct pl_fdstore_msg *m, int fd)
{
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		h.msg_control = u.buf;
		h.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t r = sendmsg(sock, &h, MSG_NOSIGNAL);
	if (r < 0)
		return -errno;
	return r == (ssize_t)sizeof(*m) ? 0 : -EMSGSIZE;
}

/* Receives one message; *fd is the attached descriptor or -1. 1 on a message, 0 when none is
 * waiting (nonblocking) or the peer closed (*closed), -errno on error. A message of the wrong
 * size is -EBADMSG (its descriptor closed). */
static int recv_msg(int sock, struct pl_fdstore_msg *m, int *fd, bool *closed, int flags)
{
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct msghdr h = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	*fd = -1;
	*closed = false;
	ssize_t r = recvmsg(sock, &h, flags | MSG_CMSG_CLOEXEC);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (r == 0) {
		*closed = true;
		return 0;
	}
	/* Take every descriptor attached, keep at most one. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = f;
			else
				close(f);
		}
	}
	if (r != (ssize_t)sizeof(*m) || (h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		m->index >= PL_IF_MAX || !memchr(m->name, 0, sizeof(m->name)) ||
		!memchr(m->netns, 0, sizeof(m->netns))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EBADMSG;
	}
	return 1;
}

/* ---- supervisor ---- */

int pl_fdstore_open(struct pl_fdstore *st, const char *run_dir)
{
	memset(st, 0, sizeof(*st));
	st->listen_fd = st->conn_fd = -1;
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		st->e[i].fd = -1;
	struct sockaddr_un a;
	int rc = sock_path(run_dir, &a);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(a.sun_path);
	mode_t old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || listen(fd, 4) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	st->listen_fd = fd;
	return 0;
}

int pl_fdstore_poll_fds(const struct pl_fdstore *st, int *fds, int max)
{
	int n = 0;
	if (st->listen_fd >= 0 && n < max)
		fds[n++] = st->listen_fd;
	if (st->conn_fd >= 0 && n < max)
		fds[n++] = st->conn_fd;
	return n;
}

static void entry_close(struct pl_fdstore *st, uint16_t i)
{
	if (st->e[i].fd < 0)
		return;
	close(st->e[i].fd);
	st->e[i].fd = -1;
	st->n--;
}

static void drop_conn(struct pl_fdstore *st)
{
	if (st->conn_fd >= 0)
		close(st->conn_fd);
	st->conn_fd = -1;
}

static void serve(struct pl_fdstore *st)
{
	for (int k = 0; k < 256; k++) {
		struct pl_fdstore_msg m;
		int fd;
		bool closed;
		int rc = recv_msg(st->conn_fd, &m, &fd, &closed, MSG_DONTWAIT);
		if (rc == 0) {
			if (closed)
				drop_conn(st);
			return;
		}
		if (rc < 0) {
			st->rejected++;
			PL_LOG_RL(PL_LOG_WARN, "fdstore", "malformed message: %s", strerror(-rc));
			if (rc != -EBADMSG) {
				drop_conn(st);
				return;
			}
			continue;
		}
		switch (m.op) {
		case PL_FDSTORE_PUT:
			if (fd < 0) {
				st->rejected++;
				break;
			}
			entry_close(st, m.index);
			st->e[m.index].fd = fd;
			st->e[m.index].kind = m.kind;
			memcpy(st->e[m.index].name, m.name, sizeof(m.name));
			memcpy(st->e[m.index].netns, m.netns, sizeof(m.netns));
			st->n++;
			fd = -1;
			break;
		case PL_FDSTORE_DEL:
			entry_close(st, m.index);
			break;
		case PL_FDSTORE_GET:
			for (unsigned int i = 0; i < PL_IF_MAX; i++) {
				if (st->e[i].fd < 0)
					continue;
				struct pl_fdstore_msg r = { .op = PL_FDSTORE_ENTRY,
					.kind = st->e[i].kind,
					.index = (uint16_t)i };
				memcpy(r.name, st->e[i].name, sizeof(r.name));
				memcpy(r.netns, st->e[i].netns, sizeof(r.netns));
				if (send_msg(st->conn_fd, &r, st->e[i].fd) < 0) {
					drop_conn(st);
					break;
				}
			}
			if (st->conn_fd >= 0) {
				struct pl_fdstore_msg end = { .op = PL_FDSTORE_END };
				if (send_msg(st->conn_fd, &end, -1) < 0)
					drop_conn(st);
			}
			break;
		default:
			st->rejected++;
		}
		if (fd >= 0)
			close(fd);
		if (st->conn_fd < 0)
			return;
	}
}

void pl_fdstore_handle(struct pl_fdstore *st, pid_t allowed)
{
	if (st->listen_fd < 0)
		return;
	for (;;) {
		int c = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			break;
		/* Blocking sends (a GET answer may outgrow the socket buffer while io-worker
		 * reads it), bounded by a timeout; receives use MSG_DONTWAIT. */
		struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || allowed <= 0 ||
			cred.pid != allowed || (cred.uid != 0 && cred.uid != geteuid())) {
			st->rejected++;
			PL_LOG_RL(PL_LOG_WARN, "fdstore",
				"refused a connection from pid %d (io-worker is %d)", (int)cred.pid,
				(int)allowed);
			close(c);
			continue;
		}
		/* The newest io-worker replaces whatever was connected (a dead one's socket). */
		drop_conn(st);
		st->conn_fd = c;
	}
	if (st->conn_fd >= 0)
		serve(st);
}

void pl_fdstore_close(struct pl_fdstore *st)
{
	for (unsigned int i = 0; i < PL_IF_MAX; i++)
		entry_close(st, (uint16_t)i);
	drop_conn(st);
	if (st->listen_fd >= 0)
		close(st->listen_fd);
	st->listen_fd = -1;
}

/* ---- io-worker ---- */

static int wait_io(int sock, short ev)
{
	struct pollfd p = { .fd = sock, .events = ev };
	int r;
	do
		r = poll(&p, 1, IO_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int pl_fdstore_connect(const char *run_dir)
{
	struct sockaddr_un a;
	int rc = sock_path(run_dir, &a);
	if (rc < 0)
		return rc;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int pl_fdstore_put(
	int sock, uint16_t index, uint8_t kind, const char *name, const char *netns, int fd)
{
	struct pl_fdstore_msg m = { .op = PL_FDSTORE_PUT, .kind = kind, .index = index };
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.netns, sizeof(m.netns), "%s", netns);
	return send_msg(sock, &m, fd);
}

int pl_fdstore_del(int sock, uint16_t index)
{
	struct pl_fdstore_msg m = { .op = PL_FDSTORE_DEL, .index = index };
	return send_msg(sock, &m, -1);
}

int pl_fdstore_get(
	int sock, void (*fn)(void *ctx, const struct pl_fdstore_msg *m, int fd), void *ctx)
{
	struct pl_fdstore_msg m = { .op = PL_FDSTORE_GET };
	int rc = send_msg(sock, &m, -1);
	if (rc < 0)
		return rc;
	int n = 0;
	for (;;) {
		rc = wait_io(sock, POLLIN);
		if (rc < 0)
			return rc;
		int fd;
		bool closed;
		rc = recv_msg(sock, &m, &fd, &closed, 0);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return closed ? -ECONNRESET : -EAGAIN;
		if (m.op == PL_FDSTORE_END) {
			if (fd >= 0)
				close(fd);
			return n;
		}
		if (m.op != PL_FDSTORE_ENTRY || fd < 0) {
			if (fd >= 0)
				close(fd);
			return -EBADMSG;
		}
		fn(ctx, &m, fd);
		n++;
	}
}
