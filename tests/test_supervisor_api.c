/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The management API and the start: a start that fails stops what had
 * started, in reverse, and returns the error (a linked caller lives on);
 * TR_CHILD_IGNORE; terminate, restart, delete, start_child, which and
 * count; names; bad arguments; calls from a process, from a plain thread,
 * and the refusal from an event actor; requests to a supervisor that is
 * gone or busy; the default report lines.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

static void
test_start_failure(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	tsu_rec rec;
	tsu_rec_init(&rec);
	static tw a = { .id = "a", .trap = true };
	static tw b = { .id = "b", .trap = true };
	static tw c;
	static tw d = { .id = "d", .trap = true };
	memset(&c, 0, sizeof c);
	c.id = "c";
	atomic_store(&c.start_rv, TR_EAGAIN);
	tr_child_spec specs[4] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_PERMANENT, 5000),
		tw_spec(&c, TR_PERMANENT, 5000),
		tw_spec(&d, TR_PERMANENT, 5000) };
	tr_sup_opts o = tsu_opts(&rec, "failing");
	tr_pid sup = TR_PID_NIL;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 4, &o),
	    TR_EAGAIN);
	assert_true(tr_pid_is_nil(sup));
	/* a and b started, then were shut down in reverse; d never ran. */
	TSU_EV_EQ("S:a S:b T:b T:a");
	assert_int_equal(atomic_load(&d.starts), 0);
	assert_int_equal(tsu_rec_count(&rec, TR_SUP_START_FAILED), 1);
	int i = tsu_rec_find(&rec, TR_SUP_START_FAILED, "failing", "c");
	assert_true(i >= 0);
	assert_non_null(strstr(rec.reason[i].text, "TR_EAGAIN"));
	/* The supervisor is gone, and so is its name: it can be used at once. */
	tr_pid none;
	assert_int_equal(tr_whereis(sys, "failing", &none), TR_ENOENT);
	atomic_store(&c.start_rv, 0);
	tsu_ev_reset();
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 4, &o), 0);
	TSU_EV_EQ("S:a S:b S:c S:d");
	assert_int_equal(tr_whereis(sys, "failing", &none), 0);
	assert_true(tr_pid_eq(none, sup));
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
	tsu_rec_fini(&rec);
}

/* A process that asked for a linked supervisor whose start failed is not
 * ended by the supervisor's exit. */
static void
linked_fail_main(tr_ctx *cx, void *arg)
{
	tr_child_spec *specs = arg;
	tr_sup_opts o = { .flags = TR_SPAWN_LINK };
	tr_pid sup = TR_PID_NIL;
	TU_CHECK_EQ(tr_sup_start(NULL, cx, &sup, NULL, specs, 2, &o),
	    TR_ENOMEM);
	/* Nothing arrives: no EXIT, no stray reply. */
	tr_msg *m = tr_receive(cx, 50);
	TU_CHECK(m == NULL);
	tr_msg_free(m);
}

static void
test_start_failure_linked(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tu_reset_failures();
	static tw a = { .id = "a" };
	static tw bad;
	memset(&bad, 0, sizeof bad);
	bad.id = "bad";
	atomic_store(&bad.start_rv, TR_ENOMEM);
	static tr_child_spec specs[2];
	specs[0] = tw_spec(&a, TR_PERMANENT, 5000);
	specs[1] = tw_spec(&bad, TR_PERMANENT, 5000);
	tu_run_proc(sys, linked_fail_main, specs);
	tu_stop(sys);
}

/* A nested supervisor whose start fails fails its parent's start. */
static void
test_nested_start_failure(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw a = { .id = "a", .trap = true };
	static tw x = { .id = "x", .trap = true };
	static tw bad;
	memset(&bad, 0, sizeof bad);
	bad.id = "bad";
	atomic_store(&bad.start_rv, TR_ELIMIT);
	static tr_child_spec inner[2];
	inner[0] = tw_spec(&x, TR_PERMANENT, 5000);
	inner[1] = tw_spec(&bad, TR_PERMANENT, 5000);
	static tr_sup_spec nested;
	nested = (tr_sup_spec){ TR_SUP_FLAGS_INIT, inner, 2,
		{ "inner", 0, NULL, NULL } };
	tr_child_spec top[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		{ "nested", tr_sup_child_start, &nested, TR_PERMANENT,
		    TR_SHUTDOWN_INFINITY, TR_SUPERVISOR } };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, top, 2, NULL),
	    TR_ELIMIT);
	TSU_EV_EQ("S:a S:x T:x T:a");
	tr_pid none;
	assert_int_equal(tr_whereis(sys, "inner", &none), TR_ENOENT);
	tu_stop(sys);
}

