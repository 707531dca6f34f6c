# bench/record.mk - CPU per record of build, redaction and NDJSON encoding
# (bench/bench_record.c): -O2, no sanitizers, jemalloc like the tracer.
# `make build/bench_record BASE=/path/to/other/tree` also builds the same
# source against that tree's headers and build/libht.a as
# build/bench_record_base, to run side by side.
# Fragments are included before `all:`, so keep `make` meaning `make all`.
.DEFAULT_GOAL := all

$(eval $(call bench_base,record))
RECORD_BASE := $(if $(BASE),$(BUILD)/bench_record_base)

$(BUILD)/bench_record: bench/bench_record.c $(LIB) $(HDRS) $(RECORD_BASE)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_record.c $(LIB) $(MAIN_LIBS)
