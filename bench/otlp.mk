# bench/otlp.mk - the OTLP exporter benchmark (bench/otlp.sh): -O2, no
# sanitizers, linked with the library like the binary.
.DEFAULT_GOAL := all

$(BUILD)/otlp_bench: bench/otlp_bench.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/otlp_bench.c $(LIB) $(MAIN_LIBS)

.PHONY: bench-otlp
bench-otlp: $(BUILD)/otlp_bench
	$(Q)bench/otlp.sh $(BUILD)
