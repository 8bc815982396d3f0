/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_ACTORS_PLATFORM_H
#define TROUPE_ACTORS_PLATFORM_H

/*
 * The port contract: everything troupe needs from the OS.  CMake picks the
 * files that implement it (actors/platform/); no OS #ifdef in the logic.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <pthread.h>

typedef pthread_t tr__thread;

/* tr__thread_start runs fn(arg) on a new thread; 0 or TR_ESYS/TR_ENOMEM. */
int tr__thread_start(tr__thread *t, void *(*fn)(void *), void *arg,
    const char *name);

/* tr__thread_join waits for t to end. */
void tr__thread_join(tr__thread t);

/* tr__ncpu returns the number of online CPUs (at least 1). */
unsigned tr__ncpu(void);

/* tr__now_ns returns the monotonic clock in nanoseconds. */
int64_t tr__now_ns(void);

/*
 * tr__park_wait sleeps while *word == expect, until tr__park_wake on word,
 * or timeout_ns passes (< 0: no timeout).  It may return spuriously: the
 * caller rechecks its condition.  Thread: any.
 */
void tr__park_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns);

/* tr__park_wake wakes up to n threads sleeping on word (INT32_MAX: all). */
void tr__park_wake(_Atomic uint32_t *word, int n);

/* tr__cpu_relax tells the CPU we are spinning. */
static inline void
tr__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* TROUPE_ACTORS_PLATFORM_H */
