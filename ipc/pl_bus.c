/* SPDX-License-Identifier: Apache-2.0 */
/* The ZeroMQ state bus: the envelope codec (one frame, one msgpack array of seven scalars),
 * a producer (ROUTER serves snapshots, PUB publishes sequenced updates and heartbeats) and a
 * consumer (SUB + DEALER; keeps a mirror, re-syncs on a new incarnation, a gap or silence and
 * sweeps what the producer no longer asserts). All timing comes from the caller's now_ms. */
#include "pl_bus.h"
#include "pl_msgpack.h"

#include "pl_config.h"
#include "pl_sock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <msgpack.h>
#include <zmq.h>

#define N_FIELDS 7
#define TABLE_MIN_BUCKETS 64
#define SNDHWM_MIN 100000
#define ENDPOINT_SIZE 256
/* A consumer buffers the updates that arrive while it syncs; beyond this it starts over. */
#define BACKLOG_BYTES_MAX (64u << 20)
/* SNAPSHOT_END carries the number of SETs before it, so a consumer notices a lost one. */
#define SNAPSHOT_COUNT_SIZE 8
/* A stored object is sent again in snapshots at later sequences, whose encoding may grow
 * from one byte to nine: it must fit with this much room to spare. */
#define SEQ_HEADROOM 8
/* The smallest max_message_size that still fits an envelope with empty fields. */
#define MESSAGE_SIZE_MIN 64

/* ------------------------------------------------------------------------------------------ */
/* Codec */

struct wbuf {
	uint8_t *buf;
	size_t size;
	size_t used;
};

static int wbuf_write(void *data, const char *src, size_t len)
{
	struct wbuf *w = data;

	if (len > w->size - w->used)
		return -1;
	if (len == 0)
		return 0;
	memcpy(w->buf + w->used, src, len);
	w->used += len;
	return 0;
}

static bool op_known(uint64_t op)
{
	return op >= PL_BUS_OP_SET && op <= PL_BUS_OP_ICANHAZ;
}

/* SET and DEL name an object; the other operations carry no kind or key. */
static bool op_names_object(uint64_t op)
{
	return op == PL_BUS_OP_SET || op == PL_BUS_OP_DEL;
}

int pl_bus_encode(const struct pl_bus_msg *m, uint8_t *buf, size_t size)
{
	struct wbuf w = { .buf = buf, .size = size, .used = 0 };
	msgpack_packer pk;
	size_t kind_len, key_len;
	int rc = 0;

	if (!m || (!buf && size) || !op_known(m->op))
		return -EINVAL;
	kind_len = strnlen(m->kind, sizeof(m->kind));
	key_len = strnlen(m->key, sizeof(m->key));
	if (kind_len == sizeof(m->kind) || key_len == sizeof(m->key))
		return -EINVAL;
	if (op_names_object(m->op) && (kind_len == 0 || key_len == 0))
		return -EINVAL;
	if (!m->value && m->value_size)
		return -EINVAL;
	if (size > INT32_MAX)
		w.size = INT32_MAX;

	msgpack_packer_init(&pk, &w, wbuf_write);
	rc |= msgpack_pack_array(&pk, N_FIELDS);
	rc |= msgpack_pack_uint64(&pk, m->version);
	rc |= msgpack_pack_uint64(&pk, m->op);
	rc |= msgpack_pack_uint64(&pk, m->incarnation);
	rc |= msgpack_pack_uint64(&pk, m->seq);
	rc |= msgpack_pack_str(&pk, kind_len);
	rc |= msgpack_pack_str_body(&pk, m->kind, kind_len);
	rc |= msgpack_pack_str(&pk, key_len);
	rc |= msgpack_pack_str_body(&pk, m->key, key_len);
	/* A SET always carries a value, if empty; other operations carry one only if given. */
	if (m->op == PL_BUS_OP_SET || m->value_size) {
		rc |= msgpack_pack_bin(&pk, m->value_size);
		rc |= msgpack_pack_bin_body(&pk, m->value, m->value_size);
	} else {
		rc |= msgpack_pack_nil(&pk);
	}
	if (rc)
		return -EMSGSIZE;
	return (int)w.used;
}

static int copy_str(const msgpack_object *o, char *dst, size_t size)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
		return -EBADMSG;
	dst[0] = '\0';
	if (o->via.str.size == 0)
		return 0; /* the pointer may be NULL */
	if (memchr(o->via.str.ptr, '\0', o->via.str.size))
		return -EBADMSG;
	memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return 0;
}

/* The first field alone, so that any other version is refused as such whatever follows. */
static int check_version(const uint8_t *p, size_t size)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc = -EBADMSG;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)p, size, &off) == MSGPACK_UNPACK_SUCCESS &&
		off == size && u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		rc = u.data.via.u64 == PL_BUS_VERSION ? 0 : -EPROTONOSUPPORT;
	msgpack_unpacked_destroy(&u);
	return rc;
}

