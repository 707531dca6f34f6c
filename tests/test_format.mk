test_format_DEPS := format record