/* TR_CHILD_IGNORE: not running, spec kept (but a temporary is dropped). */
static void
test_ignore(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tw a = { .id = "a" };
	static tw ig, tmp;
	memset(&ig, 0, sizeof ig);
	memset(&tmp, 0, sizeof tmp);
	ig.id = "ig";
	tmp.id = "tmp";
	atomic_store(&ig.start_rv, TR_CHILD_IGNORE);
	atomic_store(&tmp.start_rv, TR_CHILD_IGNORE);
	tr_child_spec specs[3] = { tw_spec(&ig, TR_PERMANENT, 5000),
		tw_spec(&tmp, TR_TEMPORARY, 5000),
		tw_spec(&a, TR_PERMANENT, 5000) };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, specs, 3, NULL),
	    0);
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 2);
	assert_string_equal(ci[0].id, "ig");
	assert_false(ci[0].running);
	assert_true(tr_pid_is_nil(ci[0].pid));
	assert_string_equal(ci[1].id, "a");
	assert_true(ci[1].running);
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.specs, 2);
	assert_int_equal(c.active, 1);
	/* Ignored again on restart: 0 and a nil pid. */
	tr_pid p = { 1, 1, 1 };
	assert_int_equal(tr_sup_restart_child(sys, NULL, sup, "ig", &p,
	                     TU_RECV_MS),
	    0);
	assert_true(tr_pid_is_nil(p));
	atomic_store(&ig.start_rv, 0);
	assert_int_equal(tr_sup_restart_child(sys, NULL, sup, "ig", &p,
	                     TU_RECV_MS),
	    0);
	assert_false(tr_pid_is_nil(p));
	assert_true(tr_pid_eq(tsu_pid_of(sys, sup, "ig"), p));
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

