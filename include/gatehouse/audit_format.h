/* audit_format.h - builds the text of one audit entry in a caller's buffer.
 *
 * An entry is written as its event fields without braces:
 *     "ts":"2026-11-26T14:23:44.123456Z","pid":42,"event":"close","conn":7,...
 * and the audit writer wraps it in {"v":1,"seq":N, ... ,"chain":"..."}.
 * Client-controlled strings go through gh_audit_client, which escapes them
 * for JSON (control characters, DEL and bytes outside valid UTF-8 become
 * \u00XX), so no input can end a string, add a field or split the line; a
 * value longer than the entry's max_field input bytes is cut and the entry
 * gets KEY_truncated with the original length.
 *
 * Owns: the escaping and truncation rules and the timestamp format. Pure:
 * no I/O, no allocation, so the fuzzer can drive it directly. */
#ifndef GATEHOUSE_AUDIT_FORMAT_H
#define GATEHOUSE_AUDIT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GH_AUDIT_TS_LEN 27       /* 2026-11-26T14:23:44.123456Z */
#define GH_AUDIT_ENTRY_MAX 32768 /* one entry's text; larger entries are dropped and counted */

struct gh_audit_entry {
    char *start;          /* first byte of the entry */
    char *p;              /* next byte to write */
    char *end;            /* one past the last usable byte */
    uint32_t max_field;   /* client string bytes kept per field */
    bool active;          /* false: every call is a no-op (audit off) */
    bool overflow;        /* ran out of room: the entry will be dropped */
};

/* Starts an entry at buf (cap bytes) with the common fields. */
void gh_audit_entry_start(struct gh_audit_entry *e, char *buf, size_t cap, uint32_t max_field,
                          const struct timespec *ts, long pid, const char *event);

/* Text gatehouse itself produced (names, reasons, addresses): escaped, not cut. */
void gh_audit_str(struct gh_audit_entry *e, const char *key, const char *value);
/* Bytes the client chose: escaped and cut at max_field. */
void gh_audit_client(struct gh_audit_entry *e, const char *key, const void *data, size_t len);
/* The same for the first len bytes of a value that was full_len long
 * (a copy kept with a fixed bound). */
void gh_audit_client_cut(struct gh_audit_entry *e, const char *key, const void *data, size_t len,
                         size_t full_len);
void gh_audit_uint(struct gh_audit_entry *e, const char *key, uint64_t value);
void gh_audit_bool(struct gh_audit_entry *e, const char *key, bool value);
/* A duration in seconds as whole microseconds (0 for none or negative). */
void gh_audit_micros(struct gh_audit_entry *e, const char *key, double seconds);

/* Bytes written so far (0 when inactive or overflowed). */
size_t gh_audit_entry_len(const struct gh_audit_entry *e);

/* Formats ts as RFC 3339 UTC with microseconds into out (at least
 * GH_AUDIT_TS_LEN + 1 bytes). Returns GH_AUDIT_TS_LEN. */
size_t gh_audit_format_ts(const struct timespec *ts, char *out);

/* Escapes src[0, len) as the inside of a JSON string into dst (cap bytes),
 * taking at most max_in input bytes and never splitting a UTF-8 sequence.
 * Returns bytes written, or (size_t)-1 if dst is too small; *consumed gets
 * the input bytes taken. Exposed for tests. */
size_t gh_audit_escape(char *dst, size_t cap, const uint8_t *src, size_t len, size_t max_in,
                       size_t *consumed);

#endif
