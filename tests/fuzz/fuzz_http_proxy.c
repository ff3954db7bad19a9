/* fuzz_http_proxy.c - libFuzzer target for the request path through the
 * HTTP framer (src/http_proxy.c, with http1.c, config.c): heads, bodies
 * (Content-Length, chunked, trailers, 100-continue, held or streamed),
 * pipelining, partial reads, and the backend's responses, through
 * gh_http_from_client / gh_http_from_backend as src/conn.c drives them
 * (fuzz_proxy_conn.h models the connection, no sockets).
 *
 * Input: byte 0 picks the listener config (bit 0 max_held_request = 0,
 * bit 1 trailers and chunk extensions forwarded, bit 2 validation =
 * report, bit 3 backend_reuse = always, bit 4 a trusted proxy appending
 * to X-Forwarded-For, bit 5 small limits and buffer, bit 6 HSTS, both
 * forwarding fields and a method allow-list, bit 7 an IPv6 client);
 * byte 1 how chunks are cut (bits 0-1: whole, bytewise, small, random;
 * bit 2 less output room now and then; bit 3 a backend answering out of
 * turn now and then); bytes 2-5 the schedule's seed;
 * bytes 6-7 (big-endian) the length of the client's stream, which
 * follows; the rest is the backend's stream: its answers, one per
 * request forwarded, separated by "\n~~\n" (fuzz_proxy_conn.h). tests/fuzz/http_proxy.dict
 * and tests/fuzz/gen_proxy_seeds.py go with it.
 *
 * Beyond crashes, leaks and UB, it aborts when:
 *  - a backend connection's bytes are not a sequence of requests that
 *    the strict parser (http1.c) accepts whole: heads that parse,
 *    exactly-framed bodies, and at most a last body cut short;
 *  - a lenient backend (last Content-Length wins, only an exact "chunked"
 *    counts, '_' read as '-', loose chunk lines) would see message
 *    boundaries anywhere else (request smuggling), or, with backend_reuse
 *    = safe, a request follows one that carried bytes beyond its head on
 *    the same backend connection (a backend that ignores bodies);
 *  - the requests forwarded are not, in order, the client's own (method,
 *    target, and the body's data once de-chunked), each once except a
 *    replay of the one in flight on a new backend connection, or more are
 *    forwarded than the client sent;
 *  - anything reaches the backend after gatehouse queued its own reply,
 *    or that reply is not an HTTP/1.1 response with Connection: close;
 *  - what the client received does not read as responses (heads that
 *    parse, checked framing) answering the requests forwarded, at most
 *    one final response each, in order, or gatehouse's reply lands
 *    inside a response. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/config.h"
#include "gatehouse/http1.h"
#include "gatehouse/http_proxy.h"

#include "fuzz_common.h"
#include "fuzz_proxy_conn.h"

#define MSGS_MAX 512
#define BODY_ARENA (1u << 20)

static const struct gh_listener_config *variants[256];
static struct conn_model model;

static const char *variant_ini(unsigned v, char *buf, size_t size)
{
    int n = snprintf(buf, size,
                     "[listener:f]\nlisten = 127.0.0.1:8443\nbackend = 127.0.0.1:8080\n"
                     "cert = /c.pem\nkey = /k.pem\nmode = http\n%s%s%s%s%s%s%s",
                     v & 0x01 ? "max_held_request = 0\n" : "",
                     v & 0x02 ? "allow_trailers = X-T, X-Checksum\nchunk_extensions = forward\n" : "",
                     v & 0x04 ? "validation = report\n" : "",
                     v & 0x08 ? "backend_reuse = always\n" : "",
                     v & 0x10 ? "trusted_proxies = 127.0.0.1, ::1\nforwarded_for = append\n" : "",
                     v & 0x20 ? "max_request_line = 256\nmax_header_bytes = 1k\nmax_headers = 16\n"
                                "max_trailer_bytes = 256\nmax_chunk_ext = 16\nmax_body = 2k\n"
                                "buffer_size = 4k\n"
                              : "",
                     v & 0x40 ? "hsts = max-age=1\nforwarded_headers = both\n"
                                "allow_methods = GET, HEAD, POST, PUT, OPTIONS, CONNECT\n"
                              : "");
    REQUIRE(n > 0 && (size_t)n < size);
    return buf;
}

static const struct gh_listener_config *config_for(unsigned v)
{
    v &= 0x7f;
    if (!variants[v]) {
        char ini[1024];
        variants[v] = conn_config(variant_ini(v, ini, sizeof ini));
    }
    return variants[v];
}

/* ---- reading a stream of requests ------------------------------------------- */