/* terminate / restart / delete / start_child / which / count. */
static void
management(tr_system *sys, tr_ctx *cx)
{
	static tw a = { .id = "a" };
	static tw b = { .id = "b" };
	static tw c = { .id = "c" };
	tr_child_spec specs[2] = { tw_spec(&a, TR_PERMANENT, 5000),
		tw_spec(&b, TR_TRANSIENT, 5000) };
	tr_pid sup;
	TU_CHECK_EQ(tr_sup_start(sys, cx, &sup, NULL, specs, 2, NULL), 0);
	const int64_t tmo = TU_RECV_MS;
	tr_child_info ci[8];
	size_t n = 0;
	TU_CHECK_EQ(tr_sup_which_children(sys, cx, sup, ci, 8, &n, tmo), 0);
	TU_CHECK_EQ(n, 2);
	tr_pid pa = ci[0].pid;

	/* Terminate: stopped, not restarted, spec kept. */
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, "a", TR_PID_NIL, tmo),
	    0);
	TU_CHECK(!tr_is_alive(sys, pa));
	TU_CHECK_EQ(tr_sup_which_children(sys, cx, sup, ci, 8, &n, tmo), 0);
	TU_CHECK_EQ(n, 2);
	TU_CHECK(!ci[0].running && tr_pid_is_nil(ci[0].pid));
	TU_CHECK_EQ(ci[0].type, TR_WORKER);
	TU_CHECK_EQ(ci[0].restart, TR_PERMANENT);
	TU_CHECK_EQ(ci[1].restart, TR_TRANSIENT);
	/* Terminating a stopped child is fine; an unknown one is not. */
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, "a", TR_PID_NIL, tmo),
	    0);
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, "zz", TR_PID_NIL, tmo),
	    TR_ENOENT);
	/* Terminate by pid works for fixed children too. */
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, NULL, ci[1].pid, tmo),
	    0);
	TU_CHECK_EQ(tr_sup_restart_child(sys, cx, sup, "b", NULL, tmo), 0);

	/* Delete: only a stopped child. */
	TU_CHECK_EQ(tr_sup_delete_child(sys, cx, sup, "b", tmo), TR_EEXIST);
	TU_CHECK_EQ(tr_sup_delete_child(sys, cx, sup, "zz", tmo), TR_ENOENT);
	/* Restart: only a stopped child. */
	TU_CHECK_EQ(tr_sup_restart_child(sys, cx, sup, "b", NULL, tmo),
	    TR_EEXIST);
	TU_CHECK_EQ(tr_sup_restart_child(sys, cx, sup, "zz", NULL, tmo),
	    TR_ENOENT);
	tr_pid na;
	TU_CHECK_EQ(tr_sup_restart_child(sys, cx, sup, "a", &na, tmo), 0);
	TU_CHECK(!tr_pid_is_nil(na) && !tr_pid_eq(na, pa));
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, "a", TR_PID_NIL, tmo),
	    0);
	TU_CHECK_EQ(tr_sup_delete_child(sys, cx, sup, "a", tmo), 0);
	TU_CHECK_EQ(tr_sup_restart_child(sys, cx, sup, "a", NULL, tmo),
	    TR_ENOENT);

	/* start_child: appended; a taken id is refused. */
	tr_child_spec sc = tw_spec(&c, TR_PERMANENT, 5000);
	tr_pid pc;
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, &sc, NULL, &pc, tmo), 0);
	TU_CHECK(!tr_pid_is_nil(pc));
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, &sc, NULL, NULL, tmo),
	    TR_EEXIST);
	tr_child_spec sb = tw_spec(&b, TR_PERMANENT, 5000);
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, &sb, NULL, NULL, tmo),
	    TR_EEXIST);
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, NULL, NULL, NULL, tmo),
	    TR_EINVAL);
	/* The same id may be added back once deleted. */
	tr_child_spec sa = tw_spec(&a, TR_TEMPORARY, TR_SHUTDOWN_BRUTAL_KILL);
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, &sa, NULL, &na, tmo), 0);
	TU_CHECK_EQ(tr_sup_which_children(sys, cx, sup, ci, 8, &n, tmo), 0);
	TU_CHECK_EQ(n, 3);
	TU_CHECK(strcmp(ci[0].id, "b") == 0 && strcmp(ci[1].id, "c") == 0 &&
	    strcmp(ci[2].id, "a") == 0);
	TU_CHECK(tr_pid_eq(ci[1].pid, pc) && tr_pid_eq(ci[2].pid, na));
	TU_CHECK(ci[0].running && ci[1].running && ci[2].running);
	/* A small buffer: the first ones, and the full count. */
	tr_child_info one;
	TU_CHECK_EQ(tr_sup_which_children(sys, cx, sup, &one, 1, &n, tmo), 0);
	TU_CHECK_EQ(n, 3);
	TU_CHECK(strcmp(one.id, "b") == 0);
	TU_CHECK_EQ(tr_sup_which_children(sys, cx, sup, NULL, 0, &n, tmo), 0);
	TU_CHECK_EQ(n, 3);
	/* A temporary child is forgotten when terminated. */
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, "a", TR_PID_NIL, tmo),
	    0);
	tr_sup_counts cnt;
	TU_CHECK_EQ(tr_sup_count_children(sys, cx, sup, &cnt, tmo), 0);
	TU_CHECK_EQ(cnt.specs, 2);
	TU_CHECK_EQ(cnt.active, 2);
	TU_CHECK_EQ(cnt.workers, 2);
	TU_CHECK_EQ(cnt.supervisors, 0);
	TU_CHECK_EQ(cnt.restarts, 0);
	/* Bad arguments. */
	TU_CHECK_EQ(tr_sup_terminate_child(sys, cx, sup, NULL, TR_PID_NIL, tmo),
	    TR_EINVAL);
	TU_CHECK_EQ(tr_sup_delete_child(sys, cx, sup, "", tmo), TR_EINVAL);
	TU_CHECK_EQ(tr_sup_restart_child(sys, cx, sup, NULL, NULL, tmo),
	    TR_EINVAL);
	char longid[80];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	TU_CHECK_EQ(tr_sup_delete_child(sys, cx, sup, longid, tmo), TR_EINVAL);
	tr_child_spec bad = sc;
	bad.id = "new";
	bad.start = NULL;
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, &bad, NULL, NULL, tmo),
	    TR_EINVAL);
	bad = sc;
	bad.id = longid;
	TU_CHECK_EQ(tr_sup_start_child(sys, cx, sup, &bad, NULL, NULL, tmo),
	    TR_EINVAL);
	TU_CHECK_EQ(tr_sup_stop(sys, cx, sup, tmo), 0);
	TU_CHECK_EQ(tr_sup_count_children(sys, cx, sup, &cnt, tmo), TR_ENOPROC);
}

