/* test_audit_json.c - unit tests for the audit line parser (src/audit_json.c).
 *
 * Pins the contract of include/gatehouse/audit_json.h row by row: valid
 * lines with the fields they give, invalid lines with the offset of the
 * first offending byte and whether the input merely ended early. Every row
 * is also held to the parser's general promises:
 *  - an error at offset o (not incomplete) is the first bad byte: the
 *    prefix of length o parses or is incomplete, the prefix of length o + 1
 *    fails at o again;
 *  - every proper prefix of a valid line is incomplete with offset = its
 *    length (a writer that stopped mid-line), never valid and never a crash.
 *
 * Every input is copied into a heap buffer of exactly its length, so a run
 * under AddressSanitizer catches any read past the end. Table rows are
 * checked with CHECK(), which reports every failing row (by its line here)
 * and fails the test at the end. */
#include "check.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/audit_json.h"

/* ---- helpers ------------------------------------------------------------ */

static struct gh_audit_json_obj obj;

/* Parses a heap copy of exactly len bytes. */
static int parse_copy(const char *s, size_t len, struct gh_audit_json_obj *o,
                      struct gh_audit_json_error *err)
{
    char *copy = dup_exact(s, len);
    int rc = gh_audit_json_parse(copy, len, o, err);
    free(copy);
    return rc;
}

/* The general promises, for any input. */
static void check_contract(const char *s, size_t len)
{
    static struct gh_audit_json_obj o2;
    struct gh_audit_json_error err = {0}, e2 = {0};
    int rc = parse_copy(s, len, &o2, &err);
    if (rc == 0) {
        for (size_t k = 0; k < len; k++) {
            int r2 = parse_copy(s, k, &o2, &e2);
            CHECK(r2 == -1 && e2.incomplete && e2.offset == k,
                  "prefix of %zu bytes: rc %d incomplete %d offset %zu", k, r2, e2.incomplete,
                  e2.offset);
        }
        return;
    }
    CHECK(rc == -1, "rc %d", rc);
    CHECK(err.msg != NULL && err.msg[0] != '\0', "no message");
    if (err.incomplete) {
        CHECK(err.offset == len, "incomplete at %zu of %zu", err.offset, len);
        return;
    }
    CHECK(err.offset < len, "error offset %zu of %zu", err.offset, len);
    if (err.offset >= len)
        return;
    int r2 = parse_copy(s, err.offset, &o2, &e2);
    CHECK(r2 == 0 || e2.incomplete, "prefix before the error (%zu bytes) is not valid or incomplete: %s",
          err.offset, e2.msg ? e2.msg : "");
    r2 = parse_copy(s, err.offset + 1, &o2, &e2);
    CHECK(r2 == -1 && !e2.incomplete && e2.offset == err.offset && e2.msg == err.msg,
          "prefix through the error: rc %d incomplete %d offset %zu", r2, e2.incomplete, e2.offset);
}

/* ---- valid lines ---------------------------------------------------------- */

struct valid_row {
    int line;
    const char *s;
    size_t len;
    size_t n_fields;
    size_t whitespace;
};

#define V(str, n, ws) {__LINE__, str, sizeof(str) - 1, n, ws}

