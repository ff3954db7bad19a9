/* audit.c - the audit log service: the loop-side buffer, the writer thread
 * and the file; see audit.h and config/audit-log.md.
 *
 * The loop appends entry bodies ("ts":...,"event":... without braces, one
 * per line) to A.in. Handing over swaps A.in and A.out under A.mu; the
 * writer thread owns A.out while A.out_len > 0, so the loop never waits for
 * the disk. The writer gives each body its seq, prev (first entry of a file)
 * and chain, collects the lines in wbuf and writes them. struct audit says
 * which thread owns each field. */
#include "gatehouse/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/audit_chain.h"
#include "gatehouse/log.h"
#include "gatehouse/path.h"
#include "version.h"

#define WRITE_CHUNK (64u << 10)     /* chained bytes collected before a write(2) */
#define LINE_OVERHEAD 256           /* {"v":1,"seq":N, + prev, chain_alg, chain, "}\n */
#define WBUF_CAP (WRITE_CHUNK + GH_AUDIT_ENTRY_MAX + 2 * LINE_OVERHEAD)
/* a partial line, the last whole entry and the one before it (its chain
 * is the last entry's PREV) */
#define TAIL_SCAN ((size_t)3 * (GH_AUDIT_ENTRY_MAX + LINE_OVERHEAD))
#define RETRY_INTERVAL 0.1          /* seconds between attempts on a failing disk */
#define STDOUT_ATOMIC 4096          /* PIPE_BUF: stdout writes up to this stay whole */
#define LINE_PREFIX "{\"v\":1,\"seq\":"
#define GAP_LOST "\"event\":\"gap\",\"lost\":" /* a gap entry's count follows */
#define GAP_BODY_MAX 256            /* a gap entry's body (append_own's buffer) */
#define SEGMENT_PREV ",\"prev\":\"" /* then 64 hex, then ","chain_alg":"ALG" ending BODY */
#define SEGMENT_ALG "\",\"chain_alg\":\""

/* Why a restarting writer did not continue the chain of the file's last
 * line and began a new segment: its start entry's new_segment field
 * (config/audit-log.md). */
enum gh_audit_restart_reason {
    RESTART_NONE,                  /* continued the chain (or the file was empty) */
    RESTART_LAST_LINE_UNVERIFIED,  /* its chain does not match: forged, changed, other key */
    RESTART_LAST_LINE_NOT_ENTRY,   /* not a gatehouse entry (other text, too long) */
    RESTART_CHAIN_ALG_CHANGED,     /* its segment used the other chain_alg: key added/removed */
};

static const char *const restart_reason_names[] = {
    [RESTART_NONE] = "none",
    [RESTART_LAST_LINE_UNVERIFIED] = "last_line_unverified",
    [RESTART_LAST_LINE_NOT_ENTRY] = "last_line_not_an_entry",
    [RESTART_CHAIN_ALG_CHANGED] = "chain_alg_changed",
};

/* Who touches what: "loop" fields only the event loop's thread, "writer"
 * fields only the writer thread (and gh_audit_open before it starts),
 * "shared" fields only under mu. Sorted by size within each group. */
struct audit {
    /* settings, fixed at open */
    double fsync_interval, flush_interval;
    long pid;
    const char *config_path;
    uint32_t cap, max_field;
    enum gh_audit_fsync fsync_policy;
    bool on;
    bool to_stdout;
    enum gh_audit_restart_reason restart_reason; /* set by continue_from_file */
    char path[GH_PATH_MAX];         /* this worker's file, %w replaced */
    char config_sha256[GH_AUDIT_CHAIN_HEX + 1];

    /* loop */
    char *in;
    size_t in_len;
    uint64_t lost;                  /* entries dropped since the last one that fitted */
    size_t gap_len;                 /* a gap entry (with its newline) written ahead of the
                                     * entry being built: kept only if that entry fits */
    struct ev_loop *loop;
    ev_timer flush_timer;

    /* shared */
    pthread_mutex_t mu;
    pthread_cond_t wake;            /* the writer waits on it */
    pthread_cond_t idle;            /* gh_audit_close waits on it */
    pthread_t thread;
    char *out;
    size_t out_len;                 /* > 0: the writer owns out */
    double stop_deadline;           /* monotonic; the writer gives up after it */
    bool reopen_req, stop_req;
    bool writer_done;               /* the writer thread has returned */

    /* writer */
    bool segment_start;             /* the next entry carries prev */
    bool failing;                   /* a write failed; logged once until one works */
    bool dirty;                     /* written since the last fsync */
    int fd;
    struct gh_audit_chain chain;
    uint64_t seq;
    uint64_t written_seq;
    uint64_t writer_lost;           /* entries the writer had to drop */
    char *wbuf;                     /* WBUF_CAP bytes of chained lines */
    size_t wlen, woff;              /* woff: already written */
    double last_fsync;
    char written_chain[GH_AUDIT_CHAIN_HEX + 1]; /* last entry wholly in the file */
};

