/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic port: frame generation, rate control and the synth/ admin commands. */
#include "ioworker_synth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "pl_fib.h"
#include "pl_log.h"

#define DEFAULT_FRAME_SIZE 64
#define MAX_TOKENS_BURSTS 4
#define SYNTH_SRC_IP RTE_IPV4(198, 18, 0, 1) /* RFC 2544 benchmarking range */
#define SYNTH_DST_IP RTE_IPV4(198, 19, 0, 1)
#define SYNTH_BASE_PORT 1024
#define SYNTH_DST_PORT 9

void ioworker_synth_init(struct ioworker_synth *g, struct pl_dp_shared *shared)
{
	g->st = &shared->synth;
	g->tsc_hz = rte_get_tsc_hz();
	g->last_tsc = rte_rdtsc();
	g->tokens = 0;
}

unsigned int ioworker_synth_budget(
	struct ioworker_synth *g, unsigned int burst, unsigned int ring_free, uint64_t now_tsc)
{
	const struct pl_synth_state *st = g->st;
	if (!st->active)
		return 0;
	uint64_t n = burst;
	if (st->count && st->count - st->generated < n)
		n = st->count - st->generated;
	if (st->pps) {
		g->tokens += (double)(now_tsc - g->last_tsc) * (double)st->pps / (double)g->tsc_hz;
		if (g->tokens > (double)burst * MAX_TOKENS_BURSTS)
			g->tokens = (double)burst * MAX_TOKENS_BURSTS;
		if ((double)n > g->tokens)
			n = (uint64_t)g->tokens;
	}
	g->last_tsc = now_tsc;
	if (st->backpressure && n > ring_free)
		n = ring_free;
	if (st->pps)
		g->tokens -= (double)n;
	return (unsigned int)n;
}

int ioworker_synth_wait_ms(const struct ioworker_synth *g, unsigned int burst)
{
	const struct pl_synth_state *st = g->st;
	if (!st->active)
		return -1;
	if (!st->pps)
		return 0;
	double need = (double)burst - g->tokens;
	if (need <= 0)
		return 0;
	return (int)(need * 1000.0 / (double)st->pps);
}

void ioworker_synth_fill(
	const struct ioworker_synth *g, struct rte_mbuf **pkts, unsigned int n, uint64_t seq0)
{
	const struct pl_synth_state *st = g->st;
	uint32_t size = st->frame_size;
	uint16_t l3 = (uint16_t)(size - sizeof(struct rte_ether_hdr));
	uint16_t l4 = (uint16_t)(l3 - sizeof(struct rte_ipv4_hdr));
	rte_be32_t dst = rte_cpu_to_be_32(st->dst_ip ? st->dst_ip : SYNTH_DST_IP);
	rte_be16_t dport = rte_cpu_to_be_16(st->dst_port ? st->dst_port : SYNTH_DST_PORT);
	uint8_t flags = st->route ? PL_META_F_SYNTH_ROUTE : 0;
	for (unsigned int i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint64_t seq = seq0 + i + 1;
		char *p = rte_pktmbuf_append(m, (uint16_t)size);
		if (!p) /* cannot happen: size is bounded below the data room */
			continue;
		struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
		memset(eth, 0, size);
		eth->dst_addr = (struct rte_ether_addr){ { 0x02, 0, 0, 0, 0, 0x02 } };
		eth->src_addr = (struct rte_ether_addr){ { 0x02, 0, 0, 0, 0, 0x01 } };
		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16(l3);
		ip->packet_id = rte_cpu_to_be_16((uint16_t)seq);
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = rte_cpu_to_be_32(SYNTH_SRC_IP);
		ip->dst_addr = dst;
		udp->src_port = rte_cpu_to_be_16(
			(uint16_t)(SYNTH_BASE_PORT + seq % (st->flows ? st->flows : 1)));
		udp->dst_port = dport;
		udp->dgram_len = rte_cpu_to_be_16(l4);
		bool ttl1 = st->ttl1_every && seq % st->ttl1_every == 0;
		bool bad = !ttl1 && st->bad_csum_every && seq % st->bad_csum_every == 0;
		if (ttl1)
			ip->time_to_live = 1;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		if (bad)
			ip->hdr_checksum ^= 0x5a5a;
		struct pl_pkt_meta *meta = pl_meta(m);
		meta->verdict = PL_VERDICT_PASS;
		meta->drop_reason = PL_DROP_NONE;
		meta->flags = flags;
		meta->rx_if = PL_IF_SYNTH;
		meta->tx_if = 0;
		meta->nh_index = 0;
		meta->session_id = 0;
		meta->enq_ms = 0;
	}
}

