/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_TROUPE_H
#define TROUPE_TROUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/defs.h>
#include <troupe/msg.h>
#include <troupe/pack.h>
#include <troupe/pid.h>
#include <troupe/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * tr_system is one runtime: worker threads, the actor table, the run
 * queues.  Several may live in one process; nothing is global.
 */
typedef struct tr_system tr_system;

/* ------------------------------------------------------------- reasons */

/* Why an actor ended. */
typedef enum tr_reason_kind {
	TR_REASON_NORMAL = 0,   /* finished its work */
	TR_REASON_SHUTDOWN = 1, /* told to stop (system stop, supervisor) */
	TR_REASON_KILL = 2,     /* untrappable kill request */
	TR_REASON_KILLED = 3,   /* what a kill becomes once delivered */
	TR_REASON_NOPROC = 4,   /* the actor did not exist */
	TR_REASON_NOCONNECTION = 5, /* its node became unreachable */
	TR_REASON_ERROR = 6,    /* crashed: text says why, file:line where */
} tr_reason_kind;

/*
 * tr_reason is an exit reason: a kind and, for errors, a text and the
 * source position it came from.  It is a value; the strings are borrowed:
 * the runtime copies what it keeps.
 */
typedef struct tr_reason {
	tr_reason_kind kind;
	int line;
	const char *text;
	const char *file;
} tr_reason;

/* tr_reason(text): an error reason that remembers where it was made. */
#define tr_reason(text) \
	((tr_reason){ TR_REASON_ERROR, __LINE__, (text), __FILE__ })
#define TR_NORMAL ((tr_reason){ TR_REASON_NORMAL, 0, NULL, NULL })
#define TR_SHUTDOWN ((tr_reason){ TR_REASON_SHUTDOWN, 0, NULL, NULL })
#define TR_KILL ((tr_reason){ TR_REASON_KILL, 0, NULL, NULL })

/* TR_REASON_TEXT_MAX bounds the reason text kept in a tr_exit_info. */
#define TR_REASON_TEXT_MAX 160

/* tr_exit_info is how an actor ended, as a plain thread learns it. */
typedef struct tr_exit_info {
	tr_reason_kind kind;
	/* "normal", "shutdown", ... or "<text> (file:line)", truncated. */
	char text[TR_REASON_TEXT_MAX];
} tr_exit_info;

/* tr_reason_kind_name returns "normal", "shutdown", "error", ... Thread: any. */
TR_API const char *tr_reason_kind_name(tr_reason_kind kind);

/* -------------------------------------------------------------- system */

/* Log levels of the logging hook. */
typedef enum tr_log_level {
	TR_LOG_ERROR = 0,
	TR_LOG_WARN = 1,
	TR_LOG_INFO = 2,
} tr_log_level;

/*
 * tr_log_fn receives one line (no newline) from the runtime, for example
 * each actor that ends with an error reason.  It runs on the thread where
 * the event happened, often a worker: it must not block for long.
 */
typedef void (*tr_log_fn)(void *arg, tr_log_level level, const char *line);

/*
 * tr_system_config: all-zero means defaults.  Use TR_SYSTEM_CONFIG_INIT.
 */
typedef struct tr_system_config {
	/* Worker threads; 0: one per online CPU. */
	unsigned workers;
	/* Messages an event actor handles per turn before others run; 0: 100. */
	unsigned budget;
	/* Microseconds an idle worker looks for work before it sleeps; 0: 50. */
	unsigned spin_us;
	/* Most actors alive at once; 0: 64 Mi (the table grows as needed). */
	uint32_t max_actors;
	/* Logging hook; NULL: one line on stderr per event. */
	tr_log_fn log;
	void *log_arg;
	/* Least level logged; 0 is TR_LOG_ERROR only. */
	tr_log_level log_level;
} tr_system_config;

#define TR_SYSTEM_CONFIG_INIT { 0 }

/*
 * tr_system_start starts a runtime with cfg (NULL: defaults) and stores it
 * in *sysp.  Errors: TR_EINVAL (bad config), TR_ENOMEM, TR_ESYS (threads).
 * Thread: any.
 */
TR_API int tr_system_start(tr_system **sysp, const tr_system_config *cfg);

/*
 * tr_system_stop stops the workers once each finishes its current turn,
 * ends every actor still alive with reason shutdown (destructors run,
 * tr_wait callers wake), frees every message and block, and frees sys.
 * Call tr_system_idle or tr_wait first to let work finish.  Returns 0, or
 * TR_ECONTEXT if called from one of sys's own workers (sys is then left
 * running).
 * Thread: any but sys's workers.
 */
TR_API int tr_system_stop(tr_system *sys);

/*
 * tr_system_idle waits until no actor of sys is runnable or running and no
 * message is waiting to be handled, or timeout_ms passes (< 0: forever).
 * Returns 0 or TR_ETIMEDOUT.
 * Thread: any but sys's workers (TR_ECONTEXT).
 */
TR_API int tr_system_idle(tr_system *sys, int64_t timeout_ms);

