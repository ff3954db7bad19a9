/* cert_info.c - X.509 certificate facts for SNI selection and mTLS
 * allow-lists; see cert_info.h.
 *
 * wolfCrypt's DecodedCert parses the certificate (structure, serial, key,
 * SAN list, basicConstraints). Its subject/issuer text fields are not used:
 * they are wolfSSL's "/C=../CN=.." one-line form, unescaped and cut at
 * WC_ASN_NAME_MAX. The names are rendered here from subjectRaw/issuerRaw
 * (the DER contents of the Name SEQUENCEs, kept under WOLFSSL_CERT_EXT),
 * with a small bounds-checked DER walker that trusts nothing it reads. */
#include "gatehouse/cert_info.h"

#include "gatehouse/span.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

#if !defined(WOLFSSL_CERT_EXT) && !defined(HAVE_PKCS7)
#error "cert_info.c needs DecodedCert.issuerRaw: WOLFSSL_CERT_EXT in user_settings.h"
#endif
#if defined(IGNORE_NAME_CONSTRAINTS) && !defined(WOLFSSL_CERT_EXT)
#error "cert_info.c needs DecodedCert.subjectRaw: WOLFSSL_CERT_EXT in user_settings.h"
#endif

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))


/* The reason for a refusal, when the caller gave somewhere to put it. */
#define SET_WHY(why, why_len, ...)                                           \
    do {                                                                     \
        if ((why) && (why_len) > 0)                                          \
            snprintf((why), (why_len), __VA_ARGS__);                         \
    } while (0)

/* ---- DER walking --------------------------------------------------------- */

struct tlv {
    uint8_t tag;
    const uint8_t *start;   /* the tag byte */
    size_t total;           /* header + contents */
    const uint8_t *val;
    size_t len;
};

/* Reads one TLV at *p (before end) and moves *p past it. Single-byte tags
 * and definite lengths of up to 4 octets only. */
static bool der_next(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
    const uint8_t *q = *p;
    if (q >= end || end - q < 2)
        return false;
    t->start = q;
    t->tag = *q++;
    if ((t->tag & 0x1f) == 0x1f)
        return false;
    size_t len = *q++;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(end - q) < n)
            return false;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | *q++;
    }
    if ((size_t)(end - q) < len)
        return false;
    t->val = q;
    t->len = len;
    t->total = (size_t)(q - t->start) + len;
    *p = q + len;
    return true;
}

/* ---- bounded text output ------------------------------------------------- */

/* Appends whole units or nothing: once one does not fit, the sink is full and
 * takes nothing more, so the text is always a clean prefix. */
struct sink {
    char *buf;
    size_t cap;     /* bytes, not counting the NUL after them */
    size_t len;
    bool full;
};

static void sink_init(struct sink *s, char *buf, size_t cap)
{
    s->buf = buf;
    s->cap = cap;
    s->len = 0;
    s->full = false;
    buf[0] = '\0';
}

