/*
 * output.h - the output file: whole-record batches, rotation, gzip, full disk.
 *
 * One writer thread calls output_write_batch(es); the module owns one internal
 * compression thread (only when rotation is enabled) that gzips rotated
 * files off the write path.  File layout for path P with maxFiles N:
 *
 *   P          the current file (records are appended with write(2), or
 *              writev(2) for several batches; on ext4 with blocks
 *              fallocate()d ahead, and written-back pages dropped behind)
 *   P.1 .. P.N rotated files, P.1 the newest; each becomes P.K.gz once the
 *              compression thread has written P.K.gz.tmp, fsynced it and
 *              renamed it into place (then P.K is unlinked)
 *
 * Rotation happens between batches, before a batch that would take the file
 * past maxSize (a batch is never split, so only a single batch larger than
 * maxSize makes a file exceed it).  Records are contiguous across files:
 * reading P.N(.gz) .. P.1(.gz) then P gives every record once, in order.
 *
 * Errors: a failed write (ENOSPC, EIO, ...) is retried with backoff for up
 * to the retry budget; a partial batch is cut off again with ftruncate, so
 * the file only ever holds whole records.  When the budget is spent the
 * batch is dropped and counted in HT_C_DROP_OUTPUT_ERROR; while the output
 * keeps failing, later batches get one attempt each (no sleeping), so the
 * writer keeps draining; the first success ends that state.  If the file
 * is deleted (say, to free space), a new one is created: at once when
 * writes fail, within a second otherwise.
 */
#ifndef HT_OUTPUT_H
#define HT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "base/stats.h"

/* Total time a failing batch is retried before it is dropped. */
#ifndef OUTPUT_RETRY_MS
#define OUTPUT_RETRY_MS 1000
#endif
/* First and largest sleep between two attempts (doubling). */
#ifndef OUTPUT_BACKOFF_MIN_MS
#define OUTPUT_BACKOFF_MIN_MS 1
#endif
#ifndef OUTPUT_BACKOFF_MAX_MS
#define OUTPUT_BACKOFF_MAX_MS 128
#endif
/* After a failed rotation (P cannot be renamed), wait this long before the next try. */
#ifndef OUTPUT_ROTATE_RETRY_MS
#define OUTPUT_ROTATE_RETRY_MS 1000
#endif
/* On ext4: unwritten blocks are fallocate()d ahead of the writes in steps
 * of this size (given back when the file is closed or rotated); 0 = never. */
#ifndef OUTPUT_PREALLOC_BYTES
#define OUTPUT_PREALLOC_BYTES (16u << 20)
#endif
/* Drop-behind step: writeback is started for every this many bytes
 * appended, and pages written back earlier are dropped; 0 = never. */
#ifndef OUTPUT_BEHIND_BYTES
#define OUTPUT_BEHIND_BYTES (8u << 20)
#endif

struct output;

/*
 * Open c->output_path ("-" = stdout) for c->format, with c's rotation
 * settings; counters go to st (may be NULL).  Creates missing parent
 * directories (0750) and the file (0640), whatever the umask.  On error
 * returns NULL with one line in err naming the path, the errno text and
 * what to do.
 */
struct output *output_open(const struct ht_config *c, struct ht_stats *st, char *err,
			   size_t errlen);
/* Write n_records whole records data[0..len); 0, or -1 if the batch was dropped (counted). */
int output_write_batch(struct output *o, const char *data, size_t len, uint32_t n_records);

/* One batch of whole records for output_write_batches(). */
struct output_batch {
	const char *data;
	size_t len;
	uint32_t n_records;
};

/*
 * Write the batches v[0..n) in order, as output_write_batch() would one by
 * one (rotation between batches, each batch whole or dropped), but with
 * one writev(2) for the batches between two rotations.  Adds the records
 * written to *written; returns the number of batches dropped (counted).
 */
int output_write_batches(struct output *o, const struct output_batch *v, int n, uint64_t *written);
/* Whether the output is a regular file (not stdout, a pipe or a device). */
bool output_is_regular(const struct output *o);
/* Change the retry budget (ms) of a failing batch; 0 = one attempt only. */
void output_set_retry_ms(struct output *o, uint32_t retry_ms);
/* Flush, close, wait for pending compression, free. NULL is a no-op. */
void output_close(struct output *o);

#endif
