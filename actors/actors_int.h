/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_ACTORS_ACTORS_INT_H
#define TROUPE_ACTORS_ACTORS_INT_H

/*
 * actors/: the runtime's internal interface, shared by the files of
 * actors/ and by tests (through troupe_testing).
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <troupe/troupe.h>

#include "actors/map.h"
#include "actors/platform.h"
#include "actors/timer.h"
#include "mailbox/mailbox.h"

typedef struct tr__actor tr__actor;
typedef struct tr__worker tr__worker;
typedef struct tr__waiter tr__waiter;
typedef struct tr__ext tr__ext;
typedef struct tr__proc tr__proc;
typedef struct tr__timer tr__timer;

/* ------------------------------------------------------------ the actor */

/*
 * Slot generations: odd while an actor lives in the slot, even while it is
 * free.  Exit and spawn each add one, so a pid (always odd) matches only
 * the incarnation it was made for.
 */
#define TR__GEN_ALIVE(g) (((g) &1u) != 0)

/* a_flags, touched only by the worker running the actor (or its spawner). */
enum {
	TR__A_INIT = 1u << 0,    /* a_init has not run yet */
	TR__A_PROCESS = 1u << 1, /* a process: a_proc is set */
	TR__A_TRAP = 1u << 2,    /* traps exits */
	TR__A_OWNED = 1u << 3,   /* a_state is the runtime's copy: freed */
};

/* a_xflags, set by anyone (atomic). */
enum {
	TR__X_URGENT =
	    1u << 0,           /* an exit signal is queued: drain the mailbox */
	TR__X_NAMED = 1u << 1, /* has a registered name (see names.c) */
	/* A free slot in no free list: the dead run that holds its mailbox
	 * gives it back when done (see slot_get in actor.c). */
	TR__X_ORPHAN = 1u << 2,
	TR__X_PROCESS = 1u << 3, /* a process (set at spawn, for
	                          * tr_actor_info_get) */
};

/*
 * tr__actor lives in a table chunk and is never freed while the system
 * runs (type-stable memory), so a sender holding a stale pid may still
 * touch its mailbox safely; the generation check (at send, and again when
 * a message is taken off the queue) keeps messages from reaching a later
 * incarnation.  Senders touch only a_mbox, a_sig, a_gen and a_xflags.
 *
 * Messages move from the MPSC queue (a_mbox, "outer") to the inner queue
 * (a_in_*) when the actor must look past the first one: selective
 * receive, or an exit signal that must act before queued messages.
 */
struct tr__actor {
	tr__mpsc a_mbox;        /* messages and exit signals, in order */
	tr__lane a_sig;         /* link/monitor/wait signals, handled first */
	_Atomic uint32_t a_gen; /* see TR__GEN_ALIVE */
	uint32_t a_flags;       /* TR__A_* */
	uint32_t a_slot;        /* index in the table */
	_Atomic uint32_t a_xflags; /* TR__X_* */
	union {
		tr_actor_fn a_fn; /* event actor */
		tr__proc *a_proc; /* process */
	};
	void *a_state;
	tr_state_free_fn a_free;
	tr_init_fn a_init;
	tr__actor *a_link; /* inject queue and teardown lists */
	tr_msg *a_in_head; /* inner queue (owner only) */
	tr_msg *a_in_tail;
	tr__ext *a_ext; /* links, monitors, calls, waiters; lazy */
};

/* tr__ext: what few actors need, allocated on first use. Owner only. */
struct tr__ext {
	tr__map x_links;   /* pid key -> linked pid */
	tr__map x_mon_out; /* ref -> pid I monitor */
	tr__map x_mon_in;  /* ref -> pid monitoring me */
	tr__map x_calls;   /* ref -> callee (me_pid), timer (me_ptr) */
	tr__waiter *x_waiters;
};

/* ------------------------------------------------------------- signals */

/*
 * Internal tags.  Lane signals are tr_msg blocks on a_sig; EXIT signals
 * and receive timeouts travel in the mailbox, in order with messages.
 */
