# bench/k8s_scale.mk - the Kubernetes store at cluster scale (-O2, no
# sanitizers, jemalloc as in the binary): `make bench-k8s`.
$(BUILD)/k8s_scale: bench/k8s_scale.c $(LIB) $(HDRS)
	$(msg) LINK $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -O2 -o $@ bench/k8s_scale.c $(LIB) $(MAIN_LIBS)

.PHONY: bench-k8s
bench-k8s: $(BUILD)/k8s_scale
	$(Q)$(BUILD)/k8s_scale
