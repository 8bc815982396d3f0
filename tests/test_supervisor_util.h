/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_TESTS_TEST_SUPERVISOR_UTIL_H
#define TROUPE_TESTS_TEST_SUPERVISOR_UTIL_H

/*
 * Helpers shared by the supervisor tests: a test worker (a process whose
 * start function and behaviour a static struct tw configures), an event
 * log of starts and shutdowns in the order they happened, a recording
 * report hook, and bounded waits on a supervisor's children.
 *
 * Include after <cmocka.h> and "testutil.h".
 */

#include <troupe/supervisor.h>

/* ------------------------------------------------------- event log */

/*
 * The event log records "S:<id>" when a worker starts and "T:<id>" when a
 * trapping worker gets its supervisor's shutdown (before it exits, so the
 * order is that of the shutdowns), "I:<id>" when it ignores it.
 */
#define TSU_EV_MAX 8192

static pthread_mutex_t tsu_ev_mu = PTHREAD_MUTEX_INITIALIZER;
static char tsu_ev[TSU_EV_MAX];
static size_t tsu_ev_len;

static inline void
tsu_ev_reset(void)
{
	pthread_mutex_lock(&tsu_ev_mu);
	tsu_ev[0] = '\0';
	tsu_ev_len = 0;
	pthread_mutex_unlock(&tsu_ev_mu);
}

static inline void
tsu_ev_add(char kind, const char *id)
{
	pthread_mutex_lock(&tsu_ev_mu);
	int n = snprintf(tsu_ev + tsu_ev_len, TSU_EV_MAX - tsu_ev_len,
	    "%s%c:%s", tsu_ev_len > 0 ? " " : "", kind, id);
	if (n > 0 && tsu_ev_len + (size_t) n < TSU_EV_MAX)
		tsu_ev_len += (size_t) n;
	pthread_mutex_unlock(&tsu_ev_mu);
}

/* tsu_ev_get copies the log (space-separated events) into out. */
static inline void
tsu_ev_get(char *out, size_t len)
{
	pthread_mutex_lock(&tsu_ev_mu);
	snprintf(out, len, "%s", tsu_ev);
	pthread_mutex_unlock(&tsu_ev_mu);
}

/* TSU_EV_EQ asserts that the log is exactly want. */
#define TSU_EV_EQ(want)                                                        \
	do {                                                                   \
		char tsu_b_[TSU_EV_MAX];                                       \
		tsu_ev_get(tsu_b_, sizeof tsu_b_);                             \
		if (strcmp(tsu_b_, (want)) != 0)                               \
			fprintf(stderr, "events: '%s'\n want: '%s'\n", tsu_b_, \
			    (want));                                           \
		assert_string_equal(tsu_b_, (want));                           \
	} while (0)

/* TSU_EV_WAIT waits (bounded) until the log is want, then asserts it. */
#define TSU_EV_WAIT(want)                                                     \
	do {                                                                  \
		char tsu_w_[TSU_EV_MAX];                                      \
		tu_deadline tsu_d_ = tu_deadline_ms(10000 * TU_SLOW);         \
		for (;;) {                                                    \
			tsu_ev_get(tsu_w_, sizeof tsu_w_);                    \
			if (strcmp(tsu_w_, (want)) == 0 || !tu_poll(&tsu_d_)) \
				break;                                        \
		}                                                             \
		TSU_EV_EQ(want);                                              \
	} while (0)

/* ------------------------------------------------------- test worker */

enum {
	W_CRASH = 100, /* exit with an error reason */
	W_NORMAL,      /* return: reason normal */
	W_SHUTDOWN,    /* exit with reason shutdown */
	W_PING,        /* a call: the reply carries the worker's extra */
	W_PONG,
};

/* tw configures a worker child; its start function's arg. */
typedef struct tw {
	const char *id;
	bool trap;            /* trap exits: log T (or I) on shutdown */
	bool ignore_shutdown; /* trap and ignore a shutdown exit signal */
	bool wait;            /* spawn with TR_SPAWN_WAIT (tests tr_wait) */
	atomic_int start_rv;  /* what the start returns instead (0: start) */
	atomic_int starts;    /* times the start function ran */
} tw;

/* One running worker: its config and the start's extra. */
typedef struct tw_run {
	tw *r_w;
	intptr_t r_extra;
} tw_run;

