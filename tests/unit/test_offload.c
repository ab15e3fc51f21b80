/* SPDX-License-Identifier: Apache-2.0 */
/* Segmentation and checksum offload (ipc/pl_offload.c) against packets built by hand.
 *
 * Every frame here is written byte by byte by this file (Ethernet, IPv4 or IPv6, TCP with a
 * 12-byte timestamp option or UDP, a known payload pattern), and every checksum it expects is
 * computed here with a plain reference one's-complement sum over contiguous bytes (big-endian
 * 16-bit words), never with the code under test or DPDK's checksum helpers. Super-packets
 * carry a partial L4 checksum as Linux leaves it (the pseudo-header sum with the L4 length,
 * not complemented) and come with the virtio_net_hdr the kernel would give for them.
 *
 * Covered: pl_offload_from_vnet's fields (tun and tap offsets) and what it refuses, a partial
 * checksum behind an IPv6 extension header (completed at once); pl_offload_to_vnet round
 * trips; pl_offload_csum_complete against the hand-computed full checksum (UDP 0 -> 0xffff);
 * pl_offload_segment against segments built by hand, byte for byte, and its errors; and the
 * same after nat-lb's DNAT+SNAT rewrite applied with pl_csum.h, partial and full. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include "pl_csum.h"
#include "pl_dp.h"
#include "pl_offload.h"

#define ETH 14u
#define MAX_SEGS 64
#define SMALL_ROOM 2048u /* frame bytes a small-pool buffer holds (RTE_MBUF_DEFAULT_BUF_SIZE) */

static struct rte_mempool *big_pool, *small_pool;
static uint8_t pattern[65536];
static uint8_t frame[70000], want[70000], scratch[70000];

/* ---- reference checksum (independent of the code under test) ---- */

static uint64_t ref_sum(const uint8_t *b, size_t n, uint64_t acc)
{
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)b[i] << 8 | b[i + 1];
	if (i < n)
		acc += (uint32_t)b[i] << 8;
	return acc;
}

static uint16_t ref_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- hand-built packets ---- */

struct flow {
	bool v6, udp;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq;
	uint16_t ipid;
	uint8_t tcp_flags;
};

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

enum csum_mode {
	CS_PARTIAL,
	CS_FULL
};

static uint32_t l3len(const struct flow *f)
{
	return f->v6 ? 40 : 20;
}

static uint32_t l4hlen(const struct flow *f)
{
	return f->udp ? 8 : 32; /* TCP: 20 + NOP NOP timestamps */
}

static uint32_t hdrlen(const struct flow *f)
{
	return ETH + l3len(f) + l4hlen(f);
}

static uint32_t csum_off(const struct flow *f)
{
	return ETH + l3len(f) + (f->udp ? 6 : 16);
}

static uint32_t alen(const struct flow *f)
{
	return f->v6 ? 16 : 4;
}

static uint64_t ref_pseudo(
	const struct flow *f, const uint8_t *src, const uint8_t *dst, uint32_t l4_len)
{
	uint64_t s = ref_sum(src, alen(f), 0);
	s = ref_sum(dst, alen(f), s);
	s += f->udp ? 17 : 6;
	s += l4_len; /* IPv4: 16-bit length; IPv6: 32-bit length, both sum the same */
	return s;
}

/* Writes f's frame carrying payload p[0..n) into out: sequence number seq, IPv4 id id, TCP
 * flags flags, the L4 checksum per mode. Returns the frame's length. */
static uint32_t build(const struct flow *f, const uint8_t *p, uint32_t n, uint32_t seq, uint16_t id,
	uint8_t flags, enum csum_mode mode, uint8_t *out)
{
	uint8_t *l3 = out + ETH, *l4 = l3 + l3len(f);
	uint32_t l4_len = l4hlen(f) + n;
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02 };
	memcpy(out, macs, 12);
	put16(out + 12, f->v6 ? 0x86dd : 0x0800);
	if (f->v6) {
		l3[0] = 0x60;
		l3[1] = 0x01;
		l3[2] = 0x23;
		l3[3] = 0x45;
		put16(l3 + 4, (uint16_t)l4_len);
		l3[6] = f->udp ? 17 : 6;
		l3[7] = 64;
		memcpy(l3 + 8, f->src, 16);
		memcpy(l3 + 24, f->dst, 16);
	} else {
		l3[0] = 0x45;
		l3[1] = 0;
		put16(l3 + 2, (uint16_t)(20 + l4_len));
		put16(l3 + 4, id);
		put16(l3 + 6, 0x4000); /* DF */
		l3[8] = 64;
		l3[9] = f->udp ? 17 : 6;
		put16(l3 + 10, 0);
		memcpy(l3 + 12, f->src, 4);
		memcpy(l3 + 16, f->dst, 4);
		put16(l3 + 10, (uint16_t)~ref_fold(ref_sum(l3, 20, 0)));
	}
	put16(l4, f->sport);
	put16(l4 + 2, f->dport);
	if (f->udp) {
		put16(l4 + 4, (uint16_t)l4_len);
		put16(l4 + 6, 0);
	} else {
		put32(l4 + 4, seq);
		put32(l4 + 8, 0x11223344);
		l4[12] = 0x80; /* 8 words */
		l4[13] = flags;
		put16(l4 + 14, 0xfaf0);
		put16(l4 + 16, 0);
		put16(l4 + 18, 0);
		static const uint8_t opts[12] = { 1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0x12,
			0x34 };
		memcpy(l4 + 20, opts, 12);
	}
	memcpy(l4 + l4hlen(f), p, n);
	uint64_t ph = ref_pseudo(f, f->src, f->dst, l4_len);
	uint16_t c;
	if (mode == CS_PARTIAL) {
		c = ref_fold(ph);
	} else {
		c = (uint16_t)~ref_fold(ref_sum(l4, l4_len, ph));
		if (c == 0 && f->udp)
			c = 0xffff;
	}
	put16(out + csum_off(f), c);
	return ETH + l3len(f) + l4_len;
}

