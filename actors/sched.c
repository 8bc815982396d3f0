/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes.
 *
 * Each worker owns a bounded FIFO run queue (rq_buf, TR__RQ_SIZE actors)
 * that only it pushes to; it and thieves take from the head with a CAS, a
 * thief taking half of what it finds at once.  Beside it is a LIFO slot
 * (w_next) holding the actor the running one just woke by a send, so a
 * conversation between two actors stays on one core and in its cache; a
 * worker takes at most NEXT_MAX turns in a row from that slot while its
 * queue has others waiting.  A turn that sends a lot (TR__NEXT_RELEASE
 * sends) moves the slot's actor to the queue, where an idle worker can
 * steal it: in fan-in the receiver then drains on the other core while
 * the senders run, instead of waiting for the sender's long turn to end.  Plain threads, and a queue that overflows,
 * use the global inject queue, which workers also check every INJECT_TICK
 * turns so it cannot starve.
 *
 * Idle workers spin for spin_us looking for work (inject queue, then
 * stealing), then park on a futex until woken or until their nearest
 * timer's deadline.  At most half the busy workers spin at
 * once.  A worker that makes work stealable (a queue push) wakes a parked
 * worker only when none is spinning: whoever wakes hands the woken worker
 * a "spinning" token (s_nspinning was raised for it), and a spinner that
 * finds work wakes a successor if it was the last spinner (Go's runtime
 * does the same).  Lost wake-ups are excluded by a Dekker pair: a pusher
 * publishes with a seq_cst read-modify-write (the exchange of rq_tail,
 * the add to s_inject_len) then reads s_nparked/s_nspinning; a parker
 * raises s_nparked (seq_cst add) then looks at every queue once more
 * before sleeping.  RMWs rather than fences: as cheap on x86, and TSan
 * understands them.
 *
 * An actor its own worker puts back (a yield, a used-up budget) while
 * nothing else is runnable there goes to the LIFO slot and wakes nobody
 * (tr__sched_requeue): a thief could only move it to another core, and
 * the robbed worker would spin and steal it back at the next yield.
 *
 * The system is idle when every worker is parked with the inject queue
 * empty: a parking worker that makes it so broadcasts s_idle_cv (and
 * publishes whether it holds timers, for TR_IDLE_TIMERS).
 *
 * Stopping: each worker leaves after its current turn and says so under
 * s_idle_mx; tr__sched_stop waits for that with a deadline and joins
 * only the workers that left.  A worker publishes the actor it runs
 * (w_running) and counts its turns, for tr_system_stop's report.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/actors_int.h"
#include "actors/fault.h"

#define NEXT_MAX 16
#define INJECT_TICK 61

_Thread_local tr__worker *tr__tls_worker;

/* ----------------------------------------------------------- run queue */

static inline bool
rq_empty(tr__worker *w)
{
	return atomic_load_explicit(&w->rq_head, memory_order_acquire) ==
	    atomic_load_explicit(&w->rq_tail, memory_order_acquire);
}

/* rq_take takes from the head of v's queue (v may be the caller's own). */
static tr__actor *
rq_take(tr__worker *v)
{
	uint64_t h = atomic_load_explicit(&v->rq_head, memory_order_acquire);
	for (;;) {
		uint64_t t = atomic_load_explicit(&v->rq_tail,
		    memory_order_acquire);
		if (h == t)
			return NULL;
		tr__actor *a = atomic_load_explicit(&v->rq_buf[h % TR__RQ_SIZE],
		    memory_order_relaxed);
		/* acq_rel: claims index h; the acquire on tail made the slot's
		 * contents visible, and the owner cannot reuse the slot before
		 * head moves past it. */
		if (atomic_compare_exchange_weak_explicit(&v->rq_head, &h,
		        h + 1, memory_order_acq_rel, memory_order_acquire))
			return a;
	}
}

/* steal moves about half of v's queue to w's (empty) queue and returns
 * one actor to run now, or NULL. */
