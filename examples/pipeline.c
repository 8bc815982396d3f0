/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * pipeline: three stages pass a million numbers along, each an event
 * actor with its state copied in by the runtime (no malloc, no
 * destructor).  Its Erlang twin is docs/twins/pipeline.erl.
 *
 * A driver process (run by tr_run, the program's main) builds
 * double -> increment -> sum,  sends 1..N to
 * the first stage and then DONE.  Each stage forwards what it computes;
 * DONE travels down the pipeline behind the numbers (one sender's
 * messages arrive in order) and stops each stage; the sum stage sends
 * its total back to the driver, which checks it: sum(2i + 1) = N(N + 2).
 * N is 1,000,000, or the first argument.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <troupe/troupe.h>

enum { VALUE = 1, DONE, TOTAL };

typedef struct stage {
	tr_pid next;
	int64_t mul, add; /* forwards v * mul + add */
	int64_t sum;      /* the last stage (next nil): adds up instead */
	tr_pid report;    /* ... and sends the sum here at DONE */
} stage;

static int
stage_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	stage *s = state;
	int64_t v;
	if (tr_msg_tag(m) == DONE) {
		int rv = tr_pid_is_nil(s->next)
		    ? tr_send_int(cx, s->report, TOTAL, s->sum)
		    : tr_send(cx, s->next, DONE, NULL, 0);
		return rv != 0 ? rv : TR_STOP;
	}
	TR_CHECK(cx, tr_msg_int(m, &v) == 0);
	if (tr_pid_is_nil(s->next)) {
		s->sum += v;
		return TR_CONTINUE;
	}
	return tr_send_int(cx, s->next, VALUE, v * s->mul + s->add);
}

/* start spawns a stage with st copied in as its state. */
static tr_pid
start(tr_ctx *cx, stage st)
{
	tr_pid pid = TR_PID_NIL;
	TR_ASSERT(cx,
	    tr_spawn(tr_ctx_system(cx), &pid, stage_fn, &st,
	        &(tr_spawn_opts){ .state_size = sizeof st }) == 0);
	return pid;
}

static void
driver(tr_ctx *cx, void *arg)
{
	int64_t n = *(int64_t *) arg, total = 0;
	tr_pid sum = start(cx,
	    (stage){ .next = TR_PID_NIL, .report = tr_self(cx) });
	tr_pid inc = start(cx, (stage){ .next = sum, .mul = 1, .add = 1 });
	tr_pid dbl = start(cx, (stage){ .next = inc, .mul = 2 });
	printf("driver: sending 1..%" PRId64 " through the pipeline\n", n);
	for (int64_t i = 1; i <= n; i++)
		TR_ASSERT(cx, tr_send_int(cx, dbl, VALUE, i) == 0);
	TR_ASSERT(cx, tr_send(cx, dbl, DONE, NULL, 0) == 0);
	tr_msg_free(tr_receive_term(cx, TOTAL, 60000, "I", &total));
	printf("driver: total %" PRId64 " (expected %" PRId64 ")\n", total,
	    n * (n + 2));
	TR_ASSERT(cx, total == n * (n + 2));
}

int
main(int argc, char **argv)
{
	int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 1000000;
	return tr_run(NULL, driver, &n, NULL) == 0 ? 0 : 1;
}
