/* SPDX-License-Identifier: Apache-2.0 */
/* /metrics: Prometheus text exposition (format 0.0.4) built from the shared stats segment, on
 * loopback (supervisor.metrics_address, supervisor.metrics_port) with libmicrohttpd. Counter
 * families are podlane_<counter>_total{service="..."}, one family per counter name across the
 * services that have it; service state and pool/ring occupancy are gauges. */
#include "supervisor.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "pl_log.h"
#include "pl_netlink.h"
#include "pl_util.h"

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

static void out(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return;
		b->p = p;
		b->cap = cap;
	}
}

/* v as a Prometheus label value into dst (backslash, double quote and newline escaped;
 * the text format's rule). */
static const char *label_value(char *dst, size_t size, const char *v)
{
	size_t k = 0;
	for (; *v && k + 3 < size; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n')
			dst[k++] = '\\';
		dst[k++] = *v == '\n' ? 'n' : *v;
	}
	dst[k] = '\0';
	return dst;
}

/* The kernel's count of what a kept TUN/TAP port's queue toward io-worker could not hold (its
 * tx_dropped): packets a pod or the host sent while io-worker was away or behind. With the
 * descriptors kept (pl_fdstore.h) nothing else a dead io-worker leaves is lost uncounted.
 * Read from each port's netns in this (the metrics) thread. */
static void render_tun_drops(struct supervisor *sv, struct buf *b)
{
	struct port_name {
		char name[PL_OBJ_NAME_SIZE];
		char netns[PL_OBJ_NETNS_SIZE];
	};
	struct port_name *ports = NULL;
	unsigned int n = 0;
	pthread_mutex_lock(&sv->fdstore_lock);
	if (sv->fdstore_open && sv->fdstore.n)
		ports = malloc(sv->fdstore.n * sizeof(*ports));
	for (unsigned int i = 0; ports && i < PL_DIM(sv->fdstore.e) && n < sv->fdstore.n; i++) {
		const struct pl_fdstore_entry *e = &sv->fdstore.e[i];
		if (e->fd < 0)
			continue;
		memcpy(ports[n].name, e->name, sizeof(ports[n].name));
		memcpy(ports[n].netns, e->netns, sizeof(ports[n].netns));
		n++;
	}
	pthread_mutex_unlock(&sv->fdstore_lock);
	out(b, "# HELP podlane_tun_queue_dropped_total Packets the kernel dropped because a "
	       "pod's tun (or the host tap) queue toward io-worker was full: the device's "
	       "tx_dropped.\n# TYPE podlane_tun_queue_dropped_total counter\n");
	for (unsigned int i = 0; i < n; i++) {
		struct pl_nl_link_stats st;
		/* A pod deleted meanwhile (-ENODEV, -ENOENT), or an uplink (not a tun): no line. */
		if (pl_nl_link_stats(ports[i].netns, ports[i].name, &st) < 0 || !st.is_tun)
			continue;
		char name[2 * PL_OBJ_NAME_SIZE], netns[2 * PL_OBJ_NETNS_SIZE];
		out(b, "podlane_tun_queue_dropped_total{interface=\"%s\",netns=\"%s\"} %llu\n",
			label_value(name, sizeof(name), ports[i].name),
			label_value(netns, sizeof(netns), ports[i].netns),
			(unsigned long long)st.tx_dropped);
	}
	free(ports);
}

