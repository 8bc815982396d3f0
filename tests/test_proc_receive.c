/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Processes and receive (guide chapters 2 and 3): sequential code that
 * blocks in receive and keeps its locals; selective receive keeps the
 * messages it passes over, in order, for later receives, and tests each
 * message once per receive; tr_receive_tag; polling (timeout 0), also from
 * an event actor; tr_make_ref + tr_receive_ref behind a long mailbox;
 * tr_yield in a long loop on one worker; a process killed while blocked
 * in receive or while looping with tr_yield (once, and two thousand times
 * with the signal at random points of the loop); an exit signal that comes
 * before a process's first turn; stack sizes and deep recursion.
 *
 * Process bodies run on worker threads: they check with TU_CHECK and the
 * test thread asserts afterwards.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#define NOINLINE __attribute__((noinline))

enum {
	T_DATA = 1,
	T_A,
	T_B,
	T_C,
	T_GO,
	T_ABSENT,
	T_JUNK,
	T_REQ,
	T_REQ_ALLOC,
	T_REQ_REPLY,
	T_ANSWER,
	T_PING,
	T_STOP,
};

/* CHECK_MSG ends the calling process body (returns) if m is NULL. */
#define CHECK_MSG(m)                           \
	do {                                   \
		if ((m) == NULL) {             \
			TU_CHECK((m) != NULL); \
			return;                \
		}                              \
	} while (0)

static int64_t
msg_int(const tr_msg *m)
{
	int64_t v = -1;
	TU_CHECK(tr_msg_int(m, &v) == 0);
	return v;
}

typedef struct counter {
	atomic_int n;
} counter;

static void
counter_free(void *arg)
{
	atomic_fetch_add(&((counter *) arg)->n, 1);
}

/* ------------------------------------------------------ sequential code */

#define SEQ_N 1000

typedef struct seq_st {
	tr_system *sys;
	atomic_llong sum;
	tr_pid self;
} seq_st;

static NOINLINE int64_t
square_after_receive(tr_ctx *cx, int64_t k)
{
	/* A frame that lives across a block: its locals must survive. */
	volatile int64_t local[16];
	for (int i = 0; i < 16; i++)
		local[i] = k * i;
	tr_msg *m = tr_receive_tag(cx, T_PING, TU_RECV_MS);
	TU_CHECK(m != NULL);
	tr_msg_free(m);
	int64_t s = 0;
	for (int i = 0; i < 16; i++) {
		TU_CHECK_EQ(local[i], k * i);
		s += local[i];
	}
	return s;
}

static void
seq_body(tr_ctx *cx, void *arg)
{
	seq_st *s = arg;
	TU_CHECK(tr_ctx_system(cx) == s->sys);
	s->self = tr_self(cx);
	int64_t locals[64];
	for (int i = 0; i < 64; i++)
		locals[i] = (int64_t) i * i;
	int64_t sum = 0;
	for (int i = 0; i < SEQ_N; i++) {
		tr_msg *m = tr_receive(cx, TU_RECV_MS);
		CHECK_MSG(m);
		TU_CHECK_EQ(tr_msg_tag(m), T_DATA);
		TU_CHECK(tr_pid_is_nil(tr_msg_from(m)));
		int64_t v = msg_int(m);
		TU_CHECK_EQ(v, i); /* one sender: its order is kept */
		sum += v;
		tr_msg_free(m);
	}
	TU_CHECK_EQ(square_after_receive(cx, 3), 3 * 120);
	for (int i = 0; i < 64; i++)
		TU_CHECK_EQ(locals[i], (int64_t) i * i);
	atomic_store(&s->sum, sum);
}

static void
test_sequential(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static seq_st s;
	memset(&s, 0, sizeof s);
	s.sys = sys;
	atomic_init(&s.sum, -1);
	tr_pid pid = tu_spawn_proc(sys, seq_body, &s, 0, NULL);
	for (int i = 0; i < SEQ_N; i++)
		assert_int_equal(tr_system_send_int(sys, pid, T_DATA, i), 0);
	assert_int_equal(tr_system_send(sys, pid, T_PING, NULL, 0), 0);
	tr_exit_info info = tu_wait_info(sys, pid);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_string_equal(info.text, "normal");
	assert_int_equal(atomic_load(&s.sum),
	    (long long) SEQ_N * (SEQ_N - 1) / 2);
	assert_true(tr_pid_eq(s.self, pid));
	assert_false(tr_is_alive(sys, pid));
	tu_stop(sys);
}

/* Many process pairs ping-pong, each checking its own counters: the
 * processes move between workers and keep their state. */

#define PP_PAIRS TU_PICK(200, 50, 20)
#define PP_ROUNDS TU_PICK(2000, 300, 100)

typedef struct pp_st {
	tr_pid peer;
	bool is_ping;
	int rounds;
	atomic_int done;
	atomic_int moved; /* turns that resumed on another thread */
} pp_st;

