/* proxy_protocol.h - the PROXY protocol, versions 1 and 2 (HAProxy's "The
 * PROXY protocol", 2020/03/05): parsing the header a trusted load balancer
 * puts in front of a connection, deciding which peers are trusted to send
 * one, and building the header gatehouse sends to a backend.
 *
 * Owns: the wire format on both sides, the stable names of the ways an
 * inbound header can be broken, the trusted-source (CIDR) rules, and the
 * numbers of gatehouse's own TLVs, which are a documented wire contract with
 * backends. It does no I/O and never allocates: a parsed header refers to
 * its TLV values by offset into the caller's buffer, and the builders write
 * into a buffer the caller sizes.
 *
 * Parsing is incremental by re-examination: the caller keeps the bytes it
 * has not consumed and calls gh_proxy_parse again when more arrive. A header
 * is at most a few hundred bytes, so looking at it again is cheaper than
 * keeping state, and the parser rejects a prefix as soon as no valid header
 * can start with it (a TLS ClientHello fails on its first byte). */
#ifndef GATEHOUSE_PROXY_PROTOCOL_H
#define GATEHOUSE_PROXY_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* ---- wire constants (the spec's names) ---------------------------------- */

#define GH_PROXY_V1_MAX_LEN 107         /* whole v1 line including CRLF */
#define GH_PROXY_V2_HEADER_LEN 16       /* signature, ver_cmd, fam, len */
#define GH_PROXY_V2_SIG "\r\n\r\n\0\r\nQUIT\n" /* 12 bytes; holds a NUL */
#define GH_PROXY_V2_SIG_LEN 12

#define GH_PP2_TYPE_ALPN 0x01
#define GH_PP2_TYPE_AUTHORITY 0x02
#define GH_PP2_TYPE_CRC32C 0x03
#define GH_PP2_TYPE_NOOP 0x04
#define GH_PP2_TYPE_UNIQUE_ID 0x05
#define GH_PP2_TYPE_SSL 0x20
#define GH_PP2_SUBTYPE_SSL_VERSION 0x21
#define GH_PP2_SUBTYPE_SSL_CN 0x22
#define GH_PP2_SUBTYPE_SSL_CIPHER 0x23
#define GH_PP2_SUBTYPE_SSL_SIG_ALG 0x24
#define GH_PP2_SUBTYPE_SSL_KEY_ALG 0x25
#define GH_PP2_TYPE_NETNS 0x30

#define GH_PP2_CLIENT_SSL 0x01          /* the client connected over TLS */
#define GH_PP2_CLIENT_CERT_CONN 0x02    /* it sent a certificate on this connection */
#define GH_PP2_CLIENT_CERT_SESS 0x04    /* ... on this connection or the session it resumed */

/* Gatehouse's TLVs, in the spec's application range 0xE0..0xEF. Backends
 * read these to learn the verified client identity in tcp mode, so the
 * numbers and formats never change once released. 0xE0 (Google Cloud Private
 * Service Connect), 0xEA (AWS) and 0xEE (Azure) are left alone: a backend
 * may sit behind those balancers too. Every value is UTF-8 without a NUL,
 * and only sent with a client certificate; the SSL TLV's verify field says
 * whether it was verified (0 = verified).
 *  0xE1 SHA-256 fingerprint of the client certificate's DER, 64 lowercase
 *       hex digits without separators;
 *  0xE2 the certificate's full subject distinguished name, as the TLS
 *       library prints it;
 *  0xE3 the certificate's first URI subjectAltName (a SPIFFE ID such as
 *       "spiffe://example.org/ns/prod/sa/api"), if it has one. */
#define GH_PP2_TYPE_GH_CERT_SHA256 0xE1
#define GH_PP2_TYPE_GH_CERT_SUBJECT 0xE2
#define GH_PP2_TYPE_GH_CERT_SAN_URI 0xE3

/* ---- inbound: parsing ---------------------------------------------------- */

/* Every way an inbound header can be broken. Names (gh_proxy_reason_name)
 * are stable: they appear in logs. */
