/* http_proxy.c - mode = http; see http_proxy.h.
 *
 * Requests: a head is parsed only once complete (gh_http1_head_end finds
 * its end incrementally), checked, and written to the backend rebuilt from
 * its parsed fields, so what the backend reads is exactly what was checked:
 * one field per line, normalised spacing, a single Content-Length, no
 * hop-by-hop fields, and gatehouse's own X-Forwarded-* (or RFC 7239
 * Forwarded) and X-Request-Id. Forwarding and identity fields are matched
 * the way a lenient backend reads names (any case, '_' = '-'): a client
 * cannot pass any spelling of them; only trusted_proxies may pass the
 * forwarding family.
 * Bodies stream through as they arrive, checked (chunked syntax) and
 * counted (max_body) on the way.
 *
 * Responses: each head is parsed for its framing against the method of the
 * oldest request in flight, so every response is paired with its request.
 * A backend that ends its connection (Connection: close, or closing between
 * responses) is replaced and the client's connection goes on; a request it
 * closed on before answering goes again only under enum gh_http_replay. */
#include "gatehouse/http_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "gatehouse/audit.h"
#include "gatehouse/event.h"
#include "gatehouse/log.h"
#include "gatehouse/proxy_protocol.h"
#include "gatehouse/span.h"
#include "gatehouse/tls.h"
#include "gatehouse/websocket.h"

#include <stdlib.h>

/* Bytes the rebuilt head may add to the original: X-Forwarded-For and
 * Forwarded (client address each), X-Forwarded-Proto, X-Request-Id,
 * Connection, and with a client
 * certificate X-Client-Verified, -Cert-Subject, -Cert-Fingerprint, -Cert-URI,
 * -Cert-Truncated (HEAD_GROWTH_CERT_FIXED and the peer's texts). */
#define HEAD_GROWTH 512
/* More, when client certificates are checked: the field names and the
 * fixed values, plus the peer's texts (cert_fields_growth). */
#define HEAD_GROWTH_CERT_FIXED 192

/* Scratch for parsing: parsed spans are used only within one feed call, so
 * one per process serves every connection. */
static struct gh_http1_request scratch_req;
static struct gh_ws_config scratch_ws_cfg;   /* built from the listener for each upgrade */

/* Requests still unanswered each get their request audit entry with
 * OUTCOME (client_abort, shutdown, backend_failed), once the bytes before
 * them (if any) reach the client. */
static void abandon_unanswered(struct gh_http_proxy *hp, enum gh_http_outcome outcome, double now,
                               uint64_t conn_id);
/* Bytes at the start of the client's input that are a kept head (see enum
 * gh_http_replay), which must not be dropped; 0 if none. */
static size_t kept_input(const struct gh_http_proxy *hp);
_Static_assert(GH_WS_ORIGINS_LIMIT == GH_WS_ORIGINS_MAX, "config and websocket.h disagree");

struct gh_ws_session {
    struct gh_ws_validator from_client;
    struct gh_ws_validator from_backend;
};
static struct gh_http1_response scratch_resp;

static uint64_t id_state[2];

/* xorshift128+: request ids only need to be unique, not secret. */
static uint64_t next_request_id(void)
{
    if (id_state[0] == 0 && id_state[1] == 0) {
        if (getrandom(id_state, sizeof id_state, 0) != sizeof id_state || !(id_state[0] | id_state[1]))
            id_state[0] = 0x9e3779b97f4a7c15ULL; /* never both zero */
    }
    uint64_t s1 = id_state[0];
    const uint64_t s0 = id_state[1];
    id_state[0] = s0;
    s1 ^= s1 << 23;
    id_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return id_state[1] + s0;
}

void gh_http_proxy_init(struct gh_http_proxy *hp, const struct gh_listener_config *cfg,
                        const char *client_addr)
{
    memset(hp, 0, sizeof *hp);
    hp->cfg = cfg;
    hp->client_addr = client_addr;
    hp->req_phase = GH_HTTP_HEAD;
    hp->resp_phase = GH_HTTP_HEAD;
    hp->resp_limits = cfg->http_limits;
    hp->resp_limits.max_header_bytes = cfg->max_response_header_bytes;
    hp->resp_limits.max_headers = cfg->max_response_headers;
    hp->backend_sync = GH_HTTP_BACKEND_IN_SYNC;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* Queues "STATUS ... Connection: close" with a one-line text body naming
 * the reason; nothing more is read from the client. */
static void queue_reply(struct gh_http_proxy *hp, int status, const char *why)
{
    char body[160];
    int body_len;

    if (hp->reply_queued)
        return;
    body_len = snprintf(body, sizeof body, "%d %s: %s\n", status, reason_phrase(status), why);
    if (body_len < 0 || (size_t)body_len >= sizeof body)
        body_len = (int)sizeof body - 1;
    int n = snprintf(hp->reply, sizeof hp->reply,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n%s%s%s\r\n%.*s",
                     status, reason_phrase(status), body_len, hp->cfg->hsts[0] ? "Strict-Transport-Security: " : "",
                     hp->cfg->hsts, hp->cfg->hsts[0] ? "\r\n" : "", body_len, body);
    hp->reply_len = n > 0 && (size_t)n < sizeof hp->reply ? (size_t)n : 0;
    hp->reply_queued = true;
    hp->req_phase = GH_HTTP_STOPPED;
}

/* The event context of this connection (event.h), for its rare events. */
static struct gh_event_ctx *event_ctx(const struct gh_http_proxy *hp, uint64_t conn_id,
                                      struct gh_event_ctx *ev)
{
    gh_event_ctx_init_ip(ev, conn_id, hp->cfg, hp->client_addr);
    return ev;
}

/* A refused WebSocket upgrade: 400/403/426 with the RFC's extra fields. */
static void reject_upgrade(struct gh_http_proxy *hp, const struct gh_ws_upgrade_verdict *v,
                           uint64_t conn_id, const uint8_t *head, size_t head_len)
{
    struct gh_event_ctx ev;
    gh_event_reject(event_ctx(hp, conn_id, &ev),
                    &(struct gh_reject){.reason = GH_REJECT_WS_UPGRADE, .rule = v->reason,
                                        .status = v->status, .excerpt = head,
                                        .excerpt_len = head_len});
    queue_reply(hp, v->status, v->reason);
    if (v->extra_headers && v->extra_headers[0] && hp->reply_len) {
        /* after the status line: "HTTP/1.1 426 ...\r\n" */
        char *eol = memchr(hp->reply, '\n', hp->reply_len);
        size_t add = strlen(v->extra_headers);
        if (eol && hp->reply_len + add < sizeof hp->reply) {
            size_t at = (size_t)(eol + 1 - hp->reply);
            memmove(hp->reply + at + add, hp->reply + at, hp->reply_len - at);
            memcpy(hp->reply + at, v->extra_headers, add);
            hp->reply_len += add;
        }
    }
}

/* A frame broke the rules: the validator's close frame goes to the
 * client, nothing more goes either way. */
static void reject_frame(struct gh_http_proxy *hp, const struct gh_framer_verdict *v,
                         uint64_t conn_id, bool from_client, const uint8_t *at, size_t len)
{
    struct gh_event_ctx ev;
    gh_event_reject(event_ctx(hp, conn_id, &ev),
                    &(struct gh_reject){.reason = GH_REJECT_WS_FRAME, .rule = v->reason,
                                        .from = from_client ? GH_SIDE_CLIENT : GH_SIDE_BACKEND,
                                        .excerpt = at, .excerpt_len = len});
    if (v->reply && v->reply_len <= sizeof hp->reply) {
        memcpy(hp->reply, v->reply, v->reply_len);
        hp->reply_len = v->reply_len;
    }
    hp->reply_queued = true;
    hp->req_phase = GH_HTTP_STOPPED;
    hp->resp_phase = GH_HTTP_STOPPED;
}

static void reject(struct gh_http_proxy *hp, enum gh_http1_rule rule, uint64_t conn_id,
                   const uint8_t *excerpt, size_t excerpt_len)
{
    struct gh_event_ctx ev;
    int status = gh_http1_rule_status(rule);
    gh_event_reject(event_ctx(hp, conn_id, &ev),
                    &(struct gh_reject){.reason = GH_REJECT_HTTP_REQUEST,
                                        .rule = gh_http1_rule_name(rule), .status = status,
                                        .excerpt = excerpt, .excerpt_len = excerpt_len});
    queue_reply(hp, status, gh_http1_rule_name(rule));
}

/* mode = redirect: "308 Permanent Redirect" to the same host and target
 * over https, so a client that came in plaintext never sends its request
 * anywhere but gatehouse's TLS listener. */
static void queue_redirect(struct gh_http_proxy *hp, const struct gh_http1_request *req,
                           uint64_t conn_id)
{
    struct gh_http1_span host = {0};
    char port[16] = "";
    int n;

    if (req->host_index >= 0)
        host = req->headers[req->host_index].value;
    if (host.len == 0 || req->target_form != GH_TARGET_ORIGIN ||
        (req->policy_hits & ((gh_http1_rule_set)1 << GH_RULE_BAD_HOST))) {
        reject(hp, host.len == 0 ? GH_RULE_MISSING_HOST : GH_RULE_BAD_HOST, conn_id,
               (const uint8_t *)req->method.p, req->head_len);
        return;
    }
    /* Host may carry the plaintext port; the https port replaces it. */
    size_t host_len = host.len;
    if (host.p[host_len - 1] != ']') {
        for (size_t i = host_len; i > 0; i--) {
            if (host.p[i - 1] == ':') {
                host_len = i - 1;
                break;
            }
            if (host.p[i - 1] == ']')
                break;
        }
    }
    if (hp->cfg->redirect_port != 443)
        snprintf(port, sizeof port, ":%d", hp->cfg->redirect_port);
    /* Sized to this request: the target may be as long as max_request_line
     * (up to 64k) and Host up to max_header_bytes, so the fixed reply[]
     * that every connection carries (GH_HTTP_REPLY_MAX) cannot hold it.
     * One allocation per redirect, which is the connection's only request
     * (Connection: close); freed with the connection. It fits the client
     * buffer: buffer_size >= max_header_bytes + 2k, and the head held both. */
    static const char fmt[] = "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://%.*s%s%.*s\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n";
    n = snprintf(NULL, 0, fmt, (int)host_len, host.p, port, (int)req->target.len, req->target.p);
    if (n > 0 && !hp->redirect_reply)
        hp->redirect_reply = malloc((size_t)n + 1);
    if (n <= 0 || !hp->redirect_reply) {
        queue_reply(hp, 503, "out_of_memory");
        return;
    }
    n = snprintf(hp->redirect_reply, (size_t)n + 1, fmt, (int)host_len, host.p, port,
                 (int)req->target.len, req->target.p);
    gh_log(GH_LOG_INFO, "redirect", " conn=%llu listener=%s status=308",
           (unsigned long long)conn_id, hp->cfg->name);
    hp->reply_len = (size_t)n;
    hp->reply_queued = true;
    hp->req_phase = GH_HTTP_STOPPED;
    hp->requests++;
}

static bool method_allowed(const struct gh_listener_config *cfg, struct gh_http1_span m)
{
    if (cfg->method_policy == GH_METHODS_SAFE_DEFAULT)
        return !gh_http1_span_equals(m, "connect") && !gh_http1_span_equals(m, "trace");
    for (size_t i = 0; i < cfg->n_methods; i++) {
        size_t n = strlen(cfg->allow_methods[i]);
        if (n == m.len && memcmp(cfg->allow_methods[i], m.p, n) == 0)
            return true;
    }
    return false;
}

/* ---- writing a head ---------------------------------------------------- */

struct out {
    uint8_t *p;
    size_t room;
    size_t len;
    bool overflow;
};

static void put(struct out *o, const void *data, size_t n)
{
    if (o->len + n > o->room) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }

static void put_span(struct out *o, struct gh_http1_span s) { put(o, s.p, s.len); }

/* Field values keep their bytes, except that an obs-fold (allowed through
 * in report mode) becomes spaces: RFC 9112 5.2 lets a proxy replace it. */
static void put_value(struct out *o, struct gh_http1_span v)
{
    if (o->len + v.len > o->room) {
        o->overflow = true;
        return;
    }
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = (uint8_t)v.p[i];
        o->p[o->len++] = (c == '\r' || c == '\n') ? ' ' : c;
    }
}

