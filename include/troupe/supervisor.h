/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_SUPERVISOR_H
#define TROUPE_SUPERVISOR_H

/*
 * Supervisors: restart trees as in Erlang/OTP.  A supervisor is an
 * ordinary process, written against the public API only (supervisor/);
 * it traps exits, starts its children in order, restarts them by its
 * strategy within its restart intensity, and shuts them down in reverse
 * order.  Address it by pid or by name like any actor.
 *
 * The management functions below are requests to the supervisor.  They
 * take the caller's context: a process (cx set, it blocks only itself)
 * or a plain thread (cx NULL, it blocks that thread).  Event actors
 * cannot make them (TR_ECONTEXT): they would have to block.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <troupe/troupe.h>

#ifdef __cplusplus
extern "C" {
#endif

/* When a child that ended is restarted. */
typedef enum tr_restart {
	TR_PERMANENT = 0, /* always */
	TR_TRANSIENT =
	    1, /* only after an abnormal exit (not normal/shutdown) */
	TR_TEMPORARY = 2, /* never; the child is forgotten when it ends */
} tr_restart;

/* What else is restarted when a child ends. */
typedef enum tr_strategy {
	TR_ONE_FOR_ONE = 0,  /* that child only */
	TR_ONE_FOR_ALL = 1,  /* all children */
	TR_REST_FOR_ONE = 2, /* that child and those started after it */
	TR_SIMPLE_ONE_FOR_ONE =
	    3, /* one_for_one over dynamic children of one spec */
} tr_strategy;

typedef enum tr_child_type {
	TR_WORKER = 0,
	TR_SUPERVISOR = 1,
} tr_child_type;

/* Shutdown of a child: kill at once, wait forever, or a timeout in ms. */
#define TR_SHUTDOWN_BRUTAL_KILL ((int64_t) 0)
#define TR_SHUTDOWN_INFINITY ((int64_t) -1)

/* What a tr_child_start_fn returns, besides 0 and negative TR_E* codes. */
#define TR_CHILD_IGNORE 1 /* not started, no error (Erlang's ignore) */

/*
 * tr_child_start_fn starts one child.  It runs in the supervisor, a
 * process (cx is the supervisor's context).  It must spawn the child
 * linked to the supervisor (tr_spawn_opts.flags |= TR_SPAWN_LINK) and
 * store its pid in *pid; it may block briefly (tr_sup_start of a nested
 * supervisor does).  arg is the spec's; extra is tr_sup_start_child's
 * (simple_one_for_one), else NULL.  Returns 0, TR_CHILD_IGNORE, or a
 * negative TR_E* code: the start failed.
 */
typedef int (
    *tr_child_start_fn)(tr_ctx *cx, void *arg, void *extra, tr_pid *pid);

/* A child specification. */
typedef struct tr_child_spec {
	const char *id; /* unique in its supervisor; copied; at most 63 bytes */
	tr_child_start_fn start;
	void *arg; /* passed to start; not owned */
	tr_restart restart;
	/* TR_SHUTDOWN_BRUTAL_KILL, TR_SHUTDOWN_INFINITY, or the ms to wait
	 * after the shutdown exit signal before killing. */
	int64_t shutdown_ms;
	tr_child_type type;
} tr_child_spec;

/* A supervisor's flags.  Start from TR_SUP_FLAGS_INIT (Erlang's
 * defaults: one_for_one, at most 1 restart in 5 s, no backoff). */
typedef struct tr_sup_flags {
	tr_strategy strategy;
	/* At most `intensity` restarts within `period_ms`, else the
	 * supervisor shuts its children down and exits with reason
	 * shutdown, and its own supervisor decides.  0: no restart at all. */
	unsigned intensity;
	unsigned period_ms;
	/* Optional exponential backoff between restarts of one child: the
	 * first waits backoff_min_ms, each consecutive one twice as long, up
	 * to backoff_max_ms, +/- backoff_jitter_pct percent.  0: restart at
	 * once.  A child that stayed up for backoff_max_ms starts over. */
	unsigned backoff_min_ms;
	unsigned backoff_max_ms;
	unsigned backoff_jitter_pct;
} tr_sup_flags;

/* clang-format off */
#define TR_SUP_FLAGS_INIT { TR_ONE_FOR_ONE, 1, 5000, 0, 0, 0 }
/* clang-format on */

/* What a supervisor reports (see tr_sup_report_fn). */
typedef enum tr_sup_event_kind {
	TR_SUP_CHILD_EXITED = 0, /* a child ended abnormally */
	TR_SUP_CHILD_RESTARTED = 1,
	TR_SUP_START_FAILED = 2, /* a start function failed */
	TR_SUP_GIVE_UP = 3,      /* intensity exceeded: shutting down */
	TR_SUP_ESCALATED = 4,    /* the supervisor exits; its parent decides */
} tr_sup_event_kind;

typedef struct tr_sup_event {
	tr_sup_event_kind kind;
	tr_pid sup;
	const char *sup_name; /* registered name or NULL */
	const char *child_id;
	tr_pid child;
	tr_exit_info reason;
	uint64_t restarts; /* restarts by this supervisor so far */
} tr_sup_event;

/*
 * tr_sup_report_fn receives each event; it runs in the supervisor.  The
 * default writes one line per event through the system's logging hook
 * (tr_log, level TR_LOG_ERROR): supervisor, child id, reason, restarts.
 * Thread: the supervisor's process.
 */
typedef void (*tr_sup_report_fn)(void *arg, const tr_sup_event *ev);

