/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: links, monitors and exit signals (Erlang's semantics).
 *
 * Link, unlink, monitor, demonitor and wait requests travel on the target's
 * signal lane: they need an answer when the target is gone, and a closed
 * lane tells the sender so at once (it then answers for the target:
 * an exit signal or a DOWN with reason noproc).  Each side changes only
 * its own link and monitor sets; the other learns by signal.
 *
 * Exit signals and DOWN messages travel in the mailbox, in order with the
 * sender's earlier messages.  An exit signal also raises the target's
 * URGENT flag, so that at its next turn (or receive) the target moves its
 * whole mailbox to its inner queue, acting on exit signals as it meets
 * them: one that kills it does so before the messages queued ahead of it
 * are handled, as in BEAM, and one it traps becomes an EXIT message in
 * its place in the order.
 *
 * Replies, DOWNs and call timeouts are delivered only while their
 * reference is live (a call in x_calls, a monitor in x_mon_out): a late
 * reply, or a DOWN after tr_demonitor, is dropped where it is met.
 */

#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"

/* ------------------------------------------------------------ ext */

tr__ext *
tr__ext_get(tr__actor *a)
{
	if (a->a_ext == NULL)
		a->a_ext = calloc(1, sizeof(tr__ext));
	return a->a_ext;
}

void
tr__ext_free(tr__actor *a)
{
	tr__ext *x = a->a_ext;
	if (x == NULL)
		return;
	tr__map_fini(&x->x_links);
	tr__map_fini(&x->x_mon_out);
	tr__map_fini(&x->x_mon_in);
	tr__map_fini(&x->x_calls);
	free(x);
	a->a_ext = NULL;
}

uint64_t
tr__new_ref(tr_system *sys)
{
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys == sys)
		return ((uint64_t) (w->w_index + 1) << 48) | ++w->w_refs;
	return atomic_fetch_add_explicit(&sys->s_ext_refs, 1,
	           memory_order_relaxed) +
	    1;
}

/* -------------------------------------------------------------- reasons */

/* A reason payload is the msgpack array [kind, text]. */
size_t
tr__reason_pack(void *buf, tr_reason_kind kind, const char *text)
{
	unsigned char *p = buf;
	size_t n = text != NULL ? strlen(text) : 0;
	if (n > TR_REASON_TEXT_MAX - 1)
		n = TR_REASON_TEXT_MAX - 1;
	p[0] = 0x92;
	p[1] = (unsigned char) kind; /* positive fixint */
	size_t h;
	if (n < 32) {
		p[2] = (unsigned char) (0xa0 | n);
		h = 3;
	} else {
		p[2] = 0xd9;
		p[3] = (unsigned char) n;
		h = 4;
	}
	if (n > 0)
		memcpy(p + h, text, n);
	return h + n;
}

static int
reason_unpack(const tr_msg *m, tr_reason_kind *kind, char *text, size_t tlen)
{
	const unsigned char *p = m->m_data;
	size_t len = m->m_len, h, n;
	if (len < 3 || p[0] != 0x92 || p[1] > TR_REASON_ERROR)
		return TR_EBADMSG;
	if ((p[2] & 0xe0) == 0xa0) {
		n = p[2] & 0x1f;
		h = 3;
	} else if (p[2] == 0xd9 && len >= 4) {
		n = p[3];
		h = 4;
	} else {
		return TR_EBADMSG;
	}
	if (h + n != len)
		return TR_EBADMSG;
	*kind = (tr_reason_kind) p[1];
	if (n >= tlen)
		n = tlen - 1;
	memcpy(text, p + h, n);
	text[n] = '\0';
	return 0;
}

int
tr_msg_reason(const tr_msg *m, tr_exit_info *info)
{
	if (m == NULL || info == NULL ||
	    (m->m_tag != TR_TAG_EXIT && m->m_tag != TR_TAG_DOWN))
		return TR_EINVAL;
	return reason_unpack(m, &info->kind, info->text, sizeof(info->text));
}

/* ------------------------------------------------------------ signals */

