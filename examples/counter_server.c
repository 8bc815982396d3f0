/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * counter_server: a bank account kept by a server (Erlang's gen_server,
 * guide chapter 9), used through calls by name.
 *
 *   - The server's state is its balance; only its callbacks touch it, so
 *     no lock is needed.  It is registered as "bank" at start.
 *   - main calls it from a plain thread; three client processes call it
 *     at the same time.  Requests and answers are terms: an amount "I",
 *     an answer ["ok" | "insufficient_funds", Balance].
 *   - A slow audit is answered later: the server keeps the caller's
 *     `from`, sets a timer, and replies when it fires (noreply, then
 *     gen_server:reply).  An impatient client gives up (TR_ETIMEDOUT) and
 *     the late answer never reaches its mailbox.
 *   - A bad request stops the server with a reason; the caller gets
 *     TR_EDOWN and the reason, and the next call gets TR_ENOPROC at once.
 *
 * The clients run at the same time, so their lines may come in any order;
 * the checks hold whatever the order.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <troupe/troupe.h>

enum { DEPOSIT = 1, WITHDRAW, BALANCE, AUDIT, AUDIT_DONE };

/* ---------------------------------------------------------- the server */

typedef struct bank {
	int64_t balance;
} bank;

static int
bank_call(tr_ctx *cx, uint32_t op, const tr_msg *m, tr_from from, void *st)
{
	bank *b = st;
	int64_t amount = 0;
	if (op == DEPOSIT || op == WITHDRAW) {
		if (tr_msg_scan(cx, m, "I", &amount) != 0 || amount <= 0)
			return tr_server_exit(st, tr_reason("bad amount"));
	}
	switch (op) {
	case DEPOSIT:
		b->balance += amount;
		break;
	case WITHDRAW:
		if (amount > b->balance)
			return tr_server_reply(cx, from,
			    "['insufficient_funds' I]", b->balance);
		b->balance -= amount;
		break;
	case AUDIT: /* slow: answer in 200 ms, from handle_info */
		return tr_send_after_term(cx, tr_self(cx), 200, AUDIT_DONE,
		    NULL, "[p r]", from.pid, from.ref);
	}
	return tr_server_reply(cx, from, "['ok' I]", b->balance);
}

static int
bank_info(tr_ctx *cx, uint32_t tag, const tr_msg *m, void *st)
{
	bank *b = st;
	tr_from from;
	if (tag == AUDIT_DONE &&
	    tr_msg_scan(cx, m, "[p r]", &from.pid, &from.ref) == 0)
		(void) tr_server_reply(cx, from, "['ok' I]", b->balance);
	return TR_CONTINUE;
}

static const tr_server_def bank_def = {
	.state_size = sizeof(bank),
	.handle_call = bank_call,
	.handle_info = bank_info,
};

/* ---------------------------------------------------------- the callers */

static const char *const op_names[] = { "?", "deposit", "withdraw", "balance",
	"audit" };

/*
 * show prints "<who>: <op> <amount> -> <answer>" for a call that returned
 * rv with r (the answer or the DOWN), frees r, and returns rv.  The
 * balance goes to *bal, the status is checked against want (if any).
 */
static int
show(tr_system *sys, const char *who, uint32_t op, int64_t amount, int rv,
    tr_msg *r, const char *want, int64_t *bal)
{
	const char *st;
	size_t len;
	tr_exit_info why;
	printf("%s: %s %" PRId64 " -> ", who, op_names[op], amount);
	if (rv == 0 && tr_system_msg_scan(sys, r, "[s I]", &st, &len, bal) == 0)
		printf("%.*s, balance %" PRId64 "\n", (int) len, st, *bal);
	else if (rv == TR_EDOWN && tr_msg_reason(r, &why) == 0)
		printf("TR_EDOWN, the bank is down: %s\n", why.text);
	else
		printf("%s (%s)\n", tr_err_name(rv), tr_strerror(rv));
	if (rv == 0 && want != NULL &&
	    tr_system_msg_scan(sys, r, "[s *]", &st, &len) == 0 &&
	    (len != strlen(want) || memcmp(st, want, len) != 0))
		rv = TR_EBADTERM;
	tr_msg_free(r);
	return rv;
}

