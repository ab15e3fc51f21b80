/* SPDX-License-Identifier: Apache-2.0 */
/* podlane-cni: the CNI 1.0.0 plugin a container runtime (podman, kubelet) executes. It delegates
 * address allocation to the configured IPAM plugin, then asks cni-server over gRPC
 * (cni.CniDataplane, Calico's CNI backend proto) to create or delete the pod's tun interface, and
 * prints the CNI result. CHECK looks into the pod's namespace itself. Short-lived: one command
 * per process, every error reported as the spec's error JSON on stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <json-c/json.h>

#include "cnibackend.pb-c.h"

#ifndef PODLANE_VERSION
#define PODLANE_VERSION "0.0.0"
#endif

#define DEFAULT_SOCKET "/run/podlane/cni.sock"
#define GATEWAY_V4 "169.254.1.1"
#define GATEWAY_V6 "fe80::1"
/* The runtime's config and an IPAM plugin's result are small; anything larger is refused. */
#define MAX_INPUT_SIZE (1024 * 1024)
#define MAX_IPS 16
#define MAX_OPTIONS 64
#define RPC_TIMEOUT_MS 5000
#define MTU_MIN 576
#define MTU_MAX 9000

/* Error codes of the CNI spec; 100+ would be ours, 999 is the generic one Debian's plugins use. */
enum {
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	CNI_ERR_TRY_AGAIN_LATER = 11,
	CNI_ERR_GENERIC = 999,
};

static const char *const supported_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };

/* One plugin invocation: the environment, the network configuration and the error to report. */
struct plugin {
	const char *command;
	const char *container_id;
	const char *netns;
	const char *ifname;
	const char *args;
	const char *path;

	char *stdin_data; /* the configuration exactly as received, handed to IPAM unchanged */
	size_t stdin_size;
	struct json_object *conf;
	const char *version; /* requested cniVersion once validated */
	const char *ipam_type;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int mtu;

	int err_code;
	char err_msg[1024];
	char err_details[1024];
};

/* An address from the IPAM result, reduced to the host route the pod gets. */
struct pod_ip {
	int family;
	char addr[INET6_ADDRSTRLEN];
	char cidr[INET6_ADDRSTRLEN + 5]; /* addr/32 or addr/128 */
	char ipam_gateway[INET6_ADDRSTRLEN];
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: podlane-cni [--help | --version]\n"
		"podlane-cni is a CNI plugin (spec 1.0.0; also 0.3.0, 0.3.1, 0.4.0). A container\n"
		"runtime runs it with CNI_COMMAND=ADD|DEL|CHECK|VERSION, CNI_CONTAINERID, "
		"CNI_NETNS,\n"
		"CNI_IFNAME, CNI_ARGS and CNI_PATH in the environment and the network "
		"configuration\n"
		"on stdin. It allocates addresses through the IPAM plugin named in the "
		"configuration\n"
		"and has podlane's cni-server create the pod's interface (a tun device).\n\n"
		"Configuration keys:\n"
		"  \"type\": \"podlane-cni\"\n"
		"  \"socket\": cni-server's gRPC socket (cni.socket in podlane.yaml;\n"
		"            default \"" DEFAULT_SOCKET "\"; \"unix:\" prefixes are accepted)\n"
		"  \"ipam\": {\"type\": ..., ...} the IPAM plugin, found in CNI_PATH (required)\n"
		"  \"mtu\": MTU of the pod interface, %d..%d (default: cni-server's pods.mtu)\n"
		"  \"dataplane_options\": {\"key\": \"value\", ...} passed to cni-server as is\n\n"
		"Example:\n"
		"  {\"cniVersion\": \"1.0.0\", \"name\": \"podlane\", \"type\": \"podlane-cni\",\n"
		"   \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": "
		"\"10.244.1.0/24\"}]]}}\n\n"
		"Pods route through the link-local gateways " GATEWAY_V4 " and " GATEWAY_V6 ".\n"
		"DEL succeeds when cni-server's socket does not exist (podlane not running or\n"
		"removed): the pod's interface goes with its network namespace.\n",
		MTU_MIN, MTU_MAX);
}

