/* utf8.c - streaming UTF-8 validation; the contract is
 * include/gatehouse/utf8.h.
 *
 * A deterministic automaton over 12 byte classes and 9 states, built from
 * the well-formed byte sequences of Unicode Table 3-7, so overlongs (C0, C1,
 * E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above
 * U+10FFFF (F4 90.., F5..FF) fail at the byte that makes them impossible.
 * The state is one byte, so it travels across calls for free. Runs of ASCII
 * at a character boundary are skipped eight bytes at a time: text is mostly
 * ASCII and this keeps the check well under the cost of copying it. */
#include "gatehouse/utf8.h"

#include <string.h>

enum {
    S_ACCEPT = 0, /* at a character boundary */
    S_NEED1,      /* one more 80..BF */
    S_NEED2,      /* two more 80..BF */
    S_NEED3,      /* three more 80..BF */
    S_E0,         /* after E0: A0..BF (shorter would be overlong) */
    S_ED,         /* after ED: 80..9F (A0..BF would be a surrogate) */
    S_F0,         /* after F0: 90..BF (shorter would be overlong) */
    S_F4,         /* after F4: 80..8F (more would pass U+10FFFF) */
    S_REJECT,
    S_COUNT
};

/* Byte classes: 0 ASCII, 1 80..8F, 2 90..9F, 3 A0..BF, 4 never valid
 * (C0 C1 F5..FF), 5 C2..DF, 6 E0, 7 E1..EC EE EF, 8 ED, 9 F0, 10 F1..F3,
 * 11 F4. */
#define N_CLASSES 12
static const uint8_t byte_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x20 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x30 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x40 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x50 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x60 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, /* 0x70 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, /* 0x80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2, /* 0x90 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3, /* 0xa0 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3, /* 0xb0 */
     4,  4,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5, /* 0xc0 */
     5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5, /* 0xd0 */
     6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  7, /* 0xe0 */
     9, 10, 10, 10, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4, /* 0xf0 */
};

#define R S_REJECT
static const uint8_t next_state[S_COUNT][N_CLASSES] = {
    /*            asc 80-8F  90-9F  A0-BF  bad  C2-DF  E0    E1-EF  ED    F0    F1-F3    F4 */
    [S_ACCEPT] = { S_ACCEPT, R, R, R, R, S_NEED1, S_E0, S_NEED2, S_ED, S_F0, S_NEED3, S_F4 },
    [S_NEED1]  = { R, S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R, R, R, R, R, R, R },
    [S_NEED2]  = { R, S_NEED1, S_NEED1, S_NEED1, R, R, R, R, R, R, R, R },
    [S_NEED3]  = { R, S_NEED2, S_NEED2, S_NEED2, R, R, R, R, R, R, R, R },
    [S_E0]     = { R, R, R, S_NEED1, R, R, R, R, R, R, R, R },
    [S_ED]     = { R, S_NEED1, S_NEED1, R, R, R, R, R, R, R, R, R },
    [S_F0]     = { R, R, S_NEED2, S_NEED2, R, R, R, R, R, R, R, R },
    [S_F4]     = { R, S_NEED2, R, R, R, R, R, R, R, R, R, R },
    [S_REJECT] = { R, R, R, R, R, R, R, R, R, R, R, R },
};
#undef R

void gh_utf8_init(struct gh_utf8 *u)
{
    u->state = S_ACCEPT;
}

size_t gh_utf8_feed(struct gh_utf8 *u, const uint8_t *data, size_t len)
{
    unsigned st = u->state;
    size_t i = 0;

    if (st >= S_REJECT)
        return 0;
    while (i < len) {
        if (st == S_ACCEPT) {
            /* ASCII run: eight bytes at a time while none has the top bit */
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, data + i, sizeof w);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            while (i < len && data[i] < 0x80)
                i++;
            if (i == len)
                break;
        }
        st = next_state[st][byte_class[data[i]]];
        if (st == S_REJECT) {
            u->state = (uint8_t)st;
            return i;
        }
        i++;
    }
    u->state = (uint8_t)st;
    return len;
}

bool gh_utf8_ok(const struct gh_utf8 *u)
{
    return u->state < S_REJECT;
}

bool gh_utf8_complete(const struct gh_utf8 *u)
{
    return u->state == S_ACCEPT;
}

bool gh_utf8_valid(const uint8_t *data, size_t len)
{
    struct gh_utf8 u = { S_ACCEPT };
    return gh_utf8_feed(&u, data, len) == len && gh_utf8_complete(&u);
}
