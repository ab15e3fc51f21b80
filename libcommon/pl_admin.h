/* SPDX-License-Identifier: Apache-2.0 */
/* Admin command registry and its ZeroMQ server (one per service, ipc://<run_dir>/<svc>.ctl).
 * Modules register `module/verb` commands with usage text; a handler parses its arguments,
 * calls the same function the bus or gRPC handler would, and fills a reply: JSON (json-c) and,
 * optionally, text (otherwise text is rendered from the JSON). Built-ins: list-commands,
 * version, log/set, log/show, counters/show.
 * Wire format, REQ client -> ROUTER server: request frames [format "text"|"json"][command]
 * [arg]...; reply frames [status][body], status "0" or a positive errno value. */
#ifndef PL_ADMIN_H
#define PL_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "pl_shm.h"
#include "pl_stats.h"

#define PL_ADMIN_MAX_ARGS 32
#define PL_ADMIN_CMD_SIZE 48

struct pl_admin_reply {
	int status; /* 0 or a positive errno value */
	struct json_object *json; /* owned by the reply */
	char *text; /* owned; NUL-terminated */
	size_t text_len;
	size_t text_cap;
};

/* Handlers return 0, or a negative errno after pl_admin_error(). */
typedef int pl_admin_fn(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx);

struct pl_admin;

/* Binds ipc://<run_dir>/<svc>.ctl; NULL with errno. zmq_ctx NULL: no socket (dispatch only). */
struct pl_admin *pl_admin_new(
	void *zmq_ctx, const char *run_dir, const char *svc, size_t max_request_size);
void pl_admin_destroy(struct pl_admin **ap);
/* 0, -EEXIST, -EINVAL (name not "module/verb" or built-in-like word), -ENOSPC. */
int pl_admin_register(struct pl_admin *a, const char *cmd, const char *usage, const char *help,
	pl_admin_fn *fn, void *ctx);
/* Lets counters/show read this service's block. */
void pl_admin_set_counters(struct pl_admin *a, const struct pl_stats_block *block,
	const struct pl_counter_desc *descs, unsigned int n);
void *pl_admin_socket(struct pl_admin *a);
/* Serves every pending request without blocking; returns requests served. */
int pl_admin_handle(struct pl_admin *a);
/* True when a request is waiting (ZMQ_EVENTS; cheap). */
bool pl_admin_pending(struct pl_admin *a);
/* Runs one command (no socket). The reply is initialised here; free with
 * pl_admin_reply_fini. Always returns with r->status set and r->text rendered. */
void pl_admin_dispatch(struct pl_admin *a, int argc, const char *const *argv, bool want_json,
	struct pl_admin_reply *r);
uint64_t pl_admin_requests(const struct pl_admin *a);
uint64_t pl_admin_errors(const struct pl_admin *a);

void pl_admin_reply_init(struct pl_admin_reply *r);
void pl_admin_reply_fini(struct pl_admin_reply *r);
void pl_admin_printf(struct pl_admin_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sets status (errno, positive or negative) and a message; returns -|err|. */
int pl_admin_error(struct pl_admin_reply *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Takes ownership of obj. */
void pl_admin_set_json(struct pl_admin_reply *r, struct json_object *obj);
/* Renders JSON as indented "key: value" text (used when a handler wrote no text). */
void pl_admin_render_text(struct pl_admin_reply *r, const struct json_object *obj, int depth);

/* Client side (podlanectl, tests): one request with a timeout. Returns 0 and fills *status
 * and *body (malloc'ed), or -ETIMEDOUT / -errno. */
int pl_admin_call(void *zmq_ctx, const char *run_dir, const char *svc, bool want_json, int argc,
	const char *const *argv, int timeout_ms, int *status, char **body);

#endif