static struct audit A = {.fd = -1};

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void abs_deadline(double seconds_from_now, struct timespec *out)
{
    clock_gettime(CLOCK_MONOTONIC, out);
    long long ns = (long long)out->tv_nsec + (long long)(seconds_from_now * 1e9);
    out->tv_sec += (time_t)(ns / 1000000000LL);
    out->tv_nsec = (long)(ns % 1000000000LL);
}

/* audit_file with %w replaced by the worker's index. */
static int expand_path(const char *pattern, int worker_index, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = pattern; *p; p++) {
        int w;
        if (p[0] == '%' && p[1] == 'w') {
            w = snprintf(out + o, n - o, "%d", worker_index);
            p++;
        } else {
            w = snprintf(out + o, n - o, "%c", *p);
        }
        if (w < 0 || (size_t)w >= n - o)
            return -1;
        o += (size_t)w;
    }
    if (o == 0 && n > 0)
        out[0] = '\0';
    return 0;
}

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int gh_audit_check(const struct gh_config *cfg, struct gh_config_errors *errs)
{
    const struct gh_global_config *g = &cfg->global;
    char why[GH_ERROR_TEXT_MAX];
    uint8_t key[GH_AUDIT_KEY_MAX];
    size_t key_len;
    int rc = 0;

    if (!g->audit_file[0])
        return 0;
    if (g->audit_key_file[0]) {
        struct stat st;
        if (gh_audit_key_load(g->audit_key_file, key, &key_len, why, sizeof why) < 0) {
            gh_config_key_error(errs, &g->key_lines, "audit_key_file", "%s", why);
            rc = -1;
        } else if (stat(g->audit_key_file, &st) == 0 && (st.st_mode & 077)) {
            gh_log(GH_LOG_WARN, "audit_key_readable",
                   " file=%s mode=%04o hint=\"chmod 600: whoever reads the key can forge the chain\"",
                   g->audit_key_file, (unsigned)(st.st_mode & 07777));
        }
        memset(key, 0, sizeof key);
    }
    if (strcmp(g->audit_file, "-") == 0)
        return rc;
    for (int i = 0; i < g->workers; i++) {
        char path[GH_PATH_MAX];
        int fd;
        if (expand_path(g->audit_file, i, path, sizeof path) < 0) {
            gh_config_key_error(errs, &g->key_lines, "audit_file", "path too long");
            return -1;
        }
        /* A check must leave no trace (-t and a refused reload create
         * nothing): an existing file is opened for append without O_CREAT,
         * a missing one only needs a directory we may create it in. */
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT) {
            char dir[GH_PATH_MAX];
            if (!gh_path_creatable(path, dir, sizeof dir)) {
                gh_config_key_error(errs, &g->key_lines, "audit_file",
                                    "cannot open %s: cannot create it in %s: %s", path, dir,
                                    strerror(errno));
                return -1;
            }
        } else if (fd < 0) {
            gh_config_key_error(errs, &g->key_lines, "audit_file", "cannot open %s: %s", path,
                                strerror(errno));
            return -1;
        } else {
            close(fd);
        }
        if (!strstr(g->audit_file, "%w"))
            break;
    }
    return rc;
}

/* ---- writer side ----------------------------------------------------- */

/* Reads the seq and chain of a complete line we wrote; false if it is not
 * one of ours. */
static bool parse_our_line(const char *line, size_t len, uint64_t *seq, char *chain)
{
    size_t plen = sizeof LINE_PREFIX - 1;
    size_t tail = sizeof GH_AUDIT_CHAIN_FIELD - 1 + GH_AUDIT_CHAIN_HEX + 2; /* ,"chain":"HEX"} */
    uint64_t v = 0;
    size_t i;

    if (len < plen + tail || memcmp(line, LINE_PREFIX, plen) != 0)
        return false;
    for (i = plen; i < len && line[i] >= '0' && line[i] <= '9' && i < plen + 19; i++)
        v = v * 10 + (uint64_t)(line[i] - '0');
    if (i == plen || line[i] != ',')
        return false;
    if (memcmp(line + len - tail, GH_AUDIT_CHAIN_FIELD, sizeof GH_AUDIT_CHAIN_FIELD - 1) != 0 ||
        memcmp(line + len - 2, "\"}", 2) != 0 ||
        !gh_audit_chain_is_hex(line + len - 2 - GH_AUDIT_CHAIN_HEX, GH_AUDIT_CHAIN_HEX))
        return false;
    *seq = v;
    memcpy(chain, line + len - 2 - GH_AUDIT_CHAIN_HEX, GH_AUDIT_CHAIN_HEX);
    chain[GH_AUDIT_CHAIN_HEX] = '\0';
    return true;
}

/* The PREV a segment start names at the end of its BODY
 * (...,"prev":"HEX","chain_alg":"ALG"), or NULL for any other entry. A
 * client string cannot fake it: its quotes are escaped. *keyed gets ALG. */
