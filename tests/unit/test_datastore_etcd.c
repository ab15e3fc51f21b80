/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the datastore's etcd source against a real etcd: one member on 127.0.0.1, free
 * ports, data in a mkdtemp directory that the group teardown removes even when a test fails (and
 * etcd dies with this process through PR_SET_PDEATHSIG). Each test has its own key prefix. A
 * small TCP proxy between the datastore and etcd can cut the connection, so that changes are
 * made while the source is certainly disconnected. Conditions are polled with a deadline. */
#include "pl_datastore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "pl_config.h"

#define DEADLINE_MS 20000 /* etcd restarts and the source's back-off (2 s at most) fit in it */
#define ETCD_START_MS 30000
#define PROXY_CONNS 16

/* ---- etcd ---- */

static struct {
	char dir[64]; /* data/ and etcd.log */
	int port, peer_port;
	char url[64];
	pid_t pid;
} etcd = { .pid = -1 };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
		!getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

struct reply {
	char data[1 << 16];
	size_t len;
};

static size_t on_reply(char *p, size_t size, size_t nmemb, void *arg)
{
	struct reply *r = arg;
	size_t n = size * nmemb, room = sizeof(r->data) - 1 - r->len;

	memcpy(r->data + r->len, p, n < room ? n : room);
	r->len += n < room ? n : room;
	r->data[r->len] = '\0';
	return n;
}

/* GET (body NULL) or POST to etcd; the HTTP status, or -1 when etcd did not answer. */
static long etcd_http(const char *path, const char *body, struct reply *r)
{
	char url[128];
	CURL *h = curl_easy_init();
	long status = -1;

	assert_non_null(h);
	snprintf(url, sizeof(url), "%s%s", etcd.url, path);
	r->len = 0;
	r->data[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status;
}

static void etcd_spawn(void)
{
	char data[128], log[128], client[64], peer[64], cluster[96];
	pid_t pid;
	int fd;

	snprintf(data, sizeof(data), "%s/data", etcd.dir);
	snprintf(log, sizeof(log), "%s/etcd.log", etcd.dir);
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", etcd.port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", etcd.peer_port);
	snprintf(cluster, sizeof(cluster), "default=%s", peer);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Whatever happens to the test, etcd goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		/* No socket of the test (the proxy's, the datastore's) may live on in etcd. */
		closefrom(3);
		execlp("etcd", "etcd", "--data-dir", data, "--listen-client-urls", client,
			"--advertise-client-urls", client, "--listen-peer-urls", peer,
			"--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
			(char *)NULL);
		_exit(127);
	}
	etcd.pid = pid;
}

static bool etcd_wait_healthy(void)
{
	int64_t deadline = now_ms() + ETCD_START_MS;
	struct reply *r = malloc(sizeof(*r));
	bool ok = false;
	int st;

	assert_non_null(r);
	while (!ok && now_ms() < deadline) {
		if (waitpid(etcd.pid, &st, WNOHANG) == etcd.pid) {
			etcd.pid = -1;
			break;
		}
		ok = etcd_http("/health", NULL, r) == 200 && strstr(r->data, "\"health\":\"true\"");
		if (!ok)
			poll(NULL, 0, 50);
	}
	free(r);
	return ok;
}

static void etcd_kill(void)
{
	if (etcd.pid <= 0)
		return;
	kill(etcd.pid, SIGKILL);
	waitpid(etcd.pid, NULL, 0);
	etcd.pid = -1;
}

