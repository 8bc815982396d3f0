/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: process stacks (the reasons and the measurements are in
 * docs/decisions/0013-process-stacks.md and 0016-stack-guards-and-overflow.md).
 *
 * Slots.  Stacks are carved from regions, each one anonymous private
 * mapping (MAP_NORESERVE: a million 64 KiB stacks reserve no swap;
 * MADV_NOHUGEPAGE: where transparent huge pages are "always", a first
 * touch would otherwise fault in 2 MiB spanning many stacks).  A region
 * holds 64 slots, then twice as many as the previous region, up to 1024,
 * so a million stacks take about a thousand mappings.  A slot is a guard
 * gap followed by the stack [lo, hi):
 *
 *	| guard gap (GAP bytes) | lo .......................... hi |
 *	                                         watermark ^    ^ first frame
 *
 * The gap is as large as the stack, at most GAP_MAX (64 KiB) and at least
 * a page: a frame (or alloca) smaller than the gap cannot step over it
 * into the neighbour below, whatever code made it.
 *
 * Guards.  Every stack handed out has its gap guarded; none is ever
 * given out without one (the pool returns NULL instead).
 *  - Linux >= 6.13: MADV_GUARD_INSTALL (advice 102) marks the gap in the
 *    page tables.  It splits no mapping, costs no memory and survives
 *    MADV_DONTNEED of neighbouring pages.  The pool probes it once, when
 *    it is made.
 *  - Older kernels (and TR__STACK_MPROTECT, for tests): mprotect(PROT_NONE)
 *    of the gap, which splits the region's mapping: two map entries per
 *    stack, and a process may have only vm.max_map_count of them (65,530
 *    by default) before mmap, mprotect and malloc fail.  The budget is a
 *    quarter of the entries still free when the pool is made (guards may
 *    use half of what is left).  tr__stack_reserve refuses a process past
 *    it (TR_ELIMIT at spawn), so no stack ever runs unguarded.
 *
 * Nothing reads a page that was never written: on some kernels (seen on
 * 6.18) a read of a never-written anonymous page makes it resident.  The
 * only read is the watermark, in the top page, which get writes first.
 *
 * Putting back.  MADV_DONTNEED of everything below the top page (a
 * "trim") gives the pages back to the OS, but it is a system call, and
 * with several threads a TLB shootdown when pages are dropped; the next
 * process to get the stack then faults them in again.  Measured here: a
 * get+put cycle of a stack that used three pages costs 71 ns untrimmed
 * and 6.5 us trimmed (23 us with two threads at it).  So:
 *  - a stack that stayed in its top page is not trimmed.  The watermark,
 *    the lowest WATERMARK_BYTES of the top page, tells: a stack that went
 *    deeper has almost surely written over it.  "Almost": a frame with a
 *    large array it never wrote could span it, so every FORCE_EVERY-th
 *    put trims anyway, which bounds what such a stack keeps;
 *  - a stack that went deeper ("dirty") is kept as it is while fewer than
 *    DIRTY_MAX dirty stacks wait in the free list, else trimmed.  Under
 *    steady spawn and exit the same few warm stacks go round untrimmed;
 *    when many processes end at once, all but DIRTY_MAX are trimmed, so
 *    the extra memory is at most DIRTY_MAX * (stack size - one page);
 *  - a stack that overflowed (its guard was hit) is always trimmed;
 *  - a "bare" stack (never used, or compacted: no page resident) is put
 *    back untouched; get writes its watermark.
 * Trimming never touches the gap: guards stay installed for the life of
 * the pool.
 *
 * Locking.  One mutex guards the free list (LIFO, so the warmest stack is
 * reused first), the carve cursor and the guard budget.  System calls
 * (guard installation, madvise) are made outside it, except for mapping
 * a new region.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, MADV_NOHUGEPAGE */
#endif

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "actors/ctx.h"
#include "troupe/troupe.h"

/* Under valgrind, each stack is registered so that switching to it is not
 * taken for a wild stack-pointer change (the macros cost nothing when
 * not under valgrind; the header ships with Debian's valgrind package). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define TR_VG_REGISTER(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define TR_VG_DEREGISTER(id) VALGRIND_STACK_DEREGISTER(id)
/* Below a stack's pointer valgrind sees no-access memory; the pool reads
 * its watermark there on purpose. */
