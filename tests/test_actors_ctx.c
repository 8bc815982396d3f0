/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Stackful contexts and the stack pool (actors/ctx.h): switching between a
 * thread and coroutines, callee-saved registers and the floating-point
 * control state across switches, deep recursion on a pool stack, a context
 * moving between threads; the pool's guards, canaries, page release, a
 * hundred thousand stacks at once (resident memory per stack) and
 * concurrent use.
 *
 * The coroutine harness below also shows how a fiber switch is announced
 * to ASan (__sanitizer_start/finish_switch_fiber) and TSan
 * (__tsan_*_fiber); docs/decisions/0013-process-stacks.md says how the
 * runtime must do the same.  cmocka asserts only run on the thread's own
 * stack: coroutines count failures with TU_CHECK.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mincore */
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <troupe/troupe.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

#include "actors/ctx.h"

#if TU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if TU_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define NOINLINE __attribute__((noinline))
#if TU_ASAN
#define TU_NO_ASAN __attribute__((no_sanitize_address))
#else
#define TU_NO_ASAN
#endif

/* The default stack size recommended in 0013 (tr_system's default). */
#define STACK_DEFAULT ((size_t) 64 << 10)
/* Coroutine stacks for the context tests: sanitizers need more. */
#define CORO_STACK (STACK_DEFAULT * TU_PICK(1, 4, 4))

static size_t
page_size(void)
{
	return (size_t) sysconf(_SC_PAGESIZE);
}

/* ------------------------------------------------------ coroutine harness */

typedef struct coro coro;
struct coro {
	void *sp;           /* saved stack pointer while suspended */
	tr__stack *stk;     /* NULL: a thread's own stack */
	coro *back;         /* the thread context it returns to at the end */
	coro *resumer;      /* who switched to it last (set by the switcher) */
	void (*fn)(coro *); /* body */
	void *arg;
	bool done;
	/* ASan: the stack's bounds (learnt on the first switch away for a
	 * thread's own stack) and the fake stack while suspended. */
	const void *bottom;
	size_t size;
	void *fake;
	void *fiber; /* TSan */
};

/* arrive finishes a switch in the context that was switched to. */
static void
arrive(coro *self)
{
#if TU_ASAN
	const void *bottom;
	size_t size;
	__sanitizer_finish_switch_fiber(self->fake, &bottom, &size);
	coro *r = self->resumer;
	if (r != NULL && r->stk == NULL) {
		r->bottom = bottom;
		r->size = size;
	}
#else
	(void) self;
#endif
}

/*
 * announce tells the sanitizers that self is about to switch to `to`;
 * dying: self never runs again.  It must be inlined into the function that
 * calls tr__ctx_switch: from __tsan_switch_to_fiber on, TSan books function
 * exits on the new fiber, so a helper returning between the two would pop
 * a frame the new fiber never pushed (and crash TSan at -O0/-O1).
 */
static inline __attribute__((always_inline)) void
announce(coro *self, coro *to, bool dying)
{
	to->resumer = self;
#if TU_ASAN
	__sanitizer_start_switch_fiber(dying ? NULL : &self->fake, to->bottom,
	    to->size);
#endif
#if TU_TSAN
	__tsan_switch_to_fiber(to->fiber, 0);
#endif
	(void) dying;
}

/* coro_switch runs `to` until something switches back to self. */
static void
coro_switch(coro *self, coro *to)
{
	announce(self, to, false);
	tr__ctx_switch(&self->sp, to->sp);
	arrive(self);
}

static void
coro_entry(void *arg)
{
	coro *c = arg;
	arrive(c);
	c->fn(c);
	c->done = true;
	announce(c, c->back, true);
	tr__ctx_switch(&c->sp, c->back->sp);
	abort(); /* never resumed */
}

/* coro_thread makes the context of the calling thread. */
static void
coro_thread(coro *t)
{
	memset(t, 0, sizeof *t);
#if TU_TSAN
	t->fiber = __tsan_get_current_fiber();
#endif
}

/* coro_init makes a coroutine on stk that runs fn and ends in back. */
static void
coro_init(coro *c, tr__stack *stk, coro *back, void (*fn)(coro *), void *arg)
{
	memset(c, 0, sizeof *c);
	c->stk = stk;
	c->back = back;
	c->fn = fn;
	c->arg = arg;
	c->bottom = stk->lo;
	c->size = (size_t) (stk->hi - stk->lo);
#if TU_TSAN
	c->fiber = __tsan_create_fiber(0);
#endif
	c->sp = tr__ctx_make(stk->hi, coro_entry, c);
}

/* coro_fini releases what a finished coroutine holds (not its stack). */
static void
coro_fini(coro *c)
{
	assert_true(c->done);
#if TU_TSAN
	__tsan_destroy_fiber(c->fiber);
#endif
	c->fiber = NULL;
}

/* ------------------------------------------------------------ ping-pong */

#define NCORO 3

typedef struct ring {
	coro main;
	coro c[NCORO];
	uint64_t token; /* passed along main -> c0 -> c1 -> c2 -> main */
	long rounds;
} ring;

static void
ring_body(coro *self)
{
	ring *r = self->arg;
	int id = (int) (self - r->c);
	coro *next = id + 1 < NCORO ? &r->c[id + 1] : &r->main;
	uint64_t mine = 0; /* a local kept on this stack across switches */
	for (long i = 0; i < r->rounds; i++) {
		/* main put i * 100 in; each coroutine adds id + 1. */
		uint64_t want = (uint64_t) i * 100;
		for (int k = 0; k < id; k++)
			want += (uint64_t) k + 1;
		TU_CHECK(r->token == want);
		r->token += (uint64_t) id + 1;
		mine += (uint64_t) id + 1;
		coro_switch(self, next);
	}
	TU_CHECK(mine == (uint64_t) r->rounds * (uint64_t) (id + 1));
}

