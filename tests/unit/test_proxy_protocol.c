/* test_proxy_protocol.c - unit tests for the PROXY protocol module
 * (src/proxy_protocol.c).
 *
 * Pins the contract of include/gatehouse/proxy_protocol.h:
 *  - v1 and v2 parsing, row by row (bytes, expected length or reason, the
 *    fields that matter), including the spec's examples and every
 *    malformation the strict reading refuses;
 *  - the incremental promise: every prefix of a valid header gives 0, the
 *    whole header its result, and a broken input gives 0 until its first
 *    offending byte and then the same reason for every longer prefix;
 *  - trusted-source CIDR rules, parsing and matching (IPv4-mapped peers);
 *  - the builders: exact bytes for shared vectors (the same vectors are in
 *    tests/integration/test_proxyproto_selftest.py, so the C and Python
 *    codecs agree on the wire format), round trips through the parser with
 *    every TLV, and capacity: too small gives -1 and writes nothing.
 *
 * Every input is copied into a heap buffer of exactly its length, so a run
 * under AddressSanitizer catches any read past the end. Table-driven tests
 * use CHECK(), which reports every failing row and fails at the end. */
#include "check.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "gatehouse/proxy_protocol.h"

#define R(name) GH_PROXY_##name

/* ---- helpers --------------------------------------------------------------- */

/* Parses a heap copy of data[0, n); spans stay meaningful (offsets). */
static int parse_exact(const void *data, size_t n, const struct gh_proxy_limits *lim,
                       struct gh_proxy_header *h)
{
    uint8_t *p = dup_exact(data, n);
    int r = gh_proxy_parse(p, n, lim, h);
    free(p);
    return r;
}

static bool span_eq(struct gh_proxy_span a, struct gh_proxy_span b)
{
    return a.off == b.off && a.len == b.len && a.present == b.present;
}

/* Two parse results describe the same header. */
static bool hdr_equal(const struct gh_proxy_header *a, const struct gh_proxy_header *b)
{
    if (a->version != b->version || a->kind != b->kind || a->len != b->len ||
        a->family != b->family || a->addr_len != b->addr_len || a->reason != b->reason)
        return false;
    if (memcmp(&a->src, &b->src, a->addr_len) != 0 || memcmp(&a->dst, &b->dst, a->addr_len) != 0)
        return false;
    if (!span_eq(a->alpn, b->alpn) || !span_eq(a->authority, b->authority) ||
        !span_eq(a->unique_id, b->unique_id) || !span_eq(a->netns, b->netns) ||
        !span_eq(a->ssl_version, b->ssl_version) || !span_eq(a->ssl_cn, b->ssl_cn) ||
        !span_eq(a->ssl_cipher, b->ssl_cipher) || !span_eq(a->ssl_sig_alg, b->ssl_sig_alg) ||
        !span_eq(a->ssl_key_alg, b->ssl_key_alg))
        return false;
    if (a->has_crc32c != b->has_crc32c || a->has_ssl != b->has_ssl ||
        a->ssl_client != b->ssl_client || a->ssl_verify != b->ssl_verify ||
        a->n_tlvs != b->n_tlvs || a->tlvs_dropped != b->tlvs_dropped)
        return false;
    for (size_t i = 0; i < a->n_tlvs; i++)
        if (a->tlvs[i].type != b->tlvs[i].type || !span_eq(a->tlvs[i].value, b->tlvs[i].value))
            return false;
    return true;
}

/* The incremental promise for data[0, n) whose full result is `whole`
 * (parsed with the same limits): prefixes give 0 until the verdict, and the
 * verdict once reached never changes. For a valid header of length L every
 * k < L gives 0. Also checks that the result is the same one byte at a time
 * from a growing heap buffer (the way a connection would feed it). */
static void check_prefixes(const uint8_t *data, size_t n, const struct gh_proxy_limits *lim,
                           int whole, const struct gh_proxy_header *wh)
{
    static struct gh_proxy_header h;
    bool decided = false;
    for (size_t k = 0; k <= n; k++) {
        int r = parse_exact(data, k, lim, &h);
        if (whole > 0 && k < (size_t)whole) {
            CHECK(r == 0, "prefix %zu of a %d-byte header gave %d", k, whole, r);
            if (r != 0)
                return;
            continue;
        }
        if (r == 0) {
            CHECK(!decided, "prefix %zu went back to 0", k);
            CHECK(h.reason == R(OK), "prefix %zu: 0 with a reason", k);
            if (decided)
                return;
            continue;
        }
        decided = true;
        CHECK(r == whole, "prefix %zu gave %d, whole input %d", k, r, whole);
        if (r != whole)
            return;
        if (r > 0)
            CHECK(hdr_equal(&h, wh), "prefix %zu: a different header", k);
        else
            CHECK(h.reason == (enum gh_proxy_reason)-r, "prefix %zu: reason %d vs %d", k,
                  h.reason, -r);
    }
}

static const char *addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    if (ss->ss_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf,
                         (socklen_t)cap);
    if (ss->ss_family == AF_INET6)
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
                         (socklen_t)cap);
    return "-";
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return 0;
}

