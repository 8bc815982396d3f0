/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: spawn, send, an event actor's turn, and exit.
 *
 * Sending: look the slot up, compare generations (stale: a counted dead
 * letter), copy into a pooled block stamped with the target generation,
 * push.  The push that finds the mailbox idle schedules the actor; no
 * other path schedules it.
 *
 * Signals and the idle bit: signals go on the lane, then the sender tries
 * to clear the mailbox's idle bit (tr__mpsc_claim); if it clears it, it
 * schedules the actor.  The actor, after setting the idle bit at the end
 * of its turn, looks at the lane once more and reclaims the bit if a
 * signal came.  Both sides are seq_cst, so one of them sees the other.
 *
 * Exit: the generation moves on first (new sends become dead letters),
 * the lane is closed (new signals fail and their senders act as if the
 * actor were gone), the queue is drained.  A sender that checked the
 * generation just before may still push afterwards: the slot's mailbox
 * stays "scheduled", so that push schedules nothing, and the stale block
 * is dropped by generation when the slot's next actor (or stop) reads it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"

/* -------------------------------------------------------------- helpers */

static inline tr__pool *
cur_pool(tr_system *sys)
{
	tr__worker *w = tr__tls_worker;
	return w != NULL && w->w_sys == sys ? &w->w_pool : NULL;
}

static tr_msg *
msg_new(tr_system *sys, tr__pool *p, size_t len)
{
	return p != NULL ? tr__msg_new(p, len) : tr__msg_new_shared(sys->s_pool, len);
}

static void
msg_delete(tr_system *sys, tr__pool *p, tr_msg *m)
{
	if (p != NULL)
		tr__msg_delete(p, m);
	else
		tr__msg_delete_shared(sys->s_pool, m);
}

static inline void
count(_Atomic uint64_t *c)
{
	/* Owner-only counter: a plain load and store, relaxed for readers. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

void
tr__actor_schedule(tr_system *sys, tr__actor *a)
{
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys == sys)
		tr__sched_push(w, a);
	else
		tr__sched_inject(sys, a);
}

/* ---------------------------------------------------------------- spawn */

static int
slot_get(tr_system *sys, tr__worker *w, uint32_t *slot)
{
	if (w == NULL)
		return tr__table_take(&sys->s_table, slot, 1) == 1 ? 0 : TR_ELIMIT;
	if (w->w_nslots == 0) {
		w->w_nslots = tr__table_take(&sys->s_table, w->w_slots, TR__SLOT_BATCH);
		if (w->w_nslots == 0)
			return TR_ELIMIT;
	}
	*slot = w->w_slots[--w->w_nslots];
	return 0;
}

static void
slot_put(tr_system *sys, tr__worker *w, uint32_t slot)
{
	if (w == NULL) {
		tr__table_give(&sys->s_table, &slot, 1);
		return;
	}
	if (w->w_nslots == 2 * TR__SLOT_BATCH) {
		w->w_nslots -= TR__SLOT_BATCH;
		tr__table_give(&sys->s_table, &w->w_slots[w->w_nslots], TR__SLOT_BATCH);
	}
	w->w_slots[w->w_nslots++] = slot;
}

int
tr_spawn(tr_system *sys, tr_pid *pidp, tr_actor_fn fn, void *state,
    const tr_spawn_opts *opts)
{
	tr_state_free_fn sf = opts != NULL ? opts->state_free : NULL;
	int rv;
	if (sys == NULL || fn == NULL) {
		rv = TR_EINVAL;
		goto fail;
	}
	if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire)) {
		rv = TR_ESTOPPED;
		goto fail;
	}
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys != sys)
		w = NULL;
	uint32_t slot;
	if ((rv = slot_get(sys, w, &slot)) != 0)
		goto fail;
	tr__actor *a = tr__table_get(&sys->s_table, slot);
	a->a_fn = fn;
	a->a_state = state;
	a->a_free = sf;
	a->a_init = opts != NULL ? opts->init : NULL;
	a->a_flags = a->a_init != NULL ? TR__A_INIT : 0;
	a->a_waiters = NULL;
	a->a_link = NULL;
	tr__lane_reopen(&a->a_sig);
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed) + 1;
	/* release: the fields above are set before anyone can run a. */
	atomic_store_explicit(&a->a_gen, gen, memory_order_release);
	if (w != NULL)
		count(&w->w_spawned);
	else
		atomic_fetch_add_explicit(&sys->s_ext_spawned, 1, memory_order_relaxed);
	if (pidp != NULL)
		*pidp = (tr_pid){ 0, slot, gen };
	/* The mailbox is "scheduled" now.  Run a if it has an init, or
	 * leftovers for an older incarnation to drop; else make it idle. */
	if (a->a_init != NULL || !tr__mpsc_mark_empty(&a->a_mbox))
		tr__actor_schedule(sys, a);
	return 0;
