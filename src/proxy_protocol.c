/* proxy_protocol.c - PROXY protocol v1/v2 parser, trusted-source rules and
 * header builders; the contract is include/gatehouse/proxy_protocol.h.
 *
 * The parser walks the input in order and never looks at a byte "if it is
 * there": every step either has the bytes it needs or stops with "need
 * more". So a prefix of an input gets the verdict the whole input gets, up
 * to the point where the prefix runs out (then 0). That is what lets the
 * caller simply call again with more bytes, and what makes early rejection
 * exact: a v1 line fails at its first wrong byte, a v2 header at the first
 * field that is wrong (signature, version, command, family, length).
 *
 * Choices the spec leaves open, and why:
 *  - v1 is "PROXY" followed by exactly one SP; "PROXY" must match
 *    byte for byte (lowercase is not the protocol: proxy_bad_signature).
 *  - v1 numbers: no leading zeros in IPv4 octets or ports (the spec forbids
 *    them, against octal confusion); "0" alone is a valid octet and a valid
 *    port (the spec's range is 0..65535). IPv6 text is what inet_pton
 *    accepts (groups of 1-4 hex digits, one "::", a dotted IPv4 tail),
 *    at most 45 characters, judged when its terminating SP arrives.
 *  - v1 UNKNOWN: "PROXY UNKNOWN\r\n", or "PROXY UNKNOWN " followed by
 *    printable ASCII (0x20-0x7e) up to the CRLF, which the spec says to
 *    ignore; control bytes in it are refused (proxy_bad_v1).
 *  - v1 field errors: a field that is empty (two SPs, or CR/LF where a field
 *    should start) or ends in the wrong separator is proxy_bad_v1; a
 *    field with a wrong character or value is proxy_bad_address.
 *  - v2 LOCAL: the spec says to ignore the family and skip len bytes, so the
 *    block is skipped unread (no TLVs, no CRC check). The family byte must
 *    still be one the spec assigns (it also says to reject others).
 *  - v2 PROXY with UNSPEC (0x00): an address block of 0 bytes, as HAProxy
 *    defines it (PP2_ADDR_LEN_UNSPEC), then TLVs; kind UNKNOWN. This is
 *    what gh_proxy_build_v2 sends when it has no address pair, so its TLVs
 *    must be read; a sender that put unspecified address bytes there is
 *    refused (proxy_bad_tlv), which the spec allows for UNSPEC. With UNIX
 *    (0x31): 216 address bytes, then TLVs; kind UNKNOWN. With a DGRAM
 *    protocol (UDP or UNIX datagram, 0x12/0x22/0x32): proxy_bad_family,
 *    since no datagram transport carried the byte stream that follows.
 *  - v2 PROXY with TCP4/TCP6: the length must cover the address block
 *    (else proxy_bad_address), and the TLVs must tile the rest exactly.
 *    Checks run in three steps, so that the reason is stable: (1) tiling and
 *    type range, (2) the CRC32C TLV if present, (3) each TLV's own rules.
 *    A corrupted header thus says proxy_bad_crc rather than whatever its
 *    corruption looks like.
 *  - TLV rules (proxy_bad_tlv): the types the spec names (ALPN, AUTHORITY,
 *    CRC32C, UNIQUE_ID, SSL, NETNS) appear at most once: two authorities
 *    would let two readers of one header disagree. CRC32C is exactly 4
 *    bytes, UNIQUE_ID at most 128, AUTHORITY at most 255 (a DNS name). SSL
 *    is client (1) + verify (4) + sub-TLVs tiling the rest; named sub-types
 *    at most once, other sub-types skipped; the client bits are reported
 *    as sent. Types 0xF8-0xFF are refused: the spec reserves them for
 *    multi-byte types, whose lengths would not be where we read them.
 *    Other types (custom, experimental, unassigned) are kept in tlvs[].
 *  - CRC32C value is big-endian (network order), over the whole header with
 *    the 4 value bytes read as zero.
 *  - The limit (max_v2_len, default 536) is checked as soon as the length
 *    field arrives, so an oversized header is refused before it is read.
 *  - Builders: IPv4-mapped IPv6 addresses (what a dual-stack socket reports
 *    for IPv4 peers) are sent as IPv4, so the backend sees the address the
 *    client used. They compute the length before writing, so a failure
 *    (-1) writes nothing. The CRC32C TLV goes last: everything else stays
 *    in ascending type order, and the checksum is written once, after all
 *    other bytes are in place. */
#include "gatehouse/proxy_protocol.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

typedef unsigned char uchar;

_Static_assert(GH_PROXY_V2_MAX_LEN == 4220, "the worst case documented in the header");
_Static_assert(GH_PROXY_V2_MAX_LEN - GH_PROXY_V2_HEADER_LEN <= 0xffff,
               "a built header fits the 16-bit length field");

