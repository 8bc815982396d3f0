/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * How an event actor ends: TR_STOP, tr_exit with a reason, a negative
 * TR_E* code, from its init function; what the logging hook and tr_wait
 * see; the destructor running once; queued messages freed as dead letters.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

enum {
	T_STOP = 1,
	T_DATA,
	T_EXIT_REASON,
	T_EXIT_CODE,
	T_EXIT_NORMAL,
	T_EXIT_SHUTDOWN,
	T_EXIT_STACKTEXT,
	T_PING,
	T_PONG
};

typedef struct st {
	atomic_int handled;
	atomic_int freed;  /* destructor runs */
	atomic_int inited; /* init runs */
	atomic_int early;  /* messages handled before init ran */
	atomic_int line;   /* __LINE__ of the tr_reason made */
	atomic_int self_ok;
	int init_result;
	tr_pid reply_to;
	tr_system *sys;
} st;

static void
st_free(void *p)
{
	st *s = p;
	atomic_fetch_add(&s->freed, 1);
}

static const tr_spawn_opts free_opts = { .state_free = st_free };

static int
handler(tr_ctx *cx, tr_msg *m, void *state)
{
	st *s = state;
	atomic_fetch_add(&s->handled, 1);
	if (tr_ctx_system(cx) == s->sys)
		atomic_fetch_add(&s->self_ok, 1);
	switch (tr_msg_tag(m)) {
	case T_STOP:
		return TR_STOP;
	case T_EXIT_REASON: {
		tr_reason r = tr_reason("custom failure");
		atomic_store(&s->line, r.line);
		return tr_exit(cx, r);
	}
	case T_EXIT_CODE:
		return TR_EINVAL;
	case T_EXIT_NORMAL:
		return tr_exit(cx, TR_NORMAL);
	case T_EXIT_SHUTDOWN:
		return tr_exit(cx, TR_SHUTDOWN);
	case T_EXIT_STACKTEXT: {
		/* The text lives on this stack frame: the runtime must copy it. */
		char buf[64];
		snprintf(buf, sizeof buf, "stack text %d", 17);
		int rv = tr_exit(cx, tr_reason(buf));
		memset(buf, 'X', sizeof buf - 1);
		return rv;
	}
	case T_PING:
		TU_CHECK(tr_send(cx, tr_msg_from(m), T_PONG, NULL, 0) == 0);
		return TR_CONTINUE;
	default:
		return TR_CONTINUE;
	}
}

static tr_system *
start_logged(tu_log *log)
{
	tu_log_init(log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 2;
	cfg.log = tu_log_fn;
	cfg.log_arg = log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	return sys;
}

static void
finish(tr_system *sys, tu_log *log)
{
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	assert_int_equal(log->newlines, 0);
	tu_log_fini(log);
}

static tr_pid
spawn_st(tr_system *sys, st *s)
{
	memset(s, 0, sizeof *s);
	s->sys = sys;
	tr_pid pid;
	assert_int_equal(tr_spawn(sys, &pid, handler, s, &free_opts), 0);
	assert_true(tr_is_alive(sys, pid));
	return pid;
}

/*
 * exit_of spawns an actor on s with TR_SPAWN_WAIT (so that tr_wait learns
 * its real reason even if it ends before tr_wait looks), sends it the tags
 * in order and waits for its exit, returning how it ended.
 */
static tr_exit_info
exit_of(tr_system *sys, st *s, const uint32_t *tags, int ntags, tr_pid *pidp)
{
	memset(s, 0, sizeof *s);
	s->sys = sys;
	tr_spawn_opts opts = { .state_free = st_free, .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, pidp, handler, s, &opts), 0);
	for (int k = 0; k < ntags; k++)
		assert_int_equal(tr_system_send(sys, *pidp, tags[k], "x", 1),
		    0);
	tr_exit_info info;
	memset(&info, 0, sizeof info);
	assert_int_equal(tr_wait(sys, *pidp, 10000 * TU_SLOW, &info), 0);
	/* Waiters learn of the exit after the destructor ran. */
	assert_int_equal(atomic_load(&s->freed), 1);
	/* The kept exit is given once; then the actor is simply gone. */
	tr_exit_info again;
	assert_int_equal(tr_wait(sys, *pidp, 0, &again), 0);
	assert_int_equal(again.kind, TR_REASON_NOPROC);
	return info;
}

