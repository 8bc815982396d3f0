/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * An actor never runs on two workers at once, and messages from one
 * sender to one receiver arrive in the order sent, under heavy traffic
 * from many senders on every worker: 64 receivers, each handler checks
 * that it is alone inside its actor; senders are actors that re-arm
 * themselves, receivers also forward to each other, and plain threads
 * send too.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#define RECEIVERS 64
#define SENDERS 16
#define THREADS 2
#define SOURCES (SENDERS + RECEIVERS + THREADS) /* who may send to a receiver */

enum { T_DATA = 1, T_TICK, T_STOP };

typedef struct data {
	uint32_t source; /* 0..SOURCES-1 */
	uint32_t seq;    /* per (source, receiver) */
	uint32_t hops;   /* forwards left */
} data;

typedef struct receiver {
	atomic_int inside;
	uint32_t next[SOURCES];      /* next seq expected from each source */
	uint32_t fwd_seq[RECEIVERS]; /* our own seqs, as a source */
	uint32_t id;
	uint64_t got;
	uint64_t rng;
} receiver;

typedef struct sender {
	atomic_int inside;
	uint32_t id;
	uint32_t ticks_left;
	uint32_t seq[RECEIVERS];
	uint64_t rng;
} sender;

typedef struct world {
	tr_pid rx[RECEIVERS];
	receiver rs[RECEIVERS];
	sender ss[SENDERS];
	tr_pid tx[SENDERS];
	uint32_t burst;
	atomic_long overlaps, order_errors, bad, received, sent, spin;
} world;

static world *W;

/* A little work inside the handler widens the window for an overlap. */
static void
busy(uint64_t *rng)
{
	unsigned n = (unsigned) (tu_rand(rng) % 64);
	for (unsigned i = 0; i < n; i++)
		atomic_fetch_add_explicit(&W->spin, 1, memory_order_relaxed);
}

static int
receiver_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	receiver *r = state;
	if (atomic_fetch_add(&r->inside, 1) != 0)
		atomic_fetch_add(&W->overlaps, 1);
	int rv = TR_CONTINUE;
	if (tr_msg_tag(m) == T_STOP) {
		rv = TR_STOP;
	} else if (tr_msg_tag(m) == T_DATA && tr_msg_len(m) == sizeof(data)) {
		data d;
		memcpy(&d, tr_msg_data(m), sizeof d);
		if (d.source >= SOURCES) {
			atomic_fetch_add(&W->bad, 1);
		} else {
			if (d.seq != r->next[d.source])
				atomic_fetch_add(&W->order_errors, 1);
			r->next[d.source] = d.seq + 1;
		}
		r->got++;
		atomic_fetch_add_explicit(&W->received, 1,
		    memory_order_relaxed);
		busy(&r->rng);
		if (d.hops > 0) {
			/* Forward to another receiver, as source SENDERS + id. */
			uint32_t to = (uint32_t) (tu_rand(&r->rng) % RECEIVERS);
			data f = { SENDERS + r->id, r->fwd_seq[to]++,
				d.hops - 1 };
			TU_CHECK(
			    tr_send(cx, W->rx[to], T_DATA, &f, sizeof f) == 0);
			atomic_fetch_add_explicit(&W->sent, 1,
			    memory_order_relaxed);
		}
	} else {
		atomic_fetch_add(&W->bad, 1);
	}
	if (atomic_fetch_sub(&r->inside, 1) != 1)
		atomic_fetch_add(&W->overlaps, 1);
	return rv;
}

/* Each tick sends a burst to random receivers and re-arms the sender. */
static int
sender_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	sender *s = state;
	(void) m;
	if (atomic_fetch_add(&s->inside, 1) != 0)
		atomic_fetch_add(&W->overlaps, 1);
	int rv = TR_CONTINUE;
	for (uint32_t i = 0; i < W->burst; i++) {
		uint32_t to = (uint32_t) (tu_rand(&s->rng) % RECEIVERS);
		data d = { s->id, s->seq[to]++,
			(uint32_t) (tu_rand(&s->rng) % 3) };
		TU_CHECK(tr_send(cx, W->rx[to], T_DATA, &d, sizeof d) == 0);
		atomic_fetch_add_explicit(&W->sent, 1, memory_order_relaxed);
	}
	if (--s->ticks_left == 0)
		rv = TR_STOP;
	else
		TU_CHECK(tr_send(cx, tr_self(cx), T_TICK, NULL, 0) == 0);
	if (atomic_fetch_sub(&s->inside, 1) != 1)
		atomic_fetch_add(&W->overlaps, 1);
	return rv;
}

typedef struct thread_arg {
	uint32_t source;
	uint32_t count;
	tr_system *sys;
	long errors;
} thread_arg;

