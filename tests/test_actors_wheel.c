/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The timing wheel on its own (actors/timer.h): a randomized model check
 * against a brute-force reference (every timer fires exactly once, at the
 * first advance whose time reaches its deadline, in deadline order; the
 * wheel's lists, bitmaps and placement stay consistent; tr__wheel_next is
 * never later than the earliest deadline and exact on level 0), callbacks
 * that insert and remove, deadlines beyond the wheel's span, long jumps,
 * and a million timers inserted then removed, and inserted then fired.
 *
 * The model check runs a fixed list of seeds; TROUPE_SEED=<n> runs only
 * seed n (a failure prints the seed to replay).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/timer.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLOW 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLOW 4
#endif
#endif
#ifndef SLOW
#define SLOW 1
#endif

#define LEVEL_MS(l) ((uint64_t) 1 << (6 * (l))) /* one slot of level l */
#define SPAN ((uint64_t) 1 << 36)               /* the wheel: 64^6 ms */
#define HORIZON ((uint64_t) 63 << 30)           /* timer.c's filing limit */
#define DAY_MS ((uint64_t) 86400000)
#define YEAR_MS (DAY_MS * 365)

/* ------------------------------------------------------------- helpers */

/* rnd is xorshift64*; the state must not be 0. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* seed_state turns any seed (0 included) into a generator state. */
static uint64_t
seed_state(uint64_t seed)
{
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z != 0 ? z : 1;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* A timer of the tests: the wheel's node first, then the model's view. */
typedef struct ttimer {
	tr__tnode node; /* first: a tr__tnode * is a ttimer * */
	uint32_t id;
	bool filed;        /* model: inserted and not fired or removed */
	bool pending;      /* model: must fire in the running advance */
	uint64_t deadline; /* model: the deadline it was inserted with */
	uint64_t fires;    /* times fired */
	uint64_t fired_at; /* now_ms of the advance that last fired it */
	uint64_t seq;      /* model: when it was inserted */
	bool near;         /* model: then due ahead, within the horizon */
} ttimer;

static ttimer *
as_t(tr__tnode *n)
{
	return (ttimer *) n;
}

/*
 * check_wheel walks every list of wh and fails unless the links, slot
 * heads and tails, occupancy bits, tn_level/tn_slot, count and placement
 * are consistent: an overdue timer is in level 0, slot now & 63; any other
 * on level l lies in a slot whose span (the same arithmetic as
 * tr__wheel_next, see timer.c) starts after now and at or before its
 * deadline, and, below the top level, also holds it.
 */
static void
check_wheel(const tr__wheel *wh)
{
	uint64_t count = 0;
	uint64_t now = wh->wh_now;

	for (unsigned l = 0; l < TR__WHEEL_LEVELS; l++) {
		unsigned sh = 6 * l;
		unsigned cur = (unsigned) ((now >> sh) & 63);
		for (unsigned s = 0; s < TR__WHEEL_SLOTS; s++) {
			tr__tnode *head = wh->wh_slots[l][s];
			bool bit = (wh->wh_occupied[l] >> s) & 1;
			assert_int_equal(bit, head != NULL);
			if (head == NULL)
				continue;
			unsigned dist = (s - cur) & 63;
			uint64_t start = ((now >> sh) + dist) << sh;
			tr__tnode *prev = NULL, *n = head;
			for (; n != NULL; prev = n, n = n->tn_next) {
				count++;
				assert_true(n->tn_filed);
				assert_int_equal(n->tn_level, l);
				assert_int_equal(n->tn_slot, s);
				if (prev != NULL)
					assert_ptr_equal(n->tn_prev, prev);
				if (n->tn_deadline <= now) {
					assert_int_equal(l, 0);
					assert_int_equal(s, cur);
					continue;
				}
				assert_true(dist != 0);
				if (l < TR__WHEEL_LEVELS - 1)
					assert_true(s > cur);
				assert_true(start > now);
				assert_true(start <= n->tn_deadline);
				if (l < TR__WHEEL_LEVELS - 1)
					assert_true(n->tn_deadline - start <
					    LEVEL_MS(l));
			}
			assert_ptr_equal(head->tn_prev, prev); /* the tail */
		}
	}
	assert_int_equal(count, wh->wh_count);
}

/* ------------------------------------------------------- model check */

typedef struct model {
	tr__wheel wh;
	ttimer *t;
	uint32_t n;
	uint64_t rng;
	uint64_t seed, op;
	uint64_t nfiled;   /* model: filed timers */
	uint64_t npending; /* model: still to fire in this advance */
	uint64_t ncalls;   /* fire calls in this advance */
	bool in_advance;
	uint64_t adv_now;   /* effective now_ms of the running advance */
	uint64_t adv_old;   /* wh_now before it */
	uint64_t last_key;  /* order: max(deadline, adv_old) last fired */
	uint64_t last_dl;   /* order: deadline of the last fired */
	uint64_t last_seq;  /* order: its insertion number */
	bool last_near;     /* order: it was "near" (see ttimer) */
	uint64_t seq;       /* insertions so far */
	unsigned cb_chance; /* per 16: a fire callback acts on the wheel */
} model;

static uint64_t cur_seed, cur_op;

/* CHECK fails the test with the seed and operation to replay. */
#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond))                                                \
			fail_msg("%s:%d: %s (seed %" PRIu64 ", op %" PRIu64 \
			         "; replay with TROUPE_SEED=%" PRIu64 ")",  \
			    __FILE__, __LINE__, #cond, cur_seed, cur_op,    \
			    cur_seed);                                      \
	} while (0)

