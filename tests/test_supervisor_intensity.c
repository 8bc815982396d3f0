/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Restart intensity and escalation: at most R restarts in P ms, else the
 * supervisor shuts its children down and exits with reason shutdown, and
 * its parent decides (through a three-level tree the top's intensity
 * decides); the period; large intensities; failed restarts counted and
 * retried; exponential backoff between restarts.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

/* crash_n crashes child id of sup n times, waiting for each restart. */
static tr_pid
crash_n(tr_system *sys, tr_pid sup, const char *id, int n)
{
	tr_pid p = tsu_pid_of(sys, sup, id);
	for (int i = 0; i < n; i++) {
		assert_int_equal(tr_system_exit_pid(sys, p, tr_reason("boom")),
		    0);
		p = tsu_wait_new(sys, sup, id, p);
	}
	return p;
}

static void
intensity_exceeded(unsigned r)
{
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw a = { .id = "a" };
	static tw b = { .id = "b", .trap = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_PERMANENT, 5000) };
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, r, 60000);
	tr_sup_opts o = tsu_opts(&rec, "sup");
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, specs, 2, &o), 0);
	tr_pid pa = crash_n(sys, sup, "a", (int) r);
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.restarts, r);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 0);
	tsu_ev_reset();
	/* One more within the period: too many. */
	assert_int_equal(tr_system_exit_pid(sys, pa, tr_reason("last straw")),
	    0);
	tu_wait_exit(sys, sup, TR_REASON_SHUTDOWN);
	TSU_EV_EQ("T:b");
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 1);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_ESCALATED), 1);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_CHILD_EXITED), (int) r + 1);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_CHILD_RESTARTED), (int) r);
	int i = tsu_rec_find(&rec, TR_SUP_GIVE_UP, "sup", "a");
	assert_true(i >= 0);
	assert_non_null(strstr(rec.reason[i].text, "last straw"));
	assert_int_equal(rec.restarts[i], r);
	/* Escalation comes after the give-up, with the reason it exits with. */
	int j = tsu_rec_find(&rec, TR_SUP_ESCALATED, "sup", NULL);
	assert_true(j > i);
	assert_int_equal(rec.reason[j].kind, TR_REASON_SHUTDOWN);
	/* Its name is free again. */
	tr_pid none;
	assert_int_equal(tr_whereis(sys, "sup", &none), TR_ENOENT);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

static void
test_intensity_3(void **unused)
{
	(void) unused;
	intensity_exceeded(3);
}

static void
test_intensity_0(void **unused)
{
	(void) unused;
	intensity_exceeded(0);
}

/* Restarts older than the period do not count. */
static void
test_period(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw a = { .id = "a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	const unsigned period = 100;
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 1, period);
	tr_sup_opts o = tsu_opts(&rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	for (int i = 0; i < 3; i++) {
		crash_n(sys, sup, "a", 1);
		/* The restart was recorded before we saw it: once the period
		 * has passed, it no longer counts (a fixed wait, for time
		 * itself is the condition). */
		tu_sleep_ms(2 * period);
	}
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 0);
	assert_true(tr_is_alive(sys, sup));
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* A large intensity: the ring of restart times grows as needed. */
typedef struct budget {
	atomic_int left; /* crashes still to make */
} budget;

static void
crasher_main(tr_ctx *cx, void *arg)
{
	budget *b = arg;
	if (atomic_fetch_sub(&b->left, 1) > 0)
		(void) tr_exit(cx, tr_reason("crash at once"));
	tr_msg_free(tr_receive(cx, TR_INFINITY));
	(void) tr_exit(cx, tr_reason("told to"));
}

static int
crasher_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) extra;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK };
	return tr_spawn_process(tr_ctx_system(cx), pid, crasher_main, arg, &o);
}