static const char *segment_prev(const char *body, size_t len, bool *keyed)
{
    static const char *const algs[] = {"hmac-sha256\"", "sha256\""};
    size_t head = sizeof SEGMENT_PREV - 1, mid = sizeof SEGMENT_ALG - 1;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        size_t alen = strlen(algs[i]);
        size_t need = head + GH_AUDIT_CHAIN_HEX + mid + alen;
        if (len < need)
            continue;
        const char *p = body + len - need;
        if (memcmp(p, SEGMENT_PREV, head) == 0 &&
            gh_audit_chain_is_hex(p + head, GH_AUDIT_CHAIN_HEX) &&
            memcmp(p + head + GH_AUDIT_CHAIN_HEX, SEGMENT_ALG, mid) == 0 &&
            memcmp(p + head + GH_AUDIT_CHAIN_HEX + mid, algs[i], alen) == 0) {
            *keyed = i == 0;
            return p + head;
        }
    }
    return NULL;
}

/* Checks the whole line tail[start, end) (the file's last entry) before
 * the chain goes on from it: its chain must be the HMAC (SHA-256 without a
 * key) of its BODY after its PREV, which is the prev it names (a segment
 * start) or the chain of the line before it. The tail is the end of the
 * file, or all of it (tail_is_whole_file: its first line is whole). On
 * success sets A.seq and A.chain.prev from it. */
static enum gh_audit_restart_reason check_last_line(const char *tail, size_t start, size_t end,
                                                    bool tail_is_whole_file)
{
    char prev_line_chain[GH_AUDIT_CHAIN_HEX + 1];
    char last_chain[GH_AUDIT_CHAIN_HEX + 1];
    char computed[GH_AUDIT_CHAIN_HEX + 1];
    uint64_t seq, prev_line_seq;
    const char *prev;
    bool keyed = false;
    size_t body_len, tail_len = sizeof GH_AUDIT_CHAIN_FIELD - 1 + GH_AUDIT_CHAIN_HEX + 2;

    if (!parse_our_line(tail + start, end - start, &seq, last_chain))
        return RESTART_LAST_LINE_NOT_ENTRY;
    body_len = end - start - tail_len;
    prev = segment_prev(tail + start, body_len, &keyed);
    if (prev) {
        if (keyed != (A.chain.key_len > 0))
            return RESTART_CHAIN_ALG_CHANGED;
    } else {
        /* the line before it, wholly inside the scanned tail */
        size_t pend, pstart;
        if (start == 0)
            return RESTART_LAST_LINE_UNVERIFIED;
        pend = start - 1;
        pstart = pend;
        while (pstart > 0 && tail[pstart - 1] != '\n')
            pstart--;
        /* at tail[0] the line may be cut, unless the tail is the file */
        if ((pstart == 0 && !tail_is_whole_file) ||
            !parse_our_line(tail + pstart, pend - pstart, &prev_line_seq, prev_line_chain))
            return RESTART_LAST_LINE_UNVERIFIED;
        prev = prev_line_chain;
    }
    gh_audit_chain_set_prev(&A.chain, prev);
    if (gh_audit_chain_compute(&A.chain, (const uint8_t *)tail + start, body_len, computed) != 0 ||
        memcmp(computed, last_chain, GH_AUDIT_CHAIN_HEX) != 0) {
        gh_audit_chain_set_prev(&A.chain, GH_AUDIT_GENESIS);
        return RESTART_LAST_LINE_UNVERIFIED;
    }
    A.seq = seq;
    gh_audit_chain_set_prev(&A.chain, last_chain);
    return RESTART_NONE;
}

/* Continues the chain of the last entry already in PATH, so a restart
 * appends to one unbroken chain, but only after that entry verified
 * (check_last_line): a forger's line at the end must not become part of
 * the chain the key vouches for. An entry that does not verify leaves
 * A.restart_reason set, the chain at genesis and seq at 0: the start entry
 * then begins a new keyed segment and says why (new_segment). A partial last
 * line (the previous writer died mid-write) is ended with a newline first
 * and the whole line before it is the one checked. Returns 1 when PATH is
 * no longer the file A.fd appends to (rotated between the two opens): the
 * caller opens it again, so the start goes where its chain was read. */
