/* client_hello.c - strict, bounded ClientHello parser; the contract is
 * include/gatehouse/client_hello.h.
 *
 * Two passes over the bytes, both linear. The record walk reads record
 * headers in order and gathers the fragments that make up the handshake
 * message (in place when it sits in one record, else into out->defrag).
 * The message parse then reads the ClientHello from the gathered bytes,
 * one vector at a time. Each check is made once the bytes it needs are
 * present and never looks at a byte "if it is there", so a prefix of an
 * input gets INCOMPLETE or the verdict of the whole input:
 *  - a record header verdict comes after every message byte gathered
 *    before it, so the message parse sees exactly those, and its own
 *    verdict (about earlier bytes) wins if it has one;
 *  - a verdict decided by the message's length field (TOO_LARGE, trailing
 *    data in the record that holds that field) lets the message parse see
 *    only the 4 header bytes, which precede it.
 *
 * Choices the RFCs leave to a server, and why:
 *  - Record layer: the first byte must be 22 (handshake) and the second 3,
 *    else NOT_TLS: plaintext HTTP fails on its first byte, and an SSLv2
 *    hello (0x80 ...) too. The minor version must be 1..3 (RFC 8446 5.1:
 *    0x0301 or 0x0303 for a ClientHello; 0x0302 seen in the wild). Each
 *    record holds 1..2^14 bytes (5.1: no empty handshake fragments). Every
 *    record until the message ends must be a handshake record
 *    (hello_interleaved_record); continuation records are checked like the
 *    first (their version need not match it).
 *  - Fragmentation: any split into consecutive records, as long as all of
 *    them, headers included, fit in the maximum (GH_CLIENT_HELLO_MAX_BYTES
 *    by default: one full record). TOO_LARGE is decided from the least
 *    the client must still send: the message length plus 5 bytes per
 *    record header, counting one more header when the current record ends
 *    before the message does.
 *  - The ClientHello must end exactly at the end of a record: anything
 *    after it in that record is hello_trailing_data (it would be a second
 *    handshake message, which a client must not send before the server
 *    answers). Records after that one are not looked at: they are the
 *    caller's (early data, or a client that does not wait).
 *  - legacy_version: major 3, any minor (a version the server does not
 *    speak is the TLS library's to refuse, with the right alert).
 *  - No extensions block at all is a valid TLS 1.2 hello (RFC 5246
 *    7.4.1.2); an empty one (length 0) too.
 *  - compression: must contain null (RFC 5246 7.4.1.2, RFC 8446 4.1.2);
 *    other methods are left for the TLS library to refuse in TLS 1.3.
 *  - Extension types appear once (RFC 8446 4.2 MUST NOT; RFC 5246 7.4.1.4
 *    too), GREASE values included. pre_shared_key must be the last
 *    (RFC 8446 4.2.11); early_data must be empty (4.2.10).
 *  - Extensions gatehouse reads are checked against their grammar (inner
 *    lengths exact, lists non-empty, even lengths): server_name,
 *    supported_groups, signature_algorithms(_cert), ALPN,
 *    supported_versions, early_data. The rest are only length-checked.
 *  - server_name: the list holds exactly one entry, of type host_name
 *    (RFC 6066 3 allows one name per type, and defines no other type), of
 *    1..255 bytes: letters, digits, '-', '_' and '.', in labels of 1..63
 *    bytes, so no leading, trailing (6066: "without a trailing dot") or
 *    double dot. The bytes are kept as sent (case included). A name that
 *    looks like an IPv4 address is not refused: 6066 forbids literals,
 *    but such a name can only match a configured name that looks the same.
 *  - ALPN: a non-empty list of non-empty names (RFC 7301 3.1).
 *  - Flags are about what the client sends; GREASE and unknown values are
 *    skipped (GH_HELLO_SIG_OTHER, GH_HELLO_G_OTHER count them).
 *  - accepts_ecdsa / accepts_rsa look at signature_algorithms only, not
 *    signature_algorithms_cert: the certificate chain's signatures are the
 *    CA's, and RFC 8446 4.4.2.2 lets a server send a chain the client did
 *    not ask for rather than fail. */