static void
test_intensity_large(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	const int r = TU_PICK(5000, 2000, 500);
	static budget b;
	atomic_store(&b.left, r);
	tr_child_spec spec = { "c", crasher_start, &b, TR_PERMANENT, 1000,
		TR_WORKER };
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, (unsigned) r, 3600000);
	tr_sup_opts o = tsu_opts(&rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	/* r crashes, r restarts: all within the intensity. */
	tr_sup_counts c = { 0 };
	tu_deadline d = tu_deadline_ms(60000 * TU_SLOW);
	for (;;) {
		assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c,
		                     TU_RECV_MS),
		    0);
		if (c.restarts == (uint64_t) r && c.active == 1)
			break;
		if (!tu_poll(&d))
			break;
	}
	assert_int_equal(c.restarts, r);
	assert_int_equal(c.active, 1);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 0);
	/* The next one is one too many. */
	tr_pid p = tsu_pid_of(sys, sup, "c");
	assert_int_equal(tr_system_send(sys, p, 1, NULL, 0), 0);
	tu_wait_exit(sys, sup, TR_REASON_SHUTDOWN);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 1);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* A restart whose start fails is reported, counted and tried again. */
static void
test_failed_restart_gives_up(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw a;
	memset(&a, 0, sizeof a);
	a.id = "a";
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 3, 60000);
	tr_sup_opts o = tsu_opts(&rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	atomic_store(&a.start_rv, TR_EAGAIN);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	assert_int_equal(tr_system_exit_pid(sys, pa, tr_reason("boom")), 0);
	tu_wait_exit(sys, sup, TR_REASON_SHUTDOWN);
	/* Restart 1 fails, retries 2 and 3 fail, a 4th is too many. */
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_START_FAILED), 3);
	assert_int_equal(atomic_load(&a.starts), 4);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 1);
	int i = tsu_rec_find(&rec, TR_SUP_START_FAILED, "", "a");
	assert_true(i >= 0);
	assert_non_null(strstr(rec.reason[i].text, "TR_EAGAIN"));
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

static void
test_failed_restart_retried(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw a;
	memset(&a, 0, sizeof a);
	a.id = "a";
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 1000, 3600000);
	f.backoff_min_ms = 5;
	f.backoff_max_ms = 50;
	tr_sup_opts o = tsu_opts(&rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	atomic_store(&a.start_rv, TR_EAGAIN);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	assert_int_equal(tr_system_exit_pid(sys, pa, tr_reason("boom")), 0);
	TU_WAIT_EQ(tsu_rec_count(&rec, TR_SUP_START_FAILED) >= 2, true);
	/* Restarting: not running. */
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 1);
	assert_false(ci[0].running);
	atomic_store(&a.start_rv, 0);
	tsu_wait_running(sys, sup, 1);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 0);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_CHILD_RESTARTED), 1);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/*
 * Three levels, leaf -> mid -> top, each allowing one restart a minute.
 * Two crashes of the worker make the leaf give up; it exits with
 * shutdown and mid restarts it; two more make the new leaf give up again,
 * and mid, at its second restart, gives up too.  Then the top decides:
 * with intensity 0 it goes down as well; with room left it restarts mid,
 * and the whole tree is back with new pids.
 */
