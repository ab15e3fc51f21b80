/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the cni-server's gRPC request decoding (services/cni-server/
 * cniserver_grpc.c): the bytes of an Add or Del call's message, unpacked by protobuf-c as
 * run() does, and an Add checked by add_check (everything run_add verifies before it creates
 * a pod: names, netns path, 1..16 container addresses, the allowed-sources annotation's JSON).
 * The module's static functions are reached by including its source; no server, no pod.
 *
 * Input: one control byte (bit 0: Add, else Del), then the message. Seeds: tests/fuzz/
 * corpus_grpc (requests as the podlane-cni plugin and tests/cni/grpc_call.c build them with
 * protobuf-c, written by make_corpus_grpc.py).
 *
 * Invariants: a message protobuf-c takes packs again, and when protobuf-c takes that packing
 * too, it is a fixed point (pack(unpack(pack(unpack(x)))) == pack(unpack(x))); every string field is non-NULL; an
 * Add that add_check accepts has 1..16 host prefixes (/32, /128) and at most 16 allowed
 * sources; one it refuses has a reason. */
#include "../../services/cni-server/cniserver_grpc.c"

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_grpc: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                             \
			abort();                                                              \
		}                                                                             \
	} while (0)

static void fixed_point(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
	size_t n1 = protobuf_c_message_get_packed_size(m);
	uint8_t *b1 = malloc(n1 ? n1 : 1), *b2;
	CHECK(b1 && protobuf_c_message_pack(m, b1) == n1);
	ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, n1, b1);
	if (!again) {
		/* protobuf-c (1.4.1) re-packs some inputs it took into bytes it refuses (kept
		 * unknown fields): the library's, and harmless here - the server never re-packs a
		 * request. */
		free(b1);
		return;
	}
	size_t n2 = protobuf_c_message_get_packed_size(again);
	b2 = malloc(n2 ? n2 : 1);
	CHECK(b2 && protobuf_c_message_pack(again, b2) == n2);
	CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
	protobuf_c_message_free_unpacked(again, NULL);
	free(b1);
	free(b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return -1;
	size_t len = size - 1;
	/* A copy of its own size: a read past it is a heap overflow. */
	uint8_t *msg = malloc(len ? len : 1);
	CHECK(msg);
	memcpy(msg, data + 1, len);
	if (data[0] & 1) {
		Cni__AddRequest *q = cni__add_request__unpack(NULL, len, msg);
		if (q) {
			CHECK(q->netns && q->interface_name);
			fixed_point(&q->base, &cni__add_request__descriptor);
			struct pl_prefix addrs[PL_OBJ_MAX_ADDRS], allow[PL_OBJ_MAX_ADDRS];
			unsigned int n_allow = 0;
			char err[ERR_SIZE] = "";
			int rc = add_check(q, addrs, allow, &n_allow, err);
			if (rc == 0) {
				CHECK(q->n_container_ips >= 1 &&
					q->n_container_ips <= PL_OBJ_MAX_ADDRS);
				for (size_t i = 0; i < q->n_container_ips; i++)
					CHECK(addrs[i].len ==
						(addrs[i].family == AF_INET ? 32 : 128));
				CHECK(n_allow <= PL_OBJ_MAX_ADDRS);
			} else {
				CHECK(rc < 0 && err[0]);
			}
			cni__add_request__free_unpacked(q, NULL);
		}
	} else {
		Cni__DelRequest *q = cni__del_request__unpack(NULL, len, msg);
		if (q) {
			CHECK(q->netns && q->interface_name);
			fixed_point(&q->base, &cni__del_request__descriptor);
			cni__del_request__free_unpacked(q, NULL);
		}
	}
	free(msg);
	return 0;
}
