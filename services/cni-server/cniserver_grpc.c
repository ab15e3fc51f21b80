/* SPDX-License-Identifier: Apache-2.0 */
/* CNI gRPC server on grpc core 1.51 and protobuf-c. Each of cni.max_pending call slots runs a
 * unary call on the completion-queue thread: accept, {send initial metadata, receive the
 * request}, then hand the request bytes to the main thread, which decodes and runs it and
 * starts {send reply, send status} itself (grpc allows a batch from any thread as long as no
 * two batches on one call start concurrently: the CQ thread leaves the call alone meanwhile).
 * A slot is re-armed once every batch on its call has completed. */
#include "cniserver_grpc.h"

#include <errno.h>
#include <libgen.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <json-c/json.h>

#include "cnibackend.pb-c.h"
#include "pl_log.h"
#include "pl_sock.h"

#define METHOD_ADD "/cni.CniDataplane/Add"
#define METHOD_DEL "/cni.CniDataplane/Del"
/* A request is a few hundred bytes plus the pod's labels and annotations, which Kubernetes
 * caps at 256 KiB in total; grpc refuses anything bigger before we see it. */
#define MAX_REQUEST_SIZE (512 * 1024)
/* cni_grpc_stop() gives the calls in flight this long to finish after cancelling them. */
#define STOP_TIMEOUT_MS 5000
#define ERR_SIZE 256

enum op_kind {
	K_ACCEPT,
	K_RECV,
	K_CLOSE,
	K_REPLY,
	K_N,
};

enum method {
	M_UNKNOWN,
	M_ADD,
	M_DEL,
};

struct slot;

/* The tag of one batch: which slot, which batch. */
struct op_tag {
	struct slot *s;
	enum op_kind kind;
};

struct slot {
	struct cni_grpc *g;
	struct op_tag tags[K_N];
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *req_bb;
	grpc_byte_buffer *reply_bb;
	grpc_slice req; /* the request's bytes, for the main thread */
	bool has_req;
	enum method method;
	int cancelled; /* RECV_CLOSE_ON_SERVER */
	unsigned int n_pending; /* batches in flight (atomic: the main thread may start one) */
	struct slot *next; /* in the main thread's queue */
};

