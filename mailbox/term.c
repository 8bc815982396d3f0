/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The term codec: msgpack written and read by hand, driven by a format
 * string (syntax in include/troupe/term.h, wire format in
 * docs/protocol.md).
 *
 * A format is first compiled into ops: one per item, brackets with their
 * item counts already known (a header is written before its items), and
 * literals parsed.  Compiled formats are cached per thread, keyed by the
 * format's address and checked against a copy of its text (a format may
 * be a buffer that changes); a format too long for the cache is compiled
 * on the heap for the one call.  Packing runs the ops twice over copies of
 * the same arguments: a sizing pass (out NULL) and a writing pass straight
 * into the caller's block, so a message is allocated once at its exact
 * size.
 *
 * Scanning reads bytes from the network one day: every header is checked
 * against the bytes left before anything is read, lengths are compared
 * as len > left (never pos + len, which could wrap), and skipping a value
 * is a loop with a counter of values still owed (no recursion an input
 * could deepen).  Nothing recurses: formats nest at most TERM_DEPTH deep.
 */

#include <stdlib.h>
#include <string.h>

#include <troupe/pack.h>

#include "mailbox/term_int.h"

/* ------------------------------------------------------------- format */

static const char *
sep(const char *f)
{
	while (*f == ' ' || *f == ',' || *f == ':' || *f == '\t' || *f == '\n')
		f++;
	return f;
}

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

/* lit_int parses a decimal literal at *fp into *v; false if malformed. */
static bool
lit_int(const char **fp, int64_t *v)
{
	const char *f = *fp;
	bool neg = *f == '-';
	if (neg)
		f++;
	if (!digit(*f))
		return false;
	uint64_t u = 0;
	while (digit(*f)) {
		unsigned d = (unsigned) (*f++ - '0');
		if (u > (UINT64_MAX - d) / 10)
			return false;
		u = u * 10 + d;
	}
	if (neg ? u > (uint64_t) INT64_MAX + 1 : u > INT64_MAX)
		return false;
	*v = neg ? (int64_t) (0 - u) : (int64_t) u;
	*fp = f;
	return true;
}

/*
 * An op is one item: code is the item's letter ('S' for s#, 'y' for y#,
 * '\'' for a literal string, '0' for a literal integer, '[' and '{' for
 * an array or map of n items or pairs).
 */
typedef struct op {
	char code;
	uint32_t n;    /* '[': elements; '{': pairs; '\'': bytes */
	const char *s; /* '\'': the text */
	int64_t lit;   /* '0': the value */
} op;

/* TERM_DEPTH: the deepest nesting of brackets a format may have. */
#define TERM_DEPTH 32

/* The per-thread cache of compiled formats. */
#define CACHE_N 8
#define CACHE_TEXT 48
#define CACHE_OPS 24

typedef struct centry {
	const char *fmt;
	char text[CACHE_TEXT];
	tr__term_plan plan;
	op ops[CACHE_OPS];
} centry;

static _Thread_local centry cache[CACHE_N];

/*
 * compile turns fmt into at most cap ops.  Returns the op count, -1 for a
 * bad format, -2 if cap is too small.  *top gets the number of top-level
 * items, *scan_only whether there is a *, A or M.
 */
