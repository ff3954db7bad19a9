/* test_config.c - unit tests for the configuration loader (src/config.c).
 *
 * Pins the contract of include/gatehouse/config.h and config/gatehouse.ini:
 * every key's valid values and default, every error with its line and key,
 * error collection, the printer's format and the value parsers.
 *
 * Table-driven tests use CHECK(), which reports every failing row and fails
 * the test at the end, so one run lists all deviations at once.
 *
 * GH_EXAMPLE_INI (defined by tests/unit/meson.build) names config/gatehouse.ini. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatehouse/config.h"

static const char DEFAULT_CIPHERS[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char DEFAULT_CIPHERSUITES[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";

/* The line that set KEY in the section struct S (a pointer). */
#define KEY_LINE(s, key) gh_config_key_line(&(s)->key_lines, key)

/* ---- fixtures -------------------------------------------------------- */

static struct gh_config *cfg;
static struct gh_config_errors *errs;

static int group_setup(void **state)
{
    (void)state;
    cfg = malloc(sizeof *cfg);
    errs = malloc(sizeof *errs);
    return cfg && errs ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(cfg);
    free(errs);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    soft_failures = 0;
    return 0;
}

/* Loads TEXT (LEN bytes) from an exact-size heap copy with no terminating
 * NUL, so a sanitizer catches any read past the end. *cfg and *errs are
 * filled with junk first: the loader must set every field itself. */
static int load_n(const char *text, size_t len)
{
    char *copy = dup_exact(text, len);
    memset(cfg, 0xA5, sizeof *cfg);
    memset(errs, 0xA5, sizeof *errs);
    int rc = gh_config_load_buffer("test.ini", copy, len, cfg, errs);
    free(copy);
    return rc;
}

static int load(const char *text)
{
    return load_n(text, strlen(text));
}

static void dump_errors(void)
{
    print_error("  loader reported %zu error(s):\n", errs->count);
    size_t n = errs->count < GH_MAX_ERRORS ? errs->count : GH_MAX_ERRORS;
    for (size_t i = 0; i < n; i++)
        print_error("    %d: %s: %s\n", errs->items[i].line, errs->items[i].key,
                    errs->items[i].message);
}

/* The first kept error at LINE whose key is KEY (any key when NULL). */
static const struct gh_config_error *find_error(int line, const char *key)
{
    size_t n = errs->count < GH_MAX_ERRORS ? errs->count : GH_MAX_ERRORS;
    for (size_t i = 0; i < n; i++)
        if (errs->items[i].line == line && (!key || strcmp(errs->items[i].key, key) == 0))
            return &errs->items[i];
    return NULL;
}

/* Soft-checks that an error at LINE with KEY exists and, when SUBSTR is not
 * NULL, that its message contains SUBSTR. WHAT names the case. */
static void expect_error(const char *what, int line, const char *key, const char *substr)
{
    const struct gh_config_error *e = find_error(line, key);
    CHECK(e != NULL, "%s: no error at line %d with key \"%s\"", what, line, key ? key : "*");
    if (e) {
        CHECK(e->message[0] != '\0', "%s: empty message", what);
        if (substr)
            CHECK(strstr(e->message, substr) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", what, e->message, substr);
    } else {
        dump_errors();
    }
}

/* The same, and that it is the only error. */
static void expect_only_error(const char *what, int rc, int line, const char *key,
                              const char *substr)
{
    CHECK(rc == -1, "%s: rc %d, want -1", what, rc);
    CHECK(errs->count == 1, "%s: %zu errors, want 1", what, errs->count);
    if (errs->count != 1 && find_error(line, key))
        dump_errors();
    expect_error(what, line, key, substr);
}

static void expect_ok(const char *what, int rc)
{
    CHECK(rc == 0 && errs->count == 0, "%s: rc %d with %zu error(s), want a clean load",
          what, rc, errs->count);
    if (errs->count)
        dump_errors();
}

/* ---- building config text --------------------------------------------- */

static char tb[400000];
static size_t tb_len;
static int tb_lines;

static void tb_reset(void)
{
    tb_len = 0;
    tb_lines = 0;
    tb[0] = '\0';
}

/* Appends one line (FMT and a newline); returns its 1-based line number. */
static int L(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int L(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tb + tb_len, sizeof tb - tb_len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n + 2 < sizeof tb - tb_len);
    tb_len += (size_t)n;
    tb[tb_len++] = '\n';
    tb[tb_len] = '\0';
    return ++tb_lines;
}

/* Appends a listener with its four required keys; returns the header line. */
static int add_listener(const char *name, const char *listen)
{
    int header = L("[listener:%s]", name);
    L("listen = %s", listen);
    L("backend = 127.0.0.1:8080");
    L("cert = /etc/gatehouse/%s.crt", name);
    L("key = /etc/gatehouse/%s.key", name);
    return header;
}

static bool is_global_key(const char *key)
{
    return strcmp(key, "workers") == 0 || strcmp(key, "shutdown_grace") == 0 ||
           strcmp(key, "log_level") == 0 || strncmp(key, "audit_", 6) == 0 ||
           strncmp(key, "ticket_", 7) == 0;
}

static const char *const required_keys[] = {"listen", "backend", "cert", "key"};
static const char *const required_values[] = {"127.0.0.1:8443", "127.0.0.1:8080",
                                              "/etc/gatehouse/a.crt", "/etc/gatehouse/a.key"};

/* Loads a valid config (one listener "a") in which KEY = VALUE, in [global]
 * or in the listener as KEY requires; *key_line gets KEY's line. */
static int load_kv(const char *key, const char *value, int *key_line)
{
    tb_reset();
    *key_line = 0;
    if (is_global_key(key)) {
        L("[global]");
        *key_line = L("%s = %s", key, value);
        add_listener("a", "127.0.0.1:8443");
    } else {
        L("[listener:a]");
        for (size_t i = 0; i < ARRAY_LEN(required_keys); i++) {
            if (strcmp(key, required_keys[i]) == 0)
                *key_line = L("%s = %s", key, value);
            else
                L("%s = %s", required_keys[i], required_values[i]);
        }
        if (!*key_line)
            *key_line = L("%s = %s", key, value);
    }
    return load(tb);
}

/* Numeric view of a scalar key's stored value (listener 0 for listener keys). */
static double field(const char *key)
{
    const struct gh_listener_config *l = &cfg->listeners[0];
    if (!strcmp(key, "workers")) return cfg->global.workers;
    if (!strcmp(key, "shutdown_grace")) return cfg->global.shutdown_grace;
    if (!strcmp(key, "log_level")) return cfg->global.log_level;
    if (!strcmp(key, "audit_fsync")) return cfg->global.audit_fsync;
    if (!strcmp(key, "audit_fsync_interval")) return cfg->global.audit_fsync_interval;
    if (!strcmp(key, "audit_flush_interval")) return cfg->global.audit_flush_interval;
    if (!strcmp(key, "audit_buffer_size")) return cfg->global.audit_buffer_size;
    if (!strcmp(key, "audit_max_field")) return cfg->global.audit_max_field;
    if (!strcmp(key, "ticket_rotation")) return cfg->global.ticket_rotation;
    if (!strcmp(key, "sni_unknown")) return l->sni_unknown;
    if (!strcmp(key, "proxy_protocol")) return l->proxy_protocol;
    if (!strcmp(key, "mode")) return l->mode;
    if (!strcmp(key, "tls_min_version")) return l->tls_min_version;
    if (!strcmp(key, "handshake_timeout")) return l->handshake_timeout;
    if (!strcmp(key, "connect_timeout")) return l->connect_timeout;
    if (!strcmp(key, "idle_timeout")) return l->idle_timeout;
    if (!strcmp(key, "send_timeout")) return l->send_timeout;
    if (!strcmp(key, "max_connections")) return l->max_connections;
    if (!strcmp(key, "buffer_size")) return l->buffer_size;
    if (!strcmp(key, "backlog")) return l->backlog;
    fail_msg("field(): unknown key %s", key);
    return 0;
}

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (fabs(b) > 1 ? fabs(b) : 1);
}

/* ---- defaults and stored values --------------------------------------- */

static void check_listener_defaults(const char *what, const struct gh_listener_config *l)
{
    CHECK(l->mode == GH_MODE_TCP, "%s: mode %d", what, (int)l->mode);
    CHECK(l->method_policy == GH_METHODS_SAFE_DEFAULT && l->n_methods == 0,
          "%s: method_policy %d n_methods %zu", what, (int)l->method_policy, l->n_methods);
    CHECK(l->tls_min_version == 12, "%s: tls_min_version %d", what, l->tls_min_version);
    CHECK(strcmp(l->ciphers, DEFAULT_CIPHERS) == 0, "%s: ciphers \"%s\"", what, l->ciphers);
    CHECK(strcmp(l->ciphersuites, DEFAULT_CIPHERSUITES) == 0, "%s: ciphersuites \"%s\"", what,
          l->ciphersuites);
    CHECK(l->n_groups == 3, "%s: n_groups %zu", what, l->n_groups);
    if (l->n_groups == 3)
        CHECK(l->groups[0] == GH_GROUP_X25519 && l->groups[1] == GH_GROUP_P256 &&
                  l->groups[2] == GH_GROUP_P384,
              "%s: groups %d:%d:%d", what, l->groups[0], l->groups[1], l->groups[2]);
    CHECK(near(l->handshake_timeout, 10), "%s: handshake_timeout %g", what, l->handshake_timeout);
    CHECK(near(l->connect_timeout, 5), "%s: connect_timeout %g", what, l->connect_timeout);
    CHECK(near(l->idle_timeout, 300), "%s: idle_timeout %g", what, l->idle_timeout);
    CHECK(near(l->send_timeout, 30), "%s: send_timeout %g", what, l->send_timeout);
    CHECK(near(l->request_timeout, 10) && near(l->keepalive_timeout, 15) &&
              near(l->body_timeout, 10) && l->min_body_rate == 500,
          "%s: request/keepalive/body_timeout %g/%g/%g min_body_rate %llu", what,
          l->request_timeout, l->keepalive_timeout, l->body_timeout,
          (unsigned long long)l->min_body_rate);
    CHECK(l->max_connections == 10000, "%s: max_connections %u", what, l->max_connections);
    CHECK(l->buffer_size == 16384, "%s: buffer_size %u", what, l->buffer_size);
    CHECK(l->backlog == 511, "%s: backlog %d", what, l->backlog);
}

