/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the state bus: the envelope codec (round trips and every way to be wrong),
 * snapshot + stream between a real producer and consumer (restart, sweep), gaps and junk from
 * a hand-driven fake producer, heartbeat loss, junk snapshot requests and object limits.
 * Each test has its own run directory and zmq context, removed in teardown even on failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "pl_bus.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include <setjmp.h>
#include <cmocka.h>

#define BUF_SIZE 4096
#define MAX_MSG 1024
#define WAIT_MS 5000
#define MAX_EVENTS 256
#define N_RAW 4

/* ------------------------------------------------------------------------------------------ */
/* Fixture */

struct event {
	enum pl_bus_op op;
	char kind[PL_BUS_KIND_SIZE];
	char key[PL_BUS_KEY_SIZE];
	char value[64];
};

struct fx;
typedef void hook_fn(struct fx *f);

struct fx {
	char dir[64];
	void *zctx;
	struct pl_bus_producer *p;
	struct pl_bus_consumer *c;
	void *raw[N_RAW];
	bool tick_producer;
	hook_fn *hook;
	struct event ev[MAX_EVENTS];
	size_t n_ev;
	/* the fake producer of the gap test */
	uint64_t fake_inc;
	uint64_t fake_seq;
	const char *fake_keys[8];
	size_t n_fake_keys;
	int fake_snapshots;
	bool fake_hold;
	bool fake_count;
	int fake_count_bias; /* once: claim more objects than sent, as if a reply was lost */
	bool have_held_id;
	zmq_msg_t held_id;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_bus.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->zctx = zmq_ctx_new();
	assert_non_null(f->zctx);
	f->tick_producer = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl_bus_consumer_destroy(&f->c);
	pl_bus_producer_destroy(&f->p);
	if (f->have_held_id)
		zmq_msg_close(&f->held_id);
	for (int i = 0; i < N_RAW; i++)
		if (f->raw[i])
			zmq_close(f->raw[i]);
	zmq_ctx_term(f->zctx);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void record(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size)
{
	struct fx *f = ctx;
	struct event *e;

	assert_true(f->n_ev < MAX_EVENTS);
	assert_true(op == PL_BUS_OP_SET || op == PL_BUS_OP_DEL);
	if (op == PL_BUS_OP_DEL) {
		assert_null(value);
		assert_int_equal(size, 0);
	} else {
		assert_non_null(value);
	}
	e = &f->ev[f->n_ev++];
	e->op = op;
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	snprintf(e->key, sizeof(e->key), "%s", key);
	assert_true(size < sizeof(e->value));
	if (size)
		memcpy(e->value, value, size);
	e->value[size] = '\0';
}

static const struct event *find_event(
	const struct fx *f, size_t from, enum pl_bus_op op, const char *kind, const char *key)
{
	for (size_t i = from; i < f->n_ev; i++)
		if (f->ev[i].op == op && !strcmp(f->ev[i].kind, kind) && !strcmp(f->ev[i].key, key))
			return &f->ev[i];
	return NULL;
}

static struct pl_bus_limits limits(
	uint32_t max_objects, uint32_t heartbeat_ms, uint32_t dead_after_ms)
{
	struct pl_bus_limits lim = {
		.max_message_size = MAX_MSG,
		.max_objects = max_objects,
		.heartbeat_ms = heartbeat_ms,
		.dead_after_ms = dead_after_ms,
	};

	return lim;
}

typedef bool cond_fn(struct fx *f, const void *arg);

/* Runs producer, consumer and hook until cond holds or the deadline passes. */
static bool pump_until(struct fx *f, cond_fn *cond, const void *arg, uint32_t timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		zmq_pollitem_t items[N_RAW + 3];
		int n = 0;
		uint64_t now = now_ms();

		if (f->hook)
			f->hook(f);
		if (f->p) {
			pl_bus_producer_handle(f->p);
			if (f->tick_producer)
				pl_bus_producer_tick(f->p, now);
		}
		if (f->c) {
			pl_bus_consumer_handle(f->c, now);
			pl_bus_consumer_tick(f->c, now);
		}
		if (cond(f, arg))
			return true;
		if (now >= deadline)
			return false;
		if (f->p)
			items[n++] = (zmq_pollitem_t){ .socket = pl_bus_producer_socket(f->p),
				.events = ZMQ_POLLIN };
		if (f->c && pl_bus_consumer_sub_socket(f->c))
			items[n++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_sub_socket(f->c),
				.events = ZMQ_POLLIN };
		if (f->c && pl_bus_consumer_snap_socket(f->c))
			items[n++] = (zmq_pollitem_t){ .socket = pl_bus_consumer_snap_socket(f->c),
				.events = ZMQ_POLLIN };
		for (int i = 0; i < N_RAW; i++)
			if (f->raw[i])
				items[n++] = (zmq_pollitem_t){ .socket = f->raw[i],
					.events = ZMQ_POLLIN };
		zmq_poll(items, n, 5);
	}
}

static bool is_synced(struct fx *f, const void *arg)
{
	(void)arg;
	return pl_bus_consumer_synced(f->c);
}

static bool n_events_at_least(struct fx *f, const void *arg)
{
	return f->n_ev >= *(const size_t *)arg;
}

static bool rx_above(struct fx *f, const void *arg)
{
	return pl_bus_consumer_stats(f->c)->rx_messages > *(const uint64_t *)arg;
}

static bool resyncs_above(struct fx *f, const void *arg)
{
	return pl_bus_consumer_stats(f->c)->resyncs > *(const uint64_t *)arg;
}

static bool synced_to(struct fx *f, const void *arg)
{
	return pl_bus_consumer_synced(f->c) &&
	       pl_bus_consumer_incarnation(f->c) == *(const uint64_t *)arg;
}

/* Once synced, waits for a stream message so the subscription is known to be up. */
static void wait_stream(struct fx *f)
{
	uint64_t rx = pl_bus_consumer_stats(f->c)->rx_messages;

	assert_true(pump_until(f, rx_above, &rx, WAIT_MS));
}

