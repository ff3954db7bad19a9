/* fuzz_cert_info.c - libFuzzer target for the certificate facts module
 * (src/cert_info.c, with wolfCrypt's DecodedCert).
 *
 * The input is one DER certificate (the corpus holds real ones). It goes
 * to gh_cert_info_parse in a heap buffer of exactly its length, and the
 * target aborts when:
 *  - a refusal (-1) has no reason, or leaves anything in the struct;
 *  - a result has a string that is not NUL-terminated in its array, counts
 *    past their arrays, a fingerprint that is not 64 lowercase hex digits,
 *    a serial that is not an even number of lowercase hex digits, a key
 *    type whose bits disagree with it, a version other than 1..3;
 *  - the subject or issuer is not valid UTF-8, holds a raw control byte,
 *    ends inside an escape, or is longer than GH_CERT_INFO_NAME_MAX; the
 *    CN holds a control byte; a SAN entry is empty or holds a byte outside
 *    0x21-0x7e;
 *  - a kept SAN DNS name without '*' does not cover itself (in any case),
 *    or the CN is consulted while there are DNS SANs; a kept name, URI, CN
 *    or the fingerprint does not pass the allow-list naming it; an
 *    allow-list of only empty entries passes;
 *  - parsing the same bytes twice gives different results;
 *  - the header forms do not fit their bounds, hold a byte outside
 *    0x20-0x7e, or (subject) do not decode to what the subject decodes to
 *    (every "\XX" over 0x7e as its byte); the URI list does not name
 *    every URI. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gatehouse/cert_info.h"

#include "fuzz_common.h"

static struct gh_cert_info ci;
static struct gh_cert_info again;

static bool terminated(const char *s, size_t size)
{
    return memchr(s, 0, size) != NULL;
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Field by field (the struct has padding, so no memcmp). */
static bool info_equal(const struct gh_cert_info *a, const struct gh_cert_info *b)
{
    bool eq = strcmp(a->subject, b->subject) == 0 && strcmp(a->issuer, b->issuer) == 0 &&
              a->subject_truncated == b->subject_truncated &&
              a->issuer_truncated == b->issuer_truncated && strcmp(a->cn, b->cn) == 0 &&
              a->has_cn == b->has_cn && a->cn_dropped == b->cn_dropped &&
              strcmp(a->serial_hex, b->serial_hex) == 0 &&
              strcmp(a->sha256_hex, b->sha256_hex) == 0 && a->n_dns == b->n_dns &&
              a->dns_dropped == b->dns_dropped && a->n_uri == b->n_uri &&
              a->uri_dropped == b->uri_dropped && a->key_type == b->key_type &&
              a->key_bits == b->key_bits && a->not_before == b->not_before &&
              a->not_after == b->not_after && a->is_ca == b->is_ca && a->version == b->version;
    for (size_t i = 0; eq && i < GH_CERT_INFO_DNS_MAX; i++)
        eq = strcmp(a->dns[i], b->dns[i]) == 0;
    for (size_t i = 0; eq && i < GH_CERT_INFO_URI_MAX; i++)
        eq = strcmp(a->uri[i], b->uri[i]) == 0;
    return eq;
}