static int continue_from_file(const char *path)
{
    struct stat st, wst;
    char *tail = NULL;
    ssize_t got;
    size_t n, end, start;
    int fd, rc = -1;

    A.restart_reason = RESTART_NONE;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || fstat(A.fd, &wst) < 0)
        goto out;
    if (st.st_dev != wst.st_dev || st.st_ino != wst.st_ino) {
        rc = 1;
        goto out;
    }
    rc = 0;
    if (st.st_size == 0)
        goto out;
    n = (size_t)st.st_size < TAIL_SCAN ? (size_t)st.st_size : TAIL_SCAN;
    tail = malloc(n);
    if (!tail) {
        rc = -1;
        goto out;
    }
    got = pread(fd, tail, n, st.st_size - (off_t)n);
    if (got != (ssize_t)n) {
        rc = -1;
        goto out;
    }
    if (tail[n - 1] != '\n') {
        A.wbuf[A.wlen++] = '\n';
        gh_log(GH_LOG_WARN, "audit_partial_line",
               " file=%s hint=\"the last writer stopped mid-entry; the verifier reports it\"", path);
    }
    end = n;
    while (end > 0 && tail[end - 1] != '\n')
        end--;
    if (end == 0) {
        A.restart_reason = RESTART_LAST_LINE_NOT_ENTRY;
        goto refused;
    }
    end--; /* the newline ending the last complete line */
    start = end;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    if (start == 0 && (size_t)st.st_size > n) {
        A.restart_reason = RESTART_LAST_LINE_NOT_ENTRY; /* longer than any entry we write */
        goto refused;
    }
    A.restart_reason = check_last_line(tail, start, end, n == (size_t)st.st_size);
    if (A.restart_reason == RESTART_NONE) {
        A.written_seq = A.seq;
        memcpy(A.written_chain, A.chain.prev, sizeof A.written_chain);
        goto out;
    }
refused:
    gh_log(GH_LOG_WARN, "audit_new_segment",
           " file=%s reason=%s hint=\"the file's last line does not verify: not continuing its "
           "chain; the start entry begins a new one\"",
           path, restart_reason_names[A.restart_reason]);
out:
    free(tail);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Remembers the seq and chain of the last whole line in wbuf[from, to). */
static void note_written(size_t from, size_t to)
{
    size_t end = to, start;
    while (end > from && A.wbuf[end - 1] != '\n')
        end--;
    if (end == from)
        return;
    end--;
    start = end;
    while (start > 0 && A.wbuf[start - 1] != '\n')
        start--;
    if (parse_our_line(A.wbuf + start, end - start, &A.written_seq, A.written_chain))
        return;
}

/* How many entries are lost with the line wbuf[from, to): one, or for a
 * gap entry the count it carried (the gap entry itself is not an event). */
static uint64_t entries_in_line(size_t from, size_t to)
{
    const char *line = A.wbuf + from;
    size_t len = to - from, klen = sizeof GAP_LOST - 1;
    for (size_t i = 0; i + klen <= len && i < LINE_OVERHEAD + GH_AUDIT_TS_LEN; i++) {
        if (line[i] != '"' || memcmp(line + i, GAP_LOST, klen) != 0)
            continue;
        uint64_t lost = 0;
        for (size_t j = i + klen; j < len && line[j] >= '0' && line[j] <= '9' && j < i + klen + 19;
             j++)
            lost = lost * 10 + (uint64_t)(line[j] - '0');
        return lost;
    }
    return 1;
}

/* Entries in wbuf that never made it whole into the file are lost: the
 * chain goes back to the last entry that did, and a gap entry says how
 * many are missing. */
static void discard_pending(void)
{
    bool mid_line = A.woff > 0 && A.wbuf[A.woff - 1] != '\n';
    size_t line_start = A.woff;
    /* a line cut by a failed write started before woff */
    while (line_start > 0 && A.wbuf[line_start - 1] != '\n')
        line_start--;
    for (size_t i = A.woff; i < A.wlen; i++) {
        if (A.wbuf[i] == '\n') {
            A.writer_lost += entries_in_line(line_start, i);
            line_start = i + 1;
        }
    }
    A.wlen = A.woff = 0;
    A.seq = A.written_seq;
    gh_audit_chain_set_prev(&A.chain, A.written_chain);
    if (mid_line) {
        /* The file ends inside an entry: end that line first, and let the
         * next entry say where the chain goes on (the verifier reports the
         * cut line as truncated, not as tampering). */
        A.wbuf[A.wlen++] = '\n';
        A.segment_start = true;
    }
}

static void sync_file(void)
{
    if (A.to_stdout) { /* nothing to sync: never wake up for it */
        A.dirty = false;
        A.last_fsync = monotonic_now();
        return;
    }
    if (!A.dirty)
        return;
    if (fdatasync(A.fd) < 0 && errno != EINVAL)
        gh_log(GH_LOG_WARN, "audit_fsync_failed", " file=%s error=%s", A.path, strerror(errno));
    A.dirty = false;
    A.last_fsync = monotonic_now();
}

/* Sleeps RETRY_INTERVAL unless woken. False when the writer must stop
 * retrying: a reopen is asked for, or the stop deadline passed. */
static bool wait_to_retry(void)
{
    struct timespec until;
    bool go_on;
    abs_deadline(RETRY_INTERVAL, &until);
    pthread_mutex_lock(&A.mu);
    if (!A.reopen_req && !(A.stop_req && monotonic_now() > A.stop_deadline))
        pthread_cond_timedwait(&A.wake, &A.mu, &until);
    go_on = !A.reopen_req && !(A.stop_req && monotonic_now() > A.stop_deadline);
    pthread_mutex_unlock(&A.mu);
    return go_on;
}

/* Writes wbuf[woff, wlen). Bytes that do not fit (disk full, file size
 * limit) stay and are retried, so a line is never split by a failure:
 * when space returns, its rest follows. */
