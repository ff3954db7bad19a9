/* test_cert_info.c - unit tests for the certificate facts module
 * (src/cert_info.c).
 *
 * Pins the contract of include/gatehouse/cert_info.h against certificates
 * tests/unit/data/make-certs.sh generates at build time (TEST-ONLY keys,
 * never committed) into GH_CERT_TEST_DIR, with openssl's own reading of
 * each one as the expected values (NAME.txt):
 *  - every field of every certificate: subject and issuer equal
 *    `openssl x509 -nameopt RFC2253,-esc_msb` (escaping of , + " ; < > \,
 *    leading '#' and space, trailing space, TAB, UTF-8, T61String and
 *    BMPString, DC/UID/emailAddress, an unknown attribute type as #hex), the
 *    serial equals `-serial` in lowercase, the fingerprint `-fingerprint
 *    -sha256` without colons in lowercase, the dates `-startdate/-enddate`
 *    (UTCTime and GeneralizedTime), the SAN lists, key type and bits, CA;
 *  - names longer than 512 bytes are cut at a character and flagged; SAN
 *    lists past their bounds are counted, not failed;
 *  - values rendered from patched copies of real certificates: NUL, C1
 *    controls, invalid BMPString (#hex);
 *  - the PEM reader: the first certificate of a chain, with other blocks
 *    and text before it, a file larger than the read window, errors;
 *  - gh_cert_info_matches_dns and gh_cert_info_allowed, table by table;
 *  - garbage, every truncation and every single-bit flip of each real
 *    certificate: -1 with a reason or a consistent result, never a crash.
 *
 * Every input is a heap copy of exactly its length, so a run under
 * AddressSanitizer catches any read past the end. Table-driven checks use
 * CHECK(), which reports every failing row and fails the test at the end. */
#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/cert_info.h"

#include "cert_info_certs.h"    /* GH_CERT_TEST_DIR, from make-certs.sh */

/* ---- soft checks ------------------------------------------------------- */

#define CHECK_STR(got, want)                                                  \
    CHECK(strcmp((got), (want)) == 0, "got \"%s\", want \"%s\"", (got), (want))

/* ---- test data ----------------------------------------------------------- */

struct blob {
    uint8_t *p;
    size_t len;
};

static char *path_of(const char *file)
{
    static char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", GH_CERT_TEST_DIR, file);
    assert_true(n > 0 && (size_t)n < sizeof path);
    return path;
}

static struct blob read_blob(const char *file)
{
    FILE *f = fopen(path_of(file), "rb");
    if (!f)
        fail_msg("%s: %s", path_of(file), strerror(errno));
    assert_non_null(f);
    struct blob b = { NULL, 0 };
    uint8_t tmp[1 << 16];
    size_t n = fread(tmp, 1, sizeof tmp, f);
    assert_true(n > 0 && n < sizeof tmp);
    fclose(f);
    b.p = malloc(n);
    assert_non_null(b.p);
    memcpy(b.p, tmp, n);
    b.len = n;
    return b;
}

/* openssl's reading of NAME (NAME.txt), normalised: serial and fingerprint
 * in lowercase without colons. */
struct expect {
    char subject[2048];
    char issuer[2048];
    char serial[256];
    char sha256[256];
    long long not_before;
    long long not_after;
};

static void lower_nocolon(char *s)
{
    char *o = s;
    for (; *s; s++)
        if (*s != ':')
            *o++ = (char)tolower((unsigned char)*s);
    *o = '\0';
}

static struct expect read_expect(const char *name)
{
    char file[256];
    snprintf(file, sizeof file, "%s.txt", name);
    FILE *f = fopen(path_of(file), "r");
    if (!f)
        fail_msg("%s: %s", path_of(file), strerror(errno));
    assert_non_null(f);
    struct expect e;
    memset(&e, 0, sizeof e);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        assert_non_null(eq);
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "subject") == 0)
            snprintf(e.subject, sizeof e.subject, "%s", v);
        else if (strcmp(line, "issuer") == 0)
            snprintf(e.issuer, sizeof e.issuer, "%s", v);
        else if (strcmp(line, "serial") == 0)
            snprintf(e.serial, sizeof e.serial, "%s", v);
        else if (strcmp(line, "fingerprint") == 0)
            snprintf(e.sha256, sizeof e.sha256, "%s", v);
        else if (strcmp(line, "not_before") == 0)
            e.not_before = atoll(v);
        else if (strcmp(line, "not_after") == 0)
            e.not_after = atoll(v);
    }
    fclose(f);
    lower_nocolon(e.serial);
    lower_nocolon(e.sha256);
    assert_int_equal(strlen(e.sha256), 64);
    return e;
}

static struct gh_cert_info ci;  /* big: not on the stack */

static void parse_ok(const char *name, struct gh_cert_info *out)
{
    char file[256];
    char why[256] = "";
    snprintf(file, sizeof file, "%s.der", name);
    struct blob b = read_blob(file);
    int rc = gh_cert_info_parse(b.p, b.len, out, why, sizeof why);
    free(b.p);
    if (rc != 0)
        fail_msg("%s: parse failed: %s", name, why);
}

/* The fields every certificate is checked for against openssl. */
static void check_common(const char *name, const struct gh_cert_info *c)
{
    struct expect e = read_expect(name);
    CHECK_STR(c->issuer, e.issuer);
    CHECK_STR(c->serial_hex, e.serial);
    CHECK_STR(c->sha256_hex, e.sha256);
    CHECK((long long)c->not_before == e.not_before, "%s: not_before %lld want %lld", name,
          (long long)c->not_before, e.not_before);
    CHECK((long long)c->not_after == e.not_after, "%s: not_after %lld want %lld", name,
          (long long)c->not_after, e.not_after);
    CHECK(c->version == 3, "%s: version %d", name, c->version);
    if (!c->subject_truncated)
        CHECK_STR(c->subject, e.subject);
    CHECK(!c->issuer_truncated, "%s", name);
}

