/* config.h - the gatehouse configuration: what an ini file may say, the
 * limits on it, and the loader that turns a file into a validated
 * struct gh_config or into a list of "FILE:LINE: key: message" errors.
 *
 * Owns: parsing (through inih), defaults, validation of every key and of
 * cross-key rules, and the line each key was set at (gh_key_lines) for the
 * errors found later. It does not open sockets or load certificates; those
 * checks belong to the services that use the values, and report at those
 * lines with gh_config_key_error(). */
#ifndef GATEHOUSE_CONFIG_H
#define GATEHOUSE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "gatehouse/http1.h"
#include "gatehouse/proxy_protocol.h"

#define GH_MAX_LISTENERS 64
#define GH_NAME_MAX 32         /* listener name after "listener:" */
#define GH_PATH_MAX 1024       /* any file path in the config */
#define GH_ADDR_TEXT_MAX 300   /* "host:port" as written */
#define GH_CIPHERS_MAX 1024
#define GH_GROUPS_MAX 8        /* entries in groups = ... */
#define GH_MAX_ERRORS 64       /* errors kept; the count goes on past it */
#define GH_ERROR_TEXT_MAX 256
#define GH_METHODS_MAX 16      /* entries in allow_methods */
#define GH_METHOD_LEN_MAX 15
/* Room a response head leaves in the client buffer: a margin, and the
 * Strict-Transport-Security line gatehouse may add ("name: " and CRLF). */
#define GH_RESPONSE_HEAD_SLACK 64
#define GH_RESPONSE_HSTS_LINE 32
#define GH_HSTS_MAX 256
#define GH_MAX_CERTS 64        /* [cert:NAME] sections */
#define GH_LISTENER_CERTS_MAX 16 /* certificates one listener serves, its default included */
#define GH_LIST_TEXT_MAX 1024  /* a comma-separated list value as written */
#define GH_ALPN_TEXT_MAX 256
#define GH_TRUSTED_NETS_MAX 32 /* proxy_trusted entries */
#define GH_WS_ORIGINS_LIMIT 16 /* ws_origins entries (websocket.h GH_WS_ORIGINS_MAX) */

enum gh_log_level { GH_LOG_DEBUG, GH_LOG_INFO, GH_LOG_WARN, GH_LOG_ERROR };

enum gh_mode { GH_MODE_TCP, GH_MODE_HTTP, GH_MODE_REDIRECT };

/* wolfSSL group ids are ints; we keep the names' ids here so the config
 * module needs no TLS headers. */
enum gh_group { GH_GROUP_X25519, GH_GROUP_P256, GH_GROUP_P384 };

enum gh_sni_unknown { GH_SNI_DEFAULT, GH_SNI_REFUSE };
/* chunk_extensions: what happens to chunk extensions on a streamed body */
enum gh_chunk_ext_policy { GH_CHUNK_EXT_DROP, GH_CHUNK_EXT_FORWARD };
enum gh_framing { GH_FRAMING_RAW, GH_FRAMING_LINE, GH_FRAMING_LENGTH };
enum gh_line_ending { GH_LINE_ENDING_LF, GH_LINE_ENDING_CRLF };
enum gh_line_chars { GH_LINE_CHARS_ANY, GH_LINE_CHARS_PRINTABLE, GH_LINE_CHARS_UTF8 };
enum gh_client_verify { GH_VERIFY_OFF, GH_VERIFY_OPTIONAL, GH_VERIFY_REQUIRED };
enum gh_proxy_out { GH_PROXY_OUT_OFF, GH_PROXY_OUT_V1, GH_PROXY_OUT_V2 };
enum gh_proxy_in { GH_PROXY_IN_OFF, GH_PROXY_IN_V1, GH_PROXY_IN_V2, GH_PROXY_IN_ANY };
/* forwarded_headers: X-Forwarded-For/-Proto, RFC 7239 Forwarded, or both. */
enum gh_forwarded_headers { GH_FORWARDED_X, GH_FORWARDED_RFC7239, GH_FORWARDED_BOTH };
/* backend_reuse: which backend connections carry a next request. */
enum gh_backend_reuse {
    GH_REUSE_SAFE,   /* not one that carried a request body: a backend that did not read
                      * the body would take it for the next request */
    GH_REUSE_ALWAYS, /* every one still in sync (backends known to read every body) */
};