/* Options of tr_sup_start; all-zero means none. */
typedef struct tr_sup_opts {
	const char *name; /* register the supervisor under this name */
	unsigned flags;   /* TR_SPAWN_LINK to link it to the calling process */
	tr_sup_report_fn report;
	void *report_arg;
} tr_sup_opts;

/*
 * tr_sup_start starts a supervisor with flags and children (both copied;
 * for simple_one_for_one exactly one spec, the template, and no child
 * starts yet) and waits until every child has started.  Returns 0 with
 * the pid in *pid (may be NULL), or: the error of the first start that
 * failed (the children already started are shut down and the supervisor
 * is gone), TR_EINVAL (bad flags or specs, duplicate ids), TR_EEXIST
 * (name taken), TR_ECONTEXT (an event actor), TR_ENOMEM.
 * Thread: process or plain thread (cx NULL: then sys is used).
 */
TR_API int tr_sup_start(tr_system *sys, tr_ctx *cx, tr_pid *pid,
    const tr_sup_flags *flags, const tr_child_spec *children, size_t n,
    const tr_sup_opts *opts);

/*
 * tr_sup_spec: a nested supervisor as a child.  Use tr_sup_child_start as
 * the child spec's start function and a tr_sup_spec as its arg (the
 * tr_sup_spec and what it points to must outlive the parent).
 */
typedef struct tr_sup_spec {
	tr_sup_flags flags;
	const tr_child_spec *children;
	size_t n;
	tr_sup_opts opts; /* TR_SPAWN_LINK is implied */
} tr_sup_spec;

/* tr_sup_child_start is a tr_child_start_fn starting the tr_sup_spec arg.
 * Thread: the parent supervisor (called by it). */
TR_API int tr_sup_child_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid);

/*
 * tr_sup_start_child adds and starts a child: spec for the fixed
 * strategies (TR_EEXIST if its id is taken), or, for simple_one_for_one,
 * spec NULL and extra given to the template's start function.  Stores
 * the pid in *child (may be NULL; nil if the start returned ignore).
 * Errors: the start's own, TR_EINVAL, TR_ENOPROC (no such supervisor),
 * TR_ETIMEDOUT (no answer in timeout_ms).
 * Thread: process or plain thread (cx NULL).
 */
TR_API int tr_sup_start_child(tr_system *sys, tr_ctx *cx, tr_pid sup,
    const tr_child_spec *spec, void *extra, tr_pid *child, int64_t timeout_ms);

/*
 * tr_sup_terminate_child stops a child by its shutdown spec; it is not
 * restarted and its spec stays (restart it with tr_sup_restart_child).
 * For simple_one_for_one name the child by pid (id NULL); it is removed.
 * Errors: TR_ENOENT (no such child), TR_ENOPROC, TR_ETIMEDOUT.
 * Thread: process or plain thread (cx NULL).
 */
TR_API int tr_sup_terminate_child(tr_system *sys, tr_ctx *cx, tr_pid sup,
    const char *id, tr_pid pid, int64_t timeout_ms);

/* tr_sup_restart_child starts again a terminated child (not a running
 * one: TR_EEXIST). Errors as tr_sup_start_child, and TR_ENOENT.
 * Thread: process or plain thread (cx NULL). */
TR_API int tr_sup_restart_child(tr_system *sys, tr_ctx *cx, tr_pid sup,
    const char *id, tr_pid *child, int64_t timeout_ms);

/* tr_sup_delete_child removes a terminated child's spec (a running one:
 * TR_EEXIST). Errors: TR_ENOENT, TR_ENOPROC, TR_ETIMEDOUT.
 * Thread: process or plain thread (cx NULL). */
TR_API int tr_sup_delete_child(tr_system *sys, tr_ctx *cx, tr_pid sup,
    const char *id, int64_t timeout_ms);

/* What tr_sup_which_children tells of a child. */
typedef struct tr_child_info {
	char id[64];
	tr_pid pid; /* nil if not running (terminated, or restarting) */
	tr_child_type type;
	tr_restart restart;
	bool running;
} tr_child_info;

/* tr_sup_which_children fills out[0..cap) in start order and stores the
 * number of children in *n (which may exceed cap).  Errors: TR_EINVAL,
 * TR_ENOPROC, TR_ETIMEDOUT.
 * Thread: process or plain thread (cx NULL). */
TR_API int tr_sup_which_children(tr_system *sys, tr_ctx *cx, tr_pid sup,
    tr_child_info *out, size_t cap, size_t *n, int64_t timeout_ms);

/* Counts of tr_sup_count_children. */
typedef struct tr_sup_counts {
	size_t specs;
	size_t active;
	size_t supervisors;
	size_t workers;
	uint64_t restarts; /* since the supervisor started */
} tr_sup_counts;

/* tr_sup_count_children fills *c.  Errors: TR_EINVAL, TR_ENOPROC,
 * TR_ETIMEDOUT.
 * Thread: process or plain thread (cx NULL). */
TR_API int tr_sup_count_children(tr_system *sys, tr_ctx *cx, tr_pid sup,
    tr_sup_counts *c, int64_t timeout_ms);

/*
 * tr_sup_stop shuts the supervisor down: its children in reverse start
 * order by their shutdown specs, then itself with reason shutdown; waits
 * for the end.  Errors: TR_ENOPROC, TR_ETIMEDOUT.
 * Thread: process or plain thread (cx NULL).
 */
TR_API int tr_sup_stop(tr_system *sys, tr_ctx *cx, tr_pid sup,
    int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_SUPERVISOR_H */
