/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * libFuzzer target for the term scanner (mailbox/term.c), which reads
 * bytes that will come from the network.  The first input byte picks a
 * format, the rest is the payload; every format is also tried as "*" and
 * through the iterators, and whatever scans is packed back and must scan
 * again.  Built as a fuzzer with -DTROUPE_FUZZ=ON (clang); the seed corpus
 * in tests/fuzz/corpus/term is replayed by the test fuzz_term_replay.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox/term_int.h"

/* The incarnation the seeds' pids and references carry. */
#define FUZZ_INC 0x0123456789abcdefULL

static const char *const fmts[] = {
	"*",
	"A",
	"M",
	"[i s p r]",
	"{s i}",
	"[I U f b n s y# A]",
	"['put' s I p]",
	"[* * *]",
	"[[i i] {s: [f b n]} M]",
	"p",
	"r",
	"[u -1 'x' U]",
};
#define NFMTS (sizeof(fmts) / sizeof(fmts[0]))

static int
scan(const uint8_t *d, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr__term_scan(FUZZ_INC, d, n, fmt, &ap);
	va_end(ap);
	return rv;
}

static int
next(tr_term_iter *it, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rv = tr__term_next(it, fmt, &ap);
	va_end(ap);
	return rv;
}

/* The counts of size_of's format, for write_to. */
static tr__term_plan plan;

static int64_t
size_of(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int64_t n = tr__term_size(FUZZ_INC, fmt, &ap, &plan);
	va_end(ap);
	return n;
}

static void
write_to(void *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tr__term_write(FUZZ_INC, out, &ap, &plan);
	va_end(ap);
}

/* walk reads every value of it, one at a time, as several items. */
static void
walk(tr_term_iter *it)
{
	int64_t i;
	const char *s;
	size_t sl;
	tr_term_iter in;
	for (uint64_t k = 0; k <= it->count * 2 + 1; k++) {
		if (next(it, "I", &i) == 0 || next(it, "s", &s, &sl) == 0)
			continue;
		if (next(it, "A", &in) == 0 || next(it, "M", &in) == 0) {
			while (next(&in, "*") == 0)
				;
			continue;
		}
		if (next(it, "*") != 0)
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *fmt = fmts[data[0] % NFMTS];
	const uint8_t *d = data + 1;
	size_t n = size - 1;
	/* Outputs enough for any format above: big enough slots. */
	union {
		int64_t i;
		uint64_t u;
		double f;
		bool b;
		const void *p;
		size_t z;
		tr_pid pid;
		tr_term_iter it;
	} o[16];
	memset(o, 0, sizeof(o));
	(void) scan(d, n, fmt, &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6],
	    &o[7], &o[8], &o[9], &o[10], &o[11]);
	tr_term_iter it;
	if (scan(d, n, "A", &it) == 0 || scan(d, n, "M", &it) == 0)
		walk(&it);
	if (scan(d, n, "*") == 0 && n == 0)
		abort(); /* no value in no bytes */
	/* A string or binary packs back to a term that scans the same. */
	const void *p;
	size_t l;
	bool str = scan(d, n, "s", &p, &l) == 0;
	if (str || scan(d, n, "y#", &p, &l) == 0) {
		const char *pf = str ? "s#" : "y#";
		int64_t m = size_of(pf, p, l);
		if (m < 0 || (size_t) m > l + 5)
			abort();
		uint8_t *b = malloc((size_t) m);
		if (b == NULL) {
			tr__term_plan_free(&plan);
			return 0;
		}
		write_to(b, pf, p, l);
		const void *q;
		size_t ql;
		if (scan(b, (size_t) m, pf[0] == 's' ? "s" : "y#", &q, &ql) !=
		        0 ||
		    ql != l || memcmp(q, p, l) != 0)
			abort();
		free(b);
	}
	return 0;
}
