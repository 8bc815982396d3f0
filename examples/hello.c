/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * hello: the smallest troupe program.  main spawns an event actor, sends
 * it a greeting, and waits for it to exit; the actor prints the greeting
 * and stops.
 */

#include <stdio.h>

#include <troupe/troupe.h>

enum { GREETING = 1 };

/* An event actor: called once per message, runs to completion. */
static int
greeter(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	char self[TR_PID_FMT_MAX];
	tr_pid_format(tr_self(cx), self, sizeof self);
	if (tr_msg_tag(m) == GREETING)
		printf("%s got: %.*s\n", self, (int) tr_msg_len(m),
		    (const char *) tr_msg_data(m));
	return TR_STOP; /* one message is all it takes */
}

int
main(void)
{
	tr_system *sys;
	int rv = tr_system_start(&sys, NULL); /* NULL: one worker per core */
	if (rv != 0) {
		fprintf(stderr, "tr_system_start: %s\n", tr_strerror(rv));
		return 1;
	}

	/* TR_SPAWN_WAIT: main will tr_wait for it, so its exit is kept even
	 * if it ends before main gets there. */
	tr_spawn_opts opts = { .flags = TR_SPAWN_WAIT };
	tr_pid greeter_pid;
	rv = tr_spawn(sys, &greeter_pid, greeter, NULL, &opts);
	if (rv == 0) {
		static const char hello[] = "hello, world";
		rv = tr_system_send(sys, greeter_pid, GREETING, hello,
		    sizeof hello - 1);
	}
	tr_exit_info info;
	/* A plain thread waits for an actor's exit. */
	if (rv == 0)
		rv = tr_wait(sys, greeter_pid, -1, &info);
	if (rv == 0)
		printf("greeter exited: %s\n", info.text);
	if (rv != 0)
		fprintf(stderr, "hello: %s\n", tr_strerror(rv));

	int stop = tr_system_stop(sys);
	return rv == 0 && stop == 0 ? 0 : 1;
}
