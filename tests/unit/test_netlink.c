/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for pl_netlink: address text, state file (round trip and every kind of bad input),
 * comparison, and -- as root, each in a forked child inside a fresh network namespace so the
 * host is never touched and everything created vanishes with the child -- snapshot, take, host
 * tap, restore (also after a SIGKILL, from the state file) and pod TUNs. Children report
 * through their exit status; files go to a temp directory the parent removes. */
#include "pl_netlink.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

#include <cmocka.h>

/* ---- helpers for children (cmocka's longjmp must not run in a fork) -------------------------- */

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			_exit(1);                                                                \
		}                                                                                \
	} while (0)

#define CHECK_RC(expr, want)                                                                  \
	do {                                                                                  \
		int rc_ = (expr);                                                             \
		if (rc_ != (want)) {                                                          \
			fprintf(stderr, "%s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, \
				#expr, rc_, strerror(rc_ < 0 ? -rc_ : rc_), (want));          \
			_exit(1);                                                             \
		}                                                                             \
	} while (0)

#define CHECK_SAME(a, b)                                                                       \
	do {                                                                                   \
		char d_[512];                                                                  \
		if (pl_nl_state_compare((a), (b), d_, sizeof(d_)) != 0) {                      \
			fprintf(stderr, "%s:%d: states differ: %s\n", __FILE__, __LINE__, d_); \
			_exit(1);                                                              \
		}                                                                              \
	} while (0)

static bool have_root(void)
{
	return geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0;
}

/* Runs fn(arg) in a forked child inside a new network namespace; asserts it exited 0. */
static void run_in_netns(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0) {
			perror("unshare(CLONE_NEWNET)");
			_exit(2);
		}
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Runs "ip <words...>" (words separated by single spaces) and checks it succeeded. */
static void ip(const char *cmd)
{
	char buf[256], *argv[32], *save = NULL, *w;
	int argc = 0, status;
	pid_t pid;

	CHECK(strlen(cmd) < sizeof(buf));
	memcpy(buf, cmd, strlen(cmd) + 1);
	argv[argc++] = "ip";
	for (w = strtok_r(buf, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execv("/usr/sbin/ip", argv);
		execv("/sbin/ip", argv);
		execvp("ip", argv);
		_exit(127);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ip %s: failed (status 0x%x)\n", cmd, status);
		_exit(1);
	}
}

static void make_veth(const char *name, const char *peer)
{
	struct nl_sock *sk = nl_socket_alloc();

	CHECK(sk);
	CHECK(nl_connect(sk, NETLINK_ROUTE) == 0);
	CHECK(rtnl_link_veth_add(sk, name, peer, getpid()) == 0);
	nl_socket_free(sk);
}

/* The uplink of the tests: veth upl0 (peer peer0) with a bit of everything. */
static void setup_uplink(void)
{
	ip("link set lo up");
	make_veth("upl0", "peer0");
	ip("link set upl0 address 02:11:22:33:44:55");
	ip("link set upl0 mtu 1400");
	ip("link set peer0 up");
	ip("link set upl0 up");
	ip("addr add 10.77.0.2/24 brd + dev upl0");
	ip("addr add 10.77.0.3/24 dev upl0");
	ip("addr add 10.78.0.2/24 dev upl0 noprefixroute");
	ip("-6 addr add fd77::2/64 dev upl0 nodad");
	ip("route add default via 10.77.0.1 dev upl0");
	ip("-6 route add default via fd77::1 dev upl0");
	ip("route add 10.88.0.0/16 via 10.77.0.1 dev upl0 metric 50");
	ip("route add 10.99.0.0/16 via 10.77.0.1 dev upl0 table 100");
	ip("-6 route add fd99::/64 via fd77::1 dev upl0 table 100");
	ip("route add 10.55.0.0/16 via 10.77.0.1 dev upl0 src 10.77.0.2 mtu lock 1300");
	ip("route add 10.44.0.0/16 via 192.0.2.1 dev upl0 onlink");
	ip("route add 192.0.2.77 dev upl0 scope link proto static");
	ip("route add 10.33.0.0/16 via 192.0.2.77 dev upl0");
	/* Something on another link that must never be touched. */
	ip("addr add 10.200.0.1/24 dev peer0");
	ip("route add 10.201.0.0/16 via 10.200.0.2 dev peer0");
}

static const struct pl_nl_route *find_route(
	const struct pl_nl_link_state *st, const char *dst, uint32_t table)
{
	struct pl_nl_addr a;
	unsigned int i;

	CHECK(pl_nl_addr_parse(dst, &a) == 0);
	for (i = 0; i < st->n_routes; i++) {
		const struct pl_nl_route *r = &st->routes[i];

		if (r->family == a.family && r->dst_len == a.prefixlen && r->table == table &&
			!memcmp(r->dst, a.addr, a.family == AF_INET ? 4 : 16))
			return r;
	}
	return NULL;
}

static const struct pl_nl_addr *find_addr(const struct pl_nl_link_state *st, const char *s)
{
	struct pl_nl_addr a;
	unsigned int i;

	CHECK(pl_nl_addr_parse(s, &a) == 0);
	for (i = 0; i < st->n_addrs; i++) {
		if (st->addrs[i].family == a.family && st->addrs[i].prefixlen == a.prefixlen &&
			!memcmp(st->addrs[i].addr, a.addr, 16))
			return &st->addrs[i];
	}
	return NULL;
}

/* Snapshot of name, retried for up to 5 s until it equals want: the kernel reacts to a carrier
 * change (link-local address, fe80::/64) from a work queue, a moment later. */
static void snapshot_settled(
	const char *name, const struct pl_nl_link_state *want, struct pl_nl_link_state *st)
{
	int i;

	for (i = 0; i < 50; i++) {
		CHECK_RC(pl_nl_snapshot(name, st), 0);
		if (pl_nl_state_compare(want, st, NULL, 0) == 0)
			return;
		usleep(100 * 1000);
	}
}

static void check_uplink_snapshot(const struct pl_nl_link_state *st)
{
	static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	const struct pl_nl_route *r;
	const struct pl_nl_addr *a;

	CHECK(!strcmp(st->name, "upl0"));
	CHECK(!memcmp(st->mac, mac, 6));
	CHECK(st->mtu == 1400);
	CHECK(st->up && !st->promisc && !st->ipv6_disabled);
	CHECK(st->n_addrs == 4); /* no fe80:: */
	a = find_addr(st, "10.77.0.2/24");
	CHECK(a && a->has_broadcast && !(a->flags & IFA_F_SECONDARY));
	a = find_addr(st, "10.77.0.3/24");
	CHECK(a && !a->has_broadcast && (a->flags & IFA_F_SECONDARY));
	a = find_addr(st, "10.78.0.2/24");
	CHECK(a && (a->flags & IFA_F_NOPREFIXROUTE));
	a = find_addr(st, "fd77::2/64");
	CHECK(a && (a->flags & IFA_F_NODAD));
	r = find_route(st, "10.88.0.0/16", RT_TABLE_MAIN);
	CHECK(r && r->priority == 50 && r->has_gw);
	CHECK(find_route(st, "10.99.0.0/16", 100));
	CHECK(find_route(st, "fd99::/64", 100));
	CHECK(find_route(st, "0.0.0.0/0", RT_TABLE_MAIN));
	r = find_route(st, "::/0", RT_TABLE_MAIN);
	CHECK(r && r->priority == 1024);
	r = find_route(st, "10.55.0.0/16", RT_TABLE_MAIN);
	CHECK(r && r->has_prefsrc && r->metrics[RTAX_MTU] == 1300 &&
		r->metrics[RTAX_LOCK] == (1u << RTAX_MTU));
	r = find_route(st, "10.44.0.0/16", RT_TABLE_MAIN);
	CHECK(r && r->onlink);
	r = find_route(st, "10.77.0.0/24", RT_TABLE_MAIN);
	CHECK(r && r->protocol == RTPROT_KERNEL && r->scope == RT_SCOPE_LINK);
	CHECK(!find_route(st, "10.78.0.0/24", RT_TABLE_MAIN)); /* noprefixroute */
	CHECK(find_route(st, "fe80::/64", RT_TABLE_MAIN));
	CHECK(!find_route(st, "10.201.0.0/16", RT_TABLE_MAIN)); /* via peer0 */
}

/* ---- temp directory (parent side, per test) ------------------------------------------------ */

/* cmocka setup: a fresh temp directory (its path is *state). */
static int tmpdir_setup(void **state)
{
	char *dir = strdup("/tmp/pl_netlink_test.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

/* cmocka teardown, run also after a failed test: removes the directory and what is in it. */
static int tmpdir_teardown(void **state)
{
	char *dir = *state, path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
	return 0;
}

static unsigned int tmpdir_count(const char *dir)
{
	struct dirent *de;
	unsigned int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* ---- address text ---------------------------------------------------------------------------- */

static void test_addr_parse_format(void **state)
{
	static const char *const bad[] = { "", "/24", "10.1.2.3/33", "10.1.2.3/", "10.1.2.3/24x",
		"fd00::1/129", "10.1.2/24", "10.1.2.3/-1", "10.1.2.3/+1", "10.1.2.3/0024",
		"fd00::zz", "10.1.2.3 /24", "hello", "1111:2222:3333:4444:5555:6666:7777:8888:9999",
		"10.1.2.3/24/1" };
	struct pl_nl_addr a;
	char buf[PL_NL_ADDR_STRLEN];
	unsigned int i;

	(void)state;
	assert_int_equal(pl_nl_addr_parse("10.1.2.3/24", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefixlen, 24);
	assert_int_equal(a.addr[0], 10);
	assert_int_equal(a.addr[3], 3);
	assert_int_equal(a.flags, 0);
	assert_int_equal(pl_nl_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.1.2.3/24");

	assert_int_equal(pl_nl_addr_parse("10.1.2.3", &a), 0);
	assert_int_equal(a.prefixlen, 32);
	assert_int_equal(pl_nl_addr_parse("fd00::1/64", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.prefixlen, 64);
	assert_int_equal(a.addr[15], 1);
	assert_int_equal(pl_nl_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "fd00::1/64");
	assert_int_equal(pl_nl_addr_parse("fd00::1", &a), 0);
	assert_int_equal(a.prefixlen, 128);
	assert_int_equal(pl_nl_addr_parse("::ffff:10.1.2.3/128", &a), 0);
	assert_int_equal(pl_nl_addr_parse("0.0.0.0/0", &a), 0);
	assert_int_equal(a.prefixlen, 0);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pl_nl_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
	assert_int_equal(pl_nl_addr_parse(NULL, &a), -EINVAL);

	assert_int_equal(pl_nl_addr_parse("fd00::1/64", &a), 0);
	assert_int_equal(pl_nl_addr_format(&a, buf, 8), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(pl_nl_addr_format(&a, buf, 11), 0);
	a.family = AF_UNIX;
	assert_int_equal(pl_nl_addr_format(&a, buf, sizeof(buf)), -EINVAL);
	a.family = AF_INET;
	a.prefixlen = 33;
	assert_int_equal(pl_nl_addr_format(&a, buf, sizeof(buf)), -EINVAL);
}

/* ---- state file ------------------------------------------------------------------------------ */

static void add_addr(struct pl_nl_link_state *st, const char *s, uint32_t flags)
{
	assert_int_equal(pl_nl_addr_parse(s, &st->addrs[st->n_addrs]), 0);
	st->addrs[st->n_addrs++].flags = flags;
}

static struct pl_nl_route *add_route(
	struct pl_nl_link_state *st, const char *dst, const char *gw, uint32_t table, uint32_t prio)
{
	struct pl_nl_route *r = &st->routes[st->n_routes++];
	struct pl_nl_addr a;

	memset(r, 0, sizeof(*r));
	assert_int_equal(pl_nl_addr_parse(dst, &a), 0);
	r->family = a.family;
	memcpy(r->dst, a.addr, 16);
	r->dst_len = a.prefixlen;
	if (gw) {
		assert_int_equal(pl_nl_addr_parse(gw, &a), 0);
		r->has_gw = true;
		memcpy(r->gw, a.addr, 16);
	}
	r->table = table;
	r->priority = prio;
	r->protocol = RTPROT_BOOT;
	r->type = RTN_UNICAST;
	return r;
}

static void sample_state(struct pl_nl_link_state *st)
{
	static const uint8_t mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
	struct pl_nl_route *r;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "eth0");
	st->ifindex = 7;
	memcpy(st->mac, mac, 6);
	st->mtu = 9000;
	st->up = true;
	st->promisc = true;
	add_addr(st, "10.0.0.2/24", 0);
	st->addrs[0].has_broadcast = true;
	memcpy(st->addrs[0].broadcast, (const uint8_t[]){ 10, 0, 0, 255 }, 4);
	add_addr(st, "10.0.0.3/24", IFA_F_SECONDARY);
	add_addr(st, "fd00::2/64", IFA_F_NODAD | IFA_F_NOPREFIXROUTE);
	st->addrs[2].scope = 0;
	add_route(st, "0.0.0.0/0", "10.0.0.1", RT_TABLE_MAIN, 0);
	add_route(st, "::/0", "fd00::1", RT_TABLE_MAIN, 1024);
	r = add_route(st, "10.0.0.0/24", NULL, RT_TABLE_MAIN, 0);
	r->protocol = RTPROT_KERNEL;
	r->scope = RT_SCOPE_LINK;
	r->has_prefsrc = true;
	memcpy(r->prefsrc, st->addrs[0].addr, 4);
	r = add_route(st, "10.9.0.0/16", "192.0.2.1", 100000, 7);
	r->onlink = true;
	r->metrics[RTAX_MTU] = 1300;
	r->metrics[RTAX_LOCK] = 1u << RTAX_MTU;
}

static void test_state_roundtrip(void **state)
{
	struct pl_nl_link_state a, b;
	const char *dir = *state;
	char path[128], diff[256];

	snprintf(path, sizeof(path), "%s/state.json", dir);
	sample_state(&a);
	assert_int_equal(pl_nl_state_save(&a, path), 0);
	assert_int_equal(tmpdir_count(dir), 1); /* no temp file left behind */
	memset(&b, 0x5a, sizeof(b));
	assert_int_equal(pl_nl_state_load(path, &b), 0);
	if (pl_nl_state_compare(&a, &b, diff, sizeof(diff)))
		fail_msg("round trip differs: %s", diff);
	assert_int_equal(b.ifindex, 7);
	assert_int_equal(b.n_addrs, 3);
	assert_int_equal(b.n_routes, 4);
	assert_true(b.routes[3].onlink);
	assert_int_equal(b.routes[3].table, 100000);
	assert_int_equal(b.routes[3].metrics[RTAX_MTU], 1300);

	/* Saving again replaces the file atomically. */
	a.mtu = 1500;
	assert_int_equal(pl_nl_state_save(&a, path), 0);
	assert_int_equal(pl_nl_state_load(path, &b), 0);
	assert_int_equal(b.mtu, 1500);
	assert_int_equal(tmpdir_count(dir), 1);

	/* Invalid states are refused before anything is written. */
	a.n_addrs = PL_NL_MAX_ADDRS + 1;
	assert_int_equal(pl_nl_state_save(&a, path), -EINVAL);
	sample_state(&a);
	a.routes[2].dst_len = 8; /* 10.0.0.0/8 is fine ... */
	assert_int_equal(pl_nl_state_save(&a, path), 0);
	a.routes[2].dst[3] = 1; /* ... 10.0.0.1/8 is not */
	assert_int_equal(pl_nl_state_save(&a, path), -EINVAL);
	sample_state(&a);
	snprintf(path, sizeof(path), "%s/nodir/state.json", dir);
	assert_int_equal(pl_nl_state_save(&a, path), -ENOENT);
	snprintf(path, sizeof(path), "%s/absent.json", dir);
	assert_int_equal(pl_nl_state_load(path, &b), -ENOENT);
}

static const char good_json[] =
	"{ \"version\": 1, \"name\": \"eth0\", \"ifindex\": 2, \"mac\": \"02:11:22:33:44:55\",\n"
	"  \"mtu\": 1500, \"up\": true, \"promisc\": false, \"ipv6_disabled\": false,\n"
	"  \"addrs\": [ { \"address\": \"10.0.0.2\", \"prefixlen\": 24, \"scope\": 0, \"flags\": "
	"0,\n"
	"                 \"broadcast\": \"10.0.0.255\" },\n"
	"             { \"address\": \"fd00::2\", \"prefixlen\": 64, \"scope\": 0, \"flags\": 2 } "
	"],\n"
	"  \"routes\": [ { \"dst\": \"0.0.0.0\", \"dst_len\": 0, \"gateway\": \"10.0.0.1\",\n"
	"                  \"table\": 254, \"priority\": 0, \"protocol\": 3, \"scope\": 0,\n"
	"                  \"type\": 1, \"onlink\": false },\n"
	"              { \"dst\": \"10.0.0.0\", \"dst_len\": 24, \"prefsrc\": \"10.0.0.2\",\n"
	"                \"table\": 254, \"priority\": 0, \"protocol\": 2, \"scope\": 253,\n"
	"                \"type\": 1, \"onlink\": false, \"metrics\": { \"2\": 1400 } } ] }\n";

/* s with the first `from` replaced by `to` (which must occur). Caller frees. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t head, n;
	char *out;

	if (!at)
		fail_msg("\"%s\" not in the template", from);
	head = (size_t)(at - s);
	n = strlen(s) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	assert_non_null(out);
	memcpy(out, s, head);
	snprintf(out + head, n - head, "%s%s", to, at + strlen(from));
	return out;
}

static int load_text(const char *dir, const char *text, size_t len, struct pl_nl_link_state *st)
{
	char path[128];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/in.json", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	rc = pl_nl_state_load(path, st);
	unlink(path);
	return rc;
}

static void test_state_load_strict(void **state)
{
	static const char *const subst[][2] = {
		{ "\"mtu\": 1500", "\"mtu\": \"1500\"" },
		{ "\"mtu\": 1500", "\"mtu\": 1500.0" },
		{ "\"mtu\": 1500", "\"mtu\": 10" },
		{ "\"mtu\": 1500", "\"mtu\": 99999999999999999999" },
		{ "\"mtu\": 1500", "\"mtu\": null" },
		{ "\"up\": true", "\"up\": 1" },
		{ "\"up\": true", "\"up\": true, \"extra\": 1" },
		{ "\"promisc\": false, ", "" },
		{ "\"version\": 1", "\"version\": 2" },
		{ "\"ifindex\": 2", "\"ifindex\": 0" },
		{ "\"ifindex\": 2", "\"ifindex\": -3" },
		{ "\"name\": \"eth0\"", "\"name\": \"eth0/x\"" },
		{ "\"name\": \"eth0\"", "\"name\": \"..\"" },
		{ "\"name\": \"eth0\"", "\"name\": \"\"" },
		{ "\"name\": \"eth0\"", "\"name\": \"abcdefghijklmnop\"" },
		{ "\"name\": \"eth0\"", "\"name\": [\"eth0\"]" },
		{ "02:11:22:33:44:55", "02:11:22:33:44" },
		{ "02:11:22:33:44:55", "02-11-22-33-44-55" },
		{ "02:11:22:33:44:55", "02:11:22:33:44:5z" },
		{ "02:11:22:33:44:55", "02:11:22:33:44:555" },
		{ "\"10.0.0.2\", \"prefixlen\"", "\"10.0.0.300\", \"prefixlen\"" },
		{ "\"10.0.0.2\", \"prefixlen\"", "167772162, \"prefixlen\"" },
		{ "\"prefixlen\": 24", "\"prefixlen\": 33" },
		{ "\"prefixlen\": 64", "\"prefixlen\": 129" },
		{ "\"prefixlen\": 24", "\"prefixlen\": -1" },
		{ "\"fd00::2\"", "\"fd00::zz\"" },
		{ "\"flags\": 0", "\"flags\": 128" },
		{ "\"scope\": 0, \"flags\": 0", "\"scope\": 256, \"flags\": 0" },
		{ "\"flags\": 2 }", "\"flags\": 2, \"broadcast\": \"10.0.0.255\" }" },
		{ "\"10.0.0.255\"", "\"fd00::ff\"" },
		{ "\"gateway\": \"10.0.0.1\"", "\"gateway\": \"fd00::1\"" },
		{ "\"gateway\": \"10.0.0.1\"", "\"gateway\": \"\"" },
		{ "\"gateway\": \"10.0.0.1\"", "\"gateway\": null" },
		{ "\"dst\": \"10.0.0.0\"", "\"dst\": \"10.0.0.1\"" },
		{ "\"dst_len\": 24", "\"dst_len\": 33" },
		{ "\"table\": 254, \"priority\": 0, \"protocol\": 3",
			"\"table\": 0, \"priority\": 0, "
			"\"protocol\": 3" },
		{ "\"type\": 1, \"onlink\": false }", "\"type\": 0, \"onlink\": false }" },
		{ "\"type\": 1, \"onlink\": false }", "\"type\": 1, \"onlink\": \"no\" }" },
		{ "\"protocol\": 2", "\"protocol\": 300" },
		{ "{ \"2\": 1400 }", "{ \"16\": 1 }" },
		{ "{ \"2\": 1400 }", "{ \"mtu\": 1400 }" },
		{ "{ \"2\": 1400 }", "{ \"2\": 0 }" },
		{ "{ \"2\": 1400 }", "[ 1400 ]" },
		{ "\"addrs\": [", "\"addrs\": 3, \"x\": [" },
		{ "\"routes\": [ {", "\"routes\": [ 7, {" },
		{ "] }\n", "] } x\n" },
		{ "] }\n", "] } {}\n" },
	};
	struct pl_nl_link_state st, saved;
	const char *dir = *state;
	size_t len, off, size;
	char *text, *big;
	unsigned int i;

	assert_int_equal(load_text(dir, good_json, strlen(good_json), &st), 0);
	assert_int_equal(st.n_addrs, 2);
	assert_int_equal(st.n_routes, 2);
	assert_int_equal(st.routes[1].metrics[RTAX_MTU], 1400);

	memset(&st, 0xa5, sizeof(st));
	memcpy(&saved, &st, sizeof(st));
	for (i = 0; i < sizeof(subst) / sizeof(subst[0]); i++) {
		int rc;

		text = replace(good_json, subst[i][0], subst[i][1]);
		rc = load_text(dir, text, strlen(text), &st);
		if (rc != -EBADMSG)
			fail_msg("case %u (%s -> %s): %d, want -EBADMSG", i, subst[i][0],
				subst[i][1], rc);
		assert_memory_equal(&st, &saved, sizeof(st)); /* never half filled */
		free(text);
	}
	/* Truncated anywhere. */
	len = strlen(good_json);
	for (off = 0; off < len - 1; off += 7)
		assert_int_equal(load_text(dir, good_json, off, &st), -EBADMSG);
	/* Binary junk, a NUL byte, wrong top-level type. */
	assert_int_equal(load_text(dir, "\x01\x02\xff", 3, &st), -EBADMSG);
	assert_int_equal(load_text(dir, good_json, len + 1, &st), -EBADMSG);
	assert_int_equal(load_text(dir, "[]", 2, &st), -EBADMSG);
	assert_memory_equal(&st, &saved, sizeof(st));

	/* PL_NL_MAX_ADDRS addresses load, one more does not. */
	size = 128 * (PL_NL_MAX_ADDRS + 2) + 1024;
	big = malloc(size);
	assert_non_null(big);
	for (i = PL_NL_MAX_ADDRS; i <= PL_NL_MAX_ADDRS + 1; i++) {
		unsigned int k;

		off = (size_t)snprintf(big, size,
			"{ \"version\": 1, \"name\": \"eth0\", \"ifindex\": 2, \"mac\": "
			"\"02:11:22:33:44:55\", \"mtu\": 1500, \"up\": true, \"promisc\": false, "
			"\"ipv6_disabled\": false, \"routes\": [], \"addrs\": [");
		for (k = 0; k < i; k++)
			off += (size_t)snprintf(big + off, size - off,
				"%s{ \"address\": \"10.1.%u.%u\", \"prefixlen\": 32, \"scope\": 0, "
				"\"flags\": 0 }",
				k ? ", " : "", k / 250, k % 250 + 1);
		off += (size_t)snprintf(big + off, size - off, "] }");
		assert_true(off < size);
		assert_int_equal(
			load_text(dir, big, off, &st), i <= PL_NL_MAX_ADDRS ? 0 : -EBADMSG);
		if (i <= PL_NL_MAX_ADDRS)
			assert_int_equal(st.n_addrs, PL_NL_MAX_ADDRS);
	}
	free(big);
}

static void test_state_compare(void **state)
{
	struct pl_nl_link_state a, b;
	char diff[256], small[8];

	(void)state;
	sample_state(&a);
	memcpy(&b, &a, sizeof(b));
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), 0);
	assert_string_equal(diff, "");

	/* Order does not matter, ifindex is ignored. */
	b.addrs[0] = a.addrs[2];
	b.addrs[2] = a.addrs[0];
	b.routes[0] = a.routes[3];
	b.routes[3] = a.routes[0];
	b.ifindex = 99;
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), 0);

	b.mtu = 1500;
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), -1);
	assert_non_null(strstr(diff, "mtu"));
	assert_int_equal(pl_nl_state_compare(&a, &b, NULL, 0), -1);
	assert_int_equal(pl_nl_state_compare(&a, &b, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);

	memcpy(&b, &a, sizeof(b));
	b.addrs[1].flags = 0; /* 10.0.0.3 no longer secondary */
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), -1);
	assert_non_null(strstr(diff, "10.0.0.3/24"));

	memcpy(&b, &a, sizeof(b));
	add_route(&b, "10.10.0.0/16", "10.0.0.1", RT_TABLE_MAIN, 0);
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), -1);
	assert_non_null(strstr(diff, "route only in second: 10.10.0.0/16 via 10.0.0.1"));

	memcpy(&b, &a, sizeof(b));
	b.routes[3].metrics[RTAX_MTU] = 1400;
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), -1);
	assert_non_null(strstr(diff, "10.9.0.0/16"));

	/* Duplicates count: {x, x} != {x, y}. */
	memcpy(&b, &a, sizeof(b));
	b.addrs[1] = b.addrs[0];
	assert_int_equal(pl_nl_state_compare(&a, &b, diff, sizeof(diff)), -1);
}

