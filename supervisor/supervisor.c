/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: supervisors (Erlang/OTP's supervisor on the public API).
 *
 * A supervisor is a process that traps exits (spawned with
 * TR_SPAWN_TRAP_EXIT, and TR_SPAWN_LINK when its starter asks for a
 * link).  Its state (struct sup) is the process's argument, so
 * state_free releases everything however the supervisor ends: normally,
 * killed, or at tr_system_stop.  Nothing it owns lives only in a local
 * variable across a receive, and every received message is copied out and
 * freed before the code acts on it (a receive may end the process).
 *
 * Start.  tr_sup_start builds the state (copies of flags and specs),
 * spawns the process and calls it with SUP_T_INIT.  The process does
 * nothing before that request arrives: if the caller turns out to be an
 * event actor (tr_call says TR_ECONTEXT) it kills the idle supervisor,
 * which has started nothing.  On the request the supervisor registers its
 * name, starts the children in order and replies with 0 or the error of
 * the first start that failed (having shut down, in reverse order, what
 * had started, and unlinked its parent so that a linked caller is not
 * ended by its exit).  The caller then waits for the supervisor to be
 * gone, so that its name is free again when tr_sup_start returns.
 *
 * Children.  Each child is a struct sup_child on a list in start order; a
 * map keyed by pid finds the child of an EXIT in O(1), which matters for
 * simple_one_for_one with many children.  A child is running, stopped
 * (terminated, ignored, or a transient that ended normally) or restarting
 * (a restart is due: a backoff timer or a retry message will start it).
 *
 * Restarts.  An EXIT from a child decides by its restart type; a restart
 * first passes the intensity check, then the strategy picks the group
 * (the child; all; the child and those after it), the others in the group
 * are shut down in reverse order, and the whole group is marked
 * restarting under a fresh token.  Without backoff the group is started at
 * once, in order; with backoff a timer sends the token to the supervisor
 * itself.  A message or timer whose token no child carries any more (the
 * child was terminated, deleted, or re-grouped) does nothing.  With one
 * child per group (one_for_one, simple_one_for_one) a second map finds the
 * child of a token, so no restart walks the list of children; the groups
 * of the other strategies are made of the fixed children, few.  A restart
 * whose start function fails is reported, counted against the intensity
 * as OTP's try_again is, and retried through a message to itself, so that
 * requests and exit signals are served in between.
 *
 * Intensity.  At most R restarts within P ms: the supervisor keeps the
 * times of its restarts of the last P ms in a ring (grown by doubling, at
 * most R), drops from its head those that have left the period, and
 * allows a restart iff fewer than R remain: O(1) amortised, where OTP's
 * add_restart walks its whole list on every restart.  When it is not,
 * the supervisor reports the give-up, shuts every child down in reverse
 * order and exits with reason shutdown (escalation: its parent decides).
 *
 * Shutdown of a child (OTP's shutdown/2): monitor it, unlink it (an EXIT
 * it already sent is then ignored, and a stale one that was queued before
 * is dropped because the pid is no longer in the map), send exit
 * shutdown, wait for the DOWN for shutdown_ms, then kill it and wait for
 * the DOWN; brutal_kill kills at once; infinity waits for ever.
 * simple_one_for_one children are shut down all at once, as OTP does, so
 * that N children that ignore shutdown cost one timeout, not N.
 *
 * Requests.  The management functions are calls (tr_call from a process,
 * tr_system_call from a plain thread) whose payload is a struct sup_req
 * copied by value: nothing in it points into the caller's memory, so a
 * call that timed out, or a system stopping mid-request, leaves nothing
 * dangling.  The supervisor answers with tr_reply_to once the work is
 * done; a stop request is answered by the supervisor's exit (the caller's
 * DOWN).  An EXIT from the parent (the linked starter), or one that is not
 * normal from a plain thread (tr_system_exit_pid, sender nil), shuts the
 * supervisor down with that reason; an EXIT from any other pid that is
 * not a child is ignored, as OTP does.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <troupe/supervisor.h>

/* ------------------------------------------------------ messages */

/* Tags of the supervisor's requests and of its messages to itself; below
 * TR_TAG_SYSTEM, chosen to be unlikely in user code. */
enum {
	SUP_T_INIT = 0x7e5a5000u,
	SUP_T_START_CHILD,
	SUP_T_TERMINATE,
	SUP_T_RESTART,
	SUP_T_DELETE,
	SUP_T_WHICH,
	SUP_T_COUNT,
	SUP_T_STOP,
	SUP_T_RETRY, /* to itself: restart the children of a token */
	SUP_T_REPLY,
};

#define SUP_ID_MAX 64 /* bytes of an id, with its NUL */

/* sup_req is every request's payload, by value. */
typedef struct sup_req {
	tr_child_start_fn r_start; /* start_child with a spec */
	void *r_arg;
	void *r_extra;
	int64_t r_shutdown;
	uint64_t r_cap; /* which_children: infos wanted */
	tr_pid r_pid;   /* terminate_child by pid */
	int32_t r_restart;
	int32_t r_type;
	int32_t r_has_spec;
	int32_t r_has_id;
	char r_id[SUP_ID_MAX];
} sup_req;

/* sup_rep is every reply's payload; which_children appends the infos. */
typedef struct sup_rep {
	int32_t p_rv;
	tr_pid p_pid;
	uint64_t p_n;
	tr_sup_counts p_counts;
} sup_rep;

/* ------------------------------------------------------ state */

enum {
	C_RUNNING = 0,
	C_STOPPED = 1,    /* not running, spec kept */
	C_RESTARTING = 2, /* a restart is due (c_token) */
};

typedef struct sup_child {
	struct sup_child *c_prev;
	struct sup_child *c_next;
	const char *c_id; /* c_idbuf, or the template's for dynamic ones */
	tr_child_start_fn c_start;
	void *c_arg;
	void *c_extra;
	int64_t c_shutdown;
	tr_pid c_pid;       /* nil unless running */
	uint64_t c_token;   /* restarting: the restart that will start it */
	uint64_t c_mon;     /* while being shut down: the monitor */
	uint64_t c_up_ms;   /* when it last started */
	tr_timer c_timer;   /* restarting with backoff: the timer */
	uint32_t c_backoff; /* consecutive restarts (backoff exponent) */
	uint8_t c_state;
	uint8_t c_restart;
	uint8_t c_type;
	uint8_t c_why;  /* kind of its last exit */
	char c_idbuf[]; /* static children: the id */
} sup_child;

/* kmap maps a 64-bit key to a child: open addressing, linear probing,
 * deletion by backward shift, at most half full.  s_pids maps each running
 * child's pid (pid_key) to it; s_toks maps the token of a delayed restart
 * of one child (one_for_one, simple_one_for_one) to that child. */
typedef struct kment {
	uint64_t k;
	sup_child *c; /* NULL: empty */
} kment;

typedef struct kmap {
	kment *km_slots;
	uint32_t km_cap; /* 0 or a power of 2 */
	uint32_t km_n;
} kmap;