static struct sockaddr_storage sa_make(const char *ip, unsigned port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else {
        assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
    }
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static bool span_is(const uint8_t *buf, struct gh_proxy_span s, const char *want)
{
    size_t n = strlen(want);
    return s.present && s.len == n && memcmp(buf + s.off, want, n) == 0;
}

static struct gh_proxy_str str(const char *s)
{
    struct gh_proxy_str r = { s, s ? strlen(s) : 0 };
    return r;
}

/* ---- v2 byte assembly -------------------------------------------------------- */

struct bb {
    uint8_t b[70000];
    size_t n;
};

static struct bb bb_v2(uint8_t ver_cmd, uint8_t fam)
{
    struct bb x;
    memset(&x, 0, sizeof x);
    memcpy(x.b, GH_PROXY_V2_SIG, GH_PROXY_V2_SIG_LEN);
    x.b[12] = ver_cmd;
    x.b[13] = fam;
    x.n = 16;
    return x;
}

static void bb_put(struct bb *x, const void *p, size_t n)
{
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void bb_u8(struct bb *x, uint8_t v)
{
    x->b[x->n++] = v;
}

static void bb_u16(struct bb *x, unsigned v)
{
    bb_u8(x, (uint8_t)(v >> 8));
    bb_u8(x, (uint8_t)v);
}

static void bb_tlv(struct bb *x, uint8_t type, const void *v, size_t n)
{
    bb_u8(x, type);
    bb_u16(x, (unsigned)n);
    bb_put(x, v, n);
}

static void bb_fill(struct bb *x, uint8_t v, size_t n)
{
    memset(x->b + x->n, v, n);
    x->n += n;
}

/* Writes the length field from what was appended. */
static void bb_done(struct bb *x)
{
    x->b[14] = (uint8_t)((x->n - 16) >> 8);
    x->b[15] = (uint8_t)(x->n - 16);
}

/* TCP4 1.2.3.4:1000 -> 5.6.7.8:443 */
static void bb_ipv4(struct bb *x)
{
    static const uint8_t a[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 0x03, 0xe8, 0x01, 0xbb };
    bb_put(x, a, sizeof a);
}

/* Appends a CRC32C TLV and fills it in (call after bb_done's length is
 * final, i.e. pass the final length: this appends then fixes up). */
static void bb_crc(struct bb *x)
{
    static const uint8_t z[4];
    bb_tlv(x, GH_PP2_TYPE_CRC32C, z, 4);
    bb_done(x);
    uint32_t c = gh_proxy_crc32c(0, x->b, x->n);
    x->b[x->n - 4] = (uint8_t)(c >> 24);
    x->b[x->n - 3] = (uint8_t)(c >> 16);
    x->b[x->n - 2] = (uint8_t)(c >> 8);
    x->b[x->n - 1] = (uint8_t)c;
}

/* ---- v1: valid ------------------------------------------------------------- */

struct v1_ok_row {
    int line;
    const char *raw;
    size_t len;
    int want;                  /* header length */
    enum gh_proxy_kind kind;
    const char *src, *dst;     /* inet_ntop text */
    unsigned sport, dport;
};

#define V1_OK(raw, want, src, dst, sp, dp)                                    \
    { __LINE__, raw, sizeof(raw) - 1, want, GH_PROXY_KIND_ADDRESSES, src, dst, sp, dp }
#define V1_UNK(raw, want)                                                     \
    { __LINE__, raw, sizeof(raw) - 1, want, GH_PROXY_KIND_UNKNOWN, NULL, NULL, 0, 0 }

#define FFFF6 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

static const struct v1_ok_row v1_ok[] = {
    /* the spec's example, with the HTTP request that follows it */
    V1_OK("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n"
          "Host: 192.168.0.11\r\n\r\n",
          47, "192.168.0.1", "192.168.0.11", 56324, 443),
    /* the spec's longest lines */
    V1_OK("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 56, "255.255.255.255",
          "255.255.255.255", 65535, 65535),
    V1_OK("PROXY TCP6 " FFFF6 " " FFFF6 " 65535 65535\r\n", 104, FFFF6, FFFF6, 65535, 65535),
    V1_UNK("PROXY UNKNOWN\r\n", 15),
    V1_UNK("PROXY UNKNOWN " FFFF6 " " FFFF6 " 65535 65535\r\n", 107),
    /* zero is a number, written once */
    V1_OK("PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", 33, "0.0.0.0", "10.0.0.1", 0, 0),
    V1_OK("PROXY TCP4 10.20.100.200 1.0.0.9 1 65535\r\nX", 42, "10.20.100.200", "1.0.0.9", 1,
          65535),
    V1_OK("PROXY TCP6 ::1 ::ffff:1.2.3.4 1 2\r\n", 35, "::1", "::ffff:1.2.3.4", 1, 2),
    V1_OK("PROXY TCP6 2001:DB8::A 2001:0db8:0000:0000:0000:0000:0000:000b 443 8443\r\n", 73,
          "2001:db8::a", "2001:db8::b", 443, 8443),
    V1_OK("PROXY TCP6 :: fe80::1 10 20\r\n", 29, "::", "fe80::1", 10, 20),
    /* trailing bytes are payload: never consumed */
    V1_OK("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n\r\nPROXY TCP4 9.9.9.9 9.9.9.9 9 9\r\n", 32,
          "1.2.3.4", "5.6.7.8", 1, 2),
    V1_UNK("PROXY UNKNOWN\r\n\x16\x03\x01", 15),
    V1_UNK("PROXY UNKNOWN whatever the sender ~ thinks!\r\n", 45),
    V1_UNK("PROXY UNKNOWN \r\n", 16),
};

static void test_v1_valid(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    for (size_t i = 0; i < ARRAY_LEN(v1_ok); i++) {
        const struct v1_ok_row *r = &v1_ok[i];
        row_line = r->line;
        uint8_t *buf = dup_exact(r->raw, r->len);
        int got = gh_proxy_parse(buf, r->len, NULL, &h);
        CHECK(got == r->want, "got %d (%s), want %d", got, gh_proxy_reason_name(h.reason),
              r->want);
        if (got != r->want) {
            free(buf);
            continue;
        }
        CHECK(h.version == 1 && h.kind == r->kind && h.len == (size_t)got && h.family == 0,
              "version %d kind %d len %zu", h.version, h.kind, h.len);
        CHECK(h.n_tlvs == 0 && !h.has_ssl && !h.alpn.present, "v1 has no TLVs");
        if (r->kind == GH_PROXY_KIND_ADDRESSES) {
            char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
            CHECK(strcmp(addr_text(&h.src, a, sizeof a), r->src) == 0, "src %s", a);
            CHECK(strcmp(addr_text(&h.dst, b, sizeof b), r->dst) == 0, "dst %s", b);
            CHECK(port_of(&h.src) == r->sport && port_of(&h.dst) == r->dport, "ports %u %u",
                  port_of(&h.src), port_of(&h.dst));
            CHECK(h.src.ss_family == h.dst.ss_family, "families");
            CHECK(h.addr_len == (h.src.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                            : sizeof(struct sockaddr_in6)),
                  "addr_len %u", (unsigned)h.addr_len);
        } else {
            CHECK(h.addr_len == 0 && h.src.ss_family == 0, "UNKNOWN has no addresses");
        }
        struct gh_proxy_header whole = h;
        check_prefixes(buf, r->len, NULL, got, &whole);
        free(buf);
    }
    END_CHECKS();
}

/* ---- v1: malformed ----------------------------------------------------------- */

struct bad_row {
    int line;
    const char *raw;
    size_t len;
    enum gh_proxy_reason reason;
    size_t at;                 /* shortest prefix that fails; 0: do not check */
};

#define BAD(raw, reason) { __LINE__, raw, sizeof(raw) - 1, R(reason), 0 }
#define BAD_AT(raw, reason, at) { __LINE__, raw, sizeof(raw) - 1, R(reason), at }

#define L4 "PROXY TCP4 1.2.3.4 5.6.7.8 "

static const struct bad_row v1_bad[] = {
    /* not the protocol at all: decided on the first byte */
    BAD_AT("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", BAD_SIGNATURE, 1),
    BAD_AT("GET / HTTP/1.1\r\n\r\n", BAD_SIGNATURE, 1),
    BAD_AT("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", BAD_SIGNATURE, 1),
    BAD_AT("PROXy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", BAD_SIGNATURE, 5),
    BAD_AT("PRXY", BAD_SIGNATURE, 3),
    BAD_AT("\0PROXY", BAD_SIGNATURE, 1),
    BAD_AT(" PROXY TCP4", BAD_SIGNATURE, 1),
    /* spaces: exactly one */
    BAD_AT("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1, 7),
    BAD_AT("PROXYTCP4", BAD_V1, 6),
    BAD_AT("PROXY\r\n", BAD_V1, 6),
    BAD_AT("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1, 12),
    BAD_AT("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", BAD_V1, 20),
    BAD_AT("PROXY TCP6  ::1 ::1 1 2\r\n", BAD_V1, 12),
    BAD("PROXY TCP6 ::1  ::1 1 2\r\n", BAD_V1),
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", BAD_V1),
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", BAD_V1),
    BAD(L4 "1 2 \r\n", BAD_V1),
    BAD("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1),
    BAD("PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1),
    /* keywords */
    BAD_AT("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1, 7),
    BAD_AT("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1, 10),
    BAD_AT("PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1, 10),
    BAD_AT("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", BAD_V1, 8),
    BAD_AT("PROXY TCP41.2.3.4", BAD_V1, 11),
    BAD_AT("PROXY UNKNOWNX\r\n", BAD_V1, 14),
    BAD_AT("PROXY unknown\r\n", BAD_V1, 7),
    BAD("PROXY UNKNOWN\n", BAD_V1),
    BAD("PROXY UNKNOWN\rX", BAD_V1),
    BAD("PROXY UNKNOWN \x01\r\n", BAD_V1),
    BAD("PROXY UNKNOWN a\x7f\r\n", BAD_V1),
    BAD("PROXY UNKNOWN a\nb\r\n", BAD_V1),
    BAD("PROXY UNKNOWN \xc3\xa9\r\n", BAD_V1),
    /* leading zeros */
    BAD_AT("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", BAD_ADDRESS, 13),
    BAD("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP4 1.2.3.4 5.6.7.00 1 2\r\n", BAD_ADDRESS),
    BAD(L4 "080 2\r\n", BAD_ADDRESS),
    BAD(L4 "1 00\r\n", BAD_ADDRESS),
    BAD(L4 "00 1\r\n", BAD_ADDRESS),
    /* out of range */
    BAD_AT("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", BAD_ADDRESS, 14),
    BAD("PROXY TCP4 1.2.3.4 5.6.7.1000 1 2\r\n", BAD_ADDRESS),
    BAD(L4 "65536 2\r\n", BAD_ADDRESS),
    BAD(L4 "1 65536\r\n", BAD_ADDRESS),
    BAD(L4 "1 99999\r\n", BAD_ADDRESS),
    BAD(L4 "1 4294967297\r\n", BAD_ADDRESS),
    BAD(L4 "-1 2\r\n", BAD_ADDRESS),
    BAD(L4 "+1 2\r\n", BAD_ADDRESS),
    BAD(L4 "0x1 2\r\n", BAD_ADDRESS),
    /* IPv4 shape */
    BAD("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP4 1..2.3 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP4 .1.2.3 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP4 1.2.3. 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP4 1.2.3.4 localhost 1 2\r\n", BAD_ADDRESS),
    /* family and text disagree */
    BAD_AT("PROXY TCP4 ::1 ::1 1 2\r\n", BAD_ADDRESS, 12),
    BAD("PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 ::1 1.2.3.4 1 2\r\n", BAD_ADDRESS),
    /* IPv6 shape */
    BAD("PROXY TCP6 1::2::3 ::1 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 [::1] ::1 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 12345::1 ::1 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 g::1 ::1 1 2\r\n", BAD_ADDRESS),
    BAD("PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.2555 ::1 1 2\r\n", BAD_ADDRESS),
    /* line endings */
    BAD(L4 "1 2\n", BAD_V1),
    BAD(L4 "1 2\r\r\n", BAD_V1),
    BAD(L4 "1 2\rX", BAD_V1),
    BAD(L4 "1\r\n", BAD_V1),
    BAD("PROXY TCP4 1.2.3.4 5.6.7.8\r\n", BAD_V1),
    BAD("PROXY TCP4 1.2.3.4\r\n", BAD_V1),
    BAD("PROXY TCP4\r\n", BAD_V1),
    BAD("PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n", BAD_V1),
    /* "missing CRLF": the payload starts where the CRLF should be */
    BAD(L4 "1 2GET / HTTP/1.1\r\n", BAD_ADDRESS),
    BAD(L4 "1 2 GET / HTTP/1.1\r\n", BAD_V1),
    BAD(L4 "1 2\0\r\n", BAD_ADDRESS),
    /* 108 bytes: one past the spec's longest line; decided once 107 bytes
     * without a CRLF are there */
    BAD_AT("PROXY UNKNOWN " FFFF6 " " FFFF6 " 65535 655351\r\n", V1_TOO_LONG, 107),
    BAD_AT("PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
           V1_TOO_LONG, 107),
};

static void run_bad_rows(const struct bad_row *rows, size_t n, const struct gh_proxy_limits *lim)
{
    static struct gh_proxy_header h;
    for (size_t i = 0; i < n; i++) {
        const struct bad_row *r = &rows[i];
        row_line = r->line;
        uint8_t *buf = dup_exact(r->raw, r->len);
        int got = gh_proxy_parse(buf, r->len, lim, &h);
        CHECK(got == -(int)r->reason && h.reason == r->reason, "got %d (%s), want %s", got,
              gh_proxy_reason_name(h.reason), gh_proxy_reason_name(r->reason));
        if (got < 0) {
            CHECK(h.version == 0 && h.len == 0 && h.n_tlvs == 0,
                  "a failed parse describes nothing");
            check_prefixes(buf, r->len, lim, got, &h);
        }
        if (r->at) {
            struct gh_proxy_header hp;
            CHECK(parse_exact(buf, r->at - 1, lim, &hp) == 0, "prefix %zu already fails",
                  r->at - 1);
            CHECK(parse_exact(buf, r->at, lim, &hp) == -(int)r->reason,
                  "prefix %zu does not fail yet", r->at);
        }
        free(buf);
    }
}

static void test_v1_malformed(void **state)
{
    (void)state;
    run_bad_rows(v1_bad, ARRAY_LEN(v1_bad), NULL);
    END_CHECKS();
}

/* The line length limit is the spec's 107, whatever the v2 limit says:
 * "PROXY UNKNOWN " + n bytes + CRLF for every total length up to 120. */
static void test_v1_limit(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    static const struct gh_proxy_limits tiny = { .max_v2_len = 16 };
    char line[200];
    for (size_t total = 16; total <= 120; total++) {
        row_line = (int)total;
        size_t n = total - 16;
        snprintf(line, sizeof line, "PROXY UNKNOWN %.*s\r\n", (int)n,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        int got = parse_exact(line, total, &tiny, &h);
        if (total <= GH_PROXY_V1_MAX_LEN)
            CHECK(got == (int)total, "total %zu: got %d", total, got);
        else
            CHECK(got == -(int)R(V1_TOO_LONG), "total %zu: got %d", total, got);
    }
    END_CHECKS();
}

/* ---- v2 ----------------------------------------------------------------------- */

static void expect_v2_bad(int line, const struct bb *x, const struct gh_proxy_limits *lim,
                          enum gh_proxy_reason reason)
{
    static struct gh_proxy_header h;
    row_line = line;
    uint8_t *buf = dup_exact(x->b, x->n);
    int got = gh_proxy_parse(buf, x->n, lim, &h);
    CHECK(got == -(int)reason && h.reason == reason, "got %d (%s), want %s", got,
          gh_proxy_reason_name(h.reason), gh_proxy_reason_name(reason));
    if (got < 0)
        check_prefixes(buf, x->n, lim, got, &h);
    free(buf);
}

/* Parses x and checks the incremental promise; returns the length. */
static int expect_v2_ok(int line, const struct bb *x, const struct gh_proxy_limits *lim,
                        struct gh_proxy_header *h)
{
    row_line = line;
    uint8_t *buf = dup_exact(x->b, x->n);
    int got = gh_proxy_parse(buf, x->n, lim, h);
    CHECK(got > 0, "got %d (%s)", got, gh_proxy_reason_name(h->reason));
    if (got > 0) {
        CHECK(h->version == 2 && h->len == (size_t)got, "version %d len %zu", h->version,
              h->len);
        struct gh_proxy_header whole = *h;
        check_prefixes(buf, x->n, lim, got, &whole);
        *h = whole;
    }
    free(buf);
    return got;
}

#define V2_BAD(x, lim, reason) expect_v2_bad(__LINE__, &(x), lim, R(reason))
#define V2_OK(x, lim, h) expect_v2_ok(__LINE__, &(x), lim, h)

static void test_v2_commands(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    char a[INET6_ADDRSTRLEN];

    /* LOCAL: the balancer's health check */
    struct bb x = bb_v2(0x20, 0x00);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 16 && h.kind == GH_PROXY_KIND_LOCAL && h.addr_len == 0 &&
              h.src.ss_family == 0, "LOCAL");
    /* LOCAL with an address block and payload after it: block skipped, unread */
    x = bb_v2(0x20, 0x11);
    bb_ipv4(&x);
    bb_done(&x);
    bb_put(&x, "GET", 3);
    CHECK(V2_OK(x, NULL, &h) == 28 && h.kind == GH_PROXY_KIND_LOCAL && h.family == 0x11 &&
              h.addr_len == 0, "LOCAL with addresses");
    /* LOCAL: family ignored, length honoured, block not read as TLVs */
    x = bb_v2(0x20, 0x00);
    bb_fill(&x, 0xff, 5);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 21 && h.kind == GH_PROXY_KIND_LOCAL && h.n_tlvs == 0,
          "LOCAL junk block");
    x = bb_v2(0x20, 0x12); /* UDP is fine when ignored */
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 16 && h.kind == GH_PROXY_KIND_LOCAL, "LOCAL UDP");
    x = bb_v2(0x20, 0x13); /* but the byte must still be an assigned one */
    bb_done(&x);
    V2_BAD(x, NULL, BAD_FAMILY);

    /* PROXY TCP4 */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_done(&x);
    bb_put(&x, "\x16\x03\x01", 3);
    CHECK(V2_OK(x, NULL, &h) == 28, "TCP4");
    CHECK(h.kind == GH_PROXY_KIND_ADDRESSES && h.family == 0x11 &&
              h.addr_len == sizeof(struct sockaddr_in), "TCP4 kind");
    CHECK(strcmp(addr_text(&h.src, a, sizeof a), "1.2.3.4") == 0 && port_of(&h.src) == 1000,
          "src %s:%u", a, port_of(&h.src));
    CHECK(strcmp(addr_text(&h.dst, a, sizeof a), "5.6.7.8") == 0 && port_of(&h.dst) == 443,
          "dst %s:%u", a, port_of(&h.dst));

    /* PROXY TCP6 */
    x = bb_v2(0x21, 0x21);
    static const uint8_t a6[36] = {
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1,
        0xff, 0xff, 0x00, 0x00,
    };
    bb_put(&x, a6, sizeof a6);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 52 && h.kind == GH_PROXY_KIND_ADDRESSES &&
              h.addr_len == sizeof(struct sockaddr_in6), "TCP6");
    CHECK(strcmp(addr_text(&h.src, a, sizeof a), "2001:db8::1") == 0 && port_of(&h.src) == 65535,
          "src %s", a);
    CHECK(strcmp(addr_text(&h.dst, a, sizeof a), "::ffff:10.0.0.1") == 0 && port_of(&h.dst) == 0,
          "dst %s", a);

    /* PROXY UNSPEC: unknown source, no address bytes, TLVs right away */
    x = bb_v2(0x21, 0x00);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 16 && h.kind == GH_PROXY_KIND_UNKNOWN, "UNSPEC");
    x = bb_v2(0x21, 0x00);
    bb_tlv(&x, GH_PP2_TYPE_AUTHORITY, "u.example", 9);
    bb_tlv(&x, GH_PP2_TYPE_GH_CERT_SAN_URI, "spiffe://x/y", 12);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 43 && h.kind == GH_PROXY_KIND_UNKNOWN && h.n_tlvs == 2 &&
              span_is(x.b, h.authority, "u.example") && h.addr_len == 0, "UNSPEC with TLVs");
    /* address bytes of no defined layout are not TLVs */
    x = bb_v2(0x21, 0x00);
    bb_put(&x, "\x7f\0\0\x01\x7f\0\0\x02", 8);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_TLV);
    /* PROXY UNIX stream: unknown source, TLVs after the 216 bytes */
    x = bb_v2(0x21, 0x31);
    bb_fill(&x, 'u', 216);
    bb_tlv(&x, GH_PP2_TYPE_AUTHORITY, "h", 1);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 236 && h.kind == GH_PROXY_KIND_UNKNOWN && h.addr_len == 0 &&
              span_is(x.b, h.authority, "h"), "UNIX");
    x = bb_v2(0x21, 0x31);
    bb_fill(&x, 'u', 215);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_ADDRESS);

    /* datagrams and unassigned families */
    static const uint8_t bad_fams[] = { 0x12, 0x22, 0x32, 0x01, 0x10, 0x13, 0x20, 0x23,
                                        0x30, 0x33, 0x41, 0xff };
    for (size_t i = 0; i < ARRAY_LEN(bad_fams); i++) {
        x = bb_v2(0x21, bad_fams[i]);
        bb_fill(&x, 0, 216);
        bb_done(&x);
        V2_BAD(x, NULL, BAD_FAMILY);
        struct gh_proxy_header hp;
        CHECK(parse_exact(x.b, 14, NULL, &hp) == -(int)R(BAD_FAMILY), "fam 0x%02x at byte 14",
              bad_fams[i]);
    }
    /* version nibble and command */
    static const uint8_t bad_ver[] = { 0x01, 0x11, 0x10, 0x31, 0xf1, 0x00 };
    for (size_t i = 0; i < ARRAY_LEN(bad_ver); i++) {
        x = bb_v2(bad_ver[i], 0x11);
        bb_ipv4(&x);
        bb_done(&x);
        V2_BAD(x, NULL, BAD_VERSION);
        struct gh_proxy_header hp;
        CHECK(parse_exact(x.b, 13, NULL, &hp) == -(int)R(BAD_VERSION), "ver at byte 13");
        CHECK(parse_exact(x.b, 12, NULL, &hp) == 0, "12 bytes");
    }
    for (uint8_t c = 0x22; c <= 0x2f; c++) {
        x = bb_v2(c, 0x11);
        bb_ipv4(&x);
        bb_done(&x);
        V2_BAD(x, NULL, BAD_COMMAND);
    }
    /* the signature, byte by byte */
    for (size_t i = 0; i < GH_PROXY_V2_SIG_LEN; i++) {
        x = bb_v2(0x21, 0x11);
        bb_ipv4(&x);
        bb_done(&x);
        x.b[i] ^= 0x20;
        V2_BAD(x, NULL, BAD_SIGNATURE);
        struct gh_proxy_header hp;
        CHECK(parse_exact(x.b, i + 1, NULL, &hp) == -(int)R(BAD_SIGNATURE), "sig byte %zu", i);
    }
    END_CHECKS();
}

static void test_v2_lengths(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    /* length shorter than the address block */
    struct bb x = bb_v2(0x21, 0x11);
    bb_fill(&x, 1, 11);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_ADDRESS);
    x = bb_v2(0x21, 0x21);
    bb_fill(&x, 1, 35);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_ADDRESS);
    x = bb_v2(0x21, 0x11);
    bb_done(&x);
    bb_fill(&x, 1, 12); /* the address is there, but not in the header */
    V2_BAD(x, NULL, BAD_ADDRESS);
    /* the verdict on the length comes with byte 16 */
    struct gh_proxy_header hp;
    CHECK(parse_exact(x.b, 15, NULL, &hp) == 0 &&
              parse_exact(x.b, 16, NULL, &hp) == -(int)R(BAD_ADDRESS), "at 16");

    /* a truncated TLV: 1 and 2 bytes after the addresses */
    for (size_t k = 1; k <= 2; k++) {
        x = bb_v2(0x21, 0x11);
        bb_ipv4(&x);
        bb_fill(&x, GH_PP2_TYPE_NOOP, k);
        bb_done(&x);
        V2_BAD(x, NULL, BAD_TLV);
    }
    /* a TLV overrunning the header, with the bytes it claims present after it */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_ALPN, "h2", 2);
    bb_u8(&x, GH_PP2_TYPE_AUTHORITY);
    bb_u16(&x, 10);
    bb_put(&x, "exam", 4);
    bb_done(&x);
    bb_put(&x, "ple.c", 5);
    V2_BAD(x, NULL, BAD_TLV);
    /* a TLV overrunning by one */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_u8(&x, GH_PP2_TYPE_NOOP);
    bb_u16(&x, 3);
    bb_put(&x, "ab", 2);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_TLV);
    /* TLVs exactly tiling, including an empty one */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_NOOP, "", 0);
    bb_tlv(&x, 0xE7, "", 0);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == 34 && h.n_tlvs == 1 && h.tlvs[0].type == 0xE7 &&
              h.tlvs[0].value.len == 0 && h.tlvs[0].value.present, "empty TLVs");

    /* the size limit: default 536, decided with the length field */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_NOOP, "", 0);
    bb_fill(&x, 0, 536 - 16 - 12 - 3);
    x.b[29] = (uint8_t)((536 - 31) >> 8);
    x.b[30] = (uint8_t)(536 - 31);
    bb_done(&x);
    CHECK(x.n == 536, "n %zu", x.n);
    CHECK(V2_OK(x, NULL, &h) == 536, "536 bytes");
    x.b[29] = (uint8_t)((537 - 31) >> 8);
    x.b[30] = (uint8_t)(537 - 31);
    bb_u8(&x, 0);
    bb_done(&x);
    V2_BAD(x, NULL, TOO_LONG);
    CHECK(parse_exact(x.b, 16, NULL, &hp) == -(int)R(TOO_LONG), "too long at byte 16");
    static const struct gh_proxy_limits zero = { 0 }, big = { .max_v2_len = 537 };
    V2_BAD(x, &zero, TOO_LONG);
    CHECK(V2_OK(x, &big, &h) == 537, "537 with a 537 limit");
    /* the largest header the field allows */
    static const struct gh_proxy_limits huge = { .max_v2_len = 16 + 65535 };
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_u8(&x, 0xE5);
    bb_u16(&x, 65535 - 12 - 3);
    bb_fill(&x, 'z', 65535 - 12 - 3);
    bb_done(&x);
    row_line = __LINE__;
    CHECK(parse_exact(x.b, x.n, &huge, &h) == 16 + 65535 && h.tlvs[0].value.len == 65520,
          "65551 bytes");
    V2_BAD(x, NULL, TOO_LONG);
    END_CHECKS();
}

