/* framing.c - line and length-prefixed framers of tcp mode; the contract is
 * include/gatehouse/framing.h.
 *
 * Both framers are byte-driven state machines: every decision is taken at
 * the byte that settles it, so the verdicts do not depend on how the stream
 * was split into reads. The caller holds unreleased bytes and passes them
 * again; the framers keep how far they have looked (scanned, prefix_seen)
 * and resume there.
 *
 * Choices the header leaves open:
 *  - An empty line (just the terminator) is a valid line.
 *  - When one byte breaks several rules, the line ending wins (under crlf a
 *    bare LF, or a CR not followed by LF, is bad_line_ending wherever it
 *    falls), then length, then charset. A byte that cannot continue an open
 *    UTF-8 sequence is bad_utf8 even if it is an ASCII control, and so is a
 *    terminator that arrives while a sequence is open.
 *  - A prefix is judged only when complete: a partial prefix is at most 3
 *    bytes and is held anyway. */
#include "gatehouse/framing.h"

#include <string.h>

#define REASON_LINE_TOO_LONG "line_too_long"
#define REASON_BAD_CHAR "bad_char"
#define REASON_BAD_UTF8 "bad_utf8"
#define REASON_BAD_LINE_ENDING "bad_line_ending"
#define REASON_FRAME_TOO_LARGE "frame_too_large"
#define REASON_ZERO_LENGTH "zero_length"
#define REASON_BAD_LENGTH "bad_length"
#define REASON_BAD_CONFIG "bad_config"

static void verdict(struct gh_framer_verdict *out, size_t release, const char *reason)
{
    memset(out, 0, sizeof *out);
    out->release = release;
    out->action = reason ? GH_FRAME_REJECT : GH_FRAME_CONTINUE;
    out->reason = reason;
    out->reply = NULL;          /* tcp mode closes without a word */
    out->reply_len = 0;
}

/* ---- line framing -------------------------------------------------------- */

/* printable-ascii: SP..'~' and HTAB. Indexed by byte. */
static bool printable_ascii(uint8_t c)
{
    return (c >= 0x20 && c <= 0x7e) || c == '\t';
}

bool gh_line_framer_init(struct gh_line_framer *f, const struct gh_line_config *cfg)
{
    memset(f, 0, sizeof *f);
    gh_utf8_init(&f->utf8);
    f->cfg = *cfg;
    size_t term_len = cfg->terminator == GH_LINE_CRLF ? 2 : 1;
    bool ok = (cfg->terminator == GH_LINE_LF || cfg->terminator == GH_LINE_CRLF) &&
              (cfg->charset == GH_CHARSET_ANY || cfg->charset == GH_CHARSET_PRINTABLE_ASCII ||
               cfg->charset == GH_CHARSET_UTF8) &&
              cfg->max_line >= term_len;
    if (!ok)
        f->reason = REASON_BAD_CONFIG;
    return ok;
}

/* The rule content byte c breaks under the charset, or NULL. */
static const char *content_rule(struct gh_line_framer *f, uint8_t c)
{
    switch (f->cfg.charset) {
    case GH_CHARSET_ANY:
        return NULL;
    case GH_CHARSET_PRINTABLE_ASCII:
        return printable_ascii(c) ? NULL : REASON_BAD_CHAR;
    case GH_CHARSET_UTF8:
        /* An open sequence must be continued, whatever c is. */
        if (c < 0x80 && gh_utf8_complete(&f->utf8))
            return printable_ascii(c) ? NULL : REASON_BAD_CHAR;
        return gh_utf8_feed(&f->utf8, &c, 1) == 1 ? NULL : REASON_BAD_UTF8;
    }
    return REASON_BAD_CONFIG;
}

/* With charset any and lf endings, a line is just "up to the next LF":
 * memchr finds it without looking at each byte here. Returns the rule
 * broken, or NULL; *pi and *pstart advance over the lines found. */
static const char *scan_any_lf(struct gh_line_framer *f, const uint8_t *data, size_t len,
                               size_t *pi, size_t *pstart)
{
    size_t i = *pi, start = *pstart;
    size_t max_content = f->cfg.max_line - 1;
    const char *rule = NULL;

    while (i < len) {
        /* the LF may be at most at offset max_content of the line */
        size_t limit = start + max_content + 1;
        size_t end = len < limit ? len : limit;
        const uint8_t *lf = memchr(data + i, '\n', end - i);
        if (!lf) {
            i = end;
            if (end == limit)
                rule = REASON_LINE_TOO_LONG;
            break;
        }
        i = (size_t)(lf - data) + 1;
        start = i;
        f->stats.frames++;
    }
    *pi = i;
    *pstart = start;
    return rule;
}

