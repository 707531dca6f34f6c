# bench/write.mk - CPU of the writer's write path into a file, old way and
# new ways side by side (bench/bench_write.c): -O2, no sanitizers.
# Fragments are included before `all:`, so keep `make` meaning `make all`.
.DEFAULT_GOAL := all

$(BUILD)/bench_write: bench/bench_write.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_write.c $(LIB) $(MAIN_LIBS)