/* The frame's IPv4 header checksum and L4 checksum verify (reference sum). */
static void assert_valid(const struct flow *f, const uint8_t *fr, uint32_t len)
{
	const uint8_t *l3 = fr + ETH, *l4 = l3 + l3len(f);
	uint32_t l4_len = len - ETH - l3len(f);
	if (!f->v6) {
		assert_int_equal(ref_fold(ref_sum(l3, 20, 0)), 0xffff);
		assert_int_equal(get16(l3 + 2), len - ETH);
	} else {
		assert_int_equal(get16(l3 + 4), l4_len);
	}
	if (f->udp) {
		assert_int_equal(get16(l4 + 4), l4_len);
		assert_int_not_equal(get16(l4 + 6), 0);
	}
	uint64_t ph = ref_pseudo(f, f->v6 ? l3 + 8 : l3 + 12, f->v6 ? l3 + 24 : l3 + 16, l4_len);
	assert_int_equal(ref_fold(ref_sum(l4, l4_len, ph)), 0xffff);
}

/* A payload pattern with two bytes at payload offset `at` (even) chosen so that f's full L4
 * checksum over payload length n comes out 0 (the sum is all ones); for a super-packet of
 * f with segment size n, that is its first segment's. */
static const uint8_t *zero_sum_payload(const struct flow *f, uint32_t n, uint32_t at)
{
	static uint8_t p[65536];
	memcpy(p, pattern, sizeof(p)); /* the pattern after n bytes too */
	p[at] = p[at + 1] = 0;
	uint32_t len = build(f, p, n, f->seq, f->ipid, f->tcp_flags, CS_FULL, scratch);
	uint16_t c = get16(scratch + csum_off(f));
	if (c == 0xffff && f->udp)
		c = 0; /* the sum was all ones already */
	put16(p + at, c);
	len = build(f, p, n, f->seq, f->ipid, f->tcp_flags, CS_FULL, scratch);
	assert_int_equal(ref_fold(ref_sum(scratch + ETH + l3len(f), len - ETH - l3len(f),
				 ref_pseudo(f, f->src, f->dst, len - ETH - l3len(f)))),
		0xffff);
	return p;
}

static struct flow flow_of(bool v6, bool udp)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.v6 = v6;
	f.udp = udp;
	if (v6) {
		static const uint8_t s[16] = { 0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5 };
		static const uint8_t d[16] = { 0xfd, 0, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0x0a };
		memcpy(f.src, s, 16);
		memcpy(f.dst, d, 16);
	} else {
		static const uint8_t s[4] = { 10, 0, 1, 5 }, d[4] = { 10, 96, 0, 10 };
		memcpy(f.src, s, 4);
		memcpy(f.dst, d, 4);
	}
	f.sport = 43210;
	f.dport = udp ? 53 : 80;
	f.seq = 0xfffff000u; /* wraps within the super-packet */
	f.ipid = 0xfffe; /* wraps too */
	f.tcp_flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
	return f;
}

/* The flow after DNAT (to an endpoint) and SNAT (to the node). */
static struct flow natted(const struct flow *f)
{
	struct flow t = *f;
	if (f->v6) {
		static const uint8_t s[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab,
			0xcd };
		static const uint8_t d[16] = { 0xfd, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0,
			7 };
		memcpy(t.src, s, 16);
		memcpy(t.dst, d, 16);
	} else {
		static const uint8_t s[4] = { 192, 168, 77, 1 }, d[4] = { 10, 0, 2, 7 };
		memcpy(t.src, s, 4);
		memcpy(t.dst, d, 4);
	}
	t.sport = 61001;
	t.dport = f->udp ? 5353 : 8080;
	return t;
}

static struct virtio_net_hdr vnet_of(const struct flow *f, uint16_t mss, uint32_t strip)
{
	struct virtio_net_hdr vh;
	memset(&vh, 0, sizeof(vh));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = (uint16_t)(ETH + l3len(f) - strip);
	vh.csum_offset = f->udp ? 6 : 16;
	if (mss) {
		vh.gso_type = f->udp  ? VIRTIO_NET_HDR_GSO_UDP_L4
			      : f->v6 ? VIRTIO_NET_HDR_GSO_TCPV6
				      : VIRTIO_NET_HDR_GSO_TCPV4;
		vh.gso_size = mss;
		vh.hdr_len = (uint16_t)(hdrlen(f) - strip);
	}
	return vh;
}

