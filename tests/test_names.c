/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Registered names (guide chapter 6): register, whereis, unregister, send
 * by name; a taken name; one name per actor; a name freed when its actor
 * ends, however it ends, and registered again; bad names; a dead pid;
 * two plain threads racing to register (exactly one wins); registering
 * while the actor is being killed (the name never outlives the actor);
 * names belong to their system.
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
	T_CRASH,
	T_GO,
};

typedef struct cnt_st {
	atomic_int got;
} cnt_st;

static int
cnt_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	cnt_st *s = state;
	switch (tr_msg_tag(m)) {
	case T_STOP:
		return TR_STOP;
	case T_CRASH:
		return tr_exit(cx, tr_reason("crash"));
	default:
		atomic_fetch_add(&s->got, 1);
		return TR_CONTINUE;
	}
}

static tr_pid
spawn_cnt(tr_system *sys, cnt_st *s)
{
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, cnt_fn, s, &o), 0);
	return p;
}

static void
stop_cnt(tr_system *sys, tr_pid p)
{
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
}

static void
assert_whereis(tr_system *sys, const char *name, tr_pid want)
{
	tr_pid got = TR_PID_NIL;
	assert_int_equal(tr_whereis(sys, name, &got), 0);
	assert_true(tr_pid_eq(got, want));
}

static void
assert_no_name(tr_system *sys, const char *name)
{
	tr_pid got = TR_PID_NIL;
	assert_int_equal(tr_whereis(sys, name, &got), TR_ENOENT);
}

/* ------------------------------------------------------------- basics */

typedef struct sender_st {
	int rv[4];
} sender_st;

static void
sender_body(tr_ctx *cx, void *arg)
{
	sender_st *s = arg;
	s->rv[0] = tr_send_name(cx, "srv", T_MSG, "x", 1);
	s->rv[1] = tr_send_name(cx, "srv", T_MSG, NULL, 0);
	s->rv[2] = tr_send_name(cx, "nobody", T_MSG, NULL, 0);
	s->rv[3] = tr_send_name(cx, "", T_MSG, NULL, 0);
}

static void
test_basics(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cnt_st c;
	atomic_store(&c.got, 0);
	tr_pid e = spawn_cnt(sys, &c);
	assert_no_name(sys, "srv");
	assert_int_equal(tr_register(sys, "srv", e), 0);
	assert_whereis(sys, "srv", e);

	static sender_st s;
	memset(&s, 0, sizeof s);
	tu_run_proc(sys, sender_body, &s);
	assert_int_equal(s.rv[0], 0);
	assert_int_equal(s.rv[1], 0);
	assert_int_equal(s.rv[2], TR_ENOENT);
	assert_int_equal(s.rv[3], TR_EINVAL);
	TU_WAIT_EQ(atomic_load(&c.got), 2);

	assert_int_equal(tr_unregister(sys, "srv"), 0);
	assert_no_name(sys, "srv");
	assert_int_equal(tr_unregister(sys, "srv"), TR_ENOENT);
	memset(&s, 0, sizeof s);
	tu_run_proc(sys, sender_body, &s);
	assert_int_equal(s.rv[0], TR_ENOENT);
	/* Free again: the actor may take it (or another name) again. */
	assert_int_equal(tr_register(sys, "srv2", e), 0);
	assert_int_equal(tr_unregister(sys, "srv2"), 0);
	assert_int_equal(tr_register(sys, "srv", e), 0);
	assert_whereis(sys, "srv", e);

	/* Bad arguments. */
	tr_pid p;
	assert_int_equal(tr_whereis(sys, "srv", NULL), TR_EINVAL);
	assert_int_equal(tr_whereis(NULL, "srv", &p), TR_EINVAL);
	assert_int_equal(tr_register(NULL, "x", e), TR_EINVAL);
	assert_int_equal(tr_unregister(NULL, "srv"), TR_EINVAL);
	assert_int_equal(tr_register(sys, "x", TR_PID_NIL), TR_EINVAL);

	stop_cnt(sys, e);
	assert_no_name(sys, "srv");
	tu_stop(sys);
}