static void test_v2_crc(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    /* good */
    struct bb x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_AUTHORITY, "example.com", 11);
    bb_crc(&x);
    CHECK(V2_OK(x, NULL, &h) == (int)x.n && h.has_crc32c, "good CRC");
    /* Layout: 16 fixed, 16-27 addresses, 28 AUTHORITY (29-30 length, 31-41
     * value), 42 CRC32C (43-44 length, 45-48 value). Every flipped bit is
     * caught; the reason depends on what it breaks: the TLV structure is
     * checked before the checksum (a type turned into CRC32C, a length), the
     * checksum before everything else. */
    static const struct {
        size_t at;
        int want;
    } flip[] = {
        { 12, 49 },                      /* PROXY -> LOCAL: the block is not read */
        { 13, -(int)R(BAD_FAMILY) },     /* TCP4 -> UDP4 */
        { 16, -(int)R(BAD_CRC) }, { 19, -(int)R(BAD_CRC) }, { 27, -(int)R(BAD_CRC) },
        { 28, -(int)R(BAD_TLV) },        /* AUTHORITY -> a second CRC32C */
        { 29, -(int)R(BAD_TLV) }, { 30, -(int)R(BAD_TLV) },
        { 31, -(int)R(BAD_CRC) }, { 41, -(int)R(BAD_CRC) },
        { 42, -(int)R(BAD_TLV) },        /* CRC32C -> AUTHORITY: no checksum, two authorities */
        { 43, -(int)R(BAD_TLV) }, { 44, -(int)R(BAD_TLV) },
        { 45, -(int)R(BAD_CRC) }, { 48, -(int)R(BAD_CRC) },
    };
    CHECK(x.n == 49, "layout %zu", x.n);
    for (size_t i = 0; i < ARRAY_LEN(flip); i++) {
        struct bb y = x;
        y.b[flip[i].at] ^= 0x01;
        struct gh_proxy_header hp;
        row_line = __LINE__;
        int got = parse_exact(y.b, y.n, NULL, &hp);
        CHECK(got == flip[i].want, "flip at %zu: %d (%s), want %d", flip[i].at, got,
              gh_proxy_reason_name(hp.reason), flip[i].want);
    }
    /* CRC first, then the other TLVs */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_CRC32C, "\0\0\0\0", 4);
    bb_tlv(&x, GH_PP2_TYPE_ALPN, "h2", 2);
    bb_done(&x);
    uint32_t c = gh_proxy_crc32c(0, x.b, x.n);
    x.b[31] = (uint8_t)(c >> 24);
    x.b[32] = (uint8_t)(c >> 16);
    x.b[33] = (uint8_t)(c >> 8);
    x.b[34] = (uint8_t)c;
    CHECK(V2_OK(x, NULL, &h) == (int)x.n && h.has_crc32c && span_is(x.b, h.alpn, "h2"),
          "CRC first");
    /* CRC wins over the TLV's own rules: a corrupted header says bad_crc */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_ALPN, "h2", 2);
    bb_tlv(&x, GH_PP2_TYPE_ALPN, "h2", 2);
    bb_crc(&x);
    row_line = __LINE__;
    CHECK(parse_exact(x.b, x.n, NULL, &h) == -(int)R(BAD_TLV), "dup ALPN with a good CRC");
    x.b[x.n - 1] ^= 1;
    V2_BAD(x, NULL, BAD_CRC);
    /* wrong sizes and duplicates */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_CRC32C, "\0\0\0", 3);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_TLV);
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_CRC32C, "\0\0\0\0\0", 5);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_TLV);
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_CRC32C, "\0\0\0\0", 4);
    bb_crc(&x);
    V2_BAD(x, NULL, BAD_TLV);
    /* under LOCAL the block is not read: a wrong CRC there is not seen */
    x = bb_v2(0x20, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_CRC32C, "\1\2\3\4", 4);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == (int)x.n && !h.has_crc32c, "LOCAL CRC not read");
    END_CHECKS();
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* RFC 3720 B.4 / the usual check value */
    assert_int_equal(gh_proxy_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(gh_proxy_crc32c(0, "", 0), 0);
    uint8_t z[32];
    memset(z, 0, sizeof z);
    assert_int_equal(gh_proxy_crc32c(0, z, 32), 0x8A9136AAu);
    memset(z, 0xff, sizeof z);
    assert_int_equal(gh_proxy_crc32c(0, z, 32), 0x62A8AB43u);
    /* chaining */
    uint32_t c = gh_proxy_crc32c(0, "1234", 4);
    assert_int_equal(gh_proxy_crc32c(c, "56789", 5), 0xE3069283u);
}

