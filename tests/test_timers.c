/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Timers (guide chapter 4): tr_send_after delivers never before its delay
 * (CLOCK_MONOTONIC) and within a generous bound; receive timeouts;
 * tr_cancel_timer before the fire (0, and the message never comes: a
 * later sentinel timer proves it), after the fire and with a stale handle
 * (TR_ENOENT, and a newer timer in the same object is untouched);
 * cancelling from a process on another worker and from a plain thread,
 * and a cancelled timer's message freed while every worker sleeps;
 * a million timers pending at once, then cancelled, with every message
 * block freed; tr_system_send_after from plain threads; timers outliving
 * their starter; timers still pending when the system stops (freed: ASan
 * reports a leak otherwise).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum {
	T_TICK = 1,
	T_CANCELLED,
	T_SENTINEL,
	T_GO,
	T_JUNK,
	T_STOP,
	T_LATE,
};

/* Lateness limits: a sample must come within SLACK_MAX_MS of its
 * deadline (a loaded machine may stall a worker), the median within
 * SLACK_MEDIAN_MS. */
#define SLACK_MAX_MS (2000.0 * TU_SLOW)
#define SLACK_MEDIAN_MS (50.0 * TU_SLOW)

#define CHECK_MSG(m)                           \
	do {                                   \
		if ((m) == NULL) {             \
			TU_CHECK((m) != NULL); \
			return;                \
		}                              \
	} while (0)

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return x < y ? -1 : x > y;
}

/* lateness_check sorts n samples of lateness (ms past the deadline) and
 * asserts the bounds. */
static void
lateness_check(const char *what, double *late, int n)
{
	qsort(late, (size_t) n, sizeof *late, cmp_double);
	printf("# %s: %d samples, late by min %.3f, median %.3f, max %.3f ms\n",
	    what, n, late[0], late[n / 2], late[n - 1]);
	assert_true(late[0] >= 0.0); /* never early */
	assert_true(late[n / 2] < SLACK_MEDIAN_MS);
	assert_true(late[n - 1] < SLACK_MAX_MS);
}

/* ---------------------------------------------------------- delivery */

static const int delays[] = { 0, 1, 2, 3, 5, 10, 20, 50, 100 };
#define NDELAYS ((int) (sizeof delays / sizeof delays[0]))
#define REPS 4

typedef struct delay_st {
	double late[NDELAYS * REPS];
	int n;
} delay_st;

static void
send_after_body(tr_ctx *cx, void *arg)
{
	delay_st *s = arg;
	for (int r = 0; r < REPS; r++) {
		for (int i = 0; i < NDELAYS; i++) {
			int d = delays[i];
			uint64_t t0 = tu_now_ns();
			tr_timer t;
			TU_CHECK(tr_send_after(cx, tr_self(cx), d, T_TICK, &d,
			             sizeof d, &t) == 0);
			tr_msg *m = tr_receive_tag(cx, T_TICK, TU_RECV_MS);
			double el = tu_ms_since(t0);
			CHECK_MSG(m);
			TU_CHECK(tr_pid_eq(tr_msg_from(m), tr_self(cx)));
			TU_CHECK(tr_msg_len(m) == sizeof d &&
			    memcmp(tr_msg_data(m), &d, sizeof d) == 0);
			tr_msg_free(m);
			if (el < d)
				fprintf(stderr,
				    "delay %d ms: came after %.3f\n", d, el);
			s->late[s->n++] = el - d;
			/* It fired: too late to cancel. */
			TU_CHECK(
			    tr_cancel_timer(tr_ctx_system(cx), t) == TR_ENOENT);
		}
	}
}

static void
test_send_after_delay(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static delay_st s;
	memset(&s, 0, sizeof s);
	tu_run_proc(sys, send_after_body, &s);
	tu_assert_no_failures();
	assert_int_equal(s.n, NDELAYS * REPS);
	lateness_check("tr_send_after to self", s.late, s.n);
	tu_stop(sys);
}

/* Many timers at once, to another actor, each at or after its deadline
 * and each exactly once. */

#define MANY TU_PICK(2000, 500, 300)

typedef struct stamp {
	uint64_t start_ns;
	int delay;
	int idx;
	tr_pid from; /* who started the timer (nil: a plain thread) */
} stamp;

typedef struct recv_st {
	atomic_int got;
	atomic_int early;
	atomic_int dup;
	unsigned char seen[MANY];
	double late[MANY];
} recv_st;

