/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Payload helpers (troupe/pack.h) and the error table (troupe/defs.h):
 * integer encoding at every width boundary, malformed input, msgpack maps
 * through tr_msg_unpack, sends of packed payloads between actors, and
 * tr_strerror / tr_err_name for every code.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mailbox/mailbox.h"
#include "testutil.h"

/* The length of the shortest msgpack encoding of v. */
static size_t
shortest_len(int64_t v)
{
	if (v >= -32 && v <= 127)
		return 1;
	if (v >= 0) {
		if (v <= UINT8_MAX)
			return 2;
		if (v <= UINT16_MAX)
			return 3;
		if (v <= (int64_t) UINT32_MAX)
			return 5;
		return 9;
	}
	if (v >= INT8_MIN)
		return 2;
	if (v >= INT16_MIN)
		return 3;
	if (v >= INT32_MIN)
		return 5;
	return 9;
}

static const int64_t boundary[] = {
	0,
	1,
	-1,
	2,
	31,
	32,
	126,
	127,
	128,
	129,
	200,
	254,
	255,
	256,
	257,
	-2,
	-31,
	-32,
	-33,
	-34,
	-100,
	-127,
	-128,
	-129,
	-130,
	INT16_MAX - 1,
	INT16_MAX,
	(int64_t) INT16_MAX + 1,
	40000,
	UINT16_MAX - 1,
	UINT16_MAX,
	(int64_t) UINT16_MAX + 1,
	INT16_MIN + 1,
	INT16_MIN,
	(int64_t) INT16_MIN - 1,
	INT32_MAX - 1,
	INT32_MAX,
	(int64_t) INT32_MAX + 1,
	(int64_t) UINT32_MAX - 1,
	(int64_t) UINT32_MAX,
	(int64_t) UINT32_MAX + 1,
	INT32_MIN + 1,
	INT32_MIN,
	(int64_t) INT32_MIN - 1,
	INT64_MAX - 1,
	INT64_MAX,
	INT64_MIN + 1,
	INT64_MIN,
	0x0123456789abcdefll,
	-0x0123456789abcdefll,
};

static void
test_int_roundtrip(void **unused)
{
	(void) unused;
	for (size_t i = 0; i < sizeof boundary / sizeof boundary[0]; i++) {
		int64_t v = boundary[i];
		unsigned char buf[TR_PACK_INT_MAX + 4];
		memset(buf, 0xee, sizeof buf);
		size_t n = tr_pack_int(buf, v);
		if (n != shortest_len(v))
			fprintf(stderr, "value %lld: %zu bytes, want %zu\n",
			    (long long) v, n, shortest_len(v));
		assert_int_equal(n, shortest_len(v));
		assert_true(n <= TR_PACK_INT_MAX);
		assert_int_equal(buf[n], 0xee); /* wrote no further */
		int64_t out = ~v;
		assert_int_equal(tr_unpack_int(buf, n, &out), 0);
		assert_true(out == v);

		/* msgpack-c reads what we wrote as the same integer. */
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		size_t off = 0;
		assert_int_equal(msgpack_unpack_next(&u, (const char *) buf, n,
		                     &off),
		    MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, n);
		if (v >= 0) {
			assert_int_equal(u.data.type,
			    MSGPACK_OBJECT_POSITIVE_INTEGER);
			assert_true(u.data.via.u64 == (uint64_t) v);
		} else {
			assert_int_equal(u.data.type,
			    MSGPACK_OBJECT_NEGATIVE_INTEGER);
			assert_true(u.data.via.i64 == v);
		}
		msgpack_unpacked_destroy(&u);

		/* And we read what msgpack-c writes, in every form it picks. */
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_int64(&pk, v);
		out = ~v;
		assert_int_equal(tr_unpack_int(sb.data, sb.size, &out), 0);
		assert_true(out == v);
		msgpack_sbuffer_clear(&sb);
		if (v >= 0) {
			msgpack_pack_uint64(&pk, (uint64_t) v);
			out = ~v;
			assert_int_equal(tr_unpack_int(sb.data, sb.size, &out),
			    0);
			assert_true(out == v);
		}
		msgpack_sbuffer_destroy(&sb);
	}
}

