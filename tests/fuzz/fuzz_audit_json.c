/* fuzz_audit_json.c - libFuzzer target for the audit line parser
 * (src/audit_json.c).
 *
 * The input is one candidate line (without its newline). It aborts when a
 * result breaks the contract of include/gatehouse/audit_json.h:
 *  - on success: the line is '{' ... '}'; at most GH_AUDIT_JSON_MAX_FIELDS
 *    fields whose spans lie inside the line, in order; every value's type
 *    agrees with its token (numbers checked against the RFC 8259 grammar by
 *    an independent matcher, integer set exactly when there is no fraction
 *    or exponent); every decoded key and string is valid UTF-8 (checked
 *    independently: no overlong forms, no surrogates, nothing past
 *    U+10FFFF) and no longer than its escaped form; decoded keys are
 *    unique and gh_audit_json_get finds each field by its key;
 *    gh_audit_json_string_is agrees with the decoding; re-serializing the
 *    fields canonically gives a line that parses to the same fields with no
 *    whitespace; and every proper prefix of the line is incomplete (what a
 *    writer that stopped mid-line leaves);
 *  - on error: a message; incomplete exactly when the offset is the end of
 *    the input; otherwise the error is at the first bad byte: the prefix
 *    before it parses or is incomplete, the prefix through it fails at the
 *    same offset with the same message; an incomplete input never fails
 *    before its end whatever is appended.
 * Prefixes are parsed from heap copies of exactly their length, so reads
 * past them show up under AddressSanitizer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/audit_json.h"

#include "fuzz_common.h"

#define PREFIX_ALL_MAX 512 /* longer valid inputs: every 7th prefix and the last 16 */

static struct gh_audit_json_obj obj, obj2;

static int parse_exact(const uint8_t *data, size_t len, struct gh_audit_json_obj *o,
                       struct gh_audit_json_error *err)
{
    uint8_t *copy = dup_exact(data, len);
    int rc = gh_audit_json_parse((const char *)copy, len, o, err);
    free(copy);
    return rc;
}

/* RFC 8259 number, independently. */
static bool is_number(const char *s, size_t n, bool *integer)
{
    size_t i = 0;
    *integer = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        *integer = false;
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *integer = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

/* Well-formed UTF-8 (Unicode table 3-7), independently. */
static bool is_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        uint32_t cp;
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* The inside of a JSON string for s[0, n): '"' '\' and controls escaped. */
static size_t put_json_string(char *out, const char *s, size_t n)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    return o;
}

struct decoded {
    char *key;
    size_t key_len;
    char *val; /* strings only */
    size_t val_len;
};

