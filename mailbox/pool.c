/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: message blocks come in eight size classes (64 B to 8 KiB,
 * header included).  Each worker keeps a free list per class and frees any
 * block into its own list, wherever it came from, so a free costs a push
 * and no lock even when the block crosses threads.  Lists are kept between
 * one and two batches long: above that a batch of TR__POOL_BATCH blocks goes
 * to the global pool, below one a batch comes back (or a new slab is
 * carved).  Only batch moves take the global lock, once per 128 blocks.
 * Slabs are freed when the system stops.  Under ASan a free block is
 * poisoned past its two link words, so a use after free is still caught.
 */

#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "mailbox/mailbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define TR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR_ASAN 1
#endif
#endif
#ifdef TR_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void) (p), (void) (n))
#define UNPOISON(p, n) ((void) (p), (void) (n))
#endif

#define FB_HDR sizeof(struct tr__fblock)
#define SLAB_MIN ((size_t) 64 << 10)

struct tr__pool_global {
	pthread_mutex_t g_mx;
	struct tr__fblock *g_batches[TR__POOL_CLASSES];
	void **g_slabs;
	size_t g_nslabs, g_capslabs;
	tr__pool g_shared;      /* for plain threads, under g_mx */
	_Atomic int64_t g_live; /* blocks counted by finished pools */
};

static inline size_t
class_size(unsigned c)
{
	return (size_t) 64 << c;
}

static inline unsigned
class_of(size_t size)
{
	if (size <= 64)
		return 0;
	unsigned c = (unsigned) (64 -
	                 __builtin_clzll((unsigned long long) size - 1)) -
	    6;
	return c < TR__POOL_CLASSES ? c : TR__POOL_BIG;
}

tr__pool_global *
tr__pool_global_alloc(void)
{
	tr__pool_global *g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	pthread_mutex_init(&g->g_mx, NULL);
	tr__pool_init(&g->g_shared, g);
	g->g_shared.p_shared = true;
	return g;
}

void
tr__pool_global_free(tr__pool_global *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->g_nslabs; i++) {
		free(g->g_slabs[i]);
	}
	free(g->g_slabs);
	pthread_mutex_destroy(&g->g_mx);
	free(g);
}

void
tr__pool_init(tr__pool *p, tr__pool_global *g)
{
	memset(p, 0, sizeof(*p));
	p->p_global = g;
}

/* give_batch moves n blocks from the head of p's class c list to g. */
static void
give_batch(tr__pool *p, unsigned c, uint32_t n, bool locked)
{
	tr__pool_global *g = p->p_global;
	struct tr__fblock *first = p->p_free[c], *last = first;
	for (uint32_t i = 1; i < n; i++) {
		struct tr__fblock *nx = last->next;
		last = nx;
	}
	p->p_free[c] = last->next;
	last->next = NULL;
	p->p_count[c] -= n;
	if (!locked)
		pthread_mutex_lock(&g->g_mx);
	first->nextbatch = g->g_batches[c];
	g->g_batches[c] = first;
	if (!locked)
		pthread_mutex_unlock(&g->g_mx);
}

void
tr__pool_fini(tr__pool *p)
{
	tr__pool_global *g = p->p_global;
	pthread_mutex_lock(&g->g_mx);
	for (unsigned c = 0; c < TR__POOL_CLASSES; c++) {
		while (p->p_count[c] > 0) {
			uint32_t n = p->p_count[c] < TR__POOL_BATCH
			    ? p->p_count[c]
			    : TR__POOL_BATCH;
			give_batch(p, c, n, true);
		}
	}
	atomic_fetch_add_explicit(&g->g_live,
	    atomic_load_explicit(&p->p_live, memory_order_relaxed),
	    memory_order_relaxed);
	atomic_store_explicit(&p->p_live, 0, memory_order_relaxed);
	pthread_mutex_unlock(&g->g_mx);
}

int64_t
tr__pool_global_live(tr__pool_global *g)
{
	pthread_mutex_lock(&g->g_mx);
	int64_t n = atomic_load_explicit(&g->g_live, memory_order_relaxed) +
	    atomic_load_explicit(&g->g_shared.p_live, memory_order_relaxed);
	pthread_mutex_unlock(&g->g_mx);
	return n;
}

