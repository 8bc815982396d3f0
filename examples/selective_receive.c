/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * selective_receive: a process takes its messages in the order it wants,
 * not the order they came in, as an Erlang receive does.
 *
 * main queues six jobs for the process, each carrying its priority (a
 * msgpack integer), then START.  The process:
 *
 *   1. waits for START (tr_receive_tag), though six jobs are ahead of it;
 *   2. asks a helper actor a question with a fresh reference and takes the
 *      answer with tr_receive_ref, still passing over the queued jobs;
 *   3. takes the urgent jobs first (tr_receive_match with a match
 *      function), oldest first, without waiting (timeout 0);
 *   4. takes the rest in arrival order (tr_receive), and stops when
 *      nothing comes for 100 ms: Erlang's `after`.
 *
 * Messages passed over stay in the mailbox, in order, for the next
 * receive.  main checks the order the jobs were handled in.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <troupe/troupe.h>

enum { JOB = 1, START, SQUARE, SQUARED };

/* What main sends: job priorities, in this order. */
static const int64_t sent[] = { 3, 1, 7, 4, 9, 2 };
#define NJOBS (sizeof sent / sizeof sent[0])
/* Urgent jobs (priority >= 5) first, oldest first; then the rest in order. */
static const int64_t expected[NJOBS] = { 7, 9, 3, 1, 4, 2 };

/* --------------------------------------------------------- the helper */

/*
 * squarer: an event actor answering SQUARE n with SQUARED n*n.  The
 * answer carries the question's reference, so that the asker can pick
 * it out of its mailbox with tr_receive_ref.
 */
static int
squarer(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	int64_t n;
	if (tr_msg_tag(m) != SQUARE || tr_msg_int(m, &n) != 0)
		return TR_CONTINUE;
	unsigned char buf[TR_PACK_INT_MAX];
	size_t len = tr_pack_int(buf, n * n);
	/* The answer carries the question's reference back (tr_reply is for
	 * calls, chapter 7 of the guide; this is a plain conversation). */
	return tr_send_ref(cx, tr_msg_from(m), SQUARED, tr_msg_ref(m), buf,
	    len);
}

/* -------------------------------------------------------- the process */

typedef struct inbox {
	tr_pid squarer;
	int64_t square;       /* the helper's answer */
	int64_t order[NJOBS]; /* priorities, in the order handled */
	size_t handled;
} inbox;

/* A match function: a job whose priority is at least *arg. */
static bool
priority_at_least(const tr_msg *m, void *arg)
{
	int64_t prio;
	return tr_msg_tag(m) == JOB && tr_msg_int(m, &prio) == 0 &&
	    prio >= *(const int64_t *) arg;
}

/* handle takes one job (and frees it: a received message is ours). */
static void
handle(inbox *in, tr_msg *m, const char *why)
{
	int64_t prio = -1;
	(void) tr_msg_int(m, &prio);
	printf("  job with priority %" PRId64 " (%s)\n", prio, why);
	if (in->handled < NJOBS)
		in->order[in->handled++] = prio;
	tr_msg_free(m);
}

static void
inbox_main(tr_ctx *cx, void *arg)
{
	inbox *in = arg;

	/* 1. START is the last message queued, yet it is the one taken. */
	tr_msg *m = tr_receive_tag(cx, START, TR_INFINITY);
	tr_msg_free(m);
	printf("inbox: started, %zu jobs waiting\n", NJOBS);

	/* 2. A question and its answer.  Make the reference just before
	 * sending: tr_receive_ref then looks only at what came after it,
	 * so the jobs queued ahead are not even scanned. */
	uint64_t ref = tr_make_ref(cx);
	unsigned char buf[TR_PACK_INT_MAX];
	size_t len = tr_pack_int(buf, 12);
	if (tr_send_ref(cx, in->squarer, SQUARE, ref, buf, len) != 0)
		tr_exit(cx, tr_reason("cannot ask the squarer"));
	tr_msg *a = tr_receive_ref(cx, ref, 1000); /* NULL after 1 s */
	TR_ASSERT(cx, a != NULL);
	(void) tr_msg_int(a, &in->square);
	tr_msg_free(a);
	printf("inbox: asked 12*12, answer %" PRId64 "\n", in->square);

	/* 3. Urgent jobs first.  Timeout 0: take what is queued, never
	 * wait.  Jobs that do not match stay where they are. */
	printf("inbox: urgent jobs first\n");
	int64_t urgent = 5;
	while (
	    (m = tr_receive_match(cx, priority_at_least, &urgent, 0)) != NULL)
		handle(in, m, "urgent");

	/* 4. The rest, oldest first.  A receive with a timeout is
	 * Erlang's `after`: NULL once 100 ms pass with nothing to take. */
	printf("inbox: then the rest, in arrival order\n");
	while ((m = tr_receive(cx, 100)) != NULL)
		handle(in, m, "in order");
	printf("inbox: nothing for 100 ms, done\n");
}

/* ---------------------------------------------------------------- main */

int
main(void)
{
	tr_system *sys;
	int rv = tr_system_start(&sys, NULL);
	if (rv != 0) {
		fprintf(stderr, "tr_system_start: %s\n", tr_strerror(rv));
		return 1;
	}

	/* in lives in main, which outlives the process: no state_free. */
	inbox in = { .squarer = TR_PID_NIL };
	tr_spawn_opts wait_opts = { .flags = TR_SPAWN_WAIT };
	tr_pid inbox_pid;
	rv = tr_spawn(sys, &in.squarer, squarer, NULL, NULL);
	if (rv == 0)
		rv = tr_spawn_process(sys, &inbox_pid, inbox_main, &in,
		    &wait_opts);

	/* The jobs, then START.  One sender's messages arrive in order. */
	printf("main: sending jobs with priorities");
	for (size_t i = 0; rv == 0 && i < NJOBS; i++) {
		printf(" %" PRId64, sent[i]);
		rv = tr_system_send_int(sys, inbox_pid, JOB, sent[i]);
	}
	printf(", then START\n");
	if (rv == 0)
		rv = tr_system_send(sys, inbox_pid, START, NULL, 0);

	tr_exit_info info = { TR_REASON_NORMAL, "" };
	if (rv == 0)
		rv = tr_wait(sys, inbox_pid, 10000, &info);
	if (rv != 0)
		fprintf(stderr, "selective_receive: %s\n", tr_strerror(rv));
	else
		printf("inbox exited: %s\n", info.text);

	bool ok = rv == 0 && info.kind == TR_REASON_NORMAL &&
	    in.square == 144 && in.handled == NJOBS;
	for (size_t i = 0; ok && i < NJOBS; i++)
		ok = in.order[i] == expected[i];
	printf("order %s\n", ok ? "is right" : "is WRONG");

	/* Stopping ends the squarer, still alive, with reason shutdown. */
	ok = tr_system_stop(sys) == 0 && ok;
	return ok ? 0 : 1;
}