static void
escalate(unsigned top_intensity)
{
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw w = { .id = "w" };
	static tr_child_spec wspec;
	wspec = tw_spec(&w, TR_PERMANENT, 5000);
	static tr_sup_spec leaf, mid;
	leaf = (tr_sup_spec){ tsu_flags(TR_ONE_FOR_ONE, 1, 60000), &wspec, 1,
		tsu_opts(&rec, "leaf") };
	static tr_child_spec leafc = { "leaf", tr_sup_child_start, &leaf,
		TR_PERMANENT, TR_SHUTDOWN_INFINITY, TR_SUPERVISOR };
	mid = (tr_sup_spec){ tsu_flags(TR_ONE_FOR_ONE, 1, 60000), &leafc, 1,
		tsu_opts(&rec, "mid") };
	tr_child_spec midc = { "mid", tr_sup_child_start, &mid, TR_PERMANENT,
		TR_SHUTDOWN_INFINITY, TR_SUPERVISOR };
	tr_sup_flags tf = tsu_flags(TR_ONE_FOR_ONE, top_intensity, 60000);
	tr_sup_opts to = tsu_opts(&rec, "top");
	tr_pid top;
	assert_int_equal(tr_sup_start(sys, NULL, &top, &tf, &midc, 1, &to), 0);

	tr_pid pmid, pleaf;
	assert_int_equal(tr_whereis(sys, "mid", &pmid), 0);
	assert_int_equal(tr_whereis(sys, "leaf", &pleaf), 0);
	assert_true(tr_pid_eq(tsu_pid_of(sys, top, "mid"), pmid));
	assert_true(tr_pid_eq(tsu_pid_of(sys, pmid, "leaf"), pleaf));

	/* Round 1: the leaf gives up, mid restarts it. */
	tr_pid pw = crash_n(sys, pleaf, "w", 1);
	assert_int_equal(tr_system_exit_pid(sys, pw, tr_reason("boom")), 0);
	tu_wait_exit(sys, pleaf, TR_REASON_SHUTDOWN);
	tr_pid pleaf2 = tsu_wait_new(sys, pmid, "leaf", pleaf);
	tsu_wait_running(sys, pleaf2, 1);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 1);
	assert_true(tsu_rec_find(&rec, TR_SUP_GIVE_UP, "leaf", "w") >= 0);
	assert_true(tr_is_alive(sys, pmid));

	/* Round 2: the new leaf gives up, and so does mid. */
	pw = crash_n(sys, pleaf2, "w", 1);
	assert_int_equal(tr_system_exit_pid(sys, pw, tr_reason("boom")), 0);
	tu_wait_exit(sys, pmid, TR_REASON_SHUTDOWN);
	assert_true(tsu_rec_find(&rec, TR_SUP_GIVE_UP, "mid", "leaf") >= 0);
	if (top_intensity == 0) {
		tu_wait_exit(sys, top, TR_REASON_SHUTDOWN);
		assert_true(
		    tsu_rec_find(&rec, TR_SUP_GIVE_UP, "top", "mid") >= 0);
		assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 4);
		assert_int_equal(tsu_rec_count(&rec, TR_SUP_ESCALATED), 4);
	} else {
		tr_pid pmid2 = tsu_wait_new(sys, top, "mid", pmid);
		tsu_wait_running(sys, pmid2, 1);
		tr_pid pleaf3 = tsu_pid_of(sys, pmid2, "leaf");
		tsu_wait_running(sys, pleaf3, 1);
		tr_pid pw3 = tsu_pid_of(sys, pleaf3, "w");
		assert_false(tr_pid_eq(pleaf3, pleaf2));
		assert_false(tr_pid_eq(pw3, pw));
		assert_true(tr_is_alive(sys, top));
		assert_int_equal(tsu_rec_count(&rec, TR_SUP_GIVE_UP), 3);
		tr_sup_counts c;
		assert_int_equal(tr_sup_count_children(sys, NULL, top, &c,
		                     TU_RECV_MS),
		    0);
		assert_int_equal(c.restarts, 1);
		assert_int_equal(c.supervisors, 1);
		assert_int_equal(tr_sup_stop(sys, NULL, top, TU_RECV_MS), 0);
	}
	/* The leaf's two give-ups, in order, each followed by its exit. */
	int g1 = tsu_rec_find(&rec, TR_SUP_GIVE_UP, "leaf", "w");
	int e1 = tsu_rec_find(&rec, TR_SUP_ESCALATED, "leaf", NULL);
	assert_true(g1 >= 0 && e1 > g1);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

static void
test_escalation_top_gives_up(void **unused)
{
	(void) unused;
	escalate(0);
}

static void
test_escalation_top_restarts(void **unused)
{
	(void) unused;
	escalate(5);
}

/*
 * Backoff: the n-th consecutive restart waits min * 2^(n-1), at most max;
 * meanwhile the child shows as not running.  Terminating it during the
 * wait cancels the restart.
 */
