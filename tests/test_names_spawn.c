/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Issue 8, items 4 and 5 (decision 0022): a name given at spawn (seen by
 * the actor's first code; a taken name makes no actor), send and call by
 * name from plain threads and processes (a missing name: noproc at once),
 * periodic timers (ticks, cancel, ended by their owner's or target's
 * exit), state copied in and freed by the runtime, the event actor's
 * blocking calls (TR_ECONTEXT), TR_ASSERT in an event actor, and tr_call's
 * *reply on every error.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum {
	T_MSG = 1,
	T_STOP,
	T_ASK,
	T_TICK,
	T_TRY,
};

/* ------------------------------------------------- a name at spawn */

static atomic_int seen_named; /* init found its own name */

static int
named_init(tr_ctx *cx, void *state)
{
	(void) state;
	tr_pid p = TR_PID_NIL;
	if (tr_whereis(tr_ctx_system(cx), "early", &p) == 0 &&
	    tr_pid_eq(p, tr_self(cx)))
		atomic_fetch_add(&seen_named, 1);
	return TR_CONTINUE;
}

static int
named_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	if (tr_msg_tag(m) == T_ASK)
		return tr_reply_term(cx, m, T_ASK, "[s i]", "ok",
		    (int) tr_msg_len(m));
	return TR_CONTINUE;
}

static void
named_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_pid p = TR_PID_NIL;
	if (tr_whereis(tr_ctx_system(cx), "early", &p) == 0 &&
	    tr_pid_eq(p, tr_self(cx)))
		atomic_fetch_add(&seen_named, 1);
}

static atomic_int freed;

static void
count_free(void *state)
{
	(void) state;
	atomic_fetch_add(&freed, 1);
}

/* The actor's first code already finds its name (before: registered
 * after tr_spawn returned, the init ran unnamed). */
static void
test_spawn_name(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	atomic_store(&seen_named, 0);
	for (int i = 0; i < 200; i++) {
		tr_spawn_opts o = { .init = named_init,
			.flags = TR_SPAWN_WAIT,
			.name = "early" };
		tr_pid p;
		assert_int_equal(tr_spawn(sys, &p, named_fn, NULL, &o), 0);
		tr_pid q;
		assert_int_equal(tr_whereis(sys, "early", &q), 0);
		assert_true(tr_pid_eq(p, q));
		assert_int_equal(tr_system_send_name(sys, "early", T_STOP, NULL,
		                     0),
		    0);
		tu_wait_info(sys, p);
		/* The name went with the actor. */
		assert_int_equal(tr_whereis(sys, "early", &q), TR_ENOENT);
		tr_spawn_opts po = { .flags = TR_SPAWN_WAIT, .name = "early" };
		assert_int_equal(tr_spawn_process(sys, &p, named_proc, NULL,
		                     &po),
		    0);
		tu_wait_info(sys, p);
	}
	assert_int_equal(atomic_load(&seen_named), 400);
	tu_stop(sys);
}

/* A taken name: TR_EEXIST, no actor made, state_free ran once. */
static void
test_spawn_name_taken(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid a;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT, .name = "svc" };
	assert_int_equal(tr_spawn(sys, &a, named_fn, NULL, &o), 0);
	tr_system_stats st0, st1;
	assert_int_equal(tr_system_stats_get(sys, &st0), 0);
	atomic_store(&freed, 0);
	tr_pid b = TR_PID_NIL;
	tr_spawn_opts o2 = { .state_free = count_free, .name = "svc" };
	assert_int_equal(tr_spawn(sys, &b, named_fn, NULL, &o2), TR_EEXIST);
	assert_true(tr_pid_is_nil(b));
	assert_int_equal(tr_spawn_process(sys, &b, named_proc, NULL, &o2),
	    TR_EEXIST);
	assert_int_equal(atomic_load(&freed), 2);
	assert_int_equal(tr_system_stats_get(sys, &st1), 0);
	assert_int_equal(st1.actors_spawned, st0.actors_spawned);
	/* Bad names are refused before anything is made. */
	char longname[TR_NAME_MAX + 2];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	tr_spawn_opts o3 = { .name = "" };
	assert_int_equal(tr_spawn(sys, &b, named_fn, NULL, &o3), TR_EINVAL);
	o3.name = longname;
	assert_int_equal(tr_spawn(sys, &b, named_fn, NULL, &o3), TR_EINVAL);
	assert_int_equal(tr_system_send(sys, a, T_STOP, NULL, 0), 0);
	tu_wait_info(sys, a);
	tu_stop(sys);
}

