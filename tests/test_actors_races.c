/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Erlang's link and monitor guarantees under races (docs/decisions/0018).
 * Each test stages one race; where its natural window is nanoseconds
 * wide, the runtime's test hook (tr__hook, actors/actors_int.h) holds the
 * racing thread inside it while the test makes the other side happen:
 *  - a link request still on B's lane, overtaken by its sender's exit
 *    signal while B is mid-turn (event actor, trapping or not) or inside
 *    a receive (process): B must still die, or get the EXIT once, and
 *    keep no link to the dead sender (also after unlink and relink);
 *  - a link or monitor request that lands on the lane of the next actor
 *    in its target's slot: answered noproc in the target's name, not with
 *    the newcomer's exit;
 *  - a wait that reaches a fresh actor's lane while it is being spawned:
 *    the actor must run it (tr_wait on a long-dead pid returns noproc);
 *  - spawn while the free slots on top of the cache wait for dead runs
 *    (late pushes): no TR_EAGAIN, in a staged case and under stress;
 *  - a flood of messages dropped unseen cannot hold a worker: another
 *    actor on a single-worker system still runs (event actor, process).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include "actors/actors_int.h"

enum {
	T_GO = 1,
	T_HOLD,
	T_PROBE,
	T_SPAWN,
	T_DIE,
	T_DATA,
	T_PING,
	T_STOP,
	T_GO2,
	T_RELINK,
};

/* Waits inside actors and hooks are bounded by this. */
#define HOLD_MS ((int64_t) 10000 * TU_SLOW)

static tr_system *g_sys;

/* spin_until waits (bounded) until *flag is set; false on timeout. */
static bool
spin_until(atomic_int *flag)
{
	tu_deadline d = tu_deadline_ms(HOLD_MS);
	while (atomic_load(flag) == 0)
		if (!tu_poll(&d))
			return false;
	return true;
}

/* apid: a local pid shared between threads (slot and generation). */
typedef _Atomic uint64_t apid;

static void
apid_set(apid *p, tr_pid v)
{
	atomic_store(p, ((uint64_t) v.slot << 32) | v.gen);
}

static tr_pid
load_pid(apid *p)
{
	uint64_t x = atomic_load(p);
	return (tr_pid){ 0, (uint32_t) (x >> 32), (uint32_t) x };
}

/* ------------------------------------------ 1. link overtaken mid-turn */

static apid g_b;
static atomic_int b_in, b_release, b_exits;
static apid b_exit_from;
static _Atomic(int) b_exit_kind, b_exit_kinds[4];
static atomic_int b_pinged;
static apid g_a;

/* B (event actor): on T_HOLD waits, mid-turn, until released. */
static int
b_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) state;
	switch (tr_msg_tag(m)) {
	case T_HOLD:
		atomic_store(&b_in, 1);
		TU_CHECK(spin_until(&b_release));
		return TR_CONTINUE;
	case TR_TAG_EXIT: {
		tr_exit_info info;
		TU_CHECK(tr_msg_reason(m, &info) == 0);
		apid_set(&b_exit_from, tr_msg_from(m));
		atomic_store(&b_exit_kind, (int) info.kind);
		int i = atomic_fetch_add(&b_exits, 1);
		if (i < 4)
			atomic_store(&b_exit_kinds[i], (int) info.kind);
		return TR_CONTINUE;
	}
	case T_PING:
		atomic_store(&b_pinged, 1);
		return TR_CONTINUE;
	case T_RELINK:
		TU_CHECK(tr_link(cx, load_pid(&g_a)) == 0);
		return TR_CONTINUE;
	case T_STOP:
		return TR_STOP;
	default:
		return TR_CONTINUE;
	}
}

/* A: links to B, then crashes. */
static int
a_link_crash_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) != T_GO)
		return TR_CONTINUE;
	TU_CHECK(tr_link(cx, load_pid(&g_b)) == 0);
	return tr_exit(cx, tr_reason("crash"));
}