/* The invariants every result holds (also used on mutated input). */
static void check_bounds(const struct gh_cert_info *c)
{
    CHECK(memchr(c->subject, 0, sizeof c->subject) != NULL, "subject unterminated");
    CHECK(memchr(c->issuer, 0, sizeof c->issuer) != NULL, "issuer unterminated");
    CHECK(memchr(c->cn, 0, sizeof c->cn) != NULL, "cn unterminated");
    CHECK(memchr(c->serial_hex, 0, sizeof c->serial_hex) != NULL, "serial unterminated");
    CHECK(memchr(c->sha256_hex, 0, sizeof c->sha256_hex) != NULL, "sha unterminated");
    CHECK(c->n_dns <= GH_CERT_INFO_DNS_MAX, "n_dns %zu", c->n_dns);
    CHECK(c->n_uri <= GH_CERT_INFO_URI_MAX, "n_uri %zu", c->n_uri);
    for (size_t i = 0; i < GH_CERT_INFO_DNS_MAX; i++)
        CHECK(memchr(c->dns[i], 0, sizeof c->dns[i]) != NULL, "dns[%zu] unterminated", i);
    for (size_t i = 0; i < GH_CERT_INFO_URI_MAX; i++)
        CHECK(memchr(c->uri[i], 0, sizeof c->uri[i]) != NULL, "uri[%zu] unterminated", i);
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

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* ---- one test per certificate --------------------------------------------- */

static void test_ec_server(void **state)
{
    (void)state;
    parse_ok("ec_server", &ci);
    check_common("ec_server", &ci);
    check_bounds(&ci);
    CHECK_STR(ci.subject, "CN=www.example.com,O=Example,C=DE");
    CHECK_STR(ci.issuer, "CN=Gatehouse Test CA,O=Gatehouse Tests");
    CHECK_STR(ci.cn, "www.example.com");
    CHECK(ci.has_cn && !ci.cn_dropped, "cn flags");
    /* 0x00a1b2...: DER's sign octet is not part of the serial */
    CHECK_STR(ci.serial_hex, "a1b2c3d4e5f60718");
    CHECK(ci.n_dns == 4 && ci.dns_dropped == 0, "n_dns %zu dropped %zu", ci.n_dns,
          ci.dns_dropped);
    CHECK_STR(ci.dns[0], "www.example.com");
    CHECK_STR(ci.dns[1], "example.com");
    CHECK_STR(ci.dns[2], "*.api.example.com");
    CHECK_STR(ci.dns[3], "MiXeD.Example.ORG");  /* case kept */
    CHECK_STR(ci.dns[4], "");
    /* the two IP SANs are neither DNS names nor URIs */
    CHECK(ci.n_uri == 0 && ci.uri_dropped == 0, "n_uri %zu", ci.n_uri);
    CHECK(ci.key_type == GH_CERT_KEY_EC_P256 && ci.key_bits == 256, "key %d/%u",
          ci.key_type, ci.key_bits);
    CHECK(!ci.is_ca, "is_ca");
    CHECK(!ci.subject_truncated && !ci.issuer_truncated, "truncated");
    END_CHECKS();
}

static void test_rsa_client(void **state)
{
    (void)state;
    parse_ok("rsa_client", &ci);
    check_common("rsa_client", &ci);
    check_bounds(&ci);
    CHECK_STR(ci.subject, "CN=client one,OU=Clients,O=Example");
    CHECK_STR(ci.cn, "client one");
    CHECK_STR(ci.serial_hex, "0f");     /* one octet, its leading zero nibble kept */
    CHECK(ci.n_uri == 1 && ci.uri_dropped == 0, "n_uri %zu", ci.n_uri);
    CHECK_STR(ci.uri[0], "spiffe://example.org/ns/prod/sa/api");
    CHECK(ci.n_dns == 1, "n_dns %zu", ci.n_dns);     /* the email SAN is not listed */
    CHECK_STR(ci.dns[0], "client.example.net");
    CHECK(ci.key_type == GH_CERT_KEY_RSA && ci.key_bits == 2048, "key %d/%u", ci.key_type,
          ci.key_bits);
    CHECK(!ci.is_ca, "is_ca");
    CHECK(ci.not_after - ci.not_before == (time_t)30 * 86400, "validity %lld",
          (long long)(ci.not_after - ci.not_before));
    END_CHECKS();
}

static void test_cn_only(void **state)
{
    (void)state;
    parse_ok("cn_only", &ci);
    check_common("cn_only", &ci);
    check_bounds(&ci);
    CHECK_STR(ci.subject, "O=Example,CN=Legacy.Example.COM");
    CHECK_STR(ci.cn, "Legacy.Example.COM");
    CHECK(ci.n_dns == 0 && ci.dns_dropped == 0 && ci.n_uri == 0, "no SAN");
    CHECK_STR(ci.serial_hex, "7fffffffffffffffffffffffffffffffffffffff");   /* 20 octets */
    CHECK(ci.key_type == GH_CERT_KEY_EC_P521 && ci.key_bits == 521, "key %d/%u",
          ci.key_type, ci.key_bits);
    /* notAfter past 2050: a GeneralizedTime, past 2038 in a 64-bit time_t */
    CHECK((long long)ci.not_after > 2524608000LL, "not_after %lld", (long long)ci.not_after);
    END_CHECKS();
}

static void test_ca(void **state)
{
    (void)state;
    parse_ok("ca", &ci);
    check_common("ca", &ci);
    check_bounds(&ci);
    CHECK_STR(ci.subject, "CN=Gatehouse Test CA,O=Gatehouse Tests");
    CHECK_STR(ci.subject, ci.issuer);
    CHECK_STR(ci.serial_hex, "01");
    CHECK(ci.is_ca, "is_ca");
    CHECK(ci.key_type == GH_CERT_KEY_EC_P384 && ci.key_bits == 384, "key %d/%u",
          ci.key_type, ci.key_bits);
    CHECK(ci.n_dns == 0 && ci.n_uri == 0, "no SAN");
    END_CHECKS();
}

static void test_escape(void **state)
{
    (void)state;
    parse_ok("escape", &ci);
    check_common("escape", &ci);
    check_bounds(&ci);
    CHECK_STR(ci.subject,
              "CN=semi\\;colon\\<lt\\>gt\\\\back=eq,OU=tab\\09here,OU=trail\\ ,OU=\\ leading,"
              "OU=\\#hash,O=Example\\, Inc. \\+ \\\"Friends\\\",ST=Z\xc3\xbcrich,C=US");
    CHECK_STR(ci.cn, "semi;colon<lt>gt\\back=eq");  /* unescaped */
    CHECK_STR(ci.serial_hex, "1234");   /* set as decimal 4660 */
    CHECK(ci.key_type == GH_CERT_KEY_RSA && ci.key_bits == 3072, "key %d/%u", ci.key_type,
          ci.key_bits);
    END_CHECKS();
}

static void test_long_subject(void **state)
{
    (void)state;
    parse_ok("long", &ci);
    check_common("long", &ci);
    check_bounds(&ci);
    struct expect e = read_expect("long");
    CHECK(strlen(e.subject) > GH_CERT_INFO_NAME_MAX, "openssl's is %zu", strlen(e.subject));
    CHECK(ci.subject_truncated, "not flagged");
    /* every character is one byte here: the cut is exactly at the bound */
    CHECK(strlen(ci.subject) == GH_CERT_INFO_NAME_MAX, "len %zu", strlen(ci.subject));
    CHECK(strncmp(ci.subject, e.subject, strlen(ci.subject)) == 0, "not a prefix: %s",
          ci.subject);
    CHECK_STR(ci.cn, "long.example.com");
    END_CHECKS();
}

/* gh_cert_info_name_ascii: a header-safe RFC 4514 text that never makes two
 * names one (the old header mapped every non-ASCII byte to '?'). */
static void test_name_ascii(void **state)
{
    (void)state;
    static char out[GH_CERT_INFO_NAME_ASCII_MAX + 1];
    static const struct { const char *in, *out; } rows[] = {
        {"CN=plain,O=Example", "CN=plain,O=Example"},
        {"CN=caf\xc3\xa9", "CN=caf\\C3\\A9"},
        {"CN=caf\xc3\xa8", "CN=caf\\C3\\A8"},
        {"ST=Z\xc3\xbcrich", "ST=Z\\C3\\BCrich"},
        {"CN=a\\\\C3", "CN=a\\\\C3"},      /* an escaped '\' then "C3": stays apart */
        {"CN=\\09tab", "CN=\\09tab"},        /* already escaped by the rendering */
        {"CN=raw\x01\x7f", "CN=raw\\01\\7F"}, /* never rendered; still no control */
        {"", ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        int n = gh_cert_info_name_ascii(rows[i].in, out, sizeof out);
        CHECK(n == (int)strlen(rows[i].out) && strcmp(out, rows[i].out) == 0,
              "row %zu: %d \"%s\"", i, n, out);
        for (const char *p = out; *p; p++)
            CHECK(*p >= 0x20 && *p < 0x7f, "row %zu: byte %02x", i, (unsigned char)*p);
    }
    /* distinct inputs, distinct outputs: every pair of rows */
    static char other[GH_CERT_INFO_NAME_ASCII_MAX + 1];
    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        for (size_t j = i + 1; j < ARRAY_LEN(rows); j++) {
            (void)gh_cert_info_name_ascii(rows[i].in, out, sizeof out);
            (void)gh_cert_info_name_ascii(rows[j].in, other, sizeof other);
            CHECK(strcmp(out, other) != 0, "rows %zu and %zu collide: %s", i, j, out);
        }
    /* the largest name rendered (512 non-ASCII bytes) fits the bound exactly */
    static char big[GH_CERT_INFO_NAME_MAX + 1];
    memset(big, 0xc3, GH_CERT_INFO_NAME_MAX);
    big[GH_CERT_INFO_NAME_MAX] = '\0';
    CHECK(gh_cert_info_name_ascii(big, out, sizeof out) == GH_CERT_INFO_NAME_ASCII_MAX,
          "big: %zu", strlen(out));
    /* too small: -1 and "", never a cut escape */
    char small[6];
    CHECK(gh_cert_info_name_ascii("CN=\xc3\xa9", small, sizeof small) == -1 && small[0] == '\0',
          "small: \"%s\"", small);
    CHECK(gh_cert_info_name_ascii("CN=ab", small, sizeof small) == 5, "exact fit");
    CHECK(gh_cert_info_name_ascii("CN=abc", small, sizeof small) == -1, "one over");
    END_CHECKS();
}

/* gh_cert_info_uri_list: every SAN URI, a comma inside one cannot split it. */
static void test_uri_list(void **state)
{
    (void)state;
    static struct gh_cert_info c;
    static char out[GH_CERT_INFO_URI_LIST_MAX + 1];
    memset(&c, 0, sizeof c);
    CHECK(gh_cert_info_uri_list(&c, out, sizeof out) == 0 && out[0] == '\0', "none: %s", out);
    snprintf(c.uri[0], sizeof c.uri[0], "spiffe://example.org/a");
    c.n_uri = 1;
    CHECK(gh_cert_info_uri_list(&c, out, sizeof out) > 0 &&
          strcmp(out, "spiffe://example.org/a") == 0, "one: %s", out);
    snprintf(c.uri[1], sizeof c.uri[1], "https://example.org/x,y");
    snprintf(c.uri[2], sizeof c.uri[2], "urn:a\"b\\c;d");
    snprintf(c.uri[3], sizeof c.uri[3], "spiffe://example.org/z");
    c.n_uri = 4;
    CHECK(gh_cert_info_uri_list(&c, out, sizeof out) > 0 &&
          strcmp(out, "spiffe://example.org/a, \"https://example.org/x,y\", "
                      "\"urn:a\\\"b\\\\c;d\", spiffe://example.org/z") == 0,
          "four: %s", out);
    /* the bound holds every URI at its longest, all quoted and escaped */
    for (size_t i = 0; i < GH_CERT_INFO_URI_MAX; i++) {
        memset(c.uri[i], '"', GH_CERT_INFO_URI_LEN);
        c.uri[i][GH_CERT_INFO_URI_LEN] = '\0';
    }
    c.n_uri = GH_CERT_INFO_URI_MAX;
    int n = gh_cert_info_uri_list(&c, out, sizeof out);
    CHECK(n > 0 && (size_t)n <= GH_CERT_INFO_URI_LIST_MAX, "worst case: %d", n);
    char small[8];
    c.n_uri = 1;
    CHECK(gh_cert_info_uri_list(&c, small, sizeof small) == -1 && small[0] == '\0', "small");
    END_CHECKS();
}

static void test_string_types(void **state)
{
    (void)state;
    parse_ok("strings", &ci);
    check_common("strings", &ci);
    check_bounds(&ci);
    /* O is a BMPString, CN a T61String (Latin-1): both as UTF-8 */
    CHECK_STR(ci.subject, "CN=Z\xc3\xbcrich Gr\xc3\xbc\xc3\x9f" "e,O=\xce\xa9 Omega Ltd");
    CHECK_STR(ci.cn, "Z\xc3\xbcrich Gr\xc3\xbc\xc3\x9f" "e");
    END_CHECKS();
}

static void test_attribute_types(void **state)
{
    (void)state;
    parse_ok("attrs", &ci);
    check_common("attrs", &ci);
    check_bounds(&ci);
    CHECK_STR(ci.subject, "CN=attrs,UID=u1,emailAddress=a@example.org,"
                          "1.3.6.1.4.1.55555.1.2=#0C03666F6F,DC=example,DC=org,"
                          "CN=first.example");
    CHECK_STR(ci.cn, "attrs");  /* the last CN in DER order */
    END_CHECKS();
}

static void test_multi_valued_rdn(void **state)
{
    (void)state;
    /* wolfSSL 5.7.2's ASN template parser takes one attribute per RDN: a
     * certificate with "CN=multi+UID=u1" is refused (by the TLS layer too). */
    struct blob b = read_blob("mvrdn.der");
    char why[256] = "";
    int rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    free(b.p);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(why, "wolfCrypt"));
}

static void test_many_sans(void **state)
{
    (void)state;
    parse_ok("many", &ci);
    check_common("many", &ci);
    check_bounds(&ci);
    /* 40 short names, one of 300 bytes, one more: 32 kept in order, the
     * rest counted */
    CHECK(ci.n_dns == GH_CERT_INFO_DNS_MAX, "n_dns %zu", ci.n_dns);
    CHECK(ci.dns_dropped == 10, "dns_dropped %zu", ci.dns_dropped);
    for (size_t i = 0; i < ci.n_dns; i++) {
        char want[64];
        snprintf(want, sizeof want, "h%02zu.many.example", i);
        CHECK_STR(ci.dns[i], want);
    }
    CHECK(ci.n_uri == GH_CERT_INFO_URI_MAX && ci.uri_dropped == 2, "uri %zu/%zu", ci.n_uri,
          ci.uri_dropped);
    CHECK_STR(ci.uri[7], "spiffe://example.org/u7");
    CHECK(gh_cert_info_matches_dns(&ci, "h31.many.example", 16), "kept name");
    CHECK(!gh_cert_info_matches_dns(&ci, "h32.many.example", 16), "dropped name matched");
    /* it has DNS SANs: its CN is not a host name for it */
    CHECK(!gh_cert_info_matches_dns(&ci, "many.example", 12), "CN used despite SANs");
    END_CHECKS();
}

static void test_ed25519(void **state)
{
    (void)state;
    /* This wolfSSL build has no HAVE_ED25519: wolfCrypt refuses the key, so
     * the certificate is refused with a reason, not reported as OTHER. */
    struct blob b = read_blob("ed25519.der");
    char why[256] = "";
    int rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    free(b.p);
    assert_int_equal(rc, -1);
    assert_true(strlen(why) > 0);
    assert_non_null(strstr(why, "wolfCrypt"));
    assert_true(all_zero(&ci, sizeof ci));
}

static void test_expired(void **state)
{
    (void)state;
    /* dates are reported, not judged: notAfter before notBefore parses */
    parse_ok("expired", &ci);
    check_common("expired", &ci);
    CHECK(ci.not_after == ci.not_before - 86400, "%lld %lld", (long long)ci.not_before,
          (long long)ci.not_after);
    CHECK_STR(ci.cn, "expired.example");
    END_CHECKS();
}

static void test_critical_extension(void **state)
{
    (void)state;
    /* wolfCrypt refuses an unknown critical extension even without
     * verification (ParseCertRelative returns ASN_CRIT_EXT_E last) */
    struct blob b = read_blob("critext.der");
    char why[256] = "";
    int rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    free(b.p);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(why, "ritical"));
    assert_true(all_zero(&ci, sizeof ci));
}