static void assert_value(struct fx *f, const char *kind, const char *key, const char *want)
{
	size_t size = 12345;
	const uint8_t *v = pl_bus_consumer_get(f->c, kind, key, &size);

	if (!want) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	assert_int_equal(size, strlen(want));
	assert_memory_equal(v, want, size);
}

static int set_str(struct pl_bus_producer *p, const char *kind, const char *key, const char *v)
{
	return pl_bus_producer_set(p, kind, key, v, strlen(v));
}

/* ------------------------------------------------------------------------------------------ */
/* Hand-made msgpack for the decoder tests */

enum ftype {
	F_UINT,
	F_INT,
	F_STR,
	F_BIN,
	F_NIL,
	F_FLOAT,
	F_ARRAY,
	F_TRUE
};

struct field {
	enum ftype t;
	uint64_t u;
	const char *s;
	size_t len; /* for F_STR/F_BIN; -1 = strlen */
};

static int sbuf_write(void *data, const char *src, size_t len)
{
	msgpack_sbuffer *sb = data;

	return msgpack_sbuffer_write(sb, src, len);
}

static size_t pack_fields(uint8_t *out, size_t size, const struct field *fl, uint32_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, sbuf_write);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct field *x = &fl[i];
		size_t l = x->len == (size_t)-1 ? strlen(x->s) : x->len;

		switch (x->t) {
		case F_UINT:
			msgpack_pack_uint64(&pk, x->u);
			break;
		case F_INT:
			msgpack_pack_int64(&pk, (int64_t)x->u);
			break;
		case F_STR:
			msgpack_pack_str(&pk, l);
			msgpack_pack_str_body(&pk, x->s, l);
			break;
		case F_BIN:
			msgpack_pack_bin(&pk, l);
			msgpack_pack_bin_body(&pk, x->s, l);
			break;
		case F_NIL:
			msgpack_pack_nil(&pk);
			break;
		case F_FLOAT:
			msgpack_pack_double(&pk, 1.5);
			break;
		case F_ARRAY:
			msgpack_pack_array(&pk, 1);
			msgpack_pack_uint8(&pk, 1);
			break;
		case F_TRUE:
			msgpack_pack_true(&pk);
			break;
		}
	}
	len = sb.size;
	assert_true(len <= size);
	memcpy(out, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return len;
}

#define U(v)                          \
	{                             \
		.t = F_UINT, .u = (v) \
	}
#define S(v)                                            \
	{                                               \
		.t = F_STR, .s = (v), .len = (size_t)-1 \
	}
#define B(v)                                            \
	{                                               \
		.t = F_BIN, .s = (v), .len = (size_t)-1 \
	}
#define NIL                \
	{                  \
		.t = F_NIL \
	}

/* A valid SET as fields: tests replace one at a time. */
static void good_fields(struct field *fl)
{
	const struct field good[7] = { U(1), U(PL_BUS_OP_SET), U(7), U(9), S("pod"), S("a"),
		B("xyz") };

	memcpy(fl, good, sizeof(good));
}

