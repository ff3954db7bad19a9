/* fuzz_proxy_protocol.c - libFuzzer target for the PROXY protocol module
 * (src/proxy_protocol.c).
 *
 * Each input is used three ways, and the target aborts when a result breaks
 * the contract of include/gatehouse/proxy_protocol.h:
 *  - as bytes from a balancer, parsed with the default limit and with the
 *    largest one: the result is at most len; a header is re-parsed from a
 *    heap copy of exactly its bytes with the same outcome, every shorter
 *    prefix gives 0, and its fields are consistent (v1: CRLF-terminated,
 *    at most 107 bytes; v2: 16 + the length field, within the limit, spans
 *    inside the header, a CRC32C that matches, the family byte agreeing
 *    with the kind); a failure has a known reason, prefixes give 0 or the
 *    same reason, and once a prefix fails every longer one does;
 *  - as a description of a connection (addresses, ports, TLS strings and
 *    flags) for gh_proxy_build_v1/_v2: the built header parses back to the
 *    same fields, and one byte less of capacity gives -1 and no write;
 *  - as a CIDR rule: a rule that parses has no bits past its prefix,
 *    matches its own network, and prints and parses back to itself. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/proxy_protocol.h"

#include "fuzz_common.h"

static const struct gh_proxy_limits deflim = { .max_v2_len = GH_PROXY_V2_DEFAULT_MAX };
static const struct gh_proxy_limits biglim = { .max_v2_len = 16 + 65535 };

static struct gh_proxy_header h1, h2;

static int span_eq(struct gh_proxy_span a, struct gh_proxy_span b)
{
    return a.off == b.off && a.len == b.len && a.present == b.present;
}

static int hdr_equal(const struct gh_proxy_header *a, const struct gh_proxy_header *b)
{
    if (a->version != b->version || a->kind != b->kind || a->len != b->len ||
        a->family != b->family || a->addr_len != b->addr_len || a->reason != b->reason ||
        a->has_crc32c != b->has_crc32c || a->has_ssl != b->has_ssl ||
        a->ssl_client != b->ssl_client || a->ssl_verify != b->ssl_verify ||
        a->n_tlvs != b->n_tlvs || a->tlvs_dropped != b->tlvs_dropped)
        return 0;
    if (memcmp(&a->src, &b->src, a->addr_len) || memcmp(&a->dst, &b->dst, a->addr_len))
        return 0;
    if (!span_eq(a->alpn, b->alpn) || !span_eq(a->authority, b->authority) ||
        !span_eq(a->unique_id, b->unique_id) || !span_eq(a->netns, b->netns) ||
        !span_eq(a->ssl_version, b->ssl_version) || !span_eq(a->ssl_cn, b->ssl_cn) ||
        !span_eq(a->ssl_cipher, b->ssl_cipher) || !span_eq(a->ssl_sig_alg, b->ssl_sig_alg) ||
        !span_eq(a->ssl_key_alg, b->ssl_key_alg))
        return 0;
    for (size_t i = 0; i < a->n_tlvs; i++)
        if (a->tlvs[i].type != b->tlvs[i].type || !span_eq(a->tlvs[i].value, b->tlvs[i].value))
            return 0;
    return 1;
}

static int parse_copy(const uint8_t *data, size_t n, const struct gh_proxy_limits *lim,
                      struct gh_proxy_header *h)
{
    uint8_t *p = dup_exact(data, n);
    int r = gh_proxy_parse(p, n, lim, h);
    free(p);
    return r;
}

static void span_inside(struct gh_proxy_span s, size_t hlen)
{
    if (!s.present) {
        REQUIRE(s.off == 0 && s.len == 0);
        return;
    }
    REQUIRE(s.off >= GH_PROXY_V2_HEADER_LEN && s.off <= hlen && s.len <= hlen - s.off);
}

static void check_header(const uint8_t *d, int r, const struct gh_proxy_header *h, size_t max)
{
    size_t n = (size_t)r;
    REQUIRE(h->len == n && h->reason == GH_PROXY_OK);
    if (h->version == 1) {
        REQUIRE(n >= 15 && n <= GH_PROXY_V1_MAX_LEN);
        REQUIRE(memcmp(d, "PROXY ", 6) == 0 && d[n - 2] == '\r' && d[n - 1] == '\n');
        for (size_t i = 0; i < n - 2; i++)
            REQUIRE(d[i] >= 0x20 && d[i] <= 0x7e);
        REQUIRE(h->kind == GH_PROXY_KIND_ADDRESSES || h->kind == GH_PROXY_KIND_UNKNOWN);
        REQUIRE(h->n_tlvs == 0 && !h->has_ssl && !h->has_crc32c && h->family == 0);
    } else {
        REQUIRE(h->version == 2);
        REQUIRE(n >= GH_PROXY_V2_HEADER_LEN && n <= max);
        REQUIRE(memcmp(d, GH_PROXY_V2_SIG, GH_PROXY_V2_SIG_LEN) == 0);
        REQUIRE(n == GH_PROXY_V2_HEADER_LEN + ((size_t)d[14] << 8 | d[15]));
        REQUIRE(d[12] == 0x20 || d[12] == 0x21);
        REQUIRE(d[13] == h->family);
        if (d[12] == 0x20)
            REQUIRE(h->kind == GH_PROXY_KIND_LOCAL && h->n_tlvs == 0);
        else if (h->family == 0x11 || h->family == 0x21)
            REQUIRE(h->kind == GH_PROXY_KIND_ADDRESSES);
        else
            REQUIRE(h->kind == GH_PROXY_KIND_UNKNOWN &&
                    (h->family == 0x00 || h->family == 0x31));
        span_inside(h->alpn, n);
        span_inside(h->authority, n);
        span_inside(h->unique_id, n);
        span_inside(h->netns, n);
        span_inside(h->ssl_version, n);
        span_inside(h->ssl_cn, n);
        span_inside(h->ssl_cipher, n);
        span_inside(h->ssl_sig_alg, n);
        span_inside(h->ssl_key_alg, n);
        REQUIRE(h->authority.len <= 255 && h->unique_id.len <= 128);
        REQUIRE(h->n_tlvs <= GH_PROXY_MAX_TLVS);
        REQUIRE(h->tlvs_dropped == 0 || h->n_tlvs == GH_PROXY_MAX_TLVS);
        for (size_t i = 0; i < h->n_tlvs; i++) {
            span_inside(h->tlvs[i].value, n);
            REQUIRE(h->tlvs[i].value.present);
            REQUIRE(h->tlvs[i].type != GH_PP2_TYPE_NOOP && h->tlvs[i].type < 0xF8);
            /* the type and length bytes sit right before the value */
            size_t off = h->tlvs[i].value.off;
            REQUIRE(d[off - 3] == h->tlvs[i].type);
            REQUIRE(((size_t)d[off - 2] << 8 | d[off - 1]) == h->tlvs[i].value.len);
        }
        if (h->has_crc32c) {
            const struct gh_proxy_tlv *t = gh_proxy_find_tlv(h, GH_PP2_TYPE_CRC32C);
            if (t) {
                uint8_t *c = malloc(n);
                REQUIRE(c != NULL);
                memcpy(c, d, n);
                memset(c + t->value.off, 0, 4);
                uint32_t want = gh_proxy_crc32c(0, c, n);
                const uint8_t *v = d + t->value.off;
                REQUIRE(want == ((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
                                 (uint32_t)v[2] << 8 | v[3]));
                free(c);
            }
        }
    }
    if (h->kind == GH_PROXY_KIND_ADDRESSES) {
        REQUIRE(h->src.ss_family == h->dst.ss_family);
        REQUIRE((h->src.ss_family == AF_INET && h->addr_len == sizeof(struct sockaddr_in)) ||
                (h->src.ss_family == AF_INET6 && h->addr_len == sizeof(struct sockaddr_in6)));
    } else {
        REQUIRE(h->addr_len == 0 && h->src.ss_family == 0 && h->dst.ss_family == 0);
    }
}

