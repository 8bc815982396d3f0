/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * supervision_tree: a tiny key/value service that keeps working while
 * its workers crash ("let it crash", guide chapters 8 and 9).
 *
 *   service (one_for_one)
 *   |-- cache    a server holding a key/value table, registered "cache"
 *   `-- parsers  (simple_one_for_one) of "parser" servers
 *       |-- parser #1
 *       `-- parser #2
 *
 *   - A parser is asked to parse a line "key=value"; it stores the pair in
 *     the cache with a call (so it runs as a process: TR_SERVER_PROCESS,
 *     its callbacks may block) and answers the cache's answer.  A line
 *     without '=' makes it stop with an error reason; its supervisor
 *     starts a fresh one.
 *   - main feeds the parsers good and bad lines, reads the cache back,
 *     lists the children before and after the crashes, and finally stops
 *     the whole tree with tr_sup_stop.
 *
 * The supervisors report every crash and restart on stderr through the
 * logging hook (the default report); the runtime also logs each crash.
 */

#include <stdio.h>
#include <string.h>

#include <troupe/troupe.h>

enum { PUT = 1, GET, PARSE };

/* ---------------------------------------------------------- the cache */

#define CACHE_MAX 16
#define TEXT_MAX 32

typedef struct cache {
	int n;
	char key[CACHE_MAX][TEXT_MAX];
	char val[CACHE_MAX][TEXT_MAX];
} cache;

static int
lookup(cache *c, const char *k, size_t len)
{
	for (int i = 0; i < c->n; i++)
		if (strlen(c->key[i]) == len && memcmp(c->key[i], k, len) == 0)
			return i;
	return -1;
}

/* PUT ["key" "value"] answers "ok"; GET "key" the value or "?". */
static int
cache_call(tr_ctx *cx, uint32_t op, const tr_msg *m, tr_from from, void *st)
{
	cache *c = st;
	const char *k, *v;
	size_t klen, vlen;
	if (op == GET && tr_msg_scan(cx, m, "s", &k, &klen) == 0) {
		int i = lookup(c, k, klen);
		return tr_server_reply(cx, from, "s", i < 0 ? "?" : c->val[i]);
	}
	int rv = tr_msg_scan(cx, m, "[s s]", &k, &klen, &v, &vlen);
	if (op != PUT || rv != 0)
		return rv != 0 ? rv : TR_EINVAL;
	int i = lookup(c, k, klen);
	if (i < 0 && (c->n == CACHE_MAX || klen >= TEXT_MAX))
		return tr_server_reply(cx, from, "s", "full");
	if (i < 0) {
		i = c->n++;
		snprintf(c->key[i], TEXT_MAX, "%.*s", (int) klen, k);
	}
	snprintf(c->val[i], TEXT_MAX, "%.*s", (int) vlen, v);
	return tr_server_reply(cx, from, "s", "ok");
}

static const tr_server_def cache_def = {
	.state_size = sizeof(cache),
	.handle_call = cache_call,
};

/* ---------------------------------------------------------- a parser */

static int
parser_call(tr_ctx *cx, uint32_t op, const tr_msg *m, tr_from from, void *st)
{
	const char *line;
	size_t len;
	int rv = tr_msg_scan(cx, m, "s", &line, &len);
	if (op != PARSE || rv != 0)
		return rv != 0 ? rv : TR_EINVAL;
	const char *eq = memchr(line, '=', len);
	if (eq == NULL) /* bad input: crash, no error handling here */
		return tr_server_exit(st, tr_reason("bad input: no '='"));
	rv = tr_server_ask(cx, "cache", PUT, 1000, "[s# s#]", "'ok'", line,
	    (size_t) (eq - line), eq + 1, len - (size_t) (eq - line) - 1);
	return tr_server_reply(cx, from, "s", rv == 0 ? "ok" : tr_err_name(rv));
}

static const tr_server_def parser_def = {
	.handle_call = parser_call,
	.flags = TR_SERVER_PROCESS, /* it calls the cache: it blocks */
};

/* ---------------------------------------------------------- the tree */

/* The parsers: one template, children started on demand.  At most 5
 * restarts in 10 s, more than the 3 crashes main causes. */
static const tr_child_spec parser_template[] = {
	TR_SERVER_CHILD("parser", &parser_def, NULL, NULL),
};
static const tr_sup_spec parsers_spec = {
	.flags = { TR_SIMPLE_ONE_FOR_ONE, 5, 10000, 0, 0, 0 },
	.children = parser_template,
	.n = 1,
	.opts = { .name = "parsers" },
};

/* The top supervisor's children, started in this order and stopped in
 * the reverse one. */
static const tr_child_spec service_children[] = {
	TR_SERVER_CHILD("cache", &cache_def, NULL, "cache"),
	{ "parsers", tr_sup_child_start, (void *) &parsers_spec, TR_PERMANENT,
	    TR_SHUTDOWN_INFINITY, TR_SUPERVISOR },
};

/* ---------------------------------------------------------------- main */

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

/* call asks to with text and prints the answer, or why it crashed. */
static int
call(tr_system *sys, tr_to to, uint32_t op, const char *text, char *out,
    size_t cap)
{
	tr_msg *r;
	int rv = tr_system_server_call_to(sys, to, op, 1000, &r, "s", text);
	const char *s;
	size_t len;
	tr_exit_info why;
	if (rv == 0 && tr_system_msg_scan(sys, r, "s", &s, &len) == 0)
		snprintf(out, cap, "%.*s", (int) len, s);
	else if (rv == TR_EDOWN && tr_msg_reason(r, &why) == 0)
		snprintf(out, cap, "crashed: %s", why.text);
	else
		snprintf(out, cap, "%s", tr_err_name(rv));
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
	tr_sup_opts so = { .name = "service" };
	tr_pid service, parsers;
	int rv = tr_sup_start(sys, NULL, &service, NULL, service_children, 2,
	    &so);
	if (rv == 0)
		rv = tr_whereis(sys, "parsers", &parsers);
	for (int i = 0; rv == 0 && i < 2; i++) /* two parsers */
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
	int crashes = 0;
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		char out[TR_REASON_TEXT_MAX + 16];
		/* A parser that crashed has been restarted by now: its
		 * supervisor had its exit before this request. */
		tr_child_info ci[2];
		size_t n = 0;
		tr_pid p = tr_sup_which_children(sys, NULL, parsers, ci, 2, &n,
		               1000) == 0 &&
		        n == 2
		    ? ci[i % 2].pid
		    : TR_PID_NIL;
		rv = call(sys, tr_to_pid(p), PARSE, lines[i], out, sizeof out);
		printf("parser #%zu <- \"%s\": %s\n", i % 2 + 1, lines[i], out);
		bool bad = strchr(lines[i], '=') == NULL;
		crashes += rv == TR_EDOWN;
		ok = ok && (bad ? rv == TR_EDOWN : rv == 0);
	}

	/* The cache never crashed, so it kept every good line; the last
	 * write of "lang" wins. */
	static const char *const want[][2] = { { "lang", "Erlang" },
		{ "model", "actor" }, { "motto", "let it crash" } };
	for (size_t i = 0; ok && i < 3; i++) {
		char out[TEXT_MAX];
		rv = call(sys, tr_to_name("cache"), GET, want[i][0], out,
		    sizeof out);
		printf("cache %s -> %s\n", want[i][0], out);
		ok = rv == 0 && strcmp(out, want[i][1]) == 0;
	}

	/* Each crash cost one restart of the parsers' supervisor; the top
	 * one restarted nothing.  Both parsers run again. */
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
