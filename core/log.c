#include "core/log.h"

#include "core/clock.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int current_level = LOG_INFO;
static _Atomic int log_fd = 2;
static char log_tag[64];

static const char *const level_names[] = {"ERROR", "WARN ", "INFO ", "DEBUG", "TRACE"};

void log_set_level(enum log_level level) { current_level = level; }
enum log_level log_get_level(void) { return (enum log_level)current_level; }
void log_set_fd(int fd) { log_fd = fd; }

void log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "");
}

int log_level_parse(const char *name, enum log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
	for (int i = 0; i < 5; i++) {
		if (strcasecmp(name, names[i]) == 0) {
			*out = (enum log_level)i;
			return COL_OK;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*out = LOG_WARN;
		return COL_OK;
	}
	return COL_EINVAL;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
	if ((int)level > current_level)
		return;
	char line[2048];
	char ts[40];
	clock_format_iso(clock_wall_us(), ts, sizeof(ts));
	int n = snprintf(line, sizeof(line), "%s %s %s%s[%s] ", ts, level_names[level], log_tag,
			 log_tag[0] ? " " : "", module);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line keeps lines whole across threads. */
	ssize_t w = write(log_fd, line, len);
	(void)w;
}