static int64_t
compile(const char *fmt, op *ops, size_t cap, tr__term_plan *pl)
{
	uint64_t *top = &pl->top;
	bool *scan_only = &pl->scan_only;
	/* The most bytes the term may take, if no item's size depends on
	 * more than its type (strings and binaries do). */
	uint64_t max = 0;
	pl->bounded = true;
	const char *f = fmt;
	size_t nops = 0;
	int depth = 0;
	size_t open[TERM_DEPTH];
	uint64_t cnt[TERM_DEPTH + 1];
	char close[TERM_DEPTH];
	cnt[0] = 0;
	*scan_only = false;
	for (;;) {
		f = sep(f);
		char c = *f;
		if (c == '\0') {
			if (depth != 0)
				return -1;
			*top = cnt[0];
			pl->max = (size_t) max;
			return (int64_t) nops;
		}
		if (c == ']' || c == '}') {
			if (depth == 0 || close[depth - 1] != c)
				return -1;
			depth--;
			uint64_t n = cnt[depth + 1];
			if ((c == '}' && n % 2 != 0) || n > UINT32_MAX)
				return -1;
			ops[open[depth]].n = (uint32_t) (c == '}' ? n / 2 : n);
			f++;
			continue;
		}
		if (nops == cap)
			return -2;
		op *o = &ops[nops];
		o->code = c;
		o->n = 0;
		o->s = NULL;
		o->lit = 0;
		cnt[depth]++;
		f++;
		switch (c) {
		case '[':
		case '{':
			max += 5;
			if (depth == TERM_DEPTH)
				return -1;
			open[depth] = nops;
			close[depth] = c == '[' ? ']' : '}';
			cnt[++depth] = 0;
			break;
		case 'i':
		case 'u':
			max += 5;
			break;
		case 'I':
		case 'U':
		case 'f':
			max += 9;
			break;
		case 'b':
		case 'n':
			max += 1;
			break;
		case 'p':
		case 'r':
			max += TR_PACK_PID_LEN;
			break;
		case 's':
			if (*f == '#') {
				o->code = 'S';
				f++;
			}
			pl->bounded = false;
			break;
		case 'y':
			if (*f++ != '#')
				return -1;
			pl->bounded = false;
			break;
		case '*':
		case 'A':
		case 'M':
			*scan_only = true;
			break;
		case '\'': {
			const char *e = strchr(f, '\'');
			if (e == NULL || e - f > UINT32_MAX)
				return -1;
			o->s = f;
			o->n = (uint32_t) (e - f);
			max += 5 + (uint64_t) o->n;
			f = e + 1;
			break;
		}
		default:
			f--;
			if (!((c == '-' || digit(c)) && lit_int(&f, &o->lit)))
				return -1;
			o->code = '0';
			max += 9;
			break;
		}
		nops++;
	}
}

int
tr__term_compile(tr__term_plan *pl, const char *fmt)
{
	pl->heap = NULL;
	if (fmt == NULL)
		return TR_EINVAL;
	uintptr_t h = (uintptr_t) fmt;
	centry *e = &cache[(h ^ h >> 3 ^ h >> 7) % CACHE_N];
	if (e->fmt == fmt && strcmp(e->text, fmt) == 0) {
		*pl = e->plan;
		return 0;
	}
	size_t len = strlen(fmt);
	int64_t n;
	if (len < CACHE_TEXT) {
		/* The entry's ops are about to be overwritten, whatever the
		 * outcome: it names no format until this one is in. */
		e->fmt = NULL;
		n = compile(fmt, e->ops, CACHE_OPS, pl);
		if (n == -1)
			return TR_EINVAL;
		if (n >= 0) {
			/* Literal strings point into the cached text. */
			memcpy(e->text, fmt, len + 1);
			for (int64_t i = 0; i < n; i++)
				if (e->ops[i].s != NULL)
					e->ops[i].s = e->text +
					    (e->ops[i].s - fmt);
			pl->ops = e->ops;
			pl->nops = (size_t) n;
			e->plan = *pl;
			e->fmt = fmt;
			return 0;
		}
	}
	/* Every item takes a character at least. */
	op *ops = malloc((len + 1) * sizeof(op));
	if (ops == NULL)
		return TR_ENOMEM;
	n = compile(fmt, ops, len + 1, pl);
	if (n < 0) {
		free(ops);
		return TR_EINVAL;
	}
	pl->ops = ops;
	pl->nops = (size_t) n;
	pl->heap = ops;
	return 0;
}

void
tr__term_plan_free(tr__term_plan *pl)
{
	free(pl->heap);
	pl->heap = NULL;
}

bool
tr__term_check(const char *fmt, bool scan)
{
	tr__term_plan pl;
	if (tr__term_compile(&pl, fmt) != 0)
		return false;
	bool ok = scan || !pl.scan_only;
	tr__term_plan_free(&pl);
	return ok;
}