static void test_key_type_names(void **state)
{
    (void)state;
    assert_string_equal(gh_cert_key_type_name(GH_CERT_KEY_EC_P256), "ec-p256");
    assert_string_equal(gh_cert_key_type_name(GH_CERT_KEY_EC_P384), "ec-p384");
    assert_string_equal(gh_cert_key_type_name(GH_CERT_KEY_EC_P521), "ec-p521");
    assert_string_equal(gh_cert_key_type_name(GH_CERT_KEY_RSA), "rsa");
    assert_string_equal(gh_cert_key_type_name(GH_CERT_KEY_OTHER), "other");
    assert_string_equal(gh_cert_key_type_name((enum gh_cert_key_type)99), "other");
}

/* ---- patched certificates ------------------------------------------------- */

/* Replaces the first occurrence of from (n bytes) in b by to (same n). */
static void patch(struct blob *b, const void *from, const void *to, size_t n)
{
    uint8_t *at = memmem(b->p, b->len, from, n);
    assert_non_null(at);
    memcpy(at, to, n);
}

static void test_patched_values(void **state)
{
    (void)state;
    char why[256];

    /* NUL inside a UTF8String: escaped as \00; the CN is not a C string
     * any more, so it is dropped */
    struct blob b = read_blob("escape.der");
    patch(&b, "tab\there", "tab\0here", 8);
    patch(&b, "semi;colon", "semi\0colon", 10);
    int rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(strstr(ci.subject, ",OU=tab\\00here,") != NULL, "%s", ci.subject);
    CHECK(strncmp(ci.subject, "CN=semi\\00colon\\<lt", 19) == 0, "%s", ci.subject);
    CHECK(ci.has_cn && ci.cn_dropped && ci.cn[0] == '\0', "cn \"%s\"", ci.cn);
    free(b.p);

    /* Latin-1 0x85 (NEL, a C1 control) in a T61String: \C2\85 */
    b = read_blob("strings.der");
    patch(&b, "Z\xfcrich", "Z\x85rich", 6);
    rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(strncmp(ci.subject, "CN=Z\\C2\\85rich Gr", 17) == 0, "%s", ci.subject);
    CHECK(ci.cn_dropped, "cn with a control kept: %s", ci.cn);

    /* A lone surrogate in the BMPString: not a string, so #hex of the BER */
    static const uint8_t omega[] = { 0x03, 0xa9, 0x00, 0x20, 0x00, 'O' };
    static const uint8_t lone[] = { 0xd8, 0x00, 0x00, 0x20, 0x00, 'O' };
    patch(&b, omega, lone, sizeof omega);
    rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(strstr(ci.subject, ",O=#1E16D8000020004F006D0065006700610020004C00740064") != NULL,
          "%s", ci.subject);
    free(b.p);

    /* An attribute type with an arc of 2^56: decimal by long division */
    static const uint8_t oid_old[] = { 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xb2,
                                       0x03, 0x01, 0x02 };
    static const uint8_t oid_big[] = { 0x06, 0x0a, 0x2b, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x00 };
    b = read_blob("attrs.der");
    patch(&b, oid_old, oid_big, sizeof oid_old);
    rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(strstr(ci.subject, ",1.3.72057594037927936=#0C03666F6F,") != NULL, "%s", ci.subject);
    /* ... and a non-minimal one (0x80 first): refused, by wolfCrypt or here */
    static const uint8_t oid_bad[] = { 0x06, 0x0a, 0x2b, 0x80, 0x06, 0x01, 0x04, 0x01, 0x83,
                                       0xb2, 0x03, 0x01 };
    patch(&b, oid_big, oid_bad, sizeof oid_big);
    rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == -1 && why[0] != '\0', "non-minimal OID accepted: %s", ci.subject);
    free(b.p);

    /* A relative URI SAN: wolfCrypt refuses the certificate */
    b = read_blob("rsa_client.der");
    patch(&b, "spiffe:", "spiffe/", 7);
    rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == -1 && strlen(why) > 0, "relative URI accepted");
    free(b.p);

    /* A DNS SAN with a space: dropped, and it still counts as a DNS SAN */
    b = read_blob("ec_server.der");
    patch(&b, "www.example.com\x82", "www example.com\x82", 16);
    rc = gh_cert_info_parse(b.p, b.len, &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(ci.n_dns == 3 && ci.dns_dropped == 1, "n_dns %zu dropped %zu", ci.n_dns,
          ci.dns_dropped);
    CHECK_STR(ci.dns[0], "example.com");
    free(b.p);
    END_CHECKS();
}

