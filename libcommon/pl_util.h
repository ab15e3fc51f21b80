/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by libcommon and the services that need no DPDK headers. */
#ifndef PL_UTIL_H
#define PL_UTIL_H

#define PL_DIM(a) (sizeof(a) / sizeof((a)[0]))

static inline void pl_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

#endif