static void
test_ctx_pingpong(void **state)
{
	(void) state;
	tu_reset_failures();
	tr__stack_pool *sp = tr__stack_pool_alloc(CORO_STACK, 0, 0);
	assert_non_null(sp);
	ring *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->rounds = TU_PICK(250000, 50000, 20000);
	coro_thread(&r->main);
	for (int i = 0; i < NCORO; i++) {
		tr__stack *s = tr__stack_get(sp);
		assert_non_null(s);
		coro_init(&r->c[i], s, &r->main, ring_body, r);
	}
	uint64_t t0 = tu_now_ns();
	for (long i = 0; i < r->rounds; i++) {
		r->token = (uint64_t) i * 100;
		coro_switch(&r->main, &r->c[0]);
		/* 1 + 2 + 3 added on the way round. */
		if (r->token != (uint64_t) i * 100 + 6) {
			fprintf(stderr, "round %ld: token %" PRIu64 "\n", i,
			    r->token);
			fail();
		}
	}
	uint64_t t1 = tu_now_ns();
	/* The last switch of each coroutine's last round went to its
	 * successor; let each one finish in turn. */
	for (int i = 0; i < NCORO; i++) {
		if (!r->c[i].done)
			coro_switch(&r->main, &r->c[i]);
		assert_true(r->c[i].done);
	}
	printf("pingpong: %ld rounds, %.1f ns per switch (with harness)\n",
	    r->rounds, (double) (t1 - t0) / (double) (r->rounds * (NCORO + 1)));
	tu_assert_no_failures();
	for (int i = 0; i < NCORO; i++) {
		coro_fini(&r->c[i]);
		tr__stack_put(sp, r->c[i].stk);
	}
	free(r);
	tr__stack_pool_free(sp);
}

/* ------------------------------------------------- callee-saved registers */

/*
 * regcheck_switch(from, to, seed) fills every callee-saved register with
 * values made from seed, calls tr__ctx_switch(from, to), and returns zero
 * if they all still hold them when it is switched back to (it saves and
 * restores them for its own caller as the ABI says).
 */
#if defined(__x86_64__)
#define HAVE_REGCHECK 1
__asm__(".text\n"
        ".p2align 4\n"
        ".type regcheck_switch, @function\n"
        "regcheck_switch:\n"
        "	pushq %rbp\n"
        "	pushq %rbx\n"
        "	pushq %r12\n"
        "	pushq %r13\n"
        "	pushq %r14\n"
        "	pushq %r15\n"
        "	pushq %rdx\n" /* seed; rsp is now 16-byte aligned */
        "	movq %rdx, %rbx\n"
        "	rolq $8, %rbx\n"
        "	movq %rdx, %rbp\n"
        "	rolq $16, %rbp\n"
        "	movq %rdx, %r12\n"
        "	rolq $24, %r12\n"
        "	movq %rdx, %r13\n"
        "	rolq $32, %r13\n"
        "	movq %rdx, %r14\n"
        "	rolq $40, %r14\n"
        "	movq %rdx, %r15\n"
        "	rolq $48, %r15\n"
        "	call tr__ctx_switch@PLT\n"
        "	movq (%rsp), %rdx\n"
        "	xorl %eax, %eax\n"
        "	movq %rdx, %rcx\n"
        "	rolq $8, %rcx\n"
        "	xorq %rcx, %rbx\n"
        "	orq %rbx, %rax\n"
        "	rolq $8, %rcx\n"
        "	xorq %rcx, %rbp\n"
        "	orq %rbp, %rax\n"
        "	rolq $8, %rcx\n"
        "	xorq %rcx, %r12\n"
        "	orq %r12, %rax\n"
        "	rolq $8, %rcx\n"
        "	xorq %rcx, %r13\n"
        "	orq %r13, %rax\n"
        "	rolq $8, %rcx\n"
        "	xorq %rcx, %r14\n"
        "	orq %r14, %rax\n"
        "	rolq $8, %rcx\n"
        "	xorq %rcx, %r15\n"
        "	orq %r15, %rax\n"
        "	popq %rdx\n"
        "	popq %r15\n"
        "	popq %r14\n"
        "	popq %r13\n"
        "	popq %r12\n"
        "	popq %rbx\n"
        "	popq %rbp\n"
        "	ret\n"
        ".size regcheck_switch, .-regcheck_switch\n");
#elif defined(__aarch64__)
#define HAVE_REGCHECK 1
/* x19-x29 get seed + 0..10, d8-d15 get seed + 11..18. */
__asm__(".text\n"
        ".p2align 4\n"
        ".type regcheck_switch, %function\n"
        "regcheck_switch:\n"
        "	stp x29, x30, [sp, #-176]!\n"
        "	stp x19, x20, [sp, #16]\n"
        "	stp x21, x22, [sp, #32]\n"
        "	stp x23, x24, [sp, #48]\n"
        "	stp x25, x26, [sp, #64]\n"
        "	stp x27, x28, [sp, #80]\n"
        "	stp d8, d9, [sp, #96]\n"
        "	stp d10, d11, [sp, #112]\n"
        "	stp d12, d13, [sp, #128]\n"
        "	stp d14, d15, [sp, #144]\n"
        "	str x2, [sp, #160]\n"
        "	add x19, x2, #0\n"
        "	add x20, x2, #1\n"
        "	add x21, x2, #2\n"
        "	add x22, x2, #3\n"
        "	add x23, x2, #4\n"
        "	add x24, x2, #5\n"
        "	add x25, x2, #6\n"
        "	add x26, x2, #7\n"
        "	add x27, x2, #8\n"
        "	add x28, x2, #9\n"
        "	add x29, x2, #10\n"
        "	add x9, x2, #11\n"
        "	fmov d8, x9\n"
        "	add x9, x2, #12\n"
        "	fmov d9, x9\n"
        "	add x9, x2, #13\n"
        "	fmov d10, x9\n"
        "	add x9, x2, #14\n"
        "	fmov d11, x9\n"
        "	add x9, x2, #15\n"
        "	fmov d12, x9\n"
        "	add x9, x2, #16\n"
        "	fmov d13, x9\n"
        "	add x9, x2, #17\n"
        "	fmov d14, x9\n"
        "	add x9, x2, #18\n"
        "	fmov d15, x9\n"
        "	bl tr__ctx_switch\n"
        "	ldr x2, [sp, #160]\n"
        "	mov x0, #0\n"
        "	sub x9, x19, x2\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x20, x2\n"
        "	sub x9, x9, #1\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x21, x2\n"
        "	sub x9, x9, #2\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x22, x2\n"
        "	sub x9, x9, #3\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x23, x2\n"
        "	sub x9, x9, #4\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x24, x2\n"
        "	sub x9, x9, #5\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x25, x2\n"
        "	sub x9, x9, #6\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x26, x2\n"
        "	sub x9, x9, #7\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x27, x2\n"
        "	sub x9, x9, #8\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x28, x2\n"
        "	sub x9, x9, #9\n"
        "	orr x0, x0, x9\n"
        "	sub x9, x29, x2\n"
        "	sub x9, x9, #10\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d8\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #11\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d9\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #12\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d10\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #13\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d11\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #14\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d12\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #15\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d13\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #16\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d14\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #17\n"
        "	orr x0, x0, x9\n"
        "	fmov x9, d15\n"
        "	sub x9, x9, x2\n"
        "	sub x9, x9, #18\n"
        "	orr x0, x0, x9\n"
        "	ldp d14, d15, [sp, #144]\n"
        "	ldp d12, d13, [sp, #128]\n"
        "	ldp d10, d11, [sp, #112]\n"
        "	ldp d8, d9, [sp, #96]\n"
        "	ldp x27, x28, [sp, #80]\n"
        "	ldp x25, x26, [sp, #64]\n"
        "	ldp x23, x24, [sp, #48]\n"
        "	ldp x21, x22, [sp, #32]\n"
        "	ldp x19, x20, [sp, #16]\n"
        "	ldp x29, x30, [sp], #176\n"
        "	ret\n"
        ".size regcheck_switch, .-regcheck_switch\n");
