/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration: one YAML file (/etc/podlane/podlane.yaml by default) parsed with libyaml into
 * an immutable struct. Every option has a default; every error names FILE:LINE and what was
 * expected. The option table in pl_config.c is the single list of options: it drives parsing,
 * defaults, range checks and `podlane-<svc> --help-config`. */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PL_CONFIG_DEFAULT_PATH "/etc/podlane/podlane.yaml"
#define PL_CONFIG_STR_SIZE 256
#define PL_CONFIG_ERR_SIZE 512

struct pl_config {
	char path[PL_CONFIG_STR_SIZE]; /* file it came from, "" for built-in defaults */
	char node_name[64]; /* node_name */
	char run_dir[PL_CONFIG_STR_SIZE]; /* run_dir: sockets, shared stats file, pid/lock files */
	char bin_dir
		[PL_CONFIG_STR_SIZE]; /* bin_dir: where the supervisor finds the services; "" = its own dir */
	char log_level[16]; /* log.level: err|warn|info|debug */

	struct {
		char file_prefix[64]; /* dpdk.file_prefix */
		char huge_dir[PL_CONFIG_STR_SIZE]; /* dpdk.huge_dir */
		char cpus[64]; /* dpdk.cpus: cpu set every lcore floats on, e.g. "0-1" */
		uint32_t
			lcore_base; /* dpdk.lcore_base: lcore id of the supervisor; services follow */
		uint32_t mbufs; /* dpdk.mbufs: packets in the shared pool */
		uint32_t big_mbufs; /* dpdk.big_mbufs: 64 KB buffers for super-packets */
		uint32_t ring_size; /* dpdk.ring_size: slots per pipeline ring (power of two) */
		uint32_t
			socket_mem_mb; /* dpdk.socket_mem_mb: hugepage memory the primary reserves */
	} dpdk;

	struct {
		uint32_t burst; /* pipeline.burst */
		uint32_t idle_spin_us; /* pipeline.idle_spin_us: empty polling before sleeping */
		uint32_t sleep_ms; /* pipeline.sleep_ms: longest sleep (housekeeping period) */
		bool fast_path; /* pipeline.fast_path: io-worker forwards established flows itself */
		uint32_t max_sojourn_ms; /* pipeline.max_sojourn_ms: older ones dropped (0: off) */
	} pipeline;

	struct {
		uint32_t backoff_min_ms; /* supervisor.backoff_min_ms */
		uint32_t backoff_max_ms; /* supervisor.backoff_max_ms */
		uint32_t quiet_ms; /* supervisor.quiet_ms: run this long to reset the back-off */
		uint32_t stop_timeout_ms; /* supervisor.stop_timeout_ms: SIGTERM, then SIGKILL */
		uint32_t ready_timeout_ms; /* supervisor.ready_timeout_ms */
		char metrics_address[64]; /* supervisor.metrics_address: IPv4/IPv6 literal */
		uint32_t metrics_port; /* supervisor.metrics_port: 0 disables /metrics */
		bool spawn_services; /* supervisor.spawn_services: false when systemd runs them */
		bool standby; /* supervisor.standby: a warm standby per pipeline stage */
		uint32_t hang_ms; /* supervisor.hang_ms: no progress this long = hung (0: off) */
		uint32_t hang_control_ms; /* supervisor.hang_control_ms: control work, cni, bgp */
	} supervisor;

	struct {
		uint32_t heartbeat_ms; /* bus.heartbeat_ms */
		uint32_t dead_after_ms; /* bus.dead_after_ms: no heartbeat this long -> resync */
		uint32_t max_message_size; /* bus.max_message_size: bytes */
		uint32_t max_objects; /* bus.max_objects: per consumer */
	} bus;

	struct {
		uint32_t max_request_size; /* admin.max_request_size: bytes over all frames */
	} admin;

	struct {
		bool enabled; /* synthetic.enabled: io-worker's built-in source/sink port */
	} synthetic;

	struct {
		char interface[16]; /* uplink.interface: "" = none */
		char driver[16]; /* uplink.driver: af_packet | af_xdp | dpdk */
		char dpdk_devargs[PL_CONFIG_STR_SIZE]; /* uplink.dpdk_devargs */
		char state_file[PL_CONFIG_STR_SIZE]; /* uplink.state_file */
	} uplink;

	struct {
		char gateway_v4[64]; /* pods.gateway_v4 */
		char gateway_v6[64]; /* pods.gateway_v6 */
		uint32_t max_pods; /* pods.max_pods */
		uint32_t mtu; /* pods.mtu */
		char state_file[PL_CONFIG_STR_SIZE]; /* pods.state_file */
	} pods;

	struct {
		char source[16]; /* datastore.source: dir | etcd */
		char dir[PL_CONFIG_STR_SIZE]; /* datastore.dir */
		char etcd_endpoint
			[PL_CONFIG_STR_SIZE]; /* datastore.etcd_endpoint: http://host:port */
		char etcd_prefix[PL_CONFIG_STR_SIZE]; /* datastore.etcd_prefix: key prefix */
	} datastore;

	struct {
		uint32_t max_sessions; /* services.max_sessions: conntrack capacity */
		uint32_t
			max_frontends; /* services.max_frontends: (address, port, protocol) entries */
		uint32_t
			max_backends; /* services.max_backends: endpoint entries over all services */
		uint32_t tcp_syn_timeout_s; /* services.tcp_syn_timeout_s */
		uint32_t tcp_established_timeout_s; /* services.tcp_established_timeout_s */
		uint32_t tcp_closing_timeout_s; /* services.tcp_closing_timeout_s */
		uint32_t udp_timeout_s; /* services.udp_timeout_s */
	} services;

	struct {
		uint32_t max_endpoints; /* policy.max_endpoints: pod addresses */
		uint32_t max_rules; /* policy.max_rules: rules (and policies, ports, ipBlocks) */
	} policy;

	struct {
		char socket[PL_CONFIG_STR_SIZE]; /* cni.socket: gRPC unix socket path */
		uint32_t max_pending; /* cni.max_pending: calls in flight at most */
	} cni;

	struct {
		uint32_t icmp_rate; /* router.icmp_rate: ICMP errors per second */
	} router;

	struct {
		uint32_t max_entries; /* neighbor.max_entries */
		uint32_t reachable_s; /* neighbor.reachable_s */
		uint32_t pending_max; /* neighbor.pending_max */
	} neighbor;
};

/* Fills *cfg with every default. */
void pl_config_defaults(struct pl_config *cfg);

/* Loads `path` over the defaults. path NULL: the default path, and a missing default file is
 * not an error (defaults are used). Returns 0, or -errno with a one-line message in err
 * ("FILE:LINE: ..."); *cfg is then left with the defaults only, never half-applied. */
int pl_config_load(struct pl_config *cfg, const char *path, char *err, size_t err_size);

/* Same from a memory buffer; `name` stands for the file in messages. */
int pl_config_load_buffer(struct pl_config *cfg, const char *name, const char *buf, size_t len,
	char *err, size_t err_size);

/* Prints every option with its type, range and default (for --help-config). */
void pl_config_print_options(FILE *out);

#endif