static void render(struct supervisor *sv, struct buf *b)
{
	static uint64_t vals[PL_SVC_MAX][PL_STATS_MAX_COUNTERS];
	const struct pl_counter_desc *descs[PL_SVC_MAX];
	unsigned int n_descs[PL_SVC_MAX];
	struct pl_shm *shm = sv->s.shm;

	for (int i = 0; i < PL_SVC_MAX; i++) {
		descs[i] = pl_counter_descs(i, &n_descs[i]);
		pl_stats_read(&shm->stats[i], vals[i], n_descs[i]);
	}
	/* One family per distinct counter name, in first-seen order. */
	for (int i = 0; i < PL_SVC_MAX; i++) {
		for (unsigned int k = 0; k < n_descs[i]; k++) {
			const char *name = descs[i][k].name;
			bool seen = false;
			for (int j = 0; j < i && !seen; j++)
				for (unsigned int l = 0; l < n_descs[j] && !seen; l++)
					seen = strcmp(descs[j][l].name, name) == 0;
			if (seen)
				continue;
			out(b, "# HELP podlane_%s_total %s.\n# TYPE podlane_%s_total counter\n",
				name, descs[i][k].help, name);
			for (int j = i; j < PL_SVC_MAX; j++)
				for (unsigned int l = 0; l < n_descs[j]; l++)
					if (strcmp(descs[j][l].name, name) == 0)
						out(b, "podlane_%s_total{service=\"%s\"} %llu\n",
							name, pl_svc_name(j),
							(unsigned long long)vals[j][l]);
		}
	}
	out(b, "# HELP podlane_service_up Whether the service is running and ready (1) or not "
	       "(0).\n# TYPE podlane_service_up gauge\n");
	for (int i = 0; i < PL_SVC_MAX; i++) {
		bool up = i == PL_SVC_SUPERVISOR ||
			  __atomic_load_n(&shm->sup[i].state, __ATOMIC_ACQUIRE) == PL_STATE_READY;
		out(b, "podlane_service_up{service=\"%s\"} %d\n", pl_svc_name(i), up ? 1 : 0);
	}
	out(b, "# HELP podlane_service_restarts_total Restarts of the service by the "
	       "supervisor.\n# TYPE podlane_service_restarts_total counter\n");
	for (int i = 1; i < PL_SVC_MAX; i++)
		out(b, "podlane_service_restarts_total{service=\"%s\"} %u\n", pl_svc_name(i),
			shm->sup[i].restarts);
	out(b,
		"# HELP podlane_pool_mbufs Packet buffers in the shared pools (2 KB and 64 KB).\n"
		"# TYPE podlane_pool_mbufs gauge\npodlane_pool_mbufs %u\n",
		sv->dp.pool->size + sv->dp.big_pool->size);
	out(b,
		"# HELP podlane_pool_available_mbufs Packet buffers free in the shared pools.\n"
		"# TYPE podlane_pool_available_mbufs gauge\npodlane_pool_available_mbufs %u\n",
		rte_mempool_avail_count(sv->dp.pool) + rte_mempool_avail_count(sv->dp.big_pool));
	out(b, "# HELP podlane_ring_packets Packets waiting in a pipeline ring.\n"
	       "# TYPE podlane_ring_packets gauge\n");
	for (int i = 0; i < PL_RING_MAX; i++)
		out(b, "podlane_ring_packets{ring=\"%s\"} %u\n", pl_ring_defs[i].name,
			rte_ring_count(sv->dp.rings[i]));
	render_tun_drops(sv, b);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
	const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
	void **con_cls)
{
	struct supervisor *sv = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char msg[] = "only GET\n";
		resp = MHD_create_response_from_buffer(
			sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (strcmp(url, "/metrics") != 0) {
		static const char msg[] = "not found: try /metrics\n";
		resp = MHD_create_response_from_buffer(
			sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	struct buf b = { 0 };
	render(sv, &b);
	/* The MHD thread is not the block's writer: count through an atomic add. */
	__atomic_fetch_add(&sv->s.shm->stats[PL_SVC_SUPERVISOR].v[PL_SUP_METRICS_SCRAPES], 1,
		__ATOMIC_RELAXED);
	resp = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(b.p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

int metrics_start(struct supervisor *sv)
{
	const struct pl_config *cfg = &sv->s.cfg;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (cfg->supervisor.metrics_port == 0)
		return 0;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->supervisor.metrics_address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)cfg->supervisor.metrics_port);
	} else if (inet_pton(AF_INET6, cfg->supervisor.metrics_address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)cfg->supervisor.metrics_port);
		flags |= MHD_USE_IPv6;
	} else {
		return -EINVAL;
	}
	sv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handler, sv, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
		MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_END);
	if (!sv->mhd)
		return -EADDRINUSE;
	PL_INFO("metrics", "serving http://%s:%u/metrics", cfg->supervisor.metrics_address,
		cfg->supervisor.metrics_port);
	return 0;
}

void metrics_stop(struct supervisor *sv)
{
	if (sv->mhd) {
		MHD_stop_daemon(sv->mhd);
		sv->mhd = NULL;
	}
}