static const uchar v2sig[GH_PROXY_V2_SIG_LEN] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_ADDR_INET 12      /* 2 * 4 + 2 * 2 */
#define V2_ADDR_INET6 36     /* 2 * 16 + 2 * 2 */
#define V2_ADDR_UNIX 216     /* 2 * 108 */
#define TLV_HDR 3
#define SSL_FIXED 5          /* client + verify */
#define AUTHORITY_MAX 255
#define V6_TEXT_MAX 45       /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */

/* Internal status: 0 done, NEED (ran out of bytes), or FAIL(reason).
 * parse_v1/_v2 return the header's length instead of 0; a header is at
 * least 15 bytes, so it is never NEED. */
#define NEED 1
#define FAIL(r) (-(int)(r))

static const struct gh_proxy_limits default_limits = {
    .max_v2_len = GH_PROXY_V2_DEFAULT_MAX,
};

static inline unsigned be16(const uchar *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static inline uint32_t be32(const uchar *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uchar *put16(uchar *p, size_t v)
{
    p[0] = (uchar)(v >> 8);
    p[1] = (uchar)v;
    return p + 2;
}

static inline uchar *put32(uchar *p, uint32_t v)
{
    p[0] = (uchar)(v >> 24);
    p[1] = (uchar)(v >> 16);
    p[2] = (uchar)(v >> 8);
    p[3] = (uchar)v;
    return p + 4;
}

/* ---- reasons ------------------------------------------------------------ */

static const char *const reason_names[GH_PROXY_REASON_COUNT] = {
    [GH_PROXY_OK] = "ok",
    [GH_PROXY_BAD_SIGNATURE] = "proxy_bad_signature",
    [GH_PROXY_BAD_V1] = "proxy_bad_v1",
    [GH_PROXY_V1_TOO_LONG] = "proxy_v1_too_long",
    [GH_PROXY_BAD_VERSION] = "proxy_bad_version",
    [GH_PROXY_BAD_COMMAND] = "proxy_bad_command",
    [GH_PROXY_BAD_FAMILY] = "proxy_bad_family",
    [GH_PROXY_BAD_ADDRESS] = "proxy_bad_address",
    [GH_PROXY_TOO_LONG] = "proxy_too_long",
    [GH_PROXY_BAD_TLV] = "proxy_bad_tlv",
    [GH_PROXY_BAD_CRC] = "proxy_bad_crc",
};

const char *gh_proxy_reason_name(enum gh_proxy_reason reason)
{
    if ((unsigned)reason >= GH_PROXY_REASON_COUNT)
        return "unknown";
    return reason_names[reason];
}

/* ---- CRC32C ------------------------------------------------------------- */

/* Bitwise, reflected polynomial 0x82F63B78. A header is at most a few KiB
 * and is checked once, so a 1 KiB table would buy nothing worth its lines. */
uint32_t gh_proxy_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uchar *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* CRC32C of the header d[0, total) with the 4 bytes at zero_at read as 0. */
static uint32_t crc_with_hole(const uchar *d, size_t total, size_t zero_at)
{
    static const uchar zeros[4];
    uint32_t crc = gh_proxy_crc32c(0, d, zero_at);
    crc = gh_proxy_crc32c(crc, zeros, sizeof zeros);
    return gh_proxy_crc32c(crc, d + zero_at + 4, total - zero_at - 4);
}

/* ---- v1 ----------------------------------------------------------------- */

/* A cursor over the line: running out of bytes is NEED, unless the line
 * would be longer than 107 bytes, which no later byte can mend. */
struct cur {
    const uchar *p;
    size_t len;
    size_t pos;
};

static int next(struct cur *c, int *ch)
{
    if (c->pos >= GH_PROXY_V1_MAX_LEN)
        return FAIL(GH_PROXY_V1_TOO_LONG);
    if (c->pos >= c->len)
        return NEED;
    *ch = c->p[c->pos++];
    return 0;
}

static int expect(struct cur *c, const char *lit, enum gh_proxy_reason r)
{
    for (; *lit; lit++) {
        int ch = 0, st = next(c, &ch);
        if (st)
            return st;
        if (ch != (uchar)*lit)
            return FAIL(r);
    }
    return 0;
}

static inline bool is_sep(int ch)
{
    return ch == ' ' || ch == '\r' || ch == '\n';
}

static inline bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* The field ended before it started: two SPs, or the line ends early. */
#define EMPTY_FIELD FAIL(GH_PROXY_BAD_V1)

/* A dotted quad, checked digit by digit; *sep gets the byte that ended it. */
static int v1_ipv4(struct cur *c, struct in_addr *a, int *sep)
{
    uchar o[4];
    unsigned val = 0, ndig = 0, idx = 0;
    for (;;) {
        int ch = 0, st = next(c, &ch);
        if (st)
            return st;
        if (is_digit(ch)) {
            if (ndig == 1 && val == 0)
                return FAIL(GH_PROXY_BAD_ADDRESS); /* leading zero */
            val = val * 10 + (unsigned)(ch - '0');
            if (val > 255)
                return FAIL(GH_PROXY_BAD_ADDRESS);
            ndig++;
        } else if (ch == '.') {
            if (ndig == 0 || idx == 3)
                return FAIL(GH_PROXY_BAD_ADDRESS);
            o[idx++] = (uchar)val;
            val = 0;
            ndig = 0;
        } else if (is_sep(ch)) {
            if (idx == 0 && ndig == 0)
                return EMPTY_FIELD;
            if (idx != 3 || ndig == 0)
                return FAIL(GH_PROXY_BAD_ADDRESS);
            o[3] = (uchar)val;
            memcpy(&a->s_addr, o, 4);
            *sep = ch;
            return 0;
        } else {
            return FAIL(GH_PROXY_BAD_ADDRESS);
        }
    }
}

static inline bool is_v6_char(int ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == ':' ||
           ch == '.';
}

/* IPv6 text: characters are checked as they come, the whole by inet_pton
 * once the separator is there. */
static int v1_ipv6(struct cur *c, struct in6_addr *a, int *sep)
{
    char text[V6_TEXT_MAX + 1];
    size_t n = 0;
    for (;;) {
        int ch = 0, st = next(c, &ch);
        if (st)
            return st;
        if (is_sep(ch)) {
            if (n == 0)
                return EMPTY_FIELD;
            text[n] = '\0';
            if (inet_pton(AF_INET6, text, a) != 1)
                return FAIL(GH_PROXY_BAD_ADDRESS);
            *sep = ch;
            return 0;
        }
        if (!is_v6_char(ch) || n == V6_TEXT_MAX)
            return FAIL(GH_PROXY_BAD_ADDRESS);
        text[n++] = (char)ch;
    }
}

/* A port: 0..65535, no leading zero. */
static int v1_port(struct cur *c, in_port_t *port, int *sep)
{
    unsigned val = 0, ndig = 0;
    for (;;) {
        int ch = 0, st = next(c, &ch);
        if (st)
            return st;
        if (is_digit(ch)) {
            if (ndig == 1 && val == 0)
                return FAIL(GH_PROXY_BAD_ADDRESS);
            val = val * 10 + (unsigned)(ch - '0');
            if (val > 65535)
                return FAIL(GH_PROXY_BAD_ADDRESS);
            ndig++;
        } else if (is_sep(ch)) {
            if (ndig == 0)
                return EMPTY_FIELD;
            *port = htons((uint16_t)val);
            *sep = ch;
            return 0;
        } else {
            return FAIL(GH_PROXY_BAD_ADDRESS);
        }
    }
}

/* The separator a field ended with must be the one the grammar wants. */
#define SEP_IS(got, want)                                                     \
    do {                                                                      \
        if ((got) != (want))                                                  \
            return FAIL(GH_PROXY_BAD_V1);                                     \
    } while (0)

#define TRY(expr)                                                             \
    do {                                                                      \
        int st_ = (expr);                                                     \
        if (st_)                                                              \
            return st_;                                                       \
    } while (0)

/* "UNKNOWN" has been read: the rest of the line up to CRLF is ignored, but
 * it must be one SP and printable ASCII. */
static int v1_unknown_tail(struct cur *c)
{
    int ch = 0;
    TRY(next(c, &ch));
    if (ch == ' ') {
        do {
            TRY(next(c, &ch));
            if (ch != '\r' && (ch < 0x20 || ch > 0x7e))
                return FAIL(GH_PROXY_BAD_V1);
        } while (ch != '\r');
    } else if (ch != '\r') {
        return FAIL(GH_PROXY_BAD_V1);
    }
    return expect(c, "\n", GH_PROXY_BAD_V1);
}

static int parse_v1(const uchar *d, size_t len, struct gh_proxy_header *h)
{
    struct cur c = { d, len, 0 };
    int ch = 0, sep = 0;
    TRY(expect(&c, "PROXY", GH_PROXY_BAD_SIGNATURE));
    TRY(expect(&c, " ", GH_PROXY_BAD_V1));
    TRY(next(&c, &ch));
    if (ch == 'U') {
        TRY(expect(&c, "NKNOWN", GH_PROXY_BAD_V1));
        TRY(v1_unknown_tail(&c));
        h->kind = GH_PROXY_KIND_UNKNOWN;
        return (int)c.pos;
    }
    if (ch != 'T')
        return FAIL(GH_PROXY_BAD_V1);
    TRY(expect(&c, "CP", GH_PROXY_BAD_V1));
    TRY(next(&c, &ch));
    if (ch != '4' && ch != '6')
        return FAIL(GH_PROXY_BAD_V1);
    bool v6 = ch == '6';
    TRY(expect(&c, " ", GH_PROXY_BAD_V1));

    struct sockaddr_in *s4 = (struct sockaddr_in *)&h->src, *d4 = (struct sockaddr_in *)&h->dst;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->src;
    struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&h->dst;
    in_port_t sport = 0, dport = 0;
    if (v6) {
        TRY(v1_ipv6(&c, &s6->sin6_addr, &sep));
        SEP_IS(sep, ' ');
        TRY(v1_ipv6(&c, &d6->sin6_addr, &sep));
    } else {
        TRY(v1_ipv4(&c, &s4->sin_addr, &sep));
        SEP_IS(sep, ' ');
        TRY(v1_ipv4(&c, &d4->sin_addr, &sep));
    }
    SEP_IS(sep, ' ');
    TRY(v1_port(&c, &sport, &sep));
    SEP_IS(sep, ' ');
    TRY(v1_port(&c, &dport, &sep));
    SEP_IS(sep, '\r');
    TRY(expect(&c, "\n", GH_PROXY_BAD_V1));

    if (v6) {
        s6->sin6_family = d6->sin6_family = AF_INET6;
        s6->sin6_port = sport;
        d6->sin6_port = dport;
        h->addr_len = sizeof(struct sockaddr_in6);
    } else {
        s4->sin_family = d4->sin_family = AF_INET;
        s4->sin_port = sport;
        d4->sin_port = dport;
        h->addr_len = sizeof(struct sockaddr_in);
    }
    h->kind = GH_PROXY_KIND_ADDRESSES;
    return (int)c.pos;
}

/* ---- v2 ----------------------------------------------------------------- */

/* Address block length of a family/protocol byte; -1 if unassigned. */
static int v2_addr_len(uchar fam)
{
    switch (fam) {
    case 0x00: return 0;
    case 0x11: case 0x12: return V2_ADDR_INET;
    case 0x21: case 0x22: return V2_ADDR_INET6;
    case 0x31: case 0x32: return V2_ADDR_UNIX;
    default: return -1;
    }
}

static struct gh_proxy_span mkspan(size_t off, size_t len)
{
    struct gh_proxy_span s = { (uint32_t)off, (uint16_t)len, true };
    return s;
}

/* Records a TLV that may appear once. */
static int once(struct gh_proxy_span *s, size_t off, size_t len)
{
    if (s->present)
        return FAIL(GH_PROXY_BAD_TLV);
    *s = mkspan(off, len);
    return 0;
}

/* The SSL TLV's value v[0, n) at offset off of the header. */
static int v2_ssl(const uchar *v, size_t n, size_t off, struct gh_proxy_header *h)
{
    if (h->has_ssl || n < SSL_FIXED)
        return FAIL(GH_PROXY_BAD_TLV);
    h->has_ssl = true;
    h->ssl_client = v[0];
    h->ssl_verify = be32(v + 1);
    size_t pos = SSL_FIXED;
    while (pos < n) {
        if (n - pos < TLV_HDR)
            return FAIL(GH_PROXY_BAD_TLV);
        uchar type = v[pos];
        size_t vlen = be16(v + pos + 1), at = off + pos + TLV_HDR;
        if (vlen > n - pos - TLV_HDR)
            return FAIL(GH_PROXY_BAD_TLV);
        switch (type) {
        case GH_PP2_SUBTYPE_SSL_VERSION: TRY(once(&h->ssl_version, at, vlen)); break;
        case GH_PP2_SUBTYPE_SSL_CN: TRY(once(&h->ssl_cn, at, vlen)); break;
        case GH_PP2_SUBTYPE_SSL_CIPHER: TRY(once(&h->ssl_cipher, at, vlen)); break;
        case GH_PP2_SUBTYPE_SSL_SIG_ALG: TRY(once(&h->ssl_sig_alg, at, vlen)); break;
        case GH_PP2_SUBTYPE_SSL_KEY_ALG: TRY(once(&h->ssl_key_alg, at, vlen)); break;
        default: break; /* a sub-type we do not know: skipped */
        }
        pos += TLV_HDR + vlen;
    }
    return 0;
}

/* TLVs in d[start, total), in the three steps the file comment lists. */
static int v2_tlvs(const uchar *d, size_t start, size_t total, struct gh_proxy_header *h)
{
    /* 1: they tile the block; find the checksum */
    size_t pos = start, crc_at = 0;
    while (pos < total) {
        if (total - pos < TLV_HDR)
            return FAIL(GH_PROXY_BAD_TLV);
        uchar type = d[pos];
        size_t vlen = be16(d + pos + 1);
        if (vlen > total - pos - TLV_HDR || type >= 0xF8)
            return FAIL(GH_PROXY_BAD_TLV);
        if (type == GH_PP2_TYPE_CRC32C) {
            if (h->has_crc32c || vlen != 4)
                return FAIL(GH_PROXY_BAD_TLV);
            h->has_crc32c = true;
            crc_at = pos + TLV_HDR;
        }
        pos += TLV_HDR + vlen;
    }
    /* 2: the checksum */
    if (h->has_crc32c && crc_with_hole(d, total, crc_at) != be32(d + crc_at))
        return FAIL(GH_PROXY_BAD_CRC);
    /* 3: each TLV's rules */
    for (pos = start; pos < total;) {
        uchar type = d[pos];
        size_t vlen = be16(d + pos + 1), at = pos + TLV_HDR;
        switch (type) {
        case GH_PP2_TYPE_ALPN: TRY(once(&h->alpn, at, vlen)); break;
        case GH_PP2_TYPE_AUTHORITY:
            if (vlen > AUTHORITY_MAX)
                return FAIL(GH_PROXY_BAD_TLV);
            TRY(once(&h->authority, at, vlen));
            break;
        case GH_PP2_TYPE_UNIQUE_ID:
            if (vlen > GH_PROXY_UNIQUE_ID_MAX)
                return FAIL(GH_PROXY_BAD_TLV);
            TRY(once(&h->unique_id, at, vlen));
            break;
        case GH_PP2_TYPE_NETNS: TRY(once(&h->netns, at, vlen)); break;
        case GH_PP2_TYPE_SSL: TRY(v2_ssl(d + at, vlen, at, h)); break;
        default: break;
        }
        if (type != GH_PP2_TYPE_NOOP) {
            if (h->n_tlvs < GH_PROXY_MAX_TLVS) {
                h->tlvs[h->n_tlvs].type = type;
                h->tlvs[h->n_tlvs].value = mkspan(at, vlen);
                h->n_tlvs++;
            } else {
                h->tlvs_dropped++;
            }
        }
        pos = at + vlen;
    }
    return 0;
}

static int parse_v2(const uchar *d, size_t len, size_t max, struct gh_proxy_header *h)
{
    if (memcmp(d, v2sig, len < GH_PROXY_V2_SIG_LEN ? len : GH_PROXY_V2_SIG_LEN) != 0)
        return FAIL(GH_PROXY_BAD_SIGNATURE);
    if (len < 13)
        return NEED;
    unsigned ver = d[12] >> 4, cmd = d[12] & 0x0fu;
    if (ver != 2)
        return FAIL(GH_PROXY_BAD_VERSION);
    if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
        return FAIL(GH_PROXY_BAD_COMMAND);
    if (len < 14)
        return NEED;
    uchar fam = d[13];
    int alen = v2_addr_len(fam);
    if (alen < 0 || (cmd == V2_CMD_PROXY && (fam & 0x0fu) == 0x2))
        return FAIL(GH_PROXY_BAD_FAMILY);
    if (len < GH_PROXY_V2_HEADER_LEN)
        return NEED;
    size_t total = GH_PROXY_V2_HEADER_LEN + be16(d + 14);
    if (total > max)
        return FAIL(GH_PROXY_TOO_LONG);
    if (cmd == V2_CMD_PROXY && total - GH_PROXY_V2_HEADER_LEN < (size_t)alen)
        return FAIL(GH_PROXY_BAD_ADDRESS);
    if (len < total)
        return NEED;

    h->family = fam;
    if (cmd == V2_CMD_LOCAL) {
        h->kind = GH_PROXY_KIND_LOCAL;
        return (int)total;
    }
    const uchar *a = d + GH_PROXY_V2_HEADER_LEN;
    if (fam == 0x11) {
        struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
        struct sockaddr_in *t = (struct sockaddr_in *)&h->dst;
        s->sin_family = t->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&t->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&t->sin_port, a + 10, 2);
        h->addr_len = sizeof *s;
        h->kind = GH_PROXY_KIND_ADDRESSES;
    } else if (fam == 0x21) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
        struct sockaddr_in6 *t = (struct sockaddr_in6 *)&h->dst;
        s->sin6_family = t->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&t->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&t->sin6_port, a + 34, 2);
        h->addr_len = sizeof *s;
        h->kind = GH_PROXY_KIND_ADDRESSES;
    } else {
        h->kind = GH_PROXY_KIND_UNKNOWN; /* UNSPEC, UNIX stream */
    }
    int st = v2_tlvs(d, GH_PROXY_V2_HEADER_LEN + (size_t)alen, total, h);
    return st ? st : (int)total;
}