/* B (process): inside a receive, its match function holds it. */
static bool
hold_match(const tr_msg *m, void *arg)
{
	(void) arg;
	if (tr_msg_tag(m) == T_PROBE) {
		atomic_store(&b_in, 1);
		TU_CHECK(spin_until(&b_release));
	}
	return tr_msg_tag(m) == T_STOP;
}

static void
b_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive_match(cx, hold_match, NULL, HOLD_MS);
	tr_msg_free(m);
}

static void
run_link_overtaken(bool process, bool trap)
{
	tu_reset_failures();
	atomic_store(&b_in, 0);
	atomic_store(&b_release, 0);
	atomic_store(&b_exits, 0);
	atomic_store(&b_exit_kind, -1);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid a, b;
	tr_spawn_opts bo = { .flags = TR_SPAWN_WAIT |
		    (trap ? TR_SPAWN_TRAP_EXIT : 0) };
	if (process)
		assert_int_equal(tr_spawn_process(sys, &b, b_proc, NULL, &bo),
		    0);
	else
		assert_int_equal(tr_spawn(sys, &b, b_fn, NULL, &bo), 0);
	apid_set(&g_b, b);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT }; /* keeps the reason */
	assert_int_equal(tr_spawn(sys, &a, a_link_crash_fn, NULL, &wo), 0);

	/* B is mid-turn (or mid-receive) ... */
	assert_int_equal(tr_system_send(sys, b, process ? T_PROBE : T_HOLD,
	                     NULL, 0),
	    0);
	assert_true(spin_until(&b_in));
	/* ... while A links to it and crashes: the link request waits on
	 * B's lane, the exit signal is in B's mailbox. */
	assert_int_equal(tr_system_send(sys, a, T_GO, NULL, 0), 0);
	tr_exit_info info;
	assert_int_equal(tr_wait(sys, a, HOLD_MS, &info), 0);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	atomic_store(&b_release, 1);

	if (!trap) {
		/* Not trapping: B dies of A's crash. */
		int rv = tr_wait(sys, b, 2000 * TU_SLOW, &info);
		assert_int_equal(rv, 0);
		assert_int_equal(info.kind, TR_REASON_ERROR);
		assert_non_null(strstr(info.text, "crash"));
	} else {
		/* Trapping: exactly one EXIT, from A, with its reason. */
		assert_int_equal(tr_system_send(sys, b, T_STOP, NULL, 0), 0);
		assert_int_equal(tr_wait(sys, b, HOLD_MS, &info), 0);
		assert_int_equal(atomic_load(&b_exits), 1);
		assert_true(tr_pid_eq(load_pid(&b_exit_from), a));
		assert_int_equal(atomic_load(&b_exit_kind), TR_REASON_ERROR);
	}
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* A: links to B (T_GO); later unlinks, links again and crashes (T_GO2). */
static atomic_int a_linked;

static int
a_relink_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) == T_GO) {
		TU_CHECK(tr_link(cx, load_pid(&g_b)) == 0);
		atomic_store(&a_linked, 1);
		return TR_CONTINUE;
	}
	if (tr_msg_tag(m) != T_GO2)
		return TR_CONTINUE;
	TU_CHECK(tr_unlink(cx, load_pid(&g_b)) == 0);
	TU_CHECK(tr_link(cx, load_pid(&g_b)) == 0);
	return tr_exit(cx, tr_reason("crash"));
}

/*
 * Linked, then unlink, link and crash while B is mid-turn: B (trapping)
 * gets one EXIT, and holds no link to the dead A afterwards: linking to
 * it again brings the noproc EXIT Erlang gives.
 */
