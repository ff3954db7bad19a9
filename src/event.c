/* event.c - one emitter per connection event; see event.h. */
#include "gatehouse/event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gatehouse/audit.h"
#include "gatehouse/log.h"

/* NAMES[value] of a name table of COUNT rows; "unknown" past its end (a
 * caller's bug: it is named, the table is never read past). */
static const char *table_name(const char *const *names, size_t count, unsigned value)
{
    return value < count ? names[value] : "unknown";
}

/* ---- the per-connection context ------------------------------------- */

void gh_event_ctx_set_client(struct gh_event_ctx *ev, const struct sockaddr_storage *peer)
{
    snprintf(ev->client_ip, sizeof ev->client_ip, "?");
    ev->client_port = 0;
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *)peer;
        inet_ntop(AF_INET, &sin->sin_addr, ev->client_ip, sizeof ev->client_ip);
        ev->client_port = ntohs(sin->sin_port);
        snprintf(ev->peer_addr, sizeof ev->peer_addr, "%s:%u", ev->client_ip, ev->client_port);
    } else if (peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)peer;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ev->client_ip, sizeof ev->client_ip);
        ev->client_port = ntohs(sin6->sin6_port);
        snprintf(ev->peer_addr, sizeof ev->peer_addr, "[%s]:%u", ev->client_ip, ev->client_port);
    } else {
        snprintf(ev->peer_addr, sizeof ev->peer_addr, "?");
    }
}

void gh_event_ctx_init(struct gh_event_ctx *ev, uint64_t conn,
                       const struct gh_listener_config *cfg, const struct sockaddr_storage *peer)
{
    ev->conn = conn;
    ev->cfg = cfg;
    gh_event_ctx_set_client(ev, peer);
}

void gh_event_ctx_init_ip(struct gh_event_ctx *ev, uint64_t conn,
                          const struct gh_listener_config *cfg, const char *client_ip)
{
    ev->conn = conn;
    ev->cfg = cfg;
    ev->client_port = 0;
    snprintf(ev->client_ip, sizeof ev->client_ip, "%s", client_ip ? client_ip : "?");
    snprintf(ev->peer_addr, sizeof ev->peer_addr, "?");
}

/* Begins a connection's entry with conn and listener, how every one names
 * its connection. False when the audit log is off: nothing to write. */
static bool audit_begin_conn(struct gh_audit_entry *e, const char *event,
                             const struct gh_event_ctx *ev)
{
    if (!gh_audit_on())
        return false;
    gh_audit_begin(e, event);
    gh_audit_uint(e, "conn", ev->conn);
    gh_audit_str(e, "listener", ev->cfg->name);
    return true;
}

/* ... and the client's address and port after them. */
static bool audit_begin_client(struct gh_audit_entry *e, const char *event,
                               const struct gh_event_ctx *ev)
{
    if (!audit_begin_conn(e, event, ev))
        return false;
    gh_audit_str(e, "client", ev->client_ip);
    gh_audit_uint(e, "client_port", ev->client_port);
    return true;
}

/* ---- close ---------------------------------------------------------- */

struct close_reason_row {
    const char *name;
    enum gh_http_outcome unanswered; /* what requests still unanswered became */
    bool notify;                     /* an orderly close_notify goes first */
};

#define CLIENT_GONE GH_HTTP_OUTCOME_CLIENT_ABORT
#define BACKEND_GONE GH_HTTP_OUTCOME_BACKEND_FAILED /* the answer was what they waited for */

