/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * Design notes: stack overflows (the reasons, and what other runtimes do,
 * are in docs/decisions/0016-stack-guards-and-overflow.md).
 *
 * Every process stack has a guard gap below it (actors/stack.c).  A
 * process that runs into it gets SIGSEGV (SIGBUS on some systems).  The
 * handler runs on the worker's alternate signal stack (the process's own
 * stack is full) and checks that the fault is ours: the faulting address
 * lies in the guard gap of the stack of the process that this worker runs
 * (tr__tls_worker->w_current), and the interrupted stack pointer in or
 * just below that stack.  Anything else goes to the handler that was
 * there before us (or the default action, which then happens again as if
 * we had never been there).
 *
 * Ending the process.  Its frames cannot be unwound (C has no unwinding,
 * and the fault may sit in the middle of any function).  To end only the
 * process, the handler rewrites the interrupted context so that the
 * return from the handler (sigreturn: the kernel restores the signal mask
 * and leaves the alternate stack) lands in `landing`, at the top of the
 * same process stack, as if the process had called it there.  The old
 * frames are abandoned.  landing logs the report and calls tr_exit with
 * reason TR_STACK_OVERFLOW: the ordinary path of a process that exits, so
 * links, monitors, the stack's return to the pool (trimmed: the handler
 * marks it overflowed) and the sanitizer fiber bookkeeping are the usual
 * ones.  What cannot be made safe: a lock taken by the abandoned frames
 * stays taken (malloc's arena lock if the overflow hit inside malloc's
 * slow path, a FILE's lock inside printf to a stream), and the next call
 * that needs it hangs.
 *
 * The policies.  TR_OVERFLOW_KILL (the default) ends only the process
 * when the faulting instruction is outside the runtime libraries that
 * take locks and that we can recognise by their code range (lock_libs:
 * libc, the dynamic loader, libpthread, the GCC sanitizer runtimes; their
 * executable segments are read once with dl_iterate_phdr), and aborts
 * with the report otherwise: a pc inside libc cannot tell memcpy (no
 * lock) from _int_malloc (the arena lock) cheaply, so the conservative
 * answer is taken.  Where libc's code was not found (a fully static
 * executable: libc is part of the main program), every overflow counts as
 * possibly inside libc and aborts.  TR_OVERFLOW_KILL_ALWAYS ends the
 * process wherever the fault is (the hang risk above); TR_OVERFLOW_ABORT
 * always aborts.  To abort, the handler writes the report to stderr
 * (write(2): nothing else is async-signal-safe) and calls abort(); so it
 * does on an architecture where we cannot rewrite the context.
 *
 * Process-wide state: the handler (a signal disposition is per process)
 * with a count of the systems that use it, the dispositions it replaced,
 * and the code ranges of the lock-taking libraries.  Per worker: its
 * alternate signal stack, a thread-local.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_RSP, dl_iterate_phdr */
#endif

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "actors/actors_int.h"
#include "actors/ctx.h"
#include "actors/fault.h"

#if defined(__SANITIZE_ADDRESS__)
#define TR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR_ASAN 1
#endif
#endif
#ifdef TR_ASAN
#include <sanitizer/asan_interface.h>
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

/* Where the interrupted context can be rewritten (glibc's ucontext). */
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define CAN_REDIRECT 1
#else
#define CAN_REDIRECT 0
#endif

#define ALT_SIZE ((size_t) 64 << 10)
/* How far below its guard a frame's stack pointer may be (a large frame
 * whose first write hit the guard). */
#define SP_SLACK ((uintptr_t) 1 << 20)
#define REPORT_MAX 640
#define NAME_MAX_BYTES (TR_NAME_MAX + 1)

/*
 * lock_libs: the shared objects, by the start of their file name, in
 * whose code an overflow makes TR_OVERFLOW_KILL abort: runtime libraries
 * that take locks a process's frames may hold, that every program has (or
 * a sanitizer build adds), and that we can recognise by name.  Other
 * libraries (libstdc++, nng, OpenSSL, ...) count as the user's own code.
 * The first two entries are libc: without either, libc's code was not
 * found (a fully static executable).
 */