/* ---- PEM files ------------------------------------------------------------------- */

static void write_file(const char *file, const void *a, size_t alen, const void *b, size_t blen)
{
    FILE *f = fopen(path_of(file), "wb");
    assert_non_null(f);
    if (alen)
        assert_int_equal(fwrite(a, 1, alen, f), alen);
    if (blen)
        assert_int_equal(fwrite(b, 1, blen, f), blen);
    assert_int_equal(fclose(f), 0);
}

static void test_pem(void **state)
{
    (void)state;
    char why[512];
    struct gh_cert_info *want = malloc(sizeof *want);
    assert_non_null(want);
    parse_ok("ec_server", want);

    /* the leaf of a leaf + CA chain */
    int rc = gh_cert_info_from_pem_file(path_of("ec_server-chain.pem"), &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(info_equal(&ci, want), "chain file differs from the DER");

    /* a private key and text before the certificate */
    struct blob key = read_blob("ec_server.key");
    struct blob pem = read_blob("ec_server-chain.pem");
    static const char text[] = "Bag Attributes\n    friendlyName: test\n";
    uint8_t *pre = malloc(key.len + sizeof text);
    assert_non_null(pre);
    memcpy(pre, key.p, key.len);
    memcpy(pre + key.len, text, sizeof text - 1);
    write_file("tmp-key-first.pem", pre, key.len + sizeof text - 1, pem.p, pem.len);
    rc = gh_cert_info_from_pem_file(path_of("tmp-key-first.pem"), &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(strcmp(ci.sha256_hex, want->sha256_hex) == 0, "key-first: %s", ci.sha256_hex);

    /* a certificate first in a file larger than the read window */
    uint8_t *big = calloc(1, GH_CERT_INFO_PEM_MAX);
    assert_non_null(big);
    memset(big, '#', GH_CERT_INFO_PEM_MAX);
    write_file("tmp-big.pem", pem.p, pem.len, big, GH_CERT_INFO_PEM_MAX);
    rc = gh_cert_info_from_pem_file(path_of("tmp-big.pem"), &ci, why, sizeof why);
    CHECK(rc == 0, "%s", why);
    CHECK(strcmp(ci.sha256_hex, want->sha256_hex) == 0, "big");

    /* ... and past it: not found */
    write_file("tmp-late.pem", big, GH_CERT_INFO_PEM_MAX, pem.p, pem.len);
    rc = gh_cert_info_from_pem_file(path_of("tmp-late.pem"), &ci, why, sizeof why);
    CHECK(rc == -1 && strstr(why, "tmp-late.pem") != NULL, "late: %d %s", rc, why);
    CHECK(all_zero(&ci, sizeof ci), "late: out not zeroed");

    /* no certificate, empty file, missing file, a damaged block */
    struct { const char *file; const void *data; size_t len; } bad[] = {
        { "tmp-keyonly.pem", key.p, key.len },
        { "tmp-empty.pem", "", 0 },
        { "tmp-text.pem", text, sizeof text - 1 },
        { "tmp-cut.pem", pem.p, 200 },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        row_line = (int)i;
        write_file(bad[i].file, bad[i].data, bad[i].len, NULL, 0);
        rc = gh_cert_info_from_pem_file(path_of(bad[i].file), &ci, why, sizeof why);
        CHECK(rc == -1 && strstr(why, bad[i].file) != NULL, "%s: %d %s", bad[i].file, rc, why);
    }
    row_line = 0;
    rc = gh_cert_info_from_pem_file(path_of("does-not-exist.pem"), &ci, why, sizeof why);
    CHECK(rc == -1 && strstr(why, "does-not-exist.pem") && strstr(why, strerror(ENOENT)),
          "%s", why);
    /* why may be NULL or tiny */
    rc = gh_cert_info_from_pem_file(path_of("does-not-exist.pem"), &ci, NULL, 0);
    CHECK(rc == -1, "NULL why");
    why[0] = 'x';
    rc = gh_cert_info_from_pem_file(path_of("does-not-exist.pem"), &ci, why, 1);
    CHECK(rc == -1 && why[0] == '\0', "why_len 1");

    /* every certificate's PEM equals its DER */
    static const char *const names[] = { "ca", "rsa_client", "cn_only", "escape", "long",
                                         "strings", "attrs", "many" };
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char file[64];
        snprintf(file, sizeof file, "%s.pem", names[i]);
        parse_ok(names[i], want);
        rc = gh_cert_info_from_pem_file(path_of(file), &ci, why, sizeof why);
        CHECK(rc == 0 && info_equal(&ci, want), "%s: %s", names[i], why);
    }

    static const char *const tmp[] = { "tmp-key-first.pem", "tmp-big.pem", "tmp-late.pem",
                                       "tmp-keyonly.pem", "tmp-empty.pem", "tmp-text.pem",
                                       "tmp-cut.pem" };
    for (size_t i = 0; i < ARRAY_LEN(tmp); i++)
        remove(path_of(tmp[i]));
    free(big);
    free(pre);
    free(key.p);
    free(pem.p);
    free(want);
    END_CHECKS();
}

/* ---- host matching ------------------------------------------------------------ */

struct match_row {
    const char *cert;       /* a generated certificate */
    const char *host;
    int line;
    bool want;
};

#define MR(cert, host, want) { cert, host, __LINE__, want }

static const struct match_row match_rows[] = {
    /* exact, any case */
    MR("ec_server", "www.example.com", true),
    MR("ec_server", "WWW.EXAMPLE.COM", true),
    MR("ec_server", "example.com", true),
    MR("ec_server", "mixed.example.org", true),
    MR("ec_server", "MIXED.EXAMPLE.ORG", true),
    MR("ec_server", "www.example.co", false),
    MR("ec_server", "ww.example.com", false),
    MR("ec_server", "xwww.example.com", false),
    MR("ec_server", "www.example.com.", false),     /* no trailing-dot folding */
    MR("ec_server", "other.example.com", false),
    /* *.api.example.com: exactly one left-most label */
    MR("ec_server", "a.api.example.com", true),
    MR("ec_server", "Node-7.API.Example.Com", true),
    MR("ec_server", "a.b.api.example.com", false),  /* two labels */
    MR("ec_server", "api.example.com", false),      /* the apex */
    MR("ec_server", ".api.example.com", false),     /* empty label */
    MR("ec_server", "a.api.example.co", false),
    MR("ec_server", "aapi.example.com", false),
    MR("ec_server", "*.api.example.com", false),    /* '*' in a host never matches */
    /* not DNS names: the IP SANs, odd hosts */
    MR("ec_server", "192.0.2.1", false),
    MR("ec_server", "", false),
    MR("ec_server", "www.example.com ", false),
    MR("ec_server", "www example.com", false),
    /* CN fallback only without DNS SANs */
    MR("cn_only", "legacy.example.com", true),
    MR("cn_only", "Legacy.Example.COM", true),
    MR("cn_only", "x.legacy.example.com", false),
    MR("cn_only", "example.com", false),
    MR("many", "many.example", false),
    MR("rsa_client", "client.example.net", true),
    MR("rsa_client", "client one", false),
    MR("ca", "gatehouse test ca", false),
};

static void test_matches_dns_table(void **state)
{
    (void)state;
    struct gh_cert_info *c = malloc(sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < ARRAY_LEN(match_rows); i++) {
        const struct match_row *r = &match_rows[i];
        row_line = r->line;
        parse_ok(r->cert, c);
        size_t n = strlen(r->host);
        char *h = (char *)dup_exact((const uint8_t *)r->host, n);
        bool got = gh_cert_info_matches_dns(c, h, n);
        CHECK(got == r->want, "%s / \"%s\": %d", r->cert, r->host, got);
        free(h);
    }
    row_line = 0;
    /* host_len counts, not the NUL: a prefix, and a NUL inside */
    parse_ok("ec_server", c);
    CHECK(!gh_cert_info_matches_dns(c, "www.example.com", 7), "prefix matched");
    CHECK(gh_cert_info_matches_dns(c, "example.comXYZ", 11), "length ignored");
    CHECK(!gh_cert_info_matches_dns(c, "example.com\0x", 13), "NUL inside matched");
    CHECK(!gh_cert_info_matches_dns(c, NULL, 0), "NULL host");
    CHECK(!gh_cert_info_matches_dns(NULL, "example.com", 11), "NULL cert");
    char longhost[300];
    memset(longhost, 'a', sizeof longhost);
    CHECK(!gh_cert_info_matches_dns(c, longhost, sizeof longhost), "long host");
    free(c);
    END_CHECKS();
}

/* Patterns as a certificate could hold them, in a synthetic struct. */
struct pattern_row {
    const char *pattern;
    const char *host;
    int line;
    bool in_cn;             /* in cn with no DNS SAN, not in dns[0] */
    bool want;
};

#define PR(p, cn, host, want) { p, host, __LINE__, cn, want }

static const struct pattern_row pattern_rows[] = {
    PR("*.example.com", false, "a.example.com", true),
    PR("*.example.com", false, "A-1.EXAMPLE.COM", true),
    PR("*.example.com", false, "example.com", false),
    PR("*.example.com", false, "a.b.example.com", false),
    PR("*.example.com", false, "a.example.org", false),
    PR("*.Example.Com", false, "x.example.com", true),
    PR("*.com", false, "example.com", false),           /* REST needs two labels */
    PR("*.*.example.com", false, "a.b.example.com", false),
    PR("f*.example.com", false, "foo.example.com", false), /* no partial labels */
    PR("*oo.example.com", false, "foo.example.com", false),
    PR("a.*.example.com", false, "a.b.example.com", false),
    PR("*", false, "a", false),
    PR("*.", false, "a.", false),
    PR("*..com", false, "a..com", false),
    PR("*.example.com.", false, "a.example.com.", false),
    PR("**.example.com", false, "a.example.com", false),
    PR("example.com", false, "example.com", true),
    /* the same rules for a CN when there is no DNS SAN */
    PR("*.cn.example", true, "a.cn.example", true),
    PR("*.cn.example", true, "cn.example", false),
    PR("*.cn.example", true, "a.b.cn.example", false),
    PR("host.cn.example", true, "HOST.cn.example", true),
};

static void test_matches_dns_patterns(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(pattern_rows); i++) {
        const struct pattern_row *r = &pattern_rows[i];
        row_line = r->line;
        memset(&ci, 0, sizeof ci);
        if (r->in_cn) {
            snprintf(ci.cn, sizeof ci.cn, "%s", r->pattern);
            ci.has_cn = true;
        } else {
            snprintf(ci.dns[0], sizeof ci.dns[0], "%s", r->pattern);
            ci.n_dns = 1;
        }
        bool got = gh_cert_info_matches_dns(&ci, r->host, strlen(r->host));
        CHECK(got == r->want, "\"%s\" / \"%s\": %d", r->pattern, r->host, got);
    }
    row_line = 0;
    /* a DNS SAN that was dropped still turns the CN fallback off */
    memset(&ci, 0, sizeof ci);
    snprintf(ci.cn, sizeof ci.cn, "cn.example");
    CHECK(gh_cert_info_matches_dns(&ci, "cn.example", 10), "CN fallback");
    ci.dns_dropped = 1;
    CHECK(!gh_cert_info_matches_dns(&ci, "cn.example", 10), "CN with a dropped SAN");
    END_CHECKS();
}

