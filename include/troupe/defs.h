/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_DEFS_H
#define TROUPE_DEFS_H

/* TR_API marks the functions the library exports; everything else is hidden. */
#if defined(TROUPE_STATIC_DEFINE)
#define TR_API
#elif defined(__GNUC__)
#define TR_API __attribute__((visibility("default")))
#else
#define TR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error codes.  Every fallible function returns 0 or one of these, negated
 * (TR_ENOMEM is negative).  One table feeds the enum, tr_strerror and
 * tr_err_name.
 */
#define TR_ERRORS(X)                                                      \
	X(ENOMEM, 1, "out of memory")                                     \
	X(EINVAL, 2, "invalid argument")                                  \
	X(ESTOPPED, 3, "system is stopping")                              \
	X(ENOPROC, 4, "no such actor")                                    \
	X(ETIMEDOUT, 5, "timed out")                                      \
	X(ENOTLOCAL, 6, "pid is on another node and distribution is off") \
	X(ETOOBIG, 7, "message too large")                                \
	X(ELIMIT, 8, "actor table is full")                               \
	X(ECONTEXT, 9, "not allowed from this thread or context")         \
	X(EEXIST, 10, "already exists")                                   \
	X(EBADMSG, 11, "malformed message payload")                       \
	X(EAGAIN, 12, "try again")                                        \
	X(ESYS, 13, "operating system error")                             \
	X(ENOENT, 14, "no such name, timer or reference")                 \
	X(EDOWN, 15, "the called actor exited")                           \
	X(EDEADLK, 16, "an actor may not call itself")                    \
	X(EBADTERM, 17, "payload does not match the term format")

enum tr_err {
	TR_OK = 0,
#define TR_ERR_ENUM_(name, num, text) TR_##name = -(num),
	TR_ERRORS(TR_ERR_ENUM_)
#undef TR_ERR_ENUM_
};

/*
 * tr_strerror returns a static English text for an error code (0 or a
 * negative TR_E* code); unknown codes give "unknown error". Thread: any.
 */
TR_API const char *tr_strerror(int err);

/*
 * tr_err_name returns the code's symbolic name ("TR_ENOMEM"), or
 * "TR_EUNKNOWN". Thread: any.
 */
TR_API const char *tr_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* TROUPE_DEFS_H */