static void
test_relink_overtaken(void **unused)
{
	(void) unused;
	tu_reset_failures();
	atomic_store(&b_in, 0);
	atomic_store(&b_release, 0);
	atomic_store(&b_exits, 0);
	atomic_store(&b_pinged, 0);
	atomic_store(&a_linked, 0);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid a, b;
	tr_spawn_opts bo = { .flags = TR_SPAWN_WAIT | TR_SPAWN_TRAP_EXIT };
	assert_int_equal(tr_spawn(sys, &b, b_fn, NULL, &bo), 0);
	apid_set(&g_b, b);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &a, a_relink_fn, NULL, &wo), 0);
	apid_set(&g_a, a);
	/* A links; B takes the request in (its next turn reads the lane). */
	assert_int_equal(tr_system_send(sys, a, T_GO, NULL, 0), 0);
	assert_true(spin_until(&a_linked));
	assert_int_equal(tr_system_send(sys, b, T_PING, NULL, 0), 0);
	assert_true(spin_until(&b_pinged));
	/* B mid-turn while A unlinks, relinks and crashes. */
	assert_int_equal(tr_system_send(sys, b, T_HOLD, NULL, 0), 0);
	assert_true(spin_until(&b_in));
	assert_int_equal(tr_system_send(sys, a, T_GO2, NULL, 0), 0);
	tr_exit_info info;
	assert_int_equal(tr_wait(sys, a, HOLD_MS, &info), 0);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	atomic_store(&b_release, 1);
	/* B handles the EXIT, then has another turn (which reads its lane),
	 * then links to the dead A: noproc. */
	tu_deadline d0 = tu_deadline_ms(HOLD_MS);
	while (atomic_load(&b_exits) < 1 && tu_poll(&d0)) {
	}
	atomic_store(&b_pinged, 0);
	assert_int_equal(tr_system_send(sys, b, T_PING, NULL, 0), 0);
	assert_true(spin_until(&b_pinged));
	assert_int_equal(tr_system_send(sys, b, T_RELINK, NULL, 0), 0);
	tu_deadline d = tu_deadline_ms(2000 * TU_SLOW);
	while (atomic_load(&b_exits) < 2 && tu_poll(&d)) {
	}
	assert_int_equal(tr_system_send(sys, b, T_STOP, NULL, 0), 0);
	assert_int_equal(tr_wait(sys, b, HOLD_MS, &info), 0);
	assert_int_equal(atomic_load(&b_exits), 2);
	assert_int_equal(atomic_load(&b_exit_kinds[0]), TR_REASON_ERROR);
	assert_int_equal(atomic_load(&b_exit_kinds[1]), TR_REASON_NOPROC);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

static void
test_link_overtaken_event(void **unused)
{
	(void) unused;
	run_link_overtaken(false, false);
}

static void
test_link_overtaken_event_trap(void **unused)
{
	(void) unused;
	run_link_overtaken(false, true);
}

static void
test_link_overtaken_process(void **unused)
{
	(void) unused;
	run_link_overtaken(true, false);
}

/* ------------------------------------- 2. request lands on a reused slot */

static _Atomic(tr__actor *) hook_target;
static atomic_int hook_in, hook_go;
static atomic_int r_monitor; /* 1: tr_monitor, 0: tr_link */
static atomic_int r_linked, r_got;
static _Atomic(uint64_t) r_ref, r_got_ref;
static apid r_got_from, g_c;
static _Atomic(int) r_got_kind;
static _Atomic uint32_t r_got_tag;
static atomic_int c_ready, c_in, c_go;

/* Holds the thread sending a lane request to hook_target between its
 * lookup and its push. */
static void
signal_hook(int point, tr__actor *a)
{
	tr__actor *want = atomic_load(&hook_target);
	if (point != TR__HOOK_SIGNAL || a != want ||
	    !atomic_compare_exchange_strong(&hook_target, &want, NULL))
		return;
	atomic_store(&hook_in, 1);
	TU_CHECK(spin_until(&hook_go));
}

