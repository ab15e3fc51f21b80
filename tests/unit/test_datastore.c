/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the datastore's directory source: initial load, changes seen through the
 * inotify fd (waited for with poll and a deadline, never a fixed sleep), deletes, an invalid
 * rewrite keeping the old object, duplicates across files, and apply/delete -f (one file per
 * object of every kind, in dependency order). Each test works in its own mkdtemp directory,
 * removed by the teardown even when the test fails. */
#include "pl_datastore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DEADLINE_MS 5000

struct fixture {
	char dir[64];
	char log[8192]; /* "set KEY\n" / "del KEY\n" in order */
	char errors[4096];
	struct pl_datastore *ds;
};

static void on_set(const char *key, const struct pl_k8s_object *obj, void *ctx)
{
	struct fixture *f = ctx;
	size_t used = strlen(f->log);

	assert_non_null(obj);
	snprintf(f->log + used, sizeof(f->log) - used, "set %s\n", key);
}

static void on_del(const char *key, const struct pl_k8s_object *old, void *ctx)
{
	struct fixture *f = ctx;
	size_t used = strlen(f->log);

	assert_non_null(old);
	snprintf(f->log + used, sizeof(f->log) - used, "del %s\n", key);
}

static void on_err(const char *msg, void *ctx)
{
	struct fixture *f = ctx;
	size_t used = strlen(f->errors);

	snprintf(f->errors + used, sizeof(f->errors) - used, "%s\n", msg);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/pl_ds_test.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct dirent *de;
	DIR *d;

	pl_datastore_destroy(&f->ds);
	d = opendir(f->dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Written under a hidden temporary name and renamed into place, as an editor or apply would. */
static void put(struct fixture *f, const char *name, const char *text)
{
	char tmp[512], dst[512];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", f->dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", f->dir, name);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(rename(tmp, dst), 0);
}

static void rm(struct fixture *f, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(unlink(path), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls the datastore's fd until `needle` shows up in the event log (or the error log when
 * in_errors), failing at the deadline. */
static void wait_for(struct fixture *f, const char *needle, bool in_errors)
{
	int64_t deadline = now_ms() + DEADLINE_MS;
	struct pollfd pfd = { .fd = pl_datastore_fd(f->ds), .events = POLLIN };

	while (!strstr(in_errors ? f->errors : f->log, needle)) {
		int64_t left = deadline - now_ms();

		if (left <= 0)
			fail_msg("no '%s' before the deadline; log:\n%s\nerrors:\n%s", needle,
				f->log, f->errors);
		if (poll(&pfd, 1, (int)left) > 0)
			assert_int_equal(pl_datastore_handle(f->ds), 0);
	}
}

static const char svc_a[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
			    "spec: {ports: [{port: 80}]}\n";
static const char svc_b[] = "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
			    "spec: {ports: [{port: 81}]}\n";
static const char eps_a[] = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			    "metadata: {name: a-1, labels: {kubernetes.io/service-name: a}}\n"
			    "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\n";

static void load(struct fixture *f)
{
	f->ds = pl_datastore_dir_new(f->dir, on_set, on_del, on_err, f);
	assert_non_null(f->ds);
}

static size_t dir_entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		n++;
	closedir(d);
	return n;
}

static void test_initial_load(void **state)
{
	struct fixture *f = *state;
	char two[512];

	snprintf(two, sizeof(two), "%s---\n%s", svc_a, svc_b);
	put(f, "svc.yaml", two);
	put(f, "eps.yml", eps_a);
	put(f, "notes.txt", svc_a);
	load(f);
	assert_int_equal(pl_datastore_count(f->ds), 3);
	assert_non_null(strstr(f->log, "set Service/default/a\n"));
	assert_non_null(strstr(f->log, "set Service/default/b\n"));
	assert_non_null(strstr(f->log, "set EndpointSlice/default/a-1\n"));
	assert_int_equal(pl_datastore_get(f->ds, "Service/default/b")->svc.ports[0].port, 81);
	assert_null(pl_datastore_get(f->ds, "Service/default/zz"));
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void test_modify_and_delete(void **state)
{
	struct fixture *f = *state;
	static const char changed[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				      "spec: {ports: [{port: 8080}]}\n"
				      "---\n"
				      "apiVersion: v1\nkind: Service\nmetadata: {name: c}\n"
				      "spec: {ports: [{port: 82}]}\n";
	char two[512];

	snprintf(two, sizeof(two), "%s---\n%s", svc_a, svc_b);
	put(f, "svc.yaml", two);
	put(f, "eps.yaml", eps_a);
	load(f);
	f->log[0] = '\0';

	/* a changes, b goes away, c is new; the EndpointSlice file is untouched. */
	put(f, "svc.yaml", changed);
	wait_for(f, "del Service/default/b\n", false);
	assert_string_equal(f->log, "set Service/default/a\nset Service/default/c\n"
				    "del Service/default/b\n");
	assert_int_equal(pl_datastore_get(f->ds, "Service/default/a")->svc.ports[0].port, 8080);
	assert_int_equal(pl_datastore_count(f->ds), 3);

	/* Rewriting the same content sets nothing. */
	f->log[0] = '\0';
	put(f, "svc.yaml", changed);
	put(f, "marker.yaml", svc_b);
	wait_for(f, "set Service/default/b\n", false);
	assert_string_equal(f->log, "set Service/default/b\n");

	f->log[0] = '\0';
	rm(f, "svc.yaml");
	wait_for(f, "del Service/default/c\n", false);
	assert_non_null(strstr(f->log, "del Service/default/a\n"));
	assert_int_equal(pl_datastore_count(f->ds), 2);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void test_invalid_rewrite_keeps_old(void **state)
{
	struct fixture *f = *state;
	static const char bad[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				  "spec: {ports: [{port: 70000}]}\n"
				  "---\n"
				  "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
				  "spec: {ports: [{port: 91}]}\n";
	char two[512], want[256];

	snprintf(two, sizeof(two), "%s---\n%s", svc_a, svc_b);
	put(f, "svc.yaml", two);
	load(f);
	f->log[0] = '\0';

	put(f, "svc.yaml", bad);
	snprintf(want, sizeof(want),
		"%s/svc.yaml:4: Service default/a: field 'spec.ports[0].port': expected an integer "
		"1..65535, got 70000",
		f->dir);
	wait_for(f, want, true);
	wait_for(f, "set Service/default/b\n", false);
	/* a keeps its previous version and is not deleted; b, valid, is updated. */
	assert_null(strstr(f->log, "Service/default/a"));
	assert_int_equal(pl_datastore_get(f->ds, "Service/default/a")->svc.ports[0].port, 80);
	assert_int_equal(pl_datastore_get(f->ds, "Service/default/b")->svc.ports[0].port, 91);
	assert_int_equal(pl_datastore_n_errors(f->ds), 1);

	/* A file that is not YAML at all keeps everything it held. */
	f->log[0] = '\0';
	put(f, "svc.yaml", "apiVersion: [\n");
	wait_for(f, "YAML syntax error", true);
	assert_string_equal(f->log, "");
	assert_int_equal(pl_datastore_count(f->ds), 2);
}

static void test_duplicate_across_files(void **state)
{
	struct fixture *f = *state;
	static const char other[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				    "spec: {ports: [{port: 9999}]}\n";
	char want[256];

	put(f, "first.yaml", svc_a);
	load(f);
	put(f, "second.yaml", other);
	snprintf(want, sizeof(want),
		"%s/second.yaml:1: Service/default/a: already defined in %s/first.yaml", f->dir,
		f->dir);
	wait_for(f, want, true);
	assert_int_equal(pl_datastore_get(f->ds, "Service/default/a")->svc.ports[0].port, 80);
	assert_int_equal(pl_datastore_n_errors(f->ds), 1);
}

static void test_apply_and_delete(void **state)
{
	struct fixture *f = *state;
	static const char invalid[] = "apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n"
				      "spec: {ports: [{port: 1}]}\n"
				      "---\n"
				      "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\n"
				      "spec: {ports: [{port: '1'}]}\n";
	char both[512], file[256], err[512], path[512];
	size_t before;

	load(f);
	snprintf(both, sizeof(both), "%s---\n%s", svc_a, eps_a);
	assert_int_equal(pl_datastore_dir_write(f->dir, "input.yaml", both, strlen(both), file,
				 sizeof(file), err, sizeof(err)),
		0);
	assert_string_equal(file, "service_default_a.yaml and 1 more");
	/* One file per object. */
	snprintf(path, sizeof(path), "%s/service_default_a.yaml", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/endpointslice_default_a-1.yaml", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	wait_for(f, "set EndpointSlice/default/a-1\n", false);
	assert_non_null(strstr(f->log, "set Service/default/a\n"));

	/* Invalid input: nothing written, no temporary file left. */
	before = dir_entries(f->dir);
	assert_int_equal(pl_datastore_dir_write(f->dir, "input.yaml", invalid, strlen(invalid),
				 NULL, 0, err, sizeof(err)),
		-EINVAL);
	assert_non_null(
		strstr(err, "input.yaml:9: Service default/bad: field 'spec.ports[0].port'"));
	assert_int_equal(dir_entries(f->dir), before);
	assert_int_equal(
		pl_datastore_dir_write(f->dir, "input.yaml", "", 0, NULL, 0, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(dir_entries(f->dir), before);

	/* Applying one of them again alone replaces it (no duplicate in another file). */
	f->log[0] = '\0';
	assert_int_equal(pl_datastore_dir_write(f->dir, "input.yaml", eps_a, strlen(eps_a), file,
				 sizeof(file), err, sizeof(err)),
		0);
	assert_string_equal(file, "endpointslice_default_a-1.yaml");
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);

	/* delete -f: the objects named go, each with its file, and only they. */
	f->log[0] = '\0';
	assert_int_equal(pl_datastore_dir_delete_objects(
				 f->dir, "input.yaml", svc_a, strlen(svc_a), err, sizeof(err)),
		1);
	wait_for(f, "del Service/default/a\n", false);
	assert_int_equal(pl_datastore_count(f->ds), 1);
	assert_int_equal(pl_datastore_dir_delete_objects(
				 f->dir, "input.yaml", both, strlen(both), err, sizeof(err)),
		1);
	wait_for(f, "del EndpointSlice/default/a-1\n", false);
	assert_int_equal(pl_datastore_count(f->ds), 0);
	assert_int_equal(pl_datastore_dir_delete_objects(
				 f->dir, "input.yaml", svc_a, strlen(svc_a), err, sizeof(err)),
		0);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

/* Every kind gets its own file ("namespace__NAME.yaml" for the cluster-scoped Namespace, whose
 * key is "Namespace//NAME"), and the renames go namespaces, pods and slices first, policies next,
 * Services last, whatever the input's order. Re-applying an unchanged object reports nothing;
 * delete -f removes each object's file. */
static void test_apply_policy_kinds(void **state)
{
	struct fixture *f = *state;
	static const char input[] =
		"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
		"spec: {ports: [{port: 80}]}\n"
		"---\n"
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
		"metadata: {name: deny, namespace: shop}\n"
		"spec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n"
		"---\n"
		"apiVersion: policy.podlane.io/v1alpha1\nkind: TierPolicy\n"
		"metadata: {name: guard, namespace: shop}\n"
		"spec: {tier: 1, podSelector: {}, egress: [{action: Deny}]}\n"
		"---\n"
		"apiVersion: v1\nkind: Pod\n"
		"metadata: {name: web-1, namespace: shop, labels: {app: web}}\n"
		"status: {podIP: 10.0.0.5}\n"
		"---\n"
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, namespace: x}\n";
	static const char *const files[] = { "service_shop_web.yaml",
		"networkpolicy_shop_deny.yaml", "tierpolicy_shop_guard.yaml", "pod_shop_web-1.yaml",
		"namespace__shop.yaml", NULL };
	const struct pl_k8s_object *o;
	char file[256], err[512], path[512];
	const char *ns, *pod, *np, *tp, *svc;
	size_t i;

	load(f);
	assert_int_equal(pl_datastore_dir_write(f->dir, "input.yaml", input, strlen(input), file,
				 sizeof(file), err, sizeof(err)),
		0);
	assert_string_equal(file, "service_shop_web.yaml and 4 more");
	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		if (access(path, R_OK))
			fail_msg("%s not written", files[i]);
	}
	wait_for(f, "set Service/shop/web\n", false);
	ns = strstr(f->log, "set Namespace//shop\n");
	pod = strstr(f->log, "set Pod/shop/web-1\n");
	np = strstr(f->log, "set NetworkPolicy/shop/deny\n");
	tp = strstr(f->log, "set TierPolicy/shop/guard\n");
	svc = strstr(f->log, "set Service/shop/web\n");
	assert_true(ns && pod && np && tp && svc);
	assert_true(ns < np && ns < tp && pod < np && pod < tp);
	assert_true(np < svc && tp < svc);
	assert_int_equal(pl_datastore_count(f->ds), 5);
	o = pl_datastore_get(f->ds, "Namespace//shop");
	assert_non_null(o);
	assert_string_equal(o->ns, "");
	assert_string_equal(o->nsobj.labels.v[0].value, "shop");
	o = pl_datastore_get(f->ds, "TierPolicy/shop/guard");
	assert_non_null(o);
	assert_int_equal(o->np.tier, 1);
	assert_int_equal(o->np.egress_rules[0].action, PL_K8S_DENY);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);

	/* The same input again: files replaced, objects equal, nothing reported. */
	f->log[0] = '\0';
	assert_int_equal(pl_datastore_dir_write(f->dir, "input.yaml", input, strlen(input), NULL, 0,
				 err, sizeof(err)),
		0);
	/* inotify keeps order: once this file is seen, the re-applied ones have been too. */
	put(f, "zz-marker.yaml", svc_a);
	wait_for(f, "set Service/default/a\n", false);
	assert_string_equal(f->log, "set Service/default/a\n");

	assert_int_equal(pl_datastore_dir_delete_objects(
				 f->dir, "input.yaml", input, strlen(input), err, sizeof(err)),
		5);
	wait_for(f, "del Namespace//shop\n", false);
	wait_for(f, "del Pod/shop/web-1\n", false);
	wait_for(f, "del TierPolicy/shop/guard\n", false);
	assert_int_equal(pl_datastore_count(f->ds), 1);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void test_missing_dir(void **state)
{
	struct fixture *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/nope", f->dir);
	assert_null(pl_datastore_dir_new(path, on_set, on_del, on_err, f));
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modify_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_rewrite_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_across_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_and_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_policy_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