static const struct valid_row valid_rows[] = {
    V("{}", 0, 0),
    V("{ }", 0, 1),
    V("{\t\r\n }", 0, 4),
    V("{\"a\":1}", 1, 0),
    V("{ \"a\" : 1 , \"b\" : \"x\" }", 2, 8),
    V("{\"\":\"\"}", 1, 0),
    V("{\"s\":\"x\",\"n\":-12.5e+3,\"t\":true,\"f\":false,\"z\":null}", 5, 0),
    /* every escape */
    V("{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1, 0),
    V("{\"u\":\"\\u0000\\u001f\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\\uffff\"}", 1, 0),
    V("{\"u\":\"\\uD7FF\\uE000\"}", 1, 0),
    /* surrogate pairs: the first, the last, mixed case */
    V("{\"p\":\"\\uD800\\uDC00\"}", 1, 0),
    V("{\"p\":\"\\udbff\\udfff\"}", 1, 0),
    V("{\"p\":\"\\uD83D\\ude00x\"}", 1, 0),
    V("{\"p\":\"\\ud83d\\uDE00\\ud83d\\ude00\"}", 1, 0),
    /* UTF-8 at every boundary */
    V("{\"u\":\"\xc2\x80\"}", 1, 0),                 /* U+0080 */
    V("{\"u\":\"\xdf\xbf\"}", 1, 0),                 /* U+07FF */
    V("{\"u\":\"\xe0\xa0\x80\"}", 1, 0),             /* U+0800 */
    V("{\"u\":\"\xed\x9f\xbf\"}", 1, 0),             /* U+D7FF */
    V("{\"u\":\"\xee\x80\x80\"}", 1, 0),             /* U+E000 */
    V("{\"u\":\"\xef\xbf\xbf\"}", 1, 0),             /* U+FFFF */
    V("{\"u\":\"\xf0\x90\x80\x80\"}", 1, 0),         /* U+10000 */
    V("{\"u\":\"\xf4\x8f\xbf\xbf\"}", 1, 0),         /* U+10FFFF */
    V("{\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}", 1, 0),
    V("{\"\xc3\xa9\":1}", 1, 0),                     /* UTF-8 key */
    V("{\"del\":\"\x7f\"}", 1, 0),                   /* DEL is not a control char in JSON */
    /* numbers */
    V("{\"n\":0}", 1, 0),
    V("{\"n\":-0}", 1, 0),
    V("{\"n\":1}", 1, 0),
    V("{\"n\":-1}", 1, 0),
    V("{\"n\":1234567890}", 1, 0),
    V("{\"n\":0.0}", 1, 0),
    V("{\"n\":0.5}", 1, 0),
    V("{\"n\":-0.5}", 1, 0),
    V("{\"n\":1e5}", 1, 0),
    V("{\"n\":1E5}", 1, 0),
    V("{\"n\":1e+5}", 1, 0),
    V("{\"n\":1e-5}", 1, 0),
    V("{\"n\":0e0}", 1, 0),
    V("{\"n\":-0.0e-0}", 1, 0),
    V("{\"n\":10.01E+10}", 1, 0),
    V("{\"n\":123456789012345678901234567890}", 1, 0), /* valid JSON, not an int64 */
    V("{\"n\":1 }", 1, 1),
    V("{\"a\":true,\"b\":false,\"c\":null}", 3, 0),
    /* keys that look alike but differ */
    V("{\"a\":1,\"A\":2}", 2, 0),
    V("{\"a\":1,\"a \":2}", 2, 0),
    V("{\"ab\":1,\"a\":2}", 2, 0),
    V("{\"a\":1,\"\\u0062\":2}", 2, 0),
    V("{\"\\u00e9\":1,\"e\\u0301\":2}", 2, 0),      /* no Unicode normalization */
    V("{\"a\\u0000\":1,\"a\":2}", 2, 0),
    /* an audit entry as gatehouse writes it */
    V("{\"v\":1,\"seq\":1,\"ts\":\"2026-11-26T14:23:44.123456Z\",\"pid\":42,\"event\":\"start\","
      "\"version\":\"0.1.0\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\","
      "\"chain_alg\":\"sha256\",\"chain\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
      9, 0),
    V("{\"v\":1,\"seq\":2,\"ts\":\"2026-11-26T14:23:44.123456Z\",\"pid\":42,\"event\":\"reject\","
      "\"excerpt\":\"GET /\\u001b[2J\\u00ff\\\\\\\"x\\\" HTTP/1.1\",\"status\":400,\"resumed\":false,"
      "\"chain\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
      9, 0),
};

static void test_valid_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_rows); i++) {
        const struct valid_row *r = &valid_rows[i];
        struct gh_audit_json_error err = {0};
        row_line = r->line;
        char *copy = dup_exact(r->s, r->len);
        int rc = gh_audit_json_parse(copy, r->len, &obj, &err);
        CHECK(rc == 0, "rc %d: %s at %zu", rc, err.msg ? err.msg : "", err.offset);
        if (rc == 0) {
            CHECK(obj.n_fields == r->n_fields, "%zu fields", obj.n_fields);
            CHECK(obj.whitespace == r->whitespace, "whitespace %zu", obj.whitespace);
            /* zero-copy: every span lies in the line, in order, keys before values */
            const char *prev_end = copy;
            for (size_t k = 0; k < obj.n_fields; k++) {
                const struct gh_audit_json_field *f = &obj.fields[k];
                CHECK(f->key.p > prev_end && f->key.p + f->key.len < f->value.p &&
                          f->value.p + f->value.len <= copy + r->len,
                      "field %zu spans", k);
                CHECK(f->key.p[-1] == '"' && f->key.p[f->key.len] == '"', "key quotes");
                if (f->type == GH_AUDIT_JSON_STRING)
                    CHECK(f->value.p[-1] == '"' && f->value.p[f->value.len] == '"', "value quotes");
                prev_end = f->value.p + f->value.len;
            }
        }
        free(copy);
        check_contract(r->s, r->len);
    }
    END_CHECKS();
}

/* ---- invalid lines --------------------------------------------------------- */

struct invalid_row {
    int line;
    const char *s;
    size_t len;
    long offset;     /* -1: incomplete (offset == len) */
    const char *msg; /* a substring of the message, or NULL */
};

#define X(str, off, m) {__LINE__, str, sizeof(str) - 1, off, m}
#define INC(str) {__LINE__, str, sizeof(str) - 1, -1, "ends inside"}