/*
 * rand_deadline picks a deadline relative to base: in the past, at base,
 * within each level's span, beyond the wheel, or (rarely) "never".
 */
static uint64_t
rand_deadline(uint64_t *rng, uint64_t base)
{
	uint64_t r = rnd(rng);
	uint64_t v = rnd(rng);

	switch (r % 20) {
	case 0:
	case 1:
		return base - (base < 1000 ? base : v % 1000);
	case 2:
		return base;
	case 3:
	case 4:
	case 5:
		return base + 1 + v % 64;
	case 6:
	case 7:
		return base + 1 + v % LEVEL_MS(2);
	case 8:
	case 9:
		return base + 1 + v % LEVEL_MS(3);
	case 10:
	case 11:
		return base + 1 + v % LEVEL_MS(4);
	case 12:
		return base + 1 + v % LEVEL_MS(5);
	case 13:
	case 14:
		return base + 1 + v % SPAN;
	case 15:
		return base + HORIZON - 2 + v % 5; /* at the filing limit */
	case 16:
		return base + SPAN + v % (SPAN * 8); /* beyond the wheel */
	case 17:
		/* near a slot boundary of a random level */
		return (((base >> (6 * (v % 6))) + 1 + (v >> 60))
		           << (6 * (v % 6))) -
		    (v >> 62);
	case 18:
		return UINT64_MAX;
	default:
		return base + 1 + v % 8;
	}
}

/* model_insert files x at d, in the wheel and in the model. */
static void
model_insert(model *m, ttimer *x, uint64_t d)
{
	CHECK(!x->filed);
	tr__wheel_insert(&m->wh, &x->node, d);
	x->filed = true;
	x->deadline = d;
	x->seq = ++m->seq;
	x->near = d > m->wh.wh_now && d - m->wh.wh_now <= HORIZON;
	m->nfiled++;
	CHECK(x->node.tn_filed);
	CHECK(x->node.tn_deadline == d);
}

/* model_remove unfiles x, which may be filed or not, or due right now. */
static void
model_remove(model *m, ttimer *x)
{
	tr__wheel_remove(&m->wh, &x->node);
	CHECK(!x->node.tn_filed);
	if (x->filed) {
		x->filed = false;
		m->nfiled--;
	}
	if (x->pending) {
		x->pending = false;
		m->npending--;
	}
}

/*
 * model_fire is the fire callback: x must be due in this advance, not
 * fired before in it, and come in deadline order (overdue ones, due at the
 * wheel's old time, first).  Sometimes it re-inserts x, removes another
 * timer, inserts another, or reads tr__wheel_next.
 */
static void
model_fire(void *arg, tr__tnode *n)
{
	model *m = arg;
	ttimer *x = as_t(n);

	CHECK(m->in_advance);
	CHECK(!n->tn_filed);
	CHECK(x->pending);
	CHECK(x->filed);
	CHECK(x->deadline <= m->adv_now);
	uint64_t key = x->deadline > m->adv_old ? x->deadline : m->adv_old;
	CHECK(key >= m->last_key);
	/* Equal deadlines, both ahead and within the horizon when inserted:
	 * in the order inserted. */
	if (m->ncalls > 0 && x->deadline == m->last_dl && x->near &&
	    m->last_near)
		CHECK(x->seq > m->last_seq);
	m->last_key = key;
	m->last_dl = x->deadline;
	m->last_seq = x->seq;
	m->last_near = x->near;
	x->pending = false;
	x->filed = false;
	x->fires++;
	x->fired_at = m->adv_now;
	m->npending--;
	m->nfiled--;
	m->ncalls++;

	if (rnd(&m->rng) % 16 >= m->cb_chance)
		return;
	switch (rnd(&m->rng) % 5) {
	case 0: /* re-insert itself, maybe already due (next advance) */
		model_insert(m, x, rand_deadline(&m->rng, m->adv_now));
		break;
	case 1: /* remove another, maybe one due in this advance */
		model_remove(m, &m->t[rnd(&m->rng) % m->n]);
		break;
	case 2: { /* insert another */
		ttimer *y = &m->t[rnd(&m->rng) % m->n];
		if (!y->filed)
			model_insert(m, y, rand_deadline(&m->rng, m->adv_now));
		break;
	}
	case 3: /* re-insert itself, then remove it again */
		model_insert(m, x, rand_deadline(&m->rng, m->adv_now));
		model_remove(m, x);
		break;
	default: { /* mid-advance: what is left to fire here is not filed */
		uint64_t nx = tr__wheel_next(&m->wh), min = UINT64_MAX;
		bool any = false;
		for (uint32_t i = 0; i < m->n; i++) {
			ttimer *y = &m->t[i];
			if (y->filed && !y->pending) {
				any = true;
				min = y->deadline < min ? y->deadline : min;
			}
		}
		CHECK(m->wh.wh_now == m->adv_now);
		CHECK(any ? nx <= min || nx <= m->adv_now : nx == UINT64_MAX);
		break;
	}
	}
}