/* ---- uplink: snapshot, take, host tap, restore ----------------------------------------------- */

static void uplink_cycle(void *arg)
{
	const char *dir = arg;
	struct pl_nl_link_state *orig, *st, *peer, *peer2;
	char path[128];
	int fd;

	orig = calloc(4, sizeof(*orig));
	CHECK(orig);
	st = orig + 1;
	peer = orig + 2;
	peer2 = orig + 3;
	setup_uplink();
	CHECK_RC(pl_nl_snapshot("nosuch0", st), -ENODEV);
	CHECK_RC(pl_nl_snapshot("upl0", orig), 0);
	check_uplink_snapshot(orig);
	CHECK_RC(pl_nl_snapshot("peer0", peer), 0);

	/* State file round trip. */
	snprintf(path, sizeof(path), "%s/uplink.json", dir);
	CHECK_RC(pl_nl_state_save(orig, path), 0);
	CHECK_RC(pl_nl_state_load(path, st), 0);
	CHECK_SAME(orig, st);
	CHECK(st->ifindex == orig->ifindex);

	/* Take: renamed, no address, no route, IPv6 off, promiscuous, still up. */
	CHECK_RC(pl_nl_uplink_take(orig, "upl0"), -EINVAL);
	CHECK_RC(pl_nl_uplink_take(orig, "pl-upl0"), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), -ENODEV);
	CHECK_RC(pl_nl_snapshot("pl-upl0", st), 0);
	CHECK(st->ifindex == orig->ifindex);
	CHECK(st->n_addrs == 0 && st->n_routes == 0);
	CHECK(st->up && st->promisc && st->ipv6_disabled);
	CHECK(st->mtu == 1400 && !memcmp(st->mac, orig->mac, 6));
	CHECK_RC(pl_nl_uplink_take(orig, "pl-upl0"), 0); /* again: no harm */

	/* Host tap: same MAC, MTU, addresses and routes as the original uplink. */
	CHECK_RC(pl_nl_host_tap_create(orig), 0);
	CHECK_RC(pl_nl_host_tap_create(orig), -EEXIST);
	CHECK_RC(pl_nl_tuntap_open("upl0", IFF_TUN), -EINVAL); /* it is a TAP */
	CHECK_RC(pl_nl_tuntap_open("nosuch0", IFF_TAP), -ENODEV);
	CHECK_RC(pl_nl_tuntap_open("upl0", IFF_TAP | IFF_TUN), -EINVAL);
	/* The dataplane attaches: carrier up, the kernel adds fe80::/64 as on the uplink. */
	fd = pl_nl_tuntap_open("upl0", IFF_TAP);
	CHECK(fd >= 0);
	CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	snapshot_settled("upl0", orig, st);
	CHECK(st->ifindex != orig->ifindex);
	CHECK_SAME(orig, st);

	/* Restore (the tap is deleted although still open), then again: a no-op. */
	CHECK_RC(pl_nl_uplink_restore(orig, "pl-upl0"), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), 0);
	CHECK(st->ifindex == orig->ifindex);
	CHECK_SAME(orig, st);
	CHECK_RC(pl_nl_snapshot("pl-upl0", st), -ENODEV);
	close(fd);
	CHECK_RC(pl_nl_uplink_restore(orig, "pl-upl0"), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), 0);
	CHECK_SAME(orig, st);
	CHECK_RC(pl_nl_snapshot("peer0", peer2), 0);
	CHECK_SAME(peer, peer2);

	/* Restore repairs drift: an extra address and route, a lost route, another MTU. */
	ip("addr add 10.79.0.9/24 dev upl0");
	ip("route add 10.66.0.0/16 via 10.77.0.1 dev upl0");
	ip("route del 10.99.0.0/16 table 100");
	ip("link set upl0 mtu 1300");
	ip("link set upl0 promisc on");
	CHECK(pl_nl_snapshot("upl0", st) == 0 && pl_nl_state_compare(orig, st, NULL, 0) != 0);
	CHECK_RC(pl_nl_uplink_restore(orig, NULL), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), 0);
	CHECK_SAME(orig, st);

	/* A non-TUN device squatting the name is not deleted. */
	CHECK_RC(pl_nl_uplink_take(orig, "pl-upl0"), 0);
	make_veth("upl0", "peer1");
	CHECK_RC(pl_nl_uplink_restore(orig, "pl-upl0"), -EEXIST);
	CHECK_RC(pl_nl_link_delete("upl0"), 0);
	CHECK_RC(pl_nl_link_delete("upl0"), -ENODEV);
	CHECK_RC(pl_nl_uplink_restore(orig, "pl-upl0"), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), 0);
	CHECK_SAME(orig, st);
	free(orig);
}

