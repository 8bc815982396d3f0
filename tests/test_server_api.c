/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Servers (server/server.c), each test run on an event-actor server and
 * on a process server: call, cast and info; a reply deferred by the
 * server (noreply, then reply later) and one made by another actor; a
 * call to a server that crashes on it, then to the dead pid and to a
 * missing name (at once, not by timeout); stop from a callback with a
 * reply; tr_server_stop; init failing or ignoring; a name taken; call
 * timeouts; terminate on the parent's exit when trapping; calls from an
 * event actor.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_server_util.h"

static const tr_server_def *
def_of(void **state)
{
	return *state;
}

/* The total, 5 + 3 (cast) + 1000 (info), by pid and by name. */
static void
test_call_cast_info(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid srv = TR_PID_NIL;
	assert_int_equal(tr_system_server_start(sys, &srv, def, NULL, "ts"), 0);
	assert_false(tr_pid_is_nil(srv));
	tr_pid named;
	assert_int_equal(tr_whereis(sys, "ts", &named), 0);
	assert_true(tr_pid_eq(named, srv));
	assert_int_equal(atomic_load(&tsv_inits), 1);

	tr_msg *r = NULL;
	int64_t v = 0;
	assert_int_equal(tr_system_server_call(sys, srv, T_ADD, TU_RECV_MS, &r,
	                     "i", 5),
	    0);
	assert_int_equal(tr_system_msg_scan(sys, r, "I", &v), 0);
	assert_int_equal(v, 5);
	tr_msg_free(r);
	assert_int_equal(tr_system_server_cast(sys, "ts", T_ADD, "i", 3), 0);
	assert_int_equal(tr_system_send(sys, srv, T_INFO, NULL, 0), 0);
	/* Call and scan in one. */
	assert_int_equal(tr_system_server_ask(sys, "ts", T_ADD, TU_RECV_MS, "i",
	                     "I", 0, &v),
	    0);
	assert_int_equal(v, 1008); /* after the cast and the info */
	assert_int_equal(tr_system_server_ask(sys, srv, T_ADD, TU_RECV_MS, "i",
	                     "'no'", 0),
	    TR_EBADTERM);
	assert_int_equal(tr_system_server_ask(sys, srv, T_ADD, TU_RECV_MS, "i",
	                     "s", 0, NULL, NULL),
	    TR_EINVAL);
	/* Sent after the cast and the info by the same thread: seen after. */
	assert_int_equal(tsv_get_total(sys, tr_to_name("ts")), 1008);
	/* A cast with a bad payload crashes nothing yet... bad tags do not
	 * leave the caller. */
	assert_int_equal(tr_system_server_cast(sys, srv, TR_SERVER_TAG_MAX, ""),
	    TR_EINVAL);
	assert_int_equal(tr_system_server_call(sys, srv, TR_SERVER_TAG_MAX,
	                     TU_RECV_MS, &r, ""),
	    TR_EINVAL);
	assert_null(r);

	assert_int_equal(tr_system_server_stop(sys, "ts", TR_SHUTDOWN,
	                     TU_RECV_MS),
	    0);
	assert_int_equal(atomic_load(&tsv_terms), 1);
	assert_int_equal(atomic_load(&tsv_term_kind), TR_REASON_SHUTDOWN);
	TU_WAIT_EQ(atomic_load(&tsv_cleanups), 1);
	assert_int_equal(tr_whereis(sys, "ts", &named), TR_ENOENT);
	assert_int_equal(tr_system_server_stop(sys, srv, TR_SHUTDOWN,
	                     TU_RECV_MS),
	    TR_ENOPROC);
	tu_stop(sys);
}

/* A process driver: hold a client's call, release it; defer to a helper. */
typedef struct defer_arg {
	const tr_server_def *def;
	tr_pid srv;
} defer_arg;

static void
held_client(tr_ctx *cx, void *arg)
{
	defer_arg *d = arg;
	tr_msg *r = NULL;
	int64_t v = -1;
	TU_CHECK_EQ(tr_server_call(cx, d->srv, T_HOLD, TU_RECV_MS, &r, ""), 0);
	TU_CHECK_EQ(tr_msg_scan(cx, r, "I", &v), 0);
	TU_CHECK_EQ(v, 7);
	tr_msg_free(r);
}

