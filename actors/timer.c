/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes.
 *
 * Level l (0..5) has 64 slots of 64^l ms each.  A timer due at d, with
 * the wheel at now < d, is filed by the highest 6-bit group in which d
 * and now differ: that group's index is its level, d's bits in that group
 * its slot (Tokio's time driver does the same).  So a timer on level l
 * agrees with now on every group above l and its slot lies strictly after
 * now's slot on that level: every timer on level l is due after every
 * timer on the levels below, and the earliest timer is on the lowest
 * non-empty level, in the first occupied slot after now's (one ctz of the
 * level's bitmap, rotated so that now's slot is bit 0).
 *
 * The top level wraps: its slot s stands for the next time now's
 * top-level index becomes s, so it reaches 64^6 ms ahead.  A deadline more
 * than HORIZON (63 * 64^5 ms, ~2.1 years) ahead is filed as if due at
 * now + HORIZON, and filed again when that slot comes round.
 *
 * A deadline at or before now (the caller's clock may lag the wheel's, or
 * a delay may be 0) goes to level 0, slot now & 63: the "overdue" slot,
 * otherwise empty, as everything due by now has fired and a later deadline
 * on level 0 differs from now in its low 6 bits.  It keeps its earliest
 * deadline at the head (a smaller one is prepended, others appended) so
 * tr__wheel_next is O(1); once that head is removed the answer is another
 * overdue deadline, still <= wh_now: "due now" to a caller whose clock has
 * reached wh_now.
 *
 * Slot lists are doubly linked and NULL-terminated, the head's tn_prev
 * being the tail, so appending is O(1) and a slot keeps its timers in
 * order; every step below takes a list in order and appends, so timers
 * due at the same ms fire in the order inserted (if inserted ahead of the
 * wheel and within HORIZON).  Removal is an unlink and, when the slot
 * empties, a bit clear.
 *
 * tr__wheel_advance works in two phases.  First, with no callback running,
 * it takes the occupied slots in time order up to now_ms, skipping empty
 * ranges through the bitmaps, and for each moves the wheel's time to the
 * slot's start: a timer due by then goes to the due list, one due later
 * but by now_ms is filed again (lower down, as it is now within the
 * slot's span), and one due after now_ms is set aside and filed once time
 * stands at now_ms.  So a jump costs a visit per occupied slot and a few
 * per timer, not one per ms, and timers reach the due list in deadline
 * order (overdue ones first).  One case remains: a top-level slot holding
 * only timers filed at the horizon, reached with nothing below it, would
 * be filed at the horizon again and again across an empty stretch of
 * years; instead all top-level timers are taken out, time moves to just
 * before the earliest of them (rebase) and they are filed again.
 *
 * Then time is set to now_ms and the due list, circular around a sentinel
 * on the stack, is fired from its head, each timer unlinked before its
 * call.  Its members stay filed (tn_level DUE) until their turn, so a
 * callback can remove any of them in O(1).  A timer a callback inserts
 * goes into the wheel, never onto this list: one due by now_ms is overdue
 * and fires on the next advance, so a callback that re-inserts its own
 * timer in the past cannot loop.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "actors/timer.h"

_Static_assert(TR__WHEEL_SLOTS == 64, "occupancy bitmaps are 64-bit");
_Static_assert(TR__WHEEL_LEVELS * 6 < 64, "wheel span must fit in 64 bits");

#define BITS 6 /* log2(TR__WHEEL_SLOTS) */
#define MASK ((uint64_t) TR__WHEEL_SLOTS - 1)
#define TOP (TR__WHEEL_LEVELS - 1)

/* tn_level of a timer waiting on an advance's due list. */
#define DUE TR__WHEEL_LEVELS

/* Farthest filing point: later deadlines are filed here and re-filed. */
#define HORIZON (MASK << (BITS * TOP))

/* bit returns the occupancy bit of slot s. */
static inline uint64_t
bit(unsigned s)
{
	return (uint64_t) 1 << s;
}

/*
 * level_of returns the level for a timer due at key when the wheel stands
 * at now (now < key <= now + HORIZON).
 */
static inline unsigned
level_of(uint64_t now, uint64_t key)
{
	unsigned hi = 63 - (unsigned) __builtin_clzll((now ^ key) | MASK);
	unsigned lv = hi / BITS;

	return lv > TOP ? TOP : lv;
}

/* slot_append files n at the tail of slot s of level lv. */
static void
slot_append(tr__wheel *wh, tr__tnode *n, unsigned lv, unsigned s)
{
	tr__tnode *head = wh->wh_slots[lv][s];

	n->tn_level = (uint8_t) lv;
	n->tn_slot = (uint8_t) s;
	n->tn_next = NULL;
	if (head == NULL) {
		n->tn_prev = n;
		wh->wh_slots[lv][s] = n;
		wh->wh_occupied[lv] |= bit(s);
	} else {
		n->tn_prev = head->tn_prev;
		head->tn_prev->tn_next = n;
		head->tn_prev = n;
	}
}

/* slot_prepend files n at the head of the non-empty slot s of level 0. */
static void
slot_prepend(tr__wheel *wh, tr__tnode *n, unsigned s)
{
	tr__tnode *head = wh->wh_slots[0][s];

	n->tn_level = 0;
	n->tn_slot = (uint8_t) s;
	n->tn_next = head;
	n->tn_prev = head->tn_prev;
	head->tn_prev = n;
	wh->wh_slots[0][s] = n;
}

/* slot_unlink takes n out of the slot list it is filed in. */
static void
slot_unlink(tr__wheel *wh, tr__tnode *n)
{
	unsigned lv = n->tn_level, s = n->tn_slot;
	tr__tnode *head = wh->wh_slots[lv][s];

	if (n == head) {
		wh->wh_slots[lv][s] = n->tn_next;
		if (n->tn_next != NULL)
			n->tn_next->tn_prev = n->tn_prev; /* the tail */
		else
			wh->wh_occupied[lv] &= ~bit(s);
	} else {
		n->tn_prev->tn_next = n->tn_next;
		if (n->tn_next != NULL)
			n->tn_next->tn_prev = n->tn_prev;
		else
			head->tn_prev = n->tn_prev; /* new tail */
	}
}

/* slot_take empties slot s of level lv and returns its NULL-ended list. */
static tr__tnode *
slot_take(tr__wheel *wh, unsigned lv, unsigned s)
{
	tr__tnode *head = wh->wh_slots[lv][s];

	wh->wh_slots[lv][s] = NULL;
	wh->wh_occupied[lv] &= ~bit(s);
	return head;
}

/*
 * file places n (tn_deadline set, tn_filed already true) relative to the
 * wheel's current time; see the design notes.
 */
static void
file(tr__wheel *wh, tr__tnode *n)
{
	uint64_t now = wh->wh_now;
	uint64_t d = n->tn_deadline;

	if (d <= now) {
		unsigned s = (unsigned) (now & MASK);
		tr__tnode *head = wh->wh_slots[0][s];

		if (head != NULL && d < head->tn_deadline)
			slot_prepend(wh, n, s);
		else
			slot_append(wh, n, 0, s);
		return;
	}
	uint64_t key = d - now > HORIZON ? now + HORIZON : d;
	unsigned lv = level_of(now, key);

	slot_append(wh, n, lv, (unsigned) ((key >> (BITS * lv)) & MASK));
}

/*
 * earliest finds the lowest non-empty level and its first occupied slot at
 * or after the wheel's current one; it sets *lvp, *sp and *startp (the
 * slot's start in ms; wh_now for the overdue slot) and returns true, or
 * returns false if the wheel is empty.
 */
static bool
earliest(const tr__wheel *wh, unsigned *lvp, unsigned *sp, uint64_t *startp)
{
	for (unsigned lv = 0; lv < TR__WHEEL_LEVELS; lv++) {
		uint64_t occ = wh->wh_occupied[lv];

		if (occ == 0)
			continue;
		unsigned sh = BITS * lv;
		unsigned cur = (unsigned) ((wh->wh_now >> sh) & MASK);
		uint64_t rot = cur == 0 ? occ
		                        : (occ >> cur) | (occ << (64 - cur));
		unsigned dist = (unsigned) __builtin_ctzll(rot);

		*lvp = lv;
		*sp = (cur + dist) & (unsigned) MASK;
		*startp = ((wh->wh_now >> sh) + dist) << sh;
		return true;
	}
	return false;
}

/*
 * only_far tells whether every timer of list (a top-level slot reached at
 * t) was filed at the horizon and is due past the slot's own span.
 */
static bool
only_far(const tr__tnode *list, uint64_t t)
{
	for (; list != NULL; list = list->tn_next) {
		if (list->tn_deadline - t < ((uint64_t) 1 << (BITS * TOP)))
			return false;
	}
	return true;
}

/*
 * rebase, for a wheel whose timers are all on the top level, takes them
 * out in time order, moves time to just before the earliest deadline
 * among them (or to limit, if that is earlier) and files them again.
 * O(timers).
 */
static void
rebase(tr__wheel *wh, uint64_t limit)
{
	tr__tnode *all = NULL, *tail = NULL, *n, *next;
	uint64_t m = UINT64_MAX, start;
	unsigned lv, s;

	/* In time order, so that equal deadlines keep their order. */
	while (earliest(wh, &lv, &s, &start)) {
		n = slot_take(wh, lv, s);
		if (all == NULL)
			all = n;
		else
			tail->tn_next = n;
		for (; n != NULL; n = n->tn_next) {
			tail = n;
			if (n->tn_deadline < m)
				m = n->tn_deadline;
		}
	}
	wh->wh_now = m - 1 < limit ? m - 1 : limit;
	for (n = all; n != NULL; n = next) {
		next = n->tn_next;
		file(wh, n);
	}
}

/* due_append puts n at the tail of the circular due list at sentinel. */
static void
due_append(tr__tnode *sentinel, tr__tnode *n)
{
	n->tn_level = DUE;
	n->tn_next = sentinel;
	n->tn_prev = sentinel->tn_prev;
	sentinel->tn_prev->tn_next = n;
	sentinel->tn_prev = n;
}

/* tr__wheel_init starts an empty wheel at time now_ms. */
void
tr__wheel_init(tr__wheel *wh, uint64_t now_ms)
{
	memset(wh, 0, sizeof *wh);
	wh->wh_now = now_ms;
}

/*
 * tr__wheel_insert files n to fire at deadline_ms.  A deadline at or
 * before the wheel's time fires on the next advance.  n should not be
 * filed; if it is, it is moved (removed first).
 */
void
tr__wheel_insert(tr__wheel *wh, tr__tnode *n, uint64_t deadline_ms)
{
	if (n->tn_filed)
		tr__wheel_remove(wh, n);
	n->tn_deadline = deadline_ms;
	n->tn_filed = true;
	file(wh, n);
	wh->wh_count++;
}

/*
 * tr__wheel_remove unfiles n if it is filed, including while it waits on
 * the due list of a running advance (it then does not fire).  O(1).
 */
void
tr__wheel_remove(tr__wheel *wh, tr__tnode *n)
{
	if (!n->tn_filed)
		return;
	if (n->tn_level == DUE) {
		n->tn_prev->tn_next = n->tn_next;
		n->tn_next->tn_prev = n->tn_prev;
	} else {
		slot_unlink(wh, n);
	}
	n->tn_next = n->tn_prev = NULL;
	n->tn_filed = false;
	wh->wh_count--;
}

/*
 * tr__wheel_next returns the earliest deadline of any filed timer: exact
 * if it is on level 0, else the start of its slot, a lower bound.  With
 * overdue timers it returns one of their deadlines (the earliest unless
 * that one was removed), which is <= wh_now.  UINT64_MAX if empty.  O(levels).
 */
uint64_t
tr__wheel_next(const tr__wheel *wh)
{
	unsigned lv, s;
	uint64_t start;

	if (!earliest(wh, &lv, &s, &start))
		return UINT64_MAX;
	if (lv == 0 && start == wh->wh_now)
		return wh->wh_slots[0][s]->tn_deadline;
	return start;
}

/*
 * tr__wheel_advance moves the wheel's time to now_ms (a now_ms before it
 * counts as the wheel's time) and fires every timer due by then, in
 * deadline order, overdue ones first.  fire may insert and remove timers,
 * n included; one it inserts fires on a later advance, never during this
 * one.  fire must not call tr__wheel_advance.  Returns the number fired.
 */
uint64_t
tr__wheel_advance(tr__wheel *wh, uint64_t now_ms,
    void (*fire)(void *arg, tr__tnode *n), void *arg)
{
	tr__tnode due;
	tr__tnode *later = NULL, *later_tail = NULL;
	tr__tnode *n, *next;
	unsigned lv, s;
	uint64_t t, fired = 0;

	if (now_ms < wh->wh_now)
		now_ms = wh->wh_now;
	due.tn_next = due.tn_prev = &due;

	/* Phase 1: collect what is due, cascading slots in time order. */
	for (n = slot_take(wh, 0, (unsigned) (wh->wh_now & MASK)); n != NULL;
	     n = next) {
		next = n->tn_next;
		due_append(&due, n);
	}
	while (earliest(wh, &lv, &s, &t) && t <= now_ms) {
		if (lv == TOP && only_far(wh->wh_slots[TOP][s], t)) {
			rebase(wh, now_ms);
			continue;
		}
		wh->wh_now = t;
		for (n = slot_take(wh, lv, s); n != NULL; n = next) {
			next = n->tn_next;
			if (n->tn_deadline <= t) {
				due_append(&due, n);
			} else if (n->tn_deadline > now_ms) {
				n->tn_next = NULL;
				if (later == NULL)
					later = n;
				else
					later_tail->tn_next = n;
				later_tail = n;
			} else {
				file(wh, n);
			}
		}
	}
	wh->wh_now = now_ms;
	for (n = later; n != NULL; n = next) {
		next = n->tn_next;
		file(wh, n);
	}

	/* Phase 2: fire, taking each timer off the list before its call. */
	while ((n = due.tn_next) != &due) {
		due.tn_next = n->tn_next;
		n->tn_next->tn_prev = &due;
		n->tn_next = n->tn_prev = NULL;
		n->tn_filed = false;
		wh->wh_count--;
		fired++;
		fire(arg, n);
	}
	return fired;
}