/* Prefix lengths worth checking: all of the first 130 (v1 lives there, and
 * the v2 fixed part), then a spread, then the last few. */
static int want_prefix(size_t k, size_t n)
{
    return k < 130 || k + 4 >= n || k % 61 == 0;
}

static void run_parse(const uint8_t *d, size_t len, const struct gh_proxy_limits *lim)
{
    int r = gh_proxy_parse(d, len, lim, &h1);
    REQUIRE(r <= 0 || (size_t)r <= len);
    if (r > 0) {
        check_header(d, r, &h1, lim->max_v2_len);
        /* exactly the header's bytes: the same result */
        REQUIRE(parse_copy(d, (size_t)r, lim, &h2) == r);
        REQUIRE(hdr_equal(&h1, &h2));
        for (size_t k = 0; k < (size_t)r; k++)
            if (want_prefix(k, (size_t)r))
                REQUIRE(parse_copy(d, k, lim, &h2) == 0 && h2.reason == GH_PROXY_OK);
        return;
    }
    if (r == 0) {
        REQUIRE(h1.reason == GH_PROXY_OK && h1.len == 0 && h1.version == 0);
        for (size_t k = 0; k < len; k++)
            if (want_prefix(k, len))
                REQUIRE(parse_copy(d, k, lim, &h2) == 0);
        return;
    }
    REQUIRE(r > -GH_PROXY_REASON_COUNT && h1.reason == (enum gh_proxy_reason)-r);
    REQUIRE(h1.len == 0 && h1.version == 0);
    int failed = 0;
    for (size_t k = 0; k < len; k++) {
        if (!want_prefix(k, len))
            continue;
        int rk = parse_copy(d, k, lim, &h2);
        REQUIRE(rk == 0 || rk == r);
        if (failed)
            REQUIRE(rk == r);
        failed = rk == r;
    }
}

