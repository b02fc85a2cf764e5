# edge — airgap content toolkit. Hand-written GNU Makefile.
# Knobs: PREFIX DESTDIR BINDIR MANDIR CC CFLAGS PKG_CONFIG SANITIZE=1|thread V=1
#        FUZZ_CC FUZZ_SECONDS FUZZ_OPT FUZZ_CHECK_SECONDS FUZZ_CHECK_OPT
#        (make fuzz, make check)
#        CHECK_JOBS TEST_JOBS (make check: build jobs; suites at a time)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/edge
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
PKG_CONFIG ?= pkg-config
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?= 0

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)

TOOLS := fetchdef resolve pull pack sign verify push serve
BINS := $(addprefix bin/edge-,$(TOOLS))
PKGS := libcurl jansson libarchive libzstd libsodium libcrypto yaml-0.1
# only edge-serve (and its unit test) link these
SERVE_PKGS := libmicrohttpd libxcrypt

Q := @
ifeq ($(V),1)
Q :=
endif

# Targets that need no compiler or library: do not probe pkg-config for them.
NOBUILD_GOALS := deps clean uninstall check demo bench fuzz
ifneq ($(filter-out $(NOBUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) $(SERVE_PKGS) 2>/dev/null)
# libcurl is not linked: common/curl_lazy.c loads it with dlopen when a
# tool first goes to the network (a tool that never does starts 15-20 ms
# sooner); its headers come from PKG_CFLAGS.
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null) -ldl
SERVE_LIBS := $(shell $(PKG_CONFIG) --libs $(SERVE_PKGS) 2>/dev/null)
ifeq ($(shell $(PKG_CONFIG) --exists $(PKGS) $(SERVE_PKGS) && echo ok),)
$(error missing libraries for pkg-config ($(PKGS) $(SERVE_PKGS)); run 'make deps')
endif
endif

SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
# SANITIZE=thread: ThreadSanitizer (the ring, the pool and their users);
# a report fails the run (halt_on_error, exitcode 66)
ifeq ($(SANITIZE),thread)
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
export TSAN_OPTIONS ?= halt_on_error=1 exitcode=66 second_deadlock_stack=1
endif

