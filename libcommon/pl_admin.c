/* SPDX-License-Identifier: Apache-2.0 */
/* Admin registry and server. Requests are size- and frame-checked before dispatch; anything
 * malformed is answered with an error when possible and always counted. */
#include "pl_admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "pl_log.h"
#include "pl_sock.h"
#include "pl_util.h"

#ifndef PODLANE_VERSION
#define PODLANE_VERSION "0.0.0"
#endif

#define MAX_COMMANDS 128
#define MAX_FRAMES (PL_ADMIN_MAX_ARGS + 4)

struct command {
	char name[PL_ADMIN_CMD_SIZE];
	char usage[96];
	char help[160];
	pl_admin_fn *fn;
	void *ctx;
};

struct pl_admin {
	void *sock;
	char svc[32];
	size_t max_request_size;
	struct command cmds[MAX_COMMANDS];
	unsigned int n_cmds;
	const struct pl_stats_block *block;
	const struct pl_counter_desc *descs;
	unsigned int n_descs;
	uint64_t requests;
	uint64_t errors;
};

void pl_admin_reply_init(struct pl_admin_reply *r)
{
	memset(r, 0, sizeof(*r));
}

void pl_admin_reply_fini(struct pl_admin_reply *r)
{
	if (r->json)
		json_object_put(r->json);
	free(r->text);
	memset(r, 0, sizeof(*r));
}

static void vappend(struct pl_admin_reply *r, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	size_t need = r->text_len + (size_t)n + 1;
	if (need > r->text_cap) {
		size_t cap = r->text_cap ? r->text_cap : 256;
		while (cap < need)
			cap *= 2;
		char *t = realloc(r->text, cap);
		if (!t)
			return;
		r->text = t;
		r->text_cap = cap;
	}
	vsnprintf(r->text + r->text_len, r->text_cap - r->text_len, fmt, ap);
	r->text_len += (size_t)n;
}

void pl_admin_printf(struct pl_admin_reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vappend(r, fmt, ap);
	va_end(ap);
}

int pl_admin_error(struct pl_admin_reply *r, int err, const char *fmt, ...)
{
	va_list ap;
	char msg[512];
	err = err < 0 ? -err : err;
	r->status = err ? err : EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->text);
	r->text = NULL;
	r->text_len = r->text_cap = 0;
	pl_admin_printf(r, "error: %s\n", msg);
	if (r->json)
		json_object_put(r->json);
	r->json = json_object_new_object();
	json_object_object_add(r->json, "error", json_object_new_string(msg));
	json_object_object_add(r->json, "errno", json_object_new_int(r->status));
	return -r->status;
}

void pl_admin_set_json(struct pl_admin_reply *r, struct json_object *obj)
{
	if (r->json)
		json_object_put(r->json);
	r->json = obj;
}

static void indent(struct pl_admin_reply *r, int depth)
{
	for (int i = 0; i < depth; i++)
		pl_admin_printf(r, "  ");
}

void pl_admin_render_text(struct pl_admin_reply *r, const struct json_object *obj, int depth)
{
	struct json_object *o = (struct json_object *)obj;
	switch (json_object_get_type(o)) {
	case json_type_object: {
		/* A block: the macro declares variables, which a case label may not precede in C
		 * before C23 (clang says so). */
		json_object_object_foreach(o, key, val)
		{
			enum json_type t = json_object_get_type(val);
			indent(r, depth);
			if (t == json_type_object || t == json_type_array) {
				pl_admin_printf(r, "%s:\n", key);
				pl_admin_render_text(r, val, depth + 1);
			} else {
				pl_admin_printf(r, "%s: %s\n", key, json_object_get_string(val));
			}
		}
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			struct json_object *val = json_object_array_get_idx(o, i);
			enum json_type t = json_object_get_type(val);
			if (t == json_type_object || t == json_type_array) {
				indent(r, depth);
				pl_admin_printf(r, "-\n");
				pl_admin_render_text(r, val, depth + 1);
			} else {
				indent(r, depth);
				pl_admin_printf(r, "- %s\n", json_object_get_string(val));
			}
		}
		break;
	case json_type_null:
		break;
	default:
		indent(r, depth);
		pl_admin_printf(r, "%s\n", json_object_get_string(o));
	}
}

static const struct command *find(const struct pl_admin *a, const char *name)
{
	for (unsigned int i = 0; i < a->n_cmds; i++)
		if (strcmp(a->cmds[i].name, name) == 0)
			return &a->cmds[i];
	return NULL;
}