/* -------------------------------------------------- call by name */

static void
name_caller(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *r = (tr_msg *) 1;
	TU_CHECK_EQ(tr_call_name(cx, "none", T_ASK, NULL, 0, TU_RECV_MS, &r),
	    TR_ENOPROC);
	TU_CHECK(r == NULL);
	TU_CHECK_EQ(tr_call_name(cx, "srv", T_ASK, "abc", 3, TU_RECV_MS, &r),
	    0);
	const char *s;
	size_t sl;
	int n = 0;
	TU_CHECK_EQ(tr_msg_scan(cx, r, "[s i]", &s, &sl, &n), 0);
	TU_CHECK_EQ(n, 3);
	tr_msg_free(r);
	TU_CHECK_EQ(tr_call_name_term(cx, "srv", T_ASK, TU_RECV_MS, &r, "[i]",
	                7),
	    0);
	tr_msg_free(r);
	TU_CHECK_EQ(tr_send_name_term(cx, "srv", T_MSG, "[i]", 1), 0);
	TU_CHECK_EQ(tr_send_name_term(cx, "none", T_MSG, "[i]", 1), TR_ENOENT);
}

static void
test_call_name(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_msg *r = (tr_msg *) 1;
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_call_name(sys, "srv", T_ASK, NULL, 0,
	                     TR_INFINITY, &r),
	    TR_ENOPROC);
	assert_null(r);
	assert_true(tu_ms_since(t0) < 5000.0); /* at once, not a timeout */
	tr_pid s;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT, .name = "srv" };
	assert_int_equal(tr_spawn(sys, &s, named_fn, NULL, &o), 0);
	assert_int_equal(tr_system_call_name(sys, "srv", T_ASK, "xy", 2,
	                     TU_RECV_MS, &r),
	    0);
	int n = 0;
	const char *str;
	size_t sl;
	assert_int_equal(tr_system_msg_scan(sys, r, "[s i]", &str, &sl, &n), 0);
	assert_int_equal(n, 2);
	tr_msg_free(r);
	assert_int_equal(tr_system_call_name_term(sys, "srv", T_ASK, TU_RECV_MS,
	                     &r, "[s]", "hello"),
	    0);
	tr_msg_free(r);
	assert_int_equal(tr_system_send_name_term(sys, "srv", T_MSG, "[i]", 5),
	    0);
	assert_int_equal(tr_system_send_name(sys, "nope", T_MSG, NULL, 0),
	    TR_ENOENT);
	assert_int_equal(tr_system_call_name(sys, "", T_ASK, NULL, 0, 10, &r),
	    TR_EINVAL);
	assert_null(r);
	tu_run_proc(sys, name_caller, NULL);
	assert_int_equal(tr_system_send_name(sys, "srv", T_STOP, NULL, 0), 0);
	tu_wait_info(sys, s);
	tu_stop(sys);
}

/* --------------------------------------------------- intervals */

typedef struct tick_st {
	atomic_int ticks;
} tick_st;

static int
tick_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	tick_st *t = state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	if (tr_msg_tag(m) == T_TICK)
		atomic_fetch_add(&t->ticks, 1);
	return TR_CONTINUE;
}

enum { PERIOD = 10 };

/* A process: ticks come on the grid, never early; cancel stops them. */
static void
interval_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_timer t;
	uint64_t t0 = tu_now_ns();
	TU_CHECK_EQ(tr_send_interval(cx, tr_self(cx), PERIOD, T_TICK, "z", 1,
	                &t),
	    0);
	for (int k = 1; k <= 10; k++) {
		tr_msg *m = tr_receive_tag(cx, T_TICK, TU_RECV_MS);
		TU_CHECK(m != NULL);
		if (m == NULL)
			return;
		TU_CHECK_EQ(tr_msg_len(m), 1);
		/* The k-th tick is due k periods after the start. */
		TU_CHECK(tu_ms_since(t0) >= (double) (k * PERIOD) - 1.0);
		tr_msg_free(m);
	}
	TU_CHECK_EQ(tr_cancel_timer(tr_ctx_system(cx), t), 0);
	TU_CHECK_EQ(tr_cancel_timer(tr_ctx_system(cx), t), TR_ENOENT);
	/* At most one tick that was being posted at the cancel. */
	int late = 0;
	tr_msg *m;
	while ((m = tr_receive_tag(cx, T_TICK, 5 * PERIOD)) != NULL) {
		tr_msg_free(m);
		late++;
	}
	TU_CHECK(late <= 1);
	TU_CHECK_EQ(tr_send_interval(cx, tr_self(cx), 0, T_TICK, NULL, 0, NULL),
	    TR_EINVAL);
	TU_CHECK_EQ(tr_send_interval(cx, tr_self(cx), -5, T_TICK, NULL, 0,
	                NULL),
	    TR_EINVAL);
}

