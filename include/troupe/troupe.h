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
#include <troupe/term.h>
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
	TR_REASON_NORMAL = 0,       /* finished its work */
	TR_REASON_SHUTDOWN = 1,     /* told to stop (system stop, supervisor) */
	TR_REASON_KILL = 2,         /* untrappable kill request */
	TR_REASON_KILLED = 3,       /* what a kill becomes once delivered */
	TR_REASON_NOPROC = 4,       /* the actor did not exist */
	TR_REASON_NOCONNECTION = 5, /* its node became unreachable */
	TR_REASON_ERROR = 6,        /* crashed: see text and file:line */
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

/*
 * TR_STACK_OVERFLOW is the reason text of a process that overflowed its
 * stack: kind TR_REASON_ERROR, text exactly "stack_overflow" (no file:line).
 */
#define TR_STACK_OVERFLOW "stack_overflow"

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
 * What a process's stack overflow does (docs/decisions/0016).  Every
 * process stack has a guard below it; a process that runs into it gets
 * SIGSEGV, which troupe catches on the worker's alternate signal stack.
 * Ending only the process abandons its frames without unwinding them: a
 * lock taken by code that was running on them stays taken, and the next
 * call that needs it hangs (the worker, or every thread for a global lock
 * such as a malloc arena's).  Every report names the process (pid,
 * registered name, stack size) and says where the fault was.
 */
typedef enum tr_overflow_policy {
	/*
	 * End the process (reason TR_STACK_OVERFLOW: links and monitors
	 * fire; the report is logged) and go on, when the faulting
	 * instruction is outside the runtime libraries that take locks:
	 * libc, the dynamic loader, libpthread and GCC's sanitizer runtimes.
	 * An overflow inside one of them (malloc, printf, ...) writes the
	 * report to stderr and aborts the OS process instead: a lock may be
	 * held there and a hang is worse than a restart.  So it does for
	 * every overflow where libc's code cannot be found (a fully static
	 * executable; logged at start).  Not covered: a lock that your own
	 * code (or another library) holds across the deep call stays held.
	 */
	TR_OVERFLOW_KILL = 0,
	/* Write the report to stderr and abort the OS process (what Rust
	 * does): nothing can hang, everything stops. */
	TR_OVERFLOW_ABORT = 1,
	/*
	 * Always end only the process, even inside libc: the process's
	 * dependents learn of it, but a lock held by its frames (a malloc
	 * arena lock, a FILE's lock) stays held and can hang the worker or
	 * the whole OS process later, without a word beyond the report.
	 */
	TR_OVERFLOW_KILL_ALWAYS = 2,
} tr_overflow_policy;

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
	/* Most actors alive at once, exactly (0: 64 Mi; the table grows as
	 * needed); at most TR_MAX_ACTORS.  Free slots are cached by workers
	 * (up to 512 each), so near the limit a spawn from one thread may
	 * get TR_ELIMIT while another worker still holds free slots. */
	uint32_t max_actors;
	/* Logging hook; NULL: one line on stderr per event. */
	tr_log_fn log;
	void *log_arg;
	/* Least level logged; 0 is TR_LOG_ERROR only. */
	tr_log_level log_level;
	/* Stack size of a process (virtual; only touched pages are
	 * resident); 0: 64 KiB; at most TR_STACK_MAX. */
	size_t stack_size;
	/* Milliseconds tr_system_stop waits for running turns to end before
	 * it reports them and returns TR_ETIMEDOUT; 0: 5000; < 0: no limit. */
	int64_t stop_timeout_ms;
	/* What a process's stack overflow does; 0: TR_OVERFLOW_KILL. */
	tr_overflow_policy stack_overflow;
} tr_system_config;

/* TR_MAX_ACTORS is the largest max_actors (2^32 - 4096: slot numbers
 * stay below UINT32_MAX, which is TR_PID_NIL's). */
#define TR_MAX_ACTORS 0xfffff000u

/* TR_STACK_MAX is the largest process stack (1 GiB). */
#define TR_STACK_MAX ((size_t) 1 << 30)

/* clang-format off */
#define TR_SYSTEM_CONFIG_INIT { 0 }
/* clang-format on */

/*
 * tr_system_start starts a runtime with cfg (NULL: defaults) and stores it
 * in *sysp.  Errors: TR_EINVAL (sysp NULL, or a bad config: workers above
 * 1024, max_actors above TR_MAX_ACTORS, stack_size above TR_STACK_MAX, an
 * unknown log_level; logged through cfg's hook), TR_ENOMEM, TR_ESYS
 * (threads).
 * Thread: any.
 */
TR_API int tr_system_start(tr_system **sysp, const tr_system_config *cfg);

