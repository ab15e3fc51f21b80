/* SPDX-License-Identifier: Apache-2.0 */
/* The datastore: Kubernetes-shaped objects (pl_k8s.h) keyed "<Kind>/<ns>/<name>", from one of two
 * sources behind the same calls. Directory: every *.yaml / *.yml file of one directory (not
 * recursive), re-read on inotify events. etcd v3: one object's YAML document per key
 * <prefix><Kind>/<ns>/<name>, read and then watched by a background thread. Either way the caller
 * polls pl_datastore_fd() and calls pl_datastore_handle(), which reports objects that appeared,
 * changed or went away; an invalid document keeps the previous version of its object.
 * pl_datastore_write/_delete_objects are podlanectl apply/delete -f. */
#ifndef PL_DATASTORE_H
#define PL_DATASTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pl_k8s.h"

struct pl_datastore;
struct pl_config;

/* obj is borrowed: valid until the next pl_datastore_handle() or pl_datastore_destroy(). */
typedef void pl_datastore_set_fn(const char *key, const struct pl_k8s_object *obj, void *ctx);
/* old is the version being removed, borrowed for the call only. */
typedef void pl_datastore_del_fn(const char *key, const struct pl_k8s_object *old, void *ctx);
/* One rejected document, file or duplicate, formatted "FILE:LINE: ..." ("etcd KEY:LINE: ..." for
 * etcd values); for etcd also "etcd URL: ...; retrying" once per outage of the connection. */
typedef void pl_datastore_err_fn(const char *msg, void *ctx);

/* Loads the directory (cb_set for every valid object, cb_err for every error) and starts
 * watching it. cb_err may be NULL. NULL with errno set when the directory cannot be watched. */
struct pl_datastore *pl_datastore_dir_new(const char *path, pl_datastore_set_fn *cb_set,
	pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err, void *ctx);

/* The etcd v3 source (endpoint "http://host:port", prefix e.g. "/podlane/objects/"). Returns at
 * once, without waiting for etcd: a background thread reads every key under the prefix, then
 * watches from the revision read. On a lost connection it retries (100 ms doubling to 2 s) and
 * resumes the watch at the next revision; when etcd compacted that revision, it reads everything
 * again and reconciles (sets for what changed, dels for what is gone). Nothing reaches the
 * callbacks except inside pl_datastore_handle(), in the caller's thread -- the initial load
 * included. A value is rejected when it is not exactly one valid object, when that object's
 * identity is not its key, or when it is larger than PL_K8S_MAX_FILE_SIZE. NULL with errno
 * EINVAL when the endpoint is not an http:// or https:// URL or the prefix is empty. */
struct pl_datastore *pl_datastore_etcd_new(const char *endpoint, const char *prefix,
	pl_datastore_set_fn *cb_set, pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err,
	void *ctx);

/* The source cfg->datastore.source names ("dir" or "etcd"), as its constructor above does; a
 * missing datastore.dir is created first (one level, mode 0755). */
struct pl_datastore *pl_datastore_open(const struct pl_config *cfg, pl_datastore_set_fn *cb_set,
	pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err, void *ctx);

void pl_datastore_destroy(struct pl_datastore **dsp);

/* Readable when pl_datastore_handle() has work. */
int pl_datastore_fd(const struct pl_datastore *ds);
/* Drains the fd and applies what changed. 0, or -errno when the fd failed. */
int pl_datastore_handle(struct pl_datastore *ds);

/* Borrowed; NULL when absent. */
const struct pl_k8s_object *pl_datastore_get(const struct pl_datastore *ds, const char *key);
size_t pl_datastore_count(const struct pl_datastore *ds);
/* The objects are the whole source: always for a directory (read when it is opened); for etcd
 * once its first full read has completed. A consumer that replaces state it already has (a
 * table that survived a restart) waits for this, so that a partial view never removes objects. */
bool pl_datastore_synced(const struct pl_datastore *ds);
/* Documents/files/values rejected since the datastore was made (not connection trouble). */
uint64_t pl_datastore_n_errors(const struct pl_datastore *ds);

/* `name` stands for the input in messages (e.g. the file apply -f read). */
/* Validates yaml (every document must be valid, at least one object), then writes each document
 * into the file of its object, <kind>_<ns>_<name>.yaml ("_" cannot occur in a name), replacing
 * what that object had: temp files and fsync for all, then the renames (EndpointSlices before
 * Services), then an fsync of the directory. Nothing is written on error. What was written
 * goes to file_out when non-NULL ("F" or "F and N more"). 0 or -errno, reason in err. */
int pl_datastore_dir_write(const char *dir, const char *name, const char *yaml, size_t size,
	char *file_out, size_t file_size, char *err, size_t err_size);

/* Removes the files <kind>_<ns>_<name>.yaml of the objects named in yaml (only their identity
 * is needed). Returns how many files were removed, or -errno. */
int pl_datastore_dir_delete_objects(const char *dir, const char *name, const char *yaml,
	size_t size, char *err, size_t err_size);

/* podlanectl apply -f / delete -f into the configured source. The directory: as the two
 * functions above (where gets the file name). etcd: the input is validated whole in the same
 * way, then each document is put under its object's key, all in one transaction (where gets
 * "etcd <first key>[ and N more]"); delete removes the keys of the objects named, also in one
 * transaction, and returns how many existed. Nothing is written on error; 0 / count or -errno,
 * with the reason in err. */
int pl_datastore_write(const struct pl_config *cfg, const char *name, const char *yaml, size_t size,
	char *where, size_t where_size, char *err, size_t err_size);
int pl_datastore_delete_objects(const struct pl_config *cfg, const char *name, const char *yaml,
	size_t size, char *err, size_t err_size);

#endif /* PL_DATASTORE_H */
