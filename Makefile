# SPDX-License-Identifier: MIT
# Copyright 2026 The troupe authors
#
# A thin wrapper around CMake.  `make demo` and `make test` work on a fresh
# Debian machine: they first install what is missing (scripts/deps.sh).
#
#   make deps         install missing build dependencies with apt-get
#   make build        configure and build into build/
#   make test         build, then run every test with ctest
#   make demo         build, then run the example programs
#   make bench        build, then run troupe's benchmarks (bench/run.sh)
#   make bench-peers  troupe's benchmarks side by side with Erlang and CAF
#   make install      install into $(PREFIX) (default /usr/local)
#   make asan, tsan   build and test under ASan+UBSan / TSan (own build dirs)
#   make format       clang-format every C file in place
#   make format-check fail if a C file is not clang-formatted
#   make clean        remove every build directory
#
# Variables: BUILD_TYPE, WERROR (ON in CI), PREFIX, JOBS, CTEST_JOBS,
# CTEST_TIMEOUT (seconds per test without its own), CMAKE_ARGS, DEMO_PROGRAMS.

BUILD_DIR     ?= build
BUILD_TYPE    ?= RelWithDebInfo
WERROR        ?= OFF
PREFIX        ?= /usr/local
JOBS          ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_JOBS    ?= 2
CTEST_TIMEOUT ?= 300
CMAKE_ARGS    ?=
CLANG_FORMAT  ?= clang-format
# The example programs `make demo` runs, from $(BUILD_DIR)/examples/.
DEMO_PROGRAMS ?= hello ping_pong counter_server selective_receive supervision_tree \
	pipeline parallel_map kv_store

FORMAT_DIRS = include mailbox actors supervisor server remote tests examples bench
FORMAT_FILES = $(shell find $(FORMAT_DIRS) -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)

# configure_build(dir, extra cmake args): configure and build one build dir.
define configure_build
cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	-DTROUPE_WERROR=$(WERROR) $(2) $(CMAKE_ARGS)
cmake --build $(1) -j$(JOBS)
endef

# run_ctest(dir): every test of one build dir.
run_ctest = ctest --test-dir $(1) --output-on-failure -j$(CTEST_JOBS) \
	--timeout $(CTEST_TIMEOUT)

.PHONY: all deps build test demo bench bench-peers install asan tsan \
	format format-check clean

all: build

deps:
	@scripts/deps.sh

build:
	$(call configure_build,$(BUILD_DIR))

test: deps
	$(call configure_build,$(BUILD_DIR))
	$(call run_ctest,$(BUILD_DIR))

demo: deps
	$(call configure_build,$(BUILD_DIR))
	@set -e; for p in $(DEMO_PROGRAMS); do \
		echo "== $$p"; $(BUILD_DIR)/examples/$$p; \
	done

bench: deps
	$(call configure_build,$(BUILD_DIR),-DTROUPE_BENCH=ON)
	bench/run.sh

bench-peers:
	@scripts/deps.sh --peers
	$(call configure_build,$(BUILD_DIR),-DTROUPE_BENCH=ON)
	bench/peers.sh

# The prefix is set at configure time too, so that troupe.pc names it.
# Other cached options of $(BUILD_DIR) are kept.
install:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(BUILD_DIR) -j$(JOBS)
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

asan: deps
	$(call configure_build,build-asan,-DTROUPE_SANITIZER=address -DTROUPE_BENCH=OFF)
	$(call run_ctest,build-asan)

# TSan (gcc 12) aborts with "unexpected memory mapping" on kernels that
# randomize mmap with more bits than it knows; a probe detects that and the
# tests then run with address randomization off (setarch -R).
tsan: deps
	$(call configure_build,build-tsan,-DTROUPE_SANITIZER=thread -DTROUPE_BENCH=OFF)
	@printf '#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }\n' \
		>build-tsan/tsan_probe.c
	@$${CC:-cc} -fsanitize=thread -pthread build-tsan/tsan_probe.c \
		-o build-tsan/tsan_probe
	@run=; for i in 1 2 3; do \
		build-tsan/tsan_probe >/dev/null 2>&1 || run="setarch $$(uname -m) -R"; \
	done; \
	[ -z "$$run" ] || echo "tsan: running with ASLR off ($$run)"; \
	$$run $(call run_ctest,build-tsan)

format:
	$(if $(FORMAT_FILES),$(CLANG_FORMAT) -i $(FORMAT_FILES))

format-check:
	$(if $(FORMAT_FILES),$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_FILES))

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan
