/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_ACTORS_TIMER_H
#define TROUPE_ACTORS_TIMER_H

/*
 * tr__wheel: a hierarchical timing wheel with millisecond ticks (six
 * levels of 64 slots, as Tokio's and the Linux kernel's), owned by one
 * thread.  Insert and remove are O(1); the next deadline is found through
 * per-level occupancy bitmaps in O(levels).  Timers are intrusive: the
 * caller embeds a tr__tnode in its own struct (zeroed before first use).
 * Deadlines are absolute milliseconds on the caller's clock; a deadline in
 * the past fires on the next advance (also one inserted by a fire
 * callback).  Timers more than 63 * 64^5 ms (~2.1 years) out sit in the
 * top level and are re-filed as time passes.  Timers fire in deadline
 * order, equal deadlines in insertion order.
 *
 * Thread: the wheel's owner only (one thread).
 */

#include <stdbool.h>
#include <stdint.h>

#define TR__WHEEL_LEVELS 6
#define TR__WHEEL_SLOTS 64

typedef struct tr__tnode {
	struct tr__tnode *tn_next,
	    *tn_prev;         /* slot list; NULL when not filed */
	uint64_t tn_deadline; /* absolute ms */
	uint8_t tn_level, tn_slot;
	bool tn_filed;
} tr__tnode;

typedef struct tr__wheel {
	uint64_t wh_now; /* ms: everything with deadline <= wh_now has fired */
	uint64_t wh_occupied[TR__WHEEL_LEVELS]; /* bit s: slot s not empty */
	tr__tnode *wh_slots[TR__WHEEL_LEVELS][TR__WHEEL_SLOTS];
	uint64_t wh_count;
} tr__wheel;

/* tr__wheel_init starts an empty wheel at time now_ms. */
void tr__wheel_init(tr__wheel *wh, uint64_t now_ms);

/* tr__wheel_insert files n to fire at deadline_ms (a filed n is moved). */
void tr__wheel_insert(tr__wheel *wh, tr__tnode *n, uint64_t deadline_ms);

/* tr__wheel_remove unfiles n if filed; O(1). */
void tr__wheel_remove(tr__wheel *wh, tr__tnode *n);

/*
 * tr__wheel_next returns the earliest deadline in ms of any filed timer
 * (exact, or, for timers in higher levels, a lower bound no earlier than
 * the slot's start, so the caller may wake early but never late; when
 * timers are overdue, some value <= wh_now), or UINT64_MAX if the wheel
 * is empty.  After an advance, a value <= now means "advance again now".
 */
uint64_t tr__wheel_next(const tr__wheel *wh);

/*
 * tr__wheel_advance moves time to now_ms and calls fire(arg, n) for every
 * timer whose deadline is <= now_ms, in deadline order within a slot
 * level's resolution (each exactly once; n is unfiled before the call and
 * fire may insert or remove other timers, or re-insert n).  Returns the
 * number fired.  A now_ms before wh_now counts as wh_now.  fire must not
 * call tr__wheel_advance.
 */
uint64_t tr__wheel_advance(tr__wheel *wh, uint64_t now_ms,
    void (*fire)(void *arg, tr__tnode *n), void *arg);

#endif /* TROUPE_ACTORS_TIMER_H */