static void test_v2_tlvs(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    struct bb x = bb_v2(0x21, 0x21);
    bb_fill(&x, 0, 36);
    bb_tlv(&x, GH_PP2_TYPE_ALPN, "http/1.1", 8);
    bb_tlv(&x, GH_PP2_TYPE_NOOP, "pad", 3);
    bb_tlv(&x, GH_PP2_TYPE_AUTHORITY, "example.com", 11);
    bb_tlv(&x, GH_PP2_TYPE_UNIQUE_ID, "id-1", 4);
    bb_tlv(&x, GH_PP2_TYPE_NETNS, "blue", 4);
    /* SSL: client, verify, sub-TLVs including an unknown one */
    struct bb s;
    s.n = 0;
    bb_u8(&s, GH_PP2_CLIENT_SSL | GH_PP2_CLIENT_CERT_CONN | GH_PP2_CLIENT_CERT_SESS);
    bb_put(&s, "\0\0\0\0", 4);
    bb_tlv(&s, GH_PP2_SUBTYPE_SSL_VERSION, "TLSv1.3", 7);
    bb_tlv(&s, GH_PP2_SUBTYPE_SSL_CN, "client", 6);
    bb_tlv(&s, 0x2a, "?", 1);
    bb_tlv(&s, GH_PP2_SUBTYPE_SSL_CIPHER, "TLS_AES_128_GCM_SHA256", 22);
    bb_tlv(&s, GH_PP2_SUBTYPE_SSL_SIG_ALG, "RSA-SHA256", 10);
    bb_tlv(&s, GH_PP2_SUBTYPE_SSL_KEY_ALG, "RSA2048", 7);
    bb_tlv(&x, GH_PP2_TYPE_SSL, s.b, s.n);
    bb_tlv(&x, 0xEA, "vpce-0123", 9);           /* AWS */
    bb_tlv(&x, 0xEA, "again", 5);               /* custom types may repeat */
    bb_tlv(&x, 0xF0, "exp", 3);                 /* experimental: kept */
    bb_tlv(&x, 0x06, "", 0);                    /* unassigned: kept */
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == (int)x.n, "all TLVs");
    CHECK(span_is(x.b, h.alpn, "http/1.1") && span_is(x.b, h.authority, "example.com") &&
              span_is(x.b, h.unique_id, "id-1") && span_is(x.b, h.netns, "blue"), "spans");
    CHECK(h.has_ssl && h.ssl_client == 7 && h.ssl_verify == 0, "ssl %u %u", h.ssl_client,
          h.ssl_verify);
    CHECK(span_is(x.b, h.ssl_version, "TLSv1.3") && span_is(x.b, h.ssl_cn, "client") &&
              span_is(x.b, h.ssl_cipher, "TLS_AES_128_GCM_SHA256") &&
              span_is(x.b, h.ssl_sig_alg, "RSA-SHA256") && span_is(x.b, h.ssl_key_alg, "RSA2048"),
          "ssl spans");
    CHECK(!h.has_crc32c, "no crc");
    static const uint8_t want_types[] = { 0x01, 0x02, 0x05, 0x30, 0x20, 0xEA, 0xEA, 0xF0, 0x06 };
    CHECK(h.n_tlvs == ARRAY_LEN(want_types) && h.tlvs_dropped == 0, "n_tlvs %zu", h.n_tlvs);
    for (size_t i = 0; i < h.n_tlvs && i < ARRAY_LEN(want_types); i++)
        CHECK(h.tlvs[i].type == want_types[i], "tlv %zu type 0x%02x", i, h.tlvs[i].type);
    const struct gh_proxy_tlv *t = gh_proxy_find_tlv(&h, 0xEA);
    CHECK(t && span_is(x.b, t->value, "vpce-0123"), "find first 0xEA");
    CHECK(gh_proxy_find_tlv(&h, GH_PP2_TYPE_NOOP) == NULL, "NOOP not kept");
    CHECK(gh_proxy_find_tlv(&h, 0xE1) == NULL, "absent");
    CHECK(gh_proxy_span_ptr(x.b, h.alpn) == x.b + h.alpn.off, "span_ptr");

    /* more TLVs than kept: counted, not refused */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    for (int i = 0; i < GH_PROXY_MAX_TLVS + 3; i++)
        bb_tlv(&x, (uint8_t)(0xE0 + i % 16), "v", 1);
    bb_tlv(&x, GH_PP2_TYPE_AUTHORITY, "late", 4);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == (int)x.n && h.n_tlvs == GH_PROXY_MAX_TLVS &&
              h.tlvs_dropped == 4 && span_is(x.b, h.authority, "late"), "many TLVs: %zu %zu",
          h.n_tlvs, h.tlvs_dropped);

    /* each rule a TLV can break */
    struct {
        int line;
        uint8_t type;
        size_t len;
        int twice;
    } bad[] = {
        { __LINE__, GH_PP2_TYPE_ALPN, 2, 1 },
        { __LINE__, GH_PP2_TYPE_AUTHORITY, 3, 1 },
        { __LINE__, GH_PP2_TYPE_AUTHORITY, 256, 0 },
        { __LINE__, GH_PP2_TYPE_UNIQUE_ID, 129, 0 },
        { __LINE__, GH_PP2_TYPE_UNIQUE_ID, 1, 1 },
        { __LINE__, GH_PP2_TYPE_NETNS, 1, 1 },
        { __LINE__, GH_PP2_TYPE_SSL, 5, 1 },
        { __LINE__, GH_PP2_TYPE_SSL, 4, 0 },
        { __LINE__, GH_PP2_TYPE_SSL, 0, 0 },
        { __LINE__, 0xF8, 0, 0 },
        { __LINE__, 0xFF, 1, 0 },
    };
    uint8_t val[300];
    memset(val, 0, sizeof val);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        x = bb_v2(0x21, 0x11);
        bb_ipv4(&x);
        bb_tlv(&x, bad[i].type, val, bad[i].len);
        if (bad[i].twice)
            bb_tlv(&x, bad[i].type, val, bad[i].len);
        bb_done(&x);
        expect_v2_bad(bad[i].line, &x, NULL, R(BAD_TLV));
    }
    /* the limits themselves are fine */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_AUTHORITY, val, 255);
    bb_tlv(&x, GH_PP2_TYPE_UNIQUE_ID, val, 128);
    bb_tlv(&x, GH_PP2_TYPE_UNIQUE_ID + 0, "", 0);
    bb_done(&x);
    V2_BAD(x, NULL, BAD_TLV); /* the second UNIQUE_ID */
    x.n -= 3;
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == (int)x.n && h.authority.len == 255 && h.unique_id.len == 128,
          "at the limits");

    /* SSL sub-TLVs: truncated, overrunning, duplicated */
    static const struct {
        int line;
        const char *v;
        size_t n;
    } ssl_bad[] = {
        { __LINE__, "\x01\0\0\0\0\x21", 6 },
        { __LINE__, "\x01\0\0\0\0\x21\0", 7 },
        { __LINE__, "\x01\0\0\0\0\x21\0\x02" "a", 9 },
        { __LINE__, "\x01\0\0\0\0\x22\0\x01" "a\x22\0\x01" "b", 13 },
        { __LINE__, "\x01\0\0\0\0\x21\0\0\x21\0\0", 11 },
        { __LINE__, "\x01\0\0\0\0\x23\0\0\x23\0\0", 11 },
        { __LINE__, "\x01\0\0\0\0\x24\0\0\x24\0\0", 11 },
        { __LINE__, "\x01\0\0\0\0\x25\0\0\x25\0\0", 11 },
    };
    for (size_t i = 0; i < ARRAY_LEN(ssl_bad); i++) {
        x = bb_v2(0x21, 0x11);
        bb_ipv4(&x);
        bb_tlv(&x, GH_PP2_TYPE_SSL, ssl_bad[i].v, ssl_bad[i].n);
        bb_done(&x);
        expect_v2_bad(ssl_bad[i].line, &x, NULL, R(BAD_TLV));
    }
    /* SSL with no sub-TLVs, client bits as sent */
    x = bb_v2(0x21, 0x11);
    bb_ipv4(&x);
    bb_tlv(&x, GH_PP2_TYPE_SSL, "\xff\x00\x00\x00\x13", 5);
    bb_done(&x);
    CHECK(V2_OK(x, NULL, &h) == (int)x.n && h.has_ssl && h.ssl_client == 0xff &&
              h.ssl_verify == 0x13 && !h.ssl_version.present, "bare SSL");
    END_CHECKS();
}