/* Whether this request's sender may speak for the client (trusted_proxies). */
enum forwarding_trust { FORWARDING_UNTRUSTED, FORWARDING_TRUSTED };

static bool name_is(struct gh_http1_span name, const char *lower)
{
    return gh_http1_span_equals(name, lower);
}

/* Field names as a CGI/WSGI/PHP backend reads them: ASCII case and '_'
 * versus '-' do not count (X_Forwarded_For and X-Forwarded-For are both
 * HTTP_X_FORWARDED_FOR there), so whenever gatehouse decides that a field
 * is one it interprets, it compares names this way. */
static char fold_name_char(char c)
{
    return c == '_' ? '-' : (char)gh_ascii_lower((unsigned char)c);
}

/* NAME, folded, starts with LOWER (a lowercase '-' spelling); the whole
 * name when whole is set. */
static bool name_folds_to(struct gh_http1_span name, const char *lower, bool whole)
{
    size_t n = strlen(lower);
    if (name.len < n || (whole && name.len != n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (fold_name_char(name.p[i]) != lower[i])
            return false;
    return true;
}

static bool name_has_underscore(struct gh_http1_span name)
{
    return memchr(name.p, '_', name.len) != NULL;
}

/* Fields gatehouse itself sets, in every spelling; a client's copies never
 * reach the backend, whoever sent them: the request id and protocol are
 * this hop's, and X-Client-* is the identity this TLS handshake verified. */
static bool is_own_field(struct gh_http1_span name)
{
    return name_folds_to(name, "x-forwarded-proto", true) ||
           name_folds_to(name, "x-request-id", true) || name_folds_to(name, "x-client-", false);
}

/* The forwarding family: who the client is and what it asked for, as
 * proxies in front report it. Believed only from trusted_proxies. */
static bool is_forwarding_field(struct gh_http1_span name)
{
    return name_folds_to(name, "forwarded", true) || name_folds_to(name, "x-forwarded-", false) ||
           name_folds_to(name, "x-real-ip", true);
}

/* An '_' spelling of a field whose '-' spelling gatehouse interprets (the
 * parser reads only the exact name): a backend that maps '_' to '-' would
 * read a Content_Length or a Connection that gatehouse never checked. */
static bool is_underscore_alias(struct gh_http1_span name)
{
    static const char *const interpreted[] = {
        "host", "content-length", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "te", "trailer", "upgrade", "expect", "proxy-authorization",
        "proxy-authenticate",
    };
    if (!name_has_underscore(name))
        return false;
    for (size_t i = 0; i < sizeof interpreted / sizeof interpreted[0]; i++)
        if (name_folds_to(name, interpreted[i], true))
            return true;
    return false;
}

/* RFC 9110 7.6.1: hop-by-hop fields end at gatehouse. */
static bool is_hop_by_hop(struct gh_http1_span name)
{
    return name_is(name, "connection") || name_is(name, "keep-alive") ||
           name_is(name, "proxy-connection") || name_is(name, "te") ||
           name_is(name, "upgrade") || name_is(name, "proxy-authorization") ||
           name_is(name, "proxy-authenticate");
}

/* Fields a Connection header may never remove: the framing and the fields
 * gatehouse adds or believes from a trusted proxy. */
static bool is_protected(struct gh_http1_span name)
{
    return name_is(name, "host") || name_is(name, "content-length") ||
           name_is(name, "transfer-encoding") || is_forwarding_field(name) ||
           is_own_field(name);
}

static bool same_token(const char *a, size_t an, struct gh_http1_span b)
{
    return an == b.len && an > 0 && gh_ascii_ieq(a, b.p, an);
}

/* The identity the TLS handshake verified. Incoming copies of these fields
 * (X-Client-*, any spelling) were dropped (is_own_field), so the backend can
 * trust them, including the absence of X-Client-Cert-Truncated. The texts
 * were made header-safe at the handshake (cert_info.h): the subject as
 * ASCII RFC 4514 with \XX escapes, the URIs as one RFC 9110 list. */
static void write_client_cert_fields(const struct gh_http_proxy *hp, struct out *o)
{
    const struct gh_tls_peer *peer = hp->peer;
    if (hp->cfg->client_verify == GH_VERIFY_OFF)
        return;
    if (!peer || !peer->verified) {
        puts_(o, "X-Client-Verified: NONE\r\n");
        return;
    }
    puts_(o, "X-Client-Verified: SUCCESS\r\nX-Client-Cert-Subject: ");
    puts_(o, peer->subject_ascii);
    puts_(o, "\r\nX-Client-Cert-Fingerprint: ");
    puts_(o, peer->sha256);
    puts_(o, "\r\n");
    if (peer->uri_list[0]) {
        puts_(o, "X-Client-Cert-URI: ");
        puts_(o, peer->uri_list);
        puts_(o, "\r\n");
    }
    /* which of the above is not the whole of what the certificate holds */
    if (peer->subject_truncated && peer->uris_dropped)
        puts_(o, "X-Client-Cert-Truncated: subject, uri\r\n");
    else if (peer->subject_truncated)
        puts_(o, "X-Client-Cert-Truncated: subject\r\n");
    else if (peer->uris_dropped)
        puts_(o, "X-Client-Cert-Truncated: uri\r\n");
}

/* Is the sender of this request (the TCP peer, or the source a trusted
 * PROXY header named) one of the listener's trusted_proxies? */
static enum forwarding_trust sender_trust(const struct gh_http_proxy *hp)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (hp->cfg->n_trusted_proxies == 0)
        return FORWARDING_UNTRUSTED;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, hp->client_addr, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, hp->client_addr, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        return FORWARDING_UNTRUSTED; /* "?": an address we do not know is nobody we trust */
    return gh_cidr_list_match(hp->cfg->trusted_proxies, hp->cfg->n_trusted_proxies,
                              (const struct sockaddr *)&ss)
               ? FORWARDING_TRUSTED
               : FORWARDING_UNTRUSTED;
}

/* Every FIELD line of REQ (exact name) from index FROM on, values joined
 * with ", " (RFC 9110 5.3): a trusted proxy's chain, to be extended. */
static void put_joined(struct out *o, const struct gh_http1_request *req, size_t from,
                       const char *field)
{
    bool first = true;
    for (size_t j = from; j < req->n_headers; j++) {
        if (!name_is(req->headers[j].name, field))
            continue;
        if (!first)
            puts_(o, ", ");
        put_value(o, req->headers[j].value);
        first = false;
    }
    if (!first)
        puts_(o, ", ");
}

/* RFC 7239 node: an IPv6 address is quoted and bracketed (section 6). */
static void put_forwarded_element(struct out *o, const char *client_addr)
{
    puts_(o, "for=");
    if (strcmp(client_addr, "?") == 0)
        puts_(o, "unknown");
    else if (strchr(client_addr, ':')) {
        puts_(o, "\"[");
        puts_(o, client_addr);
        puts_(o, "]\"");
    } else
        puts_(o, client_addr);
    puts_(o, ";proto=https");
}

/* The two chain fields gatehouse writes, one hop per element. */
enum chain_field { CHAIN_XFF, CHAIN_FORWARDED };

/* One line of chain field F: the trusted chain REQ carries from header
 * FROM on (none when REQ is NULL), then this hop, the client. */
static void put_chain(struct out *o, enum chain_field f, const struct gh_http1_request *req,
                      size_t from, const char *client_addr)
{
    puts_(o, f == CHAIN_XFF ? "X-Forwarded-For: " : "Forwarded: ");
    if (req)
        put_joined(o, req, from, f == CHAIN_XFF ? "x-forwarded-for" : "forwarded");
    if (f == CHAIN_XFF)
        puts_(o, client_addr);
    else
        put_forwarded_element(o, client_addr);
    puts_(o, "\r\n");
}

/* Every line of chain field F in REQ reads as its syntax says. */
static bool chain_readable(const struct gh_http1_request *req, enum chain_field f)
{
    for (size_t j = 0; j < req->n_headers; j++) {
        const struct gh_http1_header *h = &req->headers[j];
        if (!name_is(h->name, f == CHAIN_XFF ? "x-forwarded-for" : "forwarded"))
            continue;
        if (!(f == CHAIN_XFF ? gh_http1_xff_valid(h->value) : gh_http1_forwarded_valid(h->value)))
            return false;
    }
    return true;
}

/* Forwarding fields a request may carry, and what gatehouse writes: the
 * client's copies of gatehouse's own fields (is_own_field) never pass; the
 * forwarding family (is_forwarding_field) passes only from a trusted proxy
 * and only in its '-' spelling. A chain field gatehouse writes (X-Forwarded-
 * For, Forwarded, per forwarded_headers) is extended with the client
 * address when the sender is trusted and forwarded_for = append, and
 * replaced otherwise; a chain field gatehouse does not write is dropped. */
/* Bytes write_client_cert_fields may add for this connection: the
 * fixed part and the texts of this certificate (at most
 * GH_TLS_DN_ASCII_MAX + GH_TLS_URI_LIST_MAX, usually a few hundred). */
static size_t cert_fields_growth(const struct gh_http_proxy *hp)
{
    if (hp->cfg->client_verify == GH_VERIFY_OFF)
        return 0;
    if (!hp->peer)
        return HEAD_GROWTH_CERT_FIXED;
    return HEAD_GROWTH_CERT_FIXED + strlen(hp->peer->subject_ascii) + strlen(hp->peer->sha256) +
           strlen(hp->peer->uri_list);
}

/* The body's framing as gatehouse writes it: one field, never the client's
 * lines (a lenient backend reads "the last Transfer-Encoding" or the first
 * Content-Length its own way). */
static void write_framing(struct out *o, enum gh_http_body_out out, uint64_t length)
{
    char line[48];
    switch (out) {
    case GH_BODY_OUT_NONE:
        break;
    case GH_BODY_OUT_LENGTH:
        snprintf(line, sizeof line, "Content-Length: %llu\r\n", (unsigned long long)length);
        puts_(o, line);
        break;
    case GH_BODY_OUT_CHUNKED:
        puts_(o, "Transfer-Encoding: chunked\r\n");
        break;
    }
}

static void write_request_head(struct gh_http_proxy *hp, const struct gh_http1_request *req,
                               struct out *o, uint64_t request_id, bool upgrade,
                               enum gh_http_body_out body_out, uint64_t body_length)
{
    const struct gh_listener_config *cfg = hp->cfg;
    const enum forwarding_trust trust = sender_trust(hp);
    const bool write_xff = cfg->forwarded_headers != GH_FORWARDED_RFC7239;
    const bool write_forwarded = cfg->forwarded_headers != GH_FORWARDED_X;
    const bool extend_chains = trust == FORWARDING_TRUSTED && cfg->xff_append;
    bool xff_written = false;
    bool forwarded_written = false;
    /* A trusted chain is extended only when every line of it reads: an open
     * quote or an empty element would swallow or shift the hop appended. */
    const bool xff_readable = extend_chains && chain_readable(req, CHAIN_XFF);
    const bool forwarded_readable = extend_chains && chain_readable(req, CHAIN_FORWARDED);

    put_span(o, req->method);
    puts_(o, " ");
    put_span(o, req->target);
    puts_(o, req->minor_version == 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct gh_http1_header *h = &req->headers[i];
        if (is_hop_by_hop(h->name) || is_own_field(h->name) || is_underscore_alias(h->name))
            continue;
        if (hp->req_phase == GH_HTTP_BODY_HELD && name_is(h->name, "expect"))
            continue; /* gatehouse answered the 100 itself and sends the body at once */
        if (is_forwarding_field(h->name)) {
            if (trust != FORWARDING_TRUSTED || name_has_underscore(h->name))
                continue;
            bool is_xff = name_is(h->name, "x-forwarded-for");
            if (is_xff || name_is(h->name, "forwarded")) {
                bool *written = is_xff ? &xff_written : &forwarded_written;
                if ((is_xff ? write_xff : write_forwarded) && extend_chains && !*written &&
                    (is_xff ? xff_readable : forwarded_readable)) {
                    /* at the first line's place: every earlier hop's value, then ours */
                    put_chain(o, is_xff ? CHAIN_XFF : CHAIN_FORWARDED, req, i, hp->client_addr);
                    *written = true;
                }
                continue;
            }
            /* X-Forwarded-Host, X-Real-IP...: the trusted proxy's, as sent */
        }
        if (gh_http1_connection_named(req, i) && !is_protected(h->name))
            continue;
        if (name_is(h->name, "content-length") || name_is(h->name, "transfer-encoding"))
            continue; /* write_framing says how the body goes */
        put_span(o, h->name);
        puts_(o, ": ");
        put_value(o, h->value);
        puts_(o, "\r\n");
    }
    write_framing(o, body_out, body_length);
    if (write_xff && !xff_written)
        put_chain(o, CHAIN_XFF, NULL, 0, hp->client_addr);
    if (write_forwarded && !forwarded_written)
        put_chain(o, CHAIN_FORWARDED, NULL, 0, hp->client_addr);
    uint8_t id_bytes[8]; /* request_id, most significant byte first */
    char id[2 * sizeof id_bytes];
    for (size_t i = 0; i < sizeof id_bytes; i++)
        id_bytes[i] = (uint8_t)(request_id >> (56 - 8 * i));
    gh_hex_encode(id, id_bytes, sizeof id_bytes, GH_HEX_LOWER);
    if (write_xff)
        puts_(o, "X-Forwarded-Proto: https\r\n");
    puts_(o, "X-Request-Id: ");
    put(o, id, sizeof id);
    puts_(o, "\r\n");
    write_client_cert_fields(hp, o);
    if (upgrade) /* the hop-by-hop pair that asks this hop to switch */
        puts_(o, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    else if (req->connection_close)
        puts_(o, "Connection: close\r\n");
    else if (req->minor_version == 0)
        puts_(o, "Connection: keep-alive\r\n");
    puts_(o, "\r\n");
}

static bool asks_upgrade(const struct gh_http1_request *req)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (gh_http1_span_equals(req->headers[i].name, "upgrade"))
            return true;
    return false;
}

static const struct gh_ws_config *ws_config(const struct gh_listener_config *cfg)
{
    struct gh_ws_config *w = &scratch_ws_cfg;
    /* stored as "a,b" or "" (none): an empty item is no origin */
    struct gh_list_walk origins = gh_list_start(cfg->ws_origins, ',', GH_LIST_KEEP_SPACES);
    const char *p;
    size_t len;
    memset(w, 0, sizeof *w);
    w->allow_missing_origin = true; /* non-browser clients send none */
    while (w->n_origins < GH_WS_ORIGINS_MAX && gh_list_next(&origins, &p, &len))
        if (len > 0 && len <= GH_WS_ORIGIN_LEN_MAX)
            snprintf(w->origins[w->n_origins++], GH_WS_ORIGIN_LEN_MAX + 1, "%.*s", (int)len, p);
    return w;
}

/* ---- requests ------------------------------------------------------------ */

static void log_policy_hits(const struct gh_http_proxy *hp, gh_http1_rule_set hits,
                            uint64_t conn_id, uint64_t request_id)
{
    for (int r = GH_RULE_FRAMING_LAST + 1; r < GH_RULE_COUNT; r++) {
        if (hits & ((gh_http1_rule_set)1 << r))
            gh_log(GH_LOG_INFO, "anomaly",
                   " conn=%llu listener=%s request_id=%016llx rule=%s action=log",
                   (unsigned long long)conn_id, hp->cfg->name, (unsigned long long)request_id,
                   gh_http1_rule_name((enum gh_http1_rule)r));
    }
}

/* Room the rebuilt head may need beyond the client's own head. */
static size_t head_growth(const struct gh_http_proxy *hp)
{
    return HEAD_GROWTH + 2 * strlen(hp->client_addr) + cert_fields_growth(hp);
}

/* Output kept free beyond what a chunk event consumes: a chunk-size line
 * gatehouse writes is never longer than the client's, and a trailer line
 * grows by at most the space after its colon; the rest is slack. */
#define CHUNK_OUT_SLACK 32

/* The policy rules REQ broke, with the method allow-list. */
static gh_http1_rule_set request_hits(const struct gh_listener_config *cfg,
                                      const struct gh_http1_request *req)
{
    gh_http1_rule_set hits = req->policy_hits;
    if (!method_allowed(cfg, req->method))
        hits |= (gh_http1_rule_set)1 << GH_RULE_METHOD_NOT_ALLOWED;
    return hits;
}

/* Parses and checks the complete head at io->in into scratch_req. False
 * when it was refused or redirected (a reply is queued). */
static bool check_request_head(struct gh_http_proxy *hp, struct gh_http_io *io, size_t head_len,
                               uint64_t conn_id)
{
    const struct gh_listener_config *cfg = hp->cfg;
    struct gh_http1_request *req = &scratch_req;
    enum gh_http1_rule rule = GH_RULE_NONE;
    gh_http1_rule_set enforced;

    if (gh_http1_parse_request((const char *)io->in, head_len, &cfg->http_limits, req, &rule) !=
            GH_HTTP1_DONE ||
        req->head_len != head_len) {
        if (rule == GH_RULE_NONE)
            rule = GH_RULE_BAD_REQUEST_LINE;
        reject(hp, rule, conn_id, io->in, head_len);
        return false;
    }
    enforced = cfg->report_only ? 0 : request_hits(cfg, req) & ~cfg->log_rules;
    if (enforced) {
        for (int r = GH_RULE_FRAMING_LAST + 1; r < GH_RULE_COUNT; r++) {
            if (enforced & ((gh_http1_rule_set)1 << r)) {
                reject(hp, (enum gh_http1_rule)r, conn_id, io->in, head_len);
                return false;
            }
        }
    }
    if (req->body == GH_BODY_LENGTH && req->content_length > cfg->max_body) {
        reject(hp, GH_RULE_BODY_TOO_LARGE, conn_id, io->in, head_len);
        return false;
    }
    if (cfg->mode == GH_MODE_REDIRECT) {
        queue_redirect(hp, req, conn_id);
        io->consumed += head_len;
        io->in += head_len;
        io->in_len -= head_len;
        return false;
    }
    return true;
}

/* Methods are case-sensitive (RFC 9110 9.1), as the parser reads them:
 * only "CONNECT" (authority-form, checked there) opens a tunnel; a
 * "connect" is an ordinary request whose answer is an ordinary response. */
static bool is_connect_method(struct gh_http1_span method)
{
    return method.len == 7 && memcmp(method.p, "CONNECT", 7) == 0;
}

/* Writes the rebuilt head of REQ (parsed from the head_len bytes at
 * io->in), queues the request and consumes its head. False when the output
 * has no room yet: nothing was written or consumed. */
static bool emit_request_head(struct gh_http_proxy *hp, const struct gh_http1_request *req,
                              struct gh_http_io *io, size_t head_len, uint64_t conn_id,
                              bool upgrade, enum gh_http_body_out body_out, uint64_t body_length)
{
    if (hp->queue_len == GH_HTTP_PIPELINE_MAX || io->out_room < head_len + head_growth(hp))
        return false; /* wait for a response, or for the backend to drain */

    uint64_t request_id = next_request_id();
    struct out o = {io->out, io->out_room, 0, false};
    write_request_head(hp, req, &o, request_id, upgrade, body_out, body_length);
    if (o.overflow)
        return false; /* cannot happen with the room checked above; wait rather than cut */
    gh_http1_rule_set hits = request_hits(hp->cfg, req);
    if (hits)
        log_policy_hits(hp, hits, conn_id, request_id);

    struct gh_http_pending *p =
        &hp->queue[(hp->queue_head + hp->queue_len) % GH_HTTP_PIPELINE_MAX];
    p->request_id = request_id;
    p->started = io->now;
    p->body_bytes = 0;
    p->body_out = body_out;
    snprintf(p->method, sizeof p->method, "%.*s", (int)req->method.len, req->method.p);
    p->target_len = (uint32_t)req->target.len;
    memcpy(p->target, req->target.p,
           req->target.len < sizeof p->target ? req->target.len : sizeof p->target);
    p->has_host = req->host_index >= 0;
    p->host_len = 0;
    if (p->has_host) {
        struct gh_http1_span host = req->headers[req->host_index].value;
        p->host_len = (uint32_t)host.len;
        memcpy(p->host, host.p, host.len < sizeof p->host ? host.len : sizeof p->host);
    }
    p->is_connect = is_connect_method(req->method);
    p->is_upgrade = upgrade;
    p->close_after = req->connection_close;
    hp->queue_len++;

    io->consumed += head_len;
    io->produced += o.len;
    io->in += head_len;
    io->in_len -= head_len;
    io->out += o.len;
    io->out_room -= o.len;

    hp->req_scan = 0;
    hp->req_head_started = 0;
    hp->req_body_bytes = 0;
    hp->req_out = body_out;
    if (req->connection_close)
        hp->close_when_idle = true;
    return true;
}

/* Bytes of a held request (head and body as received) that can wait in
 * the client's buffer and leave, rebuilt, through the backend's buffer in
 * one piece. The config keeps max_held_request under buffer_size minus the
 * head reserve; this also covers the client's address and certificate. */
static size_t held_limit(const struct gh_http_proxy *hp)
{
    size_t reserve = head_growth(hp) + CHUNK_OUT_SLACK;
    size_t room = hp->cfg->buffer_size > reserve ? hp->cfg->buffer_size - reserve : 0;
    return hp->cfg->max_held_request < room ? (size_t)hp->cfg->max_held_request : room;
}

/* Whether REQ waits whole in gatehouse until its body is complete, so that
 * a body breaking a rule sends nothing at all to the backend. Not CONNECT
 * (what follows is a tunnel). With Expect: 100-continue gatehouse answers
 * the 100 itself (the client waits for it before it sends the body), as
 * nginx does when it reads a body: the backend's 100 would come only after
 * it had the head, and then part of a body that may break a rule. */
static bool holds_request(const struct gh_http_proxy *hp, const struct gh_http1_request *req,
                          size_t head_len)
{
    size_t limit = held_limit(hp);
    if (is_connect_method(req->method) || head_len >= limit)
        return false;
    if (req->body == GH_BODY_LENGTH)
        return req->content_length > 0 && req->content_length <= limit - head_len;
    return req->body == GH_BODY_CHUNKED;
}

/* Does the listener forward the trailer NAME? Only when allow_trailers
 * lists it, and never a field gatehouse sets or one that frames or routes
 * the message (the head filter's own predicates). */
static bool forwards_trailer(const struct gh_listener_config *cfg, struct gh_http1_span name)
{
    /* stored as "a,b" or "" (none): an empty item matches no name */
    struct gh_list_walk allowed = gh_list_start(cfg->allow_trailers, ',', GH_LIST_KEEP_SPACES);
    const char *p;
    size_t len;
    if (is_protected(name) || is_hop_by_hop(name))
        return false;
    while (gh_list_next(&allowed, &p, &len))
        if (same_token(p, len, name))
            return true;
    return false;
}

/* RFC 9110 9.2.2: methods whose intended effect is the same however
 * often they are sent (case-sensitive: "get" is another method). */
static bool is_idempotent(struct gh_http1_span m)
{
    static const char *const idempotent[] = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    for (size_t i = 0; i < sizeof idempotent / sizeof idempotent[0]; i++) {
        size_t n = strlen(idempotent[i]);
        if (m.len == n && memcmp(m.p, idempotent[i], n) == 0)
            return true;
    }
    return false;
}

/* A request that may not be sent twice was just framed, PRODUCED_BEFORE
 * bytes into this feed's output. On a reused backend connection the
 * backend may have closed it already (keep-alive timeout, or it closes
 * after every response without saying so) with its FIN not read yet:
 * while every byte framed for that connection is this request's and none
 * is written, the connection checks before writing (REPLAY_UNSENT), and a
 * closed one gets nothing of it: it goes on a new connection. Once only:
 * a new connection has answered nothing. */
static void mark_unsent(struct gh_http_proxy *hp, const struct gh_http_io *io,
                        size_t produced_before)
{
    hp->replay = hp->backend_answered > 0 && io->out_pending == 0 && produced_before == 0
                     ? GH_HTTP_REPLAY_UNSENT
                     : GH_HTTP_REPLAY_NONE;
}

/* A bodiless request just sent (its head consumed from io): if it may be
 * sent again (enum gh_http_replay), its head stays in the client's input
 * instead, and the caller takes nothing more from it now. A request sent
 * again (REPLAY_DUE) is not kept a second time. */
static void keep_for_replay(struct gh_http_proxy *hp, const struct gh_http1_request *req,
                            struct gh_http_io *io, size_t head_len, bool upgrade,
                            size_t produced_before)
{
    bool retry_spent = hp->replay == GH_HTTP_REPLAY_DUE;
    hp->replay = GH_HTTP_REPLAY_NONE;
    /* Only on a reused backend connection: the backend may have closed it
     * (keep-alive timeout) while this request was on its way, which is no
     * failure of the request. On a fresh one, a close is the backend's
     * failure: a 502, and no client buffer held for a long request. */
    if (retry_spent || hp->backend_answered == 0 || upgrade || req->connection_close ||
        !is_idempotent(req->method) || io->consumed < head_len) {
        mark_unsent(hp, io, produced_before);
        return;
    }
    /* everything consumed before it precedes it in the buffer: the
     * connection drops only that, the head stays first */
    io->consumed -= head_len;
    hp->replay = GH_HTTP_REPLAY_KEPT;
    hp->replay_len = head_len;
}

enum take_result {
    TAKE_SENT,                    /* the head went on; its body (if any) follows */
    TAKE_HELD,                    /* the request waits whole in the client's buffer */
    TAKE_BLOCKED,                 /* no room or queue full: try again later */
    TAKE_REFUSED,                 /* rejected or redirected: a reply is queued */
};

/* Handles one complete head at io->in. */
static enum take_result take_request_head(struct gh_http_proxy *hp, struct gh_http_io *io,
                                          size_t head_len, uint64_t conn_id)
{
    const struct gh_listener_config *cfg = hp->cfg;
    struct gh_http1_request *req = &scratch_req;

    if (hp->queue_len == GH_HTTP_PIPELINE_MAX)
        return TAKE_BLOCKED; /* wait for a response to complete */
    if (io->out_room < head_len + head_growth(hp))
        return TAKE_BLOCKED; /* wait for the backend to drain (not parsed twice meanwhile) */
    if (!check_request_head(hp, io, head_len, conn_id))
        return TAKE_REFUSED;

    bool upgrade = false;
    if (cfg->websocket && asks_upgrade(req)) {
        struct gh_ws_upgrade_verdict wv;
        if (!gh_ws_check_upgrade(req, ws_config(cfg), &wv)) {
            reject_upgrade(hp, &wv, conn_id, io->in, head_len);
            return TAKE_REFUSED;
        }
        /* the 101 is checked against this head (key, offers): keep it */
        free(hp->ws_head);
        hp->ws_head = malloc(head_len);
        if (!hp->ws_head) {
            queue_reply(hp, 503, "out of memory");
            return TAKE_REFUSED;
        }
        memcpy(hp->ws_head, io->in, head_len);
        hp->ws_head_len = head_len;
        upgrade = true;
    }

    if (!upgrade && holds_request(hp, req, head_len)) {
        hp->req_phase = GH_HTTP_BODY_HELD;
        hp->held_body = req->body;
        hp->held_head_len = head_len;
        hp->held_scan = head_len;
        hp->held_trailers = 0;
        hp->req_body_left = req->content_length;
        hp->req_scan = 0;
        hp->req_head_started = 0;
        gh_http1_chunked_init(&hp->req_chunked);
        if (req->expect_continue) /* nothing is in flight: it goes out at once */
            hp->interim = GH_HTTP_INTERIM_CONTINUE;
        return TAKE_HELD;
    }

    enum gh_http_body_out out = req->body == GH_BODY_CHUNKED  ? GH_BODY_OUT_CHUNKED
                                : req->body == GH_BODY_LENGTH ? GH_BODY_OUT_LENGTH
                                                              : GH_BODY_OUT_NONE;
    size_t produced_before = io->produced;
    if (!emit_request_head(hp, req, io, head_len, conn_id, upgrade, out, req->content_length))
        return TAKE_BLOCKED;
    if (req->body == GH_BODY_LENGTH && req->content_length > 0) {
        hp->req_phase = GH_HTTP_BODY_LENGTH;
        hp->req_body_left = req->content_length;
    } else if (req->body == GH_BODY_CHUNKED) {
        hp->req_phase = GH_HTTP_BODY_CHUNKED;
        gh_http1_chunked_init(&hp->req_chunked);
    } else {
        hp->req_phase = req->connection_close ? GH_HTTP_STOPPED : GH_HTTP_HEAD;
        keep_for_replay(hp, req, io, head_len, upgrade, produced_before);
        return TAKE_SENT;
    }
    mark_unsent(hp, io, produced_before); /* a body: never sent twice */
    return TAKE_SENT;
}

static size_t pass_through(struct gh_http_io *io, size_t n);

/* Frame mode: what the validator releases passes unchanged. Never more is
 * fed than fits the output, so all it releases moves now. */
enum ws_feed { WS_MOVED, WS_NEED_INPUT, WS_NEED_ROOM, WS_REJECTED };

static enum ws_feed feed_ws(struct gh_http_proxy *hp, struct gh_ws_validator *v,
                            struct gh_http_io *io, uint64_t conn_id, bool from_client)
{
    struct gh_framer_verdict fv;
    size_t n = io->in_len < io->out_room ? io->in_len : io->out_room;
    if (n == 0)
        return io->in_len ? WS_NEED_ROOM : WS_NEED_INPUT;
    gh_ws_validator_feed(v, io->in, n, &fv);
    pass_through(io, fv.release);
    if (fv.action == GH_FRAME_REJECT) {
        reject_frame(hp, &fv, conn_id, from_client, io->in, io->in_len);
        return WS_REJECTED;
    }
    if (gh_ws_validator_closed(v) && io->in_len > 0) {
        /* RFC 6455 5.5.1: no data after a Close. Dropped, not refused: a
         * 1002 here would cut off the close that was just forwarded. */
        v->stats.discarded_bytes += io->in_len;
        io->consumed += io->in_len;
        io->in += io->in_len;
        io->in_len = 0;
        return WS_NEED_INPUT;
    }
    if (fv.release > 0)
        return WS_MOVED;
    /* a held frame (a close frame is held whole) may need more room than
     * was offered, or simply more input */
    return n < io->in_len ? WS_NEED_ROOM : WS_NEED_INPUT;
}

/* Moves up to n input bytes unchanged to the output. */
static size_t pass_through(struct gh_http_io *io, size_t n)
{
    if (n > io->in_len)
        n = io->in_len;
    if (n > io->out_room)
        n = io->out_room;
    memcpy(io->out, io->in, n);
    io->in += n;
    io->in_len -= n;
    io->out += n;
    io->out_room -= n;
    io->consumed += n;
    io->produced += n;
    return n;
}

/* Checks as much of a chunked body as the output has room for; *used is
 * the part that may pass on. */
static enum gh_http1_status check_chunked(const struct gh_http_proxy *hp,
                                          struct gh_http1_chunked *chunked,
                                          const struct gh_http_io *io, size_t *used,
                                          enum gh_http1_rule *rule)
{
    size_t take = io->in_len < io->out_room ? io->in_len : io->out_room;
    return gh_http1_chunked_feed(chunked, (const char *)io->in, take, &hp->cfg->http_limits, used,
                                 rule);
}

static void request_body_done(struct gh_http_proxy *hp)
{
    struct gh_http_pending *p =
        &hp->queue[(hp->queue_head + hp->queue_len - 1) % GH_HTTP_PIPELINE_MAX];
    p->body_bytes = hp->req_body_bytes;
    hp->req_phase = p->close_after ? GH_HTTP_STOPPED : GH_HTTP_HEAD;
}

/* Moves n input bytes on and writes o's bytes (already at io->out). */
static void advance(struct gh_http_io *io, size_t n, const struct out *o)
{
    io->in += n;
    io->in_len -= n;
    io->consumed += n;
    io->out += o->len;
    io->out_room -= o->len;
    io->produced += o->len;
}

enum body_step { STEP_DONE, STEP_NEED_INPUT, STEP_NEED_ROOM, STEP_REFUSED };

/* A body broke a rule after its head went on. The backend never gets the
 * rest: the request leaves the queue, earlier ones still get their
 * responses, then the reply goes out and the backend connection is dropped
 * with the request incomplete (a held request never gets here). */
static void finish_request(struct gh_http_proxy *hp, int status, enum gh_http_outcome outcome,
                           size_t reply_bytes, double now, uint64_t conn_id);

/* The request in flight (one per backend connection) had its head and part
 * of its body sent when the rest broke a rule: it leaves the queue with its
 * request entry, answered by gatehouse's refusal, or, when part of the
 * backend's answer went out already, by nothing more (the connection
 * ends). If the backend already answered it whole, it has left already
 * and nothing is owed. */
static void refuse_streamed_body(struct gh_http_proxy *hp, enum gh_http1_rule rule,
                                 uint64_t conn_id, const struct gh_http_io *io)
{
    /* As for a body timeout: once part of the backend's answer to this
     * request went to the client (it answered early), an error response
     * would land inside that answer, as its body or as a next response
     * the client never asked for. The connection just ends. */
    bool answerable = hp->resp_bytes == 0;
    bool answers = answerable && hp->queue_len > 0 && !hp->reply_queued;
    uint64_t body_bytes =
        hp->req_phase == GH_HTTP_BODY_CHUNKED ? hp->req_chunked.body_bytes : hp->req_body_bytes;
    reject(hp, rule, conn_id, io->in, io->in_len);
    if (!answerable) {
        hp->reply_len = 0;       /* refused (logged, audited), but nothing sent */
        hp->resp_phase = GH_HTTP_STOPPED;
    }
    if (hp->queue_len > 0) {
        hp->queue[hp->queue_head].body_bytes = body_bytes;
        finish_request(hp, answerable ? gh_http1_rule_status(rule) : hp->resp_status,
                       GH_HTTP_OUTCOME_REFUSED, answers ? hp->reply_len : 0, io->now, conn_id);
    }
}

/* Re-frames a chunked request body from io->in to io->out: with
 * GH_BODY_OUT_CHUNKED as gatehouse's own chunks (lowercase hex size without
 * leading zeros, extensions only with chunk_extensions = forward, the
 * trailers forwards_trailer allows), with GH_BODY_OUT_LENGTH as the bare
 * data (the head said Content-Length). A chunk that would take the body
 * over max_body is refused at its size line, before any of its bytes. */
static enum body_step forward_chunked(struct gh_http_proxy *hp, struct gh_http_io *io,
                                      uint64_t conn_id)
{
    const struct gh_listener_config *cfg = hp->cfg;
    bool chunked_out = hp->req_out == GH_BODY_OUT_CHUNKED;

    for (;;) {
        if (io->in_len == 0)
            return STEP_NEED_INPUT;
        if (io->out_room <= CHUNK_OUT_SLACK)
            return STEP_NEED_ROOM;
        size_t give = io->out_room - CHUNK_OUT_SLACK < io->in_len ? io->out_room - CHUNK_OUT_SLACK
                                                                 : io->in_len;
        size_t used = 0;
        struct gh_http1_chunk_ev ev;
        struct out o = {io->out, io->out_room, 0, false};
        char line[24];

        switch (gh_http1_chunked_next(&hp->req_chunked, (const char *)io->in, give,
                                      &cfg->http_limits, &used, &ev)) {
        case GH_CHUNK_NEED_MORE:
            advance(io, used, &o);
            if (used > 0)
                continue;
            return give < io->in_len ? STEP_NEED_ROOM : STEP_NEED_INPUT;
        case GH_CHUNK_SIZE:
            if (ev.size > cfg->max_body - hp->req_chunked.body_bytes) {
                refuse_streamed_body(hp, GH_RULE_BODY_TOO_LARGE, conn_id, io);
                return STEP_REFUSED;
            }
            /* fall through */
        case GH_CHUNK_LAST:
            if (!chunked_out)
                break;
            snprintf(line, sizeof line, "%llx", (unsigned long long)ev.size);
            puts_(&o, line);
            if (cfg->chunk_extensions == GH_CHUNK_EXT_FORWARD) {
                /* checked syntax: BWS, then ';' name ['=' value] ... */
                struct gh_http1_span ext = ev.ext;
                while (ext.len && (*ext.p == ' ' || *ext.p == '\t')) {
                    ext.p++;
                    ext.len--;
                }
                put_span(&o, ext);
            }
            puts_(&o, "\r\n");
            break;
        case GH_CHUNK_DATA:
            put_span(&o, ev.data);
            break;
        case GH_CHUNK_DATA_END:
            if (chunked_out)
                puts_(&o, "\r\n");
            break;
        case GH_CHUNK_TRAILER:
            if (chunked_out && forwards_trailer(cfg, ev.name)) {
                put_span(&o, ev.name);
                puts_(&o, ": ");
                put_span(&o, ev.value);
                puts_(&o, "\r\n");
            }
            break;
        case GH_CHUNK_END:
            if (chunked_out)
                puts_(&o, "\r\n");
            advance(io, used, &o);
            hp->req_body_bytes = hp->req_chunked.body_bytes;
            request_body_done(hp);
            return STEP_DONE;
        case GH_CHUNK_ERROR:
            refuse_streamed_body(hp, ev.rule, conn_id, io);
            return STEP_REFUSED;
        }
        if (o.overflow) {
            /* cannot happen: every event writes at most what it consumed
             * plus CHUNK_OUT_SLACK; refusing beats sending a cut chunk */
            refuse_streamed_body(hp, GH_RULE_BAD_CHUNK_SIZE, conn_id, io);
            return STEP_REFUSED;
        }
        advance(io, used, &o);
        hp->req_body_bytes = hp->req_chunked.body_bytes;
    }
}

enum held_step {
    HELD_WAIT,                    /* the body is not complete yet: more input */
    HELD_COMPLETE,                /* head and whole body are in the input */
    HELD_TOO_LARGE,               /* it does not fit max_held_request: stream it */
    HELD_REFUSED,                 /* the body broke a rule: nothing was sent */
};

/* Checks a held request's body as it arrives, without consuming it. */
static enum held_step scan_held(struct gh_http_proxy *hp, const struct gh_http_io *io,
                                uint64_t conn_id)
{
    size_t limit = held_limit(hp);
    if (hp->held_body == GH_BODY_LENGTH)
        return io->in_len - hp->held_head_len >= hp->req_body_left ? HELD_COMPLETE : HELD_WAIT;

    size_t end = io->in_len < limit ? io->in_len : limit;
    while (hp->held_scan < end) {
        size_t used = 0;
        struct gh_http1_chunk_ev ev;
        enum gh_http1_chunk_event e =
            gh_http1_chunked_next(&hp->req_chunked, (const char *)io->in + hp->held_scan,
                                  end - hp->held_scan, &hp->cfg->http_limits, &used, &ev);
        hp->held_scan += used;
        switch (e) {
        case GH_CHUNK_SIZE:
            if (ev.size > hp->cfg->max_body - hp->req_chunked.body_bytes) {
                reject(hp, GH_RULE_BODY_TOO_LARGE, conn_id, io->in + hp->held_scan - used, used);
                return HELD_REFUSED;
            }
            break;
        case GH_CHUNK_TRAILER:
            if (forwards_trailer(hp->cfg, ev.name))
                hp->held_trailers++;
            break;
        case GH_CHUNK_END:
            return HELD_COMPLETE;
        case GH_CHUNK_ERROR:
            reject(hp, ev.rule, conn_id, io->in + hp->held_scan,
                   io->in_len - hp->held_scan);
            return HELD_REFUSED;
        case GH_CHUNK_NEED_MORE:
            if (used == 0)
                goto need_more;
            break;
        case GH_CHUNK_DATA:
        case GH_CHUNK_DATA_END:
        case GH_CHUNK_LAST:
            break;
        }
    }
need_more:
    return io->in_len >= limit ? HELD_TOO_LARGE : HELD_WAIT;
}

/* Sends a held request on: its head rebuilt, then its body, whole (with
 * Content-Length, or re-chunked when it carries a trailer the listener
 * forwards), or, when it turned out too large, its head and the start of
 * the streamed body. */
static enum take_result release_held(struct gh_http_proxy *hp, struct gh_http_io *io,
                                     uint64_t conn_id, enum held_step how)
{
    struct gh_http1_request *req = &scratch_req;
    enum gh_http1_rule rule = GH_RULE_NONE;
    size_t whole = hp->held_body == GH_BODY_LENGTH ? hp->held_head_len + hp->req_body_left
                                                   : hp->held_scan;
    enum gh_http_body_out out = GH_BODY_OUT_LENGTH;
    uint64_t length = hp->held_body == GH_BODY_LENGTH ? hp->req_body_left
                                                      : hp->req_chunked.body_bytes;

    /* A client that sent its body without waiting for the 100 needs none:
     * one still owed now would arrive after the final response. */
    hp->interim = GH_HTTP_INTERIM_NONE;
    if (how == HELD_TOO_LARGE || hp->held_trailers > 0)
        out = GH_BODY_OUT_CHUNKED;
    if (how == HELD_COMPLETE && io->out_room < whole + head_growth(hp) + CHUNK_OUT_SLACK)
        return TAKE_BLOCKED; /* it leaves in one piece */
    /* the head was checked when it arrived; parse it again for its spans */
    if (gh_http1_parse_request((const char *)io->in, hp->held_head_len, &hp->cfg->http_limits,
                               req, &rule) != GH_HTTP1_DONE) {
        reject(hp, rule == GH_RULE_NONE ? GH_RULE_BAD_REQUEST_LINE : rule, conn_id, io->in,
               hp->held_head_len);
        return TAKE_REFUSED;
    }
    size_t produced_before = io->produced;
    if (!emit_request_head(hp, req, io, hp->held_head_len, conn_id, false, out, length))
        return TAKE_BLOCKED;
    mark_unsent(hp, io, produced_before);
    if (hp->held_body == GH_BODY_LENGTH) {
        hp->req_body_bytes = pass_through(io, hp->req_body_left);
        request_body_done(hp);
        return TAKE_SENT;
    }
    gh_http1_chunked_init(&hp->req_chunked); /* the body is parsed again, now re-framed */
    hp->req_phase = GH_HTTP_BODY_CHUNKED;
    if (how == HELD_COMPLETE && forward_chunked(hp, io, conn_id) != STEP_DONE &&
        !hp->reply_queued) {
        /* cannot happen: the same bytes passed, with room for all of them */
        refuse_streamed_body(hp, GH_RULE_BAD_CHUNK_SIZE, conn_id, io);
        return TAKE_REFUSED;
    }
    return hp->reply_queued ? TAKE_REFUSED : TAKE_SENT;
}

enum gh_http_action gh_http_from_client(struct gh_http_proxy *hp, struct gh_http_io *io,
                                        uint64_t conn_id)
{
    io->consumed = io->produced = 0;
    /* A kept head is first in the input: nothing is taken before its
     * response begins (one request in flight anyway). With nothing behind
     * it, the client is read on, as when a request is simply in flight. */
    if (kept_input(hp) > 0)
        return io->in_len > hp->replay_len ? GH_HTTP_BLOCKED : GH_HTTP_CONTINUE;
    while (io->in_len > 0 && !hp->reply_queued) {
        switch (hp->req_phase) {
        case GH_HTTP_HEAD: {
            size_t head_len = 0;
            enum gh_http1_rule rule = GH_RULE_NONE;
            if (hp->queue_len > 0 &&
                (hp->queue[(hp->queue_head + hp->queue_len - 1) % GH_HTTP_PIPELINE_MAX].is_connect ||
                 hp->queue[(hp->queue_head + hp->queue_len - 1) % GH_HTTP_PIPELINE_MAX].is_upgrade))
                return GH_HTTP_BLOCKED; /* tunnel bytes or a next request: the answer decides */
            if (hp->req_head_started == 0)
                hp->req_head_started = io->now;
            if (hp->req_scan == 0) {
                /* RFC 9112 2.2: empty lines before a request line are
                 * ignored (a few), never forwarded */
                size_t skip = 0;
                enum gh_http1_status sk = gh_http1_skip_empty_lines(
                    (const char *)io->in, io->in_len, &hp->req_empty_lines, &skip, &rule);
                if (sk == GH_HTTP1_ERROR) {
                    reject(hp, rule, conn_id, io->in, io->in_len);
                    return GH_HTTP_CONTINUE;
                }
                io->consumed += skip;
                io->in += skip;
                io->in_len -= skip;
                if (sk == GH_HTTP1_INCOMPLETE)
                    return GH_HTTP_CONTINUE;
                hp->req_empty_lines = 0;
            }
            enum gh_http1_status st = gh_http1_head_end((const char *)io->in, io->in_len, true,
                                                        &hp->cfg->http_limits, &hp->req_scan,
                                                        &head_len, &rule);
            if (st == GH_HTTP1_INCOMPLETE)
                return GH_HTTP_CONTINUE;
            if (st == GH_HTTP1_ERROR) {
                reject(hp, rule, conn_id, io->in, io->in_len);
                return GH_HTTP_CONTINUE;
            }
            switch (take_request_head(hp, io, head_len, conn_id)) {
            case TAKE_SENT:
                if (hp->replay == GH_HTTP_REPLAY_KEPT) /* kept: nothing more consumed now */
                    return io->in_len > 0 ? GH_HTTP_BLOCKED : GH_HTTP_CONTINUE;
                break;
            case TAKE_HELD:
                break;
            case TAKE_REFUSED:
                return GH_HTTP_CONTINUE;
            case TAKE_BLOCKED:
                /* Blocked (queue full, or no room for the rebuilt head): the
                 * head is found again next time, from its start. The head
                 * is complete: the wait is ours, header_timeout does not run. */
                hp->req_scan = 0;
                hp->req_head_started = 0;
                return GH_HTTP_BLOCKED;
            }
            break;
        }
        case GH_HTTP_BODY_HELD: {
            enum held_step how = scan_held(hp, io, conn_id);
            if (how == HELD_WAIT || how == HELD_REFUSED)
                return GH_HTTP_CONTINUE;
            switch (release_held(hp, io, conn_id, how)) {
            case TAKE_SENT:
            case TAKE_HELD:
                break;
            case TAKE_REFUSED:
                return GH_HTTP_CONTINUE;
            case TAKE_BLOCKED:
                return GH_HTTP_BLOCKED;
            }
            break;
        }
        case GH_HTTP_BODY_LENGTH: {
            size_t n = io->in_len < hp->req_body_left ? io->in_len : (size_t)hp->req_body_left;
            n = pass_through(io, n);
            if (n == 0)
                return GH_HTTP_BLOCKED;
            hp->req_body_left -= n;
            hp->req_body_bytes += n;
            if (hp->req_body_left == 0)
                request_body_done(hp);
            break;
        }
        case GH_HTTP_BODY_CHUNKED:
            switch (forward_chunked(hp, io, conn_id)) {
            case STEP_DONE:
                break;
            case STEP_NEED_INPUT:
            case STEP_REFUSED:
                return GH_HTTP_CONTINUE;
            case STEP_NEED_ROOM:
                return GH_HTTP_BLOCKED;
            }
            break;
        case GH_HTTP_TUNNEL:
            if (pass_through(io, io->in_len) == 0)
                return GH_HTTP_BLOCKED;
            break;
        case GH_HTTP_WEBSOCKET:
            /* Blocked only for want of room: a frame held because it is
             * incomplete waits for input, like a partial head. */
            switch (feed_ws(hp, &hp->ws->from_client, io, conn_id, true)) {
            case WS_MOVED:
                break;
            case WS_NEED_ROOM:
                return GH_HTTP_BLOCKED;
            case WS_NEED_INPUT:
            case WS_REJECTED:
                return GH_HTTP_CONTINUE;
            }
            break;
        case GH_HTTP_UNTIL_CLOSE:
        case GH_HTTP_STOPPED:
            /* After Connection: close nothing more is forwarded. */
            io->consumed += io->in_len;
            io->in += io->in_len;
            io->in_len = 0;
            return GH_HTTP_CONTINUE;
        }
    }
    return GH_HTTP_CONTINUE;
}

/* ---- responses ----------------------------------------------------------- */

static struct gh_http_pending *oldest(struct gh_http_proxy *hp)
{
    return hp->queue_len ? &hp->queue[hp->queue_head] : NULL;
}

/* A response head or chunk broke RULE (FAILURE: GH_BACKEND_BAD_RESPONSE,
 * or GH_BACKEND_BAD_SWITCH for a 101): its backend_error event. */
static void bad_response(const struct gh_http_proxy *hp, uint64_t conn_id,
                         enum gh_backend_failure failure, const char *rule)
{
    struct gh_event_ctx ev;
    gh_event_backend_error(event_ctx(hp, conn_id, &ev), failure, 0, rule);
}

static const char *outcome_name(enum gh_http_outcome o)
{
    switch (o) {
    case GH_HTTP_OUTCOME_COMPLETE: return "complete";
    case GH_HTTP_OUTCOME_CLIENT_ABORT: return "client_abort";
    case GH_HTTP_OUTCOME_BACKEND_FAILED: return "backend_failed";
    case GH_HTTP_OUTCOME_SHUTDOWN: return "shutdown";
    case GH_HTTP_OUTCOME_REFUSED: return "refused";
    }
    return "complete";
}

static void audit_request(const struct gh_http_proxy *hp, const struct gh_http_finished *f,
                          enum gh_http_outcome outcome, uint64_t response_bytes, double now,
                          uint64_t conn_id)
{
    const struct gh_http_pending *p = &f->req;
    struct gh_audit_entry e;
    gh_audit_begin(&e, "request");
    gh_audit_uint(&e, "conn", conn_id);
    gh_audit_str(&e, "listener", hp->cfg->name);
    char id[17];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)p->request_id);
    gh_audit_str(&e, "request_id", id);
    gh_audit_client(&e, "method", p->method, strlen(p->method));
    gh_audit_client_cut(&e, "target", p->target,
                        p->target_len < sizeof p->target ? p->target_len : sizeof p->target,
                        p->target_len);
    if (p->has_host)
        gh_audit_client_cut(&e, "host", p->host,
                            p->host_len < sizeof p->host ? p->host_len : sizeof p->host,
                            p->host_len);
    gh_audit_uint(&e, "request_body", p->body_bytes);
    gh_audit_uint(&e, "status", (uint64_t)f->status);
    gh_audit_uint(&e, "response_bytes", response_bytes);
    gh_audit_str(&e, "outcome", outcome_name(outcome));
    gh_audit_str(&e, "backend", hp->cfg->backend.text);
    gh_audit_micros(&e, "ttfb_us", f->ttfb);
    gh_audit_micros(&e, "total_us", now - p->started);
    gh_audit_commit(&e);
}