/* An mbuf from the big pool holding fr[0..len), with marker bytes right after the frame. */
static struct rte_mbuf *mbuf_of(const uint8_t *fr, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(big_pool);
	assert_non_null(m);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(d);
	memcpy(d, fr, len);
	d[len] = 0xa5;
	d[len + 1] = 0x5a;
	return m;
}

static void assert_frame(const struct rte_mbuf *m, const uint8_t *fr, uint32_t len)
{
	assert_int_equal(m->nb_segs, 1);
	assert_int_equal(rte_pktmbuf_data_len(m), len);
	assert_memory_equal(rte_pktmbuf_mtod(m, const uint8_t *), fr, len);
}

static void assert_marker(const struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	assert_int_equal(d[m->data_len], 0xa5);
	assert_int_equal(d[m->data_len + 1], 0x5a);
}

/* nat-lb's rewrite() of addresses and ports, with its checksum rules from pl_csum.h. */
static void nat_rewrite(uint8_t *fr, const struct flow *f, const struct flow *to, bool partial)
{
	uint8_t *l3 = fr + ETH, *l4 = l3 + l3len(f);
	uint8_t *src = l3 + (f->v6 ? 8 : 12), *dst = src + alen(f);
	uint32_t da = pl_csum_diff(0, src, to->src, alen(f));
	da = pl_csum_diff(da, dst, to->dst, alen(f));
	uint8_t ports[4];
	put16(ports, to->sport);
	put16(ports + 2, to->dport);
	uint32_t dp = pl_csum_diff(0, l4, ports, 4);
	uint16_t c;
	if (!f->v6) {
		memcpy(&c, l3 + 10, 2);
		c = pl_csum_apply(c, da);
		memcpy(l3 + 10, &c, 2);
	}
	uint16_t *field = (uint16_t *)(fr + csum_off(f));
	pl_csum_update_l4(field, da, dp, partial, f->udp);
	memcpy(src, to->src, alen(f));
	memcpy(dst, to->dst, alen(f));
	memcpy(l4, ports, 4);
}

static const struct {
	bool v6, udp;
	uint32_t payload;
	uint16_t mss;
} kinds[] = {
	{ false, false, 59999, 1448 },
	{ true, false, 45001, 1448 },
	{ false, true, 10007, 1000 },
	{ true, true, 30001, 1000 },
};

/* ---- pl_offload_from_vnet ---- */

static void test_from_vnet_fields(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp);
		uint32_t len = build(&f, pattern, kinds[k].payload, f.seq, f.ipid, f.tcp_flags,
			CS_PARTIAL, frame);
		uint64_t l4f = f.udp ? RTE_MBUF_F_TX_UDP_CKSUM : RTE_MBUF_F_TX_TCP_CKSUM;
		uint64_t segf = f.udp ? RTE_MBUF_F_TX_UDP_SEG : RTE_MBUF_F_TX_TCP_SEG;
		uint64_t ipf = f.v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4;
		for (uint32_t strip = 0; strip <= ETH; strip += ETH) {
			for (int gso = 0; gso < 2; gso++) {
				struct rte_mbuf *m = mbuf_of(frame, len);
				struct virtio_net_hdr vh =
					vnet_of(&f, gso ? kinds[k].mss : 0, strip);
				if (gso && !f.udp)
					vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
				assert_int_equal(pl_offload_from_vnet(m, &vh, strip), 0);
				assert_true(m->ol_flags == (ipf | l4f | (gso ? segf : 0)));
				assert_int_equal(m->l2_len, ETH);
				assert_int_equal(m->l3_len, l3len(&f));
				assert_int_equal(m->l4_len, l4hlen(&f));
				assert_int_equal(m->tso_segsz, gso ? kinds[k].mss : 0);
				assert_true(pl_offload_partial(m));
				assert_int_equal(pl_offload_gso(m), gso);
				assert_int_equal(pl_offload_seg_l3_len(m),
					l3len(&f) + l4hlen(&f) + (gso ? kinds[k].mss : 0));
				assert_frame(m, frame, len); /* nothing written */
				rte_pktmbuf_free(m);
			}
		}
		/* No NEEDS_CSUM, no GSO: a complete packet, nothing to record. */
		build(&f, pattern, 1000, f.seq, f.ipid, f.tcp_flags, CS_FULL, frame);
		struct rte_mbuf *m = mbuf_of(frame, hdrlen(&f) + 1000);
		struct virtio_net_hdr vh;
		memset(&vh, 0, sizeof(vh));
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		assert_int_equal(pl_offload_from_vnet(m, &vh, 0), 0);
		assert_true(m->ol_flags == 0);
		assert_int_equal(m->tso_segsz, 0);
		assert_false(pl_offload_partial(m));
		assert_frame(m, frame, hdrlen(&f) + 1000);
		rte_pktmbuf_free(m);
	}
}

