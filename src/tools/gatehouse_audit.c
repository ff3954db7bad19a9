/* gatehouse_audit.c - the gatehouse-audit command: verifies the hash chain
 * of gatehouse audit logs and shows their last entries (config/audit-log.md).
 *
 *   gatehouse-audit verify [--key KEYFILE] FILE...
 *   gatehouse-audit tail [-n N] FILE
 *
 * verify streams every file line by line (at most GH_AUDIT_LINE_MAX bytes
 * of a line are kept; longer lines are not entries) and keeps one state per
 * writer pid: the chain value and seq of its last entry. Findings go to
 * stdout as "FILE:LINE: ..." (line numbers 1-based per file), errors that
 * stop the run (usage, I/O, a keyed log without --key) to stderr.
 *
 * How a line is judged:
 *  - A line that is not a whole entry (not one JSON object, longer than
 *    GH_AUDIT_LINE_MAX, no ',"chain":"HEX"}' at its end) is held back. If
 *    the next entry is a segment start (it has "prev") whose prev is the
 *    chain of the last whole entry, a writer stopped mid-line and the next
 *    one ended that line: a truncated write (exit 3). If it is the last
 *    line of the last file, likewise. Anything else: tampering (exit 1).
 *  - A whole entry without its newline (the last line of a file) is
 *    verified and then reported as truncated too (exit 3).
 *  - A JSON object that is not an audit entry (fields missing, out of
 *    order, wrong types) is tampering.
 *  - A segment start is verified against its own prev. Where a chain may
 *    begin is what src/audit.c can write, nothing more, so genuine entries
 *    replayed, reordered, cut or spliced from another log under the same
 *    key are caught:
 *    - It continues the chain of some pid's last entry at that chain's
 *      seq + 1, and a chain value is continued once: a restart reads the
 *      file's last line once. (The pid it continued may still write on
 *      when two instances overlap on one file, SO_REUSEPORT: its chain
 *      then has new values.) A file's first line that continues the
 *      previous file is a reopen (SIGUSR1).
 *    - Or it begins a new chain (prev 64 zeros, seq 1, a start): at the
 *      log's first line; at a later file's first line (the file was moved
 *      away while gatehouse was down; the files between may be missing:
 *      possible loss, exit 4); with new_segment (exit 4); or with stream
 *      stdout in a stdout stream (every worker, every restart; the same
 *      pid again after no stop: an unclean end, exit 4). Anywhere else:
 *      tampering.
 *    - Or, as the first line of all, a reopen continues a chain from a
 *      file not given (a note; should that chain value turn up later, the
 *      files are out of order). A start there is a file whose head was
 *      cut: tampering.
 *    Timestamps are not compared across a link: the link is proven by the
 *    chain, and a restart after a clock step legitimately goes back.
 *  - Any other entry needs a pid with state, seq == last seq + 1 and the
 *    chain computed from that pid's last chain: a jump in seq means
 *    entries were removed, seq not higher means reordered or inserted, the
 *    right seq with the wrong chain means the entry was changed.
 *  - chain_alg in a segment start picks HMAC-SHA256 (needs --key; without
 *    it the run stops with exit 2) or SHA-256. With --key every segment
 *    must be keyed: a sha256 segment anywhere (before, among or after
 *    keyed entries) is a writer anyone could have made up, tampering.
 *    Without --key nothing is proven and the summary says "unproven".
 *  - A start entry with new_segment (prev 64 zeros, seq 1, a reason) is a
 *    writer that could not verify the file's last line and refused to
 *    continue its chain: reported with its reason (exit 4, not 1).
 *  - A "start" that continues the chain of a writer whose last entry is
 *    not "stop" follows an unclean end (SIGKILL, crash): possible loss
 *    (exit 4). Gap entries are loss too (exit 4).
 *  - A file without a single entry that does not start like one (gzip,
 *    another program's log, binary) is not an audit file: exit 2. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gatehouse/audit_chain.h"
#include "gatehouse/audit_json.h"

#define GH_AUDIT_LINE_MAX ((size_t)1 << 20) /* bytes of one line, without its newline */
#define READ_BLOCK 65536
#define TAIL_DEFAULT 20
#define CHAIN_SEP_LEN (sizeof GH_AUDIT_CHAIN_FIELD - 1)

enum {
    EXIT_INTACT = 0,
    EXIT_TAMPERED = 1,
    EXIT_USAGE = 2,
    EXIT_TRUNCATED = 3,
    EXIT_LOSS = 4,
};

/* How bad a finding that is not tampering is: the run's status is the
 * worst one seen (a truncated line says more than a possible loss). */
static int status_rank(int status)
{
    return status == EXIT_TRUNCATED ? 2 : status == EXIT_LOSS ? 1 : 0;
}

#define GZIP_MAGIC "\x1f\x8b"
#define ENTRY_PREFIX "{\"v\":" /* every audit line starts so, even a cut one */

static const char *prog = "gatehouse-audit";

/* ---- help ---------------------------------------------------------------- */

static const char usage_text[] =
    "usage: gatehouse-audit verify [--key KEYFILE] FILE...\n"
    "       gatehouse-audit tail [-n N] FILE\n"
    "       gatehouse-audit --help\n";

