/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The mailbox queue on its own (mailbox/mailbox.h): the idle-bit protocol
 * of tr__mpsc, tr__mpsc_claim, the signal lane, and a stress run of many
 * producers into one consumer that checks nothing is lost or reordered.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailbox/mailbox.h"
#include "testutil.h"

typedef struct item {
	tr__node node; /* first: a tr__node * is an item * */
	uint32_t producer;
	uint64_t seq;
} item;

static item *
as_item(tr__node *n)
{
	return (item *) n;
}

/* ------------------------------------------------ single-threaded rules */

static void
test_push_pop_order(void **unused)
{
	(void) unused;
	tr__mpsc q;
	item it[5];
	tr__mpsc_init(&q, false);
	assert_null(tr__mpsc_pop(&q));
	for (int i = 0; i < 5; i++) {
		it[i].seq = (uint64_t) i;
		assert_false(tr__mpsc_push(&q, &it[i].node));
	}
	for (int i = 0; i < 5; i++) {
		tr__node *n = tr__mpsc_pop(&q);
		assert_non_null(n);
		assert_ptr_equal(n, &it[i].node);
	}
	assert_null(tr__mpsc_pop(&q));
	assert_null(tr__mpsc_pop(&q));
	/* The queue is reusable after it ran dry, with the same nodes. */
	for (int round = 0; round < 3; round++) {
		assert_false(tr__mpsc_push(&q, &it[round].node));
		assert_ptr_equal(tr__mpsc_pop(&q), &it[round].node);
		assert_null(tr__mpsc_pop(&q));
	}
}

static void
test_idle_bit(void **unused)
{
	(void) unused;
	tr__mpsc q;
	item a, b, c, d;

	/* Started idle: the first push reports it, later ones do not. */
	tr__mpsc_init(&q, true);
	assert_true(tr__mpsc_is_idle(&q));
	assert_true(tr__mpsc_push(&q, &a.node));
	assert_false(tr__mpsc_is_idle(&q));
	assert_false(tr__mpsc_push(&q, &b.node));
	assert_false(tr__mpsc_push(&q, &c.node));

	/* Not empty: mark_empty fails and leaves the queue scheduled. */
	assert_false(tr__mpsc_mark_empty(&q));
	assert_false(tr__mpsc_is_idle(&q));
	assert_ptr_equal(tr__mpsc_pop(&q), &a.node);
	assert_false(tr__mpsc_mark_empty(&q));
	assert_ptr_equal(tr__mpsc_pop(&q), &b.node);
	assert_false(tr__mpsc_mark_empty(&q));
	assert_ptr_equal(tr__mpsc_pop(&q), &c.node);
	assert_null(tr__mpsc_pop(&q));

	/* Drained: mark_empty succeeds; the next push, and only it, reports. */
	assert_true(tr__mpsc_mark_empty(&q));
	assert_true(tr__mpsc_is_idle(&q));
	assert_true(tr__mpsc_push(&q, &d.node));
	assert_false(tr__mpsc_push(&q, &a.node));
	assert_false(tr__mpsc_mark_empty(&q));
	assert_ptr_equal(tr__mpsc_pop(&q), &d.node);
	assert_ptr_equal(tr__mpsc_pop(&q), &a.node);
	assert_null(tr__mpsc_pop(&q));
	assert_true(tr__mpsc_mark_empty(&q));

	/* Started scheduled: no push reports until mark_empty. */
	tr__mpsc_init(&q, false);
	assert_false(tr__mpsc_is_idle(&q));
	assert_false(tr__mpsc_push(&q, &a.node));
	assert_ptr_equal(tr__mpsc_pop(&q), &a.node);
	assert_null(tr__mpsc_pop(&q));
	assert_true(tr__mpsc_mark_empty(&q));
	assert_true(tr__mpsc_push(&q, &b.node));
}

