/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/* Message accessors: the public face of struct tr_msg.  A NULL message
 * (a receive that timed out, say) reads as an empty one: tag 0, sender
 * nil, no reference, no flags, no payload; setters ignore it. */

#include "mailbox/mailbox.h"

uint32_t
tr_msg_tag(const tr_msg *m)
{
	return m != NULL ? m->m_tag : 0;
}

tr_pid
tr_msg_from(const tr_msg *m)
{
	return m != NULL ? m->m_from : TR_PID_NIL;
}

uint64_t
tr_msg_ref(const tr_msg *m)
{
	return m != NULL ? m->m_ref : 0;
}

uint32_t
tr_msg_flags(const tr_msg *m)
{
	return m != NULL ? m->m_flags & TR__MSG_PUBLIC : 0;
}

const void *
tr_msg_data(const tr_msg *m)
{
	return m != NULL ? m->m_data : NULL;
}

size_t
tr_msg_len(const tr_msg *m)
{
	return m != NULL ? m->m_len : 0;
}

void *
tr_msg_body(tr_msg *m)
{
	return m != NULL ? m->m_data : NULL;
}

void
tr_msg_set_ref(tr_msg *m, uint64_t ref)
{
	if (m != NULL)
		m->m_ref = ref;
}

void
tr_msg_set_flags(tr_msg *m, uint32_t flags)
{
	if (m != NULL)
		m->m_flags = (uint16_t) (flags & TR_MSG_LOCAL);
}
