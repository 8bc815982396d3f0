/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Restarts in bulk, without leaks: one supervisor restarting a child
 * 100,000 times (fewer under TSan); a supervisor restarted over and over
 * by its parent (each time a new supervisor state, started and freed); many
 * dynamic children crashing at once.  Each ends with no actor and no
 * message block left, and ASan's leak check at exit.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

/* A child that crashes as soon as it starts while the budget lasts. */
typedef struct budget {
	atomic_long left;
} budget;

static void
crasher_main(tr_ctx *cx, void *arg)
{
	budget *b = arg;
	if (atomic_fetch_sub(&b->left, 1) > 0)
		(void) tr_exit(cx, tr_reason("crash at once"));
	for (;;)
		tr_msg_free(tr_receive(cx, TR_INFINITY));
}

static int
crasher_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) extra;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK };
	return tr_spawn_process(tr_ctx_system(cx), pid, crasher_main, arg, &o);
}

/* The same as an event actor: its init fails. */
static int
ecrasher_init(tr_ctx *cx, void *state)
{
	budget *b = state;
	if (atomic_fetch_sub(&b->left, 1) > 0)
		return tr_exit(cx, tr_reason("crash at once"));
	return TR_CONTINUE;
}

static int
ecrasher_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	(void) state;
	return TR_CONTINUE;
}

static int
ecrasher_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) extra;
	tr_spawn_opts o = { .init = ecrasher_init, .flags = TR_SPAWN_LINK };
	return tr_spawn(tr_ctx_system(cx), pid, ecrasher_fn, arg, &o);
}

/* Counts reports without printing them. */
typedef struct counter {
	atomic_long n[5];
} counter;

static void
count_fn(void *arg, const tr_sup_event *ev)
{
	counter *c = arg;
	atomic_fetch_add(&c->n[ev->kind], 1);
}

/* wait_restarts waits (bounded) until sup counts want restarts and has
 * active children running. */
static void
wait_restarts(tr_system *sys, tr_pid sup, uint64_t want, size_t active)
{
	tr_sup_counts c = { 0 };
	tu_deadline d = tu_deadline_ms(120000 * TU_SLOW);
	for (;;) {
		assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c,
		                     TU_RECV_MS),
		    0);
		if ((c.restarts >= want && c.active == active) || !tu_poll(&d))
			break;
	}
	assert_int_equal(c.restarts, want);
	assert_int_equal(c.active, active);
}

static void
many_restarts(tr_child_start_fn start, const char *what)
{
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	const long n = TU_PICK(100000, 100000, 5000);
	static budget b;
	atomic_store(&b.left, n);
	static counter cnt;
	memset(&cnt, 0, sizeof cnt);
	tr_child_spec spec = { "c", start, &b, TR_PERMANENT, 1000, TR_WORKER };
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, (unsigned) n * 10, 1000);
	tr_sup_opts o = { NULL, 0, count_fn, &cnt };
	tr_system_stats st0 = tu_stats(sys);
	uint64_t t0 = tu_now_ns();
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	wait_restarts(sys, sup, (uint64_t) n, 1);
	double ms = tu_ms_since(t0);
	printf("# %s: %ld restarts in %.0f ms: %.0f restarts/s\n", what, n, ms,
	    (double) n / (ms / 1000.0));
	assert_int_equal(atomic_load(&cnt.n[TR_SUP_CHILD_RESTARTED]), n);
	assert_int_equal(atomic_load(&cnt.n[TR_SUP_CHILD_EXITED]), n);
	assert_int_equal(atomic_load(&cnt.n[TR_SUP_GIVE_UP]), 0);
	tr_system_stats st = tu_stats(sys);
	assert_true(st.actors_spawned - st0.actors_spawned >= (uint64_t) n);
	/* The supervisor, its child and nothing else. */
	tu_assert_left(sys, 2);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

static void
test_restarts_process(void **unused)
{
	(void) unused;
	many_restarts(crasher_start, "process child");
}

static void
test_restarts_event_actor(void **unused)
{
	(void) unused;
	many_restarts(ecrasher_start, "event actor child");
}

/*
 * A supervisor that gives up at its worker's first crash, under a parent
 * that restarts it each time: every cycle starts and ends a supervisor.
 */
static void
test_nested_churn(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	const long n = TU_PICK(5000, 2000, 300);
	static budget b;
	atomic_store(&b.left, n);
	static counter cnt;
	memset(&cnt, 0, sizeof cnt);
	static tr_child_spec wspec = { "w", crasher_start, &b, TR_PERMANENT,
		1000, TR_WORKER };
	static tr_sup_spec leaf;
	leaf = (tr_sup_spec){ tsu_flags(TR_ONE_FOR_ONE, 0, 1000), &wspec, 1,
		{ "churn_leaf", 0, count_fn, &cnt } };
	tr_child_spec lspec = { "leaf", tr_sup_child_start, &leaf, TR_PERMANENT,
		TR_SHUTDOWN_INFINITY, TR_SUPERVISOR };
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, (unsigned) n * 10, 1000);
	tr_sup_opts o = { NULL, 0, count_fn, &cnt };
	uint64_t t0 = tu_now_ns();
	tr_pid top;
	assert_int_equal(tr_sup_start(sys, NULL, &top, &f, &lspec, 1, &o), 0);
	wait_restarts(sys, top, (uint64_t) n, 1);
	double ms = tu_ms_since(t0);
	printf("# %ld supervisor restarts in %.0f ms\n", n, ms);
	assert_int_equal(atomic_load(&cnt.n[TR_SUP_GIVE_UP]), n);
	assert_int_equal(atomic_load(&cnt.n[TR_SUP_ESCALATED]), n);
	tr_pid leafp;
	assert_int_equal(tr_whereis(sys, "churn_leaf", &leafp), 0);
	tsu_wait_running(sys, leafp, 1);
	tu_assert_left(sys, 3);
	assert_int_equal(tr_sup_stop(sys, NULL, top, TU_RECV_MS), 0);
	tu_stop(sys);
}

/* Many dynamic children crashing at once, sharing one budget. */
static void
test_dynamic_churn(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	const long n = TU_PICK(50000, 20000, 2000);
	const int kids = TU_PICK(200, 200, 50);
	static budget b;
	atomic_store(&b.left, n);
	static counter cnt;
	memset(&cnt, 0, sizeof cnt);
	tr_child_spec spec = { "dyn", crasher_start, &b, TR_PERMANENT, 1000,
		TR_WORKER };
	tr_sup_flags f = tsu_flags(TR_SIMPLE_ONE_FOR_ONE, (unsigned) n * 10,
	    1000);
	tr_sup_opts o = { NULL, 0, count_fn, &cnt };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	for (int i = 0; i < kids; i++)
		assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, NULL,
		                     NULL, TU_RECV_MS),
		    0);
	wait_restarts(sys, sup, (uint64_t) n, (size_t) kids);
	tu_assert_left(sys, 1 + (uint64_t) kids);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restarts_process),
		cmocka_unit_test(test_restarts_event_actor),
		cmocka_unit_test(test_nested_churn),
		cmocka_unit_test(test_dynamic_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
