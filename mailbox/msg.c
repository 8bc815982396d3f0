/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/* Message accessors: the public face of struct tr_msg. */

#include "mailbox/mailbox.h"

uint32_t
tr_msg_tag(const tr_msg *m)
{
	return m->m_tag;
}

tr_pid
tr_msg_from(const tr_msg *m)
{
	return m->m_from;
}

uint64_t
tr_msg_ref(const tr_msg *m)
{
	return m->m_ref;
}

uint32_t
tr_msg_flags(const tr_msg *m)
{
	return m->m_flags & TR__MSG_PUBLIC;
}

const void *
tr_msg_data(const tr_msg *m)
{
	return m->m_data;
}

size_t
tr_msg_len(const tr_msg *m)
{
	return m->m_len;
}

void *
tr_msg_body(tr_msg *m)
{
	return m->m_data;
}

void
tr_msg_set_ref(tr_msg *m, uint64_t ref)
{
	m->m_ref = ref;
}

void
tr_msg_set_flags(tr_msg *m, uint32_t flags)
{
	m->m_flags = (uint16_t) (flags & TR_MSG_LOCAL);
}
