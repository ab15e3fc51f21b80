/* SPDX-License-Identifier: Apache-2.0 */
/* Pod interfaces: netlink through pl_netlink, the state file through json-c, written to a
 * temporary file, fsync'ed and renamed over the old one so a crash leaves either. */
#include "cniserver_pods.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "pl_fib.h"
#include "pl_log.h"
#include "pl_netlink.h"

#define NETNS_DIR "/var/run/netns/"

/* The namespace file's NAME in /var/run/netns/NAME or /run/netns/NAME (or a bare NAME). */
static bool netns_name_ok(const char *n)
{
	size_t len = strlen(n);
	return len > 0 && len <= NAME_MAX && !strchr(n, '/') && strcmp(n, ".") != 0 &&
	       strcmp(n, "..") != 0;
}

/* /proc/PID/ns/net, PID decimal without a leading zero. */
static bool proc_netns_ok(const char *p)
{
	if (strncmp(p, "/proc/", 6) != 0)
		return false;
	p += 6;
	size_t digits = strspn(p, "0123456789");
	return digits > 0 && digits <= 10 && p[0] != '0' && strcmp(p + digits, "/ns/net") == 0;
}

int cni_netns_check(
	const char *netns, bool must_exist, char *path, size_t size, char *err, size_t err_size)
{
	char dummy[1];
	if (!err) {
		err = dummy;
		err_size = sizeof(dummy);
	}
	const char *name = NULL;
	if (strncmp(netns, NETNS_DIR, strlen(NETNS_DIR)) == 0)
		name = netns + strlen(NETNS_DIR);
	else if (strncmp(netns, "/run/netns/", 11) == 0)
		name = netns + 11;
	else if (netns[0] != '/')
		name = netns;
	if (name ? !netns_name_ok(name) : !proc_netns_ok(netns)) {
		snprintf(err, err_size,
			"only /var/run/netns/NAME, /run/netns/NAME, /proc/PID/ns/net or NAME");
		return -EINVAL;
	}
	int n = netns[0] == '/' ? snprintf(path, size, "%s", netns)
				: snprintf(path, size, NETNS_DIR "%s", netns);
	if (n < 0 || (size_t)n >= size) {
		snprintf(err, err_size, "path too long");
		return -ENAMETOOLONG;
	}
	if (!must_exist)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_size, "%s", strerror(e));
		return -e;
	}
	/* The file must be a network namespace, and not the one podlane itself runs in (the
	 * node's: a pod's default routes there would take the node's traffic). */
	struct stat st, own;
	int rc = 0;
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		snprintf(err, err_size, "not a network namespace");
		rc = -EINVAL;
	} else if (fstat(fd, &st) == 0 && stat("/proc/self/ns/net", &own) == 0 &&
		   st.st_dev == own.st_dev && st.st_ino == own.st_ino) {
		snprintf(err, err_size, "that is podlane's own network namespace, not a pod's");
		rc = -EINVAL;
	}
	close(fd);
	return rc;
}

static int netns_path(const char *netns, char *buf, size_t size)
{
	return cni_netns_check(netns, false, buf, size, NULL, 0);
}

/* A pod as the state file and pods/show write it. */
static struct json_object *pod_json(const struct pl_obj_iface *p)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(o, "index", json_object_new_int(p->index));
	json_object_object_add(o, "netns", json_object_new_string(p->netns));
	json_object_object_add(o, "ifname", json_object_new_string(p->name));
	json_object_object_add(o, "mtu", json_object_new_int((int)p->mtu));
	for (unsigned int k = 0; k < p->n_addrs; k++) {
		char b[64];
		pl_prefix_format(&p->addrs[k], true, b, sizeof(b));
		json_object_array_add(a, json_object_new_string(b));
	}
	json_object_object_add(o, "addrs", a);
	a = json_object_new_array();
	for (unsigned int k = 0; k < p->n_allow_src; k++) {
		char b[64];
		pl_prefix_format(&p->allow_src[k], true, b, sizeof(b));
		json_object_array_add(a, json_object_new_string(b));
	}
	json_object_object_add(o, "allow_src", a);
	return o;
}

