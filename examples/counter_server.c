/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * counter_server: a bank account kept by a process, in the style of an
 * Erlang gen_server, and used through calls.
 *
 *   - The server is a process that loops on tr_receive and answers every
 *     request with tr_reply_to.  Its balance is a counter only it touches,
 *     so no lock is needed.  It is registered as "bank".
 *   - main calls it with tr_system_call; three client processes find it
 *     with tr_whereis and call it with tr_call, concurrently.
 *   - Requests carry one msgpack integer (tr_pack_int); answers are a
 *     msgpack array ["ok" | "insufficient_funds", balance], packed with
 *     msgpack-c and read with tr_msg_unpack, as Erlang's {ok, Balance}.
 *   - An impatient client gives up on a slow request (TR_ETIMEDOUT) and
 *     checks that the late answer never reaches its mailbox.
 *   - A bad request makes the server crash; the call that caused it gets
 *     TR_EDOWN and the reason, and a call to the dead server gets noproc.
 *
 * The clients run at the same time, so their lines may come in any order
 * and the balances they see vary; the checks hold whatever the order.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

/* Requests (each carries an amount, or nothing) and the one answer tag. */
enum { DEPOSIT = 1, WITHDRAW, BALANCE, AUDIT, ANSWER };

/* ---------------------------------------------------------- the server */

/*
 * A process's argument holds everything that must be released when it
 * ends: it may be ended while blocked in a receive, and then only its
 * state_free runs (guide 2.5).
 */
typedef struct bank {
	int64_t balance;
	msgpack_sbuffer sb; /* reused for every answer */
} bank;

static void
bank_free(void *arg)
{
	bank *b = arg;
	msgpack_sbuffer_destroy(&b->sb);
	free(b);
}

/* Erlang's `receive after Ms -> ok end`: wait, taking no message. */
static bool
no_message(const tr_msg *m, void *arg)
{
	(void) m;
	(void) arg;
	return false;
}

static void
sleep_ms(tr_ctx *cx, int64_t ms)
{
	(void) tr_receive_match(cx, no_message, NULL, ms);
}

/* answer sends ["<status>", balance] back to the caller of request ref. */
static void
answer(tr_ctx *cx, bank *b, tr_pid to, uint64_t ref, const char *status)
{
	msgpack_packer pk;
	msgpack_sbuffer_clear(&b->sb);
	msgpack_packer_init(&pk, &b->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, status, strlen(status));
	msgpack_pack_int64(&pk, b->balance);
	/* A caller that gave up or died is no error: the answer is dropped. */
	(void) tr_reply_to(cx, to, ref, ANSWER, b->sb.data, b->sb.size);
}

static void
bank_main(tr_ctx *cx, void *arg)
{
	bank *b = arg;
	for (;;) {
		tr_msg *req = tr_receive(cx, TR_INFINITY);
		/* Copy what we need and free the request at once: then
		 * nothing is lost if we end below (guide 2.5).  tr_reply_to
		 * answers from the copied sender and reference. */
		uint32_t op = tr_msg_tag(req);
		tr_pid from = tr_msg_from(req);
		uint64_t ref = tr_msg_ref(req);
		int64_t amount = 0;
		bool has_amount = tr_msg_int(req, &amount) == 0;
		tr_msg_free(req);

		if ((op == DEPOSIT || op == WITHDRAW) &&
		    (!has_amount || amount <= 0)) {
			/* Let it crash: whoever asked learns why (TR_EDOWN),
			 * and the runtime logs the error on stderr. */
			tr_exit(cx, tr_reason("bad amount"));
		}
		switch (op) {
		case DEPOSIT:
			b->balance += amount;
			answer(cx, b, from, ref, "ok");
			break;
		case WITHDRAW:
			if (amount > b->balance) {
				answer(cx, b, from, ref, "insufficient_funds");
				break;
			}
			b->balance -= amount;
			answer(cx, b, from, ref, "ok");
			break;
		case BALANCE:
			answer(cx, b, from, ref, "ok");
			break;
		case AUDIT:
			sleep_ms(cx, 200); /* a slow request */
			answer(cx, b, from, ref, "ok");
			break;
		default:
			break; /* unknown: ignore it (its caller times out) */
		}
	}
}

/* ---------------------------------------------------------- the caller */

/* What a call came to: the server's answer, or why the server is down. */
typedef struct reply {
	char status[32];
	int64_t balance;
	tr_exit_info down; /* after TR_EDOWN */
} reply;