static const char *const lock_libs[] = {
	"libc.so.",       /* glibc (and musl's libc.so) */
	"ld-musl-",       /* musl: libc and the dynamic loader in one */
	"ld-linux",       /* glibc's dynamic loader (ld-linux-x86-64.so.2) */
	"libpthread.so.", /* glibc before 2.34 */
	"libasan.so.",    /* GCC's sanitizer runtimes */
	"libtsan.so.",
	"libubsan.so.",
	"liblsan.so.",
};
#define LIBC_ENTRIES 2
#define LIBS_MAX 8    /* objects matched */
#define RANGES_MAX 24 /* their executable segments */
#define LIB_NAME_MAX 40

typedef struct code_range {
	uintptr_t lo, hi;
	unsigned lib; /* index in lib_name */
} code_range;

static pthread_mutex_t fault_mx = PTHREAD_MUTEX_INITIALIZER;
static unsigned fault_users; /* systems using the handler (fault_mx) */
/* The dispositions we replaced: written under fault_mx before our
 * handler is installed, read by it. */
static struct sigaction old_segv, old_bus;
/* The lock_libs found and their executable segments: written once under
 * fault_mx, before the first handler is installed; read by the handler. */
static code_range ranges[RANGES_MAX];
static unsigned nranges;
static char lib_name[LIBS_MAX][LIB_NAME_MAX];
static unsigned nlibs;
static bool libc_found, libs_looked;
/* Tests: act as if no library had been found (a fully static program). */
static bool hide_libs;

typedef struct alt_stack {
	void *as_mem;
	size_t as_len;
	stack_t as_old;
	bool as_on;
} alt_stack;

static _Thread_local alt_stack tls_alt;

/* --------------------------------------------------------- the report */

typedef struct fbuf {
	char *p;
	size_t left;
} fbuf;

static void
put_s(fbuf *b, const char *s)
{
	for (; *s != '\0' && b->left > 1; s++, b->left--)
		*b->p++ = *s;
	*b->p = '\0';
}

static void
put_u(fbuf *b, uintmax_t v, unsigned base)
{
	char tmp[32];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0 && n < (int) sizeof tmp);
	char out[36];
	int k = 0;
	if (base == 16) {
		out[k++] = '0';
		out[k++] = 'x';
	}
	while (n > 0)
		out[k++] = tmp[--n];
	out[k] = '\0';
	put_s(b, out);
}

/* lib_of names the lock_libs object whose code holds pc, or NULL. */
static const char *
lib_of(uintptr_t pc)
{
	if (hide_libs)
		return NULL;
	for (unsigned i = 0; i < nranges; i++)
		if (pc >= ranges[i].lo && pc < ranges[i].hi)
			return lib_name[ranges[i].lib];
	return NULL;
}

static bool
knows_libc(void)
{
	return libc_found && !hide_libs;
}

#define KILL_ALWAYS_WOULD \
	"TR_OVERFLOW_KILL_ALWAYS would end only the process, at that risk"

/*
 * must_abort says whether the policy pol aborts an overflow at pc, and
 * why (the end of the report).  Async-signal-safe.
 */
static const char *
must_abort(tr_overflow_policy pol, uintptr_t pc)
{
	if (!CAN_REDIRECT)
		return "aborting (this platform cannot end only the process)";
	if (pol == TR_OVERFLOW_ABORT)
		return "aborting (policy TR_OVERFLOW_ABORT)";
	if (pol != TR_OVERFLOW_KILL)
		return NULL;
	if (lib_of(pc) != NULL)
		return "a lock may be held; aborting rather than risk a hang "
		       "(policy TR_OVERFLOW_KILL; " KILL_ALWAYS_WOULD ")";
	if (!knows_libc())
		return "libc's code was not found (a static executable?), so "
		       "a lock may be held; aborting rather than risk a hang "
		       "(policy TR_OVERFLOW_KILL; " KILL_ALWAYS_WOULD ")";
	return NULL;
}