struct msg {
    size_t start, end;               /* end: 0 while incomplete */
    size_t head_len;
    struct gh_http1_span method, target;
    size_t body_at, body_len;        /* data bytes, de-chunked, in the arena */
    bool body_complete;
    bool tunnel;                     /* CONNECT: what follows is not HTTP */
};

struct reading {
    struct msg msgs[MSGS_MAX];
    size_t n;
    size_t complete;                 /* messages read whole */
};

static uint8_t arena[BODY_ARENA];
static size_t arena_len;
static struct gh_http1_request req;

static const struct gh_http1_limits roomy = {
    .max_request_line = 1 << 20,
    .max_header_bytes = 1 << 20,
    .max_headers = GH_HTTP1_MAX_HEADERS,
    .max_chunk_ext = 1 << 16,
    .max_trailer_bytes = 1 << 20,
};

static void arena_put(const void *p, size_t n)
{
    REQUIRE(n <= BODY_ARENA - arena_len);
    memcpy(arena + arena_len, p, n);
    arena_len += n;
}

/* Reads requests from buf[0, len) with the strict parser. FORWARDED: what
 * a backend received from gatehouse (no leading empty lines, every head
 * whole, nothing that does not parse); else what the client sent (read as
 * gatehouse reads it, up to the first thing it would refuse). Returns
 * where reading stopped. */
static size_t read_requests(const uint8_t *buf, size_t len, const struct gh_http1_limits *lim,
                            bool forwarded, struct reading *rd)
{
    const char *b = (const char *)buf;
    size_t pos = 0;
    rd->n = rd->complete = 0;
    while (pos < len && rd->n < MSGS_MAX) {
        enum gh_http1_rule rule = GH_RULE_NONE;
        if (!forwarded) {
            unsigned empty = 0;
            size_t skip = 0;
            if (gh_http1_skip_empty_lines(b + pos, len - pos, &empty, &skip, &rule) != GH_HTTP1_DONE)
                return pos;
            pos += skip;
        }
        size_t scan = 0, head_len = 0;
        enum gh_http1_status st = gh_http1_head_end(b + pos, len - pos, true, lim, &scan,
                                                    &head_len, &rule);
        if (forwarded)
            REQUIRE(st == GH_HTTP1_DONE); /* heads go whole, and only valid ones */
        else if (st != GH_HTTP1_DONE)
            return pos;
        st = gh_http1_parse_request(b + pos, head_len, lim, &req, &rule);
        if (forwarded) {
            REQUIRE(st == GH_HTTP1_DONE && req.head_len == head_len);
            REQUIRE(req.body != GH_BODY_UNTIL_CLOSE);
        } else if (st != GH_HTTP1_DONE || req.head_len != head_len) {
            return pos;
        }
        struct msg *m = &rd->msgs[rd->n++];
        memset(m, 0, sizeof *m);
        m->start = pos;
        m->head_len = head_len;
        m->method = req.method;
        m->target = req.target;
        m->tunnel = req.method.len == 7 && memcmp(req.method.p, "CONNECT", 7) == 0;
        m->body_at = arena_len;
        pos += head_len;
        if (req.body == GH_BODY_LENGTH) {
            size_t n = len - pos < req.content_length ? len - pos : (size_t)req.content_length;
            arena_put(buf + pos, n);
            m->body_len = n;
            pos += n;
            m->body_complete = n == req.content_length;
        } else if (req.body == GH_BODY_CHUNKED) {
            struct gh_http1_chunked c;
            gh_http1_chunked_init(&c);
            for (;;) {
                struct gh_http1_chunk_ev ev;
                size_t used = 0;
                enum gh_http1_chunk_event e =
                    gh_http1_chunked_next(&c, b + pos, len - pos, lim, &used, &ev);
                pos += used;
                if (e == GH_CHUNK_DATA) {
                    arena_put(ev.data.p, ev.data.len);
                    m->body_len += ev.data.len;
                } else if (e == GH_CHUNK_END) {
                    m->body_complete = true;
                    break;
                } else if (e == GH_CHUNK_NEED_MORE) {
                    break;
                } else if (e == GH_CHUNK_ERROR) {
                    REQUIRE(!forwarded); /* gatehouse forwards only checked chunks */
                    break;
                }
            }
        } else {
            m->body_complete = true;
        }
        if (!m->body_complete)
            return pos;              /* cut short: nothing follows */
        m->end = pos;
        rd->complete++;
        if (m->tunnel)
            return pos;
    }
    return pos;
}