/*
 * model_check_next compares tr__wheel_next with the earliest deadline of
 * the model's filed timers.
 */
static void
model_check_next(model *m)
{
	uint64_t min = UINT64_MAX;
	bool any = false, min_on_l0 = false;

	for (uint32_t i = 0; i < m->n; i++) {
		ttimer *x = &m->t[i];
		if (!x->filed)
			continue;
		if (!any || x->deadline < min) {
			min = x->deadline;
			min_on_l0 = false;
		}
		any = true;
		if (x->deadline == min && x->node.tn_level == 0)
			min_on_l0 = true;
	}
	uint64_t nx = tr__wheel_next(&m->wh);
	uint64_t now = m->wh.wh_now;
	if (!any) {
		CHECK(nx == UINT64_MAX);
	} else if (min <= now) {
		CHECK(nx <= now); /* overdue: "advance now" */
	} else {
		CHECK(nx <= min);
		CHECK(nx > now);
		if (min_on_l0)
			CHECK(nx == min);
	}
}

/* model_advance advances both to `to` and checks what fired. */
static void
model_advance(model *m, uint64_t to)
{
	uint64_t old = m->wh.wh_now;
	uint64_t eff = to < old ? old : to;

	m->npending = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		ttimer *x = &m->t[i];
		CHECK(!x->pending);
		if (x->filed && x->deadline <= eff) {
			x->pending = true;
			m->npending++;
		}
	}
	m->in_advance = true;
	m->adv_now = eff;
	m->adv_old = old;
	m->last_key = 0;
	m->ncalls = 0;
	uint64_t fired = tr__wheel_advance(&m->wh, to, model_fire, m);
	m->in_advance = false;
	CHECK(m->npending == 0);
	CHECK(fired == m->ncalls);
	CHECK(m->wh.wh_now == eff);
	CHECK(m->wh.wh_count == m->nfiled);
}

/* rand_target picks where an advance goes: same, back, near, far, huge. */
static uint64_t
rand_target(model *m)
{
	uint64_t now = m->wh.wh_now;
	uint64_t r = rnd(&m->rng), v = rnd(&m->rng);

	switch (r % 20) {
	case 0:
		return now;
	case 1:
		return now - (now < 10 ? now : v % 10); /* backwards */
	case 2:
	case 3: { /* exactly to the next deadline the wheel reports */
		uint64_t nx = tr__wheel_next(&m->wh);
		return nx == UINT64_MAX || nx < now ? now : nx;
	}
	case 4: { /* just before it */
		uint64_t nx = tr__wheel_next(&m->wh);
		return nx == UINT64_MAX || nx <= now ? now : nx - 1;
	}
	case 5:
	case 6:
	case 7:
	case 8:
	case 9:
		return now + 1 + v % 70;
	case 10:
	case 11:
		return now + v % (LEVEL_MS(2) * 2);
	case 12:
		return now + v % LEVEL_MS(4);
	case 13:
		return now + v % (DAY_MS * 3); /* days */
	case 14:
		return now + v % SPAN;
	case 15:
		return now + SPAN + v % (SPAN * 4); /* years */
	default:
		return now + 1 + v % 6;
	}
}