/* ------------------------------------------------- taken, one per actor */

static void
test_taken(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cnt_st c1, c2;
	tr_pid a = spawn_cnt(sys, &c1), b = spawn_cnt(sys, &c2);
	assert_int_equal(tr_register(sys, "a", a), 0);
	assert_int_equal(tr_register(sys, "a", b), TR_EEXIST); /* taken */
	assert_int_equal(tr_register(sys, "a", a), TR_EEXIST); /* again */
	assert_int_equal(tr_register(sys, "b", a), TR_EEXIST); /* one each */
	assert_whereis(sys, "a", a);
	assert_no_name(sys, "b");
	assert_int_equal(tr_register(sys, "b", b), 0);
	assert_whereis(sys, "b", b);
	/* Names are case- and byte-exact. */
	assert_no_name(sys, "A");
	assert_no_name(sys, "a ");
	stop_cnt(sys, a);
	stop_cnt(sys, b);
	assert_no_name(sys, "a");
	assert_no_name(sys, "b");
	tu_stop(sys);
}

/* ---------------------------------------------------- freed at exit */

static void
self_naming_body(tr_ctx *cx, void *arg)
{
	int *rv = arg;
	/* A server registers itself when it starts. */
	*rv = tr_register(tr_ctx_system(cx), "svc", tr_self(cx));
	tr_msg *m = tr_receive_tag(cx, T_GO, TU_RECV_MS);
	bool crash = m != NULL && tr_msg_len(m) == 1;
	tr_msg_free(m); /* before anything that may end us (guide 2.5) */
	if (crash)
		tr_exit(cx, tr_reason("process crash"));
}

static void
test_freed_at_exit(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	static cnt_st c;
	/* Every way an event actor ends. */
	for (int way = 0; way < 4; way++) {
		tr_pid e = spawn_cnt(sys, &c);
		assert_int_equal(tr_register(sys, "svc", e), 0);
		tr_reason_kind want = TR_REASON_NORMAL;
		switch (way) {
		case 0:
			assert_int_equal(tr_system_send(sys, e, T_STOP, NULL,
			                     0),
			    0);
			break;
		case 1:
			assert_int_equal(tr_system_send(sys, e, T_CRASH, NULL,
			                     0),
			    0);
			want = TR_REASON_ERROR;
			break;
		case 2:
			assert_int_equal(tr_system_exit_pid(sys, e, TR_KILL),
			    0);
			want = TR_REASON_KILLED;
			break;
		default:
			assert_int_equal(tr_system_exit_pid(sys, e,
			                     TR_SHUTDOWN),
			    0);
			want = TR_REASON_SHUTDOWN;
			break;
		}
		assert_int_equal(tu_wait_info(sys, e).kind, want);
		/* Gone by the time tr_wait learns of the exit. */
		assert_no_name(sys, "svc");
		assert_int_equal(tr_unregister(sys, "svc"), TR_ENOENT);
	}
	/* A process that named itself: returning, crashing, killed while
	 * blocked. */
	for (int way = 0; way < 3; way++) {
		static int rv;
		rv = 1;
		tr_pid p = tu_spawn_proc(sys, self_naming_body, &rv, 0, NULL);
		tr_pid got = TR_PID_NIL;
		TU_WAIT_EQ(tr_whereis(sys, "svc", &got), 0);
		assert_true(tr_pid_eq(got, p));
		tr_reason_kind want = TR_REASON_NORMAL;
		if (way == 0) {
			assert_int_equal(tr_system_send(sys, p, T_GO, NULL, 0),
			    0);
		} else if (way == 1) {
			assert_int_equal(tr_system_send(sys, p, T_GO, "x", 1),
			    0);
			want = TR_REASON_ERROR;
		} else {
			assert_int_equal(tr_system_exit_pid(sys, p, TR_KILL),
			    0);
			want = TR_REASON_KILLED;
		}
		assert_int_equal(tu_wait_info(sys, p).kind, want);
		assert_int_equal(rv, 0);
		assert_no_name(sys, "svc");
	}

	/* A restarted server takes its name again. */
	tr_pid e1 = spawn_cnt(sys, &c);
	assert_int_equal(tr_register(sys, "svc", e1), 0);
	assert_int_equal(tr_system_send(sys, e1, T_CRASH, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, e1).kind, TR_REASON_ERROR);
	tr_pid e2 = spawn_cnt(sys, &c);
	assert_int_equal(tr_register(sys, "svc", e2), 0);
	assert_whereis(sys, "svc", e2);

	/* An actor that gave up a name and took another: its exit frees
	 * the one it holds, and leaves the old one, now someone else's. */
	tr_pid a = spawn_cnt(sys, &c), b = spawn_cnt(sys, &c);
	assert_int_equal(tr_register(sys, "x", a), 0);
	assert_int_equal(tr_unregister(sys, "x"), 0);
	assert_int_equal(tr_register(sys, "y", a), 0);
	assert_int_equal(tr_register(sys, "x", b), 0);
	stop_cnt(sys, a);
	assert_no_name(sys, "y");
	assert_whereis(sys, "x", b);
	/* A new actor, perhaps in a's slot, and its own name. */
	tr_pid d = spawn_cnt(sys, &c);
	assert_int_equal(tr_register(sys, "z", d), 0);
	assert_whereis(sys, "z", d);
	assert_whereis(sys, "x", b);
	assert_no_name(sys, "y");
	stop_cnt(sys, b);
	stop_cnt(sys, d);
	stop_cnt(sys, e2);
	assert_no_name(sys, "x");
	assert_no_name(sys, "z");
	assert_no_name(sys, "svc");
	tu_stop(sys);
	tu_log_fini(&log);
}