/* --------------------------------------------------------------- pack */

typedef struct pk {
	unsigned char *out; /* NULL: sizing pass */
	size_t n;
	uint64_t inc;
	va_list *ap;
} pk;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static void
put_be(unsigned char *p, uint64_t v, int n)
{
	/* One store per number (byte stores read back wide stall). */
	switch (n) {
	case 1:
		p[0] = (unsigned char) v;
		break;
	case 2: {
		uint16_t x = __builtin_bswap16((uint16_t) v);
		memcpy(p, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = __builtin_bswap32((uint32_t) v);
		memcpy(p, &x, 4);
		break;
	}
	case 8: {
		uint64_t x = __builtin_bswap64(v);
		memcpy(p, &x, 8);
		break;
	}
	}
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	switch (n) {
	case 1:
		return p[0];
	case 2: {
		uint16_t x;
		memcpy(&x, p, 2);
		return __builtin_bswap16(x);
	}
	case 4: {
		uint32_t x;
		memcpy(&x, p, 4);
		return __builtin_bswap32(x);
	}
	default: {
		uint64_t x;
		memcpy(&x, p, 8);
		return __builtin_bswap64(x);
	}
	}
}

#else
static void
put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char) v;
		v >>= 8;
	}
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}
#endif

static void
put(pk *k, const void *p, size_t len)
{
	if (k->out != NULL && len > 0)
		memcpy(k->out + k->n, p, len);
	k->n += len;
}

/* hdr writes byte t and v as an n-byte big-endian number after it. */
static void
hdr(pk *k, unsigned char t, uint64_t v, int n)
{
	if (k->out != NULL) {
		k->out[k->n] = t;
		put_be(k->out + k->n + 1, v, n);
	}
	k->n += 1 + (size_t) n;
}

static void
w_uint(pk *k, uint64_t u)
{
	if (u < 128)
		hdr(k, (unsigned char) u, 0, 0);
	else if (u <= UINT8_MAX)
		hdr(k, 0xcc, u, 1);
	else if (u <= UINT16_MAX)
		hdr(k, 0xcd, u, 2);
	else if (u <= UINT32_MAX)
		hdr(k, 0xce, u, 4);
	else
		hdr(k, 0xcf, u, 8);
}

static void
w_int(pk *k, int64_t v)
{
	if (v >= 0)
		w_uint(k, (uint64_t) v);
	else if (v >= -32)
		hdr(k, (unsigned char) (int8_t) v, 0, 0);
	else if (v >= INT8_MIN)
		hdr(k, 0xd0, (uint64_t) v, 1);
	else if (v >= INT16_MIN)
		hdr(k, 0xd1, (uint64_t) v, 2);
	else if (v >= INT32_MIN)
		hdr(k, 0xd2, (uint64_t) v, 4);
	else
		hdr(k, 0xd3, (uint64_t) v, 8);
}

/* w_len writes a str/bin/array/map header: fix form (fix | n up to max;
 * fix 0: none), then the 8-, 16- and 32-bit forms t8 (0: none), t16, t16 + 1. */
static void
w_len(pk *k, unsigned char fix, uint32_t max, unsigned char t8,
    unsigned char t16, uint32_t n)
{
	if (fix != 0 && n <= max)
		hdr(k, (unsigned char) (fix | n), 0, 0);
	else if (t8 != 0 && n <= UINT8_MAX)
		hdr(k, t8, n, 1);
	else if (n <= UINT16_MAX)
		hdr(k, t16, n, 2);
	else
		hdr(k, (unsigned char) (t16 + 1), n, 4);
}

static int
w_str(pk *k, const char *s, size_t len)
{
	if (s == NULL && len > 0)
		return TR_EINVAL;
	if (len > UINT32_MAX)
		return TR_ETOOBIG;
	w_len(k, 0xa0, 31, 0xd9, 0xda, (uint32_t) len);
	put(k, s, len);
	return 0;
}