int pl_admin_register(struct pl_admin *a, const char *cmd, const char *usage, const char *help,
	pl_admin_fn *fn, void *ctx)
{
	size_t len = strlen(cmd);
	if (len == 0 || len >= PL_ADMIN_CMD_SIZE || !fn)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = cmd[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
			    c == '_'))
			return -EINVAL;
	}
	if (find(a, cmd))
		return -EEXIST;
	if (a->n_cmds == MAX_COMMANDS)
		return -ENOSPC;
	struct command *c = &a->cmds[a->n_cmds++];
	snprintf(c->name, sizeof(c->name), "%s", cmd);
	snprintf(c->usage, sizeof(c->usage), "%s", usage ? usage : "");
	snprintf(c->help, sizeof(c->help), "%s", help ? help : "");
	c->fn = fn;
	c->ctx = ctx;
	return 0;
}

static int cmd_list(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct pl_admin *a = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "list-commands takes no arguments");
	struct json_object *arr = json_object_new_array();
	for (unsigned int i = 0; i < a->n_cmds; i++) {
		const struct command *c = &a->cmds[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "command", json_object_new_string(c->name));
		json_object_object_add(o, "usage", json_object_new_string(c->usage));
		json_object_object_add(o, "help", json_object_new_string(c->help));
		json_object_array_add(arr, o);
		pl_admin_printf(r, "%-24s %-28s %s\n", c->name, c->usage, c->help);
	}
	pl_admin_set_json(r, arr);
	return 0;
}

static int cmd_version(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct pl_admin *a = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "version takes no arguments");
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "service", json_object_new_string(a->svc));
	json_object_object_add(o, "version", json_object_new_string(PODLANE_VERSION));
	pl_admin_printf(r, "podlane-%s %s\n", a->svc, PODLANE_VERSION);
	pl_admin_set_json(r, o);
	return 0;
}

static int cmd_log_set(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	enum pl_log_level level;
	const char *module = "*";
	(void)ctx;
	if (argc < 2 || argc > 3)
		return pl_admin_error(r, EINVAL, "usage: log/set [MODULE] err|warn|info|debug");
	if (argc == 3)
		module = argv[1];
	if (pl_log_level_parse(argv[argc - 1], &level) < 0)
		return pl_admin_error(r, EINVAL, "unknown log level '%s' (err, warn, info, debug)",
			argv[argc - 1]);
	int rc = pl_log_set_level(module, level);
	if (rc < 0)
		return pl_admin_error(r, rc, "cannot set level of module '%s'", module);
	PL_INFO("admin", "log level of %s set to %s", module, pl_log_level_name(level));
	pl_admin_printf(r, "%s=%s\n", module, pl_log_level_name(level));
	return 0;
}

static int cmd_log_show(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	char buf[1024];
	(void)argv;
	(void)ctx;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "log/show takes no arguments");
	pl_log_describe(buf, sizeof(buf));
	pl_admin_printf(r, "%s\n", buf);
	pl_admin_set_json(r, json_object_new_string(buf));
	return 0;
}

static int cmd_counters(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct pl_admin *a = ctx;
	uint64_t v[PL_STATS_MAX_COUNTERS];
	if (argc > 2)
		return pl_admin_error(r, EINVAL, "usage: counters/show [NAME]");
	if (!a->block)
		return pl_admin_error(r, ENODEV, "this service has no counter block");
	pl_stats_read(a->block, v, a->n_descs);
	struct json_object *o = json_object_new_object();
	int found = 0;
	for (unsigned int i = 0; i < a->n_descs; i++) {
		if (argc == 2 && strcmp(argv[1], a->descs[i].name) != 0)
			continue;
		found++;
		json_object_object_add(o, a->descs[i].name, json_object_new_uint64(v[i]));
		pl_admin_printf(r, "%-24s %20llu  %s\n", a->descs[i].name, (unsigned long long)v[i],
			a->descs[i].help);
	}
	if (argc == 2 && !found) {
		json_object_put(o);
		return pl_admin_error(r, ENOENT, "no counter named '%s'", argv[1]);
	}
	pl_admin_set_json(r, o);
	return 0;
}

