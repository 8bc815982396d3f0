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

_Atomic(tr__hook_fn) tr__hook; /* tests only (actors_int.h) */

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

/* take_slot takes any free slot (no claim). */
static int
take_slot(tr_system *sys, tr__worker *w, uint32_t *slot)
{
	int why;
	if (w == NULL)
		return tr__table_take(&sys->s_table, slot, 1, &why) == 1 ? 0
		                                                         : why;
	if (w->w_nslots == 0) {
		w->w_nslots = tr__table_take(&sys->s_table, w->w_slots,
		    TR__SLOT_BATCH, &why);
		if (w->w_nslots == 0)
			return why;
	}
	*slot = w->w_slots[--w->w_nslots];
	return 0;
}

static void slot_put(tr_system *sys, tr__worker *w, uint32_t slot);

/*
 * give_back ends the caller's hold on the mailbox of a free slot (a dead
 * run's, or a spawn's that did not use the slot): the mailbox goes idle,
 * and if the slot is an orphan (in no free list) the caller gives it back.
 * If a late push came meanwhile, a dead run is scheduled instead and does
 * the same when it ends.
 */
static void
give_back(tr_system *sys, tr__worker *w, tr__actor *a)
{
	if (!tr__mpsc_mark_empty(&a->a_mbox)) {
		tr__actor_schedule(sys, a);
		return;
	}
	/* seq_cst, both: pairs with orphan()'s flag-then-claim; after our
	 * mark_empty either it sees the idle bit or we see its flag, and
	 * whoever clears the flag owns the slot. */
	if ((atomic_load_explicit(&a->a_xflags, memory_order_seq_cst) &
	        TR__X_ORPHAN) != 0 &&
	    (atomic_fetch_and_explicit(&a->a_xflags, ~(uint32_t) TR__X_ORPHAN,
	         memory_order_seq_cst) &
	        TR__X_ORPHAN) != 0)
		slot_put(sys, w, a->a_slot);
}

/*
 * orphan leaves a slot just taken from a free list, whose mailbox a dead
 * run holds (a late push to the actor that lived there), to that dead
 * run: it gives the slot back when it ends (give_back).  If the dead run
 * ended meanwhile and we win the slot, returns true with the mailbox
 * claimed by us.
 */
static bool
orphan(tr_system *sys, tr__worker *w, tr__actor *a)
{
	/* seq_cst: see give_back. */
	atomic_fetch_or_explicit(&a->a_xflags, TR__X_ORPHAN,
	    memory_order_seq_cst);
	if (!tr__mpsc_claim(&a->a_mbox))
		return false; /* the dead run runs on and will see the flag */
	/* seq_cst: races with give_back's fetch_and; one of us gets it. */
	if (atomic_fetch_and_explicit(&a->a_xflags, ~(uint32_t) TR__X_ORPHAN,
	        memory_order_seq_cst) &
	    TR__X_ORPHAN)
		return true;
	/* The dead run ended, took the flag and gives the slot back: undo
	 * our claim as it would. */
	give_back(sys, w, a);
	return false;
}

/*
 * slot_get takes a free slot and claims its mailbox (clears the idle bit),
 * which makes the caller its only consumer.  A slot whose dead run is
 * pending (a late push to the actor that lived there) cannot be claimed:
 * it is left to its dead run, which gives it back when done, and another
 * slot is taken, so spawn fails only when the table is full.
 */
static int
slot_get(tr_system *sys, tr__worker *w, uint32_t *slot)
{
	int rv;
	while ((rv = take_slot(sys, w, slot)) == 0) {
		tr__actor *a = tr__table_get(&sys->s_table, *slot);
		if (tr__mpsc_claim(&a->a_mbox) || orphan(sys, w, a))
			break;
	}
	return rv;
}

