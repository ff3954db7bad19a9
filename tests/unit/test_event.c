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

/* The fields of the first log line of EVENT (what follows "event=EVENT"),
 * copied into out; "" if there is none. */
static const char *log_fields(const char *log, const char *event, char *out, size_t n)
{
    char key[64];
    snprintf(key, sizeof key, " event=%s ", event);
    const char *at = strstr(log, key);
    out[0] = '\0';
    if (!at)
        return out;
    at += strlen(key) - 1; /* keep the space: fields start with one */
    size_t len = strcspn(at, "\n");
    snprintf(out, n, "%.*s", (int)len, at);
    return out;
}

/* The level of the first log line of EVENT. */
static bool log_level_is(const char *log, const char *event, const char *level)
{
    char key[64];
    snprintf(key, sizeof key, " event=%s ", event);
    const char *at = strstr(log, key);
    if (!at)
        return false;
    const char *line = at;
    while (line > log && line[-1] != '\n')
        line--;
    char want[32];
    snprintf(want, sizeof want, " level=%s ", level);
    const char *lv = strstr(line, want);
    return lv && lv < at;
}

/* The nth (0-based) audit entry of EVENT, from its first field after the
 * event name up to its chain field; "" if there is none. */
static const char *audit_fields(const char *audit, const char *event, int nth, char *out, size_t n)
{
    char key[64];
    snprintf(key, sizeof key, "\"event\":\"%s\"", event);
    const char *at = audit;
    out[0] = '\0';
    for (int i = 0; at && i <= nth; i++) {
        at = strstr(at, key);
        if (at && i < nth)
            at += strlen(key);
    }
    if (!at)
        return out;
    at += strlen(key);
    const char *chain = strstr(at, ",\"chain\":");
    size_t len = strcspn(at, "\n");
    if (chain && (size_t)(chain - at) < len)
        len = (size_t)(chain - at); /* the chain field differs every run */
    snprintf(out, n, "%.*s", (int)len, at);
    return out;
}

#define CHECK_SAME(got, want) CHECK(strcmp((got), (want)) == 0, "\n  got  %s\n  want %s", (got), (want))

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

    gh_event_backend_desync(&ev_ip, GH_DESYNC_UNSOLICITED_RESPONSE, "HTTP/1.1 200", 12, 8);
}