typedef struct sup {
	tr_system *s_sys;
	tr_pid s_self;
	tr_pid s_parent; /* the starter, or nil */
	bool s_linked;   /* linked to s_parent */
	bool s_named;
	tr_sup_flags s_flags;
	tr_sup_report_fn s_report;
	void *s_report_arg;
	char s_name[TR_NAME_MAX + 1];
	sup_child *s_head; /* start order */
	sup_child *s_tail;
	size_t s_n;
	sup_child *s_tmpl; /* simple_one_for_one: the template (not listed) */
	kmap s_pids;
	kmap s_toks;
	/* Times (ms) of the last restarts, oldest at s_ring_head. */
	uint64_t *s_ring;
	uint32_t s_ring_cap;
	uint32_t s_ring_n;
	uint32_t s_ring_head;
	uint64_t s_restarts;
	uint64_t s_tokens;
	uint64_t s_rng;
	void *s_buf; /* scratch for replies */
	size_t s_buf_cap;
} sup;

/* ------------------------------------------------------ helpers */

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static uint64_t
rng_next(sup *s)
{
	uint64_t x = s->s_rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return s->s_rng = x;
}

static bool
abnormal(tr_reason_kind k)
{
	return k != TR_REASON_NORMAL && k != TR_REASON_SHUTDOWN;
}

static void
info_set(tr_exit_info *info, tr_reason_kind kind, const char *text)
{
	info->kind = kind;
	snprintf(info->text, sizeof(info->text), "%s",
	    text != NULL ? text : tr_reason_kind_name(kind));
}

/* ------------------------------------------------------ maps */

static uint64_t
pid_key(tr_pid p)
{
	return ((uint64_t) p.slot << 32) | p.gen;
}

static uint32_t
km_home(const kmap *km, uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t) k & (km->km_cap - 1);
}

/* km_reserve makes room for one more entry; 0 or TR_ENOMEM. */
static int
km_reserve(kmap *km)
{
	if ((km->km_n + 1) * 2 <= km->km_cap)
		return 0;
	uint32_t cap = km->km_cap != 0 ? km->km_cap * 2 : 16;
	if (cap == 0 || cap > (UINT32_MAX >> 1))
		return TR_ENOMEM;
	kment *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return TR_ENOMEM;
	kmap n = { slots, cap, 0 };
	for (uint32_t i = 0; i < km->km_cap; i++) {
		kment e = km->km_slots[i];
		if (e.c == NULL)
			continue;
		uint32_t j = km_home(&n, e.k);
		while (n.km_slots[j].c != NULL)
			j = (j + 1) & (cap - 1);
		n.km_slots[j] = e;
		n.km_n++;
	}
	free(km->km_slots);
	*km = n;
	return 0;
}

/* km_put maps k to c (k not present); km_reserve must have made room. */
static void
km_put(kmap *km, uint64_t k, sup_child *c)
{
	uint32_t j = km_home(km, k);
	while (km->km_slots[j].c != NULL)
		j = (j + 1) & (km->km_cap - 1);
	km->km_slots[j] = (kment){ k, c };
	km->km_n++;
}

static uint32_t
km_find(const kmap *km, uint64_t k)
{
	if (km->km_cap == 0)
		return UINT32_MAX;
	uint32_t j = km_home(km, k);
	for (;;) {
		const kment *e = &km->km_slots[j];
		if (e->c == NULL)
			return UINT32_MAX;
		if (e->k == k)
			return j;
		j = (j + 1) & (km->km_cap - 1);
	}
}

static sup_child *
km_get(const kmap *km, uint64_t k)
{
	uint32_t j = km_find(km, k);
	return j == UINT32_MAX ? NULL : km->km_slots[j].c;
}

static void
km_del(kmap *km, uint64_t k)
{
	uint32_t j = km_find(km, k);
	if (j == UINT32_MAX)
		return;
	uint32_t mask = km->km_cap - 1;
	km->km_slots[j].c = NULL;
	km->km_n--;
	/* Backward shift: move up each later entry of the cluster whose
	 * home does not lie cyclically in (j, i]. */
	uint32_t i = j;
	for (;;) {
		i = (i + 1) & mask;
		kment e = km->km_slots[i];
		if (e.c == NULL)
			return;
		uint32_t h = km_home(km, e.k);
		bool stay = j <= i ? (j < h && h <= i) : (j < h || h <= i);
		if (stay)
			continue;
		km->km_slots[j] = e;
		km->km_slots[i].c = NULL;
		j = i;
	}
}

/* ------------------------------------------------------ children */

static sup_child *
child_new(const char *id, const tr_child_spec *spec)
{
	size_t n = id != NULL ? strlen(id) + 1 : 0;
	sup_child *c = calloc(1, sizeof(*c) + n);
	if (c == NULL)
		return NULL;
	if (id != NULL) {
		memcpy(c->c_idbuf, id, n);
		c->c_id = c->c_idbuf;
	}
	c->c_start = spec->start;
	c->c_arg = spec->arg;
	c->c_shutdown = spec->shutdown_ms;
	c->c_restart = (uint8_t) spec->restart;
	c->c_type = (uint8_t) spec->type;
	c->c_pid = TR_PID_NIL;
	c->c_state = C_STOPPED;
	return c;
}

static void
child_append(sup *s, sup_child *c)
{
	c->c_next = NULL;
	c->c_prev = s->s_tail;
	if (s->s_tail != NULL)
		s->s_tail->c_next = c;
	else
		s->s_head = c;
	s->s_tail = c;
	s->s_n++;
}

/* child_remove unlists and frees c, which must not be running. */
static void
child_remove(sup *s, sup_child *c)
{
	if (c->c_prev != NULL)
		c->c_prev->c_next = c->c_next;
	else
		s->s_head = c->c_next;
	if (c->c_next != NULL)
		c->c_next->c_prev = c->c_prev;
	else
		s->s_tail = c->c_prev;
	s->s_n--;
	free(c);
}

static sup_child *
child_by_id(sup *s, const char *id)
{
	for (sup_child *c = s->s_head; c != NULL; c = c->c_next)
		if (strcmp(c->c_id, id) == 0)
			return c;
	return NULL;
}

static bool
dynamic(const sup *s)
{
	return s->s_flags.strategy == TR_SIMPLE_ONE_FOR_ONE;
}

/* single: one child per restart group (found by its token). */
static bool
single(const sup *s)
{
	return s->s_flags.strategy == TR_ONE_FOR_ONE ||
	    s->s_flags.strategy == TR_SIMPLE_ONE_FOR_ONE;
}

/*
 * cancel_restart forgets a pending restart of c.  Its timer is cancelled
 * if timer is set; a group's timer is shared by its members, so a member
 * taken out of its group (terminated) leaves it to start the others.
 */
static void
cancel_restart(sup *s, sup_child *c, bool timer)
{
	if (timer && c->c_timer.t_p != NULL)
		(void) tr_cancel_timer(s->s_sys, c->c_timer);
	if (c->c_token != 0 && single(s))
		km_del(&s->s_toks, c->c_token);
	c->c_timer = (tr_timer){ NULL, 0 };
	c->c_token = 0;
	if (c->c_state == C_RESTARTING)
		c->c_state = C_STOPPED;
}

static void
sup_free(void *arg)
{
	sup *s = arg;
	sup_child *c = s->s_head;
	while (c != NULL) {
		sup_child *nx = c->c_next;
		free(c);
		c = nx;
	}
	free(s->s_tmpl);
	free(s->s_pids.km_slots);
	free(s->s_toks.km_slots);
	free(s->s_ring);
	free(s->s_buf);
	free(s);
}

/* ------------------------------------------------------ reports */

