/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Messages as actors see them: header accessors (tag, sender, ref, flags,
 * length, payload), zero-copy tr_msg_alloc + tr_send_msg (ownership moves
 * only on success), payload sizes across every pool class up to large
 * ones, and the errors tr_send gives.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum { T_GO = 1, T_PAYLOAD, T_ZC, T_ERRORS, T_STOP };

typedef struct echo_state {
	tr_pid peer;
	atomic_long got, bad;
	atomic_int errors_checked;
	size_t sizes[64];
	int nsizes;
} echo_state;

static unsigned char
pattern(size_t len, size_t i)
{
	return (unsigned char) (len * 7u + i * 13u);
}

static bool
payload_ok(const tr_msg *m)
{
	const unsigned char *p = tr_msg_data(m);
	size_t len = tr_msg_len(m);
	if (len > 0 && p == NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(len, i))
			return false;
	return true;
}

/* The receiver: checks every header field it can. */
static int
receiver_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	echo_state *s = state;
	switch (tr_msg_tag(m)) {
	case T_PAYLOAD:
		if (!tr_pid_eq(tr_msg_from(m), s->peer) || tr_msg_ref(m) != 0 ||
		    tr_msg_flags(m) != 0 || !payload_ok(m))
			atomic_fetch_add(&s->bad, 1);
		atomic_fetch_add(&s->got, 1);
		return TR_CONTINUE;
	case T_ZC:
		if (!tr_pid_eq(tr_msg_from(m), s->peer) ||
		    tr_msg_ref(m) != 0x1122334455667788ull ||
		    tr_msg_flags(m) != TR_MSG_LOCAL || !payload_ok(m))
			atomic_fetch_add(&s->bad, 1);
		atomic_fetch_add(&s->got, 1);
		return TR_CONTINUE;
	case T_STOP:
		return TR_STOP;
	default:
		atomic_fetch_add(&s->bad, 1);
		return TR_CONTINUE;
	}
}

static void
fill(void *p, size_t len)
{
	unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		b[i] = pattern(len, i);
}

/* The sender: on T_GO sends every size twice (copied, zero-copy). */
static int
sender_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	echo_state *s = state;
	if (tr_msg_tag(m) == T_GO) {
		static unsigned char buf[1 << 20];
		for (int i = 0; i < s->nsizes; i++) {
			size_t len = s->sizes[i];
			fill(buf, len);
			TU_CHECK(tr_send(cx, s->peer, T_PAYLOAD,
			             len ? buf : NULL, len) == 0);
			tr_msg *z = tr_msg_alloc(cx, T_ZC, len);
			TU_CHECK(z != NULL);
			if (z == NULL)
				continue;
			TU_CHECK(tr_msg_len(z) == len);
			TU_CHECK(tr_msg_tag(z) == T_ZC);
			fill(tr_msg_body(z), len);
			tr_msg_set_ref(z, 0x1122334455667788ull);
			tr_msg_set_flags(z, TR_MSG_LOCAL);
			TU_CHECK(tr_send_msg(cx, s->peer, z) == 0);
		}
		return TR_CONTINUE;
	}
	if (tr_msg_tag(m) == T_ERRORS) {
		static const char one = 1;
		TU_CHECK(tr_send(cx, s->peer, T_PAYLOAD, NULL, 3) == TR_EINVAL);
		TU_CHECK(
		    tr_send(cx, TR_PID_NIL, T_PAYLOAD, &one, 1) == TR_EINVAL);
		TU_CHECK(tr_send(cx, s->peer, T_PAYLOAD, &one,
		             TR_MSG_MAX_LEN + 1) == TR_ETOOBIG);
		tr_pid remote = s->peer;
		remote.node = 3;
		TU_CHECK(
		    tr_send(cx, remote, T_PAYLOAD, &one, 1) == TR_ENOTLOCAL);
		TU_CHECK(tr_msg_alloc(cx, T_ZC, TR_MSG_MAX_LEN + 1) == NULL);
		/* tr_send_msg keeps ownership with the caller on error. */
		tr_msg *z = tr_msg_alloc(cx, T_ZC, 10);
		TU_CHECK(z != NULL);
		if (z != NULL) {
			TU_CHECK(tr_send_msg(cx, TR_PID_NIL, z) == TR_EINVAL);
			TU_CHECK(tr_send_msg(cx, remote, z) == TR_ENOTLOCAL);
			fill(tr_msg_body(z), 10); /* still ours: ASan agrees */
			tr_msg_free(z);
		}
		tr_msg_free(NULL);
		/* An unsent message is simply freed. */
		tr_msg *u = tr_msg_alloc(cx, T_ZC, 100000);
		TU_CHECK(u != NULL);
		tr_msg_free(u);
		atomic_store(&s->errors_checked, 1);
		return TR_CONTINUE;
	}
	return TR_STOP;
}

