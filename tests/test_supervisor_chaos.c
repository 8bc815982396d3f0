/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Chaos: a three-level tree (top -> 3 middle supervisors, one of each
 * fixed strategy -> 2 leaf supervisors each -> 3 workers each: processes
 * that trap exits or not, and event actors) is hit for a bounded time by
 * bursts of exit signals from a plain thread: mostly to random workers
 * (kill, an error, shutdown), now and then to a leaf or middle
 * supervisor.  After each burst the tree must come back to its full shape
 * (which_children on every supervisor, bounded wait); restarts the
 * intensities refuse escalate, and the top, which never gives up,
 * restarts what escalated.  The run is seeded: TROUPE_SEED=<n> replays
 * the choices (the interleavings differ).  At the end nothing is left.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"
#include "test_supervisor_util.h"

#define N_MID 3
#define N_LEAF 2
#define N_WORK 3

/* ------------------------------------------------------- workers */

static void
proc_main(tr_ctx *cx, void *arg)
{
	(void) arg;
	for (;;) {
		tr_msg *m = tr_receive(cx, TR_INFINITY);
		tr_exit_info why;
		bool isexit = tr_msg_tag(m) == TR_TAG_EXIT &&
		    tr_msg_reason(m, &why) == 0;
		tr_msg_free(m);
		if (isexit) {
			/* A trapping worker ends with whatever it was told. */
			tr_reason r = { why.kind, 0, why.text, NULL };
			(void) tr_exit(cx, r);
		}
	}
}

static int
proc_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) extra;
	bool trap = arg != NULL;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK |
		    (trap ? TR_SPAWN_TRAP_EXIT : 0) };
	return tr_spawn_process(tr_ctx_system(cx), pid, proc_main, NULL, &o);
}

static int
actor_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	(void) state;
	return TR_CONTINUE;
}

static int
actor_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) arg;
	(void) extra;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK };
	return tr_spawn(tr_ctx_system(cx), pid, actor_fn, NULL, &o);
}

/* ------------------------------------------------------- the tree */

typedef struct counter {
	atomic_long n[5];
} counter;

static counter reports;

static void
count_fn(void *arg, const tr_sup_event *ev)
{
	counter *c = arg;
	atomic_fetch_add(&c->n[ev->kind], 1);
}

static const char *const wids[N_WORK] = { "proc", "trap", "actor" };
static const char *const lids[N_LEAF] = { "leaf0", "leaf1" };
static const char *const mids[N_MID] = { "one_for_one", "one_for_all",
	"rest_for_one" };

static tr_child_spec wspecs[N_WORK];
static tr_sup_spec leaves[N_LEAF];
static tr_child_spec lspecs[N_LEAF];
static tr_sup_spec middles[N_MID];
static tr_child_spec mspecs[N_MID];

static void
build_tree(void)
{
	static int trap_on = 1;
	wspecs[0] = (tr_child_spec){ wids[0], proc_start, NULL, TR_PERMANENT,
		100, TR_WORKER };
	wspecs[1] = (tr_child_spec){ wids[1], proc_start, &trap_on,
		TR_PERMANENT, 100, TR_WORKER };
	wspecs[2] = (tr_child_spec){ wids[2], actor_start, NULL, TR_PERMANENT,
		TR_SHUTDOWN_BRUTAL_KILL, TR_WORKER };
	tr_sup_opts o = { NULL, 0, count_fn, &reports };
	for (int i = 0; i < N_LEAF; i++) {
		tr_sup_flags lf = tsu_flags(TR_ONE_FOR_ONE, 3, 200);
		if (i == 1) {
			/* One leaf waits a little before each restart. */
			lf.backoff_min_ms = 1;
			lf.backoff_max_ms = 8;
			lf.backoff_jitter_pct = 50;
		}
		leaves[i] = (tr_sup_spec){ lf, wspecs, N_WORK, o };
		lspecs[i] = (tr_child_spec){ lids[i], tr_sup_child_start,
			&leaves[i], TR_PERMANENT, TR_SHUTDOWN_INFINITY,
			TR_SUPERVISOR };
	}
	const tr_strategy st[N_MID] = { TR_ONE_FOR_ONE, TR_ONE_FOR_ALL,
		TR_REST_FOR_ONE };
	for (int i = 0; i < N_MID; i++) {
		middles[i] = (tr_sup_spec){ tsu_flags(st[i], 4, 200), lspecs,
			N_LEAF, o };
		mspecs[i] = (tr_child_spec){ mids[i], tr_sup_child_start,
			&middles[i], TR_PERMANENT, TR_SHUTDOWN_INFINITY,
			TR_SUPERVISOR };
	}
}

/* A snapshot of the tree: the pids found, and whether it was complete. */
typedef struct shape {
	bool full;
	tr_pid mid[N_MID];
	tr_pid leaf[N_MID][N_LEAF];
	tr_pid work[N_MID][N_LEAF][N_WORK];
} shape;