static void
report_default(tr_system *sys, const tr_sup_event *ev)
{
	char sp[TR_PID_FMT_MAX], cp[TR_PID_FMT_MAX];
	const char *who = ev->sup_name != NULL
	    ? ev->sup_name
	    : tr_pid_format(ev->sup, sp, sizeof(sp));
	const char *id = ev->child_id != NULL ? ev->child_id : "-";
	unsigned long long n = (unsigned long long) ev->restarts;
	tr_pid_format(ev->child, cp, sizeof(cp));
	switch (ev->kind) {
	case TR_SUP_CHILD_EXITED:
		tr_log(sys, TR_LOG_ERROR,
		    "supervisor %s: child %s %s exited: %s (restarts %llu)",
		    who, id, cp, ev->reason.text, n);
		break;
	case TR_SUP_CHILD_RESTARTED:
		tr_log(sys, TR_LOG_ERROR,
		    "supervisor %s: child %s restarted as %s after %s "
		    "(restarts %llu)",
		    who, id, cp, ev->reason.text, n);
		break;
	case TR_SUP_START_FAILED:
		tr_log(sys, TR_LOG_ERROR,
		    "supervisor %s: child %s failed to start: %s "
		    "(restarts %llu)",
		    who, id, ev->reason.text, n);
		break;
	case TR_SUP_GIVE_UP:
		tr_log(sys, TR_LOG_ERROR,
		    "supervisor %s: giving up: restart intensity exceeded "
		    "by child %s: %s (restarts %llu)",
		    who, id, ev->reason.text, n);
		break;
	case TR_SUP_ESCALATED:
		tr_log(sys, TR_LOG_ERROR,
		    "supervisor %s: children shut down, exiting: %s "
		    "(restarts %llu)",
		    who, ev->reason.text, n);
		break;
	}
}

static void
report(sup *s, tr_sup_event_kind kind, const sup_child *c, tr_pid child,
    const tr_exit_info *why)
{
	tr_sup_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.sup = s->s_self;
	ev.sup_name = s->s_named ? s->s_name : NULL;
	ev.child_id = c != NULL ? c->c_id : NULL;
	ev.child = child;
	if (why != NULL)
		ev.reason = *why;
	else
		info_set(&ev.reason, TR_REASON_NORMAL, NULL);
	ev.restarts = s->s_restarts;
	if (s->s_report != NULL)
		s->s_report(s->s_report_arg, &ev);
	else
		report_default(s->s_sys, &ev);
}

static void
report_start_failed(sup *s, const sup_child *c, int rv)
{
	tr_exit_info why;
	why.kind = TR_REASON_ERROR;
	snprintf(why.text, sizeof(why.text), "start returned %s (%s)",
	    tr_err_name(rv), tr_strerror(rv));
	report(s, TR_SUP_START_FAILED, c, TR_PID_NIL, &why);
}

/* ------------------------------------------------------ shutdown */

static void
forget(sup *s, sup_child *c)
{
	km_del(&s->s_pids, pid_key(c->c_pid));
	c->c_pid = TR_PID_NIL;
	if (c->c_state == C_RUNNING)
		c->c_state = C_STOPPED;
}

/* shut_one shuts down running child c by its shutdown spec and waits for
 * it to be gone.  The child is then stopped (the caller decides more). */
static void
shut_one(tr_ctx *cx, sup *s, sup_child *c)
{
	if (c->c_state != C_RUNNING)
		return;
	tr_pid p = c->c_pid;
	uint64_t ref = 0;
	bool watched = tr_monitor(cx, p, &ref) == 0;
	(void) tr_unlink(cx, p);
	bool brutal = c->c_shutdown == TR_SHUTDOWN_BRUTAL_KILL;
	(void) tr_exit_pid(cx, p, brutal ? TR_KILL : TR_SHUTDOWN);
	forget(s, c);
	if (!watched) {
		/* No memory for a monitor: make sure, and go on. */
		(void) tr_exit_pid(cx, p, TR_KILL);
		return;
	}
	int64_t tmo = brutal || c->c_shutdown < 0 ? TR_INFINITY : c->c_shutdown;
	tr_msg *m = tr_receive_ref(cx, ref, tmo);
	if (m == NULL) {
		(void) tr_exit_pid(cx, p, TR_KILL);
		m = tr_receive_ref(cx, ref, TR_INFINITY);
	}
	tr_msg_free(m);
}

/* match_down takes the DOWN of a dynamic child being shut down. */
static bool
match_down(const tr_msg *m, void *arg)
{
	sup *s = arg;
	if (tr_msg_tag(m) != TR_TAG_DOWN)
		return false;
	sup_child *c = km_get(&s->s_pids, pid_key(tr_msg_from(m)));
	return c != NULL && c->c_mon != 0 && c->c_mon == tr_msg_ref(m);
}

/* shut_dynamic shuts down every running dynamic child at once: exit
 * signals to all, then one wait bounded by the template's shutdown.
 * The children stay in the map (by pid) until their DOWN arrives. */
static void
shut_dynamic(tr_ctx *cx, sup *s)
{
	int64_t sd = s->s_tmpl->c_shutdown;
	bool brutal = sd == TR_SHUTDOWN_BRUTAL_KILL;
	size_t waiting = 0;
	for (sup_child *c = s->s_tail; c != NULL; c = c->c_prev) {
		cancel_restart(s, c, true);
		if (c->c_state != C_RUNNING)
			continue;
		c->c_mon = 0;
		if (tr_monitor(cx, c->c_pid, &c->c_mon) != 0)
			c->c_mon = 0;
		(void) tr_unlink(cx, c->c_pid);
		(void) tr_exit_pid(cx, c->c_pid,
		    brutal || c->c_mon == 0 ? TR_KILL : TR_SHUTDOWN);
		if (c->c_mon != 0)
			waiting++;
		else
			forget(s, c);
	}
	uint64_t end = now_ms() + (uint64_t) (sd > 0 ? sd : 0);
	bool killed = brutal;
	while (waiting > 0) {
		int64_t tmo = TR_INFINITY;
		if (!killed && sd > 0) {
			uint64_t t = now_ms();
			tmo = t >= end ? 0 : (int64_t) (end - t);
		}
		tr_msg *m = tr_receive_match(cx, match_down, s, tmo);
		if (m == NULL) {
			if (tmo == TR_INFINITY)
				continue; /* cannot happen */
			/* Timed out: kill the rest, then wait for ever. */
			for (sup_child *c = s->s_head; c != NULL; c = c->c_next)
				if (c->c_state == C_RUNNING && c->c_mon != 0)
					(void) tr_exit_pid(cx, c->c_pid,
					    TR_KILL);
			killed = true;
			continue;
		}
		sup_child *c = km_get(&s->s_pids, pid_key(tr_msg_from(m)));
		tr_msg_free(m);
		c->c_mon = 0;
		forget(s, c);
		waiting--;
	}
}

/* shut_all shuts every child down: reverse start order (all at once for
 * simple_one_for_one). */
static void
shut_all(tr_ctx *cx, sup *s)
{
	if (dynamic(s)) {
		shut_dynamic(cx, s);
		return;
	}
	for (sup_child *c = s->s_tail; c != NULL; c = c->c_prev) {
		cancel_restart(s, c, true);
		shut_one(cx, s, c);
	}
}

/* leave shuts the children down and ends the supervisor with kind/text. */
static void
leave(tr_ctx *cx, sup *s, tr_reason_kind kind, const char *text)
{
	shut_all(cx, s);
	char buf[TR_REASON_TEXT_MAX];
	snprintf(buf, sizeof(buf), "%s", text != NULL ? text : "");
	tr_reason r = { kind, 0, buf, NULL };
	(void) tr_exit(cx, r);
}

