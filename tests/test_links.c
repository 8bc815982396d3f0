/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Links, monitors and exit signals (guide chapter 5) against Erlang's
 * documented behaviour:
 *  - the exit-signal truth table (guide 5.1): every reason (normal, kill,
 *    killed, shutdown, noproc, noconnection, error) x delivered through a
 *    link / by tr_exit_pid from an actor / from a plain thread / to itself
 *    x receiver trapping or not -> the receiver ends with which reason, or
 *    gets which EXIT message (from whom), or nothing; for processes and
 *    for event actors;
 *  - linking to a dead pid (noproc exit signal), monitoring one (DOWN
 *    noproc at once), DOWN exactly once with the reason, tr_demonitor
 *    (also with the DOWN already queued), TR_SPAWN_LINK / TR_SPAWN_MONITOR
 *    with a child that dies at once, tr_unlink;
 *  - an exit signal acts on arrival, ahead of queued messages; signals
 *    keep their order with messages between one pair of actors;
 *  - a chain of 10,000 linked processes dying from one crash.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum {
	T_GO = 1,
	T_PROBE,
	T_MSG,
	T_READY,
	T_CHECK,
	T_PING,
};

#define CHECK_MSG(m)                           \
	do {                                   \
		if ((m) == NULL) {             \
			TU_CHECK((m) != NULL); \
			return;                \
		}                              \
	} while (0)

