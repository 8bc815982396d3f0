/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Request/reply (guide chapter 7): tr_call from a process to a process
 * server and to an event actor server (tr_reply; deferred replies with a
 * kept request and with tr_reply_to); tr_system_call from several plain
 * threads at once; tr_call_async from an event actor gets exactly one of
 * reply / DOWN / CALL_TIMEOUT, also when replies race the timeout or the
 * callee's exit; a call timeout gives TR_ETIMEDOUT and the late reply is
 * dropped, not left in the mailbox; the callee dying during the call
 * gives TR_EDOWN with its reason; a call to a dead pid gives TR_EDOWN
 * noproc; a caller dying mid-call leaks nothing; argument and context
 * errors.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum {
	T_ADD = 1,   /* int: add, reply with the total */
	T_GET,       /* reply with the total */
	T_DEFER,     /* int: keep the request (answered by T_FLUSH) */
	T_FLUSH,     /* answer the kept requests, newest first */
	T_HOLD,      /* keep the request (answered by T_RELEASE) */
	T_RELEASE,   /* answer the held request, then tell its caller */
	T_REPLIED,   /* to the caller: the held request was answered */
	T_CRASH,     /* end with an error instead of answering */
	T_REPLY_DIE, /* answer, then end with an error */
	T_STOP,
	T_VALUE, /* a reply */
	T_JUNK,
	T_CHECK,
	T_PLAIN,
	T_DELAYED,
};

#define CHECK_MSG(m)                           \
	do {                                   \
		if ((m) == NULL) {             \
			TU_CHECK((m) != NULL); \
			return;                \
		}                              \
	} while (0)

static int64_t
msg_int(const tr_msg *m)
{
	int64_t v = -1;
	TU_CHECK(tr_msg_int(m, &v) == 0);
	return v;
}

static tr_exit_info
reason_info(const tr_msg *m)
{
	tr_exit_info info;
	memset(&info, 0, sizeof info);
	info.kind = (tr_reason_kind) -1;
	TU_CHECK(tr_msg_reason(m, &info) == 0);
	return info;
}