/* Early rejection and the "need more" answers, on the first bytes. */
static void test_early(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    assert_int_equal(parse_exact("", 0, NULL, &h), 0);
    assert_int_equal(h.reason, R(OK));
    assert_int_equal(parse_exact("\x16", 1, NULL, &h), -(int)R(BAD_SIGNATURE));
    assert_int_equal(h.reason, R(BAD_SIGNATURE));
    assert_string_equal(gh_proxy_reason_name(h.reason), "proxy_bad_signature");
    assert_int_equal(parse_exact("P", 1, NULL, &h), 0);
    assert_int_equal(parse_exact("\r", 1, NULL, &h), 0);
    assert_int_equal(parse_exact("\r\n\r\n\0", 5, NULL, &h), 0);
    for (int c = 0; c < 256; c++) {
        uint8_t b = (uint8_t)c;
        int want = (c == 'P' || c == '\r') ? 0 : -(int)R(BAD_SIGNATURE);
        assert_int_equal(parse_exact(&b, 1, NULL, &h), want);
    }
    /* a v1 prefix that can still become valid */
    assert_int_equal(parse_exact("PROXY TCP6 2001:db8", 19, NULL, &h), 0);
    assert_int_equal(parse_exact("PROXY UNKNOWN", 13, NULL, &h), 0);
    assert_int_equal(parse_exact("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31, NULL, &h), 0);
    /* NULL limits are the defaults */
    assert_int_equal(gh_proxy_parse((const uint8_t *)"PROXY UNKNOWN\r\n", 15, NULL, &h), 15);
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const want[] = {
        "ok", "proxy_bad_signature", "proxy_bad_v1", "proxy_v1_too_long", "proxy_bad_version",
        "proxy_bad_command", "proxy_bad_family", "proxy_bad_address", "proxy_too_long",
        "proxy_bad_tlv", "proxy_bad_crc",
    };
    assert_int_equal(ARRAY_LEN(want), GH_PROXY_REASON_COUNT);
    for (int i = 0; i < GH_PROXY_REASON_COUNT; i++)
        assert_string_equal(gh_proxy_reason_name((enum gh_proxy_reason)i), want[i]);
    assert_string_equal(gh_proxy_reason_name(GH_PROXY_REASON_COUNT), "unknown");
    assert_string_equal(gh_proxy_reason_name((enum gh_proxy_reason)-1), "unknown");
}

/* ---- CIDR ----------------------------------------------------------------------- */

struct cidr_row {
    int line;
    const char *text;
    int ok;
    sa_family_t family;
    unsigned prefix;
    const char *addr;          /* the network, as inet_ntop prints it */
};

#define C_OK(t, fam, pfx, a) { __LINE__, t, 1, fam, pfx, a }
#define C_BAD(t) { __LINE__, t, 0, 0, 0, NULL }

static const struct cidr_row cidr_rows[] = {
    C_OK("10.0.0.0/8", AF_INET, 8, "10.0.0.0"),
    C_OK("192.0.2.7", AF_INET, 32, "192.0.2.7"),
    C_OK("192.0.2.7/32", AF_INET, 32, "192.0.2.7"),
    C_OK("0.0.0.0/0", AF_INET, 0, "0.0.0.0"),
    C_OK("172.16.0.0/12", AF_INET, 12, "172.16.0.0"),
    C_OK("::1/128", AF_INET6, 128, "::1"),
    C_OK("::1", AF_INET6, 128, "::1"),
    C_OK("::/0", AF_INET6, 0, "::"),
    C_OK("2001:db8::/32", AF_INET6, 32, "2001:db8::"),
    C_OK("2001:DB8:0:0:8000::/65", AF_INET6, 65, "2001:db8:0:0:8000::"),
    C_OK("fe80::/10", AF_INET6, 10, "fe80::"),
    /* mapped rules mean IPv4 */
    C_OK("::ffff:10.0.0.0/104", AF_INET, 8, "10.0.0.0"),
    C_OK("::ffff:192.0.2.7", AF_INET, 32, "192.0.2.7"),
    C_OK("::ffff:0:0/96", AF_INET, 0, "0.0.0.0"),
    /* below /96 it stays IPv6 (and mapped peers, read as IPv4, never match it) */
    C_OK("::fffe:0:0/95", AF_INET6, 95, "::fffe:0:0"),
    C_BAD("::ffff:0:0/95"),
    C_BAD(""),
    C_BAD("/8"),
    C_BAD("10.0.0.0/"),
    C_BAD("10.0.0.0/33"),
    C_BAD("10.0.0.0/08"),
    C_BAD("10.0.0.0/00"),
    C_BAD("10.0.0.0/-1"),
    C_BAD("10.0.0.0/+8"),
    C_BAD("10.0.0.0/8/8"),
    C_BAD("10.0.0.0/8 "),
    C_BAD(" 10.0.0.0/8"),
    C_BAD("10.0.0.0 /8"),
    C_BAD("10.0.0.0/ 8"),
    C_BAD("10.0.0.0/99999999999999999999"),
    C_BAD("10.0.0.1/8"),
    C_BAD("10.1.0.0/15"),
    C_BAD("010.0.0.0/8"),
    C_BAD("10.0.0/8"),
    C_BAD("10.0.0.0.0/8"),
    C_BAD("256.0.0.0/8"),
    C_BAD("::/129"),
    C_BAD("::1/127"),
    C_BAD("2001:db8::1/32"),
    C_BAD("fe80::1%eth0"),
    C_BAD("[::1]/128"),
    C_BAD("localhost"),
    C_BAD("10.0.0.0/8\n"),
    C_BAD("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1/8"),
};

static void test_cidr_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cidr_rows); i++) {
        const struct cidr_row *r = &cidr_rows[i];
        row_line = r->line;
        struct gh_cidr c;
        char why[GH_CIDR_WHY_MAX];
        memset(why, 0, sizeof why);
        int got = gh_cidr_parse(r->text, &c, why);
        CHECK(got == (r->ok ? 0 : -1), "\"%s\": got %d (%s)", r->text, got, why);
        if (got != 0) {
            CHECK(why[0] != '\0' && strlen(why) < GH_CIDR_WHY_MAX, "why is set");
            continue;
        }
        char a[INET6_ADDRSTRLEN];
        inet_ntop(c.family, c.addr, a, sizeof a);
        CHECK(c.family == r->family && c.prefix == r->prefix && strcmp(a, r->addr) == 0,
              "\"%s\": %d %u %s", r->text, c.family, c.prefix, a);
        if (c.family == AF_INET) {
            static const uint8_t zero[12];
            CHECK(memcmp(c.addr + 4, zero, 12) == 0, "IPv4 tail zero");
        }
    }
    /* why is optional, and NULL text is refused */
    struct gh_cidr c;
    CHECK(gh_cidr_parse("nope", &c, NULL) == -1, "why NULL");
    CHECK(gh_cidr_parse(NULL, &c, NULL) == -1, "text NULL");
    char why[GH_CIDR_WHY_MAX];
    gh_cidr_parse("10.0.0.1/8", &c, why);
    CHECK(strstr(why, "past the prefix") != NULL && strstr(why, "10.0.0.1/8") != NULL, "%s", why);
    END_CHECKS();
}

