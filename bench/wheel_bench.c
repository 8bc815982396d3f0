/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * wheel_bench: the cost of the timing wheel (actors/timer.h) alone, one
 * thread, no runtime around it.
 *
 *   wheel_bench [N [ROUNDS]]      (defaults: 1000000 timers, 5 rounds)
 *
 * Each round files N timers into a fresh wheel and times, per timer:
 *   insert      deadlines 1 ms .. 60 s ahead (receive timeouts, send_after)
 *   insert_lvl  deadlines on a random level, 1 ms .. 2 years ahead
 *   remove_seq  cancel in insertion order
 *   remove_rnd  cancel in random order (the usual case: a reply came)
 *   fire_1ms    advance 1 ms at a time until all 60 s timers fired (a
 *               worker waking every ms; cascades included)
 *   fire_jump   one advance past every 60 s timer
 *   fire_lvl    one advance past every timer of the random-level set
 *   fire_seq    as fire_1ms, deadlines rising with the timer's address
 *               (equal delays started in turn: lists walk memory in order)
 *   next        tr__wheel_next with N timers filed
 * and prints the best round as
 *   RESULT bench=wheel_<op> impl=troupe n=<N> ns_per_op=<ns>
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/timer.h"

/* A timer as a runtime would embed it: the node plus some payload. */
typedef struct btimer {
	tr__tnode node;
	void *target;
	uint64_t cookie;
} btimer;

enum {
	OP_INSERT,
	OP_INSERT_LVL,
	OP_REMOVE_SEQ,
	OP_REMOVE_RND,
	OP_FIRE_1MS,
	OP_FIRE_JUMP,
	OP_FIRE_LVL,
	OP_FIRE_SEQ,
	OP_NEXT,
	OP_COUNT
};

static const char *op_names[OP_COUNT] = { "insert", "insert_lvl", "remove_seq",
	"remove_rnd", "fire_1ms", "fire_jump", "fire_lvl", "fire_seq", "next" };

static uint64_t fired, sink;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* rnd is xorshift64*. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* on_fire is the fire callback: it touches the timer as a runtime would. */
static void
on_fire(void *arg, tr__tnode *n)
{
	btimer *t = (btimer *) n;

	(void) arg;
	sink += t->cookie;
	fired++;
}

/* fill files timer i of t at dl[i], for i < n. */
static void
fill(tr__wheel *wh, btimer *t, const uint64_t *dl, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		tr__wheel_insert(wh, &t[i].node, dl[i]);
}

