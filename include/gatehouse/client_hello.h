/* client_hello.h - the TLS ClientHello, read before wolfSSL sees it.
 *
 * Owns: the syntax of the first flight a TLS client sends (the handshake
 * records that carry its ClientHello, RFC 8446 5.1 and 4.1.2, RFC 5246
 * 7.4.1.2), the stable names of the ways it can be broken, the fields
 * gatehouse picks a certificate by (server_name, RFC 6066 3; versions,
 * cipher suites, signature algorithms and groups; ALPN, RFC 7301), and the
 * rules that match a server name against a configured name or wildcard
 * (RFC 6125 6.4).
 *
 * Why it exists: wolfSSL as built here has no client-hello callback and
 * cannot move a session to another WOLFSSL_CTX, so gatehouse reads the
 * ClientHello first, chooses the context (by SNI, and ECDSA or RSA by what
 * the client accepts), and only then creates the session and replays the
 * bytes into it. These are the first bytes an attacker controls, so the
 * parser is strict and bounded (at most GH_CLIENT_HELLO_MAX_BYTES, O(len)
 * per call), and judges input as it arrives: each record header at once,
 * each field of the ClientHello as soon as that field is complete.
 *
 * It does no I/O and never allocates. Parsing is incremental by
 * re-examination: the caller appends bytes to one buffer and calls again
 * from its start. A status other than INCOMPLETE is final: every longer
 * input with the same prefix gets the same one.
 *
 * Spans point into the caller's data when the ClientHello sits in one
 * record (the usual case). A ClientHello fragmented over several records
 * is reassembled into out->defrag and its spans point there: they stay
 * valid while both data and *out are unchanged, and a copy of *out made
 * with memcpy or assignment does not carry them along. */
#ifndef GATEHOUSE_CLIENT_HELLO_H
#define GATEHOUSE_CLIENT_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes of records the ClientHello may take: one full TLS record
 * (header + 2^14), the size of the buffer the caller reads into. A
 * fragmented ClientHello shares this with its extra record headers. A
 * build may raise it (-DGH_CLIENT_HELLO_MAX_BYTES=...); a call may lower
 * it (gh_client_hello_parse_max). */
#ifndef GH_CLIENT_HELLO_MAX_BYTES
#define GH_CLIENT_HELLO_MAX_BYTES (16384 + 5)
#endif

#define GH_CLIENT_HELLO_MAX_ALPN 16  /* ALPN names kept in alpn[] */
#define GH_SNI_MAX 255               /* longest host_name accepted (RFC 6066 4 x 63 + dots) */

enum gh_hello_status {
    GH_HELLO_INCOMPLETE = 0,  /* every byte so far can start a ClientHello: call again with more */
    GH_HELLO_DONE = 1,        /* parsed; out->consumed bytes of records hold it */
    GH_HELLO_NOT_TLS = -1,    /* not a TLS handshake record (plaintext HTTP, SSLv2, ...) */
    GH_HELLO_MALFORMED = -2,  /* TLS records that hold no well-formed ClientHello */
    GH_HELLO_TOO_LARGE = -3,  /* would take more than the maximum bytes of records */
};

/* Why a parse did not give DONE. Names (gh_client_hello_reason_name) are
 * stable: they appear in logs and the audit log. */
enum gh_hello_reason {
    GH_HELLO_R_NONE = 0,            /* "none": DONE, or INCOMPLETE */
    GH_HELLO_R_NOT_TLS,             /* "hello_not_tls": first byte not 0x16, or second not 0x03 */
    GH_HELLO_R_BAD_RECORD_VERSION,  /* "hello_bad_record_version": record version not 3.1..3.3 */
    GH_HELLO_R_BAD_RECORD_LENGTH,   /* "hello_bad_record_length": record length 0 or over 2^14 */
    GH_HELLO_R_INTERLEAVED,         /* "hello_interleaved_record": a record of another type
                                       before the ClientHello ends (RFC 8446 5.1) */
    GH_HELLO_R_NOT_CLIENT_HELLO,    /* "hello_not_client_hello": handshake type is not 1 */
    GH_HELLO_R_TRAILING_DATA,       /* "hello_trailing_data": more bytes in the ClientHello's last
                                       record after it */
    GH_HELLO_R_BAD_LENGTH,          /* "hello_bad_length": a vector runs past the message, or the
                                       extensions do not fill it exactly */
    GH_HELLO_R_BAD_VERSION,         /* "hello_bad_version": legacy_version major is not 3 */
    GH_HELLO_R_BAD_SESSION_ID,      /* "hello_bad_session_id": longer than 32 */
    GH_HELLO_R_BAD_CIPHER_SUITES,   /* "hello_bad_cipher_suites": empty or odd length */
    GH_HELLO_R_BAD_COMPRESSION,     /* "hello_bad_compression": empty, or no null method */
    GH_HELLO_R_DUPLICATE_EXTENSION, /* "hello_duplicate_extension": a type twice (RFC 8446 4.2) */
    GH_HELLO_R_BAD_EXTENSION,       /* "hello_bad_extension": an extension's body breaks its
                                       grammar, or pre_shared_key is not the last one */
    GH_HELLO_R_BAD_SNI,             /* "hello_bad_sni": not exactly one host_name, or the name is
                                       not a DNS name of 1..255 bytes */
    GH_HELLO_R_BAD_ALPN,            /* "hello_bad_alpn": an empty list or protocol name */
    GH_HELLO_R_TOO_LARGE,           /* "hello_too_large" */
    GH_HELLO_R_COUNT
};

