/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_SERVER_H
#define TROUPE_SERVER_H

/*
 * Servers: Erlang/OTP's gen_server on the public API (server/server.c).
 * A server is an actor that owns a state block and hands each message to
 * one of the callbacks of its tr_server_def:
 *
 *   request made with tr_server_call (a tr_call)  -> handle_call
 *   message sent with tr_server_cast              -> handle_cast
 *   anything else (plain sends, timers, EXIT, DOWN,
 *   replies to the server's own async calls)      -> handle_info
 *
 * A callback returns TR_CONTINUE, tr_server_exit(state, reason) to stop
 * (terminate runs first), or a negative TR_E* code (a crash: terminate
 * runs with an error reason naming the code).  handle_call replies with
 * tr_server_reply(cx, from, fmt, ...), now or later from any actor (the
 * tr_from is a value: keep it), or never.
 *
 * By default a server is an event actor (no stack: its callbacks must not
 * block; they may tr_server_call_async); with TR_SERVER_PROCESS in its
 * def it is a process and its callbacks may block (tr_server_call another
 * server, tr_receive, tr_sleep).  See docs/guide.md, chapter 9.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/supervisor.h>
#include <troupe/troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Tags of calls and casts are below TR_SERVER_TAG_MAX.  A cast travels
 * with TR_SERVER_CAST added to its tag (as gen_server wraps it in
 * '$gen_cast'); handle_cast is given the tag without it.  Tags from
 * 2^31 up to TR_TAG_SYSTEM are left to troupe's servers.
 */
#define TR_SERVER_TAG_MAX 0x40000000u
#define TR_SERVER_CAST 0x40000000u

/* What init returns, besides 0 and negative TR_E* codes: the server is
 * not started, and it is no error (Erlang's ignore).  Same value as
 * TR_CHILD_IGNORE, so a supervisor child that ignores is not an error. */
#define TR_SERVER_IGNORE 1

/* tr_server_def.flags. */
enum tr_server_flags {
	/* Run the server as a process: its callbacks may block. */
	TR_SERVER_PROCESS = 1u << 0,
};

/*
 * tr_from names the caller of a request and the request: a value to copy
 * and keep, for replying later (Erlang's From).
 */
typedef struct tr_from {
	tr_pid pid;
	uint64_t ref;
} tr_from;

/*
 * tr_server_def is a server's code, as a gen_server callback module.  It
 * must outlive the servers started from it (make it static const).  Any
 * callback may be NULL: init then does nothing; a call or a cast then
 * stops the server with an error (as an undefined callback does in OTP);
 * an info message is dropped; terminate does nothing.
 */
typedef struct tr_server_def {
	/* Bytes of the state block, which the runtime allocates at start
	 * (copied from the start's state argument, or zeroed) and frees when
	 * the server ends, however it ends.  The callbacks get its address. */
	size_t state_size;
	/* Runs once, before the start returns, with the name (if any)
	 * already registered.  Returns 0, TR_SERVER_IGNORE, or a negative
	 * code, which the start returns (init undoes its own work then). */
	int (*init)(tr_ctx *cx, void *state);
	/* A request: reply with tr_server_reply to from, now or later. */
	int (*handle_call)(tr_ctx *cx, uint32_t tag, const tr_msg *m,
	    tr_from from, void *state);
	/* A cast; tag is the caster's, without TR_SERVER_CAST. */
	int (*handle_cast)(tr_ctx *cx, uint32_t tag, const tr_msg *m,
	    void *state);
	/* Any other message; tag is tr_msg_tag(m). */
	int (*handle_info)(tr_ctx *cx, uint32_t tag, const tr_msg *m,
	    void *state);
	/* The server stops with why: a callback stopped it or crashed
	 * (returned an error), tr_server_stop asked, or its parent (the
	 * linked starter, a supervisor) sent an exit signal while the server
	 * traps exits.  Not called when it is killed, or ended by a signal
	 * it does not trap, or by tr_system_stop: cleanup is for that. */
	void (*terminate)(tr_ctx *cx, const tr_exit_info *why, void *state);
	/* Releases what the state owns (files, tables); runs whenever a
	 * server whose init succeeded ends, after terminate if that ran. */
	void (*cleanup)(void *state);
	unsigned flags; /* TR_SERVER_* */
} tr_server_def;

/*
 * tr_to names a server by pid or by registered name.  The calls below
 * take either: tr_server_call(cx, pid, ...) or tr_server_call(cx, "kv",
 * ...) (a C11 _Generic picks; from C++ use the _to functions with
 * tr_to_pid / tr_to_name).  A name is looked up at each call.
 */
typedef struct tr_to {
	tr_pid pid;
	const char *name; /* NULL: pid */
} tr_to;

/* tr_to_pid makes a tr_to of a pid. Thread: any. */
static inline tr_to
tr_to_pid(tr_pid pid)
{
	tr_to t = { pid, NULL };
	return t;
}

