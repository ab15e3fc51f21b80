/* SPDX-License-Identifier: Apache-2.0 */
/* etcd v3 source of the datastore, over etcd's JSON gateway with libcurl (POST /v3/kv/range,
 * /v3/watch, /v3/kv/txn; keys and values base64). One thread per source reads every key under
 * the prefix, page by page at one revision, then watches from the next revision. After a failure
 * it backs off (100 ms doubling to 2 s) and resumes the watch where it stopped, or reads all again
 * when etcd has compacted that revision away. Values are parsed on this thread; the caller's
 * thread only applies the bounded queue of outcomes (pl_datastore.c). */
#include "pl_datastore_etcd.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#define MSG_SIZE 1024
#define ENDPOINT_SIZE 256
#define PREFIX_SIZE 256
#define KEY_PRINT_MAX 400 /* of an etcd key in a message */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 3000
#define REQUEST_TIMEOUT_MS 30000
/* Keys per range request, halved while a page does not fit in MAX_RESPONSE_SIZE. */
#define RANGE_PAGE 64
/* A range page, a transaction's reply or one watch message. */
#define MAX_RESPONSE_SIZE (16u << 20)
/* The queue holds the thread back (it never drops a change) past either bound. */
#define QUEUE_MAX_EVENTS 1024
#define QUEUE_MAX_BYTES (64u << 20)

struct pl_datastore_etcd_watch {
	char endpoint[ENDPOINT_SIZE]; /* no trailing '/' */
	char prefix[PREFIX_SIZE];
	char prefix_end[PREFIX_SIZE]; /* first key after the prefix's range, etcd-style */
	size_t prefix_len, prefix_end_len;
	int efd;
	CURLM *multi; /* every request of the thread: destroy wakes it to interrupt them */
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* queue space, or stop */
	bool stop;
	struct pl_datastore_etcd_event *head, *tail;
	size_t n_queued, bytes_queued;

	/* The thread's own. */
	int64_t rev; /* every change up to this revision is queued */
	bool reported; /* the current outage has been reported */
};

