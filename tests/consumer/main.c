/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * A tiny program built against an installed troupe: it starts a system,
 * spawns an event actor, sends it one msgpack message from main, waits for
 * the actor to end and stops the system.  Exits 0 if all went as planned.
 */

#include <stdio.h>
#include <string.h>

#include <troupe/troupe.h>

enum { GREET = 1 };

/* greeter checks one ["hello", 42] message, records it and exits. */
static int
greeter(tr_ctx *cx, tr_msg *m, void *state)
{
	int *got = state;
	msgpack_unpacked u;
	int rv;

	(void) cx;
	if (tr_msg_tag(m) != GREET)
		return TR_CONTINUE;
	msgpack_unpacked_init(&u);
	if ((rv = tr_msg_unpack(m, &u)) == 0 &&
	    u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 2) {
		msgpack_object s = u.data.via.array.ptr[0];
		msgpack_object n = u.data.via.array.ptr[1];
		*got = s.type == MSGPACK_OBJECT_STR && s.via.str.size == 5 &&
		    memcmp(s.via.str.ptr, "hello", 5) == 0 &&
		    n.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    n.via.u64 == 42;
	}
	msgpack_unpacked_destroy(&u);
	return rv == 0 ? TR_STOP : rv;
}

static int
fail(const char *what, int rv)
{
	fprintf(stderr, "consumer: %s: %s\n", what, tr_strerror(rv));
	return 1;
}

int
main(void)
{
	tr_system *sys;
	tr_pid pid;
	tr_exit_info info;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int got = 0;
	bool ok;
	int rv;

	if ((rv = tr_system_start(&sys, NULL)) != 0)
		return fail("tr_system_start", rv);
	/* TR_SPAWN_WAIT: tr_wait reports the real reason even if the actor
	 * has ended by the time it is called. */
	const tr_spawn_opts opts = { .flags = TR_SPAWN_WAIT };
	if ((rv = tr_spawn(sys, &pid, greeter, &got, &opts)) != 0)
		return fail("tr_spawn", rv);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "hello", 5);
	msgpack_pack_int(&pk, 42);
	rv = tr_system_send(sys, pid, GREET, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (rv != 0)
		return fail("tr_system_send", rv);

	if ((rv = tr_wait(sys, pid, 10000, &info)) != 0)
		return fail("tr_wait", rv);
	if ((rv = tr_system_stop(sys)) != 0)
		return fail("tr_system_stop", rv);

	printf("consumer: troupe %d.%d.%d, actor ended: %s, message %s\n",
	    TR_VERSION_MAJOR, TR_VERSION_MINOR, TR_VERSION_PATCH, info.text,
	    got ? "ok" : "WRONG");
	ok = info.kind == TR_REASON_NORMAL;
	return got && ok ? 0 : 1;
}