static bool match_text(const struct gh_cidr *list, size_t n, const char *ip)
{
    struct sockaddr_storage ss = sa_make(ip, 1234);
    return gh_cidr_list_match(list, n, SA(ss));
}

static void test_cidr_match(void **state)
{
    (void)state;
    static const char *const rules_text[] = { "10.0.0.0/8", "192.0.2.7", "2001:db8::/32",
                                              "::1", "172.16.0.0/12" };
    struct gh_cidr rules[ARRAY_LEN(rules_text)];
    for (size_t i = 0; i < ARRAY_LEN(rules); i++)
        assert_int_equal(gh_cidr_parse(rules_text[i], &rules[i], NULL), 0);
    size_t n = ARRAY_LEN(rules);
    static const struct {
        int line;
        const char *ip;
        bool in;
    } peers[] = {
        { __LINE__, "10.0.0.1", true },
        { __LINE__, "10.255.255.255", true },
        { __LINE__, "11.0.0.0", false },
        { __LINE__, "9.255.255.255", false },
        { __LINE__, "192.0.2.7", true },
        { __LINE__, "192.0.2.8", false },
        { __LINE__, "172.31.255.255", true },
        { __LINE__, "172.32.0.0", false },
        { __LINE__, "172.15.255.255", false },
        { __LINE__, "2001:db8::1", true },
        { __LINE__, "2001:db8:ffff::1", true },
        { __LINE__, "2001:db9::1", false },
        { __LINE__, "::1", true },
        { __LINE__, "::2", false },
        /* a dual-stack listener's view of IPv4 peers */
        { __LINE__, "::ffff:10.1.2.3", true },
        { __LINE__, "::ffff:192.0.2.7", true },
        { __LINE__, "::ffff:192.0.2.8", false },
        { __LINE__, "::ffff:11.1.2.3", false },
        /* IPv4-compatible (deprecated) is not mapped */
        { __LINE__, "::10.1.2.3", false },
    };
    for (size_t i = 0; i < ARRAY_LEN(peers); i++) {
        row_line = peers[i].line;
        CHECK(match_text(rules, n, peers[i].ip) == peers[i].in, "%s", peers[i].ip);
    }
    /* /0 rules: each family on its own */
    struct gh_cidr any4, any6, mapped_rule;
    assert_int_equal(gh_cidr_parse("0.0.0.0/0", &any4, NULL), 0);
    assert_int_equal(gh_cidr_parse("::/0", &any6, NULL), 0);
    row_line = __LINE__;
    CHECK(match_text(&any4, 1, "203.0.113.9") && match_text(&any4, 1, "::ffff:203.0.113.9") &&
              !match_text(&any4, 1, "2001:db8::1"), "0.0.0.0/0");
    CHECK(match_text(&any6, 1, "2001:db8::1") && match_text(&any6, 1, "::") &&
              !match_text(&any6, 1, "203.0.113.9") && !match_text(&any6, 1, "::ffff:1.2.3.4"),
          "::/0");
    /* a mapped rule matches plain IPv4 peers */
    assert_int_equal(gh_cidr_parse("::ffff:198.51.100.0/120", &mapped_rule, NULL), 0);
    struct gh_cidr below96;
    assert_int_equal(gh_cidr_parse("::fffe:0:0/95", &below96, NULL), 0);
    CHECK(!match_text(&below96, 1, "::ffff:1.2.3.4") && match_text(&below96, 1, "::fffe:1:2"),
          "a v6 rule over the mapped range");
    CHECK(match_text(&mapped_rule, 1, "198.51.100.77") &&
              match_text(&mapped_rule, 1, "::ffff:198.51.100.1") &&
              !match_text(&mapped_rule, 1, "198.51.101.1"), "mapped rule");
    /* /32 and /128 match exactly one address */
    struct gh_cidr one4, one6;
    assert_int_equal(gh_cidr_parse("203.0.113.9/32", &one4, NULL), 0);
    assert_int_equal(gh_cidr_parse("2001:db8::9/128", &one6, NULL), 0);
    CHECK(gh_cidr_match(&one4, SA(*(struct sockaddr_storage[]){ sa_make("203.0.113.9", 1) })) &&
              !match_text(&one4, 1, "203.0.113.8") && match_text(&one6, 1, "2001:db8::9") &&
              !match_text(&one6, 1, "2001:db8::8"), "exact");
    /* not IP, NULL, an empty list */
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    CHECK(!gh_cidr_list_match(&any4, 1, (const struct sockaddr *)&un), "AF_UNIX");
    CHECK(!gh_cidr_list_match(&any4, 1, NULL), "NULL");
    CHECK(!match_text(rules, 0, "10.0.0.1"), "empty list");
    END_CHECKS();
}

/* ---- builders ----------------------------------------------------------------- */

/* Builds with every cap below the length: -1, and the buffer untouched. */
typedef int (*build_fn)(const void *ctx, uint8_t *out, size_t cap);

static void check_caps(build_fn fn, const void *ctx, int want_len)
{
    size_t room = (size_t)want_len + 64;
    uint8_t *buf = malloc(room);
    assert_non_null(buf);
    for (size_t cap = 0; cap < (size_t)want_len; cap++) {
        memset(buf, 0xA5, room);
        int got = fn(ctx, buf, cap);
        CHECK(got == -1, "cap %zu: got %d", cap, got);
        size_t k = 0;
        while (k < room && buf[k] == 0xA5)
            k++;
        CHECK(k == room, "cap %zu: byte %zu written", cap, k);
    }
    /* exactly enough, into a heap buffer of exactly that size */
    uint8_t *exact = malloc((size_t)want_len);
    assert_non_null(exact);
    CHECK(fn(ctx, exact, (size_t)want_len) == want_len, "exact cap");
    free(exact);
    free(buf);
}

struct v1_ctx {
    const struct sockaddr *src, *dst;
};

static int build_v1_fn(const void *ctx, uint8_t *out, size_t cap)
{
    const struct v1_ctx *c = ctx;
    return gh_proxy_build_v1(c->src, c->dst, out, cap);
}

struct v2_ctx {
    const struct sockaddr *src, *dst;
    const struct gh_proxy_tls_info *tls;
};

static int build_v2_fn(const void *ctx, uint8_t *out, size_t cap)
{
    const struct v2_ctx *c = ctx;
    return gh_proxy_build_v2(c->src, c->dst, c->tls, out, cap);
}

