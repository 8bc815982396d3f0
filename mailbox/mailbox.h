/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_MAILBOX_MAILBOX_H
#define TROUPE_MAILBOX_MAILBOX_H

/*
 * mailbox/: message blocks, their pooled allocator, the intrusive MPSC
 * queue an actor's messages arrive on, and the signal lane.  Knows nothing
 * of actors or systems.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/msg.h>
#include <troupe/pid.h>

/* ------------------------------------------------------------ the node */

/* tr__node links a block into a queue; every message starts with one. */
typedef struct tr__node {
	_Atomic(struct tr__node *) next;
} tr__node;

/* ---------------------------------------------------------- the message */

struct tr_msg {
	tr__node m_node;   /* queue link; must stay first */
	tr_pid m_from;     /* sender */
	uint32_t m_tag;    /* user tag, or a TR_TAG_SYSTEM one */
	uint32_t m_to_gen; /* generation of the target slot when sent */
	uint32_t m_len;    /* payload bytes */
	uint16_t m_flags;  /* TR_MSG_* */
	uint8_t m_class;   /* pool size class; TR__POOL_BIG: malloc'd */
	uint8_t m_spare;
	uint64_t m_ref;         /* request/reply reference */
	unsigned char m_data[]; /* payload */
};

/* Internal message flags (never shown by tr_msg_flags). */
#define TR__MSG_LINKED 0x8000u /* an exit signal sent by a link */
#define TR__MSG_PUBLIC 0x00ffu

/* ------------------------------------------------------------- the pool */

/*
 * A tr__pool is one thread's free lists of message blocks by size class.
 * Any thread may free a block into its own pool, whichever pool it came
 * from: blocks are plain memory of their class.  A pool that holds too
 * many blocks of a class hands a batch to the shared tr__pool_global; an
 * empty one takes a batch from it or carves a new slab.  Blocks above the
 * largest class come from malloc.  Slabs live until tr__pool_global_fini.
 */
#define TR__POOL_CLASSES 8 /* 64, 128, ... 8192 bytes */
#define TR__POOL_BIG 0xff
#define TR__POOL_BATCH 128 /* blocks moved between a pool and the global one */

typedef struct tr__pool_global tr__pool_global;

typedef struct tr__pool {
	tr__pool_global *p_global;
	struct tr__fblock *p_free[TR__POOL_CLASSES];
	uint32_t p_count[TR__POOL_CLASSES];
	/* Allocated here minus freed here (the owner writes). */
	_Atomic int64_t p_live;
	bool p_shared; /* the global pool's own: callers hold its lock */
} tr__pool;

/* tr__pool_global_alloc makes the shared part; NULL on ENOMEM. */
tr__pool_global *tr__pool_global_alloc(void);

/* tr__pool_global_free frees every slab: all blocks must be dead by now. */
void tr__pool_global_free(tr__pool_global *g);

/* tr__pool_init readies a per-thread pool on g. */
void tr__pool_init(tr__pool *p, tr__pool_global *g);

/* tr__pool_fini hands p's free blocks back to its global pool. Thread: any,
 * but only one at a time per global pool for blocks counted in p_live. */
void tr__pool_fini(tr__pool *p);

/* tr__pool_global_live returns blocks allocated minus freed through pools
 * that were finalized and through g's shared pool. */
int64_t tr__pool_global_live(tr__pool_global *g);

/* A free block's first words (the rest of it is poisoned under ASan). */
struct tr__fblock {
	struct tr__fblock *next;      /* next block of the batch/list */
	struct tr__fblock *nextbatch; /* next batch (global pool only) */
};

/* Out-of-line halves of tr__msg_new and tr__msg_delete (pool.c). */
tr_msg *tr__msg_new_slow(tr__pool *p, size_t len);
void tr__msg_delete_slow(tr__pool *p, tr_msg *m);

#if defined(__SANITIZE_ADDRESS__)
#define TR__POOL_INLINE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR__POOL_INLINE 0
#endif
#endif
#ifndef TR__POOL_INLINE
#define TR__POOL_INLINE 1
#endif

