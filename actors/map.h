/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_ACTORS_MAP_H
#define TROUPE_ACTORS_MAP_H

/*
 * tr__map: an open-addressing hash map from any 64-bit key to a small
 * value (a pid and a pointer), linear probing with backward-shift
 * deletion (no tombstones).  Owned by one thread; grows at 3/4 full.
 *
 * Key 0 marks an empty cell of the table, so the entry for key 0 lives
 * apart, in a spare cell after the table (m_ents[m_cap], used if
 * m_has_zero): every key, including the ones a peer or the network makes
 * up (a reference 0, a pid whose key is 0), is an ordinary key, never
 * confused with an empty cell (decision record 0017).
 */

#include <stdbool.h>
#include <stdint.h>

#include <troupe/pid.h>

typedef struct tr__mapent {
	uint64_t me_key; /* in m_ents, 0: empty cell */
	tr_pid me_pid;
	uint32_t me_aux;
	void *me_ptr;
	uint64_t me_val;
} tr__mapent;

typedef struct tr__map {
	tr__mapent *m_ents;
	uint32_t m_cap;          /* power of two, or 0; m_ents has m_cap + 1 */
	uint32_t m_len : 31;     /* entries in the table (key 0's apart) */
	uint32_t m_has_zero : 1; /* m_ents[m_cap] is key 0's entry */
} tr__map;

/* tr__map_get returns the entry for key, or NULL. */
tr__mapent *tr__map_get(const tr__map *m, uint64_t key);

/* tr__map_put returns the entry for key, made (zeroed but for the key)
 * if new (*isnew says which); NULL on ENOMEM. Entry pointers die at the
 * next put or del. */
tr__mapent *tr__map_put(tr__map *m, uint64_t key, bool *isnew);

/* tr__map_del removes key; false if absent.  If out is not NULL the
 * removed entry is copied there. */
bool tr__map_del(tr__map *m, uint64_t key, tr__mapent *out);

/* tr__map_fini frees the table. */
void tr__map_fini(tr__map *m);

/* tr__map_next iterates (key 0's entry last): start with *i = 0; NULL at
 * the end.  The map must not change during the walk. */
tr__mapent *tr__map_next(const tr__map *m, uint32_t *i);

/*
 * tr__pid_key packs a pid into a key.  It is one-to-one over local pids
 * (node 0: the key is slot and generation), which is all the maps keyed
 * by pid ever hold: every public call rejects a pid of another node
 * (TR_ENOTLOCAL) before it reaches one.  Any key, 0 included, is valid.
 */
static inline uint64_t
tr__pid_key(tr_pid p)
{
	return (((uint64_t) p.slot << 32) | p.gen) ^ ((uint64_t) p.node << 1) ^
	    ((uint64_t) 1 << 63);
}

#endif /* TROUPE_ACTORS_MAP_H */
