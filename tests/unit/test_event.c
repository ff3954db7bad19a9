/* test_event.c - unit tests for the event emitters (src/event.c).
 *
 * Pins the contract of include/gatehouse/event.h:
 *  - every value of every reason enum has a name, and the names of one
 *    enum are unique; the close reasons are exactly the strings conn.c
 *    wrote before the enum, and the close table's columns (unanswered
 *    requests' outcome, close_notify) say what conn_close's strcmp chains
 *    said for each of them;
 *  - each emitter writes its diagnostic line (stderr, captured into a
 *    temporary file) and its audit entry (a real audit log in a temporary
 *    file) with the same conn, listener, client and reason, byte for byte
 *    what the call sites wrote before. */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <unistd.h>

#include "gatehouse/audit.h"
#include "gatehouse/event.h"
#include "gatehouse/log.h"

/* ---- name tables ----------------------------------------------------- */

typedef const char *(*name_of_fn)(int value);

static const char *close_name(int v) { return gh_close_reason_name((enum gh_close_reason)v); }
static const char *reject_name(int v) { return gh_reject_reason_name((enum gh_reject_reason)v); }
static const char *tls_fail_name(int v) { return gh_tls_fail_reason_name((enum gh_tls_fail_reason)v); }
static const char *backend_name(int v)
{
    return gh_backend_error_reason_name((enum gh_backend_error_reason)v);
}
static const char *desync_name(int v) { return gh_desync_reason_name((enum gh_desync_reason)v); }

static const struct {
    const char *table;
    name_of_fn name_of;
    int count;
} tables[] = {
    {"close", close_name, GH_CLOSE_REASON_COUNT},
    {"reject", reject_name, GH_REJECT_REASON_COUNT},
    {"tls_fail", tls_fail_name, GH_TLS_FAIL_REASON_COUNT},
    {"backend_error", backend_name, GH_BACKEND_ERROR_REASON_COUNT},
    {"desync", desync_name, GH_DESYNC_REASON_COUNT},
};

static void test_every_value_has_a_unique_name(void **state)
{
    (void)state;
    for (size_t t = 0; t < ARRAY_LEN(tables); t++) {
        row_line = (int)t;
        for (int v = 0; v < tables[t].count; v++) {
            const char *name = tables[t].name_of(v);
            CHECK(name && name[0] && strcmp(name, "unknown") != 0, "%s value %d has no name",
                  tables[t].table, v);
            for (int w = 0; name && w < v; w++)
                CHECK(strcmp(name, tables[t].name_of(w)) != 0, "%s values %d and %d are both %s",
                      tables[t].table, w, v, name);
        }
        /* past the end names a caller's bug instead of reading past the table */
        CHECK(strcmp(tables[t].name_of(tables[t].count), "unknown") == 0,
              "%s: the count has a name", tables[t].table);
    }
    END_CHECKS();
}

/* Every close reason conn.c passed as a string before the enum. */
static const char *const close_strings_before[] = {
    "client_eof",      "backend_eof",       "http_close",     "rejected",
    "redirected",      "client_error",      "tls_error",      "backend_refused",
    "backend_error",   "backend_reset",     "handshake_timeout", "connect_timeout",
    "idle_timeout",    "request_timeout",   "keepalive_timeout", "header_timeout",
    "body_timeout",    "send_timeout",      "out_of_memory",  "shutdown",
};

static void test_close_reasons_keep_their_strings_and_rules(void **state)
{
    (void)state;
    CHECK(ARRAY_LEN(close_strings_before) == GH_CLOSE_REASON_COUNT, "%zu strings, %d reasons",
          ARRAY_LEN(close_strings_before), GH_CLOSE_REASON_COUNT);
    for (int v = 0; v < GH_CLOSE_REASON_COUNT; v++) {
        const char *name = gh_close_reason_name((enum gh_close_reason)v);
        bool known = false;
        row_line = v;
        for (size_t i = 0; i < ARRAY_LEN(close_strings_before); i++)
            known |= strcmp(name, close_strings_before[i]) == 0;
        CHECK(known, "close reason %s was never written before", name);

        /* conn_close's strcmp chains, as they were */
        enum gh_http_outcome outcome = GH_HTTP_OUTCOME_CLIENT_ABORT;
        if (strcmp(name, "shutdown") == 0)
            outcome = GH_HTTP_OUTCOME_SHUTDOWN;
        else if (strncmp(name, "backend_", 8) == 0 || strcmp(name, "connect_timeout") == 0 ||
                 strcmp(name, "idle_timeout") == 0)
            outcome = GH_HTTP_OUTCOME_BACKEND_FAILED;
        bool notify = strcmp(name, "tls_error") != 0 && strcmp(name, "backend_reset") != 0 &&
                      strcmp(name, "client_error") != 0;
        CHECK(gh_close_reason_outcome((enum gh_close_reason)v) == outcome, "%s: outcome %d, want %d",
              name, (int)gh_close_reason_outcome((enum gh_close_reason)v), (int)outcome);
        CHECK(gh_close_reason_sends_notify((enum gh_close_reason)v) == notify,
              "%s: close_notify %d, want %d", name, !notify, notify);
    }
    END_CHECKS();
}