const char *gh_client_hello_reason_name(enum gh_hello_reason reason);
/* "incomplete", "done", "not_tls", "malformed", "too_large". */
const char *gh_client_hello_status_name(enum gh_hello_status status);

/* Bytes of a field, in data or out->defrag; p is NULL when absent. */
struct gh_hello_span {
    const uint8_t *p;
    size_t len;
};

/* versions: from supported_versions (RFC 8446 4.2.1) */
#define GH_HELLO_V_TLS10 0x01u  /* 0x0301 */
#define GH_HELLO_V_TLS11 0x02u  /* 0x0302 */
#define GH_HELLO_V_TLS12 0x04u  /* 0x0303 */
#define GH_HELLO_V_TLS13 0x08u  /* 0x0304 */

/* suites: the cipher suites gatehouse can negotiate (forward-secret AEAD) */
#define GH_HELLO_CS_ECDHE_ECDSA_AES128_GCM 0x0001u  /* 0xC02B */
#define GH_HELLO_CS_ECDHE_ECDSA_AES256_GCM 0x0002u  /* 0xC02C */
#define GH_HELLO_CS_ECDHE_ECDSA_CHACHA20   0x0004u  /* 0xCCA9 */
#define GH_HELLO_CS_ECDHE_RSA_AES128_GCM   0x0008u  /* 0xC02F */
#define GH_HELLO_CS_ECDHE_RSA_AES256_GCM   0x0010u  /* 0xC030 */
#define GH_HELLO_CS_ECDHE_RSA_CHACHA20     0x0020u  /* 0xCCA8 */
#define GH_HELLO_CS_TLS13_AES128_GCM       0x0040u  /* 0x1301 */
#define GH_HELLO_CS_TLS13_AES256_GCM       0x0080u  /* 0x1302 */
#define GH_HELLO_CS_TLS13_CHACHA20         0x0100u  /* 0x1303 */
#define GH_HELLO_CS_TLS13_OTHER            0x0200u  /* 0x1304, 0x1305 (CCM) */
#define GH_HELLO_CS_ECDHE_ECDSA (GH_HELLO_CS_ECDHE_ECDSA_AES128_GCM | \
                                 GH_HELLO_CS_ECDHE_ECDSA_AES256_GCM | \
                                 GH_HELLO_CS_ECDHE_ECDSA_CHACHA20)
#define GH_HELLO_CS_ECDHE_RSA (GH_HELLO_CS_ECDHE_RSA_AES128_GCM | \
                               GH_HELLO_CS_ECDHE_RSA_AES256_GCM | \
                               GH_HELLO_CS_ECDHE_RSA_CHACHA20)
#define GH_HELLO_CS_TLS13 (GH_HELLO_CS_TLS13_AES128_GCM | GH_HELLO_CS_TLS13_AES256_GCM | \
                           GH_HELLO_CS_TLS13_CHACHA20 | GH_HELLO_CS_TLS13_OTHER)

/* sig_algs, sig_algs_cert: SignatureScheme values (RFC 8446 4.2.3; in TLS
 * 1.2 the same numbers are hash/signature pairs, RFC 5246 7.4.1.4.1) */