static const char help_text[] =
    "NAME\n"
    "    gatehouse-audit - verify and read gatehouse audit logs\n"
    "\n"
    "SYNOPSIS\n"
    "    gatehouse-audit verify [--key KEYFILE] FILE...\n"
    "    gatehouse-audit tail [-n N] FILE\n"
    "    gatehouse-audit --help | -h | help\n"
    "\n"
    "DESCRIPTION\n"
    "    gatehouse writes its audit log as JSON Lines, one entry per line. Every\n"
    "    entry ends with \"chain\", a SHA-256 (or, with audit_key_file, an\n"
    "    HMAC-SHA256) over the previous entry's chain and the entry itself, so\n"
    "    changing, removing, inserting or reordering entries breaks the chain.\n"
    "    The format is described in config/audit-log.md.\n"
    "\n"
    "    A chain cannot show that its newest entries were cut off: keep the\n"
    "    last entry's chain somewhere else (a remote log, a ticket) to check\n"
    "    the end of the log against it.\n"
    "\n"
    "COMMANDS\n"
    "    verify [--key KEYFILE] FILE...\n"
    "        Checks the chain through FILE... given oldest first: one file, or a\n"
    "        rotated series (audit.jsonl.3 audit.jsonl.2 audit.jsonl.1\n"
    "        audit.jsonl). Several writers' lines interleaved in one stream (the\n"
    "        stdout of several workers) are told apart by their pid. Gaps\n"
    "        (entries the writer had to drop), restarts and new chains are\n"
    "        listed; the first tampered entry is named as FILE:LINE (lines\n"
    "        count from 1 in each file) and verification stops there. A line a\n"
    "        writer left incomplete (power loss, disk full) is reported as\n"
    "        truncated when the end of the log or the next writer's restart\n"
    "        explains it. On success a summary line is printed last. Compressed\n"
    "        files must be decompressed first, e.g. with <(zcat FILE.gz).\n"
    "        FILE may be - for standard input: zcat FILE.gz | gatehouse-audit\n"
    "        verify --key KEYFILE -. A file that is not an audit log at all (gzip,\n"
    "        another program's log) is an error (2, \"not an audit file\"), not\n"
    "        tampering.\n"
    "\n"
    "        With --key every entry must carry the HMAC chain: an unkeyed segment\n"
    "        anywhere is tampering. Without --key the result is \"unproven\":\n"
    "        anyone can recompute a SHA-256 chain, so it only shows accidental\n"
    "        damage.\n"
    "\n"
    "        A chain may begin only where gatehouse begins one: a new chain (a\n"
    "        start with prev of 64 zeros) at a file's first line, with\n"
    "        new_segment, or on stdout; a file's first line with another prev\n"
    "        is a reopen; a chain is continued once, at the next seq. So genuine\n"
    "        entries replayed, reordered, with their head cut, or spliced from\n"
    "        another log under the same key are tampering. A later file of a\n"
    "        series that begins a new chain is possible loss (4): nothing links\n"
    "        it to the file before. A first file that begins with a reopen\n"
    "        continues a file not given (a note): give the whole series.\n"
    "\n"
    "    tail [-n N] FILE\n"
    "        Prints the last N entries of FILE (default 20), one per line:\n"
    "            TS #SEQ EVENT key=value ...\n"
    "        Control characters, DEL, C1 controls, bidirectional and invisible\n"
    "        formatting characters and backslashes in keys and values are\n"
    "        shown escaped (\\xHH, \\uXXXX, \\\\), so a log line cannot move the\n"
    "        cursor or change the terminal. Values with spaces, quotes or '='\n"
    "        are quoted. tail does not verify the chain.\n"
    "\n"
    "OPTIONS\n"
    "    --key KEYFILE, --key=KEYFILE\n"
    "        The audit_key_file gatehouse used: its raw bytes are the HMAC key.\n"
    "        Required for a keyed log (chain_alg hmac-sha256).\n"
    "    -n N\n"
    "        Number of entries tail prints.\n"
    "    -h, --help\n"
    "        Shows this text.\n"
    "\n"
    "EXIT STATUS\n"
    "    0   intact with --key; without --key \"unproven\": no damage found, but\n"
    "        nothing proves the log against a forger\n"
    "    1   tampered: the first entry that was changed, removed, inserted or\n"
    "        reordered, the first unkeyed segment of a log verified with --key,\n"
    "        or the first chain that begins or goes on where gatehouse never\n"
    "        begins one (replayed, spliced, head cut) is named as FILE:LINE\n"
    "    2   usage or I/O error; a keyed log verified without --key; not an audit\n"
    "        file (compressed, another log)\n"
    "    3   the chain holds, but a writer stopped mid-entry: the incomplete line\n"
    "        is named\n"
    "    4   the chain holds, but entries are lost or may be: gap entries, a\n"
    "        start after a writer that ended without stop (killed), a new\n"
    "        segment (a start with new_segment), a later file that begins a\n"
    "        new chain (files between may be missing); each is named as\n"
    "        FILE:LINE. 3 wins over 4.\n"
    "\n"
    "EXAMPLES\n"
    "    gatehouse-audit verify /var/log/gatehouse/audit.jsonl\n"
    "    gatehouse-audit verify --key /etc/gatehouse/audit.key \\\n"
    "        audit.jsonl.2 audit.jsonl.1 audit.jsonl\n"
    "    gatehouse-audit verify --key audit.key <(zcat audit.jsonl.3.gz) audit.jsonl.2\n"
    "    gatehouse-audit tail -n 50 /var/log/gatehouse/audit.jsonl\n"
    "\n"
    "SEE ALSO\n"
    "    gatehouse(8), config/audit-log.md\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s(see %s --help)\n", usage_text, prog);
    return EXIT_USAGE;
}

/* ---- reading lines --------------------------------------------------------- */

struct reader {
    int fd;
    char *block;       /* READ_BLOCK bytes */
    size_t bpos, bend;
    bool eof;
    char *line;        /* GH_AUDIT_LINE_MAX bytes */
    size_t len;        /* bytes kept in line */
    uint64_t full_len; /* the line's length, also beyond GH_AUDIT_LINE_MAX */
    bool newline;      /* ended by '\n' (not by the end of the file) */
    bool overlong;     /* longer than GH_AUDIT_LINE_MAX: only a prefix is kept */
    uint64_t lineno;   /* 1-based, of the line just read */
};

static void reader_start(struct reader *r, int fd)
{
    r->fd = fd;
    r->bpos = r->bend = 0;
    r->eof = false;
    r->lineno = 0;
}