static void
test_backoff(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw a = { .id = "a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	const unsigned b = 100 * TU_SLOW;
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 100, 3600000);
	f.backoff_min_ms = b;
	f.backoff_max_ms = 4 * b;
	tr_sup_opts o = tsu_opts(&rec, NULL);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	tr_pid p = tsu_pid_of(sys, sup, "a");
	const unsigned want[] = { b, 2 * b, 4 * b, 4 * b };
	for (int i = 0; i < 4; i++) {
		uint64_t t0 = tu_now_ns();
		assert_int_equal(tr_system_exit_pid(sys, p, tr_reason("boom")),
		    0);
		bool seen_down = false;
		tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
		tr_pid q;
		for (;;) {
			tr_child_info ci[TSU_MAXC];
			assert_int_equal(tsu_which(sys, sup, ci), 1);
			q = ci[0].pid;
			if (!ci[0].running) {
				assert_true(tr_pid_is_nil(q));
				seen_down = true;
			} else if (!tr_pid_eq(q, p)) {
				break;
			}
			if (!tu_poll(&d))
				break;
		}
		double ms = tu_ms_since(t0);
		printf("# restart %d after %.1f ms (backoff %u)\n", i + 1, ms,
		    want[i]);
		assert_false(tr_pid_eq(q, p));
		assert_true(seen_down);
		assert_true(ms >= (double) want[i] - 2);
		p = q;
	}
	/* Terminated while its restart waits: it stays down. */
	assert_int_equal(tr_system_exit_pid(sys, p, tr_reason("boom")), 0);
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		tr_child_info ci[TSU_MAXC];
		assert_int_equal(tsu_which(sys, sup, ci), 1);
		if (!ci[0].running || !tu_poll(&d))
			break;
	}
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, "a", TR_PID_NIL,
	                     TU_RECV_MS),
	    0);
	tu_sleep_ms(8 * b); /* longer than any backoff: nothing may start */
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 1);
	assert_false(ci[0].running);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_CHILD_RESTARTED), 4);
	tr_pid np;
	assert_int_equal(tr_sup_restart_child(sys, NULL, sup, "a", &np,
	                     TU_RECV_MS),
	    0);
	assert_false(tr_pid_is_nil(np));
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* Backoff in a group: one_for_all waits, then starts them all in order. */
static void
test_backoff_group(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw c = { .id = "c", .trap = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&c, TR_PERMANENT, 5000) };
	const unsigned b = 50 * TU_SLOW;
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ALL, 100, 3600000);
	f.backoff_min_ms = b;
	f.backoff_max_ms = b;
	f.backoff_jitter_pct = 20;
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, specs, 2, NULL), 0);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	tsu_ev_reset();
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_send(sys, pa, W_CRASH, NULL, 0), 0);
	tsu_wait_new(sys, sup, "a", pa);
	tsu_wait_running(sys, sup, 2);
	double ms = tu_ms_since(t0);
	assert_true(ms >= (double) b * 0.8 - 2);
	TSU_EV_EQ("T:c S:a S:c");
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

/*
 * A member of a group waiting for its backoff may be terminated: the rest
 * of the group still starts when the wait ends, and it stays stopped.
 */
static void
test_backoff_group_terminate(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw c = { .id = "c", .trap = true };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&c, TR_PERMANENT, 5000) };
	const unsigned b = 300 * TU_SLOW;
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ALL, 100, 3600000);
	f.backoff_min_ms = b;
	f.backoff_max_ms = b;
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, specs, 2, NULL), 0);
	tr_pid pa = tsu_pid_of(sys, sup, "a");
	tsu_ev_reset();
	assert_int_equal(tr_system_send(sys, pa, W_CRASH, NULL, 0), 0);
	/* Wait until both wait for the restart. */
	tr_child_info ci[TSU_MAXC];
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	for (;;) {
		assert_int_equal(tsu_which(sys, sup, ci), 2);
		if ((!ci[0].running && !ci[1].running) || !tu_poll(&d))
			break;
	}
	assert_false(ci[0].running);
	assert_false(ci[1].running);
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, "c", TR_PID_NIL,
	                     TU_RECV_MS),
	    0);
	tsu_wait_new(sys, sup, "a", pa);
	TSU_EV_WAIT("T:c S:a");
	assert_int_equal(tsu_which(sys, sup, ci), 2);
	assert_true(ci[0].running);
	assert_false(ci[1].running);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intensity_3),
		cmocka_unit_test(test_intensity_0),
		cmocka_unit_test(test_period),
		cmocka_unit_test(test_intensity_large),
		cmocka_unit_test(test_failed_restart_gives_up),
		cmocka_unit_test(test_failed_restart_retried),
		cmocka_unit_test(test_escalation_top_gives_up),
		cmocka_unit_test(test_escalation_top_restarts),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_backoff_group),
		cmocka_unit_test(test_backoff_group_terminate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