/* run_seed runs one randomized sequence of operations. */
static void
run_seed(uint64_t seed)
{
	/* Start times: slot and level boundaries, a wall clock, the end. */
	static const uint64_t starts[] = { 0, 1, SPAN - 3000, 63,
		((uint64_t) 1 << 30) - 5, SPAN * 5 - 1, 1700000000000ULL,
		UINT64_MAX - 3 * SPAN };
	static const uint32_t sizes[] = { 4, 32, 256, 1024 };
	model m;

	memset(&m, 0, sizeof m);
	m.rng = seed_state(seed);
	m.seed = seed;
	cur_seed = seed;
	cur_op = 0;
	m.n = sizes[rnd(&m.rng) % 4];
	m.cb_chance = (unsigned) (rnd(&m.rng) % 9);
	uint64_t start = starts[rnd(&m.rng) % 8];
	if (rnd(&m.rng) % 4 == 0)
		start = rnd(&m.rng) >> 22; /* any time up to ~2^42 */
	m.t = calloc(m.n, sizeof *m.t);
	assert_non_null(m.t);
	for (uint32_t i = 0; i < m.n; i++)
		m.t[i].id = i;
	tr__wheel_init(&m.wh, start);
	check_wheel(&m.wh);

	uint64_t ops = 40000 / SLOW;
	uint64_t check_every = m.n <= 32 ? 1 : m.n / 16;
	for (m.op = 0; m.op < ops; m.op++) {
		cur_op = m.op;
		uint64_t r = rnd(&m.rng) % 100;
		ttimer *x = &m.t[rnd(&m.rng) % m.n];
		if (r < 45) {
			if (x->filed)
				model_remove(&m, x);
			model_insert(&m, x, rand_deadline(&m.rng, m.wh.wh_now));
		} else if (r < 65) {
			model_remove(&m, x);
		} else {
			model_advance(&m, rand_target(&m));
		}
		model_check_next(&m);
		if (m.op % check_every == 0)
			check_wheel(&m.wh);
	}
	/* Drain, callbacks quiet: all fires by the end of time. */
	m.cb_chance = 0;
	model_advance(&m, m.wh.wh_now);
	model_advance(&m, m.wh.wh_now + 2 * SPAN);
	model_advance(&m, UINT64_MAX - 1);
	model_advance(&m, UINT64_MAX);
	check_wheel(&m.wh);
	CHECK(m.wh.wh_count == 0);
	CHECK(m.nfiled == 0);
	CHECK(tr__wheel_next(&m.wh) == UINT64_MAX);
	free(m.t);
}

static void
test_model(void **unused)
{
	(void) unused;
	static const uint64_t seeds[] = { 1, 2, 3, 4, 5, 6, 7, 8, 42, 1234,
		31337, 0xdeadbeef, 0x9e3779b97f4a7c15ULL, 271828, 314159,
		1000003 };
	const char *env = getenv("TROUPE_SEED");

	if (env != NULL && *env != '\0') {
		run_seed(strtoull(env, NULL, 0));
		return;
	}
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
		run_seed(seeds[i]);
}

/* ------------------------------------------------------ fixed cases */

/* A log of fires: which timer, at which advance (set before advancing). */
typedef struct flog {
	tr__wheel *wh;
	ttimer *t;
	int n;
	int ids[64];
	uint64_t at;
	/* behaviours, by the firing timer's id */
	int reinsert_id; /* re-insert this one at deadline + period */
	uint64_t period; /* ... or at wh_now when 0 */
	int remove_from; /* on the first fire, remove ids >= this */
	int insert_id;   /* on a fire of reinsert_id, insert this one */
	uint64_t insert_at;
} flog;

static void
flog_fire(void *arg, tr__tnode *n)
{
	flog *f = arg;
	ttimer *x = as_t(n);

	assert_false(n->tn_filed);
	assert_true(x->node.tn_deadline <= f->at);
	x->fires++;
	x->fired_at = f->at;
	if (f->n < 64)
		f->ids[f->n] = (int) x->id;
	f->n++;
	if (f->remove_from >= 0) {
		for (int i = f->remove_from; i < 16; i++)
			tr__wheel_remove(f->wh, &f->t[i].node);
		f->remove_from = -1;
	}
	if ((int) x->id == f->reinsert_id) {
		uint64_t d = f->period == 0 ? f->wh->wh_now
		                            : n->tn_deadline + f->period;
		tr__wheel_insert(f->wh, n, d);
		if (f->insert_id >= 0) {
			tr__wheel_insert(f->wh, &f->t[f->insert_id].node,
			    f->insert_at);
			f->insert_id = -1;
		}
	}
}

/* fsetup readies a log over 16 timers and a wheel at now. */
static void
fsetup(flog *f, tr__wheel *wh, ttimer *t, uint64_t now)
{
	memset(f, 0, sizeof *f);
	memset(t, 0, 16 * sizeof *t);
	for (int i = 0; i < 16; i++)
		t[i].id = (uint32_t) i;
	tr__wheel_init(wh, now);
	f->wh = wh;
	f->t = t;
	f->reinsert_id = -1;
	f->remove_from = -1;
	f->insert_id = -1;
}

static uint64_t
fadvance(flog *f, uint64_t to)
{
	f->at = to < f->wh->wh_now ? f->wh->wh_now : to;
	f->n = 0;
	uint64_t k = tr__wheel_advance(f->wh, to, flog_fire, f);
	check_wheel(f->wh);
	return k;
}