/* Returns 1 with a line, 0 at the end of the file, -1 on a read error. */
static int read_line(struct reader *r)
{
    r->len = 0;
    r->full_len = 0;
    r->newline = false;
    r->overlong = false;
    for (;;) {
        if (r->bpos == r->bend) {
            if (r->eof)
                break;
            ssize_t n = read(r->fd, r->block, READ_BLOCK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -1;
            if (n == 0) {
                r->eof = true;
                break;
            }
            r->bpos = 0;
            r->bend = (size_t)n;
        }
        const char *s = r->block + r->bpos;
        size_t avail = r->bend - r->bpos;
        const char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        if (!r->overlong) {
            if (take > GH_AUDIT_LINE_MAX - r->len) {
                r->overlong = true;
            } else {
                memcpy(r->line + r->len, s, take);
                r->len += take;
            }
        }
        r->full_len += take;
        r->bpos += take;
        if (nl) {
            r->bpos++;
            r->newline = true;
            r->lineno++;
            return 1;
        }
    }
    if (r->full_len > 0) {
        r->lineno++;
        return 1;
    }
    return 0;
}

static int open_input(const char *path)
{
    if (strcmp(path, "-") == 0)
        return STDIN_FILENO;
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* ---- one entry ------------------------------------------------------------- */

struct entry {
    int64_t seq;
    int64_t pid;
    const char *prev;   /* 64 hex in the line, or NULL: not a segment start */
    bool keyed;         /* segment start: chain_alg is hmac-sha256 */
    bool is_start;      /* event "start" */
    bool is_reopen;     /* event "reopen" */
    bool stdout_start;  /* a start with stream stdout: gatehouse wrote to stdout */
    bool is_stop;       /* event "stop" */
    bool new_segment;   /* a start with new_segment: it refused to continue the chain */
    bool is_gap;
    int64_t lost;       /* gap entries */
    const struct gh_audit_json_field *new_segment_reason; /* start entries with new_segment */
    const char *chain;  /* 64 hex in the line */
    size_t body_len;
};

static const char *const head_fields[] = {"v", "seq", "ts", "pid", "event"};

static bool key_is(const struct gh_audit_json_field *f, const char *k)
{
    size_t n = strlen(k);
    return !f->key_escaped && f->key.len == n && memcmp(f->key.p, k, n) == 0;
}

/* The last occurrence of the chain separator in line[0, len), or NULL. */
static const char *last_chain_sep(const char *line, size_t len)
{
    if (len < CHAIN_SEP_LEN)
        return NULL;
    for (size_t i = len - CHAIN_SEP_LEN + 1; i-- > 0;)
        if (line[i] == ',' && memcmp(line + i, GH_AUDIT_CHAIN_FIELD, CHAIN_SEP_LEN) == 0)
            return line + i;
    return NULL;
}

/* Reads the schema from a parsed line. Returns 0, -1 (not an audit entry:
 * why) or -2 (an unsupported schema version: why). */
static int read_entry(const char *line, size_t len, const struct gh_audit_json_obj *obj,
                      struct entry *e, char *why, size_t why_len)
{
    const struct gh_audit_json_field *f;
    int64_t v = 0;
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < sizeof head_fields / sizeof head_fields[0]; i++) {
        if (i >= obj->n_fields || !key_is(&obj->fields[i], head_fields[i])) {
            snprintf(why, why_len,
                     "field %zu is not \"%s\" (entries start with v, seq, ts, pid, event)", i + 1,
                     head_fields[i]);
            return -1;
        }
    }
    if (gh_audit_json_int(&obj->fields[0], &v) != 0) {
        snprintf(why, why_len, "v is not an integer");
        return -1;
    }
    if (v != 1) {
        snprintf(why, why_len, "schema version %" PRId64 " (this gatehouse-audit knows version 1)",
                 v);
        return -2;
    }
    if (gh_audit_json_int(&obj->fields[1], &e->seq) != 0 || e->seq < 1) {
        snprintf(why, why_len, "seq is not a positive integer");
        return -1;
    }
    if (obj->fields[2].type != GH_AUDIT_JSON_STRING) {
        snprintf(why, why_len, "ts is not a string");
        return -1;
    }
    if (gh_audit_json_int(&obj->fields[3], &e->pid) != 0 || e->pid < 1) {
        snprintf(why, why_len, "pid is not a positive integer");
        return -1;
    }
    if (obj->fields[4].type != GH_AUDIT_JSON_STRING || obj->fields[4].value.len == 0) {
        snprintf(why, why_len, "event is not a non-empty string");
        return -1;
    }
    /* chain: the last field, ',"chain":"HEX"}' ending the line */
    f = &obj->fields[obj->n_fields - 1];
    const char *sep = last_chain_sep(line, len);
    if (!key_is(f, "chain") || f->type != GH_AUDIT_JSON_STRING || !sep ||
        f->key.p != sep + 2 || f->value.p != sep + CHAIN_SEP_LEN ||
        f->value.p + f->value.len + 2 != line + len) {
        snprintf(why, why_len, "it does not end with ,\"chain\":\"HEX\"}");
        return -1;
    }
    if (!gh_audit_chain_is_hex(f->value.p, f->value.len)) {
        snprintf(why, why_len, "chain is not 64 lowercase hex characters");
        return -1;
    }
    e->chain = f->value.p;
    e->body_len = (size_t)(sep - line);
    for (size_t i = 5; i + 1 < obj->n_fields; i++) {
        if (key_is(&obj->fields[i], "chain")) {
            snprintf(why, why_len, "a second chain field");
            return -1;
        }
    }
    f = gh_audit_json_get(obj, "prev");
    if (f) {
        const struct gh_audit_json_field *alg = gh_audit_json_get(obj, "chain_alg");
        if (f->type != GH_AUDIT_JSON_STRING || !gh_audit_chain_is_hex(f->value.p, f->value.len)) {
            snprintf(why, why_len, "prev is not 64 lowercase hex characters");
            return -1;
        }
        e->prev = f->value.p;
        if (gh_audit_json_string_is(alg, "hmac-sha256")) {
            e->keyed = true;
        } else if (!gh_audit_json_string_is(alg, "sha256")) {
            snprintf(why, why_len,
                     "a segment start (it has prev) without chain_alg hmac-sha256 or sha256");
            return -1;
        }
    }
    e->is_start = gh_audit_json_string_is(&obj->fields[4], "start");
    e->is_stop = gh_audit_json_string_is(&obj->fields[4], "stop");
    e->is_reopen = gh_audit_json_string_is(&obj->fields[4], "reopen");
    f = gh_audit_json_get(obj, "stream");
    if (f) {
        if (!e->is_start || !e->prev ||
            memcmp(e->prev, GH_AUDIT_GENESIS, GH_AUDIT_CHAIN_HEX) != 0 ||
            !gh_audit_json_string_is(f, "stdout")) {
            snprintf(why, why_len, "stream outside a start entry that begins a new chain "
                                   "(prev of 64 zeros), or not \"stdout\"");
            return -1;
        }
        e->stdout_start = true;
    }
    f = gh_audit_json_get(obj, "new_segment");
    if (f) {
        if (!e->is_start || !e->prev ||
            memcmp(e->prev, GH_AUDIT_GENESIS, GH_AUDIT_CHAIN_HEX) != 0 ||
            f->type != GH_AUDIT_JSON_STRING || f->value.len == 0) {
            snprintf(why, why_len, "new_segment outside a start entry that begins a new chain "
                                   "(prev of 64 zeros) or without a reason");
            return -1;
        }
        e->new_segment = true;
        e->new_segment_reason = f;
    }
    if (gh_audit_json_string_is(&obj->fields[4], "gap")) {
        e->is_gap = true;
        if (gh_audit_json_int(gh_audit_json_get(obj, "lost"), &e->lost) != 0 || e->lost < 1) {
            snprintf(why, why_len, "a gap entry without a positive lost count");
            return -1;
        }
    }
    return 0;
}

/* ---- verify ------------------------------------------------------------------ */

struct where {
    const char *file;
    uint64_t line;
};

struct writer {
    int64_t pid;
    int64_t seq;
    bool keyed;
    bool stopped;                  /* its last entry is "stop": it ended cleanly */
    bool continued;                /* another pid's segment start continued its chain */
    struct where continued_at;     /* of that segment start */
    struct where last_at;          /* of its last entry */
    char chain[GH_AUDIT_CHAIN_HEX + 1];
};

struct verifier {
    const char *key_path;
    struct gh_audit_chain hmac;
    struct gh_audit_chain sha;
    struct gh_audit_json_obj obj;

    struct writer *w;
    size_t n_w, cap_w;

    struct where unknown_at;              /* of the entry that continues a chain not given */
    uint64_t lines_seen;                  /* lines of all files so far */

    /* lines that were not whole entries, not yet explained */
    uint64_t pending;
    struct where pending_at;

    uint64_t entries, gaps, lost, restarts, chains, truncated;
    uint64_t unclean_ends;                /* starts after a writer that ended without stop */
    uint64_t new_segments;                /* starts with new_segment: a writer refused the chain */
    uint64_t unlinked_files;              /* later files that begin a new chain */
    /* the file being read: is it an audit file at all? */
    uint64_t file_entries;                /* lines that parsed as entries of any version */
    int status;                           /* EXIT_INTACT, EXIT_LOSS or EXIT_TRUNCATED so far */

    char pending_why[192];
    char unknown_prev[GH_AUDIT_CHAIN_HEX + 1];
    char last_chain[GH_AUDIT_CHAIN_HEX + 1];
    bool have_key;
    bool have_unknown_prev;               /* the first entry continues a chain not given */
    bool have_last;                       /* an entry was verified: last_chain is its chain */
    bool stdout_stream;                   /* the log's first entry is a stdout start */
    bool seen_keyed, keyed_verified;
    bool file_looks_audit;                /* its first line starts like an entry */
};

static void raise_status(struct verifier *v, int status)
{
    if (status_rank(status) > status_rank(v->status))
        v->status = status;
}

static struct writer *find_writer(struct verifier *v, int64_t pid)
{
    for (size_t i = 0; i < v->n_w; i++)
        if (v->w[i].pid == pid)
            return &v->w[i];
    return NULL;
}

static struct writer *add_writer(struct verifier *v, int64_t pid)
{
    if (v->n_w == v->cap_w) {
        size_t cap = v->cap_w ? v->cap_w * 2 : 16;
        struct writer *nw = realloc(v->w, cap * sizeof *nw);
        if (!nw)
            return NULL;
        v->w = nw;
        v->cap_w = cap;
    }
    struct writer *w = &v->w[v->n_w++];
    memset(w, 0, sizeof *w);
    w->pid = pid;
    return w;
}

/* The pid whose last entry has chain value prev, or NULL. */
static struct writer *writer_with_chain(struct verifier *v, const char *prev)
{
    for (size_t i = 0; i < v->n_w; i++)
        if (memcmp(v->w[i].chain, prev, GH_AUDIT_CHAIN_HEX) == 0)
            return &v->w[i];
    return NULL;
}

__attribute__((format(printf, 2, 3))) static int tampered(const struct where *at,
                                                          const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above */
    int n = vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(what, sizeof what, "tampered");
    printf("%s:%" PRIu64 ": %s\n", at->file, at->line, what);
    return EXIT_TAMPERED;
}

static int chain_of(struct verifier *v, bool keyed, const char *prev, const char *body,
                    size_t body_len, char out[GH_AUDIT_CHAIN_HEX + 1])
{
    struct gh_audit_chain *c = keyed ? &v->hmac : &v->sha;
    gh_audit_chain_set_prev(c, prev);
    if (gh_audit_chain_compute(c, (const uint8_t *)body, body_len, out) != 0) {
        fprintf(stderr, "%s: wolfCrypt failed to compute a chain value\n", prog);
        return -1;
    }
    return 0;
}

/* Until a keyed entry has verified, a mismatch may be the wrong key. */
static int chain_mismatch(const struct verifier *v, const struct where *at, bool keyed)
{
    if (keyed && !v->keyed_verified)
        return tampered(at, "entry changed: its chain does not match (or %s is not this log's key)",
                        v->key_path);
    return tampered(at, "entry changed: its chain does not match");
}

/* The lines held back are explained by a restart at *at. */
static void pending_truncated(struct verifier *v, const struct where *at)
{
    printf("%s:%" PRIu64 ": truncated: %s; a writer stopped mid-entry and the chain goes on "
           "from the last whole entry at %s:%" PRIu64 "\n",
           v->pending_at.file, v->pending_at.line, v->pending_why, at->file, at->line);
    if (v->pending > 1)
        printf("%s:%" PRIu64 ": truncated: %" PRIu64 " more incomplete lines follow it\n",
               v->pending_at.file, v->pending_at.line, v->pending - 1);
    v->truncated += v->pending;
    v->pending = 0;
    raise_status(v, EXIT_TRUNCATED);
}

static int pending_tampered(const struct verifier *v)
{
    if (v->pending > 1)
        return tampered(&v->pending_at, "not a valid entry (%s), and %" PRIu64
                                        " more invalid lines follow it",
                        v->pending_why, v->pending - 1);
    return tampered(&v->pending_at, "not a valid entry (%s), and the next entry does not "
                                    "restart the chain after it as a writer would",
                    v->pending_why);
}

/* Verifies a segment start (an entry with prev). */
static int check_segment_start(struct verifier *v, const struct where *at, const char *line,
                               const struct entry *e)
{
    char got[GH_AUDIT_CHAIN_HEX + 1];
    bool first = v->lines_seen == 1;
    if (e->keyed && !v->have_key) {
        fprintf(stderr, "%s: %s:%" PRIu64 ": this log is keyed (chain_alg hmac-sha256): "
                        "verify it with --key KEYFILE (the audit_key_file gatehouse used)\n",
                prog, at->file, at->line);
        return EXIT_USAGE;
    }
    /* With --key every entry must carry the HMAC chain: an unkeyed
     * segment is a writer anyone could have made up (all-zero prev, plain
     * SHA-256), wherever it stands, before, among or after keyed entries. */
    if (!e->keyed && v->have_key)
        return tampered(at, "an unkeyed segment (chain_alg sha256) in a log verified with --key: "
                            "anyone can write such entries without the key (a forged writer, or "
                            "the key file was taken away); if this log was never keyed, verify it "
                            "without --key");
    if (chain_of(v, e->keyed, e->prev, line, e->body_len, got) != 0)
        return EXIT_USAGE;
    if (memcmp(got, e->chain, GH_AUDIT_CHAIN_HEX) != 0)
        return chain_mismatch(v, at, e->keyed);

    bool genesis = memcmp(e->prev, GH_AUDIT_GENESIS, GH_AUDIT_CHAIN_HEX) == 0;
    bool file_first = at->line == 1; /* the first line of this file */
    struct writer *from = v->have_last && !genesis ? writer_with_chain(v, e->prev) : NULL;
    struct writer *self = find_writer(v, e->pid);
    if (from) {
        /* a reopen (same pid), a restart (a new pid) or the segment start
         * after a cut line: gatehouse's seq always goes on from the chain
         * it continues, and a chain value is continued once (a restart
         * reads the file's last line once; a second start from it is the
         * run replayed) */
        if (from->continued)
            return tampered(at, "replayed or spliced: the chain of pid %" PRId64 " (its last "
                                "entry at %s:%" PRIu64 ") was already continued at %s:%" PRIu64,
                            from->pid, from->last_at.file, from->last_at.line,
                            from->continued_at.file, from->continued_at.line);
        if (e->seq - 1 != from->seq)
            return tampered(at, "entries removed or reordered: seq %" PRId64
                                " does not follow seq %" PRId64 " of the chain it continues (pid %"
                                PRId64 ")",
                            e->seq, from->seq, from->pid);
        if (file_first && !e->is_reopen)
            return tampered(at, "spliced: a file's first line that continues the previous file's "
                                "chain is a reopen (SIGUSR1) in gatehouse's files, not %s",
                            e->is_start ? "a start" : "another entry");
        if (e->is_start && !from->stopped) {
            /* the writer before it was killed or crashed: what it still
             * held in memory is gone and no gap entry counts it */
            v->unclean_ends++;
            raise_status(v, EXIT_LOSS);
            printf("%s:%" PRIu64 ": possible loss: pid %" PRId64 " ended without a stop entry "
                   "(killed or crashed; its last entry is at %s:%" PRIu64 "): entries it had "
                   "not yet written are lost uncounted\n",
                   at->file, at->line, from->pid, from->last_at.file, from->last_at.line);
        }
        if (e->is_start) {
            v->restarts++;
            if (from->pid == e->pid)
                printf("%s:%" PRIu64 ": restart: pid %" PRId64 " continues its own chain\n",
                       at->file, at->line, e->pid);
            else
                printf("%s:%" PRIu64 ": restart: pid %" PRId64
                       " continues the chain of pid %" PRId64 "\n",
                       at->file, at->line, e->pid, from->pid);
        }
        if (e->is_start || from->pid != e->pid) {
            from->continued = true;
            from->continued_at = *at;
        }
    } else if (genesis) {
        /* gatehouse begins a new chain (prev of 64 zeros, seq 1) only with
         * a start (a reopen whose start was never written, rarely): in an
         * empty file (its first line), with new_segment (it refused the
         * file's last line), or on stdout (every worker, every restart).
         * Anywhere else it is a genuine segment replayed or spliced. */
        if (e->seq != 1)
            return tampered(at, "entries removed: a new chain (prev is 64 zeros) starts at seq %"
                                PRId64 ", not 1",
                            e->seq);
        if (!e->is_start && !(e->is_reopen && file_first))
            return tampered(at, "a new chain (prev is 64 zeros) that does not begin with a "
                                "start entry: gatehouse never writes one");
        if (first && e->stdout_start)
            v->stdout_stream = true;
        v->chains++;
        if (e->new_segment) {
            char reason[128];
            if (gh_audit_json_string(e->new_segment_reason, reason, sizeof reason, NULL) != 0)
                snprintf(reason, sizeof reason, "(a reason too long to show)");
            v->new_segments++;
            raise_status(v, EXIT_LOSS);
            printf("%s:%" PRIu64 ": new segment: pid %" PRId64 " refused to continue the chain "
                   "(reason %s) and started a new one: what came before this line is not "
                   "linked to what follows\n",
                   at->file, at->line, e->pid, reason);
        } else if (e->stdout_start != v->stdout_stream) {
            return tampered(at, "spliced: a %s start in a log whose first entry is a %s start",
                            e->stdout_start ? "stdout" : "file", v->stdout_stream ? "stdout" : "file");
        } else if (first) {
            /* the beginning of the log */
        } else if (e->stdout_start) {
            if (self && !self->stopped) {
                /* the same pid again (pid 1 in a container restarted after
                 * a SIGKILL, its stdout captured on): an unclean end */
                v->unclean_ends++;
                raise_status(v, EXIT_LOSS);
                printf("%s:%" PRIu64 ": possible loss: pid %" PRId64 " begins a new chain "
                       "although its last entry (%s:%" PRIu64 ") is not stop (killed or "
                       "crashed and restarted with the same pid)\n",
                       at->file, at->line, e->pid, self->last_at.file, self->last_at.line);
            }
            printf("%s:%" PRIu64 ": note: a new chain starts here (pid %" PRId64
                   ", a worker writing to stdout): it is not linked to the entries before it\n",
                   at->file, at->line, e->pid);
        } else if (file_first) {
            /* the link between the files is gone: a file in between may
             * be missing, or this file was started afresh (moved away and
             * gatehouse restarted): unprovable, so possible loss */
            v->unlinked_files++;
            raise_status(v, EXIT_LOSS);
            printf("%s:%" PRIu64 ": possible loss: this file begins a new chain (pid %" PRId64
                   ", prev is 64 zeros): it is not linked to the file before it; files between "
                   "them may be missing\n",
                   at->file, at->line, e->pid);
        } else {
            return tampered(at, "replayed or spliced: a new chain (prev is 64 zeros, no "
                                "new_segment) in the middle of a file: gatehouse begins one "
                                "only at a file's first line");
        }
    } else if (first) {
        /* gatehouse begins a file with a prev only when it reopens it
         * after rotation (SIGUSR1): the earlier file was not given */
        if (!e->is_reopen)
            return tampered(at, "entries removed: the first line continues a chain not given "
                                "(prev %.16s...), but a file begins so only with a reopen "
                                "(SIGUSR1), not %s: the lines before it were cut",
                            e->prev, e->is_start ? "a start" : "another entry");
        v->chains++;
        v->have_unknown_prev = true;
        memcpy(v->unknown_prev, e->prev, GH_AUDIT_CHAIN_HEX);
        v->unknown_at = *at;
        printf("%s:%" PRIu64 ": note: continues a chain from an earlier file that was not given "
               "(prev %.16s...): the link to it is not checked\n",
               at->file, at->line, e->prev);
    } else {
        return tampered(at, "entries removed, or files missing or out of order: prev matches no "
                            "earlier entry");
    }
    if (!self)
        self = add_writer(v, e->pid);
    if (!self) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_USAGE;
    }
    self->seq = e->seq;
    self->keyed = e->keyed;
    self->stopped = e->is_stop;
    self->continued = false;
    self->last_at = *at;
    memcpy(self->chain, e->chain, GH_AUDIT_CHAIN_HEX);
    self->chain[GH_AUDIT_CHAIN_HEX] = '\0';
    if (e->keyed)
        v->seen_keyed = true;
    return EXIT_INTACT;
}

