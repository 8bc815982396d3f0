/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Shutdown: reverse start order; a child that ignores shutdown is killed
 * after its timeout; brutal_kill kills at once; a supervisor child with
 * infinity is waited for while it shuts its own children down; the
 * supervisor's own shutdown cascades, whether it comes from tr_sup_stop,
 * from its parent's exit or from a plain thread's exit signal; a killed
 * supervisor takes its children with it.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

static void
test_reverse_order(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw b = { .id = "b", .trap = true };
	static tw c = { .id = "c", .trap = true };
	static tw d = { .id = "d", .trap = true };
	tr_child_spec specs[4] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_TRANSIENT, 5000),
		tw_spec(&c, TR_TEMPORARY, 5000),
		tw_spec(&d, TR_PERMANENT, TR_SHUTDOWN_INFINITY) };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 4, NULL),
	    0);
	TSU_EV_EQ("S:a S:b S:c S:d");
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 4);
	tsu_ev_reset();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	/* tr_sup_stop returns once the supervisor is gone: its children
	 * were shut down, in reverse order, before it. */
	TSU_EV_EQ("T:d T:c T:b T:a");
	assert_false(tr_is_alive(sys, sup));
	for (int i = 0; i < 4; i++)
		assert_false(tr_is_alive(sys, ci[i].pid));
	/* Gone: a second stop, or any request, finds nobody. */
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), TR_ENOPROC);
	tr_sup_counts cnt;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &cnt,
	                     TU_RECV_MS),
	    TR_ENOPROC);
	tu_stop(sys);
}

/* A child that traps exits and ignores shutdown is killed after its
 * shutdown timeout; the supervisor waits for it. */
static void
test_timeout_then_kill(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw stub = { .id = "stub",
		.ignore_shutdown = true,
		.wait = true };
	const int64_t tmo = 200;
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&stub, TR_PERMANENT, tmo) };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 2, NULL),
	    0);
	tr_pid ps = tsu_pid_of(sys, sup, "stub");
	tsu_ev_reset();
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, 60000 * TU_SLOW), 0);
	double ms = tu_ms_since(t0);
	printf("# stop took %.1f ms (timeout %lld ms)\n", ms, (long long) tmo);
	/* Timers may fire up to 1 ms early. */
	assert_true(ms >= (double) tmo - 2);
	TSU_EV_EQ("I:stub T:a");
	tr_exit_info info = tu_wait_info(sys, ps);
	assert_int_equal(info.kind, TR_REASON_KILLED);
	tu_stop(sys);
}

/* A child that exits on shutdown does not make the supervisor wait for
 * the timeout. */
static void
test_timeout_not_waited(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true, .wait = true };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 3600 * 1000);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &spec, 1, NULL),
	    0);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	assert_int_equal(tr_sup_stop(sys, NULL, sup, 60000 * TU_SLOW), 0);
	tr_exit_info info = tu_wait_info(sys, pa);
	assert_int_equal(info.kind, TR_REASON_SHUTDOWN);
	tu_stop(sys);
}

/* brutal_kill: killed at once, even a child that would have trapped the
 * shutdown. */
static void
test_brutal_kill(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true, .wait = true };
	static tw b = { .id = "b", .ignore_shutdown = true, .wait = true };
	tr_child_spec specs[2] = {
		tw_spec(&a, TR_PERMANENT, TR_SHUTDOWN_BRUTAL_KILL),
		tw_spec(&b, TR_PERMANENT, TR_SHUTDOWN_BRUTAL_KILL),
	};
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 2, NULL),
	    0);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	tr_pid pb = tsu_pid_of(sys, sup, "b");
	tsu_ev_reset();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	TSU_EV_EQ(""); /* neither saw a shutdown */
	assert_int_equal(tu_wait_info(sys, pa).kind, TR_REASON_KILLED);
	assert_int_equal(tu_wait_info(sys, pb).kind, TR_REASON_KILLED);
	tu_stop(sys);
}

/*
 * A supervisor child with shutdown infinity: its parent waits while it
 * shuts down its own children, one of which it must kill after a timeout.
 */