/* Links and monitors of a dead actor fire at once (see actors_int.h). */
void
tr__noproc_answer(tr_system *sys, tr__pool *p, tr_pid gone, tr_pid from,
    uint32_t kind, uint64_t ref)
{
	unsigned char why[TR__REASON_BUF];
	size_t n = tr__reason_pack(why, TR_REASON_NOPROC, "noproc");
	if (kind == TR__SIG_LINK)
		(void) tr__post(sys, p, gone, from, TR__TAG_XSIG,
		    TR__MSG_LINKED, 0, why, n);
	else if (kind == TR__SIG_MONITOR)
		(void) tr__post(sys, p, gone, from, TR_TAG_DOWN, 0, ref, why,
		    n);
}

int
tr__signal(tr_system *sys, tr__pool *p, tr_pid from, tr_pid to, uint32_t kind,
    uint64_t ref)
{
	tr__actor *a = tr__lookup(sys, to);
	if (a == NULL) {
		tr__noproc_answer(sys, p, to, from, kind, ref);
		return TR_ENOPROC;
	}
	/* From here the slot may change hands before the push: the request
	 * names its incarnation (m_to_gen) and is answered noproc by any
	 * other (tr__run_lane, answer_lane in actor.c). */
	tr__hook_at(TR__HOOK_SIGNAL, a);
	tr_msg *m = tr__msg_new_any(sys, p, 0);
	if (m == NULL)
		return TR_ENOMEM;
	m->m_from = from;
	m->m_tag = kind;
	m->m_to_gen = to.gen;
	m->m_flags = 0;
	m->m_ref = ref;
	if (!tr__lane_push(&a->a_sig, &m->m_node)) {
		tr__msg_delete_any(sys, p, m);
		tr__noproc_answer(sys, p, to, from, kind, ref);
		return TR_ENOPROC;
	}
	if (tr__mpsc_claim(&a->a_mbox))
		tr__actor_schedule(sys, a);
	return 0;
}

void
tr__run_lane(tr__worker *w, tr__actor *a)
{
	tr_system *sys = w->w_sys;
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	tr__node *n = tr__lane_take(&a->a_sig, false);
	while (n != NULL) {
		tr__node *nx = atomic_load_explicit(&n->next,
		    memory_order_relaxed);
		tr_msg *s = (tr_msg *) n;
		tr_pid gone = { 0, a->a_slot, s->m_to_gen };
		tr__ext *x = s->m_to_gen == gen ? tr__ext_get(a) : NULL;
		tr__mapent *e;
		switch (s->m_tag) {
		case TR__SIG_WAIT: {
			tr__waiter *wt;
			memcpy(&wt, s->m_data, sizeof(wt));
			if (x != NULL) {
				wt->wt_next = x->x_waiters;
				x->x_waiters = wt;
			} else {
				tr__waiter_complete(wt,
				    s->m_to_gen == gen ? TR_REASON_ERROR
				                       : TR_REASON_NOPROC,
				    s->m_to_gen == gen ? "out of memory"
				                       : NULL);
			}
			break;
		}
		case TR__SIG_LINK:
			if (x != NULL &&
			    (e = tr__map_put(&x->x_links,
			         tr__pid_key(s->m_from), NULL)) != NULL)
				e->me_pid = s->m_from;
			else
				tr__noproc_answer(sys, &w->w_pool, gone,
				    s->m_from, TR__SIG_LINK, 0);
			break;
		case TR__SIG_UNLINK:
			if (x != NULL)
				tr__map_del(&x->x_links, tr__pid_key(s->m_from),
				    NULL);
			break;
		case TR__SIG_MONITOR:
			if (x != NULL &&
			    (e = tr__map_put(&x->x_mon_in, s->m_ref, NULL)) !=
			        NULL)
				e->me_pid = s->m_from;
			else
				tr__noproc_answer(sys, &w->w_pool, gone,
				    s->m_from, TR__SIG_MONITOR, s->m_ref);
			break;
		case TR__SIG_DEMONITOR:
			if (x != NULL)
				tr__map_del(&x->x_mon_in, s->m_ref, NULL);
			break;
		case TR__SIG_INFO:
			tr__info_answer(a, s, s->m_to_gen == gen);
			break;
		default:
			break;
		}
		tr__msg_delete(&w->w_pool, s);
		n = nx;
	}
}

