/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/* System start, stop, idleness, statistics and the logging hook. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"
#include "actors/ctx.h"

#define DEFAULT_BUDGET 100
#define DEFAULT_SPIN_US 50
#define DEFAULT_MAX_ACTORS (64u << 20)
#define MAX_WORKERS 1024
#define DEFAULT_STACK ((size_t) 64 << 10)
#define DEFAULT_STOP_TIMEOUT_MS 5000

static void
log_stderr(void *arg, tr_log_level level, const char *line)
{
	(void) arg;
	static const char *names[] = { "error", "warning", "info" };
	fprintf(stderr, "troupe %s: %s\n",
	    (unsigned) level < 3 ? names[level] : "log", line);
}

static void
vlog(tr_system *sys, tr_log_level level, const char *fmt, va_list ap)
{
	if (level > sys->s_cfg.log_level)
		return;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	sys->s_cfg.log(sys->s_cfg.log_arg, level, line);
}

void
tr__log(tr_system *sys, tr_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(sys, level, fmt, ap);
	va_end(ap);
}

void
tr_log(tr_system *sys, tr_log_level level, const char *fmt, ...)
{
	if (sys == NULL || fmt == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(sys, level, fmt, ap);
	va_end(ap);
}

static void
system_free(tr_system *sys)
{
	/* TR_SPAWN_WAIT records nobody collected: their actors are gone. */
	tr__mapent *e;
	uint32_t it = 0;
	while ((e = tr__map_next(&sys->s_waits, &it)) != NULL)
		tr__waiter_rele(e->me_ptr);
	tr__map_fini(&sys->s_waits);
	if (sys->s_workers != NULL) {
		for (unsigned i = sys->s_nworkers; i-- > 0;)
			tr__timers_fini(&sys->s_workers[i]);
		for (unsigned i = 0; i < sys->s_nworkers; i++)
			if (sys->s_pool != NULL)
				tr__pool_fini(&sys->s_workers[i].w_pool);
		free(sys->s_workers);
	}
	for (unsigned i = 0; i < sys->s_nstacks; i++)
		tr__stack_pool_free(sys->s_stacks[i]);
	tr__names_fini(sys);
	tr__table_fini(&sys->s_table);
	tr__pool_global_free(sys->s_pool);
	pthread_mutex_destroy(&sys->s_inject_mx);
	pthread_mutex_destroy(&sys->s_idle_mx);
	pthread_cond_destroy(&sys->s_idle_cv);
	pthread_mutex_destroy(&sys->s_ext_mx);
	free(sys);
}

int
tr_system_start(tr_system **sysp, const tr_system_config *cfg)
{
	if (sysp == NULL)
		return TR_EINVAL;
	*sysp = NULL;
	tr_system_config c = TR_SYSTEM_CONFIG_INIT;
	if (cfg != NULL)
		c = *cfg;
	if (c.workers > MAX_WORKERS || (unsigned) c.log_level > TR_LOG_INFO ||
	    c.stack_size > TR_STACK_MAX || c.max_actors > TR_MAX_ACTORS) {
		char line[160];
		snprintf(line, sizeof(line),
		    "tr_system_start: invalid config (workers %u, max %u; "
		    "max_actors %u, max %u; stack_size %zu, max %zu; "
		    "log_level %d)",
		    c.workers, MAX_WORKERS, c.max_actors, TR_MAX_ACTORS,
		    c.stack_size, TR_STACK_MAX, (int) c.log_level);
		(c.log != NULL ? c.log : log_stderr)(c.log_arg, TR_LOG_ERROR,
		    line);
		return TR_EINVAL;
	}
	if (c.workers == 0)
		c.workers = tr__ncpu();
	if (c.budget == 0)
		c.budget = DEFAULT_BUDGET;
	if (c.spin_us == 0)
		c.spin_us = DEFAULT_SPIN_US;
	if (c.max_actors == 0)
		c.max_actors = DEFAULT_MAX_ACTORS;
	if (c.log == NULL)
		c.log = log_stderr;
	if (c.stack_size == 0)
		c.stack_size = DEFAULT_STACK;
	if (c.stop_timeout_ms == 0)
		c.stop_timeout_ms = DEFAULT_STOP_TIMEOUT_MS;

	tr_system *sys = calloc(1, sizeof(*sys));
	if (sys == NULL)
		return TR_ENOMEM;
	sys->s_cfg = c;
	sys->s_nworkers = c.workers;
	sys->s_spin_ns = (int64_t) c.spin_us * 1000;
	sys->s_incarnation = tr__incarnation_draw(sys);
	pthread_mutex_init(&sys->s_inject_mx, NULL);
	pthread_mutex_init(&sys->s_idle_mx, NULL);
	pthread_cond_init(&sys->s_idle_cv, NULL);
	pthread_mutex_init(&sys->s_ext_mx, NULL);
	int rv = tr__table_init(&sys->s_table, c.max_actors);
	if (rv != 0) {
		free(sys->s_table.t_chunks);
		sys->s_table.t_chunks = NULL;
		pthread_mutex_init(&sys->s_table.t_mx, NULL);
		system_free(sys);
		return rv;
	}
	sys->s_t0_ns = tr__now_ns();
	sys->s_pool = tr__pool_global_alloc();
	sys->s_workers = aligned_alloc(64, sizeof(tr__worker) * c.workers);
	if (sys->s_pool == NULL || sys->s_workers == NULL ||
	    tr__names_init(sys) != 0) {
		free(sys->s_workers);
		sys->s_workers = NULL;
		system_free(sys);
		return TR_ENOMEM;
	}
	memset(sys->s_workers, 0, sizeof(tr__worker) * c.workers);
	for (unsigned i = 0; i < c.workers; i++) {
		tr__worker *w = &sys->s_workers[i];
		w->w_sys = sys;
		w->w_index = i;
		w->w_cx.cx_w = w;
		w->w_rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		tr__pool_init(&w->w_pool, sys->s_pool);
		tr__timers_init(w);
	}
	if ((rv = tr__sched_start(sys)) != 0) {
		system_free(sys);
		return rv;
	}
	*sysp = sys;
	return 0;
}

