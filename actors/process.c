/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: processes.
 *
 * A process is an actor whose code runs on its own stack.  The worker
 * switches to it (tr__ctx_switch) and it runs until it blocks in receive,
 * yields, or ends; then it switches back and the worker looks at why.
 *
 * Blocking uses the mailbox's idle bit like an event actor's turn: the
 * process has moved every queued message to its inner queue and found no
 * match, so it switches out BLOCKED and the worker sets the idle bit; the
 * next push schedules it again and it goes on where it stopped, testing
 * only the messages that came since (each message is tested once per
 * receive).  A receive timeout is a timer that posts a RECV_TMO message,
 * numbered by receive, to the process itself.
 *
 * Fairness: after `budget` receives that did not block a process yields.
 *
 * Sanitizers: the switches tell ASan and TSan about the stack change
 * (fiber annotations); see san_* below.
 */

#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"
#include "actors/ctx.h"

#if defined(__SANITIZE_ADDRESS__)
#define TR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TR_TSAN 1
#endif
#endif
#ifdef TR_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef TR_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* --------------------------------------------------- switching */

/* to_proc switches from worker w to process p. */
static void
to_proc(tr__worker *w, tr__proc *p)
{
#ifdef TR_ASAN
	__sanitizer_start_switch_fiber(&w->w_asan_fake, p->p_stack->lo,
	    (size_t) (p->p_stack->hi - p->p_stack->lo));
#endif
#ifdef TR_TSAN
	__tsan_switch_to_fiber(p->p_tsan, 0);
#endif
	tr__ctx_switch(&w->w_sched_sp, p->p_sp);
#ifdef TR_ASAN
	__sanitizer_finish_switch_fiber(w->w_asan_fake, NULL, NULL);
#endif
}

/* after_switch_in runs first thing on the process's stack after a switch. */
static inline void
after_switch_in(tr__proc *p, tr__worker *w)
{
#ifdef TR_ASAN
	__sanitizer_finish_switch_fiber(p->p_asan_fake, &w->w_asan_bottom,
	    &w->w_asan_size);
#else
	(void) p;
	(void) w;
#endif
}

/* to_worker switches from process p back to its worker; `last` when p
 * will never run again.  Returns when p is resumed. */
static void
to_worker(tr__proc *p, bool last)
{
	tr__worker *w = p->p_cx.cx_w;
#ifdef TR_ASAN
	__sanitizer_start_switch_fiber(last ? NULL : &p->p_asan_fake,
	    w->w_asan_bottom, w->w_asan_size);
#else
	(void) last;
#endif
#ifdef TR_TSAN
	__tsan_switch_to_fiber(w->w_tsan, 0);
#endif
	tr__ctx_switch(&p->p_sp, w->w_sched_sp);
	after_switch_in(p, p->p_cx.cx_w);
}

static void
entry(void *arg)
{
	tr__actor *a = arg;
	tr__proc *p = a->a_proc;
	after_switch_in(p, p->p_cx.cx_w);
	/* An exit signal may have come before the first turn. */
	if (!tr__signals(p->p_cx.cx_w, &p->p_cx, a))
		p->p_fn(&p->p_cx, a->a_state);
	tr__proc_exit(&p->p_cx);
}

void
tr__proc_exit(tr_ctx *cx)
{
	tr__proc *p = cx->cx_proc;
	p->p_state = TR__P_EXITED;
	to_worker(p, true);
	abort(); /* unreachable: an exited process is never resumed */
}

void
tr__proc_worker_init(tr__worker *w)
{
#ifdef TR_TSAN
	w->w_tsan = __tsan_get_current_fiber();
#else
	(void) w;
#endif
}

/* ------------------------------------------------------ make, free */

/* stacks returns the pool for stacks of size (rounded to pages), made on
 * first use; NULL with *err set if none can be had. */
