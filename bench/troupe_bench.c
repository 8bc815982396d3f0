/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * troupe_bench: the reference actor workloads, written with troupe.  The
 * workloads, their sizes, what is timed and how the result is checked are
 * those of the shared peer programs (Erlang/OTP and CAF); see
 * bench/README.md for where their definitions live.
 *
 *   troupe_bench [--impl troupe|troupe-proc] <workload> [sizes]
 *
 * workload: spawn [N] | idle_memory [N] | pingpong [N] | pingpong_raw [N] |
 *           pingpong_term [N] | fanin [S M] |
 *           ring [R H] | supervisor_restart [N]   (troupe-proc: all but
 *           fanin).
 * impl=troupe (the default) uses event actors (tr_spawn, one handler call
 * per message); impl=troupe-proc uses processes (tr_spawn_process:
 * sequential code on its own stack that blocks in tr_receive /
 * tr_receive_tag), the main actor included.
 * On success prints
 *   RESULT bench=<w> impl=<impl> n=<n> wall_ms=<ms> rate=<ops/s>
 * and, for idle_memory, "EXTRA bytes_per_actor=<B>"; on a wrong result,
 * an actor that crashed or a run that did not finish in TROUPE_BENCH_GIVE_UP
 * seconds (default 150) it prints why on stderr and exits with status 1.
 *
 * Shape: main() starts a system with the default configuration (one worker
 * per core, default stack size), spawns the workload's "main actor" with
 * TR_SPAWN_WAIT (so that its real exit reason is kept even if it ends
 * before main() gets to tr_wait), waits for its exit with tr_wait and stops
 * the system.  The main actor (or the actor that finishes the workload)
 * records the outcome in `out` before it exits; tr_wait orders that write
 * before main() reads it.  Each workload is one group of functions below;
 * its table row names a start function per implementation.
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <troupe/supervisor.h>
#include <troupe/troupe.h>

/* Message tags of the workloads. */
enum {
	T_INT = 1, /* one msgpack integer */
	T_READY,   /* idle_memory: a child is up */
	T_STOP,    /* idle_memory: a child must end */
	T_BYE,     /* idle_memory: a child's last words */
	T_PING,    /* pingpong: msgpack k */
	T_PONG,    /* pingpong: msgpack k */
	T_NEXT,    /* ring: msgpack [node, slot, gen] of the successor */
	T_DONE,    /* fanin: the receiver's report; ring: msgpack index */
	T_HALT,    /* ask an actor to end */
	T_STARTED, /* supervisor_restart: msgpack pid of a worker that is up */
	T_CRASH,   /* supervisor_restart: the worker must crash */
};

/* ------------------------------------------------------------- common */

/* The outcome of the timed section; written by one actor, read by main(). */
static struct {
	bool finished, ok;
	double wall_ms;
	const char *why;
	char extra[64];
} out;

/* Sizes of this run (workload order, as on the command line). */
static int64_t size[2];

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* status_kb returns field ("VmRSS:", "VmPTE:") of /proc/self/status in KiB. */
static long
status_kb(const char *field)
{
	char line[256];
	long kb = -1;
	size_t len = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, field, len) == 0) {
			kb = atol(line + len);
			break;
		}
	fclose(f);
	return kb;
}

/* Resident set size of this process in KiB (VmRSS of /proc/self/status). */
static long
rss_kb(void)
{
	return status_kb("VmRSS:");
}

/* Memory map entries of this process (lines of /proc/self/maps); -1 if unknown. */
static long
map_count(void)
{
	char buf[4096];
	long lines = 0;
	size_t got;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f == NULL)
		return -1;
	while ((got = fread(buf, 1, sizeof buf, f)) > 0) /* ends at EOF */
		for (size_t i = 0; i < got; i++)
			lines += buf[i] == '\n';
	fclose(f);
	return lines;
}

/*
 * idle_note is said on stderr (untimed, at the idle point of idle_memory):
 * what VmRSS leaves out (page tables, VmPTE) and the memory map entries in
 * use against vm.max_map_count.
 */
static struct {
	long pte0;
} note;

static void
idle_note(int64_t n)
{
	fprintf(stderr,
	    "note: idle_memory: page tables %+.0f B per actor (VmPTE, not in "
	    "VmRSS); %ld memory maps in use\n",
	    (double) (status_kb("VmPTE:") - note.pte0) * 1024.0 / (double) n,
	    map_count());
}

/* record notes the end of the timed section and whether the result is right. */
static void
record(double t0, bool ok, const char *why)
{
	out.wall_ms = now_ms() - t0;
	out.ok = ok;
	out.why = ok ? NULL : why;
	out.finished = true;
}

/* finish is record for an event actor's handler: it also stops the caller. */
static int
finish(double t0, bool ok, const char *why)
{
	record(t0, ok, why);
	return TR_STOP;
}

/* unexpected ends the calling actor with an error reason. */
static int
unexpected(tr_ctx *cx)
{
	return tr_exit(cx, tr_reason("unexpected message"));
}

/* ended is the handler of actors that end in their init function. */
static int
ended(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) m;
	(void) state;
	return unexpected(cx);
}

/* ok_or turns a send's result into a handler's: 0 goes on, errors end. */
static int
ok_or(int rc)
{
	return rc < 0 ? rc : TR_CONTINUE;
}

/*
 * The main actor's pid, for children whose state is their index (spawn)
 * and carries no room for it.  Set before any child is spawned.
 */
