/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_TESTS_SERVER_UTIL_H
#define TROUPE_TESTS_SERVER_UTIL_H

/*
 * A test server ("ts") run as an event actor (tsv_event) or a process
 * (tsv_proc), and the records its callbacks leave: inits, terminates (with
 * the last reason), cleanups, infos.
 */

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <troupe/server.h>

#include "testutil.h"

enum {
	T_ADD = 1, /* call "i": add, reply "I" total */
	T_GET,     /* call "": reply "I" total */
	T_HOLD,    /* call "": keep from, no reply; tell st->notify */
	T_RELEASE, /* call "": reply to the held caller, then 'ok' */
	T_DEFER,   /* call "p": a helper actor (p) replies 'helper' */
	T_STOP,    /* call "": reply 'bye', stop with reason "asked" */
	T_CRASH,   /* call "": return TR_EBADTERM */
	T_SILENT,  /* call "": never replied */
	T_INFO,    /* plain send: total += 1000 */
	T_HELD,    /* to notify: the hold came */
	T_FWD,     /* to the helper: "[p r]" the from to answer */
};

typedef struct ts_state {
	int64_t total;
	int fail_init; /* init returns it */
	bool trap;     /* init traps exits */
	tr_pid notify; /* told T_HELD */
	tr_from held;
	bool holding;
	int exits_seen; /* EXIT infos from non-parents */
} ts_state;

static atomic_int tsv_inits, tsv_terms, tsv_cleanups;
static atomic_int tsv_term_kind;
static char tsv_term_text[TR_REASON_TEXT_MAX];

static void
tsv_reset(void)
{
	atomic_store(&tsv_inits, 0);
	atomic_store(&tsv_terms, 0);
	atomic_store(&tsv_cleanups, 0);
	atomic_store(&tsv_term_kind, -1);
	memset(tsv_term_text, 0, sizeof tsv_term_text);
}

static int
ts_init(tr_ctx *cx, void *state)
{
	ts_state *s = state;
	atomic_fetch_add(&tsv_inits, 1);
	if (s->trap)
		(void) tr_trap_exit(cx, true);
	return s->fail_init;
}

static int
ts_call(tr_ctx *cx, uint32_t tag, const tr_msg *m, tr_from from, void *state)
{
	ts_state *s = state;
	switch (tag) {
	case T_ADD: {
		int v;
		int rv = tr_msg_scan(cx, m, "i", &v);
		if (rv != 0)
			return rv;
		s->total += v;
		return tr_server_reply(cx, from, "I", s->total);
	}
	case T_GET:
		return tr_server_reply(cx, from, "I", s->total);
	case T_HOLD:
		s->held = from;
		s->holding = true;
		return tr_send(cx, s->notify, T_HELD, NULL, 0);
	case T_RELEASE:
		if (s->holding) {
			s->holding = false;
			(void) tr_server_reply(cx, s->held, "I", s->total);
		}
		return tr_server_reply(cx, from, "'ok'");
	case T_DEFER: {
		tr_pid helper;
		int rv = tr_msg_scan(cx, m, "p", &helper);
		if (rv != 0)
			return rv;
		return tr_send_term(cx, helper, T_FWD, "[p r]", from.pid,
		    from.ref);
	}
	case T_STOP:
		(void) tr_server_reply(cx, from, "'bye'");
		return tr_server_exit(state, tr_reason("asked"));
	case T_CRASH:
		return TR_EBADTERM;
	case T_SILENT:
		return TR_CONTINUE;
	default:
		return TR_EINVAL;
	}
}

static int
ts_cast(tr_ctx *cx, uint32_t tag, const tr_msg *m, void *state)
{
	ts_state *s = state;
	int v;
	if (tag != T_ADD || tr_msg_scan(cx, m, "i", &v) != 0)
		return TR_EINVAL;
	s->total += v;
	return TR_CONTINUE;
}

static int
ts_info(tr_ctx *cx, uint32_t tag, const tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	ts_state *s = state;
	if (tag == T_INFO)
		s->total += 1000;
	else if (tag == TR_TAG_EXIT)
		s->exits_seen++;
	return TR_CONTINUE;
}

static void
ts_terminate(tr_ctx *cx, const tr_exit_info *why, void *state)
{
	(void) cx;
	(void) state;
	snprintf(tsv_term_text, sizeof tsv_term_text, "%s", why->text);
	atomic_store(&tsv_term_kind, (int) why->kind);
	/* seq_cst: the text and kind are written before the count moves;
	 * pairs with the tests' loads of tsv_terms. */
	atomic_fetch_add(&tsv_terms, 1);
}

static void
ts_cleanup(void *state)
{
	(void) state;
	atomic_fetch_add(&tsv_cleanups, 1);
}

static const tr_server_def tsv_event = {
	.state_size = sizeof(ts_state),
	.init = ts_init,
	.handle_call = ts_call,
	.handle_cast = ts_cast,
	.handle_info = ts_info,
	.terminate = ts_terminate,
	.cleanup = ts_cleanup,
};

static const tr_server_def tsv_proc = {
	.state_size = sizeof(ts_state),
	.init = ts_init,
	.handle_call = ts_call,
	.handle_cast = ts_cast,
	.handle_info = ts_info,
	.terminate = ts_terminate,
	.cleanup = ts_cleanup,
	.flags = TR_SERVER_PROCESS,
};

/* The helper that answers a deferred call: an event actor. */
static inline int
ts_helper(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	tr_from from;
	if (tr_msg_tag(m) != T_FWD ||
	    tr_msg_scan(cx, m, "[p r]", &from.pid, &from.ref) != 0)
		return TR_EINVAL;
	return tr_server_reply(cx, from, "'helper'");
}

/* tsv_get_total calls T_GET from a plain thread and returns the total
 * (-1 on an error). */
static inline int64_t
tsv_get_total(tr_system *sys, tr_to to)
{
	tr_msg *r = NULL;
	int64_t v = -1;
	int rv = tr_system_server_call_to(sys, to, T_GET, TU_RECV_MS, &r, "");
	if (rv != 0 || tr_system_msg_scan(sys, r, "I", &v) != 0)
		v = -1;
	tr_msg_free(r);
	return v;
}

#endif /* TROUPE_TESTS_SERVER_UTIL_H */
