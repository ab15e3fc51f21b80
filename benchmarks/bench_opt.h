/* SPDX-License-Identifier: Apache-2.0 */
/* The "--name=value" arguments of the in-process benchmarks (bench_pipeline_baseline,
 * bench_policy). */
#ifndef BENCH_OPT_H
#define BENCH_OPT_H

#include <stdbool.h>
#include <string.h>

/* True if ARG is NAME followed by '='; *val then points at what follows the '='. */
static inline bool bench_opt(const char *arg, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return false;
	*val = arg + n + 1;
	return true;
}

#endif