static void check_global_defaults(const char *what)
{
    CHECK(cfg->global.workers == 1, "%s: workers %d", what, cfg->global.workers);
    CHECK(near(cfg->global.shutdown_grace, 30), "%s: shutdown_grace %g", what,
          cfg->global.shutdown_grace);
    CHECK(cfg->global.log_level == GH_LOG_INFO, "%s: log_level %d", what,
          (int)cfg->global.log_level);
    CHECK(cfg->global.audit_file[0] == '\0', "%s: audit_file \"%s\"", what, cfg->global.audit_file);
    CHECK(cfg->global.audit_key_file[0] == '\0', "%s: audit_key_file \"%s\"", what,
          cfg->global.audit_key_file);
    CHECK(cfg->global.audit_fsync == GH_AUDIT_FSYNC_INTERVAL, "%s: audit_fsync %d", what,
          (int)cfg->global.audit_fsync);
    CHECK(near(cfg->global.audit_fsync_interval, 1), "%s: audit_fsync_interval %g", what,
          cfg->global.audit_fsync_interval);
    CHECK(near(cfg->global.audit_flush_interval, 0.1), "%s: audit_flush_interval %g", what,
          cfg->global.audit_flush_interval);
    CHECK(cfg->global.audit_buffer_size == 1u << 20, "%s: audit_buffer_size %u", what,
          cfg->global.audit_buffer_size);
    CHECK(cfg->global.audit_max_field == 256, "%s: audit_max_field %u", what,
          cfg->global.audit_max_field);
}

static void check_inet(const char *what, const struct gh_sockaddr *a, const char *ip, int port,
                       const char *text)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
    struct in_addr want;
    assert_int_equal(inet_pton(AF_INET, ip, &want), 1);
    CHECK(sin->sin_family == AF_INET, "%s: family %d", what, sin->sin_family);
    CHECK(a->len == sizeof(struct sockaddr_in), "%s: len %u", what, (unsigned)a->len);
    CHECK(sin->sin_addr.s_addr == want.s_addr, "%s: address is not %s", what, ip);
    CHECK(ntohs(sin->sin_port) == port, "%s: port %u, want %d", what, ntohs(sin->sin_port), port);
    CHECK(strcmp(a->text, text) == 0, "%s: text \"%s\"", what, a->text);
}

static void check_inet6(const char *what, const struct gh_sockaddr *a, const char *ip, int port,
                        const char *text)
{
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
    struct in6_addr want;
    assert_int_equal(inet_pton(AF_INET6, ip, &want), 1);
    CHECK(sin6->sin6_family == AF_INET6, "%s: family %d", what, sin6->sin6_family);
    CHECK(a->len == sizeof(struct sockaddr_in6), "%s: len %u", what, (unsigned)a->len);
    CHECK(memcmp(&sin6->sin6_addr, &want, sizeof want) == 0, "%s: address is not %s", what, ip);
    CHECK(ntohs(sin6->sin6_port) == port, "%s: port %u, want %d", what, ntohs(sin6->sin6_port),
          port);
    CHECK(strcmp(a->text, text) == 0, "%s: text \"%s\"", what, a->text);
}

static void test_minimal_config_gets_every_default(void **state)
{
    (void)state;
    tb_reset();
    int header = add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    expect_ok("minimal", rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->n_listeners, 1);
    CHECK(strcmp(cfg->path, "test.ini") == 0, "path \"%s\"", cfg->path);
    CHECK(strcmp(errs->file, "test.ini") == 0, "errs->file \"%s\"", errs->file);
    check_global_defaults("minimal");
    const struct gh_listener_config *l = &cfg->listeners[0];
    CHECK(strcmp(l->name, "a") == 0, "name \"%s\"", l->name);
    CHECK(l->line == header, "line %d", l->line);
    check_inet("listen", &l->listen, "127.0.0.1", 8443, "127.0.0.1:8443");
    check_inet("backend", &l->backend, "127.0.0.1", 8080, "127.0.0.1:8080");
    CHECK(strcmp(l->cert, "/etc/gatehouse/a.crt") == 0, "cert \"%s\"", l->cert);
    CHECK(KEY_LINE(l, "cert") == 4, "cert_line %d", KEY_LINE(l, "cert"));
    CHECK(strcmp(l->key, "/etc/gatehouse/a.key") == 0, "key \"%s\"", l->key);
    CHECK(KEY_LINE(l, "key") == 5, "key_line %d", KEY_LINE(l, "key"));
    check_listener_defaults("minimal", l);
    END_CHECKS();
}

static void test_empty_global_section_keeps_defaults(void **state)
{
    (void)state;
    tb_reset();
    L("; comment");
    L("# another comment");
    L("%s", "");
    L("[global]");
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    expect_ok("empty global", rc);
    check_global_defaults("empty global");
    END_CHECKS();
}

static void test_audit_paths_and_cross_key_rules(void **state)
{
    (void)state;
    int rc;

    /* relative to the config file's directory; "-" is stdout, kept as is */
    tb_reset();
    L("[global]");
    L("audit_file = logs/audit.jsonl");
    L("audit_key_file = audit.key");
    add_listener("a", "127.0.0.1:8443");
    rc = gh_config_load_buffer("/etc/gatehouse/g.ini", tb, strlen(tb), cfg, errs);
    expect_ok("relative audit paths", rc);
    CHECK(strcmp(cfg->global.audit_file, "/etc/gatehouse/logs/audit.jsonl") == 0, "audit_file %s",
          cfg->global.audit_file);
    CHECK(strcmp(cfg->global.audit_key_file, "/etc/gatehouse/audit.key") == 0,
          "audit_key_file %s", cfg->global.audit_key_file);
    int audit_file_line = KEY_LINE(&cfg->global, "audit_file");
    int audit_key_file_line = KEY_LINE(&cfg->global, "audit_key_file");
    CHECK(audit_file_line == 2 && audit_key_file_line == 3, "lines %d %d", audit_file_line,
          audit_key_file_line);

    tb_reset();
    L("[global]");
    L("audit_file = -");
    L("workers = 4");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    expect_ok("stdout with workers", rc);
    CHECK(strcmp(cfg->global.audit_file, "-") == 0, "audit_file %s", cfg->global.audit_file);

    /* each worker keeps its own chain: a shared file is refused */
    tb_reset();
    L("[global]");
    L("workers = 2");
    int line = L("audit_file = /var/log/audit.jsonl");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    CHECK(rc < 0, "workers without %%w: rc %d", rc);
    expect_error("workers without %w", line, "audit_file", "%w");

    tb_reset();
    L("[global]");
    L("workers = 2");
    L("audit_file = /var/log/audit-%%w.jsonl");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    expect_ok("workers with %w", rc);

    tb_reset();
    L("[global]");
    line = L("audit_key_file = /etc/k");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    CHECK(rc < 0, "key without file: rc %d", rc);
    expect_error("key without file", line, "audit_key_file", "audit_file is not");
    END_CHECKS();
}

static void test_tls_feature_rules(void **state)
{
    (void)state;
    int rc, line;

    /* [cert:NAME] sections are resolved into the listener's certs */
    tb_reset();
    L("[cert:b]");
    L("cert = /etc/b.pem");
    L("key = /etc/b.key");
    L("names = b.example, *.b.example");
    L("[cert:c]");
    L("cert = /etc/c.pem");
    L("key = /etc/c.key");
    add_listener("a", "127.0.0.1:8443");
    L("certs = c, b");
    L("client_ca = /etc/ca.pem");
    L("client_allow_sha256 = AB:%s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
    L("accept_proxy = any");
    L("proxy_trusted = 10.0.0.0/8, ::1");
    rc = load(tb);
    expect_ok("cert sections", rc);
    const struct gh_listener_config *l = &cfg->listeners[0];
    CHECK(cfg->n_certs == 2 && l->n_certs == 2 && l->certs[0] == 1 && l->certs[1] == 0,
          "certs %zu/%zu", cfg->n_certs, l->n_certs);
    CHECK(strcmp(cfg->certs[0].names, "b.example,*.b.example") == 0, "names %s",
          cfg->certs[0].names);
    CHECK(l->client_verify == GH_VERIFY_REQUIRED, "client_verify %d", (int)l->client_verify);
    CHECK(strcmp(l->client_allow_sha256,
                 "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd") == 0,
          "sha256 %s", l->client_allow_sha256);
    CHECK(l->n_proxy_trusted == 2, "trusted %zu", l->n_proxy_trusted);
    CHECK(l->alpn[0] == '\0', "tcp alpn %s", l->alpn);

    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    line = L("certs = missing");
    rc = load(tb);
    CHECK(rc < 0, "missing cert section: rc %d", rc);
    expect_error("missing cert section", line, "certs", "no [cert:missing]");

    tb_reset();
    line = L("[cert:k]");
    L("cert = /etc/k.pem");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    CHECK(rc < 0, "cert without key: rc %d", rc);
    expect_error("cert without key", line, "key", "required");

    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    line = L("client_allow_cn = x");
    rc = load(tb);
    CHECK(rc < 0, "allow without ca: rc %d", rc);
    expect_error("allow without ca", line, "client_allow_cn", "client_ca");

    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    line = L("accept_proxy = v2");
    rc = load(tb);
    CHECK(rc < 0, "accept_proxy alone: rc %d", rc);
    expect_error("accept_proxy alone", line, "accept_proxy", "proxy_trusted");

    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    L("mode = http");
    line = L("alpn = h2");
    rc = load(tb);
    CHECK(rc < 0, "alpn h2 in http: rc %d", rc);
    expect_error("alpn h2 in http", line, "alpn", "http/1.1");

    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    L("mode = http");
    rc = load(tb);
    expect_ok("http default alpn", rc);
    CHECK(strcmp(cfg->listeners[0].alpn, "http/1.1") == 0, "http alpn %s", cfg->listeners[0].alpn);
    END_CHECKS();
}

static void test_example_file_loads_with_defaults(void **state)
{
    (void)state;
    const char *path = GH_EXAMPLE_INI;
    memset(cfg, 0xA5, sizeof *cfg);
    memset(errs, 0xA5, sizeof *errs);
    int rc = gh_config_load(path, cfg, errs);
    expect_ok(path, rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->n_listeners, 1);
    check_global_defaults("example");
    const struct gh_listener_config *l = &cfg->listeners[0];
    CHECK(strcmp(l->name, "example") == 0, "name \"%s\"", l->name);
    check_inet("listen", &l->listen, "127.0.0.1", 8443, "127.0.0.1:8443");
    check_inet("backend", &l->backend, "127.0.0.1", 8080, "127.0.0.1:8080");
    CHECK(strcmp(l->cert, "/etc/gatehouse/server.crt") == 0, "cert \"%s\"", l->cert);
    CHECK(strcmp(l->key, "/etc/gatehouse/server.key") == 0, "key \"%s\"", l->key);
    check_listener_defaults("example", l);
    END_CHECKS();
}

struct value_case {
    const char *key;
    const char *value;
    double want;
};

static const struct value_case valid_values[] = {
    {"workers", "1", 1},
    {"workers", "8", 8},
    {"workers", "64", 64},
    {"shutdown_grace", "0", 0},
    {"shutdown_grace", "0s", 0},
    {"shutdown_grace", "30s", 30},
    {"shutdown_grace", "500ms", 0.5},
    {"shutdown_grace", "1.5m", 90},
    {"shutdown_grace", "1h", 3600},
    {"shutdown_grace", "3600", 3600},
    {"log_level", "debug", GH_LOG_DEBUG},
    {"log_level", "info", GH_LOG_INFO},
    {"log_level", "warn", GH_LOG_WARN},
    {"log_level", "error", GH_LOG_ERROR},
    {"mode", "tcp", GH_MODE_TCP},
    {"mode", "http", GH_MODE_HTTP},
    {"tls_min_version", "1.2", 12},
    {"tls_min_version", "1.3", 13},
    {"handshake_timeout", "10s", 10},
    {"handshake_timeout", "1ms", 0.001},
    {"handshake_timeout", "500ms", 0.5},
    {"handshake_timeout", "2.5", 2.5},
    {"handshake_timeout", "1.5m", 90},
    {"handshake_timeout", "60m", 3600},
    {"handshake_timeout", "1h", 3600},
    {"connect_timeout", "5s", 5},
    {"connect_timeout", "250ms", 0.25},
    {"connect_timeout", "3600s", 3600},
    {"idle_timeout", "0.5s", 0.5},
    {"idle_timeout", "5m", 300},
    {"idle_timeout", "2h", 7200},
    {"idle_timeout", "1440m", 86400},
    {"idle_timeout", "24h", 86400},
    {"idle_timeout", "86400", 86400},
    {"send_timeout", "300ms", 0.3},
    {"send_timeout", "24h", 86400},
    {"max_connections", "1", 1},
    {"max_connections", "10000", 10000},
    {"max_connections", "1000000", 1000000},
    {"buffer_size", "4k", 4096},
    {"buffer_size", "4096", 4096},
    {"buffer_size", "16k", 16384},
    {"buffer_size", "64k", 65536},
    {"buffer_size", "1024k", 1048576},
    {"buffer_size", "1m", 1048576},
    {"buffer_size", "1048576", 1048576},
    {"backlog", "1", 1},
    {"backlog", "511", 511},
    {"backlog", "65535", 65535},
    {"audit_fsync", "never", GH_AUDIT_FSYNC_NEVER},
    {"audit_fsync", "interval", GH_AUDIT_FSYNC_INTERVAL},
    {"audit_fsync", "always", GH_AUDIT_FSYNC_ALWAYS},
    {"audit_fsync_interval", "250ms", 0.25},
    {"audit_fsync_interval", "1h", 3600},
    {"audit_flush_interval", "1ms", 0.001},
    {"audit_flush_interval", "1m", 60},
    {"audit_buffer_size", "64k", 65536},
    {"audit_buffer_size", "256m", 268435456},
    {"audit_max_field", "16", 16},
    {"audit_max_field", "4096", 4096},
    {"ticket_rotation", "1h", 3600},
    {"ticket_rotation", "168h", 604800},
    {"sni_unknown", "default", GH_SNI_DEFAULT},
    {"sni_unknown", "refuse", GH_SNI_REFUSE},
    {"proxy_protocol", "off", GH_PROXY_OUT_OFF},
    {"proxy_protocol", "v1", GH_PROXY_OUT_V1},
    {"proxy_protocol", "v2", GH_PROXY_OUT_V2},
};

static void test_scalar_values_are_stored(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_values); i++) {
        const struct value_case *c = &valid_values[i];
        char what[128];
        snprintf(what, sizeof what, "%s = %s", c->key, c->value);
        int line;
        int rc = load_kv(c->key, c->value, &line);
        expect_ok(what, rc);
        if (rc == 0)
            CHECK(near(field(c->key), c->want), "%s: stored %g, want %g", what, field(c->key),
                  c->want);
    }
    END_CHECKS();
}