static void
test_stop_normal(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st s;
	static const uint32_t tags[] = { T_DATA, T_STOP, T_DATA };
	tr_pid pid;
	tr_exit_info info = exit_of(sys, &s, tags, 3, &pid);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_string_equal(info.text, "normal");
	assert_int_equal(atomic_load(&s.handled), 2);
	assert_int_equal(atomic_load(&s.self_ok), 2);
	assert_false(tr_is_alive(sys, pid));
	/* A normal exit is not an error: nothing logged. */
	assert_int_equal(tu_log_count(&log), 0);
	finish(sys, &log);
	assert_int_equal(atomic_load(&s.freed), 1);
}

/* waits (bounded) until the log has n lines. */
static void
log_wait(tu_log *log, int n)
{
	TU_WAIT_EQ(tu_log_count(log), n);
}

static void
test_exit_reason(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st s;
	static const uint32_t tags[] = { T_EXIT_REASON, T_DATA };
	tr_pid pid;
	tr_exit_info info = exit_of(sys, &s, tags, 2, &pid);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_int_equal(atomic_load(&s.handled), 1);

	char where[64], pidtext[TR_PID_FMT_MAX];
	snprintf(where, sizeof where, "test_actors_exit.c:%d",
	    atomic_load(&s.line));
	tr_pid_format(pid, pidtext, sizeof pidtext);
	printf("# exit text: %s\n", info.text);
	assert_non_null(strstr(info.text, "custom failure"));
	assert_non_null(strstr(info.text, where));

	/* The hook got one error line per crash, naming the pid, the text
	 * and where. */
	log_wait(&log, 1);
	char line[TU_LOG_LEN];
	int i = tu_log_find(&log, line, pidtext, "custom failure", where, NULL);
	if (i < 0)
		fprintf(stderr, "log has %d lines; first: '%s'\n",
		    tu_log_count(&log), log.line[0]);
	assert_true(i >= 0);
	printf("# log line: %s\n", line);
	assert_int_equal(log.level[i], TR_LOG_ERROR);
	finish(sys, &log);
}

static void
test_exit_code(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st s;
	static const uint32_t tags[] = { T_DATA, T_EXIT_CODE, T_DATA };
	tr_pid pid;
	tr_exit_info info = exit_of(sys, &s, tags, 3, &pid);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_int_equal(atomic_load(&s.handled), 2);
	printf("# exit text: %s\n", info.text);
	/* The reason names the code, by name or by text. */
	assert_true(strstr(info.text, tr_err_name(TR_EINVAL)) != NULL ||
	    strstr(info.text, tr_strerror(TR_EINVAL)) != NULL);
	char pidtext[TR_PID_FMT_MAX];
	tr_pid_format(pid, pidtext, sizeof pidtext);
	log_wait(&log, 1);
	int i = tu_log_find(&log, NULL, pidtext, NULL);
	assert_true(i >= 0);
	assert_true(strstr(log.line[i], tr_err_name(TR_EINVAL)) != NULL ||
	    strstr(log.line[i], tr_strerror(TR_EINVAL)) != NULL);
	finish(sys, &log);
}

static void
test_exit_other_kinds(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st s;
	tr_pid pid;
	uint32_t tag = T_EXIT_NORMAL;
	tr_exit_info info = exit_of(sys, &s, &tag, 1, &pid);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_string_equal(info.text, "normal");
	assert_int_equal(tu_log_count(&log), 0);

	tag = T_EXIT_SHUTDOWN;
	info = exit_of(sys, &s, &tag, 1, &pid);
	assert_int_equal(info.kind, TR_REASON_SHUTDOWN);
	assert_string_equal(info.text, "shutdown");
	int shutdown_lines = tu_log_count(&log);
	printf("# a shutdown exit logs %d lines\n", shutdown_lines);

	/* A reason whose text lived on the handler's stack: copied. */
	tag = T_EXIT_STACKTEXT;
	info = exit_of(sys, &s, &tag, 1, &pid);
	assert_int_equal(info.kind, TR_REASON_ERROR);
	assert_non_null(strstr(info.text, "stack text 17"));
	log_wait(&log, shutdown_lines + 1);
	assert_true(tu_log_find(&log, NULL, "stack text 17", NULL) >= 0);
	finish(sys, &log);
}

