/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Restart strategies (one_for_one, one_for_all, rest_for_one) crossed with
 * restart types (permanent, transient after an abnormal and after a normal
 * exit, temporary): which children are restarted, in what order the others
 * are shut down and started again, which get new pids, and what
 * which_children and count_children show afterwards.
 * (simple_one_for_one is in test_supervisor_dynamic.c.)
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

/* How the victim ends. */
typedef enum how { CRASH, NORMAL, SHUTDOWN } how;

typedef struct cell {
	tr_strategy st;
	tr_restart rs; /* the victim's restart type */
	how end;
	/* Expected: the events after the victim ended, and whether each of
	 * x, v, z has a new pid (-1: v is gone from the list). */
	const char *events;
	int x_new, v_new, z_new;
} cell;

/*
 * Three trapping children x (permanent), v (the victim), z (permanent);
 * v ends as the cell says.  A child the supervisor shuts down logs T:id,
 * a start logs S:id.
 */
static void
run_cell(const cell *cl)
{
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw x = { .id = "x", .trap = true };
	static tw v = { .id = "v", .trap = true };
	static tw z = { .id = "z", .trap = true };
	tr_child_spec specs[3] = { tw_spec(&x, TR_PERMANENT, 5000),
		tw_spec(&v, cl->rs, 5000), tw_spec(&z, TR_PERMANENT, 5000) };
	tsu_rec rec;
	tsu_rec_init(&rec);
	tr_sup_flags f = tsu_flags(cl->st, 10, 60000);
	tr_sup_opts o = tsu_opts(&rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, specs, 3, &o), 0);
	/* Ordered start: all three are up when tr_sup_start returns. */
	TSU_EV_EQ("S:x S:v S:z");
	tr_pid px = tsu_pid_of(sys, sup, "x");
	tr_pid pv = tsu_pid_of(sys, sup, "v");
	tr_pid pz = tsu_pid_of(sys, sup, "z");
	tsu_ev_reset();

	uint32_t tag = cl->end == CRASH ? W_CRASH
	    : cl->end == NORMAL         ? W_NORMAL
	                                : W_SHUTDOWN;
	assert_int_equal(tr_system_send(sys, pv, tag, NULL, 0), 0);
	tsu_wait_gone(sys, pv);

	bool restarts = cl->v_new == 1;
	if (restarts) {
		tr_pid nv = tsu_wait_new(sys, sup, "v", pv);
		(void) nv;
		TSU_EV_WAIT(cl->events);
		tsu_wait_running(sys, sup, 3);
	} else {
		/* Nothing is restarted: wait until the supervisor has dealt
		 * with the exit (v not running, or gone), then look. */
		tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
		for (;;) {
			tr_child_info ci[TSU_MAXC];
			size_t k = tsu_which(sys, sup, ci);
			bool done = k == 2 || (k == 3 && !ci[1].running);
			if (done || !tu_poll(&d))
				break;
		}
		TSU_EV_EQ(cl->events);
	}
	tr_child_info ci[TSU_MAXC];
	size_t k = tsu_which(sys, sup, ci);
	if (cl->v_new < 0) {
		/* A temporary child is forgotten. */
		assert_int_equal(k, 2);
		assert_string_equal(ci[0].id, "x");
		assert_string_equal(ci[1].id, "z");
	} else {
		assert_int_equal(k, 3);
		assert_string_equal(ci[0].id, "x");
		assert_string_equal(ci[1].id, "v");
		assert_string_equal(ci[2].id, "z");
		assert_int_equal(ci[1].running, cl->v_new == 1);
		if (!ci[1].running)
			assert_true(tr_pid_is_nil(ci[1].pid));
		assert_int_equal(ci[1].restart, cl->rs);
	}
	tr_pid nx = tsu_pid_of(sys, sup, "x");
	tr_pid nz = tsu_pid_of(sys, sup, "z");
	assert_int_equal(!tr_pid_eq(nx, px), cl->x_new);
	assert_int_equal(!tr_pid_eq(nz, pz), cl->z_new);
	if (cl->x_new)
		assert_false(tr_is_alive(sys, px));
	if (cl->z_new)
		assert_false(tr_is_alive(sys, pz));

	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.restarts, restarts ? 1 : 0);
	assert_int_equal(c.specs, cl->v_new < 0 ? 2 : 3);
	assert_int_equal(c.active, cl->v_new == 0 ? 2 : c.specs);
	assert_int_equal(c.workers, c.specs);
	assert_int_equal(c.supervisors, 0);
	/* Reports: an abnormal exit, and each restart. */
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_CHILD_EXITED),
	    cl->end == CRASH ? 1 : 0);
	int started = cl->x_new + (cl->v_new == 1) + cl->z_new;
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_CHILD_RESTARTED), started);
	if (cl->end == CRASH) {
		int i = tsu_rec_find(&rec, TR_SUP_CHILD_EXITED, "", "v");
		assert_true(i >= 0);
		assert_int_equal(rec.reason[i].kind, TR_REASON_ERROR);
		assert_non_null(strstr(rec.reason[i].text, "crash"));
	}

	tsu_ev_reset();
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	/* Reverse order shutdown of whatever runs. */
	if (cl->v_new == 0 || cl->v_new < 0)
		TSU_EV_EQ("T:z T:x");
	else
		TSU_EV_EQ("T:z T:v T:x");
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* clang-format off */
static const cell cells[] = {
	/* one_for_one: only the victim, if its type says so. */
	{ TR_ONE_FOR_ONE, TR_PERMANENT, CRASH, "S:v", 0, 1, 0 },
	{ TR_ONE_FOR_ONE, TR_PERMANENT, NORMAL, "S:v", 0, 1, 0 },
	{ TR_ONE_FOR_ONE, TR_TRANSIENT, CRASH, "S:v", 0, 1, 0 },
	{ TR_ONE_FOR_ONE, TR_TRANSIENT, NORMAL, "", 0, 0, 0 },
	{ TR_ONE_FOR_ONE, TR_TRANSIENT, SHUTDOWN, "", 0, 0, 0 },
	{ TR_ONE_FOR_ONE, TR_TEMPORARY, CRASH, "", 0, -1, 0 },
	/* one_for_all: the others shut down in reverse, all started in
	 * order. */
	{ TR_ONE_FOR_ALL, TR_PERMANENT, CRASH, "T:z T:x S:x S:v S:z", 1, 1, 1 },
	{ TR_ONE_FOR_ALL, TR_PERMANENT, NORMAL, "T:z T:x S:x S:v S:z", 1, 1, 1 },
	{ TR_ONE_FOR_ALL, TR_TRANSIENT, CRASH, "T:z T:x S:x S:v S:z", 1, 1, 1 },
	{ TR_ONE_FOR_ALL, TR_TRANSIENT, NORMAL, "", 0, 0, 0 },
	{ TR_ONE_FOR_ALL, TR_TRANSIENT, SHUTDOWN, "", 0, 0, 0 },
	{ TR_ONE_FOR_ALL, TR_TEMPORARY, CRASH, "", 0, -1, 0 },
	/* rest_for_one: the victim and those started after it. */
	{ TR_REST_FOR_ONE, TR_PERMANENT, CRASH, "T:z S:v S:z", 0, 1, 1 },
	{ TR_REST_FOR_ONE, TR_PERMANENT, NORMAL, "T:z S:v S:z", 0, 1, 1 },
	{ TR_REST_FOR_ONE, TR_TRANSIENT, CRASH, "T:z S:v S:z", 0, 1, 1 },
	{ TR_REST_FOR_ONE, TR_TRANSIENT, NORMAL, "", 0, 0, 0 },
	{ TR_REST_FOR_ONE, TR_TRANSIENT, SHUTDOWN, "", 0, 0, 0 },
	{ TR_REST_FOR_ONE, TR_TEMPORARY, CRASH, "", 0, -1, 0 },
};
/* clang-format on */