static void check_ok(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    static struct decoded dec[GH_AUDIT_JSON_MAX_FIELDS];
    char *store = malloc(2 * size + 2 * GH_AUDIT_JSON_MAX_FIELDS + 2);
    REQUIRE(store != NULL);
    size_t used = 0;

    REQUIRE(size >= 2 && line[0] == '{' && line[size - 1] == '}');
    REQUIRE(obj.n_fields <= GH_AUDIT_JSON_MAX_FIELDS);
    REQUIRE(obj.whitespace <= size - 2);
    const char *after = line;
    for (size_t i = 0; i < obj.n_fields; i++) {
        const struct gh_audit_json_field *f = &obj.fields[i];
        REQUIRE(f->key.p > after && f->key.p[-1] == '"');
        REQUIRE(f->key.p + f->key.len < line + size && f->key.p[f->key.len] == '"');
        REQUIRE(f->value.p > f->key.p + f->key.len);
        REQUIRE(f->value.p + f->value.len < line + size);
        REQUIRE(f->key_escaped == (memchr(f->key.p, '\\', f->key.len) != NULL));
        after = f->value.p + f->value.len;
        bool integer = false;
        switch (f->type) {
        case GH_AUDIT_JSON_STRING:
            REQUIRE(f->value.p[-1] == '"' && f->value.p[f->value.len] == '"');
            REQUIRE(f->value_escaped == (memchr(f->value.p, '\\', f->value.len) != NULL));
            break;
        case GH_AUDIT_JSON_NUMBER:
            REQUIRE(is_number(f->value.p, f->value.len, &integer));
            REQUIRE(integer == f->integer);
            if (!integer) {
                int64_t v;
                REQUIRE(gh_audit_json_int(f, &v) == -1);
            }
            break;
        case GH_AUDIT_JSON_TRUE:
            REQUIRE(f->value.len == 4 && memcmp(f->value.p, "true", 4) == 0);
            break;
        case GH_AUDIT_JSON_FALSE:
            REQUIRE(f->value.len == 5 && memcmp(f->value.p, "false", 5) == 0);
            break;
        case GH_AUDIT_JSON_NULL:
            REQUIRE(f->value.len == 4 && memcmp(f->value.p, "null", 4) == 0);
            break;
        default:
            REQUIRE(0);
        }
        if (f->type != GH_AUDIT_JSON_STRING) {
            char b[4];
            size_t l = 7;
            REQUIRE(gh_audit_json_string(f, b, sizeof b, &l) == -1 && l == 0 && b[0] == '\0');
        }

        /* decode into the store: no longer than the escaped text, UTF-8 */
        struct decoded *d = &dec[i];
        d->key = store + used;
        REQUIRE(gh_audit_json_key(f, d->key, f->key.len + 1, &d->key_len) == 0);
        REQUIRE(d->key_len <= f->key.len && d->key[d->key_len] == '\0');
        REQUIRE(is_utf8((const unsigned char *)d->key, d->key_len));
        used += d->key_len + 1;
        d->val = NULL;
        d->val_len = 0;
        if (f->type == GH_AUDIT_JSON_STRING) {
            d->val = store + used;
            REQUIRE(gh_audit_json_string(f, d->val, f->value.len + 1, &d->val_len) == 0);
            REQUIRE(d->val_len <= f->value.len && d->val[d->val_len] == '\0');
            REQUIRE(is_utf8((const unsigned char *)d->val, d->val_len));
            if (!f->value_escaped)
                REQUIRE(d->val_len == f->value.len && memcmp(d->val, f->value.p, f->value.len) == 0);
            if (memchr(d->val, '\0', d->val_len) == NULL)
                REQUIRE(gh_audit_json_string_is(f, d->val));
            /* a buffer one byte short fails and says how much is needed */
            if (d->val_len > 0) {
                size_t need = 0;
                char *tmp = malloc(d->val_len);
                REQUIRE(tmp != NULL);
                REQUIRE(gh_audit_json_string(f, tmp, d->val_len, &need) == -1);
                REQUIRE(need == d->val_len && strlen(tmp) < d->val_len);
                REQUIRE(memcmp(tmp, d->val, strlen(tmp)) == 0);
                free(tmp);
            }
            used += d->val_len + 1;
        }
    }
    REQUIRE(after < line + size);

    /* unique keys; get finds each */
    for (size_t i = 0; i < obj.n_fields; i++) {
        for (size_t k = 0; k < i; k++)
            REQUIRE(dec[i].key_len != dec[k].key_len ||
                    memcmp(dec[i].key, dec[k].key, dec[i].key_len) != 0);
        if (memchr(dec[i].key, '\0', dec[i].key_len) == NULL)
            REQUIRE(gh_audit_json_get(&obj, dec[i].key) == &obj.fields[i]);
    }

    /* canonical re-serialization parses to the same fields */
    char *canon = malloc(6 * size + 16);
    REQUIRE(canon != NULL);
    size_t o = 0;
    canon[o++] = '{';
    for (size_t i = 0; i < obj.n_fields; i++) {
        const struct gh_audit_json_field *f = &obj.fields[i];
        if (i)
            canon[o++] = ',';
        o += put_json_string(canon + o, dec[i].key, dec[i].key_len);
        canon[o++] = ':';
        if (f->type == GH_AUDIT_JSON_STRING) {
            o += put_json_string(canon + o, dec[i].val, dec[i].val_len);
        } else {
            memcpy(canon + o, f->value.p, f->value.len);
            o += f->value.len;
        }
    }
    canon[o++] = '}';
    REQUIRE(o <= 6 * size + 16);
    struct gh_audit_json_error err2;
    char *exact = malloc(o); /* obj2 points into it until the end of the check */
    REQUIRE(exact != NULL);
    memcpy(exact, canon, o);
    REQUIRE(gh_audit_json_parse(exact, o, &obj2, &err2) == 0);
    REQUIRE(obj2.n_fields == obj.n_fields && obj2.whitespace == 0);
    for (size_t i = 0; i < obj.n_fields; i++) {
        REQUIRE(obj2.fields[i].type == obj.fields[i].type);
        char *b = malloc(obj2.fields[i].key.len + obj2.fields[i].value.len + 2);
        size_t l = 0;
        REQUIRE(b != NULL);
        REQUIRE(gh_audit_json_key(&obj2.fields[i], b, obj2.fields[i].key.len + 1, &l) == 0);
        REQUIRE(l == dec[i].key_len && memcmp(b, dec[i].key, l) == 0);
        if (obj.fields[i].type == GH_AUDIT_JSON_STRING) {
            REQUIRE(gh_audit_json_string(&obj2.fields[i], b, obj2.fields[i].value.len + 1, &l) == 0);
            REQUIRE(l == dec[i].val_len && memcmp(b, dec[i].val, l) == 0);
        } else {
            REQUIRE(obj2.fields[i].value.len == obj.fields[i].value.len &&
                    memcmp(obj2.fields[i].value.p, obj.fields[i].value.p,
                           obj.fields[i].value.len) == 0);
        }
        free(b);
    }
    free(exact);
    free(canon);
    free(store);

    /* every proper prefix is incomplete */
    for (size_t k = 0; k < size; k++) {
        if (size > PREFIX_ALL_MAX && k % 7 != 0 && k + 16 < size)
            continue;
        struct gh_audit_json_error e;
        REQUIRE(parse_exact(data, k, &obj2, &e) == -1);
        REQUIRE(e.incomplete && e.offset == k);
    }
}