/* tr_to_name makes a tr_to of a name. Thread: any. */
static inline tr_to
tr_to_name(const char *name)
{
	tr_to t = { TR_PID_NIL, name };
	return t;
}

#ifndef __cplusplus
/* TR_TO(x) is tr_to_pid(x) for a tr_pid, tr_to_name(x) for a string. */
#define TR_TO(x) _Generic((x), tr_pid : tr_to_pid, default : tr_to_name)(x)
#endif

/* ------------------------------------------------------------ start */

/*
 * tr_server_start_link starts a server of def, linked to the calling
 * process, and waits until its init has run (gen_server:start_link).
 * The state block starts as a copy of state's def->state_size bytes
 * (zeroed if state is NULL).  With name (NULL: none) the server registers
 * it before init runs, so nobody sees it running unnamed.  Returns 0 with
 * the pid in *pid (may be NULL); TR_SERVER_IGNORE (*pid nil); TR_EEXIST
 * if name is taken, with its holder in *pid (Erlang's already_started);
 * init's error; TR_EDOWN if the server ended during init (tr_exit);
 * TR_EINVAL (def NULL, bad name); TR_ECONTEXT (cx NULL or an event
 * actor: it cannot wait); spawn errors.  A server that failed to start is
 * unlinked first, so its exit does not reach the caller, and its name is
 * free again when this returns.
 * Thread: process.
 */
TR_API int tr_server_start_link(tr_ctx *cx, tr_pid *pid,
    const tr_server_def *def, const void *state, const char *name);

/* tr_server_start is tr_server_start_link without the link. Thread: process. */
TR_API int tr_server_start(tr_ctx *cx, tr_pid *pid, const tr_server_def *def,
    const void *state, const char *name);

/* tr_system_server_start is tr_server_start for a plain thread.
 * Thread: any but sys's workers. */
TR_API int tr_system_server_start(tr_system *sys, tr_pid *pid,
    const tr_server_def *def, const void *state, const char *name);

/* ------------------------------------------------------ in callbacks */

/*
 * tr_server_reply answers the request from with the term fmt describes
 * (tag 0): in handle_call (`return tr_server_reply(...)`) or later, from
 * any actor.  A caller that gave up or ended is no error.  Errors as
 * tr_reply_to_term.
 * Thread: actor.
 */
TR_API int tr_server_reply(tr_ctx *cx, tr_from from, const char *fmt, ...);

/*
 * tr_server_exit records that the server stops with reason r (its text
 * is copied) once the callback returns, and returns TR_STOP for the
 * callback to return: `return tr_server_exit(state, tr_reason("x"));`
 * is gen_server's {stop, Reason, State}.  terminate then runs with r.
 * state is the pointer the callback was given.  Reply first for
 * {stop, Reason, Reply, State}.
 * Thread: actor (in a callback of the server that owns state).
 */
TR_API int tr_server_exit(void *state, tr_reason r);

/* ------------------------------------------------------------ clients */

/*
 * tr_server_call_to sends the server a request (tag below
 * TR_SERVER_TAG_MAX, payload the term fmt describes) and blocks the
 * calling process until the reply, the server's exit or the timeout.
 * Returns 0 with the reply in *reply (the caller's to free; read it with
 * tr_msg_scan); TR_ENOPROC at once if there is no such server (a name not
 * registered, a pid of no live actor); TR_EDOWN if it ended before
 * replying, with its DOWN message in *reply (tr_msg_reason tells why; to
 * free too); TR_ETIMEDOUT (a late reply is dropped).  *reply is NULL
 * after any other error: TR_EINVAL (bad tag or to), TR_EDEADLK (a call to
 * itself), TR_ECONTEXT (cx NULL, or an event actor: use
 * tr_server_call_async), term errors.
 * Thread: process.
 */
TR_API int tr_server_call_to(tr_ctx *cx, tr_to to, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...);

/* tr_system_server_call_to is tr_server_call_to for a plain thread
 * (the reply may be freed on any thread). Thread: any but sys's workers. */
TR_API int tr_system_server_call_to(tr_system *sys, tr_to to, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...);

/*
 * tr_server_ask_to is tr_server_call_to and tr_msg_scan of the reply in
 * one: the arguments of req come first, then the outputs of rep.
 *
 *   int64_t v;
 *   if (tr_server_ask(cx, "kv", GET, 1000, "s", "['ok' I]", key, &v) == 0)
 *
 * The reply is freed, so rep may not have s, y, A or M items (TR_EINVAL):
 * use tr_server_call_to for strings.  Returns 0, TR_EBADTERM if the reply
 * does not match rep (another answer), else as tr_server_call_to (after
 * TR_EDOWN the reason is not kept: call tr_server_call_to to learn it).
 * Thread: process.
 */
TR_API int tr_server_ask_to(tr_ctx *cx, tr_to to, uint32_t tag,
    int64_t timeout_ms, const char *req, const char *rep, ...);

/* tr_system_server_ask_to is tr_server_ask_to for a plain thread.
 * Thread: any but sys's workers. */