static tr_system *
start_quiet(tu_log *log, unsigned workers)
{
	tu_log_init(log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = workers;
	cfg.log = tu_log_fn; /* crashes are expected: keep stderr quiet */
	cfg.log_arg = log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	return sys;
}

/* ----------------------------------------------------------- servers */

#define KEPT_MAX 8

/* Shared by both kinds of server. */
typedef struct srv_st {
	int64_t total;
	atomic_int held; /* requests kept (T_DEFER, T_HOLD) */
	int nkept;
	tr_pid kept_from[KEPT_MAX];
	uint64_t kept_ref[KEPT_MAX];
	int64_t kept_arg[KEPT_MAX];
	tr_msg *hold; /* process server: the T_HOLD request itself */
	int bad_reply_rv[2];
} srv_st;

static void
reply_int(tr_ctx *cx, const tr_msg *req, int64_t v)
{
	unsigned char b[TR_PACK_INT_MAX];
	TU_CHECK(tr_reply(cx, req, T_VALUE, b, tr_pack_int(b, v)) == 0);
}

static void
reply_to_int(tr_ctx *cx, tr_pid to, uint64_t ref, int64_t v)
{
	unsigned char b[TR_PACK_INT_MAX];
	TU_CHECK(tr_reply_to(cx, to, ref, T_VALUE, b, tr_pack_int(b, v)) == 0);
}

/* serve handles one request; returns false to end (normally).  A
 * process server may keep m (*keep set); an event server may not. */
static bool
serve(tr_ctx *cx, srv_st *s, tr_msg *m, bool process, bool *keep)
{
	*keep = false;
	switch (tr_msg_tag(m)) {
	case T_ADD:
		s->total += msg_int(m);
		reply_int(cx, m, s->total);
		break;
	case T_GET:
		reply_int(cx, m, s->total);
		break;
	case T_DEFER:
		if (s->nkept < KEPT_MAX) {
			s->kept_from[s->nkept] = tr_msg_from(m);
			s->kept_ref[s->nkept] = tr_msg_ref(m);
			s->kept_arg[s->nkept] = msg_int(m);
			s->nkept++;
			atomic_fetch_add(&s->held, 1);
		}
		break;
	case T_FLUSH:
		while (s->nkept > 0) {
			s->nkept--;
			reply_to_int(cx, s->kept_from[s->nkept],
			    s->kept_ref[s->nkept], s->kept_arg[s->nkept] * 10);
		}
		break;
	case T_HOLD:
		if (process) {
			/* A process owns what it receives: keep the request
			 * and answer it with tr_reply later. */
			s->hold = m;
			*keep = true;
		} else {
			s->kept_from[0] = tr_msg_from(m);
			s->kept_ref[0] = tr_msg_ref(m);
		}
		atomic_fetch_add(&s->held, 1);
		break;
	case T_RELEASE: {
		tr_pid to = process ? tr_msg_from(s->hold) : s->kept_from[0];
		if (process) {
			reply_int(cx, s->hold, 42);
			tr_msg_free(s->hold);
			s->hold = NULL;
		} else {
			reply_to_int(cx, to, s->kept_ref[0], 42);
		}
		/* Same sender: reaches the caller after the reply. */
		TU_CHECK(tr_send(cx, to, T_REPLIED, NULL, 0) == 0);
		break;
	}
	case T_CRASH:
		return false;
	case T_REPLY_DIE:
		reply_int(cx, m, -1);
		return false;
	case T_PLAIN:
		/* Not a request: no reference to answer. */
		s->bad_reply_rv[0] = tr_reply(cx, m, T_VALUE, NULL, 0);
		s->bad_reply_rv[1] = tr_reply_to(cx, tr_msg_from(m), 0, T_VALUE,
		    NULL, 0);
		break;
	case T_STOP:
		return false;
	default:
		break;
	}
	return true;
}

static void
proc_server(tr_ctx *cx, void *arg)
{
	srv_st *s = arg;
	for (;;) {
		tr_msg *m = tr_receive(cx, TU_RECV_MS * 6);
		if (m == NULL)
			return;
		bool crash = tr_msg_tag(m) == T_CRASH ||
		    tr_msg_tag(m) == T_REPLY_DIE;
		bool keep;
		bool go_on = serve(cx, s, m, true, &keep);
		if (!keep)
			tr_msg_free(m);
		if (!go_on) {
			if (crash)
				tr_exit(cx, tr_reason("server crash"));
			return;
		}
	}
}

static int
ev_server(tr_ctx *cx, tr_msg *m, void *state)
{
	srv_st *s = state;
	bool crash = tr_msg_tag(m) == T_CRASH || tr_msg_tag(m) == T_REPLY_DIE;
	bool keep;
	if (serve(cx, s, m, false, &keep))
		return TR_CONTINUE;
	if (crash)
		return tr_exit(cx, tr_reason("server crash"));
	return TR_STOP;
}

static void
srv_free(void *p)
{
	srv_st *s = p;
	tr_msg_free(s->hold); /* a process killed while holding one */
	free(s);
}

/* spawn_server starts a server of either kind (TR_SPAWN_WAIT); *sp gets
 * its state (owned by the server). */
static tr_pid
spawn_server(tr_system *sys, bool process, srv_st **sp)
{
	srv_st *s = calloc(1, sizeof *s);
	assert_non_null(s);
	*sp = s;
	tr_spawn_opts o = { .state_free = srv_free, .flags = TR_SPAWN_WAIT };
	tr_pid p;
	if (process)
		assert_int_equal(tr_spawn_process(sys, &p, proc_server, s, &o),
		    0);
	else
		assert_int_equal(tr_spawn(sys, &p, ev_server, s, &o), 0);
	return p;
}

static void
stop_server(tr_system *sys, tr_pid p)
{
	assert_int_equal(tr_system_send(sys, p, T_STOP, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
}

/* --------------------------------------------------- calls from processes */

#define CALLS TU_PICK(2000, 500, 300)

typedef struct client_st {
	tr_pid server;
	int ok;
	int junk_kept;
	double call_ns;
} client_st;

static void
adder_body(tr_ctx *cx, void *arg)
{
	client_st *c = arg;
	/* Messages that come meanwhile stay queued, in order. */
	for (int i = 0; i < 100; i++)
		TU_CHECK(tr_send_int(cx, tr_self(cx), T_JUNK, i) == 0);
	unsigned char b[TR_PACK_INT_MAX];
	size_t n = tr_pack_int(b, 1);
	uint64_t last_ref = 0;
	uint64_t t0 = tu_now_ns();
	for (int i = 0; i < CALLS; i++) {
		tr_msg *r = (tr_msg *) 1;
		int rv = tr_call(cx, c->server, T_ADD, b, n, TU_RECV_MS, &r);
		TU_CHECK_EQ(rv, 0);
		CHECK_MSG(r);
		TU_CHECK((tr_msg_flags(r) & TR_MSG_REPLY) != 0);
		TU_CHECK_EQ(tr_msg_tag(r), T_VALUE);
		TU_CHECK(tr_pid_eq(tr_msg_from(r), c->server));
		TU_CHECK(tr_msg_ref(r) != 0 && tr_msg_ref(r) != last_ref);
		last_ref = tr_msg_ref(r);
		TU_CHECK_EQ(msg_int(r), i + 1);
		tr_msg_free(r);
		c->ok++;
	}
	c->call_ns = (double) (tu_now_ns() - t0) / CALLS;
	tr_msg *m;
	while ((m = tr_receive(cx, 0)) != NULL) {
		TU_CHECK_EQ(tr_msg_tag(m), T_JUNK);
		TU_CHECK_EQ(msg_int(m), c->junk_kept);
		c->junk_kept++;
		tr_msg_free(m);
	}
}

static void
call_servers(bool process)
{
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	srv_st *s;
	static client_st c;
	memset(&c, 0, sizeof c);
	c.server = spawn_server(sys, process, &s);
	tu_run_proc(sys, adder_body, &c);
	printf("# %d calls to a%s server: %.0f ns per call\n", CALLS,
	    process ? " process" : "n event actor", c.call_ns);
	assert_int_equal(c.ok, CALLS);
	assert_int_equal(c.junk_kept, 100);
	stop_server(sys, c.server);
	tu_stop(sys);
}

static void
test_call_process_server(void **unused)
{
	(void) unused;
	call_servers(true);
}

static void
test_call_event_server(void **unused)
{
	(void) unused;
	call_servers(false);
}

/* Deferred replies: two callers' requests kept, answered newest first. */

typedef struct defer_client {
	tr_pid server;
	int64_t arg;
	int rv;
	int64_t got;
} defer_client;

static void
defer_body(tr_ctx *cx, void *arg)
{
	defer_client *d = arg;
	unsigned char b[TR_PACK_INT_MAX];
	tr_msg *r = NULL;
	d->rv = tr_call(cx, d->server, T_DEFER, b, tr_pack_int(b, d->arg),
	    TU_RECV_MS, &r);
	if (r != NULL)
		d->got = msg_int(r);
	tr_msg_free(r);
}

static void
deferred_run(bool process)
{
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	srv_st *s;
	tr_pid srv = spawn_server(sys, process, &s);
	static defer_client d[2];
	tr_pid p[2];
	for (int i = 0; i < 2; i++) {
		d[i] = (defer_client){ srv, i + 1, 1, 0 };
		p[i] = tu_spawn_proc(sys, defer_body, &d[i], 0, NULL);
	}
	TU_WAIT_EQ(atomic_load(&s->held), 2);
	assert_int_equal(tr_system_send(sys, srv, T_FLUSH, NULL, 0), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tu_wait_info(sys, p[i]).kind,
		    TR_REASON_NORMAL);
		assert_int_equal(d[i].rv, 0);
		assert_int_equal(d[i].got, d[i].arg * 10);
	}
	stop_server(sys, srv);
	tu_stop(sys);
}

static void
test_call_deferred(void **unused)
{
	(void) unused;
	deferred_run(true);
	deferred_run(false);
}

/* ------------------------------------------------- from plain threads */

#define SC_THREADS 4
#define SC_CALLS TU_PICK(500, 200, 100)

typedef struct sc_arg {
	tr_system *sys;
	tr_pid server[2];
	int64_t *seen; /* totals seen from server 0 */
	int errors;
} sc_arg;

static void *
sc_thread(void *p)
{
	sc_arg *a = p;
	unsigned char b[TR_PACK_INT_MAX];
	size_t n = tr_pack_int(b, 1);
	for (int i = 0; i < SC_CALLS; i++) {
		int k = i & 1;
		tr_msg *r = NULL;
		int rv = tr_system_call(a->sys, a->server[k], T_ADD, b, n,
		    TU_RECV_MS, &r);
		int64_t v = -1;
		if (rv != 0 || r == NULL || tr_msg_int(r, &v) != 0 ||
		    !(tr_msg_flags(r) & TR_MSG_REPLY) ||
		    tr_msg_tag(r) != T_VALUE ||
		    !tr_pid_eq(tr_msg_from(r), a->server[k]))
			a->errors++;
		if (k == 0)
			a->seen[i / 2] = v;
		tr_msg_free(r); /* on this plain thread */
	}
	return NULL;
}

static int
cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *) x, b = *(const int64_t *) y;
	return a < b ? -1 : a > b;
}

