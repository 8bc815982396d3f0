/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Terms (troupe/term.h): encodings cross-checked with msgpack-c in both
 * directions for every type and every length class; range checks of the
 * integer items; malformed and hostile payloads (every truncation, lengths
 * near 2^32, deep nesting); bad formats; pids and references of this and
 * of another system; iterators; literals; and the term versions of send,
 * call, reply, send_after and selective receive between actors.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailbox/mailbox.h"
#include "testutil.h"

/* ----------------------------------------------------------- helpers */

typedef struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
} mp;

static void
mp_init(mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void
mp_fini(mp *m)
{
	msgpack_sbuffer_destroy(&m->sb);
}

/* pack_eq packs with fmt and checks the bytes are m's. */
#define PACK_EQ(m, fmt, ...)                                                \
	do {                                                                \
		int64_t n_ = tr_term_pack(NULL, NULL, 0, fmt, __VA_ARGS__); \
		assert_true(n_ >= 0);                                       \
		assert_int_equal((size_t) n_, (m)->sb.size);                \
		unsigned char *b_ = malloc((size_t) n_ + 1);                \
		assert_int_equal(tr_term_pack(NULL, b_, (size_t) n_, fmt,   \
		                     __VA_ARGS__),                          \
		    n_);                                                    \
		assert_memory_equal(b_, (m)->sb.data, (size_t) n_);         \
		free(b_);                                                   \
	} while (0)

static const int64_t ints[] = { 0, 1, 31, 32, 127, 128, 255, 256, 32767, 32768,
	65535, 65536, 2147483647LL, 2147483648LL, 4294967295LL, 4294967296LL,
	INT64_MAX, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769,
	-2147483647LL, -2147483647LL - 1, -2147483649LL, INT64_MIN + 1,
	INT64_MIN };
#define NINTS (sizeof(ints) / sizeof(ints[0]))

/* Every integer, by us and by msgpack-c, the same bytes; and back. */
static void
test_ints(void **state)
{
	(void) state;
	for (size_t i = 0; i < NINTS; i++) {
		mp m;
		mp_init(&m);
		msgpack_pack_int64(&m.pk, ints[i]);
		PACK_EQ(&m, "I", ints[i]);
		int64_t v = 0;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "I",
		                     &v),
		    0);
		assert_true(v == ints[i]);
		/* int: exactly when it fits. */
		int iv = 0;
		int want = ints[i] >= INT32_MIN && ints[i] <= INT32_MAX
		    ? 0
		    : TR_EBADTERM;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "i",
		                     &iv),
		    want);
		if (want == 0) {
			assert_int_equal(iv, ints[i]);
			PACK_EQ(&m, "i", (int) ints[i]);
		}
		unsigned uv = 0;
		want = ints[i] >= 0 && ints[i] <= UINT32_MAX ? 0 : TR_EBADTERM;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "u",
		                     &uv),
		    want);
		if (want == 0) {
			assert_true(uv == (uint64_t) ints[i]);
			PACK_EQ(&m, "u", (unsigned) ints[i]);
		}
		uint64_t Uv = 0;
		want = ints[i] >= 0 ? 0 : TR_EBADTERM;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "U",
		                     &Uv),
		    want);
		mp_fini(&m);
	}
	/* Unsigned 64-bit above INT64_MAX: U only. */
	uint64_t big[] = { (uint64_t) INT64_MAX + 1, UINT64_MAX };
	for (size_t i = 0; i < 2; i++) {
		mp m;
		mp_init(&m);
		msgpack_pack_uint64(&m.pk, big[i]);
		PACK_EQ(&m, "U", big[i]);
		uint64_t u = 0;
		int64_t s = 0;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "U",
		                     &u),
		    0);
		assert_true(u == big[i]);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "I",
		                     &s),
		    TR_EBADTERM);
		mp_fini(&m);
	}
	/* Wider forms than needed scan too (a peer may choose them). */
	const unsigned char wide[][9] = {
		{ 0xcf, 0, 0, 0, 0, 0, 0, 0, 5 },
		{ 0xd3, 0, 0, 0, 0, 0, 0, 0, 5 },
		{ 0xd1, 0, 5 },
		{ 0xcd, 0, 5 },
	};
	const size_t wlen[] = { 9, 9, 3, 3 };
	for (size_t i = 0; i < 4; i++) {
		int v = 0;
		assert_int_equal(tr_term_scan(NULL, wide[i], wlen[i], "i", &v),
		    0);
		assert_int_equal(v, 5);
		assert_int_equal(tr_term_scan(NULL, wide[i], wlen[i], "5"), 0);
		assert_int_equal(tr_term_scan(NULL, wide[i], wlen[i], "6"),
		    TR_EBADTERM);
	}
}