static int decode_fields(
	const msgpack_object *f, const uint8_t *buf, size_t len, struct pl_bus_msg *m)
{
	const uint8_t *v;

	for (int i = 0; i < 4; i++)
		if (f[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -EBADMSG;
	if (f[0].via.u64 != PL_BUS_VERSION)
		return -EPROTONOSUPPORT;
	if (!op_known(f[1].via.u64))
		return -EBADMSG;
	m->version = PL_BUS_VERSION;
	m->op = (enum pl_bus_op)f[1].via.u64;
	m->incarnation = f[2].via.u64;
	m->seq = f[3].via.u64;
	if (copy_str(&f[4], m->kind, sizeof(m->kind)) || copy_str(&f[5], m->key, sizeof(m->key)))
		return -EBADMSG;
	if (op_names_object(m->op) && (!m->kind[0] || !m->key[0]))
		return -EBADMSG;
	if (f[6].type == MSGPACK_OBJECT_NIL) {
		m->value = NULL;
		m->value_size = 0;
		return 0;
	}
	if (f[6].type != MSGPACK_OBJECT_BIN)
		return -EBADMSG;
	/* msgpack-c points bin objects into the buffer it parsed; check rather than assume. */
	v = (const uint8_t *)f[6].via.bin.ptr;
	if (f[6].via.bin.size == 0) {
		m->value = buf + len; /* empty but present; msgpack-c may give NULL */
		m->value_size = 0;
		return 0;
	}
	if ((uintptr_t)v < (uintptr_t)buf || (uintptr_t)v > (uintptr_t)buf + len ||
		f[6].via.bin.size > (uintptr_t)buf + len - (uintptr_t)v)
		return -EBADMSG;
	m->value = v;
	m->value_size = f[6].via.bin.size;
	return 0;
}

int pl_bus_decode(const uint8_t *buf, size_t len, size_t max_size, struct pl_bus_msg *m)
{
	msgpack_unpacked u;
	size_t pos, sz, off = 0;
	uint32_t n;
	int rc;

	if (!m || (!buf && len))
		return -EINVAL;
	if (len > max_size)
		return -EMSGSIZE;
	memset(m, 0, sizeof(*m));

	/* Shape first, without allocating: an array whose elements are all scalars. */
	pos = pl_mp_array_header(buf, len, &n);
	if (pos == 0 || n == 0)
		return -EBADMSG;
	sz = pl_mp_scalar_size(buf + pos, len - pos);
	if (sz == 0)
		return -EBADMSG;
	rc = check_version(buf + pos, sz);
	if (rc)
		return rc;
	if (n != N_FIELDS)
		return -EBADMSG;
	for (uint32_t i = 0; i < N_FIELDS; i++) {
		sz = pl_mp_scalar_size(buf + pos, len - pos);
		if (sz == 0)
			return -EBADMSG;
		pos += sz;
	}
	if (pos != len)
		return -EBADMSG;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
		off != len || u.data.type != MSGPACK_OBJECT_ARRAY ||
		u.data.via.array.size != N_FIELDS)
		rc = -EBADMSG;
	else
		rc = decode_fields(u.data.via.array.ptr, buf, len, m);
	msgpack_unpacked_destroy(&u);
	if (rc)
		memset(m, 0, sizeof(*m));
	return rc;
}

static void count_rx_error(struct pl_bus_stats *s, int err)
{
	if (err == -EMSGSIZE)
		s->rx_oversized++;
	else if (err == -EPROTONOSUPPORT)
		s->rx_bad_version++;
	else
		s->rx_malformed++;
}

/* ------------------------------------------------------------------------------------------ */
/* Object table: chained hash on (kind, key), doubled when the load exceeds one. */

struct obj {
	struct obj *next;
	uint64_t hash;
	size_t size;
	char kind[PL_BUS_KIND_SIZE];
	char key[PL_BUS_KEY_SIZE];
	uint8_t value[];
};

struct table {
	struct obj **buckets;
	size_t n_buckets;
	size_t n;
};

static uint64_t obj_hash(const char *kind, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull;

	/* The NUL between the two keeps ("a/b", "c") and ("a", "b/c") apart. */
	for (const char *s = kind;; s++) {
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
		if (!*s)
			break;
	}
	for (const char *s = key; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static int table_init(struct table *t)
{
	t->buckets = calloc(TABLE_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->n_buckets = TABLE_MIN_BUCKETS;
	t->n = 0;
	return 0;
}

static void table_clear(struct table *t)
{
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct obj *o = t->buckets[i];

		while (o) {
			struct obj *next = o->next;

			free(o);
			o = next;
		}
		t->buckets[i] = NULL;
	}
	t->n = 0;
}

static void table_fini(struct table *t)
{
	if (!t->buckets)
		return;
	table_clear(t);
	free(t->buckets);
	t->buckets = NULL;
	t->n_buckets = 0;
}

/* The link that points at (kind, key), or at the NULL ending its chain. */
static struct obj **table_link(const struct table *t, const char *kind, const char *key, uint64_t h)
{
	struct obj **link = &t->buckets[h & (t->n_buckets - 1)];

	for (; *link; link = &(*link)->next)
		if ((*link)->hash == h && !strcmp((*link)->kind, kind) &&
			!strcmp((*link)->key, key))
			break;
	return link;
}

static struct obj *table_find(const struct table *t, const char *kind, const char *key)
{
	return *table_link(t, kind, key, obj_hash(kind, key));
}

static void table_grow(struct table *t)
{
	size_t n_buckets = t->n_buckets * 2;
	struct obj **buckets = calloc(n_buckets, sizeof(*buckets));

	if (!buckets)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct obj *o = t->buckets[i];

		while (o) {
			struct obj *next = o->next;
			struct obj **b = &buckets[o->hash & (n_buckets - 1)];

			o->next = *b;
			*b = o;
			o = next;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->n_buckets = n_buckets;
}

/* Inserts or replaces. kind and key are valid (checked lengths). 0 or -ENOMEM. */
static int table_put(struct table *t, const char *kind, const char *key, const void *value,
	size_t size, struct obj **out)
{
	uint64_t h = obj_hash(kind, key);
	struct obj **link = table_link(t, kind, key, h);
	struct obj *o;

	if (size > SIZE_MAX - sizeof(*o))
		return -ENOMEM;
	o = malloc(sizeof(*o) + size);
	if (!o)
		return -ENOMEM;
	o->hash = h;
	o->size = size;
	snprintf(o->kind, sizeof(o->kind), "%s", kind);
	snprintf(o->key, sizeof(o->key), "%s", key);
	if (size)
		memcpy(o->value, value, size);
	if (*link) {
		o->next = (*link)->next;
		free(*link);
		*link = o;
	} else {
		o->next = NULL;
		*link = o;
		if (++t->n > t->n_buckets)
			table_grow(t);
	}
	if (out)
		*out = o;
	return 0;
}

static bool table_del(struct table *t, const char *kind, const char *key)
{
	struct obj **link = table_link(t, kind, key, obj_hash(kind, key));
	struct obj *o = *link;

	if (!o)
		return false;
	*link = o->next;
	free(o);
	t->n--;
	return true;
}

#define TABLE_FOREACH(t, i, o)                      \
	for (size_t i = 0; i < (t)->n_buckets; i++) \
		for (struct obj *o = (t)->buckets[i]; o; o = o->next)

/* ------------------------------------------------------------------------------------------ */
/* Sockets */

static int endpoint(
	char *buf, size_t size, const char *run_dir, const char *name, const char *suffix)
{
	int n = snprintf(buf, size, "ipc://%s/%s.%s", run_dir, name, suffix);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void close_socket(void **sock)
{
	if (*sock) {
		zmq_close(*sock);
		*sock = NULL;
	}
}

/* A socket with linger 0 (and the given send high-water mark if non-zero). NULL with errno. */
static void *open_socket(void *zctx, int type, int sndhwm)
{
	void *s = zmq_socket(zctx, type);
	int zero = 0;
	int err;

	if (!s)
		return NULL;
	if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) ||
		(sndhwm && zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm))))
		goto fail;
	return s;
fail:
	err = errno;
	zmq_close(s);
	errno = err;
	return NULL;
}

/* Receives one message without waiting. Its first max frames are left initialised in frames
 * (the caller closes them), the others are dropped. Returns the number of frames, 0 if none
 * was pending, or -errno. */
static int recv_frames(void *sock, zmq_msg_t *frames, int max)
{
	int n = 0;
	int more;

	do {
		zmq_msg_t spare;
		zmq_msg_t *f = n < max ? &frames[n] : &spare;

		zmq_msg_init(f);
		if (zmq_msg_recv(f, sock, ZMQ_DONTWAIT) < 0) {
			int err = errno;

			zmq_msg_close(f);
			if (n)
				return n; /* parts of a message arrive together; not expected */
			return err == EAGAIN ? 0 : -err;
		}
		more = zmq_msg_more(f);
		if (f == &spare)
			zmq_msg_close(f);
		n++;
	} while (more);
	return n;
}

static void close_frames(zmq_msg_t *frames, int n, int max)
{
	for (int i = 0; i < n && i < max; i++)
		zmq_msg_close(&frames[i]);
}

static int decode_frame(zmq_msg_t *f, size_t max_size, struct pl_bus_msg *m)
{
	return pl_bus_decode(zmq_msg_data(f), zmq_msg_size(f), max_size, m);
}

static bool limits_ok(const struct pl_bus_limits *lim)
{
	return lim && lim->max_message_size >= MESSAGE_SIZE_MIN &&
	       lim->max_message_size <= INT32_MAX && lim->max_objects > 0;
}

static uint32_t ms_left(uint64_t period, uint64_t since, uint64_t now)
{
	uint64_t elapsed = now > since ? now - since : 0;

	return elapsed >= period ? 0 : (uint32_t)(period - elapsed);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer */

struct pl_bus_producer {
	void *router;
	void *pub;
	struct pl_bus_limits lim;
	uint64_t incarnation;
	uint64_t seq;
	struct table store;
	uint8_t *txbuf; /* lim.max_message_size */
	bool have_time;
	bool published; /* since the last tick */
	uint64_t last_publish_ms;
	struct pl_bus_stats stats;
};

static int random_incarnation(uint64_t *inc)
{
	do {
		ssize_t n = getrandom(inc, sizeof(*inc), 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n != (ssize_t)sizeof(*inc))
			*inc = 0;
	} while (*inc == 0);
	return 0;
}

struct pl_bus_producer *pl_bus_producer_new(
	void *zmq_ctx, const char *run_dir, const char *name, const struct pl_bus_limits *lim)
{
	char snap_ep[ENDPOINT_SIZE], pub_ep[ENDPOINT_SIZE];
	struct pl_bus_producer *p;
	int64_t maxmsg;
	int hwm, err;
	int zero = 0;

	if (!zmq_ctx || !run_dir || !name || !*name || !limits_ok(lim) || !lim->heartbeat_ms) {
		errno = EINVAL;
		return NULL;
	}
	err = endpoint(snap_ep, sizeof(snap_ep), run_dir, name, "snap");
	if (!err)
		err = endpoint(pub_ep, sizeof(pub_ep), run_dir, name, "pub");
	if (err) {
		errno = -err;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->lim = *lim;
	err = random_incarnation(&p->incarnation);
	if (err)
		goto fail;
	err = -ENOMEM;
	p->txbuf = malloc(lim->max_message_size);
	if (!p->txbuf || table_init(&p->store))
		goto fail;

	/* A snapshot must not lose a reply to the high-water mark: room for a whole one. */
	hwm = lim->max_objects < INT32_MAX / 2 - 2 ? (int)lim->max_objects * 2 + 2 : INT32_MAX;
	if (hwm < SNDHWM_MIN)
		hwm = SNDHWM_MIN;
	maxmsg = (int64_t)lim->max_message_size;
	/* Unroutable replies (the consumer left) are dropped rather than failing the send. */
	p->router = open_socket(zmq_ctx, ZMQ_ROUTER, hwm);
	if (!p->router || zmq_setsockopt(p->router, ZMQ_ROUTER_MANDATORY, &zero, sizeof(zero)) ||
		zmq_setsockopt(p->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
		pl_zmq_bind_private(p->router, snap_ep))
		goto fail_errno;
	p->pub = open_socket(zmq_ctx, ZMQ_PUB, SNDHWM_MIN);
	if (!p->pub || pl_zmq_bind_private(p->pub, pub_ep))
		goto fail_errno;
	return p;

fail_errno:
	err = -errno;
fail:
	pl_bus_producer_destroy(&p);
	errno = -err;
	return NULL;
}

void pl_bus_producer_destroy(struct pl_bus_producer **pp)
{
	struct pl_bus_producer *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	close_socket(&p->router);
	close_socket(&p->pub);
	table_fini(&p->store);
	free(p->txbuf);
	free(p);
	*pp = NULL;
}

static void publish(struct pl_bus_producer *p, size_t size)
{
	if (zmq_send(p->pub, p->txbuf, size, ZMQ_DONTWAIT) == (int)size)
		p->stats.tx_messages++;
	/* A message PUB drops shows up as a gap at the consumers, which then re-sync. */
	p->published = true;
}

static int encode_tx(struct pl_bus_producer *p, enum pl_bus_op op, uint64_t seq, const char *kind,
	const char *key, const void *value, size_t size)
{
	struct pl_bus_msg m = {
		.version = PL_BUS_VERSION,
		.op = op,
		.incarnation = p->incarnation,
		.seq = seq,
		.value = value,
		.value_size = size,
	};

	snprintf(m.kind, sizeof(m.kind), "%s", kind);
	snprintf(m.key, sizeof(m.key), "%s", key);
	return pl_bus_encode(&m, p->txbuf, p->lim.max_message_size);
}

static bool name_ok(const char *kind, const char *key)
{
	size_t kind_len, key_len;

	if (!kind || !key)
		return false;
	kind_len = strnlen(kind, PL_BUS_KIND_SIZE);
	key_len = strnlen(key, PL_BUS_KEY_SIZE);
	return kind_len && kind_len < PL_BUS_KIND_SIZE && key_len && key_len < PL_BUS_KEY_SIZE;
}

int pl_bus_producer_set(struct pl_bus_producer *p, const char *kind, const char *key,
	const void *value, size_t size)
{
	int n, rc;

	if (!p || !name_ok(kind, key) || (!value && size))
		return -EINVAL;
	if (p->store.n >= p->lim.max_objects && !table_find(&p->store, kind, key)) {
		p->stats.limit_drops++;
		return -ENOSPC;
	}
	n = encode_tx(p, PL_BUS_OP_SET, p->seq + 1, kind, key, value ? value : "", size);
	if (n < 0)
		return n;
	if ((size_t)n > p->lim.max_message_size - SEQ_HEADROOM)
		return -EMSGSIZE;
	rc = table_put(&p->store, kind, key, value, size, NULL);
	if (rc)
		return rc;
	p->seq++;
	p->stats.objects = p->store.n;
	publish(p, (size_t)n);
	return 0;
}

int pl_bus_producer_del(struct pl_bus_producer *p, const char *kind, const char *key)
{
	int n;

	if (!p || !name_ok(kind, key))
		return -EINVAL;
	if (!table_find(&p->store, kind, key))
		return -ENOENT;
	n = encode_tx(p, PL_BUS_OP_DEL, p->seq + 1, kind, key, NULL, 0);
	if (n < 0)
		return n;
	table_del(&p->store, kind, key);
	p->seq++;
	p->stats.objects = p->store.n;
	publish(p, (size_t)n);
	return 0;
}

void *pl_bus_producer_socket(struct pl_bus_producer *p)
{
	return p ? p->router : NULL;
}

/* Sends [identity][envelope in txbuf]. 0 or -errno. */
static int send_reply(struct pl_bus_producer *p, zmq_msg_t *id, size_t size)
{
	if (zmq_send(p->router, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -errno;
	if (zmq_send(p->router, p->txbuf, size, ZMQ_DONTWAIT) < 0)
		return -errno;
	p->stats.tx_messages++;
	return 0;
}

static void serve_snapshot(struct pl_bus_producer *p, zmq_msg_t *id)
{
	uint8_t count[SNAPSHOT_COUNT_SIZE];
	uint64_t n_sent = 0;
	int n;

	TABLE_FOREACH(&p->store, i, o)
	{
		n = encode_tx(p, PL_BUS_OP_SET, p->seq, o->kind, o->key, o->value, o->size);
		/* Cannot fail (SEQ_HEADROOM); if it did, no end: a consumer would sweep what is
		 * missing from a snapshot that ends, while one that never ends is asked again. */
		if (n < 0 || send_reply(p, id, (size_t)n))
			return;
		n_sent++;
	}
	for (int i = 0; i < SNAPSHOT_COUNT_SIZE; i++)
		count[i] = (uint8_t)(n_sent >> (8 * (SNAPSHOT_COUNT_SIZE - 1 - i)));
	n = encode_tx(p, PL_BUS_OP_SNAPSHOT_END, p->seq, "", "", count, sizeof(count));
	if (n >= 0)
		send_reply(p, id, (size_t)n);
}

int pl_bus_producer_handle(struct pl_bus_producer *p)
{
	int served = 0;

	if (!p)
		return 0;
	for (;;) {
		zmq_msg_t frames[2];
		struct pl_bus_msg m;
		int n, rc;

		n = recv_frames(p->router, frames, 2);
		if (n <= 0)
			break;
		if (n != 2) {
			p->stats.rx_malformed++;
		} else {
			rc = decode_frame(&frames[1], p->lim.max_message_size, &m);
			if (rc) {
				count_rx_error(&p->stats, rc);
			} else if (m.op != PL_BUS_OP_ICANHAZ) {
				p->stats.rx_malformed++;
			} else {
				p->stats.rx_messages++;
				serve_snapshot(p, &frames[0]);
				served++;
			}
		}
		close_frames(frames, n, 2);
	}
	return served;
}

uint32_t pl_bus_producer_tick(struct pl_bus_producer *p, uint64_t now_ms)
{
	int n;

	if (!p)
		return UINT32_MAX;
	if (!p->have_time || p->published) {
		p->have_time = true;
		p->published = false;
		p->last_publish_ms = now_ms;
	}
	if (ms_left(p->lim.heartbeat_ms, p->last_publish_ms, now_ms) == 0) {
		n = encode_tx(p, PL_BUS_OP_HUGZ, p->seq, "", "", NULL, 0);
		if (n >= 0)
			publish(p, (size_t)n);
		p->published = false;
		p->last_publish_ms = now_ms;
	}
	return ms_left(p->lim.heartbeat_ms, p->last_publish_ms, now_ms);
}

uint64_t pl_bus_producer_incarnation(const struct pl_bus_producer *p)
{
	return p ? p->incarnation : 0;
}

const struct pl_bus_stats *pl_bus_producer_stats(const struct pl_bus_producer *p)
{
	return p ? &p->stats : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Consumer */

struct pl_bus_consumer {
	void *zctx;
	char pub_ep[ENDPOINT_SIZE];
	char snap_ep[ENDPOINT_SIZE];
	struct pl_bus_limits lim;
	pl_bus_apply_fn *apply;
	void *apply_ctx;
	void *sub;
	void *dealer;

	struct table mirror;
	bool synced;
	uint64_t incarnation; /* of the producer the mirror reflects */
	uint64_t seq; /* last sequence applied */

	/* While syncing: the snapshot being received and the updates that arrive meanwhile. */
	bool syncing;
	struct table pending;
	bool snap_have_inc;
	uint64_t snap_inc;
	uint64_t snap_sets;
	zmq_msg_t *backlog;
	size_t n_backlog;
	size_t backlog_cap;
	size_t backlog_bytes;
	uint64_t generation; /* bumped by every re-sync */

	bool have_time;
	uint64_t request_ms; /* snapshot request sent, or last snapshot reply */
	uint64_t last_rx_ms; /* last valid message */
	struct pl_bus_stats stats;
};

static void backlog_clear(struct pl_bus_consumer *c)
{
	for (size_t i = 0; i < c->n_backlog; i++)
		zmq_msg_close(&c->backlog[i]);
	c->n_backlog = 0;
	c->backlog_bytes = 0;
}

/* Opens both sockets (SUB first so no update falls between snapshot and stream) and asks for
 * a snapshot. On failure the sockets stay closed and the next tick tries again. */
static void start_sync(struct pl_bus_consumer *c, uint64_t now_ms)
{
	struct pl_bus_msg m = { .version = PL_BUS_VERSION, .op = PL_BUS_OP_ICANHAZ };
	uint8_t buf[MESSAGE_SIZE_MIN];
	int n;

	close_socket(&c->sub);
	close_socket(&c->dealer);
	table_clear(&c->pending);
	backlog_clear(c);
	c->generation++;
	c->synced = false;
	c->syncing = true;
	c->snap_have_inc = false;
	c->snap_sets = 0;
	c->request_ms = now_ms;

	c->sub = open_socket(c->zctx, ZMQ_SUB, 0);
	if (!c->sub || zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "", 0) ||
		zmq_connect(c->sub, c->pub_ep))
		goto fail;
	c->dealer = open_socket(c->zctx, ZMQ_DEALER, 0);
	if (!c->dealer || zmq_connect(c->dealer, c->snap_ep))
		goto fail;
	n = pl_bus_encode(&m, buf, sizeof(buf));
	/* If it cannot be queued, the snapshot timeout retries. */
	if (n > 0 && zmq_send(c->dealer, buf, (size_t)n, ZMQ_DONTWAIT) == n)
		c->stats.tx_messages++;
	return;
fail:
	close_socket(&c->sub);
	close_socket(&c->dealer);
}

static void resync(struct pl_bus_consumer *c, uint64_t now_ms)
{
	c->stats.resyncs++;
	start_sync(c, now_ms);
}

struct pl_bus_consumer *pl_bus_consumer_new(void *zmq_ctx, const char *run_dir, const char *name,
	const struct pl_bus_limits *lim, pl_bus_apply_fn *apply, void *ctx)
{
	struct pl_bus_consumer *c;
	int err;

	if (!zmq_ctx || !run_dir || !name || !*name || !limits_ok(lim) || !lim->dead_after_ms) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->zctx = zmq_ctx;
	c->lim = *lim;
	c->apply = apply;
	c->apply_ctx = ctx;
	err = endpoint(c->pub_ep, sizeof(c->pub_ep), run_dir, name, "pub");
	if (!err)
		err = endpoint(c->snap_ep, sizeof(c->snap_ep), run_dir, name, "snap");
	if (err)
		goto fail;
	err = -ENOMEM;
	if (table_init(&c->mirror) || table_init(&c->pending))
		goto fail;
	errno = 0;
	start_sync(c, 0);
	if (!c->sub || !c->dealer) {
		err = -(errno ? errno : EIO);
		goto fail;
	}
	return c;
fail:
	pl_bus_consumer_destroy(&c);
	errno = -err;
	return NULL;
}

void pl_bus_consumer_destroy(struct pl_bus_consumer **cp)
{
	struct pl_bus_consumer *c;

	if (!cp || !*cp)
		return;
	c = *cp;
	close_socket(&c->sub);
	close_socket(&c->dealer);
	backlog_clear(c);
	free(c->backlog);
	table_fini(&c->mirror);
	table_fini(&c->pending);
	free(c);
	*cp = NULL;
}

void *pl_bus_consumer_sub_socket(struct pl_bus_consumer *c)
{
	return c ? c->sub : NULL;
}

void *pl_bus_consumer_snap_socket(struct pl_bus_consumer *c)
{
	return c ? c->dealer : NULL;
}

static void notify(struct pl_bus_consumer *c, enum pl_bus_op op, const struct obj *o,
	const char *kind, const char *key)
{
	if (c->apply)
		c->apply(c->apply_ctx, op, kind, key, o ? o->value : NULL, o ? o->size : 0);
}

/* An update in sequence: applies it to the mirror and tells the caller. */
static void apply_update(struct pl_bus_consumer *c, const struct pl_bus_msg *m)
{
	struct obj *o;

	c->seq = m->seq;
	if (m->op == PL_BUS_OP_DEL) {
		if (table_del(&c->mirror, m->kind, m->key)) {
			c->stats.objects = c->mirror.n;
			notify(c, PL_BUS_OP_DEL, NULL, m->kind, m->key);
		}
		return;
	}
	if (c->mirror.n >= c->lim.max_objects && !table_find(&c->mirror, m->kind, m->key)) {
		c->stats.limit_drops++;
		return;
	}
	if (table_put(&c->mirror, m->kind, m->key, m->value, m->value_size, &o)) {
		/* Out of memory: the mirror would silently diverge; start over. */
		resync(c, c->last_rx_ms);
		return;
	}
	c->stats.objects = c->mirror.n;
	notify(c, PL_BUS_OP_SET, o, m->kind, m->key);
}

/* A SET, DEL or HUGZ from the stream once synced. */
static void stream_msg(struct pl_bus_consumer *c, const struct pl_bus_msg *m, uint64_t now_ms)
{
	if (m->incarnation != c->incarnation) {
		resync(c, now_ms);
		return;
	}
	if (m->seq <= c->seq) {
		return; /* already covered (snapshot, or a HUGZ with nothing new) */
	}
	if (m->op == PL_BUS_OP_HUGZ || m->seq != c->seq + 1) {
		c->stats.gaps++;
		resync(c, now_ms);
		return;
	}
	apply_update(c, m);
}

static void backlog_add(struct pl_bus_consumer *c, zmq_msg_t *f, uint64_t now_ms)
{
	size_t size = zmq_msg_size(f);

	/* Counted with its handle, so that many tiny messages are bounded too. */
	size += sizeof(zmq_msg_t);
	if (c->n_backlog >= c->lim.max_objects || size > BACKLOG_BYTES_MAX - c->backlog_bytes)
		goto overflow;
	if (c->n_backlog == c->backlog_cap) {
		size_t cap = c->backlog_cap ? c->backlog_cap * 2 : 64;
		zmq_msg_t *b;

		if (cap > c->lim.max_objects)
			cap = c->lim.max_objects;
		b = realloc(c->backlog, cap * sizeof(*b));
		if (!b)
			goto overflow;
		c->backlog = b;
		c->backlog_cap = cap;
	}
	zmq_msg_init(&c->backlog[c->n_backlog]);
	zmq_msg_move(&c->backlog[c->n_backlog], f);
	c->n_backlog++;
	c->backlog_bytes += size;
	return;
overflow:
	resync(c, now_ms);
}

static void sub_frame(struct pl_bus_consumer *c, zmq_msg_t *f, uint64_t now_ms)
{
	struct pl_bus_msg m;
	int rc = decode_frame(f, c->lim.max_message_size, &m);

	if (rc) {
		count_rx_error(&c->stats, rc);
		return;
	}
	if (m.op != PL_BUS_OP_SET && m.op != PL_BUS_OP_DEL && m.op != PL_BUS_OP_HUGZ) {
		c->stats.rx_malformed++;
		return;
	}
	c->stats.rx_messages++;
	c->last_rx_ms = now_ms;
	if (c->syncing) {
		if (m.op != PL_BUS_OP_HUGZ)
			backlog_add(c, f, now_ms);
		return;
	}
	if (c->synced)
		stream_msg(c, &m, now_ms);
}

static uint64_t read_count(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < SNAPSHOT_COUNT_SIZE; i++)
		v = v << 8 | p[i];
	return v;
}

/* The snapshot is complete: the pending mirror becomes the mirror; the differences are told
 * to the caller (objects gone are swept), then updates buffered meanwhile are replayed. */
static void finish_sync(struct pl_bus_consumer *c, const struct pl_bus_msg *end, uint64_t now_ms)
{
	struct table old = c->mirror;
	uint64_t generation;

	c->mirror = c->pending;
	c->pending = old;
	c->incarnation = end->incarnation;
	c->seq = end->seq;
	c->syncing = false;
	c->synced = true;
	c->stats.objects = c->mirror.n;

	TABLE_FOREACH(&c->pending, i, o)
	{
		if (!table_find(&c->mirror, o->kind, o->key)) {
			c->stats.swept++;
			notify(c, PL_BUS_OP_DEL, NULL, o->kind, o->key);
		}
	}
	TABLE_FOREACH(&c->mirror, i, o)
	{
		const struct obj *prev = table_find(&c->pending, o->kind, o->key);

		if (!prev || prev->size != o->size || memcmp(prev->value, o->value, o->size))
			notify(c, PL_BUS_OP_SET, o, o->kind, o->key);
	}
	table_clear(&c->pending);

	generation = c->generation;
	for (size_t i = 0; i < c->n_backlog && c->generation == generation; i++) {
		struct pl_bus_msg m;

		if (decode_frame(&c->backlog[i], c->lim.max_message_size, &m))
			continue;
		/* Left over from an earlier producer: a newer one will show itself again. */
		if (m.incarnation != c->incarnation)
			continue;
		stream_msg(c, &m, now_ms);
	}
	if (c->generation == generation)
		backlog_clear(c);
}

static void snap_frame(struct pl_bus_consumer *c, zmq_msg_t *f, uint64_t now_ms)
{
	struct pl_bus_msg m;
	int rc = decode_frame(f, c->lim.max_message_size, &m);

	if (rc) {
		count_rx_error(&c->stats, rc);
		return;
	}
	if (m.op != PL_BUS_OP_SET && m.op != PL_BUS_OP_SNAPSHOT_END) {
		c->stats.rx_malformed++;
		return;
	}
	c->stats.rx_messages++;
	c->last_rx_ms = now_ms;
	if (!c->syncing)
		return; /* not asked for */
	c->request_ms = now_ms;
	if (c->snap_have_inc && m.incarnation != c->snap_inc) {
		resync(c, now_ms);
		return;
	}
	c->snap_have_inc = true;
	c->snap_inc = m.incarnation;
	if (m.op == PL_BUS_OP_SET) {
		c->snap_sets++;
		if (c->pending.n >= c->lim.max_objects && !table_find(&c->pending, m.kind, m.key))
			c->stats.limit_drops++;
		else if (table_put(&c->pending, m.kind, m.key, m.value, m.value_size, NULL))
			resync(c, now_ms);
		return;
	}
	if (m.value_size == SNAPSHOT_COUNT_SIZE && read_count(m.value) != c->snap_sets) {
		resync(c, now_ms); /* a reply was lost */
		return;
	}
	finish_sync(c, &m, now_ms);
}

int pl_bus_consumer_handle(struct pl_bus_consumer *c, uint64_t now_ms)
{
	int handled = 0;
	bool progress;

	if (!c)
		return 0;
	if (!c->have_time) {
		c->have_time = true;
		c->request_ms = now_ms;
		c->last_rx_ms = now_ms;
	}
	do {
		zmq_msg_t f;
		int n;

		progress = false;
		if (c->dealer) {
			n = recv_frames(c->dealer, &f, 1);
			if (n > 0) {
				if (n == 1)
					snap_frame(c, &f, now_ms);
				else
					c->stats.rx_malformed++;
				close_frames(&f, n, 1);
				handled++;
				progress = true;
			}
		}
		if (c->sub) {
			n = recv_frames(c->sub, &f, 1);
			if (n > 0) {
				if (n == 1)
					sub_frame(c, &f, now_ms);
				else
					c->stats.rx_malformed++;
				close_frames(&f, n, 1);
				handled++;
				progress = true;
			}
		}
	} while (progress);
	return handled;
}

uint32_t pl_bus_consumer_tick(struct pl_bus_consumer *c, uint64_t now_ms)
{
	uint64_t since;

	if (!c)
		return UINT32_MAX;
	if (!c->have_time) {
		c->have_time = true;
		c->request_ms = now_ms;
		c->last_rx_ms = now_ms;
	}
	/* Syncing, only the snapshot's progress counts: a producer that restarted after our
	 * request keeps the stream alive but will never answer it. */
	since = c->syncing ? c->request_ms : c->last_rx_ms;
	if (ms_left(c->lim.dead_after_ms, since, now_ms) == 0) {
		resync(c, now_ms);
		since = now_ms;
	}
	return ms_left(c->lim.dead_after_ms, since, now_ms);
}

bool pl_bus_consumer_synced(const struct pl_bus_consumer *c)
{
	return c && c->synced && !c->syncing;
}

uint64_t pl_bus_consumer_incarnation(const struct pl_bus_consumer *c)
{
	return c ? c->incarnation : 0;
}

const struct pl_bus_stats *pl_bus_consumer_stats(const struct pl_bus_consumer *c)
{
	return c ? &c->stats : NULL;
}

const uint8_t *pl_bus_consumer_get(
	const struct pl_bus_consumer *c, const char *kind, const char *key, size_t *size)
{
	const struct obj *o;

	if (!c || !kind || !key)
		return NULL;
	o = table_find(&c->mirror, kind, key);
	if (!o)
		return NULL;
	if (size)
		*size = o->size;
	return o->value;
}

struct pl_bus_limits pl_bus_limits_from_config(const struct pl_config *cfg)
{
	return (struct pl_bus_limits){
		.max_message_size = cfg->bus.max_message_size,
		.max_objects = cfg->bus.max_objects,
		.heartbeat_ms = cfg->bus.heartbeat_ms,
		.dead_after_ms = cfg->bus.dead_after_ms,
	};
}
