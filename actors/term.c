/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Terms for actors: the send, call, reply and timer calls with a term
 * payload, the scans of a message, the receive of a pattern, the pid
 * ext of troupe/pack.h, and the system's incarnation (the number its
 * pids and references carry on the wire: docs/protocol.md).
 *
 * tr_send_term packs straight into a message of the exact size (sizing
 * pass, tr_msg_alloc, writing pass, tr_send_msg).  The other calls pack
 * into a buffer on the stack (a heap one above TERM_STACK bytes) and hand
 * it to their byte version, which copies it once: they cost a monitor, a
 * timer or a thread switch besides, next to which the copy is nothing.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include <troupe/term.h>

#include "actors/actors_int.h"
#include "mailbox/term_int.h"

/* ------------------------------------------------------- incarnation */

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t
tr__incarnation_draw(void *salt)
{
	uint64_t v = 0;
#if defined(__linux__)
	if (getrandom(&v, sizeof(v), 0) != (ssize_t) sizeof(v))
		v = 0;
#else
	arc4random_buf(&v, sizeof(v));
#endif
	/* No entropy (getrandom missing or failing): the clock, the process
	 * and the system's address still tell two systems apart. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (v == 0)
		v = mix64(((uint64_t) ts.tv_sec * 1000000000u +
		              (uint64_t) ts.tv_nsec) ^
		    ((uint64_t) getpid() << 40) ^ (uint64_t) (uintptr_t) salt);
	return v != 0 ? v : 1; /* 0 is the nil pid's and ref's */
}

uint64_t
tr_system_incarnation(tr_system *sys)
{
	return sys != NULL ? sys->s_incarnation : 0;
}

/* ------------------------------------------------------- pack and scan */

int64_t
tr_term_pack_v(tr_system *sys, void *buf, size_t cap, const char *fmt,
    va_list ap)
{
	uint64_t inc = tr_system_incarnation(sys);
	tr__term_plan plan;
	va_list aq;
	va_copy(aq, ap);
	int64_t n = tr__term_size(inc, fmt, &aq, &plan);
	va_end(aq);
	if (n <= 0 || (uint64_t) n > cap || buf == NULL) {
		tr__term_plan_free(&plan);
		return n <= 0 || (uint64_t) n > cap ? n : TR_EINVAL;
	}
	va_copy(aq, ap);
	tr__term_write(inc, buf, &aq, &plan);
	va_end(aq);
	return n;
}

