# tests/k8s/k8s.mk - the API client driver for tests/k8s/test_client.py,
# linked with the ASan+UBSan library like the unit tests.
$(BUILD)/tests/k8s/k8s_driver: tests/k8s/k8s_driver.c $(ASAN_LIB) $(HDRS)
	$(msg) TEST $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $< $(ASAN_LIB) $(LIBS)

# `make k8s-test` (part of `make test`, no root): the client against the
# fake API server, see tests/k8s/test_client.py.
.PHONY: k8s-test
k8s-test: deps $(BUILD)/tests/k8s/k8s_driver
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		python3 tests/k8s/test_client.py $(BUILD)