/* ---- base64, as the gateway carries keys and values ---- */

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* NUL-terminated and malloc'd; NULL when out of memory. */
static char *b64_encode(const void *data, size_t size)
{
	const uint8_t *p = data;
	char *out = malloc((size + 2) / 3 * 4 + 1);
	size_t i, o = 0;
	uint32_t v;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < size; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64_digits[v >> 18];
		out[o++] = b64_digits[v >> 12 & 63];
		out[o++] = b64_digits[v >> 6 & 63];
		out[o++] = b64_digits[v & 63];
	}
	if (i < size) {
		v = (uint32_t)p[i] << 16 | (i + 1 < size ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = b64_digits[v >> 18];
		out[o++] = b64_digits[v >> 12 & 63];
		out[o++] = i + 1 < size ? b64_digits[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Bytes that len characters of padded base64 decode to; 0 when len cannot be base64. */
static size_t b64_decoded_size(const char *in, size_t len)
{
	size_t pad = 0;

	if (!len || len % 4)
		return 0;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	return len / 4 * 3 - pad;
}

/* Into a malloc'd buffer, NUL-terminated for convenience. -EINVAL for anything that is not
 * padded base64, -ENOMEM. */
static int b64_decode(const char *in, size_t len, char **outp, size_t *sizep)
{
	size_t i, j, o = 0;
	char *out;

	*outp = NULL;
	*sizep = 0;
	if (len % 4)
		return -EINVAL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		int d[4], pad = 0;
		uint32_t v;

		for (j = 0; j < 4; j++) {
			/* '=' only as the last one or two characters of the input. */
			if (in[i + j] == '=' && i + 4 == len && j >= 2 &&
				(j == 3 || in[i + 3] == '=')) {
				d[j] = 0;
				pad++;
				continue;
			}
			d[j] = b64_digit(in[i + j]);
			if (d[j] < 0 || pad) {
				free(out);
				return -EINVAL;
			}
		}
		v = (uint32_t)d[0] << 18 | (uint32_t)d[1] << 12 | (uint32_t)d[2] << 6 |
		    (uint32_t)d[3];
		out[o++] = (char)(v >> 16);
		if (pad < 2)
			out[o++] = (char)(v >> 8 & 255);
		if (pad < 1)
			out[o++] = (char)(v & 255);
	}
	out[o] = '\0';
	*outp = out;
	*sizep = o;
	return 0;
}

/* ---- JSON ---- */

/* NULL unless buf holds one well-formed JSON value (trailing whitespace allowed). */
static struct json_object *json_parse(const char *buf, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (len > INT32_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static struct json_object *field(struct json_object *o, const char *name, enum json_type type)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static const char *field_str(struct json_object *o, const char *name, size_t *len)
{
	struct json_object *v = field(o, name, json_type_string);

	if (!v)
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static bool field_bool(struct json_object *o, const char *name)
{
	struct json_object *v = field(o, name, json_type_boolean);

	return v && json_object_get_boolean(v);
}

/* The gateway writes int64 as a string and leaves out zeros: 0 when absent, -EPROTO when it is
 * neither an integer nor a string holding one. */
static int field_i64(struct json_object *o, const char *name, int64_t *out)
{
	struct json_object *v;
	const char *s;
	char *end;

	*out = 0;
	if (!o || !json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return -EPROTO;
	s = json_object_get_string(v);
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno || end == s || *end ? -EPROTO : 0;
}

static int add_b64(struct json_object *o, const char *name, const void *data, size_t size)
{
	char *s = b64_encode(data, size);
	struct json_object *v = s ? json_object_new_string(s) : NULL;

	free(s);
	if (!v || json_object_object_add(o, name, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_i64(struct json_object *o, const char *name, int64_t value)
{
	struct json_object *v = json_object_new_int64(value);

	if (!v || json_object_object_add(o, name, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* Adds child to o (array when name is NULL), taking it over even on failure. */
static int add_obj(struct json_object *o, const char *name, struct json_object *child)
{
	int rc;

	if (!child)
		return -ENOMEM;
	rc = name ? json_object_object_add(o, name, child) : json_object_array_add(o, child);
	if (rc) {
		json_object_put(child);
		return -ENOMEM;
	}
	return 0;
}

/* ---- HTTP ---- */

struct buf {
	char *data;
	size_t len, cap, max;
};

static int buf_append(struct buf *b, const char *p, size_t n)
{
	size_t cap;
	char *d;

	if (n > b->max - b->len)
		return -EFBIG;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

struct http {
	const char *endpoint;
	struct pl_datastore_etcd_watch *w; /* NULL: a plain blocking request (podlanectl) */
	CURL *h;
	long status;
	struct buf resp; /* the body; streaming: the line being assembled, or an error body */
	/* Streaming: called with each line (one JSON message) of a 200 reply; nonzero stops. */
	int (*on_line)(void *arg, const char *line, size_t len);
	void *arg;
	int cb_rc; /* why a callback stopped the transfer */
	char *why;
	size_t why_size;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http *x = arg;
	size_t n = size * nmemb, done = 0, chunk;
	const char *nl;
	int rc;

	if (!x->status)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (!x->on_line || x->status != 200) {
		rc = buf_append(&x->resp, p, n);
		if (rc) {
			x->cb_rc = rc;
			snprintf(x->why, x->why_size, "reply larger than %u bytes",
				MAX_RESPONSE_SIZE);
			return 0;
		}
		return n;
	}
	while (done < n) {
		nl = memchr(p + done, '\n', n - done);
		chunk = nl ? (size_t)(nl - (p + done)) : n - done;
		rc = buf_append(&x->resp, p + done, chunk);
		if (rc) {
			x->cb_rc = rc;
			snprintf(x->why, x->why_size, "watch message larger than %u bytes",
				MAX_RESPONSE_SIZE);
			return 0;
		}
		done += chunk;
		if (!nl)
			break;
		done++;
		rc = x->on_line(x->arg, x->resp.data, x->resp.len);
		x->resp.len = 0;
		if (rc) {
			x->cb_rc = rc;
			return 0;
		}
	}
	return n;
}

static bool stopping(struct pl_datastore_etcd_watch *w)
{
	bool stop;

	pthread_mutex_lock(&w->lock);
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* curl_easy_perform, but through the thread's multi handle so that destroy can interrupt it. */
static CURLcode multi_perform(struct pl_datastore_etcd_watch *w, CURL *h)
{
	CURLcode res = CURLE_OK;
	int running = 1, left;
	CURLMsg *m;

	if (curl_multi_add_handle(w->multi, h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		if (stopping(w)) {
			res = CURLE_ABORTED_BY_CALLBACK;
			goto out;
		}
		if (curl_multi_perform(w->multi, &running) != CURLM_OK ||
			(running && curl_multi_poll(w->multi, NULL, 0, 1000, NULL) != CURLM_OK)) {
			res = CURLE_FAILED_INIT;
			goto out;
		}
	}
	while ((m = curl_multi_info_read(w->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == h)
			res = m->data.result;
out:
	curl_multi_remove_handle(w->multi, h);
	return res;
}

static int curl_errno(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* etcd's own words from an error reply ({"error": ..., "message": ...}), else its start. A 200
 * status is an error inside a stream. */
static void error_reply(const char *path, long status, const struct buf *b, char *why, size_t size)
{
	struct json_object *o = b->len ? json_parse(b->data, b->len) : NULL;
	const char *msg = field_str(o, "message", NULL);

	if (!msg)
		msg = field_str(o, "error", NULL);
	if (!msg)
		msg = field_str(field(o, "error", json_type_object), "message", NULL);
	if (msg && status == 200)
		snprintf(why, size, "%s: %s", path, msg);
	else if (msg)
		snprintf(why, size, "%s: HTTP %ld: %s", path, status, msg);
	else
		snprintf(why, size, "%s: HTTP %ld: %.*s", path, status,
			(int)(b->len < 200 ? b->len : 200), b->len ? b->data : "");
	json_object_put(o);
}

/* POSTs body to the endpoint's path. 0 when etcd answered 200 (and, streaming, ended the reply);
 * else -errno with the reason in x->why: -ECANCELED when the source is being destroyed, -ESTALE
 * when etcd refused a compacted revision, -EFBIG when the reply would not fit. */
static int perform(struct http *x, const char *path, const char *body, long timeout_ms)
{
	char url[ENDPOINT_SIZE + 32], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs;
	CURLcode res;
	int rc = 0;

	snprintf(url, sizeof(url), "%s%s", x->endpoint, path);
	x->h = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!x->h || !hdrs) {
		snprintf(x->why, x->why_size, "%s: out of memory", path);
		rc = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* etcd is reached directly: an http_proxy meant for the outside must not apply. */
	curl_easy_setopt(x->h, CURLOPT_PROXY, "");
	curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(x->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* A watch is silent for as long as nothing changes: keepalive notices a dead peer. */
	curl_easy_setopt(x->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(x->h, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(x->h, CURLOPT_TCP_KEEPINTVL, 5L);
	res = x->w ? multi_perform(x->w, x->h) : curl_easy_perform(x->h);
	if (!x->status)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (res == CURLE_WRITE_ERROR && x->cb_rc) {
		rc = x->cb_rc;
	} else if (res == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(x->why, x->why_size, "%s: stopped", path);
		rc = -ECANCELED;
	} else if (res != CURLE_OK) {
		snprintf(x->why, x->why_size, "%s: %s", path,
			curl_err[0] ? curl_err : curl_easy_strerror(res));
		rc = curl_errno(res);
	} else if (x->status != 200) {
		error_reply(path, x->status, &x->resp, x->why, x->why_size);
		rc = strstr(x->why, "compacted") ? -ESTALE : -EIO;
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(x->h);
	x->h = NULL;
	return rc;
}

/* A unary call: req out, the parsed reply into *respp. */
static int call(const char *endpoint, struct pl_datastore_etcd_watch *w, const char *path,
	struct json_object *req, struct json_object **respp, char *why, size_t why_size)
{
	struct http x = {
		.endpoint = endpoint,
		.w = w,
		.resp.max = MAX_RESPONSE_SIZE,
		.why = why,
		.why_size = why_size,
	};
	const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	int rc;

	*respp = NULL;
	if (!body) {
		snprintf(why, why_size, "%s: out of memory", path);
		return -ENOMEM;
	}
	rc = perform(&x, path, body, REQUEST_TIMEOUT_MS);
	if (!rc) {
		*respp = json_parse(x.resp.data ? x.resp.data : "", x.resp.len);
		if (!*respp || !json_object_is_type(*respp, json_type_object)) {
			json_object_put(*respp);
			*respp = NULL;
			snprintf(why, why_size, "%s: reply is not a JSON object", path);
			rc = -EPROTO;
		}
	}
	free(x.resp.data);
	return rc;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the queue towards the caller's thread ---- */

static struct pl_datastore_etcd_event *event_new(
	enum pl_datastore_etcd_ev_type type, const char *key)
{
	struct pl_datastore_etcd_event *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return NULL;
	ev->type = type;
	if (key)
		snprintf(ev->key, sizeof(ev->key), "%s", key);
	ev->size = sizeof(*ev);
	return ev;
}

static int event_msg(struct pl_datastore_etcd_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int event_msg(struct pl_datastore_etcd_event *ev, const char *fmt, ...)
{
	char msg[MSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(ev->msg);
	ev->msg = strdup(msg);
	if (!ev->msg)
		return -ENOMEM;
	ev->size += strlen(msg) + 1;
	return 0;
}

void pl_datastore_etcd_event_free(struct pl_datastore_etcd_event *ev)
{
	if (!ev)
		return;
	pl_k8s_object_destroy(&ev->obj);
	free(ev->msg);
	free(ev);
}

/* Hands ev to the caller's side (ev NULL: out of memory), waiting while the queue is full.
 * -ECANCELED, ev freed, when the source is being destroyed. */
static int push(struct pl_datastore_etcd_watch *w, struct pl_datastore_etcd_event *ev)
{
	uint64_t one = 1;
	ssize_t n;

	if (!ev)
		return -ENOMEM;
	pthread_mutex_lock(&w->lock);
	/* One event always fits, however large, or a big object could never pass. */
	while (!w->stop && w->n_queued &&
		(w->n_queued >= QUEUE_MAX_EVENTS || w->bytes_queued + ev->size > QUEUE_MAX_BYTES))
		pthread_cond_wait(&w->cond, &w->lock);
	if (w->stop) {
		pthread_mutex_unlock(&w->lock);
		pl_datastore_etcd_event_free(ev);
		return -ECANCELED;
	}
	ev->next = NULL;
	if (w->tail)
		w->tail->next = ev;
	else
		w->head = ev;
	w->tail = ev;
	w->bytes_queued += ev->size;
	if (!w->n_queued++) {
		/* Only on empty -> non-empty, under the lock that take() resets it under: the fd is
		 * readable exactly while something is queued. */
		n = write(w->efd, &one, sizeof(one));
		(void)n;
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

struct pl_datastore_etcd_event *pl_datastore_etcd_watch_take(struct pl_datastore_etcd_watch *w)
{
	struct pl_datastore_etcd_event *list;
	uint64_t count;
	ssize_t n;

	pthread_mutex_lock(&w->lock);
	n = read(w->efd, &count, sizeof(count));
	(void)n;
	list = w->head;
	w->head = w->tail = NULL;
	w->n_queued = w->bytes_queued = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return list;
}

int pl_datastore_etcd_watch_fd(const struct pl_datastore_etcd_watch *w)
{
	return w->efd;
}

/* Once per outage: the caller hears that etcd is out of reach, not every retry. */
static void outage(struct pl_datastore_etcd_watch *w, const char *why)
{
	struct pl_datastore_etcd_event *ev;

	if (w->reported)
		return;
	w->reported = true;
	ev = event_new(PL_DATASTORE_ETCD_NOTICE, NULL);
	if (ev && event_msg(ev, "etcd %s: %s; retrying every %d ms at most", w->endpoint, why,
			  BACKOFF_MAX_MS)) {
		pl_datastore_etcd_event_free(ev);
		ev = NULL;
	}
	if (ev)
		push(w, ev);
}

/* ---- values to objects ---- */

struct one_doc {
	size_t n_docs;
	struct pl_k8s_object *obj; /* the first document, when valid */
};

static void on_value_doc(struct pl_k8s_doc *doc, void *arg)
{
	struct one_doc *d = arg;

	if (!d->n_docs++ && doc->obj) {
		d->obj = doc->obj;
		doc->obj = NULL;
	}
}

static size_t object_size(const struct pl_k8s_object *obj)
{
	size_t size = sizeof(*obj);

	if (obj->kind == PL_K8S_ENDPOINT_SLICE)
		size += obj->eps.n_endpoints * sizeof(*obj->eps.endpoints);
	if (obj->kind == PL_K8S_NETWORK_POLICY || obj->kind == PL_K8S_TIER_POLICY) {
		const struct pl_k8s_netpol *np = &obj->np;
		size_t i;

		size += (np->n_ingress + np->n_egress) * sizeof(struct pl_k8s_np_rule);
		for (i = 0; i < np->n_ingress; i++)
			size += np->ingress_rules[i].n_peers * sizeof(struct pl_k8s_peer);
		for (i = 0; i < np->n_egress; i++)
			size += np->egress_rules[i].n_peers * sizeof(struct pl_k8s_peer);
	}
	return size;
}

/* What the etcd key ekey holding value means: SET when it is one valid object whose identity is
 * its key, INVALID with the reason otherwise. dskey is ekey without the prefix (NULL when that
 * cannot be a datastore key). NULL when out of memory. */
static struct pl_datastore_etcd_event *value_event(struct pl_datastore_etcd_watch *w,
	const char *ekey, const char *dskey, const char *value, size_t size)
{
	struct pl_datastore_etcd_event *ev = event_new(PL_DATASTORE_ETCD_INVALID, dskey);
	char name[KEY_PRINT_MAX + 8], err[MSG_SIZE], key[PL_K8S_KEY_SIZE];
	struct one_doc d = { 0 };
	struct pl_k8s_object *o;
	int rc;

	if (!ev)
		return NULL;
	/* The parser's messages then read "etcd KEY:LINE: <Kind> <ns>/<name>: field ...". */
	snprintf(name, sizeof(name), "etcd %.*s", KEY_PRINT_MAX, ekey);
	rc = pl_k8s_parse_buffer(name, value, size, on_value_doc, &d, err, sizeof(err));
	o = d.obj;
	if (rc == -ENOMEM)
		goto out;
	if (rc) {
		rc = event_msg(ev, "%s", err);
	} else if (!d.n_docs) {
		rc = event_msg(ev, "%s: no Kubernetes object in it", name);
	} else if (d.n_docs > 1) {
		rc = event_msg(
			ev, "%s: %zu documents; a key holds exactly one object", name, d.n_docs);
	} else {
		pl_k8s_key(o->kind, o->ns, o->name, key, sizeof(key));
		if (!dskey || strcmp(key, dskey)) {
			/* A Namespace has no namespace: "Namespace NAME". */
			rc = event_msg(ev, "%s: holds %s %s%s%s, whose key is %s%s", name,
				pl_k8s_kind_name(o->kind), o->ns, o->ns[0] ? "/" : "", o->name,
				w->prefix, key);
		} else {
			ev->type = PL_DATASTORE_ETCD_SET;
			ev->size += object_size(o);
			ev->obj = o;
			d.obj = NULL;
		}
	}
out:
	pl_k8s_object_destroy(&d.obj);
	if (rc) {
		pl_datastore_etcd_event_free(ev);
		return NULL;
	}
	return ev;
}

/* One key-value of a range reply or a watch event (del: the key was deleted), queued. */
static int kv_event(struct pl_datastore_etcd_watch *w, struct json_object *kv, bool del)
{
	struct pl_datastore_etcd_event *ev = NULL;
	char *ekey = NULL, *value = NULL, dskey_buf[PL_K8S_KEY_SIZE];
	const char *k64, *v64, *dskey = NULL;
	size_t klen, vlen, ekey_size, value_size;
	int rc;

	k64 = field_str(kv, "key", &klen);
	if (!k64)
		return -EPROTO;
	rc = b64_decode(k64, klen, &ekey, &ekey_size);
	if (rc)
		return rc == -EINVAL ? -EPROTO : rc;
	/* etcd sends only keys in the range; they must also be "<Kind>/<ns>/<name>" there. */
	if (ekey_size > w->prefix_len && !memcmp(ekey, w->prefix, w->prefix_len) &&
		ekey_size - w->prefix_len < sizeof(dskey_buf) && !memchr(ekey, '\0', ekey_size)) {
		memcpy(dskey_buf, ekey + w->prefix_len, ekey_size - w->prefix_len + 1);
		dskey = dskey_buf;
	}
	if (del) {
		/* A key that could not name an object never held one. */
		if (!dskey)
			goto out;
		ev = event_new(PL_DATASTORE_ETCD_DEL, dskey);
		rc = push(w, ev);
		goto out;
	}
	v64 = field_str(kv, "value", &vlen);
	if (!v64) {
		/* The gateway leaves an empty value out. */
		v64 = "";
		vlen = 0;
	}
	/* Refused before decoding, so an oversized value costs no memory. */
	if (b64_decoded_size(v64, vlen) > PL_K8S_MAX_FILE_SIZE) {
		ev = event_new(PL_DATASTORE_ETCD_INVALID, dskey);
		if (ev && event_msg(ev, "etcd %.*s: %zu bytes, more than the %d allowed",
				  KEY_PRINT_MAX, ekey, b64_decoded_size(v64, vlen),
				  PL_K8S_MAX_FILE_SIZE)) {
			pl_datastore_etcd_event_free(ev);
			ev = NULL;
		}
		rc = push(w, ev);
		goto out;
	}
	rc = b64_decode(v64, vlen, &value, &value_size);
	if (rc) {
		rc = rc == -EINVAL ? -EPROTO : rc;
		goto out;
	}
	rc = push(w, value_event(w, ekey, dskey, value, value_size));
out:
	free(ekey);
	free(value);
	return rc;
}

/* ---- the thread ---- */

/* Every key under the prefix, at one revision, between SYNC_BEGIN and SYNC_END (or ABORT). */
static int full_read(struct pl_datastore_etcd_watch *w, char *why, size_t why_size)
{
	char *start = NULL, *last = NULL;
	size_t start_len = w->prefix_len, last_len, i, n;
	struct json_object *req = NULL, *resp = NULL, *kvs;
	int64_t rev = 0, page_rev;
	int limit = RANGE_PAGE, rc;
	bool more = true, begun = false;

	start = malloc(w->prefix_len + 1);
	if (!start) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(start, w->prefix, w->prefix_len + 1);
	while (more) {
		req = json_object_new_object();
		rc = req ? 0 : -ENOMEM;
		if (!rc)
			rc = add_b64(req, "key", start, start_len);
		if (!rc)
			rc = add_b64(req, "range_end", w->prefix_end, w->prefix_end_len);
		if (!rc)
			rc = add_i64(req, "limit", limit);
		/* Later pages at the first page's revision: one consistent picture. */
		if (!rc && rev)
			rc = add_i64(req, "revision", rev);
		if (!rc)
			rc = call(w->endpoint, w, "/v3/kv/range", req, &resp, why, why_size);
		json_object_put(req);
		req = NULL;
		if (rc == -EFBIG && limit > 1) {
			limit /= 2;
			continue;
		}
		if (rc)
			goto out;
		if (field_i64(field(resp, "header", json_type_object), "revision", &page_rev) ||
			page_rev <= 0) {
			snprintf(why, why_size, "/v3/kv/range: reply without a revision");
			rc = -EPROTO;
			goto out;
		}
		if (!rev)
			rev = page_rev;
		/* Only once etcd answered: while it cannot be reached, the caller is not woken. */
		if (!begun) {
			rc = push(w, event_new(PL_DATASTORE_ETCD_SYNC_BEGIN, NULL));
			if (rc)
				goto out;
			begun = true;
		}
		kvs = field(resp, "kvs", json_type_array);
		n = kvs ? json_object_array_length(kvs) : 0;
		for (i = 0; i < n; i++) {
			rc = kv_event(w, json_object_array_get_idx(kvs, i), false);
			if (rc) {
				if (rc == -EPROTO)
					snprintf(
						why, why_size, "/v3/kv/range: malformed key-value");
				goto out;
			}
		}
		more = field_bool(resp, "more") && n;
		if (more) {
			/* The next page starts just after the last key of this one. */
			const char *k =
				field_str(json_object_array_get_idx(kvs, n - 1), "key", &last_len);

			rc = k ? b64_decode(k, last_len, &last, &last_len) : -EPROTO;
			if (rc) {
				snprintf(why, why_size, "/v3/kv/range: malformed key");
				rc = rc == -EINVAL ? -EPROTO : rc;
				goto out;
			}
			free(start);
			start = last;
			start_len = last_len + 1; /* with the NUL b64_decode put after it */
			last = NULL;
		}
		json_object_put(resp);
		resp = NULL;
	}
	w->rev = rev;
out:
	json_object_put(req);
	json_object_put(resp);
	free(start);
	if (begun && rc != -ECANCELED)
		push(w, event_new(rc ? PL_DATASTORE_ETCD_SYNC_ABORT : PL_DATASTORE_ETCD_SYNC_END,
				NULL));
	return rc;
}

struct stream {
	struct pl_datastore_etcd_watch *w;
	int64_t seen_rev; /* highest mod_revision received */
	bool created;
	char *why;
	size_t why_size;
};

/* One message of the watch stream: {"result": {...}} or {"error": {...}}. */
static int on_watch_line(void *arg, const char *line, size_t len)
{
	struct stream *s = arg;
	struct json_object *msg, *result, *events, *ev, *kv;
	const char *type, *reason;
	int64_t rev, compact;
	size_t i, n;
	int rc = 0;

	if (!len)
		return 0;
	msg = json_parse(line, len);
	result = field(msg, "result", json_type_object);
	if (!result) {
		if (msg && json_object_object_get_ex(msg, "error", NULL)) {
			struct buf b = { .data = (char *)line, .len = len };

			error_reply("/v3/watch", 200, &b, s->why, s->why_size);
			rc = -EIO;
		} else {
			snprintf(s->why, s->why_size, "/v3/watch: malformed message");
			rc = -EPROTO;
		}
		goto out;
	}
	if (field_bool(result, "canceled")) {
		field_i64(result, "compact_revision", &compact);
		if (compact > 0) {
			snprintf(s->why, s->why_size,
				"/v3/watch: revision %lld compacted (to %lld)",
				(long long)s->w->rev + 1, (long long)compact);
			rc = -ESTALE;
		} else {
			reason = field_str(result, "cancel_reason", NULL);
			snprintf(s->why, s->why_size, "/v3/watch: canceled: %s",
				reason ? reason : "no reason given");
			rc = -EIO;
		}
		goto out;
	}
	if (field_bool(result, "created")) {
		field_i64(field(result, "header", json_type_object), "revision", &rev);
		/* Behind what we saw: etcd was restored or replaced, so this is another history. */
		if (rev > 0 && rev < s->w->rev) {
			snprintf(s->why, s->why_size,
				"/v3/watch: etcd is at revision %lld, behind the %lld already seen",
				(long long)rev, (long long)s->w->rev);
			rc = -ESTALE;
			goto out;
		}
		s->created = true;
		s->w->reported = false;
	}
	events = field(result, "events", json_type_array);
	n = events ? json_object_array_length(events) : 0;
	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(events, i);
		kv = field(ev, "kv", json_type_object);
		type = field_str(ev, "type", NULL);
		if (!kv || field_i64(kv, "mod_revision", &rev)) {
			rc = -EPROTO;
			break;
		}
		if (rev > s->seen_rev)
			s->seen_rev = rev;
		/* PUT is the default, and so left out. */
		rc = kv_event(s->w, kv, type && !strcmp(type, "DELETE"));
		if (rc)
			break;
	}
	if (rc == -EPROTO)
		snprintf(s->why, s->why_size, "/v3/watch: malformed event");
	/* A revision split in fragments is complete with its last one; until then a resume starts
	 * at it again (a change delivered twice does nothing). */
	if (!rc && !field_bool(result, "fragment") && s->seen_rev > s->w->rev)
		s->w->rev = s->seen_rev;
out:
	json_object_put(msg);
	return rc;
}

/* Watches from w->rev + 1 until the stream breaks; *created tells whether etcd took it. */
static int watch(struct pl_datastore_etcd_watch *w, bool *created, char *why, size_t why_size)
{
	struct stream s = { .w = w, .seen_rev = w->rev, .why = why, .why_size = why_size };
	struct http x = {
		.endpoint = w->endpoint,
		.w = w,
		.resp.max = MAX_RESPONSE_SIZE,
		.on_line = on_watch_line,
		.arg = &s,
		.why = why,
		.why_size = why_size,
	};
	struct json_object *req = json_object_new_object(), *create = json_object_new_object();
	const char *body = NULL;
	int rc;

	rc = req && create ? 0 : -ENOMEM;
	if (!rc)
		rc = add_b64(create, "key", w->prefix, w->prefix_len);
	if (!rc)
		rc = add_b64(create, "range_end", w->prefix_end, w->prefix_end_len);
	if (!rc)
		rc = add_i64(create, "start_revision", w->rev + 1);
	/* Big revisions come in pieces rather than as one message of any size. */
	if (!rc)
		rc = add_obj(create, "fragment", json_object_new_boolean(1));
	if (!rc) {
		rc = add_obj(req, "create_request", create);
		create = NULL;
	}
	if (!rc)
		body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (!rc && !body)
		rc = -ENOMEM;
	if (rc)
		snprintf(why, why_size, "/v3/watch: out of memory");
	else
		rc = perform(&x, "/v3/watch", body, 0);
	/* etcd never ends a watch by itself; a proxy or a shutdown may. */
	if (!rc) {
		snprintf(why, why_size, "/v3/watch: stream ended");
		rc = -EIO;
	}
	*created = s.created;
	json_object_put(create);
	json_object_put(req);
	free(x.resp.data);
	return rc;
}

/* true when the source is being destroyed. */
static bool sleep_ms(struct pl_datastore_etcd_watch *w, unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &ts) != ETIMEDOUT)
		;
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

static void *run(void *arg)
{
	struct pl_datastore_etcd_watch *w = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	bool need_full = true, read, created;
	char why[MSG_SIZE];
	int rc;

	while (!stopping(w)) {
		why[0] = '\0';
		read = created = false;
		rc = 0;
		if (need_full) {
			rc = full_read(w, why, sizeof(why));
			need_full = rc != 0;
			read = !rc;
		}
		if (!rc)
			rc = watch(w, &created, why, sizeof(why));
		if (rc == -ECANCELED)
			break;
		if (rc == -ESTALE) {
			/* etcd is there, only our revision is gone: read everything again now. */
			need_full = true;
			continue;
		}
		/* Reached etcd this round: a new outage starts from the short delay again. */
		if (read || created)
			backoff = BACKOFF_MIN_MS;
		outage(w, why[0] ? why : strerror(-rc));
		if (sleep_ms(w, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

/* Checks the arguments every entry point takes; the endpoint goes to url without a trailing '/'
 * (paths are appended to it). */
static int check_args(const char *endpoint, const char *prefix, char url[ENDPOINT_SIZE])
{
	size_t len;

	if ((strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) ||
		strlen(endpoint) >= ENDPOINT_SIZE || !prefix[0] || strlen(prefix) >= PREFIX_SIZE)
		return -EINVAL;
	snprintf(url, ENDPOINT_SIZE, "%s", endpoint);
	len = strlen(url);
	while (len && url[len - 1] == '/')
		url[--len] = '\0';
	pthread_once(&curl_once, curl_init);
	return curl_init_result == CURLE_OK ? 0 : -ENOMEM;
}

struct pl_datastore_etcd_watch *pl_datastore_etcd_watch_new(
	const char *endpoint, const char *prefix)
{
	char url[ENDPOINT_SIZE];
	struct pl_datastore_etcd_watch *w;
	pthread_condattr_t ca;
	sigset_t all, old;
	size_t len;
	int rc;

	rc = check_args(endpoint, prefix, url);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->efd = -1;
	memcpy(w->endpoint, url, sizeof(w->endpoint));
	snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
	w->prefix_len = strlen(prefix);
	/* etcd's end of a prefix range: the prefix with its last byte below 0xff incremented and
	 * what follows cut; all 0xff means "to the end of the keyspace", written "\0". */
	memcpy(w->prefix_end, w->prefix, w->prefix_len + 1);
	for (len = w->prefix_len; len; len--) {
		if ((uint8_t)w->prefix_end[len - 1] < 0xff) {
			w->prefix_end[len - 1]++;
			break;
		}
	}
	w->prefix_end_len = len ? len : 1;
	w->prefix_end[w->prefix_end_len] = '\0';
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0)
		goto fail;
	w->multi = curl_multi_init();
	if (!w->multi) {
		errno = ENOMEM;
		goto fail;
	}
	/* Signals stay with the caller's threads (a service may wait for them with signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errno = rc;
		goto fail;
	}
	w->started = true;
	return w;
fail:
	rc = errno;
	pl_datastore_etcd_watch_destroy(&w);
	errno = rc;
	return NULL;
}

void pl_datastore_etcd_watch_destroy(struct pl_datastore_etcd_watch **wp)
{
	struct pl_datastore_etcd_watch *w;
	struct pl_datastore_etcd_event *ev, *next;

	if (!wp || !*wp)
		return;
	w = *wp;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		curl_multi_wakeup(w->multi);
		pthread_join(w->thread, NULL);
	}
	for (ev = w->head; ev; ev = next) {
		next = ev->next;
		pl_datastore_etcd_event_free(ev);
	}
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->efd >= 0)
		close(w->efd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	*wp = NULL;
}

/* ---- podlanectl apply / delete ---- */

struct input_doc {
	char key[PL_K8S_KEY_SIZE];
	struct pl_k8s_object *obj; /* NULL: invalid, but its identity is known */
	size_t line;
};

struct input {
	struct input_doc *docs;
	size_t n, cap;
	size_t n_objects;
	bool anonymous; /* a document whose identity is unknown */
	bool nomem;
};

static void on_input_doc(struct pl_k8s_doc *doc, void *arg)
{
	struct input *in = arg;
	struct input_doc *d;

	if (!doc->name || !doc->name[0] || doc->kind == PL_K8S_UNKNOWN) {
		in->anonymous = true;
		return;
	}
	if (in->n == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 8;

		d = realloc(in->docs, cap * sizeof(*d));
		if (!d) {
			in->nomem = true;
			return;
		}
		in->docs = d;
		in->cap = cap;
	}
	d = &in->docs[in->n++];
	memset(d, 0, sizeof(*d));
	pl_k8s_key(doc->kind, doc->ns, doc->name, d->key, sizeof(d->key));
	d->line = doc->line;
	if (doc->obj) {
		d->obj = doc->obj;
		doc->obj = NULL;
		in->n_objects++;
	}
}

static void input_free(struct input *in)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		pl_k8s_object_destroy(&in->docs[i].obj);
	free(in->docs);
}

static int parse_input(const char *name, const char *yaml, size_t size, struct input *in, char *err,
	size_t err_size)
{
	int rc = pl_k8s_parse_buffer(name, yaml, size, on_input_doc, in, err, err_size);

	if (rc == -ENOMEM || in->nomem) {
		snprintf(err, err_size, "%s: out of memory", name);
		return -ENOMEM;
	}
	return rc;
}

/* A line starting with "---" and a blank: libyaml starts a new document there, wherever it
 * stands (a scalar cannot run across it). */
static bool doc_marker(const char *p, const char *end)
{
	return end - p >= 3 && !memcmp(p, "---", 3) &&
	       (end - p == 3 || p[3] == ' ' || p[3] == '\t' || p[3] == '\r' || p[3] == '\n');
}

struct piece {
	size_t off, size;
};

/* Cuts yaml at its document markers and checks that the pieces holding something parse, one by
 * one, to exactly the objects of the whole (in->docs, in order): each piece is then one
 * object's text. */
static int split_input(const char *name, const char *yaml, size_t size, const struct input *in,
	struct piece *pieces, char *err, size_t err_size)
{
	const char *p = yaml, *end = yaml + size, *start = yaml, *nl;
	size_t next = 0;
	int rc;

	for (;;) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
		if (p < end && !doc_marker(p, end))
			continue;
		if (p > start) {
			struct input piece = { 0 };

			rc = parse_input(name, start, (size_t)(p - start), &piece, err, err_size);
			if (rc == -ENOMEM)
				return rc;
			if (rc || piece.anonymous || piece.n) {
				if (rc || piece.anonymous || piece.n != 1 || next >= in->n ||
					!piece.docs[0].obj ||
					!pl_k8s_object_equal(
						piece.docs[0].obj, in->docs[next].obj)) {
					input_free(&piece);
					snprintf(err, err_size,
						"%s:%zu: cannot cut the input into one document "
						"per "
						"object; put a '---' line before each document",
						name, next < in->n ? in->docs[next].line : 1);
					return -EINVAL;
				}
				pieces[next].off = (size_t)(start - yaml);
				pieces[next].size = (size_t)(p - start);
				next++;
			}
			input_free(&piece);
			start = p;
		}
		if (p >= end)
			break;
	}
	if (next != in->n) {
		snprintf(err, err_size,
			"%s: cannot cut the input into one document per object; put a '---' line "
			"before each document",
			name);
		return -EINVAL;
	}
	return 0;
}

static int full_key(const char *prefix, const char *key, char *out, size_t size)
{
	int n = snprintf(out, size, "%s%s", prefix, key);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* One transaction of ops (taken over); the reply to *respp. */
static int txn(const char *endpoint, struct json_object *ops, struct json_object **respp, char *err,
	size_t err_size)
{
	struct json_object *req = json_object_new_object();
	char why[MSG_SIZE];
	int rc;

	*respp = NULL;
	if (req) {
		rc = add_obj(req, "success", ops);
	} else {
		json_object_put(ops);
		rc = -ENOMEM;
	}
	if (!rc)
		rc = call(endpoint, NULL, "/v3/kv/txn", req, respp, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "out of memory");
	json_object_put(req);
	if (!rc && !field_bool(*respp, "succeeded")) {
		snprintf(why, sizeof(why), "/v3/kv/txn: transaction not applied");
		rc = -EIO;
	}
	if (rc) {
		json_object_put(*respp);
		*respp = NULL;
		snprintf(err, err_size, "etcd %s: %s", endpoint, why);
	}
	return rc;
}

int pl_datastore_etcd_write(const char *endpoint, const char *prefix, const char *name,
	const char *yaml, size_t size, char *where, size_t where_size, char *err, size_t err_size)
{
	char key[PREFIX_SIZE + PL_K8S_KEY_SIZE], url[ENDPOINT_SIZE];
	struct json_object *ops = NULL, *op, *put, *resp = NULL;
	struct piece *pieces = NULL;
	struct input in = { 0 };
	size_t i, j;
	int rc;

	rc = check_args(endpoint, prefix, url);
	if (rc) {
		snprintf(err, err_size, "etcd %s: not an http(s) URL with a key prefix", endpoint);
		return rc;
	}
	endpoint = url;
	rc = parse_input(name, yaml, size, &in, err, err_size);
	if (rc > 0)
		rc = -EINVAL;
	if (!rc && !in.n_objects) {
		snprintf(err, err_size, "%s: no Kubernetes object in it", name);
		rc = -EINVAL;
	}
	if (rc)
		goto out;
	/* etcd would refuse the transaction; say which object instead. */
	for (i = 1; i < in.n; i++) {
		for (j = 0; j < i; j++) {
			if (!strcmp(in.docs[i].key, in.docs[j].key)) {
				snprintf(err, err_size, "%s:%zu: %s: defined twice in this input",
					name, in.docs[i].line, in.docs[i].key);
				rc = -EINVAL;
				goto out;
			}
		}
	}
	pieces = calloc(in.n, sizeof(*pieces));
	if (!pieces) {
		rc = -ENOMEM;
		snprintf(err, err_size, "%s: out of memory", name);
		goto out;
	}
	rc = split_input(name, yaml, size, &in, pieces, err, err_size);
	if (rc)
		goto out;
	ops = json_object_new_array();
	rc = ops ? 0 : -ENOMEM;
	for (i = 0; !rc && i < in.n; i++) {
		rc = full_key(prefix, in.docs[i].key, key, sizeof(key));
		if (rc) {
			snprintf(err, err_size, "%s:%zu: %s%s: key too long", name, in.docs[i].line,
				prefix, in.docs[i].key);
			break;
		}
		op = json_object_new_object();
		put = json_object_new_object();
		rc = op && put ? 0 : -ENOMEM;
		if (!rc)
			rc = add_b64(put, "key", key, strlen(key));
		if (!rc)
			rc = add_b64(put, "value", yaml + pieces[i].off, pieces[i].size);
		if (!rc) {
			rc = add_obj(op, "request_put", put);
			put = NULL;
		}
		if (!rc) {
			rc = add_obj(ops, NULL, op);
			op = NULL;
		}
		json_object_put(put);
		json_object_put(op);
		if (rc == -ENOMEM)
			snprintf(err, err_size, "%s: out of memory", name);
	}
	if (rc) {
		json_object_put(ops);
		goto out;
	}
	rc = txn(endpoint, ops, &resp, err, err_size);
	if (rc)
		goto out;
	if (where && where_size) {
		if (in.n > 1)
			snprintf(where, where_size, "etcd %s%s and %zu more", prefix,
				in.docs[0].key, in.n - 1);
		else
			snprintf(where, where_size, "etcd %s%s", prefix, in.docs[0].key);
	}
out:
	json_object_put(resp);
	free(pieces);
	input_free(&in);
	return rc;
}

int pl_datastore_etcd_delete_objects(const char *endpoint, const char *prefix, const char *name,
	const char *yaml, size_t size, char *err, size_t err_size)
{
	char key[PREFIX_SIZE + PL_K8S_KEY_SIZE], url[ENDPOINT_SIZE];
	struct json_object *ops = NULL, *op, *del, *resp = NULL, *results;
	struct input in = { 0 };
	int64_t deleted, total = 0;
	size_t i, j, n;
	int rc;

	rc = check_args(endpoint, prefix, url);
	if (rc) {
		snprintf(err, err_size, "etcd %s: not an http(s) URL with a key prefix", endpoint);
		return rc;
	}
	endpoint = url;
	rc = parse_input(name, yaml, size, &in, err, err_size);
	/* Only the identity matters for delete, but it must be known for every one. */
	if (rc >= 0 && in.anonymous)
		rc = -EINVAL;
	if (rc >= 0 && !in.n) {
		snprintf(err, err_size, "%s: no Kubernetes object named in it", name);
		rc = -EINVAL;
	}
	if (rc < 0)
		goto out;
	if (err && err_size)
		err[0] = '\0';
	ops = json_object_new_array();
	rc = ops ? 0 : -ENOMEM;
	for (i = 0; !rc && i < in.n; i++) {
		for (j = 0; j < i && strcmp(in.docs[i].key, in.docs[j].key); j++)
			;
		if (j < i)
			continue;
		if (full_key(prefix, in.docs[i].key, key, sizeof(key)))
			continue; /* could not have been written either */
		op = json_object_new_object();
		del = json_object_new_object();
		rc = op && del ? 0 : -ENOMEM;
		if (!rc)
			rc = add_b64(del, "key", key, strlen(key));
		if (!rc) {
			rc = add_obj(op, "request_delete_range", del);
			del = NULL;
		}
		if (!rc) {
			rc = add_obj(ops, NULL, op);
			op = NULL;
		}
		json_object_put(del);
		json_object_put(op);
	}
	if (rc) {
		snprintf(err, err_size, "%s: out of memory", name);
		json_object_put(ops);
		goto out;
	}
	rc = txn(endpoint, ops, &resp, err, err_size);
	if (rc)
		goto out;
	results = field(resp, "responses", json_type_array);
	n = results ? json_object_array_length(results) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(results, i);

		if (!field_i64(field(r, "response_delete_range", json_type_object), "deleted",
			    &deleted))
			total += deleted;
	}
	rc = total > INT32_MAX ? INT32_MAX : (int)total;
out:
	json_object_put(resp);
	input_free(&in);
	return rc;
}
