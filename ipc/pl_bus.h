/* SPDX-License-Identifier: Apache-2.0 */
/* The ZeroMQ state bus (Clone/CHP pattern). A producer owns some object kinds, serves a
 * snapshot on a ROUTER socket and publishes sequenced updates, each stamped with its
 * incarnation (random per start), on a PUB socket; idle, it publishes heartbeats. A consumer
 * subscribes first, then asks for a snapshot; it re-syncs on a new incarnation, a sequence gap
 * or missed heartbeats, and after a re-sync sweeps (deletes) the objects the producer no longer
 * asserts. Every message is a versioned msgpack envelope; decoding checks every type and size
 * and rejects (and counts) anything malformed. Objects' values are opaque bytes to the bus. */
#ifndef PL_BUS_H
#define PL_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_BUS_VERSION 1
#define PL_BUS_KIND_SIZE 32
#define PL_BUS_KEY_SIZE 128

enum pl_bus_op {
	PL_BUS_OP_SET = 1, /* whole object (replace semantics) */
	PL_BUS_OP_DEL = 2, /* explicit deletion */
	PL_BUS_OP_HUGZ = 3, /* heartbeat: seq = last published seq */
	PL_BUS_OP_SNAPSHOT_END = 4, /* end of a snapshot: seq = sequence the snapshot reflects */
	PL_BUS_OP_ICANHAZ = 5, /* consumer -> producer: snapshot request */
};

/* A decoded envelope. kind/key are NUL-terminated copies; value points into the buffer that
 * was decoded (borrowed, valid while that buffer lives). */
struct pl_bus_msg {
	uint32_t version;
	enum pl_bus_op op;
	uint64_t incarnation;
	uint64_t seq;
	char kind[PL_BUS_KIND_SIZE];
	char key[PL_BUS_KEY_SIZE];
	const uint8_t *value;
	size_t value_size;
};

struct pl_bus_limits {
	size_t max_message_size; /* bytes; larger messages are rejected */
	uint32_t max_objects; /* per producer store / per consumer mirror */
	uint32_t heartbeat_ms; /* producer: heartbeat period */
	uint32_t dead_after_ms; /* consumer: silence that triggers a re-sync */
};

/* Why a message was rejected; each has a counter. */
struct pl_bus_stats {
	uint64_t tx_messages;
	uint64_t rx_messages;
	uint64_t rx_malformed; /* not msgpack, wrong types, missing fields, trailing bytes */
	uint64_t rx_oversized;
	uint64_t rx_bad_version;
	uint64_t resyncs;
	uint64_t gaps;
	uint64_t swept; /* objects deleted by a sweep after a re-sync */
	uint64_t limit_drops; /* objects refused because max_objects was reached */
	uint64_t objects; /* current number of objects held */
};

struct pl_config;
/* The limits the config's bus section sets. */
struct pl_bus_limits pl_bus_limits_from_config(const struct pl_config *cfg);

/* Encodes m into buf. Returns bytes written, or -EMSGSIZE if it does not fit, -EINVAL if a
 * field is invalid (kind/key too long, unknown op). */
int pl_bus_encode(const struct pl_bus_msg *m, uint8_t *buf, size_t size);
/* Decodes buf. 0, or -EMSGSIZE (len > max_size), -EPROTONOSUPPORT (unknown version),
 * -EBADMSG (anything else wrong). */
int pl_bus_decode(const uint8_t *buf, size_t len, size_t max_size, struct pl_bus_msg *m);

struct pl_bus_producer;
/* Binds ipc://<run_dir>/<name>.snap (ROUTER) and ipc://<run_dir>/<name>.pub (PUB).
 * NULL with errno on failure. */
struct pl_bus_producer *pl_bus_producer_new(
	void *zmq_ctx, const char *run_dir, const char *name, const struct pl_bus_limits *lim);
void pl_bus_producer_destroy(struct pl_bus_producer **pp);
/* Stores and publishes. 0, -ENOSPC at max_objects, -EINVAL, -EMSGSIZE. */
int pl_bus_producer_set(struct pl_bus_producer *p, const char *kind, const char *key,
	const void *value, size_t size);
/* 0, or -ENOENT. */
int pl_bus_producer_del(struct pl_bus_producer *p, const char *kind, const char *key);
/* The ROUTER socket, for zmq_poll. */
void *pl_bus_producer_socket(struct pl_bus_producer *p);
/* Serves every pending snapshot request (non-blocking). Returns requests served. */
int pl_bus_producer_handle(struct pl_bus_producer *p);
/* Publishes a heartbeat when one is due. Returns ms until the next one is due. */
uint32_t pl_bus_producer_tick(struct pl_bus_producer *p, uint64_t now_ms);
uint64_t pl_bus_producer_incarnation(const struct pl_bus_producer *p);
const struct pl_bus_stats *pl_bus_producer_stats(const struct pl_bus_producer *p);

/* Called for every change the consumer's mirror sees: SET with the new value, DEL with
 * value NULL (explicit deletions and sweeps alike). */
typedef void pl_bus_apply_fn(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size);

struct pl_bus_consumer;
/* Connects to producer `name` under run_dir; the producer need not be up yet. */
struct pl_bus_consumer *pl_bus_consumer_new(void *zmq_ctx, const char *run_dir, const char *name,
	const struct pl_bus_limits *lim, pl_bus_apply_fn *apply, void *ctx);
void pl_bus_consumer_destroy(struct pl_bus_consumer **cp);
/* Its two sockets (SUB, DEALER), for zmq_poll. */
void *pl_bus_consumer_sub_socket(struct pl_bus_consumer *c);
void *pl_bus_consumer_snap_socket(struct pl_bus_consumer *c);
/* Processes every pending message on both sockets (non-blocking). Returns messages handled. */
int pl_bus_consumer_handle(struct pl_bus_consumer *c, uint64_t now_ms);
/* Re-syncs when the producer has been silent too long; re-sends a lost snapshot request.
 * Returns ms until it needs to be called again. */
uint32_t pl_bus_consumer_tick(struct pl_bus_consumer *c, uint64_t now_ms);
/* True once a snapshot has been applied and no re-sync is pending. */
bool pl_bus_consumer_synced(const struct pl_bus_consumer *c);
uint64_t pl_bus_consumer_incarnation(const struct pl_bus_consumer *c);
const struct pl_bus_stats *pl_bus_consumer_stats(const struct pl_bus_consumer *c);
/* Looks up an object of the mirror; NULL if absent. */
const uint8_t *pl_bus_consumer_get(
	const struct pl_bus_consumer *c, const char *kind, const char *key, size_t *size);

#endif
