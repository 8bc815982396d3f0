/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: servers (Erlang/OTP's gen_server on the public API).
 *
 * A server is one allocation: a header (struct srv) followed by the
 * user's state block, so that the state pointer the callbacks get finds
 * the header again (tr_server_exit), and the actor's state_free releases
 * both however the server ends.  The def is borrowed (static const).
 *
 * Underneath it is an event actor unless its def asks for a process.  A
 * gen_server is a loop over messages, one callback each: that is an
 * event actor's handler, which costs no stack and no context switch.  A
 * process is there for callbacks that block (a call to another server);
 * both run the same dispatch and differ only in how they end.
 *
 * Start (gen_server:start_link).  The starter spawns the server (linked
 * when asked) and calls it with SRV_T_INIT: from a process with tr_call,
 * from a plain thread with tr_system_call.  Nobody else knows the pid
 * yet, so that request is the first message the server sees.  On it the
 * server registers its name, runs init and replies; start returns only
 * then, with init's result.  A name taken, or init failing, makes the
 * server free its name, unlink its parent (a linked starter must not be
 * ended by that exit) and reply with the error before it ends.  If the
 * server ends during init, the call's monitor gives the starter the DOWN.
 * A starter that is an event actor learns it from tr_call (TR_ECONTEXT)
 * and kills the server, which has done nothing yet.
 *
 * Messages are sorted by their header only, so the payload stays the
 * user's: a request (a reference, not a reply) goes to handle_call with
 * its from (pid, reference); a tag in [TR_SERVER_CAST, 2^31) is a cast;
 * the rest is info.  An EXIT from the parent (the linked starter or
 * supervisor) ends the server with its reason after terminate, as OTP
 * does for a server that traps exits.  tr_server_stop is a call with
 * SRV_T_STOP whose answer is the server's exit (the caller's DOWN).
 *
 * Replies are tr_reply_to_term on the saved from: any actor can make
 * one, any time; the caller's call drops it if it is no longer waiting.
 */

#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/server.h>

/* Tags of the server's own requests: in [2^31, TR_TAG_SYSTEM). */
enum {
	SRV_T_INIT = 0x8e5a6000u,
	SRV_T_STOP,
	SRV_T_INIT_REPLY,
};

#define SRV_MAGIC 0x7472737276u /* "trsrv" */

typedef struct srv {
	uint64_t s_magic;
	const tr_server_def *s_def;
	tr_system *s_sys;
	tr_pid s_self;
	tr_pid s_parent; /* linked starter, or nil */
	tr_msg *s_cur;   /* process: the message being handled */
	bool s_inited;   /* init returned 0: cleanup runs at the end */
	bool s_stop;     /* tr_server_exit was called */
	tr_reason_kind s_kind;
	char s_text[TR_REASON_TEXT_MAX];
	char s_name[TR_NAME_MAX + 1]; /* "" if none */
} srv;

/* The state block starts at the first max_align_t boundary after it. */
#define SRV_HDR \
	((sizeof(srv) + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1))

/* init_req / init_rep: the start handshake, by value. */
typedef struct init_req {
	int32_t linked;
} init_req;

typedef struct init_rep {
	int32_t rv;
	tr_pid pid; /* the server, or the holder of the name */
} init_rep;

/* stop_req: tr_server_stop's reason. */
typedef struct stop_req {
	int32_t kind;
	char text[TR_REASON_TEXT_MAX];
} stop_req;

static void *
state_of(srv *s)
{
	return (char *) s + SRV_HDR;
}

static void
srv_free(void *arg)
{
	srv *s = arg;
	if (s->s_inited && s->s_def->cleanup != NULL)
		s->s_def->cleanup(state_of(s));
	tr_msg_free(s->s_cur); /* a process ended inside a callback */
	free(s);
}

/* set_reason records why the server stops (text copied, cut to fit). */
static void
set_reason(srv *s, tr_reason_kind kind, const char *text)
{
	s->s_stop = true;
	s->s_kind = kind;
	snprintf(s->s_text, sizeof(s->s_text), "%s",
	    text != NULL ? text : tr_reason_kind_name(kind));
}

