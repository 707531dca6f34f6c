test_output_DEPS := output format record