static void check_error(const uint8_t *data, size_t size, const struct gh_audit_json_error *err)
{
    struct gh_audit_json_error e2;
    REQUIRE(err->msg != NULL && err->msg[0] != '\0');
    if (err->incomplete) {
        REQUIRE(err->offset == size);
        /* whatever follows, the bytes so far stay a valid prefix */
        static const char *const tails[] = {"}", "\"}", "0}", "\":0}", "\"\"}", "u0000\"}", "\x80\"}"};
        uint8_t *more = malloc(size + 8);
        REQUIRE(more != NULL);
        memcpy(more, data, size);
        for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
            size_t n = strlen(tails[i]);
            memcpy(more + size, tails[i], n);
            if (parse_exact(more, size + n, &obj2, &e2) != 0)
                REQUIRE(e2.offset >= size);
        }
        free(more);
        return;
    }
    REQUIRE(err->offset < size);
    int rc = parse_exact(data, err->offset, &obj2, &e2);
    REQUIRE(rc == 0 || e2.incomplete);
    rc = parse_exact(data, err->offset + 1, &obj2, &e2);
    REQUIRE(rc == -1 && !e2.incomplete && e2.offset == err->offset && e2.msg == err->msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_audit_json_error err = {.offset = 12345, .msg = "stale", .incomplete = true};
    int rc = gh_audit_json_parse((const char *)data, size, &obj, &err);
    if (rc == 0) {
        REQUIRE(err.msg == NULL);
        check_ok(data, size);
    } else {
        REQUIRE(rc == -1);
        REQUIRE(obj.n_fields <= GH_AUDIT_JSON_MAX_FIELDS);
        check_error(data, size, &err);
    }
    return 0;
}