int
tr_server_exit(void *state, tr_reason r)
{
	if (state == NULL)
		return TR_EINVAL;
	srv *s = (srv *) (void *) ((char *) state - SRV_HDR);
	if (s->s_magic != SRV_MAGIC)
		return TR_EINVAL;
	if ((unsigned) r.kind > TR_REASON_ERROR)
		r = tr_reason("bad reason kind");
	if (r.kind == TR_REASON_ERROR && r.file != NULL) {
		char buf[TR_REASON_TEXT_MAX];
		snprintf(buf, sizeof(buf), "%s (%s:%d)",
		    r.text != NULL ? r.text : "error", r.file, r.line);
		set_reason(s, r.kind, buf);
	} else {
		set_reason(s, r.kind,
		    r.kind == TR_REASON_ERROR && r.text == NULL ? "error"
		                                                : r.text);
	}
	return TR_STOP;
}

/* ------------------------------------------------------ the server */

/* register_name gives the server its name; TR_EEXIST with the holder. */
static int
register_name(srv *s, tr_pid *holder)
{
	for (int i = 0; i < 3; i++) {
		int rv = tr_register(s->s_sys, s->s_name, s->s_self);
		if (rv != TR_EEXIST)
			return rv;
		if (tr_whereis(s->s_sys, s->s_name, holder) == 0)
			return TR_EEXIST;
		/* The holder went in between: try again. */
	}
	return TR_EEXIST;
}

/*
 * on_init serves the start request: name, init, reply.  Returns 0 (the
 * server runs), or 1 if it must end now with s_kind/s_text.
 */
static int
on_init(tr_ctx *cx, srv *s, const tr_msg *m)
{
	init_req rq = { 0 };
	if (tr_msg_len(m) == sizeof(rq))
		memcpy(&rq, tr_msg_data(m), sizeof(rq));
	tr_pid from = tr_msg_from(m);
	uint64_t ref = tr_msg_ref(m);
	s->s_sys = tr_ctx_system(cx);
	s->s_self = tr_self(cx);
	s->s_parent = rq.linked ? from : TR_PID_NIL;
	init_rep rp = { 0, s->s_self };
	bool named = false;
	if (s->s_name[0] != '\0') {
		rp.rv = register_name(s, &rp.pid);
		named = rp.rv == 0;
	}
	if (rp.rv == 0 && s->s_def->init != NULL)
		rp.rv = s->s_def->init(cx, state_of(s));
	if (rp.rv > 0 && rp.rv != TR_SERVER_IGNORE)
		rp.rv = TR_EINVAL; /* init broke its contract */
	if (rp.rv == 0) {
		s->s_inited = true;
		(void) tr_reply_to(cx, from, ref, SRV_T_INIT_REPLY, &rp,
		    sizeof(rp));
		return 0;
	}
	/* Not started: free the name, spare the linked starter, answer. */
	if (named)
		(void) tr_unregister(s->s_sys, s->s_name);
	if (rq.linked)
		(void) tr_unlink(cx, from);
	if (rp.rv != TR_EEXIST)
		rp.pid = TR_PID_NIL;
	(void) tr_reply_to(cx, from, ref, SRV_T_INIT_REPLY, &rp, sizeof(rp));
	if (rp.rv == TR_SERVER_IGNORE || rp.rv == TR_EEXIST) {
		set_reason(s, TR_REASON_NORMAL, NULL);
	} else {
		char buf[TR_REASON_TEXT_MAX];
		snprintf(buf, sizeof(buf), "init returned %s (%s)",
		    tr_err_name(rp.rv), tr_strerror(rp.rv));
		set_reason(s, TR_REASON_ERROR, buf);
	}
	return 1;
}

/* result turns a callback's return value into 0 (go on) or 1 (stop). */
static int
result(srv *s, int rv, const char *cb)
{
	if (rv == TR_CONTINUE)
		return 0;
	if (rv == TR_STOP) {
		if (!s->s_stop)
			set_reason(s, TR_REASON_NORMAL, NULL);
		return 1;
	}
	char buf[TR_REASON_TEXT_MAX];
	if (rv < 0)
		snprintf(buf, sizeof(buf), "%s returned %s (%s)", cb,
		    tr_err_name(rv), tr_strerror(rv));
	else
		snprintf(buf, sizeof(buf), "%s returned %d", cb, rv);
	set_reason(s, TR_REASON_ERROR, buf);
	return 1;
}

static int
missing(srv *s, const char *cb)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "no %s", cb);
	set_reason(s, TR_REASON_ERROR, buf);
	return 1;
}

