/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * ping_pong: two event actors play three rounds.  pong answers every PING
 * with a PONG carrying the same number; ping starts on START, counts the
 * PONGs and stops after the third.  main waits for ping, then stops the
 * system, which ends pong with reason shutdown.  Payloads are msgpack
 * integers (tr_send_int / tr_msg_int), so the same program works when
 * pong lives on another node.
 */

#include <stdio.h>

#include <troupe/troupe.h>

enum { START = 1, PING, PONG };

/* pong: answers each PING with a PONG to whoever sent it. */
static int
pong(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	int64_t n;
	if (tr_msg_tag(m) != PING || tr_msg_int(m, &n) != 0)
		return TR_CONTINUE; /* ignore what we do not understand */
	printf("pong: ping %lld\n", (long long) n);
	/* 0 is TR_CONTINUE; an error code ends pong with that error. */
	return tr_send_int(cx, tr_msg_from(m), PONG, n);
}

typedef struct ping_state {
	tr_pid peer;
	int64_t rounds; /* to play */
	int64_t done;   /* played */
} ping_state;

/* ping: sends PING 1, and the next one on each PONG, three times. */
static int
ping(tr_ctx *cx, tr_msg *m, void *state)
{
	ping_state *s = state;
	int64_t n = 0;
	switch (tr_msg_tag(m)) {
	case START:
		return tr_send_int(cx, s->peer, PING, 1);
	case PONG:
		if (tr_msg_int(m, &n) != 0)
			return tr_exit(cx, tr_reason("bad pong"));
		printf("ping: pong %lld\n", (long long) n);
		s->done = n;
		if (n == s->rounds)
			return TR_STOP;
		return tr_send_int(cx, s->peer, PING, n + 1);
	default:
		return TR_CONTINUE;
	}
}

int
main(void)
{
	tr_system *sys;
	int rv = tr_system_start(&sys, NULL);
	if (rv != 0) {
		fprintf(stderr, "tr_system_start: %s\n", tr_strerror(rv));
		return 1;
	}

	/* ps lives in main, which outlives ping: no destructor needed.
	 * TR_SPAWN_WAIT keeps ping's exit for main's tr_wait even if ping
	 * is done before main gets there. */
	ping_state ps = { .peer = TR_PID_NIL, .rounds = 3 };
	tr_spawn_opts wait_opts = { .flags = TR_SPAWN_WAIT };
	tr_pid pong_pid, ping_pid;
	tr_exit_info info = { TR_REASON_NORMAL, "" };
	if ((rv = tr_spawn(sys, &pong_pid, pong, NULL, NULL)) == 0) {
		ps.peer = pong_pid;
		rv = tr_spawn(sys, &ping_pid, ping, &ps, &wait_opts);
	}
	if (rv == 0)
		rv = tr_system_send(sys, ping_pid, START, NULL, 0);
	if (rv == 0)
		rv = tr_wait(sys, ping_pid, 10000, &info);
	if (rv != 0)
		fprintf(stderr, "ping_pong: %s\n", tr_strerror(rv));
	else
		printf("ping exited: %s after %lld rounds\n", info.text,
		    (long long) ps.done);

	int stop = tr_system_stop(sys);
	bool ok = rv == 0 && info.kind == TR_REASON_NORMAL &&
	    ps.done == ps.rounds && stop == 0;
	return ok ? 0 : 1;
}
