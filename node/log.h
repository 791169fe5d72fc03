/* Logging: levels, to stderr or a file (--log-file), one line per call.
 * Format strings are literals without a trailing newline (STYLE.md 9). */
#ifndef PARLEY_NODE_LOG_H
#define PARLEY_NODE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Parses "error", "warn", "info", "debug".  0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level l);
enum log_level log_get_level(void);

/* Sends logs to path (appending), or to stderr when path is NULL.  Called
 * again on SIGHUP to reopen after rotation.  0 or negative errno (the
 * previous destination stays in use). */
int log_open(const char *path);
void log_close(void);

/* The text of the last error logged ("" if none), for the daemon's
 * parent to repeat on the terminal it was started from. */
const char *log_last_error(void);

/* The log file's descriptor, or -1 when logging to stderr. */
int log_fd(void);

void log_msg(enum log_level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
