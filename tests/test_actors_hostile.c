/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Hostile input (issue 7, items 3 and 5; decision record 0017): any pid
 * and any reference value, as a peer or the network may send them, gives
 * a documented error or Erlang's answer for a dead actor (dead letter,
 * DOWN noproc, EXIT noproc, tr_wait noproc), never a crash, a hang or a
 * leak.  A seeded property test feeds random and edge-value pids and refs
 * through every public call that takes one, from a plain thread, an event
 * actor and a process (TROUPE_SEED=<n> replays a run; the seed is
 * printed).  Regressions: the pid whose map key was the empty marker
 * (tr_wait, tr_link), tr_demonitor(cx, 0); misuse: NULL arguments,
 * max_actors out of range or not honoured exactly, TR_ENOMEM told apart
 * from TR_ELIMIT.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "actors/actors_int.h"
#include "testutil.h"
#include <troupe/supervisor.h>

enum {
	T_GO = 1,
	T_PING,
	T_JUNK,
};

/* COLLIDE is the pid whose key was 0, the map's empty marker. */
#define COLLIDE ((tr_pid){ 0, 0x80000000u, 0 })

static tr_system *
start_quiet(tu_log *log, unsigned workers, uint32_t max_actors)
{
	tu_log_init(log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = workers;
	cfg.max_actors = max_actors;
	cfg.log = tu_log_fn;
	cfg.log_arg = log;
	tr_system *sys = NULL;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	return sys;
}

static int
ignore_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) cx;
	(void) m;
	(void) state;
	return TR_CONTINUE;
}

/* want_for is what a call taking pid must return when pid names no live
 * actor: TR_EINVAL for nil, TR_ENOTLOCAL for another node, else 0. */
static int
want_for(tr_pid p)
{
	if (tr_pid_is_nil(p))
		return TR_EINVAL;
	return p.node != 0 ? TR_ENOTLOCAL : 0;
}

/* want_sup is what a supervisor call to pid must return when pid names
 * no live actor (the supervisor looks at the node first). */
static int
want_sup(tr_pid p)
{
	if (p.node != 0)
		return TR_ENOTLOCAL;
	return tr_pid_is_nil(p) ? TR_EINVAL : TR_ENOPROC;
}

/* ------------------------------------------------------- generators */

#define NLIVE_MAX 8

typedef struct gen {
	uint64_t rng;
	tr_pid live[NLIVE_MAX]; /* the test's own live actors */
	unsigned nlive;
} gen;

static uint32_t
r32(gen *g)
{
	return (uint32_t) (tu_rand(&g->rng) >> 17);
}

static uint32_t
pick32(gen *g, const uint32_t *v, size_t n)
{
	return v[r32(g) % n];
}

/*
 * gen_pid returns a random pid that names no live actor: edge values,
 * fully random ones, the values whose key collides with the empty key,
 * and older incarnations of the test's live actors.  A local odd
 * generation on a slot that may exist is moved far beyond any the test
 * reaches, so that no call acts on a live actor by chance.
 */
static tr_pid
gen_pid(gen *g)
{
	static const uint32_t slots[] = { 0, 1, 2, 7, 4095, 4096, 4097,
		0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffff000u, 0xfffffffeu,
		0xffffffffu };
	static const uint32_t gens[] = { 0, 1, 2, 3, 0x7fffffffu, 0x80000000u,
		0x80000001u, 0xfffffffeu, 0xffffffffu };
	static const uint32_t nodes[] = { 0, 0, 0, 0, 1, 2, 0x7fffffffu,
		0x80000000u, 0xffffffffu };
	tr_pid p;
	switch (r32(g) % 6) {
	case 0: /* fully random */
		p = (tr_pid){ r32(g) ^ (r32(g) << 16), r32(g) ^ (r32(g) << 16),
			r32(g) ^ (r32(g) << 16) };
		if (r32(g) % 2)
			p.node = 0;
		break;
	case 1: /* edge values */
		p = (tr_pid){ pick32(g, nodes, 9), pick32(g, slots, 13),
			pick32(g, gens, 9) };
		break;
	case 2: { /* ((slot << 32) | gen) ^ (node << 1) == 1 << 63: the
		   * old key of these was 0 */
		uint32_t node = r32(g) % 3 == 0 ? 0 : r32(g);
		uint64_t v = ((uint64_t) 1 << 63) ^ ((uint64_t) node << 1);
		p = (tr_pid){ node, (uint32_t) (v >> 32), (uint32_t) v };
		break;
	}
	case 3: /* a slot that exists, random generation */
		p = (tr_pid){ 0, r32(g) % 64, r32(g) };
		break;
	case 4: /* an older incarnation of a live actor */
		if (g->nlive > 0) {
			p = g->live[r32(g) % g->nlive];
			p.gen = p.gen >= 3 ? p.gen - 2 : p.gen - 1;
			return p; /* even or older: never live again */
		}
		p = COLLIDE;
		break;
	default:
		p = COLLIDE;
		break;
	}
	if (p.node == 0 && !tr_pid_is_nil(p) && p.slot < 8192 &&
	    (p.gen & 1u) != 0 && p.gen < (1u << 24))
		p.gen |= 1u << 24;
	return p;
}

static uint64_t
gen_ref(gen *g)
{
	switch (r32(g) % 6) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX;
	case 2:
		return (uint64_t) 1 << 63;
	case 3: /* shaped like a worker's references */
		return ((uint64_t) (r32(g) % 4) << 48) | (r32(g) % 64);
	case 4:
		return r32(g) % 16;
	default:
		return tu_rand(&g->rng);
	}
}

