/* test_client_hello.c - unit tests for the ClientHello parser
 * (src/client_hello.c).
 *
 * Pins the contract of include/gatehouse/client_hello.h:
 *  - real ClientHellos (tests/unit/data/client_hello_samples.h, captured
 *    from OpenSSL s_client, curl and Python's ssl by
 *    tests/unit/data/capture_hello.py) parse to the fields each client
 *    sent, row by row;
 *  - the incremental promise: every prefix of an input gives INCOMPLETE or
 *    the whole input's verdict, and once a prefix gets the verdict every
 *    longer one does; a verdict comes as soon as the bytes that decide it
 *    are there (NOT_TLS after one byte of HTTP, TOO_LARGE at the length);
 *  - fragmentation: the samples re-split into 2, 3 and one-byte records
 *    parse to the same fields;
 *  - each malformation at each nesting level gives its reason, on hellos
 *    built here from parts (so one field can be wrong at a time);
 *  - the size limit at its boundary, with one record and with several;
 *  - accepts_ecdsa / accepts_rsa, ALPN and the SNI matchers, by table.
 *
 * Every input is copied into a heap buffer of exactly its length, so a run
 * under AddressSanitizer catches any read past the end. Table-driven tests
 * use CHECK(), which reports every failing row (by its line in this file)
 * and fails the test at the end, so one run lists all deviations at once. */
#include "check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/client_hello.h"

#include "data/client_hello_samples.h"

/* ---- shorthands ---------------------------------------------------------- */

#define INC GH_HELLO_INCOMPLETE
#define DONE GH_HELLO_DONE
#define NTLS GH_HELLO_NOT_TLS
#define BAD GH_HELLO_MALFORMED
#define BIG GH_HELLO_TOO_LARGE
#define R(name) GH_HELLO_R_##name

#define MAXB GH_CLIENT_HELLO_MAX_BYTES

/* Two parse results, big (each holds a reassembly buffer): static. */
static struct gh_client_hello h1, h2;

static const char *st(enum gh_hello_status s)
{
    return gh_client_hello_status_name(s);
}

static const char *rs(enum gh_hello_reason r)
{
    return gh_client_hello_reason_name(r);
}

/* Parses a heap copy of d[0, n); *copy keeps it (spans point into it or
 * into h->defrag); free it after looking at the fields. */
static enum gh_hello_status parse_copy(const uint8_t *d, size_t n, size_t max,
                                       struct gh_client_hello *h, uint8_t **copy)
{
    *copy = dup_exact(d, n);
    return gh_client_hello_parse_max(*copy, n, max, h);
}

/* Parses a heap copy, for the status and reason only. */
static enum gh_hello_status parse_status(const uint8_t *d, size_t n, size_t max,
                                         enum gh_hello_reason *why)
{
    uint8_t *c;
    enum gh_hello_status s = parse_copy(d, n, max, &h2, &c);
    *why = h2.reason;
    free(c);
    return s;
}

static bool span_in(struct gh_hello_span s, const uint8_t *base, size_t len)
{
    if (!s.p)
        return s.len == 0;
    return s.p >= base && s.p <= base + len && s.len <= (size_t)(base + len - s.p);
}

static bool span_is(struct gh_hello_span s, const char *want)
{
    size_t n = strlen(want);
    return s.p && s.len == n && memcmp(s.p, want, n) == 0;
}

static bool span_same(struct gh_hello_span a, struct gh_hello_span b)
{
    return a.len == b.len && (a.p == NULL) == (b.p == NULL) &&
           (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Every span of a DONE result lies inside the bytes it came from: data
 * for one record, h->defrag for several. */
static bool spans_inside(const struct gh_client_hello *h, const uint8_t *data, size_t len)
{
    const uint8_t *base = h->n_records == 1 ? data : h->defrag;
    size_t n = h->n_records == 1 ? len : sizeof h->defrag;
    bool ok = span_in(h->random, base, n) && span_in(h->session_id, base, n) &&
              span_in(h->cipher_suites, base, n) && span_in(h->server_name, base, n) &&
              span_in(h->alpn_list, base, n);
    for (size_t i = 0; i < h->n_alpn && i < GH_CLIENT_HELLO_MAX_ALPN; i++)
        ok = ok && span_in(h->alpn[i], h->alpn_list.p, h->alpn_list.len);
    return ok;
}

/* The fields a ClientHello carries, whatever records it came in. */
static bool same_fields(const struct gh_client_hello *a, const struct gh_client_hello *b)
{
    if (a->legacy_version != b->legacy_version || a->msg_len != b->msg_len ||
        !span_same(a->random, b->random) || !span_same(a->session_id, b->session_id) ||
        !span_same(a->cipher_suites, b->cipher_suites) ||
        a->n_cipher_suites != b->n_cipher_suites || a->suites != b->suites ||
        a->n_compression_methods != b->n_compression_methods ||
        a->n_extensions != b->n_extensions ||
        a->has_supported_versions != b->has_supported_versions ||
        a->versions != b->versions || a->offers_tls12 != b->offers_tls12 ||
        a->offers_tls13 != b->offers_tls13 || a->has_server_name != b->has_server_name ||
        !span_same(a->server_name, b->server_name) || a->has_sig_algs != b->has_sig_algs ||
        a->sig_algs != b->sig_algs || a->has_sig_algs_cert != b->has_sig_algs_cert ||
        a->sig_algs_cert != b->sig_algs_cert || a->has_groups != b->has_groups ||
        a->groups != b->groups || a->n_groups != b->n_groups || a->has_alpn != b->has_alpn ||
        !span_same(a->alpn_list, b->alpn_list) || a->n_alpn != b->n_alpn ||
        a->has_session_ticket != b->has_session_ticket ||
        a->has_pre_shared_key != b->has_pre_shared_key ||
        a->has_early_data != b->has_early_data || a->has_key_share != b->has_key_share)
        return false;
    for (size_t i = 0; i < a->n_alpn && i < GH_CLIENT_HELLO_MAX_ALPN; i++)
        if (!span_same(a->alpn[i], b->alpn[i]))
            return false;
    return true;
}

/* Every prefix of d[0, n) gives INCOMPLETE or the final verdict (want,
 * why), and from the first prefix that gives it on, every longer one
 * does. A DONE input gives INCOMPLETE for every prefix shorter than what
 * it consumes. Returns the shortest prefix with the verdict, or 0 when a
 * check failed. */
static size_t check_prefixes(const uint8_t *d, size_t n, size_t max, enum gh_hello_status want,
                             enum gh_hello_reason why)
{
    size_t first = 0;
    for (size_t k = 0; k <= n; k++) {
        enum gh_hello_reason r;
        enum gh_hello_status s = parse_status(d, k, max, &r);
        if (s == INC) {
            CHECK(r == R(NONE), "prefix %zu: INCOMPLETE with reason %s", k, rs(r));
            if (first) {
                CHECK(0, "prefix %zu: INCOMPLETE after the verdict at %zu", k, first);
                return 0;
            }
            continue;
        }
        if (s != want || r != why) {
            CHECK(0, "prefix %zu of %zu: %s/%s, want %s/%s", k, n, st(s), rs(r), st(want),
                  rs(why));
            return 0;
        }
        if (!first)
            first = k;
    }
    CHECK(first != 0 || want == INC, "no prefix reached %s/%s", st(want), rs(why));
    return first;
}

/* ---- building inputs --------------------------------------------------------- */

/* Big enough for the largest hello and some records past it. */
struct buf {
    uint8_t b[MAXB + 1024];
    size_t n;
};

static struct buf tb, tb2, ext;

static void put(struct buf *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put8(struct buf *o, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(o, &b, 1);
}

static void put16(struct buf *o, unsigned v)
{
    put8(o, v >> 8);
    put8(o, v);
}

static void put24(struct buf *o, size_t v)
{
    put8(o, (unsigned)(v >> 16));
    put16(o, (unsigned)v);
}

static void putn(struct buf *o, unsigned v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(o, v);
}

/* Appends an extension: type, length, body. */
static void put_ext(struct buf *o, unsigned type, const void *body, size_t n)
{
    put16(o, type);
    put16(o, (unsigned)n);
    put(o, body, n);
}

/* An extension whose body is a uint16-length list of the given uint16s. */
static void put_ext_u16s(struct buf *o, unsigned type, const unsigned *v, size_t n)
{
    put16(o, type);
    put16(o, (unsigned)(2 + 2 * n));
    put16(o, (unsigned)(2 * n));
    for (size_t i = 0; i < n; i++)
        put16(o, v[i]);
}

/* server_name with one host_name. */
static void put_sni(struct buf *o, const char *name)
{
    size_t n = strlen(name);
    put16(o, 0);
    put16(o, (unsigned)(n + 5));
    put16(o, (unsigned)(n + 3));
    put8(o, 0);
    put16(o, (unsigned)n);
    put(o, name, n);
}

/* ALPN with the given names. */
static void put_alpn(struct buf *o, const char *const *names, size_t count)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += 1 + strlen(names[i]);
    put16(o, 16);
    put16(o, (unsigned)(n + 2));
    put16(o, (unsigned)n);
    for (size_t i = 0; i < count; i++) {
        put8(o, (unsigned)strlen(names[i]));
        put(o, names[i], strlen(names[i]));
    }
}

/* The handshake message of a ClientHello: legacy_version 0x0303, random,
 * a 32-byte session id, suites TLS_AES_128_GCM_SHA256, ECDHE-ECDSA- and
 * ECDHE-RSA-AES128-GCM-SHA256, null compression, then the extensions in
 * e (with_exts false: no extensions block at all). */
static void make_msg(struct buf *o, const struct buf *e, bool with_exts)
{
    o->n = 0;
    size_t body = 2 + 32 + 1 + 32 + 2 + 6 + 2 + (with_exts ? 2 + e->n : 0);
    put8(o, 1);
    put24(o, body);
    put16(o, 0x0303);
    putn(o, 0x11, 32);
    put8(o, 32);
    putn(o, 0x22, 32);
    put16(o, 6);
    put16(o, 0x1301);
    put16(o, 0xc02b);
    put16(o, 0xc02f);
    put8(o, 1);
    put8(o, 0);
    if (with_exts) {
        put16(o, (unsigned)e->n);
        put(o, e->b, e->n);
    }
}

/* Wraps msg[0, mn) in records carrying frag[i] bytes each (the last takes
 * what is left; nfrag 0: one record). */
static void wrap(struct buf *o, const uint8_t *msg, size_t mn, const size_t *frag, size_t nfrag)
{
    o->n = 0;
    size_t at = 0;
    for (size_t i = 0; at < mn || i == 0; i++) {
        size_t k = i < nfrag && frag[i] < mn - at ? frag[i] : mn - at;
        put8(o, 0x16);
        put16(o, 0x0301);
        put16(o, (unsigned)k);
        put(o, msg + at, k);
        at += k;
    }
}

/* A one-record ClientHello with the extensions in e. */
static void make_hello(struct buf *o, const struct buf *e)
{
    static struct buf m;
    make_msg(&m, e, true);
    wrap(o, m.b, m.n, NULL, 0);
}

/* The handshake message of a one-record sample. */
static const uint8_t *sample_msg(const struct hello_sample *s, size_t *n)
{
    *n = s->len - 5;
    return s->bytes + 5;
}

/* ---- the captured samples --------------------------------------------------- */

#define CS_ALL (GH_HELLO_CS_ECDHE_ECDSA | GH_HELLO_CS_ECDHE_RSA | GH_HELLO_CS_TLS13_AES128_GCM | \
                GH_HELLO_CS_TLS13_AES256_GCM | GH_HELLO_CS_TLS13_CHACHA20)
#define CS_12 (GH_HELLO_CS_ECDHE_ECDSA | GH_HELLO_CS_ECDHE_RSA)
/* OpenSSL 3.0's default signature_algorithms (curl and Python use it too) */
#define SIG_FULL (GH_HELLO_SIG_ECDSA_P256 | GH_HELLO_SIG_ECDSA_P384 | GH_HELLO_SIG_ECDSA_P521 | \
                  GH_HELLO_SIG_ED25519 | GH_HELLO_SIG_ED448 | GH_HELLO_SIG_RSA_PSS_PSS |      \
                  GH_HELLO_SIG_RSA_PSS_RSAE | GH_HELLO_SIG_RSA_PKCS1 |                        \
                  GH_HELLO_SIG_ECDSA_SHA1 | GH_HELLO_SIG_RSA_PKCS1_SHA1 | GH_HELLO_SIG_OTHER)
