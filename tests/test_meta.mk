test_meta_DEPS := meta