static tr__actor *
steal(tr__worker *w, tr__worker *v)
{
	uint64_t h = atomic_load_explicit(&v->rq_head, memory_order_acquire);
	uint64_t wt = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
	uint64_t n;
	for (;;) {
		uint64_t t = atomic_load_explicit(&v->rq_tail,
		    memory_order_acquire);
		if (t == h || t - h > TR__RQ_SIZE) { /* empty, or a stale h */
			if (t == h)
				return NULL;
			h = atomic_load_explicit(&v->rq_head,
			    memory_order_acquire);
			continue;
		}
		n = t - h;
		n -= n / 2;
		/* Copy first, then claim; our own slots are not published. */
		for (uint64_t i = 0; i < n; i++) {
			tr__actor *a = atomic_load_explicit(
			    &v->rq_buf[(h + i) % TR__RQ_SIZE],
			    memory_order_relaxed);
			atomic_store_explicit(
			    &w->rq_buf[(wt + i) % TR__RQ_SIZE], a,
			    memory_order_relaxed);
		}
		if (atomic_compare_exchange_weak_explicit(&v->rq_head, &h,
		        h + n, memory_order_acq_rel, memory_order_acquire))
			break;
	}
	tr__actor *run =
	    atomic_load_explicit(&w->rq_buf[(wt + n - 1) % TR__RQ_SIZE],
	        memory_order_relaxed);
	if (n > 1) {
		/* release: publishes the copied slots to thieves. */
		atomic_store_explicit(&w->rq_tail, wt + n - 1,
		    memory_order_release);
	}
	return run;
}

/* ------------------------------------------------------- inject queue */

static void
inject_push_list(tr_system *sys, tr__actor *first, tr__actor *last, uint32_t n)
{
	last->a_link = NULL;
	pthread_mutex_lock(&sys->s_inject_mx);
	if (sys->s_inject_tail != NULL)
		sys->s_inject_tail->a_link = first;
	else
		sys->s_inject_head = first;
	sys->s_inject_tail = last;
	/* seq_cst: the Dekker pair with parking (see the design notes). */
	atomic_fetch_add_explicit(&sys->s_inject_len, n, memory_order_seq_cst);
	pthread_mutex_unlock(&sys->s_inject_mx);
}

static tr__actor *
inject_pop(tr_system *sys)
{
	if (atomic_load_explicit(&sys->s_inject_len, memory_order_relaxed) == 0)
		return NULL;
	pthread_mutex_lock(&sys->s_inject_mx);
	tr__actor *a = sys->s_inject_head;
	if (a != NULL) {
		sys->s_inject_head = a->a_link;
		if (sys->s_inject_head == NULL)
			sys->s_inject_tail = NULL;
		atomic_fetch_sub_explicit(&sys->s_inject_len, 1,
		    memory_order_relaxed);
	}
	pthread_mutex_unlock(&sys->s_inject_mx);
	return a;
}

/* ------------------------------------------------------------- waking */

/* wake_one hands a spinning token to a parked worker, if any. */
static void
wake_one(tr_system *sys)
{
	uint32_t zero = 0;
	if (!atomic_compare_exchange_strong_explicit(&sys->s_nspinning, &zero,
	        1, memory_order_seq_cst, memory_order_relaxed))
		return;
	pthread_mutex_lock(&sys->s_idle_mx);
	tr__worker *w = sys->s_idle;
	if (w != NULL) {
		sys->s_idle = w->w_idle_next;
		atomic_fetch_sub_explicit(&sys->s_nparked, 1,
		    memory_order_seq_cst);
		atomic_store_explicit(&w->w_park, TR__PARK_WOKEN,
		    memory_order_release);
		/* relaxed: a statistic (tests read it); under the lock, so
		 * ordered before a later stop's free like the rest. */
		atomic_fetch_add_explicit(&sys->s_wakeups, 1,
		    memory_order_relaxed);
	}
	pthread_mutex_unlock(&sys->s_idle_mx);
	if (w != NULL)
		tr__park_wake(&w->w_park, 1);
	else
		atomic_fetch_sub_explicit(&sys->s_nspinning, 1,
		    memory_order_seq_cst);
}

/* wake_if_needed: called after publishing stealable work with a seq_cst
 * RMW, so these seq_cst loads cannot pass it (the Dekker pair). */
static inline void
wake_if_needed(tr_system *sys)
{
	if (atomic_load_explicit(&sys->s_nparked, memory_order_seq_cst) == 0 ||
	    atomic_load_explicit(&sys->s_nspinning, memory_order_seq_cst) != 0)
		return;
	wake_one(sys);
}

