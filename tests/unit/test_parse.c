/* SPDX-License-Identifier: Apache-2.0 */
/* io-worker's ingress parse (ipc/pl_parse.c) against frames built by hand.
 *
 * Every frame here is written byte by byte by this file (Ethernet, IPv4 with options or IPv6
 * with extension headers, a transport header, payload, Ethernet padding); the IPv4 header
 * checksum is computed with a plain reference one's-complement sum, never with the code under
 * test or DPDK's helpers, and every expected offset is spelled out as a number.
 *
 * For each frame the test asserts pl_parse()'s exact return value and, for an admitted frame,
 * the exact pflags, l4_off, l4_proto and the data_len and pkt_len it leaves (padding trimmed);
 * that it wrote nothing of the metadata but those three fields; and that parsing the admitted
 * frame again (as a stage does after rewriting a packet) gives the same record.
 *
 * Covered: IPv4 per transport, options (IHL 6..15), padding, every refusal (short, version,
 * IHL, total length both ways, checksum, also over the options), fragments (first, tiny first,
 * later, DF alone); the transport checks (TCP data offset, UDP length, ICMP/ICMPv6, SCTP, other
 * protocols not looked into); IPv6 plain, padding, refusals, every extension header type and
 * its length rule, hop-by-hop not first, headers running past the payload, the
 * PL_PARSE_MAX_EXT limit (on both paths), fragment headers (atomic, first, tiny first, later),
 * no-next-header and ESP, jumbogram-style payload length 0; frames that are not IP, short
 * frames and chained mbufs; a 64 KB frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "pl_dp.h"
#include "pl_parse.h"

#define ETH 14u
#define V6H 40u /* the IPv6 header */

/* Flags, short. */
#define F4 PL_PARSE_V4
#define F6 PL_PARSE_V6
#define OPT PL_PARSE_OPTS
#define FRG PL_PARSE_FRAG
#define LATER PL_PARSE_FRAG_LATER
#define RT PL_PARSE_ROUTING

/* Protocol numbers, written out (not from the system headers the code under test uses). */
#define P_HOP 0
#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ROUTING 43
#define P_FRAG 44
#define P_GRE 47
#define P_ESP 50
#define P_AH 51
#define P_ICMP6 58
#define P_NONE 59
#define P_DST 60
#define P_SCTP 132
#define P_MOB 135
#define P_HIP 139
#define P_SHIM6 140

#define MF 0x2000 /* IPv4 more fragments */
#define DF 0x4000

static struct rte_mempool *pool;
static uint8_t fr[70000]; /* the frame being built */
static uint8_t l4b[70000]; /* a transport header and payload */
static uint8_t pb[70000]; /* an IPv6 payload (extension headers, transport) */
static size_t pn;

/* ---- reference checksum and byte writers (independent of the code under test) ---- */

static uint32_t ref_sum(const uint8_t *b, size_t n)
{
	uint32_t acc = 0;
	size_t i;
	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)b[i] << 8 | b[i + 1];
	if (i < n)
		acc += (uint32_t)b[i] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 37 + 11);
}

/* ---- frames ---- */

static size_t eth(uint8_t *f, uint16_t type)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };
	memcpy(f, macs, sizeof(macs));
	put16(f + 12, type);
	return ETH;
}

/* The header checksum over hlen bytes of the IPv4 header at ip. */
static void v4_csum(uint8_t *ip, size_t hlen)
{
	put16(ip + 10, 0);
	put16(ip + 10, ~ref_sum(ip, hlen) & 0xffff);
}

/* Ethernet + IPv4 of `ihl` words (options: NOPs, then an EOL) with the fragment field `frag`,
 * protocol `proto`, the n bytes at l4 behind it, then `pad` bytes of Ethernet padding. The
 * frame length. */
static size_t v4(
	unsigned int ihl, uint16_t frag, uint8_t proto, const uint8_t *l4, size_t n, size_t pad)
{
	size_t hl = ihl * 4u, total = hl + n;
	eth(fr, 0x0800);
	uint8_t *ip = fr + ETH;
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[1] = 0;
	put16(ip + 2, (uint32_t)total);
	put16(ip + 4, 0x1234);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, 0x0a000001);
	put32(ip + 16, 0x0a000102);
	for (size_t i = 20; i < hl; i++)
		ip[i] = i + 1 < hl ? 0x01 : 0x00;
	memcpy(ip + hl, l4, n);
	memset(ip + total, 0xee, pad);
	v4_csum(ip, hl);
	return ETH + total + pad;
}

/* n bytes of TCP at b: the header with data offset `doff` (options NOPs), then payload. What
 * does not fit in n is cut. */
static const uint8_t *tcp(unsigned int doff, size_t n)
{
	uint8_t h[60];
	memset(h, 0x01, sizeof(h));
	put16(h, 40000);
	put16(h + 2, 80);
	put32(h + 4, 1000);
	put32(h + 8, 0);
	h[12] = (uint8_t)(doff << 4);
	h[13] = 0x02; /* SYN */
	put16(h + 14, 65535);
	put32(h + 16, 0);
	size_t hl = doff * 4u < 20 ? 20 : doff * 4u;
	for (size_t i = 0; i < n; i++)
		l4b[i] = i < hl ? h[i] : pat(i);
	return l4b;
}

/* n bytes of UDP: the header with length field `ulen`, then payload. */
static const uint8_t *udp(uint16_t ulen, size_t n)
{
	uint8_t h[8];
	put16(h, 5353);
	put16(h + 2, 53);
	put16(h + 4, ulen);
	put16(h + 6, 0);
	for (size_t i = 0; i < n; i++)
		l4b[i] = i < 8 ? h[i] : pat(i);
	return l4b;
}

/* n bytes of anything else (ICMP echo-like, SCTP common header-like, GRE). */
static const uint8_t *raw(size_t n)
{
	for (size_t i = 0; i < n; i++)
		l4b[i] = pat(i + 3);
	return l4b;
}

