/* SPDX-License-Identifier: Apache-2.0 */
/* pl_netlink: the uplink's Linux config (snapshot, JSON state file, take-over and exact
 * restore), the host TAP and the pods' TUNs. Link changes are built as raw RTM_NEWLINK messages
 * (so only the intended attributes are sent); addresses and routes go through libnl-route
 * objects and caches. Kernel errors are captured by an error callback so that callers get the
 * kernel's own errno rather than libnl's lossy NLE_* mapping. */
#include "pl_netlink.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <json-c/json.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#define STATE_FILE_MAX_SIZE (1u << 20)
#define TUN_DEV "/dev/net/tun"
#define IPV6_CONF_DIR "/proc/sys/net/ipv6/conf/"

_Static_assert(PL_NL_ROUTE_METRICS > RTAX_MAX, "PL_NL_ROUTE_METRICS too small for RTAX_MAX");
_Static_assert(
	PL_NL_MAX_ADDRS <= PL_NL_MAX_ROUTES, "the unmatched-element scratch is sized by routes");

/* A connected rtnetlink socket and the errno of the last NLMSG_ERROR it received. */
struct nlc {
	struct nl_sock *sk;
	int kerr;
};

/* What we need to know about a link. */
struct link_info {
	int ifindex;
	char name[IFNAMSIZ];
	uint8_t mac[6];
	unsigned int mac_len;
	uint32_t mtu;
	unsigned int flags;
	bool is_tun; /* IFLA_INFO_KIND "tun": a TUN or TAP device */
	uint64_t tx_dropped; /* IFLA_STATS64 */
};

/* ---- netlink plumbing ---------------------------------------------------------------------- */

static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_PERM:
	case NLE_NOACCESS:
		return -EPERM;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
	case NLE_DUMP_INTR:
		return -EINTR;
	default:
		return -EIO;
	}
}

static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlc *c = arg;

	(void)nla;
	c->kerr = e->error < 0 ? -e->error : e->error;
	return NL_STOP;
}

static int nlc_open(struct nlc *c)
{
	int rc;

	c->kerr = 0;
	c->sk = nl_socket_alloc();
	if (!c->sk)
		return -ENOMEM;
	rc = nl_connect(c->sk, NETLINK_ROUTE);
	if (rc == 0)
		rc = nl_socket_modify_err_cb(c->sk, NL_CB_CUSTOM, err_cb, c);
	if (rc < 0) {
		nl_socket_free(c->sk);
		c->sk = NULL;
		return nle_to_errno(rc);
	}
	return 0;
}

static void nlc_close(struct nlc *c)
{
	if (c->sk)
		nl_socket_free(c->sk);
	c->sk = NULL;
}

/* libnl result -> 0 or -errno, preferring the kernel's errno. */
static int nlc_result(struct nlc *c, int rc)
{
	if (rc >= 0)
		return 0;
	if (c->kerr > 0)
		return -c->kerr;
	return nle_to_errno(rc);
}

/* Sends msg (consumed) and waits for the kernel's ack. */
static int nlc_sync(struct nlc *c, struct nl_msg *msg)
{
	c->kerr = 0;
	return nlc_result(c, nl_send_sync(c->sk, msg));
}

/* ---- small helpers --------------------------------------------------------------------------- */

static unsigned int family_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

static bool mac_is_zero(const uint8_t *mac)
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) == 0;
}