/* Verifies an entry without prev. */
static int check_entry(struct verifier *v, const struct where *at, const char *line,
                       const struct entry *e)
{
    char got[GH_AUDIT_CHAIN_HEX + 1];
    struct writer *w = find_writer(v, e->pid);
    if (!w) {
        if (v->lines_seen == 1)
            return tampered(at, "entries removed: the first entry is not a start or reopen "
                                "entry (it has no prev)");
        return tampered(at, "entry inserted or entries removed: pid %" PRId64
                            " has no start or reopen entry before this line",
                        e->pid);
    }
    if (chain_of(v, w->keyed, w->chain, line, e->body_len, got) != 0)
        return EXIT_USAGE;
    bool chain_ok = memcmp(got, e->chain, GH_AUDIT_CHAIN_HEX) == 0;
    if (e->seq - 1 > w->seq) /* e->seq >= 1: no overflow */
        return tampered(at, "entries removed: seq jumps from %" PRId64 " to %" PRId64
                            " (pid %" PRId64 ")",
                        w->seq, e->seq, e->pid);
    if (e->seq <= w->seq)
        return tampered(at, "entry reordered or inserted: seq %" PRId64 " after %" PRId64
                            " (pid %" PRId64 ")",
                        e->seq, w->seq, e->pid);
    if (!chain_ok)
        return chain_mismatch(v, at, w->keyed);
    w->seq = e->seq;
    w->stopped = e->is_stop;
    w->continued = false; /* a new chain value, not continued yet */
    w->last_at = *at;
    memcpy(w->chain, e->chain, GH_AUDIT_CHAIN_HEX);
    return EXIT_INTACT;
}