/* Ethernet + IPv6 with next header nh, the pn bytes of pb as payload, `pad` bytes of padding. */
static size_t v6(uint8_t nh, size_t pad)
{
	eth(fr, 0x86dd);
	uint8_t *ip = fr + ETH;
	put32(ip, 0x60000000);
	put16(ip + 4, (uint32_t)pn);
	ip[6] = nh;
	ip[7] = 64;
	memset(ip + 8, 0, 32);
	ip[8] = 0xfd;
	ip[23] = 1;
	ip[24] = 0xfd;
	ip[39] = 2;
	memcpy(ip + V6H, pb, pn);
	memset(ip + V6H + pn, 0xee, pad);
	return ETH + V6H + pn + pad;
}

/* IPv6 payload builders: each appends to pb. */
static void pl_reset(void)
{
	pn = 0;
}

/* Hop-by-hop or destination options (and HIP, shim6, mobility: the same (len+1)*8 layout):
 * next header, length field, Pad1 options filling the rest. */
static void ext_opts(uint8_t nh, uint8_t hlen)
{
	size_t n = (hlen + 1u) * 8u;
	uint8_t *p = pb + pn;
	memset(p, 0, n);
	p[0] = nh;
	p[1] = hlen;
	pn += n;
}

static void ext_routing(uint8_t nh, uint8_t hlen, uint8_t segs_left)
{
	size_t n = (hlen + 1u) * 8u;
	uint8_t *p = pb + pn;
	for (size_t i = 0; i < n; i++)
		p[i] = pat(i);
	p[0] = nh;
	p[1] = hlen;
	p[2] = 4; /* segment routing */
	p[3] = segs_left;
	pn += n;
}

static void ext_frag(uint8_t nh, uint16_t offset, bool more)
{
	uint8_t *p = pb + pn;
	p[0] = nh;
	p[1] = 0;
	put16(p + 2, (uint32_t)(offset << 3 | (more ? 1 : 0)));
	put32(p + 4, 0xabcdef01);
	pn += 8;
}

/* AH: payload length field plen, (plen + 2) * 4 bytes. */
static void ext_ah(uint8_t nh, uint8_t plen)
{
	size_t n = (plen + 2u) * 4u;
	uint8_t *p = pb + pn;
	for (size_t i = 0; i < n; i++)
		p[i] = pat(i + 5);
	p[0] = nh;
	p[1] = plen;
	put16(p + 2, 0);
	put32(p + 4, 0x100); /* SPI; the sequence number behind it when plen >= 1 */
	if (n >= 12)
		put32(p + 8, 1);
	pn += n;
}

static void app(const uint8_t *b, size_t n)
{
	memcpy(pb + pn, b, n);
	pn += n;
}

/* ---- running the parse ---- */

struct res {
	enum pl_parse_result rc;
	uint8_t pflags, l4_proto;
	uint16_t l4_off;
	uint32_t data_len, pkt_len;
};

static struct res parse_mbuf(struct rte_mbuf *m)
{
	struct pl_pkt_meta *meta = pl_meta(m), before;
	memset(meta, 0xa5, sizeof(*meta));
	struct res r;
	r.rc = pl_parse(m);
	r.pflags = meta->pflags;
	r.l4_proto = meta->l4_proto;
	r.l4_off = meta->l4_off;
	r.data_len = rte_pktmbuf_data_len(m);
	r.pkt_len = rte_pktmbuf_pkt_len(m);
	/* The rest of the record is not pl_parse's. */
	memset(&before, 0xa5, sizeof(before));
	before.pflags = meta->pflags;
	before.l4_proto = meta->l4_proto;
	before.l4_off = meta->l4_off;
	memcpy(before.ports, meta->ports, sizeof(before.ports)); /* the flow's key ports */
	assert_memory_equal(&before, meta, sizeof(before));
	return r;
}

/* The first len bytes of fr as a frame. The buffer behind the frame holds what fr has there:
 * a frame cut short (len below what was built) looks whole to a parse that reads past its end,
 * and gets a wrong result rather than one that happens to be right. */
static struct res parse_frame(size_t len, bool twice)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(d, fr, RTE_MIN((size_t)rte_pktmbuf_tailroom(m), sizeof(fr)));
	assert_non_null(rte_pktmbuf_append(m, (uint16_t)len));
	struct res r = parse_mbuf(m);
	if (twice && r.rc == PL_PARSE_OK) {
		struct res again = parse_mbuf(m);
		assert_int_equal(again.rc, PL_PARSE_OK);
		assert_int_equal(again.pflags, r.pflags);
		assert_int_equal(again.l4_proto, r.l4_proto);
		assert_int_equal(again.l4_off, r.l4_off);
		assert_int_equal(again.data_len, r.data_len);
	}
	/* pl_parse never writes the packet's bytes. */
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), fr, r.data_len);
	rte_pktmbuf_free(m);
	return r;
}

static void expect_ok(
	int line, size_t len, uint8_t pflags, uint16_t l4_off, uint8_t l4_proto, uint32_t data_len)
{
	struct res r = parse_frame(len, true);
	if (r.rc != PL_PARSE_OK || r.pflags != pflags || r.l4_off != l4_off ||
		r.l4_proto != l4_proto || r.data_len != data_len || r.pkt_len != data_len) {
		print_error("line %d: frame of %zu: result %d pflags %#x l4_off %u l4_proto %u "
			    "data_len %u pkt_len %u; expected OK pflags %#x l4_off %u l4_proto %u "
			    "data_len %u\n",
			line, len, r.rc, r.pflags, r.l4_off, r.l4_proto, r.data_len, r.pkt_len,
			pflags, l4_off, l4_proto, data_len);
		fail();
	}
}

static void expect_err(int line, size_t len, enum pl_parse_result want)
{
	struct res r = parse_frame(len, false);
	if (r.rc != want) {
		print_error(
			"line %d: frame of %zu: result %d, expected %d\n", line, len, r.rc, want);
		fail();
	}
}

/* The frame in fr, len bytes: admitted with this record and data_len. */
#define OK(len, pflags, l4_off, l4_proto, data_len) \
	expect_ok(__LINE__, len, pflags, l4_off, l4_proto, data_len)
/* ... refused for this reason. */
#define ERR(len, why) expect_err(__LINE__, len, PL_PARSE_ERR_##why)

/* ---- IPv4 ---- */

