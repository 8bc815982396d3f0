/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: runtime timers.
 *
 * Each worker owns a timing wheel (actors/timer.c) and files there the
 * timers its actors start, with no lock.  A timer carries a ready-made
 * message (a tr_send_after's, a receive timeout, a call timeout) that
 * firing posts.  Plain threads hand their timers to worker 0 through a
 * list under s_ext_mx and kick it if it sleeps.
 *
 * t_state packs a generation and a state; firing and cancelling both CAS
 * it from PENDING, so exactly one wins.  A cancel on the owning worker
 * unfiles the timer at once (O(1)).  A cancel from elsewhere (a process
 * that moved to another worker, a plain thread) pushes it on the owner's
 * lock-free cancel stack; the owner unfiles and recycles it on its next
 * look at its timers.  Only the cancel's winner pushes, once, so each
 * cancelled timer is recycled exactly once; a timer that fires is
 * recycled by the firing.  Timer objects are type-stable (slabs freed at
 * stop), so a stale tr_timer handle fails its generation check instead of
 * touching freed memory.
 *
 * Workers look at their wheel every 32 turns and before parking, and park
 * no longer than the nearest deadline.
 */

#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"

enum { T_FREE = 0, T_PENDING = 1, T_FIRED = 2, T_CANCELLED = 3 };

#define T_SLAB 256
#define TR__DELAY_MAX ((int64_t) 1 << 40)

struct tr__timer {
	tr__tnode t_node;         /* in the owner's wheel */
	_Atomic uint64_t t_state; /* gen << 2 | T_* */
	tr__worker *t_owner;
	tr_msg *t_msg; /* what firing posts */
	tr_pid t_to;
	bool t_shared;       /* came from the system's free list */
	bool t_inlist;       /* on s_tin (under s_ext_mx) */
	tr__timer *t_next;   /* free list, s_tin */
	tr__timer *t_cnext;  /* owner's cancel stack */
	uint64_t t_deadline; /* s_tin: when to fire (ms) */
	uint64_t t_period;   /* ms; 0: fires once */
};

#define container(n) \
	((tr__timer *) (void *) ((char *) (n) -offsetof(tr__timer, t_node)))

uint64_t
tr__now_ms(tr_system *sys)
{
	return (uint64_t) ((tr__now_ns() - sys->s_t0_ns) / 1000000);
}

/* slab_new carves T_SLAB timers onto *freep; false on ENOMEM. */
static bool
slab_new(void ***slabs, size_t *nslabs, tr__timer **freep, bool shared)
{
	void **ns = realloc(*slabs, (*nslabs + 1) * sizeof(*ns));
	if (ns == NULL)
		return false;
	*slabs = ns;
	tr__timer *t = calloc(T_SLAB, sizeof(*t));
	if (t == NULL)
		return false;
	ns[(*nslabs)++] = t;
	for (int i = T_SLAB - 1; i >= 0; i--) {
		atomic_init(&t[i].t_state, ((uint64_t) 1 << 2) | T_FREE);
		t[i].t_shared = shared;
		t[i].t_next = *freep;
		*freep = &t[i];
	}
	return true;
}

static tr__timer *
timer_get(tr_system *sys, tr__worker *w)
{
	tr__timer *t;
	if (w != NULL) {
		if (w->w_tfree == NULL &&
		    !slab_new(&w->w_tslabs, &w->w_ntslabs, &w->w_tfree, false))
			return NULL;
		t = w->w_tfree;
		w->w_tfree = t->t_next;
		return t;
	}
	pthread_mutex_lock(&sys->s_ext_mx);
	if (sys->s_tfree == NULL)
		(void) slab_new(&sys->s_tslabs, &sys->s_ntslabs, &sys->s_tfree,
		    true);
	t = sys->s_tfree;
	if (t != NULL)
		sys->s_tfree = t->t_next;
	pthread_mutex_unlock(&sys->s_ext_mx);
	return t;
}

/* recycle frees t's message (if any) and returns t to its free list with
 * a new generation.  Thread: t's owner. */
static void
recycle(tr__worker *w, tr__timer *t)
{
	tr_system *sys = w->w_sys;
	if (t->t_msg != NULL) {
		tr__msg_delete(&w->w_pool, t->t_msg);
		t->t_msg = NULL;
	}
	uint64_t gen = atomic_load_explicit(&t->t_state,
	                   memory_order_relaxed) >>
	    2;
	/* release: a stale handle's CAS fails from here on. */
	atomic_store_explicit(&t->t_state, ((gen + 1) << 2) | T_FREE,
	    memory_order_release);
	if (t->t_shared) {
		pthread_mutex_lock(&sys->s_ext_mx);
		t->t_next = sys->s_tfree;
		sys->s_tfree = t;
		pthread_mutex_unlock(&sys->s_ext_mx);
	} else {
		t->t_next = w->w_tfree;
		w->w_tfree = t;
	}
}

static void file(tr__worker *w, tr__timer *t, uint64_t deadline);

/* tick posts a copy of periodic timer t's message (unless its target or
 * the actor that started it is gone: then the timer ends) and files t
 * again one period after its last deadline, skipping the ticks that are
 * past already.  t is T_FIRED (its cancels wait); back to T_PENDING at
 * the end. */
static void
tick(tr__worker *w, tr__timer *t, uint64_t st)
{
	tr_system *sys = w->w_sys;
	tr_msg *tm = t->t_msg;
	if (tr__lookup(sys, t->t_to) == NULL ||
	    (!tr_pid_is_nil(tm->m_from) &&
	        tr__lookup(sys, tm->m_from) == NULL)) {
		recycle(w, t);
		return;
	}
	tr_msg *m = tr__msg_new(&w->w_pool, tm->m_len);
	if (m != NULL) { /* out of memory: this tick is lost, not the next */
		m->m_from = tm->m_from;
		m->m_tag = tm->m_tag;
		m->m_to_gen = tm->m_to_gen;
		m->m_flags = tm->m_flags;
		m->m_ref = tm->m_ref;
		if (tm->m_len > 0)
			tr__copy(m->m_data, tm->m_data, tm->m_len);
		tr__post_msg(sys, &w->w_pool, t->t_to, m);
	}
	uint64_t now = tr__now_ms(sys);
	uint64_t next = t->t_node.tn_deadline + t->t_period;
	if (next <= now) /* overdue: skip to the first deadline after now */
		next += ((now - next) / t->t_period + 1) * t->t_period;
	file(w, t, next);
	/* release: pairs with tr_cancel_timer's acquire CAS; the timer is
	 * filed again before a cancel may unfile it. */
	atomic_store_explicit(&t->t_state, (st & ~(uint64_t) 3) | T_PENDING,
	    memory_order_release);
}

static void
fire(void *arg, tr__tnode *n)
{
	tr__worker *w = arg;
	tr__timer *t = container(n);
	uint64_t st = atomic_load_explicit(&t->t_state, memory_order_acquire);
	uint64_t pending = (st & ~(uint64_t) 3) | T_PENDING;
	/* acq_rel: exactly one of fire and cancel wins. */
	if (atomic_compare_exchange_strong_explicit(&t->t_state, &pending,
	        (st & ~(uint64_t) 3) | T_FIRED, memory_order_acq_rel,
	        memory_order_acquire)) {
		if (t->t_period != 0) {
			tick(w, t, st);
			return;
		}
		tr_msg *m = t->t_msg;
		t->t_msg = NULL;
		tr__post_msg(w->w_sys, &w->w_pool, t->t_to, m);
		recycle(w, t);
	}
	/* Cancelled: its canceller pushed it on our cancel stack. */
}

static void
file(tr__worker *w, tr__timer *t, uint64_t deadline)
{
	tr__wheel_insert(&w->w_wheel, &t->t_node, deadline);
	if (deadline < w->w_wheel_next)
		w->w_wheel_next = deadline;
}

static int
start(tr_system *sys, tr__worker *w, tr_pid to, int64_t delay_ms,
    uint64_t period_ms, tr_msg *m, tr_timer *out)
{
	tr__timer *t = timer_get(sys, w);
	if (t == NULL)
		return TR_ENOMEM;
	t->t_period = period_ms;
	if (delay_ms > TR__DELAY_MAX)
		delay_ms = TR__DELAY_MAX; /* ~35 years: as good as never */
	/* Round the exact deadline up to the next ms tick: the wheel fires
	 * at floor(now) >= deadline, so never before delay_ms has passed. */
	int64_t exact = tr__now_ns() - sys->s_t0_ns + delay_ms * 1000000;
	uint64_t deadline = (uint64_t) ((exact + 999999) / 1000000);
	t->t_msg = m;
	t->t_to = to;
	m->m_to_gen = to.gen;
	uint64_t gen = atomic_load_explicit(&t->t_state,
	                   memory_order_relaxed) >>
	    2;
	if (out != NULL)
		*out = (tr_timer){ t, gen };
	if (w != NULL) {
		t->t_owner = w;
		atomic_store_explicit(&t->t_state, (gen << 2) | T_PENDING,
		    memory_order_release);
		file(w, t, deadline);
		return 0;
	}
	/* A plain thread: worker 0 files it. */
	tr__worker *w0 = &sys->s_workers[0];
	t->t_owner = w0;
	t->t_deadline = deadline;
	pthread_mutex_lock(&sys->s_ext_mx);
	atomic_store_explicit(&t->t_state, (gen << 2) | T_PENDING,
	    memory_order_release);
	t->t_inlist = true;
	t->t_next = sys->s_tin;
	sys->s_tin = t;
	atomic_store_explicit(&sys->s_tin_len, 1, memory_order_seq_cst);
	pthread_mutex_unlock(&sys->s_ext_mx);
	tr__sched_kick(sys, w0);
	return 0;
}

int
tr__timer_start(tr_system *sys, tr__worker *w, tr_pid to, int64_t delay_ms,
    tr_msg *m, tr_timer *out)
{
	return start(sys, w, to, delay_ms, 0, m, out);
}

int
tr_cancel_timer(tr_system *sys, tr_timer timer)
{
	tr__timer *t = timer.t_p;
	if (sys == NULL || t == NULL)
		return TR_EINVAL;
	uint64_t pending = (timer.t_gen << 2) | T_PENDING;
	/* acq_rel: exactly one of fire and cancel wins; acquire pairs with
	 * tick's release store (a periodic timer filed again). */
	while (!atomic_compare_exchange_strong_explicit(&t->t_state, &pending,
	    (timer.t_gen << 2) | T_CANCELLED, memory_order_acq_rel,
	    memory_order_acquire)) {
		/* T_FIRED of this generation: its owner is firing it right
		 * now; a periodic timer then goes back to pending (wait for
		 * that, a few instructions: a tick that started before the
		 * cancel may still be delivered, no tick after), a one-shot
		 * one to free (ENOENT). */
		if (pending != ((timer.t_gen << 2) | T_FIRED))
			return TR_ENOENT;
		tr__cpu_relax();
		pending = (timer.t_gen << 2) | T_PENDING;
	}
	if (t->t_shared) {
		pthread_mutex_lock(&sys->s_ext_mx);
		bool listed = t->t_inlist;
		if (listed) {
			/* Not filed yet: take it off the hand-off list. */
			tr__timer **pp = &sys->s_tin;
			while (*pp != t)
				pp = &(*pp)->t_next;
			*pp = t->t_next;
			t->t_inlist = false;
			tr__msg_delete_any(sys, NULL, t->t_msg);
			t->t_msg = NULL;
			uint64_t gen = timer.t_gen + 1;
			atomic_store_explicit(&t->t_state, (gen << 2) | T_FREE,
			    memory_order_release);
			t->t_next = sys->s_tfree;
			sys->s_tfree = t;
		}
		pthread_mutex_unlock(&sys->s_ext_mx);
		if (listed)
			return 0;
	}
	tr__worker *w = tr__tls_worker;
	tr__worker *o = t->t_owner;
	if (w == o) {
		tr__wheel_remove(&w->w_wheel, &t->t_node);
		recycle(w, t);
		return 0;
	}
	/* The owner unfiles and recycles it on its next look; the first
	 * cancel onto an empty stack wakes it if it sleeps (else it would
	 * keep the timer, and its message, until the deadline). */
	tr__timer *top = atomic_load_explicit(&o->w_tcancel,
	    memory_order_relaxed);
	do {
		t->t_cnext = top;
		/* seq_cst: publishes t_cnext to the owner, and is ordered
		 * before the kick's look at its park word (see park()). */
	} while (!atomic_compare_exchange_weak_explicit(&o->w_tcancel, &top, t,
	    memory_order_seq_cst, memory_order_relaxed));
	if (top == NULL)
		tr__sched_kick(sys, o);
	return 0;
}

int64_t
tr__timers_run(tr__worker *w)
{
	tr_system *sys = w->w_sys;
	if (w->w_index == 0 &&
	    atomic_load_explicit(&sys->s_tin_len, memory_order_acquire) != 0) {
		pthread_mutex_lock(&sys->s_ext_mx);
		tr__timer *in = sys->s_tin;
		sys->s_tin = NULL;
		atomic_store_explicit(&sys->s_tin_len, 0, memory_order_relaxed);
		for (tr__timer *t = in; t != NULL; t = t->t_next)
			t->t_inlist = false;
		pthread_mutex_unlock(&sys->s_ext_mx);
		while (in != NULL) {
			tr__timer *nx = in->t_next;
			file(w, in, in->t_deadline);
			in = nx;
		}
	}
	if (atomic_load_explicit(&w->w_tcancel, memory_order_relaxed) != NULL) {
		/* acquire: pairs with the release CAS in tr_cancel_timer. */
		tr__timer *c = atomic_exchange_explicit(&w->w_tcancel, NULL,
		    memory_order_acquire);
		while (c != NULL) {
			tr__timer *nx = c->t_cnext;
			if (c->t_node.tn_filed)
				tr__wheel_remove(&w->w_wheel, &c->t_node);
			recycle(w, c);
			c = nx;
		}
	}
	if (w->w_wheel.wh_count == 0)
		return -1;
	uint64_t now = tr__now_ms(sys);
	if (now >= w->w_wheel_next) {
		tr__wheel_advance(&w->w_wheel, now, fire, w);
		w->w_wheel_next = tr__wheel_next(&w->w_wheel);
		if (w->w_wheel.wh_count == 0)
			return -1;
	}
	return w->w_wheel_next > now ? (int64_t) (w->w_wheel_next - now) : 0;
}

int
tr__timers_init(tr__worker *w)
{
	tr__wheel_init(&w->w_wheel, tr__now_ms(w->w_sys));
	w->w_wheel_next = UINT64_MAX;
	return 0;
}

static void
free_slabs(tr_system *sys, void **slabs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tr__timer *t = slabs[i];
		for (int j = 0; j < T_SLAB; j++)
			if (t[j].t_msg != NULL)
				tr__msg_delete(&sys->s_workers[0].w_pool,
				    t[j].t_msg);
		free(t);
	}
	free(slabs);
}