/*
 * tr_system_stop stops the workers once each finishes its current turn,
 * ends every actor still alive with reason shutdown (destructors run,
 * tr_wait callers wake), frees every message and block, and frees sys.
 * Call tr_system_idle or tr_wait first to let work finish.
 *
 * A turn cannot be interrupted: an actor that never returns from its
 * handler, or a process that never blocks, yields or ends (a loop, a
 * blocking system call) would hold its worker for ever.  So stop waits at
 * most cfg.stop_timeout_ms (default 5 s) for the turns under way to end;
 * then it logs, at level error, one line per worker still busy (the
 * actor's pid, registered name, kind, the worker, and for how long at
 * least that turn has run) and returns TR_ETIMEDOUT.  sys is then
 * stopping but not freed: no new turn starts, the workers that finished
 * are gone, the busy turns go on, and nothing they may touch is freed.
 * Call tr_system_stop again to wait again (another stop_timeout_ms) once
 * the stuck code has been made to return; until a call returns 0, sys
 * (and all it holds) stays allocated.  Other calls on sys in that state
 * act as on a system being stopped: tr_system_idle, spawns,
 * tr_system_send and tr_system_send_after return TR_ESTOPPED.
 *
 * Returns 0 (sys is freed), TR_ETIMEDOUT (see above), or TR_ECONTEXT if
 * called from one of sys's own workers (sys is then left running).
 * Thread: any but sys's workers; one call at a time.
 */
TR_API int tr_system_stop(tr_system *sys);

/* tr_system_idle_flags flags. */
#define TR_IDLE_TIMERS 1u /* also wait until no timer is pending */

/*
 * tr_system_idle waits until no actor of sys is runnable or running and no
 * message is waiting to be handled, or timeout_ms passes (< 0: forever).
 * Pending timers (tr_send_after, receive timeouts, tr_sleep, call
 * timeouts) do not count: it may return while a timer will still post a
 * message; tr_system_idle_flags with TR_IDLE_TIMERS waits for those too.
 * Returns 0, TR_ETIMEDOUT, TR_ESTOPPED if sys is being stopped, or
 * TR_EINVAL (sys NULL).
 * Thread: any but sys's workers (TR_ECONTEXT).
 */
TR_API int tr_system_idle(tr_system *sys, int64_t timeout_ms);

/*
 * tr_system_idle_flags is tr_system_idle with flags: with TR_IDLE_TIMERS
 * it also waits until no timer of sys is pending (every timer has fired
 * and its message has been handled, or was cancelled).  A process blocked
 * in a receive with a timeout, or in tr_sleep, holds a timer: with
 * TR_IDLE_TIMERS the wait lasts until that timeout.  Unknown flags:
 * TR_EINVAL.
 * Thread: any but sys's workers (TR_ECONTEXT).
 */
TR_API int tr_system_idle_flags(tr_system *sys, int64_t timeout_ms,
    unsigned flags);

/*
 * tr_log formats a line (printf-style, no newline) and hands it to sys's
 * logging hook if level passes the configured log_level.  Lines longer
 * than 511 bytes are truncated.
 * Thread: any.
 */
