# http-tracer build.  `make` builds build/http-tracer (BPF objects and
# skeletons included); `make test` runs every test; `make bench` the
# benchmarks; `sudo make run` traces this host.  Quiet unless V=1.
.DELETE_ON_ERROR:
.SECONDARY:
.SECONDEXPANSION:
.DEFAULT_GOAL := all

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg = @printf '  %-8s %s\n'
endif

WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS   ?= -O2 -g
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Overrides of include/ht_limits.h, given to both the BPF and the C compiler
# (e.g. make HT_DEFS='-DHT_PORTS_MAX=4096'); make clean after changing them.
HT_DEFS  ?=
CFLAGS   += $(HT_DEFS) -DHT_GIT_COMMIT='"$(GIT_COMMIT)"' -std=gnu11 -D_GNU_SOURCE $(WARN) -Iinclude -Isrc -I$(BUILD) -pthread
LIBS     := -lbpf -lelf -lz -ldeflate -llz4 -lcurl -lurcu-cds -lurcu -lxxhash -lyaml -ljansson -lpthread -lm
MAIN_LIBS := $(LIBS) -ljemalloc

# Sources are grouped by pipeline stage (src/STAGE/*.c, see README "How
# it works"); tools/layering.sh checks that a stage includes only stages
# below it.  Everything but main.c is one library, build/libht.a (and its
# ASan+UBSan twin build/asan/libht.a), which the binary, the unit tests,
# the tools and the benchmarks all link.
SRCS     := $(wildcard src/*/*.c) src/main.c
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
LIB      := $(BUILD)/libht.a
ASAN_LIB := $(BUILD)/asan/libht.a
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.bpf.o)
SKELS    := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)
HDRS     := $(wildcard include/*.h src/*/*.h)
BPF_HDRS := $(wildcard bpf/*.h include/*.h)

# Unit tests: tests/STAGE/test_NAME.c (the folders mirror src/), each linked
# with the ASan+UBSan library; cmocka.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TEST_SRCS := $(wildcard tests/*/test_*.c)
TESTS     := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
# $(call bench_base,NAME) in a bench/*.mk: with BASE=TREE, the rule for
# $(BUILD)/bench_NAME_base, bench/bench_NAME.c built against TREE's headers
# and build/libht.a to run side by side with this tree's build.
define bench_base
ifneq ($$(BASE),)
$$(BUILD)/bench_$(1)_base: bench/bench_$(1).c $$(BASE)/build/libht.a FORCE
	$$(msg) LINK $$@
	$$(Q)$$(CC) -O2 -g -std=gnu11 -D_GNU_SOURCE -I$$(BASE)/include -I$$(BASE)/src -pthread \
		-o $$@ bench/bench_$(1).c $$(BASE)/build/libht.a $$(MAIN_LIBS)
endif
endef
-include $(wildcard bench/*.mk tools/*.mk tests/fuzz/*.mk tests/k8s/*.mk)

.PHONY: FORCE all deps bench-deps layering test unit-test tsan-test e2e-test bench run clean install-deps
all: deps $(BUILD)/http-tracer

deps:
	$(Q)tools/deps.sh
	$(Q)tools/otlp/npm_deps.sh $(BUILD)

# the baselines bench/baselines.sh compares with (not needed by make test)
bench-deps:
	$(Q)tools/deps.sh bench

$(BUILD)/vmlinux.h:
	$(msg) GEN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(msg) BPF $@
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__BPF__ $(HT_DEFS) \
		-Iinclude -Ibpf -I$(BUILD) -Wall -Wno-unused-function -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(msg) SKEL $@
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/obj/%.o: src/%.c $(HDRS)
	$(msg) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Only the loader includes the generated skeletons.
$(BUILD)/obj/source/capture.o $(BUILD)/tsan/source/capture.o $(BUILD)/asan/source/capture.o: $(SKELS)

# http_tracer_build_info names the commit (HT_GIT_COMMIT, on every compile
# line).  metrics.o is rebuilt when HEAD moves through this stamp, which is
# rewritten only when the commit it holds changes; without it an incremental
# build kept reporting the commit metrics.c was last compiled at.
COMMIT_STAMP := $(BUILD)/commit.stamp
$(COMMIT_STAMP): FORCE
	$(Q)mkdir -p $(@D)
	$(Q)[ "$$(cat $@ 2>/dev/null)" = "$(GIT_COMMIT)" ] || echo "$(GIT_COMMIT)" > $@
FORCE:
$(BUILD)/obj/observe/metrics.o $(BUILD)/tsan/observe/metrics.o $(BUILD)/asan/observe/metrics.o: $(COMMIT_STAMP)

$(LIB): $(LIB_OBJS)
	$(msg) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/http-tracer: $(BUILD)/obj/main.o $(LIB)
	$(msg) LINK $@
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(MAIN_LIBS)

# ---- tests
$(BUILD)/asan/%.o: src/%.c $(HDRS)
	$(msg) CC-SAN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(ASAN_LIB): $(LIB_OBJS:$(BUILD)/obj/%=$(BUILD)/asan/%)
	$(msg) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: tests/%.c $(ASAN_LIB) $(HDRS) $(wildcard tests/*/*.h)
	$(msg) TEST $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $< $(ASAN_LIB) -lcmocka $(LIBS)

# tests/bpf/: the kernel's pure helpers (bpf/*.h) compiled as plain C
# through tests/bpf/bpf_shim.h; they link nothing of libht.a (the maps are
# globals of the test, its fakes define the helpers).
$(BUILD)/tests/bpf/%: tests/bpf/%.c tests/bpf/bpf_shim.h $(BPF_HDRS)
	$(msg) TEST $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -Ibpf -Itests/bpf -Wno-unknown-pragmas -o $@ $< -lcmocka

# ThreadSanitizer build of the whole binary (no jemalloc: TSan owns malloc).
TSAN_OBJS := $(SRCS:src/%.c=$(BUILD)/tsan/%.o)
$(BUILD)/tsan/%.o: src/%.c $(HDRS)
	$(msg) CC-TSAN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O1 -g -fsanitize=thread -c $< -o $@
$(BUILD)/http-tracer-tsan: $(TSAN_OBJS)
	$(msg) LINK $@
	$(Q)$(CC) $(CFLAGS) -fsanitize=thread -o $@ $^ $(LIBS)

layering:
	$(Q)tools/layering.sh
	$(Q)tests/layering_selftest.sh

unit-test: deps layering $(TESTS)
	$(Q)tests/run-unit.sh $(TESTS)

tsan-test: deps $(BUILD)/http-tracer-tsan $(BUILD)/http-tracer $(BUILD)/gen_corpus
	$(Q)tests/tsan.sh $(BUILD)

e2e-test: deps $(BUILD)/http-tracer $(BUILD)/tests/sink/output_fulldisk_driver \
		$(BUILD)/capture_dump $(BUILD)/capture_traffic
	$(Q)tests/e2e/run.sh $(BUILD)

test: deps
	$(Q)$(MAKE) --no-print-directory check-arm64
	$(Q)$(MAKE) --no-print-directory unit-test
	$(Q)$(MAKE) --no-print-directory k8s-test
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)$(MAKE) --no-print-directory tsan-test
	$(Q)$(MAKE) --no-print-directory e2e-test

bench: deps $(BUILD)/http-tracer
	$(Q)bench/run.sh $(BUILD)

run: all
	$(Q)$(BUILD)/http-tracer -o - $(ARGS)

clean:
	rm -rf $(BUILD)