static tr_pid main_pid;

/* ------------------------------------------------------------ 1. spawn */

static struct {
	double t0;
	int64_t got, sum;
} sp;

/* A child sends its index to the main actor and ends. */
static int
spawn_child_init(tr_ctx *cx, void *state)
{
	int rc = tr_send_int(cx, main_pid, T_INT, (int64_t) (intptr_t) state);

	return rc < 0 ? rc : TR_STOP;
}

static int
spawn_main_init(tr_ctx *cx, void *state)
{
	static const tr_spawn_opts child = { .init = spawn_child_init };
	tr_system *sys = tr_ctx_system(cx);

	(void) state;
	main_pid = tr_self(cx);
	sp.t0 = now_ms();
	for (int64_t i = 0; i < size[0]; i++) {
		int rc = tr_spawn(sys, NULL, ended, (void *) (intptr_t) i,
		    &child);
		if (rc < 0)
			return rc;
	}
	return TR_CONTINUE;
}

static int
spawn_main(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t n = size[0], v;

	(void) state;
	if (tr_msg_tag(m) != T_INT || tr_msg_int(m, &v) < 0)
		return unexpected(cx);
	sp.sum += v;
	if (++sp.got < n)
		return TR_CONTINUE;
	return finish(sp.t0, sp.sum == n * (n - 1) / 2,
	    "sum of child indices is wrong");
}

static int
spawn_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .init = spawn_main_init, .flags = flags };

	return tr_spawn(sys, mainp, spawn_main, NULL, &o);
}

/* ------------------------------------------------------ 2. idle_memory */

static struct {
	double t0;
	long rss0;
	int64_t ready, bye;
	tr_pid main;
	tr_pid *kids; /* the handle list, as Erlang's list of pids */
} im;

/* A child says ready, waits for stop, answers bye and ends. */
static int
idle_child_init(tr_ctx *cx, void *state)
{
	(void) state;
	return ok_or(tr_send(cx, im.main, T_READY, NULL, 0));
}

static int
idle_child(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) != T_STOP)
		return unexpected(cx);
	int rc = tr_send(cx, im.main, T_BYE, NULL, 0);
	return rc < 0 ? rc : TR_STOP;
}

static int
idle_main_init(tr_ctx *cx, void *state)
{
	static const tr_spawn_opts child = { .init = idle_child_init };
	tr_system *sys = tr_ctx_system(cx);
	int64_t n = size[0];

	(void) state;
	im.main = tr_self(cx);
	note.pte0 = status_kb("VmPTE:");
	im.rss0 = rss_kb();
	im.t0 = now_ms();
	im.kids = malloc((size_t) n * sizeof *im.kids);
	if (im.kids == NULL)
		return TR_ENOMEM;
	for (int64_t i = 0; i < n; i++) {
		int rc = tr_spawn(sys, &im.kids[i], idle_child, NULL, &child);
		if (rc < 0)
			return rc;
	}
	return TR_CONTINUE;
}

static int
idle_main(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t n = size[0];

	(void) state;
	switch (tr_msg_tag(m)) {
	case T_READY:
		if (++im.ready < n)
			return TR_CONTINUE;
		out.wall_ms = now_ms() - im.t0;
		snprintf(out.extra, sizeof out.extra, "bytes_per_actor=%.0f",
		    (double) (rss_kb() - im.rss0) * 1024.0 / (double) n);
		idle_note(n);
		for (int64_t i = 0; i < n; i++) {
			int rc = tr_send(cx, im.kids[i], T_STOP, NULL, 0);
			if (rc < 0)
				return rc;
		}
		free(im.kids);
		im.kids = NULL;
		return TR_CONTINUE;
	case T_BYE:
		if (++im.bye < n)
			return TR_CONTINUE;
		out.ok = im.ready == n;
		out.why = out.ok ? NULL : "not every actor got ready";
		out.finished = true;
		return TR_STOP;
	default:
		return unexpected(cx);
	}
}

static void
idle_main_free(void *state)
{
	(void) state;
	free(im.kids); /* left only if the main actor failed */
	im.kids = NULL;
}

static int
idle_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .init = idle_main_init,
		.state_free = idle_main_free,
		.flags = flags };

	return tr_spawn(sys, mainp, idle_main, NULL, &o);
}

/* --------------------------------------------------------- 3. pingpong */

static struct {
	double t0;
	int64_t expect;
	tr_pid pong;
} pp;

/* pong answers (pong, k) to the sender of (ping, k). */
static int
pong(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t k;

	(void) state;
	if (tr_msg_tag(m) == T_HALT)
		return TR_STOP;
	if (tr_msg_tag(m) != T_PING || tr_msg_int(m, &k) < 0)
		return unexpected(cx);
	return ok_or(tr_send_int(cx, tr_msg_from(m), T_PONG, k));
}

/* ping, the main actor, sends (ping, k + 1) once (pong, k) is in. */
static int
ping_init(tr_ctx *cx, void *state)
{
	(void) state;
	pp.expect = 1;
	pp.t0 = now_ms();
	return ok_or(tr_send_int(cx, pp.pong, T_PING, 1));
}

static int
ping(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t k;

	(void) state;
	if (tr_msg_tag(m) != T_PONG || tr_msg_int(m, &k) < 0)
		return unexpected(cx);
	if (k != pp.expect || k == size[0]) {
		int rc = finish(pp.t0, k == pp.expect,
		    "pong carried the wrong counter");
		tr_send(cx, pp.pong, T_HALT, NULL, 0);
		return rc;
	}
	pp.expect = k + 1;
	return ok_or(tr_send_int(cx, pp.pong, T_PING, k + 1));
}