struct pl_admin *pl_admin_new(
	void *zmq_ctx, const char *run_dir, const char *svc, size_t max_request_size)
{
	struct pl_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	snprintf(a->svc, sizeof(a->svc), "%s", svc);
	a->max_request_size = max_request_size;
	pl_admin_register(
		a, "list-commands", "", "List the commands this service answers", cmd_list, a);
	pl_admin_register(a, "version", "", "Show the service's version", cmd_version, a);
	pl_admin_register(a, "log/set", "[MODULE] LEVEL", "Set the log level (all modules or one)",
		cmd_log_set, a);
	pl_admin_register(a, "log/show", "", "Show log levels", cmd_log_show, a);
	pl_admin_register(
		a, "counters/show", "[NAME]", "Show this service's counters", cmd_counters, a);
	if (!zmq_ctx)
		return a;

	char ep[600];
	int n = snprintf(ep, sizeof(ep), "ipc://%s/%s.ctl", run_dir, svc);
	if (n < 0 || (size_t)n >= sizeof(ep)) {
		free(a);
		errno = ENAMETOOLONG;
		return NULL;
	}
	a->sock = zmq_socket(zmq_ctx, ZMQ_ROUTER);
	int linger = 0;
	int64_t maxmsg = (int64_t)max_request_size;
	if (!a->sock || zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
		zmq_setsockopt(a->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0 ||
		pl_zmq_bind_private(a->sock, ep) < 0) {
		int e = errno;
		if (a->sock)
			zmq_close(a->sock);
		free(a);
		errno = e;
		return NULL;
	}
	return a;
}

void pl_admin_destroy(struct pl_admin **ap)
{
	if (!ap || !*ap)
		return;
	if ((*ap)->sock)
		zmq_close((*ap)->sock);
	free(*ap);
	*ap = NULL;
}

void pl_admin_set_counters(struct pl_admin *a, const struct pl_stats_block *block,
	const struct pl_counter_desc *descs, unsigned int n)
{
	a->block = block;
	a->descs = descs;
	a->n_descs = n;
}

void *pl_admin_socket(struct pl_admin *a)
{
	return a->sock;
}

uint64_t pl_admin_requests(const struct pl_admin *a)
{
	return a->requests;
}

uint64_t pl_admin_errors(const struct pl_admin *a)
{
	return a->errors;
}

void pl_admin_dispatch(struct pl_admin *a, int argc, const char *const *argv, bool want_json,
	struct pl_admin_reply *r)
{
	pl_admin_reply_init(r);
	a->requests++;
	if (argc < 1) {
		pl_admin_error(r, EINVAL, "empty request");
	} else {
		const struct command *c = find(a, argv[0]);
		if (!c) {
			pl_admin_error(r, ENOENT,
				"unknown command '%.64s' for %s (try list-commands)", argv[0],
				a->svc);
		} else {
			int rc = c->fn(r, argc, argv, c->ctx);
			if (rc < 0 && r->status == 0)
				pl_admin_error(r, rc, "%s failed: %s", c->name, strerror(-rc));
		}
	}
	if (r->status)
		a->errors++;
	if (r->text_len == 0 && r->json && !want_json)
		pl_admin_render_text(r, r->json, 0);
	if (!r->text)
		pl_admin_printf(r, "%s", "");
}

static int send_reply(
	void *sock, zmq_msg_t *frames, int n_env, int status, const char *body, size_t body_len)
{
	char st[16];
	int n = snprintf(st, sizeof(st), "%d", status);
	for (int i = 0; i < n_env; i++)
		if (zmq_send(sock, zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i]),
			    ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
			return -errno;
	if (zmq_send(sock, st, (size_t)n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -errno;
	if (zmq_send(sock, body, body_len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static int handle_one(struct pl_admin *a)
{
	zmq_msg_t frames[MAX_FRAMES];
	int n = 0, more = 1, rc = 0;
	size_t total = 0;
	bool overflow = false;

	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, a->sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			rc = -errno;
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		total += zmq_msg_size(&m);
		if (n < MAX_FRAMES)
			frames[n++] = m;
		else {
			overflow = true;
			zmq_msg_close(&m);
		}
	}
	if (n == 0)
		return rc == -EAGAIN ? 0 : rc;

	/* [identity][empty delimiter][format][command][args...] from a REQ client. */
	int delim = -1;
	for (int i = 1; i < n; i++) {
		if (zmq_msg_size(&frames[i]) == 0) {
			delim = i;
			break;
		}
	}
	struct pl_admin_reply r;
	pl_admin_reply_init(&r);
	a->requests++;
	if (delim < 0) {
		/* Not a REQ envelope: nobody to answer in a way a client understands. */
		a->errors++;
		PL_LOG_RL(PL_LOG_WARN, "admin", "malformed admin request (%d frames, no envelope)",
			n);
		goto out;
	}
	int argc = n - delim - 2;
	bool want_json = false;
	if (overflow || argc > PL_ADMIN_MAX_ARGS) {
		pl_admin_error(&r, E2BIG, "too many arguments (at most %d)", PL_ADMIN_MAX_ARGS);
	} else if (total > a->max_request_size) {
		pl_admin_error(&r, EMSGSIZE, "request larger than %zu bytes", a->max_request_size);
	} else if (argc < 1) {
		pl_admin_error(&r, EINVAL, "malformed request: no command");
	} else {
		const char *fmt_frame = zmq_msg_data(&frames[delim + 1]);
		size_t fmt_size = zmq_msg_size(&frames[delim + 1]);
		if (fmt_size == 4 && memcmp(fmt_frame, "json", 4) == 0)
			want_json = true;
		else if (!(fmt_size == 4 && memcmp(fmt_frame, "text", 4) == 0)) {
			pl_admin_error(
				&r, EINVAL, "malformed request: format must be text or json");
			goto reply;
		}
		char *argv_buf[PL_ADMIN_MAX_ARGS];
		for (int i = 0; i < argc; i++) {
			size_t sz = zmq_msg_size(&frames[delim + 2 + i]);
			argv_buf[i] = malloc(sz + 1);
			if (argv_buf[i]) {
				memcpy(argv_buf[i], zmq_msg_data(&frames[delim + 2 + i]), sz);
				argv_buf[i][sz] = '\0';
				if (strlen(argv_buf[i]) != sz) /* embedded NUL */
					argv_buf[i][0] = '\0';
			}
		}
		bool oom = false;
		for (int i = 0; i < argc; i++)
			oom |= argv_buf[i] == NULL;
		a->requests--; /* dispatch counts it */
		if (oom)
			pl_admin_error(&r, ENOMEM, "out of memory");
		else
			pl_admin_dispatch(a, argc, (const char *const *)argv_buf, want_json, &r);
		for (int i = 0; i < argc; i++)
			free(argv_buf[i]);
		if (oom)
			a->errors++;
		goto send;
	}
reply:
	a->errors++;
send:
	if (want_json && r.json) {
		const char *s = json_object_to_json_string_ext(r.json, JSON_C_TO_STRING_PLAIN);
		send_reply(a->sock, frames, delim + 1, r.status, s, strlen(s));
	} else {
		send_reply(a->sock, frames, delim + 1, r.status, r.text ? r.text : "", r.text_len);
	}
out:
	pl_admin_reply_fini(&r);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&frames[i]);
	return 1;
}

bool pl_admin_pending(struct pl_admin *a)
{
	int ev = 0;
	size_t len = sizeof(ev);
	if (!a || !a->sock || zmq_getsockopt(a->sock, ZMQ_EVENTS, &ev, &len) < 0)
		return false;
	return (ev & ZMQ_POLLIN) != 0;
}

int pl_admin_handle(struct pl_admin *a)
{
	int served = 0;
	if (!a->sock)
		return 0;
	for (int i = 0; i < 64; i++) {
		int rc = handle_one(a);
		if (rc <= 0)
			break;
		served++;
	}
	return served;
}

int pl_admin_call(void *zmq_ctx, const char *run_dir, const char *svc, bool want_json, int argc,
	const char *const *argv, int timeout_ms, int *status, char **body)
{
	char ep[600];
	int rc = 0;
	int n = snprintf(ep, sizeof(ep), "ipc://%s/%s.ctl", run_dir, svc);
	if (n < 0 || (size_t)n >= sizeof(ep))
		return -ENAMETOOLONG;
	void *s = zmq_socket(zmq_ctx, ZMQ_REQ);
	if (!s)
		return -errno;
	int linger = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
	if (zmq_connect(s, ep) < 0) {
		rc = -errno;
		goto out;
	}
	if (zmq_send(s, want_json ? "json" : "text", 4, argc > 0 ? ZMQ_SNDMORE : 0) < 0) {
		rc = -errno;
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		if (zmq_send(s, argv[i], strlen(argv[i]), i + 1 < argc ? ZMQ_SNDMORE : 0) < 0) {
			rc = -errno;
			goto out;
		}
	}
	zmq_msg_t st, bd;
	zmq_msg_init(&st);
	zmq_msg_init(&bd);
	if (zmq_msg_recv(&st, s, 0) < 0) {
		rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
		zmq_msg_close(&st);
		zmq_msg_close(&bd);
		goto out;
	}
	if (!zmq_msg_more(&st) || zmq_msg_recv(&bd, s, 0) < 0) {
		rc = -EPROTO;
	} else {
		char stbuf[16] = "";
		size_t sz = zmq_msg_size(&st) < sizeof(stbuf) - 1 ? zmq_msg_size(&st)
								  : sizeof(stbuf) - 1;
		memcpy(stbuf, zmq_msg_data(&st), sz);
		*status = atoi(stbuf);
		*body = malloc(zmq_msg_size(&bd) + 1);
		if (!*body) {
			rc = -ENOMEM;
		} else {
			memcpy(*body, zmq_msg_data(&bd), zmq_msg_size(&bd));
			(*body)[zmq_msg_size(&bd)] = '\0';
		}
	}
	zmq_msg_close(&st);
	zmq_msg_close(&bd);
out:
	zmq_close(s);
	return rc;
}
