/*
 * fuzz_config.c - libFuzzer target for the config loader (config/config.c).
 *
 * The input is the YAML file, handed to ht_config_load() through a memfd
 * (the loader takes a path and insists on a regular file).  Checked: no
 * crash or leak; a success gives a config that frees cleanly; a failure
 * gives one line "PATH:LINE:COL: error: ..." naming the file and a
 * position inside it (only "out of memory" may lack the position).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "config/config.h"

/* Lines in data[0..size) as YAML counts them (line breaks: LF, CR, CRLF,
 * and in UTF-8 NEL, LS, PS), for the position check. */
static unsigned long count_lines(const uint8_t *d, size_t size)
{
	unsigned long n = 1;

	for (size_t i = 0; i < size; i++) {
		if (d[i] == '\n' || (d[i] == '\r' && (i + 1 == size || d[i + 1] != '\n')))
			n++;
		else if (i + 1 < size && d[i] == 0xc2 && d[i + 1] == 0x85)
			n++;
		else if (i + 2 < size && d[i] == 0xe2 && d[i + 1] == 0x80 && (d[i + 2] & 0xfe) == 0xa8)
			n++;
	}
	return n;
}

static void check_error(const char *path, const char *err, const uint8_t *data, size_t size)
{
	size_t plen = strlen(path);
	unsigned long line, col;
	char *end;

	FUZZ_CHECK(err[0], "failed without a message");
	FUZZ_CHECK(!strchr(err, '\n'), "message of several lines: %s", err);
	FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':', "message does not name the file: %s",
		   err);
	if (strstr(err, "out of memory"))
		return;
	line = strtoul(err + plen + 1, &end, 10);
	FUZZ_CHECK(end > err + plen + 1 && *end == ':', "no line number: %s", err);
	col = strtoul(end + 1, &end, 10);
	FUZZ_CHECK(*end == ':' && strncmp(end, ": error: ", 9) == 0, "no column number: %s", err);
	FUZZ_CHECK(line >= 1 && line <= count_lines(data, size) + 1, "line %lu outside the file: %s",
		   line, err);
	FUZZ_CHECK(col >= 1, "column %lu: %s", col, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct ht_config *c;
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0, "memfd_create");
	FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write to the memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	c = ht_config_load(path, err, sizeof(err));
	if (c)
		ht_config_free(c);
	else
		check_error(path, err, data, size);
	close(fd);
	return 0;
}