/* Runs pl_offload_from_vnet on fr with vh and expects -EINVAL, the frame untouched. */
static void expect_reject(
	const uint8_t *fr, uint32_t len, const struct virtio_net_hdr *vh, uint32_t l2_off)
{
	struct rte_mbuf *m = mbuf_of(fr, len);
	assert_int_equal(pl_offload_from_vnet(m, vh, l2_off), -EINVAL);
	assert_false(pl_offload_partial(m));
	assert_frame(m, fr, len);
	assert_marker(m);
	rte_pktmbuf_free(m);
}

static void test_from_vnet_rejects(void **state)
{
	(void)state;
	struct virtio_net_hdr vh;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp);
		uint16_t mss = kinds[k].mss;
		uint32_t len = build(&f, pattern, kinds[k].payload, f.seq, f.ipid, f.tcp_flags,
			CS_PARTIAL, frame);

		/* csum_start beyond the frame, at its end, and one byte before it (no room for
		 * a 16-bit checksum). */
		vh = vnet_of(&f, 0, 0);
		vh.csum_start = (uint16_t)(len + 100);
		expect_reject(frame, len, &vh, 0);
		vh.csum_start = (uint16_t)len;
		expect_reject(frame, len, &vh, 0);
		vh.csum_start = (uint16_t)(len - 1);
		vh.csum_offset = 0;
		expect_reject(frame, len, &vh, 0);
		vh = vnet_of(&f, 0, ETH);
		vh.csum_start = (uint16_t)(len - ETH - 1);
		vh.csum_offset = 0;
		expect_reject(frame, len, &vh, ETH);
		/* csum_offset beyond the frame. */
		vh = vnet_of(&f, 0, 0);
		vh.csum_start = (uint16_t)(len - 10);
		vh.csum_offset = 9;
		expect_reject(frame, len, &vh, 0);
		/* csum_start inside the Ethernet header. */
		vh = vnet_of(&f, 0, 0);
		vh.csum_start = 4;
		expect_reject(frame, len, &vh, 0);

		/* GSO without NEEDS_CSUM. */
		vh = vnet_of(&f, mss, 0);
		vh.flags = 0;
		expect_reject(frame, len, &vh, 0);
		/* gso_size 0. */
		vh = vnet_of(&f, mss, 0);
		vh.gso_size = 0;
		expect_reject(frame, len, &vh, 0);
		/* Unknown kinds, and UFO (IP fragmentation offload). */
		vh = vnet_of(&f, mss, 0);
		vh.gso_type = 7;
		expect_reject(frame, len, &vh, 0);
		vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
		expect_reject(frame, len, &vh, 0);
		if (f.udp) {
			/* TCP GSO on a UDP packet. */
			vh = vnet_of(&f, mss, 0);
			vh.gso_type = f.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
			expect_reject(frame, len, &vh, 0);
		} else {
			/* The other IP version's TCP GSO; UDP GSO on TCP (with TCP's and UDP's
			 * checksum offsets). */
			vh = vnet_of(&f, mss, 0);
			vh.gso_type = f.v6 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
			expect_reject(frame, len, &vh, 0);
			vh = vnet_of(&f, mss, 0);
			vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
			expect_reject(frame, len, &vh, 0);
			vh.csum_offset = 6;
			expect_reject(frame, len, &vh, 0);
		}
		/* GSO with the checksum somewhere else than the L4 header. */
		vh = vnet_of(&f, mss, 0);
		vh.csum_start = (uint16_t)(vh.csum_start + 8);
		expect_reject(frame, len, &vh, 0);

		if (!f.v6) {
			/* IPv4 fragments: more-fragments set, or an offset. */
			uint32_t flen = build(
				&f, pattern, 1000, f.seq, f.ipid, f.tcp_flags, CS_PARTIAL, frame);
			uint8_t *ip = frame + ETH;
			for (int i = 0; i < 2; i++) {
				put16(ip + 6, i ? 0x00b9 : 0x2000);
				put16(ip + 10, 0);
				put16(ip + 10, (uint16_t)~ref_fold(ref_sum(ip, 20, 0)));
				vh = vnet_of(&f, 0, 0);
				expect_reject(frame, flen, &vh, 0);
			}
		}
	}
}

/* An IPv6 packet with a hop-by-hop options header before its transport header: a partial
 * checksum there is completed at once and no offload is recorded; with GSO it is refused. */