static int
recv_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	recv_st *s = state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	uint64_t now = tu_now_ns();
	stamp st;
	TU_CHECK(tr_msg_len(m) == sizeof st);
	if (tr_msg_len(m) != sizeof st)
		return TR_CONTINUE;
	memcpy(&st, tr_msg_data(m), sizeof st);
	TU_CHECK(st.idx >= 0 && st.idx < MANY);
	if (st.idx < 0 || st.idx >= MANY)
		return TR_CONTINUE;
	TU_CHECK(tr_pid_eq(tr_msg_from(m), st.from));
	double el = (double) (now - st.start_ns) / 1e6;
	if (el < st.delay)
		atomic_fetch_add(&s->early, 1);
	if (s->seen[st.idx]++)
		atomic_fetch_add(&s->dup, 1);
	s->late[st.idx] = el - st.delay;
	atomic_fetch_add(&s->got, 1);
	return TR_CONTINUE;
}

typedef struct many_st {
	tr_pid target;
} many_st;

static void
many_body(tr_ctx *cx, void *arg)
{
	many_st *s = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < MANY; i++) {
		stamp st = { tu_now_ns(), (int) (tu_rand(&seed) % 200), i,
			tr_self(cx) };
		TU_CHECK(tr_send_after(cx, s->target, st.delay, T_TICK, &st,
		             sizeof st, NULL) == 0);
	}
}

static void
test_many_timers_deliver(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	recv_st *r = calloc(1, sizeof *r);
	assert_non_null(r);
	tr_pid target;
	assert_int_equal(tr_spawn(sys, &target, recv_fn, r, NULL), 0);
	static many_st s;
	s.target = target;
	tr_pid p = tu_spawn_proc(sys, many_body, &s, 0, NULL);
	/* Timers fire after their starter ended: it is not their owner. */
	assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
	TU_WAIT_EQ(atomic_load(&r->got), MANY);
	assert_int_equal(atomic_load(&r->early), 0);
	assert_int_equal(atomic_load(&r->dup), 0);
	lateness_check("timers pending at once", r->late, MANY);
	assert_int_equal(tr_system_send(sys, target, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, target, TR_REASON_NORMAL);
	free(r);
	tu_stop(sys);
}

/* ------------------------------------------------- receive timeouts */

static const int rdelays[] = { 1, 2, 5, 10, 20, 50, 100 };
#define NRDELAYS ((int) (sizeof rdelays / sizeof rdelays[0]))

typedef struct rto_st {
	double late[NRDELAYS * REPS + 8];
	int n;
	double stale_ms;
	double busy_ms;
	int junk; /* messages that came during that receive */
	tr_pid self;
	tr_pid junker;
} rto_st;

/* The junker sends T_JUNK to its target every 2 ms until told to stop
 * (at most for 30 s). */
static void
junker_body(tr_ctx *cx, void *arg)
{
	tr_pid *target = arg;
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (!tu_expired(&d)) {
		TU_CHECK(tr_send(cx, *target, T_JUNK, NULL, 0) == 0);
		tr_msg *m = tr_receive_tag(cx, T_STOP, 2);
		if (m != NULL) {
			tr_msg_free(m);
			return;
		}
	}
}

static void
rto_body(tr_ctx *cx, void *arg)
{
	rto_st *s = arg;
	for (int r = 0; r < REPS; r++) {
		for (int i = 0; i < NRDELAYS; i++) {
			int d = rdelays[i];
			uint64_t t0 = tu_now_ns();
			tr_msg *m = tr_receive(cx, d);
			double el = tu_ms_since(t0);
			TU_CHECK(m == NULL);
			tr_msg_free(m);
			if (el < d)
				fprintf(stderr,
				    "receive(%d) returned after %.3f\n", d, el);
			s->late[s->n++] = el - d;
		}
	}
	/* A receive that got its message at once leaves no timeout behind
	 * to cut the next receive short. */
	TU_CHECK(tr_send(cx, tr_self(cx), T_TICK, NULL, 0) == 0);
	tr_msg *m = tr_receive(cx, 30);
	TU_CHECK(m != NULL);
	tr_msg_free(m);
	uint64_t t0 = tu_now_ns();
	TU_CHECK(tr_receive(cx, 100) == NULL);
	s->stale_ms = tu_ms_since(t0);
	TU_CHECK(s->stale_ms >= 100.0);

	/* Messages that do not match keep arriving: the timeout still ends
	 * the receive on time, and they stay queued. */
	s->self = tr_self(cx);
	tr_spawn_opts jo = { .flags = TR_SPAWN_WAIT };
	TU_CHECK(tr_spawn_process(tr_ctx_system(cx), &s->junker, junker_body,
	             &s->self, &jo) == 0);
	m = tr_receive_tag(cx, T_JUNK, TU_RECV_MS); /* it is running */
	TU_CHECK(m != NULL);
	tr_msg_free(m);
	t0 = tu_now_ns();
	TU_CHECK(tr_receive_tag(cx, T_TICK, 50) == NULL);
	s->busy_ms = tu_ms_since(t0);
	TU_CHECK(s->busy_ms >= 50.0);
	s->late[s->n++] = s->busy_ms - 50.0;
	TU_CHECK(tr_send(cx, s->junker, T_STOP, NULL, 0) == 0);
	while ((m = tr_receive_tag(cx, T_JUNK, 0)) != NULL) {
		s->junk++;
		tr_msg_free(m);
	}
}

static void
test_receive_timeout(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static rto_st s;
	memset(&s, 0, sizeof s);
	tr_pid p = tu_spawn_proc(sys, rto_body, &s, 0, NULL);
	assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
	assert_int_equal(tu_wait_info(sys, s.junker).kind, TR_REASON_NORMAL);
	tu_assert_no_failures();
	printf("# receive(100) after an answered receive(30): %.3f ms; "
	       "receive_tag(50) under a stream of %d others: %.3f ms\n",
	    s.stale_ms, s.junk, s.busy_ms);
	lateness_check("receive timeouts", s.late, s.n);
	tu_stop(sys);
}

/* ------------------------------------------------------- cancelling */

typedef struct log_st {
	atomic_int cancelled; /* T_CANCELLED seen */
	atomic_int sentinel;
	atomic_int ticks;
} log_st;

static int
log_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	log_st *s = state;
	switch (tr_msg_tag(m)) {
	case T_CANCELLED:
		atomic_fetch_add(&s->cancelled, 1);
		break;
	case T_SENTINEL:
		atomic_fetch_add(&s->sentinel, 1);
		return TR_STOP;
	case T_TICK:
		atomic_fetch_add(&s->ticks, 1);
		break;
	default:
		break;
	}
	return TR_CONTINUE;
}

