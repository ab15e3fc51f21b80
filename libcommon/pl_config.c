/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration loader: one static option table (path, type, field, default, range, help) drives
 * defaults, YAML parsing, range checks and --help-config. The YAML is read with libyaml's event
 * API into a scratch struct that starts from the defaults; *cfg only receives it when the whole
 * file was accepted, so a caller never sees a half-applied configuration. */
#include "pl_config.h"
#include "pl_yaml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define MAX_FILE_SIZE (1024 * 1024)
/* How much of an offending value is quoted back in a message. */
#define QUOTE_MAX 64

enum opt_type {
	OPT_STR,
	OPT_U32,
	OPT_BOOL,
	OPT_ENUM,
};

enum {
	OPT_F_NONEMPTY = 1 << 0, /* string must not be empty */
	OPT_F_POW2 = 1 << 1, /* integer must be a power of two */
	OPT_F_INET = 1 << 2, /* string must be an IPv4 or IPv6 literal */
	OPT_F_HOSTNAME = 1 << 3, /* default is gethostname(), falling back to def_str */
};

struct opt {
	const char *path; /* dotted: "section.key", or "key" at the top level */
	enum opt_type type;
	size_t off; /* offsetof into struct pl_config */
	size_t size; /* sizeof the field: string capacity including the NUL */
	uint32_t min, max;
	uint32_t def_u32; /* default of OPT_U32 and OPT_BOOL */
	const char *def_str; /* default of OPT_STR and OPT_ENUM */
	const char *const *choices; /* NULL-terminated, OPT_ENUM only */
	unsigned int flags;
	const char *help;
};

#define FIELD(f) .off = offsetof(struct pl_config, f), .size = sizeof(((struct pl_config *)0)->f)
#define OPT_STRING(p, f, def, fl, h)                                                         \
	{                                                                                    \
		.path = p, .type = OPT_STR, FIELD(f), .def_str = def, .flags = fl, .help = h \
	}
#define OPT_UINT(p, f, lo, hi, def, fl, h)                                                  \
	{                                                                                   \
		.path = p, .type = OPT_U32, FIELD(f), .min = lo, .max = hi, .def_u32 = def, \
		.flags = fl, .help = h                                                      \
	}
#define OPT_BOOLEAN(p, f, def, h)                                                \
	{                                                                        \
		.path = p, .type = OPT_BOOL, FIELD(f), .def_u32 = def, .help = h \
	}
#define OPT_CHOICE(p, f, ch, def, h)                                                            \
	{                                                                                       \
		.path = p, .type = OPT_ENUM, FIELD(f), .choices = ch, .def_str = def, .help = h \
	}

static const char *const log_levels[] = { "err", "warn", "info", "debug", NULL };
static const char *const uplink_drivers[] = { "af_packet", "af_xdp", "dpdk", NULL };
static const char *const datastore_sources[] = { "dir", "etcd", NULL };

