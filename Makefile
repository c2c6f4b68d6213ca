# ringcast — plain Makefile.  `make run`, `make test`, `make bench`.
#
# CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are the user's: every rule passes
# them, after the project's own (RC_*), so the user's word comes last.
# What the build needs (standard, warnings, include path, defines,
# dependency files, threads, hardening) lives in the RC_* variables.
#
#   make / make all     the six programs
#   make test           programs, tests, benchmarks, replayers; runs the tests
#   make SAN=1          all of those with ASan and UBSan, in build-san
#   make SAN=1 test     the same, and runs the tests
#   make install        the programs only (no test dependency)

# make predefines CC as cc, so `CC ?= gcc` would never apply: gcc unless
# the command line or the environment names another compiler.
ifeq ($(origin CC),default)
CC       := gcc
endif
CFLAGS   ?= -O2 -g
PREFIX   ?= /usr/local
SAN      ?= 0
VERSION  := 0.1.0

# SAN=1: ASan and UBSan in everything, tests included, in a build
# directory of its own, with the null sandbox (no seccomp) they need.
ifeq ($(SAN),1)
BUILD    ?= build-san
override SANDBOX := 0
else
BUILD    ?= build
SANDBOX  ?= 1
endif

PKGS     := libevent jansson lmdb libseccomp sndfile portaudio-2.0 openssl \
            libevent_openssl libqrencode
WARN     := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
            -Wpointer-arith -Wcast-qual -Wformat=2 -Werror

# Hardening, as Debian's and the BSDs' ports build: stack protector,
# stack-clash probes, control-flow protection, PIE, read-only relocations
# bound at start-up.
RC_ARCH     := $(shell $(CC) -dumpmachine 2>/dev/null)
RC_HARDEN   := -fPIE -fstack-protector-strong -fstack-clash-protection
ifneq ($(filter x86_64-% i686-% i586-% i386-%,$(RC_ARCH)),)
RC_HARDEN   += -fcf-protection
else ifneq ($(filter aarch64-%,$(RC_ARCH)),)
RC_HARDEN   += -mbranch-protection=standard
endif

# _FORTIFY_SOURCE only works with optimisation: without it glibc's headers
# say so with a #warning, fatal under -Werror.  So the compiler is asked
# once whether the user's flags optimise (__OPTIMIZE__, which -O0 alone
# leaves undefined), and the define is added only then.  Not under the
# sanitizers (ASan checks those calls itself, and the checked variants
# would hide them from it), nor over a level the user chose.
RC_OPTIMISED := $(shell $(CC) $(CPPFLAGS) $(CFLAGS) -dM -E -x c /dev/null \
                  2>/dev/null | grep -c ' __OPTIMIZE__ ')
RC_FORTIFY  :=
ifeq ($(SAN)$(RC_OPTIMISED),01)
ifeq ($(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),)
RC_FORTIFY  := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
endif
endif

RC_SAN      :=
ifeq ($(SAN),1)
RC_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
endif

RC_CPPFLAGS := -I. -DRINGCAST_VERSION='"$(VERSION)"' \
               -DRINGCAST_SANDBOX=$(SANDBOX) $(RC_FORTIFY)
RC_CFLAGS   := -std=gnu11 $(WARN) -pthread -MMD -MP $(RC_HARDEN) $(RC_SAN)
RC_LDFLAGS  := -pthread -pie -Wl,-z,relro,-z,now $(RC_SAN)

COMPILE = $(CC) $(RC_CPPFLAGS) $(CPPFLAGS) $(RC_CFLAGS) $(CFLAGS)
LINK    = $(CC) $(RC_CFLAGS) $(CFLAGS) $(RC_LDFLAGS) $(LDFLAGS)

LDLIBS_ALL = -lrt -lm $(LDLIBS)

# Debian packages the build, the tests and the JACK test need.
DEB_PKGS := build-essential pkg-config libevent-dev libjansson-dev liblmdb-dev \
            lmdb-utils libseccomp-dev libsndfile1-dev portaudio19-dev \
            libcriterion-dev jackd2 procps ffmpeg chromium libssl-dev \
            libqrencode-dev openssl curl iproute2 nftables

