/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_PACK_H
#define TROUPE_PACK_H

/*
 * msgpack helpers.  A payload is msgpack by convention: build it with
 * msgpack-c (msgpack_sbuffer + msgpack_packer) and send it with
 * tr_send_sbuffer, or use the one-integer shortcuts, which encode a
 * standard msgpack integer without an allocation.
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
 * Pids in payloads are msgpack ext values of type TR_PACK_EXT_PID holding
 * node, slot and generation (three big-endian uint32), so that a payload
 * can say "this is a pid" and a node can translate the node field when a
 * message crosses between nodes.
 */
#define TR_PACK_EXT_PID 1

/* tr_pack_pid packs p (any value: node, slot and generation as they are)
 * into pk. Returns 0, TR_ENOMEM, or TR_EINVAL (pk NULL). Thread: any. */
TR_API int tr_pack_pid(msgpack_packer *pk, tr_pid p);

/* tr_unpack_pid reads a pid packed by tr_pack_pid from o into *p.
 * Returns 0 or TR_EBADMSG (also for o or p NULL).  Any 96-bit value may
 * come out (a peer chooses it): every call taking a pid treats one that
 * names no live actor as a dead one, and a nonlocal one as TR_ENOTLOCAL.
 * Thread: any. */
TR_API int tr_unpack_pid(const msgpack_object *o, tr_pid *p);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_PACK_H */