#include "gatehouse/client_hello.h"

#include "gatehouse/span.h"

#include <string.h>

#define TLS_RECORD_HANDSHAKE 22
#define TLS_MAX_FRAGMENT 16384u
#define HS_CLIENT_HELLO 1
#define HS_HEADER 4            /* msg_type, uint24 length */
#define UNKNOWN SIZE_MAX

#define EXT_SERVER_NAME 0
#define EXT_SUPPORTED_GROUPS 10
#define EXT_SIGNATURE_ALGORITHMS 13
#define EXT_ALPN 16
#define EXT_SESSION_TICKET 35
#define EXT_PRE_SHARED_KEY 41
#define EXT_EARLY_DATA 42
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_SIGNATURE_ALGORITHMS_CERT 50
#define EXT_KEY_SHARE 51

/* ---- names ---------------------------------------------------------------- */

static const char *const reason_names[GH_HELLO_R_COUNT] = {
    [GH_HELLO_R_NONE] = "none",
    [GH_HELLO_R_NOT_TLS] = "hello_not_tls",
    [GH_HELLO_R_BAD_RECORD_VERSION] = "hello_bad_record_version",
    [GH_HELLO_R_BAD_RECORD_LENGTH] = "hello_bad_record_length",
    [GH_HELLO_R_INTERLEAVED] = "hello_interleaved_record",
    [GH_HELLO_R_NOT_CLIENT_HELLO] = "hello_not_client_hello",
    [GH_HELLO_R_TRAILING_DATA] = "hello_trailing_data",
    [GH_HELLO_R_BAD_LENGTH] = "hello_bad_length",
    [GH_HELLO_R_BAD_VERSION] = "hello_bad_version",
    [GH_HELLO_R_BAD_SESSION_ID] = "hello_bad_session_id",
    [GH_HELLO_R_BAD_CIPHER_SUITES] = "hello_bad_cipher_suites",
    [GH_HELLO_R_BAD_COMPRESSION] = "hello_bad_compression",
    [GH_HELLO_R_DUPLICATE_EXTENSION] = "hello_duplicate_extension",
    [GH_HELLO_R_BAD_EXTENSION] = "hello_bad_extension",
    [GH_HELLO_R_BAD_SNI] = "hello_bad_sni",
    [GH_HELLO_R_BAD_ALPN] = "hello_bad_alpn",
    [GH_HELLO_R_TOO_LARGE] = "hello_too_large",
};

const char *gh_client_hello_reason_name(enum gh_hello_reason reason)
{
    if ((unsigned)reason >= GH_HELLO_R_COUNT)
        return "unknown";
    return reason_names[reason];
}

const char *gh_client_hello_status_name(enum gh_hello_status status)
{
    switch (status) {
    case GH_HELLO_INCOMPLETE: return "incomplete";
    case GH_HELLO_DONE: return "done";
    case GH_HELLO_NOT_TLS: return "not_tls";
    case GH_HELLO_MALFORMED: return "malformed";
    case GH_HELLO_TOO_LARGE: return "too_large";
    }
    return "unknown";
}

/* ---- small helpers -------------------------------------------------------- */

static inline unsigned u16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static inline size_t u24(const uint8_t *p)
{
    return (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
}

static struct gh_hello_span mkspan(const uint8_t *p, size_t n)
{
    struct gh_hello_span s = { p, n };
    return s;
}

/* ---- extension bodies ----------------------------------------------------- */

/* Each gets an extension's complete body d[0, n) and returns NONE or why
 * it is broken. */

static bool dns_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* A host_name: 1..255 bytes, labels of 1..63 dns_chars joined by dots. */
static bool valid_host_name(const uint8_t *p, size_t n)
{
    if (n == 0 || n > GH_SNI_MAX)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (label == 0)
                return false;       /* leading or double dot */
            label = 0;
        } else if (dns_char(p[i])) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;               /* no trailing dot */
}