static inline void
tr__pool_count(tr__pool *p, int64_t d)
{
	/* Owner-only: a plain load and store, relaxed for readers. */
	atomic_store_explicit(&p->p_live,
	    atomic_load_explicit(&p->p_live, memory_order_relaxed) + d,
	    memory_order_relaxed);
}

/*
 * tr__msg_new allocates a message with a len-byte payload from p, the
 * calling thread's pool.  Header fields other than m_class and m_len are
 * left for the caller.  NULL on ENOMEM.  The common case (a 64-byte block
 * from a non-empty list) is inline.
 */
static inline tr_msg *
tr__msg_new(tr__pool *p, size_t len)
{
	struct tr__fblock *b = p->p_free[0];
	if (TR__POOL_INLINE && len <= 64 - sizeof(tr_msg) && b != NULL) {
		p->p_free[0] = b->next;
		p->p_count[0]--;
		tr__pool_count(p, 1);
		tr_msg *m = (tr_msg *) (void *) b;
		m->m_class = 0;
		m->m_len = (uint32_t) len;
		return m;
	}
	return tr__msg_new_slow(p, len);
}

/* tr__msg_delete returns m, from any pool, to p. */
static inline void
tr__msg_delete(tr__pool *p, tr_msg *m)
{
	if (TR__POOL_INLINE && m->m_class == 0 &&
	    p->p_count[0] < 2 * TR__POOL_BATCH) {
		struct tr__fblock *b = (struct tr__fblock *) (void *) m;
		b->next = p->p_free[0];
		p->p_free[0] = b;
		p->p_count[0]++;
		tr__pool_count(p, -1);
		return;
	}
	tr__msg_delete_slow(p, m);
}

/* tr__copy copies a payload; short ones without a call. */
static inline void
tr__copy(void *dst, const void *src, size_t len)
{
	if (len <= 16) {
		unsigned char *d = dst;
		const unsigned char *s = src;
		if (len >= 8) {
			uint64_t a, b;
			__builtin_memcpy(&a, s, 8);
			__builtin_memcpy(&b, s + len - 8, 8);
			__builtin_memcpy(d, &a, 8);
			__builtin_memcpy(d + len - 8, &b, 8);
		} else if (len >= 4) {
			uint32_t a, b;
			__builtin_memcpy(&a, s, 4);
			__builtin_memcpy(&b, s + len - 4, 4);
			__builtin_memcpy(d, &a, 4);
			__builtin_memcpy(d + len - 4, &b, 4);
		} else {
			for (size_t i = 0; i < len; i++)
				d[i] = s[i];
		}
		return;
	}
	__builtin_memcpy(dst, src, len);
}

/* tr__msg_new_shared and tr__msg_delete_shared are the same for threads
 * without a pool of their own: they use g's shared pool under its lock. */
tr_msg *tr__msg_new_shared(tr__pool_global *g, size_t len);
void tr__msg_delete_shared(tr__pool_global *g, tr_msg *m);

/* --------------------------------------------------------- MPSC mailbox */

/*
 * tr__mpsc: intrusive Vyukov queue with a stub node.  Producers push with
 * one atomic exchange on m_head; the single consumer pops from m_tail.
 * The low bit of m_head means "empty and not scheduled": the push that
 * finds it set returns true and that sender alone schedules the consumer
 * (Pony's messageq).  The consumer sets the bit again with
 * tr__mpsc_mark_empty when it has drained the queue.
 */
typedef struct tr__mpsc {
	_Atomic(uintptr_t) q_head; /* producers; low bit: idle */
	tr__node *q_tail;          /* consumer only */
	tr__node q_stub;
} tr__mpsc;

#define TR__MPSC_IDLE ((uintptr_t) 1)