/* Floats, bools, nil. */
static void
test_scalars(void **state)
{
	(void) state;
	mp m;
	mp_init(&m);
	msgpack_pack_array(&m.pk, 5);
	msgpack_pack_double(&m.pk, 3.25);
	msgpack_pack_double(&m.pk, -0.0);
	msgpack_pack_true(&m.pk);
	msgpack_pack_false(&m.pk);
	msgpack_pack_nil(&m.pk);
	PACK_EQ(&m, "[f f b b n]", 3.25, -0.0, true, false);
	mp_fini(&m);
	mp_init(&m);
	msgpack_pack_array(&m.pk, 6);
	msgpack_pack_double(&m.pk, 3.25);
	msgpack_pack_double(&m.pk, -0.0);
	msgpack_pack_true(&m.pk);
	msgpack_pack_false(&m.pk);
	msgpack_pack_nil(&m.pk);
	msgpack_pack_float(&m.pk, 1.5f);
	double a = 0, b = 1, c = 0;
	bool t = false, f = true;
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "[f f b b n f]", &a, &b, &t, &f, &c),
	    0);
	assert_true(a == 3.25 && b == 0.0 && t && !f && c == 1.5);
	/* Types are strict. */
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "[i f b b n f]", NULL, NULL, NULL, NULL, NULL),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "[f f n b n f]", NULL, NULL, NULL, NULL),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "[f f b b b f]", NULL, NULL, NULL, NULL, NULL,
	                     NULL),
	    TR_EBADTERM);
	/* Counts are exact; trailing bytes refused. */
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "[f f b b n]",
	                     NULL, NULL, NULL, NULL),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "[f f b b n f f]", NULL, NULL, NULL, NULL, NULL,
	                     NULL),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "[* * * * * *]"),
	    0);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "*"), 0);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size - 1, "*"),
	    TR_EBADMSG);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "* n"),
	    TR_EBADMSG);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, ""),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, "", 0, ""), 0);
	assert_int_equal(tr_term_pack(NULL, NULL, 0, ""), 0);
	mp_fini(&m);
}

/* fill makes n bytes of recognisable text. */
static char *
fill(size_t n)
{
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char) ('a' + i % 26);
	s[n] = '\0';
	return s;
}

/* Strings and binaries of every length class, both ways. */
static void
test_str_bin(void **state)
{
	(void) state;
	const size_t lens[] = { 0, 1, 31, 32, 255, 256, 65535, 65536, 70000 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = lens[i];
		char *s = fill(n);
		mp m;
		mp_init(&m);
		msgpack_pack_str(&m.pk, n);
		msgpack_pack_str_body(&m.pk, s, n);
		PACK_EQ(&m, "s", s);
		PACK_EQ(&m, "s#", s, n);
		const char *p = NULL;
		size_t pl = 1234567;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "s",
		                     &p, &pl),
		    0);
		assert_int_equal(pl, n);
		assert_memory_equal(p, s, n);
		/* Zero copy: it points into the payload. */
		assert_true(p >= m.sb.data && p + n <= m.sb.data + m.sb.size);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "y#",
		                     NULL, NULL),
		    TR_EBADTERM);
		/* Every truncation is refused. */
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size - 1,
		                     "s", &p, &pl),
		    TR_EBADMSG);
		mp_fini(&m);

		mp_init(&m);
		msgpack_pack_bin(&m.pk, n);
		msgpack_pack_bin_body(&m.pk, s, n);
		PACK_EQ(&m, "y#", (const void *) s, n);
		const void *bp = NULL;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "y#",
		                     &bp, &pl),
		    0);
		assert_int_equal(pl, n);
		assert_memory_equal(bp, s, n);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "s",
		                     NULL, NULL),
		    TR_EBADTERM);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size - 1,
		                     "y#", &bp, &pl),
		    TR_EBADMSG);
		mp_fini(&m);
		free(s);
	}
	/* str8 for a short string (msgpack-c never writes it): accepted. */
	const unsigned char s8[] = { 0xd9, 2, 'h', 'i' };
	const char *p;
	size_t pl;
	assert_int_equal(tr_term_scan(NULL, s8, sizeof(s8), "s", &p, &pl), 0);
	assert_int_equal(pl, 2);
	assert_int_equal(tr_term_scan(NULL, s8, sizeof(s8), "'hi'"), 0);
	assert_int_equal(tr_term_scan(NULL, s8, sizeof(s8), "'ho'"),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, s8, sizeof(s8), "'h'"),
	    TR_EBADTERM);
	/* NULL arguments. */
	assert_int_equal(tr_term_pack(NULL, NULL, 0, "s", (const char *) NULL),
	    TR_EINVAL);
	assert_int_equal(tr_term_pack(NULL, NULL, 0, "s#", (const char *) NULL,
	                     (size_t) 0),
	    1);
	assert_int_equal(tr_term_pack(NULL, NULL, 0, "y#", (const void *) NULL,
	                     (size_t) 1),
	    TR_EINVAL);
	assert_int_equal(tr_term_pack(NULL, NULL, 0, "s#", "x",
	                     (size_t) UINT32_MAX + 1),
	    TR_ETOOBIG);
}