int
tr__term_put_pid(unsigned char *out, uint64_t inc, tr_pid p)
{
	uint64_t i = inc;
	if (tr_pid_is_nil(p)) {
		i = 0;
		p.slot = UINT32_MAX;
		p.gen = 0;
	} else if (p.node != 0) {
		return TR_ENOTLOCAL;
	} else if (inc == 0) {
		return TR_EINVAL;
	}
	out[0] = 0xd8;
	out[1] = TR_PACK_EXT_PID;
	put_be(out + 2, i, 8);
	put_be(out + 10, p.slot, 4);
	put_be(out + 14, p.gen, 4);
	return 0;
}

static int
pack_ops(pk *k, const op *ops, size_t nops)
{
	for (size_t i = 0; i < nops; i++) {
		const op *o = &ops[i];
		int rv = 0;
		switch (o->code) {
		case 'i':
			w_int(k, va_arg(*k->ap, int));
			break;
		case 'I':
			w_int(k, va_arg(*k->ap, int64_t));
			break;
		case 'u':
			w_uint(k, va_arg(*k->ap, unsigned));
			break;
		case 'U':
			w_uint(k, va_arg(*k->ap, uint64_t));
			break;
		case 'f': {
			double d = va_arg(*k->ap, double);
			uint64_t bits;
			memcpy(&bits, &d, sizeof(bits));
			hdr(k, 0xcb, bits, 8);
			break;
		}
		case 'b':
			hdr(k, va_arg(*k->ap, int) ? 0xc3 : 0xc2, 0, 0);
			break;
		case 'n':
			hdr(k, 0xc0, 0, 0);
			break;
		case 's': {
			const char *s = va_arg(*k->ap, const char *);
			if (s == NULL)
				return TR_EINVAL;
			rv = w_str(k, s, strlen(s));
			break;
		}
		case 'S': {
			const char *s = va_arg(*k->ap, const char *);
			rv = w_str(k, s, va_arg(*k->ap, size_t));
			break;
		}
		case 'y': {
			const void *b = va_arg(*k->ap, const void *);
			size_t len = va_arg(*k->ap, size_t);
			if (b == NULL && len > 0)
				return TR_EINVAL;
			if (len > UINT32_MAX)
				return TR_ETOOBIG;
			w_len(k, 0, 0, 0xc4, 0xc5, (uint32_t) len);
			put(k, b, len);
			break;
		}
		case 'p': {
			tr_pid p = va_arg(*k->ap, tr_pid);
			if (k->out == NULL) {
				/* Sizing: check only. */
				if (!tr_pid_is_nil(p) &&
				    (p.node != 0 || k->inc == 0))
					return p.node != 0 ? TR_ENOTLOCAL
					                   : TR_EINVAL;
				k->n += TR_PACK_PID_LEN;
				break;
			}
			rv = tr__term_put_pid(k->out + k->n, k->inc, p);
			k->n += TR_PACK_PID_LEN;
			break;
		}
		case 'r': {
			uint64_t r = va_arg(*k->ap, uint64_t);
			if (r != 0 && k->inc == 0)
				return TR_EINVAL;
			unsigned char b[18] = { 0xd8, TR_PACK_EXT_REF };
			put_be(b + 2, r != 0 ? k->inc : 0, 8);
			put_be(b + 10, r, 8);
			put(k, b, sizeof(b));
			break;
		}
		case '[':
			w_len(k, 0x90, 15, 0, 0xdc, o->n);
			break;
		case '{':
			w_len(k, 0x80, 15, 0, 0xde, o->n);
			break;
		case '\'':
			rv = w_str(k, o->s, o->n);
			break;
		case '0':
			w_int(k, o->lit);
			break;
		default: /* scan-only items */
			return TR_EINVAL;
		}
		if (rv != 0)
			return rv;
		/* Stay far below any size_t wrap: no term may be this big. */
		if (k->n > ((size_t) 1 << 40))
			return TR_ETOOBIG;
	}
	return 0;
}