/* ---- building from fuzzer-chosen fields ----------------------------------- */

struct rd {
    const uint8_t *p;
    size_t n;
};

static uint8_t rd_u8(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static void rd_bytes(struct rd *r, void *out, size_t n)
{
    memset(out, 0, n);
    size_t k = n < r->n ? n : r->n;
    memcpy(out, r->p, k);
    r->p += k;
    r->n -= k;
}

/* A string of up to max bytes (sometimes one more, which must be refused),
 * pointing into the input. */
static struct gh_proxy_str rd_str(struct rd *r, size_t max)
{
    size_t want = rd_u8(r);
    if (want == 255)
        want = max + 1;
    else if (want > max)
        want = want % (max + 1);
    struct gh_proxy_str s = { (const char *)r->p, want < r->n ? want : r->n };
    r->p += s.len;
    r->n -= s.len;
    return s;
}

static void make_addr(struct rd *r, int fam, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (fam == 4) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        s->sin_family = AF_INET;
        rd_bytes(r, &s->sin_addr, 4);
        rd_bytes(r, &s->sin_port, 2);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
        s->sin6_family = AF_INET6;
        rd_bytes(r, &s->sin6_addr, 16);
        rd_bytes(r, &s->sin6_port, 2);
        if (fam == 5) { /* IPv4-mapped */
            memset(s->sin6_addr.s6_addr, 0, 10);
            s->sin6_addr.s6_addr[10] = s->sin6_addr.s6_addr[11] = 0xff;
        }
    }
}

/* The address family and bytes as the builders should send them. */
static int wire_family(const struct sockaddr_storage *ss, uint8_t a[16], uint8_t port[2])
{
    memset(a, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        memcpy(a, &s->sin_addr, 4);
        memcpy(port, &s->sin_port, 2);
        return AF_INET;
    }
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    memcpy(port, &s->sin6_port, 2);
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(&s->sin6_addr, mapped, 12) == 0) {
        memcpy(a, s->sin6_addr.s6_addr + 12, 4);
        return AF_INET;
    }
    memcpy(a, &s->sin6_addr, 16);
    return AF_INET6;
}

static void check_addr(const struct sockaddr_storage *got, int fam, const uint8_t a[16],
                       const uint8_t port[2])
{
    REQUIRE(got->ss_family == fam);
    if (fam == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)got;
        REQUIRE(memcmp(&s->sin_addr, a, 4) == 0 && memcmp(&s->sin_port, port, 2) == 0);
    } else {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)got;
        REQUIRE(memcmp(&s->sin6_addr, a, 16) == 0 && memcmp(&s->sin6_port, port, 2) == 0);
    }
}

static void same_str(const uint8_t *buf, struct gh_proxy_span s, struct gh_proxy_str want)
{
    if (!want.len) {
        REQUIRE(!s.present);
        return;
    }
    REQUIRE(s.present && s.len == want.len && memcmp(buf + s.off, want.p, want.len) == 0);
}

