/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Registered names: a hash table of names under one mutex, with a reverse
 * map by slot so an exiting actor drops its name in O(1).  An actor has at
 * most one name (as in Erlang).  Registration and exit are ordered by a
 * Dekker pair: register sets TR__X_NAMED, then checks the generation;
 * exit moves the generation, then checks the flag (both seq_cst), so a
 * name is never left pointing at a dead actor.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actors_int.h"

typedef struct name_ent {
	struct name_ent *ne_next;
	tr_pid ne_pid;
	uint64_t ne_hash;
	char ne_name[TR_NAME_MAX + 1];
} name_ent;

struct tr__names {
	pthread_mutex_t n_mx;
	name_ent **n_buckets;
	uint32_t n_cap, n_len;
	tr__map n_by_slot; /* slot + 1 -> name_ent (me_ptr) */
};

static uint64_t
hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char) *s;
		h *= 1099511628211ULL;
	}
	return h;
}

int
tr__names_init(tr_system *sys)
{
	struct tr__names *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return TR_ENOMEM;
	n->n_cap = 64;
	n->n_buckets = calloc(n->n_cap, sizeof(*n->n_buckets));
	if (n->n_buckets == NULL) {
		free(n);
		return TR_ENOMEM;
	}
	pthread_mutex_init(&n->n_mx, NULL);
	sys->s_names = n;
	return 0;
}

void
tr__names_fini(tr_system *sys)
{
	struct tr__names *n = sys->s_names;
	if (n == NULL)
		return;
	for (uint32_t i = 0; i < n->n_cap; i++) {
		name_ent *e = n->n_buckets[i];
		while (e != NULL) {
			name_ent *nx = e->ne_next;
			free(e);
			e = nx;
		}
	}
	free(n->n_buckets);
	tr__map_fini(&n->n_by_slot);
	pthread_mutex_destroy(&n->n_mx);
	free(n);
	sys->s_names = NULL;
}

static name_ent **
find(struct tr__names *n, const char *name, uint64_t h)
{
	name_ent **pp = &n->n_buckets[h & (n->n_cap - 1)];
	for (; *pp != NULL; pp = &(*pp)->ne_next)
		if ((*pp)->ne_hash == h && strcmp((*pp)->ne_name, name) == 0)
			break;
	return pp;
}