int64_t
tr__term_size(uint64_t inc, const char *fmt, va_list *ap, tr__term_plan *pl)
{
	int rv = tr__term_compile(pl, fmt);
	if (rv != 0)
		return rv;
	if (pl->scan_only) {
		tr__term_plan_free(pl);
		return TR_EINVAL;
	}
	pk k = { NULL, 0, inc, ap };
	rv = pack_ops(&k, pl->ops, pl->nops);
	if (rv != 0) {
		tr__term_plan_free(pl);
		return rv;
	}
	return (int64_t) k.n;
}

int64_t
tr__term_write_once(uint64_t inc, void *out, va_list *ap, tr__term_plan *pl)
{
	pk k = { out, 0, inc, ap };
	int rv = pack_ops(&k, pl->ops, pl->nops);
	tr__term_plan_free(pl);
	return rv != 0 ? rv : (int64_t) k.n;
}

void
tr__term_write(uint64_t inc, void *out, va_list *ap, tr__term_plan *pl)
{
	pk k = { out, 0, inc, ap };
	(void) pack_ops(&k, pl->ops, pl->nops);
	tr__term_plan_free(pl);
}

/* --------------------------------------------------------------- scan */

enum { V_UINT, V_NEG, V_NIL, V_BOOL, V_FLT, V_STR, V_BIN, V_EXT, V_ARR, V_MAP };

typedef struct val {
	int kind;
	int8_t ext; /* V_EXT: its type */
	uint32_t n; /* str/bin/ext bytes; array elements; map pairs */
	uint64_t u; /* V_UINT, V_BOOL */
	int64_t i;  /* V_NEG */
	double d;   /* V_FLT */
	const unsigned char *ptr; /* str/bin/ext bytes */
} val;

typedef struct sc {
	const unsigned char *p;
	size_t len, pos;
	uint64_t inc;
	va_list *ap; /* NULL: match only */
} sc;

/* need checks that n more bytes are there. */
static bool
need(const sc *s, size_t n)
{
	return n <= s->len - s->pos;
}

/* rd reads one value's header (and the bytes of a str, bin or ext). */
static int
rd(sc *s, val *v)
{
	if (!need(s, 1))
		return TR_EBADMSG;
	const unsigned char *p = s->p + s->pos;
	unsigned char t = *p++;
	s->pos++;
	int w = 0; /* width of the number or length that follows */
	v->n = 0;
	if (t <= 0x7f) {
		v->kind = V_UINT;
		v->u = t;
		return 0;
	}
	if (t >= 0xe0) {
		v->kind = V_NEG;
		v->i = (int8_t) t;
		return 0;
	}
	if (t <= 0x8f || (t >= 0x90 && t <= 0x9f)) {
		v->kind = t <= 0x8f ? V_MAP : V_ARR;
		v->n = t & 0x0f;
		return 0;
	}
	if (t <= 0xbf) {
		v->kind = V_STR;
		v->n = t & 0x1f;
		goto bytes;
	}
	switch (t) {
	case 0xc0:
		v->kind = V_NIL;
		return 0;
	case 0xc2:
	case 0xc3:
		v->kind = V_BOOL;
		v->u = t == 0xc3;
		return 0;
	case 0xc4:
	case 0xc5:
	case 0xc6:
	case 0xd9:
	case 0xda:
	case 0xdb:
		v->kind = t <= 0xc6 ? V_BIN : V_STR;
		w = 1 << (t <= 0xc6 ? t - 0xc4 : t - 0xd9);
		if (!need(s, (size_t) w))
			return TR_EBADMSG;
		v->n = (uint32_t) get_be(p, w);
		s->pos += (size_t) w;
		goto bytes;
	case 0xc7:
	case 0xc8:
	case 0xc9:
		v->kind = V_EXT;
		w = 1 << (t - 0xc7);
		if (!need(s, (size_t) w + 1))
			return TR_EBADMSG;
		v->n = (uint32_t) get_be(p, w);
		v->ext = (int8_t) p[w];
		s->pos += (size_t) w + 1;
		goto bytes;
	case 0xca:
	case 0xcb: {
		w = t == 0xca ? 4 : 8;
		if (!need(s, (size_t) w))
			return TR_EBADMSG;
		uint64_t bits = get_be(p, w);
		v->kind = V_FLT;
		if (w == 4) {
			float f;
			uint32_t b32 = (uint32_t) bits;
			memcpy(&f, &b32, sizeof(f));
			v->d = f;
		} else {
			memcpy(&v->d, &bits, sizeof(v->d));
		}
		s->pos += (size_t) w;
		return 0;
	}
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		w = 1 << (t - 0xcc);
		if (!need(s, (size_t) w))
			return TR_EBADMSG;
		v->kind = V_UINT;
		v->u = get_be(p, w);
		s->pos += (size_t) w;
		return 0;
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		w = 1 << (t - 0xd0);
		if (!need(s, (size_t) w))
			return TR_EBADMSG;
		uint64_t u = get_be(p, w);
		if (w < 8 && (u >> (8 * w - 1)) != 0)
			u |= ~(uint64_t) 0 << (8 * w); /* sign-extend */
		int64_t i = (int64_t) u;
		v->kind = i < 0 ? V_NEG : V_UINT;
		v->i = i;
		v->u = (uint64_t) i;
		s->pos += (size_t) w;
		return 0;
	}
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		v->kind = V_EXT;
		v->n = 1u << (t - 0xd4);
		if (!need(s, 1))
			return TR_EBADMSG;
		v->ext = (int8_t) p[0];
		s->pos++;
		goto bytes;
	case 0xdc:
	case 0xdd:
	case 0xde:
	case 0xdf:
		w = t == 0xdc || t == 0xde ? 2 : 4;
		if (!need(s, (size_t) w))
			return TR_EBADMSG;
		v->kind = t <= 0xdd ? V_ARR : V_MAP;
		v->n = (uint32_t) get_be(p, w);
		s->pos += (size_t) w;
		return 0;
	default: /* 0xc1: never used */
		return TR_EBADMSG;
	}