static void
defer_driver(tr_ctx *cx, void *arg)
{
	defer_arg *d = arg;
	ts_state init = { .notify = tr_self(cx), .total = 7 };
	TU_CHECK_EQ(tr_server_start_link(cx, &d->srv, d->def, &init, NULL), 0);
	/* noreply now, reply later: the client waits meanwhile. */
	uint64_t mref;
	tr_pid client;
	tr_spawn_opts o = { .flags = TR_SPAWN_MONITOR, .monitor_ref = &mref };
	TU_CHECK_EQ(tr_spawn_process(tr_ctx_system(cx), &client, held_client, d,
	                &o),
	    0);
	tr_msg *m = tr_receive_tag(cx, T_HELD, TU_RECV_MS);
	TU_CHECK(m != NULL);
	tr_msg_free(m);
	tr_msg *r = NULL;
	TU_CHECK_EQ(tr_server_call(cx, d->srv, T_RELEASE, TU_RECV_MS, &r, ""),
	    0);
	TU_CHECK_EQ(tr_msg_scan(cx, r, "'ok'"), 0);
	tr_msg_free(r);
	m = tr_receive_ref(cx, mref, TU_RECV_MS);
	tr_exit_info why;
	TU_CHECK(m != NULL && tr_msg_reason(m, &why) == 0);
	TU_CHECK_EQ(why.kind, TR_REASON_NORMAL);
	tr_msg_free(m);

	/* Another actor replies, with the from the server passed on. */
	tr_pid helper;
	TU_CHECK_EQ(tr_spawn(tr_ctx_system(cx), &helper, ts_helper, NULL, NULL),
	    0);
	TU_CHECK_EQ(tr_server_call(cx, d->srv, T_DEFER, TU_RECV_MS, &r, "p",
	                helper),
	    0);
	TU_CHECK_EQ(tr_msg_scan(cx, r, "'helper'"), 0);
	TU_CHECK(tr_pid_eq(tr_msg_from(r), helper));
	tr_msg_free(r);
	(void) tr_exit_pid(cx, helper, TR_KILL);
	int64_t v = 0;
	TU_CHECK_EQ(tr_server_ask(cx, d->srv, T_GET, TU_RECV_MS, "", "I", &v),
	    0);
	TU_CHECK_EQ(v, 7);
	TU_CHECK_EQ(tr_server_stop(cx, d->srv, TR_NORMAL, TU_RECV_MS), 0);
}

static void
test_deferred_reply(void **state)
{
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	defer_arg d = { def_of(state), TR_PID_NIL };
	tu_run_proc(sys, defer_driver, &d);
	assert_int_equal(atomic_load(&tsv_terms), 1);
	assert_int_equal(atomic_load(&tsv_term_kind), TR_REASON_NORMAL);
	tu_stop(sys);
	assert_int_equal(atomic_load(&tsv_cleanups), 1);
}

/* A crash on a call: the caller learns the reason at once; then the dead
 * pid and a missing name give noproc at once, however long the timeout. */
static void
test_dead_and_missing(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid srv;
	assert_int_equal(tr_system_server_start(sys, &srv, def, NULL, "ts"), 0);
	tr_msg *r = NULL;
	assert_int_equal(tr_system_server_call(sys, "ts", T_CRASH, TR_INFINITY,
	                     &r, ""),
	    TR_EDOWN);
	tr_exit_info why;
	assert_int_equal(tr_msg_reason(r, &why), 0);
	assert_int_equal(why.kind, TR_REASON_ERROR);
	assert_non_null(strstr(why.text, "handle_call returned TR_EBADTERM"));
	tr_msg_free(r);
	/* terminate ran before the exit, with the same reason. */
	assert_int_equal(atomic_load(&tsv_terms), 1);
	assert_int_equal(atomic_load(&tsv_term_kind), TR_REASON_ERROR);
	assert_non_null(strstr(tsv_term_text, "TR_EBADTERM"));

	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_server_call(sys, srv, T_GET, TR_INFINITY, &r,
	                     ""),
	    TR_ENOPROC);
	assert_null(r);
	assert_int_equal(tr_system_server_call(sys, "ts", T_GET, TR_INFINITY,
	                     &r, ""),
	    TR_ENOPROC);
	assert_int_equal(tr_system_server_call(sys, "nobody", T_GET,
	                     TR_INFINITY, &r, ""),
	    TR_ENOPROC);
	assert_int_equal(tr_system_server_cast(sys, "nobody", T_ADD, "i", 1),
	    TR_ENOPROC);
	/* A cast to a dead pid is a dead letter, as in Erlang. */
	assert_int_equal(tr_system_server_cast(sys, srv, T_ADD, "i", 1), 0);
	assert_true(tu_ms_since(t0) < 5000.0 * TU_SLOW);
	tu_stop(sys);
	assert_int_equal(atomic_load(&tsv_cleanups), 1);
}