enum {
	TR__SIG_WAIT = 1,      /* ptr payload: a tr__waiter */
	TR__SIG_LINK = 2,      /* from: who links */
	TR__SIG_UNLINK = 3,    /* from: who unlinks */
	TR__SIG_MONITOR = 4,   /* from: watcher, ref */
	TR__SIG_DEMONITOR = 5, /* ref */
	TR__SIG_INFO = 6,      /* ptr payload: a tr__inforeq (wait.c) */
};
#define TR__TAG_XSIG (TR_TAG_SYSTEM + 0x100) /* exit signal; payload: reason */
#define TR__TAG_RECV_TMO (TR_TAG_SYSTEM + 0x101) /* receive timeout; ref: seq */

/* tr__waiter: a plain thread in tr_wait; two references (the waiting
 * thread's and the actor's), freed by whoever drops the last. */
struct tr__waiter {
	tr__waiter *wt_next;      /* in x_waiters */
	_Atomic uint32_t wt_done; /* futex word: 1 when info is filled */
	_Atomic int wt_refs;
	tr_exit_info wt_info;
};

/* --------------------------------------------------------------- context */

/*
 * tr_ctx: what actor code runs with.  An event actor runs with its
 * worker's context (cx_self set for the turn); a process has its own,
 * whose cx_w follows the worker it is resumed on.
 */
/* The exit text lives in the worker (w_exit_text): an exit is handled on
 * the worker where it was decided, before that worker runs anything else,
 * so a process need not carry the buffer while it sleeps. */
struct tr_ctx {
	tr__worker *cx_w;
	tr__actor *cx_self;
	tr__proc *cx_proc; /* NULL for event actors */
	bool cx_exit_set;  /* tr_exit was called */
	tr_reason_kind cx_exit_kind;
};

/* ---------------------------------------------------------- processes */

enum {
	TR__P_RUNNING = 0,
	TR__P_BLOCKED = 1, /* in receive: idle until a push */
	TR__P_YIELDED = 2, /* requeue at once */
	TR__P_EXITED = 3,  /* finish it (reason in p_cx) */
};

struct tr__proc {
	tr_ctx p_cx;
	void *p_asan_fake; /* ASan fiber bookkeeping */
	void *p_tsan;      /* TSan fiber */
	void *p_sp;        /* saved stack pointer while switched out */
	struct tr__stack *p_stack;
	struct tr__stack_pool *p_pool;
	tr_process_fn p_fn;
	int p_state;         /* TR__P_* */
	unsigned p_reds;     /* receives since the last yield */
	uint64_t p_recv_seq; /* receive timeouts: which receive */
	tr_msg *p_mark;      /* tr_make_ref's mark: inner tail then */
	uint64_t p_mark_ref;
	bool p_mark_set;
	bool p_timed_out;
	bool p_compact; /* TR_SPAWN_COMPACT */
	void *p_saved;  /* compact and blocked: the live stack */
	size_t p_saved_len;
};

/* ------------------------------------------------------------ the table */

#define TR__CHUNK_SHIFT 12
#define TR__CHUNK_SIZE (1u << TR__CHUNK_SHIFT)
#define TR__SLOT_BATCH 256 /* slots moved between a worker and the table */

typedef struct tr__table {
	_Atomic(tr__actor *)
	    *t_chunks; /* t_maxchunks entries, NULL until made */
	uint32_t t_maxchunks;
	uint32_t t_max; /* max_actors: slots at or above are never used */
	_Atomic uint32_t t_nchunks;
	pthread_mutex_t t_mx; /* guards growth and t_free */
	uint32_t *t_free;     /* free slots not held by a worker */
	uint32_t t_nfree;
	uint32_t t_freecap;
} tr__table;

/* tr__table_init: TR_EINVAL if max_actors is 0 or above TR_MAX_ACTORS. */
int tr__table_init(tr__table *t, uint32_t max_actors);
void tr__table_fini(tr__table *t);