static tr_reason
reason_of(tr_reason_kind k)
{
	if (k == TR_REASON_ERROR)
		return tr_reason("boom");
	return (tr_reason){ k, 0, NULL, NULL };
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

/* ----------------------------------------------------- the truth table */

typedef enum via {
	VIA_LINK,       /* a linked actor ends with the reason */
	VIA_EXIT_PID,   /* another actor's tr_exit_pid */
	VIA_EXIT_PLAIN, /* a plain thread's tr_system_exit_pid (sender nil) */
	VIA_EXIT_SELF,  /* the receiver's own tr_exit_pid to itself */
	VIA_COUNT
} via;

static const char *const via_name[] = { "link", "exit_pid", "exit_pid(plain)",
	"exit_pid(self)" };

typedef enum outcome {
	NOTHING, /* ignored: the receiver goes on */
	EXITMSG, /* the receiver gets an EXIT message with the reason */
	DIES,    /* the receiver ends with the reason */
} outcome;

typedef struct expect {
	outcome out;
	tr_reason_kind kind;
} expect;

#define NREASONS 7

static const tr_reason_kind reasons[NREASONS] = { TR_REASON_NORMAL,
	TR_REASON_KILL, TR_REASON_KILLED, TR_REASON_SHUTDOWN, TR_REASON_NOPROC,
	TR_REASON_NOCONNECTION, TR_REASON_ERROR };

#define N_(k)                          \
	{                              \
		NOTHING, TR_REASON_##k \
	}
#define X_(k)                          \
	{                              \
		EXITMSG, TR_REASON_##k \
	}
#define D_(k)                       \
	{                           \
		DIES, TR_REASON_##k \
	}

/*
 * Erlang's table (erlang:exit/2 and the reference manual's "Receiving
 * Exit Signals"; guide 5.1): table[via][reason][trap].  Through a link,
 * "kill" is an ordinary reason; "killed" (what a kill becomes) is
 * trappable everywhere; normal ends only an actor that sent it to
 * itself.
 */
static const expect table[VIA_COUNT][NREASONS][2] = {
	[VIA_LINK] = {
	    { N_(NORMAL), X_(NORMAL) },
	    { D_(KILL), X_(KILL) },
	    { D_(KILLED), X_(KILLED) },
	    { D_(SHUTDOWN), X_(SHUTDOWN) },
	    { D_(NOPROC), X_(NOPROC) },
	    { D_(NOCONNECTION), X_(NOCONNECTION) },
	    { D_(ERROR), X_(ERROR) },
	},
	[VIA_EXIT_PID] = {
	    { N_(NORMAL), X_(NORMAL) },
	    { D_(KILLED), D_(KILLED) },
	    { D_(KILLED), X_(KILLED) },
	    { D_(SHUTDOWN), X_(SHUTDOWN) },
	    { D_(NOPROC), X_(NOPROC) },
	    { D_(NOCONNECTION), X_(NOCONNECTION) },
	    { D_(ERROR), X_(ERROR) },
	},
	[VIA_EXIT_PLAIN] = {
	    { N_(NORMAL), X_(NORMAL) },
	    { D_(KILLED), D_(KILLED) },
	    { D_(KILLED), X_(KILLED) },
	    { D_(SHUTDOWN), X_(SHUTDOWN) },
	    { D_(NOPROC), X_(NOPROC) },
	    { D_(NOCONNECTION), X_(NOCONNECTION) },
	    { D_(ERROR), X_(ERROR) },
	},
	[VIA_EXIT_SELF] = {
	    { D_(NORMAL), X_(NORMAL) },
	    { D_(KILLED), D_(KILLED) },
	    { D_(KILLED), X_(KILLED) },
	    { D_(SHUTDOWN), X_(SHUTDOWN) },
	    { D_(NOPROC), X_(NOPROC) },
	    { D_(NOCONNECTION), X_(NOCONNECTION) },
	    { D_(ERROR), X_(ERROR) },
	},
};

/* One case: what the receiver saw. */
typedef struct rcase {
	via how;
	tr_reason_kind reason;
	bool trap;
	expect want;
	tr_pid self;
	tr_pid sender; /* the actor the EXIT must come from */
	uint64_t mref; /* VIA_LINK: monitor of the linked peer */
	int n;         /* messages seen, marker included */
	uint32_t tag[8];
	tr_pid from[8];
	tr_exit_info info[8];
	int marker_at;     /* index of the marker (PROBE, or the peer's DOWN) */
	tr_exit_info down; /* VIA_LINK: the peer's DOWN reason */
	bool waiting;      /* event actor: past the trigger */
	atomic_int done;   /* the receiver ended its code normally */
} rcase;

/* The linked peer: ends with the reason it is sent (KILLED: waits to be
 * killed). */
static void
peer_body(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive_tag(cx, T_GO, TU_RECV_MS);
	CHECK_MSG(m);
	int64_t k = -1;
	TU_CHECK(tr_msg_int(m, &k) == 0);
	tr_msg_free(m);
	if (k == TR_REASON_NORMAL)
		return;
	if (k == TR_REASON_KILLED) {
		m = tr_receive_tag(cx, T_GO, TU_RECV_MS);
		TU_CHECK(m == NULL); /* killed before */
		tr_msg_free(m);
		return;
	}
	tr_exit(cx, reason_of((tr_reason_kind) k));
}

typedef struct helper_arg {
	tr_pid to;
	tr_reason_kind reason;
} helper_arg;

static void
helper_free(void *p)
{
	free(p);
}

/* The other actor of VIA_EXIT_PID: the exit signal, then a probe. */
static void
helper_body(tr_ctx *cx, void *arg)
{
	helper_arg *h = arg;
	TU_CHECK(tr_exit_pid(cx, h->to, reason_of(h->reason)) == 0);
	TU_CHECK(tr_send(cx, h->to, T_PROBE, NULL, 0) == 0);
}

/* trigger starts the case from inside the receiver. */
static void
trigger(tr_ctx *cx, rcase *c)
{
	tr_system *sys = tr_ctx_system(cx);
	c->self = tr_self(cx);
	switch (c->how) {
	case VIA_LINK: {
		tr_spawn_opts o = { .flags = TR_SPAWN_LINK | TR_SPAWN_MONITOR,
			.monitor_ref = &c->mref };
		TU_CHECK(tr_spawn_process(sys, &c->sender, peer_body, NULL,
		             &o) == 0);
		if (c->reason == TR_REASON_KILLED)
			TU_CHECK(tr_exit_pid(cx, c->sender, TR_KILL) == 0);
		else
			TU_CHECK(
			    tr_send_int(cx, c->sender, T_GO, c->reason) == 0);
		break;
	}
	case VIA_EXIT_PID: {
		helper_arg *h = malloc(sizeof *h);
		TU_CHECK(h != NULL);
		if (h == NULL)
			break;
		h->to = c->self;
		h->reason = c->reason;
		tr_spawn_opts o = { .state_free = helper_free };
		TU_CHECK(
		    tr_spawn_process(sys, &c->sender, helper_body, h, &o) == 0);
		break;
	}
	case VIA_EXIT_PLAIN:
		c->sender = TR_PID_NIL; /* the test thread sends */
		break;
	case VIA_EXIT_SELF:
		c->sender = c->self;
		TU_CHECK(tr_exit_pid(cx, c->self, reason_of(c->reason)) == 0);
		TU_CHECK(tr_send(cx, c->self, T_PROBE, NULL, 0) == 0);
		break;
	default:
		break;
	}
}

/* record notes m; returns true when the receiver has seen all it waits
 * for. */
static bool
record(rcase *c, const tr_msg *m)
{
	uint32_t tag = tr_msg_tag(m);
	if (c->n < 8) {
		c->tag[c->n] = tag;
		c->from[c->n] = tr_msg_from(m);
		if (tag == TR_TAG_EXIT || tag == TR_TAG_DOWN)
			c->info[c->n] = reason_info(m);
	}
	bool marker = c->how == VIA_LINK
	    ? (tag == TR_TAG_DOWN && tr_msg_ref(m) == c->mref)
	    : tag == T_PROBE;
	if (marker) {
		c->marker_at = c->n;
		if (c->how == VIA_LINK)
			c->down = reason_info(m);
	}
	c->n++;
	if (c->marker_at < 0)
		return false;
	/* Past the marker.  Through a link the EXIT and the DOWN come from
	 * the same exit; wait for the EXIT if one is due, and for the end
	 * if one is due. */
	if (c->want.out == DIES)
		return false;
	if (c->want.out == EXITMSG) {
		for (int i = 0; i < c->n && i < 8; i++)
			if (c->tag[i] == TR_TAG_EXIT)
				return true;
		return false;
	}
	return true;
}

static void
proc_receiver(tr_ctx *cx, void *arg)
{
	rcase *c = arg;
	if (c->how != VIA_EXIT_PLAIN)
		TU_CHECK(tr_trap_exit(cx, c->trap) == false);
	trigger(cx, c);
	tu_deadline d = tu_deadline_ms(TU_RECV_MS);
	while (!tu_expired(&d)) {
		tr_msg *m = tr_receive(cx, TU_RECV_MS);
		if (m == NULL)
			break;
		bool end = record(c, m);
		tr_msg_free(m);
		if (end)
			break;
	}
	/* Anything else already queued is recorded too. */
	tr_msg *m;
	while ((m = tr_receive(cx, 0)) != NULL) {
		(void) record(c, m);
		tr_msg_free(m);
	}
	atomic_store(&c->done, 1);
}

static int
ev_receiver_init(tr_ctx *cx, void *state)
{
	rcase *c = state;
	if (c->how != VIA_EXIT_PLAIN)
		TU_CHECK(tr_trap_exit(cx, c->trap) == false);
	trigger(cx, c);
	return TR_CONTINUE;
}

static int
ev_receiver(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	rcase *c = state;
	if (!record(c, m))
		return TR_CONTINUE;
	/* Anything else already queued is recorded too. */
	tr_msg *x;
	while ((x = tr_receive(cx, 0)) != NULL) {
		(void) record(c, x);
		tr_msg_free(x);
	}
	atomic_store(&c->done, 1);
	return TR_STOP;
}

static int
find_tag(const rcase *c, uint32_t tag)
{
	for (int i = 0; i < c->n && i < 8; i++)
		if (c->tag[i] == tag)
			return i;
	return -1;
}

/* run_case runs one row and returns the number of mismatches (printed). */
static int
run_case(tr_system *sys, bool event, via how, int r, bool trap)
{
	rcase *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->how = how;
	c->reason = reasons[r];
	c->trap = trap;
	c->want = table[how][r][trap];
	c->marker_at = -1;
	unsigned flags = TR_SPAWN_WAIT;
	if (how == VIA_EXIT_PLAIN && trap)
		flags |= TR_SPAWN_TRAP_EXIT;
	tr_pid pid;
	if (event) {
		tr_spawn_opts o = { .init = ev_receiver_init, .flags = flags };
		assert_int_equal(tr_spawn(sys, &pid, ev_receiver, c, &o), 0);
	} else {
		tr_spawn_opts o = { .flags = flags };
		assert_int_equal(tr_spawn_process(sys, &pid, proc_receiver, c,
		                     &o),
		    0);
	}
	if (how == VIA_EXIT_PLAIN) {
		assert_int_equal(tr_system_exit_pid(sys, pid,
		                     reason_of(c->reason)),
		    0);
		assert_int_equal(tr_system_send(sys, pid, T_PROBE, NULL, 0), 0);
	}
	tr_exit_info info = tu_wait_info(sys, pid);
	int bad = 0;
	char what[160];
	snprintf(what, sizeof what, "%s receiver, %s, reason %s, %s",
	    event ? "event" : "process", via_name[how],
	    tr_reason_kind_name(c->reason), trap ? "trapping" : "not trapping");
#define BAD(...)                               \
	do {                                   \
		bad++;                         \
		fprintf(stderr, "%s: ", what); \
		fprintf(stderr, __VA_ARGS__);  \
		fprintf(stderr, "\n");         \
	} while (0)
	int exit_at = find_tag(c, TR_TAG_EXIT);
	int nexit = 0;
	for (int i = 0; i < c->n && i < 8; i++)
		nexit += c->tag[i] == TR_TAG_EXIT;
	switch (c->want.out) {
	case DIES:
		if (info.kind != c->want.kind)
			BAD("ended '%s', want it to end with %s", info.text,
			    tr_reason_kind_name(c->want.kind));
		if (atomic_load(&c->done))
			BAD("its code went on to the end");
		if (nexit > 0)
			BAD("got an EXIT message");
		/* The exit acts before the probe sent after it. */
		if (how != VIA_LINK && c->marker_at >= 0)
			BAD("handled the message sent after the exit signal");
		if (c->reason == TR_REASON_ERROR &&
		    info.kind == TR_REASON_ERROR &&
		    strstr(info.text, "boom") == NULL)
			BAD("reason text '%s' lost 'boom'", info.text);
		break;
	case EXITMSG:
		if (info.kind != TR_REASON_NORMAL || !atomic_load(&c->done))
			BAD("ended '%s', want an EXIT message", info.text);
		if (nexit != 1) {
			BAD("%d EXIT messages, want 1", nexit);
			break;
		}
		if (c->info[exit_at].kind != c->want.kind)
			BAD("EXIT reason '%s', want %s", c->info[exit_at].text,
			    tr_reason_kind_name(c->want.kind));
		if (!tr_pid_eq(c->from[exit_at], c->sender))
			BAD("EXIT from the wrong pid");
		if (how != VIA_LINK && !(exit_at < c->marker_at))
			BAD("EXIT not before the message sent after it");
		if (c->n != 2)
			BAD("%d messages seen, want 2", c->n);
		break;
	case NOTHING:
		if (info.kind != TR_REASON_NORMAL || !atomic_load(&c->done))
			BAD("ended '%s', want it to go on", info.text);
		if (c->n != 1)
			BAD("%d messages seen, want only the marker", c->n);
		break;
	}
	if (how == VIA_LINK) {
		tr_reason_kind pk = c->reason;
		if (c->marker_at < 0 && c->want.out != DIES)
			BAD("no DOWN from the linked peer");
		else if (c->marker_at >= 0 && c->down.kind != pk)
			BAD("peer's DOWN says '%s', want %s", c->down.text,
			    tr_reason_kind_name(pk));
		/* The peer is gone either way. */
		tu_wait_exit(sys, c->sender, pk);
	}
#undef BAD
	free(c);
	return bad;
}

static void
table_run(bool event)
{
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn; /* error exits are expected: keep them quiet */
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	int bad = 0, n = 0;
	for (int how = 0; how < VIA_COUNT; how++)
		for (int r = 0; r < NREASONS; r++)
			for (int trap = 0; trap < 2; trap++) {
				bad += run_case(sys, event, (via) how, r, trap);
				n++;
			}
	printf("# %d cases, %d mismatches\n", n, bad);
	assert_int_equal(bad, 0);
	tu_stop(sys);
	tu_log_fini(&log);
}

static void
test_truth_table_process(void **unused)
{
	(void) unused;
	table_run(false);
}

static void
test_truth_table_event(void **unused)
{
	(void) unused;
	table_run(true);
}

/* ------------------------------------------------- dead pids, errors */

typedef struct dead_st {
	tr_pid dead;
	bool trap;
	int link_rv;
	int got_exit;
	tr_exit_info exit;
	tr_pid exit_from;
	int got_down;
	uint64_t ref;
	tr_exit_info down;
	double down_ms;
	int errs[8];
} dead_st;

static void
link_dead_body(tr_ctx *cx, void *arg)
{
	dead_st *s = arg;
	tr_trap_exit(cx, s->trap);
	s->errs[0] = tr_link(cx, tr_self(cx));
	s->errs[1] = tr_link(cx, TR_PID_NIL);
	s->errs[2] = tr_unlink(cx, TR_PID_NIL);
	s->errs[3] = tr_unlink(cx, s->dead); /* no link: nothing to do */
	s->link_rv = tr_link(cx, s->dead);
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	CHECK_MSG(m);
	if (tr_msg_tag(m) == TR_TAG_EXIT) {
		s->got_exit++;
		s->exit = reason_info(m);
		s->exit_from = tr_msg_from(m);
	}
	tr_msg_free(m);
}

static void
monitor_dead_body(tr_ctx *cx, void *arg)
{
	dead_st *s = arg;
	uint64_t ref = 0;
	s->errs[0] = tr_monitor(cx, tr_self(cx), &ref);
	s->errs[1] = tr_monitor(cx, TR_PID_NIL, &ref);
	s->errs[2] = tr_monitor(cx, s->dead, NULL);
	s->errs[3] = tr_demonitor(cx, 12345);
	uint64_t t0 = tu_now_ns();
	TU_CHECK(tr_monitor(cx, s->dead, &s->ref) == 0);
	tr_msg *m = tr_receive(cx, TU_RECV_MS);
	s->down_ms = tu_ms_since(t0);
	CHECK_MSG(m);
	if (tr_msg_tag(m) == TR_TAG_DOWN) {
		s->got_down++;
		s->down = reason_info(m);
		TU_CHECK_EQ(tr_msg_ref(m), s->ref);
		TU_CHECK(tr_pid_eq(tr_msg_from(m), s->dead));
	}
	tr_msg_free(m);
	/* Delivered: nothing to demonitor. */
	s->errs[4] = tr_demonitor(cx, s->ref);
	/* Exactly one. */
	TU_CHECK(tr_receive(cx, 20) == NULL);
}

static int
stop_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	(void) state;
	return TR_STOP;
}

