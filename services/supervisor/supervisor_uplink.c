/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor as uplink manager (vpp-manager's role). Before touching anything it saves the
 * uplink's Linux config (addresses, routes, MTU, MAC, link state) to the state file; then it
 * renames the uplink out of the way ("pl-<name>") for io-worker to drive, and creates the host
 * tap named like the uplink, with its MAC, MTU, addresses and routes, so the host keeps its
 * connectivity through the dataplane. It publishes both as interface objects and the uplink's
 * routes as route objects. On exit, on its own failure paths, and with --restore (after a
 * SIGKILL, from the state file), the uplink's config is put back exactly. A state file found at
 * start means the last run did not restore: that is done first. */
#include "supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pl_log.h"
#include "pl_netlink.h"
#include <bpf/libbpf.h>

#include "pl_fib.h"
#include "pl_objects.h"

static struct pl_nl_link_state saved;
static bool taken;

/* io-worker's AF_XDP socket attaches an XDP program to the taken uplink; a killed io-worker
 * leaves it there. The kernel's link must get its frames back: detach whatever is attached. */
static void detach_xdp(const char *name)
{
	unsigned int ifindex = if_nametoindex(name);
	if (!ifindex)
		return;
	bpf_xdp_detach((int)ifindex, XDP_FLAGS_SKB_MODE, NULL);
	bpf_xdp_detach((int)ifindex, XDP_FLAGS_DRV_MODE, NULL);
}

static void taken_name(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "pl-%.12s", name);
}

