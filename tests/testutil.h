/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_TESTS_TESTUTIL_H
#define TROUPE_TESTS_TESTUTIL_H

/*
 * Shared helpers for the cmocka tests: sanitizer detection and scaling,
 * deadlines for bounded waits, a failure counter for checks made on
 * threads other than the test's own (cmocka asserts only work on the
 * thread that runs the test), a recording logging hook, and the
 * end-of-test "nothing is left" check.
 *
 * Include after <cmocka.h> (and its prerequisites).
 */

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <troupe/troupe.h>

/* ------------------------------------------------------------ sanitizers */

#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

#ifndef TU_TSAN
#define TU_TSAN 0
#endif
#ifndef TU_ASAN
#define TU_ASAN 0
#endif

/* TU_PICK(normal, asan, tsan) picks a size for the build at hand. */
#if TU_TSAN
#define TU_PICK(normal, asan, tsan) (tsan)
#elif TU_ASAN
#define TU_PICK(normal, asan, tsan) (asan)
#else
#define TU_PICK(normal, asan, tsan) (normal)
#endif

/* TU_SLOW multiplies time limits: sanitizers and a loaded machine. */
#define TU_SLOW TU_PICK(1, 3, 6)

/* ------------------------------------------------------------- time */

static inline uint64_t
tu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* A tu_deadline is a point in CLOCK_MONOTONIC time. */
typedef struct tu_deadline {
	uint64_t end_ns;
	unsigned polls;
} tu_deadline;

/* tu_deadline_ms returns the deadline ms milliseconds from now. */
static inline tu_deadline
tu_deadline_ms(int64_t ms)
{
	tu_deadline d = { tu_now_ns() + (uint64_t) ms * 1000000u, 0 };
	return d;
}

static inline bool
tu_expired(const tu_deadline *d)
{
	return tu_now_ns() >= d->end_ns;
}

/*
 * tu_poll pauses briefly between two checks of a condition (yields first,
 * then sleeps 100 us) and returns false once d has passed.  Use it as
 *     while (!cond && tu_poll(&d)) {}
 *     assert_true(cond);
 * so that every wait is bounded and never stands in for the condition.
 */
