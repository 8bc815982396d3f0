/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * simple_one_for_one: dynamic children of one template, started with an
 * extra argument and restarted with the same one; terminated by pid (and
 * then forgotten); transient and temporary templates; ignore and failed
 * starts; the fixed-child requests refused; shutdown of many children at
 * once, bounded by one timeout rather than one per child.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

static tr_pid
start_dyn(tr_system *sys, tw *w, tr_restart rs, int64_t shutdown_ms,
    tsu_rec *rec)
{
	tr_child_spec spec = tw_spec(w, rs, shutdown_ms);
	tr_sup_flags f = tsu_flags(TR_SIMPLE_ONE_FOR_ONE, 100, 60000);
	tr_sup_opts o = tsu_opts(rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	/* No child starts with the supervisor. */
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 0);
	return sup;
}

static void
test_extra_and_restart(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw w = { .id = "worker" };
	tr_pid sup = start_dyn(sys, &w, TR_PERMANENT, 5000, &rec);
	enum { N = 8 };
	tr_pid kids[N];
	for (int i = 0; i < N; i++) {
		assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL,
		                     (void *) (intptr_t) (100 + i), &kids[i],
		                     TU_RECV_MS),
		    0);
		assert_false(tr_pid_is_nil(kids[i]));
		assert_int_equal(tsu_ping(sys, kids[i]), 100 + i);
	}
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), N);
	for (int i = 0; i < N; i++) {
		assert_string_equal(ci[i].id, "worker");
		assert_true(ci[i].running);
		assert_true(tr_pid_eq(ci[i].pid, kids[i]));
	}
	/* A crash: restarted with the same extra, in the same place. */
	assert_int_equal(tr_system_exit_pid(sys, kids[3], tr_reason("boom")),
	    0);
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		assert_int_equal(tsu_which(sys, sup, ci), N);
		if ((ci[3].running && !tr_pid_eq(ci[3].pid, kids[3])) ||
		    !tu_poll(&d))
			break;
	}
	assert_true(ci[3].running);
	assert_false(tr_pid_eq(ci[3].pid, kids[3]));
	assert_int_equal(tsu_ping(sys, ci[3].pid), 103);
	kids[3] = ci[3].pid;
	/* Terminate by pid: gone from the list, not restarted. */
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, NULL, kids[5],
	                     TU_RECV_MS),
	    0);
	assert_false(tr_is_alive(sys, kids[5]));
	assert_int_equal(tsu_which(sys, sup, ci), N - 1);
	for (size_t i = 0; i < N - 1; i++)
		assert_false(tr_pid_eq(ci[i].pid, kids[5]));
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, NULL, kids[5],
	                     TU_RECV_MS),
	    TR_ENOENT);
	/* Fixed-child requests do not apply. */
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, "worker",
	                     TR_PID_NIL, TU_RECV_MS),
	    TR_ENOENT);
	assert_int_equal(tr_sup_restart_child(sys, NULL, sup, "worker", NULL,
	                     TU_RECV_MS),
	    TR_EINVAL);
	assert_int_equal(tr_sup_delete_child(sys, NULL, sup, "worker",
	                     TU_RECV_MS),
	    TR_EINVAL);
	tr_child_spec other = tw_spec(&w, TR_PERMANENT, 10);
	other.id = "other";
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, &other, NULL, NULL,
	                     TU_RECV_MS),
	    TR_EINVAL);
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.specs, N - 1);
	assert_int_equal(c.active, N - 1);
	assert_int_equal(c.workers, N - 1);
	assert_int_equal(c.restarts, 1);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	for (int i = 0; i < N; i++)
		assert_false(tr_is_alive(sys, kids[i]));
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* Transient: a normal exit forgets it, a crash restarts it.  Temporary:
 * any exit forgets it. */