TR_API void tr_log(tr_system *sys, tr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Counters of a system, summed over the workers (approximate while running). */
typedef struct tr_system_stats {
	uint64_t actors_alive;   /* spawned and not yet exited */
	uint64_t actors_spawned; /* since start */
	/* Local deliveries attempted, dead letters included. */
	uint64_t messages_sent;
	/* Sent to an actor that was gone, or left queued at its exit. */
	uint64_t dead_letters;
	/* Message blocks allocated and not yet freed. */
	uint64_t msg_blocks_live;
	uint64_t slots; /* actor table slots allocated */
	unsigned workers;
} tr_system_stats;

/*
 * tr_system_stats_get fills *st.  Returns 0, or TR_EINVAL if sys or st is
 * NULL (*st, if any, is then zeroed).
 * Thread: any.
 */
TR_API int tr_system_stats_get(tr_system *sys, tr_system_stats *st);

/* -------------------------------------------------------------- actors */

/*
 * Functions taking a tr_ctx (Thread: actor) return TR_ECONTEXT if cx is
 * NULL, as a plain thread has none; those returning a value give an empty
 * one (TR_PID_NIL, NULL, 0, false).
 *
 * Nothing blocks in an event actor (it runs on a worker's stack between
 * two messages).  The calls whose purpose is to block (Thread: process:
 * tr_call and its variants, tr_sleep, tr_yield) return TR_ECONTEXT there
 * and do nothing; the receive calls, which also serve to look at the
 * queue, take any timeout as 0 there (they return what is queued, or
 * NULL).
 */

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

/* Spawn flags. */
enum tr_spawn_flags {
	TR_SPAWN_LINK = 1u << 0,    /* link to the calling actor, atomically */
	TR_SPAWN_MONITOR = 1u << 1, /* the calling actor monitors the new one */
	TR_SPAWN_TRAP_EXIT = 1u << 2, /* the new actor starts trapping exits */
	/* A plain thread will tr_wait for it: its exit is kept until then
	 * (or until the system stops), even if it ends before tr_wait. */
	TR_SPAWN_WAIT = 1u << 3,
	/* Processes: while blocked in receive, keep only the live part of
	 * the stack, copied to the heap (exactly its size), and give the
	 * stack's pages back to the OS: ~1 KB per idle process instead of a
	 * 4 KiB page, for a copy and a system call per block and wake-up. */
	TR_SPAWN_COMPACT = 1u << 4,
};

/* TR_NAME_MAX is the longest registered name, in bytes. */
#define TR_NAME_MAX 63

/* Spawn options; all-zero (or a NULL pointer) means none. */
typedef struct tr_spawn_opts {
	/* Event actors: run when it first gets a worker. */
	tr_init_fn init;
	/* Run with the state (or a process's arg) when the actor ends. */
	tr_state_free_fn state_free;
	/* TR_SPAWN_*; LINK and MONITOR need an actor caller. */
	unsigned flags;
	/* TR_SPAWN_MONITOR: receives the reference. */
	uint64_t *monitor_ref;
	/* Processes: stack size (0: the system's); a system keeps up to 8
	 * distinct sizes (TR_ELIMIT beyond), each rounded up to pages. */
	size_t stack_size;
	/* Register the new actor under this name (see tr_register) as part
	 * of the spawn: the name names it before it runs and before anyone
	 * can learn its pid.  A taken name fails the spawn (TR_EEXIST) and
	 * no actor is made.  NULL: no name. */
	const char *name;
	/* Nonzero: the runtime allocates state_size bytes for the actor's
	 * state (a process's arg), copies the state (arg) argument's first
	 * state_size bytes into them (zeroes them if it is NULL), gives the
	 * actor that copy, and frees it when the actor ends, after
	 * state_free (if any) has run on it.  The caller keeps its own
	 * bytes.  At most TR_STATE_MAX. */
	size_t state_size;
} tr_spawn_opts;

/* TR_STATE_MAX is the largest state_size (16 MiB). */
#define TR_STATE_MAX ((size_t) 16 << 20)

/*
 * tr_spawn creates an event actor that calls fn for each message, with
 * state (owned by the actor from now on: opts->state_free runs on it when
 * the actor ends, also when tr_spawn fails; with opts->state_size the
 * actor gets a copy instead, see tr_spawn_opts, and state_free runs on
 * the caller's state only if tr_spawn fails).  On success stores its pid
 * in *pidp (may be NULL) and returns 0.  Errors: TR_EINVAL (sys or fn
 * NULL, opts->name empty or longer than TR_NAME_MAX, state_size above
 * TR_STATE_MAX), TR_EEXIST (opts->name is taken), TR_ENOMEM (also when
 * the actor table cannot grow), TR_ELIMIT (max_actors reached),
 * TR_ESTOPPED.
 *
 *   struct acc { int64_t sum; } a0 = { 0 };
 *   tr_spawn(sys, &pid, handle, &a0,
 *       &(tr_spawn_opts){ .name = "acc", .state_size = sizeof(a0) });
 *
 * Thread: any.
 */
TR_API int tr_spawn(tr_system *sys, tr_pid *pidp, tr_actor_fn fn, void *state,
    const tr_spawn_opts *opts);

/* tr_process_fn is a process's body: sequential code on its own stack
 * that may block in tr_receive.  The process ends normally when it returns. */
typedef void (*tr_process_fn)(tr_ctx *cx, void *arg);

/*
 * tr_spawn_process creates a process running fn(cx, arg) on its own stack
 * (opts->stack_size or the system default; TR_EINVAL above TR_STACK_MAX).  arg belongs to the process:
 * opts->state_free runs on it when the process ends.  Errors as tr_spawn,
 * and TR_ECONTEXT for TR_SPAWN_LINK or TR_SPAWN_MONITOR from a plain
 * thread.
 * Thread: any.
 */
TR_API int tr_spawn_process(tr_system *sys, tr_pid *pidp, tr_process_fn fn,
    void *arg, const tr_spawn_opts *opts);

/*
 * tr_yield lets other actors run before the calling process goes on; a
 * long loop in a process should call it now and then.  In an event actor
 * it does nothing and returns TR_ECONTEXT (an event actor yields by
 * returning from its handler; see "Nothing blocks in an event actor" in
 * docs/guide.md).  Returns 0 in a process, TR_ECONTEXT if cx is NULL.
 * Thread: process.
 */
TR_API int tr_yield(tr_ctx *cx);

/* tr_self returns the pid of the actor cx belongs to (TR_PID_NIL if cx is
 * NULL). Thread: actor. */
TR_API tr_pid tr_self(tr_ctx *cx);

/* tr_ctx_system returns the system the actor runs in (NULL if cx is
 * NULL). Thread: actor. */
TR_API tr_system *tr_ctx_system(tr_ctx *cx);

/*
 * tr_exit ends the calling actor with reason r (its text is copied).  In an
 * event actor it records r and returns TR_STOP, so a handler writes
 * `return tr_exit(cx, r);` and the actor ends when the handler returns.
 * In a process it does not return.  TR_ECONTEXT if cx is NULL.
 * Thread: actor.
 */
TR_API int tr_exit(tr_ctx *cx, tr_reason r);

/*
 * TR_ASSERT ends the calling actor with an error reason if cond is false.
 * In a process it does not return.  In an event actor (or its init) it
 * records the reason as tr_exit does: the handler goes on to its end, and
 * the actor then ends with that reason whatever the handler returns; use
 * TR_CHECK to leave the handler at once.
 */
#define TR_ASSERT(cx, cond)                                         \
	do {                                                        \
		if (!(cond))                                        \
			(void) tr_exit((cx),                        \
			    tr_reason("assertion failed: " #cond)); \
	} while (0)

/* TR_CHECK is TR_ASSERT for an event actor's handler: it returns from it. */
#define TR_CHECK(cx, cond)                                      \
	do {                                                    \
		if (!(cond))                                    \
			return tr_exit((cx),                    \
			    tr_reason("check failed: " #cond)); \
	} while (0)

/*
 * tr_send copies len bytes of data into a new message with tag and queues
 * it for pid, sent by the calling actor.  Sending to an actor that has
 * exited is not an error: the message is counted as a dead letter and
 * dropped, as in Erlang; so is one to any pid that names no live actor.
 * Errors: TR_EINVAL (data NULL with len > 0, nil pid), TR_ETOOBIG,
 * TR_ENOMEM, TR_ENOTLOCAL (pid on another node, no distribution),
 * TR_ECONTEXT (cx NULL).
 * Thread: actor.
 */
TR_API int tr_send(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data,
    size_t len);

/*
 * tr_send_msg queues the caller's message m for pid, without copying.
 * Takes m on success only; on error the caller still owns it.  Errors as
 * tr_send, and TR_EINVAL for m NULL.
 * Thread: actor.
 */
TR_API int tr_send_msg(tr_ctx *cx, tr_pid pid, tr_msg *m);

/*
 * tr_send_ref is tr_send with the message's reference set to ref, for
 * conversations matched with tr_make_ref/tr_receive_ref (the answer
 * carries the question's ref back the same way).  Not a reply to a call:
 * for those use tr_reply.  Errors as tr_send.
 * Thread: actor.
 */
TR_API int tr_send_ref(tr_ctx *cx, tr_pid pid, uint32_t tag, uint64_t ref,
    const void *data, size_t len);

/*
 * tr_system_send is tr_send for a plain (non-actor) thread such as main;
 * the message's sender is TR_PID_NIL.  Errors as tr_send, and TR_ESTOPPED.
 * Thread: any.
 */
TR_API int tr_system_send(tr_system *sys, tr_pid pid, uint32_t tag,
    const void *data, size_t len);

/*
 * tr_is_alive tells whether pid names a live local actor (a snapshot);
 * false for sys NULL.
 * Thread: any.
 */
TR_API bool tr_is_alive(tr_system *sys, tr_pid pid);

/*
 * tr_wait blocks the calling plain thread until the actor pid has exited
 * or timeout_ms passes (< 0: forever), and describes how it ended in *info
 * (may be NULL).  For an actor spawned with TR_SPAWN_WAIT the real reason
 * is given even if it ended before the call (once: the record is then
 * released); any other actor already gone gives 0 and kind
 * TR_REASON_NOPROC, as an Erlang monitor would (even if it ended
 * normally: nothing keeps the exit of an actor nobody said would be
 * waited for; spawn with TR_SPAWN_WAIT, or use tr_run, to get it); so
 * does any pid that never named a live actor.
 * Errors: TR_EINVAL (sys NULL, nil pid), TR_ETIMEDOUT, TR_ECONTEXT (called
 * from a worker of sys), TR_ENOMEM, TR_ENOTLOCAL.
 * Thread: any but sys's workers.
 */
TR_API int tr_wait(tr_system *sys, tr_pid pid, int64_t timeout_ms,
    tr_exit_info *info);

/*
 * tr_actor_info_status: what an actor was doing (Erlang's status in
 * process_info).
 */
typedef enum tr_actor_info_status {
	/* Not scheduled: nothing to do until a message or signal comes (an
	 * idle event actor, or a process blocked in receive). */
	TR_STATUS_WAITING = 0,
	/* Scheduled: has work and waits for a worker, or is running. */
	TR_STATUS_RUNNABLE = 1,
	/* Running: the caller itself, or an actor that did not answer
	 * within the timeout (busy in one long turn). */
	TR_STATUS_RUNNING = 2,
} tr_actor_info_status;

/* tr_actor_info: a snapshot of one actor, for diagnosis (process_info). */
typedef struct tr_actor_info {
	tr_actor_info_status status;
	bool process;               /* a process (else an event actor) */
	char name[TR_NAME_MAX + 1]; /* registered name, "" if none */
	/* The fields below are set only if detailed is true: the actor
	 * answered (or asked about itself). */
	bool detailed;
	bool trap_exit;
	uint64_t message_queue_len; /* queued, not yet taken */
	uint32_t links;
	uint32_t monitors;     /* actors it monitors (calls under way too) */
	uint32_t monitored_by; /* monitors on it */
	size_t stack_size;     /* a process's stack (virtual size) */
} tr_actor_info;

/*
 * tr_actor_info_get describes the actor pid in *info.  status, process
 * and name are read from outside at once; the other fields the actor
 * reads itself, answering a signal between two of its turns (it has no
 * cost before anyone asks): a plain thread waits up to timeout_ms (< 0:
 * forever; 0: do not ask) for that answer.  An actor (a worker's thread)
 * never waits: it gets the details only about itself.  Without an answer
 * in time the actor was busy in one long turn: status is then
 * TR_STATUS_RUNNING and detailed false.  Everything is a snapshot,
 * stale as soon as it is returned: for diagnosis, not for decisions (a
 * message being pushed at that instant may be missing from
 * message_queue_len).  Returns 0, TR_ENOPROC (pid names no live actor,
 * or it ended before answering), TR_EINVAL (sys or info NULL, nil pid),
 * TR_ENOTLOCAL, TR_ENOMEM.
 * Thread: any.
 */
TR_API int tr_actor_info_get(tr_system *sys, tr_pid pid, int64_t timeout_ms,
    tr_actor_info *info);

/*
 * tr_run is a program's main in one call, like an escript's main/1: it
 * starts a system with cfg (NULL: defaults), runs fn(cx, arg) in it as a
 * process, waits until that process ends, stops the system (actors still
 * alive end with reason shutdown) and returns 0 if the process ended
 * normally, TR_EDOWN otherwise (an error reason was logged, and is in
 * *info), or tr_system_start's or tr_spawn_process's error.  info may be
 * NULL.
 *
 *   int main(void) { return tr_run(NULL, driver, NULL, NULL) == 0 ? 0 : 1; }
 *
 * Errors: TR_EINVAL (fn NULL), TR_ECONTEXT (called from a worker).
 * Thread: any but a worker.
 */
TR_API int tr_run(const tr_system_config *cfg, tr_process_fn fn, void *arg,
    tr_exit_info *info);

/* ------------------------------------------------------------- receive */

/* TR_INFINITY: a timeout that never expires. */
#define TR_INFINITY ((int64_t) -1)

/* tr_match_fn tells whether a selective receive wants m. */
typedef bool (*tr_match_fn)(const tr_msg *m, void *arg);

/*
 * tr_receive_match returns the oldest message for which match(m, arg) is
 * true, blocking the calling process until one arrives or timeout_ms
 * passes (0: just look; TR_INFINITY: no limit).  Messages that do not
 * match stay queued, in order, for later receives; each is tested once
 * per receive.  Returns NULL on timeout.  The caller owns the message
 * (tr_msg_free).  An event actor never blocks: any timeout counts as 0
 * there (it looks at what is queued).  NULL at once if cx is NULL.
 * Thread: actor (blocking: process).
 */
TR_API tr_msg *tr_receive_match(tr_ctx *cx, tr_match_fn match, void *arg,
    int64_t timeout_ms);

/* tr_receive is tr_receive_match taking any message. Thread: actor. */
TR_API tr_msg *tr_receive(tr_ctx *cx, int64_t timeout_ms);

/* tr_receive_tag is tr_receive_match for one tag. Thread: actor. */
TR_API tr_msg *tr_receive_tag(tr_ctx *cx, uint32_t tag, int64_t timeout_ms);

/*
 * tr_sleep blocks the calling process for ms milliseconds; messages that
 * arrive meanwhile stay queued.  Returns 0; in an event actor (which must
 * not block: use tr_send_after to itself) or with cx NULL it does nothing
 * and returns TR_ECONTEXT.
 * Thread: process.
 */
TR_API int tr_sleep(tr_ctx *cx, int64_t ms);

/*
 * tr_make_ref returns a reference unique within the system and marks the
 * caller's mailbox, so that tr_receive_ref for it looks only at messages
 * that came after the mark (Erlang's receive optimisation: a reply is
 * found without rescanning a long mailbox).  Never 0 (0 if cx is NULL).
 * Thread: actor.
 */
TR_API uint64_t tr_make_ref(tr_ctx *cx);

/* tr_receive_ref is tr_receive_match for messages with tr_msg_ref == ref. Thread: actor. */
TR_API tr_msg *tr_receive_ref(tr_ctx *cx, uint64_t ref, int64_t timeout_ms);

/* -------------------------------------------------------------- timers */

/* tr_timer names a timer started by tr_send_after or tr_send_interval. */
typedef struct tr_timer {
	void *t_p;
	uint64_t t_gen;
} tr_timer;

/*
 * tr_send_after sends tag/data to pid after delay_ms (sent by the calling
 * actor), unless the timer is cancelled first.  *timer (may be NULL) names
 * it for tr_cancel_timer.  Timers have millisecond resolution.  Errors as
 * tr_send, and TR_EINVAL for a negative delay.  A pid that names no live
 * actor when the timer fires makes its message a dead letter.
 * Thread: actor.
 */
TR_API int tr_send_after(tr_ctx *cx, tr_pid pid, int64_t delay_ms, uint32_t tag,
    const void *data, size_t len, tr_timer *timer);

/* tr_system_send_after is tr_send_after for a plain thread. Thread: any. */
TR_API int tr_system_send_after(tr_system *sys, tr_pid pid, int64_t delay_ms,
    uint32_t tag, const void *data, size_t len, tr_timer *timer);

/*
 * tr_send_interval sends tag/data to pid every period_ms (ms > 0; the
 * first one period_ms from now), sent by the calling actor, until
 * tr_cancel_timer(*timer) (Erlang's timer:send_interval).  Deadlines
 * are kept on the grid start + k * period_ms, so lateness never adds up
 * (the next deadline is the previous one plus the period); ticks missed
 * while the worker was busy (or the system overloaded) are skipped, not
 * sent in a burst: after a stall one tick comes, then the grid resumes.
 * The timer ends by itself at its first tick after pid or the calling
 * actor has exited (nothing more is sent; tr_cancel_timer then gives
 * TR_ENOENT).  After tr_cancel_timer returns 0 no tick is sent, except
 * one the timer's worker was posting at that very instant (it may then
 * arrive just after, as an Erlang timeout message already sent would).
 * Errors as tr_send_after, and TR_EINVAL for period_ms <= 0.
 * Thread: actor.
 */
TR_API int tr_send_interval(tr_ctx *cx, tr_pid pid, int64_t period_ms,
    uint32_t tag, const void *data, size_t len, tr_timer *timer);

/* tr_system_send_interval is tr_send_interval for a plain thread (the
 * timer then ends only when pid exits or it is cancelled). Thread: any. */
TR_API int tr_system_send_interval(tr_system *sys, tr_pid pid,
    int64_t period_ms, uint32_t tag, const void *data, size_t len,
    tr_timer *timer);

/*
 * tr_cancel_timer stops a timer before it fires.  Returns 0 if it was
 * cancelled (its message will never be sent), TR_ENOENT if it had fired or
 * was cancelled already, TR_EINVAL if sys is NULL or timer was never set
 * (all zero).  timer must come from a send_after of sys, or be zeroed: it
 * is a handle, not a value to make up (a stale one stays safe forever).
 * O(1).
 * Thread: any.
 */
TR_API int tr_cancel_timer(tr_system *sys, tr_timer timer);

/* ------------------------------------------------- links, monitors, exits */

/*
 * tr_link links the calling actor and pid: when one exits abnormally the
 * other is sent an exit signal (see tr_trap_exit).  Linking to an actor
 * that is gone (or any pid that names no live actor) sends the caller an
 * exit signal with reason noproc: a caller that does not trap exits ends
 * with it, as in Erlang.  Links are idempotent.  Errors: TR_EINVAL (nil
 * pid, or self), TR_ENOTLOCAL, TR_ENOMEM, TR_ECONTEXT (cx NULL).
 * Thread: actor.
 */
TR_API int tr_link(tr_ctx *cx, tr_pid pid);

/* tr_unlink removes a link (no-op if none); an exit signal the link
 * already sent is ignored.  Errors as tr_link. Thread: actor. */
TR_API int tr_unlink(tr_ctx *cx, tr_pid pid);

/*
 * tr_monitor makes the calling actor receive one TR_TAG_DOWN message when
 * pid exits (at once, with reason noproc, if it is gone), with *ref as its
 * tr_msg_ref (never 0).  Errors: TR_EINVAL (nil pid, self, ref NULL),
 * TR_ENOTLOCAL, TR_ENOMEM, TR_ECONTEXT (cx NULL).
 * Thread: actor.
 */
TR_API int tr_monitor(tr_ctx *cx, tr_pid pid, uint64_t *ref);

/*
 * tr_demonitor cancels monitor ref: no DOWN for it will be delivered from
 * now on, even one already queued.  Returns TR_ENOENT if ref is no
 * monitor of the caller's (any value, 0 included; or its DOWN was
 * delivered; or it belongs to a call), TR_ECONTEXT if cx is NULL.
 * Thread: actor.
 */
TR_API int tr_demonitor(tr_ctx *cx, uint64_t ref);

/*
 * tr_trap_exit sets whether the calling actor traps exits, and returns the
 * previous setting.  A trapping actor gets exit signals as TR_TAG_EXIT
 * messages instead of dying from them; only reason kill cannot be trapped.
 * Thread: actor.
 */
TR_API bool tr_trap_exit(tr_ctx *cx, bool on);

/*
 * tr_exit_pid sends pid an exit signal with reason r, as Erlang's
 * exit/2: normal is ignored by a non-trapping actor (unless it is the
 * caller itself), kill ends it with reason killed even if it traps, any
 * other reason ends a non-trapping actor or reaches a trapping one as an
 * EXIT message.  A gone pid (or one that names no live actor) is ignored.
 * Errors: TR_EINVAL (nil pid, unknown reason kind), TR_ENOTLOCAL, TR_ENOMEM,
 * TR_ECONTEXT (cx NULL).
 * Thread: actor.
 */
TR_API int tr_exit_pid(tr_ctx *cx, tr_pid pid, tr_reason r);

/* tr_system_exit_pid is tr_exit_pid for a plain thread (sender nil). Thread: any. */
TR_API int tr_system_exit_pid(tr_system *sys, tr_pid pid, tr_reason r);

/*
 * tr_msg_reason decodes the reason carried by a TR_TAG_EXIT or TR_TAG_DOWN
 * message into *info.  Returns TR_EINVAL for other messages, TR_EBADMSG
 * if malformed.
 * Thread: any.
 */
TR_API int tr_msg_reason(const tr_msg *m, tr_exit_info *info);

/* --------------------------------------------------------------- names */

/* TR_NAME_MAX (the longest name, in bytes) is defined with the spawn
 * options above. */

/*
 * tr_register gives pid the name; it is freed when pid exits.  Errors:
 * TR_EINVAL (sys or name NULL, name empty or longer than TR_NAME_MAX, nil
 * pid), TR_EEXIST (name taken, or pid already has a name), TR_ENOPROC (pid
 * names no live actor), TR_ENOTLOCAL, TR_ENOMEM.
 * Thread: any.
 */
TR_API int tr_register(tr_system *sys, const char *name, tr_pid pid);

/* tr_unregister frees name; TR_ENOENT if it is not registered. Thread: any. */
TR_API int tr_unregister(tr_system *sys, const char *name);

/* tr_whereis stores the pid registered as name; TR_ENOENT if none. Thread: any. */
TR_API int tr_whereis(tr_system *sys, const char *name, tr_pid *pid);

/*
 * tr_send_name sends to the actor registered as name (Erlang's
 * name ! Msg); TR_ENOENT (nothing sent) if none, TR_EINVAL for a bad
 * name, else as tr_send.
 * Thread: actor.
 */
TR_API int tr_send_name(tr_ctx *cx, const char *name, uint32_t tag,
    const void *data, size_t len);

/* tr_system_send_name is tr_send_name for a plain thread (errors as
 * tr_system_send). Thread: any. */
TR_API int tr_system_send_name(tr_system *sys, const char *name, uint32_t tag,
    const void *data, size_t len);

/* tr_send_name_term is tr_send_name with a term (see troupe/term.h). Thread: actor. */
TR_API int tr_send_name_term(tr_ctx *cx, const char *name, uint32_t tag,
    const char *fmt, ...);

/* tr_system_send_name_term is tr_system_send_name with a term. Thread: any. */
TR_API int tr_system_send_name_term(tr_system *sys, const char *name,
    uint32_t tag, const char *fmt, ...);

/* ------------------------------------------------------- request/reply */

/*
 * tr_call sends pid a request (tag/data, sent by the calling process with
 * a fresh reference) and blocks the process until the reply made with
 * tr_reply arrives, pid exits, or timeout_ms passes.  Returns 0 with the
 * reply in *reply, TR_EDOWN with pid's DOWN message in *reply
 * (tr_msg_reason tells why; noproc if it was gone), or TR_ETIMEDOUT (a
 * reply that comes later is dropped, never left in the mailbox).
 * *reply is always set when reply is not NULL: to the message (the
 * caller's, to tr_msg_free) on 0 and TR_EDOWN, to NULL on every other
 * return; so one tr_msg_free(*reply) after the call is always right.  TR_ECONTEXT from an event actor (use
 * tr_call_async) or with cx NULL; TR_EDEADLK at once, with nothing sent,
 * if pid is the caller itself (nobody could answer: Erlang's
 * calling_self).  TR_EINVAL (reply NULL, nil pid, data NULL with len > 0,
 * a system tag), TR_ETOOBIG, TR_ENOMEM, TR_ENOTLOCAL.
 * Thread: process.
 */
TR_API int tr_call(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data,
    size_t len, int64_t timeout_ms, tr_msg **reply);

/*
 * tr_system_call is tr_call for a plain thread, which it blocks.  The
 * reply may be freed with tr_msg_free on any thread.  Errors as tr_call,
 * TR_EINVAL for sys NULL, TR_ECONTEXT from a worker of sys.
 * Thread: any but sys's workers.
 */
TR_API int tr_system_call(tr_system *sys, tr_pid pid, uint32_t tag,
    const void *data, size_t len, int64_t timeout_ms, tr_msg **reply);

/*
 * tr_call_async sends a request and returns at once with its reference in
 * *ref.  Exactly one message with tr_msg_ref == *ref then reaches the
 * caller: the reply (flag TR_MSG_REPLY), pid's TR_TAG_DOWN if it exits
 * first, or TR_TAG_CALL_TIMEOUT after timeout_ms.  A late reply is
 * dropped.  Errors as tr_call but TR_EDEADLK: an event actor may call
 * itself asynchronously and answer the request in a later turn.
 * Thread: actor.
 */
TR_API int tr_call_async(tr_ctx *cx, tr_pid pid, uint32_t tag, const void *data,
    size_t len, int64_t timeout_ms, uint64_t *ref);

/*
 * tr_call_name is tr_call to the actor registered as name, looked up at
 * the call (gen_server:call(Name, ...)): after a supervisor restarts a
 * registered server, the next call reaches the new one.  If no actor has
 * the name it returns TR_ENOPROC at once (*reply NULL, nothing sent); if
 * the actor dies before it answers, TR_EDOWN as tr_call.  Other errors as
 * tr_call, and TR_EINVAL for a bad name.
 * Thread: process.
 */
TR_API int tr_call_name(tr_ctx *cx, const char *name, uint32_t tag,
    const void *data, size_t len, int64_t timeout_ms, tr_msg **reply);

/* tr_system_call_name is tr_call_name for a plain thread (errors as
 * tr_system_call). Thread: any but sys's workers. */
TR_API int tr_system_call_name(tr_system *sys, const char *name, uint32_t tag,
    const void *data, size_t len, int64_t timeout_ms, tr_msg **reply);

/* tr_call_name_term is tr_call_name with a term. Thread: process. */
TR_API int tr_call_name_term(tr_ctx *cx, const char *name, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...);

/* tr_system_call_name_term is tr_system_call_name with a term.
 * Thread: any but sys's workers. */
TR_API int tr_system_call_name_term(tr_system *sys, const char *name,
    uint32_t tag, int64_t timeout_ms, tr_msg **reply, const char *fmt, ...);

/*
 * tr_reply answers request (a message received from a caller) with
 * tag/data.  A request from a plain thread or a process is answered the
 * same way.  Errors as tr_send; TR_EINVAL if request is NULL or carries no
 * reference.
 * Thread: actor.
 */
TR_API int tr_reply(tr_ctx *cx, const tr_msg *request, uint32_t tag,
    const void *data, size_t len);

/*
 * tr_reply_to answers later a request whose tr_msg_from and tr_msg_ref
 * the caller kept (Erlang's gen_server:reply/2 after a noreply).  Errors
 * as tr_reply.
 * Thread: actor.
 */
TR_API int tr_reply_to(tr_ctx *cx, tr_pid to, uint64_t ref, uint32_t tag,
    const void *data, size_t len);

#ifdef __cplusplus
}
#endif

/* Supervisors build on everything above: included last, so that
 * <troupe/troupe.h> alone gives the whole API. */
#include <troupe/supervisor.h>
#include <troupe/server.h> /* servers (gen_server) */

#endif /* TROUPE_TROUPE_H */
