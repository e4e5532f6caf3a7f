# pohmelfs: build and test. `make test` is what CI runs (through .ci/run).
#
#   make deps         install missing Debian packages (packaging/install-deps.sh; idempotent)
#   make build        debug build      (.build/debug/pohmelfs)
#   make release      release build    (.build/release/pohmelfs)
#   make test         deps, build, Swift tests, then the pytest integration suite
#   make run          release build, serve ./run/export on 127.0.0.1:7646, mount it at ./run/mnt, show it working
#   make stop         unmount ./run/mnt and stop that server
#   make bench        release build, then packaging/bench-setup.sh: `pohmelfs bench`, tar -xf, cp -r and
#                     dbench over a local directory, passthrough_ll, a pohmelfs and an sshfs mount on
#                     loopback, and the performance issue's targets, met or missed
#                     (BENCH_ARGS='--size 256M --files 2000 --runs 1 --dbench-seconds 10' to shorten)
#   make bench-cluster  release build, then packaging/bench-cluster.sh: a throwaway Ceph cluster, and
#                     on it ceph-fuse, pohmelfs through one server and pohmelfs through two servers
#                     (a mount on each, loaded at once) side by side: 1 MiB writes + fsync, cold
#                     read, random 4 KiB reads, create/stat/rename/unlink, tar -xf of
#                     /usr/include/linux (BENCH_CLUSTER_ARGS='--size 64M --files 500 --runs 1' are
#                     the defaults). Not part of `make bench`: it takes a few minutes.
#   make conformance  release build, then packaging/conformance.sh: pjdfstest in full, fsx (mmap, no
#                     mmap, AIO, O_DIRECT, io_uring; default mount and cache=none) and fsstress against
#                     fresh mounts, built from PJDFSTEST_SRC= and XFSTESTS_SRC= (checkouts you provide;
#                     nothing is fetched; FSX_OPS, FSSTRESS_OPS, FSSTRESS_PROCS, CONFORMANCE_SUITES).
#                     Not part of `make test`.
#   make fuzz         build the libFuzzer target (Tests/Fuzz/build.sh) and fuzz the frame decoder and
#                     the server's request path for FUZZ_SECONDS (default 60); a crashing input lands
#                     in Tests/Fuzz/crashes/ (commit it: `make test` replays it from then on)
#   make completions  regenerate completions/ from the binary (commit the result)
#   make man          regenerate the man pages in packaging/man/ from the binary (commit the result)
#   make install      release build, then install under $(DESTDIR)$(PREFIX) (default /usr/local):
#                     bin/pohmelfs, /sbin/mount.fuse.pohmelfs, the systemd units, man pages,
#                     completions, and /etc/default/pohmelfs unless it exists
#   make uninstall    remove what make install put there (not /etc/default/pohmelfs)
#   make deb          release build, then dist/pohmelfs_<version>_<arch>.deb (packaging/build-deb.sh;
#                     DEB_OUT=DIR writes it elsewhere)
#   make clean        remove build products and test caches
#
# PYTEST_ARGS passes extra arguments to pytest, e.g. make test PYTEST_ARGS='-k sd_notify -x'.
#
# The release build links the Swift runtime statically (--static-swift-stdlib), so the installed
# binary and the .deb need no Swift toolchain, only the Debian libraries they declare.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