#define TR_VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef TR_VG_REGISTER
#define TR_VG_REGISTER(lo, hi) ((void) (lo), (void) (hi), 0u)
#define TR_VG_DEREGISTER(id) ((void) (id))
#define TR_VG_DEFINED(p, n) ((void) (p), (void) (n))
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR_ASAN 1
#endif
#endif
#ifdef TR_ASAN
#include <sanitizer/asan_interface.h>
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
/* Linux 6.13 (glibc 2.36 lacks the name). */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define MIN_STACK ((size_t) 8 << 10)
#define MAX_STACK ((size_t) 1 << 30)
#define GAP_MAX ((size_t) 64 << 10)
#define REGION_MIN 64
#define REGION_MAX 1024
#define WATERMARK_BYTES 64
#define WATERMARK 0x7472737461636b21ull /* "trstack!" */
/* FORCE_EVERY may be set at build time to measure the policy. */
#ifndef FORCE_EVERY
#define FORCE_EVERY 16
#endif
#define DIRTY_MAX 64
/* Guards when vm.max_map_count cannot be read (not Linux). */
#define GUARDS_UNKNOWN 4096
/* Attempts at a guard that the kernel interrupts (EINTR, EAGAIN). */
#define GUARD_TRIES 8

typedef struct region {
	struct region *r_next;
	char *r_base;
	size_t r_len;
	size_t r_nslots;
	size_t r_carved;   /* slots handed out so far (under sp_mx) */
	tr__stack *r_desc; /* one descriptor per slot */
} region;

struct tr__stack_pool {
	pthread_mutex_t sp_mx;
	size_t sp_page;
	size_t sp_size; /* usable bytes: hi - lo */
	size_t sp_gap;  /* guard gap below lo */
	size_t sp_slot; /* gap + stack */
	bool sp_madv;   /* MADV_GUARD_INSTALL works (else mprotect) */
	/* mprotect only: stacks allowed at once (immutable), and stacks
	 * reserved by processes.  Relaxed: a counter checked against a
	 * bound, nothing else is published through it. */
	size_t sp_cap;
	atomic_size_t sp_reserved;
	atomic_bool sp_refused; /* a reservation was refused (relaxed) */
	size_t sp_guards; /* mprotect: guards still allowed (under sp_mx) */
	tr__stack *sp_free;
	region *sp_regions; /* newest first: carving happens in the head */
	size_t sp_nregions;
	size_t sp_live; /* stacks handed out (under sp_mx) */
	/* Puts since the pool was made; relaxed: it only spreads the
	 * forced trims over puts, nothing is ordered by it. */
	atomic_uint sp_puts;
	/* Dirty stacks in the free list; relaxed: a soft bound (it may
	 * pass DIRTY_MAX by the number of threads putting at once), and
	 * the stacks themselves travel under sp_mx. */
	atomic_uint sp_dirty;
};
/* ---------------------------------------------------------- map budget */

/* Reads a small decimal number from a file; -1 if it cannot. */
static long
read_long(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *end;
	long v = strtol(buf, &end, 10);
	return end == buf ? -1 : v;
}

/* Counts this process's memory maps (lines of /proc/self/maps); -1 if it
 * cannot. */
static long
count_maps(void)
{
	char buf[16384];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long lines = 0;
	ssize_t n;
	/* Bounded: the file is finite and read() ends it with 0. */
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	}
	close(fd);
	return n < 0 ? -1 : lines;
}

static size_t
default_guards(void)
{
	long max = read_long("/proc/sys/vm/max_map_count");
	if (max <= 0)
		return GUARDS_UNKNOWN;
	long cur = count_maps();
	if (cur < 0)
		cur = 0;
	if (cur >= max)
		return 0;
	/* Half of the free entries for guards, two entries per guard. */
	return (size_t) (max - cur) / 4;
}

/* ------------------------------------------------------------- guards */