static void test_from_vnet_ext_header(void **state)
{
	(void)state;
	for (int udp = 0; udp < 2; udp++) {
		struct flow f = flow_of(true, udp);
		for (int zero = 0; zero < 2; zero++) {
			uint32_t n = 1001;
			const uint8_t *p = zero ? zero_sum_payload(&f, n, 10) : pattern;
			uint32_t len =
				build(&f, p, n, f.seq, f.ipid, f.tcp_flags, CS_PARTIAL, want);
			/* Insert 8 bytes of hop-by-hop (PadN) after the IPv6 header. The L4
			 * pseudo-header does not change: the partial sum stays right. */
			uint32_t l4 = ETH + 40;
			memcpy(frame, want, l4);
			frame[l4] = udp ? 17 : 6;
			frame[l4 + 1] = 0;
			static const uint8_t padn[6] = { 1, 4, 0, 0, 0, 0 };
			memcpy(frame + l4 + 2, padn, 6);
			memcpy(frame + l4 + 8, want + l4, len - l4);
			frame[ETH + 6] = 0; /* next header: hop-by-hop */
			put16(frame + ETH + 4, (uint16_t)(len - l4 + 8));
			uint32_t elen = len + 8;

			struct rte_mbuf *m = mbuf_of(frame, elen);
			struct virtio_net_hdr vh = vnet_of(&f, 0, 0);
			vh.csum_start = (uint16_t)(l4 + 8);
			assert_int_equal(pl_offload_from_vnet(m, &vh, 0), 0);
			assert_false(pl_offload_partial(m));
			assert_true((m->ol_flags & PL_OFFLOAD_FLAGS) == 0);
			/* The checksum is the full packet's, computed by hand. */
			build(&f, p, n, f.seq, f.ipid, f.tcp_flags, CS_FULL, want);
			uint16_t c = get16(want + csum_off(&f));
			if (zero)
				assert_int_equal(c, udp ? 0xffff : 0);
			memcpy(frame + l4 + 8, want + l4, len - l4);
			const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
			uint16_t got = get16(d + csum_off(&f) + 8);
			/* TCP: 0 and 0xffff are the same one's-complement zero; a sender may
			 * write either. UDP: only 0xffff, 0 means "no checksum" and is invalid
			 * over IPv6. */
			if (zero && !udp)
				assert_true(got == 0 || got == 0xffff);
			else
				assert_int_equal(got, c);
			memcpy(frame + csum_off(&f) + 8, d + csum_off(&f) + 8, 2);
			assert_frame(m, frame, elen);
			assert_marker(m);
			rte_pktmbuf_free(m);

			/* With GSO it cannot be segmented here: refused. */
			memcpy(frame + l4 + 8, want + l4, len - l4);
			vh = vnet_of(&f, 1000, 0);
			vh.csum_start = (uint16_t)(l4 + 8);
			expect_reject(frame, elen, &vh, 0);
		}
	}
}

/* ---- pl_offload_to_vnet ---- */

static void test_to_vnet_roundtrip(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp);
		uint32_t len = build(&f, pattern, kinds[k].payload, f.seq, f.ipid, f.tcp_flags,
			CS_PARTIAL, frame);
		for (uint32_t strip = 0; strip <= ETH; strip += ETH) {
			for (int gso = 0; gso < 2; gso++) {
				struct rte_mbuf *m = mbuf_of(frame, len);
				struct virtio_net_hdr in =
					vnet_of(&f, gso ? kinds[k].mss : 0, strip);
				struct virtio_net_hdr out;
				memset(&out, 0xee, sizeof(out));
				assert_int_equal(pl_offload_from_vnet(m, &in, strip), 0);
				pl_offload_to_vnet(m, &out, strip);
				assert_int_equal(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
				assert_int_equal(out.gso_type, in.gso_type);
				assert_int_equal(out.gso_size, in.gso_size);
				assert_int_equal(out.csum_start, in.csum_start);
				assert_int_equal(out.csum_offset, in.csum_offset);
				assert_int_equal(out.hdr_len, gso ? hdrlen(&f) - strip : 0);
				rte_pktmbuf_free(m);
			}
		}
		/* A packet with nothing left to do: an all-zero header. */
		struct rte_mbuf *m = mbuf_of(frame, len);
		struct virtio_net_hdr out;
		memset(&out, 0xee, sizeof(out));
		pl_offload_to_vnet(m, &out, 0);
		struct virtio_net_hdr zero;
		memset(&zero, 0, sizeof(zero));
		assert_memory_equal(&out, &zero, sizeof(out));
		rte_pktmbuf_free(m);
	}
}

/* ---- pl_offload_csum_complete ---- */

static void complete_and_check(const struct flow *f, const uint8_t *p, uint32_t n)
{
	uint32_t len = build(f, p, n, f->seq, f->ipid, f->tcp_flags, CS_PARTIAL, frame);
	struct rte_mbuf *m = mbuf_of(frame, len);
	struct virtio_net_hdr vh = vnet_of(f, 0, 0);
	assert_int_equal(pl_offload_from_vnet(m, &vh, 0), 0);
	assert_int_equal(pl_offload_csum_complete(m), 0);
	assert_false(pl_offload_partial(m));
	assert_true((m->ol_flags & PL_OFFLOAD_FLAGS) == 0);
	build(f, p, n, f->seq, f->ipid, f->tcp_flags, CS_FULL, want);
	assert_frame(m, want, len);
	assert_marker(m);
	assert_valid(f, rte_pktmbuf_mtod(m, const uint8_t *), len);
	/* Done is done: a second call changes nothing. */
	assert_int_equal(pl_offload_csum_complete(m), 0);
	assert_frame(m, want, len);
	rte_pktmbuf_free(m);
}