static void
pp_body(tr_ctx *cx, void *arg)
{
	pp_st *s = arg;
	/* Locals that must survive every block and every move between
	 * workers. */
	uint64_t guard[8];
	for (int i = 0; i < 8; i++)
		guard[i] = (uint64_t) (uintptr_t) s * (uint64_t) (i + 1);
	int64_t expect = 0;
	if (s->is_ping) {
		TU_CHECK(tr_send_int(cx, s->peer, T_PING, 0) == 0);
		expect = 1;
	}
	pthread_t last = pthread_self();
	for (int r = 0; r < s->rounds; r++) {
		tr_msg *m = tr_receive_tag(cx, T_PING, TU_RECV_MS);
		CHECK_MSG(m);
		if (!pthread_equal(last, pthread_self())) {
			atomic_fetch_add(&s->moved, 1);
			last = pthread_self();
		}
		int64_t v = msg_int(m);
		TU_CHECK_EQ(v, expect);
		tr_pid from = tr_msg_from(m);
		tr_msg_free(m);
		expect = v + 2;
		if (s->is_ping && r == s->rounds - 1)
			break;
		TU_CHECK(tr_send_int(cx, from, T_PING, v + 1) == 0);
	}
	for (int i = 0; i < 8; i++)
		TU_CHECK(
		    guard[i] == (uint64_t) (uintptr_t) s * (uint64_t) (i + 1));
	atomic_store(&s->done, 1);
}

static void
test_pingpong_many(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	pp_st *st = calloc(2 * PP_PAIRS, sizeof *st);
	tr_pid *pids = calloc(2 * PP_PAIRS, sizeof *pids);
	assert_non_null(st);
	assert_non_null(pids);
	for (int i = 0; i < PP_PAIRS; i++) {
		pp_st *pong = &st[2 * i], *ping = &st[2 * i + 1];
		pong->rounds = ping->rounds = PP_ROUNDS;
		pids[2 * i] = tu_spawn_proc(sys, pp_body, pong, 0, NULL);
		ping->is_ping = true;
		ping->peer = pids[2 * i];
		pids[2 * i + 1] = tu_spawn_proc(sys, pp_body, ping, 0, NULL);
	}
	long moved = 0;
	for (int i = 0; i < 2 * PP_PAIRS; i++) {
		assert_int_equal(tu_wait_info(sys, pids[i]).kind,
		    TR_REASON_NORMAL);
		assert_int_equal(atomic_load(&st[i].done), 1);
		moved += atomic_load(&st[i].moved);
	}
	printf("# %d pairs x %d rounds; %ld resumptions on another worker\n",
	    PP_PAIRS, PP_ROUNDS, moved);
	free(pids);
	free(st);
	tu_stop(sys);
}

/* ---------------------------------------------------- selective receive */

typedef struct sel_st {
	int n;
	uint32_t tag[16];
	int64_t seq[16];
	double absent_ms;
} sel_st;

static bool
seq_at_least(const tr_msg *m, void *arg)
{
	int64_t v;
	return tr_msg_int(m, &v) == 0 && v >= *(const int64_t *) arg;
}

static void
sel_record(sel_st *s, tr_msg *m)
{
	if (s->n < 16) {
		s->tag[s->n] = m != NULL ? tr_msg_tag(m) : 0;
		s->seq[s->n] = m != NULL ? msg_int(m) : -1;
	}
	s->n++;
	tr_msg_free(m);
}

static void
sel_body(tr_ctx *cx, void *arg)
{
	sel_st *s = arg;
	/* Wait for GO: the six messages before it are passed over. */
	tr_msg *go = tr_receive_tag(cx, T_GO, TU_RECV_MS);
	CHECK_MSG(go);
	tr_msg_free(go);
	/* A receive that times out leaves everything queued. */
	uint64_t t0 = tu_now_ns();
	TU_CHECK(tr_receive_tag(cx, T_ABSENT, 20) == NULL);
	s->absent_ms = tu_ms_since(t0);
	TU_CHECK(tr_receive_tag(cx, T_ABSENT, 0) == NULL);
	int64_t four = 4;
	sel_record(s, tr_receive_tag(cx, T_C, TU_RECV_MS)); /* C3 */
	sel_record(s, tr_receive_tag(cx, T_B, TU_RECV_MS)); /* B1 */
	sel_record(s, tr_receive(cx, TU_RECV_MS));          /* A0 */
	sel_record(s,
	    tr_receive_match(cx, seq_at_least, &four, TU_RECV_MS)); /* B4 */
	sel_record(s, tr_receive_tag(cx, T_A, 0));                  /* A2 */
	sel_record(s, tr_receive(cx, 0));                           /* A5 */
	sel_record(s, tr_receive(cx, 0));                           /* none */
}

static void
test_selective_order(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static sel_st s;
	memset(&s, 0, sizeof s);
	tr_pid pid = tu_spawn_proc(sys, sel_body, &s, 0, NULL);
	static const uint32_t tags[] = { T_A, T_B, T_A, T_C, T_B, T_A };
	for (int i = 0; i < 6; i++)
		assert_int_equal(tr_system_send_int(sys, pid, tags[i], i), 0);
	assert_int_equal(tr_system_send_int(sys, pid, T_GO, 99), 0);
	assert_int_equal(tu_wait_info(sys, pid).kind, TR_REASON_NORMAL);
	static const uint32_t want_tag[] = { T_C, T_B, T_A, T_B, T_A, T_A, 0 };
	static const int64_t want_seq[] = { 3, 1, 0, 4, 2, 5, -1 };
	assert_int_equal(s.n, 7);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(s.tag[i], want_tag[i]);
		assert_int_equal(s.seq[i], want_seq[i]);
	}
	printf("# receive_tag(absent, 20) took %.2f ms\n", s.absent_ms);
	assert_true(s.absent_ms >= 20.0);
	tu_stop(sys);
}

