/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The message pool (mailbox/mailbox.h): every size class and big blocks,
 * blocks that do not overlap, the NULL-pool (global, locked) path, and
 * blocks freed on another thread than the one that allocated them, with
 * tr__pool_global_live back at 0 at the end.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailbox/mailbox.h"
#include "testutil.h"

/* Payload lengths around every class boundary, and big ones. */
static size_t lens[128];
static int nlens;

static void
add_len(size_t len)
{
	for (int i = 0; i < nlens; i++)
		if (lens[i] == len)
			return;
	if (nlens < (int) (sizeof lens / sizeof lens[0]))
		lens[nlens++] = len;
}

static void
make_lens(void)
{
	nlens = 0;
	size_t hdr = sizeof(tr_msg);
	add_len(0);
	add_len(1);
	for (size_t b = 64; b <= 8192; b *= 2) {
		for (int delta = -1; delta <= 1; delta++) {
			if (b + (size_t) delta > hdr)
				add_len(b + (size_t) delta - hdr);
			add_len(b + (size_t) delta);
		}
	}
	add_len(10000);
	add_len(65536);
	add_len(1u << 20);
	add_len(TR_MSG_MAX_LEN);
}

static void
fill(tr_msg *m, unsigned seed)
{
	for (uint32_t i = 0; i < m->m_len; i++)
		m->m_data[i] = (unsigned char) (seed * 31u + i);
}

static bool
check(const tr_msg *m, unsigned seed)
{
	for (uint32_t i = 0; i < m->m_len; i++)
		if (m->m_data[i] != (unsigned char) (seed * 31u + i))
			return false;
	return true;
}

static int
setup(void **state)
{
	(void) state;
	make_lens();
	return 0;
}

/* Every length gets a block of the right size and class; classes grow
 * with the length; big blocks are marked TR__POOL_BIG. */
static void
test_classes(void **unused)
{
	(void) unused;
	tr__pool_global *g = tr__pool_global_alloc();
	assert_non_null(g);
	tr__pool p;
	tr__pool_init(&p, g);

	bool seen_big = false;
	for (int i = 0; i < nlens; i++) {
		size_t len = lens[i];
		tr_msg *m = tr__msg_new(&p, len);
		assert_non_null(m);
		assert_int_equal(m->m_len, len);
		if (sizeof(tr_msg) + len <= 8192) {
			assert_true(m->m_class < TR__POOL_CLASSES);
			/* The class's block holds header and payload. */
			assert_true(
			    sizeof(tr_msg) + len <= (size_t) 64 << m->m_class);
		} else {
			assert_int_equal(m->m_class, TR__POOL_BIG);
			seen_big = true;
		}
		fill(m, (unsigned) i);
		assert_true(check(m, (unsigned) i));
		tr__msg_delete(&p, m);
	}
	assert_true(seen_big);

	/* Monotonic: a longer payload never gets a smaller class. */
	for (int i = 0; i < nlens; i++) {
		for (int j = 0; j < nlens; j++) {
			if (lens[i] >= lens[j] || lens[j] > 4096)
				continue;
			tr_msg *a = tr__msg_new(&p, lens[i]);
			tr_msg *b = tr__msg_new(&p, lens[j]);
			assert_non_null(a);
			assert_non_null(b);
			assert_true(a->m_class <= b->m_class);
			tr__msg_delete(&p, a);
			tr__msg_delete(&p, b);
		}
	}
	tr__pool_fini(&p);
	assert_int_equal(tr__pool_global_live(g), 0);
	tr__pool_global_free(g);
}

/* Many live blocks of each class at once: none overlaps another. */
static void
test_no_overlap(void **unused)
{
	(void) unused;
	tr__pool_global *g = tr__pool_global_alloc();
	assert_non_null(g);
	tr__pool p;
	tr__pool_init(&p, g);
	enum { N = 3 * TR__POOL_BATCH + 7 };
	static tr_msg *live[N];
	for (int i = 0; i < nlens; i++) {
		if (lens[i] > 20000)
			continue;
		for (int k = 0; k < N; k++) {
			live[k] = tr__msg_new(&p, lens[i]);
			assert_non_null(live[k]);
			fill(live[k], (unsigned) k);
		}
		for (int k = 0; k < N; k++)
			assert_true(check(live[k], (unsigned) k));
		for (int k = 0; k < N; k++)
			tr__msg_delete(&p, live[k]);
	}
	tr__pool_fini(&p);
	assert_int_equal(tr__pool_global_live(g), 0);
	tr__pool_global_free(g);
}

/* The shared pool (for threads without a pool): under g's lock, counted
 * at once; blocks move freely between it and thread pools. */
