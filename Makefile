# pohmelfs: build and test. `make test` is what CI runs (through .ci/run).
#
#   make deps         install missing Debian packages (packaging/install-deps.sh; idempotent)
#   make build        debug build      (.build/debug/pohmelfs)
#   make release      release build    (.build/release/pohmelfs)
#   make test         deps, build, Swift tests, then the pytest integration suite
#   make run          release build, serve ./run/export on 127.0.0.1:7646, mount it at ./run/mnt, show it working
#   make stop         unmount ./run/mnt and stop that server
#   make bench        release build, then `pohmelfs bench` over a local directory, a pohmelfs mount and
#                     an sshfs mount on loopback (BENCH_ARGS='--size 256M --runs 1' to shorten)
#   make fuzz         build the libFuzzer target (Tests/Fuzz/build.sh) and fuzz the frame decoder and
#                     the server's request path for FUZZ_SECONDS (default 60); a crashing input lands
#                     in Tests/Fuzz/crashes/ (commit it: `make test` replays it from then on)
#   make completions  regenerate completions/ from the binary (commit the result)
#   make clean        remove build products and test caches
#
# PYTEST_ARGS passes extra arguments to pytest, e.g. make test PYTEST_ARGS='-k sd_notify -x'.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

SWIFT ?= swift
PYTEST_ARGS ?=
BENCH_ARGS ?=
FUZZ_SECONDS ?= 60
# Whole-suite limit for the integration tests, well inside CI's budget. On expiry pytest gets
# SIGTERM, which the suite turns into an interrupt so fixtures still unmount and stop servers.
PYTEST_TIMEOUT ?= 1500
# Evaluated when used (after `deps` has run): the python3 that has pytest.
PYTHON = $(shell packaging/install-deps.sh --print-python)

.PHONY: deps build release test integration-test run stop bench fuzz completions clean

deps:
	packaging/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) --no-print-directory integration-test

# The pytest suite against the debug binary built above; assumes `swift build --build-tests`.
integration-test:
	POHMELFS_BIN="$$($(SWIFT) build --show-bin-path)/pohmelfs" \
		timeout --foreground -k 30 $(PYTEST_TIMEOUT) $(PYTHON) -m pytest Tests/Integration $(PYTEST_ARGS)

run: release
	POHMELFS_BIN="$$($(SWIFT) build -c release --show-bin-path)/pohmelfs" packaging/run-demo.sh start

stop:
	POHMELFS_BIN="$$($(SWIFT) build -c release --show-bin-path)/pohmelfs" packaging/run-demo.sh stop

bench: release
	POHMELFS_BIN="$$($(SWIFT) build -c release --show-bin-path)/pohmelfs" packaging/bench-setup.sh $(BENCH_ARGS)

# New interesting inputs go to .build-fuzz/corpus; the committed seeds are read, never written.
# Leak detection is off: the in-process server lives for the whole run by design, and LeakSanitizer
# reports its thread pool at exit.
fuzz: deps
	bin="$$(Tests/Fuzz/build.sh)"; \
	mkdir -p .build-fuzz/corpus Tests/Fuzz/crashes; \
	ASAN_OPTIONS=detect_leaks=0 "$$bin" -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 \
		-artifact_prefix=Tests/Fuzz/crashes/ .build-fuzz/corpus Tests/Fuzz/corpus

completions: build
	mkdir -p completions
	bin="$$($(SWIFT) build --show-bin-path)/pohmelfs"; \
	"$$bin" --generate-completion-script bash > completions/pohmelfs.bash; \
	"$$bin" --generate-completion-script zsh > completions/_pohmelfs; \
	"$$bin" --generate-completion-script fish > completions/pohmelfs.fish

clean:
	$(SWIFT) package clean
	rm -rf Tests/Integration/.pytest_cache
	find Tests/Integration -name __pycache__ -type d -prune -exec rm -rf {} +
