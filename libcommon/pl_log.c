/* SPDX-License-Identifier: Apache-2.0 */
/* Logging implementation: a small table of per-module thresholds and one formatted write per
 * line (a single write(2) keeps lines from different processes from interleaving). */
#include "pl_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct module_level {
	char name[PL_LOG_MODULE_NAME_SIZE];
	enum pl_log_level level;
};

static char prog_name[32] = "podlane";
static enum pl_log_level default_level = PL_LOG_INFO;
static struct module_level modules[PL_LOG_MAX_MODULES];
static unsigned int n_modules;
static bool to_journal;

void pl_log_init(const char *prog, enum pl_log_level level)
{
	if (prog)
		snprintf(prog_name, sizeof(prog_name), "%s", prog);
	default_level = level;
	n_modules = 0;
	to_journal = getenv("JOURNAL_STREAM") != NULL;
}

static struct module_level *find_module(const char *module)
{
	for (unsigned int i = 0; i < n_modules; i++)
		if (strcmp(modules[i].name, module) == 0)
			return &modules[i];
	return NULL;
}

int pl_log_set_level(const char *module, enum pl_log_level level)
{
	if (level != PL_LOG_ERR && level != PL_LOG_WARN && level != PL_LOG_INFO &&
		level != PL_LOG_DEBUG)
		return -EINVAL;
	if (!module || strcmp(module, "*") == 0) {
		default_level = level;
		for (unsigned int i = 0; i < n_modules; i++)
			modules[i].level = level;
		return 0;
	}
	if (strlen(module) >= PL_LOG_MODULE_NAME_SIZE || module[0] == '\0')
		return -EINVAL;
	struct module_level *m = find_module(module);
	if (!m) {
		if (n_modules == PL_LOG_MAX_MODULES)
			return -ENOSPC;
		m = &modules[n_modules++];
		snprintf(m->name, sizeof(m->name), "%s", module);
	}
	m->level = level;
	return 0;
}

enum pl_log_level pl_log_get_level(const char *module)
{
	const struct module_level *m = module ? find_module(module) : NULL;
	return m ? m->level : default_level;
}

bool pl_log_enabled(const char *module, enum pl_log_level level)
{
	return level <= pl_log_get_level(module);
}

static const struct {
	const char *name;
	enum pl_log_level level;
} level_names[] = {
	{ "err", PL_LOG_ERR },
	{ "warn", PL_LOG_WARN },
	{ "info", PL_LOG_INFO },
	{ "debug", PL_LOG_DEBUG },
};

int pl_log_level_parse(const char *s, enum pl_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i].name) == 0) {
			*level = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pl_log_level_name(enum pl_log_level level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "?";
}

size_t pl_log_describe(char *buf, size_t size)
{
	size_t off = 0;
	int n = snprintf(buf, size, "*=%s", pl_log_level_name(default_level));
	if (n > 0)
		off = (size_t)n < size ? (size_t)n : size - 1;
	for (unsigned int i = 0; i < n_modules && off + 1 < size; i++) {
		n = snprintf(buf + off, size - off, " %s=%s", modules[i].name,
			pl_log_level_name(modules[i].level));
		if (n < 0)
			break;
		off += (size_t)n < size - off ? (size_t)n : size - off - 1;
	}
	return off;
}

void pl_vlog(enum pl_log_level level, const char *module, const char *fmt, va_list ap)
{
	char line[1024];
	int off;
	int saved_errno = errno;

	if (to_journal) {
		off = snprintf(line, sizeof(line), "<%d>%s: ", (int)level, module);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = snprintf(line, sizeof(line),
			"%02d:%02d:%02d.%03ld %s[%d] %s %s: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000, prog_name, (int)getpid(), pl_log_level_name(level),
			module);
	}
	if (off < 0)
		off = 0;
	if ((size_t)off < sizeof(line)) {
		int n = vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
		if (n > 0)
			off += n;
	}
	if ((size_t)off >= sizeof(line) - 1)
		off = (int)sizeof(line) - 2;
	line[off++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)off);
	(void)w;
	errno = saved_errno;
}

void pl_log(enum pl_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;
	if (!pl_log_enabled(module, level))
		return;
	va_start(ap, fmt);
	pl_vlog(level, module, fmt, ap);
	va_end(ap);
}

bool pl_log_rl_allow(struct pl_log_rl *rl, uint32_t burst)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (now_ms - rl->window_start_ms >= 1000) {
		if (rl->n_suppressed)
			pl_log(PL_LOG_WARN, "log", "%u similar messages suppressed",
				rl->n_suppressed);
		rl->window_start_ms = now_ms;
		rl->n_in_window = 0;
		rl->n_suppressed = 0;
	}
	if (rl->n_in_window < burst) {
		rl->n_in_window++;
		return true;
	}
	rl->n_suppressed++;
	return false;
}