#else
#define HAVE_REGCHECK 0
#endif

#if HAVE_REGCHECK
uint64_t regcheck_switch(void **from, void *to, uint64_t seed);
#endif

/* regcheck_coro_switch is coro_switch through regcheck_switch. */
static uint64_t
regcheck_coro_switch(coro *self, coro *to, uint64_t seed)
{
	announce(self, to, false);
#if HAVE_REGCHECK
	uint64_t bad = regcheck_switch(&self->sp, to->sp, seed);
#else
	(void) seed;
	tr__ctx_switch(&self->sp, to->sp);
	uint64_t bad = 0;
#endif
	arrive(self);
	return bad;
}

#define REG_ROUNDS TU_PICK(100000, 20000, 10000)

typedef struct live16 {
	uint64_t v[16];
} live16;

/* mix16 keeps sixteen values live across a switch (when sw is set). */
static NOINLINE void
mix16(live16 *out, uint64_t seed, coro *self, coro *to, long rounds)
{
	uint64_t a = seed, b = seed * 3, c = seed * 5, d = seed * 7;
	uint64_t e = seed * 11, f = seed * 13, g = seed * 17, h = seed * 19;
	uint64_t i = seed * 23, j = seed * 29, k = seed * 31, l = seed * 37;
	uint64_t m = seed * 41, n = seed * 43, o = seed * 47, p = seed * 53;
	for (long r = 0; r < rounds; r++) {
		a += b ^ (p >> 3);
		b += c ^ (a << 5);
		c += d ^ (b >> 7);
		d += e ^ (c << 11);
		e += f ^ (d >> 13);
		f += g ^ (e << 17);
		g += h ^ (f >> 19);
		h += i ^ (g << 23);
		i += j ^ (h >> 29);
		j += k ^ (i << 31);
		k += l ^ (j >> 37);
		l += m ^ (k << 41);
		m += n ^ (l >> 43);
		n += o ^ (m << 47);
		o += p ^ (n >> 53);
		p += a ^ (o << 59);
		if (self != NULL)
			coro_switch(self, to);
	}
	uint64_t w[16] = { a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p };
	memcpy(out->v, w, sizeof w);
}

typedef struct regs_state {
	coro main;
	coro c;
	uint64_t bad; /* coroutine's register mismatches */
	live16 c_out; /* coroutine's mix16 result */
} regs_state;

static void
regs_body(coro *self)
{
	regs_state *st = self->arg;
	for (long r = 0; r < REG_ROUNDS; r++)
		st->bad |= regcheck_coro_switch(self, &st->main,
		    0x0123456789abcdefull + (uint64_t) r);
	mix16(&st->c_out, 99, self, &st->main, REG_ROUNDS);
}

static void
test_ctx_callee_saved(void **state)
{
	(void) state;
	if (!HAVE_REGCHECK)
		printf("no register check for this architecture; "
		       "values across switches only\n");
	tr__stack_pool *sp = tr__stack_pool_alloc(CORO_STACK, 0, 0);
	assert_non_null(sp);
	regs_state *st = calloc(1, sizeof *st);
	assert_non_null(st);
	coro_thread(&st->main);
	tr__stack *s = tr__stack_get(sp);
	assert_non_null(s);
	coro_init(&st->c, s, &st->main, regs_body, st);

	uint64_t bad = 0;
	for (long r = 0; r < REG_ROUNDS; r++)
		bad |= regcheck_coro_switch(&st->main, &st->c,
		    0xfedcba9876543210ull - (uint64_t) r);
	assert_int_equal(bad, 0);
	assert_int_equal(st->bad, 0);

	/* Both sides keep sixteen values live across every switch. */
	live16 m_out, want_m, want_c;
	mix16(&m_out, 7, &st->main, &st->c, REG_ROUNDS);
	if (!st->c.done)
		coro_switch(&st->main, &st->c);
	assert_true(st->c.done);
	mix16(&want_m, 7, NULL, NULL, REG_ROUNDS);
	mix16(&want_c, 99, NULL, NULL, REG_ROUNDS);
	assert_memory_equal(&m_out, &want_m, sizeof m_out);
	assert_memory_equal(&st->c_out, &want_c, sizeof want_c);

	coro_fini(&st->c);
	tr__stack_put(sp, s);
	free(st);
	tr__stack_pool_free(sp);
}

/* ------------------------------------------------- floating-point control */

typedef struct fp_state {
	coro main;
	coro c;
	int c_mode_seen; /* the coroutine's rounding mode after being resumed */
	int c_div_seen;  /* the mode its divisions showed */
} fp_state;

/*
 * Divisions show the rounding mode in use: 1/3 and 5/3 round opposite ways
 * to nearest, in double (SSE, MXCSR on x86_64) and in long double (x87
 * control word on x86_64), so the four quotients tell upward, downward and
 * to-nearest apart in both units at once.
 */
typedef struct fpsig {
	double d[2];
	long double ld[2];
} fpsig;

static volatile double fp_num[2] = { 1.0, 5.0 }, fp_den = 3.0;
static volatile long double fp_lnum[2] = { 1.0L, 5.0L }, fp_lden = 3.0L;

