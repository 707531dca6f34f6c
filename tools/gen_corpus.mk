# tools/gen_corpus.mk - the replay corpus generator (see tools/gen_corpus.c).
$(BUILD)/gen_corpus: tools/gen_corpus.c src/rfile.c src/rfile.h src/reasm.c src/reasm.h include/ht_event.h
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ tools/gen_corpus.c src/rfile.c src/reasm.c -lz -lm