/* build_fmt makes open + n copies of item + close. */
static char *
build_fmt(char open, const char *item, size_t n, char close)
{
	size_t il = strlen(item);
	char *f = malloc(n * il + 3);
	size_t k = 0;
	f[k++] = open;
	for (size_t i = 0; i < n; i++) {
		memcpy(f + k, item, il);
		k += il;
	}
	f[k++] = close;
	f[k] = '\0';
	return f;
}

/* Arrays and maps of every header class, both ways; iterators. */
static void
test_arrays_maps(void **state)
{
	(void) state;
	const size_t counts[] = { 0, 1, 15, 16, 65535, 65536 };
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		size_t n = counts[i];
		mp m;
		mp_init(&m);
		msgpack_pack_array(&m.pk, n);
		for (size_t k = 0; k < n; k++)
			msgpack_pack_int(&m.pk, 7);
		char *f = build_fmt('[', "7 ", n, ']');
		PACK_EQ(&m, f, 0);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, f),
		    0);
		free(f);
		tr_term_iter it;
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "A",
		                     &it),
		    0);
		assert_int_equal(it.count, n);
		size_t seen = 0;
		int v;
		while (tr_term_next(&it, "i", &v) == 0) {
			assert_int_equal(v, 7);
			seen++;
		}
		assert_int_equal(seen, n);
		assert_int_equal(tr_term_next(&it, "i", &v), TR_ENOENT);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "M",
		                     &it),
		    TR_EBADTERM);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size - 1,
		                     "A", &it),
		    TR_EBADMSG);
		mp_fini(&m);

		mp_init(&m);
		msgpack_pack_map(&m.pk, n);
		for (size_t k = 0; k < n; k++) {
			msgpack_pack_str(&m.pk, 1);
			msgpack_pack_str_body(&m.pk, "k", 1);
			msgpack_pack_int(&m.pk, -40);
		}
		f = build_fmt('{', "'k':-40,", n, '}');
		PACK_EQ(&m, f, 0);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, f),
		    0);
		free(f);
		assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "M",
		                     &it),
		    0);
		assert_int_equal(it.count, n);
		seen = 0;
		const char *key;
		size_t kl;
		while (tr_term_next(&it, "s i", &key, &kl, &v) == 0) {
			assert_int_equal(kl, 1);
			assert_int_equal(v, -40);
			seen++;
		}
		assert_int_equal(seen, n);
		mp_fini(&m);
	}
	/* Nested, mixed; map pairs in order. */
	mp m;
	mp_init(&m);
	msgpack_pack_map(&m.pk, 2);
	msgpack_pack_str(&m.pk, 4);
	msgpack_pack_str_body(&m.pk, "name", 4);
	msgpack_pack_str(&m.pk, 3);
	msgpack_pack_str_body(&m.pk, "bob", 3);
	msgpack_pack_str(&m.pk, 4);
	msgpack_pack_str_body(&m.pk, "tags", 4);
	msgpack_pack_array(&m.pk, 2);
	msgpack_pack_array(&m.pk, 0);
	msgpack_pack_array(&m.pk, 1);
	msgpack_pack_nil(&m.pk);
	PACK_EQ(&m, "{'name': s, 'tags': [[] [n]]}", "bob");
	const char *name;
	size_t nl;
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "{'name': s, 'tags': [[] [n]]}", &name, &nl),
	    0);
	assert_int_equal(nl, 3);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "{'tags': *, 'name': s}", &name, &nl),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size,
	                     "{'name': s, 'tags': [[] [n n]]}", &name, &nl),
	    TR_EBADTERM);
	/* An iterator asked for more than is left. */
	tr_term_iter it;
	assert_int_equal(tr_term_scan(NULL, m.sb.data, m.sb.size, "M", &it), 0);
	assert_int_equal(tr_term_next(&it, "* * * * *"), TR_EBADTERM);
	assert_int_equal(tr_term_next(&it, "'name' 'bob'"), 0);
	tr_term_iter it2;
	assert_int_equal(tr_term_next(&it, "'tags' A", &it2), 0);
	assert_int_equal(it2.count, 2);
	assert_int_equal(tr_term_next(&it2, "[]"), 0);
	assert_int_equal(tr_term_next(&it2, "[n]"), 0);
	assert_int_equal(tr_term_next(&it2, "*"), TR_ENOENT);
	assert_int_equal(tr_term_next(&it, "*"), TR_ENOENT);
	assert_int_equal(tr_term_next(NULL, "i"), TR_EINVAL);
	mp_fini(&m);
}