static tr_pid
dead_pid(tr_system *sys)
{
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, stop_fn, NULL, NULL), 0);
	assert_int_equal(tr_system_send(sys, p, T_PING, NULL, 0), 0);
	tu_wait_exit(sys, p, TR_REASON_NORMAL);
	TU_WAIT_EQ(tr_is_alive(sys, p), false);
	return p;
}

static void
test_link_dead(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	for (int trap = 0; trap < 2; trap++) {
		static dead_st s;
		memset(&s, 0, sizeof s);
		s.dead = dead_pid(sys);
		s.trap = trap;
		tr_pid p = tu_spawn_proc(sys, link_dead_body, &s, 0, NULL);
		tr_exit_info info = tu_wait_info(sys, p);
		assert_int_equal(s.errs[0], TR_EINVAL);
		assert_int_equal(s.errs[1], TR_EINVAL);
		assert_int_equal(s.errs[2], TR_EINVAL);
		assert_int_equal(s.errs[3], 0);
		assert_int_equal(s.link_rv, 0);
		if (trap) {
			assert_int_equal(info.kind, TR_REASON_NORMAL);
			assert_int_equal(s.got_exit, 1);
			assert_int_equal(s.exit.kind, TR_REASON_NOPROC);
			assert_true(tr_pid_eq(s.exit_from, s.dead));
		} else {
			/* An exit signal with reason noproc ends it. */
			assert_int_equal(info.kind, TR_REASON_NOPROC);
			assert_int_equal(s.got_exit, 0);
		}
	}
	tu_stop(sys);
}