/* refill gives p's empty class c list a batch; false on ENOMEM. g_mx held. */
static bool
refill(tr__pool *p, unsigned c)
{
	tr__pool_global *g = p->p_global;
	struct tr__fblock *b = g->g_batches[c];
	if (b != NULL) {
		g->g_batches[c] = b->nextbatch;
		p->p_free[c] = b;
		p->p_count[c] = TR__POOL_BATCH;
		return true;
	}
	size_t bs = class_size(c);
	size_t n = SLAB_MIN / bs < TR__POOL_BATCH ? TR__POOL_BATCH
	                                          : SLAB_MIN / bs;
	if (g->g_nslabs == g->g_capslabs) {
		size_t cap = g->g_capslabs ? 2 * g->g_capslabs : 64;
		void **ns = realloc(g->g_slabs, cap * sizeof(*ns));
		if (ns == NULL)
			return false;
		g->g_slabs = ns;
		g->g_capslabs = cap;
	}
	char *slab = aligned_alloc(64, n * bs);
	if (slab == NULL)
		return false;
	g->g_slabs[g->g_nslabs++] = slab;
	/* Whole batches go to the global pool, the rest to p. */
	struct tr__fblock *head = NULL;
	for (size_t i = n; i-- > 0;) {
		struct tr__fblock *fb = (struct tr__fblock *) (slab + i * bs);
		fb->next = head;
		head = fb;
	}
	for (size_t i = 0; i < n; i++)
		POISON(slab + i * bs + FB_HDR, bs - FB_HDR);
	p->p_free[c] = head;
	p->p_count[c] = (uint32_t) n;
	while (p->p_count[c] > 2 * TR__POOL_BATCH)
		give_batch(p, c, TR__POOL_BATCH, true);
	return true;
}

static tr_msg *
alloc_block(tr__pool *p, unsigned c)
{
	struct tr__fblock *b = p->p_free[c];
	if (b == NULL) {
		if (!p->p_shared)
			pthread_mutex_lock(&p->p_global->g_mx);
		bool ok = refill(p, c);
		if (!p->p_shared)
			pthread_mutex_unlock(&p->p_global->g_mx);
		if (!ok)
			return NULL;
		b = p->p_free[c];
	}
	p->p_free[c] = b->next;
	p->p_count[c]--;
	UNPOISON((char *) b + FB_HDR, class_size(c) - FB_HDR);
	return (tr_msg *) (void *) b;
}

static void
free_block(tr__pool *p, tr_msg *m, unsigned c)
{
	struct tr__fblock *b = (struct tr__fblock *) (void *) m;
	b->next = p->p_free[c];
	POISON((char *) b + FB_HDR, class_size(c) - FB_HDR);
	p->p_free[c] = b;
	if (++p->p_count[c] > 2 * TR__POOL_BATCH)
		give_batch(p, c, TR__POOL_BATCH, p->p_shared);
}

tr_msg *
tr__msg_new_slow(tr__pool *p, size_t len)
{
	size_t size = sizeof(tr_msg) + len;
	unsigned c = class_of(size);
	tr_msg *m;
	if (size > UINT32_MAX)
		return NULL;
	if (c == TR__POOL_BIG)
		m = malloc(size);
	else
		m = alloc_block(p, c);
	if (m == NULL)
		return NULL;
	m->m_class = (uint8_t) c;
	m->m_len = (uint32_t) len;
	tr__pool_count(p, 1);
	return m;
}

void
tr__msg_delete_slow(tr__pool *p, tr_msg *m)
{
	if (m->m_class == TR__POOL_BIG)
		free(m);
	else
		free_block(p, m, m->m_class);
	tr__pool_count(p, -1);
}

tr_msg *
tr__msg_new_shared(tr__pool_global *g, size_t len)
{
	pthread_mutex_lock(&g->g_mx);
	tr_msg *m = tr__msg_new(&g->g_shared, len);
	pthread_mutex_unlock(&g->g_mx);
	return m;
}

void
tr__msg_delete_shared(tr__pool_global *g, tr_msg *m)
{
	pthread_mutex_lock(&g->g_mx);
	tr__msg_delete(&g->g_shared, m);
	pthread_mutex_unlock(&g->g_mx);
}
