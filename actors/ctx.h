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
 * A tr__stack is one process stack: [lo, hi) usable, growing down from hi,
 * with a guard gap below lo (tr__stack_gap bytes, a page to 64 KiB) where
 * any access faults.  Stacks are carved from large mappings (MAP_NORESERVE,
 * MADV_NOHUGEPAGE) so that an idle stack costs the pages it touched,
 * usually one.  Every stack handed out is guarded: by MADV_GUARD_INSTALL
 * where the kernel has it (Linux >= 6.13: no map entry, no memory), else by
 * mprotect while vm.max_map_count allows (a guard splits a mapping), and
 * the pool refuses stacks beyond that.  See
 * docs/decisions/0016-stack-guards-and-overflow.md.
 */
typedef struct tr__stack {
	char *lo;
	char *hi;
	struct tr__stack *next; /* free list */
	unsigned vg_id;         /* valgrind's stack id */
	bool guarded;           /* the gap's guard is installed */
	bool bare;              /* no page written since carved or compacted */
	bool overflowed;        /* its guard was hit: trimmed when put back */
} tr__stack;

typedef struct tr__stack_pool tr__stack_pool;

/* Flags of tr__stack_pool_alloc. */
enum {
	/* Guard with mprotect even where MADV_GUARD_INSTALL works: what an
	 * older kernel gets (tests). */
	TR__STACK_MPROTECT = 1u << 0,
};

/*
 * tr__stack_pool_alloc makes a pool of stacks of stack_size bytes each
 * (rounded up to pages; at least 8 KiB).  It probes MADV_GUARD_INSTALL
 * once.  Without it, max_guards bounds the stacks the pool gives out (each
 * costs two map entries; 0: derive from vm.max_map_count, keeping half of
 * what is free for the rest of the process).  NULL on ENOMEM.
 * Thread: any; the pool is thread-safe.
 */
tr__stack_pool *tr__stack_pool_alloc(size_t stack_size, size_t max_guards,
    unsigned flags);

/* tr__stack_pool_free unmaps everything; every stack must be back. */
void tr__stack_pool_free(tr__stack_pool *sp);

/*
 * tr__stack_reserve books a stack for a process to come (spawn):
 * TR_ELIMIT when the mprotect guard budget is used up (never with
 * MADV_GUARD_INSTALL); *first_refusal is then set for the pool's first
 * refusal only, so the caller can log once.  tr__stack_unreserve gives the booking back.
 * tr__stack_cap is the bound (SIZE_MAX: none).
 * Thread: any.
 */
int tr__stack_reserve(tr__stack_pool *sp, bool *first_refusal);
void tr__stack_unreserve(tr__stack_pool *sp);
size_t tr__stack_cap(const tr__stack_pool *sp);

/* tr__stack_get returns a guarded stack, or NULL (out of memory or of
 * guards).  Thread: any. */
tr__stack *tr__stack_get(tr__stack_pool *sp);

/*
 * tr__stack_put returns a stack.  A stack that went deeper than its top
 * page gives the pages below back to the OS (MADV_DONTNEED), except that
 * up to 64 such stacks are kept as they are for quick reuse; one marked
 * overflowed is always given back.  The guard stays.  See stack.c.
 * Thread: any.
 */
void tr__stack_put(tr__stack_pool *sp, tr__stack *s);

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

/* tr__stack_size returns the usable size of the pool's stacks;
 * tr__stack_gap the size of the guard gap below each; tr__stack_madv_guards
 * whether the guards are MADV_GUARD_INSTALL ones.  Thread: any. */
size_t tr__stack_size(const tr__stack_pool *sp);
size_t tr__stack_gap(const tr__stack_pool *sp);
bool tr__stack_madv_guards(const tr__stack_pool *sp);

#endif /* TROUPE_ACTORS_CTX_H */
