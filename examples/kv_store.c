/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * kv_store: a key/value server under a one_for_one supervisor, and a
 * client that crashes it on purpose (guide chapter 9).
 *
 *   - "kv" is a server (Erlang's gen_server) whose state is a small table
 *     inside its state block: no malloc, nothing to free.  put ["k" V]
 *     answers 'ok'; get "k" answers ['ok' V] or 'not_found'.
 *   - The supervisor starts it from a one-line child spec
 *     (TR_SERVER_CHILD) registered as "kv", and restarts it when it dies.
 *   - The client puts and gets by name, then sends a malformed put: the
 *     server's scan fails, its handler returns the error, and it crashes.
 *     The client's call returns TR_EDOWN with the reason.  Once the
 *     supervisor has restarted it, "kv" names a new pid with a fresh,
 *     empty table, and calls by name work again at once.
 */

#include <stdio.h>
#include <string.h>

#include <troupe/troupe.h>

enum { PUT = 1, GET };

#define KV_MAX 16

typedef struct kv {
	int n;
	char key[KV_MAX][32];
	int64_t val[KV_MAX];
} kv;

static int
find(kv *t, const char *k, size_t len)
{
	for (int i = 0; i < t->n; i++)
		if (strlen(t->key[i]) == len && memcmp(t->key[i], k, len) == 0)
			return i;
	return -1;
}

static int
kv_call(tr_ctx *cx, uint32_t op, const tr_msg *m, tr_from from, void *st)
{
	kv *t = st;
	const char *k;
	size_t len;
	int64_t v;
	if (op == PUT) {
		int rv = tr_msg_scan(cx, m, "[s I]", &k, &len, &v);
		if (rv != 0)
			return rv; /* a bad request: crash */
		int i = find(t, k, len);
		if (i < 0 && t->n == KV_MAX)
			return tr_server_reply(cx, from, "'full'");
		if (i < 0)
			snprintf(t->key[i = t->n++], 32, "%.*s", (int) len, k);
		t->val[i] = v;
		return tr_server_reply(cx, from, "'ok'");
	}
	int rv = tr_msg_scan(cx, m, "s", &k, &len); /* GET */
	int i = rv == 0 ? find(t, k, len) : -1;
	if (rv != 0)
		return rv;
	return i < 0 ? tr_server_reply(cx, from, "'not_found'")
	             : tr_server_reply(cx, from, "['ok' I]", t->val[i]);
}

static const tr_server_def kv_def = {
	.state_size = sizeof(kv),
	.handle_call = kv_call,
};

/* ------------------------------------------------------------ client */

static void
put(tr_ctx *cx, const char *k, int64_t v)
{
	int rv = tr_server_ask(cx, "kv", PUT, 1000, "[s I]", "'ok'", k, v);
	printf("put %s=%lld -> %s\n", k, (long long) v,
	    rv == 0 ? "ok" : tr_err_name(rv));
	TR_ASSERT(cx, rv == 0);
}

/* get returns the value, or -1 if not found. */
static int64_t
get(tr_ctx *cx, const char *k)
{
	int64_t v = -1;
	int rv = tr_server_ask(cx, "kv", GET, 1000, "s", "['ok' I]", k, &v);
	if (rv == 0)
		printf("get %s -> %lld\n", k, (long long) v);
	else
		printf("get %s -> %s\n", k,
		    rv == TR_EBADTERM ? "not_found" : tr_err_name(rv));
	return v;
}

static void
client(tr_ctx *cx, void *arg)
{
	tr_pid sup = *(tr_pid *) arg, before, after;
	put(cx, "apples", 3);
	put(cx, "pears", 5);
	TR_ASSERT(cx, get(cx, "apples") == 3);

	/* Crash it on purpose: a put whose value is a string. */
	tr_whereis(tr_ctx_system(cx), "kv", &before);
	tr_msg *r;
	int rv = tr_server_call(cx, "kv", PUT, 1000, &r, "[s s]", "x", "y");
	tr_exit_info why;
	TR_ASSERT(cx, rv == TR_EDOWN && tr_msg_reason(r, &why) == 0);
	printf("bad put -> TR_EDOWN: %s\n", why.text);
	tr_msg_free(r);

	/* The supervisor got the server's exit before this request: when it
	 * answers, "kv" has been restarted and registered again. */
	tr_sup_counts c;
	TR_ASSERT(cx, tr_sup_count_children(NULL, cx, sup, &c, 1000) == 0);
	tr_whereis(tr_ctx_system(cx), "kv", &after);
	char b1[TR_PID_FMT_MAX], b2[TR_PID_FMT_MAX];
	printf("restarts: %llu; kv was %s, is now %s\n",
	    (unsigned long long) c.restarts,
	    tr_pid_format(before, b1, sizeof b1),
	    tr_pid_format(after, b2, sizeof b2));
	TR_ASSERT(cx, c.restarts == 1 && !tr_pid_eq(before, after));

	/* A fresh server: the table is empty again. */
	TR_ASSERT(cx, get(cx, "apples") == -1);
	put(cx, "apples", 7);
	TR_ASSERT(cx, get(cx, "apples") == 7);
}

int
main(void)
{
	tr_system *sys;
	if (tr_system_start(&sys, NULL) != 0)
		return 1;
	tr_child_spec kids[] = { TR_SERVER_CHILD("kv", &kv_def, NULL, "kv") };
	tr_pid sup, cl;
	int rv = tr_sup_start(sys, NULL, &sup, NULL, kids, 1, NULL);
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	if (rv == 0)
		rv = tr_spawn_process(sys, &cl, client, &sup, &o);
	tr_exit_info info = { .kind = TR_REASON_ERROR };
	if (rv == 0)
		rv = tr_wait(sys, cl, 10000, &info);
	bool ok = rv == 0 && info.kind == TR_REASON_NORMAL;
	ok = tr_sup_stop(sys, NULL, sup, 5000) == 0 && ok;
	ok = tr_system_stop(sys) == 0 && ok;
	printf("%s\n", ok ? "all checks passed" : "CHECKS FAILED");
	return ok ? 0 : 1;
}
