/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_PACK_H
#define TROUPE_PACK_H

/*
 * msgpack helpers.  A payload is msgpack by convention: build it with
 * msgpack-c (msgpack_sbuffer + msgpack_packer) and send it with
 * tr_send_sbuffer, or use the one-integer shortcuts, which encode a
 * standard msgpack integer without an allocation.  Most payloads are
 * simpler to build and read with the term calls of troupe/term.h.
 */

#include <stdint.h>

#include <msgpack.h>

#include <troupe/defs.h>
#include <troupe/msg.h>
#include <troupe/pid.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_system tr_system;

/* TR_PACK_INT_MAX is the most bytes one msgpack integer takes. */
#define TR_PACK_INT_MAX 9

/*
 * tr_pack_int encodes v as the shortest msgpack integer into buf (at least
 * TR_PACK_INT_MAX bytes) and returns the length (0 if buf is NULL).
 * Thread: any.
 */
TR_API size_t tr_pack_int(void *buf, int64_t v);

/*
 * tr_unpack_int decodes one msgpack integer that fills exactly len bytes
 * at buf into *v.  Returns 0, TR_EBADMSG (buf NULL, not one integer, or
 * an unsigned value above INT64_MAX), or TR_EINVAL (v NULL). Thread: any.
 */
TR_API int tr_unpack_int(const void *buf, size_t len, int64_t *v);

/* tr_send_int sends v as a msgpack integer; errors as tr_send. Thread: actor. */
TR_API int tr_send_int(tr_ctx *cx, tr_pid pid, uint32_t tag, int64_t v);

/* tr_system_send_int is tr_send_int for a plain thread. Thread: any. */
TR_API int tr_system_send_int(tr_system *sys, tr_pid pid, uint32_t tag,
    int64_t v);

/* tr_msg_int decodes m's payload as one msgpack integer (TR_EBADMSG if
 * not; TR_EINVAL if m or v is NULL). Thread: any. */
TR_API int tr_msg_int(const tr_msg *m, int64_t *v);

/*
 * tr_send_sbuffer sends the bytes packed into sb (sb is not changed; reuse
 * it with msgpack_sbuffer_clear). Errors as tr_send. Thread: actor.
 */
TR_API int tr_send_sbuffer(tr_ctx *cx, tr_pid pid, uint32_t tag,
    const msgpack_sbuffer *sb);

/*
 * tr_msg_unpack decodes m's payload, which must be exactly one msgpack
 * object, into out (set up by the caller with msgpack_unpacked_init and
 * released with msgpack_unpacked_destroy).  Returns 0 or TR_EBADMSG
 * (malformed, truncated, or trailing bytes), TR_ENOMEM, TR_EINVAL (m or
 * out NULL). Thread: any.
 */
TR_API int tr_msg_unpack(const tr_msg *m, msgpack_unpacked *out);

/*
 * Pids and references in payloads are msgpack ext values (fixext 16; see
 * docs/protocol.md, format version 1) that name the system they belong
 * to, so that the same bytes name the same actor on every node:
 *   pid: type TR_PACK_EXT_PID, incarnation (u64), slot (u32), gen (u32);
 *   ref: type TR_PACK_EXT_REF, incarnation (u64), reference (u64);
 * all big-endian; the incarnation is the random number the system drew
 * at start (tr_system_incarnation).  TR_PID_NIL is incarnation 0, slot
 * UINT32_MAX, gen 0; reference 0 is incarnation 0, reference 0.  The
 * term calls (troupe/term.h: items p and r) use the same encoding.
 */
#define TR_PACK_EXT_PID 1
#define TR_PACK_EXT_REF 2

/* TR_PACK_PID_LEN is the length of a packed pid or reference (18). */
#define TR_PACK_PID_LEN 18

/*
 * tr_pack_pid packs p, a pid of sys (node 0) or TR_PID_NIL, into pk.
 * Returns 0, TR_ENOMEM, TR_ENOTLOCAL (p on another node: what the
 * distribution layer will translate), or TR_EINVAL (sys or pk NULL).
 * Thread: any.
 */
TR_API int tr_pack_pid(tr_system *sys, msgpack_packer *pk, tr_pid p);

/*
 * tr_unpack_pid reads a pid packed by tr_pack_pid from o into *p.  A pid
 * of sys comes out as a local pid (node 0), the nil pid as TR_PID_NIL.
 * Returns 0, TR_EBADMSG (o not a pid ext of 16 bytes; also for sys, o or
 * p NULL) or TR_ENOTLOCAL (a pid of another system: with no distribution
 * it names no actor here).  Slot and generation may be any value (a peer
 * chooses them): every call taking a pid treats one that names no live
 * actor as a dead one.
 * Thread: any.
 */
TR_API int tr_unpack_pid(tr_system *sys, const msgpack_object *o, tr_pid *p);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_PACK_H */