bytes:
	if (!need(s, v->n))
		return TR_EBADMSG;
	v->ptr = s->p + s->pos;
	s->pos += v->n;
	return 0;
}

/* skip_n moves past n values (n as owed: an array adds its elements). */
static int
skip_n(sc *s, uint64_t n)
{
	while (n > 0) {
		/* Every value takes a byte at least: owing more than the bytes
		 * left is malformed, and bounds n. */
		if (n > s->len - s->pos)
			return TR_EBADMSG;
		val v;
		int rv = rd(s, &v);
		if (rv != 0)
			return rv;
		n--;
		if (v.kind == V_ARR)
			n += v.n;
		else if (v.kind == V_MAP)
			n += 2 * (uint64_t) v.n;
	}
	return 0;
}

int
tr__term_get_pid(const unsigned char *b, size_t size, uint64_t inc, tr_pid *p)
{
	if (size != 16)
		return TR_EBADTERM;
	uint64_t i = get_be(b, 8);
	uint32_t slot = (uint32_t) get_be(b + 8, 4);
	uint32_t gen = (uint32_t) get_be(b + 12, 4);
	if (i == 0 && slot == UINT32_MAX && gen == 0) {
		*p = TR_PID_NIL;
		return 0;
	}
	if (i == 0)
		return TR_EBADTERM;
	if (i != inc)
		return TR_ENOTLOCAL;
	*p = (tr_pid){ 0, slot, gen };
	return 0;
}

#define OUT(s, type) ((s)->ap != NULL ? va_arg(*(s)->ap, type) : NULL)

/* scan_int checks an integer value against [lo, hi] (as signed, or as
 * unsigned up to uhi when lo >= 0). */
static int
int_of(const val *v, bool is_signed, int64_t lo, uint64_t hi, uint64_t *out)
{
	if (v->kind == V_UINT) {
		if (v->u > hi)
			return TR_EBADTERM;
		*out = v->u;
		return 0;
	}
	if (v->kind == V_NEG && is_signed && v->i >= lo) {
		*out = (uint64_t) v->i;
		return 0;
	}
	return TR_EBADTERM;
}

