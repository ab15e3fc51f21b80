/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the CNI plugin's JSON (tools/podlane-cni.c): the network configuration
 * a container runtime writes to its stdin (parse_json + parse_config, with parse_socket) and
 * the result its IPAM plugin prints (parse_json + ipam_ips, with parse_cidr). The plugin's
 * static functions are reached by including its source, its main() renamed; nothing is
 * executed, no IPAM plugin and no gRPC call.
 *
 * Input: one control byte, then the JSON. Control bit 0 clear: a network configuration; set:
 * an IPAM result (cniVersion 1.0.0 / 0.3.1 shape). Seeds: tests/fuzz/corpus_cni (the shipped
 * etc/cni/10-podlane.conflist's plugin, the configurations tests/cni/test_cni_plugin.sh passes,
 * host-local's results).
 *
 * Invariants: 0, or a CNI error code with a message; an accepted configuration has a supported
 * cniVersion, an ipam.type that is a name (no '/', not "." or ".."), mtu 0 or within
 * 576..9000, and an absolute socket path; an accepted IPAM result has 1..16 addresses, each
 * address/32 or /128 of its family that parse_cidr takes again. */
#define main podlane_cni_main
#include "../../tools/podlane-cni.c"
#undef main

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "fuzz_cni: %s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                            \
			abort();                                                             \
		}                                                                            \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return -1;
	struct plugin p;
	memset(&p, 0, sizeof(p));
	p.stdin_size = size - 1;
	/* A buffer of its own size: a read past it is a heap overflow. */
	p.stdin_data = malloc(p.stdin_size ? p.stdin_size : 1);
	CHECK(p.stdin_data);
	memcpy(p.stdin_data, data + 1, p.stdin_size);

	if (!(data[0] & 1)) {
		int rc = parse_config(&p);
		if (rc) {
			CHECK(rc > 0 && rc == p.err_code && p.err_msg[0]);
		} else {
			CHECK(p.err_code == 0 && version_supported(p.version));
			CHECK(p.ipam_type && p.ipam_type[0] && !strchr(p.ipam_type, '/'));
			CHECK(strcmp(p.ipam_type, ".") && strcmp(p.ipam_type, ".."));
			CHECK(p.mtu == 0 || (p.mtu >= MTU_MIN && p.mtu <= MTU_MAX));
			CHECK(p.socket_path[0] == '/');
		}
	} else {
		char why[128] = "";
		struct pod_ip ips[MAX_IPS];
		size_t n = 0;
		p.ipam_type = "host-local";
		struct json_object *res = parse_json(p.stdin_data, p.stdin_size, why, sizeof(why));
		CHECK(res || why[0]);
		if (res) {
			int rc = ipam_ips(&p, res, ips, &n);
			if (rc) {
				CHECK(rc > 0 && rc == p.err_code && p.err_msg[0]);
			} else {
				CHECK(n >= 1 && n <= MAX_IPS);
				for (size_t i = 0; i < n; i++) {
					struct pod_ip again;
					int want = ips[i].family == AF_INET ? 32 : 128;
					CHECK(ips[i].family == AF_INET ||
						ips[i].family == AF_INET6);
					CHECK(parse_cidr(ips[i].cidr, &again) == want);
					CHECK(strcmp(again.addr, ips[i].addr) == 0);
				}
			}
			json_object_put(res);
		}
	}
	json_object_put(p.conf);
	free(p.stdin_data);
	return 0;
}
