/* SPDX-License-Identifier: Apache-2.0 */
/* The packet path end to end in one process (tests/harness/stage_harness.h): io-worker's
 * ingress, nat-lb, policy, router and io-worker's output, over tables built from Kubernetes
 * objects and interface objects. Table-driven: each case is a packet built here byte by byte,
 * the interface it enters on, and what must come out — verdict and drop reason, the
 * interface and the rewritten header fields, every checksum recomputed from scratch, and the
 * counters that must move.
 *
 * With PODLANE_STAGES_CORPUS=DIR set, every injected frame is also written to DIR as a seed
 * of the fuzz target tests/fuzz/fuzz_stages.c (first byte: the ingress, then the frame). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_harness.h"
#include "stages_world.h"

static struct stage_harness *H;
static const char *corpus_dir;
static unsigned int corpus_n;

/* ---- frames ---- */

#define ETH_LEN 14

enum {
	F_FIN = 0x01,
	F_SYN = 0x02,
	F_RST = 0x04,
	F_PSH = 0x08,
	F_ACK = 0x10
};

/* A packet as a case describes it. Unset fields take defaults (TTL 64, IPv4 if the source has
 * no colon, etc.). */
struct pk {
	const char *src, *dst;
	uint8_t proto; /* 6, 17, 1, 58, 132, or anything */
	uint16_t sport, dport; /* TCP/UDP/SCTP ports; ICMP echo: sport is the identifier */
	uint8_t flags; /* TCP */
	uint8_t icmp_type, icmp_code;
	uint8_t ttl;
	uint16_t payload; /* bytes of payload (a pattern) */
	/* IPv6 extension headers in order (0 hop-by-hop, 60 destination options, 43 routing,
	 * 44 fragment), and the routing header's segments left. */
	uint8_t ext[10];
	uint8_t n_ext;
	uint8_t segleft;
	/* Fragments: the transport bytes [frag_off, frag_off + frag_len) of the whole datagram
	 * (frag_len 0: to its end), MF, id. IPv6 needs 44 in ext. */
	bool frag;
	uint16_t frag_off, frag_len;
	bool mf;
	uint32_t frag_id;
	bool df;
	bool bad_ip_csum, bad_l4_csum;
	uint8_t ihl_opts; /* IPv4 option words */
	const struct pk *inner; /* ICMP error: the packet it quotes (whole) */
	const char *smac, *dmac;
	uint16_t ethertype; /* 0: by family */
	uint16_t trunc; /* cut the frame to this length (0: no) */
};

static int fam_of(const char *a)
{
	return strchr(a, ':') ? 6 : 4;
}

static void addr(const char *s, uint8_t *out)
{
	int rc = inet_pton(fam_of(s) == 4 ? AF_INET : AF_INET6, s, out);
	if (rc != 1)
		fail_msg("bad address %s", s);
}