static void test_csum_complete(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp);
		complete_and_check(&f, pattern, 1000);
		complete_and_check(&f, pattern, 999); /* odd length */
		complete_and_check(&f, pattern, 0);
		complete_and_check(&f, pattern, 60000); /* one big non-GSO frame */
		/* A packet whose checksum is zero: UDP sends 0xffff (0 is "none"), TCP 0. */
		const uint8_t *z = zero_sum_payload(&f, 1200, 100);
		build(&f, z, 1200, f.seq, f.ipid, f.tcp_flags, CS_FULL, want);
		assert_int_equal(get16(want + csum_off(&f)), f.udp ? 0xffff : 0);
		complete_and_check(&f, z, 1200);

		/* A super-packet must be segmented, not completed. */
		uint32_t len = build(&f, pattern, kinds[k].payload, f.seq, f.ipid, f.tcp_flags,
			CS_PARTIAL, frame);
		struct rte_mbuf *m = mbuf_of(frame, len);
		struct virtio_net_hdr vh = vnet_of(&f, kinds[k].mss, 0);
		assert_int_equal(pl_offload_from_vnet(m, &vh, 0), 0);
		assert_int_equal(pl_offload_csum_complete(m), -EINVAL);
		assert_true(pl_offload_gso(m));
		assert_frame(m, frame, len);
		rte_pktmbuf_free(m);

		/* Offsets outside the packet (a frame cut after its checksum request was
		 * recorded): one byte of L4 header left. */
		len = build(&f, pattern, 100, f.seq, f.ipid, f.tcp_flags, CS_PARTIAL, frame);
		m = mbuf_of(frame, len);
		vh = vnet_of(&f, 0, 0);
		assert_int_equal(pl_offload_from_vnet(m, &vh, 0), 0);
		uint32_t cut = ETH + l3len(&f) + 1;
		rte_pktmbuf_trim(m, (uint16_t)(len - cut));
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		d[cut] = 0xa5;
		d[cut + 1] = 0x5a;
		assert_int_equal(pl_offload_csum_complete(m), -EINVAL);
		assert_frame(m, frame, cut);
		assert_marker(m);
		rte_pktmbuf_free(m);
	}
}

/* ---- pl_offload_segment ---- */

/* Segments m (a super-packet of flow f with payload p[0..n), mss) and checks every segment
 * against the one built by hand for flow `to` (f itself, or f after NAT). */
static void segment_and_check(
	struct rte_mbuf *m, const struct flow *to, const uint8_t *p, uint32_t n, uint16_t mss)
{
	struct rte_mbuf *out[MAX_SEGS];
	unsigned int avail = rte_mempool_avail_count(small_pool);
	uint32_t len = m->data_len;
	memcpy(scratch, rte_pktmbuf_mtod(m, const uint8_t *), len);
	memset(pl_meta(m), 0x5c, sizeof(struct pl_pkt_meta));
	int rc = pl_offload_segment(m, small_pool, out, MAX_SEGS);
	unsigned int want_n = (n + mss - 1) / mss;
	assert_int_equal(rc, want_n);
	assert_frame(m, scratch, len); /* the super-packet is left as it was */
	for (unsigned int i = 0; i < want_n; i++) {
		uint32_t seg = i + 1 < want_n ? mss : n - i * mss;
		uint8_t flags = to->tcp_flags;
		if (i + 1 < want_n)
			flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (i > 0)
			flags &= (uint8_t)~TCP_CWR;
		uint32_t slen = build(to, p + (size_t)i * mss, seg, to->seq + i * mss,
			(uint16_t)(to->ipid + i), flags, CS_FULL, want);
		assert_frame(out[i], want, slen);
		const uint8_t *d = rte_pktmbuf_mtod(out[i], const uint8_t *);
		assert_valid(to, d, slen);
		if (!to->udp) {
			uint8_t tf = d[ETH + l3len(to) + 13];
			assert_int_equal(!!(tf & TCP_FIN), i + 1 == want_n);
			assert_int_equal(!!(tf & TCP_PSH), i + 1 == want_n);
			assert_int_equal(!!(tf & TCP_CWR), i == 0);
		}
		assert_false(pl_offload_partial(out[i]));
		assert_memory_equal(pl_meta(out[i]), pl_meta(m), sizeof(struct pl_pkt_meta));
	}
	/* The last is short unless the payload is a multiple of mss. */
	assert_int_equal(out[want_n - 1]->data_len, hdrlen(to) + (n % mss ? n % mss : mss));
	if (n % mss && want_n > 1)
		assert_true(out[want_n - 1]->data_len < out[0]->data_len);
	rte_pktmbuf_free_bulk(out, want_n);
	assert_int_equal(rte_mempool_avail_count(small_pool), avail);
}

static struct rte_mbuf *super_packet(
	const struct flow *f, const uint8_t *p, uint32_t n, uint16_t mss)
{
	uint32_t len = build(f, p, n, f->seq, f->ipid, f->tcp_flags, CS_PARTIAL, frame);
	struct rte_mbuf *m = mbuf_of(frame, len);
	struct virtio_net_hdr vh = vnet_of(f, mss, ETH);
	assert_int_equal(pl_offload_from_vnet(m, &vh, ETH), 0);
	assert_true(pl_offload_gso(m));
	return m;
}

