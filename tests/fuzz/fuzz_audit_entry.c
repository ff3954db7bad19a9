/* fuzz_audit_entry.c - libFuzzer target for the audit entry formatter
 * (src/audit_format.c), checked by the strict line parser (src/audit_json.c).
 *
 * The input is split into up to four client-controlled values (at 0xFE
 * bytes) and a max_field taken from the first byte. Each value goes into
 * an entry as gh_audit_client would log a target, Host, SNI or excerpt;
 * the entry is wrapped as the writer wraps it ({"v":1,"seq":1, ...,
 * "chain":"..."}) and must then:
 *  - parse as exactly one flat JSON object, with no raw newline in it;
 *  - hold every field once, in order, the values decoding to the input
 *    bytes (valid UTF-8 as itself, every other byte as U+00XX) cut at
 *    max_field and never inside a character;
 *  - carry NAME_truncated (the original length) exactly when a value was cut.
 * A too-small buffer must mark the entry overflowed, never write past it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/audit_format.h"
#include "gatehouse/audit_json.h"

#include "fuzz_common.h"

#define MAX_VALUES 4
#define LINE_CAP (GH_AUDIT_ENTRY_MAX + 256)

static const char *const keys[MAX_VALUES] = {"target", "host", "sni", "excerpt"};

/* What the decoded value must be: each input byte that starts a valid
 * UTF-8 character stays, any other byte b becomes U+00XX (two bytes in
 * UTF-8 when b >= 0x80). Returns the expected length written to out. */
static size_t expected_decoding(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint8_t b = in[i];
        size_t need = b < 0x80 ? 1 : (b >= 0xc2 && b <= 0xdf) ? 2 : (b >= 0xe0 && b <= 0xef) ? 3
                                   : (b >= 0xf0 && b <= 0xf4) ? 4 : 0;
        int ok = need > 0 && i + need <= n;
        uint32_t cp = need == 1 ? b : need == 2 ? (b & 0x1fu) : need == 3 ? (b & 0x0fu) : (b & 0x07u);
        for (size_t k = 1; ok && k < need; k++) {
            if ((in[i + k] & 0xc0) != 0x80)
                ok = 0;
            else
                cp = (cp << 6) | (in[i + k] & 0x3fu);
        }
        if (ok && ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
                   (cp >= 0xd800 && cp <= 0xdfff)))
            ok = 0;
        if (ok) {
            memcpy(out + o, in + i, need);
            o += need;
            i += need;
        } else if (b < 0x80) {
            out[o++] = (char)b;
            i++;
        } else {
            out[o++] = (char)(0xc0 | (b >> 6));
            out[o++] = (char)(0x80 | (b & 0x3f));
            i++;
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char body[GH_AUDIT_ENTRY_MAX];
    static char line[LINE_CAP];
    static char decoded[GH_AUDIT_ENTRY_MAX];
    static char want[GH_AUDIT_ENTRY_MAX * 2];
    const uint8_t *val[MAX_VALUES];
    size_t val_len[MAX_VALUES];
    size_t n_values = 0;
    struct gh_audit_entry e;
    struct gh_audit_json_obj obj;
    struct gh_audit_json_error err;
    struct timespec ts = {1764160000, 123456789};
    uint32_t max_field;

    if (size < 1)
        return 0;
    max_field = 16u + data[0] * 4u;
    data++;
    size--;
    while (n_values < MAX_VALUES) {
        const uint8_t *sep = n_values + 1 < MAX_VALUES ? memchr(data, 0xfe, size) : NULL;
        size_t n = sep ? (size_t)(sep - data) : size;
        val[n_values] = data;
        val_len[n_values++] = n;
        if (!sep)
            break;
        data += n + 1;
        size -= n + 1;
    }

    gh_audit_entry_start(&e, body, sizeof body, max_field, &ts, 4242, "request");
    for (size_t i = 0; i < n_values; i++)
        gh_audit_client(&e, keys[i], val[i], val_len[i]);
    size_t blen = gh_audit_entry_len(&e);
    REQUIRE(!e.overflow && blen > 0); /* max_field <= 1036, 4 values: always fits */
    REQUIRE(memchr(body, '\n', blen) == NULL);

    int n = snprintf(line, sizeof line, "{\"v\":1,\"seq\":1,%.*s,\"chain\":\"%064d\"}", (int)blen,
                     body, 0);
    REQUIRE(n > 0 && (size_t)n < sizeof line);
    if (gh_audit_json_parse(line, (size_t)n, &obj, &err) != 0) {
        fprintf(stderr, "not one JSON object: %s at %zu\n%.*s\n", err.msg, err.offset, n, line);
        abort();
    }
    REQUIRE(gh_audit_json_get(&obj, "event") != NULL);
    REQUIRE(gh_audit_json_get(&obj, "chain") == &obj.fields[obj.n_fields - 1]);

    for (size_t i = 0; i < n_values; i++) {
        const struct gh_audit_json_field *f = gh_audit_json_get(&obj, keys[i]);
        char tkey[64];
        size_t dlen, wlen, taken;
        REQUIRE(f != NULL && f->type == GH_AUDIT_JSON_STRING);
        REQUIRE(gh_audit_json_string(f, decoded, sizeof decoded, &dlen) == 0);
        /* the escaper's cut: at most max_field input bytes, on a character
         * boundary; what it took must decode exactly */
        char scratch[GH_AUDIT_ENTRY_MAX];
        REQUIRE(gh_audit_escape(scratch, sizeof scratch, val[i], val_len[i], max_field, &taken) !=
                (size_t)-1);
        REQUIRE(taken <= max_field && taken <= val_len[i]);
        REQUIRE(taken == val_len[i] || taken + 4 > max_field);
        wlen = expected_decoding(val[i], taken, want);
        REQUIRE(dlen == wlen && memcmp(decoded, want, wlen) == 0);
        snprintf(tkey, sizeof tkey, "%s_truncated", keys[i]);
        const struct gh_audit_json_field *t = gh_audit_json_get(&obj, tkey);
        if (taken < val_len[i]) {
            int64_t orig;
            REQUIRE(t != NULL && gh_audit_json_int(t, &orig) == 0 && (size_t)orig == val_len[i]);
        } else {
            REQUIRE(t == NULL);
        }
    }

    /* a buffer too small for the entry: overflow is flagged, nothing past it */
    {
        char small[96 + 8];
        memset(small, 0x5a, sizeof small);
        gh_audit_entry_start(&e, small, 96, max_field, &ts, 4242, "request");
        for (size_t i = 0; i < n_values; i++)
            gh_audit_client(&e, keys[i], val[i], val_len[i]);
        for (size_t i = 96; i < sizeof small; i++)
            REQUIRE(small[i] == 0x5a);
        REQUIRE(gh_audit_entry_len(&e) <= 96);
    }
    return 0;
}