fail:
	if (sf != NULL)
		sf(state);
	return rv;
}

/* ----------------------------------------------------------------- send */

static inline tr__actor *
lookup(tr_system *sys, tr_pid pid)
{
	tr__actor *a = tr__table_get(&sys->s_table, pid.slot);
	if (a == NULL ||
	    atomic_load_explicit(&a->a_gen, memory_order_relaxed) != pid.gen ||
	    !TR__GEN_ALIVE(pid.gen))
		return NULL;
	return a;
}

static inline int
check_send(tr_pid pid, const void *data, size_t len)
{
	if (len > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	if ((data == NULL && len > 0) || tr_pid_is_nil(pid))
		return TR_EINVAL;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	return 0;
}

/* deliver pushes m (filled) to a; schedules a if it was idle. */
static inline void
deliver(tr_system *sys, tr__worker *w, tr__actor *a, tr_msg *m)
{
	if (tr__mpsc_push(&a->a_mbox, &m->m_node)) {
		if (w != NULL)
			tr__sched_make_runnable(w, a);
		else
			tr__sched_inject(sys, a);
	}
}

int
tr_send(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data, size_t len)
{
	int rv = check_send(pid, data, len);
	if (rv != 0)
		return rv;
	tr__worker *w = cx->cx_w;
	tr_system *sys = w->w_sys;
	count(&w->w_sent);
	tr__actor *a = lookup(sys, pid);
	if (a == NULL) {
		count(&w->w_dead);
		return 0;
	}
	tr_msg *m = tr__msg_new(&w->w_pool, len);
	if (m == NULL)
		return TR_ENOMEM;
	m->m_from = (tr_pid){ 0, cx->cx_self->a_slot,
		atomic_load_explicit(&cx->cx_self->a_gen, memory_order_relaxed) };
	m->m_tag = tag;
	m->m_to_gen = pid.gen;
	m->m_flags = 0;
	m->m_ref = 0;
	if (len > 0)
		memcpy(m->m_data, data, len);
	deliver(sys, w, a, m);
	return 0;
}

int
tr_send_msg(tr_ctx *cx, tr_pid pid, tr_msg *m)
{
	if (m == NULL)
		return TR_EINVAL;
	int rv = check_send(pid, m->m_data, m->m_len);
	if (rv != 0)
		return rv;
	tr__worker *w = cx->cx_w;
	tr_system *sys = w->w_sys;
	count(&w->w_sent);
	m->m_from = (tr_pid){ 0, cx->cx_self->a_slot,
		atomic_load_explicit(&cx->cx_self->a_gen, memory_order_relaxed) };
	m->m_to_gen = pid.gen;
	tr__actor *a = lookup(sys, pid);
	if (a == NULL) {
		count(&w->w_dead);
		tr__msg_delete(&w->w_pool, m);
		return 0;
	}
	deliver(sys, w, a, m);
	return 0;
}

int
tr_system_send(tr_system *sys, tr_pid pid, uint32_t tag, const void *data,
    size_t len)
{
	if (sys == NULL)
		return TR_EINVAL;
	int rv = check_send(pid, data, len);
	if (rv != 0)
		return rv;
	if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire))
		return TR_ESTOPPED;
	atomic_fetch_add_explicit(&sys->s_ext_sent, 1, memory_order_relaxed);
	tr__actor *a = lookup(sys, pid);
	if (a == NULL) {
		atomic_fetch_add_explicit(&sys->s_ext_dead, 1, memory_order_relaxed);
		return 0;
	}
	/* A worker of sys calling this (outside an actor's code path) uses
	 * its own pool; any other thread the shared one. */
	tr__pool *p = cur_pool(sys);
	tr_msg *m = msg_new(sys, p, len);
	if (m == NULL)
		return TR_ENOMEM;
	m->m_from = TR_PID_NIL;
	m->m_tag = tag;
	m->m_to_gen = pid.gen;
	m->m_flags = 0;
	m->m_ref = 0;
	if (len > 0)
		memcpy(m->m_data, data, len);
	if (tr__mpsc_push(&a->a_mbox, &m->m_node))
		tr__actor_schedule(sys, a);
	return 0;
}