static uint32_t sum16(const uint8_t *d, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(d[i] << 8 | d[i + 1]);
	if (n & 1)
		sum += (uint32_t)d[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The transport checksum over the pseudo header (family's addresses, proto, length). */
static uint16_t l4_sum(int fam, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	const uint8_t *l4, size_t len)
{
	uint32_t s = 0;
	size_t alen = fam == 4 ? 4 : 16;
	if (proto != 1) { /* ICMPv4 has no pseudo header */
		s = sum16(src, alen, s);
		s = sum16(dst, alen, s);
		s += proto;
		s += (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
	}
	s = sum16(l4, len, s);
	return fold(s);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static size_t build_ip(uint8_t *out, const struct pk *p);

/* The transport segment of the whole datagram (header + payload), checksum included. */
static size_t build_l4(uint8_t *l4, const struct pk *p, int fam, const uint8_t *s, const uint8_t *d)
{
	size_t n = 0, hl = 0;
	uint8_t proto = p->proto;
	switch (proto) {
	case 6:
		hl = 20;
		memset(l4, 0, hl);
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, 0x1234);
		put16(l4 + 6, 0x5678);
		if (p->flags & F_ACK)
			put16(l4 + 10, 0x0042);
		l4[12] = 5 << 4;
		l4[13] = p->flags;
		put16(l4 + 14, 65535);
		break;
	case 17:
		hl = 8;
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		l4[6] = l4[7] = 0;
		break;
	case 132:
		hl = 12;
		memset(l4, 0, hl);
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, 0xabcd);
		break;
	case 1:
	case 58:
		hl = 8;
		memset(l4, 0, hl);
		l4[0] = p->icmp_type;
		l4[1] = p->icmp_code;
		if (!p->inner) {
			put16(l4 + 4, p->sport); /* echo identifier */
			put16(l4 + 6, 1);
		}
		break;
	default:
		break;
	}
	n = hl;
	if (p->inner)
		n += build_ip(l4 + n, p->inner);
	for (unsigned int i = 0; i < p->payload; i++)
		l4[n++] = (uint8_t)(i * 7 + 3);
	if (proto == 17)
		put16(l4 + 4, (uint16_t)n);
	size_t coff = proto == 6 ? 16 : proto == 17 ? 6 : (proto == 1 || proto == 58) ? 2 : 0;
	if (coff) {
		uint16_t c = (uint16_t)~l4_sum(fam, s, d, proto, l4, n);
		if (proto == 17 && c == 0)
			c = 0xffff;
		if (p->bad_l4_csum)
			c ^= 0x5a5a;
		put16(l4 + coff, c);
	}
	return n;
}

/* IP header(s) + the transport part, as the packet says (a fragment: its share). */
static size_t build_ip(uint8_t *out, const struct pk *p)
{
	int fam = fam_of(p->src);
	uint8_t s[16], d[16], l4[4096];
	addr(p->src, s);
	addr(p->dst, d);
	size_t l4n = build_l4(l4, p, fam, s, d);
	size_t off = p->frag ? p->frag_off : 0;
	size_t take = l4n - (off < l4n ? off : l4n);
	if (p->frag && p->frag_len && p->frag_len < take)
		take = p->frag_len;
	uint8_t ttl = p->ttl ? p->ttl : 64;
	if (fam == 4) {
		size_t ihl = 20 + 4u * p->ihl_opts;
		memset(out, 0, ihl);
		out[0] = (uint8_t)(0x40 | (ihl / 4));
		put16(out + 2, (uint16_t)(ihl + take));
		put16(out + 4, (uint16_t)(p->frag_id ? p->frag_id : 0x4242));
		uint16_t fo = (uint16_t)(off / 8) | (p->mf ? 0x2000 : 0) | (p->df ? 0x4000 : 0);
		put16(out + 6, fo);
		out[8] = ttl;
		out[9] = p->proto;
		memcpy(out + 12, s, 4);
		memcpy(out + 16, d, 4);
		for (size_t i = 20; i < ihl; i++)
			out[i] = 1; /* NOP options */
		uint16_t c = (uint16_t)~fold(sum16(out, ihl, 0));
		put16(out + 10, p->bad_ip_csum ? (uint16_t)(c ^ 0x1111) : c);
		memcpy(out + ihl, l4 + off, take);
		return ihl + take;
	}
	memset(out, 0, 40);
	out[0] = 0x60;
	out[7] = ttl;
	memcpy(out + 8, s, 16);
	memcpy(out + 24, d, 16);
	size_t n = 40;
	uint8_t *nh = out + 6;
	for (unsigned int i = 0; i < p->n_ext; i++) {
		uint8_t t = p->ext[i];
		*nh = t;
		uint8_t *e = out + n;
		if (t == 44) {
			memset(e, 0, 8);
			put16(e + 2, (uint16_t)((off / 8) << 3 | (p->mf ? 1 : 0)));
			uint32_t id = p->frag_id ? p->frag_id : 0x42424242;
			e[4] = (uint8_t)(id >> 24);
			e[5] = (uint8_t)(id >> 16);
			e[6] = (uint8_t)(id >> 8);
			e[7] = (uint8_t)id;
			n += 8;
		} else if (t == 43) { /* type 0-style routing header with one address */
			memset(e, 0, 24);
			e[1] = 2;
			e[2] = 4; /* segment routing header type; opaque to the parse */
			e[3] = p->segleft;
			memcpy(e + 8, d, 16);
			n += 24;
		} else { /* hop-by-hop, destination options: PadN */
			memset(e, 0, 8);
			e[2] = 1;
			e[3] = 4;
			n += 8;
		}
		nh = e;
	}
	*nh = p->proto;
	memcpy(out + n, l4 + off, take);
	n += take;
	put16(out + 4, (uint16_t)(n - 40));
	return n;
}

static size_t build(uint8_t *out, const struct pk *p)
{
	static const char *const dflt_d = "02:fe:00:00:00:01", *const dflt_s = "02:00:00:00:00:99";
	unsigned int b[6];
	const char *macs[2] = { p->dmac ? p->dmac : dflt_d, p->smac ? p->smac : dflt_s };
	for (int k = 0; k < 2; k++) {
		sscanf(macs[k], "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
		for (int i = 0; i < 6; i++)
			out[k * 6 + i] = (uint8_t)b[i];
	}
	put16(out + 12, p->ethertype ? p->ethertype : fam_of(p->src) == 4 ? 0x0800 : 0x86dd);
	size_t n = ETH_LEN + build_ip(out + ETH_LEN, p);
	return p->trunc && p->trunc < n ? p->trunc : n;
}

/* ---- checks on what came out ---- */

/* An IP packet's view: where its transport header is, after any extension headers. */
struct view {
	int fam;
	const uint8_t *ip, *src, *dst, *l4;
	size_t l4_len;
	uint8_t proto, ttl;
	bool later_frag, frag;
	bool cut; /* a quote cut short: its transport checksum cannot be checked */
};

static void view_of(const uint8_t *ip, size_t len, struct view *v)
{
	memset(v, 0, sizeof(*v));
	v->ip = ip;
	if ((ip[0] >> 4) == 4) {
		size_t ihl = (ip[0] & 15) * 4u;
		v->fam = 4;
		v->src = ip + 12;
		v->dst = ip + 16;
		v->proto = ip[9];
		v->ttl = ip[8];
		v->l4 = ip + ihl;
		size_t tot = get16(ip + 2);
		v->cut = tot > len;
		v->l4_len = (v->cut ? len : tot) - ihl;
		v->later_frag = (get16(ip + 6) & 0x1fff) != 0;
		v->frag = (get16(ip + 6) & 0x3fff) != 0;
		return;
	}
	v->fam = 6;
	v->src = ip + 8;
	v->dst = ip + 24;
	v->ttl = ip[7];
	uint8_t nh = ip[6];
	size_t off = 40, end = 40 + get16(ip + 4);
	v->cut = end > len;
	if (v->cut)
		end = len;
	while (nh == 0 || nh == 60 || nh == 43 || nh == 44) {
		if (nh == 44) {
			v->later_frag = (get16(ip + off + 2) >> 3) != 0;
			v->frag = get16(ip + off + 2) != 0;
		}
		size_t el = nh == 44 ? 8 : (ip[off + 1] + 1u) * 8;
		nh = ip[off];
		off += el;
	}
	v->proto = nh;
	v->l4 = ip + off;
	v->l4_len = end - off;
}

/* Every checksum of an IP packet, recomputed from scratch: the IPv4 header, the transport's
 * (not in a fragment: it covers the whole datagram), and an ICMP error's quoted header. */
static void check_csums(const char *name, const uint8_t *ip, size_t len)
{
	struct view v;
	view_of(ip, len, &v);
	if (v.fam == 4)
		assert_int_equal(fold(sum16(ip, (ip[0] & 15) * 4u, 0)), 0xffff);
	if (v.frag || v.cut)
		return;
	if (v.proto == 6 || v.proto == 1 || v.proto == 58 ||
		(v.proto == 17 && (v.fam == 6 || get16(v.l4 + 6) != 0))) {
		uint16_t s = l4_sum(v.fam, v.src, v.dst, v.proto, v.l4, v.l4_len);
		if (s != 0xffff)
			fail_msg("%s: transport checksum wrong (sum %04x)", name, s);
	}
	if ((v.proto == 1 && (v.l4[0] == 3 || v.l4[0] == 11)) ||
		(v.proto == 58 && v.l4[0] >= 1 && v.l4[0] <= 4)) {
		const uint8_t *q = v.l4 + 8;
		if ((q[0] >> 4) == 4 && v.l4_len >= 28)
			assert_int_equal(fold(sum16(q, (q[0] & 15) * 4u, 0)), 0xffff);
	}
}

/* ---- cases ---- */

struct cnt {
	char svc; /* 'i' io-worker, 'n' nat-lb, 'p' policy, 'r' router; 0 ends */
	unsigned int idx;
	uint64_t delta;
};

struct expect_out {
	const char *src, *dst;
	/* 0: not checked (no case expects port 0, no flags or ICMP type 0) */
	int sport, dport;
	int ttl;
	int tcp_flags;
	int icmp_type;
	/* ICMP errors: the quoted packet's addresses and ports. */
	const char *in_src, *in_dst;
	int in_sport, in_dport;
};

struct scase {
	const char *name;
	uint16_t rx_if;
	struct pk pk;
	enum h_verdict verdict;
	enum pl_drop_reason drop;
	int tx_if; /* H_SENT: the interface (0: not checked) */
	unsigned int n_out; /* H_SENT: frames out (0: 1) */
	struct expect_out out;
	struct cnt cnt[6];
	void (*before)(void); /* e.g. set a rate limit */
	void (*after)(void);
};

#define OUT(...) .out = { __VA_ARGS__ }

static uint64_t counter(const struct h_result *r, char svc, unsigned int idx)
{
	switch (svc) {
	case 'i':
		return r->iow[idx];
	case 'n':
		return r->natlb[idx];
	case 'p':
		return r->policy[idx];
	default:
		return r->router[idx];
	}
}

static void write_seed(uint16_t rx_if, const uint8_t *f, size_t n, bool fix_csum)
{
	if (!corpus_dir)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/stages-%03u", corpus_dir, corpus_n++);
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return;
	/* fuzz_stages.c: byte 0 picks the ingress (stages_world.h's list). */
	uint8_t sel = 0;
	for (unsigned int i = 0; i < WORLD_N_INGRESS; i++)
		if (world_ingress[i] == rx_if)
			sel = (uint8_t)i;
	if (fix_csum)
		sel |= 0x80; /* the fuzz target writes the IPv4 header checksum */
	fwrite(&sel, 1, 1, fp);
	fwrite(f, 1, n, fp);
	fclose(fp);
}

static void addr_is(const char *name, const char *what, const uint8_t *a, int fam, const char *want)
{
	uint8_t w[16];
	char got[64];
	addr(want, w);
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, got, sizeof(got));
	if (memcmp(a, w, fam == 4 ? 4 : 16) != 0)
		fail_msg("%s: %s is %s, want %s", name, what, got, want);
}

static void check_out(const struct scase *c, const struct h_frame *f)
{
	const struct expect_out *e = &c->out;
	assert_true(f->len > ETH_LEN);
	const uint8_t *ip = f->bytes + ETH_LEN;
	size_t len = f->len - ETH_LEN;
	check_csums(c->name, ip, len);
	struct view v;
	view_of(ip, len, &v);
	if (e->src)
		addr_is(c->name, "source", v.src, v.fam, e->src);
	if (e->dst)
		addr_is(c->name, "destination", v.dst, v.fam, e->dst);
	if (e->sport)
		assert_int_equal(get16(v.l4), e->sport);
	if (e->dport)
		assert_int_equal(get16(v.l4 + 2), e->dport);
	if (e->ttl)
		assert_int_equal(v.ttl, e->ttl);
	if (e->tcp_flags)
		assert_int_equal(v.l4[13], e->tcp_flags);
	if (e->icmp_type)
		assert_int_equal(v.l4[0], e->icmp_type);
	if (e->in_src || e->in_dst || e->in_sport || e->in_dport) {
		struct view q;
		view_of(v.l4 + 8, v.l4_len - 8, &q);
		if (e->in_src)
			addr_is(c->name, "quoted source", q.src, q.fam, e->in_src);
		if (e->in_dst)
			addr_is(c->name, "quoted destination", q.dst, q.fam, e->in_dst);
		if (e->in_sport)
			assert_int_equal(get16(q.l4), e->in_sport);
		if (e->in_dport)
			assert_int_equal(get16(q.l4 + 2), e->in_dport);
		/* The quote was whole: its transport checksum still holds after the rewrite. */
		check_csums(c->name, v.l4 + 8, v.l4_len - 8);
	}
}

static void run_case(const struct scase *c)
{
	uint8_t f[4096];
	struct h_result r;
	size_t n = build(f, &c->pk);
	if (c->before)
		c->before();
	write_seed(c->rx_if, f, n, !c->pk.bad_ip_csum);
	unsigned int used = h_mbufs_in_use(H) - h_mbufs_held(H);
	assert_int_equal(h_inject(H, c->rx_if, f, n, &r), 0);
	if (c->after)
		c->after();
	if (r.verdict != c->verdict || (c->verdict == H_DROPPED && r.drop_reason != c->drop))
		fail_msg("%s: %s%s%s (by %s), want %s%s%s", c->name, h_verdict_name(r.verdict),
			r.verdict == H_DROPPED ? " " : "",
			r.verdict == H_DROPPED ? h_drop_name(r.drop_reason) : "",
			r.dropped_by ? r.dropped_by : "-", h_verdict_name(c->verdict),
			c->verdict == H_DROPPED ? " " : "",
			c->verdict == H_DROPPED ? h_drop_name(c->drop) : "");
	if (c->verdict == H_DROPPED)
		assert_int_equal(r.iow[PL_IOW_DROP(c->drop)], 1);
	unsigned int want_out = c->verdict == H_SENT ? (c->n_out ? c->n_out : 1) : c->n_out;
	unsigned int n_ip = 0;
	for (unsigned int i = 0; i < r.n_out; i++)
		n_ip += !r.out[i].l2;
	if (n_ip != want_out)
		fail_msg("%s: %u frames out, want %u", c->name, n_ip, want_out);
	if (c->verdict == H_SENT) {
		const struct h_frame *o = NULL;
		for (unsigned int i = 0; i < r.n_out && !o; i++)
			if (!r.out[i].l2)
				o = &r.out[i];
		if (c->tx_if && o->tx_if != c->tx_if)
			fail_msg("%s: out on %u, want %d", c->name, o->tx_if, c->tx_if);
		check_out(c, o);
	}
	for (const struct cnt *k = c->cnt; k->svc; k++) {
		uint64_t got = counter(&r, k->svc, k->idx);
		if (got != k->delta)
			fail_msg("%s: counter %c/%u moved by %lu, want %lu", c->name, k->svc,
				k->idx, (unsigned long)got, (unsigned long)k->delta);
	}
	/* No buffer lost: what is out of the pools is what is held on purpose. */
	assert_int_equal(h_mbufs_in_use(H) - h_mbufs_held(H), used);
}

static void run_cases(const struct scase *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_case(&cs[i]);
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* Counter shorthands. */
#define IOW(sym, d)                  \
	{                            \
		'i', PL_IOW_##sym, d \
	}
#define NAT(sym, d)                    \
	{                              \
		'n', PL_NATLB_##sym, d \
	}
#define POL(sym, d)                     \
	{                               \
		'p', PL_POLICY_##sym, d \
	}
#define RTR(sym, d)                     \
	{                               \
		'r', PL_ROUTER_##sym, d \
	}

/* ---- the cases ---- */

#define UPMAC .dmac = "02:00:00:00:01:10"
#define V4C "10.244.0.16"
#define V6C "fd00:244::16"

static void rate_none(void)
{
	h_set_icmp_rate(H, 0);
}

static void rate_plenty(void)
{
	h_set_icmp_rate(H, 1000000);
}

/* Before the first compile: fail closed for pods, the node's own traffic passes. */
static void test_not_ready(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "not ready: pod to pod", IF_CLIENT, { V4C, "10.244.0.19", 6, 41000, 80, F_SYN },
			H_DROPPED, PL_DROP_POLICY_NOT_READY, .cnt = { POL(NOT_READY, 1) } },
		{ "not ready: uplink to a pod", IF_UP,
			{ "192.168.1.50", "10.244.0.19", 17, 41000, 53, UPMAC }, H_DROPPED,
			PL_DROP_POLICY_NOT_READY },
		{ "not ready: uplink to the node", IF_UP,
			{ "192.168.1.50", "192.168.1.10", 6, 41000, 22, F_SYN, UPMAC }, H_SENT,
			.tx_if = IF_HOST, OUT(.ttl = 64, .dst = "192.168.1.10") },
		{ "not ready: host out", IF_HOST,
			{ "192.168.1.10", "8.8.8.8", 17, 41000, 53, .ttl = 9 }, H_SENT,
			.tx_if = IF_UP, OUT(.ttl = 9, .src = "192.168.1.10") },
	};
	RUN(cases);
	assert_int_equal(h_policy_compile(H), 0);
}

/* ClusterIP DNAT and reverse NAT, IPv4: TCP, UDP; ICMP echo is tracked, never translated. */
static void test_nat4(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "nat4: tcp syn to clusterip", IF_CLIENT,
			{ V4C, "10.96.0.10", 6, 40000, 80, F_SYN, .payload = 11 }, H_SENT,
			.tx_if = IF_SRV,
			OUT(.src = V4C, .dst = "10.244.0.20", .sport = 40000, .dport = 8080,
				.ttl = 63),
			.cnt = { NAT(NAT_FORWARD, 1), NAT(SESSIONS_CREATED, 1),
				POL(FLOWS_ALLOWED, 1), RTR(ROUTED, 1), IOW(TX_PACKETS, 1) } },
		{ "nat4: tcp syn-ack reply", IF_SRV,
			{ "10.244.0.20", V4C, 6, 8080, 40000, F_SYN | F_ACK }, H_SENT,
			.tx_if = IF_CLIENT,
			OUT(.src = "10.96.0.10", .dst = V4C, .sport = 80, .dport = 40000),
			.cnt = { NAT(NAT_REVERSE, 1), NAT(SESSIONS_CREATED, 0),
				POL(FLOWS_ALLOWED, 0) } },
		{ "nat4: tcp data", IF_CLIENT,
			{ V4C, "10.96.0.10", 6, 40000, 80, F_ACK | F_PSH, .payload = 333 }, H_SENT,
			.tx_if = IF_SRV, OUT(.dst = "10.244.0.20", .dport = 8080),
			.cnt = { NAT(NAT_FORWARD, 1) } },
		{ "nat4: udp to clusterip", IF_CLIENT,
			{ V4C, "10.96.0.10", 17, 40001, 53, .payload = 30 }, H_SENT,
			.tx_if = IF_SRV, OUT(.dst = "10.244.0.20", .sport = 40001, .dport = 5353),
			.cnt = { NAT(NAT_FORWARD, 1), NAT(SESSIONS_CREATED, 1) } },
		{ "nat4: udp reply", IF_SRV, { "10.244.0.20", V4C, 17, 5353, 40001, .payload = 77 },
			H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "10.96.0.10", .dst = V4C, .sport = 53, .dport = 40001),
			.cnt = { NAT(NAT_REVERSE, 1) } },
		{ "nat4: udp odd payload", IF_CLIENT,
			{ V4C, "10.96.0.10", 17, 40002, 53, .payload = 1 }, H_SENT,
			OUT(.dst = "10.244.0.20", .dport = 5353) },
		{ "nat4: icmp echo pod to pod", IF_CLIENT,
			{ V4C, "10.244.0.20", 1, 777, .icmp_type = 8, .payload = 56 }, H_SENT,
			.tx_if = IF_SRV, OUT(.src = V4C, .dst = "10.244.0.20", .ttl = 63),
			.cnt = { NAT(SESSIONS_CREATED, 1), NAT(NAT_FORWARD, 0) } },
		{ "nat4: icmp echo reply", IF_SRV,
			{ "10.244.0.20", V4C, 1, 777, .icmp_type = 0, .payload = 56 }, H_SENT,
			.tx_if = IF_CLIENT, .cnt = { NAT(SESSIONS_CREATED, 0) } },
		{ "nat4: host to clusterip keeps its ttl", IF_HOST,
			{ "192.168.1.10", "10.96.0.10", 6, 50000, 80, F_SYN, .ttl = 64 }, H_SENT,
			.tx_if = IF_SRV, OUT(.dst = "10.244.0.20", .dport = 8080, .ttl = 64) },
		{ "nat4: remote endpoint via gateway", IF_CLIENT,
			{ V4C, "10.96.0.13", 6, 40003, 80, F_SYN }, H_SENT, .tx_if = IF_UP,
			OUT(.dst = "10.244.1.5", .dport = 8080) },
	};
	RUN(cases);
}