static enum gh_hello_reason ext_server_name(const uint8_t *d, size_t n, struct gh_client_hello *h)
{
    if (n < 2 || u16(d) != n - 2)
        return GH_HELLO_R_BAD_EXTENSION;
    if (n == 2)
        return GH_HELLO_R_BAD_SNI;  /* server_name_list<1..2^16-1> */
    size_t i = 2;
    while (i < n) {
        if (n - i < 3)
            return GH_HELLO_R_BAD_EXTENSION;
        uint8_t type = d[i];
        size_t len = u16(d + i + 1);
        i += 3;
        if (len > n - i)
            return GH_HELLO_R_BAD_EXTENSION;
        if (type != 0 || h->has_server_name || !valid_host_name(d + i, len))
            return GH_HELLO_R_BAD_SNI;
        h->has_server_name = true;
        h->server_name = mkspan(d + i, len);
        i += len;
    }
    return GH_HELLO_R_NONE;
}

/* A uint16 list of 2-byte values with its uint16 length: the whole body,
 * even, at least one entry. */
static bool u16_list(const uint8_t *d, size_t n)
{
    return n >= 4 && u16(d) == n - 2 && n % 2 == 0;
}

static unsigned group_bit(unsigned g)
{
    switch (g) {
    case 0x001d: return GH_HELLO_G_X25519;
    case 0x0017: return GH_HELLO_G_P256;
    case 0x0018: return GH_HELLO_G_P384;
    case 0x0019: return GH_HELLO_G_P521;
    case 0x001e: return GH_HELLO_G_X448;
    case 0x11eb: case 0x11ec: case 0x11ed: case 0x6399: return GH_HELLO_G_PQ_HYBRID;
    default: return (g >> 8) == 0x01 ? GH_HELLO_G_FFDHE : GH_HELLO_G_OTHER;
    }
}

static enum gh_hello_reason ext_groups(const uint8_t *d, size_t n, struct gh_client_hello *h)
{
    if (!u16_list(d, n))
        return GH_HELLO_R_BAD_EXTENSION;
    h->has_groups = true;
    for (size_t i = 2; i < n; i += 2)
        h->groups |= group_bit(u16(d + i));
    h->n_groups = (n - 2) / 2;
    return GH_HELLO_R_NONE;
}

static unsigned sig_bit(unsigned s)
{
    switch (s) {
    case 0x0403: return GH_HELLO_SIG_ECDSA_P256;
    case 0x0503: return GH_HELLO_SIG_ECDSA_P384;
    case 0x0603: return GH_HELLO_SIG_ECDSA_P521;
    case 0x0203: case 0x0303: return GH_HELLO_SIG_ECDSA_SHA1;
    case 0x0804: case 0x0805: case 0x0806: return GH_HELLO_SIG_RSA_PSS_RSAE;
    case 0x0809: case 0x080a: case 0x080b: return GH_HELLO_SIG_RSA_PSS_PSS;
    case 0x0401: case 0x0501: case 0x0601: return GH_HELLO_SIG_RSA_PKCS1;
    case 0x0201: case 0x0301: return GH_HELLO_SIG_RSA_PKCS1_SHA1;
    case 0x0807: return GH_HELLO_SIG_ED25519;
    case 0x0808: return GH_HELLO_SIG_ED448;
    default: return GH_HELLO_SIG_OTHER;
    }
}

static enum gh_hello_reason ext_sig_algs(const uint8_t *d, size_t n, unsigned *bits, bool *has)
{
    if (!u16_list(d, n))
        return GH_HELLO_R_BAD_EXTENSION;
    *has = true;
    for (size_t i = 2; i < n; i += 2)
        *bits |= sig_bit(u16(d + i));
    return GH_HELLO_R_NONE;
}

