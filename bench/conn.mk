# bench/conn.mk - CPU per record of a shard's work on recorded traffic
# (bench/bench_conn.c): -O2, no sanitizers, jemalloc like the tracer.
# `make build/bench_conn BASE=/path/to/other/tree` also builds the same
# source against that tree's headers and build/libht.a as
# build/bench_conn_base, to run side by side.
# Fragments are included before `all:`, so keep `make` meaning `make all`.
.DEFAULT_GOAL := all

$(eval $(call bench_base,conn))
CONN_BASE := $(if $(BASE),$(BUILD)/bench_conn_base)

$(BUILD)/bench_conn: bench/bench_conn.c $(LIB) $(HDRS) $(CONN_BASE)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_conn.c $(LIB) $(MAIN_LIBS)
