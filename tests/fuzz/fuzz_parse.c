/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for io-worker's ingress parse (ipc/pl_parse.c), built with AddressSanitizer
 * and UndefinedBehaviorSanitizer by tests/fuzz/run_fuzz.sh (see there for how to run it).
 *
 * Input: one control byte, then the frame (0..65,535 bytes, Ethernet first). Control bit 0:
 * before parsing, write the right IPv4 header checksum into the frame (when it has an IPv4
 * EtherType and a header whose IHL fits in it) - random bytes almost never carry one, and
 * without it nearly every IPv4 input would stop at the checksum; with the bit clear, inputs
 * reach the checksum check as they are. Bit 1: the frame comes in two segments (split in the
 * middle; anything chained must be refused as not IP). The other bits are ignored.
 *
 * The mbuf is built by hand, without the EAL: ASan watches only memory the process allocates
 * through it, and a DPDK mempool's buffers (hugepages, carved up by DPDK) have no redzones, so a
 * read past a frame's end there goes unnoticed. Here each frame is copied into its own malloc'd
 * buffer (RTE_PKTMBUF_HEADROOM bytes of headroom as in a pool's mbuf, so the frame's alignment
 * is a real one's) that ends at the frame's last byte: one byte further is a heap overflow. The
 * struct rte_mbuf is a static, cache-line aligned like a pool's; the metadata dynfield is
 * placed at the start of its dynfield area (pl_dp_meta_offset is defined here; pl_dp.c, which
 * registers it through the EAL, is not linked). pl_parse needs nothing else of DPDK: its mbuf
 * and checksum helpers are inline.
 *
 * For every input: the result is one of enum pl_parse_result and the frame's bytes are as they
 * were. For an admitted one, what the stages rely on (abort() on a violation, which libFuzzer
 * reports as a crash): a single segment; exactly one of V4/V6 and no unknown flag; l4_off
 * within data_len and behind the fixed IP header; data_len = 14 + total length (v4) or 14 + 40
 * + payload length (v6), and pkt_len the same; for v4 the record matches the header (l4_off =
 * 14 + IHL * 4, protocol, OPTS, FRAG, FRAG_LATER) and its checksum is right by a reference
 * sum; for v6 OPTS exactly when l4_off is behind the fixed header, and l4_proto is no
 * extension header unless FRAG_LATER; unless FRAG_LATER, the transport header fits (TCP 20 and
 * data offset * 4 >= 20 within the packet; UDP 8 and, outside fragments, 8 <= length <= what
 * is there; SCTP 12; ICMP and ICMPv6 8); and parsing it again gives the same record. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "pl_dp.h"
#include "pl_parse.h"

int pl_dp_meta_offset = offsetof(struct rte_mbuf, dynfield1);

#define ETH 14u

#define CHECK(cond)                                                                            \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "fuzz_parse: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                              \
			abort();                                                               \
		}                                                                              \
	} while (0)

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* One's-complement sum of n bytes (n even), folded. */
static uint32_t ref_sum(const uint8_t *b, size_t n)
{
	uint32_t acc = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += be16(b + i);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc;
}

static void fix_v4_csum(uint8_t *f, size_t len)
{
	if (len < ETH + 20 || be16(f + 12) != 0x0800)
		return;
	size_t ihl = (f[ETH] & 0xfu) * 4u;
	if (ihl < 20 || ETH + ihl > len)
		return;
	f[ETH + 10] = f[ETH + 11] = 0;
	uint32_t c = ~ref_sum(f + ETH, ihl) & 0xffff;
	f[ETH + 10] = (uint8_t)(c >> 8);
	f[ETH + 11] = (uint8_t)c;
}

static bool ext_header(uint8_t proto)
{
	switch (proto) {
	case 0: /* hop-by-hop */
	case 43: /* routing */
	case 44: /* fragment */
	case 51: /* AH */
	case 60: /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
		return true;
	default:
		return false;
	}
}

static struct rte_mbuf mb, mb2;

static void mbuf_init(uint8_t *buf, size_t len)
{
	memset(&mb, 0, sizeof(mb));
	mb.buf_addr = buf;
	mb.buf_len = (uint16_t)(RTE_PKTMBUF_HEADROOM + len);
	mb.data_off = RTE_PKTMBUF_HEADROOM;
	mb.data_len = (uint16_t)len;
	mb.pkt_len = (uint32_t)len;
	mb.nb_segs = 1;
	mb.next = NULL;
	rte_mbuf_refcnt_set(&mb, 1);
	memset(pl_meta(&mb), 0xa5, sizeof(struct pl_pkt_meta));
}

