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

#include "actors/platform.h"
#include "mailbox/mailbox.h"

typedef struct tr__actor tr__actor;
typedef struct tr__worker tr__worker;
typedef struct tr__waiter tr__waiter;

/* ------------------------------------------------------------ the actor */

/*
 * Slot generations: odd while an actor lives in the slot, even while it is
 * free.  Exit and spawn each add one, so a pid (always odd) matches only
 * the incarnation it was made for.
 */
#define TR__GEN_ALIVE(g) (((g) &1u) != 0)

/* a_flags, touched only by the worker running the actor (or its spawner). */
enum {
	TR__A_INIT = 1u << 0, /* a_init has not run yet */
};

/*
 * tr__actor lives in a table chunk and is never freed while the system
 * runs (type-stable memory), so a sender holding a stale pid may still
 * touch its mailbox safely; the generation check (at send, and again when
 * a message is taken off the queue) keeps messages from reaching a later
 * incarnation.  Senders touch only a_mbox, a_sig and a_gen.
 */
struct tr__actor {
	tr__mpsc a_mbox;          /* messages */
	tr__lane a_sig;           /* signals, handled first */
	_Atomic uint32_t a_gen;   /* see TR__GEN_ALIVE */
	uint32_t a_flags;         /* TR__A_* */
	uint32_t a_slot;          /* index in the table */
	uint32_t a_spare;
	tr_actor_fn a_fn;
	void *a_state;
	tr_state_free_fn a_free;
	tr_init_fn a_init;
	tr__actor *a_link;        /* inject queue and teardown lists */
	tr__waiter *a_waiters;    /* plain threads in tr_wait */
};

/* ------------------------------------------------------------- signals */

/* Signal kinds travelling on an actor's signal lane. */
enum {
	TR__SIG_WAIT = 1, /* a plain thread waits for the exit: tr__waiter */
};

/* tr__sig is the header every signal starts with. */
typedef struct tr__sig {
	tr__node s_node;  /* must stay first */
	uint32_t s_kind;  /* TR__SIG_* */
	uint32_t s_to_gen; /* incarnation it is for */
} tr__sig;

/* tr__waiter: a plain thread waiting in tr_wait; two references (the
 * waiting thread's and the actor's), freed by whoever drops the last. */
struct tr__waiter {
	tr__sig wt_sig;           /* must stay first */
	tr__waiter *wt_next;      /* in a_waiters */
	_Atomic uint32_t wt_done; /* futex word: 1 when info is filled */
	_Atomic int wt_refs;
	tr_exit_info wt_info;
};

/* --------------------------------------------------------------- context */

/*
 * tr_ctx: what actor code runs with.  For an event actor it is its
 * worker's context, pointing at the actor being run.
 */
struct tr_ctx {
	tr__worker *cx_w;
	tr__actor *cx_self;
	bool cx_exit_set;         /* tr_exit was called */
	tr_reason_kind cx_exit_kind;
	char cx_exit_text[TR_REASON_TEXT_MAX];
};

/* ------------------------------------------------------------ the table */

#define TR__CHUNK_SHIFT 12
#define TR__CHUNK_SIZE (1u << TR__CHUNK_SHIFT)
#define TR__SLOT_BATCH 256 /* slots moved between a worker and the table */

typedef struct tr__table {
	_Atomic(tr__actor *) *t_chunks; /* t_maxchunks entries, NULL until made */
	uint32_t t_maxchunks;
	_Atomic uint32_t t_nchunks;
	pthread_mutex_t t_mx;     /* guards growth and t_free */
	uint32_t *t_free;         /* free slots not held by a worker */
	uint32_t t_nfree;
	uint32_t t_freecap;
} tr__table;

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
	tr__actor *chunk = atomic_load_explicit(&t->t_chunks[c], memory_order_acquire);
	return chunk == NULL ? NULL : &chunk[slot & (TR__CHUNK_SIZE - 1)];
}

/* tr__table_take moves up to n free slots into out; returns how many
 * (0: table full or ENOMEM). Locks t_mx. */
uint32_t tr__table_take(tr__table *t, uint32_t *out, uint32_t n);

/* tr__table_give returns n free slots. Locks t_mx. */
void tr__table_give(tr__table *t, const uint32_t *slots, uint32_t n);

/* ------------------------------------------------------------ the worker */

#define TR__RQ_SIZE 256 /* local run queue; overflow goes to the inject queue */

struct tr__worker {
	/* Thieves write rq_head: keep it on its own line. */
	_Alignas(64) _Atomic uint64_t rq_head;
	_Alignas(64) _Atomic uint64_t rq_tail; /* owner writes */
	_Atomic(tr__actor *) rq_buf[TR__RQ_SIZE];

	_Alignas(64) tr_system *w_sys;
	unsigned w_index;
	tr_ctx w_cx;
	tr__pool w_pool;
	tr__actor *w_next;        /* LIFO slot: the actor just made runnable */
	unsigned w_next_runs;     /* consecutive turns taken from w_next */
	uint32_t w_tick;
	bool w_spinning;
	uint64_t w_rng;
	uint32_t w_slots[2 * TR__SLOT_BATCH]; /* free slots cached */
	uint32_t w_nslots;
	tr__thread w_thread;

	/* Parking: w_park is the futex word, guarded by sys->s_idle_mx. */
	_Atomic uint32_t w_park;
	tr__worker *w_idle_next;

	/* Counters: written by the owner only, read by anyone (relaxed). */
	_Atomic uint64_t w_sent;
	_Atomic uint64_t w_dead;
	_Atomic uint64_t w_spawned;
	_Atomic uint64_t w_exited;
};

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
	tr__worker *s_workers;    /* array of s_nworkers, 64-byte aligned */
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

	/* Plain-thread spawns and sends, and the shared pool lock. */
	pthread_mutex_t s_ext_mx;
	_Atomic uint64_t s_ext_spawned;
	_Atomic uint64_t s_ext_sent;
	_Atomic uint64_t s_ext_dead;
	_Atomic uint64_t s_stop_exited; /* actors ended by tr_system_stop */
	int64_t s_spin_ns;
};

/* The worker running on this thread, if any (any system). */
extern _Thread_local tr__worker *tr__tls_worker;

/* ---------------------------------------------------------- scheduling */

/* tr__sched_start starts the workers; tr__sched_stop stops and joins them. */
int tr__sched_start(tr_system *sys);
void tr__sched_stop(tr_system *sys);

/* tr__sched_push puts a runnable actor on w's local queue. Thread: w. */
void tr__sched_push(tr__worker *w, tr__actor *a);

/* tr__sched_make_runnable schedules a, which a send from the running actor
 * on w just woke: it goes in w's LIFO slot. Thread: w. */
void tr__sched_make_runnable(tr__worker *w, tr__actor *a);

/* tr__sched_inject schedules a from any thread (inject queue + wake). */
void tr__sched_inject(tr_system *sys, tr__actor *a);

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

/* tr__log formats a line and hands it to the system's logging hook. */
void tr__log(tr_system *sys, tr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* tr__reason_format writes the text of an exit reason into buf. */
void tr__reason_format(char *buf, size_t len, tr_reason r);

#endif /* TROUPE_ACTORS_ACTORS_INT_H */
