/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Request/reply.  A call is a monitor of the callee, a request carrying a
 * fresh reference, and (with a timeout) a timer that posts CALL_TIMEOUT to
 * the caller, all three under the same reference, recorded in x_calls.
 * Whichever of reply, DOWN and timeout reaches the caller first ends the
 * call (signal.c, end_call): the other two are dropped when met, so the
 * caller sees exactly one, and a late reply never stays in its mailbox.
 *
 * tr_call is tr_call_async plus a receive on the reference, which starts
 * after the mark tr_make_ref left (no rescan of a long mailbox).  A plain
 * thread's tr_system_call runs the call from a small proxy event actor
 * and waits on a futex.
 */

#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"

int
tr_call_async(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data,
    size_t len, int64_t timeout_ms, uint64_t *refp)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (refp == NULL || tr_pid_is_nil(pid) || (data == NULL && len > 0) ||
	    tag >= TR_TAG_SYSTEM)
		return TR_EINVAL;
	if (len > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	tr__worker *w = cx->cx_w;
	tr_system *sys = w->w_sys;
	tr__actor *a = cx->cx_self;
	tr_pid self = tr__pid_of(a);
	tr__ext *x = tr__ext_get(a);
	if (x == NULL)
		return TR_ENOMEM;
	uint64_t ref = tr_make_ref(cx);
	tr__mapent *mon = tr__map_put(&x->x_mon_out, ref, NULL);
	if (mon == NULL)
		return TR_ENOMEM;
	mon->me_pid = pid;
	tr__mapent *c = tr__map_put(&x->x_calls, ref, NULL);
	if (c == NULL) {
		tr__map_del(&x->x_mon_out, ref, NULL);
		return TR_ENOMEM;
	}
	tr_timer timer = { NULL, 0 };
	if (timeout_ms >= 0) {
		tr_msg *t = tr__msg_new(&w->w_pool, 0);
		if (t == NULL)
			goto nomem;
		t->m_from = pid;
		t->m_tag = TR_TAG_CALL_TIMEOUT;
		t->m_flags = 0;
		t->m_ref = ref;
		if (tr__timer_start(sys, w, self, timeout_ms, t, &timer) != 0) {
			tr__msg_delete(&w->w_pool, t);
			goto nomem;
		}
		c = tr__map_get(&x->x_calls, ref);
		c->me_ptr = timer.t_p;
		c->me_val = timer.t_gen;
	}
	/* Monitor first: if pid is gone, its DOWN (noproc) ends the call. */
	int rv = tr__signal(sys, &w->w_pool, self, pid, TR__SIG_MONITOR, ref);
	if (rv == TR_ENOMEM)
		goto undo;
	if (tr__post(sys, &w->w_pool, self, pid, tag, 0, ref, data, len) != 0)
		goto undo;
	*refp = ref;
	return 0;
undo:
	if (timer.t_p != NULL)
		(void) tr_cancel_timer(sys, timer);
	if (rv == 0)
		(void) tr__signal(sys, &w->w_pool, self, pid, TR__SIG_DEMONITOR,
		    ref);
nomem:
	tr__map_del(&x->x_calls, ref, NULL);
	tr__map_del(&x->x_mon_out, ref, NULL);
	return TR_ENOMEM;
}

int
tr_call(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data, size_t len,
    int64_t timeout_ms, tr_msg **reply)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	if (cx == NULL || cx->cx_proc == NULL)
		return TR_ECONTEXT;
	/* Its own request would answer it (same reference) and nobody could
	 * reply: refuse at once, as gen_server:call(self(), ...) does. */
	if (tr_pid_eq(pid, tr__pid_of(cx->cx_self)))
		return TR_EDEADLK;
	uint64_t ref;
	int rv = tr_call_async(cx, pid, tag, data, len, timeout_ms, &ref);
	if (rv != 0)
		return rv;
	tr_msg *m = tr_receive_ref(cx, ref, TR_INFINITY);
	if (m->m_flags & TR_MSG_REPLY) {
		*reply = m;
		return 0;
	}
	if (m->m_tag == TR_TAG_DOWN) {
		*reply = m;
		return TR_EDOWN;
	}
	tr_msg_free(m); /* CALL_TIMEOUT */
	return TR_ETIMEDOUT;
}