/* die records an exit reason for the actor running with cx. */
static int
die(tr_ctx *cx, tr_reason_kind kind, const char *text)
{
	cx->cx_exit_set = true;
	cx->cx_exit_kind = kind;
	size_t n = strlen(text);
	if (n >= sizeof(cx->cx_w->w_exit_text))
		n = sizeof(cx->cx_w->w_exit_text) - 1;
	memcpy(cx->cx_w->w_exit_text, text, n);
	cx->cx_w->w_exit_text[n] = '\0';
	return TR__DIE;
}

/* end_call forgets call ref: its timer and its monitor of the callee. */
static void
end_call(tr__worker *w, tr__actor *a, tr__ext *x, uint64_t ref, bool demon)
{
	tr__mapent c, mon;
	if (tr__map_del(&x->x_calls, ref, &c) && c.me_ptr != NULL)
		(void) tr_cancel_timer(w->w_sys,
		    (tr_timer){ c.me_ptr, c.me_val });
	if (tr__map_del(&x->x_mon_out, ref, &mon) && demon)
		(void) tr__signal(w->w_sys, &w->w_pool, tr__pid_of(a),
		    mon.me_pid, TR__SIG_DEMONITOR, ref);
}

int
tr__sysmsg(tr__worker *w, tr_ctx *cx, tr__actor *a, tr_msg *m)
{
	tr__ext *x = a->a_ext;
	switch (m->m_tag) {
	case TR__TAG_XSIG: {
		tr_reason_kind kind;
		char text[TR_REASON_TEXT_MAX];
		if (reason_unpack(m, &kind, text, sizeof(text)) != 0)
			return TR__DROP;
		bool linked = (m->m_flags & TR__MSG_LINKED) != 0;
		if (linked) {
			/* The sender's link request may still be on our lane,
			 * overtaken by this signal (we are mid-turn, or it came
			 * while we looked at the mailbox).  Apply every request
			 * pushed before it first: the sender pushed its lane
			 * requests before this signal, and our pop of the
			 * signal acquired its push, so they are on the lane. */
			if (tr__lane_pending(&a->a_sig)) {
				tr__run_lane(w, a);
				x = a->a_ext;
			}
			if (x == NULL ||
			    !tr__map_del(&x->x_links, tr__pid_key(m->m_from),
			        NULL))
				return TR__DROP; /* unlinked meanwhile */
		}
		if (kind == TR_REASON_KILL && !linked)
			return die(cx, TR_REASON_KILLED, "killed");
		if (a->a_flags & TR__A_TRAP) {
			m->m_tag = TR_TAG_EXIT;
			m->m_flags &= (uint16_t) ~TR__MSG_LINKED;
			return TR__DELIVER;
		}
		if (kind == TR_REASON_NORMAL)
			return tr_pid_eq(m->m_from, tr__pid_of(a))
			    ? die(cx, TR_REASON_NORMAL, "normal")
			    : TR__DROP;
		return die(cx, kind, text);
	}
	case TR_TAG_DOWN: {
		tr__mapent *e = x != NULL ? tr__map_get(&x->x_mon_out, m->m_ref)
		                          : NULL;
		if (e == NULL || e->me_aux != 0)
			return TR__DROP;
		if (tr__map_get(&x->x_calls, m->m_ref) != NULL) {
			end_call(w, a, x, m->m_ref, false);
			return TR__DELIVER;
		}
		/* A plain monitor stays until its DOWN reaches the actor's
		 * code (tr__delivered), so tr_demonitor can still flush it. */
		e->me_aux = 1;
		return TR__DELIVER;
	}
	case TR_TAG_CALL_TIMEOUT:
		if (x == NULL || tr__map_get(&x->x_calls, m->m_ref) == NULL)
			return TR__DROP;
		end_call(w, a, x, m->m_ref, true);
		return TR__DELIVER;
	case TR__TAG_RECV_TMO:
		if (cx->cx_proc != NULL && m->m_ref == cx->cx_proc->p_recv_seq)
			cx->cx_proc->p_timed_out = true;
		return TR__DROP;
	default:
		if (m->m_flags & TR_MSG_REPLY) {
			if (x == NULL ||
			    tr__map_get(&x->x_calls, m->m_ref) == NULL)
				return TR__DROP; /* late: its call is over */
			end_call(w, a, x, m->m_ref, true);
			return TR__DELIVER;
		}
		return m->m_tag >= TR_TAG_SYSTEM ? TR__DROP : TR__DELIVER;
	}
}