/*
 * Messages trickle in while the receiver is blocked in a selective
 * receive: the sender yields after each send, so on one worker the
 * receiver wakes, tests the new message and blocks again each time.  Each
 * message must be tested once in that receive, and those passed over
 * must then come out in order.
 */

#define TRICKLE_N 300

typedef struct trickle_st {
	tr_pid receiver;
	atomic_int tested[TRICKLE_N + 1];
	int got_seq;
	int later; /* passed-over messages received afterwards, in order */
} trickle_st;

static bool
trickle_match(const tr_msg *m, void *arg)
{
	trickle_st *s = arg;
	int64_t v = -1;
	if (tr_msg_int(m, &v) == 0 && v >= 0 && v <= TRICKLE_N)
		atomic_fetch_add(&s->tested[v], 1);
	return tr_msg_tag(m) == T_C;
}

static void
trickle_sender(tr_ctx *cx, void *arg)
{
	trickle_st *s = arg;
	for (int i = 0; i < TRICKLE_N; i++) {
		TU_CHECK(
		    tr_send_int(cx, s->receiver, (i & 1) ? T_A : T_B, i) == 0);
		tr_yield(cx);
	}
	TU_CHECK(tr_send_int(cx, s->receiver, T_C, TRICKLE_N) == 0);
}

static void
trickle_receiver(tr_ctx *cx, void *arg)
{
	trickle_st *s = arg;
	tr_msg *m = tr_receive_match(cx, trickle_match, s, TU_RECV_MS);
	CHECK_MSG(m);
	s->got_seq = (int) msg_int(m);
	tr_msg_free(m);
	for (int i = 0; i < TRICKLE_N; i++) {
		m = tr_receive(cx, 0);
		CHECK_MSG(m);
		TU_CHECK_EQ(msg_int(m), i);
		TU_CHECK_EQ(tr_msg_tag(m), (i & 1) ? T_A : T_B);
		tr_msg_free(m);
		s->later++;
	}
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
trickle_run(unsigned workers)
{
	tu_reset_failures();
	tr_system *sys = tu_start(workers, 0);
	assert_non_null(sys);
	trickle_st *s = calloc(1, sizeof *s);
	assert_non_null(s);
	tr_pid r = tu_spawn_proc(sys, trickle_receiver, s, 0, NULL);
	s->receiver = r;
	tr_pid snd = tu_spawn_proc(sys, trickle_sender, s, 0, NULL);
	assert_int_equal(tu_wait_info(sys, snd).kind, TR_REASON_NORMAL);
	assert_int_equal(tu_wait_info(sys, r).kind, TR_REASON_NORMAL);
	assert_int_equal(s->got_seq, TRICKLE_N);
	assert_int_equal(s->later, TRICKLE_N);
	int bad = 0;
	for (int i = 0; i <= TRICKLE_N; i++) {
		if (atomic_load(&s->tested[i]) != 1 && bad++ < 5)
			fprintf(stderr, "message %d tested %d times\n", i,
			    atomic_load(&s->tested[i]));
	}
	assert_int_equal(bad, 0);
	free(s);
	tu_stop(sys);
}

static void
test_selective_trickle_one_worker(void **unused)
{
	(void) unused;
	trickle_run(1);
}

static void
test_selective_trickle_two_workers(void **unused)
{
	(void) unused;
	trickle_run(2);
}

/* ---------------------------------------------------------------- poll */

typedef struct poll_st {
	double empty_ms;
	int ok;
} poll_st;

static void
poll_body(tr_ctx *cx, void *arg)
{
	poll_st *s = arg;
	uint64_t t0 = tu_now_ns();
	for (int i = 0; i < 1000; i++)
		TU_CHECK(tr_receive(cx, 0) == NULL);
	s->empty_ms = tu_ms_since(t0);
	/* Sent to ourselves: it is queued when the send returns. */
	TU_CHECK(tr_send_int(cx, tr_self(cx), T_A, 1) == 0);
	TU_CHECK(tr_receive_tag(cx, T_B, 0) == NULL);
	tr_msg *m = tr_receive(cx, 0);
	CHECK_MSG(m);
	TU_CHECK_EQ(tr_msg_tag(m), T_A);
	TU_CHECK(tr_pid_eq(tr_msg_from(m), tr_self(cx)));
	tr_msg_free(m);
	TU_CHECK(tr_receive(cx, 0) == NULL);
	s->ok = 1;
}

/* An event actor polls out of turn (guide 3.6). */
typedef struct evpoll_st {
	tr_pid target;
	atomic_int handled;
	int order[8];
	int n;
	int polled;
	double poll_ms;
} evpoll_st;

static int
evpoll_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	evpoll_st *s = state;
	atomic_fetch_add(&s->handled, 1);
	int64_t v = msg_int(m);
	if (s->n < 8)
		s->order[s->n++] = (int) v;
	if (tr_msg_tag(m) == T_A && v == 0) {
		/* Take the B behind us out of turn; a timeout never blocks an
		 * event actor. */
		uint64_t t0 = tu_now_ns();
		TU_CHECK(tr_receive_tag(cx, T_C, 0) == NULL);
		TU_CHECK(tr_receive_tag(cx, T_C, 10000) == NULL);
		s->poll_ms = tu_ms_since(t0);
		tr_msg *b = tr_receive_tag(cx, T_B, 0);
		TU_CHECK(b != NULL);
		if (b != NULL) {
			s->polled = (int) msg_int(b);
			tr_msg_free(b); /* ours, unlike m */
		}
	}
	return tr_msg_tag(m) == T_STOP ? TR_STOP : TR_CONTINUE;
}

