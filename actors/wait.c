/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * tr_wait: a plain thread waits for an actor's exit.  The thread sends the
 * actor a WAIT signal carrying a waiter (two references: the thread's and
 * the actor's); the actor keeps it until it exits, then fills in the
 * reason and wakes the thread.  A closed lane means the actor is gone.
 */

#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"
#include "actors/ctx.h"

static void
noproc(tr_exit_info *info)
{
	if (info != NULL) {
		info->kind = TR_REASON_NOPROC;
		strcpy(info->text, "noproc");
	}
}

int
tr_wait(tr_system *sys, tr_pid pid, int64_t timeout_ms, tr_exit_info *info)
{
	if (sys == NULL || tr_pid_is_nil(pid))
		return TR_EINVAL;
	if (tr__tls_worker != NULL && tr__tls_worker->w_sys == sys)
		return TR_ECONTEXT;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	tr__waiter *wt;
	tr__mapent e;
	pthread_mutex_lock(&sys->s_ext_mx);
	bool kept = tr__map_del(&sys->s_waits, tr__pid_key(pid), &e);
	pthread_mutex_unlock(&sys->s_ext_mx);
	if (kept) {
		/* Spawned with TR_SPAWN_WAIT: its record holds our reference. */
		wt = e.me_ptr;
		goto wait;
	}
	/* No generation check: the lane says whether the actor is there
	 * (it closes after the destructor ran); a later incarnation of the
	 * slot answers noproc for the one we name. */
	tr__actor *a = tr__table_get(&sys->s_table, pid.slot);
	if (a == NULL || !TR__GEN_ALIVE(pid.gen)) {
		noproc(info);
		return 0;
	}
	wt = calloc(1, sizeof(*wt));
	tr_msg *s = wt != NULL ? tr__msg_new_shared(sys->s_pool, sizeof(wt))
	                       : NULL;
	if (s == NULL) {
		free(wt);
		return TR_ENOMEM;
	}
	atomic_init(&wt->wt_refs, 2);
	atomic_init(&wt->wt_done, 0);
	s->m_from = TR_PID_NIL;
	s->m_tag = TR__SIG_WAIT;
	s->m_to_gen = pid.gen;
	s->m_flags = 0;
	s->m_ref = 0;
	memcpy(s->m_data, &wt, sizeof(wt));
	if (!tr__lane_push(&a->a_sig, &s->m_node)) {
		tr__msg_delete_shared(sys->s_pool, s);
		free(wt);
		noproc(info);
		return 0;
	}
	if (tr__mpsc_claim(&a->a_mbox))
		tr__actor_schedule(sys, a);
wait:;
	if (timeout_ms > ((int64_t) 1 << 40))
		timeout_ms = -1; /* beyond any reasonable wait: forever */
	int64_t deadline = timeout_ms < 0 ? -1
	                                  : tr__now_ns() + timeout_ms * 1000000;
	int rv = 0;
	while (atomic_load_explicit(&wt->wt_done, memory_order_acquire) == 0) {
		int64_t left = -1;
		if (deadline >= 0) {
			left = deadline - tr__now_ns();
			if (left <= 0) {
				rv = TR_ETIMEDOUT;
				break;
			}
		}
		tr__park_wait(&wt->wt_done, 0, left);
	}
	if (rv == 0 && info != NULL)
		*info = wt->wt_info;
	if (rv != 0 && kept) {
		/* Keep the record for a later tr_wait. */
		pthread_mutex_lock(&sys->s_ext_mx);
		tr__mapent *ne = tr__map_put(&sys->s_waits, tr__pid_key(pid),
		    NULL);
		if (ne != NULL) {
			ne->me_ptr = wt;
			wt = NULL;
		}
		pthread_mutex_unlock(&sys->s_ext_mx);
	}
	if (wt != NULL)
		tr__waiter_rele(wt);
	return rv;
}

/* ------------------------------------------------------ actor info */

/*
 * tr_actor_info_get: what only the actor may read (its queues, links,
 * monitors) it reads itself, answering an INFO signal between two turns
 * (as ERTS answers process_info with a signal); the requester waits for
 * the answer.  Status, kind and name are read from outside.  The
 * request has two references (requester, actor): the last to drop it
 * frees it, so a requester that timed out just leaves.
 */
typedef struct tr__inforeq {
	_Atomic uint32_t ir_done; /* futex word: 1 when ir_info is filled */
	_Atomic int ir_refs;
	bool ir_alive; /* the actor answered (else it was gone) */
	tr_actor_info ir_info;
} tr__inforeq;

static void
inforeq_rele(tr__inforeq *r)
{
	/* acq_rel: the last one sees the other's writes before freeing. */
	if (atomic_fetch_sub_explicit(&r->ir_refs, 1, memory_order_acq_rel) ==
	    1)
		free(r);
}

/* fill writes a's own details into in; a's owner thread only. */
static void
fill(tr__actor *a, tr_actor_info *in)
{
	in->process = (a->a_flags & TR__A_PROCESS) != 0;
	in->trap_exit = (a->a_flags & TR__A_TRAP) != 0;
	uint64_t n = 0;
	for (tr_msg *m = a->a_in_head; m != NULL; m = tr__inner_next(m))
		n++;
	/* The outer queue from its consumer's end: every node from q_tail
	 * on but the stub; a push under way (not linked yet) is missed. */
	tr__mpsc *q = &a->a_mbox;
	for (tr__node *nd = q->q_tail; nd != NULL;
	     /* acquire: pairs with the release link in tr__mpsc_push. */
	     nd = atomic_load_explicit(&nd->next, memory_order_acquire))
		if (nd != &q->q_stub)
			n++;
	in->message_queue_len = n;
	tr__ext *x = a->a_ext;
	if (x != NULL) {
		in->links = x->x_links.m_len + x->x_links.m_has_zero;
		in->monitors = x->x_mon_out.m_len + x->x_mon_out.m_has_zero;
		in->monitored_by = x->x_mon_in.m_len + x->x_mon_in.m_has_zero;
	}
	if (in->process && a->a_proc->p_stack != NULL)
		in->stack_size = (size_t) (a->a_proc->p_stack->hi -
		    a->a_proc->p_stack->lo);
	in->detailed = true;
}

void
tr__info_answer(tr__actor *a, tr_msg *s, bool alive)
{
	tr__inforeq *r;
	memcpy(&r, s->m_data, sizeof(r));
	if (alive)
		fill(a, &r->ir_info);
	r->ir_alive = alive;
	/* release: ir_info is written before the requester sees done. */
	atomic_store_explicit(&r->ir_done, 1, memory_order_release);
	tr__park_wake(&r->ir_done, 1);
	inforeq_rele(r);
}

int
tr_actor_info_get(tr_system *sys, tr_pid pid, int64_t timeout_ms,
    tr_actor_info *info)
{
	if (sys == NULL || info == NULL || tr_pid_is_nil(pid))
		return TR_EINVAL;
	memset(info, 0, sizeof(*info));
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	tr__actor *a = tr__lookup(sys, pid);
	if (a == NULL)
		return TR_ENOPROC;
	/* Outside view, before our own signal schedules it. */
	info->status = tr__mpsc_is_idle(&a->a_mbox) ? TR_STATUS_WAITING
	                                            : TR_STATUS_RUNNABLE;
	info->process = (atomic_load_explicit(&a->a_xflags,
	                     memory_order_relaxed) &
	                    TR__X_PROCESS) != 0;
	(void) tr__names_of_pid(sys, pid, info->name);
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys == sys) {
		/* An actor: itself it may read; another it must not wait for
		 * (that could block the worker the other needs). */
		if (w->w_current == a) {
			fill(a, info);
			info->status = TR_STATUS_RUNNING;
		}
		return tr__lookup(sys, pid) != NULL ? 0 : TR_ENOPROC;
	}
	if (timeout_ms == 0)
		return tr__lookup(sys, pid) != NULL ? 0 : TR_ENOPROC;
	tr__inforeq *r = calloc(1, sizeof(*r));
	tr_msg *s = r != NULL ? tr__msg_new_shared(sys->s_pool, sizeof(r))
	                      : NULL;
	if (s == NULL) {
		free(r);
		return TR_ENOMEM;
	}
	atomic_init(&r->ir_refs, 2);
	atomic_init(&r->ir_done, 0);
	s->m_from = TR_PID_NIL;
	s->m_tag = TR__SIG_INFO;
	s->m_to_gen = pid.gen;
	s->m_flags = 0;
	s->m_ref = 0;
	memcpy(s->m_data, &r, sizeof(r));
	if (!tr__lane_push(&a->a_sig, &s->m_node)) {
		tr__msg_delete_shared(sys->s_pool, s);
		free(r);
		return TR_ENOPROC;
	}
	if (tr__mpsc_claim(&a->a_mbox))
		tr__actor_schedule(sys, a);
	if (timeout_ms > ((int64_t) 1 << 40))
		timeout_ms = -1;
	int64_t deadline = timeout_ms < 0 ? -1
	                                  : tr__now_ns() + timeout_ms * 1000000;
	int rv = 0;
	while (atomic_load_explicit(&r->ir_done, memory_order_acquire) == 0) {
		int64_t left = -1;
		if (deadline >= 0) {
			left = deadline - tr__now_ns();
			if (left <= 0) {
				rv = TR_ETIMEDOUT;
				break;
			}
		}
		tr__park_wait(&r->ir_done, 0, left);
	}
	if (rv == TR_ETIMEDOUT) {
		/* Busy in one long turn: it did not get to answer. */
		if (info->status == TR_STATUS_RUNNABLE)
			info->status = TR_STATUS_RUNNING;
		rv = 0;
	} else if (!r->ir_alive) {
		memset(info, 0, sizeof(*info));
		rv = TR_ENOPROC;
	} else {
		tr_actor_info_status st = info->status;
		char name[TR_NAME_MAX + 1];
		memcpy(name, info->name, sizeof(name));
		*info = r->ir_info;
		info->status = st;
		memcpy(info->name, name, sizeof(name));
	}
	inforeq_rele(r);
	return rv;
}