static uint64_t
seed_get(void)
{
	const char *s = getenv("TROUPE_SEED");
	uint64_t seed = s != NULL ? strtoull(s, NULL, 0)
	                          : (uint64_t) time(NULL) ^ (tu_now_ns() << 20);
	if (seed == 0)
		seed = 1;
	fprintf(stderr,
	    "test_actors_hostile: seed %llu (TROUPE_SEED=%llu "
	    "replays)\n",
	    (unsigned long long) seed, (unsigned long long) seed);
	return seed;
}

/* -------------------------------------------------- shared checks */

/* Refs an actor made itself: random refs equal to one are skipped. */
#define MYREFS_MAX 4096

typedef struct hostile {
	tr_system *sys;
	gen g;
	unsigned ops;
	uint64_t myrefs[MYREFS_MAX];
	unsigned nmyrefs;
	tr_pid linked[MYREFS_MAX];
	unsigned nlinked;
	/* Answers owed and received (DOWN or CALL_TIMEOUT; EXIT). */
	atomic_uint want_down, got_down, want_exit, got_exit;
	atomic_uint bad; /* a DOWN/EXIT not noproc, or a stray message */
	atomic_bool done;
} hostile;

static bool
is_myref(hostile *h, uint64_t ref)
{
	for (unsigned i = 0; i < h->nmyrefs; i++)
		if (h->myrefs[i] == ref)
			return true;
	return false;
}

static void
add_myref(hostile *h, uint64_t ref)
{
	if (h->nmyrefs < MYREFS_MAX)
		h->myrefs[h->nmyrefs++] = ref;
}

static bool
was_linked(hostile *h, tr_pid p)
{
	for (unsigned i = 0; i < h->nlinked; i++)
		if (tr_pid_eq(h->linked[i], p))
			return true;
	return false;
}

/* answer counts a DOWN, EXIT or CALL_TIMEOUT; false for anything else. */
static bool
answer(hostile *h, const tr_msg *m)
{
	tr_exit_info info;
	uint32_t tag = tr_msg_tag(m);
	if (tag == TR_TAG_DOWN || tag == TR_TAG_EXIT) {
		if (tr_msg_reason(m, &info) != 0 ||
		    info.kind != TR_REASON_NOPROC) {
			atomic_fetch_add(&h->bad, 1);
			TU_CHECK(!"DOWN/EXIT for a dead pid must say noproc");
		}
		atomic_fetch_add(tag == TR_TAG_DOWN ? &h->got_down
		                                    : &h->got_exit,
		    1);
		return true;
	}
	if (tag == TR_TAG_CALL_TIMEOUT) {
		atomic_fetch_add(&h->got_down, 1);
		return true;
	}
	return false;
}

/*
 * actor_ops runs one random call that takes a pid or a reference from
 * inside an actor (event actor or process) and checks its result.
 */
static void
actor_ops(hostile *h, tr_ctx *cx)
{
	gen *g = &h->g;
	tr_pid self = tr_self(cx);
	tr_pid p = gen_pid(g);
	int want = want_for(p);
	if (tr_pid_eq(p, self))
		return;
	uint64_t ref = gen_ref(g);
	unsigned char buf[16] = { 0 };
	int rv;
	switch (r32(g) % 14) {
	case 0:
		TU_CHECK_EQ(tr_send(cx, p, T_JUNK, buf, sizeof(buf)), want);
		break;
	case 1:
		TU_CHECK_EQ(tr_send_ref(cx, p, T_JUNK, ref, NULL, 0), want);
		break;
	case 2:
		TU_CHECK_EQ(tr_send_int(cx, p, T_JUNK, (int64_t) ref), want);
		break;
	case 3: {
		tr_msg *m = tr_msg_alloc(cx, T_JUNK, 4);
		TU_CHECK(m != NULL);
		if (m == NULL)
			break;
		rv = tr_send_msg(cx, p, m);
		TU_CHECK_EQ(rv, want);
		if (rv != 0)
			tr_msg_free(m);
		break;
	}
	case 4:
		if (want == 0 && was_linked(h, p))
			break; /* a second link is a no-op: no second EXIT */
		rv = tr_link(cx, p);
		TU_CHECK_EQ(rv, want);
		if (rv == 0) {
			atomic_fetch_add(&h->want_exit, 1);
			if (h->nlinked < MYREFS_MAX)
				h->linked[h->nlinked++] = p;
		}
		break;
	case 5:
		if (want == 0 && was_linked(h, p))
			break;
		TU_CHECK_EQ(tr_unlink(cx, p), want);
		break;
	case 6: {
		uint64_t mref = 0;
		rv = tr_monitor(cx, p, &mref);
		TU_CHECK_EQ(rv, want);
		if (rv == 0) {
			TU_CHECK(mref != 0);
			add_myref(h, mref);
			atomic_fetch_add(&h->want_down, 1);
		}
		break;
	}
	case 7:
		if (!is_myref(h, ref))
			TU_CHECK_EQ(tr_demonitor(cx, ref), TR_ENOENT);
		break;
	case 8: {
		static const tr_reason_kind kinds[] = { TR_REASON_NORMAL,
			TR_REASON_SHUTDOWN, TR_REASON_KILL, TR_REASON_ERROR };
		tr_reason r = { kinds[r32(g) % 4], 0, "hostile", NULL };
		TU_CHECK_EQ(tr_exit_pid(cx, p, r), want);
		break;
	}
	case 9: {
		tr_timer t;
		int64_t delay = r32(g) % 3 == 0 ? 3600000 : r32(g) % 3;
		rv = tr_send_after(cx, p, delay, T_JUNK, buf, 4, &t);
		TU_CHECK_EQ(rv, want);
		if (rv == 0 && delay > 2)
			TU_CHECK_EQ(tr_cancel_timer(tr_ctx_system(cx), t), 0);
		break;
	}
	case 10:
		/* tr_reply_to takes both: ref 0 carries no request. */
		TU_CHECK_EQ(tr_reply_to(cx, p, ref, T_JUNK, buf, 2),
		    ref == 0 && want != TR_EINVAL ? TR_EINVAL : want);
		break;
	case 11: {
		uint64_t cref = 0;
		int64_t tmo = r32(g) % 2 ? TR_INFINITY : 600000;
		rv = tr_call_async(cx, p, T_JUNK, buf, 3, tmo, &cref);
		TU_CHECK_EQ(rv, want);
		if (rv == 0) {
			add_myref(h, cref);
			atomic_fetch_add(&h->want_down, 1);
		}
		break;
	}
	case 12:
		TU_CHECK_EQ(tr_register(tr_ctx_system(cx), "hostile", p),
		    want == 0 ? TR_ENOPROC : want);
		break;
	default:
		TU_CHECK(!tr_is_alive(tr_ctx_system(cx), p));
		break;
	}
}