/* tr__table_get returns the actor at slot, or NULL if none was ever made. */
static inline tr__actor *
tr__table_get(tr__table *t, uint32_t slot)
{
	uint32_t c = slot >> TR__CHUNK_SHIFT;
	if (c >= t->t_maxchunks)
		return NULL;
	/* acquire: pairs with the release store publishing a new chunk. */
	tr__actor *chunk = atomic_load_explicit(&t->t_chunks[c],
	    memory_order_acquire);
	return chunk == NULL ? NULL : &chunk[slot & (TR__CHUNK_SIZE - 1)];
}

/* tr__table_take moves up to n free slots into out and returns how many;
 * if fewer than n, *why says why: TR_ENOMEM (growing the table ran out of
 * memory) or TR_ELIMIT (max_actors slots are in use or held in workers'
 * caches). Locks t_mx. */
uint32_t tr__table_take(tr__table *t, uint32_t *out, uint32_t n, int *why);

/* tr__table_calloc allocates a table chunk (calloc); tests replace it to
 * make growth fail as out of memory. */
extern void *(*tr__table_calloc)(size_t n, size_t size);

/* tr__table_give returns n free slots. Locks t_mx. */
void tr__table_give(tr__table *t, const uint32_t *slots, uint32_t n);

/* ------------------------------------------------------------ the worker */

#define TR__RQ_SIZE 256
/* After this many sends in one turn, the LIFO slot's actor is moved to the
 * stealable queue: a long turn must not hold the actor it woke. */
#define TR__NEXT_RELEASE 64
#define TR__STACK_POOLS \
	8 /* distinct process stack sizes per system */ /* local run queue; overflow goes to the inject queue */

struct tr__worker {
	/* Thieves write rq_head: keep it on its own line. */
	_Alignas(64) _Atomic uint64_t rq_head;
	_Alignas(64) _Atomic uint64_t rq_tail; /* owner writes */
	_Atomic(tr__actor *) rq_buf[TR__RQ_SIZE];

	_Alignas(64) tr_system *w_sys;
	unsigned w_index;
	tr_ctx w_cx;
	tr__pool w_pool;
	tr__actor *w_next;    /* LIFO slot: the actor just made runnable */
	unsigned w_next_runs; /* consecutive turns taken from w_next */
	unsigned w_sends;     /* sends in the current turn */
	unsigned w_stale;     /* messages dropped unseen in the current turn */
	uint32_t w_tick;
	bool w_spinning;
	uint64_t w_rng;
	uint32_t w_slots[2 * TR__SLOT_BATCH]; /* free slots cached */
	uint32_t w_nslots;
	tr__thread w_thread;

	/* Parking: w_park is the futex word, guarded by sys->s_idle_mx. */
	_Atomic uint32_t w_park;
	tr__worker *w_idle_next;

	/* Processes: the worker's own context while one runs. */
	void *w_sched_sp;
	void *w_asan_fake; /* ASan/TSan fiber bookkeeping */
	const void *w_asan_bottom;
	size_t w_asan_size;
	void *w_tsan;
	tr__actor *w_current;                 /* actor being run */
	char w_exit_text[TR_REASON_TEXT_MAX]; /* see struct tr_ctx */
	uint64_t w_refs; /* reference counter (see tr_make_ref) */

	/* Timers filed on this worker (see timers.c). */
	tr__wheel w_wheel;
	uint64_t w_wheel_next; /* cached tr__wheel_next */
	tr__timer *w_tfree;    /* free timer objects */
	void **w_tslabs;
	size_t w_ntslabs;
	_Atomic(tr__timer *) w_tcancel; /* timers cancelled from elsewhere */

	/* What the worker runs, for tr_system_stop's report and idleness:
	 * written by the owner, read by the stopping thread. */
	_Atomic uintptr_t w_running; /* actor | TR__RUN_PROCESS; 0: between */
	_Atomic uint64_t w_turns;    /* turns begun */
	_Atomic bool w_tpending;     /* timers filed when it last parked */
	bool w_out;                  /* left worker_main; under s_idle_mx */
	bool w_joined;               /* joined (stopping thread only) */
	uint64_t w_stop_turns;       /* w_turns when stop last looked */
	int64_t w_stop_ns;           /* ... and when */