/* slot_release gives back a claimed slot that was not used. */
static void
slot_release(tr_system *sys, tr__worker *w, tr__actor *a)
{
	/* relaxed: give_back's seq_cst read follows in this thread. */
	atomic_fetch_or_explicit(&a->a_xflags, TR__X_ORPHAN,
	    memory_order_relaxed);
	give_back(sys, w, a); /* or its dead run frees what came, then does */
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
		tr__table_give(&sys->s_table, &w->w_slots[w->w_nslots],
		    TR__SLOT_BATCH);
	}
	w->w_slots[w->w_nslots++] = slot;
}

/* caller returns the actor running on this thread's worker of sys. */
static tr__actor *
caller(tr_system *sys)
{
	tr__worker *w = tr__tls_worker;
	return w != NULL && w->w_sys == sys ? w->w_current : NULL;
}

/*
 * spawn_actor makes an actor in a free slot.  The caller fills the kind
 * specific fields through setup(a, arg) before the actor is published.
 */
static int
spawn_actor(tr_system *sys, tr_pid *pidp, const tr_spawn_opts *opts,
    tr_process_fn pfn, tr_actor_fn fn, tr_init_fn init, void *state, bool owned)
{
	bool process = pfn != NULL;
	unsigned flags = opts != NULL ? opts->flags : 0;
	tr__worker *w = tr__tls_worker;
	if (w != NULL && w->w_sys != sys)
		w = NULL;
	tr__actor *parent = (flags & (TR_SPAWN_LINK | TR_SPAWN_MONITOR))
	    ? caller(sys)
	    : NULL;
	if ((flags & (TR_SPAWN_LINK | TR_SPAWN_MONITOR)) && parent == NULL)
		return TR_ECONTEXT;
	if ((flags & TR_SPAWN_MONITOR) && opts->monitor_ref == NULL)
		return TR_EINVAL;
	const char *name = opts != NULL ? opts->name : NULL;
	if (name != NULL && !tr__name_ok(name))
		return TR_EINVAL;
	uint64_t mref = 0;
	uint32_t slot;
	int rv = slot_get(sys, w, &slot);
	if (rv != 0)
		return rv;
	tr__actor *a = tr__table_get(&sys->s_table, slot);
	a->a_state = state;
	a->a_free = opts != NULL ? opts->state_free : NULL;
	a->a_init = init;
	a->a_flags = (init != NULL ? TR__A_INIT : 0) |
	    (process ? TR__A_PROCESS : 0) |
	    ((flags & TR_SPAWN_TRAP_EXIT) ? TR__A_TRAP : 0) |
	    (owned ? TR__A_OWNED : 0);
	a->a_link = NULL;
	a->a_in_head = a->a_in_tail = NULL;
	a->a_ext = NULL;
	if (process) {
		rv = tr__proc_make(sys, a, pfn,
		    opts != NULL ? opts->stack_size : 0,
		    (flags & TR_SPAWN_COMPACT) != 0);
		if (rv != 0) {
			slot_release(sys, w, a);
			return rv;
		}
	} else {
		a->a_fn = fn;
	}
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed) +
	    1;
	tr_pid pid = { 0, slot, gen };
	if (flags & TR_SPAWN_WAIT) {
		tr__ext *x = tr__ext_get(a);
		tr__waiter *wt = x != NULL ? calloc(1, sizeof(*wt)) : NULL;
		if (wt == NULL)
			goto nomem;
		atomic_init(&wt->wt_refs, 2);
		pthread_mutex_lock(&sys->s_ext_mx);
		tr__mapent *e = tr__map_put(&sys->s_waits, tr__pid_key(pid),
		    NULL);
		if (e != NULL)
			e->me_ptr = wt;
		pthread_mutex_unlock(&sys->s_ext_mx);
		if (e == NULL) {
			free(wt);
			goto nomem;
		}
		x->x_waiters = wt;
	}
	if (parent != NULL) {
		/* Both sides are set before the new actor can run or die, and
		 * the parent is the actor running here: no signal needed. */
		tr__ext *px = tr__ext_get(parent), *cx = tr__ext_get(a);
		if (px == NULL || cx == NULL)
			goto nomem;
		if (flags & TR_SPAWN_LINK) {
			tr__mapent *e1 = tr__map_put(&px->x_links,
			    tr__pid_key(pid), NULL);
			if (e1 == NULL)
				goto nomem;
			e1->me_pid = pid;
			tr_pid pp = tr__pid_of(parent);
			tr__mapent *e2 = tr__map_put(&cx->x_links,
			    tr__pid_key(pp), NULL);
			if (e2 == NULL) {
				tr__map_del(&px->x_links, tr__pid_key(pid),
				    NULL);
				goto nomem;
			}
			e2->me_pid = pp;
		}
		if (flags & TR_SPAWN_MONITOR) {
			uint64_t ref = tr__new_ref(sys);
			tr__mapent *e1 = tr__map_put(&px->x_mon_out, ref, NULL);
			if (e1 == NULL)
				goto nomem;
			e1->me_pid = pid;
			tr__mapent *e2 = tr__map_put(&cx->x_mon_in, ref, NULL);
			if (e2 == NULL) {
				tr__map_del(&px->x_mon_out, ref, NULL);
				goto nomem;
			}
			e2->me_pid = tr__pid_of(parent);
			mref = ref;
		}
	}
	atomic_store_explicit(&a->a_xflags, process ? TR__X_PROCESS : 0,
	    memory_order_relaxed);
	if (name != NULL) {
		/* The name goes in under the names lock, held until the
		 * generation is published: tr_whereis (which takes that
		 * lock) can hand out the pid only once it is alive.  Before
		 * the lane opens: a failed spawn leaves the slot as it was. */
		rv = tr__names_spawn_claim(sys, name, a, pid);
		if (rv != 0)
			goto fail;
	}
	tr__lane_reopen(&a->a_sig);
	/* release: the fields above are set before anyone can run a. */
	atomic_store_explicit(&a->a_gen, gen, memory_order_release);
	if (name != NULL)
		tr__names_spawn_done(sys);
	if (mref != 0)
		*opts->monitor_ref = mref;
	if (w != NULL)
		tr__count(&w->w_spawned);
	else
		atomic_fetch_add_explicit(&sys->s_ext_spawned, 1,
		    memory_order_relaxed);
	if (pidp != NULL)
		*pidp = pid;
	/* The mailbox is "scheduled" now.  Run a if it must start (init, a
	 * process) or has leftovers of an older incarnation to drop; else
	 * make it idle, and then, as at the end of a turn, look at the lane:
	 * a request (a wait, a link or monitor for an older incarnation) may
	 * have come since the lane reopened, and its sender could not
	 * schedule a then. */
	tr__hook_at(TR__HOOK_SPAWN, a);
	if (a->a_init != NULL || process || !tr__mpsc_mark_empty(&a->a_mbox) ||
	    (tr__lane_pending(&a->a_sig) && tr__mpsc_claim(&a->a_mbox)))
		tr__actor_schedule(sys, a);
	return 0;