SWIFT ?= swift
PYTEST_ARGS ?=
BENCH_ARGS ?=
RELEASE_FLAGS := -c release --static-swift-stdlib
# make install: where things go. DESTDIR is prepended to every path (staging, packaging).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= /sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# Where make deb writes the package.
DEB_OUT ?= dist
# The binary to install: the release build unless given.
INSTALL_BIN ?= $(shell $(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs
FUZZ_SECONDS ?= 60
# Whole-suite limit for the integration tests, well inside CI's budget. On expiry pytest gets
# SIGTERM, which the suite turns into an interrupt so fixtures still unmount and stop servers.
PYTEST_TIMEOUT ?= 1800
# Evaluated when used (after `deps` has run): the python3 that has pytest.
PYTHON = $(shell packaging/install-deps.sh --print-python)

.PHONY: deps build release test integration-test run stop run-cluster stop-cluster bench bench-cluster conformance fuzz completions man install install-files uninstall deb clean

deps:
	packaging/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) --no-print-directory integration-test

# The pytest suite against the debug binary built above; assumes `swift build --build-tests`.
integration-test:
	POHMELFS_BIN="$$($(SWIFT) build --show-bin-path)/pohmelfs" \
		timeout --foreground -k 30 $(PYTEST_TIMEOUT) $(PYTHON) -m pytest Tests/Integration $(PYTEST_ARGS)

conformance: release
	POHMELFS_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs" packaging/conformance.sh

run: release
	POHMELFS_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs" packaging/run-demo.sh start

stop:
	POHMELFS_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs" packaging/run-demo.sh stop

# Two servers over one CephFS (a single-node Ceph started under ./run-cluster), a mount on each.
run-cluster: release
	POHMELFS_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs" packaging/run-cluster.sh start

stop-cluster:
	packaging/run-cluster.sh stop

bench: release
	POHMELFS_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs" packaging/bench-setup.sh $(BENCH_ARGS)

bench-cluster: release
	POHMELFS_BIN="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/pohmelfs" packaging/bench-cluster.sh $(BENCH_CLUSTER_ARGS)

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

man: build
	POHMELFS_BIN="$$($(SWIFT) build --show-bin-path)/pohmelfs" packaging/generate-man.sh packaging/man

install: release
	$(MAKE) --no-print-directory install-files

# Installs INSTALL_BIN and the committed files without building (make deb stages with it).
install-files:
	install -D -m 0755 "$(INSTALL_BIN)" "$(DESTDIR)$(BINDIR)/pohmelfs"
	install -d "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man8"
	sed 's|^bin=$${POHMELFS_BIN:-pohmelfs}$$|bin=$${POHMELFS_BIN:-$(BINDIR)/pohmelfs}|' packaging/mount.fuse.pohmelfs \
		> "$(DESTDIR)$(SBINDIR)/mount.fuse.pohmelfs"
	chmod 0755 "$(DESTDIR)$(SBINDIR)/mount.fuse.pohmelfs"
	grep -q '$(BINDIR)/pohmelfs' "$(DESTDIR)$(SBINDIR)/mount.fuse.pohmelfs"
	for unit in pohmelfs-server.service pohmelfs-mount@.service; do \
		sed 's|/usr/bin/pohmelfs|$(BINDIR)/pohmelfs|g' "packaging/$$unit" > "$(DESTDIR)$(UNITDIR)/$$unit"; \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$$unit"; \
	done
	install -m 0644 packaging/man/*.1 "$(DESTDIR)$(MANDIR)/man1/"
	install -m 0644 packaging/man/*.8 "$(DESTDIR)$(MANDIR)/man8/"
	install -D -m 0644 completions/pohmelfs.bash "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/pohmelfs"
	install -D -m 0644 completions/_pohmelfs "$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_pohmelfs"
	install -D -m 0644 completions/pohmelfs.fish "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pohmelfs.fish"
	if [ ! -e "$(DESTDIR)$(SYSCONFDIR)/default/pohmelfs" ]; then \
		install -D -m 0644 packaging/pohmelfs.default "$(DESTDIR)$(SYSCONFDIR)/default/pohmelfs"; \
	fi

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/pohmelfs" "$(DESTDIR)$(SBINDIR)/mount.fuse.pohmelfs" \
		"$(DESTDIR)$(UNITDIR)/pohmelfs-server.service" "$(DESTDIR)$(UNITDIR)/pohmelfs-mount@.service" \
		"$(DESTDIR)$(PREFIX)/share/bash-completion/completions/pohmelfs" \
		"$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_pohmelfs" \
		"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pohmelfs.fish"
	rm -f "$(DESTDIR)$(MANDIR)"/man1/pohmelfs.1 "$(DESTDIR)$(MANDIR)"/man1/pohmelfs-*.1 \
		"$(DESTDIR)$(MANDIR)"/man8/mount.fuse.pohmelfs.8

deb: release
	POHMELFS_BIN="$(INSTALL_BIN)" packaging/build-deb.sh $(DEB_OUT)

clean:
	$(SWIFT) package clean
	rm -rf Tests/Integration/.pytest_cache dist
	find Tests/Integration -name __pycache__ -type d -prune -exec rm -rf {} +