static bool write_pending(void)
{
    while (A.woff < A.wlen) {
        size_t n = A.wlen - A.woff;
        ssize_t w;
        if (A.to_stdout && n > STDOUT_ATOMIC) {
            /* several workers may share the pipe: keep lines whole */
            size_t cut = STDOUT_ATOMIC;
            while (cut > 0 && A.wbuf[A.woff + cut - 1] != '\n')
                cut--;
            if (cut > 0)
                n = cut;
            else
                n = (size_t)((char *)memchr(A.wbuf + A.woff, '\n', n) - (A.wbuf + A.woff)) + 1;
        }
        w = write(A.fd, A.wbuf + A.woff, n);
        if (w > 0) {
            note_written(A.woff, A.woff + (size_t)w);
            A.woff += (size_t)w;
            A.dirty = true;
            if (A.failing)
                gh_log(GH_LOG_INFO, "audit_write_resumed", " file=%s", A.path);
            A.failing = false;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (!A.failing)
            gh_log(GH_LOG_ERROR, "audit_write_failed", " file=%s error=%s", A.path,
                   w < 0 ? strerror(errno) : "wrote nothing");
        A.failing = true;
        if (!wait_to_retry())
            return false;
    }
    A.wlen = A.woff = 0;
    if (A.fsync_policy == GH_AUDIT_FSYNC_ALWAYS ||
        (A.fsync_policy == GH_AUDIT_FSYNC_INTERVAL &&
         monotonic_now() - A.last_fsync >= A.fsync_interval))
        sync_file();
    return true;
}

static void reopen_file(void);

/* After write_pending gave up: reopen if that is why, else drop. */
static void write_failed(void)
{
    bool reopen;
    pthread_mutex_lock(&A.mu);
    reopen = A.reopen_req;
    A.reopen_req = false;
    pthread_mutex_unlock(&A.mu);
    if (reopen && !A.to_stdout)
        reopen_file();
    else
        discard_pending();
}

/* Appends one chained line for BODY to wbuf. */
static void append_line(const char *body, size_t len)
{
    char hex[GH_AUDIT_CHAIN_HEX + 1];
    char *d;
    size_t m;

    if (A.wlen + len + LINE_OVERHEAD > WBUF_CAP && !write_pending())
        write_failed();
    if (A.wlen + len + LINE_OVERHEAD > WBUF_CAP) { /* still no room: lost, and counted */
        A.writer_lost++;
        return;
    }
    d = A.wbuf + A.wlen;
    m = (size_t)snprintf(d, LINE_OVERHEAD, LINE_PREFIX "%" PRIu64 ",", A.seq + 1);
    memcpy(d + m, body, len);
    m += len;
    if (A.segment_start)
        m += (size_t)snprintf(d + m, LINE_OVERHEAD, ",\"prev\":\"%s\",\"chain_alg\":\"%s\"",
                              A.chain.prev, A.chain.key_len ? "hmac-sha256" : "sha256");
    if (gh_audit_chain_next(&A.chain, (const uint8_t *)d, m, hex) < 0) {
        gh_log(GH_LOG_ERROR, "audit_chain_failed", " reason=wolfcrypt");
        A.writer_lost++;
        return;
    }
    A.seq++;
    A.segment_start = false;
    memcpy(d + m, GH_AUDIT_CHAIN_FIELD, sizeof GH_AUDIT_CHAIN_FIELD - 1);
    m += sizeof GH_AUDIT_CHAIN_FIELD - 1;
    memcpy(d + m, hex, GH_AUDIT_CHAIN_HEX);
    m += GH_AUDIT_CHAIN_HEX;
    memcpy(d + m, "\"}\n", 3);
    A.wlen += m + 3;
}

/* An entry the writer makes itself (reopen, gap). */
static void append_own(const char *event, uint64_t lost)
{
    char body[GAP_BODY_MAX];
    struct gh_audit_entry e;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    gh_audit_entry_start(&e, body, sizeof body, 0, &ts, A.pid, event);
    if (lost)
        gh_audit_uint(&e, "lost", lost);
    append_line(body, gh_audit_entry_len(&e));
}

/* Bytes wbuf must have free for BODY, and for the gap entry that goes
 * before it when entries were lost. */
static size_t room_needed(size_t len, bool with_gap)
{
    return len + LINE_OVERHEAD + (with_gap ? GAP_BODY_MAX + LINE_OVERHEAD : 0);
}

/* Appends BODY, preceded by a gap entry for what the writer lost. The gap
 * goes out only together with the entry after it: a gap that took the
 * room its entry needed would be one more entry lost, and then another
 * gap, a run of "lost":1. */
static void append_entry(const char *body, size_t len)
{
    bool with_gap = A.writer_lost > 0 && !A.segment_start;
    if (A.wlen + room_needed(len, with_gap) > WBUF_CAP && !write_pending())
        write_failed();
    with_gap = A.writer_lost > 0 && !A.segment_start; /* write_failed may have lost more */
    if (A.wlen + room_needed(len, with_gap) > WBUF_CAP) {
        A.writer_lost++; /* still no room: lost, and counted */
        return;
    }
    if (with_gap) {
        uint64_t lost = A.writer_lost;
        A.writer_lost = 0;
        append_own("gap", lost);
    }
    append_line(body, len);
}

static void reopen_file(void)
{
    int fd;
    if (A.to_stdout)
        return;
    fd = open_append(A.path);
    if (fd < 0) {
        gh_log(GH_LOG_ERROR, "audit_reopen_failed",
               " file=%s error=%s hint=\"still writing to the old file\"", A.path, strerror(errno));
        return;
    }
    if (A.wlen > A.woff)
        discard_pending();
    /* no newline for the old file's cut line: it ends there, and the
     * verifier reports it as truncated before the new file's reopen */
    A.wlen = A.woff = 0;
    sync_file();
    close(A.fd);
    A.fd = fd;
    A.failing = false;
    A.segment_start = true;
    append_own("reopen", 0);
    gh_log(GH_LOG_INFO, "audit_reopened", " file=%s", A.path);
}

static void process_batch(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* cannot happen: the loop side ends every entry */
        append_entry(p, (size_t)(nl - p));
        p = nl + 1;
    }
    if (!write_pending())
        write_failed();
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&A.mu);
    for (;;) {
        while (A.out_len == 0 && !A.reopen_req && !A.stop_req) {
            if (A.dirty && A.fsync_policy == GH_AUDIT_FSYNC_INTERVAL) {
                struct timespec until;
                double left = A.last_fsync + A.fsync_interval - monotonic_now();
                abs_deadline(left > 0 ? left : 0, &until);
                if (pthread_cond_timedwait(&A.wake, &A.mu, &until) == ETIMEDOUT) {
                    pthread_mutex_unlock(&A.mu);
                    sync_file();
                    pthread_mutex_lock(&A.mu);
                }
            } else {
                pthread_cond_wait(&A.wake, &A.mu);
            }
        }
        if (A.out_len == 0 && !A.reopen_req)
            break; /* stop, and nothing left */
        bool reopen = A.reopen_req;
        size_t len = A.out_len;
        A.reopen_req = false;
        pthread_mutex_unlock(&A.mu);
        if (reopen) {
            reopen_file();
            if (!len && !write_pending()) /* the reopen entry now, not with the next batch */
                write_failed();
        }
        if (len)
            process_batch(A.out, len);
        pthread_mutex_lock(&A.mu);
        if (len)
            A.out_len = 0;
        pthread_cond_broadcast(&A.idle);
    }
    pthread_mutex_unlock(&A.mu);
    if (A.wlen > A.woff && !write_pending())
        discard_pending();
    if (A.fsync_policy != GH_AUDIT_FSYNC_NEVER)
        sync_file();
    if (A.writer_lost)
        gh_log(GH_LOG_ERROR, "audit_lost", " entries=%llu file=%s reason=\"could not be written before stop\"",
               (unsigned long long)A.writer_lost, A.path);
    pthread_mutex_lock(&A.mu);
    A.writer_done = true;
    pthread_cond_broadcast(&A.idle);
    pthread_mutex_unlock(&A.mu);
    return NULL;
}

