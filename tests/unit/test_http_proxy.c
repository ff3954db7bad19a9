/* test_http_proxy.c - unit tests for the HTTP framer (src/http_proxy.c)
 * through its I/O-free interface (include/gatehouse/http_proxy.h).
 *
 * Pins, with exact bytes or exact enum results, the rules that matter
 * against an attacker:
 *  - a request reaches the backend only once its head is complete and
 *    checked, rebuilt (hop-by-hop fields, the client's X-Forwarded-* and
 *    '_' aliases of framing fields dropped, gatehouse's own added); a
 *    smuggling attempt (CL+TE, two Content-Lengths, obs-fold, bad chunk
 *    sizes and line ends, an unknown or repeated Transfer-Encoding, one in
 *    HTTP/1.0, bare CR or LF) sends nothing and gets a 400; the same
 *    Content-Length twice goes on as one line;
 *  - bodies are re-framed: a held chunked body goes as Content-Length, a
 *    streamed one as gatehouse's own chunks, and a bad chunk never passes;
 *  - pipelined requests wait (GH_HTTP_PIPELINE_MAX in flight);
 *  - a response nobody asked for is a desync, never paired with the next
 *    request; HEAD, 204 and 304 answers end at their heads; a 1xx goes on
 *    and the final response follows; Expect: 100-continue on a held
 *    request gets gatehouse's own 100;
 *  - the replay decision (enum gh_http_replay) for a GET and a POST on a
 *    reused backend connection, and what gh_http_backend_lost says;
 *  - a WebSocket upgrade switches only on a valid 101, then frames are
 *    validated each way.
 *
 * The listener config comes from the real loader (gh_config_load_buffer).
 * The conversation model below plays src/conn.c's part: what the framer
 * does not consume stays at the start of the input, what it produces is
 * appended to what that peer received. X-Request-Id is random: the logs
 * are compared with each id replaced by "<id>" (after checking it is 16
 * lowercase hex digits). */
#include "check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/config.h"
#include "gatehouse/http1.h"
#include "gatehouse/http_proxy.h"
#include "gatehouse/log.h"

/* ---- the listener ---------------------------------------------------------- */

#define LISTENER_INI                                                                  \
    "[listener:t]\nlisten = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"            \
    "cert = /c.pem\nkey = /k.pem\nmode = http\n"

static struct gh_config *loaded;
static struct gh_config_errors *load_errs;

/* The listener of LISTENER_INI plus EXTRA (more key lines, or ""). */
static const struct gh_listener_config *listener(const char *extra)
{
    char ini[1024];
    int n = snprintf(ini, sizeof ini, "%s%s", LISTENER_INI, extra);
    assert_true(n > 0 && (size_t)n < sizeof ini);
    memset(load_errs, 0, sizeof *load_errs);
    if (gh_config_load_buffer("test.ini", ini, (size_t)n, loaded, load_errs) != 0) {
        gh_config_errors_print(load_errs, stderr);
        fail_msg("the test listener does not load");
    }
    assert_int_equal(loaded->n_listeners, 1);
    return &loaded->listeners[0];
}

/* ---- a connection without sockets ---------------------------------------------- */

#define IN_MAX ((size_t)64 * 1024)   /* > buffer_size in every listener here */
#define LOG_MAX ((size_t)64 * 1024)  /* what either peer receives in one test */

struct conv {
    struct gh_http_proxy hp;
    uint8_t client_in[IN_MAX];       /* from the client, not consumed */
    size_t client_len;
    uint8_t backend_in[IN_MAX];
    size_t backend_len;
    uint8_t to_backend[LOG_MAX];     /* every byte the backend (all its connections) read */
    size_t to_backend_len;
    uint8_t to_client[LOG_MAX];      /* every byte the client read */
    size_t to_client_len;
    double now;
};

static struct conv conv;

static void conv_start(struct conv *c, const char *extra_ini)
{
    memset(c, 0, sizeof *c);
    c->now = 1000.0;
    gh_http_proxy_init(&c->hp, listener(extra_ini), "192.0.2.7");
}

static void conv_end(struct conv *c)
{
    gh_http_connection_ended(&c->hp, GH_HTTP_OUTCOME_CLIENT_ABORT, c->now, 1);
    gh_http_proxy_release(&c->hp);
}

/* LEN bytes at DATA appended to BUF (LEN_NOW bytes in it, at most MAX). */
static void append(uint8_t *buf, size_t *len_now, size_t max, const void *data, size_t len)
{
    assert_true(len <= max - *len_now);
    memcpy(buf + *len_now, data, len);
    *len_now += len;
}