/* dispatch hands m to its callback; returns 0 (go on) or 1 (stop). */
static int
dispatch(tr_ctx *cx, srv *s, const tr_msg *m)
{
	const tr_server_def *d = s->s_def;
	uint32_t tag = tr_msg_tag(m);
	uint64_t ref = tr_msg_ref(m);
	void *st = state_of(s);
	if (tag < TR_SERVER_TAG_MAX && ref != 0 &&
	    (tr_msg_flags(m) & TR_MSG_REPLY) == 0) {
		if (d->handle_call == NULL)
			return missing(s, "handle_call");
		tr_from from = { tr_msg_from(m), ref };
		return result(s, d->handle_call(cx, tag, m, from, st),
		    "handle_call");
	}
	if (tag >= TR_SERVER_CAST && tag < 2 * TR_SERVER_CAST) {
		if (d->handle_cast == NULL)
			return missing(s, "handle_cast");
		return result(s,
		    d->handle_cast(cx, tag - TR_SERVER_CAST, m, st),
		    "handle_cast");
	}
	if (tag == TR_TAG_EXIT && !tr_pid_is_nil(s->s_parent) &&
	    tr_pid_eq(tr_msg_from(m), s->s_parent)) {
		tr_exit_info why;
		if (tr_msg_reason(m, &why) != 0)
			set_reason(s, TR_REASON_SHUTDOWN, NULL);
		else
			set_reason(s, why.kind, why.text);
		return 1;
	}
	if (tag == SRV_T_STOP && ref != 0) {
		stop_req rq;
		if (tr_msg_len(m) == sizeof(rq)) {
			memcpy(&rq, tr_msg_data(m), sizeof(rq));
			rq.text[sizeof(rq.text) - 1] = '\0';
			if (rq.kind < 0 || rq.kind > TR_REASON_ERROR)
				rq.kind = TR_REASON_ERROR;
			set_reason(s, (tr_reason_kind) rq.kind, rq.text);
			return 1;
		}
	}
	if (tag == SRV_T_INIT)
		return 0; /* a second start request: not ours to serve */
	if (d->handle_info == NULL)
		return 0; /* dropped, as gen_server's default handle_info */
	return result(s, d->handle_info(cx, tag, m, st), "handle_info");
}

/* ending runs terminate and gives the reason to exit with. */
static tr_reason
ending(tr_ctx *cx, srv *s)
{
	if (s->s_def->terminate != NULL) {
		tr_exit_info why = { s->s_kind, { 0 } };
		memcpy(why.text, s->s_text, sizeof(why.text));
		s->s_def->terminate(cx, &why, state_of(s));
	}
	tr_reason r = { s->s_kind, 0, s->s_text, NULL };
	return r;
}

/* The event actor: one message per call. */
static int
srv_handle(tr_ctx *cx, tr_msg *m, void *arg)
{
	srv *s = arg;
	if (!s->s_inited) {
		if (tr_msg_tag(m) != SRV_T_INIT || tr_msg_ref(m) == 0)
			return TR_CONTINUE; /* nobody else knows us yet */
		if (on_init(cx, s, m) == 0)
			return TR_CONTINUE;
		tr_reason r = { s->s_kind, 0, s->s_text, NULL };
		return tr_exit(cx, r);
	}
	if (dispatch(cx, s, m) == 0)
		return TR_CONTINUE;
	return tr_exit(cx, ending(cx, s));
}

static bool
match_init(const tr_msg *m, void *arg)
{
	(void) arg;
	return tr_msg_tag(m) == SRV_T_INIT && tr_msg_ref(m) != 0;
}

/* The process: the same dispatch in a receive loop. */
static void
srv_main(tr_ctx *cx, void *arg)
{
	srv *s = arg;
	s->s_cur = tr_receive_match(cx, match_init, NULL, TR_INFINITY);
	int stop = on_init(cx, s, s->s_cur);
	tr_msg_free(s->s_cur);
	s->s_cur = NULL;
	if (stop) {
		tr_reason r = { s->s_kind, 0, s->s_text, NULL };
		(void) tr_exit(cx, r);
	}
	for (;;) {
		s->s_cur = tr_receive(cx, TR_INFINITY);
		stop = dispatch(cx, s, s->s_cur);
		tr_msg_free(s->s_cur);
		s->s_cur = NULL;
		if (stop)
			(void) tr_exit(cx, ending(cx, s));
	}
}

/* ------------------------------------------------------ starting */

static int
name_ok(const char *name)
{
	return name == NULL ||
	    (name[0] != '\0' && strnlen(name, TR_NAME_MAX + 1) <= TR_NAME_MAX);
}