int gh_proxy_parse(const uint8_t *data, size_t len, const struct gh_proxy_limits *limits,
                   struct gh_proxy_header *out)
{
    memset(out, 0, sizeof *out);
    size_t max = limits && limits->max_v2_len ? limits->max_v2_len : default_limits.max_v2_len;
    if (len == 0)
        return 0;
    int st;
    if (data[0] == 'P') {
        out->version = 1;
        st = parse_v1(data, len, out);
    } else if (data[0] == v2sig[0]) {
        out->version = 2;
        st = parse_v2(data, len, max, out);
    } else {
        st = FAIL(GH_PROXY_BAD_SIGNATURE);
    }
    if (st == NEED || st < 0) {
        /* no header (yet): nothing in *out may be used */
        memset(out, 0, sizeof *out);
        if (st == NEED)
            return 0;
        out->reason = (enum gh_proxy_reason)-st;
        return st;
    }
    out->len = (size_t)st;
    return st;
}

const struct gh_proxy_tlv *gh_proxy_find_tlv(const struct gh_proxy_header *h, uint8_t type)
{
    for (size_t i = 0; i < h->n_tlvs; i++)
        if (h->tlvs[i].type == type)
            return &h->tlvs[i];
    return NULL;
}

/* ---- trusted sources ------------------------------------------------------ */

