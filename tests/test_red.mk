test_red_DEPS := red route record