/* read_reply decodes ["<status>", balance]; returns 0 or TR_EBADMSG. */
static int
read_reply(const tr_msg *m, reply *out)
{
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	int rv = tr_msg_unpack(m, &u);
	const msgpack_object *o = &u.data;
	if (rv == 0 &&
	    (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
	        o->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
	        o->via.array.ptr[0].via.str.size >= sizeof out->status ||
	        (o->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
	            o->via.array.ptr[1].type !=
	                MSGPACK_OBJECT_NEGATIVE_INTEGER)))
		rv = TR_EBADMSG;
	if (rv == 0) {
		const msgpack_object_str *s = &o->via.array.ptr[0].via.str;
		memcpy(out->status, s->ptr, s->size);
		out->status[s->size] = '\0';
		out->balance = o->via.array.ptr[1].via.i64;
	}
	msgpack_unpacked_destroy(&u);
	return rv;
}

static const char *
op_name(uint32_t op)
{
	static const char *const names[] = { "?", "deposit", "withdraw",
		"balance", "audit" };
	return op <= AUDIT ? names[op] : "?";
}

/*
 * print_outcome prints "<who>: <op> <amount> -> <result>" for a call that
 * returned rv with message m (the answer, the DOWN, or NULL), fills *out
 * for an answer and returns rv (TR_EBADMSG for an unreadable answer).
 */
static int
print_outcome(const char *who, uint32_t op, int64_t amount, int rv,
    const tr_msg *m, reply *out)
{
	char what[64];
	snprintf(what, sizeof what, "%s %s", who, op_name(op));
	if (amount != 0)
		snprintf(what + strlen(what), sizeof what - strlen(what),
		    " %" PRId64, amount);
	if (rv == 0)
		rv = read_reply(m, out);
	if (rv == 0) {
		printf("%s -> %s, balance %" PRId64 "\n", what, out->status,
		    out->balance);
	} else if (rv == TR_EDOWN) {
		/* m is the server's DOWN message: it carries the reason. */
		(void) tr_msg_reason(m, &out->down);
		printf("%s -> TR_EDOWN, the bank is down: %s\n", what,
		    out->down.text);
	} else {
		printf("%s -> %s (%s)\n", what, tr_err_name(rv),
		    tr_strerror(rv));
	}
	return rv;
}

/* A client process: a few calls, each checked against what it expects. */
typedef struct client {
	const char *name;
	int64_t deposit;
	int64_t withdraw;
	const char *withdraw_status; /* expected: "ok" or a refusal */
} client;

/* bank_call is one tr_call from a process, printed and decoded. */
static int
bank_call(tr_ctx *cx, const char *who, uint32_t op, int64_t amount,
    int64_t timeout_ms, reply *out)
{
	tr_pid bank_pid;
	if (tr_whereis(tr_ctx_system(cx), "bank", &bank_pid) != 0)
		tr_exit(cx, tr_reason("no bank registered"));
	unsigned char buf[TR_PACK_INT_MAX];
	size_t len = amount != 0 ? tr_pack_int(buf, amount) : 0;
	tr_msg *m = NULL;
	int rv = tr_call(cx, bank_pid, op, buf, len, timeout_ms, &m);
	rv = print_outcome(who, op, amount, rv, m, out);
	tr_msg_free(m); /* the answer, the DOWN, or NULL: ours to free */
	return rv;
}

static void
client_main(tr_ctx *cx, void *arg)
{
	const client *c = arg;
	reply r;
	int rv = bank_call(cx, c->name, DEPOSIT, c->deposit, 1000, &r);
	TR_ASSERT(cx, rv == 0 && strcmp(r.status, "ok") == 0);
	rv = bank_call(cx, c->name, WITHDRAW, c->withdraw, 1000, &r);
	TR_ASSERT(cx, rv == 0 && strcmp(r.status, c->withdraw_status) == 0);
}

/* An impatient client: gives up on a slow audit after 20 ms. */
static void
impatient_main(tr_ctx *cx, void *arg)
{
	(void) arg;
	reply r;
	int rv = bank_call(cx, "dave", AUDIT, 0, 20, &r);
	TR_ASSERT(cx, rv == TR_ETIMEDOUT);
	/* The server answers ~180 ms later; that late answer is dropped,
	 * never left in our mailbox (guide 7.5).  Wait and see. */
	tr_msg *late = tr_receive(cx, 300);
	printf("dave: 300 ms later, mailbox %s\n",
	    late == NULL ? "still empty: the late answer was dropped"
	                 : "has a message!");
	bool dropped = late == NULL;
	tr_msg_free(late);
	TR_ASSERT(cx, dropped);
}