static tr_timer owner_timer;

/* Starts an interval to arg's pid and ends: the timer must end too. */
static void
interval_owner(tr_ctx *cx, void *arg)
{
	TU_CHECK_EQ(tr_send_interval(cx, *(tr_pid *) arg, 1, T_TICK, NULL, 0,
	                &owner_timer),
	    0);
}

static void
test_interval(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tu_run_proc(sys, interval_proc, NULL);

	/* A plain thread's interval to an actor; cancelled. */
	static tick_st ts;
	atomic_store(&ts.ticks, 0);
	tr_pid c;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &c, tick_fn, &ts, &o), 0);
	tr_timer t;
	assert_int_equal(tr_system_send_interval(sys, c, 1, T_TICK, NULL, 0,
	                     &t),
	    0);
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (atomic_load(&ts.ticks) < 5 && tu_poll(&d))
		;
	assert_true(atomic_load(&ts.ticks) >= 5);
	assert_int_equal(tr_cancel_timer(sys, t), 0);
	assert_int_equal(tr_cancel_timer(sys, t), TR_ENOENT);

	/* Started by a process that then ends: the timer ends at its next
	 * tick.  Its message template is a live block as long as it lasts:
	 * "no block left" (polled, bounded) means it is gone. */
	tr_pid p = tu_spawn_proc(sys, interval_owner, &c, 0, NULL);
	tu_wait_info(sys, p);
	tu_assert_left(sys, 1);
	assert_int_equal(tr_cancel_timer(sys, owner_timer), TR_ENOENT);

	/* To a target that ends: the timer ends with it. */
	assert_int_equal(tr_system_send_interval(sys, c, 1, T_TICK, NULL, 0,
	                     &t),
	    0);
	assert_int_equal(tr_system_send(sys, c, T_STOP, NULL, 0), 0);
	tu_wait_info(sys, c);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_cancel_timer(sys, t), TR_ENOENT);
	tu_stop(sys);
}

/* An interval still running at stop is freed (ASan/valgrind). */
static void
test_interval_at_stop(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static tick_st ts;
	tr_pid c;
	assert_int_equal(tr_spawn(sys, &c, tick_fn, &ts, NULL), 0);
	assert_int_equal(tr_system_send_interval(sys, c, 1000, T_TICK, "abc", 3,
	                     NULL),
	    0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ------------------------------------------------ state copied in */

typedef struct acc {
	int64_t sum;
	int64_t n;
	int64_t *out; /* where the final sum goes */
} acc;

static void *state_seen;

static int
acc_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	acc *a = state;
	state_seen = state;
	if (tr_msg_tag(m) == T_STOP) {
		*a->out = a->sum * 1000 + a->n;
		return TR_STOP;
	}
	int64_t v = 0;
	(void) tr_msg_int(m, &v);
	a->sum += v;
	return TR_CONTINUE;
}

static atomic_int acc_freed;
static void *acc_freed_ptr;

static void
acc_free(void *state)
{
	acc_freed_ptr = state;
	atomic_fetch_add(&acc_freed, 1);
}

static void
arg_proc(tr_ctx *cx, void *arg)
{
	(void) cx;
	acc *a = arg;
	*a->out = a->sum + a->n;
}

static void
test_state_copy(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	int64_t out = 0;
	acc a0 = { .sum = 5, .n = 2, .out = &out };
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT,
		.state_free = acc_free,
		.state_size = sizeof(acc) };
	atomic_store(&acc_freed, 0);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, acc_fn, &a0, &o), 0);
	a0.sum = 1000; /* the actor has its own copy */
	assert_int_equal(tr_system_send_int(sys, p, T_MSG, 10), 0);
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	tu_wait_info(sys, p);
	assert_int_equal(out, 15 * 1000 + 2);
	assert_true(state_seen != (void *) &a0);
	/* state_free ran on the copy, then the runtime freed it (ASan). */
	assert_int_equal(atomic_load(&acc_freed), 1);
	assert_ptr_equal(acc_freed_ptr, state_seen);

	/* A process's arg, and a NULL source: zeroed. */
	acc a1 = { .sum = 7, .n = 1, .out = &out };
	tr_spawn_opts po = { .flags = TR_SPAWN_WAIT,
		.state_size = sizeof(acc) };
	assert_int_equal(tr_spawn_process(sys, &p, arg_proc, &a1, &po), 0);
	tu_wait_info(sys, p);
	assert_int_equal(out, 8);
	tr_spawn_opts zo = { .state_size = 64 };
	assert_int_equal(tr_spawn(sys, &p, acc_fn, NULL, &zo), 0);
	/* Too large: refused, state_free runs on the caller's state. */
	atomic_store(&acc_freed, 0);
	tr_spawn_opts big = { .state_free = acc_free,
		.state_size = TR_STATE_MAX + 1 };
	assert_int_equal(tr_spawn(sys, &p, acc_fn, &a0, &big), TR_EINVAL);
	assert_int_equal(atomic_load(&acc_freed), 1);
	assert_ptr_equal(acc_freed_ptr, &a0);
	/* A copy whose spawn fails (taken name) is not leaked (ASan). */
	tr_spawn_opts n1 = { .name = "acc", .state_size = sizeof(acc) };
	tr_pid q;
	assert_int_equal(tr_spawn(sys, &q, acc_fn, &a0, &n1), 0);
	assert_int_equal(tr_spawn(sys, &p, acc_fn, &a0, &n1), TR_EEXIST);
	assert_int_equal(tr_spawn_process(sys, &p, arg_proc, &a0, &n1),
	    TR_EEXIST);
	/* Still alive at stop: the copies are freed there too (ASan). */
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ------------------------------------- event actors: one rule */

