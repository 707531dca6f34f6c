# capture_dump: dev tool that loads the probes via src/source/capture.c and
# prints one line per kernel event plus a per-stream contiguity summary.
$(BUILD)/capture_dump: tools/capture_dump.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ tools/capture_dump.c $(LIB) $(LIBS)

# capture_traffic: sendmmsg/recvmmsg/many-iovec/MSG_PEEK traffic for capture_check.sh
$(BUILD)/capture_traffic: tools/capture_traffic.c
	$(msg) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -o $@ $<
