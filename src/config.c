/* config.c - loads an ini file into struct gh_config.
 *
 * Every key is one row of key_table (below the value kinds): its section,
 * the listener modes it is valid in, its value kind (a setter, as nginx's
 * ngx_command_t slots), the field it fills (offsetof), its range, its
 * default as it would be written, and where its line is kept. The loader
 * around the table is generic: lookup, duplicates, defaults, required keys,
 * keys in the wrong mode. Rules between keys (check_listener and below)
 * name the keys they relate.
 *
 * inih splits lines into section, key and value; this file decides what they
 * mean. inih reports no line numbers (Debian builds it without
 * INI_HANDLER_LINENO), so it reads through read_line, which counts the
 * lines it hands over one at a time (see "the line reader"). */
#include "gatehouse/config.h"

#include "gatehouse/span.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 1000     /* longest line accepted in a config file */
#define KEY_MAX_BYTES 64       /* longer than any key gatehouse knows */

#define KEYS_MAX 128            /* rows in key_table (checked below) */

/* What a line is, as far as read_line and on_key know. */
enum line_kind {
    LINE_NOTHING,      /* blank, a comment, a header, or refused and reported */
    LINE_KEY_EXPECTED, /* inih is to call on_key for it */
    LINE_KEY,          /* it did, with a well-formed key */
};

/* The sections a key row can belong to are the public ones; the reader
 * also knows "before any header" and "after a refused header". */
enum section_kind {
    SECTION_GLOBAL = GH_CONFIG_GLOBAL,
    SECTION_LISTENER = GH_CONFIG_LISTENER,
    SECTION_CERT = GH_CONFIG_CERT,
    SECTION_NONE,
    SECTION_INVALID,
};

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
    void *conf;                      /* its struct: gh_global_config, _listener_ or _cert_ */
    char where[GH_NAME_MAX + 16];    /* its header as errors name it: "[listener:NAME]" */
    /* How each section instance saw its keys: the line that set one is
     * kept in the section's key_lines (0: absent), and here whether its
     * value was refused. A refused key was reported once; the cross-key
     * checks treat it as absent so it causes no second error. */
    struct gh_key_lines *lines;      /* the current section's */
    bool *refused;                   /* the current section's row of the arrays below */
    bool global_refused[KEYS_MAX];
    bool listener_refused[GH_MAX_LISTENERS][KEYS_MAX];
    bool cert_refused[GH_MAX_CERTS][KEYS_MAX];
    char cert_refs[GH_MAX_LISTENERS][GH_LIST_TEXT_MAX]; /* certs = ... until resolved */
    bool global_seen_section;
    /* the current line, as read_line and on_key saw it */
    enum line_kind line_kind, prev_line_kind;
    bool line_indented;
    const char *key_line_text;       /* in text, without BOM and CR */
    size_t key_line_len;
};

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


/* ---- the key table's shape -------------------------------------------- */

/* One word out of a fixed set, for set_choice. */
struct choice {
    const char *word;
    int value;
};

/* How a number is stored in its destination field (found by _Generic from
 * the field's type, so a row cannot store an int into a double). */
enum store { STORE_UNSIGNED, STORE_INT, STORE_BOOL, STORE_DOUBLE };

struct key_row;
/* A value kind: parses VALUE, records its errors (FILE:LINE: key) and
 * stores it in CONF, the section's struct (gh_global_config,
 * gh_listener_config or gh_cert_config). Returns 0, or -1 when refused. */
typedef int key_setter(struct parse_state *st, const struct key_row *k, const char *value,
                       void *conf);

#define MODE_BIT(m) (1u << (m))
#define MODES_ALL (MODE_BIT(GH_MODE_TCP) | MODE_BIT(GH_MODE_HTTP) | MODE_BIT(GH_MODE_REDIRECT))
#define MODES_TLS (MODE_BIT(GH_MODE_TCP) | MODE_BIT(GH_MODE_HTTP)) /* TLS and a backend */
#define MODES_HTTP MODE_BIT(GH_MODE_HTTP)                           /* proxied HTTP only */
#define MODES_HTTP_HEAD (MODE_BIT(GH_MODE_HTTP) | MODE_BIT(GH_MODE_REDIRECT)) /* reads a head */
#define MODES_TCP MODE_BIT(GH_MODE_TCP)
#define MODES_REDIRECT MODE_BIT(GH_MODE_REDIRECT)

/* One configuration key: everything the loader knows about it. */
struct key_row {
    const char *name;
    enum section_kind section;
    unsigned modes;          /* listener keys: MODE_BIT()s of the modes it is valid in */
    bool required;           /* in every mode it is valid in */
    enum store store;        /* numbers: how to store into the destination */
    key_setter *set;         /* the value kind */
    size_t offset;           /* destination field in the section's struct */
    size_t size;             /* its size */
    uint64_t min, max;       /* sizes and whole numbers: the range */
    double above, most;      /* durations: more than above, at most most (seconds) */
    const char *range;       /* the range as an error states it, when not min .. max */
    const struct choice *choices;                 /* set_choice: {NULL, 0}-terminated */
    bool (*accept)(const char *item, size_t len); /* lists: one item */
    const char *rule;        /* lists: what an item refused by accept is not */
    const char *def;         /* default, as it would be written; NULL: zero / empty */
    /* its line: key_lines.line[row index] of the section's struct */
};

#define FIELD_OF(T, f) (((T *)0)->f)
#define STORE_OF(x) _Generic((x), bool: STORE_BOOL, int: STORE_INT, double: STORE_DOUBLE, \
                             default: STORE_UNSIGNED)
#define DEST(sec, T, f) .section = (sec), .offset = offsetof(T, f), \
                        .size = sizeof FIELD_OF(T, f), .store = STORE_OF(FIELD_OF(T, f))
#define GLOBAL(f) DEST(SECTION_GLOBAL, struct gh_global_config, f)
#define LISTENER(f) DEST(SECTION_LISTENER, struct gh_listener_config, f)
#define CERT(f) DEST(SECTION_CERT, struct gh_cert_config, f)

/* value kinds with their parameters */
#define DURATION(above_, most_) .set = set_duration, .above = (above_), .most = (most_)
#define SIZE(min_, max_) .set = set_size, .min = (min_), .max = (max_)
#define WHOLE(min_, max_) .set = set_whole, .min = (min_), .max = (max_)
#define CHOICE(...) .set = set_choice, .choices = (const struct choice[]){__VA_ARGS__, {NULL, 0}}
#define ON_OFF CHOICE({"on", true}, {"off", false})
#define LIST(accept_, rule_) .set = set_list, .accept = (accept_), .rule = (rule_)
#define SUITES(accept_, rule_) .set = set_suites, .accept = (accept_), .rule = (rule_)
#define PATH .set = set_path
#define ADDRESS .set = set_address
#define CUSTOM(fn) .set = (fn)

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static void *field_of(void *conf, const struct key_row *k)
{
    return (char *)conf + k->offset;
}

static void store_number(void *conf, const struct key_row *k, uint64_t u, double d)
{
    void *f = field_of(conf, k);
    switch (k->store) {
    case STORE_BOOL: {
        bool b = u != 0;
        memcpy(f, &b, sizeof b);
        break;
    }
    case STORE_INT: {
        int i = (int)u;
        memcpy(f, &i, sizeof i);
        break;
    }
    case STORE_DOUBLE:
        memcpy(f, &d, sizeof d);
        break;
    case STORE_UNSIGNED:
        if (k->size == sizeof(uint32_t)) { /* uint32_t, and enums */
            uint32_t v = (uint32_t)u;
            memcpy(f, &v, sizeof v);
        } else { /* uint64_t, size_t (a unit test loads every row) */
            memcpy(f, &u, sizeof u < k->size ? sizeof u : k->size);
        }
        break;
    }
}

/* ---- value kinds ------------------------------------------------------ */

static int set_duration(struct parse_state *st, const struct key_row *k, const char *value,
                        void *conf)
{
    char why[GH_ERROR_TEXT_MAX];
    double v;
    if (gh_parse_duration(value, &v, why) < 0) {
        parse_error(st, k->name, "%s", why);
        return -1;
    }
    if (v <= k->above || v > k->most) {
        parse_error(st, k->name, "'%s' is out of range (%s .. %gs)", value,
                    k->above < 0 ? "0" : "more than 0", k->most);
        return -1;
    }
    store_number(conf, k, 0, v);
    return 0;
}

