# tools/gen_corpus.mk - the replay corpus generator (see tools/gen_corpus.c).
$(BUILD)/gen_corpus: tools/gen_corpus.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ tools/gen_corpus.c $(LIB) $(LIBS)