bool
tr_is_alive(tr_system *sys, tr_pid pid)
{
	return sys != NULL && pid.node == 0 && !tr_pid_is_nil(pid) &&
	    lookup(sys, pid) != NULL;
}

tr_pid
tr_self(tr_ctx *cx)
{
	tr__actor *a = cx->cx_self;
	return (tr_pid){ 0, a->a_slot,
		atomic_load_explicit(&a->a_gen, memory_order_relaxed) };
}

tr_system *
tr_ctx_system(tr_ctx *cx)
{
	return cx->cx_w->w_sys;
}

int
tr_exit(tr_ctx *cx, tr_reason r)
{
	cx->cx_exit_set = true;
	cx->cx_exit_kind = r.kind;
	tr__reason_format(cx->cx_exit_text, sizeof(cx->cx_exit_text), r);
	return TR_STOP;
}

tr_msg *
tr_msg_alloc(tr_ctx *cx, uint32_t tag, size_t len)
{
	if (len > TR_MSG_MAX_LEN)
		return NULL;
	tr_msg *m = tr__msg_new(&cx->cx_w->w_pool, len);
	if (m == NULL)
		return NULL;
	m->m_from = TR_PID_NIL;
	m->m_tag = tag;
	m->m_to_gen = 0;
	m->m_flags = 0;
	m->m_ref = 0;
	return m;
}

void
tr_msg_free(tr_msg *m)
{
	if (m == NULL)
		return;
	tr__worker *w = tr__tls_worker;
	if (w != NULL)
		tr__msg_delete(&w->w_pool, m);
	else if (m->m_class == TR__POOL_BIG)
		free(m); /* cannot happen for pooled blocks: see tr_msg_alloc */
}

int
tr_send_int(tr_ctx *cx, tr_pid pid, uint32_t tag, int64_t v)
{
	unsigned char buf[TR_PACK_INT_MAX];
	return tr_send(cx, pid, tag, buf, tr_pack_int(buf, v));
}

int
tr_system_send_int(tr_system *sys, tr_pid pid, uint32_t tag, int64_t v)
{
	unsigned char buf[TR_PACK_INT_MAX];
	return tr_system_send(sys, pid, tag, buf, tr_pack_int(buf, v));
}

int
tr_send_sbuffer(tr_ctx *cx, tr_pid pid, uint32_t tag, const msgpack_sbuffer *sb)
{
	if (sb == NULL)
		return TR_EINVAL;
	return tr_send(cx, pid, tag, sb->data, sb->size);
}

/* -------------------------------------------------------------- waiters */

void
tr__waiter_rele(tr__waiter *wt)
{
	if (atomic_fetch_sub_explicit(&wt->wt_refs, 1, memory_order_acq_rel) == 1)
		free(wt);
}

void
tr__waiter_complete(tr__waiter *wt, tr_reason_kind kind, const char *text)
{
	wt->wt_info.kind = kind;
	snprintf(wt->wt_info.text, sizeof(wt->wt_info.text), "%s",
	    text != NULL ? text : tr_reason_kind_name(kind));
	/* release: info is written before the waiter sees done. */
	atomic_store_explicit(&wt->wt_done, 1, memory_order_release);
	tr__park_wake(&wt->wt_done, 1);
	tr__waiter_rele(wt);
}

