/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The actor table: chunks of TR__CHUNK_SIZE actors, made on demand and
 * never moved or freed while the system runs, so lookups are one acquire
 * load and never stop the world; free slots travel in batches between the
 * table and the workers' caches.
 *
 * Only slots below max_actors are ever handed out (the last chunk may
 * have more actors than that, never used), so at most max_actors actors
 * live at once, exactly as configured.
 */

#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"

void *(*tr__table_calloc)(size_t n, size_t size) = calloc;

int
tr__table_init(tr__table *t, uint32_t max_actors)
{
	memset(t, 0, sizeof(*t));
	if (max_actors == 0 || max_actors > TR_MAX_ACTORS)
		return TR_EINVAL;
	/* 64-bit: max_actors near UINT32_MAX must not wrap to 0 chunks. */
	t->t_maxchunks = (uint32_t) (((uint64_t) max_actors + TR__CHUNK_SIZE -
	                                 1) /
	    TR__CHUNK_SIZE);
	t->t_max = max_actors;
	t->t_chunks = calloc(t->t_maxchunks, sizeof(*t->t_chunks));
	if (t->t_chunks == NULL)
		return TR_ENOMEM;
	pthread_mutex_init(&t->t_mx, NULL);
	return 0;
}

void
tr__table_fini(tr__table *t)
{
	uint32_t n = atomic_load(&t->t_nchunks);
	for (uint32_t c = 0; c < n; c++)
		free(atomic_load_explicit(&t->t_chunks[c],
		    memory_order_relaxed));
	free(t->t_chunks);
	free(t->t_free);
	pthread_mutex_destroy(&t->t_mx);
}

/* grow adds a chunk and its usable slots to t_free; 0, TR_ELIMIT (no
 * chunk left) or TR_ENOMEM. t_mx held. */
static int
grow(tr__table *t)
{
	uint32_t c = atomic_load_explicit(&t->t_nchunks, memory_order_relaxed);
	if (c >= t->t_maxchunks)
		return TR_ELIMIT;
	uint64_t first = (uint64_t) c * TR__CHUNK_SIZE;
	uint32_t usable = t->t_max - first < TR__CHUNK_SIZE
	    ? (uint32_t) (t->t_max - first)
	    : TR__CHUNK_SIZE;
	/* The free array can hold every usable slot, so tr__table_give never
	 * fails. */
	uint64_t total = first + usable;
	if (t->t_freecap < total) {
		uint64_t cap = t->t_freecap ? 2 * (uint64_t) t->t_freecap
		                            : 2 * TR__CHUNK_SIZE;
		while (cap < total)
			cap *= 2;
		if (cap > t->t_max)
			cap = t->t_max;
		uint32_t *nf = realloc(t->t_free, (size_t) cap * sizeof(*nf));
		if (nf == NULL)
			return TR_ENOMEM;
		t->t_free = nf;
		t->t_freecap = (uint32_t) cap;
	}
	tr__actor *chunk = tr__table_calloc(TR__CHUNK_SIZE, sizeof(*chunk));
	if (chunk == NULL)
		return TR_ENOMEM;
	for (uint32_t i = 0; i < TR__CHUNK_SIZE; i++) {
		tr__actor *a = &chunk[i];
		/* A free slot's mailbox is idle and its lane closed: a late
		 * push schedules a "dead run" that frees it (actor.c). */
		tr__mpsc_init(&a->a_mbox, true);
		tr__lane_init(&a->a_sig);
		atomic_init(&a->a_sig.l_top, TR__LANE_CLOSED);
		atomic_init(&a->a_gen, 0);
		a->a_slot = (uint32_t) first + i;
	}
	/* Lowest slots are handed out first. */
	for (uint32_t i = usable; i-- > 0;)
		t->t_free[t->t_nfree++] = (uint32_t) first + i;
	/* release: a reader that finds the chunk sees it initialised. */
	atomic_store_explicit(&t->t_chunks[c], chunk, memory_order_release);
	atomic_store_explicit(&t->t_nchunks, c + 1, memory_order_release);
	return 0;
}

uint32_t
tr__table_take(tr__table *t, uint32_t *out, uint32_t n, int *why)
{
	pthread_mutex_lock(&t->t_mx);
	*why = 0;
	if (t->t_nfree < n)
		*why = grow(t);
	uint32_t k = t->t_nfree < n ? t->t_nfree : n;
	for (uint32_t i = 0; i < k; i++)
		out[i] = t->t_free[--t->t_nfree];
	pthread_mutex_unlock(&t->t_mx);
	if (k < n && *why == 0)
		*why = TR_ELIMIT; /* the last chunk had fewer usable slots */
	return k;
}

void
tr__table_give(tr__table *t, const uint32_t *slots, uint32_t n)
{
	pthread_mutex_lock(&t->t_mx);
	/* The free array has room: every slot was once in it. */
	for (uint32_t i = 0; i < n; i++)
		t->t_free[t->t_nfree++] = slots[i];
	pthread_mutex_unlock(&t->t_mx);
}