static int cidr_fail(char *why, const char *msg, const char *text)
{
    if (why)
        snprintf(why, GH_CIDR_WHY_MAX, "%s: \"%.40s\"", msg, text);
    return -1;
}

/* Whether a[0, bits) equals b[0, bits). */
static bool prefix_eq(const uchar *a, const uchar *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uchar mask = (uchar)(0xffu << (8 - rest));
    return ((a[full] ^ b[full]) & mask) == 0;
}

static bool is_v4_mapped(const uchar *a)
{
    static const uchar pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(a, pfx, sizeof pfx) == 0;
}

int gh_cidr_parse(const char *text, struct gh_cidr *out, char why[GH_CIDR_WHY_MAX])
{
    memset(out, 0, sizeof *out);
    if (!text)
        return cidr_fail(why, "no address", "");
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    char buf[INET6_ADDRSTRLEN];
    if (alen == 0)
        return cidr_fail(why, "empty address", text);
    if (alen >= sizeof buf)
        return cidr_fail(why, "not an IPv4 or IPv6 address", text);
    memcpy(buf, text, alen);
    buf[alen] = '\0';
    unsigned max;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return cidr_fail(why, "not an IPv4 or IPv6 address", text);
    }
    unsigned prefix = max;
    if (slash) {
        const char *p = slash + 1;
        if (!is_digit(*p) || (p[0] == '0' && p[1] != '\0'))
            return cidr_fail(why, "prefix length must be a number without leading zeros", text);
        for (prefix = 0; is_digit(*p); p++) {
            prefix = prefix * 10 + (unsigned)(*p - '0');
            if (prefix > max)
                break;
        }
        if (*p != '\0' || prefix > max)
            return cidr_fail(why,
                             out->family == AF_INET ? "prefix length must be 0..32"
                                                    : "prefix length must be 0..128",
                             text);
    }
    static const uchar zero[16];
    uchar host[16];
    memset(host, 0, sizeof host);
    for (unsigned i = 0; i < max / 8; i++) {
        unsigned lo = i * 8;
        if (lo + 8 <= prefix)
            continue;
        host[i] = lo >= prefix ? out->addr[i] : (uchar)(out->addr[i] & (0xffu >> (prefix - lo)));
    }
    if (memcmp(host, zero, max / 8) != 0)
        return cidr_fail(why, "address has bits set past the prefix length", text);
    if (out->family == AF_INET6 && prefix >= 96 && is_v4_mapped(out->addr)) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        prefix -= 96;
    }
    out->prefix = (uint8_t)prefix;
    return 0;
}

