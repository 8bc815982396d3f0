/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * tr_system_stop frees everything: many live actors with queued messages
 * and states with destructors (each destructor runs exactly once, ASan
 * finds no leak), systems started and stopped in a loop, two systems in
 * one process at once; an actor that never yields makes stop give up
 * after its deadline (TR_ETIMEDOUT, a report, nothing freed) until it
 * ends.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_DATA = 1, T_STOP, T_BLOCK, T_RELAY };

/* Destructor accounting: one counter per actor, by index. */
typedef struct payload_state {
	uint32_t index;
	atomic_int *dtors; /* dtors[index] */
	atomic_long *handled;
	char *buffer; /* a heap allocation of its own: leak bait */
	tr_pid relay_to;
} payload_state;

static void
ps_free(void *p)
{
	payload_state *s = p;
	atomic_fetch_add(&s->dtors[s->index], 1);
	free(s->buffer);
	free(s);
}

static const tr_spawn_opts ps_opts = { .state_free = ps_free };

static atomic_int release_blocker;

static int
ps_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	payload_state *s = state;
	atomic_fetch_add(s->handled, 1);
	switch (tr_msg_tag(m)) {
	case T_STOP:
		return TR_STOP;
	case T_BLOCK: {
		/* Hold this worker until the test lets go (bounded). */
		tu_deadline d = tu_deadline_ms(20000 * TU_SLOW);
		while (!atomic_load(&release_blocker) && tu_poll(&d)) {
		}
		return TR_CONTINUE;
	}
	case T_RELAY:
		if (!tr_pid_is_nil(s->relay_to))
			TU_CHECK(tr_send(cx, s->relay_to, T_RELAY,
			             tr_msg_data(m), tr_msg_len(m)) == 0);
		return TR_CONTINUE;
	default:
		return TR_CONTINUE;
	}
}

static tr_pid
spawn_ps(tr_system *sys, uint32_t index, atomic_int *dtors,
    atomic_long *handled)
{
	payload_state *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->index = index;
	s->dtors = dtors;
	s->handled = handled;
	s->buffer = malloc(100 + index % 200);
	s->relay_to = TR_PID_NIL;
	assert_non_null(s->buffer);
	tr_pid pid;
	assert_int_equal(tr_spawn(sys, &pid, ps_fn, s, &ps_opts), 0);
	return pid;
}

/*
 * One worker held by a blocker while every actor gets a backlog; then stop
 * with all of it still queued.  Half the actors were stopped before: their
 * destructors must not run twice.
 */
static void
test_stop_with_backlog(void **unused)
{
	(void) unused;
	tu_reset_failures();
	uint32_t n = TU_PICK(20000, 10000, 2000);
	atomic_int *dtors = calloc(n + 1, sizeof *dtors);
	assert_non_null(dtors);
	atomic_long handled = 0;
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	tr_pid *pids = calloc(n, sizeof *pids);
	assert_non_null(pids);
	for (uint32_t i = 0; i < n; i++)
		pids[i] = spawn_ps(sys, i, dtors, &handled);

	/* The even ones exit first, normally. */
	for (uint32_t i = 0; i < n; i += 2)
		assert_int_equal(tr_system_send(sys, pids[i], T_STOP, NULL, 0),
		    0);
	for (uint32_t i = 0; i < n; i += 2)
		tu_wait_exit(sys, pids[i], TR_REASON_NORMAL);
	for (uint32_t i = 0; i < n; i += 2)
		TU_WAIT_EQ(atomic_load(&dtors[i]), 1);
	tu_assert_left(sys, n / 2);

	/* Hold the only worker, then queue messages everywhere. */
	atomic_store(&release_blocker, 0);
	tr_pid blocker = spawn_ps(sys, n, dtors, &handled);
	assert_int_equal(tr_system_send(sys, blocker, T_BLOCK, NULL, 0), 0);
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	while (atomic_load(&handled) < (long) n / 2 + 1 && tu_poll(&d)) {
	}
	long handled_before = atomic_load(&handled);
	char buf[3000];
	memset(buf, 7, sizeof buf);
	for (uint32_t i = 1; i < n; i += 2)
		for (int k = 0; k < 5; k++)
			assert_int_equal(tr_system_send(sys, pids[i], T_DATA,
			                     buf, (size_t) (k * 700)),
			    0);
	tr_system_stats st = tu_stats(sys);
	printf("# stopping with %llu live blocks, %llu actors\n",
	    (unsigned long long) st.msg_blocks_live,
	    (unsigned long long) st.actors_alive);
	assert_int_equal(atomic_load(&handled), handled_before);

	/* Stop while the backlog is there: the blocker is let go so that
	 * the worker finishes its turn. */
	atomic_store(&release_blocker, 1);
	assert_int_equal(tr_system_stop(sys), 0);
	for (uint32_t i = 0; i <= n; i++) {
		if (atomic_load(&dtors[i]) != 1)
			fprintf(stderr, "actor %u: destructor ran %d times\n",
			    i, atomic_load(&dtors[i]));
		assert_int_equal(atomic_load(&dtors[i]), 1);
	}
	tu_assert_no_failures();
	free(pids);
	free(dtors);
}