/* ---------------------------------------------------------- bad names */

static void
test_bad_names(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cnt_st c;
	tr_pid e = spawn_cnt(sys, &c);
	char n63[TR_NAME_MAX + 1], n64[TR_NAME_MAX + 2];
	memset(n63, 'n', TR_NAME_MAX);
	n63[TR_NAME_MAX] = '\0';
	memset(n64, 'n', TR_NAME_MAX + 1);
	n64[TR_NAME_MAX + 1] = '\0';
	tr_pid p;
	assert_int_equal(tr_register(sys, "", e), TR_EINVAL);
	assert_int_equal(tr_register(sys, NULL, e), TR_EINVAL);
	assert_int_equal(tr_register(sys, n64, e), TR_EINVAL);
	assert_int_equal(tr_whereis(sys, "", &p), TR_EINVAL);
	assert_int_equal(tr_whereis(sys, n64, &p), TR_EINVAL);
	assert_int_equal(tr_unregister(sys, ""), TR_EINVAL);
	assert_int_equal(tr_unregister(sys, n64), TR_EINVAL);
	/* The longest name is fine, and no prefix of it is registered. */
	assert_int_equal(tr_register(sys, n63, e), 0);
	assert_whereis(sys, n63, e);
	n63[TR_NAME_MAX - 1] = '\0';
	assert_no_name(sys, n63);
	n63[TR_NAME_MAX - 1] = 'n';
	/* One byte names, and bytes that are not letters. */
	static cnt_st c2;
	tr_pid e2 = spawn_cnt(sys, &c2);
	assert_int_equal(tr_register(sys, "\x01", e2), 0);
	assert_whereis(sys, "\x01", e2);
	assert_int_equal(tr_unregister(sys, "\x01"), 0);
	assert_int_equal(tr_register(sys, "name with spaces/and\xff", e2), 0);
	assert_whereis(sys, "name with spaces/and\xff", e2);
	stop_cnt(sys, e);
	stop_cnt(sys, e2);
	assert_no_name(sys, n63);
	tu_stop(sys);
}