/* Queues [A0, A1, B2, A3, STOP] in one turn: on the only worker, the
 * event actor runs after all of them are queued. */
static void
evpoll_sender(tr_ctx *cx, void *arg)
{
	evpoll_st *s = arg;
	static const uint32_t tags[] = { T_A, T_A, T_B, T_A, T_STOP };
	for (int i = 0; i < 5; i++)
		TU_CHECK(tr_send_int(cx, s->target, tags[i], i) == 0);
}

static void
test_poll(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static poll_st ps;
	memset(&ps, 0, sizeof ps);
	tu_run_proc(sys, poll_body, &ps);
	assert_int_equal(ps.ok, 1);
	printf("# 1000 empty polls: %.3f ms\n", ps.empty_ms);
	tu_stop(sys);

	/* Event actor: the handler of A0 takes B2 out of turn; it is not
	 * handed to the handler again, the rest come in order. */
	sys = tu_start(1, 0);
	assert_non_null(sys);
	static evpoll_st es;
	memset(&es, 0, sizeof es);
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &es.target, evpoll_fn, &es, &o), 0);
	tu_run_proc(sys, evpoll_sender, &es);
	assert_int_equal(tu_wait_info(sys, es.target).kind, TR_REASON_NORMAL);
	int handled = atomic_load(&es.handled);
	printf("# event actor: handled %d, polled %d, poll(10000) took %.2f "
	       "ms\n",
	    handled, es.polled, es.poll_ms);
	assert_true(es.poll_ms < 5000.0); /* it did not block */
	assert_int_equal(es.polled, 2);
	assert_int_equal(handled, 4);
	static const int want[] = { 0, 1, 3, 4 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(es.order[i], want[i]);
	tu_stop(sys);
}

/* ------------------------------------------------- references, replies */

#define REF_JUNK TU_PICK(100000, 20000, 5000)

typedef struct ref_st {
	tr_pid server;
	int junk;
	int found;
	int kept; /* junk messages received afterwards, in order */
	double find_ms;
} ref_st;

/*
 * The server answers after 50 junk messages to the asker with references
 * nobody asked for.  T_REQ: the answer carries the request's reference
 * (tr_send_ref, guide 3.4).  T_REQ_ALLOC: the same made by hand
 * (tr_msg_alloc + tr_msg_set_ref + tr_send_msg).  T_REQ_REPLY: first a
 * tr_reply, which is for calls only and must be dropped (the reference is
 * no open call), then the tr_send_ref answer.
 */
static int
ref_server(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	uint64_t ref = tr_msg_ref(m);
	tr_pid from = tr_msg_from(m);
	for (int i = 0; i < 50; i++) {
		/* References no worker makes: bit 63 set. */
		uint64_t junk = ((uint64_t) 1 << 63) | (ref << 8) |
		    (uint64_t) i;
		TU_CHECK(tr_send_ref(cx, from, T_JUNK, junk, NULL, 0) == 0);
	}
	switch (tr_msg_tag(m)) {
	case T_REQ_REPLY:
		TU_CHECK(tr_reply(cx, m, T_ANSWER, "no", 2) == 0);
		/* fall through */
	case T_REQ:
		TU_CHECK(tr_send_ref(cx, from, T_ANSWER, ref, "ok", 2) == 0);
		break;
	default: {
		tr_msg *r = tr_msg_alloc(cx, T_ANSWER, 2);
		TU_CHECK(r != NULL);
		if (r == NULL)
			break;
		memcpy(tr_msg_body(r), "ok", 2);
		tr_msg_set_ref(r, ref);
		TU_CHECK(tr_send_msg(cx, from, r) == 0);
		break;
	}
	}
	return TR_CONTINUE;
}

/* send_req sends a request with ref, by tr_send_ref or by hand. */
static void
send_req(tr_ctx *cx, tr_pid to, uint32_t tag, uint64_t ref)
{
	if (tag != T_REQ_ALLOC) {
		TU_CHECK(tr_send_ref(cx, to, tag, ref, NULL, 0) == 0);
		return;
	}
	tr_msg *q = tr_msg_alloc(cx, tag, 0);
	TU_CHECK(q != NULL);
	if (q == NULL)
		return;
	tr_msg_set_ref(q, ref);
	int rv = tr_send_msg(cx, to, q);
	TU_CHECK(rv == 0);
	if (rv != 0)
		tr_msg_free(q);
}