static void
test_claim(void **unused)
{
	(void) unused;
	tr__mpsc q;
	item a, b;

	tr__mpsc_init(&q, true);
	assert_true(tr__mpsc_claim(&q)); /* this call cleared the bit */
	assert_false(tr__mpsc_is_idle(&q));
	assert_false(tr__mpsc_claim(&q));         /* already scheduled */
	assert_false(tr__mpsc_push(&q, &a.node)); /* the claimer schedules */
	assert_ptr_equal(tr__mpsc_pop(&q), &a.node);
	assert_true(tr__mpsc_mark_empty(&q));

	/* After a push reported the idle queue, a claim finds nothing. */
	assert_true(tr__mpsc_push(&q, &b.node));
	assert_false(tr__mpsc_claim(&q));
	assert_ptr_equal(tr__mpsc_pop(&q), &b.node);
	assert_null(tr__mpsc_pop(&q));
	assert_true(tr__mpsc_mark_empty(&q));
	assert_true(tr__mpsc_claim(&q));
	assert_true(tr__mpsc_mark_empty(&q));

	tr__mpsc_init(&q, false);
	assert_false(tr__mpsc_claim(&q));
}

/* --------------------------------- claim and push racing on an idle queue */

#define RACE_THREADS 4

typedef struct race {
	tr__mpsc q;
	pthread_barrier_t start, done;
	int rounds;
	atomic_int winners; /* calls that returned true this round */
	item nodes[RACE_THREADS];
} race;

typedef struct race_arg {
	race *r;
	int id;
} race_arg;

static void *
race_thread(void *p)
{
	race_arg *a = p;
	race *r = a->r;
	for (int i = 0; i < r->rounds; i++) {
		pthread_barrier_wait(&r->start);
		bool won;
		/* Even threads push, odd ones claim; every round has both. */
		if (a->id % 2 == 0)
			won = tr__mpsc_push(&r->q, &r->nodes[a->id].node);
		else
			won = tr__mpsc_claim(&r->q);
		if (won)
			atomic_fetch_add(&r->winners, 1);
		pthread_barrier_wait(&r->done);
		/* The main thread drains and re-idles the queue here. */
	}
	return NULL;
}

static void
test_claim_push_race(void **unused)
{
	(void) unused;
	static race r;
	race_arg args[RACE_THREADS];
	pthread_t t[RACE_THREADS];

	r.rounds = TU_PICK(2000, 1000, 300);
	tr__mpsc_init(&r.q, true);
	pthread_barrier_init(&r.start, NULL, RACE_THREADS + 1);
	pthread_barrier_init(&r.done, NULL, RACE_THREADS + 1);
	for (int i = 0; i < RACE_THREADS; i++) {
		args[i] = (race_arg){ &r, i };
		tu_thread_start(&t[i], race_thread, &args[i]);
	}
	int bad = 0;
	for (int i = 0; i < r.rounds; i++) {
		atomic_store(&r.winners, 0);
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		if (atomic_load(&r.winners) != 1)
			bad++;
		int popped = 0;
		while (tr__mpsc_pop(&r.q) != NULL)
			popped++;
		if (popped != RACE_THREADS / 2)
			bad++;
		if (!tr__mpsc_mark_empty(&r.q))
			bad++;
	}
	for (int i = 0; i < RACE_THREADS; i++)
		tu_thread_join(t[i]);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	assert_int_equal(bad, 0);
}

/* ------------------------------------------ many producers, one consumer */

#define PRODUCERS 8
#define RING 4096 /* nodes per producer; reused once consumed */

typedef struct stress {
	tr__mpsc q;
	uint64_t per_producer;
	unsigned yield_every; /* 0: never */
	/* consumed[p]: nodes of p the consumer is done with (release). */
	_Alignas(64) atomic_uint_fast64_t consumed[PRODUCERS];
	/* set by the one push that found the queue idle (the "scheduler"). */
	_Alignas(64) atomic_int scheduled;
	atomic_long double_schedules;
	atomic_long reported_idle; /* pushes that returned true */
	atomic_long timeouts;
	item *ring[PRODUCERS];
	/* consumer's findings */
	uint64_t got, lost_order, bad_producer, idles;
} stress;

typedef struct prod_arg {
	stress *s;
	uint32_t id;
} prod_arg;