static int fail(struct plugin *p, int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records the error to report; returns the code so callers can `return fail(...)`. */
static int fail(struct plugin *p, int code, const char *details, const char *fmt, ...)
{
	va_list ap;

	p->err_code = code;
	va_start(ap, fmt);
	vsnprintf(p->err_msg, sizeof(p->err_msg), fmt, ap);
	va_end(ap);
	snprintf(p->err_details, sizeof(p->err_details), "%s", details ? details : "");
	return code;
}

static void print_json(struct json_object *o)
{
	fputs(json_object_to_json_string_ext(
		      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static void print_error(const struct plugin *p)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(
		e, "cniVersion", json_object_new_string(p->version ? p->version : "1.0.0"));
	json_object_object_add(e, "code", json_object_new_int(p->err_code));
	json_object_object_add(e, "msg", json_object_new_string(p->err_msg));
	if (p->err_details[0])
		json_object_object_add(e, "details", json_object_new_string(p->err_details));
	print_json(e);
	json_object_put(e);
}

static bool version_supported(const char *v)
{
	for (size_t i = 0; i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++)
		if (strcmp(v, supported_versions[i]) == 0)
			return true;
	return false;
}

/* 0.3.x and 0.4.0 results carry "version" in each ips entry; 1.0.0 dropped it. */
static bool version_has_ip_version(const char *v)
{
	return strcmp(v, "1.0.0") != 0;
}

static struct json_object *obj_get(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

static const char *str_get(struct json_object *o, const char *key)
{
	struct json_object *v = obj_get(o, key, json_type_string);

	return v ? json_object_get_string(v) : NULL;
}

/* Reads all of fd up to MAX_INPUT_SIZE bytes; returns 0, -EFBIG when larger, or -errno. */
static int read_all(int fd, char **bufp, size_t *sizep)
{
	size_t cap = 4096, size = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (size == cap) {
			char *nb;

			if (cap >= MAX_INPUT_SIZE) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > MAX_INPUT_SIZE ? MAX_INPUT_SIZE : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + size, cap - size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		size += (size_t)n;
	}
	buf[size] = '\0';
	*bufp = buf;
	*sizep = size;
	return 0;
}

static struct json_object *parse_json(const char *buf, size_t size, char *why, size_t why_size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	enum json_tokener_error jerr;

	if (!tok) {
		snprintf(why, why_size, "out of memory");
		return NULL;
	}
	if (size > INT_MAX)
		size = INT_MAX;
	o = json_tokener_parse_ex(tok, buf, (int)size);
	jerr = json_tokener_get_error(tok);
	if (o && jerr == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) < size) {
		/* Trailing bytes other than white space: not one JSON document. */
		for (size_t i = json_tokener_get_parse_end(tok); i < size; i++) {
			if (!strchr(" \t\r\n", buf[i])) {
				snprintf(why, why_size, "trailing data after the JSON object");
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	} else if (!o || jerr != json_tokener_success) {
		snprintf(why, why_size, "%s",
			jerr == json_tokener_continue ? "unexpected end of input"
						      : json_tokener_error_desc(jerr));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* ---- environment and configuration ---- */

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

static bool valid_container_id(const char *id)
{
	if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
		    (id[0] >= '0' && id[0] <= '9')))
		return false;
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			    (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			return false;
	return true;
}

static bool valid_ifname(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || *c == ' ' || *c == '\t' || *c == '\n')
			return false;
	return true;
}

static int check_env(struct plugin *p)
{
	bool is_add_or_check = strcmp(p->command, "DEL") != 0;
	struct {
		const char *name;
		const char *value;
		bool required;
	} vars[] = {
		{ "CNI_CONTAINERID", p->container_id, true },
		{ "CNI_NETNS", p->netns, is_add_or_check }, { "CNI_IFNAME", p->ifname, true },
		{ "CNI_PATH", p->path, true }, /* needed to find the IPAM plugin */
	};
	char missing[128] = "";
	size_t off = 0;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (vars[i].required && !vars[i].value)
			off += (size_t)snprintf(missing + off, sizeof(missing) - off, "%s%s",
				off ? "," : "", vars[i].name);
	}
	if (off)
		return fail(p, CNI_ERR_INVALID_ENV, NULL, "required env variables [%s] missing",
			missing);
	if (!valid_container_id(p->container_id))
		return fail(p, CNI_ERR_INVALID_ENV, p->container_id,
			"invalid CNI_CONTAINERID: must match [A-Za-z0-9][A-Za-z0-9_.-]*");
	if (!valid_ifname(p->ifname))
		return fail(p, CNI_ERR_INVALID_ENV, p->ifname,
			"invalid CNI_IFNAME: 1 to %d characters, no '/', ':' or white space",
			IFNAMSIZ - 1);
	return 0;
}

static int parse_socket(struct plugin *p)
{
	struct json_object *v;
	const char *s = DEFAULT_SOCKET;

	if (json_object_object_get_ex(p->conf, "socket", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(p, CNI_ERR_INVALID_CONFIG, NULL, "\"socket\" must be a string");
		s = json_object_get_string(v);
	}
	/* Calico writes unix:///path; grpc also takes unix:/path. */
	if (strncmp(s, "unix://", 7) == 0)
		s += 7;
	else if (strncmp(s, "unix:", 5) == 0)
		s += 5;
	if (s[0] != '/')
		return fail(p, CNI_ERR_INVALID_CONFIG, s, "\"socket\" must be an absolute path");
	if (strlen(s) >= sizeof(p->socket_path))
		return fail(p, CNI_ERR_INVALID_CONFIG, s,
			"\"socket\" is longer than %zu characters", sizeof(p->socket_path) - 1);
	snprintf(p->socket_path, sizeof(p->socket_path), "%s", s);
	return 0;
}

static int parse_config(struct plugin *p)
{
	char why[128] = "";
	struct json_object *v, *ipam;

	p->conf = parse_json(p->stdin_data, p->stdin_size, why, sizeof(why));
	if (!p->conf)
		return fail(p, CNI_ERR_DECODE, why, "cannot decode the network configuration");
	if (!json_object_is_type(p->conf, json_type_object))
		return fail(
			p, CNI_ERR_DECODE, NULL, "the network configuration is not a JSON object");

	v = obj_get(p->conf, "cniVersion", json_type_string);
	if (!v)
		return fail(p, CNI_ERR_DECODE, NULL, "the network configuration has no cniVersion");
	if (!version_supported(json_object_get_string(v)))
		return fail(p, CNI_ERR_INCOMPATIBLE_VERSION,
			"supported versions: 0.3.0, 0.3.1, 0.4.0, 1.0.0",
			"incompatible CNI version \"%s\"", json_object_get_string(v));
	p->version = json_object_get_string(v);

	ipam = obj_get(p->conf, "ipam", json_type_object);
	p->ipam_type = str_get(ipam, "type");
	if (!p->ipam_type || !p->ipam_type[0])
		return fail(p, CNI_ERR_INVALID_CONFIG, NULL,
			"the network configuration has no \"ipam\": {\"type\": ...}");
	if (strchr(p->ipam_type, '/') || strcmp(p->ipam_type, ".") == 0 ||
		strcmp(p->ipam_type, "..") == 0)
		return fail(p, CNI_ERR_INVALID_CONFIG, p->ipam_type,
			"ipam.type must be a plugin name, not a path");

	if (json_object_object_get_ex(p->conf, "mtu", &v)) {
		int64_t mtu = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || mtu < MTU_MIN || mtu > MTU_MAX)
			return fail(p, CNI_ERR_INVALID_CONFIG, NULL,
				"\"mtu\" must be an integer in %d..%d", MTU_MIN, MTU_MAX);
		p->mtu = (int)mtu;
	}
	if (json_object_object_get_ex(p->conf, "dataplane_options", &v) &&
		(!json_object_is_type(v, json_type_object) ||
			json_object_object_length(v) > MAX_OPTIONS))
		return fail(p, CNI_ERR_INVALID_CONFIG, NULL,
			"\"dataplane_options\" must be an object with at most %d keys",
			MAX_OPTIONS);
	return parse_socket(p);
}

/* ---- IPAM delegation ---- */

static int find_plugin(struct plugin *p, const char *type, char *out, size_t out_size)
{
	const char *dir = p->path;

	while (*dir) {
		size_t len = strcspn(dir, ":");
		struct stat st;

		if (len > 0 &&
			(size_t)snprintf(out, out_size, "%.*s/%s", (int)len, dir, type) <
				out_size &&
			stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		dir += len;
		if (*dir == ':')
			dir++;
	}
	return fail(p, CNI_ERR_INVALID_CONFIG, p->path, "IPAM plugin \"%s\" not found in CNI_PATH",
		type);
}

/* Our environment with CNI_COMMAND replaced: the IPAM plugin sees what we saw. */
static char **ipam_environ(const char *command)
{
	extern char **environ;
	size_t n = 0, j = 0;
	char **envp;

	while (environ[n])
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CNI_COMMAND=", 12) != 0)
			envp[j++] = environ[i];
	if (asprintf(&envp[j], "CNI_COMMAND=%s", command) < 0) {
		free(envp);
		return NULL;
	}
	return envp;
}

/* Runs the IPAM plugin with COMMAND and our stdin. On success *resultp holds its parsed output
 * (NULL when it printed nothing); on failure its error is recorded (code and msg passed
 * through) and the code is returned. */
static int ipam_exec(struct plugin *p, const char *command, struct json_object **resultp)
{
	char exe[PATH_MAX], why[128] = "";
	char *argv[] = { NULL, NULL };
	char **envp = NULL;
	char *out = NULL;
	size_t out_size = 0;
	int in_fd = -1, pipe_fd[2] = { -1, -1 }, status = 0, rc;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	*resultp = NULL;
	rc = find_plugin(p, p->ipam_type, exe, sizeof(exe));
	if (rc)
		return rc;
	argv[0] = exe;
	/* The config goes in through a memory file, not a pipe: no deadlock however large. */
	in_fd = memfd_create("podlane-cni-stdin", MFD_CLOEXEC);
	if (in_fd < 0 || write(in_fd, p->stdin_data, p->stdin_size) != (ssize_t)p->stdin_size ||
		lseek(in_fd, 0, SEEK_SET) != 0 || pipe2(pipe_fd, O_CLOEXEC) < 0) {
		rc = fail(p, CNI_ERR_IO, strerror(errno), "cannot prepare the IPAM plugin's input");
		goto out;
	}
	envp = ipam_environ(command);
	if (!envp) {
		rc = fail(p, CNI_ERR_IO, strerror(ENOMEM), "cannot run IPAM plugin %s", exe);
		goto out;
	}
	/* posix_spawn, not fork: grpc's threads and fork handlers stay out of the child. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipe_fd[1], STDOUT_FILENO);
	rc = posix_spawn(&pid, exe, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipe_fd[1]);
	pipe_fd[1] = -1;
	if (rc) {
		rc = fail(p, CNI_ERR_IO, strerror(rc), "cannot run IPAM plugin %s", exe);
		goto out;
	}
	rc = read_all(pipe_fd[0], &out, &out_size);
	if (rc) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		rc = fail(p, CNI_ERR_IO, strerror(-rc),
			"cannot read the output of IPAM plugin %s %s", p->ipam_type, command);
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	bool blank = strspn(out, " \t\r\n") == out_size;
	struct json_object *res = blank ? NULL : parse_json(out, out_size, why, sizeof(why));

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (!blank && !res) {
			rc = fail(p, CNI_ERR_DECODE, why,
				"IPAM plugin %s %s printed an unreadable result", p->ipam_type,
				command);
			goto out;
		}
		*resultp = res;
		rc = 0;
		goto out;
	}

	/* Pass the IPAM plugin's own error through. */
	struct json_object *code = obj_get(res, "code", json_type_int);
	const char *msg = str_get(res, "msg"), *details = str_get(res, "details");
	char exit_desc[64];

	if (WIFEXITED(status))
		snprintf(exit_desc, sizeof(exit_desc), "exit status %d", WEXITSTATUS(status));
	else
		snprintf(exit_desc, sizeof(exit_desc), "killed by signal %d", WTERMSIG(status));
	if (msg)
		rc = fail(p,
			code && json_object_get_int(code) > 0 ? json_object_get_int(code)
							      : CNI_ERR_GENERIC,
			details, "%s", msg);
	else
		rc = fail(p, CNI_ERR_GENERIC, blank ? NULL : out, "IPAM plugin %s %s failed (%s)",
			p->ipam_type, command, exit_desc);
	json_object_put(res);
out:
	if (envp) {
		for (size_t i = 0; envp[i]; i++)
			if (strncmp(envp[i], "CNI_COMMAND=", 12) == 0)
				free(envp[i]);
		free(envp);
	}
	free(out);
	if (in_fd >= 0)
		close(in_fd);
	if (pipe_fd[0] >= 0)
		close(pipe_fd[0]);
	if (pipe_fd[1] >= 0)
		close(pipe_fd[1]);
	return rc;
}

/* Releases what IPAM ADD allocated; the error being reported stays the original one. */
static void ipam_release(struct plugin *p)
{
	struct plugin saved = *p;
	struct json_object *res = NULL;

	if (ipam_exec(p, "DEL", &res))
		fprintf(stderr, "podlane-cni: releasing the IPAM allocation failed: %s (%s)\n",
			p->err_msg, p->err_details);
	json_object_put(res);
	p->err_code = saved.err_code;
	memcpy(p->err_msg, saved.err_msg, sizeof(p->err_msg));
	memcpy(p->err_details, saved.err_details, sizeof(p->err_details));
}

/* "10.244.1.2/24" -> family, address and the host prefix "10.244.1.2/32". */
static int parse_cidr(const char *s, struct pod_ip *ip)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	char *end;
	long plen;

	if (!slash || len == 0 || len >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1)
		ip->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		ip->family = AF_INET6;
	else
		return -EINVAL;
	errno = 0;
	plen = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || plen < 0 ||
		plen > (ip->family == AF_INET ? 32 : 128))
		return -EINVAL;
	inet_ntop(ip->family, bin, ip->addr, sizeof(ip->addr));
	snprintf(ip->cidr, sizeof(ip->cidr), "%s/%d", ip->addr, ip->family == AF_INET ? 32 : 128);
	return (int)plen;
}

static int ipam_ips(struct plugin *p, struct json_object *res, struct pod_ip *ips, size_t *n_ips)
{
	struct json_object *arr = obj_get(res, "ips", json_type_array);
	size_t n = arr ? json_object_array_length(arr) : 0;

	if (n == 0)
		return fail(p, CNI_ERR_GENERIC, NULL, "IPAM plugin %s returned no addresses",
			p->ipam_type);
	if (n > MAX_IPS)
		return fail(p, CNI_ERR_GENERIC, NULL,
			"IPAM plugin %s returned %zu addresses (at most %d)", p->ipam_type, n,
			MAX_IPS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		const char *a = str_get(e, "address"), *gw = str_get(e, "gateway");

		memset(&ips[i], 0, sizeof(ips[i]));
		if (!a || parse_cidr(a, &ips[i]) < 0)
			return fail(p, CNI_ERR_DECODE, a,
				"IPAM plugin %s returned an invalid address in ips[%zu]",
				p->ipam_type, i);
		if (gw && strlen(gw) < sizeof(ips[i].ipam_gateway))
			snprintf(ips[i].ipam_gateway, sizeof(ips[i].ipam_gateway), "%s", gw);
	}
	*n_ips = n;
	return 0;
}

/* ---- cni-server over gRPC ---- */

struct rpc {
	grpc_status_code status;
	char details[512];
	grpc_slice reply;
	bool have_reply;
};

/* One unary call to unix:SOCKET with a RPC_TIMEOUT_MS deadline; fail-fast when the server is
 * not there (no wait-for-ready), so an absent podlane costs nothing. */
static void rpc_call(
	const char *socket_path, const char *method, const ProtobufCMessage *req, struct rpc *r)
{
	char target[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	gpr_timespec deadline = gpr_time_add(
		gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(RPC_TIMEOUT_MS, GPR_TIMESPAN));
	grpc_arg no_retry = {
		.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_RETRIES, .value.integer = 0
	};
	grpc_channel_args args = { .num_args = 1, .args = &no_retry };
	grpc_channel_credentials *cr;
	grpc_channel *ch;
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_metadata_array md, trailers;
	grpc_byte_buffer *req_bb, *reply_bb = NULL;
	grpc_slice s, details;
	const char *error_string = NULL;
	grpc_op ops[6];
	grpc_event ev;
	size_t size;

	memset(r, 0, sizeof(*r));
	snprintf(target, sizeof(target), "unix:%s", socket_path);
	cr = grpc_insecure_credentials_create();
	ch = grpc_channel_create(target, cr, &args);
	grpc_channel_credentials_release(cr);
	cq = grpc_completion_queue_create_for_pluck(NULL);
	call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
		grpc_slice_from_static_string(method), NULL, deadline, NULL);

	size = protobuf_c_message_get_packed_size(req);
	s = grpc_slice_malloc(size);
	protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(s));
	req_bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	grpc_metadata_array_init(&md);
	grpc_metadata_array_init(&trailers);
	details = grpc_empty_slice();

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &reply_bb;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailers;
	ops[5].data.recv_status_on_client.status = &r->status;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.error_string = &error_string;
	if (grpc_call_start_batch(call, ops, 6, (void *)1, NULL) != GRPC_CALL_OK) {
		r->status = GRPC_STATUS_INTERNAL;
		snprintf(r->details, sizeof(r->details), "grpc_call_start_batch failed");
	} else {
		/* The call's own deadline ends it; the extra second only guards against a lost event. */
		ev = grpc_completion_queue_pluck(cq, (void *)1,
			gpr_time_add(deadline, gpr_time_from_millis(1000, GPR_TIMESPAN)), NULL);
		if (ev.type != GRPC_OP_COMPLETE) {
			grpc_call_cancel(call, NULL);
			grpc_completion_queue_pluck(
				cq, (void *)1, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
			r->status = GRPC_STATUS_DEADLINE_EXCEEDED;
		}
		char *d = grpc_slice_to_c_string(details);

		snprintf(r->details, sizeof(r->details), "%s", d);
		gpr_free(d);
	}
	if (r->status == GRPC_STATUS_OK && reply_bb) {
		grpc_byte_buffer_reader rd;

		if (grpc_byte_buffer_reader_init(&rd, reply_bb)) {
			r->reply = grpc_byte_buffer_reader_readall(&rd);
			grpc_byte_buffer_reader_destroy(&rd);
			r->have_reply = true;
		}
	}
	if (error_string)
		gpr_free((void *)error_string);
	grpc_slice_unref(details);
	grpc_byte_buffer_destroy(req_bb);
	if (reply_bb)
		grpc_byte_buffer_destroy(reply_bb);
	grpc_metadata_array_destroy(&md);
	grpc_metadata_array_destroy(&trailers);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			.type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
}

static bool rpc_unreachable(grpc_status_code st)
{
	return st == GRPC_STATUS_UNAVAILABLE || st == GRPC_STATUS_DEADLINE_EXCEEDED ||
	       st == GRPC_STATUS_RESOURCE_EXHAUSTED;
}

/* A failed call as the CNI error: unreachable/overloaded -> 11 (the runtime retries). */
static int rpc_fail(struct plugin *p, const char *verb, const struct rpc *r)
{
	char details[640];

	snprintf(details, sizeof(details), "grpc status %d: %s", (int)r->status, r->details);
	if (rpc_unreachable(r->status)) {
		struct stat st;
		bool exists = stat(p->socket_path, &st) == 0;

		return fail(p, CNI_ERR_TRY_AGAIN_LATER, details,
			"podlane cni-server not reachable on %s%s (try again later)",
			p->socket_path, exists ? "" : ": the socket does not exist");
	}
	return fail(p, CNI_ERR_GENERIC, details, "podlane cni-server %s failed", verb);
}

/* Value of KEY in CNI_ARGS ("K=V;K2=V2") copied to out, or NULL. */
static const char *cni_arg(const char *args, const char *key, char *out, size_t out_size)
{
	size_t klen = strlen(key);

	while (args && *args) {
		size_t len = strcspn(args, ";");

		if (len > klen && strncmp(args, key, klen) == 0 && args[klen] == '=') {
			snprintf(out, out_size, "%.*s", (int)(len - klen - 1), args + klen + 1);
			return out;
		}
		args += len;
		if (*args == ';')
			args++;
	}
	return NULL;
}

/* dataplane_options: the string-valued keys, as Calico's plugin passes them. */
static size_t options_collect(const struct plugin *p, char **keys, char **values)
{
	struct json_object *opts = obj_get(p->conf, "dataplane_options", json_type_object);
	size_t n = 0;

	if (!opts)
		return 0;
	json_object_object_foreach(opts, key, val)
	{
		if (n < MAX_OPTIONS && json_object_is_type(val, json_type_string)) {
			keys[n] = key;
			values[n++] = (char *)json_object_get_string(val);
		}
	}
	return n;
}

/* ---- commands ---- */

static struct json_object *result_new(const struct plugin *p, const struct pod_ip *ips,
	size_t n_ips, struct json_object *ipam_res, const char *mac)
{
	struct json_object *res = json_object_new_object(), *ifs = json_object_new_array();
	struct json_object *iface = json_object_new_object(), *jips = json_object_new_array();
	struct json_object *routes = json_object_new_array(), *dns;
	bool v4 = false, v6 = false;

	json_object_object_add(res, "cniVersion", json_object_new_string(p->version));
	json_object_object_add(iface, "name", json_object_new_string(p->ifname));
	/* A tun has no hardware address, but runtimes such as podman parse "mac" and refuse an
	 * interface without one: report the all-zero address then. */
	json_object_object_add(
		iface, "mac", json_object_new_string(mac && mac[0] ? mac : "00:00:00:00:00:00"));
	json_object_object_add(iface, "sandbox", json_object_new_string(p->netns));
	json_object_array_add(ifs, iface);
	json_object_object_add(res, "interfaces", ifs);

	for (size_t i = 0; i < n_ips; i++) {
		struct json_object *e = json_object_new_object();
		bool is4 = ips[i].family == AF_INET;

		v4 |= is4;
		v6 |= !is4;
		if (version_has_ip_version(p->version))
			json_object_object_add(
				e, "version", json_object_new_string(is4 ? "4" : "6"));
		json_object_object_add(e, "address", json_object_new_string(ips[i].cidr));
		json_object_object_add(
			e, "gateway", json_object_new_string(is4 ? GATEWAY_V4 : GATEWAY_V6));
		json_object_object_add(e, "interface", json_object_new_int(0));
		json_object_array_add(jips, e);
	}
	json_object_object_add(res, "ips", jips);

	for (int fam = 0; fam < 2; fam++) {
		struct json_object *r;

		if (!(fam == 0 ? v4 : v6))
			continue;
		r = json_object_new_object();
		json_object_object_add(
			r, "dst", json_object_new_string(fam == 0 ? "0.0.0.0/0" : "::/0"));
		json_object_object_add(
			r, "gw", json_object_new_string(fam == 0 ? GATEWAY_V4 : GATEWAY_V6));
		json_object_array_add(routes, r);
	}
	json_object_object_add(res, "routes", routes);

	/* DNS: what IPAM returned, else the configuration's well-known "dns" key. */
	dns = obj_get(ipam_res, "dns", json_type_object);
	if (!dns || json_object_object_length(dns) == 0)
		dns = obj_get(p->conf, "dns", json_type_object);
	if (dns && json_object_object_length(dns) > 0)
		json_object_object_add(res, "dns", json_object_get(dns));
	return res;
}

static int cmd_add(struct plugin *p)
{
	struct json_object *ipam_res = NULL, *res;
	struct pod_ip ips[MAX_IPS];
	Cni__IPConfig ipcfg[MAX_IPS], *ipcfg_p[MAX_IPS];
	Cni__AddRequest__DataplaneOptionsEntry opt[MAX_OPTIONS];
	Cni__AddRequest__DataplaneOptionsEntry *opt_p[MAX_OPTIONS];
	Cni__AddRequest req = CNI__ADD_REQUEST__INIT;
	Cni__ContainerSettings settings = CNI__CONTAINER_SETTINGS__INIT;
	Cni__WorkloadIDs wl = CNI__WORKLOAD_IDS__INIT;
	Cni__AddReply *reply = NULL;
	char pod_name[256], pod_ns[256], node[HOST_NAME_MAX + 1] = "";
	char *routes[2], *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
	size_t n_ips = 0;
	struct rpc r;
	int rc;

	rc = ipam_exec(p, "ADD", &ipam_res);
	if (rc)
		return rc;
	rc = ipam_ips(p, ipam_res, ips, &n_ips);
	if (rc)
		goto release;

	/* The pod gets host routes (/32, /128) behind podlane's link-local gateways. */
	req.interface_name = (char *)p->ifname;
	req.netns = (char *)p->netns;
	settings.mtu = p->mtu;
	req.settings = &settings;
	req.n_container_routes = 0;
	for (size_t i = 0; i < n_ips; i++) {
		cni__ipconfig__init(&ipcfg[i]);
		ipcfg[i].address = ips[i].cidr;
		ipcfg[i].gateway = ips[i].ipam_gateway;
		ipcfg_p[i] = &ipcfg[i];
		const char *dst = ips[i].family == AF_INET ? "0.0.0.0/0" : "::/0";
		bool have = false;

		for (size_t k = 0; k < req.n_container_routes; k++)
			have |= strcmp(routes[k], dst) == 0;
		if (!have)
			routes[req.n_container_routes++] = (char *)dst;
	}
	req.container_ips = ipcfg_p;
	req.n_container_ips = n_ips;
	req.container_routes = routes;

	gethostname(node, sizeof(node) - 1);
	if (cni_arg(p->args, "K8S_POD_NAME", pod_name, sizeof(pod_name))) {
		wl.orchestrator = "k8s";
		wl.name = pod_name;
		wl.pod = pod_name;
	} else {
		wl.orchestrator = "cni";
		wl.name = (char *)p->container_id;
	}
	if (cni_arg(p->args, "K8S_POD_NAMESPACE", pod_ns, sizeof(pod_ns)))
		wl.namespace_ = pod_ns;
	wl.endpoint = (char *)p->container_id;
	wl.node = node;
	req.workload = &wl;
	req.n_dataplane_options = options_collect(p, keys, values);
	for (size_t i = 0; i < req.n_dataplane_options; i++) {
		cni__add_request__dataplane_options_entry__init(&opt[i]);
		opt[i].key = keys[i];
		opt[i].value = values[i];
		opt_p[i] = &opt[i];
	}
	req.dataplane_options = opt_p;

	grpc_init();
	rpc_call(p->socket_path, "/cni.CniDataplane/Add", &req.base, &r);
	if (r.status != GRPC_STATUS_OK) {
		rc = rpc_fail(p, "Add", &r);
	} else if (!r.have_reply ||
		   !(reply = cni__add_reply__unpack(
			     NULL, GRPC_SLICE_LENGTH(r.reply), GRPC_SLICE_START_PTR(r.reply)))) {
		rc = fail(p, CNI_ERR_GENERIC, NULL,
			"podlane cni-server sent an undecodable Add reply");
	} else if (!reply->successful) {
		rc = fail(p, CNI_ERR_GENERIC, NULL, "podlane dataplane error: %s",
			reply->error_message);
	}
	if (r.have_reply)
		grpc_slice_unref(r.reply);
	if (rc) {
		cni__add_reply__free_unpacked(reply, NULL);
		grpc_shutdown();
		goto release;
	}

	res = result_new(p, ips, n_ips, ipam_res, reply->container_mac);
	print_json(res);
	json_object_put(res);
	cni__add_reply__free_unpacked(reply, NULL);
	json_object_put(ipam_res);
	grpc_shutdown();
	return 0;

release:
	ipam_release(p);
	json_object_put(ipam_res);
	return rc;
}

/* DEL must succeed when things are already gone. cni-server's socket missing means podlane is
 * not running (or was removed): the pod's tun dies with its network namespace and cni-server
 * prunes its record when it restarts, so we only release the addresses. A socket that exists but
 * does not answer is "try again later" and nothing is released yet: the addresses must not be
 * reused while the old pod may still hold them. */
static int cmd_del(struct plugin *p)
{
	struct json_object *ipam_res = NULL;
	struct stat st;
	int rc = 0;

	if (stat(p->socket_path, &st) < 0 && errno == ENOENT) {
		fprintf(stderr,
			"podlane-cni: %s does not exist (podlane not running); "
			"releasing the addresses only\n",
			p->socket_path);
	} else {
		Cni__DelRequest req = CNI__DEL_REQUEST__INIT;
		Cni__DelRequest__DataplaneOptionsEntry opt[MAX_OPTIONS];
		Cni__DelRequest__DataplaneOptionsEntry *opt_p[MAX_OPTIONS];
		Cni__DelReply *reply = NULL;
		char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
		struct rpc r;

		req.interface_name = (char *)p->ifname;
		req.netns = (char *)(p->netns ? p->netns : "");
		req.n_dataplane_options = options_collect(p, keys, values);
		for (size_t i = 0; i < req.n_dataplane_options; i++) {
			cni__del_request__dataplane_options_entry__init(&opt[i]);
			opt[i].key = keys[i];
			opt[i].value = values[i];
			opt_p[i] = &opt[i];
		}
		req.dataplane_options = opt_p;
		grpc_init();
		rpc_call(p->socket_path, "/cni.CniDataplane/Del", &req.base, &r);
		if (r.status != GRPC_STATUS_OK)
			rc = rpc_fail(p, "Del", &r);
		else if (!r.have_reply ||
			 !(reply = cni__del_reply__unpack(NULL, GRPC_SLICE_LENGTH(r.reply),
				   GRPC_SLICE_START_PTR(r.reply))))
			rc = fail(p, CNI_ERR_GENERIC, NULL,
				"podlane cni-server sent an undecodable Del reply");
		else if (!reply->successful)
			rc = fail(p, CNI_ERR_GENERIC, NULL, "podlane dataplane error: %s",
				reply->error_message);
		if (r.have_reply)
			grpc_slice_unref(r.reply);
		cni__del_reply__free_unpacked(reply, NULL);
		grpc_shutdown();
		if (rc)
			return rc;
	}
	rc = ipam_exec(p, "DEL", &ipam_res);
	json_object_put(ipam_res);
	return rc;
}

static int prefix_len(const struct sockaddr *mask)
{
	const unsigned char *b;
	size_t size;
	int n = 0;

	if (!mask)
		return -1;
	if (mask->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
		size = 4;
	} else {
		b = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		size = 16;
	}
	for (size_t i = 0; i < size; i++)
		n += __builtin_popcount(b[i]);
	return n;
}

/* Inside the pod's namespace: the interface exists, is up and has every address of
 * prevResult that belongs to it. */
static int check_netns(struct plugin *p, struct json_object *prev)
{
	struct json_object *ifs = obj_get(prev, "interfaces", json_type_array);
	struct json_object *jips = obj_get(prev, "ips", json_type_array);
	struct ifaddrs *ifa_list = NULL;
	char missing[512] = "";
	size_t off = 0, n_ips = jips ? json_object_array_length(jips) : 0;
	int fd, rc = 0;
	bool found = false, up = false;

	fd = open(p->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(p, CNI_ERR_GENERIC, strerror(errno), "cannot open network namespace %s",
			p->netns);
	/* A short-lived, single-threaded process: switching our own namespace is fine. */
	if (setns(fd, CLONE_NEWNET) < 0) {
		rc = fail(p, CNI_ERR_GENERIC, strerror(errno), "cannot enter network namespace %s",
			p->netns);
		close(fd);
		return rc;
	}
	close(fd);
	if (getifaddrs(&ifa_list) < 0)
		return fail(p, CNI_ERR_IO, strerror(errno), "cannot list the interfaces in %s",
			p->netns);
	for (struct ifaddrs *a = ifa_list; a; a = a->ifa_next) {
		if (strcmp(a->ifa_name, p->ifname) == 0) {
			found = true;
			up |= (a->ifa_flags & IFF_UP) != 0;
		}
	}
	if (!found && if_nametoindex(p->ifname) == 0) {
		rc = fail(p, CNI_ERR_GENERIC, NULL, "interface %s not found in %s", p->ifname,
			p->netns);
		goto out;
	}
	if (!up) {
		rc = fail(p, CNI_ERR_GENERIC, NULL, "interface %s in %s is down", p->ifname,
			p->netns);
		goto out;
	}
	for (size_t i = 0; i < n_ips; i++) {
		struct json_object *e = json_object_array_get_idx(jips, i), *idx;
		const char *a = str_get(e, "address");
		struct pod_ip want;
		unsigned char bin[sizeof(struct in6_addr)];
		int plen;
		bool have = false;

		/* Only the addresses prevResult puts on our interface. */
		idx = obj_get(e, "interface", json_type_int);
		if (idx) {
			struct json_object *itf =
				ifs ? json_object_array_get_idx(ifs, json_object_get_int(idx))
				    : NULL;
			const char *name = str_get(itf, "name");

			if (json_object_get_int(idx) < 0 || !name || strcmp(name, p->ifname) != 0)
				continue;
		}
		memset(&want, 0, sizeof(want));
		plen = a ? parse_cidr(a, &want) : -EINVAL;
		if (plen < 0) {
			rc = fail(p, CNI_ERR_DECODE, a,
				"prevResult ips[%zu] has an invalid address", i);
			goto out;
		}
		inet_pton(want.family, want.addr, bin);
		for (struct ifaddrs *x = ifa_list; x && !have; x = x->ifa_next) {
			if (strcmp(x->ifa_name, p->ifname) != 0 || !x->ifa_addr ||
				x->ifa_addr->sa_family != want.family)
				continue;
			const void *got =
				want.family == AF_INET
					? (const void *)&((struct sockaddr_in *)x->ifa_addr)
						  ->sin_addr
					: (const void *)&((struct sockaddr_in6 *)x->ifa_addr)
						  ->sin6_addr;
			have = memcmp(got, bin, want.family == AF_INET ? 4 : 16) == 0 &&
			       prefix_len(x->ifa_netmask) == plen;
		}
		if (!have && off < sizeof(missing))
			off += (size_t)snprintf(
				missing + off, sizeof(missing) - off, "%s%s", off ? ", " : "", a);
	}
	if (off)
		rc = fail(p, CNI_ERR_GENERIC, NULL, "interface %s in %s lacks %s", p->ifname,
			p->netns, missing);
out:
	freeifaddrs(ifa_list);
	return rc;
}

static int cmd_check(struct plugin *p)
{
	struct json_object *prev = obj_get(p->conf, "prevResult", json_type_object);
	struct json_object *ipam_res = NULL;
	int rc;

	if (strcmp(p->version, "0.4.0") < 0)
		return fail(p, CNI_ERR_INCOMPATIBLE_VERSION, NULL,
			"CHECK needs cniVersion 0.4.0 or later, got \"%s\"", p->version);
	if (!prev)
		return fail(p, CNI_ERR_INVALID_CONFIG, NULL,
			"CHECK needs prevResult in the network configuration");
	/* IPAM first, while we are still in the runtime's namespace. */
	rc = ipam_exec(p, "CHECK", &ipam_res);
	json_object_put(ipam_res);
	if (rc)
		return rc;
	return check_netns(p, prev);
}

static int cmd_version(struct plugin *p)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	(void)p;
	for (size_t i = 0; i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++)
		json_object_array_add(arr, json_object_new_string(supported_versions[i]));
	json_object_object_add(o, "cniVersion", json_object_new_string("1.0.0"));
	json_object_object_add(o, "supportedVersions", arr);
	print_json(o);
	json_object_put(o);
	return 0;
}

static int run(struct plugin *p)
{
	int rc;

	if (strcmp(p->command, "VERSION") == 0) {
		/* The runtime writes {"cniVersion": ...}; consume it, a bad one does not matter. */
		if (!isatty(STDIN_FILENO))
			(void)read_all(STDIN_FILENO, &p->stdin_data, &p->stdin_size);
		return cmd_version(p);
	}
	if (strcmp(p->command, "ADD") != 0 && strcmp(p->command, "DEL") != 0 &&
		strcmp(p->command, "CHECK") != 0)
		return fail(p, CNI_ERR_INVALID_ENV, NULL,
			"unknown CNI_COMMAND \"%s\" (ADD, DEL, CHECK or VERSION)", p->command);
	rc = check_env(p);
	if (rc)
		return rc;
	rc = read_all(STDIN_FILENO, &p->stdin_data, &p->stdin_size);
	if (rc == -EFBIG)
		return fail(p, CNI_ERR_DECODE, NULL,
			"the network configuration is larger than %d bytes", MAX_INPUT_SIZE);
	if (rc)
		return fail(p, CNI_ERR_IO, strerror(-rc), "cannot read the network configuration");
	rc = parse_config(p);
	if (rc)
		return rc;
	if (strcmp(p->command, "ADD") == 0)
		return cmd_add(p);
	if (strcmp(p->command, "DEL") == 0)
		return cmd_del(p);
	return cmd_check(p);
}

int main(int argc, char **argv)
{
	struct plugin p = { 0 };
	int rc;

	p.command = env("CNI_COMMAND");
	if (!p.command) {
		if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
			usage(stdout);
			return 0;
		}
		if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
			printf("podlane-cni " PODLANE_VERSION
			       " (CNI spec 0.3.0, 0.3.1, 0.4.0, 1.0.0)\n");
			return 0;
		}
		fprintf(stderr, "podlane-cni: a CNI plugin, run by a container runtime; see "
				"podlane-cni --help\n");
		fail(&p, CNI_ERR_INVALID_ENV, NULL, "required env variables [CNI_COMMAND] missing");
		print_error(&p);
		return 1;
	}
	p.container_id = env("CNI_CONTAINERID");
	p.netns = env("CNI_NETNS");
	p.ifname = env("CNI_IFNAME");
	p.args = env("CNI_ARGS");
	p.path = env("CNI_PATH");

	rc = run(&p);
	if (rc)
		print_error(&p);
	json_object_put(p.conf);
	free(p.stdin_data);
	return rc ? 1 : 0;
}