static void
test_monitor_dead(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static dead_st s;
	memset(&s, 0, sizeof s);
	s.dead = dead_pid(sys);
	tu_run_proc(sys, monitor_dead_body, &s);
	printf("# DOWN for a dead pid after %.3f ms\n", s.down_ms);
	assert_int_equal(s.errs[0], TR_EINVAL);
	assert_int_equal(s.errs[1], TR_EINVAL);
	assert_int_equal(s.errs[2], TR_EINVAL);
	assert_int_equal(s.errs[3], TR_ENOENT);
	assert_int_equal(s.errs[4], TR_ENOENT);
	assert_int_equal(s.got_down, 1);
	assert_int_equal(s.down.kind, TR_REASON_NOPROC);
	/* "At once": it does not wait for anything to happen. */
	assert_true(s.down_ms < 1000.0 * TU_SLOW);
	tu_stop(sys);
}

/* -------------------------------------------------------- monitors */

/* DOWN exactly once per monitor, with the reason, after every message
 * the monitored actor sent before it ended. */

#define DOWN_ROUNDS TU_PICK(300, 100, 50)

static void
result_then_crash(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive_tag(cx, T_GO, TU_RECV_MS);
	CHECK_MSG(m);
	tr_pid boss = tr_msg_from(m);
	tr_msg_free(m);
	for (int i = 0; i < 10; i++)
		TU_CHECK(tr_send_int(cx, boss, T_MSG, i) == 0);
	tr_exit(cx, tr_reason("done and crashed"));
}

static void
down_once_body(tr_ctx *cx, void *arg)
{
	int *rounds_ok = arg;
	tr_system *sys = tr_ctx_system(cx);
	for (int r = 0; r < DOWN_ROUNDS; r++) {
		tr_pid w;
		uint64_t r1, r2, r3;
		tr_spawn_opts o = { .flags = TR_SPAWN_MONITOR,
			.monitor_ref = &r1 };
		TU_CHECK(tr_spawn_process(sys, &w, result_then_crash, NULL,
		             &o) == 0);
		/* Two more monitors of the same actor: independent. */
		TU_CHECK(tr_monitor(cx, w, &r2) == 0);
		TU_CHECK(tr_monitor(cx, w, &r3) == 0);
		TU_CHECK(r1 != r2 && r2 != r3 && r1 != r3);
		TU_CHECK(tr_send(cx, w, T_GO, NULL, 0) == 0);
		int results = 0, downs[3] = { 0, 0, 0 }, bad = 0;
		while (downs[0] + downs[1] + downs[2] < 3) {
			tr_msg *m = tr_receive(cx, TU_RECV_MS);
			CHECK_MSG(m);
			if (tr_msg_tag(m) == T_MSG) {
				int64_t v = -1;
				TU_CHECK(tr_msg_int(m, &v) == 0);
				TU_CHECK_EQ(v, results);
				results++;
				/* No DOWN before the results. */
				TU_CHECK_EQ(downs[0] + downs[1] + downs[2], 0);
			} else if (tr_msg_tag(m) == TR_TAG_DOWN) {
				uint64_t ref = tr_msg_ref(m);
				int k = ref == r1 ? 0
				    : ref == r2   ? 1
				    : ref == r3   ? 2
				                  : -1;
				TU_CHECK(k >= 0);
				if (k >= 0)
					downs[k]++;
				TU_CHECK(tr_pid_eq(tr_msg_from(m), w));
				tr_exit_info why = reason_info(m);
				TU_CHECK_EQ(why.kind, TR_REASON_ERROR);
				TU_CHECK(strstr(why.text, "done and crashed") !=
				    NULL);
				TU_CHECK_EQ(results, 10);
			} else {
				bad++;
			}
			tr_msg_free(m);
		}
		TU_CHECK_EQ(bad, 0);
		TU_CHECK(downs[0] == 1 && downs[1] == 1 && downs[2] == 1);
		/* A sentinel sent now comes after anything the exit sent. */
		TU_CHECK(tr_send(cx, tr_self(cx), T_CHECK, NULL, 0) == 0);
		tr_msg *m = tr_receive(cx, TU_RECV_MS);
		CHECK_MSG(m);
		TU_CHECK_EQ(tr_msg_tag(m), T_CHECK);
		tr_msg_free(m);
		TU_CHECK_EQ(tr_demonitor(cx, r1), TR_ENOENT);
		(*rounds_ok)++;
	}
}