static const struct close_reason_row close_reasons[GH_CLOSE_REASON_COUNT] = {
    [GH_CLOSE_CLIENT_EOF] = {"client_eof", CLIENT_GONE, true},
    [GH_CLOSE_BACKEND_EOF] = {"backend_eof", BACKEND_GONE, true},
    [GH_CLOSE_HTTP_CLOSE] = {"http_close", CLIENT_GONE, true},
    [GH_CLOSE_REJECTED] = {"rejected", CLIENT_GONE, true},
    [GH_CLOSE_REDIRECTED] = {"redirected", CLIENT_GONE, true},
    [GH_CLOSE_CLIENT_ERROR] = {"client_error", CLIENT_GONE, false},
    [GH_CLOSE_TLS_ERROR] = {"tls_error", CLIENT_GONE, false},
    [GH_CLOSE_BACKEND_REFUSED] = {"backend_refused", BACKEND_GONE, true},
    [GH_CLOSE_BACKEND_ERROR] = {"backend_error", BACKEND_GONE, true},
    [GH_CLOSE_BACKEND_RESET] = {"backend_reset", BACKEND_GONE, false},
    [GH_CLOSE_HANDSHAKE_TIMEOUT] = {"handshake_timeout", CLIENT_GONE, true},
    [GH_CLOSE_CONNECT_TIMEOUT] = {"connect_timeout", BACKEND_GONE, true},
    [GH_CLOSE_IDLE_TIMEOUT] = {"idle_timeout", BACKEND_GONE, true},
    [GH_CLOSE_REQUEST_TIMEOUT] = {"request_timeout", CLIENT_GONE, true},
    [GH_CLOSE_KEEPALIVE_TIMEOUT] = {"keepalive_timeout", CLIENT_GONE, true},
    [GH_CLOSE_HEADER_TIMEOUT] = {"header_timeout", CLIENT_GONE, true},
    [GH_CLOSE_BODY_TIMEOUT] = {"body_timeout", CLIENT_GONE, true},
    [GH_CLOSE_SEND_TIMEOUT] = {"send_timeout", CLIENT_GONE, true},
    [GH_CLOSE_OUT_OF_MEMORY] = {"out_of_memory", CLIENT_GONE, true},
    [GH_CLOSE_SHUTDOWN] = {"shutdown", GH_HTTP_OUTCOME_SHUTDOWN, true},
};

static const struct close_reason_row *close_row(enum gh_close_reason reason)
{
    /* an out-of-range value is a caller's bug: name it, never index past */
    static const struct close_reason_row unknown = {"unknown", CLIENT_GONE, false};
    return (unsigned)reason < GH_CLOSE_REASON_COUNT ? &close_reasons[reason] : &unknown;
}

const char *gh_close_reason_name(enum gh_close_reason reason) { return close_row(reason)->name; }

enum gh_http_outcome gh_close_reason_outcome(enum gh_close_reason reason)
{
    return close_row(reason)->unanswered;
}

bool gh_close_reason_sends_notify(enum gh_close_reason reason) { return close_row(reason)->notify; }

void gh_event_close(const struct gh_event_ctx *ev, enum gh_close_reason reason,
                    const struct gh_close_facts *f)
{
    const char *name = gh_close_reason_name(reason);
    uint64_t requests = f->count == GH_CLOSE_COUNT_REQUESTS ? f->requests : 0;
    struct gh_audit_entry e;

    gh_log(GH_LOG_INFO, "conn_close",
           " conn=%llu listener=%s client=%s reason=%s bytes_in=%llu bytes_out=%llu "
           "requests=%llu duration=%.3f",
           (unsigned long long)ev->conn, ev->cfg->name, ev->peer_addr, name,
           (unsigned long long)f->bytes_in, (unsigned long long)f->bytes_out,
           (unsigned long long)requests, f->duration);
    if (!audit_begin_client(&e, "close", ev))
        return;
    gh_audit_micros(&e, "duration_us", f->duration);
    gh_audit_uint(&e, "bytes_in", f->bytes_in);
    gh_audit_uint(&e, "bytes_out", f->bytes_out);
    if (f->count == GH_CLOSE_COUNT_REQUESTS && f->websocket) {
        gh_audit_uint(&e, "ws_frames_in", f->ws_frames_in);
        gh_audit_uint(&e, "ws_frames_out", f->ws_frames_out);
        gh_audit_uint(&e, "ws_messages_in", f->ws_messages_in);
    }
    if (f->count == GH_CLOSE_COUNT_REQUESTS)
        gh_audit_uint(&e, "requests", f->requests);
    else if (f->count == GH_CLOSE_COUNT_FRAMES)
        gh_audit_uint(&e, "frames", f->frames);
    gh_audit_str(&e, "reason", name);
    gh_audit_commit(&e);
}

/* ---- reject --------------------------------------------------------- */

/* How a check's reject line reads. */
enum reject_line {
    LINE_STREAM,      /* before or outside HTTP: client=, reason=, bytes= */
    LINE_HTTP,        /* rule=, status= */
    LINE_HTTP_HEAD,   /* rule=, status=, and the head's start quoted */
    LINE_WS_FRAME,    /* rule=, from= */
};

struct reject_reason_row {
    const char *name;
    enum reject_line line;
};