/* ------------------------------------------------------ starting */

/*
 * start_child runs c's start function.  Returns 0 (running, in the map),
 * TR_CHILD_IGNORE (stopped) or a negative code (stopped).
 */
static int
start_child(tr_ctx *cx, sup *s, sup_child *c)
{
	int rv = km_reserve(&s->s_pids);
	if (rv != 0)
		return rv;
	tr_pid p = TR_PID_NIL;
	rv = c->c_start(cx, c->c_arg, c->c_extra, &p);
	if (rv == TR_CHILD_IGNORE) {
		c->c_state = C_STOPPED;
		return rv;
	}
	if (rv == 0 && tr_pid_is_nil(p))
		rv = TR_EINVAL; /* the start function broke its contract */
	if (rv > 0)
		rv = TR_EINVAL;
	if (rv != 0) {
		c->c_state = C_STOPPED;
		return rv;
	}
	c->c_pid = p;
	c->c_state = C_RUNNING;
	c->c_up_ms = now_ms();
	km_put(&s->s_pids, pid_key(c->c_pid), c);
	return 0;
}

/* ------------------------------------------------------ intensity */

/* ring_push records a restart at t; false if the ring cannot grow. */
static bool
ring_push(sup *s, uint64_t t)
{
	if (s->s_ring_n == s->s_ring_cap) {
		uint32_t cap = s->s_ring_cap != 0 ? s->s_ring_cap * 2 : 8;
		if (cap > s->s_flags.intensity || cap < s->s_ring_cap)
			cap = s->s_flags.intensity;
		uint64_t *r = malloc((size_t) cap * sizeof(*r));
		if (r == NULL)
			return false;
		/* Unwrap: oldest first. */
		for (uint32_t i = 0; i < s->s_ring_n; i++)
			r[i] = s->s_ring[(s->s_ring_head + i) % s->s_ring_cap];
		free(s->s_ring);
		s->s_ring = r;
		s->s_ring_cap = cap;
		s->s_ring_head = 0;
	}
	s->s_ring[(s->s_ring_head + s->s_ring_n) % s->s_ring_cap] = t;
	s->s_ring_n++;
	return true;
}

/*
 * may_restart records a restart now and tells whether it stays within
 * the intensity: fewer than R restarts in the last P ms before it.  The
 * ring holds the restarts of the last P ms, oldest first: each is pushed
 * once and dropped once, so this is O(1) amortised, and the ring is no
 * larger than the most restarts seen within a period (at most R).
 */
static bool
may_restart(sup *s)
{
	uint32_t r = s->s_flags.intensity;
	if (r == 0)
		return false;
	uint64_t t = now_ms();
	while (s->s_ring_n > 0 &&
	    t - s->s_ring[s->s_ring_head] >= s->s_flags.period_ms) {
		s->s_ring_head = (s->s_ring_head + 1) % s->s_ring_cap;
		s->s_ring_n--;
	}
	if (s->s_ring_n >= r)
		return false;
	return ring_push(s, t);
}

/* give_up: intensity exceeded by c exiting with why; does not return. */
static void
give_up(tr_ctx *cx, sup *s, sup_child *c, const tr_exit_info *why)
{
	report(s, TR_SUP_GIVE_UP, c, TR_PID_NIL, why);
	shut_all(cx, s);
	tr_exit_info r;
	info_set(&r, TR_REASON_SHUTDOWN, NULL);
	report(s, TR_SUP_ESCALATED, NULL, TR_PID_NIL, &r);
	(void) tr_exit(cx, TR_SHUTDOWN);
}

/* backoff_ms is the delay before c's next restart (and counts it). */
static int64_t
backoff_ms(sup *s, sup_child *c)
{
	const tr_sup_flags *f = &s->s_flags;
	if (f->backoff_min_ms == 0)
		return 0;
	uint32_t k = c->c_backoff < 32 ? c->c_backoff : 32;
	uint64_t d = (uint64_t) f->backoff_min_ms << k;
	if (d > f->backoff_max_ms)
		d = f->backoff_max_ms;
	if (c->c_backoff < UINT32_MAX)
		c->c_backoff++;
	uint64_t j = d * f->backoff_jitter_pct / 100;
	if (j > 0) {
		uint64_t x = rng_next(s) % (2 * j + 1);
		d = d + x - j;
	}
	return (int64_t) d;
}

/* ------------------------------------------------------ restarting */

static void restart_group(tr_ctx *cx, sup *s, sup_child *first, uint64_t tok,
    const tr_exit_info *why);

/*
 * schedule starts the restart group tok, whose first child is first: at
 * once (now, and no backoff), else through a message to the supervisor
 * itself, after c's backoff if any.  c is the child whose exit or failed
 * start caused it.
 */
static void
schedule(tr_ctx *cx, sup *s, sup_child *first, sup_child *c, uint64_t tok,
    bool now, const tr_exit_info *why)
{
	int64_t d = backoff_ms(s, c);
	if (d == 0 && now) {
		restart_group(cx, s, first, tok, why);
		return;
	}
	/* A single child is found again by its token (no list walk). */
	if (single(s) && km_reserve(&s->s_toks) != 0)
		goto at_once;
	if (d == 0) {
		/* A retry: through the mailbox, so requests and exits are
		 * served in between. */
		if (tr_send(cx, s->s_self, SUP_T_RETRY, &tok, sizeof(tok)) != 0)
			goto at_once;
	} else {
		tr_timer t;
		if (tr_send_after(cx, s->s_self, d, SUP_T_RETRY, &tok,
		        sizeof(tok), &t) != 0)
			goto at_once;
		for (sup_child *x = first; x != NULL; x = x->c_next) {
			if (x->c_state == C_RESTARTING && x->c_token == tok)
				x->c_timer = t;
			if (single(s))
				break;
		}
	}
	if (single(s))
		km_put(&s->s_toks, tok, first);
	return;
at_once:
	/* No memory to wait with: try at once. */
	restart_group(cx, s, first, tok, why);
}

/* mark puts c in the restart group tok. */
static void
mark(sup *s, sup_child *c, uint64_t tok)
{
	cancel_restart(s, c, true);
	c->c_state = C_RESTARTING;
	c->c_token = tok;
}

/*
 * restart_group starts, in order, the children marked with tok from first
 * on (only first itself for one_for_one and simple_one_for_one).
 */