static void test_nat6(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "nat6: tcp syn to clusterip", IF_CLIENT,
			{ V6C, "fd00:96::10", 6, 40000, 80, F_SYN, .payload = 5 }, H_SENT,
			.tx_if = IF_SRV,
			OUT(.src = V6C, .dst = "fd00:244::20", .sport = 40000, .dport = 8080,
				.ttl = 63),
			.cnt = { NAT(NAT_FORWARD, 1), NAT(SESSIONS_CREATED, 1) } },
		{ "nat6: tcp reply", IF_SRV, { "fd00:244::20", V6C, 6, 8080, 40000, F_SYN | F_ACK },
			H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "fd00:96::10", .sport = 80, .dport = 40000),
			.cnt = { NAT(NAT_REVERSE, 1) } },
		{ "nat6: udp", IF_CLIENT, { V6C, "fd00:96::10", 17, 40001, 53, .payload = 99 },
			H_SENT, .tx_if = IF_SRV, OUT(.dst = "fd00:244::20", .dport = 5353) },
		{ "nat6: udp reply", IF_SRV, { "fd00:244::20", V6C, 17, 5353, 40001, .payload = 3 },
			H_SENT, .tx_if = IF_CLIENT, OUT(.src = "fd00:96::10", .sport = 53) },
		{ "nat6: icmpv6 echo", IF_CLIENT,
			{ V6C, "fd00:244::20", 58, 99, .icmp_type = 128, .payload = 8 }, H_SENT,
			.tx_if = IF_SRV, OUT(.ttl = 63, .icmp_type = 128),
			.cnt = { NAT(SESSIONS_CREATED, 1) } },
		{ "nat6: icmpv6 echo reply", IF_SRV,
			{ "fd00:244::20", V6C, 58, 99, .icmp_type = 129, .payload = 8 }, H_SENT,
			.tx_if = IF_CLIENT, .cnt = { NAT(SESSIONS_CREATED, 0) } },
	};
	RUN(cases);
}