struct cni_grpc {
	struct cni_pods *pods;
	grpc_server *server;
	grpc_completion_queue *cq;
	struct slot *slots;
	unsigned int n_slots;
	unsigned int n_live; /* armed slots; CQ thread only once it runs */
	int shutdown_tag;
	int efd;
	bool stopping; /* atomic */
	bool thread_started;
	pthread_t thread;
	pthread_mutex_t lock;
	struct slot *head, **tail; /* requests for the main thread, under lock */
	bool done; /* under lock: the CQ thread has finished */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* grpc's own log lines go through pl_log, from whichever grpc thread writes them. */
static pthread_mutex_t gpr_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void gpr_log_to_pl(gpr_log_func_args *a)
{
	static struct pl_log_rl rl;
	enum pl_log_level level = PL_LOG_DEBUG;
	if (a->severity == GPR_LOG_SEVERITY_ERROR)
		level = PL_LOG_ERR;
	else if (a->severity == GPR_LOG_SEVERITY_INFO)
		level = PL_LOG_INFO;
	pthread_mutex_lock(&gpr_log_lock);
	if (pl_log_enabled("grpc", level) && pl_log_rl_allow(&rl, 5))
		pl_log(level, "grpc", "%s (%s:%d)", a->message, a->file, a->line);
	pthread_mutex_unlock(&gpr_log_lock);
}

/* Peer-supplied strings go into replies and logs as printable ASCII only (a Go client drops
 * a reply whose strings are not UTF-8). */
static const char *clean(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (; in && *in && n + 1 < size; in++)
		out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
	out[n] = '\0';
	return out;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
	size_t size = protobuf_c_message_get_packed_size(m);
	grpc_slice s = grpc_slice_malloc(size);
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

static void pending_get(struct slot *s)
{
	__atomic_add_fetch(&s->n_pending, 1, __ATOMIC_ACQ_REL);
}

/* How finish() sends. */
enum finish_flags {
	F_WITH_MD = 1, /* initial metadata not sent yet */
	F_RESERVED = 2, /* n_pending counts the batch already (main thread) */
};

/* Starts a batch counted in n_pending. grpc refuses a batch only when it is built wrongly (a
 * bug): the call is then cancelled so that its client is not left waiting. */
static bool start_batch(
	struct slot *s, const grpc_op *ops, size_t n, enum op_kind kind, bool reserved)
{
	if (!reserved)
		pending_get(s);
	grpc_call_error e = grpc_call_start_batch(s->call, ops, n, &s->tags[kind], NULL);
	if (e == GRPC_CALL_OK)
		return true;
	PL_LOG_RL(
		PL_LOG_ERR, "cni", "grpc batch %d refused: %s", kind, grpc_call_error_to_string(e));
	grpc_call_cancel(s->call, NULL);
	__atomic_sub_fetch(&s->n_pending, 1, __ATOMIC_ACQ_REL);
	return false;
}

/* Ends the call with a status and, when reply is not NULL, a reply message. */
static void finish(struct slot *s, grpc_byte_buffer *reply, grpc_status_code code,
	const char *details, unsigned int flags)
{
	grpc_op ops[3];
	size_t n = 0;
	memset(ops, 0, sizeof(ops));
	if (flags & F_WITH_MD)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (reply) {
		s->reply_bb = reply;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = reply;
	}
	grpc_slice det = grpc_slice_from_copied_string(details);
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n++].data.send_status_from_server.status_details = &det; /* core takes a ref */
	start_batch(s, ops, n, K_REPLY, flags & F_RESERVED);
	grpc_slice_unref(det);
}

/* CQ thread (or the starting thread before the CQ thread runs). */
static bool arm(struct slot *s)
{
	struct cni_grpc *g = s->g;
	s->call = NULL;
	s->req_bb = NULL;
	s->reply_bb = NULL;
	s->has_req = false;
	s->method = M_UNKNOWN;
	s->cancelled = 0;
	s->next = NULL;
	grpc_call_details_init(&s->details);
	grpc_metadata_array_init(&s->md);
	s->n_pending = 1;
	grpc_call_error e = grpc_server_request_call(
		g->server, &s->call, &s->details, &s->md, g->cq, g->cq, &s->tags[K_ACCEPT]);
	if (e != GRPC_CALL_OK) {
		PL_ERR("cni", "cannot accept gRPC calls: %s", grpc_call_error_to_string(e));
		s->n_pending = 0;
		grpc_call_details_destroy(&s->details);
		grpc_metadata_array_destroy(&s->md);
		return false;
	}
	g->n_live++;
	return true;
}

/* CQ thread: every batch on the slot's call has completed. */
static void release(struct slot *s)
{
	struct cni_grpc *g = s->g;
	if (s->call)
		grpc_call_unref(s->call);
	if (s->req_bb)
		grpc_byte_buffer_destroy(s->req_bb);
	if (s->reply_bb)
		grpc_byte_buffer_destroy(s->reply_bb);
	if (s->has_req)
		grpc_slice_unref(s->req);
	grpc_call_details_destroy(&s->details);
	grpc_metadata_array_destroy(&s->md);
	g->n_live--;
	if (!__atomic_load_n(&g->stopping, __ATOMIC_ACQUIRE))
		arm(s);
}

static void enqueue(struct slot *s)
{
	struct cni_grpc *g = s->g;
	const uint64_t one = 1;
	pthread_mutex_lock(&g->lock);
	*g->tail = s;
	g->tail = &s->next;
	pthread_mutex_unlock(&g->lock);
	if (write(g->efd, &one, sizeof(one)) < 0)
		PL_LOG_RL(PL_LOG_ERR, "cni", "eventfd: %s", strerror(errno));
}

static void on_accept(struct slot *s, bool ok)
{
	grpc_op ops[2];
	if (!ok)
		return; /* shutting down */
	if (grpc_slice_str_cmp(s->details.method, METHOD_ADD) == 0)
		s->method = M_ADD;
	else if (grpc_slice_str_cmp(s->details.method, METHOD_DEL) == 0)
		s->method = M_DEL;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[0].data.recv_close_on_server.cancelled = &s->cancelled;
	if (!start_batch(s, ops, 1, K_CLOSE, false))
		return;
	if (s->method == M_UNKNOWN) {
		/* Initial metadata must go first or with the status, or the client never sees it. */
		finish(s, NULL, GRPC_STATUS_UNIMPLEMENTED, "unknown method", F_WITH_MD);
		return;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &s->req_bb;
	start_batch(s, ops, 2, K_RECV, false);
}

static void on_recv(struct slot *s, bool ok)
{
	grpc_byte_buffer_reader r;
	if (!ok)
		return; /* cancelled: the close batch ends the call */
	if (!s->req_bb) {
		finish(s, NULL, GRPC_STATUS_INVALID_ARGUMENT, "no request message", 0);
		return;
	}
	if (!grpc_byte_buffer_reader_init(&r, s->req_bb)) {
		finish(s, NULL, GRPC_STATUS_INTERNAL, "cannot read the request", 0);
		return;
	}
	s->req = grpc_byte_buffer_reader_readall(&r);
	s->has_req = true;
	grpc_byte_buffer_reader_destroy(&r);
	grpc_byte_buffer_destroy(s->req_bb);
	s->req_bb = NULL;
	/* The reply batch the main thread will start: counted now, so that a completing close
	 * batch cannot release the slot while the main thread holds it. */
	pending_get(s);
	enqueue(s);
}

static void on_event(struct op_tag *t, bool ok)
{
	struct slot *s = t->s;
	switch (t->kind) {
	case K_ACCEPT:
		on_accept(s, ok);
		break;
	case K_RECV:
		on_recv(s, ok);
		break;
	case K_CLOSE:
	case K_REPLY:
	case K_N:
		break;
	}
	if (__atomic_sub_fetch(&s->n_pending, 1, __ATOMIC_ACQ_REL) == 0)
		release(s);
}

/* Serves completions until the server has shut down and every slot has finished. */
static void *cq_thread(void *arg)
{
	struct cni_grpc *g = arg;
	const uint64_t one = 1;
	bool shut = false;
	while (!shut || g->n_live > 0) {
		grpc_event ev = grpc_completion_queue_next(
			g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (ev.tag == &g->shutdown_tag)
			shut = true;
		else
			on_event(ev.tag, ev.success != 0);
	}
	pthread_mutex_lock(&g->lock);
	g->done = true;
	pthread_mutex_unlock(&g->lock);
	if (write(g->efd, &one, sizeof(one)) < 0)
		PL_LOG_RL(PL_LOG_ERR, "cni", "eventfd: %s", strerror(errno));
	return NULL;
}

/* The reply's strings for one Add: 0 and host_if, or -errno and err. */
#define ALLOWED_SOURCES_ANNOTATION "cni.projectcalico.org/allowedSourcePrefixes"

/* Calico's annotation: a JSON list of the CIDRs a pod may use as source besides its own
 * addresses ("[\"10.99.0.0/16\"]"). 0 with *n set (0 without the annotation), or -EINVAL. */
static int allowed_sources(
	const Cni__AddRequest *q, struct pl_prefix *out, unsigned int *n, char *err)
{
	*n = 0;
	const Cni__WorkloadIDs *w = q->workload;
	for (size_t i = 0; w && i < w->n_annotations; i++) {
		const Cni__WorkloadIDs__AnnotationsEntry *e = w->annotations[i];
		if (!e->key || strcmp(e->key, ALLOWED_SOURCES_ANNOTATION) != 0)
			continue;
		struct json_object *a = json_tokener_parse(e->value ? e->value : "");
		int rc = 0;
		if (!a || !json_object_is_type(a, json_type_array) ||
			json_object_array_length(a) > PL_OBJ_MAX_ADDRS)
			rc = -EINVAL;
		for (size_t k = 0; rc == 0 && k < json_object_array_length(a); k++) {
			struct json_object *v = json_object_array_get_idx(a, k);
			if (!json_object_is_type(v, json_type_string) ||
				pl_prefix_parse(json_object_get_string(v), &out[(*n)++]) < 0)
				rc = -EINVAL;
		}
		json_object_put(a);
		if (rc < 0) {
			snprintf(err, ERR_SIZE,
				"annotation " ALLOWED_SOURCES_ANNOTATION
				": a JSON list of at most %d CIDRs expected",
				PL_OBJ_MAX_ADDRS);
			return rc;
		}
	}
	return 0;
}

/* An Add request checked, before anything is created: its addresses (host prefixes) and
 * allowed sources. 0, or -errno with the reason in err (ERR_SIZE bytes). */
static int add_check(const Cni__AddRequest *q, struct pl_prefix *addrs, struct pl_prefix *allow,
	unsigned int *n_allow, char *err)
{
	char ns[ERR_SIZE / 2], a[ERR_SIZE / 4];
	clean(q->netns, ns, sizeof(ns));
	if (!q->netns[0] || !q->interface_name[0]) {
		snprintf(err, ERR_SIZE, "netns and interface_name are required");
		return -EINVAL;
	}
	char path[PL_OBJ_NETNS_SIZE], why[96];
	int rc = cni_netns_check(q->netns, true, path, sizeof(path), why, sizeof(why));
	if (rc < 0 && rc != -ENOENT) {
		snprintf(err, ERR_SIZE, "bad network namespace '%s': %s", ns, why);
		return rc;
	}
	if (q->n_container_ips == 0 || q->n_container_ips > PL_OBJ_MAX_ADDRS) {
		snprintf(err, ERR_SIZE, "%zu container_ips given, 1..%d expected",
			q->n_container_ips, PL_OBJ_MAX_ADDRS);
		return -EINVAL;
	}
	for (size_t i = 0; i < q->n_container_ips; i++) {
		const Cni__IPConfig *ip = q->container_ips[i];
		if (!ip || pl_prefix_parse(ip->address, &addrs[i]) < 0) {
			snprintf(err, ERR_SIZE, "bad address '%s'",
				clean(ip ? ip->address : "", a, sizeof(a)));
			return -EINVAL;
		}
		/* CNI IPAM gives the subnet's length (10.244.1.5/24); the pod owns the address. */
		addrs[i].len = addrs[i].family == AF_INET ? 32 : 128;
	}
	if (allowed_sources(q, allow, n_allow, err) < 0)
		return -EINVAL;
	return 0;
}

static int run_add(struct cni_grpc *g, const Cni__AddRequest *q, char *host_if, char *err)
{
	struct pl_prefix addrs[PL_OBJ_MAX_ADDRS], allow[PL_OBJ_MAX_ADDRS];
	unsigned int n_allow;
	char ns[ERR_SIZE / 2], ifn[ERR_SIZE / 4];
	uint16_t index = 0;
	int rc = add_check(q, addrs, allow, &n_allow, err);
	if (rc < 0)
		return rc;
	clean(q->netns, ns, sizeof(ns));
	clean(q->interface_name, ifn, sizeof(ifn));
	rc = cni_pods_add(g->pods, q->netns, q->interface_name, addrs,
		(unsigned int)q->n_container_ips, allow, n_allow, &index);
	switch (rc) {
	case 0:
		snprintf(host_if, IFNAMSIZ, "pl-pod%u", index);
		PL_INFO("cni", "Add %s in %s: pod interface %u", ifn, ns, index);
		return 0;
	case -ENOENT:
		snprintf(err, ERR_SIZE, "no network namespace '%s'", ns);
		break;
	case -EEXIST:
		snprintf(err, ERR_SIZE, "%s in %s exists with other addresses", ifn, ns);
		break;
	case -ENOSPC:
		snprintf(err, ERR_SIZE, "pod limit reached (pods.max_pods = %u)",
			g->pods->s->cfg.pods.max_pods);
		break;
	case -ENAMETOOLONG:
		snprintf(err, ERR_SIZE, "network namespace path too long");
		break;
	case -EINVAL:
		snprintf(err, ERR_SIZE,
			"bad pod: netns '%s', interface name '%s' (1..15 characters)", ns, ifn);
		break;
	default:
		snprintf(err, ERR_SIZE, "cannot create %s in %s: %s", ifn, ns, strerror(-rc));
		break;
	}
	return rc;
}

static int run_del(struct cni_grpc *g, const Cni__DelRequest *q, char *err)
{
	char ns[ERR_SIZE / 2], ifn[ERR_SIZE / 4];
	clean(q->netns, ns, sizeof(ns));
	clean(q->interface_name, ifn, sizeof(ifn));
	if (!q->interface_name[0]) {
		snprintf(err, ERR_SIZE, "interface_name is required");
		return -EINVAL;
	}
	/* CNI allows DEL without a namespace once it is gone; the pod can't be identified
	 * then, and its namespace took the tun with it (the record goes on the next start). */
	if (!q->netns[0]) {
		PL_INFO("cni", "Del %s without netns: nothing to do", ifn);
		return 0;
	}
	int rc = cni_pods_del(g->pods, q->netns, q->interface_name);
	if (rc == 0 || rc == -ENOENT) {
		PL_INFO("cni", "Del %s in %s: %s", ifn, ns, rc ? "no such pod" : "deleted");
		return 0;
	}
	if (rc == -EINVAL || rc == -ENAMETOOLONG)
		snprintf(err, ERR_SIZE, "bad network namespace '%s'", ns);
	else
		snprintf(err, ERR_SIZE, "cannot delete %s in %s: %s", ifn, ns, strerror(-rc));
	return rc;
}

/* Main thread: decodes, runs and answers one request. */
static void run(struct cni_grpc *g, struct slot *s)
{
	char err[ERR_SIZE] = "", host_if[IFNAMSIZ] = "";
	const uint8_t *data = GRPC_SLICE_START_PTR(s->req);
	size_t len = GRPC_SLICE_LENGTH(s->req);
	grpc_byte_buffer *bb;
	if (__atomic_load_n(&g->stopping, __ATOMIC_ACQUIRE)) {
		finish(s, NULL, GRPC_STATUS_UNAVAILABLE, "cni-server is stopping", F_RESERVED);
		return;
	}
	if (s->method == M_ADD) {
		Cni__AddReply rep = CNI__ADD_REPLY__INIT;
		Cni__AddRequest *q = cni__add_request__unpack(NULL, len, data);
		if (!q) {
			PL_LOG_RL(PL_LOG_WARN, "cni", "Add: malformed request (%zu bytes)", len);
			snprintf(err, sizeof(err), "malformed request");
		} else {
			rep.successful = run_add(g, q, host_if, err) == 0;
			if (!rep.successful)
				PL_LOG_RL(PL_LOG_WARN, "cni", "Add refused: %s", err);
			cni__add_request__free_unpacked(q, NULL);
		}
		rep.error_message = err;
		rep.host_interface_name = host_if;
		bb = pack(&rep.base);
	} else {
		Cni__DelReply rep = CNI__DEL_REPLY__INIT;
		Cni__DelRequest *q = cni__del_request__unpack(NULL, len, data);
		if (!q) {
			PL_LOG_RL(PL_LOG_WARN, "cni", "Del: malformed request (%zu bytes)", len);
			snprintf(err, sizeof(err), "malformed request");
		} else {
			rep.successful = run_del(g, q, err) == 0;
			if (!rep.successful)
				PL_LOG_RL(PL_LOG_WARN, "cni", "Del failed: %s", err);
			cni__del_request__free_unpacked(q, NULL);
		}
		rep.error_message = err;
		bb = pack(&rep.base);
	}
	finish(s, bb, GRPC_STATUS_OK, "", F_RESERVED);
	/* The slot belongs to the CQ thread again. */
}

void cni_grpc_handle(struct cni_grpc *g)
{
	uint64_t n;
	if (read(g->efd, &n, sizeof(n)) < 0)
		return; /* EAGAIN: nothing queued (a writer still to come wakes us again) */
	pthread_mutex_lock(&g->lock);
	struct slot *s = g->head;
	g->head = NULL;
	g->tail = &g->head;
	pthread_mutex_unlock(&g->lock);
	while (s) {
		struct slot *next = s->next;
		run(g, s);
		s = next;
	}
}

int cni_grpc_fd(const struct cni_grpc *g)
{
	return g->efd;
}

/* mkdir -p for the socket's directory; new directories are 0700, and the last one must be
 * ours alone. */
static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *d = dirname(dir);
	for (char *p = d + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			break;
	}
	/* Like run_dir (pl_sock.h): a directory others can write to would let them replace
	 * the socket the CNI plugin connects to. */
	char why[PL_CONFIG_STR_SIZE + 160];
	int rc = pl_private_dir_check(d, why, sizeof(why));
	if (rc < 0)
		PL_ERR("cni", "unsafe directory for cni.socket: %s", why);
	return rc;
}

/* Stops the server and waits for the CQ thread (or serves the queue here when there is no
 * thread); the main thread answers what it still had queued. false: the thread is stuck. */
static bool shutdown_server(struct cni_grpc *g)
{
	__atomic_store_n(&g->stopping, true, __ATOMIC_RELEASE);
	grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
	grpc_server_cancel_all_calls(g->server);
	if (!g->thread_started) {
		cq_thread(g);
		return true;
	}
	for (int waited = 0;; waited += 100) {
		cni_grpc_handle(g);
		pthread_mutex_lock(&g->lock);
		bool done = g->done;
		pthread_mutex_unlock(&g->lock);
		if (done)
			break;
		if (waited >= STOP_TIMEOUT_MS)
			return false;
		struct pollfd pfd = { .fd = g->efd, .events = POLLIN };
		poll(&pfd, 1, 100);
	}
	pthread_join(g->thread, NULL);
	return true;
}

static void destroy(struct cni_grpc *g, bool started)
{
	struct stat st;
	if (started && !shutdown_server(g)) {
		/* Cannot happen unless grpc loses a completion; the process is exiting anyway,
		 * so leave everything to the thread rather than free what it uses. */
		PL_ERR("cni", "gRPC calls did not finish in %d ms; not waiting", STOP_TIMEOUT_MS);
		pthread_detach(g->thread);
		return;
	}
	if (g->server)
		grpc_server_destroy(g->server);
	if (g->cq) {
		grpc_completion_queue_shutdown(g->cq);
		while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
				.type != GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(g->cq);
	}
	/* grpc removes the socket on a clean shutdown; make sure. */
	if (g->path[0] && lstat(g->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(g->path);
	free(g->slots);
	if (g->efd >= 0)
		close(g->efd);
	pthread_mutex_destroy(&g->lock);
	free(g);
	grpc_shutdown();
}

int cni_grpc_start(struct cni_grpc **gp, struct cni_pods *pods)
{
	const struct pl_config *cfg = &pods->s->cfg;
	char target[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	struct stat st;
	int rc = 0;
	*gp = NULL;
	if (strlen(cfg->cni.socket) >= sizeof(((struct cni_grpc *)0)->path))
		return -ENAMETOOLONG;
	rc = make_parent(cfg->cni.socket);
	if (rc < 0)
		return rc;
	/* grpc replaces a stale socket but not a file; say so instead of "cannot bind". */
	if (lstat(cfg->cni.socket, &st) == 0 && !S_ISSOCK(st.st_mode))
		return -EEXIST;

	gpr_set_log_function(gpr_log_to_pl);
	grpc_init();
	struct cni_grpc *g = calloc(1, sizeof(*g));
	if (!g) {
		grpc_shutdown();
		return -ENOMEM;
	}
	g->pods = pods;
	g->tail = &g->head;
	pthread_mutex_init(&g->lock, NULL);
	snprintf(g->path, sizeof(g->path), "%s", cfg->cni.socket);
	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g->n_slots = cfg->cni.max_pending;
	g->slots = calloc(g->n_slots, sizeof(*g->slots));
	if (g->efd < 0 || !g->slots) {
		rc = g->efd < 0 ? -errno : -ENOMEM;
		destroy(g, false);
		return rc;
	}

	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER,
			.key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
			.value.integer = MAX_REQUEST_SIZE },
		{ .type = GRPC_ARG_INTEGER,
			.key = GRPC_ARG_MAX_CONCURRENT_STREAMS,
			.value.integer = (int)g->n_slots },
	};
	const grpc_channel_args cargs = { .num_args = 2, .args = args };
	g->cq = grpc_completion_queue_create_for_next(NULL);
	g->server = grpc_server_create(&cargs, NULL);
	grpc_server_register_completion_queue(g->server, g->cq, NULL);
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	snprintf(target, sizeof(target), "unix:%s", g->path);
	/* Nobody else may connect, not even between bind and chmod. */
	mode_t old_umask = umask(0177);
	int port = grpc_server_add_http2_port(g->server, target, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		umask(old_umask);
		g->path[0] = '\0'; /* not ours to remove */
		destroy(g, false);
		return -EADDRINUSE;
	}
	grpc_server_start(g->server);
	umask(old_umask);
	if (chmod(g->path, 0600) < 0)
		rc = -errno;

	for (unsigned int i = 0; i < g->n_slots; i++) {
		struct slot *s = &g->slots[i];
		s->g = g;
		for (int k = 0; k < K_N; k++)
			s->tags[k] = (struct op_tag){ .s = s, .kind = (enum op_kind)k };
		if (rc == 0 && !arm(s))
			rc = -EIO;
	}
	if (rc == 0) {
		rc = -pthread_create(&g->thread, NULL, cq_thread, g);
		g->thread_started = rc == 0;
		if (rc == 0)
			pthread_setname_np(g->thread, "cni-grpc");
	}
	if (rc < 0) {
		destroy(g, true);
		return rc;
	}
	*gp = g;
	return 0;
}

void cni_grpc_stop(struct cni_grpc **gp)
{
	struct cni_grpc *g = *gp;
	if (!g)
		return;
	*gp = NULL;
	destroy(g, true);
}
