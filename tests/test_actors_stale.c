/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Stale and fake pids: a send to an actor that has exited is a counted
 * dead letter and never reaches a newer actor in the same slot; pids that
 * were never handed out are dead letters too, not crashes; tr_is_alive
 * and tr_wait on them; and the pid value helpers.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_DATA = 1, T_DIE, T_FORWARD };

/* Every actor of these tests counts what it got and checks that each
 * T_DATA payload names it (the pid the sender meant). */
typedef struct cell {
	atomic_int got;
	atomic_int misdelivered;
} cell;

static atomic_long total_got, total_misdelivered, total_freed;

static void
cell_free(void *p)
{
	atomic_fetch_add(&total_freed, 1);
	free(p);
}

static const tr_spawn_opts cell_opts = { .state_free = cell_free };

static int
cell_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	cell *c = state;
	switch (tr_msg_tag(m)) {
	case T_DATA: {
		tr_pid meant;
		atomic_fetch_add(&c->got, 1);
		atomic_fetch_add(&total_got, 1);
		TU_CHECK(tr_msg_len(m) == sizeof meant);
		if (tr_msg_len(m) == sizeof meant) {
			memcpy(&meant, tr_msg_data(m), sizeof meant);
			if (!tr_pid_eq(meant, tr_self(cx))) {
				atomic_fetch_add(&c->misdelivered, 1);
				atomic_fetch_add(&total_misdelivered, 1);
			}
		}
		return TR_CONTINUE;
	}
	case T_DIE:
		return TR_STOP;
	case T_FORWARD: {
		/* Payload: an array of pids to send T_DATA to, from an actor. */
		size_t n = tr_msg_len(m) / sizeof(tr_pid);
		const tr_pid *pids = tr_msg_data(m);
		for (size_t i = 0; i < n; i++) {
			tr_pid p;
			memcpy(&p, &pids[i], sizeof p);
			TU_CHECK(tr_send(cx, p, T_DATA, &p, sizeof p) == 0);
		}
		return TR_CONTINUE;
	}
	default:
		TU_CHECK(!"unexpected tag");
		return TR_CONTINUE;
	}
}

static tr_pid
spawn_cell(tr_system *sys)
{
	cell *c = calloc(1, sizeof *c);
	assert_non_null(c);
	tr_pid pid;
	assert_int_equal(tr_spawn(sys, &pid, cell_fn, c, &cell_opts), 0);
	return pid;
}

static int
send_data(tr_system *sys, tr_pid pid)
{
	return tr_system_send(sys, pid, T_DATA, &pid, sizeof pid);
}

static void
reset(void)
{
	tu_reset_failures();
	atomic_store(&total_got, 0);
	atomic_store(&total_misdelivered, 0);
	atomic_store(&total_freed, 0);
}

/* Spawn, kill, respawn into the same slots, send to the old pids. */
static void
test_stale_after_reuse(void **unused)
{
	(void) unused;
	reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	enum { N = 2000 };
	static tr_pid old[N], fresh[N];
	uint64_t reused = 0;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < N; i++) {
			old[i] = spawn_cell(sys);
			assert_true(tr_is_alive(sys, old[i]));
		}
		for (int i = 0; i < N; i++)
			assert_int_equal(tr_system_send(sys, old[i], T_DIE,
			                     NULL, 0),
			    0);
		for (int i = 0; i < N; i++)
			tu_wait_exit(sys, old[i], TR_REASON_NORMAL);
		for (int i = 0; i < N; i++)
			assert_false(tr_is_alive(sys, old[i]));
		tu_assert_left(sys, 0);

		for (int i = 0; i < N; i++)
			fresh[i] = spawn_cell(sys);
		/* How many new actors took an old actor's slot. */
		for (int i = 0; i < N; i++)
			for (int j = 0; j < N; j++)
				if (fresh[i].slot == old[j].slot) {
					assert_false(
					    tr_pid_eq(fresh[i], old[j]));
					reused++;
					break;
				}

		tr_system_stats before = tu_stats(sys);
		for (int i = 0; i < N; i++)
			assert_int_equal(send_data(sys, old[i]), 0);
		tu_assert_left(sys, N);
		tr_system_stats after = tu_stats(sys);
		assert_int_equal(after.dead_letters - before.dead_letters, N);
		assert_int_equal(atomic_load(&total_got), 0);

		/* The new actors do get what is meant for them. */
		for (int i = 0; i < N; i++)
			assert_int_equal(send_data(sys, fresh[i]), 0);
		tu_assert_left(sys, N);
		assert_int_equal(atomic_load(&total_got), N);
		atomic_store(&total_got, 0);
		for (int i = 0; i < N; i++)
			assert_int_equal(tr_system_send(sys, fresh[i], T_DIE,
			                     NULL, 0),
			    0);
		for (int i = 0; i < N; i++)
			tu_wait_exit(sys, fresh[i], TR_REASON_NORMAL);
	}
	printf("# %llu of %d respawns reused an old slot\n",
	    (unsigned long long) reused, 5 * N);
	/* Slots are recycled, or this test checks nothing. */
	assert_true(reused > 0);
	assert_int_equal(atomic_load(&total_misdelivered), 0);
	TU_WAIT_EQ(atomic_load(&total_freed), 2 * 5 * N);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* The same from inside an actor: tr_send to stale pids. */
