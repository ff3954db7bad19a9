/* cert_info.h - what gatehouse needs to know about an X.509 certificate.
 *
 * Two users: picking a server certificate by SNI (the DNS names it covers,
 * its key type, its validity), and client certificates under mTLS (identity
 * allow-lists, and subject, issuer, serial and fingerprint for the audit
 * log and the headers sent to the backend).
 *
 * Owns: how a certificate's names are rendered as text (and as header
 * values: gh_cert_info_name_ascii, gh_cert_info_uri_list), what counts as a
 * certificate covering a host name, and the allow-list semantics. wolfCrypt
 * (DecodedCert) does the X.509 parsing; nothing is verified here (no
 * signature, chain or date check: dates are reported, not judged). No I/O
 * besides reading the PEM file in gh_cert_info_from_pem_file; nothing is
 * allocated here (wolfCrypt allocates inside DecodedCert and frees it before
 * returning). Stack: about 16 KiB for gh_cert_info_parse, 64 KiB more for
 * gh_cert_info_from_pem_file. The struct is about 11.5 KiB: callers keep it
 * off small stacks. Every string in struct gh_cert_info is NUL-terminated
 * and within the array it is declared in, whatever the certificate holds.
 *
 * Names (subject, issuer) as RFC 4514 strings:
 *  - attribute-value pairs in the reverse of their DER order (most specific,
 *    usually CN, first; as openssl -nameopt RFC2253), RDNs separated by ','
 *    and the pairs of a multi-valued RDN by '+', no spaces (wolfSSL 5.7.2's
 *    ASN template parser refuses multi-valued RDNs, so with this build
 *    such certificates fail to parse);
 *  - attribute types: CN L ST O OU C STREET DC UID SN GN serialNumber title
 *    initials generationQualifier dnQualifier pseudonym emailAddress
 *    (emailAddress is not in RFC 4514's table but is what everybody prints);
 *    any other type as its dotted OID with the value as '#' and the
 *    uppercase hex of its BER encoding (RFC 4514 2.4);
 *  - string values (UTF8String, PrintableString, IA5String, VisibleString,
 *    NumericString, TeletexString read as Latin-1, BMPString, Universal-
 *    String) converted to UTF-8; a value of another type, or one that is not
 *    valid in its type (bad UTF-8, lone surrogates, a PrintableString byte
 *    over 0x7f...), also as '#' and hex;
 *  - escaped with a backslash: , + " \ < > ; anywhere, '#' or ' ' first,
 *    ' ' last; control characters (U+0000-U+001F, U+007F-U+009F) as '\'
 *    and two uppercase hex digits per UTF-8 byte. So the string is valid
 *    UTF-8 without control characters, fit for a JSON string or (after any
 *    non-ASCII policy of the caller) a header value.
 *  - at most GH_CERT_INFO_NAME_MAX bytes: a longer name is cut after the
 *    last whole unit that fits (a character, an escape, or a separator with
 *    the next type and '='; never inside a "\XX" or a UTF-8 sequence) and
 *    *_truncated is set. The text is then a prefix of the whole name.
 *
 * Serial: the two's-complement content octets of the DER INTEGER, two
 * lowercase hex digits per octet, minus the one 00 octet DER puts in front
 * of a positive number whose top bit is set. Leading zero nibbles inside an
 * octet stay ("0f"): this is `openssl x509 -serial` in lowercase. */
#ifndef GATEHOUSE_CERT_INFO_H
#define GATEHOUSE_CERT_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GH_CERT_INFO_NAME_MAX 512     /* subject / issuer text, bytes without NUL */
#define GH_CERT_INFO_CN_MAX 256       /* CN value as UTF-8, bytes without NUL */
#define GH_CERT_INFO_DNS_MAX 32       /* SAN DNS names kept */
#define GH_CERT_INFO_DNS_LEN 253      /* bytes of one DNS name */
#define GH_CERT_INFO_URI_MAX 8        /* SAN URIs kept */
#define GH_CERT_INFO_URI_LEN 255      /* bytes of one URI */
#define GH_CERT_INFO_SERIAL_HEX 64    /* wolfCrypt keeps serials of up to 32 octets */
#define GH_CERT_INFO_SHA256_HEX 64
/* gh_cert_info_name_ascii: every byte of a name may become "\XX" */
#define GH_CERT_INFO_NAME_ASCII_MAX (3 * GH_CERT_INFO_NAME_MAX)
/* gh_cert_info_uri_list: each URI quoted with every byte escaped, ", " between */
#define GH_CERT_INFO_URI_LIST_MAX (GH_CERT_INFO_URI_MAX * (2 * GH_CERT_INFO_URI_LEN + 4))
#define GH_CERT_INFO_DER_MAX 65536    /* largest certificate accepted, bytes of DER */
#define GH_CERT_INFO_PEM_MAX 65536    /* bytes of a PEM file read; the first
                                       * certificate must end within them */

