/* span.h - small helpers over byte spans (pointer + length) that the
 * parsers, the config loader and the services share: ASCII case folding,
 * walking a separated list, hex digits.
 *
 * Owns: the one definition of each of these, so every module folds case,
 * splits a list and writes hex the same way. No I/O, no allocation, no
 * locale: only ASCII letters fold (a byte >= 0x80 is itself), which is what
 * the protocols gatehouse parses (RFC 9110 field names and tokens, DNS
 * names, RFC 6455 origins) and its config lists ask for. Static inline: the
 * callers sit on the per-request path and compare against literals. */
#ifndef GATEHOUSE_SPAN_H
#define GATEHOUSE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- ASCII case ---------------------------------------------------------- */

static inline unsigned char gh_ascii_lower(unsigned char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
}

/* a[0, n) equals b[0, n), ASCII case ignored on both sides. */
static inline bool gh_ascii_ieq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (gh_ascii_lower(x[i]) != gh_ascii_lower(y[i]))
            return false;
    return true;
}

/* p[0, n) equals lower[0, n), ASCII case ignored in p; lower is written in
 * lowercase already (a literal), so only p is folded. */
static inline bool gh_ascii_ieq_lower(const void *p, const char *lower, size_t n)
{
    const unsigned char *x = p;
    for (size_t i = 0; i < n; i++)
        if (gh_ascii_lower(x[i]) != (unsigned char)lower[i])
            return false;
    return true;
}

/* ---- separated lists ----------------------------------------------------- */

enum gh_list_spaces {
    GH_LIST_KEEP_SPACES, /* items as written (':'-lists of cipher names) */
    GH_LIST_TRIM_SPACES, /* SP and HTAB around each item dropped */
};

/* Walks the items of a NUL-terminated list separated by one character:
 * gh_list_start, then each gh_list_next gives the next item as a span into
 * the list. Every
 * item is given, empty ones too (len 0: "" is one empty item, "a," ends
 * with one), for the caller to refuse or skip. */
struct gh_list_walk {
    const char *next; /* start of the next item; NULL after the last */
    char sep;
    enum gh_list_spaces spaces;
};

/* The walk over LIST (which must stay unchanged while it is walked). */
static inline struct gh_list_walk gh_list_start(const char *list, char sep,
                                                enum gh_list_spaces spaces)
{
    struct gh_list_walk w = {list, sep, spaces};
    return w;
}

static inline bool gh_list_next(struct gh_list_walk *w, const char **item, size_t *len)
{
    const char *p = w->next, *end;
    if (!p)
        return false;
    end = strchr(p, w->sep);
    if (!end)
        end = p + strlen(p);
    w->next = *end ? end + 1 : NULL;
    if (w->spaces == GH_LIST_TRIM_SPACES) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
    }
    *item = p;
    *len = (size_t)(end - p);
    return true;
}

/* ---- hex ----------------------------------------------------------------- */

enum gh_hex_case { GH_HEX_LOWER, GH_HEX_UPPER };

/* The two hex digits of b into out[0], out[1]. */
static inline void gh_hex_byte(char out[2], uint8_t b, enum gh_hex_case hc)
{
    const char *digits = hc == GH_HEX_UPPER ? "0123456789ABCDEF" : "0123456789abcdef";
    out[0] = digits[b >> 4];
    out[1] = digits[b & 15];
}

/* bytes[0, n) as 2 * n hex digits into out[0, 2 * n); no terminator (the
 * caller adds one where it wants a string). */
static inline void gh_hex_encode(char *out, const uint8_t *bytes, size_t n, enum gh_hex_case hc)
{
    for (size_t i = 0; i < n; i++)
        gh_hex_byte(out + 2 * i, bytes[i], hc);
}

#endif