#define CANCEL_N 200

typedef struct cancel_st {
	tr_system *sys;
	int got_odd;
	int got_other;
	int stale_fired;
	bool same_object[2];
} cancel_st;

/* poll_tag waits (bounded) for a tag without a receive timeout: it polls
 * and yields, so that it starts no timer of its own. */
static tr_msg *
poll_tag(tr_ctx *cx, uint32_t tag)
{
	tu_deadline d = tu_deadline_ms(TU_RECV_MS);
	do {
		tr_msg *m = tr_receive_tag(cx, tag, 0);
		if (m != NULL)
			return m;
		tr_yield(cx);
	} while (!tu_expired(&d));
	return NULL;
}

static void
cancel_body(tr_ctx *cx, void *arg)
{
	cancel_st *s = arg;
	tr_system *sys = tr_ctx_system(cx);
	tr_pid self = tr_self(cx);

	/* Before the fire: 0, then TR_ENOENT; the message never comes. */
	tr_timer t[CANCEL_N];
	for (int i = 0; i < CANCEL_N; i++) {
		int d = 10 + i % 50;
		TU_CHECK(
		    tr_send_after(cx, self, d, (i & 1) ? T_TICK : T_CANCELLED,
		        &i, sizeof i, &t[i]) == 0);
	}
	for (int i = 0; i < CANCEL_N; i += 2)
		TU_CHECK_EQ(tr_cancel_timer(sys, t[i]), 0);
	for (int i = 0; i < CANCEL_N; i += 2)
		TU_CHECK_EQ(tr_cancel_timer(sys, t[i]), TR_ENOENT);
	/* The sentinel's deadline is after all of theirs, on the same
	 * worker's wheel: once it is here, all of them would be. */
	TU_CHECK(tr_send_after(cx, self, 100, T_SENTINEL, NULL, 0, NULL) == 0);
	tr_msg *m = tr_receive_tag(cx, T_SENTINEL, TU_RECV_MS);
	CHECK_MSG(m);
	tr_msg_free(m);
	while ((m = tr_receive(cx, 0)) != NULL) {
		int i = -1;
		if (tr_msg_len(m) == sizeof i)
			memcpy(&i, tr_msg_data(m), sizeof i);
		if (tr_msg_tag(m) == T_TICK && (i & 1))
			s->got_odd++;
		else
			s->got_other++;
		tr_msg_free(m);
	}
	/* The odd ones fired: too late to cancel them. */
	for (int i = 1; i < CANCEL_N; i += 2)
		TU_CHECK_EQ(tr_cancel_timer(sys, t[i]), TR_ENOENT);

	/* A stale handle never names a later timer, even one that reuses
	 * its object. */
	tr_timer a, b;
	TU_CHECK(tr_send_after(cx, self, 1, T_TICK, NULL, 0, &a) == 0);
	m = poll_tag(cx, T_TICK); /* no receive timer: a's object is free */
	CHECK_MSG(m);
	tr_msg_free(m);
	TU_CHECK_EQ(tr_cancel_timer(sys, a), TR_ENOENT);
	TU_CHECK(tr_send_after(cx, self, 30, T_LATE, NULL, 0, &b) == 0);
	s->same_object[0] = a.t_p == b.t_p;
	TU_CHECK_EQ(tr_cancel_timer(sys, a), TR_ENOENT);
	m = tr_receive_tag(cx, T_LATE, TU_RECV_MS);
	if (m != NULL)
		s->stale_fired++;
	tr_msg_free(m);
	/* The same after a cancel. */
	TU_CHECK(tr_send_after(cx, self, 200, T_CANCELLED, NULL, 0, &a) == 0);
	TU_CHECK_EQ(tr_cancel_timer(sys, a), 0);
	TU_CHECK(tr_send_after(cx, self, 30, T_LATE, NULL, 0, &b) == 0);
	s->same_object[1] = a.t_p == b.t_p;
	TU_CHECK_EQ(tr_cancel_timer(sys, a), TR_ENOENT);
	m = tr_receive_tag(cx, T_LATE, TU_RECV_MS);
	if (m != NULL)
		s->stale_fired++;
	tr_msg_free(m);

	/* A zeroed handle. */
	tr_timer zero = { NULL, 0 };
	TU_CHECK_EQ(tr_cancel_timer(sys, zero), TR_EINVAL);
	TU_CHECK_EQ(tr_cancel_timer(NULL, b), TR_EINVAL);
}

