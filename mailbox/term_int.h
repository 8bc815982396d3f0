/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_MAILBOX_TERM_INT_H
#define TROUPE_MAILBOX_TERM_INT_H

/*
 * The term codec (mailbox/term.c): format-driven msgpack packing and
 * scanning.  It knows nothing of systems: pids and references are read
 * and written against inc, the incarnation of the system they belong to
 * (0: none, and then p and r are refused).
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/term.h>

/*
 * tr__term_plan is a compiled format: its ops (in the thread's cache, or
 * on the heap for a long format), the number of top-level items and
 * whether it has scan-only items.  Cached ops stay valid until the next
 * compile on the thread: use a plan before anything else compiles (a
 * process that blocks lets other actors run on its thread).
 */
typedef struct tr__term_plan {
	const void *ops;
	size_t nops;
	uint64_t top;
	bool scan_only;
	bool bounded; /* no s or y: the term takes at most max bytes */
	size_t max;
	void *heap;
} tr__term_plan;

/* tr__term_compile compiles fmt into *pl: 0, TR_EINVAL (bad format) or
 * TR_ENOMEM.  Release with tr__term_plan_free. */
int tr__term_compile(tr__term_plan *pl, const char *fmt);

/* tr__term_plan_free frees what pl holds (idempotent). */
void tr__term_plan_free(tr__term_plan *pl);

/*
 * tr__term_size compiles fmt into *pl and returns the length of the term
 * it describes with the arguments in *ap (consumed), or a negative TR_E*
 * code (pl is then released).
 */
int64_t tr__term_size(uint64_t inc, const char *fmt, va_list *ap,
    tr__term_plan *pl);

/*
 * tr__term_write writes that term (a size pass over the same arguments
 * succeeded with that length) into out, which has room, and releases pl.
 */
void tr__term_write(uint64_t inc, void *out, va_list *ap, tr__term_plan *pl);

/*
 * tr__term_write_once packs a compiled bounded format (pl->bounded; out
 * has pl->max bytes) in one pass, releases pl and returns the length or a
 * negative TR_E* code (a pid of another node, say).
 */
int64_t tr__term_write_once(uint64_t inc, void *out, va_list *ap,
    tr__term_plan *pl);

/*
 * tr__term_scan matches the len bytes at data against fmt (the whole of
 * them: no trailing bytes).  ap NULL: match only, no argument is read.
 * A bad format is TR_EINVAL whatever the bytes.
 * Returns 0 or a TR_E* code.
 */
int tr__term_scan(uint64_t inc, const void *data, size_t len, const char *fmt,
    va_list *ap);

/* tr__term_check tells whether fmt is a valid format (scan: for a scan,
 * which also allows A, M and *). */
bool tr__term_check(const char *fmt, bool scan);

/* tr__term_match is tr__term_scan without outputs, of a format that
 * tr__term_check accepted. */
int tr__term_match(uint64_t inc, const void *data, size_t len, const char *fmt);

/* tr__term_next is tr_term_next with a va_list. */
int tr__term_next(tr_term_iter *it, const char *fmt, va_list *ap);

/* tr__term_put_pid writes p's 18-byte ext encoding for a system of
 * incarnation inc into out; TR_ENOTLOCAL for another node's pid,
 * TR_EINVAL if inc is 0 and p is not nil. */
int tr__term_put_pid(unsigned char *out, uint64_t inc, tr_pid p);

/* tr__term_get_pid decodes a pid ext body (type TR_PACK_EXT_PID, size
 * bytes at b) of a system of incarnation inc; TR_EBADTERM for another
 * size, TR_ENOTLOCAL for another system's pid. */
int tr__term_get_pid(const unsigned char *b, size_t size, uint64_t inc,
    tr_pid *p);

#endif /* TROUPE_MAILBOX_TERM_INT_H */
