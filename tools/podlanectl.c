/* SPDX-License-Identifier: Apache-2.0 */
/* podlanectl: the one admin client for every podlane service (like ovs-appctl / vppctl).
 * Sends `module/verb ARGS` to a service's admin socket and prints the reply as text or JSON;
 * `status` combines the supervisor's service table with a liveness probe of each service. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <zmq.h>

#include <msgpack.h>

#include "pl_admin.h"
#include "pl_bus.h"
#include "pl_config.h"
#include "pl_datastore.h"
#include "pl_stats.h"

#ifndef PODLANE_VERSION
#define PODLANE_VERSION "0.0.0"
#endif

enum {
	EXIT_OK = 0,
	EXIT_CMD_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: podlanectl [OPTIONS] COMMAND [ARG...]\n"
		"       podlanectl [OPTIONS] status\n"
		"Sends an admin command to a podlane service and prints the reply.\n\n"
		"Options:\n"
		"  -s, --service NAME   supervisor (default), io-worker, nat-lb, policy, router,\n"
		"                       cni-server, bgp-bridge\n"
		"  -c, --config FILE    read run_dir from this configuration file\n"
		"  -r, --run-dir DIR    where the admin sockets are (overrides the config)\n"
		"  -j, --json           JSON reply\n"
		"  -t, --timeout MS     reply timeout (default 3000)\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n\n"
		"Commands every service answers: list-commands, version, log/set [MODULE] LEVEL,\n"
		"log/show, counters/show [NAME]. `podlanectl -s SERVICE list-commands` lists the "
		"rest.\n"
		"apply -f FILE / delete -f FILE: Kubernetes-shaped objects (v1 Service,\n"
		"discovery.k8s.io/v1 EndpointSlice, networking.k8s.io/v1 NetworkPolicy,\n"
		"v1 Namespace, v1 Pod, policy.podlane.io/v1alpha1 TierPolicy) into / out of\n"
		"the configured datastore source (datastore.source: the directory\n"
		"datastore.dir, or etcd at datastore.etcd_endpoint under datastore.etcd_prefix,\n"
		"in one transaction); validated whole first (an invalid document changes\n"
		"nothing). FILE - reads stdin.\n"
		"pod add NETNS IFNAME ADDR... [allow=PREFIX...] / pod del NETNS IFNAME / pods: "
		"pod\n"
		"interfaces; allow= names other sources the pod may use (anti-spoofing drops the "
		"rest)\n"
		"(shorthands for -s cni-server pod/add, pod/del, pods/show).\n"
		"flows [COUNT]: policy's flow log (one JSON record per evaluated flow: 5-tuple,\n"
		"verdict, deciding policy and rule per direction), COUNT records (default: until\n"
		"interrupted); with COUNT, -t is how long to wait for each (exit 1 on timeout).\n"
		"bus-dump [PRODUCER]: sync with a state-bus producer (default supervisor) and\n"
		"print the objects it asserts, as JSON.\n"
		"status: every service's state, restarts, standby and whether its admin socket "
		"answers;\n"
		"exit status 0 only when all are ready and answering.\n\n"
		"Exit status: 0 ok, 1 the command failed, 2 usage error, 3 service unreachable\n"
		"(or, for status, not all services healthy).\n");
}

/* msgpack -> JSON for the common value shapes objects use. */
static struct json_object *mp_to_json(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_object_new_uint64(o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_object_new_int64(o->via.i64);
	case MSGPACK_OBJECT_BOOLEAN:
		return json_object_new_boolean(o->via.boolean);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_object_new_double(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_object_new_string_len(o->via.str.ptr, (int)o->via.str.size);
	case MSGPACK_OBJECT_ARRAY: {
		struct json_object *a = json_object_new_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_object_array_add(a, mp_to_json(&o->via.array.ptr[i]));
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		struct json_object *m = json_object_new_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char key[128] = "?";
			if (kv->key.type == MSGPACK_OBJECT_STR)
				snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size,
					kv->key.via.str.ptr);
			json_object_object_add(m, key, mp_to_json(&kv->val));
		}
		return m;
	}
	default:
		return NULL;
	}
}