/* Which request methods a listener passes on (allow_methods); others: 405. */
enum gh_method_policy {
    GH_METHODS_SAFE_DEFAULT, /* every method token (RFC 9110 9.1) except CONNECT (a tunnel)
                              * and TRACE (echoes the request: cross-site tracing), in any
                              * case, since a lenient backend may fold it */
    GH_METHODS_LISTED,       /* exactly those in allow_methods (case-sensitive) */
};

/* The sections of a file, for the key table's users outside the loader. */
enum gh_config_section { GH_CONFIG_GLOBAL, GH_CONFIG_LISTENER, GH_CONFIG_CERT };

#define GH_CONFIG_KEYS_MAX 128 /* rows in the loader's key table (checked there) */

/* Where each key of one section was set, for errors found after loading
 * (a certificate that does not load, a reload that cannot apply): the
 * lines are indexed by the key's row in the loader's table, so a new key
 * needs no field here. Read them with gh_config_key_line(). */
struct gh_key_lines {
    enum gh_config_section section;
    int line[GH_CONFIG_KEYS_MAX]; /* 0: not in the file */
};

/* One certificate a listener can serve: [cert:NAME]. */
struct gh_cert_config {
    char name[GH_NAME_MAX + 1];
    int line;                    /* of the [cert:NAME] header */
    char cert[GH_PATH_MAX];      /* PEM chain, leaf first */
    char key[GH_PATH_MAX];
    char ocsp[GH_PATH_MAX];      /* DER OCSP response to staple, "" = none */
    char names[GH_LIST_TEXT_MAX]; /* SNI names, "" = the certificate's own */
    struct gh_key_lines key_lines;
};

enum gh_audit_fsync { GH_AUDIT_FSYNC_NEVER, GH_AUDIT_FSYNC_INTERVAL, GH_AUDIT_FSYNC_ALWAYS };

#define GH_AUDIT_MAX_FIELD_LIMIT 4096 /* audit_max_field may not exceed this */

struct gh_sockaddr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[GH_ADDR_TEXT_MAX]; /* as the operator wrote it */
};

struct gh_listener_config {
    char name[GH_NAME_MAX + 1];
    int line;                    /* line of the [listener:NAME] header */
    struct gh_sockaddr listen;
    struct gh_sockaddr backend;
    enum gh_mode mode;
    char cert[GH_PATH_MAX];
    char key[GH_PATH_MAX];
    int tls_min_version;         /* 12 or 13 */
    char ciphers[GH_CIPHERS_MAX];      /* TLS 1.2 suites, ':'-separated */
    char ciphersuites[GH_CIPHERS_MAX]; /* TLS 1.3 suites, ':'-separated */
    enum gh_group groups[GH_GROUPS_MAX];
    size_t n_groups;
    double handshake_timeout;    /* seconds */
    double connect_timeout;
    double idle_timeout;
    uint32_t max_connections;
    uint32_t buffer_size;        /* bytes per direction per connection */
    int backlog;