static void
test_int_wider_forms(void **unused)
{
	(void) unused;
	/* Valid msgpack integers that are not the shortest form. */
	static const struct {
		unsigned char b[9];
		size_t n;
		int64_t v;
	} ok[] = {
		{ { 0xcc, 0x05 }, 2, 5 },
		{ { 0xcd, 0x00, 0x01 }, 3, 1 },
		{ { 0xce, 0x00, 0x00, 0x00, 0x7f }, 5, 127 },
		{ { 0xcf, 0, 0, 0, 0, 0, 0, 0, 3 }, 9, 3 },
		{ { 0xd0, 0xff }, 2, -1 },
		{ { 0xd0, 0x05 }, 2, 5 },
		{ { 0xd1, 0xff, 0xfe }, 3, -2 },
		{ { 0xd2, 0x80, 0, 0, 0 }, 5, INT32_MIN },
		{ { 0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9,
		    -1 },
		{ { 0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9,
		    INT64_MAX },
		{ { 0xe0 }, 1, -32 },
		{ { 0x7f }, 1, 127 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = 12345;
		assert_int_equal(tr_unpack_int(ok[i].b, ok[i].n, &v), 0);
		assert_true(v == ok[i].v);
	}
}

static void
test_int_malformed(void **unused)
{
	(void) unused;
	static const struct {
		unsigned char b[10];
		size_t n;
	} bad[] = {
		{ { 0 }, 0 },          /* empty */
		{ { 0xcd, 0x01 }, 2 }, /* truncated */
		{ { 0xcc }, 1 }, { { 0xd3, 0, 0, 0, 0, 0, 0, 0 }, 8 },
		{ { 0x01, 0x02 }, 2 }, /* trailing */
		{ { 0xcc, 0x01, 0x00 }, 3 },
		{ { 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9 }, /* > INT64_MAX */
		{ { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
		{ { 0xc0 }, 1 },                               /* nil */
		{ { 0xc2 }, 1 },                               /* false */
		{ { 0xc3 }, 1 },                               /* true */
		{ { 0xc1 }, 1 },                               /* never used */
		{ { 0xa1, 'a' }, 2 },                          /* str */
		{ { 0x90 }, 1 },                               /* array */
		{ { 0x80 }, 1 },                               /* map */
		{ { 0xca, 0x3f, 0x80, 0, 0 }, 5 },             /* float 1.0 */
		{ { 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0 }, 9 }, /* double 1.0 */
		{ { 0xc4, 0x01, 0x00 }, 3 },                   /* bin */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 777;
		int rv = tr_unpack_int(bad[i].b, bad[i].n, &v);
		if (rv != TR_EBADMSG)
			fprintf(stderr, "case %zu: %s, value %lld\n", i,
			    tr_err_name(rv), (long long) v);
		assert_int_equal(rv, TR_EBADMSG);
	}
}

/* ------------------------------------------ tr_msg_unpack and friends */

/* Packs {"name": "troupe", "n": -5, "list": [1, 2, 3]} into sb. */
static void
pack_map(msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, "troupe", 6);
	msgpack_pack_str_with_body(&pk, "n", 1);
	msgpack_pack_int(&pk, -5);
	msgpack_pack_str_with_body(&pk, "list", 4);
	msgpack_pack_array(&pk, 3);
	for (int i = 1; i <= 3; i++)
		msgpack_pack_int(&pk, i);
}

/* Checks the map pack_map made; returns true if it is intact. */
static bool
map_ok(const msgpack_object *o)
{
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 3)
		return false;
	const msgpack_object_kv *kv = o->via.map.ptr;
	if (kv[0].key.type != MSGPACK_OBJECT_STR ||
	    kv[0].key.via.str.size != 4 ||
	    memcmp(kv[0].key.via.str.ptr, "name", 4) != 0 ||
	    kv[0].val.type != MSGPACK_OBJECT_STR ||
	    kv[0].val.via.str.size != 6 ||
	    memcmp(kv[0].val.via.str.ptr, "troupe", 6) != 0)
		return false;
	if (kv[1].val.type != MSGPACK_OBJECT_NEGATIVE_INTEGER ||
	    kv[1].val.via.i64 != -5)
		return false;
	if (kv[2].val.type != MSGPACK_OBJECT_ARRAY ||
	    kv[2].val.via.array.size != 3 ||
	    kv[2].val.via.array.ptr[2].via.u64 != 3)
		return false;
	return true;
}

/* A message made directly from a pool, as the runtime makes them. */
static tr__pool_global *pool;

static tr_msg *
raw_msg(const void *data, size_t len)
{
	tr_msg *m = tr__msg_new_shared(pool, len);
	assert_non_null(m);
	m->m_from = TR_PID_NIL;
	m->m_tag = 1;
	m->m_ref = 0;
	m->m_flags = 0;
	if (len > 0)
		memcpy(m->m_data, data, len);
	return m;
}

static void
test_msg_unpack(void **unused)
{
	(void) unused;
	pool = tr__pool_global_alloc();
	assert_non_null(pool);
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	pack_map(&sb);

	tr_msg *m = raw_msg(sb.data, sb.size);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	assert_int_equal(tr_msg_unpack(m, &u), 0);
	assert_true(map_ok(&u.data));
	msgpack_unpacked_destroy(&u);
	tr__msg_delete_shared(pool, m);

	/* Truncated at every length: never a success, never a crash. */
	for (size_t n = 0; n < sb.size; n++) {
		m = raw_msg(sb.data, n);
		msgpack_unpacked_init(&u);
		assert_int_equal(tr_msg_unpack(m, &u), TR_EBADMSG);
		msgpack_unpacked_destroy(&u);
		tr__msg_delete_shared(pool, m);
	}

	/* Two objects: trailing bytes. */
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_int(&pk, 1);
	m = raw_msg(sb.data, sb.size);
	msgpack_unpacked_init(&u);
	assert_int_equal(tr_msg_unpack(m, &u), TR_EBADMSG);
	msgpack_unpacked_destroy(&u);
	tr__msg_delete_shared(pool, m);

	/* One integer: tr_msg_int reads it, a map is not an integer. */
	unsigned char ib[TR_PACK_INT_MAX];
	size_t in = tr_pack_int(ib, -123456789);
	m = raw_msg(ib, in);
	int64_t v = 0;
	assert_int_equal(tr_msg_int(m, &v), 0);
	assert_true(v == -123456789);
	tr__msg_delete_shared(pool, m);
	msgpack_sbuffer_clear(&sb);
	pack_map(&sb);
	m = raw_msg(sb.data, sb.size);
	assert_int_equal(tr_msg_int(m, &v), TR_EBADMSG);
	tr__msg_delete_shared(pool, m);

	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(tr__pool_global_live(pool), 0);
	tr__pool_global_free(pool);
	pool = NULL;
}

/* ---------------------------------------- packed payloads between actors */

enum { T_GO = 1, T_MAP, T_INT, T_SYSINT };

typedef struct pack_state {
	tr_pid peer;
	atomic_int maps_ok, ints_ok, sysints_ok, bad;
} pack_state;

/* The sender: on T_GO sends a packed map and an integer to its peer. */
static int
pack_sender(tr_ctx *cx, tr_msg *m, void *state)
{
	pack_state *s = state;
	if (tr_msg_tag(m) != T_GO)
		return TR_EINVAL;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	pack_map(&sb);
	int rv = tr_send_sbuffer(cx, s->peer, T_MAP, &sb);
	TU_CHECK(rv == 0);
	/* The sbuffer is unchanged and reusable. */
	rv = tr_send_sbuffer(cx, s->peer, T_MAP, &sb);
	TU_CHECK(rv == 0);
	msgpack_sbuffer_destroy(&sb);
	TU_CHECK(tr_send_int(cx, s->peer, T_INT, INT64_MIN) == 0);
	return TR_STOP;
}

static int
pack_receiver(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	pack_state *s = state;
	msgpack_unpacked u;
	int64_t v;
	switch (tr_msg_tag(m)) {
	case T_MAP:
		msgpack_unpacked_init(&u);
		if (tr_msg_unpack(m, &u) == 0 && map_ok(&u.data))
			atomic_fetch_add(&s->maps_ok, 1);
		else
			atomic_fetch_add(&s->bad, 1);
		msgpack_unpacked_destroy(&u);
		break;
	case T_INT:
		if (tr_msg_int(m, &v) == 0 && v == INT64_MIN)
			atomic_fetch_add(&s->ints_ok, 1);
		else
			atomic_fetch_add(&s->bad, 1);
		break;
	case T_SYSINT:
		if (tr_msg_int(m, &v) == 0 && v == 42 &&
		    tr_pid_is_nil(tr_msg_from(m)))
			atomic_fetch_add(&s->sysints_ok, 1);
		else
			atomic_fetch_add(&s->bad, 1);
		break;
	default:
		atomic_fetch_add(&s->bad, 1);
	}
	/* Stop after everything arrived. */
	if (atomic_load(&s->maps_ok) == 2 && atomic_load(&s->ints_ok) == 1 &&
	    atomic_load(&s->sysints_ok) == 1)
		return TR_STOP;
	return TR_CONTINUE;
}

static void
test_send_packed(void **unused)
{
	(void) unused;
	tu_reset_failures();
	tr_system *sys = tu_start(2, 0);
	assert_non_null(sys);
	static pack_state s;
	memset(&s, 0, sizeof s);
	tr_pid rx, tx;
	assert_int_equal(tr_spawn(sys, &rx, pack_receiver, &s, NULL), 0);
	s.peer = rx;
	assert_int_equal(tr_spawn(sys, &tx, pack_sender, &s, NULL), 0);
	assert_int_equal(tr_system_send_int(sys, rx, T_SYSINT, 42), 0);
	assert_int_equal(tr_system_send(sys, tx, T_GO, NULL, 0), 0);
	tu_wait_exit(sys, tx, TR_REASON_NORMAL);
	tu_wait_exit(sys, rx, TR_REASON_NORMAL);
	assert_int_equal(atomic_load(&s.bad), 0);
	assert_int_equal(atomic_load(&s.maps_ok), 2);
	assert_int_equal(atomic_load(&s.ints_ok), 1);
	assert_int_equal(atomic_load(&s.sysints_ok), 1);
	tu_assert_no_failures();
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

/* ------------------------------------------------------------- errors */

static void
test_errors(void **unused)
{
	(void) unused;
	int seen = 0;
#define CHECK_ERR(name, num, text)                                        \
	do {                                                              \
		assert_int_equal(TR_##name, -(num));                      \
		assert_string_equal(tr_strerror(TR_##name), text);        \
		assert_string_equal(tr_err_name(TR_##name), "TR_" #name); \
		seen++;                                                   \
	} while (0);
	TR_ERRORS(CHECK_ERR)
#undef CHECK_ERR
	assert_true(seen >= 13);

	/* Codes are distinct and texts too. */
	int codes[] = {
#define CODE(name, num, text) TR_##name,
		TR_ERRORS(CODE)
#undef CODE
	};
	size_t nc = sizeof codes / sizeof codes[0];
	for (size_t i = 0; i < nc; i++)
		for (size_t j = i + 1; j < nc; j++) {
			assert_int_not_equal(codes[i], codes[j]);
			assert_string_not_equal(tr_strerror(codes[i]),
			    tr_strerror(codes[j]));
		}

	/* Success and unknown codes. */
	assert_non_null(tr_strerror(0));
	assert_true(strlen(tr_strerror(0)) > 0);
	assert_string_not_equal(tr_strerror(0), "unknown error");
	assert_string_equal(tr_err_name(0), "TR_OK");
	int unknown[] = { 1, 7, -1000, INT32_MIN, INT32_MAX, -(int) nc - 1 };
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		assert_string_equal(tr_strerror(unknown[i]), "unknown error");
		assert_string_equal(tr_err_name(unknown[i]), "TR_EUNKNOWN");
	}
}

/* Pids round-trip through msgpack as 16-byte ext values naming their
 * system: the same system reads them back as local pids, another refuses
 * them (TR_ENOTLOCAL); other objects are refused. */
static void
test_pid_roundtrip(void **state)
{
	(void) state;
	tr_system *sys, *other;
	assert_int_equal(tr_system_start(&sys, NULL), 0);
	assert_int_equal(tr_system_start(&other, NULL), 0);
	assert_int_not_equal(tr_system_incarnation(sys), 0);
	assert_int_not_equal(tr_system_incarnation(sys),
	    tr_system_incarnation(other));
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	const tr_pid pids[] = { { 0, 0, 1 }, { 0, 70000, 12345 },
		{ 0, UINT32_MAX - 1, UINT32_MAX }, TR_PID_NIL };
	size_t n = sizeof(pids) / sizeof(pids[0]);
	msgpack_pack_array(&pk, (uint32_t) n + 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tr_pack_pid(sys, &pk, pids[i]), 0);
	/* Another node's pid has no incarnation to give yet. */
	assert_int_equal(tr_pack_pid(sys, &pk, (tr_pid){ 3, 1, 1 }),
	    TR_ENOTLOCAL);
	assert_int_equal(tr_pack_pid(NULL, &pk, pids[0]), TR_EINVAL);
	assert_int_equal(tr_pack_pid(sys, NULL, pids[0]), TR_EINVAL);
	msgpack_pack_int(&pk, 7);
	msgpack_pack_ext(&pk, 16, TR_PACK_EXT_PID + 1); /* wrong ext type */
	msgpack_pack_ext_body(&pk, "0123456789abcdef", 16);
	/* The exact bytes: fixext 16, type 1, incarnation, slot, gen. */
	assert_int_equal((unsigned char) sb.data[1], 0xd8);
	assert_int_equal(sb.data[2], TR_PACK_EXT_PID);
	uint64_t inc = 0;
	for (int k = 0; k < 8; k++)
		inc = inc << 8 | (unsigned char) sb.data[3 + k];
	assert_true(inc == tr_system_incarnation(sys));

	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
	for (size_t i = 0; i < n; i++) {
		tr_pid p = { 9, 9, 9 };
		const msgpack_object *o = &u.data.via.array.ptr[i];
		assert_int_equal(tr_unpack_pid(sys, o, &p), 0);
		assert_true(tr_pid_eq(p, pids[i]));
		int want = tr_pid_is_nil(pids[i]) ? 0 : TR_ENOTLOCAL;
		assert_int_equal(tr_unpack_pid(other, o, &p), want);
	}
	tr_pid p;
	assert_int_equal(tr_unpack_pid(sys, &u.data.via.array.ptr[n], &p),
	    TR_EBADMSG);
	assert_int_equal(tr_unpack_pid(sys, &u.data.via.array.ptr[n + 1], &p),
	    TR_EBADMSG);
	assert_int_equal(tr_unpack_pid(sys, NULL, &p), TR_EBADMSG);
	assert_int_equal(tr_unpack_pid(NULL, &u.data.via.array.ptr[0], &p),
	    TR_EBADMSG);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(tr_system_stop(other), 0);
	assert_int_equal(tr_system_stop(sys), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_roundtrip),
		cmocka_unit_test(test_int_wider_forms),
		cmocka_unit_test(test_int_malformed),
		cmocka_unit_test(test_msg_unpack),
		cmocka_unit_test(test_send_packed),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pid_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
