/* fuzz_proxy_conn.h - an in-memory connection around the HTTP framer
 * (src/http_proxy.c), for fuzz_http_proxy and fuzz_websocket_2way.
 *
 * Owns: a listener config loaded through the real loader from a few
 * variants of an ini text (cached per variant), and a model of what
 * the http mode (src/mode_http.c, driven by src/conn.c's pump) does with
 * the framer, without sockets or TLS: the client's
 * and the backend's byte streams arrive in chunks whose sizes and order a
 * seeded generator picks (partial reads, pipelining, a backend answering
 * early or late); each round runs the client's input through
 * gh_http_from_client into the backend's log, the interim 100, the
 * backend's input through gh_http_from_backend into the client's log, the
 * kept head of a replayable request, backend replacement, backend EOF and
 * loss, gatehouse's own reply, and the client's end, as the pump orders
 * them. The backend and the client read everything at once (their logs
 * are what they received); the room offered for output is sometimes
 * smaller, so the framer's "no room" paths run too.
 *
 * The logs and the points where things happened (each backend
 * connection's first byte, the reply) are what the targets check. */
#ifndef GATEHOUSE_FUZZ_PROXY_CONN_H
#define GATEHOUSE_FUZZ_PROXY_CONN_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "gatehouse/config.h"
#include "gatehouse/http_proxy.h"
#include "gatehouse/log.h"

#include "fuzz_common.h"

#define CONN_BUF_MAX (1u << 18)      /* >= any buffer_size the variants give */
#define CONN_LOG_MAX (1u << 20)      /* what either peer may receive in one run */
#define CONN_SEGMENTS_MAX 64         /* backend connections in one run */
#define CONN_PIECES_MAX 256          /* backend answers in one run */
#define CONN_PIECE_MARK "\n~~\n"     /* between two answers in the backend's stream */
#define CONN_PIECE_MARK_LEN 4

struct conn_stream {
    const uint8_t *data;
    size_t len, fed;
};

struct conn_model {
    struct gh_http_proxy hp;
    const struct gh_listener_config *cfg;
    struct conn_stream client, backend;
    uint32_t rng;
    unsigned chunk_mode;             /* bits 0-1 how chunks are cut (conn_chunk), bit 2
                                      * less output room now and then, bit 3 a backend
                                      * that answers out of turn now and then */
    /* The backend's stream is its answers, one piece per request,
     * separated by CONN_PIECE_MARK: piece i comes once i + 1 requests were
     * forwarded (or, now and then, early: a backend answering out of
     * turn). A new backend connection starts at the next piece. */
    size_t piece_start[CONN_PIECES_MAX], piece_end[CONN_PIECES_MAX];
    unsigned pieces, piece;
    bool piece_early;                /* the current piece was let out early */
    uint64_t forwarded;              /* request heads forwarded */
    uint64_t last_request_id;
    size_t client_len;               /* bytes in client_in */
    size_t backend_len;
    size_t to_backend_len;
    size_t segment_start[CONN_SEGMENTS_MAX]; /* where each backend connection began */
    unsigned segments;
    size_t to_client_len;

    bool client_done;                /* the client ended its side */
    bool backend_done;               /* the current backend ended its side */
    bool closing;                    /* close once nothing more is owed */
    bool closed;
    size_t reply_at;                 /* where gatehouse's own reply began in to_client, or SIZE_MAX */
    size_t reply_len;
    size_t to_backend_at_reply;      /* to_backend_len when a reply was first queued */
    size_t to_client_at_reply;       /* and to_client_len */
    bool room_cut;                   /* this round offered less output room */
    bool reply_seen;
    uint64_t rounds;

    /* the buffers last: conn_reset clears what comes before them */
    uint8_t client_in[CONN_BUF_MAX]; /* received from the client, not consumed */
    uint8_t backend_in[CONN_BUF_MAX];
    uint8_t to_backend[CONN_LOG_MAX]; /* every byte the backends received */
    uint8_t to_client[CONN_LOG_MAX];  /* every byte the client received */
};

/* A model for a new conversation: CLIENT and BACKEND are the two peers'
 * whole streams, SEED and CHUNK_MODE the schedule. SPLIT_ANSWERS: the
 * backend's stream is answers separated by CONN_PIECE_MARK; else it is one
 * answer (a 101 and what follows it). */