/* Judges one line. Returns EXIT_INTACT to go on, or the exit status. */
static int verify_line(struct verifier *v, const struct where *at, const struct reader *r)
{
    struct gh_audit_json_error err;
    struct entry e;
    char why[192];
    int rc;

    v->lines_seen++;
    if (r->lineno == 1) {
        if (r->len >= 2 && memcmp(r->line, GZIP_MAGIC, 2) == 0) {
            fprintf(stderr, "%s: %s: not an audit file: it is gzip-compressed; decompress it "
                            "first: zcat FILE | gatehouse-audit verify [--key KEYFILE] -\n",
                    prog, at->file);
            return EXIT_USAGE;
        }
        v->file_looks_audit =
            r->len >= sizeof ENTRY_PREFIX - 1 &&
            memcmp(r->line, ENTRY_PREFIX, sizeof ENTRY_PREFIX - 1) == 0;
    }
    if (r->overlong) {
        snprintf(why, sizeof why, "the line is longer than %zu bytes (%" PRIu64 ")",
                 GH_AUDIT_LINE_MAX, r->full_len);
        goto bad_line;
    }
    if (gh_audit_json_parse(r->line, r->len, &v->obj, &err) != 0) {
        if (err.incomplete)
            snprintf(why, sizeof why, "the entry is incomplete (it ends after %zu bytes)", r->len);
        else
            snprintf(why, sizeof why, "not one JSON object: %s at byte %zu", err.msg,
                     err.offset + 1);
        goto bad_line;
    }
    rc = read_entry(r->line, r->len, &v->obj, &e, why, sizeof why);
    if (rc == 0 || rc == -2)
        v->file_entries++;
    if (rc == -1 && v->file_entries == 0 && !v->file_looks_audit)
        goto bad_line; /* JSON, but perhaps another program's: judged at the file's end */
    if (rc == -2) {
        if (v->pending)
            return pending_tampered(v);
        fprintf(stderr, "%s: %s:%" PRIu64 ": %s\n", prog, at->file, at->line, why);
        return EXIT_USAGE;
    }
    if (v->pending) {
        /* the next writer goes on from the last whole entry, or, when
         * the cut line ended a file, the next file may begin a new chain
         * (it was moved away while gatehouse was down) */
        if (rc == 0 && e.prev && v->have_last &&
            (memcmp(e.prev, v->last_chain, GH_AUDIT_CHAIN_HEX) == 0 ||
             (at->line == 1 && e.is_start &&
              memcmp(e.prev, GH_AUDIT_GENESIS, GH_AUDIT_CHAIN_HEX) == 0)))
            pending_truncated(v, at);
        else
            return pending_tampered(v);
    }
    if (rc != 0)
        return tampered(at, "not an audit entry: %s", why);

    rc = e.prev ? check_segment_start(v, at, r->line, &e) : check_entry(v, at, r->line, &e);
    if (rc != EXIT_INTACT)
        return rc;
    if (v->have_unknown_prev && memcmp(e.chain, v->unknown_prev, GH_AUDIT_CHAIN_HEX) == 0)
        return tampered(at, "files out of order: %s:%" PRIu64 " continues from this entry "
                            "but was given before it",
                        v->unknown_at.file, v->unknown_at.line);
    v->entries++;
    if (find_writer(v, e.pid)->keyed)
        v->keyed_verified = true;
    memcpy(v->last_chain, e.chain, GH_AUDIT_CHAIN_HEX);
    v->last_chain[GH_AUDIT_CHAIN_HEX] = '\0';
    v->have_last = true;
    if (e.is_gap) {
        v->gaps++;
        v->lost += (uint64_t)e.lost;
        raise_status(v, EXIT_LOSS);
        printf("%s:%" PRIu64 ": gap: %" PRId64 " entries lost\n", at->file, at->line, e.lost);
    }
    if (!r->newline) {
        printf("%s:%" PRIu64 ": truncated: the entry has no newline (its writer stopped before "
               "ending the line)\n",
               at->file, at->line);
        v->truncated++;
        raise_status(v, EXIT_TRUNCATED);
    }
    return EXIT_INTACT;

bad_line:
    if (v->pending++ == 0) {
        v->pending_at = *at;
        memcpy(v->pending_why, why, sizeof v->pending_why);
    }
    return EXIT_INTACT;
}

