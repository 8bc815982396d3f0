/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Context switch for x86_64, System V ABI (Linux, the BSDs).  See
 * actors/ctx.h for the contract and docs/decisions/0013-process-stacks.md
 * for the reasons.
 *
 * A suspended context is a stack pointer p (16-byte aligned) to:
 *
 *	p+0	MXCSR (4 bytes), x87 control word (2 bytes), 2 unused
 *	p+8	r15
 *	p+16	r14
 *	p+24	r13
 *	p+32	r12
 *	p+40	rbx
 *	p+48	rbp
 *	p+56	resume address (the return address of the suspended call)
 *
 * Only what the ABI makes callee-saved is kept: rbx, rbp, r12-r15, the
 * control bits of MXCSR and the x87 control word (xmm registers and the
 * MXCSR/x87 status flags are caller-saved).  Defining TR_CTX_NO_FPCW leaves
 * out the two control words: a context that changes the rounding mode then
 * changes it for every context of the thread.
 *
 * The switch ends with `pop; jmp *` rather than `ret`: a `ret` into another
 * stack misses the return stack buffer on every switch (9 ns against 2.8 ns
 * on the development machine, DESIGN.md section 6).
 *
 * No .note.gnu.property is emitted on purpose: a stack switch is not
 * compatible with CET shadow stacks (nor is the indirect jump to a return
 * address with IBT), and leaving the note out makes the linker mark the
 * whole output as not CET-enabled instead of faulting at run time.
 */

#ifdef TR_CTX_NO_FPCW
#define FPCW 0
#else
#define FPCW 1
#endif

	.text

/* void tr__ctx_switch(void **from, void *to) */
	.globl	tr__ctx_switch
	.hidden	tr__ctx_switch
	.type	tr__ctx_switch, @function
	.p2align 4
tr__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
#if FPCW
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
#endif

	/* Park this context, take the other one's stack.  The saved frame
	 * on the new stack has the same layout, so the CFI above still
	 * describes it. */
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp

#if FPCW
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
#endif
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	jmpq	*%rcx
	.cfi_endproc
	.size	tr__ctx_switch, .-tr__ctx_switch

/* void *tr__ctx_make(void *top, void (*entry)(void *), void *arg) */
	.globl	tr__ctx_make
	.hidden	tr__ctx_make
	.type	tr__ctx_make, @function
	.p2align 4
tr__ctx_make:
	.cfi_startproc
	/*
	 * The frame sits 80 bytes below top (rounded down to 16): 64 bytes
	 * in the layout above, then two zero words that end frame-pointer
	 * chains.  After the first switch pops it, rsp = top - 16, so the
	 * trampoline's call gives entry the ABI's alignment (rsp + 8 a
	 * multiple of 16).
	 */
	movq	%rdi, %rax
	andq	$-16, %rax
	subq	$80, %rax
	xorl	%ecx, %ecx
	movq	%rcx, 0(%rax)
#if FPCW
	/* A new context starts with its creator's control words, as a new
	 * thread does. */
	stmxcsr	0(%rax)
	fnstcw	4(%rax)
#else
	movl	$0x1f80, 0(%rax)
	movw	$0x037f, 4(%rax)
#endif
	movq	%rcx, 8(%rax)		/* r15 */
	movq	%rcx, 16(%rax)		/* r14 */
	movq	%rdx, 24(%rax)		/* r13 = arg */
	movq	%rsi, 32(%rax)		/* r12 = entry */
	movq	%rcx, 40(%rax)		/* rbx */
	movq	%rcx, 48(%rax)		/* rbp = 0: end of frame chain */
	leaq	trampoline(%rip), %rcx
	movq	%rcx, 56(%rax)		/* resume address */
	movq	$0, 64(%rax)
	movq	$0, 72(%rax)
	ret
	.cfi_endproc
	.size	tr__ctx_make, .-tr__ctx_make

/*
 * First code of a made context: entry(arg) with rsp 16-byte aligned before
 * the call.  entry must not return; if it does, abort (a troupe bug).
 * The return address is undefined here, so unwinders stop.
 */
	.type	trampoline, @function
	.p2align 4
trampoline:
	.cfi_startproc
	.cfi_undefined %rip
	movq	%r13, %rdi
	callq	*%r12
	callq	abort@PLT
	ud2
	.cfi_endproc
	.size	trampoline, .-trampoline

	.section .note.GNU-stack, "", @progbits