/* ------------------------------------------------ the event actor */

static int
ev_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	hostile *h = state;
	if (tr_msg_tag(m) == T_GO) {
		for (unsigned i = 0; i < h->ops; i++)
			actor_ops(h, cx);
		atomic_store(&h->done, true);
		return TR_CONTINUE;
	}
	if (!answer(h, m)) {
		atomic_fetch_add(&h->bad, 1);
		TU_CHECK(!"stray message in the event actor");
	}
	return TR_CONTINUE;
}

/* ---------------------------------------------------- the process */

static void
proc_fn(tr_ctx *cx, void *arg)
{
	hostile *h = arg;
	(void) tr_trap_exit(cx, true);
	/* Start once the test has filled in h (the message orders it). */
	tr_msg_free(tr_receive_tag(cx, T_GO, TU_RECV_MS));
	add_myref(h, 0); /* EXIT messages carry reference 0 */
	gen *g = &h->g;
	for (unsigned i = 0; i < h->ops; i++) {
		unsigned op = r32(g) % 5;
		tr_pid p = gen_pid(g);
		int want = want_for(p);
		if (op == 0) {
			/* tr_call: a dead callee answers with its DOWN. */
			tr_msg *rep = NULL;
			int rv = tr_call(cx, p, T_JUNK, "x", 1, TU_RECV_MS,
			    &rep);
			if (want != 0) {
				TU_CHECK_EQ(rv, want);
				TU_CHECK(rep == NULL);
			} else {
				TU_CHECK_EQ(rv, TR_EDOWN);
				tr_exit_info info = { 0 };
				TU_CHECK_EQ(tr_msg_reason(rep, &info), 0);
				TU_CHECK_EQ(info.kind, TR_REASON_NOPROC);
			}
			tr_msg_free(rep);
		} else if (op == 1) {
			uint64_t ref = gen_ref(g);
			if (!is_myref(h, ref))
				TU_CHECK(tr_receive_ref(cx, ref, 0) == NULL);
		} else if (op == 2) {
			tr_sup_counts c;
			int rv = tr_sup_count_children(NULL, cx, p, &c,
			    TU_RECV_MS);
			TU_CHECK_EQ(rv, want_sup(p));
		} else {
			actor_ops(h, cx);
		}
	}
	/* Collect every answer owed (bounded: each receive times out). */
	while (atomic_load(&h->got_down) + atomic_load(&h->got_exit) <
	    atomic_load(&h->want_down) + atomic_load(&h->want_exit)) {
		tr_msg *m = tr_receive(cx, TU_RECV_MS);
		if (m == NULL) {
			TU_CHECK(!"an answer for a dead pid never came");
			break;
		}
		if (!answer(h, m)) {
			atomic_fetch_add(&h->bad, 1);
			TU_CHECK(!"stray message in the process");
		}
		tr_msg_free(m);
	}
	TU_CHECK(tr_receive(cx, 0) == NULL);
	atomic_store(&h->done, true);
}

/* -------------------------------------------------- plain thread */