static int save(struct cni_pods *c)
{
	const char *path = c->s->cfg.pods.state_file;
	char tmp[PL_CONFIG_STR_SIZE + 8], dir[PL_CONFIG_STR_SIZE];
	struct json_object *arr = json_object_new_array();
	for (unsigned int i = PL_IF_POD_BASE; i < PL_IF_MAX; i++)
		if (c->pods[i].role)
			json_object_array_add(arr, pod_json(&c->pods[i]));
	const char *text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY);
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
	} else {
		size_t len = strlen(text);
		if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
			rc = -errno ? -errno : -EIO;
		close(fd);
		if (rc == 0 && rename(tmp, path) < 0)
			rc = -errno;
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	json_object_put(arr);
	return rc;
}

static int publish(struct cni_pods *c, const struct pl_obj_iface *p)
{
	uint8_t buf[PL_OBJ_MAX_SIZE];
	char key[16];
	int len = pl_obj_iface_encode(p, buf, sizeof(buf));
	if (len < 0)
		return len;
	snprintf(key, sizeof(key), "%u", p->index);
	return pl_bus_producer_set(c->bus, PL_OBJ_KIND_POD, key, buf, (size_t)len);
}

static int find(const struct cni_pods *c, const char *netns, const char *ifname)
{
	for (unsigned int i = PL_IF_POD_BASE; i < PL_IF_MAX; i++)
		if (c->pods[i].role && strcmp(c->pods[i].netns, netns) == 0 &&
			strcmp(c->pods[i].name, ifname) == 0)
			return (int)i;
	return -1;
}

static void to_nl(const struct pl_prefix *p, struct pl_nl_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = p->family;
	memcpy(a->addr, p->addr, 16);
	a->prefixlen = p->len;
}

int cni_pods_add(struct cni_pods *c, const char *netns, const char *ifname,
	const struct pl_prefix *addrs, unsigned int n_addrs, const struct pl_prefix *allow,
	unsigned int n_allow, uint16_t *index)
{
	char path[PL_OBJ_NETNS_SIZE];
	struct pl_nl_addr nl[PL_OBJ_MAX_ADDRS];
	size_t iflen = strlen(ifname);
	int rc = cni_netns_check(netns, true, path, sizeof(path), NULL, 0);
	if (rc < 0)
		return rc;
	if (iflen == 0 || iflen >= IFNAMSIZ || n_addrs == 0 || n_addrs > PL_OBJ_MAX_ADDRS ||
		n_allow > PL_OBJ_MAX_ADDRS)
		return -EINVAL;
	for (unsigned int i = 0; i < n_addrs; i++) {
		if (addrs[i].len != (addrs[i].family == AF_INET ? 32 : 128))
			return -EINVAL; /* pods get host addresses */
		to_nl(&addrs[i], &nl[i]);
	}
	int old = find(c, path, ifname);
	if (old >= 0) {
		const struct pl_obj_iface *p = &c->pods[old];
		if (p->n_addrs == n_addrs &&
			memcmp(p->addrs, addrs, n_addrs * sizeof(*addrs)) == 0 &&
			p->n_allow_src == n_allow &&
			(n_allow == 0 ||
				memcmp(p->allow_src, allow, n_allow * sizeof(*allow)) == 0)) {
			*index = p->index;
			return 0;
		}
		return -EEXIST;
	}
	if (c->n_pods >= c->s->cfg.pods.max_pods)
		return -ENOSPC;
	unsigned int idx = PL_IF_POD_BASE;
	while (idx < PL_IF_MAX && c->pods[idx].role)
		idx++;
	if (idx >= PL_IF_MAX)
		return -ENOSPC;
	rc = pl_nl_pod_tun_create(path, ifname, c->s->cfg.pods.mtu, nl, n_addrs,
		c->s->cfg.pods.gateway_v4, c->s->cfg.pods.gateway_v6);
	if (rc == -EEXIST && pl_nl_pod_tun_delete(path, ifname) == 0) {
		/* A tun with no record: an earlier add died before recording it. Start over. */
		PL_INFO("pods", "replacing unrecorded %s in %s", ifname, path);
		rc = pl_nl_pod_tun_create(path, ifname, c->s->cfg.pods.mtu, nl, n_addrs,
			c->s->cfg.pods.gateway_v4, c->s->cfg.pods.gateway_v6);
	}
	if (rc < 0) {
		PL_WARN("pods", "creating %s in %s failed: %s", ifname, path, strerror(-rc));
		return rc == -EINVAL ? -EIO : rc; /* not the caller's input */
	}
	struct pl_obj_iface *p = &c->pods[idx];
	memset(p, 0, sizeof(*p));
	p->index = (uint16_t)idx;
	p->role = PL_ROLE_POD;
	snprintf(p->name, sizeof(p->name), "%s", ifname);
	snprintf(p->netns, sizeof(p->netns), "%s", path);
	p->mtu = c->s->cfg.pods.mtu;
	snprintf(p->driver, sizeof(p->driver), "tun");
	p->n_addrs = (uint8_t)n_addrs;
	memcpy(p->addrs, addrs, n_addrs * sizeof(*addrs));
	p->n_allow_src = (uint8_t)n_allow;
	if (n_allow)
		memcpy(p->allow_src, allow, n_allow * sizeof(*allow));
	c->n_pods++;
	rc = save(c);
	if (rc == 0)
		rc = publish(c, p);
	if (rc < 0) {
		pl_nl_pod_tun_delete(path, ifname);
		memset(p, 0, sizeof(*p));
		c->n_pods--;
		save(c);
		return rc;
	}
	*index = (uint16_t)idx;
	return 0;
}