EDGE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon \
	$(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -MMD -MP
EDGE_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
EDGE_LIBS := $(PKG_LIBS) -lpthread -lm

COMMON_SRC := $(sort $(wildcard common/*.c))
COMMON_OBJ := $(COMMON_SRC:common/%.c=build/common/%.o)
# The front end (cmd/fe/, libedge_fe.a): option parsing, usage, the
# progress renderer, stdout and exit. Only the tools (and the unit tests of
# the front end) link it; common/ never includes its headers.
FE_SRC := $(sort $(wildcard cmd/fe/*.c))
FE_OBJ := $(FE_SRC:cmd/fe/%.c=build/fe/%.o)
FE_CFLAGS := -Icmd/fe
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=build/tests/%)

# libFuzzer targets (tests/fuzz/): built with clang into build/fuzz/, with
# their own copy of the library, so the normal build is untouched. With the
# normal compiler each is also built as a replay program over its corpus,
# which make test runs like a unit test.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
# make check runs each target for FUZZ_CHECK_SECONDS: a smoke run (the seed
# corpus, then new inputs) beside the replay_* units, which replay every
# committed input; the suites are CPU-bound, so each second here is a second
# of make check on two cores. make fuzz is the long run.
FUZZ_CHECK_SECONDS ?= 1
# The targets' optimisation: -O1 for make fuzz's long runs (more inputs a
# second); make check builds them with FUZZ_CHECK_OPT, -O0, which halves the
# fuzz build's CPU (27 s to 16 s on two cores here) for a one-second run that
# only has to start each target on its seeds. build/fuzz/cflags records the
# flags, so switching between the two rebuilds the objects.
FUZZ_OPT ?= -O1
FUZZ_CHECK_OPT ?= -O0
FUZZ_ALL := $(sort $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BINS := $(FUZZ_TARGETS:%=build/fuzz/%)
REPLAY_BINS := $(FUZZ_TARGETS:%=build/tests/replay_%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# -gline-tables-only: a report's frames keep their file and line (all that
# the sanitizers print) at three quarters of -g's compile time
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon -Itests/fuzz \
	$(PKG_CFLAGS) $(FUZZ_OPT) -gline-tables-only $(FUZZ_SAN) -MMD -MP
# The targets' copy of the library holds only the objects they link (not
# pull, palette or helm, for one). Which those are, the
# linker says: each replay program links the same fuzz_*.c with the normal
# build's build/libedge.a and writes its link map beside it; make fuzz-build
# reads the members named there from build/fuzz/objs.mk (made from the
# maps, so a target that starts using another module gets it). The maps of
# every target, whatever FUZZ_TARGETS names: a make fuzz of one target
# would otherwise leave a copy that the others cannot link with.
FUZZ_LINKED :=
ifneq ($(filter fuzz-build,$(MAKECMDGOALS)),)
-include build/fuzz/objs.mk
endif

# make analyze: the clang static analyzer (scan-build) and cppcheck over
# common/ and cmd/; either one reporting anything fails. False positives are
# suppressed where they are, with a comment (cppcheck-suppress, or code the
# analyzer can follow), never for a whole check.
SCAN_BUILD ?= scan-build
CPPCHECK ?= cppcheck
ANALYZE_SRC := $(COMMON_SRC) $(FE_SRC) $(sort $(wildcard cmd/*.c))
ANALYZE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Icommon -Icmd/fe \
	$(PKG_CFLAGS)

EXAMPLE_TGZ := share/examples/cluster-definition.tgz

# make nm-check (run by make test, so by make check): the library never
# prints nor exits (STYLE.md 1). No object of build/libedge.a but the logging
# module, log.o, may reference these; the front end (cmd/fe/) is where a tool
# prints and exits. gcc turns printf/fprintf into puts/fwrite/putc, and
# _FORTIFY_SOURCE into the __*_chk forms, so those count as well.
NM_FORBIDDEN := exit _exit _Exit quick_exit printf puts putchar fputs fprintf fwrite putc fputc \
	vfprintf vprintf perror dprintf vdprintf __printf_chk __fprintf_chk __vfprintf_chk \
	__vprintf_chk __dprintf_chk __vdprintf_chk _IO_putc putchar_unlocked putc_unlocked \
	fputc_unlocked fputs_unlocked fwrite_unlocked
NM_ALLOWED := log.o

.PHONY: all check test demo bench deps install uninstall clean fuzz fuzz-build analyze analyze-scan \
	analyze-cppcheck nm-check FORCE
all: $(BINS) $(EXAMPLE_TGZ)

# Objects are kept between runs (make would delete them as intermediates).
.SECONDARY:

# Rebuild everything when the flags change (SANITIZE=1 and back).
build/cflags: FORCE
	@mkdir -p build
	@echo '$(CC) $(EDGE_CFLAGS) $(EDGE_LDFLAGS) $(EDGE_LIBS)' | cmp -s - $@ || \
		echo '$(CC) $(EDGE_CFLAGS) $(EDGE_LDFLAGS) $(EDGE_LIBS)' > $@

build/common/%.o: common/%.c build/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(EDGE_CFLAGS) -c -o $@ $<

build/cmd/%.o: cmd/%.c build/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(EDGE_CFLAGS) $(FE_CFLAGS) -c -o $@ $<

build/fe/%.o: cmd/fe/%.c build/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(EDGE_CFLAGS) $(FE_CFLAGS) -c -o $@ $<

build/libedge_fe.a: $(FE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# The version is one generated object, rewritten only when git describe
# changes: a commit relinks the tools, it does not recompile everything.
build/version.c: FORCE
	@mkdir -p build
	@printf '#include "version.h"\nconst char edge_version[] = "%s";\n' '$(VERSION)' | cmp -s - $@ || \
		printf '#include "version.h"\nconst char edge_version[] = "%s";\n' '$(VERSION)' > $@

build/version.o: build/version.c build/cflags
	$(Q)$(CC) $(EDGE_CFLAGS) -c -o $@ $<

# The fuzz targets' version string is a constant ("fuzz", in the User-Agent
# only): a commit changes git describe, and with it build/version.c, which
# would relink every target (some 8 s of CPU in each make check after it).
build/fuzz/version.c:
	@mkdir -p $(@D)
	@printf '#include "version.h"\nconst char edge_version[] = "fuzz";\n' > $@

build/fuzz/version.o: build/fuzz/version.c build/fuzz/cflags
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/libedge.a: $(COMMON_OBJ) build/version.o
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

bin/edge-%: build/cmd/edge-%.o build/libedge_fe.a build/libedge.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(EDGE_LDFLAGS) -o $@ $< build/libedge_fe.a build/libedge.a $(EDGE_LIBS)

bin/edge-serve build/tests/test_serve: EDGE_LIBS += $(SERVE_LIBS)
# the fuzz targets that reach edge-serve's parsers (in the link lines: a
# target-specific variable would reach build/cflags too)
FUZZ_SERVE_LIBS = $(if $(filter fuzz_serve serve,$*),$(SERVE_LIBS))

build/tests/%: tests/unit/%.c build/libedge_fe.a build/libedge.a build/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(EDGE_CFLAGS) $(FE_CFLAGS) $(EDGE_LDFLAGS) -o $@ $< build/libedge_fe.a build/libedge.a $(EDGE_LIBS)

# (two targets of one pattern rule: one link makes both)
build/tests/replay_% build/tests/replay_%.map: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzzutil.h \
		build/libedge.a build/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      build/tests/replay_$*")
	$(Q)$(CC) $(EDGE_CFLAGS) -Itests/fuzz -DFUZZ_NAME='"$*"' -DFUZZ_SOURCE='"$*.c"' $(EDGE_LDFLAGS) \
		-o build/tests/replay_$* tests/fuzz/replay.c build/libedge.a $(EDGE_LIBS) $(FUZZ_SERVE_LIBS) \
		-Wl,-Map=build/tests/replay_$*.map

# the members of build/libedge.a that the replay programs link, as the
# fuzz build's objects (version.o is build/fuzz/version.o)
build/fuzz/objs.mk: $(FUZZ_ALL:%=build/tests/replay_%.map)
	@mkdir -p $(@D)
	$(Q)sed -n 's/^build\/libedge\.a(\([A-Za-z0-9_]*\)\.o).*/\1/p' $^ | sort -u | \
		awk '{ print "FUZZ_LINKED += build/fuzz/" ($$1 == "version" ? "" : "common/") $$1 ".o" }' > $@.tmp && \
		test -s $@.tmp && { cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@; }

build/fuzz/cflags: FORCE
	@mkdir -p build/fuzz
	@echo '$(FUZZ_CC) $(FUZZ_CFLAGS) $(EDGE_LIBS)' | cmp -s - $@ || \
		echo '$(FUZZ_CC) $(FUZZ_CFLAGS) $(EDGE_LIBS)' > $@

build/fuzz/common/%.o: common/%.c build/fuzz/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/libedge.a: $(FUZZ_LINKED) build/fuzz/objs.mk
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $(FUZZ_LINKED)

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libedge.a build/fuzz/cflags
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libedge.a $(EDGE_LIBS) $(FUZZ_SERVE_LIBS)

# The example cluster definition, built reproducibly from share/examples/spc.
$(EXAMPLE_TGZ): $(sort $(wildcard share/examples/spc/*.json)) share/scripts/make-definition.sh
	@$(if $(Q),echo "  TGZ     $@")
	$(Q)sh share/scripts/make-definition.sh share/examples/spc $@

deps:
	@sh share/scripts/deps.sh

# check: install what is missing, build, run every suite, print "N passed, N failed".
# The build uses every core (CHECK_JOBS), as the suites do.
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) all
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) test

# The fuzzers run briefly in make test when FUZZ_CC can build them; when it
# cannot, tests/fuzz/run.sh reports each target as skipped, with the reason.
# tests/run.sh builds them (make fuzz-build) beside the other suites.
test: nm-check $(BINS) $(UNIT_BINS) $(REPLAY_BINS) $(EXAMPLE_TGZ)
	@MAKE='$(MAKE)' FUZZ_CC='$(FUZZ_CC)' FUZZ_OPT='$(FUZZ_CHECK_OPT)' FUZZ_RUN="$(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)" \
		sh tests/run.sh $(UNIT_BINS) $(REPLAY_BINS)

fuzz-build: $(FUZZ_BINS)

nm-check: build/libedge.a
	@nm -A -u build/libedge.a | awk -v bad='$(NM_FORBIDDEN)' -v allowed='$(NM_ALLOWED)' ' \
		BEGIN { n = split(bad, b, " "); for (i = 1; i <= n; i++) B[b[i]] = 1; \
			n = split(allowed, a, " "); for (i = 1; i <= n; i++) A[a[i]] = 1 } \
		{ obj = $$1; sub(/:$$/, "", obj); sub(/.*:/, "", obj); sym = $$NF; sub(/@.*/, "", sym); \
		  if ((sym in B) && !(obj in A)) { bad_refs = bad_refs "\n  " obj ": " sym; fail = 1 } } \
		END { if (fail) { print "nm-check: build/libedge.a prints or exits outside the logging module" \
				" (log.o, the one exception):" bad_refs; exit 1 } \
		      print "nm-check: build/libedge.a: no exit or print outside the logging module (log.o)" }'

analyze:
	@$(MAKE) --no-print-directory analyze-scan
	@$(MAKE) --no-print-directory analyze-cppcheck

analyze-scan:
	@command -v $(SCAN_BUILD) > /dev/null || { echo "$(SCAN_BUILD) not found (clang-tools-14: make deps)"; exit 1; }
	@rm -rf build/analyze && mkdir -p build/analyze
	ANALYZE_CFLAGS='$(ANALYZE_CFLAGS)' $(SCAN_BUILD) --status-bugs --use-cc=clang -o build/analyze \
		sh -c 'for f in $(ANALYZE_SRC); do echo "  ANALYZE $$f"; $$CC $$ANALYZE_CFLAGS -c -o /dev/null $$f || exit 1; done'

analyze-cppcheck:
	@command -v $(CPPCHECK) > /dev/null || { echo "$(CPPCHECK) not found (make deps)"; exit 1; }
	$(CPPCHECK) --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
		--inline-suppr --suppress=missingIncludeSystem --library=tests/analyze/jansson.cfg \
		-D_GNU_SOURCE -D__GNUC__ -Icommon -Icmd/fe common cmd

# make fuzz: each target for FUZZ_SECONDS, one after the other.
fuzz:
	@sh tests/fuzz/have-fuzzer.sh '$(FUZZ_CC)'
	@$(MAKE) --no-print-directory fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@sh share/scripts/demo.sh

bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@sh tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(DATADIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 share/edge-manifest.schema.json $(DESTDIR)$(DATADIR)/
	for t in $(TOOLS); do install -m 0644 completions/edge.bash $(DESTDIR)$(BASHCOMPDIR)/edge-$$t; done
	install -m 0644 completions/_edge $(DESTDIR)$(ZSHCOMPDIR)/_edge

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/edge-,$(TOOLS))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(wildcard man/*.7)))
	rm -f $(addprefix $(DESTDIR)$(BASHCOMPDIR)/edge-,$(TOOLS))
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_edge
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build bin $(EXAMPLE_TGZ)

-include $(COMMON_OBJ:.o=.d) $(FE_OBJ:.o=.d) $(wildcard build/cmd/*.d) $(wildcard build/tests/*.d) \
	$(wildcard build/fuzz/common/*.d) $(wildcard build/fuzz/*.d)
