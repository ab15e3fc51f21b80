/* SPDX-License-Identifier: Apache-2.0 */
/* State-bus objects of the node dataplane, and their msgpack codecs. The supervisor publishes
 * kind "interface" (the uplink and the host tap) and kind "route" (the uplink's routes); the
 * cni-server publishes kind "pod" (a pod's tun). Values are msgpack maps with string keys and
 * human-readable addresses; decoding is strict: every key known, every type and size checked,
 * every address parsed, or the whole object is rejected. */
#ifndef PL_OBJECTS_H
#define PL_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_OBJ_KIND_IFACE "interface"
#define PL_OBJ_KIND_ROUTE "route"
#define PL_OBJ_KIND_POD "pod"
#define PL_OBJ_MAX_ADDRS 16
#define PL_OBJ_NETNS_SIZE 128
#define PL_OBJ_NAME_SIZE 16
#define PL_OBJ_MAX_SIZE 4096

struct pl_prefix {
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t len;
	uint8_t addr[16];
};

enum pl_if_role {
	PL_ROLE_UPLINK = 1,
	PL_ROLE_HOST = 2,
	PL_ROLE_POD = 3,
};

struct pl_obj_iface {
	uint16_t index; /* PL_IF_* numbering (pl_fib.h) */
	uint8_t role; /* enum pl_if_role */
	char name[PL_OBJ_NAME_SIZE]; /* kernel name of the device */
	char netns[PL_OBJ_NETNS_SIZE]; /* pods: path of the pod's netns; "" otherwise */
	uint8_t mac[6];
	uint32_t mtu;
	char driver[16]; /* uplink: af_packet | af_xdp | dpdk */
	uint8_t n_addrs;
	struct pl_prefix addrs[PL_OBJ_MAX_ADDRS];
	/* Pods: prefixes the pod may also use as source besides its addresses (io-worker's
	 * anti-spoofing drops any other source); empty for most pods. */
	uint8_t n_allow_src;
	struct pl_prefix allow_src[PL_OBJ_MAX_ADDRS];
};

struct pl_obj_route {
	struct pl_prefix dst;
	bool has_gw;
	struct pl_prefix gw; /* len unused */
	uint16_t if_index;
};

/* Encoders return bytes written or -EMSGSIZE / -EINVAL. */
int pl_obj_iface_encode(const struct pl_obj_iface *o, uint8_t *buf, size_t size);
int pl_obj_iface_decode(const uint8_t *buf, size_t len, struct pl_obj_iface *o);
int pl_obj_route_encode(const struct pl_obj_route *o, uint8_t *buf, size_t size);
int pl_obj_route_decode(const uint8_t *buf, size_t len, struct pl_obj_route *o);

/* "10.0.0.1/24", "fd00::1" (no length: host prefix). 0 or -EINVAL. */
int pl_prefix_parse(const char *s, struct pl_prefix *p);
/* Writes "addr/len" (with_len) or "addr". Returns 0 or -ENOSPC. */
int pl_prefix_format(const struct pl_prefix *p, bool with_len, char *buf, size_t size);
/* The route key on the bus: "dst/len". */
int pl_obj_route_key(const struct pl_obj_route *o, char *buf, size_t size);

#endif