static void test_segment(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp);
		struct rte_mbuf *m = super_packet(&f, pattern, kinds[k].payload, kinds[k].mss);
		segment_and_check(m, &f, pattern, kinds[k].payload, kinds[k].mss);
		rte_pktmbuf_free(m);
		/* The other segment size too, a packet of one byte more than a segment, and one
		 * of exactly three. */
		uint16_t mss2 = kinds[k].mss == 1448 ? 1000 : 1448;
		m = super_packet(&f, pattern, kinds[k].payload, mss2);
		segment_and_check(m, &f, pattern, kinds[k].payload, mss2);
		rte_pktmbuf_free(m);
		m = super_packet(&f, pattern, mss2 + 1, mss2);
		segment_and_check(m, &f, pattern, mss2 + 1, mss2);
		rte_pktmbuf_free(m);
		m = super_packet(&f, pattern, 3u * mss2, mss2); /* the last one full */
		segment_and_check(m, &f, pattern, 3u * mss2, mss2);
		rte_pktmbuf_free(m);
		/* A first segment whose checksum is zero: UDP writes 0xffff, TCP 0. */
		uint16_t mss = kinds[k].mss;
		struct flow first = f; /* segment 0's header: FIN and PSH go to the last */
		first.tcp_flags &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		const uint8_t *z = zero_sum_payload(&first, mss, 64);
		build(&first, z, mss, f.seq, f.ipid, first.tcp_flags, CS_FULL, want);
		assert_int_equal(get16(want + csum_off(&f)), f.udp ? 0xffff : 0);
		m = super_packet(&f, z, kinds[k].payload, mss);
		segment_and_check(m, &f, z, kinds[k].payload, mss);
		rte_pktmbuf_free(m);
	}
}

static void test_segment_errors(void **state)
{
	(void)state;
	struct rte_mbuf *out[MAX_SEGS];
	unsigned int avail = rte_mempool_avail_count(small_pool);
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp);
		uint32_t n = 10001;
		/* The largest segment that fits a 2 KB buffer, and one byte more. */
		uint16_t fit = (uint16_t)(SMALL_ROOM - hdrlen(&f));
		struct rte_mbuf *m = super_packet(&f, pattern, n, fit);
		segment_and_check(m, &f, pattern, n, fit);
		rte_pktmbuf_free(m);
		m = super_packet(&f, pattern, n, (uint16_t)(fit + 1));
		assert_int_equal(pl_offload_segment(m, small_pool, out, MAX_SEGS), -EMSGSIZE);
		rte_pktmbuf_free(m);

		/* max too small, and just enough. */
		m = super_packet(&f, pattern, n, 1000);
		assert_int_equal(pl_offload_segment(m, small_pool, out, 10), -ENOSPC);
		assert_int_equal(rte_mempool_avail_count(small_pool), avail);
		assert_int_equal(pl_offload_segment(m, small_pool, out, 11), 11);
		rte_pktmbuf_free_bulk(out, 11);
		rte_pktmbuf_free(m);

		/* Not a super-packet: partial checksum only, and nothing at all. */
		uint32_t len =
			build(&f, pattern, 1000, f.seq, f.ipid, f.tcp_flags, CS_PARTIAL, frame);
		m = mbuf_of(frame, len);
		struct virtio_net_hdr vh = vnet_of(&f, 0, 0);
		assert_int_equal(pl_offload_from_vnet(m, &vh, 0), 0);
		assert_int_equal(pl_offload_segment(m, small_pool, out, MAX_SEGS), -EINVAL);
		pl_offload_clear(m);
		assert_int_equal(pl_offload_segment(m, small_pool, out, MAX_SEGS), -EINVAL);
		assert_frame(m, frame, len);
		rte_pktmbuf_free(m);
	}
	assert_int_equal(rte_mempool_avail_count(small_pool), avail);
}

/* ---- with nat-lb's rewrites ---- */

/* A partial super-packet rewritten (DNAT + SNAT, addresses and ports) then segmented. */
static void test_nat_segment(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp), t = natted(&f);
		struct rte_mbuf *m = super_packet(&f, pattern, kinds[k].payload, kinds[k].mss);
		nat_rewrite(rte_pktmbuf_mtod(m, uint8_t *), &f, &t, pl_offload_partial(m));
		/* The rewritten partial sum is the one Linux would have left for the new flow. */
		build(&t, pattern, kinds[k].payload, t.seq, t.ipid, t.tcp_flags, CS_PARTIAL, want);
		assert_frame(m, want, m->data_len);
		segment_and_check(m, &t, pattern, kinds[k].payload, kinds[k].mss);
		rte_pktmbuf_free(m);
		/* And back (the reply direction's reverse NAT on a super-packet). */
		m = super_packet(&t, pattern, kinds[k].payload, kinds[k].mss);
		nat_rewrite(rte_pktmbuf_mtod(m, uint8_t *), &t, &f, true);
		segment_and_check(m, &f, pattern, kinds[k].payload, kinds[k].mss);
		rte_pktmbuf_free(m);
	}
}

