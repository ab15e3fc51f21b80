/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the admin command channel (libcommon/pl_admin.c) as a local user
 * reaches it: the input becomes the frames of one ZeroMQ multipart message sent from a DEALER
 * socket to a real pl_admin's ROUTER socket (ipc:// in a private run dir); pl_admin_handle
 * reads, checks and dispatches it to the built-in commands (list-commands, version, log/set,
 * log/show, counters/show) and answers.
 *
 * Input: frames, each one length byte then that many bytes (a truncated last frame takes what
 * is left), at most 40. A client's request is [""][text|json][command][args...].
 * Seeds: tests/fuzz/corpus_admin (what podlanectl sends for each built-in command).
 *
 * Invariants: every request is served (pl_admin_handle returns 1) and counted; a request with
 * an empty frame after the first (a REQ envelope) gets exactly one reply - the envelope, a
 * status that is 0 or a positive errno in decimal, a body (saying why, for an error) - and a request without one gets none and counts as an error; an
 * unknown command is ENOENT. The log level is put back after each input. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "pl_admin.h"
#include "pl_log.h"

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "fuzz_admin: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                              \
			abort();                                                               \
		}                                                                              \
	} while (0)

#define MAX_FRAMES 40

static void *ctx, *client;
static struct pl_admin *admin;

static void setup(void)
{
	if (admin)
		return;
	static char dir[] = "/tmp/fuzz_admin.XXXXXX";
	CHECK(mkdtemp(dir));
	ctx = zmq_ctx_new();
	CHECK(ctx);
	admin = pl_admin_new(ctx, dir, "fuzz", 4096);
	CHECK(admin);
	client = zmq_socket(ctx, ZMQ_DEALER);
	char ep[128];
	snprintf(ep, sizeof(ep), "ipc://%s/fuzz.ctl", dir);
	int linger = 0;
	zmq_setsockopt(client, ZMQ_LINGER, &linger, sizeof(linger));
	CHECK(zmq_connect(client, ep) == 0);
	/* The socket files stay for the process's lifetime; the directory is removed at exit
	 * by nobody: it is in /tmp and empty of anything but the socket. */
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether sock has a message within ms milliseconds. A signal ends zmq_poll early with EINTR:
 * libFuzzer's -timeout arms a SIGALRM every timeout/2 + 1 seconds (run_fuzz.sh: -timeout=10,
 * every 6 s), and one landing while this waits is not "nothing arrived" - poll again for
 * what is left of the time. Any other error is a broken harness, not an answer. */
static bool wait_in(void *sock, int ms)
{
	zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
	int64_t deadline = now_ms() + ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		int rc = zmq_poll(&it, 1, left > 0 ? (long)left : 0);
		if (rc >= 0)
			return rc == 1;
		CHECK(errno == EINTR);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *f[MAX_FRAMES];
	size_t len[MAX_FRAMES], n = 0, pos = 0;

	while (pos < size && n < MAX_FRAMES) {
		size_t l = data[pos++];
		if (l > size - pos)
			l = size - pos;
		f[n] = data + pos;
		len[n++] = l;
		pos += l;
	}
	if (n == 0 || pos != size)
		return -1;
	setup();
	/* The ROUTER adds the identity frame: the client's first frame is the request's second. */
	bool envelope = false;
	size_t delim = 0;
	/* pl_admin keeps the first PL_ADMIN_MAX_ARGS + 4 frames, the identity among them (and
	 * refuses the request if there were more): a delimiter further on is never seen. */
	for (size_t i = 0; i < n && i < PL_ADMIN_MAX_ARGS + 3 && !envelope; i++)
		if (len[i] == 0) {
			envelope = true;
			delim = i;
		}
	bool unknown = envelope && delim + 2 < n && n + 1 <= PL_ADMIN_MAX_ARGS + 4 &&
		       n - delim - 2 <= PL_ADMIN_MAX_ARGS && len[delim + 1] == 4 &&
		       (!memcmp(f[delim + 1], "json", 4) || !memcmp(f[delim + 1], "text", 4));
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += len[i];
	if (total > 3000)
		unknown = false; /* may be refused as too large first */
	if (unknown) {
		static const char *const known[] = { "list-commands", "version", "log/set",
			"log/show", "counters/show" };
		size_t l = len[delim + 2];
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (l == strlen(known[k]) && !memcmp(f[delim + 2], known[k], l))
				unknown = false;
	}

	for (size_t i = 0; i < n; i++)
		CHECK(zmq_send(client, f[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0) == (int)len[i]);
	CHECK(wait_in(pl_admin_socket(admin), 5000));
	uint64_t req = pl_admin_requests(admin), err = pl_admin_errors(admin);
	CHECK(pl_admin_handle(admin) == 1);
	CHECK(pl_admin_requests(admin) == req + 1);
	if (!envelope) {
		CHECK(pl_admin_errors(admin) == err + 1);
		CHECK(!wait_in(client, 0));
		return 0;
	}
	CHECK(wait_in(client, 5000));
	/* The reply: the envelope back (the client's frames up to the delimiter), then status
	 * and body. */
	zmq_msg_t m;
	size_t got = 0;
	int status = -1, more = 1;
	char st[32] = "";
	while (more) {
		zmq_msg_init(&m);
		CHECK(zmq_msg_recv(&m, client, 0) >= 0);
		more = zmq_msg_more(&m);
		size_t sz = zmq_msg_size(&m);
		if (got <= delim) {
			CHECK(sz == len[got] && !memcmp(zmq_msg_data(&m), f[got], sz));
		} else if (got == delim + 1) {
			CHECK(sz > 0 && sz < sizeof(st));
			memcpy(st, zmq_msg_data(&m), sz);
			st[sz] = '\0';
			char *end;
			long v = strtol(st, &end, 10);
			CHECK(*end == '\0' && v >= 0 && v < 4096);
			status = (int)v;
		} else {
			CHECK(got == delim + 2 && !more);
			CHECK(status == 0 || sz > 0); /* an error says why */
		}
		zmq_msg_close(&m);
		got++;
	}
	CHECK(got == delim + 3 && status >= 0);
	CHECK(!unknown || status == ENOENT);
	CHECK(!wait_in(client, 0));
	pl_log_set_level(NULL, PL_LOG_INFO);
	return 0;
}