/* madv_guard marks [p, p + len) as a guard region; 0 or an errno. */
static int
madv_guard(void *p, size_t len)
{
	for (int i = 0; i < GUARD_TRIES; i++) {
		if (madvise(p, len, MADV_GUARD_INSTALL) == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return errno;
	}
	return EAGAIN;
}

/* madv_works tells whether this kernel has MADV_GUARD_INSTALL: it marks a
 * page of a scratch mapping (EINVAL before Linux 6.13). */
static bool
madv_works(size_t page)
{
	void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return false;
	bool ok = madv_guard(p, page) == 0;
	munmap(p, 2 * page);
	return ok;
}

/* -------------------------------------------------------------- slots */

static void
watermark_set(tr__stack *s, size_t page)
{
	uint64_t *w = (uint64_t *) (void *) (s->hi - page);
	for (size_t i = 0; i < WATERMARK_BYTES / sizeof *w; i++)
		w[i] = WATERMARK;
}

/* watermark_ok reads the watermark: only of a stack that is not bare,
 * whose top page has been written. */
static bool
watermark_ok(const tr__stack *s, size_t page)
{
	const uint64_t *w = (const uint64_t *) (const void *) (s->hi - page);
	TR_VG_DEFINED(w, WATERMARK_BYTES);
	uint64_t bad = 0;
	for (size_t i = 0; i < WATERMARK_BYTES / sizeof *w; i++)
		bad |= w[i] ^ WATERMARK;
	return bad == 0;
}

/* Maps a new region and makes it the head; under sp_mx. */
static region *
region_new(tr__stack_pool *sp)
{
	size_t n = (size_t) REGION_MIN
	    << (sp->sp_nregions < 5 ? sp->sp_nregions : 4);
	if (n > REGION_MAX)
		n = REGION_MAX;
	region *r = calloc(1, sizeof *r);
	tr__stack *desc = calloc(n, sizeof *desc);
	if (r == NULL || desc == NULL)
		goto fail;
	size_t len = n * sp->sp_slot;
	void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
#ifdef MADV_NOHUGEPAGE
	(void) madvise(base, len, MADV_NOHUGEPAGE); /* advice: may fail */
#endif
	r->r_base = base;
	r->r_len = len;
	r->r_nslots = n;
	r->r_desc = desc;
	r->r_next = sp->sp_regions;
	sp->sp_regions = r;
	sp->sp_nregions++;
	return r;
fail:
	free(desc);
	free(r);
	return NULL;
}

/* Takes the next never-used slot, mapping a region if needed; under
 * sp_mx.  NULL when out of memory or (mprotect) out of guards. */
static tr__stack *
carve(tr__stack_pool *sp)
{
	if (!sp->sp_madv && sp->sp_guards == 0)
		return NULL;
	region *r = sp->sp_regions;
	if (r == NULL || r->r_carved == r->r_nslots) {
		r = region_new(sp);
		if (r == NULL)
			return NULL;
	}
	size_t i = r->r_carved++;
	tr__stack *s = &r->r_desc[i];
	s->lo = r->r_base + i * sp->sp_slot + sp->sp_gap;
	s->hi = s->lo + sp->sp_size;
	s->next = NULL;
	s->bare = true;
	s->guarded = false;
	s->overflowed = false;
	s->vg_id = (unsigned) TR_VG_REGISTER(s->lo, s->hi);
	if (!sp->sp_madv)
		sp->sp_guards--;
	return s;
}

/* guard installs s's guard (outside sp_mx); false if it cannot. */
static bool
guard(tr__stack_pool *sp, tr__stack *s)
{
	char *gap = s->lo - sp->sp_gap;
	if (sp->sp_madv)
		return madv_guard(gap, sp->sp_gap) == 0;
	return mprotect(gap, sp->sp_gap, PROT_NONE) == 0;
}

/* ---------------------------------------------------------------- pool */

tr__stack_pool *
tr__stack_pool_alloc(size_t stack_size, size_t max_guards, unsigned flags)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t) pg : 4096;
	if (stack_size > MAX_STACK)
		return NULL;
	if (stack_size < MIN_STACK)
		stack_size = MIN_STACK;
	size_t size = (stack_size + page - 1) & ~(page - 1);

	tr__stack_pool *sp = calloc(1, sizeof *sp);
	if (sp == NULL)
		return NULL;
	if (pthread_mutex_init(&sp->sp_mx, NULL) != 0) {
		free(sp);
		return NULL;
	}
	sp->sp_page = page;
	sp->sp_size = size;
	sp->sp_gap = size < GAP_MAX ? size : GAP_MAX;
	if (sp->sp_gap < page)
		sp->sp_gap = page;
	sp->sp_gap = (sp->sp_gap + page - 1) & ~(page - 1);
	sp->sp_slot = sp->sp_gap + size;
	sp->sp_madv = (flags & TR__STACK_MPROTECT) == 0 && madv_works(page);
	sp->sp_guards = max_guards != 0 ? max_guards : default_guards();
	sp->sp_cap = sp->sp_madv ? SIZE_MAX : sp->sp_guards;
	atomic_init(&sp->sp_reserved, 0);
	atomic_init(&sp->sp_refused, false);
	atomic_init(&sp->sp_puts, 0);
	atomic_init(&sp->sp_dirty, 0);
	return sp;
}