static void test_v4_plain(void **state)
{
	(void)state;
	size_t n;
	n = v4(5, 0, P_TCP, tcp(5, 20), 20, 0);
	assert_int_equal(n, 54);
	OK(n, F4, 34, P_TCP, 54);
	n = v4(5, 0, P_TCP, tcp(8, 32 + 100), 132, 0); /* with options and payload */
	OK(n, F4, 34, P_TCP, 166);
	n = v4(5, 0, P_UDP, udp(8 + 30, 38), 38, 0);
	OK(n, F4, 34, P_UDP, 72);
	n = v4(5, 0, P_ICMP, raw(8), 8, 0);
	OK(n, F4, 34, P_ICMP, 42);
	n = v4(5, 0, P_ICMP, raw(64), 64, 0);
	OK(n, F4, 34, P_ICMP, 98);
	n = v4(5, 0, P_SCTP, raw(12), 12, 0);
	OK(n, F4, 34, P_SCTP, 46);
	/* Protocols not looked into: GRE with no bytes or one. */
	n = v4(5, 0, P_GRE, raw(0), 0, 0);
	OK(n, F4, 34, P_GRE, 34);
	n = v4(5, 0, P_GRE, raw(1), 1, 0);
	OK(n, F4, 34, P_GRE, 35);
	n = v4(5, 0, P_ESP, raw(3), 3, 0);
	OK(n, F4, 34, P_ESP, 37);
	/* DF alone is not a fragment. */
	n = v4(5, DF, P_UDP, udp(8, 8), 8, 0);
	OK(n, F4, 34, P_UDP, 42);
	/* The IPv4 reserved flag neither. */
	n = v4(5, 0x8000, P_UDP, udp(8, 8), 8, 0);
	OK(n, F4, 34, P_UDP, 42);
}

static void test_v4_options(void **state)
{
	(void)state;
	for (unsigned int ihl = 6; ihl <= 15; ihl++) {
		size_t n = v4(ihl, 0, P_UDP, udp(12, 12), 12, 0);
		uint16_t l4 = (uint16_t)(14 + ihl * 4);
		assert_int_equal(n, l4 + 12);
		OK(n, F4 | OPT, l4, P_UDP, (uint32_t)n);
		n = v4(ihl, 0, P_TCP, tcp(5, 20), 20, 0);
		OK(n, F4 | OPT, l4, P_TCP, (uint32_t)n);
		/* The transport check starts behind the options: 7 bytes of ICMP are not enough
		 * even though the options would make up the difference. */
		n = v4(ihl, 0, P_ICMP, raw(7), 7, 0);
		ERR(n, BAD_L4);
		/* The checksum covers the options. */
		n = v4(ihl, 0, P_UDP, udp(12, 12), 12, 0);
		fr[ETH + 20] ^= 0x40;
		ERR(n, BAD_IPV4_CSUM);
		/* The last option byte too. */
		n = v4(ihl, 0, P_UDP, udp(12, 12), 12, 0);
		fr[ETH + ihl * 4 - 1] ^= 0x01;
		ERR(n, BAD_IPV4_CSUM);
	}
}

static void test_v4_padding(void **state)
{
	(void)state;
	/* The minimum Ethernet frame (60 bytes) around 28 bytes of IP. */
	size_t n = v4(5, 0, P_UDP, udp(8, 8), 8, 18);
	assert_int_equal(n, 60);
	OK(n, F4, 34, P_UDP, 42);
	n = v4(5, 0, P_TCP, tcp(5, 20), 20, 1);
	OK(n, F4, 34, P_TCP, 54);
	n = v4(7, 0, P_TCP, tcp(6, 24 + 5), 29, 300);
	OK(n, F4 | OPT, 42, P_TCP, 14 + 28 + 29);
	/* The transport check is against the IP packet, not the frame: UDP whose length field
	 * reaches into the padding is refused. */
	n = v4(5, 0, P_UDP, udp(20, 8), 8, 12);
	ERR(n, BAD_L4);
	/* ... and a TCP data offset reaching into it. */
	n = v4(5, 0, P_TCP, tcp(6, 20), 20, 4);
	ERR(n, BAD_L4);
	/* A later fragment's padding goes too. */
	n = v4(5, 100, P_TCP, raw(3), 3, 20);
	OK(n, F4 | FRG | LATER, 34, P_TCP, 37);
}

static void test_v4_refused(void **state)
{
	(void)state;
	size_t n;
	/* Fewer than 20 bytes of L3. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	ERR(ETH + 19, BAD_IPV4);
	ERR(ETH + 1, BAD_IPV4);
	ERR(ETH, BAD_IPV4);
	/* Version. */
	for (unsigned int ver = 0; ver < 16; ver++) {
		if (ver == 4)
			continue;
		n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
		fr[ETH] = (uint8_t)(ver << 4 | 5);
		v4_csum(fr + ETH, 20);
		ERR(n, BAD_IPV4);
	}
	/* IHL < 5. */
	for (unsigned int ihl = 0; ihl < 5; ihl++) {
		n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
		fr[ETH] = (uint8_t)(0x40 | ihl);
		v4_csum(fr + ETH, 20);
		ERR(n, BAD_IPV4);
	}
	/* Total length below the header length: 20 bytes of header, total 19. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	put16(fr + ETH + 2, 19);
	v4_csum(fr + ETH, 20);
	ERR(n, BAD_IPV4);
	/* ... 24 bytes of header (IHL 6), total 23 and 20. */
	n = v4(6, 0, P_UDP, udp(8, 8), 8, 0);
	put16(fr + ETH + 2, 23);
	v4_csum(fr + ETH, 24);
	ERR(n, BAD_IPV4);
	put16(fr + ETH + 2, 20);
	v4_csum(fr + ETH, 24);
	ERR(n, BAD_IPV4);
	/* ... and total 0. */
	put16(fr + ETH + 2, 0);
	v4_csum(fr + ETH, 24);
	ERR(n, BAD_IPV4);
	/* IHL 15 in a frame that has 59 bytes of L3 (total says 59 too): beyond the packet. */
	n = v4(5, 0, P_GRE, raw(39), 39, 0);
	fr[ETH] = 0x4f;
	ERR(n, BAD_IPV4);
	/* Total length exactly the header (no transport bytes): admitted for GRE, refused for
	 * UDP. */
	n = v4(5, 0, P_GRE, raw(0), 0, 0);
	OK(n, F4, 34, P_GRE, 34);
	n = v4(5, 0, P_UDP, raw(0), 0, 0);
	ERR(n, BAD_L4);
	/* Total length beyond the frame by one byte, and by a lot. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	ERR(n - 1, BAD_IPV4);
	put16(fr + ETH + 2, 29);
	v4_csum(fr + ETH, 20);
	ERR(n, BAD_IPV4);
	put16(fr + ETH + 2, 65535);
	v4_csum(fr + ETH, 20);
	ERR(n, BAD_IPV4);
	/* Bad checksum: one bit off in the checksum field, in the addresses, in the TTL. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	fr[ETH + 11] ^= 0x01;
	ERR(n, BAD_IPV4_CSUM);
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	fr[ETH + 19] ^= 0x80;
	ERR(n, BAD_IPV4_CSUM);
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	fr[ETH + 8]--;
	ERR(n, BAD_IPV4_CSUM);
	/* A zero checksum field on a header that needs one. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	put16(fr + ETH + 10, 0);
	ERR(n, BAD_IPV4_CSUM);
	/* The checksum is not over the payload: a change there does not matter. */
	n = v4(5, 0, P_UDP, udp(16, 16), 16, 0);
	fr[n - 1] ^= 0xff;
	OK(n, F4, 34, P_UDP, (uint32_t)n);
}