#define G_FULL (GH_HELLO_G_X25519 | GH_HELLO_G_P256 | GH_HELLO_G_X448 | GH_HELLO_G_P521 | \
                GH_HELLO_G_P384 | GH_HELLO_G_FFDHE)
#define G_12 (GH_HELLO_G_X25519 | GH_HELLO_G_P256 | GH_HELLO_G_X448 | GH_HELLO_G_P521 | \
              GH_HELLO_G_P384)
#define V_ALL (GH_HELLO_V_TLS10 | GH_HELLO_V_TLS11 | GH_HELLO_V_TLS12 | GH_HELLO_V_TLS13)

struct sample_row {
    int line;
    const char *name;
    const char *sni;            /* NULL: none */
    size_t n_suites, sid_len, n_ext;
    unsigned suites;
    bool has_sv;
    unsigned versions;
    bool tls12, tls13;
    unsigned sig;
    unsigned groups;
    size_t n_groups;
    const char *alpn;           /* names joined by ','; NULL: no ALPN */
    bool ticket, psk, key_share;
    bool ecdsa, rsa;
    uint16_t version;
};

static const struct sample_row samples[] = {
    { __LINE__, "curl", "localhost", 31, 32, 12, CS_ALL, true, V_ALL, true, true, SIG_FULL,
      G_FULL, 10, "h2,http/1.1", false, false, true, true, true, 0x0304 },
    { __LINE__, "curl_http11", "gatehouse.test", 31, 32, 12, CS_ALL, true, V_ALL, true, true,
      SIG_FULL, G_FULL, 10, "http/1.1", false, false, true, true, true, 0x0304 },
    { __LINE__, "openssl_no_sni", NULL, 31, 32, 9, CS_ALL, true, V_ALL, true, true, SIG_FULL,
      G_FULL, 10, NULL, true, false, true, true, true, 0x0304 },
    { __LINE__, "openssl_ticket_psk", "psk.example.com", 57, 32, 11, CS_ALL, true, V_ALL, true,
      true, SIG_FULL, G_FULL, 10, NULL, true, true, true, true, true, 0x0304 },
    { __LINE__, "openssl_tls12_ecdsa_only", "ecdsa.example.net", 3, 0, 7,
      GH_HELLO_CS_ECDHE_ECDSA_AES128_GCM | GH_HELLO_CS_ECDHE_ECDSA_CHACHA20, false, 0, true,
      false, GH_HELLO_SIG_ECDSA_P256 | GH_HELLO_SIG_ECDSA_P384, G_12, 5, NULL, true, false,
      false, true, false, 0x0303 },
    { __LINE__, "openssl_tls12_rsa_only", "rsa.example.net", 3, 0, 7,
      GH_HELLO_CS_ECDHE_RSA_AES256_GCM | GH_HELLO_CS_ECDHE_RSA_CHACHA20, false, 0, true, false,
      GH_HELLO_SIG_RSA_PKCS1 | GH_HELLO_SIG_RSA_PSS_RSAE, G_12, 5, NULL, true, false, false,
      false, true, 0x0303 },
    { __LINE__, "openssl_tls12_sni", "api.example.org", 28, 0, 7, CS_12, false, 0, true, false,
      SIG_FULL, G_12, 5, NULL, true, false, false, true, true, 0x0303 },
    { __LINE__, "openssl_tls13_ecdsa_groups", "under_score.example.com", 2, 32, 10,
      GH_HELLO_CS_TLS13_CHACHA20, true, GH_HELLO_V_TLS13, false, true,
      GH_HELLO_SIG_ECDSA_P256 | GH_HELLO_SIG_ED25519, GH_HELLO_G_X25519 | GH_HELLO_G_P256, 2,
      NULL, true, false, true, true, false, 0x0304 },
    { __LINE__, "openssl_tls13_rsa_pss", "pss.example.com", 4, 32, 11,
      GH_HELLO_CS_TLS13_AES128_GCM | GH_HELLO_CS_TLS13_AES256_GCM | GH_HELLO_CS_TLS13_CHACHA20,
      true, GH_HELLO_V_TLS13, false, true, GH_HELLO_SIG_RSA_PSS_RSAE,
      GH_HELLO_G_P384 | GH_HELLO_G_P521, 2, "http/1.1", true, false, true, false, true, 0x0304 },
    { __LINE__, "openssl_tls13_sni_alpn", "www.Example.com", 31, 32, 11, CS_ALL, true, V_ALL,
      true, true, SIG_FULL, G_FULL, 10, "h2,http/1.1", true, false, true, true, true, 0x0304 },
    { __LINE__, "python_ssl", "py.example.com", 18, 32, 12, CS_ALL, true,
      GH_HELLO_V_TLS12 | GH_HELLO_V_TLS13, true, true, SIG_FULL, G_FULL, 10, "http/1.1", true,
      false, true, true, true, 0x0304 },
};

static const struct hello_sample *find_sample(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(hello_samples); i++)
        if (strcmp(hello_samples[i].name, name) == 0)
            return &hello_samples[i];
    fail_msg("no sample %s", name);
    return NULL;
}

/* The ALPN names in h equal the comma-joined list want. */
static bool alpn_is(const struct gh_client_hello *h, const char *want)
{
    if (!want)
        return !h->has_alpn && h->n_alpn == 0 && h->alpn_list.p == NULL;
    size_t k = 0;
    const char *p = want;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (k >= h->n_alpn || h->alpn[k].len != n || memcmp(h->alpn[k].p, p, n) != 0)
            return false;
        char name[64];
        memcpy(name, p, n);
        name[n] = '\0';
        if (!gh_client_hello_offers_alpn(h, name))
            return false;
        k++;
        if (!p[n])
            break;
        p += n + 1;
    }
    return h->has_alpn && k == h->n_alpn;
}

