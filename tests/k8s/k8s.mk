# tests/k8s/k8s.mk - the API client driver for tests/k8s/test_client.py,
# linked with the ASan+UBSan library like the unit tests.
$(BUILD)/tests/k8s/k8s_driver: tests/k8s/k8s_driver.c $(ASAN_LIB) $(HDRS)
	$(msg) TEST $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $< $(ASAN_LIB) $(LIBS)