enum gh_proxy_reason {
    GH_PROXY_OK = 0,
    GH_PROXY_BAD_SIGNATURE, /* "proxy_bad_signature": neither "PROXY" nor the v2 signature */
    GH_PROXY_BAD_V1,        /* "proxy_bad_v1": v1 line syntax (spaces, keyword, CRLF) */
    GH_PROXY_V1_TOO_LONG,   /* "proxy_v1_too_long": no CRLF in the first 107 bytes */
    GH_PROXY_BAD_VERSION,   /* "proxy_bad_version": v2 version nibble is not 2 */
    GH_PROXY_BAD_COMMAND,   /* "proxy_bad_command": v2 command neither LOCAL nor PROXY */
    GH_PROXY_BAD_FAMILY,    /* "proxy_bad_family": unassigned family/protocol byte, or UDP */
    GH_PROXY_BAD_ADDRESS,   /* "proxy_bad_address": v1 address or port text; v2 length
                               shorter than the address block */
    GH_PROXY_TOO_LONG,      /* "proxy_too_long": v2 header over the configured maximum */
    GH_PROXY_BAD_TLV,       /* "proxy_bad_tlv": TLVs do not tile the header, or a TLV
                               breaks its own rules (see proxy_protocol.c) */
    GH_PROXY_BAD_CRC,       /* "proxy_bad_crc": CRC32C TLV does not match */
    GH_PROXY_REASON_COUNT
};

const char *gh_proxy_reason_name(enum gh_proxy_reason reason);

/* HAProxy's spec sizes headers to fit the smallest TCP segment every host
 * must accept (576 - 40 = 536 bytes). The balancers that sit in front of a
 * TLS terminator are layer 4 and send addresses plus a few short TLVs. */
#define GH_PROXY_V2_DEFAULT_MAX 536

struct gh_proxy_limits {
    /* Largest v2 header accepted, the 16 fixed bytes included; 0 means
     * GH_PROXY_V2_DEFAULT_MAX. A v1 line is always at most 107 bytes. */
    size_t max_v2_len;
};

/* Where a value lies in the buffer that was parsed. */
struct gh_proxy_span {
    uint32_t off;
    uint16_t len;
    bool present;                /* the TLV was there (len may still be 0) */
};

struct gh_proxy_tlv {
    uint8_t type;
    struct gh_proxy_span value;
};

#define GH_PROXY_MAX_TLVS 16     /* top-level TLVs kept in gh_proxy_header.tlvs */

enum gh_proxy_kind {
    GH_PROXY_KIND_ADDRESSES,     /* src and dst hold the client's connection */
    GH_PROXY_KIND_LOCAL,         /* v2 LOCAL: the balancer's own connection (health
                                    check); use the socket's real endpoints */
    GH_PROXY_KIND_UNKNOWN,       /* v1 UNKNOWN, v2 PROXY with UNSPEC or UNIX: the
                                    balancer knows no IP source; use the real endpoints
                                    or refuse, as the listener says */
};

struct gh_proxy_header {
    int version;                 /* 1 or 2 */
    enum gh_proxy_kind kind;
    size_t len;                  /* bytes the header takes (what gh_proxy_parse returned) */
    uint8_t family;              /* v2: the family/protocol byte (0x11, 0x21...); v1: 0 */
    /* kind == ADDRESSES: AF_INET or AF_INET6, same family, ports set */
    struct sockaddr_storage src;
    struct sockaddr_storage dst;
    socklen_t addr_len;          /* sizeof the sockaddr_in/_in6 in src and dst; 0 otherwise */

    /* v2 TLVs, well-known ones (each at most once in a header) */
    struct gh_proxy_span alpn;
    struct gh_proxy_span authority;
    struct gh_proxy_span unique_id;
    struct gh_proxy_span netns;
    bool has_crc32c;             /* a CRC32C TLV was present (and matched) */
    bool has_ssl;
    uint8_t ssl_client;          /* GH_PP2_CLIENT_* bits */
    uint32_t ssl_verify;         /* 0: a client certificate was presented and verified */
    struct gh_proxy_span ssl_version;
    struct gh_proxy_span ssl_cn;
    struct gh_proxy_span ssl_cipher;
    struct gh_proxy_span ssl_sig_alg;
    struct gh_proxy_span ssl_key_alg;
    /* Every top-level TLV but NOOP, in wire order (well-known ones too),
     * the first GH_PROXY_MAX_TLVS of them; tlvs_dropped counts the rest. */
    struct gh_proxy_tlv tlvs[GH_PROXY_MAX_TLVS];
    size_t n_tlvs;
    size_t tlvs_dropped;

