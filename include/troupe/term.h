/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_TERM_H
#define TROUPE_TERM_H

/*
 * Terms: msgpack payloads built and read from a format string, in the
 * manner of Jansson's json_pack/json_unpack.  One format describes the
 * value; the same format packs it and scans it back:
 *
 *   tr_send_term(cx, srv, T_PUT, "['put' s i p]", key, n, tr_self(cx));
 *   tr_msg_scan(cx, m, "['put' s i p]", &k, &klen, &n, &from);
 *
 * Format items (space, ',' and ':' between items are ignored):
 *
 *   item   packs (argument)             scans (argument)
 *   i      int                          int *        (range-checked)
 *   I      int64_t                      int64_t *
 *   u      unsigned                     unsigned *   (range-checked)
 *   U      uint64_t                     uint64_t *
 *   f      double (msgpack float64)     double *     (float32 or 64)
 *   b      bool (int)                   bool *
 *   n      nil (no argument)            nil (no argument)
 *   s      const char * (NUL-ended)     const char **, size_t *
 *   s#     const char *, size_t         const char **, size_t *
 *   y#     const void *, size_t         const void **, size_t *
 *   p      tr_pid                       tr_pid *
 *   r      uint64_t reference           uint64_t *
 *   [...]  array of the items inside    array of exactly those items
 *   {...}  map: key, value, key, ...    map, pairs in that order
 *   'txt'  the string txt (no argument) a string equal to txt
 *   -12    that integer (no argument)   an integer equal to it
 *   *      (scan only)                  any one value, skipped
 *   A      (scan only)                  array of any length: tr_term_iter *
 *   M      (scan only)                  map of any size: tr_term_iter *
 *
 * Integers pack in msgpack's shortest form; any integer form scans into
 * any integer item whose C type holds the value (TR_EBADTERM otherwise).
 * A format is a sequence of items: a message payload should hold exactly
 * one (usually an array: a tuple), and "" is the empty payload.
 * Scanned strings and binaries point into the payload (no copy, not
 * NUL-terminated): valid while the message (or buffer) is.  A NULL
 * output pointer skips that output.  On an error the outputs may be
 * partly written.
 *
 * Pids and references are msgpack ext values that name the system they
 * come from (its incarnation, a random number drawn at start), so that
 * the same bytes name the same actor on every node: see docs/protocol.md.
 * This is why packing and scanning take a system (or a context).
 *
 * Errors: TR_EINVAL (a bad format: unknown item, unbalanced brackets, an
 * odd map, y without #, brackets nested over 32 deep, a scan-only item in
 * a pack; or a NULL string
 * argument, a pid or reference without a system), TR_EBADMSG (the bytes
 * are not msgpack: truncated, a length past the end, 0xc1), TR_EBADTERM
 * (well-formed msgpack that does not match the format: another type,
 * another count, an integer out of the C type's range, a literal that
 * differs, trailing bytes), TR_ENOTLOCAL (a pid or reference of another
 * system, or packing a pid of another node: distribution is not there
 * yet), TR_ETOOBIG (a string or binary over 4 GiB - 1, or a term larger
 * than a message may be).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/defs.h>
#include <troupe/msg.h>
#include <troupe/pid.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_system tr_system;
typedef struct tr_timer tr_timer;

/*
 * tr_term_iter walks an array (item A) or a map (item M) of any length,
 * with tr_term_next.  count is its number of elements (array) or pairs
 * (map); the other fields are troupe's.
 */
typedef struct tr_term_iter {
	size_t count;
	const void *ti_p;
	size_t ti_len;
	uint64_t ti_left;
	uint64_t ti_inc;
} tr_term_iter;

/*
 * tr_system_incarnation returns the random, nonzero 64-bit number drawn
 * when sys started, which pids and references of sys carry on the wire
 * (0 if sys is NULL).
 * Thread: any.
 */
TR_API uint64_t tr_system_incarnation(tr_system *sys);

/*
 * tr_term_pack packs the term fmt describes into buf (cap bytes) and
 * returns its length.  If the length exceeds cap nothing is written: call
 * with cap 0 (buf may then be NULL) to learn the size.  sys may be NULL if
 * fmt has no p or r.  Returns the length, or a negative TR_E* code.
 * Thread: any.
 */
TR_API int64_t tr_term_pack(tr_system *sys, void *buf, size_t cap,
    const char *fmt, ...);

/* tr_term_pack_v is tr_term_pack with a va_list. Thread: any. */
TR_API int64_t tr_term_pack_v(tr_system *sys, void *buf, size_t cap,
    const char *fmt, va_list ap);

/*
 * tr_term_scan checks that the len bytes at data are exactly the term fmt
 * describes (no trailing bytes) and stores its parts through the
 * arguments.  sys may be NULL if fmt has no p or r.  Returns 0 or a
 * TR_E* code (see above).
 * Thread: any.
 */
TR_API int tr_term_scan(tr_system *sys, const void *data, size_t len,
    const char *fmt, ...);

/* tr_term_scan_v is tr_term_scan with a va_list. Thread: any. */
TR_API int tr_term_scan_v(tr_system *sys, const void *data, size_t len,
    const char *fmt, va_list ap);

/*
 * tr_msg_scan is tr_term_scan of m's payload, for an actor (pids and
 * references are read as cx's system's).  TR_EINVAL if m is NULL,
 * TR_ECONTEXT if cx is NULL.
 * Thread: actor.
 */
TR_API int tr_msg_scan(tr_ctx *cx, const tr_msg *m, const char *fmt, ...);

