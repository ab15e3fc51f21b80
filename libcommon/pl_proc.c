/* SPDX-License-Identifier: Apache-2.0 */
#include "pl_proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The kernel's PF_EXITING (include/linux/sched.h); part of its ABI through /proc. */
#define PL_PF_EXITING 0x00000004ul

static bool stat_file(const char *path, struct pl_proc_stat *st)
{
	char buf[1024];
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: the fields follow the last ')'. */
	const char *p = strrchr(buf, ')');
	unsigned long long ut, st_;
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu", &st->state,
			  &st->flags, &ut, &st_) != 4)
		return false;
	st->cpu_ticks = ut + st_;
	return true;
}

bool pl_proc_stat(pid_t pid, struct pl_proc_stat *st)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_file(path, st);
}

bool pl_proc_exiting(pid_t pid)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool exiting = true;
	int tasks = 0;
	struct dirent *e;
	while (exiting && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		struct pl_proc_stat st;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/stat", (int)pid, e->d_name);
		errno = 0;
		if (!stat_file(path, &st)) {
			if (errno != ENOENT && errno != ESRCH)
				exiting = false; /* cannot tell */
			continue; /* that thread is gone */
		}
		tasks++;
		if (st.state != 'Z' && st.state != 'X' && !(st.flags & PL_PF_EXITING))
			exiting = false;
	}
	closedir(d);
	return exiting && tasks > 0;
}