static void test_v4_fragments(void **state)
{
	(void)state;
	size_t n;
	/* First fragment (MF, offset 0) with a whole transport header. */
	n = v4(5, MF, P_TCP, tcp(5, 20 + 40), 60, 0);
	OK(n, F4 | FRG, 34, P_TCP, (uint32_t)n);
	n = v4(6, MF | DF, P_TCP, tcp(5, 20), 20, 0);
	OK(n, F4 | OPT | FRG, 38, P_TCP, (uint32_t)n);
	/* A tiny first fragment: the TCP header is cut (RFC 1858). */
	n = v4(5, MF, P_TCP, tcp(5, 8), 8, 0);
	ERR(n, BAD_L4);
	n = v4(5, MF, P_TCP, tcp(5, 19), 19, 0);
	ERR(n, BAD_L4);
	/* ... its options cut: data offset 8 (32 bytes), 24 there. */
	n = v4(5, MF, P_TCP, tcp(8, 24), 24, 0);
	ERR(n, BAD_L4);
	n = v4(5, MF, P_ICMP, raw(4), 4, 0);
	ERR(n, BAD_L4);
	n = v4(5, MF, P_SCTP, raw(11), 11, 0);
	ERR(n, BAD_L4);
	n = v4(5, MF, P_UDP, udp(100, 7), 7, 0);
	ERR(n, BAD_L4);
	/* UDP in a first fragment: its length counts the whole datagram, not checked. */
	n = v4(5, MF, P_UDP, udp(1480, 8 + 64), 72, 0);
	OK(n, F4 | FRG, 34, P_UDP, (uint32_t)n);
	n = v4(5, MF, P_UDP, udp(0, 8), 8, 0);
	OK(n, F4 | FRG, 34, P_UDP, 42);
	/* Later fragments (offset != 0): no transport check, even with one byte. */
	n = v4(5, 1, P_TCP, raw(1), 1, 0);
	OK(n, F4 | FRG | LATER, 34, P_TCP, 35);
	n = v4(5, MF | 185, P_UDP, raw(1), 1, 0);
	OK(n, F4 | FRG | LATER, 34, P_UDP, 35);
	n = v4(5, 0x1fff, P_ICMP, raw(0), 0, 0);
	OK(n, F4 | FRG | LATER, 34, P_ICMP, 34);
	n = v4(9, 0x0100, P_SCTP, raw(5), 5, 6);
	OK(n, F4 | OPT | FRG | LATER, 50, P_SCTP, 55);
	/* A later fragment is still checked up to the IP header. */
	n = v4(5, 185, P_TCP, raw(1), 1, 0);
	fr[ETH + 10] ^= 0x10;
	ERR(n, BAD_IPV4_CSUM);
}

/* ---- transport checks ---- */

