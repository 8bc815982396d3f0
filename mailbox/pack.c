/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * msgpack helpers.  One integer is encoded and decoded by hand (the
 * format is five lines of the msgpack spec) so the hot paths of the
 * benchmarks and of small messages need no allocation; everything else
 * goes through msgpack-c.  Pids are packed in actors/term.c, which knows
 * the system's incarnation.
 */

#include <string.h>

#include <troupe/pack.h>

#include "mailbox/mailbox.h"

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

size_t
tr_pack_int(void *buf, int64_t v)
{
	unsigned char *p = buf;
	if (p == NULL)
		return 0;
	if (v >= 0) {
		uint64_t u = (uint64_t) v;
		if (u < 128) {
			p[0] = (unsigned char) u;
			return 1;
		}
		if (u <= UINT8_MAX) {
			p[0] = 0xcc;
			p[1] = (unsigned char) u;
			return 2;
		}
		if (u <= UINT16_MAX) {
			p[0] = 0xcd;
			put_be(p + 1, u, 2);
			return 3;
		}
		if (u <= UINT32_MAX) {
			p[0] = 0xce;
			put_be(p + 1, u, 4);
			return 5;
		}
		p[0] = 0xcf;
		put_be(p + 1, u, 8);
		return 9;
	}
	if (v >= -32) {
		p[0] = (unsigned char) (int8_t) v;
		return 1;
	}
	if (v >= INT8_MIN) {
		p[0] = 0xd0;
		p[1] = (unsigned char) (int8_t) v;
		return 2;
	}
	if (v >= INT16_MIN) {
		p[0] = 0xd1;
		put_be(p + 1, (uint64_t) v, 2);
		return 3;
	}
	if (v >= INT32_MIN) {
		p[0] = 0xd2;
		put_be(p + 1, (uint64_t) v, 4);
		return 5;
	}
	p[0] = 0xd3;
	put_be(p + 1, (uint64_t) v, 8);
	return 9;
}

int
tr_unpack_int(const void *buf, size_t len, int64_t *v)
{
	const unsigned char *p = buf;
	if (v == NULL)
		return TR_EINVAL;
	if (len == 0 || p == NULL)
		return TR_EBADMSG;
	unsigned char t = p[0];
	size_t need;
	int64_t r;
	if (t < 0x80 || t >= 0xe0) {
		need = 1;
		r = (int8_t) t;
	} else {
		static const unsigned char sz[] = { 1, 2, 4, 8 };
		if (t >= 0xcc && t <= 0xcf) {
			need = 1 + sz[t - 0xcc];
			if (len != need)
				return TR_EBADMSG;
			uint64_t u = get_be(p + 1, (int) need - 1);
			if (u > INT64_MAX)
				return TR_EBADMSG;
			r = (int64_t) u;
		} else if (t >= 0xd0 && t <= 0xd3) {
			need = 1 + sz[t - 0xd0];
			if (len != need)
				return TR_EBADMSG;
			int n = (int) need - 1;
			uint64_t u = get_be(p + 1, n);
			if (n < 8 && (u >> (8 * n - 1)) != 0)
				u |= ~(uint64_t) 0 << (8 * n); /* sign-extend */
			r = (int64_t) u;
		} else {
			return TR_EBADMSG;
		}
	}
	if (len != need)
		return TR_EBADMSG;
	*v = r;
	return 0;
}

int
tr_msg_int(const tr_msg *m, int64_t *v)
{
	if (m == NULL || v == NULL)
		return TR_EINVAL;
	return tr_unpack_int(m->m_data, m->m_len, v);
}

int
tr_msg_unpack(const tr_msg *m, msgpack_unpacked *out)
{
	if (m == NULL || out == NULL)
		return TR_EINVAL;
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(out,
	    (const char *) m->m_data, m->m_len, &off);
	if (r == MSGPACK_UNPACK_NOMEM_ERROR)
		return TR_ENOMEM;
	if (r != MSGPACK_UNPACK_SUCCESS || off != m->m_len)
		return TR_EBADMSG;
	return 0;
}
