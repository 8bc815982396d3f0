/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * ctx_bench: nanoseconds per context switch, tr__ctx_switch against
 * swapcontext (and, on x86_64, against variants of the switch that end in
 * `ret` or leave out MXCSR and the x87 control word, to show what each
 * choice in actors/arch/ctx_x86_64.S costs).  Standalone: it uses the
 * switch and nothing else of troupe.
 *
 *   cc -O2 -I. -Iinclude bench/ctx_bench.c actors/arch/ctx_x86_64.S
 *   cc -O2 -I. -Iinclude bench/ctx_bench.c actors/arch/ctx_aarch64.S
 *   ./a.out [switches] [runs]        (default 50000000 switches, 5 runs)
 *
 * Two contexts hand control back and forth; a run times `switches`
 * switches (half each way) and the best run is reported.
 */

#define _GNU_SOURCE

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sys/mman.h>
#include <ucontext.h>

#include "actors/ctx.h"

#define STACK_SIZE ((size_t) 64 << 10)

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static char *
stack_top(void)
{
	void *p = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return (char *) p + STACK_SIZE;
}

/* ------------------------------------------------ x86_64 switch variants */

#if defined(__x86_64__)
/*
 * Same frame layout as ctx_x86_64.S (so tr__ctx_make serves them all):
 * FPCW: save and load MXCSR and the x87 control word; RET: end with ret.
 */
#define VARIANT(name, FPCW_SAVE, FPCW_LOAD, END)                              \
	__asm__(".text\n.p2align 4\n.type " #name ", @function\n" #name ":\n" \
	        "	pushq %rbp\n	pushq %rbx\n	pushq %r12\n"                     \
	        "	pushq %r13\n	pushq %r14\n	pushq %r15\n"                     \
	        "	subq $8, %rsp\n" FPCW_SAVE                            \
	        "	movq %rsp, (%rdi)\n	movq %rsi, %rsp\n" FPCW_LOAD  \
	        "	addq $8, %rsp\n"                                            \
	        "	popq %r15\n	popq %r14\n	popq %r13\n"                        \
	        "	popq %r12\n	popq %rbx\n	popq %rbp\n" END      \
	        ".size " #name ", .-" #name "\n");                            \
	void name(void **from, void *to);

#define SAVE "	stmxcsr (%rsp)\n	fnstcw 4(%rsp)\n"
#define LOAD "	ldmxcsr (%rsp)\n	fldcw 4(%rsp)\n"
#define JMP "	popq %rcx\n	jmpq *%rcx\n"
#define RET "	ret\n"

VARIANT(sw_jmp_nofp, "", "", JMP)
VARIANT(sw_ret_fp, SAVE, LOAD, RET)
VARIANT(sw_ret_nofp, "", "", RET)
#endif

/* ------------------------------------------------------------ ping-pong */

/*
 * PINGPONG(name, fn) defines run_<name>(n): n switches between main and a
 * context, both calling fn directly.
 */
#define PINGPONG(name, fn)                                        \
	static void *name##_main, *name##_co;                     \
	static void name##_body(void *arg)                        \
	{                                                         \
		(void) arg;                                       \
		for (;;)                                          \
			fn(&name##_co, name##_main);              \
	}                                                         \
	static double run_##name(long n, char *top)               \
	{                                                         \
		name##_co = tr__ctx_make(top, name##_body, NULL); \
		uint64_t t0 = now_ns();                           \
		for (long i = 0; i < n / 2; i++)                  \
			fn(&name##_main, name##_co);              \
		uint64_t t1 = now_ns();                           \
		return (double) (t1 - t0) / (double) (n / 2 * 2); \
	}

PINGPONG(tr, tr__ctx_switch)
#if defined(__x86_64__)
PINGPONG(jmp_nofp, sw_jmp_nofp)
PINGPONG(ret_fp, sw_ret_fp)
PINGPONG(ret_nofp, sw_ret_nofp)
#endif

/* The contexts never end: each run leaves one suspended on its stack,
 * and the next run makes a new one on the same stack. */

static ucontext_t uc_main, uc_co;

static void
uc_body(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

static double
run_uc(long n, char *top)
{
	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = top - STACK_SIZE;
	uc_co.uc_stack.ss_size = STACK_SIZE;
	uc_co.uc_link = NULL;
	makecontext(&uc_co, uc_body, 0);
	uint64_t t0 = now_ns();
	for (long i = 0; i < n / 2; i++)
		swapcontext(&uc_main, &uc_co);
	uint64_t t1 = now_ns();
	return (double) (t1 - t0) / (double) (n / 2 * 2);
}

static double
best(double (*run)(long, char *), long n, int runs, char *top)
{
	double b = 1e30;
	run(n / 10 + 2, top); /* warm up */
	for (int r = 0; r < runs; r++) {
		double v = run(n, top);
		if (v < b)
			b = v;
	}
	return b;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 50000000L;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (n < 2 || runs < 1) {
		fprintf(stderr, "usage: %s [switches >= 2] [runs >= 1]\n",
		    argv[0]);
		return 2;
	}
	char *top = stack_top();
	printf("ctx_bench: %ld switches per run, best of %d\n", n, runs);
	double tr = best(run_tr, n, runs, top);
	printf("%-52s %7.2f ns/switch\n", "tr__ctx_switch (as built)", tr);
#if defined(__x86_64__)
	printf("%-52s %7.2f ns/switch\n", "variant: pop; jmp, no MXCSR/x87 CW",
	    best(run_jmp_nofp, n, runs, top));
	printf("%-52s %7.2f ns/switch\n", "variant: ret, MXCSR/x87 CW",
	    best(run_ret_fp, n, runs, top));
	printf("%-52s %7.2f ns/switch\n", "variant: ret, no MXCSR/x87 CW",
	    best(run_ret_nofp, n, runs, top));
#endif
	/* swapcontext makes two system calls per switch: fewer of them. */
	long nu = n / 50 > 2 ? n / 50 : 2;
	double uc = best(run_uc, nu, runs, top);
	printf("%-52s %7.2f ns/switch (%ld switches per run)\n", "swapcontext",
	    uc, nu);
	printf("RESULT bench=ctx_switch ns_per_switch=%.2f "
	       "swapcontext_ns=%.2f\n",
	    tr, uc);
	return 0;
}