static void test_l4(void **state)
{
	(void)state;
	size_t n;
	/* TCP: data offset below 5. */
	for (unsigned int doff = 0; doff < 5; doff++) {
		n = v4(5, 0, P_TCP, tcp(doff, 40), 40, 0);
		ERR(n, BAD_L4);
	}
	/* Data offset beyond the packet, exactly fitting, with payload. */
	for (unsigned int doff = 5; doff <= 15; doff++) {
		n = v4(5, 0, P_TCP, tcp(doff, doff * 4 - 1), doff * 4 - 1, 0);
		ERR(n, BAD_L4);
		n = v4(5, 0, P_TCP, tcp(doff, doff * 4), doff * 4, 0);
		OK(n, F4, 34, P_TCP, (uint32_t)n);
		n = v4(5, 0, P_TCP, tcp(doff, doff * 4 + 1), doff * 4 + 1, 0);
		OK(n, F4, 34, P_TCP, (uint32_t)n);
	}
	/* Fewer than 20 bytes of TCP. */
	n = v4(5, 0, P_TCP, tcp(5, 19), 19, 0);
	ERR(n, BAD_L4);
	n = v4(5, 0, P_TCP, tcp(5, 0), 0, 0);
	ERR(n, BAD_L4);

	/* UDP: fewer than 8 bytes. */
	n = v4(5, 0, P_UDP, udp(7, 7), 7, 0);
	ERR(n, BAD_L4);
	/* Length field below 8. */
	for (uint16_t ulen = 0; ulen < 8; ulen++) {
		n = v4(5, 0, P_UDP, udp(ulen, 20), 20, 0);
		ERR(n, BAD_L4);
	}
	/* Beyond the payload by one, by a lot; exactly; below it (allowed). */
	n = v4(5, 0, P_UDP, udp(21, 20), 20, 0);
	ERR(n, BAD_L4);
	n = v4(5, 0, P_UDP, udp(65535, 20), 20, 0);
	ERR(n, BAD_L4);
	n = v4(5, 0, P_UDP, udp(20, 20), 20, 0);
	OK(n, F4, 34, P_UDP, 54);
	n = v4(5, 0, P_UDP, udp(8, 20), 20, 0);
	OK(n, F4, 34, P_UDP, 54);
	n = v4(5, 0, P_UDP, udp(19, 20), 20, 0);
	OK(n, F4, 34, P_UDP, 54);

	/* ICMP and SCTP minimums. */
	n = v4(5, 0, P_ICMP, raw(7), 7, 0);
	ERR(n, BAD_L4);
	n = v4(5, 0, P_ICMP, raw(0), 0, 0);
	ERR(n, BAD_L4);
	n = v4(5, 0, P_SCTP, raw(11), 11, 0);
	ERR(n, BAD_L4);
	n = v4(5, 0, P_SCTP, raw(13), 13, 0);
	OK(n, F4, 34, P_SCTP, 47);
	/* ICMPv6 under 8 bytes, ICMPv6 of 8. */
	pl_reset();
	app(raw(7), 7);
	n = v6(P_ICMP6, 0);
	ERR(n, BAD_L4);
	pl_reset();
	app(raw(8), 8);
	n = v6(P_ICMP6, 0);
	OK(n, F6, 54, P_ICMP6, 62);
	/* The same checks over IPv6. */
	pl_reset();
	app(tcp(4, 20), 20);
	n = v6(P_TCP, 0);
	ERR(n, BAD_L4);
	pl_reset();
	app(tcp(6, 23), 23);
	n = v6(P_TCP, 0);
	ERR(n, BAD_L4);
	pl_reset();
	app(tcp(6, 24), 24);
	n = v6(P_TCP, 0);
	OK(n, F6, 54, P_TCP, 78);
	pl_reset();
	app(udp(7, 20), 20);
	n = v6(P_UDP, 0);
	ERR(n, BAD_L4);
	pl_reset();
	app(udp(21, 20), 20);
	n = v6(P_UDP, 0);
	ERR(n, BAD_L4);
	pl_reset();
	app(udp(12, 20), 20);
	n = v6(P_UDP, 0);
	OK(n, F6, 54, P_UDP, 74);
	pl_reset();
	app(raw(11), 11);
	n = v6(P_SCTP, 0);
	ERR(n, BAD_L4);
	pl_reset();
	app(raw(12), 12);
	n = v6(P_SCTP, 0);
	OK(n, F6, 54, P_SCTP, 66);
	/* ICMP (IPv4's) over IPv6 is held to 8 bytes too. */
	pl_reset();
	app(raw(7), 7);
	n = v6(P_ICMP, 0);
	ERR(n, BAD_L4);
}

/* ---- IPv6 ---- */

static void test_v6_plain(void **state)
{
	(void)state;
	size_t n;
	pl_reset();
	app(tcp(5, 20), 20);
	n = v6(P_TCP, 0);
	assert_int_equal(n, 74);
	OK(n, F6, 54, P_TCP, 74);
	pl_reset();
	app(udp(108, 108), 108);
	n = v6(P_UDP, 0);
	OK(n, F6, 54, P_UDP, 162);
	/* Padding trimmed: 10 bytes, 1 byte. */
	n = v6(P_UDP, 10);
	OK(n, F6, 54, P_UDP, 162);
	pl_reset();
	app(udp(8, 8), 8);
	n = v6(P_UDP, 1);
	OK(n, F6, 54, P_UDP, 62);
	/* The transport check is against the payload length, not the frame. */
	pl_reset();
	app(udp(16, 8), 8);
	n = v6(P_UDP, 8);
	ERR(n, BAD_L4);
	/* Payload length beyond the frame. */
	pl_reset();
	app(udp(8, 8), 8);
	n = v6(P_UDP, 0);
	ERR(n - 1, BAD_IPV6);
	put16(fr + ETH + 4, 9);
	ERR(n, BAD_IPV6);
	put16(fr + ETH + 4, 65535);
	ERR(n, BAD_IPV6);
	/* Fewer than 40 bytes of L3. */
	ERR(ETH + 39, BAD_IPV6);
	ERR(ETH, BAD_IPV6);
	/* Version. */
	for (unsigned int ver = 0; ver < 16; ver++) {
		if (ver == 6)
			continue;
		pl_reset();
		app(udp(8, 8), 8);
		n = v6(P_UDP, 0);
		fr[ETH] = (uint8_t)(ver << 4);
		ERR(n, BAD_IPV6);
	}
	/* An IPv4 packet under the IPv6 EtherType, and the other way round. */
	n = v4(5, 0, P_UDP, udp(8, 8 + 20), 28, 0);
	put16(fr + 12, 0x86dd);
	ERR(n, BAD_IPV6);
	pl_reset();
	app(udp(8, 8), 8);
	n = v6(P_UDP, 0);
	put16(fr + 12, 0x0800);
	ERR(n, BAD_IPV4);
	/* Traffic class and flow label do not matter. */
	pl_reset();
	app(udp(8, 8), 8);
	n = v6(P_UDP, 0);
	put32(fr + ETH, 0x6fffffff);
	OK(n, F6, 54, P_UDP, 62);
	/* No next header (59) and ESP (50): admitted, not looked into. */
	pl_reset();
	n = v6(P_NONE, 0);
	OK(n, F6, 54, P_NONE, 54);
	pl_reset();
	app(raw(5), 5);
	n = v6(P_NONE, 3);
	OK(n, F6, 54, P_NONE, 59);
	pl_reset();
	app(raw(1), 1);
	n = v6(P_ESP, 0);
	OK(n, F6, 54, P_ESP, 55);
	pl_reset();
	n = v6(P_ESP, 0);
	OK(n, F6, 54, P_ESP, 54);
	/* Payload length 0 (a jumbogram's) with a transport header or a hop-by-hop header behind
	 * it: refused. */
	pl_reset();
	app(udp(8, 8), 8);
	n = v6(P_UDP, 0);
	put16(fr + ETH + 4, 0);
	ERR(n, BAD_L4);
	pl_reset();
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_HOP, 0);
	put16(fr + ETH + 4, 0);
	ERR(n, BAD_IPV6_EXT);
}