/* call is one call by name from a process. */
static int
call(tr_ctx *cx, const char *who, uint32_t op, int64_t amount, int64_t tmo,
    const char *want)
{
	tr_msg *r;
	int64_t bal;
	int rv = tr_server_call(cx, "bank", op, tmo, &r, "I", amount);
	return show(tr_ctx_system(cx), who, op, amount, rv, r, want, &bal);
}

typedef struct client {
	const char *name;
	int64_t deposit, withdraw;
	const char *withdraw_status;
} client;

static void
client_main(tr_ctx *cx, void *arg)
{
	const client *c = arg;
	TR_ASSERT(cx, call(cx, c->name, DEPOSIT, c->deposit, 1000, "ok") == 0);
	TR_ASSERT(cx,
	    call(cx, c->name, WITHDRAW, c->withdraw, 1000,
	        c->withdraw_status) == 0);
}

/* An impatient client: gives up on the slow audit after 20 ms. */
static void
impatient_main(tr_ctx *cx, void *arg)
{
	(void) arg;
	TR_ASSERT(cx, call(cx, "dave", AUDIT, 0, 20, NULL) == TR_ETIMEDOUT);
	tr_msg *late = tr_receive(cx, 300); /* the answer comes at ~200 ms */
	printf("dave: 300 ms later, mailbox %s\n",
	    late == NULL ? "still empty: the late answer was dropped"
	                 : "has a message!");
	TR_ASSERT(cx, late == NULL);
}

/* main_call is one call by name from main. */
static int
main_call(tr_system *sys, uint32_t op, int64_t amount, int64_t *bal)
{
	tr_msg *r;
	int rv = tr_system_server_call(sys, "bank", op, 1000, &r, "I", amount);
	return show(sys, "main", op, amount, rv, r, NULL, bal);
}

static bool
ended_normally(tr_system *sys, tr_pid pid)
{
	tr_exit_info info;
	return tr_wait(sys, pid, 10000, &info) == 0 &&
	    info.kind == TR_REASON_NORMAL;
}

int
main(void)
{
	tr_system *sys;
	if (tr_system_start(&sys, NULL) != 0)
		return 1;
	int rv = tr_system_server_start(sys, NULL, &bank_def, NULL, "bank");
	int64_t bal = 0;
	bool ok = rv == 0 && main_call(sys, DEPOSIT, 100, &bal) == 0 &&
	    bal == 100;

	/* Three clients at once.  Carol asks for more than there can be. */
	client clients[] = { { "alice", 30, 10, "ok" }, { "bob", 20, 5, "ok" },
		{ "carol", 1, 500, "insufficient_funds" } };
	tr_spawn_opts wait = { .flags = TR_SPAWN_WAIT };
	tr_pid pids[4];
	for (int i = 0; i < 3; i++)
		ok = tr_spawn_process(sys, &pids[i], client_main, &clients[i],
		         &wait) == 0 &&
		    ok;
	for (int i = 0; i < 3; i++)
		ok = ended_normally(sys, pids[i]) && ok;
	ok = tr_spawn_process(sys, &pids[3], impatient_main, NULL, &wait) ==
	        0 &&
	    ended_normally(sys, pids[3]) && ok;

	/* 100 + 30 - 10 + 20 - 5 + 1 = 136, whatever the order. */
	ok = main_call(sys, BALANCE, 0, &bal) == 0 && bal == 136 && ok;
	/* A bad request stops the server; the caller learns why. */
	ok = main_call(sys, WITHDRAW, -5, &bal) == TR_EDOWN && ok;
	/* The server and its name are gone: noproc, at once. */
	ok = main_call(sys, BALANCE, 0, &bal) == TR_ENOPROC && ok;

	ok = tr_system_stop(sys) == 0 && ok;
	printf("%s\n", ok ? "all checks passed" : "CHECKS FAILED");
	return ok ? 0 : 1;
}