bool
tr__signals_slow(tr__worker *w, tr_ctx *cx, tr__actor *a)
{
	if (cx->cx_exit_set)
		return true; /* an event actor already met its end in a poll */
	if (atomic_load_explicit(&a->a_sig.l_top, memory_order_relaxed) != 0)
		tr__run_lane(w, a);
	if (atomic_load_explicit(&a->a_xflags, memory_order_relaxed) &
	    TR__X_URGENT) {
		atomic_fetch_and_explicit(&a->a_xflags,
		    ~(uint32_t) TR__X_URGENT, memory_order_acquire);
		if (tr__pull(w, cx, a) == TR__DIE)
			return true;
	}
	return false;
}

void
tr__delivered(tr__actor *a, tr_msg *m)
{
	if (m->m_tag == TR_TAG_DOWN && a->a_ext != NULL)
		tr__map_del(&a->a_ext->x_mon_out, m->m_ref, NULL);
}

int
tr__pull(tr__worker *w, tr_ctx *cx, tr__actor *a)
{
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	int st = TR__NEXT_EMPTY;
	tr_msg *m;
	while ((m = tr__mbox_next(w, cx, a, gen, &st)) != NULL)
		tr__inner_push(a, m);
	if (st == TR__NEXT_DIE)
		return TR__DIE;
	/* A push still under way, or the turn's stale budget, stopped us
	 * short; an exit signal may be behind: look again next time. */
	if (st == TR__NEXT_BUSY || !tr__mpsc_drained(&a->a_mbox))
		atomic_fetch_or_explicit(&a->a_xflags, TR__X_URGENT,
		    memory_order_relaxed);
	return 0;
}

void
tr__inner_remove(tr__actor *a, tr_msg *prev, tr_msg *m)
{
	tr_msg *nx = tr__inner_next(m);
	if (prev == NULL)
		a->a_in_head = nx;
	else
		atomic_store_explicit(&prev->m_node.next, (tr__node *) nx,
		    memory_order_relaxed);
	if (a->a_in_tail == m)
		a->a_in_tail = prev;
	if ((a->a_flags & TR__A_PROCESS) && a->a_proc->p_mark_set &&
	    a->a_proc->p_mark == m)
		a->a_proc->p_mark = prev;
}

/* -------------------------------------------------------- public API */

static int
check_peer(tr_ctx *cx, tr_pid pid)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (tr_pid_is_nil(pid) || tr_pid_eq(pid, tr__pid_of(cx->cx_self)))
		return TR_EINVAL;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	return 0;
}

int
tr_link(tr_ctx *cx, tr_pid pid)
{
	int rv = check_peer(cx, pid);
	if (rv != 0)
		return rv;
	tr__ext *x = tr__ext_get(cx->cx_self);
	bool isnew;
	tr__mapent *e = x != NULL
	    ? tr__map_put(&x->x_links, tr__pid_key(pid), &isnew)
	    : NULL;
	if (e == NULL)
		return TR_ENOMEM;
	if (!isnew)
		return 0;
	e->me_pid = pid;
	rv = tr__signal(cx->cx_w->w_sys, &cx->cx_w->w_pool,
	    tr__pid_of(cx->cx_self), pid, TR__SIG_LINK, 0);
	if (rv == TR_ENOMEM) {
		tr__map_del(&x->x_links, tr__pid_key(pid), NULL);
		return rv;
	}
	return 0; /* TR_ENOPROC: the noproc exit signal is on its way */
}

