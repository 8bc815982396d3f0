/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * An idle system sleeps: once tr_system_idle says so, the process burns
 * under 5 ms of CPU in one second (getrusage), with the default workers
 * and with more workers than cores; and it still wakes up for new work.
 * This test waits a fixed second on purpose: it measures CPU over time.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/resource.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_HOP = 1, T_STOP };

typedef struct hopper {
	tr_pid next;
	atomic_long hops;
	long limit;
} hopper;

static atomic_long hops_total;

static int
hopper_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	hopper *h = state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	atomic_fetch_add(&h->hops, 1);
	if (atomic_fetch_add(&hops_total, 1) + 1 < h->limit)
		TU_CHECK(tr_send(cx, h->next, T_HOP, NULL, 0) == 0);
	return TR_CONTINUE;
}

static uint64_t
cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t) ru.ru_utime.tv_sec * 1000000u +
	    (uint64_t) ru.ru_utime.tv_usec +
	    (uint64_t) ru.ru_stime.tv_sec * 1000000u +
	    (uint64_t) ru.ru_stime.tv_usec;
}

/* Work on every worker, then idle; returns CPU microseconds in 1 s idle. */
static uint64_t
idle_cpu(tr_system *sys, int nring)
{
	enum { MAXRING = 64 };
	static hopper h[MAXRING];
	tr_pid p[MAXRING];
	assert_true(nring <= MAXRING);
	atomic_store(&hops_total, 0);
	for (int i = 0; i < nring; i++) {
		memset(&h[i], 0, sizeof h[i]);
		h[i].limit = 100000;
		assert_int_equal(tr_spawn(sys, &p[i], hopper_fn, &h[i], NULL),
		    0);
	}
	for (int i = 0; i < nring; i++)
		h[i].next = p[(i + 1) % nring];
	/* Several tokens so that every worker has had something to do. */
	for (int i = 0; i < nring; i += 4)
		assert_int_equal(tr_system_send(sys, p[i], T_HOP, NULL, 0), 0);
	assert_int_equal(tr_system_idle(sys, 60000 * TU_SLOW), 0);
	assert_true(atomic_load(&hops_total) >= 100000);

	uint64_t c0 = cpu_us();
	tu_sleep_ms(1000);
	uint64_t used = cpu_us() - c0;

	/* It still wakes for new work after the long sleep. */
	atomic_store(&hops_total, 0);
	for (int i = 0; i < nring; i++)
		h[i].limit = 1000;
	assert_int_equal(tr_system_send(sys, p[0], T_HOP, NULL, 0), 0);
	assert_int_equal(tr_system_idle(sys, 10000 * TU_SLOW), 0);
	assert_int_equal(atomic_load(&hops_total), 1000);
	for (int i = 0; i < nring; i++)
		assert_int_equal(tr_system_send(sys, p[i], T_STOP, NULL, 0), 0);
	for (int i = 0; i < nring; i++)
		tu_wait_exit(sys, p[i], TR_REASON_NORMAL);
	return used;
}

/* Sanitizer runtimes have background threads of their own. */
#define LIMIT_US TU_PICK(5000, 5000, 20000)

static void
test_idle_default_workers(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(0, 0);
	assert_non_null(sys);
	uint64_t used = idle_cpu(sys, 16);
	printf("# default workers: %llu us CPU in 1 s idle (limit %d)\n",
	    (unsigned long long) used, LIMIT_US);
	assert_true(used < LIMIT_US);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

static void
test_idle_many_workers(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(8, 0);
	assert_non_null(sys);
	uint64_t used = idle_cpu(sys, 64);
	printf("# 8 workers: %llu us CPU in 1 s idle (limit %d)\n",
	    (unsigned long long) used, LIMIT_US);
	assert_true(used < LIMIT_US);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Idle with live actors but nothing to do, never having had work. */
static void
test_idle_fresh(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(0, 0);
	assert_non_null(sys);
	assert_int_equal(tr_system_idle(sys, 10000 * TU_SLOW), 0);
	uint64_t c0 = cpu_us();
	tu_sleep_ms(1000);
	uint64_t used = cpu_us() - c0;
	printf("# fresh system: %llu us CPU in 1 s idle\n",
	    (unsigned long long) used);
	assert_true(used < LIMIT_US);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_fresh),
		cmocka_unit_test(test_idle_default_workers),
		cmocka_unit_test(test_idle_many_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