/* A (trapping): links to or monitors B; records what comes back. */
static int
r_a_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	switch (tr_msg_tag(m)) {
	case T_GO:
		if (atomic_load(&r_monitor)) {
			uint64_t ref = 0;
			TU_CHECK(tr_monitor(cx, load_pid(&g_b), &ref) == 0);
			atomic_store(&r_ref, ref);
		} else {
			TU_CHECK(tr_link(cx, load_pid(&g_b)) == 0);
		}
		atomic_store(&r_linked, 1);
		return TR_CONTINUE;
	case TR_TAG_EXIT:
	case TR_TAG_DOWN: {
		tr_exit_info info;
		TU_CHECK(tr_msg_reason(m, &info) == 0);
		atomic_store(&r_got_tag, tr_msg_tag(m));
		apid_set(&r_got_from, tr_msg_from(m));
		atomic_store(&r_got_kind, (int) info.kind);
		atomic_store(&r_got_ref, tr_msg_ref(m));
		atomic_fetch_add(&r_got, 1);
		return TR_CONTINUE;
	}
	default:
		return TR_CONTINUE;
	}
}

/* C, the next actor in B's slot: held mid-turn, then ends (shutdown). */
static int
r_c_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) state;
	if (tr_msg_tag(m) != T_HOLD)
		return TR_CONTINUE;
	atomic_store(&c_in, 1);
	TU_CHECK(spin_until(&c_go));
	return tr_exit(cx, (tr_reason){ TR_REASON_SHUTDOWN, 0, NULL, NULL });
}

/* The spawner: makes C on the worker where B ended (the other one is
 * held in the hook), so C takes B's slot from that worker's cache. */
static int
r_spawner_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) != T_SPAWN)
		return TR_CONTINUE;
	tr_pid c;
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT }; /* keeps the reason */
	TU_CHECK(tr_spawn(tr_ctx_system(cx), &c, r_c_fn, NULL, &wo) == 0);
	apid_set(&g_c, c);
	atomic_store(&c_ready, 1);
	return TR_CONTINUE;
}

static void
run_reused_slot(bool monitor)
{
	tu_reset_failures();
	atomic_store(&r_monitor, monitor);
	atomic_store(&hook_in, 0);
	atomic_store(&hook_go, 0);
	atomic_store(&r_linked, 0);
	atomic_store(&r_got, 0);
	atomic_store(&c_ready, 0);
	atomic_store(&c_in, 0);
	atomic_store(&c_go, 0);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid a, b, sp;
	tr_spawn_opts ao = { .flags = TR_SPAWN_TRAP_EXIT };
	assert_int_equal(tr_spawn(sys, &a, r_a_fn, NULL, &ao), 0);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT }; /* keeps the reason */
	assert_int_equal(tr_spawn(sys, &b, b_fn, NULL, &wo), 0);
	assert_int_equal(tr_spawn(sys, &sp, r_spawner_fn, NULL, NULL), 0);
	apid_set(&g_b, b);
	atomic_store(&hook_target, tr__table_get(&sys->s_table, b.slot));
	atomic_store(&tr__hook, signal_hook);

	/* A looks B up and is held before its push ... */
	assert_int_equal(tr_system_send(sys, a, T_GO, NULL, 0), 0);
	assert_true(spin_until(&hook_in));
	/* ... B ends, and C takes its slot and is held mid-turn ... */
	assert_int_equal(tr_system_exit_pid(sys, b,
	                     (tr_reason){ TR_REASON_KILL, 0, NULL, NULL }),
	    0);
	tr_exit_info info;
	assert_int_equal(tr_wait(sys, b, HOLD_MS, &info), 0);
	assert_int_equal(info.kind, TR_REASON_KILLED);
	assert_int_equal(tr_system_send(sys, sp, T_SPAWN, NULL, 0), 0);
	assert_true(spin_until(&c_ready));
	tr_pid c = load_pid(&g_c);
	assert_int_equal(c.slot, b.slot); /* the staging worked */
	assert_int_equal(tr_system_send(sys, c, T_HOLD, NULL, 0), 0);
	assert_true(spin_until(&c_in));
	/* ... A's request lands on C's lane, and C ends before reading it. */
	atomic_store(&hook_go, 1);
	assert_true(spin_until(&r_linked));
	atomic_store(&c_go, 1);
	assert_int_equal(tr_wait(sys, c, HOLD_MS, &info), 0);
	assert_int_equal(info.kind, TR_REASON_SHUTDOWN);

	/* A hears of B, not C: noproc, once. */
	tu_deadline d = tu_deadline_ms(2000 * TU_SLOW);
	while (atomic_load(&r_got) == 0 && tu_poll(&d)) {
	}
	assert_int_equal(tr_system_idle(sys, HOLD_MS), 0);
	assert_int_equal(atomic_load(&r_got), 1);
	assert_int_equal(atomic_load(&r_got_kind), TR_REASON_NOPROC);
	assert_true(tr_pid_eq(load_pid(&r_got_from), b));
	if (monitor) {
		assert_int_equal(atomic_load(&r_got_tag), TR_TAG_DOWN);
		assert_int_equal(atomic_load(&r_got_ref), atomic_load(&r_ref));
	} else {
		assert_int_equal(atomic_load(&r_got_tag), TR_TAG_EXIT);
	}
	atomic_store(&tr__hook, NULL);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