/* start spawns a server and waits for its init (cx or sys). */
static int
start(tr_system *sys, tr_ctx *cx, bool link, tr_pid *pidp,
    const tr_server_def *def, const void *state, const char *name)
{
	if (pidp != NULL)
		*pidp = TR_PID_NIL;
	if (cx != NULL)
		sys = tr_ctx_system(cx);
	if (sys == NULL)
		return cx == NULL && !link ? TR_EINVAL : TR_ECONTEXT;
	if (def == NULL || !name_ok(name))
		return TR_EINVAL;
	srv *s = calloc(1, SRV_HDR + def->state_size);
	if (s == NULL)
		return TR_ENOMEM;
	s->s_magic = SRV_MAGIC;
	s->s_def = def;
	s->s_parent = TR_PID_NIL;
	if (name != NULL)
		memcpy(s->s_name, name, strlen(name) + 1);
	if (state != NULL && def->state_size > 0)
		memcpy(state_of(s), state, def->state_size);
	tr_spawn_opts o = { .state_free = srv_free,
		.flags = link ? TR_SPAWN_LINK : 0 };
	tr_pid p;
	int rv = (def->flags & TR_SERVER_PROCESS)
	    ? tr_spawn_process(sys, &p, srv_main, s, &o)
	    : tr_spawn(sys, &p, srv_handle, s, &o);
	if (rv != 0)
		return rv; /* s was freed by srv_free */
	init_req rq = { link ? 1 : 0 };
	tr_msg *m = NULL;
	rv = cx != NULL
	    ? tr_call(cx, p, SRV_T_INIT, &rq, sizeof(rq), TR_INFINITY, &m)
	    : tr_system_call(sys, p, SRV_T_INIT, &rq, sizeof(rq), TR_INFINITY,
	          &m);
	if (rv == TR_EDOWN) {
		tr_msg_free(m);
		return TR_EDOWN; /* it ended during init */
	}
	if (rv != 0) {
		/* TR_ECONTEXT (an event actor), TR_ENOMEM, TR_ESTOPPED: the
		 * server waits for its request and has done nothing. */
		if (cx != NULL) {
			if (link)
				(void) tr_unlink(cx, p);
			(void) tr_exit_pid(cx, p, TR_KILL);
		} else {
			(void) tr_system_exit_pid(sys, p, TR_KILL);
		}
		return rv;
	}
	init_rep rp = { TR_EBADMSG, TR_PID_NIL };
	if (tr_msg_len(m) == sizeof(rp))
		memcpy(&rp, tr_msg_data(m), sizeof(rp));
	tr_msg_free(m);
	if (pidp != NULL && (rp.rv == 0 || rp.rv == TR_EEXIST))
		*pidp = rp.pid;
	return rp.rv;
}

int
tr_server_start_link(tr_ctx *cx, tr_pid *pid, const tr_server_def *def,
    const void *state, const char *name)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	return start(NULL, cx, true, pid, def, state, name);
}

int
tr_server_start(tr_ctx *cx, tr_pid *pid, const tr_server_def *def,
    const void *state, const char *name)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	return start(NULL, cx, false, pid, def, state, name);
}

int
tr_system_server_start(tr_system *sys, tr_pid *pid, const tr_server_def *def,
    const void *state, const char *name)
{
	if (sys == NULL)
		return TR_EINVAL;
	return start(sys, NULL, false, pid, def, state, name);
}

int
tr_server_child_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) extra;
	const tr_server_spec *sp = arg;
	if (sp == NULL)
		return TR_EINVAL;
	return tr_server_start_link(cx, pid, sp->def, sp->state, sp->name);
}

/* ------------------------------------------------------ clients */

int
tr_server_reply(tr_ctx *cx, tr_from from, const char *fmt, ...)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (fmt == NULL)
		return TR_EINVAL;
	/* One packing, one copy: as tr_reply_to_term, whose va_list
	 * version troupe does not have. */
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int64_t n = tr_term_pack_v(tr_ctx_system(cx), small, sizeof(small), fmt,
	    ap);
	va_end(ap);
	if (n < 0)
		return (int) n;
	if ((uint64_t) n <= sizeof(small))
		return tr_reply_to(cx, from.pid, from.ref, 0, small,
		    (size_t) n);
	if ((uint64_t) n > TR_MSG_MAX_LEN)
		return TR_ETOOBIG;
	void *big = malloc((size_t) n);
	if (big == NULL)
		return TR_ENOMEM;
	va_start(ap, fmt);
	n = tr_term_pack_v(tr_ctx_system(cx), big, (size_t) n, fmt, ap);
	va_end(ap);
	int rv = n < 0
	    ? (int) n
	    : tr_reply_to(cx, from.pid, from.ref, 0, big, (size_t) n);
	free(big);
	return rv;
}