static void test_build_v1(void **state)
{
    (void)state;
    static struct gh_proxy_header h;
    static const struct {
        int line;
        const char *src;
        unsigned sport;
        const char *dst;
        unsigned dport;
        const char *want;
    } rows[] = {
        { __LINE__, "192.0.2.1", 51234, "198.51.100.2", 443,
          "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n" },
        { __LINE__, "0.0.0.0", 0, "255.255.255.255", 65535,
          "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n" },
        { __LINE__, "2001:db8::1", 1, "2001:db8::2", 2,
          "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n" },
        { __LINE__, FFFF6, 65535, FFFF6, 65535,
          "PROXY TCP6 " FFFF6 " " FFFF6 " 65535 65535\r\n" },
        /* mapped: sent as the IPv4 the client used */
        { __LINE__, "::ffff:192.0.2.1", 5, "::ffff:10.0.0.1", 443,
          "PROXY TCP4 192.0.2.1 10.0.0.1 5 443\r\n" },
        { __LINE__, "::ffff:192.0.2.1", 5, "10.0.0.1", 443,
          "PROXY TCP4 192.0.2.1 10.0.0.1 5 443\r\n" },
        /* families differ: the IPv4 side goes IPv4-mapped, the client's
         * address survives */
        { __LINE__, "192.0.2.1", 5, "2001:db8::2", 443,
          "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 5 443\r\n" },
        { __LINE__, "2001:db8::2", 5, "::ffff:10.0.0.1", 443,
          "PROXY TCP6 2001:db8::2 ::ffff:10.0.0.1 5 443\r\n" },
    };
    uint8_t out[GH_PROXY_V1_MAX_LEN];
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        row_line = rows[i].line;
        struct sockaddr_storage s = sa_make(rows[i].src, rows[i].sport);
        struct sockaddr_storage d = sa_make(rows[i].dst, rows[i].dport);
        int n = gh_proxy_build_v1(SA(s), SA(d), out, sizeof out);
        CHECK(n == (int)strlen(rows[i].want) && memcmp(out, rows[i].want, (size_t)n) == 0,
              "got %d \"%.*s\"", n, n > 0 ? n : 0, out);
        if (n <= 0)
            continue;
        /* round trip */
        CHECK(parse_exact(out, (size_t)n, NULL, &h) == n, "parses back");
        if (h.kind == GH_PROXY_KIND_ADDRESSES) {
            char a[INET6_ADDRSTRLEN], mapped[INET6_ADDRSTRLEN + 8];
            const char *sv = rows[i].src;
            if (h.src.ss_family == AF_INET6 && !strchr(sv, ':')) {
                /* an IPv4 client beside an IPv6 destination: sent mapped */
                snprintf(mapped, sizeof mapped, "::ffff:%s", sv);
                sv = mapped;
            } else if (h.src.ss_family == AF_INET && strncmp(sv, "::ffff:", 7) == 0) {
                sv += 7;
            }
            CHECK(strcmp(addr_text(&h.src, a, sizeof a), sv) == 0 &&
                      port_of(&h.src) == rows[i].sport && port_of(&h.dst) == rows[i].dport,
                  "round trip %s", a);
        }
        struct v1_ctx ctx = { SA(s), SA(d) };
        check_caps(build_v1_fn, &ctx, n);
    }
    /* not IP, or NULL: UNKNOWN */
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    struct sockaddr_storage s = sa_make("192.0.2.1", 1);
    row_line = __LINE__;
    CHECK(gh_proxy_build_v1((const struct sockaddr *)&un, SA(s), out, sizeof out) == 15 &&
              memcmp(out, "PROXY UNKNOWN\r\n", 15) == 0, "AF_UNIX");
    CHECK(gh_proxy_build_v1(NULL, NULL, out, sizeof out) == 15, "NULL");
    CHECK(gh_proxy_build_v1(NULL, NULL, out, 14) == -1, "UNKNOWN in 14");
    END_CHECKS();
}

/* Hex of b[0, n), for messages and the shared vectors. */
static const char *hex(const uint8_t *b, size_t n)
{
    static char s[2 * 4300 + 1];
    size_t i;
    for (i = 0; i < n && i < 4300; i++)
        snprintf(s + 2 * i, 3, "%02x", b[i]);
    s[2 * i] = '\0';
    return s;
}

/* The vectors tests/integration/test_proxyproto_selftest.py also checks. */
#define VEC_V1_TCP4 "PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n"
#define VEC_V1_TCP6 "PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n"
/* v2, TCP4, no TLS: signature, PROXY TCP4, length 12, addresses, ports */
#define VEC_V2_TCP4_PLAIN                                                     \
    "0d0a0d0a000d0a515549540a" "2111000c"                                     \
    "c0000201" "c6336402" "c822" "01bb"
/* v2, TCP6, every TLV of vec_tls (below), in the builder's order */
#define VEC_V2_TCP6_TLS                                                       \
    "0d0a0d0a000d0a515549540a" "212100fb"      /* PROXY TCP6, 251 */          \
    "20010db8000000000000000000000001"         /* 2001:db8::1 */              \
    "20010db8000000000000000000000002"         /* 2001:db8::2 */              \
    "c822" "01bb"                              /* 51234, 443 */               \
    "010002" "6832"                            /* ALPN */                     \
    "020009" "6170692e6c6f63616c"              /* AUTHORITY */                \
    "05000b" "636f6e6e2d303030303031"          /* UNIQUE_ID */                \
    "200035" "07" "00000000"                   /* SSL: client 7, verify 0 */  \
    "210007" "544c5376312e33"                  /*   SSL_VERSION */            \
    "220009" "616c6963652d636c69"              /*   SSL_CN */                 \
    "230017" "544c5331332d4145533132382d47434d2d534841323536" /* CIPHER */    \
    "e10040"                                   /* 0xE1 fingerprint */         \
    "3362326434623666386139633065316632613362346335643665376638303931"        \
    "6132623363346435653666373038313932613362346335643665376638303931"        \
    "e20016" "434e3d616c6963652d636c692c4f3d4578616d706c65" /* 0xE2 */        \
    "e3001a" "7370696666653a2f2f6578616d706c652e6f72672f616c696365" /* 0xE3 */ \
    "030004" "90fabfa4"                        /* CRC32C */

static const struct gh_proxy_tls_info vec_tls = {
    .sni = { "api.local", 9 },
    .alpn = { "h2", 2 },
    .version = { "TLSv1.3", 7 },
    .cipher = { "TLS13-AES128-GCM-SHA256", 23 },
    .unique_id = { "conn-000001", 11 },
    .client_cert = true,
    .resumed = false,
    .verified = true,
    .cn = { "alice-cli", 9 },
    .cert_sha256 = { "3b2d4b6f8a9c0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091", 64 },
    .subject = { "CN=alice-cli,O=Example", 22 },
    .san_uri = { "spiffe://example.org/alice", 26 },
    .crc32c = true,
};

static void test_shared_vectors(void **state)
{
    (void)state;
    uint8_t out[GH_PROXY_V2_MAX_LEN];
    struct sockaddr_storage s4 = sa_make("192.0.2.1", 51234), d4 = sa_make("198.51.100.2", 443);
    struct sockaddr_storage s6 = sa_make("2001:db8::1", 51234), d6 = sa_make("2001:db8::2", 443);
    int n = gh_proxy_build_v1(SA(s4), SA(d4), out, sizeof out);
    assert_int_equal(n, strlen(VEC_V1_TCP4));
    assert_memory_equal(out, VEC_V1_TCP4, (size_t)n);
    n = gh_proxy_build_v1(SA(s6), SA(d6), out, sizeof out);
    assert_int_equal(n, strlen(VEC_V1_TCP6));
    assert_memory_equal(out, VEC_V1_TCP6, (size_t)n);
    n = gh_proxy_build_v2(SA(s4), SA(d4), NULL, out, sizeof out);
    assert_string_equal(hex(out, (size_t)n), VEC_V2_TCP4_PLAIN);
    n = gh_proxy_build_v2(SA(s6), SA(d6), &vec_tls, out, sizeof out);
    assert_string_equal(hex(out, (size_t)n), VEC_V2_TCP6_TLS);
}

