/* SPDX-License-Identifier: Apache-2.0 */
/* Logging: levels, per-module thresholds changeable at runtime, journald-friendly output.
 * Lines go to stderr; when stderr is the journal (JOURNAL_STREAM) each line carries the
 * syslog priority prefix "<N>" so journald records the right level. Datapath code uses
 * PL_LOG_RL, which lets at most a few lines per second through per call site. */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pl_log_level {
	PL_LOG_ERR = 3,
	PL_LOG_WARN = 4,
	PL_LOG_INFO = 6,
	PL_LOG_DEBUG = 7,
};

#define PL_LOG_MAX_MODULES 32
#define PL_LOG_MODULE_NAME_SIZE 24

/* Sets the program name shown in every line and the default threshold. */
void pl_log_init(const char *prog, enum pl_log_level level);
/* Threshold for one module ("*" or NULL: every module and the default). 0 or -EINVAL/-ENOSPC. */
int pl_log_set_level(const char *module, enum pl_log_level level);
enum pl_log_level pl_log_get_level(const char *module);
/* Parses "err", "warn", "info", "debug"; -EINVAL otherwise. */
int pl_log_level_parse(const char *s, enum pl_log_level *level);
const char *pl_log_level_name(enum pl_log_level level);
bool pl_log_enabled(const char *module, enum pl_log_level level);
/* Lists "module=level" pairs into buf; returns bytes written. */
size_t pl_log_describe(char *buf, size_t size);

void pl_log(enum pl_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pl_vlog(enum pl_log_level level, const char *module, const char *fmt, va_list ap);

/* Rate limiter for one call site: at most `burst` lines per second. */
struct pl_log_rl {
	uint64_t window_start_ms;
	uint32_t n_in_window;
	uint32_t n_suppressed;
};
bool pl_log_rl_allow(struct pl_log_rl *rl, uint32_t burst);

#define PL_ERR(mod, ...) pl_log(PL_LOG_ERR, mod, __VA_ARGS__)
#define PL_WARN(mod, ...) pl_log(PL_LOG_WARN, mod, __VA_ARGS__)
#define PL_INFO(mod, ...) pl_log(PL_LOG_INFO, mod, __VA_ARGS__)
#define PL_DEBUG(mod, ...)                                      \
	do {                                                    \
		if (pl_log_enabled(mod, PL_LOG_DEBUG))          \
			pl_log(PL_LOG_DEBUG, mod, __VA_ARGS__); \
	} while (0)
#define PL_LOG_RL(level, mod, ...)                                           \
	do {                                                                 \
		static struct pl_log_rl rl__;                                \
		if (pl_log_enabled(mod, level) && pl_log_rl_allow(&rl__, 5)) \
			pl_log(level, mod, __VA_ARGS__);                     \
	} while (0)

#endif
