# bench/heads.mk - CPU per message of httpp on warm heads (bench/bench_heads.c):
# -O2, no sanitizers.  `make build/bench_heads` measures this tree;
# `make build/bench_heads BASE=/path/to/other/tree` also builds that tree's
# src/stream/httpp.c under renamed symbols and runs both side by side.
# Fragments are included before `all:`, so keep `make` meaning `make all`.
.DEFAULT_GOAL := all

HEADS_BASE_OBJS :=
HEADS_BASE_DEFS :=
ifneq ($(BASE),)
HEADS_BASE_OBJS := $(BUILD)/heads_base/httpp.o $(BUILD)/heads_base/heads_base.o
HEADS_BASE_DEFS := -DHT_BENCH_BASE
HEADS_BASE_CFLAGS = -O2 -g -std=gnu11 -D_GNU_SOURCE -include bench/heads_rename.h \
	-I$(BASE)/include -I$(BASE)/src -Ibench

$(BUILD)/heads_base/httpp.o: $(BASE)/src/stream/httpp.c bench/heads_rename.h FORCE
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HEADS_BASE_CFLAGS) -c $< -o $@

$(BUILD)/heads_base/heads_base.o: bench/heads_base.c bench/heads_run.h bench/heads_rename.h FORCE
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(HEADS_BASE_CFLAGS) -c $< -o $@
endif

$(BUILD)/bench_heads: bench/bench_heads.c bench/heads_run.h $(LIB) $(HDRS) $(HEADS_BASE_OBJS) FORCE
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 $(HEADS_BASE_DEFS) -Ibench -o $@ bench/bench_heads.c \
		$(HEADS_BASE_OBJS) $(LIB) $(LIBS)

.PHONY: FORCE
FORCE:
