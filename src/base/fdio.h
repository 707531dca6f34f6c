/*
 * fdio.h - whole reads and writes on a file descriptor.
 *
 * write(2) and read(2) may do less than asked (a signal, a pipe, a full
 * disk half way); these loop until everything is done, EOF or an error,
 * and retry EINTR.
 */
#ifndef HT_FDIO_H
#define HT_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Write all n bytes of p; 0, or -errno (-EIO if write(2) wrote nothing). */
int ht_write_all(int fd, const void *p, size_t n);

/* Read until n bytes or EOF; the number of bytes read, or -errno. */
ssize_t ht_read_full(int fd, void *p, size_t n);

#endif
