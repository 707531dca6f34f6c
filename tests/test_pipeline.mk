test_pipeline_DEPS := pipeline conn corr reasm httpp record stats config filter redact format output red route metrics meta