static int
pingpong_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .init = ping_init, .flags = flags };
	int rc = tr_spawn(sys, &pp.pong, pong, NULL, NULL);

	return rc < 0 ? rc : tr_spawn(sys, mainp, ping, NULL, &o);
}

/* ------------------------------------- 3b. pingpong_raw, pingpong_term */

/*
 * pingpong with a 3-tuple (counter, a constant, the sender's pid), to
 * price the term calls: pingpong_raw copies a C struct with tr_send and
 * memcpy (the fastest a program can do, not portable); pingpong_term
 * packs "[I i p]" with tr_send_term and reads it with tr_msg_scan (msgpack,
 * global pids).  Event actors only.
 */

typedef struct tuple3 {
	int64_t k;
	int32_t c;
	tr_pid from;
} tuple3;

static struct {
	double t0;
	int64_t expect;
	tr_pid pong;
	bool term;
} pt;

static int
pt_send(tr_ctx *cx, tr_pid to, uint32_t tag, int64_t k)
{
	if (pt.term)
		return tr_send_term(cx, to, tag, "[I i p]", k, 7, tr_self(cx));
	tuple3 t = { k, 7, tr_self(cx) };
	return tr_send(cx, to, tag, &t, sizeof(t));
}

static int
pt_read(tr_ctx *cx, tr_msg *m, int64_t *k)
{
	tuple3 t;
	if (pt.term) {
		if (tr_msg_scan(cx, m, "[I i p]", &t.k, &t.c, &t.from) != 0)
			return -1;
	} else {
		if (tr_msg_len(m) != sizeof(t))
			return -1;
		memcpy(&t, tr_msg_data(m), sizeof(t));
	}
	*k = t.k;
	return t.c == 7 && tr_pid_eq(t.from, tr_msg_from(m)) ? 0 : -1;
}

static int
pt_pong(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t k;

	(void) state;
	if (tr_msg_tag(m) == T_HALT)
		return TR_STOP;
	if (tr_msg_tag(m) != T_PING || pt_read(cx, m, &k) < 0)
		return unexpected(cx);
	return ok_or(pt_send(cx, tr_msg_from(m), T_PONG, k));
}

static int
pt_ping_init(tr_ctx *cx, void *state)
{
	(void) state;
	pt.expect = 1;
	pt.t0 = now_ms();
	return ok_or(pt_send(cx, pt.pong, T_PING, 1));
}

static int
pt_ping(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t k;

	(void) state;
	if (tr_msg_tag(m) != T_PONG || pt_read(cx, m, &k) < 0)
		return unexpected(cx);
	if (k != pt.expect || k == size[0]) {
		int rc = finish(pt.t0, k == pt.expect,
		    "pong carried the wrong counter");
		tr_send(cx, pt.pong, T_HALT, NULL, 0);
		return rc;
	}
	pt.expect = k + 1;
	return ok_or(pt_send(cx, pt.pong, T_PING, k + 1));
}

static int
pt_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .init = pt_ping_init, .flags = flags };
	int rc = tr_spawn(sys, &pt.pong, pt_pong, NULL, NULL);

	return rc < 0 ? rc : tr_spawn(sys, mainp, pt_ping, NULL, &o);
}

static int
pt_raw_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	pt.term = false;
	return pt_start(sys, flags, mainp);
}

static int
pt_term_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	pt.term = true;
	return pt_start(sys, flags, mainp);
}

/* ------------------------------------------------------------ 4. fanin */

static struct {
	double t0;
	int64_t count, sum; /* the receiver's, read by main after T_DONE */
	tr_pid main, recv;
} fi;

/* A sender sends 0..M-1 to the receiver as fast as it can, then ends. */
static int
fanin_sender_init(tr_ctx *cx, void *state)
{
	(void) state;
	for (int64_t i = 0; i < size[1]; i++) {
		int rc = tr_send_int(cx, fi.recv, T_INT, i);
		if (rc < 0)
			return rc;
	}
	return TR_STOP;
}

static int
fanin_receiver(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t v;

	(void) state;
	if (tr_msg_tag(m) != T_INT || tr_msg_int(m, &v) < 0)
		return unexpected(cx);
	fi.sum += v;
	if (++fi.count < size[0] * size[1])
		return TR_CONTINUE;
	int rc = tr_send(cx, fi.main, T_DONE, NULL, 0);
	return rc < 0 ? rc : TR_STOP;
}

static int
fanin_main_init(tr_ctx *cx, void *state)
{
	static const tr_spawn_opts sender = { .init = fanin_sender_init };
	tr_system *sys = tr_ctx_system(cx);

	(void) state;
	fi.main = tr_self(cx);
	fi.t0 = now_ms();
	int rc = tr_spawn(sys, &fi.recv, fanin_receiver, NULL, NULL);
	for (int64_t i = 0; rc == 0 && i < size[0]; i++)
		rc = tr_spawn(sys, NULL, ended, NULL, &sender);
	return ok_or(rc);
}

static int
fanin_main(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t s = size[0], mm = size[1];

	(void) state;
	if (tr_msg_tag(m) != T_DONE)
		return unexpected(cx);
	bool ok = fi.count == s * mm && fi.sum == s * (mm * (mm - 1) / 2);
	return finish(fi.t0, ok, "count or sum of received values is wrong");
}