nomem:
	rv = TR_ENOMEM;
fail:
	if (parent != NULL && parent->a_ext != NULL) {
		tr__map_del(&parent->a_ext->x_links, tr__pid_key(pid), NULL);
		if (mref != 0)
			tr__map_del(&parent->a_ext->x_mon_out, mref, NULL);
	}
	if (a->a_ext != NULL && a->a_ext->x_waiters != NULL) {
		pthread_mutex_lock(&sys->s_ext_mx);
		tr__map_del(&sys->s_waits, tr__pid_key(pid), NULL);
		pthread_mutex_unlock(&sys->s_ext_mx);
		free(a->a_ext->x_waiters);
	}
	tr__ext_free(a);
	if (process)
		tr__proc_free(sys, a);
	a->a_flags = 0;
	slot_release(sys, w, a);
	return rv;
}

/* own_state copies opts->state_size bytes of state (zeroes if NULL) into
 * a block the actor will own; *copyp is NULL if none is asked for. */
static int
own_state(const tr_spawn_opts *opts, const void *state, void **copyp)
{
	*copyp = NULL;
	if (opts == NULL || opts->state_size == 0)
		return 0;
	if (opts->state_size > TR_STATE_MAX)
		return TR_EINVAL;
	void *c = state != NULL ? malloc(opts->state_size)
	                        : calloc(1, opts->state_size);
	if (c == NULL)
		return TR_ENOMEM;
	if (state != NULL)
		memcpy(c, state, opts->state_size);
	*copyp = c;
	return 0;
}

