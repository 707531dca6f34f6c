# tests/fuzz/fuzz.mk - libFuzzer targets (tests/fuzz/fuzz_NAME.c), built with
# clang and -fsanitize=fuzzer,address,undefined.  The library sources they
# need are compiled again with clang (the sanitizer runtimes must match the
# linker's), into $(BUILD)/fuzz/obj/.  `make fuzz` runs each target for
# FUZZ_SECONDS from tests/fuzz/corpus/NAME (new inputs go to a scratch dir,
# crashes to $(BUILD)/fuzz/crashes/); `make fuzz-smoke` runs each for 20,000 inputs with a fixed seed (deterministic: CI)
# after replaying tests/fuzz/regress/NAME.  See tests/fuzz/run.sh.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(filter-out -O2 -g,$(CFLAGS)) $(FUZZ_SAN)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
# Only the stages the targets exercise (no BPF skeletons needed).
FUZZ_LIB_SRCS := $(wildcard src/base/*.c src/stream/*.c src/config/*.c) \
		 src/source/event.c src/source/rfile.c src/sink/k8s_json.c src/sink/k8s_store.c \
		 src/sink/format.c src/sink/redact.c
FUZZ_LIB     := $(BUILD)/fuzz/libht-fuzz.a

$(BUILD)/fuzz/obj/%.o: src/%.c $(HDRS)
	$(msg) CC-FUZZ $@
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# The store frees replaced entries itself after a grace period, so that
# each input frees what it allocated (libFuzzer's per-input leak check).
$(BUILD)/fuzz/obj/sink/k8s_store.o: FUZZ_CFLAGS += -DK8S_STORE_SYNC_RECLAIM

$(FUZZ_LIB): $(FUZZ_LIB_SRCS:src/%.c=$(BUILD)/fuzz/obj/%.o)
	$(msg) AR $@
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_check.h $(FUZZ_LIB) $(HDRS)
	$(msg) FUZZ $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LIBS)

FUZZ_SMOKE_RUNS ?= 20000
.PHONY: fuzz fuzz-build fuzz-smoke
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-build
	$(Q)FUZZ_RUNS=$(FUZZ_SMOKE_RUNS) tests/fuzz/run.sh $(BUILD) 10 $(FUZZ_NAMES)