static const struct reject_reason_row reject_reasons[GH_REJECT_REASON_COUNT] = {
    [GH_REJECT_PROXY_UNTRUSTED] = {"proxy_untrusted", LINE_STREAM},
    [GH_REJECT_PROXY_WRONG_VERSION] = {"proxy_wrong_version", LINE_STREAM},
    [GH_REJECT_PROXY_HEADER] = {"proxy_header", LINE_STREAM},
    [GH_REJECT_FRAMING] = {"framing", LINE_STREAM},
    [GH_REJECT_TRUNCATED_FRAME] = {"truncated_frame", LINE_STREAM},
    [GH_REJECT_HTTP_REQUEST] = {"http_request", LINE_HTTP_HEAD},
    [GH_REJECT_HEADER_TIMEOUT] = {"header_timeout", LINE_HTTP},
    [GH_REJECT_BODY_TIMEOUT] = {"body_timeout", LINE_HTTP},
    [GH_REJECT_WS_UPGRADE] = {"ws_upgrade", LINE_HTTP},
    [GH_REJECT_WS_FRAME] = {"ws_frame", LINE_WS_FRAME},
};

static const struct reject_reason_row *reject_row(enum gh_reject_reason reason)
{
    static const struct reject_reason_row unknown = {"unknown", LINE_STREAM};
    return (unsigned)reason < GH_REJECT_REASON_COUNT ? &reject_reasons[reason] : &unknown;
}

const char *gh_reject_reason_name(enum gh_reject_reason reason) { return reject_row(reason)->name; }

#define REJECT_LINE_EXCERPT 47 /* bytes of a refused head quoted in its line */