int
tr_spawn(tr_system *sys, tr_pid *pidp, tr_actor_fn fn, void *state,
    const tr_spawn_opts *opts)
{
	int rv;
	if (sys == NULL || fn == NULL)
		rv = TR_EINVAL;
	else if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire))
		rv = TR_ESTOPPED;
	else {
		void *copy;
		rv = own_state(opts, state, &copy);
		if (rv == 0) {
			rv = spawn_actor(sys, pidp, opts, NULL, fn,
			    opts != NULL ? opts->init : NULL,
			    copy != NULL ? copy : state, copy != NULL);
			if (rv != 0)
				free(copy);
		}
	}
	if (rv != 0 && opts != NULL && opts->state_free != NULL)
		opts->state_free(state);
	return rv;
}

int
tr_spawn_process(tr_system *sys, tr_pid *pidp, tr_process_fn fn, void *arg,
    const tr_spawn_opts *opts)
{
	int rv;
	if (sys == NULL || fn == NULL) {
		rv = TR_EINVAL;
	} else if (atomic_load_explicit(&sys->s_stopping,
	               memory_order_acquire)) {
		rv = TR_ESTOPPED;
	} else {
		void *copy;
		rv = own_state(opts, arg, &copy);
		if (rv == 0) {
			rv = spawn_actor(sys, pidp, opts, fn, NULL, NULL,
			    copy != NULL ? copy : arg, copy != NULL);
			if (rv == 0)
				return 0;
			free(copy);
		}
	}
	if (opts != NULL && opts->state_free != NULL)
		opts->state_free(arg);
	return rv;
}

/* ----------------------------------------------------------------- send */

static inline int
check_send(tr_pid pid, uint32_t tag, const void *data, size_t len)
{
	if (len > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	if ((data == NULL && len > 0) || tr_pid_is_nil(pid) ||
	    tag >= TR_TAG_SYSTEM)
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
	if (w != NULL && __builtin_expect(++w->w_sends == TR__NEXT_RELEASE, 0))
		tr__sched_release_next(w);
}

static inline int
send_msg_ref(tr_ctx *cx, tr_pid pid, uint32_t tag, uint64_t ref,
    const void *data, size_t len)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	int rv = check_send(pid, tag, data, len);
	if (rv != 0)
		return rv;
	tr__worker *w = cx->cx_w;
	tr_system *sys = w->w_sys;
	tr__count(&w->w_sent);
	tr__actor *a = tr__lookup(sys, pid);
	if (a == NULL) {
		tr__count(&w->w_dead);
		return 0;
	}
	tr_msg *m = tr__msg_new(&w->w_pool, len);
	if (m == NULL)
		return TR_ENOMEM;
	m->m_from = tr__pid_of(cx->cx_self);
	m->m_tag = tag;
	m->m_to_gen = pid.gen;
	m->m_flags = 0;
	m->m_ref = ref;
	if (len > 0)
		tr__copy(m->m_data, data, len);
	deliver(sys, w, a, m);
	return 0;
}

int
tr_send(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data, size_t len)
{
	return send_msg_ref(cx, pid, tag, 0, data, len);
}

int
tr_send_ref(tr_ctx *cx, tr_pid pid, uint32_t tag, uint64_t ref,
    const void *data, size_t len)
{
	return send_msg_ref(cx, pid, tag, ref, data, len);
}

