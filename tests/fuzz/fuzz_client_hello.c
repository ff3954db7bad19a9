/* fuzz_client_hello.c - libFuzzer target for the ClientHello parser
 * (src/client_hello.c).
 *
 * The input is what a client sends first on a connection. The target
 * parses it and aborts when a result breaks the contract of
 * include/gatehouse/client_hello.h:
 *  - the status is one of the five, the reason goes with it (NONE exactly
 *    for DONE and INCOMPLETE, hello_not_tls for NOT_TLS, hello_too_large
 *    for TOO_LARGE), and INCOMPLETE only below the maximum;
 *  - a second parse of the same bytes gives the same result and fields;
 *  - prefixes: for DONE, every prefix shorter than consumed is INCOMPLETE;
 *    otherwise every prefix is INCOMPLETE or the same verdict, and once a
 *    prefix has it every longer one does (checked on a spread of prefixes,
 *    since each parse is O(n));
 *  - DONE: consumed <= len; data[0, consumed) is n_records handshake
 *    records holding exactly the 4 + msg_len byte message; every span lies
 *    inside data (one record) or out->defrag (several); the server name is
 *    a valid host name that matches itself; each kept ALPN name is offered;
 *    the certificate helpers agree with the flags;
 *  - the message re-split into other records (sizes drawn from the input)
 *    parses to the same fields when it fits the maximum, and TOO_LARGE
 *    when it does not;
 *  - a lower maximum gives the same verdict or TOO_LARGE. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/client_hello.h"

#include "fuzz_common.h"

#define MAXB GH_CLIENT_HELLO_MAX_BYTES

static struct gh_client_hello h1, h2;
static uint8_t msg[MAXB];
static uint8_t split[MAXB + 4096];

static enum gh_hello_status parse_copy(const uint8_t *d, size_t n, size_t max,
                                       struct gh_client_hello *h)
{
    uint8_t *c = dup_exact(d, n);
    enum gh_hello_status s = gh_client_hello_parse_max(c, n, max, h);
    free(c);                    /* spans in h are not looked at after this */
    return s;
}

static int span_in(struct gh_hello_span s, const uint8_t *base, size_t len)
{
    if (!s.p)
        return s.len == 0;
    return s.p >= base && s.p <= base + len && s.len <= (size_t)(base + len - s.p);
}