/* F's log line and audit entry, with how it ended and how many bytes of
 * its response the client was written. */
static void commit_request(struct gh_http_proxy *hp, const struct gh_http_finished *f,
                           enum gh_http_outcome outcome, uint64_t response_bytes, double now,
                           uint64_t conn_id)
{
    const struct gh_http_pending *p = &f->req;
    if (gh_log_enabled(GH_LOG_INFO)) { /* skip the quoting when nobody reads it */
        char excerpt[GH_HTTP_TARGET_EXCERPT + 4], target[sizeof excerpt * 4 + 16];
        size_t tn = p->target_len < GH_HTTP_TARGET_EXCERPT ? p->target_len : GH_HTTP_TARGET_EXCERPT;
        memcpy(excerpt, p->target, tn);
        memcpy(excerpt + tn, p->target_len > tn ? "..." : "", p->target_len > tn ? 4 : 1);
        gh_log(GH_LOG_INFO, "request",
               " conn=%llu listener=%s request_id=%016llx method=%s target=%s status=%d "
               "request_body=%llu response_bytes=%llu ttfb=%.6f total=%.6f outcome=%s",
               (unsigned long long)conn_id, hp->cfg->name, (unsigned long long)p->request_id,
               p->method, gh_log_quote(excerpt, target, sizeof target), f->status,
               (unsigned long long)p->body_bytes, (unsigned long long)response_bytes, f->ttfb,
               now - p->started, outcome_name(outcome));
    }
    if (gh_audit_on())
        audit_request(hp, f, outcome, response_bytes, now, conn_id);
    if (outcome == GH_HTTP_OUTCOME_COMPLETE)
        hp->requests++;
}