void
tr__stack_pool_free(tr__stack_pool *sp)
{
	if (sp == NULL)
		return;
	assert(sp->sp_live == 0);
	region *r = sp->sp_regions;
	while (r != NULL) {
		region *next = r->r_next;
		for (size_t i = 0; i < r->r_carved; i++)
			TR_VG_DEREGISTER(r->r_desc[i].vg_id);
		munmap(r->r_base, r->r_len);
		free(r->r_desc);
		free(r);
		r = next;
	}
	pthread_mutex_destroy(&sp->sp_mx);
	free(sp);
}

size_t
tr__stack_size(const tr__stack_pool *sp)
{
	return sp->sp_size;
}

size_t
tr__stack_gap(const tr__stack_pool *sp)
{
	return sp->sp_gap;
}

bool
tr__stack_madv_guards(const tr__stack_pool *sp)
{
	return sp->sp_madv;
}

int
tr__stack_reserve(tr__stack_pool *sp, bool *first_refusal)
{
	if (sp->sp_cap == SIZE_MAX)
		return 0;
	/* Relaxed: a bounded counter (see sp_reserved). */
	size_t n = atomic_fetch_add_explicit(&sp->sp_reserved, 1,
	    memory_order_relaxed);
	if (n < sp->sp_cap)
		return 0;
	atomic_fetch_sub_explicit(&sp->sp_reserved, 1, memory_order_relaxed);
	/* Relaxed: only one caller must see false; nothing is published. */
	*first_refusal = !atomic_exchange_explicit(&sp->sp_refused, true,
	    memory_order_relaxed);
	return TR_ELIMIT;
}

void
tr__stack_unreserve(tr__stack_pool *sp)
{
	if (sp->sp_cap == SIZE_MAX)
		return;
	/* Relaxed: see tr__stack_reserve. */
	atomic_fetch_sub_explicit(&sp->sp_reserved, 1, memory_order_relaxed);
}

size_t
tr__stack_cap(const tr__stack_pool *sp)
{
	return sp->sp_cap;
}

tr__stack *
tr__stack_get(tr__stack_pool *sp)
{
	pthread_mutex_lock(&sp->sp_mx);
	tr__stack *s = sp->sp_free;
	if (s != NULL)
		sp->sp_free = s->next;
	else
		s = carve(sp);
	if (s != NULL)
		sp->sp_live++;
	pthread_mutex_unlock(&sp->sp_mx);
	if (s == NULL)
		return NULL;
	s->next = NULL;
	if (!s->guarded) {
		/* A never-used slot. */
		if (!guard(sp, s)) {
			/* Out of map entries (mprotect) or memory: no stack
			 * runs unguarded, so none, and (mprotect) no more
			 * carving.  The slot goes to the free list unguarded
			 * and gets another try when taken again. */
			pthread_mutex_lock(&sp->sp_mx);
			if (!sp->sp_madv)
				sp->sp_guards = 0;
			sp->sp_live--;
			s->next = sp->sp_free;
			sp->sp_free = s;
			pthread_mutex_unlock(&sp->sp_mx);
			return NULL;
		}
		s->guarded = true;
	}
	if (s->bare) {
		/* Nothing resident: write the watermark (the process's first
		 * frame writes that page anyway). */
		s->bare = false;
		if (sp->sp_size > sp->sp_page)
			watermark_set(s, sp->sp_page);
	} else if (sp->sp_size > sp->sp_page && !watermark_ok(s, sp->sp_page)) {
		atomic_fetch_sub_explicit(&sp->sp_dirty, 1,
		    memory_order_relaxed);
	}
	return s;
}

