/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the state bus's decoders: the envelope (ipc/pl_bus.c, pl_bus_decode,
 * what every consumer and producer runs on each frame a peer sends) and the object payloads
 * (ipc/pl_objects.c: "interface" and "route", what io-worker and router decode from a SET).
 * Built in the sanitizer build (tests/fuzz/meson.build); run it with tests/fuzz/run_fuzz.sh.
 *
 * Input: one control byte, then the bytes to decode. Control byte % 3: 0 an envelope (and, if
 * it carries a value, that value as both payloads), 1 an "interface" payload, 2 a "route"
 * payload. Seeds: tests/fuzz/corpus_bus, written by make_corpus_bus.py.
 *
 * Invariants (abort() on a violation, which libFuzzer reports as a crash): a decoder returns 0
 * or a negative errno and, on failure, leaves its output as it was (the envelope: zeroed); what
 * it accepts, the encoder encodes, the encoding decodes to the same thing, and encoding that
 * again gives the same bytes (decode -> encode -> decode -> encode is a fixed point); an
 * envelope's value lies inside the input; a message larger than max_size is refused as such. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_bus.h"
#include "pl_objects.h"

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "fuzz_bus: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                            \
			abort();                                                             \
		}                                                                            \
	} while (0)

#define MAX_IN 65536

static uint8_t enc1[MAX_IN + 256], enc2[MAX_IN + 256];

static bool prefix_eq(const struct pl_prefix *a, const struct pl_prefix *b)
{
	return a->family == b->family && a->len == b->len && memcmp(a->addr, b->addr, 16) == 0;
}

static void check_iface(const uint8_t *d, size_t n)
{
	struct pl_obj_iface a, b, c;
	memset(&a, 0x5a, sizeof(a));
	memset(&c, 0x5a, sizeof(c));
	int rc = pl_obj_iface_decode(d, n, &a);
	CHECK(rc == 0 || rc == -EBADMSG);
	if (rc) {
		CHECK(memcmp(&a, &c, sizeof(a)) == 0); /* untouched */
		return;
	}
	CHECK(a.name[0] && a.role >= PL_ROLE_UPLINK && a.role <= PL_ROLE_POD);
	CHECK(a.n_addrs <= PL_OBJ_MAX_ADDRS && a.n_allow_src <= PL_OBJ_MAX_ADDRS);
	int n1 = pl_obj_iface_encode(&a, enc1, sizeof(enc1));
	CHECK(n1 > 0);
	memset(&b, 0, sizeof(b));
	CHECK(pl_obj_iface_decode(enc1, (size_t)n1, &b) == 0);
	CHECK(a.index == b.index && a.role == b.role && a.mtu == b.mtu);
	CHECK(strcmp(a.name, b.name) == 0 && strcmp(a.netns, b.netns) == 0);
	CHECK(strcmp(a.driver, b.driver) == 0 && memcmp(a.mac, b.mac, 6) == 0);
	CHECK(a.n_addrs == b.n_addrs && a.n_allow_src == b.n_allow_src);
	for (unsigned int i = 0; i < a.n_addrs; i++)
		CHECK(prefix_eq(&a.addrs[i], &b.addrs[i]));
	for (unsigned int i = 0; i < a.n_allow_src; i++)
		CHECK(prefix_eq(&a.allow_src[i], &b.allow_src[i]));
	int n2 = pl_obj_iface_encode(&b, enc2, sizeof(enc2));
	CHECK(n2 == n1 && memcmp(enc1, enc2, (size_t)n1) == 0);
}

static void check_route(const uint8_t *d, size_t n)
{
	struct pl_obj_route a, b, c;
	memset(&a, 0x5a, sizeof(a));
	memset(&c, 0x5a, sizeof(c));
	int rc = pl_obj_route_decode(d, n, &a);
	CHECK(rc == 0 || rc == -EBADMSG);
	if (rc) {
		CHECK(memcmp(&a, &c, sizeof(a)) == 0);
		return;
	}
	CHECK(!a.has_gw || a.gw.family == a.dst.family);
	int n1 = pl_obj_route_encode(&a, enc1, sizeof(enc1));
	CHECK(n1 > 0);
	memset(&b, 0, sizeof(b));
	CHECK(pl_obj_route_decode(enc1, (size_t)n1, &b) == 0);
	CHECK(prefix_eq(&a.dst, &b.dst) && a.has_gw == b.has_gw && a.if_index == b.if_index);
	CHECK(!a.has_gw || prefix_eq(&a.gw, &b.gw));
	int n2 = pl_obj_route_encode(&b, enc2, sizeof(enc2));
	CHECK(n2 == n1 && memcmp(enc1, enc2, (size_t)n1) == 0);
	/* The key router files it under names the destination. */
	char key[PL_BUS_KEY_SIZE];
	struct pl_prefix k;
	CHECK(pl_obj_route_key(&a, key, sizeof(key)) == 0);
	CHECK(pl_prefix_parse(key, &k) == 0 && prefix_eq(&k, &a.dst));
}

static void check_envelope(const uint8_t *d, size_t n)
{
	struct pl_bus_msg a, b;
	memset(&a, 0x5a, sizeof(a));
	int rc = pl_bus_decode(d, n, MAX_IN, &a);
	CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT || rc == -EMSGSIZE);
	if (n > 0) {
		/* One byte over the limit is refused as too large, whatever it holds. */
		struct pl_bus_msg t;
		CHECK(pl_bus_decode(d, n, n - 1, &t) == -EMSGSIZE);
	}
	if (rc) {
		static const struct pl_bus_msg zero;
		CHECK(memcmp(&a, &zero, sizeof(a)) == 0);
		return;
	}
	CHECK(a.version == PL_BUS_VERSION);
	CHECK(a.op >= PL_BUS_OP_SET && a.op <= PL_BUS_OP_ICANHAZ);
	CHECK(memchr(a.kind, '\0', sizeof(a.kind)) && memchr(a.key, '\0', sizeof(a.key)));
	CHECK(!a.value_size || (a.value >= d && a.value + a.value_size <= d + n));
	int n1 = pl_bus_encode(&a, enc1, sizeof(enc1));
	CHECK(n1 > 0);
	CHECK(pl_bus_decode(enc1, (size_t)n1, sizeof(enc1), &b) == 0);
	CHECK(a.op == b.op && a.incarnation == b.incarnation && a.seq == b.seq);
	CHECK(strcmp(a.kind, b.kind) == 0 && strcmp(a.key, b.key) == 0);
	CHECK(a.value_size == b.value_size);
	CHECK(!a.value_size || memcmp(a.value, b.value, a.value_size) == 0);
	/* b.value points into enc1: encode it to the other buffer. */
	int n2 = pl_bus_encode(&b, enc2, sizeof(enc2));
	CHECK(n2 > 0);
	CHECK(n2 == n1 && memcmp(enc1, enc2, (size_t)n1) == 0);
	if (a.value_size) {
		check_iface(a.value, a.value_size);
		check_route(a.value, a.value_size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > MAX_IN)
		return -1;
	/* A copy of its own size: one byte past the end is a heap overflow for ASan. */
	size_t n = size - 1;
	uint8_t *d = malloc(n ? n : 1);
	CHECK(d);
	memcpy(d, data + 1, n);
	switch (data[0] % 3) {
	case 0:
		check_envelope(d, n);
		break;
	case 1:
		check_iface(d, n);
		break;
	default:
		check_route(d, n);
	}
	free(d);
	return 0;
}