static tr__stack_pool *
stacks(tr_system *sys, size_t size, int *err)
{
	size_t pg = 4096;
	size = (size + pg - 1) & ~(pg - 1);
	tr__stack_pool *sp = NULL;
	pthread_mutex_lock(&sys->s_ext_mx);
	for (unsigned i = 0; i < sys->s_nstacks; i++)
		if (tr__stack_size(sys->s_stacks[i]) >= size &&
		    tr__stack_size(sys->s_stacks[i]) < size + pg)
			sp = sys->s_stacks[i];
	if (sp == NULL) {
		*err = TR_ELIMIT; /* too many distinct sizes */
		if (sys->s_nstacks < TR__STACK_POOLS) {
			*err = TR_ENOMEM;
			sp = tr__stack_pool_alloc(size, 0, 0);
			if (sp != NULL)
				sys->s_stacks[sys->s_nstacks++] = sp;
		}
	}
	pthread_mutex_unlock(&sys->s_ext_mx);
	return sp;
}

int
tr__proc_make(tr_system *sys, tr__actor *a, tr_process_fn fn, size_t stack_size,
    bool compact)
{
	if (stack_size > TR_STACK_MAX)
		return TR_EINVAL;
	int err;
	tr__stack_pool *sp = stacks(sys,
	    stack_size != 0 ? stack_size : sys->s_cfg.stack_size, &err);
	if (sp == NULL)
		return err;
	/* Only where guards are mprotect ones (kernels before 6.13): no
	 * process runs on an unguarded stack (0016). */
	bool first = false;
	if (tr__stack_reserve(sp, &first) != 0) {
		if (first) /* once per pool: no flood of lines */
			tr__log(sys, TR_LOG_ERROR,
			    "spawn refused (TR_ELIMIT): %zu processes with "
			    "%zu KiB stacks is the most this kernel can guard "
			    "(vm.max_map_count; Linux 6.13 lifts the bound)",
			    tr__stack_cap(sp), tr__stack_size(sp) >> 10);
		return TR_ELIMIT;
	}
	tr__proc *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		tr__stack_unreserve(sp);
		return TR_ENOMEM;
	}
	/* The stack comes when the process first runs (tr__proc_run): a
	 * process still waiting for its first turn holds none, and a stack
	 * just given back by an ended process, still warm, goes to the next
	 * one that starts. */
	p->p_pool = sp;
	p->p_compact = compact;
	p->p_fn = fn;
	p->p_cx.cx_self = a;
	p->p_cx.cx_proc = p;
	a->a_proc = p;
	return 0;
}

void
tr__proc_free(tr_system *sys, tr__actor *a)
{
	tr__proc *p = a->a_proc;
	if (p == NULL)
		return;
	(void) sys;
	if (p->p_stack != NULL) {
#ifdef TR_TSAN
		__tsan_destroy_fiber(p->p_tsan);
#endif
		tr__stack_put(p->p_pool, p->p_stack);
	}
	free(p->p_saved); /* killed while compacted */
	tr__stack_unreserve(p->p_pool);
	free(p);
	a->a_proc = NULL;
}

/* ----------------------------------------------------------- turn */

void
tr__proc_run(tr__worker *w, tr__actor *a)
{
	tr__proc *p = a->a_proc;
	if (p->p_stack == NULL) {
		p->p_stack = tr__stack_get(p->p_pool);
		if (p->p_stack == NULL) {
			tr__finish(w->w_sys, w, &w->w_pool, a, TR_REASON_ERROR,
			    "out of memory for a process stack");
			return;
		}
#ifdef TR_TSAN
		p->p_tsan = __tsan_create_fiber(0);
#endif
		p->p_sp = tr__ctx_make(p->p_stack->hi, entry, a);
	}
	if (p->p_saved != NULL) {
		tr__stack_restore(p->p_pool, p->p_stack, p->p_saved,
		    p->p_saved_len);
		free(p->p_saved);
		p->p_saved = NULL;
	}
	p->p_cx.cx_w = w;
	p->p_state = TR__P_RUNNING;
	w->w_stale = 0;
	to_proc(w, p);
	switch (p->p_state) {
	case TR__P_EXITED: {
		tr_reason_kind kind;
		char buf[TR_REASON_TEXT_MAX];
		const char *text = tr__exit_reason(&p->p_cx, TR_STOP, &kind,
		    buf, sizeof(buf));
		tr__finish(w->w_sys, w, &w->w_pool, a, kind, text);
		return;
	}
	case TR__P_BLOCKED:
		/* Blocking gave the worker up: the next receive starts a new
		 * budget (a conversation that blocks every time never yields,
		 * so never wakes a thief for nothing). */
		p->p_reds = 0;
		/* Compact: keep only the live stack while blocked (before the
		 * idle bit is set: from then on another worker may resume
		 * it).  Without memory for the copy, stay as is. */
		if (p->p_compact &&
		    !tr__stack_save(p->p_pool, p->p_stack, p->p_sp, &p->p_saved,
		        &p->p_saved_len))
			p->p_saved = NULL;
		tr__end_turn(w, a);
		return;
	default: /* yielded */
		tr__sched_requeue(w, a);
		return;
	}
}