static void test_v6_ext(void **state)
{
	(void)state;
	size_t n;
	/* Hop-by-hop first, 8 and 24 bytes. */
	pl_reset();
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_HOP, 0);
	OK(n, F6 | OPT, 62, P_UDP, 70);
	pl_reset();
	ext_opts(P_TCP, 2);
	app(tcp(5, 20), 20);
	n = v6(P_HOP, 4);
	OK(n, F6 | OPT, 78, P_TCP, 98);
	/* Routing, segments left 0 and not. */
	pl_reset();
	ext_routing(P_UDP, 2, 0);
	app(udp(8, 8), 8);
	n = v6(P_ROUTING, 0);
	OK(n, F6 | OPT, 78, P_UDP, 86);
	pl_reset();
	ext_routing(P_UDP, 4, 1);
	app(udp(8, 8), 8);
	n = v6(P_ROUTING, 0);
	OK(n, F6 | OPT | RT, 94, P_UDP, 102);
	pl_reset();
	ext_routing(P_UDP, 0, 255);
	app(udp(8, 8), 8);
	n = v6(P_ROUTING, 0);
	OK(n, F6 | OPT | RT, 62, P_UDP, 70);
	/* Destination options. */
	pl_reset();
	ext_opts(P_ICMP6, 1);
	app(raw(8), 8);
	n = v6(P_DST, 0);
	OK(n, F6 | OPT, 70, P_ICMP6, 78);
	/* AH: (len + 2) * 4 bytes: 24 for len 4, 36 for 7 (not a multiple of 8; taken). */
	pl_reset();
	ext_ah(P_TCP, 4);
	app(tcp(5, 20), 20);
	n = v6(P_AH, 0);
	OK(n, F6 | OPT, 78, P_TCP, 98);
	pl_reset();
	ext_ah(P_UDP, 7);
	app(udp(8, 8), 8);
	n = v6(P_AH, 0);
	OK(n, F6 | OPT, 90, P_UDP, 98);
	pl_reset();
	ext_ah(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_AH, 0);
	OK(n, F6 | OPT, 62, P_UDP, 70);
	/* Mobility (135), HIP (139), shim6 (140): (len + 1) * 8. */
	pl_reset();
	ext_opts(P_NONE, 1);
	n = v6(P_MOB, 0);
	OK(n, F6 | OPT, 70, P_NONE, 70);
	pl_reset();
	ext_opts(P_UDP, 3);
	app(udp(8, 8), 8);
	n = v6(P_HIP, 0);
	OK(n, F6 | OPT, 86, P_UDP, 94);
	pl_reset();
	ext_opts(P_TCP, 0);
	app(tcp(5, 20), 20);
	n = v6(P_SHIM6, 0);
	OK(n, F6 | OPT, 62, P_TCP, 82);
	/* A chain of each: hop-by-hop, dst, routing, AH, dst, then UDP. */
	pl_reset();
	ext_opts(P_DST, 0);
	ext_opts(P_ROUTING, 1);
	ext_routing(P_AH, 2, 0);
	ext_ah(P_DST, 4);
	ext_opts(P_UDP, 0);
	app(udp(10, 10), 10);
	n = v6(P_HOP, 0);
	assert_int_equal(pn, 8 + 16 + 24 + 24 + 8 + 10);
	OK(n, F6 | OPT, 54 + 80, P_UDP, (uint32_t)n);
	/* The transport check is behind the chain. */
	pl_reset();
	ext_opts(P_TCP, 0);
	app(tcp(5, 19), 19);
	n = v6(P_HOP, 0);
	ERR(n, BAD_L4);
	/* A chain filling the payload exactly, then nothing (59): l4_off at the end. */
	pl_reset();
	ext_opts(P_NONE, 0);
	n = v6(P_DST, 0);
	OK(n, F6 | OPT, 62, P_NONE, 62);
	/* ... then a transport header that is not there. */
	pl_reset();
	ext_opts(P_UDP, 0);
	n = v6(P_DST, 0);
	ERR(n, BAD_L4);
	/* ... then ESP with nothing. */
	pl_reset();
	ext_opts(P_ESP, 0);
	n = v6(P_DST, 0);
	OK(n, F6 | OPT, 62, P_ESP, 62);
}

static void test_v6_ext_refused(void **state)
{
	(void)state;
	size_t n;
	/* Hop-by-hop not first: behind dst options, behind routing, twice. */
	pl_reset();
	ext_opts(P_HOP, 0);
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_DST, 0);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_routing(P_HOP, 0, 0);
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_ROUTING, 0);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_opts(P_HOP, 0);
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_HOP, 0);
	ERR(n, BAD_IPV6_EXT);
	/* Behind a fragment header (atomic). */
	pl_reset();
	ext_frag(P_HOP, 0, false);
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_FRAG, 0);
	ERR(n, BAD_IPV6_EXT);

	/* A header running past the payload: by its length field (16 bytes, 8 there; the
	 * frame's padding does not count), ... */
	pl_reset();
	ext_opts(P_UDP, 1);
	pn -= 8;
	n = v6(P_DST, 0);
	ERR(n, BAD_IPV6_EXT);
	n = v6(P_DST, 8);
	ERR(n, BAD_IPV6_EXT);
	/* ... by one byte, for each type, ... */
	static const uint8_t types[] = { P_HOP, P_DST, P_MOB, P_HIP, P_SHIM6 };
	for (size_t i = 0; i < RTE_DIM(types); i++) {
		pl_reset();
		ext_opts(P_NONE, 2);
		pn--;
		n = v6(types[i], 1);
		ERR(n, BAD_IPV6_EXT);
	}
	pl_reset();
	ext_routing(P_NONE, 2, 1);
	pn--;
	n = v6(P_ROUTING, 0);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_ah(P_NONE, 4);
	pn--;
	n = v6(P_AH, 0);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_frag(P_NONE, 0, false);
	pn--;
	n = v6(P_FRAG, 0);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_frag(P_NONE, 10, false); /* a later fragment's header cut too */
	pn--;
	n = v6(P_FRAG, 0);
	ERR(n, BAD_IPV6_EXT);
	/* ... with too few bytes to read its length (1 of 2; routing: 3 of 4), ... */
	pl_reset();
	ext_opts(P_NONE, 0);
	pn = 1;
	n = v6(P_HOP, 7);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_routing(P_NONE, 0, 0);
	pn = 3;
	n = v6(P_ROUTING, 5);
	ERR(n, BAD_IPV6_EXT);
	pl_reset();
	ext_ah(P_NONE, 0);
	pn = 1;
	n = v6(P_AH, 11);
	ERR(n, BAD_IPV6_EXT);
	/* ... with none at all, ... */
	pl_reset();
	n = v6(P_DST, 8);
	ERR(n, BAD_IPV6_EXT);
	/* ... the second of a chain. */
	pl_reset();
	ext_opts(P_DST, 0);
	ext_opts(P_UDP, 3);
	pn -= 1;
	n = v6(P_HOP, 0);
	ERR(n, BAD_IPV6_EXT);
}