void ioworker_synth_sunk(struct ioworker_synth *g, unsigned int n, uint64_t now_tsc)
{
	g->st->sunk += n;
	g->st->last_sink_tsc = now_tsc;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	if (!v[0] || v[0] == '-')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

static int cmd_start(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct ioworker_synth *g = ctx;
	struct pl_synth_state st = {
		.active = 1,
		.flows = 64,
		.frame_size = DEFAULT_FRAME_SIZE,
	};
	static const struct {
		const char *key;
		uint64_t max;
	} keys[] = {
		{ "count", UINT64_MAX / 2 },
		{ "pps", 1000000000 },
		{ "backpressure", 1 },
		{ "ttl1_every", UINT32_MAX },
		{ "bad_csum_every", UINT32_MAX },
		{ "flows", 65535 },
		{ "frame_size", 1500 },
		{ "dport", 65535 },
		{ "route", 1 },
		{ "dst", 0 }, /* an IPv4 address */
		{ "fast", 1 },
	};
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		uint64_t v;
		size_t k;
		if (!eq)
			return pl_admin_error(r, EINVAL, "argument '%s' is not KEY=VALUE", argv[i]);
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strlen(keys[k].key) == (size_t)(eq - argv[i]) &&
				strncmp(argv[i], keys[k].key, (size_t)(eq - argv[i])) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return pl_admin_error(r, EINVAL,
				"unknown key in '%s' (count, pps, backpressure, ttl1_every, "
				"bad_csum_every, flows, frame_size, dport, route, dst, fast)",
				argv[i]);
		if (k == 9) {
			struct in_addr a;
			if (inet_pton(AF_INET, eq + 1, &a) != 1 || a.s_addr == 0)
				return pl_admin_error(
					r, EINVAL, "'%s': not an IPv4 address", argv[i]);
			st.dst_ip = rte_be_to_cpu_32(a.s_addr);
			continue;
		}
		if (parse_u64(eq + 1, keys[k].max, &v) < 0)
			return pl_admin_error(
				r, EINVAL, "'%s': value must be 0..%" PRIu64, argv[i], keys[k].max);
		switch (k) {
		case 0:
			st.count = v;
			break;
		case 1:
			st.pps = v;
			break;
		case 2:
			st.backpressure = (uint32_t)v;
			break;
		case 3:
			st.ttl1_every = (uint32_t)v;
			break;
		case 4:
			st.bad_csum_every = (uint32_t)v;
			break;
		case 5:
			st.flows = (uint32_t)v;
			break;
		case 7:
			st.dst_port = (uint16_t)v;
			break;
		case 8:
			st.route = (uint8_t)v;
			break;
		case 10:
			st.fast = (uint8_t)v;
			break;
		default:
			st.frame_size = (uint32_t)v;
		}
	}
	if (st.frame_size < sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) +
				    sizeof(struct rte_udp_hdr))
		return pl_admin_error(r, EINVAL, "frame_size must be at least 42");
	g->st->active = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	st.active = 0;
	*g->st = st;
	g->tokens = 0;
	g->last_tsc = rte_rdtsc();
	__atomic_store_n(&g->st->active, 1, __ATOMIC_RELEASE);
	PL_INFO("synth",
		"source started: count=%" PRIu64 " pps=%" PRIu64
		" backpressure=%u route=%u fast=%u",
		st.count, st.pps, st.backpressure, st.route, st.fast);
	pl_admin_printf(r, "started\n");
	return 0;
}

static int cmd_stop(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct ioworker_synth *g = ctx;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "synth/stop takes no arguments");
	__atomic_store_n(&g->st->active, 0, __ATOMIC_RELEASE);
	PL_INFO("synth", "source stopped after %" PRIu64 " packets", g->st->generated);
	pl_admin_printf(r, "stopped after %" PRIu64 " packets\n", g->st->generated);
	return 0;
}

static int cmd_show(struct pl_admin_reply *r, int argc, const char *const *argv, void *ctx)
{
	struct ioworker_synth *g = ctx;
	const struct pl_synth_state *st = g->st;
	(void)argv;
	if (argc > 1)
		return pl_admin_error(r, EINVAL, "synth/show takes no arguments");
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "active", json_object_new_boolean(st->active));
	json_object_object_add(o, "generated", json_object_new_uint64(st->generated));
	json_object_object_add(o, "count", json_object_new_uint64(st->count));
	json_object_object_add(o, "pps", json_object_new_uint64(st->pps));
	json_object_object_add(o, "backpressure", json_object_new_boolean(st->backpressure));
	json_object_object_add(o, "ttl1_every", json_object_new_uint64(st->ttl1_every));
	json_object_object_add(o, "bad_csum_every", json_object_new_uint64(st->bad_csum_every));
	json_object_object_add(o, "flows", json_object_new_uint64(st->flows));
	json_object_object_add(o, "frame_size", json_object_new_uint64(st->frame_size));
	struct in_addr a = { .s_addr = rte_cpu_to_be_32(st->dst_ip ? st->dst_ip : SYNTH_DST_IP) };
	char dst[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, dst, sizeof(dst));
	json_object_object_add(o, "dst", json_object_new_string(dst));
	json_object_object_add(
		o, "dport", json_object_new_uint64(st->dst_port ? st->dst_port : SYNTH_DST_PORT));
	json_object_object_add(o, "route", json_object_new_boolean(st->route));
	json_object_object_add(o, "fast", json_object_new_boolean(st->fast));
	json_object_object_add(o, "sunk", json_object_new_uint64(st->sunk));
	json_object_object_add(o, "first_tsc", json_object_new_uint64(st->first_tsc));
	json_object_object_add(o, "last_sink_tsc", json_object_new_uint64(st->last_sink_tsc));
	pl_admin_set_json(r, o);
	return 0;
}

int ioworker_synth_register(struct ioworker_synth *g, struct pl_admin *admin)
{
	int rc = pl_admin_register(admin, "synth/start",
		"[count=N] [pps=R] [backpressure=0|1] [ttl1_every=K] [bad_csum_every=K] [flows=F] "
		"[frame_size=B] [dst=IPV4] [dport=P] [route=0|1] [fast=0|1]",
		"Start the synthetic source", cmd_start, g);
	if (rc == 0)
		rc = pl_admin_register(
			admin, "synth/stop", "", "Stop the synthetic source", cmd_stop, g);
	if (rc == 0)
		rc = pl_admin_register(
			admin, "synth/show", "", "Show the synthetic source", cmd_show, g);
	return rc;
}
