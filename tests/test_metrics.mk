test_metrics_DEPS := metrics red route record stats httpp