/* The single list of options. */
static const struct opt options[] = {
	OPT_STRING("node_name", node_name, "node", OPT_F_NONEMPTY | OPT_F_HOSTNAME,
		"name of this node (default: the host name)"),
	OPT_STRING("run_dir", run_dir, "/run/podlane", OPT_F_NONEMPTY,
		"sockets, shared stats file, pid/lock files (ours alone: 0700)"),
	OPT_STRING("bin_dir", bin_dir, "", 0,
		"where the supervisor finds the services; empty = its own directory"),
	OPT_CHOICE("log.level", log_level, log_levels, "info", "default log threshold"),

	OPT_STRING("dpdk.file_prefix", dpdk.file_prefix, "podlane", OPT_F_NONEMPTY,
		"DPDK --file-prefix shared by all processes"),
	OPT_STRING("dpdk.huge_dir", dpdk.huge_dir, "/dev/hugepages", OPT_F_NONEMPTY,
		"hugetlbfs mount"),
	OPT_STRING("dpdk.cpus", dpdk.cpus, "0-1", OPT_F_NONEMPTY,
		"cpu set every lcore floats on, e.g. \"0-1\""),
	OPT_UINT("dpdk.lcore_base", dpdk.lcore_base, 0, 112, 1, 0,
		"lcore id of the supervisor; services follow (standbys 8 further)"),
	OPT_UINT("dpdk.mbufs", dpdk.mbufs, 1024, 1048576, 16384, 0, "packets in the shared pool"),
	OPT_UINT("dpdk.big_mbufs", dpdk.big_mbufs, 16, 65536, 256, 0,
		"64 KB buffers for super-packets (segmentation offload) in the shared big pool"),
	OPT_UINT("dpdk.ring_size", dpdk.ring_size, 64, 65536, 1024, OPT_F_POW2,
		"slots per pipeline ring (power of two)"),
	OPT_UINT("dpdk.socket_mem_mb", dpdk.socket_mem_mb, 64, 65536, 256, 0,
		"hugepage memory the primary reserves, MiB"),

	OPT_UINT("pipeline.burst", pipeline.burst, 1, 256, 32, 0, "packets per burst"),
	OPT_UINT("pipeline.idle_spin_us", pipeline.idle_spin_us, 0, 1000000, 200, 0,
		"empty polling before sleeping, microseconds"),
	OPT_UINT("pipeline.sleep_ms", pipeline.sleep_ms, 1, 60000, 1000, 0,
		"longest sleep (housekeeping period), milliseconds"),
	OPT_BOOLEAN("pipeline.fast_path", pipeline.fast_path, true,
		"io-worker forwards packets of established flows on the decisions the stages made"),
	OPT_UINT("pipeline.max_sojourn_ms", pipeline.max_sojourn_ms, 0, 60000, 1000, 0,
		"older packets are dropped at the pipeline's end as stale, milliseconds (0: "
		"never)"),

	OPT_UINT("supervisor.backoff_min_ms", supervisor.backoff_min_ms, 1, 600000, 100, 0,
		"first restart delay, milliseconds"),
	OPT_UINT("supervisor.backoff_max_ms", supervisor.backoff_max_ms, 1, 3600000, 10000, 0,
		"restart delay cap (>= backoff_min_ms), milliseconds"),
	OPT_UINT("supervisor.quiet_ms", supervisor.quiet_ms, 0, 86400000, 30000, 0,
		"run this long to reset the back-off, milliseconds"),
	OPT_UINT("supervisor.stop_timeout_ms", supervisor.stop_timeout_ms, 1, 600000, 3000, 0,
		"SIGTERM, then SIGKILL after this, milliseconds"),
	OPT_UINT("supervisor.ready_timeout_ms", supervisor.ready_timeout_ms, 100, 600000, 30000, 0,
		"time a service has to report ready, milliseconds"),
	OPT_STRING("supervisor.metrics_address", supervisor.metrics_address, "127.0.0.1",
		OPT_F_NONEMPTY | OPT_F_INET, "/metrics listen address (IPv4 or IPv6 literal)"),
	OPT_UINT("supervisor.metrics_port", supervisor.metrics_port, 0, 65535, 9464, 0,
		"/metrics TCP port; 0 disables /metrics"),
	OPT_BOOLEAN("supervisor.spawn_services", supervisor.spawn_services, true,
		"start the services; false when systemd runs them"),
	OPT_BOOLEAN("supervisor.standby", supervisor.standby, true,
		"keep a warm standby process per pipeline stage (io-worker, nat-lb, policy, "
		"router) that takes over at once when the active one dies"),
	OPT_UINT("supervisor.hang_ms", supervisor.hang_ms, 0, 600000, 200, 0,
		"a pipeline stage that makes no progress this long is killed and replaced, "
		"milliseconds; 0 disables (else at least 20)"),
	OPT_UINT("supervisor.hang_control_ms", supervisor.hang_control_ms, 0, 3600000, 5000, 0,
		"the same limit for a service's control work (a table build) and for cni-server "
		"and "
		"bgp-bridge, milliseconds; 0 disables (else at least 100)"),

	OPT_UINT("bus.heartbeat_ms", bus.heartbeat_ms, 10, 60000, 1000, 0,
		"heartbeat period, milliseconds"),
	OPT_UINT("bus.dead_after_ms", bus.dead_after_ms, 30, 600000, 3000, 0,
		"no heartbeat this long -> resync, milliseconds"),
	OPT_UINT("bus.max_message_size", bus.max_message_size, 256, 16777216, 65536, 0,
		"largest bus message, bytes"),
	OPT_UINT("bus.max_objects", bus.max_objects, 1, 10000000, 65536, 0, "objects per consumer"),

	OPT_UINT("admin.max_request_size", admin.max_request_size, 64, 16777216, 65536, 0,
		"largest admin request over all frames, bytes"),

	OPT_BOOLEAN("synthetic.enabled", synthetic.enabled, true,
		"io-worker's built-in source/sink port"),

	OPT_STRING("uplink.interface", uplink.interface, "", 0,
		"the node's uplink to take over; empty: no uplink (synthetic port only)"),
	OPT_CHOICE("uplink.driver", uplink.driver, uplink_drivers, "af_packet",
		"how io-worker does uplink I/O"),
	OPT_STRING("uplink.dpdk_devargs", uplink.dpdk_devargs, "", 0,
		"driver dpdk: the device the supervisor probes (PCI address or vdev args)"),
	OPT_STRING("uplink.state_file", uplink.state_file, "/var/lib/podlane/uplink.json",
		OPT_F_NONEMPTY, "where the uplink's Linux config is saved before takeover"),

	OPT_STRING("pods.gateway_v4", pods.gateway_v4, "169.254.1.1", OPT_F_NONEMPTY | OPT_F_INET,
		"link-local IPv4 gateway pods route through"),
	OPT_STRING("pods.gateway_v6", pods.gateway_v6, "fe80::1", OPT_F_NONEMPTY | OPT_F_INET,
		"link-local IPv6 gateway pods route through"),
	OPT_UINT("pods.max_pods", pods.max_pods, 1, 4000, 256, 0, "pod interfaces at most"),
	OPT_UINT("pods.mtu", pods.mtu, 576, 9000, 1500, 0, "MTU of pod interfaces"),
	OPT_STRING("pods.state_file", pods.state_file, "/var/lib/podlane/pods.json", OPT_F_NONEMPTY,
		"crash-safe record of the pods"),

	OPT_CHOICE("datastore.source", datastore.source, datastore_sources, "dir",
		"where cluster objects come from: a directory or etcd v3"),
	OPT_STRING("datastore.dir", datastore.dir, "/var/lib/podlane/datastore", OPT_F_NONEMPTY,
		"directory of Kubernetes-shaped YAML objects (podlanectl apply writes here)"),
	OPT_STRING("datastore.etcd_endpoint", datastore.etcd_endpoint, "http://127.0.0.1:2379",
		OPT_F_NONEMPTY, "source etcd: the etcd v3 server's client URL"),
	OPT_STRING("datastore.etcd_prefix", datastore.etcd_prefix, "/podlane/objects/",
		OPT_F_NONEMPTY, "source etcd: prefix of the object keys"),

	OPT_UINT("services.max_sessions", services.max_sessions, 1024, 16777216, 262144, 0,
		"conntrack sessions at most (shared memory, fixed at first start)"),
	OPT_UINT("services.max_frontends", services.max_frontends, 16, 1048576, 16384, 0,
		"service (address, port, protocol) entries at most"),
	OPT_UINT("services.max_backends", services.max_backends, 16, 4194304, 65536, 0,
		"service endpoints at most, over all services"),
	OPT_UINT("services.tcp_syn_timeout_s", services.tcp_syn_timeout_s, 1, 86400, 60, 0,
		"a TCP session not yet established expires after this"),
	OPT_UINT("services.tcp_established_timeout_s", services.tcp_established_timeout_s, 1,
		2592000, 86400, 0, "an idle established TCP session expires after this"),
	OPT_UINT("services.tcp_closing_timeout_s", services.tcp_closing_timeout_s, 1, 86400, 10, 0,
		"a TCP session after FIN or RST expires after this"),
	OPT_UINT("services.udp_timeout_s", services.udp_timeout_s, 1, 86400, 30, 0,
		"an idle UDP session expires after this"),

	OPT_UINT("policy.max_endpoints", policy.max_endpoints, 16, 1048576, 16384, 0,
		"pod addresses the policy stage knows at most"),
	OPT_UINT("policy.max_rules", policy.max_rules, 16, 1048576, 16384, 0,
		"policy rules at most (also policies, port and ipBlock entries)"),

	OPT_STRING("cni.socket", cni.socket, "/run/podlane/cni.sock", OPT_F_NONEMPTY,
		"unix socket of cni-server's gRPC service (cni.CniDataplane)"),
	OPT_UINT("cni.max_pending", cni.max_pending, 1, 1024, 64, 0,
		"gRPC calls accepted at once; more wait in the socket's backlog"),

	OPT_UINT("router.icmp_rate", router.icmp_rate, 0, 1000000, 100, 0,
		"ICMP errors sent per second at most (0: none)"),

	OPT_UINT("neighbor.max_entries", neighbor.max_entries, 16, 1000000, 4096, 0,
		"ARP/ND entries at most"),
	OPT_UINT("neighbor.reachable_s", neighbor.reachable_s, 1, 86400, 300, 0,
		"an entry not confirmed for this long is verified again when used"),
	OPT_UINT("neighbor.pending_max", neighbor.pending_max, 0, 65536, 256, 0,
		"packets waiting for address resolution at most"),
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

struct parse_ctx {
	yaml_parser_t parser;
	const char *name;
	char *err;
	size_t err_size;
	struct pl_config *cfg;
	size_t line_of[N_OPTIONS]; /* line the option was set on, 0 = defaulted */
	const char *seen_sections[N_OPTIONS]; /* sections already given, for duplicates */
	size_t n_seen_sections;
};

static void set_err(char *err, size_t err_size, const char *name, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void set_err(char *err, size_t err_size, const char *name, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !err_size)
		return;
	if (line)
		n = snprintf(err, err_size, "%s:%zu: ", name, line);
	else
		n = snprintf(err, err_size, "%s: ", name);
	if (n < 0 || (size_t)n >= err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
	va_end(ap);
}

static void *field(struct pl_config *cfg, const struct opt *o)
{
	return (char *)cfg + o->off;
}

void pl_config_defaults(struct pl_config *cfg)
{
	char host[256];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_OPTIONS; i++) {
		const struct opt *o = &options[i];
		const char *def = o->def_str;

		switch (o->type) {
		case OPT_STR:
		case OPT_ENUM:
			if (o->flags & OPT_F_HOSTNAME) {
				memset(host, 0, sizeof(host));
				/* A name that does not fit the field is not worth truncating
				 * into something ambiguous: fall back to the static default. */
				if (gethostname(host, sizeof(host) - 1) == 0 && host[0] &&
					strlen(host) < o->size)
					def = host;
			}
			snprintf(field(cfg, o), o->size, "%s", def);
			break;
		case OPT_U32:
			*(uint32_t *)field(cfg, o) = o->def_u32;
			break;
		case OPT_BOOL:
			*(bool *)field(cfg, o) = o->def_u32 != 0;
			break;
		}
	}
}

static const char *type_name(const struct opt *o)
{
	switch (o->type) {
	case OPT_STR:
		return "string";
	case OPT_U32:
		return "uint32";
	case OPT_BOOL:
		return "bool";
	case OPT_ENUM:
		return "enum";
	}
	return "?";
}

/* "err, warn, info, debug" (sep ", ") or "err|warn|info|debug" (sep "|"). */
static void join_choices(const struct opt *o, const char *sep, char *buf, size_t size)
{
	size_t used = 0, i;
	int n;

	buf[0] = '\0';
	for (i = 0; o->choices[i]; i++) {
		n = snprintf(buf + used, size - used, "%s%s", i ? sep : "", o->choices[i]);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

static const char *expects(const struct opt *o, char *buf, size_t size)
{
	char list[128];

	switch (o->type) {
	case OPT_STR:
		return "a string";
	case OPT_U32:
		return "an unsigned integer";
	case OPT_BOOL:
		return "a boolean (true/false/yes/no/on/off)";
	case OPT_ENUM:
		join_choices(o, ", ", list, sizeof(list));
		snprintf(buf, size, "one of %s", list);
		return buf;
	}
	return "?";
}

static bool is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *node_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	case YAML_SCALAR_EVENT:
		return "a scalar";
	default:
		return "something else";
	}
}

static size_t ev_line(const yaml_event_t *ev)
{
	return ev->start_mark.line + 1;
}

/* Next event (pl_yaml.h); failures become this parse's error. The caller deletes the event on
 * success; on failure there is nothing to delete. */
static int next_event(struct parse_ctx *c, yaml_event_t *ev)
{
	char msg[PL_CONFIG_ERR_SIZE];
	size_t line;
	int rc = pl_yaml_next_event(&c->parser, ev, msg, sizeof(msg), &line);
	if (rc < 0)
		set_err(c->err, c->err_size, c->name, line, "%s", msg);
	return rc;
}

static int parse_u32(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len || len != strlen(s))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Applies one value event to the scratch config. */
static int set_value(struct parse_ctx *c, const struct opt *o, const yaml_event_t *ev)
{
	char ebuf[160];
	size_t line = ev_line(ev);
	const char *v;
	size_t len;
	uint64_t u;
	bool b;
	size_t i;
	int rc;

	if (ev->type != YAML_SCALAR_EVENT) {
		set_err(c->err, c->err_size, c->name, line, "'%s' expects %s, got %s", o->path,
			expects(o, ebuf, sizeof(ebuf)), node_kind(ev));
		return -EINVAL;
	}
	v = (const char *)ev->data.scalar.value;
	len = ev->data.scalar.length;

	switch (o->type) {
	case OPT_STR:
		if (is_null(ev)) {
			v = "";
			len = 0;
		}
		if (len != strlen(v)) {
			set_err(c->err, c->err_size, c->name, line, "'%s' contains a NUL byte",
				o->path);
			return -EINVAL;
		}
		if (len >= o->size) {
			set_err(c->err, c->err_size, c->name, line,
				"'%s' is too long (%zu bytes, at most %zu)", o->path, len,
				o->size - 1);
			return -EINVAL;
		}
		if ((o->flags & OPT_F_NONEMPTY) && !len) {
			set_err(c->err, c->err_size, c->name, line, "'%s' must not be empty",
				o->path);
			return -EINVAL;
		}
		if (o->flags & OPT_F_INET) {
			unsigned char addr[sizeof(struct in6_addr)];

			if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1) {
				set_err(c->err, c->err_size, c->name, line,
					"'%s' expects an IPv4 or IPv6 address, got '%.*s'", o->path,
					QUOTE_MAX, v);
				return -EINVAL;
			}
		}
		memcpy(field(c->cfg, o), v, len + 1);
		return 0;
	case OPT_U32:
		rc = parse_u32(v, len, &u);
		if (rc == -EINVAL) {
			set_err(c->err, c->err_size, c->name, line,
				"'%s' expects an unsigned integer, got '%.*s'", o->path, QUOTE_MAX,
				v);
			return -EINVAL;
		}
		if (rc == -ERANGE || u < o->min || u > o->max) {
			set_err(c->err, c->err_size, c->name, line,
				"'%s' = %.*s is out of range [%u, %u]", o->path, QUOTE_MAX, v,
				o->min, o->max);
			return -ERANGE;
		}
		if ((o->flags & OPT_F_POW2) && (u & (u - 1))) {
			set_err(c->err, c->err_size, c->name, line,
				"'%s' = %.*s must be a power of two", o->path, QUOTE_MAX, v);
			return -EINVAL;
		}
		*(uint32_t *)field(c->cfg, o) = (uint32_t)u;
		return 0;
	case OPT_BOOL:
		if (len != strlen(v) || parse_bool(v, &b)) {
			set_err(c->err, c->err_size, c->name, line, "'%s' expects %s, got '%.*s'",
				o->path, expects(o, ebuf, sizeof(ebuf)), QUOTE_MAX, v);
			return -EINVAL;
		}
		*(bool *)field(c->cfg, o) = b;
		return 0;
	case OPT_ENUM:
		for (i = 0; o->choices[i]; i++) {
			if (len == strlen(o->choices[i]) && !strcmp(v, o->choices[i])) {
				snprintf(field(c->cfg, o), o->size, "%s", o->choices[i]);
				return 0;
			}
		}
		set_err(c->err, c->err_size, c->name, line, "'%s' must be %s, got '%.*s'", o->path,
			expects(o, ebuf, sizeof(ebuf)), QUOTE_MAX, v);
		return -EINVAL;
	}
	return -EINVAL;
}