/* ----------------------------------------------------------- dead pid */

static void
test_dead_pid(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cnt_st c;
	tr_pid e = spawn_cnt(sys, &c);
	stop_cnt(sys, e);
	TU_WAIT_EQ(tr_is_alive(sys, e), false);
	assert_int_equal(tr_register(sys, "ghost", e), TR_ENOPROC);
	assert_no_name(sys, "ghost");
	/* A pid of a slot's older incarnation, now reused: still gone. */
	tr_pid e2 = spawn_cnt(sys, &c);
	assert_int_equal(tr_register(sys, "ghost", e), TR_ENOPROC);
	assert_int_equal(tr_register(sys, "ghost", e2), 0);
	stop_cnt(sys, e2);
	assert_no_name(sys, "ghost");
	tu_stop(sys);
}

/* ------------------------------------------------------------- races */

#define RACE_ROUNDS TU_PICK(3000, 1000, 400)

typedef struct race_st {
	tr_system *sys;
	pthread_barrier_t start, end;
	tr_pid pid[2];
	const char *name[2];
	int rv[2];
	int rounds;
} race_st;

typedef struct race_arg {
	race_st *r;
	int i;
} race_arg;

static void *
race_thread(void *p)
{
	race_arg *a = p;
	race_st *r = a->r;
	for (int k = 0; k < r->rounds; k++) {
		pthread_barrier_wait(&r->start);
		r->rv[a->i] = tr_register(r->sys, r->name[a->i], r->pid[a->i]);
		pthread_barrier_wait(&r->end);
	}
	return NULL;
}

static void
test_register_race(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cnt_st c1, c2;
	tr_pid a = spawn_cnt(sys, &c1), b = spawn_cnt(sys, &c2);
	static race_st r;
	memset(&r, 0, sizeof r);
	r.sys = sys;
	r.rounds = RACE_ROUNDS;
	pthread_barrier_init(&r.start, NULL, 3);
	pthread_barrier_init(&r.end, NULL, 3);
	race_arg ra[2] = { { &r, 0 }, { &r, 1 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		tu_thread_start(&th[i], race_thread, &ra[i]);
	int wins[2] = { 0, 0 }, bad = 0;
	for (int k = 0; k < RACE_ROUNDS; k++) {
		bool same_pid = k & 1;
		/* Even rounds: one name, two actors.  Odd rounds: one actor,
		 * two names. */
		r.pid[0] = a;
		r.pid[1] = same_pid ? a : b;
		r.name[0] = "race";
		r.name[1] = same_pid ? "race2" : "race";
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.end);
		int w = r.rv[0] == 0 ? 0 : 1;
		if (!((r.rv[0] == 0 && r.rv[1] == TR_EEXIST) ||
		        (r.rv[1] == 0 && r.rv[0] == TR_EEXIST))) {
			if (bad++ < 5)
				fprintf(stderr, "round %d: %s / %s\n", k,
				    tr_err_name(r.rv[0]), tr_err_name(r.rv[1]));
			continue;
		}
		wins[w]++;
		tr_pid got;
		if (tr_whereis(sys, r.name[w], &got) != 0 ||
		    !tr_pid_eq(got, r.pid[w]))
			bad++;
		if (tr_whereis(sys, r.name[1 - w], &got) == 0 &&
		    !tr_pid_eq(got, r.pid[w]))
			bad++;
		if (tr_unregister(sys, r.name[w]) != 0)
			bad++;
	}
	for (int i = 0; i < 2; i++)
		tu_thread_join(th[i]);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.end);
	printf("# %d rounds: thread 0 won %d, thread 1 won %d\n", RACE_ROUNDS,
	    wins[0], wins[1]);
	assert_int_equal(bad, 0);
	assert_int_equal(wins[0] + wins[1], RACE_ROUNDS);
	stop_cnt(sys, a);
	stop_cnt(sys, b);
	tu_stop(sys);
}

