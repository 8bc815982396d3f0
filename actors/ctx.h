/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_ACTORS_CTX_H
#define TROUPE_ACTORS_CTX_H

/*
 * Stackful contexts for processes: the context switch (actors/arch/, one
 * assembly file per architecture, ucontext as the fallback) and the stack
 * pool (actors/stack.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------ context switch */

/*
 * tr__ctx_switch saves the callee-saved registers of the running context
 * on its stack, stores its stack pointer in *from, loads `to` (a stack
 * pointer saved by an earlier switch or made by tr__ctx_make) and resumes
 * that context.  It returns when something switches back to *from.
 */
void tr__ctx_switch(void **from, void *to);

/*
 * tr__ctx_make prepares a fresh context on the stack whose highest address
 * is top (16-byte aligned), so that the first tr__ctx_switch to the
 * returned pointer calls entry(arg) on that stack.  entry must never
 * return (it switches away for good instead).
 */
void *tr__ctx_make(void *top, void (*entry)(void *), void *arg);

/* ---------------------------------------------------------- the stacks */

/*
 * A tr__stack is one process stack: [lo, hi) usable, growing down from hi.
 * Stacks are carved from large mappings (MAP_NORESERVE, MADV_NOHUGEPAGE)
 * so that an idle stack costs the pages it touched, usually one.  While
 * the process's map count allows it (vm.max_map_count, 65,530 by default:
 * a guard page splits a mapping), a PROT_NONE guard page sits below lo; a
 * stack without one keeps its lowest 64 bytes unused and all zero (a page
 * never touched reads as zero, so the canary costs no memory), and
 * tr__stack_check reads them.  See docs/decisions/0013-process-stacks.md.
 */
typedef struct tr__stack {
	char *lo;
	char *hi;
	bool guarded;
	unsigned vg_id;         /* valgrind's stack id */
	struct tr__stack *next; /* free list */
} tr__stack;

typedef struct tr__stack_pool tr__stack_pool;

/*
 * tr__stack_pool_alloc makes a pool of stacks of stack_size bytes each
 * (rounded up to pages; at least 8 KiB).  max_guards bounds the guard
 * pages (0: derive from vm.max_map_count, keeping half of it for the
 * rest of the process).  NULL on ENOMEM.  Thread-safe pool.
 */
tr__stack_pool *tr__stack_pool_alloc(size_t stack_size, size_t max_guards);

/* tr__stack_pool_free unmaps everything; every stack must be back. */
void tr__stack_pool_free(tr__stack_pool *sp);

/* tr__stack_get returns a stack (canary set if unguarded), or NULL. Thread: any. */
tr__stack *tr__stack_get(tr__stack_pool *sp);

/*
 * tr__stack_put returns a stack.  A stack that went deeper than its top
 * page gives the pages below back to the OS (MADV_DONTNEED), except that
 * up to 64 such stacks are kept as they are for quick reuse; see stack.c.
 * Thread: any.
 */
void tr__stack_put(tr__stack_pool *sp, tr__stack *s);

/* tr__stack_check tells whether an unguarded stack's canary is intact
 * (always true for a guarded one). */
bool tr__stack_check(const tr__stack *s);

/*
 * tr__stack_save copies the live part of s, [sp, hi), to a new heap
 * buffer (*buf, *len; the caller frees it) and gives all of s's pages
 * back to the OS; the range stays reserved.  tr__stack_restore copies the
 * bytes back to the same addresses.  Compact processes use them while
 * blocked.  tr__stack_save returns false on ENOMEM (s is then unchanged).
 * Thread: any (one at a time per stack).
 */
bool tr__stack_save(tr__stack_pool *sp, tr__stack *s, const void *sp_now,
    void **buf, size_t *len);
void tr__stack_restore(tr__stack_pool *sp, tr__stack *s, void *buf, size_t len);

/* tr__stack_size returns the usable size of the pool's stacks. */
size_t tr__stack_size(const tr__stack_pool *sp);

#endif /* TROUPE_ACTORS_CTX_H */