    /* mode = http */
    struct gh_http1_limits http_limits;
    uint64_t max_body;           /* bytes per request body */
    size_t max_response_header_bytes; /* a backend's response head; default: what the buffer holds */
    size_t max_response_headers; /* its field lines; default GH_HTTP1_MAX_HEADERS */
    enum gh_backend_reuse backend_reuse;
    enum gh_chunk_ext_policy chunk_extensions;
    uint64_t max_held_request;   /* head + body as received: held whole up to this, in the
                                  * client's buffer (<= buffer_size - 2k/4k); 0 = stream all */
    char allow_trailers[GH_LIST_TEXT_MAX]; /* trailer names forwarded, comma-separated; "" = none */
    double header_timeout;       /* seconds to receive a complete head */
    double request_timeout;      /* seconds from the handshake to a first request's first byte */
    double keepalive_timeout;    /* seconds from a response's end to the next request's first byte */
    double body_timeout;         /* each period this long must bring min_body_rate x it bytes */
    uint64_t min_body_rate;      /* bytes per second of a request body, per body_timeout; 0: 1 byte */
    double send_timeout;         /* seconds the client may take no byte owed to it (tcp mode too) */
    gh_http1_rule_set log_rules; /* policy rules that are logged, not enforced */
    bool report_only;            /* validation = report: every policy rule logs */
    enum gh_method_policy method_policy;
    char allow_methods[GH_METHODS_MAX][GH_METHOD_LEN_MAX + 1]; /* GH_METHODS_LISTED */
    size_t n_methods;
    bool xff_append;             /* forwarded_for = append: extend a trusted proxy's chain */
    enum gh_forwarded_headers forwarded_headers; /* which forwarding fields gatehouse writes */
    /* Senders (the TCP peer, or the PROXY header's source) whose Forwarded,
     * X-Forwarded-*, X-Real-IP fields are believed; from anyone else they
     * are dropped. */
    struct gh_cidr trusted_proxies[GH_TRUSTED_NETS_MAX];
    size_t n_trusted_proxies;
    char hsts[GH_HSTS_MAX];      /* Strict-Transport-Security value, "" = none */

    /* mode = redirect: plaintext, every request gets 308 to https */
    int redirect_port;

    /* certificates beyond cert/key, chosen by SNI and key type */
    uint8_t certs[GH_LISTENER_CERTS_MAX]; /* indexes into gh_config.certs */
    size_t n_certs;
    enum gh_sni_unknown sni_unknown;
    char ocsp[GH_PATH_MAX];      /* staple for cert/key */
    char alpn[GH_ALPN_TEXT_MAX]; /* protocols offered, comma-separated; "" = no ALPN */

    /* client certificates */
    char client_ca[GH_PATH_MAX];
    char crl[GH_PATH_MAX];
    enum gh_client_verify client_verify;
    char client_allow_cn[GH_LIST_TEXT_MAX];     /* comma-separated; "" = any */
    char client_allow_dns[GH_LIST_TEXT_MAX];
    char client_allow_uri[GH_LIST_TEXT_MAX];
    char client_allow_sha256[GH_LIST_TEXT_MAX]; /* 64 lowercase hex each, colons removed */

    /* mode = tcp: what a client may send (framing) */
    enum gh_framing framing;
    enum gh_line_ending line_ending;
    enum gh_line_chars line_charset;
    uint32_t max_line;           /* bytes, terminator included */
    unsigned length_prefix;      /* 1, 2 or 4 bytes */
    bool length_little_endian;
    bool length_includes_prefix;
    uint64_t max_frame;          /* payload bytes of one length-prefixed frame */
    uint64_t max_bytes;          /* raw: client bytes per connection, 0 = no limit */
    uint64_t rate_limit;         /* client bytes per second per connection, 0 = none */

    /* mode = http: WebSocket after an Upgrade */
    bool websocket;
    char ws_origins[GH_LIST_TEXT_MAX]; /* allowed Origin values, "" = any */
    uint64_t ws_max_frame;
    uint64_t ws_max_message;

    /* PROXY protocol */
    enum gh_proxy_out proxy_protocol;           /* to the backend */
    enum gh_proxy_in accept_proxy;              /* from a balancer in front */
    struct gh_cidr proxy_trusted[GH_TRUSTED_NETS_MAX]; /* who may send it */
    size_t n_proxy_trusted;

    struct gh_key_lines key_lines;
};

struct gh_global_config {
    int workers;
    double shutdown_grace;       /* seconds */
    enum gh_log_level log_level;

    /* audit log; audit_file "" = off, "-" = stdout. See config/audit-log.md */
    char audit_file[GH_PATH_MAX];
    char audit_key_file[GH_PATH_MAX];  /* "" = unkeyed SHA-256 chain */
    enum gh_audit_fsync audit_fsync;
    double audit_fsync_interval;       /* seconds */
    double audit_flush_interval;       /* seconds */
    uint32_t audit_buffer_size;        /* bytes per worker */
    uint32_t audit_max_field;          /* client string bytes kept per field */

