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
 * call is one call by name from a process (cx) or from main (sys): it
 * expects the answer [want Balance], prints what came and returns 0 or
 * the error (TR_EBADTERM: another answer).
 */
static int
call(tr_system *sys, tr_ctx *cx, const char *who, uint32_t op, int64_t amount,
    int64_t tmo, const char *want, int64_t *bal)
{
	char rep[40];
	snprintf(rep, sizeof rep, "['%s' I]", want);
	int rv = cx != NULL
	    ? tr_server_ask(cx, "bank", op, tmo, "I", rep, amount, bal)
	    : tr_system_server_ask(sys, "bank", op, tmo, "I", rep, amount, bal);
	if (rv == 0)
		printf("%s: %s %" PRId64 " -> %s, balance %" PRId64 "\n", who,
		    op_names[op], amount, want, *bal);
	else
		printf("%s: %s %" PRId64 " -> %s\n", who, op_names[op], amount,
		    tr_err_name(rv));
	return rv;
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
	int64_t bal;
	TR_ASSERT(cx,
	    call(NULL, cx, c->name, DEPOSIT, c->deposit, 1000, "ok", &bal) ==
	        0);
	TR_ASSERT(cx,
	    call(NULL, cx, c->name, WITHDRAW, c->withdraw, 1000,
	        c->withdraw_status, &bal) == 0);
}

/* An impatient client: gives up on the slow audit after 20 ms. */
static void
impatient_main(tr_ctx *cx, void *arg)
{
	(void) arg;
	int64_t bal;
	TR_ASSERT(cx,
	    call(NULL, cx, "dave", AUDIT, 0, 20, "ok", &bal) == TR_ETIMEDOUT);
	tr_msg *late = tr_receive(cx, 300); /* the answer comes at ~200 ms */
	printf("dave: 300 ms later, mailbox %s\n",
	    late == NULL ? "still empty: the late answer was dropped"
	                 : "has a message!");
	TR_ASSERT(cx, late == NULL);
}

int
main(void)
{
	tr_system *sys;
	if (tr_system_start(&sys, NULL) != 0)
		return 1;
	int rv = tr_system_server_start(sys, NULL, &bank_def, NULL, "bank");
	int64_t bal = 0;
	bool ok = rv == 0 &&
	    call(sys, NULL, "main", DEPOSIT, 100, 1000, "ok", &bal) == 0;

	/* Three clients at once.  Carol asks for more than there can be. */
	client clients[] = { { "alice", 30, 10, "ok" }, { "bob", 20, 5, "ok" },
		{ "carol", 1, 500, "insufficient_funds" } };
	tr_spawn_opts wait = { .flags = TR_SPAWN_WAIT };
	tr_pid pids[4];
	for (int i = 0; i < 4; i++)
		ok = tr_spawn_process(sys, &pids[i],
		         i < 3 ? client_main : impatient_main, &clients[i % 3],
		         &wait) == 0 &&
		    ok;
	for (int i = 0; i < 4; i++) {
		tr_exit_info info;
		ok = tr_wait(sys, pids[i], 10000, &info) == 0 &&
		    info.kind == TR_REASON_NORMAL && ok;
	}

	/* 100 + 30 - 10 + 20 - 5 + 1 = 136, whatever the order. */
	ok = call(sys, NULL, "main", BALANCE, 0, 1000, "ok", &bal) == 0 &&
	    bal == 136 && ok;

	/* A bad request stops the server; the caller learns why. */
	tr_msg *r;
	tr_exit_info why = { TR_REASON_NORMAL, "" };
	rv = tr_system_server_call(sys, "bank", WITHDRAW, 1000, &r, "i", -5);
	ok = rv == TR_EDOWN && tr_msg_reason(r, &why) == 0 && ok;
	printf("main: withdraw -5 -> %s: %s\n", tr_err_name(rv), why.text);
	tr_msg_free(r);
	/* The server and its name are gone: noproc, at once. */
	ok = call(sys, NULL, "main", BALANCE, 0, 1000, "ok", &bal) ==
	        TR_ENOPROC &&
	    ok;

	ok = tr_system_stop(sys) == 0 && ok;
	printf("%s\n", ok ? "all checks passed" : "CHECKS FAILED");
	return ok ? 0 : 1;
}