/* N bytes dropped from the start of BUF (LEN_NOW bytes in it). */
static void drop(uint8_t *buf, size_t *len_now, size_t n)
{
    assert_true(n <= *len_now);
    memmove(buf, buf + n, *len_now - n);
    *len_now -= n;
}

typedef enum gh_http_action (*feed_fn)(struct gh_http_proxy *, struct gh_http_io *, uint64_t);

/* One feed of IN (unconsumed input) through FEED, its output appended to
 * LOG (what the peer on the other side read, everything at once); what
 * was consumed leaves IN. */
static enum gh_http_action feed(struct conv *c, feed_fn fn, uint8_t *in, size_t *in_len,
                                uint8_t *log, size_t *log_len)
{
    struct gh_http_io io = {
        .in = in, .in_len = *in_len,
        .out = log + *log_len, .out_room = LOG_MAX - *log_len,
        .now = c->now,
    };
    enum gh_http_action a = fn(&c->hp, &io, 1);
    assert_true(io.produced <= LOG_MAX - *log_len);
    *log_len += io.produced;
    drop(in, in_len, io.consumed);
    return a;
}

/* The client's input through the request framer once. */
static enum gh_http_action client_frame(struct conv *c)
{
    return feed(c, gh_http_from_client, c->client_in, &c->client_len, c->to_backend,
                &c->to_backend_len);
}

/* The client sends N bytes of DATA. */
static enum gh_http_action client_sends_n(struct conv *c, const void *data, size_t n)
{
    append(c->client_in, &c->client_len, IN_MAX, data, n);
    return client_frame(c);
}

static enum gh_http_action client_sends(struct conv *c, const char *text)
{
    return client_sends_n(c, text, strlen(text));
}

/* The backend's input through the response framer once, as conn.c does
 * after a read: the client reads everything at once, a kept head whose
 * answer began is dropped from the client's input. */
static enum gh_http_action backend_frame(struct conv *c)
{
    enum gh_http_action a = feed(c, gh_http_from_backend, c->backend_in, &c->backend_len,
                                 c->to_client, &c->to_client_len);
    gh_http_delivered(&c->hp, c->to_client_len, c->now, 1);
    drop(c->client_in, &c->client_len, gh_http_replay_release(&c->hp));
    return a;
}

static enum gh_http_action backend_sends_n(struct conv *c, const void *data, size_t n)
{
    append(c->backend_in, &c->backend_len, IN_MAX, data, n);
    return backend_frame(c);
}

static enum gh_http_action backend_sends(struct conv *c, const char *text)
{
    return backend_sends_n(c, text, strlen(text));
}

/* Gatehouse's own reply, if one is due, to the client. */
static bool take_reply(struct conv *c)
{
    const char *p;
    size_t n;
    if (!gh_http_take_reply(&c->hp, &p, &n))
        return false;
    append(c->to_client, &c->to_client_len, LOG_MAX, p, n);
    gh_http_delivered(&c->hp, c->to_client_len, c->now, 1);
    return true;
}

/* A new backend connection, as conn.c's replace_backend. */
static void new_backend(struct conv *c)
{
    gh_http_backend_replaced(&c->hp);
    c->backend_len = 0;
}

/* LOG[0, len) as text with every X-Request-Id value (16 lowercase hex
 * digits, checked) replaced by "<id>". */
static char *masked(const uint8_t *log, size_t len)
{
    static const char field[] = "X-Request-Id: ";
    char *out = malloc(len + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= sizeof field - 1 + 16 && memcmp(log + i, field, sizeof field - 1) == 0) {
            memcpy(out + o, field, sizeof field - 1);
            o += sizeof field - 1;
            i += sizeof field - 1;
            for (size_t k = 0; k < 16; k++)
                CHECK(strchr("0123456789abcdef", log[i + k]) && log[i + k], "id digit %zu", k);
            memcpy(out + o, "<id>", 4);
            o += 4;
            i += 16;
            continue;
        }
        out[o++] = (char)log[i++];
    }
    out[o] = '\0';
    return out;
}

/* What the backend read is exactly WANT (ids masked). */
#define BACKEND_READ(c, want)                                                           \
    do {                                                                                \
        char *got_ = masked((c)->to_backend, (c)->to_backend_len);                      \
        CHECK(strcmp(got_, (want)) == 0, "backend read:\n%s\nwanted:\n%s", got_, (want)); \
        free(got_);                                                                     \
    } while (0)

#define CLIENT_READ(c, want)                                                            \
    do {                                                                                \
        char *got_ = masked((c)->to_client, (c)->to_client_len);                        \
        CHECK(strcmp(got_, (want)) == 0, "client read:\n%s\nwanted:\n%s", got_, (want)); \
        free(got_);                                                                     \
    } while (0)