	/* Counters: written by the owner only, read by anyone (relaxed). */
	_Atomic uint64_t w_sent;
	_Atomic uint64_t w_dead;
	_Atomic uint64_t w_spawned;
	_Atomic uint64_t w_exited;
	_Atomic uint64_t w_offers; /* requeues that may wake a worker */
};

/* w_running: the low bit tags a process (actors are 8-byte aligned). */
#define TR__RUN_PROCESS ((uintptr_t) 1)

/* w_park states */
enum {
	TR__PARK_RUNNING = 0,
	TR__PARK_PARKED = 1,
	TR__PARK_WOKEN = 2, /* woken by a waker, handed a spinning token */
};

/* ------------------------------------------------------------ the system */

struct tr_system {
	tr_system_config s_cfg;
	unsigned s_nworkers;
	tr__worker *s_workers; /* array of s_nworkers, 64-byte aligned */
	tr__table s_table;
	tr__pool_global *s_pool;

	/* Inject queue: runnable actors from plain threads and overflow. */
	pthread_mutex_t s_inject_mx;
	tr__actor *s_inject_head, *s_inject_tail;
	_Atomic uint32_t s_inject_len;

	/* Parking and idleness. */
	pthread_mutex_t s_idle_mx;
	pthread_cond_t s_idle_cv; /* broadcast when every worker parks */
	tr__worker *s_idle;       /* parked workers */
	_Atomic uint32_t s_nparked;
	_Atomic uint32_t s_nspinning;
	_Atomic bool s_stopping;
	unsigned s_nexited;    /* workers out of worker_main, under s_idle_mx */
	unsigned s_stop_calls; /* tr_system_stop calls (stopping thread) */
	_Atomic uint64_t s_wakeups; /* parked workers woken for work */
	_Atomic uint64_t s_steals;  /* idle workers' successful steals */

	/* Plain-thread spawns and sends, and the shared pool lock. */
	pthread_mutex_t s_ext_mx;
	_Atomic uint64_t s_ext_spawned;
	_Atomic uint64_t s_ext_sent;
	_Atomic uint64_t s_ext_dead;
	_Atomic uint64_t s_stop_exited; /* actors ended by tr_system_stop */
	int64_t s_spin_ns;
	int64_t s_t0_ns; /* timer clock origin */
	_Atomic uint64_t s_ext_refs;
	/* Stack pools by size, made on first use, under s_ext_mx. */
	struct tr__stack_pool *s_stacks[TR__STACK_POOLS];
	unsigned s_nstacks;
	struct tr__names *s_names;
	tr__map s_waits;    /* TR_SPAWN_WAIT records, under s_ext_mx */
	tr__timer *s_tfree; /* plain threads' timers, under s_ext_mx */
	tr__timer *s_tin;   /* ... handed to worker 0, under s_ext_mx */
	_Atomic uint32_t s_tin_len;
	void **s_tslabs;
	size_t s_ntslabs;
	/* Random, nonzero, drawn at start: what pids and references of this
	 * system carry on the wire (actors/term.c, docs/protocol.md). */
	uint64_t s_incarnation;
};

/* The worker running on this thread, if any (any system). */
extern _Thread_local tr__worker *tr__tls_worker;

/* ------------------------------------------------------------ helpers */

/* tr__lookup returns the live local actor pid names, or NULL. */
static inline tr__actor *
tr__lookup(tr_system *sys, tr_pid pid)
{
	tr__actor *a = tr__table_get(&sys->s_table, pid.slot);
	if (a == NULL ||
	    atomic_load_explicit(&a->a_gen, memory_order_relaxed) != pid.gen ||
	    !TR__GEN_ALIVE(pid.gen))
		return NULL;
	return a;
}

/* tr__pid_of returns a's current pid. */
static inline tr_pid
tr__pid_of(tr__actor *a)
{
	return (tr_pid){ 0, a->a_slot,
		atomic_load_explicit(&a->a_gen, memory_order_relaxed) };
}