static inline void
tw_main(tr_ctx *cx, void *arg)
{
	tw_run *r = arg;
	for (;;) {
		tr_msg *m = tr_receive(cx, TR_INFINITY);
		uint32_t tag = tr_msg_tag(m);
		tr_exit_info why;
		memset(&why, 0, sizeof why);
		if (tag == TR_TAG_EXIT)
			(void) tr_msg_reason(m, &why);
		if (tag == W_PING)
			(void) tr_reply(cx, m, W_PONG, &r->r_extra,
			    sizeof r->r_extra);
		tr_msg_free(m);
		switch (tag) {
		case W_CRASH:
			(void) tr_exit(cx, tr_reason("crash"));
			break;
		case W_NORMAL:
			return;
		case W_SHUTDOWN:
			(void) tr_exit(cx, TR_SHUTDOWN);
			break;
		case TR_TAG_EXIT: {
			if (why.kind == TR_REASON_SHUTDOWN &&
			    r->r_w->ignore_shutdown) {
				tsu_ev_add('I', r->r_w->id);
				break;
			}
			if (why.kind == TR_REASON_SHUTDOWN)
				tsu_ev_add('T', r->r_w->id);
			tr_reason re = { why.kind, 0, why.text, NULL };
			(void) tr_exit(cx, re);
			break;
		}
		default:
			break;
		}
	}
}

/* tw_start is a tr_child_start_fn for a tw (extra: an integer). */
static inline int
tw_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	tw *w = arg;
	atomic_fetch_add(&w->starts, 1);
	int rv = atomic_load(&w->start_rv);
	if (rv != 0)
		return rv;
	tw_run *r = malloc(sizeof *r);
	if (r == NULL)
		return TR_ENOMEM;
	r->r_w = w;
	r->r_extra = (intptr_t) extra;
	unsigned fl = TR_SPAWN_LINK;
	if (w->trap || w->ignore_shutdown)
		fl |= TR_SPAWN_TRAP_EXIT;
	if (w->wait)
		fl |= TR_SPAWN_WAIT;
	tr_spawn_opts o = { .state_free = free, .flags = fl };
	rv = tr_spawn_process(tr_ctx_system(cx), pid, tw_main, r, &o);
	if (rv == 0)
		tsu_ev_add('S', w->id);
	return rv;
}

/* A worker child spec for tw w with restart type rs. */
static inline tr_child_spec
tw_spec(tw *w, tr_restart rs, int64_t shutdown_ms)
{
	tr_child_spec s = { w->id, tw_start, w, rs, shutdown_ms, TR_WORKER };
	return s;
}

/* tsu_ping calls worker pid and returns its extra. */
static inline intptr_t
tsu_ping(tr_system *sys, tr_pid pid)
{
	tr_msg *r = NULL;
	int rv = tr_system_call(sys, pid, W_PING, NULL, 0, TU_RECV_MS, &r);
	if (rv != 0)
		fprintf(stderr, "ping: %s\n", tr_err_name(rv));
	assert_int_equal(rv, 0);
	intptr_t v = -1;
	assert_int_equal(tr_msg_len(r), sizeof v);
	memcpy(&v, tr_msg_data(r), sizeof v);
	tr_msg_free(r);
	return v;
}

/* ------------------------------------------------------- children */

#define TSU_MAXC 64

/* tsu_which lists sup's children into out (cap TSU_MAXC); returns n. */
static inline size_t
tsu_which(tr_system *sys, tr_pid sup, tr_child_info *out)
{
	size_t n = 0;
	int rv = tr_sup_which_children(sys, NULL, sup, out, TSU_MAXC, &n,
	    TU_RECV_MS);
	if (rv != 0)
		fprintf(stderr, "which_children: %s\n", tr_err_name(rv));
	assert_int_equal(rv, 0);
	return n;
}

/* tsu_all_running tells whether sup has n children, all running. */
static inline bool
tsu_all_running(tr_system *sys, tr_pid sup, size_t n)
{
	tr_child_info ci[TSU_MAXC];
	size_t k = tsu_which(sys, sup, ci);
	if (k != n)
		return false;
	for (size_t i = 0; i < k; i++)
		if (!ci[i].running)
			return false;
	return true;
}

/* tsu_wait_running waits (bounded) until sup has n children running. */
static inline void
tsu_wait_running(tr_system *sys, tr_pid sup, size_t n)
{
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	while (!tsu_all_running(sys, sup, n) && tu_poll(&d)) {
	}
	assert_true(tsu_all_running(sys, sup, n));
}

