test_filter_DEPS := filter config record