/* Bad formats are TR_EINVAL, for pack and scan, whatever the data. */
static void
test_bad_formats(void **state)
{
	(void) state;
	const char *bad[] = { "[i", "i]", "{i}", "y", "q", "'abc", "[}", "{]",
		"-", "99999999999999999999", "[[i]", "i#" };
	unsigned char buf[16] = { 0x91, 0x01 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), bad[i], 1,
		                     2, 3),
		    TR_EINVAL);
		assert_int_equal(tr_term_scan(NULL, buf, 2, bad[i], NULL, NULL,
		                     NULL),
		    TR_EINVAL);
	}
	/* Scan-only items in a pack. */
	assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), "*"), TR_EINVAL);
	assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), "A", NULL),
	    TR_EINVAL);
	assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), NULL), TR_EINVAL);
	assert_int_equal(tr_term_scan(NULL, buf, 2, NULL), TR_EINVAL);
	assert_int_equal(tr_term_scan(NULL, NULL, 2, "*"), TR_EINVAL);
	/* A format in a buffer that changes: the compiled-format cache
	 * sees the new text at the same address. */
	char fb[32];
	for (int k = 0; k < 3; k++) {
		strcpy(fb, "[i]");
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), fb, 1),
		    2);
		assert_int_equal(tr_term_scan(NULL, buf, 2, fb, NULL), 0);
		strcpy(fb, "[i i]");
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), fb, 1, 2),
		    3);
		assert_int_equal(tr_term_scan(NULL, buf, 3, fb, NULL, NULL), 0);
		strcpy(fb, "[i");
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), fb, 1),
		    TR_EINVAL);
	}
	/* A bad format compiled into the cache slot of a good one must not
	 * leave the good one's entry pointing at its broken ops: try the
	 * bad one at many addresses, so that one shares the good one's
	 * slot whatever the cache's hash. */
	static const char good[] = "[i i]";
	char *arena = calloc(256, 16);
	for (int k = 0; k < 256; k++) {
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), good, 1,
		                     2),
		    3);
		strcpy(arena + 16 * k, "[i");
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf),
		                     arena + 16 * k, 1),
		    TR_EINVAL);
		assert_int_equal(tr_term_scan(NULL, buf, 3, arena + 16 * k,
		                     NULL),
		    TR_EINVAL);
		assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), good, 1,
		                     2),
		    3);
		assert_int_equal(buf[0], 0x92);
		assert_int_equal(tr_term_scan(NULL, buf, 3, good, NULL, NULL),
		    0);
	}
	free(arena);
	/* Deeper than 32 brackets: a bad format. */
	char deep[80];
	memset(deep, '[', 33);
	memset(deep + 33, ']', 33);
	deep[66] = '\0';
	assert_int_equal(tr_term_pack(NULL, NULL, 0, deep), TR_EINVAL);
	deep[32] = deep[33] = ' '; /* 32 deep: fine */
	assert_int_equal(tr_term_pack(NULL, NULL, 0, deep), 32);
	/* Too small a buffer: the length, nothing written. */
	unsigned char out[4] = { 0xee, 0xee, 0xee, 0xee };
	assert_int_equal(tr_term_pack(NULL, out, 3, "[i i i]", 1, 2, 300), 6);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(tr_term_pack(NULL, NULL, 10, "[i]", 1), TR_EINVAL);
}

/* Hostile bytes: lengths near 2^32, counts far past the end, nesting
 * deeper than any stack, and every prefix of a valid term. */
