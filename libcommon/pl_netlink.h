/* SPDX-License-Identifier: Apache-2.0 */
/* Linux network configuration for the supervisor and the CNI side: snapshot of the uplink's
 * config (MAC, MTU, flags, addresses, routes) with a crash-safe JSON state file, taking the
 * uplink over and restoring it exactly (also after SIGKILL, from the file), the host TAP that
 * carries the host's own traffic through the dataplane, and persistent TUNs inside pod netns.
 * Uses rtnetlink (libnl-route-3), /dev/net/tun and /proc/sys; never logs. */
#ifndef PL_NETLINK_H
#define PL_NETLINK_H

#include <linux/if_addr.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_NL_MAX_ADDRS 64
#define PL_NL_MAX_ROUTES 256
#define PL_NL_STATE_VERSION 1
/* Route metrics kept: RTAX_* 1..17 (RTAX_CC_ALGO, a string, is not supported). */
#define PL_NL_ROUTE_METRICS 18
/* Enough for "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128". */
#define PL_NL_ADDR_STRLEN 50

/* One interface address. addr holds 4 (AF_INET) or 16 (AF_INET6) bytes, the rest is zero.
 * flags: only the IFA_F_* bits in PL_NL_ADDR_FLAGS are kept (IFA_F_SECONDARY is reported by the
 * kernel for IPv4 secondaries and compared, but never sent when adding). */
struct pl_nl_addr {
	int family;
	uint8_t addr[16];
	uint8_t prefixlen;
	uint8_t scope;
	uint32_t flags;
	/* IPv4 only: IFA_BROADCAST when set ("ip addr add ... brd +"). */
	bool has_broadcast;
	uint8_t broadcast[4];
};

/* The address flags that are configuration, not state. */
#define PL_NL_ADDR_FLAGS                                                            \
	(IFA_F_SECONDARY | IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | \
		IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN)

/* One unicast route with a single next hop through the link (the link itself is implied). */
struct pl_nl_route {
	int family;
	uint8_t dst[16];
	uint8_t dst_len;
	bool has_gw;
	uint8_t gw[16];
	bool has_prefsrc;
	uint8_t prefsrc[16];
	uint32_t table;
	uint32_t priority;
	uint8_t protocol;
	uint8_t scope;
	uint8_t type;
	bool onlink; /* RTNH_F_ONLINK */
	uint32_t metrics[PL_NL_ROUTE_METRICS]; /* RTA_METRICS by RTAX_* id; 0: not set */
};

/* The configuration of one link, as saved in the state file. */
struct pl_nl_link_state {
	char name[IFNAMSIZ];
	int ifindex;
	uint8_t mac[6]; /* all zero: the link has no Ethernet address (TUN) */
	uint32_t mtu;
	bool up;
	bool promisc; /* promiscuity the admin asked for (IFF_PROMISC in dev->gflags) */
	bool ipv6_disabled; /* net.ipv6.conf.<name>.disable_ipv6 */
	int rp_filter; /* net.ipv4.conf.<name>.rp_filter (0, 1, 2); -1: not saved */
	unsigned int n_addrs;
	struct pl_nl_addr addrs[PL_NL_MAX_ADDRS];
	unsigned int n_routes;
	struct pl_nl_route routes[PL_NL_MAX_ROUTES];
};

/* Snapshot of the link ifname in the calling thread's netns.
 * Addresses: IPv4 and IPv6, except IPv6 link-local (fe80::/10) and temporary (privacy)
 * addresses, which the kernel generates itself. Lifetimes are not recorded (restored as
 * permanent); IPv4 labels are not recorded (restored as the device name).
 * Routes: every unicast route with exactly one next hop whose device is this link, in every
 * table but local (255), cloned/cached entries excluded. Kernel routes (RTPROT_KERNEL, e.g. the
 * prefix routes of the addresses and fe80::/64) are included, so that two snapshots can be
 * compared. Route metrics (mtu, advmss, initcwnd, lock, ...) are kept. Multipath routes (not
 * recorded, never touched), encapsulation, nexthop objects' ids and IPv6 route
 * expiry/preference are not recorded.
 * Returns 0; -ENODEV (no such link), -E2BIG (more than PL_NL_MAX_ADDRS/PL_NL_MAX_ROUTES),
 * -EOPNOTSUPP (a point-to-point peer address, a hardware address that is not 6 bytes, or a
 * route through the link with TOS, a source prefix, a gateway of the other family or a
 * congestion-control metric),
 * -EINVAL (bad name) or another -errno. st is fully rewritten (zeroed first). */