static enum gh_hello_reason ext_alpn(const uint8_t *d, size_t n, struct gh_client_hello *h)
{
    if (n < 2 || u16(d) != n - 2)
        return GH_HELLO_R_BAD_EXTENSION;
    if (n == 2)
        return GH_HELLO_R_BAD_ALPN;
    size_t i = 2, k = 0;
    while (i < n) {
        size_t len = d[i++];
        if (len == 0)
            return GH_HELLO_R_BAD_ALPN;
        if (len > n - i)
            return GH_HELLO_R_BAD_EXTENSION;
        if (k < GH_CLIENT_HELLO_MAX_ALPN)
            h->alpn[k] = mkspan(d + i, len);
        k++;
        i += len;
    }
    h->has_alpn = true;
    h->alpn_list = mkspan(d + 2, n - 2);
    h->n_alpn = k;
    return GH_HELLO_R_NONE;
}

static enum gh_hello_reason ext_versions(const uint8_t *d, size_t n, struct gh_client_hello *h)
{
    /* ProtocolVersion versions<2..254> */
    if (n < 3 || d[0] != n - 1 || n % 2 == 0)
        return GH_HELLO_R_BAD_EXTENSION;
    h->has_supported_versions = true;
    for (size_t i = 1; i < n; i += 2) {
        unsigned v = u16(d + i);
        if (v >= 0x0301 && v <= 0x0304)
            h->versions |= 1u << (v - 0x0301);
    }
    return GH_HELLO_R_NONE;
}

static enum gh_hello_reason extension(unsigned type, const uint8_t *d, size_t n,
                                      struct gh_client_hello *h)
{
    switch (type) {
    case EXT_SERVER_NAME: return ext_server_name(d, n, h);
    case EXT_SUPPORTED_GROUPS: return ext_groups(d, n, h);
    case EXT_SIGNATURE_ALGORITHMS: return ext_sig_algs(d, n, &h->sig_algs, &h->has_sig_algs);
    case EXT_SIGNATURE_ALGORITHMS_CERT:
        return ext_sig_algs(d, n, &h->sig_algs_cert, &h->has_sig_algs_cert);
    case EXT_ALPN: return ext_alpn(d, n, h);
    case EXT_SUPPORTED_VERSIONS: return ext_versions(d, n, h);
    case EXT_SESSION_TICKET: h->has_session_ticket = true; return GH_HELLO_R_NONE;
    case EXT_PRE_SHARED_KEY: h->has_pre_shared_key = true; return GH_HELLO_R_NONE;
    case EXT_KEY_SHARE: h->has_key_share = true; return GH_HELLO_R_NONE;
    case EXT_EARLY_DATA:
        h->has_early_data = true;
        return n == 0 ? GH_HELLO_R_NONE : GH_HELLO_R_BAD_EXTENSION;
    default: return GH_HELLO_R_NONE;
    }
}

/* ---- the handshake message ------------------------------------------------ */

enum step { STEP_OK, STEP_MORE, STEP_BAD };

/* The message m[0, avail) gathered so far; pos is where parsing stands. */
struct cursor {
    const uint8_t *m;
    size_t avail;
    size_t pos;
    enum gh_hello_reason why;
};

/* The next n bytes, inside a vector that ends at end: BAD (why = over)
 * when they would run past it, MORE when not all present yet. */
static enum step need(struct cursor *c, size_t n, size_t end, enum gh_hello_reason over)
{
    if (n > end - c->pos) {
        c->why = over;
        return STEP_BAD;
    }
    return n > c->avail - c->pos ? STEP_MORE : STEP_OK;
}

static enum step bad(struct cursor *c, enum gh_hello_reason why)
{
    c->why = why;
    return STEP_BAD;
}

#define NEED(n, end, over)                                  \
    do {                                                    \
        enum step s_ = need(c, (n), (end), (over));         \
        if (s_ != STEP_OK)                                  \
            return s_;                                      \
    } while (0)