int cni_pods_del(struct cni_pods *c, const char *netns, const char *ifname)
{
	char path[PL_OBJ_NETNS_SIZE], key[16];
	/* The namespace itself may be gone: only the path matters here. */
	int rc = netns_path(netns, path, sizeof(path));
	if (rc == -EINVAL || rc == -ENAMETOOLONG)
		return rc;
	int idx = find(c, path, ifname);
	if (idx < 0) {
		/* Not recorded: an add that died between creating the tun and recording it leaves
		 * the tun behind, and the runtime's DEL after the failed ADD is what removes it. */
		rc = pl_nl_pod_tun_delete(path, ifname);
		if (rc == 0)
			PL_INFO("pods", "deleted unrecorded %s in %s", ifname, path);
		return -ENOENT;
	}
	/* The namespace may be gone already, taking the tun with it. */
	rc = pl_nl_pod_tun_delete(path, ifname);
	if (rc < 0 && rc != -ENOENT && rc != -ENODEV)
		PL_WARN("pods", "deleting %s in %s: %s (continuing)", ifname, path, strerror(-rc));
	memset(&c->pods[idx], 0, sizeof(c->pods[idx]));
	c->n_pods--;
	snprintf(key, sizeof(key), "%d", idx);
	pl_bus_producer_del(c->bus, PL_OBJ_KIND_POD, key);
	return save(c);
}

