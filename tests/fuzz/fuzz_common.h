/* fuzz_common.h - what every libFuzzer target shares:
 *  - REQUIRE(cond): the invariant check; when cond is false it prints the
 *    target's file, the line and the condition, and aborts (libFuzzer then
 *    saves the input as a crash);
 *  - dup_exact(s, n): a heap copy of exactly n bytes (never NULL: an
 *    allocation failure is a REQUIRE failure), so AddressSanitizer catches
 *    any read past the end; free it;
 *  - piece_end(fed, len, step, cut): where the next piece ends when a
 *    target feeds in[0, len) the way a connection feeds a framer.
 *
 * Everything here is static inline (or a macro): each target compiles its
 * own copy. fuzz_http_common.h adds what the HTTP targets share. */
#ifndef GATEHOUSE_FUZZ_COMMON_H
#define GATEHOUSE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s: invariant failed: %s (line %d)\n", __FILE__,     \
                    #cond, __LINE__);                                              \
            abort();                                                               \
        }                                                                          \
    } while (0)

/* A heap copy of exactly n bytes (ASan sees reads past the end). */
static inline void *dup_exact(const void *s, size_t n)
{
    void *p = malloc(n ? n : 1);
    REQUIRE(p != NULL);
    if (n)
        memcpy(p, s, n);
    return p;
}

/* Feeding in[0, len) in pieces, fed bytes so far: the end of the next
 * piece. Pieces end at the multiples of step (0: one piece), or at cut and
 * then len when step is SIZE_MAX. */
static inline size_t piece_end(size_t fed, size_t len, size_t step, size_t cut)
{
    if (step == SIZE_MAX)
        return fed < cut ? cut : len;
    if (step == 0)
        return len;
    return fed + step < len ? fed + step : len;
}

#endif