static bool
check_answer(tr_msg *r, uint64_t ref, tr_pid server)
{
	TU_CHECK(r != NULL);
	if (r == NULL)
		return false;
	TU_CHECK_EQ(tr_msg_ref(r), ref);
	TU_CHECK_EQ(tr_msg_tag(r), T_ANSWER);
	TU_CHECK(tr_pid_eq(tr_msg_from(r), server));
	TU_CHECK(tr_msg_len(r) == 2 && memcmp(tr_msg_data(r), "ok", 2) == 0);
	tr_msg_free(r);
	return true;
}

static void
ref_body(tr_ctx *cx, void *arg)
{
	ref_st *s = arg;
	/* GO comes after the junk: waiting for it queues all of it. */
	tr_msg *go = tr_receive_tag(cx, T_GO, TU_RECV_MS);
	CHECK_MSG(go);
	tr_msg_free(go);

	uint64_t t0 = tu_now_ns();
	uint64_t ref = tr_make_ref(cx);
	TU_CHECK(ref != 0);
	send_req(cx, s->server, T_REQ_REPLY, ref);
	tr_msg *r = tr_receive_ref(cx, ref, TU_RECV_MS);
	s->find_ms = tu_ms_since(t0);
	if (check_answer(r, ref, s->server))
		s->found++;

	/* Two references out at once, received in either order (only the
	 * latest has the mark; the other is found by a full scan). */
	uint64_t r1 = tr_make_ref(cx);
	send_req(cx, s->server, T_REQ, r1);
	uint64_t r2 = tr_make_ref(cx);
	send_req(cx, s->server, T_REQ, r2);
	TU_CHECK(r1 != r2);
	if (check_answer(tr_receive_ref(cx, r1, TU_RECV_MS), r1, s->server))
		s->found++;
	if (check_answer(tr_receive_ref(cx, r2, TU_RECV_MS), r2, s->server))
		s->found++;
	uint64_t r3 = tr_make_ref(cx);
	send_req(cx, s->server, T_REQ_ALLOC, r3);
	uint64_t r4 = tr_make_ref(cx);
	send_req(cx, s->server, T_REQ_ALLOC, r4);
	if (check_answer(tr_receive_ref(cx, r4, TU_RECV_MS), r4, s->server))
		s->found++;
	if (check_answer(tr_receive_ref(cx, r3, TU_RECV_MS), r3, s->server))
		s->found++;
	/* A reference nobody answers: a poll finds nothing. */
	uint64_t r5 = tr_make_ref(cx);
	TU_CHECK(tr_receive_ref(cx, r5, 0) == NULL);

	/* Everything else is still queued, in order: the main thread's junk,
	 * then the server's (5 requests x 50, references never asked for);
	 * the tr_reply to a reference that is no call was dropped. */
	for (int i = 0; i < s->junk; i++) {
		tr_msg *m = tr_receive(cx, 0);
		CHECK_MSG(m);
		TU_CHECK_EQ(tr_msg_tag(m), T_JUNK);
		if (msg_int(m) != i) {
			TU_CHECK_EQ(msg_int(m), i);
			tr_msg_free(m);
			return;
		}
		tr_msg_free(m);
		s->kept++;
	}
	int server_junk = 0;
	tr_msg *m;
	while ((m = tr_receive(cx, 0)) != NULL) {
		TU_CHECK_EQ(tr_msg_tag(m), T_JUNK);
		TU_CHECK(tr_pid_eq(tr_msg_from(m), s->server));
		server_junk++;
		tr_msg_free(m);
	}
	TU_CHECK_EQ(server_junk, 5 * 50);
}

static void
test_ref_many_queued(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static ref_st s;
	memset(&s, 0, sizeof s);
	s.junk = REF_JUNK;
	assert_int_equal(tr_spawn(sys, &s.server, ref_server, NULL, NULL), 0);
	tr_pid pid = tu_spawn_proc(sys, ref_body, &s, 0, NULL);
	for (int i = 0; i < s.junk; i++)
		assert_int_equal(tr_system_send_int(sys, pid, T_JUNK, i), 0);
	assert_int_equal(tr_system_send(sys, pid, T_GO, NULL, 0), 0);
	tr_exit_info info = tu_wait_info(sys, pid);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	printf("# reply found behind %d messages in %.3f ms\n", s.junk,
	    s.find_ms);
	assert_int_equal(s.found, 5);
	assert_int_equal(s.kept, s.junk);
	assert_int_equal(tr_system_exit_pid(sys, s.server, TR_KILL), 0);
	tu_wait_exit(sys, s.server, TR_REASON_KILLED);
	tu_stop(sys);
}

/* References are unique within a system, across workers, and never 0. */

#define REFS_PER TU_PICK(20000, 5000, 2000)
#define REF_PROCS 4

typedef struct refs_st {
	uint64_t *out;
} refs_st;