void
tr__sched_kick(tr_system *sys, tr__worker *w)
{
	pthread_mutex_lock(&sys->s_idle_mx);
	bool parked = atomic_load_explicit(&w->w_park, memory_order_relaxed) ==
	    TR__PARK_PARKED;
	if (parked) {
		tr__worker **pp = &sys->s_idle;
		while (*pp != w)
			pp = &(*pp)->w_idle_next;
		*pp = w->w_idle_next;
		atomic_fetch_sub_explicit(&sys->s_nparked, 1,
		    memory_order_seq_cst);
		atomic_store_explicit(&w->w_park, TR__PARK_RUNNING,
		    memory_order_release);
	}
	pthread_mutex_unlock(&sys->s_idle_mx);
	if (parked)
		tr__park_wake(&w->w_park, 1);
}

void
tr__sched_wake_all(tr_system *sys)
{
	pthread_mutex_lock(&sys->s_idle_mx);
	while (sys->s_idle != NULL) {
		tr__worker *w = sys->s_idle;
		sys->s_idle = w->w_idle_next;
		atomic_fetch_sub_explicit(&sys->s_nparked, 1,
		    memory_order_seq_cst);
		atomic_store_explicit(&w->w_park, TR__PARK_RUNNING,
		    memory_order_release);
		tr__park_wake(&w->w_park, 1);
	}
	pthread_cond_broadcast(&sys->s_idle_cv);
	pthread_mutex_unlock(&sys->s_idle_mx);
}

/* ------------------------------------------------------------ pushing */

/* push puts a on w's queue (half of a full queue goes to the inject
 * queue) without waking anyone. */
static void
push(tr__worker *w, tr__actor *a)
{
	uint64_t t = atomic_load_explicit(&w->rq_tail, memory_order_relaxed);
	for (;;) {
		uint64_t h = atomic_load_explicit(&w->rq_head,
		    memory_order_acquire);
		if (t - h < TR__RQ_SIZE) {
			atomic_store_explicit(&w->rq_buf[t % TR__RQ_SIZE], a,
			    memory_order_relaxed);
			/* seq_cst RMW: publishes the slot to rq_take/steal and
			 * is the pusher's half of the Dekker pair. */
			atomic_exchange_explicit(&w->rq_tail, t + 1,
			    memory_order_seq_cst);
			break;
		}
		/* Full: move half of it, and a, to the inject queue. */
		uint64_t n = TR__RQ_SIZE / 2;
		if (!atomic_compare_exchange_strong_explicit(&w->rq_head, &h,
		        h + n, memory_order_acq_rel, memory_order_acquire))
			continue; /* a thief made room */
		tr__actor *first = NULL, *last = NULL;
		for (uint64_t i = 0; i < n; i++) {
			tr__actor *x = atomic_load_explicit(
			    &w->rq_buf[(h + i) % TR__RQ_SIZE],
			    memory_order_relaxed);
			if (last != NULL)
				last->a_link = x;
			else
				first = x;
			last = x;
		}
		last->a_link = a;
		inject_push_list(w->w_sys, first, a, (uint32_t) n + 1);
		break;
	}
}

void
tr__sched_push(tr__worker *w, tr__actor *a)
{
	push(w, a);
	wake_if_needed(w->w_sys);
}

void
tr__sched_requeue(tr__worker *w, tr__actor *a)
{
	/* Alone on w, a goes to the LIFO slot, where no thief sees it: a
	 * worker woken (or spinning) to steal it could only move it away
	 * from its cache, and the robbed worker would spin and steal it back
	 * at its next yield. */
	if (w->w_next == NULL && rq_empty(w)) {
		w->w_next = a;
		return;
	}
	tr__count(&w->w_offers);
	tr__sched_push(w, a);
}

void
tr__sched_make_runnable(tr__worker *w, tr__actor *a)
{
	if (w->w_next != NULL)
		tr__sched_push(w, w->w_next);
	w->w_next = a;
}

void
tr__sched_release_next(tr__worker *w)
{
	tr__actor *a = w->w_next;
	if (a != NULL) {
		w->w_next = NULL;
		tr__sched_push(w, a);
	}
}

void
tr__sched_inject(tr_system *sys, tr__actor *a)
{
	inject_push_list(sys, a, a, 1);
	wake_if_needed(sys);
}

/* ------------------------------------------------------------ finding */