/* run_round measures one round into ns[op] (nanoseconds per timer). */
static int
run_round(btimer *t, uint32_t n, uint64_t *dl_min, uint64_t *dl_lvl,
    uint32_t *perm, double *ns)
{
	const uint64_t base = 1700000000000ULL;
	tr__wheel wh;
	uint64_t t0, t1;

	/* insert, remove_seq */
	tr__wheel_init(&wh, base);
	t0 = now_ns();
	fill(&wh, t, dl_min, n);
	t1 = now_ns();
	ns[OP_INSERT] = (double) (t1 - t0) / n;
	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++)
		tr__wheel_remove(&wh, &t[i].node);
	t1 = now_ns();
	ns[OP_REMOVE_SEQ] = (double) (t1 - t0) / n;
	if (wh.wh_count != 0)
		return -1;

	/* insert_lvl, remove_rnd */
	t0 = now_ns();
	fill(&wh, t, dl_lvl, n);
	t1 = now_ns();
	ns[OP_INSERT_LVL] = (double) (t1 - t0) / n;
	t0 = now_ns();
	for (uint32_t i = 0; i < n; i++)
		tr__wheel_remove(&wh, &t[perm[i]].node);
	t1 = now_ns();
	ns[OP_REMOVE_RND] = (double) (t1 - t0) / n;
	if (wh.wh_count != 0)
		return -1;

	/* next */
	fill(&wh, t, dl_lvl, n);
	uint32_t reps = 10000000;
	t0 = now_ns();
	for (uint32_t i = 0; i < reps; i++) {
		sink += tr__wheel_next(&wh);
		/* keep the compiler from hoisting the call */
		__asm__ volatile("" : : "r"(&wh) : "memory");
	}
	t1 = now_ns();
	ns[OP_NEXT] = (double) (t1 - t0) / reps;

	/* fire_lvl: one jump past everything (two years and more) */
	fired = 0;
	t0 = now_ns();
	tr__wheel_advance(&wh, UINT64_MAX, on_fire, NULL);
	t1 = now_ns();
	ns[OP_FIRE_LVL] = (double) (t1 - t0) / n;
	if (fired != n || wh.wh_count != 0)
		return -1;

	/* fire_1ms */
	tr__wheel_init(&wh, base);
	fill(&wh, t, dl_min, n);
	fired = 0;
	t0 = now_ns();
	for (uint64_t ms = base + 1; wh.wh_count > 0; ms++)
		tr__wheel_advance(&wh, ms, on_fire, NULL);
	t1 = now_ns();
	ns[OP_FIRE_1MS] = (double) (t1 - t0) / n;
	if (fired != n)
		return -1;

	/* fire_seq */
	tr__wheel_init(&wh, base);
	for (uint32_t i = 0; i < n; i++)
		tr__wheel_insert(&wh, &t[i].node,
		    base + 1 + (uint64_t) i * 60000 / n);
	fired = 0;
	t0 = now_ns();
	for (uint64_t ms = base + 1; wh.wh_count > 0; ms++)
		tr__wheel_advance(&wh, ms, on_fire, NULL);
	t1 = now_ns();
	ns[OP_FIRE_SEQ] = (double) (t1 - t0) / n;
	if (fired != n)
		return -1;

	/* fire_jump */
	tr__wheel_init(&wh, base);
	fill(&wh, t, dl_min, n);
	fired = 0;
	t0 = now_ns();
	tr__wheel_advance(&wh, base + 60001, on_fire, NULL);
	t1 = now_ns();
	ns[OP_FIRE_JUMP] = (double) (t1 - t0) / n;
	if (fired != n)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t) strtoul(argv[1], NULL, 0) : 1000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	const uint64_t base = 1700000000000ULL;
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	double best[OP_COUNT], ns[OP_COUNT];

	if (n == 0 || rounds <= 0) {
		fprintf(stderr, "usage: wheel_bench [N [ROUNDS]]\n");
		return 2;
	}
	btimer *t = calloc(n, sizeof *t);
	uint64_t *dl_min = malloc(n * sizeof *dl_min);
	uint64_t *dl_lvl = malloc(n * sizeof *dl_lvl);
	uint32_t *perm = malloc(n * sizeof *perm);
	if (t == NULL || dl_min == NULL || dl_lvl == NULL || perm == NULL) {
		fprintf(stderr, "wheel_bench: out of memory\n");
		return 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = rnd(&rng);
		unsigned lvl = (unsigned) (v % TR__WHEEL_LEVELS);

		t[i].cookie = i;
		dl_min[i] = base + 1 + rnd(&rng) % 60000;
		dl_lvl[i] = base + 1 +
		    (v >> 8) % ((uint64_t) 1 << (6 * (lvl + 1)));
		perm[i] = i;
	}
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t k = (uint32_t) (rnd(&rng) % (i + 1));
		uint32_t x = perm[i];
		perm[i] = perm[k];
		perm[k] = x;
	}

	for (int op = 0; op < OP_COUNT; op++)
		best[op] = 1e300;
	for (int r = 0; r < rounds; r++) {
		if (run_round(t, n, dl_min, dl_lvl, perm, ns) != 0) {
			fprintf(stderr,
			    "wheel_bench: wrong count in round %d\n", r);
			return 1;
		}
		for (int op = 0; op < OP_COUNT; op++)
			best[op] = ns[op] < best[op] ? ns[op] : best[op];
	}
	for (int op = 0; op < OP_COUNT; op++)
		printf("RESULT bench=wheel_%s impl=troupe n=%" PRIu32
		       " ns_per_op=%.1f\n",
		    op_names[op], n, best[op]);
	if (sink == 42)
		printf("\n"); /* keeps sink alive */
	free(perm);
	free(dl_lvl);
	free(dl_min);
	free(t);
	return 0;
}