/* Message blocks from the calling thread's pool p, or the shared one. */
static inline tr_msg *
tr__msg_new_any(tr_system *sys, tr__pool *p, size_t len)
{
	return p != NULL ? tr__msg_new(p, len)
	                 : tr__msg_new_shared(sys->s_pool, len);
}

static inline void
tr__msg_delete_any(tr_system *sys, tr__pool *p, tr_msg *m)
{
	if (p != NULL)
		tr__msg_delete(p, m);
	else
		tr__msg_delete_shared(sys->s_pool, m);
}

/* tr__add adds n to an owner-only counter (plain load and store, relaxed
 * for readers); tr__count adds one. */
static inline void
tr__add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c,
	    atomic_load_explicit(c, memory_order_relaxed) + n,
	    memory_order_relaxed);
}

static inline void
tr__count(_Atomic uint64_t *c)
{
	tr__add(c, 1);
}

/* tr__cur_pool returns the calling thread's pool if it is a worker of sys. */
static inline tr__pool *
tr__cur_pool(tr_system *sys)
{
	tr__worker *w = tr__tls_worker;
	return w != NULL && w->w_sys == sys ? &w->w_pool : NULL;
}

/* ---------------------------------------------------------- scheduling */

/* tr__sched_start starts the workers. */
int tr__sched_start(tr_system *sys);

/* tr__sched_stop tells the workers to stop after their current turn and
 * joins those that did within timeout_ms (< 0: no limit); 0 once all are
 * joined, else TR_ETIMEDOUT (call again to wait again).  Thread: the
 * stopping thread, one at a time. */
int tr__sched_stop(tr_system *sys, int64_t timeout_ms);

/* tr__cond_wait_until waits on cv (mx held) until woken or the monotonic
 * time deadline_ns (< 0: none); false if the deadline has passed. */
bool tr__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mx,
    int64_t deadline_ns);

/* tr__sched_push puts a runnable actor on w's local queue. Thread: w. */
void tr__sched_push(tr__worker *w, tr__actor *a);

/* tr__sched_requeue puts a, which w has just run and which wants to run
 * again (a yield, a used-up budget), on w's queue; it wakes no other
 * worker when nothing else is runnable on w.  Thread: w. */
void tr__sched_requeue(tr__worker *w, tr__actor *a);

/* tr__sched_make_runnable schedules a, which a send from the running actor
 * on w just woke: it goes in w's LIFO slot. Thread: w. */
void tr__sched_make_runnable(tr__worker *w, tr__actor *a);

/* tr__sched_release_next moves w's LIFO-slot actor to its queue, where
 * idle workers can steal it. Thread: w. */
void tr__sched_release_next(tr__worker *w);

/* tr__sched_inject schedules a from any thread (inject queue + wake). */
void tr__sched_inject(tr_system *sys, tr__actor *a);

/* tr__sched_kick wakes w if it is parked (it has new timers). */
void tr__sched_kick(tr_system *sys, tr__worker *w);

/* tr__sched_wake_all wakes every parked worker (stop). */
void tr__sched_wake_all(tr_system *sys);

/* ------------------------------------------------------------- actors */

/* tr__actor_run gives a its turn on w. */
void tr__actor_run(tr__worker *w, tr__actor *a);

/* tr__actor_schedule schedules a from wherever the caller runs. */
void tr__actor_schedule(tr_system *sys, tr__actor *a);

/* tr__actor_teardown ends every actor left at stop (on the stopping
 * thread, workers joined) and frees what remains in every slot. */
void tr__actor_teardown(tr_system *sys);

/* tr__waiter_complete fills w's info and wakes its thread; drops a ref. */
void tr__waiter_complete(tr__waiter *wt, tr_reason_kind kind, const char *text);

/* tr__waiter_rele drops one reference. */
void tr__waiter_rele(tr__waiter *wt);

/* tr__ext_free frees a's extension record (and forgets it). */
void tr__ext_free(tr__actor *a);

/* tr__ext_get returns a's extension record, made on first use (NULL on
 * ENOMEM). Thread: a's worker. */
tr__ext *tr__ext_get(tr__actor *a);

