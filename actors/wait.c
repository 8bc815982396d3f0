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