static void
test_link_reused_slot(void **unused)
{
	(void) unused;
	run_reused_slot(false);
}

static void
test_monitor_reused_slot(void **unused)
{
	(void) unused;
	run_reused_slot(true);
}

/* --------------------------------------- 3. a wait reaches a fresh actor */

static apid g_d, g_x;
static atomic_int spawn_armed, w_done;
static _Atomic(int) w_rv;
static tr_exit_info w_info;
static pthread_t w_thread;

static void *
waiter_main(void *arg)
{
	(void) arg;
	tr_exit_info info;
	memset(&info, 0, sizeof info);
	int rv = tr_wait(g_sys, load_pid(&g_d), 2000 * TU_SLOW, &info);
	w_info = info;
	atomic_store(&w_rv, rv);
	atomic_store(&w_done, 1);
	return NULL;
}

/* Runs in spawn between the new actor's publication and its idle bit:
 * a plain thread waits for the long-dead D, whose slot it is. */
static void
spawn_hook(int point, tr__actor *a)
{
	int one = 1;
	if (point != TR__HOOK_SPAWN ||
	    !atomic_compare_exchange_strong(&spawn_armed, &one, 0))
		return;
	tu_thread_start(&w_thread, waiter_main, NULL);
	tu_deadline d = tu_deadline_ms(HOLD_MS);
	while (!tr__lane_pending(&a->a_sig) && atomic_load(&w_done) == 0 &&
	    tu_poll(&d)) {
	}
}

static int
d_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	(void) state;
	return TR_STOP;
}

static int
idle_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) state;
	return tr_msg_tag(m) == T_STOP ? TR_STOP : TR_CONTINUE;
}

/* P: spawns D, and once D is gone spawns X (with the hook armed). */
static int
p_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	tr_system *sys = tr_ctx_system(cx);
	if (tr_msg_tag(m) == T_GO) {
		uint64_t ref;
		tr_spawn_opts o = { .flags = TR_SPAWN_MONITOR,
			.monitor_ref = &ref };
		tr_pid d;
		TU_CHECK(tr_spawn(sys, &d, d_fn, NULL, &o) == 0);
		apid_set(&g_d, d);
		TU_CHECK(tr_send(cx, d, T_DIE, NULL, 0) == 0);
	} else if (tr_msg_tag(m) == TR_TAG_DOWN) {
		tr_pid x;
		atomic_store(&spawn_armed, 1);
		TU_CHECK(tr_spawn(sys, &x, idle_fn, NULL, NULL) == 0);
		apid_set(&g_x, x);
	}
	return TR_CONTINUE;
}

