/*
 * log.h — leveled logging with timestamps to stderr (or a file).
 *
 * It never allocates; a line longer than its buffer is cut.
 *
 * Lines read "2026-11-25T16:24:19.123Z INFO  [gossip] node 127.0.0.2 is now UP".
 * The level is process-wide and set once at start-up (log_set_level); logging
 * is thread-safe (one write(2) per line).
 */
#ifndef COLONNADE_CORE_LOG_H
#define COLONNADE_CORE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error|warn|info|debug|trace"; returns 0 or COL_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
/* Send log lines to fd (default 2).  The caller keeps the fd open. */
void log_set_fd(int fd);
/* A short name for this process's lines, e.g. the node's address ("127.0.0.2"). */
void log_set_tag(const char *tag);

void log_write(enum log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) log_write(LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) log_write(LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) log_write(LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...)                                                                        \
	do {                                                                                       \
		if (log_get_level() >= LOG_DEBUG)                                                  \
			log_write(LOG_DEBUG, mod, __VA_ARGS__);                                    \
	} while (0)
#define log_trace(mod, ...)                                                                        \
	do {                                                                                       \
		if (log_get_level() >= LOG_TRACE)                                                  \
			log_write(LOG_TRACE, mod, __VA_ARGS__);                                    \
	} while (0)

#endif