/* Entries whose responses the client has now been written whole. */
static void commit_delivered(struct gh_http_proxy *hp, double now, uint64_t conn_id)
{
    while (hp->undelivered_len > 0) {
        struct gh_http_finished *f = &hp->undelivered[hp->undelivered_head];
        if (f->stream_end > hp->client_stream_sent)
            return;
        commit_request(hp, f, f->outcome, f->response_bytes, now, conn_id);
        hp->undelivered_head = (hp->undelivered_head + 1) % GH_HTTP_UNDELIVERED_MAX;
        hp->undelivered_len--;
    }
}

/* The oldest request leaves the queue. STATUS is what the client gets for
 * it (0: nothing); the bytes of its response so far (resp_bytes) and
 * REPLY_BYTES of gatehouse's own reply that answer it are, or will be, in
 * the client buffer: its entry is written once the client has them all
 * (commit_delivered) or the connection ends (gh_http_connection_ended). */
static void finish_request(struct gh_http_proxy *hp, int status, enum gh_http_outcome outcome,
                           size_t reply_bytes, double now, uint64_t conn_id)
{
    struct gh_http_pending *p = oldest(hp);
    if (!p)
        return;
    struct gh_http_finished f = {
        .req = *p,
        .response_bytes = hp->resp_bytes + reply_bytes,
        .ttfb = hp->resp_first_byte > 0 ? hp->resp_first_byte - p->started : 0,
        .status = status,
        .outcome = outcome,
    };
    hp->client_stream_queued += hp->resp_bytes;
    /* the reply goes after everything queued before it (gh_http_take_reply
     * counts it in client_stream_queued when it is taken) */
    f.stream_end = hp->client_stream_queued + reply_bytes;
    if (p->close_after)
        hp->close_when_idle = true;
    hp->queue_head = (hp->queue_head + 1) % GH_HTTP_PIPELINE_MAX;
    hp->queue_len--;
    if (hp->undelivered_len == GH_HTTP_UNDELIVERED_MAX) {
        /* Not reached: response heads leave a slot per request in flight
         * (gh_http_from_backend). Were it, the entry goes now, unwaited. */
        commit_request(hp, &f, outcome, f.response_bytes, now, conn_id);
        return;
    }
    hp->undelivered[(hp->undelivered_head + hp->undelivered_len) % GH_HTTP_UNDELIVERED_MAX] = f;
    hp->undelivered_len++;
    commit_delivered(hp, now, conn_id);
}