static void
restart_group(tr_ctx *cx, sup *s, sup_child *first, uint64_t tok,
    const tr_exit_info *why)
{
	tr_exit_info dflt;
	sup_child *c = first;
	while (c != NULL) {
		sup_child *nx = c->c_next;
		if (c->c_state != C_RESTARTING || c->c_token != tok) {
			if (single(s))
				break;
			c = nx;
			continue;
		}
		c->c_timer = (tr_timer){ NULL, 0 };
		c->c_token = 0;
		int rv = start_child(cx, s, c);
		if (rv == 0) {
			const tr_exit_info *w = why;
			if (w == NULL) {
				info_set(&dflt, (tr_reason_kind) c->c_why,
				    NULL);
				w = &dflt;
			}
			report(s, TR_SUP_CHILD_RESTARTED, c, c->c_pid, w);
		} else if (rv == TR_CHILD_IGNORE) {
			if (dynamic(s) || c->c_restart == TR_TEMPORARY)
				child_remove(s, c);
		} else {
			report_start_failed(s, c, rv);
			tr_exit_info fw;
			fw.kind = TR_REASON_ERROR;
			snprintf(fw.text, sizeof(fw.text), "start returned %s",
			    tr_err_name(rv));
			if (!may_restart(s))
				give_up(cx, s, c, &fw);
			s->s_restarts++;
			/* c and the rest of its group try again. */
			uint64_t nt = ++s->s_tokens;
			c->c_state = C_RESTARTING;
			c->c_token = nt;
			for (sup_child *x = nx; x != NULL && !single(s);
			     x = x->c_next)
				if (x->c_state == C_RESTARTING &&
				    x->c_token == tok)
					x->c_token = nt;
			schedule(cx, s, c, c, nt, false, &fw);
			return;
		}
		if (single(s))
			break;
		c = nx;
	}
}

/* on_retry starts the restart group of token tok, if it is still due. */
static void
on_retry(tr_ctx *cx, sup *s, uint64_t tok)
{
	if (!single(s)) {
		restart_group(cx, s, s->s_head, tok, NULL);
		return;
	}
	sup_child *c = km_get(&s->s_toks, tok);
	if (c == NULL)
		return; /* cancelled meanwhile */
	km_del(&s->s_toks, tok);
	restart_group(cx, s, c, tok, NULL);
}

/* child_exited handles the EXIT of running child c (already forgotten). */
static void
child_exited(tr_ctx *cx, sup *s, sup_child *c, tr_pid was,
    const tr_exit_info *why)
{
	bool bad = abnormal(why->kind);
	c->c_why = (uint8_t) why->kind;
	if (bad)
		report(s, TR_SUP_CHILD_EXITED, c, was, why);
	bool again = c->c_restart == TR_PERMANENT ||
	    (c->c_restart == TR_TRANSIENT && bad);
	if (!again) {
		if (dynamic(s) || c->c_restart == TR_TEMPORARY)
			child_remove(s, c);
		return;
	}
	if (!may_restart(s))
		give_up(cx, s, c, why);
	s->s_restarts++;
	if (s->s_flags.backoff_min_ms != 0 &&
	    now_ms() - c->c_up_ms >= s->s_flags.backoff_max_ms)
		c->c_backoff = 0; /* it stayed up long enough */
	uint64_t tok = ++s->s_tokens;
	sup_child *first = c;
	if (!single(s)) {
		/* The siblings of the group: all, or those after c. */
		sup_child *from = s->s_flags.strategy == TR_ONE_FOR_ALL
		    ? s->s_head
		    : c->c_next;
		if (from != NULL) {
			for (sup_child *x = s->s_tail; x != NULL;
			     x = x->c_prev) {
				if (x != c)
					shut_one(cx, s, x);
				if (x == from)
					break;
			}
		}
		sup_child *x = from;
		while (x != NULL) {
			sup_child *nx = x->c_next;
			if (x == c) {
				/* marked below */
			} else if (x->c_restart == TR_TEMPORARY) {
				child_remove(s, x);
			} else {
				mark(s, x, tok);
				x->c_why = TR_REASON_SHUTDOWN;
			}
			x = nx;
		}
		if (s->s_flags.strategy == TR_ONE_FOR_ALL)
			first = s->s_head;
	}
	mark(s, c, tok);
	schedule(cx, s, first, c, tok, true, why);
}

/* ------------------------------------------------------ requests */

static int
reply(tr_ctx *cx, tr_pid to, uint64_t ref, int rv, tr_pid pid)
{
	sup_rep p;
	memset(&p, 0, sizeof(p));
	p.p_rv = rv;
	p.p_pid = pid;
	return tr_reply_to(cx, to, ref, SUP_T_REPLY, &p, sizeof(p));
}

static bool
spec_ok(const tr_child_spec *spec, bool need_id)
{
	if (spec->start == NULL || (unsigned) spec->restart > TR_TEMPORARY ||
	    (unsigned) spec->type > TR_SUPERVISOR || spec->shutdown_ms < -1)
		return false;
	if (!need_id)
		return true;
	return spec->id != NULL && spec->id[0] != '\0' &&
	    strnlen(spec->id, SUP_ID_MAX) < SUP_ID_MAX;
}

static void
do_start_child(tr_ctx *cx, sup *s, tr_pid from, uint64_t ref, const sup_req *rq)
{
	sup_child *c;
	if (dynamic(s)) {
		if (rq->r_has_spec) {
			reply(cx, from, ref, TR_EINVAL, TR_PID_NIL);
			return;
		}
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			reply(cx, from, ref, TR_ENOMEM, TR_PID_NIL);
			return;
		}
		sup_child *t = s->s_tmpl;
		c->c_id = t->c_id;
		c->c_start = t->c_start;
		c->c_arg = t->c_arg;
		c->c_shutdown = t->c_shutdown;
		c->c_restart = t->c_restart;
		c->c_type = t->c_type;
		c->c_pid = TR_PID_NIL;
		c->c_state = C_STOPPED;
	} else {
		tr_child_spec spec = { rq->r_id, rq->r_start, rq->r_arg,
			(tr_restart) rq->r_restart, rq->r_shutdown,
			(tr_child_type) rq->r_type };
		if (!rq->r_has_spec || !spec_ok(&spec, true)) {
			reply(cx, from, ref, TR_EINVAL, TR_PID_NIL);
			return;
		}
		if (child_by_id(s, rq->r_id) != NULL) {
			reply(cx, from, ref, TR_EEXIST, TR_PID_NIL);
			return;
		}
		c = child_new(rq->r_id, &spec);
		if (c == NULL) {
			reply(cx, from, ref, TR_ENOMEM, TR_PID_NIL);
			return;
		}
	}
	c->c_extra = rq->r_extra;
	/* Listed before the start runs, so state_free finds it. */
	child_append(s, c);
	int rv = start_child(cx, s, c);
	tr_pid pid = c->c_pid;
	if (rv < 0) {
		report_start_failed(s, c, rv);
		child_remove(s, c);
	} else if (rv == TR_CHILD_IGNORE) {
		rv = 0;
		if (dynamic(s) || c->c_restart == TR_TEMPORARY)
			child_remove(s, c);
	}
	reply(cx, from, ref, rv, pid);
}

static sup_child *
find(sup *s, const sup_req *rq)
{
	if (rq->r_has_id)
		return dynamic(s) ? NULL : child_by_id(s, rq->r_id);
	/* pid_key leaves the node out: no child has a nonlocal pid. */
	if (tr_pid_is_nil(rq->r_pid) || rq->r_pid.node != 0)
		return NULL;
	return km_get(&s->s_pids, pid_key(rq->r_pid));
}

static void
do_terminate(tr_ctx *cx, sup *s, tr_pid from, uint64_t ref, const sup_req *rq)
{
	sup_child *c = find(s, rq);
	if (c == NULL) {
		reply(cx, from, ref, TR_ENOENT, TR_PID_NIL);
		return;
	}
	cancel_restart(s, c, single(s));
	shut_one(cx, s, c);
	if (dynamic(s) || c->c_restart == TR_TEMPORARY)
		child_remove(s, c);
	reply(cx, from, ref, 0, TR_PID_NIL);
}