int64_t
tr_term_pack(tr_system *sys, void *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int64_t n = tr_term_pack_v(sys, buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

int
tr_term_scan_v(tr_system *sys, const void *data, size_t len, const char *fmt,
    va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int rv = tr__term_scan(tr_system_incarnation(sys), data, len, fmt, &aq);
	va_end(aq);
	return rv;
}

int
tr_term_scan(tr_system *sys, const void *data, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_term_scan_v(sys, data, len, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_msg_scan_v(tr_ctx *cx, const tr_msg *m, const char *fmt, va_list ap)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (m == NULL)
		return TR_EINVAL;
	return tr_term_scan_v(cx->cx_w->w_sys, m->m_data, m->m_len, fmt, ap);
}

int
tr_msg_scan(tr_ctx *cx, const tr_msg *m, const char *fmt, ...)
{
	/* Straight to the codec with this call's list: no va_copy, no
	 * layer between (this is the receive side of the hot path). */
	if (cx == NULL)
		return TR_ECONTEXT;
	if (m == NULL)
		return TR_EINVAL;
	va_list ap;
	va_start(ap, fmt);
	int rv = tr__term_scan(cx->cx_w->w_sys->s_incarnation, m->m_data,
	    m->m_len, fmt, &ap);
	va_end(ap);
	return rv;
}

int
tr_system_msg_scan(tr_system *sys, const tr_msg *m, const char *fmt, ...)
{
	if (sys == NULL || m == NULL)
		return TR_EINVAL;
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_term_scan_v(sys, m->m_data, m->m_len, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_term_next(tr_term_iter *it, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr__term_next(it, fmt, &ap);
	va_end(ap);
	return rv;
}

/* ------------------------------------------------------------ pids */

int
tr_pack_pid(tr_system *sys, msgpack_packer *pk, tr_pid p)
{
	if (sys == NULL || pk == NULL)
		return TR_EINVAL;
	unsigned char b[TR_PACK_PID_LEN];
	int rv = tr__term_put_pid(b, sys->s_incarnation, p);
	if (rv != 0)
		return rv;
	if (msgpack_pack_ext(pk, 16, TR_PACK_EXT_PID) != 0 ||
	    msgpack_pack_ext_body(pk, b + 2, 16) != 0)
		return TR_ENOMEM;
	return 0;
}

int
tr_unpack_pid(tr_system *sys, const msgpack_object *o, tr_pid *p)
{
	if (sys == NULL || o == NULL || p == NULL ||
	    o->type != MSGPACK_OBJECT_EXT ||
	    o->via.ext.type != TR_PACK_EXT_PID || o->via.ext.size != 16)
		return TR_EBADMSG;
	int rv = tr__term_get_pid((const unsigned char *) o->via.ext.ptr, 16,
	    sys->s_incarnation, p);
	return rv == TR_EBADTERM ? TR_EBADMSG : rv;
}

/* ------------------------------------------------------------ sending */

/*
 * send_term is tr_send_term_v on *ap, which it consumes when the term
 * needs one pass only (no strings or binaries), else copies.
 */
static int
send_term(tr_ctx *cx, tr_pid pid, uint32_t tag, const char *fmt, va_list *app)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	uint64_t inc = cx->cx_w->w_sys->s_incarnation;
	tr__term_plan plan;
	va_list aq;
	int rv = tr__term_compile(&plan, fmt);
	if (rv != 0)
		return rv;
	if (plan.bounded && !plan.scan_only) {
		/* No strings: one pass into a block of the largest size it
		 * may take, then the exact length is set (the block's size
		 * class is kept in m_class; m_len is only the payload's). */
		tr_msg *m = tr_msg_alloc(cx, tag, plan.max);
		if (m == NULL) {
			tr__term_plan_free(&plan);
			return TR_ENOMEM;
		}
		int64_t n = tr__term_write_once(inc, m->m_data, app, &plan);
		if (n >= 0) {
			m->m_len = (uint32_t) n;
			rv = tr_send_msg(cx, pid, m);
		}
		if (n < 0 || rv != 0)
			tr_msg_free(m);
		return n < 0 ? (int) n : rv;
	}
	tr__term_plan_free(&plan);
	va_copy(aq, *app);
	int64_t n = tr__term_size(inc, fmt, &aq, &plan);
	va_end(aq);
	if (n < 0)
		return (int) n;
	tr_msg *m = (uint64_t) n <= TR_MSG_MAX_LEN
	    ? tr_msg_alloc(cx, tag, (size_t) n)
	    : NULL;
	if (m == NULL) {
		tr__term_plan_free(&plan);
		return (uint64_t) n > TR_MSG_MAX_LEN ? TR_ETOOBIG : TR_ENOMEM;
	}
	tr__term_write(inc, m->m_data, app, &plan);
	rv = tr_send_msg(cx, pid, m);
	if (rv != 0)
		tr_msg_free(m);
	return rv;
}

int
tr_send_term_v(tr_ctx *cx, tr_pid pid, uint32_t tag, const char *fmt,
    va_list ap)
{
	va_list aq;
	va_copy(aq, ap);
	int rv = send_term(cx, pid, tag, fmt, &aq);
	va_end(aq);
	return rv;
}

int
tr_send_term(tr_ctx *cx, tr_pid pid, uint32_t tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = send_term(cx, pid, tag, fmt, &ap);
	va_end(ap);
	return rv;
}

/* TERM_STACK: terms up to this size are packed on the caller's stack. */
#define TERM_STACK 512

typedef struct tbuf {
	unsigned char *p;
	size_t len;
	unsigned char small[TERM_STACK];
} tbuf;

static int
tbuf_pack(tbuf *b, uint64_t inc, const char *fmt, va_list ap)
{
	tr__term_plan plan;
	va_list aq;
	va_copy(aq, ap);
	int64_t n = tr__term_size(inc, fmt, &aq, &plan);
	va_end(aq);
	if (n < 0)
		return (int) n;
	if ((uint64_t) n > TR_MSG_MAX_LEN) {
		tr__term_plan_free(&plan);
		return TR_ETOOBIG;
	}
	b->len = (size_t) n;
	b->p = b->len <= sizeof(b->small) ? b->small : malloc(b->len);
	if (b->p == NULL) {
		tr__term_plan_free(&plan);
		return TR_ENOMEM;
	}
	va_copy(aq, ap);
	tr__term_write(inc, b->p, &aq, &plan);
	va_end(aq);
	return 0;
}

static void
tbuf_free(tbuf *b)
{
	if (b->p != b->small)
		free(b->p);
}

static uint64_t
cx_inc(tr_ctx *cx)
{
	return cx->cx_w->w_sys->s_incarnation;
}

int
tr_system_send_term_v(tr_system *sys, tr_pid pid, uint32_t tag, const char *fmt,
    va_list ap)
{
	if (sys == NULL)
		return TR_EINVAL;
	tbuf b;
	int rv = tbuf_pack(&b, sys->s_incarnation, fmt, ap);
	if (rv != 0)
		return rv;
	rv = tr_system_send(sys, pid, tag, b.p, b.len);
	tbuf_free(&b);
	return rv;
}

int
tr_system_send_term(tr_system *sys, tr_pid pid, uint32_t tag, const char *fmt,
    ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_system_send_term_v(sys, pid, tag, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_call_term_v(tr_ctx *cx, tr_pid pid, uint32_t tag, int64_t timeout_ms,
    tr_msg **reply, const char *fmt, va_list ap)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	if (cx == NULL || cx->cx_proc == NULL)
		return TR_ECONTEXT;
	tbuf b;
	int rv = tbuf_pack(&b, cx_inc(cx), fmt, ap);
	if (rv != 0)
		return rv;
	rv = tr_call(cx, pid, tag, b.p, b.len, timeout_ms, reply);
	tbuf_free(&b);
	return rv;
}

int
tr_call_term(tr_ctx *cx, tr_pid pid, uint32_t tag, int64_t timeout_ms,
    tr_msg **reply, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_call_term_v(cx, pid, tag, timeout_ms, reply, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_system_call_term_v(tr_system *sys, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, va_list ap)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	if (sys == NULL)
		return TR_EINVAL;
	tbuf b;
	int rv = tbuf_pack(&b, sys->s_incarnation, fmt, ap);
	if (rv != 0)
		return rv;
	rv = tr_system_call(sys, pid, tag, b.p, b.len, timeout_ms, reply);
	tbuf_free(&b);
	return rv;
}

int
tr_system_call_term(tr_system *sys, tr_pid pid, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_system_call_term_v(sys, pid, tag, timeout_ms, reply, fmt,
	    ap);
	va_end(ap);
	return rv;
}

int
tr_call_async_term_v(tr_ctx *cx, tr_pid pid, uint32_t tag, int64_t timeout_ms,
    uint64_t *ref, const char *fmt, va_list ap)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	tbuf b;
	int rv = tbuf_pack(&b, cx_inc(cx), fmt, ap);
	if (rv != 0)
		return rv;
	rv = tr_call_async(cx, pid, tag, b.p, b.len, timeout_ms, ref);
	tbuf_free(&b);
	return rv;
}

int
tr_call_async_term(tr_ctx *cx, tr_pid pid, uint32_t tag, int64_t timeout_ms,
    uint64_t *ref, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_call_async_term_v(cx, pid, tag, timeout_ms, ref, fmt, ap);
	va_end(ap);
	return rv;
}

static int
reply_to_v(tr_ctx *cx, tr_pid to, uint64_t ref, uint32_t tag, const char *fmt,
    va_list ap)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	tbuf b;
	int rv = tbuf_pack(&b, cx_inc(cx), fmt, ap);
	if (rv != 0)
		return rv;
	rv = tr_reply_to(cx, to, ref, tag, b.p, b.len);
	tbuf_free(&b);
	return rv;
}

int
tr_reply_term_v(tr_ctx *cx, const tr_msg *req, uint32_t tag, const char *fmt,
    va_list ap)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	if (req == NULL)
		return TR_EINVAL;
	return reply_to_v(cx, req->m_from, req->m_ref, tag, fmt, ap);
}

int
tr_reply_term(tr_ctx *cx, const tr_msg *req, uint32_t tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr_reply_term_v(cx, req, tag, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_reply_to_term(tr_ctx *cx, tr_pid to, uint64_t ref, uint32_t tag,
    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = reply_to_v(cx, to, ref, tag, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_send_after_term(tr_ctx *cx, tr_pid pid, int64_t delay_ms, uint32_t tag,
    tr_timer *timer, const char *fmt, ...)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	va_list ap;
	va_start(ap, fmt);
	tbuf b;
	int rv = tbuf_pack(&b, cx_inc(cx), fmt, ap);
	va_end(ap);
	if (rv != 0)
		return rv;
	rv = tr_send_after(cx, pid, delay_ms, tag, b.p, b.len, timer);
	tbuf_free(&b);
	return rv;
}

int
tr_system_send_after_term(tr_system *sys, tr_pid pid, int64_t delay_ms,
    uint32_t tag, tr_timer *timer, const char *fmt, ...)
{
	if (sys == NULL)
		return TR_EINVAL;
	va_list ap;
	va_start(ap, fmt);
	tbuf b;
	int rv = tbuf_pack(&b, sys->s_incarnation, fmt, ap);
	va_end(ap);
	if (rv != 0)
		return rv;
	rv = tr_system_send_after(sys, pid, delay_ms, tag, b.p, b.len, timer);
	tbuf_free(&b);
	return rv;
}

/* ------------------------------------------------------------ receive */

typedef struct pattern {
	uint32_t tag;
	uint64_t inc;
	const char *fmt;
} pattern;

static bool
matches(const tr_msg *m, void *arg)
{
	const pattern *pt = arg;
	return m->m_tag == pt->tag &&
	    tr__term_match(pt->inc, m->m_data, m->m_len, pt->fmt) == 0;
}

tr_msg *
tr_receive_term(tr_ctx *cx, uint32_t tag, int64_t timeout_ms, const char *fmt,
    ...)
{
	if (cx == NULL || !tr__term_check(fmt, true))
		return NULL;
	pattern pt = { tag, cx_inc(cx), fmt };
	tr_msg *m = tr_receive_match(cx, matches, &pt, timeout_ms);
	if (m != NULL) {
		va_list ap;
		va_start(ap, fmt);
		(void) tr__term_scan(pt.inc, m->m_data, m->m_len, fmt, &ap);
		va_end(ap);
	}
	return m;
}
