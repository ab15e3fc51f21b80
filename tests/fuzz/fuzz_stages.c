/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the packet path: io-worker's ingress, nat-lb, policy, router and
 * io-worker's output in one process over the tables of tests/harness/stages_world.c (the world
 * of the unit test `stages`, whose frames are the seeds: PODLANE_STAGES_CORPUS=DIR
 * test_stages writes them).
 *
 * Input: one control byte, then the frame (Ethernet first). Control bits 0-6 modulo
 * WORLD_N_INGRESS pick the interface it enters on (world_ingress: uplink, host tap, pods).
 * Bit 7: write the right IPv4 header checksum first (when the frame has an IPv4 EtherType and
 * a header whose IHL fits), so that mutated IPv4 inputs get past the checksum check.
 *
 * Every input starts with no session (a flush), runs, and then the clock moves 600 ms on (held
 * later fragments are released or dropped). Checked after each (abort() on a violation, which
 * libFuzzer reports as a crash), besides every sanitizer report:
 *   - no buffer is lost: the mbufs out of the pools are exactly those held on purpose (later
 *     fragments waiting for their first, packets waiting for a neighbour);
 *   - the verdict is one of the four, a drop has a drop reason that is not `none`, and exactly
 *     that drop reason's counter moved for it;
 *   - policy: nothing reaches the isolated pod (deny-all ingress) from anywhere but the host
 *     tap or itself — with no session left from earlier inputs no reply or related packet
 *     can be allowed either.
 * Note: mempool buffers carry no ASan redzones, so a read just past a frame inside its buffer
 * is not seen here (tests/fuzz/fuzz_parse.c covers the parse with malloc'd frames). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages_world.h"

static struct stage_harness *H;
static unsigned int baseline;

static void violated(const char *what)
{
	fprintf(stderr, "fuzz_stages: invariant broken: %s\n", what);
	abort();
}

static void fix_ipv4_csum(uint8_t *f, size_t n)
{
	if (n < 14 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return;
	uint8_t *ip = f + 14;
	size_t ihl = (ip[0] & 15) * 4u;
	if (ihl < 20 || 14 + ihl > n)
		return;
	ip[10] = ip[11] = 0;
	uint32_t s = 0;
	for (size_t i = 0; i < ihl; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	uint16_t c = (uint16_t)~s;
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char err[256] = "";
	H = world_new(false, err, sizeof(err));
	if (!H || h_neigh_learn(H, "192.168.1.1", "02:00:00:00:01:01") ||
		h_neigh_learn(H, "192.168.1.11", "02:00:00:00:01:11") ||
		h_neigh_learn(H, "fd00:1::1", "02:00:00:00:01:01")) {
		fprintf(stderr, "fuzz_stages: harness: %s\n", err);
		exit(1);
	}
	baseline = h_mbufs_in_use(H);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[65536];
	static struct h_result r;
	if (size < 1 || size - 1 > sizeof(frame))
		return 0;
	uint16_t rx_if = world_ingress[(data[0] & 0x7f) % WORLD_N_INGRESS];
	size_t n = size - 1;
	memcpy(frame, data + 1, n);
	if (data[0] & 0x80)
		fix_ipv4_csum(frame, n);
	h_flush_sessions(H);
	if (h_inject(H, rx_if, frame, n, &r) != 0)
		return 0; /* no buffer for it (too long): not a packet-path question */
	if ((unsigned int)r.verdict > H_L2)
		violated("verdict out of range");
	if (r.verdict == H_DROPPED &&
		(r.drop_reason == PL_DROP_NONE || r.drop_reason >= PL_DROP_MAX ||
			r.iow[PL_IOW_DROP(r.drop_reason)] == 0))
		violated("a drop without its reason counted");
	if (r.iow[PL_IOW_DROP(PL_DROP_NONE)])
		violated("a packet freed without a reason");
	for (unsigned int i = 0; i < r.n_out; i++)
		if (r.out[i].tx_if == IF_ISO && !r.out[i].l2 && rx_if != IF_HOST && rx_if != IF_ISO)
			violated("a packet reached the isolated pod");
	h_advance(H, 600, &r);
	if (h_mbufs_in_use(H) - h_mbufs_held(H) != baseline)
		violated("an mbuf was lost");
	return 0;
}