static void *
producer(void *p)
{
	prod_arg *a = p;
	stress *s = a->s;
	item *ring = s->ring[a->id];
	tu_deadline d = tu_deadline_ms(120000 * TU_SLOW);
	for (uint64_t seq = 0; seq < s->per_producer; seq++) {
		/* Wait until the node in this ring slot has been consumed. */
		while (seq >= RING &&
		    atomic_load_explicit(&s->consumed[a->id],
		        memory_order_acquire) <= seq - RING) {
			if (!tu_poll(&d)) {
				atomic_fetch_add(&s->timeouts, 1);
				return NULL;
			}
		}
		d.polls = 0;
		item *it = &ring[seq % RING];
		it->producer = a->id;
		it->seq = seq;
		if (tr__mpsc_push(&s->q, &it->node)) {
			atomic_fetch_add(&s->reported_idle, 1);
			if (atomic_exchange(&s->scheduled, 1) != 0)
				atomic_fetch_add(&s->double_schedules, 1);
		}
		if (s->yield_every != 0 && seq % s->yield_every == 0)
			sched_yield();
	}
	return NULL;
}

static void *
consumer(void *p)
{
	stress *s = p;
	uint64_t next[PRODUCERS] = { 0 };
	uint64_t total = s->per_producer * PRODUCERS;
	tu_deadline d = tu_deadline_ms(120000 * TU_SLOW);
	while (s->got < total) {
		tr__node *n = tr__mpsc_pop(&s->q);
		if (n != NULL) {
			item *it = as_item(n);
			uint32_t pr = it->producer;
			if (pr >= PRODUCERS) {
				s->bad_producer++;
				continue;
			}
			if (it->seq != next[pr])
				s->lost_order++;
			next[pr] = it->seq + 1;
			s->got++;
			/* release: the producer may now reuse the node. */
			atomic_store_explicit(&s->consumed[pr], next[pr],
			    memory_order_release);
			d.polls = 0;
			continue;
		}
		/* Nothing to pop: go idle if the queue is truly empty, then
		 * wait to be "scheduled" by the push that finds it idle. */
		if (tr__mpsc_mark_empty(&s->q)) {
			s->idles++;
			while (atomic_exchange(&s->scheduled, 0) == 0) {
				if (!tu_poll(&d)) {
					atomic_fetch_add(&s->timeouts, 1);
					return NULL;
				}
			}
			d.polls = 0;
		} else if (!tu_poll(&d)) {
			atomic_fetch_add(&s->timeouts, 1);
			return NULL;
		}
	}
	/* Everything arrived: the queue must now be empty for good. */
	if (tr__mpsc_pop(&s->q) != NULL)
		s->bad_producer++;
	if (tr__mpsc_mark_empty(&s->q))
		s->idles++;
	return NULL;
}

static uint64_t
run_stress(uint64_t per_producer, unsigned yield_every, bool verbose)
{
	stress *s = calloc(1, sizeof *s);
	assert_non_null(s);
	s->per_producer = per_producer;
	s->yield_every = yield_every;
	tr__mpsc_init(&s->q, false); /* the consumer starts scheduled */
	for (int i = 0; i < PRODUCERS; i++) {
		s->ring[i] = calloc(RING, sizeof(item));
		assert_non_null(s->ring[i]);
	}
	pthread_t pt[PRODUCERS], ct;
	prod_arg args[PRODUCERS];
	uint64_t t0 = tu_now_ns();
	tu_thread_start(&ct, consumer, s);
	for (uint32_t i = 0; i < PRODUCERS; i++) {
		args[i] = (prod_arg){ s, i };
		tu_thread_start(&pt[i], producer, &args[i]);
	}
	for (int i = 0; i < PRODUCERS; i++)
		tu_thread_join(pt[i]);
	tu_thread_join(ct);
	double secs = (double) (tu_now_ns() - t0) / 1e9;
	if (verbose)
		printf("# mpsc: %d producers x %llu: %.2f s, %.1f M msg/s, "
		       "%llu idle periods\n",
		    PRODUCERS, (unsigned long long) per_producer, secs,
		    (double) s->got / secs / 1e6,
		    (unsigned long long) s->idles);

	assert_int_equal(atomic_load(&s->timeouts), 0);
	assert_int_equal(s->got, per_producer * PRODUCERS);
	assert_int_equal(s->lost_order, 0);
	assert_int_equal(s->bad_producer, 0);
	assert_int_equal(atomic_load(&s->double_schedules), 0);
	/* Every idle period but the last one was ended by exactly one push. */
	assert_int_equal(atomic_load(&s->reported_idle), (long) s->idles - 1);
	uint64_t idles = s->idles;
	for (int i = 0; i < PRODUCERS; i++)
		free(s->ring[i]);
	free(s);
	return idles;
}