/* The peer's address as a rule would hold it; false if not IP. */
static bool peer_addr(const struct sockaddr *sa, uchar a[16], sa_family_t *fam)
{
    if (!sa)
        return false;
    memset(a, 0, 16);
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        *fam = AF_INET;
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        *fam = AF_INET6;
        if (is_v4_mapped(a)) {
            memmove(a, a + 12, 4);
            memset(a + 4, 0, 12);
            *fam = AF_INET;
        }
        return true;
    }
    return false;
}

bool gh_cidr_match(const struct gh_cidr *rule, const struct sockaddr *sa)
{
    return gh_cidr_list_match(rule, 1, sa);
}

bool gh_cidr_list_match(const struct gh_cidr *list, size_t n, const struct sockaddr *sa)
{
    uchar a[16];
    sa_family_t fam = AF_UNSPEC;
    if (!peer_addr(sa, a, &fam))
        return false;
    for (size_t i = 0; i < n; i++)
        if (list[i].family == fam && prefix_eq(a, list[i].addr, list[i].prefix))
            return true;
    return false;
}

/* ---- builders --------------------------------------------------------------- */

/* An endpoint as it goes on the wire: family (AF_INET, AF_INET6, or
 * AF_UNSPEC when not IP), address bytes, port in network order. */
struct endpoint {
    sa_family_t fam;
    uchar addr[16];
    uchar port[2];
};