/* The backend sent what no request asked for (or answered before it had
 * the whole request): nothing more it sends can be paired with a request. */
static void backend_desync(struct gh_http_proxy *hp, uint64_t conn_id,
                           enum gh_desync_reason reason, const uint8_t *excerpt,
                           size_t excerpt_len)
{
    struct gh_event_ctx ev;
    gh_event_backend_desync(event_ctx(hp, conn_id, &ev), reason, excerpt, excerpt_len,
                            GH_HTTP_TARGET_KEEP);
    hp->backend_sync = GH_HTTP_BACKEND_DESYNCED;
}

static void response_done(struct gh_http_proxy *hp, double now, uint64_t conn_id)
{
    bool body_unsent = hp->queue_len == 1 && (hp->req_phase == GH_HTTP_BODY_LENGTH ||
                                              hp->req_phase == GH_HTTP_BODY_CHUNKED);
    /* Anything beyond the head counts, also a chunked body with no data
     * ("0" CRLF CRLF): a backend that ignores bodies reads those bytes as
     * the start of a request too. */
    const struct gh_http_pending *done = oldest(hp);
    bool carried_body =
        done && (done->body_out == GH_BODY_OUT_CHUNKED || done->body_bytes > 0);
    finish_request(hp, hp->resp_status, GH_HTTP_OUTCOME_COMPLETE, 0, now, conn_id);
    if (carried_body && hp->cfg->backend_reuse == GH_REUSE_SAFE &&
        hp->backend_sync == GH_HTTP_BACKEND_IN_SYNC) {
        /* Whether the backend read that body cannot be seen from here: one
         * that answered without reading it takes it for the next request,
         * and that answer could arrive after gatehouse sent its next
         * request. That connection carries no next request. */
        hp->backend_sync = GH_HTTP_BACKEND_RETIRED;
    }
    if (body_unsent) {
        /* Answered before its body was all passed on: a backend that did not
         * wait for the body may read the rest of it as a request. Nothing
         * more of it goes to that backend, and the client connection ends
         * after this response (what the client still sends of the body is
         * not read: it is not a request). */
        backend_desync(hp, conn_id, GH_DESYNC_EARLY_RESPONSE, NULL, 0);
        hp->req_phase = GH_HTTP_STOPPED;
        hp->close_when_idle = true;
    }
    hp->backend_answered++;
    if (hp->resp_close == GH_HTTP_RESP_CLOSE_CLIENT) {
        hp->close_when_idle = true;
        hp->backend_announced_close = true;
        /* the client was told its connection ends here: a request not yet
         * forwarded (none begun, or one held whole) never is */
        if (hp->req_phase == GH_HTTP_HEAD || hp->req_phase == GH_HTTP_BODY_HELD)
            hp->req_phase = GH_HTTP_STOPPED;
    } else if (hp->resp_close == GH_HTTP_RESP_CLOSE_BACKEND) {
        /* The backend closes after this response (RFC 9112 9.6): what the
         * client pipelined behind it goes on a new connection, so a
         * pipelining client gets every answer. */
        hp->backend_announced_close = true;
        if (hp->backend_sync == GH_HTTP_BACKEND_IN_SYNC ||
            hp->backend_sync == GH_HTTP_BACKEND_RETIRED)
            hp->backend_sync = GH_HTTP_BACKEND_CLOSING;
    }
    hp->resp_phase = GH_HTTP_HEAD;
    hp->resp_scan = 0;
    hp->resp_bytes = 0;
    hp->resp_first_byte = 0;
    hp->resp_close = GH_HTTP_RESP_KEEP_ALIVE;
}

