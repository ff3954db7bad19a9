/* log.c - logfmt diagnostics on stderr; see log.h. */
#include "gatehouse/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum gh_log_level current_level = GH_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void gh_log_set_level(enum gh_log_level level) { current_level = level; }

bool gh_log_enabled(enum gh_log_level level) { return level >= current_level; }

void gh_log(enum gh_log_level level, const char *event, const char *fields, ...)
{
    char line[GH_LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    size_t len;
    int n;
    va_list ap;

    if (!gh_log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    len = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line + len, sizeof line - len, ".%06ldZ level=%s pid=%ld event=%s",
                 (long)tv.tv_usec, level_names[level], (long)getpid(), event);
    len += (size_t)n;
    va_start(ap, fields);
    n = vsnprintf(line + len, sizeof line - len, fields, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
    va_end(ap);
    if (n < 0)
        n = 0;
    len += (size_t)n;
    if (len >= sizeof line - 1) {
        len = sizeof line - 5;
        memcpy(line + len, "...", 3); /* NOLINT(bugprone-not-null-terminated-result): written with a length */
        len += 3;
    }
    line[len++] = '\n';
    /* Diagnostics are best effort: a full or closed stderr must not stop
     * the proxy, and there is nowhere else to report that it failed. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

const char *gh_log_quote(const char *text, char *out, size_t n)
{
    size_t o = 0;
    if (n < 3) {
        if (n)
            out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)text; *p && o + 6 < n; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