static int decode_fields_rc(const struct field *fl, uint32_t n)
{
	uint8_t buf[BUF_SIZE];
	struct pl_bus_msg m;
	size_t len = pack_fields(buf, sizeof(buf), fl, n);

	return pl_bus_decode(buf, len, sizeof(buf), &m);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* ------------------------------------------------------------------------------------------ */
/* 1. Codec round trip */

static void roundtrip(const struct pl_bus_msg *in)
{
	uint8_t buf[BUF_SIZE];
	struct pl_bus_msg out;
	int n = pl_bus_encode(in, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(pl_bus_decode(buf, (size_t)n, sizeof(buf), &out), 0);
	assert_int_equal(out.version, PL_BUS_VERSION);
	assert_int_equal(out.op, in->op);
	assert_int_equal(out.incarnation, in->incarnation);
	assert_int_equal(out.seq, in->seq);
	assert_string_equal(out.kind, in->kind);
	assert_string_equal(out.key, in->key);
	assert_int_equal(out.value_size, in->value_size);
	if (in->value_size) {
		/* borrowed: points into buf */
		assert_true(out.value >= buf && out.value + out.value_size <= buf + n);
		assert_memory_equal(out.value, in->value, in->value_size);
	}
	if (in->op != PL_BUS_OP_SET && !in->value)
		assert_null(out.value);

	/* every buffer too small by even one byte is refused */
	for (int size = 0; size < n; size++)
		assert_int_equal(pl_bus_encode(in, buf, (size_t)size), -EMSGSIZE);
}

static void test_codec_roundtrip(void **state)
{
	static const uint8_t blob[] = { 0, 1, 2, 0xc1, 0xff, 0 };
	struct pl_bus_msg m = {
		.version = PL_BUS_VERSION,
		.op = PL_BUS_OP_SET,
		.incarnation = 0xfedcba9876543210ull,
		.seq = 42,
		.kind = "pod",
		.key = "default/nginx",
		.value = blob,
		.value_size = sizeof(blob),
	};
	uint8_t buf[BUF_SIZE];
	struct pl_bus_msg out;
	int n;

	(void)state;
	roundtrip(&m);

	m.op = PL_BUS_OP_DEL;
	m.value = NULL;
	m.value_size = 0;
	m.seq = UINT64_MAX;
	roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.version = PL_BUS_VERSION;
	m.op = PL_BUS_OP_HUGZ;
	m.incarnation = 1;
	m.seq = 1000;
	roundtrip(&m);

	/* maximum kind and key lengths; a SET with an empty value */
	m.op = PL_BUS_OP_SET;
	memset(m.kind, 'k', sizeof(m.kind) - 1);
	memset(m.key, 'y', sizeof(m.key) - 1);
	roundtrip(&m);
	n = pl_bus_encode(&m, buf, sizeof(buf));
	assert_int_equal(pl_bus_decode(buf, (size_t)n, sizeof(buf), &out), 0);
	assert_non_null(out.value);
	assert_int_equal(out.value_size, 0);
	assert_int_equal(strlen(out.kind), PL_BUS_KIND_SIZE - 1);
	assert_int_equal(strlen(out.key), PL_BUS_KEY_SIZE - 1);

	/* invalid fields */
	m.kind[sizeof(m.kind) - 1] = 'k';
	assert_int_equal(pl_bus_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.kind[sizeof(m.kind) - 1] = '\0';
	m.key[sizeof(m.key) - 1] = 'y';
	assert_int_equal(pl_bus_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.key[sizeof(m.key) - 1] = '\0';
	m.op = (enum pl_bus_op)6;
	assert_int_equal(pl_bus_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.op = PL_BUS_OP_SET;
	m.kind[0] = '\0';
	assert_int_equal(pl_bus_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. Decoder rejects */

static void test_decode_rejects(void **state)
{
	struct pl_bus_msg in = {
		.version = PL_BUS_VERSION,
		.op = PL_BUS_OP_SET,
		.incarnation = 0x1234567890ull,
		.seq = 77,
		.kind = "route",
		.key = "10.0.0.0/24",
		.value = (const uint8_t *)"some value bytes",
		.value_size = 16,
	};
	static const uint8_t garbage[][8] = {
		{ 0 },
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0xc1, 1, 2, 3, 4, 5, 6, 7 },
		{ 0x97, 0x01, 0x01, 0xc1, 0, 0, 0, 0 },
		{ 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x01 },
		{ 0x97, 0xdd, 0xff, 0xff, 0xff, 0xff, 0, 0 },
		{ 0x97, 0x01, 0x01, 0x01, 0x01, 0xdb, 0xff, 0xff },
		{ 'h', 'e', 'l', 'l', 'o', 0, 0, 0 },
	};
	uint8_t buf[BUF_SIZE], copy[BUF_SIZE];
	struct field fl[8];
	struct pl_bus_msg m;
	int n;

	(void)state;
	n = pl_bus_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(pl_bus_decode(buf, (size_t)n, (size_t)n, &m), 0);

	/* every truncation, each in an exactly sized heap copy so valgrind sees overreads */
	for (int len = 0; len < n; len++) {
		uint8_t *t = malloc(len ? (size_t)len : 1);

		assert_non_null(t);
		memcpy(t, buf, (size_t)len);
		assert_int_equal(pl_bus_decode(t, (size_t)len, sizeof(buf), &m), -EBADMSG);
		free(t);
	}

	/* oversized, checked before anything else */
	assert_int_equal(pl_bus_decode(buf, (size_t)n, (size_t)n - 1, &m), -EMSGSIZE);

	/* trailing bytes */
	memcpy(copy, buf, (size_t)n);
	copy[n] = 0xc0;
	assert_int_equal(pl_bus_decode(copy, (size_t)n + 1, sizeof(copy), &m), -EBADMSG);

	/* garbage patterns and random bytes from a fixed seed */
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		assert_int_equal(
			pl_bus_decode(garbage[i], sizeof(garbage[i]), BUF_SIZE, &m), -EBADMSG);
	for (int i = 0; i < 2000; i++) {
		size_t len = rng() % 96;

		for (size_t j = 0; j < len; j++)
			copy[j] = (uint8_t)rng();
		assert_true(pl_bus_decode(copy, len, sizeof(copy), &m) < 0);
	}
	/* mutations of a valid message: any verdict, never a crash or a bad read */
	for (int i = 0; i < 2000; i++) {
		memcpy(copy, buf, (size_t)n);
		copy[rng() % (uint64_t)n] = (uint8_t)rng();
		if (pl_bus_decode(copy, (size_t)n, sizeof(copy), &m) == 0) {
			assert_true(m.value_size <= (size_t)n);
			assert_true(strlen(m.kind) < PL_BUS_KIND_SIZE);
		}
	}

	/* unknown version, even with everything else wrong too */
	good_fields(fl);
	assert_int_equal(decode_fields_rc(fl, 7), 0);
	fl[0] = (struct field)U(2);
	assert_int_equal(decode_fields_rc(fl, 7), -EPROTONOSUPPORT);
	fl[7] = (struct field)U(3);
	assert_int_equal(decode_fields_rc(fl, 8), -EPROTONOSUPPORT);
	fl[0] = (struct field)U(0x100000001ull); /* truncating it to 32 bits would give 1 */
	assert_int_equal(decode_fields_rc(fl, 7), -EPROTONOSUPPORT);

	/* wrong element counts */
	good_fields(fl);
	assert_int_equal(decode_fields_rc(fl, 6), -EBADMSG);
	fl[7] = (struct field)NIL;
	assert_int_equal(decode_fields_rc(fl, 8), -EBADMSG);
	assert_int_equal(decode_fields_rc(fl, 0), -EBADMSG);

	/* wrong types, field by field */
	{
		static const struct {
			int idx;
			struct field f;
		} bad[] = {
			{ 0, S("1") }, { 0, { .t = F_INT, .u = (uint64_t)-1 } }, { 1, S("set") },
			{ 1, NIL }, { 2, { .t = F_INT, .u = (uint64_t)-5 } },
			{ 2, { .t = F_FLOAT } }, { 3, { .t = F_TRUE } }, { 3, B("x") },
			{ 4, B("pod") }, { 4, U(3) }, { 5, NIL }, { 5, { .t = F_ARRAY } },
			{ 6, S("xyz") }, { 6, U(1) }, { 6, { .t = F_ARRAY } }, { 1, U(0) },
			{ 1, U(6) }, { 1, U(0x100000001ull) },
			{ 4, { .t = F_STR, .s = "po\0d", .len = 4 } },
			{ 5, { .t = F_STR, .s = "", .len = 0 } },
			{ 4, S("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk") }, /* 32: one too long */
		};

		assert_int_equal(strlen(bad[20].f.s), PL_BUS_KIND_SIZE);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			good_fields(fl);
			fl[bad[i].idx] = bad[i].f;
			assert_int_equal(decode_fields_rc(fl, 7), -EBADMSG);
		}
	}

	/* a map, and an array of the right size nested one level down */
	{
		static const uint8_t map[] = { 0x81, 0x01, 0x02 };
		static const uint8_t nested[] = { 0x91, 0x97, 1, 1, 1, 1, 0xa1, 'a', 0xa1, 'b',
			0xc0 };

		assert_int_equal(pl_bus_decode(map, sizeof(map), BUF_SIZE, &m), -EBADMSG);
		assert_int_equal(pl_bus_decode(nested, sizeof(nested), BUF_SIZE, &m), -EBADMSG);
	}

	/* array16 with the right count is still an array of 7: accepted */
	{
		uint8_t a16[BUF_SIZE];

		a16[0] = 0xdc;
		a16[1] = 0;
		a16[2] = 7;
		memcpy(a16 + 3, buf + 1, (size_t)n - 1);
		assert_int_equal(pl_bus_decode(a16, (size_t)n + 2, sizeof(a16), &m), 0);
		assert_int_equal(m.seq, 77);
	}
}

/* ------------------------------------------------------------------------------------------ */
/* 3. Producer and consumer: snapshot, stream, restart and sweep */

static void test_snapshot_stream_restart(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits lim = limits(100, 50, 2000);
	const struct pl_bus_stats *cs;
	uint64_t inc2;
	size_t want, mark;

	f->p = pl_bus_producer_new(f->zctx, f->dir, "cni", &lim);
	assert_non_null(f->p);
	assert_int_equal(set_str(f->p, "pod", "a", "1"), 0);
	assert_int_equal(set_str(f->p, "pod", "b", "2"), 0);
	assert_int_equal(set_str(f->p, "route", "x", "3"), 0);
	assert_int_equal(pl_bus_producer_del(f->p, "pod", "zz"), -ENOENT);
	assert_int_equal(pl_bus_producer_set(f->p, "", "a", "1", 1), -EINVAL);

	f->c = pl_bus_consumer_new(f->zctx, f->dir, "cni", &lim, record, f);
	assert_non_null(f->c);
	assert_false(pl_bus_consumer_synced(f->c));
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));
	cs = pl_bus_consumer_stats(f->c);

	assert_int_equal(pl_bus_consumer_incarnation(f->c), pl_bus_producer_incarnation(f->p));
	assert_int_equal(f->n_ev, 3);
	assert_string_equal(find_event(f, 0, PL_BUS_OP_SET, "pod", "a")->value, "1");
	assert_string_equal(find_event(f, 0, PL_BUS_OP_SET, "pod", "b")->value, "2");
	assert_string_equal(find_event(f, 0, PL_BUS_OP_SET, "route", "x")->value, "3");
	assert_value(f, "pod", "a", "1");
	assert_value(f, "route", "x", "3");
	assert_value(f, "route", "a", NULL);
	assert_int_equal(cs->objects, 3);

	/* live updates, in order */
	wait_stream(f);
	assert_int_equal(set_str(f->p, "pod", "c", "4"), 0);
	assert_int_equal(set_str(f->p, "pod", "a", "1b"), 0);
	assert_int_equal(pl_bus_producer_del(f->p, "pod", "b"), 0);
	want = 6;
	assert_true(pump_until(f, n_events_at_least, &want, WAIT_MS));
	assert_int_equal(f->ev[3].op, PL_BUS_OP_SET);
	assert_string_equal(f->ev[3].key, "c");
	assert_string_equal(f->ev[3].value, "4");
	assert_int_equal(f->ev[4].op, PL_BUS_OP_SET);
	assert_string_equal(f->ev[4].key, "a");
	assert_string_equal(f->ev[4].value, "1b");
	assert_int_equal(f->ev[5].op, PL_BUS_OP_DEL);
	assert_string_equal(f->ev[5].key, "b");
	assert_value(f, "pod", "a", "1b");
	assert_value(f, "pod", "b", NULL);
	assert_int_equal(cs->objects, 3);
	assert_int_equal(cs->gaps, 0);
	assert_int_equal(cs->resyncs, 0);
	assert_int_equal(cs->swept, 0);

	/* restart with a new incarnation that asserts a smaller set */
	pl_bus_producer_destroy(&f->p);
	assert_null(f->p);
	f->p = pl_bus_producer_new(f->zctx, f->dir, "cni", &lim);
	assert_non_null(f->p);
	inc2 = pl_bus_producer_incarnation(f->p);
	assert_int_not_equal(inc2, pl_bus_consumer_incarnation(f->c));
	assert_int_equal(set_str(f->p, "pod", "a", "1b"), 0);
	assert_int_equal(set_str(f->p, "pod", "d", "5"), 0);
	mark = f->n_ev;
	assert_true(pump_until(f, synced_to, &inc2, WAIT_MS));

	assert_true(cs->resyncs >= 1);
	assert_int_equal(cs->swept, 2);
	assert_non_null(find_event(f, mark, PL_BUS_OP_DEL, "pod", "c"));
	assert_non_null(find_event(f, mark, PL_BUS_OP_DEL, "route", "x"));
	assert_string_equal(find_event(f, mark, PL_BUS_OP_SET, "pod", "d")->value, "5");
	assert_null(find_event(f, mark, PL_BUS_OP_SET, "pod", "a")); /* unchanged: no event */
	assert_value(f, "pod", "a", "1b");
	assert_value(f, "pod", "d", "5");
	assert_value(f, "pod", "c", NULL);
	assert_value(f, "route", "x", NULL);
	assert_int_equal(cs->objects, 2);

	/* and the stream from the new incarnation applies */
	wait_stream(f);
	want = f->n_ev + 1;
	assert_int_equal(set_str(f->p, "pod", "e", "6"), 0);
	assert_true(pump_until(f, n_events_at_least, &want, WAIT_MS));
	assert_value(f, "pod", "e", "6");
	assert_int_equal(cs->rx_malformed + cs->rx_oversized + cs->rx_bad_version, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. Gaps and junk, from a fake producer driven by hand */

enum {
	RAW_PUB,
	RAW_ROUTER
};

static void *raw_socket(struct fx *f, int idx, int type)
{
	int zero = 0;

	f->raw[idx] = zmq_socket(f->zctx, type);
	assert_non_null(f->raw[idx]);
	assert_int_equal(zmq_setsockopt(f->raw[idx], ZMQ_LINGER, &zero, sizeof(zero)), 0);
	return f->raw[idx];
}

static int raw_send(void *sock, const void *data, size_t size, int flags)
{
	return zmq_send(sock, data, size, flags);
}

static void fake_send(struct fx *f, void *sock, zmq_msg_t *id, enum pl_bus_op op, uint64_t inc,
	uint64_t seq, const char *kind, const char *key, const char *value)
{
	struct pl_bus_msg m = {
		.version = PL_BUS_VERSION,
		.op = op,
		.incarnation = inc,
		.seq = seq,
		.value = (const uint8_t *)value,
		.value_size = value ? strlen(value) : 0,
	};
	uint8_t buf[BUF_SIZE];
	int n;

	(void)f;
	snprintf(m.kind, sizeof(m.kind), "%s", kind);
	snprintf(m.key, sizeof(m.key), "%s", key);
	n = pl_bus_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	if (id)
		assert_true(raw_send(sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE) >= 0);
	assert_int_equal(raw_send(sock, buf, (size_t)n, 0), n);
}

static void fake_reply(struct fx *f, zmq_msg_t *id)
{
	for (size_t i = 0; i < f->n_fake_keys; i++)
		fake_send(f, f->raw[RAW_ROUTER], id, PL_BUS_OP_SET, f->fake_inc, f->fake_seq, "obj",
			f->fake_keys[i], f->fake_keys[i]);
	if (f->fake_count) {
		/* with the object count, as the real producer sends it */
		struct pl_bus_msg m = { .version = PL_BUS_VERSION,
			.op = PL_BUS_OP_SNAPSHOT_END,
			.incarnation = f->fake_inc,
			.seq = f->fake_seq };
		uint8_t count[8] = { 0 }, buf[BUF_SIZE];
		int n;

		count[7] = (uint8_t)(f->n_fake_keys + (size_t)f->fake_count_bias);
		m.value = count;
		m.value_size = sizeof(count);
		n = pl_bus_encode(&m, buf, sizeof(buf));
		assert_true(n > 0);
		assert_true(zmq_send(f->raw[RAW_ROUTER], zmq_msg_data(id), zmq_msg_size(id),
				    ZMQ_SNDMORE) >= 0);
		assert_int_equal(zmq_send(f->raw[RAW_ROUTER], buf, (size_t)n, 0), n);
		f->fake_count_bias = 0;
	} else {
		fake_send(f, f->raw[RAW_ROUTER], id, PL_BUS_OP_SNAPSHOT_END, f->fake_inc,
			f->fake_seq, "", "", NULL);
	}
	f->fake_snapshots++;
}

/* Answers snapshot requests with the fake's current keys (value = key), or when fake_hold
 * is set keeps the requester's identity in held_id for a later answer. */
static void fake_hook(struct fx *f)
{
	zmq_msg_t id, req;

	zmq_msg_init(&id);
	while (zmq_msg_recv(&id, f->raw[RAW_ROUTER], ZMQ_DONTWAIT) >= 0) {
		assert_true(zmq_msg_more(&id));
		zmq_msg_init(&req);
		assert_true(zmq_msg_recv(&req, f->raw[RAW_ROUTER], 0) >= 0);
		zmq_msg_close(&req);
		if (f->fake_hold) {
			assert_false(f->have_held_id);
			zmq_msg_init(&f->held_id);
			zmq_msg_move(&f->held_id, &id);
			f->have_held_id = true;
		} else {
			fake_reply(f, &id);
		}
		zmq_msg_close(&id);
		zmq_msg_init(&id);
	}
	zmq_msg_close(&id);
}

static void fake_update(struct fx *f, uint64_t seq, const char *key)
{
	fake_send(f, f->raw[RAW_PUB], NULL, PL_BUS_OP_SET, f->fake_inc, seq, "obj", key, key);
}

static bool hugz_until_rx(struct fx *f, const void *arg)
{
	static uint64_t last;
	uint64_t t = now_ms();

	/* heartbeats at the snapshot's seq until one arrives through the stream */
	if (t - last >= 20) {
		fake_send(f, f->raw[RAW_PUB], NULL, PL_BUS_OP_HUGZ, f->fake_inc, f->fake_seq, "",
			"", NULL);
		last = t;
	}
	return rx_above(f, arg);
}

static void fake_wait_stream(struct fx *f)
{
	uint64_t rx = pl_bus_consumer_stats(f->c)->rx_messages;

	assert_true(pump_until(f, hugz_until_rx, &rx, WAIT_MS));
}

static bool has_key(struct fx *f, const void *arg)
{
	return pl_bus_consumer_get(f->c, "obj", arg, NULL) != NULL;
}

static void test_gap_and_junk(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits lim = limits(100, 1000, 5000);
	const struct pl_bus_stats *cs;
	char path[256];
	uint8_t big[MAX_MSG + 1];
	uint64_t resyncs;

	raw_socket(f, RAW_PUB, ZMQ_PUB);
	raw_socket(f, RAW_ROUTER, ZMQ_ROUTER);
	snprintf(path, sizeof(path), "ipc://%s/fake.pub", f->dir);
	assert_int_equal(zmq_bind(f->raw[RAW_PUB], path), 0);
	snprintf(path, sizeof(path), "ipc://%s/fake.snap", f->dir);
	assert_int_equal(zmq_bind(f->raw[RAW_ROUTER], path), 0);
	f->hook = fake_hook;
	f->fake_inc = 0xabcdef;
	f->fake_seq = 10;
	f->fake_keys[f->n_fake_keys++] = "a";

	f->c = pl_bus_consumer_new(f->zctx, f->dir, "fake", &lim, record, f);
	assert_non_null(f->c);
	cs = pl_bus_consumer_stats(f->c);
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));
	assert_int_equal(pl_bus_consumer_incarnation(f->c), 0xabcdef);
	assert_value(f, "obj", "a", "a");
	fake_wait_stream(f);

	/* 11, 12, then 14: 13 was lost */
	fake_update(f, 11, "b");
	fake_update(f, 12, "c");
	assert_true(pump_until(f, has_key, "c", WAIT_MS));
	f->fake_keys[f->n_fake_keys++] = "b";
	f->fake_keys[f->n_fake_keys++] = "c";
	f->fake_keys[f->n_fake_keys++] = "d"; /* the lost 13 */
	f->fake_keys[f->n_fake_keys++] = "e";
	f->fake_seq = 14;
	resyncs = cs->resyncs;
	fake_update(f, 14, "e");
	assert_true(pump_until(f, resyncs_above, &resyncs, WAIT_MS));
	assert_int_equal(cs->gaps, 1);
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));
	assert_int_equal(f->fake_snapshots, 2);
	assert_value(f, "obj", "d", "d");
	assert_value(f, "obj", "e", "e");
	assert_int_equal(cs->objects, 5);

	/* junk in the stream: counted, ignored, state intact */
	fake_wait_stream(f);
	resyncs = cs->resyncs;
	raw_send(f->raw[RAW_PUB], "hello", 5, 0);
	raw_send(f->raw[RAW_PUB], "", 0, 0);
	for (int i = 0; i < 3; i++) {
		uint8_t junk[32];

		for (size_t j = 0; j < sizeof(junk); j++)
			junk[j] = (uint8_t)rng();
		junk[0] = 0x97; /* looks like an envelope at first */
		junk[1] = 0x01;
		raw_send(f->raw[RAW_PUB], junk, sizeof(junk), 0);
	}
	memset(big, 0xa5, sizeof(big));
	raw_send(f->raw[RAW_PUB], big, sizeof(big), 0);
	{
		struct pl_bus_msg m = { .version = 2,
			.op = PL_BUS_OP_SET,
			.incarnation = 0xabcdef,
			.seq = 15,
			.kind = "obj",
			.key = "v2" };
		uint8_t buf[BUF_SIZE];
		int n = pl_bus_encode(&m, buf, sizeof(buf));

		assert_true(n > 0);
		raw_send(f->raw[RAW_PUB], buf, (size_t)n, 0);
		/* a good envelope, but in two frames */
		m.version = PL_BUS_VERSION;
		snprintf(m.key, sizeof(m.key), "multi");
		n = pl_bus_encode(&m, buf, sizeof(buf));
		raw_send(f->raw[RAW_PUB], buf, (size_t)n, ZMQ_SNDMORE);
		raw_send(f->raw[RAW_PUB], buf, (size_t)n, 0);
		/* a snapshot operation has no business in the stream */
		m.op = PL_BUS_OP_SNAPSHOT_END;
		m.kind[0] = m.key[0] = '\0';
		n = pl_bus_encode(&m, buf, sizeof(buf));
		raw_send(f->raw[RAW_PUB], buf, (size_t)n, 0);
	}
	fake_update(f, 15, "f");
	assert_true(pump_until(f, has_key, "f", WAIT_MS));
	assert_int_equal(cs->rx_malformed, 7);
	assert_int_equal(cs->rx_oversized, 1);
	assert_int_equal(cs->rx_bad_version, 1);
	assert_int_equal(cs->gaps, 1);
	assert_int_equal(cs->resyncs, resyncs);
	assert_true(pl_bus_consumer_synced(f->c));
	assert_value(f, "obj", "multi", NULL);
	assert_value(f, "obj", "v2", NULL);
	assert_value(f, "obj", "a", "a");
	assert_int_equal(cs->objects, 6);

	/* a stale sequence is ignored; a new incarnation forces a re-sync */
	fake_update(f, 15, "stale");
	f->fake_inc = 0x123;
	f->fake_seq = 1;
	resyncs = cs->resyncs;
	fake_update(f, 1, "g");
	assert_true(pump_until(f, resyncs_above, &resyncs, WAIT_MS));
	assert_int_equal(cs->gaps, 1);
	{
		uint64_t inc = 0x123;

		assert_true(pump_until(f, synced_to, &inc, WAIT_MS));
	}
	assert_value(f, "obj", "stale", NULL);
	assert_value(f, "obj", "g", NULL); /* not in the new snapshot: never asserted */
	assert_value(f, "obj", "f", NULL); /* swept */
	assert_value(f, "obj", "a", "a");
}

static bool have_request(struct fx *f, const void *arg)
{
	(void)arg;
	return f->have_held_id;
}

/* Updates that arrive between the snapshot request and its end are kept and replayed. */
static void test_updates_during_sync(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits lim = limits(100, 1000, 5000);
	const struct pl_bus_stats *cs;
	char path[256];
	uint64_t rx;

	raw_socket(f, RAW_PUB, ZMQ_PUB);
	raw_socket(f, RAW_ROUTER, ZMQ_ROUTER);
	snprintf(path, sizeof(path), "ipc://%s/fake.pub", f->dir);
	assert_int_equal(zmq_bind(f->raw[RAW_PUB], path), 0);
	snprintf(path, sizeof(path), "ipc://%s/fake.snap", f->dir);
	assert_int_equal(zmq_bind(f->raw[RAW_ROUTER], path), 0);
	f->hook = fake_hook;
	f->fake_hold = true;
	f->fake_inc = 0x5151;
	f->fake_seq = 10;
	f->fake_keys[f->n_fake_keys++] = "a";

	f->c = pl_bus_consumer_new(f->zctx, f->dir, "fake", &lim, record, f);
	assert_non_null(f->c);
	cs = pl_bus_consumer_stats(f->c);
	assert_true(pump_until(f, have_request, NULL, WAIT_MS));
	fake_wait_stream(f); /* subscribed; the snapshot is still outstanding */
	assert_false(pl_bus_consumer_synced(f->c));

	rx = cs->rx_messages + 3;
	fake_update(f, 10, "old"); /* covered by the snapshot: dropped */
	fake_update(f, 11, "b");
	fake_update(f, 12, "c");
	fake_send(f, f->raw[RAW_PUB], NULL, PL_BUS_OP_DEL, f->fake_inc, 13, "obj", "a", NULL);
	assert_true(pump_until(f, rx_above, &rx, WAIT_MS));
	assert_int_equal(f->n_ev, 0);

	fake_reply(f, &f->held_id);
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));
	assert_value(f, "obj", "a", NULL);
	assert_value(f, "obj", "old", NULL);
	assert_value(f, "obj", "b", "b");
	assert_value(f, "obj", "c", "c");
	assert_int_equal(f->n_ev, 4); /* SET a (snapshot), SET b, SET c, DEL a */
	assert_int_equal(f->ev[0].op, PL_BUS_OP_SET);
	assert_string_equal(f->ev[0].key, "a");
	assert_string_equal(f->ev[1].key, "b");
	assert_string_equal(f->ev[2].key, "c");
	assert_int_equal(f->ev[3].op, PL_BUS_OP_DEL);
	assert_string_equal(f->ev[3].key, "a");
	assert_int_equal(cs->resyncs, 0);
	assert_int_equal(cs->gaps, 0);
	assert_int_equal(cs->objects, 2);

	/* the stream goes on from 13 */
	fake_update(f, 14, "d");
	assert_true(pump_until(f, has_key, "d", WAIT_MS));
	assert_int_equal(cs->gaps, 0);
}