static void print_summary(const struct verifier *v, size_t n_files)
{
    /* Without a key nothing is proven: say so in words a script or a
     * person cannot read as "intact". */
    const char *verdict = v->have_key ? "intact" : "unproven";
    if (!v->have_key)
        printf("unproven: this log is not keyed (chain_alg sha256): anyone can recompute its "
               "chain, so it shows accidental damage only, not forgery; configure "
               "audit_key_file and verify with --key\n");
    printf("%s%s: %" PRIu64 " %s in %zu %s, %s", verdict,
           v->status == EXIT_TRUNCATED ? ", but truncated"
           : v->status == EXIT_LOSS    ? ", but entries lost or possibly lost"
                                       : "",
           v->entries, v->entries == 1 ? "entry" : "entries", n_files,
           n_files == 1 ? "file" : "files",
           v->have_key ? "keyed (hmac-sha256)" : "unkeyed (sha256)");
    printf(", %" PRIu64 " %s (%" PRIu64 " entries lost), %" PRIu64 " %s", v->gaps,
           v->gaps == 1 ? "gap" : "gaps", v->lost, v->restarts,
           v->restarts == 1 ? "restart" : "restarts");
    if (v->unclean_ends)
        printf(", %" PRIu64 " unclean %s (possible loss)", v->unclean_ends,
               v->unclean_ends == 1 ? "end" : "ends");
    if (v->new_segments)
        printf(", %" PRIu64 " new %s", v->new_segments,
               v->new_segments == 1 ? "segment" : "segments");
    if (v->unlinked_files)
        printf(", %" PRIu64 " %s beginning a new chain (possible loss)", v->unlinked_files,
               v->unlinked_files == 1 ? "file" : "files");
    if (v->truncated)
        printf(", %" PRIu64 " truncated %s", v->truncated, v->truncated == 1 ? "line" : "lines");
    printf("\n");
}

