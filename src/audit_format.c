/* audit_format.c - one audit entry's text: JSON escaping, truncation and
 * timestamps; see audit_format.h. */
#include "gatehouse/audit_format.h"

#include "gatehouse/span.h"

#include <stdio.h>
#include <string.h>

static void put(struct gh_audit_entry *e, const char *s, size_t n)
{
    if (!e->active || e->overflow)
        return;
    if ((size_t)(e->end - e->p) < n) {
        e->overflow = true;
        return;
    }
    memcpy(e->p, s, n);
    e->p += n;
}

static void put_key(struct gh_audit_entry *e, const char *key)
{
    put(e, ",\"", 2);
    put(e, key, strlen(key));
    put(e, "\":", 2);
}

size_t gh_audit_format_ts(const struct timespec *ts, char *out)
{
    struct tm tm;
    time_t secs = ts->tv_sec;
    gmtime_r(&secs, &tm);
    /* snprintf rather than strftime: the year is clamped to 4 digits so the
     * length is fixed whatever the clock says. */
    snprintf(out, GH_AUDIT_TS_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02u.%06luZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned long)(ts->tv_nsec / 1000) % 1000000ul);
    return GH_AUDIT_TS_LEN;
}

void gh_audit_entry_start(struct gh_audit_entry *e, char *buf, size_t cap, uint32_t max_field,
                          const struct timespec *ts, long pid, const char *event)
{
    char head[GH_AUDIT_TS_LEN + 64];
    size_t n;

    e->start = e->p = buf;
    e->end = buf + (cap < GH_AUDIT_ENTRY_MAX ? cap : GH_AUDIT_ENTRY_MAX);
    e->max_field = max_field;
    e->active = true;
    e->overflow = false;
    memcpy(head, "\"ts\":\"", 6); /* NOLINT(bugprone-not-null-terminated-result): a length is kept */
    n = 6 + gh_audit_format_ts(ts, head + 6);
    n += (size_t)snprintf(head + n, sizeof head - n, "\",\"pid\":%ld,\"event\":", pid);
    put(e, head, n);
    put(e, "\"", 1);
    put(e, event, strlen(event));
    put(e, "\"", 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there
 * are not one: overlongs, surrogates and code points past U+10FFFF are not. */
static size_t utf8_sequence(const uint8_t *s, size_t avail)
{
    uint8_t b = s[0];
    size_t need;
    uint32_t cp;

    if (b >= 0xc2 && b <= 0xdf)
        need = 2, cp = b & 0x1fu;
    else if (b >= 0xe0 && b <= 0xef)
        need = 3, cp = b & 0x0fu;
    else if (b >= 0xf0 && b <= 0xf4)
        need = 4, cp = b & 0x07u;
    else
        return 0;
    if (avail < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

size_t gh_audit_escape(char *dst, size_t cap, const uint8_t *src, size_t len, size_t max_in,
                       size_t *consumed)
{
    size_t all = len;
    size_t i = 0, o = 0;

    if (len > max_in)
        len = max_in;
    while (i < len) {
        uint8_t b = src[i];
        size_t seq;
        if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
            if (o >= cap)
                return (size_t)-1;
            dst[o++] = (char)b;
            i++;
            continue;
        }
        if (b == '"' || b == '\\') {
            if (cap - o < 2)
                return (size_t)-1;
            dst[o++] = '\\';
            dst[o++] = (char)b;
            i++;
            continue;
        }
        seq = b >= 0x80 ? utf8_sequence(src + i, len - i) : 0;
        if (seq > 0) {
            if (cap - o < seq)
                return (size_t)-1;
            memcpy(dst + o, src + i, seq);
            o += seq;
            i += seq;
            continue;
        }
        /* A valid character that the cut at max_in would split ends the
         * value here rather than turning its first bytes into \u00XX. */
        if (b >= 0x80 && all > len && utf8_sequence(src + i, all - i) > 0)
            break;
        if (cap - o < 6)
            return (size_t)-1;
        memcpy(dst + o, "\\u00", 4); /* NOLINT(bugprone-not-null-terminated-result): JSON text, not a C string */
        gh_hex_byte(dst + o + 4, b, GH_HEX_LOWER);
        o += 6;
        i++;
    }
    *consumed = i;
    return o;
}

static void put_escaped(struct gh_audit_entry *e, const uint8_t *s, size_t len, size_t max_in,
                        size_t *consumed)
{
    size_t n;
    if (!e->active || e->overflow)
        return;
    n = gh_audit_escape(e->p, (size_t)(e->end - e->p), s, len, max_in, consumed);
    if (n == (size_t)-1) {
        e->overflow = true;
        return;
    }
    e->p += n;
}

void gh_audit_str(struct gh_audit_entry *e, const char *key, const char *value)
{
    size_t consumed = 0;
    size_t len = strlen(value);
    put_key(e, key);
    put(e, "\"", 1);
    put_escaped(e, (const uint8_t *)value, len, len, &consumed);
    put(e, "\"", 1);
}

void gh_audit_client_cut(struct gh_audit_entry *e, const char *key, const void *data, size_t len,
                         size_t full_len)
{
    size_t consumed = 0;
    put_key(e, key);
    put(e, "\"", 1);
    put_escaped(e, data, len, e->max_field, &consumed);
    put(e, "\"", 1);
    if (e->active && !e->overflow && consumed < full_len) {
        char name[64];
        snprintf(name, sizeof name, "%.50s_truncated", key);
        gh_audit_uint(e, name, full_len);
    }
}

void gh_audit_client(struct gh_audit_entry *e, const char *key, const void *data, size_t len)
{
    gh_audit_client_cut(e, key, data, len, len);
}

void gh_audit_uint(struct gh_audit_entry *e, const char *key, uint64_t value)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)value);
    put_key(e, key);
    put(e, num, (size_t)n);
}

void gh_audit_micros(struct gh_audit_entry *e, const char *key, double seconds)
{
    gh_audit_uint(e, key, seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0);
}

void gh_audit_bool(struct gh_audit_entry *e, const char *key, bool value)
{
    put_key(e, key);
    if (value)
        put(e, "true", 4);
    else
        put(e, "false", 5);
}

size_t gh_audit_entry_len(const struct gh_audit_entry *e)
{
    if (!e->active || e->overflow)
        return 0;
    return (size_t)(e->p - e->start);
}
