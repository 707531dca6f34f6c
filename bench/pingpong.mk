# bench/pingpong.mk - the one-connection syscall loop of bench/bpf_pingpong.sh
# (no library: plain sockets).
.DEFAULT_GOAL := all

$(BUILD)/pingpong: bench/pingpong.c
	$(msg) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ $<