/* ICMP errors quoting a NATed packet: quote and outer header rewritten to what the client
 * knows, every checksum right. */
static const struct pk q4 = { V4C, "10.244.0.20", 17, 40010, 5353, .payload = 12 };
static const struct pk q6 = { V6C, "fd00:244::20", 17, 40011, 5353, .payload = 12 };
static const struct pk q4tcp = { V4C, "10.244.0.20", 6, 40012, 8080, F_ACK, .payload = 20 };
static const struct pk q_unknown = { V4C, "198.18.0.9", 17, 40013, 9, .payload = 4 };
static const struct pk q_iso = { "10.244.0.18", "198.18.0.9", 17, 40014, 9, .payload = 4 };

static void test_icmp_errors(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "icmp4: flow", IF_CLIENT, { V4C, "10.96.0.10", 17, 40010, 53, .payload = 12 },
			H_SENT, .tx_if = IF_SRV },
		{ "icmp4: port unreachable from the endpoint", IF_SRV,
			{ "10.244.0.20", V4C, 1, .icmp_type = 3, .icmp_code = 3, .inner = &q4 },
			H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "10.96.0.10", .dst = V4C, .icmp_type = 3, .in_src = V4C,
				.in_dst = "10.96.0.10", .in_sport = 40010, .in_dport = 53),
			.cnt = { NAT(ICMP_REWRITTEN, 1), POL(NOT_TRACKED, 0) } },
		{ "icmp4: tcp flow", IF_CLIENT, { V4C, "10.96.0.10", 6, 40012, 80, F_SYN }, H_SENT,
			.tx_if = IF_SRV },
		{ "icmp4: frag needed from a router on the way", IF_UP,
			{ "192.168.1.1", V4C, 1, .icmp_type = 3, .icmp_code = 4, .inner = &q4tcp,
				UPMAC },
			H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "192.168.1.1", .dst = V4C, .in_src = V4C, .in_dst = "10.96.0.10",
				.in_sport = 40012, .in_dport = 80),
			.cnt = { NAT(ICMP_REWRITTEN, 1) } },
		{ "icmp6: flow", IF_CLIENT, { V6C, "fd00:96::10", 17, 40011, 53, .payload = 12 },
			H_SENT, .tx_if = IF_SRV },
		{ "icmp6: port unreachable from the endpoint", IF_SRV,
			{ "fd00:244::20", V6C, 58, .icmp_type = 1, .icmp_code = 4, .inner = &q6 },
			H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "fd00:96::10", .dst = V6C, .icmp_type = 1, .in_src = V6C,
				.in_dst = "fd00:96::10", .in_sport = 40011, .in_dport = 53),
			.cnt = { NAT(ICMP_REWRITTEN, 1) } },
		{ "icmp4: error about no known flow: judged alone", IF_UP,
			{ "192.168.1.77", V4C, 1, .icmp_type = 3, .icmp_code = 1,
				.inner = &q_unknown, UPMAC },
			H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "192.168.1.77", .in_dst = "198.18.0.9"),
			.cnt = { NAT(ICMP_REWRITTEN, 0), POL(NOT_TRACKED, 1) } },
		{ "icmp4: error about no flow to an isolated pod", IF_UP,
			{ "192.168.1.77", "10.244.0.18", 1, .icmp_type = 3, .icmp_code = 1,
				.inner = &q_iso, UPMAC },
			H_DROPPED, PL_DROP_POLICY_DENIED, .cnt = { POL(NOT_TRACKED, 1) } },
	};
	RUN(cases);
}