static void
test_mpsc_stress(void **unused)
{
	(void) unused;
	run_stress(TU_PICK(1000000, 1000000, 100000), 0, true);
}

/* Few messages per producer: the queue goes idle often, which stresses the
 * idle bit against concurrent pushes rather than throughput. */
static void
test_mpsc_stress_idle(void **unused)
{
	(void) unused;
	uint64_t idles = 0;
	int runs = TU_PICK(200, 100, 20);
	for (int i = 0; i < runs; i++)
		idles += run_stress(TU_PICK(2000, 1000, 500), 7, false);
	printf("# mpsc: %d short runs, %llu idle periods\n", runs,
	    (unsigned long long) idles);
}

/* ---------------------------------------------------------- signal lane */

static void
test_lane(void **unused)
{
	(void) unused;
	tr__lane l;
	item it[4];
	tr__lane_init(&l);
	assert_false(tr__lane_pending(&l));
	assert_null(tr__lane_take(&l, false));

	for (int i = 0; i < 3; i++) {
		it[i].seq = (uint64_t) i;
		assert_true(tr__lane_push(&l, &it[i].node));
		assert_true(tr__lane_pending(&l));
	}
	/* Oldest first. */
	tr__node *n = tr__lane_take(&l, false);
	for (int i = 0; i < 3; i++) {
		assert_non_null(n);
		assert_int_equal(as_item(n)->seq, i);
		n = atomic_load(&n->next);
	}
	assert_null(n);
	assert_false(tr__lane_pending(&l));
	assert_null(tr__lane_take(&l, false));

	/* Close: take hands over what was pending, later pushes fail. */
	assert_true(tr__lane_push(&l, &it[0].node));
	n = tr__lane_take(&l, true);
	assert_ptr_equal(n, &it[0].node);
	assert_null(atomic_load(&n->next));
	assert_false(tr__lane_pending(&l));
	assert_false(tr__lane_push(&l, &it[1].node));
	assert_null(tr__lane_take(&l, false));
	assert_null(tr__lane_take(&l, true));
	assert_false(tr__lane_push(&l, &it[1].node));

	/* Reopen for a new incarnation; reopening an open lane is harmless. */
	tr__lane_reopen(&l);
	assert_false(tr__lane_pending(&l));
	assert_true(tr__lane_push(&l, &it[2].node));
	tr__lane_reopen(&l);
	assert_true(tr__lane_pending(&l));
	assert_true(tr__lane_push(&l, &it[3].node));
	n = tr__lane_take(&l, false);
	assert_ptr_equal(n, &it[2].node);
	assert_ptr_equal(atomic_load(&n->next), &it[3].node);
	assert_null(atomic_load(&it[3].node.next));
}

#define LANE_PRODUCERS 4

typedef struct lane_stress {
	tr__lane l;
	uint64_t per;
	item *nodes[LANE_PRODUCERS];
	atomic_int closed_pushes; /* pushes refused after the close */
	atomic_int producers_done;
} lane_stress;

typedef struct lane_arg {
	lane_stress *s;
	uint32_t id;
} lane_arg;

static void *
lane_producer(void *p)
{
	lane_arg *a = p;
	for (uint64_t i = 0; i < a->s->per; i++) {
		item *it = &a->s->nodes[a->id][i];
		it->producer = a->id;
		it->seq = i;
		if (!tr__lane_push(&a->s->l, &it->node))
			atomic_fetch_add(&a->s->closed_pushes, 1);
	}
	atomic_fetch_add(&a->s->producers_done, 1);
	return NULL;
}