/* Adopts the pods recorded by the previous run whose namespace still exists. */
static int load(struct cni_pods *c)
{
	struct json_object *arr = json_object_from_file(c->s->cfg.pods.state_file);
	if (!arr)
		return access(c->s->cfg.pods.state_file, F_OK) == 0 ? -EBADMSG : 0;
	int rc = 0;
	if (!json_object_is_type(arr, json_type_array))
		rc = -EBADMSG;
	for (size_t i = 0; rc == 0 && i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		struct pl_obj_iface p = { .role = PL_ROLE_POD };
		if (!json_object_object_get_ex(o, "index", &v) ||
			!json_object_is_type(v, json_type_int) ||
			json_object_get_int(v) < PL_IF_POD_BASE ||
			json_object_get_int(v) >= PL_IF_MAX) {
			rc = -EBADMSG;
			break;
		}
		p.index = (uint16_t)json_object_get_int(v);
		if (!json_object_object_get_ex(o, "netns", &v) ||
			snprintf(p.netns, sizeof(p.netns), "%s", json_object_get_string(v)) >=
				(int)sizeof(p.netns) ||
			!json_object_object_get_ex(o, "ifname", &v) ||
			snprintf(p.name, sizeof(p.name), "%s", json_object_get_string(v)) >=
				(int)sizeof(p.name) ||
			!json_object_object_get_ex(o, "mtu", &v) ||
			!json_object_object_get_ex(o, "addrs", &v) ||
			!json_object_is_type(v, json_type_array) ||
			json_object_array_length(v) > PL_OBJ_MAX_ADDRS) {
			rc = -EBADMSG;
			break;
		}
		for (size_t k = 0; rc == 0 && k < json_object_array_length(v); k++)
			if (pl_prefix_parse(json_object_get_string(json_object_array_get_idx(v, k)),
				    &p.addrs[p.n_addrs++]) < 0)
				rc = -EBADMSG;
		/* Records written before allow_src existed have none. */
		if (rc == 0 && json_object_object_get_ex(o, "allow_src", &v)) {
			if (!json_object_is_type(v, json_type_array) ||
				json_object_array_length(v) > PL_OBJ_MAX_ADDRS)
				rc = -EBADMSG;
			for (size_t k = 0; rc == 0 && k < json_object_array_length(v); k++)
				if (pl_prefix_parse(
					    json_object_get_string(json_object_array_get_idx(v, k)),
					    &p.allow_src[p.n_allow_src++]) < 0)
					rc = -EBADMSG;
		}
		json_object_object_get_ex(o, "mtu", &v);
		p.mtu = (uint32_t)json_object_get_int(v);
		snprintf(p.driver, sizeof(p.driver), "tun");
		if (rc == 0 && c->pods[p.index].role)
			rc = -EBADMSG; /* duplicate index */
		if (rc < 0)
			break;
		if (access(p.netns, R_OK) != 0) {
			PL_WARN("pods", "pod %s in %s: namespace gone, forgetting it", p.name,
				p.netns);
			continue;
		}
		c->pods[p.index] = p;
		c->n_pods++;
	}
	json_object_put(arr);
	return rc;
}

int cni_pods_init(struct cni_pods *c, struct pl_service *s)
{
	const struct pl_config *cfg = &s->cfg;
	const struct pl_bus_limits lim = pl_bus_limits_from_config(cfg);
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->pods = calloc(PL_IF_MAX, sizeof(*c->pods));
	if (!c->pods)
		return -ENOMEM;
	char dir[PL_CONFIG_STR_SIZE];
	snprintf(dir, sizeof(dir), "%s", cfg->pods.state_file);
	mkdir(dirname(dir), 0700);
	int rc = load(c);
	if (rc < 0) {
		PL_ERR("pods", "state file %s is damaged: %s", cfg->pods.state_file, strerror(-rc));
		return rc;
	}
	c->bus = pl_bus_producer_new(s->zctx, cfg->run_dir, "cni-server", &lim);
	if (!c->bus)
		return -errno;
	for (unsigned int i = PL_IF_POD_BASE; i < PL_IF_MAX; i++)
		if (c->pods[i].role)
			publish(c, &c->pods[i]);
	if (c->n_pods)
		PL_INFO("pods", "adopted %u pods from %s", c->n_pods, cfg->pods.state_file);
	return save(c);
}

void cni_pods_fini(struct cni_pods *c)
{
	pl_bus_producer_destroy(&c->bus);
	free(c->pods);
	c->pods = NULL;
}