static void check_sample_fields(const struct sample_row *row, const struct gh_client_hello *h)
{
    CHECK(h->legacy_version == 0x0303, "legacy_version %04x", h->legacy_version);
    CHECK(h->random.len == 32, "random %zu", h->random.len);
    CHECK(h->session_id.len == row->sid_len, "session id %zu", h->session_id.len);
    CHECK(h->n_cipher_suites == row->n_suites, "suites %zu", h->n_cipher_suites);
    CHECK(h->cipher_suites.len == 2 * row->n_suites, "suites len %zu", h->cipher_suites.len);
    CHECK(h->suites == row->suites, "suite bits %#x want %#x", h->suites, row->suites);
    CHECK(h->n_compression_methods == 1, "compression %u", h->n_compression_methods);
    CHECK(h->n_extensions == row->n_ext, "extensions %zu", h->n_extensions);
    CHECK(h->has_supported_versions == row->has_sv, "has_sv %d", h->has_supported_versions);
    CHECK(h->versions == row->versions, "versions %#x want %#x", h->versions, row->versions);
    CHECK(h->offers_tls12 == row->tls12 && h->offers_tls13 == row->tls13, "offers %d %d",
          h->offers_tls12, h->offers_tls13);
    if (row->sni) {
        CHECK(h->has_server_name && span_is(h->server_name, row->sni), "sni %.*s",
              (int)h->server_name.len, h->server_name.p ? (const char *)h->server_name.p : "");
        CHECK(gh_client_hello_sni_equals(h, row->sni), "sni_equals");
        CHECK(gh_sni_matches(row->sni, h->server_name), "sni_matches itself");
    } else {
        CHECK(!h->has_server_name && h->server_name.p == NULL && h->server_name.len == 0,
              "sni present");
        CHECK(!gh_client_hello_sni_equals(h, "localhost"), "sni_equals without SNI");
    }
    CHECK(h->has_sig_algs && h->sig_algs == row->sig, "sig %#x want %#x", h->sig_algs, row->sig);
    CHECK(!h->has_sig_algs_cert && h->sig_algs_cert == 0, "sig_algs_cert");
    CHECK(h->has_groups && h->groups == row->groups && h->n_groups == row->n_groups,
          "groups %#x/%zu want %#x/%zu", h->groups, h->n_groups, row->groups, row->n_groups);
    CHECK(alpn_is(h, row->alpn), "alpn: %zu names", h->n_alpn);
    CHECK(!gh_client_hello_offers_alpn(h, "http/1.0") && !gh_client_hello_offers_alpn(h, "h"),
          "offers_alpn of a name not offered");
    CHECK(h->has_session_ticket == row->ticket, "ticket %d", h->has_session_ticket);
    CHECK(h->has_pre_shared_key == row->psk, "psk %d", h->has_pre_shared_key);
    CHECK(h->has_key_share == row->key_share, "key_share %d", h->has_key_share);
    CHECK(!h->has_early_data, "early_data");
    CHECK(gh_client_hello_version(h) == row->version, "version %04x",
          gh_client_hello_version(h));
    CHECK(gh_client_hello_accepts_ecdsa(h) == row->ecdsa, "accepts_ecdsa %d",
          gh_client_hello_accepts_ecdsa(h));
    CHECK(gh_client_hello_accepts_rsa(h) == row->rsa, "accepts_rsa %d",
          gh_client_hello_accepts_rsa(h));
}

static void test_samples(void **state)
{
    (void)state;
    CHECK(ARRAY_LEN(samples) == ARRAY_LEN(hello_samples), "a sample without a row");
    for (size_t i = 0; i < ARRAY_LEN(samples); i++) {
        const struct sample_row *row = &samples[i];
        const struct hello_sample *s = find_sample(row->name);
        row_line = row->line;
        uint8_t *c;
        enum gh_hello_status r = parse_copy(s->bytes, s->len, 0, &h1, &c);
        CHECK(r == DONE, "%s: %s/%s", row->name, st(r), rs(h1.reason));
        if (r == DONE) {
            CHECK(h1.consumed == s->len, "consumed %zu of %zu", h1.consumed, s->len);
            CHECK(h1.n_records == 1 && h1.record_version == 0x0301, "records %zu, version %04x",
                  h1.n_records, h1.record_version);
            CHECK(h1.msg_len == s->len - 9, "msg_len %zu", h1.msg_len);
            CHECK(h1.reason == R(NONE), "reason %s", rs(h1.reason));
            CHECK(spans_inside(&h1, c, s->len), "a span outside the input");
            check_sample_fields(row, &h1);
        }
        free(c);
    }
    END_CHECKS();
}

/* Every prefix of each sample is INCOMPLETE; the sample with more bytes
 * after it (the client's next records) is DONE with the same consumed. */
static void test_sample_prefixes(void **state)
{
    (void)state;
    static const uint8_t after[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01,   /* CCS */
                                     0x17, 0x03, 0x03, 0x00, 0x02, 0xab, 0xcd };
    for (size_t i = 0; i < ARRAY_LEN(hello_samples); i++) {
        const struct hello_sample *s = &hello_samples[i];
        row_line = __LINE__;
        CHECK(check_prefixes(s->bytes, s->len, 0, DONE, R(NONE)) == s->len, "%s", s->name);
        tb.n = 0;
        put(&tb, s->bytes, s->len);
        put(&tb, after, sizeof after);
        for (size_t k = s->len; k <= tb.n; k++) {
            uint8_t *c;
            enum gh_hello_status r = parse_copy(tb.b, k, 0, &h1, &c);
            CHECK(r == DONE && h1.consumed == s->len, "%s + %zu: %s consumed %zu", s->name,
                  k - s->len, st(r), h1.consumed);
            free(c);
        }
        /* a parse is deterministic, and does not depend on what *out held */
        enum gh_hello_reason why;
        memset(&h2, 0xA5, sizeof h2);
        CHECK(parse_status(s->bytes, s->len, 0, &why) == DONE, "%s after garbage", s->name);
    }
    END_CHECKS();
}

/* ---- fragmentation ---------------------------------------------------------- */

/* Parses the sample re-split by frag[] and compares with its one-record
 * parse (in h1). */
static void check_split(const struct hello_sample *s, const size_t *frag, size_t nfrag,
                        bool prefixes)
{
    size_t mn;
    const uint8_t *m = sample_msg(s, &mn);
    wrap(&tb2, m, mn, frag, nfrag);
    size_t nrec = (tb2.n - mn) / 5;
    uint8_t *c;
    enum gh_hello_status r = parse_copy(tb2.b, tb2.n, 0, &h2, &c);
    CHECK(r == DONE, "%s in %zu records: %s/%s", s->name, nrec, st(r), rs(h2.reason));
    if (r == DONE) {
        CHECK(h2.consumed == tb2.n && h2.n_records == nrec, "consumed %zu of %zu, records %zu",
              h2.consumed, tb2.n, h2.n_records);
        CHECK(same_fields(&h1, &h2), "%s: fields differ when split into %zu", s->name, nrec);
        CHECK(nrec == 1 || spans_inside(&h2, c, tb2.n), "a span outside defrag");
        CHECK(nrec > 1 || spans_inside(&h2, c, tb2.n), "a span outside the input");
    }
    free(c);
    if (prefixes)
        CHECK(check_prefixes(tb2.b, tb2.n, 0, DONE, R(NONE)) == tb2.n, "prefixes");
}

static void test_fragmented(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(hello_samples); i++) {
        const struct hello_sample *s = &hello_samples[i];
        size_t mn;
        uint8_t *c;
        sample_msg(s, &mn);
        row_line = __LINE__;
        assert_int_equal(parse_copy(s->bytes, s->len, 0, &h1, &c), DONE);
        /* two records, at every cut */
        for (size_t cut = 1; cut < mn; cut++) {
            size_t frag[1] = { cut };
            check_split(s, frag, 1, cut == 2 || cut == mn / 2);
        }
        /* three records: cuts inside the handshake header, then a spread */
        for (size_t a = 1; a < mn - 1; a = a < 8 ? a + 1 : a + 37) {
            for (size_t b = 1; a + b < mn; b = b < 8 ? b + 1 : b + 41) {
                size_t frag[2] = { a, b };
                check_split(s, frag, 2, a == 3 && b == 5);
            }
        }
        /* one byte per record: 6 bytes for each byte of the message */
        size_t ones[600];
        for (size_t k = 0; k < ARRAY_LEN(ones); k++)
            ones[k] = 1;
        if (mn <= ARRAY_LEN(ones))
            check_split(s, ones, mn, false);
        /* and the same with each continuation in another record version */
        size_t frag[2] = { 100, 100 };
        wrap(&tb2, s->bytes + 5, mn, frag, 2);
        tb2.b[2] = 0x03;
        tb2.b[5 + 100 + 2] = 0x02;
        uint8_t *c2;
        CHECK(parse_copy(tb2.b, tb2.n, 0, &h2, &c2) == DONE && h2.record_version == 0x0303 &&
              same_fields(&h1, &h2), "record versions 3.3, 3.2, 3.1");
        free(c2);
        free(c);
    }
    END_CHECKS();
}