/* A relay ring with tokens going round: stop at once, tokens in flight. */
static void
test_stop_ring_running(void **unused)
{
	(void) unused;
	tu_reset_failures();
	enum { N = 500 };
	for (int round = 0; round < TU_PICK(10, 5, 3); round++) {
		atomic_int *dtors = calloc(N, sizeof *dtors);
		assert_non_null(dtors);
		atomic_long handled = 0;
		tr_system *sys = tu_start(0, 0);
		assert_non_null(sys);
		payload_state *st[N];
		tr_pid pids[N];
		for (uint32_t i = 0; i < N; i++) {
			st[i] = calloc(1, sizeof *st[i]);
			assert_non_null(st[i]);
			st[i]->index = i;
			st[i]->dtors = dtors;
			st[i]->handled = &handled;
			st[i]->buffer = malloc(64);
			st[i]->relay_to = TR_PID_NIL;
		}
		/* Spawn in reverse so each knows its successor's pid. */
		for (int i = N - 1; i >= 0; i--) {
			if (i < N - 1)
				st[i]->relay_to = pids[i + 1];
			assert_int_equal(tr_spawn(sys, &pids[i], ps_fn, st[i],
			                     &ps_opts),
			    0);
		}
		/* Tokens of several sizes go round (the last one drops them
		 * into its own T_RELAY with relay_to nil: a sink). */
		char buf[5000];
		memset(buf, 1, sizeof buf);
		for (int k = 0; k < 200; k++)
			assert_int_equal(tr_system_send(sys, pids[0], T_RELAY,
			                     buf, (size_t) (k * 25)),
			    0);
		/* Stop at once, with tokens in flight. */
		assert_int_equal(tr_system_stop(sys), 0);
		for (uint32_t i = 0; i < N; i++)
			assert_int_equal(atomic_load(&dtors[i]), 1);
		free(dtors);
	}
	tu_assert_no_failures();
}

/* Many systems, one after another. */
static void
test_start_stop_loop(void **unused)
{
	(void) unused;
	tu_reset_failures();
	int rounds = TU_PICK(100, 50, 15);
	for (int r = 0; r < rounds; r++) {
		enum { N = 50 };
		atomic_int dtors[N];
		for (int i = 0; i < N; i++)
			atomic_init(&dtors[i], 0);
		atomic_long handled = 0;
		tr_system *sys = tu_start((unsigned) (r % 3), 0);
		assert_non_null(sys);
		tr_pid pids[N];
		for (uint32_t i = 0; i < N; i++)
			pids[i] = spawn_ps(sys, i, dtors, &handled);
		for (uint32_t i = 0; i < N; i++)
			assert_int_equal(tr_system_send(sys, pids[i], T_DATA,
			                     "x", 1),
			    0);
		if (r % 2 == 0) {
			tu_assert_left(sys, N);
			assert_int_equal(atomic_load(&handled), N);
		}
		assert_int_equal(tr_system_stop(sys), 0);
		for (int i = 0; i < N; i++)
			assert_int_equal(atomic_load(&dtors[i]), 1);
	}
	/* An empty system too, right after start. */
	for (int r = 0; r < rounds; r++) {
		tr_system *sys = tu_start(0, 0);
		assert_non_null(sys);
		assert_int_equal(tr_system_stop(sys), 0);
	}
	tu_assert_no_failures();
}