static int
fanin_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .init = fanin_main_init, .flags = flags };

	return tr_spawn(sys, mainp, fanin_main, NULL, &o);
}

/* ------------------------------------------------------------- 5. ring */

/* A pid travels as the msgpack array [node, slot, gen]. */
static int
send_pid(tr_ctx *cx, tr_pid to, uint32_t tag, tr_pid p)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (msgpack_pack_array(&pk, 3) != 0 ||
	    msgpack_pack_uint32(&pk, p.node) != 0 ||
	    msgpack_pack_uint32(&pk, p.slot) != 0 ||
	    msgpack_pack_uint32(&pk, p.gen) != 0)
		rc = TR_ENOMEM;
	else
		rc = tr_send_sbuffer(cx, to, tag, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int
msg_pid(const tr_msg *m, tr_pid *p)
{
	msgpack_unpacked u;
	uint32_t f[3] = { 0 }; /* node, slot, gen */
	int rc;

	msgpack_unpacked_init(&u);
	rc = tr_msg_unpack(m, &u);
	if (rc == 0 &&
	    (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3))
		rc = TR_EBADMSG;
	for (int i = 0; rc == 0 && i < 3; i++) {
		msgpack_object *o = &u.data.via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    o->via.u64 > UINT32_MAX)
			rc = TR_EBADMSG;
		else
			f[i] = (uint32_t) o->via.u64;
	}
	msgpack_unpacked_destroy(&u);
	if (rc == 0)
		*p = (tr_pid){ .node = f[0], .slot = f[1], .gen = f[2] };
	return rc;
}

static struct {
	double t0;
	tr_pid main;
	tr_pid *nodes;
} rg;

typedef struct ring_node {
	int64_t idx;
	tr_pid next;
} ring_node;

/* A node passes k - 1 to its successor; the one that gets 0 reports. */
static int
ring_node_fn(tr_ctx *cx, tr_msg *m, void *state)
{
	ring_node *st = state;
	int64_t k;

	switch (tr_msg_tag(m)) {
	case T_INT:
		if (tr_msg_int(m, &k) < 0)
			return unexpected(cx);
		if (k == 0)
			return ok_or(tr_send_int(cx, rg.main, T_DONE, st->idx));
		return ok_or(tr_send_int(cx, st->next, T_INT, k - 1));
	case T_NEXT:
		return ok_or(msg_pid(m, &st->next));
	case T_HALT:
		return TR_STOP;
	default:
		return unexpected(cx);
	}
}

static int
ring_main_init(tr_ctx *cx, void *state)
{
	static const tr_spawn_opts node = { .state_free = free };
	tr_system *sys = tr_ctx_system(cx);
	int64_t r = size[0];
	int rc = 0;

	(void) state;
	rg.main = tr_self(cx);
	rg.nodes = malloc((size_t) r * sizeof *rg.nodes);
	if (rg.nodes == NULL)
		return TR_ENOMEM;
	for (int64_t i = 0; rc == 0 && i < r; i++) {
		ring_node *st = malloc(sizeof *st);
		if (st == NULL)
			return TR_ENOMEM;
		*st = (ring_node){ .idx = i, .next = TR_PID_NIL };
		rc = tr_spawn(sys, &rg.nodes[i], ring_node_fn, st, &node);
	}
	for (int64_t i = 0; rc == 0 && i < r; i++)
		rc = send_pid(cx, rg.nodes[i], T_NEXT, rg.nodes[(i + 1) % r]);
	if (rc < 0)
		return rc;
	rg.t0 = now_ms();
	return ok_or(tr_send_int(cx, rg.nodes[0], T_INT, size[1]));
}

static int
ring_main(tr_ctx *cx, tr_msg *m, void *state)
{
	int64_t idx;

	(void) state;
	if (tr_msg_tag(m) != T_DONE || tr_msg_int(m, &idx) < 0)
		return unexpected(cx);
	int rc = finish(rg.t0, idx == size[1] % size[0],
	    "the token stopped at the wrong ring position");
	for (int64_t i = 0; i < size[0]; i++)
		tr_send(cx, rg.nodes[i], T_HALT, NULL, 0);
	return rc;
}

static void
ring_main_free(void *state)
{
	(void) state;
	free(rg.nodes);
	rg.nodes = NULL;
}

static int
ring_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .init = ring_main_init,
		.state_free = ring_main_free,
		.flags = flags };

	return tr_spawn(sys, mainp, ring_main, NULL, &o);
}

/* ----------------------------------------------- 9. supervisor_restart */

/*
 * A one_for_one supervisor with one permanent worker registered as
 * "bench_worker"; the worker says (worker_started, self) to the driver
 * when it is up and named, and ends with an error reason on (crash).  The
 * driver crashes it by name, waits for the restarted worker's start
 * message, and repeats N times.
 */

#define SR_NAME "bench_worker"

static struct {
	double t0;
	tr_pid driver, last;
	int64_t restarts; /* -1 until the initial worker's start message */
	bool fresh;       /* every restarted worker had a new pid */
	/* The supervisor's reports: error exits and restarts of the worker
	 * (checked by main() once the system is stopped). */
	_Atomic int64_t crashed, restarted;
} sr;

/* sr_report and sr_log drop the supervisor's reports and the runtime's log lines,
 * as the Erlang version silences its logger. */