/*
 * The rounding mode, read and set in the registers themselves (fenv.h
 * would need libm): on x86_64 both the x87 control word and MXCSR (get
 * returns -1 if they disagree), on AArch64 FPCR.
 */
enum { RM_NEAREST, RM_UP, RM_DOWN };
static const int fp_modes[3] = { RM_NEAREST, RM_UP, RM_DOWN };

#if defined(__x86_64__)
#define HAVE_RM 1
static const unsigned rm_bits[3] = { 0, 2, 1 }; /* RC field encoding */

static int
rm_get(void)
{
	uint16_t cw;
	uint32_t csr;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	unsigned x87 = (cw >> 10) & 3, sse = (csr >> 13) & 3;
	for (int i = 0; i < 3; i++) {
		if (x87 == rm_bits[i] && sse == rm_bits[i])
			return fp_modes[i];
	}
	return -1;
}

static void
rm_set(int mode)
{
	uint16_t cw;
	uint32_t csr;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	cw = (uint16_t) ((cw & ~(3u << 10)) | rm_bits[mode] << 10);
	csr = (csr & ~(3u << 13)) | rm_bits[mode] << 13;
	__asm__ volatile("fldcw %0" : : "m"(cw));
	__asm__ volatile("ldmxcsr %0" : : "m"(csr));
}
#elif defined(__aarch64__)
#define HAVE_RM 1
static const unsigned rm_bits[3] = { 0, 1, 2 }; /* FPCR.RMode */

static int
rm_get(void)
{
	uint64_t fpcr;
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	unsigned r = (unsigned) (fpcr >> 22) & 3;
	for (int i = 0; i < 3; i++) {
		if (r == rm_bits[i])
			return fp_modes[i];
	}
	return -1;
}

