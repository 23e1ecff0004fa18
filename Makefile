# kgalign build. `make` builds ./kgalign; `make test` installs what is missing,
# builds and runs every test; see README.md for the rest.

BUILD      ?= build
SANITIZER  ?=
OPT        ?= -O2
V          ?=

ifeq ($(V),)
Q := @
quiet = @printf '  %-6s %s\n' $(1) $(2);
else
Q :=
quiet =
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-align -Wwrite-strings -Wformat=2 -Wundef \
           -Wvla -Wno-unused-parameter -Wimplicit-fallthrough -Wnull-dereference
STD     := -std=c11 -D_GNU_SOURCE
DEPFLAGS = -MMD -MP
ARCH    ?= -march=x86-64-v2
CFLAGS_BASE = $(STD) $(OPT) -g $(ARCH) $(WARN) -pthread -I. -Icore

# (override: BUILD=DIR on the command line gives DIR-asan, not DIR.)
ifeq ($(SANITIZER),address)
SANFLAGS := -fsanitize=address -fno-omit-frame-pointer
override BUILD := $(BUILD)-asan
else ifeq ($(SANITIZER),undefined)
SANFLAGS := -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
override BUILD := $(BUILD)-ubsan
else ifeq ($(SANITIZER),thread)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
override BUILD := $(BUILD)-tsan
else ifneq ($(SANITIZER),)
$(error SANITIZER must be address, undefined or thread, not '$(SANITIZER)')
endif
# Tells the tests which sanitizer they run under: they leave out what would
# take far too long there (the real-data benchmark targets).
SANDEFS := $(if $(SANITIZER),-DKGA_SANITIZER_BUILD='"$(SANITIZER)"')

CFLAGS  ?=
FINAL_CFLAGS  = $(CFLAGS_BASE) $(SANFLAGS) $(SANDEFS) $(CFLAGS)
LDFLAGS ?=
FINAL_LDFLAGS = $(SANFLAGS) -pthread $(LDFLAGS)
# ICU (libicu-dev): the Latin form of names, core/features/translit.c.
LIBS_CORE   = -lopenblas -licui18n -licuuc -licudata -lz -lm
LIBS_SERVER = -lmicrohttpd -ljansson -luv
LIBS_CHECK  = -lcheck_pic -lsubunit -lrt -lm

