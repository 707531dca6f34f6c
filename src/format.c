/* format.c - record encoders (skeleton). */
#include "format.h"

const char *const format_csv_columns[FORMAT_CSV_COLUMNS];

int format_record(enum ht_format f, const struct ht_record *r, struct ht_buf *out)
{
	return -EINVAL;
}

int format_csv_header(struct ht_buf *out)
{
	return -EINVAL;
}