/* Two systems at once: stopping one leaves the other working. */
static void
test_two_systems(void **unused)
{
	(void) unused;
	tu_reset_failures();
	enum { N = 200 };
	atomic_int da[N], db[N];
	for (int i = 0; i < N; i++) {
		atomic_init(&da[i], 0);
		atomic_init(&db[i], 0);
	}
	atomic_long ha = 0, hb = 0;
	tr_system *a = tu_start(2, 0), *b = tu_start(2, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	tr_pid pa[N], pb[N];
	for (uint32_t i = 0; i < N; i++) {
		pa[i] = spawn_ps(a, i, da, &ha);
		pb[i] = spawn_ps(b, i, db, &hb);
	}
	for (int k = 0; k < 10; k++)
		for (uint32_t i = 0; i < N; i++) {
			assert_int_equal(tr_system_send(a, pa[i], T_DATA, NULL,
			                     0),
			    0);
			assert_int_equal(tr_system_send(b, pb[i], T_DATA, NULL,
			                     0),
			    0);
		}
	tu_assert_left(a, N);
	tu_assert_left(b, N);
	assert_int_equal(atomic_load(&ha), 10 * N);
	assert_int_equal(atomic_load(&hb), 10 * N);
	tr_system_stats sa = tu_stats(a), sb = tu_stats(b);
	assert_int_equal(sa.actors_spawned, N);
	assert_int_equal(sb.actors_spawned, N);
	assert_int_equal(sa.messages_sent, 10 * N);

	assert_int_equal(tr_system_stop(a), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(atomic_load(&da[i]), 1);
		assert_int_equal(atomic_load(&db[i]), 0);
	}
	/* b runs on. */
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(tr_system_send(b, pb[i], T_STOP, NULL, 0), 0);
	for (uint32_t i = 0; i < N; i++)
		tu_wait_exit(b, pb[i], TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&hb), 11 * N);
	tu_assert_left(b, 0);
	assert_int_equal(tr_system_stop(b), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(atomic_load(&db[i]), 1);
	tu_assert_no_failures();
}

/* ------------------------------------------------ stop with a deadline */

static atomic_int stuck_started, stuck_release;

/* stuck_spin loops until the test lets go (bounded in time): code that
 * never yields, as far as the runtime can tell. */
static void
stuck_spin(void)
{
	atomic_fetch_add(&stuck_started, 1);
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (!atomic_load(&stuck_release) && !tu_expired(&d)) {
	}
}

static void
stuck_proc(tr_ctx *cx, void *state)
{
	(void) cx;
	payload_state *s = state;
	atomic_fetch_add(s->handled, 1);
	stuck_spin();
}

static int
stuck_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	payload_state *s = state;
	atomic_fetch_add(s->handled, 1);
	stuck_spin();
	return TR_CONTINUE;
}

static payload_state *
new_ps(uint32_t index, atomic_int *dtors, atomic_long *handled)
{
	payload_state *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->index = index;
	s->dtors = dtors;
	s->handled = handled;
	s->buffer = malloc(64);
	assert_non_null(s->buffer);
	s->relay_to = TR_PID_NIL;
	return s;
}

/* stop_lines counts the log lines naming pid that say it still runs, and
 * returns the largest "at least N ms" among them in *most_ms. */
static int
stop_lines(tu_log *log, tr_pid pid, const char *kind, const char *name,
    long long *most_ms)
{
	char pb[TR_PID_FMT_MAX];
	tr_pid_format(pid, pb, sizeof pb);
	int found = 0;
	*most_ms = -1;
	pthread_mutex_lock(&log->mu);
	int n = log->n < TU_LOG_LINES ? log->n : TU_LOG_LINES;
	for (int i = 0; i < n; i++) {
		const char *l = log->line[i];
		if (strstr(l, pb) == NULL || strstr(l, "still runs") == NULL)
			continue;
		TU_CHECK(log->level[i] == TR_LOG_ERROR);
		TU_CHECK(strstr(l, kind) != NULL);
		TU_CHECK(strstr(l, name) != NULL);
		TU_CHECK(strstr(l, "worker") != NULL);
		const char *al = strstr(l, "at least ");
		long long ms = -1;
		TU_CHECK(
		    al != NULL && sscanf(al, "at least %lld ms", &ms) == 1);
		if (ms > *most_ms)
			*most_ms = ms;
		found++;
	}
	pthread_mutex_unlock(&log->mu);
	return found;
}

/*
 * A process and an event actor that never yield (each a busy loop, one on
 * each worker): stop gives up after its deadline with TR_ETIMEDOUT, logs
 * both (pid, name, kind, worker, time in the turn) and frees nothing;
 * called again it waits again; once the loops end, it stops and frees all.
 */