static struct endpoint endpoint_of(const struct sockaddr *sa)
{
    struct endpoint e;
    memset(&e, 0, sizeof e);
    e.fam = AF_UNSPEC;
    if (!sa)
        return e;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        e.fam = AF_INET;
        memcpy(e.addr, &s->sin_addr, 4);
        memcpy(e.port, &s->sin_port, 2);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(e.addr, &s->sin6_addr, 16);
        memcpy(e.port, &s->sin6_port, 2);
        e.fam = AF_INET6;
        if (is_v4_mapped(e.addr)) {
            memmove(e.addr, e.addr + 12, 4);
            memset(e.addr + 4, 0, 12);
            e.fam = AF_INET;
        }
    }
    return e;
}

/* An IPv4 endpoint as ::ffff:a.b.c.d. */
static void widen_to_v6(struct endpoint *e)
{
    memmove(e->addr + 12, e->addr, 4);
    memset(e->addr, 0, 10);
    e->addr[10] = 0xff;
    e->addr[11] = 0xff;
    e->fam = AF_INET6;
}

/* The family both endpoints share, or AF_UNSPEC. An IPv6 client behind an
 * IPv4 listener (a balancer's PROXY header said so) keeps its address: the
 * IPv4 side is written as IPv4-mapped IPv6, as HAProxy does. */