/* ---- emitters -------------------------------------------------------- */

static struct gh_config config; /* large: not on the stack */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The start of the nth (0-based) line holding KEY, or NULL. */
static const char *nth_line(const char *text, const char *key, int nth)
{
    const char *at = text;
    for (int i = 0; at; i++) {
        at = strstr(at, key);
        if (!at || i == nth)
            break;
        at += strlen(key);
    }
    if (!at)
        return NULL;
    while (at > text && at[-1] != '\n')
        at--;
    return at;
}

/* Copies what follows AFTER in the line at LINE, up to the line's end or
 * to STOP (NULL: none), into out; "" when LINE is NULL or lacks AFTER. */
static const char *fields_of(const char *line, const char *after, const char *stop, char *out,
                             size_t n)
{
    out[0] = '\0';
    if (!line)
        return out;
    size_t len = strcspn(line, "\n");
    const char *at = strstr(line, after);
    if (!at || at >= line + len)
        return out;
    at += strlen(after);
    len -= (size_t)(at - line);
    const char *cut = stop ? strstr(at, stop) : NULL;
    if (cut && (size_t)(cut - at) < len)
        len = (size_t)(cut - at);
    snprintf(out, n, "%.*s", (int)len, at);
    return out;
}

/* What each emitter call of emit_all must have written, in order per
 * event: the log line's level and fields (after "event=NAME"), and the
 * audit entry's fields after its event name, up to the chain field
 * (which differs every run). */
static const struct {
    int line;
    const char *log_event, *level, *log_fields;
    const char *audit_event, *audit_fields;
} expected[] = {
    {__LINE__, "reject", "info",
     " conn=42 listener=edge client=192.0.2.7:4242 reason=line_too_long bytes=3", "reject",
     ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"reason\":\"line_too_long\","
     "\"excerpt\":\"abc\""},
    {__LINE__, "reject", "info",
     " conn=44 listener=edge rule=bare_lf status=400 excerpt=\"GET /\\x0a\\\"x\"", "reject",
     ",\"conn\":44,\"listener\":\"edge\",\"client\":\"198.51.100.9\",\"reason\":\"bare_lf\","
     "\"status\":400,\"excerpt\":\"GET /\\u000a\\\"x\""},
    {__LINE__, "reject", "info", " conn=44 listener=edge rule=ws_frame from=backend", "reject",
     ",\"conn\":44,\"listener\":\"edge\",\"client\":\"198.51.100.9\",\"reason\":\"ws_frame\""},
    {__LINE__, "reject", "info", " conn=42 listener=edge rule=header_timeout status=408", "reject",
     ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"reason\":\"header_timeout\","
     "\"status\":408"},
    {__LINE__, "conn_close", "info",
     " conn=43 listener=edge client=[2001:db8::1]:443 reason=backend_reset bytes_in=10 "
     "bytes_out=20 requests=3 duration=1.500",
     "close",
     ",\"conn\":43,\"listener\":\"edge\",\"client\":\"2001:db8::1\",\"client_port\":443,"
     "\"duration_us\":1500000,\"bytes_in\":10,\"bytes_out\":20,\"ws_frames_in\":4,"
     "\"ws_frames_out\":5,\"ws_messages_in\":6,\"requests\":3,\"reason\":\"backend_reset\""},
    {__LINE__, "conn_close", "info",
     " conn=42 listener=edge client=192.0.2.7:4242 reason=client_eof bytes_in=7 bytes_out=8 "
     "requests=0 duration=0.250",
     "close",
     ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
     "\"duration_us\":250000,\"bytes_in\":7,\"bytes_out\":8,\"frames\":9,\"reason\":\"client_eof\""},
    {__LINE__, "tls_fail", "info", " conn=42 listener=edge reason=handshake_timeout", "tls_fail",
     ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
     "\"reason\":\"timeout\",\"detail\":\"no complete handshake within handshake_timeout\""},
    {__LINE__, "tls_fail", "info", " conn=43 listener=edge client=[2001:db8::1]:443 reason=unknown_sni",
     "tls_fail",
     ",\"conn\":43,\"listener\":\"edge\",\"client\":\"2001:db8::1\",\"client_port\":443,"
     "\"reason\":\"unknown_sni\",\"detail\":\"no certificate for the name asked for\""},
    {__LINE__, "tls_fail", "info",
     " conn=42 listener=edge client=192.0.2.7:4242 reason=\"alert \\\"bad\\\"\"", "tls_fail",
     ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
     "\"reason\":\"alert\",\"detail\":\"alert \\\"bad\\\"\""},
    {__LINE__, "tls_ok", "debug",
     " conn=42 listener=edge version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 resumed=1", "tls_ok",
     ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
     "\"sni\":\"example.test\",\"tls_version\":\"TLSv1.3\",\"cipher\":\"TLS_AES_128_GCM_SHA256\","
     "\"resumed\":true,\"cert\":\"default\""},
    {__LINE__, "backend_error", "warn", " conn=42 listener=edge backend=127.0.0.1:9 reason=refused",
     "backend_error",
     ",\"conn\":42,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\",\"reason\":\"refused\","
     "\"detail\":\"Connection refused\""},
    {__LINE__, "backend_error", "info",
     " conn=43 listener=edge backend=127.0.0.1:9 reason=recv:Connection reset by peer",
     "backend_error",
     ",\"conn\":43,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\",\"reason\":\"reset\","
     "\"detail\":\"recv: Connection reset by peer\""},
    {__LINE__, "backend_error", "warn", " conn=44 listener=edge reason=bad_response rule=bad_status_line",
     "backend_error",
     ",\"conn\":44,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\",\"reason\":\"error\","
     "\"detail\":\"bad_response:bad_status_line\""},
    {__LINE__, "proxy_header_failed", "error", " conn=42 listener=edge error=Broken pipe",
     "backend_error",
     ",\"conn\":42,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\",\"reason\":\"error\","
     "\"detail\":\"the PROXY header could not be sent\""},
    {__LINE__, "backend_desync", "warn",
     " conn=44 listener=edge backend=127.0.0.1:9 reason=unsolicited_response bytes=12",
     "backend_desync",
     ",\"conn\":44,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\","
     "\"reason\":\"unsolicited_response\",\"excerpt\":\"HTTP/1.1\""},
};