static void
test_infinity_nested(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw x = { .id = "x", .trap = true };
	static tw y = { .id = "y", .ignore_shutdown = true, .wait = true };
	static tw z = { .id = "z", .trap = true };
	const int64_t tmo = 150;
	static tr_child_spec inner[2];
	inner[0] = tw_spec(&x, TR_PERMANENT, 5000);
	inner[1] = tw_spec(&y, TR_PERMANENT, tmo);
	static tr_sup_spec nested;
	nested.flags = (tr_sup_flags) TR_SUP_FLAGS_INIT;
	nested.children = inner;
	nested.n = 2;
	tr_child_spec top[2] = {
		{ "nested", tr_sup_child_start, &nested, TR_PERMANENT,
		    TR_SHUTDOWN_INFINITY, TR_SUPERVISOR },
		tw_spec(&z, TR_PERMANENT, 5000),
	};
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, top, 2, NULL), 0);
	TSU_EV_EQ("S:x S:y S:z");
	tr_pid pn = tsu_pid_of(sys, sup, "nested");
	tr_pid py = tsu_pid_of(sys, pn, "y");
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.supervisors, 1);
	assert_int_equal(c.workers, 1);
	assert_int_equal(c.active, 2);
	tsu_ev_reset();
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, 60000 * TU_SLOW), 0);
	assert_true(tu_ms_since(t0) >= (double) tmo - 2);
	/* z first (reverse), then the nested tree: y ignores, then x. */
	TSU_EV_EQ("T:z I:y T:x");
	assert_int_equal(tu_wait_info(sys, py).kind, TR_REASON_KILLED);
	assert_false(tr_is_alive(sys, pn));
	tu_stop(sys);
}

/* A supervisor started linked by a process goes down, children first,
 * when that process exits, with the process's reason. */
typedef struct parent_arg {
	tr_child_spec *specs;
	size_t n;
	tr_pid sup;
	atomic_int ready;
} parent_arg;

static void
parent_main(tr_ctx *cx, void *arg)
{
	parent_arg *pa = arg;
	tr_sup_opts o = { .flags = TR_SPAWN_LINK };
	tr_pid sup;
	int rv = tr_sup_start(NULL, cx, &sup, NULL, pa->specs, pa->n, &o);
	TU_CHECK_EQ(rv, 0);
	pa->sup = sup;
	atomic_store(&pa->ready, 1);
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	tr_msg_free(m);
	(void) tr_exit(cx, tr_reason("parent gives up"));
}

static void
test_parent_exit_cascades(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	tu_reset_failures();
	static tw a = { .id = "a", .trap = true };
	static tw b = { .id = "b", .trap = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_PERMANENT, 5000) };
	static parent_arg pa;
	memset(&pa, 0, sizeof pa);
	pa.specs = specs;
	pa.n = 2;
	tr_pid pp = tu_spawn_proc(sys, parent_main, &pa, 0, NULL);
	TU_WAIT_EQ(atomic_load(&pa.ready), 1);
	tr_pid sup = pa.sup;
	TSU_EV_EQ("S:a S:b");
	tsu_ev_reset();
	assert_int_equal(tr_system_send(sys, pp, 1, NULL, 0), 0);
	tr_exit_info pinfo = tu_wait_info(sys, pp);
	assert_int_equal(pinfo.kind, TR_REASON_ERROR);
	tsu_wait_gone(sys, sup);
	TSU_EV_EQ("T:b T:a");
	tu_stop(sys);
}

/* A plain thread's exit signal (sender nil) shuts a supervisor down. */
static void
test_exit_signal_from_thread(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw b = { .id = "b", .trap = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_PERMANENT, 5000) };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 2, NULL),
	    0);
	tsu_ev_reset();
	assert_int_equal(tr_system_exit_pid(sys, sup, TR_SHUTDOWN), 0);
	tu_wait_exit(sys, sup, TR_REASON_SHUTDOWN);
	TSU_EV_WAIT("T:b T:a");
	tu_stop(sys);
}

/* Killing a supervisor ends its children through their links. */
static void
test_kill_supervisor(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .wait = true };
	static tw b = { .id = "b", .wait = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_PERMANENT, 5000) };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 2, NULL),
	    0);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	tr_pid pb = tsu_pid_of(sys, sup, "b");
	assert_int_equal(tr_system_exit_pid(sys, sup, TR_KILL), 0);
	assert_int_equal(tu_wait_info(sys, pa).kind, TR_REASON_KILLED);
	assert_int_equal(tu_wait_info(sys, pb).kind, TR_REASON_KILLED);
	tsu_wait_gone(sys, sup);
	tu_stop(sys);
}