/* tr__mpsc_init makes q empty; idle says whether it starts unscheduled. */
static inline void
tr__mpsc_init(tr__mpsc *q, bool idle)
{
	atomic_init(&q->q_stub.next, NULL);
	q->q_tail = &q->q_stub;
	atomic_init(&q->q_head,
	    (uintptr_t) &q->q_stub | (idle ? TR__MPSC_IDLE : 0));
}

/*
 * tr__mpsc_push appends n.  Returns true if the queue was idle: the caller
 * must then schedule the consumer.  Thread: any.
 */
static inline bool
tr__mpsc_push(tr__mpsc *q, tr__node *n)
{
	atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
	/* acq_rel: release publishes n's contents and NULL next to the
	 * consumer; acquire orders us after the previous pusher, whose node
	 * we link to.  Pairs with the acquire loads in tr__mpsc_pop. */
	uintptr_t prev = atomic_exchange_explicit(&q->q_head, (uintptr_t) n,
	    memory_order_acq_rel);
	tr__node *p = (tr__node *) (prev & ~TR__MPSC_IDLE);
	/* release: the consumer's acquire load of next sees n complete. */
	atomic_store_explicit(&p->next, n, memory_order_release);
	return (prev & TR__MPSC_IDLE) != 0;
}

/*
 * tr__mpsc_pop removes the oldest node, or returns NULL when the queue is
 * empty or a producer is between its exchange and its link (the queue is
 * then not empty: tr__mpsc_mark_empty will fail).  Thread: consumer.
 */
static inline tr__node *
tr__mpsc_pop(tr__mpsc *q)
{
	tr__node *tail = q->q_tail;
	/* acquire: pairs with the release link in tr__mpsc_push. */
	tr__node *next = atomic_load_explicit(&tail->next,
	    memory_order_acquire);
	if (tail == &q->q_stub) {
		if (next == NULL)
			return NULL;
		q->q_tail = next;
		tail = next;
		next = atomic_load_explicit(&tail->next, memory_order_acquire);
	}
	if (next != NULL) {
		q->q_tail = next;
		return tail;
	}
	/* tail is the last node unless a push is under way. */
	uintptr_t head = atomic_load_explicit(&q->q_head, memory_order_acquire);
	if ((tr__node *) (head & ~TR__MPSC_IDLE) != tail)
		return NULL;
	/* Put the stub back behind tail so that tail can be taken.  The
	 * consumer never sees the idle bit set here: only it sets that bit. */
	tr__mpsc_push(q, &q->q_stub);
	next = atomic_load_explicit(&tail->next, memory_order_acquire);
	if (next != NULL) {
		q->q_tail = next;
		return tail;
	}
	return NULL;
}

/*
 * tr__mpsc_mark_empty sets the idle bit if the queue is empty, so that the
 * next push reports it.  Returns false if something is queued (or being
 * pushed): the consumer must then stay scheduled.  Thread: consumer.
 */
static inline bool
tr__mpsc_mark_empty(tr__mpsc *q)
{
	uintptr_t tail = (uintptr_t) q->q_tail;
	if (tail != (uintptr_t) &q->q_stub ||
	    atomic_load_explicit(&q->q_stub.next, memory_order_acquire) != NULL)
		return false;
	/* seq_cst: pairs with the seq_cst signal-lane push and head load in
	 * the signal path (see actors/actor.c, "signals and the idle bit"). */
	return atomic_compare_exchange_strong_explicit(&q->q_head, &tail,
	    tail | TR__MPSC_IDLE, memory_order_seq_cst, memory_order_relaxed);
}

/*
 * tr__mpsc_claim clears the idle bit if it is set.  Returns true if this
 * call cleared it: the caller then schedules the consumer.  Thread: any.
 */
static inline bool
tr__mpsc_claim(tr__mpsc *q)
{
	uintptr_t h = atomic_load_explicit(&q->q_head, memory_order_seq_cst);
	while (h & TR__MPSC_IDLE) {
		if (atomic_compare_exchange_weak_explicit(&q->q_head, &h,
		        h & ~TR__MPSC_IDLE, memory_order_seq_cst,
		        memory_order_seq_cst))
			return true;
	}
	return false;
}