/* tr__post builds and queues a message from `from` to `to` (a local pid)
 * with the given fields; p is the calling thread's pool (NULL: shared).
 * Dead targets count as dead letters.  TR_ENOMEM or 0. */
int tr__post(tr_system *sys, tr__pool *p, tr_pid from, tr_pid to, uint32_t tag,
    uint16_t flags, uint64_t ref, const void *data, size_t len);

/* tr__post_msg queues a filled message (m_to_gen is set from to). */
void tr__post_msg(tr_system *sys, tr__pool *p, tr_pid to, tr_msg *m);

/* tr__signal queues a lane signal of kind for to, from `from`; if to is
 * gone, acts for it (replies noproc) and returns TR_ENOPROC. */
int tr__signal(tr_system *sys, tr__pool *p, tr_pid from, tr_pid to,
    uint32_t kind, uint64_t ref);

/* tr__reason_pack encodes kind/text as a reason payload into buf
 * (TR__REASON_BUF bytes); returns the length. */
#define TR__REASON_BUF (TR_REASON_TEXT_MAX + 8)
size_t tr__reason_pack(void *buf, tr_reason_kind kind, const char *text);

/* tr__run_lane handles a's pending lane signals. Thread: a's worker. */
void tr__run_lane(tr__worker *w, tr__actor *a);
/* tr__info_answer answers the tr_actor_info_get signal s: with a's own
 * details if alive (a's owner thread), else as gone; frees nothing. */
void tr__info_answer(tr__actor *a, tr_msg *s, bool alive);

/* tr__noproc_answer answers, for the gone actor `gone`, a lane request of
 * kind from `from`: a link gets an exit signal and a monitor a DOWN, both
 * with reason noproc and from `gone`; other kinds need no answer. */
void tr__noproc_answer(tr_system *sys, tr__pool *p, tr_pid gone, tr_pid from,
    uint32_t kind, uint64_t ref);

/*
 * tr__sysmsg decides what to do with a message carrying a system tag or
 * the reply flag, taken off a's queue: TR__DELIVER (to the actor's code),
 * TR__DROP (freed by the caller), TR__DIE (the actor must exit; reason
 * left in the context).  Thread: a's worker.
 */
enum { TR__DELIVER = 0, TR__DROP = 1, TR__DIE = 2 };
int tr__sysmsg(tr__worker *w, tr_ctx *cx, tr__actor *a, tr_msg *m);

/* tr__delivered: m is being handed to the actor's code (a DOWN ends its
 * monitor there). */
void tr__delivered(tr__actor *a, tr_msg *m);

/*
 * Test-only race hook: tests (through troupe_testing) may set tr__hook to
 * widen a race window that is otherwise nanoseconds wide.  It is called,
 * on the thread at that point, with the actor concerned:
 *   TR__HOOK_SIGNAL: in tr__signal, after the target was looked up and
 *                    before the request is pushed on its lane;
 *   TR__HOOK_SPAWN:  in spawn, after the new actor is published and
 *                    before it is made idle;
 *   TR__HOOK_DROP:   when a message is dropped unseen (stale).
 * NULL (always, outside tests): nothing is called.
 */
enum { TR__HOOK_SIGNAL = 1, TR__HOOK_SPAWN = 2, TR__HOOK_DROP = 3 };
typedef void (*tr__hook_fn)(int point, tr__actor *a);
extern _Atomic(tr__hook_fn) tr__hook;

static inline void
tr__hook_at(int point, tr__actor *a)
{
	/* relaxed: a test sets the hook before it stages the race, and the
	 * hook synchronises with the test by its own means. */
	tr__hook_fn f = atomic_load_explicit(&tr__hook, memory_order_relaxed);
	if (__builtin_expect(f != NULL, 0))
		f(point, a);
}

/* What tr__mbox_next found when it returns NULL. */
enum { TR__NEXT_EMPTY = 0, TR__NEXT_DIE = 1, TR__NEXT_BUSY = 2 };

/* tr__stale counts a message dropped unseen (a dead letter, a late reply,
 * a stale DOWN or receive timeout, an ignored exit signal) against the
 * turn: true when the turn has dropped a budget's worth and must end, so
 * that a stream of them cannot hold the worker. Thread: w. */
