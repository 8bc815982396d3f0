/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * parallel_map: square 1..1000 with one monitored process per number;
 * some crash on purpose.  The results are gathered as they come, and
 * each crash is reported from its DOWN message, as Erlang's
 * spawn_monitor and 'DOWN' do.  Its Erlang twin is
 * docs/twins/parallel_map.erl.
 *
 * A gatherer process (run by tr_run, the program's main) spawns the workers (each with its argument copied
 * in: no malloc), then receives until every worker's DOWN has come: a
 * result {I, I*I}, or a DOWN whose reason is not normal (a crash:
 * every number divisible by 97 is refused).
 */

#include <inttypes.h>
#include <stdio.h>

#include <troupe/troupe.h>

enum { N = 1000, RESULT = 1 };

typedef struct work {
	tr_pid parent;
	int i;
} work;

static void
worker(tr_ctx *cx, void *arg)
{
	work *w = arg;
	if (w->i % 97 == 0)
		tr_exit(cx, tr_reason("refused a multiple of 97"));
	tr_send_term(cx, w->parent, RESULT, "[i I]", w->i,
	    (int64_t) w->i * w->i);
}

static void
gatherer(tr_ctx *cx, void *arg)
{
	(void) arg;
	static tr_pid pids[N + 1];
	for (int i = 1; i <= N; i++) {
		uint64_t ref;
		work w = { tr_self(cx), i };
		TR_ASSERT(cx,
		    tr_spawn_process(tr_ctx_system(cx), &pids[i], worker, &w,
		        &(tr_spawn_opts){ .flags = TR_SPAWN_MONITOR,
		            .monitor_ref = &ref,
		            .state_size = sizeof w }) == 0);
	}
	printf("gatherer: %d workers started\n", N);
	int64_t sum = 0;
	int results = 0, crashes = 0;
	for (int down = 0; down < N;) {
		tr_msg *m = tr_receive(cx, 10000);
		TR_ASSERT(cx, m != NULL);
		int i;
		int64_t sq;
		tr_exit_info why;
		if (tr_msg_scan(cx, m, "[i I]", &i, &sq) == 0) {
			results++;
			sum += sq;
		} else if (tr_msg_tag(m) == TR_TAG_DOWN) {
			down++;
			TR_ASSERT(cx, tr_msg_reason(m, &why) == 0);
			for (i = 1; why.kind != TR_REASON_NORMAL &&
			     !tr_pid_eq(pids[i], tr_msg_from(m));
			     i++)
				;
			if (why.kind != TR_REASON_NORMAL) {
				crashes++;
				printf("gatherer: worker %d crashed: %s\n", i,
				    why.text);
			}
		}
		tr_msg_free(m);
	}
	printf("gatherer: %d results, %d crashes, sum of squares %" PRId64 "\n",
	    results, crashes, sum);
	TR_ASSERT(cx, results == 990 && crashes == 10);
}

int
main(void)
{
	return tr_run(NULL, gatherer, NULL, NULL) == 0 ? 0 : 1;
}