static void test_emitters_write_line_and_entry(void **state)
{
    char dir[] = "/tmp/gh_test_event_XXXXXX";
    char log_path[64], audit_path[64];
    char got[2048];
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

    /* reject */
    CHECK_SAME(log_fields(log, "reject", got, sizeof got),
               " conn=42 listener=edge client=192.0.2.7:4242 reason=line_too_long bytes=3");
    CHECK(log_level_is(log, "reject", "info"), "reject is not info");
    CHECK_SAME(audit_fields(audit, "reject", 0, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\","
               "\"reason\":\"line_too_long\",\"excerpt\":\"abc\"");
    const char *second = strstr(log, "reason=line_too_long");
    assert_non_null(second);
    CHECK_SAME(log_fields(second, "reject", got, sizeof got),
               " conn=44 listener=edge rule=bare_lf status=400 excerpt=\"GET /\\x0a\\\"x\"");
    CHECK_SAME(audit_fields(audit, "reject", 1, got, sizeof got),
               ",\"conn\":44,\"listener\":\"edge\",\"client\":\"198.51.100.9\","
               "\"reason\":\"bare_lf\",\"status\":400,\"excerpt\":\"GET /\\u000a\\\"x\"");
    const char *third = strstr(second, "rule=bare_lf");
    assert_non_null(third);
    CHECK_SAME(log_fields(third, "reject", got, sizeof got),
               " conn=44 listener=edge rule=ws_frame from=backend");
    CHECK_SAME(audit_fields(audit, "reject", 2, got, sizeof got),
               ",\"conn\":44,\"listener\":\"edge\",\"client\":\"198.51.100.9\","
               "\"reason\":\"ws_frame\"");
    const char *fourth = strstr(third, "rule=ws_frame");
    assert_non_null(fourth);
    CHECK_SAME(log_fields(fourth, "reject", got, sizeof got),
               " conn=42 listener=edge rule=header_timeout status=408");
    CHECK_SAME(audit_fields(audit, "reject", 3, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\","
               "\"reason\":\"header_timeout\",\"status\":408");

    /* close */
    CHECK_SAME(log_fields(log, "conn_close", got, sizeof got),
               " conn=43 listener=edge client=[2001:db8::1]:443 reason=backend_reset bytes_in=10 "
               "bytes_out=20 requests=3 duration=1.500");
    CHECK_SAME(audit_fields(audit, "close", 0, got, sizeof got),
               ",\"conn\":43,\"listener\":\"edge\",\"client\":\"2001:db8::1\",\"client_port\":443,"
               "\"duration_us\":1500000,\"bytes_in\":10,\"bytes_out\":20,\"ws_frames_in\":4,"
               "\"ws_frames_out\":5,\"ws_messages_in\":6,\"requests\":3,"
               "\"reason\":\"backend_reset\"");
    const char *tcp_close = strstr(log, "reason=backend_reset");
    assert_non_null(tcp_close);
    CHECK_SAME(log_fields(tcp_close, "conn_close", got, sizeof got),
               " conn=42 listener=edge client=192.0.2.7:4242 reason=client_eof bytes_in=7 "
               "bytes_out=8 requests=0 duration=0.250");
    CHECK_SAME(audit_fields(audit, "close", 1, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
               "\"duration_us\":250000,\"bytes_in\":7,\"bytes_out\":8,\"frames\":9,"
               "\"reason\":\"client_eof\"");

    /* tls */
    CHECK_SAME(log_fields(log, "tls_fail", got, sizeof got),
               " conn=42 listener=edge reason=handshake_timeout");
    CHECK_SAME(audit_fields(audit, "tls_fail", 0, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
               "\"reason\":\"timeout\",\"detail\":\"no complete handshake within "
               "handshake_timeout\"");
    const char *sni = strstr(log, "reason=handshake_timeout");
    assert_non_null(sni);
    CHECK_SAME(log_fields(sni, "tls_fail", got, sizeof got),
               " conn=43 listener=edge client=[2001:db8::1]:443 reason=unknown_sni");
    CHECK_SAME(audit_fields(audit, "tls_fail", 1, got, sizeof got),
               ",\"conn\":43,\"listener\":\"edge\",\"client\":\"2001:db8::1\",\"client_port\":443,"
               "\"reason\":\"unknown_sni\",\"detail\":\"no certificate for the name asked for\"");
    const char *lib = strstr(sni, "reason=unknown_sni");
    assert_non_null(lib);
    CHECK_SAME(log_fields(lib, "tls_fail", got, sizeof got),
               " conn=42 listener=edge client=192.0.2.7:4242 reason=\"alert \\\"bad\\\"\"");
    CHECK_SAME(audit_fields(audit, "tls_fail", 2, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
               "\"reason\":\"alert\",\"detail\":\"alert \\\"bad\\\"\"");
    CHECK_SAME(log_fields(log, "tls_ok", got, sizeof got),
               " conn=42 listener=edge version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 resumed=1");
    CHECK(log_level_is(log, "tls_ok", "debug"), "tls_ok is not debug");
    CHECK_SAME(audit_fields(audit, "tls_ok", 0, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"client\":\"192.0.2.7\",\"client_port\":4242,"
               "\"sni\":\"example.test\",\"tls_version\":\"TLSv1.3\","
               "\"cipher\":\"TLS_AES_128_GCM_SHA256\",\"resumed\":true,\"cert\":\"default\"");

    /* backend errors */
    CHECK_SAME(log_fields(log, "backend_error", got, sizeof got),
               " conn=42 listener=edge backend=127.0.0.1:9 reason=refused");
    CHECK(log_level_is(log, "backend_error", "warn"), "connect failure is not warn");
    CHECK_SAME(audit_fields(audit, "backend_error", 0, got, sizeof got),
               ",\"conn\":42,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\","
               "\"reason\":\"refused\",\"detail\":\"Connection refused\"");
    const char *io = strstr(log, "reason=refused");
    assert_non_null(io);
    CHECK_SAME(log_fields(io, "backend_error", got, sizeof got),
               " conn=43 listener=edge backend=127.0.0.1:9 reason=recv:Connection reset by peer");
    CHECK(log_level_is(io, "backend_error", "info"), "an I/O failure is not info");
    CHECK_SAME(audit_fields(audit, "backend_error", 1, got, sizeof got),
               ",\"conn\":43,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\","
               "\"reason\":\"reset\",\"detail\":\"recv: Connection reset by peer\"");
    const char *bad = strstr(io, "reason=recv:");
    assert_non_null(bad);
    CHECK_SAME(log_fields(bad, "backend_error", got, sizeof got),
               " conn=44 listener=edge reason=bad_response rule=bad_status_line");
    CHECK_SAME(audit_fields(audit, "backend_error", 2, got, sizeof got),
               ",\"conn\":44,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\","
               "\"reason\":\"error\",\"detail\":\"bad_response:bad_status_line\"");

    /* desync */
    CHECK_SAME(log_fields(log, "backend_desync", got, sizeof got),
               " conn=44 listener=edge backend=127.0.0.1:9 reason=unsolicited_response bytes=12");
    CHECK_SAME(audit_fields(audit, "backend_desync", 0, got, sizeof got),
               ",\"conn\":44,\"listener\":\"edge\",\"backend\":\"127.0.0.1:9\","
               "\"reason\":\"unsolicited_response\",\"excerpt\":\"HTTP/1.1\"");

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