enum gh_cert_key_type {
    GH_CERT_KEY_OTHER = 0,   /* parsed by wolfCrypt, none of the below */
    GH_CERT_KEY_EC_P256,     /* id-ecPublicKey on secp256r1 (key_bits 256) */
    GH_CERT_KEY_EC_P384,     /* secp384r1 (384) */
    GH_CERT_KEY_EC_P521,     /* secp521r1 (521) */
    GH_CERT_KEY_RSA,         /* rsaEncryption; key_bits = modulus bits */
};

struct gh_cert_info {
    char subject[GH_CERT_INFO_NAME_MAX + 1];   /* RFC 4514, see above */
    char issuer[GH_CERT_INFO_NAME_MAX + 1];
    bool subject_truncated;
    bool issuer_truncated;
    /* The subject's CN: the last CN attribute in DER order (the most
     * specific one, as OpenSSL takes for host names), as UTF-8, unescaped.
     * "" when there is none or it could not be kept: longer than
     * GH_CERT_INFO_CN_MAX bytes, a control character or NUL inside, or not a
     * valid string (cn_dropped is then set). */
    char cn[GH_CERT_INFO_CN_MAX + 1];
    bool has_cn;            /* the subject has a CN attribute */
    bool cn_dropped;        /* ... but it is not in cn */
    char serial_hex[GH_CERT_INFO_SERIAL_HEX + 1];   /* see above */
    char sha256_hex[GH_CERT_INFO_SHA256_HEX + 1];   /* of the whole DER, lowercase */
    /* SAN dNSName entries in certificate order, as they are in the
     * certificate (case kept). Only 1..253 bytes of printable ASCII
     * (0x21-0x7e) are kept; the others, and those past
     * GH_CERT_INFO_DNS_MAX, are counted in dns_dropped. */
    char dns[GH_CERT_INFO_DNS_MAX][GH_CERT_INFO_DNS_LEN + 1];
    size_t n_dns;
    size_t dns_dropped;
    /* SAN uniformResourceIdentifier entries, the same way (1..255 bytes of
     * 0x21-0x7e). wolfCrypt rejects a certificate with a relative URI. */
    char uri[GH_CERT_INFO_URI_MAX][GH_CERT_INFO_URI_LEN + 1];
    size_t n_uri;
    size_t uri_dropped;
    /* Other SAN types (email, directory names, IP addresses: wolfCrypt
     * drops those without WOLFSSL_IP_ALT_NAME) are not reported. */
    enum gh_cert_key_type key_type;
    unsigned key_bits;      /* 256/384/521, RSA modulus bits, 0 for OTHER */
    time_t not_before;      /* UTC seconds since the epoch */
    time_t not_after;
    bool is_ca;             /* basicConstraints cA TRUE */
    int version;            /* X.509 version: 1, 2 or 3 */
};

/* Parses one DER certificate: exactly len bytes (1..GH_CERT_INFO_DER_MAX,
 * no trailing bytes). Returns 0 with *out filled, or -1 with *out zeroed and
 * a reason in why (why_len bytes, NUL-terminated; why may be NULL).
 * Certificates wolfCrypt (5.7.2, this build) cannot parse fail here, among
 * others: a serial of 0; an empty or relative URI SAN; an unknown critical
 * extension; a multi-valued RDN; a name value that is not a UTF8String,
 * PrintableString, IA5String, TeletexString, BMPString or UniversalString,
 * or an invalid UTF8String; a key type or curve the build lacks (Ed25519,
 * Ed448, curves other than P-256/P-384/P-521). */
int gh_cert_info_parse(const uint8_t *der, size_t len, struct gh_cert_info *out, char *why,
                       size_t why_len);

