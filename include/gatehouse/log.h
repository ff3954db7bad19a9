/* log.h - diagnostics on stderr, one logfmt line per event:
 *   ts=2026-11-26T11:00:00.123456Z level=info pid=42 event=ready listeners=1
 * Owns: the level filter and the line format. Each line goes out in one
 * write(2), so lines from several workers never interleave. This is not the
 * audit log; nothing here is a record anyone should rely on for forensics. */
#ifndef GATEHOUSE_LOG_H
#define GATEHOUSE_LOG_H

#include "gatehouse/config.h"

#define GH_LOG_LINE_MAX 1024 /* longer lines are cut, marked with "..." */

void gh_log_set_level(enum gh_log_level level);
bool gh_log_enabled(enum gh_log_level level);

/* FIELDS is a printf format producing " key=value" pairs, each starting
 * with a space. Values that may contain spaces or quotes must go through
 * gh_log_quote. */
void gh_log(enum gh_log_level level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes TEXT as a double-quoted logfmt value into out (size n) and returns
 * out; control characters, quotes and backslashes are escaped. */
const char *gh_log_quote(const char *text, char *out, size_t n);

#endif