static void
test_basic(void **unused)
{
	(void) unused;
	tr__wheel wh;
	ttimer t[16];
	flog f;

	fsetup(&f, &wh, t, 1000);
	assert_int_equal(tr__wheel_next(&wh), UINT64_MAX);
	assert_int_equal(fadvance(&f, 1000), 0);

	tr__wheel_insert(&wh, &t[0].node, 1010);
	tr__wheel_insert(&wh, &t[1].node, 1005);
	tr__wheel_insert(&wh, &t[2].node, 1010);
	assert_int_equal(wh.wh_count, 3);
	assert_int_equal(tr__wheel_next(&wh), 1005);
	assert_int_equal(fadvance(&f, 1004), 0);
	assert_int_equal(fadvance(&f, 1005), 1);
	assert_int_equal(f.ids[0], 1);
	assert_int_equal(tr__wheel_next(&wh), 1010);
	/* Same ms: in the order filed. */
	assert_int_equal(fadvance(&f, 1020), 2);
	assert_int_equal(f.ids[0], 0);
	assert_int_equal(f.ids[1], 2);
	assert_int_equal(wh.wh_now, 1020);

	/* Remove: before, twice, after firing. */
	tr__wheel_insert(&wh, &t[3].node, 1030);
	tr__wheel_remove(&wh, &t[3].node);
	tr__wheel_remove(&wh, &t[3].node);
	tr__wheel_remove(&wh, &t[0].node);
	assert_int_equal(wh.wh_count, 0);
	assert_int_equal(fadvance(&f, 2000), 0);

	/* Inserting a filed timer moves it. */
	tr__wheel_insert(&wh, &t[4].node, 2100);
	tr__wheel_insert(&wh, &t[4].node, 2050);
	assert_int_equal(wh.wh_count, 1);
	/* 2050 is on level 1 from 2000: the bound is its slot's start. */
	assert_int_equal(t[4].node.tn_level, 1);
	assert_int_equal(tr__wheel_next(&wh), 2048);
	assert_int_equal(fadvance(&f, 2060), 1);
	assert_int_equal(t[4].fires, 1);
	assert_int_equal(fadvance(&f, 3000), 0);
}

static void
test_next_bounds(void **unused)
{
	(void) unused;
	tr__wheel wh;
	ttimer t[16];
	flog f;

	fsetup(&f, &wh, t, 1000);
	/* Level 2: 6000 differs from 1000 first in bits 12..17. */
	tr__wheel_insert(&wh, &t[0].node, 6000);
	assert_int_equal(t[0].node.tn_level, 2);
	assert_int_equal(tr__wheel_next(&wh), 4096);
	tr__wheel_insert(&wh, &t[1].node, 1063);
	assert_int_equal(t[1].node.tn_level, 1);
	assert_int_equal(tr__wheel_next(&wh), 1024);
	tr__wheel_insert(&wh, &t[2].node, 1020);
	assert_int_equal(t[2].node.tn_level, 0);
	assert_int_equal(tr__wheel_next(&wh), 1020);

	/* Overdue: the earliest overdue deadline. */
	tr__wheel_insert(&wh, &t[3].node, 900);
	assert_int_equal(tr__wheel_next(&wh), 900);
	tr__wheel_insert(&wh, &t[4].node, 800);
	tr__wheel_insert(&wh, &t[5].node, 950);
	tr__wheel_insert(&wh, &t[6].node, 1000);
	assert_int_equal(tr__wheel_next(&wh), 800);
	tr__wheel_remove(&wh, &t[4].node);
	assert_true(tr__wheel_next(&wh) <= 1000);
	check_wheel(&wh);
	assert_int_equal(fadvance(&f, 500), 3); /* back in time: overdue fire */
	assert_int_equal(wh.wh_now, 1000);
	assert_int_equal(f.ids[0], 3);
	assert_int_equal(tr__wheel_next(&wh), 1020);

	/* Walking to each reported bound reaches every deadline in turn. */
	uint64_t seen = 0;
	for (int i = 0; i < 20 && wh.wh_count > 0; i++) {
		uint64_t nx = tr__wheel_next(&wh);
		assert_true(nx > wh.wh_now);
		seen += fadvance(&f, nx);
	}
	assert_int_equal(seen, 3);
	assert_int_equal(t[0].fired_at, 6000);
	assert_int_equal(t[1].fired_at, 1063);
	assert_int_equal(t[2].fired_at, 1020);

	/* Far out: a lower bound after now. */
	uint64_t far = wh.wh_now + 10 * YEAR_MS;
	tr__wheel_insert(&wh, &t[7].node, far);
	assert_int_equal(t[7].node.tn_level, TR__WHEEL_LEVELS - 1);
	uint64_t nx = tr__wheel_next(&wh);
	assert_true(nx > wh.wh_now && nx <= far);
	tr__wheel_insert(&wh, &t[8].node, UINT64_MAX);
	assert_int_equal(tr__wheel_next(&wh), nx);
	check_wheel(&wh);
}