static void
test_down_once(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	static int ok;
	ok = 0;
	tu_run_proc(sys, down_once_body, &ok);
	assert_int_equal(ok, DOWN_ROUNDS);
	tu_stop(sys);
	assert_int_equal(tu_log_count(&log), DOWN_ROUNDS);
	tu_log_fini(&log);
}

/* tr_demonitor: before the exit; with the DOWN still in the mailbox (the
 * watcher does not receive while the target dies); with the DOWN already
 * moved to the inner queue by a receive for something else. */

typedef struct demon_st {
	tr_pid target[3];
	atomic_int phase; /* 1: monitors set; 2: targets dead */
	int rv[3];
	int rv_again[3];
	int leftovers;
	int down2_seen;
} demon_st;

static void
sleeper_body(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive_tag(cx, T_GO, TU_RECV_MS * 3);
	tr_msg_free(m);
}

static void
demon_body(tr_ctx *cx, void *arg)
{
	demon_st *s = arg;
	uint64_t ref[3], other;
	for (int i = 0; i < 3; i++)
		TU_CHECK(tr_monitor(cx, s->target[i], &ref[i]) == 0);
	/* Before the exit. */
	s->rv[0] = tr_demonitor(cx, ref[0]);
	/* A second monitor of target 2, received for first: its DOWN is
	 * met after or before the other's. */
	TU_CHECK(tr_monitor(cx, s->target[2], &other) == 0);
	atomic_store(&s->phase, 1);
	/* Spin without receiving while the test thread ends the targets:
	 * their DOWNs wait in our mailbox. */
	tu_deadline d = tu_deadline_ms(TU_RECV_MS);
	while (atomic_load(&s->phase) != 2 && !tu_expired(&d)) {
	}
	TU_CHECK_EQ(atomic_load(&s->phase), 2);
	/* DOWN queued in the mailbox, not yet looked at. */
	s->rv[1] = tr_demonitor(cx, ref[1]);
	/* DOWN of ref[2] queued: a receive for the other monitor's DOWN
	 * moves what comes before it to the inner queue. */
	tr_msg *m = tr_receive_ref(cx, other, TU_RECV_MS);
	if (m != NULL) {
		s->down2_seen = 1;
		tr_msg_free(m);
	}
	s->rv[2] = tr_demonitor(cx, ref[2]);
	for (int i = 0; i < 3; i++)
		s->rv_again[i] = tr_demonitor(cx, ref[i]);
	/* No DOWN of a demonitored ref reaches us, nor anything else. */
	TU_CHECK(tr_send(cx, tr_self(cx), T_CHECK, NULL, 0) == 0);
	while ((m = tr_receive(cx, TU_RECV_MS)) != NULL) {
		bool end = tr_msg_tag(m) == T_CHECK;
		if (!end)
			s->leftovers++;
		tr_msg_free(m);
		if (end)
			break;
	}
	TU_CHECK(tr_receive(cx, 0) == NULL);
}

static void
test_demonitor(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	for (int round = 0; round < 20; round++) {
		static demon_st s;
		memset(&s, 0, sizeof s);
		for (int i = 0; i < 3; i++)
			s.target[i] = tu_spawn_proc(sys, sleeper_body, NULL, 0,
			    NULL);
		tr_pid w = tu_spawn_proc(sys, demon_body, &s, 0, NULL);
		TU_WAIT_EQ(atomic_load(&s.phase), 1);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(tr_system_exit_pid(sys, s.target[i],
			                     TR_KILL),
			    0);
			/* TR_SPAWN_WAIT: the real reason, once the DOWNs are
			 * sent. */
			assert_int_equal(tu_wait_info(sys, s.target[i]).kind,
			    TR_REASON_KILLED);
		}
		atomic_store(&s.phase, 2);
		assert_int_equal(tu_wait_info(sys, w).kind, TR_REASON_NORMAL);
		assert_int_equal(s.down2_seen, 1);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(s.rv[i], 0);
			assert_int_equal(s.rv_again[i], TR_ENOENT);
		}
		assert_int_equal(s.leftovers, 0);
	}
	tu_stop(sys);
}

/* --------------------------------------------- spawn link / monitor */

#define ATOM_ROUNDS TU_PICK(300, 100, 50)

static void
crash_at_once(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_exit(cx, tr_reason("child crashed at once"));
}

static int
crash_init(tr_ctx *cx, void *state)
{
	(void) state;
	return tr_exit(cx, tr_reason("child crashed at once"));
}

typedef struct atom_st {
	int exits, downs, bad;
	bool trap;
} atom_st;