/* An actor may not block its worker in tr_system_call. */
static int
worker_caller(tr_ctx *cx, tr_msg *m, void *state)
{
	int *rv = state;
	tr_msg *r = (tr_msg *) 1;
	*rv = tr_system_call(tr_ctx_system(cx), tr_msg_from(m), T_GET, NULL, 0,
	    10, &r);
	if (r != NULL)
		*rv = 999;
	return TR_STOP;
}

static void
test_system_call_threads(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	srv_st *s0, *s1;
	tr_pid srv[2] = { spawn_server(sys, true, &s0),
		spawn_server(sys, false, &s1) };
	int per = SC_CALLS / 2;
	int64_t *seen = calloc((size_t) SC_THREADS * per, sizeof *seen);
	assert_non_null(seen);
	sc_arg a[SC_THREADS];
	pthread_t th[SC_THREADS];
	uint64_t t0 = tu_now_ns();
	for (int i = 0; i < SC_THREADS; i++) {
		a[i] = (sc_arg){ sys, { srv[0], srv[1] }, seen + i * per, 0 };
		tu_thread_start(&th[i], sc_thread, &a[i]);
	}
	for (int i = 0; i < SC_THREADS; i++)
		tu_thread_join(th[i]);
	printf("# %d plain-thread calls: %.1f us per call\n",
	    SC_THREADS * SC_CALLS,
	    tu_ms_since(t0) * 1000 / (SC_THREADS * SC_CALLS));
	for (int i = 0; i < SC_THREADS; i++)
		assert_int_equal(a[i].errors, 0);
	/* Server 0's totals are each seen once: 1 .. threads * per. */
	qsort(seen, (size_t) SC_THREADS * per, sizeof *seen, cmp_i64);
	for (int i = 0; i < SC_THREADS * per; i++)
		assert_int_equal(seen[i], i + 1);
	free(seen);

	/* Errors. */
	tr_msg *r = (tr_msg *) 1;
	assert_int_equal(tr_system_call(sys, srv[0], T_GET, NULL, 0, 1000,
	                     NULL),
	    TR_EINVAL);
	assert_int_equal(tr_system_call(NULL, srv[0], T_GET, NULL, 0, 1000, &r),
	    TR_EINVAL);
	assert_int_equal(tr_system_call(sys, srv[0], T_GET, NULL, 4, 1000, &r),
	    TR_EINVAL);
	static int wrv;
	wrv = 1;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	tr_pid w;
	assert_int_equal(tr_spawn(sys, &w, worker_caller, &wrv, &o), 0);
	assert_int_equal(tr_system_send(sys, w, T_GET, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, w).kind, TR_REASON_NORMAL);
	assert_int_equal(wrv, TR_ECONTEXT);

	stop_server(sys, srv[0]);
	stop_server(sys, srv[1]);
	tu_stop(sys);
}