static void
test_callbacks(void **unused)
{
	(void) unused;
	tr__wheel wh;
	ttimer t[16];
	flog f;

	/* Re-inserting itself as already due: fires on the next advance. */
	fsetup(&f, &wh, t, 0);
	f.reinsert_id = 0;
	tr__wheel_insert(&wh, &t[0].node, 10);
	assert_int_equal(fadvance(&f, 10), 1);
	assert_true(t[0].node.tn_filed);
	assert_int_equal(fadvance(&f, 10), 1);
	assert_int_equal(fadvance(&f, 11), 1);
	assert_int_equal(t[0].fires, 3);
	f.reinsert_id = -1;
	assert_int_equal(fadvance(&f, 12), 1);
	assert_int_equal(fadvance(&f, 13), 0);
	assert_int_equal(wh.wh_count, 0);

	/* Periodic, 1 ms steps: fires at 7, 14, ..., 98 and nowhere else. */
	fsetup(&f, &wh, t, 0);
	f.reinsert_id = 1;
	f.period = 7;
	tr__wheel_insert(&wh, &t[1].node, 7);
	for (uint64_t ms = 1; ms <= 100; ms++) {
		assert_int_equal(fadvance(&f, ms), ms % 7 == 0 ? 1 : 0);
		if (ms % 7 == 0)
			assert_int_equal(t[1].fired_at, ms);
	}
	/* Periodic across one long jump: once per advance, then catch up. */
	assert_int_equal(fadvance(&f, 1000), 1);
	assert_int_equal(t[1].node.tn_deadline, 112);
	assert_int_equal(fadvance(&f, 1000), 1);
	tr__wheel_remove(&wh, &t[1].node);

	/* The first of several in one slot removes the rest (and others). */
	for (int lvl = 0; lvl < 3; lvl++) {
		uint64_t d = lvl == 0 ? 20 : lvl == 1 ? 300 : 9000;
		fsetup(&f, &wh, t, 0);
		for (int i = 0; i < 6; i++)
			tr__wheel_insert(&wh, &t[i].node, d);
		tr__wheel_insert(&wh, &t[6].node, d + 5); /* later slot */
		tr__wheel_insert(&wh, &t[7].node,
		    d + 50); /* after the advance */
		assert_int_equal(t[0].node.tn_level, lvl);
		f.remove_from = 1;
		assert_int_equal(fadvance(&f, d + 10), 1);
		assert_int_equal(f.ids[0], 0);
		assert_int_equal(wh.wh_count, 0);
		for (int i = 1; i < 8; i++)
			assert_int_equal(t[i].fires, 0);
	}

	/* A callback inserting others: due by now waits for the next advance. */
	fsetup(&f, &wh, t, 100);
	f.reinsert_id = 2;
	f.period = 1;
	f.insert_id = 3;
	f.insert_at = 150;
	tr__wheel_insert(&wh, &t[2].node, 160);
	tr__wheel_insert(&wh, &t[4].node, 170);
	assert_int_equal(fadvance(&f, 200), 2); /* 2 at 160, 4 at 170 */
	assert_int_equal(f.ids[0], 2);
	assert_int_equal(f.ids[1], 4);
	assert_int_equal(t[3].fires, 0);
	assert_int_equal(tr__wheel_next(&wh), 150);
	f.reinsert_id = -1;
	assert_int_equal(fadvance(&f, 200), 2); /* 3 (150) then 2 (161) */
	assert_int_equal(f.ids[0], 3);
	assert_int_equal(f.ids[1], 2);
	assert_int_equal(wh.wh_count, 0);
}

/* ------------------------------------------- far deadlines and jumps */

typedef struct jlog {
	uint64_t prev; /* the previous advance's time */
	uint64_t now;  /* this advance's time */
	uint64_t last; /* last deadline fired in this advance */
	uint64_t fired;
	uint64_t bad;
} jlog;

/* jfire checks each fire is in the first advance to reach its deadline. */
static void
jfire(void *arg, tr__tnode *n)
{
	jlog *j = arg;
	ttimer *x = as_t(n);

	if (n->tn_deadline > j->now || n->tn_deadline <= j->prev ||
	    n->tn_deadline < j->last || x->fires != 0)
		j->bad++;
	j->last = n->tn_deadline;
	x->fires++;
	j->fired++;
}

static uint64_t
jadvance(tr__wheel *wh, jlog *j, uint64_t to)
{
	j->prev = wh->wh_now;
	j->now = to;
	j->last = 0;
	return tr__wheel_advance(wh, to, jfire, j);
}