static void
test_hostile(void **state)
{
	(void) state;
	const unsigned char h[][8] = {
		{ 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' },  /* str32 4 GiB */
		{ 0xc6, 0xff, 0xff, 0xff, 0xfe, 'a' },  /* bin32 */
		{ 0xc9, 0xff, 0xff, 0xff, 0xff, 1, 0 }, /* ext32 */
		{ 0xdd, 0xff, 0xff, 0xff, 0xff, 1 },    /* array32 */
		{ 0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2 }, /* map32 */
		{ 0xc1 },                               /* never used */
		{ 0xd8, 1, 0 },                         /* short fixext16 */
	};
	const size_t hl[] = { 6, 6, 7, 6, 7, 1, 3 };
	for (size_t i = 0; i < sizeof(hl) / sizeof(hl[0]); i++) {
		tr_term_iter it;
		assert_int_equal(tr_term_scan(NULL, h[i], hl[i], "*"),
		    TR_EBADMSG);
		int rv = tr_term_scan(NULL, h[i], hl[i], "A", &it);
		assert_true(rv == TR_EBADMSG || rv == TR_EBADTERM);
		const char *s;
		size_t sl;
		rv = tr_term_scan(NULL, h[i], hl[i], "s", &s, &sl);
		assert_true(rv == TR_EBADMSG || rv == TR_EBADTERM);
	}
	/* A million nested arrays: skipped without recursion. */
	size_t deep = 1000000;
	unsigned char *d = malloc(deep + 1);
	memset(d, 0x91, deep);
	d[deep] = 0xc0;
	assert_int_equal(tr_term_scan(NULL, d, deep + 1, "*"), 0);
	assert_int_equal(tr_term_scan(NULL, d, deep, "*"), TR_EBADMSG);
	tr_term_iter it;
	assert_int_equal(tr_term_scan(NULL, d, deep + 1, "A", &it), 0);
	assert_int_equal(tr_term_scan(NULL, d, deep + 1, "[[*]]"), 0);
	free(d);
	/* Every prefix of a rich term is refused, never read past. */
	tr_system *sys;
	assert_int_equal(tr_system_start(&sys, NULL), 0);
	unsigned char buf[256];
	int64_t n = tr_term_pack(sys, buf, sizeof(buf),
	    "[i 'abc' {s: [f b n]} y# p r U]", -5, "key", 1.0, true,
	    (const void *) "xyz", (size_t) 3, (tr_pid){ 0, 4, 5 },
	    (uint64_t) 77, UINT64_MAX);
	assert_true(n > 0);
	for (int64_t k = 0; k < n; k++) {
		unsigned char *cp = malloc(
		    (size_t) k + 1); /* ASan sees reads */
		memcpy(cp, buf, (size_t) k);
		int rv = tr_term_scan(sys, cp, (size_t) k,
		    "[i 'abc' {s: [f b n]} y# p r U]", NULL, NULL, NULL, NULL,
		    NULL, NULL, NULL, NULL, NULL, NULL);
		assert_int_equal(rv, TR_EBADMSG);
		rv = tr_term_scan(sys, cp, (size_t) k, "*");
		assert_int_equal(rv, TR_EBADMSG);
		free(cp);
	}
	assert_int_equal(tr_term_scan(sys, buf, (size_t) n,
	                     "[i 'abc' {s: [f b n]} y# p r U]", NULL, NULL,
	                     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	    0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* Pids and references: global encodings, this system's and another's. */
static void
test_pids_refs(void **state)
{
	(void) state;
	tr_system *a, *b;
	assert_int_equal(tr_system_start(&a, NULL), 0);
	assert_int_equal(tr_system_start(&b, NULL), 0);
	uint64_t ia = tr_system_incarnation(a);
	assert_true(ia != 0 && ia != tr_system_incarnation(b));
	assert_true(tr_system_incarnation(NULL) == 0);
	tr_pid p = { 0, 70000, 12345 };
	unsigned char buf[128];
	int64_t n = tr_term_pack(a, buf, sizeof(buf), "[p r p r]", p,
	    (uint64_t) 0x0102030405060708ULL, TR_PID_NIL, (uint64_t) 0);
	assert_int_equal(n, 1 + 4 * 18);
	/* The bytes of docs/protocol.md. */
	const unsigned char *e = buf + 1;
	assert_int_equal(e[0], 0xd8);
	assert_int_equal(e[1], TR_PACK_EXT_PID);
	uint64_t inc = 0;
	for (int k = 0; k < 8; k++)
		inc = inc << 8 | e[2 + k];
	assert_true(inc == ia);
	const unsigned char sg[] = { 0, 1, 0x11, 0x70, 0, 0, 0x30, 0x39 };
	assert_memory_equal(e + 10, sg, 8);
	e += 18;
	assert_int_equal(e[0], 0xd8);
	assert_int_equal(e[1], TR_PACK_EXT_REF);
	assert_memory_equal(e + 2, buf + 3, 8);
	const unsigned char rv8[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	assert_memory_equal(e + 10, rv8, 8);
	e += 18;
	const unsigned char nilpid[] = { 0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff, 0xff, 0xff, 0, 0, 0, 0 };
	assert_memory_equal(e, nilpid, 18);
	e += 18;
	const unsigned char noref[18] = { 0xd8, 2 };
	assert_memory_equal(e, noref, 18);

	tr_pid q = { 1, 1, 1 }, qn = { 1, 1, 1 };
	uint64_t r = 0, rn = 9;
	assert_int_equal(tr_term_scan(a, buf, (size_t) n, "[p r p r]", &q, &r,
	                     &qn, &rn),
	    0);
	assert_true(tr_pid_eq(q, p) && r == 0x0102030405060708ULL);
	assert_true(tr_pid_is_nil(qn) && rn == 0);
	/* Another system: not its pids. */
	assert_int_equal(tr_term_scan(b, buf, (size_t) n, "[p * * *]", &q),
	    TR_ENOTLOCAL);
	assert_int_equal(tr_term_scan(b, buf, (size_t) n, "[* r * *]", &r),
	    TR_ENOTLOCAL);
	assert_int_equal(tr_term_scan(b, buf, (size_t) n, "[* * p r]", &q, &r),
	    0);
	assert_int_equal(tr_term_scan(NULL, buf, (size_t) n, "[p * * *]", &q),
	    TR_ENOTLOCAL);
	/* Packing: no system, another node. */
	assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), "p", p),
	    TR_EINVAL);
	assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), "r",
	                     (uint64_t) 5),
	    TR_EINVAL);
	assert_int_equal(tr_term_pack(NULL, buf, sizeof(buf), "p", TR_PID_NIL),
	    18);
	assert_int_equal(tr_term_pack(a, buf, sizeof(buf), "p",
	                     (tr_pid){ 2, 1, 1 }),
	    TR_ENOTLOCAL);
	/* msgpack-c reads it as ext; an ext of another size is refused. */
	n = tr_term_pack(a, buf, sizeof(buf), "p", p);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, (const char *) buf, (size_t) n,
	                     NULL),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_EXT);
	assert_int_equal(u.data.via.ext.size, 16);
	assert_int_equal(tr_unpack_pid(a, &u.data, &q), 0);
	assert_true(tr_pid_eq(q, p));
	msgpack_unpacked_destroy(&u);
	const unsigned char ext8[] = { 0xc7, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
	assert_int_equal(tr_term_scan(a, ext8, sizeof(ext8), "p", &q), 0);
	assert_true(tr_pid_is_nil(q));
	const unsigned char ext4[] = { 0xd6, 1, 0, 0, 0, 1 };
	assert_int_equal(tr_term_scan(a, ext4, sizeof(ext4), "p", &q),
	    TR_EBADTERM);
	assert_int_equal(tr_term_scan(a, ext4, sizeof(ext4), "*"), 0);
	assert_int_equal(tr_system_stop(b), 0);
	assert_int_equal(tr_system_stop(a), 0);
}