static const struct invalid_row invalid_rows[] = {
    /* not exactly one object */
    INC(""),
    X(" {}", 0, "expected '{'"),
    X("\n{}", 0, "expected '{'"),
    X("\xef\xbb\xbf{}", 0, "expected '{'"), /* a BOM */
    X("{} ", 2, "bytes after"),
    X("{}\n", 2, "bytes after"),
    X("{}{}", 2, "bytes after"),
    X("{\"a\":1}x", 7, "bytes after"),
    X("{\"a\":1}\0", 7, "bytes after"),
    X("[]", 0, "expected '{'"),
    X("\"a\"", 0, "expected '{'"),
    X("1", 0, "expected '{'"),
    X("null", 0, "expected '{'"),
    X("}", 0, "expected '{'"),
    /* object syntax */
    X("{,}", 1, "expected a key"),
    X("{\"a\"}", 4, "expected ':'"),
    X("{\"a\" 1}", 5, "expected ':'"),
    X("{\"a\"::1}", 5, "expected a value"),
    X("{\"a\":}", 5, "expected a value"),
    X("{\"a\":1,}", 7, "comma before"),
    X("{\"a\":1,,\"b\":2}", 7, "expected a key"),
    X("{\"a\":1 \"b\":2}", 7, "expected ','"),
    X("{\"a\":1;\"b\":2}", 6, "expected ','"),
    X("{a:1}", 1, "expected a key"),
    X("{'a':1}", 1, "expected a key"),
    X("{1:1}", 1, "expected a key"),
    X("{null:1}", 1, "expected a key"),
    X("{\"a\":'x'}", 5, "expected a value"),
    X("{\"a\":x}", 5, "expected a value"),
    X("{\x01}", 1, "expected a key"),
    X("{\"a\":1\x0b}", 6, "expected ','"),  /* VT is not JSON whitespace */
    X("{\"a\":1\x0c}", 6, "expected ','"),  /* nor FF */
    X("{\"a\":1\xc2\xa0}", 6, "expected ','"), /* nor NBSP */
    X("{\"a\":1,\"b\":2}}", 13, "bytes after"),
    /* nesting */
    X("{\"a\":{}}", 5, "nested"),
    X("{\"a\":[]}", 5, "nested"),
    X("{\"a\":[1,2]}", 5, "nested"),
    X("{\"a\":{\"b\":1}}", 5, "nested"),
    /* duplicate keys, found at the second key's closing quote */
    X("{\"a\":1,\"a\":2}", 9, "duplicate"),
    X("{\"a\":1,\"b\":2,\"a\":3}", 15, "duplicate"),
    X("{\"a\":1,\"\\u0061\":2}", 14, "duplicate"),
    X("{\"\\u0061\":1,\"a\":2}", 14, "duplicate"),
    X("{\"\\u0061\":1,\"\\u0061\":2}", 19, "duplicate"),
    X("{\"\xc3\xa9\":1,\"\\u00e9\":2}", 15, "duplicate"),
    X("{\"\\/\":1,\"/\":2}", 10, "duplicate"),
    X("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 23, "duplicate"),
    X("{\"\":1,\"\":2}", 7, "duplicate"),
    X("{\"chain\":\"a\",\"chain\":\"b\"}", 19, "duplicate"),
    /* raw control characters and bad escapes in strings */
    X("{\"a\":\"\t\"}", 6, "control"),
    X("{\"a\":\"\n\"}", 6, "control"),
    X("{\"a\":\"\r\"}", 6, "control"),
    X("{\"a\":\"\x1b[2J\"}", 6, "control"),
    X("{\"a\\n\x01\":1}", 5, "control"),
    X("{\"a\":\"\\a\"}", 7, "invalid escape"),
    X("{\"a\":\"\\x41\"}", 7, "invalid escape"),
    X("{\"a\":\"\\U0041\"}", 7, "invalid escape"),
    X("{\"a\":\"\\'\"}", 7, "invalid escape"),
    X("{\"a\":\"\\0\"}", 7, "invalid escape"),
    X("{\"a\":\"\\ \"}", 7, "invalid escape"),
    X("{\"a\":\"\\\xc3\xa9\"}", 7, "invalid escape"),
    X("{\"a\":\"\\u00g0\"}", 10, "hex digit"),
    X("{\"a\":\"\\u12\"}", 10, "hex digit"),
    X("{\"a\":\"\\u\"}", 8, "hex digit"),
    X("{\"a\":\"\\u-123\"}", 8, "hex digit"),
    X("{\"a\":\"\\u 123\"}", 8, "hex digit"),
    /* surrogates in escapes */
    X("{\"a\":\"\\uD800\"}", 12, "low surrogate"),
    X("{\"a\":\"\\uD800x\"}", 12, "low surrogate"),
    X("{\"a\":\"\\uDBFF\\n\"}", 13, "low surrogate"),
    X("{\"a\":\"\\uD800\\u0041\"}", 14, "low surrogate"),
    X("{\"a\":\"\\uD800\\uE000\"}", 14, "low surrogate"),
    X("{\"a\":\"\\uD800\\uD800\"}", 15, "low surrogate"),
    X("{\"a\":\"\\uD800\\uDBFF\"}", 15, "low surrogate"),
    X("{\"a\":\"\\uDC00\"}", 9, "without a high"),
    X("{\"a\":\"\\udfff\"}", 9, "without a high"),
    X("{\"a\":\"x\\uDE00\\uD83D\"}", 10, "without a high"), /* reversed pair */
    /* UTF-8 */
    X("{\"a\":\"\x80\"}", 6, "continuation byte without"),
    X("{\"a\":\"\xbf\"}", 6, "continuation byte without"),
    X("{\"a\":\"\xc0\x80\"}", 6, "overlong"),          /* overlong NUL */
    X("{\"a\":\"\xc1\xbf\"}", 6, "overlong"),
    X("{\"a\":\"\xe0\x80\x80\"}", 7, "overlong"),
    X("{\"a\":\"\xe0\x9f\xbf\"}", 7, "overlong"),
    X("{\"a\":\"\xf0\x80\x80\x80\"}", 7, "overlong"),
    X("{\"a\":\"\xf0\x8f\xbf\xbf\"}", 7, "overlong"),
    X("{\"a\":\"\xed\xa0\x80\"}", 7, "surrogate"),     /* U+D800 in UTF-8 */
    X("{\"a\":\"\xed\xbf\xbf\"}", 7, "surrogate"),     /* U+DFFF */
    X("{\"a\":\"\xed\xa0\xbd\xed\xb8\x80\"}", 7, "surrogate"), /* CESU-8 pair */
    X("{\"a\":\"\xf4\x90\x80\x80\"}", 7, "U+10FFFF"),
    X("{\"a\":\"\xf5\x80\x80\x80\"}", 6, "not a lead"),
    X("{\"a\":\"\xf8\x88\x80\x80\x80\"}", 6, "not a lead"),
    X("{\"a\":\"\xfe\"}", 6, "not a lead"),
    X("{\"a\":\"\xff\"}", 6, "not a lead"),
    X("{\"a\":\"\xc2\x41\"}", 7, "continuation"),
    X("{\"a\":\"\xc2\"}", 7, "continuation"),
    X("{\"a\":\"\xe2\x82\x41\"}", 8, "continuation"),
    X("{\"a\":\"\xe2\x82\"}", 8, "continuation"),
    X("{\"a\":\"\xf0\x9f\x98\xc3\xa9\"}", 9, "continuation"),
    X("{\"a\":\"\xc2\xc2\x80\"}", 7, "continuation"),
    X("{\xc3\xa9:1}", 1, "expected a key"),
    X("{\"a\":\xc3\xa9}", 5, "expected a value"),
    /* numbers */
    X("{\"n\":01}", 6, "leading zero"),
    X("{\"n\":-01}", 7, "leading zero"),
    X("{\"n\":00}", 6, "leading zero"),
    X("{\"n\":+1}", 5, "expected a value"),
    X("{\"n\":.5}", 5, "expected a value"),
    X("{\"n\":-}", 6, "expected a digit"),
    X("{\"n\":--1}", 6, "expected a digit"),
    X("{\"n\":-a}", 6, "expected a digit"),
    X("{\"n\":1.}", 7, "after the decimal point"),
    X("{\"n\":1.e5}", 7, "after the decimal point"),
    X("{\"n\":1e}", 7, "exponent"),
    X("{\"n\":1e+}", 8, "exponent"),
    X("{\"n\":1e-}", 8, "exponent"),
    X("{\"n\":1E+-1}", 8, "exponent"),
    X("{\"n\":1.5.5}", 8, "expected ','"),
    X("{\"n\":1e5e5}", 8, "expected ','"),
    X("{\"n\":0x10}", 6, "expected ','"),
    X("{\"n\":1 2}", 7, "expected ','"),
    X("{\"n\":1_000}", 6, "expected ','"),
    X("{\"n\":NaN}", 5, "expected a value"),
    X("{\"n\":Infinity}", 5, "expected a value"),
    X("{\"n\":-Infinity}", 6, "expected a digit"),
    /* literals */
    X("{\"a\":tru}", 8, "literal"),
    X("{\"a\":True}", 5, "expected a value"),
    X("{\"a\":nul}", 8, "literal"),
    X("{\"a\":nulll}", 9, "expected ','"),
    X("{\"a\":falsey}", 10, "expected ','"),
    X("{\"a\":fals}", 9, "literal"),
    X("{\"a\":tRue}", 6, "literal"),
    /* the input ends early: incomplete, at every kind of place */
    INC("{"),
    INC("{ "),
    INC("{\""),
    INC("{\"a"),
    INC("{\"a\""),
    INC("{\"a\":"),
    INC("{\"a\": "),
    INC("{\"a\":\""),
    INC("{\"a\":\"x"),
    INC("{\"a\":\"\\"),
    INC("{\"a\":\"\\u"),
    INC("{\"a\":\"\\u12"),
    INC("{\"a\":\"\\uD800"),
    INC("{\"a\":\"\\uD800\\"),
    INC("{\"a\":\"\\uD800\\u"),
    INC("{\"a\":\"\\uD800\\uDC"),
    INC("{\"a\":\"\xe2\x82"),
    INC("{\"a\":\"\xf0"),
    INC("{\"a\":\"x\""),
    INC("{\"a\":-"),
    INC("{\"a\":0"),
    INC("{\"a\":12"),
    INC("{\"a\":1."),
    INC("{\"a\":1.5"),
    INC("{\"a\":1e"),
    INC("{\"a\":1e+"),
    INC("{\"a\":1e5"),
    INC("{\"a\":t"),
    INC("{\"a\":fals"),
    INC("{\"a\":null"),
    INC("{\"a\":1,"),
    INC("{\"a\":1, "),
};

static void test_invalid_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(invalid_rows); i++) {
        const struct invalid_row *r = &invalid_rows[i];
        struct gh_audit_json_error err = {0};
        row_line = r->line;
        int rc = parse_copy(r->s, r->len, &obj, &err);
        CHECK(rc == -1, "rc %d", rc);
        if (rc != -1)
            continue;
        if (r->offset < 0) {
            CHECK(err.incomplete && err.offset == r->len, "incomplete %d offset %zu (%s)",
                  err.incomplete, err.offset, err.msg);
        } else {
            CHECK(!err.incomplete && err.offset == (size_t)r->offset,
                  "incomplete %d offset %zu, want %ld (%s)", err.incomplete, err.offset,
                  r->offset, err.msg);
        }
        if (r->msg)
            CHECK(err.msg && strstr(err.msg, r->msg), "message \"%s\" lacks \"%s\"", err.msg,
                  r->msg);
        check_contract(r->s, r->len);
    }
    END_CHECKS();
}