static void
atom_parent(tr_ctx *cx, void *arg)
{
	atom_st *s = arg;
	tr_system *sys = tr_ctx_system(cx);
	tr_trap_exit(cx, s->trap);
	for (int r = 0; r < ATOM_ROUNDS; r++) {
		uint64_t ref = 0;
		tr_pid child;
		tr_spawn_opts o = { .flags = TR_SPAWN_LINK | TR_SPAWN_MONITOR,
			.monitor_ref = &ref };
		if (r & 1) {
			o.init = crash_init;
			TU_CHECK(tr_spawn(sys, &child, stop_fn, NULL, &o) == 0);
		} else {
			TU_CHECK(tr_spawn_process(sys, &child, crash_at_once,
			             NULL, &o) == 0);
		}
		/* Not trapping: the link ends us here, at the receive. */
		int got = 0;
		while (got < 2) {
			tr_msg *m = tr_receive(cx, TU_RECV_MS);
			CHECK_MSG(m);
			tr_exit_info why = reason_info(m);
			if (tr_msg_tag(m) == TR_TAG_EXIT &&
			    tr_pid_eq(tr_msg_from(m), child))
				s->exits++;
			else if (tr_msg_tag(m) == TR_TAG_DOWN &&
			    tr_msg_ref(m) == ref &&
			    tr_pid_eq(tr_msg_from(m), child))
				s->downs++;
			else
				s->bad++;
			/* The real reason, not noproc. */
			if (why.kind != TR_REASON_ERROR ||
			    strstr(why.text, "child crashed at once") == NULL)
				s->bad++;
			tr_msg_free(m);
			got++;
		}
	}
}

static void
count_free(void *p)
{
	atomic_fetch_add((atomic_int *) p, 1);
}

static void
test_spawn_link_monitor(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);

	static atom_st s;
	memset(&s, 0, sizeof s);
	s.trap = true;
	tu_run_proc(sys, atom_parent, &s);
	assert_int_equal(s.exits, ATOM_ROUNDS);
	assert_int_equal(s.downs, ATOM_ROUNDS);
	assert_int_equal(s.bad, 0);

	/* Not trapping: the first child's crash ends the parent with the
	 * child's reason. */
	memset(&s, 0, sizeof s);
	tr_pid p = tu_spawn_proc(sys, atom_parent, &s, 0, NULL);
	tr_exit_info info = tu_wait_info(sys, p);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_non_null(strstr(info.text, "child crashed at once"));
	assert_int_equal(s.exits, 0);

	/* From a plain thread: TR_ECONTEXT, and the argument is freed. */
	static atomic_int freed;
	atomic_store(&freed, 0);
	uint64_t ref;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK, .state_free = count_free };
	assert_int_equal(tr_spawn_process(sys, NULL, crash_at_once, &freed, &o),
	    TR_ECONTEXT);
	assert_int_equal(atomic_load(&freed), 1);
	o.flags = TR_SPAWN_MONITOR;
	o.monitor_ref = &ref;
	assert_int_equal(tr_spawn(sys, NULL, stop_fn, &freed, &o), TR_ECONTEXT);
	assert_int_equal(atomic_load(&freed), 2);
	tu_stop(sys);
	tu_log_fini(&log);
}

/* TR_SPAWN_MONITOR needs a place for the reference. */
static void
monitor_ref_null_body(tr_ctx *cx, void *arg)
{
	int *rv = arg;
	tr_spawn_opts o = { .flags = TR_SPAWN_MONITOR };
	*rv = tr_spawn_process(tr_ctx_system(cx), NULL, crash_at_once, NULL,
	    &o);
}

static void
test_spawn_monitor_ref_null(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static int rv;
	rv = 1;
	tu_run_proc(sys, monitor_ref_null_body, &rv);
	assert_int_equal(rv, TR_EINVAL);
	tu_stop(sys);
}

/* ------------------------------------------------------------ unlink */

typedef struct unlink_st {
	bool trap;
	tr_pid peer;
	atomic_int peer_ready; /* peer is set */
	atomic_int peer_dead;  /* set by the test thread */
	int exits;
	int down;
} unlink_st;

/* Unlink, then the peer crashes: no exit signal. */
static void
unlink_before_body(tr_ctx *cx, void *arg)
{
	unlink_st *s = arg;
	tr_trap_exit(cx, s->trap);
	tr_pid peer;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK };
	TU_CHECK(tr_spawn_process(tr_ctx_system(cx), &peer, peer_body, NULL,
	             &o) == 0);
	uint64_t ref;
	TU_CHECK(tr_monitor(cx, peer, &ref) == 0);
	TU_CHECK(tr_unlink(cx, peer) == 0);
	TU_CHECK(tr_unlink(cx, peer) == 0); /* no link: no-op */
	TU_CHECK(tr_send_int(cx, peer, T_GO, TR_REASON_ERROR) == 0);
	tr_msg *m = tr_receive_ref(cx, ref, TU_RECV_MS);
	CHECK_MSG(m);
	s->down++;
	tr_msg_free(m);
	while ((m = tr_receive(cx, 0)) != NULL) {
		if (tr_msg_tag(m) == TR_TAG_EXIT)
			s->exits++;
		tr_msg_free(m);
	}
}

/* The peer has crashed and its exit signal is queued when we unlink:
 * it is ignored. */
static void
unlink_after_body(tr_ctx *cx, void *arg)
{
	unlink_st *s = arg;
	tr_trap_exit(cx, s->trap);
	uint64_t ref;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK | TR_SPAWN_MONITOR |
		    TR_SPAWN_WAIT,
		.monitor_ref = &ref };
	TU_CHECK(tr_spawn_process(tr_ctx_system(cx), &s->peer, peer_body, NULL,
	             &o) == 0);
	/* The test thread tells it to crash (a send from here could leave
	 * it in this worker's "next" slot, behind our spinning) and waits
	 * for its end, while we wait, without receiving. */
	atomic_store(&s->peer_ready, 1);
	tu_deadline d = tu_deadline_ms(TU_RECV_MS);
	while (!atomic_load(&s->peer_dead) && !tu_expired(&d)) {
	}
	TU_CHECK(atomic_load(&s->peer_dead));
	TU_CHECK(tr_unlink(cx, s->peer) == 0);
	tr_msg *m = tr_receive_ref(cx, ref, TU_RECV_MS);
	CHECK_MSG(m);
	s->down++;
	tr_msg_free(m);
	while ((m = tr_receive(cx, 0)) != NULL) {
		if (tr_msg_tag(m) == TR_TAG_EXIT)
			s->exits++;
		tr_msg_free(m);
	}
}