static void
test_wait_fresh_actor(void **unused)
{
	(void) unused;
	tu_reset_failures();
	atomic_store(&w_done, 0);
	atomic_store(&w_rv, 1);
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	g_sys = sys;
	atomic_store(&tr__hook, spawn_hook);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, p_fn, NULL, NULL), 0);
	assert_int_equal(tr_system_send(sys, p, T_GO, NULL, 0), 0);
	assert_true(spin_until(&w_done));
	tu_thread_join(w_thread);
	atomic_store(&tr__hook, NULL);
	tr_pid d = load_pid(&g_d), x = load_pid(&g_x);
	assert_int_equal(x.slot, d.slot); /* the staging worked */
	assert_int_equal(atomic_load(&w_rv), 0);
	assert_int_equal(w_info.kind, TR_REASON_NOPROC);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ------------------------------------- 4. spawn past slots awaiting dead
 * runs */

#define N_VICTIMS 16
#define N_SPAWNS 32

static atomic_int h_in, h_pushed, h_done, h_fail, h_first_err;

/* H: held until the late pushes are made, then spawns on its worker,
 * whose free-slot cache has the victims' slots on top. */
static int
h_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) != T_GO)
		return TR_CONTINUE;
	atomic_store(&h_in, 1);
	TU_CHECK(spin_until(&h_pushed));
	for (int i = 0; i < N_SPAWNS; i++) {
		int rv = tr_spawn(tr_ctx_system(cx), NULL, idle_fn, NULL, NULL);
		if (rv != 0 && atomic_fetch_add(&h_fail, 1) == 0)
			atomic_store(&h_first_err, rv);
	}
	atomic_store(&h_done, 1);
	return TR_CONTINUE;
}

/* late_push does what a sender that looked pid up just before it ended
 * does: push, and schedule the (dead) slot if it was idle. */
static void
late_push(tr_system *sys, tr_pid pid)
{
	tr__actor *a = tr__table_get(&sys->s_table, pid.slot);
	tr_msg *m = tr__msg_new_shared(sys->s_pool, 0);
	assert_non_null(m);
	m->m_from = TR_PID_NIL;
	m->m_tag = T_DATA;
	m->m_to_gen = pid.gen;
	m->m_flags = 0;
	m->m_ref = 0;
	if (tr__mpsc_push(&a->a_mbox, &m->m_node))
		tr__actor_schedule(sys, a);
}

static void
test_spawn_busy_slots(void **unused)
{
	(void) unused;
	tu_reset_failures();
	atomic_store(&h_in, 0);
	atomic_store(&h_pushed, 0);
	atomic_store(&h_done, 0);
	atomic_store(&h_fail, 0);
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	tr_pid h, v[N_VICTIMS];
	assert_int_equal(tr_spawn(sys, &h, h_fn, NULL, NULL), 0);
	for (int i = 0; i < N_VICTIMS; i++)
		assert_int_equal(tr_spawn(sys, &v[i], d_fn, NULL, NULL), 0);
	for (int i = 0; i < N_VICTIMS; i++) {
		tr_exit_info info;
		assert_int_equal(tr_system_send(sys, v[i], T_DIE, NULL, 0), 0);
		assert_int_equal(tr_wait(sys, v[i], HOLD_MS, &info), 0);
	}
	/* The worker's slot cache now holds the victims' slots, on top. */
	assert_int_equal(tr_system_send(sys, h, T_GO, NULL, 0), 0);
	assert_true(spin_until(&h_in));
	for (int i = 0; i < N_VICTIMS; i++)
		late_push(sys, v[i]); /* dead runs wait: the worker is in H */
	atomic_store(&h_pushed, 1);
	assert_true(spin_until(&h_done));
	if (atomic_load(&h_fail) != 0)
		fprintf(stderr, "spawn failed %d times, first: %s\n",
		    atomic_load(&h_fail),
		    tr_err_name(atomic_load(&h_first_err)));
	assert_int_equal(atomic_load(&h_fail), 0);
	/* The dead runs freed the late messages and gave the slots back. */
	tu_assert_left(sys, 1 + N_SPAWNS);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Stress: plain threads spawn short-lived actors, send to them and to
 * each other's (often just ended, so late pushes are common); a spawner
 * actor does the same from a worker.  No spawn may fail. */
#define S_THREADS 8
#define S_RING 64

static apid s_ring[S_RING];
static atomic_int s_stop;
static atomic_long s_spawns, s_fails, s_eagain;

static int
s_spawner_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) != T_SPAWN)
		return TR_CONTINUE;
	tr_pid p;
	int rv = tr_spawn(tr_ctx_system(cx), &p, d_fn, NULL, NULL);
	if (rv != 0) {
		atomic_fetch_add(&s_fails, 1);
		if (rv == TR_EAGAIN)
			atomic_fetch_add(&s_eagain, 1);
		return TR_CONTINUE;
	}
	atomic_fetch_add(&s_spawns, 1);
	(void) tr_send(cx, p, T_DIE, NULL, 0);
	return TR_CONTINUE;
}