/* ---- loop side ------------------------------------------------------- */

/* With A.mu held and the writer idle (out empty): the filled buffer
 * becomes the writer's, the empty one the loop's, and the writer wakes. */
static void swap_buffers_locked(void)
{
    char *t = A.out;
    A.out = A.in;
    A.out_len = A.in_len;
    A.in = t;
    A.in_len = 0;
    pthread_cond_signal(&A.wake);
}

static void hand_off(void)
{
    if (A.in_len == 0)
        return;
    pthread_mutex_lock(&A.mu);
    if (A.out_len == 0)
        swap_buffers_locked();
    pthread_mutex_unlock(&A.mu);
}

static void on_flush_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    hand_off();
    if (A.in_len > 0) { /* the writer is still busy with the last batch */
        ev_timer_set(t, A.flush_interval, 0.);
        ev_timer_start(loop, t);
    }
}

bool gh_audit_on(void) { return A.on; }

/* Starts an entry at A.in + at (at >= in_len: after a gap kept ahead). */
static void start_entry(struct gh_audit_entry *e, size_t at, const struct timespec *ts,
                        const char *event)
{
    size_t room = at < A.cap ? A.cap - at : 0;
    /* one byte stays for the newline that ends the entry */
    gh_audit_entry_start(e, A.in + at, room > 0 ? room - 1 : 0, A.max_field, ts, A.pid, event);
}

/* Commits the entry built after the gap kept ahead of it (if any): both
 * go in, or, when the entry did not fit, neither, and the entry is one
 * more lost. */
static void finish_entry(struct gh_audit_entry *e)
{
    size_t n = gh_audit_entry_len(e);
    size_t gap_len = A.gap_len;
    A.gap_len = 0;
    if (n == 0) {
        A.lost++;
        return;
    }
    if (gap_len > 0) {
        A.in_len += gap_len;
        A.lost = 0;
    }
    A.in[A.in_len + n] = '\n';
    A.in_len += n + 1;
    if (A.loop && !ev_is_active(&A.flush_timer)) {
        ev_timer_set(&A.flush_timer, A.flush_interval, 0.);
        ev_timer_start(A.loop, &A.flush_timer);
    }
}