void gh_event_reject(const struct gh_event_ctx *ev, const struct gh_reject *r)
{
    const struct reject_reason_row *row = reject_row(r->reason);
    const char *reason = r->rule ? r->rule : row->name;
    unsigned long long conn = (unsigned long long)ev->conn;
    struct gh_audit_entry e;

    switch (row->line) {
    case LINE_STREAM:
        gh_log(GH_LOG_INFO, "reject", " conn=%llu listener=%s client=%s reason=%s bytes=%zu", conn,
               ev->cfg->name, ev->peer_addr, reason, r->excerpt_len);
        break;
    case LINE_HTTP:
        gh_log(GH_LOG_INFO, "reject", " conn=%llu listener=%s rule=%s status=%d", conn,
               ev->cfg->name, reason, r->status);
        break;
    case LINE_HTTP_HEAD: {
        /* the head's start as text: NULs would end it early */
        char raw[REJECT_LINE_EXCERPT + 1], quoted[160];
        size_t n = r->excerpt_len < REJECT_LINE_EXCERPT ? r->excerpt_len : REJECT_LINE_EXCERPT;
        if (n)
            memcpy(raw, r->excerpt, n);
        raw[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (raw[i] == '\0')
                raw[i] = '?';
        gh_log(GH_LOG_INFO, "reject", " conn=%llu listener=%s rule=%s status=%d excerpt=%s", conn,
               ev->cfg->name, reason, r->status, gh_log_quote(raw, quoted, sizeof quoted));
        break;
    }
    case LINE_WS_FRAME:
        gh_log(GH_LOG_INFO, "reject", " conn=%llu listener=%s rule=%s from=%s", conn,
               ev->cfg->name, reason, r->from == GH_SIDE_BACKEND ? "backend" : "client");
        break;
    }
    if (!audit_begin_conn(&e, "reject", ev))
        return;
    gh_audit_str(&e, "client", ev->client_ip);
    gh_audit_str(&e, "reason", reason);
    if (r->status > 0)
        gh_audit_uint(&e, "status", (uint64_t)r->status);
    if (r->excerpt)
        gh_audit_client_cut(&e, "excerpt", r->excerpt,
                            r->excerpt_len < GH_AUDIT_EXCERPT ? r->excerpt_len : GH_AUDIT_EXCERPT,
                            r->excerpt_len);
    gh_audit_commit(&e);
}

/* ---- TLS ------------------------------------------------------------ */

bool gh_event_tls_ok_wanted(void) { return gh_log_enabled(GH_LOG_DEBUG) || gh_audit_on(); }

void gh_event_tls_ok(const struct gh_event_ctx *ev, const struct gh_tls_info *info,
                     const struct gh_tls_peer *peer, const char *cert_label)
{
    struct gh_audit_entry e;

    gh_log(GH_LOG_DEBUG, "tls_ok", " conn=%llu listener=%s version=%s cipher=%s resumed=%d",
           (unsigned long long)ev->conn, ev->cfg->name, info->version, info->cipher,
           info->resumed);
    if (!audit_begin_client(&e, "tls_ok", ev))
        return;
    if (info->sni)
        gh_audit_client(&e, "sni", info->sni, info->sni_len);
    if (info->alpn)
        gh_audit_client(&e, "alpn", info->alpn, info->alpn_len);
    gh_audit_str(&e, "tls_version", info->version);
    gh_audit_str(&e, "cipher", info->cipher);
    gh_audit_bool(&e, "resumed", info->resumed != 0);
    gh_audit_str(&e, "cert", cert_label);
    if (peer) {
        /* a CA-signed certificate's text is still the client's choice */
        gh_audit_client(&e, "client_cert_subject", peer->subject, strlen(peer->subject));
        gh_audit_client(&e, "client_cert_issuer", peer->issuer, strlen(peer->issuer));
        gh_audit_str(&e, "client_cert_serial", peer->serial);
        gh_audit_str(&e, "client_cert_sha256", peer->sha256);
        if (peer->uri[0])
            gh_audit_client(&e, "client_cert_uri", peer->uri, strlen(peer->uri));
    }
    gh_audit_commit(&e);
}

static const char *const tls_fail_reasons[GH_TLS_FAIL_REASON_COUNT] = {
    [GH_TLS_FAIL_TIMEOUT] = "timeout",
    [GH_TLS_FAIL_IO_ERROR] = "io_error",
    [GH_TLS_FAIL_PROTOCOL_ERROR] = "protocol_error",
    [GH_TLS_FAIL_UNKNOWN_SNI] = "unknown_sni",
    [GH_TLS_FAIL_ALERT] = "alert",
    [GH_TLS_FAIL_VERIFY_FAILED] = "verify_failed",
};

const char *gh_tls_fail_reason_name(enum gh_tls_fail_reason reason)
{
    return table_name(tls_fail_reasons, GH_TLS_FAIL_REASON_COUNT, (unsigned)reason);
}

static void audit_tls_fail(const struct gh_event_ctx *ev, enum gh_tls_fail_reason reason,
                           const char *detail)
{
    struct gh_audit_entry e;
    if (!audit_begin_client(&e, "tls_fail", ev))
        return;
    gh_audit_str(&e, "reason", gh_tls_fail_reason_name(reason));
    gh_audit_str(&e, "detail", detail);
    gh_audit_commit(&e);
}

void gh_event_tls_fail(const struct gh_event_ctx *ev, enum gh_tls_fail_reason reason,
                       const char *detail)
{
    if (reason == GH_TLS_FAIL_TIMEOUT)
        gh_log(GH_LOG_INFO, "tls_fail", " conn=%llu listener=%s reason=handshake_timeout",
               (unsigned long long)ev->conn, ev->cfg->name);
    else
        gh_log(GH_LOG_INFO, "tls_fail", " conn=%llu listener=%s client=%s reason=%s",
               (unsigned long long)ev->conn, ev->cfg->name, ev->peer_addr,
               gh_tls_fail_reason_name(reason));
    audit_tls_fail(ev, reason, detail);
}

void gh_event_tls_session_failed(const struct gh_event_ctx *ev, enum gh_tls_fail_reason reason,
                                 const char *error_text)
{
    char quoted[128];
    gh_log(GH_LOG_INFO, "tls_fail", " conn=%llu listener=%s client=%s reason=%s",
           (unsigned long long)ev->conn, ev->cfg->name, ev->peer_addr,
           gh_log_quote(error_text, quoted, sizeof quoted));
    audit_tls_fail(ev, reason, error_text);
}

/* ---- backend errors ------------------------------------------------- */

static const char *const backend_error_reasons[GH_BACKEND_ERROR_REASON_COUNT] = {
    [GH_BACKEND_ERROR_TIMEOUT] = "timeout",
    [GH_BACKEND_ERROR_REFUSED] = "refused",
    [GH_BACKEND_ERROR_UNREACHABLE] = "unreachable",
    [GH_BACKEND_ERROR_RESET] = "reset",
    [GH_BACKEND_ERROR_ERROR] = "error",
};

const char *gh_backend_error_reason_name(enum gh_backend_error_reason reason)
{
    return table_name(backend_error_reasons, GH_BACKEND_ERROR_REASON_COUNT, (unsigned)reason);
}

void gh_event_backend_error(const struct gh_event_ctx *ev, enum gh_backend_failure failure,
                            int err, const char *what)
{
    const char *listener = ev->cfg->name, *backend = ev->cfg->backend.text;
    unsigned long long conn = (unsigned long long)ev->conn;
    enum gh_backend_error_reason reason = GH_BACKEND_ERROR_ERROR;
    struct gh_audit_entry e;
    char detail[96];

    detail[0] = '\0';
    switch (failure) {
    case GH_BACKEND_CONNECT_TIMEOUT:
        gh_log(GH_LOG_WARN, "backend_error", " conn=%llu listener=%s backend=%s reason=timeout",
               conn, listener, backend);
        reason = GH_BACKEND_ERROR_TIMEOUT;
        snprintf(detail, sizeof detail, "connect");
        break;
    case GH_BACKEND_RESPONSE_TIMEOUT:
        gh_log(GH_LOG_WARN, "backend_error",
               " conn=%llu listener=%s backend=%s reason=response_timeout", conn, listener, backend);
        reason = GH_BACKEND_ERROR_TIMEOUT;
        snprintf(detail, sizeof detail, "response");
        break;
    case GH_BACKEND_CONNECT_FAILED:
        gh_log(GH_LOG_WARN, "backend_error", " conn=%llu listener=%s backend=%s reason=%s", conn,
               listener, backend, err == ECONNREFUSED ? "refused" : strerror(err));
        reason = err == ECONNREFUSED                          ? GH_BACKEND_ERROR_REFUSED
                 : err == ENETUNREACH || err == EHOSTUNREACH ? GH_BACKEND_ERROR_UNREACHABLE
                                                              : GH_BACKEND_ERROR_ERROR;
        snprintf(detail, sizeof detail, "%s", strerror(err));
        break;
    case GH_BACKEND_IO_FAILED:
        gh_log(GH_LOG_INFO, "backend_error", " conn=%llu listener=%s backend=%s reason=%s:%s", conn,
               listener, backend, what, strerror(err));
        reason = err == ECONNRESET || err == EPIPE ? GH_BACKEND_ERROR_RESET : GH_BACKEND_ERROR_ERROR;
        snprintf(detail, sizeof detail, "%s: %s", what, strerror(err));
        break;
    case GH_BACKEND_PROXY_HEADER:
        gh_log(GH_LOG_ERROR, "proxy_header_failed", " conn=%llu listener=%s error=%s", conn,
               listener, strerror(err));
        snprintf(detail, sizeof detail, "the PROXY header could not be sent");
        break;
    case GH_BACKEND_BAD_RESPONSE:
        gh_log(GH_LOG_WARN, "backend_error", " conn=%llu listener=%s reason=bad_response rule=%s",
               conn, listener, what);
        snprintf(detail, sizeof detail, "bad_response:%s", what);
        break;
    case GH_BACKEND_BAD_SWITCH:
        gh_log(GH_LOG_WARN, "backend_error", " conn=%llu listener=%s reason=%s", conn, listener,
               what);
        snprintf(detail, sizeof detail, "bad_response:%s", what);
        break;
    case GH_BACKEND_FAILURE_COUNT:
        break;
    }
    if (!audit_begin_conn(&e, "backend_error", ev))
        return;
    gh_audit_str(&e, "backend", backend);
    gh_audit_str(&e, "reason", gh_backend_error_reason_name(reason));
    gh_audit_str(&e, "detail", detail);
    gh_audit_commit(&e);
}

/* ---- backend desync ------------------------------------------------- */

static const char *const desync_reasons[GH_DESYNC_REASON_COUNT] = {
    [GH_DESYNC_EARLY_RESPONSE] = "early_response",
    [GH_DESYNC_UNSOLICITED_RESPONSE] = "unsolicited_response",
};

const char *gh_desync_reason_name(enum gh_desync_reason reason)
{
    return table_name(desync_reasons, GH_DESYNC_REASON_COUNT, (unsigned)reason);
}

void gh_event_backend_desync(const struct gh_event_ctx *ev, enum gh_desync_reason reason,
                             const void *excerpt, size_t excerpt_len, size_t excerpt_max)
{
    const char *name = gh_desync_reason_name(reason);
    struct gh_audit_entry e;

    gh_log(GH_LOG_WARN, "backend_desync", " conn=%llu listener=%s backend=%s reason=%s bytes=%zu",
           (unsigned long long)ev->conn, ev->cfg->name, ev->cfg->backend.text, name, excerpt_len);
    if (!audit_begin_conn(&e, "backend_desync", ev))
        return;
    gh_audit_str(&e, "backend", ev->cfg->backend.text);
    gh_audit_str(&e, "reason", name);
    if (excerpt_len)
        gh_audit_client(&e, "excerpt", excerpt, excerpt_len < excerpt_max ? excerpt_len : excerpt_max);
    gh_audit_commit(&e);
}

/* ---- reload --------------------------------------------------------- */

void gh_event_reloaded(const char *config_path, size_t listeners)
{
    gh_log(GH_LOG_INFO, "reloaded", " config=%s listeners=%zu", config_path, listeners);
    gh_audit_reload(config_path, true, 0);
}

void gh_event_reload_refused(const char *config_path, size_t errors)
{
    gh_log(GH_LOG_ERROR, "reload_refused", " errors=%zu hint=\"the running configuration stays\"",
           errors);
    gh_audit_reload(config_path, false, errors);
}