/* Every field of a built v2 header comes back from the parser. */
static void check_v2_roundtrip(int line, const struct sockaddr *src, const struct sockaddr *dst,
                               const struct gh_proxy_tls_info *tls)
{
    static uint8_t out[GH_PROXY_V2_MAX_LEN];
    static struct gh_proxy_header h;
    static const struct gh_proxy_limits big = { .max_v2_len = GH_PROXY_V2_MAX_LEN };
    row_line = line;
    int n = gh_proxy_build_v2(src, dst, tls, out, sizeof out);
    CHECK(n >= 16 && n <= GH_PROXY_V2_MAX_LEN, "built %d", n);
    if (n < 16)
        return;
    int got = parse_exact(out, (size_t)n, &big, &h);
    CHECK(got == n, "parse %d (%s) of %d", got, gh_proxy_reason_name(h.reason), n);
    if (got != n)
        return;
    CHECK(out[12] == 0x21, "PROXY command");
    if (h.kind == GH_PROXY_KIND_ADDRESSES) {
        CHECK(h.addr_len > 0, "addresses");
    } else {
        CHECK(h.kind == GH_PROXY_KIND_UNKNOWN && h.family == 0x00, "UNSPEC");
    }
    if (!tls) {
        CHECK(h.n_tlvs == 0 && !h.has_ssl, "no TLVs");
        return;
    }
    struct gh_proxy_span want_none = { 0, 0, false };
#define SAME(span, s)                                                                     \
    CHECK((s).len ? (span).present && (span).len == (s).len &&                           \
                        memcmp(out + (span).off, (s).p, (s).len) == 0                     \
                  : span_eq(span, want_none), #span)
    SAME(h.authority, tls->sni);
    SAME(h.alpn, tls->alpn);
    SAME(h.unique_id, tls->unique_id);
    SAME(h.ssl_version, tls->version);
    SAME(h.ssl_cipher, tls->cipher);
    CHECK(h.has_ssl && (h.ssl_client & GH_PP2_CLIENT_SSL), "SSL");
    CHECK(h.has_crc32c == tls->crc32c, "crc");
    const struct gh_proxy_tlv *fp = gh_proxy_find_tlv(&h, GH_PP2_TYPE_GH_CERT_SHA256);
    const struct gh_proxy_tlv *sj = gh_proxy_find_tlv(&h, GH_PP2_TYPE_GH_CERT_SUBJECT);
    const struct gh_proxy_tlv *su = gh_proxy_find_tlv(&h, GH_PP2_TYPE_GH_CERT_SAN_URI);
    if (tls->client_cert) {
        SAME(h.ssl_cn, tls->cn);
        CHECK(!!(h.ssl_client & GH_PP2_CLIENT_CERT_SESS) &&
                  !!(h.ssl_client & GH_PP2_CLIENT_CERT_CONN) == !tls->resumed,
              "client bits %u", h.ssl_client);
        CHECK(h.ssl_verify == (tls->verified ? 0u : 1u), "verify %u", h.ssl_verify);
        if (tls->cert_sha256.len)
            SAME(fp->value, tls->cert_sha256);
        else
            CHECK(!fp, "no fingerprint");
        if (tls->subject.len)
            SAME(sj->value, tls->subject);
        else
            CHECK(!sj, "no subject");
        if (tls->san_uri.len)
            SAME(su->value, tls->san_uri);
        else
            CHECK(!su, "no SAN URI");
    } else {
        CHECK(h.ssl_client == GH_PP2_CLIENT_SSL && h.ssl_verify == 1, "no cert");
        CHECK(!h.ssl_cn.present && !fp && !sj && !su, "certificate TLVs not sent");
    }
#undef SAME
    /* deterministic: types ascending, CRC last */
    for (size_t i = 1; i < h.n_tlvs; i++) {
        bool crc_last = h.tlvs[i].type == GH_PP2_TYPE_CRC32C && i == h.n_tlvs - 1;
        CHECK(crc_last || h.tlvs[i].type > h.tlvs[i - 1].type, "order at %zu", i);
    }
    /* the same bytes twice */
    static uint8_t again[GH_PROXY_V2_MAX_LEN];
    CHECK(gh_proxy_build_v2(src, dst, tls, again, sizeof again) == n &&
              memcmp(out, again, (size_t)n) == 0, "deterministic");
    struct v2_ctx ctx = { src, dst, tls };
    if (n < 600)
        check_caps(build_v2_fn, &ctx, n);
}

static char big_text(size_t n, char c, char *buf)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return c;
}

static void test_build_v2(void **state)
{
    (void)state;
    struct sockaddr_storage s4 = sa_make("192.0.2.1", 51234), d4 = sa_make("198.51.100.2", 443);
    struct sockaddr_storage s6 = sa_make("2001:db8::1", 1), d6 = sa_make("2001:db8::2", 2);
    struct sockaddr_storage m4 = sa_make("::ffff:192.0.2.1", 7), md = sa_make("::ffff:10.0.0.1", 8);
    check_v2_roundtrip(__LINE__, SA(s4), SA(d4), NULL);
    check_v2_roundtrip(__LINE__, SA(s6), SA(d6), NULL);
    check_v2_roundtrip(__LINE__, SA(s4), SA(d6), NULL);
    check_v2_roundtrip(__LINE__, NULL, NULL, NULL);
    check_v2_roundtrip(__LINE__, SA(s6), SA(d6), &vec_tls);
    struct gh_proxy_tls_info t = vec_tls;
    t.crc32c = false;
    check_v2_roundtrip(__LINE__, SA(s4), SA(d4), &t);
    t.resumed = true;
    check_v2_roundtrip(__LINE__, SA(s4), SA(d4), &t);
    t.verified = false;
    check_v2_roundtrip(__LINE__, SA(s4), SA(d4), &t);
    t.client_cert = false; /* certificate fields given but not sent */
    check_v2_roundtrip(__LINE__, SA(s4), SA(d4), &t);
    struct gh_proxy_tls_info empty;
    memset(&empty, 0, sizeof empty);
    check_v2_roundtrip(__LINE__, SA(s4), SA(d4), &empty);
    empty.crc32c = true;
    check_v2_roundtrip(__LINE__, SA(m4), SA(md), &empty);

    /* mapped -> TCP4, with the IPv4 the client used */
    static struct gh_proxy_header h;
    uint8_t out[GH_PROXY_V2_MAX_LEN];
    int n = gh_proxy_build_v2(SA(m4), SA(md), NULL, out, sizeof out);
    row_line = __LINE__;
    CHECK(n == 28 && out[13] == 0x11 && parse_exact(out, 28, NULL, &h) == 28 &&
              h.src.ss_family == AF_INET && port_of(&h.src) == 7, "mapped");
    /* families differ -> TCP6 with the IPv4 side IPv4-mapped */
    n = gh_proxy_build_v2(SA(s4), SA(d6), NULL, out, sizeof out);
    CHECK(n == 16 + 36 && out[13] == 0x21 && out[14] == 0 && out[15] == 36, "mixed -> TCP6");

    /* the worst case is GH_PROXY_V2_MAX_LEN */
    static char sni[GH_PROXY_SNI_MAX + 1], alpn[GH_PROXY_ALPN_MAX + 1],
        uid[GH_PROXY_UNIQUE_ID_MAX + 1], ver[GH_PROXY_TLS_VERSION_MAX + 1],
        cip[GH_PROXY_CIPHER_MAX + 1], cn[GH_PROXY_CN_MAX + 1], fp[GH_PROXY_SHA256_HEX_LEN + 1],
        subj[GH_PROXY_SUBJECT_MAX + 1], san[GH_PROXY_SAN_URI_MAX + 1];
    big_text(GH_PROXY_SNI_MAX, 's', sni);
    big_text(GH_PROXY_ALPN_MAX, 'a', alpn);
    big_text(GH_PROXY_UNIQUE_ID_MAX, 'u', uid);
    big_text(GH_PROXY_TLS_VERSION_MAX, 'v', ver);
    big_text(GH_PROXY_CIPHER_MAX, 'c', cip);
    big_text(GH_PROXY_CN_MAX, 'n', cn);
    big_text(GH_PROXY_SHA256_HEX_LEN, 'f', fp);
    big_text(GH_PROXY_SUBJECT_MAX, 'j', subj);
    big_text(GH_PROXY_SAN_URI_MAX, 'i', san);
    struct gh_proxy_tls_info w = {
        .sni = str(sni), .alpn = str(alpn), .unique_id = str(uid), .version = str(ver),
        .cipher = str(cip), .client_cert = true, .verified = true, .cn = str(cn),
        .cert_sha256 = str(fp), .subject = str(subj), .san_uri = str(san), .crc32c = true,
    };
    n = gh_proxy_build_v2(SA(s6), SA(d6), &w, out, sizeof out);
    CHECK(n == GH_PROXY_V2_MAX_LEN, "worst case %d", n);
    check_v2_roundtrip(__LINE__, SA(s6), SA(d6), &w);
    struct v2_ctx ctx = { SA(s6), SA(d6), &w };
    row_line = __LINE__;
    check_caps(build_v2_fn, &ctx, GH_PROXY_V2_MAX_LEN);
    /* the default receive limit refuses it; the worst case limit takes it */
    CHECK(parse_exact(out, (size_t)n, NULL, &h) == -(int)R(TOO_LONG), "default limit");

    /* one byte over any maximum: -1, nothing written */
    static const char *const names[] = { "sni", "alpn", "unique_id", "version", "cipher",
                                         "cn", "cert_sha256", "subject", "san_uri" };
    for (size_t f = 0; f < ARRAY_LEN(names); f++) {
        struct gh_proxy_tls_info o = w;
        struct gh_proxy_str *fld[] = { &o.sni, &o.alpn, &o.unique_id, &o.version, &o.cipher,
                                       &o.cn, &o.cert_sha256, &o.subject, &o.san_uri };
        static char longer[GH_PROXY_SAN_URI_MAX + 2];
        big_text(fld[f]->len + 1, 'x', longer);
        fld[f]->p = longer;
        fld[f]->len++;
        memset(out, 0xA5, sizeof out);
        row_line = __LINE__;
        CHECK(gh_proxy_build_v2(SA(s6), SA(d6), &o, out, sizeof out) == -1, "%s too long",
              names[f]);
        CHECK(out[0] == 0xA5 && out[GH_PROXY_V2_MAX_LEN - 1] == 0xA5, "%s: nothing written",
              names[f]);
    }
    /* the fingerprint is 64 hex digits or nothing */
    struct gh_proxy_tls_info o = w;
    o.cert_sha256.len = 63;
    CHECK(gh_proxy_build_v2(SA(s6), SA(d6), &o, out, sizeof out) == -1, "63-digit fingerprint");
    o.cert_sha256.len = 0;
    CHECK(gh_proxy_build_v2(SA(s6), SA(d6), &o, out, sizeof out) > 0, "no fingerprint");
    /* without a certificate, certificate fields are neither sent nor checked */
    o = w;
    o.client_cert = false;
    o.cert_sha256.len = 3;
    CHECK(gh_proxy_build_v2(SA(s6), SA(d6), &o, out, sizeof out) > 0, "no cert, bad fp ignored");
    /* a length with no pointer is refused, not dereferenced */
    o = w;
    o.sni.p = NULL;
    CHECK(gh_proxy_build_v2(SA(s6), SA(d6), &o, out, sizeof out) == -1, "NULL with length");
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_valid),
        cmocka_unit_test(test_v1_malformed),
        cmocka_unit_test(test_v1_limit),
        cmocka_unit_test(test_v2_commands),
        cmocka_unit_test(test_v2_lengths),
        cmocka_unit_test(test_v2_crc),
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_v2_tlvs),
        cmocka_unit_test(test_early),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_build_v1),
        cmocka_unit_test(test_shared_vectors),
        cmocka_unit_test(test_build_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
