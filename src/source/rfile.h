/*
 * rfile.h - the record/replay file: raw kernel events (include/ht_event.h
 * records, byte for byte) in LZ4-compressed, XXH3-checked blocks.
 *
 * Layout (all integers little-endian):
 *   file header, 32 bytes:
 *     char magic[8] = "HTTRACE\0"; u32 version = 3 (2: zlib blocks, still
 *     read; 1: data records of 80 bytes, before peer_pos, refused);
 *     u32 header_size (>= 32, bytes to skip to the first block); u32 flags
 *     (0); u32 reserved (0); u64 creation time, ns since the Unix epoch.
 *   blocks until end of file, each:
 *     block header, 24 bytes: u32 magic = RFILE_BLOCK_MAGIC; u32 compressed
 *     length; u32 raw length (<= RFILE_MAX_RAW); u32 record count; u64
 *     XXH3-64 (seed 0) of the compressed bytes (checked before they are
 *     decompressed; hashing them rather than the raw bytes is 10-35x less
 *     to hash, and LZ4_decompress_safe is safe on any input);
 *     then `compressed length` bytes of one LZ4 block (liblz4's block
 *     format, LZ4_compress_default: no frame, the header carries the sizes
 *     and the checksum) that decompresses to exactly `raw length`
 *     bytes: records as (u32 length, u32 reserved = 0,
 *     length bytes, zero padding to a multiple of 8) so that every record is
 *     8-byte aligned in the inflated buffer and can be cast to the ABI
 *     structs directly.
 *   Version 2 differs only in its blocks: a 20-byte header whose last field
 *   is a u32 zlib crc32 of the raw bytes, and a raw deflate stream (zlib
 *   level 1, windowBits -15) as the payload.  bench/codec.sh measured why
 *   LZ4 replaced it (PERFORMANCE.md "Record file codec").
 * Every record is checked when its block is read: length >= sizeof(struct
 * ht_ev_hdr) and exactly the size its type implies (data: 88 + cap_len).
 *
 * Neither the writer nor the reader is thread-safe: one owner each.
 */
#ifndef HT_RFILE_H
#define HT_RFILE_H

#include <stddef.h>
#include <stdint.h>

#define RFILE_MAGIC          "HTTRACE\0"
#define RFILE_VERSION        3u                /* written; read */
#define RFILE_VERSION_ZLIB   2u                /* read only */
#define RFILE_HDR_SIZE       32u
#define RFILE_BLOCK_MAGIC    0x4b425448u       /* "HTBK" little-endian */
#define RFILE_BLOCK_HDR_SIZE 24u               /* version 3 */
#define RFILE_BLOCK_HDR_SIZE_V2 20u
#define RFILE_BLOCK_TARGET   (1u << 20)        /* raw bytes buffered per block by the writer */
#define RFILE_MAX_RAW        (16u << 20)       /* largest raw block a reader accepts */
#define RFILE_MAX_COMP       (RFILE_MAX_RAW + (RFILE_MAX_RAW >> 7)) /* >= deflateBound, LZ4_compressBound */
#define RFILE_MAX_RECORD     (RFILE_MAX_RAW - 8u)

struct rfile_writer;
struct rfile_reader;

/* Create (truncate) path and write the file header. Returns NULL with a
 * one-line message in err on failure. */
struct rfile_writer *rfile_writer_open(const char *path, char *err, size_t errlen);
/* Append one event record (struct ht_ev_hdr first, len bytes in all).
 * Returns 0, -EINVAL for a record whose length does not match its type,
 * or -errno from compression or write(2). Writes version 3. */
int rfile_writer_add(struct rfile_writer *w, const void *rec, size_t len);
/* Change the raw bytes buffered per block (default RFILE_BLOCK_TARGET;
 * clamped to 64 .. RFILE_MAX_RAW / 2). Small blocks are for tests. */
void rfile_writer_set_block_size(struct rfile_writer *w, size_t raw_bytes);
/* Flush the last block, close the file and free w (also on error).
 * Returns 0 or the first -errno seen since open. */
int rfile_writer_close(struct rfile_writer *w);
/* Records and bytes (file size so far) written; for status lines. */
uint64_t rfile_writer_records(const struct rfile_writer *w);
uint64_t rfile_writer_bytes(const struct rfile_writer *w);

/* Open path (version 3 or 2) and check its header. Returns NULL with a one-line message in
 * err (naming the byte offset when the header is bad). */
struct rfile_reader *rfile_reader_open(const char *path, char *err, size_t errlen);
/* Read the next block: returns 1 with *recs, *len and *count describing its
 * checked records (valid until the next call), 0 at clean end of file, -1
 * on error (rfile_reader_error() names the file offset). Every block before
 * a bad one is returned first; after -1 it keeps returning -1. */
int rfile_reader_next_block(struct rfile_reader *r, const uint8_t **recs, size_t *len,
			    uint32_t *count);
/* Optional, right after open: decode blocks ahead on `threads` threads
 * (1..16) so that decompression overlaps with the caller's work; blocks are still
 * returned in file order with the same results. Returns 0 or -errno (the
 * reader then stays synchronous, or fails if it had already read ahead). */
int rfile_reader_prefetch(struct rfile_reader *r, unsigned threads);
/* Walk the records of a block: returns 1 with *rec (8-byte aligned) and
 * *rec_len and advances *cur, 0 at the end of the block or on a malformed
 * entry (never reads past end). */
int rfile_next_record(const uint8_t **cur, const uint8_t *end, const void **rec,
		      uint32_t *rec_len);
/* Message of the last error ("" if none). */
const char *rfile_reader_error(const struct rfile_reader *r);
/* File offset of the next block header (progress). */
uint64_t rfile_reader_offset(const struct rfile_reader *r);
void rfile_reader_close(struct rfile_reader *r);

/* Records are checked with ht_event_check (source/event.h). */

#endif