static bool
on_own_worker(tr_system *sys)
{
	return tr__tls_worker != NULL && tr__tls_worker->w_sys == sys;
}

/* stop_note records, per worker, which turn it was in and since when it
 * has been seen in it (first call to stop: now). */
static void
stop_note(tr_system *sys)
{
	int64_t now = tr__now_ns();
	for (unsigned i = 0; i < sys->s_nworkers; i++) {
		tr__worker *w = &sys->s_workers[i];
		/* relaxed: a counter; only its changes matter here. */
		uint64_t t = atomic_load_explicit(&w->w_turns,
		    memory_order_relaxed);
		if (sys->s_stop_calls == 0 || t != w->w_stop_turns) {
			w->w_stop_turns = t;
			w->w_stop_ns = now;
		}
	}
}

/* stop_report logs each worker still busy after stop's deadline: which
 * actor it runs and for how long that turn has run at least. */
static void
stop_report(tr_system *sys)
{
	stop_note(sys);
	int64_t now = tr__now_ns();
	unsigned busy = 0;
	for (unsigned i = 0; i < sys->s_nworkers; i++) {
		tr__worker *w = &sys->s_workers[i];
		pthread_mutex_lock(&sys->s_idle_mx);
		bool out = w->w_out;
		pthread_mutex_unlock(&sys->s_idle_mx);
		if (out)
			continue;
		busy++;
		long long ms = (long long) ((now - w->w_stop_ns) / 1000000);
		/* acquire: pairs with the worker's release store, so the
		 * actor's slot is readable. */
		uintptr_t r = atomic_load_explicit(&w->w_running,
		    memory_order_acquire);
		tr__actor *a = (tr__actor *) (r & ~TR__RUN_PROCESS);
		if (a == NULL) {
			tr__log(sys, TR_LOG_ERROR,
			    "tr_system_stop: worker %u (thread troupe-w%u) has "
			    "not ended, between two turns, for at least %lld "
			    "ms",
			    w->w_index, w->w_index % 10000u, ms);
			continue;
		}
		tr_pid pid = tr__pid_of(a);
		char pb[TR_PID_FMT_MAX], name[TR_NAME_MAX + 3];
		char nb[TR_NAME_MAX + 1];
		if (tr__names_of(sys, a, nb, sizeof(nb), false))
			snprintf(name, sizeof(name), "'%s'", nb);
		else
			snprintf(name, sizeof(name), "(no name)");
		tr__log(sys, TR_LOG_ERROR,
		    "tr_system_stop: %s %s %s still runs on worker %u "
		    "(thread troupe-w%u), in one turn for at least %lld ms",
		    (r & TR__RUN_PROCESS) ? "process" : "event actor",
		    tr_pid_format(pid, pb, sizeof(pb)), name, w->w_index,
		    w->w_index % 10000u, ms);
	}
	tr__log(sys, TR_LOG_ERROR,
	    "tr_system_stop: gave up waiting after %lld ms for %u busy "
	    "worker(s); the system stays allocated: make that code return, "
	    "then call tr_system_stop again",
	    (long long) sys->s_cfg.stop_timeout_ms, busy);
}

int
tr_system_stop(tr_system *sys)
{
	if (sys == NULL)
		return TR_EINVAL;
	if (on_own_worker(sys))
		return TR_ECONTEXT;
	stop_note(sys);
	sys->s_stop_calls++;
	if (tr__sched_stop(sys, sys->s_cfg.stop_timeout_ms) != 0) {
		stop_report(sys);
		return TR_ETIMEDOUT;
	}
	tr__actor_teardown(sys);
	/* Actors left in run queues are simply forgotten: all are dead. */
	system_free(sys);
	return 0;
}