static void
test_cancel(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cancel_st s;
	memset(&s, 0, sizeof s);
	tu_run_proc(sys, cancel_body, &s);
	tu_assert_no_failures();
	assert_int_equal(s.got_odd, CANCEL_N / 2);
	assert_int_equal(s.got_other, 0);
	assert_int_equal(s.stale_fired, 2);
	/* Whether a new timer reuses an old one's object depends on the
	 * allocator; the checks above matter most when it does. */
	printf("# a new timer reused the object of a fired / cancelled one: "
	       "%s / %s\n",
	    s.same_object[0] ? "yes" : "no", s.same_object[1] ? "yes" : "no");
	tu_stop(sys);
}

/* Cancelled by a process on the other worker: the starter spins on its
 * worker, so the canceller cannot run on the same one. */

typedef struct xw_st {
	tr_pid logger;
	tr_timer handle;
	atomic_int a_ready;
	atomic_int b_done;
	int b_rv, b_rv2;
	pthread_t a_thread, b_thread;
} xw_st;

static void
xw_starter(tr_ctx *cx, void *arg)
{
	xw_st *s = arg;
	s->a_thread = pthread_self();
	TU_CHECK(tr_send_after(cx, s->logger, 100, T_CANCELLED, NULL, 0,
	             &s->handle) == 0);
	atomic_store(&s->a_ready, 1);
	tu_deadline d = tu_deadline_ms(20000 * TU_SLOW);
	while (!atomic_load(&s->b_done) && !tu_expired(&d)) {
	}
	TU_CHECK(atomic_load(&s->b_done));
	/* Same wheel, later deadline. */
	TU_CHECK(
	    tr_send_after(cx, s->logger, 150, T_SENTINEL, NULL, 0, NULL) == 0);
}

static void
xw_canceller(tr_ctx *cx, void *arg)
{
	xw_st *s = arg;
	s->b_thread = pthread_self();
	s->b_rv = tr_cancel_timer(tr_ctx_system(cx), s->handle);
	s->b_rv2 = tr_cancel_timer(tr_ctx_system(cx), s->handle);
	atomic_store(&s->b_done, 1);
}