static void
test_payloads(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static echo_state rs, ss;
	memset(&rs, 0, sizeof rs);
	memset(&ss, 0, sizeof ss);
	tr_pid rp, sp;
	assert_int_equal(tr_spawn(sys, &rp, receiver_fn, &rs, NULL), 0);
	assert_int_equal(tr_spawn(sys, &sp, sender_fn, &ss, NULL), 0);
	rs.peer = sp;
	ss.peer = rp;
	size_t sizes[] = { 0, 1, 2, 7, 8, 15, 16, 17, 63, 64, 65, 100, 127, 128,
		200, 255, 256, 500, 1000, 1023, 1024, 2000, 4000, 4096, 8000,
		8192, 8193, 16384, 65536, 100000, 1u << 20 };
	ss.nsizes = (int) (sizeof sizes / sizeof sizes[0]);
	memcpy(ss.sizes, sizes, sizeof sizes);
	/* Written before the first message to the actors: visible to them. */
	for (int round = 0; round < 3; round++)
		assert_int_equal(tr_system_send(sys, sp, T_GO, NULL, 0), 0);
	assert_int_equal(tr_system_send(sys, sp, T_ERRORS, NULL, 0), 0);
	assert_int_equal(tr_system_idle(sys, 30000 * TU_SLOW), 0);
	assert_int_equal(atomic_load(&rs.got), 3 * 2 * ss.nsizes);
	assert_int_equal(atomic_load(&rs.bad), 0);
	assert_int_equal(atomic_load(&ss.errors_checked), 1);
	tu_assert_no_failures();
	assert_int_equal(tr_system_send(sys, rp, T_STOP, NULL, 0), 0);
	assert_int_equal(tr_system_send(sys, sp, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, rp, TR_REASON_NORMAL);
	tu_wait_exit(sys, sp, TR_REASON_NORMAL);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* From a plain thread: sender is nil, every size arrives intact. */
static void
test_plain_payloads(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static echo_state rs;
	memset(&rs, 0, sizeof rs);
	rs.peer = TR_PID_NIL;
	tr_pid rp;
	assert_int_equal(tr_spawn(sys, &rp, receiver_fn, &rs, NULL), 0);
	static unsigned char buf[1 << 20];
	size_t sizes[] = { 0, 1, 50, 64, 200, 1000, 5000, 8200, 70000,
		1u << 20 };
	int n = (int) (sizeof sizes / sizeof sizes[0]);
	for (int i = 0; i < n; i++) {
		fill(buf, sizes[i]);
		assert_int_equal(tr_system_send(sys, rp, T_PAYLOAD, buf,
		                     sizes[i]),
		    0);
	}
	assert_int_equal(tr_system_idle(sys, 30000 * TU_SLOW), 0);
	assert_int_equal(atomic_load(&rs.got), n);
	assert_int_equal(atomic_load(&rs.bad), 0);
	assert_int_equal(tr_system_send(sys, rp, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, rp, TR_REASON_NORMAL);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Actor-only calls from a plain thread would need a tr_ctx: there is none,
 * so the API makes them impossible by construction; tr_self etc. are not
 * tested here.  Spawning from inside an actor is. */
typedef struct spawner_state {
	atomic_int spawned_ok;
	atomic_int child_got;
	tr_pid child;
} spawner_state;

static int
child_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	spawner_state *s = state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	atomic_fetch_add(&s->child_got, 1);
	return TR_CONTINUE;
}

static int
spawner_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	spawner_state *s = state;
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	tr_pid c;
	if (tr_spawn(tr_ctx_system(cx), &c, child_fn, s, NULL) == 0) {
		s->child = c;
		atomic_store(&s->spawned_ok, 1);
		TU_CHECK(tr_send(cx, c, T_PAYLOAD, NULL, 0) == 0);
		TU_CHECK(tr_send(cx, c, T_STOP, NULL, 0) == 0);
	}
	return TR_CONTINUE;
}

static void
test_spawn_from_actor(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static spawner_state s;
	memset(&s, 0, sizeof s);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, spawner_fn, &s, NULL), 0);
	assert_int_equal(tr_system_send(sys, p, T_GO, NULL, 0), 0);
	assert_int_equal(tr_system_idle(sys, 30000 * TU_SLOW), 0);
	assert_int_equal(atomic_load(&s.spawned_ok), 1);
	assert_int_equal(atomic_load(&s.child_got), 1);
	assert_false(tr_is_alive(sys, s.child));
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, p, TR_REASON_NORMAL);
	tr_system_stats st = tu_stats(sys);
	assert_int_equal(st.actors_spawned, 2);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_payloads),
		cmocka_unit_test(test_plain_payloads),
		cmocka_unit_test(test_spawn_from_actor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