/* {stop, Reason, Reply, State}: the reply, then terminate with the reason. */
static void
test_stop_with_reply(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid srv;
	assert_int_equal(tr_system_server_start(sys, &srv, def, NULL, NULL), 0);
	tr_msg *r = NULL;
	assert_int_equal(tr_system_server_call(sys, srv, T_STOP, TU_RECV_MS, &r,
	                     ""),
	    0);
	assert_int_equal(tr_system_msg_scan(sys, r, "'bye'"), 0);
	tr_msg_free(r);
	TU_WAIT_EQ(atomic_load(&tsv_terms), 1);
	assert_int_equal(atomic_load(&tsv_term_kind), TR_REASON_ERROR);
	assert_non_null(strstr(tsv_term_text, "asked (")); /* file:line */
	TU_WAIT_EQ(atomic_load(&tsv_cleanups), 1);
	assert_false(tr_is_alive(sys, srv));
	tu_stop(sys);
}

/* init's error is the start's; ignore; a name taken (already_started). */
static void
start_linked_failing(tr_ctx *cx, void *arg)
{
	const tr_server_def *def = arg;
	ts_state st = { .fail_init = TR_EAGAIN };
	tr_pid p = TR_PID_NIL;
	TU_CHECK_EQ(tr_server_start_link(cx, &p, def, &st, "ts"), TR_EAGAIN);
	TU_CHECK(tr_pid_is_nil(p));
	/* Its exit does not reach us (unlinked first), and nothing else. */
	tr_msg *m = tr_receive(cx, 50);
	TU_CHECK(m == NULL);
	tr_msg_free(m);
}

static void
test_init_failure(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	ts_state st = { .fail_init = TR_EAGAIN };
	tr_pid p = TR_PID_NIL;
	assert_int_equal(tr_system_server_start(sys, &p, def, &st, "ts"),
	    TR_EAGAIN);
	assert_true(tr_pid_is_nil(p));
	/* The name is free at once. */
	assert_int_equal(tr_whereis(sys, "ts", &p), TR_ENOENT);
	st.fail_init = TR_SERVER_IGNORE;
	assert_int_equal(tr_system_server_start(sys, &p, def, &st, "ts"),
	    TR_SERVER_IGNORE);
	assert_int_equal(tr_whereis(sys, "ts", &p), TR_ENOENT);
	tu_run_proc(sys, start_linked_failing, (void *) def);
	assert_int_equal(atomic_load(&tsv_inits), 3);

	/* Name taken: TR_EEXIST and the holder; init did not run. */
	tr_pid first, second = TR_PID_NIL;
	assert_int_equal(tr_system_server_start(sys, &first, def, NULL, "ts"),
	    0);
	assert_int_equal(tr_system_server_start(sys, &second, def, NULL, "ts"),
	    TR_EEXIST);
	assert_true(tr_pid_eq(first, second));
	assert_int_equal(atomic_load(&tsv_inits), 4);
	assert_int_equal(tr_system_server_start(sys, NULL, NULL, NULL, NULL),
	    TR_EINVAL);
	assert_int_equal(tr_system_server_start(sys, NULL, def, NULL, ""),
	    TR_EINVAL);
	assert_int_equal(tr_system_server_stop(sys, first, TR_SHUTDOWN,
	                     TU_RECV_MS),
	    0);
	tu_stop(sys);
	/* cleanup only for the one whose init succeeded. */
	assert_int_equal(atomic_load(&tsv_cleanups), 1);
}

