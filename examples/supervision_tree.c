/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * supervision_tree: a tiny key/value service that keeps working while
 * its workers crash ("let it crash", guide chapter 8).
 *
 *   service (one_for_one)
 *   |-- cache    a process holding a key/value map, registered "cache"
 *   `-- parsers  (simple_one_for_one) of "parser" workers
 *       |-- parser #1
 *       `-- parser #2
 *
 *   - A parser takes a line "key=value", stores it in the cache with
 *     tr_call and answers "ok".  A line without '=' makes it crash with
 *     tr_exit and an error reason; its supervisor starts a fresh one.
 *   - main feeds the parsers good and bad lines with tr_system_call, reads
 *     the cache back, lists the children before and after the crashes,
 *     and finally stops the whole tree with tr_sup_stop.
 *
 * The supervisors report every crash and restart on stderr through the
 * logging hook (the default report); the runtime also logs each crash.
 */

#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <troupe/supervisor.h>
#include <troupe/troupe.h>

/* Request tags: to the cache, and to a parser.  Answers carry text. */
enum { PUT = 1, GET, PARSE, ANSWER };

/* ---------------------------------------------------------- the cache */

#define CACHE_MAX 16
#define TEXT_MAX 32

/* The cache's state is its process argument: freed however it ends. */
typedef struct cache {
	size_t n;
	char key[CACHE_MAX][TEXT_MAX];
	char val[CACHE_MAX][TEXT_MAX];
} cache;

/* copy_text copies m's payload into buf as a C string (cut to fit). */
static void
copy_text(const tr_msg *m, char *buf, size_t cap)
{
	size_t len = tr_msg_len(m);
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, tr_msg_data(m), len);
	buf[len] = '\0';
}

/* set_text copies src into a map slot, cut to fit. */
static void
set_text(char *dst, const char *src)
{
	size_t len = strlen(src);
	if (len >= TEXT_MAX)
		len = TEXT_MAX - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void
reply_text(tr_ctx *cx, tr_pid to, uint64_t ref, const char *text)
{
	(void) tr_reply_to(cx, to, ref, ANSWER, text, strlen(text));
}

/* PUT "key=value" stores; GET "key" answers the value or "?". */
static void
cache_main(tr_ctx *cx, void *arg)
{
	cache *c = arg;
	for (;;) {
		tr_msg *req = tr_receive(cx, TR_INFINITY);
		uint32_t op = tr_msg_tag(req);
		tr_pid from = tr_msg_from(req);
		uint64_t ref = tr_msg_ref(req);
		char text[2 * TEXT_MAX];
		copy_text(req, text, sizeof text);
		tr_msg_free(req); /* copied out: free before acting (2.5) */

		if (op == PUT) {
			char *eq = strchr(text, '=');
			size_t i = 0;
			*eq = '\0'; /* parsers only send "key=value" */
			while (i < c->n && strcmp(c->key[i], text) != 0)
				i++;
			if (i == c->n && c->n < CACHE_MAX)
				c->n++;
			if (i < CACHE_MAX) {
				set_text(c->key[i], text);
				set_text(c->val[i], eq + 1);
			}
			reply_text(cx, from, ref,
			    i < CACHE_MAX ? "ok" : "full");
		} else if (op == GET) {
			const char *v = "?";
			for (size_t i = 0; i < c->n; i++)
				if (strcmp(c->key[i], text) == 0)
					v = c->val[i];
			reply_text(cx, from, ref, v);
		}
	}
}

/*
 * A child's start function runs in its supervisor.  It must spawn the
 * child linked (TR_SPAWN_LINK: the link is to the supervisor) and store
 * its pid.  The cache registers its name here, so a restarted cache is
 * found under the same name.
 */
static int
cache_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) arg;
	(void) extra;
	tr_system *sys = tr_ctx_system(cx);
	cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return TR_ENOMEM;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK, .state_free = free };
	int rv = tr_spawn_process(sys, pid, cache_main, c, &o);
	if (rv == 0)
		rv = tr_register(sys, "cache", *pid);
	return rv;
}

/* ---------------------------------------------------------- a parser */