void
tr__timers_fini(tr__worker *w)
{
	free_slabs(w->w_sys, w->w_tslabs, w->w_ntslabs);
	w->w_tslabs = NULL;
	w->w_ntslabs = 0;
	if (w->w_index == 0) {
		tr_system *sys = w->w_sys;
		free_slabs(sys, sys->s_tslabs, sys->s_ntslabs);
		sys->s_tslabs = NULL;
		sys->s_ntslabs = 0;
	}
}

/* ------------------------------------------------------------ public */

static int
check(tr_pid pid, int64_t delay_ms, uint32_t tag, const void *data, size_t len)
{
	if (delay_ms < 0 || tr_pid_is_nil(pid) || (data == NULL && len > 0) ||
	    tag >= TR_TAG_SYSTEM)
		return TR_EINVAL;
	if (len > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	return 0;
}

static tr_msg *
make(tr_system *sys, tr__pool *p, tr_pid from, uint32_t tag, const void *data,
    size_t len)
{
	tr_msg *m = tr__msg_new_any(sys, p, len);
	if (m == NULL)
		return NULL;
	m->m_from = from;
	m->m_tag = tag;
	m->m_flags = 0;
	m->m_ref = 0;
	if (len > 0)
		tr__copy(m->m_data, data, len);
	return m;
}

int
tr_send_after(tr_ctx *cx, tr_pid pid, int64_t delay_ms, uint32_t tag,
    const void *data, size_t len, tr_timer *timer)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	int rv = check(pid, delay_ms, tag, data, len);
	if (rv != 0)
		return rv;
	tr__worker *w = cx->cx_w;
	tr_msg *m = make(w->w_sys, &w->w_pool, tr__pid_of(cx->cx_self), tag,
	    data, len);
	if (m == NULL)
		return TR_ENOMEM;
	rv = tr__timer_start(w->w_sys, w, pid, delay_ms, m, timer);
	if (rv != 0)
		tr__msg_delete(&w->w_pool, m);
	return rv;
}