static bool
work_visible(tr_system *sys)
{
	if (atomic_load_explicit(&sys->s_inject_len, memory_order_seq_cst) != 0)
		return true;
	for (unsigned i = 0; i < sys->s_nworkers; i++) {
		tr__worker *v = &sys->s_workers[i];
		if (atomic_load_explicit(&v->rq_head, memory_order_seq_cst) !=
		    atomic_load_explicit(&v->rq_tail, memory_order_seq_cst))
			return true;
	}
	return false;
}

static tr__actor *
steal_any(tr__worker *w)
{
	tr_system *sys = w->w_sys;
	unsigned n = sys->s_nworkers;
	/* xorshift: a different first victim each time. */
	w->w_rng ^= w->w_rng << 13;
	w->w_rng ^= w->w_rng >> 7;
	w->w_rng ^= w->w_rng << 17;
	unsigned start = (unsigned) (w->w_rng % n);
	for (unsigned k = 0; k < n; k++) {
		tr__worker *v = &sys->s_workers[(start + k) % n];
		if (v == w)
			continue;
		tr__actor *a = steal(w, v);
		if (a != NULL)
			return a;
	}
	return inject_pop(sys);
}

/* unpark_self takes w off the idle list if it is still on it. */
static void
unpark_self(tr_system *sys, tr__worker *w)
{
	pthread_mutex_lock(&sys->s_idle_mx);
	if (atomic_load_explicit(&w->w_park, memory_order_relaxed) ==
	    TR__PARK_PARKED) {
		tr__worker **pp = &sys->s_idle;
		while (*pp != w)
			pp = &(*pp)->w_idle_next;
		*pp = w->w_idle_next;
		atomic_fetch_sub_explicit(&sys->s_nparked, 1,
		    memory_order_seq_cst);
		atomic_store_explicit(&w->w_park, TR__PARK_RUNNING,
		    memory_order_relaxed);
	}
	pthread_mutex_unlock(&sys->s_idle_mx);
}

/* park sleeps until woken, stopping, or timeout_ns (< 0: none) passes;
 * returns with w_spinning set if a waker handed us its token. */
static void
park(tr__worker *w, int64_t timeout_ns)
{
	tr_system *sys = w->w_sys;
	pthread_mutex_lock(&sys->s_idle_mx);
	if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire)) {
		pthread_mutex_unlock(&sys->s_idle_mx);
		return;
	}
	atomic_store_explicit(&w->w_park, TR__PARK_PARKED,
	    memory_order_relaxed);
	/* relaxed: read under s_idle_mx by tr_system_idle_flags; the wheel
	 * only changes while its owner runs, i.e. after it unparks. */
	atomic_store_explicit(&w->w_tpending, w->w_wheel.wh_count != 0,
	    memory_order_relaxed);
	w->w_idle_next = sys->s_idle;
	sys->s_idle = w;
	uint32_t np = atomic_fetch_add_explicit(&sys->s_nparked, 1,
	                  memory_order_seq_cst) +
	    1;
	pthread_mutex_unlock(&sys->s_idle_mx);

	/* The parker's half of the Dekker pair: the seq_cst add above.
	 * Timer work handed to us (a cancel from another thread, a plain
	 * thread's timer) counts too: its kick may have come just before we
	 * registered as parked. */
	if (work_visible(sys) ||
	    atomic_load_explicit(&w->w_tcancel, memory_order_seq_cst) != NULL ||
	    (w->w_index == 0 &&
	        atomic_load_explicit(&sys->s_tin_len, memory_order_seq_cst) !=
	            0)) {
		unpark_self(sys, w);
	} else if (np == sys->s_nworkers) {
		pthread_mutex_lock(&sys->s_idle_mx);
		pthread_cond_broadcast(&sys->s_idle_cv);
		pthread_mutex_unlock(&sys->s_idle_mx);
	}

	/* Sleep until the word changes (a waker, a kick, stop) or the
	 * deadline passes. */
	int64_t deadline = timeout_ns < 0 ? -1 : tr__now_ns() + timeout_ns;
	for (;;) {
		uint32_t st = atomic_load_explicit(&w->w_park,
		    memory_order_acquire);
		if (st != TR__PARK_PARKED)
			break;
		int64_t left = -1;
		if (deadline >= 0 && (left = deadline - tr__now_ns()) <= 0) {
			unpark_self(sys, w);
			continue;
		}
		tr__park_wait(&w->w_park, TR__PARK_PARKED, left);
	}
	if (atomic_load_explicit(&w->w_park, memory_order_acquire) ==
	    TR__PARK_WOKEN)
		w->w_spinning = true;
	atomic_store_explicit(&w->w_park, TR__PARK_RUNNING,
	    memory_order_relaxed);
}

