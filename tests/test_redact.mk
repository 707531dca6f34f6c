test_redact_DEPS := redact config filter record