static unsigned suite_bit(unsigned s)
{
    switch (s) {
    case 0xc02b: return GH_HELLO_CS_ECDHE_ECDSA_AES128_GCM;
    case 0xc02c: return GH_HELLO_CS_ECDHE_ECDSA_AES256_GCM;
    case 0xcca9: return GH_HELLO_CS_ECDHE_ECDSA_CHACHA20;
    case 0xc02f: return GH_HELLO_CS_ECDHE_RSA_AES128_GCM;
    case 0xc030: return GH_HELLO_CS_ECDHE_RSA_AES256_GCM;
    case 0xcca8: return GH_HELLO_CS_ECDHE_RSA_CHACHA20;
    case 0x1301: return GH_HELLO_CS_TLS13_AES128_GCM;
    case 0x1302: return GH_HELLO_CS_TLS13_AES256_GCM;
    case 0x1303: return GH_HELLO_CS_TLS13_CHACHA20;
    case 0x1304: case 0x1305: return GH_HELLO_CS_TLS13_OTHER;
    default: return 0;
    }
}

/* The extension types seen in one parse: a bit per type. Clearing 8 KiB
 * on every call would cost more than parsing a typical hello, so word[] is
 * never cleared: a word is read only after this parse wrote it, which
 * used[] (one bit per word, 128 bytes, cleared) records. */
struct type_set {
    uint64_t used[65536 / 64 / 64];
    uint64_t word[65536 / 64];
};

/* Adds TYPE; true if it was there already. */
static bool type_seen(struct type_set *s, unsigned type)
{
    unsigned w = type / 64;
    uint64_t bit = (uint64_t)1 << (type % 64);
    uint64_t wbit = (uint64_t)1 << (w % 64);
    if (!(s->used[w / 64] & wbit)) {
        s->used[w / 64] |= wbit;
        s->word[w] = bit;
        return false;
    }
    if (s->word[w] & bit)
        return true;
    s->word[w] |= bit;
    return false;
}

static enum step parse_extensions(struct cursor *c, size_t end, struct gh_client_hello *h)
{
    const uint8_t *m = c->m;
    struct type_set seen;
    memset(seen.used, 0, sizeof seen.used);

    while (c->pos < end) {
        NEED(4, end, GH_HELLO_R_BAD_LENGTH);
        unsigned type = u16(m + c->pos);
        size_t n = u16(m + c->pos + 2);
        if (type_seen(&seen, type))
            return bad(c, GH_HELLO_R_DUPLICATE_EXTENSION);
        c->pos += 4;
        if (n > end - c->pos)
            return bad(c, GH_HELLO_R_BAD_LENGTH);
        if (type == EXT_PRE_SHARED_KEY && c->pos + n != end)
            return bad(c, GH_HELLO_R_BAD_EXTENSION);
        NEED(n, end, GH_HELLO_R_BAD_LENGTH);
        enum gh_hello_reason why = extension(type, m + c->pos, n, h);
        if (why != GH_HELLO_R_NONE)
            return bad(c, why);
        h->n_extensions++;
        c->pos += n;
    }
    return STEP_OK;
}

static enum step parse_message(struct cursor *c, struct gh_client_hello *h)
{
    const uint8_t *m = c->m;
    size_t end = UNKNOWN;

    NEED(1, end, GH_HELLO_R_BAD_LENGTH);
    if (m[0] != HS_CLIENT_HELLO)
        return bad(c, GH_HELLO_R_NOT_CLIENT_HELLO);
    NEED(HS_HEADER, end, GH_HELLO_R_BAD_LENGTH);
    end = HS_HEADER + u24(m + 1);
    c->pos = HS_HEADER;

    NEED(2, end, GH_HELLO_R_BAD_LENGTH);
    h->legacy_version = (uint16_t)u16(m + c->pos);
    if (m[c->pos] != 3)
        return bad(c, GH_HELLO_R_BAD_VERSION);
    c->pos += 2;

    NEED(32, end, GH_HELLO_R_BAD_LENGTH);
    h->random = mkspan(m + c->pos, 32);
    c->pos += 32;

    NEED(1, end, GH_HELLO_R_BAD_LENGTH);
    size_t n = m[c->pos++];
    if (n > 32)
        return bad(c, GH_HELLO_R_BAD_SESSION_ID);
    NEED(n, end, GH_HELLO_R_BAD_LENGTH);
    h->session_id = mkspan(m + c->pos, n);
    c->pos += n;

