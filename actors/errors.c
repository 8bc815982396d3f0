/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/* Error texts, reason names and pid formatting. */

#include <stdio.h>

#include "actors/actors_int.h"

const char *
tr_strerror(int err)
{
	switch (err) {
	case 0:
		return "no error";
#define TR_ERR_TEXT_(name, num, text) \
	case -(num):                  \
		return text;
		TR_ERRORS(TR_ERR_TEXT_)
#undef TR_ERR_TEXT_
	default:
		return "unknown error";
	}
}

const char *
tr_err_name(int err)
{
	switch (err) {
	case 0:
		return "TR_OK";
#define TR_ERR_NAME_(name, num, text) \
	case -(num):                  \
		return "TR_" #name;
		TR_ERRORS(TR_ERR_NAME_)
#undef TR_ERR_NAME_
	default:
		return "TR_EUNKNOWN";
	}
}

const char *
tr_reason_kind_name(tr_reason_kind kind)
{
	switch (kind) {
	case TR_REASON_NORMAL:
		return "normal";
	case TR_REASON_SHUTDOWN:
		return "shutdown";
	case TR_REASON_KILL:
		return "kill";
	case TR_REASON_KILLED:
		return "killed";
	case TR_REASON_NOPROC:
		return "noproc";
	case TR_REASON_NOCONNECTION:
		return "noconnection";
	case TR_REASON_ERROR:
		return "error";
	}
	return "unknown";
}

char *
tr_pid_format(tr_pid p, char *buf, size_t len)
{
	if (buf == NULL)
		return NULL;
	if (len == 0)
		return buf;
	if (tr_pid_is_nil(p))
		snprintf(buf, len, "<nil>");
	else
		snprintf(buf, len, "<%u.%u.%u>", p.node, p.slot, p.gen);
	return buf;
}

void
tr__reason_format(char *buf, size_t len, tr_reason r)
{
	if (r.kind != TR_REASON_ERROR) {
		snprintf(buf, len, "%s", tr_reason_kind_name(r.kind));
		return;
	}
	const char *text = r.text != NULL ? r.text : "error";
	if (r.file != NULL)
		snprintf(buf, len, "%s (%s:%d)", text, r.file, r.line);
	else
		snprintf(buf, len, "%s", text);
}