static void
grow(struct tr__names *n)
{
	uint32_t cap = n->n_cap * 2;
	name_ent **nb = calloc(cap, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains; still correct */
	for (uint32_t i = 0; i < n->n_cap; i++) {
		name_ent *e = n->n_buckets[i];
		while (e != NULL) {
			name_ent *nx = e->ne_next;
			e->ne_next = nb[e->ne_hash & (cap - 1)];
			nb[e->ne_hash & (cap - 1)] = e;
			e = nx;
		}
	}
	free(n->n_buckets);
	n->n_buckets = nb;
	n->n_cap = cap;
}

bool
tr__name_ok(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return false;
	return strnlen(name, TR_NAME_MAX + 1) <= TR_NAME_MAX;
}

/* unlink_ent removes e (at *pp) from both maps; n_mx held. */
static void
unlink_ent(struct tr__names *n, name_ent **pp)
{
	name_ent *e = *pp;
	*pp = e->ne_next;
	tr__map_del(&n->n_by_slot, (uint64_t) e->ne_pid.slot + 1, NULL);
	n->n_len--;
	free(e);
}

/* insert files name for pid (whose actor's TR__X_NAMED the caller set);
 * n_mx held, *pp is find()'s empty result. */
static int
insert(struct tr__names *n, name_ent **pp, const char *name, uint64_t h,
    tr_pid pid)
{
	name_ent *e = calloc(1, sizeof(*e));
	tr__mapent *me = e != NULL
	    ? tr__map_put(&n->n_by_slot, (uint64_t) pid.slot + 1, NULL)
	    : NULL;
	if (me == NULL) {
		free(e);
		return TR_ENOMEM;
	}
	me->me_ptr = e;
	e->ne_pid = pid;
	e->ne_hash = h;
	strcpy(e->ne_name, name);
	e->ne_next = *pp;
	*pp = e;
	if (++n->n_len > n->n_cap)
		grow(n);
	return 0;
}

int
tr__names_spawn_claim(tr_system *sys, const char *name, tr__actor *a,
    tr_pid pid)
{
	struct tr__names *n = sys->s_names;
	uint64_t h = hash_name(name);
	pthread_mutex_lock(&n->n_mx);
	name_ent **pp = find(n, name, h);
	int rv = *pp != NULL ? TR_EEXIST : insert(n, pp, name, h, pid);
	if (rv != 0) {
		pthread_mutex_unlock(&n->n_mx);
		if (rv == TR_EEXIST)
			tr__log(sys, TR_LOG_WARN,
			    "spawn: name '%s' is taken: no actor made", name);
		return rv;
	}
	/* seq_cst: set before the generation is published (release, in
	 * spawn_actor); tr__finish moves the generation, then reads this
	 * flag: an exit always finds the name. */
	atomic_fetch_or_explicit(&a->a_xflags, TR__X_NAMED,
	    memory_order_seq_cst);
	return 0;
}

void
tr__names_spawn_done(tr_system *sys)
{
	pthread_mutex_unlock(&sys->s_names->n_mx);
}

int
tr_register(tr_system *sys, const char *name, tr_pid pid)
{
	if (sys == NULL || !tr__name_ok(name) || tr_pid_is_nil(pid))
		return TR_EINVAL;
	if (pid.node != 0)
		return TR_ENOTLOCAL;
	struct tr__names *n = sys->s_names;
	uint64_t h = hash_name(name);
	int rv = 0;
	pthread_mutex_lock(&n->n_mx);
	tr__actor *a = tr__lookup(sys, pid);
	name_ent **pp = find(n, name, h);
	if (*pp != NULL) {
		rv = TR_EEXIST;
	} else if (a == NULL) {
		rv = TR_ENOPROC;
	} else if (atomic_fetch_or_explicit(&a->a_xflags, TR__X_NAMED,
	               memory_order_seq_cst) &
	    TR__X_NAMED) {
		rv = TR_EEXIST; /* one name per actor */
	} else if (atomic_load_explicit(&a->a_gen, memory_order_seq_cst) !=
	    pid.gen) {
		atomic_fetch_and_explicit(&a->a_xflags, ~(uint32_t) TR__X_NAMED,
		    memory_order_relaxed);
		rv = TR_ENOPROC;
	} else if ((rv = insert(n, pp, name, h, pid)) != 0) {
		atomic_fetch_and_explicit(&a->a_xflags, ~(uint32_t) TR__X_NAMED,
		    memory_order_relaxed);
	}
	pthread_mutex_unlock(&n->n_mx);
	return rv;
}

int
tr_unregister(tr_system *sys, const char *name)
{
	if (sys == NULL || !tr__name_ok(name))
		return TR_EINVAL;
	struct tr__names *n = sys->s_names;
	int rv = TR_ENOENT;
	pthread_mutex_lock(&n->n_mx);
	name_ent **pp = find(n, name, hash_name(name));
	if (*pp != NULL) {
		tr__actor *a = tr__lookup(sys, (*pp)->ne_pid);
		if (a != NULL)
			atomic_fetch_and_explicit(&a->a_xflags,
			    ~(uint32_t) TR__X_NAMED, memory_order_relaxed);
		unlink_ent(n, pp);
		rv = 0;
	}
	pthread_mutex_unlock(&n->n_mx);
	return rv;
}

int
tr_whereis(tr_system *sys, const char *name, tr_pid *pid)
{
	if (sys == NULL || !tr__name_ok(name) || pid == NULL)
		return TR_EINVAL;
	struct tr__names *n = sys->s_names;
	int rv = TR_ENOENT;
	pthread_mutex_lock(&n->n_mx);
	name_ent **pp = find(n, name, hash_name(name));
	if (*pp != NULL) {
		*pid = (*pp)->ne_pid;
		rv = 0;
	}
	pthread_mutex_unlock(&n->n_mx);
	return rv;
}

void
tr__names_drop(tr_system *sys, tr__actor *a, tr_pid pid)
{
	struct tr__names *n = sys->s_names;
	pthread_mutex_lock(&n->n_mx);
	tr__mapent *me = tr__map_get(&n->n_by_slot, (uint64_t) pid.slot + 1);
	if (me != NULL) {
		name_ent *e = me->me_ptr;
		if (tr_pid_eq(e->ne_pid, pid))
			unlink_ent(n, find(n, e->ne_name, e->ne_hash));
	}
	atomic_fetch_and_explicit(&a->a_xflags, ~(uint32_t) TR__X_NAMED,
	    memory_order_relaxed);
	pthread_mutex_unlock(&n->n_mx);
}

int
tr_send_name(tr_ctx *cx, const char *name, uint32_t tag, const void *data,
    size_t len)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	tr_pid pid;
	int rv = tr_whereis(cx->cx_w->w_sys, name, &pid);
	return rv != 0 ? rv : tr_send(cx, pid, tag, data, len);
}