/* ---- a lenient backend -------------------------------------------------------- */

static bool lenient_name(const uint8_t *p, size_t n, const char *lower)
{
    size_t k = strlen(lower);
    if (n != k)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = (char)p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c == '_')
            c = '-';
        if (c != lower[i])
            return false;
    }
    return true;
}

static const uint8_t *find_line_end(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : NULL;
}

static void trim(const uint8_t **a, const uint8_t **b)
{
    while (*a < *b && (**a == ' ' || **a == '\t'))
        (*a)++;
    while (*b > *a && ((*b)[-1] == ' ' || (*b)[-1] == '\t' || (*b)[-1] == '\r' || (*b)[-1] == '\n'))
        (*b)--;
}

/* The end of the message at p as a lenient server reads it, or NULL while
 * it is incomplete. */
static const uint8_t *lenient_message_end(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *line = find_line_end(p, end); /* the request line */
    uint64_t cl = 0;
    bool chunked = false;
    if (!line)
        return NULL;
    for (;;) {
        const uint8_t *next = find_line_end(line, end);
        if (!next)
            return NULL;
        const uint8_t *a = line, *b = next;
        trim(&a, &b);
        if (a == b) {                /* the empty line: the head ends */
            line = next;
            break;
        }
        const uint8_t *colon = memchr(a, ':', (size_t)(b - a));
        if (colon) {
            const uint8_t *na = a, *nb = colon, *va = colon + 1, *vb = b;
            trim(&na, &nb);
            trim(&va, &vb);
            if (lenient_name(na, (size_t)(nb - na), "content-length")) {
                cl = 0;              /* the last one wins */
                for (const uint8_t *q = va; q < vb && *q >= '0' && *q <= '9'; q++)
                    cl = cl * 10 + (uint64_t)(*q - '0');
            } else if (lenient_name(na, (size_t)(nb - na), "transfer-encoding")) {
                chunked = lenient_name(va, (size_t)(vb - va), "chunked");
            }
        }
        line = next;
    }
    if (!chunked)
        return (uint64_t)(end - line) >= cl ? line + cl : NULL;
    for (;;) {                       /* chunks, read loosely */
        const uint8_t *next = find_line_end(line, end);
        if (!next)
            return NULL;
        uint64_t size = 0;
        for (const uint8_t *q = line; q < next; q++) {
            int d = *q >= '0' && *q <= '9' ? *q - '0'
                    : (*q | 32) >= 'a' && (*q | 32) <= 'f' ? (*q | 32) - 'a' + 10 : -1;
            if (d < 0)
                break;
            size = size * 16 + (uint64_t)d;
        }
        line = next;
        if (size == 0) {
            for (;;) {               /* trailers up to an empty line */
                next = find_line_end(line, end);
                if (!next)
                    return NULL;
                const uint8_t *a = line, *b = next;
                trim(&a, &b);
                line = next;
                if (a == b)
                    return line;
            }
        }
        if ((uint64_t)(end - line) < size)
            return NULL;
        line += size;
        next = find_line_end(line, end); /* the data's line ending, loosely */
        if (!next)
            return NULL;
        line = next;
    }
}