static void test_v6_ext_max(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(PL_PARSE_MAX_EXT, 8);
	/* Hop-by-hop and 7 destination options: 8, admitted. */
	pl_reset();
	ext_opts(P_DST, 0);
	for (int i = 0; i < 6; i++)
		ext_opts(P_DST, 0);
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_HOP, 0);
	OK(n, F6 | OPT, 54 + 64, P_UDP, 54 + 72);
	/* 9: refused. */
	pl_reset();
	ext_opts(P_DST, 0);
	for (int i = 0; i < 7; i++)
		ext_opts(P_DST, 0);
	ext_opts(P_UDP, 0);
	app(udp(8, 8), 8);
	n = v6(P_HOP, 0);
	ERR(n, BAD_IPV6_EXT);
	/* 8 with no next header behind the last. */
	pl_reset();
	for (int i = 0; i < 7; i++)
		ext_opts(P_DST, 0);
	ext_opts(P_NONE, 0);
	n = v6(P_DST, 0);
	OK(n, F6 | OPT, 54 + 64, P_NONE, 54 + 64);
	/* The 8th a later fragment's header: admitted; the 9th: refused. */
	pl_reset();
	for (int i = 0; i < 7; i++)
		ext_opts(P_DST, 0);
	pb[pn - 8] = P_FRAG;
	ext_frag(P_TCP, 100, true);
	app(raw(16), 16);
	n = v6(P_DST, 0);
	OK(n, F6 | OPT | FRG | LATER, 54 + 64, P_TCP, 54 + 80);
	pl_reset();
	for (int i = 0; i < 8; i++)
		ext_opts(P_DST, 0);
	pb[pn - 8] = P_FRAG;
	ext_frag(P_TCP, 100, true);
	app(raw(16), 16);
	n = v6(P_DST, 0);
	ERR(n, BAD_IPV6_EXT);
	/* The 8th a first fragment's header, then UDP: admitted. */
	pl_reset();
	for (int i = 0; i < 7; i++)
		ext_opts(P_DST, 0);
	pb[pn - 8] = P_FRAG;
	ext_frag(P_UDP, 0, true);
	app(udp(1000, 8), 8);
	n = v6(P_DST, 0);
	OK(n, F6 | OPT | FRG, 54 + 64, P_UDP, 54 + 72);
	/* Long headers are fine: 8 of 2048 bytes each. */
	pl_reset();
	ext_opts(P_DST, 255);
	for (int i = 0; i < 6; i++)
		ext_opts(P_DST, 255);
	ext_opts(P_TCP, 255);
	app(tcp(5, 20), 20);
	n = v6(P_HOP, 0);
	OK(n, F6 | OPT, 54 + 8 * 2048, P_TCP, (uint32_t)(54 + 8 * 2048 + 20));
}

static void test_v6_fragments(void **state)
{
	(void)state;
	size_t n;
	/* Atomic fragment (offset 0, M 0): not a fragment; the transport is checked as usual. */
	pl_reset();
	ext_frag(P_UDP, 0, false);
	app(udp(16, 16), 16);
	n = v6(P_FRAG, 0);
	OK(n, F6 | OPT, 62, P_UDP, 78);
	pl_reset();
	ext_frag(P_UDP, 0, false);
	app(udp(100, 16), 16); /* a UDP length an atomic fragment cannot have */
	n = v6(P_FRAG, 0);
	ERR(n, BAD_L4);
	/* The reserved bits do not make it a fragment. */
	pl_reset();
	ext_frag(P_UDP, 0, false);
	pb[3] |= 0x06;
	pb[1] = 0xff;
	app(udp(16, 16), 16);
	n = v6(P_FRAG, 0);
	OK(n, F6 | OPT, 62, P_UDP, 78);
	/* First fragment (M 1, offset 0): FRAG, the transport checked. */
	pl_reset();
	ext_frag(P_TCP, 0, true);
	app(tcp(5, 20 + 100), 120);
	n = v6(P_FRAG, 0);
	OK(n, F6 | OPT | FRG, 62, P_TCP, (uint32_t)n);
	/* ... tiny: the TCP header cut, or its options. */
	pl_reset();
	ext_frag(P_TCP, 0, true);
	app(tcp(5, 16), 16);
	n = v6(P_FRAG, 0);
	ERR(n, BAD_L4);
	pl_reset();
	ext_frag(P_TCP, 0, true);
	app(tcp(10, 36), 36);
	n = v6(P_FRAG, 0);
	ERR(n, BAD_L4);
	pl_reset();
	ext_frag(P_ICMP6, 0, true);
	app(raw(4), 4);
	n = v6(P_FRAG, 0);
	ERR(n, BAD_L4);
	/* ... UDP: its length field counts the whole datagram. */
	pl_reset();
	ext_frag(P_UDP, 0, true);
	app(udp(3000, 8 + 1200), 1208);
	n = v6(P_FRAG, 0);
	OK(n, F6 | OPT | FRG, 62, P_UDP, (uint32_t)n);
	/* ... the chain goes on behind the fragment header and must be whole (RFC 7112). */
	pl_reset();
	ext_opts(P_FRAG, 0);
	ext_frag(P_DST, 0, true);
	ext_opts(P_TCP, 1);
	app(tcp(5, 20), 20);
	n = v6(P_HOP, 0);
	OK(n, F6 | OPT | FRG, 54 + 32, P_TCP, (uint32_t)n);
	pl_reset();
	ext_opts(P_FRAG, 0);
	ext_frag(P_DST, 0, true);
	ext_opts(P_TCP, 1);
	pn -= 4; /* the destination options cut */
	n = v6(P_HOP, 0);
	ERR(n, BAD_IPV6_EXT);
	/* Later fragments: FRAG | FRAG_LATER | OPTS, the protocol the fragment header names,
	 * l4_off behind it, nothing behind it looked into. */
	pl_reset();
	ext_frag(P_TCP, 185, true);
	app(raw(1), 1);
	n = v6(P_FRAG, 0);
	OK(n, F6 | OPT | FRG | LATER, 62, P_TCP, 63);
	pl_reset();
	ext_frag(P_UDP, 8191, false); /* the last one */
	n = v6(P_FRAG, 0);
	OK(n, F6 | OPT | FRG | LATER, 62, P_UDP, 62);
	pl_reset();
	ext_frag(P_HOP, 1, false); /* what it names is not looked at either */
	app(raw(3), 3);
	n = v6(P_FRAG, 2);
	OK(n, F6 | OPT | FRG | LATER, 62, P_HOP, 65);
	pl_reset();
	ext_opts(P_ROUTING, 0);
	ext_routing(P_FRAG, 0, 2);
	ext_frag(P_ESP, 3, true);
	app(raw(40), 40);
	n = v6(P_HOP, 0);
	OK(n, F6 | OPT | FRG | LATER | RT, 54 + 24, P_ESP, (uint32_t)n);
}

