/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * The term codec: msgpack written and read by hand, driven by a format
 * string (syntax in include/troupe/term.h, wire format in
 * docs/protocol.md).
 *
 * Packing walks the format twice over copies of the same arguments: a
 * sizing pass (out NULL) and a writing pass straight into the caller's
 * block, so a message is allocated once at its exact size.  Array and map
 * headers need their item count before the items: it is counted from the
 * format (count_items), never from the arguments.
 *
 * Scanning reads bytes from the network one day: every header is checked
 * against the bytes left before anything is read, lengths are compared
 * as len > left (never pos + len, which could wrap), and skipping a value
 * is a loop with a counter of values still owed (no recursion an input
 * could deepen).  The recursion follows the format only, which is the
 * programmer's.
 */

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

/*
 * count_items counts the items of the sequence at f up to the bracket
 * close at the same depth; -1 if the format ends first or a bracket does
 * not pair (the parse that follows checks the rest).
 */
static int64_t
count_items(const char *f, char close)
{
	int64_t n = 0;
	int depth = 0;
	for (;;) {
		f = sep(f);
		char c = *f;
		if (c == '\0')
			return -1;
		if (c == '[' || c == '{') {
			if (depth++ == 0)
				n++;
			f++;
		} else if (c == ']' || c == '}') {
			if (depth == 0)
				return c == close ? n : -1;
			depth--;
			f++;
		} else if (c == '\'') {
			const char *e = strchr(f + 1, '\'');
			if (e == NULL)
				return -1;
			f = e + 1;
			n += depth == 0;
		} else if (c == '-' || digit(c)) {
			f++;
			while (digit(*f))
				f++;
			n += depth == 0;
		} else {
			f++;
			if (*f == '#')
				f++;
			n += depth == 0;
		}
	}
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

/* --------------------------------------------------------------- pack */

typedef struct pk {
	unsigned char *out; /* NULL: sizing pass */
	size_t n;
	uint64_t inc;
	va_list *ap;
} pk;

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

/* pack_seq packs items up to close ('\0': the end of the format). */
static int
pack_seq(pk *k, const char **fp, char close)
{
	const char *f = *fp;
	for (;;) {
		f = sep(f);
		char c = *f;
		if (c == close) {
			*fp = close != '\0' ? f + 1 : f;
			return 0;
		}
		f++;
		int rv = 0;
		switch (c) {
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
			size_t len;
			if (*f == '#') {
				f++;
				len = va_arg(*k->ap, size_t);
			} else {
				if (s == NULL)
					return TR_EINVAL;
				len = strlen(s);
			}
			rv = w_str(k, s, len);
			break;
		}
		case 'y': {
			if (*f != '#')
				return TR_EINVAL;
			f++;
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
			unsigned char b[18];
			rv = tr__term_put_pid(b, k->inc, p);
			if (rv == 0)
				put(k, b, sizeof(b));
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
		case '{': {
			char end = c == '[' ? ']' : '}';
			int64_t n = count_items(f, end);
			if (n < 0 || (c == '{' && n % 2 != 0) || n > UINT32_MAX)
				return TR_EINVAL;
			if (c == '[')
				w_len(k, 0x90, 15, 0, 0xdc, (uint32_t) n);
			else
				w_len(k, 0x80, 15, 0, 0xde, (uint32_t) (n / 2));
			rv = pack_seq(k, &f, end);
			break;
		}
		case '\'': {
			const char *e = strchr(f, '\'');
			if (e == NULL)
				return TR_EINVAL;
			rv = w_str(k, f, (size_t) (e - f));
			f = e + 1;
			break;
		}
		default: {
			int64_t v;
			f--;
			if ((c == '-' || digit(c)) && lit_int(&f, &v)) {
				w_int(k, v);
				break;
			}
			return TR_EINVAL; /* also a close that does not pair */
		}
		}
		if (rv != 0)
			return rv;
		/* Stay far below any size_t wrap: no term may be this big. */
		if (k->n > ((size_t) 1 << 40))
			return TR_ETOOBIG;
	}
}

/* check_seq checks the items up to close; scan: A, M and * allowed. */
static bool
check_seq(const char **fp, char close, bool scan)
{
	const char *f = *fp;
	for (;;) {
		f = sep(f);
		char c = *f;
		if (c == close) {
			*fp = close != '\0' ? f + 1 : f;
			return true;
		}
		f++;
		int64_t v;
		switch (c) {
		case 'i':
		case 'I':
		case 'u':
		case 'U':
		case 'f':
		case 'b':
		case 'n':
		case 'p':
		case 'r':
			break;
		case 's':
			f += *f == '#';
			break;
		case 'y':
			if (*f++ != '#')
				return false;
			break;
		case 'A':
		case 'M':
		case '*':
			if (!scan)
				return false;
			break;
		case '[':
		case '{': {
			char end = c == '[' ? ']' : '}';
			int64_t n = count_items(f, end);
			if (n < 0 || (c == '{' && n % 2 != 0) ||
			    !check_seq(&f, end, scan))
				return false;
			break;
		}
		case '\'':
			f = strchr(f, '\'');
			if (f == NULL)
				return false;
			f++;
			break;
		default:
			f--;
			if (!((c == '-' || digit(c)) && lit_int(&f, &v)))
				return false;
			break;
		}
	}
}

bool
tr__term_check(const char *fmt, bool scan)
{
	return fmt != NULL && check_seq(&fmt, '\0', scan);
}

int64_t
tr__term_size(uint64_t inc, const char *fmt, va_list *ap)
{
	if (fmt == NULL)
		return TR_EINVAL;
	pk k = { NULL, 0, inc, ap };
	int rv = pack_seq(&k, &fmt, '\0');
	return rv != 0 ? rv : (int64_t) k.n;
}

void
tr__term_write(uint64_t inc, void *out, const char *fmt, va_list *ap)
{
	pk k = { out, 0, inc, ap };
	(void) pack_seq(&k, &fmt, '\0');
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
	memset(v, 0, sizeof(*v));
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

static int scan_seq(sc *s, const char **fp, char close);

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

static int
scan_one(sc *s, const char **fp)
{
	const char *f = *fp;
	char c = *f++;
	val v;
	int rv;
	if (c == '*') {
		*fp = f;
		return skip_n(s, 1);
	}
	/* Check the format before reading bytes, so that a bad format is
	 * TR_EINVAL whatever the payload. */
	int64_t lit = 0;
	const char *lit_end = NULL;
	int64_t items = 0;
	switch (c) {
	case 'i':
	case 'I':
	case 'u':
	case 'U':
	case 'f':
	case 'b':
	case 'n':
	case 'p':
	case 'r':
	case 'A':
	case 'M':
		break;
	case 's':
		if (*f == '#')
			f++;
		break;
	case 'y':
		if (*f != '#')
			return TR_EINVAL;
		f++;
		break;
	case '[':
	case '{':
		items = count_items(f, c == '[' ? ']' : '}');
		if (items < 0 || (c == '{' && items % 2 != 0))
			return TR_EINVAL;
		break;
	case '\'':
		lit_end = strchr(f, '\'');
		if (lit_end == NULL)
			return TR_EINVAL;
		break;
	default:
		f--;
		if (!((c == '-' || digit(c)) && lit_int(&f, &lit)))
			return TR_EINVAL;
		c = '0';
		break;
	}
	if ((rv = rd(s, &v)) != 0)
		return rv;
	uint64_t u;
	switch (c) {
	case 'i':
		if ((rv = int_of(&v, true, INT32_MIN, INT32_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			int *o = va_arg(*s->ap, int *);
			if (o != NULL)
				*o = (int) (int64_t) u;
		}
		break;
	case 'I':
		if ((rv = int_of(&v, true, INT64_MIN, INT64_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			int64_t *o = va_arg(*s->ap, int64_t *);
			if (o != NULL)
				*o = (int64_t) u;
		}
		break;
	case 'u':
		if ((rv = int_of(&v, false, 0, UINT32_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			unsigned *o = va_arg(*s->ap, unsigned *);
			if (o != NULL)
				*o = (unsigned) u;
		}
		break;
	case 'U':
		if ((rv = int_of(&v, false, 0, UINT64_MAX, &u)) != 0)
			return rv;
		if (s->ap != NULL) {
			uint64_t *o = va_arg(*s->ap, uint64_t *);
			if (o != NULL)
				*o = u;
		}
		break;
	case '0':
		if (int_of(&v, true, INT64_MIN, INT64_MAX, &u) != 0 ||
		    (int64_t) u != lit)
			return TR_EBADTERM;
		break;
	case 'f': {
		if (v.kind != V_FLT)
			return TR_EBADTERM;
		double *o = OUT(s, double *);
		if (o != NULL)
			*o = v.d;
		break;
	}
	case 'b': {
		if (v.kind != V_BOOL)
			return TR_EBADTERM;
		bool *o = OUT(s, bool *);
		if (o != NULL)
			*o = v.u != 0;
		break;
	}
	case 'n':
		if (v.kind != V_NIL)
			return TR_EBADTERM;
		break;
	case 's': {
		if (v.kind != V_STR)
			return TR_EBADTERM;
		const char **o = OUT(s, const char **);
		size_t *ol = OUT(s, size_t *);
		if (o != NULL)
			*o = (const char *) v.ptr;
		if (ol != NULL)
			*ol = v.n;
		break;
	}
	case 'y': {
		if (v.kind != V_BIN)
			return TR_EBADTERM;
		const void **o = OUT(s, const void **);
		size_t *ol = OUT(s, size_t *);
		if (o != NULL)
			*o = v.ptr;
		if (ol != NULL)
			*ol = v.n;
		break;
	}
	case '\'': {
		size_t n = (size_t) (lit_end - f);
		if (v.kind != V_STR || v.n != n || memcmp(v.ptr, f, n) != 0)
			return TR_EBADTERM;
		f = lit_end + 1;
		break;
	}
	case 'p': {
		if (v.kind != V_EXT || v.ext != TR_PACK_EXT_PID)
			return TR_EBADTERM;
		tr_pid pid;
		if ((rv = tr__term_get_pid(v.ptr, v.n, s->inc, &pid)) != 0)
			return rv;
		tr_pid *o = OUT(s, tr_pid *);
		if (o != NULL)
			*o = pid;
		break;
	}
	case 'r': {
		if (v.kind != V_EXT || v.ext != TR_PACK_EXT_REF || v.n != 16)
			return TR_EBADTERM;
		uint64_t i = get_be(v.ptr, 8);
		uint64_t r = get_be(v.ptr + 8, 8);
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
		if (v.kind != (c == 'A' ? V_ARR : V_MAP))
			return TR_EBADTERM;
		size_t start = s->pos;
		uint64_t owed = c == 'A' ? v.n : 2 * (uint64_t) v.n;
		if ((rv = skip_n(s, owed)) != 0)
			return rv;
		tr_term_iter *o = OUT(s, tr_term_iter *);
		if (o != NULL) {
			o->count = v.n;
			o->ti_p = s->p + start;
			o->ti_len = s->pos - start;
			o->ti_left = owed;
			o->ti_inc = s->inc;
		}
		break;
	}
	case '[':
	case '{':
		if (v.kind != (c == '[' ? V_ARR : V_MAP) ||
		    (c == '[' ? (uint64_t) v.n : 2 * (uint64_t) v.n) !=
		        (uint64_t) items)
			return TR_EBADTERM;
		if ((rv = scan_seq(s, &f, c == '[' ? ']' : '}')) != 0)
			return rv;
		break;
	}
	*fp = f;
	return 0;
}

static int
scan_seq(sc *s, const char **fp, char close)
{
	const char *f = *fp;
	for (;;) {
		f = sep(f);
		if (*f == close) {
			*fp = close != '\0' ? f + 1 : f;
			return 0;
		}
		if (*f == '\0' || *f == ']' || *f == '}')
			return TR_EINVAL;
		int rv = scan_one(s, &f);
		if (rv != 0)
			return rv;
	}
}

int
tr__term_match(uint64_t inc, const void *data, size_t len, const char *fmt)
{
	sc s = { data, len, 0, inc, NULL };
	int rv = scan_seq(&s, &fmt, '\0');
	if (rv == 0 && s.pos != len)
		return TR_EBADTERM; /* trailing bytes */
	return rv;
}

int
tr__term_scan(uint64_t inc, const void *data, size_t len, const char *fmt,
    va_list *ap)
{
	if (!tr__term_check(fmt, true) || (data == NULL && len > 0))
		return TR_EINVAL;
	sc s = { data, len, 0, inc, ap };
	int rv = scan_seq(&s, &fmt, '\0');
	if (rv == 0 && s.pos != len)
		return TR_EBADTERM; /* trailing bytes */
	return rv;
}

int
tr__term_next(tr_term_iter *it, const char *fmt, va_list *ap)
{
	if (it == NULL || !tr__term_check(fmt, true))
		return TR_EINVAL;
	if (it->ti_left == 0)
		return TR_ENOENT;
	sc s = { it->ti_p, it->ti_len, 0, it->ti_inc, ap };
	const char *f = fmt;
	uint64_t used = 0;
	for (;;) {
		f = sep(f);
		if (*f == '\0')
			break;
		if (used == it->ti_left)
			return TR_EBADTERM;
		int rv = scan_one(&s, &f);
		if (rv != 0)
			return rv;
		used++;
	}
	it->ti_p = s.p + s.pos;
	it->ti_len -= s.pos;
	it->ti_left -= used;
	return 0;
}