    NEED(2, end, GH_HELLO_R_BAD_LENGTH);
    n = u16(m + c->pos);
    c->pos += 2;
    if (n < 2 || n % 2)
        return bad(c, GH_HELLO_R_BAD_CIPHER_SUITES);
    NEED(n, end, GH_HELLO_R_BAD_LENGTH);
    h->cipher_suites = mkspan(m + c->pos, n);
    h->n_cipher_suites = n / 2;
    for (size_t i = 0; i < n; i += 2)
        h->suites |= suite_bit(u16(m + c->pos + i));
    c->pos += n;

    NEED(1, end, GH_HELLO_R_BAD_LENGTH);
    n = m[c->pos++];
    if (n == 0)
        return bad(c, GH_HELLO_R_BAD_COMPRESSION);
    NEED(n, end, GH_HELLO_R_BAD_LENGTH);
    if (!memchr(m + c->pos, 0, n))
        return bad(c, GH_HELLO_R_BAD_COMPRESSION);
    h->n_compression_methods = (uint8_t)n;
    c->pos += n;

    if (c->pos == end)
        return STEP_OK;             /* no extensions: a TLS 1.2 hello may omit them */
    NEED(2, end, GH_HELLO_R_BAD_LENGTH);
    n = u16(m + c->pos);
    c->pos += 2;
    if (n != end - c->pos)
        return bad(c, GH_HELLO_R_BAD_LENGTH);
    return parse_extensions(c, end, h);
}

/* ---- records ---------------------------------------------------------------- */

/* Clears what a parse fills in; not defrag, which is scratch. */
static void reset(struct gh_client_hello *h)
{
    memset(h, 0, offsetof(struct gh_client_hello, defrag));
}

/* A verdict's status follows from its reason. */
static enum gh_hello_status status_of(enum gh_hello_reason why)
{
    switch (why) {
    case GH_HELLO_R_NONE: return GH_HELLO_INCOMPLETE;
    case GH_HELLO_R_NOT_TLS: return GH_HELLO_NOT_TLS;
    case GH_HELLO_R_TOO_LARGE: return GH_HELLO_TOO_LARGE;
    default: return GH_HELLO_MALFORMED;
    }
}

static enum gh_hello_status fail(struct gh_client_hello *h, enum gh_hello_reason why)
{
    reset(h);
    h->reason = why;
    return status_of(why);
}

/* The header of the record at data[off], have bytes of which are present
 * (nrec records before it): NONE while it can be right. */
static enum gh_hello_reason judge_header(const uint8_t *r, size_t have, size_t nrec)
{
    if (have >= 1 && r[0] != TLS_RECORD_HANDSHAKE)
        return nrec ? GH_HELLO_R_INTERLEAVED : GH_HELLO_R_NOT_TLS;
    if (have >= 2 && r[1] != 3)
        return nrec ? GH_HELLO_R_BAD_RECORD_VERSION : GH_HELLO_R_NOT_TLS;
    if (have >= 3 && (r[2] < 1 || r[2] > 3))
        return GH_HELLO_R_BAD_RECORD_VERSION;
    if (have >= 5 && (u16(r + 3) == 0 || u16(r + 3) > TLS_MAX_FRAGMENT))
        return GH_HELLO_R_BAD_RECORD_LENGTH;
    return GH_HELLO_R_NONE;
}

/* A record of rl bytes at off, with rest bytes of the message still to
 * come (UNKNOWN before its length field): TRAILING_DATA when the record
 * holds more than that, TOO_LARGE when the least the client must still
 * send (this record; the rest of the message, plus one more header if
 * this record ends first) goes past max. */
static enum gh_hello_reason judge_size(size_t off, size_t rl, size_t rest, size_t max)
{
    if (rest == UNKNOWN)
        return off + 5 + rl > max ? GH_HELLO_R_TOO_LARGE : GH_HELLO_R_NONE;
    if (rl > rest)
        return GH_HELLO_R_TRAILING_DATA;
    if (off + 5 + rest + (rl < rest ? 5 : 0) > max)
        return GH_HELLO_R_TOO_LARGE;
    return GH_HELLO_R_NONE;
}