/* report formats the overflow report into buf; async-signal-safe. */
static void
report(char *buf, size_t len, tr__proc *p, const char *name, uintptr_t addr,
    uintptr_t pc, const char *outcome)
{
	fbuf b = { buf, len };
	tr_pid pid = tr__pid_of(p->p_cx.cx_self);
	const tr__stack *s = p->p_stack;
	put_s(&b, "process <");
	put_u(&b, pid.node, 10);
	put_s(&b, ".");
	put_u(&b, pid.slot, 10);
	put_s(&b, ".");
	put_u(&b, pid.gen, 10);
	put_s(&b, ">");
	if (name != NULL) {
		put_s(&b, " (registered as '");
		put_s(&b, name);
		put_s(&b, "')");
	}
	put_s(&b, " overflowed its stack of ");
	put_u(&b, (uintmax_t) (s->hi - s->lo), 10);
	put_s(&b, " bytes (fault ");
	put_u(&b, (uintmax_t) ((uintptr_t) s->lo - addr), 10);
	put_s(&b, " bytes below it, pc ");
	put_u(&b, pc, 16);
	put_s(&b, "): ");
	const char *lib = lib_of(pc);
	if (lib != NULL) {
		put_s(&b, "overflow inside ");
		put_s(&b, lib);
		put_s(&b, ": ");
	}
	put_s(&b, outcome);
}

/* ------------------------------------------------------------ landing */

/*
 * landing is where a process that overflowed resumes, at the top of its
 * own stack, out of the signal handler: it reports and exits.
 */
static __attribute__((noreturn, used)) void
landing(tr__proc *p, uintptr_t addr, uintptr_t pc)
{
	tr_system *sys = p->p_cx.cx_w->w_sys;
	char name[NAME_MAX_BYTES];
	bool named = tr__names_of(sys, p->p_cx.cx_self, name, sizeof name,
	    false);
	char line[REPORT_MAX];
	report(line, sizeof line, p, named ? name : NULL, addr, pc,
	    lib_of(pc) != NULL ? "a lock held there stays held; ending it with "
	                         "reason " TR_STACK_OVERFLOW
	                         " (policy TR_OVERFLOW_KILL_ALWAYS)"
	                       : "ending it with reason " TR_STACK_OVERFLOW);
	tr__log(sys, TR_LOG_ERROR, "%s", line);
	tr_exit(&p->p_cx,
	    (tr_reason){ TR_REASON_ERROR, 0, TR_STACK_OVERFLOW, NULL });
	abort(); /* unreachable: a process's tr_exit does not return */
}

#if CAN_REDIRECT
/* redirect makes the return from the handler call landing(p, addr, pc)
 * on a fresh frame at the top of the stack [.., hi). */
static NO_ASAN void
redirect(ucontext_t *uc, char *hi, tr__proc *p, uintptr_t addr, uintptr_t pc)
{
	uintptr_t top = ((uintptr_t) hi - 64) & ~(uintptr_t) 15;
#if defined(__x86_64__)
	top -= 8; /* as after a call: a return address, none */
	*(uintptr_t *) top = 0;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t) top;
	uc->uc_mcontext.gregs[REG_RBP] = 0;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t) (uintptr_t) landing;
	uc->uc_mcontext.gregs[REG_RDI] = (greg_t) (uintptr_t) p;
	uc->uc_mcontext.gregs[REG_RSI] = (greg_t) addr;
	uc->uc_mcontext.gregs[REG_RDX] = (greg_t) pc;
#elif defined(__aarch64__)
	uc->uc_mcontext.sp = top;
	uc->uc_mcontext.pc = (uintptr_t) landing;
	uc->uc_mcontext.regs[0] = (uintptr_t) p;
	uc->uc_mcontext.regs[1] = addr;
	uc->uc_mcontext.regs[2] = pc;
	uc->uc_mcontext.regs[29] = 0; /* frame pointer */
	uc->uc_mcontext.regs[30] = 0; /* return address */
#endif
}
#endif

static uintptr_t
uc_sp(const ucontext_t *uc)
{
#if CAN_REDIRECT && defined(__x86_64__)
	return (uintptr_t) uc->uc_mcontext.gregs[REG_RSP];
#elif CAN_REDIRECT && defined(__aarch64__)
	return (uintptr_t) uc->uc_mcontext.sp;
#else
	(void) uc;
	return 0; /* unknown: the fault address decides alone */
#endif
}

