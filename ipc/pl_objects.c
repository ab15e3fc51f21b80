/* SPDX-License-Identifier: Apache-2.0 */
/* msgpack codecs of the dataplane's bus objects. Decoding walks one map, rejects unknown or
 * repeated keys and anything of the wrong type or size, and fills the struct only on success. */
#include "pl_objects.h"
#include "pl_msgpack.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

int pl_prefix_parse(const char *s, struct pl_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	char *slash = strchr(buf, '/');
	long len = -1;
	if (slash) {
		char *end;
		*slash = '\0';
		if (!slash[1])
			return -EINVAL;
		len = strtol(slash + 1, &end, 10);
		if (*end || len < 0)
			return -EINVAL;
	}
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = AF_INET;
		if (len > 32)
			return -EINVAL;
		p->len = (uint8_t)(len < 0 ? 32 : len);
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = AF_INET6;
		if (len > 128)
			return -EINVAL;
		p->len = (uint8_t)(len < 0 ? 128 : len);
	} else {
		return -EINVAL;
	}
	return 0;
}

int pl_prefix_format(const struct pl_prefix *p, bool with_len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	if (!inet_ntop(p->family == AF_INET6 ? AF_INET6 : AF_INET, p->addr, a, sizeof(a)))
		return -EINVAL;
	int n = with_len ? snprintf(buf, size, "%s/%u", a, p->len) : snprintf(buf, size, "%s", a);
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

int pl_obj_route_key(const struct pl_obj_route *o, char *buf, size_t size)
{
	return pl_prefix_format(&o->dst, true, buf, size);
}

/* --- encoding ------------------------------------------------------------------------------ */

struct wbuf {
	uint8_t *p;
	size_t size;
	size_t len;
	bool overflow;
};

static int wbuf_write(void *data, const char *buf, size_t len)
{
	struct wbuf *w = data;
	if (w->len + len > w->size) {
		w->overflow = true;
		return -1;
	}
	memcpy(w->p + w->len, buf, len);
	w->len += len;
	return 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_prefix(msgpack_packer *pk, const struct pl_prefix *p, bool with_len)
{
	char b[INET6_ADDRSTRLEN + 8] = "";
	pl_prefix_format(p, with_len, b, sizeof(b));
	pack_str(pk, b);
}

static int finish(const struct wbuf *w)
{
	return w->overflow ? -EMSGSIZE : (int)w->len;
}

int pl_obj_iface_encode(const struct pl_obj_iface *o, uint8_t *buf, size_t size)
{
	struct wbuf w = { .p = buf, .size = size };
	msgpack_packer pk;
	char mac[18];
	if (o->n_addrs > PL_OBJ_MAX_ADDRS || o->n_allow_src > PL_OBJ_MAX_ADDRS || !o->name[0])
		return -EINVAL;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", o->mac[0], o->mac[1], o->mac[2],
		o->mac[3], o->mac[4], o->mac[5]);
	msgpack_packer_init(&pk, &w, wbuf_write);
	msgpack_pack_map(&pk, 9);
	pack_str(&pk, "index");
	msgpack_pack_uint16(&pk, o->index);
	pack_str(&pk, "role");
	msgpack_pack_uint8(&pk, o->role);
	pack_str(&pk, "name");
	pack_str(&pk, o->name);
	pack_str(&pk, "netns");
	pack_str(&pk, o->netns);
	pack_str(&pk, "mac");
	pack_str(&pk, mac);
	pack_str(&pk, "mtu");
	msgpack_pack_uint32(&pk, o->mtu);
	pack_str(&pk, "driver");
	pack_str(&pk, o->driver);
	pack_str(&pk, "addrs");
	msgpack_pack_array(&pk, o->n_addrs);
	for (unsigned int i = 0; i < o->n_addrs; i++)
		pack_prefix(&pk, &o->addrs[i], true);
	pack_str(&pk, "allow_src");
	msgpack_pack_array(&pk, o->n_allow_src);
	for (unsigned int i = 0; i < o->n_allow_src; i++)
		pack_prefix(&pk, &o->allow_src[i], true);
	return finish(&w);
}

int pl_obj_route_encode(const struct pl_obj_route *o, uint8_t *buf, size_t size)
{
	struct wbuf w = { .p = buf, .size = size };
	msgpack_packer pk;
	msgpack_packer_init(&pk, &w, wbuf_write);
	msgpack_pack_map(&pk, 3);
	pack_str(&pk, "dst");
	pack_prefix(&pk, &o->dst, true);
	pack_str(&pk, "gw");
	if (o->has_gw)
		pack_prefix(&pk, &o->gw, false);
	else
		pack_str(&pk, "");
	pack_str(&pk, "if");
	msgpack_pack_uint16(&pk, o->if_index);
	return finish(&w);
}

/* --- decoding ------------------------------------------------------------------------------ */

static int get_str(const msgpack_object *v, char *out, size_t size)
{
	if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= size ||
		memchr(v->via.str.ptr, '\0', v->via.str.size))
		return -EBADMSG;
	memcpy(out, v->via.str.ptr, v->via.str.size);
	out[v->via.str.size] = '\0';
	return 0;
}

static int get_uint(const msgpack_object *v, uint64_t max, uint64_t *out)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > max)
		return -EBADMSG;
	*out = v->via.u64;
	return 0;
}

static int get_prefix(const msgpack_object *v, struct pl_prefix *p)
{
	char b[INET6_ADDRSTRLEN + 8];
	if (get_str(v, b, sizeof(b)) < 0 || pl_prefix_parse(b, p) < 0)
		return -EBADMSG;
	return 0;
}