/* tr__mpsc_drained tells whether the consumer has taken everything
 * pushed so far (false while a push is under way). Thread: consumer. */
static inline bool
tr__mpsc_drained(tr__mpsc *q)
{
	uintptr_t head = atomic_load_explicit(&q->q_head, memory_order_acquire);
	return q->q_tail == &q->q_stub &&
	    (tr__node *) (head & ~TR__MPSC_IDLE) == &q->q_stub;
}

/* tr__mpsc_is_idle tells whether the idle bit is set (a snapshot). */
static inline bool
tr__mpsc_is_idle(tr__mpsc *q)
{
	return (atomic_load_explicit(&q->q_head, memory_order_acquire) &
	           TR__MPSC_IDLE) != 0;
}

/* ---------------------------------------------------------- signal lane */

/*
 * tr__lane: the signal lane, a lock-free LIFO of nodes that the consumer
 * takes whole and reverses, so signals keep their order.  It can be
 * closed (when its actor exits): a push then fails and the sender handles
 * the signal as sent to a dead actor.
 */
typedef struct tr__lane {
	_Atomic(uintptr_t) l_top;
} tr__lane;

#define TR__LANE_CLOSED ((uintptr_t) 1)

static inline void
tr__lane_init(tr__lane *l)
{
	atomic_init(&l->l_top, 0);
}

/* tr__lane_push adds n; false if the lane is closed. Thread: any. */
static inline bool
tr__lane_push(tr__lane *l, tr__node *n)
{
	/* acquire: a sender that finds the lane closed sees all the exit
	 * did before closing it (pairs with the release in tr__lane_take). */
	uintptr_t top = atomic_load_explicit(&l->l_top, memory_order_acquire);
	do {
		if (top == TR__LANE_CLOSED)
			return false;
		atomic_store_explicit(&n->next, (tr__node *) top,
		    memory_order_relaxed);
		/* seq_cst: see tr__mpsc_mark_empty. */
	} while (!atomic_compare_exchange_weak_explicit(&l->l_top, &top,
	    (uintptr_t) n, memory_order_seq_cst, memory_order_acquire));
	return true;
}

/* tr__lane_pending tells whether signals wait (seq_cst snapshot). */
static inline bool
tr__lane_pending(tr__lane *l)
{
	uintptr_t top = atomic_load_explicit(&l->l_top, memory_order_seq_cst);
	return top != 0 && top != TR__LANE_CLOSED;
}

/*
 * tr__lane_take removes every signal, oldest first (a NULL-terminated
 * list through next); with close, the lane is closed too.  Thread: consumer.
 */
static inline tr__node *
tr__lane_take(tr__lane *l, bool close)
{
	/* acq_rel: acquire the signals' contents; release what the actor
	 * did before closing (see tr__lane_push).  A closed lane stays so. */
	uintptr_t top = atomic_load_explicit(&l->l_top, memory_order_acquire);
	do {
		if (top == TR__LANE_CLOSED)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(&l->l_top, &top,
	    close ? TR__LANE_CLOSED : 0, memory_order_acq_rel,
	    memory_order_acquire));
	tr__node *n = (tr__node *) top, *rev = NULL;
	while (n != NULL) {
		tr__node *nx = atomic_load_explicit(&n->next,
		    memory_order_relaxed);
		atomic_store_explicit(&n->next, rev, memory_order_relaxed);
		rev = n;
		n = nx;
	}
	return rev;
}

/* tr__lane_reopen opens a closed lane for a new incarnation. */
static inline void
tr__lane_reopen(tr__lane *l)
{
	uintptr_t c = TR__LANE_CLOSED;
	atomic_compare_exchange_strong_explicit(&l->l_top, &c, 0,
	    memory_order_release, memory_order_relaxed);
}

#endif /* TROUPE_MAILBOX_MAILBOX_H */