static void
rm_set(int mode)
{
	uint64_t fpcr;
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	fpcr = (fpcr & ~(3ull << 22)) | (uint64_t) rm_bits[mode] << 22;
	__asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#else
#define HAVE_RM 0
static int
rm_get(void)
{
	return RM_NEAREST;
}

static void
rm_set(int mode)
{
	(void) mode;
}
#endif

static fpsig fp_ref[3];

static void
fpsig_now(fpsig *s)
{
	for (int k = 0; k < 2; k++) {
		volatile double q = fp_num[k] / fp_den;
		volatile long double lq = fp_lnum[k] / fp_lden;
		s->d[k] = q;
		s->ld[k] = lq;
	}
}

static bool
fpsig_eq(const fpsig *a, const fpsig *b)
{
	return a->d[0] == b->d[0] && a->d[1] == b->d[1] &&
	    a->ld[0] == b->ld[0] && a->ld[1] == b->ld[1];
}

/* fp_refs fills fp_ref; false if the three modes don't differ here. */
static bool
fp_refs(void)
{
	int m = rm_get();
	for (int i = 0; i < 3; i++) {
		rm_set(fp_modes[i]);
		fpsig_now(&fp_ref[i]);
	}
	rm_set(m);
	return !fpsig_eq(&fp_ref[0], &fp_ref[1]) &&
	    !fpsig_eq(&fp_ref[0], &fp_ref[2]) &&
	    !fpsig_eq(&fp_ref[1], &fp_ref[2]);
}

/* The mode the divisions show now, -1 if none (the units disagree). */
static int
fp_div_mode(void)
{
	fpsig s;
	fpsig_now(&s);
	for (int i = 0; i < 3; i++) {
		if (fpsig_eq(&s, &fp_ref[i]))
			return fp_modes[i];
	}
	return -1;
}

static void
fp_body(coro *self)
{
	fp_state *st = self->arg;
	rm_set(RM_UP);
	coro_switch(self, &st->main);
	st->c_mode_seen = rm_get();
	st->c_div_seen = fp_div_mode();
	rm_set(RM_NEAREST);
}

static void
test_ctx_fpenv(void **state)
{
	(void) state;
	if (!HAVE_RM)
		skip();
	assert_int_equal(rm_get(), RM_NEAREST);
	if (!fp_refs())
		skip();
	assert_int_equal(fp_div_mode(), RM_NEAREST);
	tr__stack_pool *sp = tr__stack_pool_alloc(CORO_STACK, 0, 0);
	assert_non_null(sp);
	fp_state *st = calloc(1, sizeof *st);
	assert_non_null(st);
	coro_thread(&st->main);
	tr__stack *s = tr__stack_get(sp);
	assert_non_null(s);
	coro_init(&st->c, s, &st->main, fp_body, st);

	/* The coroutine sets RM_UP and switches back: ours is kept. */
	coro_switch(&st->main, &st->c);
	int mode1 = rm_get(), div1 = fp_div_mode();
	rm_set(RM_DOWN);
	/* Resumed, the coroutine finds its own mode again, and it ends
	 * with RM_NEAREST, which must not leak here either. */
	coro_switch(&st->main, &st->c);
	int mode2 = rm_get(), div2 = fp_div_mode();
	rm_set(RM_NEAREST);
	assert_true(st->c.done);
	assert_int_equal(mode1, RM_NEAREST);
	assert_int_equal(div1, RM_NEAREST);
	assert_int_equal(mode2, RM_DOWN);
	assert_int_equal(div2, RM_DOWN);
	assert_int_equal(st->c_mode_seen, RM_UP);
	assert_int_equal(st->c_div_seen, RM_UP);

	coro_fini(&st->c);
	tr__stack_put(sp, s);
	free(st);
	tr__stack_pool_free(sp);
}

/* ------------------------------------------------------- deep recursion */

typedef struct deep_state {
	coro main;
	coro c;
	size_t margin;  /* stop this close to lo */
	unsigned depth; /* deepest level reached */
	size_t lowest;  /* bytes left below the deepest frame */
	uint64_t sum;
	long bad; /* frames found changed after the switch */
} deep_state;

#define DEEP_MAX 100000u
#define DEEP_BUF 200

static NOINLINE uint64_t
recurse(deep_state *st, unsigned depth)
{
	volatile unsigned char buf[DEEP_BUF];
	for (int i = 0; i < DEEP_BUF; i++)
		buf[i] = (unsigned char) (depth * 7u + (unsigned) i);
	/* The frame, not buf: with ASan's fake stacks buf may be elsewhere. */
	uintptr_t here = (uintptr_t) __builtin_frame_address(0);
	uintptr_t lo = (uintptr_t) st->c.stk->lo;
	uint64_t r = 0;
	if (here - lo > st->margin && depth < DEEP_MAX) {
		r = recurse(st, depth + 1);
	} else {
		st->depth = depth;
		st->lowest = here - lo;
		/* Away and back at the deepest point. */
		coro_switch(&st->c, &st->main);
	}
	for (int i = 0; i < DEEP_BUF; i++) {
		if (buf[i] != (unsigned char) (depth * 7u + (unsigned) i))
			st->bad++;
		r += buf[i];
	}
	return r + depth;
}

static void
deep_body(coro *self)
{
	deep_state *st = self->arg;
	st->sum = recurse(st, 0);
}

static uint64_t
deep_expect(unsigned depth)
{
	uint64_t r = 0;
	for (unsigned d = 0; d <= depth; d++) {
		for (int i = 0; i < DEEP_BUF; i++)
			r += (unsigned char) (d * 7u + (unsigned) i);
		r += d;
	}
	return r;
}

static void
deep_run(unsigned flags)
{
	tr__stack_pool *sp = tr__stack_pool_alloc(CORO_STACK, 0, flags);
	assert_non_null(sp);
	tr__stack *s = tr__stack_get(sp);
	assert_non_null(s);
	assert_true(s->guarded);
	deep_state *st = calloc(1, sizeof *st);
	assert_non_null(st);
	/* Room below the deepest frame for the switch (the ucontext
	 * fallback puts a ucontext_t there: 4.5 KiB on AArch64) and a
	 * sanitizer runtime. */
	st->margin = TU_PICK(16384, 32768, 32768);
	coro_thread(&st->main);
	coro_init(&st->c, s, &st->main, deep_body, st);
	coro_switch(&st->main, &st->c);
	assert_false(st->c.done);
	/* Used all but the margin (and one frame) of the stack. */
	assert_true(st->lowest <= st->margin);
	assert_true(st->depth > 100);
	coro_switch(&st->main, &st->c);
	assert_true(st->c.done);
	assert_int_equal(st->bad, 0);
	assert_int_equal(st->sum, deep_expect(st->depth));
	printf("deep recursion (%s guard): depth %u, %zu of %zu bytes used\n",
	    tr__stack_madv_guards(sp) ? "madvise" : "mprotect", st->depth,
	    tr__stack_size(sp) - st->lowest, tr__stack_size(sp));
	coro_fini(&st->c);
	tr__stack_put(sp, s);
	free(st);
	tr__stack_pool_free(sp);
}

static void
test_ctx_deep_recursion(void **state)
{
	(void) state;
	deep_run(0);
	deep_run(TR__STACK_MPROTECT);
}

/* ------------------------------------------------ moving between threads */

typedef struct migrate_state {
	coro main;  /* the test thread */
	coro other; /* the helper thread */
	coro c;
	int phase; /* where the coroutine got to */
	long bad;
} migrate_state;

static void
migrate_body(coro *self)
{
	migrate_state *st = self->arg;
	uint64_t local = 0x5eed;
	st->phase = 1;
	coro_switch(self, &st->main);
	/* Now resumed by the helper thread. */
	if (local != 0x5eed)
		st->bad++;
	st->phase = 2;
	self->back = &st->other; /* end on the helper thread */
	coro_switch(self, &st->other);
	st->phase = 3;
}

static void *
migrate_thread(void *arg)
{
	migrate_state *st = arg;
	coro_thread(&st->other);
	coro_switch(&st->other, &st->c);
	if (st->phase != 2)
		st->bad++;
	coro_switch(&st->other, &st->c);
	if (!st->c.done || st->phase != 3)
		st->bad++;
	return NULL;
}

static void
test_ctx_migrate(void **state)
{
	(void) state;
	tr__stack_pool *sp = tr__stack_pool_alloc(CORO_STACK, 0, 0);
	assert_non_null(sp);
	migrate_state *st = calloc(1, sizeof *st);
	assert_non_null(st);
	coro_thread(&st->main);
	tr__stack *s = tr__stack_get(sp);
	assert_non_null(s);
	coro_init(&st->c, s, &st->main, migrate_body, st);
	coro_switch(&st->main, &st->c);
	assert_int_equal(st->phase, 1);
	pthread_t t;
	tu_thread_start(&t, migrate_thread, st);
	tu_thread_join(t);
	assert_int_equal(st->bad, 0);
	assert_int_equal(st->phase, 3);
	coro_fini(&st->c);
	tr__stack_put(sp, s);
	free(st);
	tr__stack_pool_free(sp);
}

/* -------------------------------------------------------- the stack pool */

/* The permissions ("rw-p", "---p") of the mapping holding addr. */
static bool
maps_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return false;
	char line[512];
	bool found = false;
	uintptr_t a = (uintptr_t) addr;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		uintptr_t lo, hi;
		char p[5];
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %4s", &lo, &hi,
		        p) == 3 &&
		    lo <= a && a < hi) {
			memcpy(perms, p, 5);
			found = true;
		}
	}
	fclose(f);
	return found;
}

static long
maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return -1;
	long n = 0;
	int ch;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Resident bytes of this process (0 if unknown). */
static uint64_t
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	unsigned long size = 0, res = 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (uint64_t) res * page_size();
}

/* A field in kB of /proc/self/status ("VmPTE"), in bytes; 0 if unknown. */
static uint64_t
status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return 0;
	char line[256];
	uint64_t v = 0;
	size_t n = strlen(field);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 10) * 1024;
	}
	fclose(f);
	return v;
}

/* Pages of [lo, hi) that are resident. */
static size_t
resident_pages(const char *lo, const char *hi)
{
	size_t pg = page_size();
	size_t n = (size_t) (hi - lo) / pg;
	unsigned char vec[1024];
	assert_true(n <= sizeof vec);
	assert_int_equal(mincore((void *) lo, (size_t) (hi - lo), vec), 0);
	size_t r = 0;
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	return r;
}