/* What the end of the response RESP (to P) closes. */
static enum gh_http_resp_close response_closes(const struct gh_http_proxy *hp,
                                               const struct gh_http_pending *p,
                                               const struct gh_http1_response *resp)
{
    if (!resp->connection_close)
        return GH_HTTP_RESP_KEEP_ALIVE;
    /* an HTTP/1.0 status line tells the client "close" by itself */
    if (resp->minor_version == 0 || resp->body == GH_BODY_UNTIL_CLOSE || p->close_after ||
        hp->close_when_idle)
        return GH_HTTP_RESP_CLOSE_CLIENT;
    return GH_HTTP_RESP_CLOSE_BACKEND;
}

/* Copies head[0, len) (the head without its final CRLF) to out, leaving out
 * every Connection field line; returns the bytes written (<= len). */
static size_t copy_without_connection(uint8_t *out, const uint8_t *head, size_t len,
                                      const struct gh_http1_response *resp)
{
    size_t from = 0, n = 0;
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (!gh_http1_span_equals(resp->headers[i].name, "connection"))
            continue;
        size_t line = (size_t)((const uint8_t *)resp->headers[i].name.p - head);
        const uint8_t *v_end = (const uint8_t *)resp->headers[i].value.p +
                               resp->headers[i].value.len;
        /* the line ends at the first CRLF after the value (a fold is
         * inside the value's span) */
        const uint8_t *crlf = memmem(v_end, (size_t)(head + len - v_end), "\r\n", 2);
        size_t end = crlf ? (size_t)(crlf - head) + 2 : len;
        memcpy(out + n, head + from, line - from);
        n += line - from;
        from = end;
    }
    memcpy(out + n, head + from, len - from);
    return n + len - from;
}