/* --------------------------------------- tr_call_async, exactly once */

#define RACE_CALLS TU_PICK(400, 150, 100)

enum { OUT_REPLY, OUT_DOWN, OUT_TIMEOUT, OUT_COUNT };

typedef struct acall {
	uint64_t ref;
	int want; /* OUT_*, or -1: any one */
	int count;
	int out;
	tr_exit_info why;
	int64_t value;
} acall;

/* A server that answers each request after a random 0..10 ms. */
typedef struct jitter_st {
	uint64_t seed;
	atomic_int answered;
} jitter_st;

typedef struct pending {
	tr_pid from;
	uint64_t ref;
} pending;

static int
jitter_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	jitter_st *j = state;
	if (tr_msg_tag(m) == T_DELAYED) {
		pending p;
		memcpy(&p, tr_msg_data(m), sizeof p);
		reply_to_int(cx, p.from, p.ref, 7);
		atomic_fetch_add(&j->answered, 1);
		return TR_CONTINUE;
	}
	if (tr_msg_tag(m) == T_STOP)
		return TR_STOP;
	pending p = { tr_msg_from(m), tr_msg_ref(m) };
	TU_CHECK(
	    tr_send_after(cx, tr_self(cx), (int64_t) (tu_rand(&j->seed) % 11),
	        T_DELAYED, &p, sizeof p, NULL) == 0);
	return TR_CONTINUE;
}

/* Answers, then ends: the caller must see the reply, not the DOWN. */
static void
reply_die_body(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	CHECK_MSG(m);
	reply_int(cx, m, 5);
	tr_msg_free(m);
	tr_exit(cx, tr_reason("answered and died"));
}

/* Ends without answering, at once or after a random spin. */
static void
die_body(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	tr_msg_free(m);
	tr_exit(cx, tr_reason("died unanswered"));
}

typedef struct asker_st {
	tr_pid srv_ev;   /* event server: answers */
	tr_pid srv_hold; /* process server: holds, answers on release */
	tr_pid srv_crash;
	tr_pid jitter;
	tr_pid dead;
	int ncalls;
	acall calls[8 + 3 * RACE_CALLS];
	int outcomes; /* first outcomes seen */
	int unknown;  /* messages with a reference no call had */
	int dupes;
	int replied_seen;
	atomic_int all_in;  /* every call has its outcome */
	atomic_int checked; /* T_CHECK handled */
	int errs[4];
} asker_st;

static void
ask(tr_ctx *cx, asker_st *a, tr_pid to, uint32_t tag, int64_t timeout, int want)
{
	acall *c = &a->calls[a->ncalls];
	c->want = want;
	c->out = -1;
	unsigned char b[TR_PACK_INT_MAX];
	size_t n = tr_pack_int(b, 1);
	int rv = tr_call_async(cx, to, tag, b, n, timeout, &c->ref);
	TU_CHECK_EQ(rv, 0);
	if (rv == 0)
		a->ncalls++;
}

static int
asker_init(tr_ctx *cx, void *state)
{
	asker_st *a = state;
	tr_system *sys = tr_ctx_system(cx);
	/* Errors first. */
	uint64_t ref;
	tr_msg *r = (tr_msg *) 1;
	a->errs[0] = tr_call(cx, a->srv_ev, T_GET, NULL, 0, 100, &r);
	a->errs[1] = r == NULL ? 0 : 1;
	a->errs[2] = tr_call_async(cx, a->srv_ev, TR_TAG_SYSTEM, NULL, 0, 100,
	    &ref);
	a->errs[3] = tr_call_async(cx, TR_PID_NIL, T_GET, NULL, 0, 100, &ref);
	TU_CHECK_EQ(tr_call_async(cx, a->srv_ev, T_GET, NULL, 0, 100, NULL),
	    TR_EINVAL);

	ask(cx, a, a->srv_ev, T_GET, TR_INFINITY, OUT_REPLY);
	ask(cx, a, a->srv_ev, T_ADD, 60000, OUT_REPLY);
	ask(cx, a, a->srv_crash, T_CRASH, TR_INFINITY, OUT_DOWN);
	ask(cx, a, a->dead, T_GET, TR_INFINITY, OUT_DOWN);
	ask(cx, a, a->srv_hold, T_HOLD, 30, OUT_TIMEOUT);
	/* Races: the reply against the timeout; the reply against the
	 * callee's exit; the exit against the timeout. */
	for (int i = 0; i < RACE_CALLS; i++) {
		ask(cx, a, a->jitter, T_GET, 5, -1);
		tr_pid p;
		tr_spawn_opts o = { 0 };
		TU_CHECK(
		    tr_spawn_process(sys, &p, reply_die_body, NULL, &o) == 0);
		ask(cx, a, p, T_GET, TR_INFINITY, OUT_REPLY);
		TU_CHECK(tr_spawn_process(sys, &p, die_body, NULL, &o) == 0);
		ask(cx, a, p, T_GET, (int64_t) (i % 3), -1);
	}
	return TR_CONTINUE;
}