bool
tr__names_of(tr_system *sys, tr__actor *a, char *buf, size_t len, bool try)
{
	/* seq_cst: pairs with tr_register's flag-then-check. */
	if (len == 0 ||
	    (atomic_load_explicit(&a->a_xflags, memory_order_seq_cst) &
	        TR__X_NAMED) == 0)
		return false;
	struct tr__names *n = sys->s_names;
	if (try ? pthread_mutex_trylock(&n->n_mx) != 0
	        : pthread_mutex_lock(&n->n_mx) != 0)
		return false;
	tr__mapent *e = tr__map_get(&n->n_by_slot, (uint64_t) a->a_slot + 1);
	bool found = e != NULL;
	if (found) {
		const name_ent *ne = e->me_ptr;
		size_t i = 0;
		for (; i + 1 < len && ne->ne_name[i] != '\0'; i++)
			buf[i] = ne->ne_name[i];
		buf[i] = '\0';
	}
	pthread_mutex_unlock(&n->n_mx);
	return found;
}

/* ------------------------------------------------------- by name */

int
tr_system_send_name(tr_system *sys, const char *name, uint32_t tag,
    const void *data, size_t len)
{
	tr_pid pid;
	int rv = tr_whereis(sys, name, &pid);
	return rv != 0 ? rv : tr_system_send(sys, pid, tag, data, len);
}

/* callee finds name for a call: TR_ENOPROC if none (*reply NULL). */
static int
callee(tr_system *sys, const char *name, tr_msg **reply, tr_pid *pid)
{
	if (reply == NULL)
		return TR_EINVAL;
	*reply = NULL;
	int rv = tr_whereis(sys, name, pid);
	return rv == TR_ENOENT ? TR_ENOPROC : rv;
}

int
tr_call_name(tr_ctx *cx, const char *name, uint32_t tag, const void *data,
    size_t len, int64_t timeout_ms, tr_msg **reply)
{
	if (cx == NULL) {
		if (reply != NULL)
			*reply = NULL;
		return TR_ECONTEXT;
	}
	tr_pid pid;
	int rv = callee(cx->cx_w->w_sys, name, reply, &pid);
	return rv != 0 ? rv
	               : tr_call(cx, pid, tag, data, len, timeout_ms, reply);
}

int
tr_system_call_name(tr_system *sys, const char *name, uint32_t tag,
    const void *data, size_t len, int64_t timeout_ms, tr_msg **reply)
{
	tr_pid pid;
	int rv = callee(sys, name, reply, &pid);
	return rv != 0
	    ? rv
	    : tr_system_call(sys, pid, tag, data, len, timeout_ms, reply);
}

int
tr_send_name_term(tr_ctx *cx, const char *name, uint32_t tag, const char *fmt,
    ...)
{
	if (cx == NULL)
		return TR_ECONTEXT;
	tr_pid pid;
	int rv = tr_whereis(cx->cx_w->w_sys, name, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_send_term_v(cx, pid, tag, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_system_send_name_term(tr_system *sys, const char *name, uint32_t tag,
    const char *fmt, ...)
{
	tr_pid pid;
	int rv = tr_whereis(sys, name, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_system_send_term_v(sys, pid, tag, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_call_name_term(tr_ctx *cx, const char *name, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...)
{
	if (cx == NULL) {
		if (reply != NULL)
			*reply = NULL;
		return TR_ECONTEXT;
	}
	tr_pid pid;
	int rv = callee(cx->cx_w->w_sys, name, reply, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_call_term_v(cx, pid, tag, timeout_ms, reply, fmt, ap);
	va_end(ap);
	return rv;
}

int
tr_system_call_name_term(tr_system *sys, const char *name, uint32_t tag,
    int64_t timeout_ms, tr_msg **reply, const char *fmt, ...)
{
	tr_pid pid;
	int rv = callee(sys, name, reply, &pid);
	if (rv != 0)
		return rv;
	va_list ap;
	va_start(ap, fmt);
	rv = tr_system_call_term_v(sys, pid, tag, timeout_ms, reply, fmt, ap);
	va_end(ap);
	return rv;
}

bool
tr__names_of_pid(tr_system *sys, tr_pid pid, char *buf)
{
	struct tr__names *n = sys->s_names;
	bool found = false;
	pthread_mutex_lock(&n->n_mx);
	tr__mapent *me = tr__map_get(&n->n_by_slot, (uint64_t) pid.slot + 1);
	if (me != NULL) {
		name_ent *e = me->me_ptr;
		if (tr_pid_eq(e->ne_pid, pid)) {
			strcpy(buf, e->ne_name);
			found = true;
		}
	}
	pthread_mutex_unlock(&n->n_mx);
	return found;
}
