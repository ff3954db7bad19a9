/* config.c - loads an ini file into struct gh_config.
 *
 * inih splits lines into section, key and value; this file decides what they
 * mean. inih reports neither line numbers (Debian builds it without
 * INI_HANDLER_LINENO) nor every syntax error, and it truncates lines at 200
 * bytes, so we feed it through our own line reader: the reader counts lines,
 * rejects what inih would silently accept (continuation lines, junk after a
 * section header, control characters, over-long lines) and hands long but
 * valid key lines to inih in a short form whose value it keeps aside. */
#include "gatehouse/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 1000     /* longest line accepted in a config file */
#define INIH_LINE_LIMIT 200     /* Debian's inih: INI_MAX_LINE */
#define KEY_MAX_BYTES 64       /* longer than any key gatehouse knows */
#define LONG_VALUE_MARK "\x01"  /* value placeholder for lines over INIH_LINE_LIMIT */

/* One bit per listener key, to find duplicates and missing required keys. */
enum listener_key {
    LK_LISTEN, LK_BACKEND, LK_MODE, LK_CERT, LK_KEY, LK_TLS_MIN_VERSION,
    LK_CIPHERS, LK_CIPHERSUITES, LK_GROUPS, LK_HANDSHAKE_TIMEOUT,
    LK_CONNECT_TIMEOUT, LK_IDLE_TIMEOUT, LK_MAX_CONNECTIONS, LK_BUFFER_SIZE,
    LK_BACKLOG, LK_VALIDATION, LK_LOG_RULES, LK_ALLOW_METHODS, LK_MAX_REQUEST_LINE,
    LK_MAX_HEADER_BYTES, LK_MAX_HEADERS, LK_MAX_BODY, LK_MAX_CHUNK_EXT, LK_MAX_TRAILER_BYTES,
    LK_HEADER_TIMEOUT, LK_FORWARDED_FOR, LK_HSTS, LK_REDIRECT_PORT, LK_CERTS, LK_SNI_UNKNOWN,
    LK_OCSP, LK_ALPN, LK_CLIENT_CA, LK_CRL, LK_CLIENT_VERIFY, LK_CLIENT_ALLOW_CN,
    LK_CLIENT_ALLOW_DNS, LK_CLIENT_ALLOW_URI, LK_CLIENT_ALLOW_SHA256, LK_PROXY_PROTOCOL,
    LK_ACCEPT_PROXY, LK_PROXY_TRUSTED, LK_FRAMING, LK_LINE_ENDING, LK_LINE_CHARSET,
    LK_MAX_LINE, LK_LENGTH_PREFIX, LK_LENGTH_ENDIAN, LK_LENGTH_INCLUDES_PREFIX, LK_MAX_FRAME,
    LK_MAX_BYTES, LK_RATE_LIMIT, LK_WEBSOCKET, LK_WS_ORIGINS, LK_WS_MAX_FRAME,
    LK_WS_MAX_MESSAGE, LK_TRUSTED_PROXIES, LK_FORWARDED_HEADERS, LK_MAX_RESPONSE_HEADER_BYTES,
    LK_MAX_RESPONSE_HEADERS, LK_BACKEND_REUSE, LK_MAX_HELD_REQUEST, LK_CHUNK_EXTENSIONS,
    LK_ALLOW_TRAILERS, LK_REQUEST_TIMEOUT, LK_KEEPALIVE_TIMEOUT, LK_BODY_TIMEOUT,
    LK_MIN_BODY_RATE, LK_SEND_TIMEOUT, LK_COUNT
};

/* One bit per listener key: 64 were not enough once the client timeouts
 * came (GCC and clang both have the 128-bit integer). */
__extension__ typedef unsigned __int128 listener_key_set;
_Static_assert(LK_COUNT <= 128, "listener_key_set is a 128-bit set");

#define LK_BIT(k) ((listener_key_set)1 << (k))

/* Keys that mean nothing to a plaintext redirect listener. */
#define TLS_AND_BACKEND_KEYS                                                                \
    (LK_BIT(LK_BACKEND) | LK_BIT(LK_CERT) | LK_BIT(LK_KEY) | LK_BIT(LK_TLS_MIN_VERSION) |   \
     LK_BIT(LK_CIPHERS) | LK_BIT(LK_CIPHERSUITES) | LK_BIT(LK_GROUPS) |                     \
     LK_BIT(LK_HANDSHAKE_TIMEOUT) | LK_BIT(LK_CONNECT_TIMEOUT) | LK_BIT(LK_FORWARDED_FOR) |  \
     LK_BIT(LK_VALIDATION) | LK_BIT(LK_LOG_RULES) | LK_BIT(LK_MAX_BODY) | LK_BIT(LK_CERTS) |  \
     LK_BIT(LK_SNI_UNKNOWN) | LK_BIT(LK_OCSP) | LK_BIT(LK_ALPN) | LK_BIT(LK_CLIENT_CA) |       \
     LK_BIT(LK_CRL) | LK_BIT(LK_CLIENT_VERIFY) | LK_BIT(LK_CLIENT_ALLOW_CN) |                  \
     LK_BIT(LK_CLIENT_ALLOW_DNS) | LK_BIT(LK_CLIENT_ALLOW_URI) |                               \
     LK_BIT(LK_CLIENT_ALLOW_SHA256) | LK_BIT(LK_PROXY_PROTOCOL) | LK_BIT(LK_BODY_TIMEOUT) |   \
     LK_BIT(LK_MIN_BODY_RATE))

/* Keys that only mean something with mode = http. */
#define HTTP_ONLY_KEYS                                                                      \
    (LK_BIT(LK_VALIDATION) | LK_BIT(LK_LOG_RULES) | LK_BIT(LK_ALLOW_METHODS) |               \
     LK_BIT(LK_MAX_REQUEST_LINE) | LK_BIT(LK_MAX_HEADER_BYTES) | LK_BIT(LK_MAX_HEADERS) |    \
     LK_BIT(LK_MAX_BODY) | LK_BIT(LK_MAX_CHUNK_EXT) | LK_BIT(LK_MAX_TRAILER_BYTES) |         \
     LK_BIT(LK_HEADER_TIMEOUT) | LK_BIT(LK_FORWARDED_FOR) | LK_BIT(LK_HSTS) |                 \
     LK_BIT(LK_WEBSOCKET) | LK_BIT(LK_WS_ORIGINS) | LK_BIT(LK_WS_MAX_FRAME) |                  \
     LK_BIT(LK_WS_MAX_MESSAGE) | LK_BIT(LK_TRUSTED_PROXIES) | LK_BIT(LK_FORWARDED_HEADERS) |  \
     LK_BIT(LK_MAX_RESPONSE_HEADER_BYTES) | LK_BIT(LK_MAX_RESPONSE_HEADERS) |                 \
     LK_BIT(LK_BACKEND_REUSE) | LK_BIT(LK_MAX_HELD_REQUEST) | LK_BIT(LK_CHUNK_EXTENSIONS) |   \
     LK_BIT(LK_ALLOW_TRAILERS) | LK_BIT(LK_REQUEST_TIMEOUT) | LK_BIT(LK_KEEPALIVE_TIMEOUT) |   \
     LK_BIT(LK_BODY_TIMEOUT) | LK_BIT(LK_MIN_BODY_RATE))

enum global_key {
    GK_WORKERS, GK_SHUTDOWN_GRACE, GK_LOG_LEVEL, GK_AUDIT_FILE, GK_AUDIT_KEY_FILE,
    GK_AUDIT_FSYNC, GK_AUDIT_FSYNC_INTERVAL, GK_AUDIT_FLUSH_INTERVAL, GK_AUDIT_BUFFER_SIZE,
    GK_AUDIT_MAX_FIELD, GK_TICKET_KEY_FILE, GK_TICKET_ROTATION, GK_COUNT
};

static const char *const listener_key_names[LK_COUNT] = {
    "listen", "backend", "mode", "cert", "key", "tls_min_version",
    "ciphers", "ciphersuites", "groups", "handshake_timeout",
    "connect_timeout", "idle_timeout", "max_connections", "buffer_size",
    "backlog", "validation", "log_rules", "allow_methods", "max_request_line",
    "max_header_bytes", "max_headers", "max_body", "max_chunk_ext", "max_trailer_bytes",
    "header_timeout", "forwarded_for", "hsts", "redirect_port", "certs", "sni_unknown",
    "ocsp", "alpn", "client_ca", "crl", "client_verify", "client_allow_cn",
    "client_allow_dns", "client_allow_uri", "client_allow_sha256", "proxy_protocol",
    "accept_proxy", "proxy_trusted", "framing", "line_ending", "line_charset", "max_line",
    "length_prefix", "length_endian", "length_includes_prefix", "max_frame", "max_bytes",
    "rate_limit", "websocket", "ws_origins", "ws_max_frame", "ws_max_message",
    "trusted_proxies", "forwarded_headers", "max_response_header_bytes", "max_response_headers",
    "backend_reuse",
    "max_held_request", "chunk_extensions", "allow_trailers",
    "request_timeout", "keepalive_timeout", "body_timeout", "min_body_rate", "send_timeout",
};