/* ---------------------------------------------------------------- exit */

/* handle_signal acts on one signal for a live actor a of generation gen. */
static void
handle_signal(tr__actor *a, uint32_t gen, tr__sig *s)
{
	switch (s->s_kind) {
	case TR__SIG_WAIT: {
		tr__waiter *wt = (tr__waiter *) s;
		if (s->s_to_gen != gen) {
			tr__waiter_complete(wt, TR_REASON_NOPROC, NULL);
		} else {
			wt->wt_next = a->a_waiters;
			a->a_waiters = wt;
		}
		break;
	}
	default:
		break;
	}
}

/* fail_signal answers a signal whose actor is gone (or going, with kind). */
static void
fail_signal(tr__sig *s, tr_reason_kind kind, const char *text)
{
	switch (s->s_kind) {
	case TR__SIG_WAIT:
		tr__waiter_complete((tr__waiter *) s, kind, text);
		break;
	default:
		break;
	}
}

/* drain_mailbox frees every message queued; returns how many. */
static uint64_t
drain_mailbox(tr_system *sys, tr__pool *p, tr__actor *a)
{
	uint64_t n = 0;
	tr__node *nd;
	while ((nd = tr__mpsc_pop(&a->a_mbox)) != NULL) {
		msg_delete(sys, p, (tr_msg *) nd);
		n++;
	}
	return n;
}

/*
 * finish ends actor a with the given reason: on its worker w (p its pool),
 * or at stop (w NULL).
 */
static void
finish(tr_system *sys, tr__worker *w, tr__pool *p, tr__actor *a,
    tr_reason_kind kind, const char *text)
{
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	/* release: pairs with nothing in particular; senders read a_gen
	 * relaxed and the queue protocol copes with late pushes. */
	atomic_store_explicit(&a->a_gen, gen + 1, memory_order_release);
	tr__node *sigs = tr__lane_take(&a->a_sig, true);
	uint64_t dead = drain_mailbox(sys, p, a);
	if (w != NULL)
		atomic_store_explicit(&w->w_dead,
		    atomic_load_explicit(&w->w_dead, memory_order_relaxed) + dead,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&sys->s_ext_dead, dead, memory_order_relaxed);

	if (kind == TR_REASON_ERROR) {
		char pb[TR_PID_FMT_MAX];
		tr__log(sys, TR_LOG_ERROR, "actor %s exited: %s",
		    tr_pid_format((tr_pid){ 0, a->a_slot, gen }, pb, sizeof(pb)),
		    text);
	}
	if (a->a_free != NULL)
		a->a_free(a->a_state);
	a->a_state = NULL;
	a->a_free = NULL;

	/* Waiters learn of the exit once the destructor has run. */
	while (sigs != NULL) {
		tr__node *nx = atomic_load_explicit(&sigs->next, memory_order_relaxed);
		tr__sig *s = (tr__sig *) sigs;
		if (s->s_to_gen == gen)
			fail_signal(s, kind, text);
		else
			fail_signal(s, TR_REASON_NOPROC, NULL);
		sigs = nx;
	}
	while (a->a_waiters != NULL) {
		tr__waiter *wt = a->a_waiters;
		a->a_waiters = wt->wt_next;
		tr__waiter_complete(wt, kind, text);
	}
	if (w != NULL) {
		count(&w->w_exited);
		slot_put(sys, w, a->a_slot);
	} else {
		atomic_fetch_add_explicit(&sys->s_stop_exited, 1, memory_order_relaxed);
	}
}