struct bad_case {
    const char *key;
    const char *value;
};

#define MANY_NINES "99999999999999999999"

static const struct bad_case invalid_values[] = {
    /* integers */
    {"workers", "0"}, {"workers", "65"}, {"workers", "-1"}, {"workers", "abc"},
    {"workers", "1.5"}, {"workers", ""}, {"workers", MANY_NINES}, {"workers", "4294967297"},
    {"workers", "5abc"}, {"workers", "0x10"},
    {"max_connections", "0"}, {"max_connections", "1000001"}, {"max_connections", "-1"},
    {"max_connections", "abc"}, {"max_connections", "1.5"}, {"max_connections", ""},
    {"max_connections", MANY_NINES}, {"max_connections", "4294967297"},
    {"backlog", "0"}, {"backlog", "65536"}, {"backlog", "-1"}, {"backlog", "abc"},
    {"backlog", "1.5"}, {"backlog", ""}, {"backlog", MANY_NINES}, {"backlog", "4294967297"},
    /* durations */
    {"shutdown_grace", "-1s"}, {"shutdown_grace", "-0.5"}, {"shutdown_grace", "3601s"},
    {"shutdown_grace", "61m"}, {"shutdown_grace", "2h"}, {"shutdown_grace", "abc"},
    {"shutdown_grace", ""}, {"shutdown_grace", "10x"}, {"shutdown_grace", "s"},
    {"shutdown_grace", "1e999"}, {"shutdown_grace", "nan"}, {"shutdown_grace", "inf"},
    {"handshake_timeout", "0"}, {"handshake_timeout", "0s"}, {"handshake_timeout", "0ms"},
    {"handshake_timeout", "0.0"}, {"handshake_timeout", "-1"}, {"handshake_timeout", "3601"},
    {"handshake_timeout", "61m"}, {"handshake_timeout", "1.5h"}, {"handshake_timeout", "abc"},
    {"handshake_timeout", ""}, {"handshake_timeout", "10x"}, {"handshake_timeout", "10sec"},
    {"handshake_timeout", "nan"}, {"handshake_timeout", "inf"},
    {"connect_timeout", "0"}, {"connect_timeout", "-5s"}, {"connect_timeout", "3601s"},
    {"connect_timeout", ""}, {"connect_timeout", "5 s s"},
    {"idle_timeout", "0"}, {"idle_timeout", "86401"}, {"idle_timeout", "1441m"},
    {"idle_timeout", "25h"}, {"idle_timeout", ""}, {"idle_timeout", "-5m"},
    {"send_timeout", "0"}, {"send_timeout", "86401"}, {"send_timeout", "soon"},
    /* sizes */
    {"buffer_size", "0"}, {"buffer_size", "4095"}, {"buffer_size", "3k"},
    {"buffer_size", "1048577"}, {"buffer_size", "2m"}, {"buffer_size", "1g"},
    {"buffer_size", "abc"}, {"buffer_size", ""}, {"buffer_size", "-1"},
    {"buffer_size", "1.5k"}, {"buffer_size", "16x"}, {"buffer_size", "16kb"},
    {"buffer_size", "k"}, {"buffer_size", MANY_NINES},
    /* enumerations */
    {"tls_min_version", ""}, {"tls_min_version", "1.0"}, {"tls_min_version", "1.1"},
    {"tls_min_version", "1.4"}, {"tls_min_version", "12"}, {"tls_min_version", "1"},
    {"tls_min_version", "TLSv1.2"}, {"tls_min_version", "1.2.0"},
    {"log_level", ""}, {"log_level", "trace"}, {"log_level", "warning"},
    {"log_level", "fatal"},
    {"mode", ""}, {"mode", "HTTP"}, {"mode", "udp"},
    /* addresses */
    {"listen", "127.0.0.1"}, {"listen", "host.example:80"}, {"listen", "1.2.3.4:0"},
    {"listen", "1.2.3.4:70000"}, {"listen", "[::1:80"}, {"listen", ""},
    {"backend", "127.0.0.1"}, {"backend", "host.example:80"}, {"backend", "1.2.3.4:0"},
    {"backend", "1.2.3.4:70000"}, {"backend", "[::1:80"}, {"backend", ""},
    /* groups */
    {"groups", ""}, {"groups", "X448"}, {"groups", "P-521"}, {"groups", "X25519:X25519"},
    {"groups", "P-256:secp256r1"}, {"groups", "prime256v1:secp256r1"},
    {"groups", "P-384:secp384r1"}, {"groups", "X25519::P-256"},
    /* cipher lists */
    {"ciphers", "AES128-SHA"}, {"ciphers", "ECDHE-RSA-AES128-SHA256"},
    {"ciphers", "DHE-RSA-AES128-GCM-SHA256"},
    {"ciphers", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA"},
    {"ciphers", "ECDHE-RSA-AES128-GCM-SHA256::ECDHE-RSA-AES256-GCM-SHA384"},
    {"ciphersuites", ""}, {"ciphersuites", "AES128-GCM-SHA256"},
    {"ciphersuites", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"ciphersuites", "TLS13-AES128-GCM-SHA256:AES256-GCM-SHA384"},
    /* audit */
    {"audit_file", ""}, {"audit_key_file", ""},
    {"audit_fsync", ""}, {"audit_fsync", "sometimes"}, {"audit_fsync", "Always"},
    {"audit_fsync_interval", "0"}, {"audit_fsync_interval", "3601s"},
    {"audit_flush_interval", "0"}, {"audit_flush_interval", "61s"}, {"audit_flush_interval", "x"},
    {"audit_buffer_size", "63k"}, {"audit_buffer_size", "257m"}, {"audit_buffer_size", "1g"},
    {"audit_max_field", "15"}, {"audit_max_field", "4097"}, {"audit_max_field", "-1"},
    /* TLS features */
    {"ticket_rotation", "500ms"}, {"ticket_rotation", "169h"}, {"ticket_key_file", ""},
    {"sni_unknown", "reject"}, {"sni_unknown", ""},
    {"certs", ""}, {"certs", "a,,b"}, {"certs", "bad name"},
    {"alpn", ""}, {"alpn", "h2,"}, {"alpn", "a b"},
    {"client_verify", "yes"}, {"client_verify", ""},
    {"client_allow_sha256", "abcd"}, {"client_allow_sha256", "zz"},
    {"client_allow_dns", "*.*.example"}, {"client_allow_dns", "a..b"}, {"client_allow_dns", ""},
    {"client_allow_uri", "no-scheme"}, {"client_allow_uri", "spiffe:"},
    {"proxy_protocol", "v3"}, {"proxy_protocol", "on"},
    {"accept_proxy", "yes"},
    {"proxy_trusted", "10.0.0.1/8"}, {"proxy_trusted", "300.1.1.1"}, {"proxy_trusted", "::1/129"},
    {"proxy_trusted", ""}, {"proxy_trusted", "10.0.0.0/08"},
};

/* A bad value gives one error, at its line, with its key. A bad listen or
 * backend may also be reported as missing; anything else must be alone. */
/* allow_methods: a list of method tokens narrows the default (every
 * method but CONNECT and TRACE) to exactly those, case kept. */
static void test_allow_methods_list(void **state)
{
    (void)state;
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    L("mode = http");
    L("allow_methods = GET, PROPFIND, VERSION-CONTROL, mkcol");
    int rc = load(tb);
    expect_ok("allow_methods", rc);
    const struct gh_listener_config *l = &cfg->listeners[0];
    CHECK(l->method_policy == GH_METHODS_LISTED && l->n_methods == 4, "policy %d, %zu methods",
          (int)l->method_policy, l->n_methods);
    if (l->n_methods == 4)
        CHECK(!strcmp(l->allow_methods[1], "PROPFIND") &&
                  !strcmp(l->allow_methods[2], "VERSION-CONTROL") &&
                  !strcmp(l->allow_methods[3], "mkcol"),
              "stored %s %s %s", l->allow_methods[1], l->allow_methods[2], l->allow_methods[3]);
    static const char *const bad[] = {"", "GET, P(ST", "VERYLONGMETHODNAME", "GET, A B"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        tb_reset();
        add_listener("a", "127.0.0.1:8443");
        L("mode = http");
        int line = L("allow_methods = %s", bad[i]);
        rc = load(tb);
        expect_only_error(bad[i], rc, line, "allow_methods", NULL);
    }
    END_CHECKS();
}

static void test_invalid_values_are_errors_at_their_line(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(invalid_values); i++) {
        const struct bad_case *c = &invalid_values[i];
        char what[160];
        snprintf(what, sizeof what, "%s = \"%s\"", c->key, c->value);
        int line;
        int rc = load_kv(c->key, c->value, &line);
        if (!strcmp(c->key, "listen") || !strcmp(c->key, "backend")) {
            CHECK(rc == -1, "%s: rc %d, want -1", what, rc);
            expect_error(what, line, c->key, NULL);
        } else {
            expect_only_error(what, rc, line, c->key, NULL);
        }
    }
    END_CHECKS();
}