static void
test_far(void **unused)
{
	(void) unused;
	tr__wheel wh;
	ttimer t[8];
	jlog j;
	uint64_t t0 = 1700000000000ULL; /* a wall-clock-like start */

	memset(t, 0, sizeof t);
	memset(&j, 0, sizeof j);
	tr__wheel_init(&wh, t0);
	uint64_t d[7] = { t0 + 3 * YEAR_MS, t0 + 5 * YEAR_MS + 17,
		t0 + 10 * YEAR_MS + 12345, t0 + SPAN, t0 + HORIZON,
		t0 + HORIZON + 1, t0 + 2 * SPAN - 1 };
	for (int i = 0; i < 7; i++)
		tr__wheel_insert(&wh, &t[i].node, d[i]);
	tr__wheel_insert(&wh, &t[7].node, UINT64_MAX);
	check_wheel(&wh);

	/* Eleven years in steps of a day, give or take. */
	uint64_t rng = seed_state(99);
	while (wh.wh_now < t0 + 11 * YEAR_MS) {
		uint64_t nx = tr__wheel_next(&wh);
		assert_true(nx > wh.wh_now);
		uint64_t step = DAY_MS / 2 + rnd(&rng) % DAY_MS;
		jadvance(&wh, &j, wh.wh_now + step);
		check_wheel(&wh);
	}
	assert_int_equal(j.bad, 0);
	assert_int_equal(j.fired, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(t[i].fires, 1);
	assert_int_equal(wh.wh_count, 1);

	/* The same again, each reached exactly, from its reported bound. */
	memset(t, 0, 7 * sizeof t[0]);
	memset(&j, 0, sizeof j);
	t0 = wh.wh_now;
	for (int i = 0; i < 7; i++) {
		d[i] += t0 - 1700000000000ULL;
		tr__wheel_insert(&wh, &t[i].node, d[i]);
	}
	int advances = 0;
	while (wh.wh_count > 1) {
		jadvance(&wh, &j, tr__wheel_next(&wh));
		check_wheel(&wh);
		assert_true(++advances < 200);
	}
	assert_int_equal(j.bad, 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(t[i].fires, 1);

	/* One jump to far in the future, then to the end of time. */
	uint64_t t1 = wh.wh_now;
	jadvance(&wh, &j, t1 + ((uint64_t) 1 << 60));
	assert_int_equal(t[7].fires, 0);
	check_wheel(&wh);
	jadvance(&wh, &j, UINT64_MAX);
	assert_int_equal(t[7].fires, 1);
	assert_int_equal(wh.wh_count, 0);
	assert_int_equal(j.bad, 0);
}

/*
 * test_jumps: 100,000 timers over 40 days, reached in jumps of a day; and
 * 10,000 timers past the wheel's span skipped by jumps of 2^50 ms.  Every
 * advance must cost about the timers it touches, not the ms it crosses.
 */
static void
test_jumps(void **unused)
{
	(void) unused;
	const uint32_t n = 100000;
	ttimer *t = calloc(n, sizeof *t);
	tr__wheel wh;
	jlog j;
	uint64_t rng = seed_state(7);

	assert_non_null(t);
	memset(&j, 0, sizeof j);
	tr__wheel_init(&wh, 5000);
	for (uint32_t i = 0; i < n; i++)
		tr__wheel_insert(&wh, &t[i].node,
		    5001 + rnd(&rng) % (40 * DAY_MS));
	uint64_t t0 = now_ns();
	for (int day = 1; day <= 41; day++)
		jadvance(&wh, &j, 5000 + (uint64_t) day * DAY_MS);
	double ms = (double) (now_ns() - t0) / 1e6;
	assert_int_equal(j.bad, 0);
	assert_int_equal(j.fired, n);
	assert_int_equal(wh.wh_count, 0);
	/* Speed is not asserted (benchmarks are not tests): a wheel that
	 * walked tick by tick would not end, and the ctest timeout says so. */
	printf("40 days in day steps: %.1f ms\n", ms);

	memset(t, 0, n * sizeof *t);
	memset(&j, 0, sizeof j);
	for (uint32_t i = 0; i < 10000; i++)
		tr__wheel_insert(&wh, &t[i].node,
		    i % 2 ? UINT64_MAX : ((uint64_t) 1 << 62) + i);
	t0 = now_ns();
	for (int k = 1; k <= 100; k++)
		jadvance(&wh, &j, wh.wh_now + ((uint64_t) 1 << 50));
	ms = (double) (now_ns() - t0) / 1e6;
	check_wheel(&wh);
	assert_int_equal(j.fired, 0);
	printf("100 jumps of 2^50 ms: %.1f ms\n", ms);
	jadvance(&wh, &j, ((uint64_t) 1 << 62) + 10000);
	assert_int_equal(j.fired, 5000);
	assert_int_equal(j.bad, 0);
	jadvance(&wh, &j, UINT64_MAX);
	assert_int_equal(j.fired, 10000);
	assert_int_equal(wh.wh_count, 0);
	free(t);
}

/* ------------------------------------------------------ a million */

#define MILLION 1000000u

/* million_deadline spreads deadlines over every level and beyond. */
static uint64_t
million_deadline(uint64_t *rng, uint64_t now)
{
	uint64_t v = rnd(rng);
	unsigned l = (unsigned) (v % 7);
	return now + 1 + (v >> 8) % (l < 6 ? LEVEL_MS(l + 1) : 4 * SPAN);
}

static void
test_million_insert_remove(void **unused)
{
	(void) unused;
	ttimer *t = calloc(MILLION, sizeof *t);
	uint32_t *order = malloc(MILLION * sizeof *order);
	tr__wheel wh;
	uint64_t rng = seed_state(1000000);

	assert_non_null(t);
	assert_non_null(order);
	tr__wheel_init(&wh, 123456789);
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < MILLION; i++)
		tr__wheel_insert(&wh, &t[i].node,
		    million_deadline(&rng, 123456789));
	uint64_t t1 = now_ns();
	assert_int_equal(wh.wh_count, MILLION);
	uint64_t nx = tr__wheel_next(&wh);
	assert_true(nx > 123456789 && nx <= 123456790 + 63);
	check_wheel(&wh);

	for (uint32_t i = 0; i < MILLION; i++)
		order[i] = i;
	for (uint32_t i = MILLION - 1; i > 0; i--) {
		uint32_t k = (uint32_t) (rnd(&rng) % (i + 1));
		uint32_t tmp = order[i];
		order[i] = order[k];
		order[k] = tmp;
	}
	uint64_t t2 = now_ns();
	for (uint32_t i = 0; i < MILLION; i++)
		tr__wheel_remove(&wh, &t[order[i]].node);
	uint64_t t3 = now_ns();

	assert_int_equal(wh.wh_count, 0);
	for (unsigned l = 0; l < TR__WHEEL_LEVELS; l++) {
		assert_int_equal(wh.wh_occupied[l], 0);
		for (unsigned s = 0; s < TR__WHEEL_SLOTS; s++)
			assert_null(wh.wh_slots[l][s]);
	}
	assert_int_equal(tr__wheel_next(&wh), UINT64_MAX);
	assert_int_equal(tr__wheel_advance(&wh, UINT64_MAX, jfire, NULL), 0);
	printf("1M timers: insert %.1f ns, remove (random order) %.1f ns\n",
	    (double) (t1 - t0) / MILLION, (double) (t3 - t2) / MILLION);
	free(order);
	free(t);
}

static void
test_million_fire(void **unused)
{
	(void) unused;
	ttimer *t = calloc(MILLION, sizeof *t);
	tr__wheel wh;
	jlog j;
	uint64_t rng = seed_state(2000000);
	uint64_t start = SPAN - 100000; /* crosses the top-level boundary */

	assert_non_null(t);
	memset(&j, 0, sizeof j);
	tr__wheel_init(&wh, start);
	uint64_t last = 0;
	for (uint32_t i = 0; i < MILLION; i++) {
		uint64_t d = start + 1 + rnd(&rng) % 3600000; /* an hour */
		tr__wheel_insert(&wh, &t[i].node, d);
		last = d > last ? d : last;
	}
	/* Steps of 1 ms to 2 s, with now and then a reported bound. */
	uint64_t t0 = now_ns();
	while (wh.wh_count > 0) {
		uint64_t r = rnd(&rng);
		uint64_t to = r % 8 == 0 ? tr__wheel_next(&wh)
		                         : wh.wh_now + 1 + (r >> 8) % 2000;
		jadvance(&wh, &j, to);
	}
	double ns = (double) (now_ns() - t0) / MILLION;
	assert_true(wh.wh_now <= last + 2000);
	assert_int_equal(j.bad, 0);
	assert_int_equal(j.fired, MILLION);
	for (uint32_t i = 0; i < MILLION; i++)
		assert_int_equal(t[i].fires, 1);

	/* Again, all due in one jump: one advance fires them in order. */
	memset(t, 0, MILLION * sizeof *t);
	memset(&j, 0, sizeof j);
	start = wh.wh_now;
	for (uint32_t i = 0; i < MILLION; i++)
		tr__wheel_insert(&wh, &t[i].node,
		    million_deadline(&rng, start));
	uint64_t t1 = now_ns();
	uint64_t k = jadvance(&wh, &j, start + 4 * SPAN + 1);
	double ns1 = (double) (now_ns() - t1) / MILLION;
	assert_int_equal(k, MILLION);
	assert_int_equal(j.bad, 0);
	assert_int_equal(wh.wh_count, 0);
	printf("1M timers fired: %.1f ns each in steps, %.1f ns in one jump\n",
	    ns, ns1);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_next_bounds),
		cmocka_unit_test(test_callbacks),
		cmocka_unit_test(test_far),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_million_insert_remove),
		cmocka_unit_test(test_million_fire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
