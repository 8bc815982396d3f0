/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Servers as supervisor children (TR_SERVER_CHILD), on an event-actor
 * server and on a process server: a crash restarts the server with a
 * fresh copy of its state, reachable by name as soon as the supervisor
 * has restarted it (no polling); a supervisor shutdown calls terminate
 * (reason shutdown) on a server that traps exits, and only cleanup on one
 * that does not.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_server_util.h"

/* quiet drops the supervisor's reports (the crashes are on purpose). */
static void
quiet(void *arg, const tr_sup_event *ev)
{
	(void) arg;
	(void) ev;
}

static void
test_restart_by_name(void **state)
{
	const tr_server_def *def = *state;
	for (int trap = 0; trap <= 1; trap++) {
		tsv_reset();
		tr_system *sys = tu_start(2, 0);
		assert_non_null(sys);
		ts_state st0 = { .total = 100, .trap = trap != 0 };
		tr_child_spec kids[] = {
			TR_SERVER_CHILD("ts", def, &st0, "ts"),
		};
		tr_sup_flags fl = TR_SUP_FLAGS_INIT;
		fl.intensity = 5;
		tr_pid sup;
		assert_int_equal(tr_sup_start(sys, NULL, &sup, &fl, kids, 1,
		                     &(tr_sup_opts){ .report = quiet }),
		    0);
		tr_pid first;
		assert_int_equal(tr_whereis(sys, "ts", &first), 0);

		tr_msg *r = NULL;
		assert_int_equal(tr_system_server_call(sys, "ts", T_ADD,
		                     TU_RECV_MS, &r, "i", 5),
		    0);
		tr_msg_free(r);
		assert_int_equal(tsv_get_total(sys, tr_to_name("ts")), 105);
		/* Crash it on purpose: the caller learns why at once. */
		assert_int_equal(tr_system_server_call(sys, "ts", T_CRASH,
		                     TU_RECV_MS, &r, ""),
		    TR_EDOWN);
		tr_msg_free(r);
		/* The supervisor had the EXIT before this request (the link
		 * fires before the caller's monitor): when it answers, the
		 * server has been restarted, named, init run. */
		tr_sup_counts c;
		assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c,
		                     TU_RECV_MS),
		    0);
		assert_int_equal(c.restarts, 1);
		assert_int_equal(c.active, 1);
		tr_pid second;
		assert_int_equal(tr_whereis(sys, "ts", &second), 0);
		assert_false(tr_pid_eq(first, second));
		/* A fresh copy of the initial state. */
		assert_int_equal(tsv_get_total(sys, tr_to_name("ts")), 100);
		assert_int_equal(atomic_load(&tsv_inits), 2);
		assert_int_equal(atomic_load(&tsv_terms), 1); /* the crash */

		/* Shutdown: terminate(shutdown) only if it traps exits. */
		assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
		assert_int_equal(atomic_load(&tsv_terms), 1 + trap);
		if (trap)
			assert_int_equal(atomic_load(&tsv_term_kind),
			    TR_REASON_SHUTDOWN);
		TU_WAIT_EQ(atomic_load(&tsv_cleanups), 2);
		assert_int_equal(tr_whereis(sys, "ts", &second), TR_ENOENT);
		tu_stop(sys);
	}
}

/* A name taken makes the child's start fail: the supervisor's start
 * returns TR_EEXIST. */
static void
test_child_name_taken(void **state)
{
	const tr_server_def *def = *state;
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid holder;
	assert_int_equal(tr_system_server_start(sys, &holder, def, NULL, "ts"),
	    0);
	tr_child_spec kids[] = { TR_SERVER_CHILD("ts", def, NULL, "ts") };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, kids, 1,
	                     &(tr_sup_opts){ .report = quiet }),
	    TR_EEXIST);
	assert_int_equal(tr_system_server_stop(sys, holder, TR_SHUTDOWN,
	                     TU_RECV_MS),
	    0);
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_restart_by_name,
		    (void *) &tsv_event),
		cmocka_unit_test_prestate(test_restart_by_name,
		    (void *) &tsv_proc),
		cmocka_unit_test_prestate(test_child_name_taken,
		    (void *) &tsv_event),
		cmocka_unit_test_prestate(test_child_name_taken,
		    (void *) &tsv_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