static int span_same(struct gh_hello_span a, struct gh_hello_span b)
{
    return a.len == b.len && (a.p == NULL) == (b.p == NULL) &&
           (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int same_fields(const struct gh_client_hello *a, const struct gh_client_hello *b)
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
        return 0;
    for (size_t i = 0; i < a->n_alpn && i < GH_CLIENT_HELLO_MAX_ALPN; i++)
        if (!span_same(a->alpn[i], b->alpn[i]))
            return 0;
    return 1;
}

static int dns_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Prefix lengths worth checking: the first 96 (record and handshake
 * headers, the fixed fields), the last few, and a spread between. */
static int want_prefix(size_t k, size_t n)
{
    return k < 96 || k + 8 >= n || k % 61 == 0;
}

static void check_prefixes(const uint8_t *d, size_t n, enum gh_hello_status st,
                           enum gh_hello_reason why, size_t consumed)
{
    int seen = 0;
    for (size_t k = 0; k < n; k++) {
        if (!want_prefix(k, n))
            continue;
        enum gh_hello_status s = parse_copy(d, k, 0, &h2);
        if (st == GH_HELLO_DONE) {
            REQUIRE(k < consumed ? s == GH_HELLO_INCOMPLETE
                                 : s == GH_HELLO_DONE && h2.consumed == consumed);
        } else if (s == GH_HELLO_INCOMPLETE) {
            REQUIRE(!seen && h2.reason == GH_HELLO_R_NONE);
        } else {
            REQUIRE(s == st && h2.reason == why);
            seen = 1;
        }
    }
}

static void check_status(enum gh_hello_status st, const struct gh_client_hello *h, size_t len,
                         size_t max)
{
    switch (st) {
    case GH_HELLO_INCOMPLETE:
        REQUIRE(h->reason == GH_HELLO_R_NONE && len < max);
        break;
    case GH_HELLO_DONE:
        REQUIRE(h->reason == GH_HELLO_R_NONE);
        break;
    case GH_HELLO_NOT_TLS:
        REQUIRE(h->reason == GH_HELLO_R_NOT_TLS);
        break;
    case GH_HELLO_TOO_LARGE:
        REQUIRE(h->reason == GH_HELLO_R_TOO_LARGE);
        break;
    case GH_HELLO_MALFORMED:
        REQUIRE(h->reason > GH_HELLO_R_NOT_TLS && h->reason < GH_HELLO_R_TOO_LARGE);
        break;
    default:
        REQUIRE(0);
    }
}

/* Gathers the message of a DONE parse from its records into msg; checks
 * the records tile data[0, consumed). Returns the message length. */
static size_t gather(const uint8_t *d, const struct gh_client_hello *h)
{
    size_t off = 0, n = 0, recs = 0;
    while (off < h->consumed) {
        REQUIRE(h->consumed - off >= 6);
        REQUIRE(d[off] == 0x16 && d[off + 1] == 3 && d[off + 2] >= 1 && d[off + 2] <= 3);
        size_t rl = (size_t)d[off + 3] << 8 | d[off + 4];
        REQUIRE(rl >= 1 && rl <= 16384 && off + 5 + rl <= h->consumed);
        memcpy(msg + n, d + off + 5, rl);
        n += rl;
        off += 5 + rl;
        recs++;
    }
    REQUIRE(recs == h->n_records && n == 4 + h->msg_len);
    REQUIRE(msg[0] == 1 && ((size_t)msg[1] << 16 | (size_t)msg[2] << 8 | msg[3]) == h->msg_len);
    return n;
}

static void check_done(const uint8_t *d, size_t len, const struct gh_client_hello *h)
{
    REQUIRE(h->consumed <= len && h->consumed >= 5 + 4 + 41 && h->n_records >= 1);
    REQUIRE(h->record_version == ((unsigned)d[1] << 8 | d[2]));
    const uint8_t *base = h->n_records == 1 ? d : h->defrag;
    size_t blen = h->n_records == 1 ? len : sizeof h->defrag;
    REQUIRE(span_in(h->random, base, blen) && h->random.len == 32);
    REQUIRE(span_in(h->session_id, base, blen) && h->session_id.len <= 32);
    REQUIRE(span_in(h->cipher_suites, base, blen));
    REQUIRE(h->cipher_suites.len == 2 * h->n_cipher_suites && h->n_cipher_suites >= 1);
    REQUIRE(h->n_compression_methods >= 1);
    REQUIRE((h->legacy_version >> 8) == 3);
    REQUIRE(span_in(h->server_name, base, blen) && span_in(h->alpn_list, base, blen));
    if (h->has_server_name) {
        size_t n = h->server_name.len, label = 0;
        REQUIRE(n >= 1 && n <= GH_SNI_MAX);
        for (size_t i = 0; i < n; i++) {
            uint8_t c = h->server_name.p[i];
            REQUIRE(c == '.' ? label > 0 : dns_char(c));
            label = c == '.' ? 0 : label + 1;
            REQUIRE(label <= 63);
        }
        REQUIRE(label > 0);
        char name[GH_SNI_MAX + 1];
        memcpy(name, h->server_name.p, n);
        name[n] = '\0';
        REQUIRE(gh_client_hello_sni_equals(h, name));
        REQUIRE(gh_sni_matches(name, h->server_name));
    } else {
        REQUIRE(h->server_name.p == NULL && h->server_name.len == 0);
        REQUIRE(!gh_client_hello_sni_equals(h, "a"));
    }
    if (h->has_alpn) {
        REQUIRE(h->n_alpn >= 1 && h->alpn_list.len >= 2);
        for (size_t i = 0; i < h->n_alpn && i < GH_CLIENT_HELLO_MAX_ALPN; i++) {
            struct gh_hello_span a = h->alpn[i];
            REQUIRE(a.len >= 1 && span_in(a, h->alpn_list.p, h->alpn_list.len));
            REQUIRE(a.p[-1] == a.len);
            char name[256];
            memcpy(name, a.p, a.len);
            name[a.len] = '\0';
            if (strlen(name) == a.len)
                REQUIRE(gh_client_hello_offers_alpn(h, name));
        }
    } else {
        REQUIRE(h->n_alpn == 0 && h->alpn_list.p == NULL);
    }
    if (!h->has_supported_versions)
        REQUIRE(h->versions == 0 && !h->offers_tls13);
    uint16_t v = gh_client_hello_version(h);
    REQUIRE(v == 0 || v == 0x0303 || v == 0x0304);
    if (gh_client_hello_accepts_ecdsa(h))
        REQUIRE(v == 0x0304 ? (h->sig_algs & GH_HELLO_SIG_ECDSA_P256) != 0
                            : v == 0x0303 && (h->suites & GH_HELLO_CS_ECDHE_ECDSA));
    if (gh_client_hello_accepts_rsa(h))
        REQUIRE(v == 0x0304 ? (h->sig_algs & GH_HELLO_SIG_RSA_PSS_RSAE) != 0
                            : v == 0x0303 && (h->suites & GH_HELLO_CS_ECDHE_RSA));
}

/* Re-splits the message into records with sizes drawn from the input and
 * parses that; the same fields when it fits, TOO_LARGE when not. */
static void check_resplit(const uint8_t *d, size_t len, size_t mn)
{
    uint32_t x = (uint32_t)len * 2654435761u ^ d[len / 2] ^ (uint32_t)d[len - 1] << 8;
    size_t out = 0, at = 0, nrec = 0;
    unsigned shape = x & 3;
    while (at < mn) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        size_t k = shape == 0 ? 1 + x % 8 : shape == 1 ? 1 + x % 300 : 1 + x % (mn + 1);
        if (k > mn - at)
            k = mn - at;
        if (k > 16384)
            k = 16384;
        if (out + 5 + k > sizeof split)
            return;             /* would not fit our buffer: skip this shape */
        split[out] = 0x16;
        split[out + 1] = 3;
        split[out + 2] = (uint8_t)(1 + (x >> 8) % 3);
        split[out + 3] = (uint8_t)(k >> 8);
        split[out + 4] = (uint8_t)k;
        memcpy(split + out + 5, msg + at, k);
        out += 5 + k;
        at += k;
        nrec++;
    }
    enum gh_hello_status s = parse_copy(split, out, 0, &h2);
    if (out > MAXB) {
        REQUIRE(s == GH_HELLO_TOO_LARGE);
        return;
    }
    REQUIRE(s == GH_HELLO_DONE && h2.consumed == out && h2.n_records == nrec);
    /* h2's spans pointed into a freed copy or into h2.defrag: parse again
     * on split itself, which stays, to compare fields */
    REQUIRE(gh_client_hello_parse(split, out, &h2) == GH_HELLO_DONE);
    REQUIRE(same_fields(&h1, &h2));
    check_prefixes(split, out, GH_HELLO_DONE, GH_HELLO_R_NONE, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum gh_hello_status st = gh_client_hello_parse(data, size, &h1);
    check_status(st, &h1, size, MAXB);
    enum gh_hello_reason why = h1.reason;

    /* deterministic, whatever *out held */
    memset(&h2, 0x5A, sizeof h2);
    REQUIRE(gh_client_hello_parse(data, size, &h2) == st && h2.reason == why);
    if (st == GH_HELLO_DONE)
        REQUIRE(same_fields(&h1, &h2) && h2.consumed == h1.consumed &&
                h2.n_records == h1.n_records);

    /* a lower maximum: the same verdict, or TOO_LARGE */
    size_t lower = size > 64 ? size / 2 : 64;
    enum gh_hello_status sl = parse_copy(data, size, lower, &h2);
    check_status(sl, &h2, size, lower);
    if (st == GH_HELLO_DONE)
        REQUIRE(h1.consumed <= lower ? sl == GH_HELLO_DONE && h2.consumed == h1.consumed
                                     : sl == GH_HELLO_TOO_LARGE);
    else
        REQUIRE((sl == st && h2.reason == why) || sl == GH_HELLO_TOO_LARGE);

    if (st == GH_HELLO_DONE) {
        check_done(data, size, &h1);
        size_t consumed = h1.consumed;
        size_t mn = gather(data, &h1);
        check_resplit(data, size, mn);
        /* h1 is still the parse of data (check_resplit compared against it) */
        check_prefixes(data, size, st, why, consumed);
    } else {
        check_prefixes(data, size, st, why, 0);
    }
    return 0;
}