static inline void conn_reset(struct conn_model *m, const struct gh_listener_config *cfg,
                              const char *client_addr, const uint8_t *client, size_t client_len,
                              const uint8_t *backend, size_t backend_len, uint32_t seed,
                              unsigned chunk_mode, bool split_answers)
{
    memset(m, 0, offsetof(struct conn_model, client_in));
    m->cfg = cfg;
    m->client.data = client;
    m->client.len = client_len;
    m->backend.data = backend;
    m->backend.len = backend_len;
    m->rng = seed;
    m->chunk_mode = chunk_mode;
    size_t at = 0;
    while (m->pieces < CONN_PIECES_MAX) {
        const uint8_t *mark = split_answers && m->pieces + 1 < CONN_PIECES_MAX
                                  ? memmem(backend + at, backend_len - at, CONN_PIECE_MARK,
                                           CONN_PIECE_MARK_LEN)
                                  : NULL;
        size_t end = mark ? (size_t)(mark - backend) : backend_len;
        m->piece_start[m->pieces] = at;
        m->piece_end[m->pieces++] = end;
        if (!mark)
            break;
        at = end + CONN_PIECE_MARK_LEN;
    }
    m->backend.fed = m->piece_start[0];
    gh_http_proxy_init(&m->hp, cfg, client_addr);
}

static inline uint32_t conn_rand(struct conn_model *m)
{
    /* xorshift32: the schedule must be a pure function of the input */
    uint32_t x = m->rng ? m->rng : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    m->rng = x;
    return x;
}

/* Size of the next chunk of a stream, at most avail (> 0). */
static inline size_t conn_chunk(struct conn_model *m, size_t avail)
{
    size_t n;
    switch (m->chunk_mode & 3) {
    case 0: n = avail; break;                             /* everything there is */
    case 1: n = 1; break;                                 /* byte by byte */
    case 2: n = 1 + conn_rand(m) % 16; break;             /* small pieces */
    default: n = 1 + conn_rand(m) % (avail < 512 ? avail : 512); break;
    }
    return n < avail ? n : avail;
}

/* Output room offered to the framer: the whole buffer mostly, sometimes
 * less (a backend or client that reads slowly). */
static inline size_t conn_room(struct conn_model *m, size_t log_len)
{
    size_t room = m->cfg->buffer_size;
    if ((m->chunk_mode & 4) && conn_rand(m) % 4 == 0) {
        room = 1 + conn_rand(m) % room;
        m->room_cut = true;
    }
    if (room > CONN_LOG_MAX - log_len)
        room = CONN_LOG_MAX - log_len;
    return room;
}

static inline void conn_to_client(struct conn_model *m, const void *p, size_t n)
{
    REQUIRE(n <= CONN_LOG_MAX - m->to_client_len);
    memcpy(m->to_client + m->to_client_len, p, n);
    m->to_client_len += n;
}

static inline void conn_drop_client_input(struct conn_model *m, size_t n)
{
    REQUIRE(n <= m->client_len);
    memmove(m->client_in, m->client_in + n, m->client_len - n);
    m->client_len -= n;
}

static inline void conn_new_backend(struct conn_model *m)
{
    /* gh_conn_replace_backend: the old connection's unread bytes go with it */
    gh_http_backend_replaced(&m->hp);
    if (m->piece < m->pieces && m->backend.fed > m->piece_start[m->piece]) {
        m->piece++;                  /* the rest of its answer went with it */
        m->piece_early = false;
        if (m->piece < m->pieces)
            m->backend.fed = m->piece_start[m->piece];
    }
    m->backend_len = 0;
    m->backend_done = false;
    if (m->segments < CONN_SEGMENTS_MAX)
        m->segment_start[m->segments++] = m->to_backend_len;
    else
        m->closed = true;            /* enough: the run ends here */
}

static inline void conn_note_reply(struct conn_model *m)
{
    if (m->hp.reply_queued && !m->reply_seen) {
        m->reply_seen = true;
        m->to_backend_at_reply = m->to_backend_len;
        m->to_client_at_reply = m->to_client_len;
    }
}

/* http_feed_client (mode_http.c): the client's input through the request
 * framer. */
static inline bool conn_frame_client(struct conn_model *m)
{
    bool moved = false;
    if (m->client_len > 0) {
        struct gh_http_io io;
        size_t before = m->to_backend_len;
        io.in = m->client_in;
        io.in_len = m->client_len;
        io.out = m->to_backend + m->to_backend_len;
        io.out_room = conn_room(m, m->to_backend_len);
        io.now = 1000.0 + (double)m->rounds * 0.001;
        size_t room = io.out_room;
        enum gh_http_action a = gh_http_from_client(&m->hp, &io, 1);
        REQUIRE(io.consumed <= m->client_len && io.produced <= room);
        m->to_backend_len += io.produced;
        conn_drop_client_input(m, io.consumed);
        moved = io.consumed || io.produced;
        if (m->hp.queue_len > 0) {
            const struct gh_http_pending *newest =
                &m->hp.queue[(m->hp.queue_head + m->hp.queue_len - 1) % GH_HTTP_PIPELINE_MAX];
            if (newest->request_id != m->last_request_id) {
                m->last_request_id = newest->request_id;
                m->forwarded++;
            }
        }
        if (m->reply_seen)           /* nothing reaches the backend after a refusal */
            REQUIRE(m->to_backend_len == before);
        if (a == GH_HTTP_CLOSE)
            m->closing = true;
        conn_note_reply(m);
    }
    if (m->hp.interim != GH_HTTP_INTERIM_NONE) {
        const char *p;
        size_t n;
        if (gh_http_take_interim(&m->hp, conn_room(m, m->to_client_len), &p, &n)) {
            conn_to_client(m, p, n);
            moved = true;
        }
    }
    if (m->hp.reply_queued)
        m->closing = true;
    return moved;
}

