/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Fairness: an actor that never runs out of messages (a huge backlog it
 * keeps topping up by sending to itself, or a pair ping-ponging forever)
 * cannot starve another actor.  With one worker the bound is counted in
 * the flooder's messages (the budget caps a turn); with the default
 * workers it is a time bound.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_FLOOD = 1, T_POKE, T_BALL };

typedef struct flooder {
	atomic_ulong handled;
	atomic_int stop;
} flooder;

/* Handles a message and sends one back to itself: the backlog never shrinks. */
static int
flooder_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) m;
	flooder *f = state;
	atomic_fetch_add_explicit(&f->handled, 1, memory_order_relaxed);
	if (atomic_load_explicit(&f->stop, memory_order_relaxed))
		return TR_STOP;
	TU_CHECK(tr_send(cx, tr_self(cx), T_FLOOD, NULL, 0) == 0);
	return TR_CONTINUE;
}

typedef struct victim {
	atomic_int got;
	atomic_ulong flood_seen; /* the flooder's count when we ran */
	flooder *f;
} victim;

static int
victim_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	victim *v = state;
	if (tr_msg_tag(m) != T_POKE)
		return TR_STOP;
	atomic_store(&v->flood_seen, atomic_load(&v->f->handled));
	atomic_fetch_add(&v->got, 1);
	return TR_CONTINUE;
}

/* A pair that bounces a ball forever (until stop): each send finds the
 * other idle, the path that favours the just-woken actor. */
typedef struct pinger {
	tr_pid peer;
	atomic_ulong handled;
	atomic_int *stop;
} pinger;

static int
pinger_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) m;
	pinger *p = state;
	atomic_fetch_add_explicit(&p->handled, 1, memory_order_relaxed);
	if (atomic_load_explicit(p->stop, memory_order_relaxed))
		return TR_STOP;
	TU_CHECK(tr_send(cx, p->peer, T_BALL, NULL, 0) == 0);
	return TR_CONTINUE;
}

/*
 * Runs `rounds` pokes at a victim while a flooder with a backlog runs,
 * and returns the largest number of flooder messages handled between a
 * poke being sent and the victim running.
 */
static unsigned long
flood_rounds(tr_system *sys, int rounds, unsigned long backlog,
    int64_t limit_ms, bool pinger_pair)
{
	static flooder f;
	static victim v;
	static pinger pa, pb;
	static atomic_int pstop;
	memset(&f, 0, sizeof f);
	memset(&v, 0, sizeof v);
	memset(&pa, 0, sizeof pa);
	memset(&pb, 0, sizeof pb);
	atomic_store(&pstop, 0);
	v.f = &f;
	tr_pid fp, vp, ap, bp;
	assert_int_equal(tr_spawn(sys, &fp, flooder_fn, &f, NULL), 0);
	assert_int_equal(tr_spawn(sys, &vp, victim_fn, &v, NULL), 0);
	for (unsigned long i = 0; i < backlog; i++)
		assert_int_equal(tr_system_send(sys, fp, T_FLOOD, NULL, 0), 0);
	if (pinger_pair) {
		pa.stop = pb.stop = &pstop;
		assert_int_equal(tr_spawn(sys, &ap, pinger_fn, &pa, NULL), 0);
		assert_int_equal(tr_spawn(sys, &bp, pinger_fn, &pb, NULL), 0);
		pa.peer = bp;
		pb.peer = ap;
		assert_int_equal(tr_system_send(sys, ap, T_BALL, NULL, 0), 0);
	}
	/* Let the flooder get going before the first poke. */
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	while (atomic_load(&f.handled) < 1000 && tu_poll(&d)) {
	}
	assert_true(atomic_load(&f.handled) >= 1000);

	unsigned long worst = 0;
	uint64_t worst_ns = 0;
	for (int r = 0; r < rounds; r++) {
		unsigned long before = atomic_load(&f.handled);
		uint64_t t0 = tu_now_ns();
		assert_int_equal(tr_system_send(sys, vp, T_POKE, NULL, 0), 0);
		/* Count from when the send returned: this thread may have been
		 * preempted inside it while the flooder ran on (an undercount
		 * at worst; a starved victim still fails the time bound). */
		unsigned long sent_at = atomic_load(&f.handled);
		d = tu_deadline_ms(limit_ms);
		while (atomic_load(&v.got) <= r && tu_poll(&d)) {
		}
		uint64_t ns = tu_now_ns() - t0;
		if (atomic_load(&v.got) <= r)
			fprintf(stderr,
			    "round %d: victim not run within %lld ms; "
			    "flooder handled %lu meanwhile\n",
			    r, (long long) limit_ms,
			    atomic_load(&f.handled) - before);
		assert_int_equal(atomic_load(&v.got), r + 1);
		unsigned long seen = atomic_load(&v.flood_seen);
		unsigned long delta = seen > sent_at ? seen - sent_at : 0;
		if (delta > worst)
			worst = delta;
		if (ns > worst_ns)
			worst_ns = ns;
	}
	printf("# backlog %lu%s: worst %lu flooder messages, %.2f ms before "
	       "the victim ran\n",
	    backlog, pinger_pair ? " + ping-pong pair" : "", worst,
	    (double) worst_ns / 1e6);
	if (pinger_pair)
		assert_true(atomic_load(&pa.handled) > 0);
	atomic_store(&f.stop, 1);
	atomic_store(&pstop, 1);
	tu_wait_exit(sys, fp, TR_REASON_NORMAL);
	if (pinger_pair) {
		/* The one that got the ball after the stop exits; the other
		 * then waits for a ball that never comes: send it one. */
		d = tu_deadline_ms(10000 * TU_SLOW);
		while (tr_is_alive(sys, ap) && tr_is_alive(sys, bp) &&
		    tu_poll(&d)) {
		}
		tr_pid left = tr_is_alive(sys, ap) ? ap : bp;
		assert_int_equal(tr_system_send(sys, left, T_BALL, NULL, 0), 0);
		tu_wait_exit(sys, ap, TR_REASON_NORMAL);
		tu_wait_exit(sys, bp, TR_REASON_NORMAL);
	}
	assert_int_equal(tr_system_send(sys, vp, 999, NULL, 0), 0);
	tu_wait_exit(sys, vp, TR_REASON_NORMAL);
	tu_assert_left(sys, 0);
	return worst;
}

