test_config_DEPS := config filter