int
tr_send_msg(tr_ctx *cx, tr_pid pid, tr_msg *m)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (m == NULL)
		return TR_EINVAL;
	int rv = check_send(pid, m->m_tag, m->m_data, m->m_len);
	if (rv != 0)
		return rv;
	tr__worker *w = cx->cx_w;
	tr_system *sys = w->w_sys;
	tr__count(&w->w_sent);
	m->m_from = tr__pid_of(cx->cx_self);
	m->m_to_gen = pid.gen;
	tr__actor *a = tr__lookup(sys, pid);
	if (a == NULL) {
		tr__count(&w->w_dead);
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
	int rv = check_send(pid, tag, data, len);
	if (rv != 0)
		return rv;
	if (atomic_load_explicit(&sys->s_stopping, memory_order_acquire))
		return TR_ESTOPPED;
	atomic_fetch_add_explicit(&sys->s_ext_sent, 1, memory_order_relaxed);
	tr__actor *a = tr__lookup(sys, pid);
	if (a == NULL) {
		atomic_fetch_add_explicit(&sys->s_ext_dead, 1,
		    memory_order_relaxed);
		return 0;
	}
	/* A worker of sys calling this (outside an actor's code path) uses
	 * its own pool; any other thread the shared one. */
	tr__pool *p = tr__cur_pool(sys);
	tr_msg *m = tr__msg_new_any(sys, p, len);
	if (m == NULL)
		return TR_ENOMEM;
	m->m_from = TR_PID_NIL;
	m->m_tag = tag;
	m->m_to_gen = pid.gen;
	m->m_flags = 0;
	m->m_ref = 0;
	if (len > 0)
		tr__copy(m->m_data, data, len);
	if (tr__mpsc_push(&a->a_mbox, &m->m_node))
		tr__actor_schedule(sys, a);
	return 0;
}

bool
tr_is_alive(tr_system *sys, tr_pid pid)
{
	return sys != NULL && pid.node == 0 && !tr_pid_is_nil(pid) &&
	    tr__lookup(sys, pid) != NULL;
}

tr_pid
tr_self(tr_ctx *cx)
{
	if (cx == NULL)
		return TR_PID_NIL;
	return tr__pid_of(cx->cx_self);
}

tr_system *
tr_ctx_system(tr_ctx *cx)
{
	if (cx == NULL)
		return NULL;
	return cx->cx_w->w_sys;
}

int
tr_exit(tr_ctx *cx, tr_reason r)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	cx->cx_exit_set = true;
	cx->cx_exit_kind = r.kind;
	tr__reason_format(cx->cx_w->w_exit_text, sizeof(cx->cx_w->w_exit_text),
	    r);
	if (cx->cx_proc != NULL)
		tr__proc_exit(cx); /* does not return */
	return TR_STOP;
}