static bool take_response_head(struct gh_http_proxy *hp, struct gh_http_io *io, size_t head_len,
                               uint64_t conn_id)
{
    struct gh_http1_response *resp = &scratch_resp;
    struct gh_http_pending *p = oldest(hp);
    enum gh_http1_rule rule = GH_RULE_NONE;
    struct gh_http1_span method = {p ? p->method : "GET", p ? strlen(p->method) : 3};
    const char *hsts = hp->cfg->hsts;
    size_t extra = hsts[0] ? strlen(hsts) + GH_RESPONSE_HSTS_LINE : 0;
    bool add_hsts = hsts[0] != '\0';

    if (io->out_room < head_len + extra)
        return false;
    enum gh_http1_status st =
        gh_http1_parse_response((const char *)io->in, head_len, &hp->resp_limits, method, resp, &rule);
    if (st != GH_HTTP1_DONE || resp->head_len != head_len || !p) {
        /* The parser must consume exactly the head gh_http1_head_end found:
         * anything else would pass body bytes on as head or a head as body. */
        const char *why = !p                    ? "response_without_request"
                          : st != GH_HTTP1_DONE ? gh_http1_rule_name(rule)
                                                : "head_length_mismatch";
        bad_response(hp, conn_id, GH_BACKEND_BAD_RESPONSE, why);
        gh_http_backend_failed(hp, 502, "malformed response from the backend", io->now, conn_id);
        return false;
    }
    struct gh_ws_response_verdict wsv = {0};
    if (resp->status == 101) {
        /* Only a WebSocket upgrade asked for a switch (other Upgrade fields
         * are stripped), and only a correct answer to it switches. */
        const char *why = "unexpected_101";
        struct gh_http1_request *req = &scratch_req;
        enum gh_http1_rule rrule = GH_RULE_NONE;
        if (p->is_upgrade && hp->ws_head &&
            gh_http1_parse_request(hp->ws_head, hp->ws_head_len, &hp->cfg->http_limits, req,
                                   &rrule) == GH_HTTP1_DONE &&
            gh_ws_check_response(req, resp, &wsv))
            why = NULL;
        else if (p->is_upgrade)
            why = wsv.reason ? wsv.reason : "ws_bad_response";
        if (why) {
            bad_response(hp, conn_id, GH_BACKEND_BAD_SWITCH, why);
            gh_http_backend_failed(hp, 502, "the backend's protocol switch is not valid", io->now,
                                   conn_id);
            return false;
        }
        hp->ws = calloc(1, sizeof *hp->ws);
        if (!hp->ws) {
            gh_http_backend_failed(hp, 502, "out of memory", io->now, conn_id);
            return false;
        }
    }
    for (size_t i = 0; i < resp->n_headers && add_hsts; i++)
        if (gh_http1_span_equals(resp->headers[i].name, "strict-transport-security"))
            add_hsts = false;

    if (hp->resp_first_byte == 0)
        hp->resp_first_byte = io->now;
    /* The head goes on as the backend wrote it, HSTS added before its end;
     * when only the backend connection ends after it, without the
     * backend's Connection fields (hop-by-hop: the client's connection
     * goes on, and a client told "close" would drop the answers it
     * pipelined for). */
    enum gh_http_resp_close resp_close = response_closes(hp, p, resp);
    size_t n = resp_close == GH_HTTP_RESP_CLOSE_BACKEND
                   ? copy_without_connection(io->out, io->in, head_len - 2, resp)
                   : (memcpy(io->out, io->in, head_len - 2), head_len - 2);
    if (add_hsts)
        n += (size_t)snprintf((char *)io->out + n, io->out_room - n,
                              "Strict-Transport-Security: %s\r\n", hsts);
    memcpy(io->out + n, "\r\n", 2);
    n += 2;
    io->in += head_len;
    io->in_len -= head_len;
    io->consumed += head_len;
    io->out += n;
    io->out_room -= n;
    io->produced += n;
    hp->resp_bytes += n;
    hp->resp_scan = 0;

    if (resp->status == 101) {
        /* a client's text frame is held whole while it fits the buffer */
        struct gh_ws_limits lim = {hp->cfg->ws_max_frame, hp->cfg->ws_max_message,
                                   hp->cfg->buffer_size > GH_WS_HEADER_MAX
                                       ? hp->cfg->buffer_size - GH_WS_HEADER_MAX
                                       : 0};
        gh_ws_validator_init(&hp->ws->from_client, GH_WS_CLIENT_TO_SERVER, &lim, wsv.deflate);
        gh_ws_validator_init(&hp->ws->from_backend, GH_WS_SERVER_TO_CLIENT, &lim, wsv.deflate);
        free(hp->ws_head);
        hp->ws_head = NULL;
        hp->resp_status = 101;
        response_done(hp, io->now, conn_id);
        hp->req_phase = GH_HTTP_WEBSOCKET;
        hp->resp_phase = GH_HTTP_WEBSOCKET;
        return true;
    }
    if (resp->status < 200) {
        hp->resp_phase = GH_HTTP_HEAD; /* interim (100 Continue): the real answer follows */
        return true;
    }
    if (p->is_upgrade) { /* answered without switching: plain HTTP goes on */
        free(hp->ws_head);
        hp->ws_head = NULL;
    }
    hp->resp_status = resp->status;
    hp->resp_close = resp_close;
    switch (resp->body) {
    case GH_BODY_NONE:
        response_done(hp, io->now, conn_id);
        break;
    case GH_BODY_LENGTH:
        if (resp->content_length == 0) {
            response_done(hp, io->now, conn_id);
        } else {
            hp->resp_phase = GH_HTTP_BODY_LENGTH;
            hp->resp_body_left = resp->content_length;
        }
        break;
    case GH_BODY_CHUNKED:
        hp->resp_phase = GH_HTTP_BODY_CHUNKED;
        gh_http1_chunked_init(&hp->resp_chunked);
        break;
    case GH_BODY_UNTIL_CLOSE:
        hp->resp_phase = GH_HTTP_UNTIL_CLOSE;
        hp->resp_close = GH_HTTP_RESP_CLOSE_CLIENT;
        if (p->is_connect && resp->status >= 200 && resp->status < 300) {
            hp->resp_phase = GH_HTTP_TUNNEL;
            hp->req_phase = GH_HTTP_TUNNEL;
        }
        break;
    }
    return true;
}

enum gh_http_action gh_http_from_backend(struct gh_http_proxy *hp, struct gh_http_io *io,
                                         uint64_t conn_id)
{
    io->consumed = io->produced = 0;
    if (io->in_len > 0 && hp->replay == GH_HTTP_REPLAY_KEPT)
        hp->replay = GH_HTTP_REPLAY_RELEASED; /* a byte of its answer: never sent again */
    if (io->in_len > 0 && hp->replay == GH_HTTP_REPLAY_UNSENT)
        hp->replay = GH_HTTP_REPLAY_NONE; /* the connection is not idle: no check, no resend */
    while (io->in_len > 0) {
        switch (hp->resp_phase) {
        case GH_HTTP_HEAD: {
            size_t head_len = 0;
            enum gh_http1_rule rule = GH_RULE_NONE;
            if (hp->queue_len == 0 && !hp->reply_queued) {
                /* No request is outstanding: whatever this is, it answers
                 * nothing the client asked. The connection that sent it is
                 * dropped; the next request goes on a new one. */
                backend_desync(hp, conn_id, GH_DESYNC_UNSOLICITED_RESPONSE, io->in, io->in_len);
                io->consumed += io->in_len;
                io->in += io->in_len;
                io->in_len = 0;
                hp->resp_scan = 0;
                return hp->close_when_idle ? GH_HTTP_CLOSE : GH_HTTP_CONTINUE;
            }
            if (hp->undelivered_len + GH_HTTP_PIPELINE_MAX >= GH_HTTP_UNDELIVERED_MAX) {
                /* The client reads first (gh_http_delivered). The slots
                 * kept free are for the requests in flight, should they
                 * end without a head (a failure): none ever waits. */
                return GH_HTTP_BLOCKED;
            }
            enum gh_http1_status st = gh_http1_head_end((const char *)io->in, io->in_len, false,
                                                        &hp->resp_limits, &hp->resp_scan,
                                                        &head_len, &rule);
            if (st == GH_HTTP1_INCOMPLETE)
                return GH_HTTP_CONTINUE;
            if (st == GH_HTTP1_ERROR || !take_response_head(hp, io, head_len, conn_id)) {
                if (st == GH_HTTP1_ERROR) {
                    bad_response(hp, conn_id, GH_BACKEND_BAD_RESPONSE, gh_http1_rule_name(rule));
                    gh_http_backend_failed(hp, 502, "malformed response from the backend",
                                           io->now, conn_id);
                }
                if (hp->reply_queued || hp->resp_phase == GH_HTTP_STOPPED)
                    return GH_HTTP_CLOSE;
                /* No room for the head yet: it is found again next time,
                 * from its start (resuming past its end would take its body
                 * and the next head for one head). */
                hp->resp_scan = 0;
                return GH_HTTP_BLOCKED;
            }
            break;
        }
        case GH_HTTP_BODY_LENGTH: {
            size_t want = io->in_len < hp->resp_body_left ? io->in_len : (size_t)hp->resp_body_left;
            size_t n = pass_through(io, want);
            if (n == 0)
                return GH_HTTP_BLOCKED;
            hp->resp_body_left -= n;
            hp->resp_bytes += n;
            if (hp->resp_body_left == 0)
                response_done(hp, io->now, conn_id);
            break;
        }
        case GH_HTTP_BODY_CHUNKED: {
            size_t used = 0;
            enum gh_http1_rule rule = GH_RULE_NONE;
            if (io->out_room == 0)
                return GH_HTTP_BLOCKED;
            enum gh_http1_status st = check_chunked(hp, &hp->resp_chunked, io, &used, &rule);
            if (st == GH_HTTP1_ERROR) {
                bad_response(hp, conn_id, GH_BACKEND_BAD_RESPONSE, gh_http1_rule_name(rule));
                hp->resp_phase = GH_HTTP_STOPPED;
                /* nothing more will be answered */
                abandon_unanswered(hp, GH_HTTP_OUTCOME_BACKEND_FAILED, io->now, conn_id);
                return GH_HTTP_CLOSE; /* the client sees the response cut short */
            }
            hp->resp_bytes += pass_through(io, used);
            if (st == GH_HTTP1_DONE)
                response_done(hp, io->now, conn_id);
            break;
        }
        case GH_HTTP_WEBSOCKET:
            switch (feed_ws(hp, &hp->ws->from_backend, io, conn_id, false)) {
            case WS_MOVED:
                break;
            case WS_NEED_ROOM:
                return GH_HTTP_BLOCKED;
            case WS_NEED_INPUT:
                return GH_HTTP_CONTINUE;
            case WS_REJECTED:
                return GH_HTTP_CLOSE;
            }
            break;
        case GH_HTTP_UNTIL_CLOSE:
        case GH_HTTP_TUNNEL: {
            size_t n = pass_through(io, io->in_len);
            if (n == 0)
                return GH_HTTP_BLOCKED;
            hp->resp_bytes += n;
            break;
        }
        case GH_HTTP_BODY_HELD: /* a request phase only */
        case GH_HTTP_STOPPED:
            io->consumed += io->in_len;
            io->in += io->in_len;
            io->in_len = 0;
            return GH_HTTP_CLOSE;
        }
    }
    if (hp->close_when_idle && hp->queue_len == 0 && hp->resp_phase == GH_HTTP_HEAD)
        return GH_HTTP_CLOSE;
    return GH_HTTP_CONTINUE;
}

static void fail_queue(struct gh_http_proxy *hp, int status, const char *why,
                       enum gh_http_outcome outcome, double now, uint64_t conn_id);

enum gh_http_action gh_http_backend_eof(struct gh_http_proxy *hp, enum gh_http_outcome unanswered,
                                        double now, uint64_t conn_id)
{
    if (hp->resp_phase == GH_HTTP_UNTIL_CLOSE) {
        response_done(hp, now, conn_id);
        /* its end is the connection's end: requests behind it are never
         * answered (and none was written after the end was seen) */
        abandon_unanswered(hp, unanswered, now, conn_id);
        return GH_HTTP_CLOSE;
    }
    if (hp->resp_phase == GH_HTTP_TUNNEL || hp->resp_phase == GH_HTTP_WEBSOCKET)
        return GH_HTTP_CLOSE;
    /* After "Connection: close" the requests still queued were never
     * processed (RFC 9112 9.3.2): closing lets the client retry them; a 502
     * would not. */
    if (hp->resp_phase == GH_HTTP_HEAD && hp->queue_len > 0 && !hp->backend_announced_close)
        fail_queue(hp, 502, "the backend closed without answering", unanswered, now, conn_id);
    abandon_unanswered(hp, unanswered, now, conn_id);
    return GH_HTTP_CLOSE;
}