/*
 * A three-level tree stops from the top: every supervisor shuts its
 * children down in reverse order before it goes.
 */
static void
test_tree_cascade(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw w1 = { .id = "w1", .trap = true };
	static tw w2 = { .id = "w2", .trap = true };
	static tw w3 = { .id = "w3", .trap = true };
	static tw w4 = { .id = "w4", .trap = true };
	static tr_child_spec leaf1[2], leaf2[2];
	leaf1[0] = tw_spec(&w1, TR_PERMANENT, 5000);
	leaf1[1] = tw_spec(&w2, TR_PERMANENT, 5000);
	leaf2[0] = tw_spec(&w3, TR_PERMANENT, 5000);
	leaf2[1] = tw_spec(&w4, TR_PERMANENT, 5000);
	static tr_sup_spec l1, l2, mid;
	l1 = (tr_sup_spec){ TR_SUP_FLAGS_INIT, leaf1, 2, { 0 } };
	l2 = (tr_sup_spec){ TR_SUP_FLAGS_INIT, leaf2, 2, { 0 } };
	static tr_child_spec mids[2] = {
		{ "l1", tr_sup_child_start, &l1, TR_PERMANENT,
		    TR_SHUTDOWN_INFINITY, TR_SUPERVISOR },
		{ "l2", tr_sup_child_start, &l2, TR_PERMANENT,
		    TR_SHUTDOWN_INFINITY, TR_SUPERVISOR },
	};
	mid = (tr_sup_spec){ TR_SUP_FLAGS_INIT, mids, 2, { 0 } };
	tr_child_spec top = { "mid", tr_sup_child_start, &mid, TR_PERMANENT,
		TR_SHUTDOWN_INFINITY, TR_SUPERVISOR };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &top, 1, NULL), 0);
	TSU_EV_EQ("S:w1 S:w2 S:w3 S:w4");
	tsu_ev_reset();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	TSU_EV_EQ("T:w4 T:w3 T:w2 T:w1");
	tu_stop(sys);
}

/* A process that started its supervisor linked may stop it and live on. */
static void
stopper_main(tr_ctx *cx, void *arg)
{
	tr_child_spec *spec = arg;
	tr_sup_opts o = { .flags = TR_SPAWN_LINK };
	tr_pid sup;
	TU_CHECK_EQ(tr_sup_start(NULL, cx, &sup, NULL, spec, 1, &o), 0);
	TU_CHECK_EQ(tr_sup_stop(NULL, cx, sup, TU_RECV_MS), 0);
	TU_CHECK(!tr_is_alive(tr_ctx_system(cx), sup));
	/* Still alive, and nothing is left in the mailbox. */
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
test_linked_parent_stops(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tu_reset_failures();
	static tw a = { .id = "a" };
	static tr_child_spec spec;
	spec = tw_spec(&a, TR_PERMANENT, 5000);
	tu_run_proc(sys, stopper_main, &spec);
	tu_stop(sys);
}

/*
 * tr_system_stop with supervision trees alive and requests in flight: a
 * nested tree, a simple_one_for_one supervisor whose children a process
 * keeps adding (through a slow start function), a restart waiting for its
 * backoff, a supervisor waiting for a child that ignores shutdown while a
 * plain thread waits for its answer.  Everything is freed (ASan's leak
 * check at exit) and the waiting thread is answered.
 */
static bool
nothing(const tr_msg *m, void *arg)
{
	(void) m;
	(void) arg;
	return false;
}

static int
slow_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	/* A start that takes a while: a receive that matches nothing. */
	(void) tr_receive_match(cx, nothing, NULL, 2);
	return tw_start(cx, arg, extra, pid);
}

typedef struct adder {
	tr_pid sup;
	atomic_int added;
} adder;

static void
adder_main(tr_ctx *cx, void *arg)
{
	adder *ad = arg;
	for (int i = 0; i < 1000000; i++) {
		if (tr_sup_start_child(NULL, cx, ad->sup, NULL,
		        (void *) (intptr_t) i, NULL, TU_RECV_MS) != 0)
			break;
		atomic_fetch_add(&ad->added, 1);
	}
}

typedef struct waiter {
	tr_system *sys;
	tr_pid sup;
	atomic_int rv;
} waiter;