/* A service without endpoints: TCP RST or ICMP port unreachable from the service address. */
static void test_reject(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "reject: tcp syn gets rst", IF_CLIENT,
			{ V4C, "10.96.0.11", 6, 40020, 80, F_SYN, .payload = 10 }, H_SENT,
			.tx_if = IF_CLIENT,
			OUT(.src = "10.96.0.11", .dst = V4C, .sport = 80, .dport = 40020,
				.tcp_flags = F_RST | F_ACK, .ttl = 63),
			.cnt = { NAT(REJECTED, 1), NAT(SESSIONS_CREATED, 0) } },
		{ "reject: tcp ack gets bare rst", IF_CLIENT,
			{ V4C, "10.96.0.11", 6, 40021, 80, F_ACK }, H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "10.96.0.11", .tcp_flags = F_RST) },
		{ "reject: tcp rst gets nothing", IF_CLIENT,
			{ V4C, "10.96.0.11", 6, 40022, 80, F_RST }, H_SENT, .tx_if = IF_UP,
			.cnt = { NAT(REJECTED, 0) } },
		{ "reject: udp gets port unreachable", IF_CLIENT,
			{ V4C, "10.96.0.11", 17, 40023, 53, .payload = 20 }, H_SENT,
			.tx_if = IF_CLIENT,
			OUT(.src = "10.96.0.11", .dst = V4C, .icmp_type = 3, .in_src = V4C,
				.in_dst = "10.96.0.11", .in_sport = 40023, .in_dport = 53),
			.cnt = { NAT(REJECTED, 1) } },
		{ "reject6: tcp syn gets rst", IF_CLIENT,
			{ V6C, "fd00:96::11", 6, 40024, 80, F_SYN }, H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "fd00:96::11", .dst = V6C, .tcp_flags = F_RST | F_ACK) },
		{ "reject6: udp gets port unreachable", IF_CLIENT,
			{ V6C, "fd00:96::11", 17, 40025, 53 }, H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "fd00:96::11", .icmp_type = 1, .in_dst = "fd00:96::11",
				.in_dport = 53) },
		{ "reject6: behind extension headers: dropped", IF_CLIENT,
			{ V6C, "fd00:96::11", 6, 40026, 80, F_SYN, .ext = { 60 }, .n_ext = 1 },
			H_DROPPED, PL_DROP_NO_ENDPOINT, .cnt = { NAT(REJECTED, 0) } },
		{ "reject: over the rate: dropped", IF_CLIENT,
			{ V4C, "10.96.0.11", 6, 40027, 80, F_SYN }, H_DROPPED, PL_DROP_NO_ENDPOINT,
			.before = rate_none, .after = rate_plenty },
	};
	RUN(cases);
}

/* IPv6 extension headers: the transport is found behind them; routing + NAT is refused. */
static void test_ext6(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "ext6: hop-by-hop udp", IF_CLIENT,
			{ V6C, "fd00:244::20", 17, 40030, 7, .payload = 9, .ext = { 0 },
				.n_ext = 1 },
			H_SENT, .tx_if = IF_SRV, OUT(.sport = 40030, .dport = 7) },
		{ "ext6: dest options tcp", IF_CLIENT,
			{ V6C, "fd00:244::20", 6, 40031, 7, F_SYN, .ext = { 60 }, .n_ext = 1 },
			H_SENT, .tx_if = IF_SRV, OUT(.sport = 40031, .dport = 7) },
		{ "ext6: chain hbh, dest, routing (done), dest, icmpv6 echo", IF_CLIENT,
			{ V6C, "fd00:244::20", 58, 41, .icmp_type = 128, .ext = { 0, 60, 43, 60 },
				.n_ext = 4 },
			H_SENT, .tx_if = IF_SRV, OUT(.icmp_type = 128) },
		{ "ext6: dnat behind dest options", IF_CLIENT,
			{ V6C, "fd00:96::10", 17, 40032, 53, .payload = 4, .ext = { 60 },
				.n_ext = 1 },
			H_SENT, .tx_if = IF_SRV, OUT(.dst = "fd00:244::20", .dport = 5353),
			.cnt = { NAT(NAT_FORWARD, 1) } },
		{ "ext6: routing header with segments left to a service: dropped", IF_CLIENT,
			{ V6C, "fd00:96::10", 17, 40033, 53, .ext = { 43 }, .n_ext = 1,
				.segleft = 1 },
			H_DROPPED, PL_DROP_UNSUPPORTED, .cnt = { NAT(NAT_FORWARD, 0) } },
		{ "ext6: routing header with segments left, no nat: passes", IF_CLIENT,
			{ V6C, "fd00:244::20", 17, 40034, 7, .ext = { 43 }, .n_ext = 1,
				.segleft = 1 },
			H_SENT, .tx_if = IF_SRV },
		{ "ext6: hop-by-hop not first", IF_CLIENT,
			{ V6C, "fd00:244::20", 17, 40035, 7, .ext = { 60, 0 }, .n_ext = 2 },
			H_DROPPED, PL_DROP_MALFORMED, .cnt = { IOW(BAD_IPV6_EXT, 1) } },
		{ "ext6: nine headers", IF_CLIENT,
			{ V6C, "fd00:244::20", 17, 40036, 7,
				.ext = { 60, 60, 60, 60, 60, 60, 60, 60, 60 }, .n_ext = 9 },
			H_DROPPED, PL_DROP_MALFORMED, .cnt = { IOW(BAD_IPV6_EXT, 1) } },
	};
	RUN(cases);
}

/* Fragments: the first one's ports stamped on later ones; early later ones held; overlaps and
 * strangers dropped. The UDP datagram is 8 + 64 bytes; the first fragment carries 24. */
#define FRAG4(id_, off_, len_, mf_)                                                              \
	{                                                                                        \
		V4C, "10.244.0.20", 17, 40040, 7, .payload = 64, .frag = true, .frag_off = off_, \
						  .frag_len = len_, .mf = mf_, .frag_id = id_    \
	}
#define FRAG6(id_, off_, len_, mf_)                                                               \
	{                                                                                         \
		V6C, "fd00:96::10", 17, 40041, 53, .payload = 64, .frag = true, .frag_off = off_, \
						   .frag_len = len_, .mf = mf_, .frag_id = id_,   \
						   .ext = { 44 }, .n_ext = 1                      \
	}