/* Every byte after a backslash: the nine valid escape letters pass, every
 * other byte is an invalid escape at its offset. */
static void test_every_escape_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char s[] = "{\"a\":\"\\?xxxx\"}";
        struct gh_audit_json_error err = {0};
        s[7] = (char)b;
        if (b == 'u')
            memcpy(s + 8, "0041", 4);
        row_line = b;
        int rc = parse_copy(s, sizeof s - 1, &obj, &err);
        bool valid = b != 0 && strchr("\"\\/bfnrtu", b) != NULL;
        if (valid) {
            CHECK(rc == 0, "escape byte 0x%02x rejected: %s", b, err.msg);
        } else {
            CHECK(rc == -1 && err.offset == 7 && !err.incomplete, "escape byte 0x%02x: rc %d at %zu",
                  b, rc, err.offset);
        }
    }
    END_CHECKS();
}

/* Every byte value as a raw string byte: below 0x20 is an error at its
 * offset, printable ASCII and DEL are fine, '"' ends the string early (the
 * rest is then garbage), 0x80-0xFF alone is never valid UTF-8. */
static void test_every_raw_byte(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char s[] = "{\"a\":\"x?y\"}";
        struct gh_audit_json_error err = {0};
        s[7] = (char)b;
        row_line = b;
        int rc = parse_copy(s, sizeof s - 1, &obj, &err);
        if (b >= 0xc2 && b <= 0xf4) {
            /* a lead byte: 'y' is not its continuation */
            CHECK(rc == -1 && err.offset == 8 && !err.incomplete, "lead 0x%02x: rc %d at %zu", b,
                  rc, err.offset);
        } else if (b < 0x20 || b >= 0x80) {
            CHECK(rc == -1 && err.offset == 7 && !err.incomplete, "byte 0x%02x: rc %d at %zu", b,
                  rc, err.offset);
        } else if (b == '"') {
            CHECK(rc == -1 && err.offset == 8, "quote: rc %d at %zu", rc, err.offset);
        } else if (b == '\\') {
            CHECK(rc == -1 && err.offset == 8, "backslash y: rc %d at %zu", rc, err.offset);
        } else {
            CHECK(rc == 0, "byte 0x%02x rejected: %s", b, err.msg);
        }
        check_contract(s, sizeof s - 1);
    }
    END_CHECKS();
}

