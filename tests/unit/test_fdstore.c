/* SPDX-License-Identifier: Apache-2.0 */
/* The port descriptor store (libcommon/pl_fdstore.c): the supervisor's side served by a thread,
 * io-worker's side called from the test. A descriptor put is handed back by GET as the same
 * open file (a byte written into a kept pipe's write end comes out of the test's read end),
 * replaced and deleted by index; malformed messages (wrong size, index out of range, names
 * without their NUL) are refused and counted, their descriptors closed; a peer that is not
 * the allowed pid is refused. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "pl_fdstore.h"

static struct pl_fdstore st;
static char dir[] = "/tmp/pl_fdstore_test.XXXXXX";
static volatile int stop;
static pid_t allowed;
static pthread_t server;

static void *serve(void *arg)
{
	(void)arg;
	while (!stop) {
		int fds[2];
		int n = pl_fdstore_poll_fds(&st, fds, 2);
		struct pollfd p[2];
		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		poll(p, (nfds_t)n, 20);
		pl_fdstore_handle(&st, allowed);
	}
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pl_fdstore_open(&st, dir), 0);
	struct stat sb;
	char path[128];
	snprintf(path, sizeof(path), "%s/fdstore.sock", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	allowed = getpid();
	stop = 0;
	assert_int_equal(pthread_create(&server, NULL, serve, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stop = 1;
	pthread_join(server, NULL);
	pl_fdstore_close(&st);
	char path[128];
	snprintf(path, sizeof(path), "%s/fdstore.sock", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

struct got {
	int n;
	int fd[8];
	struct pl_fdstore_msg m[8];
};

static void collect(void *ctx, const struct pl_fdstore_msg *m, int fd)
{
	struct got *g = ctx;
	if (g->n < 8) {
		g->fd[g->n] = fd;
		g->m[g->n++] = *m;
	} else {
		close(fd);
	}
}

static void close_got(struct got *g)
{
	for (int i = 0; i < g->n; i++)
		close(g->fd[i]);
}

/* Writes a byte into fd and expects it out of rd. */
static void same_pipe(int fd, int rd, char c)
{
	assert_int_equal(write(fd, &c, 1), 1);
	char b = 0;
	assert_int_equal(read(rd, &b, 1), 1);
	assert_int_equal(b, c);
}

/* Waits until the server has taken what was sent (a GET is answered after it). */
static struct got get_all(int sock)
{
	struct got g = { 0 };
	assert_true(pl_fdstore_get(sock, collect, &g) >= 0);
	return g;
}

static void test_put_get_replace_del(void **state)
{
	(void)state;
	int p1[2], p2[2];
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	int s = pl_fdstore_connect(dir);
	assert_true(s >= 0);
	assert_int_equal(pl_fdstore_put(s, 17, 2, "eth0", "/var/run/netns/a", p1[1]), 0);
	assert_int_equal(pl_fdstore_put(s, 2, 1, "eth0", "", p2[1]), 0);
	close(p1[1]); /* the store's duplicates keep the write ends open */
	close(p2[1]);
	struct got g = get_all(s);
	assert_int_equal(g.n, 2);
	assert_int_equal(st.n, 2);
	for (int i = 0; i < g.n; i++) {
		if (g.m[i].index == 17) {
			assert_int_equal(g.m[i].kind, 2);
			assert_string_equal(g.m[i].name, "eth0");
			assert_string_equal(g.m[i].netns, "/var/run/netns/a");
			same_pipe(g.fd[i], p1[0], 'a');
		} else {
			assert_int_equal(g.m[i].index, 2);
			assert_string_equal(g.m[i].netns, "");
			same_pipe(g.fd[i], p2[0], 'b');
		}
	}
	close_got(&g);
	/* Replace 17 with another pipe: GET hands back that one for it. */
	int p3[2];
	assert_int_equal(pipe(p3), 0);
	assert_int_equal(pl_fdstore_put(s, 17, 2, "eth0", "/var/run/netns/b", p3[1]), 0);
	close(p3[1]);
	g = get_all(s);
	assert_int_equal(g.n, 2);
	for (int i = 0; i < g.n; i++)
		if (g.m[i].index == 17) {
			assert_string_equal(g.m[i].netns, "/var/run/netns/b");
			same_pipe(g.fd[i], p3[0], 'c');
		}
	close_got(&g);
	/* p1's write end is closed everywhere now: its read end sees EOF. */
	char b;
	assert_int_equal(read(p1[0], &b, 1), 0);
	assert_int_equal(pl_fdstore_del(s, 17), 0);
	assert_int_equal(pl_fdstore_del(s, 2), 0);
	g = get_all(s);
	assert_int_equal(g.n, 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(read(p3[0], &b, 1), 0);
	assert_int_equal(read(p2[0], &b, 1), 0);
	close(p1[0]);
	close(p2[0]);
	close(p3[0]);
	close(s);
}

/* Sends raw bytes with an fd attached. */
static void send_raw(int s, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr h = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&h);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(s, &h, 0), (ssize_t)len);
}

static void test_malformed(void **state)
{
	(void)state;
	int s = pl_fdstore_connect(dir);
	assert_true(s >= 0);
	uint64_t rej = st.rejected;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct pl_fdstore_msg m = { .op = PL_FDSTORE_PUT, .kind = 2, .index = 5 };
	send_raw(s, &m, sizeof(m) - 1, p[1]); /* short */
	m.index = PL_IF_MAX; /* out of range */
	send_raw(s, &m, sizeof(m), p[1]);
	m.index = 5;
	memset(m.name, 'x', sizeof(m.name)); /* no NUL */
	send_raw(s, &m, sizeof(m), p[1]);
	memset(m.name, 0, sizeof(m.name));
	m.op = 99; /* unknown */
	send_raw(s, &m, sizeof(m), p[1]);
	m.op = PL_FDSTORE_PUT; /* a PUT without a descriptor */
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr h = { .msg_iov = &iov, .msg_iovlen = 1 };
	assert_int_equal(sendmsg(s, &h, 0), (ssize_t)sizeof(m));
	close(p[1]);
	struct got g = get_all(s);
	assert_int_equal(g.n, 0);
	assert_int_equal(st.rejected - rej, 5);
	/* Every descriptor that came with them was closed: the pipe's write end is gone. */
	char b;
	assert_int_equal(read(p[0], &b, 1), 0);
	close(p[0]);
	close(s);
}

static void test_refused_peer(void **state)
{
	(void)state;
	uint64_t rej = st.rejected;
	allowed = getpid() + 1;
	int s = pl_fdstore_connect(dir);
	assert_true(s >= 0); /* accepted by the kernel, then closed by the store */
	struct got g = { 0 };
	int rc = pl_fdstore_get(s, collect, &g);
	assert_true(rc < 0);
	assert_int_equal(g.n, 0);
	assert_true(st.rejected > rej);
	close(s);
	allowed = getpid();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_replace_del),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_refused_peer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