/* tr_msg_scan_v is tr_msg_scan with a va_list. Thread: actor. */
TR_API int tr_msg_scan_v(tr_ctx *cx, const tr_msg *m, const char *fmt,
    va_list ap);

/* tr_system_msg_scan is tr_msg_scan for a plain thread (a reply of
 * tr_system_call, say); TR_EINVAL if sys or m is NULL. Thread: any. */
TR_API int tr_system_msg_scan(tr_system *sys, const tr_msg *m, const char *fmt,
    ...);

/*
 * tr_term_next scans the next values of it (as many as fmt has items:
 * "s i" reads one pair of a map) and moves past them.  Returns 0,
 * TR_ENOENT if it is exhausted, TR_EBADTERM if fmt asks for more values
 * than are left or does not match them, TR_EINVAL if it is NULL or fmt
 * is bad.  After an error the iterator has not moved.
 * Thread: any.
 */
TR_API int tr_term_next(tr_term_iter *it, const char *fmt, ...);

/* ------------------------------------------------------------ sending */

/*
 * tr_send_term packs the term straight into a new message (one sizing
 * pass, then the bytes are written in place: no allocation besides the
 * message, no copy) and sends it as tr_send_msg does.  Errors as tr_send
 * and as tr_term_pack.
 * Thread: actor.
 */
TR_API int tr_send_term(tr_ctx *cx, tr_pid pid, uint32_t tag, const char *fmt,
    ...);

/* tr_send_term_v is tr_send_term with a va_list. Thread: actor. */
TR_API int tr_send_term_v(tr_ctx *cx, tr_pid pid, uint32_t tag, const char *fmt,
    va_list ap);

/*
 * tr_system_send_term is tr_send_term for a plain thread (as
 * tr_system_send; a term up to 512 bytes is packed on the stack, a
 * larger one in a temporary allocation).  Errors as tr_system_send and
 * tr_term_pack.
 * Thread: any.
 */
TR_API int tr_system_send_term(tr_system *sys, tr_pid pid, uint32_t tag,
    const char *fmt, ...);

/* tr_system_send_term_v is tr_system_send_term with a va_list. Thread: any. */
TR_API int tr_system_send_term_v(tr_system *sys, tr_pid pid, uint32_t tag,
    const char *fmt, va_list ap);

/*
 * The request/reply and timer calls below are their byte versions
 * (troupe/troupe.h) with the payload given as a term; the format comes
 * last so that its arguments can follow.  Errors as the byte version and
 * as tr_term_pack.
 */

/* tr_call_term is tr_call. Thread: process. */
TR_API int tr_call_term(tr_ctx *cx, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...);

/* tr_call_term_v is tr_call_term with a va_list. Thread: process. */
TR_API int tr_call_term_v(tr_ctx *cx, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, va_list ap);

/* tr_system_call_term is tr_system_call. Thread: any but sys's workers. */
TR_API int tr_system_call_term(tr_system *sys, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...);

/* tr_system_call_term_v is tr_system_call_term with a va_list.
 * Thread: any but sys's workers. */
TR_API int tr_system_call_term_v(tr_system *sys, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, va_list ap);

/* tr_call_async_term is tr_call_async. Thread: actor. */
TR_API int tr_call_async_term(tr_ctx *cx, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, uint64_t *ref, const char *fmt, ...);

/* tr_call_async_term_v is tr_call_async_term with a va_list. Thread: actor. */
TR_API int tr_call_async_term_v(tr_ctx *cx, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, uint64_t *ref, const char *fmt, va_list ap);

/* tr_reply_term is tr_reply. Thread: actor. */
TR_API int tr_reply_term(tr_ctx *cx, const tr_msg *request, uint32_t tag,
    const char *fmt, ...);

/* tr_reply_term_v is tr_reply_term with a va_list. Thread: actor. */
TR_API int tr_reply_term_v(tr_ctx *cx, const tr_msg *request, uint32_t tag,
    const char *fmt, va_list ap);

/* tr_reply_to_term is tr_reply_to. Thread: actor. */
TR_API int tr_reply_to_term(tr_ctx *cx, tr_pid to, uint64_t ref, uint32_t tag,
    const char *fmt, ...);

/* tr_send_after_term is tr_send_after. Thread: actor. */
TR_API int tr_send_after_term(tr_ctx *cx, tr_pid pid, int64_t delay_ms,
    uint32_t tag, tr_timer *timer, const char *fmt, ...);

/* tr_system_send_after_term is tr_system_send_after. Thread: any. */
TR_API int tr_system_send_after_term(tr_system *sys, tr_pid pid,
    int64_t delay_ms, uint32_t tag, tr_timer *timer, const char *fmt, ...);

/* ------------------------------------------------------------ receive */

/*
 * tr_receive_term is Erlang's receive of one pattern: it returns the
 * oldest message with tag whose payload matches fmt (types, counts and
 * literals, as tr_msg_scan checks them), having scanned it into the
 * arguments, blocking as tr_receive_match does (timeout_ms 0: just look;
 * TR_INFINITY: no limit).  Other messages stay queued, in order.  Returns
 * NULL on timeout (arguments untouched), or at once if cx or fmt is NULL
 * or fmt is not a valid scan format.  The caller owns the message; the
 * strings scanned point into it.
 *
 *   m = tr_receive_term(cx, T_REQ, 5000, "['get' s]", &key, &klen);
 *
 * Thread: actor (blocking: process).
 */
TR_API tr_msg *tr_receive_term(tr_ctx *cx, uint32_t tag, int64_t timeout_ms,
    const char *fmt, ...);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_TERM_H */