static int
by_lo(const void *a, const void *b)
{
	const tr__stack *x = *(tr__stack *const *) a;
	const tr__stack *y = *(tr__stack *const *) b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void
test_stack_pool_basic(void **state)
{
	(void) state;
	size_t pg = page_size();
	tr__stack_pool *sp = tr__stack_pool_alloc(0, 0, 0);
	assert_non_null(sp);
	assert_true(tr__stack_size(sp) >= 8192);
	assert_int_equal(tr__stack_size(sp) % pg, 0);
	tr__stack_pool_free(sp);

	sp = tr__stack_pool_alloc(10000, 0, 0);
	assert_non_null(sp);
	size_t size = tr__stack_size(sp);
	assert_true(size >= 10000 && size < 10000 + pg);
	assert_int_equal(size % pg, 0);

	enum { N = 1000 };
	tr__stack **v = calloc(N, sizeof *v);
	assert_non_null(v);
	for (int i = 0; i < N; i++) {
		v[i] = tr__stack_get(sp);
		assert_non_null(v[i]);
		assert_int_equal((uintptr_t) v[i]->hi % 16, 0);
		assert_int_equal((size_t) (v[i]->hi - v[i]->lo), size);
		assert_true(v[i]->guarded);
		/* Writable from lo to the top. */
		memset(v[i]->lo, 0x5a, size);
	}
	/* The gap: at least a page, as large as the stack up to 64 KiB. */
	size_t gap = tr__stack_gap(sp);
	assert_int_equal(gap % pg, 0);
	assert_true(gap >= pg && gap >= (size < 65536 ? size : 65536));
	qsort(v, N, sizeof *v, by_lo);
	for (int i = 0; i + 1 < N; i++)
		assert_true(v[i]->hi + gap <= v[i + 1]->lo); /* gap between */

	/* Churn: random gets and puts, everything back at the end. */
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int held = N;
	for (int op = 0; op < 20000; op++) {
		if (held > 0 && (held == N || tu_rand(&seed) % 2 == 0)) {
			int k = (int) (tu_rand(&seed) % (uint64_t) held);
			tr__stack_put(sp, v[k]);
			v[k] = v[--held];
		} else {
			v[held] = tr__stack_get(sp);
			assert_non_null(v[held]);
			v[held]->hi[-1] = 1;
			held++;
		}
	}
	while (held > 0)
		tr__stack_put(sp, v[--held]);
	free(v);
	tr__stack_pool_free(sp);
}

/* Probing an address: a SIGSEGV (or SIGBUS) handler jumps back. */
static sigjmp_buf probe_jb;
static volatile sig_atomic_t probe_armed;

static void
probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void) si;
	(void) uc;
	if (probe_armed) {
		probe_armed = 0;
		siglongjmp(probe_jb, 1);
	}
	signal(sig, SIG_DFL); /* not a probe: crash as usual */
}

/* faults tells whether writing (or reading) the byte at p faults. */
static NOINLINE TU_NO_ASAN bool
faults(char *p, bool write)
{
	struct sigaction sa, osegv, obus;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &osegv), 0);
	assert_int_equal(sigaction(SIGBUS, &sa, &obus), 0);
	bool hit = true;
	if (sigsetjmp(probe_jb, 1) == 0) {
		probe_armed = 1;
		if (write)
			*(volatile char *) p = 1;
		else
			(void) *(volatile char *) p;
		probe_armed = 0;
		hit = false;
	}
	sigaction(SIGSEGV, &osegv, NULL);
	sigaction(SIGBUS, &obus, NULL);
	return hit;
}

/* guard_run checks the guard of stacks from a pool made with flags. */
static void
guard_run(unsigned flags)
{
	size_t pg = page_size();
	long maps0 = maps_count();
	tr__stack_pool *sp = tr__stack_pool_alloc(STACK_DEFAULT, 64, flags);
	assert_non_null(sp);
	bool madv = tr__stack_madv_guards(sp);
	assert_true(!madv || (flags & TR__STACK_MPROTECT) == 0);
	size_t gap = tr__stack_gap(sp);
	assert_int_equal(gap, STACK_DEFAULT); /* 64 KiB stacks: 64 KiB gap */
	enum { N = 32 };
	tr__stack *v[N];
	for (int i = 0; i < N; i++) {
		v[i] = tr__stack_get(sp);
		assert_non_null(v[i]);
		assert_true(v[i]->guarded);
		/* Nothing below the top page was touched (read or written):
		 * a fresh stack costs one page. */
		assert_int_equal(resident_pages(v[i]->lo, v[i]->hi - pg), 0);
		assert_int_equal(resident_pages(v[i]->hi - pg, v[i]->hi), 1);
	}
	long maps1 = maps_count();
	if (maps0 > 0 && madv) /* one region mapping, no split */
		assert_true(maps1 - maps0 <= 2);
	if (maps0 > 0 && !madv) /* two entries per guard */
		assert_true(maps1 - maps0 >= 2 * N - 2);

	tr__stack *s = v[N / 2];
	/* The whole stack is usable, the whole gap below it is not. */
	memset(s->lo, 0x77, tr__stack_size(sp));
	assert_false(faults(s->lo, true));
	assert_true(faults(s->lo - 1, true));
	assert_true(faults(s->lo - 1, false));
	assert_true(faults(s->lo - gap / 2, true));
	assert_true(faults(s->lo - gap, true));
	/* The neighbour's top byte lies just below the gap. */
	assert_false(faults(s->lo - gap - 1, false));

	/* Trimmed (as after an overflow), the guard stays. */
	s->overflowed = true;
	tr__stack_put(sp, s);
	assert_ptr_equal(tr__stack_get(sp), s); /* LIFO */
	assert_false(s->overflowed);
	assert_int_equal(resident_pages(s->lo, s->hi - pg), 0);
	assert_true(faults(s->lo - 1, true));
	assert_true(faults(s->lo - gap, false));
	/* Compacted (every page dropped) and back, the same. */
	void *buf;
	size_t len;
	assert_true(tr__stack_save(sp, s, s->hi - 128, &buf, &len));
	assert_int_equal(len, 128);
	assert_int_equal(resident_pages(s->lo, s->hi), 0);
	assert_true(faults(s->lo - 1, true));
	tr__stack_restore(sp, s, buf, len);
	free(buf);
	assert_int_equal(resident_pages(s->lo, s->hi - pg), 0);
	if (madv) {
		/* The kernel's side (checked on 6.18): MADV_DONTNEED over a
		 * range that spans guard markers keeps them. */
		char *slot = s->lo - gap;
		assert_int_equal(madvise(slot, gap + tr__stack_size(sp),
		                     MADV_DONTNEED),
		    0);
		assert_true(faults(s->lo - 1, true));
		assert_true(faults(slot, false));
		assert_false(faults(s->lo, true));
	}
	printf("guards (%s): gap %zu KiB, maps %ld -> %ld for %d stacks\n",
	    madv ? "MADV_GUARD_INSTALL" : "mprotect", gap >> 10, maps0, maps1,
	    N);
	for (int i = 0; i < N; i++)
		tr__stack_put(sp, v[i]);
	tr__stack_pool_free(sp);
}