static void
test_transient_temporary(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw w = { .id = "t" };
	tr_pid sup = start_dyn(sys, &w, TR_TRANSIENT, 5000, &rec);
	tr_pid a, b;
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, (void *) 1,
	                     &a, TU_RECV_MS),
	    0);
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, (void *) 2,
	                     &b, TU_RECV_MS),
	    0);
	assert_int_equal(tr_system_send(sys, a, W_NORMAL, NULL, 0), 0);
	tr_child_info ci[TSU_MAXC];
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	while (tsu_which(sys, sup, ci) != 1 && tu_poll(&d)) {
	}
	assert_int_equal(tsu_which(sys, sup, ci), 1);
	assert_true(tr_pid_eq(ci[0].pid, b));
	assert_int_equal(tr_system_send(sys, b, W_CRASH, NULL, 0), 0);
	d = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		size_t n = tsu_which(sys, sup, ci);
		if ((n == 1 && ci[0].running && !tr_pid_eq(ci[0].pid, b)) ||
		    !tu_poll(&d))
			break;
	}
	assert_true(ci[0].running);
	assert_int_equal(tsu_ping(sys, ci[0].pid), 2);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);

	static tw t = { .id = "tmp" };
	sup = start_dyn(sys, &t, TR_TEMPORARY, 5000, &rec);
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, (void *) 3,
	                     &a, TU_RECV_MS),
	    0);
	assert_int_equal(tr_system_send(sys, a, W_CRASH, NULL, 0), 0);
	d = tu_deadline_ms(10000 * TU_SLOW);
	while (tsu_which(sys, sup, ci) != 0 && tu_poll(&d)) {
	}
	assert_int_equal(tsu_which(sys, sup, ci), 0);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* ignore: 0 and a nil pid, nothing listed; a failed start: its error. */
static void
test_ignore_and_failure(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw w;
	memset(&w, 0, sizeof w);
	w.id = "w";
	tr_pid sup = start_dyn(sys, &w, TR_PERMANENT, 5000, &rec);
	atomic_store(&w.start_rv, TR_CHILD_IGNORE);
	tr_pid p = { 1, 2, 3 };
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, NULL, &p,
	                     TU_RECV_MS),
	    0);
	assert_true(tr_pid_is_nil(p));
	atomic_store(&w.start_rv, TR_ELIMIT);
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, NULL, &p,
	                     TU_RECV_MS),
	    TR_ELIMIT);
	assert_true(tr_pid_is_nil(p));
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_START_FAILED), 1);
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 0);
	atomic_store(&w.start_rv, 0);
	assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, NULL, &p,
	                     TU_RECV_MS),
	    0);
	assert_int_equal(tsu_which(sys, sup, ci), 1);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/*
 * Many children that ignore shutdown: they are all told at once and
 * killed together when the one timeout ends (OTP does the same), so the
 * stop takes about one timeout, not one per child.
 */
static void
test_parallel_shutdown(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw w = { .id = "stub", .ignore_shutdown = true };
	enum { N = 40 };
	const int64_t tmo = 250;
	tr_pid sup = start_dyn(sys, &w, TR_PERMANENT, tmo, &rec);
	tr_pid kids[N];
	for (int i = 0; i < N; i++)
		assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL, NULL,
		                     &kids[i], TU_RECV_MS),
		    0);
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, 60000 * TU_SLOW), 0);
	double ms = tu_ms_since(t0);
	printf("# %d children stopped in %.1f ms (timeout %lld ms each)\n", N,
	    ms, (long long) tmo);
	assert_true(ms >= (double) tmo - 2);
	/* One at a time would take N * tmo = 10 s. */
	assert_true(ms < (double) (N * tmo) / 2);
	for (int i = 0; i < N; i++)
		assert_false(tr_is_alive(sys, kids[i]));
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* brutal_kill and a clean shutdown of many dynamic children; the exits
 * of dead children met during the shutdown do not confuse it. */