static void test_cipher_errors_name_the_cipher(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value, *bad;
    } cases[] = {
        {"ciphers", "AES128-SHA", "AES128-SHA"},
        {"ciphers", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256"},
        {"ciphers", "DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int line;
        int rc = load_kv(cases[i].key, cases[i].value, &line);
        expect_only_error(cases[i].value, rc, line, cases[i].key, cases[i].bad);
    }
    END_CHECKS();
}

static void test_every_listener_key_is_stored(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    L("workers = 4");
    L("shutdown_grace = 2m");
    L("log_level = debug");
    int header = L("[listener:web-1.prod_A]");
    L("listen = [::1]:9443");
    L("backend = localhost:9080");
    L("mode = tcp");
    int cert_line = L("cert = /srv/certs/web one.pem");
    int key_line = L("key = /srv/keys/web.key");
    L("tls_min_version = 1.3");
    int ciphers_line = L("ciphers = ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384");
    int suites_line = L("ciphersuites = TLS_AES_256_GCM_SHA384:TLS13-AES128-GCM-SHA256");
    L("groups = P-384:prime256v1");
    L("handshake_timeout = 3s");
    L("connect_timeout = 1500ms");
    L("idle_timeout = 2h");
    L("max_connections = 123456");
    L("buffer_size = 32k");
    L("backlog = 4096");
    int rc = load(tb);
    expect_ok("all keys", rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->n_listeners, 1);
    CHECK(cfg->global.workers == 4, "workers %d", cfg->global.workers);
    CHECK(near(cfg->global.shutdown_grace, 120), "shutdown_grace %g", cfg->global.shutdown_grace);
    CHECK(cfg->global.log_level == GH_LOG_DEBUG, "log_level %d", (int)cfg->global.log_level);
    const struct gh_listener_config *l = &cfg->listeners[0];
    CHECK(strcmp(l->name, "web-1.prod_A") == 0, "name \"%s\"", l->name);
    CHECK(l->line == header, "line %d, want %d", l->line, header);
    check_inet6("listen", &l->listen, "::1", 9443, "[::1]:9443");
    check_inet("backend", &l->backend, "127.0.0.1", 9080, "localhost:9080");
    CHECK(l->mode == GH_MODE_TCP, "mode %d", (int)l->mode);
    CHECK(strcmp(l->cert, "/srv/certs/web one.pem") == 0, "cert \"%s\"", l->cert);
    CHECK(KEY_LINE(l, "cert") == cert_line, "cert line %d, want %d", KEY_LINE(l, "cert"),
          cert_line);
    CHECK(strcmp(l->key, "/srv/keys/web.key") == 0, "key \"%s\"", l->key);
    CHECK(KEY_LINE(l, "key") == key_line, "key line %d, want %d", KEY_LINE(l, "key"), key_line);
    CHECK(l->tls_min_version == 13, "tls_min_version %d", l->tls_min_version);
    CHECK(strcmp(l->ciphers, "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384") == 0,
          "ciphers \"%s\"", l->ciphers);
    CHECK(KEY_LINE(l, "ciphers") == ciphers_line, "ciphers line %d, want %d", KEY_LINE(l, "ciphers"),
          ciphers_line);
    CHECK(strcmp(l->ciphersuites, "TLS_AES_256_GCM_SHA384:TLS13-AES128-GCM-SHA256") == 0,
          "ciphersuites \"%s\"", l->ciphersuites);
    CHECK(KEY_LINE(l, "ciphersuites") == suites_line, "ciphersuites_line %d, want %d",
          KEY_LINE(l, "ciphersuites"), suites_line);
    CHECK(l->n_groups == 2 && l->groups[0] == GH_GROUP_P384 && l->groups[1] == GH_GROUP_P256,
          "groups: n=%zu", l->n_groups);
    CHECK(near(l->handshake_timeout, 3), "handshake_timeout %g", l->handshake_timeout);
    CHECK(near(l->connect_timeout, 1.5), "connect_timeout %g", l->connect_timeout);
    CHECK(near(l->idle_timeout, 7200), "idle_timeout %g", l->idle_timeout);
    CHECK(l->max_connections == 123456, "max_connections %u", l->max_connections);
    CHECK(l->buffer_size == 32768, "buffer_size %u", l->buffer_size);
    CHECK(l->backlog == 4096, "backlog %d", l->backlog);
    END_CHECKS();
}

static void test_groups_and_aliases(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        size_t n;
        enum gh_group g[3];
    } cases[] = {
        {"X25519:P-256:P-384", 3, {GH_GROUP_X25519, GH_GROUP_P256, GH_GROUP_P384}},
        {"P-384:X25519", 2, {GH_GROUP_P384, GH_GROUP_X25519}},
        {"X25519", 1, {GH_GROUP_X25519}},
        {"secp256r1", 1, {GH_GROUP_P256}},
        {"prime256v1", 1, {GH_GROUP_P256}},
        {"secp384r1:X25519", 2, {GH_GROUP_P384, GH_GROUP_X25519}},
        {"P-384:prime256v1:X25519", 3, {GH_GROUP_P384, GH_GROUP_P256, GH_GROUP_X25519}},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int line;
        int rc = load_kv("groups", cases[i].value, &line);
        expect_ok(cases[i].value, rc);
        if (rc != 0)
            continue;
        const struct gh_listener_config *l = &cfg->listeners[0];
        CHECK(l->n_groups == cases[i].n, "%s: n_groups %zu, want %zu", cases[i].value,
              l->n_groups, cases[i].n);
        for (size_t j = 0; j < cases[i].n && j < l->n_groups; j++)
            CHECK(l->groups[j] == cases[i].g[j], "%s: groups[%zu] = %d, want %d",
                  cases[i].value, j, l->groups[j], cases[i].g[j]);
    }
    END_CHECKS();
}

static void test_cipher_lists_are_stored(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"ciphers", "ECDHE-RSA-AES128-GCM-SHA256"},
        {"ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"},
        {"ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"},
        {"ciphersuites", "TLS13-AES128-GCM-SHA256"},
        {"ciphersuites", "TLS_AES_128_GCM_SHA256"},
        {"ciphersuites", "TLS13-CHACHA20-POLY1305-SHA256:TLS_AES_256_GCM_SHA384"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int line;
        int rc = load_kv(cases[i].key, cases[i].value, &line);
        expect_ok(cases[i].value, rc);
        if (rc != 0)
            continue;
        const struct gh_listener_config *l = &cfg->listeners[0];
        const char *got = strcmp(cases[i].key, "ciphers") == 0 ? l->ciphers : l->ciphersuites;
        int got_line = KEY_LINE(l, cases[i].key);
        CHECK(strcmp(got, cases[i].value) == 0, "%s: stored \"%s\"", cases[i].value, got);
        CHECK(got_line == line, "%s: line %d, want %d", cases[i].value, got_line, line);
    }
    END_CHECKS();
}

static void test_listen_address_forms(void **state)
{
    (void)state;
    int line;
    int rc;

    rc = load_kv("listen", "127.0.0.1:8443", &line);
    expect_ok("ipv4", rc);
    check_inet("ipv4", &cfg->listeners[0].listen, "127.0.0.1", 8443, "127.0.0.1:8443");
    rc = load_kv("listen", "[::1]:8443", &line);
    expect_ok("ipv6", rc);
    check_inet6("ipv6", &cfg->listeners[0].listen, "::1", 8443, "[::1]:8443");
    rc = load_kv("listen", "*:443", &line);
    expect_ok("any4", rc);
    check_inet("any4", &cfg->listeners[0].listen, "0.0.0.0", 443, "*:443");
    rc = load_kv("listen", "localhost:8080", &line);
    expect_ok("localhost", rc);
    check_inet("localhost", &cfg->listeners[0].listen, "127.0.0.1", 8080, "localhost:8080");
    rc = load_kv("listen", "[::]:443", &line);
    expect_ok("any6", rc);
    check_inet6("any6", &cfg->listeners[0].listen, "::", 443, "[::]:443");
    rc = load_kv("backend", "[2001:db8::1]:65535", &line);
    expect_ok("backend v6", rc);
    check_inet6("backend v6", &cfg->listeners[0].backend, "2001:db8::1", 65535,
                "[2001:db8::1]:65535");
    END_CHECKS();
}

/* ---- sections ---------------------------------------------------------- */

static void test_listener_names_lines_and_order(void **state)
{
    (void)state;
    static const char name32[] = "abcdefghijklmnopqrstuvwxyz012345";
    assert_int_equal(strlen(name32), GH_NAME_MAX);
    tb_reset();
    L("; leading comment");
    int h1 = add_listener("first", "127.0.0.1:1001");
    L("%s", "");
    int h2 = add_listener(name32, "127.0.0.1:1002");
    L("[global]");
    L("workers = 2");
    int h3 = add_listener("A-Z_a.z-0.9", "[::1]:1003");
    int rc = load(tb);
    expect_ok("names", rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->n_listeners, 3);
    CHECK(strcmp(cfg->listeners[0].name, "first") == 0, "[0] \"%s\"", cfg->listeners[0].name);
    CHECK(strcmp(cfg->listeners[1].name, name32) == 0, "[1] \"%s\"", cfg->listeners[1].name);
    CHECK(strcmp(cfg->listeners[2].name, "A-Z_a.z-0.9") == 0, "[2] \"%s\"",
          cfg->listeners[2].name);
    CHECK(cfg->listeners[0].line == h1, "[0] line %d, want %d", cfg->listeners[0].line, h1);
    CHECK(cfg->listeners[1].line == h2, "[1] line %d, want %d", cfg->listeners[1].line, h2);
    CHECK(cfg->listeners[2].line == h3, "[2] line %d, want %d", cfg->listeners[2].line, h3);
    CHECK(cfg->global.workers == 2, "workers %d", cfg->global.workers);
    for (size_t i = 0; i < 3; i++)
        check_listener_defaults(cfg->listeners[i].name, &cfg->listeners[i]);
    END_CHECKS();
}