/* stop_spinning gives up w's spinning token; if it found work and was the
 * last spinner, it wakes a successor so queued work is not left waiting. */
static void
stop_spinning(tr__worker *w, bool found)
{
	w->w_spinning = false;
	uint32_t before = atomic_fetch_sub_explicit(&w->w_sys->s_nspinning, 1,
	    memory_order_seq_cst);
	if (found && before == 1)
		wake_if_needed(w->w_sys);
}

/* search finds work by spinning, then parks; NULL when stopping. */
static tr__actor *
search(tr__worker *w)
{
	tr_system *sys = w->w_sys;
	for (;;) {
		if (atomic_load_explicit(&sys->s_stopping,
		        memory_order_acquire)) {
			if (w->w_spinning)
				stop_spinning(w, false);
			return NULL;
		}
		if (!w->w_spinning) {
			uint32_t busy = sys->s_nworkers -
			    atomic_load_explicit(&sys->s_nparked,
			        memory_order_relaxed);
			uint32_t sp = atomic_load_explicit(&sys->s_nspinning,
			    memory_order_relaxed);
			if (2 * sp < busy) {
				atomic_fetch_add_explicit(&sys->s_nspinning, 1,
				    memory_order_seq_cst);
				w->w_spinning = true;
			}
		}
		int64_t next_ms = tr__timers_run(w);
		if (next_ms == 0 || w->w_next != NULL || !rq_empty(w)) {
			/* Timers posted work (to our own queue). */
			if (w->w_spinning)
				stop_spinning(w, true);
			return NULL;
		}
		if (w->w_spinning) {
			int64_t deadline = tr__now_ns() + sys->s_spin_ns;
			for (unsigned i = 1;; i++) {
				tr__actor *a = steal_any(w);
				if (a != NULL) {
					stop_spinning(w, true);
					/* relaxed: a statistic (tests). */
					atomic_fetch_add_explicit(
					    &sys->s_steals, 1,
					    memory_order_relaxed);
					return a;
				}
				if ((i & 15) == 0 &&
				    (tr__now_ns() >= deadline ||
				        atomic_load_explicit(&sys->s_stopping,
				            memory_order_relaxed)))
					break;
				for (int k = 0; k < 32; k++)
					tr__cpu_relax();
			}
			stop_spinning(w, false);
		}
		/* One last look after giving up the token, then sleep. */
		tr__actor *a = steal_any(w);
		if (a != NULL) {
			atomic_fetch_add_explicit(&sys->s_steals, 1,
			    memory_order_relaxed);
			return a;
		}
		next_ms = tr__timers_run(w);
		if (next_ms == 0 || w->w_next != NULL || !rq_empty(w))
			return NULL;
		park(w, next_ms < 0 ? -1 : next_ms * 1000000);
	}
}

static tr__actor *
next_actor(tr__worker *w)
{
	tr_system *sys = w->w_sys;
	tr__actor *a;
	++w->w_tick;
	if ((w->w_tick & 31) == 0 &&
	    (w->w_wheel.wh_count != 0 ||
	        atomic_load_explicit(&w->w_tcancel, memory_order_relaxed) !=
	            NULL ||
	        (w->w_index == 0 &&
	            atomic_load_explicit(&sys->s_tin_len,
	                memory_order_relaxed) != 0)))
		(void) tr__timers_run(w);
	if (w->w_tick % INJECT_TICK == 0 && (a = inject_pop(sys)) != NULL)
		return a;
	if ((a = w->w_next) != NULL) {
		w->w_next = NULL;
		if (w->w_next_runs < NEXT_MAX || rq_empty(w)) {
			w->w_next_runs++;
			return a;
		}
		tr__sched_push(w, a);
	}
	w->w_next_runs = 0;
	if ((a = rq_take(w)) != NULL)
		return a;
	if ((a = inject_pop(sys)) != NULL)
		return a;
	return search(w);
}