/* Counters of a system, summed over the workers (approximate while running). */
typedef struct tr_system_stats {
	uint64_t actors_alive;   /* spawned and not yet exited */
	uint64_t actors_spawned; /* since start */
	uint64_t messages_sent;  /* local deliveries attempted, dead letters included */
	uint64_t dead_letters;   /* sent to an actor that was gone, or left at its exit */
	uint64_t msg_blocks_live; /* message blocks allocated and not yet freed */
	uint64_t slots;          /* actor table slots allocated */
	unsigned workers;
} tr_system_stats;

/* tr_system_stats_get fills *st. Thread: any. */
TR_API void tr_system_stats_get(tr_system *sys, tr_system_stats *st);

/* -------------------------------------------------------------- actors */

/* What an event actor's handler returns (errors are negative TR_E* codes). */
enum {
	TR_CONTINUE = 0, /* keep going */
	TR_STOP = 1,     /* exit: normal, or the reason given to tr_exit */
};

/*
 * tr_actor_fn handles one message m for an event actor whose state is
 * state.  m belongs to the runtime: it is valid until the handler returns
 * (copy what must outlive it).  Return TR_CONTINUE, TR_STOP (exit normal,
 * or with the reason set by tr_exit), or a negative TR_E* code (exit with
 * an error reason naming the code).
 */
typedef int (*tr_actor_fn)(tr_ctx *cx, tr_msg *m, void *state);

/* tr_init_fn runs once, before any message, on a worker; returns as tr_actor_fn. */
typedef int (*tr_init_fn)(tr_ctx *cx, void *state);

/* tr_state_free_fn destroys an actor's state when the actor ends. */
typedef void (*tr_state_free_fn)(void *state);

/* Spawn options; all-zero (or a NULL pointer) means none. */
typedef struct tr_spawn_opts {
	tr_init_fn init;          /* run when the actor first gets a worker */
	tr_state_free_fn state_free; /* run with state when the actor ends */
} tr_spawn_opts;

/*
 * tr_spawn creates an event actor that calls fn for each message, with
 * state (owned by the actor from now on: opts->state_free runs on it when
 * the actor ends, also when tr_spawn fails).  On success stores its pid in
 * *pidp (may be NULL) and returns 0.  Errors: TR_EINVAL (fn NULL),
 * TR_ENOMEM, TR_ELIMIT (max_actors reached), TR_ESTOPPED.
 * Thread: any.
 */
TR_API int tr_spawn(tr_system *sys, tr_pid *pidp, tr_actor_fn fn, void *state,
    const tr_spawn_opts *opts);

/* tr_self returns the pid of the actor cx belongs to. Thread: actor. */
TR_API tr_pid tr_self(tr_ctx *cx);

/* tr_ctx_system returns the system the actor runs in. Thread: actor. */
TR_API tr_system *tr_ctx_system(tr_ctx *cx);

/*
 * tr_exit ends the calling actor with reason r (its text is copied).  In an
 * event actor it records r and returns TR_STOP, so a handler writes
 * `return tr_exit(cx, r);` and the actor ends when the handler returns.
 * Thread: actor.
 */
TR_API int tr_exit(tr_ctx *cx, tr_reason r);

/*
 * tr_send copies len bytes of data into a new message with tag and queues
 * it for pid, sent by the calling actor.  Sending to an actor that has
 * exited is not an error: the message is counted as a dead letter and
 * dropped, as in Erlang.  Errors: TR_EINVAL (data NULL with len > 0, nil
 * pid), TR_ETOOBIG, TR_ENOMEM, TR_ENOTLOCAL (pid on another node, no
 * distribution).
 * Thread: actor.
 */
TR_API int tr_send(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data,
    size_t len);

/*
 * tr_send_msg queues the caller's message m for pid, without copying.
 * Takes m on success only; on error the caller still owns it.  Errors as
 * tr_send.
 * Thread: actor.
 */
TR_API int tr_send_msg(tr_ctx *cx, tr_pid pid, tr_msg *m);

/*
 * tr_system_send is tr_send for a plain (non-actor) thread such as main;
 * the message's sender is TR_PID_NIL.  Errors as tr_send, and TR_ESTOPPED.
 * Thread: any.
 */
TR_API int tr_system_send(tr_system *sys, tr_pid pid, uint32_t tag,
    const void *data, size_t len);

/*
 * tr_is_alive tells whether pid names a live local actor (a snapshot).
 * Thread: any.
 */
TR_API bool tr_is_alive(tr_system *sys, tr_pid pid);

/*
 * tr_wait blocks the calling plain thread until the actor pid has exited
 * or timeout_ms passes (< 0: forever), and describes how it ended in *info
 * (may be NULL).  An actor already gone gives 0 and kind TR_REASON_NOPROC.
 * Errors: TR_ETIMEDOUT, TR_ECONTEXT (called from a worker of sys),
 * TR_ENOMEM, TR_ENOTLOCAL.
 * Thread: any but sys's workers.
 */
TR_API int tr_wait(tr_system *sys, tr_pid pid, int64_t timeout_ms,
    tr_exit_info *info);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_TROUPE_H */