static void test_unknown_sections(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "[foo]",
        "[Global]",
        "[GLOBAL]",
        "[global:x]",
        "[listener]",
        "[listener:]",
        "[Listener:a]",
        "[listener:abcdefghijklmnopqrstuvwxyz0123456]", /* 33 characters */
        "[listener:a b]",
        "[listener:a/b]",
        "[listener:a:b]",
        "[listener:a*]",
        "[]",
    };
    for (size_t i = 0; i < ARRAY_LEN(headers); i++) {
        tb_reset();
        int line = L("%s", headers[i]);
        add_listener("ok", "127.0.0.1:8443");
        int rc = load(tb);
        expect_only_error(headers[i], rc, line, headers[i], NULL);
    }
    /* Not only at the top of the file. */
    tb_reset();
    add_listener("ok", "127.0.0.1:8443");
    L("%s", "");
    int line = L("[backends]");
    int rc = load(tb);
    expect_only_error("[backends] after a listener", rc, line, "[backends]", NULL);
    END_CHECKS();
}

static void test_unknown_section_with_keys(void **state)
{
    (void)state;
    tb_reset();
    int line = L("[frontend]");
    L("bind = 1.2.3.4:443");
    add_listener("ok", "127.0.0.1:8443");
    int rc = load(tb);
    CHECK(rc == -1, "rc %d", rc);
    expect_error("[frontend]", line, "[frontend]", NULL);
    END_CHECKS();
}

static void test_duplicate_sections(void **state)
{
    (void)state;
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    int dup = L("[listener:a]");
    L("listen = 127.0.0.1:9443");
    L("backend = 127.0.0.1:8080");
    L("cert = /c");
    L("key = /k");
    int rc = load(tb);
    CHECK(rc == -1, "duplicate listener: rc %d", rc);
    expect_error("duplicate listener", dup, NULL, NULL);

    tb_reset();
    L("[global]");
    L("workers = 2");
    add_listener("a", "127.0.0.1:8443");
    dup = L("[global]");
    L("log_level = warn");
    rc = load(tb);
    CHECK(rc == -1, "duplicate global: rc %d", rc);
    expect_error("duplicate global", dup, NULL, NULL);
    END_CHECKS();
}

/* ---- keys -------------------------------------------------------------- */

static void test_keys_outside_any_section(void **state)
{
    (void)state;
    tb_reset();
    int line = L("workers = 2");
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    expect_only_error("workers before any section", rc, line, "workers", NULL);

    tb_reset();
    L("; comment");
    L("%s", "");
    line = L("listen = 127.0.0.1:1");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    expect_only_error("listen before any section", rc, line, "listen", NULL);
    END_CHECKS();
}

static void test_unknown_keys(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    int l1 = L("foo = 1");
    int l2 = L("listen = 127.0.0.1:1");  /* listener key in [global] */
    L("[listener:a]");
    L("listen = 127.0.0.1:8443");
    int l3 = L("workers = 2");           /* global key in a listener */
    L("backend = 127.0.0.1:8080");
    int l4 = L("Cert = /x");             /* keys are case-sensitive */
    L("cert = /c");
    L("key = /k");
    int l5 = L("backend_address = 1.2.3.4:1");
    int rc = load(tb);
    CHECK(rc == -1, "rc %d", rc);
    CHECK(errs->count == 5, "%zu errors, want 5", errs->count);
    expect_error("foo", l1, "foo", NULL);
    expect_error("listen in global", l2, "listen", NULL);
    expect_error("workers in listener", l3, "workers", NULL);
    expect_error("Cert", l4, "Cert", NULL);
    expect_error("backend_address", l5, "backend_address", NULL);
    END_CHECKS();
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    L("workers = 2");
    int d1 = L("workers = 3");
    L("[listener:a]");
    L("listen = 127.0.0.1:8443");
    L("backend = 127.0.0.1:8080");
    L("backlog = 10");
    L("cert = /c");
    L("key = /k");
    L("%s", "");
    int d2 = L("backlog = 10");
    int d3 = L("listen = 127.0.0.1:9443");
    int rc = load(tb);
    CHECK(rc == -1, "rc %d", rc);
    CHECK(errs->count == 3, "%zu errors, want 3", errs->count);
    expect_error("workers twice", d1, "workers", NULL);
    expect_error("backlog twice", d2, "backlog", NULL);
    expect_error("listen twice", d3, "listen", NULL);
    END_CHECKS();
}

static void test_whitespace_around_equals(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    L("workers=3");
    L("log_level   =   warn   ");
    L("shutdown_grace\t=\t5s");
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    expect_ok("whitespace", rc);
    CHECK(cfg->global.workers == 3, "workers %d", cfg->global.workers);
    CHECK(cfg->global.log_level == GH_LOG_WARN, "log_level %d", (int)cfg->global.log_level);
    CHECK(near(cfg->global.shutdown_grace, 5), "shutdown_grace %g", cfg->global.shutdown_grace);
    END_CHECKS();
}

static void test_continuation_lines(void **state)
{
    (void)state;
    static const char *const indents[] = {"    ", "\t", " "};
    for (size_t i = 0; i < ARRAY_LEN(indents); i++) {
        tb_reset();
        L("[listener:a]");
        L("listen = 127.0.0.1:8443");
        L("backend = 127.0.0.1:8080");
        L("cert = /c");
        L("key = /k");
        L("ciphers = ECDHE-RSA-AES128-GCM-SHA256:");
        int line = L("%sECDHE-RSA-AES256-GCM-SHA384", indents[i]);
        int rc = load(tb);
        char what[64];
        snprintf(what, sizeof what, "continuation indented by %zu chars", strlen(indents[i]));
        CHECK(rc == -1, "%s: rc %d", what, rc);
        expect_error(what, line, NULL, "continuation lines are not supported");
    }
    END_CHECKS();
}

static void test_syntax_errors(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "this is not an ini line",
        "workers",
        "[global",
        "workers 2",
    };
    for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
        tb_reset();
        L("[global]");
        int line = L("%s", lines[i]);
        add_listener("a", "127.0.0.1:8443");
        int rc = load(tb);
        expect_only_error(lines[i], rc, line, "", "syntax error");
    }
    END_CHECKS();
}

/* inih accepts "key: value"; gatehouse's syntax is key = value only. */
static void test_colon_separator_is_a_syntax_error(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    int line = L("workers: 2");
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    expect_only_error("workers: 2", rc, line, "", "syntax error");
    END_CHECKS();
}

