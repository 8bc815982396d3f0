/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * selective_receive: a process takes its messages in the order it wants,
 * not the order they came in, as an Erlang receive does; it also runs a
 * periodic tick and gives up waiting after a timeout (Erlang's `after`).
 * Its Erlang twin is docs/twins/selective_receive.erl.
 *
 * The main process (run by tr_run) spawns the process "inbox" (named at
 * spawn, monitored), sends it six jobs {Priority, Name} and then START,
 * and waits for its DOWN.  The inbox:
 *   1. waits for START, though six jobs are queued ahead of it;
 *   2. starts a tick every 20 ms (tr_send_interval);
 *   3. takes the urgent jobs (priority >= 5) first, without waiting;
 *   4. takes the rest in arrival order, until 100 ms pass with none;
 *   5. counts three ticks (queued meanwhile) and cancels the timer.
 * Messages it passes over stay queued, in order, for a later receive.
 */

#include <stdio.h>

#include <troupe/troupe.h>

enum { JOB = 1, START, TICK };

typedef struct job {
	int prio;
	const char *name;
	size_t len;
} job;

/* Match function: a JOB whose priority is at least 5.  It scans the job
 * into *arg: the receive returns the message of the last true answer. */
static bool
urgent(const tr_msg *m, void *arg)
{
	job *j = arg;
	return tr_msg_tag(m) == JOB &&
	    tr_term_scan(NULL, tr_msg_data(m), tr_msg_len(m), "[i s]", &j->prio,
	        &j->name, &j->len) == 0 &&
	    j->prio >= 5;
}

static void
inbox(tr_ctx *cx, void *arg)
{
	(void) arg;
	tr_msg_free(tr_receive_tag(cx, START, TR_INFINITY));
	tr_timer tick;
	TR_ASSERT(cx,
	    tr_send_interval(cx, tr_self(cx), 20, TICK, NULL, 0, &tick) == 0);
	int order[6], n = 0;
	job j;
	tr_msg *m;
	while ((m = tr_receive_match(cx, urgent, &j, 0)) != NULL) {
		printf("inbox: urgent job %.*s (priority %d)\n", (int) j.len,
		    j.name, j.prio);
		order[n++] = j.prio;
		tr_msg_free(m);
	}
	while ((m = tr_receive_term(cx, JOB, 100, "[i s]", &j.prio, &j.name,
	            &j.len)) != NULL) {
		printf("inbox: job %.*s (priority %d)\n", (int) j.len, j.name,
		    j.prio);
		order[n++] = j.prio;
		tr_msg_free(m);
	}
	printf("inbox: no job for 100 ms\n");
	for (int t = 1; t <= 3; t++) {
		TR_ASSERT(cx, (m = tr_receive_tag(cx, TICK, 1000)) != NULL);
		printf("inbox: tick %d\n", t);
		tr_msg_free(m);
	}
	TR_ASSERT(cx, tr_cancel_timer(tr_ctx_system(cx), tick) == 0);
	static const int expected[6] = { 7, 9, 3, 1, 4, 2 };
	for (int i = 0; i < 6; i++)
		TR_ASSERT(cx, n == 6 && order[i] == expected[i]);
}

static void
main_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	static const struct {
		int prio;
		const char *name;
	} jobs[] = { { 3, "backup" }, { 1, "logs" }, { 7, "alert" },
		{ 4, "report" }, { 9, "outage" }, { 2, "cleanup" } };
	uint64_t ref;
	TR_ASSERT(cx,
	    tr_spawn_process(tr_ctx_system(cx), NULL, inbox, NULL,
	        &(tr_spawn_opts){ .name = "inbox",
	            .flags = TR_SPAWN_MONITOR,
	            .monitor_ref = &ref }) == 0);
	for (int i = 0; i < 6; i++) {
		printf("main: job %s (priority %d)\n", jobs[i].name,
		    jobs[i].prio);
		tr_send_name_term(cx, "inbox", JOB, "[i s]", jobs[i].prio,
		    jobs[i].name);
	}
	tr_send_name(cx, "inbox", START, NULL, 0);
	tr_msg *down = tr_receive_ref(cx, ref, TR_INFINITY);
	tr_exit_info why;
	TR_ASSERT(cx, tr_msg_reason(down, &why) == 0);
	printf("inbox ended: %s\n", why.text);
	tr_msg_free(down);
	TR_ASSERT(cx, why.kind == TR_REASON_NORMAL);
}

int
main(void)
{
	return tr_run(NULL, main_proc, NULL, NULL) == 0 ? 0 : 1;
}