static void
test_cancel_other_worker(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static log_st lg;
	memset(&lg, 0, sizeof lg);
	static xw_st s;
	memset(&s, 0, sizeof s);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &s.logger, log_fn, &lg, &wo), 0);
	tr_pid a = tu_spawn_proc(sys, xw_starter, &s, 0, NULL);
	TU_WAIT_EQ(atomic_load(&s.a_ready), 1);
	tr_pid b = tu_spawn_proc(sys, xw_canceller, &s, 0, NULL);
	assert_int_equal(tu_wait_info(sys, b).kind, TR_REASON_NORMAL);
	assert_int_equal(tu_wait_info(sys, a).kind, TR_REASON_NORMAL);
	assert_int_equal(tu_wait_info(sys, s.logger).kind, TR_REASON_NORMAL);
	assert_false(pthread_equal(s.a_thread, s.b_thread));
	assert_int_equal(s.b_rv, 0);
	assert_int_equal(s.b_rv2, TR_ENOENT);
	assert_int_equal(atomic_load(&lg.sentinel), 1);
	assert_int_equal(atomic_load(&lg.cancelled), 0);
	tu_stop(sys);
}

/* Cancelled from a plain thread: an actor's timer, and the plain
 * thread's own (some still on the hand-off list, some filed). */

typedef struct pt_st {
	tr_pid logger;
	tr_timer handle;
	atomic_int ready;
	atomic_int cancelled;
} pt_st;

static void
pt_starter(tr_ctx *cx, void *arg)
{
	pt_st *s = arg;
	TU_CHECK(tr_send_after(cx, s->logger, 100, T_CANCELLED, NULL, 0,
	             &s->handle) == 0);
	atomic_store(&s->ready, 1);
	/* Hold this worker (and its wheel) until the test thread has
	 * cancelled, however slow it is: the timer cannot fire first. */
	tu_deadline d = tu_deadline_ms(20000 * TU_SLOW);
	while (!atomic_load(&s->cancelled) && !tu_expired(&d)) {
	}
	TU_CHECK(atomic_load(&s->cancelled));
	tr_msg *m = tr_receive_tag(cx, T_GO, TU_RECV_MS);
	TU_CHECK(m != NULL);
	tr_msg_free(m);
	/* Same wheel, later deadline. */
	TU_CHECK(
	    tr_send_after(cx, s->logger, 150, T_SENTINEL, NULL, 0, NULL) == 0);
}

/* Takes a tr_timer from a message and cancels it. */
static void
pt_canceller(tr_ctx *cx, void *arg)
{
	int *rv = arg;
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	CHECK_MSG(m);
	tr_timer t;
	TU_CHECK(tr_msg_len(m) == sizeof t);
	memcpy(&t, tr_msg_data(m), sizeof t);
	tr_msg_free(m);
	rv[0] = tr_cancel_timer(tr_ctx_system(cx), t);
	rv[1] = tr_cancel_timer(tr_ctx_system(cx), t);
}

#define PT_N TU_PICK(2000, 500, 300)

static void
test_cancel_plain_thread(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static log_st lg;
	memset(&lg, 0, sizeof lg);
	static pt_st s;
	memset(&s, 0, sizeof s);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &s.logger, log_fn, &lg, &wo), 0);
	tr_pid a = tu_spawn_proc(sys, pt_starter, &s, 0, NULL);
	TU_WAIT_EQ(atomic_load(&s.ready), 1);
	int rv1 = tr_cancel_timer(sys, s.handle);
	int rv2 = tr_cancel_timer(sys, s.handle);
	atomic_store(&s.cancelled, 1);
	assert_int_equal(rv1, 0);
	assert_int_equal(rv2, TR_ENOENT);

	/* The plain thread's own timers, cancelled at once or a little
	 * later (after worker 0 may have filed them); never due during the
	 * test, however slow this thread is. */
	tr_timer *h = calloc(PT_N, sizeof *h);
	assert_non_null(h);
	for (int i = 0; i < PT_N; i++) {
		assert_int_equal(tr_system_send_after(sys, s.logger, 600000 + i,
		                     T_CANCELLED, NULL, 0, &h[i]),
		    0);
		if (i & 1)
			assert_int_equal(tr_cancel_timer(sys, h[i]), 0);
	}
	for (int i = 0; i < PT_N; i += 2)
		assert_int_equal(tr_cancel_timer(sys, h[i]), 0);
	for (int i = 0; i < PT_N; i++)
		assert_int_equal(tr_cancel_timer(sys, h[i]), TR_ENOENT);

	/* A plain thread's timer cancelled by a process. */
	tr_timer t;
	assert_int_equal(tr_system_send_after(sys, s.logger, 600000,
	                     T_CANCELLED, NULL, 0, &t),
	    0);
	static int rv[2];
	tr_pid c = tu_spawn_proc(sys, pt_canceller, rv, 0, NULL);
	assert_int_equal(tr_system_send(sys, c, T_TICK, &t, sizeof t), 0);
	assert_int_equal(tu_wait_info(sys, c).kind, TR_REASON_NORMAL);
	assert_int_equal(rv[0], 0);
	assert_int_equal(rv[1], TR_ENOENT);

	assert_int_equal(tr_system_send(sys, a, T_GO, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, a).kind, TR_REASON_NORMAL);
	assert_int_equal(tu_wait_info(sys, s.logger).kind, TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&lg.sentinel), 1);
	assert_int_equal(atomic_load(&lg.cancelled), 0);
	free(h);
	tu_stop(sys);
}