static void
test_management_thread(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tu_reset_failures();
	management(sys, NULL);
	tu_stop(sys);
}

static void
management_main(tr_ctx *cx, void *arg)
{
	(void) arg;
	management(NULL, cx);
	/* Nothing left over in the caller's mailbox. */
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
test_management_process(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tu_reset_failures();
	tu_run_proc(sys, management_main, NULL);
	tu_stop(sys);
}

/* Event actors cannot make the (blocking) requests. */
typedef struct ea {
	tr_pid sup;
	atomic_int start_rv, link_rv, count_rv, stop_rv;
	atomic_int done;
} ea;

static int
ea_init(tr_ctx *cx, void *state)
{
	ea *e = state;
	static tw a = { .id = "a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	tr_pid sup = TR_PID_NIL;
	atomic_store(&e->start_rv,
	    tr_sup_start(NULL, cx, &sup, NULL, &spec, 1, NULL));
	tr_sup_opts o = { .flags = TR_SPAWN_LINK };
	atomic_store(&e->link_rv,
	    tr_sup_start(NULL, cx, &sup, NULL, &spec, 1, &o));
	tr_sup_counts c;
	atomic_store(&e->count_rv,
	    tr_sup_count_children(NULL, cx, e->sup, &c, 1000));
	atomic_store(&e->stop_rv, tr_sup_stop(NULL, cx, e->sup, 1000));
	atomic_store(&e->done, 1);
	return TR_STOP;
}

static int
ea_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	(void) state;
	return TR_CONTINUE;
}

static void
test_event_actor_refused(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tw a = { .id = "a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	static ea e;
	memset(&e, 0, sizeof e);
	assert_int_equal(tr_sup_start(sys, NULL, &e.sup, NULL, &spec, 1, NULL),
	    0);
	atomic_store(&a.starts, 0);
	tr_spawn_opts o = { .init = ea_init, .flags = TR_SPAWN_WAIT };
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, ea_fn, &e, &o), 0);
	tr_exit_info info = tu_wait_info(sys, p);
	/* The actor was not ended by the linked supervisor it had to kill. */
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&e.done), 1);
	assert_int_equal(atomic_load(&e.start_rv), TR_ECONTEXT);
	assert_int_equal(atomic_load(&e.link_rv), TR_ECONTEXT);
	assert_int_equal(atomic_load(&e.count_rv), TR_ECONTEXT);
	assert_int_equal(atomic_load(&e.stop_rv), TR_ECONTEXT);
	/* The refused supervisors started nothing. */
	assert_int_equal(atomic_load(&a.starts), 0);
	assert_true(tr_is_alive(sys, e.sup));
	assert_int_equal(tr_sup_stop(sys, NULL, e.sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

static int
noop_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) cx;
	(void) arg;
	(void) extra;
	(void) pid;
	return 0; /* 0 without a pid: a broken start function */
}

