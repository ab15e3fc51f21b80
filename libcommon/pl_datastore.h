/* SPDX-License-Identifier: Apache-2.0 */
/* The datastore's directory source: every *.yaml / *.yml file of one directory (not recursive)
 * holds Kubernetes-shaped documents (pl_k8s.h). The caller polls an inotify fd and calls
 * pl_datastore_handle(), which re-reads the changed files and reports objects that appeared,
 * changed or went away, keyed "<Kind>/<ns>/<name>". An invalid document keeps the previous
 * version of its object. pl_datastore_dir_write/_delete_objects are podlanectl apply/delete -f. */
#ifndef PL_DATASTORE_H
#define PL_DATASTORE_H

#include <stddef.h>
#include <stdint.h>

#include "pl_k8s.h"

struct pl_datastore;

/* obj is borrowed: valid until the next pl_datastore_handle() or pl_datastore_destroy(). */
typedef void pl_datastore_set_fn(const char *key, const struct pl_k8s_object *obj, void *ctx);
/* old is the version being removed, borrowed for the call only. */
typedef void pl_datastore_del_fn(const char *key, const struct pl_k8s_object *old, void *ctx);
/* One rejected document, file or duplicate, formatted "FILE:LINE: ...". */
typedef void pl_datastore_err_fn(const char *msg, void *ctx);

/* Loads the directory (cb_set for every valid object, cb_err for every error) and starts
 * watching it. cb_err may be NULL. NULL with errno set when the directory cannot be watched. */
struct pl_datastore *pl_datastore_dir_new(const char *path, pl_datastore_set_fn *cb_set,
	pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err, void *ctx);
void pl_datastore_destroy(struct pl_datastore **dsp);

/* Readable when pl_datastore_handle() has work. */
int pl_datastore_fd(const struct pl_datastore *ds);
/* Drains the fd and applies what changed. 0, or -errno when the fd failed. */
int pl_datastore_handle(struct pl_datastore *ds);

/* Borrowed; NULL when absent. */
const struct pl_k8s_object *pl_datastore_get(const struct pl_datastore *ds, const char *key);
size_t pl_datastore_count(const struct pl_datastore *ds);
/* Documents/files rejected since pl_datastore_dir_new. */
uint64_t pl_datastore_n_errors(const struct pl_datastore *ds);

/* `name` stands for the input in messages (e.g. the file apply -f read). */
/* Validates yaml (every document must be valid, at least one object) and writes it whole,
 * atomically (temp file, fsync, rename, fsync of the directory), named after its first object:
 * <kind>_<ns>_<name>.yaml ("_" cannot occur in a name). Nothing is written on error. The file
 * name goes to file_out when non-NULL (file_size bytes). 0 or -errno, with the reason in err. */
int pl_datastore_dir_write(const char *dir, const char *name, const char *yaml, size_t size,
	char *file_out, size_t file_size, char *err, size_t err_size);

/* Removes the files <kind>_<ns>_<name>.yaml of the objects named in yaml (only their identity
 * is needed). Returns how many files were removed, or -errno. */
int pl_datastore_dir_delete_objects(const char *dir, const char *name, const char *yaml,
	size_t size, char *err, size_t err_size);

#endif /* PL_DATASTORE_H */