/* Every two-byte sequence lead+continuation and the first continuation
 * of three- and four-byte leads, against the Unicode table of well-formed
 * byte sequences (Unicode 15, table 3-7). */
static bool well_formed_first(unsigned lead, unsigned b)
{
    if (lead >= 0xc2 && lead <= 0xdf)
        return b >= 0x80 && b <= 0xbf;
    if (lead == 0xe0)
        return b >= 0xa0 && b <= 0xbf;
    if ((lead >= 0xe1 && lead <= 0xec) || lead == 0xee || lead == 0xef)
        return b >= 0x80 && b <= 0xbf;
    if (lead == 0xed)
        return b >= 0x80 && b <= 0x9f;
    if (lead == 0xf0)
        return b >= 0x90 && b <= 0xbf;
    if (lead >= 0xf1 && lead <= 0xf3)
        return b >= 0x80 && b <= 0xbf;
    if (lead == 0xf4)
        return b >= 0x80 && b <= 0x8f;
    return false;
}

static void test_utf8_table(void **state)
{
    (void)state;
    for (unsigned lead = 0x80; lead < 0x100; lead++) {
        for (unsigned b = 0; b < 0x100; b++) {
            /* lead, b, then enough continuation bytes to finish */
            char s[16] = "{\"a\":\"";
            size_t n = 6;
            struct gh_audit_json_error err = {0};
            s[n++] = (char)lead;
            s[n++] = (char)b;
            size_t more = lead >= 0xf0 ? 2 : lead >= 0xe0 ? 1 : 0;
            for (size_t k = 0; k < more; k++)
                s[n++] = (char)0x80;
            s[n++] = '"';
            s[n++] = '}';
            row_line = (int)(lead << 8 | b);
            int rc = parse_copy(s, n, &obj, &err);
            bool ok = well_formed_first(lead, b);
            if (ok)
                CHECK(rc == 0, "%02x %02x rejected at %zu: %s", lead, b, err.offset, err.msg);
            else if (lead < 0xc2 || lead > 0xf4)
                CHECK(rc == -1 && err.offset == 6, "lead %02x: rc %d at %zu", lead, rc, err.offset);
            else
                CHECK(rc == -1 && err.offset == 7, "%02x %02x: rc %d at %zu", lead, b, rc,
                      err.offset);
        }
    }
    END_CHECKS();
}