int pl_nl_snapshot(const char *ifname, struct pl_nl_link_state *st);

/* Writes st as JSON to path, crash-safely: temp file in the same directory, fsync, rename over
 * path, fsync of the directory. Mode 0600. Returns 0, -EINVAL (st fails the loader's checks,
 * e.g. n_addrs too large) or -errno. */
int pl_nl_state_save(const struct pl_nl_link_state *st, const char *path);

/* Strict loader for pl_nl_state_save's file: every key must be known and present, every type
 * and range is checked (names, MAC, address strings and families, prefix lengths, counts).
 * Returns 0; -ENOENT (no file), -EBADMSG (anything malformed), -EFBIG (file over 1 MiB) or
 * another -errno. On error st is left untouched. */
int pl_nl_state_load(const char *path, struct pl_nl_link_state *st);

/* Compares two states field by field: name, MAC, MTU, up, promisc, ipv6_disabled, then the
 * addresses and the routes as multisets (order does not matter). ifindex is ignored.
 * Returns 0 if equal, else -1 and writes a one-line description of the first difference to
 * diff (if diff != NULL and size > 0; truncated to size). */
int pl_nl_state_compare(const struct pl_nl_link_state *a, const struct pl_nl_link_state *b,
	char *diff, size_t size);

/* Takes the uplink described by st (found by st->ifindex, whose name must be st->name or
 * new_name): brings it down, renames it to new_name, disables IPv6 on it
 * (net.ipv6.conf.<new_name>.disable_ipv6=1, so the kernel sends no ND/RS, and which flushes its
 * IPv6 addresses and routes), deletes all its IPv4 addresses and any route left through it,
 * then sets it up and promiscuous. Nothing is recorded: pl_nl_uplink_restore(st) undoes all of
 * it. Calling it again on a taken link succeeds.
 * Returns 0, -ENODEV (no link at st->ifindex), -ESTALE (the link at st->ifindex has another
 * name or is a TUN/TAP), -EBUSY (addresses kept coming back), -EINVAL or -errno (the link may
 * then be half taken: restore it). */
int pl_nl_uplink_take(const struct pl_nl_link_state *st, const char *new_name);

/* Puts the uplink back exactly as st describes. The uplink is the non-TUN link found by
 * st->ifindex (named st->name or taken_name, or carrying st->mac), else by taken_name (may be
 * NULL), else by st->name. A TUN/TAP named st->name (the host tap) is deleted first; then, only
 * where the current value differs: down + rename back, MAC, MTU, promiscuity, disable_ipv6,
 * admin state; then the addresses (extras deleted, missing ones added in st's order, so IPv4
 * primaries stay primaries) and the routes (extras through the link deleted, missing ones
 * added; a route the kernel already re-created counts as present, and a kernel route it has
 * not re-created yet -- fe80::/64 appears only once the link is ready, a moment later -- is
 * added with its RTPROT_KERNEL protocol, which the kernel's own later add leaves alone).
 * Finally every address and route of st is checked to be present. Multipath routes through
 * the link are left alone.
 * Idempotent: on a restored link it changes nothing and returns 0.
 * Returns 0, -ENODEV (no uplink found), -EEXIST (a non-TUN device other than the uplink is
 * named st->name, or a route of st could not be put back because one with the same key exists
 * through another link), -EINVAL or -errno. */
int pl_nl_uplink_restore(const struct pl_nl_link_state *st, const char *taken_name);