#define GH_HELLO_SIG_ECDSA_P256    0x0001u  /* 0x0403 ecdsa_secp256r1_sha256 */
#define GH_HELLO_SIG_ECDSA_P384    0x0002u  /* 0x0503 ecdsa_secp384r1_sha384 */
#define GH_HELLO_SIG_ECDSA_P521    0x0004u  /* 0x0603 ecdsa_secp521r1_sha512 */
#define GH_HELLO_SIG_ECDSA_SHA1    0x0008u  /* 0x0203 (and 0x0303 sha224), TLS 1.2 only */
#define GH_HELLO_SIG_RSA_PSS_RSAE  0x0010u  /* 0x0804, 0x0805, 0x0806 */
#define GH_HELLO_SIG_RSA_PSS_PSS   0x0020u  /* 0x0809, 0x080A, 0x080B */
#define GH_HELLO_SIG_RSA_PKCS1     0x0040u  /* 0x0401, 0x0501, 0x0601 */
#define GH_HELLO_SIG_RSA_PKCS1_SHA1 0x0080u /* 0x0201 (and 0x0301 sha224), TLS 1.2 only */
#define GH_HELLO_SIG_ED25519       0x0100u  /* 0x0807 */
#define GH_HELLO_SIG_ED448         0x0200u  /* 0x0808 */
#define GH_HELLO_SIG_OTHER         0x0400u  /* anything else (GREASE included) */

/* groups: supported_groups (RFC 8446 4.2.7, RFC 8422 5.1.1) */
#define GH_HELLO_G_X25519      0x0001u  /* 0x001D */
#define GH_HELLO_G_P256        0x0002u  /* 0x0017 secp256r1 */
#define GH_HELLO_G_P384        0x0004u  /* 0x0018 */
#define GH_HELLO_G_P521        0x0008u  /* 0x0019 */
#define GH_HELLO_G_X448        0x0010u  /* 0x001E */
#define GH_HELLO_G_FFDHE       0x0020u  /* 0x0100..0x01FF */
#define GH_HELLO_G_PQ_HYBRID   0x0040u  /* 0x11EB..0x11ED (ML-KEM hybrids), 0x6399 (Kyber draft) */
#define GH_HELLO_G_OTHER       0x0080u  /* anything else (GREASE included) */

/* Filled in by a DONE parse; any other status leaves every field but
 * reason zero (defrag aside). Grouped by type rather than by extension, so
 * the struct has no padding holes. About 17 KiB with defrag: keep one per
 * worker (the loop is single-threaded and needs it only until the context
 * is chosen), not one per connection. */
struct gh_client_hello {
    /* the records */
    size_t consumed;                 /* bytes of the records that hold the ClientHello */
    size_t n_records;                /* records it spans (1 unless fragmented) */
    size_t msg_len;                  /* the handshake message's body length (its header says) */

    /* fields, raw */
    struct gh_hello_span random;     /* 32 bytes */
    struct gh_hello_span session_id; /* 0..32 bytes */
    struct gh_hello_span cipher_suites; /* the list, 2 bytes per suite */
    struct gh_hello_span server_name; /* the one host_name: case as sent, no trailing dot */
    struct gh_hello_span alpn_list;  /* the whole ProtocolNameList, without its length */
    struct gh_hello_span alpn[GH_CLIENT_HELLO_MAX_ALPN]; /* its first names */

    /* counts */
    size_t n_cipher_suites;
    size_t n_extensions;
    size_t n_groups;                 /* supported_groups entries, unknown ones included */
    size_t n_alpn;                   /* ALPN names; may exceed the alpn[] array */

    /* what the client offers, as bit sets */
    unsigned suites;                 /* GH_HELLO_CS_* */
    unsigned versions;               /* GH_HELLO_V_* from supported_versions */
    unsigned sig_algs;               /* GH_HELLO_SIG_* from signature_algorithms */
    unsigned sig_algs_cert;          /* ... from signature_algorithms_cert (RFC 8446 4.2.3) */
    unsigned groups;                 /* GH_HELLO_G_* from supported_groups */

    enum gh_hello_reason reason;     /* why the status is not DONE; NONE for DONE/INCOMPLETE */
    uint16_t record_version;         /* of the first record */
    uint16_t legacy_version;         /* ClientHello.legacy_version */
    uint8_t n_compression_methods;

