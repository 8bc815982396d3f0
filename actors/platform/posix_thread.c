/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <troupe/defs.h>

#include "actors/platform.h"

int
tr__thread_start(tr__thread *t, void *(*fn)(void *), void *arg,
    const char *name)
{
	int rv = pthread_create(t, NULL, fn, arg);
	if (rv != 0)
		return rv == ENOMEM || rv == EAGAIN ? TR_ENOMEM : TR_ESYS;
#ifdef __linux__
	if (name != NULL)
		(void) pthread_setname_np(*t, name);
#else
	(void) name;
#endif
	return 0;
}

void
tr__thread_join(tr__thread t)
{
	(void) pthread_join(t, NULL);
}

unsigned
tr__ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1u : (unsigned) n;
}

int64_t
tr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}