/*
 * A cancelled timer's message is freed promptly, also when the cancel
 * comes from another thread while the timer's worker sleeps: once the
 * system is idle, nothing of a cancelled timer is left (the brief's
 * "msg_blocks_live back to 0 after idle").
 */

typedef struct idle_st {
	tr_timer handle;
	atomic_int ready;
} idle_st;

static void
idle_starter(tr_ctx *cx, void *arg)
{
	idle_st *s = arg;
	TU_CHECK(tr_send_after(cx, tr_self(cx), 3600000, T_CANCELLED, NULL, 0,
	             &s->handle) == 0);
	atomic_store(&s->ready, 1);
	/* No receive timeout: the hour-long timer is the wheel's only one.
	 * The test thread always sends GO. */
	tr_msg *m = tr_receive_tag(cx, T_GO, TR_INFINITY);
	tr_msg_free(m);
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
test_cancel_frees_when_idle(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static idle_st s;
	memset(&s, 0, sizeof s);
	tr_pid p = tu_spawn_proc(sys, idle_starter, &s, 0, NULL);
	TU_WAIT_EQ(atomic_load(&s.ready), 1);
	assert_int_equal(tr_system_idle(sys, 10000 * TU_SLOW), 0);
	assert_int_equal(tu_stats(sys).msg_blocks_live, 1); /* the timer's */
	/* From a plain thread while every worker sleeps. */
	assert_int_equal(tr_cancel_timer(sys, s.handle), 0);
	tu_deadline d = tu_deadline_ms(5000 * TU_SLOW);
	while (tu_stats(sys).msg_blocks_live != 0 && tu_poll(&d)) {
	}
	tr_system_stats st = tu_stats(sys);
	if (st.msg_blocks_live != 0)
		fprintf(stderr,
		    "cancelled timer's message still live %d s after the "
		    "cancel (its worker sleeps until the cancelled deadline)\n",
		    5 * TU_SLOW);
	assert_int_equal(st.msg_blocks_live, 0);
	assert_int_equal(tr_system_send(sys, p, T_GO, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
	tu_stop(sys);
}

/* ------------------------------------------------ a million timers */

#define MT_TOTAL TU_PICK(1000000, 200000, 100000)
#define MT_PROCS 4
#define MT_PER (MT_TOTAL / MT_PROCS)

typedef struct mt_st {
	tr_timer *h[MT_PROCS];
	atomic_int started;
	atomic_long failed;
	double start_ms[MT_PROCS], cancel_ms[MT_PROCS];
} mt_st;

typedef struct mt_arg {
	mt_st *s;
	int i;
} mt_arg;

static void
mt_body(tr_ctx *cx, void *arg)
{
	mt_arg *a = arg;
	mt_st *s = a->s;
	tr_system *sys = tr_ctx_system(cx);
	tr_pid self = tr_self(cx);
	uint64_t seed = 0x2545f4914f6cdd1dULL * (uint64_t) (a->i + 1);
	uint64_t t0 = tu_now_ns();
	for (int k = 0; k < MT_PER; k++) {
		/* 10 minutes to 2 hours: none fires during the test. */
		int64_t d = 600000 + (int64_t) (tu_rand(&seed) % 6600000);
		if (tr_send_after(cx, self, d, T_TICK, NULL, 0,
		        &s->h[a->i][k]) != 0)
			atomic_fetch_add(&s->failed, 1);
		if ((k & 4095) == 4095)
			tr_yield(cx);
	}
	s->start_ms[a->i] = tu_ms_since(t0);
	atomic_fetch_add(&s->started, 1);
	tr_msg *go = tr_receive_tag(cx, T_GO, TU_RECV_MS * 3);
	CHECK_MSG(go);
	tr_msg_free(go);
	/* Our own first half, and the second half of the next process's
	 * (which may run on the other worker): each timer once. */
	t0 = tu_now_ns();
	tr_timer *mine = s->h[a->i], *next = s->h[(a->i + 1) % MT_PROCS];
	for (int k = 0; k < MT_PER / 2; k++)
		if (tr_cancel_timer(sys, mine[k]) != 0)
			atomic_fetch_add(&s->failed, 1);
	for (int k = MT_PER / 2; k < MT_PER; k++)
		if (tr_cancel_timer(sys, next[k]) != 0)
			atomic_fetch_add(&s->failed, 1);
	s->cancel_ms[a->i] = tu_ms_since(t0);
	/* None fired: nothing arrived. */
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
test_million_timers(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static mt_st s;
	memset(&s, 0, sizeof s);
	static mt_arg args[MT_PROCS];
	tr_pid pids[MT_PROCS];
	for (int i = 0; i < MT_PROCS; i++) {
		s.h[i] = calloc(MT_PER, sizeof(tr_timer));
		assert_non_null(s.h[i]);
		args[i].s = &s;
		args[i].i = i;
		pids[i] = tu_spawn_proc(sys, mt_body, &args[i], 0, NULL);
	}
	TU_WAIT_EQ(atomic_load(&s.started), MT_PROCS);
	/* All pending at once, each holding its message. */
	tr_system_stats st = tu_stats(sys);
	printf("# %d timers pending: %llu message blocks live\n", MT_TOTAL,
	    (unsigned long long) st.msg_blocks_live);
	assert_true(st.msg_blocks_live >= (uint64_t) MT_TOTAL);
	for (int i = 0; i < MT_PROCS; i++)
		assert_int_equal(tr_system_send(sys, pids[i], T_GO, NULL, 0),
		    0);
	for (int i = 0; i < MT_PROCS; i++)
		assert_int_equal(tu_wait_info(sys, pids[i]).kind,
		    TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&s.failed), 0);
	double sms = 0, cms = 0;
	for (int i = 0; i < MT_PROCS; i++) {
		sms += s.start_ms[i];
		cms += s.cancel_ms[i];
	}
	printf("# start: %.1f ns/timer, cancel: %.1f ns/timer (per process)\n",
	    sms * 1e6 / MT_TOTAL, cms * 1e6 / MT_TOTAL);
	/* Every cancelled timer's message is freed (cancels from another
	 * worker are recycled by the owner on its next look). */
	tu_stop(sys);
	for (int i = 0; i < MT_PROCS; i++)
		free(s.h[i]);
}

/* ------------------------------------------- from plain threads */

#define PLAIN_THREADS 4
#define PLAIN_PER (MANY / PLAIN_THREADS)

typedef struct plain_arg {
	tr_system *sys;
	tr_pid target;
	int base;
	pthread_barrier_t *bar;
	atomic_int *errors;
} plain_arg;

static void *
plain_thread(void *p)
{
	plain_arg *a = p;
	pthread_barrier_wait(a->bar);
	uint64_t seed = 88172645463325252ULL + (uint64_t) a->base;
	for (int i = 0; i < PLAIN_PER; i++) {
		stamp st = { tu_now_ns(), (int) (tu_rand(&seed) % 30),
			a->base + i, TR_PID_NIL };
		if (tr_system_send_after(a->sys, a->target, st.delay, T_TICK,
		        &st, sizeof st, NULL) != 0)
			atomic_fetch_add(a->errors, 1);
	}
	return NULL;
}

static void
test_system_send_after(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	recv_st *r = calloc(1, sizeof *r);
	assert_non_null(r);
	tr_pid target;
	assert_int_equal(tr_spawn(sys, &target, recv_fn, r, NULL), 0);

	/* Bad arguments. */
	assert_int_equal(tr_system_send_after(sys, target, -1, T_TICK, NULL, 0,
	                     NULL),
	    TR_EINVAL);
	assert_int_equal(tr_system_send_after(sys, TR_PID_NIL, 1, T_TICK, NULL,
	                     0, NULL),
	    TR_EINVAL);
	assert_int_equal(tr_system_send_after(sys, target, 1, TR_TAG_SYSTEM,
	                     NULL, 0, NULL),
	    TR_EINVAL);
	assert_int_equal(tr_system_send_after(sys, target, 1, T_TICK, NULL, 4,
	                     NULL),
	    TR_EINVAL);
	assert_int_equal(tr_system_send_after(NULL, target, 1, T_TICK, NULL, 0,
	                     NULL),
	    TR_EINVAL);

	/* Several threads at once; PLAIN_THREADS * PLAIN_PER <= MANY. */
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, PLAIN_THREADS);
	static atomic_int errors;
	atomic_store(&errors, 0);
	pthread_t th[PLAIN_THREADS];
	plain_arg pa[PLAIN_THREADS];
	for (int i = 0; i < PLAIN_THREADS; i++) {
		pa[i] = (plain_arg){ sys, target, i * PLAIN_PER, &bar,
			&errors };
		tu_thread_start(&th[i], plain_thread, &pa[i]);
	}
	for (int i = 0; i < PLAIN_THREADS; i++)
		tu_thread_join(th[i]);
	pthread_barrier_destroy(&bar);
	assert_int_equal(atomic_load(&errors), 0);
	int n = PLAIN_THREADS * PLAIN_PER;
	TU_WAIT_EQ(atomic_load(&r->got), n);
	assert_int_equal(atomic_load(&r->early), 0);
	assert_int_equal(atomic_load(&r->dup), 0);
	lateness_check("tr_system_send_after from 4 threads", r->late, n);

	/* To a pid that is gone: a dead letter when it fires. */
	tr_pid gone;
	assert_int_equal(tr_spawn(sys, &gone, recv_fn, r, NULL), 0);
	assert_int_equal(tr_system_send(sys, gone, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, gone, TR_REASON_NORMAL);
	uint64_t dead0 = tu_stats(sys).dead_letters;
	assert_int_equal(tr_system_send_after(sys, gone, 1, T_TICK, NULL, 0,
	                     NULL),
	    0);
	TU_WAIT_EQ(tu_stats(sys).dead_letters > dead0, true);

	assert_int_equal(tr_system_send(sys, target, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, target, TR_REASON_NORMAL);
	free(r);
	tu_stop(sys);
}

/* ------------------------------------------ pending when stopping */

#define STOP_N TU_PICK(5000, 2000, 1000)

typedef struct stop_st {
	tr_pid other;
	tr_timer h[16];
	atomic_int ready;
} stop_st;

static void
stop_starter(tr_ctx *cx, void *arg)
{
	stop_st *s = arg;
	for (int i = 0; i < STOP_N; i++) {
		tr_pid to = (i & 1) || tr_pid_is_nil(s->other) ? tr_self(cx)
		                                               : s->other;
		TU_CHECK(tr_send_after(cx, to, 3600000 + i, T_TICK, "payload",
		             7, i < 16 ? &s->h[i] : NULL) == 0);
	}
	atomic_fetch_add(&s->ready, 1);
	/* Blocked in a receive with an hour's timeout when the system
	 * stops: its timeout timer is pending too. */
	tr_msg *m = tr_receive_tag(cx, T_GO, 3600000);
	tr_msg_free(m);
}

static void
test_pending_at_stop(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static stop_st s[2];
	memset(s, 0, sizeof s);
	s[0].other = TR_PID_NIL; /* itself */
	tr_pid p0 = tu_spawn_proc(sys, stop_starter, &s[0], 0, NULL);
	s[1].other = p0;
	tr_pid p1 = tu_spawn_proc(sys, stop_starter, &s[1], 0, NULL);
	(void) p1;
	TU_WAIT_EQ(atomic_load(&s[0].ready) + atomic_load(&s[1].ready), 2);
	for (int i = 0; i < STOP_N; i++)
		assert_int_equal(tr_system_send_after(sys, p0, 3600000, T_TICK,
		                     "x", 1, NULL),
		    0);
	/* Some cancelled from here just before the stop: the owners may not
	 * have recycled them yet. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(tr_cancel_timer(sys, s[i & 1].h[i]), 0);
	tu_assert_no_failures();
	tr_system_stats st = tu_stats(sys);
	printf("# stopping with ~%d timers pending, %llu blocks live\n",
	    4 * STOP_N, (unsigned long long) st.msg_blocks_live);
	assert_true(st.msg_blocks_live >= (uint64_t) 3 * STOP_N - 16);
	/* No idle wait, no cleanup: tr_system_stop frees it all (ASan's
	 * leak check at exit proves it). */
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_after_delay),
		cmocka_unit_test(test_many_timers_deliver),
		cmocka_unit_test(test_receive_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_other_worker),
		cmocka_unit_test(test_cancel_plain_thread),
		cmocka_unit_test(test_cancel_frees_when_idle),
		cmocka_unit_test(test_million_timers),
		cmocka_unit_test(test_system_send_after),
		cmocka_unit_test(test_pending_at_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
