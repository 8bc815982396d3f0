/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * A million processes alive at once (issue 3), each blocked in a
 * receive, then all told to stop: tr_system_stats counts them, every one
 * ends normally and nothing is left.  Prints the resident memory per idle
 * process (informational; bench/ measures it properly).  Scaled to 20,000
 * under ASan and 3,000 under TSan (which allows ~8,000 fibers).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <unistd.h>

#include "testutil.h"

#define N_PROCS TU_PICK(1000000, 20000, 3000)

enum { T_STOP = 1, T_OTHER };

static atomic_int started;
static atomic_int stopped;
static atomic_int freed;

static void
idle_body(tr_ctx *cx, void *arg)
{
	(void) arg;
	atomic_fetch_add(&started, 1);
	/* Blocked here until told to stop (the test always tells it, or
	 * stops the system, which ends it). */
	tr_msg *m = tr_receive(cx, TR_INFINITY);
	TU_CHECK(m != NULL && tr_msg_tag(m) == T_STOP);
	tr_msg_free(m);
	atomic_fetch_add(&stopped, 1);
}

static void
count_free(void *arg)
{
	(void) arg;
	atomic_fetch_add(&freed, 1);
}

/* rss_bytes returns this OS process's resident set size. */
static uint64_t
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return 0;
	unsigned long size = 0, res = 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (uint64_t) res * (uint64_t) sysconf(_SC_PAGESIZE);
}

static void
test_million_processes(void **unused)
{
	(void) unused;
	tu_reset_failures();
	atomic_store(&started, 0);
	atomic_store(&stopped, 0);
	atomic_store(&freed, 0);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid *pids = calloc(N_PROCS, sizeof *pids);
	assert_non_null(pids);
	uint64_t rss0 = rss_bytes();

	uint64_t t0 = tu_now_ns();
	tr_spawn_opts o = { .state_free = count_free };
	for (int i = 0; i < N_PROCS; i++) {
		int rv = tr_spawn_process(sys, &pids[i], idle_body, NULL, &o);
		if (rv != 0)
			fprintf(stderr, "spawn %d: %s\n", i, tr_err_name(rv));
		assert_int_equal(rv, 0);
	}
	double spawn_ms = tu_ms_since(t0);
	/* Every one has run and is blocked in its receive. */
	tu_deadline d = tu_deadline_ms(120000 * TU_SLOW);
	while (atomic_load(&started) != N_PROCS && tu_poll(&d)) {
	}
	assert_int_equal(atomic_load(&started), N_PROCS);
	assert_int_equal(tr_system_idle(sys, 60000 * TU_SLOW), 0);
	double start_ms = tu_ms_since(t0);
	uint64_t rss1 = rss_bytes();

	tr_system_stats st = tu_stats(sys);
	printf("# %d processes: spawned in %.0f ms, all blocked after %.0f ms "
	       "(%.0f k/s)\n",
	    N_PROCS, spawn_ms, start_ms, N_PROCS / start_ms);
	printf("# stats: alive %llu, spawned %llu, slots %llu, blocks %llu\n",
	    (unsigned long long) st.actors_alive,
	    (unsigned long long) st.actors_spawned,
	    (unsigned long long) st.slots,
	    (unsigned long long) st.msg_blocks_live);
	printf("# resident: %.1f MiB before, %.1f MiB with all alive: "
	       "%.0f bytes per idle process\n",
	    rss0 / 1048576.0, rss1 / 1048576.0,
	    rss1 > rss0 ? (double) (rss1 - rss0) / N_PROCS : 0.0);
	assert_int_equal(st.actors_alive, (uint64_t) N_PROCS);
	assert_true(st.actors_spawned >= (uint64_t) N_PROCS);
	assert_true(st.slots >= (uint64_t) N_PROCS);
	assert_int_equal(st.msg_blocks_live, 0);
	assert_int_equal(atomic_load(&stopped), 0);
	assert_int_equal(atomic_load(&freed), 0);
	for (int i = 0; i < N_PROCS; i += N_PROCS / 100)
		assert_true(tr_is_alive(sys, pids[i]));

	/* All told to stop. */
	t0 = tu_now_ns();
	for (int i = 0; i < N_PROCS; i++)
		assert_int_equal(tr_system_send(sys, pids[i], T_STOP, NULL, 0),
		    0);
	d = tu_deadline_ms(120000 * TU_SLOW);
	while (atomic_load(&freed) != N_PROCS && tu_poll(&d)) {
	}
	printf("# all stopped in %.0f ms\n", tu_ms_since(t0));
	assert_int_equal(atomic_load(&stopped), N_PROCS);
	assert_int_equal(atomic_load(&freed), N_PROCS);
	for (int i = 0; i < N_PROCS; i += N_PROCS / 100)
		assert_false(tr_is_alive(sys, pids[i]));
	st = tu_stats(sys);
	assert_true(st.actors_spawned >= (uint64_t) N_PROCS);
	tu_stop(sys);
	free(pids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_million_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
