/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_PID_H
#define TROUPE_PID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/defs.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * tr_pid names an actor: the node it lives on (0 is this node), its slot in
 * that node's actor table and the generation of the slot.  It is a plain
 * value: copy it, compare it with tr_pid_eq, hash it, put it in a message.
 * A pid outlives its actor safely: once the actor has exited the slot's
 * generation moves on, and anything sent to the old pid is counted as a
 * dead letter and dropped, never delivered to a newer actor in that slot.
 */
typedef struct tr_pid {
	uint32_t node;
	uint32_t slot;
	uint32_t gen;
} tr_pid;

/*
 * Any 96-bit value is safe to hand to any call that takes a pid: one whose
 * slot is UINT32_MAX is nil (TR_EINVAL), one of another node gives
 * TR_ENOTLOCAL, and any other that names no live actor is a dead one
 * (dead letter, DOWN or EXIT noproc, tr_wait noproc).
 */

/* TR_PID_NIL is the pid of nobody; it is what a plain thread sends as.
 * Every pid with slot UINT32_MAX counts as nil (tr_pid_is_nil). */
#define TR_PID_NIL ((tr_pid){ 0, UINT32_MAX, 0 })

/* tr_pid_eq tells whether a and b name the same actor. Thread: any. */
static inline bool
tr_pid_eq(tr_pid a, tr_pid b)
{
	return a.node == b.node && a.slot == b.slot && a.gen == b.gen;
}

/* tr_pid_is_nil tells whether p is TR_PID_NIL. Thread: any. */
static inline bool
tr_pid_is_nil(tr_pid p)
{
	return p.slot == UINT32_MAX;
}

/* tr_pid_hash returns a well-mixed 64-bit hash of p. Thread: any. */
static inline uint64_t
tr_pid_hash(tr_pid p)
{
	uint64_t h = ((uint64_t) p.slot << 32) ^ p.gen ^
	    ((uint64_t) p.node << 17);
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* TR_PID_FMT_MAX is the buffer size tr_pid_format never exceeds. */
#define TR_PID_FMT_MAX 40

/*
 * tr_pid_format writes p as "<node.slot.gen>" (Erlang's notation) into buf
 * of size len, always NUL-terminated when len > 0, and returns buf (NULL
 * if buf is NULL).
 * Thread: any.
 */
TR_API char *tr_pid_format(tr_pid p, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_PID_H */
