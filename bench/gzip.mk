# bench/gzip.mk - CPU of gzipping rotated output, zlib's streaming deflate
# against src/sink/gz.c (bench/bench_gzip.c): -O2, no sanitizers.
.DEFAULT_GOAL := all

$(BUILD)/bench_gzip: bench/bench_gzip.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_gzip.c $(LIB) $(LIBS)