/* Sizes and whole numbers: V (parsed from VALUE) stored when in k->min .. k->max. */
static int store_in_range(struct parse_state *st, const struct key_row *k, const char *value,
                          uint64_t v, void *conf)
{
    if (v >= k->min && v <= k->max) {
        store_number(conf, k, v, 0);
        return 0;
    }
    if (k->range)
        parse_error(st, k->name, "'%s' is out of range (%s)", value, k->range);
    else
        parse_error(st, k->name, "'%s' is out of range (%llu .. %llu)", value,
                    (unsigned long long)k->min, (unsigned long long)k->max);
    return -1;
}

static int set_whole(struct parse_state *st, const struct key_row *k, const char *value,
                     void *conf)
{
    uint64_t v;
    if (parse_digits(value, strlen(value), UINT64_MAX, &v) < 0) {
        parse_error(st, k->name, "'%s' is not a whole number", value);
        return -1;
    }
    return store_in_range(st, k, value, v, conf);
}

static int set_size(struct parse_state *st, const struct key_row *k, const char *value,
                    void *conf)
{
    char why[GH_ERROR_TEXT_MAX];
    uint64_t v;
    if (gh_parse_size(value, &v, why) < 0) {
        parse_error(st, k->name, "%s", why);
        return -1;
    }
    return store_in_range(st, k, value, v, conf);
}

/* One word out of k->choices, or an error that lists the words. */
static int set_choice(struct parse_state *st, const struct key_row *k, const char *value,
                      void *conf)
{
    const struct choice *c = k->choices;
    char words[160] = "";
    size_t n = 0;
    for (size_t i = 0; c[i].word; i++) {
        if (strcmp(value, c[i].word) == 0) {
            store_number(conf, k, (uint64_t)c[i].value, 0);
            return 0;
        }
        n += (size_t)snprintf(words + n, n < sizeof words ? sizeof words - n : 0, "%s%s",
                              i == 0 ? "" : c[i + 1].word ? ", " : " or ", c[i].word);
    }
    parse_error(st, k->name, "'%s' is not %s", value, words);
    return -1;
}

static int set_address(struct parse_state *st, const struct key_row *k, const char *value,
                       void *conf)
{
    char why[GH_ERROR_TEXT_MAX];
    if (gh_parse_sockaddr(value, field_of(conf, k), why) < 0) {
        parse_error(st, k->name, "%s", why);
        return -1;
    }
    return 0;
}

/* Relative paths are taken from the config file's directory, so a config
 * and its certificates can move together. */
static int set_path(struct parse_state *st, const struct key_row *k, const char *value,
                    void *conf)
{
    char *out = field_of(conf, k);
    const char *slash = strrchr(st->cfg->path, '/');
    int dir_len = slash ? (int)(slash - st->cfg->path) + 1 : 0;
    int n;

    if (value[0] == '\0') {
        parse_error(st, k->name, "empty path");
        return -1;
    }
    if (value[0] == '/')
        dir_len = 0;
    n = snprintf(out, k->size, "%.*s%s", dir_len, st->cfg->path, value);
    if (n < 0 || (size_t)n >= k->size) {
        parse_error(st, k->name, "path longer than %zu bytes", k->size - 1);
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* Every item of a SEP-separated list must satisfy acceptable(); reports
 * an empty list, empty items and refused items. Returns 0 or -1. */
static int check_items(struct parse_state *st, const char *key, const char *value, char sep,
                       bool (*acceptable)(const char *item, size_t len), const char *rule)
{
    /* ':' lists are kept as written */
    struct gh_list_walk w =
        gh_list_start(value, sep, sep == ',' ? GH_LIST_TRIM_SPACES : GH_LIST_KEEP_SPACES);
    const char *item;
    size_t len;
    int rc = 0;
    if (*value == '\0') {
        parse_error(st, key, "empty list");
        return -1;
    }
    while (gh_list_next(&w, &item, &len)) {
        if (len == 0) {
            parse_error(st, key, "empty entry in list");
            rc = -1;
        } else if (!acceptable(item, len)) {
            parse_error(st, key, "'%.*s' %s", (int)len, item, rule);
            rc = -1;
        }
    }
    return rc;
}

/* ciphers, ciphersuites: a ':'-separated list kept as written. */
static int set_suites(struct parse_state *st, const struct key_row *k, const char *value,
                      void *conf)
{
    if (strlen(value) >= k->size) {
        parse_error(st, k->name, "list longer than %zu bytes", k->size - 1);
        return -1;
    }
    if (check_items(st, k->name, value, ':', k->accept, k->rule) < 0)
        return -1;
    snprintf(field_of(conf, k), k->size, "%s", value);
    return 0;
}

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

/* 1..255 bytes, none of them a control character (nor DEL); with
 * no_space_or_8bit, printable ASCII without the space. */
static bool is_short_text(const char *s, size_t len, bool no_space_or_8bit)
{
    if (len == 0 || len > 255)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (no_space_or_8bit && (c == 0x20 || c > 0x7f)))
            return false;
    }
    return true;
}

/* an ALPN protocol name as configured: visible ASCII */
static bool is_alpn_name(const char *s, size_t len)
{
    return is_short_text(s, len, true);
}