static void
sr_report(void *arg, const tr_sup_event *ev)
{
	(void) arg;
	if (ev->kind == TR_SUP_CHILD_EXITED &&
	    ev->reason.kind == TR_REASON_ERROR)
		atomic_fetch_add(&sr.crashed, 1);
	else if (ev->kind == TR_SUP_CHILD_RESTARTED)
		atomic_fetch_add(&sr.restarted, 1);
}

static void
sr_log(void *arg, tr_log_level level, const char *line)
{
	(void) arg;
	(void) level;
	(void) line;
}

/* sr_worker_up registers the worker and tells the driver: the name is in
 * place before the driver hears of the worker (as gen_server's). */
static int
sr_worker_up(tr_ctx *cx)
{
	int rc = tr_register(tr_ctx_system(cx), SR_NAME, tr_self(cx));

	return rc < 0 ? rc : send_pid(cx, sr.driver, T_STARTED, tr_self(cx));
}

static int
sr_worker_init(tr_ctx *cx, void *state)
{
	(void) state;
	return ok_or(sr_worker_up(cx));
}

static int
sr_worker(tr_ctx *cx, tr_msg *m, void *state)
{
	(void) state;
	if (tr_msg_tag(m) != T_CRASH)
		return unexpected(cx);
	return tr_exit(cx, tr_reason("crash_requested"));
}

static void sr_worker_proc(tr_ctx *cx, void *arg);

/* The child's start function; arg non-NULL: the worker is a process. */
static int
sr_child_start(tr_ctx *cx, void *arg, void *extra, tr_pid *pid)
{
	tr_spawn_opts o = { .init = sr_worker_init, .flags = TR_SPAWN_LINK };

	(void) extra;
	if (arg != NULL)
		return tr_spawn_process(tr_ctx_system(cx), pid, sr_worker_proc,
		    NULL, &o);
	return tr_spawn(tr_ctx_system(cx), pid, sr_worker, NULL, &o);
}

/* sr_sup_start starts the supervisor (cx: a process, or NULL). */
static int
sr_sup_start(tr_system *sys, tr_ctx *cx, bool proc, tr_pid *sup)
{
	static int proc_tag;
	const tr_sup_flags flags = { .strategy = TR_ONE_FOR_ONE,
		.intensity = (unsigned) (10 * size[0]),
		.period_ms = 1000 };
	const tr_child_spec child = { .id = SR_NAME,
		.start = sr_child_start,
		.arg = proc ? &proc_tag : NULL,
		.restart = TR_PERMANENT,
		.shutdown_ms = TR_SHUTDOWN_BRUTAL_KILL,
		.type = TR_WORKER };
	const tr_sup_opts opts = { .report = sr_report };

	return tr_sup_start(sys, cx, sup, &flags, &child, 1, &opts);
}

/* sr_started counts a start message: false when the run is over. */
static bool
sr_started(tr_pid p)
{
	if (sr.restarts++ < 0) {
		sr.t0 = now_ms(); /* the initial worker */
	} else if (tr_pid_eq(p, sr.last) || tr_pid_is_nil(p)) {
		sr.fresh = false;
		return false;
	}
	sr.last = p;
	return sr.restarts < size[0];
}

static int
sr_driver(tr_ctx *cx, tr_msg *m, void *state)
{
	tr_pid p;

	(void) state;
	if (tr_msg_tag(m) != T_STARTED || msg_pid(m, &p) < 0)
		return unexpected(cx);
	if (sr_started(p))
		return ok_or(tr_send_name(cx, SR_NAME, T_CRASH, NULL, 0));
	return finish(sr.t0, sr.fresh && sr.restarts == size[0],
	    "a restarted worker did not get a new pid");
}

/* The driver is an event actor; the supervisor is started from main()'s
 * thread (an event actor cannot call tr_sup_start) and ends with the
 * system. */
static int
sr_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .flags = flags };
	int rc;

	sr.restarts = -1;
	sr.fresh = true;
	if ((rc = tr_spawn(sys, mainp, sr_driver, NULL, &o)) < 0)
		return rc;
	sr.driver = *mainp;
	return sr_sup_start(sys, NULL, false, NULL);
}

/* ------------------------------------------------- processes (troupe-proc) */

/*
 * The same workloads with processes: each actor is sequential code that
 * blocks in tr_receive (any message, the peers' `receive X ->`) or
 * tr_receive_tag (one kind, the peers' `receive {pong, K} ->`), keeps its
 * state in local variables and ends by returning.  A process that meets an
 * error ends with tr_exit and an error reason, which main() reports.
 */

/*
 * fail ends the calling process with an error reason: what, rc's text (for
 * rc < 0) and the caller's file:line.
 */
#define fail(cx, what, rc) fail_at((cx), __FILE__, __LINE__, (what), (rc))

static _Noreturn void
fail_at(tr_ctx *cx, const char *file, int line, const char *what, int rc)
{
	char text[TR_REASON_TEXT_MAX];

	if (rc < 0)
		snprintf(text, sizeof text, "%s: %s", what, tr_strerror(rc));
	else
		snprintf(text, sizeof text, "%s", what);
	/* tr_exit copies the text and, in a process, does not return. */
	(void) tr_exit(cx, (tr_reason){ TR_REASON_ERROR, line, text, file });
	abort();
}