static void same_tlv(const uint8_t *buf, const struct gh_proxy_header *h, uint8_t type,
                     struct gh_proxy_str want)
{
    const struct gh_proxy_tlv *t = gh_proxy_find_tlv(h, type);
    if (!want.len) {
        REQUIRE(t == NULL);
        return;
    }
    REQUIRE(t != NULL);
    same_str(buf, t->value, want);
}

/* Builds into exactly cap bytes of heap; returns the length or -1. The
 * bytes past a failed build are not looked at: there are none. */
static int build_exact(int v2, const struct sockaddr *s, const struct sockaddr *d,
                       const struct gh_proxy_tls_info *tls, uint8_t **out, size_t cap)
{
    *out = malloc(cap ? cap : 1);
    REQUIRE(*out != NULL);
    memset(*out, 0xA5, cap);
    return v2 ? gh_proxy_build_v2(s, d, tls, *out, cap) : gh_proxy_build_v1(s, d, *out, cap);
}

static void run_build(const uint8_t *data, size_t len)
{
    struct rd r = { data, len };
    uint8_t flags = rd_u8(&r), fams = rd_u8(&r);
    static const int fam_of[4] = { 4, 6, 5, 4 };
    struct sockaddr_storage s, d;
    make_addr(&r, fam_of[fams & 3], &s);
    make_addr(&r, fam_of[(fams >> 2) & 3], &d);
    const struct sockaddr *sp = (fams & 0x10) ? NULL : (const struct sockaddr *)&s;
    const struct sockaddr *dp = (const struct sockaddr *)&d;

    struct gh_proxy_tls_info tls;
    memset(&tls, 0, sizeof tls);
    tls.client_cert = flags & 1;
    tls.resumed = flags & 2;
    tls.verified = flags & 4;
    tls.crc32c = flags & 8;
    tls.sni = rd_str(&r, GH_PROXY_SNI_MAX);
    tls.alpn = rd_str(&r, GH_PROXY_ALPN_MAX);
    tls.unique_id = rd_str(&r, GH_PROXY_UNIQUE_ID_MAX);
    tls.version = rd_str(&r, GH_PROXY_TLS_VERSION_MAX);
    tls.cipher = rd_str(&r, GH_PROXY_CIPHER_MAX);
    tls.cn = rd_str(&r, GH_PROXY_CN_MAX);
    tls.cert_sha256 = rd_str(&r, GH_PROXY_SHA256_HEX_LEN);
    tls.subject = rd_str(&r, GH_PROXY_SUBJECT_MAX);
    tls.san_uri = rd_str(&r, GH_PROXY_SAN_URI_MAX);
    const struct gh_proxy_tls_info *tp = (flags & 0x10) ? NULL : &tls;

    uint8_t sa[16], da[16], sport[2], dport[2];
    int sf = sp ? wire_family(&s, sa, sport) : 0, df = wire_family(&d, da, dport);
    /* mixed families go out as IPv6, the IPv4 side IPv4-mapped */
    if (sp && sf != df) {
        uint8_t *v4 = sf == AF_INET ? sa : da;
        memmove(v4 + 12, v4, 4);
        memset(v4, 0, 10);
        v4[10] = v4[11] = 0xff;
        sf = df = AF_INET6;
    }
    int addressed = sp && sf == df;

    for (int v2 = 0; v2 <= 1; v2++) {
        uint8_t *out;
        size_t cap = v2 ? GH_PROXY_V2_MAX_LEN : GH_PROXY_V1_MAX_LEN;
        int n = build_exact(v2, sp, dp, tp, &out, cap);
        if (n < 0) {
            /* only v2 fails with room, and only for a value over its limit */
            REQUIRE(v2 && tp);
            int over = tls.sni.len > GH_PROXY_SNI_MAX || tls.alpn.len > GH_PROXY_ALPN_MAX ||
                       tls.unique_id.len > GH_PROXY_UNIQUE_ID_MAX ||
                       tls.version.len > GH_PROXY_TLS_VERSION_MAX ||
                       tls.cipher.len > GH_PROXY_CIPHER_MAX;
            if (tls.client_cert)
                over = over || tls.cn.len > GH_PROXY_CN_MAX ||
                       (tls.cert_sha256.len && tls.cert_sha256.len != 64) ||
                       tls.subject.len > GH_PROXY_SUBJECT_MAX ||
                       tls.san_uri.len > GH_PROXY_SAN_URI_MAX;
            REQUIRE(over);
            for (size_t i = 0; i < cap; i++)
                REQUIRE(out[i] == 0xA5);
            free(out);
            continue;
        }
        REQUIRE((size_t)n <= cap);
        int got = parse_copy(out, (size_t)n, &biglim, &h1);
        REQUIRE(got == n);
        check_header(out, got, &h1, biglim.max_v2_len);
        REQUIRE(h1.version == (v2 ? 2 : 1));
        if (addressed) {
            REQUIRE(h1.kind == GH_PROXY_KIND_ADDRESSES);
            check_addr(&h1.src, sf, sa, sport);
            check_addr(&h1.dst, df, da, dport);
        } else {
            REQUIRE(h1.kind == GH_PROXY_KIND_UNKNOWN);
        }
        if (v2 && tp) {
            same_str(out, h1.authority, tls.sni);
            same_str(out, h1.alpn, tls.alpn);
            same_str(out, h1.unique_id, tls.unique_id);
            same_str(out, h1.ssl_version, tls.version);
            same_str(out, h1.ssl_cipher, tls.cipher);
            REQUIRE(h1.has_ssl && h1.has_crc32c == tls.crc32c);
            struct gh_proxy_str none = { NULL, 0 };
            int c = tls.client_cert;
            same_str(out, h1.ssl_cn, c ? tls.cn : none);
            same_tlv(out, &h1, GH_PP2_TYPE_GH_CERT_SHA256, c ? tls.cert_sha256 : none);
            same_tlv(out, &h1, GH_PP2_TYPE_GH_CERT_SUBJECT, c ? tls.subject : none);
            same_tlv(out, &h1, GH_PP2_TYPE_GH_CERT_SAN_URI, c ? tls.san_uri : none);
            REQUIRE(h1.ssl_verify == (c && tls.verified ? 0u : 1u));
            REQUIRE(h1.ssl_client == (GH_PP2_CLIENT_SSL |
                                      (c && !tls.resumed ? GH_PP2_CLIENT_CERT_CONN : 0) |
                                      (c ? GH_PP2_CLIENT_CERT_SESS : 0)));
        } else if (v2) {
            REQUIRE(h1.n_tlvs == 0 && !h1.has_ssl);
        }
        free(out);
        /* one byte short: -1, nothing written */
        uint8_t *small;
        REQUIRE(build_exact(v2, sp, dp, tp, &small, (size_t)n - 1) == -1);
        for (size_t i = 0; i + 1 < (size_t)n; i++)
            REQUIRE(small[i] == 0xA5);
        free(small);
    }
}