static inline bool
tr__stale(tr__worker *w, tr__actor *a)
{
	tr__hook_at(TR__HOOK_DROP, a);
	return ++w->w_stale >= w->w_sys->s_cfg.budget;
}

/*
 * tr__mbox_next takes the next message for a's code off its mailbox
 * (a of generation gen, running on w with cx): messages for an older
 * incarnation are dropped as dead letters, system messages go through
 * tr__sysmsg.  Returns NULL when nothing is left (or a push is under way);
 * then *st (which the caller sets to TR__NEXT_EMPTY) tells whether a
 * signal ended the actor (TR__NEXT_DIE, reason in cx) or the turn has
 * dropped its budget's worth of stale messages (TR__NEXT_BUSY: end the
 * turn, or yield, and come back).
 * Thread: a's worker.
 */
static inline tr_msg *
tr__mbox_next(tr__worker *w, tr_ctx *cx, tr__actor *a, uint32_t gen, int *st)
{
	for (;;) {
		tr__node *nd = tr__mpsc_pop(&a->a_mbox);
		if (nd == NULL)
			return NULL;
		tr_msg *m = (tr_msg *) nd;
		if (__builtin_expect(m->m_to_gen != gen, 0)) {
			tr__count(&w->w_dead);
			tr__msg_delete(&w->w_pool, m);
			goto dropped;
		}
		if (__builtin_expect(m->m_tag >= TR_TAG_SYSTEM ||
		            (m->m_flags & TR_MSG_REPLY) != 0,
		        0)) {
			int r = tr__sysmsg(w, cx, a, m);
			if (r != TR__DELIVER) {
				tr__msg_delete(&w->w_pool, m);
				if (r == TR__DIE) {
					*st = TR__NEXT_DIE;
					return NULL;
				}
				goto dropped;
			}
		}
		return m;
	dropped:
		if (tr__stale(w, a)) {
			*st = TR__NEXT_BUSY;
			return NULL;
		}
	}
}

/* tr__signals_slow: see tr__signals. */
bool tr__signals_slow(tr__worker *w, tr_ctx *cx, tr__actor *a);

/* tr__signals acts on a's pending lane signals and, if an exit signal
 * asked for it, drains its mailbox to the inner queue; true if the actor
 * must die (reason in cx).  Inline: nearly always there is nothing.
 * Thread: a's worker. */
static inline bool
tr__signals(tr__worker *w, tr_ctx *cx, tr__actor *a)
{
	if (__builtin_expect(cx->cx_exit_set ||
	            atomic_load_explicit(&a->a_sig.l_top,
	                memory_order_relaxed) != 0 ||
	            (atomic_load_explicit(&a->a_xflags, memory_order_relaxed) &
	                TR__X_URGENT) != 0,
	        0))
		return tr__signals_slow(w, cx, a);
	return false;
}

/* tr__end_turn ends a's turn once it wants nothing more from its inner
 * queue: a goes idle if its mailbox is empty, else back on w's queue.
 * Thread: w. */
static inline void
tr__end_turn(tr__worker *w, tr__actor *a)
{
	if (tr__mpsc_mark_empty(&a->a_mbox)) {
		/* Idle now, unless a signal slipped in (see design notes). */
		if (!tr__lane_pending(&a->a_sig) || !tr__mpsc_claim(&a->a_mbox))
			return;
	}
	tr__sched_push(w, a);
}

/* tr__pull moves what the mailbox holds into the inner queue, acting on
 * system messages as they come, in order; returns TR__DIE if one kills
 * the actor.  Stopped short (a push under way, or the turn's stale budget
 * spent), it leaves TR__X_URGENT set to look again.  Thread: a's worker. */
int tr__pull(tr__worker *w, tr_ctx *cx, tr__actor *a);

/* tr__inner_push appends m to a's inner queue. */
static inline void
tr__inner_push(tr__actor *a, tr_msg *m)
{
	atomic_store_explicit(&m->m_node.next, NULL, memory_order_relaxed);
	if (a->a_in_tail != NULL)
		atomic_store_explicit(&a->a_in_tail->m_node.next, &m->m_node,
		    memory_order_relaxed);
	else
		a->a_in_head = m;
	a->a_in_tail = m;
}