int
tr_unlink(tr_ctx *cx, tr_pid pid)
{
	int rv = check_peer(cx, pid);
	if (rv != 0)
		return rv;
	tr__ext *x = cx->cx_self->a_ext;
	if (x == NULL || !tr__map_del(&x->x_links, tr__pid_key(pid), NULL))
		return 0;
	rv = tr__signal(cx->cx_w->w_sys, &cx->cx_w->w_pool,
	    tr__pid_of(cx->cx_self), pid, TR__SIG_UNLINK, 0);
	return rv == TR_ENOMEM ? rv : 0;
}

int
tr_monitor(tr_ctx *cx, tr_pid pid, uint64_t *refp)
{
	int rv = check_peer(cx, pid);
	if (rv != 0 || refp == NULL)
		return rv != 0 ? rv : TR_EINVAL;
	tr_system *sys = cx->cx_w->w_sys;
	tr__ext *x = tr__ext_get(cx->cx_self);
	uint64_t ref = tr__new_ref(sys);
	tr__mapent *e = x != NULL ? tr__map_put(&x->x_mon_out, ref, NULL)
	                          : NULL;
	if (e == NULL)
		return TR_ENOMEM;
	e->me_pid = pid;
	rv = tr__signal(sys, &cx->cx_w->w_pool, tr__pid_of(cx->cx_self), pid,
	    TR__SIG_MONITOR, ref);
	if (rv == TR_ENOMEM) {
		tr__map_del(&x->x_mon_out, ref, NULL);
		return rv;
	}
	*refp = ref;
	return 0;
}

int
tr_demonitor(tr_ctx *cx, uint64_t ref)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	tr__actor *a = cx->cx_self;
	tr__ext *x = a->a_ext;
	tr__mapent e;
	if (x == NULL || tr__map_get(&x->x_calls, ref) != NULL ||
	    !tr__map_del(&x->x_mon_out, ref, &e))
		return TR_ENOENT;
	if (e.me_aux == 0) {
		(void) tr__signal(cx->cx_w->w_sys, &cx->cx_w->w_pool,
		    tr__pid_of(a), e.me_pid, TR__SIG_DEMONITOR, ref);
		return 0; /* a DOWN still in the mailbox is dropped when met */
	}
	/* Its DOWN was met but not handed over: it is in the inner queue. */
	tr_msg *prev = NULL;
	for (tr_msg *m = a->a_in_head; m != NULL;
	     prev = m, m = tr__inner_next(m)) {
		if (m->m_tag == TR_TAG_DOWN && m->m_ref == ref) {
			tr__inner_remove(a, prev, m);
			tr__msg_delete(&cx->cx_w->w_pool, m);
			break;
		}
	}
	return 0;
}

bool
tr_trap_exit(tr_ctx *cx, bool on)
{
	if (cx == NULL)
		return false;
	tr__actor *a = cx->cx_self;
	bool was = (a->a_flags & TR__A_TRAP) != 0;
	if (on)
		a->a_flags |= TR__A_TRAP;
	else
		a->a_flags &= ~(uint32_t) TR__A_TRAP;
	return was;
}

static int
exit_pid(tr_system *sys, tr__pool *p, tr_pid from, tr_pid pid, tr_reason r)
{
	if (tr_pid_is_nil(pid) || (unsigned) r.kind > TR_REASON_ERROR)
		return TR_EINVAL;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	char text[TR_REASON_TEXT_MAX];
	unsigned char why[TR__REASON_BUF];
	tr__reason_format(text, sizeof(text), r);
	size_t n = tr__reason_pack(why, r.kind, text);
	return tr__post(sys, p, from, pid, TR__TAG_XSIG, 0, 0, why, n);
}

int
tr_exit_pid(tr_ctx *cx, tr_pid pid, tr_reason r)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	return exit_pid(cx->cx_w->w_sys, &cx->cx_w->w_pool,
	    tr__pid_of(cx->cx_self), pid, r);
}

int
tr_system_exit_pid(tr_system *sys, tr_pid pid, tr_reason r)
{
	if (sys == NULL)
		return TR_EINVAL;
	return exit_pid(sys, tr__cur_pool(sys), TR_PID_NIL, pid, r);
}
