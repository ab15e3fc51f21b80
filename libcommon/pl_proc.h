/* SPDX-License-Identifier: Apache-2.0 */
/* What the kernel says of a process, from /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat.
 * Used by the supervisor's hang detection and by a standby that takes over from a process
 * killed as hung. */
#ifndef PL_PROC_H
#define PL_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct pl_proc_stat {
	char state; /* R, S, D, T, t, Z, X, ... */
	unsigned long flags; /* the task's PF_* flags */
	uint64_t cpu_ticks; /* utime + stime, in clock ticks */
};

/* The thread group leader's stat; false if the process is gone or /proc is unreadable. */
bool pl_proc_stat(pid_t pid, struct pl_proc_stat *st);

/* True once process pid runs no more user code: every one of its threads is in the kernel's
 * exit path (PF_EXITING: set as a task enters do_exit, before its memory and descriptors are
 * released) or a zombie. False if it still runs, is gone, or /proc cannot tell. */
bool pl_proc_exiting(pid_t pid);

#endif
