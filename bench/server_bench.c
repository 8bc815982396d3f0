/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * server_bench: what a call through a server costs next to a raw tr_call.
 * A process makes N calls, one after the other, to:
 *
 *   raw_call      an event actor answering with tr_reply (bytes, "i")
 *   raw_term      the same with tr_call_term / tr_reply_term
 *   server_pid    an event-actor server, tr_server_call by pid
 *   server_name   the same, by registered name (one lookup per call)
 *   server_ask    tr_server_ask by pid (call and scan in one)
 *   server_proc   a process server (TR_SERVER_PROCESS), by pid
 *
 * Each prints the best of 3 runs in ns per round trip.
 *   server_bench [N] [workers]      (defaults: 200000, 1)
 */

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <troupe/troupe.h>

enum { ADD = 1 };

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ------------------------------------------------------------ callees */

static int
raw_echo(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t *n = state;
	int v = 0;
	(void) tr_msg_scan(cx, m, "i", &v);
	*n += v;
	unsigned char b[TR_PACK_INT_MAX];
	return tr_reply(cx, m, 0, b, tr_pack_int(b, *n));
}

static int
term_echo(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t *n = state;
	int v = 0;
	(void) tr_msg_scan(cx, m, "i", &v);
	*n += v;
	return tr_reply_term(cx, m, 0, "I", *n);
}

static int
srv_call(tr_ctx *cx, uint32_t tag, const tr_msg *m, tr_from from, void *st)
{
	(void) tag;
	int64_t *n = st;
	int v = 0;
	(void) tr_msg_scan(cx, m, "i", &v);
	*n += v;
	return tr_server_reply(cx, from, "I", *n);
}

static const tr_server_def ev_def = {
	.state_size = sizeof(int64_t),
	.handle_call = srv_call,
};

static const tr_server_def proc_def = {
	.state_size = sizeof(int64_t),
	.handle_call = srv_call,
	.flags = TR_SERVER_PROCESS,
};

/* ------------------------------------------------------------ caller */

enum { W_RAW, W_TERM, W_PID, W_NAME, W_ASK, W_PROC };

typedef struct job {
	int kind;
	long n;
	tr_pid to;
	uint64_t ns;
	int err;
} job;

static void
caller(tr_ctx *cx, void *arg)
{
	job *j = arg;
	uint64_t t0 = now_ns();
	for (long i = 0; i < j->n && j->err == 0; i++) {
		tr_msg *r = NULL;
		int64_t v = 0;
		int rv;
		switch (j->kind) {
		case W_RAW: {
			unsigned char b[TR_PACK_INT_MAX];
			rv = tr_call(cx, j->to, ADD, b, tr_pack_int(b, 1),
			    TR_INFINITY, &r);
			if (rv == 0)
				rv = tr_msg_scan(cx, r, "I", &v);
			break;
		}
		case W_TERM:
			rv = tr_call_term(cx, j->to, ADD, TR_INFINITY, &r, "i",
			    1);
			if (rv == 0)
				rv = tr_msg_scan(cx, r, "I", &v);
			break;
		case W_NAME:
			rv = tr_server_call(cx, "bench", ADD, TR_INFINITY, &r,
			    "i", 1);
			if (rv == 0)
				rv = tr_msg_scan(cx, r, "I", &v);
			break;
		case W_ASK:
			rv = tr_server_ask(cx, j->to, ADD, TR_INFINITY, "i",
			    "I", 1, &v);
			break;
		default:
			rv = tr_server_call(cx, j->to, ADD, TR_INFINITY, &r,
			    "i", 1);
			if (rv == 0)
				rv = tr_msg_scan(cx, r, "I", &v);
			break;
		}
		tr_msg_free(r);
		if (rv != 0 || v != i + 1)
			j->err = rv != 0 ? rv : TR_EBADTERM;
	}
	j->ns = now_ns() - t0;
}

static int
run(tr_system *sys, int kind, long n, double *ns_per)
{
	int64_t *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return TR_ENOMEM;
	tr_spawn_opts so = { .state_free = free };
	tr_pid to;
	int rv;
	switch (kind) {
	case W_RAW:
		rv = tr_spawn(sys, &to, raw_echo, st, &so);
		break;
	case W_TERM:
		rv = tr_spawn(sys, &to, term_echo, st, &so);
		break;
	default:
		free(st);
		rv = tr_system_server_start(sys, &to,
		    kind == W_PROC ? &proc_def : &ev_def, NULL, "bench");
		break;
	}
	if (rv != 0)
		return rv;
	job j = { kind, n, to, 0, 0 };
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	tr_pid c;
	rv = tr_spawn_process(sys, &c, caller, &j, &wo);
	if (rv == 0)
		rv = tr_wait(sys, c, TR_INFINITY, NULL);
	if (kind == W_RAW || kind == W_TERM)
		(void) tr_system_exit_pid(sys, to, TR_KILL);
	else
		(void) tr_system_server_stop(sys, to, TR_SHUTDOWN, TR_INFINITY);
	(void) tr_system_idle(sys, 10000);
	if (rv == 0)
		rv = j.err;
	*ns_per = (double) j.ns / (double) n;
	return rv;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	unsigned workers = argc > 2 ? (unsigned) atoi(argv[2]) : 1;
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = workers;
	tr_system *sys;
	if (n <= 0 || tr_system_start(&sys, &cfg) != 0)
		return 1;
	static const char *const names[] = { "raw_call", "raw_term",
		"server_pid", "server_name", "server_ask", "server_proc" };
	printf("%-12s %10s   (%ld round trips, %u worker(s), best of 3)\n",
	    "workload", "ns/call", n, workers);
	int rc = 0;
	for (int k = W_RAW; k <= W_PROC; k++) {
		double best = 0;
		for (int rep = 0; rep < 3; rep++) {
			double ns;
			int rv = run(sys, k, n, &ns);
			if (rv != 0) {
				printf("%-12s error %s\n", names[k],
				    tr_err_name(rv));
				rc = 1;
				break;
			}
			if (rep == 0 || ns < best)
				best = ns;
		}
		printf("%-12s %10.0f\n", names[k], best);
	}
	return tr_system_stop(sys) == 0 ? rc : 1;
}
