#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 The troupe authors
#
# troupe's side of the actor-runtime benchmarks (same interface and output
# as the peer runtimes' run.sh, see bench/README.md).
#
#   bench/run.sh [troupe|troupe-proc|all] [workload...]
#
# impl troupe: event actors; troupe-proc: processes (fanin has no process
# variant: it is reported as SKIPPED).  Default (or `all`): both impls.
# Runs each selected workload RUNS times (default 3) per impl and prints one
# line per run on stdout:
#   bench=<w> impl=<impl> n=<n> wall_ms=<ms> rate=<ops/s> peak_rss_kb=<KB> [extra]
# (extra: bytes_per_actor= for idle_memory).  A failed run (wrong result,
# non-zero exit, timeout after RUN_TIMEOUT=300 s) prints "... FAILED rc=..."
# on stderr and the script then exits 1.  QUICK=1 runs tiny sizes (smoke
# test only).  For every run the CPU that other processes used meanwhile is
# measured; at >= 0.1 cores a "note: ... other_cpu_cores=X" line goes to
# stderr.  WAIT_IDLE=S waits up to S seconds before each run for a quiet
# machine (< 0.1 cores busy over 1 s).
#
# The program is ${TROUPE_BUILD:-build}/bench/troupe_bench (relative to the
# repository root unless absolute); it is built with CMake when missing.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${TROUPE_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=$BUILD/bench/troupe_bench
RUNS=${RUNS:-3}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}      # seconds, per process
IMPLEMENTED="spawn idle_memory pingpong fanin ring supervisor_restart"
ALL="$IMPLEMENTED remote_pingpong remote_throughput"

implemented() { # impl workload: true if troupe_bench has that variant
  case $1:$2 in
    troupe-proc:fanin) return 1 ;;
  esac
  case " $IMPLEMENTED " in *" $2 "*) return 0 ;; esac
  return 1
}

sizes() { # sizes passed to the program (its defaults are the full ones)
  if [ "${QUICK:-0}" = 1 ]; then
    case $1 in
      spawn|idle_memory|pingpong) echo 10000 ;;
      fanin) echo "10 1000" ;;
      ring) echo "100 100000" ;;
      supervisor_restart) echo 1000 ;;
    esac
  else
    case $1 in
      spawn|idle_memory|pingpong) echo 1000000 ;;
      fanin) echo "100 100000" ;;
      ring) echo "1000 10000000" ;;
      supervisor_restart) echo 100000 ;;
    esac
  fi
}

IMPLS="troupe troupe-proc"
if [ $# -gt 0 ]; then
  case $1 in
    troupe|troupe-proc) IMPLS=$1; shift ;;
    all) shift ;;
  esac
fi
WORKLOADS=${*:-$IMPLEMENTED}
for w in $WORKLOADS; do
  case " $ALL " in *" $w "*) ;; *) echo "unknown workload: $w" >&2; exit 2 ;; esac
done

[ -x /usr/bin/time ] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 2; }
command -v timeout >/dev/null || { echo "missing timeout (coreutils)" >&2; exit 2; }

# ------------------------------------------------------------------ build

if [ ! -x "$BIN" ]; then
  echo "building $BIN" >&2
  { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROUPE_BENCH=ON &&
    cmake --build "$BUILD" --target troupe_bench -j "$(nproc)"; } >&2 ||
    { echo "build of troupe_bench failed" >&2; exit 2; }
elif [ -n "$(find "$ROOT"/include "$ROOT"/actors "$ROOT"/mailbox "$ROOT"/bench \
              -newer "$BIN" \( -name '*.[chS]' -o -name CMakeLists.txt \) 2>/dev/null | head -n 1)" ]; then
  echo "note: $BIN is older than the sources (rebuild: cmake --build $BUILD)" >&2
fi

# ------------------------------------------------------------------- runs

TMP=$(mktemp -d "${TMPDIR:-/tmp}/troupe-bench.XXXXXX")
FAILED=0
TIME_FMT="%M %U %S"                  # peak RSS KB, user s, system s
CLK_TCK=$(getconf CLK_TCK)
FG_PID=   # measured process: pid of its /usr/bin/time wrapper

# The program runs as `/usr/bin/time ... timeout -k 10 T PROGRAM`; to stop
# it early, signal timeout (the only child of the time process), which
# passes the signal on to PROGRAM.
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local kids
  if [ -n "$FG_PID" ] && kill -0 "$FG_PID" 2>/dev/null; then
    kids=$(ps -o pid= --ppid "$FG_PID" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$kids" ] && kill $kids 2>/dev/null
    wait "$FG_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

busy_jiffies() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

wait_idle() {
  local max=${WAIT_IDLE:-0} waited=0 b0 b1
  [ "$max" -gt 0 ] || return 0
  while [ "$waited" -lt "$max" ]; do
    b0=$(busy_jiffies); sleep 1; b1=$(busy_jiffies)
    waited=$((waited + 1))
    awk -v d=$((b1 - b0)) -v hz="$CLK_TCK" 'BEGIN { exit !(d / hz < 0.1) }' && return 0
  done
  echo "note: machine still busy after waiting ${max}s; running anyway" >&2
}

run_one() { # impl workload
  local impl=$1 w=$2 out="$TMP/out" err="$TMP/err" tf="$TMP/time" rc
  local b0 b1 t0 t1 other result extra
  wait_idle
  b0=$(busy_jiffies); t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  /usr/bin/time -f "$TIME_FMT" -o "$tf" timeout -k 10 "$RUN_TIMEOUT" \
    "$BIN" --impl "$impl" "$w" $(sizes "$w") >"$out" 2>"$err" &
  FG_PID=$!
  wait "$FG_PID"
  rc=$?
  FG_PID=
  b1=$(busy_jiffies); t1=$(date +%s.%N)
  # CPU of everything but the measured process, in cores, over the run.
  other=$(awk -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
              -v own="$(tail -n 1 "$tf" 2>/dev/null | awk '{print $2 + $3}')" \
              'BEGIN { x = ((b1 - b0) / hz - own) / (t1 - t0); if (x < 0) x = 0;
                       printf "%.2f", x }')
  if awk -v x="$other" 'BEGIN { exit !(x >= 0.1) }'; then
    echo "note: bench=$w impl=$impl other_cpu_cores=$other (other processes were busy during this run)" >&2
  fi
  if [ $rc -eq 0 ] && grep -q '^RESULT ' "$out"; then
    result=$(sed -n 's/^RESULT //p' "$out" | head -n 1)
    extra=$(sed -n 's/^EXTRA //p' "$out" | head -n 1)
    echo "$result peak_rss_kb=$(tail -n 1 "$tf" | awk '{print $1}')${extra:+ $extra}"
  else
    echo "bench=$w impl=$impl FAILED rc=$rc: $(tail -n 3 "$err" 2>/dev/null | tr '\n' ' ')" >&2
    FAILED=1
  fi
}

for w in $WORKLOADS; do
  for impl in $IMPLS; do
    if ! implemented "$impl" "$w"; then
      case $impl:$w in
        troupe-proc:fanin) echo "bench=$w impl=$impl SKIPPED (no process variant)" >&2 ;;
        *) echo "bench=$w impl=$impl SKIPPED (not yet implemented)" >&2 ;;
      esac
      continue
    fi
    for _ in $(seq "$RUNS"); do
      run_one "$impl" "$w"
      sleep 1   # let the previous run's memory go back before the next
    done
  done
done

exit $FAILED