/* Random terms round-trip (values and encodings). */
static void
test_random_roundtrip(void **state)
{
	(void) state;
	uint64_t seed = 0x5eed;
	for (int i = 0; i < 20000; i++) {
		int64_t v = (int64_t) tu_rand(&seed) >> (tu_rand(&seed) % 64);
		uint64_t uv = tu_rand(&seed) >> (tu_rand(&seed) % 64);
		double d = (double) v / 3.0;
		size_t sl = tu_rand(&seed) % 300;
		char *s = fill(sl);
		unsigned char buf[512];
		int64_t n = tr_term_pack(NULL, buf, sizeof(buf), "[I U f s#]",
		    v, uv, d, s, sl);
		assert_true(n > 0);
		int64_t v2;
		uint64_t u2;
		double d2;
		const char *s2;
		size_t sl2;
		assert_int_equal(tr_term_scan(NULL, buf, (size_t) n,
		                     "[I U f s#]", &v2, &u2, &d2, &s2, &sl2),
		    0);
		assert_true(v2 == v && u2 == uv && d2 == d && sl2 == sl);
		assert_memory_equal(s2, s, sl);
		/* msgpack-c agrees. */
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		assert_int_equal(msgpack_unpack_next(&u, (const char *) buf,
		                     (size_t) n, NULL),
		    MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(u.data.via.array.size, 4);
		msgpack_object *o = u.data.via.array.ptr;
		assert_true(
		    v >= 0 ? o[0].via.u64 == (uint64_t) v : o[0].via.i64 == v);
		assert_true(o[1].via.u64 == uv);
		assert_true(o[2].via.f64 == d);
		assert_int_equal(o[3].via.str.size, sl);
		msgpack_unpacked_destroy(&u);
		free(s);
	}
}

/* ------------------------------------------------------------- actors */

enum { T_PUT = 1, T_GET, T_GOT, T_TICK, T_OTHER, T_STOPME };

typedef struct kv {
	int puts;
	int64_t last;
	char key[16];
} kv;

/* An event server: put and get with terms, replies with terms. */
static int
kv_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	kv *s = state;
	const char *k;
	size_t kl;
	int64_t v;
	tr_pid from;
	switch (tr_msg_tag(m)) {
	case T_PUT:
		TU_CHECK_EQ(tr_msg_scan(cx, m, "['put' s I p]", &k, &kl, &v,
		                &from),
		    0);
		TU_CHECK(tr_pid_eq(from, tr_msg_from(m)) ||
		    tr_pid_is_nil(tr_msg_from(m)));
		TU_CHECK(kl < sizeof(s->key));
		memcpy(s->key, k, kl);
		s->key[kl] = '\0';
		s->last = v;
		s->puts++;
		return TR_CONTINUE;
	case T_GET:
		TU_CHECK_EQ(tr_msg_scan(cx, m, "['get' s]", &k, &kl), 0);
		if (kl == strlen(s->key) && memcmp(k, s->key, kl) == 0)
			TU_CHECK_EQ(tr_reply_term(cx, m, T_GOT, "['ok' I i]",
			                s->last, s->puts),
			    0);
		else
			TU_CHECK_EQ(tr_reply_term(cx, m, T_GOT, "'none'"), 0);
		return TR_CONTINUE;
	case T_STOPME:
		return TR_STOP;
	}
	return TR_CONTINUE;
}