CORE_SRC   := $(wildcard core/*/*.c)
APP_SRC    := $(wildcard proto/*.c config/*.c server/*.c cli/*.c)
TEST_SRC   := $(wildcard tests/test_*.c)
# Linked into the test programs: testutil.o into every one, the server
# harness into those that start servers, the fake aligner (before the
# libraries, so that it replaces core/align/aligner.c) into those that
# serve it.
TEST_UTIL_SRC := tests/testutil.c tests/server_harness.c tests/server_fake_aligner.c
BENCH_SRC  := $(wildcard bench/*.c)
CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
APP_OBJ    := $(APP_SRC:%.c=$(BUILD)/%.o)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
CORE_LIB   := $(BUILD)/libkgacore.a
APP_LIB    := $(BUILD)/libkgaapp.a
KGALIGN    := $(BUILD)/kgalign

.PHONY: all test tests-bin test-deploy bench run deps clean fuzz memcheck test-tsan
all: kgalign

# ./kgalign always names the plain build; sanitizer builds stay in their
# own folders so that one never replaces the other under a user's feet.
# There `kgalign` is phony: the file ./kgalign (the plain build) must not
# make $(KGALIGN), which .SECONDARY lets make skip, look up to date.
ifeq ($(SANITIZER),)
kgalign: $(KGALIGN)
	$(Q)ln -sf $(KGALIGN) kgalign
else
.PHONY: kgalign
kgalign: $(KGALIGN)
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(FINAL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

# Everything but cli/main.o goes in the application library so that tests can
# link the commands and the server too.
$(APP_LIB): $(filter-out $(BUILD)/cli/main.o,$(APP_OBJ))
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(KGALIGN): $(BUILD)/cli/main.o $(APP_LIB) $(CORE_LIB)
	$(call quiet,LINK,$@)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(LIBS_SERVER) $(LIBS_CORE)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(APP_LIB) $(CORE_LIB)
	$(call quiet,LINK,$@)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(LIBS_SERVER) $(LIBS_CORE)

# Objects first, then the libraries: an object that replaces a library
# module (the fake aligner) must be seen before the archive is searched.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/testutil.o $(APP_LIB) $(CORE_LIB)
	$(call quiet,LINK,$@)$(CC) $(FINAL_LDFLAGS) -o $@ $(filter %.o,$^) \
	  $(filter %.a,$^) $(LIBS_CHECK) $(LIBS_SERVER) $(LIBS_CORE)

$(BUILD)/tests/test_server $(BUILD)/tests/test_overload \
  $(BUILD)/tests/test_hostile_requests: \
  $(BUILD)/tests/server_harness.o $(BUILD)/tests/server_fake_aligner.o
$(BUILD)/tests/test_service: $(BUILD)/tests/server_harness.o

# Debian packages the build, the tests and the benchmarks need. Installed only
# when missing, so a prepared machine does not touch the network.
DEB_PACKAGES := build-essential pkg-config libmicrohttpd-dev libjansson-dev libicu-dev \
                libopenblas-dev libuv1-dev zlib1g-dev check curl time python3 python3-yaml prometheus
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

tests-bin: $(TEST_BIN) kgalign
	@:

# Unit and end-to-end tests. Each tests/test_*.c is its own Check program.
test: deps
	$(Q)$(MAKE) --no-print-directory tests-bin
	$(Q)KGALIGN=$(abspath $(KGALIGN)) BUILD=$(BUILD) tests/run-tests.sh $(TEST_BIN)
ifeq ($(SANITIZER),)
	$(Q)$(MAKE) --no-print-directory test-deploy
endif

# The files in deploy/ against real replicas behind HAProxy and nginx (both
# installed when missing): a SIGTERM drain and a SIGKILL under load, no
# request lost. See docs/deployment.md.
test-deploy: deps
	$(Q)$(MAKE) --no-print-directory kgalign
	$(Q)KGALIGN=$(abspath $(KGALIGN)) tests/deploy/test-deploy.sh

# The programs that run the server's threads, built with ThreadSanitizer
# (in $(BUILD)-tsan): a failed test or a data race reported by any process,
# the servers they start included, fails. See docs/fuzzing.md.
TSAN_TESTS := test_server test_overload test_service test_hostile_requests
test-tsan: deps
	$(Q)$(MAKE) --no-print-directory SANITIZER=thread BUILD=$(BUILD) \
	  $(BUILD)-tsan/kgalign $(addprefix $(BUILD)-tsan/tests/,$(TSAN_TESTS))
	$(Q)KGALIGN=$(abspath $(BUILD)-tsan/kgalign) TSAN_LOGS=$(abspath $(BUILD)-tsan/tsan) \
	  tests/tsan.sh $(addprefix $(BUILD)-tsan/tests/,$(TSAN_TESTS))

# The unit test programs under valgrind memcheck (installed when missing):
# an invalid read or write, a use of an uninitialised value, a bad free or
# a definite leak fails. Leaves out the real-data tests and the programs
# that start servers (MEMCHECK_SKIP). See docs/fuzzing.md.
MEMCHECK_SKIP ?= test_pipeline test_server test_service test_overload \
                 test_hostile_requests
memcheck: deps
ifneq ($(SANITIZER),)
	$(error memcheck runs the plain build: drop SANITIZER)
endif
	$(Q)$(MAKE) --no-print-directory tests-bin
	$(Q)MEMCHECK_LOGS=$(BUILD)/memcheck tests/memcheck.sh \
	  $(filter-out $(addprefix $(BUILD)/tests/,$(MEMCHECK_SKIP)),$(TEST_BIN))

# libFuzzer harnesses (clang, installed when missing), FUZZ_SECONDS each,
# FUZZ_JOBS at once.
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
fuzz: deps
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory kgalign $(BENCH_BIN)
	$(Q)KGALIGN=$(abspath $(KGALIGN)) BENCH_BIN=$(abspath $(BUILD)/bench) bench/run.sh

# The embedded default: a synthetic pair, imported, trained, evaluated and
# served on localhost.
DEMO      ?= $(BUILD)/demo
DEMO_N    ?= 20000
DEMO_PORT ?= 8080
run: deps
	$(Q)$(MAKE) --no-print-directory kgalign
	./kgalign synth --entities $(DEMO_N) --seed 1 $(DEMO)/src
	./kgalign import --format openea $(DEMO)/src $(DEMO)/data
	./kgalign train $(DEMO)/data -o $(DEMO)/data/model.kgm
	./kgalign eval $(DEMO)/data $(DEMO)/data/model.kgm
	@# A test link whose ids hold no quote or backslash: they go inside the
	@# single-quoted JSON of the curl lines as they are.
	@link=$$(awk -F'\t' '$$0 !~ /['\''"\\]/ {print; exit}' $(DEMO)/data/test_links.tsv); \
	 l=$$(printf '%s' "$$link" | cut -f1); r=$$(printf '%s' "$$link" | cut -f2); \
	 echo; echo "serving on http://127.0.0.1:$(DEMO_PORT); try:"; \
	 echo "  curl -s -X POST localhost:$(DEMO_PORT)/align -d '{\"left\": \"$$l\", \"right\": \"$$r\"}'"; \
	 echo "  curl -s -X POST localhost:$(DEMO_PORT)/match -d '{\"left\": \"$$l\", \"k\": 5}'"; echo
	./kgalign serve --data $(DEMO)/data --model $(DEMO)/data/model.kgm --port $(DEMO_PORT)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-ubsan $(BUILD)-tsan build-fuzz kgalign

.SECONDARY:
-include $(CORE_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(TEST_BIN:=.d) $(TEST_UTIL_OBJ:.o=.d) \
  $(BENCH_BIN:=.d)
