/* utf8.h - a streaming UTF-8 validator (RFC 3629, Unicode Table 3-7).
 *
 * Owns: the decision whether a byte stream is well-formed UTF-8, with the
 * state carried across calls so text may arrive split anywhere (inside a
 * character too). Overlong forms, surrogates (U+D800..U+DFFF), code points
 * above U+10FFFF and stray continuation bytes are rejected at the first byte
 * that makes them impossible; a character cut short is only known at the end
 * of the text, which gh_utf8_complete answers. No I/O, no allocation.
 *
 * Used by the WebSocket validator (text messages, close reasons) and by the
 * line framer's utf8 charset. */
#ifndef GATEHOUSE_UTF8_H
#define GATEHOUSE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The state of a text being checked: which bytes the next one may be.
 * Zero-initialised (or gh_utf8_init) means "at a character boundary". */
struct gh_utf8 {
    uint8_t state;
};

void gh_utf8_init(struct gh_utf8 *u);

/* Checks data[0, len) as the continuation of the text seen so far. Returns
 * len when every byte is still a valid prefix of some UTF-8 text, else the
 * offset of the first byte that is not; the state then stays failed (later
 * calls return 0). */
size_t gh_utf8_feed(struct gh_utf8 *u, const uint8_t *data, size_t len);

/* No byte so far broke the encoding (a character may still be open). */
bool gh_utf8_ok(const struct gh_utf8 *u);

/* The text may end here: no error and no character left open. */
bool gh_utf8_complete(const struct gh_utf8 *u);

/* One-shot: data[0, len) is complete, well-formed UTF-8. */
bool gh_utf8_valid(const uint8_t *data, size_t len);

#endif
