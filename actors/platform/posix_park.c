/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "actors/platform.h"

/*
 * Portable parking: a small table of mutex/condvar pairs hashed by the
 * address of the word (a "parking lot").  Waking broadcasts the bucket;
 * waiters recheck their word.
 */

#define NBUCKET 64

static struct bucket {
	pthread_mutex_t mx;
	pthread_cond_t cv;
} lot[NBUCKET];
static pthread_once_t lot_once = PTHREAD_ONCE_INIT;

static void
lot_init(void)
{
	for (int i = 0; i < NBUCKET; i++) {
		pthread_mutex_init(&lot[i].mx, NULL);
		pthread_cond_init(&lot[i].cv, NULL);
	}
}

static struct bucket *
bucket_of(void *p)
{
	pthread_once(&lot_once, lot_init);
	return &lot[((uintptr_t) p >> 4) % NBUCKET];
}

void
tr__park_wait(_Atomic uint32_t *word, uint32_t expect, int64_t timeout_ns)
{
	struct bucket *b = bucket_of((void *) word);
	pthread_mutex_lock(&b->mx);
	if (atomic_load(word) == expect) {
		if (timeout_ns < 0) {
			pthread_cond_wait(&b->cv, &b->mx);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + timeout_ns % 1000000000;
			ts.tv_sec += timeout_ns / 1000000000 + ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&b->cv, &b->mx, &ts);
		}
	}
	pthread_mutex_unlock(&b->mx);
}

void
tr__park_wake(_Atomic uint32_t *word, int n)
{
	(void) n;
	struct bucket *b = bucket_of((void *) word);
	pthread_mutex_lock(&b->mx);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mx);
}