/* The kernel's dev_valid_name(), which also makes the name safe in a /proc path. */
static bool name_ok(const char *name)
{
	size_t len;
	const char *p;

	if (!name)
		return false;
	len = strnlen(name, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (p = name; *p; p++) {
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return false;
	}
	return true;
}

static void name_copy(char *dst, const char *src)
{
	size_t len = strnlen(src, IFNAMSIZ - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Parses a bare IPv4/IPv6 address; the family follows from the text. */
static int ip_parse(const char *s, int *family, uint8_t out[16])
{
	memset(out, 0, 16);
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(*family, s, out) != 1)
		return -EINVAL;
	return 0;
}

static void ip_format(int family, const uint8_t *addr, char *buf, size_t size)
{
	if (!inet_ntop(family, addr, buf, size) && size > 0)
		buf[0] = '\0';
}

/* True if addr has no bit set beyond prefix len. */
static bool prefix_clean(const uint8_t *addr, unsigned int alen, unsigned int plen)
{
	unsigned int i;

	for (i = 0; i < alen; i++) {
		unsigned int lo = i * 8;
		uint8_t mask;

		if (lo + 8 <= plen)
			continue;
		mask = lo >= plen ? 0xff : (uint8_t)(0xff >> (plen - lo));
		if (addr[i] & mask)
			return false;
	}
	return true;
}

/* ---- per-link sysctls: /proc/sys/net/ipv{4,6}/conf/<if>/<name> ------------------------------ */

static int conf_path(int family, const char *ifname, const char *name, char *path, size_t size)
{
	int n = family == AF_INET6
			? snprintf(path, size, IPV6_CONF_DIR "%s/%s", ifname, name)
			: snprintf(path, size, "/proc/sys/net/ipv4/conf/%s/%s", ifname, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Reads an integer sysctl of the link. -ENOENT when the file is absent. */
static int conf_get(int family, const char *ifname, const char *name, int *v)
{
	char path[160], buf[16];
	ssize_t n;
	int fd, rc;

	rc = conf_path(family, ifname, name, path, sizeof(path));
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	if (n == 0 || !isdigit((unsigned char)buf[0]))
		return -EIO;
	buf[n] = '\0';
	*v = (int)strtol(buf, NULL, 10);
	return 0;
}

static int conf_set(int family, const char *ifname, const char *name, int v)
{
	char path[160], val[16];
	int fd, rc, n;

	rc = conf_path(family, ifname, name, path, sizeof(path));
	if (rc)
		return rc;
	n = snprintf(val, sizeof(val), "%d\n", v);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = write(fd, val, (size_t)n) == n ? 0 : -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* disable_ipv6: a missing file means no IPv6 on the link (the kernel has none, or the link's MTU
 * is below 1280), reported as disabled. */
static int ipv6_disabled_get(const char *ifname, bool *disabled)
{
	int v, rc = conf_get(AF_INET6, ifname, "disable_ipv6", &v);

	if (rc == -ENOENT) {
		*disabled = true;
		return 0;
	}
	if (rc == 0)
		*disabled = v != 0;
	return rc;
}

static int ipv6_disabled_set(const char *ifname, bool disabled)
{
	int rc = conf_set(AF_INET6, ifname, "disable_ipv6", disabled);

	/* No IPv6 on the link (see ipv6_disabled_get): "disabled" already holds. */
	if (rc == -ENOENT)
		return disabled ? 0 : -EAFNOSUPPORT;
	return rc;
}

/* rp_filter: a taken uplink keeps no IPv4 address, but Linux would still deliver packets for
 * the node's addresses (now on the host tap) that arrive on it: weak host model. Strict
 * reverse-path filtering stops that, since no route leads out of the taken link: io-worker alone
 * sees its traffic (AF_PACKET taps run before routing). */
static int rp_filter_get(const char *ifname, int *v)
{
	return conf_get(AF_INET, ifname, "rp_filter", v);
}

static int rp_filter_set(const char *ifname, int v)
{
	return conf_set(AF_INET, ifname, "rp_filter", v);
}

/* ---- links ----------------------------------------------------------------------------------- */

/* By ifindex (> 0) or else by name. -ENODEV if there is no such link. */
static int link_query(struct nlc *c, int ifindex, const char *name, struct link_info *li)
{
	struct rtnl_link *link = NULL;
	struct nl_addr *lladdr;
	const char *n, *kind;
	int rc;

	c->kerr = 0;
	rc = rtnl_link_get_kernel(
		c->sk, ifindex > 0 ? ifindex : 0, ifindex > 0 ? NULL : name, &link);
	if (rc < 0) {
		rc = nlc_result(c, rc);
		return rc == -ENOENT ? -ENODEV : rc;
	}
	memset(li, 0, sizeof(*li));
	li->ifindex = rtnl_link_get_ifindex(link);
	n = rtnl_link_get_name(link);
	if (!n || strnlen(n, IFNAMSIZ) >= IFNAMSIZ) {
		rtnl_link_put(link);
		return -EIO;
	}
	name_copy(li->name, n);
	lladdr = rtnl_link_get_addr(link);
	if (lladdr) {
		li->mac_len = nl_addr_get_len(lladdr);
		if (li->mac_len == 6)
			memcpy(li->mac, nl_addr_get_binary_addr(lladdr), 6);
	}
	li->mtu = rtnl_link_get_mtu(link);
	li->flags = rtnl_link_get_flags(link);
	kind = rtnl_link_get_type(link);
	li->is_tun = kind && !strcmp(kind, "tun");
	li->tx_dropped = rtnl_link_get_stat(link, RTNL_LINK_TX_DROPPED);
	rtnl_link_put(link);
	return 0;
}

/* One RTM_NEWLINK on an existing link carrying only what is given (name/mac NULL, mtu 0 and
 * change 0 mean "leave alone"). */
static int link_change(struct nlc *c, int ifindex, const char *name, const uint8_t *mac,
	uint32_t mtu, unsigned int flags, unsigned int change)
{
	struct ifinfomsg ifi;
	struct nl_msg *msg;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = ifindex;
	ifi.ifi_flags = flags & change;
	ifi.ifi_change = change;
	msg = nlmsg_alloc_simple(RTM_NEWLINK, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
		(name && nla_put_string(msg, IFLA_IFNAME, name) < 0) ||
		(mac && nla_put(msg, IFLA_ADDRESS, 6, mac) < 0) ||
		(mtu && nla_put_u32(msg, IFLA_MTU, mtu) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return nlc_sync(c, msg);
}

static int link_set_up(struct nlc *c, int ifindex, bool up)
{
	return link_change(c, ifindex, NULL, NULL, 0, up ? IFF_UP : 0, IFF_UP);
}

static int link_del(struct nlc *c, int ifindex)
{
	struct ifinfomsg ifi;
	struct nl_msg *msg;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_family = AF_UNSPEC;
	ifi.ifi_index = ifindex;
	msg = nlmsg_alloc_simple(RTM_DELLINK, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return nlc_sync(c, msg);
}

/* ---- dumps ----------------------------------------------------------------------------------- */

/* Objects of one dump, each parsed from its own message. (libnl's route cache is not used: it
 * merges IPv6 routes with the same prefix and metric on different links, e.g. every fe80::/64,
 * into one multipath route.) */
struct objlist {
	struct nl_object **v;
	size_t n, cap;
	int ifindex; /* keep only addresses/routes of this link */
	int err;
};

static bool obj_wanted(struct nl_object *obj, int ifindex)
{
	const char *type = nl_object_get_type(obj);
	int i, n;

	if (type && !strcmp(type, "route/addr"))
		return rtnl_addr_get_ifindex((struct rtnl_addr *)obj) == ifindex;
	if (type && !strcmp(type, "route/route")) {
		struct rtnl_route *rr = (struct rtnl_route *)obj;

		n = rtnl_route_get_nnexthops(rr);
		for (i = 0; i < n; i++) {
			if (rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(rr, i)) == ifindex)
				return true;
		}
	}
	return false;
}

static void obj_collect(struct nl_object *obj, void *arg)
{
	struct objlist *l = arg;

	if (l->err || !obj_wanted(obj, l->ifindex))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		struct nl_object **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	nl_object_get(obj);
	l->v[l->n++] = obj;
}

static int dump_valid_cb(struct nl_msg *msg, void *arg)
{
	struct objlist *l = arg;
	int rc = nl_msg_parse(msg, obj_collect, l);

	if (rc < 0 && rc != -NLE_MSGTYPE_NOSUPPORT && !l->err)
		l->err = nle_to_errno(rc);
	return NL_OK;
}

static void objlist_free(struct objlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		nl_object_put(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Dumps RTM_GETADDR or RTM_GETROUTE (all families, all tables), keeping the objects of
 * ifindex. Retried when the kernel reports the dump as interrupted by a change. */
static int dump_objs(struct nlc *c, int type, int ifindex, struct objlist *l)
{
	struct rtmsg rtm;
	struct ifaddrmsg ifa;
	struct nl_cb *cb, *base;
	int rc = 0, attempt;

	for (attempt = 0; attempt < 5; attempt++) {
		memset(l, 0, sizeof(*l));
		l->ifindex = ifindex;
		memset(&rtm, 0, sizeof(rtm));
		memset(&ifa, 0, sizeof(ifa));
		c->kerr = 0;
		if (type == RTM_GETADDR)
			rc = nl_send_simple(c->sk, type, NLM_F_DUMP, &ifa, sizeof(ifa));
		else
			rc = nl_send_simple(c->sk, type, NLM_F_DUMP, &rtm, sizeof(rtm));
		if (rc < 0)
			return nlc_result(c, rc);
		base = nl_socket_get_cb(c->sk);
		cb = base ? nl_cb_clone(base) : NULL;
		if (base)
			nl_cb_put(base);
		if (!cb)
			return -ENOMEM;
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_valid_cb, l);
		rc = nl_recvmsgs(c->sk, cb);
		nl_cb_put(cb);
		rc = rc < 0 ? nlc_result(c, rc) : l->err;
		if (rc == 0)
			return 0;
		objlist_free(l);
		if (rc != -EINTR)
			return rc;
	}
	return rc;
}

/* ---- addresses ------------------------------------------------------------------------------- */

/* Converts a dumped address. Returns 1 if it belongs to the snapshot of ifindex, 0 if it does
 * not (other link, family, IPv6 link-local or temporary), -EOPNOTSUPP for an address of the
 * link we cannot represent (a point-to-point peer). */
static int addr_conv(struct rtnl_addr *ra, int ifindex, struct pl_nl_addr *a)
{
	struct nl_addr *local, *peer, *brd;
	int family = rtnl_addr_get_family(ra);
	unsigned int alen = family_len(family), flags;

	if (alen == 0 || rtnl_addr_get_ifindex(ra) != ifindex)
		return 0;
	local = rtnl_addr_get_local(ra);
	if (!local || nl_addr_get_len(local) != alen)
		return 0;
	flags = rtnl_addr_get_flags(ra);
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, nl_addr_get_binary_addr(local), alen);
	if (family == AF_INET6) {
		if (IN6_IS_ADDR_LINKLOCAL((struct in6_addr *)a->addr) || (flags & IFA_F_TEMPORARY))
			return 0;
	}
	a->prefixlen = (uint8_t)rtnl_addr_get_prefixlen(ra);
	a->scope = (uint8_t)rtnl_addr_get_scope(ra);
	a->flags = flags & PL_NL_ADDR_FLAGS;
	peer = rtnl_addr_get_peer(ra);
	if (peer && (nl_addr_get_len(peer) != alen ||
			    memcmp(nl_addr_get_binary_addr(peer), a->addr, alen) != 0))
		return -EOPNOTSUPP;
	brd = rtnl_addr_get_broadcast(ra);
	if (family == AF_INET && brd && nl_addr_get_len(brd) == 4) {
		a->has_broadcast = true;
		memcpy(a->broadcast, nl_addr_get_binary_addr(brd), 4);
	}
	return 1;
}

static bool addr_eq(const struct pl_nl_addr *x, const struct pl_nl_addr *y)
{
	unsigned int alen = family_len(x->family);

	return x->family == y->family && memcmp(x->addr, y->addr, alen) == 0 &&
	       x->prefixlen == y->prefixlen && x->scope == y->scope &&
	       (x->flags & PL_NL_ADDR_FLAGS) == (y->flags & PL_NL_ADDR_FLAGS) &&
	       x->has_broadcast == y->has_broadcast &&
	       (!x->has_broadcast || memcmp(x->broadcast, y->broadcast, 4) == 0);
}

static bool addr_in(const struct pl_nl_addr *a, const struct pl_nl_addr *list, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (addr_eq(a, &list[i]))
			return true;
	}
	return false;
}

/* The snapshot's addresses of ifindex, in kernel order. */
static int addrs_read(
	struct nlc *c, int ifindex, struct pl_nl_addr *out, unsigned int max, unsigned int *n)
{
	struct objlist l;
	size_t i;
	int rc;

	rc = dump_objs(c, RTM_GETADDR, ifindex, &l);
	if (rc)
		return rc;
	*n = 0;
	for (i = 0; i < l.n; i++) {
		struct pl_nl_addr a;
		int rel = addr_conv((struct rtnl_addr *)l.v[i], ifindex, &a);

		if (rel < 0) {
			rc = rel;
			break;
		}
		if (rel == 0)
			continue;
		if (*n >= max) {
			rc = -E2BIG;
			break;
		}
		out[(*n)++] = a;
	}
	objlist_free(&l);
	return rc;
}

static int addr_add(struct nlc *c, int ifindex, const struct pl_nl_addr *a, uint32_t extra_flags)
{
	unsigned int alen = family_len(a->family);
	uint32_t flags = (a->flags | extra_flags) & PL_NL_ADDR_FLAGS & ~(uint32_t)IFA_F_SECONDARY;
	struct rtnl_addr *ra;
	struct nl_addr *local, *brd;
	int rc;

	if (alen == 0)
		return -EINVAL;
	ra = rtnl_addr_alloc();
	local = nl_addr_build(a->family, a->addr, alen);
	if (!ra || !local) {
		rc = -ENOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, a->prefixlen);
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, a->family);
	rc = rtnl_addr_set_local(ra, local);
	if (rc < 0) {
		rc = nle_to_errno(rc);
		goto out;
	}
	rtnl_addr_set_prefixlen(ra, a->prefixlen);
	rtnl_addr_set_scope(ra, a->scope);
	if (flags)
		rtnl_addr_set_flags(ra, flags);
	if (a->family == AF_INET && a->has_broadcast) {
		brd = nl_addr_build(AF_INET, a->broadcast, 4);
		if (!brd) {
			rc = -ENOMEM;
			goto out;
		}
		rc = rtnl_addr_set_broadcast(ra, brd);
		nl_addr_put(brd);
		if (rc < 0) {
			rc = nle_to_errno(rc);
			goto out;
		}
	}
	c->kerr = 0;
	rc = nlc_result(c, rtnl_addr_add(c->sk, ra, NLM_F_EXCL));
out:
	if (local)
		nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	return rc;
}

/* Deletes the addresses of ifindex: with keep == NULL all of them (any family, link-local
 * too), else those not in keep[0..n_keep). Deleting an IPv4 primary may take its secondaries
 * with it, so -EADDRNOTAVAIL counts as done. */
static int addrs_delete(
	struct nlc *c, int ifindex, const struct pl_nl_addr *keep, unsigned int n_keep)
{
	struct objlist l;
	size_t i;
	int rc;

	rc = dump_objs(c, RTM_GETADDR, ifindex, &l);
	if (rc)
		return rc;
	for (i = 0; i < l.n; i++) {
		struct rtnl_addr *ra = (struct rtnl_addr *)l.v[i];
		struct pl_nl_addr a;
		int rel, err;

		if (keep) {
			rel = addr_conv(ra, ifindex, &a);
			if (rel == 0 || (rel == 1 && addr_in(&a, keep, n_keep)))
				continue;
		} else if (family_len(rtnl_addr_get_family(ra)) == 0) {
			continue;
		}
		c->kerr = 0;
		err = nlc_result(c, rtnl_addr_delete(c->sk, ra, 0));
		if (err && err != -EADDRNOTAVAIL && err != -ENOENT && rc == 0)
			rc = err;
	}
	objlist_free(&l);
	return rc;
}

/* Makes the addresses of ifindex exactly st's: delete extras, then add the missing ones in st's
 * order, then check that all are there. */
static int addrs_sync(struct nlc *c, int ifindex, const struct pl_nl_link_state *st)
{
	struct pl_nl_addr *cur;
	unsigned int n_cur, i;
	int rc;

	rc = addrs_delete(c, ifindex, st->addrs, st->n_addrs);
	if (rc)
		return rc;
	cur = calloc(PL_NL_MAX_ADDRS, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	rc = addrs_read(c, ifindex, cur, PL_NL_MAX_ADDRS, &n_cur);
	for (i = 0; rc == 0 && i < st->n_addrs; i++) {
		if (addr_in(&st->addrs[i], cur, n_cur))
			continue;
		rc = addr_add(c, ifindex, &st->addrs[i], 0);
		if (rc == -EEXIST)
			rc = 0;
	}
	if (rc == 0)
		rc = addrs_read(c, ifindex, cur, PL_NL_MAX_ADDRS, &n_cur);
	for (i = 0; rc == 0 && i < st->n_addrs; i++) {
		if (!addr_in(&st->addrs[i], cur, n_cur))
			rc = -EEXIST;
	}
	free(cur);
	return rc;
}

/* ---- routes ---------------------------------------------------------------------------------- */

/* Converts a dumped route. Returns 1 for a route of the snapshot of ifindex, 0 for a route that
 * is not (other link, local table, cloned, not unicast, multipath), -EOPNOTSUPP for a route
 * through the link that we cannot represent (TOS, source prefix, foreign gateway family,
 * congestion-control metric). */
static int route_conv(struct rtnl_route *rr, int ifindex, struct pl_nl_route *r)
{
	int family = rtnl_route_get_family(rr);
	unsigned int alen = family_len(family), i;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst, *gw, *src;

	if (alen == 0 || rtnl_route_get_table(rr) == RT_TABLE_LOCAL ||
		(rtnl_route_get_flags(rr) & RTM_F_CLONED) ||
		rtnl_route_get_type(rr) != RTN_UNICAST || rtnl_route_get_nnexthops(rr) != 1)
		return 0;
	nh = rtnl_route_nexthop_n(rr, 0);
	if (!nh || rtnl_route_nh_get_ifindex(nh) != ifindex)
		return 0;
	memset(r, 0, sizeof(*r));
	r->family = family;
	dst = rtnl_route_get_dst(rr);
	if (dst) {
		if (nl_addr_get_len(dst) == alen)
			memcpy(r->dst, nl_addr_get_binary_addr(dst), alen);
		else if (nl_addr_get_len(dst) != 0)
			return -EOPNOTSUPP;
		r->dst_len = (uint8_t)nl_addr_get_prefixlen(dst);
	}
	gw = rtnl_route_nh_get_gateway(nh);
	if (gw) {
		if (nl_addr_get_family(gw) != family || nl_addr_get_len(gw) != alen)
			return -EOPNOTSUPP;
		r->has_gw = true;
		memcpy(r->gw, nl_addr_get_binary_addr(gw), alen);
	}
	src = rtnl_route_get_pref_src(rr);
	if (src && nl_addr_get_len(src) == alen) {
		r->has_prefsrc = true;
		memcpy(r->prefsrc, nl_addr_get_binary_addr(src), alen);
	}
	r->table = rtnl_route_get_table(rr);
	r->priority = rtnl_route_get_priority(rr);
	r->protocol = rtnl_route_get_protocol(rr);
	r->scope = rtnl_route_get_scope(rr);
	r->type = rtnl_route_get_type(rr);
	r->onlink = ((rtnl_route_get_flags(rr) | rtnl_route_nh_get_flags(nh)) & RTNH_F_ONLINK) != 0;
	for (i = 1; i <= RTAX_MAX; i++) {
		uint32_t v;

		if (rtnl_route_get_metric(rr, (int)i, &v) < 0 || v == 0)
			continue;
		if (i == RTAX_CC_ALGO)
			return -EOPNOTSUPP;
		r->metrics[i] = v;
	}
	if (rtnl_route_get_tos(rr) != 0)
		return -EOPNOTSUPP;
	src = rtnl_route_get_src(rr);
	if (src && nl_addr_get_prefixlen(src) != 0)
		return -EOPNOTSUPP;
	return 1;
}

static bool route_eq(const struct pl_nl_route *x, const struct pl_nl_route *y)
{
	unsigned int alen = family_len(x->family);

	return x->family == y->family && x->dst_len == y->dst_len &&
	       memcmp(x->dst, y->dst, alen) == 0 && x->has_gw == y->has_gw &&
	       (!x->has_gw || memcmp(x->gw, y->gw, alen) == 0) &&
	       x->has_prefsrc == y->has_prefsrc &&
	       (!x->has_prefsrc || memcmp(x->prefsrc, y->prefsrc, alen) == 0) &&
	       x->table == y->table && x->priority == y->priority && x->protocol == y->protocol &&
	       x->scope == y->scope && x->type == y->type && x->onlink == y->onlink &&
	       memcmp(x->metrics, y->metrics, sizeof(x->metrics)) == 0;
}

static bool route_in(const struct pl_nl_route *r, const struct pl_nl_route *list, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (route_eq(r, &list[i]))
			return true;
	}
	return false;
}

static int routes_read(
	struct nlc *c, int ifindex, struct pl_nl_route *out, unsigned int max, unsigned int *n)
{
	struct objlist l;
	size_t i;
	int rc;

	rc = dump_objs(c, RTM_GETROUTE, ifindex, &l);
	if (rc)
		return rc;
	*n = 0;
	for (i = 0; i < l.n; i++) {
		struct pl_nl_route r;
		int rel = route_conv((struct rtnl_route *)l.v[i], ifindex, &r);

		if (rel < 0) {
			rc = rel;
			break;
		}
		if (rel == 0)
			continue;
		if (*n >= max) {
			rc = -E2BIG;
			break;
		}
		out[(*n)++] = r;
	}
	objlist_free(&l);
	return rc;
}

/* Deletes the routes through ifindex (those route_conv claims) that are not in
 * keep[0..n_keep); keep == NULL deletes them all. */
static int routes_delete(
	struct nlc *c, int ifindex, const struct pl_nl_route *keep, unsigned int n_keep)
{
	struct objlist l;
	size_t i;
	int rc;

	rc = dump_objs(c, RTM_GETROUTE, ifindex, &l);
	if (rc)
		return rc;
	for (i = 0; i < l.n; i++) {
		struct rtnl_route *rr = (struct rtnl_route *)l.v[i];
		struct pl_nl_route r;
		int rel = route_conv(rr, ifindex, &r), err;

		if (rel == 0 || (rel == 1 && keep && route_in(&r, keep, n_keep)))
			continue;
		c->kerr = 0;
		err = nlc_result(c, rtnl_route_delete(c->sk, rr, 0));
		if (err && err != -ESRCH && err != -ENOENT && rc == 0)
			rc = err;
	}
	objlist_free(&l);
	return rc;
}

static int route_add(struct nlc *c, int ifindex, const struct pl_nl_route *r)
{
	unsigned int alen = family_len(r->family), i;
	struct nl_addr *dst = NULL, *gw = NULL, *src = NULL;
	struct rtnl_nexthop *nh = NULL;
	struct rtnl_route *route;
	int rc = -ENOMEM;

	if (alen == 0)
		return -EINVAL;
	route = rtnl_route_alloc();
	if (!route)
		return -ENOMEM;
	dst = nl_addr_build(r->family, r->dst, alen);
	if (!dst)
		goto out;
	nl_addr_set_prefixlen(dst, r->dst_len);
	if (rtnl_route_set_family(route, (uint8_t)r->family) < 0 ||
		rtnl_route_set_dst(route, dst) < 0 || rtnl_route_set_type(route, r->type) < 0) {
		rc = -EINVAL;
		goto out;
	}
	rtnl_route_set_table(route, r->table);
	rtnl_route_set_priority(route, r->priority);
	rtnl_route_set_protocol(route, r->protocol);
	rtnl_route_set_scope(route, r->scope);
	if (r->onlink)
		rtnl_route_set_flags(route, RTNH_F_ONLINK);
	if (r->has_prefsrc) {
		src = nl_addr_build(r->family, r->prefsrc, alen);
		if (!src)
			goto out;
		if (rtnl_route_set_pref_src(route, src) < 0) {
			rc = -EINVAL;
			goto out;
		}
	}
	for (i = 1; i <= RTAX_MAX; i++) {
		if (r->metrics[i] && rtnl_route_set_metric(route, (int)i, r->metrics[i]) < 0) {
			rc = -EINVAL;
			goto out;
		}
	}
	nh = rtnl_route_nh_alloc();
	if (!nh)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	if (r->has_gw) {
		gw = nl_addr_build(r->family, r->gw, alen);
		if (!gw) {
			rtnl_route_nh_free(nh);
			goto out;
		}
		rtnl_route_nh_set_gateway(nh, gw);
	}
	rtnl_route_add_nexthop(route, nh);
	/* IPv4 needs NLM_F_EXCL, or an existing route with the same key gets a sibling put in
	 * front of it. IPv6 must not have it: with it, the same prefix and metric on another link
	 * (fe80::/64 on every link) is "EEXIST"; without it only an identical route is. */
	c->kerr = 0;
	rc = nlc_result(c, rtnl_route_add(c->sk, route, r->family == AF_INET ? NLM_F_EXCL : 0));
out:
	if (dst)
		nl_addr_put(dst);
	if (gw)
		nl_addr_put(gw);
	if (src)
		nl_addr_put(src);
	rtnl_route_put(route);
	return rc;
}

/* Adds routes through ifindex; a route may need another one first (a gateway reachable only
 * through a scope-link route), so failed ones are retried while a pass makes progress.
 * -EEXIST counts as added (the kernel re-created it, or a retry). */
static int routes_add(struct nlc *c, int ifindex, const struct pl_nl_route *list, unsigned int n,
	bool skip_kernel)
{
	bool done[PL_NL_MAX_ROUTES];
	unsigned int i, left = 0;
	int first_err;

	if (n > PL_NL_MAX_ROUTES)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		done[i] = skip_kernel && list[i].protocol == RTPROT_KERNEL;
		left += !done[i];
	}
	while (left > 0) {
		bool progress = false;

		first_err = 0;
		for (i = 0; i < n; i++) {
			int rc;

			if (done[i])
				continue;
			rc = route_add(c, ifindex, &list[i]);
			if (rc == 0 || rc == -EEXIST) {
				done[i] = true;
				left--;
				progress = true;
			} else if (first_err == 0) {
				first_err = rc;
			}
		}
		if (!progress)
			return first_err;
	}
	return 0;
}

/* Makes the routes through ifindex exactly st's, then checks that all are present (a route
 * with the same key through another link makes the add fail with -EEXIST). */
static int routes_sync(struct nlc *c, int ifindex, const struct pl_nl_link_state *st)
{
	struct pl_nl_route *cur, *missing;
	unsigned int n_cur, n_missing = 0, i;
	int rc;

	rc = routes_delete(c, ifindex, st->routes, st->n_routes);
	if (rc)
		return rc;
	cur = calloc(2 * PL_NL_MAX_ROUTES, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	missing = cur + PL_NL_MAX_ROUTES;
	rc = routes_read(c, ifindex, cur, PL_NL_MAX_ROUTES, &n_cur);
	for (i = 0; rc == 0 && i < st->n_routes; i++) {
		if (!route_in(&st->routes[i], cur, n_cur))
			missing[n_missing++] = st->routes[i];
	}
	if (rc == 0)
		rc = routes_add(c, ifindex, missing, n_missing, false);
	if (rc == 0)
		rc = routes_read(c, ifindex, cur, PL_NL_MAX_ROUTES, &n_cur);
	for (i = 0; rc == 0 && i < st->n_routes; i++) {
		if (!route_in(&st->routes[i], cur, n_cur))
			rc = -EEXIST;
	}
	free(cur);
	return rc;
}

/* ---- snapshot -------------------------------------------------------------------------------- */

int pl_nl_snapshot(const char *ifname, struct pl_nl_link_state *st)
{
	struct link_info li;
	struct nlc c;
	int rc;

	if (!st || !name_ok(ifname))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = link_query(&c, 0, ifname, &li);
	if (rc)
		goto out;
	if (li.mac_len != 0 && li.mac_len != 6) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	name_copy(st->name, li.name);
	st->ifindex = li.ifindex;
	memcpy(st->mac, li.mac, 6);
	st->mtu = li.mtu;
	st->up = (li.flags & IFF_UP) != 0;
	st->promisc = (li.flags & IFF_PROMISC) != 0;
	rc = ipv6_disabled_get(li.name, &st->ipv6_disabled);
	if (rc == 0)
		rc = rp_filter_get(li.name, &st->rp_filter);
	if (rc == 0)
		rc = addrs_read(&c, li.ifindex, st->addrs, PL_NL_MAX_ADDRS, &st->n_addrs);
	if (rc == 0)
		rc = routes_read(&c, li.ifindex, st->routes, PL_NL_MAX_ROUTES, &st->n_routes);
out:
	nlc_close(&c);
	if (rc)
		memset(st, 0, sizeof(*st));
	return rc;
}

/* ---- validation shared by save and load ------------------------------------------------------ */

static bool addr_valid(const struct pl_nl_addr *a)
{
	unsigned int alen = family_len(a->family);

	return alen != 0 && a->prefixlen <= alen * 8 && (a->flags & ~PL_NL_ADDR_FLAGS) == 0 &&
	       (!a->has_broadcast || a->family == AF_INET);
}

static bool route_valid(const struct pl_nl_route *r)
{
	unsigned int alen = family_len(r->family);

	return alen != 0 && r->dst_len <= alen * 8 && prefix_clean(r->dst, alen, r->dst_len) &&
	       r->table != RT_TABLE_UNSPEC && r->type != RTN_UNSPEC && r->type <= RTN_MAX &&
	       r->metrics[0] == 0 && r->metrics[RTAX_CC_ALGO] == 0;
}

static bool state_valid(const struct pl_nl_link_state *st)
{
	unsigned int i;

	if (memchr(st->name, '\0', sizeof(st->name)) == NULL || !name_ok(st->name) ||
		st->ifindex <= 0 || st->mtu < 68 || st->mtu > 65536 ||
		st->n_addrs > PL_NL_MAX_ADDRS || st->n_routes > PL_NL_MAX_ROUTES)
		return false;
	for (i = 0; i < st->n_addrs; i++) {
		if (!addr_valid(&st->addrs[i]))
			return false;
	}
	for (i = 0; i < st->n_routes; i++) {
		if (!route_valid(&st->routes[i]))
			return false;
	}
	return true;
}

/* ---- state file: save ------------------------------------------------------------------------ */

/* Adds v (consumed, may be NULL after a failed allocation) under key. */
static int jadd(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int jadd_ip(json_object *o, const char *key, int family, const uint8_t *addr)
{
	char buf[INET6_ADDRSTRLEN];

	ip_format(family, addr, buf, sizeof(buf));
	return jadd(o, key, json_object_new_string(buf));
}

static json_object *addr_to_json(const struct pl_nl_addr *a)
{
	json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return NULL;
	rc = jadd_ip(o, "address", a->family, a->addr);
	rc = rc ?: jadd(o, "prefixlen", json_object_new_int(a->prefixlen));
	rc = rc ?: jadd(o, "scope", json_object_new_int(a->scope));
	rc = rc ?: jadd(o, "flags", json_object_new_int64(a->flags));
	if (rc == 0 && a->has_broadcast)
		rc = jadd_ip(o, "broadcast", AF_INET, a->broadcast);
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *route_to_json(const struct pl_nl_route *r)
{
	json_object *o = json_object_new_object(), *m = NULL;
	unsigned int i;
	int rc;

	if (!o)
		return NULL;
	rc = jadd_ip(o, "dst", r->family, r->dst);
	rc = rc ?: jadd(o, "dst_len", json_object_new_int(r->dst_len));
	if (rc == 0 && r->has_gw)
		rc = jadd_ip(o, "gateway", r->family, r->gw);
	if (rc == 0 && r->has_prefsrc)
		rc = jadd_ip(o, "prefsrc", r->family, r->prefsrc);
	rc = rc ?: jadd(o, "table", json_object_new_int64(r->table));
	rc = rc ?: jadd(o, "priority", json_object_new_int64(r->priority));
	rc = rc ?: jadd(o, "protocol", json_object_new_int(r->protocol));
	rc = rc ?: jadd(o, "scope", json_object_new_int(r->scope));
	rc = rc ?: jadd(o, "type", json_object_new_int(r->type));
	rc = rc ?: jadd(o, "onlink", json_object_new_boolean(r->onlink));
	for (i = 1; rc == 0 && i < PL_NL_ROUTE_METRICS; i++) {
		char key[8];

		if (!r->metrics[i])
			continue;
		if (!m) {
			m = json_object_new_object();
			rc = jadd(o, "metrics", m);
			if (rc)
				break;
		}
		snprintf(key, sizeof(key), "%u", i);
		rc = jadd(m, key, json_object_new_int64(r->metrics[i]));
	}
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *state_to_json(const struct pl_nl_link_state *st)
{
	json_object *o = json_object_new_object(), *addrs, *routes;
	char mac[18];
	unsigned int i;
	int rc;

	if (!o)
		return NULL;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", st->mac[0], st->mac[1],
		st->mac[2], st->mac[3], st->mac[4], st->mac[5]);
	rc = jadd(o, "version", json_object_new_int(PL_NL_STATE_VERSION));
	rc = rc ?: jadd(o, "name", json_object_new_string(st->name));
	rc = rc ?: jadd(o, "ifindex", json_object_new_int(st->ifindex));
	rc = rc ?: jadd(o, "mac", json_object_new_string(mac));
	rc = rc ?: jadd(o, "mtu", json_object_new_int64(st->mtu));
	rc = rc ?: jadd(o, "up", json_object_new_boolean(st->up));
	rc = rc ?: jadd(o, "promisc", json_object_new_boolean(st->promisc));
	rc = rc ?: jadd(o, "ipv6_disabled", json_object_new_boolean(st->ipv6_disabled));
	rc = rc ?: jadd(o, "rp_filter", json_object_new_int(st->rp_filter));
	addrs = json_object_new_array();
	rc = rc ?: jadd(o, "addrs", addrs);
	for (i = 0; rc == 0 && i < st->n_addrs; i++) {
		json_object *a = addr_to_json(&st->addrs[i]);

		if (!a || json_object_array_add(addrs, a) != 0) {
			json_object_put(a);
			rc = -ENOMEM;
		}
	}
	routes = json_object_new_array();
	rc = rc ?: jadd(o, "routes", routes);
	for (i = 0; rc == 0 && i < st->n_routes; i++) {
		json_object *r = route_to_json(&st->routes[i]);

		if (!r || json_object_array_add(routes, r) != 0) {
			json_object_put(r);
			rc = -ENOMEM;
		}
	}
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;
	int fd, rc;

	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int pl_nl_state_save(const struct pl_nl_link_state *st, const char *path)
{
	char tmp[PATH_MAX];
	json_object *root;
	const char *text;
	int fd, n, rc;

	if (!st || !path || !*path || !state_valid(st))
		return -EINVAL;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	root = state_to_json(st);
	if (!root)
		return -ENOMEM;
	text = json_object_to_json_string_ext(root,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		json_object_put(root);
		return -ENOMEM;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		json_object_put(root);
		return rc;
	}
	rc = write_all(fd, text, strlen(text));
	rc = rc ?: write_all(fd, "\n", 1);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	json_object_put(root);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return fsync_dir_of(path);
}

/* ---- state file: load ------------------------------------------------------------------------ */

/* Every key of o must be in keys[] (NULL-terminated). */
static bool jkeys_known(json_object *o, const char *const *keys)
{
	json_object_object_foreach(o, key, val)
	{
		const char *const *k;

		(void)val;
		for (k = keys; *k; k++) {
			if (!strcmp(*k, key))
				break;
		}
		if (!*k)
			return false;
	}
	return true;
}

/* The member key of type type; -EBADMSG if missing (unless optional: 1) or of another type
 * (null included: an optional member is left out, never null). */
static int jget(json_object *o, const char *key, json_type type, bool optional, json_object **out)
{
	if (!json_object_object_get_ex(o, key, out))
		return optional ? 1 : -EBADMSG;
	return *out && json_object_is_type(*out, type) ? 0 : -EBADMSG;
}

static int jint(json_object *o, const char *key, int64_t min, int64_t max, int64_t *v)
{
	json_object *j;
	int rc = jget(o, key, json_type_int, false, &j);

	if (rc)
		return rc;
	errno = 0;
	*v = json_object_get_int64(j);
	if (errno || *v < min || *v > max)
		return -EBADMSG;
	return 0;
}

static int jbool(json_object *o, const char *key, bool *v)
{
	json_object *j;
	int rc = jget(o, key, json_type_boolean, false, &j);

	if (rc == 0)
		*v = json_object_get_boolean(j);
	return rc;
}

/* Address member: family must be want (0: any, returned in *family). 1 if optional and absent. */
static int jip(json_object *o, const char *key, bool optional, int *family, uint8_t out[16])
{
	json_object *j;
	const char *s;
	int fam, rc = jget(o, key, json_type_string, optional, &j);

	if (rc)
		return rc;
	s = json_object_get_string(j);
	if ((size_t)json_object_get_string_len(j) >= INET6_ADDRSTRLEN || ip_parse(s, &fam, out))
		return -EBADMSG;
	if (*family && fam != *family)
		return -EBADMSG;
	*family = fam;
	return 0;
}

static int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int i;

	if (strlen(s) != 17)
		return -EBADMSG;
	for (i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		char hex[3] = { p[0], p[1], '\0' };

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
			(i < 5 && p[2] != ':'))
			return -EBADMSG;
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return 0;
}

static int addr_from_json(json_object *o, struct pl_nl_addr *a)
{
	static const char *const keys[] = { "address", "prefixlen", "scope", "flags", "broadcast",
		NULL };
	int64_t v;
	int rc, fam = 0;
	uint8_t brd[16];

	if (!json_object_is_type(o, json_type_object) || !jkeys_known(o, keys))
		return -EBADMSG;
	memset(a, 0, sizeof(*a));
	rc = jip(o, "address", false, &a->family, a->addr);
	if (rc)
		return rc;
	rc = jint(o, "prefixlen", 0, family_len(a->family) * 8, &v);
	if (rc)
		return rc;
	a->prefixlen = (uint8_t)v;
	rc = jint(o, "scope", 0, 255, &v);
	if (rc)
		return rc;
	a->scope = (uint8_t)v;
	rc = jint(o, "flags", 0, UINT32_MAX, &v);
	if (rc)
		return rc;
	if ((uint64_t)v & ~(uint64_t)PL_NL_ADDR_FLAGS)
		return -EBADMSG;
	a->flags = (uint32_t)v;
	fam = AF_INET;
	rc = jip(o, "broadcast", true, &fam, brd);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (a->family != AF_INET)
			return -EBADMSG;
		a->has_broadcast = true;
		memcpy(a->broadcast, brd, 4);
	}
	return 0;
}

static int metrics_from_json(json_object *o, struct pl_nl_route *r)
{
	json_object_object_foreach(o, key, val)
	{
		char *end;
		unsigned long id;
		int64_t v;

		if (!isdigit((unsigned char)key[0]) || strlen(key) > 3)
			return -EBADMSG;
		id = strtoul(key, &end, 10);
		if (*end || id == 0 || id >= PL_NL_ROUTE_METRICS || id == RTAX_CC_ALGO ||
			!json_object_is_type(val, json_type_int))
			return -EBADMSG;
		errno = 0;
		v = json_object_get_int64(val);
		if (errno || v <= 0 || v > UINT32_MAX)
			return -EBADMSG;
		r->metrics[id] = (uint32_t)v;
	}
	return 0;
}

static int route_from_json(json_object *o, struct pl_nl_route *r)
{
	static const char *const keys[] = { "dst", "dst_len", "gateway", "prefsrc", "table",
		"priority", "protocol", "scope", "type", "onlink", "metrics", NULL };
	json_object *m;
	int64_t v;
	int rc;

	if (!json_object_is_type(o, json_type_object) || !jkeys_known(o, keys))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	rc = jip(o, "dst", false, &r->family, r->dst);
	if (rc)
		return rc;
	rc = jint(o, "dst_len", 0, family_len(r->family) * 8, &v);
	if (rc)
		return rc;
	r->dst_len = (uint8_t)v;
	rc = jip(o, "gateway", true, &r->family, r->gw);
	if (rc < 0)
		return rc;
	r->has_gw = rc == 0;
	rc = jip(o, "prefsrc", true, &r->family, r->prefsrc);
	if (rc < 0)
		return rc;
	r->has_prefsrc = rc == 0;
	rc = jint(o, "table", 1, UINT32_MAX, &v);
	if (rc)
		return rc;
	r->table = (uint32_t)v;
	rc = jint(o, "priority", 0, UINT32_MAX, &v);
	if (rc)
		return rc;
	r->priority = (uint32_t)v;
	rc = jint(o, "protocol", 0, 255, &v);
	if (rc)
		return rc;
	r->protocol = (uint8_t)v;
	rc = jint(o, "scope", 0, 255, &v);
	if (rc)
		return rc;
	r->scope = (uint8_t)v;
	rc = jint(o, "type", 1, RTN_MAX, &v);
	if (rc)
		return rc;
	r->type = (uint8_t)v;
	rc = jbool(o, "onlink", &r->onlink);
	if (rc)
		return rc;
	rc = jget(o, "metrics", json_type_object, true, &m);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		rc = metrics_from_json(m, r);
		if (rc)
			return rc;
	}
	return route_valid(r) ? 0 : -EBADMSG;
}

static int state_from_json(json_object *root, struct pl_nl_link_state *st)
{
	static const char *const keys[] = { "version", "name", "ifindex", "mac", "mtu", "up",
		"promisc", "ipv6_disabled", "rp_filter", "addrs", "routes", NULL };
	json_object *j;
	size_t i, n;
	int64_t v;
	int rc;

	if (!json_object_is_type(root, json_type_object) || !jkeys_known(root, keys))
		return -EBADMSG;
	rc = jint(root, "version", PL_NL_STATE_VERSION, PL_NL_STATE_VERSION, &v);
	if (rc)
		return rc;
	rc = jget(root, "name", json_type_string, false, &j);
	if (rc)
		return rc;
	if (json_object_get_string_len(j) >= IFNAMSIZ || !name_ok(json_object_get_string(j)))
		return -EBADMSG;
	name_copy(st->name, json_object_get_string(j));
	rc = jint(root, "ifindex", 1, INT32_MAX, &v);
	if (rc)
		return rc;
	st->ifindex = (int)v;
	rc = jget(root, "mac", json_type_string, false, &j);
	if (rc)
		return rc;
	rc = mac_parse(json_object_get_string(j), st->mac);
	if (rc)
		return rc;
	rc = jint(root, "mtu", 68, 65536, &v);
	if (rc)
		return rc;
	st->mtu = (uint32_t)v;
	rc = jbool(root, "up", &st->up);
	rc = rc ?: jbool(root, "promisc", &st->promisc);
	rc = rc ?: jbool(root, "ipv6_disabled", &st->ipv6_disabled);
	/* State files written before rp_filter was saved lack it: -1, left as it is. */
	st->rp_filter = -1;
	if (rc == 0 && json_object_object_get_ex(root, "rp_filter", NULL)) {
		rc = jint(root, "rp_filter", 0, 2, &v);
		st->rp_filter = (int)v;
	}
	rc = rc ?: jget(root, "addrs", json_type_array, false, &j);
	if (rc)
		return rc;
	n = json_object_array_length(j);
	if (n > PL_NL_MAX_ADDRS)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		rc = addr_from_json(json_object_array_get_idx(j, i), &st->addrs[i]);
		if (rc)
			return rc;
	}
	st->n_addrs = (unsigned int)n;
	rc = jget(root, "routes", json_type_array, false, &j);
	if (rc)
		return rc;
	n = json_object_array_length(j);
	if (n > PL_NL_MAX_ROUTES)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		rc = route_from_json(json_object_array_get_idx(j, i), &st->routes[i]);
		if (rc)
			return rc;
	}
	st->n_routes = (unsigned int)n;
	return state_valid(st) ? 0 : -EBADMSG;
}

static int read_file(const char *path, char **bufp, size_t *lenp)
{
	struct stat sb;
	size_t len = 0;
	char *buf;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > STATE_FILE_MAX_SIZE) {
		close(fd);
		return S_ISREG(sb.st_mode) ? -EFBIG : -EBADMSG;
	}
	buf = malloc(STATE_FILE_MAX_SIZE + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, STATE_FILE_MAX_SIZE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > STATE_FILE_MAX_SIZE) {
			rc = -EFBIG;
			break;
		}
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

int pl_nl_state_load(const char *path, struct pl_nl_link_state *st)
{
	struct pl_nl_link_state *tmp = NULL;
	struct json_tokener *tok = NULL;
	json_object *root = NULL;
	size_t len = 0, end;
	char *buf = NULL;
	int rc;

	if (!path || !st)
		return -EINVAL;
	rc = read_file(path, &buf, &len);
	if (rc)
		return rc;
	if (len == 0 || len > INT_MAX || memchr(buf, '\0', len)) {
		rc = -EBADMSG;
		goto out;
	}
	tok = json_tokener_new();
	tmp = calloc(1, sizeof(*tmp));
	if (!tok || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		rc = -EBADMSG;
		goto out;
	}
	/* Only white space may follow the object. */
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (!isspace((unsigned char)buf[end])) {
			rc = -EBADMSG;
			goto out;
		}
	}
	rc = state_from_json(root, tmp);
	if (rc == 0)
		memcpy(st, tmp, sizeof(*st));
out:
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	free(tmp);
	free(buf);
	return rc;
}

/* ---- compare --------------------------------------------------------------------------------- */

static void addr_describe(const struct pl_nl_addr *a, char *buf, size_t size)
{
	char ip[PL_NL_ADDR_STRLEN], brd[INET_ADDRSTRLEN] = "";

	if (pl_nl_addr_format(a, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "(family %d)", a->family);
	if (a->has_broadcast)
		ip_format(AF_INET, a->broadcast, brd, sizeof(brd));
	snprintf(buf, size, "%s scope %u flags 0x%x%s%s", ip, a->scope, a->flags,
		a->has_broadcast ? " brd " : "", brd);
}

static void route_describe(const struct pl_nl_route *r, char *buf, size_t size)
{
	char dst[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN] = "", src[INET6_ADDRSTRLEN] = "";
	size_t off;
	unsigned int i;
	int n;

	ip_format(r->family, r->dst, dst, sizeof(dst));
	if (r->has_gw)
		ip_format(r->family, r->gw, gw, sizeof(gw));
	if (r->has_prefsrc)
		ip_format(r->family, r->prefsrc, src, sizeof(src));
	n = snprintf(buf, size, "%s/%u%s%s%s%s table %u metric %u proto %u scope %u type %u%s", dst,
		r->dst_len, r->has_gw ? " via " : "", gw, r->has_prefsrc ? " src " : "", src,
		r->table, r->priority, r->protocol, r->scope, r->type, r->onlink ? " onlink" : "");
	if (n < 0 || (size_t)n >= size)
		return;
	off = (size_t)n;
	for (i = 1; i < PL_NL_ROUTE_METRICS; i++) {
		if (!r->metrics[i])
			continue;
		n = snprintf(buf + off, size - off, " rtax%u=%u", i, r->metrics[i]);
		if (n < 0 || (size_t)n >= size - off)
			return;
		off += (size_t)n;
	}
}

/* First element of x[] without a partner in y[] (multiset match), or -1. */
#define UNMATCHED_FN(fname, type, eq)                                                    \
	static int fname(const type *x, unsigned int nx, const type *y, unsigned int ny) \
	{                                                                                \
		bool used[PL_NL_MAX_ROUTES] = { false };                                 \
		unsigned int i, j;                                                       \
                                                                                         \
		for (i = 0; i < nx; i++) {                                               \
			for (j = 0; j < ny; j++) {                                       \
				if (!used[j] && eq(&x[i], &y[j]))                        \
					break;                                           \
			}                                                                \
			if (j == ny)                                                     \
				return (int)i;                                           \
			used[j] = true;                                                  \
		}                                                                        \
		return -1;                                                               \
	}
UNMATCHED_FN(addr_unmatched, struct pl_nl_addr, addr_eq)
UNMATCHED_FN(route_unmatched, struct pl_nl_route, route_eq)

static int differ(char *diff, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int differ(char *diff, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (diff && size > 0) {
		va_start(ap, fmt);
		vsnprintf(diff, size, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int pl_nl_state_compare(
	const struct pl_nl_link_state *a, const struct pl_nl_link_state *b, char *diff, size_t size)
{
	char desc[256];
	int i;

	if (diff && size > 0)
		diff[0] = '\0';
	if (!a || !b)
		return differ(diff, size, "missing state");
	if (a->n_addrs > PL_NL_MAX_ADDRS || b->n_addrs > PL_NL_MAX_ADDRS ||
		a->n_routes > PL_NL_MAX_ROUTES || b->n_routes > PL_NL_MAX_ROUTES)
		return differ(diff, size, "invalid state (too many addresses or routes)");
	if (strncmp(a->name, b->name, IFNAMSIZ))
		return differ(diff, size, "name: %.15s != %.15s", a->name, b->name);
	if (memcmp(a->mac, b->mac, 6))
		return differ(diff, size,
			"mac: %02x:%02x:%02x:%02x:%02x:%02x != %02x:%02x:%02x:%02x:%02x:%02x",
			a->mac[0], a->mac[1], a->mac[2], a->mac[3], a->mac[4], a->mac[5], b->mac[0],
			b->mac[1], b->mac[2], b->mac[3], b->mac[4], b->mac[5]);
	if (a->mtu != b->mtu)
		return differ(diff, size, "mtu: %u != %u", a->mtu, b->mtu);
	if (a->up != b->up)
		return differ(diff, size, "up: %d != %d", a->up, b->up);
	if (a->promisc != b->promisc)
		return differ(diff, size, "promisc: %d != %d", a->promisc, b->promisc);
	if (a->ipv6_disabled != b->ipv6_disabled)
		return differ(
			diff, size, "ipv6_disabled: %d != %d", a->ipv6_disabled, b->ipv6_disabled);
	if (a->rp_filter != b->rp_filter)
		return differ(diff, size, "rp_filter: %d != %d", a->rp_filter, b->rp_filter);
	i = addr_unmatched(a->addrs, a->n_addrs, b->addrs, b->n_addrs);
	if (i >= 0) {
		addr_describe(&a->addrs[i], desc, sizeof(desc));
		return differ(diff, size, "address only in first: %s", desc);
	}
	i = addr_unmatched(b->addrs, b->n_addrs, a->addrs, a->n_addrs);
	if (i >= 0) {
		addr_describe(&b->addrs[i], desc, sizeof(desc));
		return differ(diff, size, "address only in second: %s", desc);
	}
	i = route_unmatched(a->routes, a->n_routes, b->routes, b->n_routes);
	if (i >= 0) {
		route_describe(&a->routes[i], desc, sizeof(desc));
		return differ(diff, size, "route only in first: %s", desc);
	}
	i = route_unmatched(b->routes, b->n_routes, a->routes, a->n_routes);
	if (i >= 0) {
		route_describe(&b->routes[i], desc, sizeof(desc));
		return differ(diff, size, "route only in second: %s", desc);
	}
	return 0;
}

/* ---- take / restore -------------------------------------------------------------------------- */

int pl_nl_uplink_take(const struct pl_nl_link_state *st, const char *new_name)
{
	struct link_info li;
	struct nlc c;
	int rc, i;

	if (!st || !state_valid(st) || !name_ok(new_name) || !strcmp(st->name, new_name))
		return -EINVAL;
	rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = link_query(&c, st->ifindex, NULL, &li);
	if (rc)
		goto out;
	if (li.is_tun || (strcmp(li.name, st->name) && strcmp(li.name, new_name))) {
		rc = -ESTALE;
		goto out;
	}
	if (strcmp(li.name, new_name)) {
		/* The kernel renames only links that are down. */
		if (li.flags & IFF_UP) {
			rc = link_set_up(&c, li.ifindex, false);
			if (rc)
				goto out;
		}
		rc = link_change(&c, li.ifindex, new_name, NULL, 0, 0, 0);
		if (rc)
			goto out;
	}
	/* Disabling IPv6 flushes the IPv6 addresses and routes and stops ND/RS. */
	rc = ipv6_disabled_set(new_name, true);
	rc = rc ?: rp_filter_set(new_name, 1);
	if (rc)
		goto out;
	/* Deleting an IPv4 primary can promote a secondary: repeat until none is left. */
	for (i = 0;; i++) {
		struct objlist l;
		size_t left;

		if (i == 8) {
			rc = -EBUSY;
			goto out;
		}
		rc = addrs_delete(&c, li.ifindex, NULL, 0);
		rc = rc ?: dump_objs(&c, RTM_GETADDR, li.ifindex, &l);
		if (rc)
			goto out;
		left = l.n;
		objlist_free(&l);
		if (left == 0)
			break;
	}
	rc = routes_delete(&c, li.ifindex, NULL, 0);
	if (rc)
		goto out;
	rc = link_change(&c, li.ifindex, NULL, NULL, 0, IFF_UP | IFF_PROMISC, IFF_UP | IFF_PROMISC);
out:
	nlc_close(&c);
	return rc;
}

/* The uplink: see pl_nl_uplink_restore(). */
static int uplink_find(
	struct nlc *c, const struct pl_nl_link_state *st, const char *taken, struct link_info *li)
{
	int rc;

	rc = link_query(c, st->ifindex, NULL, li);
	if (rc == 0 && !li->is_tun &&
		(!strcmp(li->name, st->name) || (taken && !strcmp(li->name, taken)) ||
			(!mac_is_zero(st->mac) && !memcmp(li->mac, st->mac, 6))))
		return 0;
	if (rc && rc != -ENODEV)
		return rc;
	if (taken) {
		rc = link_query(c, 0, taken, li);
		if (rc == 0 && !li->is_tun)
			return 0;
		if (rc && rc != -ENODEV)
			return rc;
	}
	rc = link_query(c, 0, st->name, li);
	if (rc == 0 && !li->is_tun)
		return 0;
	return rc && rc != -ENODEV ? rc : -ENODEV;
}

int pl_nl_uplink_restore(const struct pl_nl_link_state *st, const char *taken_name)
{
	struct link_info li, other;
	bool v6_disabled;
	struct nlc c;
	int rc;

	if (!st || !state_valid(st) || (taken_name && !name_ok(taken_name)))
		return -EINVAL;
	rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = uplink_find(&c, st, taken_name, &li);
	if (rc)
		goto out;
	/* The host tap holds the uplink's name. */
	rc = link_query(&c, 0, st->name, &other);
	if (rc == 0 && other.ifindex != li.ifindex) {
		if (!other.is_tun) {
			rc = -EEXIST;
			goto out;
		}
		rc = link_del(&c, other.ifindex);
		if (rc == -ENODEV)
			rc = 0;
	} else if (rc == -ENODEV) {
		rc = 0;
	}
	if (rc)
		goto out;
	if (strcmp(li.name, st->name)) {
		if (li.flags & IFF_UP) {
			rc = link_set_up(&c, li.ifindex, false);
			if (rc)
				goto out;
			li.flags &= ~(unsigned int)IFF_UP;
		}
		rc = link_change(&c, li.ifindex, st->name, NULL, 0, 0, 0);
		if (rc)
			goto out;
	}
	if (!mac_is_zero(st->mac) && memcmp(li.mac, st->mac, 6)) {
		rc = link_change(&c, li.ifindex, NULL, st->mac, 0, 0, 0);
		if (rc == -EBUSY && (li.flags & IFF_UP)) {
			/* Some drivers change the MAC only while down. */
			rc = link_set_up(&c, li.ifindex, false);
			li.flags &= ~(unsigned int)IFF_UP;
			rc = rc ?: link_change(&c, li.ifindex, NULL, st->mac, 0, 0, 0);
		}
		if (rc)
			goto out;
	}
	if (li.mtu != st->mtu) {
		rc = link_change(&c, li.ifindex, NULL, NULL, st->mtu, 0, 0);
		if (rc)
			goto out;
	}
	if (((li.flags & IFF_PROMISC) != 0) != st->promisc) {
		rc = link_change(
			&c, li.ifindex, NULL, NULL, 0, st->promisc ? IFF_PROMISC : 0, IFF_PROMISC);
		if (rc)
			goto out;
	}
	rc = ipv6_disabled_get(st->name, &v6_disabled);
	if (rc == 0 && v6_disabled != st->ipv6_disabled)
		rc = ipv6_disabled_set(st->name, st->ipv6_disabled);
	if (rc == 0 && st->rp_filter >= 0)
		rc = rp_filter_set(st->name, st->rp_filter);
	if (rc)
		goto out;
	if (((li.flags & IFF_UP) != 0) != st->up) {
		rc = link_set_up(&c, li.ifindex, st->up);
		if (rc)
			goto out;
	}
	rc = addrs_sync(&c, li.ifindex, st);
	if (rc == 0)
		rc = routes_sync(&c, li.ifindex, st);
out:
	nlc_close(&c);
	return rc;
}

/* ---- tun/tap --------------------------------------------------------------------------------- */

/* Creates the persistent TUN/TAP name (type IFF_TUN or IFF_TAP). -EEXIST if name exists. */
static int tun_create(const char *name, int type)
{
	struct ifreq ifr;
	int fd, rc = 0;

	fd = open(TUN_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(type | IFF_NO_PI | IFF_TUN_EXCL);
	name_copy(ifr.ifr_name, name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		rc = errno == EBUSY ? -EEXIST : -errno;
	else if (ioctl(fd, TUNSETPERSIST, 1) < 0)
		rc = -errno;
	/* Without TUNSETPERSIST, closing removes the device again. */
	close(fd);
	return rc;
}

int pl_nl_tuntap_open(const char *name, int flags)
{
	struct ifreq ifr;
	int fd, rc;

	int type = flags & (IFF_TAP | IFF_TUN);
	if (!name_ok(name) || (type != IFF_TAP && type != IFF_TUN) ||
		(flags & ~(IFF_TAP | IFF_TUN | IFF_VNET_HDR)))
		return -EINVAL;
	if (if_nametoindex(name) == 0)
		return -ENODEV;
	fd = open(TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(flags | IFF_NO_PI);
	name_copy(ifr.ifr_name, name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* If the device vanished meanwhile, TUNSETIFF made a new, non-persistent one. */
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_PERSIST)) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

int pl_nl_link_delete(const char *name)
{
	struct link_info li;
	struct nlc c;
	int rc;

	if (!name_ok(name))
		return -EINVAL;
	rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = link_query(&c, 0, name, &li);
	if (rc == 0)
		rc = link_del(&c, li.ifindex);
	nlc_close(&c);
	return rc;
}

int pl_nl_host_tap_create(const struct pl_nl_link_state *st)
{
	struct link_info li;
	struct nlc c;
	int rc, i;

	if (!st || !state_valid(st))
		return -EINVAL;
	rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = link_query(&c, 0, st->name, &li);
	if (rc == 0)
		rc = -EEXIST;
	if (rc != -ENODEV)
		goto out;
	rc = tun_create(st->name, IFF_TAP);
	if (rc)
		goto out;
	rc = link_query(&c, 0, st->name, &li);
	if (rc)
		goto out;
	rc = link_change(
		&c, li.ifindex, NULL, mac_is_zero(st->mac) ? NULL : st->mac, st->mtu, 0, 0);
	rc = rc ?: ipv6_disabled_set(st->name, st->ipv6_disabled);
	rc = rc ?: link_set_up(&c, li.ifindex, true);
	for (i = 0; rc == 0 && i < (int)st->n_addrs; i++)
		rc = addr_add(&c, li.ifindex, &st->addrs[i], 0);
	rc = rc ?: routes_add(&c, li.ifindex, st->routes, st->n_routes, true);
	if (rc)
		link_del(&c, li.ifindex);
out:
	nlc_close(&c);
	return rc;
}

/* ---- pods ------------------------------------------------------------------------------------ */

/* Moves the calling thread into the netns at path; *orig gets an fd of the one it was in. */
static int netns_enter(const char *path, int *orig)
{
	int fd, rc;

	*orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*orig < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		close(*orig);
		return rc;
	}
	rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	if (rc)
		close(*orig);
	return rc;
}

/* link_query by name in the calling thread's netns, on a netlink socket of its own. */
static int link_query_here(const char *name, struct link_info *li)
{
	struct nlc c;
	int rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = link_query(&c, 0, name, li);
	nlc_close(&c);
	return rc;
}

static int netns_leave(int orig)
{
	int rc = setns(orig, CLONE_NEWNET) < 0 ? -errno : 0;

	close(orig);
	return rc;
}

struct pod_tun_args {
	const char *ifname;
	uint32_t mtu;
	const struct pl_nl_addr *addrs;
	unsigned int n_addrs;
	bool has_gw4, has_gw6;
	uint8_t gw4[16], gw6[16];
};

static int pod_tun_setup(const struct pod_tun_args *p)
{
	struct pl_nl_route r;
	struct link_info li;
	struct nlc c;
	unsigned int i;
	int rc;

	rc = nlc_open(&c);
	if (rc)
		return rc;
	rc = tun_create(p->ifname, IFF_TUN);
	if (rc)
		goto out;
	rc = link_query(&c, 0, p->ifname, &li);
	if (rc)
		goto out;
	rc = link_change(&c, li.ifindex, NULL, NULL, p->mtu, IFF_UP, IFF_UP);
	for (i = 0; rc == 0 && i < p->n_addrs; i++)
		rc = addr_add(&c, li.ifindex, &p->addrs[i],
			p->addrs[i].family == AF_INET6 ? IFA_F_NODAD : 0);
	memset(&r, 0, sizeof(r));
	r.table = RT_TABLE_MAIN;
	r.protocol = RTPROT_BOOT;
	r.type = RTN_UNICAST;
	if (rc == 0 && p->has_gw4) {
		/* The gateway is reachable on the link: scope-link /32, then the default. */
		r.family = AF_INET;
		memcpy(r.dst, p->gw4, 4);
		r.dst_len = 32;
		r.scope = RT_SCOPE_LINK;
		rc = route_add(&c, li.ifindex, &r);
		memset(r.dst, 0, sizeof(r.dst));
		r.dst_len = 0;
		r.scope = RT_SCOPE_UNIVERSE;
		r.has_gw = true;
		memcpy(r.gw, p->gw4, 4);
		rc = rc ?: route_add(&c, li.ifindex, &r);
	}
	if (rc == 0 && p->has_gw6) {
		r.family = AF_INET6;
		memset(r.dst, 0, sizeof(r.dst));
		r.dst_len = 0;
		r.scope = RT_SCOPE_UNIVERSE;
		r.has_gw = true;
		memcpy(r.gw, p->gw6, 16);
		r.priority = 1024;
		rc = route_add(&c, li.ifindex, &r);
	}
	if (rc)
		link_del(&c, li.ifindex);
out:
	nlc_close(&c);
	return rc;
}

static int gw_parse(const char *s, int family, bool *has, uint8_t out[16])
{
	int fam;

	*has = false;
	if (!s)
		return 0;
	if (strnlen(s, INET6_ADDRSTRLEN) >= INET6_ADDRSTRLEN || ip_parse(s, &fam, out) ||
		fam != family)
		return -EINVAL;
	*has = true;
	return 0;
}

int pl_nl_pod_tun_create(const char *netns_path, const char *ifname, uint32_t mtu,
	const struct pl_nl_addr *addrs, unsigned int n_addrs, const char *gw4, const char *gw6)
{
	struct pod_tun_args p = {
		.ifname = ifname, .mtu = mtu, .addrs = addrs, .n_addrs = n_addrs
	};
	unsigned int i;
	int orig, rc, rc2;

	if (!netns_path || !name_ok(ifname) || mtu < 68 || mtu > 65535 ||
		n_addrs > PL_NL_MAX_ADDRS || (n_addrs && !addrs))
		return -EINVAL;
	for (i = 0; i < n_addrs; i++) {
		if (!addr_valid(&addrs[i]))
			return -EINVAL;
	}
	if (gw_parse(gw4, AF_INET, &p.has_gw4, p.gw4) || gw_parse(gw6, AF_INET6, &p.has_gw6, p.gw6))
		return -EINVAL;
	rc = netns_enter(netns_path, &orig);
	if (rc)
		return rc;
	rc = pod_tun_setup(&p);
	rc2 = netns_leave(orig);
	return rc ?: rc2;
}

int pl_nl_pod_tun_open(const char *netns_path, const char *ifname, int flags)
{
	int orig, fd, rc;

	if (!netns_path || !name_ok(ifname))
		return -EINVAL;
	rc = netns_enter(netns_path, &orig);
	if (rc)
		return rc;
	fd = pl_nl_tuntap_open(ifname, IFF_TUN | (flags & IFF_VNET_HDR));
	rc = netns_leave(orig);
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

int pl_nl_pod_tun_delete(const char *netns_path, const char *ifname)
{
	int orig, rc, rc2;

	if (!netns_path || !name_ok(ifname))
		return -EINVAL;
	rc = netns_enter(netns_path, &orig);
	if (rc)
		return rc;
	/* Only ever a TUN/TAP: an interface of that name made by someone else stays. */
	struct link_info li;
	rc = link_query_here(ifname, &li);
	if (rc == 0 && !li.is_tun)
		rc = -EEXIST;
	if (rc == 0)
		rc = pl_nl_link_delete(ifname);
	rc2 = netns_leave(orig);
	return rc ?: rc2;
}

int pl_nl_link_stats(const char *netns_path, const char *ifname, struct pl_nl_link_stats *st)
{
	int orig = -1, rc, rc2 = 0;

	if (!name_ok(ifname) || !st)
		return -EINVAL;
	if (netns_path && netns_path[0]) {
		rc = netns_enter(netns_path, &orig);
		if (rc)
			return rc;
	}
	struct link_info li;
	rc = link_query_here(ifname, &li);
	if (orig >= 0)
		rc2 = netns_leave(orig);
	if (rc == 0) {
		st->is_tun = li.is_tun;
		st->tx_dropped = li.tx_dropped;
	}
	return rc ?: rc2;
}

/* ---- address text ---------------------------------------------------------------------------- */

int pl_nl_addr_parse(const char *s, struct pl_nl_addr *a)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash;
	unsigned long plen;
	size_t iplen;
	uint8_t bytes[16];
	int family;

	if (!s || !a)
		return -EINVAL;
	slash = strchr(s, '/');
	iplen = slash ? (size_t)(slash - s) : strnlen(s, sizeof(ip));
	if (iplen == 0 || iplen >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (ip_parse(ip, &family, bytes))
		return -EINVAL;
	plen = family_len(family) * 8;
	if (slash) {
		const char *p = slash + 1;
		size_t n = strlen(p);
		char *end;

		if (n == 0 || n > 3 || !isdigit((unsigned char)p[0]))
			return -EINVAL;
		plen = strtoul(p, &end, 10);
		if (*end || plen > family_len(family) * 8)
			return -EINVAL;
	}
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, bytes, family_len(family));
	a->prefixlen = (uint8_t)plen;
	return 0;
}

int pl_nl_addr_format(const struct pl_nl_addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (!a || !buf || family_len(a->family) == 0 || a->prefixlen > family_len(a->family) * 8)
		return -EINVAL;
	if (!inet_ntop(a->family, a->addr, ip, sizeof(ip)))
		return -EINVAL;
	n = snprintf(buf, size, "%s/%u", ip, a->prefixlen);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}