static sa_family_t pair_family(struct endpoint *s, struct endpoint *d)
{
    if (s->fam == AF_INET6 && d->fam == AF_INET)
        widen_to_v6(d);
    else if (s->fam == AF_INET && d->fam == AF_INET6)
        widen_to_v6(s);
    return s->fam == d->fam ? s->fam : AF_UNSPEC;
}

int gh_proxy_build_v1(const struct sockaddr *src, const struct sockaddr *dst, uint8_t *out,
                      size_t cap)
{
    struct endpoint s = endpoint_of(src), d = endpoint_of(dst);
    sa_family_t fam = pair_family(&s, &d);
    char line[GH_PROXY_V1_MAX_LEN + 1];
    int n;
    if (fam == AF_UNSPEC) {
        n = snprintf(line, sizeof line, "PROXY UNKNOWN\r\n");
    } else {
        char st[INET6_ADDRSTRLEN], dt[INET6_ADDRSTRLEN];
        if (!inet_ntop(fam, s.addr, st, sizeof st) || !inet_ntop(fam, d.addr, dt, sizeof dt))
            return -1;
        n = snprintf(line, sizeof line, "PROXY %s %s %s %u %u\r\n",
                     fam == AF_INET ? "TCP4" : "TCP6", st, dt, be16(s.port), be16(d.port));
    }
    if (n < 0 || (size_t)n >= sizeof line || (size_t)n > cap)
        return -1;
    memcpy(out, line, (size_t)n);
    return n;
}

/* One TLV: type, big-endian length, value. */
static uchar *put_tlv(uchar *p, uchar type, const void *v, size_t n)
{
    *p++ = type;
    p = put16(p, n);
    if (n)
        memcpy(p, v, n);
    return p + n;
}

/* Bytes a value takes as a TLV: 0 when absent. */
static size_t tlv_size(struct gh_proxy_str s)
{
    return s.len ? TLV_HDR + s.len : 0;
}

/* The checks and the sizes of one build, worked out before any write. */
struct v2_plan {
    sa_family_t fam;
    size_t addr_len;
    bool cert;               /* the certificate TLVs go out */
    size_t ssl_len;          /* SSL value: fixed part and sub-TLVs */
    size_t total;
};

static bool too_long(struct gh_proxy_str s, size_t max)
{
    return s.len > max || (s.len && !s.p);
}

