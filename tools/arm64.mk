# tools/arm64.mk - `make check-arm64` (part of `make test`): compile, without
# linking, bpf/ and src/ for arm64, so that code that builds only on x86 (an
# unguarded __builtin_ia32_pause or SSE intrinsic, x86 pt_regs fields) fails.
#  - bpf/: clang -target bpf -D__TARGET_ARCH_arm64 against the host's
#    vmlinux.h: Debian ships no arm64 vmlinux.h, and the programs read the
#    arm64 syscall registers through CO-RE types of their own (see
#    bpf/http_tracer.bpf.c), so any vmlinux.h does; the arm64 skeleton is
#    generated from that object for src/source/capture.c.
#  - src/: clang --target=aarch64-linux-gnu with the arm64 headers of
#    Debian's multiarch packages libc6-dev:arm64, liburcu-dev:arm64 and
#    libcurl4-openssl-dev:arm64 (Debian keeps curl/*.h per architecture)
#    (tools/deps.sh installs them); the headers of libbpf, xxhash, libyaml and
#    zlib in /usr/include are the same on every architecture.
.DEFAULT_GOAL := all

A64        := $(BUILD)/arm64
A64_OBJS   := $(SRCS:src/%.c=$(A64)/obj/%.o)
A64_CFLAGS := -O2 -std=gnu11 -D_GNU_SOURCE $(WARN) -Werror=implicit-function-declaration \
	-Iinclude -Isrc -I$(A64) -pthread

$(A64)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h
	$(msg) BPF-A64 $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_arm64 -D__BPF__ \
		-Iinclude -Ibpf -I$(BUILD) -Wall -Wno-unused-function -c $< -o $@

$(A64)/%.skel.h: $(A64)/%.bpf.o
	$(msg) SKEL-A64 $@
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(A64)/obj/%.o: src/%.c $(HDRS)
	$(msg) CC-A64 $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) --target=aarch64-linux-gnu $(A64_CFLAGS) -c $< -o $@

$(A64)/obj/source/capture.o: $(BPF_SRCS:bpf/%.bpf.c=$(A64)/%.skel.h)

.PHONY: check-arm64
check-arm64: deps $(A64_OBJS)
	@echo "check-arm64: bpf/ and src/ compile for arm64 ($(words $(A64_OBJS)) objects)"
