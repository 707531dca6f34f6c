test_conn_DEPS := conn corr reasm httpp record stats