/* Every \uXXXX that is a surrogate half on its own, and every low
 * surrogate candidate after a high surrogate, at the first and last of
 * each range. */
static void test_surrogate_ranges(void **state)
{
    (void)state;
    static const unsigned cps[] = {0x0000, 0x0041, 0xd7ff, 0xd800, 0xd801, 0xdbfe, 0xdbff,
                                   0xdc00, 0xdc01, 0xdffe, 0xdfff, 0xe000, 0xffff};
    for (size_t i = 0; i < ARRAY_LEN(cps); i++) {
        char s[64];
        struct gh_audit_json_error err = {0};
        int n = snprintf(s, sizeof s, "{\"a\":\"\\u%04X\"}", cps[i]);
        row_line = (int)cps[i];
        int rc = parse_copy(s, (size_t)n, &obj, &err);
        bool ok = cps[i] < 0xd800 || cps[i] > 0xdfff;
        CHECK((rc == 0) == ok, "\\u%04X alone: rc %d (%s)", cps[i], rc, err.msg);
        check_contract(s, (size_t)n);
        for (size_t k = 0; k < ARRAY_LEN(cps); k++) {
            if (cps[i] < 0xd800 || cps[i] > 0xdbff)
                continue;
            n = snprintf(s, sizeof s, "{\"a\":\"\\u%04x\\u%04x\"}", cps[i], cps[k]);
            rc = parse_copy(s, (size_t)n, &obj, &err);
            ok = cps[k] >= 0xdc00 && cps[k] <= 0xdfff;
            CHECK((rc == 0) == ok, "\\u%04x\\u%04x: rc %d (%s)", cps[i], cps[k], rc, err.msg);
            check_contract(s, (size_t)n);
        }
    }
    END_CHECKS();
}

/* ---- truncation of real lines ------------------------------------------------ */

static const char *const entries[] = {
    "{\"v\":1,\"seq\":7,\"ts\":\"2026-11-26T14:23:44.123456Z\",\"pid\":4242,\"event\":\"request\","
    "\"conn\":3,\"listener\":\"main\",\"method\":\"GET\",\"target\":\"/a?b=\\\"c\\\"\\u0000\","
    "\"host\":\"caf\xc3\xa9.example\",\"status\":200,\"ttfb_us\":-0.5e-3,\"resumed\":true,"
    "\"x\":null,\"chain\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
    "{\"e\":\"\\ud83d\\ude00\xf0\x9f\x98\x80\\/\\b\\f\\n\\r\\t\",\"n\":0,\"m\":-10.25E+2,\"f\":false}",
    "{ \"a\" : 1 ,\t\"b\"\r\n: \"x\" }",
    "{}",
};

static void test_truncation_every_byte(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(entries); i++) {
        size_t len = strlen(entries[i]);
        struct gh_audit_json_error err = {0};
        row_line = (int)i;
        CHECK(parse_copy(entries[i], len, &obj, &err) == 0, "entry %zu invalid: %s at %zu", i,
              err.msg, err.offset);
        for (size_t k = 0; k < len; k++) {
            int rc = parse_copy(entries[i], k, &obj, &err);
            CHECK(rc == -1 && err.incomplete && err.offset == k,
                  "entry %zu cut at %zu: rc %d incomplete %d offset %zu", i, k, rc, err.incomplete,
                  err.offset);
        }
        /* and with a newline or any other byte appended, never valid */
        char *more = malloc(len + 1);
        assert_non_null(more);
        memcpy(more, entries[i], len);
        for (int b = 0; b < 256; b++) {
            more[len] = (char)b;
            int rc = gh_audit_json_parse(more, len + 1, &obj, &err);
            CHECK(rc == -1 && err.offset == len && !err.incomplete, "entry %zu + byte %02x", i, b);
        }
        free(more);
    }
    END_CHECKS();
}

/* ---- limits ------------------------------------------------------------------- */