static void
plain_ops(hostile *h, tr_pid sup, unsigned n)
{
	gen *g = &h->g;
	tr_system *sys = h->sys;
	for (unsigned i = 0; i < n; i++) {
		tr_pid p = gen_pid(g);
		int want = want_for(p);
		unsigned char buf[8] = { 1, 2, 3 };
		int rv;
		switch (r32(g) % 13) {
		case 0:
			TU_CHECK_EQ(tr_system_send(sys, p, T_JUNK, buf, 8),
			    want);
			break;
		case 1:
			TU_CHECK_EQ(tr_system_send_int(sys, p, T_JUNK, -5),
			    want);
			break;
		case 2: {
			tr_reason r = r32(g) % 2 ? TR_KILL : tr_reason("bye");
			TU_CHECK_EQ(tr_system_exit_pid(sys, p, r), want);
			break;
		}
		case 3: {
			tr_exit_info info = { 0 };
			rv = tr_wait(sys, p, 30000 * TU_SLOW, &info);
			TU_CHECK_EQ(rv, want);
			if (rv == 0)
				TU_CHECK_EQ(info.kind, TR_REASON_NOPROC);
			break;
		}
		case 4: {
			tr_msg *rep = NULL;
			rv = tr_system_call(sys, p, T_JUNK, buf, 2,
			    30000 * TU_SLOW, &rep);
			TU_CHECK_EQ(rv, want == 0 ? TR_EDOWN : want);
			if (rv == TR_EDOWN) {
				tr_exit_info info = { 0 };
				TU_CHECK_EQ(tr_msg_reason(rep, &info), 0);
				TU_CHECK_EQ(info.kind, TR_REASON_NOPROC);
				TU_CHECK(tr_pid_eq(tr_msg_from(rep), p));
			}
			tr_msg_free(rep);
			break;
		}
		case 5: {
			tr_timer t;
			int64_t delay = r32(g) % 2 ? 3600000 : r32(g) % 3;
			rv = tr_system_send_after(sys, p, delay, T_JUNK, buf, 1,
			    &t);
			TU_CHECK_EQ(rv, want);
			if (rv == 0 && delay > 2) {
				TU_CHECK_EQ(tr_cancel_timer(sys, t), 0);
				TU_CHECK_EQ(tr_cancel_timer(sys, t), TR_ENOENT);
			}
			break;
		}
		case 6:
			TU_CHECK_EQ(tr_register(sys, "hostile", p),
			    want == 0 ? TR_ENOPROC : want);
			break;
		case 7:
			TU_CHECK(!tr_is_alive(sys, p));
			break;
		case 8: {
			/* Any local or nil value crosses msgpack unchanged;
			 * another node's has no wire form yet. */
			msgpack_sbuffer sb;
			msgpack_packer pk;
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			bool far = p.node != 0 && !tr_pid_is_nil(p);
			TU_CHECK_EQ(tr_pack_pid(sys, &pk, p),
			    far ? TR_ENOTLOCAL : 0);
			if (far)
				msgpack_pack_ext(&pk, 0, TR_PACK_EXT_PID);
			msgpack_unpacked u;
			msgpack_unpacked_init(&u);
			size_t off = 0;
			tr_pid q = TR_PID_NIL;
			TU_CHECK(msgpack_unpack_next(&u, sb.data, sb.size,
			             &off) == MSGPACK_UNPACK_SUCCESS);
			TU_CHECK_EQ(tr_unpack_pid(sys, &u.data, &q),
			    far ? TR_EBADMSG : 0);
			TU_CHECK(far || tr_pid_eq(p, q) ||
			    (tr_pid_is_nil(p) && tr_pid_is_nil(q)));
			char fb[TR_PID_FMT_MAX];
			TU_CHECK(strlen(tr_pid_format(p, fb, sizeof(fb))) <
			    sizeof(fb));
			msgpack_unpacked_destroy(&u);
			msgpack_sbuffer_destroy(&sb);
			break;
		}
		case 9: {
			/* Every supervisor call, to a pid that is none. */
			int64_t tmo = 30000 * TU_SLOW;
			tr_sup_counts c;
			tr_child_info ci;
			size_t nc;
			tr_pid child;
			switch (r32(g) % 6) {
			case 0:
				rv = tr_sup_count_children(sys, NULL, p, &c,
				    tmo);
				break;
			case 1:
				rv = tr_sup_which_children(sys, NULL, p, &ci, 1,
				    &nc, tmo);
				break;
			case 2:
				rv = tr_sup_delete_child(sys, NULL, p, "c",
				    tmo);
				break;
			case 3:
				rv = tr_sup_restart_child(sys, NULL, p, "c",
				    &child, tmo);
				break;
			case 4:
				rv = tr_sup_terminate_child(sys, NULL, p, "c",
				    TR_PID_NIL, tmo);
				break;
			default:
				rv = tr_sup_stop(sys, NULL, p, tmo);
				break;
			}
			TU_CHECK_EQ(rv, want_sup(p));
			break;
		}
		case 10:
			/* A real supervisor asked about a child it never had. */
			rv = tr_sup_terminate_child(sys, NULL, sup, NULL, p,
			    30000 * TU_SLOW);
			TU_CHECK_EQ(rv,
			    tr_pid_is_nil(p) ? TR_EINVAL : TR_ENOENT);
			break;
		case 11: {
			tr_timer t = { NULL, tu_rand(&g->rng) };
			TU_CHECK_EQ(tr_cancel_timer(sys, t), TR_EINVAL);
			break;
		}
		default: {
			tr_pid q = TR_PID_NIL;
			TU_CHECK_EQ(tr_whereis(sys, "hostile", &q), TR_ENOENT);
			break;
		}
		}
	}
}