typedef struct client {
	tr_pid srv;
	_Atomic int done;
} client;

/* A process: sends, calls, selective receive of a pattern, timers. */
static void
client_proc(tr_ctx *cx, void *arg)
{
	client *c = arg;
	tr_pid self = tr_self(cx);
	TU_CHECK_EQ(tr_send_term(cx, c->srv, T_PUT, "['put' s I p]", "k",
	                (int64_t) 42, self),
	    0);
	tr_msg *rep = NULL;
	TU_CHECK_EQ(tr_call_term(cx, c->srv, T_GET, 5000 * TU_SLOW, &rep,
	                "['get' s]", "k"),
	    0);
	int64_t v = 0;
	int n = 0;
	TU_CHECK_EQ(tr_msg_scan(cx, rep, "['ok' I i]", &v, &n), 0);
	TU_CHECK(v == 42 && n == 3);
	tr_msg_free(rep);
	TU_CHECK_EQ(tr_call_term(cx, c->srv, T_GET, 5000 * TU_SLOW, &rep,
	                "['get' s]", "nokey"),
	    0);
	TU_CHECK_EQ(tr_msg_scan(cx, rep, "'none'"), 0);
	tr_msg_free(rep);

	/* Selective receive: the tick comes after a nonmatching message
	 * and a message of the same tag with another shape; both stay. */
	TU_CHECK_EQ(tr_send_term(cx, self, T_TICK, "['tock' i]", 1), 0);
	TU_CHECK_EQ(tr_send_term(cx, self, T_OTHER, "['tick' i]", 2), 0);
	TU_CHECK_EQ(tr_send_after_term(cx, self, 5, T_TICK, NULL, "['tick' i]",
	                3),
	    0);
	int k = 0;
	tr_msg *m = tr_receive_term(cx, T_TICK, 10000 * TU_SLOW, "['tick' i]",
	    &k);
	TU_CHECK(m != NULL && k == 3);
	tr_msg_free(m);
	m = tr_receive_term(cx, T_TICK, 0, "['tick' i]", &k);
	TU_CHECK(m == NULL);
	m = tr_receive(cx, 0);
	TU_CHECK(m != NULL && tr_msg_tag(m) == T_TICK);
	TU_CHECK_EQ(tr_msg_scan(cx, m, "['tock' i]", &k), 0);
	TU_CHECK(k == 1);
	tr_msg_free(m);
	m = tr_receive(cx, 0);
	TU_CHECK(m != NULL && tr_msg_tag(m) == T_OTHER);
	tr_msg_free(m);
	/* A bad pattern returns at once. */
	TU_CHECK(tr_receive_term(cx, T_TICK, TR_INFINITY, "[i") == NULL);

	/* Asynchronous call. */
	uint64_t ref = 0;
	TU_CHECK_EQ(tr_call_async_term(cx, c->srv, T_GET, 5000 * TU_SLOW, &ref,
	                "['get' s]", "k"),
	    0);
	m = tr_receive_ref(cx, ref, TR_INFINITY);
	TU_CHECK(m != NULL && (tr_msg_flags(m) & TR_MSG_REPLY));
	TU_CHECK_EQ(tr_msg_scan(cx, m, "['ok' I i]", &v, &n), 0);
	tr_msg_free(m);

	/* Errors mirror the byte calls. */
	TU_CHECK_EQ(tr_send_term(cx, TR_PID_NIL, T_PUT, "n"), TR_EINVAL);
	TU_CHECK_EQ(tr_send_term(cx, (tr_pid){ 3, 1, 1 }, T_PUT, "n"),
	    TR_ENOTLOCAL);
	TU_CHECK_EQ(tr_send_term(cx, c->srv, T_PUT, "[i"), TR_EINVAL);
	TU_CHECK_EQ(tr_send_term(cx, c->srv, T_PUT, "p", (tr_pid){ 3, 1, 1 }),
	    TR_ENOTLOCAL);
	TU_CHECK_EQ(tr_call_term(cx, self, T_GET, 10, &rep, "n"), TR_EDEADLK);
	TU_CHECK_EQ(tr_call_term(cx, c->srv, T_GET, 10, NULL, "n"), TR_EINVAL);
	TU_CHECK_EQ(tr_call_term(cx, c->srv, TR_TAG_SYSTEM, 10, &rep, "n"),
	    TR_EINVAL);
	TU_CHECK_EQ(tr_send_after_term(cx, self, -1, T_TICK, NULL, "n"),
	    TR_EINVAL);
	TU_CHECK_EQ(tr_reply_term(cx, NULL, T_GOT, "n"), TR_EINVAL);
	TU_CHECK_EQ(tr_msg_scan(cx, NULL, "n"), TR_EINVAL);
	TU_CHECK_EQ(tr_send_term(cx, c->srv, T_STOPME, ""), 0);
	atomic_store(&c->done, 1);
}