/* TRY ends the calling process if call (a troupe call) returns an error. */
#define TRY(cx, call)                               \
	do {                                        \
		int try_rc_ = (call);               \
		if (try_rc_ < 0)                    \
			fail((cx), #call, try_rc_); \
	} while (0)

/* recv_any blocks until a message comes (ours to free). */
static tr_msg *
recv_any(tr_ctx *cx)
{
	tr_msg *m = tr_receive(cx, TR_INFINITY);

	if (m == NULL)
		fail(cx, "tr_receive returned NULL without a timeout", 0);
	return m;
}

/* recv_tag blocks until a message with tag comes; others stay queued. */
static tr_msg *
recv_tag(tr_ctx *cx, uint32_t tag)
{
	tr_msg *m = tr_receive_tag(cx, tag, TR_INFINITY);

	if (m == NULL)
		fail(cx, "tr_receive_tag returned NULL without a timeout", 0);
	return m;
}

/* take_int decodes m's integer and frees m. */
static int64_t
take_int(tr_ctx *cx, tr_msg *m)
{
	int64_t v;
	int rc = tr_msg_int(m, &v);

	tr_msg_free(m);
	if (rc < 0)
		fail(cx, "tr_msg_int", rc);
	return v;
}

/* spawn: child i sends i to the main process and ends. */
static void
spawn_child_proc(tr_ctx *cx, void *arg)
{
	TRY(cx, tr_send_int(cx, main_pid, T_INT, (int64_t) (intptr_t) arg));
}

static void
spawn_main_proc(tr_ctx *cx, void *arg)
{
	tr_system *sys = tr_ctx_system(cx);
	int64_t n = size[0], sum = 0;

	(void) arg;
	main_pid = tr_self(cx);
	double t0 = now_ms();
	for (int64_t i = 0; i < n; i++)
		TRY(cx,
		    tr_spawn_process(sys, NULL, spawn_child_proc,
		        (void *) (intptr_t) i, NULL));
	for (int64_t got = 0; got < n; got++) {
		tr_msg *m = recv_any(cx);
		if (tr_msg_tag(m) != T_INT)
			fail(cx, "unexpected message", 0);
		sum += take_int(cx, m);
	}
	record(t0, sum == n * (n - 1) / 2, "sum of child indices is wrong");
}

static int
spawn_proc_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .flags = flags };

	return tr_spawn_process(sys, mainp, spawn_main_proc, NULL, &o);
}

/* idle_memory: a child says ready, waits for stop, answers bye and ends. */
static void
idle_child_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	TRY(cx, tr_send(cx, im.main, T_READY, NULL, 0));
	tr_msg_free(recv_tag(cx, T_STOP));
	TRY(cx, tr_send(cx, im.main, T_BYE, NULL, 0));
}

static void
idle_main_proc(tr_ctx *cx, void *arg)
{
	tr_system *sys = tr_ctx_system(cx);
	int64_t n = size[0];

	(void) arg;
	im.main = tr_self(cx);
	note.pte0 = status_kb("VmPTE:");
	im.rss0 = rss_kb();
	double t0 = now_ms();
	im.kids = malloc((size_t) n * sizeof *im.kids);
	if (im.kids == NULL)
		fail(cx, "malloc of the pid list", TR_ENOMEM);
	/* TROUPE_BENCH_COMPACT=1: the idle processes are compact (their
	 * stacks are copied out while they wait; TR_SPAWN_COMPACT). */
	const char *compact = getenv("TROUPE_BENCH_COMPACT");
	const tr_spawn_opts ko = { .flags = compact != NULL && compact[0] == '1'
		    ? TR_SPAWN_COMPACT
		    : 0 };
	for (int64_t i = 0; i < n; i++)
		TRY(cx,
		    tr_spawn_process(sys, &im.kids[i], idle_child_proc, NULL,
		        &ko));
	for (im.ready = 0; im.ready < n; im.ready++)
		tr_msg_free(recv_tag(cx, T_READY));
	out.wall_ms = now_ms() - t0;
	snprintf(out.extra, sizeof out.extra, "bytes_per_actor=%.0f",
	    (double) (rss_kb() - im.rss0) * 1024.0 / (double) n);
	idle_note(n);
	for (int64_t i = 0; i < n; i++)
		TRY(cx, tr_send(cx, im.kids[i], T_STOP, NULL, 0));
	free(im.kids);
	im.kids = NULL;
	for (im.bye = 0; im.bye < n; im.bye++)
		tr_msg_free(recv_tag(cx, T_BYE));
	out.ok = true;
	out.finished = true;
}

static int
idle_proc_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .state_free = idle_main_free,
		.flags = flags };

	return tr_spawn_process(sys, mainp, idle_main_proc, NULL, &o);
}

/* pingpong: pong answers (pong, k) to the sender of (ping, k) until halt. */
static void
pong_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	/* At most N pings and the halt. */
	for (int64_t i = 0; i <= size[0]; i++) {
		tr_msg *m = recv_any(cx);
		uint32_t tag = tr_msg_tag(m);
		tr_pid from = tr_msg_from(m);
		if (tag == T_HALT) {
			tr_msg_free(m);
			return;
		}
		if (tag != T_PING)
			fail(cx, "unexpected message", 0);
		TRY(cx, tr_send_int(cx, from, T_PONG, take_int(cx, m)));
	}
	fail(cx, "more pings than N", 0);
}