static int mkdir_parent(const char *path)
{
	char tmp[PL_CONFIG_STR_SIZE];
	snprintf(tmp, sizeof(tmp), "%s", path);
	char *dir = dirname(tmp);
	char partial[PL_CONFIG_STR_SIZE] = "";
	for (char *tok = strtok(dir, "/"); tok; tok = strtok(NULL, "/")) {
		size_t n = strlen(partial);
		snprintf(partial + n, sizeof(partial) - n, "/%s", tok);
		if (mkdir(partial, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

int uplink_restore_from_file(const struct pl_config *cfg)
{
	struct pl_nl_link_state st;
	char tname[IFNAMSIZ];
	int rc = pl_nl_state_load(cfg->uplink.state_file, &st);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		PL_ERR("uplink", "cannot read the uplink state file %s: %s", cfg->uplink.state_file,
			strerror(-rc));
		return rc;
	}
	taken_name(st.name, tname, sizeof(tname));
	detach_xdp(tname);
	rc = pl_nl_uplink_restore(&st, tname);
	if (rc < 0) {
		PL_ERR("uplink", "restoring %s from %s failed: %s", st.name, cfg->uplink.state_file,
			strerror(-rc));
		return rc;
	}
	unlink(cfg->uplink.state_file);
	PL_INFO("uplink", "%s restored from %s", st.name, cfg->uplink.state_file);
	return 1;
}

static void to_prefix(int family, const uint8_t *addr, uint8_t len, struct pl_prefix *p)
{
	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)family;
	p->len = len;
	memcpy(p->addr, addr, family == AF_INET ? 4 : 16);
}

static void fill_iface(const struct pl_nl_link_state *st, struct pl_obj_iface *o, uint16_t index,
	uint8_t role, const char *name, const char *driver)
{
	memset(o, 0, sizeof(*o));
	o->index = index;
	o->role = role;
	snprintf(o->name, sizeof(o->name), "%s", name);
	memcpy(o->mac, st->mac, 6);
	o->mtu = st->mtu;
	snprintf(o->driver, sizeof(o->driver), "%s", driver);
	for (unsigned int i = 0; i < st->n_addrs && o->n_addrs < PL_OBJ_MAX_ADDRS; i++)
		to_prefix(st->addrs[i].family, st->addrs[i].addr, st->addrs[i].prefixlen,
			&o->addrs[o->n_addrs++]);
}

static int publish(
	struct supervisor *sv, const char *kind, const char *key, const uint8_t *v, int len)
{
	if (len < 0)
		return len;
	return pl_bus_producer_set(sv->bus, kind, key, v, (size_t)len);
}

static int publish_all(struct supervisor *sv, const char *tname)
{
	uint8_t buf[PL_OBJ_MAX_SIZE];
	struct pl_obj_iface o;
	char key[64];
	int rc;

	fill_iface(&saved, &o, PL_IF_UPLINK, PL_ROLE_UPLINK, tname, sv->s.cfg.uplink.driver);
	/* With the dpdk driver io-worker polls the probed device, by its DPDK name. */
	if (strcmp(sv->s.cfg.uplink.driver, "dpdk") == 0) {
		uint8_t mac[6];
		int rc = ethdev_start(sv, o.name, sizeof(o.name), mac);
		if (rc < 0)
			return rc;
	}
	snprintf(key, sizeof(key), "%u", PL_IF_UPLINK);
	rc = publish(sv, PL_OBJ_KIND_IFACE, key, buf, pl_obj_iface_encode(&o, buf, sizeof(buf)));
	if (rc < 0)
		return rc;
	fill_iface(&saved, &o, PL_IF_HOST, PL_ROLE_HOST, saved.name, "tap");
	snprintf(key, sizeof(key), "%u", PL_IF_HOST);
	rc = publish(sv, PL_OBJ_KIND_IFACE, key, buf, pl_obj_iface_encode(&o, buf, sizeof(buf)));
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < saved.n_routes; i++) {
		const struct pl_nl_route *r = &saved.routes[i];
		struct pl_obj_route ro = { .if_index = PL_IF_UPLINK };
		/* The main table's unicast routes; link-local and multicast stay on the link. */
		if (r->table != RT_TABLE_MAIN || r->type != RTN_UNICAST)
			continue;
		if (r->family == AF_INET6 && r->dst[0] == 0xfe && (r->dst[1] & 0xc0) == 0x80)
			continue;
		to_prefix(r->family, r->dst, r->dst_len, &ro.dst);
		if (r->has_gw) {
			ro.has_gw = true;
			to_prefix(r->family, r->gw, r->family == AF_INET ? 32 : 128, &ro.gw);
		}
		pl_obj_route_key(&ro, key, sizeof(key));
		rc = publish(sv, PL_OBJ_KIND_ROUTE, key, buf,
			pl_obj_route_encode(&ro, buf, sizeof(buf)));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int uplink_start(struct supervisor *sv)
{
	const struct pl_config *cfg = &sv->s.cfg;
	char tname[IFNAMSIZ];
	int rc;

	if (!cfg->uplink.interface[0])
		return 0;
	if (uplink_restore_from_file(cfg) > 0)
		PL_WARN("uplink", "the previous run did not restore %s; restored it first",
			cfg->uplink.interface);
	rc = pl_nl_snapshot(cfg->uplink.interface, &saved);
	if (rc < 0) {
		PL_ERR("uplink", "cannot read uplink %s: %s", cfg->uplink.interface, strerror(-rc));
		return rc;
	}
	rc = mkdir_parent(cfg->uplink.state_file);
	if (rc == 0)
		rc = pl_nl_state_save(&saved, cfg->uplink.state_file);
	if (rc < 0) {
		PL_ERR("uplink", "cannot save the uplink's config to %s: %s; not touching it",
			cfg->uplink.state_file, strerror(-rc));
		return rc;
	}
	taken_name(saved.name, tname, sizeof(tname));
	rc = pl_nl_uplink_take(&saved, tname);
	if (rc == 0) {
		taken = true;
		rc = pl_nl_host_tap_create(&saved);
	}
	if (rc == 0)
		rc = publish_all(sv, tname);
	if (rc < 0) {
		PL_ERR("uplink", "taking over %s failed: %s; restoring it", saved.name,
			strerror(-rc));
		uplink_stop(sv);
		return rc;
	}
	PL_INFO("uplink", "took over %s (now %s, driver %s); host tap %s carries its addresses",
		saved.name, tname, cfg->uplink.driver, saved.name);
	return 0;
}

void uplink_stop(struct supervisor *sv)
{
	char tname[IFNAMSIZ];
	ethdev_stop(sv);
	if (!taken)
		return;
	taken_name(saved.name, tname, sizeof(tname));
	detach_xdp(tname);
	int rc = pl_nl_uplink_restore(&saved, tname);
	if (rc < 0) {
		PL_ERR("uplink", "restoring %s failed: %s; the state file %s stays for --restore",
			saved.name, strerror(-rc), sv->s.cfg.uplink.state_file);
		return;
	}
	taken = false;
	unlink(sv->s.cfg.uplink.state_file);
	PL_INFO("uplink", "%s restored", saved.name);
}