static void dump_apply(void *ctx, enum pl_bus_op op, const char *kind, const char *key,
	const uint8_t *value, size_t size)
{
	struct json_object *root = ctx, *k;
	if (!json_object_object_get_ex(root, kind, &k)) {
		k = json_object_new_object();
		json_object_object_add(root, kind, k);
	}
	if (op == PL_BUS_OP_DEL) {
		json_object_object_del(k, key);
		return;
	}
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	struct json_object *v = NULL;
	if (msgpack_unpack_next(&u, (const char *)value, size, NULL) == MSGPACK_UNPACK_SUCCESS)
		v = mp_to_json(&u.data);
	msgpack_unpacked_destroy(&u);
	json_object_object_add(k, key, v);
}

/* A one-shot bus consumer: sync with the producer and print every object it asserts. */
static int bus_dump(void *zctx, const char *run_dir, const char *producer, int timeout)
{
	const struct pl_bus_limits lim = {
		.max_message_size = 1 << 20,
		.max_objects = 1000000,
		.heartbeat_ms = 1000,
		.dead_after_ms = (uint32_t)timeout,
	};
	struct json_object *root = json_object_new_object();
	struct pl_bus_consumer *c =
		pl_bus_consumer_new(zctx, run_dir, producer, &lim, dump_apply, root);
	if (!c) {
		fprintf(stderr, "podlanectl: cannot connect to bus producer %s: %s\n", producer,
			strerror(errno));
		json_object_put(root);
		return EXIT_UNREACHABLE;
	}
	uint64_t deadline = pl_now_ms() + (uint64_t)timeout;
	while (!pl_bus_consumer_synced(c) && pl_now_ms() < deadline) {
		zmq_pollitem_t items[] = {
			{ .socket = pl_bus_consumer_sub_socket(c), .events = ZMQ_POLLIN },
			{ .socket = pl_bus_consumer_snap_socket(c), .events = ZMQ_POLLIN },
		};
		zmq_poll(items, 2, 50);
		pl_bus_consumer_handle(c, pl_now_ms());
	}
	int ret = EXIT_OK;
	if (pl_bus_consumer_synced(c)) {
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	} else {
		fprintf(stderr, "podlanectl: no snapshot from bus producer %s in %d ms\n", producer,
			timeout);
		ret = EXIT_UNREACHABLE;
	}
	pl_bus_consumer_destroy(&c);
	json_object_put(root);
	return ret;
}

#define MAX_APPLY_SIZE (16u << 20)

/* apply -f FILE / delete -f FILE: Kubernetes-shaped objects into or out of the configured
 * datastore source. Validated whole first: one bad document and nothing changes. */
static int apply_or_delete(bool apply, const char *file, const struct pl_config *cfg)
{
	char err[1024] = "", out[512] = "";
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (!f) {
		fprintf(stderr, "podlanectl: %s: %s\n", file, strerror(errno));
		return EXIT_CMD_FAILED;
	}
	/* Read one byte more than allowed, so an oversized input is seen as such. */
	size_t cap = MAX_APPLY_SIZE + 1, len = 0;
	char *buf = malloc(cap);
	if (buf)
		len = fread(buf, 1, cap, f);
	if (f != stdin)
		fclose(f);
	if (!buf) {
		fprintf(stderr, "podlanectl: out of memory\n");
		return EXIT_CMD_FAILED;
	}
	int rc;
	if (len > MAX_APPLY_SIZE) {
		snprintf(err, sizeof(err), "%s: larger than %u MiB", file, MAX_APPLY_SIZE >> 20);
		rc = -EFBIG;
	} else if (apply) {
		rc = pl_datastore_write(cfg, file, buf, len, out, sizeof(out), err, sizeof(err));
	} else {
		rc = pl_datastore_delete_objects(cfg, file, buf, len, err, sizeof(err));
	}
	free(buf);
	if (rc < 0) {
		fprintf(stderr, "podlanectl: %s rejected, nothing changed: %s\n", file,
			err[0] ? err : strerror(-rc));
		return EXIT_CMD_FAILED;
	}
	if (apply)
		printf("applied %s -> %s\n", file, out);
	else if (strcmp(cfg->datastore.source, "etcd") == 0)
		printf("deleted %d object%s\n", rc, rc == 1 ? "" : "s");
	else
		printf("deleted %d object file%s\n", rc, rc == 1 ? "" : "s");
	return EXIT_OK;
}

