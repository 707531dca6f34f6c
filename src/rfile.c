/* rfile.c - record/replay file (skeleton; implementation in progress). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "rfile.h"

struct rfile_writer *rfile_writer_open(const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: record files not implemented yet", path);
	return NULL;
}
int rfile_writer_add(struct rfile_writer *w, const void *rec, size_t len) { return -ENOSYS; }
int rfile_writer_close(struct rfile_writer *w) { return -ENOSYS; }
uint64_t rfile_writer_records(const struct rfile_writer *w) { return 0; }
uint64_t rfile_writer_bytes(const struct rfile_writer *w) { return 0; }
struct rfile_reader *rfile_reader_open(const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: replay files not implemented yet", path);
	return NULL;
}
int rfile_reader_next_block(struct rfile_reader *r, const uint8_t **recs, size_t *len,
			    uint32_t *count) { return -1; }
int rfile_next_record(const uint8_t **cur, const uint8_t *end, const void **rec,
		      uint32_t *rec_len) { return 0; }
const char *rfile_reader_error(const struct rfile_reader *r) { return "not implemented"; }
uint64_t rfile_reader_offset(const struct rfile_reader *r) { return 0; }
void rfile_reader_close(struct rfile_reader *r) { }
size_t rfile_record_size(uint8_t type, uint32_t cap_len) { return 0; }
int rfile_check_record(const void *rec, size_t len) { return -EINVAL; }