static uintptr_t
uc_pc(const ucontext_t *uc)
{
#if CAN_REDIRECT && defined(__x86_64__)
	return (uintptr_t) uc->uc_mcontext.gregs[REG_RIP];
#elif CAN_REDIRECT && defined(__aarch64__)
	return (uintptr_t) uc->uc_mcontext.pc;
#else
	(void) uc;
	return 0;
#endif
}

/* ------------------------------------------------------------ handler */

/* chain hands a fault that is not ours to whoever had the signal before. */
static void
chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
	if ((old->sa_flags & SA_SIGINFO) != 0) {
		if (old->sa_sigaction != NULL) {
			old->sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	if (old->sa_handler == SIG_IGN && si->si_code <= 0)
		return; /* sent by someone, and ignored before us */
	/* The default action: put it back; a fault happens again when the
	 * handler returns, a sent signal is sent again (pending until then). */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static NO_ASAN void
handler(int sig, siginfo_t *si, void *ucv)
{
	int saved_errno = errno;
	ucontext_t *uc = ucv;
	tr__worker *w = tr__tls_worker;
	tr__actor *a = w != NULL ? w->w_current : NULL;
	tr__proc *p = a != NULL && (a->a_flags & TR__A_PROCESS) != 0 ? a->a_proc
	                                                             : NULL;
	tr__stack *s = p != NULL ? p->p_stack : NULL;
	uintptr_t addr = (uintptr_t) si->si_addr;
	bool ours = false;
	if (s != NULL && si->si_code > 0) {
		uintptr_t lo = (uintptr_t) s->lo;
		uintptr_t glo = lo - tr__stack_gap(p->p_pool);
		uintptr_t sp = uc_sp(uc);
		ours = addr >= glo && addr < lo &&
		    (sp == 0 ||
		        (sp < (uintptr_t) s->hi && sp >= glo - SP_SLACK));
	}
	if (!ours) {
		chain(sig, si, ucv);
		errno = saved_errno;
		return;
	}
	s->overflowed = true; /* trimmed when it goes back to the pool */
	uintptr_t pc = uc_pc(uc);
	tr_system *sys = w->w_sys;
	const char *why = must_abort(sys->s_cfg.stack_overflow, pc);
	if (why != NULL) {
		char name[NAME_MAX_BYTES];
		bool named = tr__names_of(sys, a, name, sizeof name, true);
		char line[REPORT_MAX];
		report(line, sizeof line, p, named ? name : NULL, addr, pc,
		    why);
		fbuf b = { line + strlen(line), sizeof line - strlen(line) };
		put_s(&b, "\n");
		(void) !write(2, "troupe error: ", 14);
		(void) !write(2, line, strlen(line));
		abort();
	}
#if CAN_REDIRECT
#ifdef TR_ASAN
	/* The abandoned frames' red zones: landing's frames go there. */
	__asan_unpoison_memory_region(s->lo, (size_t) (s->hi - s->lo));
#endif
	redirect(uc, s->hi, p, addr, pc);
#endif
	errno = saved_errno;
}

/* ------------------------------------------------------------ install */

/* find_libs records the executable segments of each lock_libs object. */
static int
find_libs(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void) size;
	(void) arg;
	const char *path = info->dlpi_name;
	if (path == NULL || path[0] == '\0' || nlibs == LIBS_MAX)
		return 0;
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	size_t k = 0;
	for (; k < sizeof lock_libs / sizeof lock_libs[0]; k++)
		if (strncmp(base, lock_libs[k], strlen(lock_libs[k])) == 0)
			break;
	if (k == sizeof lock_libs / sizeof lock_libs[0])
		return 0;
	unsigned lib = nlibs;
	for (int i = 0; i < info->dlpi_phnum && nranges < RANGES_MAX; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) != 0) {
			code_range *r = &ranges[nranges++];
			r->lo = info->dlpi_addr + ph->p_vaddr;
			r->hi = r->lo + ph->p_memsz;
			r->lib = lib;
		}
	}
	if (nranges > 0 && ranges[nranges - 1].lib == lib) {
		/* "libc.so.6", as the file is named */
		size_t n = strlen(base);
		n = n < LIB_NAME_MAX - 1 ? n : LIB_NAME_MAX - 1;
		memcpy(lib_name[lib], base, n);
		lib_name[lib][n] = '\0';
		nlibs++;
		if (k < LIBC_ENTRIES)
			libc_found = true;
	}
	return 0;
}