static void
do_restart(tr_ctx *cx, sup *s, tr_pid from, uint64_t ref, const sup_req *rq)
{
	if (dynamic(s)) {
		reply(cx, from, ref, TR_EINVAL, TR_PID_NIL);
		return;
	}
	sup_child *c = find(s, rq);
	if (c == NULL) {
		reply(cx, from, ref, TR_ENOENT, TR_PID_NIL);
		return;
	}
	if (c->c_state != C_STOPPED) {
		reply(cx, from, ref, TR_EEXIST, TR_PID_NIL);
		return;
	}
	int rv = start_child(cx, s, c);
	if (rv < 0)
		report_start_failed(s, c, rv);
	reply(cx, from, ref, rv == TR_CHILD_IGNORE ? 0 : rv, c->c_pid);
}

static void
do_delete(tr_ctx *cx, sup *s, tr_pid from, uint64_t ref, const sup_req *rq)
{
	if (dynamic(s)) {
		reply(cx, from, ref, TR_EINVAL, TR_PID_NIL);
		return;
	}
	sup_child *c = find(s, rq);
	int rv = 0;
	if (c == NULL)
		rv = TR_ENOENT;
	else if (c->c_state != C_STOPPED)
		rv = TR_EEXIST;
	else
		child_remove(s, c);
	reply(cx, from, ref, rv, TR_PID_NIL);
}

static void
do_which(tr_ctx *cx, sup *s, tr_pid from, uint64_t ref, const sup_req *rq)
{
	size_t k = s->s_n < rq->r_cap ? s->s_n : (size_t) rq->r_cap;
	size_t len = sizeof(sup_rep) + k * sizeof(tr_child_info);
	if (len > TR_MSG_MAX_LEN) {
		k = (TR_MSG_MAX_LEN - sizeof(sup_rep)) / sizeof(tr_child_info);
		len = sizeof(sup_rep) + k * sizeof(tr_child_info);
	}
	if (s->s_buf_cap < len) {
		void *b = realloc(s->s_buf, len);
		if (b == NULL) {
			reply(cx, from, ref, TR_ENOMEM, TR_PID_NIL);
			return;
		}
		s->s_buf = b;
		s->s_buf_cap = len;
	}
	sup_rep *p = s->s_buf;
	memset(p, 0, sizeof(*p));
	p->p_n = s->s_n;
	tr_child_info *out = (tr_child_info *) (p + 1);
	size_t i = 0;
	for (sup_child *c = s->s_head; c != NULL && i < k; c = c->c_next) {
		tr_child_info *ci = &out[i++];
		memset(ci, 0, sizeof(*ci));
		snprintf(ci->id, sizeof(ci->id), "%s", c->c_id);
		ci->pid = c->c_pid;
		ci->type = (tr_child_type) c->c_type;
		ci->restart = (tr_restart) c->c_restart;
		ci->running = c->c_state == C_RUNNING;
	}
	int rv = tr_reply_to(cx, from, ref, SUP_T_REPLY, p, len);
	if (rv != 0)
		reply(cx, from, ref, rv, TR_PID_NIL);
}

static void
do_count(tr_ctx *cx, sup *s, tr_pid from, uint64_t ref)
{
	sup_rep p;
	memset(&p, 0, sizeof(p));
	p.p_counts.specs = s->s_n;
	for (sup_child *c = s->s_head; c != NULL; c = c->c_next) {
		if (c->c_state == C_RUNNING)
			p.p_counts.active++;
		if (c->c_type == TR_SUPERVISOR)
			p.p_counts.supervisors++;
		else
			p.p_counts.workers++;
	}
	p.p_counts.restarts = s->s_restarts;
	(void) tr_reply_to(cx, from, ref, SUP_T_REPLY, &p, sizeof(p));
}

/* ------------------------------------------------------ the process */

/* exited handles an EXIT message from pid `from`. */
static void
exited(tr_ctx *cx, sup *s, tr_pid from, const tr_exit_info *why)
{
	if ((tr_pid_is_nil(from) && why->kind != TR_REASON_NORMAL) ||
	    (s->s_linked && tr_pid_eq(from, s->s_parent))) {
		leave(cx, s, why->kind, why->text);
		return;
	}
	sup_child *c = km_get(&s->s_pids, pid_key(from));
	if (c == NULL)
		return; /* not (or no longer) a child: ignored */
	forget(s, c);
	child_exited(cx, s, c, from, why);
}

static void
on_request(tr_ctx *cx, sup *s, uint32_t tag, tr_pid from, uint64_t ref,
    const sup_req *rq)
{
	switch (tag) {
	case SUP_T_START_CHILD:
		do_start_child(cx, s, from, ref, rq);
		break;
	case SUP_T_TERMINATE:
		do_terminate(cx, s, from, ref, rq);
		break;
	case SUP_T_RESTART:
		do_restart(cx, s, from, ref, rq);
		break;
	case SUP_T_DELETE:
		do_delete(cx, s, from, ref, rq);
		break;
	case SUP_T_WHICH:
		do_which(cx, s, from, ref, rq);
		break;
	case SUP_T_COUNT:
		do_count(cx, s, from, ref);
		break;
	case SUP_T_STOP:
		/* Answered by the exit (the caller's DOWN).  A parent that
		 * asks is not to be ended by the link. */
		if (s->s_linked && tr_pid_eq(from, s->s_parent)) {
			(void) tr_unlink(cx, s->s_parent);
			s->s_linked = false;
		}
		leave(cx, s, TR_REASON_SHUTDOWN, NULL);
		break;
	default:
		reply(cx, from, ref, TR_EINVAL, TR_PID_NIL);
		break;
	}
}

static void
serve(tr_ctx *cx, sup *s)
{
	for (;;) {
		tr_msg *m = tr_receive(cx, TR_INFINITY);
		if (m == NULL)
			continue;
		uint32_t tag = tr_msg_tag(m);
		tr_pid from = tr_msg_from(m);
		uint64_t ref = tr_msg_ref(m);
		size_t len = tr_msg_len(m);
		if (tag == TR_TAG_EXIT) {
			tr_exit_info why;
			int rv = tr_msg_reason(m, &why);
			tr_msg_free(m);
			if (rv == 0)
				exited(cx, s, from, &why);
		} else if (tag == SUP_T_RETRY) {
			uint64_t tok = 0;
			bool mine = len == sizeof(tok) &&
			    tr_pid_eq(from, s->s_self);
			if (mine)
				memcpy(&tok, tr_msg_data(m), sizeof(tok));
			tr_msg_free(m);
			if (mine)
				on_retry(cx, s, tok);
		} else if (tag > SUP_T_INIT && tag < SUP_T_RETRY && ref != 0) {
			sup_req rq;
			bool ok = len == sizeof(rq);
			if (ok)
				memcpy(&rq, tr_msg_data(m), sizeof(rq));
			tr_msg_free(m);
			if (ok) {
				rq.r_id[SUP_ID_MAX - 1] = '\0';
				on_request(cx, s, tag, from, ref, &rq);
			} else {
				reply(cx, from, ref, TR_EINVAL, TR_PID_NIL);
			}
		} else {
			tr_msg_free(m); /* not for us: dropped, as OTP logs */
		}
	}
}