/* kill -9, and etcd again on the same data and ports. */
static void etcd_restart(void)
{
	etcd_kill();
	etcd_spawn();
	if (!etcd_wait_healthy())
		fail_msg("etcd did not come back on %s; see %s/etcd.log", etcd.url, etcd.dir);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	etcd_kill();
	if (etcd.dir[0])
		nftw(etcd.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int group_setup(void **state)
{
	int try;

	(void)state;
	snprintf(etcd.dir, sizeof(etcd.dir), "/tmp/pl_etcd_test.XXXXXX");
	if (!mkdtemp(etcd.dir)) {
		etcd.dir[0] = '\0';
		return -1;
	}
	/* A port can be taken between free_port() and etcd's bind: then etcd exits; try again. */
	for (try = 0; try < 3; try++) {
		etcd.port = free_port();
		etcd.peer_port = free_port();
		if (etcd.port < 0 || etcd.peer_port < 0 || etcd.port == etcd.peer_port)
			continue;
		snprintf(etcd.url, sizeof(etcd.url), "http://127.0.0.1:%d", etcd.port);
		etcd_spawn();
		if (etcd_wait_healthy())
			return 0;
		etcd_kill();
	}
	fprintf(stderr, "etcd did not start; see %s/etcd.log\n", etcd.dir);
	group_teardown(state);
	return -1;
}

static char *b64(const char *s, size_t n)
{
	static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	assert_non_null(out);
	for (i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(uint8_t)s[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)(uint8_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= (uint8_t)s[i + 2];
		*o++ = d[v >> 18];
		*o++ = d[v >> 12 & 63];
		*o++ = i + 1 < n ? d[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? d[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static void add_b64(struct json_object *o, const char *name, const char *s)
{
	char *v = b64(s, strlen(s));

	json_object_object_add(o, name, json_object_new_string(v));
	free(v);
}

/* POSTs req (consumed) and returns the reply's revision. */
static int64_t etcd_call(const char *path, struct json_object *req)
{
	struct reply *r = malloc(sizeof(*r));
	struct json_object *resp, *header, *rev;
	long status;
	int64_t out;

	assert_non_null(r);
	status = etcd_http(path, json_object_to_json_string(req), r);
	json_object_put(req);
	if (status != 200)
		fail_msg("%s: HTTP %ld: %s", path, status, r->data);
	resp = json_tokener_parse(r->data);
	assert_non_null(resp);
	assert_true(json_object_object_get_ex(resp, "header", &header));
	assert_true(json_object_object_get_ex(header, "revision", &rev));
	out = json_object_get_int64(rev);
	json_object_put(resp);
	free(r);
	return out;
}

/* ---- a proxy that can cut the datastore off from etcd ---- */

struct proxy {
	int port, lfd; /* lfd -1 while cut: connections are refused */
	int conns[PROXY_CONNS][2]; /* client side, etcd side */
	int cmd[2], ack[2];
	pthread_t thread;
	char url[64];
};

static int proxy_listen(struct proxy *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)p->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int one = 1;

	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0)
		return -1;
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(p->lfd, 16) ||
		getsockname(p->lfd, (struct sockaddr *)&a, &len)) {
		close(p->lfd);
		p->lfd = -1;
		return -1;
	}
	p->port = ntohs(a.sin_port);
	return 0;
}

static void proxy_close_conn(struct proxy *p, int i)
{
	close(p->conns[i][0]);
	close(p->conns[i][1]);
	p->conns[i][0] = p->conns[i][1] = -1;
}

static void proxy_accept(struct proxy *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)etcd.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC), e, i;

	if (c < 0)
		return;
	e = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	for (i = 0; i < PROXY_CONNS && p->conns[i][0] >= 0; i++)
		;
	if (e < 0 || i == PROXY_CONNS || connect(e, (struct sockaddr *)&a, sizeof(a))) {
		close(c);
		if (e >= 0)
			close(e);
		return;
	}
	p->conns[i][0] = c;
	p->conns[i][1] = e;
}

static void proxy_forward(struct proxy *p, int i, int from)
{
	char buf[65536];
	ssize_t n = read(p->conns[i][from], buf, sizeof(buf)), w;
	size_t done = 0;

	while (n > 0 && done < (size_t)n) {
		w = write(p->conns[i][!from], buf + done, (size_t)n - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (n <= 0 || done < (size_t)n)
		proxy_close_conn(p, i);
}

static void *proxy_run(void *arg)
{
	struct pollfd pfd[2 + 2 * PROXY_CONNS];
	int who[2 + 2 * PROXY_CONNS], n, k, i;
	struct proxy *p = arg;
	bool accept_ready;
	char c;

	for (;;) {
		n = 0;
		pfd[n] = (struct pollfd){ .fd = p->cmd[0], .events = POLLIN };
		who[n++] = -1;
		if (p->lfd >= 0) {
			pfd[n] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
			who[n++] = -2;
		}
		for (i = 0; i < PROXY_CONNS; i++) {
			if (p->conns[i][0] < 0)
				continue;
			for (k = 0; k < 2; k++) {
				pfd[n] = (struct pollfd){ .fd = p->conns[i][k], .events = POLLIN };
				who[n++] = 2 * i + k;
			}
		}
		if (poll(pfd, (nfds_t)n, -1) < 0)
			continue;
		if (pfd[0].revents) {
			if (read(p->cmd[0], &c, 1) != 1)
				c = 'q';
			if (c == 'c' || c == 'q') {
				for (i = 0; i < PROXY_CONNS; i++)
					if (p->conns[i][0] >= 0)
						proxy_close_conn(p, i);
				if (p->lfd >= 0)
					close(p->lfd);
				p->lfd = -1;
			} else if (c == 'u' && p->lfd < 0) {
				proxy_listen(p);
			}
			if (write(p->ack[1], &c, 1) != 1 || c == 'q')
				return NULL;
			continue;
		}
		/* Accept last, so that no fd polled above is a new connection's already. */
		accept_ready = false;
		for (k = 1; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (who[k] == -2)
				accept_ready = true;
			else if (p->conns[who[k] / 2][0] >= 0)
				proxy_forward(p, who[k] / 2, who[k] % 2);
		}
		if (accept_ready)
			proxy_accept(p);
	}
}

static void proxy_cmd(struct proxy *p, char c)
{
	assert_int_equal(write(p->cmd[1], &c, 1), 1);
	assert_int_equal(read(p->ack[0], &c, 1), 1);
}

/* Refuses connections and closes those it carried, until proxy_up(). */
static void proxy_cut(struct proxy *p)
{
	proxy_cmd(p, 'c');
}

static void proxy_up(struct proxy *p)
{
	proxy_cmd(p, 'u');
	assert_true(p->lfd >= 0);
}

static struct proxy *proxy_new(void)
{
	struct proxy *p = calloc(1, sizeof(*p));
	int i;

	assert_non_null(p);
	for (i = 0; i < PROXY_CONNS; i++)
		p->conns[i][0] = p->conns[i][1] = -1;
	assert_int_equal(pipe2(p->cmd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(p->ack, O_CLOEXEC), 0);
	assert_int_equal(proxy_listen(p), 0);
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", p->port);
	assert_int_equal(pthread_create(&p->thread, NULL, proxy_run, p), 0);
	return p;
}

static void proxy_destroy(struct proxy **pp)
{
	struct proxy *p = *pp;

	if (!p)
		return;
	proxy_cmd(p, 'q');
	pthread_join(p->thread, NULL);
	close(p->cmd[0]);
	close(p->cmd[1]);
	close(p->ack[0]);
	close(p->ack[1]);
	free(p);
	*pp = NULL;
}

/* ---- the datastore under test ---- */

struct fixture {
	char prefix[32]; /* "/tN/" */
	char log[1 << 16]; /* "set KEY\n" / "del KEY\n" in order */
	char errors[1 << 14];
	size_t n_sets;
	struct pl_datastore *ds;
	struct proxy *proxy;
	char tmp[64]; /* a directory, for the dir source */
};

static void append(char *buf, size_t size, const char *what, const char *key)
{
	size_t used = strlen(buf);

	snprintf(buf + used, size - used, "%s%s\n", what, key);
}

static void on_set(const char *key, const struct pl_k8s_object *obj, void *ctx)
{
	struct fixture *f = ctx;
	char want[PL_K8S_KEY_SIZE];

	assert_non_null(obj);
	pl_k8s_key(obj->kind, obj->ns, obj->name, want, sizeof(want));
	assert_string_equal(key, want);
	append(f->log, sizeof(f->log), "set ", key);
	f->n_sets++;
}

static void on_del(const char *key, const struct pl_k8s_object *old, void *ctx)
{
	struct fixture *f = ctx;

	assert_non_null(old);
	append(f->log, sizeof(f->log), "del ", key);
}

static void on_err(const char *msg, void *ctx)
{
	struct fixture *f = ctx;

	append(f->errors, sizeof(f->errors), "", msg);
}

static int setup(void **state)
{
	static int n;
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->prefix, sizeof(f->prefix), "/t%d/", ++n);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pl_datastore_destroy(&f->ds);
	proxy_destroy(&f->proxy);
	if (f->tmp[0])
		nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void start(struct fixture *f, const char *url)
{
	f->ds = pl_datastore_etcd_new(url, f->prefix, on_set, on_del, on_err, f);
	assert_non_null(f->ds);
	assert_true(pl_datastore_fd(f->ds) >= 0);
}

static void pump(struct fixture *f, int64_t deadline)
{
	struct pollfd pfd = { .fd = pl_datastore_fd(f->ds), .events = POLLIN };
	int64_t left = deadline - now_ms();

	if (left > 0 && poll(&pfd, 1, (int)left) > 0)
		assert_int_equal(pl_datastore_handle(f->ds), 0);
}

/* Polls the datastore until `needle` shows up in the event log (or the error log). */
static void wait_for(struct fixture *f, const char *needle, bool in_errors)
{
	int64_t deadline = now_ms() + DEADLINE_MS;

	while (!strstr(in_errors ? f->errors : f->log, needle)) {
		if (now_ms() >= deadline)
			fail_msg("no '%s' before the deadline; log:\n%s\nerrors:\n%s", needle,
				f->log, f->errors);
		pump(f, deadline);
	}
}

static void wait_count(struct fixture *f, size_t n)
{
	int64_t deadline = now_ms() + DEADLINE_MS;

	while (pl_datastore_count(f->ds) != n) {
		if (now_ms() >= deadline)
			fail_msg(
				"%zu objects, not %zu, at the deadline; log:\n%.2000s\nerrors:\n%s",
				pl_datastore_count(f->ds), n, f->log, f->errors);
		pump(f, deadline);
	}
}

static int64_t put(struct fixture *f, const char *key, const char *value)
{
	struct json_object *req = json_object_new_object();
	char full[512];

	snprintf(full, sizeof(full), "%s%s", f->prefix, key);
	add_b64(req, "key", full);
	add_b64(req, "value", value);
	return etcd_call("/v3/kv/put", req);
}

static int64_t del(struct fixture *f, const char *key)
{
	struct json_object *req = json_object_new_object();
	char full[512];

	snprintf(full, sizeof(full), "%s%s", f->prefix, key);
	add_b64(req, "key", full);
	return etcd_call("/v3/kv/deleterange", req);
}

static void compact(int64_t rev)
{
	struct json_object *req = json_object_new_object();

	json_object_object_add(req, "revision", json_object_new_int64(rev));
	json_object_object_add(req, "physical", json_object_new_boolean(1));
	etcd_call("/v3/kv/compaction", req);
}

/* How many keys are under the prefix, and (when key is given) whether its value holds needle. */
static long count_keys(struct fixture *f)
{
	struct json_object *req = json_object_new_object(), *resp, *count;
	char end[32];
	struct reply *r = malloc(sizeof(*r));
	long n = 0;

	assert_non_null(r);
	snprintf(end, sizeof(end), "%s", f->prefix);
	end[strlen(end) - 1]++;
	add_b64(req, "key", f->prefix);
	add_b64(req, "range_end", end);
	json_object_object_add(req, "count_only", json_object_new_boolean(1));
	assert_int_equal(etcd_http("/v3/kv/range", json_object_to_json_string(req), r), 200);
	json_object_put(req);
	resp = json_tokener_parse(r->data);
	if (json_object_object_get_ex(resp, "count", &count))
		n = (long)json_object_get_int64(count);
	json_object_put(resp);
	free(r);
	return n;
}

static bool value_has(struct fixture *f, const char *key, const char *needle)
{
	struct json_object *req = json_object_new_object(), *resp, *kvs, *v;
	struct reply *r = malloc(sizeof(*r));
	char full[512], text[4096] = "";
	size_t i, len = 0;
	bool has;

	assert_non_null(r);
	snprintf(full, sizeof(full), "%s%s", f->prefix, key);
	add_b64(req, "key", full);
	assert_int_equal(etcd_http("/v3/kv/range", json_object_to_json_string(req), r), 200);
	json_object_put(req);
	resp = json_tokener_parse(r->data);
	if (json_object_object_get_ex(resp, "kvs", &kvs) &&
		json_object_object_get_ex(json_object_array_get_idx(kvs, 0), "value", &v)) {
		/* Decoded by hand: the test has only an encoder. */
		const char *s = json_object_get_string(v);
		static const char d[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		uint32_t acc = 0;
		int bits = 0;

		for (i = 0; s[i] && s[i] != '=' && len + 1 < sizeof(text); i++) {
			acc = acc << 6 | (uint32_t)(strchr(d, s[i]) - d);
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				text[len++] = (char)(acc >> bits & 255);
			}
		}
		text[len] = '\0';
	}
	json_object_put(resp);
	free(r);
	has = strstr(text, needle) != NULL;
	return has;
}

static const char svc_a[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
			    "spec: {ports: [{port: 80}]}\n";
static const char svc_a90[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
			      "spec: {ports: [{port: 90}]}\n";
static const char svc_b[] = "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
			    "spec: {ports: [{port: 81}]}\n";
static const char svc_c[] = "apiVersion: v1\nkind: Service\nmetadata: {name: c}\n"
			    "spec: {ports: [{port: 82}]}\n";
static const char svc_d[] = "apiVersion: v1\nkind: Service\nmetadata: {name: d}\n"
			    "spec: {ports: [{port: 83}]}\n";
static const char svc_x[] = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
			    "spec: {ports: [{port: 84}]}\n";
static const char eps_a[] = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			    "metadata: {name: a-1, labels: {kubernetes.io/service-name: a}}\n"
			    "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}]\n";

static size_t occurrences(const char *haystack, const char *needle)
{
	size_t n = 0;

	for (; (haystack = strstr(haystack, needle)); haystack += strlen(needle))
		n++;
	return n;
}

static uint16_t port_of(struct fixture *f, const char *key)
{
	const struct pl_k8s_object *o = pl_datastore_get(f->ds, key);

	assert_non_null(o);
	return o->svc.ports[0].port;
}

/* ---- tests ---- */

static void test_initial_load(void **state)
{
	struct fixture *f = *state;
	static const char bad_ip[] = "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\n"
				     "spec:\n  clusterIP: 10.0.0.300\n  ports: [{port: 80}]\n";
	char want[256];

	put(f, "Service/default/a", svc_a);
	put(f, "Service/default/b", svc_b);
	put(f, "EndpointSlice/default/a-1", eps_a);
	put(f, "Service/default/bad", bad_ip);
	/* Valid, but not the object its key names. */
	put(f, "Service/default/wrong", svc_b);
	start(f, etcd.url);
	/* The thread reads; only handle() reports, in this thread. */
	assert_string_equal(f->log, "");
	wait_count(f, 3);
	snprintf(want, sizeof(want),
		"etcd %sService/default/bad:5: Service default/bad: field 'spec.clusterIP'",
		f->prefix);
	wait_for(f, want, true);
	snprintf(want, sizeof(want),
		"etcd %sService/default/wrong: holds Service default/b, whose key is "
		"%sService/default/b",
		f->prefix, f->prefix);
	wait_for(f, want, true);
	assert_non_null(strstr(f->log, "set Service/default/a\n"));
	assert_non_null(strstr(f->log, "set Service/default/b\n"));
	assert_non_null(strstr(f->log, "set EndpointSlice/default/a-1\n"));
	assert_int_equal(port_of(f, "Service/default/b"), 81);
	assert_int_equal(pl_datastore_get(f->ds, "EndpointSlice/default/a-1")->eps.n_endpoints, 1);
	assert_null(pl_datastore_get(f->ds, "Service/default/bad"));
	assert_null(pl_datastore_get(f->ds, "Service/default/wrong"));
	assert_int_equal(pl_datastore_n_errors(f->ds), 2);
}

static void test_put_change_delete(void **state)
{
	struct fixture *f = *state;

	start(f, etcd.url);
	put(f, "Service/default/a", svc_a);
	wait_for(f, "set Service/default/a\n", false);
	assert_int_equal(port_of(f, "Service/default/a"), 80);

	f->log[0] = '\0';
	put(f, "Service/default/a", svc_a90);
	wait_for(f, "set Service/default/a\n", false);
	assert_int_equal(port_of(f, "Service/default/a"), 90);

	/* The same content again sets nothing: b, put after it, is the only event. */
	f->log[0] = '\0';
	put(f, "Service/default/a", svc_a90);
	put(f, "Service/default/b", svc_b);
	wait_for(f, "set Service/default/b\n", false);
	assert_string_equal(f->log, "set Service/default/b\n");

	f->log[0] = '\0';
	del(f, "Service/default/a");
	wait_for(f, "del Service/default/a\n", false);
	assert_string_equal(f->log, "del Service/default/a\n");
	assert_null(pl_datastore_get(f->ds, "Service/default/a"));
	assert_int_equal(pl_datastore_count(f->ds), 1);
	/* Deleting a key that held nothing valid reports nothing. */
	put(f, "Service/default/junk", "not: [yaml");
	del(f, "Service/default/junk");
	put(f, "Service/default/c", svc_c);
	wait_for(f, "set Service/default/c\n", false);
	assert_null(strstr(f->log, "junk"));
	assert_int_equal(pl_datastore_n_errors(f->ds), 1);
}

static void test_invalid_value_keeps_old(void **state)
{
	struct fixture *f = *state;
	static const char bad_ip[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				     "spec:\n  clusterIP: 10.0.0.300\n  ports: [{port: 80}]\n";
	static const char no_ports[] = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
				       "spec: {clusterIP: 10.0.0.5}\n";
	char want[256], *huge;
	size_t huge_size = PL_K8S_MAX_FILE_SIZE + 100;

	put(f, "Service/default/a", svc_a);
	start(f, etcd.url);
	wait_for(f, "set Service/default/a\n", false);
	f->log[0] = '\0';

	put(f, "Service/default/a", bad_ip);
	snprintf(want, sizeof(want),
		"etcd %sService/default/a:5: Service default/a: field 'spec.clusterIP': ",
		f->prefix);
	wait_for(f, want, true);
	assert_int_equal(port_of(f, "Service/default/a"), 80);
	assert_int_equal(pl_datastore_n_errors(f->ds), 1);

	put(f, "Service/default/a", no_ports);
	snprintf(want, sizeof(want), "etcd %sService/default/a:", f->prefix);
	wait_for(f, "Service default/a: field 'spec.ports'", true);
	assert_non_null(strstr(f->errors, want));
	assert_int_equal(pl_datastore_n_errors(f->ds), 2);

	/* Over PL_K8S_MAX_FILE_SIZE: refused before it is decoded or parsed. */
	huge = malloc(huge_size + 1);
	assert_non_null(huge);
	memset(huge, '#', huge_size);
	huge[huge_size] = '\0';
	put(f, "Service/default/a", huge);
	free(huge);
	snprintf(want, sizeof(want),
		"etcd %sService/default/a: %zu bytes, more than the %d allowed", f->prefix,
		huge_size, PL_K8S_MAX_FILE_SIZE);
	wait_for(f, want, true);

	/* Two documents under one key: one key, one object. */
	put(f, "Service/default/a",
		"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
		"spec: {ports: [{port: 1}]}\n---\n"
		"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
		"spec: {ports: [{port: 2}]}\n");
	wait_for(f, "2 documents; a key holds exactly one object", true);
	assert_int_equal(pl_datastore_n_errors(f->ds), 4);
	assert_int_equal(port_of(f, "Service/default/a"), 80);
	assert_string_equal(f->log, "");

	/* And a valid value is taken again. */
	put(f, "Service/default/a", svc_a90);
	wait_for(f, "set Service/default/a\n", false);
	assert_int_equal(port_of(f, "Service/default/a"), 90);
}

static void test_etcd_restart_resumes(void **state)
{
	struct fixture *f = *state;

	put(f, "Service/default/a", svc_a);
	put(f, "Service/default/b", svc_b);
	start(f, etcd.url);
	wait_count(f, 2);
	f->log[0] = '\0';

	etcd_restart();
	/* Right after the restart, likely before the source is back: it must still see both. */
	put(f, "Service/default/a", svc_a90);
	put(f, "Service/default/c", svc_c);
	wait_for(f, "set Service/default/c\n", false);
	wait_for(f, "set Service/default/a\n", false);
	assert_int_equal(port_of(f, "Service/default/a"), 90);
	assert_null(strstr(f->log, "del "));
	assert_int_equal(pl_datastore_count(f->ds), 3);
	/* The outage was told, once, and is not a rejected object. */
	assert_non_null(strstr(f->errors, "; retrying"));
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);

	/* And the watch goes on. */
	del(f, "Service/default/b");
	wait_for(f, "del Service/default/b\n", false);
}

static void test_change_while_disconnected(void **state)
{
	struct fixture *f = *state;

	put(f, "Service/default/a", svc_a);
	put(f, "Service/default/b", svc_b);
	f->proxy = proxy_new();
	start(f, f->proxy->url);
	wait_count(f, 2);
	f->log[0] = '\0';

	/* Cut off, etcd down and back, and changes made, all before the source can reconnect. */
	proxy_cut(f->proxy);
	etcd_restart();
	put(f, "Service/default/a", svc_a90);
	put(f, "Service/default/x", svc_x);
	del(f, "Service/default/x");
	del(f, "Service/default/b");
	proxy_up(f->proxy);
	wait_for(f, "del Service/default/b\n", false);
	/* Resumed from the revision it had seen: every change, in order (a re-read would never
	 * have shown x). */
	assert_string_equal(f->log, "set Service/default/a\nset Service/default/x\n"
				    "del Service/default/x\ndel Service/default/b\n");
	assert_int_equal(port_of(f, "Service/default/a"), 90);
	assert_int_equal(pl_datastore_count(f->ds), 1);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void test_compaction_resync(void **state)
{
	struct fixture *f = *state;
	int64_t rev;

	put(f, "Service/default/a", svc_a);
	put(f, "Service/default/b", svc_b);
	put(f, "Service/default/c", svc_c);
	f->proxy = proxy_new();
	start(f, f->proxy->url);
	wait_count(f, 3);
	f->log[0] = '\0';

	proxy_cut(f->proxy);
	put(f, "Service/default/a", svc_a90);
	put(f, "Service/default/d", svc_d);
	put(f, "Service/default/x", svc_x);
	del(f, "Service/default/x");
	rev = del(f, "Service/default/c");
	/* The revision the source would resume from is gone now. */
	compact(rev);
	proxy_up(f->proxy);
	wait_for(f, "del Service/default/c\n", false);
	/* Read again and reconciled: sets for what changed or is new, a del for what went away,
	 * nothing for b (unchanged) or x (came and went meanwhile). */
	assert_string_equal(f->log, "set Service/default/a\nset Service/default/d\n"
				    "del Service/default/c\n");
	assert_int_equal(port_of(f, "Service/default/a"), 90);
	assert_int_equal(pl_datastore_count(f->ds), 3);

	/* Watching again from the re-read's revision. */
	put(f, "Service/default/x", svc_x);
	wait_for(f, "set Service/default/x\n", false);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void test_unreachable_at_start(void **state)
{
	struct fixture *f = *state;

	f->proxy = proxy_new();
	proxy_cut(f->proxy);
	/* A service may start before etcd: this succeeds, and tells through handle(). */
	start(f, f->proxy->url);
	wait_for(f, "; retrying", true);
	assert_non_null(strstr(f->errors, f->proxy->url));
	assert_int_equal(pl_datastore_count(f->ds), 0);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);

	put(f, "Service/default/a", svc_a);
	proxy_up(f->proxy);
	wait_for(f, "set Service/default/a\n", false);
	put(f, "Service/default/b", svc_b);
	wait_for(f, "set Service/default/b\n", false);
	/* One outage, told once however many retries it took. */
	assert_int_equal(occurrences(f->errors, "; retrying"), 1);
}

static void test_large_initial_load(void **state)
{
	struct fixture *f = *state;
	enum {
		N = 1500,
		PER_TXN = 100
	};
	struct json_object *req, *ops, *op, *p;
	char key[64], value[256];
	int i, j;

	for (i = 0; i < N; i += PER_TXN) {
		req = json_object_new_object();
		ops = json_object_new_array();
		for (j = i; j < i + PER_TXN; j++) {
			snprintf(key, sizeof(key), "%sService/default/s%04d", f->prefix, j);
			snprintf(value, sizeof(value),
				"apiVersion: v1\nkind: Service\nmetadata: {name: s%04d}\n"
				"spec: {ports: [{port: %d}]}\n",
				j, 1000 + j);
			op = json_object_new_object();
			p = json_object_new_object();
			add_b64(p, "key", key);
			add_b64(p, "value", value);
			json_object_object_add(op, "request_put", p);
			json_object_array_add(ops, op);
		}
		json_object_object_add(req, "success", ops);
		etcd_call("/v3/kv/txn", req);
	}
	/* More than a range page and than the queue holds: the thread waits for handle(). Being
	 * destroyed while it waits must not hang. */
	start(f, etcd.url);
	{
		struct pollfd pfd = { .fd = pl_datastore_fd(f->ds), .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, DEADLINE_MS), 1);
	}
	pl_datastore_destroy(&f->ds);
	assert_string_equal(f->log, "");

	start(f, etcd.url);
	wait_count(f, N);
	assert_int_equal(f->n_sets, N);
	assert_int_equal(port_of(f, "Service/default/s1234"), 2234);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void etcd_config(struct fixture *f, struct pl_config *cfg)
{
	pl_config_defaults(cfg);
	snprintf(cfg->datastore.source, sizeof(cfg->datastore.source), "etcd");
	/* With a trailing '/', as an operator may write it. */
	snprintf(cfg->datastore.etcd_endpoint, sizeof(cfg->datastore.etcd_endpoint), "%s/",
		etcd.url);
	snprintf(cfg->datastore.etcd_prefix, sizeof(cfg->datastore.etcd_prefix), "%s", f->prefix);
}

static void test_write_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	static const char bad_b[] = "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
				    "spec: {ports: [{port: 70000}]}\n";
	static const char anonymous[] = "apiVersion: v1\nkind: Service\nspec: {}\n";
	char three[1024], bad[1024], where[256], err[1024], *many;
	struct pl_config cfg;
	size_t used = 0;
	int i;

	etcd_config(f, &cfg);
	start(f, etcd.url);
	snprintf(three, sizeof(three), "%s---\n%s---\n%s", svc_a, svc_b, eps_a);
	assert_int_equal(pl_datastore_write(&cfg, "input.yaml", three, strlen(three), where,
				 sizeof(where), err, sizeof(err)),
		0);
	snprintf(bad, sizeof(bad), "etcd %sService/default/a and 2 more", f->prefix);
	assert_string_equal(where, bad);
	wait_count(f, 3);
	assert_int_equal(count_keys(f), 3);
	/* Each key holds its own document, and only that. */
	assert_true(value_has(f, "Service/default/b", "name: b}"));
	assert_false(value_has(f, "Service/default/b", "name: a}"));
	assert_true(value_has(f, "EndpointSlice/default/a-1", "10.0.0.1"));

	/* One bad document of three (a changed, b invalid, x new): nothing is written. */
	snprintf(bad, sizeof(bad), "%s---\n%s---\n%s", svc_a90, bad_b, svc_x);
	assert_int_equal(pl_datastore_write(&cfg, "input.yaml", bad, strlen(bad), where,
				 sizeof(where), err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "input.yaml:9: Service default/b: field 'spec.ports[0].port'"));
	assert_int_equal(count_keys(f), 3);
	assert_true(value_has(f, "Service/default/a", "port: 80}"));

	/* The same object twice would make etcd refuse the transaction: refused here, named. */
	snprintf(bad, sizeof(bad), "%s---\n%s", svc_a90, svc_a90);
	assert_int_equal(pl_datastore_write(&cfg, "input.yaml", bad, strlen(bad), where,
				 sizeof(where), err, sizeof(err)),
		-EINVAL);
	/* A document's line is its "---" marker's, as in the parser's other messages. */
	assert_non_null(strstr(err, "input.yaml:5: Service/default/a: defined twice"));

	/* Valid, but more operations than etcd takes in one transaction: etcd refuses it whole,
	 * so not even the first 128 are written. */
	many = malloc(200 * 128);
	assert_non_null(many);
	for (i = 0; i < 200; i++)
		used += (size_t)snprintf(many + used, 200 * 128 - used,
			"apiVersion: v1\nkind: Service\nmetadata: {name: m%03d}\n"
			"spec: {ports: [{port: 80}]}\n---\n",
			i);
	assert_true(pl_datastore_write(&cfg, "many.yaml", many, used, where, sizeof(where), err,
			    sizeof(err)) < 0);
	free(many);
	assert_non_null(strstr(err, etcd.url));
	assert_non_null(strstr(err, "too many operations in txn request"));
	assert_int_equal(count_keys(f), 3);

	/* delete -f: by key; an object without a name cannot be deleted. */
	assert_int_equal(pl_datastore_delete_objects(&cfg, "input.yaml", anonymous,
				 strlen(anonymous), err, sizeof(err)),
		-EINVAL);
	assert_int_equal(count_keys(f), 3);
	f->log[0] = '\0';
	assert_int_equal(pl_datastore_delete_objects(
				 &cfg, "input.yaml", three, strlen(three), err, sizeof(err)),
		3);
	wait_count(f, 0);
	assert_non_null(strstr(f->log, "del Service/default/a\n"));
	assert_non_null(strstr(f->log, "del EndpointSlice/default/a-1\n"));
	assert_int_equal(count_keys(f), 0);
	assert_int_equal(pl_datastore_delete_objects(
				 &cfg, "input.yaml", three, strlen(three), err, sizeof(err)),
		0);
	assert_int_equal(pl_datastore_n_errors(f->ds), 0);
}

static void test_open_picks_source(void **state)
{
	struct fixture *f = *state;
	char where[256], err[512];
	struct pl_config cfg;

	/* dir */
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/pl_etcd_test_dir.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	pl_config_defaults(&cfg);
	snprintf(cfg.datastore.dir, sizeof(cfg.datastore.dir), "%s", f->tmp);
	assert_int_equal(pl_datastore_write(&cfg, "in.yaml", svc_a, strlen(svc_a), where,
				 sizeof(where), err, sizeof(err)),
		0);
	assert_string_equal(where, "service_default_a.yaml");
	f->ds = pl_datastore_open(&cfg, on_set, on_del, on_err, f);
	assert_non_null(f->ds);
	assert_int_equal(pl_datastore_count(f->ds), 1);
	assert_int_equal(count_keys(f), 0);
	pl_datastore_destroy(&f->ds);

	/* etcd */
	etcd_config(f, &cfg);
	f->log[0] = '\0';
	assert_int_equal(pl_datastore_write(&cfg, "in.yaml", svc_b, strlen(svc_b), where,
				 sizeof(where), err, sizeof(err)),
		0);
	f->ds = pl_datastore_open(&cfg, on_set, on_del, on_err, f);
	assert_non_null(f->ds);
	wait_for(f, "set Service/default/b\n", false);
	assert_null(strstr(f->log, "Service/default/a"));

	/* Refused arguments. */
	errno = 0;
	assert_null(pl_datastore_etcd_new("127.0.0.1:2379", "/p/", on_set, on_del, on_err, f));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(pl_datastore_etcd_new(etcd.url, "", on_set, on_del, on_err, f));
	assert_int_equal(errno, EINVAL);
}

static bool have_etcd(void)
{
	const char *path = getenv("PATH");
	char dir[4096], file[4200], *save = NULL, *d;

	snprintf(dir, sizeof(dir), "%s", path ? path : "/usr/bin:/bin");
	for (d = strtok_r(dir, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(file, sizeof(file), "%s/etcd", d);
		if (access(file, X_OK) == 0)
			return true;
	}
	return false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_initial_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_change_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_value_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_etcd_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_while_disconnected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_initial_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_picks_source, setup, teardown),
	};

	if (!have_etcd()) {
		fprintf(stderr, "etcd is not installed: skipped\n");
		return 77;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