void
tr__fault_hide_libs(bool hide)
{
	hide_libs = hide;
}

int
tr__fault_install(tr_system *sys)
{
	if ((unsigned) sys->s_cfg.stack_overflow > TR_OVERFLOW_KILL_ALWAYS) {
		tr__log(sys, TR_LOG_ERROR,
		    "tr_system_start: unknown stack_overflow policy %u",
		    (unsigned) sys->s_cfg.stack_overflow);
		return TR_EINVAL;
	}
	int rv = 0;
	pthread_mutex_lock(&fault_mx);
	if (fault_users == 0) {
		if (!libs_looked) {
			(void) dl_iterate_phdr(find_libs, NULL);
			libs_looked = true;
		}
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, &old_segv) != 0) {
			rv = TR_ESYS;
		} else if (sigaction(SIGBUS, &sa, &old_bus) != 0) {
			sigaction(SIGSEGV, &old_segv, NULL);
			rv = TR_ESYS;
		}
	}
	if (rv == 0)
		fault_users++;
	bool libc = knows_libc();
	pthread_mutex_unlock(&fault_mx);
	if (rv != 0)
		tr__log(sys, TR_LOG_ERROR,
		    "tr_system_start: cannot install the stack overflow "
		    "handler: %s",
		    strerror(errno));
	else if (!libc && sys->s_cfg.stack_overflow == TR_OVERFLOW_KILL)
		tr__log(sys, TR_LOG_WARN,
		    "tr_system_start: libc's code was not found (a static "
		    "executable?): a process's stack overflow will abort the "
		    "OS process (TR_OVERFLOW_KILL_ALWAYS ends only the "
		    "process, at the risk of a hang)");
	return rv;
}

/* restore puts old back for sig unless someone replaced our handler. */
static void
restore(int sig, const struct sigaction *old)
{
	struct sigaction cur;
	if (sigaction(sig, NULL, &cur) == 0 &&
	    (cur.sa_flags & SA_SIGINFO) != 0 && cur.sa_sigaction == handler)
		sigaction(sig, old, NULL);
}

void
tr__fault_uninstall(void)
{
	pthread_mutex_lock(&fault_mx);
	if (fault_users > 0 && --fault_users == 0) {
		restore(SIGSEGV, &old_segv);
		restore(SIGBUS, &old_bus);
	}
	pthread_mutex_unlock(&fault_mx);
}

void
tr__fault_thread_start(tr_system *sys)
{
	alt_stack *t = &tls_alt;
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t) pg : 4096;
	size_t len = ALT_SIZE;
#ifdef _SC_SIGSTKSZ
	long min = sysconf(_SC_SIGSTKSZ);
	if (min > 0 && (size_t) min > len)
		len = ((size_t) min + page - 1) & ~(page - 1);
#endif
	char *m = mmap(NULL, len + page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		goto fail;
	(void) mprotect(m, page, PROT_NONE); /* a guard, if it can */
	stack_t ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = m + page;
	ss.ss_size = len;
	if (sigaltstack(&ss, &t->as_old) != 0) {
		munmap(m, len + page);
		goto fail;
	}
	t->as_mem = m;
	t->as_len = len + page;
	t->as_on = true;
	return;
fail:
	tr__log(sys, TR_LOG_ERROR,
	    "worker without an alternate signal stack (%s): a process's "
	    "stack overflow will end the OS process",
	    strerror(errno));
}

void
tr__fault_thread_stop(void)
{
	alt_stack *t = &tls_alt;
	if (!t->as_on)
		return;
	stack_t ss = t->as_old;
	if ((ss.ss_flags & SS_DISABLE) != 0 || ss.ss_sp == NULL) {
		memset(&ss, 0, sizeof ss);
		ss.ss_flags = SS_DISABLE;
	}
	ss.ss_flags &= ~SS_ONSTACK;
	(void) sigaltstack(&ss, NULL);
	munmap(t->as_mem, t->as_len);
	t->as_mem = NULL;
	t->as_on = false;
}