/* a client certificate identity (CN, SAN): UTF-8 allowed, no controls */
static bool is_identity(const char *s, size_t len)
{
    return is_short_text(s, len, false);
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


/* Checks a list and stores it as "a,b,c" into out: the spaces around items
 * go, spaces inside an item (a CN "Billing Service") stay. */
static int store_list(struct parse_state *st, const char *key, const char *value,
                      bool (*acceptable)(const char *item, size_t len), const char *rule,
                      char *out, size_t out_size)
{
    struct gh_list_walk w = gh_list_start(value, ',', GH_LIST_TRIM_SPACES);
    const char *item;
    size_t len, o = 0;
    if (check_items(st, key, value, ',', acceptable, rule) < 0)
        return -1;
    while (gh_list_next(&w, &item, &len)) {
        if (o + len + 2 > out_size) {
            parse_error(st, key, "list longer than %zu bytes", out_size - 1);
            out[0] = '\0';
            return -1;
        }
        if (o)
            out[o++] = ',';
        memcpy(out + o, item, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

static int set_list(struct parse_state *st, const struct key_row *k, const char *value,
                    void *conf)
{
    return store_list(st, k->name, value, k->accept, k->rule, field_of(conf, k), k->size);
}

/* proxy_trusted, trusted_proxies: networks as address/prefix (or an
 * address alone), into nets (GH_TRUSTED_NETS_MAX entries). */
static int store_trusted(struct parse_state *st, const char *key, const char *value,
                         struct gh_cidr nets[GH_TRUSTED_NETS_MAX], size_t *n_nets)
{
    char net[INET6_ADDRSTRLEN + 8], why[GH_CIDR_WHY_MAX];
    struct gh_list_walk w = gh_list_start(value, ',', GH_LIST_TRIM_SPACES);
    const char *item;
    size_t len;
    int rc = 0;
    if (*value == '\0') {
        parse_error(st, key, "empty list");
        return -1;
    }
    *n_nets = 0;
    while (gh_list_next(&w, &item, &len)) {
        if (len == 0 || len >= sizeof net) {
            parse_error(st, key, len == 0 ? "empty entry in list" : "'%.*s' is too long",
                        (int)len, item);
            rc = -1;
        } else if (*n_nets == GH_TRUSTED_NETS_MAX) {
            parse_error(st, key, "more than %d networks", GH_TRUSTED_NETS_MAX);
            return -1;
        } else {
            memcpy(net, item, len);
            net[len] = '\0';
            if (gh_cidr_parse(net, &nets[*n_nets], why) < 0) {
                parse_error(st, key, "'%s': %s", net, why);
                rc = -1;
            } else {
                (*n_nets)++;
            }
        }
    }
    return rc;
}

static int set_proxy_trusted(struct parse_state *st, const struct key_row *k, const char *value,
                             void *conf)
{
    struct gh_listener_config *l = conf;
    return store_trusted(st, k->name, value, l->proxy_trusted, &l->n_proxy_trusted);
}

static int set_trusted_proxies(struct parse_state *st, const struct key_row *k,
                               const char *value, void *conf)
{
    struct gh_listener_config *l = conf;
    return store_trusted(st, k->name, value, l->trusted_proxies, &l->n_trusted_proxies);
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
static int set_fingerprints(struct parse_state *st, const struct key_row *k, const char *value,
                            void *conf)
{
    char *out = field_of(conf, k);
    size_t o = 0;
    if (check_items(st, k->name, value, ',', is_fingerprint,
                    "is not a SHA-256 fingerprint (64 hex digits, colons allowed)") < 0)
        return -1;
    for (const char *p = value; *p; p++) {
        char c = *p;
        if (c == ':' || is_space_char(c))
            continue;
        if (o + 1 >= k->size) {
            parse_error(st, k->name, "list longer than %zu bytes", k->size - 1);
            out[0] = '\0';
            return -1;
        }
        out[o++] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    }
    out[o] = '\0';
    return 0;
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

static int set_groups(struct parse_state *st, const struct key_row *k, const char *value,
                      void *conf)
{
    struct gh_listener_config *l = conf;
    struct gh_list_walk w = gh_list_start(value, ':', GH_LIST_KEEP_SPACES);
    const char *p;
    size_t len, n = 0;
    while (gh_list_next(&w, &p, &len)) {
        bool found = false;
        for (size_t i = 0; i < sizeof group_names / sizeof group_names[0]; i++) {
            if (strlen(group_names[i].name) == len && memcmp(group_names[i].name, p, len) == 0) {
                for (size_t j = 0; j < n; j++) {
                    if (l->groups[j] == group_names[i].group) {
                        parse_error(st, k->name, "'%.*s' is listed twice", (int)len, p);
                        return -1;
                    }
                }
                if (n == GH_GROUPS_MAX) {
                    parse_error(st, k->name, "more than %d groups", GH_GROUPS_MAX);
                    return -1;
                }
                l->groups[n++] = group_names[i].group;
                found = true;
                break;
            }
        }
        if (!found) {
            parse_error(st, k->name, "unknown group '%.*s' (X25519, P-256, P-384)", (int)len, p);
            return -1;
        }
    }
    l->n_groups = n;
    return 0;
}

static int set_log_rules(struct parse_state *st, const struct key_row *k, const char *value,
                         void *conf)
{
    struct gh_listener_config *l = conf;
    struct gh_list_walk w = gh_list_start(value, ',', GH_LIST_TRIM_SPACES);
    const char *item;
    size_t len;
    int rc = 0;
    l->log_rules = 0;
    while (gh_list_next(&w, &item, &len)) {
        if (len == 0)
            continue; /* "a,,b": nothing to log */
        enum gh_http1_rule r = gh_http1_rule_from_name(item, len);
        if (r == GH_RULE_NONE) {
            parse_error(st, k->name, "unknown rule '%.*s'", (int)len, item);
            rc = -1;
        } else if (gh_http1_rule_is_framing(r)) {
            parse_error(st, k->name, "'%.*s' protects message framing and is always enforced",
                        (int)len, item);
            rc = -1;
        } else {
            l->log_rules |= (gh_http1_rule_set)1 << r;
        }
    }
    return rc;
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

static int set_methods(struct parse_state *st, const struct key_row *k, const char *value,
                       void *conf)
{
    struct gh_listener_config *l = conf;
    struct gh_list_walk w = gh_list_start(value, ',', GH_LIST_TRIM_SPACES);
    const char *item;
    size_t len;
    l->method_policy = GH_METHODS_LISTED;
    l->n_methods = 0;
    while (gh_list_next(&w, &item, &len)) {
        if (len == 0)
            continue; /* counted below: no method at all is an error */
        /* a method is a token (RFC 9110 9.1), case-sensitive: WebDAV's
         * VERSION-CONTROL has a '-' */
        if (len > GH_METHOD_LEN_MAX || !is_field_name(item, len)) {
            parse_error(st, k->name, "'%.*s' is not a method (a token, at most %d characters)",
                        (int)len, item, GH_METHOD_LEN_MAX);
            return -1;
        }
        if (l->n_methods == GH_METHODS_MAX) {
            parse_error(st, k->name, "more than %d methods", GH_METHODS_MAX);
            return -1;
        }
        memcpy(l->allow_methods[l->n_methods], item, len);
        l->allow_methods[l->n_methods][len] = '\0';
        l->n_methods++;
    }
    if (l->n_methods == 0) {
        parse_error(st, k->name, "empty list");
        return -1;
    }
    return 0;
}

static int set_hsts(struct parse_state *st, const struct key_row *k, const char *value,
                    void *conf)
{
    if (strlen(value) >= k->size) {
        parse_error(st, k->name, "longer than %zu bytes", k->size - 1);
        return -1;
    }
    if (value[0] && strncmp(value, "max-age=", 8) != 0) {
        parse_error(st, k->name, "an HSTS value starts with max-age=");
        return -1;
    }
    snprintf(field_of(conf, k), k->size, "%s", value);
    return 0;
}

/* certs: names kept until every [cert:NAME] section is known (resolve_cert_refs) */
static int set_cert_refs(struct parse_state *st, const struct key_row *k, const char *value,
                         void *conf)
{
    size_t i = (size_t)((struct gh_listener_config *)conf - st->cfg->listeners);
    return store_list(st, k->name, value, is_section_name, "is not a [cert:NAME] name",
                      st->cert_refs[i], sizeof st->cert_refs[i]);
}

static int set_alpn(struct parse_state *st, const struct key_row *k, const char *value,
                    void *conf)
{
    char *alpn = field_of(conf, k);
    if (strcmp(value, "off") == 0) {
        alpn[0] = '\0';
        return 0;
    }
    if (strlen(value) >= k->size) {
        parse_error(st, k->name, "list longer than %zu bytes", k->size - 1);
        return -1;
    }
    return store_list(st, k->name, value, is_alpn_name,
                      "is not a protocol name (1..255 printable characters)", alpn, k->size);
}

static int set_ws_origins(struct parse_state *st, const struct key_row *k, const char *value,
                          void *conf)
{
    char *origins = field_of(conf, k);
    size_t n = 1;
    if (store_list(st, k->name, value, is_identity, "is empty or holds a control character",
                   origins, k->size) < 0)
        return -1;
    for (const char *p = origins; *p; p++)
        n += *p == ',';
    if (n > GH_WS_ORIGINS_LIMIT) {
        parse_error(st, k->name, "more than %d origins", GH_WS_ORIGINS_LIMIT);
        origins[0] = '\0';
        return -1;
    }
    return 0;
}

/* audit_file: a path, or "-" for stdout */
static int set_audit_file(struct parse_state *st, const struct key_row *k, const char *value,
                          void *conf)
{
    if (strcmp(value, "-") == 0) {
        snprintf(field_of(conf, k), k->size, "-");
        return 0;
    }
    return set_path(st, k, value, conf);
}

/* ---- the keys ------------------------------------------------------------
 *
 * One row per key: its section, the listener modes it is valid in, its
 * value kind (the setter) with the kind's range or words, the field it
 * fills, its default as it would be written. Its line is kept by its row
 * index in the section struct's key_lines, for errors found later (TLS
 * loading, cross-key checks, reload: gh_config_key_error). Adding a key is
 * one row here, one field in config.h, its use, and its paragraph in
 * config/gatehouse.ini (a unit test holds that file to this table). */

#define CIPHERS_DEFAULT                                                                      \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                            \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                            \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define CIPHERSUITES_DEFAULT                                                                 \
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256"
#define NOT_AN_IDENTITY "is empty or holds a control character"
#define NOT_A_DNS_NAME "is not a DNS name (or *.name)"

static const struct key_row key_table[] = {
    /* [global] */
    {"workers", GLOBAL(workers), WHOLE(1, 64), .def = "1"},
    {"shutdown_grace", GLOBAL(shutdown_grace), DURATION(-1, 3600), .def = "30s"},
    {"log_level", GLOBAL(log_level), .def = "info",
     CHOICE({"debug", GH_LOG_DEBUG}, {"info", GH_LOG_INFO}, {"warn", GH_LOG_WARN},
            {"error", GH_LOG_ERROR})},
    {"audit_file", GLOBAL(audit_file), CUSTOM(set_audit_file)},
    {"audit_key_file", GLOBAL(audit_key_file), PATH},
    {"audit_fsync", GLOBAL(audit_fsync), .def = "interval",
     CHOICE({"never", GH_AUDIT_FSYNC_NEVER}, {"interval", GH_AUDIT_FSYNC_INTERVAL},
            {"always", GH_AUDIT_FSYNC_ALWAYS})},
    {"audit_fsync_interval", GLOBAL(audit_fsync_interval), DURATION(0, 3600), .def = "1s"},
    {"audit_flush_interval", GLOBAL(audit_flush_interval), DURATION(0, 60), .def = "0.1"},
    {"audit_buffer_size", GLOBAL(audit_buffer_size), SIZE(64u << 10, 256u << 20),
     .range = "64k .. 256m", .def = "1m"},
    {"audit_max_field", GLOBAL(audit_max_field), WHOLE(16, GH_AUDIT_MAX_FIELD_LIMIT),
     .def = "256"},
    {"ticket_key_file", GLOBAL(ticket_key_file), PATH},
    /* tickets stay valid for three periods: keep them short if needed,
     * never longer than TLS 1.3 allows a ticket to live */
    {"ticket_rotation", GLOBAL(ticket_rotation), DURATION(0.999, 7 * 86400), .def = "12h"},
    {"pid_file", GLOBAL(pid_file), PATH},

    /* [listener:NAME] */
    {"listen", LISTENER(listen), .modes = MODES_ALL, .required = true, ADDRESS},
    {"backend", LISTENER(backend), .modes = MODES_TLS, .required = true, ADDRESS},
    {"mode", LISTENER(mode), .modes = MODES_ALL, .def = "tcp",
     CHOICE({"tcp", GH_MODE_TCP}, {"http", GH_MODE_HTTP}, {"redirect", GH_MODE_REDIRECT})},
    {"cert", LISTENER(cert), .modes = MODES_TLS, .required = true, PATH},
    {"key", LISTENER(key), .modes = MODES_TLS, .required = true, PATH},
    {"tls_min_version", LISTENER(tls_min_version), .modes = MODES_TLS, .def = "1.2",
     CHOICE({"1.2", 12}, {"1.3", 13})},
    {"ciphers", LISTENER(ciphers), .modes = MODES_TLS, .def = CIPHERS_DEFAULT,
     SUITES(is_pfs_aead_cipher, "is not an ECDHE (forward secret) AEAD suite")},
    {"ciphersuites", LISTENER(ciphersuites), .modes = MODES_TLS, .def = CIPHERSUITES_DEFAULT,
     SUITES(is_tls13_suite, "is not a TLS 1.3 suite name (TLS13-... or TLS_...)")},
    {"groups", LISTENER(groups), .modes = MODES_TLS, CUSTOM(set_groups), .def = "X25519:P-256:P-384"},
    {"handshake_timeout", LISTENER(handshake_timeout), .modes = MODES_TLS, DURATION(0, 3600), .def = "10s"},
    {"connect_timeout", LISTENER(connect_timeout), .modes = MODES_TLS, DURATION(0, 3600), .def = "5s"},
    {"idle_timeout", LISTENER(idle_timeout), .modes = MODES_ALL, DURATION(0, 86400), .def = "5m"},
    {"max_connections", LISTENER(max_connections), .modes = MODES_ALL, WHOLE(1, 1000000), .def = "10000"},
    {"buffer_size", LISTENER(buffer_size), .modes = MODES_ALL, SIZE(4096, 1u << 20), .range = "4k .. 1m",
     .def = "16k"},
    {"backlog", LISTENER(backlog), .modes = MODES_ALL, WHOLE(1, 65535), .def = "511"},
    {"validation", LISTENER(report_only), .modes = MODES_HTTP,
     CHOICE({"enforce", false}, {"report", true})},
    {"log_rules", LISTENER(log_rules), .modes = MODES_HTTP, CUSTOM(set_log_rules)},
    /* default: every method but CONNECT and TRACE (GH_METHODS_SAFE_DEFAULT) */
    {"allow_methods", LISTENER(allow_methods), .modes = MODES_HTTP_HEAD, CUSTOM(set_methods)},
    {"max_request_line", LISTENER(http_limits.max_request_line), .modes = MODES_HTTP_HEAD,
     SIZE(64, 65536), .def = "8k"},
    {"max_header_bytes", LISTENER(http_limits.max_header_bytes), .modes = MODES_HTTP_HEAD,
     SIZE(256, 256u << 10), .def = "16k"},
    {"max_headers", LISTENER(http_limits.max_headers), .modes = MODES_HTTP_HEAD,
     WHOLE(1, GH_HTTP1_MAX_HEADERS), .def = "100"},
    {"max_body", LISTENER(max_body), .modes = MODES_HTTP, SIZE(0, UINT64_MAX), .def = "1m"},
    {"max_chunk_ext", LISTENER(http_limits.max_chunk_ext), .modes = MODES_HTTP_HEAD, SIZE(0, 4096),
     .def = "256"},
    {"max_trailer_bytes", LISTENER(http_limits.max_trailer_bytes), .modes = MODES_HTTP_HEAD,
     SIZE(0, 64u << 10), .def = "4k"},
    {"header_timeout", LISTENER(header_timeout), .modes = MODES_HTTP_HEAD, DURATION(0, 3600), .def = "10s"},
    {"forwarded_for", LISTENER(xff_append), .modes = MODES_HTTP,
     CHOICE({"replace", false}, {"append", true})},
    {"hsts", LISTENER(hsts), .modes = MODES_HTTP, CUSTOM(set_hsts)},
    {"redirect_port", LISTENER(redirect_port), .modes = MODES_REDIRECT, WHOLE(1, 65535), .def = "443"},
    {"certs", LISTENER(certs), .modes = MODES_TLS, CUSTOM(set_cert_refs)},
    {"sni_unknown", LISTENER(sni_unknown), .modes = MODES_TLS, .def = "default",
     CHOICE({"default", GH_SNI_DEFAULT}, {"refuse", GH_SNI_REFUSE})},
    {"ocsp", LISTENER(ocsp), .modes = MODES_TLS, PATH},
    /* default: http/1.1 with mode = http, else none (check_listener_tls) */
    {"alpn", LISTENER(alpn), .modes = MODES_TLS, CUSTOM(set_alpn)},
    {"client_ca", LISTENER(client_ca), .modes = MODES_TLS, PATH},
    {"crl", LISTENER(crl), .modes = MODES_TLS, PATH},
    /* default: off, required once client_ca is set (check_listener_tls) */
    {"client_verify", LISTENER(client_verify), .modes = MODES_TLS,
     CHOICE({"off", GH_VERIFY_OFF}, {"optional", GH_VERIFY_OPTIONAL},
            {"required", GH_VERIFY_REQUIRED})},
    {"client_allow_cn", LISTENER(client_allow_cn), .modes = MODES_TLS, LIST(is_identity, NOT_AN_IDENTITY)},
    {"client_allow_dns", LISTENER(client_allow_dns), .modes = MODES_TLS, LIST(is_dns_pattern, NOT_A_DNS_NAME)},
    {"client_allow_uri", LISTENER(client_allow_uri), .modes = MODES_TLS,
     LIST(is_uri, "is not a URI (scheme:rest, e.g. spiffe://...)")},
    {"client_allow_sha256", LISTENER(client_allow_sha256), .modes = MODES_TLS, CUSTOM(set_fingerprints)},
    {"proxy_protocol", LISTENER(proxy_protocol), .modes = MODES_TLS,
     CHOICE({"off", GH_PROXY_OUT_OFF}, {"v1", GH_PROXY_OUT_V1}, {"v2", GH_PROXY_OUT_V2})},
    {"accept_proxy", LISTENER(accept_proxy), .modes = MODES_ALL,
     CHOICE({"off", GH_PROXY_IN_OFF}, {"v1", GH_PROXY_IN_V1}, {"v2", GH_PROXY_IN_V2},
            {"any", GH_PROXY_IN_ANY})},
    {"proxy_trusted", LISTENER(proxy_trusted), .modes = MODES_ALL, CUSTOM(set_proxy_trusted)},
    {"framing", LISTENER(framing), .modes = MODES_TCP,
     CHOICE({"raw", GH_FRAMING_RAW}, {"line", GH_FRAMING_LINE}, {"length", GH_FRAMING_LENGTH})},
    {"line_ending", LISTENER(line_ending), .modes = MODES_TCP,
     CHOICE({"lf", GH_LINE_ENDING_LF}, {"crlf", GH_LINE_ENDING_CRLF})},
    {"line_charset", LISTENER(line_charset), .modes = MODES_TCP,
     CHOICE({"any", GH_LINE_CHARS_ANY}, {"printable-ascii", GH_LINE_CHARS_PRINTABLE},
            {"utf8", GH_LINE_CHARS_UTF8})},
    {"max_line", LISTENER(max_line), .modes = MODES_TCP, SIZE(2, 1u << 20), .def = "8k"},
    {"length_prefix", LISTENER(length_prefix), .modes = MODES_TCP, .def = "4",
     CHOICE({"1", 1}, {"2", 2}, {"4", 4})},
    {"length_endian", LISTENER(length_little_endian), .modes = MODES_TCP,
     CHOICE({"big", false}, {"little", true})},
    {"length_includes_prefix", LISTENER(length_includes_prefix), .modes = MODES_TCP,
     CHOICE({"on", true}, {"yes", true}, {"off", false}, {"no", false})},
    {"max_frame", LISTENER(max_frame), .modes = MODES_TCP, SIZE(1, UINT32_MAX), .def = "64k"},
    {"max_bytes", LISTENER(max_bytes), .modes = MODES_TCP, SIZE(0, UINT64_MAX)},
    {"rate_limit", LISTENER(rate_limit), .modes = MODES_TCP, SIZE(0, UINT64_MAX)}, /* bytes per second */
    {"websocket", LISTENER(websocket), .modes = MODES_HTTP_HEAD, ON_OFF},
    {"ws_origins", LISTENER(ws_origins), .modes = MODES_HTTP_HEAD, CUSTOM(set_ws_origins)},
    /* at least a control frame's 125 bytes */
    {"ws_max_frame", LISTENER(ws_max_frame), .modes = MODES_HTTP_HEAD, SIZE(125, UINT64_MAX), .def = "1m"},
    {"ws_max_message", LISTENER(ws_max_message), .modes = MODES_HTTP_HEAD, SIZE(125, UINT64_MAX),
     .def = "16m"},
    {"trusted_proxies", LISTENER(trusted_proxies), .modes = MODES_HTTP_HEAD, CUSTOM(set_trusted_proxies)},
    {"forwarded_headers", LISTENER(forwarded_headers), .modes = MODES_HTTP_HEAD,
     CHOICE({"x-forwarded", GH_FORWARDED_X}, {"forwarded", GH_FORWARDED_RFC7239},
            {"both", GH_FORWARDED_BOTH})},
    /* default: what the buffer holds; its upper bound is the buffer, both
     * settled once all keys are in (check_http_buffers) */
    {"max_response_header_bytes", LISTENER(max_response_header_bytes), .modes = MODES_HTTP_HEAD,
     SIZE(256, 1u << 30)},
    {"max_response_headers", LISTENER(max_response_headers), .modes = MODES_HTTP_HEAD,
     WHOLE(1, GH_HTTP1_MAX_HEADERS), .def = STRINGIFY(GH_HTTP1_MAX_HEADERS)},
    {"backend_reuse", LISTENER(backend_reuse), .modes = MODES_HTTP_HEAD,
     CHOICE({"safe", GH_REUSE_SAFE}, {"always", GH_REUSE_ALWAYS})},
    /* 0: never hold, every body streams */
    {"max_held_request", LISTENER(max_held_request), .modes = MODES_HTTP_HEAD, SIZE(0, 1u << 20),
     .def = "64k"},
    {"chunk_extensions", LISTENER(chunk_extensions), .modes = MODES_HTTP_HEAD, .def = "drop",
     CHOICE({"drop", GH_CHUNK_EXT_DROP}, {"forward", GH_CHUNK_EXT_FORWARD})},
    {"allow_trailers", LISTENER(allow_trailers), .modes = MODES_HTTP_HEAD,
     LIST(is_field_name, "is not a field name (RFC 9110 token)")},
    {"request_timeout", LISTENER(request_timeout), .modes = MODES_HTTP_HEAD, DURATION(0, 3600), .def = "10s"},
    {"keepalive_timeout", LISTENER(keepalive_timeout), .modes = MODES_HTTP_HEAD, DURATION(0, 3600),
     .def = "15s"},
    {"body_timeout", LISTENER(body_timeout), .modes = MODES_HTTP, DURATION(0, 3600), .def = "10s"},
    /* bytes per second, per body_timeout period */
    {"min_body_rate", LISTENER(min_body_rate), .modes = MODES_HTTP, SIZE(0, 1u << 30), .def = "500"},
    {"send_timeout", LISTENER(send_timeout), .modes = MODES_ALL, DURATION(0, 86400), .def = "30s"},

    /* [cert:NAME] */
    {"cert", CERT(cert), .required = true, PATH},
    {"key", CERT(key), .required = true, PATH},
    {"ocsp", CERT(ocsp), PATH},
    {"names", CERT(names), LIST(is_dns_pattern, NOT_A_DNS_NAME)},
};

#define N_KEYS (sizeof key_table / sizeof key_table[0])
_Static_assert(N_KEYS <= KEYS_MAX && KEYS_MAX == GH_CONFIG_KEYS_MAX,
               "struct gh_key_lines and the refused arrays hold KEYS_MAX keys");

static const struct key_row *find_row(enum section_kind section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (key_table[i].section == section && strcmp(key_table[i].name, name) == 0)
            return &key_table[i];
    return NULL;
}

int gh_config_key_line(const struct gh_key_lines *lines, const char *key)
{
    const struct key_row *k = find_row((enum section_kind)lines->section, key);
    return k ? lines->line[k - key_table] : 0;
}

void gh_config_key_error(struct gh_config_errors *errs, const struct gh_key_lines *lines,
                         const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errors_vadd(errs, gh_config_key_line(lines, key), key, fmt, ap);
    va_end(ap);
}

/* Whether REFUSED (a section instance's row of the refused arrays) holds
 * the key NAME of SECTION as refused. */
static bool key_refused(const bool *refused, enum section_kind section, const char *name)
{
    const struct key_row *k = find_row(section, name);
    return k && refused[k - key_table];
}

/* The line of a listener key that was set and accepted; 0 otherwise. */
static int listener_key_line(const struct parse_state *st, size_t i, const char *name)
{
    return key_refused(st->listener_refused[i], SECTION_LISTENER, name)
               ? 0
               : gh_config_key_line(&st->cfg->listeners[i].key_lines, name);
}

static bool listener_key_refused(const struct parse_state *st, size_t i, const char *name)
{
    return key_refused(st->listener_refused[i], SECTION_LISTENER, name);
}

/* Every key of SECTION with a default gets it, through its own setter. */
static void apply_defaults(struct parse_state *st, enum section_kind section, void *conf)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (key_table[i].section == section && key_table[i].def &&
            key_table[i].set(st, &key_table[i], key_table[i].def, conf) < 0)
            parse_error(st, key_table[i].name, "internal: the default does not load");
}

/* Edits (insert, delete, substitute, swap two neighbours) from a to b, or
 * limit + 1 when more. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d[KEY_MAX_BYTES + 1][KEY_MAX_BYTES + 1]; /* distances <= KEY_MAX_BYTES */
    if (la > KEY_MAX_BYTES || lb > KEY_MAX_BYTES || (la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t replace = (size_t)d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t drop = (size_t)d[i - 1][j] + 1, add = (size_t)d[i][j - 1] + 1;
            size_t best = replace < drop ? replace : drop;
            if (add < best)
                best = add;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                (size_t)d[i - 2][j - 2] + 1 < best)
                best = (size_t)d[i - 2][j - 2] + 1;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

/* "unknown key in [SECTION]", with the nearest key of the section when one
 * is near enough to be a typo of it (at most 2 edits, and a third of its
 * length at most, so a short word suggests nothing), else the section the
 * key belongs in when it is another's. */
static void unknown_key(struct parse_state *st, const char *name)
{
    const char *where = st->where;
    static const char *const section_titles[] = {
        [SECTION_GLOBAL] = "[global]",
        [SECTION_LISTENER] = "[listener:NAME]",
        [SECTION_CERT] = "[cert:NAME]",
    };
    const struct key_row *nearest = NULL, *elsewhere = NULL;
    size_t nearest_d = 3;
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_row *k = &key_table[i];
        if (k->section != st->section) {
            if (!elsewhere && strcmp(k->name, name) == 0)
                elsewhere = k;
            continue;
        }
        size_t d = edit_distance(name, k->name, 2);
        if (d < nearest_d && 3 * d <= strlen(k->name)) {
            nearest = k;
            nearest_d = d;
        }
    }
    if (nearest)
        parse_error(st, name, "unknown key in %s; did you mean %s?", where, nearest->name);
    else if (elsewhere)
        parse_error(st, name, "unknown key in %s; it belongs in %s", where,
                    section_titles[elsewhere->section]);
    else
        parse_error(st, name, "unknown key in %s", where);
}

/* ---- for tests that hold documentation to the table ------------------- */

const char *gh_config_key_name(enum gh_config_section section, size_t index)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if ((int)key_table[i].section == (int)section && index-- == 0)
            return key_table[i].name;
    return NULL;
}

/* A size as a person writes it: the largest binary unit that divides it. */
static void format_size(char *out, size_t cap, uint64_t v)
{
    static const char units[] = {'g', 'm', 'k'};
    for (size_t i = 0; i < sizeof units; i++) {
        uint64_t unit = 1ull << (10 * (3 - i));
        if (v != 0 && v % unit == 0) {
            snprintf(out, cap, "%llu%c", (unsigned long long)(v / unit), units[i]);
            return;
        }
    }
    snprintf(out, cap, "%llu", (unsigned long long)v);
}

/* A duration in the largest unit that states it exactly. */
static void format_duration(char *out, size_t cap, double s)
{
    if (s >= 3600 && fmod(s, 3600) == 0)
        snprintf(out, cap, "%gh", s / 3600);
    else if (s >= 60 && fmod(s, 60) == 0)
        snprintf(out, cap, "%gm", s / 60);
    else
        snprintf(out, cap, "%gs", s);
}

int gh_config_key_doc(enum gh_config_section section, size_t index,
                      struct gh_config_key_doc *doc)
{
    const struct key_row *k = NULL;
    for (size_t i = 0; i < N_KEYS; i++)
        if ((int)key_table[i].section == (int)section && index-- == 0) {
            k = &key_table[i];
            break;
        }
    if (!k)
        return -1;
    memset(doc, 0, sizeof *doc);
    doc->name = k->name;
    doc->required = k->required;
    doc->def = k->def;
    /* a choice without a written default starts as its zero value's word */
    if (!doc->def && k->set == set_choice)
        for (size_t i = 0; k->choices[i].word; i++)
            if (k->choices[i].value == 0) {
                doc->def = k->choices[i].word;
                break;
            }

    char lo[32], hi[32];
    if (k->set == set_duration) {
        snprintf(doc->kind, sizeof doc->kind, "duration");
        format_duration(hi, sizeof hi, k->most);
        if (k->above < 0)
            snprintf(doc->range, sizeof doc->range, "0 .. %s", hi);
        else if (k->above == 0)
            snprintf(doc->range, sizeof doc->range, "more than 0 .. %s", hi);
        else
            snprintf(doc->range, sizeof doc->range, "at least %gs .. %s", ceil(k->above), hi);
    } else if (k->set == set_size || k->set == set_whole) {
        bool size = k->set == set_size;
        snprintf(doc->kind, sizeof doc->kind, "%s", size ? "size" : "whole number");
        if (size) {
            format_size(lo, sizeof lo, k->min);
            format_size(hi, sizeof hi, k->max);
        } else {
            snprintf(lo, sizeof lo, "%llu", (unsigned long long)k->min);
            snprintf(hi, sizeof hi, "%llu", (unsigned long long)k->max);
        }
        if (k->range)
            snprintf(doc->range, sizeof doc->range, "%s", k->range);
        else if (k->max == UINT64_MAX)
            snprintf(doc->range, sizeof doc->range, "%s or more", lo);
        else
            snprintf(doc->range, sizeof doc->range, "%s .. %s", lo, hi);
    } else if (k->set == set_choice) {
        size_t n = (size_t)snprintf(doc->kind, sizeof doc->kind, "one of:");
        for (size_t i = 0; k->choices[i].word && n < sizeof doc->kind; i++)
            n += (size_t)snprintf(doc->kind + n, sizeof doc->kind - n, "%s%s",
                                  i == 0 ? " " : " | ", k->choices[i].word);
    } else if (k->set == set_list) {
        snprintf(doc->kind, sizeof doc->kind, "comma-separated list");
    } else if (k->set == set_suites) {
        snprintf(doc->kind, sizeof doc->kind, "colon-separated list of suites");
    } else if (k->set == set_path) {
        snprintf(doc->kind, sizeof doc->kind, "path (relative: to the config file's directory)");
    } else if (k->set == set_address) {
        snprintf(doc->kind, sizeof doc->kind, "address");
    } else {
        snprintf(doc->kind, sizeof doc->kind, "text");
    }

    if (k->section == SECTION_LISTENER) {
        static const char *const mode_words[] = {
            [GH_MODE_TCP] = "tcp", [GH_MODE_HTTP] = "http", [GH_MODE_REDIRECT] = "redirect"};
        size_t n = 0;
        for (size_t m = 0; m < sizeof mode_words / sizeof mode_words[0]; m++)
            if (k->modes & MODE_BIT(m))
                n += (size_t)snprintf(doc->modes + n, n < sizeof doc->modes ? sizeof doc->modes - n : 0,
                                      "%s%s", n ? ", " : "", mode_words[m]);
    }
    return 0;
}

/* ---- section headers ------------------------------------------------ */

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

/* The keys that follow go to CONF, of section KIND, with its key LINES and
 * REFUSED flags; LABEL is its valid header, which is also its title. */
static void enter_section(struct parse_state *st, enum section_kind kind, void *conf,
                          struct gh_key_lines *lines, bool *refused, const char *label)
{
    st->section = kind;
    st->conf = conf;
    lines->section = (enum gh_config_section)kind;
    st->lines = lines;
    st->refused = refused;
    snprintf(st->where, sizeof st->where, "%s", label);
}

static void begin_section(struct parse_state *st, const char *name, size_t len)
{
    char label[sizeof st->errs->items[0].key];
    size_t shown = len > sizeof label - 3 ? sizeof label - 3 : len;
    snprintf(label, sizeof label, "[%.*s]", (int)shown, name);
    st->section = SECTION_INVALID;

    if (len == 6 && memcmp(name, "global", 6) == 0) {
        if (st->global_seen_section) {
            parse_error(st, label, "duplicate section");
            return;
        }
        st->global_seen_section = true;
        enter_section(st, SECTION_GLOBAL, &st->cfg->global, &st->cfg->global.key_lines,
                      st->global_refused, label);
        return;
    }
    if (len > 9 && memcmp(name, "listener:", 9) == 0) {
        const char *lname = name + 9;
        size_t llen = len - 9, i = st->cfg->n_listeners;
        if (!section_name_ok(st, label, "listener", lname, llen, st->cfg->listeners[0].name,
                             sizeof st->cfg->listeners[0], i, GH_MAX_LISTENERS))
            return;
        struct gh_listener_config *l = &st->cfg->listeners[st->cfg->n_listeners++];
        memset(l, 0, sizeof *l);
        apply_defaults(st, SECTION_LISTENER, l);
        memcpy(l->name, lname, llen);
        l->line = st->line;
        enter_section(st, SECTION_LISTENER, l, &l->key_lines, st->listener_refused[i], label);
        return;
    }
    if (len > 5 && memcmp(name, "cert:", 5) == 0) {
        const char *cname = name + 5;
        size_t clen = len - 5, i = st->cfg->n_certs;
        if (!section_name_ok(st, label, "[cert:NAME]", cname, clen, st->cfg->certs[0].name,
                             sizeof st->cfg->certs[0], i, GH_MAX_CERTS))
            return;
        struct gh_cert_config *c = &st->cfg->certs[st->cfg->n_certs++];
        memset(c, 0, sizeof *c);
        memcpy(c->name, cname, clen);
        c->line = st->line;
        enter_section(st, SECTION_CERT, c, &c->key_lines, st->cert_refused[i], label);
        return;
    }
    parse_error(st, label, "unknown section (expected [global], [listener:NAME] or [cert:NAME])");
}

/* ---- the line reader --------------------------------------------------
 *
 * inih splits each line into section, key and value; ini_parse_stream asks
 * read_line for one line at a time, so the reader's count is the line of
 * the key inih then hands on_key. The reader refuses what inih would take
 * silently (a NUL, control characters, over-long lines: reported, and
 * handed on blank so inih neither acts on them nor reports them again),
 * begins sections itself (inih calls back on keys only, and an empty
 * section must count too), and notes a line that must hold "key = value"
 * so that finish_line can report it when inih found no key in it. */

/* The one place gatehouse asks inih for more than its defaults, and why.
 * Debian's inih (libinih 55) is built with INI_MAX_LINE 200: a longer
 * line (a long ciphers value, a deep path) is cut there and its rest read
 * as a line of its own. And it glues an indented line onto the key above
 * as a continuation, so an indented key would become part of a value.
 * Debian builds it with INI_RUNTIME_OPTIONS, which makes those build
 * options variables: the line limit becomes ours (with INI_USE_STACK its
 * line buffer is an array of ini_max_line bytes on the stack), and
 * continuation lines go. The reader takes the BOM off line 1 itself. An
 * inih built without INI_RUNTIME_OPTIONS has no ini_max_line: this does
 * not build against it, rather than cut long lines. */
static void set_inih_options(void)
{
    ini_max_line = LINE_MAX_BYTES + 1; /* the longest line and its NUL: one read per line */
    ini_allow_multiline = false;       /* indentation is layout */
    ini_allow_bom = false;
}

/* A line that does not hold a key inih could find (or holds it after a
 * ':', inih's other separator): after a key, an indented one is taken for
 * a continuation of its value, which gatehouse does not support. */
static void not_a_key_line(struct parse_state *st, const char *key, const char *message)
{
    st->line_kind = LINE_NOTHING;
    if (st->line_indented && st->prev_line_kind == LINE_KEY)
        parse_error(st, "", "continuation lines are not supported");
    else
        parse_error(st, key, "syntax error: %s", message);
}

/* The line inih just had: a key should have come of it. */
static void finish_line(struct parse_state *st)
{
    if (st->line_kind == LINE_KEY_EXPECTED)
        not_a_key_line(st, "", "expected key = value");
    st->prev_line_kind = st->line_kind;
    st->line_kind = LINE_NOTHING;
}

static char *read_line(char *str, int num, void *stream)
{
    struct parse_state *st = stream;
    finish_line(st);
    if (st->pos >= st->len)
        return NULL;
    const char *s = st->text + st->pos, *end;
    const char *nl = memchr(s, '\n', st->len - st->pos);
    end = nl ? nl : st->text + st->len;
    st->pos = (size_t)(end - st->text) + (nl ? 1 : 0);
    st->line++;
    str[0] = '\0';

    if (st->line == 1 && end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* UTF-8 BOM */
    if (end > s && end[-1] == '\r')
        end--;
    for (const char *p = s; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\0') {
            parse_error(st, "", "NUL byte in line");
            return str;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            parse_error(st, "", "control character 0x%02x in line", c);
            return str;
        }
    }
    if (end - s > LINE_MAX_BYTES || end - s >= num) {
        parse_error(st, "", "line longer than %d bytes", LINE_MAX_BYTES);
        return str;
    }
    memcpy(str, s, (size_t)(end - s));
    str[end - s] = '\0';
    st->key_line_text = s; /* for on_key: str is inih's to cut up */
    st->key_line_len = (size_t)(end - s);

    st->line_indented = s < end && is_space_char(*s);
    while (s < end && is_space_char(*s))
        s++;
    while (end > s && is_space_char(end[-1]))
        end--;
    if (s == end || *s == ';' || *s == '#')
        return str;
    if (*s != '[') {
        st->line_kind = LINE_KEY_EXPECTED;
        return str;
    }
    if (end[-1] != ']' || end - s < 2) {
        parse_error(st, "", "syntax error: a section header is [NAME] alone on its line");
        st->section = SECTION_INVALID;
        str[0] = '\0';
        return str;
    }
    begin_section(st, s + 1, (size_t)(end - s - 2));
    return str;
}

/* inih's callback: one key = value, already trimmed. The section bookkeeping
 * was done by the reader, which saw the header line. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    (void)section;

    /* inih took the first '=' or ':' for the separator */
    const char *eq = memchr(st->key_line_text, '=', st->key_line_len);
    const char *colon = memchr(st->key_line_text, ':', st->key_line_len);
    if (colon && (!eq || colon < eq)) {
        not_a_key_line(st, "", "expected key = value");
        return 1;
    }
    if (name[0] == '\0') {
        not_a_key_line(st, "", "missing key before '='");
        return 1;
    }
    if (name[strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_")] != '\0') {
        char key[48];
        snprintf(key, sizeof key, "%.40s", name);
        not_a_key_line(st, key, "keys are lowercase letters, digits and _");
        return 1;
    }
    st->line_kind = LINE_KEY;

    if (st->section == SECTION_NONE) {
        parse_error(st, name, "key outside any section");
        return 1;
    }
    if (st->section == SECTION_INVALID)
        return 1; /* the header was reported; do not pile errors on its keys */
    const struct key_row *k = find_row(st->section, name);
    if (!k) {
        unknown_key(st, name);
        return 1;
    }
    size_t row = (size_t)(k - key_table);
    if (st->lines->line[row]) {
        parse_error(st, name, "duplicate key (first set at line %d)", st->lines->line[row]);
        return 1;
    }
    st->lines->line[row] = st->line;
    st->refused[row] = k->set(st, k, value, st->conf) < 0;
    return 1;
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
    /* stored as "a,b" */
    struct gh_list_walk w = gh_list_start(st->cert_refs[i], ',', GH_LIST_KEEP_SPACES);
    const char *p;
    size_t len;
    int certs_line = listener_key_line(st, i, "certs");
    if (!st->cert_refs[i][0])
        return;
    while (gh_list_next(&w, &p, &len)) {
        size_t found = st->cfg->n_certs;
        for (size_t c = 0; c < st->cfg->n_certs; c++)
            if (strlen(st->cfg->certs[c].name) == len && memcmp(st->cfg->certs[c].name, p, len) == 0)
                found = c;
        if (found == st->cfg->n_certs)
            gh_config_error_add(st->errs, certs_line, "certs", "no [cert:%.*s] section",
                                (int)len, p);
        else if (l->n_certs + 1 >= GH_LISTENER_CERTS_MAX)
            gh_config_error_add(st->errs, certs_line, "certs",
                                "more than %d certificates for one listener",
                                GH_LISTENER_CERTS_MAX - 1);
        else
            l->certs[l->n_certs++] = (uint8_t)found;
    }
}

static void check_listener_tls(struct parse_state *st, size_t i)
{
    struct gh_listener_config *l = &st->cfg->listeners[i];
    static const char *const needs_ca[] = {"crl", "client_verify", "client_allow_cn",
                                           "client_allow_dns", "client_allow_uri",
                                           "client_allow_sha256"};

    /* set and valid (an invalid value was reported on its own) */
    const bool set[] = {l->crl[0] != '\0', l->client_verify != GH_VERIFY_OFF,
                        l->client_allow_cn[0] != '\0', l->client_allow_dns[0] != '\0',
                        l->client_allow_uri[0] != '\0', l->client_allow_sha256[0] != '\0'};

    resolve_cert_refs(st, i);
    if (listener_key_refused(st, i, "client_ca")) {
        /* reported; what needs it has nothing to check against */
    } else if (!listener_key_line(st, i, "client_ca")) {
        for (size_t k = 0; k < sizeof needs_ca / sizeof needs_ca[0]; k++)
            if (set[k])
                gh_config_error_add(st->errs, listener_key_line(st, i, needs_ca[k]), needs_ca[k],
                                    "needs client_ca (the CA that issues client certificates)");
    } else if (!gh_config_key_line(&l->key_lines, "client_verify")) {
        l->client_verify = GH_VERIFY_REQUIRED;
    }
    if (l->accept_proxy != GH_PROXY_IN_OFF && l->n_proxy_trusted == 0 &&
        !listener_key_refused(st, i, "proxy_trusted"))
        gh_config_error_add(st->errs, listener_key_line(st, i, "accept_proxy"), "accept_proxy",
                            "needs proxy_trusted (who may send a PROXY header)");
    if (l->n_proxy_trusted > 0 && l->accept_proxy == GH_PROXY_IN_OFF &&
        !listener_key_refused(st, i, "accept_proxy"))
        gh_config_error_add(st->errs, listener_key_line(st, i, "proxy_trusted"), "proxy_trusted",
                            "set, but accept_proxy is off");
    if (l->xff_append && l->n_trusted_proxies == 0 &&
        !listener_key_refused(st, i, "trusted_proxies"))
        gh_config_error_add(st->errs, listener_key_line(st, i, "forwarded_for"), "forwarded_for",
                            "append needs trusted_proxies (whose forwarding chain to extend)");
    if (l->mode == GH_MODE_REDIRECT)
        return;
    if (!gh_config_key_line(&l->key_lines, "alpn")) {
        if (l->mode == GH_MODE_HTTP)
            snprintf(l->alpn, sizeof l->alpn, "http/1.1");
    } else if (l->mode == GH_MODE_HTTP && l->alpn[0] && strcmp(l->alpn, "http/1.1") != 0) {
        gh_config_error_add(st->errs, listener_key_line(st, i, "alpn"), "alpn",
                            "mode = http speaks http/1.1 only: offer http/1.1 or off");
    }
}

/* Required keys of one section instance (SEEN), missing: reported at its
 * header. ALL_MODES_ONLY: only those required whatever the mode (the mode
 * itself was refused). */
static void check_required(struct parse_state *st, enum section_kind section,
                           const struct gh_key_lines *lines, unsigned mode_bit, bool all_modes_only,
                           int header_line, const char *where)
{
    for (size_t k = 0; k < N_KEYS; k++) {
        const struct key_row *row = &key_table[k];
        if (row->section != section || !row->required || lines->line[k])
            continue;
        if (section == SECTION_LISTENER &&
            (!(row->modes & mode_bit) || (all_modes_only && row->modes != MODES_ALL)))
            continue;
        gh_config_error_add(st->errs, header_line, row->name, "required key is missing in %s",
                            where);
    }
}

/* What a listener key set in the wrong mode is told. */
static const char *mode_refusal(unsigned valid, enum gh_mode mode)
{
    if (valid == MODES_TCP)
        return "only with mode = tcp";
    if (valid == MODES_REDIRECT)
        return "only with mode = redirect";
    if (mode == GH_MODE_REDIRECT)
        return "not used by a plaintext redirect listener";
    return "only with mode = http";
}

static void check_cert_sections(struct parse_state *st)
{
    char where[GH_NAME_MAX + 16];
    for (size_t c = 0; c < st->cfg->n_certs; c++) {
        const struct gh_cert_config *cc = &st->cfg->certs[c];
        snprintf(where, sizeof where, "[cert:%s]", cc->name);
        check_required(st, SECTION_CERT, &cc->key_lines, 0, false, cc->line, where);
    }
}

/* mode = http (and redirect, which reads heads): a head, a held request and
 * a trailer line must each fit the client's buffer. */
static void check_http_buffers(struct parse_state *st, size_t i)
{
    struct gh_listener_config *l = &st->cfg->listeners[i];
    /* A whole head must fit in one buffer, with room for the headers
     * gatehouse adds; so must a held request (it waits in the client's
     * buffer and leaves, rebuilt, in one piece). */
    uint64_t reserve = 2048 + (listener_key_line(st, i, "client_ca") ? 2048 : 0);
    uint64_t need = l->http_limits.max_header_bytes + reserve;
    int held_line = listener_key_line(st, i, "max_held_request");
    int trailer_line = listener_key_line(st, i, "max_trailer_bytes");
    int resp_line = listener_key_line(st, i, "max_response_header_bytes");
    if (!listener_key_line(st, i, "buffer_size")) {
        uint64_t held_need = (l->max_held_request > l->http_limits.max_trailer_bytes
                                  ? l->max_held_request
                                  : l->http_limits.max_trailer_bytes) + reserve;
        if (l->mode == GH_MODE_HTTP && held_need > need)
            need = held_need;
        l->buffer_size = need > l->buffer_size ? (uint32_t)need : l->buffer_size;
    } else if (l->buffer_size < need) {
        gh_config_error_add(st->errs, listener_key_line(st, i, "buffer_size"), "buffer_size",
                            "must be at least max_header_bytes + 2k, 4k with client_ca "
                            "(%llu) in http mode",
                            (unsigned long long)need);
    } else if (l->mode == GH_MODE_HTTP && l->max_held_request + reserve > l->buffer_size) {
        if (held_line)
            gh_config_error_add(st->errs, held_line, "max_held_request",
                                "larger than buffer_size - 2k, 4k with client_ca (%llu): "
                                "a held request waits in one buffer",
                                (unsigned long long)(l->buffer_size - reserve));
        else /* the default yields to an explicit buffer_size */
            l->max_held_request = l->buffer_size - reserve;
    }
    /* gatehouse re-frames chunked bodies line by line: a trailer line
     * waits whole in the client's buffer */
    if (l->mode == GH_MODE_HTTP && l->http_limits.max_trailer_bytes + reserve > l->buffer_size)
        gh_config_error_add(st->errs, trailer_line ? trailer_line : l->line, "max_trailer_bytes",
                            "larger than buffer_size - 2k, 4k with client_ca (%u): a "
                            "trailer line must fit in one buffer",
                            l->buffer_size > reserve ? (unsigned)(l->buffer_size - reserve) : 0u);
    /* A response head goes to the client whole, with HSTS added: it must
     * fit the client buffer with that room to spare. */
    size_t resp_room = l->buffer_size - GH_RESPONSE_HEAD_SLACK -
                       (l->hsts[0] ? strlen(l->hsts) + GH_RESPONSE_HSTS_LINE : 0);
    if (!gh_config_key_line(&l->key_lines, "max_response_header_bytes"))
        l->max_response_header_bytes = resp_room;
    else if (resp_line && l->max_response_header_bytes > resp_room)
        gh_config_error_add(st->errs, resp_line, "max_response_header_bytes",
                            "larger than buffer_size allows (%zu): a response head must "
                            "fit the buffer that carries it to the client",
                            resp_room);
}

static void check_listener(struct parse_state *st, size_t i)
{
    struct gh_config *cfg = st->cfg;
    struct gh_listener_config *l = &cfg->listeners[i];
    const int *line = l->key_lines.line;
    const bool *refused = st->listener_refused[i];
    bool mode_known = !listener_key_refused(st, i, "mode");
    char where[GH_NAME_MAX + 16];

    snprintf(where, sizeof where, "[listener:%s]", l->name);
    check_required(st, SECTION_LISTENER, &l->key_lines, MODE_BIT(l->mode), !mode_known, l->line,
                   where);
    if (!mode_known)
        return; /* which keys belong, and the buffer rules, depend on it */
    for (size_t k = 0; k < N_KEYS; k++) {
        const struct key_row *row = &key_table[k];
        if (row->section == SECTION_LISTENER && line[k] && !refused[k] &&
            !(row->modes & MODE_BIT(l->mode)))
            gh_config_error_add(st->errs, line[k], row->name, "%s",
                                mode_refusal(row->modes, l->mode));
    }
    if (l->mode == GH_MODE_TCP) {
        if (l->framing == GH_FRAMING_LINE && l->max_line > l->buffer_size) {
            int max_line_line = listener_key_line(st, i, "max_line");
            gh_config_error_add(st->errs, max_line_line ? max_line_line : l->line, "max_line",
                                "larger than buffer_size (%u): a line must fit in the buffer "
                                "that holds it until its end arrives",
                                l->buffer_size);
        }
    } else {
        check_http_buffers(st, i);
    }
    check_listener_tls(st, i);
    if (l->listen.len == 0)
        return;
    for (size_t j = 0; j < i; j++) {
        if (cfg->listeners[j].listen.len &&
            addresses_conflict(&l->listen, &cfg->listeners[j].listen))
            gh_config_error_add(st->errs, listener_key_line(st, i, "listen"), "listen",
                                "%s overlaps the listen address of [listener:%s]",
                                l->listen.text, cfg->listeners[j].name);
    }
}

static void check_whole_file(struct parse_state *st)
{
    struct gh_config *cfg = st->cfg;
    const struct gh_global_config *g = &cfg->global;

    /* Each writer keeps its own hash chain, so workers cannot share a file. */
    if (g->workers > 1 && g->audit_file[0] && strcmp(g->audit_file, "-") != 0 &&
        !strstr(g->audit_file, "%w"))
        gh_config_key_error(st->errs, &g->key_lines, "audit_file",
                            "with workers = %d each worker needs its own file: put %%w "
                            "(the worker's index) in the name",
                            g->workers);
    if (g->audit_key_file[0] && !g->audit_file[0] &&
        !key_refused(st->global_refused, SECTION_GLOBAL, "audit_file"))
        gh_config_key_error(st->errs, &g->key_lines, "audit_key_file",
                            "set, but audit_file is not: there is no audit log to key");

    check_cert_sections(st);
    if (cfg->n_listeners == 0) {
        gh_config_error_add(st->errs, st->line, "listener",
                            "no [listener:NAME] section: nothing to serve");
        return;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++)
        check_listener(st, i);
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

    st = calloc(1, sizeof *st);
    if (!st) {
        gh_config_error_add(errs, 0, "", "out of memory");
        return -1;
    }
    st->cfg = out;
    st->errs = errs;
    st->section = SECTION_NONE; /* until the first header */
    out->global.key_lines.section = GH_CONFIG_GLOBAL;
    apply_defaults(st, SECTION_GLOBAL, &out->global);
    st->text = text;
    st->len = len;

    set_inih_options();
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