/* A snapshot whose end counts more objects than arrived is not trusted: the consumer asks
 * again instead of sweeping what it missed. */
static void test_lost_snapshot_reply(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits lim = limits(100, 1000, 5000);
	const struct pl_bus_stats *cs;
	char path[256];

	raw_socket(f, RAW_PUB, ZMQ_PUB);
	raw_socket(f, RAW_ROUTER, ZMQ_ROUTER);
	snprintf(path, sizeof(path), "ipc://%s/fake.pub", f->dir);
	assert_int_equal(zmq_bind(f->raw[RAW_PUB], path), 0);
	snprintf(path, sizeof(path), "ipc://%s/fake.snap", f->dir);
	assert_int_equal(zmq_bind(f->raw[RAW_ROUTER], path), 0);
	f->hook = fake_hook;
	f->fake_count = true;
	f->fake_count_bias = 1;
	f->fake_inc = 0x77;
	f->fake_seq = 3;
	f->fake_keys[f->n_fake_keys++] = "a";
	f->fake_keys[f->n_fake_keys++] = "b";

	f->c = pl_bus_consumer_new(f->zctx, f->dir, "fake", &lim, record, f);
	assert_non_null(f->c);
	cs = pl_bus_consumer_stats(f->c);
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));
	assert_int_equal(f->fake_snapshots, 2);
	assert_int_equal(cs->resyncs, 1);
	assert_int_equal(cs->objects, 2);
	assert_int_equal(f->n_ev, 2);
	assert_value(f, "obj", "a", "a");
	assert_value(f, "obj", "b", "b");
}