/* One worker: the victim must get the worker after a bounded number of
 * flooder turns (the budget caps a turn; 100 turns is generous). */
static void
test_one_worker_backlog(void **unused)
{
	(void) unused;
	tu_reset_failures();
	unsigned budget = 10;
	tr_system *sys = tu_start(1, budget);
	assert_non_null(sys);
	unsigned long backlog = TU_PICK(100000, 50000, 20000);
	unsigned long worst = flood_rounds(sys, 50, backlog, 10000 * TU_SLOW,
	    false);
	assert_true(worst <= 100ul * budget);
	assert_true(worst < backlog);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Same with the default budget. */
static void
test_one_worker_default_budget(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	unsigned long backlog = TU_PICK(200000, 100000, 50000);
	unsigned long worst = flood_rounds(sys, 20, backlog, 10000 * TU_SLOW,
	    false);
	assert_true(worst <= 100ul * 100);
	assert_true(worst < backlog);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* One worker, a flooder and a ping-pong pair that always hands the worker
 * to the actor it just woke: the victim still runs. */
static void
test_one_worker_pingpong(void **unused)
{
	(void) unused;
	tu_reset_failures();
	unsigned budget = 10;
	tr_system *sys = tu_start(1, budget);
	assert_non_null(sys);
	flood_rounds(sys, 20, TU_PICK(20000, 10000, 5000), 5000 * TU_SLOW,
	    true);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Default workers: a time bound. */
static void
test_default_workers(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(0, 0);
	assert_non_null(sys);
	flood_rounds(sys, 50, TU_PICK(100000, 50000, 20000), 5000 * TU_SLOW,
	    false);
	flood_rounds(sys, 20, TU_PICK(20000, 10000, 5000), 5000 * TU_SLOW,
	    true);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Several flooders on one worker share it: none is starved either. */
typedef struct counter {
	atomic_ulong handled;
	atomic_int *stop;
} counter;

static int
counter_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) m;
	counter *c = state;
	atomic_fetch_add_explicit(&c->handled, 1, memory_order_relaxed);
	if (atomic_load_explicit(c->stop, memory_order_relaxed))
		return TR_STOP;
	TU_CHECK(tr_send(cx, tr_self(cx), T_FLOOD, NULL, 0) == 0);
	return TR_CONTINUE;
}

static void
test_flooders_share(void **unused)
{
	(void) unused;
	tu_reset_failures();
	enum { F = 4 };
	tr_system *sys = tu_start(1, 10);
	assert_non_null(sys);
	static counter c[F];
	static atomic_int stop;
	atomic_store(&stop, 0);
	tr_pid p[F];
	for (int i = 0; i < F; i++) {
		memset(&c[i], 0, sizeof c[i]);
		c[i].stop = &stop;
		assert_int_equal(tr_spawn(sys, &p[i], counter_fn, &c[i], NULL),
		    0);
		/* Unequal backlogs. */
		for (int k = 0; k < (i + 1) * 1000; k++)
			assert_int_equal(tr_system_send(sys, p[i], T_FLOOD,
			                     NULL, 0),
			    0);
	}
	/* Shares are measured from here on, once all are set up: the first
	 * ones spawned got a head start while the others were fed. */
	unsigned long base[F], now[F];
	for (int i = 0; i < F; i++)
		base[i] = atomic_load(&c[i].handled);
	unsigned long target = TU_PICK(200000, 100000, 40000);
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	for (;;) {
		unsigned long total = 0;
		for (int i = 0; i < F; i++) {
			now[i] = atomic_load(&c[i].handled);
			total += now[i] - base[i];
		}
		if (total >= target || !tu_poll(&d))
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < F; i++)
		tu_wait_exit(sys, p[i], TR_REASON_NORMAL);
	unsigned long lo = ~0ul, hi = 0;
	for (int i = 0; i < F; i++) {
		unsigned long h = now[i] - base[i];
		lo = h < lo ? h : lo;
		hi = h > hi ? h : hi;
	}
	printf(
	    "# %d flooders on one worker: handled between %lu and %lu each\n",
	    F, lo, hi);
	/* Round robin with a budget: shares within a small factor. */
	assert_true(lo * 4 >= hi);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_worker_backlog),
		cmocka_unit_test(test_one_worker_default_budget),
		cmocka_unit_test(test_one_worker_pingpong),
		cmocka_unit_test(test_flooders_share),
		cmocka_unit_test(test_default_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
