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
	tr__actor *a = tr__table_get(&sys->s_table, pid.slot);
	if (a == NULL || atomic_load(&a->a_gen) != pid.gen || !TR__GEN_ALIVE(pid.gen)) {
		noproc(info);
		return 0;
	}
	tr__waiter *wt = calloc(1, sizeof(*wt));
	if (wt == NULL)
		return TR_ENOMEM;
	wt->wt_sig.s_kind = TR__SIG_WAIT;
	wt->wt_sig.s_to_gen = pid.gen;
	atomic_init(&wt->wt_refs, 2);
	atomic_init(&wt->wt_done, 0);
	if (!tr__lane_push(&a->a_sig, &wt->wt_sig.s_node)) {
		free(wt);
		noproc(info);
		return 0;
	}
	if (tr__mpsc_claim(&a->a_mbox))
		tr__actor_schedule(sys, a);

	int64_t deadline = timeout_ms < 0 ? -1 : tr__now_ns() + timeout_ms * 1000000;
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
	tr__waiter_rele(wt);
	return rv;
}