/* ---- what the client received --------------------------------------------------- */

static struct gh_http1_response resp;

/* Reads the client's bytes before gatehouse's reply as responses to
 * REQUESTS (the client's requests that went on, in order): every head
 * parses (interim ones, gatehouse's 100 Continue among them, answer
 * nothing), each final one answers the next request, and the reply (if
 * any) comes after a response's end, never inside one. */
static void check_responses(const struct conn_model *m, const struct msg *requests, size_t n_requests)
{
    const char *b = (const char *)m->to_client;
    size_t len = m->reply_at != SIZE_MAX ? m->reply_at : m->to_client_len;
    size_t pos = 0, answered = 0;
    while (pos < len) {
        size_t scan = 0, head_len = 0;
        enum gh_http1_rule rule = GH_RULE_NONE;
        enum gh_http1_status st = gh_http1_head_end(b + pos, len - pos, false, &roomy, &scan,
                                                    &head_len, &rule);
        REQUIRE(st != GH_HTTP1_ERROR);
        if (st == GH_HTTP1_INCOMPLETE)
            break;               /* heads go whole: only at the very end */
        /* (gatehouse's 100 Continue may come before any request went on) */
        struct gh_http1_span method = {"GET", 3};
        if (answered < n_requests)
            method = requests[answered].method;
        st = gh_http1_parse_response(b + pos, head_len, &roomy, method, &resp, &rule);
        REQUIRE(st == GH_HTTP1_DONE && resp.head_len == head_len);
        pos += head_len;
        if (resp.status < 200)
            continue;            /* interim: the answer follows */
        REQUIRE(answered < n_requests); /* a final answer to nothing asked */
        bool tunnel = requests[answered].tunnel && resp.status < 300;
        answered++;
        if (tunnel || resp.body == GH_BODY_UNTIL_CLOSE) {
            REQUIRE(m->reply_at == SIZE_MAX);
            return;              /* the rest is the tunnel's, or this body's */
        }
        if (resp.body == GH_BODY_LENGTH) {
            if (len - pos < resp.content_length)
                break;
            pos += (size_t)resp.content_length;
        } else if (resp.body == GH_BODY_CHUNKED) {
            struct gh_http1_chunked c;
            size_t used = 0;
            gh_http1_chunked_init(&c);
            st = gh_http1_chunked_feed(&c, b + pos, len - pos, &roomy, &used, &rule);
            REQUIRE(st != GH_HTTP1_ERROR); /* only checked chunks go on */
            pos += used;
            if (st != GH_HTTP1_DONE)
                break;
        }
    }
    if (m->reply_at != SIZE_MAX)
        REQUIRE(pos == len);     /* the reply follows whole responses only */
}

/* ---- the checks ---------------------------------------------------------------- */