/* ---- allow-lists --------------------------------------------------------------- */

struct allow_row {
    const char *cert;
    const char *cn, *dns, *uri, *sha;   /* "@FP" stands for the cert's fingerprint */
    int line;
    bool want;
};

#define AR(cert, cn, dns, uri, sha, want) { cert, cn, dns, uri, sha, __LINE__, want }

static const char spiffe[] = "spiffe://example.org/ns/prod/sa/api";

static const struct allow_row allow_rows[] = {
    /* nothing set: allowed */
    AR("rsa_client", "", "", "", "", true),
    AR("rsa_client", NULL, NULL, NULL, NULL, true),
    /* set, but only empty entries: matches nothing (fails closed) */
    AR("rsa_client", ",", "", "", "", false),
    AR("rsa_client", "", ",,", "", "", false),
    /* CN: exact bytes */
    AR("rsa_client", "client one", "", "", "", true),
    AR("rsa_client", "other,client one", "", "", "", true),
    AR("rsa_client", ",client one,", "", "", "", true),
    AR("rsa_client", "Client One", "", "", "", false),
    AR("rsa_client", "client", "", "", "", false),
    AR("rsa_client", "client one ", "", "", "", false),
    AR("rsa_client", "client onex", "", "", "", false),
    AR("rsa_client", "client.example.net", "", "", "", false), /* SAN is not CN */
    /* DNS: SAN names, any case, or a wildcard entry covering one */
    AR("rsa_client", "", "client.example.net", "", "", true),
    AR("rsa_client", "", "CLIENT.Example.NET", "", "", true),
    AR("rsa_client", "", "a.b,client.example.net", "", "", true),
    AR("rsa_client", "", "*.example.net", "", "", true),
    AR("rsa_client", "", "*.net", "", "", false),
    AR("rsa_client", "", "example.net", "", "", false),
    AR("rsa_client", "", "*.client.example.net", "", "", false),
    AR("rsa_client", "", "client one", "", "", false),     /* CN is not a DNS name */
    AR("cn_only", "", "legacy.example.com", "", "", false), /* nor here */
    AR("ec_server", "", "*.api.example.com", "", "", true), /* literal wildcard */
    AR("ec_server", "", "x.api.example.com", "", "", false), /* not expanded */
    AR("ec_server", "", "*.example.com", "", "", true),      /* covers www.example.com */
    AR("ec_server", "", "*.example.org", "", "", true),      /* covers MiXeD.Example.ORG */
    /* URI: exact bytes */
    AR("rsa_client", "", "", "spiffe://example.org/ns/prod/sa/api", "", true),
    AR("rsa_client", "", "", "spiffe://x/y,spiffe://example.org/ns/prod/sa/api", "", true),
    AR("rsa_client", "", "", "spiffe://example.org/ns/prod/sa/API", "", false),
    AR("rsa_client", "", "", "spiffe://Example.org/ns/prod/sa/api", "", false),
    AR("rsa_client", "", "", "spiffe://example.org/ns/prod/sa/ap", "", false),
    AR("rsa_client", "", "", "spiffe://example.org/ns/prod/sa/api/", "", false),
    AR("rsa_client", "", "", "spiffe://example.org/ns/prod/sa/*", "", false),
    AR("ec_server", "", "", "spiffe://example.org/ns/prod/sa/api", "", false),
    /* SHA-256: 64 lowercase hex digits */
    AR("rsa_client", "", "", "", "@FP", true),
    AR("rsa_client", "", "", "", "@FPUPPER", false),
    AR("rsa_client", "", "", "", "@FPCOLONS", false),
    AR("rsa_client", "", "", "", "@FPSHORT", false),
    AR("rsa_client", "", "", "", "0000000000000000000000000000000000000000000000000000000000000000,@FP", true),
    AR("ec_server", "", "", "", "@OTHERFP", false),
    /* combinations: any set list matching is enough */
    AR("rsa_client", "nobody", "", spiffe, "", true),
    AR("rsa_client", "client one", "", "spiffe://x/y", "", true),
    AR("rsa_client", "nobody", "nothing.example", "spiffe://x/y", "@OTHERFP", false),
    AR("rsa_client", "nobody", "client.example.net", "spiffe://x/y", "@OTHERFP", true),
    AR("rsa_client", "nobody", "nothing.example", "spiffe://x/y", "@FP", true),
    AR("rsa_client", "", "", "", "@OTHERFP", false),
    AR("ec_server", "client one", "", spiffe, "", false),
    AR("ec_server", "www.example.com", "", spiffe, "", true),
};