int
tr_reply_to(tr_ctx *cx, tr_pid to, uint64_t ref, uint32_t tag, const void *data,
    size_t len)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (ref == 0 || tr_pid_is_nil(to) || (data == NULL && len > 0) ||
	    tag >= TR_TAG_SYSTEM)
		return TR_EINVAL;
	if (len > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	if (to.node != 0)
		return TR_ENOTLOCAL;
	return tr__post(cx->cx_w->w_sys, &cx->cx_w->w_pool,
	    tr__pid_of(cx->cx_self), to, tag, TR_MSG_REPLY, ref, data, len);
}

int
tr_reply(tr_ctx *cx, const tr_msg *req, uint32_t tag, const void *data,
    size_t len)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (req == NULL)
		return TR_EINVAL;
	return tr_reply_to(cx, req->m_from, req->m_ref, tag, data, len);
}

/* ------------------------------------------------- plain-thread calls */

typedef struct call_box {
	_Atomic uint32_t cb_done;
	_Atomic int cb_refs;
	int cb_rv;
	tr_msg *cb_reply;
	tr_pid cb_to;
	uint32_t cb_tag;
	int64_t cb_timeout;
	uint64_t cb_ref;
	size_t cb_len;
	unsigned char cb_data[];
} call_box;

static void
box_rele(call_box *b)
{
	if (atomic_fetch_sub_explicit(&b->cb_refs, 1, memory_order_acq_rel) ==
	    1) {
		free(b->cb_reply);
		free(b);
	}
}

static void
box_done(call_box *b, int rv, tr_msg *reply)
{
	b->cb_rv = rv;
	b->cb_reply = reply;
	/* release: the result is written before the thread sees done. */
	atomic_store_explicit(&b->cb_done, 1, memory_order_release);
	tr__park_wake(&b->cb_done, 1);
}

static int
proxy_init(tr_ctx *cx, void *state)
{
	call_box *b = state;
	int rv = tr_call_async(cx, b->cb_to, b->cb_tag, b->cb_data, b->cb_len,
	    b->cb_timeout, &b->cb_ref);
	if (rv != 0) {
		box_done(b, rv, NULL);
		return TR_STOP;
	}
	return TR_CONTINUE;
}

static int
proxy_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	call_box *b = state;
	if (m->m_ref != b->cb_ref)
		return TR_CONTINUE;
	int rv = TR_ETIMEDOUT;
	tr_msg *copy = NULL;
	if ((m->m_flags & TR_MSG_REPLY) || m->m_tag == TR_TAG_DOWN) {
		/* A plain thread has no pool: hand it a malloc'd copy. */
		copy = malloc(sizeof(tr_msg) + m->m_len);
		if (copy == NULL) {
			rv = TR_ENOMEM;
		} else {
			memcpy(copy, m, sizeof(tr_msg) + m->m_len);
			copy->m_class = TR__POOL_BIG;
			atomic_init(&copy->m_node.next, NULL);
			rv = m->m_tag == TR_TAG_DOWN ? TR_EDOWN : 0;
		}
	}
	box_done(b, rv, copy);
	return TR_STOP;
}

static void
proxy_free(void *state)
{
	call_box *b = state;
	if (atomic_load_explicit(&b->cb_done, memory_order_acquire) == 0)
		box_done(b, TR_ESTOPPED, NULL); /* the system is stopping */
	box_rele(b);
}

int
tr_system_call(tr_system *sys, tr_pid pid, uint32_t tag, const void *data,
    size_t len, int64_t timeout_ms, tr_msg **reply)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	if (sys == NULL || (data == NULL && len > 0))
		return TR_EINVAL;
	if (tr__tls_worker != NULL && tr__tls_worker->w_sys == sys)
		return TR_ECONTEXT;
	if (len > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	call_box *b = calloc(1, sizeof(*b) + len);
	if (b == NULL)
		return TR_ENOMEM;
	atomic_init(&b->cb_refs, 2);
	b->cb_to = pid;
	b->cb_tag = tag;
	b->cb_timeout = timeout_ms;
	b->cb_len = len;
	if (len > 0)
		memcpy(b->cb_data, data, len);
	tr_spawn_opts o = { .init = proxy_init, .state_free = proxy_free };
	int rv = tr_spawn(sys, NULL, proxy_fn, b, &o);
	if (rv != 0) {
		/* state_free ran: it completed the box and dropped one ref. */
		box_rele(b);
		return rv;
	}
	while (atomic_load_explicit(&b->cb_done, memory_order_acquire) == 0)
		tr__park_wait(&b->cb_done, 0, -1);
	rv = b->cb_rv;
	*reply = b->cb_reply;
	b->cb_reply = NULL;
	box_rele(b);
	return rv;
}
