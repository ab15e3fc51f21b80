/* SPDX-License-Identifier: Apache-2.0 */
/* The datastore's object table and its directory source. Objects live in a hash table keyed
 * "<Kind>/<ns>/<name>". Directory: each object is owned by the one file it came from; every file
 * keeps the set of keys it defines, so that re-reading it tells which objects appeared, changed or
 * went away. inotify (close-after-write, rename in/out, delete) says which files to re-read; a
 * queue overflow re-scans everything. Writers (podlanectl apply) replace files atomically, so a
 * reader never sees half a file. etcd: pl_datastore_etcd.c's thread queues parsed outcomes, which
 * handle() applies here; a full read is bracketed so that what it did not name can be dropped. */
#include "pl_datastore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pl_config.h"
#include "pl_datastore_etcd.h"

#define N_BUCKETS 4096
#define MSG_SIZE 1024
#define FILE_NAME_SIZE 256

struct dfile {
	char name[FILE_NAME_SIZE];
	char (*keys)[PL_K8S_KEY_SIZE];
	size_t n_keys;
	bool seen; /* during a re-scan */
	struct dfile *next;
};

struct entry {
	char key[PL_K8S_KEY_SIZE];
	struct pl_k8s_object *obj;
	struct dfile *file; /* directory source */
	uint64_t sync_gen; /* etcd source: the last full read that named it */
	struct entry *next;
};

struct pl_datastore {
	struct pl_datastore_etcd_watch *etcd; /* NULL: the directory source */
	char dir[PATH_MAX];
	int fd;
	pl_datastore_set_fn *cb_set;
	pl_datastore_del_fn *cb_del;
	pl_datastore_err_fn *cb_err;
	void *ctx;
	struct entry *buckets[N_BUCKETS];
	size_t count;
	struct dfile *files;
	uint64_t n_errors;
	/* etcd source: between SYNC_BEGIN and SYNC_END, with this generation. */
	bool syncing;
	bool synced; /* a full read has completed at least once */
	uint64_t sync_gen;
};

/* A document of the file being re-read. */
struct pending {
	char key[PL_K8S_KEY_SIZE];
	struct pl_k8s_object *obj; /* NULL: invalid document */
	size_t line;
	bool identified; /* invalid, but its key is known */
};