static void test_every_syntax_error_is_reported(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    int l1 = L("garbage one");
    L("workers = 2");
    int l2 = L("garbage two");
    int l3 = L("[listener:a");
    add_listener("a", "127.0.0.1:8443");
    int l4 = L("garbage three");
    int rc = load(tb);
    CHECK(rc == -1, "rc %d", rc);
    CHECK(errs->count == 4, "%zu errors, want 4", errs->count);
    expect_error("garbage one", l1, "", "syntax error");
    expect_error("garbage two", l2, "", "syntax error");
    expect_error("[listener:a", l3, "", "syntax error");
    expect_error("garbage three", l4, "", "syntax error");
    END_CHECKS();
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_line_length_limit(void **state)
{
    (void)state;
    /* A comment line of exactly 1000 characters is fine. */
    char *c999 = repeat('x', 999);
    tb_reset();
    L(";%s", c999);
    add_listener("a", "127.0.0.1:8443");
    expect_ok("1000-char comment", load(tb));

    /* 1001 characters is an error at that line. */
    tb_reset();
    L("[global]");
    int line = L(";%sx", c999);
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    expect_only_error("1001-char comment", rc, line, NULL, NULL);

    /* A very long key line: an error at its line, and the lines after it
     * keep their numbers. */
    char *v5000 = repeat('9', 5000);
    tb_reset();
    L("[global]");
    line = L("workers = %s", v5000);
    int unknown = L("bogus = 1");
    add_listener("a", "127.0.0.1:8443");
    rc = load(tb);
    CHECK(rc == -1, "5000-char line: rc %d", rc);
    expect_error("5000-char line", line, NULL, NULL);
    expect_error("key after a 5000-char line", unknown, "bogus", NULL);
    CHECK(errs->count == 2, "5000-char line: %zu errors, want 2", errs->count);
    free(v5000);
    free(c999);
    END_CHECKS();
}

/* Valid lines longer than inih's usual 200-byte buffer must load intact. */
static void test_long_valid_lines(void **state)
{
    (void)state;
    static const char *const suites[] = {
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    };
    char list[GH_CIPHERS_MAX] = "";
    size_t n = 0;
    /* "ciphers = " is 10 characters; stay at or under 1000 in all. */
    for (size_t i = 0;; i++) {
        const char *s = suites[i % ARRAY_LEN(suites)];
        size_t add = strlen(s) + (n ? 1 : 0);
        if (10 + n + add > 1000)
            break;
        if (n)
            list[n++] = ':';
        memcpy(list + n, s, strlen(s));
        n += strlen(s);
        list[n] = '\0';
    }
    assert_true(n > 900);
    int line;
    int rc = load_kv("ciphers", list, &line);
    expect_ok("long ciphers line", rc);
    if (rc == 0) {
        CHECK(strcmp(cfg->listeners[0].ciphers, list) == 0, "long ciphers stored wrongly (%zu bytes)",
              strlen(cfg->listeners[0].ciphers));
        CHECK(KEY_LINE(&cfg->listeners[0], "ciphers") == line, "ciphers_line %d, want %d",
              KEY_LINE(&cfg->listeners[0], "ciphers"), line);
    }

    /* A long path, and a bad cipher at the very end of a long list. */
    char *dir = repeat('d', 900);
    char path[1000];
    snprintf(path, sizeof path, "/%s/server.pem", dir);
    rc = load_kv("cert", path, &line);
    expect_ok("long cert path", rc);
    if (rc == 0)
        CHECK(strcmp(cfg->listeners[0].cert, path) == 0, "long cert path stored wrongly");
    free(dir);

    /* Drop the last suite (27+ characters) and end with a bad one. */
    char bad[GH_CIPHERS_MAX];
    snprintf(bad, sizeof bad, "%s", list);
    *strrchr(bad, ':') = '\0';
    strcat(bad, ":AES128-SHA");
    rc = load_kv("ciphers", bad, &line);
    expect_only_error("bad cipher at the end of a long list", rc, line, "ciphers", "AES128-SHA");
    END_CHECKS();
}

/* Lines past inih's built-in 200 bytes go through inih whole: its inline
 * comment and trimming apply to a long value as to a short one, in every
 * section, indented or not, and the lines after one keep their numbers. */
static void test_long_lines_through_inih(void **state)
{
    (void)state;
    char names[GH_LIST_TEXT_MAX] = "";
    size_t n = 0;
    for (int i = 0; n + 40 < 700; i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%shost-%03d.long.example", i ? "," : "",
                              i);
    char *dir = repeat('d', 600);

    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    L("certs = other");
    int ocsp_line = L("  ocsp = /%s/a.der   ; a comment that is not the value", dir);
    L("[cert:other]");
    L("cert = /c.pem");
    L("key = /k.pem");
    int names_line = L("names = %s", names);
    int dup = L("\tnames = again.example");
    int rc = load(tb);
    CHECK(rc == -1 && errs->count == 1, "rc %d, %zu errors (want the duplicate only)", rc,
          errs->count);
    expect_error("duplicate after a long line", dup, "names", NULL);
    char first[64];
    snprintf(first, sizeof first, "first set at line %d", names_line);
    expect_error("duplicate names the long line", dup, "names", first);

    char want[700];
    snprintf(want, sizeof want, "/%s/a.der", dir);
    const struct gh_listener_config *l = &cfg->listeners[0];
    CHECK(strcmp(l->ocsp, want) == 0, "long ocsp path with a comment stored as \"%.40s...\"",
          l->ocsp);
    CHECK(KEY_LINE(l, "ocsp") == ocsp_line, "ocsp line %d, want %d", KEY_LINE(l, "ocsp"),
          ocsp_line);
    CHECK(cfg->n_certs == 1 && strcmp(cfg->certs[0].names, names) == 0,
          "long names stored wrongly (%zu bytes)", strlen(cfg->certs[0].names));
    CHECK(KEY_LINE(&cfg->certs[0], "names") == names_line, "names line %d, want %d",
          KEY_LINE(&cfg->certs[0], "names"), names_line);
    free(dir);
    END_CHECKS();
}

/* A UTF-8 BOM and CRLF line ends are layout too; a CR inside a line is not. */
static void test_bom_and_crlf(void **state)
{
    (void)state;
    static const char text[] = "\xEF\xBB\xBF[global]\r\n"
                               "workers = 2\r\n"
                               "[listener:a]\r\n"
                               "listen = 127.0.0.1:8443\r\n"
                               "backend = 127.0.0.1:8080\r\n"
                               "cert = /c\r\n"
                               "key = /k\r\n"
                               "backlog = 7\r\n";
    expect_ok("BOM and CRLF", load(text));
    CHECK(cfg->global.workers == 2 && cfg->listeners[0].backlog == 7, "workers %d backlog %d",
          cfg->global.workers, cfg->listeners[0].backlog);
    CHECK(KEY_LINE(&cfg->listeners[0], "backlog") == 8, "backlog line %d",
          KEY_LINE(&cfg->listeners[0], "backlog"));

    static const char cr[] = "[global]\nworkers = 2\rlog_level = warn\n";
    int rc = load(cr);
    expect_error("CR inside a line", 2, "", "control character 0x0d");
    CHECK(rc == -1 && errs->count == 2, "%zu errors, want the CR and no listener", errs->count);
    END_CHECKS();
}

/* ---- required keys and listeners ---------------------------------------- */

static void test_missing_required_keys(void **state)
{
    (void)state;
    for (size_t skip_i = 0; skip_i < ARRAY_LEN(required_keys); skip_i++) {
        tb_reset();
        L("[global]");
        L("workers = 1");
        int header = L("[listener:a]");
        for (size_t i = 0; i < ARRAY_LEN(required_keys); i++)
            if (i != skip_i)
                L("%s = %s", required_keys[i], required_values[i]);
        L("backlog = 100");
        int rc = load(tb);
        char what[64];
        snprintf(what, sizeof what, "without %s", required_keys[skip_i]);
        expect_only_error(what, rc, header, required_keys[skip_i], NULL);
    }

    /* All four missing: four errors at the header. */
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    int header = L("[listener:empty]");
    L("mode = tcp");
    int rc = load(tb);
    CHECK(rc == -1, "empty listener: rc %d", rc);
    CHECK(errs->count == 4, "empty listener: %zu errors, want 4", errs->count);
    for (size_t i = 0; i < ARRAY_LEN(required_keys); i++)
        expect_error(required_keys[i], header, required_keys[i], NULL);

    /* The header line is the missing key's listener's, not the last one's. */
    tb_reset();
    int h1 = L("[listener:one]");
    L("listen = 127.0.0.1:1");
    L("backend = 127.0.0.1:2");
    L("key = /k");
    add_listener("two", "127.0.0.1:3");
    rc = load(tb);
    expect_only_error("first listener without cert", rc, h1, "cert", NULL);
    END_CHECKS();
}

static void test_no_listener(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int line;
    } cases[] = {
        {"", 0},
        {"[global]\nworkers = 2\n", 2},
        {"[global]\nworkers = 2", 2},
        {"; one\n; two\n; three\n", 3},
        {"[global]\n", 1},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int rc = load(cases[i].text);
        char what[80];
        snprintf(what, sizeof what, "no listener in \"%.20s\"", cases[i].text);
        expect_only_error(what, rc, cases[i].line, "listener", NULL);
    }
    END_CHECKS();
}

static void test_duplicate_listen_address(void **state)
{
    (void)state;
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    L("[listener:b]");
    int line = L("listen = 127.0.0.1:8443");
    L("backend = 127.0.0.1:8080");
    L("cert = /c");
    L("key = /k");
    int rc = load(tb);
    expect_only_error("same listen twice", rc, line, "listen", NULL);

    /* The same address written differently. */
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    L("[listener:b]");
    line = L("listen = localhost:8443");
    L("backend = 127.0.0.1:8080");
    L("cert = /c");
    L("key = /k");
    rc = load(tb);
    expect_only_error("localhost and 127.0.0.1", rc, line, "listen", NULL);

    /* Three on one address: the second and third are reported. */
    tb_reset();
    add_listener("a", "[::1]:443");
    int h2 = add_listener("b", "[::1]:443");
    int h3 = add_listener("c", "[::1]:443");
    rc = load(tb);
    /* The third may be reported once per earlier listener; only at its listen line. */
    CHECK(rc == -1 && errs->count >= 2, "three on one address: rc %d, %zu errors", rc,
          errs->count);
    expect_error("second of three", h2 + 1, "listen", NULL);
    expect_error("third of three", h3 + 1, "listen", NULL);
    for (size_t i = 0; i < errs->count && i < GH_MAX_ERRORS; i++)
        CHECK((errs->items[i].line == h2 + 1 || errs->items[i].line == h3 + 1) &&
                  strcmp(errs->items[i].key, "listen") == 0,
              "three on one address: stray error %d: %s", errs->items[i].line,
              errs->items[i].key);

    /* Other ports, other families and a shared backend are fine. */
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    add_listener("b", "127.0.0.1:8444");
    add_listener("c", "[::1]:8443");
    add_listener("d", "*:9443");
    rc = load(tb);
    expect_ok("distinct listen addresses", rc);
    CHECK(cfg->n_listeners == 4, "n_listeners %zu", cfg->n_listeners);
    END_CHECKS();
}

static void test_listener_limit(void **state)
{
    (void)state;
    char name[16], addr[32];
    tb_reset();
    for (int i = 0; i < GH_MAX_LISTENERS; i++) {
        snprintf(name, sizeof name, "l%d", i);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", 10000 + i);
        add_listener(name, addr);
    }
    int rc = load(tb);
    expect_ok("64 listeners", rc);
    CHECK(cfg->n_listeners == GH_MAX_LISTENERS, "n_listeners %zu", cfg->n_listeners);
    if (rc == 0)
        CHECK(strcmp(cfg->listeners[63].name, "l63") == 0 &&
                  ntohs(((struct sockaddr_in *)&cfg->listeners[63].listen.ss)->sin_port) == 10063,
              "listener 63 wrong");

    int header = add_listener("l64", "127.0.0.1:20000");
    rc = load(tb);
    CHECK(rc == -1, "65 listeners: rc %d", rc);
    CHECK(errs->count >= 1, "65 listeners: no error");
    (void)header; /* where the error goes is not part of the contract */
    END_CHECKS();
}

/* ---- error collection ------------------------------------------------- */

static void test_multiple_errors_are_all_reported(void **state)
{
    (void)state;
    tb_reset();
    L("; a file with many mistakes");
    L("[global]");
    int e_workers = L("workers = 0");
    int e_unknown = L("colour = blue");
    int e_log = L("log_level = loud");
    int e_section = L("[frontend]");
    int e_header = L("[listener:a]");
    int e_listen = L("listen = 127.0.0.1");
    L("backend = 127.0.0.1:8080");
    L("key = /k");
    int e_hs = L("handshake_timeout = 0");
    int e_ciphers = L("ciphers = ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA");
    int e_syntax = L("oops");
    int e_dup = L("backend = 127.0.0.1:8081");
    int rc = load(tb);
    assert_int_equal(rc, -1);
    expect_error("workers", e_workers, "workers", NULL);
    expect_error("unknown key", e_unknown, "colour", NULL);
    expect_error("log_level", e_log, "log_level", NULL);
    expect_error("unknown section", e_section, "[frontend]", NULL);
    expect_error("listen", e_listen, "listen", NULL);
    expect_error("missing cert", e_header, "cert", NULL);
    expect_error("handshake_timeout", e_hs, "handshake_timeout", NULL);
    expect_error("ciphers", e_ciphers, "ciphers", "AES128-SHA");
    expect_error("syntax", e_syntax, "", "syntax error");
    expect_error("duplicate backend", e_dup, "backend", NULL);
    /* listen may also be reported as missing; nothing else. */
    CHECK(errs->count == 10 || errs->count == 11, "%zu errors, want 10 (or 11)", errs->count);
    END_CHECKS();
}

static void test_error_count_goes_past_the_kept_items(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    int first = 0;
    for (int i = 0; i < 70; i++) {
        int l = L("unknown%d = 1", i);
        if (!first)
            first = l;
    }
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    assert_int_equal(rc, -1);
    assert_int_equal(errs->count, 70);
    for (int i = 0; i < GH_MAX_ERRORS; i++) {
        char key[48];
        snprintf(key, sizeof key, "unknown%d", i);
        CHECK(errs->items[i].line == first + i, "item %d: line %d, want %d", i,
              errs->items[i].line, first + i);
        CHECK(strcmp(errs->items[i].key, key) == 0, "item %d: key \"%s\"", i, errs->items[i].key);
    }
    END_CHECKS();
}