static void sink_put(struct sink *s, const char *unit, size_t n)
{
    if (s->full)
        return;
    if (n > s->cap - s->len) {
        s->full = true;
        return;
    }
    memcpy(s->buf + s->len, unit, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

/* ---- string values --------------------------------------------------------- */

enum {
    TAG_UTF8 = 0x0c,
    TAG_NUMERIC = 0x12,
    TAG_PRINTABLE = 0x13,
    TAG_T61 = 0x14,
    TAG_IA5 = 0x16,
    TAG_UTC_TIME = 0x17,
    TAG_GEN_TIME = 0x18,
    TAG_VISIBLE = 0x1a,
    TAG_UNIVERSAL = 0x1c,
    TAG_BMP = 0x1e,
    TAG_OID = 0x06,
    TAG_SEQUENCE = 0x30,
    TAG_SET = 0x31,
};

/* Decodes the code point at v[*i] of a string of type tag; false when the
 * value is not valid in its type (or the type is not a string type). */
static bool next_cp(uint8_t tag, const uint8_t *v, size_t len, size_t *i, uint32_t *cp)
{
    size_t k = *i;
    switch (tag) {
    case TAG_NUMERIC:
    case TAG_PRINTABLE:
    case TAG_IA5:
    case TAG_VISIBLE:
        if (v[k] >= 0x80)
            return false;
        *cp = v[k];
        *i = k + 1;
        return true;
    case TAG_T61:       /* as Latin-1, like OpenSSL */
        *cp = v[k];
        *i = k + 1;
        return true;
    case TAG_BMP: {
        if (len - k < 2)
            return false;
        uint32_t c = ((uint32_t)v[k] << 8) | v[k + 1];
        k += 2;
        if (c >= 0xdc00 && c <= 0xdfff)
            return false;
        if (c >= 0xd800 && c <= 0xdbff) {
            if (len - k < 2)
                return false;
            uint32_t lo = ((uint32_t)v[k] << 8) | v[k + 1];
            if (lo < 0xdc00 || lo > 0xdfff)
                return false;
            k += 2;
            c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        }
        *cp = c;
        *i = k;
        return true;
    }
    case TAG_UNIVERSAL: {
        if (len - k < 4)
            return false;
        uint32_t c = ((uint32_t)v[k] << 24) | ((uint32_t)v[k + 1] << 16) |
                     ((uint32_t)v[k + 2] << 8) | v[k + 3];
        if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        *cp = c;
        *i = k + 4;
        return true;
    }
    case TAG_UTF8: {
        uint8_t b = v[k];
        uint32_t c;
        size_t n;
        if (b < 0x80) {
            *cp = b;
            *i = k + 1;
            return true;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            c = b & 0x1f;
            n = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            c = b & 0x0f;
            n = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
            c = b & 0x07;
            n = 3;
        } else {
            return false;
        }
        if (len - k - 1 < n)
            return false;
        for (size_t j = 1; j <= n; j++) {
            uint8_t cb = v[k + j];
            if ((cb & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (cb & 0x3f);
        }
        if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff))
            return false;
        *cp = c;
        *i = k + 1 + n;
        return true;
    }
    default:
        return false;
    }
}

/* Number of code points, or -1 when the value is not a valid string. */
static long count_cps(uint8_t tag, const uint8_t *v, size_t len)
{
    long n = 0;
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        if (!next_cp(tag, v, len, &i, &cp))
            return -1;
        n++;
    }
    return n;
}

static size_t utf8_encode(uint32_t c, char out[4])
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static bool is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/* One escaped character of an RFC 4514 value (position pos of n). */
static void put_escaped(struct sink *s, uint32_t c, long pos, long n)
{
    char u[12];
    size_t k = 0;
    if (is_control(c)) {
        char enc[4];
        size_t m = utf8_encode(c, enc);
        for (size_t j = 0; j < m; j++) {
            uint8_t b = (uint8_t)enc[j];
            u[k++] = '\\';
            gh_hex_byte(u + k, b, GH_HEX_UPPER);
            k += 2;
        }
    } else {
        if (c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' ||
            c == '\\' || (pos == 0 && (c == ' ' || c == '#')) || (pos == n - 1 && c == ' '))
            u[k++] = '\\';
        k += utf8_encode(c, u + k);
    }
    sink_put(s, u, k);
}

/* ---- attribute types ------------------------------------------------------- */

struct attr_name {
    const char *name;
    uint8_t len;
    uint8_t oid[10];
};

#define X520(n) 3, { 0x55, 0x04, (n) }
#define PILOT(n) 10, { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, (n) }

static const uint8_t oid_cn[] = { 0x55, 0x04, 0x03 };

static const struct attr_name attr_names[] = {
    { "CN", X520(3) },
    { "SN", X520(4) },
    { "serialNumber", X520(5) },
    { "C", X520(6) },
    { "L", X520(7) },
    { "ST", X520(8) },
    { "STREET", X520(9) },
    { "O", X520(10) },
    { "OU", X520(11) },
    { "title", X520(12) },
    { "GN", X520(42) },
    { "initials", X520(43) },
    { "generationQualifier", X520(44) },
    { "dnQualifier", X520(46) },
    { "pseudonym", X520(65) },
    { "DC", PILOT(25) },
    { "UID", PILOT(1) },
    { "emailAddress", 9, { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 } },
};

static const char *attr_short_name(const uint8_t *oid, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(attr_names); i++)
        if (attr_names[i].len == len && memcmp(attr_names[i].oid, oid, len) == 0)
            return attr_names[i].name;
    return NULL;
}

#define OID_MAX 128     /* content bytes of an attribute type rendered */
#define ARC_DIGITS 40   /* base-128 digits of one arc (280 bits) */

/* Writes the decimal form of the base-128 number d[0..n) into out (cap
 * bytes, NUL-terminated). Long division: arcs of any size up to ARC_DIGITS. */