/* ------------------------------------------------------------------------------------------ */
/* 5. Heartbeats */

static void test_heartbeat(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits lim = limits(100, 50, 400);
	const struct pl_bus_stats *cs;
	uint64_t rx, resyncs;

	f->p = pl_bus_producer_new(f->zctx, f->dir, "hb", &lim);
	assert_non_null(f->p);
	assert_int_equal(set_str(f->p, "node", "n1", "up"), 0);
	f->c = pl_bus_consumer_new(f->zctx, f->dir, "hb", &lim, record, f);
	assert_non_null(f->c);
	cs = pl_bus_consumer_stats(f->c);
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));

	/* heartbeats keep arriving and keep the consumer in sync */
	for (int i = 0; i < 5; i++)
		wait_stream(f);
	assert_int_equal(cs->resyncs, 0);
	assert_true(pl_bus_consumer_synced(f->c));
	assert_true(pl_bus_producer_stats(f->p)->tx_messages >= 5);

	/* the producer goes quiet (alive, but no heartbeats): the consumer re-syncs */
	f->tick_producer = false;
	rx = 0;
	assert_true(pump_until(f, resyncs_above, &rx, WAIT_MS));
	assert_int_equal(cs->gaps, 0);

	/* the producer goes away: re-syncs keep trying, the mirror is kept meanwhile */
	pl_bus_producer_destroy(&f->p);
	resyncs = cs->resyncs + 1;
	assert_true(pump_until(f, resyncs_above, &resyncs, WAIT_MS));
	assert_false(pl_bus_consumer_synced(f->c));
	assert_value(f, "node", "n1", "up");

	/* and it comes back */
	f->p = pl_bus_producer_new(f->zctx, f->dir, "hb", &lim);
	assert_non_null(f->p);
	f->tick_producer = true;
	assert_int_equal(set_str(f->p, "node", "n1", "up2"), 0);
	{
		uint64_t inc = pl_bus_producer_incarnation(f->p);

		assert_true(pump_until(f, synced_to, &inc, WAIT_MS));
	}
	assert_value(f, "node", "n1", "up2");
}