/* scan_val matches the scalar (or A, M) item o against v, read at s. */
static int
scan_val(sc *s, const op *po, const val *v)
{
	int rv;
	uint64_t u;
	switch (po->code) {
	case 'i':
		if ((rv = int_of(v, true, INT32_MIN, INT32_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			int *o = va_arg(*s->ap, int *);
			if (o != NULL)
				*o = (int) (int64_t) u;
		}
		break;
	case 'I':
		if ((rv = int_of(v, true, INT64_MIN, INT64_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			int64_t *o = va_arg(*s->ap, int64_t *);
			if (o != NULL)
				*o = (int64_t) u;
		}
		break;
	case 'u':
		if ((rv = int_of(v, false, 0, UINT32_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			unsigned *o = va_arg(*s->ap, unsigned *);
			if (o != NULL)
				*o = (unsigned) u;
		}
		break;
	case 'U':
		if ((rv = int_of(v, false, 0, UINT64_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			uint64_t *o = va_arg(*s->ap, uint64_t *);
			if (o != NULL)
				*o = u;
		}
		break;
	case '0':
		if (int_of(v, true, INT64_MIN, INT64_MAX, &u) != 0 ||
		    (int64_t) u != po->lit)
			return TR_EBADTERM;
		break;
	case 'f': {
		if (v->kind != V_FLT)
			return TR_EBADTERM;
		double *o = OUT(s, double *);
		if (o != NULL)
			*o = v->d;
		break;
	}
	case 'b': {
		if (v->kind != V_BOOL)
			return TR_EBADTERM;
		bool *o = OUT(s, bool *);
		if (o != NULL)
			*o = v->u != 0;
		break;
	}
	case 'n':
		if (v->kind != V_NIL)
			return TR_EBADTERM;
		break;
	case 's':
	case 'S': {
		if (v->kind != V_STR)
			return TR_EBADTERM;
		const char **o = OUT(s, const char **);
		size_t *ol = OUT(s, size_t *);
		if (o != NULL)
			*o = (const char *) v->ptr;
		if (ol != NULL)
			*ol = v->n;
		break;
	}
	case 'y': {
		if (v->kind != V_BIN)
			return TR_EBADTERM;
		const void **o = OUT(s, const void **);
		size_t *ol = OUT(s, size_t *);
		if (o != NULL)
			*o = v->ptr;
		if (ol != NULL)
			*ol = v->n;
		break;
	}
	case '\'':
		if (v->kind != V_STR || v->n != po->n ||
		    memcmp(v->ptr, po->s, po->n) != 0)
			return TR_EBADTERM;
		break;
	case 'p': {
		if (v->kind != V_EXT || v->ext != TR_PACK_EXT_PID)
			return TR_EBADTERM;
		tr_pid pid;
		if ((rv = tr__term_get_pid(v->ptr, v->n, s->inc, &pid)) != 0)
			return rv;
		tr_pid *o = OUT(s, tr_pid *);
		if (o != NULL)
			*o = pid;
		break;
	}
	case 'r': {
		if (v->kind != V_EXT || v->ext != TR_PACK_EXT_REF || v->n != 16)
			return TR_EBADTERM;
		uint64_t i = get_be(v->ptr, 8);
		uint64_t r = get_be(v->ptr + 8, 8);
		if ((i == 0) != (r == 0))
			return TR_EBADTERM;
		if (i != 0 && i != s->inc)
			return TR_ENOTLOCAL;
		uint64_t *o = OUT(s, uint64_t *);
		if (o != NULL)
			*o = r;
		break;
	}
	case 'A':
	case 'M': {
		if (v->kind != (po->code == 'A' ? V_ARR : V_MAP))
			return TR_EBADTERM;
		size_t start = s->pos;
		uint64_t owed = po->code == 'A' ? v->n : 2 * (uint64_t) v->n;
		if ((rv = skip_n(s, owed)) != 0)
			return rv;
		tr_term_iter *it = OUT(s, tr_term_iter *);
		if (it != NULL) {
			it->count = v->n;
			it->ti_p = s->p + start;
			it->ti_len = s->pos - start;
			it->ti_left = owed;
			it->ti_inc = s->inc;
		}
		break;
	}
	}
	return 0;
}

/* scan_ops matches nops ops against the values at s. */
static int
scan_ops(sc *s, const op *ops, size_t nops)
{
	for (size_t i = 0; i < nops; i++) {
		const op *o = &ops[i];
		val v;
		int rv;
		if (o->code == '*') {
			if ((rv = skip_n(s, 1)) != 0)
				return rv;
			continue;
		}
		if (s->pos < s->len) {
			/* Fast paths: the one-byte forms of small arrays and
			 * maps and of small non-negative integers. */
			unsigned char t = s->p[s->pos];
			if (o->code == '[' && t == (0x90 | o->n) &&
			    o->n <= 15) {
				s->pos++;
				continue;
			}
			if (t < 0x80 && s->ap != NULL) {
				bool hit = true;
				switch (o->code) {
				case 'i': {
					int *out = va_arg(*s->ap, int *);
					if (out != NULL)
						*out = t;
					break;
				}
				case 'u': {
					unsigned *out = va_arg(*s->ap,
					    unsigned *);
					if (out != NULL)
						*out = t;
					break;
				}
				case 'I': {
					int64_t *out = va_arg(*s->ap,
					    int64_t *);
					if (out != NULL)
						*out = t;
					break;
				}
				case 'U': {
					uint64_t *out = va_arg(*s->ap,
					    uint64_t *);
					if (out != NULL)
						*out = t;
					break;
				}
				default:
					hit = false;
				}
				if (hit) {
					s->pos++;
					continue;
				}
			}
		}
		if ((rv = rd(s, &v)) != 0)
			return rv;
		if (o->code == '[' || o->code == '{') {
			/* The ops that follow are its items, one value each. */
			if (v.kind != (o->code == '[' ? V_ARR : V_MAP) ||
			    v.n != o->n)
				return TR_EBADTERM;
			continue;
		}
		if ((rv = scan_val(s, o, &v)) != 0)
			return rv;
	}
	return 0;
}

static int
run_scan(uint64_t inc, const void *data, size_t len, const tr__term_plan *pl,
    va_list *ap)
{
	sc s = { data, len, 0, inc, ap };
	int rv = scan_ops(&s, pl->ops, pl->nops);
	if (rv == 0 && s.pos != len)
		rv = TR_EBADTERM; /* trailing bytes */
	return rv;
}

int
tr__term_match(uint64_t inc, const void *data, size_t len, const char *fmt)
{
	tr__term_plan pl;
	int rv = tr__term_compile(&pl, fmt);
	if (rv != 0)
		return rv;
	rv = run_scan(inc, data, len, &pl, NULL);
	tr__term_plan_free(&pl);
	return rv;
}

int
tr__term_scan(uint64_t inc, const void *data, size_t len, const char *fmt,
    va_list *ap)
{
	if (data == NULL && len > 0)
		return TR_EINVAL;
	tr__term_plan pl;
	int rv = tr__term_compile(&pl, fmt);
	if (rv != 0)
		return rv;
	rv = run_scan(inc, data, len, &pl, ap);
	tr__term_plan_free(&pl);
	return rv;
}

int
tr__term_next(tr_term_iter *it, const char *fmt, va_list *ap)
{
	if (it == NULL)
		return TR_EINVAL;
	tr__term_plan pl;
	int rv = tr__term_compile(&pl, fmt);
	if (rv != 0)
		return rv;
	if (it->ti_left == 0)
		rv = TR_ENOENT;
	else if (pl.top > it->ti_left)
		rv = TR_EBADTERM;
	sc s = { it->ti_p, it->ti_len, 0, it->ti_inc, ap };
	if (rv == 0)
		rv = scan_ops(&s, pl.ops, pl.nops);
	tr__term_plan_free(&pl);
	if (rv != 0)
		return rv;
	it->ti_p = s.p + s.pos;
	it->ti_len -= s.pos;
	it->ti_left -= pl.top;
	return 0;
}