struct collect {
	struct pl_datastore *ds;
	struct pending *docs;
	size_t n_docs, cap;
	bool anonymous_error; /* an invalid document whose identity is unknown */
	int rc;
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static struct entry **find_slot(struct pl_datastore *ds, const char *key)
{
	struct entry **pp = &ds->buckets[hash(key) % N_BUCKETS];

	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

static int handle_dir(struct pl_datastore *ds);

static void report(struct pl_datastore *ds, const char *msg)
{
	ds->n_errors++;
	if (ds->cb_err)
		ds->cb_err(msg, ds->ctx);
}

static void reportf(struct pl_datastore *ds, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reportf(struct pl_datastore *ds, const char *fmt, ...)
{
	char msg[MSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(ds, msg);
}

static bool yaml_name(const char *name)
{
	size_t len = strlen(name);

	if (name[0] == '.' || len >= FILE_NAME_SIZE)
		return false;
	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

static struct dfile *find_file(struct pl_datastore *ds, const char *name)
{
	struct dfile *f;

	for (f = ds->files; f; f = f->next)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

static bool has_key(char (*keys)[PL_K8S_KEY_SIZE], size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(keys[i], key))
			return true;
	return false;
}

static void remove_key(struct pl_datastore *ds, const char *key)
{
	struct entry **pp = find_slot(ds, key), *e = *pp;

	if (!e)
		return;
	*pp = e->next;
	ds->count--;
	if (ds->cb_del)
		ds->cb_del(e->key, e->obj, ds->ctx);
	pl_k8s_object_destroy(&e->obj);
	free(e);
}

static void remove_file(struct pl_datastore *ds, const char *name)
{
	struct dfile **pp = &ds->files, *f;
	size_t i;

	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	if (!(f = *pp))
		return;
	*pp = f->next;
	for (i = 0; i < f->n_keys; i++)
		remove_key(ds, f->keys[i]);
	free(f->keys);
	free(f);
}

static void on_doc(struct pl_k8s_doc *doc, void *arg)
{
	struct collect *c = arg;
	struct pending *p;

	if (doc->error)
		report(c->ds, doc->error);
	if (doc->error && (!doc->name || !doc->name[0] || doc->kind == PL_K8S_UNKNOWN)) {
		c->anonymous_error = true;
		return;
	}
	if (c->n_docs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct pending *d = realloc(c->docs, cap * sizeof(*d));

		if (!d) {
			c->rc = -ENOMEM;
			c->anonymous_error = true;
			return;
		}
		c->docs = d;
		c->cap = cap;
	}
	p = &c->docs[c->n_docs++];
	memset(p, 0, sizeof(*p));
	pl_k8s_key(doc->kind, doc->ns, doc->name, p->key, sizeof(p->key));
	p->line = doc->line;
	if (doc->obj) {
		p->obj = doc->obj;
		doc->obj = NULL;
	} else {
		p->identified = true;
	}
}

/* Applies the documents now in file `name` against what it defined before. */
static int apply_file(struct pl_datastore *ds, struct dfile *f, struct collect *c)
{
	char(*keys)[PL_K8S_KEY_SIZE];
	size_t n = 0, i;

	keys = calloc(c->n_docs + f->n_keys + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < c->n_docs; i++) {
		struct pending *p = &c->docs[i];
		struct entry **slot, *e;

		if (!p->obj) {
			/* Invalid now: the previous version (if this file had one) stays. */
			if (has_key(f->keys, f->n_keys, p->key) && !has_key(keys, n, p->key))
				snprintf(keys[n++], sizeof(keys[0]), "%s", p->key);
			continue;
		}
		if (has_key(keys, n, p->key)) {
			reportf(ds, "%s/%s:%zu: %s: defined twice in this file", ds->dir, f->name,
				p->line, p->key);
			pl_k8s_object_destroy(&p->obj);
			continue;
		}
		slot = find_slot(ds, p->key);
		e = *slot;
		if (e && e->file != f) {
			reportf(ds, "%s/%s:%zu: %s: already defined in %s/%s; ignored", ds->dir,
				f->name, p->line, p->key, ds->dir, e->file->name);
			pl_k8s_object_destroy(&p->obj);
			continue;
		}
		snprintf(keys[n++], sizeof(keys[0]), "%s", p->key);
		if (e) {
			if (pl_k8s_object_equal(e->obj, p->obj)) {
				pl_k8s_object_destroy(&p->obj);
				continue;
			}
			pl_k8s_object_destroy(&e->obj);
			e->obj = p->obj;
			p->obj = NULL;
		} else {
			e = calloc(1, sizeof(*e));
			if (!e) {
				pl_k8s_object_destroy(&p->obj);
				n--;
				continue;
			}
			snprintf(e->key, sizeof(e->key), "%s", p->key);
			e->obj = p->obj;
			p->obj = NULL;
			e->file = f;
			*slot = e;
			ds->count++;
		}
		if (ds->cb_set)
			ds->cb_set(e->key, e->obj, ds->ctx);
	}
	for (i = 0; i < f->n_keys; i++) {
		if (has_key(keys, n, f->keys[i]))
			continue;
		/* Without knowing what an unreadable document meant, keep what it may hold. */
		if (c->anonymous_error)
			snprintf(keys[n++], sizeof(keys[0]), "%s", f->keys[i]);
		else
			remove_key(ds, f->keys[i]);
	}
	free(f->keys);
	f->keys = keys;
	f->n_keys = n;
	return 0;
}

static int load_file(struct pl_datastore *ds, const char *name)
{
	struct collect c = { .ds = ds };
	char path[PATH_MAX + FILE_NAME_SIZE];
	char err[MSG_SIZE];
	struct dfile *f;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", ds->dir, name);
	rc = pl_k8s_parse_file(path, on_doc, &c, err, sizeof(err));
	if (rc == -ENOENT) {
		/* Gone before we read it: its delete event follows or already came. */
		remove_file(ds, name);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		/* The file as a whole was refused (too large, unreadable): keep its objects. */
		report(ds, err);
		goto out;
	}
	if (c.rc) {
		rc = c.rc;
		goto out;
	}
	f = find_file(ds, name);
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(f->name, sizeof(f->name), "%s", name);
		f->next = ds->files;
		ds->files = f;
	}
	f->seen = true;
	rc = apply_file(ds, f, &c);
out:
	for (i = 0; i < c.n_docs; i++)
		pl_k8s_object_destroy(&c.docs[i].obj);
	free(c.docs);
	return rc;
}

static int rescan(struct pl_datastore *ds)
{
	struct dfile *f, *next;
	struct dirent *de;
	DIR *d;

	d = opendir(ds->dir);
	if (!d)
		return -errno;
	for (f = ds->files; f; f = f->next)
		f->seen = false;
	while ((de = readdir(d))) {
		if (!yaml_name(de->d_name))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
			continue;
		if (load_file(ds, de->d_name) == -ENOMEM) {
			closedir(d);
			return -ENOMEM;
		}
		f = find_file(ds, de->d_name);
		if (f)
			f->seen = true;
	}
	closedir(d);
	for (f = ds->files; f; f = next) {
		next = f->next;
		if (!f->seen)
			remove_file(ds, f->name);
	}
	return 0;
}

struct pl_datastore *pl_datastore_dir_new(const char *path, pl_datastore_set_fn *cb_set,
	pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err, void *ctx)
{
	struct pl_datastore *ds;
	int rc;

	if (strlen(path) >= sizeof(ds->dir)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return NULL;
	snprintf(ds->dir, sizeof(ds->dir), "%s", path);
	ds->cb_set = cb_set;
	ds->cb_del = cb_del;
	ds->cb_err = cb_err;
	ds->ctx = ctx;
	ds->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ds->fd < 0)
		goto fail;
	/* Watch before the first scan, so that nothing written in between is missed. */
	if (inotify_add_watch(ds->fd, path,
		    IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR) < 0)
		goto fail;
	rc = rescan(ds);
	if (rc) {
		errno = -rc;
		goto fail;
	}
	return ds;
fail:
	rc = errno;
	pl_datastore_destroy(&ds);
	errno = rc;
	return NULL;
}

void pl_datastore_destroy(struct pl_datastore **dsp)
{
	struct pl_datastore *ds;
	struct dfile *f, *fn;
	struct entry *e, *en;
	size_t i;

	if (!dsp || !*dsp)
		return;
	ds = *dsp;
	for (i = 0; i < N_BUCKETS; i++) {
		for (e = ds->buckets[i]; e; e = en) {
			en = e->next;
			pl_k8s_object_destroy(&e->obj);
			free(e);
		}
	}
	for (f = ds->files; f; f = fn) {
		fn = f->next;
		free(f->keys);
		free(f);
	}
	/* The etcd source's fd belongs to its watch. */
	if (ds->etcd)
		pl_datastore_etcd_watch_destroy(&ds->etcd);
	else if (ds->fd >= 0)
		close(ds->fd);
	free(ds);
	*dsp = NULL;
}

/* ---- the etcd source ---- */

/* obj (taken over) is what key holds now. */
static void store_object(struct pl_datastore *ds, const char *key, struct pl_k8s_object **objp)
{
	struct entry **slot = find_slot(ds, key), *e = *slot;

	if (e) {
		e->sync_gen = ds->sync_gen;
		/* Also what a resumed watch or a re-read brings again: nothing to report. */
		if (pl_k8s_object_equal(e->obj, *objp)) {
			pl_k8s_object_destroy(objp);
			return;
		}
		pl_k8s_object_destroy(&e->obj);
	} else {
		e = calloc(1, sizeof(*e));
		if (!e) {
			reportf(ds, "%s: out of memory; not stored", key);
			pl_k8s_object_destroy(objp);
			return;
		}
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->sync_gen = ds->sync_gen;
		*slot = e;
		ds->count++;
	}
	e->obj = *objp;
	*objp = NULL;
	if (ds->cb_set)
		ds->cb_set(e->key, e->obj, ds->ctx);
}

/* After a complete full read: what it did not name is no longer in etcd. */
static void drop_unsynced(struct pl_datastore *ds)
{
	struct entry *e, *next;
	size_t i;

	for (i = 0; i < N_BUCKETS; i++) {
		for (e = ds->buckets[i]; e; e = next) {
			next = e->next;
			if (e->sync_gen != ds->sync_gen)
				remove_key(ds, e->key);
		}
	}
}

static int handle_etcd(struct pl_datastore *ds)
{
	struct pl_datastore_etcd_event *ev, *next;
	struct entry *e;

	for (ev = pl_datastore_etcd_watch_take(ds->etcd); ev; ev = next) {
		next = ev->next;
		switch (ev->type) {
		case PL_DATASTORE_ETCD_SET:
			store_object(ds, ev->key, &ev->obj);
			break;
		case PL_DATASTORE_ETCD_INVALID:
			/* The previous version stays, and a full read must not drop it either. */
			e = ev->key[0] ? *find_slot(ds, ev->key) : NULL;
			if (e)
				e->sync_gen = ds->sync_gen;
			report(ds, ev->msg);
			break;
		case PL_DATASTORE_ETCD_DEL:
			remove_key(ds, ev->key);
			break;
		case PL_DATASTORE_ETCD_SYNC_BEGIN:
			ds->syncing = true;
			ds->sync_gen++;
			break;
		case PL_DATASTORE_ETCD_SYNC_END:
			if (ds->syncing)
				drop_unsynced(ds);
			ds->syncing = false;
			ds->synced = true;
			break;
		case PL_DATASTORE_ETCD_SYNC_ABORT:
			ds->syncing = false;
			break;
		case PL_DATASTORE_ETCD_NOTICE:
			/* Not a rejected object: not counted. */
			if (ds->cb_err)
				ds->cb_err(ev->msg, ds->ctx);
			break;
		}
		pl_datastore_etcd_event_free(ev);
	}
	return 0;
}

struct pl_datastore *pl_datastore_etcd_new(const char *endpoint, const char *prefix,
	pl_datastore_set_fn *cb_set, pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err,
	void *ctx)
{
	struct pl_datastore *ds = calloc(1, sizeof(*ds));
	int rc;

	if (!ds)
		return NULL;
	ds->fd = -1;
	ds->cb_set = cb_set;
	ds->cb_del = cb_del;
	ds->cb_err = cb_err;
	ds->ctx = ctx;
	ds->etcd = pl_datastore_etcd_watch_new(endpoint, prefix);
	if (!ds->etcd) {
		rc = errno;
		free(ds);
		errno = rc;
		return NULL;
	}
	ds->fd = pl_datastore_etcd_watch_fd(ds->etcd);
	return ds;
}

static bool etcd_source(const struct pl_config *cfg)
{
	return !strcmp(cfg->datastore.source, "etcd");
}

struct pl_datastore *pl_datastore_open(const struct pl_config *cfg, pl_datastore_set_fn *cb_set,
	pl_datastore_del_fn *cb_del, pl_datastore_err_fn *cb_err, void *ctx)
{
	if (etcd_source(cfg))
		return pl_datastore_etcd_new(cfg->datastore.etcd_endpoint,
			cfg->datastore.etcd_prefix, cb_set, cb_del, cb_err, ctx);
	/* A fresh node has no directory yet: an empty datastore, not an error. */
	if (mkdir(cfg->datastore.dir, 0755) < 0 && errno != EEXIST)
		return NULL;
	return pl_datastore_dir_new(cfg->datastore.dir, cb_set, cb_del, cb_err, ctx);
}

int pl_datastore_fd(const struct pl_datastore *ds)
{
	return ds->fd;
}

int pl_datastore_handle(struct pl_datastore *ds)
{
	if (ds->etcd)
		return handle_etcd(ds);
	return handle_dir(ds);
}

static int handle_dir(struct pl_datastore *ds)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool overflow = false;
	ssize_t len;
	char *p;
	int rc = 0;

	for (;;) {
		len = read(ds->fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == EAGAIN)
			break;
		if (len < 0)
			return -errno;
		if (len == 0)
			break;
		for (p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = true;
				continue;
			}
			if (ev->mask & IN_IGNORED) {
				reportf(ds, "%s: directory no longer watched", ds->dir);
				continue;
			}
			if (!ev->len || !yaml_name(ev->name) || overflow)
				continue;
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				remove_file(ds, ev->name);
			else if (load_file(ds, ev->name) == -ENOMEM)
				rc = -ENOMEM;
		}
	}
	if (overflow)
		rc = rescan(ds);
	return rc;
}

const struct pl_k8s_object *pl_datastore_get(const struct pl_datastore *ds, const char *key)
{
	struct entry *e = *find_slot((struct pl_datastore *)ds, key);

	return e ? e->obj : NULL;
}

bool pl_datastore_synced(const struct pl_datastore *ds)
{
	return !ds->etcd || ds->synced;
}

size_t pl_datastore_count(const struct pl_datastore *ds)
{
	return ds->count;
}

uint64_t pl_datastore_n_errors(const struct pl_datastore *ds)
{
	return ds->n_errors;
}

/* ---- podlanectl apply / delete ---- */

struct idents {
	char (*files)[FILE_NAME_SIZE];
	size_t *lines; /* first line of each document (its "---" line) */
	enum pl_k8s_kind *kinds;
	size_t n, cap;
	size_t n_objects;
	bool anonymous;
	bool nomem;
};

/* "<kind>_<ns>_<name>.yaml" ("namespace__<name>.yaml": a Namespace has no namespace): '_' cannot
 * occur in a namespace or a name, so no two objects share a file name. */
static int object_file_name(
	enum pl_k8s_kind kind, const char *ns, const char *name, char *out, size_t size)
{
	const char *k;
	int n;

	switch (kind) {
	case PL_K8S_SERVICE:
		k = "service";
		break;
	case PL_K8S_ENDPOINT_SLICE:
		k = "endpointslice";
		break;
	case PL_K8S_NETWORK_POLICY:
		k = "networkpolicy";
		break;
	case PL_K8S_NAMESPACE:
		k = "namespace";
		break;
	case PL_K8S_POD:
		k = "pod";
		break;
	case PL_K8S_TIER_POLICY:
		k = "tierpolicy";
		break;
	default:
		return -EINVAL;
	}
	n = snprintf(out, size, "%s_%s_%s.yaml", k, ns, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The order of the renames: what others refer to first (namespaces, pods, endpoint slices),
 * then policies, Services last, so that a Service never shows up without its endpoints and a
 * policy finds the pods and namespaces it selects. */
#define N_RENAME_PASSES 3

static int rename_pass(enum pl_k8s_kind kind)
{
	switch (kind) {
	case PL_K8S_SERVICE:
		return 2;
	case PL_K8S_NETWORK_POLICY:
	case PL_K8S_TIER_POLICY:
		return 1;
	default:
		return 0;
	}
}

static void on_ident(struct pl_k8s_doc *doc, void *arg)
{
	struct idents *ids = arg;

	if (!doc->name || !doc->name[0] || doc->kind == PL_K8S_UNKNOWN) {
		ids->anonymous = true;
		return;
	}
	if (doc->obj)
		ids->n_objects++;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 8;
		char(*f)[FILE_NAME_SIZE] = realloc(ids->files, cap * sizeof(*f));
		size_t *l = f ? realloc(ids->lines, cap * sizeof(*l)) : NULL;
		enum pl_k8s_kind *k = l ? realloc(ids->kinds, cap * sizeof(*k)) : NULL;

		if (f)
			ids->files = f;
		if (l)
			ids->lines = l;
		if (!k) {
			ids->nomem = true;
			return;
		}
		ids->kinds = k;
		ids->cap = cap;
	}
	ids->lines[ids->n] = doc->line;
	ids->kinds[ids->n] = doc->kind;
	if (object_file_name(
		    doc->kind, doc->ns, doc->name, ids->files[ids->n], sizeof(ids->files[0])))
		ids->anonymous = true;
	else
		ids->n++;
}

static int write_all(int fd, const char *buf, size_t size)
{
	ssize_t n;

	while (size) {
		n = write(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		size -= (size_t)n;
	}
	return 0;
}

/* Byte offset of the start of line `line` (1-based) in yaml; size when past the end. */
static size_t line_offset(const char *yaml, size_t size, size_t line)
{
	size_t off = 0;

	for (size_t l = 1; l < line && off < size; off++)
		if (yaml[off] == '\n')
			l++;
	return off;
}

/* One temporary file holding buf, fsync'ed. 0 or -errno (err set). */
static int write_temp(const char *dir, const char *file, const char *buf, size_t len, char *tmp,
	size_t tmp_size, char *err, size_t err_size)
{
	int fd, rc = 0;

	if (snprintf(tmp, tmp_size, "%s/.%s.XXXXXX", dir, file) >= (int)tmp_size) {
		snprintf(err, err_size, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		return rc;
	}
	rc = write_all(fd, buf, len);
	if (!rc && fchmod(fd, 0644) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (rc)
		snprintf(err, err_size, "%s: %s", tmp, strerror(-rc));
	return rc;
}

int pl_datastore_dir_write(const char *dir, const char *name, const char *yaml, size_t size,
	char *file_out, size_t file_size, char *err, size_t err_size)
{
	char dst[PATH_MAX];
	char(*tmps)[PATH_MAX] = NULL;
	struct idents ids = { 0 };
	size_t i;
	int rc, dfd;

	rc = pl_k8s_parse_buffer(name, yaml, size, on_ident, &ids, err, err_size);
	if (ids.nomem)
		rc = -ENOMEM;
	if (rc > 0)
		rc = -EINVAL;
	if (!rc && (!ids.n_objects || !ids.n)) {
		snprintf(err, err_size, "%s: no Kubernetes object in it", name);
		rc = -EINVAL;
	}
	if (!rc && !(tmps = calloc(ids.n, sizeof(*tmps))))
		rc = -ENOMEM;
	if (rc)
		goto out;
	/* One file per object, so that applying an object again (alone or with others) replaces
	 * it wherever it came from: every temporary file first, then the renames. */
	for (i = 0; i < ids.n && !rc; i++) {
		size_t from = line_offset(yaml, size, ids.lines[i]);
		size_t to = i + 1 < ids.n ? line_offset(yaml, size, ids.lines[i + 1]) : size;

		rc = write_temp(dir, ids.files[i], yaml + from, to - from, tmps[i], sizeof(tmps[i]),
			err, err_size);
	}
	for (int pass = 0; pass < N_RENAME_PASSES && !rc; pass++) {
		for (i = 0; i < ids.n && !rc; i++) {
			if (rename_pass(ids.kinds[i]) != pass)
				continue;
			if (snprintf(dst, sizeof(dst), "%s/%s", dir, ids.files[i]) >=
				(int)sizeof(dst)) {
				snprintf(err, err_size, "%s: path too long", dir);
				rc = -ENAMETOOLONG;
			} else if (rename(tmps[i], dst) < 0) {
				rc = -errno;
				snprintf(err, err_size, "%s: %s", dst, strerror(errno));
			} else {
				tmps[i][0] = '\0';
			}
		}
	}
	if (rc)
		goto out;
	/* The renames themselves must reach the disk too. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (file_out && file_size) {
		if (ids.n == 1)
			snprintf(file_out, file_size, "%s", ids.files[0]);
		else
			snprintf(file_out, file_size, "%s and %zu more", ids.files[0], ids.n - 1);
	}
out:
	for (i = 0; tmps && i < ids.n; i++)
		if (tmps[i][0])
			unlink(tmps[i]);
	free(tmps);
	free(ids.files);
	free(ids.lines);
	free(ids.kinds);
	return rc;
}

int pl_datastore_dir_delete_objects(const char *dir, const char *name, const char *yaml,
	size_t size, char *err, size_t err_size)
{
	struct idents ids = { 0 };
	char path[PATH_MAX];
	int rc, removed = 0;
	size_t i;

	rc = pl_k8s_parse_buffer(name, yaml, size, on_ident, &ids, err, err_size);
	if (ids.nomem)
		rc = -ENOMEM;
	if (rc >= 0 && ids.anonymous) {
		/* Only the identity matters for delete, but it must be known for every one. */
		rc = -EINVAL;
	}
	if (rc >= 0 && !ids.n) {
		snprintf(err, err_size, "%s: no Kubernetes object named in it", name);
		rc = -EINVAL;
	}
	if (rc < 0)
		goto out;
	if (err && err_size)
		err[0] = '\0';
	for (i = 0; i < ids.n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, ids.files[i]) >= (int)sizeof(path))
			continue;
		if (unlink(path) == 0)
			removed++;
		else if (errno != ENOENT && err && err_size)
			snprintf(err, err_size, "%s: %s", path, strerror(errno));
	}
	rc = removed;
out:
	free(ids.files);
	free(ids.lines);
	free(ids.kinds);
	return rc;
}

int pl_datastore_write(const struct pl_config *cfg, const char *name, const char *yaml, size_t size,
	char *where, size_t where_size, char *err, size_t err_size)
{
	if (etcd_source(cfg))
		return pl_datastore_etcd_write(cfg->datastore.etcd_endpoint,
			cfg->datastore.etcd_prefix, name, yaml, size, where, where_size, err,
			err_size);
	return pl_datastore_dir_write(
		cfg->datastore.dir, name, yaml, size, where, where_size, err, err_size);
}

int pl_datastore_delete_objects(const struct pl_config *cfg, const char *name, const char *yaml,
	size_t size, char *err, size_t err_size)
{
	if (etcd_source(cfg))
		return pl_datastore_etcd_delete_objects(cfg->datastore.etcd_endpoint,
			cfg->datastore.etcd_prefix, name, yaml, size, err, err_size);
	return pl_datastore_dir_delete_objects(cfg->datastore.dir, name, yaml, size, err, err_size);
}