tr_msg *
tr_msg_alloc(tr_ctx *cx, uint32_t tag, size_t len)
{
	if (cx == NULL || len > TR_MSG_MAX_LEN)
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
		free(m); /* replies handed to plain threads are malloc'd */
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

/* ------------------------------------------------------------- posting */

void
tr__post_msg(tr_system *sys, tr__pool *p, tr_pid to, tr_msg *m)
{
	tr__actor *a = to.node == 0 ? tr__lookup(sys, to) : NULL;
	if (a == NULL) {
		atomic_fetch_add_explicit(&sys->s_ext_dead, 1,
		    memory_order_relaxed);
		tr__msg_delete_any(sys, p, m);
		return;
	}
	bool xsig = m->m_tag ==
	    TR__TAG_XSIG; /* m is the target's after the push */
	m->m_to_gen = to.gen;
	if (tr__mpsc_push(&a->a_mbox, &m->m_node))
		tr__actor_schedule(sys, a);
	if (xsig) {
		/* After the push: ask the target to look past queued messages
		 * (a process that only yields looks at its mailbox then). */
		atomic_fetch_or_explicit(&a->a_xflags, TR__X_URGENT,
		    memory_order_release);
	}
}

int
tr__post(tr_system *sys, tr__pool *p, tr_pid from, tr_pid to, uint32_t tag,
    uint16_t flags, uint64_t ref, const void *data, size_t len)
{
	tr_msg *m = tr__msg_new_any(sys, p, len);
	if (m == NULL)
		return TR_ENOMEM;
	m->m_from = from;
	m->m_tag = tag;
	m->m_flags = flags;
	m->m_ref = ref;
	if (len > 0)
		tr__copy(m->m_data, data, len);
	tr__post_msg(sys, p, to, m);
	return 0;
}

/* -------------------------------------------------------------- waiters */

void
tr__waiter_rele(tr__waiter *wt)
{
	if (atomic_fetch_sub_explicit(&wt->wt_refs, 1, memory_order_acq_rel) ==
	    1)
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

/* drain frees every message queued (inner and outer); returns how many. */
static uint64_t
drain(tr_system *sys, tr__pool *p, tr__actor *a)
{
	uint64_t n = 0;
	tr_msg *m = a->a_in_head;
	while (m != NULL) {
		tr_msg *nx = tr__inner_next(m);
		tr__msg_delete_any(sys, p, m);
		m = nx;
		n++;
	}
	a->a_in_head = a->a_in_tail = NULL;
	tr__node *nd;
	while ((nd = tr__mpsc_pop(&a->a_mbox)) != NULL) {
		tr__msg_delete_any(sys, p, (tr_msg *) nd);
		n++;
	}
	return n;
}

/* tell_peers sends the exit to links and monitors and undoes the
 * monitors a held; live system only. */
static void
tell_peers(tr_system *sys, tr__pool *p, tr__actor *a, tr_pid self,
    const void *why, size_t whylen)
{
	tr__ext *x = a->a_ext;
	tr__mapent *e;
	uint32_t i = 0;
	while ((e = tr__map_next(&x->x_links, &i)) != NULL)
		(void) tr__post(sys, p, self, e->me_pid, TR__TAG_XSIG,
		    TR__MSG_LINKED, 0, why, whylen);
	i = 0;
	while ((e = tr__map_next(&x->x_mon_in, &i)) != NULL)
		(void) tr__post(sys, p, self, e->me_pid, TR_TAG_DOWN, 0,
		    e->me_key, why, whylen);
	i = 0;
	while ((e = tr__map_next(&x->x_mon_out, &i)) != NULL)
		(void) tr__signal(sys, p, self, e->me_pid, TR__SIG_DEMONITOR,
		    e->me_key);
	i = 0;
	while ((e = tr__map_next(&x->x_calls, &i)) != NULL)
		if (e->me_ptr != NULL)
			(void) tr_cancel_timer(sys,
			    (tr_timer){ e->me_ptr, e->me_val });
}

/* answer_lane answers the lane signals taken at exit. */
static void
answer_lane(tr_system *sys, tr__pool *p, tr__node *sigs, uint32_t gen,
    tr_pid self, tr_reason_kind kind, const char *text, const void *why,
    size_t whylen)
{
	while (sigs != NULL) {
		tr__node *nx = atomic_load_explicit(&sigs->next,
		    memory_order_relaxed);
		tr_msg *s = (tr_msg *) sigs;
		bool mine = s->m_to_gen == gen;
		switch (s->m_tag) {
		case TR__SIG_WAIT: {
			tr__waiter *wt;
			memcpy(&wt, s->m_data, sizeof(wt));
			if (mine)
				tr__waiter_complete(wt, kind, text);
			else
				tr__waiter_complete(wt, TR_REASON_NOPROC, NULL);
			break;
		}
		case TR__SIG_LINK:
		case TR__SIG_MONITOR:
			/* One aimed at an older incarnation (it landed on the
			 * lane after the slot changed hands) is answered
			 * noproc, in that incarnation's name. */
			if (why == NULL)
				break;
			if (!mine)
				tr__noproc_answer(sys, p,
				    (tr_pid){ 0, self.slot, s->m_to_gen },
				    s->m_from, s->m_tag, s->m_ref);
			else if (s->m_tag == TR__SIG_LINK)
				(void) tr__post(sys, p, self, s->m_from,
				    TR__TAG_XSIG, TR__MSG_LINKED, 0, why,
				    whylen);
			else
				(void) tr__post(sys, p, self, s->m_from,
				    TR_TAG_DOWN, 0, s->m_ref, why, whylen);
			break;
		case TR__SIG_INFO:
			tr__info_answer(NULL, s, false);
			break;
		default:
			break;
		}
		tr__msg_delete_any(sys, p, s);
		sigs = nx;
	}
}

void
tr__finish(tr_system *sys, tr__worker *w, tr__pool *p, tr__actor *a,
    tr_reason_kind kind, const char *text)
{
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	tr_pid self = { 0, a->a_slot, gen };
	/* seq_cst: new sends become dead letters; pairs with tr_register's
	 * flag-then-check (see names.c). */
	atomic_store_explicit(&a->a_gen, gen + 1, memory_order_seq_cst);
	uint64_t dead = drain(sys, p, a);

	if (kind == TR_REASON_ERROR) {
		char pb[TR_PID_FMT_MAX];
		tr__log(sys, TR_LOG_ERROR, "actor %s exited: %s",
		    tr_pid_format(self, pb, sizeof(pb)), text);
	}
	if (atomic_load_explicit(&a->a_xflags, memory_order_seq_cst) &
	    TR__X_NAMED)
		tr__names_drop(sys, a, self);

	/* Peers hear of the exit only on a running system: at stop every
	 * actor goes. */
	unsigned char why[TR__REASON_BUF];
	size_t whylen = tr__reason_pack(why, kind, text);
	if (w != NULL && a->a_ext != NULL)
		tell_peers(sys, p, a, self, why, whylen);
	if (a->a_free != NULL)
		a->a_free(a->a_state);
	if (a->a_flags & TR__A_OWNED)
		free(a->a_state);
	a->a_state = NULL;
	a->a_free = NULL;

	/* Close the lane only now: a wait or monitor that comes during the
	 * exit still gets the real reason, and one that finds the lane
	 * closed knows the destructor has run. */
	tr__node *sigs = tr__lane_take(&a->a_sig, true);
	answer_lane(sys, p, sigs, gen, self, kind, text, w != NULL ? why : NULL,
	    whylen);
	if (a->a_ext != NULL) {
		while (a->a_ext->x_waiters != NULL) {
			tr__waiter *wt = a->a_ext->x_waiters;
			a->a_ext->x_waiters = wt->wt_next;
			tr__waiter_complete(wt, kind, text);
		}
	}
	tr__ext_free(a);
	if (a->a_flags & TR__A_PROCESS)
		tr__proc_free(sys, a);
	a->a_flags = 0;
	if (w == NULL) {
		atomic_fetch_add_explicit(&sys->s_ext_dead,
		    dead + drain(sys, p, a), memory_order_relaxed);
		atomic_fetch_add_explicit(&sys->s_stop_exited, 1,
		    memory_order_relaxed);
		return;
	}
	/* Give up the mailbox: a late sender (one that checked the
	 * generation before it moved) then schedules a dead run, which frees
	 * its message at once. */
	tr__add(&w->w_dead, dead + drain(sys, p, a));
	tr__count(&w->w_exited);
	if (tr__mpsc_mark_empty(&a->a_mbox)) {
		slot_put(sys, w, a->a_slot);
		return;
	}
	/* A push under way: its dead run gives the slot back when done, so
	 * no spawn meets the slot with its mailbox held.  relaxed: the push
	 * on the run queue publishes the flag to the dead run. */
	atomic_fetch_or_explicit(&a->a_xflags, TR__X_ORPHAN,
	    memory_order_relaxed);
	tr__sched_push(w, a);
}

const char *
tr__exit_reason(tr_ctx *cx, int r, tr_reason_kind *kind, char *buf, size_t len)
{
	const char *text = "normal";
	*kind = TR_REASON_NORMAL;
	if (cx->cx_exit_set) {
		*kind = cx->cx_exit_kind;
		text = cx->cx_w->w_exit_text;
	} else if (r < 0) {
		*kind = TR_REASON_ERROR;
		snprintf(buf, len, "handler returned %s (%s)", tr_err_name(r),
		    tr_strerror(r));
		text = buf;
	} else if (r != TR_STOP) {
		*kind = TR_REASON_ERROR;
		snprintf(buf, len, "handler returned %d", r);
		text = buf;
	}
	return text;
}

/* exit_after ends a after its handler returned r (or a signal killed it). */
static void
exit_after(tr__worker *w, tr__actor *a, int r)
{
	tr_ctx *cx = &w->w_cx;
	tr_reason_kind kind;
	char buf[TR_REASON_TEXT_MAX];
	const char *text = tr__exit_reason(cx, r, &kind, buf, sizeof(buf));
	tr__finish(w->w_sys, w, &w->w_pool, a, kind, text);
	cx->cx_exit_set = false;
}

/* ----------------------------------------------------------------- turn */

/* take returns the next message for the actor's code: the inner queue's
 * head (already vetted), else the mailbox's (vetted here). */
static inline tr_msg *
take(tr__worker *w, tr_ctx *cx, tr__actor *a, uint32_t gen, int *st)
{
	tr_msg *m = a->a_in_head;
	if (m != NULL) {
		a->a_in_head = tr__inner_next(m);
		if (a->a_in_head == NULL)
			a->a_in_tail = NULL;
	} else if ((m = tr__mbox_next(w, cx, a, gen, st)) == NULL) {
		return NULL;
	}
	if (m->m_tag >= TR_TAG_SYSTEM)
		tr__delivered(a, m);
	return m;
}

/* dead_run frees what late senders pushed to a slot whose actor is gone. */
static void
dead_run(tr__worker *w, tr__actor *a)
{
	tr__add(&w->w_dead, drain(w->w_sys, &w->w_pool, a));
	give_back(w->w_sys, w, a); /* a push under way: it runs again */
}

void
tr__actor_run(tr__worker *w, tr__actor *a)
{
	uint32_t gen = atomic_load_explicit(&a->a_gen, memory_order_relaxed);
	if (!TR__GEN_ALIVE(gen)) {
		dead_run(w, a);
		return;
	}
	w->w_current = a;
	w->w_stale = 0;
	if (a->a_flags & TR__A_PROCESS) {
		tr__proc_run(w, a);
		return;
	}
	tr_ctx *cx = &w->w_cx;
	int st = TR__NEXT_EMPTY;
	cx->cx_self = a;
	if (tr__signals(w, cx, a))
		goto died;
	if (a->a_flags & TR__A_INIT) {
		a->a_flags &= ~TR__A_INIT;
		int r = a->a_init(cx, a->a_state);
		if (r != TR_CONTINUE || cx->cx_exit_set) {
			exit_after(w, a, r);
			return;
		}
	}
	unsigned budget = w->w_sys->s_cfg.budget;
	unsigned n = 0;
	while (n < budget) {
		tr_msg *m = take(w, cx, a, gen, &st);
		if (m == NULL) {
			if (st == TR__NEXT_DIE)
				goto died;
			if (st == TR__NEXT_BUSY)
				n = budget; /* stale ones spent the turn */
			break;
		}
		n++;
		int r = a->a_fn(cx, m, a->a_state);
		tr__msg_delete(&w->w_pool, m);
		/* tr_exit (or an exit signal met in a poll) ends the actor even
		 * if the handler went on to return TR_CONTINUE. */
		if (r != TR_CONTINUE || cx->cx_exit_set) {
			exit_after(w, a, r);
			return;
		}
	}
	if (n < budget && a->a_in_head == NULL)
		tr__end_turn(w, a);
	else
		tr__sched_requeue(w, a); /* more to handle: after the others */
	return;
died:
	exit_after(w, a, TR_STOP);
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
				tr__finish(sys, NULL, p, a, TR_REASON_SHUTDOWN,
				    "shutdown");
			} else {
				tr__node *n = tr__lane_take(&a->a_sig, true);
				answer_lane(sys, p, n, gen + 1,
				    (tr_pid){ 0, a->a_slot, gen },
				    TR_REASON_NOPROC, NULL, NULL, 0);
				uint64_t d = drain(sys, p, a);
				atomic_fetch_add(&sys->s_ext_dead, d);
			}
		}
	}
}
