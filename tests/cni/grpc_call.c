/* SPDX-License-Identifier: Apache-2.0 */
/* grpc_call: the tests' stand-in for the Calico CNI plugin. One unary cni.CniDataplane call
 * (grpc core + protobuf-c) on a unix socket, deadline 5 s like Calico's; prints the reply as
 * one JSON line. Exit 0 when the call completed (whatever "successful" says), 2 on a transport
 * error (grpc status on stderr), 1 on bad usage.
 *   grpc_call SOCKET add NETNS IFNAME ADDR...   |   grpc_call SOCKET del NETNS IFNAME
 *   grpc_call SOCKET call METHOD_PATH [HEX]     (raw request bytes to any method, for tests) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "cnibackend.pb-c.h"

#define DEADLINE_MS 5000
#define MAX_ADDRS 16

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: grpc_call SOCKET add NETNS IFNAME ADDR...\n"
			"       grpc_call SOCKET del NETNS IFNAME\n"
			"       grpc_call SOCKET call METHOD_PATH [HEX]\n");
	exit(1);
}

/* Writes s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
	size_t size = protobuf_c_message_get_packed_size(m);
	grpc_slice s = grpc_slice_malloc(size);
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

/* One unary call. Returns the grpc status; *reply is the reply's bytes (caller unrefs). */
static grpc_status_code call(const char *sock, const char *method, grpc_byte_buffer *req,
	grpc_slice *reply, bool *has_reply, char **details)
{
	char target[256];
	gpr_timespec deadline = gpr_time_add(
		gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(DEADLINE_MS, GPR_TIMESPAN));
	snprintf(target, sizeof(target), "%s%s", strncmp(sock, "unix:", 5) ? "unix:" : "", sock);
	grpc_channel_credentials *cr = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(target, cr, NULL);
	grpc_channel_credentials_release(cr);
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_call *c = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
		grpc_slice_from_static_string(method), NULL, deadline, NULL);
	grpc_metadata_array md, trailing;
	grpc_metadata_array_init(&md);
	grpc_metadata_array_init(&trailing);
	grpc_byte_buffer *rb = NULL;
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice det = grpc_empty_slice();
	const char *errstr = NULL;
	grpc_op ops[6];
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &rb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &det;
	ops[5].data.recv_status_on_client.error_string = &errstr;
	grpc_call_error e = grpc_call_start_batch(c, ops, 6, (void *)1, NULL);
	if (e != GRPC_CALL_OK) {
		fprintf(stderr, "grpc_call: start_batch: %s\n", grpc_call_error_to_string(e));
		exit(2);
	}
	/* The call's own deadline ends it; wait a little longer for that to be reported. */
	grpc_event ev = grpc_completion_queue_pluck(cq, (void *)1,
		gpr_time_add(deadline, gpr_time_from_millis(2000, GPR_TIMESPAN)), NULL);
	if (ev.type != GRPC_OP_COMPLETE) {
		status = GRPC_STATUS_DEADLINE_EXCEEDED;
		*details = strdup("no completion");
	} else {
		char *d = grpc_slice_to_c_string(det);
		size_t n = strlen(d) + (errstr ? strlen(errstr) : 0) + 4;
		*details = malloc(n);
		snprintf(*details, n, "%s%s%s", d, errstr ? "; " : "", errstr ? errstr : "");
		gpr_free(d);
	}
	*has_reply = rb != NULL;
	if (rb) {
		grpc_byte_buffer_reader r;
		grpc_byte_buffer_reader_init(&r, rb);
		*reply = grpc_byte_buffer_reader_readall(&r);
		grpc_byte_buffer_reader_destroy(&r);
		grpc_byte_buffer_destroy(rb);
	}
	if (errstr)
		gpr_free((void *)errstr);
	grpc_slice_unref(det);
	grpc_metadata_array_destroy(&md);
	grpc_metadata_array_destroy(&trailing);
	grpc_call_unref(c);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			.type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	return status;
}

int main(int argc, char **argv)
{
	const char *method;
	grpc_byte_buffer *req;
	Cni__AddRequest add = CNI__ADD_REQUEST__INIT;
	Cni__DelRequest del = CNI__DEL_REQUEST__INIT;
	Cni__IPConfig ips[MAX_ADDRS], *ipp[MAX_ADDRS];
	if (argc < 4)
		usage();
	grpc_init();
	if (strcmp(argv[2], "add") == 0) {
		if (argc < 6 || argc - 5 > MAX_ADDRS)
			usage();
		add.netns = argv[3];
		add.interface_name = argv[4];
		for (int i = 5; i < argc; i++) {
			cni__ipconfig__init(&ips[i - 5]);
			ips[i - 5].address = argv[i];
			ipp[i - 5] = &ips[i - 5];
		}
		add.n_container_ips = (size_t)(argc - 5);
		add.container_ips = ipp;
		method = "/cni.CniDataplane/Add";
		req = pack(&add.base);
	} else if (strcmp(argv[2], "del") == 0) {
		if (argc != 5)
			usage();
		del.netns = argv[3];
		del.interface_name = argv[4];
		method = "/cni.CniDataplane/Del";
		req = pack(&del.base);
	} else if (strcmp(argv[2], "call") == 0) {
		const char *hex = argc == 5 ? argv[4] : "";
		size_t n = strlen(hex) / 2;
		if (argc > 5 || strlen(hex) % 2)
			usage();
		method = argv[3];
		grpc_slice raw = grpc_slice_malloc(n);
		for (size_t i = 0; i < n; i++) {
			unsigned int b;
			if (sscanf(hex + 2 * i, "%2x", &b) != 1)
				usage();
			GRPC_SLICE_START_PTR(raw)[i] = (uint8_t)b;
		}
		req = grpc_raw_byte_buffer_create(&raw, 1);
		grpc_slice_unref(raw);
	} else {
		usage();
	}

	grpc_slice reply;
	bool has_reply = false;
	char *details = NULL;
	grpc_status_code st = call(argv[1], method, req, &reply, &has_reply, &details);
	grpc_byte_buffer_destroy(req);
	size_t mlen = strlen(method);
	bool is_del = mlen >= 4 && strcmp(method + mlen - 4, "/Del") == 0;
	int rc = 0;
	if (st != GRPC_STATUS_OK || !has_reply) {
		fprintf(stderr, "grpc_call: status %d: %s\n", (int)st, details ? details : "");
		rc = 2;
	} else if (is_del) {
		Cni__DelReply *r = cni__del_reply__unpack(
			NULL, GRPC_SLICE_LENGTH(reply), GRPC_SLICE_START_PTR(reply));
		if (!r) {
			fprintf(stderr, "grpc_call: malformed reply\n");
			rc = 2;
		} else {
			printf("{\"successful\":%s,\"error_message\":",
				r->successful ? "true" : "false");
			json_str(r->error_message);
			printf("}\n");
			cni__del_reply__free_unpacked(r, NULL);
		}
	} else {
		Cni__AddReply *r = cni__add_reply__unpack(
			NULL, GRPC_SLICE_LENGTH(reply), GRPC_SLICE_START_PTR(reply));
		if (!r) {
			fprintf(stderr, "grpc_call: malformed reply\n");
			rc = 2;
		} else {
			printf("{\"successful\":%s,\"error_message\":",
				r->successful ? "true" : "false");
			json_str(r->error_message);
			printf(",\"host_interface_name\":");
			json_str(r->host_interface_name);
			printf("}\n");
			cni__add_reply__free_unpacked(r, NULL);
		}
	}
	if (has_reply)
		grpc_slice_unref(reply);
	free(details);
	grpc_shutdown();
	return rc;
}