static void test_allowed_table(void **state)
{
    (void)state;
    struct gh_cert_info *other = malloc(sizeof *other);
    assert_non_null(other);
    parse_ok("ca", other);
    for (size_t i = 0; i < ARRAY_LEN(allow_rows); i++) {
        const struct allow_row *r = &allow_rows[i];
        row_line = r->line;
        parse_ok(r->cert, &ci);
        char sha[256];
        const char *s = r->sha;
        if (s && strstr(s, "@FP") != NULL) {
            char fp[200];
            const char *tag = strstr(s, "@FP");
            if (strcmp(tag, "@FPUPPER") == 0) {
                for (size_t k = 0; k <= 64; k++)
                    fp[k] = (char)toupper((unsigned char)ci.sha256_hex[k]);
            } else if (strcmp(tag, "@FPCOLONS") == 0) {
                size_t o = 0;
                for (size_t k = 0; k < 64; k += 2) {
                    if (k)
                        fp[o++] = ':';
                    fp[o++] = ci.sha256_hex[k];
                    fp[o++] = ci.sha256_hex[k + 1];
                }
                fp[o] = '\0';
            } else if (strcmp(tag, "@FPSHORT") == 0) {
                snprintf(fp, sizeof fp, "%.63s", ci.sha256_hex);
            } else {
                snprintf(fp, sizeof fp, "%s", ci.sha256_hex);
            }
            snprintf(sha, sizeof sha, "%.*s%s", (int)(tag - s), s, fp);
            s = sha;
        } else if (s && strcmp(s, "@OTHERFP") == 0) {
            s = other->sha256_hex;
        }
        bool got = gh_cert_info_allowed(&ci, r->cn, r->dns, r->uri, s);
        CHECK(got == r->want, "%s cn=\"%s\" dns=\"%s\" uri=\"%s\" sha=\"%s\": %d", r->cert,
              r->cn ? r->cn : "(null)", r->dns ? r->dns : "(null)", r->uri ? r->uri : "(null)",
              s ? s : "(null)", got);
    }
    row_line = 0;

    /* a wildcard SAN is matched literally, never as a pattern */
    memset(&ci, 0, sizeof ci);
    snprintf(ci.dns[0], sizeof ci.dns[0], "*.example.com");
    ci.n_dns = 1;
    CHECK(gh_cert_info_allowed(&ci, "", "*.example.com", "", ""), "literal");
    CHECK(gh_cert_info_allowed(&ci, "", "*.EXAMPLE.com", "", ""), "literal, any case");
    CHECK(!gh_cert_info_allowed(&ci, "", "a.example.com", "", ""), "expanded");
    CHECK(!gh_cert_info_allowed(&ci, "", "*.com", "", ""), "*.com");
    /* no cn: a CN list never matches */
    memset(&ci, 0, sizeof ci);
    CHECK(!gh_cert_info_allowed(&ci, "x", "", "", ""), "empty cn");
    CHECK(gh_cert_info_allowed(&ci, "", "", "", ""), "nothing set");
    free(other);
    END_CHECKS();
}