/* init registers the name and starts the children in order. */
static int
init(tr_ctx *cx, sup *s)
{
	if (s->s_named) {
		int rv = tr_register(s->s_sys, s->s_name, s->s_self);
		if (rv != 0) {
			s->s_named = false;
			return rv;
		}
	}
	sup_child *c = s->s_head;
	while (c != NULL) {
		sup_child *nx = c->c_next;
		int rv = start_child(cx, s, c);
		if (rv == TR_CHILD_IGNORE && c->c_restart == TR_TEMPORARY) {
			child_remove(s, c);
		} else if (rv < 0) {
			report_start_failed(s, c, rv);
			for (sup_child *x = c->c_prev; x != NULL; x = x->c_prev)
				shut_one(cx, s, x);
			return rv;
		}
		c = nx;
	}
	return 0;
}

/* match_init takes the start request, or the exit of the parent. */
static bool
match_init(const tr_msg *m, void *arg)
{
	sup *s = arg;
	if (tr_msg_tag(m) == SUP_T_INIT)
		return tr_msg_ref(m) != 0;
	return tr_msg_tag(m) == TR_TAG_EXIT && s->s_linked &&
	    tr_pid_eq(tr_msg_from(m), s->s_parent);
}

static void
sup_main(tr_ctx *cx, void *arg)
{
	sup *s = arg;
	s->s_sys = tr_ctx_system(cx);
	s->s_self = tr_self(cx);
	s->s_rng = tr_pid_hash(s->s_self) ^ now_ms() ^ 0x9e3779b97f4a7c15ull;
	if (s->s_rng == 0)
		s->s_rng = 1;
	tr_msg *m = tr_receive_match(cx, match_init, s, TR_INFINITY);
	if (m == NULL)
		return;
	if (tr_msg_tag(m) == TR_TAG_EXIT) {
		/* The starter is gone before it asked: nothing started. */
		tr_exit_info why;
		if (tr_msg_reason(m, &why) != 0)
			info_set(&why, TR_REASON_SHUTDOWN, NULL);
		tr_msg_free(m);
		leave(cx, s, why.kind, why.text);
		return;
	}
	tr_pid from = tr_msg_from(m);
	uint64_t ref = tr_msg_ref(m);
	tr_msg_free(m);
	int rv = init(cx, s);
	if (rv != 0) {
		if (s->s_linked)
			(void) tr_unlink(cx, s->s_parent);
		s->s_linked = false;
		(void) reply(cx, from, ref, rv, TR_PID_NIL);
		(void) tr_exit(cx, TR_SHUTDOWN);
	}
	(void) reply(cx, from, ref, 0, s->s_self);
	serve(cx, s);
}

/* ------------------------------------------------------ client side */

static int
flags_ok(const tr_sup_flags *f)
{
	if ((unsigned) f->strategy > TR_SIMPLE_ONE_FOR_ONE)
		return TR_EINVAL;
	if (f->intensity > 0 && f->period_ms == 0)
		return TR_EINVAL;
	if (f->backoff_min_ms != 0 &&
	    (f->backoff_max_ms < f->backoff_min_ms ||
	        f->backoff_jitter_pct > 100))
		return TR_EINVAL;
	return 0;
}

/* sup_new copies flags, specs and options into a new state. */
static int
sup_new(sup **sp, const tr_sup_flags *f, const tr_child_spec *children,
    size_t n, const tr_sup_opts *opts)
{
	int rv = flags_ok(f);
	if (rv != 0)
		return rv;
	if (n > 0 && children == NULL)
		return TR_EINVAL;
	if (f->strategy == TR_SIMPLE_ONE_FOR_ONE && n != 1)
		return TR_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!spec_ok(&children[i], true))
			return TR_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(children[i].id, children[j].id) == 0)
				return TR_EINVAL;
	}
	if (opts != NULL && opts->name != NULL &&
	    (opts->name[0] == '\0' ||
	        strnlen(opts->name, TR_NAME_MAX + 1) > TR_NAME_MAX))
		return TR_EINVAL;
	sup *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return TR_ENOMEM;
	s->s_flags = *f;
	s->s_parent = TR_PID_NIL;
	if (opts != NULL) {
		s->s_report = opts->report;
		s->s_report_arg = opts->report_arg;
		if (opts->name != NULL) {
			snprintf(s->s_name, sizeof(s->s_name), "%s",
			    opts->name);
			s->s_named = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		sup_child *c = child_new(children[i].id, &children[i]);
		if (c == NULL) {
			sup_free(s);
			return TR_ENOMEM;
		}
		if (f->strategy == TR_SIMPLE_ONE_FOR_ONE)
			s->s_tmpl = c;
		else
			child_append(s, c);
	}
	*sp = s;
	return 0;
}

/* call makes a request from a process (cx) or a plain thread. */
static int
call(tr_system *sys, tr_ctx *cx, tr_pid to, uint32_t tag, const sup_req *rq,
    int64_t timeout_ms, tr_msg **rep)
{
	size_t len = rq != NULL ? sizeof(*rq) : 0;
	if (cx != NULL)
		return tr_call(cx, to, tag, rq, len, timeout_ms, rep);
	if (sys == NULL)
		return TR_EINVAL;
	return tr_system_call(sys, to, tag, rq, len, timeout_ms, rep);
}

/* rep_get checks a reply and copies its header. */
static int
rep_get(const tr_msg *m, sup_rep *p)
{
	if (tr_msg_tag(m) != SUP_T_REPLY || tr_msg_len(m) < sizeof(*p))
		return TR_EBADMSG;
	memcpy(p, tr_msg_data(m), sizeof(*p));
	return 0;
}

/* kill_unstarted ends a supervisor whose start could not be asked for. */
static void
kill_unstarted(tr_system *sys, tr_ctx *cx, tr_pid sp, bool linked)
{
	if (cx != NULL) {
		if (linked)
			(void) tr_unlink(cx, sp);
		(void) tr_exit_pid(cx, sp, TR_KILL);
	} else {
		(void) tr_system_exit_pid(sys, sp, TR_KILL);
	}
}

/* wait_gone waits until the supervisor sp has ended. */
static void
wait_gone(tr_system *sys, tr_ctx *cx, tr_pid sp)
{
	if (cx == NULL) {
		(void) tr_wait(sys, sp, TR_INFINITY, NULL);
		return;
	}
	uint64_t ref;
	if (tr_monitor(cx, sp, &ref) == 0)
		tr_msg_free(tr_receive_ref(cx, ref, TR_INFINITY));
}

int
tr_sup_start(tr_system *sys, tr_ctx *cx, tr_pid *pid, const tr_sup_flags *flags,
    const tr_child_spec *children, size_t n, const tr_sup_opts *opts)
{
	static const tr_sup_flags dflt = TR_SUP_FLAGS_INIT;
	if (cx != NULL)
		sys = tr_ctx_system(cx);
	if (sys == NULL)
		return TR_EINVAL;
	unsigned fl = opts != NULL ? opts->flags : 0;
	if ((fl & ~(unsigned) TR_SPAWN_LINK) != 0)
		return TR_EINVAL;
	bool link = (fl & TR_SPAWN_LINK) != 0;
	if (link && cx == NULL)
		return TR_ECONTEXT;
	sup *s;
	int rv = sup_new(&s, flags != NULL ? flags : &dflt, children, n, opts);
	if (rv != 0)
		return rv;
	if (cx != NULL)
		s->s_parent = tr_self(cx);
	s->s_linked = link;
	tr_spawn_opts o = { .state_free = sup_free,
		.flags = TR_SPAWN_TRAP_EXIT | (link ? TR_SPAWN_LINK : 0) };
	tr_pid sp;
	rv = tr_spawn_process(sys, &sp, sup_main, s, &o);
	if (rv != 0)
		return rv; /* s was freed by state_free */
	tr_msg *m = NULL;
	rv = call(sys, cx, sp, SUP_T_INIT, NULL, TR_INFINITY, &m);
	if (rv == TR_EDOWN) {
		tr_msg_free(m);
		return TR_ENOPROC; /* ended before it could answer */
	}
	if (rv != 0) {
		/* TR_ECONTEXT (an event actor), TR_ENOMEM, TR_ESTOPPED: the
		 * supervisor waits for the request and has started nothing. */
		kill_unstarted(sys, cx, sp, link);
		return rv;
	}
	sup_rep p;
	rv = rep_get(m, &p);
	tr_msg_free(m);
	if (rv != 0) {
		kill_unstarted(sys, cx, sp, link); /* cannot happen */
		return rv;
	}
	if (p.p_rv != 0) {
		/* It has shut down what it started and is on its way out;
		 * wait, so that its name is free when we return. */
		wait_gone(sys, cx, sp);
		return p.p_rv;
	}
	if (pid != NULL)
		*pid = sp;
	return 0;
}