static inline bool
tu_poll(tu_deadline *d)
{
	if (d->polls++ < 64) {
		sched_yield();
	} else {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
	return !tu_expired(d);
}

/* tu_sleep_ms sleeps; only for tests that measure over a fixed time. */
static inline void
tu_sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t) (ms / 1000),
		(long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/* -------------------------------------------- checks from other threads */

/*
 * TU_CHECK(cond) is for code that runs on workers or helper threads: a
 * failed check is printed (the first few) and counted; the test thread
 * then calls tu_assert_no_failures().
 */
static atomic_long tu_failures;

static inline void
tu_fail_at(const char *file, int line, const char *what)
{
	long n = atomic_fetch_add(&tu_failures, 1);
	if (n < 10)
		fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
}

#define TU_CHECK(cond)                                         \
	do {                                                   \
		if (!(cond))                                   \
			tu_fail_at(__FILE__, __LINE__, #cond); \
	} while (0)

static inline void
tu_reset_failures(void)
{
	atomic_store(&tu_failures, 0);
}

#define tu_assert_no_failures() assert_int_equal(atomic_load(&tu_failures), 0)

/* ------------------------------------------------------------- threads */

static inline void
tu_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int rv = pthread_create(t, NULL, fn, arg);
	if (rv != 0) {
		fprintf(stderr, "pthread_create: %s\n", strerror(rv));
		abort();
	}
}

static inline void
tu_thread_join(pthread_t t)
{
	pthread_join(t, NULL);
}

/* tu_rand is a small xorshift generator for per-thread random choices. */
static inline uint64_t
tu_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ----------------------------------------------------- a recording log */

#define TU_LOG_LINES 256
#define TU_LOG_LEN 512

/*
 * tu_log records the lines a system's logging hook receives.  Set
 * cfg.log = tu_log_fn and cfg.log_arg = &log (after tu_log_init).
 */
typedef struct tu_log {
	pthread_mutex_t mu;
	int n;        /* lines received */
	int newlines; /* lines that contained '\n' (they must not) */
	tr_log_level level[TU_LOG_LINES];
	char line[TU_LOG_LINES][TU_LOG_LEN];
} tu_log;

static inline void
tu_log_init(tu_log *l)
{
	memset(l, 0, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
}

static inline void
tu_log_fini(tu_log *l)
{
	pthread_mutex_destroy(&l->mu);
}

static inline void
tu_log_fn(void *arg, tr_log_level level, const char *line)
{
	tu_log *l = arg;
	pthread_mutex_lock(&l->mu);
	if (strchr(line, '\n') != NULL)
		l->newlines++;
	if (l->n < TU_LOG_LINES) {
		l->level[l->n] = level;
		snprintf(l->line[l->n], TU_LOG_LEN, "%s", line);
	}
	l->n++;
	pthread_mutex_unlock(&l->mu);
}

static inline int
tu_log_count(tu_log *l)
{
	pthread_mutex_lock(&l->mu);
	int n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

/*
 * tu_log_find returns the index of the first line that contains every
 * NULL-terminated needle, or -1; it copies the line into out (size
 * TU_LOG_LEN) when out is not NULL.
 */
static inline int
tu_log_find(tu_log *l, char *out, ...)
{
	int found = -1;
	pthread_mutex_lock(&l->mu);
	int n = l->n < TU_LOG_LINES ? l->n : TU_LOG_LINES;
	for (int i = 0; i < n && found < 0; i++) {
		va_list ap;
		va_start(ap, out);
		bool all = true;
		const char *needle;
		while ((needle = va_arg(ap, const char *)) != NULL) {
			if (strstr(l->line[i], needle) == NULL)
				all = false;
		}
		va_end(ap);
		if (all) {
			found = i;
			if (out != NULL)
				memcpy(out, l->line[i], TU_LOG_LEN);
		}
	}
	pthread_mutex_unlock(&l->mu);
	return found;
}

/* ------------------------------------------------------- system helpers */

/* tu_start starts a system with the given workers (0: default) and budget. */
static inline tr_system *
tu_start(unsigned workers, unsigned budget)
{
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = workers;
	cfg.budget = budget;
	tr_system *sys = NULL;
	int rv = tr_system_start(&sys, &cfg);
	if (rv != 0) {
		fprintf(stderr, "tr_system_start: %s\n", tr_strerror(rv));
		return NULL;
	}
	return sys;
}

/*
 * tu_assert_left waits (bounded) until sys is idle and its counters show
 * exactly `actors` live actors and no live message block, and fails the
 * test otherwise.  The counters are approximate while work runs, so the
 * check is polled for a short while after the system went idle.
 */
#define tu_assert_left(sys, actors) \
	tu_assert_left_at((sys), (actors), __FILE__, __LINE__)

static inline void
tu_assert_left_at(tr_system *sys, uint64_t actors, const char *file, int line)
{
	int rv = tr_system_idle(sys, 30000 * TU_SLOW);
	if (rv != 0)
		fprintf(stderr, "%s:%d: tr_system_idle: %s\n", file, line,
		    tr_strerror(rv));
	assert_int_equal(rv, 0);
	tr_system_stats st;
	tu_deadline d = tu_deadline_ms(5000 * TU_SLOW);
	for (;;) {
		tr_system_stats_get(sys, &st);
		if (st.actors_alive == actors && st.msg_blocks_live == 0)
			break;
		if (!tu_poll(&d))
			break;
	}
	if (st.actors_alive != actors || st.msg_blocks_live != 0)
		fprintf(stderr,
		    "%s:%d: left: actors_alive %llu (want %llu), "
		    "msg_blocks_live %llu (want 0)\n",
		    file, line, (unsigned long long) st.actors_alive,
		    (unsigned long long) actors,
		    (unsigned long long) st.msg_blocks_live);
	assert_int_equal(st.actors_alive, actors);
	assert_int_equal(st.msg_blocks_live, 0);
}

/* tu_stats returns a snapshot of sys's counters. */
static inline tr_system_stats
tu_stats(tr_system *sys)
{
	tr_system_stats st;
	tr_system_stats_get(sys, &st);
	return st;
}

/*
 * tu_wait_exit waits (bounded) for pid to end and asserts that it ended
 * with kind, or that it was gone before tr_wait could register (NOPROC:
 * tr_wait's documented answer for an actor that has already exited, which
 * a plain thread cannot rule out when it triggers the exit itself).
 * Returns the kind seen.  After NOPROC the actor's destructor may still be
 * running: use TU_WAIT_EQ for what it does.
 */
#define tu_wait_exit(sys, pid, kind) \
	tu_wait_exit_at((sys), (pid), (kind), __FILE__, __LINE__)

static inline tr_reason_kind
tu_wait_exit_at(tr_system *sys, tr_pid pid, tr_reason_kind kind,
    const char *file, int line)
{
	tr_exit_info info;
	memset(&info, 0, sizeof info);
	int rv = tr_wait(sys, pid, 30000 * TU_SLOW, &info);
	if (rv != 0 || (info.kind != kind && info.kind != TR_REASON_NOPROC)) {
		char b[TR_PID_FMT_MAX];
		fprintf(stderr,
		    "%s:%d: tr_wait(%s): %s, kind %d (want %d) '%s'\n", file,
		    line, tr_pid_format(pid, b, sizeof b), tr_err_name(rv),
		    (int) info.kind, (int) kind, info.text);
	}
	assert_int_equal(rv, 0);
	if (info.kind != TR_REASON_NOPROC)
		assert_int_equal(info.kind, kind);
	return info.kind;
}

/*
 * TU_WAIT_EQ(expr, want) polls expr (bounded) until it equals want, then
 * asserts that it does: for effects that follow an exit seen as NOPROC.
 */
#define TU_WAIT_EQ(expr, want)                                       \
	do {                                                         \
		tu_deadline tu_d_ = tu_deadline_ms(10000 * TU_SLOW); \
		while ((expr) != (want) && tu_poll(&tu_d_)) {        \
		}                                                    \
		assert_int_equal((expr), (want));                    \
	} while (0)

/* ------------------------------------------ processes, timers, calls */

/*
 * TU_RECV_MS is the timeout a test process gives a receive that must
 * succeed: long enough for a loaded machine, short enough that a missing
 * message fails the test instead of hanging it.
 */
#define TU_RECV_MS ((int64_t) 10000 * TU_SLOW)

/*
 * TU_CHECK_EQ(a, b) is TU_CHECK(a == b) for integers that prints both
 * values when they differ.
 */
static inline void
tu_fail_eq_at(const char *file, int line, const char *a, const char *b,
    long long va, long long vb)
{
	long n = atomic_fetch_add(&tu_failures, 1);
	if (n < 10)
		fprintf(stderr,
		    "%s:%d: check failed: %s == %s (%lld != %lld)\n", file,
		    line, a, b, va, vb);
}

#define TU_CHECK_EQ(a, b)                                                 \
	do {                                                              \
		long long tu_va_ = (long long) (a);                       \
		long long tu_vb_ = (long long) (b);                       \
		if (tu_va_ != tu_vb_)                                     \
			tu_fail_eq_at(__FILE__, __LINE__, #a, #b, tu_va_, \
			    tu_vb_);                                      \
	} while (0)

/* tu_ms_since returns the milliseconds (fractional) since t0_ns. */
static inline double
tu_ms_since(uint64_t t0_ns)
{
	return (double) (tu_now_ns() - t0_ns) / 1e6;
}

/*
 * tu_spawn_proc spawns fn(arg) as a process with TR_SPAWN_WAIT | flags
 * and opts' state_free (opts may be NULL), asserting success.
 */
static inline tr_pid
tu_spawn_proc(tr_system *sys, tr_process_fn fn, void *arg, unsigned flags,
    tr_state_free_fn state_free)
{
	tr_spawn_opts o = { .state_free = state_free,
		.flags = TR_SPAWN_WAIT | flags };
	tr_pid pid = TR_PID_NIL;
	int rv = tr_spawn_process(sys, &pid, fn, arg, &o);
	if (rv != 0)
		fprintf(stderr, "tr_spawn_process: %s\n", tr_err_name(rv));
	assert_int_equal(rv, 0);
	return pid;
}

/*
 * tu_wait_info waits (bounded) for an actor spawned with TR_SPAWN_WAIT and
 * returns how it ended (its real reason, never NOPROC for such an actor).
 */
static inline tr_exit_info
tu_wait_info(tr_system *sys, tr_pid pid)
{
	tr_exit_info info;
	memset(&info, 0, sizeof info);
	int rv = tr_wait(sys, pid, 30000 * TU_SLOW, &info);
	if (rv != 0)
		fprintf(stderr, "tr_wait: %s\n", tr_err_name(rv));
	assert_int_equal(rv, 0);
	return info;
}

/* tu_run_proc runs fn(arg) as a process and asserts it ended normally. */
static inline void
tu_run_proc(tr_system *sys, tr_process_fn fn, void *arg)
{
	tr_pid pid = tu_spawn_proc(sys, fn, arg, 0, NULL);
	tr_exit_info info = tu_wait_info(sys, pid);
	if (info.kind != TR_REASON_NORMAL)
		fprintf(stderr, "process ended: %s\n", info.text);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
}

/*
 * tu_stop asserts that no TU_CHECK failed and that nothing is left in sys
 * (no actor, no message block), then stops it.
 */
#define tu_stop(sys)                                        \
	do {                                                \
		tu_assert_no_failures();                    \
		tu_assert_left((sys), 0);                   \
		assert_int_equal(tr_system_stop((sys)), 0); \
	} while (0)

#endif /* TROUPE_TESTS_TESTUTIL_H */