/* tsu_pid_of returns the pid of child id (nil if not running). */
static inline tr_pid
tsu_pid_of(tr_system *sys, tr_pid sup, const char *id)
{
	tr_child_info ci[TSU_MAXC];
	size_t k = tsu_which(sys, sup, ci);
	for (size_t i = 0; i < k && i < TSU_MAXC; i++)
		if (strcmp(ci[i].id, id) == 0)
			return ci[i].pid;
	return TR_PID_NIL;
}

/* tsu_wait_new waits (bounded) until child id runs with a pid other than
 * old, and returns it. */
static inline tr_pid
tsu_wait_new(tr_system *sys, tr_pid sup, const char *id, tr_pid old)
{
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	tr_pid p = tsu_pid_of(sys, sup, id);
	while ((tr_pid_is_nil(p) || tr_pid_eq(p, old)) && tu_poll(&d))
		p = tsu_pid_of(sys, sup, id);
	assert_false(tr_pid_is_nil(p));
	assert_false(tr_pid_eq(p, old));
	return p;
}

/* tsu_wait_gone waits (bounded) until pid is no longer alive. */
static inline void
tsu_wait_gone(tr_system *sys, tr_pid pid)
{
	TU_WAIT_EQ(tr_is_alive(sys, pid), false);
}

/* ------------------------------------------------------- reports */

#define TSU_REC_MAX 128

/* tsu_rec records the events a supervisor reports (as report_arg). */
typedef struct tsu_rec {
	pthread_mutex_t mu;
	int count[5]; /* per tr_sup_event_kind */
	int n;
	tr_sup_event_kind kind[TSU_REC_MAX];
	char sup[TSU_REC_MAX][TR_NAME_MAX + 1];
	char child[TSU_REC_MAX][64];
	tr_exit_info reason[TSU_REC_MAX];
	uint64_t restarts[TSU_REC_MAX];
} tsu_rec;

static inline void
tsu_rec_init(tsu_rec *r)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
}

static inline void
tsu_rec_fini(tsu_rec *r)
{
	pthread_mutex_destroy(&r->mu);
}

static inline void
tsu_rec_fn(void *arg, const tr_sup_event *ev)
{
	tsu_rec *r = arg;
	pthread_mutex_lock(&r->mu);
	if ((unsigned) ev->kind < 5)
		r->count[ev->kind]++;
	if (r->n < TSU_REC_MAX) {
		int i = r->n;
		r->kind[i] = ev->kind;
		snprintf(r->sup[i], sizeof r->sup[i], "%s",
		    ev->sup_name != NULL ? ev->sup_name : "");
		snprintf(r->child[i], sizeof r->child[i], "%s",
		    ev->child_id != NULL ? ev->child_id : "");
		r->reason[i] = ev->reason;
		r->restarts[i] = ev->restarts;
	}
	r->n++;
	pthread_mutex_unlock(&r->mu);
}

static inline int
tsu_rec_count(tsu_rec *r, tr_sup_event_kind k)
{
	pthread_mutex_lock(&r->mu);
	int n = r->count[k];
	pthread_mutex_unlock(&r->mu);
	return n;
}

/* tsu_rec_find returns the index of the first event of kind k from
 * supervisor sup (name, "" for any) about child (NULL: any), or -1. */
static inline int
tsu_rec_find(tsu_rec *r, tr_sup_event_kind k, const char *sup,
    const char *child)
{
	int found = -1;
	pthread_mutex_lock(&r->mu);
	int n = r->n < TSU_REC_MAX ? r->n : TSU_REC_MAX;
	for (int i = 0; i < n && found < 0; i++)
		if (r->kind[i] == k &&
		    (sup[0] == '\0' || strcmp(r->sup[i], sup) == 0) &&
		    (child == NULL || strcmp(r->child[i], child) == 0))
			found = i;
	pthread_mutex_unlock(&r->mu);
	return found;
}

/* tsu_opts returns options that record into r (and register name). */
static inline tr_sup_opts
tsu_opts(tsu_rec *r, const char *name)
{
	tr_sup_opts o = { name, 0, tsu_rec_fn, r };
	return o;
}

/* tsu_flags returns flags for strategy st, intensity i in p ms. */
static inline tr_sup_flags
tsu_flags(tr_strategy st, unsigned i, unsigned p)
{
	tr_sup_flags f = TR_SUP_FLAGS_INIT;
	f.strategy = st;
	f.intensity = i;
	f.period_ms = p;
	return f;
}

#endif /* TROUPE_TESTS_TEST_SUPERVISOR_UTIL_H */