/* Keys for mode = tcp only (their framing of a raw byte stream). */
#define TCP_ONLY_KEYS                                                                       \
    (LK_BIT(LK_FRAMING) | LK_BIT(LK_LINE_ENDING) | LK_BIT(LK_LINE_CHARSET) |                   \
     LK_BIT(LK_MAX_LINE) | LK_BIT(LK_LENGTH_PREFIX) | LK_BIT(LK_LENGTH_ENDIAN) |               \
     LK_BIT(LK_LENGTH_INCLUDES_PREFIX) | LK_BIT(LK_MAX_FRAME) | LK_BIT(LK_MAX_BYTES) |         \
     LK_BIT(LK_RATE_LIMIT))

/* [cert:NAME] keys */
enum cert_key { CK_CERT, CK_KEY, CK_OCSP, CK_NAMES, CK_COUNT };
static const char *const cert_key_names[CK_COUNT] = {"cert", "key", "ocsp", "names"};

static const char *const global_key_names[GK_COUNT] = {
    "workers", "shutdown_grace", "log_level", "audit_file", "audit_key_file",
    "audit_fsync", "audit_fsync_interval", "audit_flush_interval", "audit_buffer_size",
    "audit_max_field", "ticket_key_file", "ticket_rotation",
};

enum section_kind { SECTION_NONE, SECTION_GLOBAL, SECTION_LISTENER, SECTION_CERT, SECTION_INVALID };

struct parse_state {
    struct gh_config *cfg;
    struct gh_config_errors *errs;
    /* input */
    const char *text;
    size_t len;
    size_t pos;
    int line;
    /* current section, as the reader saw it */
    enum section_kind section;
    struct gh_listener_config *listener;
    struct gh_cert_config *cert;
    uint32_t seen_keys;              /* bits of global_key or cert_key */
    listener_key_set listener_seen[GH_MAX_LISTENERS];
    int listener_key_line[GH_MAX_LISTENERS][LK_COUNT];
    char cert_refs[GH_MAX_LISTENERS][GH_LIST_TEXT_MAX]; /* certs = ... until resolved */
    bool global_seen_section;
    bool prev_was_key;               /* for telling continuation lines apart */
    char long_value[LINE_MAX_BYTES + 1]; /* value of the current over-long line */
};

static const char *const default_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char *const default_ciphersuites =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";

static bool is_space_char(char c) { return c == ' ' || c == '\t'; }

/* ---- errors ---------------------------------------------------------- */

static void errors_vadd(struct gh_config_errors *errs, int line, const char *key,
                        const char *fmt, va_list ap)
{
    if (errs->count < GH_MAX_ERRORS) {
        struct gh_config_error *e = &errs->items[errs->count];
        e->line = line;
        snprintf(e->key, sizeof e->key, "%s", key ? key : "");
        vsnprintf(e->message, sizeof e->message, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized): callers va_start it */
    }
    errs->count++;
}

void gh_config_error_add(struct gh_config_errors *errs, int line, const char *key,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errors_vadd(errs, line, key, fmt, ap);
    va_end(ap);
}

