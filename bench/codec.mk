# bench/codec.mk - record-file codec candidates (bench/bench_codec.c): -O2,
# no sanitizers; libzstd from `make bench-deps`.  Run it with bench/codec.sh.
.DEFAULT_GOAL := all

$(BUILD)/bench_codec: bench/bench_codec.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_codec.c $(LIB) $(LIBS) -lzstd