static void
test_property(void **state)
{
	(void) state;
	tu_reset_failures();
	tu_log log;
	tr_system *sys = start_quiet(&log, 2, 0);
	uint64_t seed = seed_get();
	unsigned ops = TU_PICK(20000, 5000, 2000);

	/* A pending TR_SPAWN_WAIT record and a supervisor with no child. */
	tr_pid waited, sup;
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn(sys, &waited, ignore_fn, NULL, &wo), 0);
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, NULL, 0, NULL), 0);

	static hostile he, hp, ht;
	hostile *hs[3] = { &he, &hp, &ht };
	for (int i = 0; i < 3; i++) {
		memset(hs[i], 0, sizeof(*hs[i]));
		hs[i]->sys = sys;
		hs[i]->ops = ops;
		hs[i]->g.rng = seed * (2 * (uint64_t) i + 3);
		hs[i]->g.live[0] = waited;
		hs[i]->g.live[1] = sup;
		hs[i]->g.nlive = 2;
	}
	tr_pid ev, pr;
	tr_spawn_opts eo = { .flags = TR_SPAWN_TRAP_EXIT };
	assert_int_equal(tr_spawn(sys, &ev, ev_fn, &he, &eo), 0);
	tr_spawn_opts po = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn_process(sys, &pr, proc_fn, &hp, &po), 0);
	/* Older incarnations of these are among the pids tried. */
	for (int i = 0; i < 3; i++) {
		hs[i]->g.live[hs[i]->g.nlive++] = ev;
		hs[i]->g.live[hs[i]->g.nlive++] = pr;
	}
	assert_int_equal(tr_system_send(sys, ev, T_GO, NULL, 0), 0);
	assert_int_equal(tr_system_send(sys, pr, T_GO, NULL, 0), 0);
	plain_ops(&ht, sup, ops);

	tr_exit_info info;
	assert_int_equal(tr_wait(sys, pr, 120000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	assert_true(atomic_load(&hp.done));
	tu_deadline d = tu_deadline_ms(60000 * TU_SLOW);
	while ((!atomic_load(&he.done) ||
	           atomic_load(&he.got_down) < atomic_load(&he.want_down) ||
	           atomic_load(&he.got_exit) < atomic_load(&he.want_exit)) &&
	    tu_poll(&d)) {
	}
	fprintf(stderr,
	    "event actor: %u/%u DOWN, %u/%u EXIT; process: %u/%u DOWN, "
	    "%u/%u EXIT\n",
	    atomic_load(&he.got_down), atomic_load(&he.want_down),
	    atomic_load(&he.got_exit), atomic_load(&he.want_exit),
	    atomic_load(&hp.got_down), atomic_load(&hp.want_down),
	    atomic_load(&hp.got_exit), atomic_load(&hp.want_exit));
	assert_true(atomic_load(&he.done));
	assert_int_equal(atomic_load(&he.got_down), atomic_load(&he.want_down));
	assert_int_equal(atomic_load(&he.got_exit), atomic_load(&he.want_exit));
	assert_int_equal(atomic_load(&hp.got_down), atomic_load(&hp.want_down));
	assert_int_equal(atomic_load(&hp.got_exit), atomic_load(&hp.want_exit));
	assert_int_equal(atomic_load(&he.bad) + atomic_load(&hp.bad), 0);
	tu_assert_no_failures();

	/* Everyone still there answers as before. */
	assert_true(tr_is_alive(sys, ev));
	assert_true(tr_is_alive(sys, sup));
	assert_int_equal(tr_system_exit_pid(sys, ev, TR_KILL), 0);
	tu_wait_exit(sys, ev, TR_REASON_KILLED);
	assert_int_equal(tr_system_exit_pid(sys, waited, TR_KILL), 0);
	assert_int_equal(tr_wait(sys, waited, 30000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_KILLED);
	assert_int_equal(tr_sup_stop(sys, NULL, sup, 30000 * TU_SLOW), 0);
	tu_assert_left(sys, 0);
	/* A timer for a hostile pid left pending is freed by the stop. */
	assert_int_equal(tr_system_send_after(sys, COLLIDE, 3600000, T_JUNK,
	                     NULL, 0, NULL),
	    0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* ----------------------------------------------------- regressions */

/* The map takes key 0 like any other, through growth and iteration. */
static void
test_map_zero_key(void **state)
{
	(void) state;
	tr__map m;
	memset(&m, 0, sizeof(m));
	bool isnew = false;
	assert_null(tr__map_get(&m, 0));
	assert_false(tr__map_del(&m, 0, NULL));
	tr__mapent *e = tr__map_put(&m, 0, &isnew);
	assert_non_null(e);
	assert_true(isnew);
	e->me_val = 42;
	/* Other keys, enough to grow several times. */
	for (uint64_t k = 1; k <= 100; k++) {
		e = tr__map_put(&m, k * 0x9e3779b97f4a7c15ULL, &isnew);
		assert_non_null(e);
		assert_true(isnew);
		e->me_val = k;
	}
	e = tr__map_put(&m, 0, &isnew);
	assert_false(isnew);
	assert_int_equal(e->me_val, 42);
	unsigned seen = 0, zero = 0;
	uint32_t it = 0;
	while ((e = tr__map_next(&m, &it)) != NULL) {
		seen++;
		zero += e->me_key == 0;
	}
	assert_int_equal(seen, 101);
	assert_int_equal(zero, 1);
	tr__mapent out;
	assert_true(tr__map_del(&m, 0, &out));
	assert_int_equal(out.me_val, 42);
	assert_null(tr__map_get(&m, 0));
	assert_false(tr__map_del(&m, 0, NULL));
	for (uint64_t k = 1; k <= 100; k++) {
		e = tr__map_get(&m, k * 0x9e3779b97f4a7c15ULL);
		assert_non_null(e);
		assert_int_equal(e->me_val, k);
	}
	tr__map_fini(&m);
}

/* tr_wait for the pid whose key was the empty marker, while the map of
 * TR_SPAWN_WAIT records has cells: it took an empty cell (or a freed
 * waiter in it) for the record. */
static void
test_wait_collide(void **state)
{
	(void) state;
	tu_log log;
	tr_system *sys = start_quiet(&log, 2, 0);
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	tr_pid a, b;
	tr_exit_info info;
	/* One record collected (its waiter freed, its cell emptied), one
	 * pending. */
	assert_int_equal(tr_spawn(sys, &a, ignore_fn, NULL, &wo), 0);
	assert_int_equal(tr_spawn(sys, &b, ignore_fn, NULL, &wo), 0);
	assert_int_equal(tr_system_exit_pid(sys, a, TR_KILL), 0);
	assert_int_equal(tr_wait(sys, a, 30000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_KILLED);
	for (int i = 0; i < 3; i++) {
		memset(&info, 0, sizeof(info));
		assert_int_equal(tr_wait(sys, COLLIDE, 30000 * TU_SLOW, &info),
		    0);
		assert_int_equal(info.kind, TR_REASON_NOPROC);
	}
	/* The pending record is intact. */
	assert_int_equal(tr_system_exit_pid(sys, b, TR_KILL), 0);
	assert_int_equal(tr_wait(sys, b, 30000 * TU_SLOW, &info), 0);
	assert_int_equal(info.kind, TR_REASON_KILLED);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

typedef struct reg_box {
	tr_pid other;
	atomic_int step; /* last step passed */
} reg_box;

/* A link to the colliding pid, made while other links exist, must be
 * answered (EXIT noproc); before, it was taken for an existing link. */
static void
link_collide_proc(tr_ctx *cx, void *arg)
{
	reg_box *b = arg;
	(void) tr_trap_exit(cx, true);
	TU_CHECK_EQ(tr_link(cx, b->other), 0);
	atomic_store(&b->step, 1);
	TU_CHECK_EQ(tr_link(cx, COLLIDE), 0);
	tr_msg *m = tr_receive_tag(cx, TR_TAG_EXIT, TU_RECV_MS);
	TU_CHECK(m != NULL);
	if (m == NULL)
		return;
	tr_exit_info info = { 0 };
	TU_CHECK_EQ(tr_msg_reason(m, &info), 0);
	TU_CHECK_EQ(info.kind, TR_REASON_NOPROC);
	TU_CHECK(tr_pid_eq(tr_msg_from(m), COLLIDE));
	tr_msg_free(m);
	/* Unlinking it is a plain no-op now. */
	TU_CHECK_EQ(tr_unlink(cx, COLLIDE), 0);
	atomic_store(&b->step, 2);
}

static void
test_link_collide(void **state)
{
	(void) state;
	tu_reset_failures();
	tu_log log;
	tr_system *sys = start_quiet(&log, 2, 0);
	static reg_box b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(tr_spawn(sys, &b.other, ignore_fn, NULL, NULL), 0);
	tr_pid p;
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn_process(sys, &p, link_collide_proc, &b, &wo),
	    0);
	tu_wait_exit(sys, p, TR_REASON_NORMAL);
	tu_assert_no_failures();
	assert_int_equal(atomic_load(&b.step), 2);
	assert_int_equal(tr_system_exit_pid(sys, b.other, TR_KILL), 0);
	tu_wait_exit(sys, b.other, TR_REASON_KILLED);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* tr_demonitor(cx, 0) "removed" an empty cell and miscounted the map; a
 * few of them and the next monitors spun forever in a full table. */
static void
demon_zero_proc(tr_ctx *cx, void *arg)
{
	reg_box *b = arg;
	uint64_t ref;
	TU_CHECK_EQ(tr_monitor(cx, b->other, &ref), 0);
	/* Four: the old map then took a full table for one with room. */
	for (int i = 0; i < 4; i++)
		TU_CHECK_EQ(tr_demonitor(cx, 0), TR_ENOENT);
	atomic_store(&b->step, 1);
	uint64_t refs[32];
	for (int i = 0; i < 32; i++)
		TU_CHECK_EQ(tr_monitor(cx, b->other, &refs[i]), 0);
	atomic_store(&b->step, 2);
	for (int i = 0; i < 32; i++)
		TU_CHECK_EQ(tr_demonitor(cx, refs[i]), 0);
	TU_CHECK_EQ(tr_demonitor(cx, ref), 0);
	TU_CHECK_EQ(tr_demonitor(cx, ref), TR_ENOENT);
	atomic_store(&b->step, 3);
}

static void
test_demonitor_zero(void **state)
{
	(void) state;
	tu_reset_failures();
	tu_log log;
	tr_system *sys = start_quiet(&log, 2, 0);
	static reg_box b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(tr_spawn(sys, &b.other, ignore_fn, NULL, NULL), 0);
	tr_pid p;
	tr_spawn_opts wo = { .flags = TR_SPAWN_WAIT };
	assert_int_equal(tr_spawn_process(sys, &p, demon_zero_proc, &b, &wo),
	    0);
	tr_exit_info info;
	int rv = tr_wait(sys, p, 30000 * TU_SLOW, &info);
	if (rv != 0) {
		/* A worker spins in the map: the system cannot stop. */
		fprintf(stderr, "demonitor(0): stuck at step %d\n",
		    atomic_load(&b.step));
		abort();
	}
	assert_int_equal(info.kind, TR_REASON_NORMAL);
	tu_assert_no_failures();
	assert_int_equal(atomic_load(&b.step), 3);
	assert_int_equal(tr_system_exit_pid(sys, b.other, TR_KILL), 0);
	tu_wait_exit(sys, b.other, TR_REASON_KILLED);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

static int
child_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) arg;
	(void) extra;
	tr_spawn_opts o = { .flags = TR_SPAWN_LINK };
	return tr_spawn(tr_ctx_system(cx), pid, ignore_fn, NULL, &o);
}

/* A pid of another node with a child's slot and generation named that
 * child to its supervisor (its key ignored the node). */
static void
test_sup_nonlocal_child(void **state)
{
	(void) state;
	tu_log log;
	tr_system *sys = start_quiet(&log, 2, 0);
	tr_child_spec spec = { "c", child_start, NULL, TR_PERMANENT, 1000,
		TR_WORKER };
	tr_pid sup;
	assert_int_equal(tr_sup_start(sys, NULL, &sup, NULL, &spec, 1, NULL),
	    0);
	tr_child_info ci;
	size_t n = 0;
	assert_int_equal(tr_sup_which_children(sys, NULL, sup, &ci, 1, &n,
	                     30000 * TU_SLOW),
	    0);
	assert_int_equal(n, 1);
	assert_true(ci.running);
	tr_pid far = ci.pid;
	far.node = 7;
	assert_int_equal(tr_sup_terminate_child(sys, NULL, sup, NULL, far,
	                     30000 * TU_SLOW),
	    TR_ENOENT);
	assert_true(tr_is_alive(sys, ci.pid));
	assert_int_equal(tr_sup_stop(sys, NULL, sup, 30000 * TU_SLOW), 0);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* ------------------------------------------------------------ misuse */

/* Every public call given NULL where it takes a pointer, from a plain
 * thread: a clean error (or the documented empty answer), no crash. */
static void
test_null_args(void **state)
{
	(void) state;
	tu_log log;
	tr_system *sys = start_quiet(&log, 1, 0);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, ignore_fn, NULL, NULL), 0);
	tr_system_stats st;
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(tr_system_stats_get(NULL, &st), TR_EINVAL);
	assert_int_equal(st.actors_alive, 0);
	assert_int_equal(tr_system_stats_get(sys, NULL), TR_EINVAL);
	assert_int_equal(tr_system_stats_get(sys, &st), 0);
	assert_int_equal(tr_system_start(NULL, NULL), TR_EINVAL);
	assert_int_equal(tr_system_stop(NULL), TR_EINVAL);
	assert_int_equal(tr_system_idle(NULL, 0), TR_EINVAL);
	tr_log(NULL, TR_LOG_ERROR, "x");

	/* Message accessors read NULL as an empty message. */
	assert_int_equal(tr_msg_len(NULL), 0);
	assert_int_equal(tr_msg_tag(NULL), 0);
	assert_int_equal(tr_msg_ref(NULL), 0);
	assert_int_equal(tr_msg_flags(NULL), 0);
	assert_true(tr_pid_is_nil(tr_msg_from(NULL)));
	assert_null(tr_msg_data(NULL));
	assert_null(tr_msg_body(NULL));
	tr_msg_set_ref(NULL, 1);
	tr_msg_set_flags(NULL, TR_MSG_LOCAL);
	tr_msg_free(NULL);
	tr_exit_info info;
	assert_int_equal(tr_msg_reason(NULL, &info), TR_EINVAL);
	int64_t v;
	assert_int_equal(tr_msg_int(NULL, &v), TR_EINVAL);
	assert_int_equal(tr_unpack_int("\x01", 1, NULL), TR_EINVAL);
	assert_int_equal(tr_pack_int(NULL, 5), 0);
	msgpack_unpacked u;
	assert_int_equal(tr_msg_unpack(NULL, &u), TR_EINVAL);
	assert_int_equal(tr_pack_pid(NULL, NULL, p), TR_EINVAL);
	assert_int_equal(tr_unpack_pid(NULL, NULL, &p), TR_EBADMSG);
	assert_null(tr_pid_format(p, NULL, 8));

	/* Actor calls from a plain thread, which has no context. */
	unsigned char b[4] = { 0 };
	uint64_t ref;
	tr_msg *rep = (tr_msg *) &ref;
	tr_timer t;
	assert_int_equal(tr_send(NULL, p, 1, b, 4), TR_ECONTEXT);
	assert_int_equal(tr_send_ref(NULL, p, 1, 7, b, 4), TR_ECONTEXT);
	assert_int_equal(tr_send_int(NULL, p, 1, 7), TR_ECONTEXT);
	assert_int_equal(tr_send_msg(NULL, p, NULL), TR_ECONTEXT);
	assert_int_equal(tr_send_name(NULL, "x", 1, b, 4), TR_ECONTEXT);
	assert_int_equal(tr_send_after(NULL, p, 1, 1, b, 4, &t), TR_ECONTEXT);
	assert_null(tr_receive(NULL, 0));
	assert_null(tr_receive(NULL, TR_INFINITY));
	assert_null(tr_receive_tag(NULL, 1, 0));
	assert_null(tr_receive_ref(NULL, 1, 0));
	assert_null(tr_receive_match(NULL, NULL, NULL, 0));
	assert_null(tr_msg_alloc(NULL, 1, 4));
	assert_int_equal(tr_make_ref(NULL), 0);
	tr_yield(NULL);
	tr_sleep(NULL, 1);
	assert_true(tr_pid_is_nil(tr_self(NULL)));
	assert_null(tr_ctx_system(NULL));
	assert_false(tr_trap_exit(NULL, true));
	assert_int_equal(tr_exit(NULL, TR_NORMAL), TR_ECONTEXT);
	assert_int_equal(tr_link(NULL, p), TR_ECONTEXT);
	assert_int_equal(tr_unlink(NULL, p), TR_ECONTEXT);
	assert_int_equal(tr_monitor(NULL, p, &ref), TR_ECONTEXT);
	assert_int_equal(tr_demonitor(NULL, 1), TR_ECONTEXT);
	assert_int_equal(tr_exit_pid(NULL, p, TR_KILL), TR_ECONTEXT);
	assert_int_equal(tr_call(NULL, p, 1, b, 4, 10, &rep), TR_ECONTEXT);
	assert_null(rep);
	assert_int_equal(tr_call_async(NULL, p, 1, b, 4, 10, &ref),
	    TR_ECONTEXT);
	assert_int_equal(tr_reply(NULL, NULL, 1, b, 4), TR_ECONTEXT);
	assert_int_equal(tr_reply_to(NULL, p, 1, 1, b, 4), TR_ECONTEXT);

	/* Plain-thread calls given a NULL system or out pointer. */
	assert_int_equal(tr_spawn(NULL, &p, ignore_fn, NULL, NULL), TR_EINVAL);
	assert_int_equal(tr_system_send(NULL, p, 1, b, 4), TR_EINVAL);
	assert_int_equal(tr_system_exit_pid(NULL, p, TR_KILL), TR_EINVAL);
	assert_int_equal(tr_wait(NULL, p, 0, &info), TR_EINVAL);
	assert_int_equal(tr_system_call(NULL, p, 1, b, 4, 10, &rep), TR_EINVAL);
	assert_int_equal(tr_system_call(sys, p, 1, b, 4, 10, NULL), TR_EINVAL);
	assert_int_equal(tr_cancel_timer(NULL, t), TR_EINVAL);
	assert_false(tr_is_alive(NULL, p));
	assert_int_equal(tr_register(sys, NULL, p), TR_EINVAL);
	assert_int_equal(tr_whereis(sys, "x", NULL), TR_EINVAL);
	tr_sup_counts c;
	assert_int_equal(tr_sup_count_children(NULL, NULL, p, &c, 10),
	    TR_EINVAL);

	assert_int_equal(tr_system_exit_pid(sys, p, TR_KILL), 0);
	tu_wait_exit(sys, p, TR_REASON_KILLED);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* max_actors is honoured exactly: 1000 means 1000, not a chunk's 4096. */
static void
test_max_actors_exact(void **state)
{
	(void) state;
	tu_log log;
	tr_system *sys = start_quiet(&log, 2, 1000);
	static tr_pid pids[1100];
	unsigned n = 0;
	int rv = 0;
	while (n < 1100 &&
	    (rv = tr_spawn(sys, &pids[n], ignore_fn, NULL, NULL)) == 0)
		n++;
	assert_int_equal(rv, TR_ELIMIT);
	assert_int_equal(n, 1000);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(tr_system_exit_pid(sys, pids[i], TR_KILL), 0);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

/* max_actors near UINT32_MAX wrapped to a table of no chunk. */
static void
test_max_actors_huge(void **state)
{
	(void) state;
	tu_log log;
	tu_log_init(&log);
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	cfg.workers = 1;
	cfg.log = tu_log_fn;
	cfg.log_arg = &log;
	tr_system *sys = NULL;
	static const uint32_t bad[] = { UINT32_MAX, UINT32_MAX - 1,
		TR_MAX_ACTORS + 1 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.max_actors = bad[i];
		assert_int_equal(tr_system_start(&sys, &cfg), TR_EINVAL);
		assert_null(sys);
	}
	assert_true(tu_log_find(&log, NULL, "max_actors", NULL) >= 0);
	cfg.max_actors = TR_MAX_ACTORS;
	assert_int_equal(tr_system_start(&sys, &cfg), 0);
	tr_pid p;
	assert_int_equal(tr_spawn(sys, &p, ignore_fn, NULL, NULL), 0);
	assert_int_equal(tr_system_exit_pid(sys, p, TR_KILL), 0);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

static void *
no_calloc(size_t n, size_t size)
{
	(void) n;
	(void) size;
	return NULL;
}

/* Out of memory while growing the table is TR_ENOMEM, not TR_ELIMIT. */
static void
test_spawn_enomem(void **state)
{
	(void) state;
	tu_log log;
	tr_system *sys = start_quiet(&log, 1, 0);
	tr_pid p;
	tr__table_calloc = no_calloc;
	int rv = tr_spawn(sys, &p, ignore_fn, NULL, NULL);
	tr__table_calloc = calloc;
	assert_int_equal(rv, TR_ENOMEM);
	assert_int_equal(tr_spawn(sys, &p, ignore_fn, NULL, NULL), 0);
	assert_int_equal(tr_system_exit_pid(sys, p, TR_KILL), 0);
	tu_assert_left(sys, 0);
	assert_int_equal(tr_system_stop(sys), 0);
	tu_log_fini(&log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_zero_key),
		cmocka_unit_test(test_wait_collide),
		cmocka_unit_test(test_link_collide),
		cmocka_unit_test(test_demonitor_zero),
		cmocka_unit_test(test_sup_nonlocal_child),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_max_actors_exact),
		cmocka_unit_test(test_max_actors_huge),
		cmocka_unit_test(test_spawn_enomem),
		cmocka_unit_test(test_property),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