static void
test_bad_arguments(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tw a = { .id = "a" };
	static tw a2 = { .id = "a" };
	tr_child_spec ok = tw_spec(&a, TR_PERMANENT, 5000);
	tr_sup_flags f = TR_SUP_FLAGS_INIT;
	tr_pid sup;
	/* strategy */
	f.strategy = (tr_strategy) 9;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &ok, 1, NULL),
	    TR_EINVAL);
	/* a period is needed for restarts */
	f = (tr_sup_flags) TR_SUP_FLAGS_INIT;
	f.period_ms = 0;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &ok, 1, NULL),
	    TR_EINVAL);
	/* backoff */
	f = (tr_sup_flags) TR_SUP_FLAGS_INIT;
	f.backoff_min_ms = 100;
	f.backoff_max_ms = 10;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &ok, 1, NULL),
	    TR_EINVAL);
	f.backoff_max_ms = 1000;
	f.backoff_jitter_pct = 101;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &ok, 1, NULL),
	    TR_EINVAL);
	/* simple_one_for_one takes exactly one spec */
	f = (tr_sup_flags) TR_SUP_FLAGS_INIT;
	f.strategy = TR_SIMPLE_ONE_FOR_ONE;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &ok, 0, NULL),
	    TR_EINVAL);
	tr_child_spec two[2] = { ok, tw_spec(&a2, TR_PERMANENT, 5000) };
	two[1].id = "b";
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, two, 2, NULL),
	    TR_EINVAL);
	/* duplicate ids */
	two[1].id = "a";
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, two, 2, NULL),
	    TR_EINVAL);
	/* bad specs */
	tr_child_spec bad = ok;
	bad.start = NULL;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &bad, 1, NULL),
	    TR_EINVAL);
	bad = ok;
	bad.id = "";
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &bad, 1, NULL),
	    TR_EINVAL);
	bad = ok;
	bad.restart = (tr_restart) 7;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &bad, 1, NULL),
	    TR_EINVAL);
	bad = ok;
	bad.shutdown_ms = -2;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &bad, 1, NULL),
	    TR_EINVAL);
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, NULL, 1, NULL),
	    TR_EINVAL);
	/* options: LINK needs a process; no other flag */
	tr_sup_opts o = { .flags = TR_SPAWN_LINK };
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &ok, 1, &o),
	    TR_ECONTEXT);
	o.flags = TR_SPAWN_MONITOR;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &ok, 1, &o),
	    TR_EINVAL);
	char longname[80];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	tr_sup_opts on = { .name = longname };
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &ok, 1, &on),
	    TR_EINVAL);
	assert_int_equal(tr_sup_start(NULL, NULL, &sup, NULL, &ok, 1, NULL),
	    TR_EINVAL);
	/* A start function that returns 0 without a pid fails the start. */
	tr_child_spec broken = { "broken", noop_start, NULL, TR_PERMANENT, 5000,
		TR_WORKER };
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &broken, 1, NULL),
	    TR_EINVAL);
	/* No children at all is fine. */
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, NULL, 0, NULL), 0);
	tr_child_info ci[TSU_MAXC];
	assert_int_equal(tsu_which(sys, sup, ci), 0);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	/* Requests to nobody, or to an actor that is not a supervisor. */
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, TR_PID_NIL, &c, 100),
	    TR_EINVAL);
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, 100),
	    TR_ENOPROC);
	tu_stop(sys);
}

/* Names: registered, refused when taken, freed at the end. */
static void
test_names(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tw a = { .id = "a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	tr_sup_opts o = { .name = "the_sup" };
	tr_pid sup, again, found;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &spec, 1, &o), 0);
	assert_int_equal(tr_whereis(sys, "the_sup", &found), 0);
	assert_true(tr_pid_eq(found, sup));
	int starts = atomic_load(&a.starts);
	assert_int_equal(tr_sup_start(sys, NULL, &again, NULL, &spec, 1, &o),
	    TR_EEXIST);
	/* The second one started no child. */
	assert_int_equal(atomic_load(&a.starts), starts);
	assert_true(tr_is_alive(sys, sup));
	/* Addressed by the name's pid like any actor. */
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, found, &c,
	                     TU_RECV_MS),
	    0);
	assert_int_equal(c.active, 1);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	assert_int_equal(tr_whereis(sys, "the_sup", &found), TR_ENOENT);
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &spec, 1, &o), 0);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

/* A busy supervisor (waiting for a child that ignores shutdown) does not
 * answer in time: TR_ETIMEDOUT, and the request is served later. */
typedef struct busy {
	tr_system *sys;
	tr_pid sup;
	atomic_int rv;
	atomic_int done;
} busy;