static atomic_int ev_sleep_rv, ev_yield_rv;

static int
ev_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) == T_TRY) {
		atomic_store(&ev_sleep_rv, tr_sleep(cx, 10));
		atomic_store(&ev_yield_rv, tr_yield(cx));
		return TR_STOP;
	}
	/* TR_ASSERT in an event actor: the actor ends with its reason when
	 * the handler returns, even though it returns TR_CONTINUE. */
	TR_ASSERT(cx, tr_msg_tag(m) != T_MSG);
	return TR_CONTINUE;
}

static void
test_event_rules(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	tr_pid p;
	atomic_store(&ev_sleep_rv, 1);
	atomic_store(&ev_yield_rv, 1);
	assert_int_equal(tr_spawn(sys, &p, ev_fn, NULL, &o), 0);
	assert_int_equal(tr_system_send(sys, p, T_TRY, NULL, 0), 0);
	tu_wait_info(sys, p);
	assert_int_equal(atomic_load(&ev_sleep_rv), TR_ECONTEXT);
	assert_int_equal(atomic_load(&ev_yield_rv), TR_ECONTEXT);
	assert_int_equal(tr_sleep(NULL, 1), TR_ECONTEXT);
	assert_int_equal(tr_yield(NULL), TR_ECONTEXT);

	assert_int_equal(tr_spawn(sys, &p, ev_fn, NULL, &o), 0);
	assert_int_equal(tr_system_send(sys, p, T_MSG, NULL, 0), 0);
	tr_exit_info info = tu_wait_info(sys, p);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_non_null(strstr(info.text, "assertion failed"));

	/* *reply is NULL after every error, even a NULL system. */
	tr_msg *r = (tr_msg *) 1;
	assert_int_equal(tr_system_call(NULL, p, T_ASK, NULL, 0, 10, &r),
	    TR_EINVAL);
	assert_null(r);
	r = (tr_msg *) 1;
	assert_int_equal(tr_system_call_term(NULL, p, T_ASK, 10, &r, "[i]", 1),
	    TR_EINVAL);
	assert_null(r);
	/* TR_EDOWN: *reply is the DOWN (noproc), to be freed. */
	assert_int_equal(tr_system_call(sys, p, T_ASK, NULL, 0, 1000, &r),
	    TR_EDOWN);
	assert_non_null(r);
	assert_int_equal(tr_msg_reason(r, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NOPROC);
	tr_msg_free(r);
	tu_stop(sys);
}

/* ------------------------------------------------------ actor info */

static atomic_int info_go;

/* Blocks in receive for T_STOP, leaving T_MSG messages queued. */
static void
info_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_actor_info self;
	TU_CHECK_EQ(tr_actor_info_get(tr_ctx_system(cx), tr_self(cx), 0, &self),
	    0);
	TU_CHECK(
	    self.detailed && self.process && self.status == TR_STATUS_RUNNING);
	TU_CHECK(self.stack_size > 0);
	TU_CHECK(strcmp(self.name, "inspected") == 0);
	(void) tr_trap_exit(cx, true);
	atomic_store(&info_go, 1);
	tr_msg *m = tr_receive_tag(cx, T_STOP, TU_RECV_MS * 3);
	TU_CHECK(m != NULL);
	tr_msg_free(m);
}

