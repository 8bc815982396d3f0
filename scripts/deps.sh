#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright 2026 The troupe authors
#
# deps.sh installs, with apt-get, the Debian packages troupe needs to build
# and test, and only those that are missing.  Quiet when nothing is missing.
#
#   scripts/deps.sh            build and test: compiler, cmake, pkg-config,
#                              nng, msgpack-c, cmocka
#   scripts/deps.sh --peers    also what the reference runtimes of
#                              `make bench-peers` need: Erlang/OTP, CAF, g++, time
#   scripts/deps.sh PKG...     also these packages (CI uses it for valgrind)
#
# Runs apt-get update once, and only when something must be installed.
# Works as root; otherwise uses sudo when it is there.
set -euo pipefail

pkgs=(build-essential cmake pkg-config libnng-dev libmsgpack-dev libcmocka-dev)
for arg in "$@"; do
	case "$arg" in
	--peers) pkgs+=(erlang-nox libcaf-dev g++ time) ;;
	-h | --help)
		sed -n '5,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "deps.sh: unknown option: $arg" >&2
		exit 2
		;;
	*) pkgs+=("$arg") ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$status" in
	ii*) ;;
	*) missing+=("$p") ;;
	esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: no apt-get here: install them with your package manager" >&2
	exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		echo "deps.sh: missing packages: ${missing[*]}" >&2
		echo "deps.sh: not root and no sudo: install them as root" >&2
		exit 1
	fi
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends "${missing[@]}"