/* Messages queued behind the exit are freed and counted as dead letters;
 * the handler never sees them. */
static void
test_queued_freed(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st s;
	enum { BEHIND = 50 };
	for (int round = 0; round < 20; round++) {
		tr_pid pid = spawn_st(sys, &s);
		tr_system_stats before = tu_stats(sys);
		assert_int_equal(tr_system_send(sys, pid, T_STOP, NULL, 0), 0);
		for (int i = 0; i < BEHIND; i++) {
			char big[300];
			memset(big, i, sizeof big);
			/* Mixed sizes: several pool classes. */
			assert_int_equal(tr_system_send(sys, pid, T_DATA, big,
			                     (size_t) (i * 6)),
			    0);
		}
		tu_wait_exit(sys, pid, TR_REASON_NORMAL);
		TU_WAIT_EQ(atomic_load(&s.freed), 1);
		assert_int_equal(atomic_load(&s.handled), 1);
		tu_assert_left(sys, 0);
		tr_system_stats after = tu_stats(sys);
		assert_int_equal(after.dead_letters - before.dead_letters,
		    BEHIND);
		assert_int_equal(after.messages_sent - before.messages_sent,
		    BEHIND + 1);
	}
	finish(sys, &log);
}

/* ---------------------------------------------------------------- init */

static int
init_fn(tr_ctx *cx, void *state)
{
	st *s = state;
	TU_CHECK(atomic_load(&s->handled) == 0);
	TU_CHECK(tr_ctx_system(cx) == s->sys);
	atomic_fetch_add(&s->inited, 1);
	return s->init_result;
}

static int
init_handler(tr_ctx *cx, tr_msg *m, void *state)
{
	st *s = state;
	if (atomic_load(&s->inited) != 1)
		atomic_fetch_add(&s->early, 1);
	return handler(cx, m, state);
}

