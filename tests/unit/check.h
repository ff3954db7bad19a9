/* check.h - what the cmocka unit tests share: soft checks and a few helpers.
 *
 * Soft checks: CHECK(cond, fmt, ...) does not stop the test when cond is
 * false. It prints the source line of the check, the row being checked
 * (row_line: a table row's line in the test file, or whatever index the
 * test sets it to; 0 until it sets one), the condition and the message,
 * and counts the failure; END_CHECKS() then fails the test if any check
 * failed (and resets the count for the next test). So one run reports
 * every failing row, with its source line, before the test fails.
 *
 * Helpers:
 *  - ARRAY_LEN(a): the number of elements of an array;
 *  - dup_exact(s, n): a heap copy of exactly n bytes, so a run under
 *    AddressSanitizer catches any read past the end (free it);
 *  - same_reason(a, b): two reason strings are both NULL or equal.
 *
 * Everything here is static (or a macro), so each test executable gets its
 * own copy; there is nothing to link. Include this header first, before
 * any other header: it sets _GNU_SOURCE and includes cmocka.h with the
 * headers cmocka needs before it. */
#ifndef GATEHOUSE_TESTS_UNIT_CHECK_H
#define GATEHOUSE_TESTS_UNIT_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- soft checks ------------------------------------------------------- */

static int soft_failures;       /* failed checks since the last END_CHECKS() */
static int row_line;            /* line of the table row being checked */

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            soft_failures++;                                                  \
            print_error("%s:%d: row at line %d: check failed: %s: ",         \
                        __FILE__, __LINE__, row_line, #cond);                 \
            print_error(__VA_ARGS__);                                         \
            print_error("\n");                                                \
        }                                                                     \
    } while (0)

#define END_CHECKS()                                                          \
    do {                                                                      \
        int f_ = soft_failures;                                               \
        soft_failures = 0;                                                    \
        if (f_)                                                               \
            fail_msg("%d check(s) failed", f_);                               \
    } while (0)

/* ---- helpers ------------------------------------------------------------ */

/* A heap copy of exactly n bytes (ASan sees reads past the end). */
static inline void *dup_exact(const void *s, size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    if (n)
        memcpy(p, s, n);
    return p;
}

/* Two reasons are the same: both NULL, or equal strings. */
static inline bool same_reason(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

#endif