/* ---- record layer --------------------------------------------------------------- */

struct rec_row {
    int line;
    const char *bytes;          /* what the client sends, as a C string literal */
    size_t len;
    enum gh_hello_status want;
    enum gh_hello_reason why;
    size_t at;                  /* the shortest prefix that gets the verdict */
};

#define ROW(b, w, r, at) { __LINE__, b, sizeof(b) - 1, w, R(r), at }

static const struct rec_row rec_rows[] = {
    ROW("GET / HTTP/1.1\r\nHost: a\r\n\r\n", NTLS, NOT_TLS, 1),
    ROW("\x80\x2e\x01\x03\x01", NTLS, NOT_TLS, 1),        /* SSLv2 hello */
    ROW("\x15\x03\x03\x00\x02\x02\x28", NTLS, NOT_TLS, 1), /* an alert */
    ROW("\x17\x03\x03\x00\x01\x00", NTLS, NOT_TLS, 1),     /* application data */
    ROW("\x16\x04\x01\x00\x01\x01", NTLS, NOT_TLS, 2),
    ROW("\x16\x02\x00\x00\x01\x01", NTLS, NOT_TLS, 2),
    ROW("\x16\x03\x00\x00\x01\x01", BAD, BAD_RECORD_VERSION, 3),  /* SSL 3.0 record */
    ROW("\x16\x03\x04\x00\x01\x01", BAD, BAD_RECORD_VERSION, 3),
    ROW("\x16\x03\xff\x00\x01\x01", BAD, BAD_RECORD_VERSION, 3),
    ROW("\x16\x03\x01\x00\x00", BAD, BAD_RECORD_LENGTH, 5),
    ROW("\x16\x03\x03\x40\x01\x01", BAD, BAD_RECORD_LENGTH, 5),   /* 16385 */
    ROW("\x16\x03\x03\xff\xff\x01", BAD, BAD_RECORD_LENGTH, 5),
    ROW("\x16\x03\x01\x00\x04\x02\x00\x00\x00", BAD, NOT_CLIENT_HELLO, 6),  /* ServerHello */
    ROW("\x16\x03\x01\x00\x04\x00\x00\x00\x00", BAD, NOT_CLIENT_HELLO, 6),  /* HelloRequest */
    /* the message claims 2^24-1 bytes: decided by its length field */
    ROW("\x16\x03\x01\x00\x04\x01\xff\xff\xff", BIG, TOO_LARGE, 9),
    ROW("\x16\x03\x01\x40\x00\x01\x00\x40\x00", BIG, TOO_LARGE, 9),  /* 16384 + 4 + 5 > max */
    /* a record with more than the message: trailing data, at the length */
    ROW("\x16\x03\x01\x00\x07\x01\x00\x00\x02\x03\x03\x00", BAD, TRAILING_DATA, 9),
    /* ... unless the length is too short for the message anyway */
    ROW("\x16\x03\x01\x00\x05\x01\x00\x00\x00\x00", BAD, BAD_LENGTH, 9),
    /* the message header split over records, then not a handshake record */
    ROW("\x16\x03\x01\x00\x02\x01\x00\x17\x03\x03\x00\x02\x00\x50", BAD, INTERLEAVED, 8),
    ROW("\x16\x03\x01\x00\x02\x01\x00\x16\x02", BAD, BAD_RECORD_VERSION, 9),
    ROW("\x16\x03\x01\x00\x02\x01\x00\x16\x03\x00", BAD, BAD_RECORD_VERSION, 10),
    ROW("\x16\x03\x01\x00\x02\x01\x00\x16\x03\x03\x00\x00", BAD, BAD_RECORD_LENGTH, 12),
    /* length known in record 2: that record's rest is trailing data */
    ROW("\x16\x03\x01\x00\x02\x01\x00\x16\x03\x03\x00\x05\x00\x02\x03\x03\x00", BAD,
        TRAILING_DATA, 14),
    /* body of 1 byte: too short for legacy_version */
    ROW("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03", BAD, BAD_LENGTH, 9),
    ROW("\x16\x03\x01\x00\x06\x01\x00\x00\x02\x02\x03", BAD, BAD_VERSION, 11),
    ROW("\x16\x03\x01\x00\x06\x01\x00\x00\x02\x04\x03", BAD, BAD_VERSION, 11),
};

static void test_record_layer(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(rec_rows); i++) {
        const struct rec_row *row = &rec_rows[i];
        row_line = row->line;
        enum gh_hello_reason why;
        enum gh_hello_status r = parse_status((const uint8_t *)row->bytes, row->len, 0, &why);
        CHECK(r == row->want && why == row->why, "%s/%s, want %s/%s", st(r), rs(why),
              st(row->want), rs(row->why));
        size_t at = check_prefixes((const uint8_t *)row->bytes, row->len, 0, row->want,
                                   row->why);
        CHECK(at == row->at, "verdict at %zu, want %zu", at, row->at);
    }
    /* nothing at all: nothing to say */
    enum gh_hello_reason why;
    row_line = __LINE__;
    CHECK(parse_status((const uint8_t *)"", 0, 0, &why) == INC && why == R(NONE), "empty");
    /* an alert or a new message after the hello's record is the caller's */
    const struct hello_sample *s = find_sample("openssl_tls12_sni");
    tb.n = 0;
    put(&tb, s->bytes, s->len);
    put(&tb, "\x15\x03\x03\x00\x02\x02\x28", 7);
    uint8_t *c;
    CHECK(parse_copy(tb.b, tb.n, 0, &h1, &c) == DONE && h1.consumed == s->len, "alert after");
    free(c);
    /* but not inside it: the hello's message split, then an alert */
    size_t frag[1] = { 50 };
    wrap(&tb, s->bytes + 5, s->len - 5, frag, 1);
    tb.b[5 + 50] = 0x15;
    CHECK(check_prefixes(tb.b, tb.n, 0, BAD, R(INTERLEAVED)) == 5 + 50 + 1, "alert inside");
    END_CHECKS();
}

/* ---- the message, field by field ---------------------------------------------------- */

/* Offsets in a one-record hello from make_hello (record + handshake header
 * = 9 bytes, then the fields). */
#define O_HSLEN 6
#define O_VERSION 9
#define O_SIDLEN (9 + 2 + 32)
#define O_SUITES (O_SIDLEN + 1 + 32)
#define O_COMP (O_SUITES + 2 + 6)
#define O_EXTS (O_COMP + 2)

static void set16(struct buf *o, size_t at, unsigned v)
{
    o->b[at] = (uint8_t)(v >> 8);
    o->b[at + 1] = (uint8_t)v;
}

static unsigned get16(const struct buf *o, size_t at)
{
    return (unsigned)o->b[at] << 8 | o->b[at + 1];
}

/* Checks a hello (in tb) gets want/why, and prefixes agree. */
static void expect(int line, const struct buf *o, enum gh_hello_status want,
                   enum gh_hello_reason why)
{
    row_line = line;
    enum gh_hello_reason got_why;
    enum gh_hello_status r = parse_status(o->b, o->n, 0, &got_why);
    CHECK(r == want && got_why == why, "%s/%s, want %s/%s", st(r), rs(got_why), st(want),
          rs(why));
    check_prefixes(o->b, o->n, 0, want, why);
}

#define EXPECT(o, w, r) expect(__LINE__, (o), (w), R(r))

/* A hello with a good SNI and ALPN, then whatever is in ext. */
static void base_exts(void)
{
    static const char *const alpn[] = { "h2", "http/1.1" };
    static const unsigned groups[] = { 0x001d, 0x0017 };
    static const unsigned sigs[] = { 0x0403, 0x0804 };
    static const unsigned vers[] = { 0x0304, 0x0303 };
    ext.n = 0;
    put_sni(&ext, "example.com");
    put_alpn(&ext, alpn, 2);
    put_ext_u16s(&ext, 10, groups, 2);
    put_ext_u16s(&ext, 13, sigs, 2);
    put16(&ext, 43);
    put16(&ext, 5);
    put8(&ext, 4);
    put16(&ext, vers[0]);
    put16(&ext, vers[1]);
}