/* http_feed_backend (mode_http.c): the backend's input through the response framer,
 * its end, and gatehouse's reply. */
static inline bool conn_frame_backend(struct conn_model *m)
{
    bool moved = false;
    enum gh_http_action a = GH_HTTP_CONTINUE;
    if (m->backend_len > 0) {
        struct gh_http_io io;
        io.in = m->backend_in;
        io.in_len = m->backend_len;
        io.out = m->to_client + m->to_client_len;
        io.out_room = conn_room(m, m->to_client_len);
        io.now = 1000.0 + (double)m->rounds * 0.001;
        size_t room = io.out_room;
        a = gh_http_from_backend(&m->hp, &io, 1);
        REQUIRE(io.consumed <= m->backend_len && io.produced <= room);
        m->to_client_len += io.produced;
        memmove(m->backend_in, m->backend_in + io.consumed, m->backend_len - io.consumed);
        m->backend_len -= io.consumed;
        moved = io.consumed || io.produced;
        gh_http_delivered(&m->hp, m->to_client_len, io.now, 1); /* the client reads at once */
    }
    size_t kept = gh_http_replay_release(&m->hp);
    if (kept > 0)
        conn_drop_client_input(m, kept);
    if (gh_http_backend_replace_due(&m->hp)) {
        conn_new_backend(m);
        moved = true;
    }
    if (m->backend_done && m->backend_len == 0 && !m->closing) {
        if ((!m->client_done || m->client_len > 0) && gh_http_backend_lost(&m->hp, 1)) {
            conn_new_backend(m);
            moved = true;
        } else {
            a = gh_http_backend_eof(&m->hp, m->client_done ? GH_HTTP_OUTCOME_CLIENT_ABORT
                                                           : GH_HTTP_OUTCOME_BACKEND_FAILED,
                                    1000.0, 1);
        }
    }
    if (a == GH_HTTP_CLOSE)
        m->closing = true;
    conn_note_reply(m);
    const char *reply;
    size_t reply_len;
    if (gh_http_take_reply(&m->hp, &reply, &reply_len)) {
        REQUIRE(m->reply_at == SIZE_MAX); /* one reply per connection */
        m->reply_at = m->to_client_len;
        m->reply_len = reply_len;
        conn_to_client(m, reply, reply_len);
        gh_http_delivered(&m->hp, m->to_client_len, 1000.0, 1);
        m->closing = true;
        moved = true;
    }
    return moved;
}

/* Moves the next chunk of a stream into its input buffer. */
static inline bool conn_feed(struct conn_model *m, struct conn_stream *s, uint8_t *buf,
                             size_t *len)
{
    size_t cap = m->cfg->buffer_size;
    if (s->fed == s->len || *len >= cap)
        return false;
    size_t avail = s->len - s->fed;
    if (avail > cap - *len)
        avail = cap - *len;
    size_t n = conn_chunk(m, avail);
    memcpy(buf + *len, s->data + s->fed, n);
    *len += n;
    s->fed += n;
    return true;
}

/* The backend's next chunk, if it has one to send now. EARLY: it may
 * answer before it was asked. */
static inline bool conn_feed_backend(struct conn_model *m, bool early)
{
    size_t cap = m->cfg->buffer_size;
    if (m->backend_len >= cap || m->backend_done)
        return false;
    while (m->piece < m->pieces && m->backend.fed >= m->piece_end[m->piece]) {
        if (m->piece + 1 < m->pieces && m->forwarded < m->piece + 2 && !early)
            return false;            /* its next answer waits for the next request */
        m->piece++;
        m->piece_early = early && m->forwarded < m->piece + 1;
        if (m->piece < m->pieces)
            m->backend.fed = m->piece_start[m->piece];
    }
    if (m->piece >= m->pieces)
        return false;
    if (m->forwarded < m->piece + 1 && !early && !m->piece_early)
        return false;
    if (m->forwarded < m->piece + 1)
        m->piece_early = true;
    size_t avail = m->piece_end[m->piece] - m->backend.fed;
    if (avail > cap - m->backend_len)
        avail = cap - m->backend_len;
    size_t n = conn_chunk(m, avail);
    memcpy(m->backend_in + m->backend_len, m->backend.data + m->backend.fed, n);
    m->backend_len += n;
    m->backend.fed += n;
    return true;
}