/* tr__inner_next returns the message after m in the inner queue. */
static inline tr_msg *
tr__inner_next(tr_msg *m)
{
	return (tr_msg *) atomic_load_explicit(&m->m_node.next,
	    memory_order_relaxed);
}

/* tr__inner_remove unlinks m (whose predecessor is prev, NULL if head). */
void tr__inner_remove(tr__actor *a, tr_msg *prev, tr_msg *m);

/* tr__finish ends actor a (see actor.c); w NULL at stop. */
void tr__finish(tr_system *sys, tr__worker *w, tr__pool *p, tr__actor *a,
    tr_reason_kind kind, const char *text);

/* tr__exit_reason reads an actor's exit from its context after a handler
 * or process returned r; fills *kind and returns the text. */
const char *tr__exit_reason(tr_ctx *cx, int r, tr_reason_kind *kind, char *buf,
    size_t len);

/* tr__incarnation_draw returns a random nonzero 64-bit number (salt:
 * mixed in if the OS gives no entropy). Thread: any. */
uint64_t tr__incarnation_draw(void *salt);

/* tr__new_ref returns a fresh reference. Thread: any. */
uint64_t tr__new_ref(tr_system *sys);

/* Processes (process.c). */
int tr__proc_make(tr_system *sys, tr__actor *a, tr_process_fn fn,
    size_t stack_size, bool compact);
void tr__proc_exit(tr_ctx *cx) __attribute__((noreturn));
void tr__proc_run(tr__worker *w, tr__actor *a);
void tr__proc_worker_init(tr__worker *w);
void tr__proc_free(tr_system *sys, tr__actor *a);

/* Timers (timers.c). */
int tr__timers_init(tr__worker *w);
void tr__timers_fini(tr__worker *w);
/* tr__timers_run fires what is due; returns ms until the next deadline
 * (-1: none). */
int64_t tr__timers_run(tr__worker *w);
/* tr__timer_start files a timer on the calling worker (w) or, for plain
 * threads (w NULL), hands it to worker 0. Takes m on success. */
int tr__timer_start(tr_system *sys, tr__worker *w, tr_pid to, int64_t delay_ms,
    tr_msg *m, tr_timer *out);
/* tr__now_ms: the timer clock (ms since the system started). */
uint64_t tr__now_ms(tr_system *sys);

/* Names (names.c). */
int tr__names_init(tr_system *sys);
void tr__names_fini(tr_system *sys);
void tr__names_drop(tr_system *sys, tr__actor *a, tr_pid pid);
/* tr__names_of copies a's registered name to buf (truncated to len);
 * false if it has none, or (try) if the registry is busy.  With try it
 * takes no lock it may wait for (the stack overflow report). */
bool tr__names_of(tr_system *sys, tr__actor *a, char *buf, size_t len,
    bool try);
/* tr__name_ok: name is 1..TR_NAME_MAX bytes. */
bool tr__name_ok(const char *name);
/* tr__names_spawn_claim registers name for a (pid, not yet published) and
 * returns 0 with the names lock held (release it with
 * tr__names_spawn_done once pid's generation is published), or TR_EEXIST
 * / TR_ENOMEM with it released. */
int tr__names_spawn_claim(tr_system *sys, const char *name, tr__actor *a,
    tr_pid pid);
void tr__names_spawn_done(tr_system *sys);
/* tr__names_of_pid copies pid's registered name into buf (TR_NAME_MAX + 1
 * bytes) and returns true, or false if it has none. */
bool tr__names_of_pid(tr_system *sys, tr_pid pid, char *buf);

/* tr__log formats a line and hands it to the system's logging hook. */
void tr__log(tr_system *sys, tr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tr__reason_format writes the text of an exit reason into buf. */
void tr__reason_format(char *buf, size_t len, tr_reason r);

#endif /* TROUPE_ACTORS_ACTORS_INT_H */