static apid s_spawner;

static void *
stress_main(void *arg)
{
	uint64_t rng = (uint64_t) (uintptr_t) arg * 0x9e3779b97f4a7c15ull + 1;
	unsigned i = 0;
	while (atomic_load(&s_stop) == 0) {
		tr_pid p;
		int rv = tr_spawn(g_sys, &p, d_fn, NULL, NULL);
		if (rv != 0) {
			atomic_fetch_add(&s_fails, 1);
			if (rv == TR_EAGAIN)
				atomic_fetch_add(&s_eagain, 1);
			continue;
		}
		atomic_fetch_add(&s_spawns, 1);
		apid_set(&s_ring[tu_rand(&rng) % S_RING], p);
		for (int k = 0; k < 4; k++)
			(void) tr_system_send(g_sys,
			    load_pid(&s_ring[tu_rand(&rng) % S_RING]), T_DATA,
			    NULL, 0);
		(void) tr_system_send(g_sys, p, T_DIE, NULL, 0);
		if ((++i & 7) == 0)
			(void) tr_system_send(g_sys, load_pid(&s_spawner),
			    T_SPAWN, NULL, 0);
	}
	return NULL;
}

static void
test_spawn_stress(void **unused)
{
	(void) unused;
	tu_reset_failures();
	atomic_store(&s_stop, 0);
	atomic_store(&s_spawns, 0);
	atomic_store(&s_fails, 0);
	atomic_store(&s_eagain, 0);
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	g_sys = sys;
	for (int i = 0; i < S_RING; i++)
		apid_set(&s_ring[i], TR_PID_NIL);
	tr_pid sp;
	assert_int_equal(tr_spawn(sys, &sp, s_spawner_fn, NULL, NULL), 0);
	apid_set(&s_spawner, sp);
	pthread_t t[S_THREADS];
	for (uintptr_t i = 0; i < S_THREADS; i++)
		tu_thread_start(&t[i], stress_main, (void *) (i + 1));
	tu_sleep_ms(1000); /* a fixed-time stress run */
	atomic_store(&s_stop, 1);
	for (int i = 0; i < S_THREADS; i++)
		tu_thread_join(t[i]);
	fprintf(stderr, "spawns %ld, failed %ld (EAGAIN %ld)\n",
	    atomic_load(&s_spawns), atomic_load(&s_fails),
	    atomic_load(&s_eagain));
	assert_int_equal(atomic_load(&s_fails), 0);
	assert_true(atomic_load(&s_spawns) > 0);
	assert_int_equal(tr_system_exit_pid(sys, sp,
	                     (tr_reason){ TR_REASON_KILL, 0, NULL, NULL }),
	    0);
	tu_assert_left(sys, 0);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ----------------------------------------- 5. a flood of stale messages */

static _Atomic(tr__actor *) flood_target;
static atomic_long flood_sent, flood_dropped;
static atomic_int flood_stop, y_ran, y_ran_in_flood;

/* Makes each drop at the flooded actor slow, so that the flood keeps
 * its mailbox from ever running dry. */
static void
drop_hook(int point, tr__actor *a)
{
	if (point != TR__HOOK_DROP || a != atomic_load(&flood_target))
		return;
	atomic_fetch_add(&flood_dropped, 1);
	uint64_t end = tu_now_ns() + 20000;
	while (tu_now_ns() < end) {
	}
}

static apid g_flooded;

static void *
flood_main(void *arg)
{
	(void) arg;
	tr_pid x = load_pid(&g_flooded);
	tu_deadline d = tu_deadline_ms(HOLD_MS);
	while (atomic_load(&flood_stop) == 0 && !tu_expired(&d)) {
		/* Keep a bounded backlog. */
		if (atomic_load(&flood_sent) - atomic_load(&flood_dropped) >
		    2000) {
			sched_yield();
			continue;
		}
		/* Ignored at once by a non-trapping actor: dropped unseen. */
		(void) tr_system_exit_pid(g_sys, x,
		    (tr_reason){ TR_REASON_NORMAL, 0, NULL, NULL });
		atomic_fetch_add(&flood_sent, 1);
	}
	return NULL;
}

static int
y_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) state;
	if (tr_msg_tag(m) == T_PING) {
		if (atomic_load(&flood_stop) == 0)
			atomic_store(&y_ran_in_flood, 1);
		atomic_store(&y_ran, 1);
	}
	return TR_CONTINUE;
}

