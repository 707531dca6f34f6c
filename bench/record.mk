# bench/record.mk - CPU per record of build, redaction and NDJSON encoding
# (bench/bench_record.c): -O2, no sanitizers, jemalloc like the tracer.
# Fragments are included before `all:`, so keep `make` meaning `make all`.
.DEFAULT_GOAL := all

$(BUILD)/bench_record: bench/bench_record.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_record.c $(LIB) $(MAIN_LIBS)