static int key_is(const msgpack_object *k, const char *name)
{
	size_t n = strlen(name);
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
	       memcmp(k->via.str.ptr, name, n) == 0;
}

#define PL_OBJ_SHAPE_DEPTH 3 /* map -> array -> string: the deepest an object goes */

/* Unpacks exactly one map from buf into u; -EBADMSG otherwise. */
static int unpack_map(const uint8_t *buf, size_t len, msgpack_unpacked *u)
{
	size_t off = 0;
	if (len == 0 || len > PL_OBJ_MAX_SIZE ||
		pl_mp_shape_size(buf, len, PL_OBJ_SHAPE_DEPTH) != len)
		return -EBADMSG;
	if (msgpack_unpack_next(u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
		off != len || u->data.type != MSGPACK_OBJECT_MAP)
		return -EBADMSG;
	return 0;
}

static const char *const iface_keys[] = { "index", "role", "name", "netns", "mac", "mtu", "driver",
	"addrs", "allow_src" };

/* An array of at most PL_OBJ_MAX_ADDRS prefixes. */
static int get_prefixes(const msgpack_object *v, struct pl_prefix *out, uint8_t *n)
{
	int rc = 0;
	if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > PL_OBJ_MAX_ADDRS)
		return -EBADMSG;
	*n = (uint8_t)v->via.array.size;
	for (uint32_t j = 0; rc == 0 && j < v->via.array.size; j++)
		rc = get_prefix(&v->via.array.ptr[j], &out[j]);
	return rc;
}

int pl_obj_iface_decode(const uint8_t *buf, size_t len, struct pl_obj_iface *out)
{
	msgpack_unpacked u;
	struct pl_obj_iface o;
	unsigned int seen = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	msgpack_unpacked_init(&u);
	rc = unpack_map(buf, len, &u);
	for (uint32_t i = 0; rc == 0 && i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key;
		const msgpack_object *v = &u.data.via.map.ptr[i].val;
		unsigned int which = 0;
		uint64_t x = 0;
		while (which < 9 && !key_is(k, iface_keys[which]))
			which++;
		if (which == 9 || (seen & (1u << which))) {
			rc = -EBADMSG;
			break;
		}
		seen |= 1u << which;
		switch (which) {
		case 0:
			rc = get_uint(v, UINT16_MAX, &x);
			o.index = (uint16_t)x;
			break;
		case 1:
			rc = get_uint(v, PL_ROLE_POD, &x);
			o.role = (uint8_t)x;
			if (rc == 0 && x == 0)
				rc = -EBADMSG;
			break;
		case 2:
			rc = get_str(v, o.name, sizeof(o.name));
			if (rc == 0 && !o.name[0])
				rc = -EBADMSG;
			break;
		case 3:
			rc = get_str(v, o.netns, sizeof(o.netns));
			break;
		case 4: {
			char m[18];
			unsigned int b[6];
			rc = get_str(v, m, sizeof(m));
			if (rc == 0 && sscanf(m, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2],
					       &b[3], &b[4], &b[5]) != 6)
				rc = -EBADMSG;
			for (int j = 0; rc == 0 && j < 6; j++)
				o.mac[j] = (uint8_t)b[j];
			break;
		}
		case 5:
			rc = get_uint(v, 65535, &x);
			o.mtu = (uint32_t)x;
			break;
		case 6:
			rc = get_str(v, o.driver, sizeof(o.driver));
			break;
		case 7:
			rc = get_prefixes(v, o.addrs, &o.n_addrs);
			break;
		default:
			rc = get_prefixes(v, o.allow_src, &o.n_allow_src);
		}
	}
	if (rc == 0 && seen != 0x1ffu)
		rc = -EBADMSG; /* a key is missing */
	msgpack_unpacked_destroy(&u);
	if (rc == 0)
		*out = o;
	return rc;
}

int pl_obj_route_decode(const uint8_t *buf, size_t len, struct pl_obj_route *out)
{
	msgpack_unpacked u;
	struct pl_obj_route o;
	unsigned int seen = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	msgpack_unpacked_init(&u);
	rc = unpack_map(buf, len, &u);
	for (uint32_t i = 0; rc == 0 && i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key;
		const msgpack_object *v = &u.data.via.map.ptr[i].val;
		uint64_t x = 0;
		if (key_is(k, "dst") && !(seen & 1)) {
			seen |= 1;
			rc = get_prefix(v, &o.dst);
		} else if (key_is(k, "gw") && !(seen & 2)) {
			char b[INET6_ADDRSTRLEN];
			seen |= 2;
			rc = get_str(v, b, sizeof(b));
			if (rc == 0 && b[0]) {
				o.has_gw = true;
				rc = pl_prefix_parse(b, &o.gw) < 0 ? -EBADMSG : 0;
				/* An address: a length given with it means nothing (and the
				 * encoder writes none), so the decoded route is the same
				 * whichever way it came. */
				o.gw.len = o.gw.family == AF_INET ? 32 : 128;
			}
		} else if (key_is(k, "if") && !(seen & 4)) {
			seen |= 4;
			rc = get_uint(v, UINT16_MAX, &x);
			o.if_index = (uint16_t)x;
		} else {
			rc = -EBADMSG;
		}
	}
	if (rc == 0 && (seen != 7 || (o.has_gw && o.gw.family != o.dst.family)))
		rc = -EBADMSG;
	msgpack_unpacked_destroy(&u);
	if (rc == 0)
		*out = o;
	return rc;
}
