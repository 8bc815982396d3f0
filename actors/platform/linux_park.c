/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "actors/platform.h"

/* Linux: park on a futex word (process-private). */

void
tr__park_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	(void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAIT_PRIVATE, expect,
	    tsp, NULL, 0);
}

void
tr__park_wake(_Atomic uint32_t *word, int n)
{
	(void) syscall(SYS_futex, (uint32_t *) word, FUTEX_WAKE_PRIVATE,
	    n < 0 ? INT_MAX : n, NULL, NULL, 0);
}