    enum gh_proxy_reason reason; /* why gh_proxy_parse failed; GH_PROXY_OK otherwise */
};

/* Parses the header at the start of data[0, len). limits may be NULL (the
 * defaults). Returns:
 *  > 0  a complete valid header of that many bytes; *out describes it and
 *       data[ret, len) is the first payload, not part of the header;
 *  0    no verdict yet: every byte so far can start a valid header (len 0
 *       included); call again with the same bytes and more;
 *  < 0  -(int)reason; out->reason holds it. Decided as soon as the first
 *       offending byte is present, and the same for any longer input.
 * *out is rewritten on every call; spans stay valid while data is. */
int gh_proxy_parse(const uint8_t *data, size_t len, const struct gh_proxy_limits *limits,
                   struct gh_proxy_header *out);

/* The first kept TLV of TYPE, or NULL. */
const struct gh_proxy_tlv *gh_proxy_find_tlv(const struct gh_proxy_header *h, uint8_t type);

static inline const uint8_t *gh_proxy_span_ptr(const uint8_t *data, struct gh_proxy_span s)
{
    return data + s.off;
}

/* CRC32C (Castagnoli, RFC 4960 appendix B) of buf[0, len), continuing
 * from crc (0 to start). */
uint32_t gh_proxy_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- inbound: trusted sources -------------------------------------------- */

struct gh_cidr {
    sa_family_t family;          /* AF_INET or AF_INET6 */
    uint8_t prefix;              /* 0..32 or 0..128 */
    uint8_t addr[16];            /* network byte order; bits past prefix are 0 */
};

#define GH_CIDR_WHY_MAX 128

/* Parses "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (/32), "::1" (/128).
 * Strict: inet_pton forms only (no leading zeros in IPv4, no zone ids, no
 * spaces), a decimal prefix without leading zeros, and no address bits set
 * past the prefix ("10.1.0.0/8" is refused, not silently widened). A rule
 * inside ::ffff:0:0/96 with a prefix of at least 96 becomes the IPv4 rule it
 * means ("::ffff:10.0.0.0/104" is 10.0.0.0/8). Returns 0, or -1 with a
 * message in why (GH_CIDR_WHY_MAX bytes; may be NULL). */
int gh_cidr_parse(const char *text, struct gh_cidr *out, char why[GH_CIDR_WHY_MAX]);

/* Whether sa (AF_INET or AF_INET6; anything else never matches) is inside
 * the rule / any rule of the list. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d,
 * what a dual-stack listener reports for IPv4 clients) is matched as the
 * IPv4 address it carries, so only IPv4 rules match it: "::/0" means every
 * IPv6 peer, "0.0.0.0/0" every IPv4 peer. */
bool gh_cidr_match(const struct gh_cidr *rule, const struct sockaddr *sa);
bool gh_cidr_list_match(const struct gh_cidr *list, size_t n, const struct sockaddr *sa);

/* ---- outbound: building ---------------------------------------------------- */

/* Length-counted text for the builder; len 0 means absent. */
struct gh_proxy_str {
    const char *p;
    size_t len;
};

/* Longest value of each field gh_proxy_build_v2 accepts (a longer one
 * makes it fail): they size GH_PROXY_V2_MAX_LEN. */
#define GH_PROXY_SNI_MAX 255             /* a DNS name is at most 253 */
#define GH_PROXY_ALPN_MAX 255            /* RFC 7301 protocol name */
#define GH_PROXY_UNIQUE_ID_MAX 128       /* the spec's limit */
#define GH_PROXY_TLS_VERSION_MAX 32      /* "TLSv1.3" */
#define GH_PROXY_CIPHER_MAX 64           /* "TLS13-AES256-GCM-SHA384" */
#define GH_PROXY_CN_MAX 256              /* 64 characters (X.520) of up to 4 UTF-8 bytes */
#define GH_PROXY_SHA256_HEX_LEN 64       /* exactly this long when present */
#define GH_PROXY_SUBJECT_MAX 1024
#define GH_PROXY_SAN_URI_MAX 2048        /* the SPIFFE ID limit */