enum gh_hello_status gh_client_hello_parse_max(const uint8_t *data, size_t len,
                                               size_t max_bytes, struct gh_client_hello *out)
{
    size_t max = max_bytes == 0 || max_bytes > GH_CLIENT_HELLO_MAX_BYTES
                     ? GH_CLIENT_HELLO_MAX_BYTES : max_bytes;
    if (max < 6)
        max = 6;                    /* one header and one byte: room to judge byte 0 */
    reset(out);

    size_t off = 0;                 /* next record header */
    size_t got = 0;                 /* message bytes gathered */
    size_t total = UNKNOWN;         /* HS_HEADER + message length, once known */
    size_t cap = UNKNOWN;           /* message bytes the message parse may see */
    const uint8_t *msg = NULL;      /* the message: in place, or out->defrag */
    size_t nrec = 0;
    enum gh_hello_reason why = GH_HELLO_R_NONE;

    while (total == UNKNOWN || got < total) {
        const uint8_t *r = data + off;
        size_t have = len - off;
        why = judge_header(r, have, nrec);
        if (why != GH_HELLO_R_NONE || have < 5)
            break;
        size_t rl = u16(r + 3);
        why = judge_size(off, rl, total == UNKNOWN ? UNKNOWN : total - got, max);
        if (why != GH_HELLO_R_NONE)
            break;

        /* Gather what is present of the fragment. Records end within max,
         * so out->defrag has room. */
        nrec++;
        if (nrec == 1) {
            out->record_version = (uint16_t)u16(r + 1);
            msg = r + 5;
        }
        size_t frag = rl < have - 5 ? rl : have - 5;
        size_t before = got;
        if (nrec == 2) {
            memcpy(out->defrag, msg, got);
            msg = out->defrag;
        }
        if (nrec >= 2)
            memcpy(out->defrag + got, r + 5, frag);
        got += frag;

        if (total == UNKNOWN && got >= HS_HEADER) {
            /* The length field just arrived: judge this record again with
             * it, and show the message parse no more than the field. */
            total = HS_HEADER + u24(msg + 1);
            why = judge_size(off, rl, total - before, max);
            if (why != GH_HELLO_R_NONE) {
                cap = HS_HEADER;
                break;
            }
        }
        if (frag < rl)
            break;                  /* the rest of this record is still to come */
        off += 5 + rl;
    }

    struct cursor c = { msg, got < cap ? got : cap, 0, GH_HELLO_R_NONE };
    enum step s = parse_message(&c, out);
    if (s == STEP_BAD)
        return fail(out, c.why);
    if (s == STEP_MORE || total == UNKNOWN || got < total) {
        /* The message parse can only finish once every byte arrived, and
         * the walk then has no verdict; this keeps the two in step. */
        return fail(out, why);
    }

    out->consumed = off;
    out->n_records = nrec;
    out->msg_len = total - HS_HEADER;
    if (out->has_supported_versions) {
        out->offers_tls12 = (out->versions & GH_HELLO_V_TLS12) != 0;
        out->offers_tls13 = (out->versions & GH_HELLO_V_TLS13) != 0;
    } else {
        out->offers_tls12 = out->legacy_version >= 0x0303;
    }
    return GH_HELLO_DONE;
}

enum gh_hello_status gh_client_hello_parse(const uint8_t *data, size_t len,
                                           struct gh_client_hello *out)
{
    return gh_client_hello_parse_max(data, len, 0, out);
}

/* ---- questions about a parsed hello -------------------------------------- */

/* name[0, n) without one trailing dot. */
static size_t strip_dot(const uint8_t *name, size_t n)
{
    return n > 0 && name[n - 1] == '.' ? n - 1 : n;
}