SHARED_SRC := $(wildcard shared/*.c)
SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/%.o)
LIBSHARED  := $(BUILD)/libringcast.a

# Programs: name, sources, libraries.
CAPTURE_SRC  := $(wildcard capture/*.c)
# sessiond/ holds the two programs that stream the ring out: a listener's
# session, and a published AES67 stream (publish*.c).
PUBLISH_SRC  := $(wildcard sessiond/publish*.c)
SESSIOND_SRC := $(filter-out $(PUBLISH_SRC),$(wildcard sessiond/*.c))
BROKER_SRC   := $(wildcard broker/*.c)
SUPER_SRC    := $(wildcard supervisor/*.c)
CLI_SRC      := $(wildcard cli/*.c)

# A program is built when its folder has sources.
PROGS := $(if $(CAPTURE_SRC),$(BUILD)/ringcast-capture) \
         $(if $(SESSIOND_SRC),$(BUILD)/ringcast-sessiond) \
         $(if $(PUBLISH_SRC),$(BUILD)/ringcast-publish) \
         $(if $(BROKER_SRC),$(BUILD)/ringcast-broker) \
         $(if $(SUPER_SRC),$(BUILD)/ringcastd) \
         $(if $(CLI_SRC),$(BUILD)/ringcast)
PROG_OBJ := $(SHARED_OBJ) $(patsubst %.c,$(BUILD)/%.o,$(CAPTURE_SRC) \
            $(SESSIOND_SRC) $(PUBLISH_SRC) $(BROKER_SRC) $(SUPER_SRC) \
            $(CLI_SRC))

LIBS_JSON  = $(shell pkg-config --libs jansson)
LIBS_EVENT = $(shell pkg-config --libs libevent)
LIBS_LMDB  = -llmdb
LIBS_SECC  = $(shell pkg-config --libs libseccomp)
LIBS_SND   = $(shell pkg-config --libs sndfile)
LIBS_PA    = $(shell pkg-config --libs portaudio-2.0)
LIBS_COMMON = $(LIBS_JSON) $(LIBS_SECC)
# Tokens (OpenSSL's hash and random bytes), TLS, QR codes of login links.
LIBS_SSL   = $(shell pkg-config --libs openssl)
LIBS_EVSSL = $(shell pkg-config --libs libevent_openssl)
LIBS_QR    = $(shell pkg-config --libs libqrencode)

# Tests and benchmarks know their build directory (BUILD_DIR) and link the
# test library: tests/lib/*.c, compiled once (none yet is fine).
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
TESTLIB     := $(if $(TESTLIB_SRC),$(BUILD)/libringcast-test.a)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_BINS  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC  := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
TB_OBJ     := $(TESTLIB_OBJ) $(TEST_BINS:%=%.o) $(BENCH_BINS:%=%.o)
# The recovery benchmark drops a vanished client's packets with nft.
BENCH_PKGS := nftables

# Fuzzing: libFuzzer harnesses built with clang (make fuzz), and the same
# harnesses built with gcc + ASan/UBSan as replayers of the seed corpora and
# the kept crashing inputs (built by make test; tests/test_fuzz_replay.c
# reads their names from $(BUILD)/fuzz-replay/names).
FUZZ_PKGS    := clang-14 libclang-rt-14-dev
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIBSRC  := shared/proto.c shared/mix.c shared/state.c shared/state_record.c \
                shared/log.c shared/clock.c shared/text.c shared/rtp.c \
                shared/sdp.c shared/jitter.c shared/opt.c
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -I. -DRINGCAST_SANDBOX=0 -DRINGCAST_VERSION='"$(VERSION)"'
FUZZ_LIBS    = $(LIBS_JSON) $(LIBS_LMDB) -lm $(LDLIBS)
# fuzz_api runs the broker's routing and the supervisor's real handler:
# it links them (ringcastd's main renamed) and what they need.
FUZZ_API_SRC := broker/broker_api.c $(SUPER_SRC) \
                $(filter-out $(FUZZ_LIBSRC),$(SHARED_SRC))
FUZZ_API_LIBS = $(LIBS_EVENT) $(LIBS_SECC) $(LIBS_SSL) $(LIBS_QR) -lrt -pthread
# fuzz_auth reads credentials as the broker does, and token records.
FUZZ_AUTH_SRC := broker/broker_cred.c shared/token.c shared/token_hash.c \
                 shared/state_token.c
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_OBJ     := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIBSRC) \
                $(sort $(FUZZ_API_SRC) $(FUZZ_AUTH_SRC)) \
                $(FUZZ_NAMES:%=fuzz/fuzz_%.c))
REPLAY_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/fuzz_%)
REPLAY_OBJ   := $(patsubst %.c,$(BUILD)/fuzz-replay/obj/%.o,$(FUZZ_LIBSRC) \
                $(sort $(FUZZ_API_SRC) $(FUZZ_AUTH_SRC)) \
                fuzz/replay.c $(FUZZ_NAMES:%=fuzz/fuzz_%.c))
REPLAY_NAMES := $(BUILD)/fuzz-replay/names

.PHONY: all deps test bench run install clean fuzz fuzz-seeds FORCE
all: $(PROGS)
FORCE:

# A sanitizer build exists to be tested: make SAN=1 builds all of it.
ifeq ($(SAN),1)
all: $(TEST_BINS) $(BENCH_BINS) $(REPLAY_BINS) $(REPLAY_NAMES)
endif

# Installs missing Debian packages (needs root or sudo); does nothing when
# everything is present.
# node and npm (the browser test's driver) come from Debian's nodejs and npm
# unless some node is already installed: installing Debian's npm beside
# another vendor's nodejs would conflict.
deps:
	@sh tools/deps.sh $(DEB_PKGS)
	@command -v npm >/dev/null 2>&1 || sh tools/deps.sh nodejs npm

# Objects are rebuilt when the flags change: $(BUILD)/flags holds the
# flags they were built with, rewritten as make reads this file when they
# differ (so that make -n stays true).
RC_SIG := $(strip $(COMPILE) | $(LINK) | $(FUZZ_CC))
ifneq ($(RC_SIG),$(strip $(file <$(BUILD)/flags)))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/flags,$(RC_SIG))
endif
$(BUILD)/flags:
	$(shell mkdir -p $(dir $@))$(file >$@,$(RC_SIG))

$(PROG_OBJ): $(BUILD)/%.o: %.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(COMPILE) -c -o $@ $<

# Archives are written afresh, so a removed source leaves no member behind.
$(LIBSHARED): $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/ringcast-capture: $(CAPTURE_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_PA) $(LIBS_SND) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast-sessiond: $(SESSIOND_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast-publish: $(PUBLISH_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast-broker: $(BROKER_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_EVSSL) $(LIBS_EVENT) $(LIBS_SSL) $(LIBS_COMMON) \
		$(LDLIBS_ALL)

$(BUILD)/ringcastd: $(SUPER_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_EVENT) $(LIBS_LMDB) $(LIBS_SSL) $(LIBS_QR) \
		$(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast: $(CLI_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_LMDB) $(LIBS_PA) $(LIBS_SND) $(LIBS_SSL) $(LIBS_QR) \
		$(LIBS_COMMON) $(LDLIBS_ALL)

$(TB_OBJ): $(BUILD)/%.o: %.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(COMPILE) -DBUILD_DIR='"$(abspath $(BUILD))"' -c -o $@ $<

$(BUILD)/libringcast-test.a: $(TESTLIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(TEST_BINS): $(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTLIB) $(LIBSHARED) | $(PROGS)
	$(LINK) -o $@ $^ -lcriterion $(LIBS_PA) $(LIBS_SND) $(LIBS_LMDB) \
		$(LIBS_SSL) $(LIBS_QR) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BENCH_BINS): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(TESTLIB) $(LIBSHARED) | $(PROGS)
	$(LINK) -o $@ $^ $(LIBS_SSL) $(LIBS_COMMON) $(LDLIBS_ALL)

# The harnesses: clang, libFuzzer.  User flags apply, the project's
# gcc-only warnings and hardening do not (a sanitizer build needs neither).
$(FUZZ_OBJ): $(BUILD)/fuzz/obj/%.o: %.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(CPPFLAGS) -std=gnu11 -MMD -MP -g -O1 \
		-fsanitize=fuzzer-no-link $(FUZZ_SAN) $(CFLAGS) $(FUZZ_OBJ_FLAGS) \
		-c -o $@ $<

$(FUZZ_BINS): $(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/fuzz/fuzz_%.o \
    $(FUZZ_LIBSRC:%.c=$(BUILD)/fuzz/obj/%.o)
	$(FUZZ_CC) -g -fsanitize=fuzzer $(FUZZ_SAN) $(CFLAGS) $(LDFLAGS) \
		-o $@ $^ $(FUZZ_LIBS)

$(BUILD)/fuzz/fuzz_api: $(FUZZ_API_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/fuzz_api: FUZZ_LIBS += $(FUZZ_API_LIBS)
$(BUILD)/fuzz/fuzz_auth: $(FUZZ_AUTH_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/fuzz_auth: FUZZ_LIBS += $(LIBS_SSL)
$(BUILD)/fuzz/obj/supervisor/supervisor.o \
$(BUILD)/fuzz-replay/obj/supervisor/supervisor.o: \
    FUZZ_OBJ_FLAGS = -Dmain=ringcastd_main -Wno-missing-prototypes

# The replayers: the same sources with gcc, the project's warnings.
$(REPLAY_OBJ): $(BUILD)/fuzz-replay/obj/%.o: %.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CPPFLAGS) $(CPPFLAGS) -std=gnu11 $(WARN) -MMD -MP -g -O1 \
		$(FUZZ_SAN) $(CFLAGS) $(FUZZ_OBJ_FLAGS) -c -o $@ $<

$(REPLAY_BINS): $(BUILD)/fuzz-replay/fuzz_%: \
    $(BUILD)/fuzz-replay/obj/fuzz/fuzz_%.o $(BUILD)/fuzz-replay/obj/fuzz/replay.o \
    $(FUZZ_LIBSRC:%.c=$(BUILD)/fuzz-replay/obj/%.o)
	$(CC) -g $(FUZZ_SAN) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(FUZZ_LIBS)

$(BUILD)/fuzz-replay/fuzz_api: $(FUZZ_API_SRC:%.c=$(BUILD)/fuzz-replay/obj/%.o)
$(BUILD)/fuzz-replay/fuzz_api: FUZZ_LIBS += $(FUZZ_API_LIBS)
$(BUILD)/fuzz-replay/fuzz_auth: $(FUZZ_AUTH_SRC:%.c=$(BUILD)/fuzz-replay/obj/%.o)
$(BUILD)/fuzz-replay/fuzz_auth: FUZZ_LIBS += $(LIBS_SSL)

# The harness list for the replay test, rewritten only when it changes.
$(REPLAY_NAMES): FORCE
	@mkdir -p $(dir $@)
	@echo '$(FUZZ_NAMES)' | cmp -s - $@ 2>/dev/null || echo '$(FUZZ_NAMES)' >$@

# make fuzz FUZZ_SECONDS=N: every harness N seconds, a table, exit 1 on a crash.
fuzz:
	@sh tools/deps.sh $(DEB_PKGS) $(FUZZ_PKGS)
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@sh fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

# Rewrites fuzz/corpus from the real encoders.
$(BUILD)/fuzz-seeds: $(BUILD)/fuzz/seeds.o $(LIBSHARED)
	$(LINK) -o $@ $^ $(LIBS_JSON) $(LIBS_LMDB) $(LIBS_SSL) $(LDLIBS_ALL)

$(BUILD)/fuzz/seeds.o: fuzz/seeds.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(COMPILE) -c -o $@ $<

fuzz-seeds: $(BUILD)/fuzz-seeds
	$(BUILD)/fuzz-seeds fuzz/corpus

# The browser test's driver (playwright-core, pinned in package-lock.json);
# it drives Debian's chromium, no browser is downloaded.
BROWSER_DEPS := tests/browser/node_modules/.package-lock.json
$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The programs again with another version string, in BUILD/next: what
# installing a newer release puts in place, for the upgrade test.
NEXT_PROGS := $(BUILD)/next/ringcastd
$(NEXT_PROGS): FORCE
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/next \
		VERSION=$(VERSION)-next all

# The benchmarks are built with the tests so that they keep compiling.
test: deps
	@$(MAKE) --no-print-directory $(PROGS) $(TEST_BINS) $(BENCH_BINS) \
		$(REPLAY_BINS) $(REPLAY_NAMES) $(BROWSER_DEPS) $(NEXT_PROGS)
	@SAN=$(SAN) sh tests/run.sh $(BUILD)

bench: deps
	@sh tools/deps.sh $(BENCH_PKGS)
	@$(MAKE) --no-print-directory $(PROGS) $(BENCH_BINS) $(NEXT_PROGS)
	@sh bench/run.sh $(BUILD)

run: deps
	@$(MAKE) --no-print-directory $(PROGS)
	@sh tools/run.sh $(BUILD)

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/ringcast
	install -m 755 $(filter-out $(BUILD)/ringcast-%,$(PROGS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(filter $(BUILD)/ringcast-%,$(PROGS)) $(DESTDIR)$(PREFIX)/libexec/ringcast/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/ringcast
	install -m 644 docs/ringcast.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/ringcast.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 docs/ringcastd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 docs/ringcast.conf.example docs/*.md $(DESTDIR)$(PREFIX)/share/doc/ringcast/
	install -d $(DESTDIR)$(PREFIX)/share/ringcast/web
	install -m 644 web/* $(DESTDIR)$(PREFIX)/share/ringcast/web/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@BINDIR@|$(PREFIX)/bin|g' systemd/ringcastd.service.in \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/ringcastd.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/ringcastd.service

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
