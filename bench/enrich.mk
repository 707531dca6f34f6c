# bench/enrich.mk - the per-record cost of Kubernetes metadata (bench/bench_enrich.c):
# -O2, no sanitizers.  `make bench-enrich`.
.DEFAULT_GOAL := all

$(BUILD)/bench_enrich: bench/bench_enrich.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_enrich.c $(LIB) $(LIBS)

.PHONY: bench-enrich
bench-enrich: $(BUILD)/bench_enrich
	$(Q)$(BUILD)/bench_enrich