static void *
worker_main(void *arg)
{
	tr__worker *w = arg;
	tr_system *sys = w->w_sys;
	tr__tls_worker = w;
	tr__fault_thread_start(sys); /* stack overflows (fault.c) */
	tr__proc_worker_init(w);
	while (!atomic_load_explicit(&sys->s_stopping, memory_order_relaxed)) {
		tr__actor *a = next_actor(w);
		if (a == NULL)
			continue; /* stopping, or timers made work: look again */
		w->w_sends = 0;
		/* relaxed (owner-only counter) and release (the actor's slot
		 * fields, read by tr_system_stop's report after an acquire). */
		tr__count(&w->w_turns);
		atomic_store_explicit(&w->w_running,
		    (uintptr_t) a |
		        ((a->a_flags & TR__A_PROCESS) ? TR__RUN_PROCESS : 0),
		    memory_order_release);
		tr__actor_run(w, a);
		atomic_store_explicit(&w->w_running, 0, memory_order_relaxed);
	}
	tr__fault_thread_stop();
	tr__tls_worker = NULL;
	/* Tell tr__sched_stop, which waits with a deadline. */
	pthread_mutex_lock(&sys->s_idle_mx);
	w->w_out = true;
	sys->s_nexited++;
	pthread_cond_broadcast(&sys->s_idle_cv);
	pthread_mutex_unlock(&sys->s_idle_mx);
	return NULL;
}

int
tr__sched_start(tr_system *sys)
{
	char name[16];
	int err = tr__fault_install(sys);
	if (err != 0)
		return err;
	for (unsigned i = 0; i < sys->s_nworkers; i++) {
		tr__worker *w = &sys->s_workers[i];
		snprintf(name, sizeof(name), "troupe-w%u", i % 10000u);
		int rv = tr__thread_start(&w->w_thread, worker_main, w, name);
		if (rv != 0) {
			atomic_store(&sys->s_stopping, true);
			tr__sched_wake_all(sys);
			for (unsigned j = 0; j < i; j++)
				tr__thread_join(sys->s_workers[j].w_thread);
			tr__fault_uninstall();
			return rv;
		}
	}
	return 0;
}

bool
tr__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mx,
    int64_t deadline_ns)
{
	if (deadline_ns < 0) {
		pthread_cond_wait(cv, mx);
		return true;
	}
	int64_t left = deadline_ns - tr__now_ns();
	if (left <= 0)
		return false;
	/* The condition variable keeps the default (realtime) clock, which
	 * every platform has; the deadline is on the monotonic one, so a
	 * clock step only cuts a wait short and the caller looks again. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = ts.tv_nsec + left % 1000000000;
	ts.tv_sec += (time_t) (left / 1000000000 + ns / 1000000000);
	ts.tv_nsec = (long) (ns % 1000000000);
	(void) pthread_cond_timedwait(cv, mx, &ts);
	return true;
}

int
tr__sched_stop(tr_system *sys, int64_t timeout_ms)
{
	atomic_store_explicit(&sys->s_stopping, true, memory_order_seq_cst);
	tr__sched_wake_all(sys);
	/* Beyond ~100 years is as good as no limit (and cannot overflow). */
	int64_t deadline = timeout_ms < 0 || timeout_ms > ((int64_t) 1 << 41)
	    ? -1
	    : tr__now_ns() + timeout_ms * 1000000;
	unsigned n = sys->s_nworkers, left;
	pthread_mutex_lock(&sys->s_idle_mx);
	while (sys->s_nexited < n &&
	    tr__cond_wait_until(&sys->s_idle_cv, &sys->s_idle_mx, deadline)) {
	}
	left = n - sys->s_nexited;
	pthread_mutex_unlock(&sys->s_idle_mx);
	/* Join whoever is out: those still in a turn are left alone, with
	 * everything they may touch. */
	for (unsigned i = 0; i < n; i++) {
		tr__worker *w = &sys->s_workers[i];
		pthread_mutex_lock(&sys->s_idle_mx);
		bool out = w->w_out;
		pthread_mutex_unlock(&sys->s_idle_mx);
		if (out && !w->w_joined) {
			tr__thread_join(w->w_thread);
			w->w_joined = true;
		}
	}
	if (left != 0)
		return TR_ETIMEDOUT;
	tr__fault_uninstall();
	return 0;
}