void gh_line_framer_feed(struct gh_line_framer *f, const uint8_t *data, size_t len,
                         struct gh_framer_verdict *out)
{
    bool crlf = f->cfg.terminator == GH_LINE_CRLF;
    size_t term_len = crlf ? 2 : 1;
    size_t i = f->scanned;      /* data[0, scanned) was examined by earlier calls */
    size_t start = 0;           /* where the current line begins */
    const char *rule = NULL;

    if (f->reason) {
        verdict(out, 0, f->reason);
        return;
    }
    if (len < f->scanned) {     /* the caller dropped held bytes: see framing.h */
        verdict(out, 0, NULL);
        return;
    }
    if (!crlf && f->cfg.charset == GH_CHARSET_ANY) {
        rule = scan_any_lf(f, data, len, &i, &start);
        goto done;
    }
    while (i < len) {
        uint8_t c = data[i];
        size_t k = i - start;   /* offset of c in its line */
        if (f->cr_pending) {
            if (c != '\n') {
                rule = REASON_BAD_LINE_ENDING;
                break;
            }
            f->cr_pending = false;
        } else if (c == '\n') {
            if (crlf) {
                rule = REASON_BAD_LINE_ENDING;
                break;
            }
        } else if (c == '\r' && crlf) {
            if (k + term_len > f->cfg.max_line) {
                rule = REASON_LINE_TOO_LONG;
                break;
            }
            if (!gh_utf8_complete(&f->utf8)) {
                rule = REASON_BAD_UTF8;
                break;
            }
            f->cr_pending = true;
            i++;
            continue;
        } else {
            if (k + 1 + term_len > f->cfg.max_line) {
                rule = REASON_LINE_TOO_LONG;
                break;
            }
            if ((rule = content_rule(f, c)) != NULL)
                break;
            i++;
            continue;
        }
        /* c is the LF that ends the line */
        if (!gh_utf8_complete(&f->utf8)) {
            rule = REASON_BAD_UTF8;
            break;
        }
        i++;
        start = i;
        f->stats.frames++;
    }
done:
    if (rule) {
        f->reason = rule;
        f->scanned = 0;
    } else {
        f->scanned = i - start;
    }
    f->stats.bytes += start;
    verdict(out, start, rule);
}

/* ---- length-prefixed framing --------------------------------------------- */

bool gh_length_framer_init(struct gh_length_framer *f, const struct gh_length_config *cfg)
{
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    bool ok = (cfg->prefix_bytes == 1 || cfg->prefix_bytes == 2 || cfg->prefix_bytes == 4) &&
              (cfg->endian == GH_LENGTH_BIG || cfg->endian == GH_LENGTH_LITTLE) &&
              cfg->max_frame >= 1;
    if (!ok)
        f->reason = REASON_BAD_CONFIG;
    return ok;
}

static uint64_t decode_length(const struct gh_length_config *cfg, const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < cfg->prefix_bytes; k++) {
        unsigned idx = cfg->endian == GH_LENGTH_BIG ? k : cfg->prefix_bytes - 1 - k;
        v = v << 8 | p[idx];
    }
    return v;
}

/* The rule a complete prefix breaks, or NULL with *payload set. */
static const char *check_prefix(const struct gh_length_config *cfg, const uint8_t *p,
                                uint64_t *payload)
{
    uint64_t n = decode_length(cfg, p);
    if (n == 0)
        return REASON_ZERO_LENGTH;
    if (cfg->length_includes_prefix) {
        if (n < cfg->prefix_bytes)
            return REASON_BAD_LENGTH;
        n -= cfg->prefix_bytes;
        if (n == 0)
            return REASON_ZERO_LENGTH;
    }
    if (n > cfg->max_frame)
        return REASON_FRAME_TOO_LARGE;
    *payload = n;
    return NULL;
}

void gh_length_framer_feed(struct gh_length_framer *f, const uint8_t *data, size_t len,
                           struct gh_framer_verdict *out)
{
    size_t pb = f->cfg.prefix_bytes;
    size_t rel = 0;             /* data[0, rel) is released */
    const char *rule = NULL;

    if (f->reason) {
        verdict(out, 0, f->reason);
        return;
    }
    if (len < f->prefix_seen) {
        verdict(out, 0, NULL);
        return;
    }
    while (rel < len) {
        if (f->remaining > 0) {
            size_t avail = len - rel;
            size_t n = f->remaining < avail ? (size_t)f->remaining : avail;
            rel += n;
            f->remaining -= n;
            if (f->remaining == 0)
                f->stats.frames++;
            continue;
        }
        if (len - rel < pb) {
            f->prefix_seen = len - rel;     /* held until the rest arrives */
            break;
        }
        f->prefix_seen = 0;
        rule = check_prefix(&f->cfg, data + rel, &f->remaining);
        if (rule)
            break;
        rel += pb;
    }
    if (rel == len)
        f->prefix_seen = 0;
    if (rule)
        f->reason = rule;
    f->stats.bytes += rel;
    verdict(out, rel, rule);
}