static int
asker_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	asker_st *a = state;
	uint32_t tag = tr_msg_tag(m);
	if (tag == T_CHECK) {
		atomic_store(&a->checked, 1);
		return TR_STOP;
	}
	if (tag == T_REPLIED) {
		/* The hold server answered our timed-out call; that reply
		 * came before this and must have been dropped. */
		a->replied_seen++;
		return TR_CONTINUE;
	}
	uint64_t ref = tr_msg_ref(m);
	acall *c = NULL;
	for (int i = 0; i < a->ncalls; i++)
		if (a->calls[i].ref == ref)
			c = &a->calls[i];
	if (c == NULL) {
		a->unknown++;
		return TR_CONTINUE;
	}
	if (c->count++ > 0) {
		a->dupes++;
		return TR_CONTINUE;
	}
	if (tr_msg_flags(m) & TR_MSG_REPLY) {
		c->out = OUT_REPLY;
		c->value = msg_int(m);
	} else if (tag == TR_TAG_DOWN) {
		c->out = OUT_DOWN;
		c->why = reason_info(m);
	} else if (tag == TR_TAG_CALL_TIMEOUT) {
		c->out = OUT_TIMEOUT;
		if (c->want == OUT_TIMEOUT)
			/* Now let the hold server answer, too late. */
			TU_CHECK(
			    tr_send(cx, a->srv_hold, T_RELEASE, NULL, 0) == 0);
	} else {
		a->unknown++;
	}
	if (++a->outcomes == a->ncalls)
		atomic_store(&a->all_in, 1);
	return TR_CONTINUE;
}

static void
test_call_async(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tr_system *sys = start_quiet(&log, 2);
	srv_st *s_ev, *s_hold, *s_crash;
	asker_st *a = calloc(1, sizeof *a);
	assert_non_null(a);
	a->srv_ev = spawn_server(sys, false, &s_ev);
	a->srv_hold = spawn_server(sys, true, &s_hold);
	a->srv_crash = spawn_server(sys, true, &s_crash);
	static jitter_st j;
	j.seed = 0x1234567;
	atomic_store(&j.answered, 0);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &a->jitter, jitter_fn, &j, &wo), 0);
	srv_st *s_dead;
	a->dead = spawn_server(sys, false, &s_dead);
	stop_server(sys, a->dead);

	tr_spawn_opts o = { .init = asker_init, .flags = TR_SPAWN_WAIT };
	tr_pid asker;
	assert_int_equal(tr_spawn(sys, &asker, asker_fn, a, &o), 0);
	TU_WAIT_EQ(atomic_load(&a->all_in), 1);
	/* Everything late is sent before these end: the jitter server's
	 * delayed answers, the hold server's late reply and its T_REPLIED,
	 * the DOWNs of the callees that answered first. */
	TU_WAIT_EQ(atomic_load(&j.answered), RACE_CALLS);
	assert_int_equal(tu_wait_info(sys, a->srv_crash).kind, TR_REASON_ERROR);
	assert_int_equal(tr_system_idle(sys, 30000 * TU_SLOW), 0);
	assert_int_equal(tr_system_send(sys, asker, T_CHECK, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, asker).kind, TR_REASON_NORMAL);

	assert_int_equal(a->errs[0], TR_ECONTEXT);
	assert_int_equal(a->errs[1], 0);
	assert_int_equal(a->errs[2], TR_EINVAL);
	assert_int_equal(a->errs[3], TR_EINVAL);
	assert_int_equal(a->ncalls, 5 + 3 * RACE_CALLS);
	assert_int_equal(a->outcomes, a->ncalls);
	assert_int_equal(a->dupes, 0);
	assert_int_equal(a->unknown, 0);
	assert_int_equal(a->replied_seen, 1);
	int per[OUT_COUNT] = { 0, 0, 0 };
	for (int i = 0; i < a->ncalls; i++) {
		acall *c = &a->calls[i];
		assert_int_equal(c->count, 1);
		assert_true(c->out >= 0 && c->out < OUT_COUNT);
		if (c->want >= 0 && c->out != c->want)
			fprintf(stderr, "call %d: outcome %d, want %d\n", i,
			    c->out, c->want);
		if (c->want >= 0)
			assert_int_equal(c->out, c->want);
		per[c->out]++;
	}
	/* The fixed ones. */
	assert_int_equal(a->calls[0].value, 0);
	assert_int_equal(a->calls[1].value, 1);
	assert_int_equal(a->calls[2].why.kind, TR_REASON_ERROR);
	assert_non_null(strstr(a->calls[2].why.text, "server crash"));
	assert_int_equal(a->calls[3].why.kind, TR_REASON_NOPROC);
	for (int i = 5; i < a->ncalls; i++) {
		acall *c = &a->calls[i];
		if (c->out == OUT_DOWN)
			assert_int_equal(c->why.kind, TR_REASON_ERROR);
		if (c->out == OUT_REPLY && (i - 5) % 3 == 1)
			assert_int_equal(c->value, 5);
	}
	printf("# %d async calls: %d replies, %d DOWNs, %d timeouts\n",
	    a->ncalls, per[OUT_REPLY], per[OUT_DOWN], per[OUT_TIMEOUT]);
	stop_server(sys, a->srv_ev);
	stop_server(sys, a->srv_hold);
	stop_server(sys, a->jitter);
	free(a);
	tu_stop(sys);
	tu_log_fini(&log);
}

