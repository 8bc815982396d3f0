/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_ACTORS_FAULT_H
#define TROUPE_ACTORS_FAULT_H

/*
 * Stack overflows of processes (actors/fault.c): a SIGSEGV/SIGBUS handler
 * shared by every system of the OS process, and an alternate signal stack
 * per worker thread.  See docs/decisions/0016-stack-guards-and-overflow.md.
 */

#include <stdbool.h>

#include "troupe/troupe.h"

/*
 * tr__fault_install checks sys's overflow policy (TR_EINVAL if unknown)
 * and installs the handler if no system has it yet (a count: the first
 * system installs, the last one's tr__fault_uninstall restores what was
 * there before).  0, TR_EINVAL or TR_ESYS.  Thread: any.
 */
int tr__fault_install(tr_system *sys);
void tr__fault_uninstall(void);

/*
 * tr__fault_thread_start gives the calling worker thread its alternate
 * signal stack (logged and left without one if that fails: an overflow
 * then kills the OS process); tr__fault_thread_stop takes it away again
 * and frees it.  Thread: the worker, at its start and end.
 */
void tr__fault_thread_start(tr_system *sys);
void tr__fault_thread_stop(void);

/*
 * tr__fault_hide_libs(true) makes the handler act as if none of the
 * lock-taking libraries had been found, as in a fully static executable
 * (libc's code is then part of the main program).  Tests only.
 * Thread: any, before the systems it concerns start.
 */
void tr__fault_hide_libs(bool hide);

#endif /* TROUPE_ACTORS_FAULT_H */