static void test_message_fields(void **state)
{
    (void)state;
    /* the built hello itself is fine, and so is each field at its limit */
    base_exts();
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    uint8_t *c;
    row_line = __LINE__;
    CHECK(parse_copy(tb.b, tb.n, 0, &h1, &c) == DONE && h1.n_extensions == 5 &&
              h1.session_id.len == 32 && h1.n_cipher_suites == 3 &&
              h1.suites == (GH_HELLO_CS_TLS13_AES128_GCM | GH_HELLO_CS_ECDHE_ECDSA_AES128_GCM |
                            GH_HELLO_CS_ECDHE_RSA_AES128_GCM) &&
              span_is(h1.server_name, "example.com") && h1.offers_tls13 && h1.offers_tls12 &&
              gh_client_hello_accepts_ecdsa(&h1) && gh_client_hello_accepts_rsa(&h1),
          "built hello");
    free(c);

    /* handshake length: one short leaves a byte in the record */
    make_hello(&tb, &ext);
    tb.b[O_HSLEN + 2]--;
    EXPECT(&tb, BAD, TRAILING_DATA);
    /* one long: the extensions block no longer fills the message, which
     * is clear before the record that would carry the rest */
    make_hello(&tb, &ext);
    tb.b[O_HSLEN + 2]++;
    EXPECT(&tb, BAD, BAD_LENGTH);
    /* one long, record one long with an extra byte: extensions do not fill it */
    make_hello(&tb, &ext);
    tb.b[O_HSLEN + 2]++;
    set16(&tb, 3, get16(&tb, 3) + 1);
    put8(&tb, 0);
    EXPECT(&tb, BAD, BAD_LENGTH);

    /* legacy_version */
    make_hello(&tb, &ext);
    set16(&tb, O_VERSION, 0x0203);
    EXPECT(&tb, BAD, BAD_VERSION);
    make_hello(&tb, &ext);
    set16(&tb, O_VERSION, 0x0301);
    EXPECT(&tb, DONE, NONE);

    /* session id */
    make_hello(&tb, &ext);
    tb.b[O_SIDLEN] = 33;
    EXPECT(&tb, BAD, BAD_SESSION_ID);
    make_hello(&tb, &ext);
    tb.b[O_SIDLEN] = 0xff;
    EXPECT(&tb, BAD, BAD_SESSION_ID);

    /* cipher suites: odd, empty, longer than the message */
    make_hello(&tb, &ext);
    set16(&tb, O_SUITES, 5);
    EXPECT(&tb, BAD, BAD_CIPHER_SUITES);
    make_hello(&tb, &ext);
    set16(&tb, O_SUITES, 0);
    EXPECT(&tb, BAD, BAD_CIPHER_SUITES);
    make_hello(&tb, &ext);
    set16(&tb, O_SUITES, 0xfffe);
    EXPECT(&tb, BAD, BAD_LENGTH);
    /* 8: eats the compression methods, whose length is then the
     * extensions' high byte, 0 */
    make_hello(&tb, &ext);
    set16(&tb, O_SUITES, 8);
    EXPECT(&tb, BAD, BAD_COMPRESSION);

    /* compression: empty, no null, null among others (fine), too long */
    make_hello(&tb, &ext);
    tb.b[O_COMP] = 0;
    EXPECT(&tb, BAD, BAD_COMPRESSION);
    make_hello(&tb, &ext);
    tb.b[O_COMP + 1] = 1;
    EXPECT(&tb, BAD, BAD_COMPRESSION);
    make_hello(&tb, &ext);
    tb.b[O_COMP] = 0xff;
    EXPECT(&tb, BAD, BAD_LENGTH);

    /* extensions block: a length one off either way, a lone byte */
    make_hello(&tb, &ext);
    set16(&tb, O_EXTS, get16(&tb, O_EXTS) - 1);
    EXPECT(&tb, BAD, BAD_LENGTH);
    make_hello(&tb, &ext);
    set16(&tb, O_EXTS, get16(&tb, O_EXTS) + 1);
    EXPECT(&tb, BAD, BAD_LENGTH);
    static struct buf m;
    make_msg(&m, &ext, false);
    put8(&m, 0);
    m.b[3]++;
    wrap(&tb, m.b, m.n, NULL, 0);
    EXPECT(&tb, BAD, BAD_LENGTH);
    /* no extensions at all (a TLS 1.2 hello may), and an empty block */
    make_msg(&m, &ext, false);
    wrap(&tb, m.b, m.n, NULL, 0);
    EXPECT(&tb, DONE, NONE);
    row_line = __LINE__;
    CHECK(parse_copy(tb.b, tb.n, 0, &h1, &c) == DONE && h1.n_extensions == 0 &&
              h1.offers_tls12 && !h1.offers_tls13 && gh_client_hello_version(&h1) == 0x0303 &&
              gh_client_hello_accepts_ecdsa(&h1) && gh_client_hello_accepts_rsa(&h1),
          "no extensions: TLS 1.2 defaults");
    free(c);
    ext.n = 0;
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);

    /* one extension's length runs past the block; the last is cut short */
    base_exts();
    make_hello(&tb, &ext);
    set16(&tb, O_EXTS + 2 + 2, 0x1000);
    EXPECT(&tb, BAD, BAD_LENGTH);
    base_exts();
    put16(&ext, 0x1234);
    put8(&ext, 0);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_LENGTH);
    base_exts();
    put16(&ext, 0x1234);
    put16(&ext, 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_LENGTH);
    END_CHECKS();
}

/* ---- extensions ------------------------------------------------------------------- */

static void test_extensions(void **state)
{
    (void)state;
    static const unsigned sigs[] = { 0x0403 };
    /* duplicates: a known type, an unknown one, GREASE */
    base_exts();
    put_ext_u16s(&ext, 13, sigs, 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, DUPLICATE_EXTENSION);
    base_exts();
    put_ext(&ext, 0x4469, "", 0);
    put_ext(&ext, 0x4469, "x", 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, DUPLICATE_EXTENSION);
    base_exts();
    put_ext(&ext, 0x1a1a, "", 0);
    put_ext(&ext, 0xfafa, "\0", 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    base_exts();
    put_ext(&ext, 0xfafa, "", 0);
    put_ext(&ext, 0xfafa, "", 0);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, DUPLICATE_EXTENSION);

    /* pre_shared_key: last is fine, elsewhere not; early_data: empty */
    base_exts();
    put_ext(&ext, 41, "\0\0\0\0", 4);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    base_exts();
    put_ext(&ext, 41, "\0\0\0\0", 4);
    put_ext(&ext, 21, "\0", 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    base_exts();
    put_ext(&ext, 42, "", 0);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    base_exts();
    put_ext(&ext, 42, "\0\0\0\0", 4);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);

    /* supported_versions: odd, inner length off, empty */
    base_exts();
    ext.b[ext.n - 5] = 3;
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 43, "\x03\x03\x04\x03", 4);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 43, "\x00", 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 43, "", 0);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);

    /* supported_groups, signature_algorithms(_cert): odd, off, empty */
    static const unsigned types[] = { 10, 13, 50 };
    for (size_t i = 0; i < ARRAY_LEN(types); i++) {
        ext.n = 0;
        put_ext(&ext, types[i], "\x00\x03\x00\x17\x00", 5);
        make_hello(&tb, &ext);
        EXPECT(&tb, BAD, BAD_EXTENSION);
        ext.n = 0;
        put_ext(&ext, types[i], "\x00\x04\x00\x17", 4);
        make_hello(&tb, &ext);
        EXPECT(&tb, BAD, BAD_EXTENSION);
        ext.n = 0;
        put_ext(&ext, types[i], "\x00\x00", 2);
        make_hello(&tb, &ext);
        EXPECT(&tb, BAD, BAD_EXTENSION);
        ext.n = 0;
        put_ext(&ext, types[i], "", 0);
        make_hello(&tb, &ext);
        EXPECT(&tb, BAD, BAD_EXTENSION);
    }

    /* ALPN: empty list, empty name, a name past the list, list off */
    ext.n = 0;
    put_ext(&ext, 16, "\x00\x00", 2);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_ALPN);
    ext.n = 0;
    put_ext(&ext, 16, "\x00\x04\x02h2\x00", 6);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_ALPN);
    ext.n = 0;
    put_ext(&ext, 16, "\x00\x03\x03h2", 5);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 16, "\x00\x04\x02h2", 5);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 16, "", 0);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);

    /* unknown extensions are skipped whatever they hold */
    ext.n = 0;
    put_ext(&ext, 0xff01, "\x00", 1);
    put_ext(&ext, 51, "garbage", 7);
    put_ext(&ext, 35, "ticket", 6);
    put_ext(&ext, 0xfe0d, "", 0);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    uint8_t *c;
    row_line = __LINE__;
    CHECK(parse_copy(tb.b, tb.n, 0, &h1, &c) == DONE && h1.n_extensions == 4 &&
              h1.has_key_share && h1.has_session_ticket && !h1.has_server_name &&
              !h1.has_alpn && !h1.has_sig_algs && !h1.has_groups && !h1.offers_tls13 &&
              h1.offers_tls12,
          "unknown extensions");
    free(c);
    END_CHECKS();
}

