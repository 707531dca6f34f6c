test_httpp_DEPS := httpp