/* The other side: we unlink, then end with an error; the peer, which
 * does not trap, lives on. */
static void
unlink_then_die_body(tr_ctx *cx, void *arg)
{
	unlink_st *s = arg;
	TU_CHECK(tr_link(cx, s->peer) == 0);
	TU_CHECK(tr_link(cx, s->peer) == 0); /* idempotent */
	TU_CHECK(tr_unlink(cx, s->peer) == 0);
	TU_CHECK(tr_send(cx, s->peer, T_PING, NULL, 0) == 0);
	tr_exit(cx, tr_reason("unlinked crash"));
}

static void
survivor_body(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg *m = tr_receive_tag(cx, T_PING, TU_RECV_MS);
	CHECK_MSG(m);
	tr_msg_free(m);
	/* CHECK comes from the test thread after the other one ended: the
	 * exit signal, if any was sent, is ahead of it. */
	m = tr_receive_tag(cx, T_CHECK, TU_RECV_MS);
	CHECK_MSG(m);
	tr_msg_free(m);
}

static void
test_unlink(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	for (int trap = 0; trap < 2; trap++) {
		static unlink_st s;
		memset(&s, 0, sizeof s);
		s.trap = trap;
		tr_pid p = tu_spawn_proc(sys, unlink_before_body, &s, 0, NULL);
		assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
		assert_int_equal(s.down, 1);
		assert_int_equal(s.exits, 0);

		memset(&s, 0, sizeof s);
		s.trap = trap;
		p = tu_spawn_proc(sys, unlink_after_body, &s, 0, NULL);
		TU_WAIT_EQ(atomic_load(&s.peer_ready), 1);
		assert_int_equal(tr_system_send_int(sys, s.peer, T_GO,
		                     TR_REASON_ERROR),
		    0);
		/* The peer's exit signal and DOWN are sent when tr_wait
		 * learns of its end. */
		assert_int_equal(tu_wait_info(sys, s.peer).kind,
		    TR_REASON_ERROR);
		atomic_store(&s.peer_dead, 1);
		assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_NORMAL);
		assert_int_equal(s.down, 1);
		assert_int_equal(s.exits, 0);
	}
	static unlink_st s;
	memset(&s, 0, sizeof s);
	s.peer = tu_spawn_proc(sys, survivor_body, NULL, 0, NULL);
	tr_pid p = tu_spawn_proc(sys, unlink_then_die_body, &s, 0, NULL);
	assert_int_equal(tu_wait_info(sys, p).kind, TR_REASON_ERROR);
	assert_int_equal(tr_system_send(sys, s.peer, T_CHECK, NULL, 0), 0);
	assert_int_equal(tu_wait_info(sys, s.peer).kind, TR_REASON_NORMAL);
	tu_stop(sys);
	tu_log_fini(&log);
}

/* ---------------------------------------------------------- ordering */

#define ORDER_ROUNDS TU_PICK(200, 60, 30)
#define ORDER_K 20

typedef struct order_st {
	tr_pid b;
	bool via_link; /* else tr_exit_pid from a */
} order_st;

/* a: messages, then (in the middle) an exit signal, then more. */
static void
order_a(tr_ctx *cx, void *arg)
{
	tr_pid *b = arg;
	for (int k = 0; k < ORDER_K; k++) {
		TU_CHECK(tr_send_int(cx, *b, T_MSG, k) == 0);
		if (k == ORDER_K / 2 - 1)
			TU_CHECK(tr_exit_pid(cx, *b, tr_reason("mid")) == 0);
	}
}

/* a linked to b: messages, then its crash. */
static void
order_a_link(tr_ctx *cx, void *arg)
{
	tr_pid *b = arg;
	for (int k = 0; k < ORDER_K; k++)
		TU_CHECK(tr_send_int(cx, *b, T_MSG, k) == 0);
	tr_exit(cx, tr_reason("end"));
}

static void
pid_free(void *p)
{
	free(p);
}

static void
order_b(tr_ctx *cx, void *arg)
{
	int *ok = arg;
	tr_trap_exit(cx, true);
	tr_system *sys = tr_ctx_system(cx);
	for (int r = 0; r < ORDER_ROUNDS; r++) {
		bool link = r & 1;
		tr_pid *self = malloc(sizeof *self);
		TU_CHECK(self != NULL);
		if (self == NULL)
			return;
		*self = tr_self(cx);
		tr_pid a;
		tr_spawn_opts o = { .state_free = pid_free,
			.flags = link ? TR_SPAWN_LINK : 0 };
		TU_CHECK(tr_spawn_process(sys, &a,
		             link ? order_a_link : order_a, self, &o) == 0);
		int exit_at = link ? ORDER_K : ORDER_K / 2;
		int k = 0;
		bool good = true;
		for (int i = 0; i <= ORDER_K; i++) {
			tr_msg *m = tr_receive(cx, TU_RECV_MS);
			CHECK_MSG(m);
			if (i == exit_at) {
				good &= tr_msg_tag(m) == TR_TAG_EXIT &&
				    tr_pid_eq(tr_msg_from(m), a);
			} else {
				int64_t v = -1;
				good &= tr_msg_tag(m) == T_MSG &&
				    tr_msg_int(m, &v) == 0 && v == k;
				k++;
			}
			tr_msg_free(m);
		}
		TU_CHECK(good);
		if (good)
			(*ok)++;
	}
}

static void
test_order(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	static int ok;
	ok = 0;
	tu_run_proc(sys, order_b, &ok);
	assert_int_equal(ok, ORDER_ROUNDS);
	tu_stop(sys);
	tu_log_fini(&log);
}

/* An exit signal acts on arrival: queued messages ahead of it are never
 * handled (guide 5.6).  One worker, held while it all is queued. */