static void
test_stale_from_actor(void **unused)
{
	(void) unused;
	reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	enum { N = 500 };
	static tr_pid old[N];
	for (int i = 0; i < N; i++)
		old[i] = spawn_cell(sys);
	for (int i = 0; i < N; i++)
		assert_int_equal(tr_system_send(sys, old[i], T_DIE, NULL, 0),
		    0);
	for (int i = 0; i < N; i++)
		tu_wait_exit(sys, old[i], TR_REASON_NORMAL);
	tr_pid fresh[N];
	for (int i = 0; i < N; i++)
		fresh[i] = spawn_cell(sys);
	tr_pid fwd = spawn_cell(sys);
	tu_assert_left(sys, N + 1);
	tr_system_stats before = tu_stats(sys);
	assert_int_equal(tr_system_send(sys, fwd, T_FORWARD, old, sizeof old),
	    0);
	tu_assert_left(sys, N + 1);
	tr_system_stats after = tu_stats(sys);
	assert_int_equal(after.dead_letters - before.dead_letters, N);
	assert_int_equal(atomic_load(&total_got), 0);
	assert_int_equal(tr_system_send(sys, fwd, T_FORWARD, fresh,
	                     sizeof fresh),
	    0);
	tu_assert_left(sys, N + 1);
	assert_int_equal(atomic_load(&total_got), N);
	assert_int_equal(atomic_load(&total_misdelivered), 0);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
	/* Stop ended the live ones: every state freed once. */
	assert_int_equal(atomic_load(&total_freed), 2 * N + 1);
}