/* flows [COUNT]: subscribes to policy's tap and prints what it publishes. */
static int flows(void *zctx, const char *run_dir, long count, int timeout)
{
	char ep[PATH_MAX + 32];
	snprintf(ep, sizeof(ep), "ipc://%s/policy.tap", run_dir);
	void *sub = zmq_socket(zctx, ZMQ_SUB);
	if (!sub || zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) < 0 || zmq_connect(sub, ep) < 0) {
		fprintf(stderr, "podlanectl: cannot subscribe to %s: %s\n", ep,
			zmq_strerror(zmq_errno()));
		return EXIT_UNREACHABLE;
	}
	int ret = EXIT_OK;
	for (long n = 0; count == 0 || n < count; n++) {
		zmq_pollitem_t it = { .socket = sub, .events = ZMQ_POLLIN };
		int rc = zmq_poll(&it, 1, count ? timeout : -1);
		if (rc <= 0) {
			if (rc == 0)
				fprintf(stderr,
					"podlanectl: no flow record within %d ms (%ld of %ld)\n",
					timeout, n, count);
			ret = EXIT_CMD_FAILED;
			break;
		}
		char buf[8192];
		int len = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
		if (len < 0) {
			ret = EXIT_CMD_FAILED;
			break;
		}
		if (len > (int)sizeof(buf) - 1)
			len = sizeof(buf) - 1;
		buf[len] = '\0';
		printf("%s\n", buf);
		fflush(stdout);
	}
	int linger = 0;
	zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_close(sub);
	return ret;
}