static void test_fragments(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "frag4: first", IF_CLIENT, FRAG4(0x1001, 0, 24, true), H_SENT, .tx_if = IF_SRV },
		{ "frag4: later, stamped", IF_CLIENT, FRAG4(0x1001, 24, 0, false), H_SENT,
			.tx_if = IF_SRV, .cnt = { NAT(SESSIONS_CREATED, 0), POL(NOT_TRACKED, 0) } },
		{ "frag4: later before its first: held", IF_CLIENT, FRAG4(0x1002, 24, 0, false),
			H_HELD, .cnt = { IOW(RX_FRAG_HELD, 1) } },
		{ "frag4: its first releases it", IF_CLIENT, FRAG4(0x1002, 0, 24, true), H_SENT,
			.tx_if = IF_SRV, .n_out = 2 },
		{ "frag4: overlapping the first", IF_CLIENT, FRAG4(0x1002, 16, 0, false), H_DROPPED,
			PL_DROP_FRAGMENT, .cnt = { IOW(RX_FRAG_OVERLAP, 1) } },
		{ "frag4: tiny first fragment", IF_CLIENT, FRAG4(0x1003, 0, 4, true), H_DROPPED,
			PL_DROP_MALFORMED, .cnt = { IOW(BAD_L4, 1) } },
		{ "frag6: first, dnat", IF_CLIENT, FRAG6(0x2001, 0, 24, true), H_SENT,
			.tx_if = IF_SRV, OUT(.dst = "fd00:244::20", .dport = 5353),
			.cnt = { NAT(NAT_FORWARD, 1) } },
		{ "frag6: later, addresses translated", IF_CLIENT, FRAG6(0x2001, 24, 0, false),
			H_SENT, .tx_if = IF_SRV, OUT(.dst = "fd00:244::20"),
			.cnt = { NAT(NAT_FORWARD, 1) } },
		{ "frag4: first to an isolated pod", IF_CLIENT,
			{ V4C, "10.244.0.18", 17, 40042, 7, .payload = 64, .frag = true,
				.frag_len = 24, .mf = true, .frag_id = 0x1004 },
			H_DROPPED, PL_DROP_POLICY_DENIED },
		{ "frag4: its later fragment gets the same verdict", IF_CLIENT,
			{ V4C, "10.244.0.18", 17, 40042, 7, .payload = 64, .frag = true,
				.frag_off = 24, .frag_id = 0x1004 },
			H_DROPPED, PL_DROP_POLICY_DENIED },
		{ "frag4: first again, other ports", IF_CLIENT,
			{ V4C, "10.244.0.20", 17, 40099, 7, .payload = 64, .frag = true,
				.frag_len = 24, .mf = true, .frag_id = 0x1001 },
			H_SENT },
		{ "frag4: later of a poisoned datagram", IF_CLIENT, FRAG4(0x1001, 24, 0, false),
			H_DROPPED, PL_DROP_FRAGMENT, .cnt = { IOW(RX_FRAG_OVERLAP, 1) } },
	};
	RUN(cases);
	/* A later fragment whose first never comes: held, then dropped after the hold time. */
	uint8_t f[512];
	struct h_result r;
	const struct pk lone = FRAG4(0x1005, 24, 0, false);
	size_t n = build(f, &lone);
	assert_int_equal(h_inject(H, IF_CLIENT, f, n, &r), 0);
	assert_int_equal(r.verdict, H_HELD);
	h_advance(H, 100, &r);
	assert_int_equal(r.iow[PL_IOW_RX_FRAG_UNKNOWN], 0);
	assert_int_equal(h_mbufs_held(H), 1);
	h_advance(H, 500, &r);
	assert_int_equal(r.iow[PL_IOW_RX_FRAG_UNKNOWN], 1);
	assert_int_equal(r.iow[PL_IOW_DROP(PL_DROP_FRAGMENT)], 1);
	assert_int_equal(h_mbufs_held(H), 0);
}

/* Anti-spoofing at ingress. */
static void test_spoofing(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "spoof: pod with a made-up source", IF_CLIENT,
			{ "10.244.0.99", "10.244.0.20", 17, 1, 7 }, H_DROPPED, PL_DROP_SPOOFED,
			.cnt = { IOW(RX_SPOOFED_POD, 1), NAT(SESSIONS_CREATED, 0) } },
		{ "spoof: pod with another pod's source", IF_CLIENT,
			{ "10.244.0.17", "10.244.0.20", 6, 80, 7, F_SYN | F_ACK }, H_DROPPED,
			PL_DROP_SPOOFED, .cnt = { IOW(RX_SPOOFED_POD, 1) } },
		{ "spoof: pod v6 with another pod's source", IF_CLIENT,
			{ "fd00:244::17", "fd00:244::20", 17, 1, 7 }, H_DROPPED, PL_DROP_SPOOFED },
		{ "spoof: pod with a node address", IF_CLIENT,
			{ "192.168.1.10", "10.244.0.20", 17, 1, 7 }, H_DROPPED, PL_DROP_SPOOFED },
		{ "spoof: link-local source off the link", IF_CLIENT,
			{ "fe80::16", "fd00:244::20", 17, 1, 7 }, H_DROPPED, PL_DROP_SPOOFED },
		{ "spoof: allow_src prefix passes", IF_SRV,
			{ "10.250.0.5", "10.244.0.16", 17, 1, 7 }, H_SENT, .tx_if = IF_CLIENT },
		{ "spoof: uplink with a pod's source", IF_UP,
			{ "10.244.0.17", "10.244.0.20", 17, 1, 7, UPMAC }, H_DROPPED,
			PL_DROP_SPOOFED, .cnt = { IOW(RX_SPOOFED_UPLINK, 1) } },
		{ "spoof: uplink with the node's source", IF_UP,
			{ "192.168.1.10", "10.244.0.20", 17, 1, 7, UPMAC }, H_DROPPED,
			PL_DROP_SPOOFED, .cnt = { IOW(RX_SPOOFED_UPLINK, 1) } },
		{ "spoof: uplink with the node's v6 source", IF_UP,
			{ "fd00:1::10", "fd00:244::20", 17, 1, 7, UPMAC }, H_DROPPED,
			PL_DROP_SPOOFED, .cnt = { IOW(RX_SPOOFED_UPLINK, 1) } },
		{ "spoof: martian loopback on the uplink", IF_UP,
			{ "127.0.0.1", "10.244.0.20", 17, 1, 7, UPMAC }, H_DROPPED, PL_DROP_SPOOFED,
			.cnt = { IOW(RX_MARTIAN, 1) } },
		{ "spoof: martian multicast source from a pod", IF_CLIENT,
			{ "224.0.0.5", "10.244.0.20", 17, 1, 7 }, H_DROPPED, PL_DROP_SPOOFED,
			.cnt = { IOW(RX_MARTIAN, 1) } },
		{ "spoof: martian ::1", IF_UP, { "::1", "fd00:244::20", 17, 1, 7, UPMAC },
			H_DROPPED, PL_DROP_SPOOFED, .cnt = { IOW(RX_MARTIAN, 1) } },
		{ "spoof: the host tap is not checked", IF_HOST,
			{ "10.244.0.17", "10.244.0.20", 17, 1, 7 }, H_SENT, .tx_if = IF_SRV },
		{ "spoof: a uplink stranger passes", IF_UP,
			{ "192.168.1.50", "10.244.0.20", 17, 1, 7, UPMAC }, H_SENT,
			.tx_if = IF_SRV },
	};
	RUN(cases);
}

/* Policy: iso isolated by a deny-all ingress policy for every protocol; web takes TCP 80 from
 * the frontend namespace only — judged after DNAT. */
