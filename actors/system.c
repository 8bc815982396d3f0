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

int
tr_system_stop(tr_system *sys)
{
	if (sys == NULL)
		return TR_EINVAL;
	if (on_own_worker(sys))
		return TR_ECONTEXT;
	tr__sched_stop(sys);
	tr__actor_teardown(sys);
	/* Actors left in run queues are simply forgotten: all are dead. */
	system_free(sys);
	return 0;
}

static bool
idle_now(tr_system *sys)
{
	return atomic_load(&sys->s_nparked) == sys->s_nworkers &&
	    atomic_load(&sys->s_inject_len) == 0;
}

int
tr_system_idle(tr_system *sys, int64_t timeout_ms)
{
	if (sys == NULL)
		return TR_EINVAL;
	if (on_own_worker(sys))
		return TR_ECONTEXT;
	struct timespec ts;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (timeout_ms % 1000) * 1000000;
		ts.tv_sec += timeout_ms / 1000 + ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
	}
	int rv = 0;
	pthread_mutex_lock(&sys->s_idle_mx);
	while (!idle_now(sys)) {
		if (atomic_load(&sys->s_stopping))
			break;
		if (timeout_ms < 0) {
			pthread_cond_wait(&sys->s_idle_cv, &sys->s_idle_mx);
		} else if (pthread_cond_timedwait(&sys->s_idle_cv,
		               &sys->s_idle_mx, &ts) != 0 &&
		    !idle_now(sys)) {
			rv = TR_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&sys->s_idle_mx);
	return rv;
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