/* Runs the whole conversation. */
static inline void conn_run(struct conn_model *m)
{
    uint64_t limit = 256 + 8 * (uint64_t)(m->client.len + m->backend.len);
    m->segment_start[0] = 0;
    m->segments = 1;
    m->reply_at = SIZE_MAX;
    while (!m->closed && m->rounds++ < limit) {
        uint32_t r = conn_rand(m);
        bool client_may = !m->client_done && !m->closing;
        bool backend_may = !m->backend_done;
        /* Half the rounds the backend may speak first: its next answer
         * once that is due (with chunk_mode bit 3, now and then before). */
        bool backend_turn = (r & 0x100) != 0;
        bool moved = false;
        m->room_cut = false;
        if (backend_turn && backend_may)
            moved = conn_feed_backend(m, (m->chunk_mode & 8) && r % 64 == 0);
        if (!moved && client_may)
            moved = conn_feed(m, &m->client, m->client_in, &m->client_len);
        moved |= conn_frame_client(m);
        moved |= conn_frame_backend(m);
        if (m->closing && !gh_http_owes_client(&m->hp) &&
            (m->backend_len == 0 || m->hp.resp_phase == GH_HTTP_STOPPED))
            break;
        if (moved || m->room_cut)
            continue;                /* (a slow reader is no end) */
        /* Nothing moved: the other peer's next chunk, or an end. */
        if (backend_may && conn_feed_backend(m, false))
            continue;
        if (backend_may && m->backend_len == 0 &&
            (m->to_backend_len > m->segment_start[m->segments - 1] || m->hp.queue_len > 0)) {
            /* the backend has said all it will (an idle new one stays) */
            m->backend_done = true;
            continue;
        }
        if (!m->client_done && (m->client.fed == m->client.len || m->closing)) {
            m->client_done = true;
            size_t kept = gh_http_replay_drop(&m->hp);
            if (kept > 0)
                conn_drop_client_input(m, kept);
            continue;
        }
        break;                       /* both buffers full and stuck: nothing more happens */
    }
    gh_http_connection_ended(&m->hp, GH_HTTP_OUTCOME_CLIENT_ABORT, 1001.0, 1);
    gh_http_proxy_release(&m->hp);
}

/* FUZZ_PROXY_DUMP=1 in the environment: what each peer received, on
 * stderr (for writing seeds and reading a crash). */
static inline void conn_dump(const struct conn_model *m)
{
    static int dump = -1;
    if (dump < 0)
        dump = getenv("FUZZ_PROXY_DUMP") != NULL;
    if (!dump)
        return;
    fprintf(stderr, "--- to backend (%zu bytes, %u connections, rounds %llu):\n", m->to_backend_len,
            m->segments, (unsigned long long)m->rounds);
    fwrite(m->to_backend, 1, m->to_backend_len, stderr);
    fprintf(stderr, "\n--- to client (%zu bytes, reply at %zd):\n", m->to_client_len,
            m->reply_at == SIZE_MAX ? (ssize_t)-1 : (ssize_t)m->reply_at);
    fwrite(m->to_client, 1, m->to_client_len, stderr);
    fprintf(stderr, "\n---\n");
}

/* ---- listener configs ------------------------------------------------------ */

static inline const struct gh_listener_config *conn_config(const char *ini)
{
    static struct gh_config *cfg;
    static struct gh_config_errors *errs;
    if (!cfg) {
        cfg = calloc(1, sizeof *cfg);
        errs = calloc(1, sizeof *errs);
        REQUIRE(cfg && errs);
        gh_log_set_level(GH_LOG_ERROR); /* warnings about the fuzzed peers are expected */
    }
    memset(errs, 0, sizeof *errs);
    if (gh_config_load_buffer("fuzz.ini", ini, strlen(ini), cfg, errs) != 0) {
        gh_config_errors_print(errs, stderr);
        REQUIRE(!"a fuzz config variant does not load");
    }
    REQUIRE(cfg->n_listeners == 1);
    struct gh_listener_config *l = malloc(sizeof *l);
    REQUIRE(l != NULL);
    *l = cfg->listeners[0];
    REQUIRE(l->buffer_size <= CONN_BUF_MAX);
    return l;
}

#endif