static void
test_lane_stress(void **unused)
{
	(void) unused;
	lane_stress s;
	memset(&s, 0, sizeof s);
	s.per = TU_PICK(200000, 100000, 20000);
	tr__lane_init(&s.l);
	for (int i = 0; i < LANE_PRODUCERS; i++) {
		s.nodes[i] = calloc(s.per, sizeof(item));
		assert_non_null(s.nodes[i]);
	}
	pthread_t t[LANE_PRODUCERS];
	lane_arg args[LANE_PRODUCERS];
	for (uint32_t i = 0; i < LANE_PRODUCERS; i++) {
		args[i] = (lane_arg){ &s, i };
		tu_thread_start(&t[i], lane_producer, &args[i]);
	}
	uint64_t next[LANE_PRODUCERS] = { 0 }, got = 0, bad = 0, batches = 0;
	uint64_t total = s.per * LANE_PRODUCERS;
	tu_deadline d = tu_deadline_ms(60000 * TU_SLOW);
	while (got < total) {
		tr__node *n = tr__lane_take(&s.l, false);
		if (n == NULL) {
			if (!tu_poll(&d))
				break;
			continue;
		}
		batches++;
		while (n != NULL) {
			item *it = as_item(n);
			tr__node *nx = atomic_load_explicit(&n->next,
			    memory_order_relaxed);
			if (it->producer >= LANE_PRODUCERS ||
			    it->seq != next[it->producer])
				bad++;
			else
				next[it->producer]++;
			got++;
			n = nx;
		}
	}
	for (int i = 0; i < LANE_PRODUCERS; i++)
		tu_thread_join(t[i]);
	printf("# lane: %llu signals in %llu batches\n",
	    (unsigned long long) got, (unsigned long long) batches);
	assert_int_equal(got, total);
	assert_int_equal(bad, 0);
	assert_int_equal(atomic_load(&s.closed_pushes), 0);
	assert_null(tr__lane_take(&s.l, true));
	for (int i = 0; i < LANE_PRODUCERS; i++)
		free(s.nodes[i]);
}

/* Close while producers push: every node is either taken before or at the
 * close, or refused by its push; none is lost or seen twice. */
static void
test_lane_close_race(void **unused)
{
	(void) unused;
	int rounds = TU_PICK(200, 100, 30);
	for (int r = 0; r < rounds; r++) {
		lane_stress s;
		memset(&s, 0, sizeof s);
		s.per = 2000;
		tr__lane_init(&s.l);
		for (int i = 0; i < LANE_PRODUCERS; i++) {
			s.nodes[i] = calloc(s.per, sizeof(item));
			assert_non_null(s.nodes[i]);
		}
		pthread_t t[LANE_PRODUCERS];
		lane_arg args[LANE_PRODUCERS];
		for (uint32_t i = 0; i < LANE_PRODUCERS; i++) {
			args[i] = (lane_arg){ &s, i };
			tu_thread_start(&t[i], lane_producer, &args[i]);
		}
		uint64_t got = 0;
		/* Take a few batches, then close mid-stream. */
		for (int k = 0; k < 3; k++) {
			for (tr__node *n = tr__lane_take(&s.l, false);
			     n != NULL; n = atomic_load(&n->next))
				got++;
			sched_yield();
		}
		for (tr__node *n = tr__lane_take(&s.l, true); n != NULL;
		     n = atomic_load(&n->next))
			got++;
		for (int i = 0; i < LANE_PRODUCERS; i++)
			tu_thread_join(t[i]);
		assert_null(tr__lane_take(&s.l, false));
		assert_int_equal(got + (uint64_t) atomic_load(&s.closed_pushes),
		    s.per * LANE_PRODUCERS);
		for (int i = 0; i < LANE_PRODUCERS; i++)
			free(s.nodes[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_pop_order),
		cmocka_unit_test(test_idle_bit),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_claim_push_race),
		cmocka_unit_test(test_lane),
		cmocka_unit_test(test_lane_stress),
		cmocka_unit_test(test_lane_close_race),
		cmocka_unit_test(test_mpsc_stress),
		cmocka_unit_test(test_mpsc_stress_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