TR_API int tr_system_server_ask_to(tr_system *sys, tr_to to, uint32_t tag,
    int64_t timeout_ms, const char *req, const char *rep, ...);

/*
 * tr_server_call_async_to is the call of an actor that must not block (an
 * event actor, or an event-actor server): it sends the request and
 * returns its reference in *ref.  Exactly one message with that
 * tr_msg_ref then comes: the reply (flag TR_MSG_REPLY), the server's
 * TR_TAG_DOWN, or TR_TAG_CALL_TIMEOUT (tr_call_async).  TR_ENOPROC at
 * once for a name not registered.
 * Thread: actor.
 */
TR_API int tr_server_call_async_to(tr_ctx *cx, tr_to to, uint32_t tag,
    int64_t timeout_ms, uint64_t *ref, const char *fmt, ...);

/*
 * tr_server_cast_to sends the server a cast (gen_server:cast): no answer,
 * and no error if the server is gone (a dead letter) but TR_ENOPROC for
 * a name not registered.  Errors: TR_EINVAL (bad tag or to), as
 * tr_send_term.
 * Thread: actor.
 */
TR_API int tr_server_cast_to(tr_ctx *cx, tr_to to, uint32_t tag,
    const char *fmt, ...);

/* tr_system_server_cast_to is tr_server_cast_to for a plain thread.
 * Thread: any. */
TR_API int tr_system_server_cast_to(tr_system *sys, tr_to to, uint32_t tag,
    const char *fmt, ...);

/*
 * tr_server_stop_to asks the server to stop with reason r
 * (gen_server:stop): terminate runs, the server ends with r, and this
 * returns 0 once it is gone; TR_ENOPROC if there was no such server;
 * TR_ETIMEDOUT (the request stays: the server still stops when it gets
 * to it).
 * Thread: process.
 */
TR_API int tr_server_stop_to(tr_ctx *cx, tr_to to, tr_reason r,
    int64_t timeout_ms);

/* tr_system_server_stop_to is tr_server_stop_to for a plain thread.
 * Thread: any but sys's workers. */
TR_API int tr_system_server_stop_to(tr_system *sys, tr_to to, tr_reason r,
    int64_t timeout_ms);

#ifndef __cplusplus
/* The client calls with the server given as a tr_pid or a name. */
#define tr_server_call(cx, to, ...) \
	tr_server_call_to((cx), TR_TO(to), __VA_ARGS__)
#define tr_system_server_call(sys, to, ...) \
	tr_system_server_call_to((sys), TR_TO(to), __VA_ARGS__)
#define tr_server_ask(cx, to, ...) \
	tr_server_ask_to((cx), TR_TO(to), __VA_ARGS__)
#define tr_system_server_ask(sys, to, ...) \
	tr_system_server_ask_to((sys), TR_TO(to), __VA_ARGS__)
#define tr_server_call_async(cx, to, ...) \
	tr_server_call_async_to((cx), TR_TO(to), __VA_ARGS__)
#define tr_server_cast(cx, to, ...) \
	tr_server_cast_to((cx), TR_TO(to), __VA_ARGS__)
#define tr_system_server_cast(sys, to, ...) \
	tr_system_server_cast_to((sys), TR_TO(to), __VA_ARGS__)
#define tr_server_stop(cx, to, r, timeout_ms) \
	tr_server_stop_to((cx), TR_TO(to), (r), (timeout_ms))
#define tr_system_server_stop(sys, to, r, timeout_ms) \
	tr_system_server_stop_to((sys), TR_TO(to), (r), (timeout_ms))
#endif

/* -------------------------------------------------------- supervision */

/*
 * tr_server_spec: a server as a supervisor child.  Use
 * tr_server_child_start as the child's start function and a
 * tr_server_spec as its arg; it (and what it points to) must outlive the
 * supervisor.  Each (re)start copies state afresh.
 */
typedef struct tr_server_spec {
	const tr_server_def *def;
	const void *state; /* initial state; NULL: zeroed */
	const char *name;  /* registered name; NULL: none */
} tr_server_spec;

/* tr_server_child_start is a tr_child_start_fn starting the tr_server_spec
 * arg linked to its supervisor. Thread: process (the supervisor). */
TR_API int tr_server_child_start(tr_ctx *cx, void *arg, void *extra,
    tr_pid *pid);

/*
 * TR_SERVER_CHILD is a whole child spec in one line: a permanent worker
 * with a 5 s shutdown (OTP's defaults) running server def, registered as
 * name, its state copied from state.  The spec it points to is a
 * compound literal: it lives as long as the block it is written in (the
 * file, or main), which must outlive the supervisor.
 *
 *   tr_child_spec kids[] = { TR_SERVER_CHILD("kv", &kv_def, NULL, "kv") };
 */
#define TR_SERVER_CHILD(id, def, state, name)                            \
	{                                                                \
		(id), tr_server_child_start,                             \
		    (void *) &(                                          \
		        const tr_server_spec){ (def), (state), (name) }, \
		    TR_PERMANENT, 5000, TR_WORKER                        \
	}

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_SERVER_H */