static void
test_init(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st s;
	tr_spawn_opts opts = { .init = init_fn, .state_free = st_free };

	/* Init runs once, before the first message, even one sent at once. */
	for (int round = 0; round < 50; round++) {
		memset(&s, 0, sizeof s);
		s.sys = sys;
		tr_pid pid;
		assert_int_equal(tr_spawn(sys, &pid, init_handler, &s, &opts),
		    0);
		for (int i = 0; i < 5; i++)
			assert_int_equal(tr_system_send(sys, pid, T_DATA, NULL,
			                     0),
			    0);
		assert_int_equal(tr_system_send(sys, pid, T_STOP, NULL, 0), 0);
		tu_wait_exit(sys, pid, TR_REASON_NORMAL);
		TU_WAIT_EQ(atomic_load(&s.freed), 1);
		assert_int_equal(atomic_load(&s.inited), 1);
		assert_int_equal(atomic_load(&s.early), 0);
		assert_int_equal(atomic_load(&s.handled), 6);
	}

	/* Init runs even if no message ever comes. */
	memset(&s, 0, sizeof s);
	s.sys = sys;
	tr_pid pid;
	assert_int_equal(tr_spawn(sys, &pid, init_handler, &s, &opts), 0);
	tu_deadline d = tu_deadline_ms(10000 * TU_SLOW);
	while (atomic_load(&s.inited) == 0 && tu_poll(&d)) {
	}
	assert_int_equal(atomic_load(&s.inited), 1);
	assert_int_equal(tr_system_send(sys, pid, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, pid, TR_REASON_NORMAL);
	TU_WAIT_EQ(atomic_load(&s.freed), 1);

	/* Init returning TR_STOP: a normal exit, no message handled. */
	memset(&s, 0, sizeof s);
	s.sys = sys;
	s.init_result = TR_STOP;
	assert_int_equal(tr_spawn(sys, &pid, init_handler, &s, &opts), 0);
	tu_wait_exit(sys, pid, TR_REASON_NORMAL);
	TU_WAIT_EQ(atomic_load(&s.freed), 1);
	assert_int_equal(atomic_load(&s.inited), 1);
	assert_int_equal(atomic_load(&s.handled), 0);
	assert_int_equal(tu_log_count(&log), 0);

	/* Init failing: an error exit, logged; later sends are dead letters. */
	memset(&s, 0, sizeof s);
	s.sys = sys;
	s.init_result = TR_ENOMEM;
	assert_int_equal(tr_spawn(sys, &pid, init_handler, &s, &opts), 0);
	/* It may well have ended before tr_wait looks: NOPROC is fine; the
	 * log line below is the evidence of the error. */
	tu_wait_exit(sys, pid, TR_REASON_ERROR);
	TU_WAIT_EQ(atomic_load(&s.freed), 1);
	tu_assert_left(sys, 0);
	tr_system_stats before = tu_stats(sys);
	assert_int_equal(tr_system_send(sys, pid, T_DATA, NULL, 0), 0);
	tu_assert_left(sys, 0);
	tr_system_stats after = tu_stats(sys);
	assert_int_equal(after.dead_letters - before.dead_letters, 1);
	assert_int_equal(atomic_load(&s.handled), 0);
	log_wait(&log, 1);
	char pidtext[TR_PID_FMT_MAX];
	tr_pid_format(pid, pidtext, sizeof pidtext);
	assert_true(tu_log_find(&log, NULL, pidtext, tr_err_name(TR_ENOMEM),
	                NULL) >= 0 ||
	    tu_log_find(&log, NULL, pidtext, tr_strerror(TR_ENOMEM), NULL) >=
	        0);
	finish(sys, &log);
}

/* --------------------------------------- a crash leaves the rest running */

static int
bystander(tr_ctx *cx, tr_msg *m, void *state)
{
	st *s = state;
	atomic_fetch_add(&s->handled, 1);
	if (tr_msg_tag(m) == T_PONG)
		return TR_STOP;
	/* On T_DATA: ping the crashed pid's neighbour given in state. */
	TU_CHECK(tr_send(cx, s->reply_to, T_PING, NULL, 0) == 0);
	return TR_CONTINUE;
}

static void
test_crash_isolated(void **unused)
{
	(void) unused;
	tu_log log;
	tr_system *sys = start_logged(&log);
	static st victims[16], echo, by;
	tr_pid vp[16];
	for (int i = 0; i < 16; i++)
		vp[i] = spawn_st(sys, &victims[i]);
	tr_pid ep = spawn_st(sys, &echo);
	memset(&by, 0, sizeof by);
	by.reply_to = ep;
	tr_pid bp;
	assert_int_equal(tr_spawn(sys, &bp, bystander, &by, &free_opts), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(tr_system_send(sys, vp[i],
		                     i % 2 ? T_EXIT_CODE : T_EXIT_REASON, NULL,
		                     0),
		    0);
	for (int i = 0; i < 16; i++) {
		tu_wait_exit(sys, vp[i], TR_REASON_ERROR);
		TU_WAIT_EQ(atomic_load(&victims[i].freed), 1);
	}
	/* The others still work: by pings echo, echo pongs back. */
	assert_int_equal(tr_system_send(sys, bp, T_DATA, NULL, 0), 0);
	tu_wait_exit(sys, bp, TR_REASON_NORMAL);
	assert_true(tr_is_alive(sys, ep));
	assert_int_equal(tr_system_send(sys, ep, T_STOP, NULL, 0), 0);
	tu_wait_exit(sys, ep, TR_REASON_NORMAL);
	log_wait(&log, 16);
	finish(sys, &log);
	for (int i = 0; i < 16; i++)
		assert_int_equal(atomic_load(&victims[i].freed), 1);
}

static void
test_reason_names(void **unused)
{
	(void) unused;
	assert_string_equal(tr_reason_kind_name(TR_REASON_NORMAL), "normal");
	assert_string_equal(tr_reason_kind_name(TR_REASON_SHUTDOWN),
	    "shutdown");
	assert_string_equal(tr_reason_kind_name(TR_REASON_ERROR), "error");
	const char *names[7];
	for (int k = 0; k <= TR_REASON_ERROR; k++) {
		names[k] = tr_reason_kind_name((tr_reason_kind) k);
		assert_non_null(names[k]);
		for (int j = 0; j < k; j++)
			assert_string_not_equal(names[j], names[k]);
	}
	int line = __LINE__ + 1;
	tr_reason r = tr_reason("why");
	assert_int_equal(r.kind, TR_REASON_ERROR);
	assert_int_equal(r.line, line);
	assert_string_equal(r.text, "why");
	assert_non_null(strstr(r.file, "test_actors_exit.c"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_stop_normal),
		cmocka_unit_test(test_exit_reason),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_exit_other_kinds),
		cmocka_unit_test(test_queued_freed),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_crash_isolated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
