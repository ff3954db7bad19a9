/* framing.h - the non-HTTP framings of tcp mode: newline-delimited lines and
 * length-prefixed frames (listener key `framing = line | length`).
 *
 * Owns: the rules a client's byte stream must follow under each framing,
 * when its bytes may be forwarded, and the stable reason codes of the rules.
 * Both framers answer with a framer_verdict.h verdict: feed the client's
 * plaintext from the first unreleased byte, get back how many bytes may go
 * to the backend now, or REJECT with a reason (no reply bytes: tcp mode just
 * closes). No I/O, no allocation; the state is a few words per connection.
 *
 * The feed contract, shared by both framers (and by websocket.h):
 *  - data[0, len) starts at the first byte not yet released; the caller
 *    keeps every unreleased byte and passes it again, followed by whatever
 *    arrived since. A framer remembers how far it has already looked, so
 *    held bytes are not examined twice (a line trickling in byte by byte
 *    costs O(n), not O(n^2)).
 *  - release is a prefix of data[0, len) that is known valid. It is the same
 *    whichever way the stream is split into feeds: a byte is released as
 *    soon as the bytes up to it are known to be valid, never later.
 *  - On REJECT, release still counts the valid bytes before the violation
 *    (complete lines, checked frame bytes); the caller may forward them
 *    before closing, or drop them. The violating line or frame header is
 *    never part of release. A reject is sticky: every later feed answers
 *    the same reason with release 0.
 *  - A caller that passes fewer bytes than were held breaks the contract;
 *    the framer then releases nothing and waits (CONTINUE, release 0).
 *
 * Reason codes (stable: audit log, metrics): line_too_long, bad_char,
 * bad_utf8, bad_line_ending, frame_too_large, zero_length, bad_length,
 * bad_config. */
#ifndef GATEHOUSE_FRAMING_H
#define GATEHOUSE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gatehouse/framer_verdict.h"
#include "gatehouse/utf8.h"

/* Bytes released and frames (lines, length frames) completed: the counts of
 * the connection's `close` audit entry. */
struct gh_framing_stats {
    uint64_t frames;
    uint64_t bytes;
};

/* ---- line framing -------------------------------------------------------- */

enum gh_line_terminator {
    GH_LINE_LF,     /* "\n" ends a line; a "\r" before it is content */
    GH_LINE_CRLF,   /* "\r\n" ends a line; a bare "\n", or "\r" not followed
                     * by "\n", is bad_line_ending */
};

/* What the bytes of a line (its terminator aside) may be. The sets nest:
 * printable-ascii < utf8 < any. */
enum gh_line_charset {
    GH_CHARSET_ANY,             /* every byte but the terminator's */
    GH_CHARSET_PRINTABLE_ASCII, /* 0x20..0x7e and HTAB; else bad_char */
    GH_CHARSET_UTF8,            /* printable-ascii plus well-formed UTF-8 beyond
                                 * ASCII (no overlongs, surrogates or > U+10FFFF);
                                 * ASCII controls are bad_char, a broken or
                                 * unfinished sequence is bad_utf8 */
};

#define GH_LINE_MIN_MAX_LINE 2  /* room for "\r\n": the smallest max_line */

struct gh_line_config {
    enum gh_line_terminator terminator;
    enum gh_line_charset charset;
    /* The longest line in bytes, terminator included: exactly the most the
     * caller has to hold for an unfinished line, so its buffer must be at
     * least this large. At least the terminator's length. */
    size_t max_line;
};

struct gh_line_framer {
    struct gh_line_config cfg;
    size_t scanned;            /* bytes of the unfinished line already examined */
    bool cr_pending;           /* crlf: the last byte examined was "\r" */
    struct gh_utf8 utf8;       /* utf8 charset: the unfinished line so far */
    const char *reason;        /* set once rejected: the stable code */
    struct gh_framing_stats stats;
};

/* Returns false for a config no stream can satisfy (max_line shorter than
 * the terminator, unknown enum values); the framer then rejects every feed
 * with bad_config, so a bad config fails closed. */
bool gh_line_framer_init(struct gh_line_framer *f, const struct gh_line_config *cfg);

/* Releases every complete, valid line in data[0, len) (terminators
 * included); an unfinished line is held until its terminator arrives. A
 * line is rejected as soon as a byte breaks a rule: it is too long before
 * its terminator comes (line_too_long), a byte is outside the charset
 * (bad_char, bad_utf8), or a crlf line ending is broken (bad_line_ending). */
void gh_line_framer_feed(struct gh_line_framer *f, const uint8_t *data, size_t len,
                         struct gh_framer_verdict *out);

/* ---- length-prefixed framing --------------------------------------------- */

enum gh_length_endian { GH_LENGTH_BIG, GH_LENGTH_LITTLE };

struct gh_length_config {
    unsigned prefix_bytes;        /* 1, 2 or 4 */
    enum gh_length_endian endian;
    bool length_includes_prefix;  /* the prefix counts itself */
    /* The largest payload in bytes, the prefix not counted whatever
     * length_includes_prefix says: what the backend has to take in one
     * frame. At least 1. */
    uint64_t max_frame;
};

struct gh_length_framer {
    struct gh_length_config cfg;
    size_t prefix_seen;          /* prefix bytes held, while a prefix is unfinished */
    uint64_t remaining;          /* payload bytes of the current frame still to come */
    const char *reason;          /* set once rejected */
    struct gh_framing_stats stats;
};

/* Returns false for a config no stream can satisfy (prefix width not 1, 2
 * or 4, max_frame 0, unknown endianness); the framer then rejects every
 * feed with bad_config. */
bool gh_length_framer_init(struct gh_length_framer *f, const struct gh_length_config *cfg);

/* Holds a prefix until it is complete, checks it, then releases the prefix
 * and the payload bytes as they arrive. An empty payload is zero_length
 * (length 0, or length == prefix width when the length counts the prefix),
 * a length shorter than its own prefix is bad_length, a payload over
 * max_frame is frame_too_large: all known from the prefix alone, so nothing
 * of a bad frame is released. */
void gh_length_framer_feed(struct gh_length_framer *f, const uint8_t *data, size_t len,
                           struct gh_framer_verdict *out);

#endif