static int cmd_verify(int argc, char **argv)
{
    static struct verifier v; /* 2 KiB of key per chain and a parsed object */
    struct reader r = {0};
    const char *key_path = NULL;
    uint8_t key[GH_AUDIT_KEY_MAX];
    size_t key_len = 0;
    char why[512];
    int first_file = -1;
    int rc = EXIT_USAGE;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (first_file >= 0) {
            break;
        } else if (strcmp(a, "--") == 0) {
            first_file = i + 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help_text, stdout);
            return EXIT_INTACT;
        } else if (strcmp(a, "--key") == 0 || strncmp(a, "--key=", 6) == 0) {
            if (key_path)
                return usage_error("%s given twice", "--key");
            if (a[5] == '=') {
                key_path = a + 6;
            } else if (i + 1 < argc) {
                key_path = argv[++i];
            } else {
                return usage_error("%s needs a KEYFILE", "--key");
            }
            if (key_path[0] == '\0')
                return usage_error("%s needs a KEYFILE", "--key");
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("verify: unknown option %s", a);
        } else {
            first_file = i;
        }
    }
    if (first_file < 0 || first_file >= argc)
        return usage_error("%s: no FILE given", "verify");

    memset(&v, 0, sizeof v);
    v.status = EXIT_INTACT;
    if (key_path) {
        if (gh_audit_key_load(key_path, key, &key_len, why, sizeof why) != 0) {
            fprintf(stderr, "%s: --key: %s\n", prog, why);
            return EXIT_USAGE;
        }
        v.have_key = true;
        v.key_path = key_path;
        gh_audit_chain_init(&v.hmac, key, key_len);
        explicit_bzero(key, sizeof key);
    }
    gh_audit_chain_init(&v.sha, NULL, 0);

    /* every file must be there before anything is judged */
    for (int i = first_file; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-") == 0)
            continue;
        int fd = open_input(argv[i]);
        if (fd < 0) {
            fprintf(stderr, "%s: cannot open %s: %s\n", prog, argv[i], strerror(errno));
            goto cleanup;
        }
        int st_rc = fstat(fd, &st);
        int saved = errno;
        close(fd);
        if (st_rc != 0) {
            fprintf(stderr, "%s: cannot stat %s: %s\n", prog, argv[i], strerror(saved));
            goto cleanup;
        }
        if (S_ISDIR(st.st_mode)) {
            fprintf(stderr, "%s: %s is a directory\n", prog, argv[i]);
            goto cleanup;
        }
    }

    r.block = malloc(READ_BLOCK);
    r.line = malloc(GH_AUDIT_LINE_MAX);
    if (!r.block || !r.line) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto cleanup;
    }
    for (int i = first_file; i < argc; i++) {
        int fd = open_input(argv[i]);
        int got = 0, st = EXIT_INTACT;
        if (fd < 0) {
            fprintf(stderr, "%s: cannot open %s: %s\n", prog, argv[i], strerror(errno));
            goto cleanup;
        }
        reader_start(&r, fd);
        v.file_entries = 0;
        v.file_looks_audit = false;
        while (st == EXIT_INTACT && (got = read_line(&r)) == 1) {
            struct where at = {argv[i], r.lineno};
            st = verify_line(&v, &at, &r);
        }
        if (st == EXIT_INTACT && got < 0) {
            fprintf(stderr, "%s: cannot read %s: %s\n", prog, argv[i], strerror(errno));
            st = EXIT_USAGE;
        }
        if (fd != STDIN_FILENO)
            close(fd);
        if (st == EXIT_INTACT && r.lineno > 0 && v.file_entries == 0 && !v.file_looks_audit) {
            /* not one line of it is an entry, and it does not even start
             * like one: another file, not a damaged audit log */
            fprintf(stderr, "%s: %s: not an audit file: no line of it is an audit entry "
                            "(a compressed rotation must be decompressed first: "
                            "zcat FILE | gatehouse-audit verify [--key KEYFILE] -)\n",
                    prog, argv[i]);
            st = EXIT_USAGE;
        }
        if (st != EXIT_INTACT) {
            rc = st;
            goto cleanup;
        }
    }

    if (v.pending == 1) {
        printf("%s:%" PRIu64 ": truncated: %s; it is the last line: the writer stopped mid-entry\n",
               v.pending_at.file, v.pending_at.line, v.pending_why);
        v.truncated++;
        raise_status(&v, EXIT_TRUNCATED);
    } else if (v.pending > 1) {
        rc = pending_tampered(&v);
        goto cleanup;
    }
    print_summary(&v, (size_t)(argc - first_file));
    rc = v.status;
cleanup:
    free(r.block);
    free(r.line);
    free(v.w);
    explicit_bzero(&v.hmac, sizeof v.hmac);
    v.w = NULL;
    return rc;
}

/* ---- tail ------------------------------------------------------------------ */

/* Bidirectional controls and invisible formatting characters: shown
 * escaped so a value cannot reorder or hide what is printed around it. */
static bool is_deceptive(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || cp == 0x61c || cp == 0x180e ||
           (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
}

/* Prints s[0, n) (valid UTF-8 when utf8 is set, any bytes otherwise) with
 * everything that could act on a terminal escaped. */
static void put_escaped(const unsigned char *s, size_t n, bool utf8, bool quoted)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '\\') {
            fputs("\\\\", stdout);
        } else if (c == '"' && quoted) {
            fputs("\\\"", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
            printf("\\x%02x", c);
        } else if (c < 0x80) {
            putchar(c);
        } else {
            /* a valid UTF-8 sequence (the parser checked it) */
            size_t m = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            uint32_t cp = c & (0x7fu >> m);
            if (m > n - i) {
                printf("\\x%02x", c);
                i++;
                continue;
            }
            for (size_t k = 1; k < m; k++)
                cp = cp << 6 | (s[i + k] & 0x3fu);
            if (is_deceptive(cp))
                printf("\\u%04" PRIx32, cp);
            else
                fwrite(s + i, 1, m, stdout);
            i += m;
            continue;
        }
        i++;
    }
}