static void *
terminator(void *arg)
{
	busy *b = arg;
	atomic_store(&b->rv,
	    tr_sup_terminate_child(b->sys, NULL, b->sup, "stub", TR_PID_NIL,
	        60000 * TU_SLOW));
	atomic_store(&b->done, 1);
	return NULL;
}

static void
test_busy_timeout(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tsu_ev_reset();
	static tw stub = { .id = "stub", .ignore_shutdown = true };
	const int64_t tmo = 1500;
	tr_child_spec spec = tw_spec(&stub, TR_PERMANENT, tmo);
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &spec, 1, NULL),
	    0);
	static busy b;
	memset(&b, 0, sizeof b);
	b.sys = sys;
	b.sup = sup;
	pthread_t t;
	tu_thread_start(&t, terminator, &b);
	/* Once the stub has ignored its shutdown, the supervisor waits. */
	TSU_EV_WAIT("S:stub I:stub");
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, 20),
	    TR_ETIMEDOUT);
	tu_thread_join(t);
	assert_int_equal(atomic_load(&b.rv), 0);
	assert_int_equal(tr_sup_count_children(sys, NULL, sup, &c, TU_RECV_MS),
	    0);
	assert_int_equal(c.active, 0);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, TU_RECV_MS), 0);
	tu_stop(sys);
}

/* The default report: one line per event through the logging hook. */
static void
test_default_report(void **unused)
{
	(void) unused;
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	static tw a = { .id = "worker_a" };
	tr_child_spec spec = tw_spec(&a, TR_PERMANENT, 5000);
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 1, 60000);
	tr_sup_opts o = { .name = "logsup" };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, &f, &spec, 1, &o), 0);
	tr_pid p = tsu_pid_of(sys, sup, "worker_a");
	assert_int_equal(tr_system_exit_pid(sys, p, tr_reason("bad input")), 0);
	p = tsu_wait_new(sys, sup, "worker_a", p);
	char line[TU_LOG_LEN];
	TU_WAIT_EQ(tu_log_find(&log, NULL, "supervisor logsup", "restarted",
	               NULL) >= 0,
	    true);
	assert_true(tu_log_find(&log, line, "supervisor logsup", "worker_a",
	                "exited", "bad input", "restarts 0", NULL) >= 0);
	printf("# %s\n", line);
	assert_true(tu_log_find(&log, line, "supervisor logsup", "worker_a",
	                "restarted", "restarts 1", NULL) >= 0);
	printf("# %s\n", line);
	/* Once more: give-up and escalation. */
	assert_int_equal(tr_system_exit_pid(sys, p, tr_reason("worse")), 0);
	tu_wait_exit(sys, sup, TR_REASON_SHUTDOWN);
	TU_WAIT_EQ(tu_log_find(&log, NULL, "supervisor logsup", "exiting",
	               NULL) >= 0,
	    true);
	assert_true(tu_log_find(&log, line, "supervisor logsup", "giving up",
	                "worker_a", "worse", NULL) >= 0);
	printf("# %s\n", line);
	assert_true(tu_log_find(&log, line, "supervisor logsup", "exiting",
	                "shutdown", NULL) >= 0);
	printf("# %s\n", line);
	/* A start failure, by pid when the supervisor has no name. */
	static tw bad;
	memset(&bad, 0, sizeof bad);
	bad.id = "bad";
	atomic_store(&bad.start_rv, TR_EAGAIN);
	spec = tw_spec(&bad, TR_PERMANENT, 5000);
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &spec, 1, NULL),
	    TR_EAGAIN);
	assert_true(tu_log_find(&log, line, "supervisor <0.", "bad",
	                "failed to start", "TR_EAGAIN", NULL) >= 0);
	printf("# %s\n", line);
	assert_int_equal(log.newlines, 0);
	tu_stop(sys);
	tu_log_fini(&log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_failure),
		cmocka_unit_test(test_start_failure_linked),
		cmocka_unit_test(test_nested_start_failure),
		cmocka_unit_test(test_ignore),
		cmocka_unit_test(test_management_thread),
		cmocka_unit_test(test_management_process),
		cmocka_unit_test(test_event_actor_refused),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_busy_timeout),
		cmocka_unit_test(test_default_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
