/* audit_json.c - the strict flat JSON object parser for audit lines; the
 * contract is include/gatehouse/audit_json.h.
 *
 * One forward pass over the line with a cursor; every "need a byte" point
 * reports incomplete at the end of the input, every byte that cannot
 * continue a valid line is reported where it stands. Checks that could be
 * made late are made at the earliest byte that decides them (a \u escape
 * is known to be a lone low surrogate at its second hex digit, a duplicate
 * key at its closing quote, the field limit at the ',' that would start
 * one field too many), so the bytes before an error's offset are always a
 * prefix of some valid line. Nothing recurses: values are scalars. */
#include "gatehouse/audit_json.h"

#include <string.h>

struct parser {
    const unsigned char *s;
    size_t len;
    size_t pos;
    size_t ws;
    struct gh_audit_json_error *err;
};

static int fail_at(struct parser *ps, size_t at, const char *msg)
{
    if (ps->err) {
        ps->err->offset = at;
        ps->err->msg = msg;
        ps->err->incomplete = false;
    }
    return -1;
}

static int fail(struct parser *ps, const char *msg)
{
    return fail_at(ps, ps->pos, msg);
}

/* 0 when a byte is available at ps->pos, else the incomplete error. */
static int need(struct parser *ps)
{
    if (ps->pos < ps->len)
        return 0;
    if (ps->err) {
        ps->err->offset = ps->len;
        ps->err->msg = "the line ends inside the object";
        ps->err->incomplete = true;
    }
    return -1;
}

static void skip_ws(struct parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->s[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        ps->pos++;
        ps->ws++;
    }
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the four hex digits of a \u escape (pos at the first digit).
 * kind 0: a first escape, which must not be a low surrogate; kind 1: the
 * escape after a high surrogate, which must be a low one. Sets *cp. */
static int scan_u4(struct parser *ps, int kind, unsigned *cp)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (need(ps) != 0)
            return -1;
        int h = hex_value(ps->s[ps->pos]);
        if (h < 0)
            return fail(ps, "\\u escape: expected a hex digit");
        v = v << 4 | (unsigned)h;
        if (kind == 1 && i == 0 && h != 0xd)
            return fail(ps, "\\u escape: a high surrogate must be followed by a low surrogate");
        if (kind == 1 && i == 1 && (v & 0xc) != 0xc)
            return fail(ps, "\\u escape: a high surrogate must be followed by a low surrogate");
        if (kind == 0 && i == 1 && v >= 0xdc && v <= 0xdf)
            return fail(ps, "\\u escape: a low surrogate without a high surrogate before it");
        ps->pos++;
    }
    *cp = v;
    return 0;
}