/* Creates the host tap: a persistent TAP (IFF_TAP | IFF_NO_PI) named st->name with st's MAC,
 * MTU and disable_ipv6, set up, carrying st's addresses and its routes except RTPROT_KERNEL
 * ones (the kernel derives those from the addresses), re-targeted to the tap. The tap stays
 * after the calling process exits. Its carrier is up only while a process has it open
 * (pl_nl_tuntap_open), so its link-local address and fe80::/64 route appear only then (the
 * kernel adds them from a work queue, a moment after the open); from then on a snapshot of the
 * tap equals st but for ifindex.
 * Returns 0, -EEXIST (a link named st->name exists), -EINVAL or -errno; on error the tap is
 * deleted again. */
int pl_nl_host_tap_create(const struct pl_nl_link_state *st);

/* Attaches to the existing persistent TAP or TUN name in the calling thread's netns.
 * flags: IFF_TAP or IFF_TUN, optionally | IFF_VNET_HDR (every read and write then starts with a
 * struct virtio_net_hdr; IFF_NO_PI is implied). Returns an fd (O_NONBLOCK, O_CLOEXEC) that
 * the caller closes, -ENODEV (no such link), -EINVAL (bad flags/name, or the device is not of
 * that type) or -errno. */
int pl_nl_tuntap_open(const char *name, int flags);

/* Deletes the link name in the calling thread's netns. 0, -ENODEV or -errno. */
int pl_nl_link_delete(const char *name);

/* In the network namespace at netns_path (/var/run/netns/X, /proc/PID/ns/net, ...): creates a
 * persistent TUN (IFF_TUN | IFF_NO_PI) named ifname with MTU mtu (68..65535), the n_addrs
 * addresses (usually /32 and /128; flags within PL_NL_ADDR_FLAGS, IPv6 ones always get
 * IFA_F_NODAD; scope as given -- 0 is global), sets it up and adds the
 * default routes: for gw4 (e.g. "169.254.1.1") a scope-link /32 route to the gateway, then
 * "default via gw4"; for gw6 (e.g. "fe80::1") "default via gw6". gw4/gw6 may be NULL.
 * Uses setns() in the calling thread and always returns it to its original netns.
 * Returns 0, -EEXIST (ifname, or a route with the same key, exists there), -EINVAL, -ENOENT
 * (no netns_path) or -errno (the tun is deleted again on error). */
int pl_nl_pod_tun_create(const char *netns_path, const char *ifname, uint32_t mtu,
	const struct pl_nl_addr *addrs, unsigned int n_addrs, const char *gw4, const char *gw6);

/* Attaches to the pod tun ifname inside netns_path (setns in, TUNSETIFF, setns back); flags
 * 0 or IFF_VNET_HDR. Returns an fd (O_NONBLOCK, O_CLOEXEC) or -errno as pl_nl_tuntap_open. */
int pl_nl_pod_tun_open(const char *netns_path, const char *ifname, int flags);

/* Deletes the pod tun ifname inside netns_path; a link of that name that is not a TUN/TAP is
 * left alone (-EEXIST). 0, -ENODEV or -errno. */
int pl_nl_pod_tun_delete(const char *netns_path, const char *ifname);

/* What pl_nl_link_stats reads of a link (IFLA_STATS64). For a TUN/TAP, tx is the kernel's side
 * toward the descriptor's reader: tx_dropped counts what its queue could not hold (the reader
 * away or behind). */
struct pl_nl_link_stats {
	bool is_tun; /* a TUN or TAP device */
	uint64_t tx_dropped;
};

/* Counters of link ifname in the netns at netns_path (NULL or "": the calling thread's; a
 * setns() in and back, as pl_nl_pod_tun_open). 0, -ENODEV, -EINVAL, -ENOENT or -errno. */
int pl_nl_link_stats(const char *netns_path, const char *ifname, struct pl_nl_link_stats *st);

/* Parses "10.1.2.3/24" or "fd00::1/64" into a (scope and flags zero). Without a prefix the
 * prefix is /32 or /128. Returns 0 or -EINVAL. */
int pl_nl_addr_parse(const char *s, struct pl_nl_addr *a);

/* Formats a as "10.1.2.3/24" / "fd00::1/64" into buf. Returns 0, -EINVAL (bad family or
 * prefix) or -ENOSPC (buf too small; buf then holds an empty string if size > 0). */
int pl_nl_addr_format(const struct pl_nl_addr *a, char *buf, size_t size);

#endif