static void
test_stop_deadline(void **unused)
{
	(void) unused;
	tu_reset_failures();
	enum { TIMEOUT_MS = 100, N = 50 };
	atomic_store(&stuck_started, 0);
	atomic_store(&stuck_release, 0);
	atomic_int dtors[N + 2];
	for (int i = 0; i < N + 2; i++)
		atomic_init(&dtors[i], 0);
	atomic_long handled = 0;
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	cfg.stop_timeout_ms = TIMEOUT_MS;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);

	/* Bystanders with destructors and queued messages. */
	for (uint32_t i = 0; i < N; i++) {
		tr_pid p = spawn_ps(sys, i, dtors, &handled);
		assert_int_equal(tr_system_send(sys, p, T_DATA, "x", 1), 0);
	}
	tu_assert_left(sys, N);

	/* The stuck ones, one per worker. */
	tr_pid proc, actor;
	tr_spawn_opts o = { .state_free = ps_free };
	assert_int_equal(tr_spawn_process(sys, &proc, stuck_proc,
	                     new_ps(N, dtors, &handled), &o),
	    0);
	assert_int_equal(tr_register(sys, "spinner", proc), 0);
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	while (atomic_load(&stuck_started) < 1 && tu_poll(&d)) {
	}
	assert_int_equal(atomic_load(&stuck_started), 1);
	assert_int_equal(tr_spawn(sys, &actor, stuck_fn,
	                     new_ps(N + 1, dtors, &handled), &o),
	    0);
	assert_int_equal(tr_system_send(sys, actor, T_DATA, NULL, 0), 0);
	while (atomic_load(&stuck_started) < 2 && tu_poll(&d)) {
	}
	assert_int_equal(atomic_load(&stuck_started), 2);

	/* First call: gives up after the deadline, frees nothing. */
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_stop(sys), TR_ETIMEDOUT);
	assert_true(tu_now_ns() - t0 >= (uint64_t) TIMEOUT_MS * 1000000u);
	long long ms_p1, ms_a1, ms_p2, ms_a2;
	assert_int_equal(stop_lines(&log, proc, "process", "'spinner'", &ms_p1),
	    1);
	assert_int_equal(stop_lines(&log, actor, "event actor", "(no name)",
	                     &ms_a1),
	    1);
	assert_true(ms_p1 >= TIMEOUT_MS && ms_a1 >= TIMEOUT_MS);
	for (int i = 0; i < tu_log_count(&log) && i < TU_LOG_LINES; i++)
		printf("# log: %s\n", log.line[i]);
	assert_true(tu_log_find(&log, NULL, "gave up",
	                "call tr_system_stop "
	                "again",
	                NULL) >= 0);
	for (int i = 0; i < N + 2; i++)
		assert_int_equal(atomic_load(&dtors[i]), 0);
	/* The system is stopping, not freed: these still answer. */
	assert_int_equal(tr_system_idle(sys, 0), TR_ESTOPPED);
	assert_true(tr_is_alive(sys, proc));

	/* Second call: waits again; the turns are reported as longer. */
	assert_int_equal(tr_system_stop(sys), TR_ETIMEDOUT);
	assert_int_equal(stop_lines(&log, proc, "process", "'spinner'", &ms_p2),
	    2);
	assert_int_equal(stop_lines(&log, actor, "event actor", "(no name)",
	                     &ms_a2),
	    2);
	assert_true(ms_p2 >= 2 * TIMEOUT_MS && ms_a2 >= 2 * TIMEOUT_MS);
	for (int i = 0; i < N + 2; i++)
		assert_int_equal(atomic_load(&dtors[i]), 0);

	/* Let the loops end: a call then succeeds (maybe not the first, on
	 * a loaded machine) and everything is freed. */
	atomic_store(&stuck_release, 1);
	int rv;
	d = tu_deadline_ms(30000 * TU_SLOW);
	while ((rv = tr_system_stop(sys)) == TR_ETIMEDOUT && tu_poll(&d)) {
	}
	assert_int_equal(rv, 0);
	for (int i = 0; i < N + 2; i++)
		assert_int_equal(atomic_load(&dtors[i]), 1);
	assert_int_equal(log.newlines, 0);
	tu_log_fini(&log);
	tu_assert_no_failures();
}

/* The deadline does not delay a stop whose turns end at once. */
static void
test_stop_deadline_quick(void **unused)
{
	(void) unused;
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.stop_timeout_ms = 60000;
	for (int r = 0; r < 20; r++) {
		tr_system *sys = NULL;
		assert_int_equal(tr_system_start(&sys, &cfg), 0);
		uint64_t t0 = tu_now_ns();
		assert_int_equal(tr_system_stop(sys), 0);
		assert_true(tu_now_ns() - t0 < 30000000000u);
	}
	/* Negative: no limit (and the turns end, so it returns). */
	cfg.stop_timeout_ms = -1;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_with_backlog),
		cmocka_unit_test(test_stop_ring_running),
		cmocka_unit_test(test_start_stop_loop),
		cmocka_unit_test(test_two_systems),
		cmocka_unit_test(test_stop_deadline),
		cmocka_unit_test(test_stop_deadline_quick),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