/* ping, the main process, sends (ping, k + 1) once (pong, k) is in. */
static void
ping_proc(tr_ctx *cx, void *arg)
{
	tr_pid pong;
	int64_t n = size[0], k = 1;

	(void) arg;
	TRY(cx,
	    tr_spawn_process(tr_ctx_system(cx), &pong, pong_proc, NULL, NULL));
	double t0 = now_ms();
	TRY(cx, tr_send_int(cx, pong, T_PING, 1));
	for (; k <= n; k++) {
		if (take_int(cx, recv_tag(cx, T_PONG)) != k)
			break;
		if (k < n)
			TRY(cx, tr_send_int(cx, pong, T_PING, k + 1));
	}
	record(t0, k > n, "pong carried the wrong counter");
	TRY(cx, tr_send(cx, pong, T_HALT, NULL, 0));
}

static int
pingpong_proc_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .flags = flags };

	return tr_spawn_process(sys, mainp, ping_proc, NULL, &o);
}

/* ring: node i learns its successor, then passes k - 1 on until halt. */
static void
ring_node_proc(tr_ctx *cx, void *arg)
{
	int64_t idx = (int64_t) (intptr_t) arg;
	tr_pid next;
	tr_msg *m = recv_tag(cx, T_NEXT);
	int rc = msg_pid(m, &next);

	tr_msg_free(m);
	if (rc < 0)
		fail(cx, "bad successor message", rc);
	/* At most H + 1 tokens go round (H .. 0), then the halt. */
	for (int64_t i = 0; i <= size[1] + 1; i++) {
		m = recv_any(cx);
		switch (tr_msg_tag(m)) {
		case T_INT: {
			int64_t k = take_int(cx, m);
			if (k == 0)
				TRY(cx, tr_send_int(cx, rg.main, T_DONE, idx));
			else
				TRY(cx, tr_send_int(cx, next, T_INT, k - 1));
			break;
		}
		case T_HALT:
			tr_msg_free(m);
			return;
		default:
			fail(cx, "unexpected message", 0);
		}
	}
	fail(cx, "more messages than the ring carries", 0);
}

static void
ring_main_proc(tr_ctx *cx, void *arg)
{
	tr_system *sys = tr_ctx_system(cx);
	int64_t r = size[0];

	(void) arg;
	rg.main = tr_self(cx);
	rg.nodes = malloc((size_t) r * sizeof *rg.nodes);
	if (rg.nodes == NULL)
		fail(cx, "malloc of the node list", TR_ENOMEM);
	for (int64_t i = 0; i < r; i++)
		TRY(cx,
		    tr_spawn_process(sys, &rg.nodes[i], ring_node_proc,
		        (void *) (intptr_t) i, NULL));
	for (int64_t i = 0; i < r; i++)
		TRY(cx,
		    send_pid(cx, rg.nodes[i], T_NEXT, rg.nodes[(i + 1) % r]));
	double t0 = now_ms();
	TRY(cx, tr_send_int(cx, rg.nodes[0], T_INT, size[1]));
	int64_t idx = take_int(cx, recv_tag(cx, T_DONE));
	record(t0, idx == size[1] % r,
	    "the token stopped at the wrong ring position");
	for (int64_t i = 0; i < r; i++)
		TRY(cx, tr_send(cx, rg.nodes[i], T_HALT, NULL, 0));
	free(rg.nodes);
	rg.nodes = NULL;
}

static int
ring_proc_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .state_free = ring_main_free,
		.flags = flags };

	return tr_spawn_process(sys, mainp, ring_main_proc, NULL, &o);
}

/* supervisor_restart: the worker process says it is up, then crashes on
 * request; the driver process starts the supervisor itself. */
static void
sr_worker_proc(tr_ctx *cx, void *arg)
{
	(void) arg;
	TRY(cx, sr_worker_up(cx));
	tr_msg_free(recv_tag(cx, T_CRASH));
	(void) tr_exit(cx, tr_reason("crash_requested"));
}

static void
sr_driver_proc(tr_ctx *cx, void *arg)
{
	tr_pid sup, p;

	(void) arg;
	sr.driver = tr_self(cx);
	sr.restarts = -1;
	sr.fresh = true;
	TRY(cx, sr_sup_start(tr_ctx_system(cx), cx, true, &sup));
	for (;;) {
		tr_msg *m = recv_tag(cx, T_STARTED);
		int rc = msg_pid(m, &p);
		tr_msg_free(m);
		if (rc < 0)
			fail(cx, "bad worker_started message", rc);
		if (!sr_started(p))
			break;
		TRY(cx, tr_send_name(cx, SR_NAME, T_CRASH, NULL, 0));
	}
	record(sr.t0, sr.fresh && sr.restarts == size[0],
	    "a restarted worker did not get a new pid");
	TRY(cx, tr_sup_stop(tr_ctx_system(cx), cx, sup, 10000));
}

static int
sr_proc_start(tr_system *sys, unsigned flags, tr_pid *mainp)
{
	const tr_spawn_opts o = { .flags = flags };

	return tr_spawn_process(sys, mainp, sr_driver_proc, NULL, &o);
}

/* ------------------------------------------------------------- driver */

/* Implementations: event actors, processes. */
enum { IMPL_TROUPE, IMPL_PROC, IMPL_COUNT };
static const char *const impl_name[IMPL_COUNT] = { "troupe", "troupe-proc" };

/* A start function spawns the main actor with flags (TR_SPAWN_WAIT). */
typedef int (*start_fn)(tr_system *sys, unsigned flags, tr_pid *mainp);