/* resolve finds the server's pid: TR_ENOPROC for a name not registered. */
static int
resolve(tr_system *sys, tr_to to, tr_pid *pid)
{
	if (to.name == NULL) {
		if (tr_pid_is_nil(to.pid))
			return TR_EINVAL;
		*pid = to.pid;
		return 0;
	}
	int rv = tr_whereis(sys, to.name, pid);
	return rv == TR_ENOENT ? TR_ENOPROC : rv;
}

/* call_end turns a call's DOWN into TR_ENOPROC (noproc) or TR_EDOWN. */
static int
call_end(int rv, tr_msg **reply)
{
	if (rv != TR_EDOWN)
		return rv;
	tr_exit_info why;
	if (*reply != NULL && tr_msg_reason(*reply, &why) == 0 &&
	    why.kind == TR_REASON_NOPROC) {
		tr_msg_free(*reply);
		*reply = NULL;
		return TR_ENOPROC;
	}
	return TR_EDOWN;
}

int
tr_server_call_to(tr_ctx *cx, tr_to to, uint32_t tag, int64_t timeout_ms,
    tr_msg **reply, const char *fmt, ...)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	if (cx == NULL)
		return TR_ECONTEXT;
	if (tag >= TR_SERVER_TAG_MAX || fmt == NULL)
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(tr_ctx_system(cx), to, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_call_term_v(cx, pid, tag, timeout_ms, reply, fmt, ap);
	va_end(ap);
	return call_end(rv, reply);
}

int
tr_system_server_call_to(tr_system *sys, tr_to to, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	if (sys == NULL || tag >= TR_SERVER_TAG_MAX || fmt == NULL)
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(sys, to, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_system_call_term_v(sys, pid, tag, timeout_ms, reply, fmt, ap);
	va_end(ap);
	return call_end(rv, reply);
}

/*
 * skip_args moves ap past the arguments fmt packs (troupe/term.h's items);
 * TR_EINVAL for an item it does not know (the packing said so already).
 */
static int
skip_args(const char *fmt, va_list *ap)
{
	for (const char *f = fmt; *f != '\0'; f++) {
		switch (*f) {
		case 'i':
		case 'b':
			(void) va_arg(*ap, int);
			break;
		case 'u':
			(void) va_arg(*ap, unsigned);
			break;
		case 'I':
			(void) va_arg(*ap, int64_t);
			break;
		case 'U':
		case 'r':
			(void) va_arg(*ap, uint64_t);
			break;
		case 'f':
			(void) va_arg(*ap, double);
			break;
		case 'p':
			(void) va_arg(*ap, tr_pid);
			break;
		case 's':
		case 'y':
			(void) va_arg(*ap, const void *);
			if (f[1] == '#') {
				(void) va_arg(*ap, size_t);
				f++;
			}
			break;
		case '\'':
			f = strchr(f + 1, '\'');
			if (f == NULL)
				return TR_EINVAL;
			break;
		default: /* n, brackets, separators, integer literals */
			if (strchr("n[]{} ,:-0123456789", *f) == NULL)
				return TR_EINVAL;
			break;
		}
	}
	return 0;
}

/* scan_ok refuses a reply format with outputs pointing into the reply,
 * which ask frees. */
static bool
scan_ok(const char *fmt)
{
	for (const char *f = fmt; *f != '\0'; f++) {
		if (*f == '\'') {
			f = strchr(f + 1, '\'');
			if (f == NULL)
				return false;
		} else if (strchr("syAM", *f) != NULL) {
			return false;
		}
	}
	return true;
}

/* ask is the call of tr_server_ask_to and tr_system_server_ask_to. */
static int
ask(tr_system *sys, tr_ctx *cx, tr_to to, uint32_t tag, int64_t timeout_ms,
    const char *req, const char *rep, va_list ap)
{
	if (tag >= TR_SERVER_TAG_MAX || req == NULL || rep == NULL ||
	    !scan_ok(rep))
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(sys, to, &pid);
	if (rv != 0)
		return rv;
	tr_msg *r = NULL;
	va_list aq;
	va_copy(aq, ap);
	rv = cx != NULL
	    ? tr_call_term_v(cx, pid, tag, timeout_ms, &r, req, aq)
	    : tr_system_call_term_v(sys, pid, tag, timeout_ms, &r, req, aq);
	va_end(aq);
	rv = call_end(rv, &r);
	if (rv == 0) {
		va_copy(aq, ap);
		rv = skip_args(req, &aq);
		if (rv == 0)
			rv = tr_term_scan_v(sys, tr_msg_data(r), tr_msg_len(r),
			    rep, aq);
		va_end(aq);
	}
	tr_msg_free(r);
	return rv;
}

int
tr_server_ask_to(tr_ctx *cx, tr_to to, uint32_t tag, int64_t timeout_ms,
    const char *req, const char *rep, ...)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	va_list ap;
	va_start(ap, rep);
	int rv = ask(tr_ctx_system(cx), cx, to, tag, timeout_ms, req, rep, ap);
	va_end(ap);
	return rv;
}