/* which lists sup's children; false if it is gone or not answering. */
static bool
which(tr_system *sys, tr_pid sup, tr_child_info *ci, size_t want)
{
	size_t n = 0;
	if (tr_pid_is_nil(sup))
		return false;
	int rv = tr_sup_which_children(sys, NULL, sup, ci, TSU_MAXC, &n,
	    TU_RECV_MS);
	if (rv == TR_ENOPROC)
		return false;
	if (rv != 0)
		fprintf(stderr, "which_children: %s\n", tr_err_name(rv));
	assert_int_equal(rv, 0);
	if (n != want)
		return false;
	bool all = true;
	for (size_t i = 0; i < n; i++)
		if (!ci[i].running)
			all = false;
	return all;
}

static void
snapshot(tr_system *sys, tr_pid top, shape *s)
{
	memset(s, 0, sizeof *s);
	s->full = true;
	tr_child_info ci[TSU_MAXC];
	if (!which(sys, top, ci, N_MID))
		s->full = false;
	for (int m = 0; m < N_MID; m++) {
		s->mid[m] = ci[m].pid;
		tr_child_info cl[TSU_MAXC];
		memset(cl, 0, sizeof cl);
		bool ok = !tr_pid_is_nil(s->mid[m]) &&
		    which(sys, s->mid[m], cl, N_LEAF);
		if (!ok)
			s->full = false;
		for (int l = 0; l < N_LEAF; l++) {
			s->leaf[m][l] = ok ? cl[l].pid : TR_PID_NIL;
			tr_child_info cw[TSU_MAXC];
			memset(cw, 0, sizeof cw);
			bool okw = !tr_pid_is_nil(s->leaf[m][l]) &&
			    which(sys, s->leaf[m][l], cw, N_WORK);
			if (!okw)
				s->full = false;
			for (int w = 0; w < N_WORK; w++)
				s->work[m][l][w] = okw ? cw[w].pid : TR_PID_NIL;
		}
	}
}

/* wait_full waits (bounded) until the tree has its full shape. */
static void
wait_full(tr_system *sys, tr_pid top, shape *s)
{
	tu_deadline d = tu_deadline_ms(20000 * TU_SLOW);
	snapshot(sys, top, s);
	while (!s->full && tu_poll(&d))
		snapshot(sys, top, s);
	assert_true(s->full);
}

/* ------------------------------------------------------- the test */

static tr_reason
pick_reason(uint64_t *rng)
{
	switch (tu_rand(rng) % 4) {
	case 0:
		return TR_SHUTDOWN;
	case 1:
		return tr_reason("chaos");
	default:
		return TR_KILL;
	}
}

static void
test_chaos(void **unused)
{
	(void) unused;
	uint64_t seed = (uint64_t) time(NULL) ^ (tu_now_ns() << 16);
	const char *env = getenv("TROUPE_SEED");
	if (env != NULL)
		seed = strtoull(env, NULL, 0);
	if (seed == 0)
		seed = 1;
	printf("# seed %llu (TROUPE_SEED=%llu replays)\n",
	    (unsigned long long) seed, (unsigned long long) seed);
	uint64_t rng = seed;

	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	memset(&reports, 0, sizeof reports);
	build_tree();
	tr_sup_flags f = tsu_flags(TR_ONE_FOR_ONE, 1000000, 1000);
	tr_sup_opts o = { "chaos_top", 0, count_fn, &reports };
	tr_pid top;
	assert_int_equal(tr_sup_start(sys, NULL, &top, &f, mspecs, N_MID, &o),
	    0);
	shape s;
	wait_full(sys, top, &s);

	const double run_ms = 2000;
	uint64_t t0 = tu_now_ns();
	long rounds = 0, kills = 0;
	while (tu_ms_since(t0) < run_ms) {
		int burst = 1 + (int) (tu_rand(&rng) % 6);
		for (int i = 0; i < burst; i++) {
			int m = (int) (tu_rand(&rng) % N_MID);
			int l = (int) (tu_rand(&rng) % N_LEAF);
			int w = (int) (tu_rand(&rng) % N_WORK);
			unsigned dice = (unsigned) (tu_rand(&rng) % 100);
			tr_reason r = pick_reason(&rng);
			tr_pid victim = s.work[m][l][w];
			if (dice >= 97)
				victim = s.mid[m];
			else if (dice >= 90)
				victim = s.leaf[m][l];
			/* The snapshot may be stale: a gone pid is ignored. */
			assert_int_equal(tr_system_exit_pid(sys, victim, r), 0);
			kills++;
		}
		wait_full(sys, top, &s);
		rounds++;
	}
	printf("# %ld rounds, %ld exit signals; reports: %ld exited, "
	       "%ld restarted, %ld gave up\n",
	    rounds, kills, atomic_load(&reports.n[TR_SUP_CHILD_EXITED]),
	    atomic_load(&reports.n[TR_SUP_CHILD_RESTARTED]),
	    atomic_load(&reports.n[TR_SUP_GIVE_UP]));
	assert_true(rounds > 0);
	assert_true(atomic_load(&reports.n[TR_SUP_CHILD_RESTARTED]) > 0);
	assert_true(tr_is_alive(sys, top));
	/* 1 + 3 + 6 supervisors, 18 workers. */
	tu_assert_left(sys,
	    1 + N_MID + N_MID * N_LEAF + N_MID * N_LEAF * N_WORK);
	assert_int_equal(tr_sup_stop(sys, NULL, top, TU_RECV_MS), 0);
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chaos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