/* ---- CIDR ------------------------------------------------------------------- */

static void run_cidr(const uint8_t *data, size_t len)
{
    char text[80];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    struct gh_cidr c;
    char why[GH_CIDR_WHY_MAX];
    why[0] = '\0';
    if (gh_cidr_parse(text, &c, why) != 0) {
        REQUIRE(why[0] != '\0' && memchr(why, '\0', sizeof why) != NULL);
        return;
    }
    unsigned max = c.family == AF_INET ? 32 : 128;
    REQUIRE((c.family == AF_INET || c.family == AF_INET6) && c.prefix <= max);
    for (unsigned bit = c.prefix; bit < 128; bit++)
        REQUIRE(!(c.addr[bit / 8] & (0x80u >> (bit % 8))));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (c.family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, c.addr, 4);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, c.addr, 16);
    }
    /* a rule over part of the mapped range (IPv6, < /96) never matches a
     * mapped address, which is read as IPv4 */
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (c.family == AF_INET || memcmp(c.addr, mapped, 12) != 0)
        REQUIRE(gh_cidr_match(&c, (const struct sockaddr *)&ss));
    char back[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];
    REQUIRE(inet_ntop(c.family, c.addr, a, sizeof a) != NULL);
    snprintf(back, sizeof back, "%s/%u", a, c.prefix);
    struct gh_cidr c2;
    REQUIRE(gh_cidr_parse(back, &c2, NULL) == 0);
    REQUIRE(c2.family == c.family && c2.prefix == c.prefix &&
            memcmp(c2.addr, c.addr, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_parse(data, size, &deflim);
    run_parse(data, size, &biglim);
    run_build(data, size);
    run_cidr(data, size);
    return 0;
}