/* ------------------------------------------------------- timeouts */

typedef struct tmo_st {
	tr_pid server;
	int rv;
	bool reply_null;
	double ms;
	int replied;
	int leftovers;
} tmo_st;

static void
timeout_body(tr_ctx *cx, void *arg)
{
	tmo_st *t = arg;
	tr_msg *r = (tr_msg *) 1;
	uint64_t t0 = tu_now_ns();
	t->rv = tr_call(cx, t->server, T_HOLD, NULL, 0, 50, &r);
	t->ms = tu_ms_since(t0);
	t->reply_null = r == NULL;
	if (r != NULL && r != (tr_msg *) 1)
		tr_msg_free(r);
	/* Now the server answers, too late, then says so. */
	TU_CHECK(tr_send(cx, t->server, T_RELEASE, NULL, 0) == 0);
	tr_msg *m = tr_receive_tag(cx, T_REPLIED, TU_RECV_MS);
	CHECK_MSG(m);
	t->replied = 1;
	tr_msg_free(m);
	/* The reply came before T_REPLIED: it was dropped, not queued. */
	while ((m = tr_receive(cx, 0)) != NULL) {
		t->leftovers++;
		tr_msg_free(m);
	}
	/* And the call is over: its DOWN will not come either. */
}

static void
test_call_timeout(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	for (int kind = 0; kind < 2; kind++) {
		srv_st *s;
		static tmo_st t;
		memset(&t, 0, sizeof t);
		t.server = spawn_server(sys, kind == 0, &s);
		tu_run_proc(sys, timeout_body, &t);
		printf("# tr_call(timeout 50) returned after %.3f ms\n", t.ms);
		assert_int_equal(t.rv, TR_ETIMEDOUT);
		assert_true(t.reply_null);
		assert_true(t.ms >= 50.0);
		assert_true(t.ms < 50.0 + 2000.0 * TU_SLOW);
		assert_int_equal(t.replied, 1);
		assert_int_equal(t.leftovers, 0);
		/* The server then dies: no DOWN reaches anyone, nothing
		 * leaks. */
		assert_int_equal(tr_system_send(sys, t.server, T_CRASH, NULL,
		                     0),
		    0);
		assert_int_equal(tu_wait_info(sys, t.server).kind,
		    TR_REASON_ERROR);
	}

	/* From a plain thread. */
	srv_st *s;
	tr_pid srv = spawn_server(sys, true, &s);
	tr_msg *r = (tr_msg *) 1;
	uint64_t t0 = tu_now_ns();
	assert_int_equal(tr_system_call(sys, srv, T_HOLD, NULL, 0, 50, &r),
	    TR_ETIMEDOUT);
	double ms = tu_ms_since(t0);
	assert_null(r);
	assert_true(ms >= 50.0);
	/* The late reply goes to the helper that made the call: dropped. */
	assert_int_equal(tr_system_send(sys, srv, T_RELEASE, NULL, 0), 0);
	stop_server(sys, srv);
	tu_stop(sys);
}

/* ------------------------------------------------- the callee ends */

typedef struct down_st {
	tr_pid server;
	uint32_t tag;
	int64_t timeout;
	int rv;
	tr_exit_info why;
	bool from_ok;
	bool ref_ok;
} down_st;

static void
down_body(tr_ctx *cx, void *arg)
{
	down_st *d = arg;
	tr_msg *r = NULL;
	d->rv = tr_call(cx, d->server, d->tag, NULL, 0, d->timeout, &r);
	if (r != NULL) {
		if (tr_msg_tag(r) == TR_TAG_DOWN)
			d->why = reason_info(r);
		d->from_ok = tr_pid_eq(tr_msg_from(r), d->server);
		d->ref_ok = tr_msg_ref(r) != 0;
	}
	tr_msg_free(r);
}