/* ---- malformed input ------------------------------------------------------------- */

static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void expect_fail(const uint8_t *p, size_t n, const char *what)
{
    char why[256];
    memset(why, 0, sizeof why);
    uint8_t *copy = dup_exact(p, n);
    memset(&ci, 0x5a, sizeof ci);
    int rc = gh_cert_info_parse(copy, n, &ci, why, sizeof why);
    free(copy);
    CHECK(rc == -1, "%s (%zu bytes): accepted", what, n);
    CHECK(why[0] != '\0' && memchr(why, 0, sizeof why) != NULL, "%s: no reason", what);
    CHECK(all_zero(&ci, sizeof ci), "%s: out not zeroed", what);
}

static void test_garbage(void **state)
{
    (void)state;
    char why[256];
    CHECK(gh_cert_info_parse(NULL, 10, &ci, why, sizeof why) == -1, "NULL");
    CHECK(gh_cert_info_parse((const uint8_t *)"x", 0, &ci, why, sizeof why) == -1, "empty");
    CHECK(gh_cert_info_parse((const uint8_t *)"x", 1, &ci, NULL, 0) == -1, "NULL why");
    static const uint8_t tiny[][8] = {
        { 0x30 }, { 0x30, 0x00 }, { 0x30, 0x80 }, { 0x30, 0x84, 0xff, 0xff, 0xff, 0xff },
        { 0x02, 0x01, 0x01 }, { 0x30, 0x03, 0x02, 0x01, 0x01 }, { 0x1f, 0x01, 0x00 },
        { 0x30, 0x06, 0x30, 0x04, 0x30, 0x02, 0x30, 0x00 },
    };
    static const size_t tiny_len[] = { 1, 2, 2, 6, 3, 5, 3, 8 };
    for (size_t i = 0; i < ARRAY_LEN(tiny); i++)
        expect_fail(tiny[i], tiny_len[i], "tiny");
    /* random bytes, and random bytes behind a plausible outer header */
    uint8_t buf[2048];
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + rnd() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rnd();
        if (round & 1 && n > 4) {
            buf[0] = 0x30;
            buf[1] = 0x82;
            buf[2] = (uint8_t)((n - 4) >> 8);
            buf[3] = (uint8_t)(n - 4);
        }
        expect_fail(buf, n, "random");
    }
    /* PEM text is not DER */
    struct blob pem = read_blob("ec_server.pem");
    expect_fail(pem.p, pem.len, "PEM as DER");
    free(pem.p);
    /* one trailing byte, and a certificate twice */
    struct blob der = read_blob("ec_server.der");
    uint8_t *two = malloc(2 * der.len);
    assert_non_null(two);
    memcpy(two, der.p, der.len);
    memcpy(two + der.len, der.p, der.len);
    expect_fail(two, der.len + 1, "trailing byte");
    expect_fail(two, 2 * der.len, "two certificates");
    CHECK(gh_cert_info_parse(two, der.len, &ci, why, sizeof why) == 0, "the first alone: %s",
          why);
    /* too large */
    uint8_t *huge = calloc(1, GH_CERT_INFO_DER_MAX + 1);
    assert_non_null(huge);
    expect_fail(huge, GH_CERT_INFO_DER_MAX + 1, "huge");
    free(huge);
    free(two);
    free(der.p);
    END_CHECKS();
}