static void
parser_main(tr_ctx *cx, void *arg)
{
	(void) arg;
	for (;;) {
		tr_msg *req = tr_receive(cx, TR_INFINITY);
		tr_pid from = tr_msg_from(req);
		uint64_t ref = tr_msg_ref(req);
		char line[2 * TEXT_MAX];
		copy_text(req, line, sizeof line);
		tr_msg_free(req);

		/* Bad input: crash.  No error handling here; the caller
		 * gets TR_EDOWN with this reason and the supervisor starts
		 * a fresh parser. */
		if (strchr(line, '=') == NULL)
			tr_exit(cx, tr_reason("bad input: no '='"));

		tr_pid cache_pid;
		tr_msg *r = NULL;
		int rv = tr_whereis(tr_ctx_system(cx), "cache", &cache_pid);
		if (rv == 0)
			rv = tr_call(cx, cache_pid, PUT, line, strlen(line),
			    1000, &r);
		char answer[TEXT_MAX] = "no cache";
		if (rv == 0)
			copy_text(r, answer, sizeof answer);
		tr_msg_free(r);
		reply_text(cx, from, ref, answer);
	}
}

/* The template's start function; extra is tr_sup_start_child's. */
static int
parser_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) arg;
	(void) extra;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK };
	return tr_spawn_process(tr_ctx_system(cx), pid, parser_main, NULL, &o);
}

/* ---------------------------------------------------------- the tree */

/* The nested supervisor: one template, children started on demand.
 * At most 5 restarts in 10 s, more than the 3 crashes main causes. */
static const tr_child_spec parser_template[] = {
	{ "parser", parser_start, NULL, TR_PERMANENT, 1000, TR_WORKER },
};
static const tr_sup_spec parsers_spec = {
	.flags = { TR_SIMPLE_ONE_FOR_ONE, 5, 10000, 0, 0, 0 },
	.children = parser_template,
	.n = 1,
	.opts = { .name = "parsers" },
};

/* The top supervisor's children, started in this order and stopped in
 * the reverse one.  A nested supervisor is a child whose start function
 * is tr_sup_child_start and whose arg is its tr_sup_spec. */
static const tr_child_spec service_children[] = {
	{ "cache", cache_start, NULL, TR_PERMANENT, 1000, TR_WORKER },
	{ "parsers", tr_sup_child_start, (void *) &parsers_spec, TR_PERMANENT,
	    TR_SHUTDOWN_INFINITY, TR_SUPERVISOR },
};

/* ---------------------------------------------------------------- main */

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void
list_children(tr_system *sys, tr_pid sup, const char *title)
{
	tr_child_info ci[8];
	size_t n = 0;
	char buf[TR_PID_FMT_MAX];
	if (tr_sup_which_children(sys, NULL, sup, ci, 8, &n, 1000) != 0)
		return;
	printf("%s:\n", title);
	for (size_t i = 0; i < n && i < 8; i++)
		printf("  %-8s %-12s %s\n", ci[i].id,
		    tr_pid_format(ci[i].pid, buf, sizeof buf),
		    ci[i].running ? "running" : "not running");
}

/* parser_pid finds parser i (0-based) once it runs again: a restart
 * follows the crash closely, but not at once. */
static int
parser_pid(tr_system *sys, tr_pid parsers, size_t i, tr_pid *pid)
{
	for (int tries = 0; tries < 200; tries++) {
		tr_child_info ci[4];
		size_t n = 0;
		int rv = tr_sup_which_children(sys, NULL, parsers, ci, 4, &n,
		    1000);
		if (rv != 0)
			return rv;
		if (i < n && i < 4 && ci[i].running) {
			*pid = ci[i].pid;
			return 0;
		}
		sleep_ms(5);
	}
	return TR_ETIMEDOUT;
}

/* call sends text with tr_system_call; "ok" and the like go to out, or
 * "crashed: <reason>" when the callee died on it.  Returns rv. */
static int
call(tr_system *sys, tr_pid to, uint32_t op, const char *text, char *out,
    size_t cap)
{
	tr_msg *r = NULL;
	int rv = tr_system_call(sys, to, op, text, strlen(text), 1000, &r);
	if (rv == 0) {
		copy_text(r, out, cap);
	} else if (rv == TR_EDOWN) {
		tr_exit_info why;
		(void) tr_msg_reason(r, &why);
		snprintf(out, cap, "crashed: %s", why.text);
	} else {
		snprintf(out, cap, "%s", tr_err_name(rv));
	}
	tr_msg_free(r);
	return rv;
}

