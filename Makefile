# edge — airgap content toolkit. Hand-written GNU Makefile.
# Knobs: PREFIX DESTDIR BINDIR MANDIR CC CFLAGS PKG_CONFIG SANITIZE=1 V=1

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
NOBUILD_GOALS := deps clean uninstall check demo bench
ifneq ($(filter-out $(NOBUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) $(SERVE_PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
SERVE_LIBS := $(shell $(PKG_CONFIG) --libs $(SERVE_PKGS) 2>/dev/null)
ifeq ($(shell $(PKG_CONFIG) --exists $(PKGS) $(SERVE_PKGS) && echo ok),)
$(error missing libraries for pkg-config ($(PKGS) $(SERVE_PKGS)); run 'make deps')
endif
endif

SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

EDGE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon \
	-DEDGE_VERSION='"$(VERSION)"' -DEDGE_DATADIR='"$(DATADIR)"' \
	$(PKG_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -MMD -MP
EDGE_LDFLAGS := $(SAN_FLAGS) $(LDFLAGS)
EDGE_LIBS := $(PKG_LIBS) -lpthread -lm

COMMON_SRC := $(sort $(wildcard common/*.c))
COMMON_OBJ := $(COMMON_SRC:common/%.c=build/common/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=build/tests/%)

EXAMPLE_TGZ := share/examples/cluster-definition.tgz

.PHONY: all check test demo bench deps install uninstall clean FORCE
all: $(BINS) $(EXAMPLE_TGZ)

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
	$(Q)$(CC) $(EDGE_CFLAGS) -c -o $@ $<

build/libedge.a: $(COMMON_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

bin/edge-%: build/cmd/edge-%.o build/libedge.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(EDGE_LDFLAGS) -o $@ $< build/libedge.a $(EDGE_LIBS)

bin/edge-serve build/tests/test_serve: EDGE_LIBS += $(SERVE_LIBS)

build/tests/%: tests/unit/%.c build/libedge.a build/cflags
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(EDGE_CFLAGS) $(EDGE_LDFLAGS) -o $@ $< build/libedge.a $(EDGE_LIBS)

# The example cluster definition, built reproducibly from share/examples/spc.
$(EXAMPLE_TGZ): $(sort $(wildcard share/examples/spc/*.json)) share/scripts/make-definition.sh
	@$(if $(Q),echo "  TGZ     $@")
	$(Q)sh share/scripts/make-definition.sh share/examples/spc $@

deps:
	@sh share/scripts/deps.sh

# check: install what is missing, build, run every suite, print "N passed, N failed".
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test

test: $(BINS) $(UNIT_BINS) $(EXAMPLE_TGZ)
	@sh tests/run.sh $(UNIT_BINS)

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

-include $(COMMON_OBJ:.o=.d) $(wildcard build/cmd/*.d) $(wildcard build/tests/*.d)