/* GREASE everywhere (RFC 8701), a post-quantum key share, _cert sigalgs. */
static void test_grease_pq(void **state)
{
    (void)state;
    static const unsigned groups[] = { 0x2a2a, 0x11ec, 0x001d, 0x0017, 0x0018, 0x0100 };
    static const unsigned sigs[] = { 0x3a3a, 0x0403, 0x0804, 0x0401, 0x0201, 0x0203, 0x081a };
    static const unsigned cert_sigs[] = { 0x0401, 0x0501 };
    ext.n = 0;
    put_ext(&ext, 0x0a0a, "", 0);
    put_sni(&ext, "pq.example.com");
    put_ext_u16s(&ext, 10, groups, ARRAY_LEN(groups));
    put_ext_u16s(&ext, 13, sigs, ARRAY_LEN(sigs));
    put_ext_u16s(&ext, 50, cert_sigs, ARRAY_LEN(cert_sigs));
    put_ext(&ext, 43, "\x06\x5a\x5a\x03\x04\x03\x03", 7);
    /* key_share: GREASE entry, X25519MLKEM768 (1216 bytes), X25519 */
    put16(&ext, 51);
    put16(&ext, 2 + 5 + 4 + 1216 + 4 + 32);
    put16(&ext, 5 + 4 + 1216 + 4 + 32);
    put(&ext, "\x2a\x2a\x00\x01\x00", 5);
    put16(&ext, 0x11ec);
    put16(&ext, 1216);
    putn(&ext, 0x33, 1216);
    put16(&ext, 0x001d);
    put16(&ext, 32);
    putn(&ext, 0x44, 32);
    put_ext(&ext, 0x4a4a, "\0", 1);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    uint8_t *c;
    row_line = __LINE__;
    assert_int_equal(parse_copy(tb.b, tb.n, 0, &h1, &c), DONE);
    CHECK(h1.groups == (GH_HELLO_G_OTHER | GH_HELLO_G_PQ_HYBRID | GH_HELLO_G_X25519 |
                        GH_HELLO_G_P256 | GH_HELLO_G_P384 | GH_HELLO_G_FFDHE) &&
              h1.n_groups == 6,
          "groups %#x", h1.groups);
    CHECK(h1.sig_algs == (GH_HELLO_SIG_OTHER | GH_HELLO_SIG_ECDSA_P256 |
                          GH_HELLO_SIG_RSA_PSS_RSAE | GH_HELLO_SIG_RSA_PKCS1 |
                          GH_HELLO_SIG_RSA_PKCS1_SHA1 | GH_HELLO_SIG_ECDSA_SHA1),
          "sig %#x", h1.sig_algs);
    CHECK(h1.has_sig_algs_cert && h1.sig_algs_cert == GH_HELLO_SIG_RSA_PKCS1, "cert sigs %#x",
          h1.sig_algs_cert);
    CHECK(h1.versions == (GH_HELLO_V_TLS12 | GH_HELLO_V_TLS13) && h1.has_key_share &&
              h1.n_extensions == 8,
          "versions %#x", h1.versions);
    /* the same hello in three records, the key share straddling them */
    size_t frag[2] = { 700, 700 };
    wrap(&tb2, tb.b + 5, tb.n - 5, frag, 2);
    uint8_t *c2;
    CHECK(parse_copy(tb2.b, tb2.n, 0, &h2, &c2) == DONE && same_fields(&h1, &h2) &&
              h2.n_records == 3,
          "split PQ hello");
    free(c2);
    free(c);
    END_CHECKS();
}

/* ---- server_name ------------------------------------------------------------------- */

struct sni_row {
    int line;
    const char *name;
    bool ok;
};

static const struct sni_row sni_rows[] = {
    { __LINE__, "a", true },
    { __LINE__, "localhost", true },
    { __LINE__, "WWW.Example.COM", true },
    { __LINE__, "_acme-challenge.example.com", true },
    { __LINE__, "xn--bcher-kva.example", true },
    { __LINE__, "192.0.2.1", true },        /* see client_hello.c: not refused */
    { __LINE__, "a-.b-", true },
    { __LINE__, "", false },
    { __LINE__, "example.com.", false },    /* RFC 6066: no trailing dot */
    { __LINE__, ".example.com", false },
    { __LINE__, "a..example.com", false },
    { __LINE__, ".", false },
    { __LINE__, "exa mple.com", false },
    { __LINE__, "example.com/", false },
    { __LINE__, "*.example.com", false },
    { __LINE__, "ex\x01mple.com", false },
    { __LINE__, "b\xc3\xbc" "cher.example", false },  /* UTF-8: must be an A-label */
    { __LINE__, "example.com:443", false },
    { __LINE__, "[::1]", false },
    { __LINE__, "ex\\ample.com", false },
    { __LINE__, "a@b.com", false },
};

static void test_sni(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(sni_rows); i++) {
        ext.n = 0;
        put_sni(&ext, sni_rows[i].name);
        make_hello(&tb, &ext);
        expect(sni_rows[i].line, &tb, sni_rows[i].ok ? DONE : BAD,
               sni_rows[i].ok ? R(NONE) : R(BAD_SNI));
    }
    /* a NUL inside the name */
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x06\x00\x00\x03" "a\0b", 8);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);

    /* lengths: 255 bytes fine, 256 not; a label of 63 fine, 64 not */
    char name[300];
    memset(name, 'a', sizeof name);
    for (size_t k = 63; k < 255; k += 64)
        name[k] = '.';
    name[255] = '\0';
    ext.n = 0;
    put_sni(&ext, name);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);
    name[255] = 'a';
    name[256] = '\0';
    ext.n = 0;
    put_sni(&ext, name);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);
    memset(name, 'b', 64);
    name[64] = '\0';
    ext.n = 0;
    put_sni(&ext, name);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);
    name[63] = '\0';
    ext.n = 0;
    put_sni(&ext, name);
    make_hello(&tb, &ext);
    EXPECT(&tb, DONE, NONE);

    /* two host_names; another name type; an empty list; lengths off */
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x0a\x00\x00\x02" "ab" "\x00\x00\x02" "cd", 12);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x0a\x00\x00\x02" "ab" "\x01\x00\x02" "cd", 12);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x05\x01\x00\x02" "ab", 7);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x00", 2);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_SNI);
    ext.n = 0;
    put_ext(&ext, 0, "", 0);        /* what a server sends back; not a client */
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x06\x00\x00\x02" "ab", 7);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x05\x00\x00\x03" "ab", 7);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);
    ext.n = 0;
    put_ext(&ext, 0, "\x00\x02\x00\x00", 4);
    make_hello(&tb, &ext);
    EXPECT(&tb, BAD, BAD_EXTENSION);

    /* sni_equals: case, the trailing dot on the name asked for */
    ext.n = 0;
    put_sni(&ext, "Www.Example.com");
    make_hello(&tb, &ext);
    uint8_t *c;
    row_line = __LINE__;
    assert_int_equal(parse_copy(tb.b, tb.n, 0, &h1, &c), DONE);
    CHECK(span_is(h1.server_name, "Www.Example.com"), "raw case kept");
    CHECK(gh_client_hello_sni_equals(&h1, "www.example.com"), "lowercase");
    CHECK(gh_client_hello_sni_equals(&h1, "WWW.EXAMPLE.COM."), "trailing dot");
    CHECK(!gh_client_hello_sni_equals(&h1, "WWW.EXAMPLE.COM.."), "two dots");
    CHECK(!gh_client_hello_sni_equals(&h1, "www.example.co"), "shorter");
    CHECK(!gh_client_hello_sni_equals(&h1, "*.example.com"), "equals is not a wildcard");
    CHECK(!gh_client_hello_sni_equals(&h1, ""), "empty");
    CHECK(!gh_client_hello_sni_equals(&h1, NULL), "NULL");
    free(c);
    END_CHECKS();
}

/* ---- the wildcard matcher ------------------------------------------------------------- */

struct match_row {
    int line;
    const char *pattern;
    const char *name;
    bool match;
};

static const struct match_row match_rows[] = {
    /* exact, case-insensitive */
    { __LINE__, "example.com", "example.com", true },
    { __LINE__, "Example.COM", "eXample.com", true },
    { __LINE__, "example.com", "example.co", false },
    { __LINE__, "example.com", "www.example.com", false },
    { __LINE__, "www.example.com", "example.com", false },
    { __LINE__, "example.com", "example.com.evil", false },
    { __LINE__, "a", "a", true },
    { __LINE__, "", "", false },
    { __LINE__, "", "a", false },
    { __LINE__, "a", "", false },
    /* trailing dot: one on either side is the same name */
    { __LINE__, "example.com.", "example.com", true },
    { __LINE__, "example.com", "example.com.", true },
    { __LINE__, "example.com.", "example.com.", true },
    { __LINE__, "example.com..", "example.com", false },
    { __LINE__, "example.com", "example.com..", false },
    { __LINE__, ".", ".", false },
    /* wildcard: exactly one left-most label */
    { __LINE__, "*.example.com", "www.example.com", true },
    { __LINE__, "*.example.com", "WWW.EXAMPLE.COM", true },
    { __LINE__, "*.Example.Com", "a.example.com", true },
    { __LINE__, "*.example.com", "_dmarc.example.com", true },
    { __LINE__, "*.example.com", "xn--bcher-kva.example.com", true },
    { __LINE__, "*.example.com", "example.com", false },        /* not the apex */
    { __LINE__, "*.example.com", ".example.com", false },       /* empty label */
    { __LINE__, "*.example.com", "a.b.example.com", false },    /* not two labels */
    { __LINE__, "*.example.com", "a.example.org", false },
    { __LINE__, "*.example.com", "aexample.com", false },
    { __LINE__, "*.example.com", "www.example.com.", true },
    { __LINE__, "*.example.com.", "www.example.com", true },
    { __LINE__, "*.example.com", "*.example.com", false },      /* a name with '*' */
    { __LINE__, "*.example.com", "www.example.com.evil", false },
    { __LINE__, "*.a.b.c", "x.a.b.c", true },
    /* '*' only as the whole left-most label, with two labels after it */
    { __LINE__, "*.com", "example.com", false },
    { __LINE__, "*.", "a.", false },
    { __LINE__, "*", "a", false },
    { __LINE__, "*", "*", false },
    { __LINE__, "w*.example.com", "www.example.com", false },
    { __LINE__, "*w.example.com", "www.example.com", false },
    { __LINE__, "w*w.example.com", "www.example.com", false },
    { __LINE__, "www.*.com", "www.example.com", false },
    { __LINE__, "www.example.*", "www.example.com", false },
    { __LINE__, "*.*.example.com", "a.b.example.com", false },
    { __LINE__, "**.example.com", "a.example.com", false },
    { __LINE__, "*.example..com", "a.example..com", false },
    { __LINE__, "*..example.com", "a..example.com", false },
    { __LINE__, "*example.com", "www.example.com", false },
    { __LINE__, "w*.example.com", "w*.example.com", false },
};