static void
x_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive_tag(cx, T_STOP, TR_INFINITY);
	tr_msg_free(m);
}

static void
run_stale_flood(bool process)
{
	tu_reset_failures();
	atomic_store(&flood_sent, 0);
	atomic_store(&flood_dropped, 0);
	atomic_store(&flood_stop, 0);
	atomic_store(&y_ran, 0);
	atomic_store(&y_ran_in_flood, 0);
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	g_sys = sys;
	tr_pid x, y;
	if (process)
		assert_int_equal(tr_spawn_process(sys, &x, x_proc, NULL, NULL),
		    0);
	else
		assert_int_equal(tr_spawn(sys, &x, idle_fn, NULL, NULL), 0);
	assert_int_equal(tr_spawn(sys, &y, y_fn, NULL, NULL), 0);
	apid_set(&g_flooded, x);
	atomic_store(&flood_target, tr__table_get(&sys->s_table, x.slot));
	atomic_store(&tr__hook, drop_hook);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		tu_thread_start(&t[i], flood_main, NULL);
	/* Once X is busy dropping, Y must still get a turn. */
	tu_deadline d = tu_deadline_ms(HOLD_MS);
	while (atomic_load(&flood_dropped) < 1000 && tu_poll(&d)) {
	}
	assert_true(atomic_load(&flood_dropped) >= 1000);
	assert_int_equal(tr_system_send(sys, y, T_PING, NULL, 0), 0);
	d = tu_deadline_ms(2000 * TU_SLOW);
	while (atomic_load(&y_ran) == 0 && tu_poll(&d)) {
	}
	atomic_store(&flood_stop, 1);
	for (int i = 0; i < 2; i++)
		tu_thread_join(t[i]);
	assert_true(spin_until(&y_ran));
	atomic_store(&tr__hook, NULL);
	assert_int_equal(atomic_load(&y_ran_in_flood), 1);
	assert_true(tr_is_alive(sys, x));
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

static void
test_stale_flood_event(void **unused)
{
	(void) unused;
	run_stale_flood(false);
}

static void
test_stale_flood_process(void **unused)
{
	(void) unused;
	run_stale_flood(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_overtaken_event),
		cmocka_unit_test(test_link_overtaken_event_trap),
		cmocka_unit_test(test_link_overtaken_process),
		cmocka_unit_test(test_relink_overtaken),
		cmocka_unit_test(test_link_reused_slot),
		cmocka_unit_test(test_monitor_reused_slot),
		cmocka_unit_test(test_wait_fresh_actor),
		cmocka_unit_test(test_spawn_busy_slots),
		cmocka_unit_test(test_spawn_stress),
		cmocka_unit_test(test_stale_flood_event),
		cmocka_unit_test(test_stale_flood_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
