/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * What plain (non-actor) threads can do: send concurrently (everything
 * arrives, each thread's order kept), wait for an actor's exit (normal,
 * error with text and file:line, already dead, timeout, several waiters),
 * wait for the system to become idle; and what they may not do from
 * inside an actor (TR_ECONTEXT).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_DATA = 1, T_STOP, T_BOOM, T_CHAIN, T_SPIN, T_CONTEXT };

/* ----------------------------------------- concurrent sends from threads */

#define SENDERS 4
#define RECEIVERS 2

typedef struct seqmsg {
	uint32_t thread;
	uint32_t seq;
} seqmsg;

typedef struct rx {
	uint32_t next[SENDERS]; /* only the actor touches it */
	atomic_long got, order_errors, bad;
} rx;

static int
rx_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	rx *r = state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	seqmsg sm;
	if (tr_msg_tag(m) != T_DATA || tr_msg_len(m) != sizeof sm ||
	    !tr_pid_is_nil(tr_msg_from(m))) {
		atomic_fetch_add(&r->bad, 1);
		return TR_CONTINUE;
	}
	memcpy(&sm, tr_msg_data(m), sizeof sm);
	if (sm.thread >= SENDERS) {
		atomic_fetch_add(&r->bad, 1);
		return TR_CONTINUE;
	}
	if (sm.seq != r->next[sm.thread])
		atomic_fetch_add(&r->order_errors, 1);
	r->next[sm.thread] = sm.seq + 1;
	atomic_fetch_add(&r->got, 1);
	return TR_CONTINUE;
}

typedef struct sender_arg {
	tr_system *sys;
	tr_pid to[RECEIVERS];
	uint32_t id, count;
	pthread_barrier_t *go;
	long errors;
} sender_arg;

static void *
sender(void *p)
{
	sender_arg *a = p;
	pthread_barrier_wait(a->go);
	/* Each receiver gets seq 0, 1, 2, ... from each thread. */
	for (uint32_t i = 0; i < a->count; i++) {
		for (int r = 0; r < RECEIVERS; r++) {
			seqmsg sm = { a->id, i };
			int rv = tr_system_send(a->sys, a->to[r], T_DATA, &sm,
			    sizeof sm);
			if (rv != 0)
				a->errors++;
		}
	}
	return NULL;
}

static void
test_concurrent_sends(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static rx r[RECEIVERS];
	memset(r, 0, sizeof r);
	tr_pid rp[RECEIVERS];
	for (int i = 0; i < RECEIVERS; i++)
		assert_int_equal(tr_spawn(sys, &rp[i], rx_fn, &r[i], NULL), 0);

	uint32_t count = TU_PICK(100000, 50000, 10000);
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, SENDERS);
	pthread_t t[SENDERS];
	sender_arg args[SENDERS];
	for (uint32_t i = 0; i < SENDERS; i++) {
		args[i] = (sender_arg){ sys, { rp[0], rp[1] }, i, count, &go,
			0 };
		tu_thread_start(&t[i], sender, &args[i]);
	}
	for (int i = 0; i < SENDERS; i++)
		tu_thread_join(t[i]);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < SENDERS; i++)
		assert_int_equal(args[i].errors, 0);
	for (int i = 0; i < RECEIVERS; i++) {
		assert_int_equal(tr_system_send(sys, rp[i], T_STOP, NULL, 0),
		    0);
		tu_wait_exit(sys, rp[i], TR_REASON_NORMAL);
		assert_int_equal(atomic_load(&r[i].got),
		    (long) count * SENDERS);
		assert_int_equal(atomic_load(&r[i].order_errors), 0);
		assert_int_equal(atomic_load(&r[i].bad), 0);
	}
	tr_system_stats st = tu_stats(sys);
	assert_int_equal(st.dead_letters, 0);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ------------------------------------------------------------- tr_wait */

static atomic_int boom_line;

static int
waitee(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	switch (tr_msg_tag(m)) {
	case T_STOP:
		return TR_STOP;
	case T_BOOM: {
		tr_reason r = tr_reason("kaboom in waitee");
		atomic_store(&boom_line, r.line);
		return tr_exit(cx, r);
	}
	default:
		return TR_CONTINUE;
	}
}