static void
test_stack_guard_fault(void **state)
{
	(void) state;
	guard_run(0);
	guard_run(TR__STACK_MPROTECT);
}

/* Where guards are mprotect ones (kernels before 6.13), the pool gives no
 * stack beyond its guard budget and refuses reservations past it. */
static void
test_stack_guard_budget(void **state)
{
	(void) state;
	size_t pg = page_size();
	char perms[5];
	if (!maps_perms((void *) &perms, perms))
		skip(); /* no /proc/self/maps */
	tr__stack_pool *sp = tr__stack_pool_alloc(STACK_DEFAULT, 4,
	    TR__STACK_MPROTECT);
	assert_non_null(sp);
	assert_false(tr__stack_madv_guards(sp));
	assert_int_equal(tr__stack_cap(sp), 4);
	bool first = false;
	for (int i = 0; i < 4; i++)
		assert_int_equal(tr__stack_reserve(sp, &first), 0);
	assert_int_equal(tr__stack_reserve(sp, &first), TR_ELIMIT);
	assert_true(first);
	assert_int_equal(tr__stack_reserve(sp, &first), TR_ELIMIT);
	assert_false(first); /* logged once */
	tr__stack_unreserve(sp);
	assert_int_equal(tr__stack_reserve(sp, &first), 0);

	tr__stack *v[4];
	for (int i = 0; i < 4; i++) {
		v[i] = tr__stack_get(sp);
		assert_non_null(v[i]);
		assert_true(v[i]->guarded);
		assert_true(maps_perms(v[i]->lo, perms));
		assert_string_equal(perms, "rw-p");
		assert_true(maps_perms(v[i]->hi - 1, perms));
		assert_string_equal(perms, "rw-p");
		assert_true(maps_perms(v[i]->lo - 1, perms));
		assert_string_equal(perms, "---p");
		assert_true(maps_perms(v[i]->lo - tr__stack_gap(sp), perms));
		assert_string_equal(perms, "---p");
	}
	assert_null(tr__stack_get(sp)); /* never an unguarded one */
	tr__stack_put(sp, v[3]);
	assert_ptr_equal(tr__stack_get(sp), v[3]);
	for (int i = 0; i < 4; i++) {
		tr__stack_put(sp, v[i]);
		tr__stack_unreserve(sp);
	}
	tr__stack_pool_free(sp);

	/* With MADV_GUARD_INSTALL there is no bound and no split. */
	sp = tr__stack_pool_alloc(STACK_DEFAULT, 4, 0);
	assert_non_null(sp);
	if (!tr__stack_madv_guards(sp)) {
		tr__stack_pool_free(sp);
		printf("kernel without MADV_GUARD_INSTALL: mprotect only\n");
		return;
	}
	assert_int_equal(tr__stack_cap(sp), SIZE_MAX);
	for (int i = 0; i < 100; i++)
		assert_int_equal(tr__stack_reserve(sp, &first), 0);
	tr__stack *w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = tr__stack_get(sp);
		assert_non_null(w[i]);
		assert_true(maps_perms(w[i]->lo - 1, perms));
		assert_string_equal(perms, "rw-p"); /* in the page tables */
		assert_true(maps_perms(w[i]->lo - pg, perms));
		assert_string_equal(perms, "rw-p");
	}
	for (int i = 0; i < 6; i++)
		tr__stack_put(sp, w[i]);
	for (int i = 0; i < 100; i++)
		tr__stack_unreserve(sp);
	tr__stack_pool_free(sp);
}

/* Stacks used to the bottom that the pool keeps untrimmed (DIRTY_MAX in
 * actors/stack.c). */
#define DIRTY_KEPT 64

static void
test_stack_release(void **state)
{
	(void) state;
	size_t pg = page_size();
	tr__stack_pool *sp = tr__stack_pool_alloc(STACK_DEFAULT, 1000, 0);
	assert_non_null(sp);
	size_t npages = tr__stack_size(sp) / pg;
	/*
	 * Pages are counted above the lowest one: reading an unguarded
	 * stack's canary maps the shared zero page there, which mincore
	 * counts as resident and RSS does not (test_stack_many).
	 */
#define USED(s) resident_pages((s)->lo + pg, (s)->hi)
	enum { M = DIRTY_KEPT + 36 };
	tr__stack **v = calloc(M, sizeof *v);
	assert_non_null(v);
	for (int i = 0; i < M; i++) {
		v[i] = tr__stack_get(sp);
		assert_non_null(v[i]);
		assert_true(v[i]->guarded);
	}

	/*
	 * Stacks used to the bottom: the first DIRTY_KEPT put back stay as
	 * they are (warm for the next processes), the others are trimmed
	 * to their top page.  Twice, to see the count of kept stacks go
	 * down again as they are taken.
	 */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < M; i++) {
			memset(v[i]->lo + 64, 0x33,
			    (size_t) (v[i]->hi - v[i]->lo) - 64);
			assert_int_equal(USED(v[i]), npages - 1);
		}
		for (int i = 0; i < M; i++)
			tr__stack_put(sp, v[i]);
		int kept = 0, trimmed = 0;
		for (int i = 0; i < M; i++) {
			size_t u = USED(v[i]);
			kept += u == npages - 1;
			trimmed += u == 1;
			if (u == 1) /* the top page survives a trim */
				assert_int_equal(resident_pages(v[i]->hi - pg,
				                     v[i]->hi),
				    1);
		}
		assert_int_equal(kept, DIRTY_KEPT);
		assert_int_equal(trimmed, M - DIRTY_KEPT);
		for (int i = M - 1; i >= 0; i--)
			assert_ptr_equal(tr__stack_get(sp), v[i]); /* LIFO */
	}

	/* A trimmed stack that stays in its top page is not trimmed again
	 * (nothing to see) and keeps that page. */
	tr__stack *u = v[M - 1];
	assert_true(u->guarded);
	assert_int_equal(USED(u), 1);
	memset(u->hi - 1024, 0x44, 1024);
	tr__stack_put(sp, u);
	assert_ptr_equal(tr__stack_get(sp), u);
	assert_int_equal(USED(u), 1);

	/* A deep frame that never wrote over the watermark fools the
	 * check, but only for FORCE_EVERY (16) puts at most. */
	memset(u->lo + 64, 0x55, (size_t) (u->hi - u->lo) - 64 - pg);
	assert_int_equal(USED(u), npages - 1);
	int puts = 0;
	while (USED(u) > 1 && puts < 17) {
		tr__stack_put(sp, u);
		assert_ptr_equal(tr__stack_get(sp), u);
		puts++;
	}
	assert_int_equal(USED(u), 1);
	assert_true(puts >= 1 && puts <= 16);

	for (int i = 0; i < M; i++)
		tr__stack_put(sp, v[i]);
	free(v);
	tr__stack_pool_free(sp);