/* What gatehouse adds to every request of LISTENER_INI from 192.0.2.7. */
#define ADDED "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\nX-Request-Id: <id>\r\n"

/* Gatehouse's own refusal: STATUS REASON, the rule's name as the body. */
static void expected_reply(char *buf, size_t size, int status, const char *reason,
                           const char *rule)
{
    char body[160];
    int bn = snprintf(body, sizeof body, "%d %s: %s\n", status, reason, rule);
    int n = snprintf(buf, size,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, reason, bn, body);
    assert_true(bn > 0 && n > 0 && (size_t)n < size);
}

/* Gatehouse's own refusal is due and is all the client reads: STATUS
 * REASON, RULE (what refused it) as its body. WHERE names the case. */
static void check_refused(struct conv *c, int status, const char *reason, const char *rule,
                          const char *where)
{
    char want[512];
    expected_reply(want, sizeof want, status, reason, rule);
    CHECK(take_reply(c), "%s: a reply is due", where);
    CLIENT_READ(c, want);
    CHECK(!take_reply(c), "%s: one reply", where);
}

/* ---- requests ---------------------------------------------------------------- */

/* A head goes on only once complete, rebuilt from what was checked. */
static void test_request_rebuilt(void **state)
{
    (void)state;
    struct conv *c = &conv;
    static const char req[] = "GET /a?b=1 HTTP/1.1\r\nHost: example.test\r\n"
                              "Connection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\n"
                              "X-Forwarded-For: 6.6.6.6\r\nX_Forwarded_For: 6.6.6.6\r\n"
                              "X-Request-Id: mine\r\nX-Client-Verified: SUCCESS\r\n"
                              "Content_Length: 5\r\nTransfer_Encoding: chunked\r\n"
                              "Accept:   */*  \r\n\r\n";
    conv_start(c, "");
    /* byte by byte: nothing before the head's last byte */
    for (size_t i = 0; i + 1 < sizeof req - 1; i++) {
        CHECK(client_sends_n(c, req + i, 1) == GH_HTTP_CONTINUE, "byte %zu", i);
        CHECK(c->to_backend_len == 0, "%zu bytes went on at byte %zu", c->to_backend_len, i);
    }
    CHECK(gh_http_head_pending(&c->hp), "the head's deadline runs");
    CHECK(client_sends_n(c, req + sizeof req - 2, 1) == GH_HTTP_CONTINUE, "last byte");
    BACKEND_READ(c, "GET /a?b=1 HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n" ADDED "\r\n");
    CHECK(c->client_len == 0, "the head consumed");
    CHECK(!gh_http_head_pending(&c->hp) && !gh_http_between_requests(&c->hp), "in flight");
    CHECK(gh_http_owes_client(&c->hp), "a response is owed");
    conv_end(c);
    END_CHECKS();
}

struct smuggle_row {
    int line;
    const char *request;
    const char *rule;                /* gh_http1_rule_name of what refuses it */
};

/* Attempts whose framing a lenient backend could read otherwise than
 * gatehouse: not one byte reaches the backend, the client gets a 400
 * naming the rule, and nothing more is read. */
