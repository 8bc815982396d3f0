/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_MSG_H
#define TROUPE_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <troupe/defs.h>
#include <troupe/pid.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * tr_msg is one message: a header (sender, tag, reference, length, flags)
 * and the payload bytes, in one pooled allocation.  The payload is msgpack
 * by convention (see troupe/pack.h) so that any message can cross a node
 * boundary unchanged; a message flagged TR_MSG_LOCAL may carry raw bytes
 * such as a pointer and is refused by remote sends.
 */
typedef struct tr_msg tr_msg;

/* tr_ctx is what an actor's code runs with; see troupe/troupe.h. */
typedef struct tr_ctx tr_ctx;

/* Tags at or above TR_TAG_SYSTEM are reserved for troupe's own messages. */
#define TR_TAG_SYSTEM 0xffff0000u

/* Message flags. */
enum tr_msg_flags {
	/* The payload is not portable: it never leaves the node. */
	TR_MSG_LOCAL = 1u << 0,
	/* A reply made by tr_reply; tr_msg_ref is the request's. */
	TR_MSG_REPLY = 1u << 1,
};

/*
 * Tags of the messages troupe itself delivers.  EXIT: a linked actor
 * exited while the receiver traps exits (from: who; tr_msg_reason: why).
 * DOWN: a monitored actor exited (from: who; ref: the monitor's
 * reference; tr_msg_reason: why).  CALL_TIMEOUT: an asynchronous call got
 * no answer in time (ref: the call's reference).
 */
#define TR_TAG_EXIT (TR_TAG_SYSTEM + 1)
#define TR_TAG_DOWN (TR_TAG_SYSTEM + 2)
#define TR_TAG_CALL_TIMEOUT (TR_TAG_SYSTEM + 3)

/* The largest payload one message may carry (64 MiB). */
#define TR_MSG_MAX_LEN ((size_t) 64 << 20)

/*
 * The accessors below read a NULL message (such as a receive that timed
 * out returns) as an empty one: tag 0, sender TR_PID_NIL, reference 0,
 * flags 0, data and body NULL, length 0; the setters ignore it.
 */

/* tr_msg_tag returns the tag the sender gave m. Thread: any. */
TR_API uint32_t tr_msg_tag(const tr_msg *m);

/* tr_msg_from returns the sender's pid (TR_PID_NIL from a plain thread). Thread: any. */
TR_API tr_pid tr_msg_from(const tr_msg *m);

/* tr_msg_ref returns m's reference (0 unless set; request/reply use it). Thread: any. */
TR_API uint64_t tr_msg_ref(const tr_msg *m);

/* tr_msg_flags returns m's TR_MSG_* flags. Thread: any. */
TR_API uint32_t tr_msg_flags(const tr_msg *m);

/* tr_msg_data returns m's payload; valid while m is. Thread: any. */
TR_API const void *tr_msg_data(const tr_msg *m);

/* tr_msg_len returns the payload length in bytes. Thread: any. */
TR_API size_t tr_msg_len(const tr_msg *m);

/*
 * tr_msg_alloc allocates a message with a len-byte payload for the caller to
 * fill (tr_msg_body) and send with tr_send_msg, without a second copy.  It
 * uses the running worker's pool.  Returns NULL if len exceeds
 * TR_MSG_MAX_LEN, memory is short, or cx is NULL.  The caller owns the message until a
 * send takes it, or frees it with tr_msg_free.
 * Thread: actor.
 */
TR_API tr_msg *tr_msg_alloc(tr_ctx *cx, uint32_t tag, size_t len);

/* tr_msg_body returns the writable payload of a message the caller owns. Thread: any. */
TR_API void *tr_msg_body(tr_msg *m);

/* tr_msg_set_ref sets m's reference before it is sent. Thread: any. */
TR_API void tr_msg_set_ref(tr_msg *m, uint64_t ref);

/* tr_msg_set_flags sets m's TR_MSG_LOCAL flag before it is sent (other
 * flags are troupe's to set). Thread: any. */
TR_API void tr_msg_set_flags(tr_msg *m, uint32_t flags);

/*
 * tr_msg_free frees a message the caller owns: one from tr_msg_alloc that
 * was not sent, one returned by a receive, or a call's reply.  Messages
 * handed to an event actor's handler are owned by the runtime and must not
 * be freed.  NULL is ignored.
 * Thread: actor, or any thread for a reply from tr_system_call.
 */
TR_API void tr_msg_free(tr_msg *m);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_MSG_H */