static void
test_many_children(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	const int n = TU_PICK(2000, 1000, 300);
	for (int brutal = 0; brutal < 2; brutal++) {
		static tw w = { .id = "many", .trap = true };
		tr_pid sup = start_dyn(sys, &w, TR_PERMANENT,
		    brutal ? TR_SHUTDOWN_BRUTAL_KILL : 5000, &rec);
		tr_pid last = TR_PID_NIL;
		for (int i = 0; i < n; i++)
			assert_int_equal(tr_sup_start_child(sys, NULL, sup,
			                     NULL, (void *) (intptr_t) i, &last,
			                     TU_RECV_MS),
			    0);
		tr_sup_counts c;
		assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c,
		                     TU_RECV_MS),
		    0);
		assert_int_equal(c.active, n);
		assert_int_equal(tsu_ping(sys, last), n - 1);
		/* Crash a few; they come back. */
		for (int i = 0; i < 5; i++)
			assert_int_equal(tr_system_send(sys, last, W_CRASH,
			                     NULL, 0),
			    0);
		tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
		for (;;) {
			assert_int_equal(tr_sup_count_children(sys, NULL, sup,
			                     &c, TU_RECV_MS),
			    0);
			if ((c.restarts == 1 && c.active == (size_t) n) ||
			    !tu_poll(&d))
				break;
		}
		assert_int_equal(c.restarts, 1);
		assert_int_equal(c.active, n);
		assert_int_equal(tr_sup_stop(sys, NULL, sup, 60000 * TU_SLOW),
		    0);
		tu_assert_left(sys, 0);
	}
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/*
 * Backoff with dynamic children: each waits on its own, shows as not
 * running meanwhile, and comes back with its own extra; stopping the
 * supervisor cancels the restarts still waiting.
 */
static void
test_backoff_dynamic(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tw w = { .id = "bw" };
	tr_child_spec spec = tw_spec(&w, TR_PERMANENT, 5000);
	tr_sup_flags f = tsu_flags(TR_SIMPLE_ONE_FOR_ONE, 1000, 60000);
	const unsigned b = 80 * TU_SLOW;
	f.backoff_min_ms = b;
	f.backoff_max_ms = 4 * b;
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, NULL), 0);
	enum { N = 20 };
	tr_pid kids[N];
	for (int i = 0; i < N; i++)
		assert_int_equal(tr_sup_start_child(sys, NULL, sup, NULL,
		                     (void *) (intptr_t) i, &kids[i],
		                     TU_RECV_MS),
		    0);
	for (int i = 0; i < N; i++)
		assert_int_equal(tr_system_send(sys, kids[i], W_CRASH, NULL, 0),
		    0);
	/* At some point, some are waiting (not running, nil pid). */
	tr_child_info ci[TSU_MAXC];
	bool waiting = false;
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		size_t n = tsu_which(sys, sup, ci);
		assert_int_equal(n, N);
		for (size_t i = 0; i < n; i++)
			if (!ci[i].running) {
				assert_true(tr_pid_is_nil(ci[i].pid));
				waiting = true;
			}
		if (waiting || !tu_poll(&d))
			break;
	}
	assert_true(waiting);
	tsu_wait_running(sys, sup, N);
	assert_int_equal(tsu_which(sys, sup, ci), N);
	for (int i = 0; i < N; i++) {
		assert_false(tr_pid_eq(ci[i].pid, kids[i]));
		assert_int_equal(tsu_ping(sys, ci[i].pid), i);
		kids[i] = ci[i].pid;
	}
	/* Crash them again and stop while their restarts wait (2b). */
	for (int i = 0; i < N; i++)
		assert_int_equal(tr_system_send(sys, kids[i], W_CRASH, NULL, 0),
		    0);
	d = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		tr_sup_counts c;
		assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c,
		                     TU_RECV_MS),
		    0);
		if (c.restarts == 2 * N || !tu_poll(&d))
			break;
	}
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	for (int i = 0; i < N; i++)
		assert_false(tr_is_alive(sys, kids[i]));
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extra_and_restart),
		cmocka_unit_test(test_transient_temporary),
		cmocka_unit_test(test_ignore_and_failure),
		cmocka_unit_test(test_parallel_shutdown),
		cmocka_unit_test(test_many_children),
		cmocka_unit_test(test_backoff_dynamic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