    /* What the client offers: with supported_versions, what it lists;
     * without, legacy_version is its highest (RFC 8446 4.2.1, D.1). */
    bool offers_tls12;
    bool offers_tls13;
    /* which extensions were sent */
    bool has_supported_versions;
    bool has_server_name;
    bool has_sig_algs;
    bool has_sig_algs_cert;
    bool has_groups;
    bool has_alpn;                   /* application_layer_protocol_negotiation */
    bool has_session_ticket;         /* session_ticket (RFC 5077), empty or not */
    bool has_pre_shared_key;         /* pre_shared_key (RFC 8446 4.2.11) */
    bool has_early_data;             /* early_data: the client may send 0-RTT data */
    bool has_key_share;              /* key_share */

    /* Reassembly of a ClientHello fragmented over several records: the
     * handshake message, its 4-byte header included. Scratch otherwise. */
    uint8_t defrag[GH_CLIENT_HELLO_MAX_BYTES];
};

/* Parses the ClientHello at the start of data[0, len): the bytes a client
 * sent so far on a fresh connection, from its first record header.
 *
 * Returns INCOMPLETE while every byte so far can start a ClientHello of
 * at most GH_CLIENT_HELLO_MAX_BYTES, DONE with the fields in *out, or a
 * final verdict with out->reason. A verdict is reached as soon as the
 * bytes that decide it are present (NOT_TLS after one byte of plaintext
 * HTTP; TOO_LARGE once a length says so), so a slow client cannot keep
 * the caller waiting on bytes that are already wrong. Record headers are
 * checked on arrival; the ClientHello's fields are checked one vector at
 * a time, each once it is complete. data[out->consumed, len) after DONE
 * is whatever the client sent next.
 *
 * *out is rewritten on every call (except the unused part of defrag). */
enum gh_hello_status gh_client_hello_parse(const uint8_t *data, size_t len,
                                           struct gh_client_hello *out);

/* The same with a lower maximum (bytes of records, headers included): 0 or
 * anything over GH_CLIENT_HELLO_MAX_BYTES means that; below 6 means 6, so
 * the first record header is always judged. */
enum gh_hello_status gh_client_hello_parse_max(const uint8_t *data, size_t len,
                                               size_t max_bytes, struct gh_client_hello *out);

/* The ClientHello's host_name equals NAME, ASCII case-insensitively (one
 * trailing dot on NAME is ignored). False without a server_name. */
bool gh_client_hello_sni_equals(const struct gh_client_hello *h, const char *name);

/* PATTERN matches NAME (RFC 6125 6.4): ASCII case-insensitive, one
 * trailing dot on either side ignored. "*.example.com" matches exactly one
 * non-empty label in front of "example.com": not "example.com" itself,
 * nor "a.b.example.com". '*' counts only as the whole left-most label,
 * followed by at least two labels ("*.com" and "*" match nothing), and a
 * pattern with '*' anywhere else matches nothing. A NAME with '*' or an
 * empty label never matches a wildcard. */
bool gh_sni_matches(const char *pattern, struct gh_hello_span name);

/* NAME (e.g. "http/1.1", byte for byte) is in the client's ALPN list. */
bool gh_client_hello_offers_alpn(const struct gh_client_hello *h, const char *name);

/* The TLS version the server will negotiate with this hello: 1.3 when the
 * client lists it and offers a TLS 1.3 suite, else 1.2 when it offers
 * that. 0x0304, 0x0303, or 0 (neither: gatehouse refuses it). */
uint16_t gh_client_hello_version(const struct gh_client_hello *h);

/* A P-256 ECDSA certificate will do for this client:
 *  TLS 1.3: signature_algorithms lists ecdsa_secp256r1_sha256;
 *  TLS 1.2: an ECDHE_ECDSA AEAD suite, P-256 among supported_groups (when
 *  sent: the certificate's curve must be one, RFC 8422 5.1), and either no
 *  signature_algorithms (RFC 5246 7.4.1.4.1: the default is {sha1,ecdsa})
 *  or one with ECDSA under any hash. */
bool gh_client_hello_accepts_ecdsa(const struct gh_client_hello *h);

/* An RSA (rsaEncryption) certificate will do for this client:
 *  TLS 1.3: signature_algorithms lists rsa_pss_rsae_* (RFC 8446 4.2.3:
 *  PKCS#1 v1.5 is for certificates only, never handshake signatures);
 *  TLS 1.2: an ECDHE_RSA AEAD suite, and either no signature_algorithms
 *  (default {sha1,rsa}) or one with rsa_pkcs1 under any hash or
 *  rsa_pss_rsae. */
bool gh_client_hello_accepts_rsa(const struct gh_client_hello *h);

#endif