static void
refs_body(tr_ctx *cx, void *arg)
{
	refs_st *s = arg;
	for (int i = 0; i < REFS_PER; i++) {
		s->out[i] = tr_make_ref(cx);
		if ((i & 255) == 0)
			tr_yield(cx);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

static void
test_refs_unique(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	uint64_t *all = calloc((size_t) REFS_PER * REF_PROCS, sizeof *all);
	assert_non_null(all);
	refs_st st[REF_PROCS];
	tr_pid pids[REF_PROCS];
	for (int i = 0; i < REF_PROCS; i++) {
		st[i].out = all + (size_t) i * REFS_PER;
		pids[i] = tu_spawn_proc(sys, refs_body, &st[i], 0, NULL);
	}
	for (int i = 0; i < REF_PROCS; i++)
		assert_int_equal(tu_wait_info(sys, pids[i]).kind,
		    TR_REASON_NORMAL);
	size_t n = (size_t) REFS_PER * REF_PROCS;
	qsort(all, n, sizeof *all, cmp_u64);
	assert_true(all[0] != 0);
	for (size_t i = 1; i < n; i++)
		assert_true(all[i] != all[i - 1]);
	free(all);
	tu_stop(sys);
}

/* ----------------------------------------------------------- tr_yield */

#define YIELD_LOOP TU_PICK(2000000, 500000, 200000)

typedef struct yield_st {
	tr_pid other;
	atomic_int other_ran;
	long seen_at;   /* loop index at which the other actor had run */
	int yields;     /* yields made until then */
	long loop_done; /* iterations completed */
} yield_st;

static int
yield_other(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	atomic_store(&((yield_st *) state)->other_ran, 1);
	return TR_STOP;
}

static void
yield_body(tr_ctx *cx, void *arg)
{
	yield_st *s = arg;
	/* On the only worker: the other actor can run only if we yield. */
	TU_CHECK(tr_send(cx, s->other, T_PING, NULL, 0) == 0);
	s->seen_at = -1;
	volatile uint64_t acc = 0;
	long i;
	for (i = 0; i < YIELD_LOOP; i++) {
		acc += (uint64_t) i * 2654435761u;
		if ((i & 1023) == 1023) {
			if (s->seen_at < 0 && atomic_load(&s->other_ran)) {
				s->seen_at = i;
				break;
			}
			s->yields++;
			tr_yield(cx);
		}
	}
	s->loop_done = i;
}

static void
test_yield_one_worker(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	static yield_st s;
	memset(&s, 0, sizeof s);
	assert_int_equal(tr_spawn(sys, &s.other, yield_other, &s, NULL), 0);
	tu_run_proc(sys, yield_body, &s);
	printf("# other actor ran after %d yields (loop index %ld)\n", s.yields,
	    s.seen_at);
	assert_int_equal(atomic_load(&s.other_ran), 1);
	assert_true(s.seen_at >= 0);
	/* tr_yield puts the process behind the actors already queued: the
	 * other one ran at the first yield. */
	assert_true(s.yields <= 2);
	tu_stop(sys);
}

/* A process that never yields holds the only worker (the control case
 * for the test above: the other actor cannot run meanwhile). */
static void
noyield_body(tr_ctx *cx, void *arg)
{
	yield_st *s = arg;
	TU_CHECK(tr_send(cx, s->other, T_PING, NULL, 0) == 0);
	s->seen_at = -1;
	uint64_t t0 = tu_now_ns();
	while (tu_ms_since(t0) < 50.0) {
		if (atomic_load(&s->other_ran)) {
			s->seen_at = 0;
			break;
		}
	}
}

static void
test_no_yield_holds_worker(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	static yield_st s;
	memset(&s, 0, sizeof s);
	assert_int_equal(tr_spawn(sys, &s.other, yield_other, &s, NULL), 0);
	tu_run_proc(sys, noyield_body, &s);
	assert_int_equal(s.seen_at, -1);
	TU_WAIT_EQ(atomic_load(&s.other_ran), 1);
	tu_stop(sys);
}

/* -------------------------------------------------------- killing */

typedef struct kill_st {
	atomic_int started;
	atomic_int after; /* code after the blocking call ran */
	atomic_int freed;
	atomic_long spins;
	int64_t loop_ms; /* yielding_body: how long it loops (0: 20 s) */
} kill_st;

static void
kill_free(void *arg)
{
	atomic_fetch_add(&((kill_st *) arg)->freed, 1);
}

static void
blocked_body(tr_ctx *cx, void *arg)
{
	kill_st *s = arg;
	atomic_store(&s->started, 1);
	tr_msg *m = tr_receive_tag(cx, T_GO, TR_INFINITY);
	atomic_store(&s->after, 1);
	tr_msg_free(m);
}

static void
yielding_body(tr_ctx *cx, void *arg)
{
	kill_st *s = arg;
	atomic_store(&s->started, 1);
	/* Until killed; past the deadline it ends normally (a failure). */
	tu_deadline d = tu_deadline_ms(
	    s->loop_ms != 0 ? s->loop_ms : 20000 * TU_SLOW);
	while (!tu_expired(&d)) {
		atomic_fetch_add(&s->spins, 1);
		tr_yield(cx);
	}
	atomic_store(&s->after, 1);
}

static void
kill_run(tr_process_fn fn, tr_reason why, tr_reason_kind want)
{
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	kill_st *s = calloc(1, sizeof *s);
	assert_non_null(s);
	tr_pid pid = tu_spawn_proc(sys, fn, s, 0, kill_free);
	TU_WAIT_EQ(atomic_load(&s->started), 1);
	/* Messages it does not match stay queued; they are freed at exit. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(tr_system_send_int(sys, pid, T_DATA, i), 0);
	assert_int_equal(tr_system_exit_pid(sys, pid, why), 0);
	tr_exit_info info = tu_wait_info(sys, pid);
	printf("# ended: %s (after %ld yields)\n", info.text,
	    atomic_load(&s->spins));
	assert_int_equal(info.kind, want);
	assert_int_equal(atomic_load(&s->freed), 1);
	assert_int_equal(atomic_load(&s->after), 0);
	assert_false(tr_is_alive(sys, pid));
	free(s);
	tu_stop(sys);
}

static void
test_kill_blocked(void **unused)
{
	(void) unused;
	kill_run(blocked_body, TR_KILL, TR_REASON_KILLED);
}

static void
test_error_exit_blocked(void **unused)
{
	(void) unused;
	kill_run(blocked_body, tr_reason("go away"), TR_REASON_ERROR);
}

static void
test_kill_yielding(void **unused)
{
	(void) unused;
	kill_run(yielding_body, TR_KILL, TR_REASON_KILLED);
}

/*
 * Many times over: the exit signal comes at a random point of the yield
 * loop.  Every one must end the process (a signal whose push races with
 * the process's look at its mailbox must not be missed).  Stops at the
 * first miss, which costs the loop's 2 s.
 */

#define KILL_ROUNDS TU_PICK(2000, 500, 200)

static void
test_kill_yielding_many(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static kill_st ks;
	kill_st *s = &ks;
	int r, missed = 0;
	tr_exit_info info;
	for (r = 0; r < KILL_ROUNDS; r++) {
		memset(s, 0, sizeof *s);
		s->loop_ms = 2000 * TU_SLOW;
		bool kill = r & 1;
		tr_pid pid = tu_spawn_proc(sys, yielding_body, s, 0, kill_free);
		TU_WAIT_EQ(atomic_load(&s->started), 1);
		assert_int_equal(tr_system_exit_pid(sys, pid,
		                     kill ? TR_KILL : tr_reason("stop")),
		    0);
		info = tu_wait_info(sys, pid);
		if (info.kind != (kill ? TR_REASON_KILLED : TR_REASON_ERROR)) {
			missed = 1;
			break;
		}
		assert_int_equal(atomic_load(&s->freed), 1);
	}
	if (missed)
		fprintf(stderr,
		    "round %d: the %s went unheeded; the process looped on "
		    "and ended '%s' after %ld yields\n",
		    r, (r & 1) ? "kill" : "exit signal", info.text,
		    atomic_load(&s->spins));
	assert_int_equal(missed, 0);
	tu_stop(sys);
}

/* An exit signal that arrives before the process first runs: the only
 * worker is held by a handler until the signal is sent. */

typedef struct hold_st {
	atomic_int inside;
	atomic_int release;
} hold_st;

static int
holder(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	hold_st *h = state;
	atomic_store(&h->inside, 1);
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (!atomic_load(&h->release) && !tu_expired(&d)) {
	}
	return TR_STOP;
}

typedef struct first_st {
	atomic_int ran;
	atomic_int freed;
	int got_exit;
	tr_exit_info exit;
} first_st;

static void
first_free(void *arg)
{
	atomic_fetch_add(&((first_st *) arg)->freed, 1);
}

static void
first_body(tr_ctx *cx, void *arg)
{
	first_st *s = arg;
	atomic_store(&s->ran, 1);
	/* A trapping process finds the signal as its first message. */
	tr_msg *m = tr_receive(cx, 0);
	if (m != NULL && tr_msg_tag(m) == TR_TAG_EXIT) {
		s->got_exit = 1;
		TU_CHECK(tr_msg_reason(m, &s->exit) == 0);
		TU_CHECK(tr_pid_is_nil(tr_msg_from(m)));
	}
	tr_msg_free(m);
}

static void
first_turn_run(tr_reason why, unsigned flags, tr_reason_kind want, int ran)
{
	tu_reset_failures();
	tr_system *sys = tu_start(1, 0);
	assert_non_null(sys);
	static hold_st h;
	memset(&h, 0, sizeof h);
	tr_pid hp;
	assert_int_equal(tr_spawn(sys, &hp, holder, &h, NULL), 0);
	assert_int_equal(tr_system_send(sys, hp, T_PING, NULL, 0), 0);
	TU_WAIT_EQ(atomic_load(&h.inside), 1);
	first_st *s = calloc(1, sizeof *s);
	assert_non_null(s);
	tr_pid pid = tu_spawn_proc(sys, first_body, s, flags, first_free);
	assert_int_equal(tr_system_exit_pid(sys, pid, why), 0);
	assert_int_equal(atomic_load(&s->ran), 0); /* the worker is held */
	atomic_store(&h.release, 1);
	tr_exit_info info = tu_wait_info(sys, pid);
	assert_int_equal(info.kind, want);
	assert_int_equal(atomic_load(&s->ran), ran);
	assert_int_equal(atomic_load(&s->freed), 1);
	if ((flags & TR_SPAWN_TRAP_EXIT) && ran) {
		assert_int_equal(s->got_exit, 1);
		assert_int_equal(s->exit.kind, why.kind);
	}
	free(s);
	tu_stop(sys);
}

static void
test_exit_before_first_turn(void **unused)
{
	(void) unused;
	/* kill: never runs, ends killed. */
	first_turn_run(TR_KILL, 0, TR_REASON_KILLED, 0);
	/* an error reason: never runs, ends with it. */
	first_turn_run(tr_reason("early"), 0, TR_REASON_ERROR, 0);
	/* normal is ignored by a process that does not trap exits. */
	first_turn_run(TR_NORMAL, 0, TR_REASON_NORMAL, 1);
	/* trapping from the first instruction: an EXIT message. */
	first_turn_run(tr_reason("early"), TR_SPAWN_TRAP_EXIT, TR_REASON_NORMAL,
	    1);
	/* kill cannot be trapped. */
	first_turn_run(TR_KILL, TR_SPAWN_TRAP_EXIT, TR_REASON_KILLED, 0);
}

/* ------------------------------------------------------------- stacks */

typedef struct deep_st {
	size_t target; /* bytes of stack to use */
	size_t used;   /* bytes reached */
	uint64_t sum;
	int depth;
} deep_st;

static NOINLINE uint64_t
deep(deep_st *s, uintptr_t top, int depth)
{
	volatile unsigned char buf[200];
	for (size_t i = 0; i < sizeof buf; i += 50)
		buf[i] = (unsigned char) (depth + (int) i);
	uintptr_t here = (uintptr_t) __builtin_frame_address(0);
	uint64_t r = buf[0];
	if (top - here < s->target) {
		r += deep(s, top, depth + 1);
	} else {
		s->used = top - here;
		s->depth = depth;
	}
	/* Use buf after the call: no tail call, the frame stays. */
	for (size_t i = 0; i < sizeof buf; i += 50)
		r += buf[i];
	return r;
}

static void
deep_body(tr_ctx *cx, void *arg)
{
	deep_st *s = arg;
	uintptr_t top = (uintptr_t) __builtin_frame_address(0);
	s->sum = deep(s, top, 0);
	/* And again after a block: the stack is still ours. */
	tr_msg *m = tr_receive(cx, 10);
	tr_msg_free(m);
	s->sum += deep(s, top, 0);
}

static void
deep_run(tr_system *sys, size_t stack, size_t target)
{
	deep_st *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->target = target;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT, .stack_size = stack };
	tr_pid pid;
	assert_int_equal(tr_spawn_process(sys, &pid, deep_body, s, &o), 0);
	tr_exit_info info = tu_wait_info(sys, pid);
	printf("# stack %zu KiB: used %zu KiB at depth %d: %s\n", stack >> 10,
	    s->used >> 10, s->depth, info.text);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_true(s->used >= target);
	assert_true(s->sum != 0);
	free(s);
}

static void
test_stack_size(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);

	/* Above TR_STACK_MAX: TR_EINVAL, and the argument is freed. */
	static counter c;
	atomic_init(&c.n, 0);
	tr_spawn_opts big = { .state_free = counter_free,
		.stack_size = TR_STACK_MAX + 1 };
	tr_pid pid = TR_PID_NIL;
	assert_int_equal(tr_spawn_process(sys, &pid, deep_body, &c, &big),
	    TR_EINVAL);
	assert_int_equal(atomic_load(&c.n), 1);
	big.stack_size = (size_t) -1;
	assert_int_equal(tr_spawn_process(sys, &pid, deep_body, &c, &big),
	    TR_EINVAL);
	assert_int_equal(atomic_load(&c.n), 2);

	/* The default stack (64 KiB) holds half its size of frames. */
	deep_run(sys, 0, (size_t) 32 << 10);
	/* A larger stack, asked for at spawn, holds far more than the
	 * default: an overflow would fault or end the process. */
	size_t mib = (size_t) 1 << 20;
	deep_run(sys, mib, mib / 2);
	deep_run(sys, 4 * mib, 3 * mib);
	tu_stop(sys);

	/* A system's default stack above TR_STACK_MAX is refused. */
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.stack_size = TR_STACK_MAX + 1;
	tr_system *bad = NULL;
	assert_int_equal(tr_system_start(&bad, &cfg), TR_EINVAL);

	/* A system whose default is 256 KiB. */
	cfg.stack_size = (size_t) 256 << 10;
	cfg.workers = 2;
	tr_system *sys2 = NULL;
	assert_int_equal(tr_system_start(&sys2, &cfg), 0);
	deep_run(sys2, 0, (size_t) 192 << 10);
	tu_stop(sys2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_pingpong_many),
		cmocka_unit_test(test_selective_order),
		cmocka_unit_test(test_selective_trickle_one_worker),
		cmocka_unit_test(test_selective_trickle_two_workers),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_ref_many_queued),
		cmocka_unit_test(test_refs_unique),
		cmocka_unit_test(test_yield_one_worker),
		cmocka_unit_test(test_no_yield_holds_worker),
		cmocka_unit_test(test_kill_blocked),
		cmocka_unit_test(test_error_exit_blocked),
		cmocka_unit_test(test_kill_yielding),
		cmocka_unit_test(test_kill_yielding_many),
		cmocka_unit_test(test_exit_before_first_turn),
		cmocka_unit_test(test_stack_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