int
main(void)
{
	tr_system *sys;
	if (tr_system_start(&sys, NULL) != 0)
		return 1;
	bool ok = true;

	/* Start the tree: cache first, then the parsers' supervisor. */
	tr_sup_flags flags = TR_SUP_FLAGS_INIT; /* one_for_one, 1 in 5 s */
	tr_sup_opts so = { .name = "service" };
	tr_pid service, parsers;
	int rv = tr_sup_start(sys, NULL, &service, &flags, service_children, 2,
	    &so);
	if (rv == 0)
		rv = tr_whereis(sys, "parsers", &parsers);
	/* Two dynamic parsers of the template. */
	for (int i = 0; rv == 0 && i < 2; i++)
		rv = tr_sup_start_child(sys, NULL, parsers, NULL, NULL, NULL,
		    1000);
	if (rv != 0) {
		fprintf(stderr, "supervision_tree: %s\n", tr_strerror(rv));
		(void) tr_system_stop(sys);
		return 1;
	}
	list_children(sys, service, "service children");
	list_children(sys, parsers, "parsers before");

	/* Feed the parsers in turn; three lines are bad. */
	static const char *const lines[] = { "lang=C", "bogus", "model=actor",
		"oops", "lang=Erlang", "no equals sign", "motto=let it crash" };
	size_t nlines = sizeof lines / sizeof lines[0];
	int crashes = 0;
	for (size_t i = 0; i < nlines; i++) {
		tr_pid p;
		char out[TR_REASON_TEXT_MAX + 16];
		rv = parser_pid(sys, parsers, i % 2, &p);
		if (rv == 0)
			rv = call(sys, p, PARSE, lines[i], out, sizeof out);
		else
			snprintf(out, sizeof out, "%s", tr_err_name(rv));
		printf("parser #%zu <- \"%s\": %s\n", i % 2 + 1, lines[i], out);
		bool bad = strchr(lines[i], '=') == NULL;
		crashes += rv == TR_EDOWN;
		ok = ok && (bad ? rv == TR_EDOWN : rv == 0);
	}

	/* The cache never crashed, so it kept every good line; the last
	 * write of "lang" wins. */
	static const char *const want[][2] = { { "lang", "Erlang" },
		{ "model", "actor" }, { "motto", "let it crash" } };
	tr_pid cache_pid;
	ok = ok && tr_whereis(sys, "cache", &cache_pid) == 0;
	for (size_t i = 0; ok && i < 3; i++) {
		char out[TEXT_MAX];
		rv = call(sys, cache_pid, GET, want[i][0], out, sizeof out);
		printf("cache %s -> %s\n", want[i][0], out);
		ok = rv == 0 && strcmp(out, want[i][1]) == 0;
	}

	/* Each crash cost one restart of the parsers' supervisor; the top
	 * one restarted nothing.  Both parsers run again. */
	tr_pid p;
	ok = ok && parser_pid(sys, parsers, 0, &p) == 0 &&
	    parser_pid(sys, parsers, 1, &p) == 0;
	tr_sup_counts pc = { 0 }, sc = { 0 };
	ok = ok && tr_sup_count_children(sys, NULL, parsers, &pc, 1000) == 0 &&
	    tr_sup_count_children(sys, NULL, service, &sc, 1000) == 0;
	printf("crashes %d; restarts: parsers %llu, service %llu; "
	       "parsers active %zu\n",
	    crashes, (unsigned long long) pc.restarts,
	    (unsigned long long) sc.restarts, pc.active);
	ok = ok && crashes == 3 && pc.restarts == 3 && sc.restarts == 0 &&
	    pc.active == 2;
	list_children(sys, parsers, "parsers after (new pids)");

	/* Stop the tree: parsers first (reverse order), then the cache,
	 * then the service itself.  Their names go with them. */
	rv = tr_sup_stop(sys, NULL, service, 5000);
	tr_pid gone;
	bool cache_gone = tr_whereis(sys, "cache", &gone) == TR_ENOENT;
	bool parsers_gone = tr_whereis(sys, "parsers", &gone) == TR_ENOENT;
	printf("tr_sup_stop: %s; cache %s, parsers %s\n", tr_err_name(rv),
	    cache_gone ? "gone" : "still there",
	    parsers_gone ? "gone" : "still there");
	ok = ok && rv == 0 && cache_gone && parsers_gone;

	ok = tr_system_stop(sys) == 0 && ok;
	printf("%s\n", ok ? "all checks passed" : "CHECKS FAILED");
	return ok ? 0 : 1;
}