static void
test_shared_path(void **unused)
{
	(void) unused;
	tr__pool_global *g = tr__pool_global_alloc();
	assert_non_null(g);
	tr_msg *m[4];
	m[0] = tr__msg_new_shared(g, 0);
	m[1] = tr__msg_new_shared(g, 100);
	m[2] = tr__msg_new_shared(g, 5000);
	m[3] = tr__msg_new_shared(g, 100000);
	for (int i = 0; i < 4; i++) {
		assert_non_null(m[i]);
		fill(m[i], (unsigned) i);
	}
	assert_int_equal(tr__pool_global_live(g), 4);
	for (int i = 0; i < 4; i++) {
		assert_true(check(m[i], (unsigned) i));
		tr__msg_delete_shared(g, m[i]);
	}
	assert_int_equal(tr__pool_global_live(g), 0);

	/* A block from a thread pool may be freed into the shared pool and
	 * the reverse; the totals still come back to 0. */
	tr__pool p;
	tr__pool_init(&p, g);
	tr_msg *a = tr__msg_new(&p, 200);
	tr_msg *b = tr__msg_new(&p, 20000);
	tr_msg *c0 = tr__msg_new_shared(g, 300);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c0);
	tr__msg_delete_shared(g, a);
	tr__msg_delete_shared(g, b);
	tr__msg_delete(&p, c0);
	tr__pool_fini(&p);
	assert_int_equal(tr__pool_global_live(g), 0);

	/* Blocks not yet freed are counted once their pool is finalized. */
	tr__pool_init(&p, g);
	tr_msg *c = tr__msg_new(&p, 10);
	tr_msg *d = tr__msg_new(&p, 3000);
	assert_non_null(c);
	assert_non_null(d);
	tr__pool_fini(&p);
	assert_int_equal(tr__pool_global_live(g), 2);
	tr__pool_init(&p, g);
	tr__msg_delete(&p, c);
	tr__msg_delete(&p, d);
	tr__pool_fini(&p);
	assert_int_equal(tr__pool_global_live(g), 0);
	tr__pool_global_free(g);
}

/* ------------------------------------ two threads exchanging blocks */

#define INFLIGHT 1024

typedef struct side {
	tr__pool pool;
	tr__mpsc inbox;      /* blocks the other side sent us */
	atomic_int inflight; /* blocks we sent and the other has not freed */
	uint64_t sent, freed, bad;
	unsigned id;
	struct side *peer;
	uint64_t rounds;
	atomic_long *timeouts;
} side;

static void *
exchanger(void *p)
{
	side *s = p;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (s->id + 1);
	tu_deadline d = tu_deadline_ms(60000 * TU_SLOW);
	uint64_t seq = 0;
	while (s->sent < s->rounds || s->freed < s->peer->rounds) {
		bool progress = false;
		/* Send one block to the peer if it is not too far behind. */
		if (s->sent < s->rounds &&
		    atomic_load_explicit(&s->inflight, memory_order_relaxed) <
		        INFLIGHT) {
			size_t len;
			uint64_t r = tu_rand(&rng);
			if (r % 64 == 0)
				len = 9000 + r % 30000; /* big */
			else
				len = (size_t) (r >> 8) % 8000;
			tr_msg *m = tr__msg_new(&s->pool, len);
			if (m == NULL) {
				s->bad++;
				break;
			}
			m->m_tag = s->id;
			m->m_ref = seq;
			fill(m, (unsigned) seq);
			seq++;
			atomic_fetch_add(&s->inflight, 1);
			tr__mpsc_push(&s->peer->inbox, &m->m_node);
			s->sent++;
			progress = true;
		}
		/* Free what the peer sent, in our own pool. */
		for (int k = 0; k < 16; k++) {
			tr__node *n = tr__mpsc_pop(&s->inbox);
			if (n == NULL)
				break;
			tr_msg *m = (tr_msg *) n;
			if (m->m_tag != s->peer->id || m->m_ref != s->freed ||
			    !check(m, (unsigned) m->m_ref))
				s->bad++;
			tr__msg_delete(&s->pool, m);
			s->freed++;
			atomic_fetch_sub(&s->peer->inflight, 1);
			progress = true;
		}
		if (progress) {
			d.polls = 0;
		} else if (!tu_poll(&d)) {
			atomic_fetch_add(s->timeouts, 1);
			break;
		}
	}
	return NULL;
}

static void
test_cross_thread_free(void **unused)
{
	(void) unused;
	tr__pool_global *g = tr__pool_global_alloc();
	assert_non_null(g);
	atomic_long timeouts = 0;
	side *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
	assert_non_null(a);
	assert_non_null(b);
	uint64_t rounds = TU_PICK(300000, 100000, 30000);
	side *sides[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		side *s = sides[i];
		tr__pool_init(&s->pool, g);
		tr__mpsc_init(&s->inbox, false);
		s->id = (unsigned) i;
		s->peer = sides[1 - i];
		s->timeouts = &timeouts;
		s->rounds = rounds;
	}
	/* Uneven: b sends a third of what a sends, so a's pool drains
	 * while b's fills up and must hand batches back. */
	b->rounds = rounds / 3;
	pthread_t ta, tb;
	tu_thread_start(&ta, exchanger, a);
	tu_thread_start(&tb, exchanger, b);
	tu_thread_join(ta);
	tu_thread_join(tb);
	assert_int_equal(atomic_load(&timeouts), 0);
	assert_int_equal(a->bad, 0);
	assert_int_equal(b->bad, 0);
	assert_int_equal(a->sent, a->rounds);
	assert_int_equal(b->freed, a->rounds);
	assert_int_equal(b->sent, b->rounds);
	assert_int_equal(a->freed, b->rounds);
	/* Each pool's own count is unbalanced; the sum is not. */
	assert_int_equal(a->pool.p_live + b->pool.p_live, 0);
	tr__pool_fini(&a->pool);
	tr__pool_fini(&b->pool);
	assert_int_equal(tr__pool_global_live(g), 0);
	tr__pool_global_free(g);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_no_overlap),
		cmocka_unit_test(test_shared_path),
		cmocka_unit_test(test_cross_thread_free),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
