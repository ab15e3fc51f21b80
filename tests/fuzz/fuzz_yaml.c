/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the Kubernetes manifest parser (libcommon/pl_k8s.c over libyaml through
 * pl_yaml.c): what `podlanectl apply` and the datastore's directory source read from files an
 * operator or a controller writes. Seeds: tests/fuzz/corpus_yaml (the unit tests' manifests,
 * written by make_corpus_k8s.py).
 *
 * Invariants: the result is the number of invalid documents (counted by the callback) or
 * -EFBIG/-ENOMEM; a valid document has an object and no error, an invalid one an error
 * message and no object; an object equals itself (pl_k8s_object_equal) and has a name; the
 * first error message (when any) is in err; parsing the same bytes twice gives the same
 * documents (equal objects, same errors). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_k8s.h"

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_yaml: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                             \
			abort();                                                              \
		}                                                                             \
	} while (0)

#define MAX_DOCS 64

struct run {
	size_t n_docs, n_invalid;
	struct pl_k8s_object *objs[MAX_DOCS];
	char errs[MAX_DOCS][256];
};

static void on_doc(struct pl_k8s_doc *doc, void *ctx)
{
	struct run *r = ctx;
	if (doc->obj) {
		CHECK(!doc->error);
		CHECK(doc->obj->name[0] || doc->obj->kind == PL_K8S_NAMESPACE);
		CHECK(memchr(doc->obj->name, '\0', sizeof(doc->obj->name)));
		CHECK(pl_k8s_object_equal(doc->obj, doc->obj));
	} else {
		CHECK(doc->error && doc->error[0]);
		r->n_invalid++;
	}
	if (r->n_docs < MAX_DOCS) {
		if (doc->obj) {
			r->objs[r->n_docs] = doc->obj;
			doc->obj = NULL; /* kept: the callback owns it now */
		} else {
			snprintf(r->errs[r->n_docs], sizeof(r->errs[0]), "%s", doc->error);
		}
	}
	r->n_docs++;
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < MAX_DOCS; i++)
		pl_k8s_object_destroy(&r->objs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b;
	char err[512], err2[512];

	if (size > 65536)
		return -1;
	/* A copy of its own size: one byte past the end is a heap overflow. */
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	memcpy(buf, data, size);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	err[0] = err2[0] = '\0';
	int rc = pl_k8s_parse_buffer("fuzz", buf, size, on_doc, &a, err, sizeof(err));
	CHECK(rc == -EFBIG || rc == -ENOMEM || rc >= 0);
	if (rc >= 0) {
		CHECK((size_t)rc == a.n_invalid);
		CHECK(rc == 0 || err[0]);
	}
	int rc2 = pl_k8s_parse_buffer("fuzz", buf, size, on_doc, &b, err2, sizeof(err2));
	CHECK(rc2 == rc && a.n_docs == b.n_docs && strcmp(err, err2) == 0);
	for (size_t i = 0; i < a.n_docs && i < MAX_DOCS; i++) {
		CHECK(!a.objs[i] == !b.objs[i]);
		if (a.objs[i])
			CHECK(pl_k8s_object_equal(a.objs[i], b.objs[i]));
		else
			CHECK(strcmp(a.errs[i], b.errs[i]) == 0);
	}
	run_free(&a);
	run_free(&b);
	free(buf);
	return 0;
}