/* A partial (non-GSO) packet rewritten then completed: the new flow's exact checksum. */
static void test_nat_complete(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp), t = natted(&f);
		for (int zero = 0; zero < 2; zero++) {
			uint32_t n = 1337;
			/* zero: the payload makes the rewritten packet's checksum 0. */
			const uint8_t *p = zero ? zero_sum_payload(&t, n, 200) : pattern;
			uint32_t len =
				build(&f, p, n, f.seq, f.ipid, f.tcp_flags, CS_PARTIAL, frame);
			struct rte_mbuf *m = mbuf_of(frame, len);
			struct virtio_net_hdr vh = vnet_of(&f, 0, ETH);
			assert_int_equal(pl_offload_from_vnet(m, &vh, ETH), 0);
			nat_rewrite(rte_pktmbuf_mtod(m, uint8_t *), &f, &t, pl_offload_partial(m));
			assert_int_equal(pl_offload_csum_complete(m), 0);
			build(&t, p, n, t.seq, t.ipid, t.tcp_flags, CS_FULL, want);
			if (zero)
				assert_int_equal(get16(want + csum_off(&t)), t.udp ? 0xffff : 0);
			assert_frame(m, want, len);
			assert_valid(&t, rte_pktmbuf_mtod(m, const uint8_t *), len);
			rte_pktmbuf_free(m);
		}
	}
}

/* A complete (non-partial) packet rewritten with the full rule stays valid. */
static void test_nat_full(void **state)
{
	(void)state;
	for (unsigned int k = 0; k < RTE_DIM(kinds); k++) {
		struct flow f = flow_of(kinds[k].v6, kinds[k].udp), t = natted(&f);
		for (int zero = 0; zero < 2; zero++) {
			uint32_t n = 1337;
			const uint8_t *p = zero ? zero_sum_payload(&t, n, 200) : pattern;
			uint32_t len = build(&f, p, n, f.seq, f.ipid, f.tcp_flags, CS_FULL, frame);
			assert_valid(&f, frame, len);
			nat_rewrite(frame, &f, &t, false);
			assert_valid(&t, frame, len);
			build(&t, p, n, t.seq, t.ipid, t.tcp_flags, CS_FULL, want);
			uint16_t got = get16(frame + csum_off(&t)),
				 exp = get16(want + csum_off(&t));
			if (t.udp || !zero) {
				/* UDP never 0 (0xffff instead); otherwise the one value. */
				assert_int_equal(got, exp);
			} else {
				assert_true(got == 0 || got == 0xffff); /* TCP: either zero */
			}
			memcpy(frame + csum_off(&t), want + csum_off(&t), 2);
			assert_memory_equal(frame, want, len);
		}
	}
}

/* ---- EAL ---- */

static int eal_setup(void **state)
{
	(void)state;
	char *argv[] = { "test_offload", "--in-memory", "--no-pci", "--no-telemetry",
		"--lcores=0@(0-1)", "-m", "128", "--log-level=lib.eal:warning", NULL };
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr,
			"test_offload: DPDK EAL init failed: %s. It needs root and 2 MB hugepages "
			"mounted at /dev/hugepages.\n",
			rte_strerror(rte_errno));
		return -1;
	}
	/* The per-packet metadata segmentation copies. */
	pl_dp_meta_register();
	if (pl_dp_meta_offset < 0)
		return -1;
	big_pool = rte_pktmbuf_pool_create(
		"test_off_big", 15, 0, 0, PL_DP_BIG_DATA_SIZE, SOCKET_ID_ANY);
	small_pool = rte_pktmbuf_pool_create(
		"test_off_small", 511, 0, 0, PL_DP_MBUF_DATA_SIZE, SOCKET_ID_ANY);
	if (!big_pool || !small_pool) {
		fprintf(stderr, "test_offload: mbuf pools: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	if (rte_pktmbuf_data_room_size(small_pool) - RTE_PKTMBUF_HEADROOM != SMALL_ROOM)
		return -1;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
	return 0;
}

static int eal_teardown(void **state)
{
	(void)state;
	rte_mempool_free(small_pool);
	rte_mempool_free(big_pool);
	rte_eal_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_vnet_fields),
		cmocka_unit_test(test_from_vnet_rejects),
		cmocka_unit_test(test_from_vnet_ext_header),
		cmocka_unit_test(test_to_vnet_roundtrip),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_segment),
		cmocka_unit_test(test_segment_errors),
		cmocka_unit_test(test_nat_segment),
		cmocka_unit_test(test_nat_complete),
		cmocka_unit_test(test_nat_full),
	};
	/* DPDK's EAL takes hugepages: as root only. Not root: skipped (meson's 77); root and the
	 * EAL still fails (./podlane setup reserves hugepages): a failure. */
	if (geteuid() != 0) {
		fprintf(stderr,
			"test_offload: not root, DPDK's EAL cannot take hugepages: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, eal_setup, eal_teardown);
}