static bool arc_decimal(uint8_t *d, size_t n, char *out, size_t cap)
{
    char rev[ARC_DIGITS * 3];
    size_t m = 0;
    size_t first = 0;
    while (first < n && d[first] == 0)
        first++;
    do {
        unsigned rem = 0;
        for (size_t i = first; i < n; i++) {
            unsigned cur = rem * 128 + d[i];
            d[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        rev[m++] = (char)('0' + rem);
        while (first < n && d[first] == 0)
            first++;
    } while (first < n && m < sizeof rev);
    if (first < n || m + 1 > cap)
        return false;
    for (size_t i = 0; i < m; i++)
        out[i] = rev[m - 1 - i];
    out[m] = '\0';
    return true;
}

/* Dotted-decimal form of OID contents; false when malformed or too long. */
static bool oid_dotted(const uint8_t *oid, size_t len, char *out, size_t cap)
{
    if (len == 0 || len > OID_MAX || (oid[len - 1] & 0x80))
        return false;
    size_t o = 0;
    size_t i = 0;
    bool first = true;
    while (i < len) {
        uint8_t d[ARC_DIGITS];
        size_t n = 0;
        if (oid[i] == 0x80)     /* not minimal */
            return false;
        do {
            if (n == ARC_DIGITS)
                return false;
            d[n++] = oid[i] & 0x7f;
        } while (oid[i++] & 0x80);
        char dec[ARC_DIGITS * 3];
        if (first) {
            /* X.690 8.19.4: first arc 0, 1 or 2, then X - 40 * first */
            uint64_t x = 0;
            if (n > 8)
                return false;
            for (size_t j = 0; j < n; j++)
                x = (x << 7) | d[j];
            uint64_t a = x < 40 ? 0 : x < 80 ? 1 : 2;
            int w = snprintf(dec, sizeof dec, "%u.%llu", (unsigned)a,
                             (unsigned long long)(x - 40 * a));
            if (w < 0 || (size_t)w >= sizeof dec)
                return false;
            first = false;
        } else if (!arc_decimal(d, n, dec, sizeof dec)) {
            return false;
        }
        size_t dl = strlen(dec);
        if (o + (o ? 1 : 0) + dl + 1 > cap)
            return false;
        if (o)
            out[o++] = '.';
        memcpy(out + o, dec, dl);
        o += dl;
        out[o] = '\0';
    }
    return true;
}

/* ---- names -------------------------------------------------------------------- */

/* Attribute-value pairs rendered: the last NAME_AVA_RING in DER order, which
 * are the first in the text, so with more the text is still a prefix of the
 * whole (and flagged truncated). 128 pairs take at least 383 bytes. */
#define NAME_AVA_RING 128

struct ava {
    struct tlv oid;
    struct tlv value;
    size_t rdn;
};

/* Splits an AttributeTypeAndValue SEQUENCE; false when malformed. */
static bool ava_split(const struct tlv *seq, struct ava *a, size_t rdn)
{
    const uint8_t *p = seq->val;
    const uint8_t *end = seq->val + seq->len;
    if (seq->tag != TAG_SEQUENCE || !der_next(&p, end, &a->oid) || a->oid.tag != TAG_OID ||
        !der_next(&p, end, &a->value) || p != end)
        return false;
    a->rdn = rdn;
    return true;
}

/* One attribute-value pair, after the separator sep ('\0' for none). The
 * separator, the type, '=' (and '#' with the first hex pair) go as one unit,
 * so a cut name never ends in a dangling separator or type. */
static void put_ava(struct sink *s, char sep, const struct ava *a)
{
    char head[OID_MAX * 4 + 16];
    size_t h = 0;
    const char *name = attr_short_name(a->oid.val, a->oid.len);
    long n = name ? count_cps(a->value.tag, a->value.val, a->value.len) : -1;
    if (sep)
        head[h++] = sep;
    if (!name) {
        /* render_name checked that it renders; "0.0" keeps the text well
         * formed should it not */
        if (!oid_dotted(a->oid.val, a->oid.len, head + h, sizeof head - h - 4))
            snprintf(head + h, sizeof head - h, "0.0");
    } else {
        snprintf(head + h, sizeof head - h, "%s", name);
    }
    h += strlen(head + h);
    head[h++] = '=';
    if (n < 0) {
        /* '#' and the BER (tag, length, contents): a TLV has >= 2 bytes */
        const uint8_t *ber = a->value.start;
        head[h++] = '#';
        gh_hex_byte(head + h, ber[0], GH_HEX_UPPER);
        h += 2;
        sink_put(s, head, h);
        for (size_t i = 1; i < a->value.total && !s->full; i++) {
            char u[2];
            gh_hex_byte(u, ber[i], GH_HEX_UPPER);
            sink_put(s, u, 2);
        }
        return;
    }
    sink_put(s, head, h);
    size_t i = 0;
    uint32_t cp = 0;
    for (long pos = 0; pos < n && !s->full; pos++) {
        if (!next_cp(a->value.tag, a->value.val, a->value.len, &i, &cp))
            break;  /* not reached: count_cps validated the value */
        put_escaped(s, cp, pos, n);
    }
}

/* The CN value as plain UTF-8 into cn (cap bytes + NUL); false when it is
 * not a valid string, holds a control character or does not fit. */
static bool cn_text(const struct ava *a, char *cn, size_t cap)
{
    size_t i = 0;
    size_t o = 0;
    uint32_t cp = 0;
    cn[0] = '\0';
    while (i < a->value.len) {
        if (!next_cp(a->value.tag, a->value.val, a->value.len, &i, &cp) || is_control(cp))
            goto bad;
        char enc[4];
        size_t m = utf8_encode(cp, enc);
        if (m > cap - o)
            goto bad;
        memcpy(cn + o, enc, m);
        o += m;
    }
    cn[o] = '\0';
    return true;
bad:
    cn[0] = '\0';
    return false;
}

/* Renders the contents of a Name SEQUENCE (see cert_info.h) into out
 * (GH_CERT_INFO_NAME_MAX + 1 bytes). For the subject, ci_cn's CN fields are
 * filled too (ci_cn non-NULL). Returns false when the name is malformed. */
static bool render_name(const uint8_t *p, size_t len, char *out, bool *truncated,
                        struct gh_cert_info *ci_cn)
{
    struct ava ring[NAME_AVA_RING];
    size_t total = 0;
    size_t rdn = 0;
    struct ava last_cn = { 0 };
    bool have_cn = false;
    const uint8_t *end = p + len;

    while (p < end) {
        struct tlv set;
        if (!der_next(&p, end, &set) || set.tag != TAG_SET || set.len == 0)
            return false;
        const uint8_t *q = set.val;
        const uint8_t *qend = set.val + set.len;
        while (q < qend) {
            struct tlv seq;
            struct ava a;
            char dotted[OID_MAX * 4 + 8];
            if (!der_next(&q, qend, &seq) || !ava_split(&seq, &a, rdn))
                return false;
            if (!attr_short_name(a.oid.val, a.oid.len) &&
                !oid_dotted(a.oid.val, a.oid.len, dotted, sizeof dotted))
                return false;
            if (a.oid.len == sizeof oid_cn && memcmp(a.oid.val, oid_cn, sizeof oid_cn) == 0) {
                last_cn = a;
                have_cn = true;
            }
            ring[total % NAME_AVA_RING] = a;
            total++;
        }
        rdn++;
    }

    struct sink s;
    sink_init(&s, out, GH_CERT_INFO_NAME_MAX);
    size_t shown = total < NAME_AVA_RING ? total : NAME_AVA_RING;
    for (size_t k = 0; k < shown && !s.full; k++) {
        const struct ava *a = &ring[(total - 1 - k) % NAME_AVA_RING];
        char sep = k == 0 ? '\0' : ring[(total - k) % NAME_AVA_RING].rdn == a->rdn ? '+' : ',';
        put_ava(&s, sep, a);
    }
    *truncated = s.full || shown < total;

    if (ci_cn) {
        ci_cn->has_cn = have_cn;
        ci_cn->cn_dropped = have_cn && !cn_text(&last_cn, ci_cn->cn, GH_CERT_INFO_CN_MAX);
    }
    return true;
}

/* ---- dates ------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* H. Hinnant's algorithm: days since 1970-01-01 in the proleptic
     * Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned mp = m > 2 ? m - 3 : m + 9;
    unsigned doy = (153 * mp + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const uint8_t *p, size_t n, unsigned *v)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (unsigned)(p[i] - '0');
    }
    *v = x;
    return true;
}

/* A Validity time (tag, length and contents as wolfCrypt points at it):
 * UTCTime YYMMDDHHMMSSZ (YY < 50: 20YY) or GeneralizedTime
 * YYYYMMDDHHMMSSZ, the forms RFC 5280 4.1.2.5 allows. */
static bool parse_time(const uint8_t *p, int plen, time_t *out)
{
    if (!p || plen < 2)
        return false;
    size_t n = p[1];
    if ((size_t)plen != n + 2)
        return false;
    const uint8_t *v = p + 2;
    unsigned year, mon, day, hh, mm, ss;
    size_t yl;
    if (p[0] == TAG_UTC_TIME && n == 13)
        yl = 2;
    else if (p[0] == TAG_GEN_TIME && n == 15)
        yl = 4;
    else
        return false;
    if (!digits(v, yl, &year) || !digits(v + yl, 2, &mon) || !digits(v + yl + 2, 2, &day) ||
        !digits(v + yl + 4, 2, &hh) || !digits(v + yl + 6, 2, &mm) ||
        !digits(v + yl + 8, 2, &ss) || v[yl + 10] != 'Z')
        return false;
    if (yl == 2)
        year += year < 50 ? 2000 : 1900;
    static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
        (mon == 2 && day == 29 && !leap) || hh > 23 || mm > 59 || ss > 60)
        return false;
    int64_t t = days_from_civil(year, mon, day) * 86400 + (int64_t)hh * 3600 +
                (int64_t)mm * 60 + ss;
    _Static_assert(sizeof(time_t) >= 8, "time_t must hold dates past 2038");
    *out = (time_t)t;
    return true;
}

/* ---- parsing ------------------------------------------------------------------- */

/* wolfCrypt prepends each SAN to DecodedCert.altNames, so the list runs
 * in reverse certificate order, except with OPENSSL_EXTRA (see
 * AddDNSEntryToList in asn.c). */
#if defined(OPENSSL_EXTRA) && !defined(WOLFSSL_ALT_NAMES_NO_REV)
#define SAN_LIST_REVERSED false
#else
#define SAN_LIST_REVERSED true
#endif

/* 1..cap bytes of printable ASCII without space. */
static bool san_ok(const DNS_entry *e, size_t cap)
{
    if (!e->name || e->len <= 0 || (size_t)e->len > cap)
        return false;
    for (int i = 0; i < e->len; i++)
        if ((unsigned char)e->name[i] < 0x21 || (unsigned char)e->name[i] > 0x7e)
            return false;
    return true;
}

/* Copies the SANs of one type into rows of stride bytes (cap + NUL each),
 * the first max valid ones in certificate order; counts the others. */
static void copy_sans(const DNS_entry *list, int type, char *rows, size_t stride, size_t cap,
                      size_t max, size_t *count, size_t *dropped)
{
    size_t valid = 0;
    for (const DNS_entry *e = list; e; e = e->next)
        if (e->type == type && san_ok(e, cap))
            valid++;
    size_t seen = 0;
    for (const DNS_entry *e = list; e; e = e->next) {
        if (e->type != type)
            continue;
        if (!san_ok(e, cap)) {
            (*dropped)++;
            continue;
        }
        size_t rank = SAN_LIST_REVERSED ? valid - 1 - seen : seen;
        seen++;
        if (rank >= max) {
            (*dropped)++;
            continue;
        }
        char *row = rows + rank * stride;
        memcpy(row, e->name, (size_t)e->len);
        row[e->len] = '\0';
    }
    *count = valid < max ? valid : max;
}

static unsigned rsa_bits(const DecodedCert *dc)
{
    const byte *n = NULL;
    const byte *e = NULL;
    word32 nsz = 0;
    word32 esz = 0;
    word32 idx = 0;
    if (!dc->publicKey ||
        wc_RsaPublicKeyDecode_ex(dc->publicKey, &idx, dc->pubKeySize, &n, &nsz, &e, &esz) != 0 ||
        !n)
        return 0;
    while (nsz > 0 && *n == 0) {
        n++;
        nsz--;
    }
    if (nsz == 0)
        return 0;
    unsigned bits = (nsz - 1) * 8;
    for (unsigned b = n[0]; b; b >>= 1)
        bits++;
    return bits;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    gh_hex_encode(out, p, n, GH_HEX_LOWER);
    out[2 * n] = '\0';
}

int gh_cert_info_parse(const uint8_t *der, size_t len, struct gh_cert_info *out, char *why,
                       size_t why_len)
{
    DecodedCert dc;
    bool dc_init = false;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (why && why_len)
        why[0] = '\0';
    if (!der || len == 0) {
        SET_WHY(why, why_len, "empty certificate");
        return -1;
    }
    if (len > GH_CERT_INFO_DER_MAX) {
        SET_WHY(why, why_len, "certificate larger than %d bytes", GH_CERT_INFO_DER_MAX);
        return -1;
    }
    /* Exactly one certificate: its outer SEQUENCE spans the input. */
    const uint8_t *p = der;
    struct tlv outer;
    if (!der_next(&p, der + len, &outer) || outer.tag != TAG_SEQUENCE) {
        SET_WHY(why, why_len, "not a DER certificate (no complete outer SEQUENCE)");
        return -1;
    }
    if (p != der + len) {
        SET_WHY(why, why_len, "%zu bytes after the certificate", (size_t)(der + len - p));
        return -1;
    }

    wc_InitDecodedCert(&dc, der, (word32)len, NULL);
    dc_init = true;
    int ret = wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL);
    if (ret != 0) {
        SET_WHY(why, why_len, "wolfCrypt cannot parse the certificate: %s (%d)",
                wc_GetErrorString(ret), ret);
        goto cleanup;
    }

    out->version = dc.version + 1;  /* DecodedCert keeps the DER value (v3 = 2) */
    if (dc.version < 0 || dc.version > 2) {
        SET_WHY(why, why_len, "unsupported certificate version %d", dc.version);
        goto cleanup;
    }

    if (!dc.subjectRaw || dc.subjectRawLen < 0 || !dc.issuerRaw || dc.issuerRawLen < 0) {
        SET_WHY(why, why_len, "wolfCrypt kept no raw subject or issuer");
        goto cleanup;
    }
    if (!render_name(dc.subjectRaw, (size_t)dc.subjectRawLen, out->subject,
                     &out->subject_truncated, out)) {
        SET_WHY(why, why_len, "malformed subject name");
        goto cleanup;
    }
    if (!render_name(dc.issuerRaw, (size_t)dc.issuerRawLen, out->issuer,
                     &out->issuer_truncated, NULL)) {
        SET_WHY(why, why_len, "malformed issuer name");
        goto cleanup;
    }

    /* wolfCrypt stores the serial's content octets without DER's leading
     * 00 (GetASN_Items drops it), at most EXTERNAL_SERIAL_SIZE of them. */
    if (dc.serialSz <= 0 || (size_t)dc.serialSz > sizeof dc.serial ||
        (size_t)dc.serialSz * 2 > GH_CERT_INFO_SERIAL_HEX) {
        SET_WHY(why, why_len, "bad serial number length %d", dc.serialSz);
        goto cleanup;
    }
    to_hex(dc.serial, (size_t)dc.serialSz, out->serial_hex);

    uint8_t digest[WC_SHA256_DIGEST_SIZE];
    if (wc_Sha256Hash(der, (word32)len, digest) != 0) {
        SET_WHY(why, why_len, "SHA-256 failed");
        goto cleanup;
    }
    to_hex(digest, sizeof digest, out->sha256_hex);

    copy_sans(dc.altNames, ASN_DNS_TYPE, &out->dns[0][0], sizeof out->dns[0],
              GH_CERT_INFO_DNS_LEN, GH_CERT_INFO_DNS_MAX, &out->n_dns, &out->dns_dropped);
    copy_sans(dc.altNames, ASN_URI_TYPE, &out->uri[0][0], sizeof out->uri[0],
              GH_CERT_INFO_URI_LEN, GH_CERT_INFO_URI_MAX, &out->n_uri, &out->uri_dropped);

    switch (dc.keyOID) {
    case RSAk:
        out->key_type = GH_CERT_KEY_RSA;
        out->key_bits = rsa_bits(&dc);
        if (out->key_bits == 0) {
            SET_WHY(why, why_len, "cannot read the RSA public key");
            goto cleanup;
        }
        break;
    case ECDSAk:
        switch (dc.pkCurveOID) {
        case ECC_SECP256R1_OID:
            out->key_type = GH_CERT_KEY_EC_P256;
            out->key_bits = 256;
            break;
        case ECC_SECP384R1_OID:
            out->key_type = GH_CERT_KEY_EC_P384;
            out->key_bits = 384;
            break;
        case ECC_SECP521R1_OID:
            out->key_type = GH_CERT_KEY_EC_P521;
            out->key_bits = 521;
            break;
        default:
            out->key_type = GH_CERT_KEY_OTHER;
            break;
        }
        break;
    default:
        out->key_type = GH_CERT_KEY_OTHER;
        break;
    }

    if (!parse_time(dc.beforeDate, dc.beforeDateLen, &out->not_before)) {
        SET_WHY(why, why_len, "malformed notBefore");
        goto cleanup;
    }
    if (!parse_time(dc.afterDate, dc.afterDateLen, &out->not_after)) {
        SET_WHY(why, why_len, "malformed notAfter");
        goto cleanup;
    }
    out->is_ca = dc.isCA != 0;
    rc = 0;

cleanup:
    if (dc_init)
        wc_FreeDecodedCert(&dc);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int gh_cert_info_from_pem_file(const char *path, struct gh_cert_info *out, char *why,
                               size_t why_len)
{
    /* +1: wolfCrypt's PEM search stops at a NUL; give it one after the data. */
    uint8_t buf[GH_CERT_INFO_PEM_MAX + 1];
    size_t got = 0;
    int rc = -1;

    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        SET_WHY(why, why_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (got < GH_CERT_INFO_PEM_MAX) {
        ssize_t n = read(fd, buf + got, GH_CERT_INFO_PEM_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            SET_WHY(why, why_len, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    /* In place: wc_CertPemToDer decodes into its own DerBuffer first, then
     * copies the DER (shorter than the PEM) to the front of buf. */
    int der_len = wc_CertPemToDer(buf, (int)got, buf, (int)sizeof buf, CERT_TYPE);
    if (der_len <= 0) {
        if (got == GH_CERT_INFO_PEM_MAX)
            SET_WHY(why, why_len, "%s: no PEM certificate in the first %d bytes: %s (%d)", path,
                    GH_CERT_INFO_PEM_MAX, wc_GetErrorString(der_len), der_len);
        else
            SET_WHY(why, why_len, "%s: no PEM certificate: %s (%d)", path,
                    wc_GetErrorString(der_len), der_len);
        goto cleanup;
    }
    char inner[200];
    if (gh_cert_info_parse(buf, (size_t)der_len, out, inner, sizeof inner) != 0) {
        SET_WHY(why, why_len, "%s: %s", path, inner);
        goto cleanup;
    }
    rc = 0;

cleanup:
    close(fd);
    return rc;
}

/* ---- matching ---------------------------------------------------------------- */

static bool host_ok(const char *host, size_t len)
{
    if (!host || len == 0 || len > GH_CERT_INFO_DNS_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c < 0x21 || c > 0x7e || c == '*')
            return false;
    }
    return true;
}

/* Does pattern (a certificate name, or an allow-list entry) cover host? The
 * host has passed host_ok. */
static bool name_covers(const char *pat, size_t plen, const char *host, size_t hlen)
{
    if (plen == 0)
        return false;
    if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
        const char *rest = pat + 2;
        size_t rlen = plen - 2;
        /* REST: at least two labels, no '*', no empty label at either end */
        if (rlen < 3 || rest[0] == '.' || rest[rlen - 1] == '.' || memchr(rest, '*', rlen) ||
            !memchr(rest, '.', rlen))
            return false;
        /* host = LABEL "." REST with LABEL non-empty and dot-free */
        if (hlen < rlen + 2)
            return false;
        size_t label = hlen - rlen - 1;
        if (host[label] != '.' || memchr(host, '.', label))
            return false;
        return gh_ascii_ieq(host + label + 1, rest, rlen);
    }
    return plen == hlen && gh_ascii_ieq(pat, host, hlen);
}

bool gh_cert_info_matches_dns(const struct gh_cert_info *ci, const char *host, size_t host_len)
{
    if (!ci || !host_ok(host, host_len))
        return false;
    if (ci->n_dns + ci->dns_dropped > 0) {
        for (size_t i = 0; i < ci->n_dns && i < GH_CERT_INFO_DNS_MAX; i++)
            if (name_covers(ci->dns[i], strnlen(ci->dns[i], GH_CERT_INFO_DNS_LEN + 1), host,
                            host_len))
                return true;
        return false;
    }
    return ci->cn[0] != '\0' &&
           name_covers(ci->cn, strnlen(ci->cn, GH_CERT_INFO_CN_MAX + 1), host, host_len);
}

/* Calls match(ci, entry, len) for each non-empty entry of a comma-separated
 * list; true at the first match. */
static bool list_any(const struct gh_cert_info *ci, const char *list,
                     bool (*match)(const struct gh_cert_info *, const char *, size_t))
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0 && match(ci, p, n))
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

static bool str_is(const char *s, size_t cap, const char *entry, size_t n)
{
    return strnlen(s, cap) == n && memcmp(s, entry, n) == 0;
}

static bool match_cn(const struct gh_cert_info *ci, const char *e, size_t n)
{
    return ci->cn[0] != '\0' && str_is(ci->cn, GH_CERT_INFO_CN_MAX + 1, e, n);
}

static bool match_dns(const struct gh_cert_info *ci, const char *e, size_t n)
{
    for (size_t i = 0; i < ci->n_dns && i < GH_CERT_INFO_DNS_MAX; i++) {
        const char *d = ci->dns[i];
        size_t dl = strnlen(d, GH_CERT_INFO_DNS_LEN + 1);
        if (dl == n && gh_ascii_ieq(d, e, n))
            return true;    /* literal, also for a wildcard in the certificate */
        if (host_ok(d, dl) && name_covers(e, n, d, dl))
            return true;    /* the entry is a wildcard covering D */
    }
    return false;
}

static bool match_uri(const struct gh_cert_info *ci, const char *e, size_t n)
{
    for (size_t i = 0; i < ci->n_uri && i < GH_CERT_INFO_URI_MAX; i++)
        if (str_is(ci->uri[i], GH_CERT_INFO_URI_LEN + 1, e, n))
            return true;
    return false;
}

static bool match_sha256(const struct gh_cert_info *ci, const char *e, size_t n)
{
    return n == GH_CERT_INFO_SHA256_HEX &&
           str_is(ci->sha256_hex, GH_CERT_INFO_SHA256_HEX + 1, e, n);
}

bool gh_cert_info_allowed(const struct gh_cert_info *ci, const char *allow_cn,
                          const char *allow_dns, const char *allow_uri,
                          const char *allow_sha256)
{
    const char *lists[4] = { allow_cn, allow_dns, allow_uri, allow_sha256 };
    bool (*const match[4])(const struct gh_cert_info *, const char *, size_t) = {
        match_cn, match_dns, match_uri, match_sha256,
    };
    bool any_set = false;
    for (size_t i = 0; i < 4; i++) {
        if (!lists[i] || !*lists[i])
            continue;
        any_set = true;
        if (ci && list_any(ci, lists[i], match[i]))
            return true;
    }
    return !any_set;
}

int gh_cert_info_name_ascii(const char *name, char *out, size_t out_cap)
{
    size_t o = 0;
    if (out_cap == 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        size_t need = (*p < 0x20 || *p > 0x7e) ? 3 : 1;
        if (o + need >= out_cap) {
            out[0] = '\0';
            return -1;
        }
        if (need == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '\\';
            gh_hex_byte(out + o, *p, GH_HEX_UPPER);
            o += 2;
        }
    }
    out[o] = '\0';
    return (int)o;
}

/* Would a list (RFC 9110 5.6.1) or parameter reader split or misread it? */
static bool uri_needs_quotes(const char *uri)
{
    return strpbrk(uri, ",\"\\;") != NULL;
}

int gh_cert_info_uri_list(const struct gh_cert_info *ci, char *out, size_t out_cap)
{
    size_t o = 0;
    if (out_cap == 0)
        return -1;
    for (size_t i = 0; i < ci->n_uri && i < GH_CERT_INFO_URI_MAX; i++) {
        const char *uri = ci->uri[i];
        bool quoted = uri_needs_quotes(uri);
        /* worst case: separator, quotes, every byte escaped */
        size_t need = (i ? 2 : 0) + (quoted ? 2 + 2 * strlen(uri) : strlen(uri));
        if (o + need >= out_cap) {
            out[0] = '\0';
            return -1;
        }
        if (i) {
            out[o++] = ',';
            out[o++] = ' ';
        }
        if (quoted)
            out[o++] = '"';
        for (const char *p = uri; *p; p++) {
            if (quoted && (*p == '"' || *p == '\\'))
                out[o++] = '\\';
            out[o++] = *p;
        }
        if (quoted)
            out[o++] = '"';
    }
    out[o] = '\0';
    return (int)o;
}

const char *gh_cert_key_type_name(enum gh_cert_key_type type)
{
    switch (type) {
    case GH_CERT_KEY_EC_P256:
        return "ec-p256";
    case GH_CERT_KEY_EC_P384:
        return "ec-p384";
    case GH_CERT_KEY_EC_P521:
        return "ec-p521";
    case GH_CERT_KEY_RSA:
        return "rsa";
    case GH_CERT_KEY_OTHER:
        break;
    }
    return "other";
}
