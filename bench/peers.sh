#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 The troupe authors
#
# troupe side by side with Erlang/OTP and CAF.
#
#   bench/peers.sh [workload...]
#
# Default workloads: spawn idle_memory pingpong fanin ring supervisor_restart.
#
# Runs bench/run.sh (both troupe impls: event actors and processes) and then
# the peer runtimes' run.sh, found at ../shared/peers/run.sh beside the
# repository, one after the other (never at once: they share the cores),
# with the same RUNS, QUICK, RUN_TIMEOUT and WAIT_IDLE.  Their per-run lines
# go to stderr as they come; at the end one table of medians goes to stdout:
#   workload | troupe | troupe-proc | Erlang | CAF | troupe/best | proc/best
# (best = max(Erlang, CAF)) and, for idle_memory, bytes per idle actor
# (lower is better, so its ratios are the best peer's figure divided by
# troupe's).  Exits 1 if any run failed.
# The peers need erlang-nox, libcaf-dev, g++ and time (make deps has them).

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEERS=$(cd "$ROOT/.." && pwd)/shared/peers/run.sh
WORKLOADS=${*:-spawn idle_memory pingpong fanin ring supervisor_restart}
export RUNS=${RUNS:-3}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/troupe-peers.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
: >"$TMP/lines"
STATUS=0

# Run one side: its stdout lines are kept and shown on stderr as they come.
side() { # name command...
  local name=$1 rc
  shift
  echo "== $name: $*" >&2
  "$@" | tee -a "$TMP/lines" >&2
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { echo "== $name exited with status $rc" >&2; STATUS=1; }
}

# shellcheck disable=SC2086
side troupe "$HERE/run.sh" all $WORKLOADS
if [ -x "$PEERS" ] || [ -f "$PEERS" ]; then
  # shellcheck disable=SC2086
  side peers bash "$PEERS" all $WORKLOADS
else
  echo "note: no peer programs at $PEERS: troupe only" >&2
fi

# The machine the figures belong to: they mean nothing without it.
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "machine: kernel $(uname -r), THP ${thp:-unknown}, CPU ${cpu:-unknown} x $(nproc 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d)"
echo "medians of RUNS=$RUNS runs${QUICK:+ (QUICK=$QUICK)}; rates in operations/s"
# shellcheck disable=SC2086
awk -v order="$WORKLOADS" '
function field(k,   i) {
  for (i = 1; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2)
  return ""
}
function median(key,   n, a, i, j, t) {
  n = split(vals[key], a, " ")
  if (n == 0 || vals[key] == "") return ""
  for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function commas(x,   s, neg) {
  if (x == "") return "-"
  x = sprintf("%.0f", x); neg = x < 0; if (neg) x = -x
  s = x ""; while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
  return (neg ? "-" : "") s
}
function add(key, v) { if (v != "") vals[key] = vals[key] (vals[key] == "" ? "" : " ") v }
/^bench=/ {
  w = field("bench"); im = field("impl")
  add(w SUBSEP im SUBSEP "rate", field("rate"))
  add(w SUBSEP im SUBSEP "bpa", field("bytes_per_actor"))
}
# ratio(x, y): x / y as "N.NNx", or "-" when either is missing.
function ratio(x, y) { return (x != "" && y != "" && y > 0) ? sprintf("%.2fx", x / y) : "-" }
function row(label, t, p, e, c, rt, rp) {
  printf "%-24s %14s %14s %14s %14s %12s %12s\n", label, commas(t), commas(p), commas(e), commas(c), rt, rp
}
END {
  printf "%-24s %14s %14s %14s %14s %12s %12s\n", "workload", "troupe", "troupe-proc", "Erlang", "CAF", "troupe/best", "proc/best"
  n = split(order, ws, " ")
  for (i = 1; i <= n; i++) {
    w = ws[i]
    t = median(w SUBSEP "troupe" SUBSEP "rate")
    p = median(w SUBSEP "troupe-proc" SUBSEP "rate")
    e = median(w SUBSEP "erlang" SUBSEP "rate")
    c = median(w SUBSEP "caf" SUBSEP "rate")
    best = (e != "" && (c == "" || e + 0 >= c + 0)) ? e : c
    row(w " (ops/s)", t, p, e, c, ratio(t, best), ratio(p, best))
    if (w == "idle_memory") {
      t = median(w SUBSEP "troupe" SUBSEP "bpa")
      p = median(w SUBSEP "troupe-proc" SUBSEP "bpa")
      e = median(w SUBSEP "erlang" SUBSEP "bpa")
      c = median(w SUBSEP "caf" SUBSEP "bpa")
      best = (e != "" && (c == "" || e + 0 <= c + 0)) ? e : c
      row(w " (B/actor)", t, p, e, c, ratio(best, t), ratio(best, p))
    }
  }
}' "$TMP/lines"

exit $STATUS