bool gh_client_hello_sni_equals(const struct gh_client_hello *h, const char *name)
{
    if (!h || !name || !h->has_server_name)
        return false;
    const uint8_t *p = (const uint8_t *)name;
    size_t n = strip_dot(p, strlen(name));
    return n == h->server_name.len && n > 0 && gh_ascii_ieq(p, h->server_name.p, n);
}

bool gh_sni_matches(const char *pattern, struct gh_hello_span name)
{
    if (!pattern || !name.p)
        return false;
    const uint8_t *p = (const uint8_t *)pattern;
    size_t pn = strip_dot(p, strlen(pattern));
    size_t nn = strip_dot(name.p, name.len);
    if (pn == 0 || nn == 0)
        return false;
    if (!memchr(p, '*', pn))
        return pn == nn && gh_ascii_ieq(p, name.p, nn);

    /* "*." then at least two non-empty labels, no other '*' */
    if (pn < 2 || p[0] != '*' || p[1] != '.')
        return false;
    const uint8_t *rest = p + 1;    /* ".example.com" */
    size_t rn = pn - 1;
    size_t dots = 0;
    for (size_t i = 0; i < rn; i++) {
        if (rest[i] == '*')
            return false;
        if (rest[i] == '.') {
            if (i + 1 == rn || rest[i + 1] == '.')
                return false;       /* empty label */
            dots++;
        }
    }
    if (dots < 2)
        return false;               /* "*.com": a whole top-level domain */

    /* one non-empty label, then exactly rest */
    if (memchr(name.p, '*', nn) || nn <= rn)
        return false;
    size_t label = nn - rn;
    if (memchr(name.p, '.', label))
        return false;               /* two or more labels where '*' stands */
    return gh_ascii_ieq(name.p + label, rest, rn);
}

bool gh_client_hello_offers_alpn(const struct gh_client_hello *h, const char *name)
{
    if (!h || !name || !h->has_alpn)
        return false;
    size_t n = strlen(name);
    const uint8_t *l = h->alpn_list.p;
    size_t ln = h->alpn_list.len;
    /* validated when parsed: length-prefixed names that tile the list */
    for (size_t i = 0; i < ln;) {
        size_t k = l[i++];
        if (k > ln - i)
            return false;
        if (k == n && memcmp(l + i, name, n) == 0)
            return true;
        i += k;
    }
    return false;
}

uint16_t gh_client_hello_version(const struct gh_client_hello *h)
{
    if (h->offers_tls13 && (h->suites & GH_HELLO_CS_TLS13))
        return 0x0304;
    return h->offers_tls12 ? 0x0303 : 0;
}

bool gh_client_hello_accepts_ecdsa(const struct gh_client_hello *h)
{
    switch (gh_client_hello_version(h)) {
    case 0x0304:
        return h->has_sig_algs && (h->sig_algs & GH_HELLO_SIG_ECDSA_P256);
    case 0x0303:
        if (!(h->suites & GH_HELLO_CS_ECDHE_ECDSA))
            return false;
        if (h->has_groups && !(h->groups & GH_HELLO_G_P256))
            return false;
        return !h->has_sig_algs ||
               (h->sig_algs & (GH_HELLO_SIG_ECDSA_P256 | GH_HELLO_SIG_ECDSA_P384 |
                               GH_HELLO_SIG_ECDSA_P521 | GH_HELLO_SIG_ECDSA_SHA1));
    default:
        return false;
    }
}

bool gh_client_hello_accepts_rsa(const struct gh_client_hello *h)
{
    switch (gh_client_hello_version(h)) {
    case 0x0304:
        return h->has_sig_algs && (h->sig_algs & GH_HELLO_SIG_RSA_PSS_RSAE);
    case 0x0303:
        if (!(h->suites & GH_HELLO_CS_ECDHE_RSA))
            return false;
        return !h->has_sig_algs ||
               (h->sig_algs & (GH_HELLO_SIG_RSA_PKCS1 | GH_HELLO_SIG_RSA_PKCS1_SHA1 |
                               GH_HELLO_SIG_RSA_PSS_RSAE));
    default:
        return false;
    }
}
