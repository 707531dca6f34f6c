test_rfile_DEPS := rfile