int
tr_sup_child_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	(void) extra;
	const tr_sup_spec *sp = arg;
	if (sp == NULL)
		return TR_EINVAL;
	tr_sup_opts o = sp->opts;
	o.flags |= TR_SPAWN_LINK;
	return tr_sup_start(NULL, cx, pid, &sp->flags, sp->children, sp->n, &o);
}

/* request makes a management call and decodes the reply header. */
static int
request(tr_system *sys, tr_ctx *cx, tr_pid sup_pid, uint32_t tag,
    const sup_req *rq, int64_t timeout_ms, sup_rep *p, tr_msg **keep)
{
	if (cx != NULL)
		sys = tr_ctx_system(cx);
	if (sup_pid.node != 0)
		return TR_ENOTLOCAL; /* requests carry pointers */
	tr_msg *m = NULL;
	int rv = call(sys, cx, sup_pid, tag, rq, timeout_ms, &m);
	if (rv == TR_EDOWN) {
		tr_msg_free(m);
		return TR_ENOPROC;
	}
	if (rv != 0)
		return rv;
	rv = rep_get(m, p);
	if (rv == 0)
		rv = p->p_rv;
	if (keep != NULL && rv == 0)
		*keep = m;
	else
		tr_msg_free(m);
	return rv;
}

static int
set_id(sup_req *rq, const char *id)
{
	if (id == NULL)
		return 0;
	if (id[0] == '\0' || strnlen(id, SUP_ID_MAX) >= SUP_ID_MAX)
		return TR_EINVAL;
	memcpy(rq->r_id, id, strlen(id) + 1);
	rq->r_has_id = 1;
	return 0;
}

int
tr_sup_start_child(tr_system *sys, tr_ctx *cx, tr_pid sup_pid,
    const tr_child_spec *spec, void *extra, tr_pid *child, int64_t timeout_ms)
{
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	if (spec != NULL) {
		if (!spec_ok(spec, true))
			return TR_EINVAL;
		(void) set_id(&rq, spec->id);
		rq.r_has_spec = 1;
		rq.r_start = spec->start;
		rq.r_arg = spec->arg;
		rq.r_restart = (int32_t) spec->restart;
		rq.r_shutdown = spec->shutdown_ms;
		rq.r_type = (int32_t) spec->type;
	}
	rq.r_extra = extra;
	sup_rep p;
	int rv = request(sys, cx, sup_pid, SUP_T_START_CHILD, &rq, timeout_ms,
	    &p, NULL);
	if (child != NULL)
		*child = rv == 0 ? p.p_pid : TR_PID_NIL;
	return rv;
}

int
tr_sup_terminate_child(tr_system *sys, tr_ctx *cx, tr_pid sup_pid,
    const char *id, tr_pid pid, int64_t timeout_ms)
{
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	if (set_id(&rq, id) != 0)
		return TR_EINVAL;
	rq.r_pid = pid;
	if (id == NULL && tr_pid_is_nil(pid))
		return TR_EINVAL;
	sup_rep p;
	return request(sys, cx, sup_pid, SUP_T_TERMINATE, &rq, timeout_ms, &p,
	    NULL);
}

int
tr_sup_restart_child(tr_system *sys, tr_ctx *cx, tr_pid sup_pid, const char *id,
    tr_pid *child, int64_t timeout_ms)
{
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	if (id == NULL || set_id(&rq, id) != 0)
		return TR_EINVAL;
	sup_rep p;
	int rv = request(sys, cx, sup_pid, SUP_T_RESTART, &rq, timeout_ms, &p,
	    NULL);
	if (child != NULL)
		*child = rv == 0 ? p.p_pid : TR_PID_NIL;
	return rv;
}

int
tr_sup_delete_child(tr_system *sys, tr_ctx *cx, tr_pid sup_pid, const char *id,
    int64_t timeout_ms)
{
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	if (id == NULL || set_id(&rq, id) != 0)
		return TR_EINVAL;
	sup_rep p;
	return request(sys, cx, sup_pid, SUP_T_DELETE, &rq, timeout_ms, &p,
	    NULL);
}

int
tr_sup_which_children(tr_system *sys, tr_ctx *cx, tr_pid sup_pid,
    tr_child_info *out, size_t cap, size_t *n, int64_t timeout_ms)
{
	if (out == NULL && cap > 0)
		return TR_EINVAL;
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	rq.r_cap = cap;
	sup_rep p;
	tr_msg *m = NULL;
	int rv = request(sys, cx, sup_pid, SUP_T_WHICH, &rq, timeout_ms, &p,
	    &m);
	if (rv != 0)
		return rv;
	size_t k = (tr_msg_len(m) - sizeof(p)) / sizeof(tr_child_info);
	if (k > cap)
		k = cap;
	if (k > 0)
		memcpy(out, (const sup_rep *) tr_msg_data(m) + 1,
		    k * sizeof(tr_child_info));
	if (n != NULL)
		*n = (size_t) p.p_n;
	tr_msg_free(m);
	return 0;
}

int
tr_sup_count_children(tr_system *sys, tr_ctx *cx, tr_pid sup_pid,
    tr_sup_counts *c, int64_t timeout_ms)
{
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	sup_rep p;
	int rv = request(sys, cx, sup_pid, SUP_T_COUNT, &rq, timeout_ms, &p,
	    NULL);
	if (rv == 0 && c != NULL)
		*c = p.p_counts;
	return rv;
}

int
tr_sup_stop(tr_system *sys, tr_ctx *cx, tr_pid sup_pid, int64_t timeout_ms)
{
	sup_req rq;
	memset(&rq, 0, sizeof(rq));
	if (cx != NULL)
		sys = tr_ctx_system(cx);
	if (sup_pid.node != 0)
		return TR_ENOTLOCAL;
	tr_msg *m = NULL;
	int rv = call(sys, cx, sup_pid, SUP_T_STOP, &rq, timeout_ms, &m);
	if (rv == TR_EDOWN) {
		tr_exit_info why;
		bool gone = tr_msg_reason(m, &why) == 0 &&
		    why.kind == TR_REASON_NOPROC;
		tr_msg_free(m);
		return gone ? TR_ENOPROC : 0;
	}
	tr_msg_free(m); /* a reply: not a supervisor */
	return rv == 0 ? TR_EINVAL : rv;
}