static void test_uplink_take_tap_restore(void **state)
{
	if (!have_root())
		skip();
	run_in_netns(uplink_cycle, *state);
}

struct crash_args {
	const char *dir;
	bool with_tap; /* killed after the tap was created (else right after take) */
	bool by_taken_name; /* restore given the taken name (else found by ifindex) */
};

/* The supervisor dies by SIGKILL mid-way; a new process restores from the state file. */
static void uplink_crash(void *arg)
{
	const struct crash_args *ca = arg;
	struct pl_nl_link_state *orig, *st;
	char path[128];
	int status;
	pid_t pid;

	orig = calloc(2, sizeof(*orig));
	CHECK(orig);
	st = orig + 1;
	setup_uplink();
	CHECK_RC(pl_nl_snapshot("upl0", orig), 0);
	snprintf(path, sizeof(path), "%s/crash.json", ca->dir);
	CHECK_RC(pl_nl_state_save(orig, path), 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (pl_nl_uplink_take(orig, "pl-upl0") != 0)
			_exit(1);
		if (ca->with_tap && pl_nl_host_tap_create(orig) != 0)
			_exit(1);
		raise(SIGKILL);
		_exit(1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK_RC(pl_nl_snapshot("pl-upl0", st), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), ca->with_tap ? 0 : -ENODEV);

	memset(st, 0, sizeof(*st));
	CHECK_RC(pl_nl_state_load(path, st), 0);
	CHECK_RC(pl_nl_uplink_restore(st, ca->by_taken_name ? "pl-upl0" : NULL), 0);
	CHECK_RC(pl_nl_snapshot("upl0", st), 0);
	CHECK_SAME(orig, st);
	CHECK(st->ifindex == orig->ifindex);
	free(orig);
}

static void test_uplink_restore_after_kill(void **state)
{
	struct crash_args ca;
	int i;

	if (!have_root())
		skip();
	for (i = 0; i < 4; i++) {
		ca.dir = *state;
		ca.with_tap = i & 1;
		ca.by_taken_name = i & 2;
		run_in_netns(uplink_crash, &ca);
	}
}

/* ---- pods ------------------------------------------------------------------------------------ */

static void ns_id(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/thread-self/ns/net", buf, size - 1);

	CHECK(n > 0);
	buf[n] = '\0';
}

/* Waits for one packet on fd (non-blocking) and returns its length. */
static ssize_t read_packet(int fd, uint8_t *buf, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int i;

	/* Skip what the kernel sends by itself (IPv6 router solicitations and such). */
	for (i = 0; i < 20; i++) {
		ssize_t n;

		CHECK(poll(&pfd, 1, 2000) == 1);
		n = read(fd, buf, size);
		CHECK(n > 0);
		if ((buf[0] >> 4) == 4 && n >= 20 && buf[9] == IPPROTO_UDP)
			return n;
		if ((buf[0] >> 4) == 6 && n >= 40 && buf[6] == IPPROTO_UDP)
			return n;
	}
	CHECK(!"no UDP packet seen");
	return -1;
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void pod_tun(void *arg)
{
	struct sockaddr_in to4 = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(9999) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(5555) };
	char here[64], now[64], path[64];
	struct pl_nl_link_state *st;
	const struct pl_nl_route *r;
	const struct pl_nl_addr *a;
	struct pl_nl_addr addrs[2];
	int ns_host, ns_pod, fd, s4, s6, srv;
	uint8_t pkt[2048];
	uint16_t sum;
	ssize_t n;

	(void)arg;
	st = calloc(1, sizeof(*st));
	CHECK(st);
	ip("link set lo up");
	ns_id(here, sizeof(here));
	ns_host = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(ns_host >= 0);
	/* The pod's netns: a second one, kept by an fd; we go back to the first. */
	CHECK(unshare(CLONE_NEWNET) == 0);
	ip("link set lo up");
	ns_pod = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(ns_pod >= 0);
	CHECK(setns(ns_host, CLONE_NEWNET) == 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ns_pod);

	CHECK_RC(pl_nl_addr_parse("10.66.0.5/32", &addrs[0]), 0);
	CHECK_RC(pl_nl_addr_parse("fd66::5/128", &addrs[1]), 0);
	CHECK_RC(pl_nl_pod_tun_create("/nonexistent/ns", "eth0", 1450, addrs, 2, NULL, NULL),
		-ENOENT);
	CHECK_RC(pl_nl_pod_tun_create(path, "eth0", 1450, addrs, 2, "fe80::1", NULL), -EINVAL);
	CHECK_RC(pl_nl_pod_tun_create(path, "eth0", 20, addrs, 2, NULL, NULL), -EINVAL);
	CHECK_RC(pl_nl_pod_tun_create("/proc/self/exe", "eth0", 1450, addrs, 2, NULL, NULL),
		-EINVAL);
	CHECK_RC(pl_nl_pod_tun_create(path, "eth0", 1450, addrs, 2, "169.254.1.1", "fe80::1"), 0);
	ns_id(now, sizeof(now));
	CHECK(!strcmp(here, now));
	CHECK(if_nametoindex("eth0") == 0); /* not in the host netns */
	CHECK_RC(pl_nl_pod_tun_create(path, "eth0", 1450, addrs, 2, "169.254.1.1", "fe80::1"),
		-EEXIST);
	ns_id(now, sizeof(now));
	CHECK(!strcmp(here, now));
	fd = pl_nl_pod_tun_open(path, "eth0", 0);
	CHECK(fd >= 0);
	ns_id(now, sizeof(now));
	CHECK(!strcmp(here, now));
	CHECK_RC(pl_nl_pod_tun_open(path, "eth1", 0), -ENODEV);

	/* Look from inside the pod. */
	CHECK(setns(ns_pod, CLONE_NEWNET) == 0);
	CHECK_RC(pl_nl_snapshot("eth0", st), 0);
	CHECK(st->mtu == 1450 && st->up);
	CHECK(st->n_addrs == 2);
	a = find_addr(st, "10.66.0.5/32");
	CHECK(a);
	a = find_addr(st, "fd66::5/128");
	CHECK(a && (a->flags & IFA_F_NODAD));
	r = find_route(st, "0.0.0.0/0", RT_TABLE_MAIN);
	CHECK(r && r->has_gw && r->gw[0] == 169 && r->gw[3] == 1);
	r = find_route(st, "169.254.1.1/32", RT_TABLE_MAIN);
	CHECK(r && r->scope == RT_SCOPE_LINK && !r->has_gw);
	r = find_route(st, "::/0", RT_TABLE_MAIN);
	CHECK(r && r->has_gw && r->gw[0] == 0xfe && r->gw[1] == 0x80 && r->gw[15] == 1);
	s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(s4 >= 0 && s6 >= 0 && srv >= 0);
	CHECK(inet_pton(AF_INET, "10.66.0.5", &me.sin_addr) == 1);
	CHECK(bind(srv, (struct sockaddr *)&me, sizeof(me)) == 0);
	CHECK(setns(ns_host, CLONE_NEWNET) == 0);

	/* Pod -> world leaves through the tun, by the default routes. */
	CHECK(inet_pton(AF_INET, "10.1.2.3", &to4.sin_addr) == 1);
	CHECK(sendto(s4, "hello", 5, 0, (struct sockaddr *)&to4, sizeof(to4)) == 5);
	n = read_packet(fd, pkt, sizeof(pkt));
	CHECK((pkt[0] >> 4) == 4 && n == 20 + 8 + 5);
	CHECK(!memcmp(pkt + 12, addrs[0].addr, 4) && !memcmp(pkt + 16, &to4.sin_addr, 4));
	CHECK(inet_pton(AF_INET6, "fd00::9", &to6.sin6_addr) == 1);
	CHECK(sendto(s6, "hello", 5, 0, (struct sockaddr *)&to6, sizeof(to6)) == 5);
	n = read_packet(fd, pkt, sizeof(pkt));
	CHECK((pkt[0] >> 4) == 6 && n == 40 + 8 + 5);
	CHECK(!memcmp(pkt + 8, addrs[1].addr, 16));

	/* World -> pod: a UDP packet written into the fd reaches the pod's socket. */
	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	pkt[3] = 28 + 4;
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &to4.sin_addr, 4);
	memcpy(pkt + 16, addrs[0].addr, 4);
	sum = ip_checksum(pkt, 20);
	pkt[10] = (uint8_t)(sum >> 8);
	pkt[11] = (uint8_t)sum;
	pkt[20] = 9999 >> 8;
	pkt[21] = 9999 & 0xff;
	pkt[22] = 5555 >> 8;
	pkt[23] = 5555 & 0xff;
	pkt[25] = 8 + 4; /* UDP checksum 0: none */
	memcpy(pkt + 28, "ping", 4);
	CHECK(write(fd, pkt, 32) == 32);
	{
		struct pollfd pfd = { .fd = srv, .events = POLLIN };
		char got[16];

		CHECK(poll(&pfd, 1, 2000) == 1);
		CHECK(recv(srv, got, sizeof(got), 0) == 4 && !memcmp(got, "ping", 4));
	}
	close(s4);
	close(s6);
	close(srv);
	close(fd);

	/* Below 1280 the link has no IPv6 at all; IPv4 only works, and so does a snapshot. (No
	 * gateway: eth0's default route has the same key and IPv4 routes are added exclusively.) */
	CHECK_RC(pl_nl_pod_tun_create(path, "eth1", 1000, addrs, 1, "169.254.1.1", NULL), -EEXIST);
	CHECK_RC(pl_nl_pod_tun_create(path, "eth1", 1000, addrs, 1, NULL, NULL), 0);
	CHECK(setns(ns_pod, CLONE_NEWNET) == 0);
	CHECK_RC(pl_nl_snapshot("eth1", st), 0);
	CHECK(st->mtu == 1000 && st->ipv6_disabled && st->n_addrs == 1 && st->n_routes == 0);
	CHECK(setns(ns_host, CLONE_NEWNET) == 0);
	CHECK_RC(pl_nl_pod_tun_delete(path, "eth1"), 0);

	CHECK_RC(pl_nl_pod_tun_delete(path, "eth0"), 0);
	CHECK_RC(pl_nl_pod_tun_delete(path, "eth0"), -ENODEV);
	CHECK_RC(pl_nl_pod_tun_open(path, "eth0", 0), -ENODEV);
	ns_id(now, sizeof(now));
	CHECK(!strcmp(here, now));
	close(ns_pod);
	close(ns_host);
	free(st);
}

static void test_pod_tun(void **state)
{
	(void)state;
	if (!have_root())
		skip();
	run_in_netns(pod_tun, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_format),
		cmocka_unit_test_setup_teardown(
			test_state_roundtrip, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(
			test_state_load_strict, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_state_compare),
		cmocka_unit_test_setup_teardown(
			test_uplink_take_tap_restore, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(
			test_uplink_restore_after_kill, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_pod_tun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