/* pos at the backslash. */
static int scan_escape(struct parser *ps)
{
    unsigned cp = 0, lo = 0;
    ps->pos++;
    if (need(ps) != 0)
        return -1;
    switch (ps->s[ps->pos]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        ps->pos++;
        return 0;
    case 'u':
        break;
    default:
        return fail(ps, "invalid escape (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
    }
    ps->pos++;
    if (scan_u4(ps, 0, &cp) != 0)
        return -1;
    if (cp < 0xd800 || cp > 0xdbff)
        return 0;
    /* a high surrogate: a \u low surrogate must follow at once */
    if (need(ps) != 0)
        return -1;
    if (ps->s[ps->pos] != '\\')
        return fail(ps, "\\u escape: a high surrogate must be followed by a low surrogate");
    ps->pos++;
    if (need(ps) != 0)
        return -1;
    if (ps->s[ps->pos] != 'u')
        return fail(ps, "\\u escape: a high surrogate must be followed by a low surrogate");
    ps->pos++;
    return scan_u4(ps, 1, &lo);
}

/* pos at a byte >= 0x80 inside a string. */
static int scan_utf8(struct parser *ps)
{
    unsigned char c = ps->s[ps->pos];
    unsigned char lo = 0x80, hi = 0xbf;
    const char *why = "invalid UTF-8: expected a continuation byte";
    int more;
    if (c < 0xc0)
        return fail(ps, "invalid UTF-8: a continuation byte without a lead byte");
    if (c < 0xc2)
        return fail(ps, "invalid UTF-8: overlong encoding");
    if (c < 0xe0) {
        more = 1;
    } else if (c < 0xf0) {
        more = 2;
        if (c == 0xe0) {
            lo = 0xa0;
            why = "invalid UTF-8: overlong encoding";
        } else if (c == 0xed) {
            hi = 0x9f;
            why = "invalid UTF-8: a UTF-16 surrogate encoded in UTF-8";
        }
    } else if (c < 0xf5) {
        more = 3;
        if (c == 0xf0) {
            lo = 0x90;
            why = "invalid UTF-8: overlong encoding";
        } else if (c == 0xf4) {
            hi = 0x8f;
            why = "invalid UTF-8: above U+10FFFF";
        }
    } else {
        return fail(ps, "invalid UTF-8: not a lead byte (above U+10FFFF)");
    }
    ps->pos++;
    for (int i = 0; i < more; i++) {
        if (need(ps) != 0)
            return -1;
        unsigned char b = ps->s[ps->pos];
        if (b < 0x80 || b > 0xbf)
            return fail(ps, "invalid UTF-8: expected a continuation byte");
        if (i == 0 && (b < lo || b > hi))
            return fail(ps, why);
        ps->pos++;
    }
    return 0;
}

/* pos after the opening quote; on success pos after the closing quote and
 * *span is the content. */
static int scan_string(struct parser *ps, struct gh_audit_json_span *span, bool *escaped)
{
    size_t start = ps->pos;
    *escaped = false;
    for (;;) {
        if (need(ps) != 0)
            return -1;
        unsigned char c = ps->s[ps->pos];
        if (c == '"') {
            span->p = (const char *)ps->s + start;
            span->len = ps->pos - start;
            ps->pos++;
            return 0;
        }
        if (c < 0x20)
            return fail(ps, "a raw control character in a string (must be escaped)");
        if (c == '\\') {
            *escaped = true;
            if (scan_escape(ps) != 0)
                return -1;
        } else if (c >= 0x80) {
            if (scan_utf8(ps) != 0)
                return -1;
        } else {
            ps->pos++;
        }
    }
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static void skip_digits(struct parser *ps)
{
    while (ps->pos < ps->len && is_digit(ps->s[ps->pos]))
        ps->pos++;
}

/* pos at '-' or a digit. */
static int scan_number(struct parser *ps, bool *integer)
{
    *integer = true;
    if (ps->s[ps->pos] == '-') {
        ps->pos++;
        if (need(ps) != 0)
            return -1;
    }
    if (ps->s[ps->pos] == '0') {
        ps->pos++;
        if (ps->pos < ps->len && is_digit(ps->s[ps->pos]))
            return fail(ps, "a number with a leading zero");
    } else if (is_digit(ps->s[ps->pos])) {
        skip_digits(ps);
    } else {
        return fail(ps, "expected a digit");
    }
    if (ps->pos < ps->len && ps->s[ps->pos] == '.') {
        *integer = false;
        ps->pos++;
        if (need(ps) != 0)
            return -1;
        if (!is_digit(ps->s[ps->pos]))
            return fail(ps, "expected a digit after the decimal point");
        skip_digits(ps);
    }
    if (ps->pos < ps->len && (ps->s[ps->pos] == 'e' || ps->s[ps->pos] == 'E')) {
        *integer = false;
        ps->pos++;
        if (need(ps) != 0)
            return -1;
        if (ps->s[ps->pos] == '+' || ps->s[ps->pos] == '-') {
            ps->pos++;
            if (need(ps) != 0)
                return -1;
        }
        if (!is_digit(ps->s[ps->pos]))
            return fail(ps, "expected a digit in the exponent");
        skip_digits(ps);
    }
    return 0;
}

/* pos at the literal's first byte, which matched. */
static int scan_literal(struct parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    for (size_t i = 1; i < n; i++) {
        ps->pos++;
        if (need(ps) != 0)
            return -1;
        if (ps->s[ps->pos] != (unsigned char)lit[i])
            return fail(ps, "invalid literal (expected true, false or null)");
    }
    ps->pos++;
    return 0;
}

static int scan_value(struct parser *ps, struct gh_audit_json_field *f)
{
    size_t start = ps->pos;
    unsigned char c = ps->s[ps->pos];
    f->value_escaped = false;
    f->integer = false;
    switch (c) {
    case '"':
        f->type = GH_AUDIT_JSON_STRING;
        ps->pos++;
        return scan_string(ps, &f->value, &f->value_escaped);
    case 't':
        f->type = GH_AUDIT_JSON_TRUE;
        if (scan_literal(ps, "true") != 0)
            return -1;
        break;
    case 'f':
        f->type = GH_AUDIT_JSON_FALSE;
        if (scan_literal(ps, "false") != 0)
            return -1;
        break;
    case 'n':
        f->type = GH_AUDIT_JSON_NULL;
        if (scan_literal(ps, "null") != 0)
            return -1;
        break;
    case '{':
    case '[':
        return fail(ps, "a nested object or array (audit entries are flat)");
    default:
        if (c != '-' && !is_digit(c))
            return fail(ps, "expected a value");
        f->type = GH_AUDIT_JSON_NUMBER;
        if (scan_number(ps, &f->integer) != 0)
            return -1;
        break;
    }
    f->value.p = (const char *)ps->s + start;
    f->value.len = ps->pos - start;
    return 0;
}

/* ---- decoding validated strings ------------------------------------------ */

static int hex4(const unsigned char *p, size_t len, size_t i, unsigned *out)
{
    unsigned v = 0;
    if (len < 4 || i > len - 4)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value(p[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* The code point at p[*i] of string content; advances *i. Returns -1 on
 * bytes the parser would not have accepted (a hand-made field). */
static long next_cp(const unsigned char *p, size_t len, size_t *i)
{
    unsigned char c = p[*i];
    if (c == '\\') {
        unsigned cp, lo;
        if (*i + 1 >= len)
            return -1;
        switch (p[*i + 1]) {
        case '"': *i += 2; return '"';
        case '\\': *i += 2; return '\\';
        case '/': *i += 2; return '/';
        case 'b': *i += 2; return '\b';
        case 'f': *i += 2; return '\f';
        case 'n': *i += 2; return '\n';
        case 'r': *i += 2; return '\r';
        case 't': *i += 2; return '\t';
        case 'u': break;
        default: return -1;
        }
        if (hex4(p, len, *i + 2, &cp) != 0)
            return -1;
        *i += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return -1;
        if (cp < 0xd800 || cp > 0xdbff)
            return (long)cp;
        if (*i + 1 >= len || p[*i] != '\\' || p[*i + 1] != 'u' ||
            hex4(p, len, *i + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
            return -1;
        *i += 6;
        return 0x10000 + (long)((cp - 0xd800) << 10) + (long)(lo - 0xdc00);
    }
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    long cp = c & (0x3f >> more);
    if (c < 0xc2 || c > 0xf4 || len - *i <= (size_t)more)
        return -1;
    for (int k = 1; k <= more; k++) {
        unsigned char b = p[*i + (size_t)k];
        if ((b & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (b & 0x3f);
    }
    *i += (size_t)more + 1;
    return cp;
}

static size_t utf8_encode(long cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

static bool spans_equal(struct gh_audit_json_span a, bool a_esc, struct gh_audit_json_span b,
                        bool b_esc)
{
    if (!a_esc && !b_esc)
        return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
    const unsigned char *pa = (const unsigned char *)a.p, *pb = (const unsigned char *)b.p;
    size_t i = 0, k = 0;
    while (i < a.len && k < b.len) {
        long ca = next_cp(pa, a.len, &i);
        long cb = next_cp(pb, b.len, &k);
        if (ca < 0 || cb < 0 || ca != cb)
            return false;
    }
    return i == a.len && k == b.len;
}

/* Decoded span equals the bytes s[0, n). */
static bool span_is(struct gh_audit_json_span a, bool esc, const char *s, size_t n)
{
    if (!esc)
        return a.len == n && memcmp(a.p, s, n) == 0;
    const unsigned char *p = (const unsigned char *)a.p;
    size_t i = 0, k = 0;
    while (i < a.len) {
        unsigned char enc[4];
        long cp = next_cp(p, a.len, &i);
        if (cp < 0)
            return false;
        size_t m = utf8_encode(cp, enc);
        if (m > n - k || memcmp(s + k, enc, m) != 0)
            return false;
        k += m;
    }
    return k == n;
}

/* Decodes a validated span into buf; see gh_audit_json_string. */
static int decode(struct gh_audit_json_span a, char *buf, size_t cap, size_t *len)
{
    const unsigned char *p = (const unsigned char *)a.p;
    size_t i = 0, out = 0, total = 0;
    bool fits = cap > 0, bad = false;
    while (i < a.len) {
        unsigned char enc[4];
        long cp = next_cp(p, a.len, &i);
        if (cp < 0) {
            bad = true;
            break;
        }
        size_t m = utf8_encode(cp, enc);
        if (fits && m < cap - out) {
            memcpy(buf + out, enc, m);
            out += m;
        } else {
            fits = false;
        }
        total += m;
    }
    if (cap > 0)
        buf[out] = '\0';
    if (len)
        *len = total;
    return fits && !bad ? 0 : -1;
}

/* ---- the object ------------------------------------------------------------ */

int gh_audit_json_parse(const char *line, size_t len, struct gh_audit_json_obj *obj,
                        struct gh_audit_json_error *err)
{
    struct parser ps = {.s = (const unsigned char *)line, .len = len, .err = err};
    obj->n_fields = 0;
    obj->whitespace = 0;
    if (err) {
        err->offset = 0;
        err->msg = NULL;
        err->incomplete = false;
    }
    if (need(&ps) != 0)
        return -1;
    if (ps.s[0] != '{')
        return fail(&ps, "expected '{' (a line is one JSON object and nothing else)");
    ps.pos = 1;
    skip_ws(&ps);
    if (need(&ps) != 0)
        goto out_err;
    if (ps.s[ps.pos] == '}') {
        ps.pos++;
        goto end;
    }
    for (;;) {
        struct gh_audit_json_field *f = &obj->fields[obj->n_fields];
        if (ps.s[ps.pos] != '"')
            return fail(&ps, obj->n_fields > 0 && ps.s[ps.pos] == '}'
                                 ? "a comma before '}'"
                                 : "expected a key (a string in double quotes)");
        ps.pos++;
        if (scan_string(&ps, &f->key, &f->key_escaped) != 0)
            goto out_err;
        for (size_t i = 0; i < obj->n_fields; i++)
            if (spans_equal(obj->fields[i].key, obj->fields[i].key_escaped, f->key,
                            f->key_escaped))
                return fail_at(&ps, ps.pos - 1, "a duplicate key");
        skip_ws(&ps);
        if (need(&ps) != 0)
            goto out_err;
        if (ps.s[ps.pos] != ':')
            return fail(&ps, "expected ':' after the key");
        ps.pos++;
        skip_ws(&ps);
        if (need(&ps) != 0)
            goto out_err;
        if (scan_value(&ps, f) != 0)
            goto out_err;
        obj->n_fields++;
        skip_ws(&ps);
        if (need(&ps) != 0)
            goto out_err;
        if (ps.s[ps.pos] == '}') {
            ps.pos++;
            break;
        }
        if (ps.s[ps.pos] != ',')
            return fail(&ps, "expected ',' or '}' after a value");
        if (obj->n_fields == GH_AUDIT_JSON_MAX_FIELDS)
            return fail(&ps, "more than 64 fields");
        ps.pos++;
        skip_ws(&ps);
        if (need(&ps) != 0)
            goto out_err;
    }
end:
    obj->whitespace = ps.ws;
    if (ps.pos != len)
        return fail(&ps, "bytes after the object");
    return 0;
out_err:
    /* err is already set (incomplete or not) by the failing step */
    obj->whitespace = ps.ws;
    return -1;
}

const struct gh_audit_json_field *gh_audit_json_get(const struct gh_audit_json_obj *obj,
                                                    const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->n_fields; i++) {
        const struct gh_audit_json_field *f = &obj->fields[i];
        if (span_is(f->key, f->key_escaped, key, n))
            return f;
    }
    return NULL;
}

int gh_audit_json_int(const struct gh_audit_json_field *f, int64_t *out)
{
    uint64_t mag = 0;
    size_t i = 0;
    bool neg = false;
    if (!f || f->type != GH_AUDIT_JSON_NUMBER || !f->integer || f->value.len == 0)
        return -1;
    if (f->value.p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == f->value.len)
        return -1;
    for (; i < f->value.len; i++) {
        unsigned char c = (unsigned char)f->value.p[i];
        if (!is_digit(c))
            return -1;
        uint64_t d = (uint64_t)(c - '0');
        if (mag > (UINT64_MAX - d) / 10)
            return -1;
        mag = mag * 10 + d;
    }
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)mag;
    }
    return 0;
}

int gh_audit_json_string(const struct gh_audit_json_field *f, char *buf, size_t cap, size_t *len)
{
    if (!f || f->type != GH_AUDIT_JSON_STRING) {
        if (cap > 0)
            buf[0] = '\0';
        if (len)
            *len = 0;
        return -1;
    }
    return decode(f->value, buf, cap, len);
}

int gh_audit_json_key(const struct gh_audit_json_field *f, char *buf, size_t cap, size_t *len)
{
    if (!f) {
        if (cap > 0)
            buf[0] = '\0';
        if (len)
            *len = 0;
        return -1;
    }
    return decode(f->key, buf, cap, len);
}

bool gh_audit_json_string_is(const struct gh_audit_json_field *f, const char *s)
{
    return f && f->type == GH_AUDIT_JSON_STRING &&
           span_is(f->value, f->value_escaped, s, strlen(s));
}

const char *gh_audit_json_type_name(enum gh_audit_json_type t)
{
    switch (t) {
    case GH_AUDIT_JSON_STRING: return "string";
    case GH_AUDIT_JSON_NUMBER: return "number";
    case GH_AUDIT_JSON_TRUE: return "true";
    case GH_AUDIT_JSON_FALSE: return "false";
    case GH_AUDIT_JSON_NULL: return "null";
    }
    return "?";
}