#undef USED
}

static void
test_stack_many(void **state)
{
	(void) state;
	long n = TU_PICK(100000, 10000, 10000);
	tr__stack **v = calloc((size_t) n, sizeof *v);
	assert_non_null(v);
	memset(v, 0, (size_t) n * sizeof *v); /* resident before measuring */
	long maps0 = maps_count();
	uint64_t rss0 = rss_bytes(), pte0 = status_kb("VmPTE");
	uint64_t t0 = tu_now_ns();

	tr__stack_pool *sp = tr__stack_pool_alloc(STACK_DEFAULT, 0, 0);
	assert_non_null(sp);
	/* Without MADV_GUARD_INSTALL (before Linux 6.13) the pool gives
	 * only as many stacks as it can guard with mprotect. */
	long cap = tr__stack_cap(sp) < (size_t) n ? (long) tr__stack_cap(sp)
	                                          : n;
	long guarded = 0;
	for (long i = 0; i < cap; i++) {
		v[i] = tr__stack_get(sp);
		assert_non_null(v[i]);
		/* What a process's first frames do: touch the top page. */
		memset(v[i]->hi - 256, 0x11, 256);
		guarded += v[i]->guarded;
	}
	uint64_t t1 = tu_now_ns();
	uint64_t rss1 = rss_bytes(), pte1 = status_kb("VmPTE");
	long maps1 = maps_count();
	n = cap;
	double per = (double) (rss1 - rss0) / (double) n;
	printf("%ld stacks of %zu KiB: %.0f resident bytes each "
	       "(+%.0f in page tables), %ld guarded (%s), maps %ld -> %ld, "
	       "%.2f us per get\n",
	    n, tr__stack_size(sp) >> 10, per,
	    (double) (pte1 - pte0) / (double) n, guarded,
	    tr__stack_madv_guards(sp) ? "MADV_GUARD_INSTALL" : "mprotect",
	    maps0, maps1, (double) (t1 - t0) / (double) n / 1000.0);
	assert_int_equal(guarded, n); /* every one */
	if (maps0 > 0) {
		/* Guards split mappings; the rest of the process keeps at
		 * least half of what was free. */
		long max = 65530;
		FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
		if (f != NULL) {
			if (fscanf(f, "%ld", &max) != 1)
				max = 65530;
			fclose(f);
		}
		assert_true(maps1 - maps0 <= (max - maps0) / 2 + 64);
	}
	if (!TU_ASAN && !TU_TSAN && rss0 > 0)
		assert_true(per <= 4.5 * 1024);

	for (long i = 0; i < n; i++)
		tr__stack_put(sp, v[i]);
	tr__stack_pool_free(sp);
	free(v);
}

/* Threads taking and returning stacks at once; each marks the stacks it
 * holds and checks nobody else got them. */
#define MT_THREADS 4
#define MT_OPS TU_PICK(20000, 5000, 5000)
#define MT_HOLD 8

typedef struct mt_arg {
	tr__stack_pool *sp;
	uint64_t id;
} mt_arg;

static void *
mt_thread(void *p)
{
	mt_arg *a = p;
	tr__stack *held[MT_HOLD];
	int n = 0;
	uint64_t seed = a->id * 0x9e3779b97f4a7c15ull + 1;
	for (int op = 0; op < MT_OPS; op++) {
		if (n == MT_HOLD || (n > 0 && tu_rand(&seed) % 2 == 0)) {
			int k = (int) (tu_rand(&seed) % (uint64_t) n);
			uint64_t mark;
			memcpy(&mark, held[k]->hi - 8, sizeof mark);
			TU_CHECK(mark == a->id);
			tr__stack_put(a->sp, held[k]);
			held[k] = held[--n];
		} else {
			tr__stack *s = tr__stack_get(a->sp);
			TU_CHECK(s != NULL);
			if (s == NULL)
				break;
			memcpy(s->hi - 8, &a->id, sizeof a->id);
			held[n++] = s;
		}
	}
	while (n > 0)
		tr__stack_put(a->sp, held[--n]);
	return NULL;
}

static void
test_stack_threads(void **state)
{
	(void) state;
	tu_reset_failures();
	tr__stack_pool *sp = tr__stack_pool_alloc(STACK_DEFAULT, 64, 0);
	assert_non_null(sp);
	pthread_t t[MT_THREADS];
	mt_arg a[MT_THREADS];
	for (int i = 0; i < MT_THREADS; i++) {
		a[i].sp = sp;
		a[i].id = (uint64_t) i + 1;
		tu_thread_start(&t[i], mt_thread, &a[i]);
	}
	for (int i = 0; i < MT_THREADS; i++)
		tu_thread_join(t[i]);
	tu_assert_no_failures();
	tr__stack_pool_free(sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_pingpong),
		cmocka_unit_test(test_ctx_callee_saved),
		cmocka_unit_test(test_ctx_fpenv),
		cmocka_unit_test(test_ctx_deep_recursion),
		cmocka_unit_test(test_ctx_migrate),
		cmocka_unit_test(test_stack_pool_basic),
		cmocka_unit_test(test_stack_guard_fault),
		cmocka_unit_test(test_stack_guard_budget),
		cmocka_unit_test(test_stack_release),
		cmocka_unit_test(test_stack_many),
		cmocka_unit_test(test_stack_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
