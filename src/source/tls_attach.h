/*
 * tls_attach.h - finds the OpenSSL libraries (libssl.so.*) that processes
 * map and attaches the uprobes of bpf/tls.h to each library file once.
 *
 * Discovery: /proc/PID/maps of every process, the file opened through
 * /proc/PID/root/PATH so that a container's own libssl (another mount
 * namespace) is found too; a library is one file, (device, inode), however
 * many processes map it or under which paths.  The uprobes are attached
 * for every process (pid -1): the kernel fires them in any process that
 * maps that file, now or later, so only a new file needs a new attach.
 * tls_attach_start() scans before it returns (processes older than the
 * tracer), then a thread rescans every TLS_RESCAN_MS (processes started
 * later, libraries loaded later with dlopen).  tls.libraries adds files by
 * hand.  A library without SSL_read and SSL_write is reported once, on
 * stderr, and counted as failed; one without the _ex calls (OpenSSL before
 * 1.1.1) is traced through SSL_read and SSL_write alone.
 *
 * Threads: start and stop on the main thread, the rescan thread in
 * between; tls_attach_counts() from any thread.
 */
#ifndef HT_TLS_ATTACH_H
#define HT_TLS_ATTACH_H

#include <stddef.h>
#include <stdint.h>

struct bpf_program;
struct ht_config;
struct tls_attach;

#define TLS_RESCAN_MS 1000

/* The programs of bpf/tls.h: the entries of SSL_write, SSL_read,
 * SSL_write_ex, SSL_read_ex (tls_func_names[] order) and the return
 * program shared by the four. */
#define TLS_NFUNCS 4
extern const char *const tls_func_names[TLS_NFUNCS];
struct tls_progs {
	struct bpf_program *enter[TLS_NFUNCS];
	struct bpf_program *ret;
	volatile uint64_t *attach_ns; /* the programs' tls_attach_ns (maps.h) */
};

/* Attaches to cfg's tls.libraries and to every library mapped now, then
 * starts the rescan thread.  self_pid is never scanned.  NULL on out of
 * memory or when the thread cannot start (said on stderr); a library that
 * cannot be attached is never fatal. */
struct tls_attach *tls_attach_start(const struct tls_progs *p, const struct ht_config *cfg,
				    uint32_t self_pid);
/* Stops the thread and detaches every uprobe (NULL: nothing). */
void tls_attach_stop(struct tls_attach *t);

struct tls_counts {
	uint64_t attached;   /* library files traced */
	uint64_t failed;     /* library files that could not be (symbols missing, ...) */
	uint64_t scans;      /* /proc scans done */
};
void tls_attach_counts(struct tls_attach *t, struct tls_counts *out);

/* Pure, for the tests: when the /proc/PID/maps line `line` maps an OpenSSL
 * library (a file named libssl.so or libssl.so.*), copies its path (NUL-
 * terminated) into path and returns its length; else returns 0 (another
 * file, a deleted one, a path longer than size - 1). */
size_t tls_maps_line_lib(const char *line, char *path, size_t size);

#endif