static void parse_error(struct parse_state *st, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void parse_error(struct parse_state *st, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errors_vadd(st->errs, st->line, key, fmt, ap);
    va_end(ap);
}

void gh_config_errors_print(const struct gh_config_errors *errs, FILE *to)
{
    size_t shown = errs->count < GH_MAX_ERRORS ? errs->count : GH_MAX_ERRORS;
    for (size_t i = 0; i < shown; i++) {
        const struct gh_config_error *e = &errs->items[i];
        fprintf(to, "%s:%d: %s: %s\n", errs->file, e->line, e->key[0] ? e->key : "-",
                e->message);
    }
    if (errs->count > shown)
        fprintf(to, "%s: %zu more errors not shown\n", errs->file, errs->count - shown);
}

/* ---- value parsers --------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Parses exactly n decimal digits without overflow past limit. */
static int parse_digits(const char *s, size_t n, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;
    if (!all_digits(s, n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int gh_parse_duration(const char *text, double *seconds, char *why)
{
    size_t int_len = strspn(text, "0123456789");
    size_t frac_len = 0;
    const char *unit;
    uint64_t whole = 0, frac = 0;
    double scale;

    if (int_len == 0 || int_len > 9)
        goto bad;
    unit = text + int_len;
    if (*unit == '.') {
        frac_len = strspn(unit + 1, "0123456789");
        if (frac_len == 0 || frac_len > 6)
            goto bad;
        if (parse_digits(unit + 1, frac_len, UINT64_MAX, &frac) < 0)
            goto bad;
        unit += 1 + frac_len;
    }
    if (parse_digits(text, int_len, UINT64_MAX, &whole) < 0)
        goto bad;
    if (strcmp(unit, "") == 0 || strcmp(unit, "s") == 0)
        scale = 1.0;
    else if (strcmp(unit, "ms") == 0)
        scale = 0.001;
    else if (strcmp(unit, "m") == 0)
        scale = 60.0;
    else if (strcmp(unit, "h") == 0)
        scale = 3600.0;
    else
        goto bad;
    *seconds = ((double)whole + (double)frac / pow(10.0, (double)frac_len)) * scale;
    return 0;
bad:
    snprintf(why, GH_ERROR_TEXT_MAX,
             "'%s' is not a duration (a number with an optional unit ms, s, m or h)", text);
    return -1;
}

int gh_parse_size(const char *text, uint64_t *bytes, char *why)
{
    size_t n = strlen(text);
    size_t digits = strspn(text, "0123456789");
    uint64_t mult = 1, v = 0;

    if (digits == 0 || (n != digits && n != digits + 1))
        goto bad;
    if (n == digits + 1) {
        switch (text[digits]) {
        case 'k': case 'K': mult = 1ULL << 10; break;
        case 'm': case 'M': mult = 1ULL << 20; break;
        case 'g': case 'G': mult = 1ULL << 30; break;
        default: goto bad;
        }
    }
    if (parse_digits(text, digits, UINT64_MAX / mult, &v) < 0)
        goto bad;
    *bytes = v * mult;
    return 0;
bad:
    snprintf(why, GH_ERROR_TEXT_MAX,
             "'%s' is not a size (whole bytes with an optional unit k, m or g)", text);
    return -1;
}

int gh_parse_sockaddr(const char *text, struct gh_sockaddr *out, char *why)
{
    char host[GH_ADDR_TEXT_MAX];
    const char *port_text;
    size_t host_len;
    uint64_t port;

    memset(out, 0, sizeof *out);
    if (strlen(text) >= sizeof out->text)
        goto bad;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            goto bad;
        host_len = (size_t)(close - text - 1);
        memcpy(host, text + 1, host_len);
        host[host_len] = '\0';
        port_text = close + 2;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            goto bad;
        sin6->sin6_family = AF_INET6;
        out->len = sizeof *sin6;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon)
            goto bad;
        host_len = (size_t)(colon - text);
        memcpy(host, text, host_len);
        host[host_len] = '\0';
        port_text = colon + 1;
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
        if (strcmp(host, "*") == 0)
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (strcmp(host, "localhost") == 0)
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            goto bad;
        sin->sin_family = AF_INET;
        out->len = sizeof *sin;
    }
    if (parse_digits(port_text, strlen(port_text), 65535, &port) < 0 || port == 0)
        goto bad;
    if (out->ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)port);
    snprintf(out->text, sizeof out->text, "%s", text);
    return 0;
bad:
    snprintf(why, GH_ERROR_TEXT_MAX,
             "'%s' is not an address (IPV4:PORT, [IPV6]:PORT, *:PORT or localhost:PORT; "
             "names are not resolved)", text);
    memset(out, 0, sizeof *out);
    return -1;
}

static const struct {
    const char *name;
    enum gh_group group;
} group_names[] = {
    {"X25519", GH_GROUP_X25519},   {"x25519", GH_GROUP_X25519},
    {"P-256", GH_GROUP_P256},      {"secp256r1", GH_GROUP_P256},
    {"prime256v1", GH_GROUP_P256}, {"P-384", GH_GROUP_P384},
    {"secp384r1", GH_GROUP_P384},
};

const char *gh_group_name(enum gh_group group)
{
    switch (group) {
    case GH_GROUP_X25519: return "X25519";
    case GH_GROUP_P256: return "P-256";
    case GH_GROUP_P384: return "P-384";
    }
    return "?";
}

/* ---- per-key setters ------------------------------------------------- */

static int set_duration(struct parse_state *st, const char *key, const char *value,
                        double min_exclusive, double max, double *out)
{
    char why[GH_ERROR_TEXT_MAX];
    double v;
    if (gh_parse_duration(value, &v, why) < 0) {
        parse_error(st, key, "%s", why);
        return -1;
    }
    if (v <= min_exclusive || v > max) {
        parse_error(st, key, "'%s' is out of range (%s .. %gs)", value,
                    min_exclusive < 0 ? "0" : "more than 0", max);
        return -1;
    }
    *out = v;
    return 0;
}

static int set_uint(struct parse_state *st, const char *key, const char *value,
                    uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (parse_digits(value, strlen(value), UINT64_MAX, &v) < 0) {
        parse_error(st, key, "'%s' is not a whole number", value);
        return -1;
    }
    if (v < min || v > max) {
        parse_error(st, key, "'%s' is out of range (%llu .. %llu)", value,
                    (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Relative paths are taken from the config file's directory, so a config
 * and its certificates can move together. */
static int set_path(struct parse_state *st, const char *key, const char *value, char *out)
{
    const char *slash = strrchr(st->cfg->path, '/');
    int dir_len = slash ? (int)(slash - st->cfg->path) + 1 : 0;
    int n;

    if (value[0] == '\0') {
        parse_error(st, key, "empty path");
        return -1;
    }
    if (value[0] == '/')
        dir_len = 0;
    n = snprintf(out, GH_PATH_MAX, "%.*s%s", dir_len, st->cfg->path, value);
    if (n < 0 || n >= GH_PATH_MAX) {
        parse_error(st, key, "path longer than %d bytes", GH_PATH_MAX - 1);
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* Walks a ':'-separated list; reports empty items and items acceptable() refuses. */
static int check_list(struct parse_state *st, const char *key, const char *value,
                      bool (*acceptable)(const char *item, size_t len), const char *rule)
{
    const char *p = value;
    int bad = 0;
    if (*p == '\0') {
        parse_error(st, key, "empty list");
        return -1;
    }
    for (;;) {
        size_t len = strcspn(p, ":");
        if (len == 0) {
            parse_error(st, key, "empty entry in list");
            bad = -1;
        } else if (!acceptable(p, len)) {
            parse_error(st, key, "'%.*s' %s", (int)len, p, rule);
            bad = -1;
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    return bad;
}

/* One word out of a fixed set: stores its value, or records an error that
 * lists the words. */
struct choice {
    const char *word;
    int value;
};

static int choose(struct parse_state *st, const char *key, const char *value,
                  const struct choice *c, int *out)
{
    char words[160] = "";
    size_t n = 0;
    for (size_t i = 0; c[i].word; i++) {
        if (strcmp(value, c[i].word) == 0) {
            *out = c[i].value;
            return 0;
        }
        n += (size_t)snprintf(words + n, n < sizeof words ? sizeof words - n : 0, "%s%s",
                              i == 0 ? "" : c[i + 1].word ? ", " : " or ", c[i].word);
    }
    parse_error(st, key, "'%s' is not %s", value, words);
    return -1;
}

/* In a set_*_key function: CHOOSE(field, {"word", value}, ...). */
#define CHOOSE(target, ...)                                                    \
    do {                                                                       \
        static const struct choice choices_[] = {__VA_ARGS__, {NULL, 0}};      \
        int chosen_;                                                           \
        if (choose(st, name, value, choices_, &chosen_) == 0)                  \
            (target) = chosen_;                                                \
    } while (0)

/* ---- comma-separated lists (certs, alpn, client_allow_*, proxy_trusted) */

static bool is_section_name(const char *s, size_t len)
{
    if (len == 0 || len > GH_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool is_alpn_name(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool is_identity(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* host.example, or *.example.tld as the whole left-most label (a
 * wildcard over a single label, "*.internal", would never match: refused) */
static bool is_dns_pattern(const char *s, size_t len)
{
    size_t label = 0;
    if (len >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        len -= 2;
        if (!memchr(s, '.', len))
            return false;
    }
    if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_') || ++label > 63)
            return false;
    }
    return true;
}

static bool is_uri(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || len > 255 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while (i < len && s[i] != ':') {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return false;
        i++;
    }
    if (i == len || i + 1 == len)
        return false;
    for (; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Walks a comma-separated list (spaces around items allowed); every item
 * must satisfy acceptable(). Returns 0 or -1 (errors recorded). */
static int check_list_items(struct parse_state *st, const char *key, const char *value,
                            bool (*acceptable)(const char *item, size_t len), const char *rule)
{
    const char *p = value;
    int rc = 0;
    if (*p == '\0') {
        parse_error(st, key, "empty list");
        return -1;
    }
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *a = p, *b = end;
        while (a < b && is_space_char(*a))
            a++;
        while (b > a && is_space_char(b[-1]))
            b--;
        if (a == b) {
            parse_error(st, key, "empty entry in list");
            rc = -1;
        } else if (!acceptable(a, (size_t)(b - a))) {
            parse_error(st, key, "'%.*s' %s", (int)(b - a), a, rule);
            rc = -1;
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return rc;
}

/* Checks a list and stores it as "a,b,c": the spaces around items go,
 * spaces inside an item (a CN "Billing Service") stay. */
static void set_list(struct parse_state *st, const char *key, const char *value,
                     bool (*acceptable)(const char *item, size_t len), const char *rule,
                     char *out, size_t out_size)
{
    size_t o = 0;
    if (check_list_items(st, key, value, acceptable, rule) < 0)
        return;
    for (const char *p = value;;) {
        const char *end = p + strcspn(p, ",");
        const char *a = p, *b = end;
        while (a < b && is_space_char(*a))
            a++;
        while (b > a && is_space_char(b[-1]))
            b--;
        if (o + (size_t)(b - a) + 2 > out_size) {
            parse_error(st, key, "list longer than %zu bytes", out_size - 1);
            out[0] = '\0';
            return;
        }
        if (o)
            out[o++] = ',';
        memcpy(out + o, a, (size_t)(b - a));
        o += (size_t)(b - a);
        if (*end == '\0')
            break;
        p = end + 1;
    }
    out[o] = '\0';
}

/* proxy_trusted, trusted_proxies: networks as address/prefix (or an
 * address alone), into nets (GH_TRUSTED_NETS_MAX entries). */
static void set_trusted(struct parse_state *st, const char *key, const char *value,
                        struct gh_cidr nets[GH_TRUSTED_NETS_MAX], size_t *n_nets)
{
    char item[INET6_ADDRSTRLEN + 8], why[GH_CIDR_WHY_MAX];
    const char *p = value;
    if (*p == '\0') {
        parse_error(st, key, "empty list");
        return;
    }
    *n_nets = 0;
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *a = p, *b = end;
        while (a < b && is_space_char(*a))
            a++;
        while (b > a && is_space_char(b[-1]))
            b--;
        if (a == b || (size_t)(b - a) >= sizeof item) {
            parse_error(st, key, a == b ? "empty entry in list" : "'%.*s' is too long", (int)(b - a), a);
        } else if (*n_nets == GH_TRUSTED_NETS_MAX) {
            parse_error(st, key, "more than %d networks", GH_TRUSTED_NETS_MAX);
            return;
        } else {
            memcpy(item, a, (size_t)(b - a));
            item[b - a] = '\0';
            if (gh_cidr_parse(item, &nets[*n_nets], why) < 0)
                parse_error(st, key, "'%s': %s", item, why);
            else
                (*n_nets)++;
        }
        if (*end == '\0')
            break;
        p = end + 1;
    }
}

static bool is_fingerprint(const char *s, size_t len)
{
    size_t digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
            digits++;
        else if (c != ':')
            return false;
    }
    return digits == 64;
}

/* SHA-256 fingerprints as "AB:CD:..." or "abcd...": stored as lowercase
 * hex without colons, comma-separated. */
static void set_fingerprints(struct parse_state *st, const char *key, const char *value,
                             char out[GH_LIST_TEXT_MAX])
{
    size_t o = 0;
    if (check_list_items(st, key, value, is_fingerprint,
                         "is not a SHA-256 fingerprint (64 hex digits, colons allowed)") < 0)
        return;
    for (const char *p = value; *p; p++) {
        char c = *p;
        if (c == ':' || is_space_char(c))
            continue;
        if (o + 1 >= GH_LIST_TEXT_MAX) {
            parse_error(st, key, "list longer than %d bytes", GH_LIST_TEXT_MAX - 1);
            out[0] = '\0';
            return;
        }
        out[o++] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    out[o] = '\0';
}

static bool span_contains(const char *s, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (memcmp(s + i, needle, nl) == 0)
            return true;
    return false;
}

static bool is_pfs_aead_cipher(const char *s, size_t len)
{
    return len > 6 && memcmp(s, "ECDHE-", 6) == 0 &&
           (span_contains(s, len, "GCM") || span_contains(s, len, "CHACHA20"));
}

static bool is_tls13_suite(const char *s, size_t len)
{
    return (len > 6 && memcmp(s, "TLS13-", 6) == 0) || (len > 4 && memcmp(s, "TLS_", 4) == 0);
}

static int set_groups(struct parse_state *st, const char *key, const char *value,
                      struct gh_listener_config *l)
{
    const char *p = value;
    size_t n = 0;
    for (;;) {
        size_t len = strcspn(p, ":");
        bool found = false;
        for (size_t i = 0; i < sizeof group_names / sizeof group_names[0]; i++) {
            if (strlen(group_names[i].name) == len && memcmp(group_names[i].name, p, len) == 0) {
                for (size_t j = 0; j < n; j++) {
                    if (l->groups[j] == group_names[i].group) {
                        parse_error(st, key, "'%.*s' is listed twice", (int)len, p);
                        return -1;
                    }
                }
                if (n == GH_GROUPS_MAX) {
                    parse_error(st, key, "more than %d groups", GH_GROUPS_MAX);
                    return -1;
                }
                l->groups[n++] = group_names[i].group;
                found = true;
                break;
            }
        }
        if (!found) {
            parse_error(st, key, "unknown group '%.*s' (X25519, P-256, P-384)", (int)len, p);
            return -1;
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    l->n_groups = n;
    return 0;
}

static void listener_defaults(struct gh_listener_config *l)
{
    memset(l, 0, sizeof *l);
    l->mode = GH_MODE_TCP;
    l->tls_min_version = 12;
    snprintf(l->ciphers, sizeof l->ciphers, "%s", default_ciphers);
    snprintf(l->ciphersuites, sizeof l->ciphersuites, "%s", default_ciphersuites);
    l->groups[0] = GH_GROUP_X25519;
    l->groups[1] = GH_GROUP_P256;
    l->groups[2] = GH_GROUP_P384;
    l->n_groups = 3;
    l->handshake_timeout = 10.0;
    l->connect_timeout = 5.0;
    l->idle_timeout = 300.0;
    l->max_connections = 10000;
    l->buffer_size = 16384;
    l->backlog = 511;
    l->http_limits.max_request_line = 8192;
    l->http_limits.max_header_bytes = 16384;
    l->http_limits.max_headers = 100;
    l->http_limits.max_chunk_ext = 256;
    l->http_limits.max_trailer_bytes = 4096;
    l->max_response_header_bytes = 0; /* 0: as much as the buffer holds (set at validation) */
    l->max_response_headers = GH_HTTP1_MAX_HEADERS;
    l->max_body = 1u << 20;
    l->max_held_request = 64u << 10;
    l->chunk_extensions = GH_CHUNK_EXT_DROP;
    l->redirect_port = 443;
    l->header_timeout = 10.0;
    l->request_timeout = 10.0;
    l->keepalive_timeout = 15.0;
    l->body_timeout = 10.0;
    l->min_body_rate = 500;
    l->send_timeout = 30.0;
    l->sni_unknown = GH_SNI_DEFAULT;
    l->max_line = 8192;
    l->length_prefix = 4;
    l->max_frame = 65536;
    l->ws_max_frame = 1u << 20;
    l->ws_max_message = 16u << 20;
    l->client_verify = GH_VERIFY_OFF;
    /* WebDAV and custom methods work out of the box; allow_methods narrows */
    l->method_policy = GH_METHODS_SAFE_DEFAULT;
    l->n_methods = 0;
}

static void global_defaults(struct gh_global_config *g)
{
    g->workers = 1;
    g->shutdown_grace = 30.0;
    g->log_level = GH_LOG_INFO;
    g->audit_fsync = GH_AUDIT_FSYNC_INTERVAL;
    g->audit_fsync_interval = 1.0;
    g->audit_flush_interval = 0.1;
    g->audit_buffer_size = 1u << 20;
    g->audit_max_field = 256;
    g->ticket_rotation = 12 * 3600.0;
}

/* A size within [min, max]. Returns 0, or -1 with the error recorded. */
static int get_size(struct parse_state *st, const char *key, const char *value, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    char why[GH_ERROR_TEXT_MAX];
    uint64_t v;
    if (gh_parse_size(value, &v, why) < 0) {
        parse_error(st, key, "%s", why);
        return -1;
    }
    if (v < min || v > max) {
        parse_error(st, key, "'%s' is out of range (%llu .. %llu)", value,
                    (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

static void set_size_field(struct parse_state *st, const char *key, const char *value,
                           uint64_t min, uint64_t max, size_t *out)
{
    uint64_t v;
    if (get_size(st, key, value, min, max, &v) == 0)
        *out = (size_t)v;
}

/* Comma-separated list items with optional spaces around them. Returns the
 * next item (start, length) or false at the end. */
static bool next_item(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (!*s)
        return false;
    *item = s;
    while (*s && *s != ',')
        s++;
    *len = (size_t)(s - *item);
    while (*len && ((*item)[*len - 1] == ' ' || (*item)[*len - 1] == '\t'))
        (*len)--;
    *p = s;
    return true;
}

static void set_log_rules(struct parse_state *st, const char *key, const char *value,
                          struct gh_listener_config *l)
{
    const char *p = value, *item;
    size_t len;
    l->log_rules = 0;
    while (next_item(&p, &item, &len)) {
        enum gh_http1_rule r = gh_http1_rule_from_name(item, len);
        if (r == GH_RULE_NONE)
            parse_error(st, key, "unknown rule '%.*s'", (int)len, item);
        else if (gh_http1_rule_is_framing(r))
            parse_error(st, key, "'%.*s' protects message framing and is always enforced",
                        (int)len, item);
        else
            l->log_rules |= (gh_http1_rule_set)1 << r;
    }
}

/* allow_trailers: a field name is a token (RFC 9110 5.1). */
static bool is_field_name(const char *item, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)item[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return len > 0;
}

static void set_methods(struct parse_state *st, const char *key, const char *value,
                        struct gh_listener_config *l)
{
    const char *p = value, *item;
    size_t len;
    l->method_policy = GH_METHODS_LISTED;
    l->n_methods = 0;
    while (next_item(&p, &item, &len)) {
        /* a method is a token (RFC 9110 9.1), case-sensitive: WebDAV's
         * VERSION-CONTROL has a '-' */
        if (len > GH_METHOD_LEN_MAX || !is_field_name(item, len)) {
            parse_error(st, key, "'%.*s' is not a method (a token, at most %d characters)",
                        (int)len, item, GH_METHOD_LEN_MAX);
            return;
        }
        if (l->n_methods == GH_METHODS_MAX) {
            parse_error(st, key, "more than %d methods", GH_METHODS_MAX);
            return;
        }
        memcpy(l->allow_methods[l->n_methods], item, len);
        l->allow_methods[l->n_methods][len] = '\0';
        l->n_methods++;
    }
    if (l->n_methods == 0)
        parse_error(st, key, "empty list");
}

static void set_listener_key(struct parse_state *st, int key, const char *name,
                             const char *value)
{
    struct gh_listener_config *l = st->listener;
    char why[GH_ERROR_TEXT_MAX];
    uint64_t u;

    switch ((enum listener_key)key) {
    case LK_LISTEN:
        if (gh_parse_sockaddr(value, &l->listen, why) < 0)
            parse_error(st, name, "%s", why);
        break;
    case LK_BACKEND:
        if (gh_parse_sockaddr(value, &l->backend, why) < 0)
            parse_error(st, name, "%s", why);
        break;
    case LK_MODE:
        CHOOSE(l->mode, {"tcp", GH_MODE_TCP}, {"http", GH_MODE_HTTP},
                {"redirect", GH_MODE_REDIRECT});
        break;
    case LK_CERT:
        if (set_path(st, name, value, l->cert) == 0)
            l->cert_line = st->line;
        break;
    case LK_KEY:
        if (set_path(st, name, value, l->key) == 0)
            l->key_line = st->line;
        break;
    case LK_TLS_MIN_VERSION:
        CHOOSE(l->tls_min_version, {"1.2", 12}, {"1.3", 13});
        break;
    case LK_CIPHERS:
        if (strlen(value) >= sizeof l->ciphers)
            parse_error(st, name, "list longer than %zu bytes", sizeof l->ciphers - 1);
        else if (check_list(st, name, value, is_pfs_aead_cipher,
                            "is not an ECDHE (forward secret) AEAD suite") == 0) {
            snprintf(l->ciphers, sizeof l->ciphers, "%s", value);
            l->ciphers_line = st->line;
        }
        break;
    case LK_CIPHERSUITES:
        if (strlen(value) >= sizeof l->ciphersuites)
            parse_error(st, name, "list longer than %zu bytes", sizeof l->ciphersuites - 1);
        else if (check_list(st, name, value, is_tls13_suite,
                            "is not a TLS 1.3 suite name (TLS13-... or TLS_...)") == 0) {
            snprintf(l->ciphersuites, sizeof l->ciphersuites, "%s", value);
            l->ciphersuites_line = st->line;
        }
        break;
    case LK_GROUPS:
        (void)set_groups(st, name, value, l); /* errors are recorded in st */
        break;
    case LK_HANDSHAKE_TIMEOUT:
        (void)set_duration(st, name, value, 0, 3600, &l->handshake_timeout);
        break;
    case LK_CONNECT_TIMEOUT:
        (void)set_duration(st, name, value, 0, 3600, &l->connect_timeout);
        break;
    case LK_IDLE_TIMEOUT:
        (void)set_duration(st, name, value, 0, 86400, &l->idle_timeout);
        break;
    case LK_MAX_CONNECTIONS:
        if (set_uint(st, name, value, 1, 1000000, &u) == 0)
            l->max_connections = (uint32_t)u;
        break;
    case LK_BUFFER_SIZE:
        if (gh_parse_size(value, &u, why) < 0)
            parse_error(st, name, "%s", why);
        else if (u < 4096 || u > (1u << 20))
            parse_error(st, name, "'%s' is out of range (4k .. 1m)", value);
        else
            l->buffer_size = (uint32_t)u;
        break;
    case LK_BACKLOG:
        if (set_uint(st, name, value, 1, 65535, &u) == 0)
            l->backlog = (int)u;
        break;
    case LK_VALIDATION:
        CHOOSE(l->report_only, {"enforce", false}, {"report", true});
        break;
    case LK_LOG_RULES:
        set_log_rules(st, name, value, l);
        break;
    case LK_ALLOW_METHODS:
        set_methods(st, name, value, l);
        break;
    case LK_MAX_REQUEST_LINE:
        set_size_field(st, name, value, 64, 65536, &l->http_limits.max_request_line);
        break;
    case LK_MAX_HEADER_BYTES:
        set_size_field(st, name, value, 256, 256u << 10, &l->http_limits.max_header_bytes);
        break;
    case LK_MAX_HEADERS:
        if (set_uint(st, name, value, 1, GH_HTTP1_MAX_HEADERS, &u) == 0)
            l->http_limits.max_headers = (size_t)u;
        break;
    case LK_MAX_BODY:
        if (gh_parse_size(value, &u, why) < 0)
            parse_error(st, name, "%s", why);
        else
            l->max_body = u;
        break;
    case LK_MAX_CHUNK_EXT:
        set_size_field(st, name, value, 0, 4096, &l->http_limits.max_chunk_ext);
        break;
    case LK_MAX_TRAILER_BYTES:
        set_size_field(st, name, value, 0, 64u << 10, &l->http_limits.max_trailer_bytes);
        break;
    case LK_HEADER_TIMEOUT:
        (void)set_duration(st, name, value, 0, 3600, &l->header_timeout);
        break;
    case LK_REQUEST_TIMEOUT:
        (void)set_duration(st, name, value, 0, 3600, &l->request_timeout);
        break;
    case LK_KEEPALIVE_TIMEOUT:
        (void)set_duration(st, name, value, 0, 3600, &l->keepalive_timeout);
        break;
    case LK_BODY_TIMEOUT:
        (void)set_duration(st, name, value, 0, 3600, &l->body_timeout);
        break;
    case LK_MIN_BODY_RATE: /* bytes per second, per body_timeout period */
        (void)get_size(st, name, value, 0, 1u << 30, &l->min_body_rate);
        break;
    case LK_SEND_TIMEOUT:
        (void)set_duration(st, name, value, 0, 86400, &l->send_timeout);
        break;
    case LK_FORWARDED_FOR:
        CHOOSE(l->xff_append, {"replace", false}, {"append", true});
        break;
    case LK_HSTS:
        if (strlen(value) >= sizeof l->hsts)
            parse_error(st, name, "longer than %zu bytes", sizeof l->hsts - 1);
        else if (value[0] && strncmp(value, "max-age=", 8) != 0)
            parse_error(st, name, "an HSTS value starts with max-age=");
        else
            snprintf(l->hsts, sizeof l->hsts, "%s", value);
        break;
    case LK_REDIRECT_PORT:
        if (set_uint(st, name, value, 1, 65535, &u) == 0)
            l->redirect_port = (int)u;
        break;
    case LK_CERTS:
        /* resolved once every [cert:NAME] section is known */
        set_list(st, name, value, is_section_name, "is not a [cert:NAME] name",
                 st->cert_refs[l - st->cfg->listeners], sizeof st->cert_refs[l - st->cfg->listeners]);
        l->certs_line = st->line;
        break;
    case LK_SNI_UNKNOWN:
        CHOOSE(l->sni_unknown, {"default", GH_SNI_DEFAULT}, {"refuse", GH_SNI_REFUSE});
        break;
    case LK_OCSP:
        if (set_path(st, name, value, l->ocsp) == 0)
            l->ocsp_line = st->line;
        break;
    case LK_ALPN:
        if (strcmp(value, "off") == 0)
            l->alpn[0] = '\0';
        else if (strlen(value) >= sizeof l->alpn)
            parse_error(st, name, "list longer than %zu bytes", sizeof l->alpn - 1);
        else
            set_list(st, name, value, is_alpn_name,
                     "is not a protocol name (1..255 printable characters)", l->alpn,
                     sizeof l->alpn);
        break;
    case LK_CLIENT_CA:
        if (set_path(st, name, value, l->client_ca) == 0)
            l->client_ca_line = st->line;
        break;
    case LK_CRL:
        if (set_path(st, name, value, l->crl) == 0)
            l->crl_line = st->line;
        break;
    case LK_CLIENT_VERIFY:
        CHOOSE(l->client_verify, {"off", GH_VERIFY_OFF}, {"optional", GH_VERIFY_OPTIONAL},
                {"required", GH_VERIFY_REQUIRED});
        break;
    case LK_CLIENT_ALLOW_CN:
        set_list(st, name, value, is_identity, "is empty or holds a control character",
                 l->client_allow_cn, sizeof l->client_allow_cn);
        break;
    case LK_CLIENT_ALLOW_DNS:
        set_list(st, name, value, is_dns_pattern, "is not a DNS name (or *.name)",
                 l->client_allow_dns, sizeof l->client_allow_dns);
        break;
    case LK_CLIENT_ALLOW_URI:
        set_list(st, name, value, is_uri, "is not a URI (scheme:rest, e.g. spiffe://...)",
                 l->client_allow_uri, sizeof l->client_allow_uri);
        break;
    case LK_CLIENT_ALLOW_SHA256:
        set_fingerprints(st, name, value, l->client_allow_sha256);
        break;
    case LK_PROXY_PROTOCOL:
        CHOOSE(l->proxy_protocol, {"off", GH_PROXY_OUT_OFF}, {"v1", GH_PROXY_OUT_V1},
                {"v2", GH_PROXY_OUT_V2});
        break;
    case LK_ACCEPT_PROXY:
        CHOOSE(l->accept_proxy, {"off", GH_PROXY_IN_OFF}, {"v1", GH_PROXY_IN_V1},
                {"v2", GH_PROXY_IN_V2}, {"any", GH_PROXY_IN_ANY});
        break;
    case LK_PROXY_TRUSTED:
        set_trusted(st, name, value, l->proxy_trusted, &l->n_proxy_trusted);
        break;
    case LK_TRUSTED_PROXIES:
        set_trusted(st, name, value, l->trusted_proxies, &l->n_trusted_proxies);
        break;
    case LK_FORWARDED_HEADERS:
        CHOOSE(l->forwarded_headers, {"x-forwarded", GH_FORWARDED_X}, {"forwarded", GH_FORWARDED_RFC7239},
                {"both", GH_FORWARDED_BOTH});
        break;
    case LK_FRAMING:
        CHOOSE(l->framing, {"raw", GH_FRAMING_RAW}, {"line", GH_FRAMING_LINE},
                {"length", GH_FRAMING_LENGTH});
        break;
    case LK_LINE_ENDING:
        CHOOSE(l->line_ending, {"lf", GH_LINE_ENDING_LF}, {"crlf", GH_LINE_ENDING_CRLF});
        break;
    case LK_LINE_CHARSET:
        CHOOSE(l->line_charset, {"any", GH_LINE_CHARS_ANY},
                {"printable-ascii", GH_LINE_CHARS_PRINTABLE}, {"utf8", GH_LINE_CHARS_UTF8});
        break;
    case LK_MAX_LINE:
        if (get_size(st, name, value, 2, 1u << 20, &u) == 0)
            l->max_line = (uint32_t)u;
        break;
    case LK_LENGTH_PREFIX:
        CHOOSE(l->length_prefix, {"1", 1}, {"2", 2}, {"4", 4});
        break;
    case LK_LENGTH_ENDIAN:
        CHOOSE(l->length_little_endian, {"big", false}, {"little", true});
        break;
    case LK_LENGTH_INCLUDES_PREFIX:
        CHOOSE(l->length_includes_prefix, {"on", true}, {"yes", true}, {"off", false},
                {"no", false});
        break;
    case LK_MAX_FRAME:
        (void)get_size(st, name, value, 1, UINT32_MAX, &l->max_frame);
        break;
    case LK_MAX_BYTES:
        (void)get_size(st, name, value, 0, UINT64_MAX, &l->max_bytes);
        break;
    case LK_RATE_LIMIT: /* bytes per second */
        (void)get_size(st, name, value, 0, UINT64_MAX, &l->rate_limit);
        break;
    case LK_WEBSOCKET:
        CHOOSE(l->websocket, {"on", true}, {"off", false});
        break;
    case LK_WS_ORIGINS: {
        size_t n = 1;
        set_list(st, name, value, is_identity, "is empty or holds a control character",
                 l->ws_origins, sizeof l->ws_origins);
        for (const char *p = l->ws_origins; *p; p++)
            n += *p == ',';
        if (n > GH_WS_ORIGINS_LIMIT) {
            parse_error(st, name, "more than %d origins", GH_WS_ORIGINS_LIMIT);
            l->ws_origins[0] = '\0';
        }
        break;
    }
    case LK_WS_MAX_FRAME: /* at least a control frame's 125 bytes */
        (void)get_size(st, name, value, 125, UINT64_MAX, &l->ws_max_frame);
        break;
    case LK_WS_MAX_MESSAGE:
        (void)get_size(st, name, value, 125, UINT64_MAX, &l->ws_max_message);
        break;
    case LK_MAX_RESPONSE_HEADER_BYTES: /* its upper bound is the buffer: checked once all keys are in */
        set_size_field(st, name, value, 256, 1u << 30, &l->max_response_header_bytes);
        break;
    case LK_MAX_RESPONSE_HEADERS:
        if (set_uint(st, name, value, 1, GH_HTTP1_MAX_HEADERS, &u) == 0)
            l->max_response_headers = (size_t)u;
        break;
    case LK_BACKEND_REUSE:
        CHOOSE(l->backend_reuse, {"safe", GH_REUSE_SAFE}, {"always", GH_REUSE_ALWAYS});
        break;
    case LK_MAX_HELD_REQUEST: /* 0: never hold, every body streams */
        (void)get_size(st, name, value, 0, 1u << 20, &l->max_held_request);
        break;
    case LK_CHUNK_EXTENSIONS:
        CHOOSE(l->chunk_extensions, {"drop", GH_CHUNK_EXT_DROP}, {"forward", GH_CHUNK_EXT_FORWARD});
        break;
    case LK_ALLOW_TRAILERS:
        set_list(st, name, value, is_field_name, "is not a field name (RFC 9110 token)",
                 l->allow_trailers, sizeof l->allow_trailers);
        break;
    case LK_COUNT:
        break;
    }
}

static void set_cert_key(struct parse_state *st, int key, const char *name, const char *value)
{
    struct gh_cert_config *c = st->cert;
    switch ((enum cert_key)key) {
    case CK_CERT:
        if (set_path(st, name, value, c->cert) == 0)
            c->cert_line = st->line;
        break;
    case CK_KEY:
        if (set_path(st, name, value, c->key) == 0)
            c->key_line = st->line;
        break;
    case CK_OCSP:
        if (set_path(st, name, value, c->ocsp) == 0)
            c->ocsp_line = st->line;
        break;
    case CK_NAMES:
        set_list(st, name, value, is_dns_pattern, "is not a DNS name (or *.name)",
                 c->names, sizeof c->names);
        c->names_line = st->line;
        break;
    case CK_COUNT:
        break;
    }
}

static void set_global_key(struct parse_state *st, int key, const char *name, const char *value)
{
    struct gh_global_config *g = &st->cfg->global;
    char why[GH_ERROR_TEXT_MAX];
    uint64_t u;

    switch ((enum global_key)key) {
    case GK_WORKERS:
        if (set_uint(st, name, value, 1, 64, &u) == 0) {
            g->workers = (int)u;
            g->workers_line = st->line;
        }
        break;
    case GK_SHUTDOWN_GRACE:
        (void)set_duration(st, name, value, -1, 3600, &g->shutdown_grace);
        break;
    case GK_LOG_LEVEL:
        CHOOSE(g->log_level, {"debug", GH_LOG_DEBUG}, {"info", GH_LOG_INFO}, {"warn", GH_LOG_WARN},
                {"error", GH_LOG_ERROR});
        break;
    case GK_AUDIT_FILE:
        if (strcmp(value, "-") == 0)
            snprintf(g->audit_file, sizeof g->audit_file, "-");
        else if (set_path(st, name, value, g->audit_file) < 0)
            break;
        g->audit_file_line = st->line;
        break;
    case GK_AUDIT_KEY_FILE:
        if (set_path(st, name, value, g->audit_key_file) == 0)
            g->audit_key_file_line = st->line;
        break;
    case GK_AUDIT_FSYNC:
        CHOOSE(g->audit_fsync, {"never", GH_AUDIT_FSYNC_NEVER},
                {"interval", GH_AUDIT_FSYNC_INTERVAL}, {"always", GH_AUDIT_FSYNC_ALWAYS});
        break;
    case GK_AUDIT_FSYNC_INTERVAL:
        (void)set_duration(st, name, value, 0, 3600, &g->audit_fsync_interval);
        break;
    case GK_AUDIT_FLUSH_INTERVAL:
        (void)set_duration(st, name, value, 0, 60, &g->audit_flush_interval);
        break;
    case GK_AUDIT_BUFFER_SIZE:
        if (gh_parse_size(value, &u, why) < 0)
            parse_error(st, name, "%s", why);
        else if (u < (64u << 10) || u > (256u << 20))
            parse_error(st, name, "'%s' is out of range (64k .. 256m)", value);
        else
            g->audit_buffer_size = (uint32_t)u;
        break;
    case GK_AUDIT_MAX_FIELD:
        if (set_uint(st, name, value, 16, GH_AUDIT_MAX_FIELD_LIMIT, &u) == 0)
            g->audit_max_field = (uint32_t)u;
        break;
    case GK_TICKET_KEY_FILE:
        if (set_path(st, name, value, g->ticket_key_file) == 0)
            g->ticket_key_file_line = st->line;
        break;
    case GK_TICKET_ROTATION:
        /* tickets stay valid for three periods: keep them short if needed,
         * never longer than TLS 1.3 allows a ticket to live */
        (void)set_duration(st, name, value, 0.999, 7 * 86400, &g->ticket_rotation);
        break;
    case GK_COUNT:
        break;
    }
}

static int find_key(const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* inih's callback: one key = value, already trimmed. The section bookkeeping
 * was done by the reader, which saw the header line. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    int key;
    (void)section;

    if (strcmp(value, LONG_VALUE_MARK) == 0)
        value = st->long_value;

    switch (st->section) {
    case SECTION_NONE:
        parse_error(st, name, "key outside any section");
        return 1;
    case SECTION_INVALID:
        return 1; /* the header was reported; do not pile errors on its keys */
    case SECTION_GLOBAL:
        key = find_key(global_key_names, GK_COUNT, name);
        if (key < 0) {
            parse_error(st, name, "unknown key in [global]");
            return 1;
        }
        if (st->seen_keys & (1u << key)) {
            parse_error(st, name, "duplicate key");
            return 1;
        }
        st->seen_keys |= 1u << key;
        set_global_key(st, key, name, value);
        return 1;
    case SECTION_CERT:
        key = find_key(cert_key_names, CK_COUNT, name);
        if (key < 0) {
            parse_error(st, name, "unknown key in [cert:%s]", st->cert->name);
            return 1;
        }
        if (st->seen_keys & (1u << key)) {
            parse_error(st, name, "duplicate key");
            return 1;
        }
        st->seen_keys |= 1u << key;
        set_cert_key(st, key, name, value);
        return 1;
    case SECTION_LISTENER: {
        size_t idx = (size_t)(st->listener - st->cfg->listeners);
        key = find_key(listener_key_names, LK_COUNT, name);
        if (key < 0) {
            parse_error(st, name, "unknown key in [listener:%s]", st->listener->name);
            return 1;
        }
        if (st->listener_seen[idx] & LK_BIT(key)) {
            parse_error(st, name, "duplicate key");
            return 1;
        }
        st->listener_seen[idx] |= LK_BIT(key);
        st->listener_key_line[idx][key] = st->line;
        set_listener_key(st, key, name, value);
        return 1;
    }
    }
    return 1;
}

/* ---- the line reader ------------------------------------------------- */

/* NAME of a [listener:NAME] or [cert:NAME] header: well formed, not taken
 * by one of the count sections before it (names is the first one's name,
 * stride the size of a section), and not one too many. */
static bool section_name_ok(struct parse_state *st, const char *label, const char *kind,
                            const char *name, size_t len, const char *names, size_t stride,
                            size_t count, size_t max)
{
    if (!is_section_name(name, len)) {
        parse_error(st, label, "%s name must be 1..%d characters of A-Z a-z 0-9 _ . -", kind,
                    GH_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const char *other = names + i * stride;
        if (strlen(other) == len && memcmp(other, name, len) == 0) {
            parse_error(st, label, "duplicate section");
            return false;
        }
    }
    if (count == max) {
        parse_error(st, label, "more than %zu %s sections", max, kind);
        return false;
    }
    return true;
}

static void begin_section(struct parse_state *st, const char *name, size_t len)
{
    char label[sizeof st->errs->items[0].key];
    size_t shown = len > sizeof label - 3 ? sizeof label - 3 : len;
    snprintf(label, sizeof label, "[%.*s]", (int)shown, name);
    st->section = SECTION_INVALID;
    st->listener = NULL;
    st->cert = NULL;

    if (len == 6 && memcmp(name, "global", 6) == 0) {
        if (st->global_seen_section) {
            parse_error(st, label, "duplicate section");
            return;
        }
        st->global_seen_section = true;
        st->section = SECTION_GLOBAL;
        st->seen_keys = 0;
        return;
    }
    if (len > 9 && memcmp(name, "listener:", 9) == 0) {
        const char *lname = name + 9;
        size_t llen = len - 9;
        if (!section_name_ok(st, label, "listener", lname, llen, st->cfg->listeners[0].name,
                             sizeof st->cfg->listeners[0], st->cfg->n_listeners, GH_MAX_LISTENERS))
            return;
        struct gh_listener_config *l = &st->cfg->listeners[st->cfg->n_listeners];
        listener_defaults(l);
        memcpy(l->name, lname, llen);
        l->name[llen] = '\0';
        l->line = st->line;
        st->listener = l;
        st->listener_seen[st->cfg->n_listeners] = 0;
        st->cfg->n_listeners++;
        st->section = SECTION_LISTENER;
        return;
    }
    if (len > 5 && memcmp(name, "cert:", 5) == 0) {
        const char *cname = name + 5;
        size_t clen = len - 5;
        if (!section_name_ok(st, label, "[cert:NAME]", cname, clen, st->cfg->certs[0].name,
                             sizeof st->cfg->certs[0], st->cfg->n_certs, GH_MAX_CERTS))
            return;
        struct gh_cert_config *c = &st->cfg->certs[st->cfg->n_certs++];
        memset(c, 0, sizeof *c);
        memcpy(c->name, cname, clen);
        c->name[clen] = '\0';
        c->line = st->line;
        st->cert = c;
        st->seen_keys = 0;
        st->section = SECTION_CERT;
        return;
    }
    parse_error(st, label, "unknown section (expected [global], [listener:NAME] or [cert:NAME])");
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Examines one raw line (without its newline) and writes what inih should
 * see into out (size num). Errors found here are recorded; the line is then
 * given to inih as a blank line so inih neither reports it again nor acts
 * on it. */
static void screen_line(struct parse_state *st, const char *raw, size_t raw_len, char *out,
                        int num)
{
    const char *s = raw, *end = raw + raw_len;
    bool leading_space;

    out[0] = '\0';
    if (st->line == 1 && raw_len >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* UTF-8 BOM */
    if (end > s && end[-1] == '\r')
        end--;
    for (const char *p = s; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            parse_error(st, "", "control character 0x%02x in line", c);
            return;
        }
    }
    if ((size_t)(end - s) > LINE_MAX_BYTES) {
        parse_error(st, "", "line longer than %d bytes", LINE_MAX_BYTES);
        return;
    }
    leading_space = s < end && is_space(*s);
    while (s < end && is_space(*s))
        s++;
    while (end > s && is_space(end[-1]))
        end--;
    if (s == end) {
        st->prev_was_key = false;
        return;
    }
    if (*s == ';' || *s == '#') {
        st->prev_was_key = false;
        return;
    }
    if (leading_space && st->prev_was_key) {
        parse_error(st, "", "continuation lines are not supported");
        return;
    }
    if (*s == '[') {
        st->prev_was_key = false;
        if (end[-1] != ']' || end - s < 2) {
            parse_error(st, "", "syntax error: a section header is [NAME] alone on its line");
            st->section = SECTION_INVALID;
            return;
        }
        begin_section(st, s + 1, (size_t)(end - s - 2));
        snprintf(out, (size_t)num, "[section]");
        return;
    }

    /* key = value */
    const char *eq = memchr(s, '=', (size_t)(end - s));
    const char *colon = memchr(s, ':', (size_t)(end - s));
    if (!eq || (colon && colon < eq)) {
        parse_error(st, "", "syntax error: expected key = value");
        return;
    }
    const char *name_end = eq;
    while (name_end > s && is_space(name_end[-1]))
        name_end--;
    if (name_end == s) {
        parse_error(st, "", "syntax error: missing key before '='");
        return;
    }
    for (const char *p = s; p < name_end; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            char key[48];
            snprintf(key, sizeof key, "%.*s", (int)(name_end - s > 40 ? 40 : name_end - s), s);
            parse_error(st, key, "syntax error: keys are lowercase letters, digits and _");
            return;
        }
    }
    if (name_end - s > KEY_MAX_BYTES) {
        /* No key is this long; say so here, since inih could not take the
         * line even in its short form. */
        char key[sizeof st->errs->items[0].key];
        snprintf(key, sizeof key, "%.*s", (int)sizeof key - 1, s);
        parse_error(st, key, "unknown key");
        return;
    }
    st->prev_was_key = true;
    if (end - s < num - 1) {
        memcpy(out, s, (size_t)(end - s));
        out[end - s] = '\0';
        return;
    }
    /* Too long for inih: pass "key=<mark>" and keep the value here, with
     * inih's own treatment of the value (trim, inline " ;" comments). */
    const char *v = eq + 1;
    while (v < end && is_space(*v))
        v++;
    size_t vlen = (size_t)(end - v);
    for (const char *p = v; p < end; p++) {
        if (*p == ';' && p > v && is_space(p[-1])) {
            vlen = (size_t)(p - v);
            break;
        }
    }
    while (vlen > 0 && is_space(v[vlen - 1]))
        vlen--;
    memcpy(st->long_value, v, vlen);
    st->long_value[vlen] = '\0';
    snprintf(out, (size_t)num, "%.*s=%s", (int)(name_end - s), s, LONG_VALUE_MARK);
}

static char *read_line(char *str, int num, void *stream)
{
    struct parse_state *st = stream;
    if (st->pos >= st->len)
        return NULL;
    const char *start = st->text + st->pos;
    const char *nl = memchr(start, '\n', st->len - st->pos);
    size_t raw_len = nl ? (size_t)(nl - start) : st->len - st->pos;
    st->pos += raw_len + (nl ? 1 : 0);
    st->line++;
    if (memchr(start, '\0', raw_len)) {
        parse_error(st, "", "NUL byte in line");
        str[0] = '\0';
    } else {
        screen_line(st, start, raw_len, str, num);
    }
    return str;
}

/* ---- whole-file checks ----------------------------------------------- */

static bool addresses_conflict(const struct gh_sockaddr *a, const struct gh_sockaddr *b)
{
    if (a->ss.ss_family != b->ss.ss_family)
        return false;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
        return x->sin_port == y->sin_port &&
               (x->sin_addr.s_addr == y->sin_addr.s_addr || x->sin_addr.s_addr == INADDR_ANY ||
                y->sin_addr.s_addr == INADDR_ANY);
    }
    const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
    return x->sin6_port == y->sin6_port &&
           (memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 ||
            IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr));
}

/* certs = NAME, ... -> indexes into cfg->certs */
static void resolve_cert_refs(struct parse_state *st, size_t i)
{
    struct gh_listener_config *l = &st->cfg->listeners[i];
    const char *p = st->cert_refs[i];
    if (!*p)
        return;
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t found = st->cfg->n_certs;
        for (size_t c = 0; c < st->cfg->n_certs; c++)
            if (strlen(st->cfg->certs[c].name) == len && memcmp(st->cfg->certs[c].name, p, len) == 0)
                found = c;
        if (found == st->cfg->n_certs)
            gh_config_error_add(st->errs, l->certs_line, "certs", "no [cert:%.*s] section",
                                (int)len, p);
        else if (l->n_certs + 1 >= GH_LISTENER_CERTS_MAX)
            gh_config_error_add(st->errs, l->certs_line, "certs",
                                "more than %d certificates for one listener",
                                GH_LISTENER_CERTS_MAX - 1);
        else
            l->certs[l->n_certs++] = (uint8_t)found;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
}

static void check_listener_tls(struct parse_state *st, size_t i)
{
    struct gh_listener_config *l = &st->cfg->listeners[i];
    listener_key_set seen = st->listener_seen[i];
    const int *line = st->listener_key_line[i];
    static const enum listener_key needs_ca[] = {LK_CRL, LK_CLIENT_VERIFY, LK_CLIENT_ALLOW_CN,
                                                 LK_CLIENT_ALLOW_DNS, LK_CLIENT_ALLOW_URI,
                                                 LK_CLIENT_ALLOW_SHA256};

    /* set and valid (an invalid value was reported on its own) */
    const bool set[] = {l->crl[0] != '\0', l->client_verify != GH_VERIFY_OFF,
                        l->client_allow_cn[0] != '\0', l->client_allow_dns[0] != '\0',
                        l->client_allow_uri[0] != '\0', l->client_allow_sha256[0] != '\0'};

    resolve_cert_refs(st, i);
    if (!(seen & LK_BIT(LK_CLIENT_CA))) {
        for (size_t k = 0; k < sizeof needs_ca / sizeof needs_ca[0]; k++)
            if (set[k])
                gh_config_error_add(st->errs, line[needs_ca[k]], listener_key_names[needs_ca[k]],
                                    "needs client_ca (the CA that issues client certificates)");
    } else if (!(seen & LK_BIT(LK_CLIENT_VERIFY))) {
        l->client_verify = GH_VERIFY_REQUIRED;
    }
    if (l->accept_proxy != GH_PROXY_IN_OFF && l->n_proxy_trusted == 0)
        gh_config_error_add(st->errs, line[LK_ACCEPT_PROXY], "accept_proxy",
                            "needs proxy_trusted (who may send a PROXY header)");
    if (l->n_proxy_trusted > 0 && l->accept_proxy == GH_PROXY_IN_OFF)
        gh_config_error_add(st->errs, line[LK_PROXY_TRUSTED], "proxy_trusted",
                            "set, but accept_proxy is off");
    if (l->xff_append && l->n_trusted_proxies == 0)
        gh_config_error_add(st->errs, line[LK_FORWARDED_FOR], "forwarded_for",
                            "append needs trusted_proxies (whose forwarding chain to extend)");
    if (l->mode == GH_MODE_REDIRECT)
        return;
    if (!(seen & LK_BIT(LK_ALPN))) {
        if (l->mode == GH_MODE_HTTP)
            snprintf(l->alpn, sizeof l->alpn, "http/1.1");
    } else if (l->mode == GH_MODE_HTTP && l->alpn[0] && strcmp(l->alpn, "http/1.1") != 0) {
        gh_config_error_add(st->errs, line[LK_ALPN], "alpn",
                            "mode = http speaks http/1.1 only: offer http/1.1 or off");
    }
}

static void check_cert_sections(struct parse_state *st)
{
    for (size_t c = 0; c < st->cfg->n_certs; c++) {
        const struct gh_cert_config *cc = &st->cfg->certs[c];
        if (!cc->cert_line)
            gh_config_error_add(st->errs, cc->line, "cert",
                                "required key is missing in [cert:%s]", cc->name);
        if (!cc->key_line)
            gh_config_error_add(st->errs, cc->line, "key",
                                "required key is missing in [cert:%s]", cc->name);
    }
}

static void check_whole_file(struct parse_state *st)
{
    static const enum listener_key required[] = {LK_LISTEN, LK_BACKEND, LK_CERT, LK_KEY};
    struct gh_config *cfg = st->cfg;
    const struct gh_global_config *g = &cfg->global;

    /* Each writer keeps its own hash chain, so workers cannot share a file. */
    if (g->workers > 1 && g->audit_file[0] && strcmp(g->audit_file, "-") != 0 &&
        !strstr(g->audit_file, "%w"))
        gh_config_error_add(st->errs, g->audit_file_line, "audit_file",
                            "with workers = %d each worker needs its own file: put %%w "
                            "(the worker's index) in the name",
                            g->workers);
    if (g->audit_key_file[0] && !g->audit_file[0])
        gh_config_error_add(st->errs, g->audit_key_file_line, "audit_key_file",
                            "set, but audit_file is not: there is no audit log to key");

    check_cert_sections(st);
    if (cfg->n_listeners == 0) {
        gh_config_error_add(st->errs, st->line, "listener",
                            "no [listener:NAME] section: nothing to serve");
        return;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        struct gh_listener_config *l = &cfg->listeners[i];
        for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
            if (l->mode == GH_MODE_REDIRECT && required[r] != LK_LISTEN)
                continue;
            if (!(st->listener_seen[i] & LK_BIT(required[r])))
                gh_config_error_add(st->errs, l->line, listener_key_names[required[r]],
                                    "required key is missing in [listener:%s]", l->name);
        }
        if (l->mode == GH_MODE_REDIRECT) {
            for (int k = 0; k < LK_COUNT; k++)
                if ((TLS_AND_BACKEND_KEYS & LK_BIT(k)) && (st->listener_seen[i] & LK_BIT(k)))
                    gh_config_error_add(st->errs, st->listener_key_line[i][k],
                                        listener_key_names[k],
                                        "not used by a plaintext redirect listener");
        } else if (st->listener_seen[i] & LK_BIT(LK_REDIRECT_PORT)) {
            gh_config_error_add(st->errs, st->listener_key_line[i][LK_REDIRECT_PORT],
                                "redirect_port", "only with mode = redirect");
        }
        if (l->mode != GH_MODE_TCP) {
            for (int k = 0; k < LK_COUNT; k++)
                if ((TCP_ONLY_KEYS & LK_BIT(k)) && (st->listener_seen[i] & LK_BIT(k)))
                    gh_config_error_add(st->errs, st->listener_key_line[i][k],
                                        listener_key_names[k], "only with mode = tcp");
        } else if (l->framing == GH_FRAMING_LINE && l->max_line > l->buffer_size) {
            gh_config_error_add(st->errs, st->listener_key_line[i][LK_MAX_LINE] ? st->listener_key_line[i][LK_MAX_LINE] : l->line,
                                "max_line", "larger than buffer_size (%u): a line must fit in "
                                "the buffer that holds it until its end arrives", l->buffer_size);
        }
        if (l->mode == GH_MODE_TCP) {
            for (int k = 0; k < LK_COUNT; k++)
                if ((HTTP_ONLY_KEYS & LK_BIT(k)) && (st->listener_seen[i] & LK_BIT(k)))
                    gh_config_error_add(st->errs, st->listener_key_line[i][k],
                                        listener_key_names[k], "only with mode = http");
        } else {
            /* A whole head must fit in one buffer, with room for the
             * headers gatehouse adds; so must a held request (it waits in
             * the client's buffer and leaves, rebuilt, in one piece). */
            uint64_t reserve = 2048 + (st->listener_seen[i] & LK_BIT(LK_CLIENT_CA) ? 2048 : 0);
            uint64_t need = l->http_limits.max_header_bytes + reserve;
            bool held_set = st->listener_seen[i] & LK_BIT(LK_MAX_HELD_REQUEST);
            if (!(st->listener_seen[i] & LK_BIT(LK_BUFFER_SIZE))) {
                uint64_t held_need = (l->max_held_request > l->http_limits.max_trailer_bytes
                                          ? l->max_held_request
                                          : l->http_limits.max_trailer_bytes) + reserve;
                if (l->mode == GH_MODE_HTTP && held_need > need)
                    need = held_need;
                l->buffer_size = need > l->buffer_size ? (uint32_t)need : l->buffer_size;
            } else if (l->buffer_size < need) {
                gh_config_error_add(st->errs, st->listener_key_line[i][LK_BUFFER_SIZE],
                                    "buffer_size",
                                    "must be at least max_header_bytes + 2k, 4k with client_ca "
                                    "(%llu) in http mode",
                                    (unsigned long long)need);
            } else if (l->mode == GH_MODE_HTTP && l->max_held_request + reserve > l->buffer_size) {
                if (held_set)
                    gh_config_error_add(st->errs,
                                        st->listener_key_line[i][LK_MAX_HELD_REQUEST],
                                        "max_held_request",
                                        "larger than buffer_size - 2k, 4k with client_ca (%llu): "
                                        "a held request waits in one buffer",
                                        (unsigned long long)(l->buffer_size - reserve));
                else /* the default yields to an explicit buffer_size */
                    l->max_held_request = l->buffer_size - reserve;
            }
            /* gatehouse re-frames chunked bodies line by line: a trailer
             * line waits whole in the client's buffer */
            if (l->mode == GH_MODE_HTTP && l->http_limits.max_trailer_bytes + reserve > l->buffer_size)
                gh_config_error_add(st->errs,
                                    st->listener_key_line[i][LK_MAX_TRAILER_BYTES]
                                        ? st->listener_key_line[i][LK_MAX_TRAILER_BYTES]
                                        : l->line,
                                    "max_trailer_bytes",
                                    "larger than buffer_size - 2k, 4k with client_ca (%u): a "
                                    "trailer line must fit in one buffer",
                                    l->buffer_size > reserve ? (unsigned)(l->buffer_size - reserve) : 0u);
            /* A response head goes to the client whole, with HSTS added:
             * it must fit the client buffer with that room to spare. */
            size_t resp_room = l->buffer_size - GH_RESPONSE_HEAD_SLACK -
                               (l->hsts[0] ? strlen(l->hsts) + GH_RESPONSE_HSTS_LINE : 0);
            if (!(st->listener_seen[i] & LK_BIT(LK_MAX_RESPONSE_HEADER_BYTES)))
                l->max_response_header_bytes = resp_room;
            else if (l->max_response_header_bytes > resp_room)
                gh_config_error_add(st->errs,
                                    st->listener_key_line[i][LK_MAX_RESPONSE_HEADER_BYTES],
                                    "max_response_header_bytes",
                                    "larger than buffer_size allows (%zu): a response head must "
                                    "fit the buffer that carries it to the client",
                                    resp_room);
        }
        check_listener_tls(st, i);
        if (l->listen.len == 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (cfg->listeners[j].listen.len && addresses_conflict(&l->listen,
                                                                   &cfg->listeners[j].listen))
                gh_config_error_add(st->errs, st->listener_key_line[i][LK_LISTEN], "listen",
                                    "%s overlaps the listen address of [listener:%s]",
                                    l->listen.text, cfg->listeners[j].name);
        }
    }
}

int gh_config_load_buffer(const char *name, const char *text, size_t len,
                          struct gh_config *out, struct gh_config_errors *errs)
{
    struct parse_state *st;
    int rc;

    memset(errs, 0, sizeof *errs);
    snprintf(errs->file, sizeof errs->file, "%s", name);
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", name);
    global_defaults(&out->global);

    st = calloc(1, sizeof *st);
    if (!st) {
        gh_config_error_add(errs, 0, "", "out of memory");
        return -1;
    }
    st->cfg = out;
    st->errs = errs;
    st->text = text;
    st->len = len;

    rc = ini_parse_stream(read_line, st, on_key, st);
    if (rc < 0) {
        gh_config_error_add(errs, 0, "", "inih could not parse (out of memory)");
    } else if (rc > 0 && errs->count == 0) {
        /* inih saw an error the screening did not; keep it, never drop it. */
        gh_config_error_add(errs, rc, "", "syntax error");
    }
    check_whole_file(st);
    free(st);
    return errs->count ? -1 : 0;
}

int gh_config_load(const char *path, struct gh_config *out, struct gh_config_errors *errs)
{
    FILE *f;
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    memset(errs, 0, sizeof *errs);
    snprintf(errs->file, sizeof errs->file, "%s", path);
    f = fopen(path, "rb");
    if (!f) {
        gh_config_error_add(errs, 0, "", "cannot open: %s", strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *n;
            if (ncap > (16u << 20)) {
                gh_config_error_add(errs, 0, "", "file larger than 16 MiB");
                goto out;
            }
            n = realloc(text, ncap);
            if (!n) {
                gh_config_error_add(errs, 0, "", "out of memory");
                goto out;
            }
            text = n;
            cap = ncap;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                gh_config_error_add(errs, 0, "", "read error: %s", strerror(errno));
                goto out;
            }
            break;
        }
    }
    rc = gh_config_load_buffer(path, text, len, out, errs);
out:
    free(text);
    fclose(f);
    return rc;
}
