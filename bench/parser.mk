# bench/parser.mk - the HTTP/1 parser benchmark (httpp vs http_parser 2.9):
# -O2, no sanitizers.  Run it with bench/parser.sh (or `make bench-parser`).
# Fragments are included before `all:`, so keep `make` meaning `make all`.
.DEFAULT_GOAL := all

$(BUILD)/bench_parser: bench/bench_parser.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/bench_parser.c $(LIB) -lhttp_parser $(LIBS)

.PHONY: bench-parser
bench-parser: $(BUILD)/bench_parser
	$(Q)BUILD=$(BUILD) bench/parser.sh