void gh_audit_begin(struct gh_audit_entry *e, const char *event)
{
    struct timespec ts;

    e->active = false;
    e->overflow = false;
    e->start = e->p = e->end = NULL;
    if (!A.on)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    A.gap_len = 0;
    if (A.lost > 0) {
        /* the gap entry is written ahead, not committed: it goes in with
         * this entry in finish_entry, or not at all */
        struct gh_audit_entry gap;
        size_t n;
        start_entry(&gap, A.in_len, &ts, "gap");
        gh_audit_uint(&gap, "lost", A.lost);
        n = gh_audit_entry_len(&gap);
        if (n == 0) {
            A.lost++; /* still full: this entry is lost too */
            return;
        }
        A.in[A.in_len + n] = '\n';
        A.gap_len = n + 1;
    }
    start_entry(e, A.in_len + A.gap_len, &ts, event);
}

void gh_audit_commit(struct gh_audit_entry *e)
{
    /* inactive: the log is off, or begin found no room and counted it */
    if (A.on && e->active)
        finish_entry(e);
}

void gh_audit_before_sleep(void)
{
    if (A.in_len >= A.cap / 2)
        hand_off();
}

void gh_audit_reopen(void)
{
    if (!A.on)
        return;
    pthread_mutex_lock(&A.mu);
    A.reopen_req = true;
    pthread_cond_signal(&A.wake);
    pthread_mutex_unlock(&A.mu);
}

static void lifecycle_fields(struct gh_audit_entry *e)
{
    gh_audit_str(e, "version", GH_VERSION);
    gh_audit_str(e, "config", A.config_path);
    gh_audit_str(e, "config_sha256", A.config_sha256);
}

void gh_audit_reload(const char *config_path, bool ok, size_t errors)
{
    struct gh_audit_entry e;
    char digest[GH_AUDIT_CHAIN_HEX + 1];
    if (!A.on)
        return;
    /* stop entries name the configuration that is running */
    if (gh_audit_file_sha256(config_path, digest) < 0)
        snprintf(digest, sizeof digest, "unreadable");
    if (ok)
        memcpy(A.config_sha256, digest, sizeof digest);
    gh_audit_begin(&e, "reload");
    gh_audit_str(&e, "version", GH_VERSION);
    gh_audit_str(&e, "config", config_path);
    gh_audit_str(&e, "config_sha256", digest);
    gh_audit_str(&e, "result", ok ? "ok" : "refused");
    gh_audit_uint(&e, "errors", errors);
    gh_audit_commit(&e);
}

int gh_audit_open(const struct gh_config *cfg, int worker_index, struct ev_loop *loop)
{
    const struct gh_global_config *g = &cfg->global;
    uint8_t key[GH_AUDIT_KEY_MAX];
    size_t key_len = 0;
    char why[GH_ERROR_TEXT_MAX];
    sigset_t all, old;
    struct gh_audit_entry e;
    int rc;

    if (!g->audit_file[0])
        return 0;
    A.to_stdout = strcmp(g->audit_file, "-") == 0;
    if (!A.to_stdout && expand_path(g->audit_file, worker_index, A.path, sizeof A.path) < 0) {
        gh_log(GH_LOG_ERROR, "audit_open_failed", " reason=path_too_long");
        return -1;
    }
    if (A.to_stdout)
        snprintf(A.path, sizeof A.path, "stdout");
    A.fsync_policy = g->audit_fsync;
    A.fsync_interval = g->audit_fsync_interval;
    A.flush_interval = g->audit_flush_interval;
    A.cap = g->audit_buffer_size;
    A.max_field = g->audit_max_field;
    A.pid = (long)getpid();
    A.config_path = cfg->path;
    if (gh_audit_file_sha256(cfg->path, A.config_sha256) < 0)
        snprintf(A.config_sha256, sizeof A.config_sha256, "unreadable");
    if (g->audit_key_file[0] && gh_audit_key_load(g->audit_key_file, key, &key_len, why, sizeof why) < 0) {
        gh_log(GH_LOG_ERROR, "audit_open_failed", " reason=key error=\"%s\"", why);
        return -1;
    }
    gh_audit_chain_init(&A.chain, key_len ? key : NULL, key_len);
    memset(key, 0, sizeof key);
    memcpy(A.written_chain, A.chain.prev, sizeof A.written_chain);

    A.in = malloc(A.cap);
    A.out = malloc(A.cap);
    A.wbuf = malloc(WBUF_CAP);
    if (!A.in || !A.out || !A.wbuf) {
        gh_log(GH_LOG_ERROR, "audit_open_failed", " reason=out_of_memory");
        goto fail;
    }
    if (A.to_stdout) {
        A.fd = STDOUT_FILENO;
    } else {
        int cont = 1;
        for (int attempt = 0; attempt < 3 && cont == 1; attempt++) {
            if (A.fd >= 0)
                close(A.fd);
            A.fd = open_append(A.path);
            cont = A.fd < 0 ? -1 : continue_from_file(A.path);
        }
        if (cont != 0) {
            gh_log(GH_LOG_ERROR, "audit_open_failed", " file=%s error=%s", A.path,
                   cont == 1 ? "the file was replaced each time it was opened" : strerror(errno));
            goto fail;
        }
    }
    A.segment_start = true;
    A.last_fsync = monotonic_now();
    pthread_mutex_init(&A.mu, NULL);
    {
        /* timed waits run on the monotonic clock: a clock step must not
         * stretch a retry or the stop deadline */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&A.wake, &ca);
        pthread_cond_init(&A.idle, &ca);
        pthread_condattr_destroy(&ca);
    }
    /* Signals belong to the loop's thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&A.thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        gh_log(GH_LOG_ERROR, "audit_open_failed", " reason=thread error=%s", strerror(rc));
        goto fail;
    }
    A.loop = loop;
    ev_timer_init(&A.flush_timer, on_flush_timer, A.flush_interval, 0.);
    A.on = true;

    gh_audit_begin(&e, "start");
    lifecycle_fields(&e);
    gh_audit_uint(&e, "worker", (uint64_t)worker_index);
    gh_audit_uint(&e, "workers", (uint64_t)g->workers);
    if (A.to_stdout)
        /* several workers, and every restart, begin a new chain (prev of
         * 64 zeros) anywhere in a stdout stream; in a file only its first
         * line can (config/audit-log.md): keyed, so nobody without the key
         * can make a file's start look like a stdout one */
        gh_audit_str(&e, "stream", "stdout");
    if (A.restart_reason != RESTART_NONE)
        /* the start of a new segment (prev genesis, seq 1) says why; it is
         * keyed like every other entry, so nobody without the key can make
         * one up */
        gh_audit_str(&e, "new_segment", restart_reason_names[A.restart_reason]);
    gh_audit_commit(&e);
    return 0;