static void test_long_unknown_key_is_truncated_safely(void **state)
{
    (void)state;
    char *longkey = repeat('k', 200);
    tb_reset();
    L("[global]");
    int line = L("%s = 1", longkey);
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    CHECK(rc == -1 && errs->count == 1, "rc %d, %zu errors", rc, errs->count);
    const struct gh_config_error *e = find_error(line, NULL);
    CHECK(e != NULL, "no error at line %d", line);
    if (e) {
        size_t n = strnlen(e->key, sizeof e->key);
        CHECK(n < sizeof e->key, "key not NUL-terminated");
        CHECK(n > 0 && strncmp(e->key, longkey, n) == 0, "key \"%.48s\" not a prefix", e->key);
    }
    free(longkey);
    END_CHECKS();
}

static void test_load_resets_previous_errors(void **state)
{
    (void)state;
    int rc = load("[global]\nfoo = 1\n");
    assert_int_equal(rc, -1);
    /* no junk fill this time: reuse the same structs as they are */
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    rc = gh_config_load_buffer("second.ini", tb, tb_len, cfg, errs);
    assert_int_equal(rc, 0);
    assert_int_equal(errs->count, 0);
    assert_string_equal(errs->file, "second.ini");
    assert_int_equal(cfg->n_listeners, 1);
}

static void test_buffer_is_bounded_by_len(void **state)
{
    (void)state;
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    size_t good = tb_len;
    L("[bogus]");
    L("junk junk");
    int rc = load_n(tb, good);
    expect_ok("text after len", rc);

    /* The last line may lack its newline. */
    rc = load_n(tb, good - 1);
    expect_ok("no final newline", rc);
    CHECK(strcmp(cfg->listeners[0].key, "/etc/gatehouse/a.key") == 0, "key \"%s\"",
          cfg->listeners[0].key);
    END_CHECKS();
}

/* ---- files ------------------------------------------------------------ */

static void test_load_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/gh-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    tb_reset();
    L("[global]");
    int bad = L("workers = 100");
    add_listener("a", "127.0.0.1:8443");
    assert_int_equal(write(fd, tb, tb_len), (ssize_t)tb_len);
    close(fd);

    memset(cfg, 0xA5, sizeof *cfg);
    memset(errs, 0xA5, sizeof *errs);
    int rc = gh_config_load(path, cfg, errs);
    expect_only_error("file", rc, bad, "workers", NULL);
    CHECK(strcmp(errs->file, path) == 0, "errs->file \"%s\"", errs->file);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    fputs(tb, f);
    fclose(f);
    rc = gh_config_load(path, cfg, errs);
    expect_ok("file", rc);
    CHECK(strcmp(cfg->path, path) == 0, "cfg->path \"%s\"", cfg->path);
    unlink(path);
    END_CHECKS();
}

static void test_load_missing_file(void **state)
{
    (void)state;
    const char *path = "/nonexistent-gatehouse-dir/gatehouse.ini";
    memset(cfg, 0xA5, sizeof *cfg);
    memset(errs, 0xA5, sizeof *errs);
    int rc = gh_config_load(path, cfg, errs);
    assert_int_equal(rc, -1);
    assert_int_equal(errs->count, 1);
    assert_int_equal(errs->items[0].line, 0);
    assert_string_equal(errs->file, path);
    CHECK(strstr(errs->items[0].message, strerror(ENOENT)) != NULL, "message \"%s\" lacks \"%s\"",
          errs->items[0].message, strerror(ENOENT));
    END_CHECKS();
}

/* ---- printing and adding errors ---------------------------------------- */

static char *print_to_string(const struct gh_config_errors *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    gh_config_errors_print(e, f);
    fclose(f);
    return buf;
}

static void test_printer_format(void **state)
{
    (void)state;
    tb_reset();
    L("[global]");
    L("workers = 0");
    L("foo = bar");
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    assert_int_equal(rc, -1);
    assert_int_equal(errs->count, 2);
    char want[1024];
    snprintf(want, sizeof want, "test.ini:2: workers: %s\ntest.ini:3: foo: %s\n",
             errs->items[0].message, errs->items[1].message);
    char *got = print_to_string(errs);
    assert_string_equal(got, want);
    free(got);

    /* Built by hand. */
    memset(errs, 0, sizeof *errs);
    strcpy(errs->file, "/etc/gatehouse/gatehouse.ini");
    gh_config_error_add(errs, 7, "workers", "must be %d..%d", 1, 64);
    gh_config_error_add(errs, 12, "cert", "cannot load %s: %s", "/x.pem", "no such file");
    got = print_to_string(errs);
    assert_string_equal(got, "/etc/gatehouse/gatehouse.ini:7: workers: must be 1..64\n"
                             "/etc/gatehouse/gatehouse.ini:12: cert: cannot load /x.pem: no such file\n");
    free(got);

    /* Nothing to print. */
    memset(errs, 0, sizeof *errs);
    strcpy(errs->file, "x.ini");
    got = print_to_string(errs);
    assert_string_equal(got, "");
    free(got);
}

static void test_printer_without_key(void **state)
{
    (void)state;
    memset(errs, 0, sizeof *errs);
    strcpy(errs->file, "x.ini");
    gh_config_error_add(errs, 0, "", "cannot open: %s", "denied");
    char *got = print_to_string(errs);
    /* The key's place may be empty or hold a placeholder; the rest is fixed. */
    CHECK(strcmp(got, "x.ini:0: : cannot open: denied\n") == 0 ||
              strcmp(got, "x.ini:0: -: cannot open: denied\n") == 0 ||
              strcmp(got, "x.ini:0: cannot open: denied\n") == 0,
          "got \"%s\"", got);
    free(got);
    END_CHECKS();
}

static void test_printer_with_more_errors_than_kept(void **state)
{
    (void)state;
    memset(errs, 0, sizeof *errs);
    strcpy(errs->file, "x.ini");
    for (int i = 1; i <= 70; i++)
        gh_config_error_add(errs, i, "k", "e%d", i);
    assert_int_equal(errs->count, 70);
    assert_int_equal(errs->items[GH_MAX_ERRORS - 1].line, GH_MAX_ERRORS);
    char *got = print_to_string(errs);
    /* The first 64 lines are the kept errors; what follows is free. */
    const char *p = got;
    for (int i = 1; i <= GH_MAX_ERRORS; i++) {
        char want[64];
        int n = snprintf(want, sizeof want, "x.ini:%d: k: e%d\n", i, i);
        CHECK(strncmp(p, want, (size_t)n) == 0, "line %d: \"%.40s\"", i, p ? p : "");
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    free(got);
    END_CHECKS();
}

static void test_error_add_after_load(void **state)
{
    (void)state;
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    int rc = load(tb);
    assert_int_equal(rc, 0);
    gh_config_key_error(errs, &cfg->listeners[0].key_lines, "cert", "cannot load %s",
                        cfg->listeners[0].cert);
    assert_int_equal(errs->count, 1);
    assert_int_equal(errs->items[0].line, 4);
    assert_string_equal(errs->items[0].key, "cert");
    assert_string_equal(errs->items[0].message, "cannot load /etc/gatehouse/a.crt");
    char *got = print_to_string(errs);
    assert_string_equal(got, "test.ini:4: cert: cannot load /etc/gatehouse/a.crt\n");
    free(got);

    /* Over-long key and message are cut, not overflowed. */
    char *longtext = repeat('m', 1000);
    gh_config_error_add(errs, 9, longtext, "%s", longtext);
    assert_int_equal(errs->count, 2);
    assert_true(strnlen(errs->items[1].key, sizeof errs->items[1].key) < sizeof errs->items[1].key);
    assert_true(strnlen(errs->items[1].message, GH_ERROR_TEXT_MAX) < GH_ERROR_TEXT_MAX);
    assert_true(strncmp(errs->items[1].message, longtext, 100) == 0);
    free(longtext);
}

/* ---- value parsers ---------------------------------------------------- */

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double seconds;
    } good[] = {
        {"0", 0},       {"0s", 0},       {"10s", 10},     {"10", 10},
        {"500ms", 0.5}, {"1ms", 0.001},  {"1.5ms", 0.0015}, {"1.5m", 90},
        {"2h", 7200},   {"0.25", 0.25},  {"24h", 86400},  {"90m", 5400},
        {"3600s", 3600},
    };
    static const char *const bad[] = {
        "",     "abc",  "-1",   "-1s",   "-0.5m", "10x",  "10sec", "10ss", "s",     "ms",
        "h",    "1..5s", "1.5.2", "s10",  "1e999", "nan",  "inf",   "-inf", "0x10",  "10 x",
        "1,5s", "10S h",
    };
    char why[GH_ERROR_TEXT_MAX];
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        double s = -1;
        int rc = gh_parse_duration(good[i].text, &s, why);
        CHECK(rc == 0, "duration \"%s\": rejected", good[i].text);
        if (rc == 0)
            CHECK(near(s, good[i].seconds), "duration \"%s\": %g, want %g", good[i].text, s,
                  good[i].seconds);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        double s = 0;
        why[0] = '\0';
        int rc = gh_parse_duration(bad[i], &s, why);
        CHECK(rc == -1, "duration \"%s\": accepted as %g", bad[i], s);
        if (rc == -1)
            CHECK(why[0] != '\0', "duration \"%s\": no reason", bad[i]);
    }
    /* A number too large for a double. */
    char *huge = repeat('9', 400);
    double s = 0;
    CHECK(gh_parse_duration(huge, &s, why) == -1, "400 nines accepted as %g", s);
    free(huge);
    END_CHECKS();
}

static void test_parse_size(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"1", 1},
        {"4096", 4096},
        {"16k", 16384},
        {"1k", 1024},
        {"1m", 1048576},
        {"1g", 1073741824ULL},
        {"3g", 3221225472ULL},
        {"1048576", 1048576},
    };
    static const char *const bad[] = {
        "",     "abc",  "-1",   "1.5k", "16x",  "16kb", "k",    "m",  "0x10", "1 k k",
        "+-1",  "1,5k", MANY_NINES, "18446744073709551616", "17179869184g", "18014398509481984k",
        "nan",  "inf",
    };
    char why[GH_ERROR_TEXT_MAX];
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        uint64_t b = 0;
        int rc = gh_parse_size(good[i].text, &b, why);
        CHECK(rc == 0, "size \"%s\": rejected", good[i].text);
        if (rc == 0)
            CHECK(b == good[i].bytes, "size \"%s\": %llu, want %llu", good[i].text,
                  (unsigned long long)b, (unsigned long long)good[i].bytes);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        uint64_t b = 0;
        why[0] = '\0';
        int rc = gh_parse_size(bad[i], &b, why);
        CHECK(rc == -1, "size \"%s\": accepted as %llu", bad[i], (unsigned long long)b);
        if (rc == -1)
            CHECK(why[0] != '\0', "size \"%s\": no reason", bad[i]);
    }
    END_CHECKS();
}