/* A call not answered in time: TR_ETIMEDOUT, the server lives on. */
static void
test_timeouts(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid srv;
	assert_int_equal(tr_system_server_start(sys, &srv, def, NULL, NULL), 0);
	tr_msg *r = NULL;
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_server_call(sys, srv, T_SILENT, 50, &r, ""),
	    TR_ETIMEDOUT);
	assert_true(tu_ms_since(t0) >= 49.0);
	assert_null(r);
	assert_int_equal(tsv_get_total(sys, tr_to_pid(srv)), 0);
	assert_int_equal(tr_system_server_stop(sys, srv, TR_SHUTDOWN,
	                     TU_RECV_MS),
	    0);
	tu_stop(sys);
}

/* A trapping server whose linked parent dies: terminate(parent's reason).
 * A non-trapping one dies with it, without terminate. */
typedef struct parent_arg {
	const tr_server_def *def;
	bool trap;
	tr_pid srv;
} parent_arg;

static void
dying_parent(tr_ctx *cx, void *arg)
{
	parent_arg *pa = arg;
	ts_state st = { .trap = pa->trap };
	TU_CHECK_EQ(tr_server_start_link(cx, &pa->srv, pa->def, &st, "ts"), 0);
	(void) tr_exit(cx, tr_reason("parent died"));
}

static void
test_parent_exit(void **state)
{
	const tr_server_def *def = def_of(state);
	for (int trap = 1; trap >= 0; trap--) {
		tsv_reset();
		tr_system *sys = tu_start(2, 0);
		assert_non_null(sys);
		parent_arg pa = { def, trap != 0, TR_PID_NIL };
		tr_pid p = tu_spawn_proc(sys, dying_parent, &pa, 0, NULL);
		tr_exit_info info = tu_wait_info(sys, p);
		assert_int_equal(info.kind, TR_REASON_ERROR);
		TU_WAIT_EQ(atomic_load(&tsv_cleanups), 1);
		assert_false(tr_is_alive(sys, pa.srv));
		if (trap) {
			assert_int_equal(atomic_load(&tsv_terms), 1);
			assert_non_null(strstr(tsv_term_text, "parent died"));
		} else {
			assert_int_equal(atomic_load(&tsv_terms), 0);
		}
		tu_stop(sys);
	}
}

/* From an event actor: tr_server_call and start refuse (they would
 * block); tr_server_call_async works, its reply comes as a message. */
typedef struct ev_arg {
	const tr_server_def *def;
	tr_pid srv;
	uint64_t ref;
	atomic_int done;
} ev_arg;

static int
ev_caller_init(tr_ctx *cx, void *state)
{
	ev_arg *e = state;
	tr_msg *r = NULL;
	TU_CHECK_EQ(tr_server_call(cx, e->srv, T_GET, 100, &r, ""),
	    TR_ECONTEXT);
	TU_CHECK(r == NULL);
	TU_CHECK_EQ(tr_server_start(cx, NULL, e->def, NULL, NULL), TR_ECONTEXT);
	TU_CHECK_EQ(tr_server_call_async(cx, "nobody", T_GET, 100, &e->ref, ""),
	    TR_ENOPROC);
	return tr_server_call_async(cx, "ts", T_ADD, TU_RECV_MS, &e->ref, "i",
	    42);
}

static int
ev_caller(tr_ctx *cx, tr_msg *m, void *state)
{
	ev_arg *e = state;
	int64_t v = 0;
	TU_CHECK_EQ(tr_msg_ref(m), e->ref);
	TU_CHECK(tr_msg_flags(m) & TR_MSG_REPLY);
	TU_CHECK_EQ(tr_msg_scan(cx, m, "I", &v), 0);
	TU_CHECK_EQ(v, 42);
	atomic_store(&e->done, 1);
	return TR_STOP;
}

static void
test_event_actor_caller(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	ev_arg e = { .def = def };
	assert_int_equal(tr_system_server_start(sys, &e.srv, def, NULL, "ts"),
	    0);
	tr_spawn_opts o = { .init = ev_caller_init, .flags = TR_SPAWN_WAIT };
	tr_pid c;
	assert_int_equal(tr_spawn(sys, &c, ev_caller, &e, &o), 0);
	tr_exit_info info = tu_wait_info(sys, c);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&e.done), 1);
	assert_int_equal(tr_system_server_stop(sys, "ts", TR_SHUTDOWN,
	                     TU_RECV_MS),
	    0);
	tu_stop(sys);
	/* The server the event actor tried to start never ran init. */
	assert_int_equal(atomic_load(&tsv_inits), 1);
	assert_int_equal(atomic_load(&tsv_cleanups), 1);
}