static void test_wildcards(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(match_rows); i++) {
        const struct match_row *row = &match_rows[i];
        row_line = row->line;
        size_t n = strlen(row->name);
        uint8_t *name = dup_exact(row->name, n);
        struct gh_hello_span s = { name, n };
        bool got = gh_sni_matches(row->pattern, s);
        CHECK(got == row->match, "\"%s\" vs \"%s\": %d", row->pattern, row->name, got);
        free(name);
    }
    row_line = __LINE__;
    struct gh_hello_span none = { NULL, 0 };
    CHECK(!gh_sni_matches("example.com", none), "no name");
    struct gh_hello_span some = { (const uint8_t *)"a.example.com", 13 };
    CHECK(!gh_sni_matches(NULL, some), "no pattern");
    END_CHECKS();
}

/* ---- ALPN ----------------------------------------------------------------------------- */

static void test_alpn(void **state)
{
    (void)state;
    /* 20 names: the array keeps 16, offers_alpn sees all */
    static const char *const names[] = {
        "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9",
        "p10", "p11", "p12", "p13", "p14", "p15", "acme-tls/1", "h2", "http/1.1",
        "\xff\x01 binary",
    };
    ext.n = 0;
    put_alpn(&ext, names, ARRAY_LEN(names));
    make_hello(&tb, &ext);
    uint8_t *c;
    row_line = __LINE__;
    assert_int_equal(parse_copy(tb.b, tb.n, 0, &h1, &c), DONE);
    CHECK(h1.has_alpn && h1.n_alpn == ARRAY_LEN(names), "n_alpn %zu", h1.n_alpn);
    for (size_t i = 0; i < GH_CLIENT_HELLO_MAX_ALPN; i++)
        CHECK(span_is(h1.alpn[i], names[i]), "alpn[%zu]", i);
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        CHECK(gh_client_hello_offers_alpn(&h1, names[i]), "offers %s", names[i]);
    CHECK(!gh_client_hello_offers_alpn(&h1, "HTTP/1.1"), "ALPN is byte for byte");
    CHECK(!gh_client_hello_offers_alpn(&h1, "http/1"), "prefix");
    CHECK(!gh_client_hello_offers_alpn(&h1, "p"), "prefix of p0");
    CHECK(!gh_client_hello_offers_alpn(&h1, ""), "empty");
    CHECK(!gh_client_hello_offers_alpn(&h1, NULL), "NULL");
    CHECK(h1.alpn_list.len == ext.n - 6, "alpn_list %zu", h1.alpn_list.len);
    free(c);
    END_CHECKS();
}

/* ---- certificate choice ------------------------------------------------------------------ */

struct accept_row {
    int line;
    unsigned versions;          /* supported_versions; 0: none sent */
    uint16_t legacy;
    unsigned suites;
    int sigs;                   /* GH_HELLO_SIG_*; -1: no signature_algorithms */
    int groups;                 /* GH_HELLO_G_*; -1: no supported_groups */
    uint16_t version;
    bool ecdsa, rsa;
};

#define S13 GH_HELLO_CS_TLS13_AES128_GCM
#define SE GH_HELLO_CS_ECDHE_ECDSA_AES128_GCM
#define SR GH_HELLO_CS_ECDHE_RSA_CHACHA20
#define V12 GH_HELLO_V_TLS12
#define V13 GH_HELLO_V_TLS13
#define P256 GH_HELLO_SIG_ECDSA_P256
#define P384 GH_HELLO_SIG_ECDSA_P384
#define PSS GH_HELLO_SIG_RSA_PSS_RSAE
#define PKCS1 GH_HELLO_SIG_RSA_PKCS1

static const struct accept_row accept_rows[] = {
    /* TLS 1.3: the signature scheme decides */
    { __LINE__, V13 | V12, 0x0303, S13 | SE | SR, P256 | PSS, -1, 0x0304, true, true },
    { __LINE__, V13, 0x0303, S13, P256, -1, 0x0304, true, false },
    { __LINE__, V13, 0x0303, S13, P384, -1, 0x0304, false, false },  /* P-256 key: 0x0403 */
    { __LINE__, V13, 0x0303, S13, PSS, -1, 0x0304, false, true },
    { __LINE__, V13, 0x0303, S13, PKCS1, -1, 0x0304, false, false }, /* PSS only in 1.3 */
    { __LINE__, V13, 0x0303, S13, GH_HELLO_SIG_RSA_PSS_PSS, -1, 0x0304, false, false },
    { __LINE__, V13, 0x0303, S13, GH_HELLO_SIG_ED25519, -1, 0x0304, false, false },
    { __LINE__, V13, 0x0303, S13, -1, -1, 0x0304, false, false },    /* 1.3 needs sigalgs */
    { __LINE__, V13 | V12, 0x0303, S13 | SE, P256, GH_HELLO_G_X25519, 0x0304, true, false },
    /* 1.3 listed but no 1.3 suite: TLS 1.2 rules */
    { __LINE__, V13 | V12, 0x0303, SE, P384, -1, 0x0303, true, false },
    { __LINE__, V13, 0x0303, SE, P384, -1, 0, false, false },
    /* TLS 1.2: a suite, then the signature algorithms, default sha1 */
    { __LINE__, 0, 0x0303, SE | SR, -1, -1, 0x0303, true, true },
    { __LINE__, 0, 0x0303, SE, -1, -1, 0x0303, true, false },
    { __LINE__, 0, 0x0303, SR, -1, -1, 0x0303, false, true },
    { __LINE__, 0, 0x0303, S13, -1, -1, 0x0303, false, false },
    { __LINE__, 0, 0x0303, SE | SR, P384, -1, 0x0303, true, false },   /* any hash in 1.2 */
    { __LINE__, 0, 0x0303, SE | SR, GH_HELLO_SIG_ECDSA_SHA1, -1, 0x0303, true, false },
    { __LINE__, 0, 0x0303, SE | SR, PKCS1, -1, 0x0303, false, true },
    { __LINE__, 0, 0x0303, SE | SR, GH_HELLO_SIG_RSA_PKCS1_SHA1, -1, 0x0303, false, true },
    { __LINE__, 0, 0x0303, SE | SR, PSS, -1, 0x0303, false, true },
    { __LINE__, 0, 0x0303, SE | SR, GH_HELLO_SIG_ED25519, -1, 0x0303, false, false },
    /* TLS 1.2 ECDSA: the certificate's curve must be a supported group */
    { __LINE__, 0, 0x0303, SE, -1, GH_HELLO_G_P256, 0x0303, true, false },
    { __LINE__, 0, 0x0303, SE, -1, GH_HELLO_G_X25519 | GH_HELLO_G_P384, 0x0303, false, false },
    { __LINE__, 0, 0x0303, SR, -1, GH_HELLO_G_X25519, 0x0303, false, true },
    /* supported_versions without 1.2, or an old legacy_version */
    { __LINE__, GH_HELLO_V_TLS11, 0x0303, SE | SR, -1, -1, 0, false, false },
    { __LINE__, 0, 0x0302, SE | SR, -1, -1, 0, false, false },
    { __LINE__, 0, 0x0304, SE | SR, -1, -1, 0x0303, true, true },   /* newer: says 1.2 too */
    { __LINE__, V12, 0x0301, SE | SR, -1, -1, 0x0303, true, true }, /* legacy ignored */
};