static void test_policy(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "policy: tcp to isolated", IF_CLIENT, { V4C, "10.244.0.18", 6, 40050, 80, F_SYN },
			H_DROPPED, PL_DROP_POLICY_DENIED,
			.cnt = { POL(FLOWS_DENIED, 1), POL(PACKETS_DENIED, 1) } },
		{ "policy: its next packet, cached verdict", IF_CLIENT,
			{ V4C, "10.244.0.18", 6, 40050, 80, F_ACK }, H_DROPPED,
			PL_DROP_POLICY_DENIED,
			.cnt = { POL(FLOWS_DENIED, 0), POL(PACKETS_DENIED, 1) } },
		{ "policy: udp to isolated", IF_CLIENT, { V4C, "10.244.0.18", 17, 40051, 53 },
			H_DROPPED, PL_DROP_POLICY_DENIED },
		{ "policy: icmp echo to isolated", IF_CLIENT,
			{ V4C, "10.244.0.18", 1, 5, .icmp_type = 8 }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: sctp to isolated", IF_CLIENT, { V4C, "10.244.0.18", 132, 40052, 36412 },
			H_DROPPED, PL_DROP_POLICY_DENIED },
		{ "policy: gre to isolated", IF_CLIENT, { V4C, "10.244.0.18", 47, .payload = 8 },
			H_DROPPED, PL_DROP_POLICY_DENIED },
		{ "policy: tcp6 to isolated", IF_CLIENT,
			{ V6C, "fd00:244::18", 6, 40053, 80, F_SYN }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: icmpv6 echo to isolated", IF_CLIENT,
			{ V6C, "fd00:244::18", 58, 6, .icmp_type = 128 }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: from the uplink to isolated", IF_UP,
			{ "192.168.1.50", "10.244.0.18", 6, 40054, 80, F_SYN, UPMAC }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: isolated pod's egress is open", IF_ISO,
			{ "10.244.0.18", V4C, 6, 40055, 80, F_SYN }, H_SENT, .tx_if = IF_CLIENT },
		{ "policy: the host reaches isolated", IF_HOST,
			{ "192.168.1.10", "10.244.0.18", 6, 40056, 80, F_SYN }, H_SENT,
			.tx_if = IF_ISO },
		{ "policy: frontend to web tcp 80", IF_FE,
			{ "10.244.0.19", "10.244.0.17", 6, 40057, 80, F_SYN }, H_SENT,
			.tx_if = IF_WEB, .cnt = { POL(FLOWS_ALLOWED, 1) } },
		{ "policy: web's reply", IF_WEB,
			{ "10.244.0.17", "10.244.0.19", 6, 80, 40057, F_SYN | F_ACK }, H_SENT,
			.tx_if = IF_FE, .cnt = { POL(FLOWS_ALLOWED, 0) } },
		{ "policy: frontend to web tcp 81", IF_FE,
			{ "10.244.0.19", "10.244.0.17", 6, 40058, 81, F_SYN }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: frontend to web udp 80", IF_FE,
			{ "10.244.0.19", "10.244.0.17", 17, 40059, 80 }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: frontend to web sctp 80", IF_FE,
			{ "10.244.0.19", "10.244.0.17", 132, 40059, 80 }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: default ns to web tcp 80", IF_CLIENT,
			{ V4C, "10.244.0.17", 6, 40060, 80, F_SYN }, H_DROPPED,
			PL_DROP_POLICY_DENIED },
		{ "policy: frontend to web's service: 8080 after dnat", IF_FE,
			{ "10.244.0.19", "10.96.0.12", 6, 40061, 80, F_SYN }, H_DROPPED,
			PL_DROP_POLICY_DENIED, .cnt = { NAT(NAT_FORWARD, 1) } },
		{ "policy: frontend v6 to web tcp 80", IF_FE,
			{ "fd00:244::19", "fd00:244::17", 6, 40062, 80, F_SYN }, H_SENT,
			.tx_if = IF_WEB },
	};
	RUN(cases);
}

/* router: TTL, no route, blackhole, MTU; ICMP errors from the node's address. */
static void test_router(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "router: ttl 1 gets time exceeded", IF_CLIENT,
			{ V4C, "8.8.8.8", 17, 40070, 53, .ttl = 1, .payload = 8 }, H_SENT,
			.tx_if = IF_CLIENT,
			OUT(.src = "192.168.1.10", .dst = V4C, .icmp_type = 11, .in_src = V4C,
				.in_dst = "8.8.8.8", .in_dport = 53),
			.cnt = { RTR(ROUTED, 1) } },
		{ "router: hop limit 1 gets time exceeded", IF_CLIENT,
			{ V6C, "2001:db8::1", 17, 40071, 53, .ttl = 1 }, H_SENT, .tx_if = IF_CLIENT,
			OUT(.src = "fd00:1::10", .dst = V6C, .icmp_type = 3) },
		{ "router: ttl 1 over the icmp rate", IF_CLIENT,
			{ V4C, "8.8.8.8", 17, 40072, 53, .ttl = 1 }, H_DROPPED, PL_DROP_ICMP_RATE,
			.before = rate_none, .after = rate_plenty },
		{ "router: too big v6 over the icmp rate", IF_CLIENT,
			{ V6C, "2001:db8::1", 17, 40072, 9, .payload = 1600 }, H_DROPPED,
			PL_DROP_ICMP_RATE, .before = rate_none, .after = rate_plenty },
		{ "router: host's ttl 1 is its own", IF_HOST,
			{ "192.168.1.10", "8.8.8.8", 17, 40073, 53, .ttl = 1 }, H_SENT,
			.tx_if = IF_UP, OUT(.ttl = 1) },
		{ "router: forwarded out of the uplink", IF_CLIENT,
			{ V4C, "8.8.8.8", 6, 40074, 443, F_SYN }, H_SENT, .tx_if = IF_UP,
			OUT(.src = V4C, .dst = "8.8.8.8", .ttl = 63) },
		{ "router: blackhole", IF_CLIENT, { V4C, "198.51.100.7", 17, 40075, 9 }, H_DROPPED,
			PL_DROP_BLACKHOLE },
		{ "router: link-local destination", IF_CLIENT, { V6C, "fe80::1", 17, 40076, 9 },
			H_DROPPED, PL_DROP_NO_ROUTE },
		{ "router: too big, df: frag needed", IF_CLIENT,
			{ V4C, "8.8.8.8", 17, 40077, 9, .payload = 1600, .df = true }, H_SENT,
			.tx_if = IF_CLIENT, OUT(.src = "192.168.1.10", .icmp_type = 3) },
		{ "router: too big, no df: dropped", IF_CLIENT,
			{ V4C, "8.8.8.8", 17, 40078, 9, .payload = 1600 }, H_DROPPED,
			PL_DROP_TOO_BIG },
		{ "router: too big v6: packet too big", IF_CLIENT,
			{ V6C, "2001:db8::1", 17, 40079, 9, .payload = 1600 }, H_SENT,
			.tx_if = IF_CLIENT, OUT(.src = "fd00:1::10", .icmp_type = 2) },
	};
	RUN(cases);
}