static const struct workload {
	const char *name;
	int nsizes;
	int64_t dflt[2]; /* the peers' default sizes */
	int ops_size;    /* n = size[ops_size], or -1: size[0] * size[1] */
	start_fn start[IMPL_COUNT];
} workloads[] = {
	{ "spawn", 1, { 1000000 }, 0, { spawn_start, spawn_proc_start } },
	{ "idle_memory", 1, { 1000000 }, 0, { idle_start, idle_proc_start } },
	{ "pingpong", 1, { 1000000 }, 0,
	    { pingpong_start, pingpong_proc_start } },
	{ "pingpong_raw", 1, { 1000000 }, 0, { pt_raw_start, NULL } },
	{ "pingpong_term", 1, { 1000000 }, 0, { pt_term_start, NULL } },
	{ "fanin", 2, { 100, 100000 }, -1, { fanin_start, NULL } },
	{ "ring", 2, { 1000, 10000000 }, 1, { ring_start, ring_proc_start } },
	{ "supervisor_restart", 1, { 100000 }, 0, { sr_start, sr_proc_start } },
};

/* env_int returns the positive integer in environment variable name, or dflt. */
static int64_t
env_int(const char *name, int64_t dflt)
{
	const char *v = getenv(name);

	return v != NULL && atoll(v) > 0 ? atoll(v) : dflt;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: troupe_bench [--impl troupe|troupe-proc] <workload> "
	    "[sizes]\n"
	    "  spawn [N] | idle_memory [N] | pingpong [N] | pingpong_raw [N] "
	    "|\n"
	    "  pingpong_term [N] | fanin [S M] | "
	    "ring [R H] |\n"
	    "  supervisor_restart [N]\n"
	    "  (troupe-proc: processes; every workload but fanin)\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const struct workload *w = NULL;
	int impl = IMPL_TROUPE, a = 1, rc;

	if (a + 1 < argc && strcmp(argv[a], "--impl") == 0) {
		for (impl = 0; impl < IMPL_COUNT; impl++)
			if (strcmp(argv[a + 1], impl_name[impl]) == 0)
				break;
		if (impl == IMPL_COUNT)
			return usage();
		a += 2;
	}
	if (a >= argc)
		return usage();
	for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		if (strcmp(argv[a], workloads[i].name) == 0)
			w = &workloads[i];
	if (w == NULL || argc - a - 1 > w->nsizes)
		return usage();
	if (w->start[impl] == NULL) {
		fprintf(stderr, "troupe_bench: %s has no impl=%s yet\n",
		    w->name, impl_name[impl]);
		return 2;
	}
	for (int i = 0; i < w->nsizes; i++) {
		char *end;
		size[i] = w->dflt[i];
		if (a + 1 + i < argc)
			size[i] = strtoll(argv[a + 1 + i], &end, 10);
		if (size[i] <= 0 || (a + 1 + i < argc && *end != '\0'))
			return usage();
	}
	int64_t n = w->ops_size < 0 ? size[0] * size[1] : size[w->ops_size];
	int64_t give_up_ms = env_int("TROUPE_BENCH_GIVE_UP", 150) * 1000;

	tr_system *sys;
	tr_pid mainp;
	tr_exit_info info = { .kind = TR_REASON_NORMAL };
	tr_system_config cfg = TR_SYSTEM_CONFIG_INIT;
	/* supervisor_restart: each crash would log a line (see sr_log). */
	if (w->start[IMPL_TROUPE] == sr_start)
		cfg.log = sr_log;
	if ((rc = tr_system_start(&sys, &cfg)) < 0) {
		fprintf(stderr, "troupe_bench: tr_system_start: %s\n",
		    tr_strerror(rc));
		return 1;
	}
	/* TR_SPAWN_WAIT: the main actor may end before tr_wait is called. */
	rc = w->start[impl](sys, TR_SPAWN_WAIT, &mainp);
	if (rc == 0)
		rc = tr_wait(sys, mainp, give_up_ms, &info);
	if (rc == TR_ETIMEDOUT) {
		/* The system may be wedged: stopping it could hang too. */
		fprintf(stderr, "%s %s: FAILED: not done in %" PRId64 " s\n",
		    impl_name[impl], w->name, give_up_ms / 1000);
		return 1;
	}
	/* Untimed: let the last halt messages land before the stop. */
	if (rc == 0)
		tr_system_idle(sys, 10000);
	tr_system_stop(sys);

	const char *why = rc < 0 ? tr_strerror(rc) : NULL;
	if (why == NULL && info.kind != TR_REASON_NORMAL)
		why = info.text;
	if (why == NULL && !out.finished)
		why = "did not finish";
	if (why == NULL && !out.ok)
		why = out.why;
	if (why == NULL && w->start[IMPL_TROUPE] == sr_start &&
	    (sr.crashed < size[0] || sr.restarted < size[0]))
		why =
		    "the supervisor reported fewer than N crashes or restarts";
	if (why != NULL) {
		fprintf(stderr, "%s %s: FAILED: %s\n", impl_name[impl], w->name,
		    why);
		return 1;
	}
	printf("RESULT bench=%s impl=%s n=%" PRId64 " wall_ms=%.3f rate=%.0f\n",
	    w->name, impl_name[impl], n, out.wall_ms,
	    out.wall_ms > 0 ? (double) n * 1000.0 / out.wall_ms : 0.0);
	if (out.extra[0] != '\0')
		printf("EXTRA %s\n", out.extra);
	return 0;
}