static int cmd_add(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct cni_pods *c = ctx;
	struct pl_prefix addrs[PL_OBJ_MAX_ADDRS], allow[PL_OBJ_MAX_ADDRS];
	unsigned int n_addrs = 0, n_allow = 0;
	uint16_t idx = 0;
	if (argc < 4)
		return pl_admin_error(r, EINVAL,
			"usage: pod/add NETNS IFNAME ADDR... [allow=PREFIX...] (1..%d of each)",
			PL_OBJ_MAX_ADDRS);
	char path[PL_OBJ_NETNS_SIZE], why[96];
	int rc = cni_netns_check(argv[1], false, path, sizeof(path), why, sizeof(why));
	if (rc < 0)
		return pl_admin_error(r, -rc, "bad network namespace '%s': %s", argv[1], why);
	for (int i = 3; i < argc; i++) {
		bool is_allow = strncmp(argv[i], "allow=", 6) == 0;
		const char *a = is_allow ? argv[i] + 6 : argv[i];
		unsigned int *n = is_allow ? &n_allow : &n_addrs;
		if (*n >= PL_OBJ_MAX_ADDRS)
			return pl_admin_error(r, EINVAL, "more than %d %s", PL_OBJ_MAX_ADDRS,
				is_allow ? "allowed source prefixes" : "addresses");
		if (pl_prefix_parse(a, is_allow ? &allow[*n] : &addrs[*n]) < 0)
			return pl_admin_error(r, EINVAL, "'%s' is not an IPv4/IPv6 %s", a,
				is_allow ? "prefix" : "address");
		(*n)++;
	}
	if (n_addrs == 0)
		return pl_admin_error(r, EINVAL, "a pod needs at least one address");
	rc = cni_netns_check(argv[1], true, path, sizeof(path), why, sizeof(why));
	if (rc < 0 && rc != -ENOENT)
		return pl_admin_error(r, -rc, "bad network namespace '%s': %s", argv[1], why);
	rc = cni_pods_add(c, argv[1], argv[2], addrs, n_addrs, allow, n_allow, &idx);
	switch (rc) {
	case 0:
		break;
	case -ENOENT:
		return pl_admin_error(r, rc, "no network namespace '%s'", argv[1]);
	case -EEXIST:
		return pl_admin_error(
			r, rc, "%s in %s exists with other addresses", argv[2], argv[1]);
	case -ENOSPC:
		return pl_admin_error(
			r, rc, "pod limit reached (pods.max_pods = %u)", c->s->cfg.pods.max_pods);
	case -EINVAL:
		return pl_admin_error(r, rc,
			"bad pod: interface name (1..15 chars) and host addresses (/32, /128) "
			"expected");
	default:
		return pl_admin_error(
			r, rc, "cannot create %s in %s: %s", argv[2], argv[1], strerror(-rc));
	}
	PL_INFO("pods", "pod %s in %s: interface %u", argv[2], argv[1], idx);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "index", json_object_new_int(idx));
	pl_admin_set_json(r, o);
	pl_admin_printf(r, "pod interface %u\n", idx);
	return 0;
}

static int cmd_del(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct cni_pods *c = ctx;
	char path[PL_OBJ_NETNS_SIZE], why[96];
	if (argc != 3)
		return pl_admin_error(r, EINVAL, "usage: pod/del NETNS IFNAME");
	int rc = cni_netns_check(argv[1], false, path, sizeof(path), why, sizeof(why));
	if (rc < 0)
		return pl_admin_error(r, -rc, "bad network namespace '%s': %s", argv[1], why);
	rc = cni_pods_del(c, argv[1], argv[2]);
	if (rc < 0 && rc != -ENOENT)
		return pl_admin_error(
			r, rc, "cannot delete %s in %s: %s", argv[2], argv[1], strerror(-rc));
	pl_admin_printf(r, rc == -ENOENT ? "no such pod\n" : "deleted\n");
	return 0;
}

static int cmd_show(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct cni_pods *c = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "pods/show takes no arguments");
	struct json_object *arr = json_object_new_array();
	for (unsigned int i = PL_IF_POD_BASE; i < PL_IF_MAX; i++) {
		const struct pl_obj_iface *p = &c->pods[i];
		if (!p->role)
			continue;
		pl_admin_printf(r, "%-5u %-12s %s", p->index, p->name, p->netns);
		for (unsigned int k = 0; k < p->n_addrs; k++) {
			char b[64];
			pl_prefix_format(&p->addrs[k], true, b, sizeof(b));
			pl_admin_printf(r, " %s", b);
		}
		pl_admin_printf(r, "\n");
		json_object_array_add(arr, pod_json(p));
	}
	pl_admin_set_json(r, arr);
	return 0;
}

int cni_pods_register(struct cni_pods *c)
{
	int rc = pl_admin_register(c->s->admin, "pod/add", "NETNS IFNAME ADDR...",
		"Create a pod interface (tun) with its addresses", cmd_add, c);
	if (rc == 0)
		rc = pl_admin_register(c->s->admin, "pod/del", "NETNS IFNAME",
			"Delete a pod interface", cmd_del, c);
	if (rc == 0)
		rc = pl_admin_register(c->s->admin, "pods/show", "", "List the pods", cmd_show, c);
	return rc;
}