static void check_ok(const struct rte_mbuf *m, const struct pl_pkt_meta *pm)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t dlen = m->data_len, off = pm->l4_off;
	uint8_t fl = pm->pflags;

	CHECK(m->nb_segs == 1 && m->pkt_len == dlen);
	CHECK((fl & ~(PL_PARSE_V4 | PL_PARSE_V6 | PL_PARSE_OPTS | PL_PARSE_FRAG |
			    PL_PARSE_FRAG_LATER | PL_PARSE_ROUTING)) == 0);
	CHECK(!!(fl & PL_PARSE_V4) + !!(fl & PL_PARSE_V6) == 1);
	CHECK(!(fl & PL_PARSE_FRAG_LATER) || (fl & PL_PARSE_FRAG));
	CHECK(off <= dlen);

	if (fl & PL_PARSE_V4) {
		CHECK(!(fl & PL_PARSE_ROUTING));
		CHECK(off >= ETH + 20);
		CHECK(be16(d + 12) == 0x0800);
		CHECK(d[ETH] >> 4 == 4);
		uint32_t ihl = (d[ETH] & 0xfu) * 4u, total = be16(d + ETH + 2);
		uint32_t fo = be16(d + ETH + 6);
		CHECK(dlen == ETH + total);
		CHECK(off == ETH + ihl);
		CHECK(pm->l4_proto == d[ETH + 9]);
		CHECK(!!(fl & PL_PARSE_OPTS) == (ihl > 20));
		CHECK(!!(fl & PL_PARSE_FRAG) == ((fo & 0x3fff) != 0));
		CHECK(!!(fl & PL_PARSE_FRAG_LATER) == ((fo & 0x1fff) != 0));
		CHECK(ref_sum(d + ETH, ihl) == 0xffff);
	} else {
		CHECK(off >= ETH + 40);
		CHECK(be16(d + 12) == 0x86dd);
		CHECK(d[ETH] >> 4 == 6);
		CHECK(dlen == ETH + 40 + be16(d + ETH + 4));
		CHECK(!!(fl & PL_PARSE_OPTS) == (off > ETH + 40));
		CHECK(!(fl & PL_PARSE_ROUTING) || (fl & PL_PARSE_OPTS));
		CHECK((fl & PL_PARSE_FRAG_LATER) || !ext_header(pm->l4_proto));
	}

	if (fl & PL_PARSE_FRAG_LATER)
		return;
	uint32_t rest = dlen - off;
	const uint8_t *l4 = d + off;
	switch (pm->l4_proto) {
	case 6: /* TCP */
		CHECK(rest >= 20);
		CHECK((l4[12] >> 4) * 4u >= 20 && (l4[12] >> 4) * 4u <= rest);
		break;
	case 17: /* UDP */
		CHECK(rest >= 8);
		CHECK((fl & PL_PARSE_FRAG) || (be16(l4 + 4) >= 8 && be16(l4 + 4) <= rest));
		break;
	case 132: /* SCTP */
		CHECK(rest >= 12);
		break;
	case 1: /* ICMP */
	case 58: /* ICMPv6 */
		CHECK(rest >= 8);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > UINT16_MAX)
		return -1; /* not added to the corpus */
	uint8_t ctl = data[0];
	size_t len = size - 1;
	uint8_t *buf = malloc(RTE_PKTMBUF_HEADROOM + len);
	uint8_t *orig = malloc(len ? len : 1);
	CHECK(buf && orig);
	uint8_t *f = buf + RTE_PKTMBUF_HEADROOM;
	memcpy(f, data + 1, len);
	if (ctl & 1)
		fix_v4_csum(f, len);
	memcpy(orig, f, len);

	mbuf_init(buf, len);
	struct pl_pkt_meta *pm = pl_meta(&mb);
	if ((ctl & 2) && len >= 2) {
		/* The second half in a segment of its own (in the same allocation: the bytes
		 * that follow the first segment's end are the second's). */
		mb.data_len = (uint16_t)(len / 2);
		memset(&mb2, 0, sizeof(mb2));
		mb2.buf_addr = f + len / 2;
		mb2.buf_len = (uint16_t)(len - len / 2);
		mb2.data_len = (uint16_t)(len - len / 2);
		mb2.nb_segs = 1;
		rte_mbuf_refcnt_set(&mb2, 1);
		mb.next = &mb2;
		mb.nb_segs = 2;
		CHECK(pl_parse(&mb) == PL_PARSE_ERR_NOT_IP);
		CHECK(memcmp(f, orig, len) == 0 && mb.pkt_len == len);
		free(orig);
		free(buf);
		return 0;
	}
	enum pl_parse_result r = pl_parse(&mb);
	CHECK(r < PL_PARSE_ERR_MAX);
	CHECK(memcmp(f, orig, len) == 0);
	if (r == PL_PARSE_OK) {
		/* Nothing of the record but pflags, l4_off, l4_proto and the key ports written;
		 * a later fragment's ports are left zero (its fragment table stamps them). */
		struct pl_pkt_meta want;
		memset(&want, 0xa5, sizeof(want));
		want.pflags = pm->pflags;
		want.l4_off = pm->l4_off;
		want.l4_proto = pm->l4_proto;
		memcpy(want.ports, pm->ports, sizeof(want.ports));
		CHECK(!(pm->pflags & PL_PARSE_FRAG_LATER) ||
			(pm->ports[0] == 0 && pm->ports[1] == 0));
		CHECK(memcmp(&want, pm, sizeof(want)) == 0);
		check_ok(&mb, pm);
		/* A stage parses a rebuilt packet again: the same record. */
		uint16_t dlen = mb.data_len;
		CHECK(pl_parse(&mb) == PL_PARSE_OK);
		CHECK(memcmp(&want, pm, sizeof(want)) == 0 && mb.data_len == dlen);
	}
	free(orig);
	free(buf);
	return 0;
}