int
tr_system_server_ask_to(tr_system *sys, tr_to to, uint32_t tag,
    int64_t timeout_ms, const char *req, const char *rep, ...)
{
	if (sys == NULL)
		return TR_EINVAL;
	va_list ap;
	va_start(ap, rep);
	int rv = ask(sys, NULL, to, tag, timeout_ms, req, rep, ap);
	va_end(ap);
	return rv;
}

int
tr_server_call_async_to(tr_ctx *cx, tr_to to, uint32_t tag, int64_t timeout_ms,
    uint64_t *ref, const char *fmt, ...)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (tag >= TR_SERVER_TAG_MAX || fmt == NULL || ref == NULL)
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(tr_ctx_system(cx), to, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_call_async_term_v(cx, pid, tag, timeout_ms, ref, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_server_cast_to(tr_ctx *cx, tr_to to, uint32_t tag, const char *fmt, ...)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (tag >= TR_SERVER_TAG_MAX || fmt == NULL)
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(tr_ctx_system(cx), to, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_send_term_v(cx, pid, tag + TR_SERVER_CAST, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_system_server_cast_to(tr_system *sys, tr_to to, uint32_t tag,
    const char *fmt, ...)
{
	if (sys == NULL || tag >= TR_SERVER_TAG_MAX || fmt == NULL)
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(sys, to, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_system_send_term_v(sys, pid, tag + TR_SERVER_CAST, fmt, ap);
	va_end(ap);
	return rv;
}

/* stop asks the server to stop; its exit (the DOWN) is the answer. */
static int
stop(tr_system *sys, tr_ctx *cx, tr_to to, tr_reason r, int64_t timeout_ms)
{
	if ((unsigned) r.kind > TR_REASON_ERROR)
		return TR_EINVAL;
	tr_pid pid;
	int rv = resolve(sys, to, &pid);
	if (rv != 0)
		return rv;
	stop_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.kind = (int32_t) r.kind;
	if (r.kind == TR_REASON_ERROR && r.file != NULL)
		snprintf(rq.text, sizeof(rq.text), "%s (%s:%d)",
		    r.text != NULL ? r.text : "error", r.file, r.line);
	else if (r.text != NULL)
		snprintf(rq.text, sizeof(rq.text), "%s", r.text);
	else
		snprintf(rq.text, sizeof(rq.text), "%s",
		    tr_reason_kind_name(r.kind));
	tr_msg *m = NULL;
	rv = cx != NULL
	    ? tr_call(cx, pid, SRV_T_STOP, &rq, sizeof(rq), timeout_ms, &m)
	    : tr_system_call(sys, pid, SRV_T_STOP, &rq, sizeof(rq), timeout_ms,
	          &m);
	rv = call_end(rv, &m);
	tr_msg_free(m);
	if (rv == TR_EDOWN)
		return 0;
	return rv == 0 ? TR_EINVAL : rv; /* a reply: not a server */
}

int
tr_server_stop_to(tr_ctx *cx, tr_to to, tr_reason r, int64_t timeout_ms)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	return stop(tr_ctx_system(cx), cx, to, r, timeout_ms);
}

int
tr_system_server_stop_to(tr_system *sys, tr_to to, tr_reason r,
    int64_t timeout_ms)
{
	if (sys == NULL)
		return TR_EINVAL;
	return stop(sys, NULL, to, r, timeout_ms);
}