static void
test_callee_dies(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tr_system *sys = start_quiet(&log, 2);
	for (int kind = 0; kind < 2; kind++) {
		/* It crashes on the request. */
		srv_st *s;
		static down_st d;
		memset(&d, 0, sizeof d);
		d.server = spawn_server(sys, kind == 0, &s);
		d.tag = T_CRASH;
		d.timeout = TR_INFINITY;
		tu_run_proc(sys, down_body, &d);
		assert_int_equal(d.rv, TR_EDOWN);
		assert_int_equal(d.why.kind, TR_REASON_ERROR);
		assert_non_null(strstr(d.why.text, "server crash"));
		assert_true(d.from_ok);
		assert_true(d.ref_ok);
		assert_int_equal(tu_wait_info(sys, d.server).kind,
		    TR_REASON_ERROR);

		/* Killed by someone else while it holds the request. */
		memset(&d, 0, sizeof d);
		d.server = spawn_server(sys, kind == 0, &s);
		d.tag = T_HOLD;
		d.timeout = TU_RECV_MS;
		tr_pid c = tu_spawn_proc(sys, down_body, &d, 0, NULL);
		TU_WAIT_EQ(atomic_load(&s->held), 1);
		assert_int_equal(tr_system_exit_pid(sys, d.server, TR_KILL), 0);
		assert_int_equal(tu_wait_info(sys, c).kind, TR_REASON_NORMAL);
		assert_int_equal(d.rv, TR_EDOWN);
		assert_int_equal(d.why.kind, TR_REASON_KILLED);
		assert_int_equal(tu_wait_info(sys, d.server).kind,
		    TR_REASON_KILLED);
	}

	/* From a plain thread: the DOWN message is handed over. */
	srv_st *s;
	tr_pid srv = spawn_server(sys, true, &s);
	tr_msg *r = NULL;
	assert_int_equal(tr_system_call(sys, srv, T_CRASH, NULL, 0, TR_INFINITY,
	                     &r),
	    TR_EDOWN);
	assert_non_null(r);
	assert_int_equal(tr_msg_tag(r), TR_TAG_DOWN);
	assert_true(tr_pid_eq(tr_msg_from(r), srv));
	tr_exit_info why;
	assert_int_equal(tr_msg_reason(r, &why), 0);
	assert_int_equal(why.kind, TR_REASON_ERROR);
	assert_non_null(strstr(why.text, "server crash"));
	tr_msg_free(r);
	assert_int_equal(tu_wait_info(sys, srv).kind, TR_REASON_ERROR);

	/* It answers and then ends: the reply, not the DOWN. */
	tr_pid rd;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn_process(sys, &rd, reply_die_body, NULL, &o),
	    0);
	r = NULL;
	assert_int_equal(tr_system_call(sys, rd, T_GET, NULL, 0, TU_RECV_MS,
	                     &r),
	    0);
	assert_non_null(r);
	assert_true(tr_msg_flags(r) & TR_MSG_REPLY);
	tr_msg_free(r);
	assert_int_equal(tu_wait_info(sys, rd).kind, TR_REASON_ERROR);
	tu_stop(sys);
	tu_log_fini(&log);
}

/* A call to a pid that is gone. */
static void
test_call_dead_pid(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	srv_st *s;
	tr_pid gone = spawn_server(sys, false, &s);
	stop_server(sys, gone);
	TU_WAIT_EQ(tr_is_alive(sys, gone), false);

	static down_st d;
	memset(&d, 0, sizeof d);
	d.server = gone;
	d.tag = T_GET;
	d.timeout = TR_INFINITY; /* never hangs on a dead server */
	tu_run_proc(sys, down_body, &d);
	assert_int_equal(d.rv, TR_EDOWN);
	assert_int_equal(d.why.kind, TR_REASON_NOPROC);
	assert_true(d.from_ok);

	tr_msg *r = NULL;
	assert_int_equal(tr_system_call(sys, gone, T_GET, NULL, 0, TR_INFINITY,
	                     &r),
	    TR_EDOWN);
	assert_non_null(r);
	tr_exit_info why;
	assert_int_equal(tr_msg_reason(r, &why), 0);
	assert_int_equal(why.kind, TR_REASON_NOPROC);
	tr_msg_free(r);
	tu_stop(sys);
}

/* -------------------------------------------------- the caller ends */

static void
caller_body(tr_ctx *cx, void *arg)
{
	down_st *d = arg;
	tr_msg *r = NULL;
	d->rv = 1;
	d->rv = tr_call(cx, d->server, T_HOLD, NULL, 0, d->timeout, &r);
	tr_msg_free(r);
}

static void
test_caller_dies(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tr_system *sys = start_quiet(&log, 2);
	/* Infinite and long timeouts, process and event servers; the server
	 * answers after the caller is gone, or dies itself. */
	for (int k = 0; k < 4; k++) {
		srv_st *s;
		static down_st d;
		memset(&d, 0, sizeof d);
		d.server = spawn_server(sys, k & 1, &s);
		d.timeout = (k & 2) ? 3600000 : TR_INFINITY;
		tr_pid c = tu_spawn_proc(sys, caller_body, &d, 0, NULL);
		TU_WAIT_EQ(atomic_load(&s->held), 1);
		assert_int_equal(tr_system_exit_pid(sys, c, TR_KILL), 0);
		assert_int_equal(tu_wait_info(sys, c).kind, TR_REASON_KILLED);
		assert_int_equal(d.rv, 1); /* tr_call never returned */
		if (k < 2) {
			assert_int_equal(tr_system_send(sys, d.server,
			                     T_RELEASE, NULL, 0),
			    0);
			stop_server(sys, d.server);
		} else {
			assert_int_equal(tr_system_send(sys, d.server, T_CRASH,
			                     NULL, 0),
			    0);
			assert_int_equal(tu_wait_info(sys, d.server).kind,
			    TR_REASON_ERROR);
		}
	}
	/* Nothing left: the call's timer, monitor and messages are gone. */
	tu_stop(sys);
	tu_log_fini(&log);
}

