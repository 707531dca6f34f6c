# tests/output_fulldisk.sh builds this driver (ASan+UBSan, like the unit tests).
output_fulldisk_driver_DEPS := output format record