/* io-worker's output: no port, a port that refuses, neighbours. */
static void test_output(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "output: no port", IF_CLIENT, { V4C, "10.244.0.21", 17, 40080, 9 }, H_DROPPED,
			PL_DROP_NO_PORT },
		{ "output: the port refuses", IF_CLIENT, { V4C, "10.244.0.22", 17, 40081, 9 },
			H_DROPPED, PL_DROP_TX_ERROR },
		{ "output: unresolved neighbour: held, asked", IF_CLIENT,
			{ V4C, "192.168.1.77", 17, 40082, 9 }, H_HELD },
	};
	RUN(cases);
	/* The held packet's neighbour answers: it leaves with the MAC learnt. */
	assert_int_equal(h_mbufs_held(H), 1);
	uint8_t f[512];
	struct h_result r;
	const struct pk p = { V4C, "192.168.1.78", 17, 40083, 9 };
	size_t n = build(f, &p);
	assert_int_equal(h_inject(H, IF_CLIENT, f, n, &r), 0);
	assert_int_equal(r.verdict, H_HELD);
	assert_int_equal(r.n_out, 1); /* the ARP request */
	assert_true(r.out[0].l2);
	assert_int_equal(get16(r.out[0].bytes + 12), 0x0806);
	/* Packets to the gateway: its MAC, from the uplink's. */
	const struct pk g = { V4C, "1.1.1.1", 17, 40084, 9 };
	n = build(f, &g);
	assert_int_equal(h_inject(H, IF_CLIENT, f, n, &r), 0);
	assert_int_equal(r.verdict, H_SENT);
	static const uint8_t gw_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
	static const uint8_t up_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x10 };
	assert_memory_equal(r.out[0].bytes, gw_mac, 6);
	assert_memory_equal(r.out[0].bytes + 6, up_mac, 6);
	/* Too many waiting for one neighbour: dropped. */
	unsigned int dropped = 0;
	for (int i = 0; i < 64 && !dropped; i++) {
		const struct pk q = { V4C, "192.168.1.79", 17, (uint16_t)(41000 + i), 9 };
		n = build(f, &q);
		assert_int_equal(h_inject(H, IF_CLIENT, f, n, &r), 0);
		if (r.verdict == H_DROPPED) {
			assert_int_equal(r.drop_reason, PL_DROP_NO_NEIGHBOR);
			dropped++;
		}
	}
	assert_int_equal(dropped, 1);
	/* Unanswered: aged out, their packets dropped and counted. */
	unsigned int held = h_mbufs_held(H);
	h_advance(H, 60000, &r);
	assert_int_equal(r.iow[PL_IOW_DROP(PL_DROP_NO_NEIGHBOR)], held);
	assert_int_equal(h_mbufs_held(H), 0);
}

/* io-worker's L2 and the ingress parse. */
static void test_l2(void **state)
{
	(void)state;
	static const struct scase cases[] = {
		{ "parse: not ip", IF_CLIENT, { V4C, "10.244.0.20", 17, 1, 7, .ethertype = 0x88cc },
			H_DROPPED, PL_DROP_UNSUPPORTED, .cnt = { IOW(NOT_IP, 1) } },
		{ "parse: bad ipv4 checksum", IF_CLIENT,
			{ V4C, "10.244.0.20", 17, 1, 7, .bad_ip_csum = true }, H_DROPPED,
			PL_DROP_MALFORMED, .cnt = { IOW(BAD_IPV4_CSUM, 1) } },
		{ "parse: truncated ipv4", IF_CLIENT,
			{ V4C, "10.244.0.20", 17, 1, 7, .payload = 20, .trunc = 40 }, H_DROPPED,
			PL_DROP_MALFORMED, .cnt = { IOW(BAD_IPV4, 1) } },
		{ "parse: truncated ipv6", IF_CLIENT,
			{ V6C, "fd00:244::20", 17, 1, 7, .payload = 20, .trunc = 60 }, H_DROPPED,
			PL_DROP_MALFORMED, .cnt = { IOW(BAD_IPV6, 1) } },
		{ "parse: truncated tcp", IF_CLIENT,
			{ V4C, "10.244.0.20", 6, 1, 7, .trunc = 14 + 20 + 10 }, H_DROPPED,
			PL_DROP_MALFORMED },
		{ "parse: ipv4 options pass", IF_CLIENT,
			{ V4C, "10.244.0.20", 17, 40090, 7, .ihl_opts = 2 }, H_SENT,
			.tx_if = IF_SRV, OUT(.sport = 40090, .dport = 7) },
		{ "l2: another mac on the uplink", IF_UP,
			{ "192.168.1.50", "10.244.0.20", 17, 1, 7, .dmac = "02:00:00:00:09:09" },
			H_L2, .cnt = { IOW(RX_OTHER_MAC, 1) } },
	};
	RUN(cases);
	/* The host asks for its next hop: the dataplane answers with its MAC. */
	uint8_t f[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 2, 2, 0x08, 0x06, 0, 1,
		0x08, 0, 6, 4, 0, 1, 2, 0, 0, 0, 2, 2, 192, 168, 1, 10, 0, 0, 0, 0, 0, 0, 192, 168,
		1, 1 };
	struct h_result r;
	write_seed(IF_HOST, f, 42, false);
	assert_int_equal(h_inject(H, IF_HOST, f, 42, &r), 0);
	assert_int_equal(r.verdict, H_L2);
	assert_int_equal(r.n_out, 1);
	uint8_t dp[6];
	h_dp_mac(H, dp);
	assert_memory_equal(r.out[0].bytes + 6, dp, 6);
	assert_int_equal(get16(r.out[0].bytes + 20), 2); /* reply */
}

/* A full session table refuses new flows, and only them. */
static void test_sessions_full(void **state)
{
	(void)state;
	uint8_t f[512];
	struct h_result r;
	h_flush_sessions(H);
	unsigned int i, full = 0;
	for (i = 0; i < 1100 && !full; i++) {
		const struct pk p = { V4C, "10.244.0.20", 17, (uint16_t)(10000 + i), 7 };
		size_t n = build(f, &p);
		assert_int_equal(h_inject(H, IF_CLIENT, f, n, &r), 0);
		if (r.verdict == H_DROPPED) {
			assert_int_equal(r.drop_reason, PL_DROP_SESSIONS_FULL);
			assert_int_equal(r.natlb[PL_NATLB_SESSIONS_FULL], 1);
			full = i;
		}
	}
	assert_int_equal(full, 1024);
	const struct pk old = { V4C, "10.244.0.20", 17, 10000, 7 };
	size_t n = build(f, &old);
	assert_int_equal(h_inject(H, IF_CLIENT, f, n, &r), 0);
	assert_int_equal(r.verdict, H_SENT);
	h_flush_sessions(H);
}

static int setup(void **state)
{
	(void)state;
	char err[256] = "";
	corpus_dir = getenv("PODLANE_STAGES_CORPUS");
	H = world_new(true, err, sizeof(err));
	if (!H) {
		fprintf(stderr, "harness: %s\n", err);
		return -1;
	}
	/* The uplink's gateways answered io-worker's requests once. */
	if (h_neigh_learn(H, "192.168.1.1", "02:00:00:00:01:01") ||
		h_neigh_learn(H, "192.168.1.11", "02:00:00:00:01:11") ||
		h_neigh_learn(H, "fd00:1::1", "02:00:00:00:01:01"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_destroy(&H);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_ready),
		cmocka_unit_test(test_nat4),
		cmocka_unit_test(test_nat6),
		cmocka_unit_test(test_icmp_errors),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_ext6),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_spoofing),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_router),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_l2),
		cmocka_unit_test(test_sessions_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
