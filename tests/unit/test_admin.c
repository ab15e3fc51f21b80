/* SPDX-License-Identifier: Apache-2.0 */
/* Admin registry and server: registration rules, dispatch, built-ins, errors for unknown
 * commands and bad arguments, and the ZeroMQ wire protocol including malformed requests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "pl_admin.h"
#include "pl_log.h"

static int echo_calls;

static int cmd_echo(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	echo_calls++;
	assert_ptr_equal(ctx, &echo_calls);
	if (argc < 2)
		return pl_admin_error(r, EINVAL, "usage: test/echo WORD...");
	struct json_object *arr = json_object_new_array();
	for (int i = 1; i < argc; i++) {
		json_object_array_add(arr, json_object_new_string(argv[i]));
		pl_admin_printf(r, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
	}
	pl_admin_set_json(r, arr);
	return 0;
}

static int cmd_fails(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	(void)r;
	(void)argc;
	(void)argv;
	(void)ctx;
	return -EBUSY;
}

static int cmd_json_only(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "answer", json_object_new_int(42));
	pl_admin_set_json(r, o);
	return 0;
}

static void test_register_rules(void **state)
{
	(void)state;
	struct pl_admin *a = pl_admin_new(NULL, NULL, "test", 4096);
	assert_non_null(a);
	assert_int_equal(pl_admin_register(a, "test/echo", "WORD...", "echo", cmd_echo, NULL), 0);
	assert_int_equal(pl_admin_register(a, "test/echo", "", "", cmd_echo, NULL), -EEXIST);
	assert_int_equal(pl_admin_register(a, "version", "", "", cmd_echo, NULL), -EEXIST);
	assert_int_equal(pl_admin_register(a, "", "", "", cmd_echo, NULL), -EINVAL);
	assert_int_equal(pl_admin_register(a, "Bad Name", "", "", cmd_echo, NULL), -EINVAL);
	assert_int_equal(pl_admin_register(a, "x/y", "", "", NULL, NULL), -EINVAL);
	char longname[PL_ADMIN_CMD_SIZE + 4];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pl_admin_register(a, longname, "", "", cmd_echo, NULL), -EINVAL);
	pl_admin_destroy(&a);
	assert_null(a);
	pl_admin_destroy(&a); /* NULL-safe */
}

static void test_dispatch(void **state)
{
	(void)state;
	struct pl_admin_reply r;
	struct pl_admin *a = pl_admin_new(NULL, NULL, "test", 4096);
	pl_admin_register(a, "test/echo", "WORD...", "echo", cmd_echo, &echo_calls);
	pl_admin_register(a, "test/fails", "", "", cmd_fails, NULL);
	pl_admin_register(a, "test/json", "", "", cmd_json_only, NULL);

	echo_calls = 0;
	const char *ok[] = { "test/echo", "a", "b" };
	pl_admin_dispatch(a, 3, ok, false, &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.text, "a b\n");
	assert_int_equal(json_object_array_length(r.json), 2);
	assert_int_equal(echo_calls, 1);
	pl_admin_reply_fini(&r);

	const char *bad_args[] = { "test/echo" };
	pl_admin_dispatch(a, 1, bad_args, false, &r);
	assert_int_equal(r.status, EINVAL);
	assert_non_null(strstr(r.text, "usage: test/echo"));
	pl_admin_reply_fini(&r);

	const char *unknown[] = { "no/such" };
	pl_admin_dispatch(a, 1, unknown, true, &r);
	assert_int_equal(r.status, ENOENT);
	assert_non_null(strstr(r.text, "unknown command 'no/such'"));
	struct json_object *err;
	assert_true(json_object_object_get_ex(r.json, "error", &err));
	pl_admin_reply_fini(&r);

	/* A handler that fails without a message still gets one. */
	const char *fails[] = { "test/fails" };
	pl_admin_dispatch(a, 1, fails, false, &r);
	assert_int_equal(r.status, EBUSY);
	assert_non_null(strstr(r.text, "test/fails failed"));
	pl_admin_reply_fini(&r);

	/* JSON-only handlers get text rendered for them. */
	const char *js[] = { "test/json" };
	pl_admin_dispatch(a, 1, js, false, &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.text, "answer: 42\n");
	pl_admin_reply_fini(&r);

	assert_int_equal(pl_admin_requests(a), 5);
	assert_int_equal(pl_admin_errors(a), 3);
	pl_admin_destroy(&a);
}