static int plan_v2(struct endpoint *s, struct endpoint *d,
                   const struct gh_proxy_tls_info *tls, struct v2_plan *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->fam = pair_family(s, d);
    pl->addr_len = pl->fam == AF_INET ? V2_ADDR_INET : pl->fam == AF_INET6 ? V2_ADDR_INET6 : 0;
    pl->total = GH_PROXY_V2_HEADER_LEN + pl->addr_len;
    if (!tls)
        return 0;
    pl->cert = tls->client_cert;
    if (too_long(tls->sni, GH_PROXY_SNI_MAX) || too_long(tls->alpn, GH_PROXY_ALPN_MAX) ||
        too_long(tls->unique_id, GH_PROXY_UNIQUE_ID_MAX) ||
        too_long(tls->version, GH_PROXY_TLS_VERSION_MAX) ||
        too_long(tls->cipher, GH_PROXY_CIPHER_MAX))
        return -1;
    if (pl->cert && (too_long(tls->cn, GH_PROXY_CN_MAX) ||
                     too_long(tls->cert_sha256, GH_PROXY_SHA256_HEX_LEN) ||
                     (tls->cert_sha256.len && tls->cert_sha256.len != GH_PROXY_SHA256_HEX_LEN) ||
                     too_long(tls->subject, GH_PROXY_SUBJECT_MAX) ||
                     too_long(tls->san_uri, GH_PROXY_SAN_URI_MAX)))
        return -1;
    pl->ssl_len = SSL_FIXED + tlv_size(tls->version) + tlv_size(tls->cipher) +
                  (pl->cert ? tlv_size(tls->cn) : 0);
    pl->total += tlv_size(tls->alpn) + tlv_size(tls->sni) + tlv_size(tls->unique_id) +
                 TLV_HDR + pl->ssl_len + (tls->crc32c ? TLV_HDR + 4 : 0);
    if (pl->cert)
        pl->total += tlv_size(tls->cert_sha256) + tlv_size(tls->subject) + tlv_size(tls->san_uri);
    return 0;
}

/* A TLV for a value that may be absent. */
static uchar *put_opt(uchar *p, uchar type, struct gh_proxy_str s)
{
    return s.len ? put_tlv(p, type, s.p, s.len) : p;
}

int gh_proxy_build_v2(const struct sockaddr *src, const struct sockaddr *dst,
                      const struct gh_proxy_tls_info *tls, uint8_t *out, size_t cap)
{
    struct endpoint s = endpoint_of(src), d = endpoint_of(dst);
    struct v2_plan pl;
    if (plan_v2(&s, &d, tls, &pl) != 0 || pl.total > cap)
        return -1;

    uchar *p = out;
    memcpy(p, v2sig, sizeof v2sig);
    p += sizeof v2sig;
    *p++ = 0x20 | V2_CMD_PROXY;
    *p++ = pl.fam == AF_INET ? 0x11 : pl.fam == AF_INET6 ? 0x21 : 0x00;
    p = put16(p, pl.total - GH_PROXY_V2_HEADER_LEN);
    if (pl.fam != AF_UNSPEC) {
        size_t alen = pl.fam == AF_INET ? 4 : 16;
        memcpy(p, s.addr, alen);
        memcpy(p + alen, d.addr, alen);
        p += 2 * alen;
        memcpy(p, s.port, 2);
        memcpy(p + 2, d.port, 2);
        p += 4;
    }
    if (tls) {
        p = put_opt(p, GH_PP2_TYPE_ALPN, tls->alpn);
        p = put_opt(p, GH_PP2_TYPE_AUTHORITY, tls->sni);
        p = put_opt(p, GH_PP2_TYPE_UNIQUE_ID, tls->unique_id);
        *p++ = GH_PP2_TYPE_SSL;
        p = put16(p, pl.ssl_len);
        *p++ = (uchar)(GH_PP2_CLIENT_SSL |
                       (pl.cert && !tls->resumed ? GH_PP2_CLIENT_CERT_CONN : 0) |
                       (pl.cert ? GH_PP2_CLIENT_CERT_SESS : 0));
        p = put32(p, pl.cert && tls->verified ? 0 : 1);
        p = put_opt(p, GH_PP2_SUBTYPE_SSL_VERSION, tls->version);
        if (pl.cert)
            p = put_opt(p, GH_PP2_SUBTYPE_SSL_CN, tls->cn);
        p = put_opt(p, GH_PP2_SUBTYPE_SSL_CIPHER, tls->cipher);
        if (pl.cert) {
            p = put_opt(p, GH_PP2_TYPE_GH_CERT_SHA256, tls->cert_sha256);
            p = put_opt(p, GH_PP2_TYPE_GH_CERT_SUBJECT, tls->subject);
            p = put_opt(p, GH_PP2_TYPE_GH_CERT_SAN_URI, tls->san_uri);
        }
        if (tls->crc32c) {
            static const uchar zero4[4];
            uchar *crc = put_tlv(p, GH_PP2_TYPE_CRC32C, zero4, 4) - 4;
            p = crc + 4;
            put32(crc, gh_proxy_crc32c(0, out, pl.total));
        }
    }
    return (int)(p - out);
}