/* ---------------------------------------------------------------- main */

/* main_call is one tr_system_call from main, printed and decoded. */
static int
main_call(tr_system *sys, tr_pid bank_pid, uint32_t op, int64_t amount,
    reply *out)
{
	unsigned char buf[TR_PACK_INT_MAX];
	size_t len = amount != 0 ? tr_pack_int(buf, amount) : 0;
	tr_msg *m = NULL;
	int rv = tr_system_call(sys, bank_pid, op, buf, len, 1000, &m);
	rv = print_outcome("main", op, amount, rv, m, out);
	tr_msg_free(m);
	return rv;
}

/* ended_normally waits for a client's end; true if it ended normally. */
static bool
ended_normally(tr_system *sys, tr_pid pid, const char *who)
{
	tr_exit_info info;
	int rv = tr_wait(sys, pid, 10000, &info);
	if (rv == 0 && info.kind == TR_REASON_NORMAL)
		return true;
	printf("%s failed: %s\n", who, rv == 0 ? info.text : tr_strerror(rv));
	return false;
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

	/* Start the server and give it its name.  TR_SPAWN_WAIT: main
	 * learns at the end why it stopped. */
	bank *b = calloc(1, sizeof(*b));
	tr_spawn_opts o = { .state_free = bank_free, .flags = TR_SPAWN_WAIT };
	tr_pid bank_pid;
	rv = TR_ENOMEM;
	if (b != NULL) {
		msgpack_sbuffer_init(&b->sb);
		/* From here b is the process's, even if the spawn fails. */
		rv = tr_spawn_process(sys, &bank_pid, bank_main, b, &o);
	}
	if (rv == 0)
		rv = tr_register(sys, "bank", bank_pid);
	if (rv != 0) {
		fprintf(stderr, "counter_server: %s\n", tr_strerror(rv));
		(void) tr_system_stop(sys);
		return 1;
	}

	/* main opens the account: a call from a plain thread. */
	reply r;
	rv = main_call(sys, bank_pid, DEPOSIT, 100, &r);
	bool ok = rv == 0 && r.balance == 100;

	/* Three clients at once.  Carol asks for more than there can be. */
	client clients[] = {
		{ "alice", 30, 10, "ok" },
		{ "bob", 20, 5, "ok" },
		{ "carol", 1, 500, "insufficient_funds" },
	};
	tr_spawn_opts co = { .flags = TR_SPAWN_WAIT };
	tr_pid pids[3];
	int started = 0;
	while (started < 3 &&
	    tr_spawn_process(sys, &pids[started], client_main,
	        &clients[started], &co) == 0)
		started++;
	ok = ok && started == 3;
	/* Each client's exit reason says whether its checks held. */
	for (int i = 0; i < started; i++)
		ok = ended_normally(sys, pids[i], clients[i].name) && ok;

	/* A call that times out. */
	tr_pid dave;
	ok = tr_spawn_process(sys, &dave, impatient_main, NULL, &co) == 0 &&
	    ended_normally(sys, dave, "dave") && ok;

	/* 100 + 30 - 10 + 20 - 5 + 1 = 136, whatever the order. */
	rv = main_call(sys, bank_pid, BALANCE, 0, &r);
	ok = ok && rv == 0 && r.balance == 136;

	/* A bad request crashes the server; the caller learns why. */
	rv = main_call(sys, bank_pid, WITHDRAW, -5, &r);
	ok = ok && rv == TR_EDOWN && r.down.kind == TR_REASON_ERROR;
	/* Calling a server that is gone: TR_EDOWN, reason noproc. */
	rv = main_call(sys, bank_pid, BALANCE, 0, &r);
	ok = ok && rv == TR_EDOWN && r.down.kind == TR_REASON_NOPROC;
	/* Its name went with it. */
	tr_pid none;
	rv = tr_whereis(sys, "bank", &none);
	printf("whereis bank -> %s\n", tr_err_name(rv));
	ok = ok && rv == TR_ENOENT;

	tr_exit_info info;
	rv = tr_wait(sys, bank_pid, 10000, &info);
	printf("bank exited: %s\n", rv == 0 ? info.text : tr_strerror(rv));
	ok = ok && rv == 0 && info.kind == TR_REASON_ERROR;

	ok = tr_system_stop(sys) == 0 && ok;
	printf("%s\n", ok ? "all checks passed" : "CHECKS FAILED");
	return ok ? 0 : 1;
}