static size_t build_fields(char *buf, size_t cap, size_t n)
{
    size_t o = 0;
    buf[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + o, cap - o, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
    buf[o++] = '}';
    return o;
}

static void test_field_limit(void **state)
{
    (void)state;
    char buf[2048];
    struct gh_audit_json_error err = {0};
    size_t len = build_fields(buf, sizeof buf, GH_AUDIT_JSON_MAX_FIELDS);
    assert_int_equal(parse_copy(buf, len, &obj, &err), 0);
    assert_int_equal(obj.n_fields, GH_AUDIT_JSON_MAX_FIELDS);
    /* spans point into the line: parse the one that stays */
    assert_int_equal(gh_audit_json_parse(buf, len, &obj, &err), 0);
    assert_true(gh_audit_json_get(&obj, "k63") == &obj.fields[63]);
    assert_true(gh_audit_json_get(&obj, "k0") == &obj.fields[0]);
    assert_null(gh_audit_json_get(&obj, "k64"));

    len = build_fields(buf, sizeof buf, GH_AUDIT_JSON_MAX_FIELDS + 1);
    assert_int_equal(parse_copy(buf, len, &obj, &err), -1);
    assert_false(err.incomplete);
    assert_non_null(strstr(err.msg, "64 fields"));
    /* found at the comma that would start field 65 */
    assert_int_equal(buf[err.offset], ',');
    assert_memory_equal(buf + err.offset, ",\"k64\":", 7);
    assert_int_equal(obj.n_fields, GH_AUDIT_JSON_MAX_FIELDS);
    check_contract(buf, len);
    END_CHECKS();
}

static void test_long_values(void **state)
{
    (void)state;
    /* a long string and a long number: no length limit but size_t */
    size_t n = 1 << 20;
    char *s = malloc(n + 16);
    if (!s)
        abort();
    memcpy(s, "{\"a\":\"", 6);
    memset(s + 6, 'x', n);
    memcpy(s + 6 + n, "\"}", 2);
    struct gh_audit_json_error err = {0};
    assert_int_equal(gh_audit_json_parse(s, n + 8, &obj, &err), 0);
    assert_int_equal(obj.fields[0].value.len, n);
    memcpy(s, "{\"a\":", 5);
    memset(s + 5, '9', n);
    s[5 + n] = '}';
    assert_int_equal(gh_audit_json_parse(s, n + 6, &obj, &err), 0);
    assert_int_equal(obj.fields[0].type, GH_AUDIT_JSON_NUMBER);
    assert_true(obj.fields[0].integer);
    int64_t v;
    assert_int_equal(gh_audit_json_int(&obj.fields[0], &v), -1); /* out of range */
    free(s);
}

/* ---- the accessors -------------------------------------------------------------- */

static void parse_ok(const char *s)
{
    struct gh_audit_json_error err = {0};
    int rc = gh_audit_json_parse(s, strlen(s), &obj, &err);
    if (rc != 0)
        fail_msg("%s: %s at %zu", s, err.msg, err.offset);
}

static void test_get(void **state)
{
    (void)state;
    parse_ok("{\"v\":1,\"\\u0065vent\":\"x\",\"caf\\u00e9\":2,\"\xf0\x9f\x98\x80\":3,\"\":4,"
             "\"a\\u0000b\":5}");
    assert_true(gh_audit_json_get(&obj, "v") == &obj.fields[0]);
    assert_true(gh_audit_json_get(&obj, "event") == &obj.fields[1]);
    assert_true(gh_audit_json_get(&obj, "caf\xc3\xa9") == &obj.fields[2]);
    assert_true(gh_audit_json_get(&obj, "\xf0\x9f\x98\x80") == &obj.fields[3]);
    assert_true(gh_audit_json_get(&obj, "") == &obj.fields[4]);
    assert_null(gh_audit_json_get(&obj, "a")); /* "a\0b" is not "a" */
    assert_null(gh_audit_json_get(&obj, "V"));
    assert_null(gh_audit_json_get(&obj, "even"));
    assert_null(gh_audit_json_get(&obj, "events"));
    assert_null(gh_audit_json_get(&obj, "\\u0065vent")); /* decoded, not raw */
    assert_true(obj.fields[1].key_escaped);
    assert_false(obj.fields[0].key_escaped);
}

static void test_types(void **state)
{
    (void)state;
    parse_ok("{\"s\":\"x\",\"n\":1,\"d\":1.5,\"e\":1e3,\"t\":true,\"f\":false,\"z\":null}");
    const enum gh_audit_json_type want[] = {GH_AUDIT_JSON_STRING, GH_AUDIT_JSON_NUMBER,
                                            GH_AUDIT_JSON_NUMBER, GH_AUDIT_JSON_NUMBER,
                                            GH_AUDIT_JSON_TRUE,   GH_AUDIT_JSON_FALSE,
                                            GH_AUDIT_JSON_NULL};
    const char *const tok[] = {"x", "1", "1.5", "1e3", "true", "false", "null"};
    const char *const names[] = {"string", "number", "number", "number", "true", "false", "null"};
    assert_int_equal(obj.n_fields, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(obj.fields[i].type, want[i]);
        assert_int_equal(obj.fields[i].value.len, strlen(tok[i]));
        assert_memory_equal(obj.fields[i].value.p, tok[i], strlen(tok[i]));
        assert_string_equal(gh_audit_json_type_name(obj.fields[i].type), names[i]);
    }
    assert_true(obj.fields[1].integer);
    assert_false(obj.fields[2].integer);
    assert_false(obj.fields[3].integer);
}

static void test_int_values(void **state)
{
    (void)state;
    int64_t v = 42;
    parse_ok("{\"a\":9223372036854775807,\"b\":-9223372036854775808,\"c\":9223372036854775808,"
             "\"d\":-9223372036854775809,\"e\":-0,\"f\":0,\"g\":1.0,\"h\":1e2,\"i\":\"1\",\"j\":true,"
             "\"k\":18446744073709551616,\"l\":123}");
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "a"), &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "b"), &v), 0);
    assert_true(v == INT64_MIN);
    v = 42;
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "c"), &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "d"), &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "k"), &v), -1);
    assert_true(v == 42); /* untouched on failure */
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "e"), &v), 0);
    assert_true(v == 0);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "f"), &v), 0);
    assert_true(v == 0);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "g"), &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "h"), &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "i"), &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "j"), &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "missing"), &v), -1);
    assert_int_equal(gh_audit_json_int(NULL, &v), -1);
    assert_int_equal(gh_audit_json_int(gh_audit_json_get(&obj, "l"), &v), 0);
    assert_true(v == 123);
}

