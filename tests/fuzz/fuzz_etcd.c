/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the datastore's etcd source (libcommon/pl_datastore_etcd.c): the JSON
 * messages of etcd's gateway watch stream (/v3/watch), one per line, as on_watch_line takes
 * them from libcurl - the envelope, its events, base64 keys and values, and each value through
 * the Kubernetes YAML/JSON parser (pl_k8s.c) into SET or INVALID events. The module's static
 * functions are reached by including its source (the thread, libcurl and etcd are not run);
 * the rest of libcommon is linked as the services link it.
 *
 * Input: lines of JSON (up to 16 KiB, so one line cannot queue more events than the queue
 * takes, which would block with no reader). Watched prefix "/podlane/". Seeds:
 * tests/fuzz/corpus_etcd (responses of a real etcd 3.4 gateway to podlane's own objects).
 *
 * Invariants: a line's result is 0 or -EPROTO/-EIO/-ESTALE (-ENOMEM never here), with a reason
 * whenever non-zero; the watched revision only grows; every event queued is SET (with an
 * object whose key is the event's key), INVALID (with a message) or DEL, and a SET's object
 * equals itself (pl_k8s_object_equal). */
#include "../../libcommon/pl_datastore_etcd.c"

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_etcd: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                             \
			abort();                                                              \
		}                                                                             \
	} while (0)

#include <sys/eventfd.h>

#define MAX_IN 16384
#define PREFIX "/podlane/"

static struct pl_datastore_etcd_watch w;

static void setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	snprintf(w.prefix, sizeof(w.prefix), "%s", PREFIX);
	w.prefix_len = strlen(PREFIX);
	w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(w.efd >= 0);
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
}

static void drain(void)
{
	struct pl_datastore_etcd_event *ev = pl_datastore_etcd_watch_take(&w), *next;
	for (; ev; ev = next) {
		next = ev->next;
		CHECK(memchr(ev->key, '\0', sizeof(ev->key)));
		switch (ev->type) {
		case PL_DATASTORE_ETCD_SET: {
			char key[PL_K8S_KEY_SIZE];
			CHECK(ev->obj && !ev->msg);
			pl_k8s_key(ev->obj->kind, ev->obj->ns, ev->obj->name, key, sizeof(key));
			CHECK(strcmp(key, ev->key) == 0);
			CHECK(pl_k8s_object_equal(ev->obj, ev->obj));
			break;
		}
		case PL_DATASTORE_ETCD_INVALID:
			CHECK(!ev->obj && ev->msg && ev->msg[0]);
			break;
		case PL_DATASTORE_ETCD_DEL:
			CHECK(!ev->obj && ev->key[0]);
			break;
		default:
			CHECK(!"an event a watch line cannot make");
		}
		pl_datastore_etcd_event_free(ev);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_IN)
		return -1;
	setup();
	w.rev = 0;
	w.reported = true;
	char why[256];
	struct stream s = { .w = &w, .why = why, .why_size = sizeof(why) };
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/* Each line in a buffer of its own size: a read past it is a heap overflow. */
		char *line = malloc(len ? len : 1);
		CHECK(line);
		memcpy(line, p, len);
		int64_t before = w.rev;
		why[0] = '\0';
		int rc = on_watch_line(&s, line, len);
		CHECK(rc == 0 || rc == -EPROTO || rc == -EIO || rc == -ESTALE);
		CHECK(rc == 0 || why[0]);
		CHECK(w.rev >= before);
		free(line);
		drain();
		if (rc)
			break; /* the stream is dropped and a new one started */
		p += len + (nl ? 1 : 0);
	}
	return 0;
}