static tr_system *
start_quiet(tu_log *log)
{
	tu_log_init(log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	return sys;
}

/*
 * exit_of spawns a waitee with TR_SPAWN_WAIT, sends it tag and waits for
 * its exit: the real reason even if it ended before tr_wait looked.
 */
static tr_exit_info
exit_of(tr_system *sys, uint32_t tag, tr_pid *pidp)
{
	tr_spawn_opts opts = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, pidp, waitee, NULL, &opts), 0);
	assert_int_equal(tr_system_send(sys, *pidp, tag, NULL, 0), 0);
	tr_exit_info info;
	memset(&info, 0x55, sizeof info);
	assert_int_equal(tr_wait(sys, *pidp, 10000 * TU_SLOW, &info), 0);
	return info;
}

static void
test_wait(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_quiet(&log);
	tr_pid p;
	tr_exit_info info;

	/* Normal exit. */
	info = exit_of(sys, T_STOP, &p);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_string_equal(info.text, "normal");

	/* Already dead: NOPROC, at once, also with timeout 0. */
	assert_int_equal(tr_wait(sys, p, 10000, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NOPROC);
	assert_int_equal(tr_wait(sys, p, 0, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NOPROC);
	assert_int_equal(tr_wait(sys, p, 0, NULL), 0);

	/* Error exit: text and where it came from. */
	info = exit_of(sys, T_BOOM, &p);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	char where[64];
	snprintf(where, sizeof where, "test_actors_plain_thread.c:%d",
	    atomic_load(&boom_line));
	printf("# error exit: %s\n", info.text);
	assert_non_null(strstr(info.text, "kaboom in waitee"));
	assert_non_null(strstr(info.text, where));
	assert_true(strlen(info.text) < TR_REASON_TEXT_MAX);

	/* Timeout: the actor lives on. */
	tr_spawn_opts wait_opts = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &p, waitee, NULL, &wait_opts), 0);
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_wait(sys, p, 100, &info), TR_ETIMEDOUT);
	uint64_t waited_ms = (tu_now_ns() - t0) / 1000000;
	printf("# tr_wait(100 ms) returned after %llu ms\n",
	    (unsigned long long) waited_ms);
	assert_true(waited_ms >= 95);
	assert_true(waited_ms < 10000);
	assert_int_equal(tr_wait(sys, p, 0, &info), TR_ETIMEDOUT);
	assert_true(tr_is_alive(sys, p));
	/* A timed-out wait leaves nothing behind that breaks a later one,
	 * and keeps the TR_SPAWN_WAIT record. */
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	assert_int_equal(tr_wait(sys, p, 10000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NORMAL);

	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* TR_SPAWN_WAIT keeps the exit of an actor that ended long before
 * tr_wait; without it, such an actor is simply gone (NOPROC). */
static void
test_wait_kept(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_quiet(&log);
	enum { N = 20 };
	tr_pid kept[N], plain[N], never[N];
	tr_spawn_opts wait_opts = { .flags = TR_SPAWN_WAIT };
	for (int i = 0; i < N; i++) {
		assert_int_equal(tr_spawn(sys, &kept[i], waitee, NULL,
		                     &wait_opts),
		    0);
		assert_int_equal(tr_spawn(sys, &plain[i], waitee, NULL, NULL),
		    0);
		assert_int_equal(tr_spawn(sys, &never[i], waitee, NULL,
		                     &wait_opts),
		    0);
		assert_int_equal(tr_system_send(sys, kept[i],
		                     i % 2 ? T_BOOM : T_STOP, NULL, 0),
		    0);
		assert_int_equal(tr_system_send(sys, plain[i], T_BOOM, NULL, 0),
		    0);
		assert_int_equal(tr_system_send(sys, never[i], T_STOP, NULL, 0),
		    0);
	}
	/* All have ended before anyone waits. */
	for (int i = 0; i < N; i++) {
		TU_WAIT_EQ(tr_is_alive(sys, kept[i]), false);
		TU_WAIT_EQ(tr_is_alive(sys, plain[i]), false);
		TU_WAIT_EQ(tr_is_alive(sys, never[i]), false);
	}
	tu_assert_left(sys, 0);
	for (int i = 0; i < N; i++) {
		tr_exit_info info;
		assert_int_equal(tr_wait(sys, kept[i], 0, &info), 0);
		assert_int_equal(info.kind,
		    i % 2 ? TR_REASON_ERROR : TR_REASON_NORMAL);
		if (i % 2)
			assert_non_null(strstr(info.text, "kaboom in waitee"));
		/* Given once. */
		assert_int_equal(tr_wait(sys, kept[i], 0, &info), 0);
		assert_int_equal(info.kind, TR_REASON_NOPROC);
		assert_int_equal(tr_wait(sys, plain[i], 0, &info), 0);
		assert_int_equal(info.kind, TR_REASON_NOPROC);
	}
	/* The never-waited records are freed by stop (ASan checks). */
	assert_int_equal(tr_system_stop(sys), 0);
	assert_int_equal(log.n, 2 * N - N / 2);
	tu_log_fini(&log);
}

/* Several threads wait for the same actor; all learn the same end. */
typedef struct waiter_arg {
	tr_system *sys;
	tr_pid pid;
	int rv;
	tr_exit_info info;
	atomic_int *started;
} waiter_arg;

static void *
waiter(void *p)
{
	waiter_arg *a = p;
	atomic_fetch_add(a->started, 1);
	a->rv = tr_wait(a->sys, a->pid, 30000 * TU_SLOW, &a->info);
	return NULL;
}

static void
test_many_waiters(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_quiet(&log);
	enum { W = 8 };
	for (int round = 0; round < 20; round++) {
		tr_pid p;
		assert_int_equal(tr_spawn(sys, &p, waitee, NULL, NULL), 0);
		atomic_int started = 0;
		pthread_t t[W];
		waiter_arg a[W];
		for (int i = 0; i < W; i++) {
			a[i] = (waiter_arg){ sys, p, -999, { 0, { 0 } },
				&started };
			tu_thread_start(&t[i], waiter, &a[i]);
		}
		/* Let some of them get into tr_wait before the exit, some not. */
		tu_deadline d = tu_deadline_ms(10000);
		while (atomic_load(&started) < W / 2 && tu_poll(&d)) {
		}
		assert_int_equal(tr_system_send(sys, p,
		                     round % 2 ? T_BOOM : T_STOP, NULL, 0),
		    0);
		for (int i = 0; i < W; i++)
			tu_thread_join(t[i]);
		for (int i = 0; i < W; i++) {
			assert_int_equal(a[i].rv, 0);
			/* Late waiters may see NOPROC; the others the reason. */
			if (a[i].info.kind != TR_REASON_NOPROC)
				assert_int_equal(a[i].info.kind,
				    round % 2 ? TR_REASON_ERROR
				              : TR_REASON_NORMAL);
		}
	}
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* ------------------------------------------------------- tr_system_idle */

typedef struct chain {
	atomic_long hops;
	long limit;
	tr_pid next;
	atomic_int spin_stop;
	/* results of calls that are not allowed inside an actor */
	atomic_int idle_rv, wait_rv, stop_rv;
} chain;

/* T_CHAIN: bounce between two actors `limit` times; T_SPIN: re-send to
 * self until spin_stop; T_CONTEXT: try plain-thread-only calls. */
static int
chain_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	chain *c = state;
	switch (tr_msg_tag(m)) {
	case T_CHAIN:
		if (atomic_fetch_add(&c->hops, 1) + 1 < c->limit)
			TU_CHECK(tr_send(cx, c->next, T_CHAIN, NULL, 0) == 0);
		return TR_CONTINUE;
	case T_SPIN:
		if (!atomic_load(&c->spin_stop))
			TU_CHECK(
			    tr_send(cx, tr_self(cx), T_SPIN, NULL, 0) == 0);
		return TR_CONTINUE;
	case T_CONTEXT: {
		tr_system *sys = tr_ctx_system(cx);
		atomic_store(&c->idle_rv, tr_system_idle(sys, 10));
		atomic_store(&c->wait_rv, tr_wait(sys, c->next, 10, NULL));
		atomic_store(&c->stop_rv, tr_system_stop(sys));
		return TR_CONTINUE;
	}
	case T_STOP:
		return TR_STOP;
	}
	return TR_CONTINUE;
}

static void
test_idle(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	/* An empty system is idle at once. */
	assert_int_equal(tr_system_idle(sys, 10000 * TU_SLOW), 0);

	/* A chain of work: idle returns only when it is all done. */
	static chain a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	long limit = TU_PICK(200000, 100000, 20000);
	a.limit = b.limit = limit;
	tr_pid pa, pb;
	assert_int_equal(tr_spawn(sys, &pa, chain_fn, &a, NULL), 0);
	assert_int_equal(tr_spawn(sys, &pb, chain_fn, &b, NULL), 0);
	a.next = pb;
	b.next = pa;
	for (int round = 0; round < 5; round++) {
		atomic_store(&a.hops, 0);
		atomic_store(&b.hops, 0);
		assert_int_equal(tr_system_send(sys, pa, T_CHAIN, NULL, 0), 0);
		assert_int_equal(tr_system_idle(sys, 60000 * TU_SLOW), 0);
		/* Both stop bouncing once either reaches the limit. */
		long ha = atomic_load(&a.hops), hb = atomic_load(&b.hops);
		assert_true(ha == limit || hb == limit);
		assert_true(ha + hb >= limit);
		tr_system_stats st = tu_stats(sys);
		assert_int_equal(st.msg_blocks_live, 0);
	}

	/* Endless work: idle times out, and says so. */
	assert_int_equal(tr_system_send(sys, pa, T_SPIN, NULL, 0), 0);
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_idle(sys, 200), TR_ETIMEDOUT);
	uint64_t ms = (tu_now_ns() - t0) / 1000000;
	assert_true(ms >= 195);
	assert_true(ms < 10000);
	atomic_store(&a.spin_stop, 1);
	assert_int_equal(tr_system_idle(sys, 10000 * TU_SLOW), 0);

	/* Plain-thread-only calls refuse to run inside an actor. */
	assert_int_equal(tr_system_send(sys, pa, T_CONTEXT, NULL, 0), 0);
	assert_int_equal(tr_system_idle(sys, 10000 * TU_SLOW), 0);
	assert_int_equal(atomic_load(&a.idle_rv), TR_ECONTEXT);
	assert_int_equal(atomic_load(&a.wait_rv), TR_ECONTEXT);
	assert_int_equal(atomic_load(&a.stop_rv), TR_ECONTEXT);
	/* ... and the system is still running after the refused stop. */
	atomic_store(&a.hops, 0);
	atomic_store(&b.hops, 0);
	assert_int_equal(tr_system_send(sys, pa, T_CHAIN, NULL, 0), 0);
	assert_int_equal(tr_system_idle(sys, 60000 * TU_SLOW), 0);
	assert_true(atomic_load(&a.hops) + atomic_load(&b.hops) >= limit);

	assert_int_equal(tr_system_send(sys, pa, T_STOP, NULL, 0), 0);
	assert_int_equal(tr_system_send(sys, pb, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, pa, TR_REASON_NORMAL);
	tu_wait_exit(sys, pb, TR_REASON_NORMAL);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Send errors a plain thread can get. */
static void
test_send_errors(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, waitee, NULL, NULL), 0);
	assert_int_equal(tr_system_send(sys, p, T_DATA, NULL, 5), TR_EINVAL);
	assert_int_equal(tr_system_send(sys, TR_PID_NIL, T_DATA, "x", 1),
	    TR_EINVAL);
	static const char big = 0;
	/* The length is checked before anything is read. */
	assert_int_equal(tr_system_send(sys, p, T_DATA, &big,
	                     TR_MSG_MAX_LEN + 1),
	    TR_ETOOBIG);
	assert_int_equal(tr_spawn(sys, &p, NULL, NULL, NULL), TR_EINVAL);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_errors),
		cmocka_unit_test(test_concurrent_sends),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_wait_kept),
		cmocka_unit_test(test_many_waiters),
		cmocka_unit_test(test_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
