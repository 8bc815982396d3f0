/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Context switch with makecontext/swapcontext, for targets without an
 * assembly file in actors/arch/.  About a hundred times slower than the
 * assembly (swapcontext saves and restores the signal mask, a system call
 * each way: 289 ns against 2.8 ns on the development machine), but correct
 * wherever ucontext exists.
 *
 * A context is a pointer to a ucontext_t.  A suspended context's ucontext_t
 * is a local variable of its own tr__ctx_switch frame, which lives exactly
 * as long as the context stays suspended; a made context's sits at the top
 * of its stack, below the 16-byte-aligned top.
 */

#if !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE)
#define _XOPEN_SOURCE 700 /* ucontext on glibc and the BSDs */
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ucontext.h>

#include "actors/ctx.h"

/*
 * makecontext wants a stack base and size, and tr__ctx_make only knows the
 * top: every implementation we know starts the stack at ss_sp + ss_size,
 * so the base is set NOMINAL bytes below (the pool's stacks are at least
 * 8 KiB; the ucontext_t takes about 1 KiB of them on x86_64).
 */
#define NOMINAL ((size_t) 4096)

typedef struct made {
	ucontext_t uc;
	void (*entry)(void *);
	void *arg;
} made;

/* makecontext passes int arguments only: the pointer travels in halves. */
static void
trampoline(unsigned hi, unsigned lo)
{
	uintptr_t p = ((uintptr_t) hi << 16 << 16) | (uintptr_t) lo;
	made *m = (made *) p;
	m->entry(m->arg);
	abort(); /* entry must never return: a troupe bug */
}

void *
tr__ctx_make(void *top, void (*entry)(void *), void *arg)
{
	uintptr_t t = (uintptr_t) top & ~(uintptr_t) 15;
	t -= sizeof(made);
	t &= ~(uintptr_t) 63;
	made *m = (made *) t;
	memset(m, 0, sizeof *m);
	m->entry = entry;
	m->arg = arg;
	if (getcontext(&m->uc) != 0)
		abort();
	m->uc.uc_link = NULL;
	m->uc.uc_stack.ss_sp = (char *) m - NOMINAL;
	m->uc.uc_stack.ss_size = NOMINAL;
	uintptr_t p = (uintptr_t) m;
	makecontext(&m->uc, (void (*)(void)) trampoline, 2,
	    (unsigned) (p >> 16 >> 16), (unsigned) (p & 0xffffffffu));
	return &m->uc;
}

void
tr__ctx_switch(void **from, void *to)
{
	ucontext_t self;
	*from = &self;
	if (swapcontext(&self, (ucontext_t *) to) != 0)
		abort();
}