static void *
terminate_thread(void *arg)
{
	waiter *wt = arg;
	atomic_store(&wt->rv,
	    tr_sup_terminate_child(wt->sys, NULL, wt->sup, "stub", TR_PID_NIL,
	        TR_INFINITY));
	return NULL;
}

static void
test_system_stop_midway(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	/* A nested tree. */
	static tw x = { .id = "x", .trap = true };
	static tw y = { .id = "y" };
	static tr_child_spec inner[2];
	inner[0] = tw_spec(&x, TR_PERMANENT, 5000);
	inner[1] = tw_spec(&y, TR_TRANSIENT, TR_SHUTDOWN_BRUTAL_KILL);
	static tr_sup_spec nested;
	nested = (tr_sup_spec){ TR_SUP_FLAGS_INIT, inner, 2,
		{ "n1", 0, NULL, NULL } };
	tr_child_spec top = { "nested", tr_sup_child_start, &nested,
		TR_PERMANENT, TR_SHUTDOWN_INFINITY, TR_SUPERVISOR };
	tr_pid tree;
	assert_int_equal(tr_sup_start(sys, NULL, &tree, NULL, &top, 1, NULL),
	    0);
	/* Dynamic children added by a process, slowly. */
	static tw d = { .id = "dyn" };
	tr_child_spec dspec = { "dyn", slow_start, &d, TR_PERMANENT, 1000,
		TR_WORKER };
	tr_sup_flags df = tsu_flags(TR_SIMPLE_ONE_FOR_ONE, 10, 1000);
	static adder ad;
	memset(&ad, 0, sizeof ad);
	assert_int_equal(tr_sup_start(sys, NULL, &ad.sup, &df, &dspec, 1, NULL),
	    0);
	tr_spawn_opts po = { 0 };
	assert_int_equal(tr_spawn_process(sys, NULL, adder_main, &ad, &po), 0);
	/* A restart waiting for its backoff. */
	static tw b = { .id = "b" };
	tr_child_spec bspec = tw_spec(&b, TR_PERMANENT, 5000);
	tr_sup_flags bf = tsu_flags(TR_ONE_FOR_ONE, 10, 1000);
	bf.backoff_min_ms = 60000;
	bf.backoff_max_ms = 60000;
	tr_pid bsup;
	assert_int_equal(tr_sup_start(sys, NULL, &bsup, &bf, &bspec, 1, NULL),
	    0);
	tr_pid pb = tsu_pid_of(sys, bsup, "b");
	assert_int_equal(tr_system_send(sys, pb, W_CRASH, NULL, 0), 0);
	/* A supervisor busy with a child that ignores shutdown. */
	static tw stub = { .id = "stub", .ignore_shutdown = true };
	tr_child_spec sspec = tw_spec(&stub, TR_PERMANENT, 3600 * 1000);
	static waiter wt;
	memset(&wt, 0, sizeof wt);
	wt.sys = sys;
	atomic_store(&wt.rv, 1);
	assert_int_equal(tr_sup_start(sys, NULL, &wt.sup, NULL, &sspec, 1,
	                     NULL),
	    0);
	pthread_t t;
	tu_thread_start(&t, terminate_thread, &wt);
	TU_WAIT_EQ(atomic_load(&ad.added) >= 3, true);
	tu_deadline dl = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		char ev[TSU_EV_MAX];
		tsu_ev_get(ev, sizeof ev);
		if (strstr(ev, "I:stub") != NULL || !tu_poll(&dl))
			break;
	}
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, bsup, ci), 1);
	assert_false(ci[0].running);

	assert_int_equal(tr_system_stop(sys), 0);
	tu_thread_join(t);
	assert_int_equal(atomic_load(&wt.rv), TR_ESTOPPED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reverse_order),
		cmocka_unit_test(test_timeout_then_kill),
		cmocka_unit_test(test_timeout_not_waited),
		cmocka_unit_test(test_brutal_kill),
		cmocka_unit_test(test_infinity_nested),
		cmocka_unit_test(test_parent_exit_cascades),
		cmocka_unit_test(test_exit_signal_from_thread),
		cmocka_unit_test(test_kill_supervisor),
		cmocka_unit_test(test_tree_cascade),
		cmocka_unit_test(test_linked_parent_stops),
		cmocka_unit_test(test_system_stop_midway),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