/* Option with this exact path, or -1. */
static int find_option(const char *section, const char *key)
{
	size_t slen = section ? strlen(section) : 0;
	size_t i;

	for (i = 0; i < N_OPTIONS; i++) {
		const char *p = options[i].path;

		if (section) {
			if (strncmp(p, section, slen) || p[slen] != '.')
				continue;
			p += slen + 1;
		} else if (strchr(p, '.')) {
			continue;
		}
		if (!strcmp(p, key))
			return (int)i;
	}
	return -1;
}

/* Canonical (table-owned) name of section `key`, or NULL if there is no such section. */
static const char *find_section(const char *key)
{
	size_t klen = strlen(key);
	size_t i;

	for (i = 0; i < N_OPTIONS; i++) {
		const char *p = options[i].path;

		if (!strncmp(p, key, klen) && p[klen] == '.')
			return p;
	}
	return NULL;
}

static int key_of(struct parse_ctx *c, const yaml_event_t *ev)
{
	if (ev->type != YAML_SCALAR_EVENT) {
		set_err(c->err, c->err_size, c->name, ev_line(ev), "keys must be scalars, got %s",
			node_kind(ev));
		return -EINVAL;
	}
	if (ev->data.scalar.length != strlen((const char *)ev->data.scalar.value)) {
		set_err(c->err, c->err_size, c->name, ev_line(ev), "key contains a NUL byte");
		return -EINVAL;
	}
	return 0;
}

