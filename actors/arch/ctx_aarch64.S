/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Context switch for AArch64, AAPCS64 (Linux, the BSDs).  See actors/ctx.h
 * for the contract and docs/decisions/0013-process-stacks.md for the
 * reasons.
 *
 * A suspended context is a stack pointer p (16-byte aligned) to 176 bytes:
 *
 *	p+0	x19, x20	p+96	d8, d9
 *	p+16	x21, x22	p+112	d10, d11
 *	p+32	x23, x24	p+128	d12, d13
 *	p+48	x25, x26	p+144	d14, d15
 *	p+64	x27, x28	p+160	FPCR, unused
 *	p+80	x29 (fp), x30 (resume address)
 *
 * These are AAPCS64's callee-saved registers (x19-x29, sp, the low 64 bits
 * of v8-v15) plus the resume address, and FPCR, whose mode fields (rounding,
 * flush-to-zero, default NaN) are preserved across calls; FPSR (the
 * cumulative flags) is not.  FPCR is written back only when it differs, as
 * a write may serialise the pipeline.  Defining TR_CTX_NO_FPCW leaves FPCR
 * out, as on x86_64.  x18 (the platform register) is left alone.
 *
 * The switch ends with `br x30` rather than `ret`, which would pop the
 * return address predictor on every switch (see ctx_x86_64.S).  With branch
 * target identification (-mbranch-protection=bti or standard) a `br` may
 * only land on a BTI pad and a return address is none, so that build ends
 * with `ret` instead and marks the object BTI-compatible.
 */

#ifdef TR_CTX_NO_FPCW
#define FPCW 0
#else
#define FPCW 1
#endif

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C	bti c
#define RESUME	ret	x30
#define GNU_PROPERTY_BTI 1
#else
#define BTI_C
#define RESUME	br	x30
#define GNU_PROPERTY_BTI 0
#endif

#define FRAME 176

	.text

/* void tr__ctx_switch(void **from, void *to) */
	.globl	tr__ctx_switch
	.hidden	tr__ctx_switch
	.type	tr__ctx_switch, %function
	.p2align 4
tr__ctx_switch:
	.cfi_startproc
	BTI_C
	sub	sp, sp, #FRAME
	.cfi_def_cfa_offset FRAME
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	.cfi_offset x19, -FRAME + 0
	.cfi_offset x20, -FRAME + 8
	.cfi_offset x21, -FRAME + 16
	.cfi_offset x22, -FRAME + 24
	.cfi_offset x23, -FRAME + 32
	.cfi_offset x24, -FRAME + 40
	.cfi_offset x25, -FRAME + 48
	.cfi_offset x26, -FRAME + 56
	.cfi_offset x27, -FRAME + 64
	.cfi_offset x28, -FRAME + 72
	.cfi_offset x29, -FRAME + 80
	.cfi_offset x30, -FRAME + 88
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
#if FPCW
	mrs	x9, fpcr
	str	x9, [sp, #160]
#endif

	/* Park this context, take the other one's stack.  The saved frame
	 * on the new stack has the same layout, so the CFI above still
	 * describes it. */
	mov	x10, sp
	str	x10, [x0]
	mov	sp, x1

#if FPCW
	ldr	x9, [sp, #160]
	mrs	x10, fpcr
	cmp	x9, x10
	b.eq	1f
	msr	fpcr, x9
1:
#endif
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #FRAME
	.cfi_def_cfa_offset 0
	.cfi_restore x19
	.cfi_restore x20
	.cfi_restore x21
	.cfi_restore x22
	.cfi_restore x23
	.cfi_restore x24
	.cfi_restore x25
	.cfi_restore x26
	.cfi_restore x27
	.cfi_restore x28
	.cfi_restore x29
	.cfi_restore x30
	RESUME
	.cfi_endproc
	.size	tr__ctx_switch, .-tr__ctx_switch

/* void *tr__ctx_make(void *top, void (*entry)(void *), void *arg) */
	.globl	tr__ctx_make
	.hidden	tr__ctx_make
	.type	tr__ctx_make, %function
	.p2align 4
tr__ctx_make:
	.cfi_startproc
	BTI_C
	/*
	 * The frame sits FRAME + 16 bytes below top (rounded down to 16):
	 * the layout above, then a zero frame record that ends frame
	 * chains.  After the first switch pops it, sp = top - 16.
	 */
	and	x0, x0, #~15
	sub	x0, x0, #(FRAME + 16)
	stp	x1, x2, [x0, #0]	/* x19 = entry, x20 = arg */
	stp	xzr, xzr, [x0, #16]
	stp	xzr, xzr, [x0, #32]
	stp	xzr, xzr, [x0, #48]
	stp	xzr, xzr, [x0, #64]
	adr	x9, trampoline
	stp	xzr, x9, [x0, #80]	/* x29 = 0, resume at trampoline */
	stp	xzr, xzr, [x0, #96]
	stp	xzr, xzr, [x0, #112]
	stp	xzr, xzr, [x0, #128]
	stp	xzr, xzr, [x0, #144]
	/* A new context starts with its creator's FPCR, as a new thread
	 * does. */
	mrs	x9, fpcr
	stp	x9, xzr, [x0, #160]
	stp	xzr, xzr, [x0, #FRAME]
	ret
	.cfi_endproc
	.size	tr__ctx_make, .-tr__ctx_make

/*
 * First code of a made context: entry(arg).  entry must not return; if it
 * does, abort (a troupe bug).  The return address is undefined here, so
 * unwinders stop.
 */
	.type	trampoline, %function
	.p2align 4
trampoline:
	.cfi_startproc
	.cfi_undefined x30
	BTI_C
	mov	x0, x20
	blr	x19
	bl	abort
	brk	#0
	.cfi_endproc
	.size	trampoline, .-trampoline

#if GNU_PROPERTY_BTI
/* GNU_PROPERTY_AARCH64_FEATURE_1_AND: BTI (bit 0). */
	.section .note.gnu.property, "a"
	.p2align 3
	.word	4
	.word	16
	.word	5
	.asciz	"GNU"
	.word	0xc0000000
	.word	4
	.word	1
	.word	0
#endif

	.section .note.GNU-stack, "", %progbits