static void test_builtins(void **state)
{
	(void)state;
	struct pl_admin_reply r;
	struct pl_admin *a = pl_admin_new(NULL, NULL, "test", 4096);
	pl_admin_register(a, "test/echo", "WORD...", "echo the words", cmd_echo, &echo_calls);

	const char *list[] = { "list-commands" };
	pl_admin_dispatch(a, 1, list, true, &r);
	assert_int_equal(r.status, 0);
	bool found = false;
	for (size_t i = 0; i < json_object_array_length(r.json); i++) {
		struct json_object *c;
		json_object_object_get_ex(json_object_array_get_idx(r.json, i), "command", &c);
		found |= strcmp(json_object_get_string(c), "test/echo") == 0;
	}
	assert_true(found);
	pl_admin_reply_fini(&r);

	const char *ver[] = { "version" };
	pl_admin_dispatch(a, 1, ver, false, &r);
	assert_non_null(strstr(r.text, "podlane-test"));
	pl_admin_reply_fini(&r);

	pl_log_init("test", PL_LOG_INFO);
	const char *set[] = { "log/set", "bus", "debug" };
	pl_admin_dispatch(a, 3, set, false, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(pl_log_get_level("bus"), PL_LOG_DEBUG);
	assert_int_equal(pl_log_get_level("other"), PL_LOG_INFO);
	pl_admin_reply_fini(&r);
	const char *setbad[] = { "log/set", "loud" };
	pl_admin_dispatch(a, 2, setbad, false, &r);
	assert_int_equal(r.status, EINVAL);
	assert_non_null(strstr(r.text, "unknown log level 'loud'"));
	pl_admin_reply_fini(&r);

	/* counters/show without a block is an error, with one it reads the block. */
	const char *cs[] = { "counters/show" };
	pl_admin_dispatch(a, 1, cs, false, &r);
	assert_int_equal(r.status, ENODEV);
	pl_admin_reply_fini(&r);
	static struct pl_stats_block block;
	unsigned int n;
	const struct pl_counter_desc *d = pl_counter_descs(PL_SVC_ROUTER, &n);
	pl_admin_set_counters(a, &block, d, n);
	uint64_t local[PL_STAGE_MAX] = { 0 };
	local[PL_STAGE_RX_PACKETS] = 7;
	pl_stats_add(&block, local, PL_STAGE_MAX);
	const char *one[] = { "counters/show", "rx_packets" };
	pl_admin_dispatch(a, 2, one, true, &r);
	struct json_object *v;
	assert_true(json_object_object_get_ex(r.json, "rx_packets", &v));
	assert_int_equal(json_object_get_uint64(v), 7);
	pl_admin_reply_fini(&r);
	const char *none[] = { "counters/show", "nope" };
	pl_admin_dispatch(a, 2, none, true, &r);
	assert_int_equal(r.status, ENOENT);
	pl_admin_reply_fini(&r);
	pl_admin_destroy(&a);
}

/* The server side over a real socket: a good request, an unknown command, too many arguments,
 * an oversized request and a malformed (non-REQ) one, which is counted and not answered. */
static void test_wire(void **state)
{
	(void)state;
	char dir[] = "/tmp/pl_admin_test.XXXXXX";
	assert_non_null(mkdtemp(dir));
	void *ctx = zmq_ctx_new();
	struct pl_admin *a = pl_admin_new(ctx, dir, "wire", 512);
	assert_non_null(a);
	pl_admin_register(a, "test/echo", "WORD...", "echo", cmd_echo, &echo_calls);

	/* A client in its own socket; the server is served between send and receive by
	 * pl_admin_call's timeout loop, so use raw sockets here. */
	char ep[256];
	snprintf(ep, sizeof(ep), "ipc://%s/wire.ctl", dir);
	void *req = zmq_socket(ctx, ZMQ_REQ);
	int linger = 0, timeout = 2000;
	zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	assert_int_equal(zmq_connect(req, ep), 0);

	struct {
		const char *frames[40];
		int n;
		int status;
		const char *needle;
	} cases[] = {
		{ { "text", "test/echo", "hi" }, 3, 0, "hi\n" },
		{ { "json", "test/echo", "hi" }, 3, 0, "[\"hi\"]" },
		{ { "text", "bogus/cmd" }, 2, ENOENT, "unknown command 'bogus/cmd'" },
		{ { "xml", "version" }, 2, EINVAL, "format must be text or json" },
		{ { "text" }, 1, EINVAL, "no command" },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int i = 0; i < cases[c].n; i++)
			zmq_send(req, cases[c].frames[i], strlen(cases[c].frames[i]),
				i + 1 < cases[c].n ? ZMQ_SNDMORE : 0);
		zmq_pollitem_t it = { .socket = pl_admin_socket(a), .events = ZMQ_POLLIN };
		assert_int_equal(zmq_poll(&it, 1, 2000), 1);
		assert_int_equal(pl_admin_handle(a), 1);
		char st[16] = "", body[512] = "";
		int n = zmq_recv(req, st, sizeof(st) - 1, 0);
		assert_true(n > 0);
		n = zmq_recv(req, body, sizeof(body) - 1, 0);
		assert_true(n >= 0);
		assert_int_equal(atoi(st), cases[c].status);
		assert_non_null(strstr(body, cases[c].needle));
	}
	/* Too many arguments. */
	for (int i = 0; i < PL_ADMIN_MAX_ARGS + 2; i++)
		zmq_send(req, i == 0 ? "text" : "x", i == 0 ? 4 : 1, ZMQ_SNDMORE);
	zmq_send(req, "x", 1, 0);
	zmq_pollitem_t it = { .socket = pl_admin_socket(a), .events = ZMQ_POLLIN };
	assert_int_equal(zmq_poll(&it, 1, 2000), 1);
	pl_admin_handle(a);
	char st[16] = "", body[512] = "";
	assert_true(zmq_recv(req, st, sizeof(st) - 1, 0) > 0);
	assert_true(zmq_recv(req, body, sizeof(body) - 1, 0) > 0);
	assert_int_equal(atoi(st), E2BIG);

	/* Oversized: the socket's ZMQ_MAXMSGSIZE drops the peer; nothing crashes and the
	 * server still answers the next client. */
	char big[1024];
	memset(big, 'a', sizeof(big));
	void *req2 = zmq_socket(ctx, ZMQ_REQ);
	zmq_setsockopt(req2, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_connect(req2, ep);
	zmq_send(req2, "text", 4, ZMQ_SNDMORE);
	zmq_send(req2, big, sizeof(big), 0);

	/* Malformed: a DEALER without the REQ envelope. Counted, not answered. */
	uint64_t errs = pl_admin_errors(a);
	void *dealer = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_connect(dealer, ep);
	zmq_send(dealer, "garbage", 7, 0);
	assert_int_equal(zmq_poll(&it, 1, 2000), 1);
	for (int t = 0; t < 100 && pl_admin_errors(a) == errs; t++) {
		zmq_poll(&it, 1, 20);
		pl_admin_handle(a);
	}
	assert_int_equal(pl_admin_errors(a), errs + 1);

	zmq_send(req, "text", 4, ZMQ_SNDMORE);
	zmq_send(req, "version", 7, 0);
	assert_int_equal(zmq_poll(&it, 1, 2000), 1);
	pl_admin_handle(a);
	assert_true(zmq_recv(req, st, sizeof(st) - 1, 0) > 0);
	memset(body, 0, sizeof(body));
	assert_true(zmq_recv(req, body, sizeof(body) - 1, 0) > 0);
	assert_non_null(strstr(body, "podlane-wire"));

	zmq_close(dealer);
	zmq_close(req2);
	zmq_close(req);
	pl_admin_destroy(&a);
	zmq_ctx_term(ctx);
	char path[300];
	snprintf(path, sizeof(path), "%s/wire.ctl", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_rules),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