static void test_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(accept_rows); i++) {
        const struct accept_row *row = &accept_rows[i];
        row_line = row->line;
        /* as bytes, so the flags come from the parser */
        ext.n = 0;
        if (row->versions) {
            unsigned v[4];
            size_t n = 0;
            for (unsigned b = 0; b < 4; b++)
                if (row->versions & (1u << b))
                    v[n++] = 0x0301 + b;
            put16(&ext, 43);
            put16(&ext, (unsigned)(1 + 2 * n));
            put8(&ext, (unsigned)(2 * n));
            for (size_t k = 0; k < n; k++)
                put16(&ext, v[k]);
        }
        if (row->sigs >= 0) {
            static const unsigned code[] = { 0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0809,
                                             0x0401, 0x0201, 0x0807, 0x0808 };
            unsigned v[16];
            size_t n = 0;
            for (unsigned b = 0; b < ARRAY_LEN(code); b++)
                if ((unsigned)row->sigs & (1u << b))
                    v[n++] = code[b];
            put_ext_u16s(&ext, 13, v, n);
        }
        if (row->groups >= 0) {
            static const unsigned code[] = { 0x001d, 0x0017, 0x0018, 0x0019 };
            unsigned v[4];
            size_t n = 0;
            for (unsigned b = 0; b < ARRAY_LEN(code); b++)
                if ((unsigned)row->groups & (1u << b))
                    v[n++] = code[b];
            put_ext_u16s(&ext, 10, v, n);
        }
        static struct buf m;
        make_msg(&m, &ext, true);
        /* replace the suites: same length (3 entries), padded with 0x00ff */
        static const struct { unsigned bit, code; } suite[] = { { S13, 0x1301 },
                                                               { SE, 0xc02b },
                                                               { SR, 0xcca8 } };
        for (size_t k = 0; k < 3; k++) {
            unsigned code = row->suites & suite[k].bit ? suite[k].code : 0x00ff;
            m.b[4 + 2 + 32 + 33 + 2 + 2 * k] = (uint8_t)(code >> 8);
            m.b[4 + 2 + 32 + 33 + 2 + 2 * k + 1] = (uint8_t)code;
        }
        m.b[4] = (uint8_t)(row->legacy >> 8);
        m.b[5] = (uint8_t)row->legacy;
        wrap(&tb, m.b, m.n, NULL, 0);
        uint8_t *c;
        enum gh_hello_status r = parse_copy(tb.b, tb.n, 0, &h1, &c);
        CHECK(r == DONE, "%s/%s", st(r), rs(h1.reason));
        CHECK(h1.suites == row->suites, "suites %#x", h1.suites);
        CHECK(row->sigs < 0 ? !h1.has_sig_algs : h1.sig_algs == (unsigned)row->sigs,
              "sigs %#x", h1.sig_algs);
        CHECK(gh_client_hello_version(&h1) == row->version, "version %04x want %04x",
              gh_client_hello_version(&h1), row->version);
        CHECK(gh_client_hello_accepts_ecdsa(&h1) == row->ecdsa, "ecdsa %d",
              gh_client_hello_accepts_ecdsa(&h1));
        CHECK(gh_client_hello_accepts_rsa(&h1) == row->rsa, "rsa %d",
              gh_client_hello_accepts_rsa(&h1));
        free(c);
    }
    END_CHECKS();
}

/* ---- size limits --------------------------------------------------------------------------- */

/* A hello whose message is exactly mlen bytes (4-byte header included),
 * padded with an unknown extension. */
static void sized_msg(struct buf *m, size_t mlen)
{
    static struct buf e;
    e.n = 0;
    make_msg(m, &e, true);
    size_t pad = mlen - m->n - 4;
    e.n = 0;
    put16(&e, 21);          /* padding (RFC 7685) */
    put16(&e, (unsigned)pad);
    putn(&e, 0, pad);
    make_msg(m, &e, true);
    assert_int_equal(m->n, mlen);
}

static void test_limits(void **state)
{
    (void)state;
    static struct buf m;
    /* one record of 2^14 bytes: the whole default maximum */
    sized_msg(&m, 16384);
    wrap(&tb, m.b, m.n, NULL, 0);
    assert_int_equal(tb.n, MAXB);
    EXPECT(&tb, DONE, NONE);
    /* one byte more needs a second record, which cannot fit: decided at
     * the length field */
    sized_msg(&m, 16385);
    size_t frag[1] = { 16384 };
    wrap(&tb, m.b, m.n, frag, 1);
    row_line = __LINE__;
    CHECK(check_prefixes(tb.b, tb.n, 0, BIG, R(TOO_LARGE)) == 9, "16385 in two records");
    /* fragmented within the maximum: fine; one byte over: not */
    sized_msg(&m, 16384 - 10);
    size_t frag3[2] = { 5000, 5000 };
    wrap(&tb, m.b, m.n, frag3, 2);
    assert_int_equal(tb.n, MAXB);
    EXPECT(&tb, DONE, NONE);
    sized_msg(&m, 16384 - 9);
    wrap(&tb, m.b, m.n, frag3, 2);
    row_line = __LINE__;
    /* the second header shows the third is needed and cannot fit */
    CHECK(check_prefixes(tb.b, tb.n, 0, BIG, R(TOO_LARGE)) == 5 + 5000 + 5, "three records");
    /* one record that says it is longer than the maximum allows */
    sized_msg(&m, 200);
    wrap(&tb, m.b, m.n, NULL, 0);
    row_line = __LINE__;
    CHECK(check_prefixes(tb.b, tb.n, tb.n, DONE, R(NONE)) == tb.n, "max = len");
    /* decided by the record length already */
    CHECK(check_prefixes(tb.b, tb.n, tb.n - 1, BIG, R(TOO_LARGE)) == 5, "max = len - 1");
    /* message length unknown yet: a record longer than the maximum */
    static const uint8_t two[] = { 0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x00,
                                   0x16, 0x03, 0x01, 0x00, 0x80 };
    CHECK(check_prefixes(two, sizeof two, 100, BIG, R(TOO_LARGE)) == 12, "unknown length");
    CHECK(check_prefixes(two, sizeof two, 0, INC, R(NONE)) == 0, "fits the default");
    /* maxima below 6 are 6; above the build's maximum, the build's */
    enum gh_hello_reason why;
    CHECK(parse_status((const uint8_t *)"G", 1, 1, &why) == NTLS, "max 1");
    CHECK(parse_status(two, 7, 1, &why) == BIG, "max 1, record of 2");
    sized_msg(&m, 16384);
    wrap(&tb, m.b, m.n, NULL, 0);
    CHECK(parse_status(tb.b, tb.n, (size_t)-1, &why) == DONE, "max SIZE_MAX");

    /* INCOMPLETE never at or past the maximum: the largest incomplete
     * input is one byte short */
    CHECK(parse_status(tb.b, tb.n - 1, 0, &why) == INC, "one short");
    END_CHECKS();
}

/* ---- every byte changed ------------------------------------------------------------------- */

/* Each byte of a real hello set to other values: never a crash, and the
 * prefix promise holds for the result. */
static void test_corruptions(void **state)
{
    (void)state;
    const struct hello_sample *s = find_sample("openssl_tls13_sni_alpn");
    static const uint8_t values[] = { 0x00, 0xff, 0x01 };
    int verdicts[5] = { 0 };
    for (size_t at = 0; at < s->len; at++) {
        for (size_t v = 0; v < ARRAY_LEN(values); v++) {
            tb.n = 0;
            put(&tb, s->bytes, s->len);
            if (tb.b[at] == values[v])
                continue;
            tb.b[at] = values[v];
            enum gh_hello_reason why;
            enum gh_hello_status r = parse_status(tb.b, tb.n, 0, &why);
            row_line = __LINE__;
            CHECK(r >= BIG && r <= DONE, "status %d", r);
            CHECK((r == DONE || r == INC) == (why == R(NONE)), "reason %s with %s", rs(why),
                  st(r));
            verdicts[r + 3]++;
            /* the prefix promise, on a sample of positions (it is O(n^2)) */
            if (at % 17 == 0)
                check_prefixes(tb.b, tb.n, 0, r, why);
        }
    }
    print_message("corruptions: %d done, %d incomplete, %d malformed, %d not_tls, %d too_large\n",
                  verdicts[DONE + 3], verdicts[INC + 3], verdicts[BAD + 3],
                  verdicts[NTLS + 3], verdicts[BIG + 3]);
    END_CHECKS();
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < GH_HELLO_R_COUNT; i++) {
        const char *n = gh_client_hello_reason_name((enum gh_hello_reason)i);
        row_line = __LINE__;
        CHECK(n && *n && strcmp(n, "unknown") != 0, "reason %d", i);
        CHECK(i == 0 || strncmp(n, "hello_", 6) == 0, "%s", n);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(n, gh_client_hello_reason_name((enum gh_hello_reason)j)) != 0,
                  "%s twice", n);
    }
    row_line = __LINE__;
    CHECK(strcmp(gh_client_hello_reason_name(R(COUNT)), "unknown") == 0, "past the end");
    CHECK(strcmp(rs(R(NONE)), "none") == 0 && strcmp(rs(R(BAD_SNI)), "hello_bad_sni") == 0,
          "names");
    CHECK(strcmp(st(DONE), "done") == 0 && strcmp(st(INC), "incomplete") == 0 &&
              strcmp(st(NTLS), "not_tls") == 0 && strcmp(st(BAD), "malformed") == 0 &&
              strcmp(st(BIG), "too_large") == 0 &&
              strcmp(st((enum gh_hello_status)7), "unknown") == 0,
          "status names");
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_sample_prefixes),
        cmocka_unit_test(test_fragmented),
        cmocka_unit_test(test_record_layer),
        cmocka_unit_test(test_message_fields),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_grease_pq),
        cmocka_unit_test(test_sni),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_corruptions),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