static int status(void *zctx, const char *run_dir, bool json, int timeout)
{
	const char *argv[] = { "services/show" };
	int st = 0;
	char *body = NULL;
	int rc = pl_admin_call(zctx, run_dir, "supervisor", true, 1, argv, timeout, &st, &body);
	if (rc < 0) {
		fprintf(stderr, "podlanectl: supervisor not reachable at %s/supervisor.ctl: %s\n",
			run_dir, rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		return EXIT_UNREACHABLE;
	}
	struct json_object *arr = json_tokener_parse(body);
	free(body);
	if (st != 0 || !arr || !json_object_is_type(arr, json_type_array)) {
		fprintf(stderr, "podlanectl: unexpected reply from the supervisor\n");
		json_object_put(arr);
		return EXIT_CMD_FAILED;
	}
	bool healthy = true;
	if (!json)
		printf("%-12s %-8s %-9s %8s  %-8s %-6s %-9s %s\n", "SERVICE", "PID", "STATE",
			"RESTARTS", "HEALTH", "ADMIN", "STANDBY", "LAST EXIT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *v;
		const char *svc = json_object_object_get_ex(o, "service", &v)
					  ? json_object_get_string(v)
					  : "?";
		const char *health = json_object_object_get_ex(o, "health", &v)
					     ? json_object_get_string(v)
					     : "?";
		const char *vargv[] = { "version" };
		char *vbody = NULL;
		int vst = 0;
		int vrc = pl_admin_call(
			zctx, run_dir, svc, false, 1, vargv, timeout / 3 + 1, &vst, &vbody);
		const char *admin = vrc < 0 ? "down" : "ok";
		free(vbody);
		if (vrc < 0 || strcmp(health, "ok") != 0)
			healthy = false;
		json_object_object_add(o, "admin", json_object_new_string(admin));
		if (!json) {
			struct json_object *pid, *state, *restarts, *last, *sb;
			json_object_object_get_ex(o, "pid", &pid);
			const char *sbs = json_object_object_get_ex(o, "standby", &sb)
						  ? json_object_get_string(sb)
						  : "-";
			json_object_object_get_ex(o, "state", &state);
			json_object_object_get_ex(o, "restarts", &restarts);
			json_object_object_get_ex(o, "last_exit", &last);
			const char *l = json_object_get_string(last);
			printf("%-12s %-8d %-9s %8d  %-8s %-6s %-9s %s\n", svc,
				json_object_get_int(pid), json_object_get_string(state),
				json_object_get_int(restarts), health, admin, sbs,
				l && l[0] ? l : "-");
		}
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
	json_object_put(arr);
	return healthy ? EXIT_OK : EXIT_UNREACHABLE;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *svc = "supervisor", *config = NULL, *run_dir = NULL;
	bool json = false;
	int timeout = 3000, c;
	char err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg;

	opterr = 0;
	/* '+': stop at the command so its arguments may start with '-'. */
	while ((c = getopt_long(argc, argv, "+:s:c:r:jt:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			svc = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'r':
			run_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 600000) {
				fprintf(stderr, "podlanectl: --timeout: '%s' is not 1..600000 ms\n",
					optarg);
				return EXIT_USAGE;
			}
			timeout = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("podlanectl %s\n", PODLANE_VERSION);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "podlanectl: option '%s' needs an argument\n",
				argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "podlanectl: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "podlanectl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (pl_svc_from_name(svc) < 0) {
		fprintf(stderr,
			"podlanectl: unknown service '%s' (supervisor, io-worker, nat-lb, policy, "
			"router, cni-server, bgp-bridge)\n",
			svc);
		return EXIT_USAGE;
	}
	if (pl_config_load(&cfg, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "podlanectl: configuration error: %s\n", err);
		return EXIT_USAGE;
	}
	if (!run_dir)
		run_dir = cfg.run_dir;
	if (strcmp(argv[optind], "apply") == 0 || strcmp(argv[optind], "delete") == 0) {
		if (argc - optind != 3 || strcmp(argv[optind + 1], "-f") != 0) {
			fprintf(stderr, "podlanectl: usage: %s -f FILE\n", argv[optind]);
			return EXIT_USAGE;
		}
		return apply_or_delete(argv[optind][0] == 'a', argv[optind + 2], &cfg);
	}
	/* Shorthands: `pod add|del ...` and `pods` go to cni-server. */
	char pod_cmd[16];
	if (optind + 1 < argc && strcmp(argv[optind], "pod") == 0 &&
		(strcmp(argv[optind + 1], "add") == 0 || strcmp(argv[optind + 1], "del") == 0)) {
		snprintf(pod_cmd, sizeof(pod_cmd), "pod/%s", argv[optind + 1]);
		optind++;
		argv[optind] = pod_cmd;
		svc = "cni-server";
	} else if (optind + 1 == argc && strcmp(argv[optind], "pods") == 0) {
		snprintf(pod_cmd, sizeof(pod_cmd), "pods/show");
		argv[optind] = pod_cmd;
		svc = "cni-server";
	}
	int nargs = argc - optind;
	if (nargs > PL_ADMIN_MAX_ARGS) {
		fprintf(stderr, "podlanectl: too many arguments (at most %d)\n", PL_ADMIN_MAX_ARGS);
		return EXIT_USAGE;
	}
	void *zctx = zmq_ctx_new();
	int ret;
	if (nargs == 1 && strcmp(argv[optind], "status") == 0) {
		ret = status(zctx, run_dir, json, timeout);
	} else if (strcmp(argv[optind], "flows") == 0 && nargs <= 2) {
		char *end = NULL;
		long count = nargs == 2 ? strtol(argv[optind + 1], &end, 10) : 0;
		if (nargs == 2 && (*end || count < 1)) {
			fprintf(stderr, "podlanectl: flows COUNT: a positive number, not '%s'\n",
				argv[optind + 1]);
			ret = EXIT_USAGE;
		} else {
			ret = flows(zctx, run_dir, count, timeout);
		}
	} else if (strcmp(argv[optind], "bus-dump") == 0 && nargs <= 2) {
		ret = bus_dump(
			zctx, run_dir, nargs == 2 ? argv[optind + 1] : "supervisor", timeout);
	} else {
		int st = 0;
		char *body = NULL;
		int rc = pl_admin_call(zctx, run_dir, svc, json, nargs,
			(const char *const *)&argv[optind], timeout, &st, &body);
		if (rc < 0) {
			fprintf(stderr, "podlanectl: %s not reachable at %s/%s.ctl: %s\n", svc,
				run_dir, svc, rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
			ret = EXIT_UNREACHABLE;
		} else {
			size_t len = strlen(body);
			FILE *out = st == 0 ? stdout : stderr;
			fputs(body, out);
			if (len && body[len - 1] != '\n')
				fputc('\n', out);
			free(body);
			ret = st == 0 ? EXIT_OK : EXIT_CMD_FAILED;
		}
	}
	zmq_ctx_term(zctx);
	return ret;
}