static const char *const all_certs[] = { "ca", "ec_server", "rsa_client", "cn_only", "escape",
                                         "long", "strings", "attrs", "many", "expired" };

static void test_truncated(void **state)
{
    (void)state;
    size_t rows = 0;
    for (size_t c = 0; c < ARRAY_LEN(all_certs); c++) {
        char file[64];
        snprintf(file, sizeof file, "%s.der", all_certs[c]);
        struct blob b = read_blob(file);
        for (size_t n = 0; n < b.len; n++, rows++)
            expect_fail(b.p, n, all_certs[c]);
        free(b.p);
    }
    print_message("truncated %zu times\n", rows);
    END_CHECKS();
}

/* Every single-bit flip of every certificate: whatever wolfCrypt makes of
 * it, the result is -1 with a reason or a bounded, consistent struct. */
static void test_bit_flips(void **state)
{
    (void)state;
    size_t ok = 0;
    size_t failed = 0;
    for (size_t c = 0; c < ARRAY_LEN(all_certs); c++) {
        char file[64];
        snprintf(file, sizeof file, "%s.der", all_certs[c]);
        struct blob b = read_blob(file);
        for (size_t i = 0; i < b.len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                char why[256] = "";
                uint8_t *copy = dup_exact(b.p, b.len);
                copy[i] ^= (uint8_t)(1u << bit);
                int rc = gh_cert_info_parse(copy, b.len, &ci, why, sizeof why);
                free(copy);
                if (rc == 0) {
                    ok++;
                    check_bounds(&ci);
                    CHECK(strlen(ci.sha256_hex) == 64, "sha");
                    CHECK(strlen(ci.serial_hex) > 0 && strlen(ci.serial_hex) % 2 == 0, "serial");
                    CHECK(strlen(ci.subject) <= GH_CERT_INFO_NAME_MAX, "subject");
                } else {
                    failed++;
                    CHECK(rc == -1 && why[0] != '\0', "%s byte %zu bit %d: rc %d", all_certs[c],
                          i, bit, rc);
                    CHECK(all_zero(&ci, sizeof ci), "not zeroed");
                }
                if (soft_failures > 20)
                    goto out;
            }
        }
    out:
        free(b.p);
    }
    print_message("bit flips: %zu parsed, %zu refused\n", ok, failed);
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ec_server),
        cmocka_unit_test(test_rsa_client),
        cmocka_unit_test(test_cn_only),
        cmocka_unit_test(test_ca),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_long_subject),
        cmocka_unit_test(test_name_ascii),
        cmocka_unit_test(test_uri_list),
        cmocka_unit_test(test_string_types),
        cmocka_unit_test(test_attribute_types),
        cmocka_unit_test(test_multi_valued_rdn),
        cmocka_unit_test(test_many_sans),
        cmocka_unit_test(test_ed25519),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_critical_extension),
        cmocka_unit_test(test_key_type_names),
        cmocka_unit_test(test_patched_values),
        cmocka_unit_test(test_pem),
        cmocka_unit_test(test_matches_dns_table),
        cmocka_unit_test(test_matches_dns_patterns),
        cmocka_unit_test(test_allowed_table),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bit_flips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