static char ascii_name[GH_CERT_INFO_NAME_ASCII_MAX + 1];
static char uri_list[GH_CERT_INFO_URI_LIST_MAX + 1];
static char decoded[GH_CERT_INFO_NAME_ASCII_MAX + 1];
static char decoded_subject[GH_CERT_INFO_NAME_ASCII_MAX + 1];

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return false;
    return true;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Undoes gh_cert_info_name_ascii: a "\XX" whose value is over 0x7e is that
 * byte; "\\" stays two bytes (an escaped '\' of the name). */
static bool decode_ascii_name(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    while (*in) {
        if (in[0] == '\\' && in[1] == '\\') {
            if (o + 2 > cap)
                return false;
            out[o++] = *in++;
            out[o++] = *in++;
            continue;
        }
        if (in[0] == '\\' && hex_value(in[1]) >= 0 && hex_value(in[2]) >= 0 &&
            hex_value(in[1]) * 16 + hex_value(in[2]) > 0x7e) {
            if (o + 1 > cap)
                return false;
            out[o++] = (char)(hex_value(in[1]) * 16 + hex_value(in[2]));
            in += 3;
            continue;
        }
        if (o + 1 > cap)
            return false;
        out[o++] = *in++;
    }
    out[o] = '\0';
    return true;
}

static void check_header_forms(void)
{
    REQUIRE(gh_cert_info_name_ascii(ci.subject, ascii_name, sizeof ascii_name) >= 0);
    REQUIRE(printable_ascii(ascii_name));
    /* Both sides decoded: the rendering itself writes C1 controls as
     * "\C2\80"-style hexpairs, which decode to the same bytes. */
    REQUIRE(decode_ascii_name(ascii_name, decoded, sizeof decoded - 1));
    REQUIRE(decode_ascii_name(ci.subject, decoded_subject, sizeof decoded_subject - 1));
    REQUIRE(strcmp(decoded, decoded_subject) == 0);
    REQUIRE(gh_cert_info_uri_list(&ci, uri_list, sizeof uri_list) >= 0);
    REQUIRE(printable_ascii(uri_list));
    for (size_t i = 0; i < ci.n_uri; i++)
        if (!strpbrk(ci.uri[i], ",\"\\;"))
            REQUIRE(strstr(uri_list, ci.uri[i]) != NULL);
    REQUIRE((ci.n_uri == 0) == (uri_list[0] == '\0'));
}

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Valid UTF-8 (no overlongs, surrogates or > U+10FFFF), no byte < 0x20 or
 * 0x7f, and, when escapes is set, every '\' followed by a special character
 * or two uppercase hex digits. */
static bool text_ok(const char *str, bool escapes)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        if (b < 0x20 || b == 0x7f)
            return false;
        if (b == '\\' && escapes) {
            if (i + 1 >= n)
                return false;
            uint8_t c = s[i + 1];
            if (strchr(",+\"\\<>;# ", c) && c != '\0') {
                i += 2;
                continue;
            }
            if (i + 2 >= n || !strchr("0123456789ABCDEF", c) || c == '\0' ||
                !strchr("0123456789ABCDEF", s[i + 2]) || s[i + 2] == '\0')
                return false;
            i += 3;
            continue;
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (b >= 0xc2 && b <= 0xdf) {
            len = 2;
            cp = b & 0x1f;
        } else if (b >= 0xe0 && b <= 0xef) {
            len = 3;
            cp = b & 0x0f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            len = 4;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
            return false;
        i += len;
    }
    return true;
}

static bool san_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static void check_result(void)
{
    REQUIRE(terminated(ci.subject, sizeof ci.subject));
    REQUIRE(terminated(ci.issuer, sizeof ci.issuer));
    REQUIRE(terminated(ci.cn, sizeof ci.cn));
    REQUIRE(terminated(ci.serial_hex, sizeof ci.serial_hex));
    REQUIRE(terminated(ci.sha256_hex, sizeof ci.sha256_hex));
    REQUIRE(strlen(ci.subject) <= GH_CERT_INFO_NAME_MAX);
    REQUIRE(strlen(ci.issuer) <= GH_CERT_INFO_NAME_MAX);
    REQUIRE(text_ok(ci.subject, true));
    REQUIRE(text_ok(ci.issuer, true));
    REQUIRE(text_ok(ci.cn, false));
    REQUIRE(ci.cn[0] == '\0' || ci.has_cn);
    REQUIRE(!ci.cn_dropped || (ci.has_cn && ci.cn[0] == '\0'));
    REQUIRE(strlen(ci.sha256_hex) == 64 && lower_hex(ci.sha256_hex, 64));
    size_t sl = strlen(ci.serial_hex);
    REQUIRE(sl > 0 && sl % 2 == 0 && lower_hex(ci.serial_hex, sl));
    REQUIRE(ci.n_dns <= GH_CERT_INFO_DNS_MAX && ci.n_uri <= GH_CERT_INFO_URI_MAX);
    REQUIRE(ci.version >= 1 && ci.version <= 3);
    switch (ci.key_type) {
    case GH_CERT_KEY_EC_P256:
        REQUIRE(ci.key_bits == 256);
        break;
    case GH_CERT_KEY_EC_P384:
        REQUIRE(ci.key_bits == 384);
        break;
    case GH_CERT_KEY_EC_P521:
        REQUIRE(ci.key_bits == 521);
        break;
    case GH_CERT_KEY_RSA:
        REQUIRE(ci.key_bits > 0 && ci.key_bits <= 65536);
        break;
    case GH_CERT_KEY_OTHER:
        REQUIRE(ci.key_bits == 0);
        break;
    default:
        REQUIRE(false);
    }
    REQUIRE(strcmp(gh_cert_key_type_name(ci.key_type), "") != 0);

    for (size_t i = 0; i < GH_CERT_INFO_DNS_MAX; i++) {
        REQUIRE(terminated(ci.dns[i], sizeof ci.dns[i]));
        REQUIRE(i < ci.n_dns ? san_ok(ci.dns[i]) : ci.dns[i][0] == '\0');
    }
    for (size_t i = 0; i < GH_CERT_INFO_URI_MAX; i++) {
        REQUIRE(terminated(ci.uri[i], sizeof ci.uri[i]));
        REQUIRE(i < ci.n_uri ? san_ok(ci.uri[i]) : ci.uri[i][0] == '\0');
    }

    /* matching: a plain name covers itself in any case; the allow-lists
     * pass every name the certificate holds */
    for (size_t i = 0; i < ci.n_dns; i++) {
        const char *d = ci.dns[i];
        size_t n = strlen(d);
        if (!strchr(d, '*')) {
            char upper[GH_CERT_INFO_DNS_LEN + 1];
            for (size_t k = 0; k <= n; k++)
                upper[k] = (d[k] >= 'a' && d[k] <= 'z') ? (char)(d[k] - 32) : d[k];
            REQUIRE(gh_cert_info_matches_dns(&ci, d, n));
            REQUIRE(gh_cert_info_matches_dns(&ci, upper, n));
        }
        if (!strchr(d, ','))
            REQUIRE(gh_cert_info_allowed(&ci, "", d, "", ""));
    }
    for (size_t i = 0; i < ci.n_uri; i++)
        if (!strchr(ci.uri[i], ','))
            REQUIRE(gh_cert_info_allowed(&ci, "", "", ci.uri[i], ""));
    if (ci.cn[0] && !strchr(ci.cn, ',')) {
        REQUIRE(gh_cert_info_allowed(&ci, ci.cn, "", "", ""));
        /* the CN is a host name only without DNS SANs */
        if (ci.n_dns + ci.dns_dropped > 0 && !strchr(ci.cn, '*')) {
            bool in_san = false;
            for (size_t i = 0; i < ci.n_dns; i++)
                in_san = in_san || strchr(ci.dns[i], '*') || strcasecmp(ci.dns[i], ci.cn) == 0;
            if (!in_san)
                REQUIRE(!gh_cert_info_matches_dns(&ci, ci.cn, strlen(ci.cn)));
        }
    }
    REQUIRE(gh_cert_info_allowed(&ci, "", "", "", ci.sha256_hex));
    REQUIRE(gh_cert_info_allowed(&ci, NULL, NULL, NULL, NULL));
    REQUIRE(!gh_cert_info_allowed(&ci, ",", ",,", ",", ","));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    char why[256];
    memset(why, 0x41, sizeof why);
    memset(&ci, 0x5a, sizeof ci);
    int rc = gh_cert_info_parse(copy, size, &ci, why, sizeof why);
    REQUIRE(rc == 0 || rc == -1);
    if (rc == -1) {
        REQUIRE(terminated(why, sizeof why) && why[0] != '\0');
        REQUIRE(all_zero(&ci, sizeof ci));
    } else {
        check_result();
        check_header_forms();
        char why2[256];
        REQUIRE(gh_cert_info_parse(copy, size, &again, why2, sizeof why2) == 0);
        REQUIRE(info_equal(&ci, &again));
    }
    free(copy);
    return 0;
}