static void test_string_decode(void **state)
{
    (void)state;
    char buf[64];
    size_t len = 99;
    parse_ok("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"b\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\","
             "\"c\":\"x\\u0000y\",\"d\":\"caf\xc3\xa9\",\"e\":\"\",\"n\":5,"
             "\"f\":\"\\udbff\\udfff\\u0800\\u07ff\\u0080\\u007f\"}");
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "a"), buf, sizeof buf, &len), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(buf, "\"\\/\b\f\n\r\t", 9);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "b"), buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_int_equal(len, 10);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "c"), buf, sizeof buf, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "x\0y\0", 4);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "d"), buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "caf\xc3\xa9");
    assert_false(gh_audit_json_get(&obj, "d")->value_escaped);
    assert_true(gh_audit_json_get(&obj, "c")->value_escaped);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "e"), buf, sizeof buf, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "f"), buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "\xf4\x8f\xbf\xbf\xe0\xa0\x80\xdf\xbf\xc2\x80\x7f");
    /* not a string, missing */
    buf[0] = 'z';
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "n"), buf, sizeof buf, &len), -1);
    assert_string_equal(buf, "");
    assert_int_equal(gh_audit_json_string(NULL, buf, sizeof buf, NULL), -1);
    /* too small: -1, the needed length, a terminated prefix of whole characters */
    memset(buf, 'z', sizeof buf);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "b"), buf, 5, &len), -1);
    assert_int_equal(len, 10);
    assert_string_equal(buf, "A\xc3\xa9"); /* the euro sign (3 bytes) does not fit in 5 with NUL */
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "b"), buf, 10, &len), -1);
    assert_int_equal(len, 10);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "b"), buf, 11, &len), 0);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "b"), buf, 0, &len), -1);
    assert_int_equal(len, 10);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "e"), buf, 1, &len), 0);
    assert_int_equal(gh_audit_json_string(gh_audit_json_get(&obj, "e"), buf, 0, &len), -1);
}

static void test_key_decode_and_string_is(void **state)
{
    (void)state;
    char buf[16];
    size_t len = 0;
    parse_ok("{\"\\u0065v\\u00e9\":\"st\\u0061rt\",\"n\":1,\"z\":\"a\\u0000\"}");
    assert_int_equal(gh_audit_json_key(&obj.fields[0], buf, sizeof buf, &len), 0);
    assert_string_equal(buf, "ev\xc3\xa9");
    assert_int_equal(len, 4);
    assert_int_equal(gh_audit_json_key(NULL, buf, sizeof buf, &len), -1);
    assert_true(gh_audit_json_string_is(&obj.fields[0], "start"));
    assert_false(gh_audit_json_string_is(&obj.fields[0], "star"));
    assert_false(gh_audit_json_string_is(&obj.fields[0], "starts"));
    assert_false(gh_audit_json_string_is(&obj.fields[0], "st\\u0061rt"));
    assert_false(gh_audit_json_string_is(&obj.fields[1], "1"));
    assert_false(gh_audit_json_string_is(NULL, "x"));
    assert_false(gh_audit_json_string_is(&obj.fields[2], "a"));
}

static void test_error_reporting(void **state)
{
    (void)state;
    /* err may be NULL; obj holds the fields before the error */
    const char *s = "{\"a\":1,\"b\":\"x\",\"c\":01}";
    assert_int_equal(gh_audit_json_parse(s, strlen(s), &obj, NULL), -1);
    assert_int_equal(obj.n_fields, 2);
    struct gh_audit_json_error err = {.offset = 77, .msg = "stale", .incomplete = true};
    assert_int_equal(gh_audit_json_parse(s, strlen(s), &obj, &err), -1);
    assert_int_equal(err.offset, 20);
    assert_false(err.incomplete);
    /* a success leaves no stale error behind */
    err.msg = "stale";
    assert_int_equal(gh_audit_json_parse("{}", 2, &obj, &err), 0);
    assert_null(err.msg);
    assert_int_equal(obj.n_fields, 0);
    /* length, not NUL, ends the input */
    assert_int_equal(gh_audit_json_parse("{}garbage", 2, &obj, &err), 0);
    assert_int_equal(gh_audit_json_parse("{\"a\":\"\0\"}", 9, &obj, &err), -1);
    assert_int_equal(err.offset, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_rows),
        cmocka_unit_test(test_invalid_rows),
        cmocka_unit_test(test_every_escape_byte),
        cmocka_unit_test(test_every_raw_byte),
        cmocka_unit_test(test_utf8_table),
        cmocka_unit_test(test_surrogate_ranges),
        cmocka_unit_test(test_truncation_every_byte),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_int_values),
        cmocka_unit_test(test_string_decode),
        cmocka_unit_test(test_key_decode_and_string_is),
        cmocka_unit_test(test_error_reporting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
