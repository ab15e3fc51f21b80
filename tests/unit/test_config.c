/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for pl_config: defaults, a good file, and every kind of bad input. Each failure
 * must name FILE:LINE, say what was wrong, return -errno and leave *cfg with pure defaults.
 * Temporary files are created with mkstemp under /tmp and removed by the test itself. */
#include "pl_config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* A file under /tmp holding `text`; its path goes into `path` (at least 64 bytes). */
static void write_temp(char *path, size_t size, const char *text, size_t len)
{
	int fd;

	snprintf(path, size, "/tmp/pl_config_test.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void assert_defaults(const struct pl_config *cfg)
{
	struct pl_config d;

	pl_config_defaults(&d);
	assert_memory_equal(cfg, &d, sizeof(d));
	assert_string_equal(cfg->path, "");
}

/* Loads `text` from a temp file and returns the result; err gets the message. */
static int load_text(struct pl_config *cfg, const char *text, char *path, size_t path_size,
	char *err, size_t err_size)
{
	int rc;

	write_temp(path, path_size, text, strlen(text));
	/* Garbage first: the loader must overwrite every byte it promises. */
	memset(cfg, 0xa5, sizeof(*cfg));
	rc = pl_config_load(cfg, path, err, err_size);
	unlink(path);
	return rc;
}

/* Expects `text` to fail at `line` with a message containing `fragment`. */
static void expect_error(const char *text, int line, const char *fragment)
{
	char path[64], err[PL_CONFIG_ERR_SIZE], want[128];
	struct pl_config cfg;
	int rc;

	rc = load_text(&cfg, text, path, sizeof(path), err, sizeof(err));
	if (rc >= 0 || !strstr(err, fragment))
		print_error("text:\n%s\nrc=%d err='%s'\n", text, rc, err);
	assert_true(rc < 0);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: ", path, line);
	else
		snprintf(want, sizeof(want), "%s: ", path);
	/* The message starts with FILE:LINE: (or FILE: when no line applies). */
	if (strncmp(err, want, strlen(want)))
		print_error("want prefix '%s', got '%s'\n", want, err);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	assert_non_null(strstr(err, fragment));
	assert_null(strchr(err, '\n'));
	assert_defaults(&cfg);
}

static void test_defaults(void **state)
{
	struct pl_config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	pl_config_defaults(&cfg);
	assert_string_equal(cfg.path, "");
	assert_true(cfg.node_name[0] != '\0');
	assert_string_equal(cfg.run_dir, "/run/podlane");
	assert_string_equal(cfg.bin_dir, "");
	assert_string_equal(cfg.log_level, "info");
	assert_string_equal(cfg.dpdk.file_prefix, "podlane");
	assert_string_equal(cfg.dpdk.huge_dir, "/dev/hugepages");
	assert_string_equal(cfg.dpdk.cpus, "0-1");
	assert_int_equal(cfg.dpdk.lcore_base, 1);
	assert_int_equal(cfg.dpdk.mbufs, 16384);
	assert_int_equal(cfg.dpdk.ring_size, 1024);
	assert_int_equal(cfg.dpdk.socket_mem_mb, 256);
	assert_int_equal(cfg.pipeline.burst, 32);
	assert_int_equal(cfg.pipeline.idle_spin_us, 200);
	assert_int_equal(cfg.pipeline.sleep_ms, 1000);
	assert_int_equal(cfg.supervisor.backoff_min_ms, 100);
	assert_int_equal(cfg.supervisor.backoff_max_ms, 10000);
	assert_int_equal(cfg.supervisor.quiet_ms, 30000);
	assert_int_equal(cfg.supervisor.stop_timeout_ms, 3000);
	assert_int_equal(cfg.supervisor.ready_timeout_ms, 30000);
	assert_string_equal(cfg.supervisor.metrics_address, "127.0.0.1");
	assert_int_equal(cfg.supervisor.metrics_port, 9464);
	assert_true(cfg.supervisor.spawn_services);
	assert_int_equal(cfg.bus.heartbeat_ms, 1000);
	assert_int_equal(cfg.bus.dead_after_ms, 3000);
	assert_int_equal(cfg.bus.max_message_size, 65536);
	assert_int_equal(cfg.bus.max_objects, 65536);
	assert_int_equal(cfg.admin.max_request_size, 65536);
	assert_true(cfg.synthetic.enabled);
}

static void test_node_name_is_hostname(void **state)
{
	char host[256] = "";
	struct pl_config cfg;

	(void)state;
	pl_config_defaults(&cfg);
	if (gethostname(host, sizeof(host) - 1) == 0 && host[0] &&
		strlen(host) < sizeof(cfg.node_name))
		assert_string_equal(cfg.node_name, host);
	else
		assert_string_equal(cfg.node_name, "node");
}

static void test_good_file(void **state)
{
	static const char text[] = "# podlane test config\n"
				   "node_name: edge-7\n"
				   "log:\n"
				   "  level: debug\n"
				   "dpdk:\n"
				   "  mbufs: 32768\n"
				   "  ring_size: 4096\n"
				   "  cpus: \"2-5\"\n"
				   "supervisor:\n"
				   "  backoff_min_ms: 50\n"
				   "  metrics_address: \"::1\"\n"
				   "  metrics_port: 0\n"
				   "  spawn_services: no\n"
				   "bus: {heartbeat_ms: 500, max_objects: 10}\n"
				   "synthetic:\n"
				   "  enabled: Off\n"
				   "pipeline:\n"
				   "bin_dir:\n";
	char path[64], err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg, d;

	(void)state;
	assert_int_equal(load_text(&cfg, text, path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	pl_config_defaults(&d);

	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.node_name, "edge-7");
	assert_string_equal(cfg.log_level, "debug");
	assert_int_equal(cfg.dpdk.mbufs, 32768);
	assert_int_equal(cfg.dpdk.ring_size, 4096);
	assert_string_equal(cfg.dpdk.cpus, "2-5");
	assert_int_equal(cfg.supervisor.backoff_min_ms, 50);
	assert_string_equal(cfg.supervisor.metrics_address, "::1");
	assert_int_equal(cfg.supervisor.metrics_port, 0);
	assert_false(cfg.supervisor.spawn_services);
	assert_int_equal(cfg.bus.heartbeat_ms, 500);
	assert_int_equal(cfg.bus.max_objects, 10);
	assert_false(cfg.synthetic.enabled);
	assert_string_equal(cfg.bin_dir, "");

	/* Everything not named keeps its default. */
	assert_string_equal(cfg.run_dir, d.run_dir);
	assert_string_equal(cfg.dpdk.file_prefix, d.dpdk.file_prefix);
	assert_string_equal(cfg.dpdk.huge_dir, d.dpdk.huge_dir);
	assert_int_equal(cfg.dpdk.lcore_base, d.dpdk.lcore_base);
	assert_int_equal(cfg.dpdk.socket_mem_mb, d.dpdk.socket_mem_mb);
	assert_memory_equal(&cfg.pipeline, &d.pipeline, sizeof(d.pipeline));
	assert_int_equal(cfg.supervisor.backoff_max_ms, d.supervisor.backoff_max_ms);
	assert_int_equal(cfg.supervisor.quiet_ms, d.supervisor.quiet_ms);
	assert_int_equal(cfg.supervisor.stop_timeout_ms, d.supervisor.stop_timeout_ms);
	assert_int_equal(cfg.supervisor.ready_timeout_ms, d.supervisor.ready_timeout_ms);
	assert_int_equal(cfg.bus.dead_after_ms, d.bus.dead_after_ms);
	assert_int_equal(cfg.bus.max_message_size, d.bus.max_message_size);
	assert_int_equal(cfg.admin.max_request_size, d.admin.max_request_size);
}

static void test_range_edges(void **state)
{
	static const char text[] = "dpdk:\n"
				   "  mbufs: 1024\n"
				   "  ring_size: 65536\n"
				   "  lcore_base: 0\n"
				   "supervisor:\n"
				   "  backoff_min_ms: 600000\n"
				   "  backoff_max_ms: 600000\n"
				   "  metrics_port: 65535\n"
				   "  metrics_address: 0.0.0.0\n"
				   "admin:\n"
				   "  max_request_size: 16777216\n"
				   "log:\n"
				   "  level: err\n";
	char path[64], err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg;

	(void)state;
	assert_int_equal(load_text(&cfg, text, path, sizeof(path), err, sizeof(err)), 0);
	assert_int_equal(cfg.dpdk.mbufs, 1024);
	assert_int_equal(cfg.dpdk.ring_size, 65536);
	assert_int_equal(cfg.dpdk.lcore_base, 0);
	assert_int_equal(cfg.supervisor.backoff_min_ms, 600000);
	assert_int_equal(cfg.supervisor.backoff_max_ms, 600000);
	assert_int_equal(cfg.supervisor.metrics_port, 65535);
	assert_string_equal(cfg.supervisor.metrics_address, "0.0.0.0");
	assert_int_equal(cfg.admin.max_request_size, 16777216);
	assert_string_equal(cfg.log_level, "err");
}

static void test_empty_file(void **state)
{
	char path[64], err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg, d;

	(void)state;
	assert_int_equal(load_text(&cfg, "", path, sizeof(path), err, sizeof(err)), 0);
	assert_string_equal(cfg.path, path);
	pl_config_defaults(&d);
	snprintf(d.path, sizeof(d.path), "%s", path);
	assert_memory_equal(&cfg, &d, sizeof(d));

	/* Comments only, or an explicit empty document, are empty too. */
	assert_int_equal(
		load_text(&cfg, "# nothing here\n\n", path, sizeof(path), err, sizeof(err)), 0);
	snprintf(d.path, sizeof(d.path), "%s", path);
	assert_memory_equal(&cfg, &d, sizeof(d));
	assert_int_equal(load_text(&cfg, "---\n...\n", path, sizeof(path), err, sizeof(err)), 0);
	snprintf(d.path, sizeof(d.path), "%s", path);
	assert_memory_equal(&cfg, &d, sizeof(d));
}

static void test_default_path(void **state)
{
	char err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg;
	FILE *f;
	int rc;

	(void)state;
	f = fopen(PL_CONFIG_DEFAULT_PATH, "r");
	if (f) {
		/* A real installation: this test cannot assume the file is absent. */
		fclose(f);
		skip();
	}
	memset(&cfg, 0xa5, sizeof(cfg));
	rc = pl_config_load(&cfg, NULL, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_defaults(&cfg);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("run_dir: /tmp/x\nfoo: 1\n", 2, "unknown key 'foo'");
}

static void test_unknown_section_key(void **state)
{
	(void)state;
	expect_error("dpdk:\n  mbufs: 2048\n  foo: 3\n", 3, "unknown key 'foo' in section 'dpdk'");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_error(
		"dpdk:\n  mbufs: abc\n", 2, "'dpdk.mbufs' expects an unsigned integer, got 'abc'");
	expect_error("dpdk:\n  mbufs: -5\n", 2, "expects an unsigned integer, got '-5'");
	expect_error("dpdk:\n  mbufs: +2048\n", 2, "expects an unsigned integer");
	expect_error("dpdk:\n  mbufs: 0x800\n", 2, "expects an unsigned integer");
	expect_error("dpdk:\n  mbufs: 2048.0\n", 2, "expects an unsigned integer");
	expect_error("dpdk:\n  mbufs:\n", 2, "expects an unsigned integer, got ''");
	expect_error("dpdk:\n  mbufs: [1, 2]\n", 2, "expects an unsigned integer, got a sequence");
	expect_error("synthetic:\n  enabled: maybe\n", 2,
		"'synthetic.enabled' expects a boolean (true/false/yes/no/on/off), got 'maybe'");
	expect_error("node_name:\n  a: b\n", 2, "'node_name' expects a string, got a mapping");
}

static void test_out_of_range(void **state)
{
	(void)state;
	expect_error(
		"dpdk:\n  mbufs: 10\n", 2, "'dpdk.mbufs' = 10 is out of range [1024, 1048576]");
	expect_error("\n\npipeline:\n  burst: 257\n", 4,
		"'pipeline.burst' = 257 is out of range [1, 256]");
	expect_error("supervisor:\n  metrics_port: 65536\n", 2, "is out of range [0, 65535]");
	/* Beyond uint32_t must not wrap around into the range. */
	expect_error(
		"dpdk:\n  mbufs: 4294968320\n", 2, "'dpdk.mbufs' = 4294968320 is out of range");
	expect_error("dpdk:\n  mbufs: 99999999999999999999999\n", 2, "is out of range");
}

static void test_ring_not_power_of_two(void **state)
{
	(void)state;
	expect_error(
		"dpdk:\n  ring_size: 1000\n", 2, "'dpdk.ring_size' = 1000 must be a power of two");
}

static void test_bad_enum(void **state)
{
	(void)state;
	expect_error("log:\n  level: verbose\n", 2,
		"'log.level' must be one of err, warn, info, debug, got 'verbose'");
}

static void test_bad_ip(void **state)
{
	(void)state;
	expect_error("supervisor:\n  metrics_address: localhost\n", 2,
		"'supervisor.metrics_address' expects an IPv4 or IPv6 address, got 'localhost'");
	expect_error("supervisor:\n  metrics_address: 10.0.0.256\n", 2, "IPv4 or IPv6 address");
}

static void test_string_too_long(void **state)
{
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), "dpdk:\n  file_prefix: %0100d\n", 7);
	expect_error(text, 2, "'dpdk.file_prefix' is too long (100 bytes, at most 63)");
	expect_error("run_dir: \"\"\n", 1, "'run_dir' must not be empty");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_error("dpdk:\n  mbufs: 2048\n  ring_size: 64\n  mbufs: 4096\n", 4,
		"duplicate key 'mbufs'");
	expect_error("dpdk:\n  mbufs: 2048\nlog:\n  level: warn\ndpdk:\n  ring_size: 64\n", 5,
		"duplicate key 'dpdk'");
	expect_error("node_name: a\nnode_name: b\n", 2, "duplicate key 'node_name'");
}

static void test_yaml_syntax_error(void **state)
{
	(void)state;
	expect_error("dpdk:\n  mbufs: 2048\n ring_size: 64\n", 3, "YAML syntax error");
	expect_error("dpdk: {mbufs: 2048\n", 2, "YAML syntax error");
	expect_error("log:\n  level: \"info\n", 3, "YAML syntax error");
}

static void test_aliases_rejected(void **state)
{
	(void)state;
	expect_error("dpdk: &d\n  mbufs: 2048\n", 1, "anchors and aliases are not supported");
	expect_error("supervisor:\n  backoff_min_ms: &x 100\n  backoff_max_ms: *x\n", 2,
		"anchors and aliases are not supported");
}

static void test_not_a_mapping(void **state)
{
	(void)state;
	expect_error("- a\n- b\n", 1, "top level must be a mapping");
	expect_error("\nhello\n", 2, "top level must be a mapping");
	expect_error("node_name: a\n---\nnode_name: b\n", 2, "only one YAML document");
}

static void test_section_as_scalar(void **state)
{
	(void)state;
	expect_error("log: debug\n", 1,
		"section 'log' must be a mapping of options, got scalar 'debug'");
	expect_error("dpdk:\n  - mbufs\n", 2, "section 'dpdk' must be a mapping");
}

static void test_backoff_min_above_max(void **state)
{
	(void)state;
	/* The message points at backoff_max_ms... */
	expect_error("supervisor:\n  backoff_max_ms: 500\n  backoff_min_ms: 1000\n", 2,
		"'supervisor.backoff_max_ms' = 500 must be >= 'supervisor.backoff_min_ms' = 1000");
	/* ...or, with backoff_max_ms defaulted, at the value that was set. */
	expect_error("supervisor:\n\n  backoff_min_ms: 20000\n", 3,
		"'supervisor.backoff_max_ms' = 10000 must be >= 'supervisor.backoff_min_ms' = "
		"20000");
}

static void test_missing_file(void **state)
{
	char path[64], err[PL_CONFIG_ERR_SIZE], want[160];
	struct pl_config cfg;
	int rc;

	(void)state;
	write_temp(path, sizeof(path), "", 0);
	unlink(path);
	memset(&cfg, 0xa5, sizeof(cfg));
	rc = pl_config_load(&cfg, path, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
	assert_defaults(&cfg);
}

static void test_too_large(void **state)
{
	const size_t size = 1024 * 1024 + 1;
	char path[64], err[PL_CONFIG_ERR_SIZE], want[128];
	struct pl_config cfg;
	char *text;
	int rc;

	(void)state;
	/* A comment, valid YAML apart from its size. */
	text = malloc(size);
	assert_non_null(text);
	memset(text, ' ', size);
	text[0] = '#';
	text[size - 1] = '\n';
	write_temp(path, sizeof(path), text, size);
	memset(&cfg, 0xa5, sizeof(cfg));
	rc = pl_config_load(&cfg, path, err, sizeof(err));
	unlink(path);
	snprintf(want, sizeof(want), "%s: larger than 1 MiB", path);
	assert_int_equal(rc, -EFBIG);
	assert_string_equal(err, want);
	assert_defaults(&cfg);

	/* Exactly 1 MiB is fine. */
	rc = pl_config_load_buffer(&cfg, "big", text, size - 1, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.path, "big");

	rc = pl_config_load_buffer(&cfg, "big", text, size, err, sizeof(err));
	assert_int_equal(rc, -EFBIG);
	assert_string_equal(err, "big: larger than 1 MiB");
	free(text);
}

static void test_load_buffer(void **state)
{
	static const char good[] = "dpdk:\n  mbufs: 2048\n";
	static const char bad[] = "dpdk:\n  mbufs: 2048\n  ring_size: 100\n";
	char err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg;
	int rc;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	rc = pl_config_load_buffer(&cfg, "inline", good, strlen(good), err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(err, "");
	assert_string_equal(cfg.path, "inline");
	assert_int_equal(cfg.dpdk.mbufs, 2048);
	assert_int_equal(cfg.dpdk.ring_size, 1024);

	/* Only `len` bytes count: the same text cut short before ring_size. */
	rc = pl_config_load_buffer(&cfg, "inline", bad, strlen(good), err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(cfg.dpdk.ring_size, 1024);

	/* A failure after a good option was parsed leaves nothing of it behind. */
	rc = pl_config_load_buffer(&cfg, "inline", bad, strlen(bad), err, sizeof(err));
	assert_true(rc < 0);
	assert_string_equal(err, "inline:3: 'dpdk.ring_size' = 100 must be a power of two");
	assert_defaults(&cfg);

	/* Empty buffer, NULL buffer of length 0. */
	rc = pl_config_load_buffer(&cfg, "empty", NULL, 0, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.path, "empty");

	/* A short err buffer is truncated, not overrun; NULL err is allowed. */
	rc = pl_config_load_buffer(&cfg, "inline", bad, strlen(bad), err, 10);
	assert_true(rc < 0);
	assert_string_equal(err, "inline:3:");
	rc = pl_config_load_buffer(&cfg, "inline", bad, strlen(bad), NULL, 0);
	assert_true(rc < 0);
}

static void test_no_half_apply(void **state)
{
	static const char bad[] = "node_name: n\nlog: {level: loud}\n";
	char path[64], err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg;
	int rc;

	(void)state;
	/* A good load, then a bad one: the bad one resets to defaults, not the previous file. */
	rc = load_text(&cfg, "dpdk:\n  mbufs: 2048\n", path, sizeof(path), err, sizeof(err));
	assert_int_equal(rc, 0);
	rc = pl_config_load_buffer(&cfg, "x", bad, strlen(bad), err, sizeof(err));
	assert_true(rc < 0);
	assert_defaults(&cfg);
}

/* etc/podlane.yaml sets every option to its default (node_name aside): it must load and match. */
static void test_example_file(void **state)
{
	char path[PL_CONFIG_STR_SIZE], err[PL_CONFIG_ERR_SIZE];
	struct pl_config cfg, d;
	FILE *f;

	(void)state;
	/* The build passes the source tree's root. */
	snprintf(path, sizeof(path), "%s/etc/podlane.yaml", PODLANE_SOURCE_ROOT);
	f = fopen(path, "r");
	if (!f)
		skip();
	fclose(f);
	assert_int_equal(pl_config_load(&cfg, path, err, sizeof(err)), 0);
	pl_config_defaults(&d);
	snprintf(d.path, sizeof(d.path), "%s", path);
	assert_memory_equal(&cfg, &d, sizeof(d));
}

static void test_print_options(void **state)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	(void)state;
	f = open_memstream(&buf, &size);
	assert_non_null(f);
	pl_config_print_options(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(buf, "dpdk.mbufs"));
	assert_non_null(strstr(buf, "[1024..1048576]"));
	assert_non_null(strstr(buf, "16384"));
	assert_non_null(strstr(buf, "[err|warn|info|debug]"));
	assert_non_null(strstr(buf, "synthetic.enabled"));
	assert_non_null(strstr(buf, "supervisor.metrics_address"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_node_name_is_hostname),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_range_edges),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_ring_not_power_of_two),
		cmocka_unit_test(test_bad_enum),
		cmocka_unit_test(test_bad_ip),
		cmocka_unit_test(test_string_too_long),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_aliases_rejected),
		cmocka_unit_test(test_not_a_mapping),
		cmocka_unit_test(test_section_as_scalar),
		cmocka_unit_test(test_backoff_min_above_max),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_load_buffer),
		cmocka_unit_test(test_no_half_apply),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_print_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
