test_reasm_DEPS := reasm