    /* session tickets: keys derived from this secret per rotation period,
     * the same in every worker and every instance that shares the file */
    char ticket_key_file[GH_PATH_MAX]; /* "" = a random secret per process */
    double ticket_rotation;            /* seconds per key */

    /* the instance lock and pid file (instance.h); "" = AUDIT_FILE.pid
     * when the audit log is a file, else none */
    char pid_file[GH_PATH_MAX];

    struct gh_key_lines key_lines;
};

struct gh_config {
    char path[GH_PATH_MAX];
    struct gh_global_config global;
    struct gh_listener_config listeners[GH_MAX_LISTENERS];
    size_t n_listeners;
    struct gh_cert_config certs[GH_MAX_CERTS];
    size_t n_certs;
};

struct gh_config_error {
    int line;                    /* 0 when the error is about the file */
    char key[48];                /* "" when not about one key */
    char message[GH_ERROR_TEXT_MAX];
};

struct gh_config_errors {
    char file[GH_PATH_MAX];
    struct gh_config_error items[GH_MAX_ERRORS];
    size_t count;                /* may exceed GH_MAX_ERRORS; items holds the first ones */
};

/* Loads and validates PATH. Returns 0 and fills *out, or -1 with *errs filled.
 * *out is large: allocate it, do not put it on a small stack. */
int gh_config_load(const char *path, struct gh_config *out, struct gh_config_errors *errs);

/* Same, from memory; NAME is used in error messages. TEXT need not be
 * NUL-terminated. Used by tests and the fuzzer. */
int gh_config_load_buffer(const char *name, const char *text, size_t len,
                          struct gh_config *out, struct gh_config_errors *errs);

/* Writes every error as "FILE:LINE: key: message\n". */
void gh_config_errors_print(const struct gh_config_errors *errs, FILE *to);

/* Appends an error found after loading (for example by the TLS service
 * when a certificate does not load), so it is reported like the others. */
void gh_config_error_add(struct gh_config_errors *errs, int line, const char *key,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Parsers for values, exposed for tests. Each returns 0 or -1 and, on -1,
 * writes a reason into why (at least GH_ERROR_TEXT_MAX bytes). */
int gh_parse_duration(const char *text, double *seconds, char *why);
int gh_parse_size(const char *text, uint64_t *bytes, char *why);
int gh_parse_sockaddr(const char *text, struct gh_sockaddr *out, char *why);

const char *gh_group_name(enum gh_group group);

/* The keys the loader knows, for tests that hold documentation (the
 * config reference, the man page) to the loader's key table: the name of
 * the INDEX-th key of SECTION, in table order, or NULL past the last. */
const char *gh_config_key_name(enum gh_config_section section, size_t index);

/* One key as the reference documentation states it (gatehouse.ini(5) is
 * generated from these by src/tools/gen_man_keys.c, so it cannot drift
 * from the loader). Every text is NUL-terminated within its bound. */
#define GH_KEY_DOC_TEXT_MAX 256
struct gh_config_key_doc {
    const char *name;
    bool required;
    char kind[GH_KEY_DOC_TEXT_MAX];     /* "duration", "size", "one of: a | b", ... */
    char range[GH_KEY_DOC_TEXT_MAX];    /* "" when the kind says it all */
    char modes[GH_KEY_DOC_TEXT_MAX];    /* listener keys: the modes it is valid in */
    const char *def;                    /* as written; a choice: its zero word; NULL: none */
};

/* Fills DOC for the INDEX-th key of SECTION (table order, as
 * gh_config_key_name); returns -1 past the last. */
int gh_config_key_doc(enum gh_config_section section, size_t index,
                      struct gh_config_key_doc *doc);

/* The line that set KEY in the section whose lines are LINES ("FILE:LINE:
 * key:" of an error found after loading); 0 when the file left KEY to its
 * default, or when KEY is no key of that section. */
int gh_config_key_line(const struct gh_key_lines *lines, const char *key);

/* gh_config_error_add() at the line that set KEY (see gh_config_key_line). */
void gh_config_key_error(struct gh_config_errors *errs, const struct gh_key_lines *lines,
                         const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