static void peer4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void peer6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

static void emit_all(const struct gh_listener_config *lc)
{
    struct gh_event_ctx ev, ev6, ev_ip;
    struct sockaddr_storage ss;

    peer4(&ss, "192.0.2.7", 4242);
    gh_event_ctx_init(&ev, 42, lc, &ss);
    peer6(&ss, "2001:db8::1", 443);
    gh_event_ctx_init(&ev6, 43, lc, &ss);
    gh_event_ctx_init_ip(&ev_ip, 44, lc, "198.51.100.9");

    /* reject, each line shape */
    gh_event_reject(&ev, &(struct gh_reject){.reason = GH_REJECT_FRAMING, .rule = "line_too_long",
                                             .excerpt = "abc", .excerpt_len = 3});
    gh_event_reject(&ev_ip, &(struct gh_reject){.reason = GH_REJECT_HTTP_REQUEST, .rule = "bare_lf",
                                                .status = 400, .excerpt = "GET /\n\"x",
                                                .excerpt_len = 8});
    gh_event_reject(&ev_ip, &(struct gh_reject){.reason = GH_REJECT_WS_FRAME,
                                                .from = GH_SIDE_BACKEND});
    gh_event_reject(&ev, &(struct gh_reject){.reason = GH_REJECT_HEADER_TIMEOUT, .status = 408});

    /* close: http with WebSocket counts, and tcp with a framer */
    gh_event_close(&ev6, GH_CLOSE_BACKEND_RESET,
                   &(struct gh_close_facts){.duration = 1.5, .bytes_in = 10, .bytes_out = 20,
                                            .count = GH_CLOSE_COUNT_REQUESTS, .requests = 3,
                                            .websocket = true, .ws_frames_in = 4,
                                            .ws_frames_out = 5, .ws_messages_in = 6});
    gh_event_close(&ev, GH_CLOSE_CLIENT_EOF,
                   &(struct gh_close_facts){.duration = 0.25, .bytes_in = 7, .bytes_out = 8,
                                            .count = GH_CLOSE_COUNT_FRAMES, .frames = 9});

    /* tls */
    gh_event_tls_fail(&ev, GH_TLS_FAIL_TIMEOUT, "no complete handshake within handshake_timeout");
    gh_event_tls_fail(&ev6, GH_TLS_FAIL_UNKNOWN_SNI, "no certificate for the name asked for");
    gh_event_tls_session_failed(&ev, GH_TLS_FAIL_ALERT, "alert \"bad\"");
    struct gh_tls_info info = {.version = "TLSv1.3", .cipher = "TLS_AES_128_GCM_SHA256",
                               .resumed = 1, .sni = "example.test", .sni_len = 12};
    gh_event_tls_ok(&ev, &info, NULL, "default");

    /* backend errors */
    gh_event_backend_error(&ev, GH_BACKEND_CONNECT_FAILED, ECONNREFUSED, NULL);
    gh_event_backend_error(&ev6, GH_BACKEND_IO_FAILED, ECONNRESET, "recv");
    gh_event_backend_error(&ev_ip, GH_BACKEND_BAD_RESPONSE, 0, "bad_status_line");
    gh_event_backend_error(&ev, GH_BACKEND_PROXY_HEADER, EPIPE, NULL);

    gh_event_backend_desync(&ev_ip, GH_DESYNC_UNSOLICITED_RESPONSE, "HTTP/1.1 200", 12, 8);
}

