/*
 * event.h - the one validator of kernel event records (include/ht_event.h).
 *
 * Every path that takes a record from outside the process (the live ring
 * buffers, a record file being written or replayed) checks it here, so live,
 * record and replay accept exactly the same records.
 */
#ifndef HT_EVENT_CHECK_H
#define HT_EVENT_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* The exact size of a record of this type carrying cap_len payload bytes;
 * 0 for an unknown type. */
size_t ht_event_size(uint8_t type, uint32_t cap_len);

/* 0 if rec[0..len) is one well-formed record: a known type, exactly its
 * size, and a data event's captured length within its full length.
 * -EINVAL otherwise. */
int ht_event_check(const void *rec, size_t len);

#endif