/* Registering while the actor is being killed: the register fails with
 * TR_ENOPROC or succeeds, and then the exit frees the name. */

typedef struct dying_st {
	tr_system *sys;
	pthread_barrier_t start, end;
	tr_pid pid;
	int rv;
	int rounds;
} dying_st;

static void *
dying_registrar(void *p)
{
	dying_st *d = p;
	for (int k = 0; k < d->rounds; k++) {
		pthread_barrier_wait(&d->start);
		d->rv = tr_register(d->sys, "dying", d->pid);
		pthread_barrier_wait(&d->end);
	}
	return NULL;
}

static void
test_register_vs_exit(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static dying_st d;
	memset(&d, 0, sizeof d);
	d.sys = sys;
	d.rounds = RACE_ROUNDS / 2;
	pthread_barrier_init(&d.start, NULL, 2);
	pthread_barrier_init(&d.end, NULL, 2);
	pthread_t th;
	tu_thread_start(&th, dying_registrar, &d);
	static cnt_st c;
	int ok = 0, noproc = 0, bad = 0;
	for (int k = 0; k < d.rounds; k++) {
		tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
		assert_int_equal(tr_spawn(sys, &d.pid, cnt_fn, &c, &o), 0);
		pthread_barrier_wait(&d.start);
		assert_int_equal(tr_system_exit_pid(sys, d.pid, TR_KILL), 0);
		pthread_barrier_wait(&d.end);
		assert_int_equal(tu_wait_info(sys, d.pid).kind,
		    TR_REASON_KILLED);
		if (d.rv == 0)
			ok++;
		else if (d.rv == TR_ENOPROC)
			noproc++;
		else
			bad++;
		/* Never a name for a dead actor. */
		tr_pid got;
		if (tr_whereis(sys, "dying", &got) != TR_ENOENT) {
			if (bad++ < 5)
				fprintf(stderr,
				    "round %d: name outlived its "
				    "actor\n",
				    k);
			(void) tr_unregister(sys, "dying");
		}
	}
	tu_thread_join(th);
	pthread_barrier_destroy(&d.start);
	pthread_barrier_destroy(&d.end);
	printf("# %d rounds: registered %d, noproc %d\n", d.rounds, ok, noproc);
	assert_int_equal(bad, 0);
	tu_stop(sys);
}

/* ------------------------------------------------------ two systems */

static void
test_two_systems(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *s1 = tu_start(1, 0), *s2 = tu_start(1, 0);
	assert_non_null(s1);
	assert_non_null(s2);
	static cnt_st c1, c2;
	tr_pid a = spawn_cnt(s1, &c1), b = spawn_cnt(s2, &c2);
	assert_int_equal(tr_register(s1, "same", a), 0);
	assert_int_equal(tr_register(s2, "same", b), 0);
	assert_whereis(s1, "same", a);
	assert_whereis(s2, "same", b);
	stop_cnt(s1, a);
	assert_no_name(s1, "same");
	assert_whereis(s2, "same", b);
	stop_cnt(s2, b);
	tu_stop(s1);
	tu_stop(s2);
}

/* A name still registered when the system stops is freed (ASan). */
static void
test_names_at_stop(void **unused)
{
	(void) unused;
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static cnt_st c;
	char name[16];
	for (int i = 0; i < 200; i++) {
		tr_pid e;
		assert_int_equal(tr_spawn(sys, &e, cnt_fn, &c, NULL), 0);
		snprintf(name, sizeof name, "n%d", i);
		assert_int_equal(tr_register(sys, name, e), 0);
	}
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_taken),
		cmocka_unit_test(test_freed_at_exit),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_dead_pid),
		cmocka_unit_test(test_register_race),
		cmocka_unit_test(test_register_vs_exit),
		cmocka_unit_test(test_two_systems),
		cmocka_unit_test(test_names_at_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