/* ------------------------------------------------------------------------------------------ */
/* 6. Junk snapshot requests */

static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits lim = limits(100, 1000, 1000);
	const struct pl_bus_stats *ps;
	void *d;
	char path[256];
	uint8_t buf[BUF_SIZE];
	struct pl_bus_msg m = { .version = PL_BUS_VERSION, .op = PL_BUS_OP_ICANHAZ };
	int n, got = 0;
	bool end = false;
	uint64_t deadline;

	f->p = pl_bus_producer_new(f->zctx, f->dir, "req", &lim);
	assert_non_null(f->p);
	ps = pl_bus_producer_stats(f->p);
	assert_int_equal(set_str(f->p, "svc", "s1", "v1"), 0);
	assert_int_equal(set_str(f->p, "svc", "s2", "v2"), 0);

	d = raw_socket(f, 0, ZMQ_DEALER);
	snprintf(path, sizeof(path), "ipc://%s/req.snap", f->dir);
	assert_int_equal(zmq_connect(d, path), 0);

	raw_send(d, "garbage", 7, 0);
	raw_send(d, "", 0, 0);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 40; j++)
			buf[j] = (uint8_t)rng();
		buf[0] = 0x97; /* an envelope of version 1 at first sight */
		buf[1] = 0x01;
		raw_send(d, buf, 40, 0);
	}
	raw_send(d, "a", 1, ZMQ_SNDMORE);
	raw_send(d, "b", 1, ZMQ_SNDMORE);
	raw_send(d, "c", 1, 0);
	/* a valid envelope, but not a request */
	m.op = PL_BUS_OP_HUGZ;
	n = pl_bus_encode(&m, buf, sizeof(buf));
	raw_send(d, buf, (size_t)n, 0);
	/* a request, in two frames */
	m.op = PL_BUS_OP_ICANHAZ;
	n = pl_bus_encode(&m, buf, sizeof(buf));
	raw_send(d, buf, (size_t)n, ZMQ_SNDMORE);
	raw_send(d, buf, (size_t)n, 0);
	/* a request from the future */
	m.version = 9;
	n = pl_bus_encode(&m, buf, sizeof(buf));
	raw_send(d, buf, (size_t)n, 0);
	/* and a good one */
	m.version = PL_BUS_VERSION;
	n = pl_bus_encode(&m, buf, sizeof(buf));
	raw_send(d, buf, (size_t)n, 0);

	deadline = now_ms() + WAIT_MS;
	while (!end && now_ms() < deadline) {
		zmq_pollitem_t items[] = {
			{ .socket = pl_bus_producer_socket(f->p), .events = ZMQ_POLLIN },
			{ .socket = d, .events = ZMQ_POLLIN },
		};
		struct pl_bus_msg r;

		zmq_poll(items, 2, 10);
		pl_bus_producer_handle(f->p);
		while ((n = zmq_recv(d, buf, sizeof(buf), ZMQ_DONTWAIT)) >= 0) {
			assert_true((size_t)n <= sizeof(buf));
			assert_int_equal(pl_bus_decode(buf, (size_t)n, sizeof(buf), &r), 0);
			assert_int_equal(r.incarnation, pl_bus_producer_incarnation(f->p));
			assert_int_equal(r.seq, 2);
			if (r.op == PL_BUS_OP_SNAPSHOT_END) {
				end = true;
				assert_int_equal(r.value_size, 8);
				assert_int_equal(r.value[7], 2); /* object count */
			} else {
				assert_int_equal(r.op, PL_BUS_OP_SET);
				assert_string_equal(r.kind, "svc");
				got++;
			}
		}
	}
	assert_true(end);
	assert_int_equal(got, 2);
	assert_int_equal(ps->rx_malformed, 9);
	assert_int_equal(ps->rx_bad_version, 1);
	assert_int_equal(ps->rx_messages, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* 7. Object limits */

static void test_limits(void **state)
{
	struct fx *f = *state;
	struct pl_bus_limits plim = limits(3, 50, 2000);
	struct pl_bus_limits clim = limits(2, 50, 2000);
	const struct pl_bus_stats *ps, *cs;
	char big[MAX_MSG];
	char missing = 0, held[2] = { 0, 0 };
	size_t want;

	assert_null(pl_bus_producer_new(f->zctx, f->dir, "lim", NULL));
	assert_int_equal(errno, EINVAL);

	f->p = pl_bus_producer_new(f->zctx, f->dir, "lim", &plim);
	assert_non_null(f->p);
	ps = pl_bus_producer_stats(f->p);
	assert_int_equal(set_str(f->p, "k", "1", "a"), 0);
	assert_int_equal(set_str(f->p, "k", "2", "b"), 0);
	assert_int_equal(set_str(f->p, "k", "3", "c"), 0);
	assert_int_equal(set_str(f->p, "k", "4", "d"), -ENOSPC);
	assert_int_equal(ps->limit_drops, 1);
	assert_int_equal(set_str(f->p, "k", "3", "c2"), 0); /* replacing needs no room */
	assert_int_equal(ps->objects, 3);
	memset(big, 'x', sizeof(big));
	assert_int_equal(pl_bus_producer_set(f->p, "k", "3", big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(ps->objects, 3);

	f->c = pl_bus_consumer_new(f->zctx, f->dir, "lim", &clim, record, f);
	assert_non_null(f->c);
	cs = pl_bus_consumer_stats(f->c);
	assert_true(pump_until(f, is_synced, NULL, WAIT_MS));
	assert_int_equal(cs->objects, 2);
	assert_int_equal(cs->limit_drops, 1);
	assert_int_equal(f->n_ev, 2);
	assert_int_equal(cs->resyncs, 0);

	/* which of the three did not fit */
	for (int i = 1; i <= 3; i++) {
		char k[2] = { (char)('0' + i), '\0' };

		if (!pl_bus_consumer_get(f->c, "k", k, NULL))
			missing = k[0];
		else if (!held[0])
			held[0] = k[0];
		else
			held[1] = k[0];
	}
	assert_true(missing && held[0] && held[1]);

	/* on the stream: a new object is refused while the mirror is full, fits once one goes */
	wait_stream(f);
	assert_int_equal(pl_bus_producer_del(f->p, "k", (char[]){ missing, '\0' }), 0);
	assert_int_equal(set_str(f->p, "k", "5", "e"), 0);
	assert_int_equal(set_str(f->p, "k", "6", "f"), -ENOSPC);
	assert_int_equal(set_str(f->p, "k", (char[]){ held[0], '\0' }, "new"), 0);
	want = f->n_ev + 1;
	assert_true(pump_until(f, n_events_at_least, &want, WAIT_MS));
	assert_int_equal(cs->limit_drops, 2);
	assert_value(f, "k", "5", NULL);
	assert_value(f, "k", (char[]){ held[0], '\0' }, "new");

	assert_int_equal(pl_bus_producer_del(f->p, "k", (char[]){ held[0], '\0' }), 0);
	assert_int_equal(set_str(f->p, "k", "5", "e2"), 0);
	want = f->n_ev + 2;
	assert_true(pump_until(f, n_events_at_least, &want, WAIT_MS));
	assert_value(f, "k", "5", "e2");
	assert_int_equal(cs->limit_drops, 2);
	assert_int_equal(cs->objects, 2);
	assert_true(pl_bus_consumer_synced(f->c));
	assert_int_equal(cs->gaps, 0);
	assert_int_equal(cs->resyncs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test_setup_teardown(test_snapshot_stream_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_and_junk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_updates_during_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_snapshot_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