static bool same_span(struct gh_http1_span a, struct gh_http1_span b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static struct reading client_rd, seg_rd;

static void check_run(const struct conn_model *m)
{
    const struct gh_listener_config *cfg = m->cfg;
    arena_len = 0;
    /* what the client sent, as gatehouse's parser reads it */
    read_requests(m->client.data, m->client.len, &cfg->http_limits, false, &client_rd);

    size_t next_client = 0;          /* the client's request the next forwarded one must be */
    for (unsigned s = 0; s < m->segments; s++) {
        size_t from = m->segment_start[s];
        size_t to = s + 1 < m->segments ? m->segment_start[s + 1] : m->to_backend_len;
        REQUIRE(from <= to && to <= m->to_backend_len);
        const uint8_t *seg = m->to_backend + from;
        size_t seg_len = to - from;
        size_t stop = read_requests(seg, seg_len, &roomy, true, &seg_rd);
        bool tunnel = seg_rd.n > 0 && seg_rd.msgs[seg_rd.n - 1].tunnel &&
                      seg_rd.msgs[seg_rd.n - 1].end != 0;
        /* everything was read, but what follows a CONNECT */
        REQUIRE(stop == seg_len || tunnel);
        REQUIRE(seg_rd.n < MSGS_MAX);

        /* a lenient backend finds the same boundaries */
        const uint8_t *p = seg, *end = seg + (tunnel ? stop : seg_len);
        for (size_t i = 0; i < seg_rd.n; i++) {
            const uint8_t *e = lenient_message_end(p, end);
            if (seg_rd.msgs[i].end) {
                REQUIRE(e == seg + seg_rd.msgs[i].end);
                p = e;
            } else {
                REQUIRE(e == NULL);  /* cut short for both */
            }
        }

        /* A backend that ignores bodies reads any byte after a head as
         * the start of its next request: with backend_reuse = safe a
         * request that carried any goes last on its connection. */
        if (cfg->backend_reuse == GH_REUSE_SAFE)
            for (size_t i = 0; i + 1 < seg_rd.n; i++)
                REQUIRE(seg_rd.msgs[i].end == seg_rd.msgs[i].start + seg_rd.msgs[i].head_len);

        /* each is the client's next request (or, first on a new backend
         * connection, the one in flight sent again) */
        for (size_t i = 0; i < seg_rd.n; i++) {
            const struct msg *f = &seg_rd.msgs[i];
            const struct msg *c = NULL;
            if (next_client < client_rd.n && same_span(f->method, client_rd.msgs[next_client].method) &&
                same_span(f->target, client_rd.msgs[next_client].target)) {
                c = &client_rd.msgs[next_client++];
            } else {
                REQUIRE(i == 0 && s > 0 && next_client > 0); /* a replay, or nothing */
                c = &client_rd.msgs[next_client - 1];
                REQUIRE(same_span(f->method, c->method) && same_span(f->target, c->target));
                REQUIRE(f->body_len == 0 && c->body_len == 0);
            }
            /* the body's data as the client sent it: all of it, or a
             * prefix when the forwarded body was cut short */
            REQUIRE(f->body_len <= c->body_len);
            REQUIRE(memcmp(arena + f->body_at, arena + c->body_at, f->body_len) == 0);
            if (f->body_complete)
                REQUIRE(c->body_complete && f->body_len == c->body_len);
        }
    }
    REQUIRE(next_client <= client_rd.n);
    check_responses(m, client_rd.msgs, next_client);

    if (m->reply_at != SIZE_MAX && m->reply_len > 0) {
        const char *r = (const char *)m->to_client + m->reply_at;
        REQUIRE(m->reply_len > 12 && memcmp(r, "HTTP/1.1 ", 9) == 0);
        REQUIRE(memmem(r, m->reply_len, "\r\nConnection: close\r\n", 21) != NULL);
    }
}

/* Every variant loads (a config error shows at once, not when an input
 * first picks it). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (unsigned v = 0; v < 128; v++)
        (void)config_for(v); /* cached for later */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    struct conn_model *m = &model;
    size_t client_len = (size_t)data[6] << 8 | data[7];
    const uint8_t *rest = data + 8;
    size_t rest_len = size - 8;
    if (client_len > rest_len)
        client_len = rest_len;

    conn_reset(m, config_for(data[0]), data[0] & 0x80 ? "2001:db8::7" : "127.0.0.1", rest,
               client_len, rest + client_len, rest_len - client_len,
               (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 | data[5],
               data[1], true);
    conn_run(m);
    conn_dump(m);
    check_run(m);
    return 0;
}
