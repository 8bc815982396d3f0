/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * tr_system_idle does not wait for pending timers; tr_system_idle_flags
 * with TR_IDLE_TIMERS does: timers of actors (a chain of ticks), of a
 * process (tr_sleep, a receive timeout) and of plain threads have all
 * fired and their messages were handled when it returns; a cancelled
 * timer no longer holds it; a far timer makes it time out.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_TICK = 1, T_CHAIN };

enum { CHAIN = 5 };

static atomic_long ticks, chained, slept;

static int
ticker_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) == T_TICK) {
		atomic_fetch_add(&ticks, 1);
	} else if (atomic_fetch_add(&chained, 1) + 1 < CHAIN) {
		/* The next link: a timer filed on this worker. */
		TU_CHECK(tr_send_after(cx, tr_self(cx), 5, T_CHAIN, NULL, 0,
		             NULL) == 0);
	}
	return TR_CONTINUE;
}

static void
sleeper_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_sleep(cx, 20);
	TU_CHECK(tr_receive(cx, 15) == NULL); /* a receive timeout */
	atomic_fetch_add(&slept, 1);
}

static tr_system *
start(void)
{
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	atomic_store(&ticks, 0);
	atomic_store(&chained, 0);
	atomic_store(&slept, 0);
	return sys;
}

/* Plain idleness returns with a timer pending; TR_IDLE_TIMERS does not
 * until the timer is cancelled. */
static void
test_idle_ignores_timers(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = start();
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, ticker_fn, NULL, NULL), 0);
	tr_timer t;
	assert_int_equal(tr_system_send_after(sys, p, 3600 * 1000, T_TICK, NULL,
	                     0, &t),
	    0);
	assert_int_equal(tr_system_idle(sys, 30000 * TU_SLOW), 0);
	assert_int_equal(tr_system_idle_flags(sys, 30000 * TU_SLOW, 0), 0);
	assert_int_equal(atomic_load(&ticks), 0);
	assert_int_equal(tr_system_idle_flags(sys, 50, TR_IDLE_TIMERS),
	    TR_ETIMEDOUT);
	assert_int_equal(tr_system_idle_flags(sys, 0, TR_IDLE_TIMERS),
	    TR_ETIMEDOUT);
	/* A timer started from an actor, on its worker, holds it too. */
	assert_int_equal(tr_system_send(sys, p, T_CHAIN, NULL, 0), 0);
	assert_int_equal(tr_cancel_timer(sys, t), 0);
	assert_int_equal(tr_system_idle_flags(sys, 30000 * TU_SLOW,
	                     TR_IDLE_TIMERS),
	    0);
	assert_int_equal(atomic_load(&ticks), 0);
	assert_int_equal(atomic_load(&chained), CHAIN);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_assert_no_failures();
}

/* Every kind of timer has fired and been handled when it returns. */
static void
test_idle_waits_for_timers(void **unused)
{
	(void) unused;
	tu_reset_failures();
	for (int round = 0; round < TU_PICK(20, 10, 5); round++) {
		tr_system *sys = start();
		tr_pid p, q;
		assert_int_equal(tr_spawn(sys, &p, ticker_fn, NULL, NULL), 0);
		assert_int_equal(tr_spawn_process(sys, &q, sleeper_proc, NULL,
		                     NULL),
		    0);
		assert_int_equal(tr_system_send_after(sys, p, 10 + round,
		                     T_TICK, NULL, 0, NULL),
		    0);
		assert_int_equal(tr_system_send(sys, p, T_CHAIN, NULL, 0), 0);
		assert_int_equal(tr_system_idle_flags(sys, 30000 * TU_SLOW,
		                     TR_IDLE_TIMERS),
		    0);
		assert_int_equal(atomic_load(&ticks), 1);
		assert_int_equal(atomic_load(&chained), CHAIN);
		assert_int_equal(atomic_load(&slept), 1);
		tu_assert_left(sys, 1);
		assert_int_equal(tr_system_stop(sys), 0);
	}
	tu_assert_no_failures();
}

static void
test_idle_flags_errors(void **unused)
{
	(void) unused;
	tr_system *sys = start();
	assert_int_equal(tr_system_idle_flags(NULL, 0, 0), TR_EINVAL);
	assert_int_equal(tr_system_idle_flags(sys, 0, 2), TR_EINVAL);
	assert_int_equal(tr_system_idle_flags(sys, 0, ~0u), TR_EINVAL);
	assert_int_equal(tr_system_idle_flags(sys, 30000 * TU_SLOW,
	                     TR_IDLE_TIMERS),
	    0);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_ignores_timers),
		cmocka_unit_test(test_idle_waits_for_timers),
		cmocka_unit_test(test_idle_flags_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