/* idle_now: see tr_system_idle_flags; s_idle_mx held, which every change
 * of s_nparked and of a parked worker's w_tpending is made under. */
static bool
idle_now(tr_system *sys, unsigned flags)
{
	if (atomic_load(&sys->s_nparked) != sys->s_nworkers ||
	    atomic_load(&sys->s_inject_len) != 0)
		return false;
	if (flags & TR_IDLE_TIMERS) {
		/* seq_cst: plain threads' timers not yet filed by worker 0
		 * (set before its kick, which takes s_idle_mx). */
		if (atomic_load(&sys->s_tin_len) != 0)
			return false;
		for (unsigned i = 0; i < sys->s_nworkers; i++)
			if (atomic_load_explicit(&sys->s_workers[i].w_tpending,
			        memory_order_relaxed))
				return false;
	}
	return true;
}

int
tr_system_idle_flags(tr_system *sys, int64_t timeout_ms, unsigned flags)
{
	if (sys == NULL || (flags & ~TR_IDLE_TIMERS) != 0)
		return TR_EINVAL;
	if (on_own_worker(sys))
		return TR_ECONTEXT;
	int64_t deadline = timeout_ms < 0 || timeout_ms > ((int64_t) 1 << 41)
	    ? -1
	    : tr__now_ns() + timeout_ms * 1000000;
	int rv = 0;
	pthread_mutex_lock(&sys->s_idle_mx);
	while (!idle_now(sys, flags)) {
		if (atomic_load(&sys->s_stopping)) {
			rv = TR_ESTOPPED;
			break;
		}
		if (!tr__cond_wait_until(&sys->s_idle_cv, &sys->s_idle_mx,
		        deadline)) {
			rv = TR_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&sys->s_idle_mx);
	return rv;
}

int
tr_system_idle(tr_system *sys, int64_t timeout_ms)
{
	return tr_system_idle_flags(sys, timeout_ms, 0);
}

int
tr_system_stats_get(tr_system *sys, tr_system_stats *st)
{
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (sys == NULL || st == NULL)
		return TR_EINVAL;
	uint64_t exited = atomic_load_explicit(&sys->s_stop_exited,
	    memory_order_relaxed);
	int64_t live = 0;
	st->actors_spawned = atomic_load_explicit(&sys->s_ext_spawned,
	    memory_order_relaxed);
	st->messages_sent = atomic_load_explicit(&sys->s_ext_sent,
	    memory_order_relaxed);
	st->dead_letters = atomic_load_explicit(&sys->s_ext_dead,
	    memory_order_relaxed);
	for (unsigned i = 0; i < sys->s_nworkers; i++) {
		tr__worker *w = &sys->s_workers[i];
		st->actors_spawned += atomic_load_explicit(&w->w_spawned,
		    memory_order_relaxed);
		exited += atomic_load_explicit(&w->w_exited,
		    memory_order_relaxed);
		st->messages_sent += atomic_load_explicit(&w->w_sent,
		    memory_order_relaxed);
		st->dead_letters += atomic_load_explicit(&w->w_dead,
		    memory_order_relaxed);
		live += atomic_load_explicit(&w->w_pool.p_live,
		    memory_order_relaxed);
	}
	live += tr__pool_global_live(sys->s_pool);
	st->actors_alive = st->actors_spawned > exited
	    ? st->actors_spawned - exited
	    : 0;
	st->msg_blocks_live = live > 0 ? (uint64_t) live : 0;
	st->slots = (uint64_t) atomic_load(&sys->s_table.t_nchunks) *
	    TR__CHUNK_SIZE;
	st->workers = sys->s_nworkers;
	return 0;
}

int
tr_run(const tr_system_config *cfg, tr_process_fn fn, void *arg,
    tr_exit_info *info)
{
	tr_exit_info mine;
	if (info == NULL)
		info = &mine;
	memset(info, 0, sizeof(*info));
	info->kind = TR_REASON_NOPROC;
	if (fn == NULL)
		return TR_EINVAL;
	if (tr__tls_worker != NULL)
		return TR_ECONTEXT;
	tr_system *sys;
	int rv = tr_system_start(&sys, cfg);
	if (rv != 0)
		return rv;
	tr_pid pid;
	tr_spawn_opts o = { .flags = TR_SPAWN_WAIT };
	rv = tr_spawn_process(sys, &pid, fn, arg, &o);
	if (rv == 0)
		rv = tr_wait(sys, pid, TR_INFINITY, info);
	(void) tr_system_stop(sys);
	if (rv == 0 && info->kind != TR_REASON_NORMAL)
		rv = TR_EDOWN;
	return rv;
}