int
tr_system_send_after(tr_system *sys, tr_pid pid, int64_t delay_ms, uint32_t tag,
    const void *data, size_t len, tr_timer *timer)
{
	if (sys == NULL)
		return TR_EINVAL;
	int rv = check(pid, delay_ms, tag, data, len);
	if (rv != 0)
		return rv;
	if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire))
		return TR_ESTOPPED;
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys != sys)
		w = NULL;
	tr__pool *p = w != NULL ? &w->w_pool : NULL;
	tr_msg *m = make(sys, p, TR_PID_NIL, tag, data, len);
	if (m == NULL)
		return TR_ENOMEM;
	rv = tr__timer_start(sys, w, pid, delay_ms, m, timer);
	if (rv != 0)
		tr__msg_delete_any(sys, p, m);
	return rv;
}

/* ------------------------------------------------------------ interval */

static int
check_period(int64_t period_ms)
{
	return period_ms <= 0 || period_ms > TR__DELAY_MAX ? TR_EINVAL : 0;
}

int
tr_send_interval(tr_ctx *cx, tr_pid pid, int64_t period_ms, uint32_t tag,
    const void *data, size_t len, tr_timer *timer)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	int rv = check(pid, period_ms, tag, data, len);
	if (rv == 0)
		rv = check_period(period_ms);
	if (rv != 0)
		return rv;
	tr__worker *w = cx->cx_w;
	tr_msg *m = make(w->w_sys, &w->w_pool, tr__pid_of(cx->cx_self), tag,
	    data, len);
	if (m == NULL)
		return TR_ENOMEM;
	rv = start(w->w_sys, w, pid, period_ms, (uint64_t) period_ms, m, timer);
	if (rv != 0)
		tr__msg_delete(&w->w_pool, m);
	return rv;
}

int
tr_system_send_interval(tr_system *sys, tr_pid pid, int64_t period_ms,
    uint32_t tag, const void *data, size_t len, tr_timer *timer)
{
	if (sys == NULL)
		return TR_EINVAL;
	int rv = check(pid, period_ms, tag, data, len);
	if (rv == 0)
		rv = check_period(period_ms);
	if (rv != 0)
		return rv;
	if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire))
		return TR_ESTOPPED;
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys != sys)
		w = NULL;
	tr__pool *p = w != NULL ? &w->w_pool : NULL;
	tr_msg *m = make(sys, p, TR_PID_NIL, tag, data, len);
	if (m == NULL)
		return TR_ENOMEM;
	rv = start(sys, w, pid, period_ms, (uint64_t) period_ms, m, timer);
	if (rv != 0)
		tr__msg_delete_any(sys, p, m);
	return rv;
}