/* suspend switches out with state st and returns when resumed. */
static void
suspend(tr__proc *p, int st)
{
	p->p_state = st;
	to_worker(p, false);
	p->p_state = TR__P_RUNNING;
}

int
tr_yield(tr_ctx *cx)
{
	if (cx == NULL || cx->cx_proc == NULL)
		return TR_ECONTEXT;
	suspend(cx->cx_proc, TR__P_YIELDED);
	/* A busy process still hears exit signals when it yields. */
	if (tr__signals(cx->cx_w, cx, cx->cx_self))
		tr__proc_exit(cx);
	return 0;
}

/* --------------------------------------------------------- receive */

uint64_t
tr_make_ref(tr_ctx *cx)
{
	if (cx == NULL)
		return 0;
	uint64_t ref = tr__new_ref(cx->cx_w->w_sys);
	tr__proc *p = cx->cx_proc;
	if (p != NULL) {
		/* Everything queued now came before the reference: move it
		 * to the inner queue and mark its end. */
		if (tr__pull(cx->cx_w, cx, cx->cx_self) == TR__DIE)
			tr__proc_exit(cx);
		p->p_mark = cx->cx_self->a_in_tail;
		p->p_mark_ref = ref;
		p->p_mark_set = true;
	}
	return ref;
}

/* pull_one takes one message off the mailbox into the inner queue and
 * returns it, or NULL if none; then *st says why (tr__mbox_next). */
static tr_msg *
pull_one(tr__worker *w, tr_ctx *cx, tr__actor *a, int *st)
{
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	*st = TR__NEXT_EMPTY;
	tr_msg *m = tr__mbox_next(w, cx, a, gen, st);
	if (m != NULL)
		tr__inner_push(a, m);
	return m;
}

/*
 * receive is every receive: scan the inner queue from `from` (NULL: its
 * head; else the message after it), then new arrivals.
 */