/* Pids that never named an actor. */
static void
test_fake_pids(void **unused)
{
	(void) unused;
	reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	tr_pid live = spawn_cell(sys);
	tu_assert_left(sys, 1);
	tr_system_stats st = tu_stats(sys);

	tr_pid fakes[] = {
		{ 0, live.slot, live.gen + 2 }, /* a later incarnation */
		{ 0, live.slot, live.gen + 1 }, /* a free-slot generation */
		{ 0, live.slot, 0 },
		{ 0, live.slot + 1, 1 }, /* neighbour, likely never used */
		{ 0, (uint32_t) st.slots + 5, 1 },
		{ 0, 1u << 20, 1 },
		{ 0, 123456789, 7 },
		{ 0, UINT32_MAX - 1, 1 }, /* beyond any table */
		{ 0, UINT32_MAX - 1, UINT32_MAX },
	};
	size_t nf = sizeof fakes / sizeof fakes[0];
	for (size_t i = 0; i < nf; i++) {
		assert_false(tr_is_alive(sys, fakes[i]));
		assert_int_equal(send_data(sys, fakes[i]), 0);
		tr_exit_info info;
		assert_int_equal(tr_wait(sys, fakes[i], 1000, &info), 0);
		assert_int_equal(info.kind, TR_REASON_NOPROC);
	}
	tu_assert_left(sys, 1);
	tr_system_stats after = tu_stats(sys);
	assert_int_equal(after.dead_letters - st.dead_letters, nf);
	assert_int_equal(atomic_load(&total_got), 0);

	/* Not dead letters but errors: nil and remote pids. */
	assert_int_equal(send_data(sys, TR_PID_NIL), TR_EINVAL);
	tr_pid remote = live;
	remote.node = 7;
	assert_int_equal(send_data(sys, remote), TR_ENOTLOCAL);
	assert_false(tr_is_alive(sys, TR_PID_NIL));
	assert_false(tr_is_alive(sys, remote));

	/* The live actor is untouched and still answers. */
	assert_true(tr_is_alive(sys, live));
	assert_int_equal(send_data(sys, live), 0);
	tu_assert_left(sys, 1);
	assert_int_equal(atomic_load(&total_got), 1);
	assert_int_equal(atomic_load(&total_misdelivered), 0);
	assert_int_equal(tr_system_send(sys, live, T_DIE, NULL, 0), 0);
	tu_wait_exit(sys, live, TR_REASON_NORMAL);
	tr_exit_info info;
	assert_int_equal(tr_wait(sys, live, 1000, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NOPROC);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ---------------------------- churn: spawns, exits and stale sends at once */

#define RING 256

typedef struct churn {
	tr_system *sys;
	pthread_mutex_t mu;
	tr_pid ring[RING];
	int filled;
	atomic_int spawner_done;
	atomic_long sends, send_errors;
	int spawns;
} churn;

static void *
spawner(void *p)
{
	churn *c = p;
	for (int i = 0; i < c->spawns; i++) {
		tr_pid pid = spawn_cell(c->sys);
		pthread_mutex_lock(&c->mu);
		c->ring[i % RING] = pid;
		if (c->filled < RING)
			c->filled++;
		pthread_mutex_unlock(&c->mu);
		/* Let it live a little: kill the one spawned RING/2 ago. */
		if (i >= RING / 2) {
			pthread_mutex_lock(&c->mu);
			tr_pid victim = c->ring[(i - RING / 2) % RING];
			pthread_mutex_unlock(&c->mu);
			if (tr_system_send(c->sys, victim, T_DIE, NULL, 0) != 0)
				atomic_fetch_add(&c->send_errors, 1);
		}
	}
	/* Kill the rest. */
	for (int k = 0; k < RING / 2 && k < c->spawns; k++) {
		pthread_mutex_lock(&c->mu);
		tr_pid victim = c->ring[(c->spawns - 1 - k) % RING];
		pthread_mutex_unlock(&c->mu);
		tr_system_send(c->sys, victim, T_DIE, NULL, 0);
	}
	atomic_store(&c->spawner_done, 1);
	return NULL;
}

static void *
stale_sender(void *p)
{
	churn *c = p;
	uint64_t rng = (uint64_t) (uintptr_t) &rng | 1;
	tu_deadline d = tu_deadline_ms(60000 * TU_SLOW);
	while (!atomic_load(&c->spawner_done) && !tu_expired(&d)) {
		pthread_mutex_lock(&c->mu);
		int n = c->filled;
		tr_pid pid = n > 0 ? c->ring[tu_rand(&rng) % (uint64_t) n]
		                   : TR_PID_NIL;
		pthread_mutex_unlock(&c->mu);
		if (n == 0) {
			sched_yield();
			continue;
		}
		if (send_data(c->sys, pid) != 0)
			atomic_fetch_add(&c->send_errors, 1);
		atomic_fetch_add(&c->sends, 1);
	}
	return NULL;
}

static void
test_churn(void **unused)
{
	(void) unused;
	reset();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static churn c;
	memset(&c, 0, sizeof c);
	pthread_mutex_init(&c.mu, NULL);
	c.sys = sys;
	c.spawns = TU_PICK(100000, 50000, 10000);
	pthread_t sp, s1, s2;
	tu_thread_start(&sp, spawner, &c);
	tu_thread_start(&s1, stale_sender, &c);
	tu_thread_start(&s2, stale_sender, &c);
	tu_thread_join(sp);
	tu_thread_join(s1);
	tu_thread_join(s2);
	pthread_mutex_destroy(&c.mu);
	tu_assert_left(sys, 0);
	tr_system_stats st = tu_stats(sys);
	printf("# churn: %d spawns, %ld stale-or-live sends, %ld delivered, "
	       "%llu dead letters\n",
	    c.spawns, atomic_load(&c.sends), atomic_load(&total_got),
	    (unsigned long long) st.dead_letters);
	assert_int_equal(atomic_load(&c.send_errors), 0);
	assert_int_equal(atomic_load(&total_misdelivered), 0);
	assert_int_equal(atomic_load(&total_freed), c.spawns);
	assert_int_equal(st.actors_spawned, (uint64_t) c.spawns);
	/* Every message was either handled or counted as a dead letter:
	 * T_DATA sends plus one T_DIE per actor (more in the tail loop). */
	uint64_t handled = (uint64_t) atomic_load(&total_got) +
	    (uint64_t) c.spawns;
	assert_true(st.messages_sent >=
	    (uint64_t) atomic_load(&c.sends) + (uint64_t) c.spawns);
	assert_int_equal(st.messages_sent, handled + st.dead_letters);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ------------------------------------------------------- pid value helpers */

static void
test_pid_values(void **unused)
{
	(void) unused;
	tr_pid a = { 0, 5, 3 }, b = { 0, 5, 3 }, c = { 0, 5, 5 },
	       d = { 1, 5, 3 };
	assert_true(tr_pid_eq(a, b));
	assert_false(tr_pid_eq(a, c));
	assert_false(tr_pid_eq(a, d));
	assert_true(tr_pid_hash(a) == tr_pid_hash(b));
	assert_true(tr_pid_hash(a) != tr_pid_hash(c));
	assert_true(tr_pid_is_nil(TR_PID_NIL));
	assert_false(tr_pid_is_nil(a));

	char buf[TR_PID_FMT_MAX];
	assert_ptr_equal(tr_pid_format(a, buf, sizeof buf), buf);
	assert_string_equal(buf, "<0.5.3>");
	tr_pid big = { UINT32_MAX, UINT32_MAX - 1, UINT32_MAX };
	tr_pid_format(big, buf, sizeof buf);
	assert_string_equal(buf, "<4294967295.4294967294.4294967295>");
	assert_true(strlen(buf) < TR_PID_FMT_MAX);
	/* Truncation keeps a terminator; len 0 writes nothing. */
	char small[4] = { 'x', 'x', 'x', 'x' };
	tr_pid_format(a, small, 4);
	assert_int_equal(small[3], '\0');
	assert_memory_equal(small, "<0.", 3);
	char none = 'q';
	tr_pid_format(a, &none, 0);
	assert_int_equal(none, 'q');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_values),
		cmocka_unit_test(test_fake_pids),
		cmocka_unit_test(test_stale_after_reuse),
		cmocka_unit_test(test_stale_from_actor),
		cmocka_unit_test(test_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