/* Reads the value event of option `idx` whose key event is `key`, and applies it. */
static int option_value(struct parse_ctx *c, int idx, const yaml_event_t *key)
{
	yaml_event_t ev;
	int rc;

	if (c->line_of[idx]) {
		set_err(c->err, c->err_size, c->name, ev_line(key), "duplicate key '%.*s'",
			QUOTE_MAX, (const char *)key->data.scalar.value);
		return -EINVAL;
	}
	rc = next_event(c, &ev);
	if (rc)
		return rc;
	rc = set_value(c, &options[idx], &ev);
	if (!rc)
		c->line_of[idx] = ev_line(&ev);
	yaml_event_delete(&ev);
	return rc;
}

/* Body of section `section` (its name as written, for messages). The key event has been read. */
static int parse_section(struct parse_ctx *c, const char *section, size_t slen)
{
	yaml_event_t ev;
	char name[64];
	int rc, idx;

	snprintf(name, sizeof(name), "%.*s", (int)slen, section);
	rc = next_event(c, &ev);
	if (rc)
		return rc;
	if (ev.type == YAML_SCALAR_EVENT && is_null(&ev)) {
		/* "dpdk:" with every option commented out: an empty section. */
		yaml_event_delete(&ev);
		return 0;
	}
	if (ev.type != YAML_MAPPING_START_EVENT) {
		if (ev.type == YAML_SCALAR_EVENT)
			set_err(c->err, c->err_size, c->name, ev_line(&ev),
				"section '%s' must be a mapping of options, got scalar '%.*s'",
				name, QUOTE_MAX, (const char *)ev.data.scalar.value);
		else
			set_err(c->err, c->err_size, c->name, ev_line(&ev),
				"section '%s' must be a mapping of options, got %s", name,
				node_kind(&ev));
		yaml_event_delete(&ev);
		return -EINVAL;
	}
	yaml_event_delete(&ev);

	for (;;) {
		rc = next_event(c, &ev);
		if (rc)
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		rc = key_of(c, &ev);
		if (!rc) {
			idx = find_option(name, (const char *)ev.data.scalar.value);
			if (idx < 0) {
				set_err(c->err, c->err_size, c->name, ev_line(&ev),
					"unknown key '%.*s' in section '%s'", QUOTE_MAX,
					(const char *)ev.data.scalar.value, name);
				rc = -EINVAL;
			} else {
				rc = option_value(c, idx, &ev);
			}
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

static int parse_top_key(struct parse_ctx *c, const yaml_event_t *key)
{
	const char *k = (const char *)key->data.scalar.value;
	const char *section;
	size_t i;
	int idx;

	idx = find_option(NULL, k);
	if (idx >= 0)
		return option_value(c, idx, key);

	section = find_section(k);
	if (!section) {
		set_err(c->err, c->err_size, c->name, ev_line(key), "unknown key '%.*s'", QUOTE_MAX,
			k);
		return -EINVAL;
	}
	for (i = 0; i < c->n_seen_sections; i++) {
		if (c->seen_sections[i] == section) {
			set_err(c->err, c->err_size, c->name, ev_line(key), "duplicate key '%s'",
				k);
			return -EINVAL;
		}
	}
	c->seen_sections[c->n_seen_sections++] = section;
	return parse_section(c, section, strlen(k));
}

static int parse_document(struct parse_ctx *c)
{
	yaml_event_t ev;
	int rc;

	rc = next_event(c, &ev);
	if (rc)
		return rc;
	if (ev.type == YAML_SCALAR_EVENT && is_null(&ev)) {
		/* "---" alone or "~": no options, all defaults. */
		yaml_event_delete(&ev);
		return 0;
	}
	if (ev.type != YAML_MAPPING_START_EVENT) {
		set_err(c->err, c->err_size, c->name, ev_line(&ev),
			"the top level must be a mapping of options and sections, got %s",
			node_kind(&ev));
		yaml_event_delete(&ev);
		return -EINVAL;
	}
	yaml_event_delete(&ev);

	for (;;) {
		rc = next_event(c, &ev);
		if (rc)
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		rc = key_of(c, &ev);
		if (!rc)
			rc = parse_top_key(c, &ev);
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

static int parse_stream(struct parse_ctx *c)
{
	bool have_doc = false;
	yaml_event_t ev;
	int rc;

	for (;;) {
		rc = next_event(c, &ev);
		if (rc)
			return rc;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return 0;
		case YAML_DOCUMENT_START_EVENT:
			if (have_doc) {
				set_err(c->err, c->err_size, c->name, ev_line(&ev),
					"only one YAML document is allowed");
				yaml_event_delete(&ev);
				return -EINVAL;
			}
			have_doc = true;
			rc = parse_document(c);
			break;
		default:
			set_err(c->err, c->err_size, c->name, ev_line(&ev),
				"unexpected YAML event");
			rc = -EINVAL;
			break;
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

static size_t option_line(const struct parse_ctx *c, const char *path)
{
	size_t i;

	for (i = 0; i < N_OPTIONS; i++) {
		if (!strcmp(options[i].path, path))
			return c->line_of[i];
	}
	return 0;
}

/* Checks between options, once everything is parsed. */
static int cross_check(struct parse_ctx *c)
{
	const struct pl_config *cfg = c->cfg;
	size_t line;

	if (cfg->supervisor.hang_ms && cfg->supervisor.hang_ms < 20) {
		set_err(c->err, c->err_size, c->name, option_line(c, "supervisor.hang_ms"),
			"'supervisor.hang_ms' = %u: 0 (off) or at least 20",
			cfg->supervisor.hang_ms);
		return -EINVAL;
	}
	if (cfg->supervisor.hang_control_ms && cfg->supervisor.hang_control_ms < 100) {
		set_err(c->err, c->err_size, c->name, option_line(c, "supervisor.hang_control_ms"),
			"'supervisor.hang_control_ms' = %u: 0 (off) or at least 100",
			cfg->supervisor.hang_control_ms);
		return -EINVAL;
	}
	if (cfg->supervisor.backoff_max_ms < cfg->supervisor.backoff_min_ms) {
		/* Point at backoff_max_ms; if that is defaulted, at whichever value was set. */
		line = option_line(c, "supervisor.backoff_max_ms");
		if (!line)
			line = option_line(c, "supervisor.backoff_min_ms");
		set_err(c->err, c->err_size, c->name, line,
			"'supervisor.backoff_max_ms' = %u must be >= 'supervisor.backoff_min_ms' = "
			"%u",
			cfg->supervisor.backoff_max_ms, cfg->supervisor.backoff_min_ms);
		return -EINVAL;
	}
	return 0;
}

int pl_config_load_buffer(struct pl_config *cfg, const char *name, const char *buf, size_t len,
	char *err, size_t err_size)
{
	struct parse_ctx *c;
	struct pl_config *tmp;
	int rc;

	if (err && err_size)
		err[0] = '\0';
	pl_config_defaults(cfg);
	if (!name)
		name = "<buffer>";
	if (!buf && len) {
		set_err(err, err_size, name, 0, "no buffer");
		return -EINVAL;
	}
	if (len > MAX_FILE_SIZE) {
		set_err(err, err_size, name, 0, "larger than 1 MiB");
		return -EFBIG;
	}
	if (strlen(name) >= sizeof(cfg->path)) {
		set_err(err, err_size, name, 0, "path too long (at most %zu bytes)",
			sizeof(cfg->path) - 1);
		return -ENAMETOOLONG;
	}

	c = calloc(1, sizeof(*c));
	tmp = malloc(sizeof(*tmp));
	if (!c || !tmp) {
		free(c);
		free(tmp);
		set_err(err, err_size, name, 0, "out of memory");
		return -ENOMEM;
	}
	pl_config_defaults(tmp);
	c->name = name;
	c->err = err;
	c->err_size = err_size;
	c->cfg = tmp;

	if (!yaml_parser_initialize(&c->parser)) {
		set_err(err, err_size, name, 0, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&c->parser, (const unsigned char *)(buf ? buf : ""), len);
	rc = parse_stream(c);
	yaml_parser_delete(&c->parser);
	if (!rc)
		rc = cross_check(c);
	if (!rc) {
		snprintf(tmp->path, sizeof(tmp->path), "%s", name);
		memcpy(cfg, tmp, sizeof(*cfg));
	}
out:
	free(tmp);
	free(c);
	return rc;
}

/* Whole file into a fresh buffer, refusing more than MAX_FILE_SIZE bytes. */
static int read_file(const char *path, char **bufp, size_t *lenp, char *err, size_t err_size)
{
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		set_err(err, err_size, path, 0, "cannot open: %s", strerror(-rc));
		return rc;
	}
	buf = malloc(MAX_FILE_SIZE + 1);
	if (!buf) {
		close(fd);
		set_err(err, err_size, path, 0, "out of memory");
		return -ENOMEM;
	}
	while (len <= MAX_FILE_SIZE) {
		n = read(fd, buf + len, MAX_FILE_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_err(err, err_size, path, 0, "cannot read: %s", strerror(-rc));
			goto fail;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (len > MAX_FILE_SIZE) {
		set_err(err, err_size, path, 0, "larger than 1 MiB");
		rc = -EFBIG;
		goto fail;
	}
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	close(fd);
	free(buf);
	return rc;
}

int pl_config_load(struct pl_config *cfg, const char *path, char *err, size_t err_size)
{
	bool implicit = !path;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (err && err_size)
		err[0] = '\0';
	pl_config_defaults(cfg);
	if (implicit)
		path = PL_CONFIG_DEFAULT_PATH;
	rc = read_file(path, &buf, &len, err, err_size);
	if (rc == -ENOENT && implicit) {
		if (err && err_size)
			err[0] = '\0';
		return 0;
	}
	if (rc)
		return rc;
	rc = pl_config_load_buffer(cfg, path, buf, len, err, err_size);
	free(buf);
	return rc;
}

void pl_config_print_options(FILE *out)
{
	char def[PL_CONFIG_STR_SIZE + 2];
	char range[128];
	char list[96];
	size_t i;

	fprintf(out, "%-28s %-6s %-16s %-22s %s\n", "OPTION", "TYPE", "DEFAULT", "RANGE", "HELP");
	for (i = 0; i < N_OPTIONS; i++) {
		const struct opt *o = &options[i];

		switch (o->type) {
		case OPT_STR:
			if (o->flags & OPT_F_HOSTNAME)
				snprintf(def, sizeof(def), "<hostname>");
			else
				snprintf(def, sizeof(def), "\"%s\"", o->def_str);
			snprintf(range, sizeof(range), "[0..%zu bytes]", o->size - 1);
			if (o->flags & OPT_F_NONEMPTY)
				snprintf(range, sizeof(range), "[1..%zu bytes]", o->size - 1);
			break;
		case OPT_ENUM:
			snprintf(def, sizeof(def), "%s", o->def_str);
			join_choices(o, "|", list, sizeof(list));
			snprintf(range, sizeof(range), "[%s]", list);
			break;
		case OPT_U32:
			snprintf(def, sizeof(def), "%u", o->def_u32);
			snprintf(range, sizeof(range), "[%u..%u]", o->min, o->max);
			break;
		case OPT_BOOL:
			snprintf(def, sizeof(def), "%s", o->def_u32 ? "true" : "false");
			snprintf(range, sizeof(range), "[true|false]");
			break;
		}
		fprintf(out, "%-28s %-6s %-16s %-22s %s\n", o->path, type_name(o), def, range,
			o->help);
	}
}