static tr_msg *
receive(tr_ctx *cx, tr_match_fn match, void *arg, int64_t timeout_ms,
    tr_msg *from, bool use_from)
{
	if (cx == NULL)
		return NULL;
	tr__actor *a = cx->cx_self;
	tr__proc *p = cx->cx_proc;
	tr_system *sys = cx->cx_w->w_sys;
	int st;
	bool timer_set = false;
	tr_timer timer = { NULL, 0 };
	if (p != NULL && ++p->p_reds >= sys->s_cfg.budget) {
		p->p_reds = 0;
		suspend(p, TR__P_YIELDED);
	}
	if (tr__signals(cx->cx_w, cx, a))
		goto died;
	tr_msg *prev = use_from ? from : NULL, *m;
	if (p != NULL) {
		p->p_recv_seq++;
		p->p_timed_out = false;
	}
	for (;;) {
		/* Test what is queued after prev (each message once), then
		 * take one more off the mailbox, and again. */
		m = prev != NULL ? tr__inner_next(prev) : a->a_in_head;
		for (; m != NULL; prev = m, m = tr__inner_next(m)) {
			if (match == NULL || match(m, arg)) {
				tr__inner_remove(a, prev, m);
				goto found;
			}
		}
		tr__worker *w =
		    cx->cx_w; /* a process may move between workers */
		if (pull_one(w, cx, a, &st) != NULL)
			continue;
		if (st == TR__NEXT_DIE)
			goto died;
		if (st == TR__NEXT_BUSY) {
			/* Stale messages spent the turn: let others run (an
			 * event actor's poll ends here, its turn soon after). */
			if (p == NULL)
				break;
			suspend(p, TR__P_YIELDED);
			if (tr__signals(cx->cx_w, cx, a))
				goto died;
			continue;
		}
		if (timeout_ms == 0 || p == NULL || p->p_timed_out)
			break;
		if (timeout_ms > 0 && !timer_set) {
			tr_msg *t = tr__msg_new(&w->w_pool, 0);
			if (t == NULL)
				break; /* out of memory: time out at once */
			t->m_from = tr__pid_of(a);
			t->m_tag = TR__TAG_RECV_TMO;
			t->m_flags = 0;
			t->m_ref = p->p_recv_seq;
			if (tr__timer_start(sys, w, tr__pid_of(a), timeout_ms,
			        t, &timer) != 0) {
				tr__msg_delete(&w->w_pool, t);
				break;
			}
			timer_set = true;
		}
		suspend(p, TR__P_BLOCKED);
		if (tr__signals(cx->cx_w, cx, a))
			goto died;
	}
	if (timer_set)
		(void) tr_cancel_timer(sys, timer);
	return NULL;
found:
	if (timer_set)
		(void) tr_cancel_timer(sys, timer);
	if (m->m_tag >= TR_TAG_SYSTEM)
		tr__delivered(a, m);
	return m;
died:
	if (p != NULL) {
		if (timer_set)
			(void) tr_cancel_timer(sys, timer);
		tr__proc_exit(cx);
	}
	/* An event actor polling: it dies when its handler returns (the
	 * reason is in cx). */
	return NULL;
}

static bool
match_none(const tr_msg *m, void *arg)
{
	(void) m;
	(void) arg;
	return false;
}

int
tr_sleep(tr_ctx *cx, int64_t ms)
{
	if (cx == NULL || cx->cx_proc == NULL)
		return TR_ECONTEXT;
	if (ms > 0)
		(void) receive(cx, match_none, NULL, ms, NULL, false);
	return 0;
}

tr_msg *
tr_receive_match(tr_ctx *cx, tr_match_fn match, void *arg, int64_t timeout_ms)
{
	return receive(cx, match, arg, timeout_ms, NULL, false);
}

tr_msg *
tr_receive(tr_ctx *cx, int64_t timeout_ms)
{
	return receive(cx, NULL, NULL, timeout_ms, NULL, false);
}

static bool
match_tag(const tr_msg *m, void *arg)
{
	return m->m_tag == *(uint32_t *) arg;
}

tr_msg *
tr_receive_tag(tr_ctx *cx, uint32_t tag, int64_t timeout_ms)
{
	return receive(cx, match_tag, &tag, timeout_ms, NULL, false);
}

static bool
match_ref(const tr_msg *m, void *arg)
{
	return m->m_ref == *(uint64_t *) arg;
}

tr_msg *
tr_receive_ref(tr_ctx *cx, uint64_t ref, int64_t timeout_ms)
{
	if (cx == NULL)
		return NULL;
	tr__proc *p = cx->cx_proc;
	tr_msg *m;
	if (p != NULL && p->p_mark_set && p->p_mark_ref == ref) {
		/* Messages queued before the reference was made cannot
		 * carry it: start after the mark. */
		m = receive(cx, match_ref, &ref, timeout_ms, p->p_mark,
		    p->p_mark != NULL);
		if (m != NULL || timeout_ms != 0)
			p->p_mark_set = false;
	} else {
		m = receive(cx, match_ref, &ref, timeout_ms, NULL, false);
	}
	return m;
}