/* Many callers at once, processes and plain threads, by pid and by name:
 * every call answered, every cast counted. */
#define MANY_PROCS 4
#define MANY_THREADS 2
#define MANY_CALLS 500

static void
many_proc(tr_ctx *cx, void *arg)
{
	tr_pid srv = *(tr_pid *) arg;
	for (int i = 0; i < MANY_CALLS; i++) {
		int64_t v = 0;
		int rv = i % 2
		    ? tr_server_ask(cx, srv, T_ADD, TU_RECV_MS, "i", "I", 1, &v)
		    : tr_server_ask(cx, "ts", T_ADD, TU_RECV_MS, "i", "I", 1,
		          &v);
		TU_CHECK_EQ(rv, 0);
		TU_CHECK(v >= 1);
		TU_CHECK_EQ(tr_server_cast(cx, "ts", T_ADD, "i", 1), 0);
	}
}

typedef struct many_thread {
	tr_system *sys;
	tr_pid srv;
} many_thread;

static void *
many_thread_fn(void *arg)
{
	many_thread *t = arg;
	for (int i = 0; i < MANY_CALLS; i++) {
		int64_t v = 0;
		TU_CHECK_EQ(tr_system_server_ask(t->sys, t->srv, T_ADD,
		                TU_RECV_MS, "i", "I", 1, &v),
		    0);
		TU_CHECK_EQ(tr_system_server_cast(t->sys, "ts", T_ADD, "i", 1),
		    0);
	}
	return NULL;
}

static void
test_many_callers(void **state)
{
	const tr_server_def *def = def_of(state);
	tsv_reset();
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid srv;
	assert_int_equal(tr_system_server_start(sys, &srv, def, NULL, "ts"), 0);
	tr_pid p[MANY_PROCS];
	for (int i = 0; i < MANY_PROCS; i++)
		p[i] = tu_spawn_proc(sys, many_proc, &srv, 0, NULL);
	many_thread mt = { sys, srv };
	pthread_t th[MANY_THREADS];
	for (int i = 0; i < MANY_THREADS; i++)
		tu_thread_start(&th[i], many_thread_fn, &mt);
	for (int i = 0; i < MANY_THREADS; i++)
		tu_thread_join(th[i]);
	for (int i = 0; i < MANY_PROCS; i++)
		assert_int_equal(tu_wait_info(sys, p[i]).kind,
		    TR_REASON_NORMAL);
	/* Each call and each cast added 1; a call after all of them (by
	 * this thread, after every caller ended) sees every one. */
	assert_int_equal(tsv_get_total(sys, tr_to_pid(srv)),
	    2 * (MANY_PROCS + MANY_THREADS) * MANY_CALLS);
	assert_int_equal(tr_system_server_stop(sys, srv, TR_SHUTDOWN,
	                     TU_RECV_MS),
	    0);
	tu_stop(sys);
}

/* tr_server_exit refuses what is not a server's state. */
static void
test_exit_misuse(void **state)
{
	(void) state;
	assert_int_equal(tr_server_exit(NULL, TR_NORMAL), TR_EINVAL);
	assert_int_equal(tr_server_reply(NULL, (tr_from){ TR_PID_NIL, 0 }, ""),
	    TR_ECONTEXT);
}

#define BOTH(fn)                                            \
	cmocka_unit_test_prestate(fn, (void *) &tsv_event), \
	    cmocka_unit_test_prestate(fn, (void *) &tsv_proc)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_call_cast_info),
		BOTH(test_deferred_reply),
		BOTH(test_dead_and_missing),
		BOTH(test_stop_with_reply),
		BOTH(test_init_failure),
		BOTH(test_timeouts),
		BOTH(test_parent_exit),
		BOTH(test_event_actor_caller),
		BOTH(test_many_callers),
		cmocka_unit_test(test_exit_misuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