/* --------------------------------------------------- argument errors */

typedef struct err_st {
	tr_pid server;
	int rv[6];
	bool null_reply[3];
} err_st;

static void
err_body(tr_ctx *cx, void *arg)
{
	err_st *e = arg;
	tr_msg *r = (tr_msg *) 1;
	e->rv[0] = tr_call(cx, e->server, T_GET, NULL, 0, 100, NULL);
	e->rv[1] = tr_call(cx, TR_PID_NIL, T_GET, NULL, 0, 100, &r);
	e->null_reply[0] = r == NULL;
	r = (tr_msg *) 1;
	e->rv[2] = tr_call(cx, e->server, TR_TAG_SYSTEM + 7, NULL, 0, 100, &r);
	e->null_reply[1] = r == NULL;
	r = (tr_msg *) 1;
	e->rv[3] = tr_call(cx, e->server, T_GET, NULL, 3, 100, &r);
	e->null_reply[2] = r == NULL;
	e->rv[4] = tr_reply_to(cx, e->server, 0, T_VALUE, NULL, 0);
	e->rv[5] = tr_reply(cx, NULL, T_VALUE, NULL, 0);
	/* A plain message to the server: it cannot tr_reply to it. */
	TU_CHECK(tr_send(cx, e->server, T_PLAIN, NULL, 0) == 0);
	r = NULL;
	TU_CHECK(tr_call(cx, e->server, T_GET, NULL, 0, TU_RECV_MS, &r) == 0);
	tr_msg_free(r);
	/* No stray reply in the mailbox. */
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
test_call_errors(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	srv_st *s;
	static err_st e;
	memset(&e, 0, sizeof e);
	e.server = spawn_server(sys, true, &s);
	tu_run_proc(sys, err_body, &e);
	assert_int_equal(e.rv[0], TR_EINVAL);
	assert_int_equal(e.rv[1], TR_EINVAL);
	assert_int_equal(e.rv[2], TR_EINVAL);
	assert_int_equal(e.rv[3], TR_EINVAL);
	assert_int_equal(e.rv[4], TR_EINVAL);
	assert_int_equal(e.rv[5], TR_EINVAL);
	for (int i = 0; i < 3; i++)
		assert_true(e.null_reply[i]);
	assert_int_equal(s->bad_reply_rv[0], TR_EINVAL);
	assert_int_equal(s->bad_reply_rv[1], TR_EINVAL);
	stop_server(sys, e.server);
	tu_stop(sys);
}

/* ------------------------------------------------- a call to oneself */

typedef struct self_st {
	int rv[3];
	bool null_reply;
	int64_t elapsed_ms;
} self_st;

static void
self_body(tr_ctx *cx, void *arg)
{
	self_st *e = arg;
	tr_msg *r = (tr_msg *) 1;
	uint64_t t0 = tu_now_ns();
	/* Nobody could answer: refused at once, whatever the timeout. */
	e->rv[0] = tr_call(cx, tr_self(cx), T_GET, NULL, 0, TR_INFINITY, &r);
	e->null_reply = r == NULL;
	e->rv[1] = tr_call(cx, tr_self(cx), T_GET, "ab", 2, 5, &r);
	e->elapsed_ms = (int64_t) ((tu_now_ns() - t0) / 1000000u);
	/* No side effect: nothing is, or comes, in the mailbox (a stray
	 * request or CALL_TIMEOUT would show within the 50 ms). */
	TU_CHECK(tr_receive(cx, 0) == NULL);
	TU_CHECK(tr_receive(cx, 50) == NULL);
	/* The process can still call others and be called. */
	e->rv[2] = tr_send(cx, tr_self(cx), T_PLAIN, NULL, 0);
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	TU_CHECK(m != NULL && tr_msg_tag(m) == T_PLAIN);
	tr_msg_free(m);
}

static void
test_call_self(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static self_st e;
	memset(&e, 0, sizeof e);
	tu_run_proc(sys, self_body, &e);
	tu_assert_no_failures();
	assert_int_equal(e.rv[0], TR_EDEADLK);
	assert_int_equal(e.rv[1], TR_EDEADLK);
	assert_true(e.null_reply);
	assert_true(e.elapsed_ms < 1000 * TU_SLOW);
	assert_int_equal(e.rv[2], 0);
	assert_string_equal(tr_err_name(TR_EDEADLK), "TR_EDEADLK");
	tu_stop(sys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_process_server),
		cmocka_unit_test(test_call_event_server),
		cmocka_unit_test(test_call_deferred),
		cmocka_unit_test(test_system_call_threads),
		cmocka_unit_test(test_call_async),
		cmocka_unit_test(test_call_timeout),
		cmocka_unit_test(test_callee_dies),
		cmocka_unit_test(test_call_dead_pid),
		cmocka_unit_test(test_caller_dies),
		cmocka_unit_test(test_call_errors),
		cmocka_unit_test(test_call_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