typedef struct hold_st {
	atomic_int inside;
	atomic_int release;
} hold_st;

static int
holder(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	hold_st *h = state;
	atomic_store(&h->inside, 1);
	tu_deadline d = tu_deadline_ms(30000 * TU_SLOW);
	while (!atomic_load(&h->release) && !tu_expired(&d)) {
	}
	return TR_STOP;
}

static int
count_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	atomic_fetch_add((atomic_int *) state, 1);
	return TR_CONTINUE;
}

#define BACKLOG TU_PICK(10000, 5000, 2000)

static void
test_exit_ahead_of_backlog(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 1;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	static hold_st h;
	memset(&h, 0, sizeof h);
	tr_pid hp;
	assert_int_equal(tr_spawn(sys, &hp, holder, &h, NULL), 0);
	assert_int_equal(tr_system_send(sys, hp, T_PING, NULL, 0), 0);
	TU_WAIT_EQ(atomic_load(&h.inside), 1);
	static atomic_int handled;
	atomic_store(&handled, 0);
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	tr_pid e;
	assert_int_equal(tr_spawn(sys, &e, count_fn, &handled, &o), 0);
	for (int i = 0; i < BACKLOG; i++)
		assert_int_equal(tr_system_send_int(sys, e, T_MSG, i), 0);
	assert_int_equal(tr_system_exit_pid(sys, e, tr_reason("now")), 0);
	atomic_store(&h.release, 1);
	tr_exit_info info = tu_wait_info(sys, e);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_int_equal(atomic_load(&handled), 0);
	tu_stop(sys);
	tu_log_fini(&log);
}

/* ------------------------------------------------------------ chains */

#define CHAIN_N TU_PICK(10000, 10000, 2000)

typedef struct chain_st {
	int n;
	tr_pid *pids;
	struct chain_arg *args;
	atomic_int built;
	atomic_int freed;
	atomic_int woke; /* a receive returned: must not happen */
} chain_st;

typedef struct chain_arg {
	chain_st *c;
	int i;
} chain_arg;

static void
chain_free(void *p)
{
	atomic_fetch_add(&((chain_arg *) p)->c->freed, 1);
}

static void
chain_body(tr_ctx *cx, void *arg)
{
	chain_arg *a = arg;
	chain_st *c = a->c;
	c->pids[a->i] = tr_self(cx);
	if (a->i + 1 < c->n) {
		tr_spawn_opts o = { .state_free = chain_free,
			.flags = TR_SPAWN_LINK | TR_SPAWN_WAIT };
		TU_CHECK(tr_spawn_process(tr_ctx_system(cx), NULL, chain_body,
		             &c->args[a->i + 1], &o) == 0);
	} else {
		atomic_store(&c->built, 1);
	}
	tr_msg *m = tr_receive(cx, TU_RECV_MS * 6);
	atomic_fetch_add(&c->woke, 1);
	tr_msg_free(m);
}

static void
chain_run(int n, tr_reason why, tr_reason_kind want, const char *text)
{
	tu_reset_failures();
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	chain_st *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->n = n;
	c->pids = calloc((size_t) n, sizeof *c->pids);
	c->args = calloc((size_t) n, sizeof *c->args);
	assert_non_null(c->pids);
	assert_non_null(c->args);
	for (int i = 0; i < n; i++)
		c->args[i] = (chain_arg){ c, i };
	uint64_t t0 = tu_now_ns();
	tr_spawn_opts o = { .state_free = chain_free, .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn_process(sys, NULL, chain_body, &c->args[0],
	                     &o),
	    0);
	TU_WAIT_EQ(atomic_load(&c->built), 1);
	double build_ms = tu_ms_since(t0);
	assert_int_equal(tu_stats(sys).actors_alive, (uint64_t) n);
	t0 = tu_now_ns();
	/* One crash in the middle; it spreads both ways. */
	assert_int_equal(tr_system_exit_pid(sys, c->pids[n / 2], why), 0);
	tr_exit_info first = tu_wait_info(sys, c->pids[n / 2]);
	assert_int_equal(first.kind, want);
	if (text != NULL)
		assert_non_null(strstr(first.text, text));
	int bad = 0;
	for (int i = 0; i < n; i++) {
		if (i == n / 2)
			continue; /* its exit record was taken above */
		tr_exit_info info = tu_wait_info(sys, c->pids[i]);
		if ((info.kind != want || strcmp(info.text, first.text) != 0) &&
		    bad++ < 5)
			fprintf(stderr, "chain[%d] ended '%s', want '%s'\n", i,
			    info.text, first.text);
	}
	double die_ms = tu_ms_since(t0);
	printf("# chain of %d: built in %.1f ms, died in %.1f ms (%s)\n", n,
	    build_ms, die_ms, first.text);
	assert_int_equal(bad, 0);
	assert_int_equal(atomic_load(&c->freed), n);
	assert_int_equal(atomic_load(&c->woke), 0);
	tu_stop(sys);
	free(c->pids);
	free(c->args);
	free(c);
	tu_log_fini(&log);
}

static void
test_chain_crash(void **unused)
{
	(void) unused;
	chain_run(CHAIN_N, tr_reason("chain crash"), TR_REASON_ERROR,
	    "chain crash");
}

/* A kill ends one with reason killed, an ordinary reason that the links
 * pass on. */
static void
test_chain_kill(void **unused)
{
	(void) unused;
	chain_run(TU_PICK(1000, 1000, 500), TR_KILL, TR_REASON_KILLED, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truth_table_process),
		cmocka_unit_test(test_truth_table_event),
		cmocka_unit_test(test_link_dead),
		cmocka_unit_test(test_monitor_dead),
		cmocka_unit_test(test_down_once),
		cmocka_unit_test(test_demonitor),
		cmocka_unit_test(test_spawn_link_monitor),
		cmocka_unit_test(test_spawn_monitor_ref_null),
		cmocka_unit_test(test_unlink),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_exit_ahead_of_backlog),
		cmocka_unit_test(test_chain_crash),
		cmocka_unit_test(test_chain_kill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
