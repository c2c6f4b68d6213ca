# ringcast — plain Makefile.  `make run`, `make test`, `make bench`.

CC       ?= gcc
PREFIX   ?= /usr/local
BUILD    ?= build
SANDBOX  ?= 1
VERSION  := 0.1.0

PKGS     := libevent jansson lmdb libseccomp sndfile portaudio-2.0
WARN     := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
            -Wpointer-arith -Wcast-qual -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -pthread -I. -DRINGCAST_VERSION='"$(VERSION)"' \
            -DRINGCAST_SANDBOX=$(SANDBOX) -MMD -MP
LDLIBS_ALL = -lrt -lm -pthread

# Debian packages the build, the tests and the JACK test need.
DEB_PKGS := build-essential pkg-config libevent-dev libjansson-dev liblmdb-dev \
            lmdb-utils libseccomp-dev libsndfile1-dev portaudio19-dev \
            libcriterion-dev jackd2 procps ffmpeg chromium

SHARED_SRC := $(wildcard shared/*.c)
SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/%.o)
LIBSHARED  := $(BUILD)/libringcast.a

# Programs: name, sources, libraries.
CAPTURE_SRC  := $(wildcard capture/*.c)
SESSIOND_SRC := $(wildcard sessiond/*.c)
BROKER_SRC   := $(wildcard broker/*.c)
SUPER_SRC    := $(wildcard supervisor/*.c)
CLI_SRC      := $(wildcard cli/*.c)

PROGS :=
ifneq ($(CAPTURE_SRC),)
PROGS += $(BUILD)/ringcast-capture
endif
ifneq ($(SESSIOND_SRC),)
PROGS += $(BUILD)/ringcast-sessiond
endif
ifneq ($(BROKER_SRC),)
PROGS += $(BUILD)/ringcast-broker
endif
ifneq ($(SUPER_SRC),)
PROGS += $(BUILD)/ringcastd
endif
ifneq ($(CLI_SRC),)
PROGS += $(BUILD)/ringcast
endif

LIBS_JSON  = $(shell pkg-config --libs jansson)
LIBS_EVENT = $(shell pkg-config --libs libevent)
LIBS_LMDB  = -llmdb
LIBS_SECC  = $(shell pkg-config --libs libseccomp)
LIBS_SND   = $(shell pkg-config --libs sndfile)
LIBS_PA    = $(shell pkg-config --libs portaudio-2.0)
LIBS_COMMON = $(LIBS_JSON) $(LIBS_SECC)

# The test library: compiled once, linked by every test and benchmark.
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
LIBTEST     := $(BUILD)/libringcast-test.a

TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# The recovery benchmark drops a vanished client's packets with nft.
BENCH_PKGS := nftables

# Fuzzing: libFuzzer harnesses built with clang (make fuzz), and the same
# harnesses built with gcc + ASan/UBSan as replayers of the seed corpora and
# the kept crashing inputs (part of every build; tests/test_fuzz_replay.c).
FUZZ_PKGS    := clang-14 libclang-rt-14-dev
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIBSRC  := shared/proto.c shared/mix.c shared/state.c shared/log.c shared/clock.c shared/text.c
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
REPLAY_BINS  := $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/fuzz_%)

.PHONY: all deps test bench run install clean check-deps fuzz fuzz-seeds
all: $(PROGS) $(TEST_BINS) $(BENCH_BINS) $(REPLAY_BINS)

# Installs missing Debian packages (needs root or sudo); does nothing when
# everything is present.
# node and npm (the browser test's driver) come from Debian's nodejs and npm
# unless some node is already installed: installing Debian's npm beside
# another vendor's nodejs would conflict.
deps:
	@sh tools/deps.sh $(DEB_PKGS)
	@command -v npm >/dev/null 2>&1 || sh tools/deps.sh nodejs npm

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(LIBSHARED): $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBTEST): $(TESTLIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/ringcast-capture: $(CAPTURE_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_PA) $(LIBS_SND) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast-sessiond: $(SESSIOND_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast-broker: $(BROKER_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_EVENT) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcastd: $(SUPER_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_EVENT) $(LIBS_LMDB) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/ringcast: $(CLI_SRC:%.c=$(BUILD)/%.o) $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_LMDB) $(LIBS_PA) $(LIBS_SND) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIBTEST) $(LIBSHARED) | $(PROGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DBUILD_DIR='"$(abspath $(BUILD))"' -o $@ $< $(LIBTEST) $(LIBSHARED) \
		-lcriterion $(LIBS_PA) $(LIBS_SND) $(LIBS_LMDB) $(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(LIBTEST) $(LIBSHARED) | $(PROGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DBUILD_DIR='"$(abspath $(BUILD))"' -o $@ $< $(LIBTEST) $(LIBSHARED) \
		$(LIBS_COMMON) $(LDLIBS_ALL)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_LIBSRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -std=gnu11 -I. -DRINGCAST_SANDBOX=0 \
		-fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< $(FUZZ_LIBSRC) \
		$(LIBS_JSON) $(LIBS_LMDB) -lm

$(BUILD)/fuzz-replay/fuzz_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h $(FUZZ_LIBSRC)
	@mkdir -p $(dir $@)
	$(CC) -g -O1 -std=gnu11 $(WARN) -I. -DRINGCAST_SANDBOX=0 $(FUZZ_SAN) \
		-o $@ $< fuzz/replay.c $(FUZZ_LIBSRC) $(LIBS_JSON) $(LIBS_LMDB) -lm

# make fuzz FUZZ_SECONDS=N: every harness N seconds, a table, exit 1 on a crash.
fuzz:
	@sh tools/deps.sh $(DEB_PKGS) $(FUZZ_PKGS)
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@sh fuzz/run.sh $(BUILD) $(FUZZ_SECONDS)

# Rewrites fuzz/corpus from the real encoders.
fuzz-seeds:
	@mkdir -p $(BUILD)
	$(CC) -g -O1 -std=gnu11 $(WARN) -I. -o $(BUILD)/fuzz-seeds fuzz/seeds.c \
		$(FUZZ_LIBSRC) $(LIBS_JSON) $(LIBS_LMDB) -lm
	$(BUILD)/fuzz-seeds fuzz/corpus

# The browser test's driver (playwright-core, pinned in package-lock.json);
# it drives Debian's chromium, no browser is downloaded.
BROWSER_DEPS := tests/browser/node_modules/.package-lock.json
$(BROWSER_DEPS): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: deps
	@$(MAKE) --no-print-directory all $(BROWSER_DEPS)
	@sh tests/run.sh $(BUILD)

bench: deps
	@sh tools/deps.sh $(BENCH_PKGS)
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh $(BUILD)

run: deps
	@$(MAKE) --no-print-directory all
	@sh tools/run.sh $(BUILD)

install: all
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
