/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd v3 side of the datastore, internal to libcommon (services use pl_datastore.h): a
 * background thread reads and then watches every key under a prefix through etcd's JSON gateway
 * (libcurl), parses each value and queues the outcome; pl_datastore.c takes the queue in the
 * caller's thread and applies it to its object table. Also podlanectl's all-or-nothing writes. */
#ifndef PL_DATASTORE_ETCD_H
#define PL_DATASTORE_ETCD_H

#include <stddef.h>

#include "pl_k8s.h"

enum pl_datastore_etcd_ev_type {
	PL_DATASTORE_ETCD_SET, /* key holds obj now */
	PL_DATASTORE_ETCD_INVALID, /* key holds a rejected value (msg): keep what it held */
	PL_DATASTORE_ETCD_DEL, /* key was deleted */
	PL_DATASTORE_ETCD_SYNC_BEGIN, /* a full read starts: its SET/INVALID are all there is */
	PL_DATASTORE_ETCD_SYNC_END, /* ... and is complete: keys it did not name are gone */
	PL_DATASTORE_ETCD_SYNC_ABORT, /* ... broke off: conclude nothing from it */
	PL_DATASTORE_ETCD_NOTICE, /* connection trouble (msg), not a rejected object */
};

struct pl_datastore_etcd_event {
	enum pl_datastore_etcd_ev_type type;
	char key[PL_K8S_KEY_SIZE]; /* "<Kind>/<ns>/<name>"; "" when the etcd key cannot be one */
	struct pl_k8s_object *obj; /* SET: owned by the event */
	char *msg; /* INVALID, NOTICE */
	size_t size; /* memory the event holds, for the queue's bound */
	struct pl_datastore_etcd_event *next;
};

struct pl_datastore_etcd_watch;

/* Starts the thread and returns without waiting for etcd. NULL with errno set (EINVAL: the
 * endpoint is not an http:// or https:// URL, or the prefix is empty). */
struct pl_datastore_etcd_watch *pl_datastore_etcd_watch_new(
	const char *endpoint, const char *prefix);
/* Stops the thread (interrupting any request) and frees what is still queued. */
void pl_datastore_etcd_watch_destroy(struct pl_datastore_etcd_watch **wp);
/* An eventfd, readable while events are queued. */
int pl_datastore_etcd_watch_fd(const struct pl_datastore_etcd_watch *w);
/* Everything queued, oldest first, now owned by the caller; resets the fd. */
struct pl_datastore_etcd_event *pl_datastore_etcd_watch_take(struct pl_datastore_etcd_watch *w);
void pl_datastore_etcd_event_free(struct pl_datastore_etcd_event *ev);

/* podlanectl apply -f: validates yaml whole, then puts each document under its object's key in
 * one transaction. A description of what was written goes to where. 0 or -errno, reason in err. */
int pl_datastore_etcd_write(const char *endpoint, const char *prefix, const char *name,
	const char *yaml, size_t size, char *where, size_t where_size, char *err, size_t err_size);
/* podlanectl delete -f: deletes the keys of the objects named in yaml, in one transaction.
 * Returns how many existed, or -errno. */
int pl_datastore_etcd_delete_objects(const char *endpoint, const char *prefix, const char *name,
	const char *yaml, size_t size, char *err, size_t err_size);

#endif /* PL_DATASTORE_ETCD_H */
