/* The log sink.  One process-wide destination: stderr, or a file opened in
 * append mode.  Each line is written with a single fprintf to a line-
 * buffered stream so lines from one process never interleave mid-line.
 * Timestamps are left to the reader (journald adds them) except in files,
 * where the caller's wall clock is not available: we print none, and the
 * level prefix is the systemd one (<3> error ... <7> debug) when stderr is
 * the journal, plain words otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/log.h"

static enum log_level cur_level = LOG_LEVEL_INFO;
static FILE *log_file; /* NULL: stderr */
static char last_error[256];

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const char *const level_journal[] = {
	[LOG_LEVEL_ERROR] = "<3>",
	[LOG_LEVEL_WARN] = "<4>",
	[LOG_LEVEL_INFO] = "<6>",
	[LOG_LEVEL_DEBUG] = "<7>",
};

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0];
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_level(enum log_level l)
{
	cur_level = l;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_open(const char *path)
{
	FILE *f;

	if (path == NULL) {
		log_close();
		return 0;
	}
	/* 0600: logs may name contacts and addresses. */
	{
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0600);

		if (fd < 0)
			return -errno;
		f = fdopen(fd, "a");
		if (f == NULL) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	setvbuf(f, NULL, _IOLBF, 0);
	log_close();
	log_file = f;
	return 0;
}

void log_close(void)
{
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
}

const char *log_last_error(void)
{
	return last_error;
}

int log_fd(void)
{
	return log_file != NULL ? fileno(log_file) : -1;
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	FILE *out = log_file != NULL ? log_file : stderr;
	static int journal = -1;
	char line[1024];
	va_list ap;

	if (l > cur_level && l != LOG_LEVEL_ERROR)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (l == LOG_LEVEL_ERROR) {
		size_t n = strnlen(line, sizeof last_error - 1);

		memcpy(last_error, line, n); /* truncated on purpose */
		last_error[n] = '\0';
	}
	if (journal && log_file == NULL)
		fprintf(out, "%s%s\n", level_journal[l], line);
	else
		fprintf(out, "parleyd: %s: %s\n", level_names[l], line);
}