/* Worst-case v2 header gh_proxy_build_v2 writes: fixed part, IPv6
 * addresses, then each TLV (3 bytes of type and length + value) at its
 * maximum; the SSL TLV holds client (1) + verify (4) + three sub-TLVs.
 * 16 + 36 + 258 + 258 + 131 + (3 + 5 + 35 + 67 + 259) + 67 + 1027 + 2051 + 7
 * = 4220 bytes. Larger than the 536 a receiver is told to expect (the
 * subject and the SPIFFE ID can be long): a backend must read the length. */
#define GH_PROXY_V2_MAX_LEN                                                                    \
    (GH_PROXY_V2_HEADER_LEN + 36 /* IPv6 addresses and ports */                                \
     + (3 + GH_PROXY_ALPN_MAX) + (3 + GH_PROXY_SNI_MAX) + (3 + GH_PROXY_UNIQUE_ID_MAX)         \
     + (3 + 5 + (3 + GH_PROXY_TLS_VERSION_MAX) + (3 + GH_PROXY_CIPHER_MAX)                     \
        + (3 + GH_PROXY_CN_MAX))                                                               \
     + (3 + GH_PROXY_SHA256_HEX_LEN) + (3 + GH_PROXY_SUBJECT_MAX) + (3 + GH_PROXY_SAN_URI_MAX) \
     + (3 + 4) /* CRC32C */)

/* What the client's TLS session tells the backend (gh_proxy_build_v2). */
struct gh_proxy_tls_info {
    struct gh_proxy_str sni;         /* -> PP2_TYPE_AUTHORITY */
    struct gh_proxy_str alpn;        /* negotiated protocol -> PP2_TYPE_ALPN */
    struct gh_proxy_str version;     /* -> SSL_VERSION, e.g. "TLSv1.3" */
    struct gh_proxy_str cipher;      /* -> SSL_CIPHER */
    struct gh_proxy_str unique_id;   /* -> PP2_TYPE_UNIQUE_ID (connection id for logs) */
    bool client_cert;                /* the session has a client certificate */
    bool resumed;                    /* ... from an earlier connection (resumption) */
    bool verified;                   /* ... and it was verified: SSL verify = 0 */
    /* with client_cert: */
    struct gh_proxy_str cn;          /* -> SSL_CN */
    struct gh_proxy_str cert_sha256; /* -> GH_PP2_TYPE_GH_CERT_SHA256 */
    struct gh_proxy_str subject;     /* -> GH_PP2_TYPE_GH_CERT_SUBJECT */
    struct gh_proxy_str san_uri;     /* -> GH_PP2_TYPE_GH_CERT_SAN_URI */
    bool crc32c;                     /* append a PP2_TYPE_CRC32C TLV */
};

/* Builds "PROXY TCP4|TCP6 src dst sport dport\r\n" (or "PROXY UNKNOWN\r\n"
 * when src or dst is NULL, not AF_INET/AF_INET6, or their families differ
 * after IPv4-mapped IPv6 addresses are written as the IPv4 they carry).
 * Returns the length (at most GH_PROXY_V1_MAX_LEN), or -1 when cap is too
 * small; then nothing was written. */
int gh_proxy_build_v1(const struct sockaddr *src, const struct sockaddr *dst, uint8_t *out,
                      size_t cap);

/* Builds a v2 PROXY header: TCP4 or TCP6 with the addresses (the same
 * rules as v1 for mapped addresses), or UNSPEC with an empty address block
 * (the TLVs follow the fixed part, as HAProxy lays it out) when v1 would say
 * UNKNOWN. With tls, TLVs follow in ascending type order:
 * ALPN, AUTHORITY, UNIQUE_ID, SSL (VERSION, CN, CIPHER), the gatehouse
 * certificate TLVs, and CRC32C last if asked for; absent values are not
 * sent, and there is no padding. The certificate fields (cn, cert_sha256,
 * subject, san_uri) are sent only with client_cert. Returns the length (at
 * most GH_PROXY_V2_MAX_LEN), or -1 when cap is too small or a value is
 * longer than its GH_PROXY_*_MAX (cert_sha256 not exactly 64 bytes); then
 * nothing was written. */
int gh_proxy_build_v2(const struct sockaddr *src, const struct sockaddr *dst,
                      const struct gh_proxy_tls_info *tls, uint8_t *out, size_t cap);

#endif