static void test_parse_sockaddr(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int family;
        const char *ip;
        int port;
    } good[] = {
        {"127.0.0.1:8443", AF_INET, "127.0.0.1", 8443},
        {"192.0.2.1:443", AF_INET, "192.0.2.1", 443},
        {"1.2.3.4:1", AF_INET, "1.2.3.4", 1},
        {"1.2.3.4:65535", AF_INET, "1.2.3.4", 65535},
        {"*:443", AF_INET, "0.0.0.0", 443},
        {"localhost:8080", AF_INET, "127.0.0.1", 8080},
        {"[::1]:8443", AF_INET6, "::1", 8443},
        {"[::]:443", AF_INET6, "::", 443},
        {"[2001:db8::1]:443", AF_INET6, "2001:db8::1", 443},
        {"[::ffff:192.0.2.1]:80", AF_INET6, "::ffff:192.0.2.1", 80},
    };
    static const char *const bad[] = {
        "127.0.0.1", "host.example:80", "1.2.3.4:0", "1.2.3.4:70000", "[::1:80",
        "",          ":80",             "1.2.3.4:",  "1.2.3.4:abc",   "1.2.3.4:-1",
        "1.2.3.4:80x", "256.1.1.1:80",  "1.2.3:80",  "[1.2.3.4]:80",  "::1:80",
        "[::1]",     "[::1]8443",       "[::1]:",    "[]:80",         "*:0",
        "localhost:0", "localhost",     "*",         ("1.2.3.4:" MANY_NINES),
        "1.2.3.4:65536", "[::1]:0",     " 1.2.3.4:80x",
    };
    char why[GH_ERROR_TEXT_MAX];
    struct gh_sockaddr a;
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        memset(&a, 0xA5, sizeof a);
        int rc = gh_parse_sockaddr(good[i].text, &a, why);
        CHECK(rc == 0, "address \"%s\": rejected", good[i].text);
        if (rc != 0)
            continue;
        if (good[i].family == AF_INET)
            check_inet(good[i].text, &a, good[i].ip, good[i].port, good[i].text);
        else
            check_inet6(good[i].text, &a, good[i].ip, good[i].port, good[i].text);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        int rc = gh_parse_sockaddr(bad[i], &a, why);
        CHECK(rc == -1, "address \"%s\": accepted", bad[i]);
        if (rc == -1)
            CHECK(why[0] != '\0', "address \"%s\": no reason", bad[i]);
    }
    /* Longer than the text field: an error, not an overflow. */
    char *longhost = repeat('1', GH_ADDR_TEXT_MAX + 50);
    char longaddr[GH_ADDR_TEXT_MAX + 64];
    snprintf(longaddr, sizeof longaddr, "%s:80", longhost);
    CHECK(gh_parse_sockaddr(longaddr, &a, why) == -1, "over-long address accepted");
    free(longhost);
    END_CHECKS();
}

static void test_group_names(void **state)
{
    (void)state;
    assert_string_equal(gh_group_name(GH_GROUP_X25519), "X25519");
    assert_string_equal(gh_group_name(GH_GROUP_P256), "P-256");
    assert_string_equal(gh_group_name(GH_GROUP_P384), "P-384");
}

/* ---- the key table against its documentation ---------------------------- */

enum doc_block { DOC_GLOBAL, DOC_LISTENER, DOC_CERT, DOC_BLOCKS };

static bool table_has(enum gh_config_section section, const char *name)
{
    const char *k;
    for (size_t i = 0; (k = gh_config_key_name(section, i)); i++)
        if (strcmp(k, name) == 0)
            return true;
    return false;
}

/* The documented names of config/gatehouse.ini: a key is documented as
 * "key = value" at the start of a line, or commented out as ";key = value"
 * (prose is "; words"). Block: [global] until the listener example, the
 * listener's keys after it, [cert:NAME] keys after the ";[cert:" example
 * until a key [cert:NAME] does not have (the listener's again). */
static void test_reference_documents_exactly_the_table(void **state)
{
    (void)state;
    static const enum gh_config_section sections[DOC_BLOCKS] = {
        GH_CONFIG_GLOBAL, GH_CONFIG_LISTENER, GH_CONFIG_CERT};
    static const char *const block_names[DOC_BLOCKS] = {"[global]", "[listener:]", "[cert:]"};
    static char documented[DOC_BLOCKS][200][48];
    size_t n_documented[DOC_BLOCKS] = {0};
    char line[2048];
    enum doc_block block = DOC_GLOBAL;
    int lineno = 0;
    FILE *f = fopen(GH_EXAMPLE_INI, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        const char *s = line;
        char name[48];
        int len = 0;
        lineno++;
        if (strncmp(line, "[listener:", 10) == 0)
            block = DOC_LISTENER;
        if (strncmp(line, ";[cert:", 7) == 0)
            block = DOC_CERT;
        if (*s == ';')
            s++;
        if (sscanf(s, "%47[a-z0-9_] =%n", name, &len) != 1 || len == 0)
            continue;
        /* the cert example ends at the first key [cert:NAME] does not have */
        if (block == DOC_CERT && !table_has(GH_CONFIG_CERT, name))
            block = DOC_LISTENER;
        enum doc_block b = block;
        CHECK(table_has(sections[b], name), "%s:%d: %s is documented in %s but no key there",
              GH_EXAMPLE_INI, lineno, name, block_names[b]);
        if (n_documented[b] < ARRAY_LEN(documented[b]))
            snprintf(documented[b][n_documented[b]++], sizeof documented[b][0], "%s", name);
    }
    fclose(f);
    for (size_t b = 0; b < DOC_BLOCKS; b++) {
        const char *k;
        for (size_t i = 0; (k = gh_config_key_name(sections[b], i)); i++) {
            bool found = false;
            for (size_t d = 0; d < n_documented[b]; d++)
                found = found || strcmp(documented[b][d], k) == 0;
            CHECK(found, "%s: key %s of %s is not documented", GH_EXAMPLE_INI, k,
                  block_names[b]);
        }
    }
    END_CHECKS();
}

/* Names are unique within a section, and the table is not empty. */
/* Every row keeps the line that set its key, whatever its value kind and
 * whether the value was taken, and gh_config_key_line finds it by name in
 * its own section only. */
static void test_every_key_line_is_kept(void **state)
{
    (void)state;
    static const char *const headers[] = {
        [GH_CONFIG_GLOBAL] = "[global]",
        [GH_CONFIG_LISTENER] = "[listener:a]",
        [GH_CONFIG_CERT] = "[cert:c]",
    };
    const char *name;
    for (int s = GH_CONFIG_GLOBAL; s <= GH_CONFIG_CERT; s++) {
        size_t keys = 0;
        for (size_t i = 0; (name = gh_config_key_name((enum gh_config_section)s, i)); i++) {
            tb_reset();
            L("%s", headers[s]);
            int line = L("  %s = x", name);
            if (s == GH_CONFIG_LISTENER) {
                for (size_t r = 0; r < ARRAY_LEN(required_keys); r++)
                    if (strcmp(name, required_keys[r]) != 0)
                        L("%s = %s", required_keys[r], required_values[r]);
            } else {
                add_listener("a", "127.0.0.1:8443");
            }
            (void)load(tb); /* "x" is refused by most keys: the line is kept all the same */
            const struct gh_key_lines *lines =
                s == GH_CONFIG_GLOBAL     ? &cfg->global.key_lines
                : s == GH_CONFIG_LISTENER ? &cfg->listeners[0].key_lines
                                          : &cfg->certs[0].key_lines;
            CHECK(gh_config_key_line(lines, name) == line, "%s %s: line %d, want %d",
                  headers[s], name, gh_config_key_line(lines, name), line);
            keys++;
        }
        CHECK(keys > 0, "%s: no keys", headers[s]);
    }
    /* by name, in its own section only */
    tb_reset();
    add_listener("a", "127.0.0.1:8443");
    expect_ok("one listener", load(tb));
    CHECK(KEY_LINE(&cfg->listeners[0], "listen") == 2, "listen line %d",
          KEY_LINE(&cfg->listeners[0], "listen"));
    CHECK(KEY_LINE(&cfg->listeners[0], "workers") == 0, "a global key found in a listener");
    CHECK(KEY_LINE(&cfg->listeners[0], "no_such_key") == 0, "an unknown key has a line");
    CHECK(KEY_LINE(&cfg->global, "workers") == 0, "workers has a line without [global]");
    END_CHECKS();
}

static void test_key_table_names_are_unique(void **state)
{
    (void)state;
    static const enum gh_config_section sections[] = {GH_CONFIG_GLOBAL, GH_CONFIG_LISTENER,
                                                      GH_CONFIG_CERT};
    for (size_t s = 0; s < ARRAY_LEN(sections); s++) {
        const char *a, *b;
        CHECK(gh_config_key_name(sections[s], 0) != NULL, "section %zu has no keys", s);
        for (size_t i = 0; (a = gh_config_key_name(sections[s], i)); i++)
            for (size_t j = i + 1; (b = gh_config_key_name(sections[s], j)); j++)
                CHECK(strcmp(a, b) != 0, "section %zu: %s twice", s, a);
    }
    CHECK(gh_config_key_name((enum gh_config_section)99, 0) == NULL, "bad section answered");
    END_CHECKS();
}

#define T(f) cmocka_unit_test_setup(f, test_setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_minimal_config_gets_every_default),
        T(test_empty_global_section_keeps_defaults),
        T(test_example_file_loads_with_defaults),
        T(test_scalar_values_are_stored),
        T(test_invalid_values_are_errors_at_their_line),
        T(test_allow_methods_list),
        T(test_audit_paths_and_cross_key_rules),
        T(test_tls_feature_rules),
        T(test_cipher_errors_name_the_cipher),
        T(test_every_listener_key_is_stored),
        T(test_groups_and_aliases),
        T(test_cipher_lists_are_stored),
        T(test_listen_address_forms),
        T(test_listener_names_lines_and_order),
        T(test_unknown_sections),
        T(test_unknown_section_with_keys),
        T(test_duplicate_sections),
        T(test_keys_outside_any_section),
        T(test_unknown_keys),
        T(test_duplicate_keys),
        T(test_whitespace_around_equals),
        T(test_continuation_lines),
        T(test_syntax_errors),
        T(test_colon_separator_is_a_syntax_error),
        T(test_every_syntax_error_is_reported),
        T(test_line_length_limit),
        T(test_long_valid_lines),
        T(test_long_lines_through_inih),
        T(test_bom_and_crlf),
        T(test_missing_required_keys),
        T(test_no_listener),
        T(test_duplicate_listen_address),
        T(test_listener_limit),
        T(test_multiple_errors_are_all_reported),
        T(test_error_count_goes_past_the_kept_items),
        T(test_long_unknown_key_is_truncated_safely),
        T(test_load_resets_previous_errors),
        T(test_buffer_is_bounded_by_len),
        T(test_load_from_file),
        T(test_load_missing_file),
        T(test_printer_format),
        T(test_printer_without_key),
        T(test_printer_with_more_errors_than_kept),
        T(test_error_add_after_load),
        T(test_parse_duration),
        T(test_parse_size),
        T(test_parse_sockaddr),
        T(test_group_names),
        T(test_reference_documents_exactly_the_table),
        T(test_key_table_names_are_unique),
        T(test_every_key_line_is_kept),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