fail:
    if (A.fd >= 0 && !A.to_stdout)
        close(A.fd);
    A.fd = -1;
    free(A.in);
    free(A.out);
    free(A.wbuf);
    A.in = A.out = A.wbuf = NULL;
    return -1;
}

void gh_audit_close(const char *reason, uint64_t open_conns)
{
    struct timespec until;
    bool stop_queued = false;
    uint64_t stranded = 0;

    if (!A.on)
        return;
    if (A.loop)
        ev_timer_stop(A.loop, &A.flush_timer);
    abs_deadline(GH_AUDIT_STOP_WAIT, &until);
    pthread_mutex_lock(&A.mu);
    for (;;) {
        while (A.out_len > 0) {
            if (pthread_cond_timedwait(&A.idle, &A.mu, &until) == ETIMEDOUT)
                break;
        }
        if (A.out_len > 0)
            break; /* the writer is stuck on the disk */
        if (A.in_len > 0) {
            swap_buffers_locked();
            continue;
        }
        if (stop_queued)
            break;
        pthread_mutex_unlock(&A.mu);
        struct gh_audit_entry e;
        gh_audit_begin(&e, "stop");
        lifecycle_fields(&e);
        gh_audit_str(&e, "reason", reason);
        gh_audit_uint(&e, "open", open_conns);
        gh_audit_commit(&e);
        stop_queued = true;
        pthread_mutex_lock(&A.mu);
    }
    A.stop_req = true;
    A.stop_deadline = monotonic_now() + 1.0;
    pthread_cond_signal(&A.wake);
    /* The writer may be stuck inside write(2) or fdatasync (a reader that
     * stopped reading, a hung network file system): wait a bounded time,
     * then leave it and its buffers to the exiting process. */
    abs_deadline(GH_AUDIT_STOP_WAIT + 2.0, &until);
    while (!A.writer_done)
        if (pthread_cond_timedwait(&A.idle, &A.mu, &until) == ETIMEDOUT)
            break;
    bool done = A.writer_done;
    pthread_mutex_unlock(&A.mu);
    if (!done) {
        gh_log(GH_LOG_ERROR, "audit_lost",
               " file=%s reason=\"the writer is stuck in a write; what it holds is lost\"", A.path);
        A.on = false;
        return;
    }
    pthread_join(A.thread, NULL);

    for (size_t i = 0; i < A.in_len; i++)
        stranded += A.in[i] == '\n';
    stranded += A.lost;
    if (stranded)
        gh_log(GH_LOG_ERROR, "audit_lost", " entries=%llu reason=\"the disk did not take them before stop\"",
               (unsigned long long)stranded);
    if (!A.to_stdout && A.fd >= 0)
        close(A.fd);
    A.fd = -1;
    A.on = false;
    free(A.in);
    free(A.out);
    free(A.wbuf);
    A.in = A.out = A.wbuf = NULL;
}