/* The first certificate ("-----BEGIN CERTIFICATE-----") of a PEM file,
 * which may hold a chain and other blocks; it must end within the first
 * GH_CERT_INFO_PEM_MAX bytes (read into a stack buffer). Returns 0 or -1
 * with a reason naming path. */
int gh_cert_info_from_pem_file(const char *path, struct gh_cert_info *out, char *why,
                               size_t why_len);

/* Does the certificate cover host (host_len bytes, no NUL needed)? Host is
 * compared with each SAN DNS name ignoring ASCII case (no other folding: no
 * trailing-dot removal, no IDNA mapping); when the certificate has no DNS
 * SAN at all (n_dns + dns_dropped == 0), with cn instead, the same way.
 * A name "*.REST" (a whole left-most label '*', REST holding at least two
 * labels and no '*') covers exactly one non-empty label in front of REST:
 * "*.example.com" covers "a.example.com", not "example.com" nor
 * "a.b.example.com" (RFC 6125 6.4.3). Partial-label wildcards ("f*.x.com")
 * and '*' anywhere else never match. Host names that are empty, longer than
 * 253 bytes, or contain '*' or bytes outside 0x21-0x7e never match. */
bool gh_cert_info_matches_dns(const struct gh_cert_info *ci, const char *host, size_t host_len);

/* mTLS identity allow-lists. Each list is the config's comma-separated
 * string without spaces; NULL or "" means that list is not set. Empty
 * entries (",,") are skipped: a list of only commas is set and matches
 * nothing (fails closed). When no list is set every certificate is
 * allowed; otherwise the certificate is allowed when ANY set list has an
 * entry that matches:
 *  - allow_cn: entry == cn, byte for byte (case matters; a certificate
 *    whose cn is "" never matches; a CN containing ',' cannot be listed);
 *  - allow_dns: for some SAN DNS name D of the certificate (the CN is not
 *    consulted): entry equals D ignoring ASCII case, or entry is a wildcard
 *    "*.REST" that covers D as in gh_cert_info_matches_dns. A wildcard in
 *    the certificate is matched only literally: D "*.example.com" matches
 *    the entry "*.example.com", never "a.example.com";
 *  - allow_uri: entry == a SAN URI, byte for byte (no normalisation:
 *    "spiffe://example.org/ns/prod/sa/api" exactly);
 *  - allow_sha256: entry == sha256_hex, i.e. 64 LOWERCASE hex digits
 *    without separators (the config must normalise "AB:CD:..." forms). */
bool gh_cert_info_allowed(const struct gh_cert_info *ci, const char *allow_cn,
                          const char *allow_dns, const char *allow_uri,
                          const char *allow_sha256);

/* A name as rendered above (subject, issuer: RFC 4514, UTF-8) in ASCII
 * only, for a header value: every byte over 0x7e becomes '\' and two
 * uppercase hex digits (as any byte under 0x20, which the rendering never
 * leaves; an RFC 4514 hexpair, so the result is still an
 * RFC 4514 string of the same name). Since the rendered name already
 * escapes '\' and control characters, distinct names stay distinct: two
 * subjects that differ in any non-ASCII byte never give the same text. out
 * is out_cap bytes (NUL included; GH_CERT_INFO_NAME_ASCII_MAX + 1 holds any
 * name rendered here). Returns the length, or -1 (out "") when it does not
 * fit. */
int gh_cert_info_name_ascii(const char *name, char *out, size_t out_cap);

/* Every kept SAN URI (uri[0..n_uri)) as one RFC 9110 list value: ", "
 * between elements; a URI is written as it is unless it holds ',', '"',
 * '\' or ';' (which a list or parameter reader would split on or
 * misread), then as a quoted-string with '"' and '\' escaped. URIs are
 * 0x21-0x7e already (see uri above). "" when there are none. out is
 * out_cap bytes (NUL included; GH_CERT_INFO_URI_LIST_MAX + 1 holds any).
 * Returns the length, or -1 (out "") when it does not fit. */
int gh_cert_info_uri_list(const struct gh_cert_info *ci, char *out, size_t out_cap);

/* Stable name of a key type: "ec-p256", "ec-p384", "ec-p521", "rsa",
 * "other". */
const char *gh_cert_key_type_name(enum gh_cert_key_type type);

#endif