static void
test_actors(void **state)
{
	(void) state;
	tu_reset_failures();
	tr_system *sys;
	assert_int_equal(tr_system_start(&sys, NULL), 0);
	kv *s = calloc(1, sizeof(*s));
	tr_spawn_opts so = { .state_free = free, .flags = TR_SPAWN_WAIT };
	tr_pid srv;
	assert_int_equal(tr_spawn(sys, &srv, kv_fn, s, &so), 0);
	/* A plain thread: send, call, send_after. */
	assert_int_equal(tr_system_send_term(sys, srv, T_PUT, "['put' s I p]",
	                     "k", (int64_t) 7, TR_PID_NIL),
	    0);
	tr_msg *rep = NULL;
	assert_int_equal(tr_system_call_term(sys, srv, T_GET, 5000 * TU_SLOW,
	                     &rep, "['get' s]", "k"),
	    0);
	int64_t v = 0;
	int n = 0;
	assert_int_equal(tr_system_msg_scan(sys, rep, "['ok' I i]", &v, &n), 0);
	assert_true(v == 7 && n == 1);
	tr_msg_free(rep);
	/* A big term goes through the heap buffer. */
	char *big = fill(5000);
	assert_int_equal(tr_system_send_term(sys, srv, T_PUT, "['put' s I p]",
	                     "k", (int64_t) 8, TR_PID_NIL),
	    0);
	assert_int_equal(tr_system_send_after_term(sys, srv, 1, T_OTHER, NULL,
	                     "[s]", big),
	    0);
	free(big);
	assert_int_equal(tr_system_send_term(NULL, srv, T_PUT, "n"), TR_EINVAL);
	assert_int_equal(tr_system_send_term(sys, srv, T_PUT, "{i}", 1),
	    TR_EINVAL);
	assert_int_equal(tr_system_call_term(sys, srv, T_GET, 10, NULL, "n"),
	    TR_EINVAL);
	assert_int_equal(tr_system_send_after_term(sys, TR_PID_NIL, 1, T_OTHER,
	                     NULL, "n"),
	    TR_EINVAL);
	assert_int_equal(tr_msg_scan(NULL, NULL, "n"), TR_ECONTEXT);
	assert_int_equal(tr_send_term(NULL, srv, T_PUT, "n"), TR_ECONTEXT);
	assert_int_equal(tr_call_term(NULL, srv, T_PUT, 1, &rep, "n"),
	    TR_ECONTEXT);
	assert_int_equal(tr_call_async_term(NULL, srv, T_PUT, 1, NULL, "n"),
	    TR_ECONTEXT);
	assert_int_equal(tr_reply_to_term(NULL, srv, 1, T_PUT, "n"),
	    TR_ECONTEXT);
	assert_int_equal(tr_send_after_term(NULL, srv, 1, T_PUT, NULL, "n"),
	    TR_ECONTEXT);
	assert_null(tr_receive_term(NULL, T_PUT, 0, "n"));

	client c = { .srv = srv };
	tr_pid cl;
	tr_spawn_opts co = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn_process(sys, &cl, client_proc, &c, &co), 0);
	tr_exit_info info;
	assert_int_equal(tr_wait(sys, cl, 30000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_int_equal(tr_wait(sys, srv, 30000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&c.done), 1);
	tu_assert_no_failures();
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_str_bin),
		cmocka_unit_test(test_arrays_maps),
		cmocka_unit_test(test_bad_formats),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_pids_refs),
		cmocka_unit_test(test_random_roundtrip),
		cmocka_unit_test(test_actors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