static bool needs_quotes(const char *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || s[i] == '"' || s[i] == '=')
            return true;
    return false;
}

static void put_string_field(const struct gh_audit_json_field *f, bool key, char *buf, size_t cap,
                             bool quote_if_needed)
{
    size_t n = 0;
    int rc = key ? gh_audit_json_key(f, buf, cap, &n) : gh_audit_json_string(f, buf, cap, &n);
    if (rc != 0) {
        fputs("?", stdout);
        return;
    }
    bool q = quote_if_needed && needs_quotes(buf, n);
    if (q)
        putchar('"');
    put_escaped((const unsigned char *)buf, n, true, q);
    if (q)
        putchar('"');
}

static void tail_line(const struct reader *r, struct gh_audit_json_obj *obj, char *buf, size_t cap)
{
    struct gh_audit_json_error err;
    if (r->overlong) {
        printf("-- a line of %" PRIu64 " bytes, too long to show\n", r->full_len);
        return;
    }
    if (gh_audit_json_parse(r->line, r->len, obj, &err) != 0) {
        size_t show = r->len < 120 ? r->len : 120;
        printf("-- not a valid entry (%s at byte %zu): ", err.msg, err.offset + 1);
        put_escaped((const unsigned char *)r->line, show, false, false);
        printf("%s\n", show < r->len ? "..." : "");
        return;
    }
    const struct gh_audit_json_field *ts = gh_audit_json_get(obj, "ts");
    const struct gh_audit_json_field *seq = gh_audit_json_get(obj, "seq");
    const struct gh_audit_json_field *ev = gh_audit_json_get(obj, "event");
    if (ts && ts->type == GH_AUDIT_JSON_STRING)
        put_string_field(ts, false, buf, cap, true);
    else
        putchar('?');
    putchar(' ');
    putchar('#');
    if (seq && seq->type == GH_AUDIT_JSON_NUMBER)
        fwrite(seq->value.p, 1, seq->value.len, stdout);
    else
        putchar('?');
    putchar(' ');
    if (ev && ev->type == GH_AUDIT_JSON_STRING)
        put_string_field(ev, false, buf, cap, true);
    else
        putchar('?');
    for (size_t i = 0; i < obj->n_fields; i++) {
        const struct gh_audit_json_field *f = &obj->fields[i];
        if (f == ts || f == seq || f == ev || key_is(f, "v") || key_is(f, "chain"))
            continue;
        putchar(' ');
        put_string_field(f, true, buf, cap, true);
        putchar('=');
        if (f->type == GH_AUDIT_JSON_STRING)
            put_string_field(f, false, buf, cap, true);
        else
            fwrite(f->value.p, 1, f->value.len, stdout); /* a number or literal: ASCII */
    }
    putchar('\n');
}

/* The offset where the last n lines of fd (size bytes) start. */
static int find_tail_start(int fd, off_t size, uint64_t n, off_t *start, char *block)
{
    uint64_t seen = 0;
    off_t end = size;
    *start = 0;
    if (n == 0) {
        *start = size;
        return 0;
    }
    while (end > 0) {
        off_t from = end > READ_BLOCK ? end - READ_BLOCK : 0;
        size_t want = (size_t)(end - from), got = 0;
        while (got < want) {
            ssize_t k = pread(fd, block + got, want - got, from + (off_t)got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                if (k == 0)
                    errno = EIO;
                return -1;
            }
            got += (size_t)k;
        }
        for (size_t i = want; i-- > 0;) {
            off_t at = from + (off_t)i;
            if (block[i] != '\n' || at == size - 1)
                continue;
            if (++seen == n) {
                *start = at + 1;
                return 0;
            }
        }
        end = from;
    }
    return 0;
}

static int cmd_tail(int argc, char **argv)
{
    static struct gh_audit_json_obj obj;
    struct reader r = {0};
    uint64_t n = TAIL_DEFAULT;
    const char *path = NULL;
    char *buf = NULL;
    struct stat st;
    off_t start = 0;
    int fd = -1, got, rc = EXIT_USAGE;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *num = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help_text, stdout);
            return EXIT_INTACT;
        } else if (strcmp(a, "-n") == 0) {
            if (i + 1 >= argc)
                return usage_error("%s needs a number", "-n");
            num = argv[++i];
        } else if (strncmp(a, "-n", 2) == 0) {
            num = a + 2;
        } else if (strcmp(a, "--") == 0 && i + 1 < argc && !path) {
            path = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("tail: unknown option %s", a);
        } else if (path) {
            return usage_error("tail: one FILE only, not also %s", a);
        } else {
            path = a;
        }
        if (num) {
            char *endp = NULL;
            errno = 0;
            unsigned long long x = strtoull(num, &endp, 10);
            if (num[0] < '0' || num[0] > '9' || *endp != '\0' || errno != 0 || x > 100000000ULL)
                return usage_error("-n: not a number of entries (0..100000000): %s", num);
            n = x;
        }
    }
    if (!path)
        return usage_error("%s: no FILE given", "tail");

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0) {
        fprintf(stderr, "%s: cannot stat %s: %s\n", prog, path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: %s is not a regular file (tail reads it from the end)\n", prog, path);
        goto cleanup;
    }
    r.block = malloc(READ_BLOCK);
    r.line = malloc(GH_AUDIT_LINE_MAX);
    buf = malloc(GH_AUDIT_LINE_MAX + 1);
    if (!r.block || !r.line || !buf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto cleanup;
    }
    if (find_tail_start(fd, st.st_size, n, &start, r.block) != 0 ||
        lseek(fd, start, SEEK_SET) < 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(errno));
        goto cleanup;
    }
    reader_start(&r, fd);
    while ((got = read_line(&r)) == 1)
        tail_line(&r, &obj, buf, GH_AUDIT_LINE_MAX + 1);
    if (got < 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(errno));
        goto cleanup;
    }
    rc = EXIT_INTACT;
cleanup:
    if (fd >= 0)
        close(fd);
    free(r.block);
    free(r.line);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2)
        return usage_error("%s", "a command is needed");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(help_text, stdout);
        rc = EXIT_INTACT;
    } else if (strcmp(argv[1], "verify") == 0) {
        rc = cmd_verify(argc, argv);
    } else if (strcmp(argv[1], "tail") == 0) {
        rc = cmd_tail(argc, argv);
    } else if (argv[1][0] == '-') {
        return usage_error("unknown option %s", argv[1]);
    } else {
        return usage_error("unknown command %s", argv[1]);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write to standard output: %s\n", prog, strerror(errno));
        return EXIT_USAGE;
    }
    return rc;
}