/* ---- not IP ---- */

static void test_not_ip(void **state)
{
	(void)state;
	size_t n;
	/* ARP. */
	n = eth(fr, 0x0806);
	memset(fr + n, 0x11, 28);
	ERR(n + 28, NOT_IP);
	/* Unknown, VLAN-tagged, the IP EtherTypes byte-swapped. */
	static const uint16_t types[] = { 0x88b5, 0x8100, 0x0008, 0xdd86, 0x0000, 0xffff };
	for (size_t i = 0; i < RTE_DIM(types); i++) {
		n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
		put16(fr + 12, types[i]);
		ERR(n, NOT_IP);
	}
	/* Shorter than an Ethernet header. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, 0);
	ERR(13, NOT_IP);
	ERR(1, NOT_IP);
	ERR(0, NOT_IP);
}

static void test_chained(void **state)
{
	(void)state;
	/* A valid frame in two segments: refused, whichever way it is split. */
	size_t n = v4(5, 0, P_UDP, udp(8 + 100, 108), 108, 0);
	OK(n, F4, 34, P_UDP, (uint32_t)n);
	static const size_t splits[] = { 14, 34, 60 };
	for (size_t i = 0; i < RTE_DIM(splits); i++) {
		struct rte_mbuf *a = rte_pktmbuf_alloc(pool), *b = rte_pktmbuf_alloc(pool);
		assert_non_null(a);
		assert_non_null(b);
		memcpy(rte_pktmbuf_append(a, (uint16_t)splits[i]), fr, splits[i]);
		memcpy(rte_pktmbuf_append(b, (uint16_t)(n - splits[i])), fr + splits[i],
			n - splits[i]);
		assert_int_equal(rte_pktmbuf_chain(a, b), 0);
		assert_int_equal(a->nb_segs, 2);
		struct res r = parse_mbuf(a);
		assert_int_equal(r.rc, PL_PARSE_ERR_NOT_IP);
		assert_int_equal(r.pkt_len, n);
		rte_pktmbuf_free(a);
	}
}

/* ---- big frames ---- */

static void test_big(void **state)
{
	(void)state;
	size_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
	/* IPv4 of 65,000 bytes (a super-packet's size), with 300 bytes of padding. */
	size_t n = v4(5, 0, P_TCP, tcp(8, 65000 - 20), 65000 - 20, 300);
	assert_true(n <= room);
	OK(n, F4, 34, P_TCP, 14 + 65000);
	/* IPv6 with a payload of 65,000. */
	pl_reset();
	ext_opts(P_UDP, 0);
	app(udp(65000 - 8, 65000 - 8), 65000 - 8);
	n = v6(P_HOP, 0);
	assert_true(n <= room);
	OK(n, F6 | OPT, 62, P_UDP, 54 + 65000);
	/* A frame as long as the buffer takes, all of it padding behind 28 bytes of IPv4. */
	n = v4(5, 0, P_UDP, udp(8, 8), 8, room - 42);
	assert_int_equal(n, room);
	OK(n, F4, 34, P_UDP, 42);
	/* UDP length 65,535 over 65,000 bytes: beyond. */
	pl_reset();
	app(udp(65535, 65000), 65000);
	n = v6(P_UDP, 0);
	ERR(n, BAD_L4);
}

/* ---- EAL ---- */

static int eal_setup(void **state)
{
	(void)state;
	char *argv[] = { "test_parse", "--in-memory", "--no-pci", "--no-telemetry",
		"--lcores=0@(0-1)", "-m", "64", "--log-level=lib.eal:warning", NULL };
	if (rte_eal_init((int)RTE_DIM(argv) - 1, argv) < 0) {
		fprintf(stderr,
			"test_parse: DPDK EAL init failed: %s. It needs root and 2 MB hugepages "
			"mounted at /dev/hugepages.\n",
			rte_strerror(rte_errno));
		return -1;
	}
	if (pl_dp_meta_register() < 0)
		return -1;
	/* 64 KB buffers (io-worker's big pool): every frame here fits in one. */
	pool = rte_pktmbuf_pool_create("test_parse", 7, 0, 0, PL_DP_BIG_DATA_SIZE, SOCKET_ID_ANY);
	if (!pool) {
		fprintf(stderr, "test_parse: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int eal_teardown(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_plain),
		cmocka_unit_test(test_v4_options),
		cmocka_unit_test(test_v4_padding),
		cmocka_unit_test(test_v4_refused),
		cmocka_unit_test(test_v4_fragments),
		cmocka_unit_test(test_l4),
		cmocka_unit_test(test_v6_plain),
		cmocka_unit_test(test_v6_ext),
		cmocka_unit_test(test_v6_ext_refused),
		cmocka_unit_test(test_v6_ext_max),
		cmocka_unit_test(test_v6_fragments),
		cmocka_unit_test(test_not_ip),
		cmocka_unit_test(test_chained),
		cmocka_unit_test(test_big),
	};
	return cmocka_run_group_tests(tests, eal_setup, eal_teardown);
}