static atomic_int spin_stop;

static int
spin_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (!atomic_load(&spin_stop) && !tu_expired(&d))
		;
	return TR_CONTINUE;
}

static void
test_actor_info(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	atomic_store(&info_go, 0);
	tr_pid p;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT, .name = "inspected" };
	assert_int_equal(tr_spawn_process(sys, &p, info_proc, NULL, &o), 0);
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (!atomic_load(&info_go) && tu_poll(&d))
		;
	for (int i = 0; i < 5; i++)
		assert_int_equal(tr_system_send(sys, p, T_MSG, "x", 1), 0);
	/* Five messages it does not want: it stays blocked in receive. */
	tr_actor_info in;
	d = tu_deadline_ms(30000 * TU_SLOW);
	do {
		assert_int_equal(tr_actor_info_get(sys, p, TU_RECV_MS, &in), 0);
	} while ((!in.detailed || in.message_queue_len < 5 ||
	             in.status != TR_STATUS_WAITING) &&
	    tu_poll(&d));
	assert_true(in.detailed);
	assert_true(in.process);
	assert_true(in.trap_exit);
	assert_int_equal(in.message_queue_len, 5);
	assert_int_equal(in.status, TR_STATUS_WAITING);
	assert_string_equal(in.name, "inspected");
	assert_int_equal(in.links, 0);
	assert_true(in.stack_size > 0);
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	tu_wait_info(sys, p);
	assert_int_equal(tr_actor_info_get(sys, p, TU_RECV_MS, &in),
	    TR_ENOPROC);
	assert_int_equal(tr_actor_info_get(NULL, p, 0, &in), TR_EINVAL);
	assert_int_equal(tr_actor_info_get(sys, TR_PID_NIL, 0, &in), TR_EINVAL);

	/* An event actor busy in a long turn does not answer in time. */
	atomic_store(&spin_stop, 0);
	tr_spawn_opts eo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &p, spin_fn, NULL, &eo), 0);
	assert_int_equal(tr_system_send(sys, p, T_MSG, NULL, 0), 0);
	assert_int_equal(tr_system_send(sys, p, T_MSG, NULL, 0), 0);
	assert_int_equal(tr_actor_info_get(sys, p, 20, &in), 0);
	assert_false(in.process);
	if (!in.detailed) /* else the spin had not begun yet */
		assert_int_equal(in.status, TR_STATUS_RUNNING);
	atomic_store(&spin_stop, 1);
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	tu_wait_info(sys, p);
	tu_stop(sys);
}

/* ------------------------------------------------------------ tr_run */

static void
run_ok(tr_ctx *cx, void *arg)
{
	*(tr_pid *) arg = tr_self(cx);
	/* Left alive: tr_run's stop ends it with reason shutdown. */
	TU_CHECK_EQ(tr_spawn(tr_ctx_system(cx), NULL, named_fn, NULL, NULL), 0);
}

static void
run_crash(tr_ctx *cx, void *arg)
{
	(void) arg;
	TR_ASSERT(cx, 1 == 2);
}

static void
test_run(void **unused)
{
	(void) unused;
	tr_pid p = TR_PID_NIL;
	tr_exit_info info;
	assert_int_equal(tr_run(NULL, run_ok, &p, &info), 0);
	assert_false(tr_pid_is_nil(p));
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 1;
	assert_int_equal(tr_run(&cfg, run_crash, NULL, &info), TR_EDOWN);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_non_null(strstr(info.text, "1 == 2"));
	assert_int_equal(tr_run(NULL, NULL, NULL, NULL), TR_EINVAL);
	cfg.workers = 5000;
	assert_int_equal(tr_run(&cfg, run_ok, &p, NULL), TR_EINVAL);
	tu_assert_no_failures();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_name),
		cmocka_unit_test(test_spawn_name_taken),
		cmocka_unit_test(test_call_name),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_interval_at_stop),
		cmocka_unit_test(test_state_copy),
		cmocka_unit_test(test_event_rules),
		cmocka_unit_test(test_actor_info),
		cmocka_unit_test(test_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