static void test_emitters_write_line_and_entry(void **state)
{
    char dir[] = "/tmp/gh_test_event_XXXXXX";
    char log_path[64], audit_path[64];
    struct ev_loop *loop = ev_loop_new(0);
    (void)state;
    row_line = 0;

    assert_non_null(mkdtemp(dir));
    snprintf(log_path, sizeof log_path, "%s/stderr", dir);
    snprintf(audit_path, sizeof audit_path, "%s/audit", dir);

    struct gh_listener_config *lc = &config.listeners[0];
    snprintf(lc->name, sizeof lc->name, "edge");
    snprintf(lc->backend.text, sizeof lc->backend.text, "127.0.0.1:9");
    snprintf(config.path, sizeof config.path, "%s/none.ini", dir);
    struct gh_global_config *g = &config.global;
    snprintf(g->audit_file, sizeof g->audit_file, "%s", audit_path);
    g->audit_fsync = GH_AUDIT_FSYNC_NEVER;
    g->audit_flush_interval = 1;
    g->audit_buffer_size = 1 << 16;
    g->audit_max_field = 256;
    g->workers = 1;

    /* stderr goes to a file while the emitters run */
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *capture = fopen(log_path, "w");
    assert_true(saved >= 0 && capture);
    assert_int_equal(dup2(fileno(capture), STDERR_FILENO), STDERR_FILENO);
    gh_log_set_level(GH_LOG_DEBUG);
    int opened = gh_audit_open(&config, 0, loop);
    if (opened == 0)
        emit_all(lc);
    gh_audit_close("test", 0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    fclose(capture);
    assert_int_equal(opened, 0);

    char *log = slurp(log_path);
    char *audit = slurp(audit_path);

    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        char log_key[64], audit_key[64], level[32], got[2048];
        int log_nth = 0, audit_nth = 0;
        row_line = expected[i].line;
        for (size_t j = 0; j < i; j++) { /* earlier rows of the same event */
            log_nth += strcmp(expected[j].log_event, expected[i].log_event) == 0;
            audit_nth += strcmp(expected[j].audit_event, expected[i].audit_event) == 0;
        }
        snprintf(log_key, sizeof log_key, " event=%s ", expected[i].log_event);
        snprintf(audit_key, sizeof audit_key, "\"event\":\"%s\"", expected[i].audit_event);
        const char *line = nth_line(log, log_key, log_nth);
        fields_of(line, log_key, NULL, got, sizeof got);
        /* log_key took the space the expected fields begin with */
        CHECK(line && strcmp(got, expected[i].log_fields + 1) == 0, "log line\n  got   %s\n  want %s",
              got, expected[i].log_fields);
        snprintf(level, sizeof level, " level=%s ", expected[i].level);
        CHECK(line && fields_of(line, level, NULL, got, sizeof got)[0] != '\0',
              "log line is not %s", expected[i].level);
        fields_of(nth_line(audit, audit_key, audit_nth), audit_key, ",\"chain\":", got, sizeof got);
        CHECK(strcmp(got, expected[i].audit_fields) == 0, "audit entry\n  got  %s\n  want %s", got,
              expected[i].audit_fields);
    }
    /* nothing more was written than the rows above */
    for (size_t i = 0; i < ARRAY_LEN(expected); i++) {
        int rows = 0;
        char log_key[64];
        for (size_t j = 0; j < ARRAY_LEN(expected); j++)
            rows += strcmp(expected[j].log_event, expected[i].log_event) == 0;
        snprintf(log_key, sizeof log_key, " event=%s ", expected[i].log_event);
        row_line = expected[i].line;
        CHECK(nth_line(log, log_key, rows) == NULL, "more %s lines than expected",
              expected[i].log_event);
    }

    free(log);
    free(audit);
    unlink(log_path);
    unlink(audit_path);
    rmdir(dir);
    ev_loop_destroy(loop);
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_value_has_a_unique_name),
        cmocka_unit_test(test_close_reasons_keep_their_strings_and_rules),
        cmocka_unit_test(test_emitters_write_line_and_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