/* trim_wanted decides whether put gives s's lower pages back (see the
 * design notes); a dirty stack it keeps is counted in sp_dirty.  Only for
 * stacks of more than one page that are not bare. */
static bool
trim_wanted(tr__stack_pool *sp, const tr__stack *s)
{
	unsigned n = atomic_fetch_add_explicit(&sp->sp_puts, 1,
	    memory_order_relaxed);
	if (s->overflowed)
		return true;
	if (watermark_ok(s, sp->sp_page))
		return n % FORCE_EVERY == FORCE_EVERY - 1;
	unsigned d = atomic_load_explicit(&sp->sp_dirty, memory_order_relaxed);
	if (d >= DIRTY_MAX)
		return true;
	atomic_fetch_add_explicit(&sp->sp_dirty, 1, memory_order_relaxed);
	return false;
}

void
tr__stack_put(tr__stack_pool *sp, tr__stack *s)
{
	size_t page = sp->sp_page;
#ifdef TR_ASAN
	/*
	 * Frames abandoned on this stack (a process never returns from its
	 * entry) leave their red zones poisoned; the next process must not
	 * inherit them.
	 */
	void *bad = __asan_region_is_poisoned(s->lo, (size_t) (s->hi - s->lo));
	if (bad != NULL)
		__asan_unpoison_memory_region(bad,
		    (size_t) (s->hi - (char *) bad));
#endif
	if (!s->bare && sp->sp_size > page && trim_wanted(sp, s)) {
		/* The gap is left alone: its guard stays. */
		(void) madvise(s->lo, (size_t) (s->hi - page - s->lo),
		    MADV_DONTNEED);
		watermark_set(s, page);
	}
	s->overflowed = false;
	pthread_mutex_lock(&sp->sp_mx);
	assert(sp->sp_live > 0);
	sp->sp_live--;
	s->next = sp->sp_free;
	sp->sp_free = s;
	pthread_mutex_unlock(&sp->sp_mx);
}

/* copy_raw copies stack bytes, red zones included (ASan must not look). */
static NO_ASAN void
copy_raw(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = *(
		    const volatile uint64_t *) (const volatile void *) (s + i);
		*(volatile uint64_t *) (volatile void *) (d + i) = v;
	}
	for (; i < n; i++)
		d[i] = s[i];
}

bool
tr__stack_save(tr__stack_pool *sp, tr__stack *s, const void *sp_now,
    void **bufp, size_t *lenp)
{
	size_t len = (size_t) (s->hi - (const char *) sp_now);
	void *buf = malloc(len > 0 ? len : 1);
	if (buf == NULL)
		return false;
	(void) sp;
	copy_raw(buf, sp_now, len);
	/* Every page goes (the guard stays); the watermark comes back on
	 * restore. */
	(void) madvise(s->lo, (size_t) (s->hi - s->lo), MADV_DONTNEED);
	s->bare = true;
	*bufp = buf;
	*lenp = len;
	return true;
}

void
tr__stack_restore(tr__stack_pool *sp, tr__stack *s, void *buf, size_t len)
{
	copy_raw(s->hi - len, buf, len);
	s->bare = false;
	/* The watermark is below the live part unless that part reaches
	 * into it: then the stack is dirty anyway, and its top page was
	 * written by the copy. */
	if (len >= sp->sp_page - WATERMARK_BYTES)
		return;
	if (sp->sp_size > sp->sp_page)
		watermark_set(s, sp->sp_page);
}