static const struct smuggle_row smuggle_rows[] = {
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n", "cl_te_conflict"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
               "0\r\n\r\n", "cl_te_conflict"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
     "cl_mismatch"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 40\r\n\r\nabcd", "cl_mismatch"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\nabcd",
     "bad_content_length"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\nabcd",
     "space_before_colon"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n",
     "obs_fold"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
     "te_not_chunked"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
     "te_not_chunked"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5 x\r\nhello\r\n0\r\n\r\n", "bad_chunk_size"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0x5\r\nhello\r\n0\r\n\r\n", "bad_chunk_size"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "-5\r\nhello\r\n0\r\n\r\n", "bad_chunk_size"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "10000000000000000\r\n", "bad_chunk_size"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhelloX\r\n0\r\n\r\n", "bad_chunk_end"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "te_not_chunked"},
    {__LINE__, "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "te_http10"},
    {__LINE__, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\nhello\r\n0\r\n\r\n", "bare_lf"},
    {__LINE__, "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-B: 2\r\n\r\n", "bare_cr"},
    {__LINE__, "GET / HTTP/1.1\nHost: a\n\n", "bare_lf"},
    {__LINE__, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "duplicate_host"},
    {__LINE__, "GET / HTTP/1.1\r\n\r\n", "missing_host"},
};

static void test_smuggling_refused(void **state)
{
    (void)state;
    struct conv *c = &conv;
    for (size_t i = 0; i < ARRAY_LEN(smuggle_rows); i++) {
        const struct smuggle_row *r = &smuggle_rows[i];
        row_line = r->line;
        conv_start(c, "");
        /* whole, then the same again byte by byte: the same verdict */
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            if (bytewise)
                conv_start(c, "");
            size_t len = strlen(r->request);
            for (size_t k = 0; k < len; k += bytewise ? 1 : len)
                (void)client_sends_n(c, r->request + k, bytewise ? 1 : len); /* any action */
            CHECK(c->to_backend_len == 0, "%zu bytes reached the backend (%s)", c->to_backend_len,
                  bytewise ? "bytewise" : "whole");
            CHECK(gh_http_client_paused(&c->hp), "nothing more is read");
            check_refused(c, 400, "Bad Request", r->rule, bytewise ? "bytewise" : "whole");
            conv_end(c);
        }
    }
    row_line = 0;
    END_CHECKS();
}

/* A chunked body that goes on streamed (max_held_request = 0): the chunks
 * checked so far went, re-framed; the bad one never does, the request is
 * refused with a 400 and its backend connection must not carry more. */
static void test_streamed_bad_chunk(void **state)
{
    (void)state;
    struct conv *c = &conv;
    conv_start(c, "max_held_request = 0\n");
    CHECK(client_sends(c, "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n") == GH_HTTP_CONTINUE, "first chunk");
    CHECK(client_sends(c, "zz\r\nAAAA\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n") ==
              GH_HTTP_CONTINUE, "bad chunk");
    BACKEND_READ(c, "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" ADDED
                    "\r\n5\r\nhello\r\n");
    check_refused(c, 400, "Bad Request", "bad_chunk_size", "the refusal answers it");
    conv_end(c);
    END_CHECKS();
}

/* Bodies as the backend reads them: a held chunked body goes whole with
 * Content-Length; a streamed one in gatehouse's own chunks (lowercase hex,
 * no leading zeros, no extensions, trailers only when allowed); a
 * Content-Length body passes as it is. */
static void test_bodies_reframed(void **state)
{
    (void)state;
    struct conv *c = &conv;
    static const char chunked[] = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "0005;name=\"v\"\r\nhello\r\n00A\r\n0123456789\r\n"
                                  "0\r\nX-T: 1\r\n\r\n";

    conv_start(c, "");              /* held: fits max_held_request */
    CHECK(client_sends_n(c, chunked, sizeof chunked - 2) == GH_HTTP_CONTINUE, "all but the end");
    CHECK(c->to_backend_len == 0, "held until complete");
    CHECK(gh_http_body_pending(&c->hp), "body pending");
    CHECK(client_sends(c, "\n") == GH_HTTP_CONTINUE, "the end");
    BACKEND_READ(c, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 15\r\n" ADDED
                    "\r\nhello0123456789");
    conv_end(c);

    conv_start(c, "max_held_request = 0\n"); /* streamed */
    (void)client_sends(c, chunked);
    BACKEND_READ(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" ADDED
                    "\r\n5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n");
    conv_end(c);

    conv_start(c, "max_held_request = 0\nallow_trailers = X-T\n");
    (void)client_sends(c, chunked);
    BACKEND_READ(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" ADDED
                    "\r\n5\r\nhello\r\na\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n");
    conv_end(c);

    conv_start(c, "max_held_request = 0\n");
    (void)client_sends(c, "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab");
    (void)client_sends(c, "cGET /next HTTP/1.1\r\n");
    BACKEND_READ(c, "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n" ADDED "\r\nabc");
    CHECK(c->client_len == strlen("GET /next HTTP/1.1\r\n"), "the next head waits");
    conv_end(c);

    /* the same Content-Length twice (RFC 9112 6.3 allows it): one line goes on */
    conv_start(c, "");
    (void)client_sends(c, "POST /d HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                          "Content-Length: 3\r\n\r\nabc");
    BACKEND_READ(c, "POST /d HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n" ADDED "\r\nabc");
    conv_end(c);

    conv_start(c, "max_body = 8\n"); /* a chunk over max_body: refused at its size line */
    (void)client_sends(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n");
    CHECK(c->to_backend_len == 0, "nothing went on");
    check_refused(c, 413, "Content Too Large", "body_too_large", "a 413");
    conv_end(c);
    END_CHECKS();
}

/* Pipelined requests: GH_HTTP_PIPELINE_MAX in flight, the rest wait in the
 * client's input until a response completes. */
static void test_pipelining_held(void **state)
{
    (void)state;
    struct conv *c = &conv;
    static const char two[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    conv_start(c, "");
    CHECK(client_sends(c, two) == GH_HTTP_BLOCKED, "blocked behind the first");
    BACKEND_READ(c, "GET /1 HTTP/1.1\r\nHost: a\r\n" ADDED "\r\n");
    CHECK(c->client_len == strlen("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"), "the second waits");
    CHECK(client_frame(c) == GH_HTTP_BLOCKED, "still blocked");
    CHECK(backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n") == GH_HTTP_CONTINUE,
          "head");
    CHECK(client_frame(c) == GH_HTTP_BLOCKED, "blocked until the response is whole");
    CHECK(backend_sends(c, "ok") == GH_HTTP_CONTINUE, "body");
    CLIENT_READ(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(client_frame(c) == GH_HTTP_CONTINUE, "the second goes");
    BACKEND_READ(c, "GET /1 HTTP/1.1\r\nHost: a\r\n" ADDED "\r\n"
                    "GET /2 HTTP/1.1\r\nHost: a\r\n" ADDED "\r\n");
    /* a GET on the connection that answered /1: kept for a replay */
    CHECK(c->client_len == strlen("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"), "its head is kept");
    conv_end(c);
    END_CHECKS();
}

/* ---- responses --------------------------------------------------------------- */

/* Bytes from the backend that answer nothing: not one goes to the client,
 * the backend connection is to be replaced, and the next request is not
 * paired with them. */
static void test_response_without_request(void **state)
{
    (void)state;
    struct conv *c = &conv;
    conv_start(c, "");
    CHECK(backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nevil!") ==
              GH_HTTP_CONTINUE, "unsolicited");
    CHECK(c->to_client_len == 0, "nothing to the client");
    CHECK(c->backend_len == 0, "all of it dropped");
    CHECK(gh_http_backend_replace_due(&c->hp), "desync: replace the backend connection");
    new_backend(c);
    CHECK(!gh_http_backend_replace_due(&c->hp), "replaced");

    /* one request, two answers: the second is a desync too */
    (void)client_sends(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    (void)backend_sends(c, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CLIENT_READ(c, "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(gh_http_backend_replace_due(&c->hp), "the extra answer desyncs");
    conv_end(c);

    /* answered before its body was all sent: early_response desync */
    conv_start(c, "max_held_request = 0\n");
    (void)client_sends(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345");
    (void)backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CLIENT_READ(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK(gh_http_backend_replace_due(&c->hp), "early response: the connection is dropped");
    size_t before = c->to_backend_len;
    (void)client_sends(c, "67890GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c->to_backend_len == before, "nothing more goes after an early answer");
    conv_end(c);
    END_CHECKS();
}

struct bodiless_row {
    int line;
    const char *method;
    const char *response;            /* a head that says a body follows, or none may */
};

/* Responses that end at their head whatever their framing fields say:
 * what follows is the next response, not a body. */
static const struct bodiless_row bodiless_rows[] = {
    {__LINE__, "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"},
    {__LINE__, "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
    {__LINE__, "GET", "HTTP/1.1 204 No Content\r\n\r\n"},
    {__LINE__, "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"},
};

static void test_bodiless_responses(void **state)
{
    (void)state;
    struct conv *c = &conv;
    for (size_t i = 0; i < ARRAY_LEN(bodiless_rows); i++) {
        const struct bodiless_row *r = &bodiless_rows[i];
        char req[128], want[256];
        row_line = r->line;
        conv_start(c, "");
        snprintf(req, sizeof req, "%s / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
                 r->method);
        (void)client_sends(c, req);
        (void)backend_sends(c, r->response);
        CLIENT_READ(c, r->response);
        CHECK(!gh_http_owes_client(&c->hp), "complete at its head");
        CHECK(client_frame(c) == GH_HTTP_CONTINUE, "the next request goes");
        (void)backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        snprintf(want, sizeof want, "%sHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                 r->response);
        CLIENT_READ(c, want);
        CHECK(!gh_http_backend_replace_due(&c->hp), "in sync");
        conv_end(c);
    }
    row_line = 0;
    END_CHECKS();
}

/* A 1xx goes on and the request stays in flight; the final response
 * follows on the same request. */
static void test_interim_then_final(void **state)
{
    (void)state;
    struct conv *c = &conv;
    conv_start(c, "");
    (void)client_sends(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    (void)backend_sends(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    CLIENT_READ(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n");
    CHECK(gh_http_owes_client(&c->hp), "the final response is still owed");
    CHECK(client_frame(c) == GH_HTTP_BLOCKED, "the next request still waits");
    (void)backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CLIENT_READ(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(client_frame(c) == GH_HTTP_CONTINUE, "then it goes");
    CHECK(!gh_http_backend_replace_due(&c->hp), "in sync");
    conv_end(c);
    END_CHECKS();
}

/* Expect: 100-continue on a request gatehouse holds: gatehouse sends the
 * 100 itself (nothing went to the backend), then the whole request
 * without the Expect field. Streamed, the field goes on and the backend
 * answers it. */
static void test_expect_continue(void **state)
{
    (void)state;
    struct conv *c = &conv;
    static const char head[] = "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                               "Content-Length: 5\r\n\r\n";
    const char *p;
    size_t n;
    conv_start(c, "");
    (void)client_sends(c, head);
    CHECK(c->to_backend_len == 0, "held");
    CHECK(!gh_http_take_interim(&c->hp, 24, &p, &n), "not into less room than it needs");
    CHECK(gh_http_take_interim(&c->hp, 25, &p, &n), "the 100 is owed");
    CHECK(n == 25 && memcmp(p, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0, "exactly the 100");
    CHECK(!gh_http_take_interim(&c->hp, 25, &p, &n), "once");
    (void)client_sends(c, "hello");
    BACKEND_READ(c, "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n" ADDED "\r\nhello");
    conv_end(c);

    conv_start(c, "max_held_request = 0\n");
    (void)client_sends(c, head);
    CHECK(!gh_http_take_interim(&c->hp, 25, &p, &n), "streamed: the backend answers it");
    BACKEND_READ(c, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
                    ADDED "\r\n");
    (void)backend_sends(c, "HTTP/1.1 100 Continue\r\n\r\n");
    CLIENT_READ(c, "HTTP/1.1 100 Continue\r\n\r\n");
    (void)client_sends(c, "hello");
    (void)backend_sends(c, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    CLIENT_READ(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    CHECK(gh_http_backend_replace_due(&c->hp),
          "backend_reuse = safe: a connection that carried a body is retired");
    conv_end(c);
    END_CHECKS();
}

/* ---- replay and lost backends ------------------------------------------------------ */

/* One exchange first, so the backend connection is a reused one. */
static void warm_up(struct conv *c, const char *extra_ini)
{
    conv_start(c, extra_ini);
    (void)client_sends(c, "GET /warm HTTP/1.1\r\nHost: a\r\n\r\n");
    (void)backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(gh_http_owes_client(&c->hp), false);
    c->to_backend_len = 0;
    c->to_client_len = 0;
    gh_http_delivered(&c->hp, 0, c->now, 1);
}

static void test_replay_decision(void **state)
{
    (void)state;
    struct conv *c = &conv;
    static const char get[] = "GET /r HTTP/1.1\r\nHost: a\r\n\r\n";

    /* a GET on a reused connection is kept: its head stays first in the
     * client's input, and goes again when the backend closes unanswered */
    warm_up(c, "");
    CHECK(client_sends(c, get) == GH_HTTP_CONTINUE, "sent");
    CHECK(c->hp.replay == GH_HTTP_REPLAY_KEPT, "kept (%d)", (int)c->hp.replay);
    CHECK(c->client_len == strlen(get), "its head stays in the input");
    CHECK(!gh_http_send_check_due(&c->hp), "no send check for a kept one");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_REPLACE, "lost: replace");
    CHECK(c->hp.replay == GH_HTTP_REPLAY_DUE, "due (%d)", (int)c->hp.replay);
    CHECK(gh_http_backend_replace_due(&c->hp), "replace");
    new_backend(c);
    CHECK(client_frame(c) == GH_HTTP_CONTINUE, "sent again");
    CHECK(c->client_len == 0, "not kept a second time");
    BACKEND_READ(c, "GET /r HTTP/1.1\r\nHost: a\r\n" ADDED "\r\nGET /r HTTP/1.1\r\nHost: a\r\n"
                    ADDED "\r\n");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "a second loss fails");
    CHECK(gh_http_backend_eof(&c->hp, GH_HTTP_OUTCOME_BACKEND_FAILED, c->now, 1) == GH_HTTP_CLOSE,
          "eof closes");
    check_refused(c, 502, "Bad Gateway", "the backend closed without answering", "a 502");
    conv_end(c);

    /* the answer's first byte releases the kept head */
    warm_up(c, "");
    (void)client_sends(c, get);
    (void)backend_sends(c, "H");
    CHECK(c->client_len == 0, "released: dropped from the input");
    CHECK(c->hp.replay == GH_HTTP_REPLAY_NONE, "none (%d)", (int)c->hp.replay);
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "part of an answer came");
    conv_end(c);

    /* a POST on a reused connection is never sent twice; it is checked
     * before its first byte is written, and goes unchanged on a new
     * connection when the old one had closed */
    warm_up(c, "max_held_request = 0\n");
    (void)client_sends(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    CHECK(c->hp.replay == GH_HTTP_REPLAY_UNSENT, "unsent (%d)", (int)c->hp.replay);
    CHECK(c->client_len == 0, "nothing kept");
    CHECK(gh_http_send_check_due(&c->hp), "check before sending");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_RESEND, "closed: resend");
    CHECK(!gh_http_send_check_due(&c->hp), "once");
    conv_end(c);

    warm_up(c, "max_held_request = 0\n");
    (void)client_sends(c, "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
    gh_http_send_checked(&c->hp);     /* it was open: the bytes go */
    CHECK(c->hp.replay == GH_HTTP_REPLAY_NONE, "none (%d)", (int)c->hp.replay);
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "sent: a close is a failure");
    conv_end(c);

    /* a POST without a body is not idempotent either: checked, never kept */
    warm_up(c, "");
    (void)client_sends(c, "POST /p HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c->hp.replay == GH_HTTP_REPLAY_UNSENT, "bodiless POST: unsent (%d)", (int)c->hp.replay);
    CHECK(c->client_len == 0, "bodiless POST: nothing kept");
    CHECK(gh_http_replay_drop(&c->hp) == 0, "bodiless POST: nothing to drop");
    conv_end(c);

    /* a GET on a fresh connection, or one the client closes after: no replay */
    conv_start(c, "");
    (void)client_sends(c, get);
    CHECK(c->hp.replay == GH_HTTP_REPLAY_NONE, "fresh: none (%d)", (int)c->hp.replay);
    CHECK(!gh_http_send_check_due(&c->hp), "fresh: no check");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "fresh: fail");
    conv_end(c);
    warm_up(c, "");
    (void)client_sends(c, "GET /r HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    /* not replayable (the client closes after it), so checked before it goes */
    CHECK(c->hp.replay == GH_HTTP_REPLAY_UNSENT, "close: unsent (%d)", (int)c->hp.replay);
    CHECK(c->client_len == 0, "close: nothing kept");
    conv_end(c);

    /* the client ends its side: the kept head is dropped */
    warm_up(c, "");
    (void)client_sends(c, get);
    CHECK(gh_http_replay_drop(&c->hp) == strlen(get), "the kept head's bytes");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "no retry after the client's end");
    conv_end(c);
    END_CHECKS();
}

/* What gh_http_backend_lost says with nothing in flight, mid-response and
 * after a response that closed the client's connection. */
static void test_backend_lost_outcomes(void **state)
{
    (void)state;
    struct conv *c = &conv;

    warm_up(c, "");                  /* idle: a new connection for what comes */
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_REPLACE, "idle: replace");
    CHECK(gh_http_backend_replace_due(&c->hp), "replace due");
    new_backend(c);
    (void)client_sends(c, "GET /n HTTP/1.1\r\nHost: a\r\n\r\n");
    BACKEND_READ(c, "GET /n HTTP/1.1\r\nHost: a\r\n" ADDED "\r\n");
    conv_end(c);

    conv_start(c, "");               /* mid-head */
    (void)client_sends(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    (void)backend_sends(c, "HTTP/1.1 200 OK\r\n");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "mid-head: fail");
    conv_end(c);

    conv_start(c, "");               /* mid-body */
    (void)client_sends(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    (void)backend_sends(c, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "mid-body: fail");
    CHECK(gh_http_backend_eof(&c->hp, GH_HTTP_OUTCOME_BACKEND_FAILED, c->now, 1) == GH_HTTP_CLOSE,
          "cut short: close");
    CHECK(!take_reply(c), "no reply inside a response");
    CLIENT_READ(c, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
    conv_end(c);

    conv_start(c, "");               /* an HTTP/1.0 answer closed the client's connection */
    (void)client_sends(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(backend_sends(c, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == GH_HTTP_CLOSE,
          "close after it");
    CHECK(gh_http_backend_lost(&c->hp, 1) == GH_HTTP_LOST_FAIL, "closing: fail");
    conv_end(c);

    conv_start(c, "");               /* Connection: close on HTTP/1.1: only the backend ends */
    (void)client_sends(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(backend_sends(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") ==
              GH_HTTP_CONTINUE, "the client connection goes on");
    CLIENT_READ(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    CHECK(gh_http_backend_replace_due(&c->hp), "the backend connection is replaced");
    conv_end(c);
    END_CHECKS();
}

/* ---- WebSocket ---------------------------------------------------------------- */

#define WS_UPGRADE                                                                 \
    "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
#define WS_101                                                                     \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

static void test_websocket(void **state)
{
    (void)state;
    struct conv *c = &conv;
    /* a masked text frame "Hi" from the client; an unmasked one from the backend */
    static const uint8_t client_hi[] = {0x81, 0x82, 1, 2, 3, 4, 'H' ^ 1, 'i' ^ 2};
    static const uint8_t backend_hi[] = {0x81, 0x02, 'H', 'i'};
    static const uint8_t unmasked[] = {0x81, 0x02, 'H', 'i'};
    static const uint8_t bad_utf8[] = {0x81, 0x81, 0, 0, 0, 0, 0xff};

    conv_start(c, "websocket = on\n");
    (void)client_sends(c, WS_UPGRADE);
    BACKEND_READ(c, "GET /chat HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n" ADDED
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    (void)backend_sends(c, WS_101);
    CLIENT_READ(c, WS_101);
    size_t sent = c->to_backend_len;
    CHECK(client_sends_n(c, client_hi, sizeof client_hi) == GH_HTTP_CONTINUE, "frame");
    CHECK(c->to_backend_len - sent == sizeof client_hi &&
              memcmp(c->to_backend + sent, client_hi, sizeof client_hi) == 0,
          "the frame passes as it is");
    size_t got = c->to_client_len;
    (void)backend_sends_n(c, backend_hi, sizeof backend_hi);
    CHECK(c->to_client_len - got == sizeof backend_hi &&
              memcmp(c->to_client + got, backend_hi, sizeof backend_hi) == 0,
          "the backend's frame passes");
    uint64_t in = 0, out = 0, msgs = 0;
    CHECK(gh_http_ws_counts(&c->hp, &in, &out, &msgs) && in == 1 && out == 1 && msgs == 1,
          "counts %llu %llu %llu", (unsigned long long)in, (unsigned long long)out,
          (unsigned long long)msgs);
    /* an unmasked client frame: nothing passes, a 1002 close goes to the client */
    sent = c->to_backend_len;
    (void)client_sends_n(c, unmasked, sizeof unmasked);
    CHECK(c->to_backend_len == sent, "nothing of it passed");
    got = c->to_client_len;
    CHECK(take_reply(c), "a close frame");
    CHECK(c->to_client_len - got >= 4 && c->to_client[got] == 0x88 &&
              c->to_client[got + 2] == 0x03 && c->to_client[got + 3] == 0xea,
          "close 1002");
    conv_end(c);

    /* invalid UTF-8 in a text frame: 1007, nothing passed */
    conv_start(c, "websocket = on\n");
    (void)client_sends(c, WS_UPGRADE);
    (void)backend_sends(c, WS_101);
    sent = c->to_backend_len;
    (void)client_sends_n(c, bad_utf8, sizeof bad_utf8);
    CHECK(c->to_backend_len == sent, "nothing of it passed");
    got = c->to_client_len;
    CHECK(take_reply(c), "a close frame");
    CHECK(c->to_client_len - got >= 4 && c->to_client[got] == 0x88 &&
              c->to_client[got + 2] == 0x03 && c->to_client[got + 3] == 0xef,
          "close 1007");
    conv_end(c);

    /* a 101 with the wrong accept: no switch, a 502 */
    conv_start(c, "websocket = on\n");
    (void)client_sends(c, WS_UPGRADE);
    CHECK(backend_sends(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n") ==
              GH_HTTP_CLOSE, "refused");
    check_refused(c, 502, "Bad Gateway", "the backend's protocol switch is not valid", "bad accept");
    conv_end(c);

    /* websocket = off: the upgrade fields never reach the backend, and a
     * 101 then answers nothing that was asked */
    conv_start(c, "");
    (void)client_sends(c, WS_UPGRADE);
    BACKEND_READ(c, "GET /chat HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n" ADDED "\r\n");
    CHECK(backend_sends(c, WS_101) == GH_HTTP_CLOSE, "an unasked 101 is refused");
    check_refused(c, 502, "Bad Gateway", "the backend's protocol switch is not valid", "unasked 101");
    conv_end(c);
    END_CHECKS();
}

static int group_setup(void **state)
{
    (void)state;
    gh_log_set_level(GH_LOG_ERROR); /* refusals log at info: expected here */
    loaded = calloc(1, sizeof *loaded);
    load_errs = calloc(1, sizeof *load_errs);
    return loaded && load_errs ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(loaded);
    free(load_errs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_rebuilt),
        cmocka_unit_test(test_smuggling_refused),
        cmocka_unit_test(test_streamed_bad_chunk),
        cmocka_unit_test(test_bodies_reframed),
        cmocka_unit_test(test_pipelining_held),
        cmocka_unit_test(test_response_without_request),
        cmocka_unit_test(test_bodiless_responses),
        cmocka_unit_test(test_interim_then_final),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_replay_decision),
        cmocka_unit_test(test_backend_lost_outcomes),
        cmocka_unit_test(test_websocket),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