/* exit_after reads the handler's result r and ends a accordingly. */
static void
exit_after(tr__worker *w, tr__actor *a, int r)
{
	tr_ctx *cx = &w->w_cx;
	tr_reason_kind kind = TR_REASON_NORMAL;
	char buf[TR_REASON_TEXT_MAX];
	const char *text = "normal";
	if (r == TR_STOP && cx->cx_exit_set) {
		kind = cx->cx_exit_kind;
		text = cx->cx_exit_text;
	} else if (r < 0) {
		kind = TR_REASON_ERROR;
		snprintf(buf, sizeof(buf), "handler returned %s (%s)",
		    tr_err_name(r), tr_strerror(r));
		text = buf;
	} else if (r != TR_STOP) {
		kind = TR_REASON_ERROR;
		snprintf(buf, sizeof(buf), "handler returned %d", r);
		text = buf;
	}
	cx->cx_exit_set = false;
	finish(w->w_sys, w, &w->w_pool, a, kind, text);
}

/* ----------------------------------------------------------------- turn */

static void
run_signals(tr__actor *a, uint32_t gen)
{
	tr__node *n = tr__lane_take(&a->a_sig, false);
	while (n != NULL) {
		tr__node *nx = atomic_load_explicit(&n->next, memory_order_relaxed);
		handle_signal(a, gen, (tr__sig *) n);
		n = nx;
	}
}

void
tr__actor_run(tr__worker *w, tr__actor *a)
{
	tr_ctx *cx = &w->w_cx;
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	cx->cx_self = a;
	if (atomic_load_explicit(&a->a_sig.l_top, memory_order_relaxed) != 0)
		run_signals(a, gen);
	if (!TR__GEN_ALIVE(gen)) {
		/* A free slot scheduled to drop blocks left for an older
		 * incarnation (see spawn): cannot happen while free, since a
		 * free slot's mailbox is never idle.  Defensive. */
		return;
	}
	if (a->a_flags & TR__A_INIT) {
		a->a_flags &= ~TR__A_INIT;
		int r = a->a_init(cx, a->a_state);
		if (r != TR_CONTINUE) {
			exit_after(w, a, r);
			return;
		}
	}
	unsigned budget = w->w_sys->s_cfg.budget;
	unsigned n = 0;
	while (n < budget) {
		tr__node *nd = tr__mpsc_pop(&a->a_mbox);
		if (nd == NULL)
			break;
		tr_msg *m = (tr_msg *) nd;
		n++;
		if (m->m_to_gen != gen) {
			count(&w->w_dead);
			tr__msg_delete(&w->w_pool, m);
			continue;
		}
		int r = a->a_fn(cx, m, a->a_state);
		tr__msg_delete(&w->w_pool, m);
		if (r != TR_CONTINUE) {
			exit_after(w, a, r);
			return;
		}
	}
	if (n < budget && tr__mpsc_mark_empty(&a->a_mbox)) {
		/* Idle now, unless a signal slipped in (see design notes). */
		if (!tr__lane_pending(&a->a_sig) || !tr__mpsc_claim(&a->a_mbox))
			return;
	}
	tr__sched_push(w, a);
}

/* ------------------------------------------------------------ teardown */

void
tr__actor_teardown(tr_system *sys)
{
	tr__table *t = &sys->s_table;
	uint32_t nchunks = atomic_load(&t->t_nchunks);
	tr__pool *p = &sys->s_workers[0].w_pool;
	for (uint32_t c = 0; c < nchunks; c++) {
		tr__actor *chunk = atomic_load(&t->t_chunks[c]);
		for (uint32_t i = 0; i < TR__CHUNK_SIZE; i++) {
			tr__actor *a = &chunk[i];
			uint32_t gen = atomic_load(&a->a_gen);
			if (TR__GEN_ALIVE(gen)) {
				run_signals(a, gen);
				finish(sys, NULL, p, a, TR_REASON_SHUTDOWN, "shutdown");
			} else {
				tr__node *n = tr__lane_take(&a->a_sig, true);
				while (n != NULL) {
					tr__node *nx = atomic_load(&n->next);
					fail_signal((tr__sig *) n, TR_REASON_NOPROC, NULL);
					n = nx;
				}
				uint64_t d = drain_mailbox(sys, p, a);
				atomic_fetch_add(&sys->s_ext_dead, d);
			}
		}
	}
}