static void
test_matrix(void **unused)
{
	(void) unused;
	for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
		printf("# strategy %d, restart %d, end %d\n", (int) cells[i].st,
		    (int) cells[i].rs, (int) cells[i].end);
		run_cell(&cells[i]);
	}
}

/*
 * A temporary sibling is not restarted with its group: one_for_all and
 * rest_for_one shut it down and forget it.
 */
static void
group_drops_temporary(tr_strategy st)
{
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw t = { .id = "t", .trap = true };
	static tw b = { .id = "b", .trap = true };
	tr_child_spec specs[3] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_PERMANENT, 5000),
		tw_spec(&t, TR_TEMPORARY, 5000) };
	tr_sup_flags f = tsu_flags(st, 10, 60000);
	tr_sup_opts o = { 0 };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, specs, 3, &o), 0);
	tr_pid pb = tsu_pid_of(sys, sup, "b");
	tsu_ev_reset();
	assert_int_equal(tr_system_exit_pid(sys, pb, tr_reason("boom")), 0);
	tr_pid nb = tsu_wait_new(sys, sup, "b", pb);
	assert_false(tr_pid_eq(nb, pb));
	tsu_wait_running(sys, sup, 2);
	if (st == TR_ONE_FOR_ALL)
		TSU_EV_WAIT("T:t T:a S:a S:b");
	else
		TSU_EV_WAIT("T:t S:b");
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 2);
	assert_string_equal(ci[0].id, "a");
	assert_string_equal(ci[1].id, "b");
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

static void
test_one_for_all_drops_temporary(void **unused)
{
	(void) unused;
	group_drops_temporary(TR_ONE_FOR_ALL);
}

static void
test_rest_for_one_drops_temporary(void **unused)
{
	(void) unused;
	group_drops_temporary(TR_REST_FOR_ONE);
}

/*
 * A group restart also starts a sibling that was stopped (terminated
 * through the API), as OTP does: the group is started as a whole.
 */
static void
test_one_for_all_restarts_stopped(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw b = { .id = "b", .trap = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_TRANSIENT, 5000) };
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ALL, 10, 60000);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, specs, 2, NULL), 0);
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, "b", TR_PID_NIL,
	                     TU_RECV_MS),
	    0);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	tsu_ev_reset();
	assert_int_equal(tr_system_send(sys, pa, W_CRASH, NULL, 0), 0);
	tsu_wait_new(sys, sup, "a", pa);
	tsu_wait_running(sys, sup, 2);
	TSU_EV_WAIT("S:a S:b");
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

/* Several crashes in a row: each one_for_one restart gives a new pid and
 * the count grows by one each time. */
static void
test_repeated_restarts(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tw a = { .id = "a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 100, 60000);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, NULL), 0);
	tr_pid seen[20];
	seen[0] = tsu_pid_of(sys, sup, "a");
	for (int i = 1; i < 20; i++) {
		assert_int_equal(tr_system_exit_pid(sys, seen[i - 1],
		                     tr_reason("again")),
		    0);
		seen[i] = tsu_wait_new(sys, sup, "a", seen[i - 1]);
		for (int j = 0; j < i; j++)
			assert_false(tr_pid_eq(seen[i], seen[j]));
	}
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.restarts, 19);
	assert_int_equal(c.active, 1);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_one_for_all_drops_temporary),
		cmocka_unit_test(test_rest_for_one_drops_temporary),
		cmocka_unit_test(test_one_for_all_restarts_stopped),
		cmocka_unit_test(test_repeated_restarts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