static void fail_queue(struct gh_http_proxy *hp, int status, const char *why,
                       enum gh_http_outcome outcome, double now, uint64_t conn_id)
{
    /* A refusal queued for a request the client pipelined behind those in
     * flight would go out once they are abandoned, and the client, pairing
     * responses by order, would read it as the answer to the first of them
     * (a 400 for a POST the backend never answered). It is dropped: the
     * failure answers that request instead, or, with part of its response
     * out already, nothing more is sent. Nothing may follow either (the
     * failure says Connection: close), so the refused request is never
     * answered, as any request behind a close. */
    if (hp->reply_queued && hp->queue_len > 0 && !hp->redirect_reply) {
        hp->reply_queued = false;
        hp->reply_len = 0;
    }
    if (hp->resp_phase == GH_HTTP_HEAD && hp->resp_bytes == 0) {
        /* the failed response is the next one due: the error takes its place */
        bool answers = hp->queue_len > 0 && !hp->reply_queued;
        queue_reply(hp, status, why);
        if (answers)
            finish_request(hp, status, outcome, hp->reply_len, now, conn_id);
    }
    abandon_unanswered(hp, outcome, now, conn_id);
    hp->resp_phase = GH_HTTP_STOPPED;
    hp->req_phase = GH_HTTP_STOPPED;
}

void gh_http_backend_failed(struct gh_http_proxy *hp, int status, const char *why, double now,
                            uint64_t conn_id)
{
    fail_queue(hp, status, why, GH_HTTP_OUTCOME_BACKEND_FAILED, now, conn_id);
}

static void abandon_unanswered(struct gh_http_proxy *hp, enum gh_http_outcome outcome, double now,
                               uint64_t conn_id)
{
    /* The first in line may have had part of its response sent (its status
     * is known then); the others got nothing. */
    int status = hp->resp_bytes > 0 ? hp->resp_status : 0;
    while (hp->queue_len > 0) {
        finish_request(hp, status, outcome, 0, now, conn_id);
        status = 0;
        hp->resp_bytes = 0;
        hp->resp_first_byte = 0;
    }
}

void gh_http_delivered(struct gh_http_proxy *hp, uint64_t sent, double now, uint64_t conn_id)
{
    hp->client_stream_sent = sent;
    commit_delivered(hp, now, conn_id);
}

void gh_http_connection_ended(struct gh_http_proxy *hp, enum gh_http_outcome unanswered,
                              double now, uint64_t conn_id)
{
    enum gh_http_outcome cut = unanswered == GH_HTTP_OUTCOME_SHUTDOWN
                                   ? GH_HTTP_OUTCOME_SHUTDOWN
                                   : GH_HTTP_OUTCOME_CLIENT_ABORT;
    abandon_unanswered(hp, unanswered, now, conn_id);
    commit_delivered(hp, now, conn_id);
    for (; hp->undelivered_len > 0; hp->undelivered_len--) {
        struct gh_http_finished *f = &hp->undelivered[hp->undelivered_head];
        /* its bytes are the last response_bytes before stream_end */
        uint64_t start = f->stream_end - f->response_bytes;
        uint64_t written = hp->client_stream_sent > start ? hp->client_stream_sent - start : 0;
        commit_request(hp, f, f->outcome == GH_HTTP_OUTCOME_COMPLETE ? cut : f->outcome, written,
                       now, conn_id);
        hp->undelivered_head = (hp->undelivered_head + 1) % GH_HTTP_UNDELIVERED_MAX;
    }
}

bool gh_http_backend_replace_due(const struct gh_http_proxy *hp)
{
    return hp->backend_sync != GH_HTTP_BACKEND_IN_SYNC;
}

enum gh_http_lost gh_http_backend_lost(struct gh_http_proxy *hp, uint64_t conn_id)
{
    /* close_when_idle: a response told the client its connection ends
     * (close-delimited, HTTP/1.0, Connection: close): nothing after it may
     * be answered, least of all from a new backend connection, whose
     * response would run into a close-delimited body before it. */
    if (hp->resp_phase != GH_HTTP_HEAD || hp->resp_bytes != 0 || hp->reply_queued ||
        hp->resp_scan != 0 || hp->close_when_idle)
        return GH_HTTP_LOST_FAIL;
    if (hp->queue_len == 0) {
        /* Nothing in flight (it closed after a response, or an idle
         * keep-alive connection timed out): what the client sends next,
         * pipelined already or not, goes on a new connection. */
        if (hp->close_when_idle ||
            (hp->req_phase != GH_HTTP_HEAD && hp->req_phase != GH_HTTP_BODY_HELD))
            return GH_HTTP_LOST_FAIL; /* (a held request has sent nothing yet) */
        hp->backend_sync = GH_HTTP_BACKEND_LOST;
        return GH_HTTP_LOST_REPLACE;
    }
    if (hp->queue_len != 1 ||
        (hp->replay != GH_HTTP_REPLAY_KEPT && hp->replay != GH_HTTP_REPLAY_UNSENT))
        return GH_HTTP_LOST_FAIL;
    const struct gh_http_pending *p = oldest(hp);
    bool unsent = hp->replay == GH_HTTP_REPLAY_UNSENT;
    gh_log(GH_LOG_INFO, "backend_retry",
           " conn=%llu listener=%s request_id=%016llx method=%s reason=%s",
           (unsigned long long)conn_id, hp->cfg->name, (unsigned long long)p->request_id,
           p->method, unsent ? "closed_before_sent" : "closed_before_response");
    hp->backend_sync = GH_HTTP_BACKEND_LOST;
    if (unsent) {
        /* it stays in flight; its bytes go on the new connection as they are */
        hp->replay = GH_HTTP_REPLAY_NONE;
        return GH_HTTP_LOST_RESEND;
    }
    /* No entry now: it is parsed and sent again, and gets one then. */
    hp->queue_head = (hp->queue_head + 1) % GH_HTTP_PIPELINE_MAX;
    hp->queue_len--;
    hp->replay = GH_HTTP_REPLAY_DUE;
    hp->req_phase = GH_HTTP_HEAD;
    hp->req_scan = 0;
    hp->req_head_started = 0;
    hp->resp_scan = 0;
    return GH_HTTP_LOST_REPLACE;
}

bool gh_http_send_check_due(const struct gh_http_proxy *hp)
{
    return hp->replay == GH_HTTP_REPLAY_UNSENT;
}

void gh_http_send_checked(struct gh_http_proxy *hp)
{
    if (hp->replay == GH_HTTP_REPLAY_UNSENT)
        hp->replay = GH_HTTP_REPLAY_NONE;
}

static size_t kept_input(const struct gh_http_proxy *hp)
{
    return hp->replay == GH_HTTP_REPLAY_KEPT || hp->replay == GH_HTTP_REPLAY_RELEASED
               ? hp->replay_len
               : 0;
}

size_t gh_http_replay_drop(struct gh_http_proxy *hp)
{
    size_t kept = kept_input(hp);
    if (kept > 0)
        hp->replay = GH_HTTP_REPLAY_NONE;
    return kept;
}

size_t gh_http_replay_release(struct gh_http_proxy *hp)
{
    if (hp->replay != GH_HTTP_REPLAY_RELEASED)
        return 0;
    hp->replay = GH_HTTP_REPLAY_NONE;
    return hp->replay_len;
}

void gh_http_backend_replaced(struct gh_http_proxy *hp)
{
    hp->backend_sync = GH_HTTP_BACKEND_IN_SYNC;
    hp->backend_announced_close = false;
    hp->backend_answered = 0;
    hp->resp_phase = hp->resp_phase == GH_HTTP_STOPPED ? GH_HTTP_STOPPED : GH_HTTP_HEAD;
    hp->resp_scan = 0;
}

void gh_http_head_timeout(struct gh_http_proxy *hp)
{
    if (hp->queue_len == 0)
        queue_reply(hp, 408, "the request head did not arrive in time");
    hp->req_phase = GH_HTTP_STOPPED;
    hp->close_when_idle = true;
}

bool gh_http_head_pending(const struct gh_http_proxy *hp)
{
    return hp->req_phase == GH_HTTP_HEAD && hp->req_head_started > 0;
}

bool gh_http_between_requests(const struct gh_http_proxy *hp)
{
    return hp->req_phase == GH_HTTP_HEAD && hp->req_head_started == 0 && hp->queue_len == 0 &&
           !hp->reply_queued && !hp->close_when_idle && hp->interim == GH_HTTP_INTERIM_NONE;
}

bool gh_http_body_pending(const struct gh_http_proxy *hp)
{
    return hp->req_phase == GH_HTTP_BODY_LENGTH || hp->req_phase == GH_HTTP_BODY_CHUNKED ||
           hp->req_phase == GH_HTTP_BODY_HELD;
}

bool gh_http_body_timeout(struct gh_http_proxy *hp, double now, uint64_t conn_id)
{
    /* No byte of the in-flight request's response went out yet: the 408
     * takes its place. Otherwise the client already has part of an answer
     * and nothing can follow it on this connection. */
    bool answerable = hp->resp_bytes == 0;
    bool answers = answerable && !hp->reply_queued; /* the 408 will be this request's answer */
    uint64_t body_bytes =
        hp->req_phase == GH_HTTP_BODY_CHUNKED ? hp->req_chunked.body_bytes : hp->req_body_bytes;
    if (answerable)
        queue_reply(hp, 408, "the request body did not arrive in time");
    if (hp->queue_len > 0) { /* streamed: its head and part of its body went on */
        hp->queue[hp->queue_head].body_bytes = body_bytes;
        finish_request(hp, answerable ? 408 : hp->resp_status, GH_HTTP_OUTCOME_REFUSED,
                       answers ? hp->reply_len : 0, now, conn_id);
    }
    /* what the backend still sends for the cut request is not an answer */
    hp->req_phase = GH_HTTP_STOPPED;
    hp->resp_phase = GH_HTTP_STOPPED;
    hp->close_when_idle = true;
    return answerable;
}

void gh_http_proxy_release(struct gh_http_proxy *hp)
{
    free(hp->ws_head);
    free(hp->ws);
    free(hp->redirect_reply);
    hp->ws_head = NULL;
    hp->ws = NULL;
    hp->redirect_reply = NULL;
}

bool gh_http_ws_counts(const struct gh_http_proxy *hp, uint64_t *frames_in, uint64_t *frames_out,
                       uint64_t *messages_in)
{
    if (!hp->ws)
        return false;
    *frames_in = hp->ws->from_client.stats.frames;
    *frames_out = hp->ws->from_backend.stats.frames;
    *messages_in = hp->ws->from_client.stats.messages;
    return true;
}

bool gh_http_take_interim(struct gh_http_proxy *hp, size_t room, const char **data, size_t *len)
{
    static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (hp->interim != GH_HTTP_INTERIM_CONTINUE || hp->queue_len > 0 || hp->reply_queued ||
        room < sizeof continue_100 - 1)
        return false;
    hp->interim = GH_HTTP_INTERIM_NONE;
    *data = continue_100;
    *len = sizeof continue_100 - 1;
    hp->client_stream_queued += *len;
    return true;
}

bool gh_http_take_reply(struct gh_http_proxy *hp, const char **data, size_t *len)
{
    if (!hp->reply_queued || hp->reply_len == 0 || hp->queue_len > 0)
        return false;
    *data = hp->redirect_reply ? hp->redirect_reply : hp->reply;
    *len = hp->reply_len;
    hp->client_stream_queued += hp->reply_len;
    hp->reply_len = 0;
    return true;
}

bool gh_http_client_paused(const struct gh_http_proxy *hp)
{
    /* A full queue does not pause reading: the request in flight may still
     * be sending its body, and the client buffer bounds what is read ahead. */
    return hp->reply_queued || hp->req_phase == GH_HTTP_STOPPED;
}

bool gh_http_owes_client(const struct gh_http_proxy *hp)
{
    return hp->queue_len > 0 || (hp->reply_queued && hp->reply_len > 0);
}
