/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Sequential work stays on one worker: a pingpong of two processes (one
 * message in flight), a process that only yields, and an event actor that
 * uses up its budget again and again wake no parked worker while they
 * run, and give an idle worker nothing to steal.  Each wake-up costs a
 * futex wake and spin_us of spinning on another core, and a steal moves
 * the work away from its cache: before the fix, processes in pingpong
 * yielded every `budget` receives although each receive blocked, and
 * every yield put them where the other worker, woken or still spinning,
 * stole one of them (1.9 cores for one core's work).  Counted with the
 * system's internal counters (wake-ups + steals).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "actors/actors_int.h"
#include "testutil.h"

enum { T_PING = 1, T_PONG, T_HALT, T_WORK };

/* Wake-ups and steals allowed while the loop runs: none is needed; a few
 * for luck (a worker woken just before the loop began). */
enum { MAX_WAKEUPS = 10 };

static int64_t rounds;

/* moves_now: parked workers woken plus steals by idle workers. */
static uint64_t
moves_now(tr_system *sys)
{
	return atomic_load_explicit(&sys->s_wakeups, memory_order_relaxed) +
	    atomic_load_explicit(&sys->s_steals, memory_order_relaxed);
}

/* offers_now: requeues (yields, used-up budgets) that offered the actor
 * to other workers (made it stealable and woke one if none spun).  Unlike
 * moves_now it does not depend on whether the other worker got a core. */
static uint64_t
offers_now(tr_system *sys)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < sys->s_nworkers; i++)
		n += atomic_load_explicit(&sys->s_workers[i].w_offers,
		    memory_order_relaxed);
	return n;
}

static atomic_long moves, offers;

/* window_begin and window_end measure both over a loop. */
static void
window_begin(tr_system *sys)
{
	atomic_store(&moves, -(long) moves_now(sys));
	atomic_store(&offers, -(long) offers_now(sys));
}

static void
window_end(tr_system *sys)
{
	atomic_fetch_add(&moves, (long) moves_now(sys));
	atomic_fetch_add(&offers, (long) offers_now(sys));
}

static void
check_window(const char *what)
{
	printf("# %s: %ld wake-ups+steals, %ld offers\n", what,
	    atomic_load(&moves), atomic_load(&offers));
	assert_true(atomic_load(&offers) <= MAX_WAKEUPS);
	assert_true(atomic_load(&moves) <= MAX_WAKEUPS);
}

static void
pong_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	for (;;) {
		tr_msg *m = tr_receive(cx, TR_INFINITY);
		TU_CHECK(m != NULL);
		if (m == NULL)
			return;
		uint32_t tag = tr_msg_tag(m);
		tr_pid from = tr_msg_from(m);
		tr_msg_free(m);
		if (tag == T_HALT)
			return;
		TU_CHECK(tr_send(cx, from, T_PONG, NULL, 0) == 0);
	}
}

static void
ping_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_system *sys = tr_ctx_system(cx);
	tr_pid pong;
	TU_CHECK(tr_spawn_process(sys, &pong, pong_proc, NULL, NULL) == 0);
	for (int64_t k = 0; k < rounds; k++) {
		if (k == 100) /* both are running by now */
			window_begin(sys);
		TU_CHECK(tr_send(cx, pong, T_PING, NULL, 0) == 0);
		tr_msg *m = tr_receive_tag(cx, T_PONG, TR_INFINITY);
		TU_CHECK(m != NULL);
		tr_msg_free(m);
	}
	window_end(sys);
	TU_CHECK(tr_send(cx, pong, T_HALT, NULL, 0) == 0);
}

static void
test_process_pingpong(void **unused)
{
	(void) unused;
	tu_reset_failures();
	rounds = TU_PICK(20000, 10000, 5000);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid ping;
	assert_int_equal(tr_spawn_process(sys, &ping, ping_proc, NULL, NULL),
	    0);
	tu_wait_exit(sys, ping, TR_REASON_NORMAL);
	check_window("process pingpong");
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_assert_no_failures();
}

static void
yield_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_system *sys = tr_ctx_system(cx);
	tr_yield(cx);
	window_begin(sys);
	for (int64_t k = 0; k < rounds; k++)
		tr_yield(cx);
	window_end(sys);
}

static void
test_lone_yielder(void **unused)
{
	(void) unused;
	tu_reset_failures();
	rounds = TU_PICK(100000, 50000, 20000);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid p;
	assert_int_equal(tr_spawn_process(sys, &p, yield_proc, NULL, NULL), 0);
	tu_wait_exit(sys, p, TR_REASON_NORMAL);
	check_window("lone yielder");
	assert_int_equal(tr_system_stop(sys), 0);
	tu_assert_no_failures();
}

/* An event actor that keeps itself busy: 20 messages in its mailbox, each
 * sends it one more until `rounds` are handled, so every turn uses up the
 * budget (10). */
static atomic_long handled;

static int
busy_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) m;
	(void) state;
	long n = atomic_fetch_add(&handled, 1) + 1;
	if (n == 1000)
		window_begin(tr_ctx_system(cx));
	if (n < rounds)
		TU_CHECK(tr_send(cx, tr_self(cx), T_WORK, NULL, 0) == 0);
	if (n == rounds)
		window_end(tr_ctx_system(cx));
	return TR_CONTINUE;
}

static void
test_event_actor_budget(void **unused)
{
	(void) unused;
	tu_reset_failures();
	rounds = TU_PICK(200000, 100000, 50000);
	atomic_store(&handled, 0);
	tr_system *sys = tu_start(2, 10);
	assert_non_null(sys);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, busy_fn, NULL, NULL), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(tr_system_send(sys, p, T_WORK, NULL, 0), 0);
	tu_assert_left(sys, 1);
	assert_true(atomic_load(&handled) >= rounds);
	check_window("event actor, budget 10");
	assert_int_equal(tr_system_stop(sys), 0);
	tu_assert_no_failures();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_pingpong),
		cmocka_unit_test(test_lone_yielder),
		cmocka_unit_test(test_event_actor_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