static void *
thread_sender(void *p)
{
	thread_arg *a = p;
	static _Thread_local uint32_t seq[RECEIVERS];
	memset(seq, 0, sizeof seq);
	uint64_t rng = 0x1234567u + a->source;
	for (uint32_t i = 0; i < a->count; i++) {
		uint32_t to = (uint32_t) (tu_rand(&rng) % RECEIVERS);
		data d = { a->source, seq[to]++, 1 };
		if (tr_system_send(a->sys, W->rx[to], T_DATA, &d, sizeof d) !=
		    0)
			a->errors++;
		else
			atomic_fetch_add_explicit(&W->sent, 1,
			    memory_order_relaxed);
	}
	return NULL;
}

static void
run(unsigned workers)
{
	tu_reset_failures();
	W = calloc(1, sizeof *W);
	assert_non_null(W);
	tr_system *sys = tu_start(workers, 0);
	assert_non_null(sys);
	uint32_t ticks = TU_PICK(400, 200, 40);
	W->burst = 50;
	for (uint32_t i = 0; i < RECEIVERS; i++) {
		W->rs[i].id = i;
		W->rs[i].rng = 0x9e3779b97f4a7c15ull ^ (i + 1);
		assert_int_equal(tr_spawn(sys, &W->rx[i], receiver_fn,
		                     &W->rs[i], NULL),
		    0);
	}
	for (uint32_t i = 0; i < SENDERS; i++) {
		W->ss[i].id = i;
		W->ss[i].ticks_left = ticks;
		W->ss[i].rng = 0xdeadbeefull * (i + 7);
		assert_int_equal(tr_spawn(sys, &W->tx[i], sender_fn, &W->ss[i],
		                     NULL),
		    0);
	}
	uint64_t t0 = tu_now_ns();
	for (uint32_t i = 0; i < SENDERS; i++)
		assert_int_equal(tr_system_send(sys, W->tx[i], T_TICK, NULL, 0),
		    0);
	pthread_t t[THREADS];
	thread_arg ta[THREADS];
	for (uint32_t i = 0; i < THREADS; i++) {
		ta[i] = (thread_arg){ SENDERS + RECEIVERS + i,
			TU_PICK(100000, 50000, 5000), sys, 0 };
		tu_thread_start(&t[i], thread_sender, &ta[i]);
	}
	for (uint32_t i = 0; i < THREADS; i++)
		tu_thread_join(t[i]);
	for (uint32_t i = 0; i < SENDERS; i++)
		tu_wait_exit(sys, W->tx[i], TR_REASON_NORMAL);
	/* Forwards may still be in flight: wait for idle before stopping. */
	assert_int_equal(tr_system_idle(sys, 120000 * TU_SLOW), 0);
	for (uint32_t i = 0; i < RECEIVERS; i++)
		assert_int_equal(tr_system_send(sys, W->rx[i], T_STOP, NULL, 0),
		    0);
	for (uint32_t i = 0; i < RECEIVERS; i++)
		tu_wait_exit(sys, W->rx[i], TR_REASON_NORMAL);
	double secs = (double) (tu_now_ns() - t0) / 1e9;
	printf("# %u workers: %ld messages received in %.2f s (%.2f M/s)\n",
	    workers, atomic_load(&W->received), secs,
	    (double) atomic_load(&W->received) / secs / 1e6);

	for (uint32_t i = 0; i < THREADS; i++)
		assert_int_equal(ta[i].errors, 0);
	assert_int_equal(atomic_load(&W->overlaps), 0);
	assert_int_equal(atomic_load(&W->order_errors), 0);
	assert_int_equal(atomic_load(&W->bad), 0);
	assert_int_equal(atomic_load(&W->received), atomic_load(&W->sent));
	uint64_t sum = 0;
	for (uint32_t i = 0; i < RECEIVERS; i++)
		sum += W->rs[i].got;
	assert_int_equal(sum, (uint64_t) atomic_load(&W->sent));
	/* At least what the senders and threads sent directly. */
	assert_true(sum >= (uint64_t) SENDERS * ticks * W->burst);
	tu_assert_no_failures();
	tr_system_stats st = tu_stats(sys);
	assert_int_equal(st.dead_letters, 0);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	free(W);
	W = NULL;
}

static void
test_exclusive_default_workers(void **unused)
{
	(void) unused;
	run(0);
}

/* More workers than cores: preemption in the middle of a turn makes
 * overlaps (if the runtime allowed them) far more likely. */
static void
test_exclusive_oversubscribed(void **unused)
{
	(void) unused;
	run(4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusive_default_workers),
		cmocka_unit_test(test_exclusive_oversubscribed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
